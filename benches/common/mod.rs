//! What the criterion benches share: deterministic data, shared operands, and one runner that
//! times a secure operation through the three-party harness next to its plaintext baseline.

use criterion::Criterion;
use mpc_core::{AShare, Party, time_3pc};
use ndarray::{ArrayD, IxDyn};
use std::time::{Duration, Instant};

/// Deterministic pseudo-random values in `[lo, hi)` (xorshift), no RNG crate in the timing path.
pub fn data(shape: &[usize], seed: u64, lo: f64, hi: f64) -> ArrayD<f64> {
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

/// `x` input by party 0 and `y` by party 1.
pub fn shared_pair(
    p: &mut Party,
    x: &ArrayD<f64>,
    y: &ArrayD<f64>,
) -> mpc_core::Result<(AShare, AShare)> {
    let a = (p.role() == 0).then_some(x);
    let b = (p.role() == 1).then_some(y);
    Ok((p.input_f64(0, a, x.shape())?, p.input_f64(1, b, y.shape())?))
}

/// A secure operation on two shared operands.
pub type SecureOp = dyn Fn(&mut Party, &(AShare, AShare)) -> mpc_core::Result<()> + Sync;

/// Benchmarks `op` with criterion (custom timing through [`time_3pc`]) next to `plain`, then
/// prints one line: secure and plaintext medians, their ratio, throughput in elements of `x` per
/// second, bytes sent per party (and bits per element) and rounds of one operation.
pub fn secure(
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
    let most = bytes.iter().copied().max().unwrap_or(0);
    println!(
        "{name}: secure median {:.3} ms ({:.3e} elements/s), plaintext {:.3} ms, ratio {:.1}x, bytes sent per party {bytes:?} ({:.1} bits per element, largest party), rounds {}",
        secs * 1e3,
        x.len() as f64 / secs.max(1e-12),
        ps[3].as_secs_f64() * 1e3,
        secs / ps[3].as_secs_f64().max(1e-9),
        most as f64 * 8.0 / x.len().max(1) as f64,
        t.rounds
    );
}
