//! Job files: what the three servers compute together, in TOML, identical on the three machines.
//!
//! A job is a `train` job (pool the parties' CSV rows as secret shares, standardise, train, report
//! the test accuracy to everyone and reveal the model to one party) or an `infer` job (enter a
//! model as secret shares, predict on one party's query CSV, reveal the predictions to one
//! party). Relative paths are resolved against the job file's directory, and `{role}` in a path
//! is replaced by the party's role (so one file can name each party's own share file).
//!
//! ```toml
//! id = "cancer-2026-12"          # names the job (and its share files)
//! kind = "train"                 # "train" or "infer"
//! # frac_bits = 16               # optional (8 to 24): overrides the party config's fixed-point bits
//!
//! [model]
//! name = "mlp"                   # "logistic_regression", "softmax_regression" or "mlp"
//! hidden = [16]                  # mlp only: hidden layer widths
//! activation = "relu"            # mlp only: "relu", "sigmoid" or "tanh"
//!
//! [data]
//! label = "diagnosis"            # the label column of every CSV
//! classes = ["0", "1"]           # every class label, in order (2 classes: one logit)
//! # features = ["mean radius"]   # optional: the feature columns (default: all but the label)
//! standardize = true             # z-score with the pooled training statistics (default true)
//! # split = "vertical"           # optional: each party's CSV holds some columns of the same
//!                                # records (default "horizontal": some records, all columns)
//!
//! [[data.sources]]               # train: one entry per data-holding party
//! party = 0
//! csv = "hospital0.csv"
//!
//! [train]                        # train only; every key optional
//! epochs = 10
//! batch_size = 32
//! lr = 0.1
//! momentum = 0.9
//! weight_decay = 0.0
//! seed = 42                      # public: batch order and each party's train/test split
//! test_fraction = 0.2            # of each party's rows, for the revealed test accuracy
//!
//! [output]                       # train only
//! model_to = 0                   # the party that receives the trained model in the clear
//! model_path = "model.safetensors"
//! # shares_path = "shares-{role}.safetensors"  # optional: every party keeps its shares
//!
//! [checkpoint]                   # optional, train only: resume after a crash
//! dir = "checkpoints-{role}"     # this party's folder of its own shares
//! every_steps = 50               # default 50
//! keep = 3                       # checkpoints kept (default 3, at least 2)
//!
//! [reveal]                       # optional: see crate::policy
//! allow = ["metrics to all", "model to 0", "standardise to all"]  # default: what the other keys ask for
//! log = "audit-{role}.jsonl"     # each party's signed, hash-chained log of openings
//!
//! [guard]                        # optional, train only: the overflow guard
//! bound = 1024.0                 # |activation|, |gradient|, |parameter| < bound (default 1024)
//! every_steps = 1                # one range check per step (default)
//! max_rollbacks = 8              # rollbacks (each halves lr) before the job fails
//! ```
//!
//! An infer job has `[infer]` instead of `[train]`, `[output]` and `[[data.sources]]`:
//!
//! ```toml
//! [infer]
//! weights = { party = 0, path = "model.safetensors" }  # a plaintext model one party holds
//! # shares = "shares-{role}.safetensors"               # or every party's shares of a train job
//! # shares_job = "cancer-2026-12"                      # the train job's id (with `shares`)
//! queries = { party = 1, csv = "queries.csv" }         # label column optional
//! predictions_to = 1
//! predictions_path = "predictions.csv"
//! ```
//!
//! A train job may also pool the rows of **external data owners** that run no server
//! (`trefoil share`, see [`crate::intake`]): list them in `data.owners = [0, 1]` and say where
//! the servers accept them:
//!
//! ```toml
//! [intake]
//! addresses = ["10.0.0.1:7100", "10.0.0.2:7100", "10.0.0.3:7100"]  # servers 0, 1, 2
//! timeout_ms = 60000             # how long servers wait for every owner
//! ```
//!
//! Unknown keys and bad values are [`Error::JobFile`] / [`Error::JobKey`] errors naming the key.
//! [`Job::digest`] hashes the parsed job (not its spelling), and the parties compare digests
//! before anything else, so different job files fail at once on every party.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

mod validate;

