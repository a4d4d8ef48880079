use mpc_core::CoreError;
use std::path::PathBuf;
use thiserror::Error;

/// Everything `mpc-nn` can fail with.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum NnError {
    /// A protocol of the secure engine failed (network, shapes, fixed-point range...).
    #[error("secure computation: {0}")]
    Core(#[from] CoreError),
    /// A tensor's shape does not fit a layer, loss or optimizer.
    #[error("shape error in {op}: {detail}")]
    Shape {
        /// The layer or operation.
        op: String,
        /// What is wrong.
        detail: String,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A CSV file has a bad cell, a missing value, a ragged row or a missing column.
    #[error("{}: row {row}, column {column}: {detail}", path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// 1-based line number in the file (the header is line 1); 0 when not about one row.
        row: usize,
        /// The column's name (or its 1-based position when the header has no name for it).
        column: String,
        /// What is wrong.
        detail: String,
    },
    /// An IDX (MNIST format) file is malformed.
    #[error("{}: IDX format: {detail}", path.display())]
    Idx {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A dataset operation got arguments it cannot work with (empty data, bad fraction...).
    #[error("dataset: {0}")]
    Dataset(String),
    /// A model or training configuration that cannot work.
    #[error("configuration: {0}")]
    Config(String),
    /// A parameter file (shares or safetensors) does not match the model.
    #[error("parameters: {0}")]
    Params(String),
    /// libtorch failed (feature `torch`): a conversion, or a `tch` module's forward pass.
    #[cfg(feature = "torch")]
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// A backward pass was asked for without a forward pass in training mode.
    #[error("{layer}: backward called without a forward pass in training mode")]
    NoForward {
        /// The layer.
        layer: String,
    },
}

/// Result type of `mpc-nn`.
pub type Result<T> = std::result::Result<T, NnError>;

impl NnError {
    /// A [`NnError::Shape`] for `op`.
    pub fn shape(op: impl Into<String>, detail: impl Into<String>) -> NnError {
        NnError::Shape {
            op: op.into(),
            detail: detail.into(),
        }
    }
}

impl mpc_core::PartyError for NnError {
    fn is_disconnect(&self) -> bool {
        matches!(self, NnError::Core(e) if e.is_disconnect())
    }
}
