//! Layers, losses, optimizers, data and training on secret-shared tensors, with a plaintext twin.
#![deny(missing_docs)]

pub mod data;
mod error;

pub use error::{NnError, Result};
