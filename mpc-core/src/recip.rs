//! Reciprocal, division, inverse square root and square root of fixed-point shares.
//!
//! ## Range normalisation in two levels
//! We want `e` with `|x| in [2^(e-step), 2^e)` and `x_n = x 2^-e` in `[2^-step, 1)` (`step` 1
//! for the reciprocal and `ln`, 2 for the square roots, so that `e` is even). In groups of
//! `G = 4` exponents:
//! - level 1: one batched comparison ([`Party::step_bits`]) of `|x|` with `2^(j_min + G i)`,
//!   `i = 1..=n1`, gives the group base `B`; `x' = x 2^-B` in `[1, 2^G)` is one integer product
//!   by a step sum `2^(D - B)` ([`Party::step_value`], a local linear combination of the bits)
//!   truncated by `D` bits;
//! - level 2: comparisons of `|x'|` with `2^(step i)`, `i = 1..G/step`, give `m2`;
//!   `e = B + step (m2 + 1)` and `x_n = x' 2^(G - e + B) / 2^G` (one more truncating product).
//!
//! That is `n1 + G/step - 1` comparisons instead of one per exponent (10 instead of 28 for the
//! signed reciprocal) for about 12 more rounds. The final scaling by `2^(-+e/step)` is an exact
//! integer product by the level-2 part (shifted to be at least 1), a truncating product by the
//! level-1 part where it is below 1, and an exact integer product where it is above 1.
//!
//! ## Reciprocal: Goldschmidt's iteration
//! With `y_0 = 2.9142 - 2 x_n` (the linear minimax start, `|1 - x_n y_0| <= 0.0858`) and
//! `eps = 1 - x_n y_0`, `1/x_n = y_0 (1 + eps)(1 + eps^2)(1 + eps^4) (1 + O(eps^8))`; the factor
//! updates `y <- y (1 + eps)` and `eps <- eps^2` run in the same batched multiplication, so the
//! three steps cost 4 multiplication rounds (8 rounds). Negative inputs: the sign
//! `s = [x < 0]` is computed first, the thresholds compare `|x|`, and the iteration runs on the
//! signed `x_n` with start `(1 - 2s) 2.9142 - 2 x_n`.
//!
//! ## Inverse square root and square root: Goldschmidt's square-root iteration
//! From a degree-2 start `h_0 ~ 1 / (2 sqrt(x_n))` (relative error 3%), `g_0 = x_n 2 h_0`, and
//! two steps of `r = 1/2 - g h; g <- g + g r; h <- h + h r`, `g -> sqrt(x_n)` and
//! `h -> 1 / (2 sqrt(x_n))` (the error `1 - 2gh` squares at each step). Then
//! `sqrt(x) = g 2^(e/2)` and `1/sqrt(x) = 2h 2^(-e/2)`.
//!
//! ## Accuracy and costs (f = 16, measured by `mpc-core/tests/funcs.rs`)
//! Inputs are fixed-point values (multiples of `2^-16`); errors are against the exact function
//! of that input. "ulp" is `2^-16 = 1.5e-5`. Absolute errors are measured where the result is at
//! most 1 in magnitude, relative errors where it is at least 1 (below that, the fixed-point
//! resolution makes relative errors meaningless: a result of `1e-5` is less than one ulp). The
//! measured value is the largest seen over repeated sweeps of 6000 inputs plus the edges; the
//! tests assert the bound in parentheses. Bytes: sent per party per element (the largest of the
//! three parties, element counts a multiple of 64); comparisons are [`Party::ltz`] (about 31
//! bytes each), products 8 bytes.
//!
//! | function | input range | max abs error | max rel error | rounds | bytes |
//! |---|---|---|---|---|---|
//! | `reciprocal` | `2^-10 <= \|x\| < 2^18` (`9.8e-4` to `2.6e5`), both signs | `4.6e-5` (`5 ulp`) | `5.8e-5` (`1e-4`) | 39 | 412 (10 comparisons, 13 products) |
//! | `reciprocal_positive` | `2^-10 <= x < 2^18` | `5.0e-5` (`5 ulp`) | `5.8e-5` (`1e-4`) | 29 | 365 (9, 11) |
//! | `div(a, b)` | `b` as for `reciprocal` | `\|a\| (5 ulp + 1e-4 / \|b\|) + 2 ulp` asserted; `1.5e-3` measured for `\|a\| <= 100`, `\|a / b\| <= 100` | `1.2e-3` (same inputs) | 40 | 420 (10, 14) |
//! | `rsqrt` | `2^-10 <= x < 2^18` | `5.7e-5` (`5 ulp`) | `5.4e-5` (`1e-4`) | 32 | 326 (7, 13, 1 truncation) |
//! | `sqrt` | `0 <= x < 2^20` (every grid value, at any `f`) | `3.7e-5` (`4 ulp`) | `7.2e-5` (`1e-4`) | 32 | 388 (9, 13, 1) |
//!
//! Truncation failures ([`crate::trunc`]): the level-1 product truncates a ring value of at most
//! `|x'| 2^(f + D)` with `|x'| < 2^4` and `D <= 16` (probability below `2^-28` per element), the
//! level-2 one and the Goldschmidt iterates act on values at most 2 (`2^-30` or less); the final
//! down-scaling truncates at most `2^(G/step) 2^(f + 18)` for the reciprocal (`2^-26`) and less
//! for the square roots; up-scaling is exact.
//! `div`'s final product fails with probability `|a / b| 2^(2f - 64)`.
//!
//! Outside the range: for `|x| < 2^-10` (including 0) the iteration starts below `1/2` and the
//! result under-estimates `1/|x|` (it stays finite: `reciprocal(0)` is about `1.2e4`); for
//! `|x| >= 2^18` the normalised value leaves `[1/2, 1)` and the result is meaningless (it may
//! even have the wrong sign). `div(a, b)` has the reciprocal's relative error, scaled by `|a|`
//! in absolute terms.
//!
//! ## Other fractional bits
//! The table is at `f = 16`. `sqrt` (like `ln`) is normalised from the session's smallest grid
//! value, `2^-f` rounded down to an even exponent ([`sqrt_min_exp`]): at `f = 20` its inputs go
//! down to `2^-20` (with the fixed `2^-16` of earlier versions, `sqrt(2^-20)` came out as
//! `6.3e-4` instead of `9.8e-4`), at the price of one level-1 comparison per 4 bits (8
//! comparisons at `f = 12`, 9 at 16, 10 at 20). The reciprocal and `rsqrt` ranges are fixed
//! real intervals, `[2^-10, 2^18)`, at every `f` (both are on the grid for `f >= 10`; at `f = 8`
//! the grid starts at `2^-8`). The errors stay within a few ulp of `2^-f`
//! (`mpc-core/tests/scales.rs` asserts them at 8, 12, 16, 20 and 24 bits), except where the
//! iteration's own error is larger: the square roots' is about `2.6e-6` relative, 43 ulp at
//! `f = 24` (the reciprocal's stays below 3 ulp there). The truncation-failure bounds above
//! contain `f`: at `f = 20` each is `2^4` times its `f = 16` value (the level-1 shift `D` is 16
//! at both), at `f = 24` `2^8` times, and a product of unit values fails with probability
//! `2^-16` under probabilistic truncation: above 20 bits use [`crate::TruncMode::Exact`], with
//! which every function here is exact up to its approximation error at 24 bits.
//!
//! Security: comparisons, products and truncations only; nothing is revealed.

