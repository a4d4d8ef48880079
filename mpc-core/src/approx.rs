//! Building blocks of the fixed-point function approximations ([`crate::recip`],
//! [`crate::exp_log`], [`crate::activation`]): products with a chosen truncation, batched
//! products, polynomial evaluation in logarithmic depth, and *step sums* (piecewise-constant
//! functions of a value, read off a batch of comparisons with public thresholds).
//!
//! | protocol | rounds | bytes sent per party per element |
//! |---|---|---|
//! | [`Party::mul_trunc`] (`d > 0`) | 2 | 8 |
//! | [`Party::poly_eval`], degree `n >= 2` | at most `2 ceil(log2 n)` (measured: 2, 4, 5 for degree 2, 4, 6; the final truncation and parts of the layers overlap) | `8 (n - 1)`, party 1: `+ 8` |
//! | [`Party::step_bits`] over `K` thresholds | those of one `ltz` on `K` elements | `K` times an `ltz` |
//! | [`Party::step_value`] | 0 | 0 |
//!
//! ## Polynomials
//! `poly_eval` computes the powers `x^2, x^3, ...` in layers: layer `L` multiplies `x^(2^(L-1))`
//! by all known powers in one batched multiplication (truncation fused), so degree `n` needs
//! `ceil(log2 n)` layers. Every party then combines the powers with the public coefficients
//! (encoded with `f + 4` fractional bits) locally, adds the constant, and one stand-alone
//! truncation by `f + 4` bits finishes. Each coefficient carries a rounding error of at most
//! `2^-(f+5)`, and the combination one truncation error (1 ulp) on top of the powers' errors.
//!
//! Truncation failure ([`crate::trunc`]): the powers' truncations act on `|x^k| 2^(2f)` and the
//! final one on `|p(x)| 2^(2f + 4)`: probability `2^-28` per element for `|p(x)| <= 1` at
//! `f = 16`. Callers keep `x` normalised (`|x| <= 1`) so all of these stay small.
//!
//! ## Step sums
//! For ascending public thresholds `t_0 < ... < t_(K-1)` the comparison bits
//! `c_j = [x >= t_j]` are monotone, so any function `g(m)` of the count `m = sum_j c_j` (the
//! number of thresholds passed) is the *linear* form `g(K) - sum_j (1 - c_j) (g(j+1) - g(j))`
//! of the bits. Range normalisation (which power of two brings `x` into `[1/2, 1)`), the
//! integer part of `x / ln 2`, and their powers of two are all such functions, so a batched
//! comparison of `x` against the thresholds, followed by local linear combinations, gives them.
//! The callers use two levels (a coarse group of 4 thresholds, then the position inside it) to
//! need fewer comparisons; see [`crate::recip`] and [`crate::exp_log`].
//!
//! Security: only products, truncations and comparisons of the crate, which reveal nothing;
//! all public constants enter component 0 ([`AShare::add_public_ring`]).

use crate::error::{CoreError, Result};
use crate::party::{Party, to_array};
use crate::share::AShare;
use ndarray::{ArrayD, IxDyn};

/// Extra fractional bits of polynomial coefficients over the session's `f`.
pub const COEF_EXTRA_BITS: u32 = 4;

/// Encodes `v` with `bits` fractional bits as a two's complement ring word (rounded).
pub(crate) fn enc(v: f64, bits: u32) -> Result<u64> {
    crate::fixed::encode_with(v, bits)
}

/// A 0-dimensional public ring tensor (broadcasts to any shape).
pub(crate) fn scalar(w: u64) -> ArrayD<u64> {
    ArrayD::from_elem(IxDyn(&[]), w)
}

impl Party {
    /// `x + c` for a public real `c`, encoded at `x`'s scale.
    pub fn add_scalar(&self, x: &AShare, c: f64) -> Result<AShare> {
        x.add_public_ring(self.role(), &scalar(enc(c, x.frac_bits)?))
    }

