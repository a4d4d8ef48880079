//! Training and inference workloads: `cargo run --release --example bench_nn [-- WORKLOAD...]`.
//!
//! Same JSON fields as `bench_suite` (one object per line): `workload`, `median_s` (all three
//! parties in one process, exact truncation), `plain_median_s` (the same computation on the
//! plaintext engine in the same run), `ratio`, `bytes_per_party`, `rounds`, `max_abs_err`
//! (revealed result vs the twin), plus `layers`: party 0's bytes, rounds and milliseconds per
//! layer (forward / backward) of the last run. Definitions (shared with the peer suite):
//! - `logreg_epoch`: X 10000 x 30 standard normal, `y = [X w* > 0]`, weights and bias 0,
//!   batch 128 (78 full batches), lr 0.1, exact sigmoid, one epoch;
//! - `mlp_infer`: 784-128-128-10 ReLU, batch 128, inputs U[0, 1), weights N(0, 1)/sqrt(fan_in),
//!   zero biases; `mlp_train_iter`: one SGD step (lr 0.1) with softmax cross-entropy;
//! - `lenet_infer16`: LeNet (SecureNN / Falcon) at batch 16; `lenet_train_iter`: one SGD step
//!   at batch 128.
//!
//! Every model is built (initial weights drawn from their seed and shared) before the timing.
//! Inference workloads time the forward pass; training workloads time the step (or epoch),
//! each timed run starting again from a copy of the initial shares. The plaintext twin is
//! timed the same way.

use anyhow::{Result, bail};
use mpc_core::{AShare, CoreError, Party, time_3pc};
use mpc_nn::layers::{Linear, relu};
use mpc_nn::loss::{BceWithLogits, SoftmaxCrossEntropy};
use mpc_nn::optim::SgdConfig;
use mpc_nn::train::{TrainConfig, fit, train_step};
use mpc_nn::{Backend, Initializer, Module, NnError, Plain, Sequential};
use ndarray::{ArrayD, IxDyn};
use std::time::{Duration, Instant};

const RUNS: usize = 5;

fn core(e: NnError) -> CoreError {
    CoreError::InvalidShape {
        op: "nn workload",
        detail: e.to_string(),
    }
}

fn median(mut s: Vec<Duration>) -> Duration {
    s.sort();
    s[s.len() / 2]
}

fn max_err(a: &[ArrayD<f64>], b: &[ArrayD<f64>]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| mpc_nn::train::max_abs_diff(x, y))
        .fold(0.0, f64::max) // never NaN: max_abs_diff turns NaN into infinity
}

/// What a workload does with a model, the same on both engines.
fn run_op<B: Backend>(
    name: &str,
    b: &mut B,
    model: &mut Sequential<B>,
    x: &B::Tensor,
    y: &B::Tensor,
) -> mpc_nn::Result<Vec<B::Tensor>> {
    match name {
        "logreg_epoch" => {
            let mut opt = SgdConfig::new(0.1).build();
            let cfg = TrainConfig {
                epochs: 1,
                batch_size: 128,
                seed: 1,
                drop_last: true,
            };
            fit(
                b,
                model,
                &BceWithLogits,
                &mut opt,
                x,
                y,
                &cfg,
                &mut |_, _, _| Ok(()),
            )?;
            Ok(model
                .params()
                .into_iter()
                .map(|p| p.value.clone())
                .collect())
        }
        "mlp_train_iter" | "lenet_train_iter" => {
            let mut opt = SgdConfig::new(0.1).build();
            train_step(b, model, &SoftmaxCrossEntropy, &mut opt, x, y)?;
            Ok(model
                .params()
                .into_iter()
                .map(|p| p.value.clone())
                .collect())
        }
        _ => {
            model.set_training(false);
            Ok(vec![model.forward(b, x)?])
        }
    }
}

fn build<B: Backend + 'static>(name: &str, b: &mut B) -> mpc_nn::Result<Sequential<B>> {
    match name {
        "logreg_epoch" => mpc_models::logistic_regression(b, 30),
        "mlp_infer" | "mlp_train_iter" => {
            // weights N(0, 1) / sqrt(fan_in), zero biases
            let mut init = Initializer::new(11);
            let mut m = Sequential::new();
            let dims = [784, 128, 128, 10];
            for i in 0..3 {
                let w = init.normal(&[dims[i], dims[i + 1]], 1.0 / (dims[i] as f64).sqrt());
                let bias = ArrayD::zeros(IxDyn(&[1, dims[i + 1]]));
                m.push(
                    &format!("fc{}", i + 1),
                    Linear::from_weights(b, &w, Some(&bias))?,
                );
                if i < 2 {
                    m.push(&format!("relu{}", i + 1), relu());
                }
            }
            Ok(m)
        }
        _ => mpc_models::lenet(b, 11),
    }
}

fn data(name: &str) -> (ArrayD<f64>, ArrayD<f64>) {
    let mut init = Initializer::new(5);
    match name {
        "logreg_epoch" => {
            let x = init.normal(&[10000, 30], 1.0);
            let w = init.normal(&[30, 1], 1.0);
            let x2 = x
                .clone()
                .into_dimensionality::<ndarray::Ix2>()
                .expect("2-D");
            let w2 = w.into_dimensionality::<ndarray::Ix2>().expect("2-D");
            let y = x2
                .dot(&w2)
                .mapv(|v| if v > 0.0 { 1.0 } else { 0.0 })
                .into_dyn();
            (x, y)
        }
        "mlp_infer" | "mlp_train_iter" => {
            let x = init.uniform(&[128, 784], 0.5).mapv(|v| v + 0.5);
            (x, one_hot(&mut init, 128))
        }
        "lenet_infer16" => (
            init.uniform(&[16, 1, 28, 28], 0.5).mapv(|v| v + 0.5),
            one_hot(&mut init, 16),
        ),
        _ => (
            init.uniform(&[128, 1, 28, 28], 0.5).mapv(|v| v + 0.5),
            one_hot(&mut init, 128),
        ),
    }
}

