//! Boolean circuits, conversions, comparisons, ReLU and reductions: correctness against
//! plaintext, edge cases, exact communication costs and typed errors.

#![allow(clippy::unwrap_used)]
mod common;
use common::*;
use mpc_core::{AShare, CommStats, CoreError, Party, Result, run_3pc};
use ndarray::{ArrayD, Axis, IxDyn};
use proptest::prelude::*;

fn ring(v: &[i64]) -> ArrayD<u64> {
    ArrayD::from_shape_vec(IxDyn(&[v.len()]), v.iter().map(|&x| x as u64).collect()).unwrap()
}

/// Shares ring words owned by party 0.
fn share_ring(p: &mut Party, x: &ArrayD<u64>, f: u32) -> Result<AShare> {
    p.input(0, own(p.role(), 0, x), x.shape(), f)
}

#[test]
fn msb_exhaustive_near_zero_and_range_limits() {
    let mut vals: Vec<i64> = (-1000..=1000).collect();
    for base in [
        1i64 << 62,
        -(1i64 << 62),
        i64::MAX,
        i64::MIN,
        1 << 46,
        -(1 << 46),
    ] {
        for d in -300i64..=300 {
            vals.push(base.wrapping_add(d));
        }
    }
    let x = ring(&vals);
    let out = run_3pc(|p| {
        let s = share_ring(p, &x, 0)?;
        let b = p.msb(&s)?;
        let l = p.ltz(&s)?;
        Ok((p.reveal_bool(&b)?, p.reveal(&l)?))
    })
    .unwrap();
    for (i, &v) in vals.iter().enumerate() {
        let want = u64::from(v < 0);
        assert_eq!(out[0].0[i], want, "msb of {v}");
        assert_eq!(out[1].1[i], want, "ltz of {v}");
    }
}

#[test]
fn and_a2b_b2a_mul_bit() {
    let mut r = rng(7);
    let n = 200;
    let words: Vec<i64> = (0..2 * n)
        .map(|_| rand::RngExt::random::<i64>(&mut r))
        .collect();
    let x = ring(&words[..n]);
    let y = ring(&words[n..]);
    let vals = uniform(&mut r, &[n], 1000.0);
    let out = run_3pc(|p| {
        let bx = p.input_bool(0, own(p.role(), 0, &x), &[n])?;
        let by = p.input_bool(1, own(p.role(), 1, &y), &[n])?;
        let z = p.and(&bx, &by)?;
        let and = p.reveal_bool(&z)?;
        let ax = share_ring(p, &x, 0)?;
        let z = p.a2b(&ax)?;
        let a2b = p.reveal_bool(&z)?;
        let z = p.b2a_bit(&bx)?;
        let inj = p.reveal(&z)?;
        let sv = p.input_f64(2, own(p.role(), 2, &vals), &[n])?;
        let z = p.mul_bit(&bx, &sv)?;
        let prod = p.reveal_f64(&z)?;
        Ok((and, a2b, inj, prod))
    })
    .unwrap();
    let (and, a2b, inj, prod) = &out[2];
    for i in 0..n {
        assert_eq!(and[i], x[i] & y[i]);
        assert_eq!(a2b[i], x[i]);
        assert_eq!(inj[i], x[i] & 1);
        let want = if x[i] & 1 == 1 { vals[i] } else { 0.0 };
        assert!((prod[i] - want).abs() <= ULP, "{} vs {want}", prod[i]);
    }
}

fn check_activations(vals: &ArrayD<f64>) {
    let shape = vals.shape().to_vec();
    let out = run_3pc(|p| {
        let s = p.input_f64(0, own(p.role(), 0, vals), &shape)?;
        let relu = p.relu(&s)?;
        let drelu = p.drelu(&s)?;
        let (r2, d2) = p.relu_with_drelu(&s)?;
        let abs = p.abs(&s)?;
        let sign = p.sign(&s)?;
        let ltz = p.ltz(&s)?;
        Ok([
            p.reveal_f64(&relu)?,
            p.reveal_f64(&drelu)?,
            p.reveal_f64(&r2)?,
            p.reveal_f64(&d2)?,
            p.reveal_f64(&abs)?,
            p.reveal_f64(&sign)?,
            p.reveal_f64(&ltz)?,
        ])
    })
    .unwrap();
    let o = &out[1];
    for (i, &v) in vals.iter().enumerate() {
        // encoding rounds to the nearest ulp; the protocols are exact on the encoded value
        let enc = (v * 65536.0).round() / 65536.0;
        let pos = enc >= 0.0;
        assert_eq!(o[0].as_slice().unwrap()[i], enc.max(0.0), "relu {v}");
        assert_eq!(
            o[1].as_slice().unwrap()[i],
            f64::from(u8::from(pos)),
            "drelu {v}"
        );
        assert_eq!(o[2].as_slice().unwrap()[i], enc.max(0.0));
        assert_eq!(o[3].as_slice().unwrap()[i], f64::from(u8::from(pos)));
        assert_eq!(o[4].as_slice().unwrap()[i], enc.abs(), "abs {v}");
        assert_eq!(o[5].as_slice().unwrap()[i], if pos { 1.0 } else { -1.0 });
        assert_eq!(o[6].as_slice().unwrap()[i], f64::from(u8::from(!pos)));
    }
}

