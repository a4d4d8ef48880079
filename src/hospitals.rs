//! The hospitals demo: three hospitals each hold a private slice of the breast-cancer records;
//! the three servers standardise the pooled data and train logistic regression and an MLP on it
//! without any of them seeing a record; test accuracy is checked against the plaintext twin;
//! the trained models are revealed to one hospital only (the model owner).
//!
//! Every epoch both engines evaluate the test set (revealing only the accuracy and the mean
//! loss), so the report holds training curves of the secure model next to its twin; with an
//! output folder the demo writes them as plots (`training.svg`/`.png`), the per-layer
//! communication of the MLP (`costs.svg`/`.png`) and the owner's trained models
//! (`hospital<K>-<model>.safetensors`, written by the owner's party only).
//!
//! ```no_run
//! let report = trefoil::hospitals::run(&trefoil::hospitals::DemoConfig::default()).unwrap();
//! println!("{report}");
//! ```

use crate::error::{Error, Result};
use crate::plot::{Figure, Panel, Series};
use crate::progress::Progress;
use mpc_core::Party;
use mpc_models::{MlpConfig, logistic_regression, mlp};
use mpc_nn::data::{Dataset, breast_cancer};
use mpc_nn::io::{export_safetensors, reveal_model_to};
use mpc_nn::loss::BceWithLogits;
use mpc_nn::module::LayerCost;
use mpc_nn::optim::SgdConfig;
use mpc_nn::share::{Block, Standardizer, share_columns, share_rows};
use mpc_nn::train::{TrainConfig, evaluate, fit};
use mpc_nn::{Backend, Plain, Sequential};
use ndarray::Array2;
use std::path::{Path, PathBuf};
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
    /// Where plots and the owner's model files go (`None`: nothing is written).
    pub out_dir: Option<PathBuf>,
    /// Show progress (a bar on a terminal, log lines otherwise).
    pub progress: bool,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig {
            split: Split::Horizontal,
            seed: 42,
            epochs: 10,
            model_owner: 0,
            out_dir: None,
            progress: false,
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
    /// Test metrics after every epoch, secure.
    pub secure_curve: Vec<EpochMetrics>,
    /// Test metrics after every epoch, plaintext twin.
    pub plain_curve: Vec<EpochMetrics>,
    /// Party 0's per-layer communication in one training step (forward and backward of the
    /// first batch of 32 rows).
    pub layer_costs: Vec<LayerCost>,
    /// The owner's model file, if an output folder was given.
    pub model_file: Option<PathBuf>,
}

/// Test metrics after one epoch (revealed aggregates).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochMetrics {
    /// Epoch, from 1.
    pub epoch: usize,
    /// Test accuracy.
    pub accuracy: f64,
    /// Mean test loss.
    pub loss: f64,
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
    /// Files written (plots and the owner's models).
    pub files: Vec<PathBuf>,
}

impl DemoReport {
    /// Test loss and accuracy per epoch of every model, secure (solid) next to the plaintext
    /// twin (dashed).
    pub fn training_figure(&self) -> Figure {
        let mut fig = Figure::new("Hospitals demo: secure training vs plaintext twin");
        let pts = |c: &[EpochMetrics], f: fn(&EpochMetrics) -> f64| {
            c.iter().map(|m| (m.epoch as f64, f(m))).collect::<Vec<_>>()
        };
        for (metric, label, get) in [
            (
                "test loss",
                "mean BCE",
                (|m: &EpochMetrics| m.loss) as fn(&EpochMetrics) -> f64,
            ),
            ("test accuracy", "accuracy", |m: &EpochMetrics| m.accuracy),
        ] {
            let mut series = Vec::new();
            for (k, m) in self.models.iter().enumerate() {
                series.push(
                    Series::new(format!("{} (secure)", m.name), pts(&m.secure_curve, get))
                        .colour(k),
                );
                series.push(
                    Series::new(format!("{} (twin)", m.name), pts(&m.plain_curve, get))
                        .colour(k)
                        .dashed(),
                );
            }
            fig = fig.panel(Panel::lines(metric, "epoch", label, series));
        }
        fig
    }

