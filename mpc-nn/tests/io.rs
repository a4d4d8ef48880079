//! Model files: each party's share checkpoint (round trip after training, every error path,
//! atomic writes), plaintext export and import (f32 round trip, PyTorch layout against an
//! independent reference), and a private model entered by its owner.
#![allow(clippy::unwrap_used)]

mod common;
use common::max_diff;

use mpc_core::{AShare, FixedPoint, HarnessConfig, Party};
use mpc_nn::init::Initializer;
use mpc_nn::io::{
    export_safetensors, import_safetensors, input_model, load_into, load_shares, plain_params,
    reveal_model_to, save_shares,
};
use mpc_nn::layers::{conv2d, flatten, linear, relu};
use mpc_nn::loss::Mse;
use mpc_nn::optim::{Optimizer, SgdConfig};
use mpc_nn::train::train_step;
use mpc_nn::{Backend, InitScheme, Module, NnError, Plain, Result, Sequential, run_3pc};
use ndarray::{ArrayD, IxDyn};
use safetensors::Dtype;
use safetensors::tensor::TensorView;
use std::path::{Path, PathBuf};

const JOB: &str = "job-1/step-1";

/// conv1 (1 -> 2, 3x3) -> relu -> flatten (18) -> fc1 (18 -> 3): parameters conv1.weight
/// [9, 2], conv1.bias [1, 2], fc1.weight [18, 3], fc1.bias [1, 3].
fn model<B: Backend + 'static>(b: &mut B, seed: u64) -> Result<Sequential<B>> {
    model_fc(b, seed, 3)
}

fn model_fc<B: Backend + 'static>(b: &mut B, seed: u64, out: usize) -> Result<Sequential<B>> {
    let mut init = Initializer::new(seed);
    Ok(Sequential::new()
        .add(
            "conv1",
            conv2d(b, 1, 2, 3, 1, 0, InitScheme::Kaiming, &mut init)?,
        )
        .add("relu1", relu())
        .add("flat", flatten())
        .add("fc1", linear(b, 18, out, InitScheme::Kaiming, &mut init)?))
}

fn inputs() -> (ArrayD<f64>, ArrayD<f64>) {
    let x = Initializer::new(1).uniform(&[4, 1, 5, 5], 1.0);
    let y = Initializer::new(2).uniform(&[4, 3], 1.0);
    (x, y)
}

