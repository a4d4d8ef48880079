//! Parameter initialisation from a seed the parties agree on.
//!
//! Initial weights are **public randomness**: every party (and the plaintext twin) draws the
//! same values from ChaCha20 seeded with the agreed seed, so they carry no data and the secure
//! model starts exactly where its twin does. Each tensor takes the next stream of the
//! initializer, so two models built in the same order get identical weights.

use ndarray::{ArrayD, IxDyn};
use rand::rngs::ChaCha20Rng;
use rand::{RngExt, SeedableRng};

/// Draws initial weights tensor by tensor from one agreed seed.
#[derive(Debug, Clone)]
pub struct Initializer {
    seed: u64,
    next_stream: u64,
}

impl Initializer {
    /// An initializer for `seed`.
    pub fn new(seed: u64) -> Initializer {
        Initializer {
            seed,
            next_stream: 0,
        }
    }

    fn rng(&mut self) -> ChaCha20Rng {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&self.seed.to_le_bytes());
        key[8..16].copy_from_slice(&self.next_stream.to_le_bytes());
        self.next_stream += 1;
        ChaCha20Rng::from_seed(key)
    }

    /// Uniform in `[-bound, bound]`.
    pub fn uniform(&mut self, shape: &[usize], bound: f64) -> ArrayD<f64> {
        let mut r = self.rng();
        ArrayD::from_shape_simple_fn(IxDyn(shape), || r.random_range(-bound..=bound))
    }

    /// Normal with mean 0 and standard deviation `std` (Box-Muller).
    pub fn normal(&mut self, shape: &[usize], std: f64) -> ArrayD<f64> {
        let mut r = self.rng();
        ArrayD::from_shape_simple_fn(IxDyn(shape), || {
            let u1: f64 = 1.0 - r.random::<f64>();
            let u2: f64 = r.random::<f64>();
            std * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
        })
    }

    /// Kaiming (He) uniform for ReLU networks: `U(-sqrt(6 / fan_in), sqrt(6 / fan_in))`.
    pub fn kaiming_uniform(&mut self, shape: &[usize], fan_in: usize) -> ArrayD<f64> {
        self.uniform(shape, (6.0 / fan_in.max(1) as f64).sqrt())
    }

    /// Xavier (Glorot) uniform: `U(-sqrt(6 / (fan_in + fan_out)), ...)`.
    pub fn xavier_uniform(
        &mut self,
        shape: &[usize],
        fan_in: usize,
        fan_out: usize,
    ) -> ArrayD<f64> {
        self.uniform(shape, (6.0 / (fan_in + fan_out).max(1) as f64).sqrt())
    }
}

/// How a layer's weights start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InitScheme {
    /// Kaiming uniform (the default; for ReLU networks).
    #[default]
    Kaiming,
    /// Xavier uniform (for sigmoid and tanh networks).
    Xavier,
    /// All zeros (e.g. logistic regression).
    Zeros,
}
