//! Every layer's forward and backward on shares against its plaintext twin (same weights, same
//! input, same upstream gradient), the plaintext backward against finite differences, and the
//! standardiser, losses and optimizers likewise.
#![allow(clippy::unwrap_used)]

mod common;
use common::max_diff;

use mpc_core::Party;
use mpc_nn::init::Initializer;
use mpc_nn::layers::*;
use mpc_nn::{InitScheme, Module, Plain, Result};
use ndarray::ArrayD;

/// A layer on engine `B`, built from `seed`.
type Make<B> = fn(&mut B, &mut Initializer) -> Result<Box<dyn Module<B>>>;

/// What one engine computed: output, input gradient, parameter gradients.
type Run = (ArrayD<f64>, ArrayD<f64>, Vec<ArrayD<f64>>);

fn run_plain(make: Make<Plain>, x: &ArrayD<f64>, g: &ArrayD<f64>) -> Run {
    let mut b = Plain::new();
    let mut layer = make(&mut b, &mut Initializer::new(5)).unwrap();
    let y = layer.forward(&mut b, x).unwrap();
    let dx = layer.backward(&mut b, g).unwrap();
    let grads = layer
        .params()
        .iter()
        .map(|p| p.grad.clone().unwrap())
        .collect();
    (y, dx, grads)
}

fn run_secure(make: Make<Party>, x: &ArrayD<f64>, g: &ArrayD<f64>) -> Run {
    let outs = mpc_nn::run_3pc(|p| {
        mpc_nn::secure_session(p);
        let mut layer = make(p, &mut Initializer::new(5))?;
        let sx = p.input_f64(0, (p.role() == 0).then_some(x), x.shape())?;
        let sg = p.input_f64(1, (p.role() == 1).then_some(g), g.shape())?;
        let y = layer.forward(p, &sx)?;
        let dx = layer.backward(p, &sg)?;
        let mut grads = Vec::new();
        for q in layer.params() {
            let gr = q
                .grad
                .clone()
                .ok_or_else(|| mpc_nn::NnError::Config("no grad".into()))?;
            grads.push(p.reveal_f64(&gr)?);
        }
        Ok((p.reveal_f64(&y)?, p.reveal_f64(&dx)?, grads))
    })
    .unwrap();
    outs[0].clone()
}

fn data(shape: &[usize], seed: u64, scale: f64) -> ArrayD<f64> {
    Initializer::new(seed).uniform(shape, scale)
}

/// Secure and plaintext agree within `tol` on the output, the input gradient and every
/// parameter gradient.
fn check_twins(make_p: Make<Plain>, make_s: Make<Party>, xshape: &[usize], tol: f64) {
    let x = data(xshape, 1, 1.0);
    let mut b = Plain::new();
    let mut layer = make_p(&mut b, &mut Initializer::new(5)).unwrap();
    let yshape = layer.forward(&mut b, &x).unwrap().shape().to_vec();
    let g = data(&yshape, 2, 1.0);
    let (py, pdx, pgr) = run_plain(make_p, &x, &g);
    let (sy, sdx, sgr) = run_secure(make_s, &x, &g);
    let name = layer.describe();
    assert!(
        max_diff(&py, &sy) <= tol,
        "{name}: forward differs by {}",
        max_diff(&py, &sy)
    );
    assert!(
        max_diff(&pdx, &sdx) <= tol,
        "{name}: input gradient differs by {}",
        max_diff(&pdx, &sdx)
    );
    for (a, b) in pgr.iter().zip(&sgr) {
        assert!(
            max_diff(a, b) <= tol,
            "{name}: parameter gradient differs by {}",
            max_diff(a, b)
        );
    }
}

#[test]
fn linear_twins() {
    check_twins(
        |b, i| Ok(Box::new(linear(b, 7, 5, InitScheme::Kaiming, i)?)),
        |b, i| Ok(Box::new(linear(b, 7, 5, InitScheme::Kaiming, i)?)),
        &[6, 7],
        1e-3,
    );
}

