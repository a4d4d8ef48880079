//! Multiplication and matrix multiplication of shared tensors (Araki et al. CCS'16; ABY3).
//!
//! With `x` and `y` replicated, party `i` computes locally the 3-out-of-3 share
//! `z_i = x_i y_i + x_i y_{i+1} + x_{i+1} y_i + a_i`, where `a_i` is its share of a fresh
//! zero-sharing (which makes `z_i` uniformly random to everyone else). Then `z_i` is *reshared*:
//! party `i` sends `z_i` to party `i - 1`, restoring replicated shares `(z_i, z_{i+1})`.
//! For a matmul `m x k` times `k x n` of **fixed-point** operands each party needs one GEMM:
//! with components `(x_i, x_{i+1})` party 0 computes `(x_0 + 2 x_1)(y_0 + 2 y_1)`, party 1
//! `2 (x_1 - x_2)(y_2 - y_1)` and party 2 `(x_0 + 2 x_2)(y_0 + 2 y_2)`. These add up to
//! **`2 x y`** (every cross product `x_j y_l` with `j != l` appears twice, once at one party,
//! and each `x_j y_j` gets `1 + 1`, `4 - 2` and `-2 + 4`), so the truncation that follows drops
//! one bit more. Three GEMMs are the fewest possible: three rank-one products can add up to an
//! odd multiple of `x y` only over a ring where 2 is invertible, never over `Z_2^64`, so the
//! factor 2 is the price, paid in range: the truncated value is `2 x y` instead of `x y`, which
//! halves the exact truncation's range (`|x y| < 2^29` at `f = 16` instead of `2^30`) and
//! doubles the probabilistic truncation's failure probability (`|2 z| / 2^64` per element; see
//! [`crate::trunc`]). With an **integer** operand there is no truncation to absorb the factor,
//! so the nine cross products split as `(x_0 + x_1)(y_0 + y_1)` | `x_1 y_2 + x_2 (y_1 + y_2)` |
//! `x_2 y_0 + x_0 y_2`: 5 GEMMs (two fused into one over a doubled inner dimension), the fewest
//! for the product itself. Only the `m x n` result is sent either way.
//!
//! Fixed-point products carry the sum of the operands' fractional bits; when both operands are
//! fractional, the product is truncated by the smaller scale inside the same protocol
//! ([`crate::trunc`]), so the result has the larger scale (the session's `f` when both use it).
//!
//! | protocol | rounds | bytes sent per party |
//! |---|---|---|
//! | `mul`, `matmul` of integers (or with one integer operand) | 1 | `8` per output element |
//! | `mul`, `matmul` of fixed-point tensors (truncation fused) | 2 | `8` per output element |
//! | `mul_public` (fixed-point public factor) | 1 | party 1: `8` per element; others: 0 |
//! | `matmul_local` + `finish_local` (a local linear map in between) | as `matmul` | as `matmul`, per element of the **mapped** result |
//!
//! Security: semi-honest, honest majority. Each message `z_i` is masked by the zero-sharing
//! component `F(k_i) - F(k_{i+1})`, and the receiver (party `i - 1`) does not hold `k_{i+1}`.

use crate::boolean::flat;
use crate::error::{CoreError, Result};
use crate::gemm::{GemmShapeError, gemm_sum};
use crate::party::{Party, to_array};
use crate::share::{AShare, row_major};
use ndarray::{Array2, ArrayD, ArrayView2, Ix2, Zip};

impl Party {
    /// Element-wise product `x * y` (same shape). See the module docs for costs and scaling.
    pub fn mul(&mut self, x: &AShare, y: &AShare) -> Result<AShare> {
        let z = self.local_product("mul", x, y)?;
        self.finish_product(z, x.frac_bits, y.frac_bits)
    }

    /// This party's 3-out-of-3 share `z_i` of the element-wise `x * y`, re-randomised by a
    /// zero-sharing, before any reshare (the ring product: scales add up). `op` names the
    /// caller in a shape error.
    pub(crate) fn local_product(
        &mut self,
        op: &'static str,
        x: &AShare,
        y: &AShare,
    ) -> Result<ArrayD<u64>> {
        if x.shape() != y.shape() {
            return Err(CoreError::ShapeMismatch {
                op,
                left: x.shape().to_vec(),
                right: y.shape().to_vec(),
            });
        }
        let z = self.local_products(op, &[(x, y)])?;
        to_array(x.shape(), z)
    }

