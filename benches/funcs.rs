//! Criterion benchmarks of the fixed-point functions, each next to its plaintext f64 baseline.
//!
//! `cargo bench --bench funcs`. Besides criterion's own report, each benchmark prints one line
//! with the bytes sent and rounds per party and the secure median time as a ratio to the
//! plaintext median measured in the same run.

use criterion::{Criterion, criterion_group, criterion_main};
use mpc_core::{AShare, Party, time_3pc};
use ndarray::{ArrayD, Axis, IxDyn};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Deterministic pseudo-random values in `[lo, hi)` (xorshift).
fn data(shape: &[usize], seed: u64, lo: f64, hi: f64) -> ArrayD<f64> {
    let n: usize = shape.iter().product();
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let v = (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            lo + (s >> 11) as f64 / (1u64 << 53) as f64 * (hi - lo)
        })
        .collect();
    ArrayD::from_shape_vec(IxDyn(shape), v).unwrap_or_default()
}

/// A secure function of one shared operand.
type SecureOp = dyn Fn(&mut Party, &AShare) -> mpc_core::Result<AShare> + Sync;

fn shared(p: &mut Party, x: &ArrayD<f64>) -> mpc_core::Result<AShare> {
    let v = (p.role() == 0).then_some(x);
    p.input_f64(0, v, x.shape())
}

/// Benchmarks `op` on `x` with criterion and prints the cost line.
fn secure(c: &mut Criterion, name: &str, x: &ArrayD<f64>, plain: &dyn Fn(), op: &SecureOp) {
    let mut g = c.benchmark_group(name);
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.bench_function("secure", |b| {
        b.iter_custom(|iters| {
            let (t, _) = time_3pc(
                0,
                iters as usize,
                |p| shared(p, x),
                |p, s| op(p, s).map(drop),
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
            t.samples.iter().sum()
        })
    });
    g.bench_function("plaintext", |b| b.iter(plain));
    g.finish();
    let (t, _) = time_3pc(1, 5, |p| shared(p, x), |p, s| op(p, s).map(drop))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut ps: Vec<Duration> = (0..7)
        .map(|_| {
            let t0 = Instant::now();
            plain();
            t0.elapsed()
        })
        .collect();
    ps.sort();
    let bytes: Vec<u64> = t.per_op.iter().map(|s| s.bytes_sent).collect();
    println!(
        "{name}: secure median {:.3} ms, plaintext {:.3} ms, ratio {:.0}x, bytes sent per party {:?} ({:.0} per element), rounds {}",
        t.median().as_secs_f64() * 1e3,
        ps[3].as_secs_f64() * 1e3,
        t.median().as_secs_f64() / ps[3].as_secs_f64().max(1e-9),
        bytes,
        bytes.iter().copied().max().unwrap_or(0) as f64 / x.len() as f64,
        t.rounds
    );
}

fn functions(c: &mut Criterion) {
    let n = 100_000;
    let x = data(&[n], 1, -10.0, 5.0);
    secure(
        c,
        "exp100000",
        &x,
        &|| drop(black_box(x.mapv(f64::exp))),
        &|p, s| p.exp(s),
    );
    let x = data(&[n], 2, -8.0, 8.0);
    secure(
        c,
        "sigmoid100000",
        &x,
        &|| drop(black_box(x.mapv(|v| 1.0 / (1.0 + (-v).exp())))),
        &|p, s| p.sigmoid(s),
    );
    // magnitudes log-uniform in [1e-3, 1e5], alternating signs
    let mut x = data(&[n], 3, (1e-3f64).ln(), (1e5f64).ln()).mapv(f64::exp);
    x.iter_mut().step_by(2).for_each(|v| *v = -*v);
    secure(
        c,
        "reciprocal100000",
        &x,
        &|| drop(black_box(x.mapv(|v| 1.0 / v))),
        &|p, s| p.reciprocal(s),
    );
    let x = data(&[128, 10], 4, -8.0, 8.0);
    let softmax = |x: &ArrayD<f64>| {
        let m = x.fold_axis(Axis(1), f64::NEG_INFINITY, |a, &b| a.max(b));
        let e = (x - &m.insert_axis(Axis(1))).mapv(f64::exp);
        let s = e.sum_axis(Axis(1)).insert_axis(Axis(1));
        &e / &s
    };
    secure(
        c,
        "softmax128x10",
        &x,
        &|| drop(black_box(softmax(&x))),
        &|p, s| p.softmax(s, 1),
    );
}

criterion_group!(benches, functions);
criterion_main!(benches);
