//! Activation functions on fixed-point shares: sigmoid (accurate, and the cheap piecewise-linear
//! SecureML variant), tanh and softmax.
//!
//! ## sigmoid, for every input
//! `sigmoid(x) = 1 - sigmoid(-x)`, so with `s = [x < 0]` and `a = |x|` (one comparison and one
//! integer product), `sigmoid(x) = s + (1 - 2s) sigmoid(a)` (one more integer product), and
//! `sigmoid(a) = 1 / (1 + e^-a) = 1 / (2 d)` with `d = 1/2 + e^(-a) / 2` in `(1/2, 1]`:
//! [`Party::exp_nonpositive`]'s protocol on `-a` gives `e^-a / 2` (the halving folded into its
//! last truncation), and `1 / (2d)` is [`Party::reciprocal_normalised`] (no range normalisation
//! needed) with the halving folded into its last truncation. Nothing overflows for any encodable
//! `x`: `a = |x| < 2^63` ring units, so `-a` does not wrap; `e^(-a)` goes to exactly 0 and the
//! result to exactly 0 or 1 (up to one ulp).
//!
//! ## sigmoid_piecewise (SecureML)
//! `0` for `x < -1/2`, `x + 1/2` on `[-1/2, 1/2)`, `1` above: with `l_0 = [x < -1/2]`,
//! `l_1 = [x < 1/2]` from one batched comparison, `(l_1 - l_0) x + 1 - (l_0 + l_1) / 2`
//! (one integer product). Cheap (10 rounds, 70 bytes) but its error against the true sigmoid
//! is up to `0.378` (just above `|x| = 1/2`); use it where the model was trained with it.
//!
//! ## tanh
//! `tanh(x) = 2 sigmoid(2x) - 1` (local operations around one sigmoid): absolute error twice
//! sigmoid's. The doubling is never formed (`2x` wraps the ring for `|x| >= 2^(62 - f)`): the
//! sigmoid's exponential computes `e^(-2a)` from `-a` by comparing it with the thresholds
//! `j ln 2 / 2` and forming the remainder `t = -2a - k ln 2` exactly in the ring, so tanh holds
//! for every encodable `x` (tested up to `+-(2^(63 - f) - 2^-f)`).
//!
//! ## softmax along an axis
//! `m = max_axis(x)`, `e = exp(x - m)` ([`Party::exp_nonpositive`]: `x - m <= 0`, so the largest
//! term is 1 and nothing overflows), `S = sum e` in `[1, L]` along the axis of length `L`, and
//! `e / S` with the reciprocal normalised from `2^0` (for `L < 16` only the 3 level-2
//! comparisons of [`crate::recip`]'s normalisation, per row).
//!
//! ## Accuracy and costs (f = 16, measured by `mpc-core/tests/funcs.rs`)
//! Conventions as in [`crate::recip`]; relative errors are measured where the result is at least
//! 0.1 in magnitude (the outputs are bounded by 1, so absolute errors are the meaningful ones).
//!
//! | function | input range | max abs error | max rel error | rounds | bytes |
//! |---|---|---|---|---|---|
//! | `sigmoid` | all `x` (swept on `[-40, 40]` plus `+-1e4`, `+-1e9` and the ends of the ring) | `7.0e-5` (`1e-4`) | `3.9e-4` (`6e-4`) | 39 | 396 (9, 14, 1) |
//! | `sigmoid_piecewise` | all `x` | 0 against its definition; `0.378` against the sigmoid | | 10 | 70 (2, 1) |
//! | `tanh` | all `x` (as for `sigmoid`) | `1.4e-4` (`2e-4`) | `4.3e-4` (`8e-4`) | 39 | 396 (9, 14, 1) |
//! | `softmax`, 128 x 10, axis 1 | logits in `[-8, 8]`, and rows with gaps of `1e3` to `5e4` | `8.0e-5` (`1.5e-4`) | `2.1e-4` (`4e-4`) | 74 | 353 (of which `max_axis` 33 rounds) |
//!
//! Truncation failures: those of [`crate::exp_log`] and [`crate::recip`]; the final products
//! act on values at most 1 (`2^-32` per element).
//!
//! Security: comparisons, products and truncations only; nothing is revealed.

use crate::approx::enc;
use crate::error::{CoreError, Result};
use crate::exp_log::{EXP_NONPOSITIVE_GROUP, exp_min_k};
use crate::party::Party;
use crate::share::AShare;

