//! Shared helpers for the integration tests.
#![allow(dead_code)]

use ndarray::{ArrayD, IxDyn};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Unit in the last place at f = 16.
pub const ULP: f64 = 1.0 / 65536.0;

/// A seeded test RNG.
pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// Uniform values in [-bound, bound].
pub fn uniform(r: &mut StdRng, shape: &[usize], bound: f64) -> ArrayD<f64> {
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n).map(|_| r.random_range(-bound..=bound)).collect();
    ArrayD::from_shape_vec(IxDyn(shape), v).expect("shape")
}

/// Largest absolute element-wise difference (infinite where either side is NaN: a NaN must
/// fail a bound, not vanish in `f64::max`).
pub fn max_abs_diff(a: &ArrayD<f64>, b: &ArrayD<f64>) -> f64 {
    assert_eq!(a.shape(), b.shape());
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y).abs())
        .fold(
            0.0,
            |m, d| if d.is_nan() { f64::INFINITY } else { m.max(d) },
        )
}

/// Owner-only input helper: `Some(v)` at `owner`, `None` elsewhere.
pub fn own<T>(role: usize, owner: usize, v: &T) -> Option<&T> {
    (role == owner).then_some(v)
}
