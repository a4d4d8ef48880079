//! Training and evaluation loops, written once for both engines, and the divergence report.
//!
//! [`fit`] runs epochs of mini-batches in a public random order ([`crate::data::batch_indices`]:
//! the permutation is public randomness from the agreed seed and carries no data). Nothing is
//! revealed by training itself; [`evaluate`] opens only two aggregates, the number of correct
//! predictions and (if asked) the mean loss.

use crate::backend::Backend;
use crate::data::batch_indices;
use crate::error::{NnError, Result};
use crate::loss::Loss;
use crate::module::{Module, Sequential};
use crate::optim::Optimizer;
use ndarray::ArrayD;

/// Settings of [`fit`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainConfig {
    /// Passes over the training data.
    pub epochs: usize,
    /// Rows per step.
    pub batch_size: usize,
    /// Seed of the public shuffle.
    pub seed: u64,
    /// Drop the last incomplete batch of an epoch.
    pub drop_last: bool,
}

impl TrainConfig {
    /// `epochs` passes with batches of `batch_size`, seed 0, the tail kept.
    pub fn new(epochs: usize, batch_size: usize) -> TrainConfig {
        TrainConfig {
            epochs,
            batch_size,
            seed: 0,
            drop_last: false,
        }
    }
}

/// Where training is, passed to the observer after every step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Epoch, from 0.
    pub epoch: usize,
    /// Step within the epoch, from 0.
    pub step: usize,
    /// Steps in this epoch.
    pub steps_in_epoch: usize,
    /// Rows of this step's batch.
    pub rows: usize,
}

impl Progress {
    /// True after the last step of an epoch.
    pub fn epoch_done(&self) -> bool {
        self.step + 1 == self.steps_in_epoch
    }
}

/// The per-step callback of [`fit`].
pub type Observer<'a, B> = dyn FnMut(&mut B, &mut Sequential<B>, &Progress) -> Result<()> + 'a;

fn rows_of<B: Backend>(t: &B::Tensor) -> Result<usize> {
    B::shape_of(t)
        .first()
        .copied()
        .ok_or_else(|| NnError::shape("fit", "data must have a row axis"))
}

/// One training step on a batch: forward, loss gradient, backward, optimizer update.
pub fn train_step<B: Backend>(
    b: &mut B,
    model: &mut Sequential<B>,
    loss: &dyn Loss<B>,
    opt: &mut dyn Optimizer<B>,
    x: &B::Tensor,
    y: &B::Tensor,
) -> Result<()> {
    let rows = rows_of::<B>(x)?;
    model.set_training(true);
    let out = model.forward(b, x)?;
    let g = loss.grad(b, &out, y)?;
    model.backward_params(b, &g)?;
    opt.step(b, model.params_mut(), 1.0 / rows as f64)
}

