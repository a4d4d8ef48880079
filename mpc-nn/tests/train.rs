//! Losses, optimizers, evaluation and private inference on shares against the plaintext twin.
#![allow(clippy::unwrap_used)]

mod common;
use common::max_diff;

use mpc_nn::init::Initializer;
use mpc_nn::layers::{linear, relu};
use mpc_nn::loss::{BceWithLogits, Loss, Mse, SoftmaxCrossEntropy};
use mpc_nn::optim::{AdamConfig, Optimizer, SgdConfig};
use mpc_nn::train::{correct_count, divergence_report, format_divergence, train_step};
use mpc_nn::{Backend, InitScheme, Module, Plain, Result, Sequential};
use ndarray::ArrayD;

fn net<B: Backend + 'static>(b: &mut B) -> Result<Sequential<B>> {
    let mut init = Initializer::new(3);
    Ok(Sequential::new()
        .add("fc1", linear(b, 6, 8, InitScheme::Kaiming, &mut init)?)
        .add("act1", relu())
        .add("out", linear(b, 8, 3, InitScheme::Xavier, &mut init)?))
}

fn batch() -> (ArrayD<f64>, ArrayD<f64>) {
    let x = Initializer::new(8).uniform(&[16, 6], 1.0);
    let mut y = ArrayD::zeros(ndarray::IxDyn(&[16, 3]));
    for i in 0..16 {
        y[[i, i % 3]] = 1.0;
    }
    (x, y)
}

/// The same optimizer for both engines.
type Pair = (
    Box<dyn Optimizer<Plain>>,
    Box<dyn Optimizer<mpc_core::Party>>,
);

/// A few optimizer steps on both engines: the weights stay within fixed-point error.
fn optimizer_twins(make: fn() -> Pair, tol: f64) {
    let (x, y) = batch();
    let (mut po, _) = make();
    let mut b = Plain::new();
    let mut m = net(&mut b).unwrap();
    for _ in 0..4 {
        train_step(&mut b, &mut m, &SoftmaxCrossEntropy, po.as_mut(), &x, &y).unwrap();
    }
    let plain: Vec<ArrayD<f64>> = m.params().iter().map(|p| p.value.clone()).collect();
    let outs = mpc_nn::run_3pc(|p| {
        mpc_nn::secure_session(p);
        let (_, mut so) = make();
        let mut m = net(p)?;
        let sx = p.input_f64(0, (p.role() == 0).then_some(&x), x.shape())?;
        let sy = p.input_f64(1, (p.role() == 1).then_some(&y), y.shape())?;
        for _ in 0..4 {
            train_step(p, &mut m, &SoftmaxCrossEntropy, so.as_mut(), &sx, &sy)?;
        }
        let mut out = Vec::new();
        for q in m.params() {
            out.push(p.reveal_f64(&q.value)?);
        }
        let state: Vec<_> = so.state().into_iter().map(|(k, _)| k).collect();
        Ok((out, state))
    })
    .unwrap();
    let (secure, state) = &outs[0];
    for (a, b) in plain.iter().zip(secure) {
        assert!(max_diff(a, b) < tol, "weights differ by {}", max_diff(a, b));
    }
    let moved = plain
        .iter()
        .zip(&net(&mut Plain::new()).unwrap().params())
        .map(|(a, p0)| max_diff(a, &p0.value))
        .fold(0.0, f64::max);
    assert!(
        moved > 10.0 * tol,
        "the optimizer must move the weights (moved {moved})"
    );
    let _ = state;
}

#[test]
fn sgd_with_momentum_and_weight_decay_twins() {
    optimizer_twins(
        || {
            let c = SgdConfig {
                lr: 0.2,
                momentum: 0.9,
                weight_decay: 1e-2,
            };
            (Box::new(c.build()), Box::new(c.build()))
        },
        2e-3,
    );
}

#[test]
fn adam_twins() {
    optimizer_twins(
        || {
            (
                Box::new(AdamConfig::new(0.01).build()),
                Box::new(AdamConfig::new(0.01).build()),
            )
        },
        2e-3,
    );
}

