//! Criterion benchmarks of the mpc-core protocols, each next to its plaintext f64 baseline.
//!
//! `cargo bench --bench core`. Besides criterion's own report, each secure benchmark prints one
//! line with its bytes and rounds per party and its median time as a ratio to the plaintext
//! baseline measured in the same run.

use criterion::{Criterion, criterion_group, criterion_main};
use ndarray::Array2;
use std::hint::black_box;

mod common;
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

criterion_group!(benches, matmul, elementwise);
criterion_main!(benches);
