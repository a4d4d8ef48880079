//! Exponential and natural logarithm of fixed-point shares.
//!
//! ## exp: range reduction by a batched comparison
//! `exp(x) = 2^k e^t` with `k = floor(x / ln 2)` and `t = x - k ln 2 in [0, ln 2)`. One batched
//! comparison ([`Party::step_bits`]) of `x` with the public thresholds `tau_j = j ln 2`
//! (rounded to the fixed-point grid), `j = k_min..=k_max + 1`, gives the bits
//! `c_j = [x >= tau_j]`; `k`, `tau_k`, `2^min(k, 0)` and `2^max(k, 0)` are step sums of them
//! (local linear combinations, [`Party::step_value`]), so `t = x - tau_k` is exact. Then
//! - clamping: `t <- (c_(k_min) - c_(k_max + 1)) t + c_(k_max + 1) ln 2` (one integer-times-
//!   fixed product, 1 round): below `tau_(k_min)` the result is exactly 0 (the true value is
//!   below `2^k_min`), above `tau_(k_max + 1)` it saturates at `2^(k_max + 1)`;
//! - `e^t` by a degree-4 polynomial on `[0, ln 2]` (error `3.9e-6`; 5 rounds);
//! - `e^t 2^min(k, 0)`: a product truncated by `-k_min` bits (2 rounds; the truncated ring value
//!   is at most `2 * 2^(f - k_min)`, failure probability below `2^-29` at `f = 16`);
//! - `* 2^max(k, 0)`: an exact integer product (1 round; only if `k_max > 0`).
//!
//! So large negative inputs are stable (exact 0 below `-17 ln 2 = -11.8`, where `exp(x)` is below
//! half an ulp), and large positive ones saturate instead of wrapping around. The relative
//! error is that of `e^t` (a few ulp relative to a value in `[1, 2)`) for results above `1`,
//! and the absolute error is at most a few ulp below `1`.
//!
//! `exp_nonpositive` is the same with `k_max = -1` (18 thresholds instead of 47), for inputs
//! `x <= 0` such as the shifted logits of softmax.
//!
//! ## ln: normalisation and a polynomial
//! `x = x_n 2^e` with `x_n in [1/2, 1)` ([`crate::recip`]'s normalisation, thresholds
//! `2^-16 ..= 2^16`), then `ln(x) = p(x_n - 3/4) + e ln 2` with a degree-6 polynomial (error
//! `1.7e-6`, 7 rounds) and `e ln 2` a step sum (exact to half an ulp).
//!
//! ## Accuracy and costs (f = 16, measured by `mpc-core/tests/funcs.rs`)
//! Conventions as in [`crate::recip`]: inputs on the fixed-point grid, the largest error seen over
//! repeated sweeps, the asserted bound in parentheses; bytes per party per element (largest
//! party), with the number of comparisons, products and stand-alone truncations.
//!
//! | function | input range | max abs error | max rel error | rounds | bytes |
//! |---|---|---|---|---|---|
//! | `exp` | `x <= 20` (any encodable `x`: 0 below `-11.8`, `2^29` above `20.1`) | `1.8e-5` (`3 ulp`) where `e^x <= 1` | `2.7e-5` (`6e-5`) where `e^x >= 1` | 16 | 1495 (47, 6, 1) |
//! | `exp_nonpositive` | `x <= 0` | `1.8e-5` (`3 ulp`) | `1.3e-4` (`2.5e-4`) where `e^x >= 0.1` | 15 | 599 (18, 5, 1) |
//! | `ln` | `2^-16 <= x < 2^17` | `7.5e-5` (`1.2e-4`) | `4.1e-5` (`8e-5`) where `\|ln x\| >= 1` | 15 | 1067 (33, 6, 1) |
//!
//! Truncation failures ([`crate::trunc`]): the polynomial's truncations act on values at most 2
//! (`2^-28` per element or less), the `2^min(k, 0)` product on at most `2^(f + 18)` (`2^-29`);
//! the clamp and the `2^max(k, 0)` factor are exact integer products. The comparisons are exact
//! for all inputs with `|x| < 2^46`.
//!
//! Security: comparisons, products and truncations only; nothing is revealed.

use crate::approx::enc;
use crate::error::{CoreError, Result};
use crate::party::Party;
use crate::share::AShare;
use std::f64::consts::LN_2;

/// Smallest `k` of the range reduction: inputs below `EXP_MIN_K ln 2` (about `-11.8`) give 0.
pub const EXP_MIN_K: i32 = -17;
/// Largest `k` of `exp`: inputs at or above `(EXP_MAX_K + 1) ln 2` (about `20.1`) saturate at
/// `2^(EXP_MAX_K + 1)`.
pub const EXP_MAX_K: i32 = 28;
/// Smallest and largest threshold exponents of `ln`: inputs in `[2^-16, 2^17)`.
pub const LN_EXP_RANGE: (i32, i32) = (-16, 16);

/// `e^t` on `[0, ln 2]`, degree 4 (Chebyshev interpolation, max error 3.9e-6).
const EXP_COEFFS: [f64; 5] = [
    1.000_003_492_907_698_4,
    0.999_748_598_289_394_3,
    0.502_867_814_897_760_1,
    0.155_378_880_977_962_37,
    0.059_221_104_317_594_5,
];

