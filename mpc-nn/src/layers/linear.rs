//! Fully connected and convolutional layers (convolution as im2col onto the matmul).

use crate::backend::Backend;
use crate::error::{NnError, Result};
use crate::init::{InitScheme, Initializer};
use crate::module::{Module, Param};
use crate::window::{self, ConvGeom};
use ndarray::ArrayD;

fn init_weight(
    init: &mut Initializer,
    scheme: InitScheme,
    shape: &[usize],
    fan_in: usize,
    fan_out: usize,
) -> ArrayD<f64> {
    match scheme {
        InitScheme::Kaiming => init.kaiming_uniform(shape, fan_in),
        InitScheme::Xavier => init.xavier_uniform(shape, fan_in, fan_out),
        InitScheme::Zeros => ArrayD::zeros(ndarray::IxDyn(shape)),
    }
}

fn take<T>(slot: &mut Option<T>, layer: &str) -> Result<T> {
    slot.take().ok_or_else(|| NnError::NoForward {
        layer: layer.to_string(),
    })
}

/// `y = x W + b` for `x` of shape `N x in`; `W` is stored `in x out`, `b` as `1 x out`.
pub struct Linear<B: Backend> {
    weight: Param<B::Tensor>,
    bias: Option<Param<B::Tensor>>,
    dims: (usize, usize),
    input: Option<B::Tensor>,
    training: bool,
}

/// A [`Linear`] layer with weights from `init` (bias zero).
pub fn linear<B: Backend>(
    b: &mut B,
    inp: usize,
    out: usize,
    scheme: InitScheme,
    init: &mut Initializer,
) -> Result<Linear<B>> {
    let w = init_weight(init, scheme, &[inp, out], inp, out);
    Linear::from_weights(b, &w, Some(&ArrayD::zeros(ndarray::IxDyn(&[1, out]))))
}

impl<B: Backend> Linear<B> {
    /// A layer with the given public weights (`in x out`) and optional bias (`1 x out` or `out`).
    pub fn from_weights(
        b: &mut B,
        w: &ArrayD<f64>,
        bias: Option<&ArrayD<f64>>,
    ) -> Result<Linear<B>> {
        let &[inp, out] = w.shape() else {
            return Err(NnError::shape(
                "Linear",
                format!("weight must be in x out, got {:?}", w.shape()),
            ));
        };
        if inp == 0 || out == 0 {
            return Err(NnError::shape(
                "Linear",
                format!("a layer of {inp} inputs and {out} outputs: both must be at least 1"),
            ));
        }
        let bias = match bias {
            Some(v) if v.len() == out => Some(Param::new(
                "bias",
                b.constant(
                    &v.clone()
                        .into_shape_with_order(ndarray::IxDyn(&[1, out]))
                        .map_err(|e| NnError::shape("Linear", e.to_string()))?,
                )?,
            )),
            Some(v) => {
                return Err(NnError::shape(
                    "Linear",
                    format!("bias of {out} expected, got {:?}", v.shape()),
                ));
            }
            None => None,
        };
        Ok(Linear {
            weight: Param::new("weight", b.constant(w)?),
            bias,
            dims: (inp, out),
            input: None,
            training: true,
        })
    }

    fn grads(&mut self, b: &mut B, x: &B::Tensor, g: &B::Tensor) -> Result<()> {
        let xt = b.permute(x, &[1, 0])?;
        self.weight.grad = Some(b.matmul(&xt, g)?);
        if let Some(bias) = &mut self.bias {
            bias.grad = Some(b.sum_axis(g, 0)?);
        }
        Ok(())
    }
}

impl<B: Backend> Module<B> for Linear<B> {
    fn forward(&mut self, b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
        let shape = B::shape_of(x);
        if shape.len() != 2 || shape[1] != self.dims.0 {
            return Err(NnError::shape(
                self.describe(),
                format!("input {shape:?}, expected N x {}", self.dims.0),
            ));
        }
        let y = b.matmul(x, &self.weight.value)?;
        let y = match &self.bias {
            Some(bias) => b.add_broadcast(&y, &bias.value)?,
            None => y,
        };
        if self.training {
            self.input = Some(x.clone());
        }
        Ok(y)
    }

    fn backward(&mut self, b: &mut B, g: &B::Tensor) -> Result<B::Tensor> {
        let name = self.describe();
        let x = take(&mut self.input, &name)?;
        self.grads(b, &x, g)?;
        let wt = b.permute(&self.weight.value, &[1, 0])?;
        b.matmul(g, &wt)
    }

    fn backward_params(&mut self, b: &mut B, g: &B::Tensor) -> Result<()> {
        let name = self.describe();
        let x = take(&mut self.input, &name)?;
        self.grads(b, &x, g)
    }

    fn params(&self) -> Vec<&Param<B::Tensor>> {
        std::iter::once(&self.weight)
            .chain(self.bias.as_ref())
            .collect()
    }

    fn params_mut(&mut self) -> Vec<&mut Param<B::Tensor>> {
        std::iter::once(&mut self.weight)
            .chain(self.bias.as_mut())
            .collect()
    }

    fn set_training(&mut self, on: bool) {
        self.training = on;
        if !on {
            self.input = None;
        }
    }

    fn describe(&self) -> String {
        format!("Linear({} -> {})", self.dims.0, self.dims.1)
    }
}

/// A 2-D convolution over `N, C, H, W` inputs with a square kernel, stride and zero padding,
/// computed as `im2col(x) W + b` on the fast matmul. `W` is stored `C k k x C_out`.
pub struct Conv2d<B: Backend> {
    weight: Param<B::Tensor>,
    bias: Param<B::Tensor>,
    channels: (usize, usize),
    kernel: usize,
    stride: usize,
    pad: usize,
    cache: Option<(ConvGeom, B::Tensor)>,
    training: bool,
}