/// A parsed and validated job file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Job {
    /// The job's id.
    pub id: String,
    /// `train` or `infer`.
    pub kind: JobKind,
    /// Fixed-point fractional bits for this job (overrides the party config's).
    #[serde(default)]
    pub frac_bits: Option<u32>,
    /// The model.
    pub model: ModelSpec,
    /// The data's columns and, for training, who holds which CSV.
    pub data: DataSpec,
    /// Training hyper-parameters (train jobs).
    #[serde(default)]
    pub train: Option<TrainSpec>,
    /// Who receives the trained model (train jobs).
    #[serde(default)]
    pub output: Option<OutputSpec>,
    /// The model, queries and predictions (infer jobs).
    #[serde(default)]
    pub infer: Option<InferSpec>,
    /// Where the servers accept external data owners (train jobs with `data.owners`).
    #[serde(default)]
    pub intake: Option<IntakeSpec>,
    /// Checkpoints of each party's shares during training, and resuming from them (train jobs).
    #[serde(default)]
    pub checkpoint: Option<CheckpointSpec>,
    /// The overflow guard: a secure range check per batch, with rollback (train jobs).
    #[serde(default)]
    pub guard: Option<GuardSpec>,
    /// What may be opened to whom, and the parties' audit logs ([`crate::policy`]).
    #[serde(default)]
    pub reveal: Option<RevealSpec>,
    /// The directory relative paths are resolved against (not part of the file).
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// What a job computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    /// Train a model on the pooled rows.
    Train,
    /// Predict with a model on one party's queries.
    Infer,
}

/// A model from `mpc-models` that fits tabular rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// `logistic_regression`, `softmax_regression` or `mlp`.
    pub name: String,
    /// Hidden widths (mlp only).
    #[serde(default)]
    pub hidden: Vec<usize>,
    /// Hidden activation (mlp only): `relu`, `sigmoid` or `tanh`.
    #[serde(default)]
    pub activation: Option<String>,
}

/// The data's columns and sources.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// The label column.
    pub label: String,
    /// Every class label, in class order.
    pub classes: Vec<String>,
    /// The feature columns (default: all but the label, in the file's order).
    #[serde(default)]
    pub features: Option<Vec<String>>,
    /// Standardise with the pooled training statistics.
    #[serde(default = "yes")]
    pub standardize: bool,
    /// Who holds which CSV (train jobs).
    #[serde(default)]
    pub sources: Vec<Source>,
    /// External data owners (`trefoil share --owner K`) whose rows join the training data.
    #[serde(default)]
    pub owners: Vec<usize>,
    /// How the parties' CSV files partition the records (train jobs).
    #[serde(default)]
    pub split: Partition,
}

/// How the sources of a train job partition the training records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Partition {
    /// Each party's CSV holds some records (rows), every column, labels included.
    #[default]
    Horizontal,
    /// Each party's CSV holds some feature columns of the same records in the same order;
    /// exactly one party's CSV also has the label column.
    Vertical,
}

/// The servers' intake of external owners' shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntakeSpec {
    /// `host:port` where server 0, 1 and 2 accept owners.
    pub addresses: [String; 3],
    /// How long the servers wait for every owner, and an owner for the servers.
    #[serde(default = "default_intake_timeout")]
    pub timeout_ms: u64,
}

fn default_intake_timeout() -> u64 {
    60_000
}

fn yes() -> bool {
    true
}

/// Checkpoints: every `every_steps` steps each party writes its own shares of the model, the
/// optimizer state and the standardiser to `dir` (with `{role}`), and a restarted job resumes
/// from the latest step that all three parties have.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointSpec {
    /// This party's checkpoint folder (created if needed; `{role}` is replaced).
    pub dir: PathBuf,
    /// Steps between checkpoints.
    #[serde(default = "default_checkpoint_every")]
    pub every_steps: usize,
    /// Checkpoints kept per party (the older ones are deleted); at least 2, so that the three
    /// parties always share one after a crash.
    #[serde(default = "default_checkpoint_keep")]
    pub keep: usize,
}

fn default_checkpoint_every() -> usize {
    50
}
fn default_checkpoint_keep() -> usize {
    3
}

/// The overflow guard: after every `every_steps` steps, one secure range check that every
/// activation, gradient and parameter of the step is below `bound` in absolute value; only the
/// bit "some value is out of range" is opened. On failure the parties roll back to the last
/// checkpoint, halve the learning rate and continue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardSpec {
    /// The bound, in real units.
    #[serde(default = "default_guard_bound")]
    pub bound: f64,
    /// Steps between checks.
    #[serde(default = "default_guard_every")]
    pub every_steps: usize,
    /// Rollbacks allowed before the job fails.
    #[serde(default = "default_guard_rollbacks")]
    pub max_rollbacks: usize,
}

