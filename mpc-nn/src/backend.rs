//! The two engines every layer runs on: [`Backend`] is the small set of tensor operations the
//! layers, losses and optimizers use; [`Plain`] implements it on `f64` arrays (the plaintext
//! twin, optionally emulating the fixed-point rounding), and [`mpc_core::Party`] implements it on
//! replicated secret shares (see [`crate::secure`]).
//!
//! Conventions shared by both engines:
//! - a *mask* is a 0/1 tensor from a comparison ([`Backend::relu`], [`Backend::ge_zero`]); on
//!   shares it is an integer share, so multiplying by it ([`Backend::mul`]) needs no truncation;
//!   [`Backend::lift`] turns it into an ordinary value;
//! - [`Backend::constant`] makes a *public* tensor (known to every party, e.g. weights drawn
//!   from an agreed seed); it carries no secret.

use crate::error::{NnError, Result};
use crate::window::{self, ConvGeom};
use ndarray::{ArrayD, Axis, Ix2, IxDyn, Zip};

/// The tensor operations of one engine. Layers are written once against this trait.
pub trait Backend {
    /// A tensor of this engine: `ArrayD<f64>` in plaintext, [`mpc_core::AShare`] on shares.
    type Tensor: Clone + std::fmt::Debug + Send;

    /// The engine's name, for reports.
    fn engine(&self) -> &'static str;
    /// The smallest step between values, `2^-f` for `f` fractional bits (0 for exact floats).
    fn resolution(&self) -> f64;
    /// The shape of a tensor.
    fn shape_of(t: &Self::Tensor) -> Vec<usize>;
    /// A public tensor (no secret: every party knows it). A NaN or infinite value is an error
    /// on both engines (on shares, so is a value too large for the fixed-point encoding).
    fn constant(&mut self, v: &ArrayD<f64>) -> Result<Self::Tensor>;
    /// `a + b`, same shape.
    fn add(&mut self, a: &Self::Tensor, b: &Self::Tensor) -> Result<Self::Tensor>;
    /// `a - b`, same shape.
    fn sub(&mut self, a: &Self::Tensor, b: &Self::Tensor) -> Result<Self::Tensor>;
    /// `a + b` with `b` broadcast to `a`'s shape (a bias row).
    fn add_broadcast(&mut self, a: &Self::Tensor, b: &Self::Tensor) -> Result<Self::Tensor>;
    /// Element-wise `a * b` (either may be a mask).
    fn mul(&mut self, a: &Self::Tensor, b: &Self::Tensor) -> Result<Self::Tensor>;
    /// Matrix product of 2-D tensors.
    fn matmul(&mut self, a: &Self::Tensor, b: &Self::Tensor) -> Result<Self::Tensor>;
    /// `map(a b)` for a linear index map `map` (e.g. col2im), given in `f64` and ring versions
    /// like [`Backend::layout`]: on shares the map is applied to each party's local product
    /// before anything is sent, so the product is reshared and truncated once, at the mapped
    /// size (for a col2im, the image instead of the larger patch matrix).
    fn matmul_map(
        &mut self,
        a: &Self::Tensor,
        b: &Self::Tensor,
        plain: &dyn Fn(&ArrayD<f64>) -> Result<ArrayD<f64>>,
        ring: &dyn Fn(&ArrayD<u64>) -> Result<ArrayD<u64>>,
    ) -> Result<Self::Tensor>;
    /// `a * c` for a public scalar.
    fn scale(&mut self, a: &Self::Tensor, c: f64) -> Result<Self::Tensor>;
    /// `a + c` for a public scalar.
    fn add_scalar(&mut self, a: &Self::Tensor, c: f64) -> Result<Self::Tensor>;
    /// Sum along `axis`, keeping it with length 1.
    fn sum_axis(&mut self, a: &Self::Tensor, axis: usize) -> Result<Self::Tensor>;
    /// Reshape (row-major).
    fn reshape(&mut self, a: &Self::Tensor, shape: &[usize]) -> Result<Self::Tensor>;
    /// Permute axes.
    fn permute(&mut self, a: &Self::Tensor, axes: &[usize]) -> Result<Self::Tensor>;
    /// Rows `rows` along axis 0 (public indices).
    fn take_rows(&mut self, a: &Self::Tensor, rows: &[usize]) -> Result<Self::Tensor>;
    /// Concatenation along `axis`.
    fn concat(&mut self, parts: &[Self::Tensor], axis: usize) -> Result<Self::Tensor>;
    /// ReLU and its derivative mask `[x >= 0]`; without `with_mask` the mask is `None` (cheaper).
    fn relu(
        &mut self,
        a: &Self::Tensor,
        with_mask: bool,
    ) -> Result<(Self::Tensor, Option<Self::Tensor>)>;
    /// The mask `[x >= 0]`.
    fn ge_zero(&mut self, a: &Self::Tensor) -> Result<Self::Tensor>;
    /// A mask as an ordinary value (0.0 or 1.0).
    fn lift(&mut self, mask: &Self::Tensor) -> Result<Self::Tensor>;
    /// Logistic function.
    fn sigmoid(&mut self, a: &Self::Tensor) -> Result<Self::Tensor>;
    /// Hyperbolic tangent.
    fn tanh(&mut self, a: &Self::Tensor) -> Result<Self::Tensor>;
    /// Softmax along `axis` (max-shifted).
    fn softmax(&mut self, a: &Self::Tensor, axis: usize) -> Result<Self::Tensor>;
    /// Natural logarithm (positive inputs).
    fn ln(&mut self, a: &Self::Tensor) -> Result<Self::Tensor>;
    /// `e^x`.
    fn exp(&mut self, a: &Self::Tensor) -> Result<Self::Tensor>;
    /// `1 / sqrt(x)`, for `x` in the secure range `[2^-10, 2^18)`.
    fn rsqrt(&mut self, a: &Self::Tensor) -> Result<Self::Tensor>;
    /// `1 / x` for positive `x` (the secure range is from the resolution `2^-f` to `2^18`; see
    /// [`mpc_core::Party::reciprocal_positive_range`]).
    fn reciprocal(&mut self, a: &Self::Tensor) -> Result<Self::Tensor>;
    /// `x / 2^bits` by one truncation (no product, so no bound on `x` beyond the encoding's).
    fn div_pow2(&mut self, a: &Self::Tensor, bits: u32) -> Result<Self::Tensor>;
    /// Maximum along `axis`, keeping it with length 1.
    fn max_axis(&mut self, a: &Self::Tensor, axis: usize) -> Result<Self::Tensor>;
    /// One-hot argmax along `axis` as a mask (ties to the lowest index).
    fn argmax(&mut self, a: &Self::Tensor, axis: usize) -> Result<Self::Tensor>;
    /// Max-pooling of `N, C, H, W` (no padding): the pooled tensor and the argmax mask
    /// `N, C, H', W', k*k`.
    fn maxpool2d(
        &mut self,
        x: &Self::Tensor,
        k: usize,
        stride: usize,
    ) -> Result<(Self::Tensor, Self::Tensor)>;
    /// Routes a pooled gradient back through the argmax mask.
    fn maxpool2d_backward(
        &mut self,
        grad: &Self::Tensor,
        mask: &Self::Tensor,
        input_shape: &[usize],
        k: usize,
        stride: usize,
    ) -> Result<Self::Tensor>;
    /// A local layout change applied to the tensor's values (or to both components of a share):
    /// `f64` and ring versions of the same index map (see [`crate::window`]).
    fn layout(
        &mut self,
        a: &Self::Tensor,
        plain: &dyn Fn(&ArrayD<f64>) -> Result<ArrayD<f64>>,
        ring: &dyn Fn(&ArrayD<u64>) -> Result<ArrayD<u64>>,
    ) -> Result<Self::Tensor>;
    /// Opens a tensor to every party.
    fn reveal(&mut self, a: &Self::Tensor) -> Result<ArrayD<f64>>;
    /// Opens a tensor to party `to` only (`None` elsewhere; the plaintext engine returns it).
    /// A `to` that is not a party (0, 1 or 2) is an error on both engines.
    fn reveal_to(&mut self, to: usize, a: &Self::Tensor) -> Result<Option<ArrayD<f64>>>;
    /// Communication so far, as `(bytes sent, rounds)` of this party (zero in plaintext).
    fn cost(&self) -> (u64, u64);
}

