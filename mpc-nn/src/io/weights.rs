//! Plaintext weights: revealing, exporting and importing safetensors, matching named tensors to
//! a model (optionally from PyTorch's layout), and entering them as constants or private
//! shares. Re-exported by [`crate::io`], whose module docs describe the policy.

use super::{
    NamedTensors, SHARES_FORMAT, canonical_header, corrupt, io_err, params_err, parse_safetensors,
    write_atomic,
};
use crate::backend::{Backend, Plain};
use crate::error::{NnError, Result};
use crate::module::{Module, Sequential};
use mpc_core::Party;
use ndarray::{ArrayD, IxDyn};
use safetensors::Dtype;
use safetensors::tensor::TensorView;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

/// Opens every parameter of `model` to party `to` only (one [`Party::reveal_to_f64`] per
/// parameter; all three parties call it): `to` gets `Some` of the values by parameter name, the
/// others `None` and learn nothing.
pub fn reveal_model_to(
    p: &mut Party,
    to: usize,
    model: &Sequential<Party>,
) -> Result<Option<NamedTensors>> {
    if to >= 3 {
        return Err(NnError::Params(format!(
            "cannot reveal to {to}: not a party (0, 1 or 2)"
        )));
    }
    let mut out = Vec::new();
    for q in model.params() {
        if let Some(v) = p.reveal_to_f64(to, &q.value)? {
            out.push((q.name.clone(), v));
        }
    }
    Ok((p.role() == to).then_some(out))
}

/// The parameters of a plaintext model by name (in the model's order).
pub fn plain_params(model: &Sequential<Plain>) -> NamedTensors {
    model
        .params()
        .iter()
        .map(|q| (q.name.clone(), q.value.clone()))
        .collect()
}

/// Writes plaintext weights to `path` as `F32` safetensors, under their names and in their
/// shapes (atomically, as [`save_shares`](super::save_shares)). This is the only way a model leaves the parties in
/// the clear: reveal it first with [`reveal_model_to`].
pub fn export_safetensors(path: &Path, params: &[(String, ArrayD<f64>)]) -> Result<()> {
    export_safetensors_with_meta(path, params, &[])
}

/// [`export_safetensors`] with the caller's own public metadata entries `(key, value)`, stored
/// as `meta.key` and read back by [`safetensors_meta`].
pub fn export_safetensors_with_meta(
    path: &Path,
    params: &[(String, ArrayD<f64>)],
    user_meta: &[(&str, &str)],
) -> Result<()> {
    let mut seen = BTreeSet::new();
    let mut data: Vec<(&str, Vec<usize>, Vec<u8>)> = Vec::with_capacity(params.len());
    for (name, v) in params {
        if !seen.insert(name.as_str()) {
            return Err(params_err(path, format!("two tensors named {name}")));
        }
        let mut bytes = Vec::with_capacity(v.len() * 4);
        for &x in v.iter() {
            let y = x as f32;
            if x.is_finite() && !y.is_finite() {
                return Err(params_err(
                    path,
                    format!("{name}: {x} does not fit in an f32"),
                ));
            }
            bytes.extend(y.to_le_bytes());
        }
        data.push((name, v.shape().to_vec(), bytes));
    }
    let mut views = Vec::with_capacity(data.len());
    for (n, s, d) in &data {
        let v = TensorView::new(Dtype::F32, s.clone(), d)
            .map_err(|e| params_err(path, format!("{n}: {e}")))?;
        views.push((n.to_string(), v));
    }
    let mut meta = HashMap::from([
        ("format".to_string(), "pt".to_string()),
        (
            "trefoil.layout".to_string(),
            "Linear weight in x out; Conv2d weight C_in*k*k x C_out; bias 1 x out".to_string(),
        ),
    ]);
    for (k, v) in user_meta {
        meta.insert(format!("{}{k}", super::USER_META), (*v).to_string());
    }
    let bytes = safetensors::serialize(views, Some(meta))
        .map_err(|e| params_err(path, format!("cannot serialise: {e}")))?;
    write_atomic(path, &canonical_header(path, bytes)?, false)
}