impl Party {
    /// The logistic function `1 / (1 + e^-x)`, accurate for every input (see the module docs).
    ///
    /// ```
    /// use mpc_core::run_3pc;
    /// let x = ndarray::arr1(&[-20.0, 0.0, 1.0]).into_dyn();
    /// let out = run_3pc(|p| {
    ///     let s = p.input_f64(1, (p.role() == 1).then_some(&x), &[3])?;
    ///     let y = p.sigmoid(&s)?;
    ///     p.reveal_f64(&y)
    /// })
    /// .unwrap();
    /// let want = x.mapv(|v| 1.0 / (1.0 + (-v).exp()));
    /// assert!(out[2].iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-4));
    /// ```
    pub fn sigmoid(&mut self, x: &AShare) -> Result<AShare> {
        self.sigmoid_of_multiple(x, 1)
    }

    /// `sigmoid(mult x)` for `mult >= 1`, correct for every encodable `x` even where `mult x`
    /// is not: the multiple enters only [`Party::exp_with`]'s public thresholds.
    fn sigmoid_of_multiple(&mut self, x: &AShare, mult: i32) -> Result<AShare> {
        let f = self.fixed.frac_bits();
        let s = self.sign_bit(x)?;
        let sx = self.mul(&s, x)?;
        // a = |x| < 2^63 ring units: -a does not wrap
        let a = x.sub(&sx.mul_scalar_int(2))?;
        let range = (exp_min_k(f), -1, EXP_NONPOSITIVE_GROUP);
        let half_exp = self.exp_with(&a.neg(), range, mult, true)?; // e^(-mult a) / 2
        let d = self.add_scalar_owned(half_exp, 0.5)?;
        let sig_a = self.reciprocal_normalised(&d, None, true)?;
        // s + (1 - 2s) sigmoid(mult a)
        let s_sig = self.mul(&s, &sig_a)?;
        let s_fixed = s.mul_scalar_int(1i64 << f).with_frac_bits(f);
        sig_a.sub(&s_sig.mul_scalar_int(2))?.add(&s_fixed)
    }

    /// The piecewise-linear SecureML approximation of the sigmoid (see the module docs).
    pub fn sigmoid_piecewise(&mut self, x: &AShare) -> Result<AShare> {
        let f = self.fixed.frac_bits();
        let l = self.step_bits(x, &[-0.5, 0.5])?;
        let l0 = l.index_leading(0)?;
        let l1 = l.index_leading(1)?;
        let slope = self.mul(&l1.sub(&l0)?, x)?;
        let half = enc(0.5, f)? as i64;
        let offset = l0.add(&l1)?.mul_scalar_int(-half).with_frac_bits(f);
        slope.add(&self.add_scalar_owned(offset, 1.0)?)
    }

    /// `tanh(x) = 2 sigmoid(2x) - 1`, for every encodable `x` (the doubling is folded into the
    /// exponential's thresholds, so `2x` is never formed; see the module docs).
    pub fn tanh(&mut self, x: &AShare) -> Result<AShare> {
        let sig = self.sigmoid_of_multiple(x, 2)?;
        self.add_scalar_owned(sig.mul_scalar_int(2), -1.0)
    }

    /// Softmax along `axis` (see the module docs). An axis out of range or of length 0 is an
    /// [`CoreError::InvalidShape`] error.
    pub fn softmax(&mut self, x: &AShare, axis: usize) -> Result<AShare> {
        let shape = x.shape().to_vec();
        let len = match shape.get(axis) {
            Some(&l) if l > 0 => l,
            _ => {
                return Err(CoreError::InvalidShape {
                    op: "softmax",
                    detail: format!("axis {axis} of shape {shape:?} is missing or empty"),
                });
            }
        };
        if x.is_empty() {
            return Ok(x.clone()); // other axes empty: nothing to normalise
        }
        let mut kept = shape.clone();
        kept[axis] = 1;
        let m = self
            .max_axis(x, axis)?
            .into_reshape(&kept)?
            .broadcast_to(&shape)?;
        let e = self.exp_nonpositive(&x.sub(&m)?)?;
        let sum = e.sum_axis(axis)?;
        let j_max = len.ilog2() as i32;
        let r = self.reciprocal_with(&sum, &sum, None, 0, j_max)?;
        let r = r.into_reshape(&kept)?.broadcast_to(&shape)?;
        self.mul(&e, &r)
    }
}
