//! Conversions between arithmetic and boolean shares: MSB extraction, A2B, bit injection (B2A of
//! single bits) and the bit-times-value product.
//!
//! ## The two-summand split
//! A replicated arithmetic share `x = x_0 + x_1 + x_2` is, without communication, a sum of two
//! values: `a = x_0 + x_1`, known to party 0 only, and `b = x_2`, known to parties 1 and 2. So
//! `x = a + b (mod 2^64)` is the output of a 64-bit adder with inputs `a` and `b`.
//! - `b` has the boolean replicated sharing `(0, 0, b)` for free.
//! - `a` gets the sharing `(A_0, A_1, 0)` with `A_1 = F(k_1)` (common randomness of parties 0 and 1)
//!   and `A_0 = a ^ A_1`, which party 0 sends to party 2: **64 bits from party 0**.
//! - Propagate `P = a ^ b` is then local. Generate `G = a & b = (A_0 & b) ^ (A_1 & b)` is a
//!   two-out-of-two XOR sharing between party 2 (`A_0 & b`) and party 1 (`A_1 & b`); it becomes
//!   replicated `(C_0, C_1, C_2)` with `C_0 = F(k_0)`, `C_1 = F(k_1)` and `C_2` exchanged by
//!   parties 1 and 2 (each sends its half masked by the key the other lacks): **one round, one
//!   bit per generate bit from parties 1 and 2**, nothing from party 0.
//!
//! ## MSB: a carry-only prefix tree over bit planes
//! `msb(x) = a_63 ^ b_63 ^ c_63`, where `c_63` is the carry into bit 63, i.e. the group generate
//! of bits `0..=62`. The protocol bit-slices `a` and `b` ([`crate::boolean`]), so each bit
//! position is a plane of `ceil(n/64)` words holding one bit of every element, and combines
//! groups pairwise (Brent-Kung's upward tree): `G' = G_hi ^ (P_hi & G_lo)`, `P' = P_hi & P_lo`,
//! skipping `P'` of the lowest group (no carry enters bit 0). The 63 positions shrink to
//! 32, 16, 8, 4, 2, 1 groups: **6 AND rounds of 61 + 31 + 15 + 7 + 3 + 1 = 118 gates**.
//!
//! | protocol | rounds | bits sent per element: party 0 / party 1 / party 2 |
//! |---|---|---|
//! | `msb` | 8 = 1 (share `a`) + 1 (`G`) + 6 (tree) | 182 / 181 / 181 |
//! | `a2b` (Kogge-Stone, all 64 sum bits) | 8 | 768 / 768 / 768 |
//! | `b2a_bit` | 2 | 64 / 64 / 64 |
//! | `mul_bit` | 2 | 128 / 64 / 64 |
//! | `b2a_bit` and `mul_bit` of the same bit together | 2 | 128 / 128 / 128 |
//! | zero test `[x == 0]` (packed; [`Party::eqz`] adds a `b2a_bit`) | at most 7 | 127 / 63 / 63 |
//!
//! Bits are exact when the number of elements is a multiple of 64; otherwise the bit-sliced part
//! of `msb` rounds the element count up to the next multiple of 64. The first round of `msb` only
//! involves party 0 and the `G` exchange of party 1, so the rounds overlap as stated.
//!
//! ## Memory passes
//! On large tensors these protocols are bound by memory traffic, not arithmetic (see
//! [`crate::compare`]), so each message is made in one pass: the AND layers
//! (`Party::and_planes`) and the injection walk their output in cache-sized chunks, drawing the
//! keystream words they need into the chunk ([`crate::prg::Prg::take_stream`] gives each stream
//! its own position), so no mask vector is materialised, no buffer is cleared first and nothing
//! is recomputed after the exchange. In the carry tree, the higher group's generate is XORed into each `G` gate as it is
//! made (the sender XORs its component `e_i` into the message it sends to party `i - 1`, which
//! holds `e_i` itself), so a received level is used as it arrives. A buffer that is both a
//! party's component and the message it sends (a tree level, `A_0`, a generate or injection
//! half) is sent with [`mpc_net::Comm::send_shared`]: in process the receiver reads the same
//! read-only memory, over TCP it is framed straight from it, and its last holder gives it back
//! to [`mpc_net::pool`]. Party 0's components of the generate bits, `(C_0, C_1)`, are pure
//! keystream: it keeps the two streams and the first tree level draws the words of each plane
//! it reads (`Prg::fill_at`), instead of writing `2 · 63` planes and reading them
//! back (16 MB each way at 10^6 elements; about 7% less CPU time per ReLU, alternating runs).
//!
//! ## Bit injection and bit-times-value (2 rounds, no preprocessing)
//! A shared bit `β = β_0 ^ β_1 ^ β_2` is `c ^ d` with `c = β_0 ^ β_1` (party 0) and `d = β_2`
//! (parties 1 and 2), so as integers `β = d + s c` with `s = 1 - 2d`, and for a shared `x`,
//! `β x = d x + s c x = d x + s (c (x_0 + x_1) + c x_2)`. Round 1: party 0 splits `c` and
//! `w = c (x_0 + x_1)` additively between parties 1 and 2 (`c = c_1 + c_2`, `w = w_1 + w_2`;
//! `c_1, w_1` from `k_1`, and it sends `c_2, w_2` to party 2). Parties 1 and 2 then hold additive
//! shares of the result, `u_1 = d (x_1 + x_2) + s (w_1 + c_1 x_2)` and
//! `u_2 = d x_0 + s (w_2 + c_2 x_2)` (for `β` alone: `u_1 = d + s c_1`, `u_2 = s c_2`). Round 2:
//! they turn it into a replicated sharing `(D_0, D_1, D_2)`, `D_0 = F(k_0)`, `D_1 = F(k_1)`,
//! `D_2 = (u_1 - D_1) + (u_2 - D_0)`, exchanging the two masked halves. The product is exact: no
//! truncation, `x`'s scale is kept.
//!
//! Security (semi-honest, honest majority): every message is masked by a PRG stream of a key its
//! receiver does not hold (`A_0`, `c_2`, `w_2` by `k_1` towards party 2; party 1's halves by
//! `k_1` towards party 2; party 2's halves by `k_0` towards party 1). No failure probability:
//! the results are exact for every ring value.