/// An IEEE 754 half-precision value (binary16 bits) as `f64`, exactly.
fn f16_to_f64(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((h >> 10) & 0x1f);
    let mant = f64::from(h & 0x3ff);
    sign * match exp {
        0 => mant * 2f64.powi(-24),
        0x1f if mant == 0.0 => f64::INFINITY,
        0x1f => f64::NAN,
        e => (1.0 + mant / 1024.0) * 2f64.powi(e - 15),
    }
}

/// The caller's own metadata entries of a weights file written by
/// [`export_safetensors_with_meta`], by key (empty for a file without any, e.g. PyTorch's).
pub fn safetensors_meta(path: &Path) -> Result<std::collections::BTreeMap<String, String>> {
    let bytes = std::fs::read(path).map_err(|e| io_err(path, e))?;
    let (header, _) = parse_safetensors(path, &bytes)?;
    Ok(header
        .metadata()
        .as_ref()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| {
                    k.strip_prefix(super::USER_META)
                        .map(|k| (k.to_string(), v.clone()))
                })
                .collect()
        })
        .unwrap_or_default())
}

/// Reads every tensor of a safetensors file as `f64`, in file order: `F32` and `F64`, and the
/// half-precision `F16` and `BF16` of a PyTorch model saved after `.half()` / `.bfloat16()`
/// (all converted exactly). Other dtypes (integers, e.g. a `num_batches_tracked` buffer) are an
/// error naming the tensor.
pub fn import_safetensors(path: &Path) -> Result<NamedTensors> {
    let bytes = std::fs::read(path).map_err(|e| io_err(path, e))?;
    let (header, st) = parse_safetensors(path, &bytes)?;
    let is_shares = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get("format"))
        .is_some_and(|f| f == SHARES_FORMAT);
    let mut out = Vec::new();
    for name in header.offset_keys() {
        let view = st.tensor(&name).map_err(|e| corrupt(path, e))?;
        let data = view.data();
        let values: Vec<f64> = match view.dtype() {
            Dtype::F32 => data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
                .collect(),
            Dtype::F64 => data
                .chunks_exact(8)
                .map(|c| {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(c);
                    f64::from_le_bytes(b)
                })
                .collect(),
            Dtype::F16 => data
                .chunks_exact(2)
                .map(|c| f16_to_f64(u16::from_le_bytes([c[0], c[1]])))
                .collect(),
            Dtype::BF16 => data
                .chunks_exact(2)
                .map(|c| f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16) as f64)
                .collect(),
            other => {
                let hint = if is_shares {
                    " (this is a Trefoil share file: read it with load_shares)"
                } else {
                    ""
                };
                return Err(params_err(
                    path,
                    format!(
                        "{name} has dtype {other:?}; only F32, F64, F16 and BF16 are supported{hint}"
                    ),
                ));
            }
        };
        let a = ArrayD::from_shape_vec(IxDyn(view.shape()), values)
            .map_err(|e| params_err(path, format!("{name}: {e}")))?;
        out.push((name, a));
    }
    Ok(out)
}

/// `v` in the model's layout `want`, if it fits (see [`match_to_model`]).
fn fit_shape(name: &str, want: &[usize], v: &ArrayD<f64>, transpose: bool) -> Option<ArrayD<f64>> {
    let is_weight = name == "weight" || name.ends_with(".weight");
    if transpose && is_weight && want.len() == 2 {
        let (rows, cols) = (want[0], want[1]);
        let s = v.shape();
        return match s.len() {
            // PyTorch Linear: out x in.
            2 if s == [cols, rows] => Some(v.t().as_standard_layout().into_owned()),
            // PyTorch Conv2d: C_out x C_in x k x k; row-major flattening of (C_in, k, k) is the
            // (c, u, v) row order of Trefoil's C_in k k x C_out.
            4 if s[0] == cols && s[1] * s[2] * s[3] == rows => {
                let m = v
                    .as_standard_layout()
                    .into_owned()
                    .into_shape_with_order(IxDyn(&[cols, rows]))
                    .ok()?;
                Some(m.t().as_standard_layout().into_owned())
            }
            _ => None,
        };
    }
    if v.shape() == want {
        return Some(v.clone());
    }
    if want.len() == 2 && want[0] == 1 && v.ndim() == 1 && v.len() == want[1] {
        return v.clone().into_shape_with_order(IxDyn(want)).ok();
    }
    None
}

