//! The facade's error type: what the demos, plots and private inference return.

use std::path::PathBuf;

/// Everything the facade's own code can fail with; errors of the member crates are wrapped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An error of the layer API (shapes, data, files, or a protocol error underneath).
    #[error(transparent)]
    Nn(#[from] mpc_nn::NnError),
    /// An error of a protocol (mpc-core).
    #[error(transparent)]
    Core(#[from] mpc_core::CoreError),
    /// A plot could not be drawn or written.
    #[error("plot {what}: {message}")]
    Plot {
        /// Which plot.
        what: String,
        /// What went wrong.
        message: String,
    },
    /// A file could not be written or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A setting is out of range; the message names it.
    #[error("invalid setting: {0}")]
    Config(String),
}

/// The facade's result type.
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