/// `ln(3/4 + u)` for `u` in `[-1/4, 1/4]`, degree 6 (max error 1.7e-6).
const LN_COEFFS: [f64; 7] = [
    -0.287_682_072_451_780_9,
    1.333_366_780_802_882_8,
    -0.888_928_086_388_574_1,
    0.785_888_808_268_675_2,
    -0.785_162_302_214_459_5,
    0.973_899_067_206_017_6,
    -1.089_895_077_709_578,
];

/// `2^k` as a ring word, `0 <= k < 63`.
fn pow2(k: i32) -> Result<u64> {
    u32::try_from(k)
        .ok()
        .filter(|&k| k < 63)
        .map(|k| 1u64 << k)
        .ok_or_else(|| CoreError::InvalidFixedPoint(format!("2^{k} is not a ring integer")))
}

impl Party {
    /// `e^x` for `x <= 20` (see the module docs; below `-11.8` the result is 0, above `20.1` it
    /// saturates at `2^29`).
    pub fn exp(&mut self, x: &AShare) -> Result<AShare> {
        self.exp_with(x, EXP_MIN_K, EXP_MAX_K)
    }

    /// `e^x` for `x <= 0` (cheaper than [`Party::exp`]: 18 comparisons instead of 47, and no
    /// final integer product). Positive inputs saturate at 1.
    pub fn exp_nonpositive(&mut self, x: &AShare) -> Result<AShare> {
        self.exp_with(x, EXP_MIN_K, -1)
    }

    /// `e^x` with the range reduction over `k in [k_min, k_max]` (`k_min < 0`).
    pub(crate) fn exp_with(&mut self, x: &AShare, k_min: i32, k_max: i32) -> Result<AShare> {
        let f = self.fixed.frac_bits();
        if x.frac_bits != f {
            return Err(CoreError::ScaleMismatch {
                op: "exp",
                left: x.frac_bits,
                right: f,
            });
        }
        let fq = u32::try_from(-k_min).unwrap_or(0);
        if fq == 0 || k_max < k_min {
            return Err(CoreError::InvalidFixedPoint(format!(
                "exp range reduction needs k_min < 0 <= ... and k_min <= k_max, got [{k_min}, {k_max}]"
            )));
        }
        let scale = 2f64.powi(f as i32);
        // tau_j = j ln 2 on the grid; thresholds j = k_min ..= k_max + 1
        let tau_ring = |j: i32| -> Result<u64> { enc(j as f64 * LN_2, f) };
        let thresholds: Vec<f64> = (k_min..=k_max + 1)
            .map(|j| (j as f64 * LN_2 * scale).round() / scale)
            .collect();
        let count = thresholds.len();
        let l = self.step_bits(x, &thresholds)?;
        // k(m) for m thresholds passed: k_min - 1 + m, and k_max when all are passed
        let k_of = |m: usize| (k_min - 1 + m as i32).min(k_max);
        let tau_k: Vec<u64> = (0..=count)
            .map(|m| tau_ring(k_of(m)))
            .collect::<Result<_>>()?;
        let t = x.sub(&self.step_value(&l, &tau_k, f)?)?;
        // clamp: w = c_(k_min) - c_top = l_top - l_0; t_c = w t + c_top ln 2
        let l0 = l.slice_axis(0, 0, 1)?.reshape(x.shape())?;
        let ltop = l.slice_axis(0, count - 1, count)?.reshape(x.shape())?;
        let w = ltop.sub(&l0)?;
        let ln2 = enc(LN_2, f)?;
        let top_ln2 =
            self.add_scalar(&ltop.mul_scalar_int(-(ln2 as i64)).with_frac_bits(f), LN_2)?;
        let tc = self.mul(&w, &t)?.add(&top_ln2)?;
        let et = self.poly_eval(&tc, &EXP_COEFFS)?;
        // 2^min(k, 0) at scale -k_min (0 below the range)
        let q: Vec<u64> = (0..=count)
            .map(|m| match m {
                0 => Ok(0),
                _ => pow2(k_of(m).min(0) - k_min),
            })
            .collect::<Result<_>>()?;
        let q = self.step_value(&l, &q, fq)?;
        let v = self.mul_trunc(&et, &q, fq)?;
        if k_max <= 0 {
            return Ok(v);
        }
        let p: Vec<u64> = (0..=count)
            .map(|m| pow2(k_of(m).max(0)))
            .collect::<Result<_>>()?;
        let p = self.step_value(&l, &p, 0)?;
        self.mul(&p, &v)
    }

    /// Natural logarithm for `2^-16 <= x < 2^17` (see the module docs). Inputs below `2^-16`
    /// (including 0 and negative values) give meaningless finite results.
    pub fn ln(&mut self, x: &AShare) -> Result<AShare> {
        let f = self.fixed.frac_bits();
        let (j_min, j_max) = LN_EXP_RANGE;
        let n = self.normalise(x, x, j_min, j_max, 1)?;
        let u = self.add_scalar(&n.xn, -0.75)?;
        let p = self.poly_eval(&u, &LN_COEFFS)?;
        let e_ln2: Vec<u64> = (0..=n.count as i32)
            .map(|m| enc(f64::from(j_min + m) * LN_2, f))
            .collect::<Result<_>>()?;
        p.add(&self.step_value(&n.bits, &e_ln2, f)?)
    }
}