use crate::approx::enc;
use crate::error::{CoreError, Result};
use crate::party::Party;
use crate::share::AShare;

/// The reciprocal is normalised for `2^RECIP_MIN_EXP <= |x| < 2^(RECIP_MAX_EXP + 1)` (at every
/// number of fractional bits).
pub const RECIP_MIN_EXP: i32 = -10;
/// See [`RECIP_MIN_EXP`].
pub const RECIP_MAX_EXP: i32 = 17;
/// `rsqrt` is normalised for `2^RSQRT_MIN_EXP <= x < 2^(RSQRT_MAX_EXP + 1)` (at every number of
/// fractional bits).
pub const RSQRT_MIN_EXP: i32 = -10;
/// See [`RSQRT_MIN_EXP`].
pub const RSQRT_MAX_EXP: i32 = 17;
/// `sqrt` is normalised for `2^sqrt_min_exp(f) <= x < 2^(SQRT_MAX_EXP + 1)` at `f` fractional
/// bits: from `-f` rounded down to an even exponent (`-16` at `f = 16`, `-20` at `f = 20`), so
/// every positive value of the grid is in range (and 0 gives 0).
pub fn sqrt_min_exp(frac_bits: u32) -> i32 {
    -((frac_bits.div_ceil(2) * 2) as i32)
}
/// See [`sqrt_min_exp`].
pub const SQRT_MAX_EXP: i32 = 19;