    /// `x * y / 2^d`: the product, truncated by `d` bits in the same protocol (2 rounds, `8`
    /// bytes per element; 1 round when `d = 0`). The result has
    /// `frac(x) + frac(y) - d` fractional bits, which must not be negative. Truncation fails
    /// with probability `|x y| 2^(frac(x) + frac(y)) / 2^64` per element ([`crate::trunc`]).
    pub fn mul_trunc(&mut self, x: &AShare, y: &AShare, d: u32) -> Result<AShare> {
        let total = x.frac_bits + y.frac_bits;
        if d > total {
            return Err(CoreError::InvalidFixedPoint(format!(
                "cannot truncate {d} bits from a product with {total} fractional bits"
            )));
        }
        let z = self.local_product("mul_trunc", x, y)?;
        if d == 0 {
            self.reshare(z, total)
        } else {
            self.reshare_trunc(z, d, total - d)
        }
    }

    /// Several independent element-wise products in one protocol run (the rounds of one
    /// [`Party::mul`]; bytes add up). All left operands must share one scale, and all right
    /// operands another.
    pub fn mul_many(&mut self, pairs: &[(&AShare, &AShare)]) -> Result<Vec<AShare>> {
        let (Some(first), true) = (pairs.first(), pairs.iter().all(|(a, b)| a.len() == b.len()))
        else {
            return Err(CoreError::InvalidShape {
                op: "mul_many",
                detail: "needs at least one pair of equal-size operands".into(),
            });
        };
        if pairs.len() == 1 {
            return Ok(vec![self.mul(first.0, first.1)?]);
        }
        let flat = |a: &AShare| a.reshape(&[a.len()]);
        let left: Vec<AShare> = pairs.iter().map(|(a, _)| flat(a)).collect::<Result<_>>()?;
        let right: Vec<AShare> = pairs.iter().map(|(_, b)| flat(b)).collect::<Result<_>>()?;
        let l = AShare::concat(0, &left.iter().collect::<Vec<_>>())?;
        let r = AShare::concat(0, &right.iter().collect::<Vec<_>>())?;
        let prod = self.mul(&l, &r)?;
        let mut out = Vec::with_capacity(pairs.len());
        let mut at = 0;
        for (a, _) in pairs {
            out.push(prod.slice_axis(0, at, at + a.len())?.reshape(a.shape())?);
            at += a.len();
        }
        Ok(out)
    }

    /// `p(x) = c_0 + c_1 x + ... + c_n x^n` for public real coefficients (`coeffs[k] = c_k`),
    /// with `x` at the session's scale `f`. Degree `n >= 2` costs at most `2 ceil(log2 n)` rounds
    /// and `8 (n - 1)` bytes per element per party, plus `8` for party 1 (see the module docs);
    /// degree 0 and 1 cost only the final truncation (1 round, party 1 sends 8 bytes).
    ///
    /// Error: each coefficient is rounded to `f + 4` fractional bits; each power carries the
    /// truncation errors of its factors (at most one ulp per multiplication, scaled by the other
    /// factor), and the result one more ulp. Truncation failure: the powers' truncations fail with
    /// probability `|x^k| 2^(2f - 64)` each and the final one with `|p(x)| 2^(2f + 4 - 64)`
    /// (`2^-28` for `|p(x)| <= 1` at `f = 16`).
    pub fn poly_eval(&mut self, x: &AShare, coeffs: &[f64]) -> Result<AShare> {
        let f = self.fixed.frac_bits();
        if x.frac_bits != f {
            return Err(CoreError::ScaleMismatch {
                op: "poly_eval",
                left: x.frac_bits,
                right: f,
            });
        }
        let Some(&c0) = coeffs.first() else {
            return Err(CoreError::InvalidShape {
                op: "poly_eval",
                detail: "no coefficients".into(),
            });
        };
        let n = coeffs.len() - 1;
        let cf = f + COEF_EXTRA_BITS;
        // powers[k - 1] = x^k at scale f; layer L multiplies x^(2^(L-1)) by all known powers
        let mut powers = vec![x.clone()];
        while powers.len() < n {
            let known = powers.len();
            let top = powers[known - 1].clone();
            let pairs: Vec<(&AShare, &AShare)> =
                powers.iter().take(n - known).map(|p| (&top, p)).collect();
            let next = self.mul_many(&pairs)?;
            powers.extend(next);
        }
        // local combination at scale f + cf, then one truncation by cf bits
        let mut acc = x.mul_scalar_int(0).with_frac_bits(f + cf);
        for (k, pk) in powers.iter().enumerate().take(n) {
            let term = pk.mul_scalar_int(enc(coeffs[k + 1], cf)? as i64);
            acc = acc.add(&term.with_frac_bits(f + cf))?;
        }
        let acc = acc.add_public_ring(self.role(), &scalar(enc(c0, f + cf)?))?;
        self.trunc(&acc, cf)
    }

