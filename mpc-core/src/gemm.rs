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
//! ## Kernels
//! Chosen at run time ([`GemmKernel::detect`], with `is_x86_feature_detected!`); all give
//! bit-identical results (the tests run every kernel the CPU supports against a naive product):
//! - **AVX-512** (x86-64 with AVX-512 F/DQ): an 8×16 tile of `vpmullq` products;
//! - **AVX2** (x86-64 with AVX2 but no AVX-512, e.g. AMD Zen 2/3): a 5×4 tile. AVX2 has no
//!   64-bit multiplication: each product `x·y` is `x_l·y_l + (x_l·y_h + x_h·y_l) 2^32` over the
//!   32-bit halves, one `vpmuludq` for `x_l·y_l` and one `vpmulld` for both cross products at
//!   once (after a `vpshufd` swapping the halves of `y`), see `gemm/kernels.rs`;
//! - **portable** (everything else, including AArch64): a scalar 4×4 tile (its results on AArch64
//!   are checked under emulation by `scripts/test-aarch64.sh`).
//!
//! ## Measured throughput (one thread, G wrapping multiply-adds per second)
//! The floor rows are register-blocked inner loops on L1-resident packed operands (no packing,
//! no memory traffic; `cargo bench --bench core -- floor`), the GEMM rows the whole product on
//! the shapes of one party in a secret matmul (`-- gemm`: `256×512 · 512×256` and
//! `512×1024 · 1024×512` as two fused pairs). Zen 3 figures are the best of several quiet runs
//! on a 2-vCPU AMD EPYC (family 25 model 1, AVX2, no AVX-512) VM at about 3.07 GHz (a chain of
//! dependent additions); under load on its host the same binary measures up to 2× less, so
//! the multiply-adds per cycle are the stable figure.
//!
//! | CPU | loop | G multiply-adds/s | per cycle |
//! |---|---|---|---|
//! | Zen 5, AVX-512 | GEMM, AVX-512 kernel (`vpmullq`, Winograd) | 21-23 | |
//! | Zen 3, AVX2 | floor: scalar `imul` 4×4 (one multiplier: 1 `imul` per cycle) | 3.0-3.2 | 1.0 |
//! | Zen 3, AVX2 | floor: scalar `imul` 4×4, Winograd | 3.8-4.7 | 1.2-1.5 |
//! | Zen 3, AVX2 | floor: three `vpmuludq` + shifts per product | 4.4-5.1 | 1.5 |
//! | Zen 3, AVX2 | floor: three `vpmuludq` + shifts, Winograd | 7.3-8.3 | 2.4-2.7 |
//! | Zen 3, AVX2 | floor: `vpmuludq` + `vpmulld` | 6.8-10 | 2.2-3.3 |
//! | Zen 3, AVX2 | floor: `vpmuludq` + `vpshufd` + `vpmulld`, Winograd (the AVX2 kernel) | **10.6-12** | 3.5-3.9 |
//! | Zen 3, AVX2 | GEMM, AVX2 kernel | 9-10 | 3.0-3.3 |
//! | Zen 3, AVX2 | GEMM, portable kernel (the former 4×8 kernel: 3.7) | 3.8-4.0 | 1.3 |
//! | Zen 4, AVX-512 | floor: scalar `imul` 4×4 / Winograd | 3.6 / 4.9 | 1.0 / 1.4 |
//! | Zen 4, AVX-512 | floor: three `vpmuludq` + shifts / Winograd | 7.3 / 10.0 | 2.0 / 2.8 |
//! | Zen 4, AVX-512 | floor: `vpmuludq` + `vpmulld` / Winograd (the AVX2 kernel) | 11.4 / **14.2** | 3.2 / 4.0 |
//! | Zen 4, AVX-512 | GEMM, AVX2 kernel (forced) | 7.4-9.3 | 2.1-2.6 |
//! | Zen 4, AVX-512 | GEMM, AVX-512 kernel | 18.5-21.5 | 5.2-6.0 |
//! | Zen 4, AVX-512 | GEMM, portable kernel | 3.1-3.9 | 0.9-1.1 |
//!
//! Two `vpmuludq`/`vpmulld` issue per cycle on Zen 3; the Winograd AVX2 loop needs 7 vector
//! operations (2 multiplications) per 8 multiply-adds, which bounds it at about 4.6 per cycle
//! on the 4 vector pipes. The GEMM runs at 85-95% of the floor (packing, the correction terms
//! and adding tiles into C take the rest). The Zen 4 rows (family 25 model 17, a 2-vCPU VM at
//! about 3.6 GHz, one window on 2026-12-02) show the AVX2 kernel at only 55-65% of its floor
//! there (a packing depth of 256 instead of 512 measured the same), so forcing it on an AVX-512
//! CPU understates an AVX2-only one. In a later, quieter session on the same kind of VM the
//! floor measured 12.8 G and the best of 15 single products 10.2-10.6 G for both 256^3 and
//! 512^3 (80-83%); criterion's medians of the fused shapes, 6.7 G (256) and 11-12 G (512),
//! show how much of the gap is the VM's noise.
use std::cell::Cell;
use std::fmt;
use std::thread::LocalKey;

