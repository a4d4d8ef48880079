//! Correctness of input, reveal, linear operations, multiplication, matmul and truncation against
//! plaintext f64, with stated error bounds.

#![allow(clippy::unwrap_used)]
mod common;
use common::*;
use mpc_core::{AShare, run_3pc};
use ndarray::{Array2, ArrayD, Ix2, IxDyn};
use proptest::prelude::*;

/// Encoding error per value: half an ulp.
const ENC: f64 = ULP / 2.0;

#[test]
fn input_reveal_every_owner() {
    let mut r = rng(1);
    let x = uniform(&mut r, &[3, 4, 5], 1000.0);
    for owner in 0..3 {
        let outs = run_3pc(|p| {
            let s = p.input_f64(owner, own(p.role(), owner, &x), x.shape())?;
            p.reveal_f64(&s)
        })
        .unwrap();
        for o in &outs {
            assert!(max_abs_diff(o, &x) <= ENC);
        }
    }
}

#[test]
fn reveal_to_one_party() {
    let x = ArrayD::from_shape_vec(IxDyn(&[4]), vec![1.0, -2.0, 3.5, 0.0]).unwrap();
    for target in 0..3 {
        let outs = run_3pc(|p| {
            let s = p.input_f64(1, own(p.role(), 1, &x), &[4])?;
            p.reveal_to_f64(target, &s)
        })
        .unwrap();
        for (role, o) in outs.iter().enumerate() {
            if role == target {
                assert_eq!(o.as_ref().unwrap(), &x);
            } else {
                assert!(o.is_none());
            }
        }
    }
}

#[test]
fn linear_ops_with_public_values_and_broadcast() {
    let mut r = rng(2);
    let x = uniform(&mut r, &[4, 3], 100.0);
    let y = uniform(&mut r, &[4, 3], 100.0);
    let c = uniform(&mut r, &[3], 10.0); // broadcast along rows
    let outs = run_3pc(|p| {
        let f = p.fixed_point();
        let sx = p.input_f64(0, own(p.role(), 0, &x), &[4, 3])?;
        let sy = p.input_f64(2, own(p.role(), 2, &y), &[4, 3])?;
        let cw = c.mapv(|v| f.encode(v).unwrap());
        let sum = sx.add(&sy)?.sub(&sx.neg())?; // 2x + y
        let plus_c = sum.add_public_ring(p.role(), &cw)?;
        let times_c = p.mul_public(&sx, &c)?;
        let times_3 = sx.mul_scalar_int(3);
        let half = p.mul_scalar(&sy, 0.5)?;
        Ok((
            p.reveal_f64(&plus_c)?,
            p.reveal_f64(&times_c)?,
            p.reveal_f64(&times_3)?,
            p.reveal_f64(&half)?,
        ))
    })
    .unwrap();
    let cb = c.broadcast(IxDyn(&[4, 3])).unwrap().to_owned();
    for (plus_c, times_c, times_3, half) in &outs {
        assert!(max_abs_diff(plus_c, &(&x * 2.0 + &y + &cb)) <= 4.0 * ENC);
        // |x| <= 100, |c| <= 10: encoding errors 100*ENC + 10*ENC, plus one ulp of truncation
        assert!(max_abs_diff(times_c, &(&x * &cb)) <= 110.0 * ENC + 2.0 * ULP);
        assert!(max_abs_diff(times_3, &(&x * 3.0)) <= 3.0 * ENC);
        assert!(max_abs_diff(half, &(&y * 0.5)) <= ENC + 2.0 * ULP);
    }
}

/// Bound for one fixed-point product of values bounded by `a` and `b`: encoding errors of both
/// factors propagate, plus one ulp from truncation.
fn mul_bound(a: f64, b: f64) -> f64 {
    (a + b) * ENC + ENC * ENC + ULP
}

