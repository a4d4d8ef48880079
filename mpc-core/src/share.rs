//! Replicated secret shares of tensors, and the operations on them that need no communication.
//!
//! A secret tensor `x` is split into three components with `x = x0 + x1 + x2 (mod 2^64)`
//! ([`AShare`], arithmetic) or `x = x0 ^ x1 ^ x2` ([`BShare`], boolean, 64 bits packed per word).
//! Party `i` holds the pair `(x_i, x_{i+1})`; any two parties together can reconstruct `x`.
//!
//! What a single party's pair reveals: nothing, because its distribution does not depend on `x`
//! (or on any other secret). It is not always uniform:
//! - after `input`, `random_share`, an integer multiplication (the product is re-randomised by a
//!   zero-sharing before it is reshared), a bit injection or a bit-times-value product, every
//!   party's pair is (pseudo-)uniformly random on `Z_2^64 x Z_2^64`;
//! - after a truncation by `d` bits ([`crate::trunc`]) one component is `v >> d`, where `v` is a
//!   component of the operand (component 0 after [`crate::Party::trunc`]) or party 0's
//!   re-randomised share of the product (component 1 after a fused truncating product, where
//!   `v` is uniform, so the component is uniform on `[0, 2^(64-d))`): its top `d` bits are zero,
//!   which the two parties holding it see, while the other component of their pairs is
//!   uniformly random;
//! - the local operations below transform the components by public maps, which can narrow
//!   their distribution further without involving `x` (after `mul_scalar_int(2)` both
//!   components are even; after `mul_scalar_int(0)` both are zero).
//!
//! So a single party's view can be simulated without `x`, which is the security property the
//! protocols rely on; uniformity of the pair is not.
//!
//! Everything here is local: shape operations apply the same transformation to both components,
//! and linear operations act component-wise (a public constant is added to component 0 only,
//! which parties 0 and 2 hold).

use crate::error::{CoreError, Result};
use crate::party::{into_words, to_array};
use ndarray::{ArrayD, Axis, IxDyn, Slice, Zip};
use std::borrow::Cow;

/// Applies `f` element-wise to two same-shape arrays.
pub(crate) fn zip_with(
    op: &'static str,
    a: &ArrayD<u64>,
    b: &ArrayD<u64>,
    f: impl Fn(u64, u64) -> u64 + Sync + Send,
) -> Result<ArrayD<u64>> {
    if a.shape() != b.shape() {
        return Err(CoreError::ShapeMismatch {
            op,
            left: a.shape().to_vec(),
            right: b.shape().to_vec(),
        });
    }
    Ok(Zip::from(a).and(b).map_collect(|&x, &y| f(x, y)))
}

/// `p` (of shape `ps`) broadcast to `shape` (numpy rules, one direction), as runs of the
/// row-major result: every run has `len` elements, read from `p` at `start + j * stride`, and
/// `starts` holds one start per run. Trailing axes are merged into one run wherever `p`'s
/// layout allows, so that broadcasting works on slices: ndarray's zips over a dynamic-rank
/// broadcast view index element by element, which dominated small protocol steps (a
/// sigmoid's threshold comparisons on 128 values).
fn broadcast_runs(
    op: &'static str,
    shape: &[usize],
    ps: &[usize],
) -> Result<(usize, usize, Vec<usize>)> {
    let rank = shape.len();
    let bad = || CoreError::ShapeMismatch {
        op,
        left: shape.to_vec(),
        right: ps.to_vec(),
    };
    if ps.len() > rank {
        return Err(bad());
    }
    let padded: Vec<usize> = std::iter::repeat_n(1, rank - ps.len())
        .chain(ps.iter().copied())
        .collect();
    // p's row-major strides, 0 along broadcast axes
    let mut st = vec![0usize; rank];
    let mut acc = 1usize;
    for ax in (0..rank).rev() {
        if padded[ax] != shape[ax] && padded[ax] != 1 {
            return Err(bad());
        }
        st[ax] = if padded[ax] == 1 { 0 } else { acc };
        acc *= padded[ax];
    }
    // the inner run: trailing axes whose strides continue it (axes of length 1 are free)
    let (mut len, mut stride, mut started) = (1usize, 0usize, false);
    let mut k = rank;
    while k > 0 {
        let ax = k - 1;
        if shape[ax] != 1 {
            if !started {
                (len, stride, started) = (shape[ax], st[ax], true);
            } else if st[ax] == stride * len {
                len *= shape[ax];
            } else {
                break;
            }
        }
        k -= 1;
    }
    // the outer axes 0..k, counted like an odometer
    let outer: usize = shape[..k].iter().product();
    let mut starts = Vec::with_capacity(outer);
    let (mut idx, mut off) = (vec![0usize; k], 0usize);
    for _ in 0..outer {
        starts.push(off);
        for ax in (0..k).rev() {
            idx[ax] += 1;
            off += st[ax];
            if idx[ax] < shape[ax] {
                break;
            }
            off -= st[ax] * shape[ax];
            idx[ax] = 0;
        }
    }
    Ok((len, stride, starts))
}

