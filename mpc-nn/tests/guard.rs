//! The overflow guard's range check on shares against the plaintext engine.
#![allow(clippy::unwrap_used)]

use mpc_nn::Plain;
use mpc_nn::guard::any_out_of_range;
use ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;

/// The guard's bit on shares (each tensor input by a different party) and in plaintext.
fn both(ts: &[ArrayD<f64>], bound: f64) -> (bool, bool) {
    let plain = any_out_of_range(&mut Plain::new(), &ts.iter().collect::<Vec<_>>(), bound).unwrap();
    let secure = mpc_nn::run_3pc(|p| {
        mpc_nn::secure_session(p);
        let mut shared = Vec::new();
        for (i, t) in ts.iter().enumerate() {
            let owner = i % 3;
            shared.push(p.input_f64(owner, (p.role() == owner).then_some(t), t.shape())?);
        }
        let before = p.stats();
        let bit = any_out_of_range(p, &shared.iter().collect::<Vec<_>>(), bound)?;
        let after = p.stats();
        Ok((bit, after.rounds - before.rounds))
    })
    .unwrap();
    assert!(
        secure.iter().all(|s| s.0 == secure[0].0),
        "parties disagree"
    );
    // a constant number of rounds, whatever the number of elements
    assert!(secure[0].1 < 60, "{} rounds", secure[0].1);
    (secure[0].0, plain)
}

fn tensor(v: Vec<f64>, shape: &[usize]) -> ArrayD<f64> {
    ArrayD::from_shape_vec(IxDyn(shape), v).unwrap()
}

#[test]
fn values_at_the_bound_are_caught_and_below_are_not() {
    let inside = tensor(vec![1023.9, -1023.9, 0.0, 5.0, -7.25, 1e-3], &[2, 3]);
    assert_eq!(both(std::slice::from_ref(&inside), 1024.0), (false, false));
    for bad in [1024.0, 1024.1, -1024.1, 5e4, -3e6] {
        let mut t = inside.clone();
        t[[1, 2]] = bad;
        assert_eq!(both(&[inside.clone(), t], 1024.0), (true, true), "{bad}");
    }
    assert!(any_out_of_range::<Plain>(&mut Plain::new(), &[], 1.0).is_err());
    assert!(any_out_of_range(&mut Plain::new(), &[&inside], f64::NAN).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Random tensors, with or without one element pushed out of range somewhere.
    #[test]
    fn secure_bit_matches_plaintext(
        vals in prop::collection::vec(-900.0f64..900.0, 1..200),
        bad in prop::option::of((any::<prop::sample::Index>(), 1030.0f64..1e6, any::<bool>())),
    ) {
        let mut v = vals.clone();
        if let Some((i, x, neg)) = bad {
            let at = i.index(v.len());
            v[at] = if neg { -x } else { x };
        }
        let n = v.len();
        let (secure, plain) = both(&[tensor(v, &[n, 1]), tensor(vals[..1].to_vec(), &[1])], 1024.0);
        prop_assert_eq!(secure, plain);
        prop_assert_eq!(secure, bad.is_some());
    }
}