    /// Kilobytes party 0 sent per layer in one training step of each model.
    pub fn cost_figure(&self) -> Figure {
        let mut fig =
            Figure::new("Communication per layer: one training step of 32 rows (party 0)");
        for m in &self.models {
            let bars = m
                .layer_costs
                .iter()
                .map(|c| {
                    (
                        c.name.clone(),
                        (c.forward_bytes + c.backward_bytes) as f64 / 1e3,
                    )
                })
                .collect();
            fig = fig.panel(Panel::bars(&m.name, "kB sent (forward + backward)", bars));
        }
        fig
    }
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
        for file in &self.files {
            writeln!(f, "wrote {}", file.display())?;
        }
        write!(
            f,
            "Only the per-epoch test accuracy and loss and the owner's models were ever revealed."
        )
    }
}

type Build<B> = fn(&mut B) -> mpc_nn::Result<Sequential<B>>;

/// The models: name, file-name slug, constructor, and SGD settings.
fn models<B: Backend + 'static>() -> Vec<(&'static str, &'static str, Build<B>, SgdConfig)> {
    let momentum = SgdConfig {
        lr: 0.1,
        momentum: 0.9,
        weight_decay: 0.0,
    };
    vec![
        (
            "logistic regression",
            "logreg",
            |b| logistic_regression(b, 30),
            SgdConfig::new(0.5),
        ),
        (
            "MLP 30-16-1",
            "mlp",
            |b| mlp(b, &MlpConfig::new(30, &[16], 1)),
            momentum,
        ),
    ]
}

