//! The exact (dealer-assisted) truncation: `floor(z / 2^d)` or one more for every `|z| < 2^62`,
//! never a wrap-around failure; its costs; and 10^8 truncations of training-like products with
//! no error beyond one ulp.

#![allow(clippy::unwrap_used)]
mod common;
use common::*;
use mpc_core::{CommStats, FixedPoint, HarnessConfig, Party, TruncMode, run_3pc, run_3pc_with};
use ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;
use rand::RngExt;

/// Ring words of signed values.
fn words(v: &[i64]) -> ArrayD<u64> {
    ArrayD::from_shape_vec(IxDyn(&[v.len()]), v.iter().map(|&x| x as u64).collect()).unwrap()
}

/// Indices where `got` is neither `floor(want / 2^d)` nor one more.
fn bad_truncations(want: &[i128], got: &ArrayD<u64>, d: u32) -> Vec<usize> {
    want.iter()
        .zip(got.iter())
        .enumerate()
        .filter(|(_, (w, g))| {
            let floor = w.div_euclid(1i128 << d);
            let g = **g as i64 as i128;
            g != floor && g != floor + 1
        })
        .map(|(i, _)| i)
        .collect()
}

/// Stand-alone exact truncation of shared values all over the allowed range `|z| < 2^62`.
fn truncate_standalone(z: &[i64], d: u32) -> ArrayD<u64> {
    let w = words(z);
    let outs = run_3pc(|p| {
        p.set_trunc_mode(TruncMode::Exact);
        let s = p.input(0, own(p.role(), 0, &w), &[z.len()], 62)?;
        let t = p.trunc(&s, d)?;
        p.reveal(&t)
    })
    .unwrap();
    outs[0].clone()
}

#[test]
fn exact_truncation_over_the_whole_range_and_every_width() {
    let lim = (1i64 << 62) - 1;
    let mut z = vec![
        0,
        1,
        -1,
        2,
        -2,
        lim,
        -lim - 1,
        lim - 7,
        -lim + 3,
        1 << 40,
        -(1 << 40),
    ];
    let mut r = rng(11);
    z.extend((0..4000).map(|_| r.random_range(-lim - 1..=lim)));
    z.extend((0..4000).map(|_| r.random_range(-(1i64 << 20)..=(1 << 20))));
    let want: Vec<i128> = z.iter().map(|&v| v as i128).collect();
    for d in [1, 2, 8, 16, 31, 32, 47, 61, 62] {
        let got = truncate_standalone(&z, d);
        let bad = bad_truncations(&want, &got, d);
        assert!(
            bad.is_empty(),
            "d = {d}: {} wrong, first at z = {}",
            bad.len(),
            z[bad[0]]
        );
    }
}

#[test]
fn exact_truncation_rounds_both_ways() {
    // 1.5 ulp-ish remainders: results must take both floor and floor + 1 over many runs, i.e.
    // the error is a rounding of at most one ulp, not a constant bias of one
    let z = vec![3i64; 2000];
    let got = truncate_standalone(&z, 1);
    let ones = got.iter().filter(|&&g| g == 1).count();
    let twos = got.iter().filter(|&&g| g == 2).count();
    assert_eq!(ones + twos, z.len());
    assert!(
        ones > 0 && twos > 0,
        "floor {ones} times, floor + 1 {twos} times"
    );
}

/// Bytes per party and rounds of one operation on operands that are ready at depth 0.
fn cost(op: impl Fn(&mut Party) -> mpc_core::Result<()> + Sync) -> ([u64; 3], u64) {
    let snaps: [(CommStats, CommStats); 3] = run_3pc(|p| {
        p.set_trunc_mode(TruncMode::Exact);
        let before = p.stats();
        op(p)?;
        Ok((before, p.stats()))
    })
    .unwrap();
    let rounds = snaps.iter().map(|s| s.1.rounds).max().unwrap()
        - snaps.iter().map(|s| s.0.rounds).max().unwrap();
    (
        std::array::from_fn(|i| snaps[i].1.since(&snaps[i].0).bytes_sent),
        rounds,
    )
}

#[test]
fn exact_truncation_costs() {
    let n = 30u64;
    let standalone = cost(|p| {
        let x = p.random_share(&[30], 32)?;
        p.trunc(&x, 16).map(drop)
    });
    assert_eq!(standalone, ([16 * n; 3], 2), "stand-alone exact truncation");
    let mul = cost(|p| {
        let x = p.random_share(&[30], 16)?;
        p.mul(&x, &x).map(drop)
    });
    assert_eq!(
        mul,
        ([16 * n; 3], 2),
        "fixed-point mul with exact truncation"
    );
    let matmul = cost(|p| {
        let x = p.random_share(&[6, 5], 16)?;
        let y = p.random_share(&[5, 4], 16)?;
        p.matmul(&x, &y).map(drop)
    });
    assert_eq!(
        matmul,
        ([16 * 24; 3], 2),
        "matmul: m*n words, independent of k"
    );
    let int_mul = cost(|p| {
        let x = p.random_share(&[30], 0)?;
        p.mul(&x, &x).map(drop)
    });
    assert_eq!(int_mul, ([8 * n; 3], 1), "integer products do not truncate");
}

