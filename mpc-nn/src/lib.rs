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
