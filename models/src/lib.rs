//! Ready models built from `mpc-nn` layers. Each constructor builds the same network on either
//! engine ([`mpc_nn::Plain`] or [`mpc_core::Party`]) with weights drawn from a public seed, so a
//! secure model and its plaintext twin start identical.
//!
//! | model | layers | input |
//! |---|---|---|
//! | [`logistic_regression`] | `Linear(d -> 1)` (zero init), logits for `BceWithLogits` | `N x d` |
//! | [`softmax_regression`] | `Linear(d -> C)` (zero init), logits for `SoftmaxCrossEntropy` | `N x d` |
//! | [`mlp`] | `Linear` + activation per hidden layer, `Linear` to the classes | `N x d` |
//! | [`MlpConfig::secureml_a`] | 784-128-128-10 with ReLU (SecureML network A) | `N x 784` |
//! | [`lenet`] | conv5x5x20-relu-maxpool2-conv5x5x50-relu-maxpool2-fc800x500-relu-fc500x10 | `N x 1 x 28 x 28` |
//! | [`digits_cnn`] | conv3x3x16 (pad 1)-relu-maxpool2-conv3x3x32 (pad 1)-relu-maxpool2-fc128x10 | `N x 1 x 8 x 8` |
//!
//! In the CNNs the ReLU runs *after* the max-pooling: `relu(maxpool(x)) = maxpool(relu(x))`
//! and the gradients agree (ReLU is monotone, and where a window's maximum is negative both give
//! zero), but the comparisons of the ReLU are 4x fewer. The layer names keep the usual
//! `relu1`, `pool1` labels.
//!
//! ```
//! use mpc_nn::{Plain, Module};
//! let mut b = Plain::new();
//! let mut m = mpc_models::logistic_regression(&mut b, 3).unwrap();
//! let x = ndarray::Array2::<f64>::ones((2, 3)).into_dyn();
//! assert_eq!(m.forward(&mut b, &x).unwrap().shape(), &[2, 1]); // logits of two rows
//! ```
#![deny(missing_docs)]

use mpc_nn::layers::{conv2d, flatten, linear, max_pool2d, relu, sigmoid, tanh};
use mpc_nn::{Backend, InitScheme, Initializer, NnError, Result, Sequential};

/// Binary logistic regression: one `Linear(d -> 1)` layer starting at zero; train with
/// [`mpc_nn::loss::BceWithLogits`].
pub fn logistic_regression<B: Backend + 'static>(
    b: &mut B,
    features: usize,
) -> Result<Sequential<B>> {
    let mut init = Initializer::new(0);
    Ok(Sequential::new().add(
        "linear",
        linear(b, features, 1, InitScheme::Zeros, &mut init)?,
    ))
}

/// Multi-class (softmax) regression: `Linear(d -> C)` starting at zero; train with
/// [`mpc_nn::loss::SoftmaxCrossEntropy`] on one-hot labels.
pub fn softmax_regression<B: Backend + 'static>(
    b: &mut B,
    features: usize,
    classes: usize,
) -> Result<Sequential<B>> {
    let mut init = Initializer::new(0);
    Ok(Sequential::new().add(
        "linear",
        linear(b, features, classes, InitScheme::Zeros, &mut init)?,
    ))
}

/// The hidden layers' activation of an [`mlp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Activation {
    /// ReLU (Kaiming init).
    #[default]
    Relu,
    /// Logistic sigmoid (Xavier init).
    Sigmoid,
    /// tanh (Xavier init).
    Tanh,
}

/// Shape and initialisation of an [`mlp`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MlpConfig {
    /// Input features.
    pub input: usize,
    /// Width of each hidden layer.
    pub hidden: Vec<usize>,
    /// Output classes (logits).
    pub classes: usize,
    /// Hidden activation.
    pub activation: Activation,
    /// Seed of the public initial weights.
    pub seed: u64,
}