use crate::boolean::{
    Comp, Gate, Shared, SharedPair, flat, into_owned, pack_bits, release, to_planes, unpack_bits,
};
use crate::error::{CoreError, Result};
use crate::party::{Party, to_array};
use crate::prg::{Prg, append_chunks, for_chunks};
use crate::share::{AShare, BShare};
use mpc_net::pool;
use std::sync::Arc;

/// Replicated components of packed boolean values: `(s0, s1)`.
pub(crate) type Pair = (Vec<u64>, Vec<u64>);

/// Plane `t` of `m`-word planes.
fn plane(m: usize, v: &[u64], t: usize) -> &[u64] {
    &v[t * m..(t + 1) * m]
}

fn xor(a: &[u64], b: &[u64]) -> Vec<u64> {
    a.iter().zip(b).map(|(x, y)| x ^ y).collect()
}

/// The planes of a carry-tree level at one party: stored components, or (party 0's generate
/// bits, `(F(k_0), F(k_1))`) two keystreams read where the tree needs them.
pub(crate) enum Planes {
    /// Shared buffers, plane `t` at offset `t * m`.
    Stored(SharedPair),
    /// Two keystreams, plane `t` at word `t * m` of each (boxed: a generator holds its key
    /// schedules).
    Streams(Box<(Prg, Prg)>),
}

impl Planes {
    /// Plane `t` (of `m` words) of both components.
    fn plane(&self, m: usize, t: usize) -> (Comp<'_>, Comp<'_>) {
        match self {
            Planes::Stored((a, b)) => (Comp::Words(plane(m, a, t)), Comp::Words(plane(m, b, t))),
            Planes::Streams(ab) => (Comp::Stream(&ab.0, t * m), Comp::Stream(&ab.1, t * m)),
        }
    }

    /// The first `len` words of both components as owned vectors (stored buffers are moved,
    /// or copied if a peer still reads them).
    fn into_words(self, len: usize) -> Pair {
        match self {
            Planes::Stored((a, b)) => (into_owned(a), into_owned(b)),
            Planes::Streams(ab) => {
                let (mut a, mut b) = *ab;
                (a.words(len), b.words(len))
            }
        }
    }

    /// Drops this party's hold on the planes (stored buffers go back to the pool).
    fn release(self) {
        if let Planes::Stored((a, b)) = self {
            release(a);
            release(b);
        }
    }
}

impl Party {
    /// This party's summand of the two-summand split, bit-sliced into 64 planes: `a = x_0 + x_1`
    /// at party 0, `b = x_2` at parties 1 and 2.
    fn split_summand_planes(&self, x: &AShare) -> Vec<u64> {
        let (s0, s1) = (flat(&x.s0), flat(&x.s1));
        match self.role() {
            0 => to_planes(&s0, Some(&s1), 64),
            1 => to_planes(&s1, None, 64),
            _ => to_planes(&s0, None, 64),
        }
    }

    /// This party's summand of the two-summand split, one word per element.
    fn split_summand(&self, x: &AShare) -> Vec<u64> {
        match self.role() {
            0 => {
                x.s0.iter()
                    .zip(x.s1.iter())
                    .map(|(a, b)| a.wrapping_add(*b))
                    .collect()
            }
            1 => flat(&x.s1).into_owned(),
            _ => flat(&x.s0).into_owned(),
        }
    }

