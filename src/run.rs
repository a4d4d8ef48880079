//! Running a [`Job`] as one of the three parties: check that the three run the same job, load
//! this party's CSV, agree on the public shapes, share, train or predict, write the outputs.
//!
//! Only these are public among the servers: the job file, each party's row counts and number of
//! feature columns (and a hash of the column names, to check that they agree), the revealed test
//! accuracy and loss (train) or query accuracy when the queries are labelled (infer). The trained
//! model is revealed to `output.model_to` only, predictions to `infer.predictions_to` only.

use crate::audit::AuditLog;
use crate::error::{Error, Result};
use crate::job::{Job, JobKind, Partition};
use mpc_core::{AShare, FixedPoint, Party};
use mpc_models::{Activation, MlpConfig, logistic_regression, mlp, softmax_regression};
use mpc_net::TcpTransport;
use mpc_net::config::PartyConfig;
use mpc_net::tls::TlsIdentity;
use mpc_nn::data::{Dataset, parse_csv};
use mpc_nn::io::export_safetensors_with_meta;
use mpc_nn::io::{reveal_model_to, save_shares_with_meta};
use mpc_nn::loss::{BceWithLogits, Loss, SoftmaxCrossEntropy};
use mpc_nn::optim::{Optimizer, SgdConfig};
use mpc_nn::share::{Block, Standardizer, share_rows};
use mpc_nn::train::evaluate;
use mpc_nn::{Backend, NnError, Sequential};
use ndarray::{Array2, ArrayD, Axis};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

mod checkpoint;
mod horizontal;
mod infer;
mod steps;
mod vertical;

use checkpoint::{Checkpoints, agree_resume, agree_rng, data_digest};

/// Names of the standardiser's tensors in model and share files.
pub const STD_MEAN: &str = "standardizer.mean";
/// `1 / std` in a model file (plaintext, `f64`). See [`STD_MEAN`].
pub const STD_INV_STD: &str = "standardizer.inv_std";
/// The two factors of `1 / std` in share files and checkpoints (`Standardizer::prescale` and
/// `rescale`; share files written before `1 / std` was kept as two factors hold
/// `standardizer.inv_std` instead and are refused by name). See [`STD_MEAN`].
pub const STD_PRESCALE: &str = "standardizer.prescale";
/// See [`STD_PRESCALE`].
pub const STD_RESCALE: &str = "standardizer.rescale";

/// What a job did, as seen by one party (printed as the `RESULT` line of `trefoil party`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobReport {
    /// This party.
    pub party: usize,
    /// The job id.
    pub job: String,
    /// `train` or `infer`.
    pub kind: JobKind,
    /// Pooled training rows (train).
    pub train_rows: usize,
    /// Pooled test rows (train) or query rows (infer).
    pub test_rows: usize,
    /// Revealed accuracy on the test rows (train) or the labelled queries (infer).
    pub accuracy: Option<f64>,
    /// Revealed mean test loss (train).
    pub loss: Option<f64>,
    /// The plaintext model file this party wrote (only the model owner writes one).
    pub model_written: Option<PathBuf>,
    /// This party's share file, if the job asks for one.
    pub shares_written: Option<PathBuf>,
    /// The predictions file this party wrote (only the predictions' receiver writes one).
    pub predictions_written: Option<PathBuf>,
    /// The step this run resumed from (train jobs with checkpoints).
    pub resumed_from: Option<u64>,
    /// Checkpoints this party wrote.
    pub checkpoints_written: usize,
    /// Rollbacks by the overflow guard (each halved the learning rate).
    pub rollbacks: usize,
    /// The learning rate at the end of training.
    pub lr: Option<f64>,
    /// Payload bytes this party sent.
    pub bytes_sent: u64,
    /// Communication rounds.
    pub rounds: u64,
    /// Wall time in seconds.
    pub seconds: f64,
}

