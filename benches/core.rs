//! Criterion benchmarks of the mpc-core protocols, each next to its plaintext f64 baseline.
//!
//! `cargo bench --bench core`. Besides criterion's own report, each secure benchmark prints one
//! line with its bytes and rounds per party and its median time as a ratio to the plaintext
//! baseline measured in the same run.

use criterion::{Criterion, criterion_group, criterion_main};
use mpc_core::{AShare, Party, time_3pc};
use ndarray::{Array2, ArrayD, IxDyn};
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
type SecureOp = dyn Fn(&mut Party, &(AShare, AShare)) -> mpc_core::Result<AShare> + Sync;

/// Benchmarks `op` with criterion (custom timing through the harness) and prints the cost line.
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
            let (t, _) = time_3pc(
                0,
                iters as usize,
                |p| shared_pair(p, x, y),
                |p, s| op(p, s).map(drop),
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
            t.samples.iter().sum()
        })
    });
    g.bench_function("plaintext", |b| b.iter(plain));
    g.finish();
    let (t, _) = time_3pc(1, 7, |p| shared_pair(p, x, y), |p, s| op(p, s).map(drop))
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
        "{name}: secure median {:.3} ms, plaintext {:.3} ms, ratio {:.1}x, bytes sent per party {:?}, rounds {}",
        t.median().as_secs_f64() * 1e3,
        ps[3].as_secs_f64() * 1e3,
        t.median().as_secs_f64() / ps[3].as_secs_f64().max(1e-9),
        bytes,
        t.rounds
    );
}

fn matmul(c: &mut Criterion) {
    for n in [128usize, 256, 512, 1024] {
        let x = data(&[n, n], 1);
        let y = data(&[n, n], 2);
        let (x2, y2): (Array2<f64>, Array2<f64>) = (
            x.clone().into_dimensionality().unwrap_or_default(),
            y.clone().into_dimensionality().unwrap_or_default(),
        );
        secure(
            c,
            &format!("matmul{n}"),
            &x,
            &y,
            &|| drop(black_box(x2.dot(&y2))),
            &|p, (a, b)| p.matmul(a, b),
        );
    }
}

fn elementwise(c: &mut Criterion) {
    for n in [100_000usize, 1_000_000] {
        let x = data(&[n], 3);
        let y = data(&[n], 4);
        secure(
            c,
            &format!("mul{n}"),
            &x,
            &y,
            &|| drop(black_box(&x * &y)),
            &|p, (a, b)| p.mul(a, b),
        );
    }
    let n = 1_000_000;
    let x = data(&[n], 5);
    let y = data(&[n], 6);
    secure(
        c,
        "trunc1000000",
        &x,
        &y,
        &|| drop(black_box(x.mapv(|v| v * 0.5))),
        &|p, (a, _)| {
            let wide = a.mul_scalar_int(1 << 16).with_frac_bits(32);
            p.trunc(&wide, 16)
        },
    );
}

criterion_group!(benches, matmul, elementwise);
criterion_main!(benches);