    /// Shares the adder inputs (see the module docs): `v` is this party's summand in any packed
    /// layout of `len` words; returns the replicated propagate `P = a ^ b` (all `len` words)
    /// as shared buffers (a message is the sender's own component,
    /// [`mpc_net::Comm::send_shared`]) and generate `G = a & b` (the first `lg` words; at
    /// party 0 two keystreams, which it need not store). 2 rounds; party 0 sends `len`
    /// words, parties 1 and 2 send `lg` words.
    fn adder_inputs(&mut self, v: Vec<u64>, lg: usize) -> Result<(SharedPair, Planes)> {
        let len = v.len();
        match self.role() {
            0 => {
                // A_0 = a ^ A_1, made in place in the pass that draws A_1
                let mut stream = self.prg_next.take_stream(len);
                let mut a1 = pool::take(len);
                let mut a0 = v;
                append_chunks(&mut stream, &mut a1, len, [], |s, r, []| {
                    for (a, r) in a0[s..s + r.len()].iter_mut().zip(r) {
                        *a ^= *r;
                    }
                });
                let a0 = Arc::new(a0);
                self.comm.send_shared(2, &a0)?;
                // its generate components are pure keystream: drawn where the tree reads them
                let (c0, c1) = (self.prg_prev.take_stream(lg), self.prg_next.take_stream(lg));
                let g = Planes::Streams(Box::new((c0, c1)));
                Ok(((a0, Arc::new(a1)), g))
            }
            1 => {
                let a1 = self.prg_prev.words(len);
                let mut stream = self.prg_prev.take_stream(lg);
                let (c1, c2) = self.exchange_generate(&a1, &v, lg, &mut stream, 2)?;
                Ok(((Arc::new(a1), Arc::new(v)), Planes::Stored((c1, c2))))
            }
            _ => {
                let a0 = self.comm.recv_shared(0, len)?;
                let mut stream = self.prg_next.take_stream(lg);
                let (c0, c2) = self.exchange_generate(&a0, &v, lg, &mut stream, 1)?;
                Ok(((Arc::new(v), a0), Planes::Stored((c2, c0))))
            }
        }
    }

    /// Parties 1 and 2's half of the generate exchange over the first `lg` words: with `a`
    /// this party's share of party 0's summand, `b` the common summand and `mask` the key
    /// stream party 0 shares with this party, sends `(a & b) ^ mask` to `peer` and returns
    /// `(mask, C_2)` with `C_2` the XOR of the two halves.
    fn exchange_generate(
        &mut self,
        a: &[u64],
        b: &[u64],
        lg: usize,
        mask: &mut Prg,
        peer: usize,
    ) -> Result<(Shared, Shared)> {
        let mut c = pool::take(lg);
        let mut half = pool::take(lg);
        append_chunks(mask, &mut c, lg, [], |s, r, []| {
            half.extend(
                a[s..]
                    .iter()
                    .zip(&b[s..])
                    .zip(r)
                    .map(|((a, b), r)| (a & b) ^ r),
            );
        });
        let c2 = self.swap_halves(half, peer, |h, o| h ^ o)?;
        Ok((Arc::new(c), Arc::new(c2)))
    }

