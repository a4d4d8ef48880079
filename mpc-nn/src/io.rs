//! Model files: each party's own shares (checkpoints), and plaintext weights in safetensors.
//!
//! ## Share files: [`save_shares`], [`load_shares`]
//! Each party writes **its own** file: for every parameter `N` of the model (and every extra
//! tensor, e.g. optimizer state from [`crate::optim::Optimizer::state`]) the two ring components
//! it holds, as `U64` tensors `N.s0` and `N.s1` of the parameter's shape, in a safetensors file.
//! The header's metadata records:
//!
//! | key | value |
//! |---|---|
//! | `format`, `version` | `trefoil-shares`, `1` |
//! | `role` | the party (0, 1 or 2) whose components these are |
//! | `job` | the caller's job id; make it name the checkpoint (e.g. `run7/epoch3`) |
//! | `kind.N` | `param` (a model parameter) or `extra` |
//! | `frac_bits.N` | the fixed-point scale of `N` |
//! | `meta.K` | the caller's own public entries ([`save_shares_with_meta`], read back by [`share_file_meta`]), e.g. `meta.features`: the hash of the training columns' names |
//! | `checksum` | `crc32:` and a CRC-32 over every other metadata entry and every tensor's name, dtype, shape and bytes |
//!
//! Loading checks, in order: the safetensors structure (a truncated file fails here), the format
//! and version, the checksum (a flipped byte anywhere in the data or the metadata fails here),
//! then the role and job against the caller's, then that the parameters are exactly the
//! model's, with the model's shapes and fractional bits. Every failure is a
//! [`NnError::Params`] naming the file and the problem (an operating-system failure is a
//! [`NnError::Io`]), and nothing of the model is changed unless the whole file is accepted.
//! The checksum detects accidental corruption; it is not a signature and does not stop a
//! deliberate forgery.
//!
//! Files are written atomically: to a temporary file in the same directory, flushed to disk
//! (`fsync`), then renamed over the target (and the directory synced). A failed save leaves no
//! partial file behind, and a previous file at the target intact. On Unix a share file is
//! created readable and writable by its owner only (mode `0600`).
//!
//! **What a share file reveals.** Party `i`'s file holds its pair `(x_i, x_{i+1})` of each
//! tensor. For a tensor computed by the protocols (any parameter after an optimizer update,
//! optimizer state, a model entered with [`input_model`]) that pair is uniformly random and
//! independent of the secret, so one file alone reveals nothing beyond the public metadata
//! (names, shapes, scales, role, job). Two parties' files together hold all three components and
//! reconstruct the model: keep each file with its party. A parameter made from a **public
//! constant** ([`Backend::constant`](crate::Backend::constant): the seeded initial weights, or [`load_into`]) is not
//! randomly shared: its sharing is `(c, 0, 0)`, so party 1's pair is zero and parties 0 and 2
//! hold the public value `c` in the clear (as `s0` and `s1` respectively), until the first
//! update of that parameter re-randomises it. Such a file reveals nothing secret (`c` is public),
//! but it does show which parameters have not been trained.
//!
//! ## Plaintext weights: [`export_safetensors`], [`import_safetensors`], [`load_into`]
//! Revealing a model is never implicit: [`reveal_model_to`] opens every parameter to one party
//! (the others learn nothing) and [`export_safetensors`] writes `f32` tensors under the
//! parameter names, in Trefoil's layout (`Linear` weights `in x out`, `Conv2d` weights
//! `C_in k k x C_out`, biases `1 x out`). [`import_safetensors`] reads `F32`, `F64`, `F16` or
//! `BF16` tensors, and [`load_into`] maps them onto a model by parameter name, optionally from
//! PyTorch's layout.
//!
//! ## PyTorch `state_dict`s: [`from_pytorch`], [`NameMap`]
//! `safetensors.torch.save_file(model.state_dict(), path)` writes what [`import_safetensors`]
//! reads. [`from_pytorch`] renames the tensors onto the model's parameters ([`NameMap::Same`]
//! for attributes named like the Trefoil layers, [`NameMap::SequentialIndex`] for an
//! `nn.Sequential`'s `0.weight`, `2.bias`, ..., or explicit [`NameMap::Prefixes`]) and converts
//! PyTorch's layout (Linear `out x in`, Conv2d `C_out x C_in x k x k`). The match is strict:
//! a missing tensor, a mis-shaped one and one the model has no parameter for (e.g. a BatchNorm
//! buffer) are errors naming both the model's parameter and the file's tensor.
//!
//! [`load_into`] enters the weights with [`Backend::constant`](crate::Backend::constant): **the weights become public**,
//! known to all three parties. For a private model, its owner enters the weights as secret
//! shares with [`input_model`] (the owner passes the weights, the others `None`); only the
//! shapes, which are the model's own, are public.

