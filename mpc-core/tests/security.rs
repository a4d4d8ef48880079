//! Security properties that tests can check: one party's view is independent of the secret,
//! zero-sharings never repeat, reveal-to-one leaves the others' views empty.

#![allow(clippy::unwrap_used)]
mod common;
use common::*;
use mpc_core::run_3pc;
use ndarray::{ArrayD, IxDyn};
use std::collections::HashSet;

const N: usize = 1 << 14;

/// Per-bit-position counts of ones over a vector of words.
fn bit_counts(words: &[u64]) -> [u64; 64] {
    let mut c = [0u64; 64];
    for w in words {
        for (b, cb) in c.iter_mut().enumerate() {
            *cb += (w >> b) & 1;
        }
    }
    c
}

/// Chi-square statistic of the 64 bit-position counts against a fair coin (64 degrees of freedom).
fn chi_square(c: &[u64; 64], n: usize) -> f64 {
    let e = n as f64 / 2.0;
    c.iter().map(|&k| 2.0 * (k as f64 - e).powi(2) / e).sum()
}

/// Party 1's shares of `N` copies of the secret `v` (input by party 0), and what it received
/// during a multiplication of the secret by itself.
fn view_of_party1(v: u64) -> (Vec<u64>, Vec<u64>) {
    let x = ArrayD::from_elem(IxDyn(&[N]), v);
    let outs = run_3pc(|p| {
        let s = p.input(0, own(p.role(), 0, &x), &[N], 0)?;
        let prod = p.mul(&s, &s)?;
        let (a, b) = s.components();
        let mut shares: Vec<u64> = a.iter().copied().collect();
        shares.extend(b.iter());
        // the word it received in the reshare is its second component of the product
        let received: Vec<u64> = prod.components().1.iter().copied().collect();
        Ok((shares, received))
    })
    .unwrap();
    outs[1].clone()
}

#[test]
fn a_party_view_does_not_depend_on_the_secret() {
    // 99.99th percentile of chi-square with 64 degrees of freedom is about 124
    for v in [0u64, 1 << 40, u64::MAX] {
        let (shares, received) = view_of_party1(v);
        let cs = chi_square(&bit_counts(&shares), shares.len());
        let cr = chi_square(&bit_counts(&received), received.len());
        assert!(cs < 124.0, "shares of {v}: chi2 {cs}");
        assert!(cr < 124.0, "received words for {v}: chi2 {cr}");
    }
    // two secrets: the views' bit distributions are indistinguishable (two-sample test per bit)
    let (a, _) = view_of_party1(0);
    let (b, _) = view_of_party1(1 << 40);
    let (ca, cb) = (bit_counts(&a), bit_counts(&b));
    let n = a.len() as f64;
    for bit in 0..64 {
        let d = (ca[bit] as f64 - cb[bit] as f64).abs();
        // sd of the difference is sqrt(n/2); 6 sd
        assert!(
            d < 6.0 * (n / 2.0).sqrt(),
            "bit {bit}: {} vs {}",
            ca[bit],
            cb[bit]
        );
    }
}

#[test]
fn zero_sharings_sum_to_zero_and_never_repeat() {
    let outs = run_3pc(|p| {
        let mut all = Vec::new();
        for _ in 0..16 {
            all.extend(p.zero_share(4096));
        }
        Ok(all)
    })
    .unwrap();
    let mut seen = HashSet::new();
    for ((a, b), c) in outs[0].iter().zip(&outs[1]).zip(&outs[2]) {
        assert_eq!(a.wrapping_add(*b).wrapping_add(*c), 0);
        assert!(seen.insert(*a), "zero-share word repeated");
    }
    // sessions use fresh keys: two runs give different zero-sharings
    let again = run_3pc(|p| Ok(p.zero_share(64))).unwrap();
    assert_ne!(again[0][..], outs[0][..64]);
}

#[test]
fn reveal_to_one_leaves_the_others_views_unchanged() {
    let x = uniform(&mut rng(9), &[100], 3.0);
    let outs = run_3pc(|p| {
        let s = p.input_f64(0, own(p.role(), 0, &x), &[100])?;
        let before = p.stats();
        let out = p.reveal_to(1, &s)?;
        Ok((p.stats().since(&before), out.is_some()))
    })
    .unwrap();
    for (role, (st, got)) in outs.iter().enumerate() {
        assert_eq!(*got, role == 1);
        if role != 1 {
            assert_eq!(st.bytes_received, 0, "party {role} received something");
        }
    }
}
