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
use ndarray::Array2;

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
/// Precision and range: the variance is computed twice, from `x - mean` and from
/// `8 (x - mean)` (6 more bits for small variances); the inverse square root takes the first
/// where the variance is at least 1 and `8 rsqrt(64 var)` below (an exact secure selection), so
/// both stay inside `rsqrt`'s secure range `[2^-10, 2^18)`: columns need a variance in
/// `[2^-16, 2^18)` (a standard deviation from 0.004 to 512). The sums before the `1 / N`
/// products must stay below `2^30` (the bound of a truncated product at 16 fractional bits):
/// `N |mean| < 2^30` and `N var < 2^30` per column. With more fractional bits the range
/// shrinks (at 20 bits the breast-cancer records' area columns, standard deviation 350-570, are
/// already outside; at 24 bits even a column of standard deviation 1).
///
/// **Checked**: [`Standardizer::fit`] verifies its own result. It standardises `x` and computes
/// every column's mean square, which is 1 for a correctly standardised column and 0 for a
/// constant one; a column outside the range above comes out as garbage, so its mean square is
/// neither. If some column's mean square is outside `[0.75, 1.25]` and not below `2^-6`, `fit`
/// fails with [`NnError::Dataset`], naming the likely causes. This opens one bit to every party
/// ("some column failed"), not which column or by how much. Cost: one transform of `x`, one
/// element-wise square (2 rounds), four comparisons per column and one product per column
/// (about 20 rounds in all), and the opening of one element.
#[derive(Debug, Clone, PartialEq)]
pub struct Standardizer<T> {
    /// Column means, `1 x d`.
    pub mean: T,
    /// Column inverse standard deviations, `1 x d`.
    pub inv_std: T,
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
        let inv_n = 1.0 / n as f64;
        let sum = b.sum_axis(x, 0)?;
        let mean = b.scale(&sum, inv_n)?;
        let neg_mean = b.scale(&mean, -1.0)?;
        let d = b.add_broadcast(x, &neg_mean)?;
        let sq = b.mul(&d, &d)?;
        let var = b.sum_axis(&sq, 0)?;
        let var = b.scale(&var, inv_n)?;
        let d8 = b.scale(&d, 8.0)?;
        let sq8 = b.mul(&d8, &d8)?;
        let var64 = b.sum_axis(&sq8, 0)?;
        let var64 = b.scale(&var64, inv_n)?;
        let big = b.rsqrt(&var)?;
        let small = b.rsqrt(&var64)?;
        let small = b.scale(&small, 8.0)?;
        // var >= 1 ? big : small
        let above = b.add_scalar(&var, -1.0)?;
        let use_big = b.ge_zero(&above)?;
        let diff = b.sub(&big, &small)?;
        let pick = b.mul(&use_big, &diff)?;
        let inv_std = b.add(&small, &pick)?;
        let st = Standardizer { mean, inv_std };
        st.check(b, x, inv_n)?;
        Ok(st)
    }

    /// The self-check of [`Standardizer::fit`] (see the type's docs): fails unless every
    /// column of the standardised `x` has a mean square near 1 (or near 0: a constant column).
    fn check<B: Backend<Tensor = T>>(&self, b: &mut B, x: &T, inv_n: f64) -> Result<()> {
        let z = self.transform(b, x)?;
        let sq = b.mul(&z, &z)?;
        let ms = b.sum_axis(&sq, 0)?;
        let ms = b.scale(&ms, inv_n)?;
        // [ms >= 1.25], [0.75 >= ms], [ms >= 2^-6], [-2^-6 >= ms]: one comparison run
        let neg = b.scale(&ms, -1.0)?;
        let tiny = 2f64.powi(-6);
        let parts = [
            b.add_scalar(&ms, -1.25)?,
            b.add_scalar(&neg, 0.75)?,
            b.add_scalar(&ms, -tiny)?,
            b.add_scalar(&neg, -tiny)?,
        ];
        let all = b.concat(&parts, 0)?;
        let bits = b.ge_zero(&all)?;
        let bits = b.lift(&bits)?;
        let d = B::shape_of(&ms).iter().product::<usize>();
        let row = |b: &mut B, i: usize| b.take_rows(&bits, &[i]);
        let (above, below, big, neg_big) = (row(b, 0)?, row(b, 1)?, row(b, 2)?, row(b, 3)?);
        // far from 1 (one of the two bits) and far from 0 (one of the other two)
        let far_one = b.add(&above, &below)?;
        let far_zero = b.add(&big, &neg_big)?;
        let bad = b.mul(&far_one, &far_zero)?;
        let count = b.sum_axis(&bad, 1)?;
        let any = b.add_scalar(&count, -0.5)?;
        let bit = b.ge_zero(&any)?;
        let bit = b.lift(&bit)?;
        if b.reveal(&bit)?.iter().any(|&v| v > 0.5) {
            return Err(NnError::Dataset(format!(
                "standardisation failed: some of the {d} feature columns came out wrong (its \
                 standardised values do not have mean square 1). The secure standardiser needs \
                 every column's standard deviation between about 0.004 and 512 and its values \
                 within a few thousand of the mean at 16 fractional bits, and less with more \
                 fractional bits: rescale the large columns (e.g. thousands instead of units), \
                 remove outliers, or use fewer fractional bits"
            )));
        }
        Ok(())
    }

    /// `(x - mean) * inv_std`, column by column.
    pub fn transform<B: Backend<Tensor = T>>(&self, b: &mut B, x: &T) -> Result<T> {
        let neg = b.scale(&self.mean, -1.0)?;
        let d = b.add_broadcast(x, &neg)?;
        let shape = B::shape_of(x);
        let s = b.layout(&self.inv_std, &|a| broadcast_rows(a, &shape), &|a| {
            broadcast_rows(a, &shape)
        })?;
        b.mul(&d, &s)
    }
}

fn broadcast_rows<E: Clone>(a: &ndarray::ArrayD<E>, shape: &[usize]) -> Result<ndarray::ArrayD<E>> {
    a.broadcast(ndarray::IxDyn(shape))
        .map(|v| v.to_owned())
        .ok_or_else(|| NnError::shape("Standardizer", format!("{:?} to {shape:?}", a.shape())))
}