/// The standardiser on breast-cancer-like columns (variances from 5e-5 to 1e5): secure against
/// the twin, which runs the same formulas, and against the exact statistics.
#[test]
fn standardizer_twins_on_wide_ranges() {
    let ds = mpc_nn::data::breast_cancer().unwrap();
    let x = ds.features.clone().into_dyn();
    let mut b = Plain::new();
    let st = mpc_nn::share::Standardizer::fit(&mut b, &x).unwrap();
    let plain = st.transform(&mut b, &x).unwrap();
    let exact = mpc_nn::data::Standardizer::fit(&ds.features)
        .transform(&ds.features)
        .unwrap()
        .into_dyn();
    assert!(max_diff(&plain, &exact) < 1e-9);
    let outs = mpc_nn::run_3pc(|p| {
        mpc_nn::secure_session(p);
        let sx = p.input_f64(0, (p.role() == 0).then_some(&x), x.shape())?;
        let st = mpc_nn::share::Standardizer::fit(p, &sx)?;
        let z = st.transform(p, &sx)?;
        let inv = st.inv_std(p)?;
        Ok((p.reveal_f64(&z)?, p.reveal_f64(&inv)?))
    })
    .unwrap();
    let (secure, inv) = &outs[0];
    let want_inv = mpc_nn::data::Standardizer::fit(&ds.features)
        .std
        .mapv(|s| 1.0 / s);
    for (j, (a, w)) in inv.iter().zip(want_inv.iter()).enumerate() {
        assert!((a - w).abs() <= 0.02 * w, "column {j}: 1/std {a} vs {w}");
    }
    // standardised values carry the relative error of 1/std (outliers reach |z| = 12) and the
    // deviation's: the input's and the mean's rounding, about an ulp each, which is 2 ulp / std
    // in z (0.011 for the smallest column, std 0.0027 at 16 bits; a flat 0.01 failed 1 run in
    // 300), and the products' own rounding, a few ulp of z
    let ulp = 2f64.powi(-16);
    let zs = secure.view().into_dimensionality::<ndarray::Ix2>().unwrap();
    let ze = exact.view().into_dimensionality::<ndarray::Ix2>().unwrap();
    for ((i, j), a) in zs.indexed_iter() {
        let w = ze[[i, j]];
        let bound = 0.02 * w.abs() + 3.0 * ulp * want_inv[j] + 4.0 * ulp;
        assert!(
            (a - w).abs() <= bound,
            "row {i} column {j}: standardised {a} vs {w}"
        );
    }
}