fn share_path(dir: &Path, role: usize) -> PathBuf {
    dir.join(format!("party{role}.shares"))
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A model and its optimizer state.
type Trained = (Sequential<Party>, Vec<(String, AShare)>);

/// Trains `model(p, 7)` one SGD step with momentum; returns it and the optimizer state.
fn trained(p: &mut Party) -> Result<Trained> {
    mpc_nn::secure_session(p);
    let (x, y) = inputs();
    let mut m = model(p, 7)?;
    let sx = p.input_f64(0, (p.role() == 0).then_some(&x), x.shape())?;
    let sy = p.input_f64(1, (p.role() == 1).then_some(&y), y.shape())?;
    let mut opt = SgdConfig {
        lr: 0.1,
        momentum: 0.9,
        weight_decay: 0.0,
    }
    .build::<Party>();
    train_step(p, &mut m, &Mse, &mut opt, &sx, &sy)?;
    let state = opt
        .state()
        .into_iter()
        .map(|(n, t)| (n, t.clone()))
        .collect();
    Ok((m, state))
}

fn save_trained(p: &mut Party, dir: &Path) -> Result<Trained> {
    let (m, state) = trained(p)?;
    let extra: Vec<(String, &AShare)> = state.iter().map(|(n, t)| (n.clone(), t)).collect();
    save_shares(&share_path(dir, p.role()), p.role(), JOB, &m, &extra)?;
    Ok((m, state))
}

fn reveal_all(p: &mut Party, m: &Sequential<Party>) -> Result<Vec<(String, ArrayD<f64>)>> {
    let mut out = Vec::new();
    for q in m.params() {
        out.push((q.name.clone(), p.reveal_f64(&q.value)?));
    }
    Ok(out)
}

#[test]
fn shares_round_trip_after_one_sgd_step() {
    let dir = tempfile::tempdir().unwrap();
    let outs = run_3pc(|p| {
        let untrained = model(p, 7)?;
        // Public constants: party 1's pair is zero before any update.
        let public_zero = untrained.params().iter().all(|q| {
            let (a, b) = q.value.components();
            a.iter().chain(b.iter()).all(|&w| w == 0)
        });
        let (m, state) = save_trained(p, dir.path())?;
        let trained_zero = m.params().iter().any(|q| {
            let (a, b) = q.value.components();
            a.iter().chain(b.iter()).all(|&w| w == 0)
        });
        let before = reveal_all(p, &m)?;
        let initial = reveal_all(p, &untrained)?;
        let mut fresh = model(p, 99)?;
        let extras = load_shares(&share_path(dir.path(), p.role()), p.role(), JOB, &mut fresh)?;
        let same_components = m
            .params()
            .iter()
            .zip(fresh.params())
            .all(|(a, b)| a.name == b.name && a.value == b.value);
        let after = reveal_all(p, &fresh)?;
        Ok((
            public_zero,
            trained_zero,
            initial,
            before,
            after,
            same_components,
            state,
            extras,
        ))
    })
    .unwrap();
    for (role, (public_zero, trained_zero, initial, before, after, same, state, extras)) in
        outs.iter().enumerate()
    {
        assert_eq!(
            *public_zero,
            role == 1,
            "party {role}: public-constant shares"
        );
        assert!(
            !trained_zero,
            "party {role}: a trained parameter's pair is zero"
        );
        assert!(*same, "party {role}: loaded components differ");
        assert_eq!(before.len(), 4);
        for ((n0, v0), (n1, v1)) in before.iter().zip(after) {
            assert_eq!(n0, n1);
            assert_eq!(v0, v1, "{n0}: revealed values differ after loading");
        }
        // The step changed every parameter, so the round trip is not of the initial model.
        for ((n, v0), (_, v1)) in initial.iter().zip(before) {
            assert!(max_diff(v0, v1) > 0.0, "{n} was not updated");
        }
        let names: Vec<&str> = extras.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "conv1.bias.momentum",
                "conv1.weight.momentum",
                "fc1.bias.momentum",
                "fc1.weight.momentum"
            ]
        );
        assert_eq!(state, extras, "party {role}: optimizer state differs");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(share_path(dir.path(), 0)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }
    // Only the three final files: no temporary file is left behind.
    assert_eq!(
        files_in(dir.path()),
        ["party0.shares", "party1.shares", "party2.shares"]
    );
}

type Build = fn(&mut Party) -> Result<Sequential<Party>>;

/// Party 0 loads `path` as `role` of `job` into the model `build` makes (in a session with
/// `frac_bits`); returns the error and whether the model was left unchanged.
fn load_error(
    path: &Path,
    role: usize,
    job: &str,
    build: Build,
    frac_bits: u32,
) -> (NnError, bool) {
    let cfg = HarnessConfig {
        fixed: FixedPoint::new(frac_bits).unwrap(),
        ..HarnessConfig::default()
    };
    let outs = mpc_core::run_parties(&cfg, |p| -> Result<_> {
        let mut m = build(p)?;
        if p.role() != 0 {
            return Ok(None);
        }
        let before: Vec<AShare> = m.params().iter().map(|q| q.value.clone()).collect();
        let err = load_shares(path, role, job, &mut m).err();
        let unchanged = m.params().iter().zip(&before).all(|(q, b)| q.value == *b);
        Ok(err.map(|e| (e, unchanged)))
    })
    .unwrap();
    let [first, ..] = outs;
    first.expect("loading should have failed")
}

fn params_message(e: &NnError) -> &str {
    match e {
        NnError::Params(m) => m,
        other => panic!("expected NnError::Params, got {other:?}"),
    }
}

fn expect_params_error(e: &NnError, path: &Path, needles: &[&str]) {
    let m = params_message(e);
    assert!(
        m.contains(&path.display().to_string()),
        "message does not name the file: {m}"
    );
    for n in needles {
        assert!(m.contains(n), "message lacks {n:?}: {m}");
    }
}