/// Every vector build of the injection's loops (they follow the GEMM kernel) gives the same,
/// exact results: ReLU, its derivative, sign and friends on 2,500 values (two full chunks of
/// 1,024 words and a partial one that ends inside a 64-bit word) and bit times value.
#[test]
fn every_kernel_build_of_the_injection_is_exact() {
    use mpc_core::gemm::{GemmKernel, force_kernel};
    let mut r = rng(11);
    let vals = uniform(&mut r, &[2500], 1000.0);
    for k in GemmKernel::supported() {
        force_kernel(Some(k)).unwrap();
        check_activations(&vals);
        check_activations(&vals.slice(ndarray::s![..70]).to_owned().into_dyn());
    }
    force_kernel(None).unwrap();
}

#[test]
fn activations_edge_cases() {
    let big = mpc_core::FixedPoint::default().max_abs() * (1.0 - 1e-12);
    let v = vec![
        0.0,
        ULP,
        -ULP,
        2.0 * ULP,
        -2.0 * ULP,
        1.0,
        -1.0,
        big,
        -big,
        1e9,
        -1e9,
    ];
    check_activations(&ArrayD::from_shape_vec(IxDyn(&[v.len()]), v).unwrap());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    #[test]
    fn activations_match_f64(seed in any::<u64>(), n in 1usize..150, scale in 0.001f64..1e6) {
        check_activations(&uniform(&mut rng(seed), &[n], scale));
    }

    /// ReLU and its derivative on arbitrary ring words, exactly, at lengths that reach every
    /// path of the fused kernels: the eight-block bit slicing and its one-block tail, odd plane
    /// lengths, AND layers whose keystream chunks (2,048 words) end inside a gate's planes,
    /// and injections past one keystream chunk (1,024 elements).
    #[test]
    fn relu_and_drelu_exact_at_every_kernel_path(seed in any::<u64>(), n in 1usize..5000) {
        use rand::RngExt;
        let mut r = rng(seed);
        let vals: Vec<i64> = (0..n).map(|_| r.random::<i64>()).collect();
        let x = ring(&vals);
        let out = run_3pc(|p| {
            let s = share_ring(p, &x, 0)?;
            let (y, d) = p.relu_with_drelu(&s)?;
            let plain = p.relu(&s)?;
            Ok((p.reveal(&plain)?, p.reveal(&y)?, p.reveal(&d)?))
        })
        .unwrap();
        for (i, &v) in vals.iter().enumerate() {
            let (relu, drelu) = (if v < 0 { 0 } else { v as u64 }, u64::from(v >= 0));
            prop_assert_eq!(out[0].0[i], relu, "relu of {}", v);
            prop_assert_eq!(out[1].1[i], relu, "relu_with_drelu of {}", v);
            prop_assert_eq!(out[2].2[i], drelu, "drelu of {}", v);
        }
    }

    #[test]
    fn comparisons_match_f64(seed in any::<u64>(), n in 1usize..100) {
        let mut r = rng(seed);
        let x = uniform(&mut r, &[n], 50.0);
        let mut y = uniform(&mut r, &[n], 50.0);
        // force some ties and near-ties
        for i in (0..n).step_by(3) { y[i] = x[i]; }
        for i in (1..n).step_by(5) { y[i] = x[i] + ULP; }
        let c = 3.25;
        let out = run_3pc(|p| {
            let sx = p.input_f64(0, own(p.role(), 0, &x), &[n])?;
            let sy = p.input_f64(1, own(p.role(), 1, &y), &[n])?;
            let lt = p.lt(&sx, &sy)?;
            let sel = p.select(&lt, &sx, &sy)?;
            let ops = [
                lt, p.le(&sx, &sy)?, p.gt(&sx, &sy)?, p.ge(&sx, &sy)?, p.eq(&sx, &sy)?,
                p.lt_public(&sx, c)?, p.le_public(&sx, c)?, p.gt_public(&sx, c)?,
                p.ge_public(&sx, c)?, p.eq_public(&sx, c)?, sel,
            ];
            ops.iter().map(|o| p.reveal_f64(o)).collect::<Result<Vec<_>>>()
        }).unwrap();
        let o = &out[0];
        let enc = |v: f64| (v * 65536.0).round() as i64;
        for i in 0..n {
            let (a, b, k) = (enc(x[i]), enc(y[i]), enc(c));
            let want = [a < b, a <= b, a > b, a >= b, a == b, a < k, a <= k, a > k, a >= k, a == k];
            for (j, w) in want.iter().enumerate() {
                prop_assert_eq!(o[j][i], f64::from(u8::from(*w)), "op {} at {}", j, i);
            }
            prop_assert_eq!(o[10][i], (a.min(b)) as f64 / 65536.0);
        }
    }

    /// Max and one-hot argmax of lines of every length 1..12 (the one-hot built top down from
    /// the comparison bits), with many ties (values drawn from a few levels): the maximum and
    /// the lowest index holding it.
    #[test]
    fn max_argmax_match_f64(seed in any::<u64>(), rows in 1usize..70, len in 1usize..12) {
        let levels = uniform(&mut rng(seed), &[rows, len], 3.0).mapv(|v| v.round() * 0.75);
        let out = run_3pc(|p| {
            let s = p.input_f64(2, own(p.role(), 2, &levels), &[rows, len])?;
            let (m, a) = p.max_argmax_axis(&s, 1)?;
            Ok((p.reveal_f64(&m)?, p.reveal(&a)?))
        }).unwrap();
        let (m, a) = &out[1];
        for r in 0..rows {
            let line: Vec<f64> = (0..len).map(|j| levels[[r, j]]).collect();
            let best = line.iter().cloned().fold(f64::MIN, f64::max);
            prop_assert_eq!(m[[r]], best);
            let first = line.iter().position(|&v| v == best).unwrap();
            for j in 0..len {
                prop_assert_eq!(a[[r, j]], u64::from(j == first), "row {} col {}", r, j);
            }
        }
    }
}