/// A column the standardiser cannot handle gives a typed error at every party instead of
/// garbage statistics: a standard deviation of `5e-7` at 24 bits (`1 / std` above
/// `2^(62 - 2f)`, which `reveal_to` could not open), a mean above `2^(61 - 2f)`, a value 420
/// mean absolute deviations out at 24 bits (above `2^(31 - f)`). Inside the range `1 / std` is
/// within 1%: spreads from 65 ulp to 2000, the breast-cancer area columns' 569 at 20 and 24
/// bits (which failed before the deviations were normalised), an outlier 36 deviations out,
/// large means with small spreads (which a one-pass mean centres badly), spreads of about
/// `2^f / 4` at 8 and 16 bits (`r = 1 / a` at 4 or 5 ulp). A constant column is accepted.
/// Above a mean absolute deviation of `2^f` (up to `2^18` and beyond), `r` is below one ulp
/// and rounds to 0 (the column standardises to 0 but is not constant: refused) or up to one
/// ulp (its error cancels, but `w` is then only a few ulp), at random: either is fine as long
/// as the self-check holds (mean squares within 25% of 1, so `1 / std` within `sqrt(0.75)` to
/// `sqrt(1.25)` of right: -13.4% to +11.8%).
#[test]
fn standardizer_refuses_columns_outside_its_range() {
    let n = 455;
    let column_at = |mean: f64, std: f64, outlier: Option<f64>| {
        let mut v: Vec<f64> = (0..n)
            .map(|i| mean + std * 3.46 * (((i * 7919) % 1000) as f64 / 1000.0 - 0.5))
            .collect();
        if let Some(o) = outlier {
            v[0] = o;
        }
        ArrayD::from_shape_vec(vec![n, 1], v).unwrap()
    };
    let fit = |x: &ArrayD<f64>, f: u32| {
        let cfg = mpc_core::HarnessConfig {
            fixed: mpc_core::FixedPoint::new(f).unwrap(),
            ..Default::default()
        };
        mpc_nn::run_3pc_with(&cfg, |p| {
            mpc_nn::secure_session(p);
            let sx = p.input_f64(0, (p.role() == 0).then_some(x), x.shape())?;
            Ok(match mpc_nn::share::Standardizer::fit(p, &sx) {
                Ok(st) => Ok(st.reveal_to(p, 0)?.map(|(_, inv)| inv)),
                Err(e) => Err(e.to_string()),
            })
        })
        .unwrap()
    };
    let column = |std: f64, outlier: Option<f64>| column_at(880.0, std, outlier);
    for (x, f) in [
        (column(5e-7, None), 24),                // 1 / std above 2^(62 - 2f)
        (column_at(5e4, 30.0, None), 24),        // mean above 8192
        (column(1.0, Some(880.0 + 5000.0)), 24), // 420 deviations out, above 128
    ] {
        for out in fit(&x, f) {
            let e = match out {
                Err(e) => e,
                Ok(inv) => panic!(
                    "f={f} {:?}...: accepted, 1/std {inv:?}",
                    &x.as_slice().unwrap()[..3]
                ),
            };
            assert!(e.contains("standardisation failed"), "{e}");
        }
    }
    for (x, f) in [
        (column(569.0, Some(20_000.0)), 20),
        (column(2000.0, None), 20), // 1 / std is 524 ulp
        (column(0.01, None), 16),
        (column(1e-3, None), 16), // 65 ulp
        (column(569.0, None), 20),
        (column(569.0, None), 24),
        (column(400.0, None), 16),
        (column(30.0, None), 20),
        (column(1.0, Some(880.0 + 50.0)), 24),
        (column_at(1e4, 0.1, None), 16), // a one-pass mean is up to 0.08 off here
        (column_at(-2e5, 1e-3, None), 16),
        (column(2e4, None), 16), // r = 1 / a is 3.8 ulp, 1 / std 56 ulp of 2^-(16 + 8)
        (column(60.0, None), 8),
    ] {
        let std = mpc_nn::data::Standardizer::fit(&x.clone().into_dimensionality().unwrap()).std[0];
        for out in fit(&x, f) {
            let inv = out.unwrap_or_else(|e| panic!("f={f} std {std}: {e}"));
            let Some(inv) = inv.map(|a| a[[0, 0]]) else {
                continue;
            }; // revealed to party 0 only
            assert!(
                (inv * std - 1.0).abs() < 0.01,
                "f={f}: 1/std {inv} vs {}",
                1.0 / std
            );
        }
    }
    // r below one ulp: refused, or within the self-check's tolerance
    for (x, f) in [
        (column(3e5, None), 16),
        (column(1e4, None), 8),
        (column(1e6, None), 16), // mean absolute deviation 8.6e5 > 2^18, the reciprocal's range
    ] {
        let std = mpc_nn::data::Standardizer::fit(&x.clone().into_dimensionality().unwrap()).std[0];
        for _ in 0..4 {
            for out in fit(&x, f) {
                match out {
                    Err(e) => assert!(e.contains("standardisation failed"), "{e}"),
                    Ok(Some(inv)) => assert!(
                        (0.866..=1.119).contains(&(inv[[0, 0]] * std)),
                        "f={f} std {std}: accepted, 1/std {inv}"
                    ),
                    Ok(None) => {}
                }
            }
        }
    }
    let constant = ArrayD::from_elem(vec![n, 1], 5.0);
    assert!(fit(&constant, 16).iter().all(|r| r.is_ok()));
}

#[test]
fn conv2d_twins_with_stride_and_padding() {
    check_twins(
        |b, i| Ok(Box::new(conv2d(b, 2, 3, 3, 2, 1, InitScheme::Kaiming, i)?)),
        |b, i| Ok(Box::new(conv2d(b, 2, 3, 3, 2, 1, InitScheme::Kaiming, i)?)),
        &[2, 2, 7, 6],
        2e-3,
    );
    check_twins(
        |b, i| Ok(Box::new(conv2d(b, 1, 4, 5, 1, 0, InitScheme::Xavier, i)?)),
        |b, i| Ok(Box::new(conv2d(b, 1, 4, 5, 1, 0, InitScheme::Xavier, i)?)),
        &[3, 1, 9, 9],
        2e-3,
    );
}

