//! Maximum, one-hot argmax and max-pooling by a tournament tree.
//!
//! Along an axis of length `L`, the candidates are compared in pairs (`a` at the lower index,
//! `b` at the next): `β = [a >= b]` is `NOT msb(a - b)` ([`crate::convert`]), and the winner is
//! `b + β (a - b)`. Ties go to the lower index, so the argmax is always exactly one-hot. With an
//! odd count the last candidate waits a level.
//!
//! For the argmax, each comparison bit is also injected into the arithmetic ring, in the same
//! 2-round call that computes the winner's bit-times-value product (it costs parties 1 and 2 one
//! more word, party 0 nothing). The one-hot indicator is then built **top down** once the
//! tournament is over: the root's indicator is the public 1, and a comparison with bit `β`
//! whose winner has indicator `m` gives its two candidates `[m β, m - m β]` (one integer
//! product; an odd candidate keeps `m`). That is one product per comparison below the top, in
//! `lv - 1` rounds. (Carrying the indicators bottom up through every level's bit products, as
//! an earlier version did, costs `128 (1 + 2g)` bits per comparison at party 0: 1,954 instead
//! of 1,058 bits for a 2x2 window.)
//!
//! Costs (rounds as the longest chain of dependent messages; consecutive levels overlap by one
//! round, see [`crate::compare`]), for an axis of length `L` and `lv = ceil(log2 L)` levels:
//!
//! | protocol | rounds | bits sent per line: party 0 / parties 1 and 2 |
//! |---|---|---|
//! | `max_axis` | `8 lv + 1` | `310 (L - 1)` / `245 (L - 1)` |
//! | `argmax_axis`, `max_argmax_axis`, `maxpool2d` | `9 lv` | `310 (L - 1) + 64 (L - 2)` / `309 (L - 1) + 64 (L - 2)` |
//!
//! (checked by the `tournament_costs` test; for `L = 1` nothing is sent).
//!
//! `maxpool2d` takes `N, C, H, W` and returns the pooled `N, C, H', W'` with
//! `H' = (H - k) / s + 1` (likewise `W'`), and the argmax **mask of shape `N, C, H', W', k*k`**:
//! entry `(n, c, i, j, u * k + v)` is 1 iff input `(n, c, i*s + u, j*s + v)` is the window's
//! maximum (lowest index on ties). [`Party::maxpool2d_backward`] scatters gradients with it.

use crate::boolean::flat;
use crate::convert::Pair;
use crate::error::{CoreError, Result};
use crate::party::{Party, to_array};
use crate::share::AShare;

/// One party's components of a flat tensor.
type Flat = (Vec<u64>, Vec<u64>);

impl Party {
    /// Tournament over the columns of `rows x len` flat components `x` (scale kept by the
    /// caller): returns the row maxima and, if asked, the one-hot argmax (`rows x len`).
    fn tournament(
        &mut self,
        x: Flat,
        rows: usize,
        len: usize,
        want_arg: bool,
    ) -> Result<(Flat, Option<Flat>)> {
        let (mut v0, mut v1) = x;
        let mut cur = len;
        // per level (bottom up): its width and the injected comparison bits (rows x pairs)
        let mut levels: Vec<(usize, Flat)> = Vec::new();
        while cur > 1 {
            let pairs = cur / 2;
            let odd = cur % 2;
            let q = rows * pairs;
            // differences a - b
            let mut d0 = Vec::with_capacity(q);
            let mut d1 = Vec::with_capacity(q);
            for r in 0..rows {
                for t in 0..pairs {
                    let (ia, ib) = (r * cur + 2 * t, r * cur + 2 * t + 1);
                    d0.push(v0[ia].wrapping_sub(v0[ib]));
                    d1.push(v1[ia].wrapping_sub(v1[ib]));
                }
            }
            let diff = AShare::from_components(to_array(&[q], d0)?, to_array(&[q], d1)?, 0)?;
            let (b0, b1) = self.msb_packed(&diff)?;
            let ge = self.not_ge(b0, b1);
            let (beta, prod) = self.inject(
                &ge,
                q,
                Some((flat(&diff.s0).as_ref(), flat(&diff.s1).as_ref())),
                want_arg,
            )?;
            let (z0, z1) = prod.ok_or(CoreError::InvalidShape {
                op: "tournament",
                detail: "internal: no product".into(),
            })?;
            // the winner b + β (a - b); an odd last candidate waits a level
            let next = pairs + odd;
            let mut n0 = Vec::with_capacity(rows * next);
            let mut n1 = Vec::with_capacity(rows * next);
            for r in 0..rows {
                for t in 0..pairs {
                    let (ib, e) = (r * cur + 2 * t + 1, r * pairs + t);
                    n0.push(v0[ib].wrapping_add(z0[e]));
                    n1.push(v1[ib].wrapping_add(z1[e]));
                }
                if odd == 1 {
                    n0.push(v0[r * cur + cur - 1]);
                    n1.push(v1[r * cur + cur - 1]);
                }
            }
            if let Some(beta) = beta {
                levels.push((cur, beta));
            }
            v0 = n0;
            v1 = n1;
            cur = next;
        }
        let oh = if want_arg {
            Some(self.one_hot_down(rows, levels)?)
        } else {
            None
        };
        Ok(((v0, v1), oh))
    }