/// The layout a tensor for a parameter of shape `want` may have, for error messages.
fn accepted(name: &str, want: &[usize], transpose: bool) -> String {
    let is_weight = name == "weight" || name.ends_with(".weight");
    if transpose && is_weight && want.len() == 2 {
        format!(
            "the model expects {want:?}, i.e. PyTorch layout [{}, {}] (Linear, out x in) or [{}, C_in, k, k] with C_in*k*k = {} (Conv2d)",
            want[1], want[0], want[1], want[0]
        )
    } else if want.len() == 2 && want[0] == 1 {
        format!("the model expects {want:?} (or [{}])", want[1])
    } else {
        format!("the model expects {want:?}")
    }
}

/// Matches named tensors to `model`'s parameters: every parameter must have a tensor of its
/// name, no tensor may be left over, and each tensor must fit the parameter's shape. Returns
/// the tensors in the model's parameter order and layout. A tensor of shape `[out]` fits a
/// `[1, out]` bias; with `transpose_linear`, every 2-D `weight` is expected in PyTorch's layout:
/// `out x in` (Linear, transposed to Trefoil's `in x out`) or `C_out x C_in x k x k` (Conv2d,
/// reshaped and transposed to `C_in k k x C_out` with rows ordered `(c, u, v)`).
pub fn match_to_model<B: Backend>(
    model: &Sequential<B>,
    params: &[(String, ArrayD<f64>)],
    transpose_linear: bool,
) -> Result<NamedTensors> {
    match_inner(model, params, transpose_linear, &HashMap::new())
}

/// `name`, followed by the file's name for it when that differs.
fn label(name: &str, file_names: &HashMap<String, String>) -> String {
    match file_names.get(name) {
        Some(f) if f != name => format!("{name} ({f} in the file)"),
        _ => name.to_string(),
    }
}

/// [`match_to_model`], naming each tensor in the errors also by its name in the file
/// (`file_names`: model-side name to file name).
fn match_inner<B: Backend>(
    model: &Sequential<B>,
    params: &[(String, ArrayD<f64>)],
    transpose_linear: bool,
    file_names: &HashMap<String, String>,
) -> Result<NamedTensors> {
    let mut by_name: HashMap<&str, &ArrayD<f64>> = HashMap::new();
    for (n, v) in params {
        if by_name.insert(n.as_str(), v).is_some() {
            return Err(NnError::Params(format!(
                "two tensors named {}",
                label(n, file_names)
            )));
        }
    }
    let model_params: Vec<(String, Vec<usize>)> = model
        .params()
        .iter()
        .map(|p| (p.name.clone(), B::shape_of(&p.value)))
        .collect();
    let mut problems = Vec::new();
    let missing: Vec<String> = model_params
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| !by_name.contains_key(n))
        .map(|n| label(n, file_names))
        .collect();
    if !missing.is_empty() {
        problems.push(format!("missing tensors: {}", missing.join(", ")));
    }
    let known: BTreeSet<&str> = model_params.iter().map(|(n, _)| n.as_str()).collect();
    let extra: Vec<String> = params
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| !known.contains(n))
        .map(|n| label(n, file_names))
        .collect();
    if !extra.is_empty() {
        problems.push(format!(
            "tensors the model has no parameter for: {}",
            extra.join(", ")
        ));
    }
    let mut out = Vec::with_capacity(model_params.len());
    for (name, want) in &model_params {
        let Some(v) = by_name.get(name.as_str()) else {
            continue;
        };
        match fit_shape(name, want, v, transpose_linear) {
            Some(a) => out.push((name.clone(), a)),
            None => problems.push(format!(
                "{}: the tensor has shape {:?}, {}",
                label(name, file_names),
                v.shape(),
                accepted(name, want, transpose_linear)
            )),
        }
    }
    if !problems.is_empty() {
        return Err(NnError::Params(problems.join("; ")));
    }
    Ok(out)
}

