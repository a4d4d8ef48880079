//! Replicated secret sharing for three parties over the ring Z_2^64 (ABY3 / Falcon family).
//!
//! A secret `x` is split as `x = x0 + x1 + x2 (mod 2^64)`; party `i` holds `(x_i, x_{i+1})`.
//! The threat model is **semi-honest with an honest majority**: each party follows the protocol,
//! and no single party learns anything about the secrets beyond what is explicitly revealed;
//! two colluding parties can reconstruct everything.
//!
//! - [`fixed`]: fixed-point encoding and its safe ranges;
//! - [`share`]: [`AShare`] / [`BShare`] and the local (communication-free) operations;
//! - [`party`]: the [`Party`] context (role, channels, pairwise PRGs);
//! - [`sharing`]: input and reveal; [`mul`]: products and matmul; [`trunc`]: truncation;
//! - [`boolean`]: AND on boolean shares, bit slicing; [`convert`]: MSB, A2B, bit injection,
//!   bit-times-value; [`compare`]: comparisons, select, sign, abs, ReLU/DReLU; [`reduce`]: max,
//!   argmax, max-pooling;
//! - [`approx`], [`recip`], [`exp_log`], [`activation`]: fixed-point functions (reciprocal,
//!   division, square roots, exp, ln, sigmoid, tanh, softmax) with measured error bounds;
//! - [`gemm`]: the u64 GEMM kernel; [`harness`]: [`run_3pc`], the three-thread test harness.
//!
//! Every protocol's rounds and bytes are stated in its module docs and checked by tests against
//! the counters of [`mpc_net::CommStats`].
//!
//! ```
//! use mpc_core::run_3pc;
//! use ndarray::arr1;
//! let out = run_3pc(|p| {
//!     let x = arr1(&[1.5, -2.25]).into_dyn();
//!     let sx = p.input_f64(0, (p.role() == 0).then_some(&x), &[2])?;
//!     let sq = p.mul(&sx, &sx)?;
//!     p.reveal_f64(&sq)
//! })
//! .unwrap();
//! assert!((out[1][0] - 2.25).abs() < 1e-4 && (out[2][1] - 5.0625).abs() < 1e-4);
//! ```
#![deny(missing_docs)]

pub mod activation;
pub mod approx;
pub mod boolean;
pub mod compare;
pub mod convert;
mod error;
pub mod exp_log;
pub mod fixed;
pub mod gemm;
pub mod harness;
pub mod mul;
pub mod party;
pub mod prg;
pub mod recip;
pub mod reduce;
pub mod share;
pub mod sharing;
pub mod trunc;

pub use error::{CoreError, Result};
pub use fixed::FixedPoint;
pub use harness::{
    HarnessConfig, PartyError, Timing, keep_freed_memory, run_3pc, run_3pc_with, run_parties,
    time_3pc,
};
pub use mpc_net::CommStats;
pub use mul::LocalProduct;
pub use party::{Party, RevealEvent, RevealGate, RngState, TruncMode};
pub use share::{AShare, BShare};
