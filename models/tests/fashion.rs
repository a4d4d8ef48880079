//! Longer runs on Fashion-MNIST (60,000 + 10,000 images from Debian's `dataset-fashion-mnist`,
//! under `/usr/share/datasets/fashion-mnist/`): one epoch of the SecureML MLP and of LeNet,
//! secure (three parties, exact truncation, 20 fractional bits: at 16 the weight updates'
//! rounding noise costs the MLP about 1.2 points after one epoch) against the plaintext twin. Ignored by default
//! (LeNet's epoch takes tens of minutes on 2 cores); run with
//! `cargo test --release -p mpc-models --test fashion -- --ignored --nocapture`.
#![allow(clippy::unwrap_used)]
mod common;
use common::*;
use mpc_nn::Backend;
use mpc_nn::data::{Dataset, fashion_mnist};
use mpc_nn::loss::SoftmaxCrossEntropy;
use mpc_nn::optim::SgdConfig;
use mpc_nn::train::TrainConfig;
use std::path::Path;

fn load() -> Option<(Dataset, Dataset)> {
    let dir = Path::new(mpc_nn::data::idx::FASHION_MNIST_DIR);
    if !dir.exists() {
        println!(
            "skipped: {} is absent (apt-get install dataset-fashion-mnist)",
            dir.display()
        );
        return None;
    }
    Some((
        fashion_mnist(dir, true, None).unwrap(),
        fashion_mnist(dir, false, None).unwrap(),
    ))
}

fn mlp_recipe<B: Backend + 'static>() -> Recipe<B> {
    Recipe {
        model: |b| mpc_models::mlp(b, &mpc_models::MlpConfig::secureml_a()),
        loss: Box::new(SoftmaxCrossEntropy),
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
            epochs: 1,
            batch_size: 128,
            seed: 1,
            drop_last: false,
        },
        standardize: false,
        sample_shape: None,
    }
}

fn lenet_recipe<B: Backend + 'static>() -> Recipe<B> {
    Recipe {
        model: |b| mpc_models::lenet(b, 1),
        loss: Box::new(SoftmaxCrossEntropy),
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
            epochs: 1,
            batch_size: 128,
            seed: 1,
            drop_last: false,
        },
        standardize: false,
        sample_shape: Some(vec![1, 28, 28]),
    }
}

#[test]
#[ignore = "one epoch on 60,000 images: about a minute secure"]
fn mlp_fashion_mnist_one_epoch() {
    let Some((train, test)) = load() else { return };
    check_parity(
        "mlp fashion-mnist",
        &mlp_recipe(),
        mlp_recipe,
        20,
        &train,
        &test,
        0.0,
        0.01,
    );
}

#[test]
#[ignore = "one epoch of LeNet on 60,000 images: tens of minutes secure"]
fn lenet_fashion_mnist_one_epoch() {
    let Some((train, test)) = load() else { return };
    check_parity(
        "lenet fashion-mnist",
        &lenet_recipe(),
        lenet_recipe,
        20,
        &train,
        &test,
        0.85,
        0.01,
    );
}