/// The plaintext engine: `f64` arrays, the twin every secure result is checked against.
///
/// With [`Plain::fixed_point`] it also rounds constants to the nearest multiple of `2^-f` and
/// every product, scaling and function output down to one (the fixed-point emulation), to tell
/// protocol error from precision error. (The shares' exact truncation rounds down or up at
/// random; the emulation always rounds down, so it shows the precision, not the same bits.)
#[derive(Debug, Clone, Default)]
pub struct Plain {
    quantum: Option<f64>,
}

impl Plain {
    /// The exact `f64` engine.
    pub fn new() -> Plain {
        Plain { quantum: None }
    }

    /// The `f64` engine emulating fixed-point rounding at `frac_bits` fractional bits.
    pub fn fixed_point(frac_bits: u32) -> Plain {
        Plain {
            quantum: Some(2f64.powi(-(frac_bits as i32))),
        }
    }

    fn q(&self, a: ArrayD<f64>) -> ArrayD<f64> {
        match self.quantum {
            Some(u) => a.mapv(|v| (v / u).floor() * u),
            None => a,
        }
    }
}

fn same_shape(op: &str, a: &ArrayD<f64>, b: &ArrayD<f64>) -> Result<()> {
    if a.shape() != b.shape() {
        return Err(NnError::shape(
            op,
            format!("{:?} vs {:?}", a.shape(), b.shape()),
        ));
    }
    Ok(())
}

