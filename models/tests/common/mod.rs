//! Shared pieces of the accuracy tests: one training recipe run on the plaintext twin and on
//! three parties (data partitioned horizontally across the parties).
#![allow(dead_code, clippy::unwrap_used)]

use mpc_core::Party;
use mpc_nn::data::Dataset;
use mpc_nn::loss::Loss;
use mpc_nn::optim::Optimizer;
use mpc_nn::share::{Block, Standardizer, share_rows};
use mpc_nn::train::{Metrics, TrainConfig, evaluate, fit};
use mpc_nn::{Backend, Plain, Result, Sequential};
use ndarray::Array2;

/// Targets of a dataset: the 0/1 column for a binary task, one-hot rows otherwise.
pub fn targets(ds: &Dataset) -> Array2<f64> {
    if ds.n_classes == 2 {
        ds.labels_column()
    } else {
        ds.one_hot()
    }
}

/// What a training recipe needs besides the data.
pub struct Recipe<B: Backend> {
    pub model: fn(&mut B) -> Result<Sequential<B>>,
    pub loss: Box<dyn Loss<B> + Sync>,
    pub opt: fn() -> Box<dyn Optimizer<B>>,
    pub cfg: TrainConfig,
    pub standardize: bool,
    /// Reshape rows to this per-sample shape (e.g. `[1, 8, 8]`) before the model.
    pub sample_shape: Option<Vec<usize>>,
}

fn reshape<B: Backend>(b: &mut B, x: &B::Tensor, s: &Option<Vec<usize>>) -> Result<B::Tensor> {
    match s {
        None => Ok(x.clone()),
        Some(s) => {
            let n = B::shape_of(x)[0];
            let mut shape = vec![n];
            shape.extend_from_slice(s);
            b.reshape(x, &shape)
        }
    }
}

/// Standardise (statistics of the training data), train, evaluate on the test data.
pub fn train_eval<B: Backend>(
    b: &mut B,
    r: &Recipe<B>,
    x: &B::Tensor,
    y: &B::Tensor,
    xt: &B::Tensor,
    yt: &B::Tensor,
) -> Result<(Metrics, Sequential<B>)> {
    let (x, xt) = if r.standardize {
        let st = Standardizer::fit(b, x)?;
        (st.transform(b, x)?, st.transform(b, xt)?)
    } else {
        (x.clone(), xt.clone())
    };
    let x = reshape(b, &x, &r.sample_shape)?;
    let xt = reshape(b, &xt, &r.sample_shape)?;
    let mut model = (r.model)(b)?;
    let mut opt = (r.opt)();
    fit(
        b,
        &mut model,
        r.loss.as_ref(),
        opt.as_mut(),
        &x,
        y,
        &r.cfg,
        &mut |_, _, _| Ok(()),
    )?;
    let m = evaluate(b, &mut model, &xt, yt, None, 512)?;
    Ok((m, model))
}

/// The plaintext twin of a recipe.
pub fn plain_run(r: &Recipe<Plain>, train: &Dataset, test: &Dataset) -> Metrics {
    let mut b = Plain::new();
    let x = train.features.clone().into_dyn();
    let y = targets(train).into_dyn();
    let xt = test.features.clone().into_dyn();
    let yt = targets(test).into_dyn();
    train_eval(&mut b, r, &x, &y, &xt, &yt).unwrap().0
}

/// Shares a dataset held in row blocks by the three parties (party `i` holds block `i`).
pub fn share_partitioned(
    p: &mut Party,
    parts: &[Dataset],
    with_labels: bool,
) -> Result<mpc_core::AShare> {
    let mats: Vec<Array2<f64>> = parts
        .iter()
        .map(|d| {
            if with_labels {
                targets(d)
            } else {
                d.features.clone()
            }
        })
        .collect();
    let blocks: Vec<Block<'_>> = mats
        .iter()
        .enumerate()
        .map(|(i, m)| Block {
            owner: i % 3,
            shape: m.dim(),
            data: (p.role() == i % 3).then_some(m),
        })
        .collect();
    share_rows(p, &blocks)
}

/// The secure run: training rows partitioned across the three parties, test rows held by party
/// 0; only the aggregates come out. `frac_bits` fractional bits.
pub fn secure_run_at(
    frac_bits: u32,
    recipe: impl Fn() -> Recipe<Party> + Sync,
    train: &Dataset,
    test: &Dataset,
) -> Metrics {
    let parts = train.split_rows(3).unwrap();
    let tests = vec![test.clone()];
    let fixed = mpc_core::FixedPoint::new(frac_bits).unwrap();
    let cfg = mpc_core::HarnessConfig {
        fixed,
        ..Default::default()
    };
    let outs = mpc_nn::run_3pc_with(&cfg, |p| {
        mpc_nn::secure_session(p);
        let r = recipe();
        let x = share_partitioned(p, &parts, false)?;
        let y = share_partitioned(p, &parts, true)?;
        let xt = share_partitioned(p, &tests, false)?;
        let yt = share_partitioned(p, &tests, true)?;
        Ok(train_eval(p, &r, &x, &y, &xt, &yt)?.0)
    })
    .unwrap();
    outs[0]
}

/// Trains `recipe` on the twin and on shares (at `frac_bits`), prints both accuracies and times,
/// and asserts the secure accuracy is at least `min` and within `tol` of the twin's.
#[allow(clippy::too_many_arguments)]
pub fn check_parity(
    name: &str,
    plain_recipe: &Recipe<Plain>,
    secure_recipe: impl Fn() -> Recipe<Party> + Sync,
    frac_bits: u32,
    train: &Dataset,
    test: &Dataset,
    min: f64,
    tol: f64,
) {
    let t0 = std::time::Instant::now();
    let plain = plain_run(plain_recipe, train, test);
    let t1 = std::time::Instant::now();
    let secure = secure_run_at(frac_bits, secure_recipe, train, test);
    println!(
        "{name}: plain {:.4} ({:?}), secure {:.4} ({:?})",
        plain.accuracy,
        t1 - t0,
        secure.accuracy,
        t1.elapsed()
    );
    assert!(
        secure.accuracy >= min,
        "{name}: secure accuracy {}",
        secure.accuracy
    );
    assert!(
        (secure.accuracy - plain.accuracy).abs() <= tol + 1e-9,
        "{name}: secure {} vs plain {}",
        secure.accuracy,
        plain.accuracy
    );
}