use crate::error::{NnError, Result};
use crate::module::{Module, Sequential};
use mpc_core::{AShare, Party};
use ndarray::{ArrayD, IxDyn};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The `format` metadata value of a share file.
pub const SHARES_FORMAT: &str = "trefoil-shares";
/// The share-file format version this build writes and reads.
pub const SHARES_VERSION: u32 = 1;

/// Plaintext tensors by name, e.g. a revealed or imported model's parameters.
pub type NamedTensors = Vec<(String, ArrayD<f64>)>;

const KIND_PARAM: &str = "param";
const KIND_EXTRA: &str = "extra";

fn io_err(path: &Path, source: std::io::Error) -> NnError {
    NnError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The header and tensors of a safetensors file's `bytes`; a truncated or corrupt file is an
/// error naming `path`.
fn parse_safetensors<'a>(
    path: &Path,
    bytes: &'a [u8],
) -> Result<(safetensors::tensor::Metadata, SafeTensors<'a>)> {
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| corrupt(path, e))?;
    let st = SafeTensors::deserialize(bytes).map_err(|e| corrupt(path, e))?;
    Ok((header, st))
}

/// A truncated or corrupt safetensors file.
fn corrupt(path: &Path, e: safetensors::SafeTensorError) -> NnError {
    params_err(
        path,
        format!("not a valid safetensors file (truncated or corrupt): {e}"),
    )
}

fn params_err(path: &Path, detail: impl std::fmt::Display) -> NnError {
    NnError::Params(format!("{}: {detail}", path.display()))
}

// ---------------------------------------------------------------------------------------------
// Atomic writes

/// Writes `bytes` to `path` through a temporary file in the same directory: write, fsync,
/// rename, sync the directory. On failure the temporary file is removed. A `private` file is
/// readable by its owner only (on Unix).
fn write_atomic(path: &Path, bytes: &[u8], private: bool) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().ok_or_else(|| {
        io_err(
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "no file name"),
        )
    })?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(
        ".{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let tmp = dir.join(tmp_name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(&tmp).map_err(|e| io_err(path, e))?;
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| {
            drop(file);
            std::fs::rename(&tmp, path)
        });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_err(path, e));
    }
    #[cfg(unix)]
    std::fs::File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err(path, e))?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Share files

/// `bytes` (a serialised safetensors file) with its JSON header's keys in sorted order, so
/// that the same tensors and metadata always give the same bytes (`safetensors` writes the
/// metadata from a `HashMap`, in an order that changes from process to process). The data
/// part is unchanged: its offsets are relative to the end of the header.
fn canonical_header(path: &Path, bytes: Vec<u8>) -> Result<Vec<u8>> {
    use serde_json::Value;
    let bad = |detail: String| params_err(path, format!("cannot serialise: {detail}"));
    let n = bytes
        .get(..8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_le_bytes)
        .and_then(|n| usize::try_from(n).ok())
        .filter(|&n| bytes.len() >= 8 + n)
        .ok_or_else(|| bad("no header".into()))?;
    let mut header: BTreeMap<String, Value> =
        serde_json::from_slice(&bytes[8..8 + n]).map_err(|e| bad(e.to_string()))?;
    if let Some(meta) = header.get_mut("__metadata__") {
        let sorted: BTreeMap<String, String> =
            serde_json::from_value(meta.take()).map_err(|e| bad(e.to_string()))?;
        *meta = serde_json::to_value(sorted).map_err(|e| bad(e.to_string()))?;
    }
    let mut head = serde_json::to_vec(&header).map_err(|e| bad(e.to_string()))?;
    head.resize(head.len().next_multiple_of(8), b' ');
    let mut out = Vec::with_capacity(8 + head.len() + bytes.len() - 8 - n);
    out.extend((head.len() as u64).to_le_bytes());
    out.extend(head);
    out.extend(&bytes[8 + n..]);
    Ok(out)
}

