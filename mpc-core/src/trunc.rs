//! Probabilistic truncation (SecureML; ABY3 "share truncation I"), on replicated shares and fused
//! into multiplication.
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

use crate::error::{CoreError, Result};
use crate::party::{Party, into_words, to_array};
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
                self.comm.send(0, y1.clone())?;
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
        let n = z.len();
        let shape = z.shape().to_vec();
        let (s0, s1) = match self.role() {
            0 => {
                let y1 = z.mapv(|a| trunc_a(a, d));
                self.comm.send(1, into_words(y1.clone()))?;
                let y0 = self.comm.recv(2, n)?;
                (to_array(&shape, y0)?, y1)
            }
            1 => {
                self.comm.send(2, into_words(z))?;
                let r = self.common_next(n); // k_2
                let y1 = self.comm.recv(0, n)?;
                (to_array(&shape, y1)?, to_array(&shape, r)?)
            }
            _ => {
                let r = self.common_prev(n); // k_2
                let z1 = self.comm.recv(1, n)?;
                let mut y0 = Vec::with_capacity(n);
                for ((a, b), r) in z.iter().zip(&z1).zip(&r) {
                    y0.push(trunc_b(a.wrapping_add(*b), d).wrapping_sub(*r));
                }
                self.comm.send(0, y0.clone())?;
                (to_array(&shape, r)?, to_array(&shape, y0)?)
            }
        };
        Ok(AShare { s0, s1, frac_bits })
    }
}