    /// The carry out of `k` bit-plane groups of `m` words each: the group generate of all of
    /// them, by the pairwise tree of the module docs. Group `t`'s generate is plane `t` of `g`
    /// and its propagate plane `t` of `p` (group 0's propagate is never read). `ceil(log2 k)`
    /// rounds. The higher group's generate is XORed into each `G` gate as it is made
    /// ([`Party::and_planes_shared`]), so a received level is used as it arrives, and each
    /// level is one buffer per party, read by it and by the party it was sent to.
    fn carry_tree(&mut self, g: Planes, p: SharedPair, k: usize, m: usize) -> Result<Pair> {
        // every plane of a level, as (source in `store`, plane index)
        let mut store: Vec<Planes> = vec![g, Planes::Stored(p)];
        let mut gs: Vec<(usize, usize)> = (0..k).map(|t| (0, t)).collect();
        let mut ps: Vec<(usize, usize)> = (0..k).map(|t| (1, t)).collect();
        while gs.len() > 1 {
            let k = gs.len();
            let pairs = k / 2;
            let get = |(b, t): (usize, usize)| store[b].plane(m, t);
            // gate q < pairs: G_{2q+1} ^ (P_{2q+1} & G_{2q});
            // gate pairs + t - 1 (t >= 1): P_{2t+1} & P_{2t}
            let out = self.and_planes_shared(2 * pairs - 1, m, |q| {
                if q < pairs {
                    Gate {
                        x: get(ps[2 * q + 1]),
                        y: get(gs[2 * q]),
                        e: Some(get(gs[2 * q + 1])),
                    }
                } else {
                    let t = q - pairs + 1;
                    Gate {
                        x: get(ps[2 * t + 1]),
                        y: get(ps[2 * t]),
                        e: None,
                    }
                }
            })?;
            let mut next = vec![Planes::Stored(out)];
            let mut ng: Vec<(usize, usize)> = (0..pairs).map(|t| (0, t)).collect();
            let mut np: Vec<(usize, usize)> = (0..pairs).map(|t| (0, pairs + t - 1)).collect();
            np[0] = (0, 0); // group 0's propagate: never read
            if k % 2 == 1 {
                // the last group passes through: its two planes move out of the old sources
                let ((g0, g1), (p0, p1)) = (get(gs[k - 1]), get(ps[k - 1]));
                let (mut c0, mut c1) = (Vec::with_capacity(2 * m), Vec::with_capacity(2 * m));
                for (c, a, b) in [(&mut c0, g0, p0), (&mut c1, g1, p1)] {
                    a.append_to(m, c);
                    b.append_to(m, c);
                }
                next.push(Planes::Stored((Arc::new(c0), Arc::new(c1))));
                ng.push((1, 0));
                np.push((1, 1));
            }
            for old in std::mem::replace(&mut store, next) {
                old.release();
            }
            gs = ng;
            ps = np;
        }
        let (b, t) = gs[0];
        let (c0, c1) = store[b].plane(m, t);
        let (mut a, mut b) = (Vec::with_capacity(m), Vec::with_capacity(m));
        c0.append_to(m, &mut a);
        c1.append_to(m, &mut b);
        for old in store {
            old.release();
        }
        Ok((a, b))
    }

    /// The sign bits of `x` as one packed plane (bit `e % 64` of word `e / 64` is the MSB of
    /// element `e`). 8 rounds; see the module docs for the bits.
    pub(crate) fn msb_packed(&mut self, x: &AShare) -> Result<Pair> {
        let m = x.len().div_ceil(64);
        if m == 0 {
            // an empty tensor: nothing to compute or send (every party sees the same shape)
            return Ok((Vec::new(), Vec::new()));
        }
        let v = self.split_summand_planes(x);
        let (p, g) = self.adder_inputs(v, 63 * m)?;
        let top = (plane(m, &p.0, 63).to_vec(), plane(m, &p.1, 63).to_vec());
        let c = self.carry_tree(g, p, 63, m)?;
        Ok((xor(&top.0, &c.0), xor(&top.1, &c.1)))
    }

    /// `[x == 0]` for every element of `x` as one packed plane (bit `e % 64` of word `e / 64`),
    /// exact for every ring value: `x = a + b` is 0 exactly when `a = -b`, so party 0
    /// boolean-shares `a` (64 bits to party 2, as in `msb`), `-b` is shared for free, the 64
    /// bits of `!(a ^ -b)` are local, and an AND tree over the bit planes
    /// (64 -> 32 -> ... -> 1, 63 gates) gives their conjunction. At most 7 rounds; party 0
    /// sends 127 bits per element, parties 1 and 2 send 63.
    pub(crate) fn eqz_packed(&mut self, x: &AShare) -> Result<Pair> {
        let m = x.len().div_ceil(64);
        if m == 0 {
            return Ok((Vec::new(), Vec::new()));
        }
        let (s0, s1) = (flat(&x.s0), flat(&x.s1));
        let neg = |v: &[u64]| v.iter().map(|w| w.wrapping_neg()).collect::<Vec<_>>();
        let len = 64 * m;
        // the replicated sharing (A_0, A_1, -b) of a ^ -b, with A_0 ^ A_1 = a
        let (mut e0, mut e1) = match self.role() {
            0 => {
                let a1 = self.prg_next.words(len);
                let mut a0 = to_planes(&s0, Some(&s1), 64);
                for (a, r) in a0.iter_mut().zip(&a1) {
                    *a ^= *r;
                }
                self.comm.send(2, a0.clone())?;
                (a0, a1)
            }
            1 => {
                let a1 = self.prg_prev.words(len);
                (a1, to_planes(&neg(&s1), None, 64))
            }
            _ => {
                let a0 = self.comm.recv(0, len)?;
                (to_planes(&neg(&s0), None, 64), a0)
            }
        };
        // NOT: public ones enter component 0 (parties 0 and 2)
        match self.role() {
            0 => e0.iter_mut().for_each(|v| *v = !*v),
            2 => e1.iter_mut().for_each(|v| *v = !*v),
            _ => {}
        }
        self.and_tree((e0, e1), 64, m)
    }