/// Start of the reciprocal iteration on `[1/2, 1)`: `y_0 = RECIP_START - 2 x_n`.
const RECIP_START: f64 = 2.914_213_562_373_095; // 1.5 + sqrt(2)
/// Degree-2 approximation of `1 / (2 sqrt(x))` on `[1/4, 1]` (relative error 3%).
const HALF_RSQRT_START: [f64; 3] = [
    2.628_649_008_027_352 / 2.0,
    -3.133_970_819_265_512_5 / 2.0,
    1.523_184_174_287_218 / 2.0,
];

/// `2^k` as a ring word (`0 <= k < 64`).
fn pow2(k: i32) -> Result<u64> {
    u32::try_from(k)
        .ok()
        .and_then(|k| 1u64.checked_shl(k))
        .ok_or_else(|| CoreError::InvalidFixedPoint(format!("2^{k} is not a ring integer")))
}

/// Group size of the two-level normalisation (a power of two, a multiple of the step).
pub const NORM_GROUP: i32 = 4;

/// A normalised value `x_n = x 2^-e`, `e = B + step (m2 + 1)`, with the comparison bits that
/// define the group base `B = j_min + G m1` (level 1) and `m2` (level 2).
pub(crate) struct Normalised {
    /// `x 2^-e` at the session's scale.
    pub(crate) xn: AShare,
    /// Level-1 bits `[|x| < 2^(j_min + G i)]`, `i = 1..=n1` (None when `n1 = 0`).
    pub(crate) l1: Option<AShare>,
    /// Level-2 bits `[|x'| < 2^(step i)]`, `i = 1..=n2`, `x' = x 2^-B`.
    pub(crate) l2: AShare,
    /// Smallest base.
    pub(crate) j_min: i32,
    /// 1 for the reciprocal and ln, 2 for the square roots.
    pub(crate) step: i32,
    /// Number of level-1 thresholds.
    pub(crate) n1: usize,
    /// Number of level-2 thresholds, `G / step - 1`.
    pub(crate) n2: usize,
}

impl Normalised {
    /// The group base for `m1` level-1 thresholds passed.
    pub(crate) fn base(&self, m1: i32) -> i32 {
        self.j_min + NORM_GROUP * m1
    }
}

impl Party {
    /// The step sum of the level-1 bits for the table `g` (`n1 + 1` entries), or the public
    /// constant `g[0]` when there is no level 1 (shaped like `like`).
    pub(crate) fn level1_value(
        &self,
        n: &Normalised,
        g: &[u64],
        frac_bits: u32,
        like: &AShare,
    ) -> Result<AShare> {
        match &n.l1 {
            Some(l1) => self.step_value(l1, g, frac_bits),
            None => {
                let c = g.first().copied().unwrap_or(0);
                Ok(like
                    .mul_scalar_int(0)
                    .add_public_ring(self.role(), &crate::approx::scalar(c))?
                    .with_frac_bits(frac_bits))
            }
        }
    }

