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
use crate::share::{AShare, public_slot, row_major};
use ndarray::{ArrayD, IxDyn};
use std::borrow::Cow;

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

    /// [`Party::add_scalar`], consuming `x` (the constant is added in place).
    pub fn add_scalar_owned(&self, x: AShare, c: f64) -> Result<AShare> {
        let w = enc(c, x.frac_bits)?;
        x.into_add_public_ring(self.role(), &scalar(w))
    }

    /// `x * y / 2^d`: the product, truncated by `d` bits in the same protocol (2 rounds, `8`
    /// bytes per element; 1 round when `d = 0`). The result has
    /// `frac(x) + frac(y) - d` fractional bits, which must not be negative. Truncation fails
    /// with probability `|x y| 2^(frac(x) + frac(y)) / 2^64` per element ([`crate::trunc`]).
    pub fn mul_trunc(&mut self, x: &AShare, y: &AShare, d: u32) -> Result<AShare> {
        let total = x.frac_bits + y.frac_bits;
        check_trunc_bits(d, total)?;
        let z = self.local_product("mul_trunc", x, y)?;
        self.finish_trunc(z, d, total)
    }

    /// Several independent [`Party::mul_trunc`]s by the same `d` in one protocol run (its
    /// rounds; bytes add up). All left operands must share one scale, and all right operands
    /// another.
    pub(crate) fn mul_trunc_many(
        &mut self,
        pairs: &[(&AShare, &AShare)],
        d: u32,
    ) -> Result<Vec<AShare>> {
        let (fa, fb) = batch_scales("mul_trunc_many", pairs)?;
        check_trunc_bits(d, fa + fb)?;
        let z = self.local_products("mul_trunc_many", pairs)?;
        let z = to_array(&[z.len()], z)?;
        self.finish_trunc(z, d, fa + fb)?
            .into_split_flat(&left_shapes(pairs))
    }

    /// Reshares the 3-out-of-3 product `z` (with `total` fractional bits), truncated by `d`.
    fn finish_trunc(&mut self, z: ArrayD<u64>, d: u32, total: u32) -> Result<AShare> {
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
        // the products side by side in one buffer, reshared together and split once
        let (fa, fb) = batch_scales("mul_many", pairs)?;
        let z = self.local_products("mul_many", pairs)?;
        let z = to_array(&[z.len()], z)?;
        self.finish_product(z, fa, fb)?
            .into_split_flat(&left_shapes(pairs))
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
        // x^2, x^3, ... at scale f; layer L multiplies x^(2^(L-1)) by all known powers
        let mut higher: Vec<AShare> = Vec::new();
        while 1 + higher.len() < n {
            let known: Vec<&AShare> = std::iter::once(x).chain(&higher).collect();
            let top = known.last().copied().unwrap_or(x);
            let pairs: Vec<(&AShare, &AShare)> = known
                .iter()
                .take(n - known.len())
                .map(|&p| (top, p))
                .collect();
            let next = self.mul_many(&pairs)?;
            higher.extend(next);
        }
        let powers: Vec<&AShare> = std::iter::once(x).chain(&higher).collect();
        // local combination at scale f + cf, then one truncation by cf bits (degree 0: the
        // weight 0 on x keeps the shape)
        let weights: Vec<u64> = match coeffs.get(1..) {
            Some(c) if !c.is_empty() => c.iter().map(|&c| enc(c, cf)).collect::<Result<_>>()?,
            _ => vec![0],
        };
        let terms: Vec<&AShare> = powers.into_iter().take(weights.len()).collect();
        let acc = AShare::affine(self.role(), &terms, &weights, enc(c0, f + cf)?)?;
        self.trunc(&acc.with_frac_bits(f + cf), cf)
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
        let neg_t: Vec<u64> = thresholds
            .iter()
            .map(|&t| enc(-t, x.frac_bits))
            .collect::<Result<_>>()?;
        let d = x.shifted_copies(self.role(), &neg_t)?; // d_j = x - t_j
        self.sign_bit(&d)
    }

    /// The step sum `g(m)`, `m` = number of thresholds passed, from the bits `l` of
    /// [`Party::step_bits`] (`K` thresholds) and a table `g[0..=K]` of ring values: the local
    /// linear form `g[K] - sum_j l_j (g[j+1] - g[j])`. The result has `frac_bits` fractional bits
    /// (the scale the table is encoded at).
    pub fn step_value(&self, l: &AShare, g: &[u64], frac_bits: u32) -> Result<AShare> {
        let mut v = self.step_values(l, &[(g, frac_bits)])?;
        v.pop().ok_or_else(|| CoreError::InvalidShape {
            op: "step_value",
            detail: "internal: no step sum".into(),
        })
    }

    /// Several step sums of the same bits `l` ([`Party::step_value`] for each table `g` at its
    /// scale), in one pass over `l`: each block of the bits is read once for all tables.
    pub fn step_values(&self, l: &AShare, tables: &[(&[u64], u32)]) -> Result<Vec<AShare>> {
        let k = l.shape().first().copied().unwrap_or(0);
        if let Some((g, _)) = tables.iter().find(|(g, _)| g.len() != k + 1) {
            return Err(CoreError::InvalidShape {
                op: "step_value",
                detail: format!("{} table entries for {k} comparison bits", g.len()),
            });
        }
        if l.frac_bits != 0 {
            return Err(CoreError::InvalidShape {
                op: "step_value",
                detail: format!("comparison bits with {} fractional bits", l.frac_bits),
            });
        }
        // per table: weights -(g[j+1] - g[j]) and the constant g[K]
        let forms: Vec<(Vec<u64>, u64)> = tables
            .iter()
            .map(|(g, _)| {
                let neg_diffs = g.windows(2).map(|w| w[0].wrapping_sub(w[1])).collect();
                (neg_diffs, g.last().copied().unwrap_or(0))
            })
            .collect();
        let sums = l.affine_leading(self.role(), &forms)?;
        Ok(sums
            .into_iter()
            .zip(tables)
            .map(|(v, &(_, frac_bits))| v.with_frac_bits(frac_bits))
            .collect())
    }
}