    /// The AND of `k` bit planes of `m` words each (plane `t` at offset `t * m` of both
    /// components), pairwise in `ceil(log2 k)` rounds of `k - 1` gates in all.
    fn and_tree(&mut self, mut x: Pair, mut k: usize, m: usize) -> Result<Pair> {
        while k > 1 {
            let pairs = k / 2;
            let (mut z0, mut z1) = self.and_planes(pairs, m, |t| {
                Gate::words(
                    (plane(m, &x.0, 2 * t), plane(m, &x.1, 2 * t)),
                    (plane(m, &x.0, 2 * t + 1), plane(m, &x.1, 2 * t + 1)),
                    None,
                )
            })?;
            if k % 2 == 1 {
                z0.extend_from_slice(plane(m, &x.0, k - 1));
                z1.extend_from_slice(plane(m, &x.1, k - 1));
            }
            for old in [x.0, x.1] {
                pool::give(old);
            }
            x = (z0, z1);
            k = pairs + k % 2;
        }
        x.0.truncate(m);
        x.1.truncate(m);
        Ok(x)
    }

    /// The most significant (sign) bit of every element of `x`, as a boolean share whose words
    /// are 0 or 1. 8 rounds; parties send 182 / 181 / 181 bits per element (module docs).
    pub fn msb(&mut self, x: &AShare) -> Result<BShare> {
        let (b0, b1) = self.msb_packed(x)?;
        let n = x.len();
        Ok(BShare {
            s0: to_array(x.shape(), unpack_bits(&b0, n))?,
            s1: to_array(x.shape(), unpack_bits(&b1, n))?,
        })
    }

    /// Arithmetic-to-boolean conversion of every word of `x` (all 64 bits), by a Kogge-Stone
    /// adder on packed words. 8 rounds; each party sends 768 bits per element.
    pub fn a2b(&mut self, x: &AShare) -> Result<BShare> {
        let n = x.len();
        let v = self.split_summand(x);
        let (p, g) = self.adder_inputs(v, n)?;
        let (p0, p1) = (into_owned(p.0), into_owned(p.1));
        let (mut g0, mut g1) = g.into_words(n);
        let (mut q0, mut q1) = (p0.clone(), p1.clone());
        for d in [1u32, 2, 4, 8, 16, 32] {
            let last = d == 32;
            let mut x0 = q0.clone();
            let mut x1 = q1.clone();
            let mut y0: Vec<u64> = g0.iter().map(|v| v << d).collect();
            let mut y1: Vec<u64> = g1.iter().map(|v| v << d).collect();
            if !last {
                x0.extend_from_slice(&q0);
                x1.extend_from_slice(&q1);
                y0.extend(q0.iter().map(|v| v << d));
                y1.extend(q1.iter().map(|v| v << d));
            }
            let (z0, z1) = self.and_words(&x0, &x1, &y0, &y1)?;
            for i in 0..n {
                g0[i] ^= z0[i];
                g1[i] ^= z1[i];
            }
            if !last {
                q0.copy_from_slice(&z0[n..]);
                q1.copy_from_slice(&z1[n..]);
            }
        }
        let s0: Vec<u64> = p0.iter().zip(&g0).map(|(p, g)| p ^ (g << 1)).collect();
        let s1: Vec<u64> = p1.iter().zip(&g1).map(|(p, g)| p ^ (g << 1)).collect();
        Ok(BShare {
            s0: to_array(x.shape(), s0)?,
            s1: to_array(x.shape(), s1)?,
        })
    }