#[test]
fn eq_public_hits_exact_value() {
    let x = ArrayD::from_shape_vec(IxDyn(&[4]), vec![3.25, 3.25 + ULP, -3.25, 0.0]).unwrap();
    let out = run_3pc(|p| {
        let s = p.input_f64(0, own(p.role(), 0, &x), &[4])?;
        let e = p.eq_public(&s, 3.25)?;
        p.reveal(&e)
    })
    .unwrap();
    assert_eq!(out[0].as_slice().unwrap(), &[1, 0, 0, 0]);
}

#[test]
fn max_argmax_along_axes_with_ties() {
    let mut x = uniform(&mut rng(3), &[3, 7, 5], 10.0);
    // ties: equal entries along axis 1 for one column
    for j in 0..7 {
        x[[1, j, 2]] = 4.0;
    }
    for axis in 0..3 {
        let out = run_3pc(|p| {
            let s = p.input_f64(0, own(p.role(), 0, &x), &[3, 7, 5])?;
            let (m, a) = p.max_argmax_axis(&s, axis)?;
            let m2 = p.max_axis(&s, axis)?;
            let a2 = p.argmax_axis(&s, axis)?;
            Ok((
                p.reveal_f64(&m)?,
                p.reveal(&a)?,
                p.reveal_f64(&m2)?,
                p.reveal(&a2)?,
            ))
        })
        .unwrap();
        let (m, a, m2, a2) = &out[0];
        assert_eq!(m, m2);
        assert_eq!(a, a2);
        let enc = x.mapv(|v| (v * 65536.0).round() / 65536.0);
        let lanes = enc.lanes(Axis(axis)).into_iter().zip(m.iter());
        for ((ml, mv), al) in lanes.zip(a.lanes(Axis(axis))) {
            let best = ml.iter().cloned().fold(f64::MIN, f64::max);
            assert_eq!(*mv, best);
            let first = ml.iter().position(|&v| v == best).unwrap();
            let want: Vec<u64> = (0..ml.len()).map(|i| u64::from(i == first)).collect();
            assert_eq!(al.to_vec(), want, "axis {axis}");
        }
    }
}