/// Applies `f(x, p)` with `p` broadcast to the shape of `a` (numpy rules, one direction).
pub(crate) fn zip_broadcast(
    op: &'static str,
    a: &ArrayD<u64>,
    p: &ArrayD<u64>,
    f: impl Fn(u64, u64) -> u64 + Sync + Send,
) -> Result<ArrayD<u64>> {
    let (len, stride, starts) = broadcast_runs(op, a.shape(), p.shape())?;
    if a.is_empty() {
        return Ok(a.clone());
    }
    let (a_std, p_std) = (a.as_standard_layout(), p.as_standard_layout());
    let (Some(av), Some(pv)) = (a_std.as_slice(), p_std.as_slice()) else {
        return Err(CoreError::InvalidShape {
            op,
            detail: "internal: standard layout without a slice".into(),
        });
    };
    let mut out = Vec::with_capacity(av.len());
    for (run, &s) in av.chunks_exact(len).zip(&starts) {
        match stride {
            0 => out.extend(run.iter().map(|&x| f(x, pv[s]))),
            1 => out.extend(run.iter().zip(&pv[s..s + len]).map(|(&x, &y)| f(x, y))),
            _ => out.extend(
                run.iter()
                    .enumerate()
                    .map(|(j, &x)| f(x, pv[s + j * stride])),
            ),
        }
    }
    ArrayD::from_shape_vec(a.raw_dim(), out).map_err(|e| CoreError::InvalidShape {
        op,
        detail: e.to_string(),
    })
}

/// `p` broadcast to `shape` as an owned array (see [`broadcast_runs`]).
fn broadcast_owned(op: &'static str, p: &ArrayD<u64>, shape: &[usize]) -> Result<ArrayD<u64>> {
    let (len, stride, starts) = broadcast_runs(op, shape, p.shape())?;
    let total: usize = shape.iter().product();
    let p_std = p.as_standard_layout();
    let pv = p_std.as_slice().unwrap_or(&[]);
    let mut out = Vec::with_capacity(total);
    if total > 0 {
        for &s in &starts {
            match stride {
                0 => out.extend(std::iter::repeat_n(pv[s], len)),
                1 => out.extend_from_slice(&pv[s..s + len]),
                _ => out.extend((0..len).map(|j| pv[s + j * stride])),
            }
        }
    }
    ArrayD::from_shape_vec(IxDyn(shape), out).map_err(|e| CoreError::InvalidShape {
        op,
        detail: e.to_string(),
    })
}

/// Which of a party's two components a public constant enters: component 0 of the sharing,
/// which party 0 holds as its first and party 2 as its second (party 1 holds neither).
pub(crate) fn public_slot(role: usize) -> Result<[bool; 2]> {
    match role {
        0 => Ok([true, false]),
        1 => Ok([false, false]),
        2 => Ok([false, true]),
        r => Err(CoreError::BadRole(r)),
    }
}

/// The row-major words of `a`: borrowed when `a` is in standard layout, else copied.
pub(crate) fn row_major(a: &ArrayD<u64>) -> Cow<'_, [u64]> {
    match a.as_slice() {
        Some(v) => Cow::Borrowed(v),
        None => Cow::Owned(a.iter().copied().collect()),
    }
}