fn one_hot(init: &mut Initializer, n: usize) -> ArrayD<f64> {
    let u = init.uniform(&[n], 0.5);
    let mut y = ArrayD::zeros(IxDyn(&[n, 10]));
    for (i, v) in u.iter().enumerate() {
        y[[i, (((v + 0.5) * 10.0) as usize).min(9)]] = 1.0;
    }
    y
}

/// A secure model and its initial parameter shares.
type Kept = (Sequential<Party>, Vec<AShare>);

fn workload(name: &'static str) -> Result<()> {
    let (x, y) = data(name);
    // plaintext twin, same run
    let mut plain_times = Vec::new();
    let mut plain_out = Vec::new();
    for _ in 0..RUNS + 1 {
        let mut b = Plain::new();
        let mut m = build(name, &mut b)?;
        let t = Instant::now();
        plain_out = run_op(name, &mut b, &mut m, &x, &y)?;
        plain_times.push(t.elapsed());
    }
    plain_times.remove(0);
    let (timing, (outs, layers)) = time_3pc(
        1,
        RUNS,
        |p| {
            mpc_nn::secure_session(p);
            let sx = p.input_f64(0, (p.role() == 0).then_some(&x), x.shape())?;
            let sy = p.input_f64(1, (p.role() == 1).then_some(&y), y.shape())?;
            // the model is built (its initial weights drawn and shared) before the timing;
            // every timed training step starts again from a copy of those initial shares
            let model = build(name, p).map_err(core)?;
            let initial: Vec<AShare> = model.params().iter().map(|q| q.value.clone()).collect();
            Ok((sx, sy, std::cell::RefCell::new((model, initial))))
        },
        |p: &mut Party, (sx, sy, state): &(AShare, AShare, std::cell::RefCell<Kept>)| {
            let mut kept = state.borrow_mut();
            let (m, initial) = &mut *kept;
            if !(name.ends_with("infer") || name.ends_with("infer16")) {
                for (q, v) in m.params_mut().into_iter().zip(initial.iter()) {
                    q.value = v.clone();
                    q.grad = None;
                }
            }
            let out = run_op(name, p, m, sx, sy).map_err(core)?;
            let costs = m.costs().to_vec();
            let mut revealed = Vec::new();
            for t in &out {
                revealed.push(p.reveal_f64(t)?);
            }
            Ok((revealed, costs))
        },
    )?;
    let bytes = timing
        .per_op
        .iter()
        .map(|s| s.bytes_sent)
        .max()
        .unwrap_or(0);
    let layers: Vec<String> = layers
        .iter()
        .map(|c| {
            format!(
                "{}: fwd {} B {} r {:.1} ms, bwd {} B {} r {:.1} ms",
                c.name,
                c.forward_bytes,
                c.forward_rounds,
                c.forward_time.as_secs_f64() * 1e3,
                c.backward_bytes,
                c.backward_rounds,
                c.backward_time.as_secs_f64() * 1e3
            )
        })
        .collect();
    let (s, pl) = (
        timing.median().as_secs_f64(),
        median(plain_times).as_secs_f64(),
    );
    println!(
        "{{\"workload\":\"{name}\",\"median_s\":{s:.6},\"plain_median_s\":{pl:.6},\"ratio\":{:.1},\"bytes_per_party\":{bytes},\"rounds\":{},\"max_abs_err\":{:.3e},\"layers\":{:?}}}",
        s / pl,
        timing.rounds,
        max_err(&outs, &plain_out),
        layers.join("; ")
    );
    Ok(())
}

/// The cost of one round: 1,000 dependent one-word reveals, per reveal.
fn round_cost() -> Result<()> {
    let n = 1000;
    let (timing, _) = time_3pc(
        1,
        RUNS,
        |p| p.random_share(&[1], 16),
        |p: &mut Party, s: &AShare| {
            for _ in 0..n {
                p.reveal(s)?;
            }
            Ok(())
        },
    )?;
    let per = timing.median().as_secs_f64() / n as f64;
    println!(
        "{{\"workload\":\"round\",\"median_s\":{per:.9},\"rounds\":{},\"bytes_per_party\":{}}}",
        timing.rounds / n as u64,
        timing.per_op[0].bytes_sent / n as u64
    );
    Ok(())
}

fn main() -> Result<()> {
    if std::env::args().nth(1).as_deref() == Some("round") {
        return round_cost();
    }
    let all = [
        "logreg_epoch",
        "mlp_infer",
        "mlp_train_iter",
        "lenet_infer16",
        "lenet_train_iter",
    ];
    let args: Vec<String> = std::env::args().skip(1).collect();
    let chosen: Vec<&'static str> = if args.is_empty() {
        all.to_vec()
    } else {
        let mut v = Vec::new();
        for a in &args {
            match all.iter().find(|w| *w == a) {
                Some(w) => v.push(*w),
                None => bail!("unknown workload {a:?}; known: {}", all.join(", ")),
            }
        }
        v
    };
    // progress on stderr (a bar with ETA on a terminal, log lines otherwise); JSON on stdout
    let mut progress = trefoil::progress::Progress::new("bench_nn", chosen.len() as u64);
    for w in chosen {
        workload(w)?;
        progress.inc(1, w);
    }
    progress.finish("done");
    Ok(())
}