use ndarray::{Array2, ArrayView2, s};
use rayon::prelude::*;

mod kernels;
#[cfg(test)]
mod tests;

#[cfg(target_arch = "x86_64")]
use kernels::{Avx2Kernel, Avx512Kernel};
use kernels::{MicroKernel, PortableKernel};

/// Depth of a packed block (rows of B / columns of A held per pass); even. (256, 384 and 512
/// measured alike for the AVX2 kernel.)
const KC: usize = 512;
/// Maximum number of columns of B packed at once (multiple of every `NR`).
const NC: usize = 2048;
/// Minimum number of multiply-adds (`m·n·k`) before work is spread over threads, by kernel.
/// Measured with three parties sharing two cores (the in-process harness, 2026-12-04, each
/// sample timed to the slowest party's finish): with one thread per product, the three
/// parties' GEMMs of a secret 256 matmul (2 pairs, 2^25) run two after another on one core;
/// rayon's shared pool splits them evenly instead. With the AVX2 kernel (a 1.4 ms GEMM) that
/// is 0.87x the time at 2^24 (15 interleaved A/B runs, two sessions); with AVX-512 (0.7 ms)
/// it measured 1.01-1.05x, so there 256^3 stays on one thread and 512^3 goes parallel. Below
/// 2^24 (a 192 or 128 matmul) splitting costs more than it balances (1.06-1.17x, AVX2).
fn par_threshold(path: Path) -> u128 {
    match path {
        #[cfg(target_arch = "x86_64")]
        Path::Avx512 => 1 << 26,
        _ => 1 << 24,
    }
}

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

/// A micro-kernel family of the GEMM. Every kernel gives bit-identical results; which ones the
/// running CPU supports is decided at run time ([`GemmKernel::is_supported`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GemmKernel {
    /// Portable scalar 4×4 kernel (any CPU, any architecture).
    Portable,
    /// AVX2 kernel (x86-64 with AVX2, e.g. AMD Zen 2/3, Intel Haswell and later).
    Avx2,
    /// AVX-512 F/DQ 8×16 kernel (x86-64 with AVX-512, e.g. AMD Zen 4/5).
    Avx512,
}

impl GemmKernel {
    /// Every kernel, slowest first.
    pub const ALL: [GemmKernel; 3] = [GemmKernel::Portable, GemmKernel::Avx2, GemmKernel::Avx512];

    /// The kernel [`gemm_sum`] uses on this CPU: the fastest supported one (detected once), or
    /// the one [`force_kernel`] set.
    pub fn detect() -> GemmKernel {
        Path::detect().kernel()
    }

    /// Whether the running CPU supports this kernel.
    pub fn is_supported(self) -> bool {
        Path::of(self).is_some()
    }

    /// The kernels the running CPU supports, slowest first.
    pub fn supported() -> Vec<GemmKernel> {
        Self::ALL.into_iter().filter(|k| k.is_supported()).collect()
    }

    /// A short name: `"portable"`, `"avx2"` or `"avx512"`.
    pub fn name(self) -> &'static str {
        match self {
            GemmKernel::Portable => "portable",
            GemmKernel::Avx2 => "avx2",
            GemmKernel::Avx512 => "avx512",
        }
    }
}

