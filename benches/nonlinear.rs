//! Criterion benchmarks of the non-linear protocols (ReLU, comparison, max-pooling), each next
//! to its plaintext f64 baseline measured in the same run.
//!
//! `cargo bench --bench nonlinear`. Besides criterion's report, each secure benchmark prints one
//! line: median time, plaintext time and their ratio, throughput in elements per second, and
//! the bytes and rounds per party of one operation.

use criterion::{Criterion, criterion_group, criterion_main};
use mpc_core::{AShare, Party, time_3pc};
use ndarray::{ArrayD, IxDyn};
use std::hint::black_box;
use std::time::{Duration, Instant};

fn data(shape: &[usize], seed: u64) -> ArrayD<f64> {
    let n: usize = shape.iter().product();
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let v = (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64 * 4.0 - 2.0
        })
        .collect();
    ArrayD::from_shape_vec(IxDyn(shape), v).unwrap_or_default()
}

fn shared_pair(
    p: &mut Party,
    x: &ArrayD<f64>,
    y: &ArrayD<f64>,
) -> mpc_core::Result<(AShare, AShare)> {
    let a = (p.role() == 0).then_some(x);
    let b = (p.role() == 1).then_some(y);
    Ok((p.input_f64(0, a, x.shape())?, p.input_f64(1, b, y.shape())?))
}

/// A secure operation on two shared operands.
type SecureOp = dyn Fn(&mut Party, &(AShare, AShare)) -> mpc_core::Result<()> + Sync;

/// Benchmarks `op` (criterion, custom timing through the harness) and prints the cost line.
fn secure(
    c: &mut Criterion,
    name: &str,
    x: &ArrayD<f64>,
    y: &ArrayD<f64>,
    plain: &dyn Fn(),
    op: &SecureOp,
) {
    let mut g = c.benchmark_group(name);
    g.sample_size(10).measurement_time(Duration::from_secs(3));
    g.bench_function("secure", |b| {
        b.iter_custom(|iters| {
            let (t, _) = time_3pc(0, iters as usize, |p| shared_pair(p, x, y), op)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            t.samples.iter().sum()
        })
    });
    g.bench_function("plaintext", |b| b.iter(plain));
    g.finish();
    let (t, _) =
        time_3pc(1, 7, |p| shared_pair(p, x, y), op).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut ps: Vec<Duration> = (0..7)
        .map(|_| {
            let t0 = Instant::now();
            plain();
            t0.elapsed()
        })
        .collect();
    ps.sort();
    let bytes: Vec<u64> = t.per_op.iter().map(|s| s.bytes_sent).collect();
    let secs = t.median().as_secs_f64();
    println!(
        "{name}: secure median {:.3} ms ({:.3e} elements/s), plaintext {:.3} ms, ratio {:.1}x, bytes sent per party {:?} ({:.1} bits per element for party 0), rounds {}",
        secs * 1e3,
        x.len() as f64 / secs.max(1e-12),
        ps[3].as_secs_f64() * 1e3,
        secs / ps[3].as_secs_f64().max(1e-9),
        bytes,
        bytes.first().copied().unwrap_or(0) as f64 * 8.0 / x.len() as f64,
        t.rounds
    );
}

fn relu(c: &mut Criterion) {
    for n in [10_000usize, 100_000, 1_000_000] {
        let x = data(&[n], 1);
        secure(
            c,
            &format!("relu{n}"),
            &x,
            &x,
            &|| drop(black_box(x.mapv(|v| v.max(0.0)))),
            &|p, (a, _)| p.relu(a).map(drop),
        );
    }
}

fn compare(c: &mut Criterion) {
    let n = 100_000;
    let x = data(&[n], 2);
    let y = data(&[n], 3);
    secure(
        c,
        "lt100000",
        &x,
        &y,
        &|| {
            drop(black_box(
                ndarray::Zip::from(&x)
                    .and(&y)
                    .map_collect(|a, b| f64::from(u8::from(a < b))),
            ))
        },
        &|p, (a, b)| p.lt(a, b).map(drop),
    );
}

fn maxpool(c: &mut Criterion) {
    let shape = [16usize, 32, 32, 32];
    let x = data(&shape, 4);
    let plain = || {
        let (n, ch, h, w) = (shape[0], shape[1], shape[2], shape[3]);
        let mut out = ArrayD::<f64>::zeros(IxDyn(&[n, ch, h / 2, w / 2]));
        for ((a, b, i, j), o) in ndarray::indices((n, ch, h / 2, w / 2))
            .into_iter()
            .zip(out.iter_mut())
        {
            let v = |u, t| x[[a, b, 2 * i + u, 2 * j + t]];
            *o = v(0, 0).max(v(0, 1)).max(v(1, 0)).max(v(1, 1));
        }
        black_box(out);
    };
    secure(c, "maxpool2x2_16x32x32x32", &x, &x, &plain, &|p, (a, _)| {
        p.maxpool2d(a, 2, 2).map(drop)
    });
}

criterion_group!(benches, relu, compare, maxpool);
criterion_main!(benches);
