//! Layers: [`Linear`], [`Conv2d`], activations, pooling, [`Flatten`], [`Softmax`].

mod activation;
mod linear;

pub use activation::{
    AvgPool2d, Flatten, MaxPool2d, Relu, Sigmoid, Softmax, Tanh, avg_pool2d, flatten, max_pool2d,
    relu, sigmoid, softmax, tanh,
};
pub use linear::{Conv2d, Linear, conv2d, linear};
