//! Truncation of shared fixed-point values, stand-alone and fused into multiplication: the
//! probabilistic SecureML / ABY3 protocol ([`TruncMode::Probabilistic`], the default of a bare
//! [`Party`] at up to 20 fractional bits) and an exact dealer-assisted one ([`TruncMode::Exact`],
//! the default above 20 bits and of training in `mpc-nn`). [`Party::set_trunc_mode`] chooses;
//! every product and [`Party::trunc`] follows it.
//!
//! | mode | rounds (stand-alone / fused into a product) | bytes per element, party 0 / 1 / 2 | failure |
//! |---|---|---|---|
//! | probabilistic | 1 / 2 | stand-alone 0 / 8 / 0; fused 8 / 8 / 8 | `|z| / 2^64` per element |
//! | exact | 2 / 2 | 16 / 16 / 16 (both) | none for `|z| < 2^62` |
//!
//! # Probabilistic truncation
//!
//! Dividing a shared fixed-point value by `2^d` cannot be done share by share, but it can for a
//! **two-out-of-two** sharing `z = a + b`: `a >> d` plus `-((-b) >> d)` equals `z / 2^d` up to one
//! unit in the last place, *unless* `a` falls in a window of size `|z|` next to the wrap-around
//! point. With `a` uniformly random the failure probability is `|z| / 2^64` per element; a failed
//! element is off by about `2^(64-d)` (a huge, obvious error).
//!
//! ## Error and failure probability
//! - Error: the result is `floor(z / 2^d)` or that plus one: at most one unit in the last place
//!   (`2^-f` in fixed-point terms) per truncation.
//! - Failure: probability at most `|z| / 2^64` per element, `z` the ring value *before*
//!   truncation. For a product of two values with `f` fractional bits, `|z| = |x y| 2^(2f)`: at
//!   `f = 16` this is `|x y| * 2^-32`, i.e. 2^-32 for `|x y| <= 1`, 2^-22 for `|x y| <= 2^10`.
//!   Keep values small (normalise inputs) or use fewer fractional bits to make it rarer.
//!   The bound grows by 4 per fractional bit: `2^-24` per product of unit values at `f = 20`,
//!   `2^-16` at `f = 24`, where a sweep of a few thousand function evaluations already shows
//!   failures (`mpc-core/tests/scales.rs` runs probabilistic truncation up to 20 bits only).
//!   Above 20 fractional bits a party therefore starts in [`TruncMode::Exact`]
//!   ([`TruncMode::for_frac_bits`]; training jobs always use it).
//!   A fixed-point **matmul** truncates `z = 2 x y` by `d + 1` bits (one GEMM per party instead
//!   of five in all; see [`crate::mul`]), so its failure probability is twice that of the same
//!   values in a `mul`: `|x y| * 2^-31` per output element at `f = 16`.
//!
//! ## Stand-alone truncation of a replicated share (1 round; party 1 sends `8` bytes per element)
//! With `x = x_0 + (x_1 + x_2)` as the two-out-of-two split (`x_0` is held by parties 0 and 2,
//! `x_1 + x_2` by party 1), the new components are
//! `y_0 = x_0 >> d` (computed by parties 0 and 2), `y_2 = r` (common randomness of parties 1
//! and 2, key `k_2`), and `y_1 = -((-(x_1 + x_2)) >> d) - r`, computed by party 1 and sent to
//! party 0. Party 0 sees `y_1` masked by `r`, which it does not know.
//!
//! ## Fused with a product (2 rounds; each party sends `8` bytes per element)
//! After the local product, party `i` holds a 3-out-of-3 share `z_i` (re-randomised by a
//! zero-sharing, so uniformly random to the others). The split is `z = z_0 + (z_1 + z_2)`:
//! round 1, party 0 sends `y_1 = z_0 >> d` to party 1 and party 1 sends `z_1` to party 2;
//! round 2, party 2 sends `y_0 = -((-(z_1 + z_2)) >> d) - r` to party 0; `y_2 = r` as above.
//! This costs the same bytes as an integer multiplication (`8` per element per party) and one
//! extra round, and needs no preprocessing.
//!
//! # Exact truncation (dealer-assisted, after Dalskov, Escudero and Keller 2020)
//! Input: a 3-out-of-3 sharing `z = z_0 + z_1 + z_2` (party `i` holds `z_i`: the re-randomised
//! local product, or the first component `x_i` of a replicated share) with `|z| < 2^62` as a
//! signed ring integer. Party 2 acts as the dealer; parties 0 and 1 open a masked value.
//! - Masks from the pairwise streams, no communication: `r_A` (key `k_0`, parties 0 and 2),
//!   `r_B` (key `k_2`, parties 1 and 2). The dealer's mask is `r = r_A + r_B - z_2`, which it
//!   alone knows (party 0 lacks `r_B` or `z_2`, party 1 lacks `r_A`).
//! - Round 1: party 0 sends `z_0 + 2^62 + r_A` to party 1, party 1 sends `z_1 + r_B` to party 0;
//!   both add them to `c = z' + r` with `z' = z + 2^62` in `[0, 2^63)`. Party 0's view of `c` is
//!   masked by `r_B - z_2`, party 1's by `r_A`. In the same round the dealer sends party 1 its
//!   halves `t_B = t - t_A`, `b_B = b - b_A` of `t = (r mod 2^63) >> d` and `b = msb(r)`, where
//!   `t_A`, `b_A` are party 0's halves drawn from `k_0` (so party 1 sees them masked).
//! - Locally, with `c' = c mod 2^63`: `z' = c' - (r mod 2^63) + 2^63 (msb(c) XOR b)` exactly
//!   (no wrap-around is possible since `z' < 2^63`), hence
//!   `y = (c' >> d) - t + 2^(63-d) (msb(c) XOR b) - 2^(62-d)` is `floor(z / 2^d)` or that plus
//!   one, where the XOR is linear in `b` for the public bit `msb(c)`. Parties 0 and 1 now hold a
//!   two-out-of-two sharing `y = y_A + y_B`.
//! - Round 2: the new components are `y_0` (from `k_0`), `y_2` (from `k_2`) and
//!   `y_1 = (y_A - y_0) + (y_B - y_2)`: party 0 sends `y_A - y_0` to party 1 and party 1 sends
//!   `y_B - y_2` to party 0 (each masked by a stream the receiver lacks).
//!
//! Error: `floor(z / 2^d)` or one more, i.e. at most one unit in the last place, and never a
//! wrap-around failure while `|z| < 2^62` (at `f = 16` a product of two values is fine while
//! `|x y| < 2^30`, an entry of a fixed-point matmul while `|x y| < 2^29`: it truncates
//! `2 x y`). Outside that bound the result is wrong, so callers keep values in range (the
//! fixed-point encoding itself allows only `|x| < 2^(63 - f)`). Costs: 2 rounds; each party sends
//! 16 bytes per element (dealer: `t_B`, `b_B`; parties 0 and 1: one word in each round), twice the
//! fused probabilistic truncation, with no preprocessing phase. Security: semi-honest, honest
//! majority; every message is masked by a pseudo-random stream that its receiver does not hold.

