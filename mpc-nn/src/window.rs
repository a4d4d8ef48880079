//! Local index gymnastics shared by both engines: im2col / col2im for convolutions, window
//! gathers for pooling, row gathers for batching. They move ring words (`u64`, wrapping
//! accumulation) or plaintext values (`f64`) the same way, so a secure share and its plaintext
//! twin go through exactly the same code.

use crate::error::{NnError, Result};
use ndarray::{ArrayD, IxDyn};

/// An element that the layouts move: ring words accumulate with wrapping addition.
pub trait Elem: Copy + Default + Send + Sync + 'static {
    /// `self + other` in the element's arithmetic.
    fn acc(self, other: Self) -> Self;
}

impl Elem for u64 {
    fn acc(self, other: u64) -> u64 {
        self.wrapping_add(other)
    }
}

impl Elem for f64 {
    fn acc(self, other: f64) -> f64 {
        self + other
    }
}

/// Geometry of a 2-D convolution or pooling window over an `N, C, H, W` input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeom {
    /// Batch size.
    pub n: usize,
    /// Input channels.
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Square kernel size.
    pub k: usize,
    /// Stride.
    pub stride: usize,
    /// Zero padding on every side.
    pub pad: usize,
}

impl ConvGeom {
    /// The geometry for input `shape` (`N, C, H, W`), checking that the window fits.
    pub fn new(op: &str, shape: &[usize], k: usize, stride: usize, pad: usize) -> Result<ConvGeom> {
        let &[n, c, h, w] = shape else {
            return Err(NnError::shape(
                op,
                format!("expected N, C, H, W, got {shape:?}"),
            ));
        };
        if k == 0 || stride == 0 || k > h + 2 * pad || k > w + 2 * pad {
            return Err(NnError::shape(
                op,
                format!("kernel {k}, stride {stride}, padding {pad} do not fit input {shape:?}"),
            ));
        }
        Ok(ConvGeom {
            n,
            c,
            h,
            w,
            k,
            stride,
            pad,
        })
    }

    /// Output height.
    pub fn ho(&self) -> usize {
        (self.h + 2 * self.pad - self.k) / self.stride + 1
    }

    /// Output width.
    pub fn wo(&self) -> usize {
        (self.w + 2 * self.pad - self.k) / self.stride + 1
    }

    /// Rows of the im2col matrix: `N * H' * W'`.
    pub fn patches(&self) -> usize {
        self.n * self.ho() * self.wo()
    }

    /// Columns of the im2col matrix: `C * k * k`.
    pub fn patch_len(&self) -> usize {
        self.c * self.k * self.k
    }

    /// Input index of patch element `(ci, u, v)` of the output position `(img, i, j)`, or
    /// `None` in the padding.
    fn source(
        &self,
        img: usize,
        i: usize,
        j: usize,
        ci: usize,
        u: usize,
        v: usize,
    ) -> Option<usize> {
        let y = (i * self.stride + u).checked_sub(self.pad)?;
        let x = (j * self.stride + v).checked_sub(self.pad)?;
        (y < self.h && x < self.w).then(|| ((img * self.c + ci) * self.h + y) * self.w + x)
    }

    fn check(&self, op: &str, got: &[usize], want: &[usize]) -> Result<()> {
        if got != want {
            return Err(NnError::shape(
                op,
                format!("expected {want:?}, got {got:?}"),
            ));
        }
        Ok(())
    }

    /// Calls `f(row, col, source)` for every im2col entry in row-major order.
    fn for_each(&self, mut f: impl FnMut(usize, Option<usize>)) {
        let (ho, wo, k) = (self.ho(), self.wo(), self.k);
        let mut at = 0;
        for img in 0..self.n {
            for i in 0..ho {
                for j in 0..wo {
                    for ci in 0..self.c {
                        for u in 0..k {
                            for v in 0..k {
                                f(at, self.source(img, i, j, ci, u, v));
                                at += 1;
                            }
                        }
                    }
                }
            }
        }
    }
}

fn flat<E: Elem>(x: &ArrayD<E>) -> std::borrow::Cow<'_, [E]> {
    match x.as_slice() {
        Some(s) => s.into(),
        None => x.iter().copied().collect::<Vec<_>>().into(),
    }
}

