//! Criterion benchmarks of the fixed-point functions, each next to its plaintext f64 baseline.
//!
//! `cargo bench --bench funcs`. Besides criterion's own report, each benchmark prints one line
//! with the bytes sent and rounds per party and the secure median time as a ratio to the
//! plaintext median measured in the same run.

use criterion::{Criterion, criterion_group, criterion_main};
use ndarray::{ArrayD, Axis};
use std::hint::black_box;

mod common;
use common::*;

fn functions(c: &mut Criterion) {
    let n = 100_000;
    let x = data(&[n], 1, -10.0, 5.0);
    secure(
        c,
        "exp100000",
        &x,
        &x,
        &|| drop(black_box(x.mapv(f64::exp))),
        &|p, (s, _)| p.exp(s).map(drop),
    );
    let x = data(&[n], 2, -8.0, 8.0);
    secure(
        c,
        "sigmoid100000",
        &x,
        &x,
        &|| drop(black_box(x.mapv(|v| 1.0 / (1.0 + (-v).exp())))),
        &|p, (s, _)| p.sigmoid(s).map(drop),
    );
    // magnitudes log-uniform in [1e-3, 1e5], alternating signs
    let mut x = data(&[n], 3, (1e-3f64).ln(), (1e5f64).ln()).mapv(f64::exp);
    x.iter_mut().step_by(2).for_each(|v| *v = -*v);
    secure(
        c,
        "reciprocal100000",
        &x,
        &x,
        &|| drop(black_box(x.mapv(|v| 1.0 / v))),
        &|p, (s, _)| p.reciprocal(s).map(drop),
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
        &x,
        &|| drop(black_box(softmax(&x))),
        &|p, (s, _)| p.softmax(s, 1).map(drop),
    );
}

criterion_group!(benches, functions);
criterion_main!(benches);