    /// The one-hot argmax from the tournament's comparison bits, top down: the root's
    /// indicator is 1, and a comparison with bit `β` whose winner has indicator `m` gives its
    /// two candidates `[m β, m - m β]` (an odd candidate keeps `m`). One integer product per
    /// comparison below the top (the top's `m` is the public 1): `lv - 1` rounds, 64 bits per
    /// product from every party.
    fn one_hot_down(&mut self, rows: usize, levels: Vec<(usize, Flat)>) -> Result<Flat> {
        let role = self.role();
        // the public 1 enters component 0 (party 0's s0, party 2's s1)
        let one = |c: usize| u64::from((role + c).is_multiple_of(3));
        let mut m: Option<Flat> = None; // rows x width of the level above; None: all public 1
        for (cur, (b0, b1)) in levels.into_iter().rev() {
            let pairs = cur / 2;
            let q = rows * pairs;
            // m β for every comparison of this level (m of the winner it produced)
            let (p0, p1) = match &m {
                None => (b0, b1),
                Some((m0, m1)) => {
                    let next = cur.div_ceil(2);
                    let pick = |mv: &[u64]| -> Vec<u64> {
                        (0..rows)
                            .flat_map(|r| (0..pairs).map(move |t| (r, t)))
                            .map(|(r, t)| mv[r * next + t])
                            .collect()
                    };
                    let mw = AShare::from_components(
                        to_array(&[q], pick(m0))?,
                        to_array(&[q], pick(m1))?,
                        0,
                    )?;
                    let bw = AShare::from_components(to_array(&[q], b0)?, to_array(&[q], b1)?, 0)?;
                    let prod = self.mul(&mw, &bw)?;
                    (flat(&prod.s0).into_owned(), flat(&prod.s1).into_owned())
                }
            };
            let next = cur.div_ceil(2);
            let parent = |c: usize, r: usize, t: usize| -> u64 {
                match &m {
                    None => one(c),
                    Some((m0, m1)) => [m0, m1][c][r * next + t],
                }
            };
            let mut c0 = Vec::with_capacity(rows * cur);
            let mut c1 = Vec::with_capacity(rows * cur);
            for r in 0..rows {
                for t in 0..pairs {
                    let e = r * pairs + t;
                    c0.push(p0[e]);
                    c1.push(p1[e]);
                    c0.push(parent(0, r, t).wrapping_sub(p0[e]));
                    c1.push(parent(1, r, t).wrapping_sub(p1[e]));
                }
                if cur % 2 == 1 {
                    c0.push(parent(0, r, pairs));
                    c1.push(parent(1, r, pairs));
                }
            }
            m = Some((c0, c1));
        }
        // a line of length 1 has no comparison: its indicator is the public 1
        Ok(m.unwrap_or_else(|| (vec![one(0); rows], vec![one(1); rows])))
    }

