//! Parameter-free layers: activations, pooling, flattening, softmax.

use crate::backend::Backend;
use crate::error::{NnError, Result};
use crate::module::Module;
use crate::window::{self, ConvGeom};

fn take<T>(slot: &mut Option<T>, layer: &str) -> Result<T> {
    slot.take().ok_or_else(|| NnError::NoForward {
        layer: layer.to_string(),
    })
}

/// `max(x, 0)`; backward multiplies by the mask `[x >= 0]` (a product with no truncation).
pub struct Relu<B: Backend> {
    mask: Option<B::Tensor>,
    training: bool,
}

/// A [`Relu`] layer.
pub fn relu<B: Backend>() -> Relu<B> {
    Relu {
        mask: None,
        training: true,
    }
}

impl<B: Backend> Module<B> for Relu<B> {
    fn forward(&mut self, b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
        let (y, mask) = b.relu(x, self.training)?;
        self.mask = mask;
        Ok(y)
    }

    fn backward(&mut self, b: &mut B, g: &B::Tensor) -> Result<B::Tensor> {
        let m = take(&mut self.mask, "ReLU")?;
        b.mul(&m, g)
    }

    fn set_training(&mut self, on: bool) {
        self.training = on;
        self.mask = None;
    }

    fn describe(&self) -> String {
        "ReLU".into()
    }
}

/// The logistic function; backward uses the kept output: `g s (1 - s)`.
pub struct Sigmoid<B: Backend> {
    out: Option<B::Tensor>,
    training: bool,
}

/// A [`Sigmoid`] layer.
pub fn sigmoid<B: Backend>() -> Sigmoid<B> {
    Sigmoid {
        out: None,
        training: true,
    }
}

impl<B: Backend> Module<B> for Sigmoid<B> {
    fn forward(&mut self, b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
        let s = b.sigmoid(x)?;
        self.out = self.training.then(|| s.clone());
        Ok(s)
    }

    fn backward(&mut self, b: &mut B, g: &B::Tensor) -> Result<B::Tensor> {
        let s = take(&mut self.out, "Sigmoid")?;
        let ss = b.mul(&s, &s)?;
        let d = b.sub(&s, &ss)?;
        b.mul(&d, g)
    }

    fn set_training(&mut self, on: bool) {
        self.training = on;
        self.out = None;
    }

    fn describe(&self) -> String {
        "Sigmoid".into()
    }
}

/// `tanh`; backward uses the kept output: `g (1 - t^2)`.
pub struct Tanh<B: Backend> {
    out: Option<B::Tensor>,
    training: bool,
}

/// A [`Tanh`] layer.
pub fn tanh<B: Backend>() -> Tanh<B> {
    Tanh {
        out: None,
        training: true,
    }
}

impl<B: Backend> Module<B> for Tanh<B> {
    fn forward(&mut self, b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
        let t = b.tanh(x)?;
        self.out = self.training.then(|| t.clone());
        Ok(t)
    }

    fn backward(&mut self, b: &mut B, g: &B::Tensor) -> Result<B::Tensor> {
        let t = take(&mut self.out, "Tanh")?;
        let tt = b.mul(&t, &t)?;
        let d = b.scale(&tt, -1.0)?;
        let d = b.add_scalar(&d, 1.0)?;
        b.mul(&d, g)
    }

    fn set_training(&mut self, on: bool) {
        self.training = on;
        self.out = None;
    }

    fn describe(&self) -> String {
        "Tanh".into()
    }
}

/// Softmax over the last axis of `N x C` logits, for inference outputs. Training uses
/// [`crate::loss::SoftmaxCrossEntropy`] on the logits instead (its gradient is `p - y`), so this
/// layer has no backward pass.
pub struct Softmax;

/// A [`Softmax`] layer.
pub fn softmax() -> Softmax {
    Softmax
}

impl<B: Backend> Module<B> for Softmax {
    fn forward(&mut self, b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
        let axis = B::shape_of(x).len().saturating_sub(1);
        b.softmax(x, axis)
    }

