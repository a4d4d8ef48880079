//! The party context: a role, its channels and its correlated randomness.
//!
//! ## Pairwise keys
//! There are three AES keys `k0, k1, k2`; key `k_j` is known to parties `j` and `j - 1`, so party
//! `i` holds `k_i` (shared with its previous party) and `k_{i+1}` (shared with its next party). At
//! set-up each party draws `k_{i+1}` from the operating system's CSPRNG and sends it to party
//! `i + 1`: one round, 16 bytes per party. Nothing else is ever exchanged for randomness.
//!
//! From these keys a party gets, with no communication:
//! - a **zero-sharing** `a_i = F(k_i) - F(k_{i+1})`, with `a_0 + a_1 + a_2 = 0`, used to
//!   re-randomise products;
//! - **common randomness** with either neighbour (`F(k_i)` with the previous party, `F(k_{i+1})`
//!   with the next one);
//! - a **random sharing** `(F(k_i), F(k_{i+1}))` of an unknown random tensor.
//!
//! Each key drives its own AES-CTR stream; both holders of a key draw from it in the same order
//! and amounts, which every protocol guarantees by construction (the amounts depend on public
//! shapes only).
//!
//! ## Resuming the correlated randomness: [`Party::rng_state`], [`Party::restore_rng_state`]
//! A party's position in its two key streams can be saved ([`RngState`]: both keys and both
//! counters) and restored in a later session of the same three parties, so that a computation
//! restarted from a checkpoint draws exactly the randomness it drew the first time and yields
//! bit-identical shares. **Security assumption:** restoring makes the party reuse masks. That is
//! sound only when every party restores the state of the same moment and then redoes the same
//! computation on the same inputs: each message sent is then identical to one already sent in
//! the first session, so nothing new is learnt. Redoing it on different inputs (or different
//! shares of the same inputs) sends two messages under one mask, and their difference leaks.
//! The caller must check that the inputs are unchanged (the train job compares a digest of
//! every party's data files). An `RngState` holds key material: keep it as secret as the
//! party's shares (its [`Debug`] prints the counters only).
//!
//! ## Reveal gate
//! A party may carry a *reveal gate* ([`Party::set_reveal_gate`]): a callback asked before every
//! explicit opening ([`Party::reveal`], [`Party::reveal_f64`], [`Party::reveal_to`],
//! [`Party::reveal_to_f64`], [`Party::reveal_bool`]) with a [`RevealEvent`]: the current label
//! ([`Party::set_reveal_label`]), the recipient and the shape. If the gate returns `Err(reason)`
//! the opening fails with [`CoreError::RevealRefused`] **before anything is sent or received**.
//! Every party consults its own gate, including the one that neither sends nor receives in a
//! reveal to one party, so each party's gate (and any audit log it writes) sees every opening.
//!
//! What this guarantees: an honest party never sends its component of a tensor for an opening
//! its gate refuses. In a reveal the party that lacks a component gets it from exactly one other
//! party (party `i` from party `i + 1`), so with an honest majority a single modified party
//! cannot obtain a tensor the two honest parties' gates refuse, whatever label, recipient or
//! shape it claims, and cannot make an honest party open anything else: the honest party gates
//! what *it* is asked to open, not what a peer says. Internal protocols (multiplication,
//! truncation, comparisons, conversions...) exchange values through [`Comm`] directly: those are
//! masked by fresh randomness, carry no information about the secrets and are not explicit
//! reveals, so they are never gated.
//!
//! What it does not guarantee: the gate decides from the label, recipient and shape only, which
//! the calling code sets; it cannot tell *which* tensor is behind a label, so a program that
//! labels the wrong tensor "metrics" opens it. Two parties that both open are outside the threat
//! model (together they hold every component). Code that sends through [`Party::comm`] itself
//! bypasses the gate: it is there for protocols and public values, not for opening shares. A refused opening leaves the peers waiting for a
//! message that never comes: they fail with a disconnect or timeout, and the session is over.

use crate::error::{CoreError, Result};
use crate::fixed::FixedPoint;
use crate::prg::{Prg, Seed, os_seed};
use mpc_net::{Comm, CommStats, PARTIES, Transport};
use ndarray::{ArrayD, IxDyn};

/// What a reveal gate is asked about before an explicit opening (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevealEvent<'a> {
    /// The label set by [`Party::set_reveal_label`] (`""` when none was set).
    pub label: &'a str,
    /// The recipient: `Some(role)` for a reveal to one party, `None` for a reveal to every party.
    pub to: Option<usize>,
    /// The shape of the tensor being opened.
    pub shape: &'a [usize],
}