/// The kernel forced by [`force_kernel`] (`0`: none; else `1 +` its index in [`GemmKernel::ALL`]).
static FORCED: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// Makes every later [`gemm_sum`] (and so every secret matmul and convolution) in this process
/// use `kernel`, or with `None` the fastest one again. For benchmarks that compare kernels on
/// one machine (e.g. `bench_suite -- --kernel avx2` on an AVX-512 CPU); results are the same on
/// every kernel. Returns [`GemmError::Unsupported`] (and changes nothing) if the CPU lacks it.
///
/// ```
/// use mpc_core::gemm::{GemmKernel, force_kernel, gemm};
/// use ndarray::array;
/// force_kernel(Some(GemmKernel::Portable)).unwrap();
/// assert_eq!(GemmKernel::detect(), GemmKernel::Portable);
/// let c = gemm(array![[2u64, 3]].view(), array![[4u64], [5]].view()).unwrap();
/// assert_eq!(c, array![[23u64]]);
/// force_kernel(None).unwrap();
/// ```
pub fn force_kernel(kernel: Option<GemmKernel>) -> Result<(), GemmError> {
    use std::sync::atomic::Ordering;
    let code = match kernel {
        None => 0,
        Some(k) => {
            if !k.is_supported() {
                return Err(GemmError::Unsupported(k));
            }
            GemmKernel::ALL
                .iter()
                .position(|&a| a == k)
                .map_or(0, |i| i as u8 + 1)
        }
    };
    FORCED.store(code, Ordering::Relaxed);
    Ok(())
}

/// The name of the kernel [`gemm_sum`] uses on this CPU (see [`GemmKernel::name`]), for
/// benchmark reports.
pub fn kernel_name() -> &'static str {
    GemmKernel::detect().name()
}

/// Why [`gemm_sum_with`] computed nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GemmError {
    /// The operand shapes disagree (as for [`gemm_sum`]).
    Shape(GemmShapeError),
    /// The forced kernel is not supported by the running CPU.
    Unsupported(GemmKernel),
}

impl fmt::Display for GemmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GemmError::Shape(e) => e.fmt(f),
            GemmError::Unsupported(k) => {
                write!(
                    f,
                    "gemm: the {} kernel is not supported by this CPU",
                    k.name()
                )
            }
        }
    }
}

impl std::error::Error for GemmError {}

impl From<GemmShapeError> for GemmError {
    fn from(e: GemmShapeError) -> Self {
        GemmError::Shape(e)
    }
}

/// [`gemm_sum`] with the kernel and threading forced: `kernel` is used even where a faster one
/// is available (an [`GemmError::Unsupported`] error if the CPU lacks it), and `Some(parallel)`
/// overrides the size-based threading decision. For tests and benchmarks.
#[doc(hidden)]
pub fn gemm_sum_with(
    pairs: &[(ArrayView2<'_, u64>, ArrayView2<'_, u64>)],
    kernel: GemmKernel,
    parallel: Option<bool>,
) -> Result<Array2<u64>, GemmError> {
    let path = Path::of(kernel).ok_or(GemmError::Unsupported(kernel))?;
    Ok(compute(pairs, path, parallel)?)
}

/// Which micro-kernel family to run; the SIMD variants are only constructed after run-time
/// feature detection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Path {
    /// AVX-512 8×16 kernel.
    #[cfg(target_arch = "x86_64")]
    Avx512,
    /// AVX2 kernel.
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// Portable scalar kernel.
    Portable,
}

