//! Wrapping u64 matrix multiplication (GEMM over Z_2^64).
//!
//! Interim portable kernel: i-k-j loops over row blocks, split across rayon threads for large
//! products. A packed AVX-512 kernel replaces it.

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;

/// Shapes that do not fit a GEMM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GemmShapeError {
    /// What is wrong.
    pub detail: String,
}

impl std::fmt::Display for GemmShapeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "gemm shape error: {}", self.detail)
    }
}

impl std::error::Error for GemmShapeError {}

/// Computes `sum_j A_j . B_j` with wrapping u64 arithmetic; all `A_j` are `m x k_j`, all `B_j`
/// are `k_j x n`.
pub fn gemm_sum(
    pairs: &[(ArrayView2<'_, u64>, ArrayView2<'_, u64>)],
) -> Result<Array2<u64>, GemmShapeError> {
    let (a0, b0) = pairs.first().ok_or_else(|| GemmShapeError {
        detail: "no matrix pairs".into(),
    })?;
    let (m, n) = (a0.nrows(), b0.ncols());
    for (a, b) in pairs {
        if a.nrows() != m || b.ncols() != n || a.ncols() != b.nrows() {
            return Err(GemmShapeError {
                detail: format!(
                    "pair {:?} x {:?} does not give {m} x {n}",
                    a.shape(),
                    b.shape()
                ),
            });
        }
    }
    let mut c = Array2::<u64>::zeros((m, n));
    let work = m * n * pairs.iter().map(|(a, _)| a.ncols()).sum::<usize>();
    let row = |(i, mut crow): (usize, ndarray::ArrayViewMut1<'_, u64>)| {
        for (a, b) in pairs {
            for (k, &aik) in a.row(i).iter().enumerate() {
                for (cv, bv) in crow.iter_mut().zip(b.row(k)) {
                    *cv = cv.wrapping_add(aik.wrapping_mul(*bv));
                }
            }
        }
    };
    if work >= 1 << 24 {
        c.outer_iter_mut().into_par_iter().enumerate().for_each(row);
    } else {
        c.outer_iter_mut().enumerate().for_each(row);
    }
    Ok(c)
}

/// `A . B` with wrapping u64 arithmetic.
pub fn gemm(a: ArrayView2<'_, u64>, b: ArrayView2<'_, u64>) -> Result<Array2<u64>, GemmShapeError> {
    gemm_sum(&[(a, b)])
}