    /// Normalises `x` to `x_n = x 2^-e` with `|x_n|` in `[2^-step, 1)` for
    /// `2^j_min <= |x| < 2^(j_min + G (n1 + 1))`, `n1` the least count with
    /// `j_min + G (n1 + 1) > j_max`: level 1 compares `a = |x|` with `2^(j_min + G i)`, giving
    /// the base `B` and `x' = x 2^-B` (one truncating product); level 2 compares `|x'|` with
    /// `2^(step i)` and scales once more. `signed` says that `x` differs from `a` (then both are
    /// scaled in the same product). `j_min` and `G` must be multiples of `step`, and
    /// `j_min <= 0` when there is no level 1.
    pub(crate) fn normalise(
        &mut self,
        a: &AShare,
        x: &AShare,
        signed: bool,
        j_min: i32,
        j_max: i32,
        step: i32,
    ) -> Result<Normalised> {
        let f = self.fixed.frac_bits();
        if a.frac_bits != f || x.frac_bits != f {
            return Err(CoreError::ScaleMismatch {
                op: "normalise",
                left: a.frac_bits,
                right: f,
            });
        }
        let g = NORM_GROUP;
        let mut n1 = 0usize;
        while j_min + g * (n1 as i32 + 1) <= j_max {
            n1 += 1;
        }
        let n2 = (g / step - 1) as usize;
        let mut partial = Normalised {
            xn: x.clone(),
            l1: None,
            l2: x.clone(),
            j_min,
            step,
            n1,
            n2,
        };
        // level 1: x' = x 2^-B = x T1 / 2^D1 with T1 = 2^(D1 - B)
        let (a1, x1) = if n1 > 0 {
            let th: Vec<f64> = (1..=n1 as i32).map(|i| 2f64.powi(j_min + g * i)).collect();
            partial.l1 = Some(self.step_bits(a, &th)?);
            let d1 = partial.base(n1 as i32).max(0);
            let t1: Vec<u64> = (0..=n1 as i32)
                .map(|m| pow2(d1 - partial.base(m)))
                .collect::<Result<_>>()?;
            let t1 = self.level1_value(&partial, &t1, d1 as u32, a)?;
            if signed {
                if a.shape() != x.shape() {
                    return Err(CoreError::ShapeMismatch {
                        op: "normalise",
                        left: a.shape().to_vec(),
                        right: x.shape().to_vec(),
                    });
                }
                let prod = self.mul_trunc_many(&[(a, &t1), (x, &t1)], d1 as u32)?;
                let [a1, x1]: [AShare; 2] =
                    prod.try_into().map_err(|_| CoreError::InvalidShape {
                        op: "normalise",
                        detail: "internal: batch size".into(),
                    })?;
                (a1, x1)
            } else {
                let prod = self.mul_trunc(a, &t1, d1 as u32)?;
                (prod.clone(), prod)
            }
        } else {
            let up = 1i64
                .checked_shl(u32::try_from(-j_min).unwrap_or(64))
                .ok_or_else(|| {
                    CoreError::InvalidFixedPoint(format!("cannot normalise from 2^{j_min}"))
                })?;
            (a.mul_scalar_int(up), x.mul_scalar_int(up))
        };
        // level 2: |x'| in [1, 2^G): x_n = x' T2 / 2^G with T2 = 2^(G - step (m2 + 1))
        let th2: Vec<f64> = (1..=n2 as i32).map(|i| 2f64.powi(step * i)).collect();
        let l2 = self.step_bits(&a1, &th2)?;
        let t2: Vec<u64> = (0..=n2 as i32)
            .map(|m2| pow2(g - step * (m2 + 1)))
            .collect::<Result<_>>()?;
        let t2 = self.step_value(&l2, &t2, g as u32)?;
        partial.xn = self.mul_trunc(&x1, &t2, g as u32)?;
        partial.l2 = l2;
        Ok(partial)
    }

