//! Standard workload runner:
//! `cargo run --release --example bench_suite [-- [--keep-freed-memory] [--kernel K] [--aes P] WORKLOAD...]`
//! (the default allocator, as users run; `--keep-freed-memory` applies the glibc tuning of
//! `mpc_core::keep_freed_memory`, to measure what it still changes with the buffer pool;
//! `--kernel portable|avx2|avx512` forces that GEMM kernel and `--aes portable|aesni|vaes256|vaes512`
//! that AES-CTR keystream path, to compare them on one CPU).
//!
//! Prints one JSON object per line per workload: `workload`, `median_s` (median of the timed
//! runs after a warm-up, all three parties in one process), `plain_median_s` (the same
//! computation in plaintext f64, same run), `ratio`, `bytes_per_party` (the most any party sent in
//! one run), `rounds`, `max_abs_err` (revealed result vs plaintext), `cpu` (the "model name" of
//! `/proc/cpuinfo` with its family and model numbers, or "unknown"), `kernel` (the GEMM kernel
//! used) and `aes` (the keystream path of the parties' generators).

use anyhow::{Result, bail};
use mpc_core::gemm::{GemmKernel, force_kernel};
use mpc_core::prg::{AesPath, force_aes_path};
use mpc_core::{Party, time_3pc};
use ndarray::{Array2, ArrayD, Ix2, IxDyn};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::time::{Duration, Instant};

const RUNS: usize = 11;