    /// NOT of packed shared bits (public ones enter component 0).
    fn not_ge(&self, mut b0: Vec<u64>, mut b1: Vec<u64>) -> Pair {
        match self.role() {
            0 => b0.iter_mut().for_each(|v| *v = !*v),
            2 => b1.iter_mut().for_each(|v| *v = !*v),
            _ => {}
        }
        (b0, b1)
    }

    /// Moves `axis` last and flattens: returns the components as `rows x len`, the shape of
    /// the other axes, and the permutation used.
    fn axis_last(x: &AShare, axis: usize, op: &'static str) -> Result<(Flat, Vec<usize>, usize)> {
        let rank = x.shape().len();
        if axis >= rank {
            return Err(CoreError::InvalidShape {
                op,
                detail: format!("axis {axis} out of range for shape {:?}", x.shape()),
            });
        }
        let len = x.shape()[axis];
        if len == 0 {
            return Err(CoreError::InvalidShape {
                op,
                detail: format!("axis {axis} of shape {:?} is empty", x.shape()),
            });
        }
        let mut perm: Vec<usize> = (0..rank).filter(|&a| a != axis).collect();
        perm.push(axis);
        let moved = x.permute(&perm)?;
        let outer: Vec<usize> = perm[..rank - 1].iter().map(|&a| x.shape()[a]).collect();
        Ok((
            (flat(&moved.s0).into_owned(), flat(&moved.s1).into_owned()),
            outer,
            len,
        ))
    }

    /// The maximum of `x` along `axis` (the axis is removed; scale kept, exact).
    /// `8 ceil(log2 L) + 1` rounds for an axis of length `L`.
    pub fn max_axis(&mut self, x: &AShare, axis: usize) -> Result<AShare> {
        let (f, outer, len) = Self::axis_last(x, axis, "max_axis")?;
        let rows = outer.iter().product();
        let ((m0, m1), _) = self.tournament(f, rows, len, false)?;
        AShare::from_components(to_array(&outer, m0)?, to_array(&outer, m1)?, x.frac_bits)
    }

    /// The one-hot argmax of `x` along `axis` (same shape as `x`, 0/1 integers, exactly one 1
    /// per line; ties go to the lowest index). `9 ceil(log2 L)` rounds.
    pub fn argmax_axis(&mut self, x: &AShare, axis: usize) -> Result<AShare> {
        Ok(self.max_argmax_axis(x, axis)?.1)
    }

    /// [`Party::max_axis`] and [`Party::argmax_axis`] in one tournament.
    pub fn max_argmax_axis(&mut self, x: &AShare, axis: usize) -> Result<(AShare, AShare)> {
        let (f, outer, len) = Self::axis_last(x, axis, "argmax_axis")?;
        let rows = outer.iter().product();
        let ((m0, m1), oh) = self.tournament(f, rows, len, true)?;
        let (o0, o1) = oh.ok_or(CoreError::InvalidShape {
            op: "argmax_axis",
            detail: "internal: no argmax".into(),
        })?;
        let max =
            AShare::from_components(to_array(&outer, m0)?, to_array(&outer, m1)?, x.frac_bits)?;
        let mut moved_shape = outer.clone();
        moved_shape.push(len);
        let oh =
            AShare::from_components(to_array(&moved_shape, o0)?, to_array(&moved_shape, o1)?, 0)?;
        // move the last axis back to `axis`
        let rank = moved_shape.len();
        let mut inv: Vec<usize> = (0..rank - 1).collect();
        inv.insert(axis, rank - 1);
        Ok((max, oh.permute(&inv)?))
    }

    fn pool_dims(
        shape: &[usize],
        kernel: usize,
        stride: usize,
    ) -> Result<(usize, usize, usize, usize, usize, usize)> {
        let bad = |detail: String| CoreError::InvalidShape {
            op: "maxpool2d",
            detail,
        };
        let &[n, c, h, w] = shape else {
            return Err(bad(format!("expected N, C, H, W, got {shape:?}")));
        };
        if kernel == 0 || stride == 0 || kernel > h || kernel > w {
            return Err(bad(format!(
                "kernel {kernel}, stride {stride} do not fit input {shape:?}"
            )));
        }
        Ok((
            n,
            c,
            h,
            w,
            (h - kernel) / stride + 1,
            (w - kernel) / stride + 1,
        ))
    }

