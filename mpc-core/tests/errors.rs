//! Bad input returns typed errors that name the problem; no panics, no hangs.

#![allow(clippy::unwrap_used)]
mod common;
use common::*;
use mpc_core::{CoreError, FixedPoint, HarnessConfig, Party, run_3pc, run_3pc_with};
use mpc_net::NetError;
use mpc_net::memory::MemoryTransport;
use std::time::Duration;

#[test]
fn shape_and_scale_mismatches() {
    let a = uniform(&mut rng(1), &[2, 3], 1.0);
    let b = uniform(&mut rng(2), &[3, 2], 1.0);
    let outs = run_3pc(|p| {
        let sa = p.input_f64(0, own(p.role(), 0, &a), &[2, 3])?;
        let sb = p.input_f64(0, own(p.role(), 0, &b), &[3, 2])?;
        let e1 = sa.add(&sb).unwrap_err();
        let e2 = p.mul(&sa, &sb).unwrap_err();
        let e3 = p.matmul(&sa, &sa).unwrap_err();
        let e4 = sa.add(&sa.clone().with_frac_bits(8)).unwrap_err();
        let e5 = sa.reshape(&[4, 2]).unwrap_err();
        let e6 = sa.slice_axis(3, 0, 1).unwrap_err();
        let e7 = p.trunc(&sa, 20).unwrap_err();
        let e8 = sa.permute(&[0, 0]).unwrap_err();
        Ok(vec![e1, e2, e3, e4, e5, e6, e7, e8])
    })
    .unwrap();
    let e = &outs[0];
    assert!(matches!(e[0], CoreError::ShapeMismatch { op: "add", .. }));
    assert!(matches!(e[1], CoreError::ShapeMismatch { op: "mul", .. }));
    assert!(matches!(
        e[2],
        CoreError::ShapeMismatch { op: "matmul", .. }
    ));
    assert!(matches!(
        e[3],
        CoreError::ScaleMismatch {
            left: 16,
            right: 8,
            ..
        }
    ));
    assert!(matches!(
        e[4],
        CoreError::InvalidShape { op: "reshape", .. }
    ));
    assert!(matches!(
        e[5],
        CoreError::InvalidShape {
            op: "slice_axis",
            ..
        }
    ));
    assert!(matches!(e[6], CoreError::InvalidFixedPoint(_)));
    assert!(matches!(
        e[7],
        CoreError::InvalidShape { op: "permute", .. }
    ));
    assert!(e[0].to_string().contains("[2, 3]"), "{}", e[0]);
}

#[test]
fn out_of_range_input_fails_at_owner_and_the_others_stop() {
    let x = ndarray::arr1(&[1.0, 1e300]).into_dyn();
    let err = run_3pc(|p| p.input_f64(0, own(p.role(), 0, &x), &[2])).unwrap_err();
    assert!(
        matches!(err, CoreError::OutOfRange { value, .. } if value == 1e300),
        "{err}"
    );
}

#[test]
fn wrong_owner_arguments() {
    let x = ndarray::arr1(&[1.0]).into_dyn();
    let err = run_3pc(|p| p.input_f64(0, Some(&x), &[1])).unwrap_err();
    assert!(matches!(err, CoreError::BadInput { owner: 0, .. }), "{err}");
    let err = run_3pc(|p| p.input_f64(5, None, &[1])).unwrap_err();
    assert!(matches!(err, CoreError::BadRole(5)));
    let err = run_3pc(|p| p.input_f64(1, own(p.role(), 1, &x), &[2])).unwrap_err();
    assert!(
        matches!(err, CoreError::ShapeMismatch { op: "input", .. }),
        "{err}"
    );
}

#[test]
fn silent_peer_times_out() {
    let t = MemoryTransport::isolated(0, Duration::from_millis(100)).unwrap();
    let err = Party::new(Box::new(t), FixedPoint::default()).unwrap_err();
    assert!(
        matches!(err, CoreError::Net(NetError::Timeout { .. })),
        "{err}"
    );
}

#[test]
fn a_failing_party_does_not_hang_the_others() {
    let cfg = HarnessConfig {
        timeout: Duration::from_secs(5),
        ..HarnessConfig::default()
    };
    let start = std::time::Instant::now();
    let err = run_3pc_with(&cfg, |p| {
        if p.role() == 2 {
            return Err(CoreError::InvalidFixedPoint("party 2 gives up".into()));
        }
        let r = p.random_share(&[4], 16)?;
        p.reveal(&r)
    })
    .unwrap_err();
    assert!(matches!(err, CoreError::InvalidFixedPoint(_)), "{err}");
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "the others waited for the timeout"
    );
}

#[test]
fn invalid_fixed_point_settings() {
    assert!(FixedPoint::new(0).is_err());
    assert!(FixedPoint::new(40).is_err());
}

/// A reciprocal range that is empty or whose ends (or their reciprocals) are not encodable is
/// refused before any message, naming the range and the bound.
#[test]
fn reciprocal_ranges_outside_the_encoding_are_refused() {
    let outs = run_3pc(|p| {
        let x = p.random_share(&[2], 16)?;
        let e = [(3, 2), (-47, 17), (-16, 47)].map(|(lo, hi)| {
            p.reciprocal_positive_range(&x, lo, hi)
                .map(|_| ())
                .unwrap_err()
                .to_string()
        });
        Ok(e)
    })
    .unwrap();
    for msg in outs.iter().flatten() {
        assert!(
            msg.contains("reciprocal range") && msg.contains("|exponent| < 47"),
            "{msg}"
        );
    }
}