fn check_axis(op: &str, a: &ArrayD<f64>, axis: usize) -> Result<()> {
    if axis >= a.ndim() || a.shape()[axis] == 0 {
        return Err(NnError::shape(
            op,
            format!("axis {axis} of {:?}", a.shape()),
        ));
    }
    Ok(())
}

impl Backend for Plain {
    type Tensor = ArrayD<f64>;

    fn resolution(&self) -> f64 {
        self.quantum.unwrap_or(0.0)
    }

    fn engine(&self) -> &'static str {
        if self.quantum.is_some() {
            "plaintext (fixed-point emulation)"
        } else {
            "plaintext"
        }
    }

    fn shape_of(t: &ArrayD<f64>) -> Vec<usize> {
        t.shape().to_vec()
    }

    fn constant(&mut self, v: &ArrayD<f64>) -> Result<ArrayD<f64>> {
        if let Some((i, x)) = v.iter().enumerate().find(|(_, x)| !x.is_finite()) {
            return Err(NnError::Config(format!(
                "constant: value {x} (element {i} in row-major order) is not finite"
            )));
        }
        // the encoding rounds to the nearest multiple of 2^-f, as the shares' encoding does
        Ok(match self.quantum {
            Some(u) => v.mapv(|x| (x / u).round() * u),
            None => v.clone(),
        })
    }

    fn add(&mut self, a: &ArrayD<f64>, b: &ArrayD<f64>) -> Result<ArrayD<f64>> {
        same_shape("add", a, b)?;
        Ok(a + b)
    }

    fn sub(&mut self, a: &ArrayD<f64>, b: &ArrayD<f64>) -> Result<ArrayD<f64>> {
        same_shape("sub", a, b)?;
        Ok(a - b)
    }

    fn add_broadcast(&mut self, a: &ArrayD<f64>, b: &ArrayD<f64>) -> Result<ArrayD<f64>> {
        let bb = b.broadcast(a.raw_dim()).ok_or_else(|| {
            NnError::shape(
                "add_broadcast",
                format!("{:?} to {:?}", b.shape(), a.shape()),
            )
        })?;
        Ok(a + &bb)
    }

    fn mul(&mut self, a: &ArrayD<f64>, b: &ArrayD<f64>) -> Result<ArrayD<f64>> {
        same_shape("mul", a, b)?;
        Ok(self.q(a * b))
    }

    fn matmul(&mut self, a: &ArrayD<f64>, b: &ArrayD<f64>) -> Result<ArrayD<f64>> {
        let bad = || NnError::shape("matmul", format!("{:?} x {:?}", a.shape(), b.shape()));
        let a2 = a.view().into_dimensionality::<Ix2>().map_err(|_| bad())?;
        let b2 = b.view().into_dimensionality::<Ix2>().map_err(|_| bad())?;
        if a2.ncols() != b2.nrows() {
            return Err(bad());
        }
        Ok(self.q(a2.dot(&b2).into_dyn()))
    }

    fn matmul_map(
        &mut self,
        a: &ArrayD<f64>,
        b: &ArrayD<f64>,
        plain: &dyn Fn(&ArrayD<f64>) -> Result<ArrayD<f64>>,
        _ring: &dyn Fn(&ArrayD<u64>) -> Result<ArrayD<u64>>,
    ) -> Result<ArrayD<f64>> {
        // exact product, mapped, then rounded once (as the shares are truncated once)
        let q = self.quantum.take();
        let product = self.matmul(a, b);
        self.quantum = q;
        Ok(self.q(plain(&product?)?))
    }

    fn scale(&mut self, a: &ArrayD<f64>, c: f64) -> Result<ArrayD<f64>> {
        Ok(self.q(a * c))
    }

    fn add_scalar(&mut self, a: &ArrayD<f64>, c: f64) -> Result<ArrayD<f64>> {
        Ok(a + c)
    }

    fn sum_axis(&mut self, a: &ArrayD<f64>, axis: usize) -> Result<ArrayD<f64>> {
        if axis >= a.ndim() {
            return Err(NnError::shape(
                "sum_axis",
                format!("axis {axis} of {:?}", a.shape()),
            ));
        }
        Ok(a.sum_axis(Axis(axis)).insert_axis(Axis(axis)))
    }

    fn reshape(&mut self, a: &ArrayD<f64>, shape: &[usize]) -> Result<ArrayD<f64>> {
        a.as_standard_layout()
            .into_owned()
            .into_shape_with_order(IxDyn(shape))
            .map_err(|e| NnError::shape("reshape", format!("{:?} to {shape:?}: {e}", a.shape())))
    }

    fn permute(&mut self, a: &ArrayD<f64>, axes: &[usize]) -> Result<ArrayD<f64>> {
        let mut seen = vec![false; a.ndim()];
        let ok = axes.len() == a.ndim()
            && axes
                .iter()
                .all(|&x| x < seen.len() && !std::mem::replace(&mut seen[x], true));
        if !ok {
            return Err(NnError::shape(
                "permute",
                format!("{axes:?} for {:?}", a.shape()),
            ));
        }
        Ok(a.view()
            .permuted_axes(IxDyn(axes))
            .as_standard_layout()
            .into_owned())
    }

    fn take_rows(&mut self, a: &ArrayD<f64>, rows: &[usize]) -> Result<ArrayD<f64>> {
        window::take_rows(a, rows)
    }

    fn concat(&mut self, parts: &[ArrayD<f64>], axis: usize) -> Result<ArrayD<f64>> {
        let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
        ndarray::concatenate(Axis(axis), &views)
            .map_err(|e| NnError::shape("concat", e.to_string()))
    }

    fn relu(
        &mut self,
        a: &ArrayD<f64>,
        with_mask: bool,
    ) -> Result<(ArrayD<f64>, Option<ArrayD<f64>>)> {
        let y = a.mapv(|v| v.max(0.0));
        Ok((
            y,
            with_mask.then(|| a.mapv(|v| if v >= 0.0 { 1.0 } else { 0.0 })),
        ))
    }

    fn ge_zero(&mut self, a: &ArrayD<f64>) -> Result<ArrayD<f64>> {
        Ok(a.mapv(|v| if v >= 0.0 { 1.0 } else { 0.0 }))
    }

    fn lift(&mut self, mask: &ArrayD<f64>) -> Result<ArrayD<f64>> {
        Ok(mask.clone())
    }

    fn sigmoid(&mut self, a: &ArrayD<f64>) -> Result<ArrayD<f64>> {
        Ok(self.q(a.mapv(|v| 1.0 / (1.0 + (-v).exp()))))
    }

    fn tanh(&mut self, a: &ArrayD<f64>) -> Result<ArrayD<f64>> {
        Ok(self.q(a.mapv(f64::tanh)))
    }

    fn softmax(&mut self, a: &ArrayD<f64>, axis: usize) -> Result<ArrayD<f64>> {
        check_axis("softmax", a, axis)?;
        let m = a
            .fold_axis(Axis(axis), f64::NEG_INFINITY, |x, &y| x.max(y))
            .insert_axis(Axis(axis));
        let e = (a - &m).mapv(f64::exp);
        let s = e.sum_axis(Axis(axis)).insert_axis(Axis(axis));
        Ok(self.q(e / &s))
    }

    fn ln(&mut self, a: &ArrayD<f64>) -> Result<ArrayD<f64>> {
        Ok(self.q(a.mapv(f64::ln)))
    }

    fn exp(&mut self, a: &ArrayD<f64>) -> Result<ArrayD<f64>> {
        Ok(self.q(a.mapv(f64::exp)))
    }

    fn rsqrt(&mut self, a: &ArrayD<f64>) -> Result<ArrayD<f64>> {
        Ok(self.q(a.mapv(|v| 1.0 / v.sqrt())))
    }

    fn reciprocal(&mut self, a: &ArrayD<f64>) -> Result<ArrayD<f64>> {
        Ok(self.q(a.mapv(|v| 1.0 / v)))
    }

    fn div_pow2(&mut self, a: &ArrayD<f64>, bits: u32) -> Result<ArrayD<f64>> {
        let c = 2f64.powi(-(bits as i32));
        Ok(self.q(a.mapv(|v| v * c)))
    }

    fn max_axis(&mut self, a: &ArrayD<f64>, axis: usize) -> Result<ArrayD<f64>> {
        check_axis("max_axis", a, axis)?;
        Ok(a.fold_axis(Axis(axis), f64::NEG_INFINITY, |x, &y| x.max(y))
            .insert_axis(Axis(axis)))
    }

    fn argmax(&mut self, a: &ArrayD<f64>, axis: usize) -> Result<ArrayD<f64>> {
        check_axis("argmax", a, axis)?;
        let mut out = ArrayD::zeros(a.raw_dim());
        Zip::from(out.lanes_mut(Axis(axis)))
            .and(a.lanes(Axis(axis)))
            .for_each(|mut o, l| {
                let mut best = 0;
                for (i, &v) in l.iter().enumerate() {
                    if v > l[best] {
                        best = i;
                    }
                }
                o[best] = 1.0;
            });
        Ok(out)
    }

    fn maxpool2d(
        &mut self,
        x: &ArrayD<f64>,
        k: usize,
        stride: usize,
    ) -> Result<(ArrayD<f64>, ArrayD<f64>)> {
        let g = ConvGeom::new("maxpool2d", x.shape(), k, stride, 0)?;
        let one = ConvGeom {
            c: 1,
            n: g.n * g.c,
            ..g
        };
        let flat = x
            .as_standard_layout()
            .into_owned()
            .into_shape_with_order(IxDyn(&[one.n, 1, g.h, g.w]))
            .map_err(|e| NnError::shape("maxpool2d", e.to_string()))?;
        let cols = window::im2col(&flat, &one)?;
        let (ho, wo, kk) = (g.ho(), g.wo(), k * k);
        let mask = self.argmax(&cols, 1)?;
        let pooled = (&cols * &mask).sum_axis(Axis(1));
        let pooled = self.reshape(&pooled, &[g.n, g.c, ho, wo])?;
        let mask = self.reshape(&mask, &[g.n, g.c, ho, wo, kk])?;
        Ok((pooled, mask))
    }

    fn maxpool2d_backward(
        &mut self,
        grad: &ArrayD<f64>,
        mask: &ArrayD<f64>,
        input_shape: &[usize],
        k: usize,
        stride: usize,
    ) -> Result<ArrayD<f64>> {
        let g = ConvGeom::new("maxpool2d_backward", input_shape, k, stride, 0)?;
        let (ho, wo, kk) = (g.ho(), g.wo(), k * k);
        if grad.shape() != [g.n, g.c, ho, wo] || mask.shape() != [g.n, g.c, ho, wo, kk] {
            return Err(NnError::shape(
                "maxpool2d_backward",
                format!(
                    "grad {:?}, mask {:?}, input {input_shape:?}",
                    grad.shape(),
                    mask.shape()
                ),
            ));
        }
        let gb = grad.view().insert_axis(Axis(4));
        let routed = (mask * &gb)
            .into_shape_with_order(IxDyn(&[g.n * g.c * ho * wo, kk]))
            .map_err(|e| NnError::shape("maxpool2d_backward", e.to_string()))?;
        let one = ConvGeom {
            c: 1,
            n: g.n * g.c,
            ..g
        };
        let out = window::col2im(&routed, &one)?;
        self.reshape(&out, input_shape)
    }

    fn layout(
        &mut self,
        a: &ArrayD<f64>,
        plain: &dyn Fn(&ArrayD<f64>) -> Result<ArrayD<f64>>,
        _ring: &dyn Fn(&ArrayD<u64>) -> Result<ArrayD<u64>>,
    ) -> Result<ArrayD<f64>> {
        plain(a)
    }

    fn reveal(&mut self, a: &ArrayD<f64>) -> Result<ArrayD<f64>> {
        Ok(a.clone())
    }

    fn reveal_to(&mut self, to: usize, a: &ArrayD<f64>) -> Result<Option<ArrayD<f64>>> {
        // the same check as the secure engine's, so the twin fails where the parties would
        if to >= 3 {
            return Err(NnError::Config(format!(
                "reveal_to: {to} is not a party (0, 1 or 2)"
            )));
        }
        Ok(Some(a.clone()))
    }

    fn cost(&self) -> (u64, u64) {
        (0, 0)
    }
}