#[test]
fn optimizer_state_is_named_per_parameter() {
    let (x, y) = batch();
    let mut b = Plain::new();
    let mut m = net(&mut b).unwrap();
    let mut adam = AdamConfig::new(0.01).build();
    train_step(&mut b, &mut m, &SoftmaxCrossEntropy, &mut adam, &x, &y).unwrap();
    let names: Vec<String> = adam.state().into_iter().map(|(k, _)| k).collect();
    assert!(
        names.contains(&"fc1.weight.adam_m".to_string())
            && names.contains(&"out.bias.adam_v".to_string()),
        "{names:?}"
    );
    let mut sgd = SgdConfig {
        lr: 0.1,
        momentum: 0.5,
        weight_decay: 0.0,
    }
    .build();
    train_step(&mut b, &mut m, &SoftmaxCrossEntropy, &mut sgd, &x, &y).unwrap();
    assert_eq!(sgd.state().len(), 4);
}

/// An optimizer rebuilt from its saved state (a checkpoint) continues exactly like the
/// original: 3 steps, save, 3 more steps, against 3 steps then a fresh optimizer loaded with
/// the saved state for the last 3 (the plaintext engine is deterministic, so bit for bit).
#[test]
fn optimizer_state_round_trip_resumes_exactly() {
    type Make = fn() -> Box<dyn Optimizer<Plain>>;
    let makes: [(&str, Make); 2] = [
        ("sgd", || {
            Box::new(
                SgdConfig {
                    lr: 0.1,
                    momentum: 0.9,
                    weight_decay: 0.01,
                }
                .build(),
            )
        }),
        ("adam", || Box::new(AdamConfig::new(0.01).build())),
    ];
    let (x, y) = batch();
    for (name, make) in makes {
        let run = |resume: bool, load: bool| {
            let mut b = Plain::new();
            let mut m = net(&mut b).unwrap();
            let mut opt = make();
            for _ in 0..3 {
                train_step(&mut b, &mut m, &SoftmaxCrossEntropy, opt.as_mut(), &x, &y).unwrap();
            }
            if resume {
                let saved: Vec<(String, ArrayD<f64>)> = opt
                    .state()
                    .into_iter()
                    .map(|(k, t)| (k, t.clone()))
                    .collect();
                opt = make();
                if load {
                    opt.load_state(saved, 3).unwrap();
                }
            }
            for _ in 0..3 {
                train_step(&mut b, &mut m, &SoftmaxCrossEntropy, opt.as_mut(), &x, &y).unwrap();
            }
            m.params()
                .iter()
                .map(|p| p.value.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(false, false), run(true, true), "{name}");
        // without the state, a fresh optimizer does not continue the same way
        assert_ne!(run(false, false), run(true, false), "{name}");
        let mut bad = make();
        let err = bad
            .load_state(vec![("fc1.weight.velocity".into(), x.clone())], 3)
            .unwrap_err();
        assert!(err.to_string().contains("fc1.weight.velocity"), "{err}");
        assert_eq!(bad.lr(), make().lr());
        bad.set_lr(0.5);
        assert_eq!(bad.lr(), 0.5);
    }
}

/// Loss gradients and values: secure against the twin and against closed forms.
#[test]
fn loss_twins() {
    let z = Initializer::new(4).uniform(&[12, 3], 4.0);
    let (_, y) = batch();
    let y = y.slice(ndarray::s![..12, ..]).to_owned().into_dyn();
    let yb = y.slice(ndarray::s![.., 0..1]).to_owned().into_dyn();
    let zb = z.slice(ndarray::s![.., 0..1]).to_owned().into_dyn();
    let mut b = Plain::new();
    let want = [
        (
            SoftmaxCrossEntropy.grad(&mut b, &z, &y).unwrap(),
            SoftmaxCrossEntropy.value(&mut b, &z, &y).unwrap(),
        ),
        (
            BceWithLogits.grad(&mut b, &zb, &yb).unwrap(),
            BceWithLogits.value(&mut b, &zb, &yb).unwrap(),
        ),
        (
            Mse.grad(&mut b, &z, &y).unwrap(),
            Mse.value(&mut b, &z, &y).unwrap(),
        ),
    ];
    // closed forms of the plaintext values
    let ce: f64 = (0..12)
        .map(|i| {
            let row = z.slice(ndarray::s![i, ..]);
            let lse = row.iter().map(|v| v.exp()).sum::<f64>().ln();
            lse - row
                .iter()
                .zip(y.slice(ndarray::s![i, ..]).iter())
                .map(|(a, b)| a * b)
                .sum::<f64>()
        })
        .sum::<f64>()
        / 12.0;
    assert!((want[0].1[[0, 0]] - ce).abs() < 1e-12);
    let bce: f64 = zb
        .iter()
        .zip(yb.iter())
        .map(|(z, y)| {
            -(y * (1.0 / (1.0 + (-z).exp())).ln()
                + (1.0 - y) * (1.0 - 1.0 / (1.0 + (-z).exp())).ln())
        })
        .sum::<f64>()
        / 12.0;
    assert!((want[1].1[[0, 0]] - bce).abs() < 1e-12);
    let outs = mpc_nn::run_3pc(|p| {
        mpc_nn::secure_session(p);
        let sz = p.input_f64(0, (p.role() == 0).then_some(&z), z.shape())?;
        let sy = p.input_f64(1, (p.role() == 1).then_some(&y), y.shape())?;
        let szb = p.input_f64(0, (p.role() == 0).then_some(&zb), zb.shape())?;
        let syb = p.input_f64(1, (p.role() == 1).then_some(&yb), yb.shape())?;
        let mut out = Vec::new();
        let pairs: [(
            &dyn Loss<mpc_core::Party>,
            &mpc_core::AShare,
            &mpc_core::AShare,
        ); 3] = [
            (&SoftmaxCrossEntropy, &sz, &sy),
            (&BceWithLogits, &szb, &syb),
            (&Mse, &sz, &sy),
        ];
        for (l, a, t) in pairs {
            let g = l.grad(p, a, t)?;
            let v = l.value(p, a, t)?;
            out.push((p.reveal_f64(&g)?, p.reveal_f64(&v)?));
        }
        Ok(out)
    })
    .unwrap();
    for (i, ((wg, wv), (sg, sv))) in want.iter().zip(&outs[0]).enumerate() {
        assert!(
            max_diff(wg, sg) < 1e-3,
            "loss {i}: gradient differs by {}",
            max_diff(wg, sg)
        );
        assert!(
            max_diff(wv, sv) < 2e-3,
            "loss {i}: value {} vs {}",
            sv[[0, 0]],
            wv[[0, 0]]
        );
    }
}

/// Accuracy counts (binary and multi-class) and private inference: the prediction reaches only
/// the chosen party.
#[test]
fn correct_counts_and_inference_to_one_party() {
    let z = ArrayD::from_shape_vec(ndarray::IxDyn(&[4, 1]), vec![1.5, -0.5, 0.25, -3.0]).unwrap();
    let y = ArrayD::from_shape_vec(ndarray::IxDyn(&[4, 1]), vec![1.0, 1.0, 0.0, 0.0]).unwrap();
    let zm = ArrayD::from_shape_vec(
        ndarray::IxDyn(&[3, 3]),
        vec![1.0, 2.0, 0.0, 5.0, -1.0, 0.0, 0.0, 0.0, 0.5],
    )
    .unwrap();
    let ym = ArrayD::from_shape_vec(
        ndarray::IxDyn(&[3, 3]),
        vec![0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
    )
    .unwrap();
    let mut b = Plain::new();
    assert_eq!(correct_count(&mut b, &z, &y).unwrap()[[0, 0]], 2.0);
    assert_eq!(correct_count(&mut b, &zm, &ym).unwrap()[[0, 0]], 2.0);
    let (x, _) = batch();
    let mut pm = net(&mut b).unwrap();
    pm.set_training(false);
    let want = pm.forward(&mut b, &x).unwrap();
    let outs = mpc_nn::run_3pc(|p| {
        mpc_nn::secure_session(p);
        let sz = p.input_f64(0, (p.role() == 0).then_some(&z), z.shape())?;
        let sy = p.input_f64(0, (p.role() == 0).then_some(&y), y.shape())?;
        let szm = p.input_f64(0, (p.role() == 0).then_some(&zm), zm.shape())?;
        let sym = p.input_f64(0, (p.role() == 0).then_some(&ym), ym.shape())?;
        let c1 = correct_count(p, &sz, &sy)?;
        let c2 = correct_count(p, &szm, &sym)?;
        let counts = (p.reveal_f64(&c1)?[[0, 0]], p.reveal_f64(&c2)?[[0, 0]]);
        // the client (party 2) sends a query; the model is secret; only party 2 learns the output
        let mut m = net(p)?;
        m.set_training(false);
        let q = p.input_f64(2, (p.role() == 2).then_some(&x), x.shape())?;
        let out = m.forward(p, &q)?;
        Ok((counts, Backend::reveal_to(p, 2, &out)?))
    })
    .unwrap();
    for (role, ((c1, c2), pred)) in outs.iter().enumerate() {
        assert_eq!((*c1, *c2), (2.0, 2.0));
        match (role, pred) {
            (2, Some(v)) => assert!(max_diff(v, &want) < 1e-3),
            (2, None) => panic!("the client got nothing"),
            (_, Some(_)) => panic!("party {role} must not learn the prediction"),
            _ => {}
        }
    }
}

/// The divergence report lines up secure and plaintext traces layer by layer.
#[test]
fn divergence_report_per_layer() {
    let (x, y) = batch();
    let mut b = Plain::new();
    let mut pm = net(&mut b).unwrap();
    pm.keep_trace(true);
    let out = pm.forward(&mut b, &x).unwrap();
    let g = SoftmaxCrossEntropy.grad(&mut b, &out, &y).unwrap();
    pm.backward(&mut b, &g).unwrap();
    let (pa, pg) = pm.trace().unwrap();
    let (pa, pg) = (pa.to_vec(), pg.to_vec());
    let outs = mpc_nn::run_3pc(|p| {
        mpc_nn::secure_session(p);
        let mut m = net(p)?;
        m.keep_trace(true);
        let sx = p.input_f64(0, (p.role() == 0).then_some(&x), x.shape())?;
        let sy = p.input_f64(0, (p.role() == 0).then_some(&y), y.shape())?;
        let out = m.forward(p, &sx)?;
        let g = SoftmaxCrossEntropy.grad(p, &out, &sy)?;
        m.backward(p, &g)?;
        let (acts, grads) = m
            .trace()
            .ok_or_else(|| mpc_nn::NnError::Config("no trace".into()))?;
        let (acts, grads) = (acts.to_vec(), grads.to_vec());
        let mut ra = Vec::new();
        let mut rg = Vec::new();
        for a in &acts {
            ra.push(p.reveal_f64(a)?);
        }
        for a in &grads {
            rg.push(p.reveal_f64(a)?);
        }
        Ok((ra, rg, m.layers()))
    })
    .unwrap();
    let (sa, sg, names) = &outs[0];
    let rows = divergence_report(names, (sa, sg), (&pa, &pg));
    assert_eq!(rows.len(), 3);
    for r in &rows {
        assert!(r.activation < 1e-3 && r.gradient < 1e-3, "{r:?}");
    }
    let table = format_divergence(&rows);
    assert!(table.contains("fc1: Linear(6 -> 8)"), "{table}");
    // a NaN on either side is an infinite divergence, not none (f64::max drops NaN)
    let mut nan = pa.clone();
    nan[1][[0, 0]] = f64::NAN;
    let rows = divergence_report(names, (sa, sg), (&nan, &pg));
    assert_eq!(rows[1].activation, f64::INFINITY, "{:?}", rows[1]);
    assert!(rows[0].activation < 1e-3, "{:?}", rows[0]);
}

/// The fixed-point emulation engine rounds like the shares do (down to multiples of `2^-16`),
/// and the per-layer cost table lists every layer with the bytes it sent.
#[test]
fn fixed_point_emulation_and_cost_table() {
    let (x, y) = batch();
    let mut q = Plain::fixed_point(16);
    let mut m = net(&mut q).unwrap();
    let out = m.forward(&mut q, &x).unwrap();
    assert!(
        out.iter().all(|v| (v * 65536.0).fract() == 0.0),
        "emulated outputs are on the 2^-16 grid"
    );
    let mut exact = Plain::new();
    let mut me = net(&mut exact).unwrap();
    let oe = me.forward(&mut exact, &x).unwrap();
    let d = max_diff(&out, &oe);
    assert!(
        d > 0.0 && d < 1e-3,
        "emulation differs from exact f64 by rounding only: {d}"
    );
    let costs = mpc_nn::run_3pc(|p| {
        mpc_nn::secure_session(p);
        let mut m = net(p)?;
        let sx = p.input_f64(0, (p.role() == 0).then_some(&x), x.shape())?;
        let sy = p.input_f64(0, (p.role() == 0).then_some(&y), y.shape())?;
        let mut sgd = SgdConfig::new(0.1).build();
        train_step(p, &mut m, &SoftmaxCrossEntropy, &mut sgd, &sx, &sy)?;
        Ok(m.costs().to_vec())
    })
    .unwrap();
    let table = mpc_nn::format_costs(&costs[0]);
    assert_eq!(costs[0].len(), 3);
    // fc1's forward: a 16 x 8 product with exact truncation, 16 bytes per output word
    assert_eq!(costs[0][0].forward_bytes, 16 * 16 * 8, "{table}");
    assert!(
        costs[0][1].forward_rounds > 0 && costs[0][2].backward_bytes > 0,
        "{table}"
    );
    assert!(table.contains("| fc1: Linear(6 -> 8) | 2048 |"), "{table}");
}

/// Optimizer settings that cannot train (a learning rate that is not positive and finite, a
/// momentum or beta outside `[0, 1)`) are a typed error on both engines, before any change;
/// the plaintext twin used to train silently to NaN (or uphill), the shares to fail with an
/// encoding error or train uphill.
#[test]
fn optimizer_settings_are_checked() {
    let (x, y) = batch();
    let bad_sgd = [
        SgdConfig::new(f64::NAN),
        SgdConfig::new(-0.1),
        SgdConfig::new(0.0),
        SgdConfig::new(f64::INFINITY),
        SgdConfig {
            momentum: 1.0,
            ..SgdConfig::new(0.1)
        },
        SgdConfig {
            weight_decay: -1e-3,
            ..SgdConfig::new(0.1)
        },
    ];
    let bad_adam = [
        AdamConfig::new(f64::NAN),
        AdamConfig::new(-0.01),
        AdamConfig {
            beta1: 1.0,
            ..AdamConfig::new(0.01)
        },
        AdamConfig {
            beta2: f64::NAN,
            ..AdamConfig::new(0.01)
        },
        AdamConfig {
            eps: 0.0,
            ..AdamConfig::new(0.01)
        },
    ];
    let mut opts: Vec<Box<dyn Optimizer<Plain>>> = Vec::new();
    for c in bad_sgd {
        assert!(c.validate().is_err(), "{c:?}");
        opts.push(Box::new(c.build()));
    }
    for c in bad_adam {
        assert!(c.validate().is_err(), "{c:?}");
        opts.push(Box::new(c.build()));
    }
    for mut opt in opts {
        let mut b = Plain::new();
        let mut m = net(&mut b).unwrap();
        let before: Vec<ArrayD<f64>> = m.params().iter().map(|p| p.value.clone()).collect();
        let e = train_step(&mut b, &mut m, &SoftmaxCrossEntropy, opt.as_mut(), &x, &y).unwrap_err();
        assert!(matches!(e, mpc_nn::NnError::Config(_)), "{e}");
        let after: Vec<ArrayD<f64>> = m.params().iter().map(|p| p.value.clone()).collect();
        assert_eq!(before, after);
    }
    // set_lr to a bad value is caught at the next step; valid settings pass
    let mut sgd = SgdConfig::new(0.1).build::<Plain>();
    sgd.set_lr(-1.0);
    let mut b = Plain::new();
    let mut m = net(&mut b).unwrap();
    let e = train_step(&mut b, &mut m, &SoftmaxCrossEntropy, &mut sgd, &x, &y).unwrap_err();
    assert!(e.to_string().contains("lr = -1"), "{e}");
    assert!(AdamConfig::new(0.01).validate().is_ok());
    assert!(SgdConfig::new(0.1).validate().is_ok());
    // on shares: the same error, not an encoding error (NaN) or a step uphill (negative)
    for lr in [f64::NAN, -0.5] {
        let e = mpc_nn::run_3pc(|p| {
            mpc_nn::secure_session(p);
            let mut m = net(p)?;
            let sx = p.input_f64(0, (p.role() == 0).then_some(&x), x.shape())?;
            let sy = p.input_f64(1, (p.role() == 1).then_some(&y), y.shape())?;
            let mut o = SgdConfig::new(lr).build();
            train_step(p, &mut m, &SoftmaxCrossEntropy, &mut o, &sx, &sy)
        })
        .unwrap_err();
        assert!(matches!(e, mpc_nn::NnError::Config(_)), "{e}");
    }
}

/// Adam on shares with summed gradients in the thousands (unstandardised breast-cancer
/// features, batches of 64): `v + eps` leaves the secure `rsqrt`'s range `[2^-10, 2^18)` within
/// a few steps. The weights used to come out millions away from the twin's (the root of an
/// out-of-range input is garbage); they now agree within fixed-point error.
#[test]
fn adam_twins_with_large_gradients() {
    let ds = mpc_nn::data::breast_cancer().unwrap();
    let x = ds.features.clone().into_dyn();
    let y = ds.labels_column().into_dyn();
    let cfg = mpc_nn::train::TrainConfig {
        epochs: 1,
        batch_size: 64,
        seed: 3,
        drop_last: false,
    };
    fn lr_model<B: Backend + 'static>(b: &mut B) -> Result<Sequential<B>> {
        let mut init = Initializer::new(0);
        Ok(Sequential::new().add("linear", linear(b, 30, 1, InitScheme::Zeros, &mut init)?))
    }
    let mut b = Plain::new();
    let mut m = lr_model(&mut b).unwrap();
    let mut o = AdamConfig::new(0.01).build();
    mpc_nn::train::fit(
        &mut b,
        &mut m,
        &BceWithLogits,
        &mut o,
        &x,
        &y,
        &cfg,
        &mut |_, _, _| Ok(()),
    )
    .unwrap();
    let vmax = o
        .state()
        .iter()
        .filter(|(n, _)| n.ends_with("adam_v"))
        .flat_map(|(_, t)| t.iter().copied())
        .fold(0.0, f64::max);
    assert!(vmax > 4.0 * f64::from(1 << 18), "v only reached {vmax}");
    let plain: Vec<ArrayD<f64>> = m.params().iter().map(|p| p.value.clone()).collect();
    let outs = mpc_nn::run_3pc(|p| {
        mpc_nn::secure_session(p);
        let sx = p.input_f64(0, (p.role() == 0).then_some(&x), x.shape())?;
        let sy = p.input_f64(0, (p.role() == 0).then_some(&y), y.shape())?;
        let mut m = lr_model(p)?;
        let mut o = AdamConfig::new(0.01).build();
        mpc_nn::train::fit(
            p,
            &mut m,
            &BceWithLogits,
            &mut o,
            &sx,
            &sy,
            &cfg,
            &mut |_, _, _| Ok(()),
        )?;
        let mut out = Vec::new();
        for q in m.params() {
            out.push(p.reveal_f64(&q.value)?);
        }
        Ok(out)
    })
    .unwrap();
    for (a, s) in plain.iter().zip(&outs[0]) {
        assert!(
            max_diff(a, s) < 2e-3,
            "weights differ by {}",
            max_diff(a, s)
        );
    }
}

/// Training or predicting on data with no rows, or with `drop_last` leaving no batch, is a
/// typed error (it used to return `Ok` without a single step, or an opaque concat error).
#[test]
fn fit_and_predict_refuse_data_without_batches() {
    use mpc_nn::train::{TrainConfig, evaluate, fit, predict};
    let (x, y) = batch();
    let mut b = Plain::new();
    let mut m = net(&mut b).unwrap();
    let mut o = SgdConfig::new(0.1).build();
    let empty_x = ArrayD::zeros(ndarray::IxDyn(&[0, 6]));
    let empty_y = ArrayD::zeros(ndarray::IxDyn(&[0, 3]));
    let mut obs = |_: &mut Plain, _: &mut Sequential<Plain>, _: &_| Ok(());
    let e = fit(
        &mut b,
        &mut m,
        &SoftmaxCrossEntropy,
        &mut o,
        &empty_x,
        &empty_y,
        &TrainConfig::new(1, 4),
        &mut obs,
    )
    .unwrap_err();
    assert!(e.to_string().contains("no rows"), "{e}");
    let cfg = TrainConfig {
        drop_last: true,
        ..TrainConfig::new(1, 32)
    };
    let e = fit(
        &mut b,
        &mut m,
        &SoftmaxCrossEntropy,
        &mut o,
        &x,
        &y,
        &cfg,
        &mut obs,
    )
    .unwrap_err();
    assert!(e.to_string().contains("leaves no batch"), "{e}");
    let e = predict(&mut b, &mut m, &empty_x, 8).unwrap_err();
    assert!(e.to_string().contains("no rows"), "{e}");
    let e = evaluate(&mut b, &mut m, &empty_x, &empty_y, None, 8).unwrap_err();
    assert!(e.to_string().contains("no rows"), "{e}");
    let e = mpc_nn::run_3pc(|p| {
        let mut m = net(p)?;
        let sx = p.input_f64(0, (p.role() == 0).then_some(&empty_x), &[0, 6])?;
        predict(p, &mut m, &sx, 8)
    })
    .unwrap_err();
    assert!(e.to_string().contains("no rows"), "{e}");
}