/// Trains `model` on `x` (`N x ...`) and `y` (`N x C`) for `cfg.epochs` epochs. After every
/// step `observer(b, model, progress)` runs (e.g. to evaluate at the end of an epoch, or to
/// report progress); an error from it stops training.
///
/// On shares, values that leave the fixed-point range (a diverging run, unstandardised features
/// or very large batches: products above `2^(62 - 2f)`, `2^30` at 16 fractional bits) turn
/// into garbage without an error, since detecting it means opening something. `fit` opens
/// nothing; to detect it, check the step's values with [`crate::guard::any_out_of_range`]
/// from the observer (one opened bit per check; the job runner's `[guard]` does this and
/// rolls back), and compare with the plaintext twin while developing.
///
/// Logistic regression on party 0's records, trained on shares; only the accuracy is opened:
///
/// ```
/// use mpc_nn::layers::linear;
/// use mpc_nn::loss::BceWithLogits;
/// use mpc_nn::optim::SgdConfig;
/// use mpc_nn::train::{TrainConfig, evaluate, fit};
/// use mpc_nn::{InitScheme, Initializer, Sequential};
/// use ndarray::ArrayD;
///
/// // label 1 where the first feature exceeds the second
/// let x = ArrayD::from_shape_fn(vec![40, 2], |i| ((i[0] * 7 + i[1] * 13) % 17) as f64 / 8.0 - 1.0);
/// let y = ArrayD::from_shape_fn(vec![40, 1], |i| f64::from(x[[i[0], 0]] > x[[i[0], 1]]));
/// let acc = mpc_nn::run_3pc(|p| {
///     mpc_nn::secure_session(p);
///     let own = p.role() == 0;
///     let sx = p.input_f64(0, own.then_some(&x), &[40, 2])?;
///     let sy = p.input_f64(0, own.then_some(&y), &[40, 1])?;
///     let mut model = Sequential::new();
///     model.push("fc", linear(p, 2, 1, InitScheme::Xavier, &mut Initializer::new(1))?);
///     let mut sgd = SgdConfig::new(1.0).build();
///     let cfg = TrainConfig::new(30, 8);
///     fit(p, &mut model, &BceWithLogits, &mut sgd, &sx, &sy, &cfg, &mut |_, _, _| Ok(()))?;
///     Ok(evaluate(p, &mut model, &sx, &sy, None, 64)?.accuracy)
/// })?;
/// assert!(acc[0] >= 0.9, "{}", acc[0]);
/// # Ok::<(), mpc_nn::NnError>(())
/// ```
///
/// # Errors
/// [`NnError::Dataset`] for data with no rows (and `epochs > 0`), [`NnError::Shape`] when `x`
/// and `y` differ in rows, [`NnError::Config`] when `drop_last` leaves no batch (`batch_size`
/// above the rows), [`NnError::Dataset`] for a `batch_size` of 0, and any error of a step.
#[allow(clippy::too_many_arguments)]
pub fn fit<B: Backend>(
    b: &mut B,
    model: &mut Sequential<B>,
    loss: &dyn Loss<B>,
    opt: &mut dyn Optimizer<B>,
    x: &B::Tensor,
    y: &B::Tensor,
    cfg: &TrainConfig,
    observer: &mut Observer<'_, B>,
) -> Result<()> {
    let n = rows_of::<B>(x)?;
    if rows_of::<B>(y)? != n {
        return Err(NnError::shape(
            "fit",
            format!("{n} rows of features but {} labels", rows_of::<B>(y)?),
        ));
    }
    if n == 0 && cfg.epochs > 0 {
        return Err(NnError::Dataset("fit: no rows to train on".into()));
    }
    for epoch in 0..cfg.epochs {
        let batches = batch_indices(n, cfg.batch_size, cfg.seed, epoch as u64, cfg.drop_last)?;
        if batches.is_empty() {
            return Err(NnError::Config(format!(
                "fit: batch_size {} with drop_last leaves no batch of the {n} rows",
                cfg.batch_size
            )));
        }
        let steps = batches.len();
        for (step, rows) in batches.iter().enumerate() {
            let xb = b.take_rows(x, rows)?;
            let yb = b.take_rows(y, rows)?;
            train_step(b, model, loss, opt, &xb, &yb)?;
            observer(
                b,
                model,
                &Progress {
                    epoch,
                    step,
                    steps_in_epoch: steps,
                    rows: rows.len(),
                },
            )?;
        }
    }
    model.set_training(false);
    Ok(())
}

/// Revealed aggregates of a model on a dataset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    /// Fraction of rows predicted correctly.
    pub accuracy: f64,
    /// Mean loss, when asked for.
    pub loss: Option<f64>,
    /// Rows evaluated.
    pub rows: usize,
}

/// The model's outputs on `x` in evaluation mode, in chunks of `chunk` rows (0 counts as 1).
/// An `x` with no rows is an [`NnError::Dataset`] error.
pub fn predict<B: Backend>(
    b: &mut B,
    model: &mut Sequential<B>,
    x: &B::Tensor,
    chunk: usize,
) -> Result<B::Tensor> {
    let n = rows_of::<B>(x)?;
    if n == 0 {
        return Err(NnError::Dataset("predict: no rows".into()));
    }
    model.set_training(false);
    let mut outs = Vec::new();
    for start in (0..n).step_by(chunk.max(1)) {
        let rows: Vec<usize> = (start..n.min(start + chunk.max(1))).collect();
        let xb = b.take_rows(x, &rows)?;
        outs.push(model.forward(b, &xb)?);
    }
    if outs.len() == 1 {
        return outs
            .pop()
            .ok_or_else(|| NnError::shape("predict", "no rows"));
    }
    b.concat(&outs, 0)
}