/// A reveal gate: allows an opening with `Ok(())` or refuses it with `Err(reason)`.
pub type RevealGate = Box<dyn FnMut(&RevealEvent<'_>) -> std::result::Result<(), String> + Send>;

/// Holds the gate so that [`Party`] can keep deriving `Debug`.
pub(crate) struct GateSlot(pub(crate) RevealGate);

impl std::fmt::Debug for GateSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RevealGate")
    }
}

/// One party of a three-party computation. Protocols are methods on it.
#[derive(Debug)]
pub struct Party {
    pub(crate) comm: Comm,
    pub(crate) fixed: FixedPoint,
    /// Stream of `k_i`, shared with the previous party.
    pub(crate) prg_prev: Prg,
    /// Stream of `k_{i+1}`, shared with the next party.
    pub(crate) prg_next: Prg,
    /// How products and [`Party::trunc`] truncate ([`crate::trunc`]).
    pub(crate) trunc_mode: TruncMode,
    /// The reveal gate, if any (see the module docs).
    pub(crate) reveal_gate: Option<GateSlot>,
    /// The label the next openings are reported with.
    pub(crate) reveal_label: String,
}

/// Which truncation protocol fixed-point products and [`Party::trunc`] use (see [`crate::trunc`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TruncMode {
    /// SecureML / ABY3 probabilistic truncation: `8` bytes per element per party, but an element
    /// fails (is off by about `2^(64-d)`) with probability `|z| / 2^64`. The default of a bare
    /// [`Party`] at up to [`TruncMode::PROBABILISTIC_MAX_FRAC_BITS`] fractional bits; the fast
    /// option for inference on well-scaled data.
    #[default]
    Probabilistic,
    /// Dealer-assisted exact truncation (Dalskov et al. 2020, SPU's `TruncAPr` family): never
    /// fails for `|z| < 2^62` ring units (only the last-bit rounding error), `16` bytes per element
    /// per party and the same rounds. The default of every training path in `mpc-nn`, and of a
    /// bare [`Party`] above [`TruncMode::PROBABILISTIC_MAX_FRAC_BITS`] fractional bits.
    Exact,
}

impl TruncMode {
    /// The most fractional bits at which a new [`Party`] starts with probabilistic truncation.
    /// A product of two unit values then fails with probability `2^(2f-64)`: `2^-24` at 20 bits,
    /// but `2^-16` at 24, where a few thousand function evaluations already show failures
    /// (see [`crate::trunc`]), so finer sessions start exact.
    pub const PROBABILISTIC_MAX_FRAC_BITS: u32 = 20;

    /// The mode a new [`Party`] starts in for a session of `frac_bits` fractional bits:
    /// [`TruncMode::Probabilistic`] up to [`TruncMode::PROBABILISTIC_MAX_FRAC_BITS`], else
    /// [`TruncMode::Exact`]. [`Party::set_trunc_mode`] overrides it.
    ///
    /// ```
    /// use mpc_core::TruncMode;
    /// assert_eq!(TruncMode::for_frac_bits(16), TruncMode::Probabilistic);
    /// assert_eq!(TruncMode::for_frac_bits(24), TruncMode::Exact);
    /// ```
    pub fn for_frac_bits(frac_bits: u32) -> TruncMode {
        if frac_bits <= Self::PROBABILISTIC_MAX_FRAC_BITS {
            TruncMode::Probabilistic
        } else {
            TruncMode::Exact
        }
    }
}

/// A party's position in its two key streams (see the module docs): as secret as its shares.
#[derive(Clone, PartialEq, Eq)]
pub struct RngState {
    /// `k_i` (shared with the previous party) and the next block's counter.
    prev: (Seed, u64),
    /// `k_{i+1}` (shared with the next party) and the next block's counter.
    next: (Seed, u64),
}

impl std::fmt::Debug for RngState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // never print key material
        f.debug_struct("RngState")
            .field("prev_counter", &self.prev.1)
            .field("next_counter", &self.next.1)
            .finish_non_exhaustive()
    }
}

impl RngState {
    /// The stream shared with the previous party as words: key (2 words) and counter.
    pub fn prev_words(&self) -> [u64; 3] {
        let k = seed_to_words(&self.prev.0);
        [k[0], k[1], self.prev.1]
    }