/// Conv2d's input gradient applies col2im to the local products, so the backward sends exactly
/// what the weight-gradient product and one truncated product **of the input's size** send (not
/// of the 9x larger patch matrix).
#[test]
fn conv2d_backward_reshares_and_truncates_at_the_image_size() {
    let (n, c, hw, co, k) = (2usize, 2usize, 6usize, 3usize, 3usize);
    let x = data(&[n, c, hw, hw], 1, 1.0);
    let g = data(&[n, co, hw - k + 1, hw - k + 1], 2, 1.0);
    let costs = mpc_nn::run_3pc(|p| {
        mpc_nn::secure_session(p);
        let mut layer = conv2d(
            p,
            c,
            co,
            k,
            1,
            0,
            InitScheme::Kaiming,
            &mut Initializer::new(5),
        )?;
        let sx = p.input_f64(0, (p.role() == 0).then_some(&x), x.shape())?;
        let sg = p.input_f64(1, (p.role() == 1).then_some(&g), g.shape())?;
        layer.forward(p, &sx)?;
        let before = p.stats();
        layer.backward(p, &sg)?;
        let backward = p.stats().since(&before).bytes_sent;
        // the same messages one by one: the weight gradient (c k k x co) and a truncated
        // product with as many elements as x
        let zeros = |p: &mut Party, shape: &[usize]| {
            let z = ArrayD::zeros(shape.to_vec());
            p.input_f64(0, (p.role() == 0).then_some(&z), shape)
        };
        let (ct, gm) = (zeros(p, &[c * k * k, 4])?, zeros(p, &[4, co])?);
        let (col, one) = (zeros(p, &[n * c * hw * hw, 1])?, zeros(p, &[1, 1])?);
        let before = p.stats();
        p.matmul(&ct, &gm)?;
        p.matmul(&col, &one)?;
        Ok((backward, p.stats().since(&before).bytes_sent))
    })
    .unwrap();
    for (i, (backward, parts)) in costs.iter().enumerate() {
        assert_eq!(backward, parts, "party {i}: backward bytes");
    }
}

#[test]
fn activation_twins() {
    check_twins(
        |_, _| Ok(Box::new(relu())),
        |_, _| Ok(Box::new(relu())),
        &[5, 9],
        1e-4,
    );
    check_twins(
        |_, _| Ok(Box::new(sigmoid())),
        |_, _| Ok(Box::new(sigmoid())),
        &[5, 9],
        1e-3,
    );
    check_twins(
        |_, _| Ok(Box::new(tanh())),
        |_, _| Ok(Box::new(tanh())),
        &[5, 9],
        1e-3,
    );
    check_twins(
        |_, _| Ok(Box::new(flatten())),
        |_, _| Ok(Box::new(flatten())),
        &[2, 3, 4],
        1e-4,
    );
}

#[test]
fn pooling_twins() {
    check_twins(
        |_, _| Ok(Box::new(max_pool2d(2, 2))),
        |_, _| Ok(Box::new(max_pool2d(2, 2))),
        &[2, 3, 6, 4],
        1e-4,
    );
    check_twins(
        |_, _| Ok(Box::new(max_pool2d(3, 1))),
        |_, _| Ok(Box::new(max_pool2d(3, 1))),
        &[1, 2, 5, 5],
        1e-4,
    );
    check_twins(
        |_, _| Ok(Box::new(avg_pool2d(2, 2))),
        |_, _| Ok(Box::new(avg_pool2d(2, 2))),
        &[2, 3, 6, 4],
        1e-4,
    );
    check_twins(
        |_, _| Ok(Box::new(avg_pool2d(3, 2))),
        |_, _| Ok(Box::new(avg_pool2d(3, 2))),
        &[1, 2, 7, 5],
        1e-4,
    );
}

/// `sum(g * f(x))` for the finite differences.
fn objective(layer: &mut dyn Module<Plain>, x: &ArrayD<f64>, g: &ArrayD<f64>) -> f64 {
    let mut b = Plain::new();
    let y = layer.forward(&mut b, x).unwrap();
    (&y * g).sum()
}

