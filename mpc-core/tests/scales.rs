//! Every fixed-point function at 8, 12, 16, 20 and 24 fractional bits (the range a job
//! accepts): each range (and each range reduction) follows the session's `f`, so the documented
//! ranges hold with errors of a few units of `2^-f` at every scale. Run with `--nocapture` to
//! see the measured errors.
//!
//! Errors are in units of the session's ulp `2^-f`: absolute where `|f(x)| <= 1`, relative
//! (divided by `|f(x)|`) where `|f(x)| >= 1`; the polynomial and iteration errors of the
//! approximations (below `4e-6` relative) are added to both bounds (times `|f(x)|` to the
//! absolute one: sqrt(1) at 20 bits is its 2.7 ulp iteration error plus up to about 3.3 ulp of
//! rounding, and a bound of 5 ulp without the first failed 2 sweeps in 30). Those errors do not
//! shrink with `f`: at 24 bits (ulp `6e-8`) they are 10 to 60 ulp, so each function also has a
//! `floor`, its own approximation error, which a bound never goes below (at 20 bits and fewer
//! every floor is below the ulp bound, so it changes nothing there).
//!
//! Every scale runs in both truncation modes, except probabilistic truncation at 24 bits: a
//! product of values near 1 is a ring value near `2^48` there, which fails with probability
//! `2^-16` per element (`crate::trunc`), a few times in each sweep here. Jobs train with exact
//! truncation; see `mpc_core::trunc` for the bound on each mode.

#![allow(clippy::unwrap_used)]
mod common;
use common::*;
use mpc_core::{
    AShare, CommStats, FixedPoint, HarnessConfig, Party, Result, TruncMode, run_3pc_with,
};
use ndarray::{ArrayD, IxDyn};
use rand::RngExt;

type Op = fn(&mut Party, &AShare) -> Result<AShare>;

const SCALES: [u32; 5] = [8, 12, 16, 20, 24];

/// Probabilistic truncation is swept up to this many fractional bits (see the module docs),
/// the most at which a party starts in that mode.
const PROBABILISTIC_MAX_F: u32 = TruncMode::PROBABILISTIC_MAX_FRAC_BITS;

fn cfg(f: u32) -> HarnessConfig {
    HarnessConfig {
        fixed: FixedPoint::new(f).unwrap(),
        ..HarnessConfig::default()
    }
}

/// One function, its inputs at `f` fractional bits, the exact function and the bounds.
struct Case {
    name: &'static str,
    op: Op,
    exact: fn(f64) -> f64,
    /// Inputs as reals (rounded to the grid of `f` before sharing).
    inputs: fn(u32) -> Vec<f64>,
    /// Absolute bound in ulp where `|f(x)| <= 1`.
    abs_ulp: f64,
    /// Relative bound in ulp (plus `rel_extra`) where `|f(x)| >= 1`.
    rel_ulp: f64,
    /// The approximation's own error (absolute, or relative where `|f(x)| >= 1`), the least
    /// any bound is: it exceeds the ulp bounds only at 24 fractional bits.
    floor: f64,
    /// The approximation's relative error, which adds to the rounding of every scale: to the
    /// relative bound, and times `|f(x)|` to the absolute one.
    rel_extra: f64,
}

/// `n` log-uniform magnitudes in `[lo, hi)` (alternating signs if `signed`) plus `edges`.
fn log_sweep(seed: u64, lo: f64, hi: f64, signed: bool, edges: &[f64]) -> Vec<f64> {
    let mut r = rng(seed);
    let mut v: Vec<f64> = (0..1000)
        .map(|i| {
            let m = r.random_range(lo.ln()..hi.ln()).exp();
            if signed && i % 2 == 1 { -m } else { m }
        })
        .collect();
    v.extend_from_slice(edges);
    v
}

fn lin_sweep(seed: u64, lo: f64, hi: f64, edges: &[f64]) -> Vec<f64> {
    let mut r = rng(seed);
    let mut v: Vec<f64> = (0..1000).map(|_| r.random_range(lo..hi)).collect();
    v.extend_from_slice(edges);
    v
}