fn default_guard_bound() -> f64 {
    1024.0
}
fn default_guard_every() -> usize {
    1
}
fn default_guard_rollbacks() -> usize {
    8
}

/// The reveal policy and the audit log ([`crate::policy`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevealSpec {
    /// The allowed openings, e.g. `["metrics to all", "model to 0"]` (default: exactly what
    /// the job's other keys ask for).
    #[serde(default)]
    pub allow: Option<Vec<String>>,
    /// Each party's audit log (`{role}` is replaced), signed with its TLS key.
    #[serde(default)]
    pub log: Option<PathBuf>,
}

/// One party's CSV file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// The party (0, 1 or 2) that reads the file and inputs its rows.
    pub party: usize,
    /// The CSV file (on that party's machine).
    pub csv: PathBuf,
}

/// Training hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSpec {
    /// Passes over the pooled training rows.
    #[serde(default = "default_epochs")]
    pub epochs: usize,
    /// Rows per step.
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    /// SGD learning rate.
    #[serde(default = "default_lr")]
    pub lr: f64,
    /// SGD momentum.
    #[serde(default)]
    pub momentum: f64,
    /// L2 weight decay.
    #[serde(default)]
    pub weight_decay: f64,
    /// Seed of the batch order and of each party's train/test split (public).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Fraction of each party's rows held out for the test accuracy (0: no test).
    #[serde(default = "default_test_fraction")]
    pub test_fraction: f64,
}

fn default_epochs() -> usize {
    10
}
fn default_batch() -> usize {
    32
}
fn default_lr() -> f64 {
    0.1
}
fn default_seed() -> u64 {
    42
}
fn default_test_fraction() -> f64 {
    0.2
}

impl Default for TrainSpec {
    fn default() -> Self {
        TrainSpec {
            epochs: default_epochs(),
            batch_size: default_batch(),
            lr: default_lr(),
            momentum: 0.0,
            weight_decay: 0.0,
            seed: default_seed(),
            test_fraction: default_test_fraction(),
        }
    }
}

/// Who receives the trained model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    /// The party that receives the model in the clear.
    #[serde(default)]
    pub model_to: Option<usize>,
    /// Where that party writes it (safetensors, `f32`).
    #[serde(default)]
    pub model_path: Option<PathBuf>,
    /// Where every party writes its own shares of the model (`{role}` is replaced).
    #[serde(default)]
    pub shares_path: Option<PathBuf>,
}

/// A plaintext model file held by one party.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Weights {
    /// The party holding the file.
    pub party: usize,
    /// The safetensors file.
    pub path: PathBuf,
}

/// The infer job's inputs and outputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InferSpec {
    /// A plaintext model one party holds (entered as secret shares).
    #[serde(default)]
    pub weights: Option<Weights>,
    /// Every party's share file of a train job (`{role}` is replaced).
    #[serde(default)]
    pub shares: Option<PathBuf>,
    /// The train job id the share files were written by (default: this job's id).
    #[serde(default)]
    pub shares_job: Option<String>,
    /// The party holding the queries and its CSV.
    pub queries: Source,
    /// The party that receives the predictions.
    pub predictions_to: usize,
    /// Where it writes them (CSV: row, prediction).
    pub predictions_path: PathBuf,
}

impl Job {
    /// Parses and validates a job; relative paths will be resolved against `base_dir`.
    pub fn from_toml_str(text: &str, base_dir: &Path) -> Result<Job> {
        let mut job: Job = toml::from_str(text).map_err(|e| Error::JobFile {
            path: base_dir.join("<job>"),
            detail: e.to_string(),
        })?;
        job.base_dir = base_dir.to_path_buf();
        job.validate()?;
        Ok(job)
    }

