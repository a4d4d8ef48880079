//! libtorch interop (feature `torch`; run by `scripts/torch-tests.sh`): `tch` models built on a
//! `VarStore`, converted to Trefoil models, and Trefoil's plaintext and secure forwards compared
//! with libtorch's forward.
//!
//! Bounds: plaintext `f64` against libtorch's `f32` within `1e-5`; the secure forward (16
//! fractional bits, exact truncation) within `common::fixed_point_bound` of the plaintext
//! forward (the worst-case fixed-point error, derived there), so within that bound plus `1e-5`
//! of libtorch.
#![cfg(feature = "torch")]
#![allow(clippy::unwrap_used)]

mod common;
use common::{fixed_point_bound, max_diff};

use mpc_nn::init::Initializer;
use mpc_nn::io::{NameMap, input_model};
use mpc_nn::layers::{conv2d, flatten, linear, max_pool2d, relu};
use mpc_nn::torch::{
    array_to_tensor, from_var_store, load_var_store, tensor_to_array, torch_forward,
    var_store_tensors,
};
use mpc_nn::{Backend, InitScheme, Module, NnError, Plain, Result, Sequential, run_3pc};
use ndarray::{ArrayD, IxDyn};
use tch::nn::{self, VarStore};
use tch::{Device, Kind, Tensor};

const PLAIN_TOL: f64 = 1e-5;
const FRAC_BITS: u32 = 16;

/// Trefoil's 64-32-16-10 ReLU MLP: fc1, act1, fc2, act2, out.
fn trefoil_mlp<B: Backend + 'static>(b: &mut B) -> Result<Sequential<B>> {
    let mut init = Initializer::new(0);
    let k = InitScheme::Kaiming;
    Ok(Sequential::new()
        .add("fc1", linear(b, 64, 32, k, &mut init)?)
        .add("act1", relu())
        .add("fc2", linear(b, 32, 16, k, &mut init)?)
        .add("act2", relu())
        .add("out", linear(b, 16, 10, k, &mut init)?))
}

/// The same MLP in tch, its variables named like Trefoil's layers.
fn tch_mlp(vs: &VarStore) -> nn::Sequential {
    let root = vs.root();
    nn::seq()
        .add(nn::linear(&root / "fc1", 64, 32, Default::default()))
        .add_fn(|x| x.relu())
        .add(nn::linear(&root / "fc2", 32, 16, Default::default()))
        .add_fn(|x| x.relu())
        .add(nn::linear(&root / "out", 16, 10, Default::default()))
}

/// Trefoil's digits CNN (as `mpc_models::digits_cnn`): conv1, pool1, relu1, conv2, pool2,
/// relu2, flatten, fc.
fn trefoil_cnn<B: Backend + 'static>(b: &mut B) -> Result<Sequential<B>> {
    let mut init = Initializer::new(0);
    let k = InitScheme::Kaiming;
    Ok(Sequential::new()
        .add("conv1", conv2d(b, 1, 16, 3, 1, 1, k, &mut init)?)
        .add("pool1", max_pool2d(2, 2))
        .add("relu1", relu())
        .add("conv2", conv2d(b, 16, 32, 3, 1, 1, k, &mut init)?)
        .add("pool2", max_pool2d(2, 2))
        .add("relu2", relu())
        .add("flatten", flatten())
        .add("fc", linear(b, 128, 10, InitScheme::Xavier, &mut init)?))
}

/// The same CNN in tch, numbered as PyTorch's `nn.Sequential` numbers its modules
/// (conv 0, relu 1, pool 2, conv 3, relu 4, pool 5, flatten 6, linear 7).
fn tch_cnn(vs: &VarStore) -> nn::Sequential {
    let root = vs.root();
    let pad = nn::ConvConfig {
        padding: 1,
        ..Default::default()
    };
    nn::seq()
        .add(nn::conv2d(&root / "0", 1, 16, 3, pad))
        .add_fn(|x| x.relu())
        .add_fn(|x| x.max_pool2d_default(2))
        .add(nn::conv2d(&root / "3", 16, 32, 3, pad))
        .add_fn(|x| x.relu())
        .add_fn(|x| x.max_pool2d_default(2))
        .add_fn(|x| x.flatten(1, -1))
        .add(nn::linear(&root / "7", 128, 10, Default::default()))
}