/// The largest f64 at least `margin` below the session's limit `2^(63 - f)` (at `f = 8` the
/// limit is `2^55`, where neighbouring f64 values are 8 apart).
fn below_max(f: u32, margin: f64) -> f64 {
    let max = FixedPoint::new(f).unwrap().max_abs();
    max - margin.max(max * f64::EPSILON * 2.0)
}

fn ulp(f: u32) -> f64 {
    2f64.powi(-(f as i32))
}

fn sigmoid(v: f64) -> f64 {
    1.0 / (1.0 + (-v).exp())
}

const CASES: [Case; 9] = [
    Case {
        name: "reciprocal",
        op: |p, s| p.reciprocal(s),
        exact: |v| 1.0 / v,
        inputs: |_| {
            let e = [2f64.powi(-10), 1.0, 3.0, 1e5, 2f64.powi(18) - 0.01];
            let mut v = log_sweep(1, 2f64.powi(-10), 2f64.powi(18), true, &e);
            v.extend(e.iter().map(|x| -x));
            v
        },
        abs_ulp: 6.0,
        rel_ulp: 8.0,
        floor: 0.0,
        rel_extra: 0.0,
    },
    Case {
        name: "reciprocal_positive_range",
        op: |p, s| {
            let f = p.fixed_point().frac_bits() as i32;
            p.reciprocal_positive_range(s, -f, mpc_core::recip::RECIP_MAX_EXP)
        },
        exact: |v| 1.0 / v,
        // from one ulp of the session up
        inputs: |f| {
            let u = ulp(f);
            let e = [
                u,
                2.0 * u,
                3.0 * u,
                2f64.powi(-10),
                1.0,
                2f64.powi(18) - 0.01,
            ];
            log_sweep(9, u, 2f64.powi(18), false, &e)
        },
        abs_ulp: 6.0,
        rel_ulp: 8.0,
        floor: 0.0,
        rel_extra: 0.0,
    },
    Case {
        name: "rsqrt",
        op: |p, s| p.rsqrt(s),
        exact: |v| 1.0 / v.sqrt(),
        inputs: |_| {
            let e = [2f64.powi(-10), 0.25, 1.0, 2.0, 1e5, 2f64.powi(18) - 0.01];
            log_sweep(2, 2f64.powi(-10), 2f64.powi(18), false, &e)
        },
        abs_ulp: 6.0,
        rel_ulp: 8.0,
        floor: 4e-6,
        rel_extra: 0.0,
    },
    Case {
        name: "sqrt",
        op: |p, s| p.sqrt(s),
        exact: f64::sqrt,
        // down to one ulp of the session: 2^-20 at f = 20 used to come out as 6.3e-4
        inputs: |f| {
            let u = ulp(f);
            let e = [
                0.0,
                u,
                2.0 * u,
                3.0 * u,
                4.0 * u,
                2f64.powi(-18),
                2f64.powi(-16),
                1.0,
            ];
            let mut v = log_sweep(3, u, 2f64.powi(20), false, &e);
            v.extend([1e5, 2f64.powi(20) - 0.01]);
            v
        },
        abs_ulp: 5.0,
        rel_ulp: 10.0,
        floor: 4e-6,
        rel_extra: 3e-6, // the Goldschmidt steps' 2.6e-6 (mpc_core::recip)
    },
    Case {
        name: "ln",
        op: |p, s| p.ln(s),
        exact: f64::ln,
        inputs: |f| {
            let u = ulp(f);
            let e = [
                u,
                2.0 * u,
                3.0 * u,
                2f64.powi(-18),
                2f64.powi(-16),
                0.5,
                1.0,
                2.0,
            ];
            let e: Vec<f64> = e.into_iter().filter(|&x| x >= u).collect();
            let mut v = log_sweep(4, u, 2f64.powi(20), false, &e);
            v.extend([1e5, 2f64.powi(20) - 0.01]);
            v
        },
        // ln's values reach f = 20 ln 2 = 13.9 in magnitude: the absolute error is the measure
        // (see `absolute_for_all`)
        abs_ulp: 8.0,
        rel_ulp: 8.0,
        floor: 3e-6,
        rel_extra: 4e-6,
    },
    Case {
        name: "exp",
        op: |p, s| p.exp(s),
        exact: f64::exp,
        // the comparisons hold up to 23 of the ends of the range
        inputs: |f| {
            let big = below_max(f, 32.0);
            lin_sweep(
                5,
                -30.0,
                22.0,
                &[0.0, -11.0, -14.0, -1e6, 1.0, 22.0, -big, big],
            )
        },
        abs_ulp: 6.0,
        rel_ulp: 8.0,
        floor: 4.5e-6,
        rel_extra: 4e-6,
    },
    Case {
        name: "exp_nonpositive",
        op: |p, s| p.exp_nonpositive(s),
        exact: f64::exp,
        inputs: |f| {
            let big = below_max(f, 1.0);
            lin_sweep(6, -30.0, 0.0, &[0.0, -11.0, -13.9, -14.0, -1e6, -big])
        },
        abs_ulp: 6.0,
        rel_ulp: 8.0,
        floor: 4.5e-6,
        rel_extra: 4e-6,
    },
    Case {
        name: "sigmoid",
        op: |p, s| p.sigmoid(s),
        exact: sigmoid,
        inputs: |f| {
            let big = below_max(f, 1.0);
            lin_sweep(7, -40.0, 40.0, &[0.0, 1e4, -1e4, big, -big])
        },
        abs_ulp: 8.0,
        rel_ulp: 0.0,
        floor: 2e-6,
        rel_extra: 0.0,
    },
    Case {
        name: "tanh",
        op: |p, s| p.tanh(s),
        exact: f64::tanh,
        inputs: |f| {
            let big = below_max(f, 1.0);
            let quarter = big / 2.0; // 2x wraps the ring from here on
            lin_sweep(
                8,
                -40.0,
                40.0,
                &[0.0, 1e4, -1e4, big, -big, quarter, -quarter],
            )
        },
        abs_ulp: 12.0,
        rel_ulp: 0.0,
        floor: 3e-6,
        rel_extra: 0.0,
    },
];

