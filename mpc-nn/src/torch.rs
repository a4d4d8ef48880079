//! libtorch interop through the `tch` crate (feature `torch`; needs libtorch 2.13, see
//! `scripts/torch-tests.sh`): a `tch` model's weights into a Trefoil model, and libtorch's
//! forward pass for comparison.
//!
//! A `tch::nn::Sequential` holds its layers as opaque closures, so Trefoil cannot read its
//! architecture: build the same network with Trefoil's layers, then take the weights from the
//! `VarStore` the `tch` model was built on, by name ([`NameMap`]): `tch` names a variable by
//! its path (`vs.root() / "fc1"` gives `fc1.weight`, `fc1.bias`), and `nn::linear` and
//! `nn::conv2d` store weights in PyTorch's layout (`out x in`, `C_out x C_in x k x k`), which
//! [`from_var_store`] converts.
//!
//! ```ignore
//! let vs = tch::nn::VarStore::new(tch::Device::Cpu);
//! let net = tch::nn::seq()
//!     .add(tch::nn::linear(vs.root() / "fc1", 64, 32, Default::default()))
//!     .add_fn(|x| x.relu())
//!     .add(tch::nn::linear(vs.root() / "out", 32, 10, Default::default()));
//! let mut b = mpc_nn::Plain::new();
//! let mut m = /* Trefoil layers fc1 (64 -> 32), act1 (ReLU), out (32 -> 10) */;
//! mpc_nn::torch::load_var_store(&mut b, &mut m, &vs, mpc_nn::io::NameMap::Same)?;
//! let theirs = mpc_nn::torch::torch_forward(&net, &x, tch::Kind::Float)?;
//! ```
//!
//! Data crosses as `f64` slices (`tch` uses ndarray 0.16, Trefoil 0.17).

use crate::backend::Backend;
use crate::error::{NnError, Result};
use crate::io::{NameMap, NamedTensors, from_pytorch, load_into};
use crate::module::Sequential;
use ndarray::{ArrayD, IxDyn};
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

/// A `tch` tensor (any device, any floating or integer kind) as an `f64` array of its shape.
pub fn tensor_to_array(t: &Tensor) -> Result<ArrayD<f64>> {
    let shape = t
        .size()
        .iter()
        .map(|&d| usize::try_from(d))
        .collect::<std::result::Result<Vec<usize>, _>>()
        .map_err(|e| NnError::shape("tensor_to_array", e.to_string()))?;
    let flat = t
        .f_to_device(Device::Cpu)?
        .f_to_kind(Kind::Double)?
        .f_contiguous()?
        .f_reshape([-1])?;
    let values = Vec::<f64>::try_from(&flat)?;
    ArrayD::from_shape_vec(IxDyn(&shape), values)
        .map_err(|e| NnError::shape("tensor_to_array", e.to_string()))
}

/// An `f64` array as a CPU `tch` tensor of the same shape and the given `kind` (e.g.
/// `Kind::Float`, what a `VarStore` holds by default).
pub fn array_to_tensor(a: &ArrayD<f64>, kind: Kind) -> Result<Tensor> {
    let shape: Vec<i64> = a
        .shape()
        .iter()
        .map(|&d| i64::try_from(d))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| NnError::shape("array_to_tensor", e.to_string()))?;
    let data: Vec<f64> = a.iter().copied().collect();
    Ok(Tensor::f_from_slice(&data)?
        .f_reshape(shape)?
        .f_to_kind(kind)?)
}

/// Every variable of `vs` by name (`tch`'s `.`-separated paths), in name order, as `f64`.
pub fn var_store_tensors(vs: &VarStore) -> Result<NamedTensors> {
    let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    vars.iter()
        .map(|(n, t)| Ok((n.clone(), tensor_to_array(t)?)))
        .collect()
}

/// `vs`'s variables matched to `model` as [`from_pytorch`] does: renamed by `names`,
/// converted from PyTorch's layout, every parameter present and no variable left over (errors
/// name the parameter). The result, in Trefoil's names and layout, is ready for
/// [`load_into`] (without transposition) or, for private weights, [`crate::io::input_model`].
pub fn from_var_store<B: Backend>(
    model: &Sequential<B>,
    vs: &VarStore,
    names: NameMap<'_>,
) -> Result<NamedTensors> {
    from_pytorch(model, &var_store_tensors(vs)?, names)
}

/// Sets `model`'s parameters to `vs`'s variables ([`from_var_store`]) as **public** constants
/// ([`load_into`]): on shares, every party learns the weights. On any error the model is
/// unchanged.
pub fn load_var_store<B: Backend>(
    b: &mut B,
    model: &mut Sequential<B>,
    vs: &VarStore,
    names: NameMap<'_>,
) -> Result<()> {
    let weights = from_var_store(model, vs, names)?;
    load_into(b, model, &weights, false)
}

/// libtorch's forward pass of `module` (a `tch::nn::Sequential`, any `Module` or `ModuleT`,
/// in evaluation mode) on `x`, entered as `kind` (the kind of the module's weights), without
/// gradients; the output as `f64`.
///
/// `tch` modules panic when libtorch fails (e.g. an input of the wrong shape): that panic is
/// caught and returned as [`NnError::Torch`] (the default panic hook still prints it).
pub fn torch_forward<M: ModuleT + ?Sized>(
    module: &M,
    x: &ArrayD<f64>,
    kind: Kind,
) -> Result<ArrayD<f64>> {
    let input = array_to_tensor(x, kind)?;
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        tch::no_grad(|| module.forward_t(&input, false))
    }))
    .map_err(|panic| {
        let msg = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "the module panicked".to_string());
        NnError::Torch(tch::TchError::Torch(msg))
    })?;
    tensor_to_array(&out)
}
