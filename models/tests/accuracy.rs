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
    let t0 = std::time::Instant::now();
    let plain = plain_run(&logreg_recipe(), &train, &test);
    let t1 = std::time::Instant::now();
    let secure = secure_run(logreg_recipe, &train, &test);
    println!(
        "logreg breast cancer: plain {:.4} ({:?}), secure {:.4} ({:?})",
        plain.accuracy,
        t1 - t0,
        secure.accuracy,
        t1.elapsed()
    );
    assert!(
        secure.accuracy >= 0.96,
        "secure accuracy {}",
        secure.accuracy
    );
    assert!(
        (secure.accuracy - plain.accuracy).abs() <= 0.01 + 1e-9,
        "secure {} vs plain {}",
        secure.accuracy,
        plain.accuracy
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
    let t0 = std::time::Instant::now();
    let plain = plain_run(&mlp_recipe(), &train, &test);
    let t1 = std::time::Instant::now();
    let secure = secure_run(mlp_recipe, &train, &test);
    println!(
        "mlp digits: plain {:.4} ({:?}), secure {:.4} ({:?})",
        plain.accuracy,
        t1 - t0,
        secure.accuracy,
        t1.elapsed()
    );
    assert!(
        secure.accuracy >= 0.95,
        "secure accuracy {}",
        secure.accuracy
    );
    assert!(
        (secure.accuracy - plain.accuracy).abs() <= 0.01 + 1e-9,
        "secure {} vs plain {}",
        secure.accuracy,
        plain.accuracy
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
    let t0 = std::time::Instant::now();
    let plain = plain_run(&cnn_recipe(), &train, &test);
    let t1 = std::time::Instant::now();
    let secure = secure_run(cnn_recipe, &train, &test);
    println!(
        "cnn digits: plain {:.4} ({:?}), secure {:.4} ({:?})",
        plain.accuracy,
        t1 - t0,
        secure.accuracy,
        t1.elapsed()
    );
    assert!(
        secure.accuracy >= 0.93,
        "secure accuracy {}",
        secure.accuracy
    );
    assert!(
        (secure.accuracy - plain.accuracy).abs() <= 0.015,
        "secure {} vs plain {}",
        secure.accuracy,
        plain.accuracy
    );
}
