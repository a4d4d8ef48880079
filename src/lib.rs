//! # Trefoil
//!
//! Privacy-preserving machine learning by honest-majority three-party computation over
//! replicated secret sharing on the ring Z_2^64 (the ABY3 / Falcon family).
//!
//! This facade re-exports the member crates:
//! - [`core`]: shares, fixed-point tensors, protocols and the three-party harness;
//! - [`nn`]: layers, losses, optimizers, data and training on shares with a plaintext twin;
//! - [`models`]: ready models (logistic and softmax regression, MLPs, LeNet, a digits CNN);
//! - [`net`]: transports (in-process channels, TCP with mutual TLS, a network simulator) and
//!   their counters.
//!
//! and runs jobs on three servers:
//! - [`job`]: job files (train / infer, model, hyper-parameters, who holds which CSV, who
//!   receives what), validated with errors naming the key;
//! - [`run`]: running a job as one party over TCP + mutual TLS (the parties first check that
//!   they run the same job);
//! - [`intake`]: data owners outside the three servers sending each server its two share
//!   components (`trefoil share`);
//! - [`deploy`]: the three-process deployment on one machine (`trefoil demo --processes`) and
//!   the walkthrough's sample data. The `trefoil` binary wraps these (`trefoil --help`).
//!
//! and the product around them:
//! - [`policy`]: what a job may open and to whom, enforced by every party's reveal gate;
//! - [`audit`]: each party's hash-chained, signed log of reveals (`trefoil audit verify`);
//! - [`hospitals`]: the main demo (`cargo run --release`), training curves and plots;
//! - [`inference`]: private inference (model owner, client, helper);
//! - [`plot`]: SVG/PNG figures with an embedded font, shown inline in evcxr notebooks;
//! - [`progress`]: progress bars with ETA, or log lines off a terminal.
//!
//! ```
//! use trefoil::core::{run_3pc, FixedPoint};
//! use ndarray::array;
//!
//! let outs = run_3pc(|p| {
//!     let x = array![[1.5, -2.0], [0.25, 3.0]].into_dyn();
//!     let y = array![[2.0, 1.0], [-1.0, 0.5]].into_dyn();
//!     // party 0 owns x, party 1 owns y; the others learn nothing about them
//!     let sx = p.input_f64(0, (p.role() == 0).then_some(&x), x.shape())?;
//!     let sy = p.input_f64(1, (p.role() == 1).then_some(&y), y.shape())?;
//!     let sz = p.matmul(&sx, &sy)?;
//!     p.reveal_f64(&sz)
//! })
//! .unwrap();
//! let z = &outs[0];
//! assert!((z[[0, 0]] - 5.0).abs() < 1e-3); // 1.5*2 + (-2)*(-1)
//! # let _ = FixedPoint::default();
//! ```
#![deny(missing_docs)]

pub mod audit;
pub mod deploy;
pub mod error;
pub mod hospitals;
pub mod inference;
pub mod intake;
pub mod job;
pub mod plot;
pub mod policy;
pub mod progress;
pub mod run;

pub use error::{Error, Result};

pub use mpc_core as core;
pub use mpc_models as models;
pub use mpc_net as net;
pub use mpc_nn as nn;

/// The README's examples, compiled and run as doc-tests so they stay true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