impl JobReport {
    /// One line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

/// Joins the session described by `cfg` over TCP (mutual TLS unless the config is insecure);
/// the job's `frac_bits`, if any, replaces the config's, and the job's hash joins the session
/// settings (the handshake checks that all agree, so a party started with another job or
/// without one fails at every party, naming both).
pub fn connect(cfg: &PartyConfig, job: Option<&Job>) -> Result<Party> {
    let mut cfg = cfg.clone();
    if let Some(f) = job.and_then(|j| j.frac_bits) {
        cfg.frac_bits = f;
    }
    if job.is_some() && !crate::job::JOB_FRAC_BITS.contains(&cfg.frac_bits) {
        return Err(Error::Config(format!(
            "frac_bits = {} (party config): {}",
            cfg.frac_bits,
            crate::job::job_frac_bits_detail(cfg.frac_bits)
        )));
    }
    let fixed = FixedPoint::new(cfg.frac_bits)?;
    let mut tcp = cfg.to_tcp_config()?;
    if let Some(j) = job {
        // the job's hash goes into the handshake: a party started with another job file, or
        // without one, is named before any data moves (check_same_job compares the whole digest)
        let first = words_of(&j.digest()).first().copied().unwrap_or(1);
        tcp.settings = tcp.settings.with_job(first.max(1));
    }
    let transport = TcpTransport::connect(&tcp)?;
    Ok(Party::new(Box::new(transport), fixed)?)
}

/// Sends `mine` to both other parties and receives theirs (public values only).
pub fn exchange(p: &mut Party, mine: &[u64]) -> Result<[Vec<u64>; 3]> {
    let role = p.role();
    let others = [(role + 1) % 3, (role + 2) % 3];
    let c = p.comm();
    for peer in others {
        c.send(peer, vec![mine.len() as u64])?;
        c.send(peer, mine.to_vec())?;
    }
    let mut out: [Vec<u64>; 3] = Default::default();
    out[role] = mine.to_vec();
    for peer in others {
        let n = c.recv(peer, 1)?[0];
        if n > 1 << 16 {
            return Err(Error::Data(format!(
                "party {peer} announced {n} public words"
            )));
        }
        out[peer] = c.recv(peer, n as usize)?;
    }
    Ok(out)
}

pub(crate) fn words_of(bytes: &[u8]) -> Vec<u64> {
    bytes
        .chunks(8)
        .map(|c| {
            let mut b = [0u8; 8];
            b[..c.len()].copy_from_slice(c);
            u64::from_le_bytes(b)
        })
        .collect()
}

fn hex(words: &[u64]) -> String {
    words
        .iter()
        .take(2)
        .map(|w| format!("{:016x}", w.swap_bytes()))
        .collect()
}

/// Checks that the three parties run the same job (their [`Job::digest`]s agree).
pub fn check_same_job(p: &mut Party, job: &Job) -> Result<()> {
    let mine = words_of(&job.digest());
    let all = exchange(p, &mine)?;
    for (peer, theirs) in all.iter().enumerate() {
        if *theirs != mine {
            return Err(Error::JobMismatch {
                peer,
                ours: hex(&mine),
                theirs: hex(theirs),
            });
        }
    }
    Ok(())
}

/// A shape announcement: the number of columns, then the hash of their names.
type Shape = Vec<u64>;

/// Features and label matrix of one party's rows.
type XY = (Array2<f64>, Array2<f64>);
/// A model file's standardiser at its owner: the means, and `1 / std` as its two factors
/// (`mpc_nn::share::factor_inv_std`).
type PlainStd = (ArrayD<f64>, (ArrayD<f64>, ArrayD<f64>));

/// Refuses a feature cell of `r` (read from `path`) that fixed-point encoding with `frac_bits`
/// cannot represent, naming the file, the data row and the column, before anything is shared.
pub(crate) fn check_encodable(r: &Rows, path: &Path, frac_bits: u32) -> Result<()> {
    for (i, row) in r.x.rows().into_iter().enumerate() {
        for (&v, name) in row.iter().zip(&r.names) {
            if let Err(e) = mpc_core::fixed::encode_with(v, frac_bits) {
                return Err(Error::Data(format!(
                    "{}: data row {} (after the header), column {name:?}: {e}",
                    path.display(),
                    i + 1
                )));
            }
        }
    }
    Ok(())
}

/// One party's rows: features, class indices (if labelled) and the feature names.
pub(crate) struct Rows {
    pub(crate) x: Array2<f64>,
    pub(crate) labels: Option<Vec<usize>>,
    pub(crate) names: Vec<String>,
}

/// Reads a CSV with the job's columns. Without `need_label`, a file without the label column
/// is read as unlabelled queries.
pub(crate) fn read_rows(job: &Job, path: &Path, need_label: bool) -> Result<Rows> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let label = &job.data.label;
    let (ds, labelled) = match parse_csv(&text, path, label) {
        Ok(ds) => (ds, true),
        Err(NnError::Csv { column, detail, .. })
            if !need_label && column == *label && detail.starts_with("label column not found") =>
        {
            // unlabelled queries: read them with a constant label column in front
            const NONE: &str = "__trefoil_no_label__";
            let mut out = String::with_capacity(text.len() + 16);
            let mut header = true;
            for line in text.split('\n') {
                if !line.trim().is_empty() {
                    out.push_str(if header { NONE } else { "0" });
                    out.push(',');
                    header = false;
                }
                out.push_str(line);
                out.push('\n');
            }
            (parse_csv(&out, path, NONE)?, false)
        }
        Err(e) => return Err(e.into()),
    };
    let names = &ds.feature_names;
    let cols: Vec<usize> = match &job.data.features {
        Some(want) => want
            .iter()
            .map(|c| {
                names.iter().position(|n| n == c).ok_or_else(|| {
                    Error::Data(format!(
                        "{}: column {c:?} of data.features not found; the file has: {}",
                        path.display(),
                        names.join(", ")
                    ))
                })
            })
            .collect::<Result<_>>()?,
        None => (0..names.len()).collect(),
    };
    let x = ds.features.select(Axis(1), &cols);
    let labels = if labelled {
        Some(map_classes(job, &ds, path)?)
    } else {
        None
    };
    Ok(Rows {
        x,
        labels,
        names: cols.iter().map(|&j| names[j].clone()).collect(),
    })
}