    /// The stream shared with the next party as words: key (2 words) and counter.
    pub fn next_words(&self) -> [u64; 3] {
        let k = seed_to_words(&self.next.0);
        [k[0], k[1], self.next.1]
    }

    /// The state from [`RngState::prev_words`] and [`RngState::next_words`].
    pub fn from_words(prev: [u64; 3], next: [u64; 3]) -> RngState {
        RngState {
            prev: (words_to_seed(&prev[..2]), prev[2]),
            next: (words_to_seed(&next[..2]), next[2]),
        }
    }
}

impl Party {
    /// Sets up a party over `transport`: exchanges the pairwise keys (one round) and resets the
    /// counters so that only protocol traffic is counted afterwards. Truncation starts in
    /// [`TruncMode::for_frac_bits`] of `fixed`.
    pub fn new(transport: Box<dyn Transport>, fixed: FixedPoint) -> Result<Party> {
        let role = transport.role();
        if role >= PARTIES {
            return Err(CoreError::BadRole(role));
        }
        let mut comm = Comm::new(transport);
        let next_seed = os_seed()?;
        comm.send(comm.next(), seed_to_words(&next_seed))?;
        let prev_words = comm.recv(comm.prev(), 2)?;
        let prev_seed = words_to_seed(&prev_words);
        comm.reset_stats();
        Ok(Party {
            comm,
            fixed,
            prg_prev: Prg::new(&prev_seed),
            prg_next: Prg::new(&next_seed),
            trunc_mode: TruncMode::for_frac_bits(fixed.frac_bits()),
            reveal_gate: None,
            reveal_label: String::new(),
        })
    }

    /// Installs a reveal gate (replacing any previous one): every later explicit opening asks it
    /// first and fails with [`CoreError::RevealRefused`], sending nothing, if it refuses.
    ///
    /// ```
    /// use mpc_core::{CoreError, run_3pc};
    /// let out = run_3pc(|p| {
    ///     p.set_reveal_gate(Box::new(|ev| match ev.label {
    ///         "metrics" => Ok(()),
    ///         other => Err(format!("{other:?} is not in the policy")),
    ///     }));
    ///     let v = ndarray::arr1(&[2.5]).into_dyn();
    ///     let x = p.input_f64(0, (p.role() == 0).then_some(&v), &[1])?;
    ///     p.set_reveal_label("metrics");
    ///     let v = p.reveal_f64(&x)?;
    ///     p.set_reveal_label("model");
    ///     let refused = matches!(p.reveal_f64(&x), Err(CoreError::RevealRefused { .. }));
    ///     Ok((v[0], refused))
    /// })
    /// .unwrap();
    /// assert_eq!(out[1], (2.5, true));
    /// ```
    pub fn set_reveal_gate(&mut self, gate: RevealGate) {
        self.reveal_gate = Some(GateSlot(gate));
    }

    /// Removes the reveal gate: openings are no longer checked.
    pub fn clear_reveal_gate(&mut self) {
        self.reveal_gate = None;
    }

    /// Sets the label that the following openings are reported to the gate with, until it is
    /// changed (`""`, the default, means unlabelled).
    pub fn set_reveal_label(&mut self, label: impl Into<String>) {
        self.reveal_label = label.into();
    }

    /// The label the next openings are reported with.
    pub fn reveal_label(&self) -> &str {
        &self.reveal_label
    }

    /// Asks the gate (if any) about an opening to `to` of a tensor of `shape`.
    pub(crate) fn check_reveal(&mut self, to: Option<usize>, shape: &[usize]) -> Result<()> {
        if let Some(GateSlot(gate)) = self.reveal_gate.as_mut() {
            let event = RevealEvent {
                label: &self.reveal_label,
                to,
                shape,
            };
            if let Err(reason) = gate(&event) {
                return Err(CoreError::RevealRefused {
                    label: self.reveal_label.clone(),
                    to,
                    reason,
                });
            }
        }
        Ok(())
    }

    /// The truncation protocol in use (see [`TruncMode`]).
    pub fn trunc_mode(&self) -> TruncMode {
        self.trunc_mode
    }

    /// Chooses the truncation protocol for every later product and truncation. All three
    /// parties must choose the same mode at the same point of the computation.
    pub fn set_trunc_mode(&mut self, mode: TruncMode) {
        self.trunc_mode = mode;
    }

    /// This party's role: 0, 1 or 2.
    pub fn role(&self) -> usize {
        self.comm.role()
    }

    /// The session's fixed-point settings.
    pub fn fixed_point(&self) -> FixedPoint {
        self.fixed
    }

