//! Losses. Each gives the gradient of the loss **summed over the batch** with respect to the
//! model's output (the `1 / batch` factor is folded into the optimizer's learning-rate
//! truncation), and, only when asked, the mean loss (costly on shares: it needs `ln`).
//!
//! | loss | gradient | cost of the gradient on shares |
//! |---|---|---|
//! | [`BceWithLogits`] | `sigmoid(z) - y` | one sigmoid |
//! | [`SoftmaxCrossEntropy`] | `softmax(z) - y` (max-shifted) | one softmax |
//! | [`Mse`] | `2 (p - y)` | none (local) |

use crate::backend::Backend;
use crate::error::{NnError, Result};

/// A loss on the model output `out` and the target `y` (same shape).
pub trait Loss<B: Backend> {
    /// Gradient of the summed loss with respect to `out`.
    fn grad(&self, b: &mut B, out: &B::Tensor, y: &B::Tensor) -> Result<B::Tensor>;
    /// The mean loss over the batch, as a `1 x 1` tensor (still secret on shares).
    fn value(&self, b: &mut B, out: &B::Tensor, y: &B::Tensor) -> Result<B::Tensor>;
}

fn check<B: Backend>(op: &str, out: &B::Tensor, y: &B::Tensor) -> Result<usize> {
    let (so, sy) = (B::shape_of(out), B::shape_of(y));
    if so != sy || so.len() != 2 || so[0] == 0 {
        return Err(NnError::shape(
            op,
            format!("output {so:?} and target {sy:?} must be the same N x C, N > 0"),
        ));
    }
    Ok(so[0])
}

/// Sum of every element divided by `n`, as `1 x 1`.
fn mean_over<B: Backend>(b: &mut B, t: &B::Tensor, n: usize) -> Result<B::Tensor> {
    let cols = b.sum_axis(t, 0)?;
    let s = b.sum_axis(&cols, 1)?;
    b.scale(&s, 1.0 / n as f64)
}

/// Binary cross-entropy on logits `z` (`N x 1`) with 0/1 targets.
#[derive(Debug, Clone, Copy, Default)]
pub struct BceWithLogits;

impl<B: Backend> Loss<B> for BceWithLogits {
    fn grad(&self, b: &mut B, z: &B::Tensor, y: &B::Tensor) -> Result<B::Tensor> {
        check::<B>("BceWithLogits", z, y)?;
        let p = b.sigmoid(z)?;
        b.sub(&p, y)
    }

    /// `softplus(z) - y z` with `softplus(z) = relu(z) + ln(1 + e^-|z|)` (no overflow).
    fn value(&self, b: &mut B, z: &B::Tensor, y: &B::Tensor) -> Result<B::Tensor> {
        let n = check::<B>("BceWithLogits", z, y)?;
        let (r, _) = b.relu(z, false)?;
        let two_r = b.scale(&r, 2.0)?;
        let abs = b.sub(&two_r, z)?;
        let neg = b.scale(&abs, -1.0)?;
        let e = b.exp(&neg)?;
        let one_plus = b.add_scalar(&e, 1.0)?;
        let l = b.ln(&one_plus)?;
        let yz = b.mul(y, z)?;
        let sp = b.add(&r, &l)?;
        let per = b.sub(&sp, &yz)?;
        mean_over(b, &per, n)
    }
}

/// Softmax cross-entropy on logits (`N x C`) with one-hot targets.
#[derive(Debug, Clone, Copy, Default)]
pub struct SoftmaxCrossEntropy;

impl<B: Backend> Loss<B> for SoftmaxCrossEntropy {
    fn grad(&self, b: &mut B, z: &B::Tensor, y: &B::Tensor) -> Result<B::Tensor> {
        check::<B>("SoftmaxCrossEntropy", z, y)?;
        let p = b.softmax(z, 1)?;
        b.sub(&p, y)
    }

    /// `ln(sum_j e^(z_j - m)) + m - sum_j y_j z_j` per row, `m` the row maximum.
    fn value(&self, b: &mut B, z: &B::Tensor, y: &B::Tensor) -> Result<B::Tensor> {
        let n = check::<B>("SoftmaxCrossEntropy", z, y)?;
        let m = b.max_axis(z, 1)?;
        let neg_m = b.scale(&m, -1.0)?;
        let shifted = b.add_broadcast(z, &neg_m)?;
        let e = b.exp(&shifted)?;
        let s = b.sum_axis(&e, 1)?;
        let lse = b.ln(&s)?;
        let yz = b.mul(y, z)?;
        let yz = b.sum_axis(&yz, 1)?;
        let per = b.add(&lse, &m)?;
        let per = b.sub(&per, &yz)?;
        mean_over(b, &per, n)
    }
}

/// Mean squared error over all elements.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mse;

impl<B: Backend> Loss<B> for Mse {
    fn grad(&self, b: &mut B, p: &B::Tensor, y: &B::Tensor) -> Result<B::Tensor> {
        check::<B>("Mse", p, y)?;
        let d = b.sub(p, y)?;
        b.add(&d, &d)
    }

    fn value(&self, b: &mut B, p: &B::Tensor, y: &B::Tensor) -> Result<B::Tensor> {
        check::<B>("Mse", p, y)?;
        let d = b.sub(p, y)?;
        let sq = b.mul(&d, &d)?;
        let count: usize = B::shape_of(p).iter().product();
        mean_over(b, &sq, count)
    }
}