fn feed(crc: &mut flate2::Crc, bytes: &[u8]) {
    crc.update(&(bytes.len() as u64).to_le_bytes());
    crc.update(bytes);
}

/// The checksum over the metadata (without `checksum`) and the tensors, in name order.
fn checksum<'a>(
    meta: &BTreeMap<String, String>,
    tensors: impl IntoIterator<Item = (&'a str, Dtype, &'a [usize], &'a [u8])>,
) -> String {
    let mut crc = flate2::Crc::new();
    for (k, v) in meta {
        if k != "checksum" {
            feed(&mut crc, k.as_bytes());
            feed(&mut crc, v.as_bytes());
        }
    }
    let mut ts: Vec<_> = tensors.into_iter().collect();
    ts.sort_by(|a, b| a.0.cmp(b.0));
    for (name, dtype, shape, data) in ts {
        feed(&mut crc, name.as_bytes());
        feed(&mut crc, format!("{dtype:?}").as_bytes());
        let dims: Vec<u8> = shape
            .iter()
            .flat_map(|&d| (d as u64).to_le_bytes())
            .collect();
        feed(&mut crc, &dims);
        feed(&mut crc, data);
    }
    format!("crc32:{:08x}", crc.sum())
}

fn words_to_bytes(a: &ArrayD<u64>) -> Vec<u8> {
    a.iter().flat_map(|w| w.to_le_bytes()).collect()
}

fn bytes_to_words(shape: &[usize], data: &[u8]) -> Option<ArrayD<u64>> {
    let words = data
        .chunks_exact(8)
        .map(|c| {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            u64::from_le_bytes(b)
        })
        .collect();
    ArrayD::from_shape_vec(IxDyn(shape), words).ok()
}

/// Writes this party's shares of `model`'s parameters, and the `extra` tensors (e.g. the
/// optimizer's [`state`](crate::optim::Optimizer::state)), to `path` (see the module docs for
/// the format and what the file reveals). `role` is this party's role, `job` an id that
/// [`load_shares`] must be given back (make it name the checkpoint).
pub fn save_shares(
    path: &Path,
    role: usize,
    job: &str,
    model: &Sequential<Party>,
    extra: &[(String, &AShare)],
) -> Result<()> {
    save_shares_with_meta(path, role, job, model, extra, &[])
}