/// The plaintext backward against central finite differences, for the input and every
/// parameter, at a few entries each.
fn check_finite_differences(make: Make<Plain>, xshape: &[usize]) {
    let mut b = Plain::new();
    let mut layer = make(&mut b, &mut Initializer::new(5)).unwrap();
    let x = data(xshape, 3, 1.0);
    let y = layer.forward(&mut b, &x).unwrap();
    let g = data(y.shape(), 4, 1.0);
    let dx = layer.backward(&mut b, &g).unwrap();
    let pgrads: Vec<ArrayD<f64>> = layer
        .params()
        .iter()
        .map(|p| p.grad.clone().unwrap())
        .collect();
    let h = 1e-6;
    let name = layer.describe();
    let step = (x.len() / 7).max(1);
    for i in (0..x.len()).step_by(step) {
        let (mut xp, mut xm) = (x.clone(), x.clone());
        xp.as_slice_mut().unwrap()[i] += h;
        xm.as_slice_mut().unwrap()[i] -= h;
        let num =
            (objective(layer.as_mut(), &xp, &g) - objective(layer.as_mut(), &xm, &g)) / (2.0 * h);
        let ana = dx.as_slice().unwrap()[i];
        assert!(
            (num - ana).abs() < 1e-5 * (1.0 + ana.abs()),
            "{name}: d/dx[{i}] {ana} vs {num}"
        );
    }
    for (k, pg) in pgrads.iter().enumerate() {
        let step = (pg.len() / 5).max(1);
        for i in (0..pg.len()).step_by(step) {
            let mut at = |delta: f64| {
                let p = &mut layer.params_mut()[k];
                p.value.as_slice_mut().unwrap()[i] += delta;
                let v = objective(layer.as_mut(), &x, &g);
                layer.params_mut()[k].value.as_slice_mut().unwrap()[i] -= delta;
                v
            };
            let num = (at(h) - at(-h)) / (2.0 * h);
            let ana = pg.as_slice().unwrap()[i];
            assert!(
                (num - ana).abs() < 1e-5 * (1.0 + ana.abs()),
                "{name}: parameter {k}[{i}] {ana} vs {num}"
            );
        }
    }
}

#[test]
fn plaintext_backward_matches_finite_differences() {
    check_finite_differences(
        |b, i| Ok(Box::new(linear(b, 4, 3, InitScheme::Kaiming, i)?)),
        &[5, 4],
    );
    check_finite_differences(
        |b, i| Ok(Box::new(conv2d(b, 2, 3, 3, 2, 1, InitScheme::Kaiming, i)?)),
        &[2, 2, 6, 5],
    );
    check_finite_differences(|_, _| Ok(Box::new(relu())), &[4, 6]);
    check_finite_differences(|_, _| Ok(Box::new(sigmoid())), &[4, 6]);
    check_finite_differences(|_, _| Ok(Box::new(tanh())), &[4, 6]);
    check_finite_differences(|_, _| Ok(Box::new(max_pool2d(2, 2))), &[2, 2, 4, 6]);
    check_finite_differences(|_, _| Ok(Box::new(avg_pool2d(3, 2))), &[1, 2, 7, 5]);
    check_finite_differences(|_, _| Ok(Box::new(flatten())), &[2, 3, 4]);
}

#[test]
fn bad_inputs_are_typed_errors() {
    let mut b = Plain::new();
    let mut l = linear(&mut b, 3, 2, InitScheme::Kaiming, &mut Initializer::new(0)).unwrap();
    let e = l
        .forward(&mut b, &ArrayD::zeros(ndarray::IxDyn(&[2, 4])))
        .unwrap_err();
    assert!(matches!(e, mpc_nn::NnError::Shape { .. }), "{e}");
    assert!(e.to_string().contains("Linear(3 -> 2)"), "{e}");
    let e = l
        .backward(&mut b, &ArrayD::zeros(ndarray::IxDyn(&[2, 2])))
        .unwrap_err();
    assert!(matches!(e, mpc_nn::NnError::NoForward { .. }), "{e}");
    let mut c = conv2d(
        &mut b,
        1,
        2,
        5,
        1,
        0,
        InitScheme::Kaiming,
        &mut Initializer::new(0),
    )
    .unwrap();
    let e = c
        .forward(&mut b, &ArrayD::zeros(ndarray::IxDyn(&[1, 1, 3, 3])))
        .unwrap_err();
    assert!(e.to_string().contains("do not fit"), "{e}");
    let mut s = softmax();
    let e = Module::<Plain>::backward(&mut s, &mut b, &ArrayD::zeros(ndarray::IxDyn(&[1, 2])))
        .unwrap_err();
    assert!(matches!(e, mpc_nn::NnError::Config(_)), "{e}");
}

