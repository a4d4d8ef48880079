//! Reciprocal, division, inverse square root and square root of fixed-point shares.
//!
//! ## Range normalisation
//! One batched comparison ([`Party::step_bits`]) of `|x|` with the public powers of two
//! `2^j`, `j = j_min..=j_max`, counts the thresholds passed, `m`; then `e = j_min + m` satisfies
//! `|x| in [2^(e-1), 2^e)` and the normalised `x_n = x 2^-e` lies in `[1/2, 1)` (for the square
//! roots only even `j` are used, so `e` is even and `x_n in [1/4, 1)`). Every power of two that
//! is needed is a *step sum* of the comparison bits: a local linear combination
//! ([`Party::step_value`]). Multiplying by `2^-e` is an integer product followed by a truncation,
//! always arranged so that the truncated ring value is at most `2^(f + 18)` times a value of
//! magnitude at most 2 (failure probability below `2^-29` per element at `f = 16`; see
//! [`crate::trunc`]); scaling up by `2^(-e)` for `e < 0` is an exact integer product.
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
//! | `reciprocal` | `2^-10 <= \|x\| < 2^17` (`9.8e-4` to `1.3e5`), both signs | `4.6e-5` (`5 ulp`) | `5.8e-5` (`1e-4`) | 28 | 941 (28 comparisons, 10 products) |
//! | `reciprocal_positive` | `2^-10 <= x < 2^17` | `4.6e-5` (`5 ulp`) | `5.1e-5` (`1e-4`) | 18 | 902 (27, 9) |
//! | `div(a, b)` | `b` as for `reciprocal` | `\|a\| (5 ulp + 1e-4 / \|b\|) + 2 ulp` asserted; `1.5e-3` measured for `\|a\| <= 100` | `1.2e-3` for `\|a\| <= 100` | 29 | 949 (28, 11) |
//! | `rsqrt` | `2^-10 <= x < 2^18` | `5.7e-5` (`5 ulp`) | `5.0e-5` (`1e-4`) | 22 | 525 (14, 11, 1 truncation) |
//! | `sqrt` | `0 <= x < 2^18` | `3.7e-5` (`4 ulp`) | `6.9e-5` (`1e-4`) | 22 | 617 (17, 11, 1) |
//!
//! Truncation failures ([`crate::trunc`]): every truncation here acts on a ring value of at most
//! `2^(f + 18)` times a value of magnitude at most 2 (the normalised `x_n`, the Goldschmidt
//! iterates, and the down-scaling step, which multiplies a value in `[1/2, 2]` by at most
//! `2^18` before truncating), so each fails with probability below `2^-29`; the up-scaling by
//! `2^max(h, 0)` is an exact integer product. `div`'s final product fails with probability
//! `|a / b| 2^(2f - 64)`.
//!
//! Outside the range: for `|x| < 2^-10` (including 0) the iteration starts below `1/2` and the
//! result under-estimates `1/|x|` (it stays finite: `reciprocal(0)` is about `2.4e4`); for
//! `|x| >= 2^17` the result over-estimates, the normalised value leaves `[1/2, 1)`. `div(a, b)`
//! has the reciprocal's relative error, scaled by `|a|` in absolute terms.
//!
//! Security: comparisons, products and truncations only; nothing is revealed.

use crate::approx::enc;
use crate::error::{CoreError, Result};
use crate::party::Party;
use crate::share::AShare;

/// Smallest threshold exponent of the reciprocal's normalisation: `|x| >= 2^RECIP_MIN_EXP`.
pub const RECIP_MIN_EXP: i32 = -10;
/// Largest threshold exponent of the reciprocal's normalisation: `|x| < 2^(RECIP_MAX_EXP + 1)`.
pub const RECIP_MAX_EXP: i32 = 16;
/// Smallest threshold exponent of `rsqrt` (`x >= 2^RSQRT_MIN_EXP`).
pub const RSQRT_MIN_EXP: i32 = -10;
/// Smallest threshold exponent of `sqrt` (`x >= 2^SQRT_MIN_EXP` is normalised; below, the result
/// is within a few ulp of the true value anyway).
pub const SQRT_MIN_EXP: i32 = -16;
/// Largest even threshold exponent of `rsqrt` and `sqrt`: `x < 2^(SQRT_MAX_EXP + 2)`.
pub const SQRT_MAX_EXP: i32 = 16;

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

/// Table over `m = 0..=count` of `2^(g(m))` as ring words.
fn pow2_table(count: usize, g: impl Fn(i32) -> i32) -> Result<Vec<u64>> {
    (0..=count as i32).map(|m| pow2(g(m))).collect()
}

/// A normalised value: `x_n = x 2^-e`, with the comparison bits that define `e`.
pub(crate) struct Normalised {
    /// `x 2^-e` at the session's scale.
    pub(crate) xn: AShare,
    /// The comparison bits of [`Party::step_bits`] (`l_j = [|x| < 2^(j_min + step j)]`).
    pub(crate) bits: AShare,
    /// `e = j_min + step * m`, as a function of `m` this is `e(m)`.
    pub(crate) j_min: i32,
    /// 1 for the reciprocal, 2 for the square roots.
    pub(crate) step: i32,
    /// The number of thresholds.
    pub(crate) count: usize,
}

impl Normalised {
    /// `e` for `m` thresholds passed.
    fn e(&self, m: i32) -> i32 {
        self.j_min + self.step * m
    }
}

