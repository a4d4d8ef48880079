//! Criterion benchmarks of the non-linear protocols (ReLU, comparison, max-pooling), each next
//! to its plaintext f64 baseline measured in the same run.
//!
//! `cargo bench --bench nonlinear`. Besides criterion's report, each secure benchmark prints one
//! line: median time, plaintext time and their ratio, throughput in elements per second, and
//! the bytes and rounds per party of one operation.

use criterion::{Criterion, criterion_group, criterion_main};
use ndarray::{ArrayD, IxDyn};
use std::hint::black_box;

mod common;
use common::*;

fn relu(c: &mut Criterion) {
    for n in [10_000usize, 100_000, 1_000_000] {
        let x = data(&[n], 1, -2.0, 2.0);
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
    let x = data(&[n], 2, -2.0, 2.0);
    let y = data(&[n], 3, -2.0, 2.0);
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
    let x = data(&shape, 4, -2.0, 2.0);
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
