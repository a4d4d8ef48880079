//! Trefoil's main demo: two hospitals pool patient data for joint statistics without showing
//! each other (or the third server) a single record.
//!
//! Hospital A (party 0) and hospital B (party 1) each hold a private table of patients × features.
//! The three servers compute the pooled mean and the pooled covariance matrix (a secret matmul
//! `X^T X` over the concatenated tables) and reveal only those aggregates; the result is checked
//! against the same computation in plaintext. Run: `cargo run --release --example demo`.

use anyhow::{Context, Result};
use mpc_core::{AShare, run_3pc};
use ndarray::{Array2, ArrayD, Axis, Ix2};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const FEATURES: usize = 8;

fn table(rows: usize, shift: f64, seed: u64) -> ArrayD<f64> {
    let mut r = StdRng::seed_from_u64(seed);
    Array2::from_shape_fn((rows, FEATURES), |(_, j)| {
        shift + j as f64 * 0.1 + r.random_range(-1.0..1.0)
    })
    .into_dyn()
}

fn main() -> Result<()> {
    let (rows_a, rows_b) = (600, 400);
    let a = table(rows_a, 0.5, 1); // hospital A's private records
    let b = table(rows_b, -0.5, 2); // hospital B's private records
    let n = (rows_a + rows_b) as f64;

    let t0 = std::time::Instant::now();
    let outs = run_3pc(|p| {
        let role = p.role();
        let sa = p.input_f64(0, (role == 0).then_some(&a), &[rows_a, FEATURES])?;
        let sb = p.input_f64(1, (role == 1).then_some(&b), &[rows_b, FEATURES])?;
        let x = AShare::concat(0, &[&sa, &sb])?; // pooled table, still secret
        let mean = p.mul_scalar(&x.sum_axis(0)?, 1.0 / n)?;
        let centred_mean = mean
            .reshape(&[1, FEATURES])?
            .broadcast_to(&[rows_a + rows_b, FEATURES])?;
        let xc = x.sub(&centred_mean)?;
        let scatter = p.matmul(&xc.t(), &xc)?; // FEATURES x FEATURES, secret
        let cov = p.mul_scalar(&scatter, 1.0 / (n - 1.0))?;
        Ok((p.reveal_f64(&mean)?, p.reveal_f64(&cov)?, p.stats()))
    })?;
    let elapsed = t0.elapsed();

    let pooled =
        ndarray::concatenate(Axis(0), &[a.view(), b.view()])?.into_dimensionality::<Ix2>()?;
    let mean = pooled.mean_axis(Axis(0)).context("empty table")?;
    let xc = &pooled - &mean;
    let cov = xc.t().dot(&xc) / (n - 1.0);

    let (smean, scov, _) = &outs[0];
    let err_mean = smean
        .iter()
        .zip(mean.iter())
        .map(|(x, y)| (x - y).abs())
        .fold(
            0.0,
            |m, d| if d.is_nan() { f64::INFINITY } else { m.max(d) },
        );
    let err_cov = scov
        .iter()
        .zip(cov.iter())
        .map(|(x, y)| (x - y).abs())
        .fold(
            0.0,
            |m, d| if d.is_nan() { f64::INFINITY } else { m.max(d) },
        );
    println!(
        "Pooled {} patients from two hospitals; only aggregates were revealed.",
        n as usize
    );
    println!("mean (secure):   {:.4}", smean);
    println!("max |error| vs plaintext: mean {err_mean:.2e}, covariance {err_cov:.2e}");
    for (role, (_, _, s)) in outs.iter().enumerate() {
        println!(
            "party {role}: sent {:.1} KiB in {} messages, {} rounds",
            s.bytes_sent as f64 / 1024.0,
            s.messages_sent,
            s.rounds
        );
    }
    println!(
        "wall time, all three parties in one process: {:.1} ms",
        elapsed.as_secs_f64() * 1e3
    );
    anyhow::ensure!(
        err_mean < 1e-3 && err_cov < 1e-2,
        "secure result differs from plaintext"
    );
    Ok(())
}
