//! Models trained elsewhere: weights that PyTorch 2.13 itself saved with
//! `safetensors.torch.save_file(model.state_dict(), ...)` (`scripts/make_torch_fixtures.py`;
//! the files are in `tests/fixtures/torch/`), imported into Trefoil's `mlp` and `digits_cnn`,
//! run on the plaintext engine and on secret shares, and compared with PyTorch's own outputs.
//! No libtorch is needed: PyTorch's outputs are in the fixtures.
//!
//! Bounds: the plaintext engine (`f64`) matches PyTorch (`f32` arithmetic) within `1e-5`; the
//! secure forward (16 fractional bits, exact truncation, the weights private to party 0) is
//! within the worst-case fixed-point bound of `common::fixed_point_bound` of the plaintext
//! forward, and so within that bound plus `1e-5` of PyTorch.
#![allow(clippy::unwrap_used)]

#[path = "../mpc-nn/tests/common/mod.rs"]
mod common;
use common::{fixed_point_bound, max_diff};

use ndarray::ArrayD;
use std::path::{Path, PathBuf};
use trefoil::core::Party;
use trefoil::models::{MlpConfig, digits_cnn, mlp};
use trefoil::nn::io::{
    NameMap, NamedTensors, export_safetensors, from_pytorch, import_safetensors, input_model,
    load_into,
};
use trefoil::nn::{Backend, Module, NnError, Plain, Result, Sequential, run_3pc, secure_session};

/// Plaintext `f64` against PyTorch's `f32`.
const PLAIN_TOL: f64 = 1e-5;
/// The fixed-point settings of the secure runs (the harness default).
const FRAC_BITS: u32 = 16;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/torch")
        .join(name)
}

fn output(name: &str) -> ArrayD<f64> {
    let all = import_safetensors(&fixture("outputs.safetensors")).unwrap();
    all.into_iter().find(|(n, _)| n == name).unwrap().1
}

fn mlp_config() -> MlpConfig {
    MlpConfig::new(64, &[32, 16], 10)
}

fn params_message(e: &NnError) -> String {
    match e {
        NnError::Params(m) => m.clone(),
        other => panic!("expected a parameters error, got {other:?}"),
    }
}

/// The two PyTorch models of the fixtures.
#[derive(Debug, Clone, Copy)]
enum Net {
    /// `nn.Sequential(Linear(64, 32), ReLU, Linear(32, 16), ReLU, Linear(16, 10))`.
    Mlp,
    /// `digits_cnn` as an `nn.Module` with attributes `conv1`, `conv2`, `fc`.
    Cnn,
}

impl Net {
    fn build<B: Backend + 'static>(self, b: &mut B) -> Result<Sequential<B>> {
        match self {
            Net::Mlp => mlp(b, &mlp_config()),
            Net::Cnn => digits_cnn(b, 0),
        }
    }

    fn file(self) -> &'static str {
        match self {
            Net::Mlp => "mlp.safetensors",
            Net::Cnn => "cnn.safetensors",
        }
    }

    fn names(self) -> NameMap<'static> {
        match self {
            Net::Mlp => NameMap::SequentialIndex,
            Net::Cnn => NameMap::Same,
        }
    }

    /// PyTorch's inputs and outputs.
    fn io(self) -> (ArrayD<f64>, ArrayD<f64>) {
        let key = match self {
            Net::Mlp => "mlp",
            Net::Cnn => "cnn",
        };
        (output(&format!("{key}.x")), output(&format!("{key}.y")))
    }

    /// The plaintext model with PyTorch's weights, and the weights in Trefoil's layout.
    fn plain(self) -> (Sequential<Plain>, NamedTensors) {
        let mut b = Plain::new();
        let mut m = self.build(&mut b).unwrap();
        let raw = import_safetensors(&fixture(self.file())).unwrap();
        let weights = from_pytorch(&m, &raw, self.names()).unwrap();
        load_into(&mut b, &mut m, &weights, false).unwrap();
        m.set_training(false);
        (m, weights)
    }
}

