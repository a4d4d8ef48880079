//! Private inference: a model owner, a client and a helper server.
//!
//! The model owner (one party) holds trained weights (trained with Trefoil, or imported from a
//! safetensors file), the client (another party) holds queries, the third party only helps.
//! [`input_private_model`] secret-shares the owner's weights once; every [`private_predict`]
//! then secret-shares the client's queries, runs the model's forward on shares and opens the
//! result **to the client only**.
//!
//! What each party learns, under the honest-majority semi-honest assumption of the protocols
//! (no two parties collude; each follows the protocol):
//! - the client: the outputs it asked for (by default only the predicted class of each query,
//!   not the logits) and the public architecture (layer shapes); nothing else of the weights;
//! - the model owner and the helper: the number and shape of queries, nothing of their values
//!   or of the predictions.
//!
//! The prediction is exact up to the fixed-point error of the secure forward (16 fractional
//! bits by default); a query whose two best logits are closer than that error may get the
//! other class than the plaintext model gives it.
//!
//! ```
//! use trefoil::inference::{InferenceDemoConfig, digits_demo};
//! let r = digits_demo(&InferenceDemoConfig { batch: 8, ..Default::default() }).unwrap();
//! assert!(r.agreement >= 0.99, "{r}");
//! ```

use crate::error::{Error, Result};
use mpc_core::Party;
use mpc_models::{MlpConfig, mlp};
use mpc_nn::data::{Dataset, digits};
use mpc_nn::io::{NamedTensors, input_model, plain_params};
use mpc_nn::loss::SoftmaxCrossEntropy;
use mpc_nn::optim::SgdConfig;
use mpc_nn::train::{TrainConfig, fit, predict};
use mpc_nn::{Backend, Module, Plain, Sequential};
use ndarray::{ArrayD, Axis, IxDyn};
use std::time::{Duration, Instant};

/// What the client receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Output {
    /// The predicted class of each query (`N x 1`): the logits stay secret.
    #[default]
    Class,
    /// The model's raw outputs (`N x C`).
    Logits,
}

/// Enters the owner's weights into `model` (built from the public architecture by all three
/// parties) as secret shares. The owner passes `Some(weights)` by parameter name in Trefoil's
/// layout; the others pass `None`.
pub fn input_private_model(
    p: &mut Party,
    owner: usize,
    model: &mut Sequential<Party>,
    weights: Option<&NamedTensors>,
) -> Result<()> {
    input_model(p, owner, model, weights.map(Vec::as_slice))?;
    model.set_training(false);
    Ok(())
}

/// Runs `model` on the client's `queries` (shape `query_shape`, rows first; the client passes
/// `Some`, the others `None`) and opens the result to the client only: the client gets
/// `Some(output)`, the other parties `None`.
pub fn private_predict(
    p: &mut Party,
    model: &mut Sequential<Party>,
    client: usize,
    queries: Option<&ArrayD<f64>>,
    query_shape: &[usize],
    output: Output,
) -> Result<Option<ArrayD<f64>>> {
    if client >= 3 {
        return Err(Error::Config(format!(
            "client {client} is not a party (0, 1 or 2)"
        )));
    }
    if let Some(q) = queries
        && q.shape() != query_shape
    {
        return Err(Error::Config(format!(
            "queries have shape {:?} but {query_shape:?} was announced",
            q.shape()
        )));
    }
    if queries.is_some() != (p.role() == client) {
        return Err(Error::Config(format!(
            "party {} {} queries, but the client is party {client}",
            p.role(),
            if queries.is_some() {
                "passed"
            } else {
                "did not pass"
            }
        )));
    }
    let rows = query_shape.first().copied().unwrap_or(0).max(1);
    let x = p.input_f64(client, queries, query_shape)?;
    let out = predict(p, model, &x, rows)?;
    let opened = match output {
        Output::Logits => out,
        Output::Class => class_of(p, &out)?,
    };
    Ok(p.reveal_to_f64(client, &opened)?)
}