    /// Reads, parses and validates a job file.
    pub fn load(path: &Path) -> Result<Job> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::JobFile {
            path: path.to_path_buf(),
            detail: format!("cannot read: {e}"),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut job: Job = toml::from_str(&text).map_err(|e| Error::JobFile {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
        job.base_dir = base.to_path_buf();
        job.validate()?;
        Ok(job)
    }

    /// The training settings (defaults where the file has no `[train]`).
    pub fn train_spec(&self) -> TrainSpec {
        self.train.clone().unwrap_or_default()
    }

    /// A path of the job resolved for party `role`: `{role}` replaced, relative to the job file.
    pub fn path_for(&self, path: &Path, role: usize) -> PathBuf {
        let s = path.to_string_lossy().replace("{role}", &role.to_string());
        self.base_dir.join(s)
    }

    /// SHA-256 of the parsed job (its canonical JSON form), independent of spelling, comments
    /// and the directory it was read from.
    pub fn digest(&self) -> [u8; 32] {
        let mut plain = self.clone();
        plain.base_dir = PathBuf::new();
        // JSON fails only on a path that is not UTF-8; the debug form is canonical too
        let canonical =
            serde_json::to_vec(&plain).unwrap_or_else(|_| format!("{plain:?}").into_bytes());
        let d = ring::digest::digest(&ring::digest::SHA256, &canonical);
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        out
    }

    /// The number of model outputs: one logit for two classes (except softmax regression),
    /// else one per class.
    pub fn outputs(&self) -> usize {
        let c = self.data.classes.len();
        if c == 2 && self.model.name != "softmax_regression" {
            1
        } else {
            c
        }
    }
}

/// The fractional bits a job may run with. Below 8 the models' values lose all precision (a
/// learning rate of 0.01 rounds to 0); above 24 products of standardised values leave the exact
/// range (`2^(62-2f)`) and the polynomial approximations' coefficients no longer fit. The secure
/// standardiser's range follows `f` (see `mpc_nn::share::Standardizer`): standard deviations
/// from a few ulp to about `2^f / 2`, means below `2^(61 - 2f)` (8192 at 24 bits).
pub const JOB_FRAC_BITS: std::ops::RangeInclusive<u32> = 8..=24;

/// Learning rates must be below this (`2^39`): the optimiser multiplies by `lr` as a public
/// fixed-point constant, which must be encodable at the largest [`JOB_FRAC_BITS`].
pub const MAX_LR: f64 = (1u64 << 39) as f64;

/// The error detail for `frac_bits = f` outside [`JOB_FRAC_BITS`].
pub fn job_frac_bits_detail(f: u32) -> String {
    format!(
        "{f}: a job trains or runs fixed-point models, which need {} to {} fractional bits (16 \
         is the default)",
        JOB_FRAC_BITS.start(),
        JOB_FRAC_BITS.end()
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    pub(crate) const TRAIN: &str = r#"
id = "t1"
kind = "train"
[model]
name = "mlp"
hidden = [8]
[data]
label = "y"
classes = ["0", "1"]
[[data.sources]]
party = 0
csv = "a.csv"
[[data.sources]]
party = 2
csv = "c.csv"
[train]
epochs = 3
[output]
model_to = 1
model_path = "m.safetensors"
shares_path = "s{role}.safetensors"
"#;

    fn key_of(text: &str) -> String {
        match Job::from_toml_str(text, Path::new("/j")) {
            Err(Error::JobKey { key, .. }) => key,
            Err(Error::JobFile { detail, .. }) => format!("file: {detail}"),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn parses_validates_and_names_keys() {
        let j = Job::from_toml_str(TRAIN, Path::new("/j")).unwrap();
        assert_eq!(j.train_spec().epochs, 3);
        assert_eq!(j.train_spec().batch_size, 32);
        assert!(j.data.standardize);
        assert_eq!(j.outputs(), 1);
        assert_eq!(
            j.path_for(Path::new("s{role}.safetensors"), 2),
            PathBuf::from("/j/s2.safetensors")
        );
        // spelling and directory do not change the digest; a value does
        let j2 = Job::from_toml_str(
            &TRAIN.replace("epochs = 3", "epochs    =  3 # c"),
            Path::new("/x"),
        )
        .unwrap();
        assert_eq!(j.digest(), j2.digest());
        let j3 = Job::from_toml_str(&TRAIN.replace("epochs = 3", "epochs = 4"), Path::new("/j"))
            .unwrap();
        assert_ne!(j.digest(), j3.digest());

        assert!(key_of(&TRAIN.replace("epochs = 3", "epochz = 3")).contains("epochz"));
        assert!(key_of(&TRAIN.replace("kind = \"train\"", "kind = \"fly\"")).contains("fly"));
        assert_eq!(
            key_of(&TRAIN.replace("epochs = 3", "epochs = 0")),
            "train.epochs"
        );
        assert_eq!(
            key_of(&TRAIN.replace("party = 2", "party = 3")),
            "data.sources[1].party"
        );
        assert_eq!(
            key_of(&TRAIN.replace("model_to = 1", "model_to = 5")),
            "output.model_to"
        );
        assert_eq!(key_of(&TRAIN.replace("\"mlp\"", "\"cnn\"")), "model.name");
        assert_eq!(key_of(&TRAIN.replace("hidden = [8]", "")), "model.hidden");
        for f in [4, 25, 30] {
            let t = TRAIN.replace(
                "kind = \"train\"",
                &format!("kind = \"train\"\nfrac_bits = {f}"),
            );
            assert_eq!(key_of(&t), "frac_bits");
        }
        // a width that would exhaust memory, and a CSV read twice, are named before any work
        assert_eq!(
            key_of(&TRAIN.replace("hidden = [8]", "hidden = [100000000]")),
            "model.hidden"
        );
        assert!(Job::from_toml_str(&TRAIN.replace("[8]", "[16384]"), Path::new("/j")).is_ok());
        assert_eq!(
            key_of(&TRAIN.replace(
                "hidden = [8]",
                "hidden = [8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8]"
            )),
            "model.hidden"
        );
        assert_eq!(
            key_of(&TRAIN.replace("party = 2\ncsv = \"c.csv\"", "party = 0\ncsv = \"a.csv\"")),
            "data.sources[1]"
        );
        let two_files = TRAIN.replace("party = 2\ncsv = \"c.csv\"", "party = 0\ncsv = \"b.csv\"");
        assert!(Job::from_toml_str(&two_files, Path::new("/j")).is_ok());
        assert_eq!(
            key_of(&TRAIN.replace("[\"0\", \"1\"]", "[\"0\"]")),
            "data.classes"
        );
        assert_eq!(
            key_of(&TRAIN.replace("epochs = 3", "epochs = 3\ntest_fraction = 1.5")),
            "train.test_fraction"
        );
        // a learning rate no fixed-point constant can hold is named before any work
        for lr in ["1e20", "6e11", "-0.1", "0.0"] {
            let t = TRAIN.replace("epochs = 3", &format!("epochs = 3\nlr = {lr}"));
            assert_eq!(key_of(&t), "train.lr", "{lr}");
        }
        let t = TRAIN.replace("epochs = 3", "epochs = 3\nlr = 5e11");
        assert!(Job::from_toml_str(&t, Path::new("/j")).is_ok());
        assert!(key_of(&TRAIN.replace("epochs = 3", "epochs = \"x\"")).contains("epochs"));
        // external owners need an intake, and the intake needs owners
        let owners = TRAIN.replace(
            "classes = [\"0\", \"1\"]",
            "classes = [\"0\", \"1\"]\nowners = [0, 2]",
        );
        assert_eq!(key_of(&owners), "intake");
        let intake = "\n[intake]\naddresses = [\"h:1\", \"h:2\", \"h:3\"]\n";
        let j = Job::from_toml_str(&format!("{owners}{intake}"), Path::new("/j")).unwrap();
        assert_eq!(j.data.owners, [0, 2]);
        assert_eq!(j.intake.unwrap().timeout_ms, 60_000);
        assert_eq!(key_of(&format!("{TRAIN}{intake}")), "intake");
        assert_eq!(
            key_of(&format!("{owners}{}", intake.replace("h:2", "h2"))),
            "intake.addresses[1]"
        );
        assert_eq!(key_of(&owners.replace("[0, 2]", "[1, 1]")), "data.owners");
    }

    #[test]
    fn infer_jobs_need_one_model_source() {
        let infer = r#"
id = "i1"
kind = "infer"
[model]
name = "logistic_regression"
[data]
label = "y"
classes = ["0", "1"]
[infer]
weights = { party = 0, path = "m.safetensors" }
queries = { party = 1, csv = "q.csv" }
predictions_to = 1
predictions_path = "p.csv"
"#;
        let j = Job::from_toml_str(infer, Path::new(".")).unwrap();
        assert_eq!(j.kind, JobKind::Infer);
        assert_eq!(
            key_of(&infer.replace("predictions_to = 1", "predictions_to = 4")),
            "infer.predictions_to"
        );
        assert_eq!(
            key_of(&infer.replace("weights = { party = 0, path = \"m.safetensors\" }", "")),
            "infer"
        );
        assert_eq!(key_of(&format!("{infer}[train]\nepochs = 1\n")), "train");
        let vertical = infer.replace(
            "classes = [\"0\", \"1\"]",
            "classes = [\"0\", \"1\"]\nsplit = \"vertical\"",
        );
        assert_eq!(key_of(&vertical), "data.split");
    }
}
