//! Exact communication costs: bytes and rounds per party equal the formulas in the module docs.

#![allow(clippy::unwrap_used)]
mod common;
use common::*;
use mpc_core::{CommStats, Party, Result, run_3pc};

/// Each party's counters for one operation, from `(before, after)` snapshots, and the
/// operation's rounds: the growth of the maximum depth over the parties.
fn diff(snaps: &[(CommStats, CommStats); 3]) -> ([CommStats; 3], u64) {
    let max_before = snaps.iter().map(|s| s.0.rounds).max().unwrap_or(0);
    let max_after = snaps.iter().map(|s| s.1.rounds).max().unwrap_or(0);
    (
        std::array::from_fn(|i| snaps[i].1.since(&snaps[i].0)),
        max_after - max_before,
    )
}

/// Runs `op` in a fresh session and returns its costs (see [`diff`]).
fn cost<F>(op: F) -> ([CommStats; 3], u64)
where
    F: Fn(&mut Party) -> Result<()> + Sync,
{
    let snaps = run_3pc(|p| {
        let before = p.stats();
        op(p)?;
        Ok((before, p.stats()))
    })
    .unwrap();
    diff(&snaps)
}

fn bytes(s: &[CommStats; 3]) -> [u64; 3] {
    [s[0].bytes_sent, s[1].bytes_sent, s[2].bytes_sent]
}

#[test]
fn input_costs_one_word_per_value_per_receiver() {
    let x = uniform(&mut rng(1), &[10, 10], 5.0);
    for owner in 0..3 {
        let (s, rounds) = cost(|p| {
            p.input_f64(owner, own(p.role(), owner, &x), &[10, 10])?;
            Ok(())
        });
        let mut want = [0u64; 3];
        want[owner] = 2 * 8 * 100;
        assert_eq!(bytes(&s), want);
        assert_eq!(rounds, 1);
    }
}

#[test]
fn reveal_mul_matmul_trunc_costs() {
    // every op measured after the inputs are shared
    let measure = |which: usize| {
        let snaps = run_3pc(|p| {
            // operands from free random sharings: all parties start the operation at depth 0
            let sx = p.random_share(&[6, 5], 16)?;
            let sy = p.random_share(&[5, 4], 16)?;
            let si = sx.clone().with_frac_bits(0);
            let before = p.stats();
            match which {
                0 => drop(p.reveal(&sx)?),
                1 => drop(p.reveal_to(2, &sx)?),
                2 => drop(p.mul(&si, &si)?),
                3 => drop(p.mul(&sx, &sx)?),
                4 => drop(p.matmul(&sx, &sy)?),
                5 => drop(p.matmul(&si, &sy.clone().with_frac_bits(0))?),
                _ => drop(p.trunc(&sx, 8)?),
            }
            Ok((before, p.stats()))
        })
        .unwrap();
        let (stats, rounds) = diff(&snaps);
        (bytes(&stats), rounds)
    };
    let n = 30u64;
    assert_eq!(measure(0), ([8 * n; 3], 1), "reveal");
    assert_eq!(
        measure(1),
        ([8 * n, 0, 0], 1),
        "reveal_to(2): only party 0 (= 2 + 1 mod 3) sends"
    );
    assert_eq!(measure(2), ([8 * n; 3], 1), "integer mul");
    assert_eq!(
        measure(3),
        ([8 * n; 3], 2),
        "fixed-point mul, truncation fused"
    );
    assert_eq!(
        measure(4),
        ([8 * 24; 3], 2),
        "fixed-point matmul: m*n words, independent of k"
    );
    assert_eq!(measure(5), ([8 * 24; 3], 1), "integer matmul");
    assert_eq!(
        measure(6),
        ([0, 8 * n, 0], 1),
        "stand-alone truncation: party 1 sends"
    );
}

#[test]
fn zero_cost_operations() {
    let (s, rounds) = cost(|p| {
        let r = p.random_share(&[100], 16)?;
        let _ = p.zero_share(100);
        let _ = r.add(&r)?.neg().sum_axis(0)?;
        Ok(())
    });
    assert_eq!(bytes(&s), [0, 0, 0]);
    assert_eq!(rounds, 0);
}