/// Arithmetic replicated shares of a tensor over Z_2^64, as held by one party.
///
/// `frac_bits` is the fixed-point scale of the secret (0 for integers); operations check that
/// operands agree on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AShare {
    pub(crate) s0: ArrayD<u64>,
    pub(crate) s1: ArrayD<u64>,
    pub(crate) frac_bits: u32,
}

impl Drop for AShare {
    /// Gives large components back to [`mpc_net::pool`], so that the next protocol's buffers
    /// come from memory already mapped (results are the one kind of buffer that leaves a
    /// protocol; see the pool's docs).
    fn drop(&mut self) {
        for a in [&mut self.s0, &mut self.s1] {
            if a.len() >= mpc_net::pool::MIN_WORDS {
                let a = std::mem::replace(a, ArrayD::from_elem(IxDyn(&[0]), 0));
                let (v, offset) = a.into_raw_vec_and_offset();
                if offset == Some(0) {
                    mpc_net::pool::give(v);
                }
            }
        }
    }
}

/// Boolean (XOR) replicated shares of a tensor of 64-bit words, as held by one party.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BShare {
    pub(crate) s0: ArrayD<u64>,
    pub(crate) s1: ArrayD<u64>,
}

impl AShare {
    /// Builds a share from this party's two components `(x_i, x_{i+1})`. Both must have the same
    /// shape. Protocols create shares; this is for transports and tests.
    pub fn from_components(s0: ArrayD<u64>, s1: ArrayD<u64>, frac_bits: u32) -> Result<AShare> {
        if s0.shape() != s1.shape() {
            return Err(CoreError::ShapeMismatch {
                op: "AShare::from_components",
                left: s0.shape().to_vec(),
                right: s1.shape().to_vec(),
            });
        }
        Ok(AShare { s0, s1, frac_bits })
    }

    /// The two components this party holds, `(x_i, x_{i+1})`.
    pub fn components(&self) -> (&ArrayD<u64>, &ArrayD<u64>) {
        (&self.s0, &self.s1)
    }

    /// Shape of the secret tensor.
    pub fn shape(&self) -> &[usize] {
        self.s0.shape()
    }

    /// Number of elements of the secret tensor.
    pub fn len(&self) -> usize {
        self.s0.len()
    }