#[test]
fn maxpool_forward_and_backward() {
    let (n, c, h, w) = (2, 3, 7, 6);
    for (k, st) in [(2usize, 2usize), (3, 2), (3, 1)] {
        let x = uniform(&mut rng(k as u64 * 10 + st as u64), &[n, c, h, w], 5.0);
        let (ho, wo) = ((h - k) / st + 1, (w - k) / st + 1);
        let g = uniform(&mut rng(99), &[n, c, ho, wo], 2.0);
        let out = run_3pc(|p| {
            let s = p.input_f64(0, own(p.role(), 0, &x), x.shape())?;
            let sg = p.input_f64(1, own(p.role(), 1, &g), g.shape())?;
            let (pooled, mask) = p.maxpool2d(&s, k, st)?;
            let back = p.maxpool2d_backward(&sg, &mask, x.shape(), k, st)?;
            Ok((
                p.reveal_f64(&pooled)?,
                p.reveal(&mask)?,
                p.reveal_f64(&back)?,
            ))
        })
        .unwrap();
        let (pooled, mask, back) = &out[2];
        assert_eq!(pooled.shape(), &[n, c, ho, wo]);
        assert_eq!(mask.shape(), &[n, c, ho, wo, k * k]);
        let enc = x.mapv(|v| (v * 65536.0).round() / 65536.0);
        let mut want_back = ArrayD::<f64>::zeros(IxDyn(&[n, c, h, w]));
        for a in 0..n {
            for b in 0..c {
                for i in 0..ho {
                    for j in 0..wo {
                        let mut best = (f64::MIN, 0);
                        for u in 0..k {
                            for v in 0..k {
                                let val = enc[[a, b, i * st + u, j * st + v]];
                                if val > best.0 {
                                    best = (val, u * k + v);
                                }
                            }
                        }
                        assert_eq!(pooled[[a, b, i, j]], best.0);
                        for t in 0..k * k {
                            assert_eq!(mask[[a, b, i, j, t]], u64::from(t == best.1));
                        }
                        let (u, v) = (best.1 / k, best.1 % k);
                        want_back[[a, b, i * st + u, j * st + v]] += g[[a, b, i, j]];
                    }
                }
            }
        }
        assert!(max_abs_diff(back, &want_back) <= 4.0 * ULP);
    }
}

/// Each party's bytes and the rounds of `op` on fresh random operands of `n` elements.
fn cost(n: usize, op: impl Fn(&mut Party, &AShare) -> Result<()> + Sync) -> ([u64; 3], u64) {
    let snaps = run_3pc(|p| {
        let x = p.random_share(&[n], 16)?;
        let before = p.stats();
        op(p, &x)?;
        Ok((before, p.stats()))
    })
    .unwrap();
    let d: [CommStats; 3] = std::array::from_fn(|i| snaps[i].1.since(&snaps[i].0));
    let rb = snaps.iter().map(|s| s.0.rounds).max().unwrap();
    let ra = snaps.iter().map(|s| s.1.rounds).max().unwrap();
    (std::array::from_fn(|i| d[i].bytes_sent), ra - rb)
}

#[test]
fn exact_costs_match_the_documented_formulas() {
    let n = 256usize;
    // bits per element per party -> bytes for n elements
    let b = |bits: [u64; 3]| bits.map(|v| v * n as u64 / 8);
    let to_b = |_: &mut Party, x: &AShare| {
        let (s0, s1) = x.components();
        mpc_core::BShare::from_components(s0.clone(), s1.clone())
    };
    assert_eq!(cost(n, |p, x| p.msb(x).map(drop)), (b([182, 181, 181]), 8));
    assert_eq!(
        cost(n, |p, x| {
            let bx = to_b(p, x)?;
            p.and(&bx, &bx).map(drop)
        }),
        (b([64, 64, 64]), 1)
    );
    assert_eq!(
        cost(n, |p, x| {
            let bx = to_b(p, x)?;
            p.b2a_bit(&bx).map(drop)
        }),
        (b([64, 64, 64]), 2)
    );
    assert_eq!(
        cost(n, |p, x| {
            let bx = to_b(p, x)?;
            p.mul_bit(&bx, x).map(drop)
        }),
        (b([128, 64, 64]), 2)
    );
    assert_eq!(cost(n, |p, x| p.a2b(x).map(drop)), (b([768, 768, 768]), 8));
    assert_eq!(cost(n, |p, x| p.ltz(x).map(drop)), (b([246, 245, 245]), 9));
    assert_eq!(
        cost(n, |p, x| p.drelu(x).map(drop)),
        (b([246, 245, 245]), 9)
    );
    // ReLU: within the budget of 10 rounds (9 measured) and 480 bits per party per element
    assert_eq!(cost(n, |p, x| p.relu(x).map(drop)), (b([310, 245, 245]), 9));
    assert_eq!(
        cost(n, |p, x| p.relu_with_drelu(x).map(drop)),
        (b([310, 309, 309]), 9)
    );
    // equality: 64 bits of party 0's summand, a 63-gate AND tree and one bit injection
    assert_eq!(
        cost(n, |p, x| p.eq(x, x).map(drop)),
        (b([191, 127, 127]), 8)
    );
    assert_eq!(
        cost(n, |p, x| p.eq_public(x, 1.5).map(drop)),
        (b([191, 127, 127]), 8)
    );
}