    /// Bit injection and/or bit-times-value for packed shared bits `bits` (one per element, `n`
    /// elements) and optionally values `x` (`n` words per component). Returns the arithmetic
    /// 0/1 bits (if `want_bit`) and the products (if `x` is given), as component pairs.
    /// 2 rounds; see the module docs.
    ///
    /// Each message is made in one pass over cache-sized chunks ([`for_chunks`]) that draws the
    /// masks, computes the message words and writes them once, with the output components the
    /// same pass draws. The output (and message) is `[bits..., products...]`; every part's
    /// masks are a stream of `n` words of their own ([`Prg::take_stream`]), taken in the same
    /// order by the two parties that share the key.
    ///
    /// The loops are compiled three times, for AVX-512, AVX2 and baseline x86-64, and the
    /// build follows the GEMM kernel ([`crate::gemm::GemmKernel::detect`], so
    /// [`crate::gemm::force_kernel`] also switches it, and forcing `avx2` on an AVX-512 CPU
    /// runs what an AVX2-only CPU would). Every build gives the same words. Measured on an
    /// Intel Xeon (family 6 model 167, AVX-512), relu1e6: the loops (then `extend` over
    /// iterators, which stayed scalar) were about 15% of the CPU time; rewritten as plain loops
    /// over zipped slices with the bits expanded to masks per chunk ([`bit_masks`]) and built
    /// for AVX-512, relu1e6 went from 40.4-44.5 ms (median 43.0) to 37.2-39.8 ms (median 38.9)
    /// in 6 alternating runs of each binary (`bench_suite relu1e6`).
    pub(crate) fn inject(
        &mut self,
        bits: &Pair,
        n: usize,
        x: Option<(&[u64], &[u64])>,
        want_bit: bool,
    ) -> Result<(Option<Pair>, Option<Pair>)> {
        #[cfg(target_arch = "x86_64")]
        match crate::gemm::GemmKernel::detect() {
            // SAFETY: `detect` returns a kernel only if the CPU supports it: the avx512 one
            // needs AVX-512 F and DQ, the avx2 one AVX2
            crate::gemm::GemmKernel::Avx512 => unsafe {
                return self.inject_avx512(bits, n, x, want_bit);
            },
            crate::gemm::GemmKernel::Avx2 => unsafe {
                return self.inject_avx2(bits, n, x, want_bit);
            },
            crate::gemm::GemmKernel::Portable => {}
        }
        self.inject_with(bits, n, x, want_bit)
    }

    /// [`Party::inject_with`] compiled for AVX-512.
    ///
    /// # Safety
    /// The CPU must support AVX-512 F and DQ.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512dq")]
    unsafe fn inject_avx512(
        &mut self,
        bits: &Pair,
        n: usize,
        x: Option<(&[u64], &[u64])>,
        want_bit: bool,
    ) -> Result<(Option<Pair>, Option<Pair>)> {
        self.inject_with(bits, n, x, want_bit)
    }

