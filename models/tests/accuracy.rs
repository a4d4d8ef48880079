//! Accuracy parity on real datasets: secure training (three parties, data partitioned across
//! them, exact truncation) against the plaintext twin with the same initial weights and the
//! same batch order.
#![allow(clippy::unwrap_used)]
mod common;
use common::*;
use mpc_models::logistic_regression;
use mpc_nn::Backend;
use mpc_nn::data::breast_cancer;
use mpc_nn::loss::BceWithLogits;
use mpc_nn::optim::SgdConfig;
use mpc_nn::train::TrainConfig;

fn logreg_recipe<B: Backend + 'static>() -> Recipe<B> {
    Recipe {
        model: |b| logistic_regression(b, 30),
        loss: Box::new(BceWithLogits),
        opt: || Box::new(SgdConfig::new(0.5).build()),
        cfg: TrainConfig {
            epochs: 10,
            batch_size: 32,
            seed: 7,
            drop_last: false,
        },
        standardize: true,
        sample_shape: None,
    }
}

/// Logistic regression on breast cancer (standardised, stratified 80/20 split): secure test
/// accuracy at least 96% and within 1 point of the twin.
#[test]
fn logistic_regression_breast_cancer() {
    let ds = breast_cancer().unwrap();
    let (train, test) = ds.train_test_split(0.2, 42, true).unwrap();
    check_parity(
        "logreg breast cancer",
        &logreg_recipe(),
        logreg_recipe,
        16,
        &train,
        &test,
        0.96,
        0.01,
    );
}

fn digits_split() -> (mpc_nn::data::Dataset, mpc_nn::data::Dataset) {
    let mut ds = mpc_nn::data::digits().unwrap();
    ds.features.mapv_inplace(|v| v / 16.0); // pixels 0..16 -> [0, 1]
    ds.train_test_split(0.2, 42, true).unwrap()
}

fn mlp_recipe<B: Backend + 'static>() -> Recipe<B> {
    Recipe {
        model: |b| mpc_models::mlp(b, &mpc_models::MlpConfig::new(64, &[64], 10)),
        loss: Box::new(mpc_nn::loss::SoftmaxCrossEntropy),
        opt: || {
            Box::new(
                SgdConfig {
                    lr: 0.1,
                    momentum: 0.9,
                    weight_decay: 0.0,
                }
                .build(),
            )
        },
        cfg: TrainConfig {
            epochs: 8,
            batch_size: 32,
            seed: 3,
            drop_last: false,
        },
        standardize: false,
        sample_shape: None,
    }
}

/// MLP on digits: at least 95% and within 1 point of its twin.
#[test]
fn mlp_digits() {
    let (train, test) = digits_split();
    check_parity(
        "mlp digits",
        &mlp_recipe(),
        mlp_recipe,
        16,
        &train,
        &test,
        0.95,
        0.01,
    );
}

fn cnn_recipe<B: Backend + 'static>() -> Recipe<B> {
    Recipe {
        model: |b| mpc_models::digits_cnn(b, 1),
        loss: Box::new(mpc_nn::loss::SoftmaxCrossEntropy),
        opt: || {
            Box::new(
                SgdConfig {
                    lr: 0.05,
                    momentum: 0.9,
                    weight_decay: 0.0,
                }
                .build(),
            )
        },
        cfg: TrainConfig {
            epochs: 4,
            batch_size: 32,
            seed: 3,
            drop_last: false,
        },
        standardize: false,
        sample_shape: Some(vec![1, 8, 8]),
    }
}

/// The small CNN on digits: at least 93%.
#[test]
fn cnn_digits() {
    let (train, test) = digits_split();
    check_parity(
        "cnn digits",
        &cnn_recipe(),
        cnn_recipe,
        16,
        &train,
        &test,
        0.93,
        0.015,
    );
}

/// Horizontally and vertically partitioned training give the same model as pooled training (up
/// to fixed-point error): the same weights after training, whoever held which rows or columns.
#[test]
fn partitioned_training_matches_pooled() {
    use mpc_nn::share::{Block, share_columns, share_rows};
    let ds = breast_cancer().unwrap();
    let (train, _) = ds.train_test_split(0.2, 42, true).unwrap();
    let x = train.features.clone();
    let y = train.labels_column();
    let (n, d) = x.dim();
    let cfg = TrainConfig {
        epochs: 2,
        batch_size: 64,
        seed: 9,
        drop_last: false,
    };
    let outs = mpc_nn::run_3pc(|p| {
        mpc_nn::secure_session(p);
        let role = p.role();
        let (xd, yd) = (x.clone().into_dyn(), y.clone().into_dyn());
        // pooled: party 0 holds everything
        let pooled = p.input_f64(0, (role == 0).then_some(&xd), &[n, d])?;
        // horizontal: rows split over the three parties
        let rows: Vec<ndarray::Array2<f64>> = train
            .split_rows(3)?
            .into_iter()
            .map(|t| t.features)
            .collect();
        let hb: Vec<Block<'_>> = rows
            .iter()
            .enumerate()
            .map(|(i, m)| Block {
                owner: i,
                shape: m.dim(),
                data: (role == i).then_some(m),
            })
            .collect();
        let horizontal = share_rows(p, &hb)?;
        // vertical: columns split over the three parties (labels with party 2)
        let cols = train.split_columns(3)?;
        let vb: Vec<Block<'_>> = cols
            .iter()
            .enumerate()
            .map(|(i, m)| Block {
                owner: i,
                shape: m.dim(),
                data: (role == i).then_some(m),
            })
            .collect();
        let vertical = share_columns(p, &vb)?;
        let sy = p.input_f64(2, (role == 2).then_some(&yd), &[n, 1])?;
        let mut weights = Vec::new();
        for sx in [&pooled, &horizontal, &vertical] {
            let st = mpc_nn::share::Standardizer::fit(p, sx)?;
            let sx = st.transform(p, sx)?;
            let mut m = logistic_regression(p, d)?;
            let mut opt = SgdConfig::new(0.5).build();
            mpc_nn::train::fit(
                p,
                &mut m,
                &BceWithLogits,
                &mut opt,
                &sx,
                &sy,
                &cfg,
                &mut |_, _, _| Ok(()),
            )?;
            let w = m.param("linear.weight").map(|q| q.value.clone());
            let w = w.ok_or_else(|| mpc_nn::NnError::Config("no weight".into()))?;
            weights.push(p.reveal_f64(&w)?);
        }
        Ok(weights)
    })
    .unwrap();
    let w = &outs[0];
    let diff = |a: &ndarray::ArrayD<f64>, b: &ndarray::ArrayD<f64>| {
        a.iter()
            .zip(b.iter())
            .map(|(u, v)| (u - v).abs())
            .fold(0.0, f64::max)
    };
    let scale = w[0].iter().fold(0.0f64, |a, v| a.max(v.abs()));
    assert!(
        scale > 0.1,
        "the model must have learnt something: max |w| = {scale}"
    );
    assert!(
        diff(&w[0], &w[1]) < 0.01,
        "horizontal vs pooled: {}",
        diff(&w[0], &w[1])
    );
    assert!(
        diff(&w[0], &w[2]) < 0.01,
        "vertical vs pooled: {}",
        diff(&w[0], &w[2])
    );
}