/// Runs `net` with PyTorch's weights on PyTorch's inputs, in plaintext and on shares (party 0
/// owns the weights and enters them privately, party 1 owns the inputs); checks both against
/// PyTorch's outputs.
fn check_against_pytorch(net: Net) {
    let (x, want) = net.io();
    let (mut pm, _) = net.plain();
    let plain = pm.forward(&mut Plain::new(), &x).unwrap();
    let plain_err = max_diff(&plain, &want);
    let bound = fixed_point_bound(&mut pm, &x, FRAC_BITS);
    let outs = run_3pc(|p: &mut Party| {
        secure_session(p);
        assert_eq!(p.fixed_point().frac_bits(), FRAC_BITS);
        let mut m = net.build(p)?;
        // Only the owner reads the file and converts PyTorch's names and layout.
        let owned = if p.role() == 0 {
            let raw = import_safetensors(&fixture(net.file()))?;
            Some(from_pytorch(&m, &raw, net.names())?)
        } else {
            None
        };
        input_model(p, 0, &mut m, owned.as_deref())?;
        m.set_training(false);
        let sx = p.input_f64(1, (p.role() == 1).then_some(&x), x.shape())?;
        let y = m.forward(p, &sx)?;
        Ok(p.reveal_f64(&y)?)
    })
    .unwrap();
    let mut secure_err = 0.0f64;
    for (role, y) in outs.iter().enumerate() {
        let to_plain = max_diff(y, &plain);
        assert!(
            to_plain <= bound,
            "{net:?} party {role}: secure vs plain {to_plain} > bound {bound}"
        );
        secure_err = secure_err.max(max_diff(y, &want));
    }
    assert!(
        plain_err <= PLAIN_TOL,
        "{net:?}: plain vs PyTorch {plain_err}"
    );
    assert!(
        secure_err <= bound + PLAIN_TOL,
        "{net:?}: secure vs PyTorch {secure_err} > {}",
        bound + PLAIN_TOL
    );
    // The same classes as PyTorch on every input.
    let argmax = |a: &ArrayD<f64>| -> Vec<usize> {
        a.outer_iter()
            .map(|r| {
                r.iter()
                    .enumerate()
                    .fold(
                        (0, f64::MIN),
                        |(bi, bv), (i, &v)| if v > bv { (i, v) } else { (bi, bv) },
                    )
                    .0
            })
            .collect()
    };
    assert_eq!(argmax(&outs[0]), argmax(&want), "{net:?}: classes");
    eprintln!(
        "{net:?}: plain vs PyTorch {plain_err:.2e}, secure vs PyTorch {secure_err:.2e}, bound {bound:.2e}, |y| <= {:.2}",
        want.iter().fold(0.0f64, |m, v| m.max(v.abs()))
    );
}

#[test]
fn pytorch_mlp_from_sequential_indices_matches_pytorch() {
    check_against_pytorch(Net::Mlp);
    // The a-priori bound itself is small at 16 fractional bits.
}

#[test]
fn pytorch_cnn_from_module_names_matches_pytorch() {
    check_against_pytorch(Net::Cnn);
}

#[test]
fn half_precision_state_dicts_import_exactly() {
    let f32s = import_safetensors(&fixture("mlp.safetensors")).unwrap();
    let (x, want) = Net::Mlp.io();
    // Round to nearest: relative error at most 2^-8 (BF16, 8 significant bits) or 2^-11
    // (F16, 11 bits; 2^-25 absolute below F16's normal range).
    // The forward with the rounded weights, against PyTorch's with f32 weights: measured
    // 6.2e-4 (BF16) and 7.2e-5 (F16).
    for (file, rel, abs, tol) in [
        ("mlp_bf16.safetensors", 2f64.powi(-8), 0.0, 5e-3),
        ("mlp_f16.safetensors", 2f64.powi(-11), 2f64.powi(-25), 5e-4),
    ] {
        let half = import_safetensors(&fixture(file)).unwrap();
        assert_eq!(half.len(), f32s.len(), "{file}");
        for ((hn, h), (fname, f)) in half.iter().zip(&f32s) {
            assert_eq!((hn, h.shape()), (fname, f.shape()), "{file}");
            for (a, b) in h.iter().zip(f.iter()) {
                assert!(
                    (a - b).abs() <= rel * b.abs() + abs,
                    "{file} {hn}: {a} vs {b}"
                );
            }
        }
        let mut b = Plain::new();
        let mut m = Net::Mlp.build(&mut b).unwrap();
        let w = from_pytorch(&m, &half, NameMap::SequentialIndex).unwrap();
        load_into(&mut b, &mut m, &w, false).unwrap();
        m.set_training(false);
        let err = max_diff(&m.forward(&mut b, &x).unwrap(), &want);
        eprintln!("{file}: plain forward vs PyTorch (f32 weights) {err:.2e}");
        assert!(err <= tol, "{file}: {err}");
    }
}

