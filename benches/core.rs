//! Criterion benchmarks of the mpc-core protocols, each next to its plaintext f64 baseline.
//!
//! `cargo bench --bench core`. Besides criterion's own report, each secure benchmark prints one
//! line with its bytes and rounds per party and its median time as a ratio to the plaintext
//! baseline measured in the same run.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mpc_core::gemm::{GemmKernel, gemm_sum_with};
use mpc_core::prg::{AesPath, Prg, force_aes_path};
use ndarray::Array2;
use std::hint::black_box;
use std::time::Instant;

mod common;
mod floor;
use common::*;

fn matmul(c: &mut Criterion) {
    for n in [128usize, 256, 512, 1024] {
        let x = data(&[n, n], 1, -2.0, 2.0);
        let y = data(&[n, n], 2, -2.0, 2.0);
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
            &|p, (a, b)| p.matmul(a, b).map(drop),
        );
    }
}

fn elementwise(c: &mut Criterion) {
    for n in [100_000usize, 1_000_000] {
        let x = data(&[n], 3, -2.0, 2.0);
        let y = data(&[n], 4, -2.0, 2.0);
        secure(
            c,
            &format!("mul{n}"),
            &x,
            &y,
            &|| drop(black_box(&x * &y)),
            &|p, (a, b)| p.mul(a, b).map(drop),
        );
    }
    let n = 1_000_000;
    let x = data(&[n], 5, -2.0, 2.0);
    let y = data(&[n], 6, -2.0, 2.0);
    secure(
        c,
        "trunc1000000",
        &x,
        &y,
        &|| drop(black_box(x.mapv(|v| v * 0.5))),
        &|p, (a, _)| {
            let wide = a.mul_scalar_int(1 << 16).with_frac_bits(32);
            p.trunc(&wide, 16).map(drop)
        },
    );
}

/// Deterministic pseudo-random ring words.
fn words(n: usize, seed: u64) -> Vec<u64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        })
        .collect()
}

/// Median of 15 runs of `f` after one warm-up, in seconds.
fn median_secs(mut f: impl FnMut()) -> f64 {
    f();
    let mut t: Vec<f64> = (0..15)
        .map(|_| {
            let t0 = Instant::now();
            f();
            t0.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[7]
}

/// The floor of this CPU's wrapping u64 multiply-adds (see `floor/mod.rs`), then the library's
/// GEMM on one thread with every kernel the CPU supports: criterion reports multiply-adds per
/// second as elements per second, and one summary line per loop gives G multiply-adds/s.
fn gemm_kernels(c: &mut Criterion) {
    if let Some(ghz) = floor::clock_ghz() {
        println!("clock: {ghz:.2} GHz (dependent additions)");
    }
    let (a, b) = (words(floor::KC * 8, 7), words(floor::KC * 8, 8));
    let mut g = c.benchmark_group("floor");
    for f in floor::all() {
        floor::check(&f, &a, &b);
        let mut out = vec![0u64; 64];
        g.throughput(Throughput::Elements(f.macs as u64));
        g.bench_function(f.name, |bn| {
            bn.iter(|| (f.run)(black_box(&a), black_box(&b), &mut out))
        });
        let secs = median_secs(|| {
            black_box((f.run)(black_box(&a), black_box(&b), &mut out));
        });
        println!(
            "floor {}: {:.2} G multiply-adds/s",
            f.name,
            f.macs as f64 / secs / 1e9
        );
    }
    g.finish();
    let mut g = c.benchmark_group("gemm");
    g.sample_size(10);
    // the shapes of one party's product in matmul256 and matmul512 (two fused pairs)
    for n in [256usize, 512] {
        let mats: Vec<Array2<u64>> = (0..4)
            .map(|i| Array2::from_shape_vec((n, n), words(n * n, 10 + i)).unwrap_or_default())
            .collect();
        let pairs = [
            (mats[0].view(), mats[1].view()),
            (mats[2].view(), mats[3].view()),
        ];
        let macs = 2 * n * n * n;
        for kernel in GemmKernel::supported() {
            let name = format!("{n}x{n}, k {n}x2, {}", kernel.name());
            let run = || drop(black_box(gemm_sum_with(&pairs, kernel, Some(false))));
            g.throughput(Throughput::Elements(macs as u64));
            g.bench_function(&name, |bn| bn.iter(run));
            let secs = median_secs(run);
            println!(
                "gemm {name}: {:.3} ms, {:.2} G multiply-adds/s (one thread)",
                secs * 1e3,
                macs as f64 / secs / 1e9
            );
        }
    }
    g.finish();
}

/// The PRG's keystream on every AES path the CPU supports (`cargo bench --bench core -- prg`):
/// criterion reports bytes per second, and one summary line per path gives GB/s and, with the
/// clock of the dependent-addition loop, bytes per cycle.
fn prg_paths(c: &mut Criterion) {
    let ghz = floor::clock_ghz();
    let mut g = c.benchmark_group("prg");
    let mut out = vec![0u64; 1 << 17];
    for path in AesPath::ALL.into_iter().filter(|p| p.is_supported()) {
        if force_aes_path(Some(path)).is_err() {
            continue;
        }
        let mut prg = Prg::new(&[3u8; 16]);
        let bytes = out.len() * 8;
        g.throughput(Throughput::Bytes(bytes as u64));
        g.bench_function(path.name(), |bn| bn.iter(|| prg.fill(black_box(&mut out))));
        let secs = median_secs(|| prg.fill(black_box(&mut out)));
        let gbs = bytes as f64 / secs / 1e9;
        let per_cycle = ghz.map_or(String::new(), |f| format!(", {:.1} bytes/cycle", gbs / f));
        println!("prg {}: {gbs:.2} GB/s{per_cycle}", path.name());
    }
    let _ = force_aes_path(None);
    g.finish();
}

criterion_group!(benches, matmul, elementwise, gemm_kernels, prg_paths);
criterion_main!(benches);
