//! Wrapping `u64` matrix multiplication (GEMM over the ring Z_2^64).
//!
//! The implementation follows the BLIS design: the right-hand operands are
//! packed into contiguous column panels, the left-hand operands into
//! interleaved row strips, and a register-blocked micro-kernel multiplies one
//! strip by one panel. Several products `A_j · B_j` are fused by treating the
//! pairs as one long inner dimension, so `gemm_sum` costs the same as a single
//! product with the summed inner dimension.
//!
//! The micro-kernels use Winograd's inner-product identity, exact in any
//! commutative ring and therefore in Z_2^64:
//!
//! `a0·b0 + a1·b1 = (a0 + b1)·(a1 + b0) − a0·a1 − b0·b1`
//!
//! The two correction terms depend only on a row of A or a column of B, so
//! they are computed once while packing and subtracted at the end. This halves
//! the number of 64-bit multiplications, which are the bottleneck (`vpmullq`
//! issues once per cycle on the target Zen 5 while `vpaddq` issues twice),
//! and gave ~1.4× over a plain 6×32 `vpmullq` kernel in measurements.
//!
//! On x86_64 CPUs with AVX-512 F/DQ an 8×16 kernel is selected at runtime;
//! everywhere else a portable 4×8 kernel is used. Results are identical.

use std::cell::Cell;
use std::fmt;
use std::thread::LocalKey;

use ndarray::{Array2, ArrayView2, s};
use rayon::prelude::*;

/// Depth of a packed block (rows of B / columns of A held per pass); even.
const KC: usize = 512;
/// Maximum number of rows of A packed at once (multiple of every `MR`).
const MC: usize = 96;
/// Maximum number of columns of B packed at once (multiple of every `NR`).
const NC: usize = 2048;
/// Minimum number of multiply-adds (`m·n·k`) before work is spread over threads. Measured with
/// three parties sharing two cores (the in-process harness): a 256^3 product (2 pairs, 2^25) is
/// faster on one thread (3.5 ms vs 5.9 ms per secret matmul), a 512^3 one faster on two.
const PAR_THRESHOLD: u128 = 1 << 26;

/// Error returned when the operand shapes of a product do not agree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GemmShapeError {
    /// Index of the offending pair, or `None` if no pairs were given.
    pub pair: Option<usize>,
    /// Shape `(rows, cols)` of the left operand of the offending pair.
    pub a_shape: (usize, usize),
    /// Shape `(rows, cols)` of the right operand of the offending pair.
    pub b_shape: (usize, usize),
    /// Output shape `(m, n)` fixed by the first pair.
    pub expected_output: (usize, usize),
}

impl fmt::Display for GemmShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(pair) = self.pair else {
            return write!(f, "gemm: no matrix pairs were given");
        };
        let (ar, ac) = self.a_shape;
        let (br, bc) = self.b_shape;
        let (m, n) = self.expected_output;
        write!(
            f,
            "gemm: pair {pair} has shapes A {ar}x{ac} and B {br}x{bc}; \
             expected A {m}xk and B kx{n} with matching k"
        )
    }
}

impl std::error::Error for GemmShapeError {}

/// Computes `sum_j A_j · B_j` with wrapping `u64` arithmetic (mod 2^64).
///
/// All `A_j` are `m×k_j` and all `B_j` are `k_j×n` (`k_j` may differ per pair).
/// Views may have arbitrary strides (e.g. transposed). Never panics: returns
/// `Err(GemmShapeError)` if the shapes disagree or `pairs` is empty.
pub fn gemm_sum(
    pairs: &[(ArrayView2<'_, u64>, ArrayView2<'_, u64>)],
) -> Result<Array2<u64>, GemmShapeError> {
    compute(pairs, Path::detect(), None)
}

/// Convenience wrapper: computes `A · B` with wrapping `u64` arithmetic.
///
/// Returns `Err(GemmShapeError)` if `a.ncols() != b.nrows()`.
pub fn gemm(a: ArrayView2<'_, u64>, b: ArrayView2<'_, u64>) -> Result<Array2<u64>, GemmShapeError> {
    gemm_sum(&[(a, b)])
}