fn normal(r: &mut StdRng, shape: &[usize]) -> ArrayD<f64> {
    // Box-Muller
    let n: usize = shape.iter().product();
    let v = (0..n)
        .map(|_| {
            let (u1, u2): (f64, f64) = (r.random_range(1e-12..1.0), r.random());
            (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
        })
        .collect();
    ArrayD::from_shape_vec(IxDyn(shape), v).expect("shape matches")
}

fn median_of(mut f: impl FnMut()) -> Duration {
    f();
    let mut s: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    s.sort();
    s[s.len() / 2]
}

/// The CPU's model name from `/proc/cpuinfo` with its family and model numbers (a VM may name
/// several generations alike, e.g. "AMD EPYC" for Zen 3 = family 25 model 1 and Zen 4 = family
/// 25 model 17), or "unknown".
fn cpu_model() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |key: &str| {
        info.lines()
            .find(|l| l.split(':').next().map(str::trim) == Some(key))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    match (field("model name"), field("cpu family"), field("model")) {
        (Some(name), Some(family), Some(model)) => {
            format!("{name} (family {family} model {model})")
        }
        (Some(name), _, _) => name,
        _ => "unknown".to_string(),
    }
}

/// `s` as a JSON string literal.
fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Times `op` on two shared inputs and prints the JSON line.
fn run(
    name: &str,
    x: &ArrayD<f64>,
    y: &ArrayD<f64>,
    plain: impl Fn() -> ArrayD<f64>,
    op: impl Fn(&mut Party, &(mpc_core::AShare, mpc_core::AShare)) -> mpc_core::Result<mpc_core::AShare>
    + Sync,
) -> Result<()> {
    let (timing, (secure, _)) = time_3pc(
        1,
        RUNS,
        |p| {
            let own = |o: usize, v| (p.role() == o).then_some(v);
            let a = own(0, x);
            let b = own(1, y);
            Ok((p.input_f64(0, a, x.shape())?, p.input_f64(1, b, y.shape())?))
        },
        |p, s| Ok((op(p, s)?, ())),
    )?;
    let revealed = mpc_core::run_3pc(|p| {
        let own = |o: usize, v| (p.role() == o).then_some(v);
        let (a, b) = (own(0, x), own(1, y));
        let s = (p.input_f64(0, a, x.shape())?, p.input_f64(1, b, y.shape())?);
        let z = op(p, &s)?;
        p.reveal_f64(&z)
    })?;
    let _ = secure;
    let want = plain();
    let plain_median = median_of(|| {
        std::hint::black_box(plain());
    });
    let median = timing.median();
    let bytes = timing
        .per_op
        .iter()
        .map(|s| s.bytes_sent)
        .max()
        .unwrap_or(0);
    println!(
        "{{\"workload\":\"{name}\",\"median_s\":{:.6},\"plain_median_s\":{:.6},\"ratio\":{:.1},\"bytes_per_party\":{bytes},\"rounds\":{},\"max_abs_err\":{:.3e},\"cpu\":{},\"kernel\":{},\"aes\":{}}}",
        median.as_secs_f64(),
        plain_median.as_secs_f64(),
        median.as_secs_f64() / plain_median.as_secs_f64().max(1e-9),
        timing.rounds,
        mpc_nn::train::max_abs_diff(&revealed[0], &want),
        json_str(&cpu_model()),
        json_str(mpc_core::gemm::kernel_name()),
        json_str(AesPath::detect().name()),
    );
    Ok(())
}

/// Removes `flag NAME` from `args` and returns the choice named `NAME` (`None` without `flag`).
fn take_choice<T: Copy>(
    args: &mut Vec<String>,
    flag: &str,
    what: &str,
    choices: &[(&str, T)],
) -> Result<Option<T>> {
    let Some(i) = args.iter().position(|a| a == flag) else {
        return Ok(None);
    };
    let names: Vec<&str> = choices.iter().map(|c| c.0).collect();
    let Some(name) = args.get(i + 1).cloned() else {
        bail!("{flag} needs a name: one of {}", names.join(", "));
    };
    let Some(&(_, choice)) = choices.iter().find(|c| c.0 == name) else {
        bail!("unknown {what} {name:?}: one of {}", names.join(", "));
    };
    args.drain(i..i + 2);
    Ok(Some(choice))
}

/// What `--help` prints.
const USAGE: &str = "usage: bench_suite [--keep-freed-memory] [--kernel K] [--aes P] [WORKLOAD...]
  WORKLOAD               one or more of the workloads below (default: all)
  --kernel K             force a GEMM kernel: portable, avx2, avx512
  --aes P                force an AES-CTR keystream path: portable, aesni, vaes256, vaes512
  --keep-freed-memory    apply the glibc malloc tuning (mpc_core::keep_freed_memory)
Prints one JSON line per workload (median_s, plain_median_s, ratio, bytes_per_party, rounds,
max_abs_err, cpu, kernel, aes).";

fn main() -> Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let all = [
        "matmul256",
        "matmul512",
        "mul1e6",
        "trunc1e6",
        "relu1e6",
        "maxpool",
        "sigmoid1e5",
        "softmax128x10",
        "recip1e5",
    ];
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}\nworkloads: {}", all.join(", "));
        return Ok(());
    }
    // `--keep-freed-memory`: glibc's malloc tuning, for before/after comparisons
    let before = args.len();
    args.retain(|a| a != "--keep-freed-memory");
    if args.len() != before {
        mpc_core::keep_freed_memory();
    }
    // `--kernel NAME` / `--aes NAME`: force a GEMM kernel or an AES-CTR keystream path, to
    // compare them on one CPU
    let kernels = GemmKernel::ALL.map(|k| (k.name(), k));
    if let Some(k) = take_choice(&mut args, "--kernel", "GEMM kernel", &kernels)? {
        force_kernel(Some(k))?;
    }
    let paths = AesPath::ALL.map(|p| (p.name(), p));
    if let Some(p) = take_choice(&mut args, "--aes", "AES path", &paths)? {
        force_aes_path(Some(p))?;
    }
    let chosen: Vec<&str> = if args.is_empty() {
        all.to_vec()
    } else {
        args.iter().map(String::as_str).collect()
    };
    let mut r = StdRng::seed_from_u64(42);
    // progress on stderr (a bar with ETA on a terminal, log lines otherwise); JSON on stdout
    let mut progress = trefoil::progress::Progress::new("bench_suite", chosen.len() as u64);
    for w in chosen {
        match w {
            "matmul256" => matmul(w, &mut r, 256)?,
            // its own seed, so that adding it left the data of the later workloads unchanged
            "matmul512" => matmul(w, &mut StdRng::seed_from_u64(512), 512)?,
            "mul1e6" => {
                let x = normal(&mut r, &[1_000_000]);
                let y = normal(&mut r, &[1_000_000]);
                run(w, &x, &y, || &x * &y, |p, (a, b)| p.mul(a, b))?;
            }
            "trunc1e6" => {
                // truncating values that carry 2f fractional bits, e.g. a product x*y kept wide
                let x = normal(&mut r, &[1_000_000]);
                let y = normal(&mut r, &[1_000_000]);
                let f = mpc_core::FixedPoint::default().frac_bits();
                let wide: ArrayD<f64> = &x * &y;
                run(
                    w,
                    &wide,
                    &y,
                    || wide.clone(),
                    move |p, (a, _)| {
                        let widened = a.mul_scalar_int(1 << f).with_frac_bits(2 * f);
                        p.trunc(&widened, f)
                    },
                )?;
            }
            "relu1e6" => relu1e6(&mut r)?,
            "maxpool" => maxpool(&mut r)?,
            "sigmoid1e5" => sigmoid1e5(&mut r)?,
            "softmax128x10" => softmax128x10(&mut r)?,
            "recip1e5" => recip1e5(&mut r)?,
            other => bail!(
                "unknown workload {other:?}; known: {} (--help for the options)",
                all.join(", ")
            ),
        }
        progress.inc(1, w);
    }
    progress.finish("done");
    Ok(())
}

