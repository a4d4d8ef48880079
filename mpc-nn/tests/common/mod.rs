//! Helpers shared by the integration tests.

use ndarray::ArrayD;

/// Largest absolute element-wise difference (the shapes must agree).
pub fn max_diff(a: &ArrayD<f64>, b: &ArrayD<f64>) -> f64 {
    assert_eq!(a.shape(), b.shape());
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}