/// [`gemm_sum`] with the kernel and threading forced: `portable` selects the
/// portable kernel even where AVX-512 is available, and `Some(parallel)`
/// overrides the size-based threading decision. For tests and benchmarks.
#[doc(hidden)]
pub fn gemm_sum_with(
    pairs: &[(ArrayView2<'_, u64>, ArrayView2<'_, u64>)],
    portable: bool,
    parallel: Option<bool>,
) -> Result<Array2<u64>, GemmShapeError> {
    let path = if portable {
        Path::Portable
    } else {
        Path::detect()
    };
    compute(pairs, path, parallel)
}

/// Which micro-kernel family to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Path {
    /// 8×16 AVX-512 kernel; only constructed after runtime feature detection.
    #[cfg(target_arch = "x86_64")]
    Avx512,
    /// Portable 4×8 kernel.
    Portable,
}

impl Path {
    /// Returns the fastest path supported by the running CPU (cached).
    fn detect() -> Path {
        #[cfg(target_arch = "x86_64")]
        {
            static HAS_AVX512: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
            let has = *HAS_AVX512.get_or_init(|| {
                is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512dq")
            });
            if has {
                return Path::Avx512;
            }
        }
        Path::Portable
    }
}

/// Validated problem description: the pairs plus the fused dimensions.
struct Problem<'p, 'a> {
    pairs: &'p [(ArrayView2<'a, u64>, ArrayView2<'a, u64>)],
    m: usize,
    n: usize,
    k: usize,
}

impl<'p, 'a> Problem<'p, 'a> {
    fn new(
        pairs: &'p [(ArrayView2<'a, u64>, ArrayView2<'a, u64>)],
    ) -> Result<Self, GemmShapeError> {
        let Some((a0, b0)) = pairs.first() else {
            return Err(GemmShapeError {
                pair: None,
                a_shape: (0, 0),
                b_shape: (0, 0),
                expected_output: (0, 0),
            });
        };
        let (m, n) = (a0.nrows(), b0.ncols());
        let mut k = 0usize;
        for (i, (a, b)) in pairs.iter().enumerate() {
            if a.nrows() != m || b.ncols() != n || a.ncols() != b.nrows() {
                return Err(GemmShapeError {
                    pair: Some(i),
                    a_shape: a.dim(),
                    b_shape: b.dim(),
                    expected_output: (m, n),
                });
            }
            k += a.ncols();
        }
        Ok(Problem { pairs, m, n, k })
    }

    /// Calls `f(pair, local_start, len, dst_offset)` for every piece of the
    /// fused inner range `[p0, p0 + kc)` that lies in a single pair.
    fn segments(&self, p0: usize, kc: usize, mut f: impl FnMut(usize, usize, usize, usize)) {
        let end = p0 + kc;
        let mut off = 0;
        for (idx, (a, _)) in self.pairs.iter().enumerate() {
            let (lo, hi) = (off.max(p0), (off + a.ncols()).min(end));
            if lo < hi {
                f(idx, lo - off, hi - lo, lo - p0);
            }
            off += a.ncols();
        }
    }
}