/// [`save_shares`] with the caller's own public metadata entries `(key, value)`, stored as
/// `meta.key` (covered by the checksum) and read back by [`share_file_meta`]. They must not
/// hold secrets: the metadata is plaintext.
pub fn save_shares_with_meta(
    path: &Path,
    role: usize,
    job: &str,
    model: &Sequential<Party>,
    extra: &[(String, &AShare)],
    user_meta: &[(&str, &str)],
) -> Result<()> {
    if role >= 3 {
        return Err(params_err(
            path,
            format!("role {role} is not a party (0, 1 or 2)"),
        ));
    }
    let mut entries: Vec<(&str, &str, &AShare)> = Vec::new();
    for p in model.params() {
        entries.push((&p.name, KIND_PARAM, &p.value));
    }
    for (name, t) in extra {
        entries.push((name, KIND_EXTRA, t));
    }
    let mut seen = BTreeSet::new();
    for (name, kind, _) in &entries {
        if !seen.insert(*name) {
            return Err(params_err(
                path,
                format!(
                    "two tensors named {name} (the second one is {})",
                    if *kind == KIND_PARAM {
                        "a parameter"
                    } else {
                        "an extra tensor"
                    }
                ),
            ));
        }
    }
    let mut meta = BTreeMap::new();
    meta.insert("format".to_string(), SHARES_FORMAT.to_string());
    meta.insert("version".to_string(), SHARES_VERSION.to_string());
    meta.insert("role".to_string(), role.to_string());
    meta.insert("job".to_string(), job.to_string());
    for (k, v) in user_meta {
        meta.insert(format!("{USER_META}{k}"), (*v).to_string());
    }
    let mut data: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (name, kind, t) in &entries {
        meta.insert(format!("kind.{name}"), (*kind).to_string());
        meta.insert(format!("frac_bits.{name}"), t.frac_bits().to_string());
        let (s0, s1) = t.components();
        data.push((format!("{name}.s0"), t.shape().to_vec(), words_to_bytes(s0)));
        data.push((format!("{name}.s1"), t.shape().to_vec(), words_to_bytes(s1)));
    }
    let sum = checksum(
        &meta,
        data.iter()
            .map(|(n, s, d)| (n.as_str(), Dtype::U64, s.as_slice(), d.as_slice())),
    );
    meta.insert("checksum".to_string(), sum);
    let mut views = Vec::with_capacity(data.len());
    for (n, s, d) in &data {
        let v = TensorView::new(Dtype::U64, s.clone(), d)
            .map_err(|e| params_err(path, format!("{n}: {e}")))?;
        views.push((n.clone(), v));
    }
    let bytes = safetensors::serialize(views, Some(meta.into_iter().collect()))
        .map_err(|e| params_err(path, format!("cannot serialise: {e}")))?;
    write_atomic(path, &canonical_header(path, bytes)?, true)
}

/// The two components of one tensor of a share file, as found.
#[derive(Default)]
struct Entry {
    s0: Option<ArrayD<u64>>,
    s1: Option<ArrayD<u64>>,
}

fn parse_frac_bits(path: &Path, meta: &BTreeMap<String, String>, name: &str) -> Result<u32> {
    let key = format!("frac_bits.{name}");
    let raw = meta.get(&key).ok_or_else(|| {
        params_err(
            path,
            format!("{name}: no frac bits ({key}) in the metadata"),
        )
    })?;
    match raw.parse::<u32>() {
        Ok(f) if f < 64 => Ok(f),
        _ => Err(params_err(
            path,
            format!("{name}: bad frac bits {raw:?} (expected an integer below 64)"),
        )),
    }
}

/// The metadata of a share file after the format, version and checksum checks.
fn checked_meta(
    path: &Path,
    header: &safetensors::tensor::Metadata,
    st: &safetensors::SafeTensors<'_>,
) -> Result<BTreeMap<String, String>> {
    let meta: BTreeMap<String, String> = header
        .metadata()
        .as_ref()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    if meta.get("format").map(String::as_str) != Some(SHARES_FORMAT) {
        return Err(params_err(
            path,
            format!("not a Trefoil share file (no format = {SHARES_FORMAT} in its metadata)"),
        ));
    }
    let version = meta.get("version").map(String::as_str).unwrap_or("none");
    if version != SHARES_VERSION.to_string() {
        return Err(params_err(
            path,
            format!("share-file format version {version}, this build reads {SHARES_VERSION}"),
        ));
    }
    let tensors = st.tensors();
    let stored = meta.get("checksum").map(String::as_str).unwrap_or("none");
    let computed = checksum(
        &meta,
        tensors
            .iter()
            .map(|(n, v)| (n.as_str(), v.dtype(), v.shape(), v.data())),
    );
    if stored != computed {
        return Err(params_err(
            path,
            format!("checksum mismatch (stored {stored}, content {computed}): the file is corrupt"),
        ));
    }
    Ok(meta)
}