    /// [`Party::local_product`] of several pairs of equal-size operands at once: their
    /// products' row-major words one after another in one (pooled) buffer, re-randomised by one
    /// zero-sharing over all of them (the words a single product of the concatenated operands
    /// would give).
    pub(crate) fn local_products(
        &mut self,
        op: &'static str,
        pairs: &[(&AShare, &AShare)],
    ) -> Result<Vec<u64>> {
        if let Some((x, y)) = pairs.iter().find(|(x, y)| x.len() != y.len()) {
            return Err(CoreError::ShapeMismatch {
                op,
                left: x.shape().to_vec(),
                right: y.shape().to_vec(),
            });
        }
        let total = pairs.iter().map(|(x, _)| x.len()).sum();
        // one pass per pair: the products into the buffer, the zero-sharing drawn beside them
        let mut z = mpc_net::pool::take(total);
        for (x, y) in pairs {
            let (x0, x1) = (row_major(&x.s0), row_major(&x.s1));
            let (y0, y1) = (row_major(&y.s0), row_major(&y.s1));
            z.extend(
                (x0.iter().zip(x1.iter()))
                    .zip(y0.iter().zip(y1.iter()))
                    .map(|((&x0, &x1), (&y0, &y1))| {
                        x0.wrapping_mul(y0.wrapping_add(y1))
                            .wrapping_add(x1.wrapping_mul(y0))
                    }),
            );
        }
        self.add_zero_share(&mut z);
        Ok(z)
    }

    /// Matrix product of 2-D shares, `m x k` times `k x n`. See the module docs for costs.
    ///
    /// ```
    /// use mpc_core::run_3pc;
    /// use ndarray::array;
    /// let (x, y) = (array![[1.0, 2.0]].into_dyn(), array![[3.0], [-0.5]].into_dyn());
    /// let out = run_3pc(|p| {
    ///     let sx = p.input_f64(0, (p.role() == 0).then_some(&x), &[1, 2])?;
    ///     let sy = p.input_f64(2, (p.role() == 2).then_some(&y), &[2, 1])?;
    ///     let z = p.matmul(&sx, &sy)?; // 1 x 1: 1*3 + 2*(-0.5) = 2
    ///     let before = p.stats();
    ///     let v = p.reveal_f64(&z)?;
    ///     assert_eq!(p.stats().since(&before).bytes_sent, 8); // one word per party
    ///     Ok(v)
    /// })
    /// .unwrap();
    /// assert!((out[0][[0, 0]] - 2.0).abs() < 1e-4);
    /// ```
    pub fn matmul(&mut self, x: &AShare, y: &AShare) -> Result<AShare> {
        let z = self.matmul_local(x, y)?;
        self.finish_local(z)
    }