/// The job's class index of every row (the file's classes are the values found in it).
fn map_classes(job: &Job, ds: &Dataset, path: &Path) -> Result<Vec<usize>> {
    let classes = &job.data.classes;
    let same = |a: &str, b: &str| {
        a == b || matches!((a.parse::<f64>(), b.parse::<f64>()), (Ok(x), Ok(y)) if x == y)
    };
    let index: Vec<usize> = ds
        .class_names
        .iter()
        .map(|name| {
            classes.iter().position(|c| same(c, name)).ok_or_else(|| {
                Error::Data(format!(
                    "{}: label {name:?} in column {:?} is not one of data.classes {classes:?}",
                    path.display(),
                    job.data.label
                ))
            })
        })
        .collect::<Result<_>>()?;
    Ok(ds.labels.iter().map(|&l| index[l]).collect())
}

/// Label matrix: `N x 1` of 0/1 for one output, else one-hot `N x C`.
fn label_matrix(labels: &[usize], outputs: usize) -> Array2<f64> {
    if outputs == 1 {
        Array2::from_shape_fn((labels.len(), 1), |(i, _)| labels[i] as f64)
    } else {
        Array2::from_shape_fn((labels.len(), outputs), |(i, j)| {
            f64::from(u8::from(labels[i] == j))
        })
    }
}

/// The metadata key, in model and share files, of the training columns' names hash.
const FEATURES_KEY: &str = "features";

/// The names hash of [`names_hash`] as hex, for a file's metadata.
fn features_hex(words: &[u64]) -> String {
    words.iter().map(|w| format!("{w:016x}")).collect()
}

fn names_hash(names: &[String]) -> Vec<u64> {
    words_of(ring::digest::digest(&ring::digest::SHA256, names.join("\0").as_bytes()).as_ref())
}

