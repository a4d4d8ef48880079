//! Private inference on digits: a model owner, a client with images, a helper server.
//! Only the client learns the predicted classes; latency and bytes per query and per batch.
//! Run: `cargo run --release --example private_inference [-- BATCH]`.

use anyhow::{Context, Result};
use trefoil::inference::{InferenceDemoConfig, digits_demo};

fn main() -> Result<()> {
    let mut cfg = InferenceDemoConfig::default();
    if let Some(b) = std::env::args().nth(1) {
        cfg.batch = b
            .parse()
            .with_context(|| format!("BATCH: {b:?} is not a whole number"))?;
    }
    let report = digits_demo(&cfg)?;
    println!("{report}");
    Ok(())
}
