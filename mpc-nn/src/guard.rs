//! The overflow guard: one secure range check over many tensors, opening a single bit.
//!
//! Fixed-point training stays correct only while its values stay small: the exact truncation
//! needs every product-sum `z` below `2^62` in ring units, i.e. `|z| < 2^(62 - 2f)` in real
//! units (`2^30` at `f = 16`; `2^29` for an entry of a matmul, which truncates `2 z`, see
//! `mpc_core::mul`), and a diverging run (too large a learning rate) crosses that within a few
//! steps, after which the shares hold garbage that training cannot undo. With every
//! activation, gradient and parameter below `bound = 2^10` (the default of the job runner's
//! guard), products stay below `2^20` and a matmul entry summing up to `2^9` of them (an
//! element-wise sum up to `2^10`) stays in range.
//!
//! [`any_out_of_range`] computes, on shares, `[t >= B]` and `[-t >= B]` for every element `t`
//! of the given tensors (one comparison protocol run over all of them), sums the bits, and
//! opens only `[sum >= 1]` to every party: one bit, "some value is out of range", and not
//! which value, how many or by how much. Cost: the comparisons of `2N + 1` elements in two
//! dependent runs (like a ReLU over `2N` values), plus one opening of one element; the
//! differences `t - B` and `-B - t` are local.
//!
//! Precondition: the values themselves have not yet wrapped around the ring (`|t| < 2^(63-f)`),
//! which holds when the check runs every step with a bound far below that.

use crate::backend::Backend;
use crate::error::{NnError, Result};
use ndarray::{ArrayD, IxDyn};

/// Whether some element of `tensors` has `|t| >= bound`, opened to every party as one bit (see
/// the module docs). On the plaintext engine the same computation in `f64`.
///
/// # Errors
/// [`NnError::Config`] if `bound` is not positive and finite or there are no elements; a
/// protocol error from the comparisons or the opening.
pub fn any_out_of_range<B: Backend>(b: &mut B, tensors: &[&B::Tensor], bound: f64) -> Result<bool> {
    if !(bound.is_finite() && bound > 0.0) {
        return Err(NnError::Config(format!(
            "overflow guard: bound {bound} must be positive and finite"
        )));
    }
    let mut cols = Vec::with_capacity(2 * tensors.len());
    for t in tensors {
        let n: usize = B::shape_of(t).iter().product();
        if n == 0 {
            continue;
        }
        let col = b.reshape(t, &[n, 1])?;
        // -t - B as the public constant -B minus t: local, no truncation round
        let minus_bound = b.constant(&ArrayD::from_elem(IxDyn(&[n, 1]), -bound))?;
        cols.push(b.add_scalar(&col, -bound)?);
        cols.push(b.sub(&minus_bound, &col)?);
    }
    if cols.is_empty() {
        return Err(NnError::Config("overflow guard: no values to check".into()));
    }
    let all = b.concat(&cols, 0)?;
    let over = b.ge_zero(&all)?;
    let over = b.lift(&over)?;
    let count = b.sum_axis(&over, 0)?;
    let any = b.add_scalar(&count, -0.5)?;
    let bit = b.ge_zero(&any)?;
    let bit = b.lift(&bit)?;
    let opened = b.reveal(&bit)?;
    Ok(opened.iter().any(|&v| v > 0.5))
}