    /// `[x < 0]` as a 0/1 integer share ([`Party::ltz`]), also for an empty tensor.
    pub(crate) fn sign_bit(&mut self, x: &AShare) -> Result<AShare> {
        if x.is_empty() {
            return Ok(x.clone().with_frac_bits(0));
        }
        self.ltz(x)
    }

    /// One batched comparison of `x` with ascending public thresholds `t_0 < ... < t_(K-1)`:
    /// returns `l` of shape `[K, shape(x)...]` with `l_j = [x < t_j]` as 0/1 integer shares
    /// (so `c_j = 1 - l_j = [x >= t_j]`). Thresholds are encoded at `x`'s scale.
    pub fn step_bits(&mut self, x: &AShare, thresholds: &[f64]) -> Result<AShare> {
        let mut shape = vec![thresholds.len()];
        shape.extend_from_slice(x.shape());
        let mut tshape = vec![thresholds.len()];
        tshape.extend(std::iter::repeat_n(1, x.shape().len()));
        let neg_t: Vec<u64> = thresholds
            .iter()
            .map(|&t| enc(-t, x.frac_bits))
            .collect::<Result<_>>()?;
        let d = x
            .reshape(&[&[1], x.shape()].concat())?
            .broadcast_to(&shape)?
            .add_public_ring(self.role(), &to_array(&tshape, neg_t)?)?;
        self.sign_bit(&d)
    }

    /// The step sum `g(m)`, `m` = number of thresholds passed, from the bits `l` of
    /// [`Party::step_bits`] (`K` thresholds) and a table `g[0..=K]` of ring values: the local
    /// linear form `g[K] - sum_j l_j (g[j+1] - g[j])`. The result has `frac_bits` fractional bits
    /// (the scale the table is encoded at).
    pub fn step_value(&self, l: &AShare, g: &[u64], frac_bits: u32) -> Result<AShare> {
        let k = l.shape().first().copied().unwrap_or(0);
        if g.len() != k + 1 || l.frac_bits != 0 {
            return Err(CoreError::InvalidShape {
                op: "step_value",
                detail: format!(
                    "{} table entries for {k} comparison bits with {} fractional bits",
                    g.len(),
                    l.frac_bits
                ),
            });
        }
        let mut wshape = vec![k];
        wshape.extend(std::iter::repeat_n(1, l.shape().len() - 1));
        let diffs: Vec<u64> = g.windows(2).map(|w| w[1].wrapping_sub(w[0])).collect();
        let weighted = l.mul_public_int(&to_array(&wshape, diffs)?)?.sum_axis(0)?;
        let top = g.last().copied().unwrap_or(0);
        Ok(weighted
            .neg()
            .add_public_ring(self.role(), &scalar(top))?
            .with_frac_bits(frac_bits))
    }
}
