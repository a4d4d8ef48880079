//! The hospitals demo: three hospitals each hold a private slice of the breast-cancer records;
//! the three servers standardise the pooled data and train logistic regression and an MLP on it
//! without any of them seeing a record; test accuracy is checked against the plaintext twin;
//! the trained models are revealed to one hospital only (the model owner).
//!
//! ```no_run
//! let report = trefoil::hospitals::run(&trefoil::hospitals::DemoConfig::default()).unwrap();
//! println!("{report}");
//! ```

use mpc_core::Party;
use mpc_models::{MlpConfig, logistic_regression, mlp};
use mpc_nn::data::{Dataset, breast_cancer};
use mpc_nn::loss::BceWithLogits;
use mpc_nn::optim::SgdConfig;
use mpc_nn::share::{Block, Standardizer, share_columns, share_rows};
use mpc_nn::train::{TrainConfig, evaluate, fit};
use mpc_nn::{Backend, Module, Plain, Result, Sequential};
use ndarray::Array2;
use std::time::{Duration, Instant};

/// How the records are split among the hospitals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Split {
    /// Each hospital holds some patients (rows), all features.
    #[default]
    Horizontal,
    /// Each hospital holds some features (columns) of every patient; the labels are with
    /// hospital 2.
    Vertical,
}

/// Settings of the demo.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoConfig {
    /// How the data is partitioned.
    pub split: Split,
    /// Seed of the train/test split and of the batch order.
    pub seed: u64,
    /// Training epochs.
    pub epochs: usize,
    /// The hospital (party) that receives the trained models.
    pub model_owner: usize,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig {
            split: Split::Horizontal,
            seed: 42,
            epochs: 10,
            model_owner: 0,
        }
    }
}

/// One model's results.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelReport {
    /// The model's name.
    pub name: String,
    /// Secure test accuracy (revealed aggregate).
    pub secure_accuracy: f64,
    /// The plaintext twin's test accuracy.
    pub plain_accuracy: f64,
    /// Bytes sent by each party while training and evaluating this model.
    pub bytes: [u64; 3],
    /// Rounds of communication.
    pub rounds: u64,
    /// Wall time of the secure training and evaluation.
    pub time: Duration,
    /// Parameters the model owner received (the others receive none).
    pub owner_params: usize,
}

/// What the demo measured.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoReport {
    /// Rows held by each hospital (or columns, for the vertical split).
    pub holdings: Vec<usize>,
    /// Training and test rows.
    pub rows: (usize, usize),
    /// The models.
    pub models: Vec<ModelReport>,
    /// The settings.
    pub config: DemoConfig,
}

impl std::fmt::Display for DemoReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.config.split {
            Split::Horizontal => "patients",
            Split::Vertical => "features",
        };
        writeln!(
            f,
            "Breast-cancer records: {} for training, {} for testing.",
            self.rows.0, self.rows.1
        )?;
        for (i, h) in self.holdings.iter().enumerate() {
            writeln!(
                f,
                "  hospital {i} holds {h} {what}; no other party sees them"
            )?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "| model | secure test accuracy | plaintext twin | bytes sent per party | rounds | time |"
        )?;
        writeln!(f, "|---|---|---|---|---|---|")?;
        for m in &self.models {
            writeln!(
                f,
                "| {} | {:.2}% | {:.2}% | {} / {} / {} | {} | {:.2} s |",
                m.name,
                100.0 * m.secure_accuracy,
                100.0 * m.plain_accuracy,
                m.bytes[0],
                m.bytes[1],
                m.bytes[2],
                m.rounds,
                m.time.as_secs_f64()
            )?;
        }
        writeln!(f)?;
        for m in &self.models {
            writeln!(
                f,
                "{}: hospital {} received the trained model ({} parameter tensors); the others received nothing.",
                m.name, self.config.model_owner, m.owner_params
            )?;
        }
        write!(
            f,
            "Only the accuracies above and the owner's model were ever revealed."
        )
    }
}

type Build<B> = fn(&mut B) -> Result<Sequential<B>>;

/// The models: name, constructor, and SGD settings.
fn models<B: Backend + 'static>() -> Vec<(&'static str, Build<B>, SgdConfig)> {
    let momentum = SgdConfig {
        lr: 0.1,
        momentum: 0.9,
        weight_decay: 0.0,
    };
    vec![
        (
            "logistic regression",
            |b| logistic_regression(b, 30),
            SgdConfig::new(0.5),
        ),
        (
            "MLP 30-16-1",
            |b| mlp(b, &MlpConfig::new(30, &[16], 1)),
            momentum,
        ),
    ]
}

