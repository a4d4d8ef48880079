//! Helpers shared by the integration tests.
#![allow(dead_code)]

use ndarray::ArrayD;

/// Largest absolute element-wise difference (the shapes must agree; NaN counts as infinite).
pub fn max_diff(a: &ArrayD<f64>, b: &ArrayD<f64>) -> f64 {
    assert_eq!(a.shape(), b.shape());
    mpc_nn::train::max_abs_diff(a, b)
}

/// A worst-case bound on `|secure forward - exact forward|` of `model` on `x` at `frac_bits`
/// fractional bits with exact truncation, for models of Linear / Conv2d layers (named
/// `L.weight`, `L.bias`, in Trefoil's layout) and ReLU, max-pooling and flatten.
///
/// With `u = 2^-f`, the input and every weight and bias are encoded with error at most `u / 2`,
/// and every product is truncated once per output element, adding at most `u`. If the input of
/// an affine layer with weight `W` (`n` inputs per output) is off by at most `e` and the exact
/// input is at most `M` in magnitude, each output is off by at most
/// `e * max_j sum_i |W_ij| + (u / 2) * (S + n e) + u / 2 + u`, where `S` bounds
/// `sum_i |x_i|` over one output's inputs (the largest row sum for a Linear, `n M` for a
/// convolution's patch)
/// (`x~ W~ - x W = e_x W + x~ e_W`, plus the bias's encoding and the truncation). ReLU,
/// max-pooling and flatten are computed exactly on shares (comparisons and products by 0/1
/// masks, no truncation) and do not increase the largest error. `M` per layer comes from the
/// plaintext forward's trace. The bound is worst-case (every rounding error of one sign, adding
/// up); measured errors are typically 100x smaller.
pub fn fixed_point_bound(
    model: &mut mpc_nn::Sequential<mpc_nn::Plain>,
    x: &ArrayD<f64>,
    frac_bits: u32,
) -> f64 {
    use mpc_nn::Module;
    let u = 2f64.powi(-(frac_bits as i32));
    model.set_training(false);
    model.keep_trace(true);
    model.forward(&mut mpc_nn::Plain::new(), x).unwrap();
    let acts: Vec<ArrayD<f64>> = model.trace().unwrap().0.to_vec();
    model.keep_trace(false);
    let max_abs = |a: &ArrayD<f64>| a.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let mut e = u / 2.0;
    let mut input = x.clone();
    for (i, (name, _)) in model.layers().iter().enumerate() {
        if let Some(w) = model.param(&format!("{name}.weight")) {
            let w = w
                .value
                .view()
                .into_dimensionality::<ndarray::Ix2>()
                .unwrap();
            let n = w.nrows();
            let col_sum = w
                .columns()
                .into_iter()
                .map(|c| c.iter().map(|v| v.abs()).sum::<f64>())
                .fold(0.0, f64::max);
            // sum_i |x_i| over one output's inputs: a Linear's row of the input, or at most
            // n * max |x| for a convolution's patch.
            let l1 = if input.ndim() == 2 && input.shape()[1] == n {
                input
                    .outer_iter()
                    .map(|r| r.iter().map(|v| v.abs()).sum::<f64>())
                    .fold(0.0, f64::max)
            } else {
                n as f64 * max_abs(&input)
            };
            e = e * col_sum + u / 2.0 * (l1 + n as f64 * e) + 1.5 * u;
        }
        input = acts[i].clone();
    }
    e
}