/// ln is judged by its absolute error everywhere (its values are at most `20 ln 2` in
/// magnitude); every other function as described in the module docs.
fn absolute_for_all(name: &str) -> bool {
    name == "ln"
}

#[test]
fn every_function_at_8_to_24_fractional_bits() {
    let modes = [TruncMode::Probabilistic, TruncMode::Exact];
    for (f, mode) in SCALES.iter().flat_map(|&f| modes.map(|m| (f, m))) {
        if mode == TruncMode::Probabilistic && f > PROBABILISTIC_MAX_F {
            continue;
        }
        let u = ulp(f);
        let grid = |v: f64| (v / u).round() * u;
        let inputs: Vec<ArrayD<f64>> = CASES
            .iter()
            .map(|c| {
                let v: Vec<f64> = (c.inputs)(f).into_iter().map(grid).collect();
                ArrayD::from_shape_vec(IxDyn(&[v.len()]), v).unwrap()
            })
            .collect();
        let outs = run_3pc_with(&cfg(f), |p| {
            p.set_trunc_mode(mode);
            CASES
                .iter()
                .zip(&inputs)
                .map(|(c, x)| {
                    let s = p.input_f64(0, own(p.role(), 0, x), x.shape())?;
                    let y = (c.op)(p, &s)?;
                    p.reveal_f64(&y)
                })
                .collect::<Result<Vec<_>>>()
        })
        .unwrap();
        for ((c, x), got) in CASES.iter().zip(&inputs).zip(&outs[0]) {
            let (mut abs, mut rel) = (0f64, 0f64);
            for (&xi, &g) in x.iter().zip(got) {
                let want = (c.exact)(xi);
                let err = (g - want).abs();
                assert!(g.is_finite(), "f={f} {mode:?} {}({xi}) = {g}", c.name);
                if want.abs() <= 1.0 || absolute_for_all(c.name) {
                    abs = abs.max(err / u);
                    assert!(
                        err <= (c.abs_ulp * u).max(c.floor) + c.rel_extra * want.abs(),
                        "f={f} {mode:?} {}({xi}) = {g}, want {want}: {:.1} ulp",
                        c.name,
                        err / u
                    );
                } else {
                    let bound = (c.rel_ulp * u).max(c.floor) + c.rel_extra;
                    rel = rel.max(err / want.abs() / u);
                    assert!(
                        err <= bound * want.abs(),
                        "f={f} {mode:?} {}({xi}) = {g}, want {want}: relative {:.2e}",
                        c.name,
                        err / want.abs()
                    );
                }
            }
            println!(
                "f={f} {mode:?} {}: max abs error {abs:.2} ulp, max rel error {rel:.2} ulp",
                c.name
            );
        }
    }
}

