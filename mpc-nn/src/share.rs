//! From the data owners' plaintext to one secret-shared training matrix, and secure
//! standardisation.
//!
//! - **Horizontal** partition: each owner holds some rows (records) with all columns;
//!   [`share_rows`] shares every owner's block (the owner sends one word per value to each other
//!   party) and stacks them.
//! - **Vertical** partition: each owner holds some columns of the same aligned records;
//!   [`share_columns`] shares the blocks and joins them side by side.
//!
//! Only the blocks' shapes are public. An owner that is not one of the three servers hands its
//! block to one server over its own channel, which then inputs it as owner.
//!
//! [`Standardizer`] computes the mean and standard deviation of every column on the pooled
//! secret data and applies `(x - mean) / std` without revealing either. It runs on either engine
//! (the plaintext twin does exactly the same arithmetic).

use crate::backend::Backend;
use crate::error::{NnError, Result};
use mpc_core::{AShare, Party};
use ndarray::{Array2, ArrayD};

/// One owner's block of a partitioned matrix.
#[derive(Debug, Clone, Copy)]
pub struct Block<'a> {
    /// The party that inputs the block.
    pub owner: usize,
    /// Rows and columns of the block (public).
    pub shape: (usize, usize),
    /// The block itself at the owner, `None` elsewhere.
    pub data: Option<&'a Array2<f64>>,
}