impl Path {
    /// Returns the path [`force_kernel`] set, else the fastest one the running CPU supports
    /// (cached).
    fn detect() -> Path {
        let forced = FORCED.load(std::sync::atomic::Ordering::Relaxed);
        if let Some(path) =
            (GemmKernel::ALL.get(usize::from(forced).wrapping_sub(1))).and_then(|&k| Path::of(k))
        {
            return path;
        }
        #[cfg(target_arch = "x86_64")]
        {
            static BEST: std::sync::OnceLock<Path> = std::sync::OnceLock::new();
            *BEST.get_or_init(|| {
                if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512dq") {
                    Path::Avx512
                } else if is_x86_feature_detected!("avx2") {
                    Path::Avx2
                } else {
                    Path::Portable
                }
            })
        }
        #[cfg(not(target_arch = "x86_64"))]
        Path::Portable
    }

    /// The path of `kernel`, if the running CPU supports it.
    fn of(kernel: GemmKernel) -> Option<Path> {
        match kernel {
            GemmKernel::Portable => Some(Path::Portable),
            #[cfg(target_arch = "x86_64")]
            GemmKernel::Avx2 if is_x86_feature_detected!("avx2") => Some(Path::Avx2),
            #[cfg(target_arch = "x86_64")]
            GemmKernel::Avx512
                if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512dq") =>
            {
                Some(Path::Avx512)
            }
            _ => None,
        }
    }

    /// The public name of this path.
    fn kernel(self) -> GemmKernel {
        match self {
            #[cfg(target_arch = "x86_64")]
            Path::Avx512 => GemmKernel::Avx512,
            #[cfg(target_arch = "x86_64")]
            Path::Avx2 => GemmKernel::Avx2,
            Path::Portable => GemmKernel::Portable,
        }
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
    // The output comes from the buffer pool (memory already mapped and written), cleared with
    // one pass of stores. `Array2::zeros` would `calloc` fresh pages that the kernel's first
    // read maps to the shared zero page and its first write then copies: a page fault and a
    // TLB shoot-down to the other cores per 4 KiB (5-8% of a secret 256 matmul).
    let cells = prob.m * prob.n;
    let mut out = Array2::from_shape_vec((prob.m, prob.n), mpc_net::pool::take_zeroed(cells))
        .unwrap_or_else(|_| Array2::zeros((prob.m, prob.n)));
    if prob.m == 0 || prob.n == 0 || prob.k == 0 {
        return Ok(out);
    }
    let parallel = parallel.unwrap_or_else(|| {
        let work = prob.m as u128 * prob.n as u128 * prob.k as u128;
        work >= par_threshold(path) && rayon::current_num_threads() > 1
    });
    // `from_shape_vec` and `zeros` yield standard-layout (contiguous row-major) arrays.
    if let Some(c) = out.as_slice_mut() {
        match path {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Path::Avx512` is only produced by `Path::detect` and `Path::of` after
            // confirming that the CPU supports AVX-512 F and DQ.
            Path::Avx512 => unsafe { drive::<Avx512Kernel>(&prob, c, parallel) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Path::Avx2` is only produced after confirming that the CPU supports AVX2.
            Path::Avx2 => unsafe { drive::<Avx2Kernel>(&prob, c, parallel) },
            // SAFETY: the portable kernel has no CPU-feature requirements.
            Path::Portable => unsafe { drive::<PortableKernel>(&prob, c, parallel) },
        }
    }
    Ok(out)
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
                    Some(src) => copy_words(&mut chunk[..cnt], src),
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

/// `dst.copy_from_slice(src)`, with the copy inlined for the panel widths (a library
/// `memmove` call per 4 words cost more than the copy: about 5% of a 512 matmul).
#[inline]
fn copy_words(dst: &mut [u64], src: &[u64]) {
    match (dst.len(), src.len()) {
        (4, 4) => dst[..4].copy_from_slice(&src[..4]),
        (8, 8) => dst[..8].copy_from_slice(&src[..8]),
        (16, 16) => dst[..16].copy_from_slice(&src[..16]),
        _ => dst.copy_from_slice(src),
    }
}

/// Asks the CPU to fetch the cache lines of `c[off..off + len]` (a hint; a no-op where the
/// architecture has no stable prefetch instruction).
#[inline]
fn prefetch(c: &[u64], off: usize, len: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(row) = c.get(off..off + len) {
        use core::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        for chunk in row.chunks(8) {
            // SAFETY: a prefetch is only a hint and never faults; the address is in `c`.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(chunk.as_ptr().cast()) };
        }
        if let Some(last) = row.last() {
            // SAFETY: as above (the last line, if the row crosses one more line boundary).
            unsafe { _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(last).cast()) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (c, off, len);
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
                let rows = mr.min(blk.mc - s * mr);
                // the tile's rows of C are n words apart (a cache miss each, and a TLB miss
                // for n >= 512): fetch them while the kernel runs
                for r in 0..rows {
                    prefetch(c, (s * mr + r) * n + j0, cols);
                }
                // SAFETY: strip/panel hold kce·MR / kce·NR elements with kce
                // even, and MR·NR <= 128 for every kernel.
                unsafe { K::run(kce, strip, panel, &mut tile) };
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
    // Row-block height: the kernel's MC, or smaller so that every thread gets equal work.
    let mc_max = if parallel {
        let threads = rayon::current_num_threads();
        let blocks = m.div_ceil(K::MC).max(threads).div_ceil(threads) * threads;
        m.div_ceil(blocks).div_ceil(mr) * mr
    } else {
        K::MC
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