/// Shares the blocks of the parties that have rows (`rows[i]` rows of `cols` columns).
fn share_blocks(
    p: &mut Party,
    rows: &[usize; 3],
    cols: usize,
    mine: Option<&Array2<f64>>,
) -> Result<AShare> {
    let role = p.role();
    let blocks: Vec<Block<'_>> = (0..3)
        .filter(|&i| rows[i] > 0)
        .map(|i| Block {
            owner: i,
            shape: (rows[i], cols),
            data: if i == role { mine } else { None },
        })
        .collect();
    Ok(share_rows(p, &blocks)?)
}

/// Builds the job's model for `d` features.
pub fn build_model<B: Backend + 'static>(b: &mut B, job: &Job, d: usize) -> Result<Sequential<B>> {
    let m = &job.model;
    let c = job.data.classes.len();
    Ok(match m.name.as_str() {
        "logistic_regression" => logistic_regression(b, d)?,
        "softmax_regression" => softmax_regression(b, d, c)?,
        _ => {
            let mut cfg = MlpConfig::new(d, &m.hidden, job.outputs());
            cfg.activation = match m.activation.as_deref() {
                Some("sigmoid") => Activation::Sigmoid,
                Some("tanh") => Activation::Tanh,
                _ => Activation::Relu,
            };
            cfg.seed = job.train.as_ref().map_or(0, |t| t.seed);
            mlp(b, &cfg)?
        }
    })
}

fn loss_for(job: &Job) -> Box<dyn Loss<Party>> {
    if job.outputs() == 1 {
        Box::new(BceWithLogits)
    } else {
        Box::new(SoftmaxCrossEntropy)
    }
}

/// Announces this party's shape `[rows..., d]` and names hash; checks the columns agree among
/// the parties that have rows. Returns every party's row counts and `d`.
fn agree_shapes(
    p: &mut Party,
    counts: &[usize],
    d: usize,
    names: &[String],
    what: &str,
) -> Result<(Vec<[usize; 3]>, Option<Shape>)> {
    let mut mine: Vec<u64> = counts.iter().map(|&c| c as u64).collect();
    mine.push(d as u64);
    mine.extend(names_hash(names));
    let all = exchange(p, &mine)?;
    let k = counts.len();
    let mut rows = vec![[0usize; 3]; k];
    let mut first: Option<(usize, &Vec<u64>)> = None;
    for (party, a) in all.iter().enumerate() {
        if a.len() != k + 5 {
            return Err(Error::Data(format!(
                "party {party} announced a malformed shape"
            )));
        }
        for (j, r) in rows.iter_mut().enumerate() {
            r[party] = a[j] as usize;
        }
        if a[..k].iter().all(|&c| c == 0) {
            continue;
        }
        match first {
            None => first = Some((party, a)),
            Some((q, b)) if b[k..] != a[k..] => {
                return Err(Error::Data(format!(
                    "the feature columns of party {party}'s {what} ({} columns) differ from \
                     party {q}'s ({} columns) in number, names or order; list them in data.features",
                    a[k], b[k]
                )));
            }
            Some(_) => {}
        }
    }
    Ok((rows, first.map(|(_, a)| a[k..].to_vec())))
}

/// `d` from a shape announcement of [`agree_shapes`], or an error if nobody has rows.
fn columns_of(shape: Option<&Vec<u64>>, what: &str) -> Result<usize> {
    shape
        .and_then(|a| a.first())
        .map(|&d| d as usize)
        .ok_or_else(|| Error::Data(format!("no party has any {what} rows")))
}

/// Runs `job` as this party; `progress` receives human-readable progress lines. `intake` is
/// this server's TLS identity, needed to accept external data owners (`data.owners`). The
/// job's reveal policy is this party's reveal gate for the run ([`crate::policy`]).
pub fn run_job(
    p: &mut Party,
    job: &Job,
    intake: Option<&TlsIdentity>,
    progress: &mut dyn FnMut(&str),
) -> Result<JobReport> {
    run_job_audited(p, job, intake, None, progress)
}