/// Writes `tensors` (F32) and reads them back, as a user's edited `state_dict` file would be.
fn through_file(dir: &Path, tensors: &NamedTensors) -> NamedTensors {
    let path = dir.join("edited.safetensors");
    export_safetensors(&path, tensors).unwrap();
    import_safetensors(&path).unwrap()
}

fn zeros(shape: &[usize]) -> ArrayD<f64> {
    ArrayD::zeros(ndarray::IxDyn(shape))
}

#[test]
fn pytorch_import_errors_name_the_parameter() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = Plain::new();
    let m = Net::Mlp.build(&mut b).unwrap();
    let raw = import_safetensors(&fixture("mlp.safetensors")).unwrap();
    let err = |ts: &NamedTensors, names: NameMap<'_>| {
        params_message(&from_pytorch(&m, &through_file(dir.path(), ts), names).unwrap_err())
    };
    let seq = NameMap::SequentialIndex;

    let missing: NamedTensors = raw.iter().filter(|(n, _)| n != "2.bias").cloned().collect();
    let msg = err(&missing, seq);
    assert!(
        msg.contains("missing tensors: fc2.bias (2.bias in the file)"),
        "{msg}"
    );

    let mut shaped = raw.clone();
    shaped.iter_mut().find(|(n, _)| n == "2.weight").unwrap().1 = zeros(&[16, 33]);
    let msg = err(&shaped, seq);
    assert!(
        msg.contains(
            "fc2.weight (2.weight in the file): the tensor has shape [16, 33], the model expects [32, 16], i.e. PyTorch layout [16, 32]"
        ),
        "{msg}"
    );

    // Unknown tensors: at a layer without parameters, past the last layer, not an index.
    let mut extra = raw.clone();
    extra.push(("1.weight".into(), zeros(&[3])));
    extra.push(("5.weight".into(), zeros(&[3])));
    extra.push(("head.weight".into(), zeros(&[3])));
    let msg = err(&extra, seq);
    for part in [
        "1.weight: layer 1 of the model is act1 (ReLU), which has no parameter weight",
        "5.weight: the model has 5 layers (indices 0 to 4)",
        "head.weight: not an nn.Sequential name (index.parameter)",
    ] {
        assert!(msg.contains(part), "{part} not in {msg}");
    }

    // The Sequential's numbering read as Trefoil's names: all missing, all unknown.
    let msg = err(&raw, NameMap::Same);
    assert!(
        msg.contains("missing tensors: fc1.weight, fc1.bias"),
        "{msg}"
    );
    assert!(
        msg.contains("tensors the model has no parameter for: 0.bias"),
        "{msg}"
    );

    // Explicit prefixes do what the numbering does; a prefix onto no layer is an error.
    let prefixes = [("0", "fc1"), ("2", "fc2"), ("4", "out")];
    assert_eq!(
        from_pytorch(&m, &raw, NameMap::Prefixes(&prefixes)).unwrap(),
        from_pytorch(&m, &raw, seq).unwrap()
    );
    let msg = err(&raw, NameMap::Prefixes(&[("0", "fc9")]));
    assert!(
        msg.contains("prefix 0 -> fc9: the model has no layer fc9"),
        "{msg}"
    );

    // The CNN: a BatchNorm buffer left in the file is a tensor the model has no parameter for.
    let cnn = Net::Cnn.build(&mut b).unwrap();
    let mut with_bn = import_safetensors(&fixture("cnn.safetensors")).unwrap();
    with_bn.push(("bn1.running_mean".into(), zeros(&[16])));
    let e = from_pytorch(&cnn, &through_file(dir.path(), &with_bn), NameMap::Same).unwrap_err();
    let msg = params_message(&e);
    assert!(
        msg.contains("tensors the model has no parameter for: bn1.running_mean"),
        "{msg}"
    );

    // An integer buffer (BatchNorm's num_batches_tracked is I64) cannot be imported as weights.
    let path = dir.path().join("buffer.safetensors");
    let header = br#"{"num_batches_tracked":{"dtype":"I64","shape":[],"data_offsets":[0,8]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header);
    bytes.extend_from_slice(&7u64.to_le_bytes());
    std::fs::write(&path, bytes).unwrap();
    let msg = params_message(&import_safetensors(&path).unwrap_err());
    assert!(
        msg.contains("num_batches_tracked has dtype I64; only F32, F64, F16 and BF16"),
        "{msg}"
    );
}