    /// `y 2^(sign e / step)` (sign `+1` or `-1`): first an exact integer product by
    /// `2^phi(m2)`, `phi = sign (m2 + 1) + c >= 0` (`c = G / step` when `sign < 0`), then the
    /// level-1 part `2^h1`, `h1 = sign B / step - c`, as a truncating product by
    /// `2^(min(h1, 0) + D)` and, when needed, an exact integer product by `2^max(h1, 0)`.
    pub(crate) fn scale_by_exponent(
        &mut self,
        y: &AShare,
        n: &Normalised,
        sign: i32,
    ) -> Result<AShare> {
        let c = if sign < 0 { NORM_GROUP / n.step } else { 0 };
        let phi: Vec<u64> = (0..=n.n2 as i32)
            .map(|m2| pow2(sign * (m2 + 1) + c))
            .collect::<Result<_>>()?;
        let phi = self.step_value(&n.l2, &phi, 0)?;
        let y1 = self.mul(&phi, y)?;
        let h1 = |m1: i32| sign * n.base(m1) / n.step - c;
        let hs: Vec<i32> = (0..=n.n1 as i32).map(h1).collect();
        let down = -hs.iter().copied().min().unwrap_or(0).min(0);
        let up = hs.iter().copied().max().unwrap_or(0).max(0);
        let d = u32::try_from(down).unwrap_or(0);
        let a: Vec<u64> = (0..=n.n1 as i32)
            .map(|m| pow2(h1(m).min(0) + down))
            .collect::<Result<_>>()?;
        let a = self.level1_value(n, &a, d, y)?;
        let mut out = self.mul_trunc(&y1, &a, d)?;
        if up > 0 {
            let b: Vec<u64> = (0..=n.n1 as i32)
                .map(|m| pow2(h1(m).max(0)))
                .collect::<Result<_>>()?;
            let b = self.level1_value(n, &b, 0, y)?;
            out = self.mul(&b, &out)?;
        }
        Ok(out)
    }

    /// `1 / x_n` for `x_n` in `[1/2, 1)` (or in `(-1, -1/2]` when `sign` is the 0/1 integer
    /// share of `[x_n < 0]`), by three Goldschmidt steps (8 rounds, 48 bytes per element). With
    /// `halve`, the last step also divides by 2 at no cost.
    pub fn reciprocal_normalised(
        &mut self,
        xn: &AShare,
        sign: Option<&AShare>,
        halve: bool,
    ) -> Result<AShare> {
        let f = self.fixed.frac_bits();
        let two_xn = xn.mul_scalar_int(2);
        let y0 = match sign {
            None => self.add_scalar_owned(two_xn.neg(), RECIP_START)?,
            Some(s) => {
                // (1 - 2s) RECIP_START, an integer share times a public fixed-point constant
                let c = enc(RECIP_START, f)?;
                let signed = s.mul_scalar_int(-2 * c as i64).with_frac_bits(f);
                self.add_scalar_owned(signed, RECIP_START)?.sub(&two_xn)?
            }
        };
        let p = self.mul(xn, &y0)?;
        let mut eps = self.add_scalar_owned(p.neg(), 1.0)?;
        let mut y = y0;
        for _ in 0..2 {
            let one_plus = self.add_scalar(&eps, 1.0)?;
            let next = self.mul_many(&[(&y, &one_plus), (&eps, &eps)])?;
            let [ny, ne]: [AShare; 2] = next.try_into().map_err(|_| CoreError::InvalidShape {
                op: "reciprocal",
                detail: "internal: batch size".into(),
            })?;
            y = ny;
            eps = ne;
        }
        let one_plus = self.add_scalar_owned(eps, 1.0)?;
        // truncating one bit more halves the value; the scale stays f
        Ok(self
            .mul_trunc(&y, &one_plus, f + u32::from(halve))?
            .with_frac_bits(f))
    }

    /// `1 / x` for `2^-10 <= |x| < 2^18`, either sign (see the module docs for the method, the
    /// error bounds and the behaviour outside the range).
    pub fn reciprocal(&mut self, x: &AShare) -> Result<AShare> {
        let s = self.sign_bit(x)?;
        let sx = self.mul(&s, x)?;
        let ax = x.sub(&sx.mul_scalar_int(2))?;
        self.reciprocal_with(&ax, x, Some(&s), RECIP_MIN_EXP, RECIP_MAX_EXP)
    }

    /// `1 / x` for positive `x` with `2^-10 <= x < 2^18`: [`Party::reciprocal`] without the sign
    /// comparison (10 rounds fewer). Negative inputs give meaningless results.
    pub fn reciprocal_positive(&mut self, x: &AShare) -> Result<AShare> {
        self.reciprocal_with(x, x, None, RECIP_MIN_EXP, RECIP_MAX_EXP)
    }