/// Layers of zero width, non-finite public weights and `reveal_to` a non-party are typed
/// errors on the plaintext twin as on shares (the twin used to accept all three).
#[test]
fn twin_refuses_what_the_shares_refuse() {
    use mpc_nn::{Backend, NnError};
    let mut b = Plain::new();
    let mut init = Initializer::new(0);
    for (i, o) in [(0, 1), (4, 0)] {
        let e = linear(&mut b, i, o, InitScheme::Kaiming, &mut init)
            .err()
            .unwrap();
        assert!(matches!(e, NnError::Shape { .. }), "{e}");
    }
    for (i, o) in [(0, 2), (1, 0)] {
        let e = conv2d(&mut b, i, o, 3, 1, 0, InitScheme::Kaiming, &mut init)
            .err()
            .unwrap();
        assert!(matches!(e, NnError::Shape { .. }), "{e}");
    }
    let nan = ArrayD::from_elem(ndarray::IxDyn(&[2, 1]), f64::NAN);
    let e = Linear::from_weights(&mut b, &nan, None).err().unwrap();
    assert!(e.to_string().contains("not finite"), "{e}");
    let e = b
        .constant(&ArrayD::from_elem(ndarray::IxDyn(&[1]), f64::INFINITY))
        .unwrap_err();
    assert!(e.to_string().contains("not finite"), "{e}");
    let x = data(&[2, 2], 1, 1.0);
    assert!(Backend::reveal_to(&mut b, 2, &x).unwrap().is_some());
    let e = Backend::reveal_to(&mut b, 3, &x).unwrap_err();
    assert!(e.to_string().contains("not a party"), "{e}");
    let e = mpc_nn::run_3pc(|p| {
        linear(p, 0, 1, InitScheme::Kaiming, &mut Initializer::new(0)).map(drop)
    })
    .unwrap_err();
    assert!(matches!(e, NnError::Shape { .. }), "{e}");
}

/// The secure standardiser on a single row (every column constant): it used to fail with
/// "cannot truncate 0 bits" (the column mean divides by `2^0`); now, as on the twin, every
/// column standardises to 0. (The twin gave NaN, `0 x 1/0`, which this test's `max_diff` then
/// dropped in `f64::max`; both are fixed, and the twin is checked to be exactly 0.)
#[test]
fn standardizer_fits_a_single_row_on_shares() {
    use mpc_nn::share::Standardizer;
    let x = data(&[1, 3], 4, 5.0);
    let mut b = Plain::new();
    let st = Standardizer::fit(&mut b, &x).unwrap();
    let plain = st.transform(&mut b, &x).unwrap();
    let outs = mpc_nn::run_3pc(|p| {
        mpc_nn::secure_session(p);
        let sx = p.input_f64(0, (p.role() == 0).then_some(&x), &[1, 3])?;
        let st = Standardizer::fit(p, &sx)?;
        let z = st.transform(p, &sx)?;
        Ok(p.reveal_f64(&z)?)
    })
    .unwrap();
    assert!(plain.iter().all(|&v| v == 0.0), "{plain}");
    assert!(max_diff(&plain, &outs[0]) < 1e-3, "{plain} vs {}", outs[0]);
}