/// A [`Conv2d`] layer with weights from `init` (bias zero).
#[allow(clippy::too_many_arguments)]
pub fn conv2d<B: Backend>(
    b: &mut B,
    in_ch: usize,
    out_ch: usize,
    kernel: usize,
    stride: usize,
    pad: usize,
    scheme: InitScheme,
    init: &mut Initializer,
) -> Result<Conv2d<B>> {
    let fan_in = in_ch * kernel * kernel;
    let w = init_weight(
        init,
        scheme,
        &[fan_in, out_ch],
        fan_in,
        out_ch * kernel * kernel,
    );
    Conv2d::from_weights(
        b,
        &w,
        &ArrayD::zeros(ndarray::IxDyn(&[1, out_ch])),
        in_ch,
        kernel,
        stride,
        pad,
    )
}

impl<B: Backend> Conv2d<B> {
    /// A layer with public weights `C_in k k x C_out` (row `(c, u, v)` in that order) and bias.
    pub fn from_weights(
        b: &mut B,
        w: &ArrayD<f64>,
        bias: &ArrayD<f64>,
        in_ch: usize,
        kernel: usize,
        stride: usize,
        pad: usize,
    ) -> Result<Conv2d<B>> {
        let &[rows, out_ch] = w.shape() else {
            return Err(NnError::shape(
                "Conv2d",
                format!("weight must be C k k x C_out, got {:?}", w.shape()),
            ));
        };
        if rows != in_ch * kernel * kernel
            || bias.len() != out_ch
            || kernel == 0
            || stride == 0
            || in_ch == 0
            || out_ch == 0
        {
            return Err(NnError::shape(
                "Conv2d",
                format!(
                    "weight {:?}, bias {:?} for {in_ch} channels and kernel {kernel}, stride {stride}",
                    w.shape(),
                    bias.shape()
                ),
            ));
        }
        let bias = bias
            .clone()
            .into_shape_with_order(ndarray::IxDyn(&[1, out_ch]))
            .map_err(|e| NnError::shape("Conv2d", e.to_string()))?;
        Ok(Conv2d {
            weight: Param::new("weight", b.constant(w)?),
            bias: Param::new("bias", b.constant(&bias)?),
            channels: (in_ch, out_ch),
            kernel,
            stride,
            pad,
            cache: None,
            training: true,
        })
    }

    fn grads(
        &mut self,
        b: &mut B,
        cols: &B::Tensor,
        g: &B::Tensor,
        geom: &ConvGeom,
    ) -> Result<B::Tensor> {
        // N, C_out, H', W' -> (N H' W') x C_out
        let gm = b.permute(g, &[0, 2, 3, 1])?;
        let gm = b.reshape(&gm, &[geom.patches(), self.channels.1])?;
        let ct = b.permute(cols, &[1, 0])?;
        self.weight.grad = Some(b.matmul(&ct, &gm)?);
        self.bias.grad = Some(b.sum_axis(&gm, 0)?);
        Ok(gm)
    }
}

impl<B: Backend> Module<B> for Conv2d<B> {
    fn forward(&mut self, b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
        let shape = B::shape_of(x);
        let geom = ConvGeom::new(&self.describe(), &shape, self.kernel, self.stride, self.pad)?;
        if geom.c != self.channels.0 {
            return Err(NnError::shape(
                self.describe(),
                format!("input {shape:?} has {} channels", geom.c),
            ));
        }
        let cols = b.layout(x, &|a| window::im2col(a, &geom), &|a| {
            window::im2col(a, &geom)
        })?;
        let y = b.matmul(&cols, &self.weight.value)?;
        let y = b.add_broadcast(&y, &self.bias.value)?;
        let y = b.reshape(&y, &[geom.n, geom.ho(), geom.wo(), self.channels.1])?;
        if self.training {
            self.cache = Some((geom, cols));
        }
        b.permute(&y, &[0, 3, 1, 2])
    }

    fn backward(&mut self, b: &mut B, g: &B::Tensor) -> Result<B::Tensor> {
        let name = self.describe();
        let (geom, cols) = take(&mut self.cache, &name)?;
        let gm = self.grads(b, &cols, g, &geom)?;
        let wt = b.permute(&self.weight.value, &[1, 0])?;
        // col2im (a sum of up to k*k overlapping patches) is applied to the local products, so
        // only the image-shaped result is reshared and truncated: for LeNet's conv2 that is
        // 2,880 words per sample instead of 32,000.
        b.matmul_map(&gm, &wt, &|a| window::col2im(a, &geom), &|a| {
            window::col2im(a, &geom)
        })
    }

    fn backward_params(&mut self, b: &mut B, g: &B::Tensor) -> Result<()> {
        let name = self.describe();
        let (geom, cols) = take(&mut self.cache, &name)?;
        self.grads(b, &cols, g, &geom).map(drop)
    }

    fn params(&self) -> Vec<&Param<B::Tensor>> {
        vec![&self.weight, &self.bias]
    }

    fn params_mut(&mut self) -> Vec<&mut Param<B::Tensor>> {
        vec![&mut self.weight, &mut self.bias]
    }

    fn set_training(&mut self, on: bool) {
        self.training = on;
        if !on {
            self.cache = None;
        }
    }

    fn describe(&self) -> String {
        format!(
            "Conv2d({} -> {}, {}x{}, stride {}, padding {})",
            self.channels.0, self.channels.1, self.kernel, self.kernel, self.stride, self.pad
        )
    }
}