/// Standardise with the training statistics, train, evaluate: the same on both engines.
fn train_eval<B: Backend>(
    b: &mut B,
    mut model: Sequential<B>,
    sgd: SgdConfig,
    cfg: &DemoConfig,
    data: [&B::Tensor; 4],
) -> Result<(f64, Sequential<B>)> {
    let [x, y, xt, yt] = data;
    let st = Standardizer::fit(b, x)?;
    let (x, xt) = (st.transform(b, x)?, st.transform(b, xt)?);
    let mut opt = sgd.build();
    let tc = TrainConfig {
        epochs: cfg.epochs,
        batch_size: 32,
        seed: cfg.seed,
        drop_last: false,
    };
    fit(
        b,
        &mut model,
        &BceWithLogits,
        &mut opt,
        &x,
        y,
        &tc,
        &mut |_, _, _| Ok(()),
    )?;
    Ok((evaluate(b, &mut model, &xt, yt, None, 512)?.accuracy, model))
}

fn blocks<'a>(role: usize, mats: &'a [Array2<f64>]) -> Vec<Block<'a>> {
    mats.iter()
        .enumerate()
        .map(|(i, m)| Block {
            owner: i,
            shape: m.dim(),
            data: (role == i).then_some(m),
        })
        .collect()
}

/// Runs the demo in one process (three parties as three threads).
pub fn run(cfg: &DemoConfig) -> Result<DemoReport> {
    if cfg.model_owner >= 3 {
        return Err(mpc_nn::NnError::Config(format!(
            "model owner {} is not a party (0, 1 or 2)",
            cfg.model_owner
        )));
    }
    let ds: Dataset = breast_cancer()?;
    let (train, test) = ds.train_test_split(0.2, cfg.seed, true)?;
    let plain: Vec<f64> = {
        let mut b = Plain::new();
        let t = |m: Array2<f64>| m.into_dyn();
        let data = [
            t(train.features.clone()),
            t(train.labels_column()),
            t(test.features.clone()),
            t(test.labels_column()),
        ];
        let mut accs = Vec::new();
        for (_, build, sgd) in models::<Plain>() {
            let m = build(&mut b)?;
            accs.push(
                train_eval(
                    &mut b,
                    m,
                    sgd,
                    cfg,
                    [&data[0], &data[1], &data[2], &data[3]],
                )?
                .0,
            );
        }
        accs
    };
    let (feature_parts, label_parts, holdings) = match cfg.split {
        Split::Horizontal => {
            let parts = train.split_rows(3)?;
            let h = parts.iter().map(Dataset::len).collect();
            (
                parts.iter().map(|d| d.features.clone()).collect::<Vec<_>>(),
                parts.iter().map(Dataset::labels_column).collect::<Vec<_>>(),
                h,
            )
        }
        Split::Vertical => {
            let cols = train.split_columns(3)?;
            let h = cols.iter().map(|c| c.ncols()).collect();
            (cols, vec![train.labels_column()], h)
        }
    };
    let test_x = test.features.clone();
    let test_y = test.labels_column();
    let outs = mpc_nn::run_3pc(|p: &mut Party| {
        mpc_nn::secure_session(p);
        let role = p.role();
        let (x, y) = match cfg.split {
            Split::Horizontal => (
                share_rows(p, &blocks(role, &feature_parts))?,
                share_rows(p, &blocks(role, &label_parts))?,
            ),
            Split::Vertical => {
                let labels = [Block {
                    owner: 2,
                    shape: label_parts[0].dim(),
                    data: (role == 2).then_some(&label_parts[0]),
                }];
                (
                    share_columns(p, &blocks(role, &feature_parts))?,
                    share_rows(p, &labels)?,
                )
            }
        };
        // the test records come from hospital 0
        let test_blocks = |m| {
            [Block {
                owner: 0,
                shape: test_x.dim(),
                data: (role == 0).then_some(m),
            }]
        };
        let xt = share_rows(p, &test_blocks(&test_x))?;
        let yt = share_rows(
            p,
            &[Block {
                owner: 0,
                shape: test_y.dim(),
                data: (role == 0).then_some(&test_y),
            }],
        )?;
        let mut out = Vec::new();
        for (name, build, sgd) in models::<Party>() {
            let before = p.stats();
            let t0 = Instant::now();
            let m = build(p)?;
            let (acc, model) = train_eval(p, m, sgd, cfg, [&x, &y, &xt, &yt])?;
            let mut received = 0;
            for q in model.params() {
                if p.reveal_to(cfg.model_owner, &q.value)?.is_some() {
                    received += 1;
                }
            }
            let s = p.stats().since(&before);
            out.push((name, acc, s.bytes_sent, s.rounds, t0.elapsed(), received));
        }
        Ok(out)
    })?;
    let models = (0..plain.len())
        .map(|k| {
            let (name, acc, _, rounds, time, _) = outs[0][k];
            ModelReport {
                name: name.to_string(),
                secure_accuracy: acc,
                plain_accuracy: plain[k],
                bytes: [outs[0][k].2, outs[1][k].2, outs[2][k].2],
                rounds,
                time,
                owner_params: outs[cfg.model_owner][k].5,
            }
        })
        .collect();
    Ok(DemoReport {
        holdings,
        rows: (train.len(), test.len()),
        models,
        config: cfg.clone(),
    })
}