/// [`run_job`], appending every opening the job's policy lets through to this party's audit
/// log (`reveal.log` of the job; see [`crate::audit`]).
///
/// If the job fails at this party, the party ends the session telling the others why
/// ([`mpc_net::Transport::abort`]), so that each of them names this party and the cause (a bad
/// file here, or a peer that went away) instead of a bare disconnect.
pub fn run_job_audited(
    p: &mut Party,
    job: &Job,
    intake: Option<&TlsIdentity>,
    log: Option<AuditLog>,
    progress: &mut dyn FnMut(&str),
) -> Result<JobReport> {
    let r = run_job_inner(p, job, intake, log, progress);
    if let Err(e) = &r {
        p.comm().abort(&e.to_string());
    }
    r
}

/// The session's fractional bits must be the job's `frac_bits` (when it names them) and in
/// [`crate::job::JOB_FRAC_BITS`]: [`connect`] sets them from the job, but a session made in
/// process (e.g. by `mpc_nn::run_3pc`) has its own, and a job would otherwise run silently at
/// another scale than the one it asks for.
fn check_session_scale(p: &Party, job: &Job) -> Result<()> {
    let f = p.fixed_point().frac_bits();
    if let Some(want) = job.frac_bits
        && want != f
    {
        return Err(Error::Config(format!(
            "job {} asks for frac_bits = {want}, but this party's session has {f} fractional \
             bits: start the session with the job's settings (trefoil::run::connect applies \
             them; in process, HarnessConfig::fixed)",
            job.id
        )));
    }
    if !crate::job::JOB_FRAC_BITS.contains(&f) {
        return Err(Error::Config(format!(
            "this party's session has {f} fractional bits: {}",
            crate::job::job_frac_bits_detail(f)
        )));
    }
    Ok(())
}

fn run_job_inner(
    p: &mut Party,
    job: &Job,
    intake: Option<&TlsIdentity>,
    log: Option<AuditLog>,
    progress: &mut dyn FnMut(&str),
) -> Result<JobReport> {
    let t0 = Instant::now();
    mpc_nn::secure_session(p);
    check_session_scale(p, job)?;
    check_same_job(p, job)?;
    progress(&format!(
        "JOB {} ({:?}): the three parties agree on the job file",
        job.id, job.kind
    ));
    let step = Arc::new(AtomicU64::new(0));
    check_outputs(job, p.role())?;
    p.set_reveal_gate(crate::policy::gate(job, log, step.clone())?);
    let result = match job.kind {
        JobKind::Train => train(p, job, intake, &step, progress),
        JobKind::Infer => infer::infer(p, job, progress),
    };
    p.clear_reveal_gate();
    let mut report = result?;
    let s = p.stats();
    report.bytes_sent = s.bytes_sent;
    report.rounds = s.rounds;
    report.seconds = t0.elapsed().as_secs_f64();
    Ok(report)
}

/// Checks, before any work, that this party can write the files the job gives it: the model
/// (`output.model_path`, at `model_to`), its shares (`output.shares_path`, every party) or the
/// predictions (`infer.predictions_path`, at `predictions_to`). A missing folder, or a folder
/// where the file should go, is an error naming the key, instead of one after training.
fn check_outputs(job: &Job, role: usize) -> Result<()> {
    let mut mine: Vec<(&str, &Path)> = Vec::new();
    if let Some(o) = &job.output {
        if let (Some(to), Some(path)) = (o.model_to, &o.model_path)
            && to == role
        {
            mine.push(("output.model_path", path));
        }
        if let Some(path) = &o.shares_path {
            mine.push(("output.shares_path", path));
        }
    }
    if let Some(inf) = job.infer.as_ref().filter(|i| i.predictions_to == role) {
        mine.push(("infer.predictions_path", &inf.predictions_path));
    }
    for (key, path) in mine {
        let path = job.path_for(path, role);
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let problem = if !dir.is_dir() {
            Some(format!("the folder {} does not exist", dir.display()))
        } else if path.is_dir() {
            Some("is a folder".to_string())
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(Error::key(
                key,
                format!("{} (party {role}): {problem}", path.display()),
            ));
        }
    }
    Ok(())
}

