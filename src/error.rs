//! The facade's error type: what jobs, deployment, demos, plots and private inference return.

use std::path::PathBuf;
use thiserror::Error;

/// Everything the facade's own code can fail with; errors of the member crates are wrapped.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A job file could not be read.
    #[error("job file {}: {detail}", path.display())]
    JobFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// A job file's key is unknown, missing or has a bad value.
    #[error("job key `{key}`: {detail}")]
    JobKey {
        /// The key, e.g. `train.epochs` or `data.sources[1].csv`.
        key: String,
        /// What is wrong.
        detail: String,
    },
    /// The parties run different job files.
    #[error(
        "job mismatch: this party's job file (sha256 {ours}) differs from party {peer}'s \
         (sha256 {theirs}); the three servers must run the same job file"
    )]
    JobMismatch {
        /// The peer with another job.
        peer: usize,
        /// Our job hash (hex, shortened).
        ours: String,
        /// The peer's job hash.
        theirs: String,
    },
    /// The parties' data do not fit together (columns, classes, shapes).
    #[error("data: {0}")]
    Data(String),
    /// A network or configuration failure.
    #[error(transparent)]
    Net(#[from] mpc_net::NetError),
    /// A secure-computation failure.
    #[error(transparent)]
    Core(#[from] mpc_core::CoreError),
    /// A layer, data-loading or model-file failure.
    #[error(transparent)]
    Nn(#[from] mpc_nn::NnError),
    /// A file could not be written or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// An external data owner's delivery failed (refused, disconnected, timed out...).
    #[error("intake from {peer}: {detail}")]
    Intake {
        /// The other end: an owner (seen by a server) or a server (seen by an owner).
        peer: String,
        /// What went wrong.
        detail: String,
    },
    /// A connection to the intake presented a certificate that is not an expected owner's.
    #[error("intake: wrong identity: {detail}")]
    OwnerIdentity {
        /// Why the certificate does not fit.
        detail: String,
    },
    /// Not every expected owner delivered within the intake timeout.
    #[error("intake: timed out after {millis} ms waiting for owners {missing:?}")]
    IntakeTimeout {
        /// Owners that did not deliver.
        missing: Vec<usize>,
        /// The timeout.
        millis: u64,
    },
    /// A spawned party process failed or did not finish.
    #[error("{0}")]
    Process(String),
    /// A plot could not be drawn or written.
    #[error("plot {what}: {message}")]
    Plot {
        /// Which plot.
        what: String,
        /// What went wrong.
        message: String,
    },
    /// An audit log's chain is broken: the line, its sequence number (when readable) and how.
    #[error(
        "audit log {}: line {line}{}: {fault}",
        path.display(),
        seq.map(|s| format!(" (seq {s})")).unwrap_or_default()
    )]
    AuditChain {
        /// The log file.
        path: PathBuf,
        /// The line number (from 1) where the chain breaks.
        line: usize,
        /// The line's sequence number, when the line could be read.
        seq: Option<u64>,
        /// What is wrong with the line.
        fault: crate::audit::Fault,
    },
    /// An audit key or certificate cannot be used (unreadable, unsupported type, not the CA's).
    #[error("audit key {}: {detail}", path.display())]
    AuditKey {
        /// The key, certificate or log file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A setting is out of range; the message names it.
    #[error("invalid setting: {0}")]
    Config(String),
    /// A checkpoint cannot be used: another job's, corrupt, or missing at some party.
    #[error("checkpoint {}: {detail}", path.display())]
    Checkpoint {
        /// The checkpoint file or folder.
        path: PathBuf,
        /// What is wrong and what to do.
        detail: String,
    },
    /// Training kept leaving the fixed-point range after every rollback the guard allows.
    #[error("overflow guard: {0}")]
    Diverged(String),
}

impl Error {
    /// A [`Error::JobKey`].
    pub fn key(key: impl Into<String>, detail: impl Into<String>) -> Error {
        Error::JobKey {
            key: key.into(),
            detail: detail.into(),
        }
    }
}

impl mpc_core::PartyError for Error {
    fn is_disconnect(&self) -> bool {
        match self {
            Error::Core(e) => e.is_disconnect(),
            Error::Nn(e) => e.is_disconnect(),
            _ => false,
        }
    }
}

/// Result type of the facade.
pub type Result<T> = std::result::Result<T, Error>;

/// So that facade calls compose with `?` inside the closures of [`mpc_nn::run_3pc`], whose
/// parties return the layer API's error.
impl From<Error> for mpc_nn::NnError {
    fn from(e: Error) -> mpc_nn::NnError {
        match e {
            Error::Nn(e) => e,
            Error::Core(e) => mpc_nn::NnError::Core(e),
            other => mpc_nn::NnError::Config(other.to_string()),
        }
    }
}