/// The predicted class of each row of `N x C` outputs, still shared: `argmax` as a one-hot
/// row times `(0, 1, ..., C-1)`; one output column means a binary model (class 1 when the
/// logit is at least 0).
fn class_of<B: Backend>(b: &mut B, out: &B::Tensor) -> Result<B::Tensor> {
    let shape = B::shape_of(out);
    let classes = shape.get(1).copied().unwrap_or(1);
    if classes == 1 {
        let bit = b.ge_zero(out)?;
        return Ok(b.lift(&bit)?);
    }
    let onehot = b.argmax(out, 1)?;
    let index = ArrayD::from_shape_fn(IxDyn(&[classes, 1]), |i| i[0] as f64);
    let index = b.constant(&index)?;
    Ok(b.matmul(&onehot, &index)?)
}

/// The plaintext model's predicted classes, for comparison.
pub fn plain_classes(model: &mut Sequential<Plain>, x: &ArrayD<f64>) -> Result<Vec<usize>> {
    let mut b = Plain::new();
    let out = predict(&mut b, model, x, 512)?;
    let cls = class_of(&mut b, &out)?;
    Ok(cls.iter().map(|&v| v.round().max(0.0) as usize).collect())
}

/// Settings of [`digits_demo`].
#[derive(Debug, Clone, PartialEq)]
pub struct InferenceDemoConfig {
    /// Queries in the batched run.
    pub batch: usize,
    /// The model owner.
    pub owner: usize,
    /// The client.
    pub client: usize,
    /// Seed of the owner's training and of the client's choice of images.
    pub seed: u64,
}

impl Default for InferenceDemoConfig {
    fn default() -> Self {
        InferenceDemoConfig {
            batch: 64,
            owner: 0,
            client: 1,
            seed: 7,
        }
    }
}

/// Cost of one private inference call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CallCost {
    /// Queries in the call.
    pub queries: usize,
    /// Wall time of the call (slowest party).
    pub latency: Duration,
    /// Bytes sent by each party.
    pub bytes: [u64; 3],
    /// Rounds of communication.
    pub rounds: u64,
}

impl CallCost {
    /// Bytes per query, summed over the parties.
    pub fn bytes_per_query(&self) -> f64 {
        self.bytes.iter().sum::<u64>() as f64 / self.queries.max(1) as f64
    }
}

/// What [`digits_demo`] measured.
#[derive(Debug, Clone, PartialEq)]
pub struct InferenceDemoReport {
    /// One query on its own.
    pub single: CallCost,
    /// A batch of queries in one call.
    pub batched: CallCost,
    /// The client's secure predictions of the batch.
    pub predictions: Vec<usize>,
    /// The true labels of the batch (known to the client only).
    pub labels: Vec<usize>,
    /// Fraction of the batch where the secure prediction equals the plaintext model's.
    pub agreement: f64,
    /// Accuracy of the secure predictions on the batch.
    pub accuracy: f64,
    /// What the owner and the helper received from the inference calls (always `0`).
    pub opened_to_others: usize,
    /// The settings.
    pub config: InferenceDemoConfig,
}

impl std::fmt::Display for InferenceDemoReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = &self.config;
        let helper = 3 - c.owner - c.client;
        writeln!(
            f,
            "Private inference: party {} owns an MLP 64-64-10, party {} (client) holds digit images, party {helper} helps.",
            c.owner, c.client
        )?;
        writeln!(
            f,
            "| call | queries | latency | bytes per party | bytes per query (all parties) | rounds |"
        )?;
        writeln!(f, "|---|---|---|---|---|---|")?;
        for (name, k) in [("one query", &self.single), ("batch", &self.batched)] {
            writeln!(
                f,
                "| {name} | {} | {:.1} ms | {} / {} / {} | {:.0} | {} |",
                k.queries,
                k.latency.as_secs_f64() * 1e3,
                k.bytes[0],
                k.bytes[1],
                k.bytes[2],
                k.bytes_per_query(),
                k.rounds
            )?;
        }
        let shown: Vec<String> = self
            .predictions
            .iter()
            .take(16)
            .map(|v| v.to_string())
            .collect();
        writeln!(f, "client's predictions (first 16): {}", shown.join(" "))?;
        writeln!(
            f,
            "agreement with the plaintext model: {:.1}%, accuracy on the batch: {:.1}%",
            100.0 * self.agreement,
            100.0 * self.accuracy
        )?;
        write!(
            f,
            "the owner and the helper received {} values from the inference; the client received no weights.",
            self.opened_to_others
        )
    }
}