#[test]
fn share_file_errors() {
    let dir = tempfile::tempdir().unwrap();
    run_3pc(|p| save_trained(p, dir.path()).map(drop)).unwrap();
    let p0 = share_path(dir.path(), 0);
    let p1 = share_path(dir.path(), 1);
    let good: Build = |p| model(p, 3);

    // Another party's file.
    let (e, unchanged) = load_error(&p1, 0, JOB, good, 16);
    expect_params_error(&e, &p1, &["holds the shares of party 1, not of party 0"]);
    assert!(unchanged);

    // Another job.
    let (e, unchanged) = load_error(&p0, 0, "job-2", good, 16);
    expect_params_error(&e, &p0, &["belongs to job \"job-1/step-1\", not \"job-2\""]);
    assert!(unchanged);

    let bytes = std::fs::read(&p0).unwrap();
    let header = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let data_start = 8 + header;
    assert!(data_start < bytes.len());

    // A byte flipped in the middle of the data.
    let flipped = dir.path().join("flipped.shares");
    let mut b = bytes.clone();
    b[(data_start + bytes.len()) / 2] ^= 0x10;
    std::fs::write(&flipped, &b).unwrap();
    let (e, unchanged) = load_error(&flipped, 0, JOB, good, 16);
    expect_params_error(&e, &flipped, &["checksum mismatch", "corrupt"]);
    assert!(unchanged);

    // A byte flipped in the middle of the whole file (header or data: caught either way).
    let mut b = bytes.clone();
    b[bytes.len() / 2] ^= 0x01;
    std::fs::write(&flipped, &b).unwrap();
    let (e, _) = load_error(&flipped, 0, JOB, good, 16);
    expect_params_error(&e, &flipped, &["corrupt"]);

    // A metadata value changed, still valid JSON: the checksum catches it, not the job check.
    let text = String::from_utf8_lossy(&bytes[8..data_start]).into_owned();
    let at = 8 + text.find("job-1/step-1").unwrap();
    let mut b = bytes.clone();
    b[at + 4] = b'7';
    std::fs::write(&flipped, &b).unwrap();
    let (e, _) = load_error(&flipped, 0, JOB, good, 16);
    expect_params_error(&e, &flipped, &["checksum mismatch"]);

    // Truncated.
    let truncated = dir.path().join("truncated.shares");
    std::fs::write(&truncated, &bytes[..bytes.len() - 100]).unwrap();
    let (e, unchanged) = load_error(&truncated, 0, JOB, good, 16);
    expect_params_error(
        &e,
        &truncated,
        &["not a valid safetensors file", "truncated"],
    );
    assert!(unchanged);
    std::fs::write(&truncated, &bytes[..5]).unwrap();
    let (e, _) = load_error(&truncated, 0, JOB, good, 16);
    expect_params_error(&e, &truncated, &["not a valid safetensors file"]);

    // The model has a parameter the file lacks.
    let (e, unchanged) = load_error(
        &p0,
        0,
        JOB,
        |p| {
            let mut init = Initializer::new(0);
            Ok(model(p, 3)?.add("fc2", linear(p, 3, 2, InitScheme::Kaiming, &mut init)?))
        },
        16,
    );
    expect_params_error(
        &e,
        &p0,
        &["parameters missing from the file: fc2.weight, fc2.bias"],
    );
    assert!(unchanged);

    // The file has a parameter the model lacks.
    let (e, unchanged) = load_error(
        &p0,
        0,
        JOB,
        |p| {
            let mut init = Initializer::new(0);
            Ok(Sequential::new().add(
                "conv1",
                conv2d(p, 1, 2, 3, 1, 0, InitScheme::Kaiming, &mut init)?,
            ))
        },
        16,
    );
    expect_params_error(
        &e,
        &p0,
        &["parameters the model does not have: fc1.bias, fc1.weight"],
    );
    assert!(unchanged);

    // A shape mismatch.
    let (e, unchanged) = load_error(&p0, 0, JOB, |p| model_fc(p, 3, 4), 16);
    expect_params_error(
        &e,
        &p0,
        &[
            "fc1.weight: shape [18, 3] in the file, the model expects [18, 4]",
            "fc1.bias: shape [1, 3] in the file, the model expects [1, 4]",
        ],
    );
    assert!(unchanged);

    // Frac bits that do not match the session's.
    let (e, unchanged) = load_error(&p0, 0, JOB, good, 12);
    expect_params_error(
        &e,
        &p0,
        &["conv1.weight: frac bits 16 in the file, the model's parameter has 12"],
    );
    assert!(unchanged);

    // Not a share file at all.
    let plain = dir.path().join("plain.safetensors");
    export_safetensors(&plain, &plain_params(&model(&mut Plain::new(), 3).unwrap())).unwrap();
    let (e, _) = load_error(&plain, 0, JOB, good, 16);
    expect_params_error(&e, &plain, &["not a Trefoil share file"]);
    let e = import_safetensors(&p0).unwrap_err();
    expect_params_error(&e, &p0, &["only F32, F64, F16 and BF16", "load_shares"]);

    // No file.
    let none = dir.path().join("none.shares");
    let (e, _) = load_error(&none, 0, JOB, good, 16);
    match e {
        NnError::Io { path, source } => {
            assert_eq!(path, none);
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected NnError::Io, got {other:?}"),
    }
}

#[test]
fn failed_saves_leave_no_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    // The target is a directory: writing the temporary file works, the rename fails.
    let target = dir.path().join("party0.shares");
    std::fs::create_dir(&target).unwrap();
    let missing_dir = dir.path().join("no-such-dir").join("party0.shares");
    let mut outs = run_3pc(|p| {
        let m = model(p, 3)?;
        if p.role() != 0 {
            return Ok(None);
        }
        let rename = save_shares(&target, 0, JOB, &m, &[]).err();
        let create = save_shares(&missing_dir, 0, JOB, &m, &[]).err();
        let w = m.param("fc1.weight").unwrap().value.clone();
        let dup = save_shares(
            &dir.path().join("dup.shares"),
            0,
            JOB,
            &m,
            &[("fc1.weight".to_string(), &w)],
        )
        .err();
        Ok(Some((rename, create, dup)))
    })
    .unwrap();
    let (rename, create, dup) = outs[0].take().unwrap();
    match rename.unwrap() {
        NnError::Io { path, .. } => assert_eq!(path, target),
        other => panic!("expected NnError::Io, got {other:?}"),
    }
    match create.unwrap() {
        NnError::Io { path, .. } => assert_eq!(path, missing_dir),
        other => panic!("expected NnError::Io, got {other:?}"),
    }
    expect_params_error(
        &dup.unwrap(),
        &dir.path().join("dup.shares"),
        &["two tensors named fc1.weight"],
    );
    assert_eq!(files_in(dir.path()), ["party0.shares"]);
    assert!(files_in(&target).is_empty());

    // The same for exports; and a failed save keeps the previous file intact.
    let out = dir.path().join("model.safetensors");
    let params = plain_params(&model(&mut Plain::new(), 3).unwrap());
    export_safetensors(&out, &params).unwrap();
    let kept = std::fs::read(&out).unwrap();
    let bad = vec![params[0].clone(), params[0].clone()];
    let e = export_safetensors(&out, &bad).unwrap_err();
    expect_params_error(&e, &out, &["two tensors named conv1.weight"]);
    assert!(matches!(
        export_safetensors(&target, &params),
        Err(NnError::Io { .. })
    ));
    assert_eq!(std::fs::read(&out).unwrap(), kept);
    assert_eq!(files_in(dir.path()), ["model.safetensors", "party0.shares"]);
}

