//! `time_3pc`'s samples cover the whole iteration, even when the three parties share fewer than
//! three cores. Its own binary, so that no other test competes for the cores meanwhile.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use mpc_core::time_3pc;

/// A fixed amount of CPU work (a chain of dependent multiply-xors, so it cannot be skipped).
fn work(steps: u64) -> u64 {
    let mut x = black_box(0x9e37_79b9_7f4a_7c15u64);
    for i in 0..steps {
        x = (x ^ i).wrapping_mul(0xbf58_476d_1ce4_e5b9).rotate_left(17);
    }
    black_box(x)
}

/// Three parties each doing `t` of CPU work cannot finish in less than `3 t / cores` of wall
/// time (cores capped at three): a sample shorter than that started its clock late. A clock
/// read by one party after the start barrier does, whenever that party's thread waits for a
/// core while the other two run (about one iteration in three on a 2-core machine).
#[test]
fn samples_cover_all_three_parties_work() {
    let steps = 2_000_000;
    // the work's duration on one thread, the fastest of a few runs
    let one = (0..5)
        .map(|_| {
            let t = Instant::now();
            work(steps);
            t.elapsed()
        })
        .min()
        .unwrap();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get().min(3));
    let (timing, _) = time_3pc(1, 12, |_| Ok(()), |_, _| Ok(work(steps))).unwrap();
    // 3/4 of the bound: room for the calibration's noise, far above what a late clock gives
    let bound = one.mul_f64(3.0 / cores as f64 * 0.75);
    for (i, s) in timing.samples.iter().enumerate() {
        assert!(
            *s >= bound,
            "sample {i}: {s:?} for 3 x {one:?} of work on {cores} cores (at least {bound:?})"
        );
    }
    assert!(timing.samples.iter().all(|s| *s < Duration::from_secs(10)));
}