fn roles_ok(c: &InferenceDemoConfig) -> Result<()> {
    if c.owner >= 3 || c.client >= 3 || c.owner == c.client {
        return Err(Error::Config(format!(
            "owner {} and client {} must be two different parties (0, 1 or 2)",
            c.owner, c.client
        )));
    }
    if c.batch == 0 {
        return Err(Error::Config("batch must be at least 1 query".into()));
    }
    Ok(())
}

/// The owner's model: an MLP 64-64-10 trained in the clear on the owner's own digits.
fn owner_model(train: &Dataset, seed: u64) -> Result<Sequential<Plain>> {
    let mut b = Plain::new();
    let mut m = mlp(&mut b, &MlpConfig::new(64, &[64], 10))?;
    let mut opt = SgdConfig {
        lr: 0.1,
        momentum: 0.9,
        weight_decay: 0.0,
    }
    .build();
    let cfg = TrainConfig {
        epochs: 8,
        batch_size: 32,
        seed,
        drop_last: false,
    };
    let x = train.features.clone().into_dyn();
    let y = train.one_hot().into_dyn();
    fit(
        &mut b,
        &mut m,
        &SoftmaxCrossEntropy,
        &mut opt,
        &x,
        &y,
        &cfg,
        &mut |_, _, _| Ok(()),
    )?;
    Ok(m)
}

/// The private-inference demo on the embedded digits: the owner trains its model in the clear
/// (its own data, its own machine), then one query and a batch of queries are answered
/// privately; latency, bytes and rounds are measured per call.
pub fn digits_demo(cfg: &InferenceDemoConfig) -> Result<InferenceDemoReport> {
    roles_ok(cfg)?;
    let mut ds = digits()?;
    ds.features.mapv_inplace(|v| v / 16.0);
    let (train, test) = ds.train_test_split(0.2, cfg.seed, true)?;
    let n = cfg.batch.min(test.len());
    let mut plain = owner_model(&train, cfg.seed)?;
    let weights = plain_params(&plain);
    let queries = test
        .features
        .slice(ndarray::s![..n, ..])
        .to_owned()
        .into_dyn();
    let labels: Vec<usize> = test.labels.iter().take(n).copied().collect();
    let expected = plain_classes(&mut plain, &queries)?;
    let one = queries.slice_axis(Axis(0), (0..1).into()).to_owned();
    let outs = mpc_nn::run_3pc(|p: &mut Party| {
        let role = p.role();
        let mut model = mlp(p, &MlpConfig::new(64, &[64], 10))?;
        input_private_model(
            p,
            cfg.owner,
            &mut model,
            (role == cfg.owner).then_some(&weights),
        )?;
        let mut calls = Vec::new();
        let mut got = Vec::new();
        for q in [&one, &queries] {
            let before = p.stats();
            let t0 = Instant::now();
            let data = (role == cfg.client).then_some(q);
            let r = private_predict(p, &mut model, cfg.client, data, q.shape(), Output::Class)?;
            let s = p.stats().since(&before);
            calls.push((t0.elapsed(), s.bytes_sent, s.rounds));
            got.push(r);
        }
        Ok((calls, got))
    })?;
    let cost = |k: usize, queries: usize| CallCost {
        queries,
        latency: outs.iter().map(|o| o.0[k].0).max().unwrap_or_default(),
        bytes: [outs[0].0[k].1, outs[1].0[k].1, outs[2].0[k].1],
        rounds: outs[0].0[k].2,
    };
    let opened_to_others = (0..3)
        .filter(|&r| r != cfg.client)
        .flat_map(|r| outs[r].1.iter())
        .map(|o| o.as_ref().map_or(0, ArrayD::len))
        .sum();
    let predictions: Vec<usize> = outs[cfg.client].1[1]
        .as_ref()
        .map(|a| a.iter().map(|&v| v.round().max(0.0) as usize).collect())
        .unwrap_or_default();
    let same = predictions
        .iter()
        .zip(&expected)
        .filter(|(a, b)| a == b)
        .count();
    let right = predictions
        .iter()
        .zip(&labels)
        .filter(|(a, b)| a == b)
        .count();
    Ok(InferenceDemoReport {
        single: cost(0, 1),
        batched: cost(1, n),
        agreement: same as f64 / n as f64,
        accuracy: right as f64 / n as f64,
        predictions,
        labels,
        opened_to_others,
        config: cfg.clone(),
    })
}