/// `1 / std` keeps its relative precision for large spreads at few fractional bits: at 12 bits
/// the breast-cancer records' "worst area" column (standard deviation 569) has `1 / std` at
/// 7 ulp of `2^-12`, and held as one value at the session's resolution it came out 14% off now
/// and then, so the self-check (mean square within 25% of 1) failed about one fit in 30 (a job
/// test at 12 bits was flaky). Kept as two factors of order 1 it is within 1% in every run,
/// and the standardised values' mean squares are within 2% of 1, at 12 and 16 bits, for
/// spreads up to `2^f / 4` (2.5% and 5% at 8 bits: a few ulp of `rsqrt`, 0.4% each).
#[test]
fn standardizer_keeps_one_over_std_precise_for_large_spreads() {
    use mpc_nn::share::Standardizer;
    let n = 512;
    for (f, std) in [(12u32, 569.0), (12, 1000.0), (8, 60.0), (16, 16000.0)] {
        // two columns: the large spread, and a small one beside it (51 ulp at 8 bits)
        let v: Vec<f64> = (0..n)
            .flat_map(|i| {
                let t = ((i * 7919) % 1000) as f64 / 1000.0 - 0.5;
                [880.0 + std * 3.46 * t, 0.5 + 0.2 * 3.46 * t]
            })
            .collect();
        let x = ArrayD::from_shape_vec(vec![n, 2], v).unwrap();
        let exact = mpc_nn::data::Standardizer::fit(&x.clone().into_dimensionality().unwrap());
        let cfg = mpc_core::HarnessConfig {
            fixed: mpc_core::FixedPoint::new(f).unwrap(),
            ..Default::default()
        };
        for run in 0..8 {
            let outs = mpc_nn::run_3pc_with(&cfg, |p| {
                mpc_nn::secure_session(p);
                let sx = p.input_f64(0, (p.role() == 0).then_some(&x), x.shape())?;
                let st = Standardizer::fit(p, &sx)?;
                let z = st.transform(p, &sx)?;
                Ok((st.reveal_to(p, 0)?, p.reveal_f64(&z)?))
            })
            .unwrap();
            let (inv, z) = (&outs[0].0.as_ref().unwrap().1, &outs[0].1);
            assert!(outs[1].0.is_none() && outs[2].0.is_none());
            let tol = if f <= 8 { 0.025 } else { 0.01 };
            for j in 0..2 {
                let rel = inv[[0, j]] * exact.std[j] - 1.0;
                assert!(
                    rel.abs() < tol,
                    "f={f} std {std} run {run} column {j}: {rel}"
                );
                let ms = z
                    .index_axis(ndarray::Axis(1), j)
                    .iter()
                    .map(|v| v * v)
                    .sum::<f64>()
                    / n as f64;
                assert!(
                    (ms - 1.0).abs() < 2.0 * tol,
                    "f={f} std {std} run {run} column {j}: {ms}"
                );
            }
        }
    }
}

/// A model file's `1 / std` enters secure inference as a power of two and a factor in
/// `(1/2, 1]`, each exact or precise at the session's bits; zero (a constant column) stays zero,
/// and a negative or non-finite value is a typed error.
#[test]
fn inverse_deviations_split_into_a_power_of_two_and_a_factor_of_order_one() {
    use mpc_nn::share::factor_inv_std;
    let inv = ArrayD::from_shape_vec(vec![1, 5], vec![1.0 / 569.0, 1.0, 3.0, 0.0, 1e-9]).unwrap();
    let (p, r) = factor_inv_std(&inv, 2f64.powi(-12)).unwrap();
    assert_eq!(
        p.as_slice().unwrap(),
        &[2f64.powi(-9), 1.0, 4.0, 0.0, 2f64.powi(-12)]
    );
    for ((&v, &p), &r) in inv.iter().zip(&p).zip(&r) {
        assert_eq!(p * r, v);
        if p > 2f64.powi(-12) {
            assert!(r > 0.5 && r <= 1.0, "{v}: {p} x {r}");
        }
    }
    // exact floats: no clipping
    let (p, _) = factor_inv_std(&inv, 0.0).unwrap();
    assert_eq!(p[[0, 4]], 2f64.powi(-29));
    for bad in [-1.0, f64::NAN, f64::INFINITY] {
        let x = ArrayD::from_elem(vec![1, 1], bad);
        let e = factor_inv_std(&x, 2f64.powi(-16)).unwrap_err().to_string();
        assert!(e.contains("1 / std must be finite and not negative"), "{e}");
    }
}