fn share_blocks(p: &mut Party, blocks: &[Block<'_>], axis: usize) -> Result<AShare> {
    if blocks.is_empty() {
        return Err(NnError::Dataset("no blocks to share".into()));
    }
    let mut parts = Vec::with_capacity(blocks.len());
    for blk in blocks {
        let shape = [blk.shape.0, blk.shape.1];
        let data = match blk.data {
            Some(d) if d.shape() != shape => {
                return Err(NnError::shape(
                    "share",
                    format!(
                        "block of party {} is {:?}, announced {shape:?}",
                        blk.owner,
                        d.shape()
                    ),
                ));
            }
            Some(d) if p.role() == blk.owner => Some(d.clone().into_dyn()),
            _ => None,
        };
        parts.push(p.input_f64(blk.owner, data.as_ref(), &shape)?);
    }
    Ok(AShare::concat(axis, &parts.iter().collect::<Vec<_>>())?)
}

/// Shares a horizontally partitioned matrix: the blocks' rows, stacked in order.
pub fn share_rows(p: &mut Party, blocks: &[Block<'_>]) -> Result<AShare> {
    if blocks.windows(2).any(|w| w[0].shape.1 != w[1].shape.1) {
        return Err(NnError::shape(
            "share_rows",
            "every block must have the same columns",
        ));
    }
    share_blocks(p, blocks, 0)
}

/// Shares a vertically partitioned matrix: the blocks' columns, side by side.
pub fn share_columns(p: &mut Party, blocks: &[Block<'_>]) -> Result<AShare> {
    if blocks.windows(2).any(|w| w[0].shape.0 != w[1].shape.0) {
        return Err(NnError::shape(
            "share_columns",
            "every block must have the same rows",
        ));
    }
    share_blocks(p, blocks, 1)
}

/// Column means and inverse standard deviations, kept secret (on shares) or plain (twin).
///
/// Method, scale-free: with `d = x - mean`, the mean absolute deviation `a = mean |d|`
/// (`|d| = 2 relu(d) - d`) and `r = 1 / a`, the normalised deviations `u = d r` are of order 1
/// whatever the column's scale, so `v = mean(u^2)` (in `[1, N]`, about 1.57 for normal data)
/// neither overflows nor loses precision, and `1 / std = r w` with `w = rsqrt(v)`. The error
/// of `r` cancels: `rsqrt(mean((d r)^2)) r = 1 / std` for any `r > 0`, and `1 / std` keeps its
/// relative precision for small spreads (`1 / (sqrt(v) a)` would not: `std` itself is then a
/// few ulp). `r` and `w` are kept as two factors ([`Standardizer::prescale`],
/// [`Standardizer::rescale`]) and `transform` applies them one after the other,
/// `z = (d r) w`, two products of values of order 1: their product `1 / std` at `f` bits would
/// lose the relative precision of large spreads (a spread of 569 at 12 bits has `1 / std` at
/// 7 ulp, 14% per ulp: held that way, the self-check below failed now and then on the
/// breast-cancer records' largest column).
///
/// The mean is found in two passes (the mean of `x`, then the mean of the deviations from it):
/// the constant `1 / N` is exact only to `2^-(f+1)` relative, so a one-pass mean is off by up
/// to `|mean| 2^-(f+1)` (0.08 for a mean of `1e4` at 16 bits), which the second pass finds to
/// about an ulp.
///
/// Range, at `f` fractional bits (products are exact while `|x y| < 2^(62 - 2f)`):
/// - standard deviations from a few ulp `2^-f` (1% from about 10 ulp: the mean is found to
///   about an ulp; above 20 bits from `2^(2f - 62)`, 6.1e-5 at 24 bits, where `1 / std` would
///   leave the products' range when [`Standardizer::reveal_to`] opens it: the self-check
///   refuses a column whose mean absolute deviation is below that) to about `2^f / 2`, where
///   `r = 1 / a` is still one ulp or more, with a mean absolute deviation below `2^18` (the
///   reciprocal's range). Inside the range `1 / std = r w` comes out to a few ulp of `w`,
///   about `2^-f` relative, whatever the spread. Beyond a mean absolute deviation of `2^f`,
///   `r` rounds to 0 (the column comes out as 0: the self-check refuses it) or up to one ulp,
///   at random; its error still cancels, but `w` is then a few ulp (6.5 at 8 bits for a
///   spread of `1e4`), so `1 / std` is only as good as the self-check's tolerance (mean
///   squares within 25% of 1: -13% to +12%);
/// - `|mean| < 2^(61 - 2f)` and the same for the mean absolute deviation (`2^29` at 16 bits,
///   `2^21` at 20, 8192 at 24: the means are `2^t / N` products of the column sums divided by
///   `2^t <= N`, see `column_means`);
/// - no value more than `2^(31 - f)` mean absolute deviations from the mean (32768 at 16 bits,
///   128 at 24: only extreme outliers).
///
/// A constant column is standardised to 0.
///
/// **Checked**: [`Standardizer::fit`] verifies its own result. It standardises `x` and computes
/// every column's mean square, which is 1 for a correctly standardised column and 0 for a
/// constant one; a column outside the range above comes out as garbage, so its mean square is
/// neither, or as 0 (a mean absolute deviation above `2^f`, whose `r = 1 / a` can round to 0).
/// If some column's mean square is outside `[0.75, 1.25]` and not below `2^-6`, or below `2^-6`
/// with a mean absolute deviation of at least 4 ulp (not a constant column), or if a column
/// that is not constant has a mean absolute deviation below `2^(2f - 62)` (above 20 bits),
/// `fit` fails with [`NnError::Dataset`], naming the likely causes. This opens one bit to
/// every party ("some column failed"), not which column or by how much. Cost: the product
/// `u w` (the fitted rows standardised), one element-wise square (2 rounds), six comparisons
/// per column and one product per column (about 20 rounds in all), and the opening of one
/// element.
///
/// A standardised value costs two products (`transform`: `(d r) w`), one more than with
/// `1 / std` as one value: the price of its precision.
///
/// ```
/// use mpc_nn::{Plain, share::Standardizer};
/// use ndarray::array;
///
/// let x = array![[1.0, 200.0], [2.0, 400.0], [3.0, 900.0], [4.0, 500.0]].into_dyn();
/// let mut plain = Plain::new(); // the twin: the same arithmetic in f64
/// let st = Standardizer::fit(&mut plain, &x)?;
/// let want = st.transform(&mut plain, &x)?;
/// let got = mpc_nn::run_3pc(|p| {
///     mpc_nn::secure_session(p);
///     let sx = p.input_f64(0, (p.role() == 0).then_some(&x), &[4, 2])?; // party 0's rows
///     let st = Standardizer::fit(p, &sx)?; // mean and 1 / std stay secret
///     let z = st.transform(p, &sx)?;
///     Ok(p.reveal_f64(&z)?)
/// })?;
/// assert!(got[0].iter().zip(&want).all(|(s, q)| (s - q).abs() < 1e-3));
/// # Ok::<(), mpc_nn::NnError>(())
/// ```
///
/// Cost of `fit` with its check, 60000 x 100 values (one 2-core machine, three parties in one
/// process, exact truncation): 617 MB sent per party, 134 rounds, 4.0 to 5.1 s (9 to 10 s for
/// the first fit in a process, which maps its buffers); with `1 / std` as one value it was 617
/// MB, 136 rounds, 3.6 s in the same session (Intel Xeon, 2026-12-07). `transform` of the
/// same rows: 192 MB and 4 rounds (96 MB and 2 rounds with one product). The first method (no
/// `|d|` comparisons, two `rsqrt`) sent 480 MB in 135 rounds.
#[derive(Debug, Clone, PartialEq)]
pub struct Standardizer<T> {
    /// Column means, `1 x d`.
    pub mean: T,
    /// A positive factor of each column's `1 / std`, `1 x d`: after a fit, the mean absolute
    /// deviation's reciprocal `r` as the backend holds it (its rounding cancels against
    /// [`Standardizer::rescale`]); entered from a model file, a power of two
    /// ([`factor_inv_std`]). `(x - mean) prescale` is of order 1 whatever the column's scale.
    pub prescale: T,
    /// The other factor, `1 x d`, of order 1: `1 / std = prescale rescale`.
    pub rescale: T,
}

impl<T: Clone> Standardizer<T> {
    /// Fits the column statistics of `x` (`N x d`).
    pub fn fit<B: Backend<Tensor = T>>(b: &mut B, x: &T) -> Result<Standardizer<T>> {
        let shape = B::shape_of(x);
        let (&[n, _], true) = (shape.as_slice(), shape.first().is_some_and(|&n| n > 0)) else {
            return Err(NnError::shape(
                "Standardizer",
                format!("expected N x d with N > 0, got {shape:?}"),
            ));
        };
        // two passes: the first mean's error (up to |mean| 2^-(f+1), from the constant 1 / N)
        // is the mean of the first deviations, which the second pass finds to an ulp
        let m1 = column_means(b, x, n)?;
        let d1 = deviations(b, x, &m1)?;
        let m2 = column_means(b, &d1, n)?;
        let d = deviations(b, &d1, &m2)?;
        let mean = b.add(&m1, &m2)?;
        // a = mean |d|, |d| = 2 relu(d) - d
        let (pos, _) = b.relu(&d, false)?;
        let abs = b.add(&pos, &pos)?;
        let abs = b.sub(&abs, &d)?;
        let a = column_means(b, &abs, n)?;
        // r = 1 / (a + eps), u = d r, v = mean(u^2), w = rsqrt(v + eps), 1 / std = r w. One
        // unit eps of the resolution changes r (whose value cancels) and w by at most eps / 2
        // relative (v >= 1 unless the column is constant), and keeps a constant column finite
        // on the float twin: r and w stay finite, so d = 0 gives z = 0, not 0 x inf = NaN
        let eps = b.resolution().max(FLOAT_ULP);
        let a_eps = b.add_scalar(&a, eps)?;
        let r = b.reciprocal(&a_eps)?;
        let r_rows = rows_of(b, &r, &shape)?;
        let u = b.mul(&d, &r_rows)?;
        let sq = b.mul(&u, &u)?;
        let v = column_means(b, &sq, n)?;
        // 1 / std = r w, kept as the two factors: their product at the backend's resolution
        // would lose the relative precision of large spreads (1 / 569 is 7 ulp at 12 bits)
        let v = b.add_scalar(&v, eps)?;
        let w = b.rsqrt(&v)?;
        let w_rows = rows_of(b, &w, &shape)?;
        let z = b.mul(&u, &w_rows)?;
        let st = Standardizer {
            mean,
            prescale: r,
            rescale: w,
        };
        st.check(b, &z, n, &a)?;
        Ok(st)
    }

    /// The self-check of [`Standardizer::fit`] (see the type's docs): fails unless every
    /// column of the standardised `z` (what `transform` gives for the fitted rows) has a mean
    /// square near 1 (or near 0: a constant column).
    fn check<B: Backend<Tensor = T>>(&self, b: &mut B, z: &T, n: usize, a: &T) -> Result<()> {
        let sq = b.mul(z, z)?;
        let ms = column_means(b, &sq, n)?;
        // [ms >= 1.25], [0.75 >= ms], [ms >= 2^-6], [-2^-6 >= ms], [a >= 4 ulp],
        // [a >= max(4 ulp, 2^(2f + shift - 62))]: one comparison run
        let neg = b.scale(&ms, -1.0)?;
        let tiny = 2f64.powi(-6);
        let constant = CONSTANT_SPREAD_ULP * b.resolution().max(FLOAT_ULP);
        let parts = [
            b.add_scalar(&ms, -1.25)?,
            b.add_scalar(&neg, 0.75)?,
            b.add_scalar(&ms, -tiny)?,
            b.add_scalar(&neg, -tiny)?,
            b.add_scalar(a, -constant)?,
            b.add_scalar(a, -constant.max(Self::min_spread(b.resolution())))?,
        ];
        let all = b.concat(&parts, 0)?;
        let bits = b.ge_zero(&all)?;
        let bits = b.lift(&bits)?;
        let d = B::shape_of(&ms).iter().product::<usize>();
        let row = |b: &mut B, i: usize| b.take_rows(&bits, &[i]);
        let (above, below, big, neg_big) = (row(b, 0)?, row(b, 1)?, row(b, 2)?, row(b, 3)?);
        let (spread, revealable) = (row(b, 4)?, row(b, 5)?);
        // bad: far from 1 (one of the first two bits) and not an accepted 0, i.e. not near 0
        // (none of the next two) with a spread below 4 ulp. Near 0 implies far from 1, so
        // bad = far_one - (1 - far_zero)(1 - spread)
        //     = far_one + far_zero + spread - far_zero spread - 1
        let far_one = b.add(&above, &below)?;
        let far_zero = b.add(&big, &neg_big)?;
        let both = b.mul(&far_zero, &spread)?;
        let bad = b.add(&far_one, &far_zero)?;
        let bad = b.add(&bad, &spread)?;
        let bad = b.sub(&bad, &both)?;
        let bad = b.add_scalar(&bad, -1.0)?;
        // also bad: not constant, but 1 / std too large to open (`reveal_to`); the second
        // threshold is the larger, so this is spread - revealable, 0 or 1
        let unrevealable = b.sub(&spread, &revealable)?;
        let bad = b.add(&bad, &unrevealable)?;
        let count = b.sum_axis(&bad, 1)?;
        let any = b.add_scalar(&count, -0.5)?;
        let bit = b.ge_zero(&any)?;
        let bit = b.lift(&bit)?;
        if b.reveal(&bit)?.iter().any(|&v| v > 0.5) {
            return Err(NnError::Dataset(format!(
                "standardisation failed: some of the {d} feature columns came out wrong \
                 (standardised values without mean square 1, or all 0 for a column that is not \
                 constant). At f fractional bits the secure standardiser needs every column's \
                 standard deviation between a few units of 2^-f (a unit is 0.004 at 8 bits; \
                 above 20 bits from 2^(2f - 62), 6.1e-5 at 24, where 1/std leaves the \
                 products' range) and about 2^f / 2 (32768 at 16 bits: 1 / (mean absolute \
                 deviation) is held at f bits), its mean and mean absolute deviation below \
                 2^(61 - 2f) (5e8 at 16 bits, 2e6 at 20, 8192 at 24) and no value more than \
                 2^(31 - f) mean absolute \
                 deviations from the mean: rescale or centre the large columns (e.g. thousands \
                 instead of units), remove outliers, or change the number of fractional bits"
            )));
        }
        Ok(())
    }

    /// `(x - mean) / std`, column by column: `((x - mean) prescale) rescale`, two products
    /// of values of order 1.
    pub fn transform<B: Backend<Tensor = T>>(&self, b: &mut B, x: &T) -> Result<T> {
        let shape = B::shape_of(x);
        let d = deviations(b, x, &self.mean)?;
        let r = rows_of(b, &self.prescale, &shape)?;
        let u = b.mul(&d, &r)?;
        let w = rows_of(b, &self.rescale, &shape)?;
        b.mul(&u, &w)
    }

    /// `1 / std` as a tensor at the backend's resolution (one product: at `f` fractional bits
    /// its relative precision is that of one ulp of `1 / std`, e.g. 14% for a spread of 569 at
    /// 12 bits; [`Standardizer::reveal_to`] keeps all of it).
    pub fn inv_std<B: Backend<Tensor = T>>(&self, b: &mut B) -> Result<T> {
        b.mul(&self.prescale, &self.rescale)
    }

    /// Reveals the means and `1 / std` to party `to` as floats (`None` elsewhere), e.g. for the
    /// owner of a trained model. Only the product `1 / std` is opened, not its two factors
    /// (which would also tell the mean absolute deviations), and with
    /// [`Standardizer::reveal_shift`] more bits than the backend's: `(prescale 2^shift)
    /// rescale` is opened and divided by `2^shift` in `f64`, so it keeps its relative precision
    /// for large spreads (1 / 569 at 12 bits: 0.05% instead of 14%). Two openings, one product.
    #[allow(clippy::type_complexity)]
    pub fn reveal_to<B: Backend<Tensor = T>>(
        &self,
        b: &mut B,
        to: usize,
    ) -> Result<Option<(ArrayD<f64>, ArrayD<f64>)>> {
        let shift = Self::reveal_shift(b.resolution());
        let c = 2f64.powi(shift as i32);
        let r = b.scale(&self.prescale, c)?;
        let inv = b.mul(&r, &self.rescale)?;
        let mean = b.reveal_to(to, &self.mean)?;
        let inv = b.reveal_to(to, &inv)?;
        Ok(mean.zip(inv).map(|(m, i)| (m, i / c)))
    }

    /// The extra bits of `1 / std` in [`Standardizer::reveal_to`] at resolution `2^-f` (0 for
    /// the exact float twin): `62 - 3f` clipped to `[0, 8]`, i.e. 8 up to 18 bits, 2 at 20 and
    /// 0 from 21 bits, so that `1 / std 2^shift` stays inside the products' range `2^(62 - 2f)`
    /// for every standard deviation that `fit` accepts (from one ulp up to 20 bits, from
    /// `2^(2f - 62)` above).
    pub fn reveal_shift(resolution: f64) -> u32 {
        match frac_bits_of(resolution) {
            Some(f) => (62 - 3 * f).clamp(0, 8) as u32,
            None => 0,
        }
    }

    /// The smallest mean absolute deviation `fit` accepts for a column that is not constant:
    /// `2^(2f + shift - 62)` (shift: [`Standardizer::reveal_shift`]), below one ulp up to 20
    /// bits, 6.1e-5 at 24 bits, where `1 / std` would leave the products' range when opened.
    fn min_spread(resolution: f64) -> f64 {
        match frac_bits_of(resolution) {
            Some(f) => 2f64.powi((2 * f + Self::reveal_shift(resolution) as i64 - 62) as i32),
            None => 0.0,
        }
    }
}

/// The fractional bits of a fixed-point resolution `2^-f`, `None` for the exact float twin.
fn frac_bits_of(resolution: f64) -> Option<i64> {
    (resolution > 0.0 && resolution < 1.0).then(|| (-resolution.log2()).round() as i64)
}

/// Splits plaintext inverse standard deviations (e.g. a model file's) into the two factors of a
/// [`Standardizer`] at resolution `2^-f` (`resolution` 0: exact floats): `prescale` the power of
/// two `2^e >= 1 / std` (with `e` from `-f` to `f`, so it is exact), `rescale = (1 / std) / 2^e`
/// (in `(1/2, 1]` unless `e` was clipped), so each keeps `f` bits of relative precision where
/// `1 / std` itself at `f` bits would not. A zero (a constant column) gives two zeros. Fails on
/// a negative or non-finite value.
pub fn factor_inv_std(
    inv_std: &ArrayD<f64>,
    resolution: f64,
) -> Result<(ArrayD<f64>, ArrayD<f64>)> {
    if let Some(bad) = inv_std.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
        return Err(NnError::Dataset(format!(
            "1 / std must be finite and not negative, found {bad}"
        )));
    }
    let f = frac_bits_of(resolution).map_or(1000, |f| f as i32);
    let prescale = inv_std.mapv(|v| {
        if v == 0.0 {
            0.0
        } else {
            2f64.powi((v.log2().ceil() as i32).clamp(-f, f))
        }
    });
    let rescale = ndarray::Zip::from(inv_std)
        .and(&prescale)
        .map_collect(|&v, &p| if p == 0.0 { 0.0 } else { v / p });
    Ok((prescale, rescale))
}

/// A column whose standardised values are all about 0 passes the self-check as constant only
/// if its mean absolute deviation is below this many ulp (otherwise its `1 / std` was lost: a
/// mean absolute deviation above `2^f` has `r = 1 / a` below one ulp, which can round to 0).
const CONSTANT_SPREAD_ULP: f64 = 4.0;
/// The ulp assumed for the float twin (its constant columns' deviations are rounding errors).
const FLOAT_ULP: f64 = 1.0 / (1u64 << 40) as f64;

/// The `1 x d` means of the `n` rows of `x`: `sum / N = (sum / 2^t) (2^t / N)` with
/// `2^t <= N < 2^(t + 1)`, so the product by the public constant is bounded by about the mean,
/// not by the sum (`N` times more); the result's resolution stays `2^-f`.
fn column_means<B: Backend>(b: &mut B, x: &B::Tensor, n: usize) -> Result<B::Tensor> {
    let t = n.max(1).ilog2();
    let sum = b.sum_axis(x, 0)?;
    let sum = b.div_pow2(&sum, t)?;
    b.scale(&sum, 2f64.powi(t as i32) / n as f64)
}

/// `x - m` for the `1 x d` row `m`, row by row (local: no product).
fn deviations<B: Backend>(b: &mut B, x: &B::Tensor, m: &B::Tensor) -> Result<B::Tensor> {
    let m = rows_of(b, m, &B::shape_of(x))?;
    b.sub(x, &m)
}

/// A `1 x d` row repeated to `shape` (`N x d`).
fn rows_of<B: Backend>(b: &mut B, row: &B::Tensor, shape: &[usize]) -> Result<B::Tensor> {
    b.layout(row, &|a| broadcast_rows(a, shape), &|a| {
        broadcast_rows(a, shape)
    })
}

fn broadcast_rows<E: Clone>(a: &ndarray::ArrayD<E>, shape: &[usize]) -> Result<ndarray::ArrayD<E>> {
    a.broadcast(ndarray::IxDyn(shape))
        .map(|v| v.to_owned())
        .ok_or_else(|| NnError::shape("Standardizer", format!("{:?} to {shape:?}", a.shape())))
}