fn compute(
    pairs: &[(ArrayView2<'_, u64>, ArrayView2<'_, u64>)],
    path: Path,
    parallel: Option<bool>,
) -> Result<Array2<u64>, GemmShapeError> {
    let prob = Problem::new(pairs)?;
    let mut out = Array2::<u64>::zeros((prob.m, prob.n));
    if prob.m == 0 || prob.n == 0 || prob.k == 0 {
        return Ok(out);
    }
    let parallel = parallel.unwrap_or_else(|| {
        let work = prob.m as u128 * prob.n as u128 * prob.k as u128;
        work >= PAR_THRESHOLD && rayon::current_num_threads() > 1
    });
    // `zeros` always yields a standard-layout (contiguous row-major) array.
    if let Some(c) = out.as_slice_mut() {
        match path {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Path::Avx512` is only produced by `Path::detect` after
            // confirming that the CPU supports AVX-512 F and DQ.
            Path::Avx512 => unsafe { drive::<Avx512Kernel>(&prob, c, parallel) },
            // SAFETY: the portable kernel has no CPU-feature requirements.
            Path::Portable => unsafe { drive::<PortableKernel>(&prob, c, parallel) },
        }
    }
    Ok(out)
}

/// A register-blocked Winograd micro-kernel computing an `MR×NR` tile.
trait MicroKernel {
    /// Rows of the output tile (rows of an A strip).
    const MR: usize;
    /// Columns of the output tile (columns of a B panel).
    const NR: usize;

    /// For the packed strip `a` and panel `b` of even depth `kc`, writes
    /// `sum_l (a[2l] + b[2l+1]) · (a[2l+1] + b[2l])` into `tile` (row-major).
    ///
    /// # Safety
    /// The CPU must support the kernel's target features; `kc` is even,
    /// `a.len() >= kc·MR`, `b.len() >= kc·NR` and `tile.len() >= MR·NR`.
    unsafe fn run(kc: usize, a: &[u64], b: &[u64], tile: &mut [u64]);
}

/// Portable 4×8 kernel written so that the compiler can vectorise it.
struct PortableKernel;

impl MicroKernel for PortableKernel {
    const MR: usize = 4;
    const NR: usize = 8;

    unsafe fn run(kc: usize, a: &[u64], b: &[u64], tile: &mut [u64]) {
        let mut acc = [[0u64; 8]; 4];
        for (ak, bk) in a.chunks_exact(8).zip(b.chunks_exact(16)).take(kc / 2) {
            let ((a0, a1), (b0, b1)) = (ak.split_at(4), bk.split_at(8));
            for ((row, &x0), &x1) in acc.iter_mut().zip(a0).zip(a1) {
                for ((x, &y0), &y1) in row.iter_mut().zip(b0).zip(b1) {
                    *x = x.wrapping_add(x0.wrapping_add(y1).wrapping_mul(x1.wrapping_add(y0)));
                }
            }
        }
        tile[..32].copy_from_slice(acc.as_flattened());
    }
}

/// AVX-512 8×16 kernel: 16 zmm accumulators; per vector and pair of inner
/// indices two `vpaddq` pre-additions, one `vpmullq` and one accumulation.
#[cfg(target_arch = "x86_64")]
struct Avx512Kernel;

#[cfg(target_arch = "x86_64")]
impl MicroKernel for Avx512Kernel {
    const MR: usize = 8;
    const NR: usize = 16;

    unsafe fn run(kc: usize, a: &[u64], b: &[u64], tile: &mut [u64]) {
        // SAFETY: forwarded from the caller's contract (CPU features, lengths).
        unsafe { avx512_kernel(kc, a, b, tile) }
    }
}

/// See [`MicroKernel::run`]; requires AVX-512 F and DQ. `MR = 8`, `NR = 16`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq")]
unsafe fn avx512_kernel(kc: usize, a: &[u64], b: &[u64], tile: &mut [u64]) {
    use core::arch::x86_64::*;
    assert!(kc.is_multiple_of(2) && a.len() >= kc * 8 && b.len() >= kc * 16 && tile.len() >= 128);
    let (ap, bp) = (a.as_ptr(), b.as_ptr());
    let mut acc = [[_mm512_setzero_si512(); 2]; 8];
    for l in 0..kc / 2 {
        let bq = bp.wrapping_add(l * 32).cast::<__m512i>();
        // SAFETY: 2l + 1 < kc and b.len() >= 16·kc, so the 32 elements of the
        // panel rows 2l and 2l+1 are in bounds; `loadu` needs no alignment.
        let (b0, b1) = unsafe {
            (
                [_mm512_loadu_si512(bq), _mm512_loadu_si512(bq.add(1))],
                [_mm512_loadu_si512(bq.add(2)), _mm512_loadu_si512(bq.add(3))],
            )
        };
        for (r, acc_r) in acc.iter_mut().enumerate() {
            // SAFETY: 16l + 8 + r < 8·kc <= a.len() since r < 8 and 2l + 1 < kc.
            let (x0, x1) = unsafe { (*ap.add(l * 16 + r), *ap.add(l * 16 + 8 + r)) };
            let (x0, x1) = (_mm512_set1_epi64(x0 as i64), _mm512_set1_epi64(x1 as i64));
            for ((acc_v, &y0), &y1) in acc_r.iter_mut().zip(&b0).zip(&b1) {
                let prod = _mm512_mullo_epi64(_mm512_add_epi64(x0, y1), _mm512_add_epi64(x1, y0));
                *acc_v = _mm512_add_epi64(*acc_v, prod);
            }
        }
    }
    for (dst, &x) in tile.chunks_exact_mut(8).zip(acc.as_flattened()) {
        // SAFETY: `dst` is a chunk of exactly 8 u64; `storeu` needs no alignment.
        unsafe { _mm512_storeu_si512(dst.as_mut_ptr().cast(), x) };
    }
}

thread_local! {
    static A_BUF: Cell<Vec<u64>> = const { Cell::new(Vec::new()) };
    static B_BUF: Cell<Vec<u64>> = const { Cell::new(Vec::new()) };
}

/// Runs `f` on a 64-byte aligned scratch slice of `len` elements borrowed from
/// the thread-local `key`. Re-entrant: a nested call simply allocates afresh.
fn with_buf<R>(
    key: &'static LocalKey<Cell<Vec<u64>>>,
    len: usize,
    f: impl FnOnce(&mut [u64]) -> R,
) -> R {
    let mut v = key.take();
    if v.len() < len + 8 {
        v = vec![0; len + 8];
    }
    let off = v.as_ptr().align_offset(64).min(8);
    let r = f(&mut v[off..off + len]);
    key.set(v);
    r
}

/// Adds `x[2l·w + i] · x[(2l+1)·w + i]` over all `l` to `out[i]` (`w` = width
/// of the packed buffer `x`): the Winograd correction term of each lane.
fn add_pair_products(x: &[u64], w: usize, out: &mut [u64]) {
    for pair in x.chunks_exact(2 * w) {
        let (x0, x1) = pair.split_at(w);
        for ((o, &u), &v) in out.iter_mut().zip(x0).zip(x1) {
            *o = o.wrapping_add(u.wrapping_mul(v));
        }
    }
}

/// Packs output indices `i0..i0 + cnt` (`cnt <= w`) of one fused operand over
/// the inner range `[p0, p0 + kc)` into `dst`: element `(p, i)` at `p·w + i`,
/// zero-padded to `dst.len() / w` inner indices. The operand is A (indexed by
/// output row) or, if `of_b`, Bᵀ (indexed by output column).
fn pack(
    prob: &Problem,
    of_b: bool,
    w: usize,
    (i0, cnt): (usize, usize),
    (p0, kc): (usize, usize),
    dst: &mut [u64],
) {
    if cnt < w || kc * w < dst.len() {
        dst.fill(0);
    }
    prob.segments(p0, kc, |idx, lp, len, d| {
        let (a, b) = &prob.pairs[idx];
        let x = if of_b { b.t() } else { a.view() };
        let x = x.slice(s![i0..i0 + cnt, lp..lp + len]);
        let dst = &mut dst[d * w..(d + len) * w];
        let mut rows: [&[u64]; 16] = [&[]; 16];
        if x.strides()[0].unsigned_abs() <= x.strides()[1].unsigned_abs() {
            // Output index is the fast one: copy one column per inner index.
            for (chunk, col) in dst.chunks_exact_mut(w).zip(x.columns()) {
                match col.to_slice() {
                    Some(src) => chunk[..cnt].copy_from_slice(src),
                    None => chunk.iter_mut().zip(col).for_each(|(y, &v)| *y = v),
                }
            }
        } else if cnt <= rows.len()
            && (x.rows().into_iter().zip(&mut rows))
                .all(|(r, y)| r.to_slice().map(|r| *y = r).is_some())
        {
            // Contiguous rows: gather one element of every row per step.
            for (p, chunk) in dst.chunks_exact_mut(w).enumerate() {
                for (y, row) in chunk.iter_mut().zip(&rows[..cnt]) {
                    *y = row[p];
                }
            }
        } else {
            for (r, row) in x.rows().into_iter().enumerate() {
                for (y, &v) in dst[r..].iter_mut().step_by(w).zip(row) {
                    *y = v;
                }
            }
        }
    });
}

/// One row block of the output for one packed B block.
struct RowBlock {
    /// First output row.
    ic: usize,
    /// Number of rows.
    mc: usize,
    /// First output column covered by the packed B block.
    jc: usize,
    /// Number of columns covered by the packed B block.
    nc: usize,
    /// Start of the inner range.
    p0: usize,
    /// Length of the inner range.
    kc: usize,
    /// Whether to accumulate the A correction terms (only for the first `jc`).
    row_terms: bool,
}

/// Packs the A block of `blk` and multiplies it with the packed B block `bp`,
/// accumulating into `c` (output rows `ic..ic+mc`, row stride `n`) and, if
/// requested, the A correction terms into `rt` (`mc` entries).
///
/// # Safety
/// The CPU must support the target features required by `K::run`.
unsafe fn block<K: MicroKernel>(
    prob: &Problem,
    blk: &RowBlock,
    bp: &[u64],
    c: &mut [u64],
    rt: &mut [u64],
) {
    let (mr, nr, n) = (K::MR, K::NR, prob.n);
    let kce = blk.kc.div_ceil(2) * 2;
    with_buf(&A_BUF, blk.mc.div_ceil(mr) * mr * kce, |ap| {
        for (s, (strip, rts)) in ap
            .chunks_exact_mut(kce * mr)
            .zip(rt.chunks_mut(mr))
            .enumerate()
        {
            pack(
                prob,
                false,
                mr,
                (blk.ic + s * mr, rts.len()),
                (blk.p0, blk.kc),
                strip,
            );
            if blk.row_terms {
                add_pair_products(strip, mr, rts);
            }
        }
        let mut tile = [0u64; 128];
        for (t, panel) in bp.chunks_exact(kce * nr).enumerate() {
            let (j0, cols) = (blk.jc + t * nr, nr.min(blk.nc - t * nr));
            for (s, strip) in ap.chunks_exact(kce * mr).enumerate() {
                // SAFETY: strip/panel hold kce·MR / kce·NR elements with kce
                // even, and MR·NR <= 128 for every kernel.
                unsafe { K::run(kce, strip, panel, &mut tile) };
                let rows = mr.min(blk.mc - s * mr);
                for (r, src) in tile.chunks_exact(nr).take(rows).enumerate() {
                    let off = (s * mr + r) * n + j0;
                    for (d, &v) in c[off..off + cols].iter_mut().zip(src) {
                        *d = d.wrapping_add(v);
                    }
                }
            }
        }
    });
}

/// Blocked driver: computes the fused product into the zeroed row-major `c`.
///
/// # Safety
/// The CPU must support the target features required by `K::run`.
unsafe fn drive<K: MicroKernel>(prob: &Problem, c: &mut [u64], parallel: bool) {
    let (m, n, k) = (prob.m, prob.n, prob.k);
    let (mr, nr) = (K::MR, K::NR);
    // Row-block height: MC, or smaller so that every thread gets equal work.
    let mc_max = if parallel {
        let threads = rayon::current_num_threads();
        let blocks = m.div_ceil(MC).max(threads).div_ceil(threads) * threads;
        m.div_ceil(blocks).div_ceil(mr) * mr
    } else {
        MC
    };
    let (mut row_terms, mut col_terms) = (vec![0u64; m], vec![0u64; n]);
    for jc in (0..n).step_by(NC) {
        let nc = NC.min(n - jc);
        for p0 in (0..k).step_by(KC) {
            let kc = KC.min(k - p0);
            let kce = kc.div_ceil(2) * 2;
            let col_terms = &mut col_terms[jc..jc + nc];
            with_buf(&B_BUF, nc.div_ceil(nr) * nr * kce, |bp| {
                let pack = |(t, (panel, ct)): (usize, (&mut [u64], &mut [u64]))| {
                    pack(prob, true, nr, (jc + t * nr, ct.len()), (p0, kc), panel);
                    add_pair_products(panel, nr, ct);
                };
                if parallel {
                    let panels = bp.par_chunks_mut(kce * nr);
                    panels
                        .zip(col_terms.par_chunks_mut(nr))
                        .enumerate()
                        .for_each(pack);
                } else {
                    let panels = bp.chunks_mut(kce * nr);
                    panels
                        .zip(col_terms.chunks_mut(nr))
                        .enumerate()
                        .for_each(pack);
                }
                let bp: &[u64] = bp;
                let run = |(i, (cblk, rt)): (usize, (&mut [u64], &mut [u64]))| {
                    let (ic, row_terms) = (i * mc_max, jc == 0);
                    let blk = RowBlock {
                        ic,
                        mc: rt.len(),
                        jc,
                        nc,
                        p0,
                        kc,
                        row_terms,
                    };
                    // SAFETY: forwarded CPU-feature contract.
                    unsafe { block::<K>(prob, &blk, bp, cblk, rt) };
                };
                if parallel {
                    let rows = c.par_chunks_mut(mc_max * n);
                    rows.zip(row_terms.par_chunks_mut(mc_max))
                        .enumerate()
                        .for_each(run);
                } else {
                    let rows = c.chunks_mut(mc_max * n);
                    rows.zip(row_terms.chunks_mut(mc_max))
                        .enumerate()
                        .for_each(run);
                }
            });
        }
    }
    // Subtract the Winograd correction terms: C[i][j] -= rt[i] + ct[j].
    let fix = |(row, &rt): (&mut [u64], &u64)| {
        for (x, &ct) in row.iter_mut().zip(&col_terms) {
            *x = x.wrapping_sub(rt.wrapping_add(ct));
        }
    };
    if parallel {
        c.par_chunks_mut(n).zip(&row_terms).for_each(fix);
    } else {
        c.chunks_mut(n).zip(&row_terms).for_each(fix);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn mat(&mut self, r: usize, c: usize) -> Array2<u64> {
            Array2::from_shape_simple_fn((r, c), || self.next())
        }
    }

    fn naive(pairs: &[(ArrayView2<'_, u64>, ArrayView2<'_, u64>)]) -> Array2<u64> {
        let (m, n) = (pairs[0].0.nrows(), pairs[0].1.ncols());
        let mut c = Array2::<u64>::zeros((m, n));
        for (a, b) in pairs {
            for i in 0..m {
                for j in 0..n {
                    let mut s = 0u64;
                    for p in 0..a.ncols() {
                        s = s.wrapping_add(a[[i, p]].wrapping_mul(b[[p, j]]));
                    }
                    c[[i, j]] = c[[i, j]].wrapping_add(s);
                }
            }
        }
        c
    }

    fn check_all(pairs: &[(ArrayView2<'_, u64>, ArrayView2<'_, u64>)]) {
        let want = naive(pairs);
        assert_eq!(gemm_sum(pairs).unwrap(), want);
        assert_eq!(gemm_sum_with(pairs, true, None).unwrap(), want);
        assert_eq!(compute(pairs, Path::Portable, Some(true)).unwrap(), want);
        assert_eq!(gemm_sum_with(pairs, false, Some(true)).unwrap(), want);
        assert_eq!(gemm_sum_with(pairs, false, Some(false)).unwrap(), want);
    }

    #[test]
    fn avx512_detected_on_x86() {
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx512dq") {
            assert_eq!(Path::detect(), Path::Avx512);
        }
    }

    #[test]
    fn single_products() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let shapes = [
            (1, 1, 1),
            (7, 33, 5),
            (1, 1000, 1),
            (130, 3, 70),
            (6, 32, 32),
            (12, 257, 64),
            (13, 600, 97),
            (97, 300, 129),
            (200, 513, 33),
            (5, 1, 2100),
        ];
        for &(m, k, n) in &shapes {
            let (a, b) = (rng.mat(m, k), rng.mat(k, n));
            check_all(&[(a.view(), b.view())]);
            assert_eq!(
                gemm(a.view(), b.view()).unwrap(),
                naive(&[(a.view(), b.view())])
            );
        }
    }

    #[test]
    fn zero_sized() {
        for &(m, k, n) in &[(3, 0, 4), (0, 5, 4), (3, 5, 0), (0, 0, 0)] {
            let (a, b) = (Array2::<u64>::ones((m, k)), Array2::<u64>::ones((k, n)));
            let c = gemm(a.view(), b.view()).unwrap();
            assert_eq!(c, Array2::<u64>::zeros((m, n)));
            check_all(&[(a.view(), b.view())]);
        }
    }

    #[test]
    fn strided_views() {
        let mut rng = Rng(12345);
        for &(m, k, n) in &[(7, 33, 5), (40, 300, 70), (1, 9, 1), (65, 270, 33)] {
            let at = rng.mat(k, m); // transposed A
            let bt = rng.mat(n, k); // transposed B
            check_all(&[(at.t(), bt.t())]);
            // Non-contiguous: every other row/column, including negative strides.
            let big_a = rng.mat(2 * m, 3 * k);
            let big_b = rng.mat(2 * k, 2 * n);
            let a = big_a.slice(s![..;2, ..k;-1]);
            let b = big_b.slice(s![1..;2, ..;2]);
            check_all(&[(a, b)]);
            check_all(&[(a, bt.t()), (at.t(), b)]);
        }
    }

    #[test]
    fn multiple_pairs() {
        let mut rng = Rng(777);
        for &(m, n, ks) in &[
            (7, 5, &[33usize, 1, 0, 300][..]),
            (64, 70, &[256, 256][..]),
            (130, 40, &[3, 250, 7][..]),
            (100, 100, &[300, 0, 301][..]),
        ] {
            let a: Vec<_> = ks.iter().map(|&k| rng.mat(m, k)).collect();
            let b: Vec<_> = ks.iter().map(|&k| rng.mat(k, n)).collect();
            let pairs: Vec<_> = a
                .iter()
                .zip(&b)
                .map(|(a, b)| (a.view(), b.view()))
                .collect();
            check_all(&pairs);
        }
    }

    #[test]
    fn large_parallel_matches() {
        let mut rng = Rng(4242);
        let (a0, b0, a1, b1) = (
            rng.mat(300, 200),
            rng.mat(200, 290),
            rng.mat(300, 300),
            rng.mat(300, 290),
        );
        let pairs = [(a0.view(), b0.view()), (a1.view(), b1.view())];
        check_all(&pairs);
    }

    #[test]
    fn concurrent_nested_calls() {
        let mut rng = Rng(99);
        let (a, b, c) = (rng.mat(260, 270), rng.mat(270, 250), rng.mat(270, 250));
        let want = naive(&[(a.view(), b.view()), (a.view(), c.view())]);
        let run = || {
            gemm_sum_with(
                &[(a.view(), b.view()), (a.view(), c.view())],
                false,
                Some(true),
            )
        };
        let (x, (y, z)) = rayon::join(run, || rayon::join(run, run));
        for r in [x, y, z] {
            assert_eq!(r.unwrap(), want);
        }
    }

    #[test]
    fn shape_errors() {
        let a = Array2::<u64>::zeros((3, 4));
        let b = Array2::<u64>::zeros((4, 5));
        let bad_k = Array2::<u64>::zeros((3, 5));
        let bad_m = Array2::<u64>::zeros((2, 4));
        let bad_n = Array2::<u64>::zeros((4, 6));
        assert_eq!(gemm_sum(&[]).unwrap_err().pair, None);
        assert!(gemm_sum_with(&[], true, None).is_err());
        assert_eq!(gemm(a.view(), bad_k.view()).unwrap_err().pair, Some(0));
        let e = gemm_sum(&[(a.view(), b.view()), (bad_m.view(), b.view())]).unwrap_err();
        assert_eq!(e.pair, Some(1));
        assert_eq!(e.a_shape, (2, 4));
        assert!(e.to_string().contains("pair 1"));
        assert!(gemm_sum(&[(a.view(), b.view()), (a.view(), bad_n.view())]).is_err());
        assert!(gemm_sum(&[(a.view(), b.view()), (a.view(), bad_k.view())]).is_err());
        assert!(
            !GemmShapeError {
                pair: None,
                a_shape: (0, 0),
                b_shape: (0, 0),
                expected_output: (0, 0)
            }
            .to_string()
            .is_empty()
        );
    }
}