fn empty_report(p: &Party, job: &Job) -> JobReport {
    JobReport {
        party: p.role(),
        job: job.id.clone(),
        kind: job.kind,
        train_rows: 0,
        test_rows: 0,
        accuracy: None,
        loss: None,
        model_written: None,
        shares_written: None,
        predictions_written: None,
        resumed_from: None,
        checkpoints_written: 0,
        rollbacks: 0,
        lr: None,
        bytes_sent: 0,
        rounds: 0,
        seconds: 0.0,
    }
}

/// Splits a party's (or owner's) rows into train and test rows, as features and label matrix.
pub(crate) fn split_local(job: &Job, r: &Rows) -> Result<(XY, Option<XY>)> {
    let t = job.train_spec();
    let outputs = job.outputs();
    let labels = r.labels.clone().unwrap_or_default();
    let ds = Dataset::new(
        r.x.clone(),
        labels.into(),
        job.data.classes.len(),
        r.names.clone(),
        job.data.classes.clone(),
    )?;
    let lab = |d: &Dataset| label_matrix(&d.labels.to_vec(), outputs);
    if t.test_fraction > 0.0 {
        let (a, b) = ds.train_test_split(t.test_fraction, t.seed, false)?;
        Ok((
            (a.features.clone(), lab(&a)),
            Some((b.features.clone(), lab(&b))),
        ))
    } else {
        Ok(((ds.features.clone(), lab(&ds)), None))
    }
}

/// The pooled training data as shares, and its public sizes.
pub(crate) struct Pooled {
    x: AShare,
    y: AShare,
    test: Option<(AShare, AShare)>,
    d: usize,
    /// The hash of the feature columns' names, in model order (public).
    features: Vec<u64>,
    train_rows: usize,
    test_rows: usize,
}