/// The job id and the role a share file was saved under ([`save_shares`]' `job` and `role`),
/// after the same format, version and checksum checks as [`load_shares`]; for a caller that
/// must find out which checkpoint a file is before loading it.
pub fn share_file_job(path: &Path) -> Result<(String, usize)> {
    let bytes = std::fs::read(path).map_err(|e| io_err(path, e))?;
    let (header, st) = parse_safetensors(path, &bytes)?;
    let meta = checked_meta(path, &header, &st)?;
    let role = meta
        .get("role")
        .and_then(|r| r.parse::<usize>().ok())
        .ok_or_else(|| {
            params_err(
                path,
                format!("bad role {:?} in the metadata", meta.get("role")),
            )
        })?;
    Ok((meta.get("job").cloned().unwrap_or_default(), role))
}

/// The caller's own metadata entries of the share file at `path` ([`save_shares_with_meta`]),
/// by key, after the format, version and checksum checks of [`load_shares`].
pub fn share_file_meta(path: &Path) -> Result<BTreeMap<String, String>> {
    let bytes = std::fs::read(path).map_err(|e| io_err(path, e))?;
    let (header, st) = parse_safetensors(path, &bytes)?;
    let meta = checked_meta(path, &header, &st)?;
    Ok(meta
        .into_iter()
        .filter_map(|(k, v)| k.strip_prefix(USER_META).map(|k| (k.to_string(), v)))
        .collect())
}

/// The prefix of the caller's own metadata keys in share and weight files.
const USER_META: &str = "meta.";

/// The extra tensors of the share file at `path` (every tensor that is not a model parameter),
/// by name, in name order, after the same checks as [`load_shares`] except those against a
/// model; for a caller that needs them before it can build the model.
pub fn load_share_extras(path: &Path, role: usize, job: &str) -> Result<Vec<(String, AShare)>> {
    Ok(read_share_file(path, role, job)?
        .into_iter()
        .filter(|(_, (kind, _))| kind == KIND_EXTRA)
        .map(|(name, (_, share))| (name, share))
        .collect())
}

/// Every tensor of a share file, checked (structure, format, checksum, role, job, components):
/// name -> (kind, share).
fn read_share_file(
    path: &Path,
    role: usize,
    job: &str,
) -> Result<BTreeMap<String, (String, AShare)>> {
    let bytes = std::fs::read(path).map_err(|e| io_err(path, e))?;
    let (header, st) = parse_safetensors(path, &bytes)?;
    let meta = checked_meta(path, &header, &st)?;
    let tensors = st.tensors();
    let file_role = meta.get("role").map(String::as_str).unwrap_or("none");
    if file_role != role.to_string() {
        return Err(params_err(
            path,
            format!("holds the shares of party {file_role}, not of party {role}"),
        ));
    }
    let file_job = meta.get("job").map(String::as_str).unwrap_or("");
    if file_job != job {
        return Err(params_err(
            path,
            format!("belongs to job {file_job:?}, not {job:?}"),
        ));
    }

    // Group the components by tensor name.
    let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
    for (tname, view) in &tensors {
        let (base, slot) = match (tname.strip_suffix(".s0"), tname.strip_suffix(".s1")) {
            (Some(b), _) => (b, 0),
            (_, Some(b)) => (b, 1),
            _ => {
                return Err(params_err(
                    path,
                    format!("unexpected tensor {tname} (share tensors end in .s0 or .s1)"),
                ));
            }
        };
        if view.dtype() != Dtype::U64 {
            return Err(params_err(
                path,
                format!("{tname} has dtype {:?}, shares are U64", view.dtype()),
            ));
        }
        let words = bytes_to_words(view.shape(), view.data())
            .ok_or_else(|| params_err(path, format!("{tname}: data does not fit its shape")))?;
        let e = entries.entry(base.to_string()).or_default();
        if slot == 0 {
            e.s0 = Some(words);
        } else {
            e.s1 = Some(words);
        }
    }
    let mut shares: BTreeMap<String, (String, AShare)> = BTreeMap::new();
    for (name, e) in entries {
        let kind = meta
            .get(&format!("kind.{name}"))
            .cloned()
            .ok_or_else(|| params_err(path, format!("{name}: no kind.{name} in the metadata")))?;
        if kind != KIND_PARAM && kind != KIND_EXTRA {
            return Err(params_err(path, format!("{name}: unknown kind {kind:?}")));
        }
        let frac_bits = parse_frac_bits(path, &meta, &name)?;
        let (Some(s0), Some(s1)) = (e.s0, e.s1) else {
            return Err(params_err(
                path,
                format!("{name}: one of {name}.s0 and {name}.s1 is missing"),
            ));
        };
        if s0.shape() != s1.shape() {
            return Err(params_err(
                path,
                format!(
                    "{name}: components of shapes {:?} and {:?}",
                    s0.shape(),
                    s1.shape()
                ),
            ));
        }
        let share = AShare::from_components(s0, s1, frac_bits)
            .map_err(|e| params_err(path, format!("{name}: {e}")))?;
        shares.insert(name, (kind, share));
    }
    Ok(shares)
}