    fn backward(&mut self, _b: &mut B, _g: &B::Tensor) -> Result<B::Tensor> {
        Err(NnError::Config(
            "Softmax is an inference layer: train on logits with SoftmaxCrossEntropy".into(),
        ))
    }

    fn describe(&self) -> String {
        "Softmax".into()
    }
}

/// Reshapes `N, ...` to `N x (product of the rest)`.
#[derive(Default)]
pub struct Flatten {
    input_shape: Option<Vec<usize>>,
}

/// A [`Flatten`] layer.
pub fn flatten() -> Flatten {
    Flatten::default()
}

impl<B: Backend> Module<B> for Flatten {
    fn forward(&mut self, b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
        let shape = B::shape_of(x);
        let Some(&n) = shape.first() else {
            return Err(NnError::shape("Flatten", "a 0-d tensor has no batch axis"));
        };
        let rest = shape[1..].iter().product();
        self.input_shape = Some(shape);
        b.reshape(x, &[n, rest])
    }

    fn backward(&mut self, b: &mut B, g: &B::Tensor) -> Result<B::Tensor> {
        let shape = self.input_shape.clone().ok_or_else(|| NnError::NoForward {
            layer: "Flatten".into(),
        })?;
        b.reshape(g, &shape)
    }

    fn describe(&self) -> String {
        "Flatten".into()
    }
}

/// Max-pooling with a square window (no padding); backward routes the gradient through the
/// one-hot argmax mask of the forward pass.
pub struct MaxPool2d<B: Backend> {
    kernel: usize,
    stride: usize,
    cache: Option<(B::Tensor, Vec<usize>)>,
    training: bool,
}

/// A [`MaxPool2d`] layer.
pub fn max_pool2d<B: Backend>(kernel: usize, stride: usize) -> MaxPool2d<B> {
    MaxPool2d {
        kernel,
        stride,
        cache: None,
        training: true,
    }
}

impl<B: Backend> Module<B> for MaxPool2d<B> {
    fn forward(&mut self, b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
        let (y, mask) = b.maxpool2d(x, self.kernel, self.stride)?;
        self.cache = self.training.then(|| (mask, B::shape_of(x)));
        Ok(y)
    }

    fn backward(&mut self, b: &mut B, g: &B::Tensor) -> Result<B::Tensor> {
        let (mask, shape) = take(&mut self.cache, "MaxPool2d")?;
        b.maxpool2d_backward(g, &mask, &shape, self.kernel, self.stride)
    }

    fn set_training(&mut self, on: bool) {
        self.training = on;
        self.cache = None;
    }

    fn describe(&self) -> String {
        format!("MaxPool2d({}, stride {})", self.kernel, self.stride)
    }
}

/// Average pooling with a square window (no padding): window sums (local) times `1 / k^2`.
pub struct AvgPool2d {
    kernel: usize,
    stride: usize,
    geom: Option<ConvGeom>,
}

/// An [`AvgPool2d`] layer.
pub fn avg_pool2d(kernel: usize, stride: usize) -> AvgPool2d {
    AvgPool2d {
        kernel,
        stride,
        geom: None,
    }
}

impl<B: Backend> Module<B> for AvgPool2d {
    fn forward(&mut self, b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
        let g = ConvGeom::new("AvgPool2d", &B::shape_of(x), self.kernel, self.stride, 0)?;
        self.geom = Some(g);
        let s = b.layout(x, &|a| window::window_sum(a, &g), &|a| {
            window::window_sum(a, &g)
        })?;
        b.scale(&s, 1.0 / (self.kernel * self.kernel) as f64)
    }

    fn backward(&mut self, b: &mut B, grad: &B::Tensor) -> Result<B::Tensor> {
        let g = self.geom.ok_or_else(|| NnError::NoForward {
            layer: "AvgPool2d".into(),
        })?;
        let s = b.scale(grad, 1.0 / (self.kernel * self.kernel) as f64)?;
        b.layout(&s, &|a| window::window_spread(a, &g), &|a| {
            window::window_spread(a, &g)
        })
    }

    fn describe(&self) -> String {
        format!("AvgPool2d({}, stride {})", self.kernel, self.stride)
    }
}