/// `n x n` times `n x n`, standard-normal inputs, fixed point (truncation fused); the plaintext
/// baseline is ndarray's f64 `dot`.
fn matmul(name: &str, r: &mut StdRng, n: usize) -> Result<()> {
    let x = normal(r, &[n, n]);
    let y = normal(r, &[n, n]);
    let (x2, y2): (Array2<f64>, Array2<f64>) = (
        x.clone().into_dimensionality::<Ix2>()?,
        y.clone().into_dimensionality::<Ix2>()?,
    );
    run(
        name,
        &x,
        &y,
        || x2.dot(&y2).into_dyn(),
        |p, (a, b)| p.matmul(a, b),
    )
}

/// ReLU on 1,000,000 standard-normal values.
fn relu1e6(r: &mut StdRng) -> Result<()> {
    let x = normal(r, &[1_000_000]);
    run(
        "relu1e6",
        &x,
        &x,
        || x.mapv(|v| v.max(0.0)),
        |p, (a, _)| p.relu(a),
    )
}

/// 2x2 max-pooling, stride 2, of a 16 x 32 x 32 x 32 standard-normal batch (pooled values; the
/// argmax mask is computed too).
fn maxpool(r: &mut StdRng) -> Result<()> {
    let shape = [16usize, 32, 32, 32];
    let x = normal(r, &shape);
    let plain = || {
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3]);
        let mut out = ArrayD::<f64>::zeros(IxDyn(&[n, c, h / 2, w / 2]));
        for ((a, b, i, j), o) in ndarray::indices((n, c, h / 2, w / 2))
            .into_iter()
            .zip(out.iter_mut())
        {
            let v = |u, t| x[[a, b, 2 * i + u, 2 * j + t]];
            *o = v(0, 0).max(v(0, 1)).max(v(1, 0)).max(v(1, 1));
        }
        out
    };
    run("maxpool", &x, &x, plain, |p, (a, _)| {
        Ok(p.maxpool2d(a, 2, 2)?.0)
    })
}

/// The (accurate) sigmoid of 100,000 values `3 z`, `z` standard normal.
fn sigmoid1e5(r: &mut StdRng) -> Result<()> {
    let x = normal(r, &[100_000]).mapv(|v| 3.0 * v);
    run(
        "sigmoid1e5",
        &x,
        &x,
        || x.mapv(|v| 1.0 / (1.0 + (-v).exp())),
        |p, (a, _)| p.sigmoid(a),
    )
}

/// Softmax along the rows of a 128 x 10 matrix of logits `3 z`, `z` standard normal.
fn softmax128x10(r: &mut StdRng) -> Result<()> {
    let x = normal(r, &[128, 10]).mapv(|v| 3.0 * v);
    let plain = || {
        let ax = ndarray::Axis(1);
        let m = x.fold_axis(ax, f64::NEG_INFINITY, |a, &b| a.max(b));
        let e = (&x - &m.insert_axis(ax)).mapv(f64::exp);
        let s = e.sum_axis(ax).insert_axis(ax);
        &e / &s
    };
    run("softmax128x10", &x, &x, plain, |p, (a, _)| p.softmax(a, 1))
}

/// Reciprocal of 100,000 values with magnitudes log-uniform in `[1e-3, 1e5]`, alternating signs
/// (the absolute error is largest where `1/x` is largest, about 1000). The inputs are rounded to
/// the fixed-point grid so that the error measures the protocol, not the encoding (near `1e-3`
/// rounding to a multiple of `2^-16` alone moves `1/x` by up to 0.7%).
fn recip1e5(r: &mut StdRng) -> Result<()> {
    let (lo, hi) = ((1e-3f64).ln(), (1e5f64).ln());
    let v: Vec<f64> = (0..100_000)
        .map(|i| {
            let m = (r.random_range(lo..hi).exp() * 65536.0).round() / 65536.0;
            if i % 2 == 0 { m } else { -m }
        })
        .collect();
    let x = ArrayD::from_shape_vec(IxDyn(&[100_000]), v)?;
    run(
        "recip1e5",
        &x,
        &x,
        || x.mapv(|v| 1.0 / v),
        |p, (a, _)| p.reciprocal(a),
    )
}