    /// This party's 3-out-of-3 share of the matrix product `x y` (`m x k` times `k x n`),
    /// computed locally and **not yet masked or sent**: a local linear map may be applied to it
    /// ([`LocalProduct::map`], e.g. a col2im sum) before [`Party::finish_local`] masks, reshares
    /// and truncates it. Resharing (and truncating) after the map sends the mapped size instead
    /// of `m x n`.
    pub fn matmul_local(&self, x: &AShare, y: &AShare) -> Result<LocalProduct> {
        let mismatch = || CoreError::ShapeMismatch {
            op: "matmul",
            left: x.shape().to_vec(),
            right: y.shape().to_vec(),
        };
        if x.shape().len() != 2 || y.shape().len() != 2 || x.shape()[1] != y.shape()[0] {
            return Err(mismatch());
        }
        fn view2(a: &ArrayD<u64>) -> Option<ndarray::ArrayView2<'_, u64>> {
            a.view().into_dimensionality::<Ix2>().ok()
        }
        let (Some(x0), Some(x1), Some(y0), Some(y1)) =
            (view2(&x.s0), view2(&x.s1), view2(&y.s0), view2(&y.s1))
        else {
            return Err(mismatch());
        };
        let (fa, fb) = (x.frac_bits, y.frac_bits);
        // Fixed-point operands (a truncation follows): one GEMM per party for twice the
        // product; integer ones: five GEMMs for the product itself (see the module docs).
        let doubled = fa.min(fb) > 0;
        let add = |u: u64, v: u64| u.wrapping_add(v);
        let product = match (doubled, self.role()) {
            // (x0 + 2 x1)(y0 + 2 y1)
            (true, 0) => {
                let f = |u: u64, v: u64| u.wrapping_add(v << 1);
                gemm_of(combine(x0, x1, f), combine(y0, y1, f))
            }
            // 2 (x1 - x2)(y2 - y1)
            (true, 1) => gemm_of(
                combine(x0, x1, |u, v| u.wrapping_sub(v) << 1),
                combine(y0, y1, |u, v| v.wrapping_sub(u)),
            ),
            // (x0 + 2 x2)(y0 + 2 y2), components (x2, x0)
            (true, _) => {
                let f = |u: u64, v: u64| (u << 1).wrapping_add(v);
                gemm_of(combine(x0, x1, f), combine(y0, y1, f))
            }
            // (x0 + x1)(y0 + y1)
            (false, 0) => gemm_of(combine(x0, x1, add), combine(y0, y1, add)),
            // x1 y2 + x2 (y1 + y2)
            (false, 1) => {
                let sy = combine(y0, y1, add);
                let p = gemm_sum(&[(x0, y1), (x1, sy.view())]);
                give(sy);
                p
            }
            // x2 y0 + x0 y2
            (false, _) => gemm_sum(&[(x0, y1), (x1, y0)]),
        };
        let z = product.map_err(|e| CoreError::InvalidShape {
            op: "matmul",
            detail: e.to_string(),
        })?;
        Ok(LocalProduct {
            z: z.into_dyn(),
            scales: (fa, fb),
            doubled,
        })
    }

    /// Masks a [`LocalProduct`] with a fresh zero-sharing of its (mapped) size, reshares it
    /// and truncates it as [`Party::matmul`] would (1 round, or 2 with the fused truncation;
    /// `8` bytes per element of the mapped result, or the exact truncation's cost).
    pub fn finish_local(&mut self, p: LocalProduct) -> Result<AShare> {
        let LocalProduct {
            mut z,
            scales,
            doubled,
        } = p;
        match z.as_slice_mut() {
            Some(z) => self.add_zero_share(z),
            None => {
                let alpha = self.zero_share(z.len());
                for (v, a) in z.iter_mut().zip(alpha) {
                    *v = v.wrapping_add(a);
                }
            }
        }
        if doubled {
            // the shares add up to 2 x y: truncate by one bit more
            let d = scales.0.min(scales.1);
            return self.reshare_trunc(z, d + 1, scales.0.max(scales.1));
        }
        self.finish_product(z, scales.0, scales.1)
    }

    /// Reshares a 3-out-of-3 product, truncating by the smaller operand scale when both are
    /// fractional.
    pub(crate) fn finish_product(&mut self, z: ArrayD<u64>, fa: u32, fb: u32) -> Result<AShare> {
        let d = fa.min(fb);
        let frac_bits = fa.max(fb);
        if d == 0 {
            self.reshare(z, frac_bits)
        } else {
            self.reshare_trunc(z, d, frac_bits)
        }
    }

    /// Turns this party's 3-out-of-3 share `z_i` into replicated shares `(z_i, z_{i+1})`:
    /// one round, `8` bytes per element. `z_i` must already be re-randomised.
    pub fn reshare(&mut self, z: ArrayD<u64>, frac_bits: u32) -> Result<AShare> {
        let shape = z.shape().to_vec();
        let n = z.len();
        let z = if z.is_standard_layout() {
            z
        } else {
            z.as_standard_layout().into_owned()
        };
        let (next, prev) = (self.comm.next(), self.comm.prev());
        self.comm.send_copy(prev, &flat(&z))?;
        let s1 = self.comm.recv(next, n)?;
        Ok(AShare {
            s0: z,
            s1: to_array(&shape, s1)?,
            frac_bits,
        })
    }

    /// `x * c` for a public real tensor `c` (broadcast to `x`'s shape), encoded with the
    /// session's fixed-point settings and truncated back to `x`'s scale.
    pub fn mul_public(&mut self, x: &AShare, c: &ArrayD<f64>) -> Result<AShare> {
        let f = self.fixed.frac_bits();
        let mut enc = Vec::with_capacity(c.len());
        for &v in c.iter() {
            enc.push(self.fixed.encode(v)?);
        }
        let c = to_array(c.shape(), enc)?;
        let prod = x.mul_public_int(&c)?.with_frac_bits(x.frac_bits + f);
        self.trunc(&prod, f)
    }

    /// `x * c` for a public real scalar `c`, truncated back to `x`'s scale. Small constants
    /// are encoded with extra fractional bits (up to 24 more than the session's, so that `c`
    /// keeps about `f` significant bits, e.g. `1/n` for an average): the truncation then removes
    /// them, and the pre-truncation magnitude stays about `|x| 2^(2f)` whatever `c` is.
    /// 1 round; party 1 sends `8` bytes per element.
    pub fn mul_scalar(&mut self, x: &AShare, c: f64) -> Result<AShare> {
        let f = self.fixed.frac_bits();
        let extra = if c != 0.0 && c.is_finite() {
            (-c.abs().log2().floor()).clamp(0.0, 24.0) as u32
        } else {
            0
        };
        let k = f + extra;
        let prod = x
            .mul_scalar_int(crate::fixed::encode_with(c, k)? as i64)
            .with_frac_bits(x.frac_bits + k);
        self.trunc(&prod, k)
    }
}