use crate::error::{CoreError, Result};
use crate::party::{Party, TruncMode, into_words, to_array};
use crate::share::AShare;
use ndarray::ArrayD;

/// The positive-side share of the SecureML truncation: `a >> d`.
#[inline]
fn trunc_a(a: u64, d: u32) -> u64 {
    a >> d
}

/// The negative-side share of the SecureML truncation: `-((-b) >> d)`.
#[inline]
fn trunc_b(b: u64, d: u32) -> u64 {
    (b.wrapping_neg() >> d).wrapping_neg()
}

impl Party {
    fn check_trunc(&self, d: u32, frac_bits: u32) -> Result<()> {
        if d == 0 || d > frac_bits || d >= 64 {
            return Err(CoreError::InvalidFixedPoint(format!(
                "cannot truncate {d} bits from a value with {frac_bits} fractional bits"
            )));
        }
        Ok(())
    }

    /// Divides a shared value by `2^d` (probabilistic truncation; see the module docs). The result
    /// has `frac_bits - d` fractional bits. 1 round; party 1 sends `8` bytes per element.
    ///
    /// ```
    /// use mpc_core::run_3pc;
    /// let x = ndarray::arr1(&[6.0, -3.0]).into_dyn();
    /// let out = run_3pc(|p| {
    ///     let s = p.input_f64(0, (p.role() == 0).then_some(&x), &[2])?;
    ///     // drop one bit of the ring value and keep 16 fractional bits: a halving
    ///     let half = p.trunc(&s.with_frac_bits(17), 1)?;
    ///     p.reveal_f64(&half)
    /// })
    /// .unwrap();
    /// assert!((out[1][0] - 3.0).abs() < 1e-4 && (out[1][1] + 1.5).abs() < 1e-4);
    /// ```
    pub fn trunc(&mut self, x: &AShare, d: u32) -> Result<AShare> {
        self.check_trunc(d, x.frac_bits)?;
        if self.trunc_mode == TruncMode::Exact {
            let z: std::borrow::Cow<'_, [u64]> = match x.s0.as_slice() {
                Some(s) => s.into(),
                None => x.s0.iter().copied().collect::<Vec<_>>().into(),
            };
            return self.trunc_exact(&z, x.shape(), d, x.frac_bits - d);
        }
        let n = x.len();
        let shape = x.shape().to_vec();
        let frac_bits = x.frac_bits - d;
        let (s0, s1) = match self.role() {
            0 => {
                let y0 = x.s0.mapv(|a| trunc_a(a, d));
                let y1 = self.comm.recv(1, n)?;
                (y0, to_array(&shape, y1)?)
            }
            1 => {
                let r = self.common_next(n); // k_2
                let mut y1 = Vec::with_capacity(n);
                for ((a, b), r) in x.s0.iter().zip(x.s1.iter()).zip(&r) {
                    y1.push(trunc_b(a.wrapping_add(*b), d).wrapping_sub(*r));
                }
                self.comm.send_copy(0, &y1)?;
                (to_array(&shape, y1)?, to_array(&shape, r)?)
            }
            _ => {
                let r = self.common_prev(n); // k_2
                let y0 = x.s1.mapv(|a| trunc_a(a, d));
                (to_array(&shape, r)?, y0)
            }
        };
        Ok(AShare { s0, s1, frac_bits })
    }

    /// Reshares this party's 3-out-of-3 share `z_i` of a product and truncates it by `d` bits in
    /// the same protocol (2 rounds, `8` bytes per element per party; see the module docs). The
    /// result has `frac_bits` fractional bits.
    pub fn reshare_trunc(&mut self, z: ArrayD<u64>, d: u32, frac_bits: u32) -> Result<AShare> {
        self.check_trunc(d, frac_bits + d)?;
        if self.trunc_mode == TruncMode::Exact {
            let shape = z.shape().to_vec();
            return self.trunc_exact(&into_words(z), &shape, d, frac_bits);
        }
        let n = z.len();
        let shape = z.shape().to_vec();
        // in place over the words of `z`; received messages go back to the pool once read
        let mut z = into_words(z);
        let (s0, s1) = match self.role() {
            0 => {
                z.iter_mut().for_each(|a| *a = trunc_a(*a, d));
                self.comm.send_copy(1, &z)?;
                let y0 = self.comm.recv(2, n)?;
                (y0, z)
            }
            1 => {
                self.comm.send(2, z)?;
                let r = self.common_next(n); // k_2
                let y1 = self.comm.recv(0, n)?;
                (y1, r)
            }
            _ => {
                let r = self.common_prev(n); // k_2
                let z1 = self.comm.recv(1, n)?;
                for ((a, b), r) in z.iter_mut().zip(&z1).zip(&r) {
                    *a = trunc_b(a.wrapping_add(*b), d).wrapping_sub(*r);
                }
                mpc_net::pool::give(z1);
                self.comm.send_copy(0, &z)?;
                (r, z)
            }
        };
        let (s0, s1) = (to_array(&shape, s0)?, to_array(&shape, s1)?);
        Ok(AShare { s0, s1, frac_bits })
    }

    /// The exact truncation of a 3-out-of-3 sharing (this party's part `z`; see the module docs):
    /// `floor(z / 2^d)` or one more, for `|z| < 2^62`. 2 rounds, 16 bytes per element per party.
    fn trunc_exact(
        &mut self,
        z: &[u64],
        shape: &[usize],
        d: u32,
        frac_bits: u32,
    ) -> Result<AShare> {
        if d > 62 {
            return Err(CoreError::InvalidFixedPoint(format!(
                "exact truncation drops at most 62 bits, not {d}"
            )));
        }
        let n = z.len();
        const OFFSET: u64 = 1 << 62;
        const LOW: u64 = (1 << 63) - 1;
        let offset_out = 1u64 << (62 - d);
        // y_A (party 0) or y_B (party 1) from the opened c and the dealer's halves t, b
        let share_of_y = |c: u64, t: u64, b: u64, first: bool| {
            let c63 = c >> 63;
            // msb(c) XOR b, linear in b: c63 + (1 - 2 c63) b, the constant at party 0
            let bit = match (first, c63) {
                (true, 0) => b,
                (true, _) => 1u64.wrapping_sub(b),
                (false, 0) => b,
                (false, _) => b.wrapping_neg(),
            };
            let public = if first {
                ((c & LOW) >> d).wrapping_sub(offset_out)
            } else {
                0
            };
            public.wrapping_sub(t).wrapping_add(bit << (63 - d))
        };
        let (s0, s1) = match self.role() {
            0 => {
                let t_a = self.prg_prev.words(n); // k_0, with the dealer
                let b_a = self.prg_prev.words(n);
                let r_a = self.prg_prev.words(n);
                let y0 = self.prg_prev.words(n);
                let m_a: Vec<u64> = z
                    .iter()
                    .zip(&r_a)
                    .map(|(z, r)| z.wrapping_add(OFFSET).wrapping_add(*r))
                    .collect();
                self.comm.send_copy(1, &m_a)?;
                let m_b = self.comm.recv(1, n)?;
                let mut y1: Vec<u64> = (0..n)
                    .map(|i| {
                        let c = m_a[i].wrapping_add(m_b[i]);
                        share_of_y(c, t_a[i], b_a[i], true).wrapping_sub(y0[i])
                    })
                    .collect();
                self.comm.send_copy(1, &y1)?;
                let other = self.comm.recv(1, n)?;
                y1.iter_mut()
                    .zip(other)
                    .for_each(|(a, b)| *a = a.wrapping_add(b));
                (y0, y1)
            }
            1 => {
                let r_b = self.prg_next.words(n); // k_2, with the dealer
                let y2 = self.prg_next.words(n);
                let m_b: Vec<u64> = z
                    .iter()
                    .zip(&r_b)
                    .map(|(z, r)| z.wrapping_add(*r))
                    .collect();
                self.comm.send_copy(0, &m_b)?;
                let dealt = self.comm.recv(2, 2 * n)?;
                let (t_b, b_b) = dealt.split_at(n);
                let m_a = self.comm.recv(0, n)?;
                let mut y1: Vec<u64> = (0..n)
                    .map(|i| {
                        let c = m_a[i].wrapping_add(m_b[i]);
                        share_of_y(c, t_b[i], b_b[i], false).wrapping_sub(y2[i])
                    })
                    .collect();
                self.comm.send_copy(0, &y1)?;
                let other = self.comm.recv(0, n)?;
                y1.iter_mut()
                    .zip(other)
                    .for_each(|(a, b)| *a = a.wrapping_add(b));
                (y1, y2)
            }
            _ => {
                let t_a = self.prg_next.words(n); // k_0, with party 0
                let b_a = self.prg_next.words(n);
                let r_a = self.prg_next.words(n);
                let y0 = self.prg_next.words(n);
                let r_b = self.prg_prev.words(n); // k_2, with party 1
                let y2 = self.prg_prev.words(n);
                let mut dealt = vec![0u64; 2 * n];
                let (t_b, b_b) = dealt.split_at_mut(n);
                for i in 0..n {
                    let r = r_a[i].wrapping_add(r_b[i]).wrapping_sub(z[i]);
                    t_b[i] = ((r & LOW) >> d).wrapping_sub(t_a[i]);
                    b_b[i] = (r >> 63).wrapping_sub(b_a[i]);
                }
                self.comm.send(1, dealt)?;
                (y2, y0)
            }
        };
        Ok(AShare {
            s0: to_array(shape, s0)?,
            s1: to_array(shape, s1)?,
            frac_bits,
        })
    }
}