impl Party {
    /// Normalises `a` (`a >= 0`; `x` is `a` or its signed version) by `2^-e`, with thresholds
    /// `2^j` for `j = j_min, j_min + step, ..., <= j_max`.
    pub(crate) fn normalise(
        &mut self,
        a: &AShare,
        x: &AShare,
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
        let exps: Vec<i32> = (j_min..=j_max).step_by(step as usize).collect();
        let thresholds: Vec<f64> = exps.iter().map(|&j| 2f64.powi(j)).collect();
        let bits = self.step_bits(a, &thresholds)?;
        let count = exps.len();
        let e_max = j_min + step * count as i32;
        // T = 2^(e_max - e): x_n = x T / 2^e_max
        let t = self.step_value(&bits, &pow2_table(count, |m| e_max - j_min - step * m)?, 0)?;
        let d = u32::try_from(e_max).unwrap_or(0);
        let xn = if d == 0 {
            self.mul(x, &t)?
        } else {
            self.mul_trunc(x, &t.with_frac_bits(d), d)?
        };
        Ok(Normalised {
            xn,
            bits,
            j_min,
            step,
            count,
        })
    }

    /// `y 2^(sign * e / step)` (sign `+1` or `-1`) with the split of the module docs: a
    /// truncating product by `2^(min(h, 0) + D)` (`D` the largest downward shift) and, when
    /// needed, an exact integer product by `2^max(h, 0)`.
    pub(crate) fn scale_by_exponent(
        &mut self,
        y: &AShare,
        n: &Normalised,
        sign: i32,
    ) -> Result<AShare> {
        let h = |m: i32| sign * n.e(m) / n.step;
        let hs: Vec<i32> = (0..=n.count as i32).map(h).collect();
        let down = -hs.iter().copied().min().unwrap_or(0).min(0);
        let up = hs.iter().copied().max().unwrap_or(0).max(0);
        let d = u32::try_from(down).unwrap_or(0);
        let a = self.step_value(&n.bits, &pow2_table(n.count, |m| h(m).min(0) + down)?, d)?;
        let mut out = self.mul_trunc(y, &a, d)?;
        if up > 0 {
            let b = self.step_value(&n.bits, &pow2_table(n.count, |m| h(m).max(0))?, 0)?;
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
            None => self.add_scalar(&two_xn.neg(), RECIP_START)?,
            Some(s) => {
                // (1 - 2s) RECIP_START, an integer share times a public fixed-point constant
                let c = enc(RECIP_START, f)?;
                let signed = s.mul_scalar_int(-2 * c as i64).with_frac_bits(f);
                self.add_scalar(&signed, RECIP_START)?.sub(&two_xn)?
            }
        };
        let p = self.mul(xn, &y0)?;
        let mut eps = self.add_scalar(&p.neg(), 1.0)?;
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
        let one_plus = self.add_scalar(&eps, 1.0)?;
        // truncating one bit more halves the value; the scale stays f
        Ok(self
            .mul_trunc(&y, &one_plus, f + u32::from(halve))?
            .with_frac_bits(f))
    }

    /// `1 / x` for `2^-10 <= |x| < 2^17`, either sign (see the module docs for the method, the
    /// error bounds and the behaviour outside the range).
    pub fn reciprocal(&mut self, x: &AShare) -> Result<AShare> {
        let s = self.ltz(x)?;
        let sx = self.mul(&s, x)?;
        let ax = x.sub(&sx.mul_scalar_int(2))?;
        self.reciprocal_with(&ax, x, Some(&s), RECIP_MIN_EXP, RECIP_MAX_EXP)
    }

    /// `1 / x` for positive `x` with `2^-10 <= x < 2^17`: [`Party::reciprocal`] without the sign
    /// comparison (10 rounds fewer). Negative inputs give meaningless results.
    pub fn reciprocal_positive(&mut self, x: &AShare) -> Result<AShare> {
        self.reciprocal_with(x, x, None, RECIP_MIN_EXP, RECIP_MAX_EXP)
    }

    /// `1 / x` for `|x|` in `[2^j_min, 2^(j_max + 1))`: `a = |x|`, `sign` the 0/1 share of
    /// `[x < 0]` (None for positive inputs).
    pub(crate) fn reciprocal_with(
        &mut self,
        a: &AShare,
        x: &AShare,
        sign: Option<&AShare>,
        j_min: i32,
        j_max: i32,
    ) -> Result<AShare> {
        let n = self.normalise(a, x, j_min, j_max, 1)?;
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
            let r = self.add_scalar(&gh.neg(), 0.5)?;
            let next = self.mul_many(&[(&g, &r), (&h, &r)])?;
            g = g.add(&next[0])?;
            h = h.add(&next[1])?;
        }
        Ok((g, h))
    }

    /// `1 / sqrt(x)` for `2^-10 <= x < 2^18` (see the module docs).
    pub fn rsqrt(&mut self, x: &AShare) -> Result<AShare> {
        let n = self.normalise(x, x, RSQRT_MIN_EXP, SQRT_MAX_EXP, 2)?;
        let (_, h) = self.sqrt_normalised(&n.xn)?;
        // 2h 2^(-e/2): one bit less is truncated to double h
        let h2 = h.mul_scalar_int(2);
        self.scale_by_exponent(&h2, &n, -1)
    }

    /// `sqrt(x)` for `0 <= x < 2^18` (see the module docs).
    pub fn sqrt(&mut self, x: &AShare) -> Result<AShare> {
        let n = self.normalise(x, x, SQRT_MIN_EXP, SQRT_MAX_EXP, 2)?;
        let (g, _) = self.sqrt_normalised(&n.xn)?;
        self.scale_by_exponent(&g, &n, 1)
    }
}