/// The number of correct predictions (still secret): logits `N x 1` against 0/1 labels
/// (`[z >= 0]`), or `N x C` against one-hot labels (argmax).
pub fn correct_count<B: Backend>(b: &mut B, out: &B::Tensor, y: &B::Tensor) -> Result<B::Tensor> {
    let shape = B::shape_of(out);
    if shape != B::shape_of(y) || shape.len() != 2 {
        return Err(NnError::shape(
            "accuracy",
            format!("outputs {shape:?}, labels {:?}", B::shape_of(y)),
        ));
    }
    let hits = if shape[1] == 1 {
        // [z >= 0] == y  <=>  1 - p - y + 2 p y
        let p = b.ge_zero(out)?;
        let py = b.mul(&p, y)?;
        let pf = b.lift(&p)?;
        let two_py = b.add(&py, &py)?;
        let p_plus_y = b.add(&pf, y)?;
        let s = b.sub(&two_py, &p_plus_y)?;
        b.add_scalar(&s, 1.0)?
    } else {
        let p = b.argmax(out, 1)?;
        b.mul(&p, y)?
    };
    let cols = b.sum_axis(&hits, 0)?;
    b.sum_axis(&cols, 1)
}

/// Accuracy (and, with `loss`, the mean loss) of `model` on `x`, `y`. Opens only these
/// aggregates to every party.
pub fn evaluate<B: Backend>(
    b: &mut B,
    model: &mut Sequential<B>,
    x: &B::Tensor,
    y: &B::Tensor,
    loss: Option<&dyn Loss<B>>,
    chunk: usize,
) -> Result<Metrics> {
    let rows = rows_of::<B>(x)?;
    let out = predict(b, model, x, chunk)?;
    let hits = correct_count(b, &out, y)?;
    let accuracy = b.reveal(&hits)?.iter().sum::<f64>().round() / rows as f64;
    let loss = match loss {
        Some(l) => {
            let v = l.value(b, &out, y)?;
            Some(b.reveal(&v)?.iter().sum())
        }
        None => None,
    };
    Ok(Metrics {
        accuracy,
        loss,
        rows,
    })
}

/// One row of a [`divergence_report`].
#[derive(Debug, Clone, PartialEq)]
pub struct Divergence {
    /// Layer name and description.
    pub layer: String,
    /// Largest absolute difference of the layer's output.
    pub activation: f64,
    /// Largest absolute difference of the gradient flowing into the layer's output.
    pub gradient: f64,
    /// Largest absolute value of the plaintext output, for scale.
    pub activation_scale: f64,
}

/// The largest absolute element-wise difference of `a` and `b`, for comparing a secure result
/// with its plaintext twin: infinite where the shapes differ or either side has a NaN (which
/// `f64::max` would silently drop).
pub fn max_abs_diff(a: &ArrayD<f64>, b: &ArrayD<f64>) -> f64 {
    if a.shape() != b.shape() {
        return f64::INFINITY;
    }
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y).abs())
        .fold(
            0.0,
            |m, d| if d.is_nan() { f64::INFINITY } else { m.max(d) },
        )
}

/// Where MPC diverges from plaintext: given the *revealed* per-layer traces of a secure model
/// (outputs and output gradients from [`Sequential::trace`], opened with the parties' consent)
/// and the traces of its plaintext twin on the same batch, the largest absolute difference layer
/// by layer.
pub fn divergence_report(
    names: &[(String, String)],
    secure: (&[ArrayD<f64>], &[ArrayD<f64>]),
    plain: (&[ArrayD<f64>], &[ArrayD<f64>]),
) -> Vec<Divergence> {
    names
        .iter()
        .enumerate()
        .map(|(i, (n, k))| {
            let act = match (secure.0.get(i), plain.0.get(i)) {
                (Some(s), Some(p)) => max_abs_diff(s, p),
                _ => f64::NAN,
            };
            let grad = match (secure.1.get(i), plain.1.get(i)) {
                (Some(s), Some(p)) => max_abs_diff(s, p),
                _ => f64::NAN,
            };
            let scale = plain
                .0
                .get(i)
                .map(|p| p.iter().fold(0.0f64, |a, v| a.max(v.abs())))
                .unwrap_or(f64::NAN);
            Divergence {
                layer: format!("{n}: {k}"),
                activation: act,
                gradient: grad,
                activation_scale: scale,
            }
        })
        .collect()
}

/// Renders a divergence report as a table.
pub fn format_divergence(rows: &[Divergence]) -> String {
    let mut s = String::from(
        "| layer | max |out| | max activation diff | max gradient diff |\n|---|---|---|---|\n",
    );
    for r in rows {
        s.push_str(&format!(
            "| {} | {:.3e} | {:.3e} | {:.3e} |\n",
            r.layer, r.activation_scale, r.activation, r.gradient
        ));
    }
    s
}