#[test]
fn bad_shapes_are_typed_errors() {
    let out = run_3pc(|p| {
        let x = p.random_share(&[2, 3], 16)?;
        let y = p.random_share(&[3, 2], 16)?;
        let (s0, s1) = y.components();
        let by = mpc_core::BShare::from_components(s0.clone(), s1.clone())?;
        let i = x.clone().with_frac_bits(0);
        Ok(vec![
            p.mul_bit(&by, &x).unwrap_err(),
            p.and(
                &by,
                &mpc_core::BShare::from_components(
                    x.components().0.clone(),
                    x.components().1.clone(),
                )?,
            )
            .unwrap_err(),
            p.lt(&x, &y).unwrap_err(),
            p.max_axis(&x, 2).unwrap_err(),
            p.argmax_axis(&x.slice_axis(1, 0, 0)?, 1).unwrap_err(),
            p.maxpool2d(&x, 2, 2).unwrap_err(),
            p.maxpool2d(&x.reshape(&[1, 1, 2, 3])?, 3, 1).unwrap_err(),
            p.select(&x, &i, &i).unwrap_err(),
            p.lt_public(&x, f64::NAN).unwrap_err(),
        ])
    })
    .unwrap();
    let e = &out[0];
    assert!(matches!(
        e[0],
        CoreError::ShapeMismatch { op: "mul_bit", .. }
    ));
    assert!(matches!(e[1], CoreError::ShapeMismatch { op: "and", .. }));
    assert!(matches!(e[2], CoreError::ShapeMismatch { op: "sub", .. }));
    assert!(matches!(
        e[3],
        CoreError::InvalidShape { op: "max_axis", .. }
    ));
    assert!(matches!(
        e[4],
        CoreError::InvalidShape {
            op: "argmax_axis",
            ..
        }
    ));
    assert!(matches!(
        e[5],
        CoreError::InvalidShape {
            op: "maxpool2d",
            ..
        }
    ));
    assert!(matches!(
        e[6],
        CoreError::InvalidShape {
            op: "maxpool2d",
            ..
        }
    ));
    assert!(matches!(e[7], CoreError::ScaleMismatch { .. }));
    assert!(matches!(e[8], CoreError::OutOfRange { .. }));
}

#[test]
fn tournament_costs() {
    let m = |l: usize, arg: bool| {
        let snaps = run_3pc(|p| {
            let x = p.random_share(&[64, l], 16)?;
            let before = p.stats();
            if arg {
                p.argmax_axis(&x, 1)?;
            } else {
                p.max_axis(&x, 1)?;
            }
            Ok((before, p.stats()))
        })
        .unwrap();
        let bytes: Vec<u64> = snaps.iter().map(|s| s.1.since(&s.0).bytes_sent).collect();
        let rb = snaps.iter().map(|s| s.0.rounds).max().unwrap();
        let ra = snaps.iter().map(|s| s.1.rounds).max().unwrap();
        (bytes, ra - rb)
    };
    for l in [2usize, 3, 4, 8, 9] {
        // per level: `pairs` comparisons of 64 rows, group width g
        let (mut cur, mut levels) = (l, 0u64);
        let (mut max_bits, mut arg_bits) = ([0u64; 3], [0u64; 3]);
        while cur > 1 {
            let pairs = (cur / 2) as u64;
            // msb, the winner's bit-times-value product, and (argmax) the bit itself, which
            // costs parties 1 and 2 one more word in the same injection
            for (i, (msb, per, bit)) in [(182, 128, 0), (181, 64, 64), (181, 64, 64)]
                .into_iter()
                .enumerate()
            {
                max_bits[i] += pairs * (msb + per);
                arg_bits[i] += pairs * (msb + per + bit);
            }
            cur = cur.div_ceil(2);
            levels += 1;
        }
        // the one-hot top down: one integer product per comparison below the top one
        arg_bits.iter_mut().for_each(|b| *b += 64 * (l as u64 - 2));
        let rounds = 8 * levels + 1;
        assert_eq!(
            m(l, false),
            (max_bits.map(|b| b * 64 / 8).to_vec(), rounds),
            "max L={l}"
        );
        assert_eq!(
            m(l, true),
            (arg_bits.map(|b| b * 64 / 8).to_vec(), rounds + levels - 1),
            "argmax L={l}"
        );
    }
}

