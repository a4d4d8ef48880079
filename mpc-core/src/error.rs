use mpc_net::NetError;
use thiserror::Error;

/// Everything a protocol in `mpc-core` can fail with.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CoreError {
    /// The transport failed (a peer disconnected or timed out, a message had the wrong length).
    #[error("network: {0}")]
    Net(#[from] NetError),
    /// Two operands' shapes do not fit the operation.
    #[error("shape mismatch in {op}: {left:?} vs {right:?}")]
    ShapeMismatch {
        /// The operation.
        op: &'static str,
        /// Shape of the left operand.
        left: Vec<usize>,
        /// Shape of the right operand.
        right: Vec<usize>,
    },
    /// A shape operation that the shape does not allow (bad axis, reshape to another size...).
    #[error("invalid shape for {op}: {detail}")]
    InvalidShape {
        /// The operation.
        op: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// A value that fixed-point encoding cannot represent (too large, NaN or infinite).
    #[error(
        "value {} cannot be encoded with {frac_bits} fractional bits: |x| must be below {limit}",
        short(*value)
    )]
    OutOfRange {
        /// The offending value.
        value: f64,
        /// Fractional bits of the encoding.
        frac_bits: u32,
        /// The largest magnitude allowed.
        limit: f64,
    },
    /// Operands carry different fixed-point scales.
    #[error("fixed-point mismatch in {op}: {left} vs {right} fractional bits")]
    ScaleMismatch {
        /// The operation.
        op: &'static str,
        /// Fractional bits of the left operand.
        left: u32,
        /// Fractional bits of the right operand.
        right: u32,
    },
    /// A fixed-point configuration that cannot work.
    #[error("invalid fixed-point setting: {0}")]
    InvalidFixedPoint(String),
    /// A party role outside 0..3 was named.
    #[error("invalid party role {0}: roles are 0, 1 and 2")]
    BadRole(usize),
    /// The party that owns an input did not provide it (or another party did).
    #[error("input owned by party {owner}: {detail}")]
    BadInput {
        /// The owner role.
        owner: usize,
        /// What is wrong.
        detail: String,
    },
    /// The operating system's random number generator failed.
    #[error("OS random number generator failed: {0}")]
    Rng(String),
    /// This party's reveal gate refused an explicit opening; nothing was sent or received.
    #[error(
        "reveal refused: {} to {}: {reason}",
        if label.is_empty() { "unlabelled tensor".to_string() } else { format!("{label:?}") },
        match to { Some(r) => format!("party {r}"), None => "all parties".to_string() }
    )]
    RevealRefused {
        /// The label the opening was made under (`""` when unlabelled).
        label: String,
        /// The recipient: `Some(role)` or `None` for every party.
        to: Option<usize>,
        /// Why the gate refused.
        reason: String,
    },
    /// [`crate::prg::force_aes_path`] named a keystream path this CPU does not support.
    #[error("AES keystream path {0} is not supported by this CPU")]
    UnsupportedAesPath(&'static str),
    /// A party's thread in the in-process harness panicked.
    #[error("party {0} panicked")]
    PartyPanicked(usize),
}

/// Result type of `mpc-core`.
pub type Result<T> = std::result::Result<T, CoreError>;

/// `x` as a person would write it: `1e30` rather than thirty-one digits.
fn short(x: f64) -> String {
    if x.is_finite() && x != 0.0 && !(1e-6..1e15).contains(&x.abs()) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}