    /// True if the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.s0.is_empty()
    }

    /// Fixed-point fractional bits of the secret (0 for an integer tensor).
    pub fn frac_bits(&self) -> u32 {
        self.frac_bits
    }

    fn map2(&self, f: impl Fn(&ArrayD<u64>) -> Result<ArrayD<u64>>) -> Result<AShare> {
        Ok(AShare {
            s0: f(&self.s0)?,
            s1: f(&self.s1)?,
            frac_bits: self.frac_bits,
        })
    }

    pub(crate) fn check_scale(&self, op: &'static str, other: u32) -> Result<()> {
        if self.frac_bits != other {
            return Err(CoreError::ScaleMismatch {
                op,
                left: self.frac_bits,
                right: other,
            });
        }
        Ok(())
    }

    fn zip(
        &self,
        op: &'static str,
        o: &AShare,
        f: impl Fn(u64, u64) -> u64 + Copy + Sync + Send,
    ) -> Result<AShare> {
        self.check_scale(op, o.frac_bits)?;
        Ok(AShare {
            s0: zip_with(op, &self.s0, &o.s0, f)?,
            s1: zip_with(op, &self.s1, &o.s1, f)?,
            frac_bits: self.frac_bits,
        })
    }

    /// `x + y` (same shape and scale).
    pub fn add(&self, y: &AShare) -> Result<AShare> {
        self.zip("add", y, u64::wrapping_add)
    }

    /// `x - y` (same shape and scale).
    pub fn sub(&self, y: &AShare) -> Result<AShare> {
        self.zip("sub", y, u64::wrapping_sub)
    }

    /// `-x`.
    pub fn neg(&self) -> AShare {
        AShare {
            s0: self.s0.mapv(u64::wrapping_neg),
            s1: self.s1.mapv(u64::wrapping_neg),
            frac_bits: self.frac_bits,
        }
    }

    /// That the public tensor `c` broadcasts to this share's shape (for the party that does
    /// not add it, which must refuse what the others refuse).
    fn check_broadcast(&self, op: &'static str, c: &ArrayD<u64>) -> Result<()> {
        match c.broadcast(self.s0.raw_dim()) {
            Some(_) => Ok(()),
            None => Err(CoreError::ShapeMismatch {
                op,
                left: self.shape().to_vec(),
                right: c.shape().to_vec(),
            }),
        }
    }

    /// `x + c` for a public ring tensor `c` already at this share's scale, broadcast to the shape
    /// of `x`. `role` is the caller's role: the constant enters component 0 (held by parties 0, 2).
    pub fn add_public_ring(&self, role: usize, c: &ArrayD<u64>) -> Result<AShare> {
        let [in0, in1] = public_slot(role)?;
        if !(in0 || in1) {
            self.check_broadcast("add_public", c)?;
        }
        let add = |s: &ArrayD<u64>, here: bool| match here {
            true => zip_broadcast("add_public", s, c, u64::wrapping_add),
            false => Ok(s.clone()),
        };
        Ok(AShare {
            s0: add(&self.s0, in0)?,
            s1: add(&self.s1, in1)?,
            frac_bits: self.frac_bits,
        })
    }

    /// `x * c` for a public integer tensor `c` (two's complement words), broadcast to the shape
    /// of `x`. The scale is unchanged: no truncation is needed.
    pub fn mul_public_int(&self, c: &ArrayD<u64>) -> Result<AShare> {
        self.map2(|s| zip_broadcast("mul_public_int", s, c, u64::wrapping_mul))
    }

    /// `x * c` for a public integer scalar.
    pub fn mul_scalar_int(&self, c: i64) -> AShare {
        let c = c as u64;
        AShare {
            s0: self.s0.mapv(|v| v.wrapping_mul(c)),
            s1: self.s1.mapv(|v| v.wrapping_mul(c)),
            frac_bits: self.frac_bits,
        }
    }

    /// Reinterprets the secret with another scale without touching the ring values
    /// (e.g. after an integer multiplication by `2^k`).
    pub fn with_frac_bits(mut self, frac_bits: u32) -> AShare {
        self.frac_bits = frac_bits;
        self
    }

    /// Reshapes to `shape` (same number of elements), in row-major order.
    pub fn reshape(&self, shape: &[usize]) -> Result<AShare> {
        self.map2(|s| {
            s.as_standard_layout()
                .into_owned()
                .into_shape_with_order(IxDyn(shape))
                .map_err(|e| CoreError::InvalidShape {
                    op: "reshape",
                    detail: format!("{:?} to {:?}: {e}", s.shape(), shape),
                })
        })
    }

    /// Transposes a 2-D tensor; for other ranks, reverses the axes.
    pub fn t(&self) -> AShare {
        AShare {
            s0: self.s0.t().as_standard_layout().into_owned(),
            s1: self.s1.t().as_standard_layout().into_owned(),
            frac_bits: self.frac_bits,
        }
    }

    /// Permutes the axes: axis `k` of the result is axis `axes[k]` of `x`.
    pub fn permute(&self, axes: &[usize]) -> Result<AShare> {
        let mut seen = vec![false; self.shape().len()];
        let ok = axes.len() == seen.len()
            && axes
                .iter()
                .all(|&a| a < seen.len() && !std::mem::replace(&mut seen[a], true));
        if !ok {
            return Err(CoreError::InvalidShape {
                op: "permute",
                detail: format!(
                    "{axes:?} is not a permutation of the axes of {:?}",
                    self.shape()
                ),
            });
        }
        self.map2(|s| {
            Ok(s.view()
                .permuted_axes(IxDyn(axes))
                .as_standard_layout()
                .into_owned())
        })
    }

    fn check_axis(&self, op: &'static str, axis: usize) -> Result<()> {
        if axis >= self.shape().len() {
            return Err(CoreError::InvalidShape {
                op,
                detail: format!("axis {axis} out of range for shape {:?}", self.shape()),
            });
        }
        Ok(())
    }

    /// Elements `start..end` along `axis`.
    pub fn slice_axis(&self, axis: usize, start: usize, end: usize) -> Result<AShare> {
        self.check_axis("slice_axis", axis)?;
        if start > end || end > self.shape()[axis] {
            return Err(CoreError::InvalidShape {
                op: "slice_axis",
                detail: format!("range {start}..{end} on axis {axis} of {:?}", self.shape()),
            });
        }
        self.map2(|s| Ok(s.slice_axis(Axis(axis), Slice::from(start..end)).to_owned()))
    }

    /// Concatenates shares along `axis` (same scale, same shape elsewhere).
    pub fn concat(axis: usize, parts: &[&AShare]) -> Result<AShare> {
        let first = parts.first().ok_or_else(|| CoreError::InvalidShape {
            op: "concat",
            detail: "no tensors to concatenate".into(),
        })?;
        first.check_axis("concat", axis)?;
        for p in parts {
            first.check_scale("concat", p.frac_bits)?;
        }
        let cat = |get: fn(&AShare) -> &ArrayD<u64>| {
            let views: Vec<_> = parts.iter().map(|p| get(p).view()).collect();
            ndarray::concatenate(Axis(axis), &views).map_err(|e| CoreError::InvalidShape {
                op: "concat",
                detail: e.to_string(),
            })
        };
        Ok(AShare {
            s0: cat(|p| &p.s0)?,
            s1: cat(|p| &p.s1)?,
            frac_bits: first.frac_bits,
        })
    }

    /// Sum over `axis` (the axis is removed).
    pub fn sum_axis(&self, axis: usize) -> Result<AShare> {
        self.check_axis("sum_axis", axis)?;
        let sum = |s: &ArrayD<u64>| s.fold_axis(Axis(axis), 0u64, |acc, &v| acc.wrapping_add(v));
        Ok(AShare {
            s0: sum(&self.s0),
            s1: sum(&self.s1),
            frac_bits: self.frac_bits,
        })
    }

    /// Broadcasts to `shape` (numpy rules), materialising the result.
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<AShare> {
        self.map2(|s| broadcast_owned("broadcast_to", s, shape))
    }

    /// [`AShare::reshape`], consuming `x`: free when the components are in standard layout
    /// (the words stay where they are; only the shape changes).
    pub fn into_reshape(mut self, shape: &[usize]) -> Result<AShare> {
        let re = |s: &mut ArrayD<u64>| {
            let a = std::mem::replace(s, ArrayD::from_elem(IxDyn(&[0]), 0));
            let from = a.shape().to_vec();
            let a = match a.is_standard_layout() {
                true => a,
                false => a.as_standard_layout().into_owned(),
            };
            a.into_shape_with_order(IxDyn(shape))
                .map_err(|e| CoreError::InvalidShape {
                    op: "reshape",
                    detail: format!("{from:?} to {shape:?}: {e}"),
                })
        };
        let (s0, s1) = (re(&mut self.s0)?, re(&mut self.s1)?);
        Ok(AShare {
            s0,
            s1,
            frac_bits: self.frac_bits,
        })
    }

    /// Entry `i` of the leading axis, with that axis removed (one copy).
    pub(crate) fn index_leading(&self, i: usize) -> Result<AShare> {
        self.check_axis("index_leading", 0)?;
        if self.shape().first().is_none_or(|&k| i >= k) {
            return Err(CoreError::InvalidShape {
                op: "index_leading",
                detail: format!("entry {i} of the leading axis of {:?}", self.shape()),
            });
        }
        self.map2(|s| Ok(s.index_axis(Axis(0), i).to_owned()))
    }

    /// Splits `x` into consecutive parts of the given shapes, reading its row-major words in
    /// order (e.g. a batch of products computed side by side). The first part keeps `x`'s
    /// buffers (cut to its length; no copy when they are in standard layout), the others are
    /// copied out once. The parts' sizes must add up to `x.len()`.
    pub(crate) fn into_split_flat(mut self, shapes: &[&[usize]]) -> Result<Vec<AShare>> {
        let sizes: Vec<usize> = shapes.iter().map(|s| s.iter().product()).collect();
        let (Some((&first, rest)), true) = (
            shapes.split_first(),
            sizes.iter().sum::<usize>() == self.len(),
        ) else {
            return Err(CoreError::InvalidShape {
                op: "split_flat",
                detail: format!("{:?} into parts {shapes:?}", self.shape()),
            });
        };
        let head = sizes.first().copied().unwrap_or(0);
        let mut out = Vec::with_capacity(shapes.len());
        {
            let (w0, w1) = (row_major(&self.s0), row_major(&self.s1));
            let mut at = head;
            for (shape, &n) in rest.iter().zip(sizes.iter().skip(1)) {
                let part = |w: &[u64]| match w.get(at..at + n) {
                    Some(words) => to_array(shape, mpc_net::pool::copy(words)),
                    None => Err(CoreError::InvalidShape {
                        op: "split_flat",
                        detail: format!("words {at}..{} of {}", at + n, w.len()),
                    }),
                };
                out.push(AShare {
                    s0: part(&w0)?,
                    s1: part(&w1)?,
                    frac_bits: self.frac_bits,
                });
                at += n;
            }
        }
        let cut = |s: &mut ArrayD<u64>| {
            let mut words = into_words(std::mem::replace(s, ArrayD::from_elem(IxDyn(&[0]), 0)));
            words.truncate(head);
            to_array(first, words)
        };
        let (s0, s1) = (cut(&mut self.s0)?, cut(&mut self.s1)?);
        out.insert(
            0,
            AShare {
                s0,
                s1,
                frac_bits: self.frac_bits,
            },
        );
        Ok(out)
    }

    /// [`AShare::add_public_ring`], consuming `x`: the constant is added in place, and the
    /// component it does not enter is kept as it is.
    pub fn into_add_public_ring(mut self, role: usize, c: &ArrayD<u64>) -> Result<AShare> {
        let add = |s: &mut ArrayD<u64>| -> Result<()> {
            match c.first() {
                Some(&w) if c.len() == 1 && c.ndim() <= s.ndim() => {
                    s.mapv_inplace(|v| v.wrapping_add(w));
                }
                _ => *s = zip_broadcast("add_public", s, c, u64::wrapping_add)?,
            }
            Ok(())
        };
        match public_slot(role)? {
            [true, _] => add(&mut self.s0)?,
            [_, true] => add(&mut self.s1)?,
            [false, false] => self.check_broadcast("add_public", c)?,
        }
        Ok(self)
    }
}