/// Reads this party's shares from `path` into `model` (which must have exactly the file's
/// parameters, shapes and fractional bits) and returns the file's extra tensors by name, in
/// name order. The file must be `role`'s and `job`'s. On any error the model is unchanged.
pub fn load_shares(
    path: &Path,
    role: usize,
    job: &str,
    model: &mut Sequential<Party>,
) -> Result<Vec<(String, AShare)>> {
    let shares = read_share_file(path, role, job)?;
    // The parameters must be exactly the model's.
    let model_params: Vec<(String, Vec<usize>, u32)> = model
        .params()
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                p.value.shape().to_vec(),
                p.value.frac_bits(),
            )
        })
        .collect();
    let model_names: BTreeSet<&str> = model_params.iter().map(|(n, _, _)| n.as_str()).collect();
    let missing: Vec<&str> = model_params
        .iter()
        .map(|(n, _, _)| n.as_str())
        .filter(|n| !matches!(shares.get(*n), Some((k, _)) if k == KIND_PARAM))
        .collect();
    let unexpected: Vec<&str> = shares
        .iter()
        .filter(|(n, (k, _))| k == KIND_PARAM && !model_names.contains(n.as_str()))
        .map(|(n, _)| n.as_str())
        .collect();
    let mut problems = Vec::new();
    if !missing.is_empty() {
        problems.push(format!(
            "parameters missing from the file: {}",
            missing.join(", ")
        ));
    }
    if !unexpected.is_empty() {
        problems.push(format!(
            "parameters the model does not have: {}",
            unexpected.join(", ")
        ));
    }
    for (name, shape, frac_bits) in &model_params {
        if let Some((_, s)) = shares.get(name) {
            if s.shape() != shape.as_slice() {
                problems.push(format!(
                    "{name}: shape {:?} in the file, the model expects {shape:?}",
                    s.shape()
                ));
            } else if s.frac_bits() != *frac_bits {
                problems.push(format!(
                    "{name}: frac bits {} in the file, the model's parameter has {frac_bits}",
                    s.frac_bits()
                ));
            }
        }
    }
    if !problems.is_empty() {
        return Err(params_err(path, problems.join("; ")));
    }
    let mut extras = Vec::new();
    let mut params = Vec::new();
    for (name, (kind, share)) in shares {
        if kind == KIND_PARAM {
            params.push((name, share));
        } else {
            extras.push((name, share));
        }
    }
    for (name, share) in params {
        model.set_param(&name, share)?;
    }
    Ok(extras)
}

// ---------------------------------------------------------------------------------------------
// Plaintext weights

mod weights;
pub use weights::{
    NameMap, export_safetensors, export_safetensors_with_meta, from_pytorch, import_safetensors,
    input_model, load_into, match_to_model, plain_params, rename_to_model, reveal_model_to,
    safetensors_meta,
};