    /// Max-pooling of `x` (`N, C, H, W`) with a square `kernel` and `stride` (no padding).
    /// Returns the pooled tensor (`N, C, H', W'`) and the argmax mask (`N, C, H', W', k*k`; see
    /// the module docs). `9 ceil(log2 k^2)` rounds.
    pub fn maxpool2d(
        &mut self,
        x: &AShare,
        kernel: usize,
        stride: usize,
    ) -> Result<(AShare, AShare)> {
        let (n, c, h, w, ho, wo) = Self::pool_dims(x.shape(), kernel, stride)?;
        let kk = kernel * kernel;
        let rows = n * c * ho * wo;
        let gather = |s: &[u64]| {
            let mut out = Vec::with_capacity(rows * kk);
            for plane in 0..n * c {
                let base = plane * h * w;
                for i in 0..ho {
                    for j in 0..wo {
                        for u in 0..kernel {
                            let row = base + (i * stride + u) * w + j * stride;
                            out.extend_from_slice(&s[row..row + kernel]);
                        }
                    }
                }
            }
            out
        };
        let f = (gather(&flat(&x.s0)), gather(&flat(&x.s1)));
        let ((m0, m1), oh) = self.tournament(f, rows, kk, true)?;
        let (o0, o1) = oh.ok_or(CoreError::InvalidShape {
            op: "maxpool2d",
            detail: "internal: no argmax".into(),
        })?;
        let pooled_shape = [n, c, ho, wo];
        let mask_shape = [n, c, ho, wo, kk];
        Ok((
            AShare::from_components(
                to_array(&pooled_shape, m0)?,
                to_array(&pooled_shape, m1)?,
                x.frac_bits,
            )?,
            AShare::from_components(to_array(&mask_shape, o0)?, to_array(&mask_shape, o1)?, 0)?,
        ))
    }

    /// Backward pass of [`Party::maxpool2d`]: routes `grad` (`N, C, H', W'`) to the positions
    /// the `mask` (`N, C, H', W', k*k`) selects and sums overlaps, giving a gradient of
    /// `input_shape` (`N, C, H, W`). One integer-times-value multiplication: 1 round, 64 bits
    /// per mask entry.
    pub fn maxpool2d_backward(
        &mut self,
        grad: &AShare,
        mask: &AShare,
        input_shape: &[usize],
        kernel: usize,
        stride: usize,
    ) -> Result<AShare> {
        let (n, c, h, w, ho, wo) = Self::pool_dims(input_shape, kernel, stride)?;
        let kk = kernel * kernel;
        if grad.shape() != [n, c, ho, wo] || mask.shape() != [n, c, ho, wo, kk] {
            return Err(CoreError::ShapeMismatch {
                op: "maxpool2d_backward",
                left: grad.shape().to_vec(),
                right: mask.shape().to_vec(),
            });
        }
        let g = grad
            .reshape(&[n, c, ho, wo, 1])?
            .broadcast_to(&[n, c, ho, wo, kk])?;
        let routed = self.mul(mask, &g)?;
        let scatter = |s: &[u64]| {
            let mut out = vec![0u64; n * c * h * w];
            let mut idx = 0usize;
            for plane in 0..n * c {
                let base = plane * h * w;
                for i in 0..ho {
                    for j in 0..wo {
                        for u in 0..kernel {
                            for v in 0..kernel {
                                let at = base + (i * stride + u) * w + j * stride + v;
                                out[at] = out[at].wrapping_add(s[idx]);
                                idx += 1;
                            }
                        }
                    }
                }
            }
            out
        };
        let s0 = scatter(&flat(&routed.s0));
        let s1 = scatter(&flat(&routed.s1));
        AShare::from_components(
            to_array(input_shape, s0)?,
            to_array(input_shape, s1)?,
            grad.frac_bits,
        )
    }
}