#[test]
fn exact_mode_fixed_point_products_match_plaintext() {
    let mut r = rng(12);
    let x = uniform(&mut r, &[8, 12], 50.0);
    let y = uniform(&mut r, &[12, 5], 50.0);
    let outs = run_3pc(|p| {
        p.set_trunc_mode(TruncMode::Exact);
        let sx = p.input_f64(0, own(p.role(), 0, &x), x.shape())?;
        let sy = p.input_f64(1, own(p.role(), 1, &y), y.shape())?;
        let m = p.matmul(&sx, &sy)?;
        let e = p.mul(&sx, &sx)?;
        let h = p.mul_scalar(&sx, 0.1)?;
        Ok((p.reveal_f64(&m)?, p.reveal_f64(&e)?, p.reveal_f64(&h)?))
    })
    .unwrap();
    let x2 = x.clone().into_dimensionality::<ndarray::Ix2>().unwrap();
    let y2 = y.clone().into_dimensionality::<ndarray::Ix2>().unwrap();
    let (m, e, h) = &outs[2];
    // encoding error 2^-17 per operand times 12 terms of magnitude 50, plus one ulp
    assert!(max_abs_diff(m, &x2.dot(&y2).into_dyn()) < 12.0 * 2.0 * 50.0 * ULP);
    assert!(max_abs_diff(e, &(&x * &x)) < 2.0 * 50.0 * ULP);
    // 0.1 is encoded with 19 fractional bits (error 2^-20, times |x| <= 50), plus one ulp
    assert!(max_abs_diff(h, &(&x * 0.1)) < 50.0 * 2f64.powi(-20) + 2.0 * ULP);
}

/// Products of `|x|, |y| < 2^bits` at `f` fractional bits (at 16 bits and `bits = 10`,
/// training-like magnitudes: ring values before truncation up to `2^52`), truncated by
/// `chunks * 2^20` products in `mode` (`None`: the mode the party starts in); returns how many
/// results were neither `floor(xy / 2^f)` nor one more.
fn count_product_failures(
    mode: Option<TruncMode>,
    f: u32,
    chunks: usize,
    bits: u32,
    seed: u64,
) -> usize {
    let n = 1usize << 20;
    let lim = 1i64 << (bits + f);
    let cfg = HarnessConfig {
        fixed: FixedPoint::new(f).unwrap(),
        ..HarnessConfig::default()
    };
    let mut r = rng(seed);
    let mut failures = 0;
    for _ in 0..chunks {
        let x: Vec<i64> = (0..n).map(|_| r.random_range(-lim..lim)).collect();
        let y: Vec<i64> = (0..n).map(|_| r.random_range(-lim..lim)).collect();
        let (wx, wy) = (words(&x), words(&y));
        let outs = run_3pc_with(&cfg, |p| {
            if let Some(mode) = mode {
                p.set_trunc_mode(mode);
            }
            let sx = p.input(0, own(p.role(), 0, &wx), &[n], f)?;
            let sy = p.input(1, own(p.role(), 1, &wy), &[n], f)?;
            let z = p.mul(&sx, &sy)?;
            p.reveal(&z)
        })
        .unwrap();
        let want: Vec<i128> = x
            .iter()
            .zip(&y)
            .map(|(&a, &b)| a as i128 * b as i128)
            .collect();
        failures += bad_truncations(&want, &outs[0], f).len();
    }
    failures
}

/// 96 * 2^20 (about 1.0e8) exact truncations with no error beyond one ulp. With the
/// probabilistic protocol about `E|z| / 2^64 = 2^-14` of them would fail (some 6,000).
#[test]
fn hundred_million_exact_truncations_have_no_errors() {
    let exact = Some(TruncMode::Exact);
    assert_eq!(count_product_failures(exact, 16, 96, 10, 13), 0);
}

/// The same checker catches the probabilistic protocol's failures at large magnitudes
/// (`|x|, |y| < 2^14`: ring values up to `2^60`, a failure rate of about `E|z| / 2^64 = 2^-6`
/// per element), so the test above can fail.
#[test]
fn probabilistic_truncation_fails_where_exact_does_not() {
    let prob = count_product_failures(Some(TruncMode::Probabilistic), 16, 1, 14, 14);
    assert!(prob > 1_000, "expected many failures, got {prob}");
    assert_eq!(
        count_product_failures(Some(TruncMode::Exact), 16, 1, 14, 14),
        0
    );
}

/// A party starts exact above 20 fractional bits: 2^20 products of `|x|, |y| < 8` at 24 bits
/// (`E|z| / 2^64 = 2^-12`, about 256 probabilistic failures expected) have none in the mode a
/// party starts in, while the probabilistic protocol, asked for, shows them.
#[test]
fn a_session_above_20_bits_starts_with_exact_truncation() {
    let f = TruncMode::PROBABILISTIC_MAX_FRAC_BITS;
    assert_eq!(TruncMode::for_frac_bits(f), TruncMode::Probabilistic);
    assert_eq!(TruncMode::for_frac_bits(f + 1), TruncMode::Exact);
    for (bits, want) in [(16, TruncMode::Probabilistic), (24, TruncMode::Exact)] {
        let cfg = HarnessConfig {
            fixed: FixedPoint::new(bits).unwrap(),
            ..HarnessConfig::default()
        };
        let modes = run_3pc_with(&cfg, |p| Ok(p.trunc_mode())).unwrap();
        assert_eq!(modes, [want; 3], "{bits} fractional bits");
    }
    assert_eq!(count_product_failures(None, 24, 1, 3, 24), 0);
    let prob = count_product_failures(Some(TruncMode::Probabilistic), 24, 1, 3, 24);
    assert!(
        prob > 100,
        "expected probabilistic failures at 24 bits, got {prob}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    /// Random magnitudes, widths and seeds.
    #[test]
    fn prop_exact_truncation(bits in 1u32..62, d in 1u32..=62, seed in any::<u64>()) {
        let lim = 1i64 << bits;
        let mut r = rng(seed);
        let z: Vec<i64> = (0..256).map(|_| r.random_range(-lim..lim)).collect();
        let got = truncate_standalone(&z, d);
        let want: Vec<i128> = z.iter().map(|&v| v as i128).collect();
        prop_assert!(bad_truncations(&want, &got, d).is_empty());
    }
}