/// Standardise with the training statistics, train, evaluate after every epoch: the same on
/// both engines. `progress` is advanced once per step (only one party shows it).
fn train_eval<B: Backend>(
    b: &mut B,
    model: &mut Sequential<B>,
    sgd: SgdConfig,
    cfg: &DemoConfig,
    data: [&B::Tensor; 4],
    progress: &mut Progress,
) -> mpc_nn::Result<(f64, Vec<EpochMetrics>, Vec<LayerCost>)> {
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
    let mut curve = Vec::new();
    let mut last = String::new();
    let mut step_costs = Vec::new();
    fit(
        b,
        model,
        &BceWithLogits,
        &mut opt,
        &x,
        y,
        &tc,
        &mut |b, m, at| {
            if at.epoch == 0 && at.step == 0 {
                step_costs = m.costs().to_vec();
            }
            if at.epoch_done() {
                let e = evaluate(b, m, &xt, yt, Some(&BceWithLogits), 512)?;
                let loss = e.loss.unwrap_or(f64::NAN);
                curve.push(EpochMetrics {
                    epoch: at.epoch + 1,
                    accuracy: e.accuracy,
                    loss,
                });
                last = format!(
                    "epoch {}: test loss {loss:.3}, accuracy {:.1}%",
                    at.epoch + 1,
                    100.0 * e.accuracy
                );
            }
            progress.inc(1, &last);
            Ok(())
        },
    )?;
    progress.finish(&last);
    let acc = curve.last().map_or(0.0, |m| m.accuracy);
    Ok((acc, curve, step_costs))
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

/// Steps of one epoch of `rows` rows in batches of 32.
fn steps(rows: usize, epochs: usize) -> u64 {
    (rows.div_ceil(32) * epochs) as u64
}

/// What one party measured for one model.
struct PartyModel {
    accuracy: f64,
    curve: Vec<EpochMetrics>,
    bytes: u64,
    rounds: u64,
    time: Duration,
    received: usize,
    costs: Vec<LayerCost>,
    file: Option<PathBuf>,
}

/// Runs the demo in one process (three parties as three threads).
pub fn run(cfg: &DemoConfig) -> Result<DemoReport> {
    if cfg.model_owner >= 3 {
        return Err(Error::Config(format!(
            "model owner {} is not a party (0, 1 or 2)",
            cfg.model_owner
        )));
    }
    if let Some(dir) = &cfg.out_dir {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.clone(),
            source,
        })?;
    }
    let ds: Dataset = breast_cancer()?;
    let (train, test) = ds.train_test_split(0.2, cfg.seed, true)?;
    let total_steps = steps(train.len(), cfg.epochs);
    let plain: Vec<(f64, Vec<EpochMetrics>, Vec<LayerCost>)> = {
        let mut b = Plain::new();
        let t = |m: Array2<f64>| m.into_dyn();
        let data = [
            t(train.features.clone()),
            t(train.labels_column()),
            t(test.features.clone()),
            t(test.labels_column()),
        ];
        let mut out = Vec::new();
        for (_, _, build, sgd) in models::<Plain>() {
            let mut m = build(&mut b)?;
            let mut quiet = Progress::hidden("twin", total_steps);
            out.push(train_eval(
                &mut b,
                &mut m,
                sgd,
                cfg,
                [&data[0], &data[1], &data[2], &data[3]],
                &mut quiet,
            )?);
        }
        out
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
        let xt = share_rows(
            p,
            &[Block {
                owner: 0,
                shape: test_x.dim(),
                data: (role == 0).then_some(&test_x),
            }],
        )?;
        let yt = share_rows(
            p,
            &[Block {
                owner: 0,
                shape: test_y.dim(),
                data: (role == 0).then_some(&test_y),
            }],
        )?;
        let mut out = Vec::new();
        for (name, slug, build, sgd) in models::<Party>() {
            let before = p.stats();
            let t0 = Instant::now();
            let mut model = build(p)?;
            let mut progress = if cfg.progress && role == 0 {
                Progress::new(name, total_steps)
            } else {
                Progress::hidden(name, total_steps)
            };
            let (accuracy, curve, costs) =
                train_eval(p, &mut model, sgd, cfg, [&x, &y, &xt, &yt], &mut progress)?;
            let revealed = reveal_model_to(p, cfg.model_owner, &model)?;
            let s = p.stats().since(&before);
            let time = t0.elapsed();
            let received = revealed.as_ref().map_or(0, Vec::len);
            let file = match (&revealed, &cfg.out_dir) {
                (Some(params), Some(dir)) => {
                    let path = dir.join(format!("hospital{role}-{slug}.safetensors"));
                    export_safetensors(&path, params)?;
                    Some(path)
                }
                _ => None,
            };
            out.push(PartyModel {
                accuracy,
                curve,
                bytes: s.bytes_sent,
                rounds: s.rounds,
                time,
                received,
                costs,
                file,
            });
        }
        Ok(out)
    })?;
    let [o0, o1, o2] = &outs;
    let owner = &outs[cfg.model_owner];
    let mut models_out = Vec::new();
    for (k, (name, _, _, _)) in models::<Plain>().into_iter().enumerate() {
        models_out.push(ModelReport {
            name: name.to_string(),
            secure_accuracy: o0[k].accuracy,
            plain_accuracy: plain[k].0,
            bytes: [o0[k].bytes, o1[k].bytes, o2[k].bytes],
            rounds: o0[k].rounds,
            time: o0[k].time.max(o1[k].time).max(o2[k].time),
            owner_params: owner[k].received,
            secure_curve: o0[k].curve.clone(),
            plain_curve: plain[k].1.clone(),
            layer_costs: o0[k].costs.clone(),
            model_file: owner[k].file.clone(),
        });
    }
    let mut report = DemoReport {
        holdings,
        rows: (train.len(), test.len()),
        models: models_out,
        config: cfg.clone(),
        files: Vec::new(),
    };
    if let Some(dir) = &cfg.out_dir {
        report.files = write_plots(&report, dir)?;
        report
            .files
            .extend(report.models.iter().filter_map(|m| m.model_file.clone()));
    }
    Ok(report)
}

/// Writes the training curves and the cost bars as SVG and PNG.
fn write_plots(report: &DemoReport, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for (stem, fig) in [
        ("training", report.training_figure()),
        ("costs", report.cost_figure()),
    ] {
        let svg = dir.join(format!("{stem}.svg"));
        let png = dir.join(format!("{stem}.png"));
        fig.save_svg(&svg)?;
        fig.save_png(&png)?;
        files.extend([svg, png]);
    }
    Ok(files)
}