fn array<E: Elem>(shape: &[usize], v: Vec<E>) -> Result<ArrayD<E>> {
    ArrayD::from_shape_vec(IxDyn(shape), v).map_err(|e| NnError::shape("layout", e.to_string()))
}

/// The im2col matrix (`N H' W'` x `C k k`) of an `N, C, H, W` input; padding is zero.
pub fn im2col<E: Elem>(x: &ArrayD<E>, g: &ConvGeom) -> Result<ArrayD<E>> {
    g.check("im2col", x.shape(), &[g.n, g.c, g.h, g.w])?;
    let src = flat(x);
    let mut out = vec![E::default(); g.patches() * g.patch_len()];
    g.for_each(|at, s| {
        if let Some(s) = s {
            out[at] = src[s];
        }
    });
    array(&[g.patches(), g.patch_len()], out)
}

/// The adjoint of [`im2col`]: sums every patch entry back into its input position.
pub fn col2im<E: Elem>(cols: &ArrayD<E>, g: &ConvGeom) -> Result<ArrayD<E>> {
    g.check("col2im", cols.shape(), &[g.patches(), g.patch_len()])?;
    let src = flat(cols);
    let mut out = vec![E::default(); g.n * g.c * g.h * g.w];
    g.for_each(|at, s| {
        if let Some(s) = s {
            out[s] = out[s].acc(src[at]);
        }
    });
    array(&[g.n, g.c, g.h, g.w], out)
}

/// Sums each pooling window of a one-channel-at-a-time layout: the result is `N, C, H', W'`
/// (average pooling divides it by `k^2` afterwards).
pub fn window_sum<E: Elem>(x: &ArrayD<E>, g: &ConvGeom) -> Result<ArrayD<E>> {
    let one = ConvGeom {
        c: 1,
        n: g.n * g.c,
        ..*g
    };
    let cols = im2col(
        &x.clone()
            .into_shape_with_order(IxDyn(&[one.n, 1, g.h, g.w]))
            .map_err(|e| NnError::shape("window_sum", e.to_string()))?,
        &one,
    )?;
    let kk = g.k * g.k;
    let src = flat(&cols);
    let out: Vec<E> = src
        .chunks(kk)
        .map(|w| w.iter().fold(E::default(), |a, &b| a.acc(b)))
        .collect();
    array(&[g.n, g.c, g.ho(), g.wo()], out)
}

/// The adjoint of [`window_sum`]: every input position receives the sum of the values of the
/// windows that contain it.
pub fn window_spread<E: Elem>(y: &ArrayD<E>, g: &ConvGeom) -> Result<ArrayD<E>> {
    g.check("window_spread", y.shape(), &[g.n, g.c, g.ho(), g.wo()])?;
    let one = ConvGeom {
        c: 1,
        n: g.n * g.c,
        ..*g
    };
    let kk = g.k * g.k;
    let src = flat(y);
    let mut cols = Vec::with_capacity(src.len() * kk);
    for &v in src.iter() {
        cols.extend(std::iter::repeat_n(v, kk));
    }
    let cols = array(&[one.patches(), kk], cols)?;
    col2im(&cols, &one)?
        .into_shape_with_order(IxDyn(&[g.n, g.c, g.h, g.w]))
        .map_err(|e| NnError::shape("window_spread", e.to_string()))
}

/// Rows `rows` of a tensor (along axis 0), in that order.
pub fn take_rows<E: Elem>(x: &ArrayD<E>, rows: &[usize]) -> Result<ArrayD<E>> {
    let Some(&n) = x.shape().first() else {
        return Err(NnError::shape("take_rows", "a 0-d tensor has no rows"));
    };
    let width: usize = x.shape()[1..].iter().product();
    let src = flat(x);
    let mut out = Vec::with_capacity(rows.len() * width);
    for &r in rows {
        if r >= n {
            return Err(NnError::shape(
                "take_rows",
                format!("row {r} of a tensor with {n} rows"),
            ));
        }
        out.extend_from_slice(&src[r * width..(r + 1) * width]);
    }
    let mut shape = x.shape().to_vec();
    shape[0] = rows.len();
    array(&shape, out)
}