    /// [`Party::inject_with`] compiled for AVX2.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn inject_avx2(
        &mut self,
        bits: &Pair,
        n: usize,
        x: Option<(&[u64], &[u64])>,
        want_bit: bool,
    ) -> Result<(Option<Pair>, Option<Pair>)> {
        self.inject_with(bits, n, x, want_bit)
    }

    /// The body of [`Party::inject`], inlined into each build.
    #[inline(always)]
    fn inject_with(
        &mut self,
        bits: &Pair,
        n: usize,
        x: Option<(&[u64], &[u64])>,
        want_bit: bool,
    ) -> Result<(Option<Pair>, Option<Pair>)> {
        let parts = usize::from(want_bit) + usize::from(x.is_some());
        // the 0 / -1 masks of one chunk's bits
        let mut mk = vec![0u64; n.clamp(1, 1024)];
        // the masks of the output components: one stream of n words per part, in part order
        let part_streams = |prg: &mut Prg| {
            let b = want_bit.then(|| prg.take_stream(n));
            let p = x.is_some().then(|| prg.take_stream(n));
            (b, p)
        };
        let role = self.role();
        let (s0, s1) = match role {
            0 => {
                // c - c_1 and w - w_1 for party 2, c_1 and w_1 drawn from k_1
                let mut cs = self.prg_next.take_stream(n);
                let mut ws = x.is_some().then(|| self.prg_next.take_stream(n));
                let c_word = |k: usize| bits.0[k] ^ bits.1[k];
                let mut msg = pool::take(n * (1 + usize::from(x.is_some())));
                for_chunks(n, [&mut cs], |s, [r]| {
                    let mk = &mut mk[..r.len()];
                    bit_masks(c_word, s, mk);
                    extend_by(&mut msg, r.len(), |out| {
                        for (o, (r, m)) in out.iter_mut().zip(r.iter().zip(mk.iter())) {
                            *o = (m & 1).wrapping_sub(*r);
                        }
                    });
                });
                if let (Some((x0, x1)), Some(ws)) = (x, ws.as_mut()) {
                    for_chunks(n, [ws], |s, [r]| {
                        let len = r.len();
                        let mk = &mut mk[..len];
                        bit_masks(c_word, s, mk);
                        let (x0, x1) = (at(x0, s, len), at(x1, s, len));
                        extend_by(&mut msg, len, |out| {
                            let ins = r.iter().zip(mk.iter()).zip(x0.iter().zip(x1.iter()));
                            for (o, ((r, m), (a, b))) in out.iter_mut().zip(ins) {
                                *o = (a.wrapping_add(*b) & m).wrapping_sub(*r);
                            }
                        });
                    });
                }
                self.comm.send(2, msg)?;
                let mut d0 = pool::take(parts * n);
                let mut d1 = pool::take(parts * n);
                for _ in 0..parts {
                    self.prg_prev.append(&mut d0, n);
                    self.prg_next.append(&mut d1, n);
                }
                (d0, d1)
            }
            1 => {
                // party 1's components are (x_1, x_2) and (β_1, β_2 = d)
                let mut cs = self.prg_prev.take_stream(n);
                let mut ws = x.is_some().then(|| self.prg_prev.take_stream(n));
                let (db, dp) = part_streams(&mut self.prg_prev);
                let s_word = |k: usize| bits.1[k];
                let mut d1 = pool::take(parts * n);
                let mut u = pool::take(parts * n);
                if let Some(mut db) = db {
                    // u = d + s c_1 - D_1
                    append_chunks(&mut db, &mut d1, n, [&mut cs.clone()], |s, d, [c]| {
                        let mk = &mut mk[..d.len()];
                        bit_masks(s_word, s, mk);
                        extend_by(&mut u, d.len(), |out| {
                            let ins = c.iter().zip(d.iter()).zip(mk.iter());
                            for (o, ((c, d), m)) in out.iter_mut().zip(ins) {
                                *o = (m & 1).wrapping_add(signed(*c, *m)).wrapping_sub(*d);
                            }
                        });
                    });
                }
                if let (Some((x1, x2)), Some(ws), Some(mut dp)) = (x, ws.as_mut(), dp) {
                    // u = d (x_1 + x_2) + s (w_1 + c_1 x_2) - D_1
                    append_chunks(&mut dp, &mut d1, n, [&mut cs, ws], |s, d, [c, w]| {
                        let len = d.len();
                        let mk = &mut mk[..len];
                        bit_masks(s_word, s, mk);
                        let (x1, x2) = (at(x1, s, len), at(x2, s, len));
                        extend_by(&mut u, len, |out| {
                            let ins = c.iter().zip(w.iter()).zip(d.iter().zip(mk.iter()));
                            for (o, (((c, w), (d, m)), (a, b))) in
                                out.iter_mut().zip(ins.zip(x1.iter().zip(x2.iter())))
                            {
                                let t = w.wrapping_add(c.wrapping_mul(*b));
                                let v = (a.wrapping_add(*b) & m).wrapping_add(signed(t, *m));
                                *o = v.wrapping_sub(*d);
                            }
                        });
                    });
                }
                (d1, self.swap_halves(u, 2, u64::wrapping_add)?)
            }
            _ => {
                // party 2's components are (x_2, x_0) and (β_2 = d, β_0)
                let (db, dp) = part_streams(&mut self.prg_next);
                let msg = self.comm.recv(0, n * (1 + usize::from(x.is_some())))?;
                let (c2, w2) = msg.split_at(n);
                let s_word = |k: usize| bits.0[k];
                let mut d0 = pool::take(parts * n);
                let mut u = pool::take(parts * n);
                if let Some(mut db) = db {
                    // u = s c_2 - D_0
                    append_chunks(&mut db, &mut d0, n, [], |s, d, []| {
                        let len = d.len();
                        let mk = &mut mk[..len];
                        bit_masks(s_word, s, mk);
                        let c2 = at(c2, s, len);
                        extend_by(&mut u, len, |out| {
                            let ins = d.iter().zip(mk.iter()).zip(c2.iter());
                            for (o, ((d, m), c)) in out.iter_mut().zip(ins) {
                                *o = signed(*c, *m).wrapping_sub(*d);
                            }
                        });
                    });
                }
                if let (Some((x2, x0)), Some(mut dp)) = (x, dp) {
                    // u = d x_0 + s (w_2 + c_2 x_2) - D_0
                    append_chunks(&mut dp, &mut d0, n, [], |s, d, []| {
                        let len = d.len();
                        let mk = &mut mk[..len];
                        bit_masks(s_word, s, mk);
                        let (c2, w2) = (at(c2, s, len), at(w2, s, len));
                        let (x2, x0) = (at(x2, s, len), at(x0, s, len));
                        extend_by(&mut u, len, |out| {
                            let ins = d.iter().zip(mk.iter()).zip(c2.iter().zip(w2.iter()));
                            for (o, (((d, m), (c, w)), (b, a))) in
                                out.iter_mut().zip(ins.zip(x2.iter().zip(x0.iter())))
                            {
                                let t = w.wrapping_add(c.wrapping_mul(*b));
                                *o = (a & m).wrapping_add(signed(t, *m)).wrapping_sub(*d);
                            }
                        });
                    });
                }
                pool::give(msg);
                (self.swap_halves(u, 1, u64::wrapping_add)?, d0)
            }
        };
        // [bits..., products...]: split only when both are there (a split moves the tail)
        let split = |v: Vec<u64>| -> (Vec<u64>, Vec<u64>) {
            match (want_bit, x.is_some()) {
                (true, true) => {
                    let mut a = v;
                    let b = a.split_off(n);
                    (a, b)
                }
                (true, false) => (v, Vec::new()),
                _ => (Vec::new(), v),
            }
        };
        let (b0, p0) = split(s0);
        let (b1, p1) = split(s1);
        Ok((
            want_bit.then_some((b0, b1)),
            x.is_some().then_some((p0, p1)),
        ))
    }

    /// The exchange that ends the generate sharing and the injection at parties 1 and 2:
    /// sends this party's half to `peer` (shared: the message is the half itself), receives
    /// the peer's half of the same length and returns `op` of the two, word by word.
    fn swap_halves(
        &mut self,
        half: Vec<u64>,
        peer: usize,
        op: impl Fn(u64, u64) -> u64,
    ) -> Result<Vec<u64>> {
        let len = half.len();
        let half = Arc::new(half);
        self.comm.send_shared(peer, &half)?;
        let other = self.comm.recv_shared(peer, len)?;
        let mut out = pool::take(len);
        out.extend(half.iter().zip(other.iter()).map(|(a, b)| op(*a, *b)));
        release(half);
        release(other);
        Ok(out)
    }

    /// Bit injection: bit 0 of every word of `b` as an arithmetic integer 0/1 (scale 0).
    /// 2 rounds; each party sends 64 bits per element.
    pub fn b2a_bit(&mut self, b: &BShare) -> Result<AShare> {
        let n = b.s0.len();
        let bits = (pack_bits(&flat(&b.s0)), pack_bits(&flat(&b.s1)));
        let (bit, _) = self.inject(&bits, n, None, true)?;
        let (s0, s1) = bit.ok_or(CoreError::InvalidShape {
            op: "b2a_bit",
            detail: "internal: no bit output".into(),
        })?;
        AShare::from_components(to_array(b.shape(), s0)?, to_array(b.shape(), s1)?, 0)
    }

    /// `b * x` for a shared bit `b` (bit 0 of each word) and a shared `x` of the same shape; the
    /// result keeps `x`'s scale (exact, no truncation). 2 rounds; party 0 sends 128 bits per
    /// element, parties 1 and 2 send 64.
    pub fn mul_bit(&mut self, b: &BShare, x: &AShare) -> Result<AShare> {
        if b.shape() != x.shape() {
            return Err(CoreError::ShapeMismatch {
                op: "mul_bit",
                left: b.shape().to_vec(),
                right: x.shape().to_vec(),
            });
        }
        let bits = (pack_bits(&flat(&b.s0)), pack_bits(&flat(&b.s1)));
        self.mul_packed_bit(&bits, x)
    }

    /// [`Party::mul_bit`] with the bits already packed.
    pub(crate) fn mul_packed_bit(&mut self, bits: &Pair, x: &AShare) -> Result<AShare> {
        let (x0, x1) = (flat(&x.s0), flat(&x.s1));
        let (_, prod) = self.inject(bits, x.len(), Some((&x0, &x1)), false)?;
        let (s0, s1) = prod.ok_or(CoreError::InvalidShape {
            op: "mul_bit",
            detail: "internal: no product output".into(),
        })?;
        AShare::from_components(
            to_array(x.shape(), s0)?,
            to_array(x.shape(), s1)?,
            x.frac_bits,
        )
    }
}