/// Empty tensors go through every comparison-based protocol without communication or panic.
#[test]
fn empty_tensors_are_fine() {
    let outs = run_3pc(|p| {
        let x = p.random_share(&[0, 3], 16)?;
        let before = p.stats();
        let a = p.ltz(&x)?;
        let b = p.relu(&x)?;
        let c = p.msb(&x)?;
        let d = p.drelu(&x)?;
        assert_eq!(p.stats().bytes_sent, before.bytes_sent);
        Ok((
            a.shape().to_vec(),
            b.shape().to_vec(),
            c.shape().to_vec(),
            d.shape().to_vec(),
        ))
    })
    .unwrap();
    for o in outs {
        assert_eq!(o, (vec![0, 3], vec![0, 3], vec![0, 3], vec![0, 3]));
    }
}

/// `eq` and `eq_public` are exact for every pair of encodable values, including differences of
/// exactly `2^63` ring units (where `x - y` and `y - x` are the same ring element) and pairs at
/// the ends of the encodable range. Values are given as ring words at 16 fractional bits (f64
/// cannot hold every encodable value near the limits).
#[test]
fn eq_is_exact_for_every_encodable_pair() {
    let max = i64::MAX; // the largest encodable ring value; -max the smallest
    let e13 = (1e13 * 65536.0) as i64;
    let mut pairs: Vec<(i64, i64)> = vec![
        (e13, e13.wrapping_sub(i64::MIN)), // 1e13 and 1e13 - 2^47: 2^63 ring units apart
        (1 << 62, -(1 << 62)),             // 2^46 and -2^46
        (-(1 << 62), 1 << 62),
        (0, max),
        (max, -max),
        (max, max),
        (-max, -max),
        (max, max - 1),
        (-max, -max + 1),
        (0, 0),
        (1, 0),
        (-1, 0),
        ((1 << 62) + 1, -(1 << 62)),
        (1 << 62, -(1 << 62) + 1),
    ];
    let mut r = rng(31);
    for _ in 0..100 {
        let (a, b) = (
            rand::RngExt::random_range(&mut r, -max..=max),
            rand::RngExt::random_range(&mut r, -max..=max),
        );
        pairs.push((a, b));
        pairs.push((a, a));
        // the partner 2^63 ring units away, when it is encodable
        let far = a.wrapping_sub(i64::MIN);
        if far != i64::MIN && (far < 0) != (a < 0) {
            pairs.push((a, far));
        }
    }
    let n = pairs.len();
    let x = ring(&pairs.iter().map(|p| p.0).collect::<Vec<_>>());
    let y = ring(&pairs.iter().map(|p| p.1).collect::<Vec<_>>());
    let c = 2f64.powi(46); // a public constant 2^63 ring units away from -2^46
    let out = run_3pc(|p| {
        let sx = p.input(0, own(p.role(), 0, &x), &[n], 16)?;
        let sy = p.input(1, own(p.role(), 1, &y), &[n], 16)?;
        let e = p.eq(&sx, &sy)?;
        let ep = p.eq_public(&sy, c)?;
        Ok((p.reveal(&e)?, p.reveal(&ep)?))
    })
    .unwrap();
    for (i, &(a, b)) in pairs.iter().enumerate() {
        assert_eq!(out[0].0[i], u64::from(a == b), "eq({a}, {b}) in ring units");
        assert_eq!(out[0].1[i], u64::from(b == 1 << 62), "eq_public({b}, 2^46)");
    }
}
