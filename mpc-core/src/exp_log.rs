//! Exponential and natural logarithm of fixed-point shares.
//!
//! ## exp: range reduction by two batched comparisons
//! `exp(x) = 2^k e^t` with `k = floor(x / ln 2)` and `t = x - k ln 2 in [0, ln 2)`. With the
//! public thresholds `tau_j = j ln 2` rounded to the fixed-point grid, `k` is found in two levels
//! of `G = 4`:
//! - level 1, one batched comparison ([`Party::step_bits`]) of `x` with the group starts
//!   `tau_(k_min + G i)` (the last one is the top, `tau_(k_max + 1)`) gives the group base `b`,
//!   `2^min(b, 0)`, `2^max(b, 0)` and `tau_b` as step sums of the bits (local linear
//!   combinations, [`Party::step_value`]), and the exact remainder `x1 = x - tau_b`;
//! - level 2, comparisons of `x1` with `tau_1 .. tau_(G-1)`, give `m2 = k - b`, `2^m2` and
//!   `t = x1 - tau_(m2)`, exact up to the rounding of the two thresholds (at most one ulp in `t`).
//!
//! `(k_max + 1 - k_min) / G + 1 + (G - 1)` comparisons instead of `k_max + 2 - k_min`: 16
//! instead of 49 for `exp`, 8 instead of 17 for `exp_nonpositive`, for 8 more rounds. Then
//! - clamping: `t <- (c_(k_min) - c_top) t + c_top ln 2` (an integer-times-fixed product, in the
//!   same round as the exact integer product `2^m2 2^min(b, 0)`): below `tau_(k_min)` the result
//!   is exactly 0 (the true value is below `2^k_min`, one ulp), above `tau_(k_max + 1)` it
//!   saturates at `2^(k_max + 1)`;
//! - `e^t` by a degree-4 polynomial on `[0, ln 2]` (error `3.9e-6`; 5 rounds);
//! - `e^t 2^(m2 + min(b, 0))`: a product truncated by `-k_min` bits (2 rounds; the truncated ring
//!   value is at most `2^G * 2^(f - k_min)`, failure probability below `2^-28` at `f = 16`);
//! - `* 2^max(b, 0)`: an exact integer product (1 round; only if some base is positive).
//!
//! So large negative inputs are stable (exact 0 below `k_min ln 2`, `-16 ln 2 = -11.09` at
//! `f = 16`), and large positive ones saturate instead of wrapping around. The relative error is that of `e^t` (a few ulp
//! relative to a value in `[1, 2)`) for results above `1`, the absolute error a few ulp below.
//!
//! `exp_nonpositive` is the same with `k_max = -1`, for inputs `x <= 0` such as the shifted
//! logits of softmax.
//!
//! The same protocol gives `e^(c x)` for a public integer `c >= 1` without forming `c x` (which
//! may wrap the ring): `x` is compared with the thresholds `theta_j = j ln 2 / c` rounded to the
//! grid, and `t = c x - tau_b - tau_(m2)` is formed exactly in the ring (it wraps only where the
//! clamp replaces it), within `2c + 1` ulp of `[0, ln 2]`. `tanh` uses `c = 2`; the sigmoid and
//! tanh also halve the result by truncating one bit more in the `2^(m2 + min(b, 0))` product.
//!
//! ## ln: normalisation and a polynomial
//! `x = x_n 2^e` with `x_n in [1/2, 1)` ([`crate::recip`]'s two-level normalisation from
//! `2^-f`, [`ln_exp_range`]: 11 comparisons at `f = 16`), then `ln(x) = p(x_n - 3/4) + e ln 2` with a degree-6 polynomial
//! (error `1.7e-6`, 7 rounds) and `e ln 2` a sum of two step sums (exact to one ulp).
//!
//! ## Accuracy and costs (f = 16, measured by `mpc-core/tests/funcs.rs`)
//! Conventions as in [`crate::recip`]: inputs on the fixed-point grid, the largest error seen over
//! repeated sweeps, the asserted bound in parentheses; bytes per party per element (largest
//! party), with the number of comparisons, products and stand-alone truncations.
//!
//! | function | input range | max abs error | max rel error | rounds | bytes |
//! |---|---|---|---|---|---|
//! | `exp` | `x <= 22` (any encodable `x` up to 23 from the ends of the range: 0 below `-11.09`, `2^32` above `22.18`) | `1.9e-5` (`3 ulp`) where `e^x <= 1` | `3.2e-5` (`6e-5`) where `e^x >= 1` | 24 | 554 (16, 7, 1) |
//! | `exp_nonpositive` | `x <= 0` | `2.0e-5` (`3 ulp`) | `1.4e-4` (`2.5e-4`) where `e^x >= 0.1` | 23 | 301 (8, 6, 1) |
//! | `ln` | `2^-16 <= x < 2^20` (`2^-f` at `f` bits) | `1.0e-4` (`1.5e-4`) | `5.9e-5` (`1e-4`) where `\|ln x\| >= 1` | 25 | 401 (11, 7, 1) |
//!
//! Truncation failures ([`crate::trunc`]): the polynomial's truncations act on values at most 2
//! (`2^-28` per element or less), the `2^(m2 + min(b, 0))` product on at most
//! `2^(f + 4 - k_min)` (`2^(f + 20)`, failure `2^-28`, at `f = 16`; `2^-20` at `f = 20`); the
//! clamp and the `2^max(b, 0)` factor are exact integer products. The comparisons of `exp` are
//! exact for every encodable input except the 23 next to either end of the range
//! (`|x| < 2^(63 - f) - 23`: the thresholds lie in `[-22.2, 22.2]`), those of
//! `exp_nonpositive` for every encodable `x <= 0`.
//!
//! ## Other fractional bits
//! The ranges follow the session's `f`: `exp`'s lower cut-off `k_min` is `-f` rounded away from
//! zero to a multiple of 4 ([`exp_min_k`]; below `k_min ln 2` the true value is below one ulp)
//! and `ln` is normalised from `2^-f` ([`ln_exp_range`]), one level-1 comparison more or less
//! per 4 bits (`exp`: 14, 15, 16, 17 and 18 comparisons at `f` = 8, 12, 16, 20 and 24; `ln`: 9
//! to 13). The errors stay within a few ulp of `2^-f` (asserted by `mpc-core/tests/scales.rs`
//! at 8, 12, 16, 20 and 24 bits) except where the polynomials' own errors are larger, at
//! `f = 24` (ulp `6e-8`): `exp` up to `3.5e-6` (58 ulp), `ln` `1.8e-6` (29 ulp). The
//! truncation-failure probabilities grow as the formulas above say; at `f = 24` probabilistic
//! truncation fails for products of unit values with probability `2^-16`, so sessions above 20
//! bits use [`crate::TruncMode::Exact`].
//!
//! Security: comparisons, products and truncations only; nothing is revealed.