impl BShare {
    /// Builds a boolean share from this party's two components `(x_i, x_{i+1})`.
    pub fn from_components(s0: ArrayD<u64>, s1: ArrayD<u64>) -> Result<BShare> {
        if s0.shape() != s1.shape() {
            return Err(CoreError::ShapeMismatch {
                op: "BShare::from_components",
                left: s0.shape().to_vec(),
                right: s1.shape().to_vec(),
            });
        }
        Ok(BShare { s0, s1 })
    }

    /// The two components this party holds, `(x_i, x_{i+1})`.
    pub fn components(&self) -> (&ArrayD<u64>, &ArrayD<u64>) {
        (&self.s0, &self.s1)
    }

    /// Shape of the secret tensor of words.
    pub fn shape(&self) -> &[usize] {
        self.s0.shape()
    }

    /// `x ^ y`.
    pub fn xor(&self, y: &BShare) -> Result<BShare> {
        Ok(BShare {
            s0: zip_with("xor", &self.s0, &y.s0, |a, b| a ^ b)?,
            s1: zip_with("xor", &self.s1, &y.s1, |a, b| a ^ b)?,
        })
    }

    /// `x ^ c` for a public tensor `c` broadcast to the shape of `x` (enters component 0).
    pub fn xor_public(&self, role: usize, c: &ArrayD<u64>) -> Result<BShare> {
        let mut out = self.clone();
        match role {
            0 => out.s0 = zip_broadcast("xor_public", &self.s0, c, |a, b| a ^ b)?,
            2 => out.s1 = zip_broadcast("xor_public", &self.s1, c, |a, b| a ^ b)?,
            1 => {}
            r => return Err(CoreError::BadRole(r)),
        }
        Ok(out)
    }