fn train(
    p: &mut Party,
    job: &Job,
    intake: Option<&TlsIdentity>,
    step: &AtomicU64,
    progress: &mut dyn FnMut(&str),
) -> Result<JobReport> {
    let role = p.role();
    let t = job.train_spec();
    // Checkpoints: agree on the step to resume from before anything is shared.
    let digest = match job.checkpoint {
        Some(_) => data_digest(job, role),
        None => Ok(String::new()),
    };
    let mut ckpt = Checkpoints::new(job, role, digest.as_deref().unwrap_or(""), p.rng_state());
    let resume = match &ckpt {
        Some(c) => agree_resume(p, c.dir(), digest.and_then(|_| c.list()))?,
        None => None,
    };
    // Replay (bit-identical resume, see `checkpoint`): redo the data sharing and
    // standardising with the first run's randomness, then continue from the checkpoint's.
    let replay = resume.is_some() && job.data.owners.is_empty();
    let mut rng_now = None;
    if let (Some((step, lr)), Some(c), true) = (resume, &mut ckpt, replay) {
        let points = c.load_rng(step, lr);
        agree_rng(p, c.dir(), &points)?;
        let points = points?;
        p.restore_rng_state(&points.start);
        c.rng_start = points.start;
        rng_now = Some(points.now);
    }
    let Pooled {
        x,
        y,
        test,
        d,
        features,
        train_rows: total_tr,
        test_rows: total_te,
    } = match job.data.split {
        Partition::Horizontal => horizontal::pool(p, job, intake, progress)?,
        Partition::Vertical => vertical::pool(p, job, progress)?,
    };
    let mut model = build_model(p, job, d)?;
    let loss = loss_for(job);
    let mut opt = SgdConfig {
        lr: t.lr,
        momentum: t.momentum,
        weight_decay: t.weight_decay,
    }
    .build();
    let fit = |p: &mut Party| -> Result<Option<Standardizer<AShare>>> {
        p.set_reveal_label("standardise");
        Ok(match job.data.standardize {
            true => Some(Standardizer::fit(p, &x)?),
            false => None,
        })
    };
    let (st, start) = match (resume, &ckpt) {
        (Some((step, lr)), Some(c)) => {
            let r = c.load(&mut model, step, lr)?;
            opt.load_state(r.optimizer, step)?;
            opt.set_lr(lr);
            if job.data.standardize && r.standardizer.is_none() {
                return Err(Error::Checkpoint {
                    path: c.dir().to_path_buf(),
                    detail: format!("the checkpoint of step {step} has no standardiser"),
                });
            }
            let st = match replay {
                // the first run's randomness on the same data: the same standardiser's shares
                true => {
                    let refit = fit(p)?;
                    if refit != r.standardizer {
                        return Err(Error::Checkpoint {
                            path: c.dir().to_path_buf(),
                            detail: format!(
                                "standardising the data again gave other shares than the \
                                 checkpoint of step {step} holds: a party's data or state \
                                 differs from the first run's"
                            ),
                        });
                    }
                    refit
                }
                false => r.standardizer,
            };
            progress(&format!(
                "RESUME from step {step} (the latest checkpoint all three parties have), lr {lr}{}",
                if replay {
                    ", same randomness"
                } else {
                    ", fresh randomness"
                }
            ));
            (st, step)
        }
        _ => (fit(p)?, 0),
    };
    let (x, test) = match &st {
        Some(st) => (
            st.transform(p, &x)?,
            match test {
                Some((xt, yt)) => Some((st.transform(p, &xt)?, yt)),
                None => None,
            },
        ),
        None => (x, test),
    };
    if let Some(now) = &rng_now {
        p.restore_rng_state(now);
    }
    let done = steps::run(
        p,
        job,
        &mut model,
        loss.as_ref(),
        &mut opt,
        (&x, &y),
        st.as_ref(),
        start,
        ckpt.as_ref(),
        step,
        progress,
    )?;
    let mut report = empty_report(p, job);
    report.resumed_from = resume.map(|r| r.0);
    report.rollbacks = done.rollbacks;
    report.checkpoints_written = done.checkpoints;
    report.lr = Some(done.lr);
    report.train_rows = total_tr;
    report.test_rows = total_te;
    if let Some((xt, yt)) = &test {
        p.set_reveal_label("metrics");
        let m = evaluate(p, &mut model, xt, yt, Some(loss.as_ref()), 512)?;
        report.accuracy = Some(m.accuracy);
        report.loss = m.loss;
        progress(&format!(
            "TEST accuracy {:.4}, loss {:.4} (revealed to all parties)",
            m.accuracy,
            m.loss.unwrap_or(f64::NAN)
        ));
    }
    let out = job.output.clone().unwrap_or(crate::job::OutputSpec {
        model_to: None,
        model_path: None,
        shares_path: None,
    });
    // the feature columns' names hash, recorded with the model so infer can check queries
    let fh = features_hex(&features);
    if let (Some(owner), Some(path)) = (out.model_to, &out.model_path) {
        p.set_reveal_label("model");
        let mut params = reveal_model_to(p, owner, &model)?;
        if let Some(st) = &st {
            let revealed = st.reveal_to(p, owner)?;
            if let (Some(ps), Some((mean, inv))) = (params.as_mut(), revealed) {
                ps.push((STD_MEAN.to_string(), mean));
                ps.push((STD_INV_STD.to_string(), inv));
            }
        }
        if let Some(ps) = params {
            let path = job.path_for(path, role);
            export_safetensors_with_meta(&path, &ps, &[(FEATURES_KEY, fh.as_str())])?;
            progress(&format!("MODEL written to {}", path.display()));
            report.model_written = Some(path);
        }
    }
    if let Some(sp) = &out.shares_path {
        let path = job.path_for(sp, role);
        let extra: Vec<(String, &AShare)> = match &st {
            Some(st) => vec![
                (STD_MEAN.into(), &st.mean),
                (STD_PRESCALE.into(), &st.prescale),
                (STD_RESCALE.into(), &st.rescale),
            ],
            None => Vec::new(),
        };
        save_shares_with_meta(
            &path,
            role,
            &job.id,
            &model,
            &extra,
            &[(FEATURES_KEY, fh.as_str())],
        )?;
        progress(&format!("SHARES written to {}", path.display()));
        report.shares_written = Some(path);
    }
    Ok(report)
}