/// The same tensors give the same file bytes, whatever order a hash map puts the metadata in:
/// a resumed job's checkpoints can be compared with an uninterrupted run's byte for byte.
#[test]
fn files_are_byte_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run_3pc(|p| {
        let (m, state) = trained(p)?;
        let extra: Vec<(String, &AShare)> = state.iter().map(|(n, t)| (n.clone(), t)).collect();
        // many saves: the metadata's hash order differs from one map to the next
        for k in 0..8 {
            let path = d.join(format!("p{}-{k}.shares", p.role()));
            save_shares(&path, p.role(), JOB, &m, &extra)?;
        }
        Ok(())
    })
    .unwrap();
    for role in 0..3 {
        let first = std::fs::read(d.join(format!("p{role}-0.shares"))).unwrap();
        for k in 1..8 {
            let other = std::fs::read(d.join(format!("p{role}-{k}.shares"))).unwrap();
            assert!(first == other, "party {role}: save {k} differs from save 0");
        }
    }
    let mut b = Plain::new();
    let params = plain_params(&model(&mut b, 5).unwrap());
    let files: Vec<Vec<u8>> = (0..8)
        .map(|k| {
            let path = d.join(format!("model-{k}.safetensors"));
            export_safetensors(&path, &params).unwrap();
            std::fs::read(&path).unwrap()
        })
        .collect();
    assert!(files.iter().all(|f| *f == files[0]), "exports differ");
}