/// `d <= total`: a product with `total` fractional bits can be truncated by `d` bits.
fn check_trunc_bits(d: u32, total: u32) -> Result<()> {
    if d > total {
        return Err(CoreError::InvalidFixedPoint(format!(
            "cannot truncate {d} bits from a product with {total} fractional bits"
        )));
    }
    Ok(())
}

/// The scales of a batch's left and right operands (each side must have one).
fn batch_scales(op: &'static str, pairs: &[(&AShare, &AShare)]) -> Result<(u32, u32)> {
    let Some(&(a0, b0)) = pairs.first() else {
        return Err(CoreError::InvalidShape {
            op,
            detail: "no products".into(),
        });
    };
    for &(a, b) in pairs {
        a0.check_scale(op, a.frac_bits)?;
        b0.check_scale(op, b.frac_bits)?;
    }
    Ok((a0.frac_bits, b0.frac_bits))
}

/// The shapes of a batch's products (those of the left operands).
fn left_shapes<'a>(pairs: &[(&'a AShare, &AShare)]) -> Vec<&'a [usize]> {
    pairs.iter().map(|&(a, _)| a.shape()).collect()
}

/// Words of the accumulator [`affine_words`] keeps in the L1 cache while it adds up the terms.
const AFFINE_BLOCK: usize = 512;

/// `c + sum_j w_j x_j` (wrapping) for `n`-word slices `x_j`, in a pooled buffer: block by
/// block, so that each term is read once and the block's sums stay in the cache.
fn affine_words(n: usize, xs: &[&[u64]], w: &[u64], c: u64) -> Vec<u64> {
    affine_words_many(n, xs, &[(w, c)])
        .pop()
        .unwrap_or_default()
}

/// [`affine_words`] for several forms `(w, c)` over the same terms: each block of a term is
/// read once and added, weighted, to every form's sums.
fn affine_words_many(n: usize, xs: &[&[u64]], forms: &[(&[u64], u64)]) -> Vec<Vec<u64>> {
    let mut accs: Vec<Vec<u64>> = forms.iter().map(|_| mpc_net::pool::take(n)).collect();
    for start in (0..n).step_by(AFFINE_BLOCK) {
        let end = n.min(start + AFFINE_BLOCK);
        for (acc, &(_, c)) in accs.iter_mut().zip(forms) {
            acc.resize(end, c);
        }
        for (j, xj) in xs.iter().enumerate() {
            let src = xj.get(start..end).unwrap_or_default();
            for (acc, &(w, _)) in accs.iter_mut().zip(forms) {
                let (Some(block), Some(&wj)) = (acc.get_mut(start..), w.get(j)) else {
                    continue;
                };
                for (a, &v) in block.iter_mut().zip(src) {
                    *a = a.wrapping_add(v.wrapping_mul(wj));
                }
            }
        }
    }
    accs
}