/// Writes the 0 / -1 masks of bits `s..s + out.len()` of a packed bit vector (bit `e % 64` of
/// word `e / 64`, word `k` given by `word(k)`) into `out`. `s` is a multiple of 64, as chunk
/// starts are; a 64-iteration inner loop the compiler vectorises.
#[inline(always)]
fn bit_masks(word: impl Fn(usize) -> u64, s: usize, out: &mut [u64]) {
    debug_assert_eq!(s % 64, 0);
    for (k, o) in out.chunks_mut(64).enumerate() {
        let w = word(s / 64 + k);
        for (b, o) in o.iter_mut().enumerate() {
            *o = ((w >> b) & 1).wrapping_neg();
        }
    }
}

/// Appends `len` words to `v`, written by `fill` into the new (zeroed, cache-resident) tail: a
/// plain loop over zipped slices, which vectorises where `extend` over an iterator did not.
#[inline(always)]
fn extend_by(v: &mut Vec<u64>, len: usize, fill: impl FnOnce(&mut [u64])) {
    let at = v.len();
    v.resize(at + len, 0);
    fill(&mut v[at..]);
}

/// The words `s..s + len` of `v`.
#[inline(always)]
fn at(v: &[u64], s: usize, len: usize) -> &[u64] {
    &v[s..s + len]
}

/// `v` if `mask` is 0, `-v` if `mask` is all ones.
#[inline]
fn signed(v: u64, mask: u64) -> u64 {
    (v ^ mask).wrapping_sub(mask)
}