/// Bits sent per element by one `ltz` (parties 0, 1, 2; element counts a multiple of 64).
const LTZ_BITS: [u64; 3] = [246, 245, 245];

/// Bytes per party for `n` elements of `comparisons` ltz, `products` multiplications and
/// `truncs` stand-alone truncations (party 1), as in `funcs.rs`.
fn expected(n: u64, comparisons: u64, products: u64, truncs: u64) -> [u64; 3] {
    std::array::from_fn(|i| {
        n * (comparisons * LTZ_BITS[i] / 8 + 8 * products + if i == 1 { 8 * truncs } else { 0 })
            + n * (comparisons * LTZ_BITS[i] % 8) / 8
    })
}

/// The ranges of `sqrt` and `ln` start at `2^-f`, so their normalisation compares with one
/// group threshold more or less per 4 fractional bits; rounds and products do not change.
#[test]
fn range_reductions_follow_the_fractional_bits() {
    let n = 640usize;
    // (f, op, comparisons, products, truncations, rounds)
    let table: [(u32, &str, Op, u64, u64, u64, u64); 14] = [
        (8, "sqrt", |p, s| p.sqrt(s), 7, 13, 1, 32),
        (12, "sqrt", |p, s| p.sqrt(s), 8, 13, 1, 32),
        (16, "sqrt", |p, s| p.sqrt(s), 9, 13, 1, 32),
        (20, "sqrt", |p, s| p.sqrt(s), 10, 13, 1, 32),
        (24, "sqrt", |p, s| p.sqrt(s), 11, 13, 1, 32),
        (8, "ln", |p, s| p.ln(s), 9, 7, 1, 25),
        (12, "ln", |p, s| p.ln(s), 10, 7, 1, 25),
        (16, "ln", |p, s| p.ln(s), 11, 7, 1, 25),
        (20, "ln", |p, s| p.ln(s), 12, 7, 1, 25),
        (24, "ln", |p, s| p.ln(s), 13, 7, 1, 25),
        (8, "exp", |p, s| p.exp(s), 14, 7, 1, 24),
        (12, "exp", |p, s| p.exp(s), 15, 7, 1, 24),
        (20, "exp", |p, s| p.exp(s), 17, 7, 1, 24),
        (24, "exp", |p, s| p.exp(s), 18, 7, 1, 24),
    ];
    for (f, name, op, cmp, prods, truncs, rounds) in table {
        let snaps: [(CommStats, CommStats); 3] = run_3pc_with(&cfg(f), |p| {
            // the costs of the probabilistic protocol, which a party starts in only up to 20
            // bits: asked for, so that 24 bits counts the same protocol
            p.set_trunc_mode(TruncMode::Probabilistic);
            let x = p.random_share(&[n], f)?;
            let before = p.stats();
            op(p, &x)?;
            Ok((before, p.stats()))
        })
        .unwrap();
        let bytes: [u64; 3] = std::array::from_fn(|i| snaps[i].1.since(&snaps[i].0).bytes_sent);
        let r0 = snaps.iter().map(|s| s.0.rounds).max().unwrap();
        let r1 = snaps.iter().map(|s| s.1.rounds).max().unwrap();
        println!("f={f} {name}: rounds {}, bytes {bytes:?}", r1 - r0);
        assert_eq!(
            (bytes, r1 - r0),
            (expected(n as u64, cmp, prods, truncs), rounds),
            "f={f} {name}"
        );
    }
}