impl MlpConfig {
    /// `input - hidden... - classes` with ReLU, seed 0.
    pub fn new(input: usize, hidden: &[usize], classes: usize) -> MlpConfig {
        MlpConfig {
            input,
            hidden: hidden.to_vec(),
            classes,
            activation: Activation::Relu,
            seed: 0,
        }
    }

    /// SecureML's network A: 784-128-128-10 with ReLU.
    pub fn secureml_a() -> MlpConfig {
        MlpConfig::new(784, &[128, 128], 10)
    }
}

/// A multi-layer perceptron (`fc1`, `act1`, ..., `out`) producing logits.
pub fn mlp<B: Backend + 'static>(b: &mut B, cfg: &MlpConfig) -> Result<Sequential<B>> {
    if cfg.input == 0 || cfg.classes == 0 || cfg.hidden.contains(&0) {
        return Err(NnError::Config(format!(
            "MLP with a zero-width layer: {cfg:?}"
        )));
    }
    let mut init = Initializer::new(cfg.seed);
    let scheme = match cfg.activation {
        Activation::Relu => InitScheme::Kaiming,
        _ => InitScheme::Xavier,
    };
    let mut m = Sequential::new();
    let mut width = cfg.input;
    for (i, &h) in cfg.hidden.iter().enumerate() {
        m.push(
            &format!("fc{}", i + 1),
            linear(b, width, h, scheme, &mut init)?,
        );
        let name = format!("act{}", i + 1);
        match cfg.activation {
            Activation::Relu => m.push(&name, relu()),
            Activation::Sigmoid => m.push(&name, sigmoid()),
            Activation::Tanh => m.push(&name, tanh()),
        };
        width = h;
    }
    m.push(
        "out",
        linear(b, width, cfg.classes, InitScheme::Xavier, &mut init)?,
    );
    Ok(m)
}

/// LeNet-5 as in SecureNN / Falcon for `1 x 28 x 28` images: conv5x5x20-relu-maxpool2-
/// conv5x5x50-relu-maxpool2-fc800x500-relu-fc500x10 (logits).
pub fn lenet<B: Backend + 'static>(b: &mut B, seed: u64) -> Result<Sequential<B>> {
    let mut init = Initializer::new(seed);
    let k = InitScheme::Kaiming;
    Ok(Sequential::new()
        .add("conv1", conv2d(b, 1, 20, 5, 1, 0, k, &mut init)?)
        .add("pool1", max_pool2d(2, 2))
        .add("relu1", relu())
        .add("conv2", conv2d(b, 20, 50, 5, 1, 0, k, &mut init)?)
        .add("pool2", max_pool2d(2, 2))
        .add("relu2", relu())
        .add("flatten", flatten())
        .add("fc1", linear(b, 800, 500, k, &mut init)?)
        .add("relu3", relu())
        .add("fc2", linear(b, 500, 10, InitScheme::Xavier, &mut init)?))
}

/// A small CNN for the `1 x 8 x 8` digits: conv3x3x16 (padding 1)-relu-maxpool2-conv3x3x32
/// (padding 1)-relu-maxpool2-fc128x10 (logits).
pub fn digits_cnn<B: Backend + 'static>(b: &mut B, seed: u64) -> Result<Sequential<B>> {
    let mut init = Initializer::new(seed);
    let k = InitScheme::Kaiming;
    Ok(Sequential::new()
        .add("conv1", conv2d(b, 1, 16, 3, 1, 1, k, &mut init)?)
        .add("pool1", max_pool2d(2, 2))
        .add("relu1", relu())
        .add("conv2", conv2d(b, 16, 32, 3, 1, 1, k, &mut init)?)
        .add("pool2", max_pool2d(2, 2))
        .add("relu2", relu())
        .add("flatten", flatten())
        .add("fc", linear(b, 128, 10, InitScheme::Xavier, &mut init)?))
}