/// One party's unmasked 3-out-of-3 share of a product ([`Party::matmul_local`]), held only
/// until [`Party::finish_local`] masks and reshares it; it is never sent as it is.
#[derive(Debug)]
pub struct LocalProduct {
    z: ArrayD<u64>,
    /// The operands' fractional bits (the product's scale is their sum).
    scales: (u32, u32),
    /// Whether the three shares add up to twice the product (one more bit to truncate).
    doubled: bool,
}

/// `f(a, b)` element by element, in a buffer from the pool when both are contiguous. The
/// matmul's operand combinations are shifts and additions (the baseline x86-64 target has no
/// vector 64-bit multiplication).
fn combine(
    a: ArrayView2<'_, u64>,
    b: ArrayView2<'_, u64>,
    f: impl Fn(u64, u64) -> u64,
) -> Array2<u64> {
    let f = |u: &u64, v: &u64| f(*u, *v);
    if let (Some(u), Some(v)) = (a.as_slice(), b.as_slice()) {
        let mut s = mpc_net::pool::take(u.len());
        s.extend(u.iter().zip(v).map(|(u, v)| f(u, v)));
        if let Ok(c) = Array2::from_shape_vec(a.raw_dim(), s) {
            return c;
        }
    }
    Zip::from(a).and(b).map_collect(f)
}

/// Gives a temporary operand back to the pool.
fn give(a: Array2<u64>) {
    mpc_net::pool::give(a.into_raw_vec_and_offset().0);
}

/// The product of two temporary operands, which then go back to the pool.
fn gemm_of(a: Array2<u64>, b: Array2<u64>) -> std::result::Result<Array2<u64>, GemmShapeError> {
    let p = gemm_sum(&[(a.view(), b.view())]);
    give(a);
    give(b);
    p
}

impl LocalProduct {
    /// The shape of the product (after any map).
    pub fn shape(&self) -> &[usize] {
        self.z.shape()
    }

    /// Applies a map to this party's share. The three shares add up to the mapped product
    /// (twice it for fixed-point operands, see the module docs) only if `f` is **linear over
    /// `Z_2^64`** (sums of entries, layout changes such as col2im); the mask is drawn
    /// afterwards at the mapped size, so the map cannot weaken it.
    pub fn map<E>(
        self,
        f: impl FnOnce(&ArrayD<u64>) -> std::result::Result<ArrayD<u64>, E>,
    ) -> std::result::Result<Self, E> {
        Ok(LocalProduct {
            z: f(&self.z)?,
            scales: self.scales,
            doubled: self.doubled,
        })
    }
}
