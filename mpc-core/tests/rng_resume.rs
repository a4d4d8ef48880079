//! Resuming the correlated randomness: a session that restores another session's
//! [`RngState`] and redoes the same computation on the same inputs gets bit-identical shares
//! (what a checkpointed training job relies on), and a fresh session does not.

#![allow(clippy::unwrap_used)]
mod common;
use common::*;
use mpc_core::{AShare, Party, RngState, TruncMode, run_3pc};

/// Inputs, a product with exact truncation, a ReLU and a sigmoid: every kind of randomness
/// (input masks, zero-sharings, the truncation dealer, comparison bits).
fn compute(p: &mut Party) -> mpc_core::Result<Vec<AShare>> {
    let mut r = rng(5);
    let a = uniform(&mut r, &[40], 8.0);
    let b = uniform(&mut r, &[40], 8.0);
    let role = p.role();
    let x = p.input_f64(0, own(role, 0, &a), &[40])?;
    let y = p.input_f64(1, own(role, 1, &b), &[40])?;
    p.set_trunc_mode(TruncMode::Exact);
    let z = p.mul(&x, &y)?;
    let w = p.relu(&z)?;
    let s = p.sigmoid(&x)?;
    Ok(vec![x, y, z, w, s])
}

type Components = Vec<(Vec<u64>, Vec<u64>)>;

fn components(v: &[AShare]) -> Components {
    v.iter()
        .map(|t| {
            let (a, b) = t.components();
            (a.iter().copied().collect(), b.iter().copied().collect())
        })
        .collect()
}

#[test]
fn a_restored_state_redoes_the_same_computation_bit_for_bit() {
    // session 1: take the state, compute, and say where the streams ended
    let first = run_3pc(|p| {
        let start = p.rng_state();
        let out = compute(p)?;
        let (prev, next) = (start.prev_words(), start.next_words());
        Ok((
            start,
            RngState::from_words(prev, next),
            components(&out),
            p.rng_state(),
        ))
    })
    .unwrap();
    for (start, rebuilt, _, end) in &first {
        assert_eq!(start, rebuilt, "words round trip");
        assert_ne!(start, end, "the computation drew randomness");
    }
    // session 2 (new keys from the handshake): restore session 1's state and redo
    let starts: Vec<RngState> = first.iter().map(|f| f.0.clone()).collect();
    let second = run_3pc(|p| {
        p.restore_rng_state(&starts[p.role()]);
        let out = compute(p)?;
        let values = p.reveal_f64(&out[4])?;
        Ok((components(&out), p.rng_state(), values))
    })
    .unwrap();
    for (i, (c, end, values)) in second.iter().enumerate() {
        assert_eq!(
            *c, first[i].2,
            "party {i}: shares differ after restoring the state"
        );
        assert_eq!(*end, first[i].3, "party {i}: the streams end elsewhere");
        // and the result is still right
        let mut r = rng(5);
        let a = uniform(&mut r, &[40], 8.0);
        let want = a.mapv(|v| 1.0 / (1.0 + (-v).exp()));
        assert!(max_abs_diff(values, &want) < 0.02, "sigmoid off");
    }
    // without restoring, a fresh session gives other shares of the same values
    let third = run_3pc(|p| Ok(components(&compute(p)?))).unwrap();
    assert_ne!(third[0], first[0].2);
}

#[test]
fn the_state_never_prints_key_material() {
    let s = run_3pc(|p| Ok(p.rng_state())).unwrap();
    let text = format!("{:?}", s[0]);
    assert!(
        text.contains("prev_counter") && !text.contains("prev:"),
        "{text}"
    );
    let k = s[0].prev_words();
    assert!(!text.contains(&k[0].to_string()), "{text}");
}