#[test]
fn elementwise_mul_fixed_and_integer() {
    let mut r = rng(3);
    let x = uniform(&mut r, &[1000], 30.0);
    let y = uniform(&mut r, &[1000], 30.0);
    let xi: ArrayD<u64> = x.mapv(|v| (v.round() as i64) as u64);
    let outs = run_3pc(|p| {
        let sx = p.input_f64(0, own(p.role(), 0, &x), &[1000])?;
        let sy = p.input_f64(1, own(p.role(), 1, &y), &[1000])?;
        let si = p.input(2, own(p.role(), 2, &xi), &[1000], 0)?;
        let prod = p.mul(&sx, &sy)?;
        let mixed = p.mul(&si, &sy)?; // integer times fixed: no truncation
        let ints = p.mul(&si, &si)?;
        Ok((
            p.reveal_f64(&prod)?,
            p.reveal_f64(&mixed)?,
            p.reveal(&ints)?,
        ))
    })
    .unwrap();
    let xr = x.mapv(f64::round);
    for (prod, mixed, ints) in &outs {
        assert!(max_abs_diff(prod, &(&x * &y)) <= mul_bound(30.0, 30.0));
        assert!(max_abs_diff(mixed, &(&xr * &y)) <= 30.0 * ENC);
        for (w, v) in ints.iter().zip(xr.iter()) {
            assert_eq!(*w as i64, (v * v) as i64);
        }
    }
}

#[test]
fn matmul_against_f64() {
    let mut r = rng(4);
    for (m, k, n) in [(1, 1, 1), (7, 33, 5), (64, 64, 64), (3, 200, 2)] {
        let x = uniform(&mut r, &[m, k], 2.0);
        let y = uniform(&mut r, &[k, n], 2.0);
        let outs = run_3pc(|p| {
            let sx = p.input_f64(0, own(p.role(), 0, &x), &[m, k])?;
            let sy = p.input_f64(1, own(p.role(), 1, &y), &[k, n])?;
            let z = p.matmul(&sx, &sy)?;
            let zt = p.matmul(&sy.t(), &sx.t())?; // (xy)^T = y^T x^T
            Ok((p.reveal_f64(&z)?, p.reveal_f64(&zt)?))
        })
        .unwrap();
        let x2 = x.clone().into_dimensionality::<Ix2>().unwrap();
        let y2 = y.clone().into_dimensionality::<Ix2>().unwrap();
        let want: Array2<f64> = x2.dot(&y2);
        // k products, each with encoding error (2+2)*ENC, plus one truncation ulp
        let bound = k as f64 * (4.0 * ENC + ENC * ENC) + ULP;
        for (z, zt) in &outs {
            assert!(
                max_abs_diff(z, &want.clone().into_dyn()) <= bound,
                "{m}x{k}x{n}"
            );
            assert!(max_abs_diff(zt, &want.t().to_owned().into_dyn()) <= bound);
        }
    }
}

/// `x y` over `Z_2^64` (wrapping), the plaintext of an integer matmul.
fn ring_matmul(x: &ArrayD<u64>, y: &ArrayD<u64>) -> ArrayD<u64> {
    let (m, k, n) = (x.shape()[0], x.shape()[1], y.shape()[1]);
    ArrayD::from_shape_fn(IxDyn(&[m, n]), |ij| {
        (0..k).fold(0u64, |acc, l| {
            acc.wrapping_add(x[[ij[0], l]].wrapping_mul(y[[l, ij[1]]]))
        })
    })
}