    /// Communication counters since set-up.
    pub fn stats(&self) -> CommStats {
        self.comm.stats()
    }

    /// This party's position in its two key streams, to be restored by
    /// [`Party::restore_rng_state`] (see the module docs for when that is sound).
    pub fn rng_state(&self) -> RngState {
        RngState {
            prev: self.prg_prev.state(),
            next: self.prg_next.state(),
        }
    }

    /// Continues both key streams from `state` instead of the ones set up with this session
    /// (see the module docs: only sound when redoing the same computation on the same inputs
    /// at every party).
    pub fn restore_rng_state(&mut self, state: &RngState) {
        self.prg_prev = Prg::resume(&state.prev.0, state.prev.1);
        self.prg_next = Prg::resume(&state.next.0, state.next.1);
    }

    /// The communication endpoint (for protocols in other crates).
    pub fn comm(&mut self) -> &mut Comm {
        &mut self.comm
    }

    /// This party's share `a_i` of a fresh zero-sharing of `n` words (`a_0 + a_1 + a_2 = 0`).
    pub fn zero_share(&mut self, n: usize) -> Vec<u64> {
        let mut a = self.prg_prev.words(n);
        self.prg_next.sub_from(&mut a);
        a
    }

    /// Adds this party's share `a_i` of a fresh zero-sharing to `z` in place: the words
    /// [`Party::zero_share`]`(z.len())` would give, drawn chunk by chunk beside the additions
    /// (one pass over `z`, no mask vector).
    pub fn add_zero_share(&mut self, z: &mut [u64]) {
        crate::prg::for_chunks(
            z.len(),
            [&mut self.prg_prev, &mut self.prg_next],
            |start, [a, b]| {
                for ((v, a), b) in z[start..].iter_mut().zip(a).zip(b) {
                    *v = v.wrapping_add(a.wrapping_sub(*b));
                }
            },
        );
    }

    /// This party's share `a_i` of a fresh XOR zero-sharing of `n` words.
    pub fn zero_share_xor(&mut self, n: usize) -> Vec<u64> {
        let mut a = self.prg_prev.words(n);
        self.prg_next.xor_into(&mut a);
        a
    }

    /// `n` random words known to this party and the previous one (from `k_i`).
    pub fn common_prev(&mut self, n: usize) -> Vec<u64> {
        self.prg_prev.words(n)
    }

    /// `n` random words known to this party and the next one (from `k_{i+1}`).
    pub fn common_next(&mut self, n: usize) -> Vec<u64> {
        self.prg_next.words(n)
    }

    /// A replicated sharing of a uniformly random tensor nobody knows, with no communication.
    pub fn random_share(&mut self, shape: &[usize], frac_bits: u32) -> Result<crate::AShare> {
        let n = shape.iter().product();
        let s0 = to_array(shape, self.prg_prev.words(n))?;
        let s1 = to_array(shape, self.prg_next.words(n))?;
        Ok(crate::AShare { s0, s1, frac_bits })
    }
}

pub(crate) fn to_array(shape: &[usize], v: Vec<u64>) -> Result<ArrayD<u64>> {
    ArrayD::from_shape_vec(IxDyn(shape), v).map_err(|e| CoreError::InvalidShape {
        op: "from_shape_vec",
        detail: format!("{shape:?}: {e}"),
    })
}

/// Row-major words of an array (no copy when it is already standard layout and owned).
pub(crate) fn into_words(a: ArrayD<u64>) -> Vec<u64> {
    if a.is_standard_layout() {
        let n = a.len();
        let (mut v, offset) = a.into_raw_vec_and_offset();
        let off = offset.unwrap_or(0);
        if off == 0 && v.len() == n {
            return v;
        }
        v.drain(..off);
        v.truncate(n);
        v
    } else {
        a.iter().copied().collect()
    }
}

fn seed_to_words(s: &[u8; 16]) -> Vec<u64> {
    let mut lo = [0u8; 8];
    let mut hi = [0u8; 8];
    lo.copy_from_slice(&s[..8]);
    hi.copy_from_slice(&s[8..]);
    vec![u64::from_le_bytes(lo), u64::from_le_bytes(hi)]
}

fn words_to_seed(w: &[u64]) -> [u8; 16] {
    let mut s = [0u8; 16];
    s[..8].copy_from_slice(&w[0].to_le_bytes());
    s[8..].copy_from_slice(&w[1].to_le_bytes());
    s
}