/// Compares Trefoil's plaintext and secure forwards with libtorch's; `private` enters the
/// weights as party 0's secret shares, otherwise as public constants.
fn compare(
    build: fn(&mut Plain) -> Result<Sequential<Plain>>,
    build_secure: fn(&mut mpc_core::Party) -> Result<Sequential<mpc_core::Party>>,
    net: &nn::Sequential,
    vs: &VarStore,
    names: NameMap<'_>,
    x: &ArrayD<f64>,
    private: bool,
) {
    let theirs = torch_forward(net, x, Kind::Float).unwrap();
    let mut b = Plain::new();
    let mut pm = build(&mut b).unwrap();
    load_var_store(&mut b, &mut pm, vs, names).unwrap();
    pm.set_training(false);
    let plain = pm.forward(&mut b, x).unwrap();
    let plain_err = max_diff(&plain, &theirs);
    assert!(plain_err <= PLAIN_TOL, "plain vs libtorch {plain_err}");
    let bound = fixed_point_bound(&mut pm, x, FRAC_BITS);
    // tch tensors are not Sync: the owner's conversion happens before the parties start.
    let owned = from_var_store(&pm, vs, names).unwrap();
    let outs = run_3pc(|p| {
        mpc_nn::secure_session(p);
        let mut m = build_secure(p)?;
        if private {
            input_model(p, 0, &mut m, (p.role() == 0).then_some(owned.as_slice()))?;
        } else {
            mpc_nn::io::load_into(p, &mut m, &owned, false)?;
        }
        m.set_training(false);
        let sx = p.input_f64(1, (p.role() == 1).then_some(x), x.shape())?;
        let y = m.forward(p, &sx)?;
        Ok(p.reveal_f64(&y)?)
    })
    .unwrap();
    let mut secure_err = 0.0f64;
    for (role, y) in outs.iter().enumerate() {
        let d = max_diff(y, &plain);
        assert!(
            d <= bound,
            "party {role}: secure vs plain {d} > bound {bound}"
        );
        secure_err = secure_err.max(max_diff(y, &theirs));
    }
    assert!(
        secure_err <= bound + PLAIN_TOL,
        "secure vs libtorch {secure_err}"
    );
    eprintln!(
        "plain vs libtorch {plain_err:.2e}, secure vs libtorch {secure_err:.2e}, bound {bound:.2e}"
    );
}

#[test]
fn tch_mlp_secure_forward_matches_libtorch() {
    tch::manual_seed(1);
    let vs = VarStore::new(Device::Cpu);
    let net = tch_mlp(&vs);
    let x = Initializer::new(3).uniform(&[16, 64], 1.0);
    compare(
        trefoil_mlp,
        trefoil_mlp,
        &net,
        &vs,
        NameMap::Same,
        &x,
        false,
    );
}

#[test]
fn tch_cnn_numbered_like_nn_sequential_secure_forward_matches_libtorch() {
    tch::manual_seed(2);
    let vs = VarStore::new(Device::Cpu);
    let net = tch_cnn(&vs);
    let x = Initializer::new(4)
        .uniform(&[8, 1, 8, 8], 1.0)
        .mapv(|v| v.abs());
    compare(
        trefoil_cnn,
        trefoil_cnn,
        &net,
        &vs,
        NameMap::SequentialIndex,
        &x,
        true,
    );
}

#[test]
fn tensors_cross_as_slices() {
    let a = ArrayD::from_shape_vec(IxDyn(&[2, 3]), vec![1.0, -2.5, 3.0, 0.0, 1e-3, -7.0]).unwrap();
    let t = array_to_tensor(&a, Kind::Double).unwrap();
    assert_eq!(t.size(), [2, 3]);
    assert_eq!(tensor_to_array(&t).unwrap(), a);
    // Non-contiguous, integer, and 0-dimensional tensors.
    let tt = tensor_to_array(&t.tr()).unwrap();
    assert_eq!(tt, a.t().to_owned());
    let ints = tensor_to_array(&Tensor::from_slice(&[4i64, -5])).unwrap();
    assert_eq!(ints.as_slice().unwrap(), [4.0, -5.0]);
    let scalar = tensor_to_array(&Tensor::from(2.5f64)).unwrap();
    assert_eq!(scalar.shape(), [] as [usize; 0]);
    assert_eq!(scalar.iter().copied().collect::<Vec<_>>(), [2.5]);

    let vs = VarStore::new(Device::Cpu);
    let _net = tch_mlp(&vs);
    let names: Vec<String> = var_store_tensors(&vs)
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        names,
        [
            "fc1.bias",
            "fc1.weight",
            "fc2.bias",
            "fc2.weight",
            "out.bias",
            "out.weight"
        ]
    );
}

#[test]
fn tch_errors_are_values() {
    let vs = VarStore::new(Device::Cpu);
    let net = tch_mlp(&vs);
    // A model of another width: the parameter is named.
    let mut b = Plain::new();
    let mut init = Initializer::new(0);
    let narrow = Sequential::new()
        .add(
            "fc1",
            linear(&mut b, 64, 31, InitScheme::Kaiming, &mut init).unwrap(),
        )
        .add("act1", relu())
        .add(
            "fc2",
            linear(&mut b, 31, 16, InitScheme::Kaiming, &mut init).unwrap(),
        )
        .add("act2", relu())
        .add(
            "out",
            linear(&mut b, 16, 10, InitScheme::Kaiming, &mut init).unwrap(),
        );
    let e = from_var_store(&narrow, &vs, NameMap::Same).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("fc1.weight: the tensor has shape [32, 64], the model expects [64, 31]"),
        "{msg}"
    );
    // The CNN's numbered variables onto the MLP: every tensor is named.
    let vs2 = VarStore::new(Device::Cpu);
    let _cnn = tch_cnn(&vs2);
    let mlp = trefoil_mlp(&mut b).unwrap();
    let msg = from_var_store(&mlp, &vs2, NameMap::SequentialIndex)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("7.weight: the model has 5 layers"), "{msg}");
    assert!(
        msg.contains(
            "3.weight: layer 3 of the model is act2 (ReLU), which has no parameter weight"
        ),
        "{msg}"
    );
    // libtorch rejecting an input is an error, not a panic.
    let x = ArrayD::zeros(IxDyn(&[2, 63]));
    let e = torch_forward(&net, &x, Kind::Float).unwrap_err();
    assert!(matches!(e, NnError::Torch(_)), "{e:?}");
}