/// Products of the largest values the doubled matmul path allows in exact mode (its shares add
/// up to `2 x y`, so `|x y| < 2^29` at 16 fractional bits; see `mul.rs`): both signs, one
/// unit in the last place of error, no wrap-around.
#[test]
fn exact_matmul_at_the_doubled_range_limit() {
    // |x y| up to 2^28.9 in one product and in a sum of four
    let big = 2f64.powf(14.45);
    let x = ArrayD::from_shape_vec(
        IxDyn(&[2, 4]),
        vec![big, -big, big, 0.5, 1.0, 2.0, -3.0, 4.0],
    )
    .unwrap();
    // column 0 gives big^2 = 2^28.9 (+0.5), column 1 -big^2 (+0.25)
    let y = ArrayD::from_shape_vec(
        IxDyn(&[4, 2]),
        vec![big, -big, big, 0.0, big, 0.0, 1.0, 0.5],
    )
    .unwrap();
    let outs = run_3pc(|p| {
        p.set_trunc_mode(mpc_core::TruncMode::Exact);
        let sx = p.input_f64(0, own(p.role(), 0, &x), &[2, 4])?;
        let sy = p.input_f64(1, own(p.role(), 1, &y), &[4, 2])?;
        let z = p.matmul(&sx, &sy)?;
        p.reveal_f64(&z)
    })
    .unwrap();
    let want = x
        .into_dimensionality::<Ix2>()
        .unwrap()
        .dot(&y.into_dimensionality::<Ix2>().unwrap());
    assert!(
        want.iter().any(|v| *v > 2f64.powf(28.8)) && want.iter().any(|v| *v < -2f64.powf(28.8))
    );
    for got in &outs {
        // encoding errors of the big operands (|x|, |y| < 2^14.5) dominate
        let bound = 4.0 * 2.0 * 2f64.powf(14.5) * ENC + ULP;
        assert!(max_abs_diff(got, &want.clone().into_dyn()) <= bound);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    /// Every combination of operand scales in both truncation modes: fixed times fixed takes
    /// the doubled one-GEMM-per-party path (truncated by one more bit), an integer operand the
    /// five-GEMM path, exact over the whole ring for integers times integers.
    #[test]
    fn prop_matmul_every_scale_and_mode(
        m in 1usize..20,
        k in 1usize..40,
        n in 1usize..20,
        exact in prop::bool::ANY,
        seed in any::<u64>(),
    ) {
        use rand::RngExt;
        let mut r = rng(seed);
        let x = uniform(&mut r, &[m, k], 8.0);
        let y = uniform(&mut r, &[k, n], 8.0);
        let xi = ArrayD::from_shape_fn(IxDyn(&[m, k]), |_| r.random_range(-50i64..=50) as u64);
        let (wa, wb) = (
            ArrayD::from_shape_fn(IxDyn(&[m, k]), |_| r.random::<u64>()),
            ArrayD::from_shape_fn(IxDyn(&[k, n]), |_| r.random::<u64>()),
        );
        let outs = run_3pc(|p| {
            if exact {
                p.set_trunc_mode(mpc_core::TruncMode::Exact);
            }
            let sx = p.input_f64(0, own(p.role(), 0, &x), &[m, k])?;
            let sy = p.input_f64(1, own(p.role(), 1, &y), &[k, n])?;
            let si = p.input(2, own(p.role(), 2, &xi), &[m, k], 0)?;
            let (swa, swb) = (
                p.input(0, own(p.role(), 0, &wa), &[m, k], 0)?,
                p.input(1, own(p.role(), 1, &wb), &[k, n], 0)?,
            );
            let fixed = p.matmul(&sx, &sy)?;
            let mixed = p.matmul(&si, &sy)?;
            let ints = p.matmul(&swa, &swb)?;
            Ok((p.reveal_f64(&fixed)?, p.reveal_f64(&mixed)?, p.reveal(&ints)?))
        }).unwrap();
        let dot = |a: &ArrayD<f64>, b: &ArrayD<f64>| {
            let a = a.clone().into_dimensionality::<Ix2>().unwrap();
            a.dot(&b.clone().into_dimensionality::<Ix2>().unwrap()).into_dyn()
        };
        let xr = xi.mapv(|v| v as i64 as f64);
        let want_ints = ring_matmul(&wa, &wb);
        for (fixed, mixed, ints) in &outs {
            prop_assert!(max_abs_diff(fixed, &dot(&x, &y)) <= k as f64 * mul_bound(8.0, 8.0));
            prop_assert!(max_abs_diff(mixed, &dot(&xr, &y)) <= k as f64 * 50.0 * ENC);
            prop_assert_eq!(ints, &want_ints);
        }
    }
}

/// A linear map between the local product and the resharing (`matmul_local`, `map`,
/// `finish_local`): the column sums of `x y` come out as the plaintext's, within the same bound
/// per summed entry, and only the mapped `1 x n` result is sent.
#[test]
fn matmul_with_a_local_linear_map_against_f64() {
    let mut r = rng(5);
    let (m, k, n) = (9, 17, 4);
    let x = uniform(&mut r, &[m, k], 2.0);
    let y = uniform(&mut r, &[k, n], 2.0);
    let outs = run_3pc(|p| {
        let sx = p.input_f64(0, own(p.role(), 0, &x), &[m, k])?;
        let sy = p.input_f64(1, own(p.role(), 1, &y), &[k, n])?;
        let before = p.stats();
        let local = p.matmul_local(&sx, &sy)?;
        assert_eq!(local.shape(), &[m, n]);
        let mapped = local.map(|z| {
            Ok::<_, mpc_core::CoreError>(z.sum_axis(ndarray::Axis(0)).insert_axis(ndarray::Axis(0)))
        })?;
        let s = p.finish_local(mapped)?;
        let sent = p.stats().since(&before);
        Ok((p.reveal_f64(&s)?, sent.bytes_sent))
    })
    .unwrap();
    let x2 = x.into_dimensionality::<Ix2>().unwrap();
    let y2 = y.into_dimensionality::<Ix2>().unwrap();
    let want = x2
        .dot(&y2)
        .sum_axis(ndarray::Axis(0))
        .insert_axis(ndarray::Axis(0));
    let bound = (m * k) as f64 * (4.0 * ENC + ENC * ENC) + ULP;
    for (i, (got, sent)) in outs.iter().enumerate() {
        assert!(
            max_abs_diff(got, &want.clone().into_dyn()) <= bound,
            "party {i}"
        );
        // a probabilistic truncated reshare of n words (party 1 sends nothing in it)
        assert!(*sent <= 8 * n as u64, "party {i} sent {sent} bytes");
    }
}

#[test]
fn shape_operations_are_local_and_consistent() {
    let mut r = rng(5);
    let x = uniform(&mut r, &[2, 3, 4], 10.0);
    let outs = run_3pc(|p| {
        let s = p.input_f64(0, own(p.role(), 0, &x), &[2, 3, 4])?;
        let before = p.stats();
        let a = s.reshape(&[6, 4])?;
        let b = s.permute(&[2, 0, 1])?;
        let c = s.slice_axis(1, 1, 3)?;
        let d = AShare::concat(0, &[&s, &s])?;
        let e = s.sum_axis(2)?;
        let g = s.slice_axis(0, 0, 1)?.broadcast_to(&[3, 3, 4])?;
        assert_eq!(p.stats(), before, "shape operations must not communicate");
        [a, b, c, d, e, g]
            .iter()
            .map(|t| p.reveal_f64(t))
            .collect::<Result<Vec<_>, _>>()
    })
    .unwrap();
    let want = [
        x.clone().into_shape_with_order(IxDyn(&[6, 4])).unwrap(),
        x.view().permuted_axes(IxDyn(&[2, 0, 1])).to_owned(),
        x.slice_axis(ndarray::Axis(1), ndarray::Slice::from(1..3))
            .to_owned(),
        ndarray::concatenate(ndarray::Axis(0), &[x.view(), x.view()]).unwrap(),
        x.sum_axis(ndarray::Axis(2)),
        x.slice_axis(ndarray::Axis(0), ndarray::Slice::from(0..1))
            .broadcast(IxDyn(&[3, 3, 4]))
            .unwrap()
            .to_owned(),
    ];
    for o in &outs {
        for (got, w) in o.iter().zip(&want) {
            assert!(max_abs_diff(got, w) <= 4.0 * ENC);
        }
    }
}

/// The consuming forms (`into_reshape`, `into_add_public_ring`, `add_scalar_owned`) give the
/// same shares, word for word, as the borrowing ones, also on a permuted (copied) share, and
/// refuse what those refuse.
#[test]
fn consuming_forms_match_the_borrowing_ones() {
    let mut r = rng(6);
    let x = uniform(&mut r, &[2, 3, 4], 10.0);
    run_3pc(|p| {
        let s = p.input_f64(0, own(p.role(), 0, &x), &[2, 3, 4])?;
        let words = |a: &AShare| {
            let (c0, c1) = a.components();
            (c0.clone(), c1.clone())
        };
        for t in [s.clone(), s.permute(&[2, 0, 1])?] {
            assert_eq!(
                words(&t.clone().into_reshape(&[4, 6])?),
                words(&t.reshape(&[4, 6])?)
            );
            let c = ArrayD::from_elem(IxDyn(&[1, t.shape()[2]]), 12345u64);
            assert_eq!(
                words(&t.clone().into_add_public_ring(p.role(), &c)?),
                words(&t.add_public_ring(p.role(), &c)?)
            );
            assert_eq!(
                words(&p.add_scalar_owned(t.clone(), -2.5)?),
                words(&p.add_scalar(&t, -2.5)?)
            );
        }
        assert!(s.clone().into_reshape(&[5, 5]).is_err());
        let bad = ArrayD::from_elem(IxDyn(&[5]), 1u64);
        assert!(s.clone().into_add_public_ring(p.role(), &bad).is_err());
        let one = ArrayD::from_elem(IxDyn(&[]), 1u64);
        assert!(s.into_add_public_ring(3, &one).is_err());
        Ok(())
    })
    .unwrap();
}

/// Millions of truncations of products of standard-scale values: no wrap-around failure, every
/// error within one ulp plus encoding error. Expected failures in this test: about
/// 2^21 * E|xy| * 2^-32 < 2^-11.
#[test]
fn two_million_truncations_have_no_failures() {
    let n = 1 << 21;
    let mut r = rng(6);
    let x = uniform(&mut r, &[n], 1.0);
    let y = uniform(&mut r, &[n], 1.0);
    let outs = run_3pc(|p| {
        let sx = p.input_f64(0, own(p.role(), 0, &x), &[n])?;
        let sy = p.input_f64(1, own(p.role(), 1, &y), &[n])?;
        let z = p.mul(&sx, &sy)?;
        // and the stand-alone truncation on a product kept at 32 fractional bits
        let wide = p
            .mul(&sx.clone().with_frac_bits(0), &sy)?
            .with_frac_bits(32);
        let t = p.trunc(&wide, 16)?;
        Ok((p.reveal_f64(&z)?, p.reveal_f64(&t)?))
    })
    .unwrap();
    let want = &x * &y;
    let (z, t) = &outs[0];
    assert!(max_abs_diff(z, &want) <= mul_bound(1.0, 1.0));
    assert!(max_abs_diff(t, &want) <= mul_bound(1.0, 1.0));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    /// Random shapes and values, negatives included, up to the documented safe product range
    /// (|x y| <= 2^10: failure probability below 2^-22 per element).
    #[test]
    fn prop_mul_add_matmul(m in 1usize..12, k in 1usize..12, n in 1usize..12, seed in any::<u64>()) {
        let mut r = rng(seed);
        let x = uniform(&mut r, &[m, k], 32.0);
        let y = uniform(&mut r, &[m, k], 32.0);
        let w = uniform(&mut r, &[k, n], 1.0);
        let outs = run_3pc(|p| {
            let sx = p.input_f64(0, own(p.role(), 0, &x), &[m, k])?;
            let sy = p.input_f64(1, own(p.role(), 1, &y), &[m, k])?;
            let sw = p.input_f64(2, own(p.role(), 2, &w), &[k, n])?;
            let prod = p.mul(&sx, &sy)?;
            let sum = sx.add(&sy)?;
            let mm = p.matmul(&sx, &sw)?;
            Ok((p.reveal_f64(&prod)?, p.reveal_f64(&sum)?, p.reveal_f64(&mm)?))
        }).unwrap();
        let xx = x.clone().into_dimensionality::<Ix2>().unwrap();
        let ww = w.clone().into_dimensionality::<Ix2>().unwrap();
        let (prod, sum, mm) = &outs[2];
        prop_assert!(max_abs_diff(prod, &(&x * &y)) <= mul_bound(32.0, 32.0));
        prop_assert!(max_abs_diff(sum, &(&x + &y)) <= 2.0 * ENC);
        prop_assert!(max_abs_diff(mm, &xx.dot(&ww).into_dyn()) <= k as f64 * mul_bound(32.0, 1.0));
    }

    /// Values near the encodable limit survive input, addition of opposite values and reveal.
    #[test]
    fn prop_near_range_limit(frac in 0.5f64..0.999, sign in prop::bool::ANY, seed in any::<u64>()) {
        let limit = mpc_core::FixedPoint::default().max_abs();
        let v = if sign { frac * limit } else { -frac * limit };
        let mut r = rng(seed);
        let small = uniform(&mut r, &[8], 1.0);
        let x = small.mapv(|s| v * (1.0 - 1e-3 * s.abs()));
        let outs = run_3pc(|p| {
            let sx = p.input_f64(0, own(p.role(), 0, &x), &[8])?;
            let neg = sx.neg();
            Ok((p.reveal_f64(&sx)?, p.reveal_f64(&neg)?))
        }).unwrap();
        let (got, neg) = &outs[1];
        prop_assert!(max_abs_diff(got, &x) <= ENC);
        prop_assert!(max_abs_diff(neg, &x.mapv(|a| -a)) <= ENC);
    }
}

#[test]
fn boolean_sharing_and_local_bit_operations() {
    let x =
        ArrayD::from_shape_vec(IxDyn(&[4]), vec![0u64, u64::MAX, 0xDEAD_BEEF, 1 << 63]).unwrap();
    let y = ArrayD::from_shape_vec(IxDyn(&[4]), vec![5u64, 7, 0xFFFF, 3]).unwrap();
    let mask = ArrayD::from_elem(IxDyn(&[]), 0x0F0F_0F0F_0F0F_0F0Fu64);
    let outs = run_3pc(|p| {
        let sx = p.input_bool(0, own(p.role(), 0, &x), &[4])?;
        let sy = p.input_bool(2, own(p.role(), 2, &y), &[4])?;
        let before = p.stats();
        let r = sx
            .xor(&sy)?
            .not(p.role())?
            .and_public(&mask)?
            .shl(3)
            .xor_public(p.role(), &y)?
            .shr(1);
        assert_eq!(p.stats(), before, "XOR, NOT, masks and shifts are local");
        p.reveal_bool(&r)
    })
    .unwrap();
    for (i, o) in outs[1].iter().enumerate() {
        let want = (((!(x[i] ^ y[i]) & 0x0F0F_0F0F_0F0F_0F0F) << 3) ^ y[i]) >> 1;
        assert_eq!(*o, want);
    }
}

/// Small public constants keep their precision (an average's `1/n`), large ones too. Exact
/// truncation: with the probabilistic one, `|x c| = 1.2e5` fails with probability `2^-15` per
/// element (1.5% of runs of this test failed by `2^32`).
#[test]
fn mul_scalar_keeps_precision_of_small_constants() {
    let x = uniform(&mut rng(11), &[500], 1000.0);
    for c in [1e-3, -3.7e-5, 0.5, 123.25] {
        let outs = run_3pc(|p| {
            p.set_trunc_mode(mpc_core::TruncMode::Exact);
            let sx = p.input_f64(0, own(p.role(), 0, &x), &[500])?;
            let y = p.mul_scalar(&sx, c)?;
            p.reveal_f64(&y)
        })
        .unwrap();
        // encoding errors of x (ENC * |c|) and of c (|x| * 2^-(f + extra + 1) <= |x| * |c| * 2^-17),
        // plus one truncation ulp
        let bound = ENC * c.abs() + 1000.0 * c.abs() * ULP / 2.0 + ULP;
        let err = max_abs_diff(&outs[0], &x.mapv(|v| v * c));
        assert!(err <= bound, "c = {c}: error {err} > {bound}");
    }
}