#[test]
fn export_import_round_trip_plain() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = inputs();
    let mut b = Plain::new();
    let mut m = model(&mut b, 5).unwrap();
    let mut opt = SgdConfig::new(0.1).build::<Plain>();
    train_step(&mut b, &mut m, &Mse, &mut opt, &x, &y).unwrap();
    let params = plain_params(&m);
    let path = dir.path().join("model.safetensors");
    export_safetensors(&path, &params).unwrap();
    let back = import_safetensors(&path).unwrap();
    assert_eq!(back.len(), params.len());
    for (name, v) in &params {
        let (_, w) = back.iter().find(|(n, _)| n == name).unwrap();
        assert_eq!(w.shape(), v.shape());
        for (a, b) in v.iter().zip(w.iter()) {
            assert_eq!(*b, *a as f32 as f64, "{name}");
        }
        assert!(max_diff(v, w) <= 1e-6, "{name}");
    }
    let mut fresh = model(&mut b, 6).unwrap();
    load_into(&mut b, &mut fresh, &back, false).unwrap();
    m.set_training(false);
    fresh.set_training(false);
    let y0 = m.forward(&mut b, &x).unwrap();
    let y1 = fresh.forward(&mut b, &x).unwrap();
    assert!(max_diff(&y0, &y1) <= 1e-5);
}

#[test]
fn load_into_errors() {
    let mut b = Plain::new();
    let mut m = model(&mut b, 5).unwrap();
    let before = plain_params(&m);
    let good = plain_params(&model(&mut b, 6).unwrap());
    let check =
        |m: &mut Sequential<Plain>, b: &mut Plain, ps: &[(String, ArrayD<f64>)], t: bool| {
            let e = load_into(b, m, ps, t).unwrap_err();
            params_message(&e).to_string()
        };

    let missing: Vec<_> = good
        .iter()
        .filter(|(n, _)| n != "fc1.bias")
        .cloned()
        .collect();
    let msg = check(&mut m, &mut b, &missing, false);
    assert!(msg.contains("missing tensors: fc1.bias"), "{msg}");

    let mut extra = good.clone();
    extra.push(("fc2.weight".into(), ArrayD::zeros(IxDyn(&[3, 2]))));
    let msg = check(&mut m, &mut b, &extra, false);
    assert!(
        msg.contains("tensors the model has no parameter for: fc2.weight"),
        "{msg}"
    );

    let mut shaped = good.clone();
    shaped[2].1 = ArrayD::zeros(IxDyn(&[3, 18]));
    let msg = check(&mut m, &mut b, &shaped, false);
    assert!(
        msg.contains("fc1.weight: the tensor has shape [3, 18], the model expects [18, 3]"),
        "{msg}"
    );
    // In Trefoil's layout but loaded as PyTorch's: both shapes named.
    let msg = check(&mut m, &mut b, &good, true);
    assert!(
        msg.contains("fc1.weight: the tensor has shape [18, 3], the model expects [18, 3], i.e. PyTorch layout [3, 18]"),
        "{msg}"
    );
    assert!(
        msg.contains("conv1.weight: the tensor has shape [9, 2]"),
        "{msg}"
    );

    let mut dup = good.clone();
    dup.push(good[0].clone());
    let msg = check(&mut m, &mut b, &dup, false);
    assert!(msg.contains("two tensors named conv1.weight"), "{msg}");

    // Nothing was changed by the failed loads.
    assert_eq!(plain_params(&m), before);
}

