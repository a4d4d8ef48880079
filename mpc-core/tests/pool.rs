//! The protocols reuse their large buffers through `mpc_net::pool`: a second ReLU on the same
//! shape takes its masks, planes and messages from buffers the first one gave back, and the
//! results come back too when their shares are dropped. One test in this binary, so that no
//! other test touches the process-wide pool meanwhile.
#![allow(clippy::unwrap_used)]

use mpc_core::run_3pc;
use mpc_net::pool;

#[test]
fn a_second_relu_reuses_the_first_ones_buffers() {
    let n = 1 << 17; // bit planes of 2^17 words: above the pool's minimum
    let counts = |stats: &pool::PoolStats, before: &pool::PoolStats| {
        (stats.hits - before.hits, stats.misses - before.misses)
    };
    let out = run_3pc(|p| {
        let x = p.random_share(&[n], 16)?;
        let first = p.relu(&x)?;
        let second = p.relu(&x)?;
        Ok((p.reveal(&first)?, p.reveal(&second)?))
    })
    .unwrap();
    assert_eq!(out[0].0, out[0].1, "same input, same ReLU");
    // now measure a call on a warm pool
    let before = pool::stats();
    run_3pc(|p| {
        let x = p.random_share(&[n], 16)?;
        p.relu(&x)?;
        Ok(())
    })
    .unwrap();
    let (hits, misses) = counts(&pool::stats(), &before);
    eprintln!("warm ReLU: {hits} pooled buffers reused, {misses} allocated");
    assert!(hits >= 20, "{hits} pooled buffers reused");
    // the earlier results came back when dropped, so hardly anything is new; the bound leaves
    // room for the order in which the three threads take and give (12 measured before results
    // were given back, 0-2 since)
    assert!(
        misses <= 6,
        "{misses} large buffers allocated ({hits} reused)"
    );
    assert!(pool::stats().held_bytes <= pool::limit());

    // a dropped share gives its two components back
    let comp = || ndarray::ArrayD::<u64>::zeros(ndarray::IxDyn(&[n]));
    let share = mpc_core::AShare::from_components(comp(), comp(), 16).unwrap();
    let held = pool::stats().held_bytes;
    drop(share);
    let back = pool::stats().held_bytes;
    assert!(
        back >= held + 2 * 8 * n || back + 2 * 8 * n > pool::limit(),
        "held {held} -> {back} bytes"
    );
}