    /// `1 / x` for positive `x` in `[2^min_exp, 2^(max_exp + 1))` (at least: the range is
    /// covered in groups of [`NORM_GROUP`] exponents): [`Party::reciprocal_positive`] with a
    /// chosen range, one level-1 comparison per group (`min_exp = -f` reaches down to the
    /// session's resolution; `1 / x` must stay encodable, `-min_exp < 63 - f`). The accuracy
    /// is that of the reciprocal (a few ulp, `mpc-core/tests/scales.rs`).
    pub fn reciprocal_positive_range(
        &mut self,
        x: &AShare,
        min_exp: i32,
        max_exp: i32,
    ) -> Result<AShare> {
        let f = self.fixed.frac_bits() as i32;
        if min_exp > max_exp || -min_exp >= 63 - f || max_exp >= 63 - f {
            return Err(CoreError::InvalidFixedPoint(format!(
                "reciprocal range [2^{min_exp}, 2^{}) at {f} fractional bits: need min_exp <= \
                 max_exp and both ends and their reciprocals encodable (|exponent| < {})",
                max_exp + 1,
                63 - f
            )));
        }
        self.reciprocal_with(x, x, None, min_exp, max_exp)
    }

    /// `1 / x` for `|x|` in `[2^j_min, 2^(j_max + 1))` (at least; see [`Party::normalise`]):
    /// `a = |x|`, `sign` the 0/1 share of
    /// `[x < 0]` (None for positive inputs).
    pub(crate) fn reciprocal_with(
        &mut self,
        a: &AShare,
        x: &AShare,
        sign: Option<&AShare>,
        j_min: i32,
        j_max: i32,
    ) -> Result<AShare> {
        let n = self.normalise(a, x, sign.is_some(), j_min, j_max, 1)?;
        let y = self.reciprocal_normalised(&n.xn, sign, false)?;
        self.scale_by_exponent(&y, &n, -1)
    }

    /// `a / b` as `a * reciprocal(b)` (see [`Party::reciprocal`] for the range of `b`).
    pub fn div(&mut self, a: &AShare, b: &AShare) -> Result<AShare> {
        if a.shape() != b.shape() {
            return Err(CoreError::ShapeMismatch {
                op: "div",
                left: a.shape().to_vec(),
                right: b.shape().to_vec(),
            });
        }
        let r = self.reciprocal(b)?;
        self.mul(a, &r)
    }

    /// `(sqrt(x_n), 1 / (2 sqrt(x_n)))` for `x_n` in `[1/4, 1)`: a degree-2 start and two
    /// Goldschmidt square-root steps.
    pub fn sqrt_normalised(&mut self, xn: &AShare) -> Result<(AShare, AShare)> {
        let f = self.fixed.frac_bits();
        let mut h = self.poly_eval(xn, &HALF_RSQRT_START)?;
        // g_0 = x_n (2 h_0): truncating one bit less doubles the product
        let mut g = self.mul_trunc(xn, &h, f - 1)?.with_frac_bits(f);
        for _ in 0..2 {
            let gh = self.mul(&g, &h)?;
            let r = self.add_scalar_owned(gh.neg(), 0.5)?;
            let next = self.mul_many(&[(&g, &r), (&h, &r)])?;
            g = g.add(&next[0])?;
            h = h.add(&next[1])?;
        }
        Ok((g, h))
    }

    /// `1 / sqrt(x)` for `2^-10 <= x < 2^18` (see the module docs).
    pub fn rsqrt(&mut self, x: &AShare) -> Result<AShare> {
        let n = self.normalise(x, x, false, RSQRT_MIN_EXP, RSQRT_MAX_EXP, 2)?;
        let (_, h) = self.sqrt_normalised(&n.xn)?;
        // 2h 2^(-e/2): one bit less is truncated to double h
        let h2 = h.mul_scalar_int(2);
        self.scale_by_exponent(&h2, &n, -1)
    }

    /// `sqrt(x)` for `0 <= x < 2^20`, down to the smallest positive value of the session's grid
    /// (see the module docs).
    pub fn sqrt(&mut self, x: &AShare) -> Result<AShare> {
        let j_min = sqrt_min_exp(self.fixed.frac_bits());
        let n = self.normalise(x, x, false, j_min, SQRT_MAX_EXP, 2)?;
        let (g, _) = self.sqrt_normalised(&n.xn)?;
        self.scale_by_exponent(&g, &n, 1)
    }
}