/// Writes `tensors` as a safetensors file with the safetensors crate.
fn write_safetensors(path: &Path, tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)]) {
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|(n, d, s, b)| (n.to_string(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    let bytes = safetensors::serialize(views, None).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn f32_bytes(a: &ArrayD<f64>) -> Vec<u8> {
    a.iter().flat_map(|&v| (v as f32).to_le_bytes()).collect()
}

fn f64_bytes(a: &ArrayD<f64>) -> Vec<u8> {
    a.iter().flat_map(|&v| v.to_le_bytes()).collect()
}

/// The model in PyTorch's semantics, by direct loops: conv (weight `O x C x k x k`), ReLU,
/// flatten in `(o, i, j)` order, `h W^T + b`.
fn torch_reference(
    x: &ArrayD<f64>,
    cw: &ArrayD<f64>,
    cb: &ArrayD<f64>,
    fw: &ArrayD<f64>,
    fb: &ArrayD<f64>,
) -> ArrayD<f64> {
    let (n, h) = (x.shape()[0], x.shape()[2]);
    let (o, c, k) = (cw.shape()[0], cw.shape()[1], cw.shape()[2]);
    let ho = h - k + 1;
    let classes = fw.shape()[0];
    let mut out = ArrayD::zeros(IxDyn(&[n, classes]));
    for s in 0..n {
        let mut flat = Vec::new();
        for oc in 0..o {
            for i in 0..ho {
                for j in 0..ho {
                    let mut acc = cb[[oc]];
                    for ch in 0..c {
                        for u in 0..k {
                            for v in 0..k {
                                acc += cw[[oc, ch, u, v]] * x[[s, ch, i + u, j + v]];
                            }
                        }
                    }
                    flat.push(acc.max(0.0));
                }
            }
        }
        for q in 0..classes {
            let mut acc = fb[[q]];
            for (t, hv) in flat.iter().enumerate() {
                acc += fw[[q, t]] * hv;
            }
            out[[s, q]] = acc;
        }
    }
    out
}

/// PyTorch-layout weights of the test model, f32-representable.
fn torch_weights() -> [ArrayD<f64>; 4] {
    let mut init = Initializer::new(21);
    let r = |a: ArrayD<f64>| a.mapv(|v| v as f32 as f64);
    [
        r(init.uniform(&[2, 1, 3, 3], 0.5)),
        r(init.uniform(&[2], 0.5)),
        r(init.uniform(&[3, 18], 0.5)),
        r(init.uniform(&[3], 0.5)),
    ]
}

#[test]
fn import_pytorch_layout() {
    let dir = tempfile::tempdir().unwrap();
    let [cw, cb, fw, fb] = torch_weights();
    let path = dir.path().join("torch.safetensors");
    // Mixed dtypes: F32 weights, F64 biases.
    write_safetensors(
        &path,
        &[
            ("conv1.weight", Dtype::F32, vec![2, 1, 3, 3], f32_bytes(&cw)),
            ("conv1.bias", Dtype::F64, vec![2], f64_bytes(&cb)),
            ("fc1.weight", Dtype::F32, vec![3, 18], f32_bytes(&fw)),
            ("fc1.bias", Dtype::F64, vec![3], f64_bytes(&fb)),
        ],
    );
    let imported = import_safetensors(&path).unwrap();
    assert_eq!(imported.len(), 4);
    let mut b = Plain::new();
    let mut m = model(&mut b, 0).unwrap();
    load_into(&mut b, &mut m, &imported, true).unwrap();
    assert_eq!(m.param("conv1.weight").unwrap().value.shape(), [9, 2]);
    assert_eq!(m.param("fc1.bias").unwrap().value.shape(), [1, 3]);
    // conv1.weight row (c, u, v) = c*9 + u*3 + v, column o.
    assert_eq!(
        m.param("conv1.weight").unwrap().value[[5, 1]],
        cw[[1, 0, 1, 2]]
    );
    let (x, _) = inputs();
    m.set_training(false);
    let got = m.forward(&mut b, &x).unwrap();
    let want = torch_reference(&x, &cw, &cb, &fw, &fb);
    assert!(max_diff(&got, &want) <= 1e-12, "{}", max_diff(&got, &want));

    // Without transpose_linear the same file is rejected, naming both shapes.
    let mut fresh = model(&mut b, 0).unwrap();
    let e = load_into(&mut b, &mut fresh, &imported, false).unwrap_err();
    let msg = params_message(&e);
    assert!(
        msg.contains("conv1.weight: the tensor has shape [2, 1, 3, 3], the model expects [9, 2]"),
        "{msg}"
    );
    assert!(
        msg.contains("fc1.weight: the tensor has shape [3, 18], the model expects [18, 3]"),
        "{msg}"
    );

    // An unsupported dtype is a typed error.
    let ints = dir.path().join("ints.safetensors");
    write_safetensors(&ints, &[("w", Dtype::I32, vec![2], vec![0; 8])]);
    let e = import_safetensors(&ints).unwrap_err();
    expect_params_error(
        &e,
        &ints,
        &["w has dtype I32; only F32, F64, F16 and BF16 are supported"],
    );
}

#[test]
fn private_model_from_its_owner_matches_plain() {
    let dir = tempfile::tempdir().unwrap();
    let [cw, cb, fw, fb] = torch_weights();
    let path = dir.path().join("torch.safetensors");
    write_safetensors(
        &path,
        &[
            ("conv1.weight", Dtype::F32, vec![2, 1, 3, 3], f32_bytes(&cw)),
            ("conv1.bias", Dtype::F32, vec![2], f32_bytes(&cb)),
            ("fc1.weight", Dtype::F32, vec![3, 18], f32_bytes(&fw)),
            ("fc1.bias", Dtype::F32, vec![3], f32_bytes(&fb)),
        ],
    );
    let (x, _) = inputs();
    // The plaintext twin on the same weights.
    let mut b = Plain::new();
    let mut pm = model(&mut b, 0).unwrap();
    load_into(&mut b, &mut pm, &import_safetensors(&path).unwrap(), true).unwrap();
    pm.set_training(false);
    let want = pm.forward(&mut b, &x).unwrap();
    let weights = plain_params(&pm);

    let out = dir.path().join("revealed.safetensors");
    let outs = run_3pc(|p| {
        mpc_nn::secure_session(p);
        let mut m = model(p, 0)?;
        // Only party 0 reads the file; it converts the PyTorch layout before sharing.
        let owned = if p.role() == 0 {
            let raw = import_safetensors(&path)?;
            Some(mpc_nn::io::match_to_model(&m, &raw, true)?)
        } else {
            None
        };
        input_model(p, 0, &mut m, owned.as_deref())?;
        let random_pairs = m.params().iter().all(|q| {
            let (a, b) = q.value.components();
            a.iter().chain(b.iter()).any(|&w| w != 0)
        });
        m.set_training(false);
        let sx = p.input_f64(1, (p.role() == 1).then_some(&x), x.shape())?;
        let y = m.forward(p, &sx)?;
        let y = p.reveal_f64(&y)?;
        let revealed = reveal_model_to(p, 2, &m)?;
        if let Some(ps) = &revealed {
            export_safetensors(&out, ps)?;
        }
        Ok((random_pairs, y, revealed.is_some()))
    })
    .unwrap();
    for (role, (random_pairs, y, got)) in outs.iter().enumerate() {
        assert!(
            random_pairs,
            "party {role}: input weights are not randomly shared"
        );
        assert!(
            max_diff(y, &want) <= 1e-2,
            "party {role}: {}",
            max_diff(y, &want)
        );
        assert_eq!(*got, role == 2);
    }
    // Party 2's export is the owner's model, to fixed-point precision.
    let exported = import_safetensors(&out).unwrap();
    for (name, v) in &weights {
        let (_, w) = exported.iter().find(|(n, _)| n == name).unwrap();
        assert!(max_diff(v, w) <= 1e-4, "{name}");
    }

    // A mis-shaped owner weight fails at the owner, before anything is sent.
    let e = run_3pc(|p| {
        let mut m = model_fc(p, 0, 4)?;
        let w = (p.role() == 0).then(|| weights.clone());
        input_model(p, 0, &mut m, w.as_deref())
    })
    .unwrap_err();
    let msg = params_message(&e);
    assert!(
        msg.contains("fc1.weight: the tensor has shape [18, 3], the model expects [18, 4]"),
        "{msg}"
    );
}