/// The local linear maps of the step sums and polynomials (component-wise, like the other
/// linear operations of [`crate::share`]).
impl AShare {
    /// The `[K, shape(x)...]` tensor whose entry `j` along the leading axis is `x + c_j`, for
    /// `K` public ring words `c_j` at this share's scale (entering as in
    /// [`AShare::add_public_ring`]); one pass per component.
    pub(crate) fn shifted_copies(&self, role: usize, c: &[u64]) -> Result<AShare> {
        let [in0, in1] = public_slot(role)?;
        let shape = [&[c.len()], self.shape()].concat();
        let copies = |s: &ArrayD<u64>, here: bool| {
            let x = row_major(s);
            let mut out = mpc_net::pool::take(c.len() * x.len());
            for &cj in c {
                match here {
                    true => out.extend(x.iter().map(|&v| v.wrapping_add(cj))),
                    false => out.extend_from_slice(&x),
                }
            }
            to_array(&shape, out)
        };
        Ok(AShare {
            s0: copies(&self.s0, in0)?,
            s1: copies(&self.s1, in1)?,
            frac_bits: self.frac_bits,
        })
    }

    /// `c + sum_j w_j x_j` for shares `x_j` of one shape and scale (the result's), public
    /// integer weights `w_j` (two's complement words) and a public ring constant `c` (entering
    /// as in [`AShare::add_public_ring`]); one pass per term and component.
    pub(crate) fn affine(role: usize, xs: &[&AShare], w: &[u64], c: u64) -> Result<AShare> {
        let (Some(first), true) = (xs.first(), xs.len() == w.len()) else {
            return Err(CoreError::InvalidShape {
                op: "affine",
                detail: format!("{} terms with {} weights", xs.len(), w.len()),
            });
        };
        for x in xs {
            first.check_scale("affine", x.frac_bits)?;
            if x.shape() != first.shape() {
                return Err(CoreError::ShapeMismatch {
                    op: "affine",
                    left: first.shape().to_vec(),
                    right: x.shape().to_vec(),
                });
            }
        }
        let [in0, in1] = public_slot(role)?;
        let comb = |get: fn(&AShare) -> &ArrayD<u64>, here: bool| {
            let words: Vec<Cow<'_, [u64]>> = xs.iter().map(|x| row_major(get(x))).collect();
            let slices: Vec<&[u64]> = words.iter().map(|v| &v[..]).collect();
            let c = if here { c } else { 0 };
            to_array(first.shape(), affine_words(first.len(), &slices, w, c))
        };
        Ok(AShare {
            s0: comb(|x| &x.s0, in0)?,
            s1: comb(|x| &x.s1, in1)?,
            frac_bits: first.frac_bits,
        })
    }

    /// [`AShare::affine`] over the entries `x[j]` of `x`'s leading axis (which is removed), for
    /// several forms `(w, c)` at once: `c + sum_j w_j x[j]`, one weight per entry, each form's
    /// sums from one pass over `x`.
    pub(crate) fn affine_leading(
        &self,
        role: usize,
        forms: &[(Vec<u64>, u64)],
    ) -> Result<Vec<AShare>> {
        let (Some(&k), Some(rest)) = (self.shape().first(), self.shape().get(1..)) else {
            return Err(CoreError::InvalidShape {
                op: "affine_leading",
                detail: "a scalar has no leading axis".into(),
            });
        };
        if let Some((w, _)) = forms.iter().find(|(w, _)| w.len() != k) {
            return Err(CoreError::InvalidShape {
                op: "affine_leading",
                detail: format!("{} weights for {k} entries", w.len()),
            });
        }
        let [in0, in1] = public_slot(role)?;
        let n: usize = rest.iter().product();
        let comb = |s: &ArrayD<u64>, here: bool| {
            let words = row_major(s);
            let rows: Vec<&[u64]> = words.chunks_exact(n.max(1)).collect();
            let forms: Vec<(&[u64], u64)> = forms
                .iter()
                .map(|(w, c)| (&w[..], if here { *c } else { 0 }))
                .collect();
            affine_words_many(n, &rows, &forms)
                .into_iter()
                .map(|v| to_array(rest, v))
                .collect::<Result<Vec<_>>>()
        };
        let (s0, s1) = (comb(&self.s0, in0)?, comb(&self.s1, in1)?);
        Ok(s0
            .into_iter()
            .zip(s1)
            .map(|(s0, s1)| AShare {
                s0,
                s1,
                frac_bits: self.frac_bits,
            })
            .collect())
    }
}