use crate::approx::enc;
use crate::error::{CoreError, Result};
use crate::party::Party;
use crate::share::AShare;
use std::f64::consts::LN_2;

/// Smallest `k` of the range reduction at `f` fractional bits: `-f` rounded away from zero to a
/// multiple of the group size (`-16` at `f = 16`). Inputs below `k_min ln 2` (about `-11.09` at
/// `f = 16`) give 0: the true value is below `2^-f`, one ulp.
pub fn exp_min_k(frac_bits: u32) -> i32 {
    let g = EXP_GROUP as u32;
    -((frac_bits.div_ceil(g) * g) as i32)
}
/// Largest `k` of `exp`: inputs at or above `(EXP_MAX_K + 1) ln 2` (about `22.18`) saturate at
/// `2^(EXP_MAX_K + 1)`.
pub const EXP_MAX_K: i32 = 31;
/// Group size of `exp`'s two-level range reduction.
pub const EXP_GROUP: i32 = 4;
/// Group size of `exp_nonpositive`'s range reduction.
pub const EXP_NONPOSITIVE_GROUP: i32 = 4;
/// `ln` at `f` fractional bits is normalised for `2^j_min <= x < 2^(j_max + 1)` with
/// `(j_min, j_max) = ln_exp_range(f) = (-f, 19)`: every positive value of the grid up to `2^20`.
pub fn ln_exp_range(frac_bits: u32) -> (i32, i32) {
    (-(frac_bits as i32), 19)
}

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
    /// `e^x` for `x <= 22` (see the module docs; below `-11.09` the result is 0, above `22.18`
    /// it saturates at `2^32`).
    pub fn exp(&mut self, x: &AShare) -> Result<AShare> {
        let k_min = exp_min_k(self.fixed.frac_bits());
        self.exp_with(x, (k_min, EXP_MAX_K, EXP_GROUP), 1, false)
    }

    /// `e^x` for `x <= 0` (cheaper than [`Party::exp`]: 8 comparisons instead of 16, and no
    /// final integer product). Positive inputs saturate at 1.
    pub fn exp_nonpositive(&mut self, x: &AShare) -> Result<AShare> {
        let k_min = exp_min_k(self.fixed.frac_bits());
        self.exp_with(x, (k_min, -1, EXP_NONPOSITIVE_GROUP), 1, false)
    }

    /// `e^(mult x) / 2^halve` with the range reduction over `k in [k_min, k_max]` (`k_min < 0`),
    /// in groups of `group` consecutive values of `k` (`group` divides `k_max + 1 - k_min`; 1
    /// means a single comparison level). See the module docs. The multiple `mult >= 1` enters
    /// only the public thresholds (`j ln 2 / mult`, compared with `x` itself) and the exact
    /// remainder `t`, so `mult x` may lie outside the ring's range: only `x` is compared. With
    /// `halve`, the last truncation drops one bit more, halving the result at no cost.
    pub(crate) fn exp_with(
        &mut self,
        x: &AShare,
        (k_min, k_max, group): (i32, i32, i32),
        mult: i32,
        halve: bool,
    ) -> Result<AShare> {
        let f = self.fixed.frac_bits();
        if x.frac_bits != f {
            return Err(CoreError::ScaleMismatch {
                op: "exp",
                left: x.frac_bits,
                right: f,
            });
        }
        let fq = u32::try_from(-k_min).unwrap_or(0);
        let span = k_max + 1 - k_min;
        if fq == 0 || group < 1 || span < group || span % group != 0 || mult < 1 {
            return Err(CoreError::InvalidFixedPoint(format!(
                "exp range reduction over [{k_min}, {k_max}] in groups of {group}"
            )));
        }
        let groups = span / group;
        let tau = |j: i32| enc(f64::from(j) * LN_2, f);
        // the thresholds of mult x on the grid of x: theta_j = j ln 2 / mult (theta = tau for 1)
        let theta = |j: i32| enc(f64::from(j) * LN_2 / f64::from(mult), f);
        let on_grid = |w: u64| crate::fixed::decode_with(w, f);
        // level 1: x >= theta_(k_min + group i), i = 0..=groups (the last one is the top)
        let coarse: Vec<f64> = (0..=groups)
            .map(|i| theta(k_min + group * i).map(on_grid))
            .collect::<Result<_>>()?;
        let l1 = self.step_bits(x, &coarse)?;
        let top = groups as usize + 1; // m1 when every threshold is passed
        // base b(m1) of the group: below the range (m1 = 0) and the top use the end groups
        let base = |m1: usize| match m1 {
            0 => k_min,
            m if m == top => k_max + 1 - group,
            m => k_min + group * (m as i32 - 1),
        };
        // x1 = x - theta_b; at the top x1 = x - theta_(k_max + 1) + theta'_(group - 1), so that
        // every level-2 threshold is passed and k = k_max
        let offsets = |g: &dyn Fn(i32) -> Result<u64>| -> Result<Vec<u64>> {
            (0..=top)
                .map(|m1| {
                    if m1 == top {
                        Ok(g(k_max + 1)?.wrapping_sub(g(group - 1)?))
                    } else {
                        g(base(m1))
                    }
                })
                .collect()
        };
        // 2^min(b, 0) at scale -k_min (0 below the range)
        let q1: Vec<u64> = (0..=top)
            .map(|m1| match m1 {
                0 => Ok(0),
                m => pow2(base(m).min(0) - k_min),
            })
            .collect::<Result<_>>()?;
        // 2^max(b, 0), needed when some base is positive
        let positive = k_max + 1 - group > 0;
        let p1: Vec<u64> = match positive {
            true => (0..=top)
                .map(|m1| pow2(base(m1).max(0)))
                .collect::<Result<_>>()?,
            false => Vec::new(),
        };
        // every step sum of the level-1 bits in one pass over them
        let (theta_b, tau_b) = (offsets(&theta)?, offsets(&tau)?);
        let mut tables: Vec<(&[u64], u32)> = vec![(&theta_b, f), (&tau_b, f), (&q1, fq)];
        if positive {
            tables.push((&p1, 0));
        }
        let mut sums = self.step_values(&l1, &tables)?.into_iter();
        let mut next = || {
            sums.next().ok_or_else(|| CoreError::InvalidShape {
                op: "exp",
                detail: "internal: step sums".into(),
            })
        };
        let (theta_sum, tau_sum, q1) = (next()?, next()?, next()?);
        let p1 = if positive { Some(next()?) } else { None };
        let x1 = x.sub(&theta_sum)?;
        // t = mult x - tau_b - tau_(m2): exact in the ring (it may wrap only where the clamp
        // below replaces it); for mult = 1 this is x1 - tau_(m2)
        let t1 = x.mul_scalar_int(i64::from(mult)).sub(&tau_sum)?;
        // level 2: x1 >= theta'_i, i = 1..group
        let (t, fine_pow2) = if group > 1 {
            let fine: Vec<f64> = (1..group)
                .map(|i| theta(i).map(on_grid))
                .collect::<Result<_>>()?;
            let l2 = self.step_bits(&x1, &fine)?;
            let offset2: Vec<u64> = (0..group).map(tau).collect::<Result<_>>()?;
            let pow2_m2: Vec<u64> = (0..group).map(pow2).collect::<Result<_>>()?;
            let two = self.step_values(&l2, &[(&offset2, f), (&pow2_m2, 0)])?;
            let [tau_m2, pow2_m2]: [AShare; 2] =
                two.try_into().map_err(|_| CoreError::InvalidShape {
                    op: "exp",
                    detail: "internal: step sums".into(),
                })?;
            (t1.sub(&tau_m2)?, Some(pow2_m2))
        } else {
            (t1, None)
        };
        // clamp: w = c_(k_min) - c_top = l_top - l_0; t_c = w t + c_top ln 2
        let l0 = l1.index_leading(0)?;
        let ltop = l1.index_leading(top - 1)?;
        let w = ltop.sub(&l0)?;
        let ln2 = enc(LN_2, f)?;
        let top_ln2 =
            self.add_scalar_owned(ltop.mul_scalar_int(-(ln2 as i64)).with_frac_bits(f), LN_2)?;
        // the clamp and, in the same round, 2^(m2 + min(b, 0)) = 2^m2 * q1 (exact products)
        let (wt, q) = match fine_pow2 {
            Some(p2) => {
                let out = self.mul_many(&[(&w, &t), (&p2, &q1.clone().with_frac_bits(f))])?;
                let [wt, q]: [AShare; 2] = out.try_into().map_err(|_| CoreError::InvalidShape {
                    op: "exp",
                    detail: "internal: batch size".into(),
                })?;
                (wt, q.with_frac_bits(fq))
            }
            None => (self.mul(&w, &t)?, q1),
        };
        let tc = wt.add(&top_ln2)?;
        let et = self.poly_eval(&tc, &EXP_COEFFS)?;
        let v = self
            .mul_trunc(&et, &q, fq + u32::from(halve))?
            .with_frac_bits(f);
        match p1 {
            Some(p1) => self.mul(&p1, &v),
            None => Ok(v), // every base is <= 0: 2^max(b, 0) = 1
        }
    }

    /// Natural logarithm for `2^-f <= x < 2^20` at `f` fractional bits, i.e. every positive grid
    /// value below `2^20` (see the module docs). Zero and negative inputs give meaningless
    /// finite results.
    pub fn ln(&mut self, x: &AShare) -> Result<AShare> {
        let f = self.fixed.frac_bits();
        let (j_min, j_max) = ln_exp_range(f);
        let n = self.normalise(x, x, false, j_min, j_max, 1)?;
        let u = self.add_scalar(&n.xn, -0.75)?;
        let p = self.poly_eval(&u, &LN_COEFFS)?;
        // e ln 2 = B ln 2 + (m2 + 1) ln 2, each part rounded to the grid
        let b_ln2: Vec<u64> = (0..=n.n1 as i32)
            .map(|m1| enc(f64::from(n.base(m1)) * LN_2, f))
            .collect::<Result<_>>()?;
        let m2_ln2: Vec<u64> = (0..=n.n2 as i32)
            .map(|m2| enc(f64::from(m2 + 1) * LN_2, f))
            .collect::<Result<_>>()?;
        let e_ln2 = self
            .level1_value(&n, &b_ln2, f, x)?
            .add(&self.step_value(&n.l2, &m2_ln2, f)?)?;
        p.add(&e_ln2)
    }
}