    /// `!x` (bitwise NOT of every word).
    pub fn not(&self, role: usize) -> Result<BShare> {
        let ones = ArrayD::from_elem(IxDyn(&[]), u64::MAX);
        self.xor_public(role, &ones)
    }

    /// `x & m` for a public mask `m` broadcast to the shape of `x`.
    pub fn and_public(&self, m: &ArrayD<u64>) -> Result<BShare> {
        Ok(BShare {
            s0: zip_broadcast("and_public", &self.s0, m, |a, b| a & b)?,
            s1: zip_broadcast("and_public", &self.s1, m, |a, b| a & b)?,
        })
    }

    /// Logical shift left of every word by `k` bits (`k < 64`).
    pub fn shl(&self, k: u32) -> BShare {
        BShare {
            s0: self.s0.mapv(|v| v.checked_shl(k).unwrap_or(0)),
            s1: self.s1.mapv(|v| v.checked_shl(k).unwrap_or(0)),
        }
    }

    /// Logical shift right of every word by `k` bits (`k < 64`).
    pub fn shr(&self, k: u32) -> BShare {
        BShare {
            s0: self.s0.mapv(|v| v.checked_shr(k).unwrap_or(0)),
            s1: self.s1.mapv(|v| v.checked_shr(k).unwrap_or(0)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The run-wise broadcasts equal ndarray's broadcast for every way a small operand can
    /// broadcast to shapes of rank 0 to 4 (axes of length 1, 2 and 3; leading axes missing).
    #[test]
    fn broadcast_runs_match_ndarray() {
        let shapes: Vec<Vec<usize>> = {
            let mut v = vec![vec![]];
            for rank in 1..=4 {
                let mut next = Vec::new();
                for s in v.iter().filter(|s: &&Vec<usize>| s.len() == rank - 1) {
                    for d in [1usize, 2, 3] {
                        let mut t = s.clone();
                        t.push(d);
                        next.push(t);
                    }
                }
                v.extend(next);
            }
            v
        };
        let mut checked = 0;
        for shape in &shapes {
            let n: usize = shape.iter().product();
            let a =
                ArrayD::from_shape_vec(IxDyn(shape), (0..n as u64).map(|v| v * 7 + 1).collect())
                    .unwrap();
            // every operand shape: a suffix of `shape` with some axes set to 1
            for drop in 0..=shape.len() {
                let tail = &shape[drop..];
                for mask in 0..(1u32 << tail.len()) {
                    let ps: Vec<usize> = tail
                        .iter()
                        .enumerate()
                        .map(|(i, &d)| if mask >> i & 1 == 1 { 1 } else { d })
                        .collect();
                    let m: usize = ps.iter().product();
                    let p = ArrayD::from_shape_vec(
                        IxDyn(&ps),
                        (0..m as u64).map(|v| v * 1000 + 3).collect(),
                    )
                    .unwrap();
                    let want_b = p.broadcast(IxDyn(shape)).unwrap().to_owned();
                    assert_eq!(
                        broadcast_owned("t", &p, shape).unwrap(),
                        want_b,
                        "{ps:?} -> {shape:?}"
                    );
                    let want_z = Zip::from(&a)
                        .and(&want_b)
                        .map_collect(|&x, &y| x.wrapping_mul(y) ^ x);
                    let got = zip_broadcast("t", &a, &p, |x, y| x.wrapping_mul(y) ^ x).unwrap();
                    assert_eq!(got, want_z, "{ps:?} -> {shape:?}");
                    checked += 1;
                }
            }
        }
        assert!(checked > 1000, "{checked}");
        // not broadcastable: a typed error
        let a = ArrayD::<u64>::zeros(IxDyn(&[2, 3]));
        let p = ArrayD::<u64>::zeros(IxDyn(&[2]));
        assert!(zip_broadcast("t", &a, &p, |x, _| x).is_err());
        assert!(broadcast_owned("t", &p, &[3]).is_err());
        // a transposed operand (not in standard layout)
        let at = ArrayD::from_shape_vec(IxDyn(&[2, 3]), (0..6).collect())
            .unwrap()
            .reversed_axes();
        let p = ArrayD::from_shape_vec(IxDyn(&[2]), vec![10, 20]).unwrap();
        let want = Zip::from(&at)
            .and(&p.broadcast(IxDyn(&[3, 2])).unwrap())
            .map_collect(|&x, &y| x + y);
        assert_eq!(zip_broadcast("t", &at, &p, |x, y| x + y).unwrap(), want);
    }
}
