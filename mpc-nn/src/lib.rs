//! Layers, losses, optimizers, data and training on secret-shared tensors, with a plaintext twin.
//!
//! Every layer, loss and optimizer is written once against [`Backend`] and runs on two engines:
//! [`mpc_core::Party`] (replicated secret shares; the protocols of `mpc-core`) and [`Plain`]
//! (`f64`, optionally emulating fixed-point rounding). A model built from the same definition,
//! the same initial weights ([`Initializer`]: public randomness from an agreed seed) and the same
//! batch order trains in both, so every secure result has a plaintext twin.
//!
//! - [`backend`]: the engine trait and [`Plain`]; [`secure`]: the engine on shares;
//! - [`module`]: [`Module`], [`Param`], [`Sequential`] with per-layer costs and traces;
//! - [`layers`], [`loss`], [`optim`]: the building blocks;
//! - [`data`]: datasets, loaders, splits, batches; [`share`]: partitioned data to shares,
//!   secure standardisation; [`train`]: `fit`, `evaluate`, divergence reports;
//! - [`io`]: share checkpoints, safetensors export and import (PyTorch `state_dict`s by name);
//!   `torch` (feature `torch`, needs libtorch 2.13): `tch` models in, libtorch's forward out.
//!
//! One definition, two engines: the same network on party 0's secret input and on the plain
//! input agree to the fixed-point resolution.
//!
//! ```
//! use mpc_nn::layers::{linear, relu};
//! use mpc_nn::{Backend, InitScheme, Initializer, Module, Plain, Sequential};
//! use ndarray::ArrayD;
//!
//! fn mlp<B: Backend + 'static>(b: &mut B) -> mpc_nn::Result<Sequential<B>> {
//!     let mut init = Initializer::new(7); // public seed: both engines get the same weights
//!     let mut m = Sequential::new();
//!     m.push("fc1", linear(b, 4, 8, InitScheme::Kaiming, &mut init)?)
//!         .push("act", relu())
//!         .push("fc2", linear(b, 8, 2, InitScheme::Xavier, &mut init)?);
//!     Ok(m)
//! }
//!
//! let x = ArrayD::from_shape_fn(vec![3, 4], |i| (i[0] as f64 - i[1] as f64) / 4.0);
//! let mut plain = Plain::new();
//! let want = mlp(&mut plain)?.forward(&mut plain, &x)?;
//! let got = mpc_nn::run_3pc(|p| {
//!     let sx = p.input_f64(0, (p.role() == 0).then_some(&x), x.shape())?;
//!     let y = mlp(p)?.forward(p, &sx)?;
//!     Ok(p.reveal_f64(&y)?) // the only opening
//! })?;
//! assert!(got[0].iter().zip(&want).all(|(s, q)| (s - q).abs() < 1e-3));
//! # Ok::<(), mpc_nn::NnError>(())
//! ```
#![deny(missing_docs)]

pub mod backend;
pub mod data;
mod error;
pub mod guard;
pub mod init;
pub mod io;
pub mod layers;
pub mod loss;
pub mod module;
pub mod optim;
pub mod secure;
pub mod share;
#[cfg(feature = "torch")]
pub mod torch;
pub mod train;
pub mod window;

pub use backend::{Backend, Plain};
pub use error::{NnError, Result};
pub use init::{InitScheme, Initializer};
pub use module::{LayerCost, Module, Param, Sequential, format_costs};
pub use secure::secure_session;

/// Runs `f` as each of the three parties in one process (the `mpc-core` harness, default
/// settings) with closures that return [`NnError`].
pub fn run_3pc<T, F>(f: F) -> Result<[T; 3]>
where
    T: Send,
    F: Fn(&mut mpc_core::Party) -> Result<T> + Sync,
{
    mpc_core::run_parties(&mpc_core::HarnessConfig::default(), f)
}

/// [`run_3pc`] with explicit settings (e.g. more fractional bits for long training runs).
pub fn run_3pc_with<T, F>(cfg: &mpc_core::HarnessConfig, f: F) -> Result<[T; 3]>
where
    T: Send,
    F: Fn(&mut mpc_core::Party) -> Result<T> + Sync,
{
    mpc_core::run_parties(cfg, f)
}