/// How the tensor names of a file (e.g. a PyTorch `state_dict`) map to a model's parameter
/// names, for [`rename_to_model`] and [`from_pytorch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameMap<'a> {
    /// The file uses the model's names (`fc1.weight`, `conv2.bias`): Trefoil's own export, or
    /// a PyTorch `nn.Module` whose attributes are named like the Trefoil layers.
    Same,
    /// A PyTorch `nn.Sequential`'s numbering: `i.weight` is the weight of the model's layer `i`,
    /// counting every layer (activations, pooling and flatten included) from 0, as
    /// `nn.Sequential` numbers its modules. The Trefoil model must list its layers in the same
    /// order (a ReLU and a max-pooling may be swapped, since they commute).
    SequentialIndex,
    /// Explicit layer prefixes `(file prefix, model layer)`: with `("features.0", "conv1")`,
    /// `features.0.weight` becomes `conv1.weight`. The longest matching prefix wins; a tensor
    /// under no prefix keeps its name.
    Prefixes(&'a [(&'a str, &'a str)]),
}

/// Renames; also returns, for error messages, each model-side name's name in the file.
fn rename_inner<B: Backend>(
    model: &Sequential<B>,
    params: &[(String, ArrayD<f64>)],
    names: NameMap<'_>,
) -> Result<(NamedTensors, HashMap<String, String>)> {
    let layers = model.layers();
    let model_params: Vec<String> = model.params().iter().map(|p| p.name.clone()).collect();
    let mut file_names = HashMap::new();
    let mut problems = Vec::new();
    let mut out = Vec::with_capacity(params.len());
    match names {
        NameMap::Same => out = params.to_vec(),
        NameMap::SequentialIndex => {
            for (i, (layer, _)) in layers.iter().enumerate() {
                for q in &model_params {
                    if let Some(rest) = q
                        .strip_prefix(layer.as_str())
                        .and_then(|r| r.strip_prefix('.'))
                    {
                        file_names.insert(q.clone(), format!("{i}.{rest}"));
                    }
                }
            }
            for (n, v) in params {
                let Some((idx, rest)) = n.split_once('.') else {
                    problems.push(format!("{n}: not an nn.Sequential name (index.parameter)"));
                    continue;
                };
                let Ok(i) = idx.parse::<usize>() else {
                    problems.push(format!("{n}: not an nn.Sequential name (index.parameter)"));
                    continue;
                };
                let Some((layer, kind)) = layers.get(i) else {
                    problems.push(format!(
                        "{n}: the model has {} layers (indices 0 to {})",
                        layers.len(),
                        layers.len().saturating_sub(1)
                    ));
                    continue;
                };
                let new = format!("{layer}.{rest}");
                if !model_params.contains(&new) {
                    problems.push(format!(
                        "{n}: layer {i} of the model is {layer} ({kind}), which has no parameter {rest}"
                    ));
                    continue;
                }
                file_names.insert(new.clone(), n.clone());
                out.push((new, v.clone()));
            }
        }
        NameMap::Prefixes(map) => {
            for (from, to) in map {
                if !layers.iter().any(|(l, _)| l == to) {
                    problems.push(format!(
                        "prefix {from} -> {to}: the model has no layer {to}"
                    ));
                }
                for q in &model_params {
                    if let Some(rest) = q.strip_prefix(to).and_then(|r| r.strip_prefix('.')) {
                        file_names.insert(q.clone(), format!("{from}.{rest}"));
                    }
                }
            }
            for (n, v) in params {
                let best = map
                    .iter()
                    .filter_map(|(from, to)| {
                        let rest = n.strip_prefix(from)?.strip_prefix('.')?;
                        Some((from.len(), format!("{to}.{rest}")))
                    })
                    .max_by_key(|(len, _)| *len);
                match best {
                    Some((_, new)) => {
                        file_names.insert(new.clone(), n.clone());
                        out.push((new, v.clone()));
                    }
                    None => out.push((n.clone(), v.clone())),
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(NnError::Params(problems.join("; ")));
    }
    Ok((out, file_names))
}

/// The named tensors renamed to `model`'s parameter names by `names` (values and shapes
/// unchanged). A name that `names` cannot map onto a parameter of the model is an error naming
/// the tensor (for [`NameMap::SequentialIndex`]: not `index.parameter`, an index past the last
/// layer, or a layer without that parameter).
pub fn rename_to_model<B: Backend>(
    model: &Sequential<B>,
    params: &[(String, ArrayD<f64>)],
    names: NameMap<'_>,
) -> Result<NamedTensors> {
    rename_inner(model, params, names).map(|(out, _)| out)
}

/// A PyTorch `state_dict` (e.g. read with [`import_safetensors`] from the file that
/// `safetensors.torch.save_file(model.state_dict(), path)` writes) matched to `model`: renamed
/// by `names` ([`rename_to_model`]), then matched in PyTorch's layout ([`match_to_model`] with
/// `transpose_linear`). Returns the tensors in Trefoil's names, order and layout, ready for
/// [`load_into`] (without transposition) or [`input_model`].
///
/// The match is strict: every parameter needs its tensor, and a tensor left over (e.g. the
/// buffers of a layer Trefoil does not have, such as BatchNorm's `running_mean`) is an error.
/// Every error names the model's parameter and the file's tensor.
pub fn from_pytorch<B: Backend>(
    model: &Sequential<B>,
    params: &[(String, ArrayD<f64>)],
    names: NameMap<'_>,
) -> Result<NamedTensors> {
    let (renamed, file_names) = rename_inner(model, params, names)?;
    match_inner(model, &renamed, true, &file_names)
}

/// Sets `model`'s parameters to the named tensors (see [`match_to_model`] for the matching and
/// `transpose_linear`), as **public** constants ([`Backend::constant`]): on shares, every party
/// learns the weights. For a private model use [`input_model`]. On any error (including a
/// value the fixed-point encoding rejects) the model is unchanged.
pub fn load_into<B: Backend>(
    b: &mut B,
    model: &mut Sequential<B>,
    params: &[(String, ArrayD<f64>)],
    transpose_linear: bool,
) -> Result<()> {
    let matched = match_to_model(model, params, transpose_linear)?;
    let mut values = Vec::with_capacity(matched.len());
    for (name, v) in &matched {
        values.push((name, b.constant(v)?));
    }
    for (name, t) in values {
        model.set_param(name, t)?;
    }
    Ok(())
}

/// Enters `owner`'s private weights into `model` as secret shares (one
/// [`Party::input_f64`] per parameter; all three parties call it). The owner passes
/// `Some(params)` (in Trefoil's layout, matched by name as [`match_to_model`] without
/// transposition; convert PyTorch weights first with [`match_to_model`]), the others `None`.
/// Only the shapes, the model's own, are public. The owner checks its weights before anything
/// is sent, so a mismatch fails there first (the others then see a disconnect).
pub fn input_model(
    p: &mut Party,
    owner: usize,
    model: &mut Sequential<Party>,
    params: Option<&[(String, ArrayD<f64>)]>,
) -> Result<()> {
    if owner >= 3 {
        return Err(NnError::Params(format!(
            "owner {owner} is not a party (0, 1 or 2)"
        )));
    }
    let is_owner = p.role() == owner;
    let values = match (is_owner, params) {
        (true, Some(ps)) => Some(match_to_model(model, ps, false)?),
        (true, None) => {
            return Err(NnError::Params(format!(
                "party {owner} owns the weights but passed none"
            )));
        }
        (false, Some(_)) => {
            return Err(NnError::Params(format!(
                "party {} passed weights, but party {owner} owns them",
                p.role()
            )));
        }
        (false, None) => None,
    };
    let shapes: Vec<(String, Vec<usize>)> = model
        .params()
        .iter()
        .map(|q| (q.name.clone(), q.value.shape().to_vec()))
        .collect();
    let mut shares = Vec::with_capacity(shapes.len());
    for (i, (name, shape)) in shapes.iter().enumerate() {
        let v = values.as_ref().map(|vs| &vs[i].1);
        shares.push((name, p.input_f64(owner, v, shape)?));
    }
    for (name, s) in shares {
        model.set_param(name, s)?;
    }
    Ok(())
}
