//! The register-blocked Winograd micro-kernels of [`crate::gemm`]: one portable scalar kernel
//! and, on x86-64, an AVX2 and an AVX-512 kernel (used only after run-time detection).
//!
//! Every kernel computes, for a packed strip `a` of `MR` rows and a packed panel `b` of `NR`
//! columns (element `(p, i)` at `p·MR + i`, resp. `p·NR + j`), the `MR×NR` tile
//! `sum_l (a[2l][i] + b[2l+1][j]) · (a[2l+1][i] + b[2l][j])` with wrapping arithmetic, so all of
//! them give bit-identical results.

/// A register-blocked Winograd micro-kernel computing an `MR×NR` tile.
pub(super) trait MicroKernel {
    /// Rows of the output tile (rows of an A strip).
    const MR: usize;
    /// Columns of the output tile (columns of a B panel).
    const NR: usize;
    /// Rows of A packed at once (a multiple of `MR`): the packed A block, `MC × KC` words,
    /// stays in the L2 cache while the B panels pass through L1.
    const MC: usize;

    /// For the packed strip `a` and panel `b` of even depth `kc`, writes
    /// `sum_l (a[2l] + b[2l+1]) · (a[2l+1] + b[2l])` into `tile` (row-major).
    ///
    /// # Safety
    /// The CPU must support the kernel's target features; `kc` is even,
    /// `a.len() >= kc·MR`, `b.len() >= kc·NR` and `tile.len() >= MR·NR`.
    unsafe fn run(kc: usize, a: &[u64], b: &[u64], tile: &mut [u64]);
}

/// Portable scalar 4×4 kernel: 16 accumulators and, per pair of inner indices, two additions
/// and one 64-bit multiplication per output. It is written to stay scalar: on x86-64 without
/// AVX2 the vectorised 64-bit product (three `pmuludq` and shifts per two lanes) is slower than
/// `imul` (measured 4.7 vs 4.0 G multiply-adds per second on Zen 3), and AArch64 has no vector
/// 64-bit multiplication at all.
pub(super) struct PortableKernel;

impl MicroKernel for PortableKernel {
    const MR: usize = 4;
    const NR: usize = 4;
    const MC: usize = 96;

    unsafe fn run(kc: usize, a: &[u64], b: &[u64], tile: &mut [u64]) {
        let mut acc = [[0u64; 4]; 4];
        for (ak, bk) in a.chunks_exact(8).zip(b.chunks_exact(8)).take(kc / 2) {
            let ((a0, a1), (b0, b1)) = (ak.split_at(4), bk.split_at(4));
            for ((row, &x0), &x1) in acc.iter_mut().zip(a0).zip(a1) {
                for ((x, &y0), &y1) in row.iter_mut().zip(b0).zip(b1) {
                    *x = x.wrapping_add(x0.wrapping_add(y1).wrapping_mul(x1.wrapping_add(y0)));
                }
            }
        }
        tile[..16].copy_from_slice(acc.as_flattened());
    }
}

/// AVX2 kernel, `MR = 5`, `NR = 4` (see [`avx2_kernel`]; measured against 4×4, 6×4, 2×8 and
/// 3×8 tiles, 5×4 was fastest on Zen 3: 15 of the 16 ymm registers, no spills).
#[cfg(target_arch = "x86_64")]
pub(super) struct Avx2Kernel;

#[cfg(target_arch = "x86_64")]
impl MicroKernel for Avx2Kernel {
    const MR: usize = AVX2_MR;
    const NR: usize = 4 * AVX2_NV;
    const MC: usize = 16 * AVX2_MR;

    unsafe fn run(kc: usize, a: &[u64], b: &[u64], tile: &mut [u64]) {
        // SAFETY: forwarded from the caller's contract (CPU features, lengths).
        unsafe { avx2_kernel::<AVX2_MR, AVX2_NV>(kc, a, b, tile) }
    }
}

/// Rows of the AVX2 tile.
#[cfg(target_arch = "x86_64")]
const AVX2_MR: usize = 5;
/// 4-lane vectors per row of the AVX2 tile.
#[cfg(target_arch = "x86_64")]
const AVX2_NV: usize = 1;

/// The AVX2 Winograd kernel (`MR` rows, `NV` vectors of 4 lanes). AVX2 has no 64-bit
/// multiplication; with `x = x_h 2^32 + x_l` and `y` likewise,
/// `x·y = x_l·y_l + (x_l·y_h + x_h·y_l) 2^32 (mod 2^64)`, and only the low 32 bits of the two
/// cross products matter. So per 4 products: one `vpmuludq` (`x_l·y_l`, 64 bits), one
/// `vpshufd` (swap the halves of `y`) and one `vpmulld` (both cross products, 32 bits each, in
/// one instruction). `x_l·y_l` accumulates in 64-bit lanes, the cross products in 32-bit lanes
/// (`vpaddd`), and the tile is combined once at the end. With the two Winograd pre-additions
/// that is 7 vector operations per 8 multiply-adds.
///
/// # Safety
/// The CPU must support AVX2; see [`MicroKernel::run`] for the lengths.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn avx2_kernel<const MR: usize, const NV: usize>(
    kc: usize,
    a: &[u64],
    b: &[u64],
    tile: &mut [u64],
) {
    use core::arch::x86_64::*;
    let nr = 4 * NV;
    assert!(kc.is_multiple_of(2) && a.len() >= kc * MR && b.len() >= kc * nr);
    assert!(tile.len() >= MR * nr);
    let (ap, bp) = (a.as_ptr(), b.as_ptr());
    let mut lo = [[_mm256_setzero_si256(); NV]; MR];
    let mut cross = [[_mm256_setzero_si256(); NV]; MR];
    for l in 0..kc / 2 {
        let bq = bp.wrapping_add(l * 2 * nr).cast::<__m256i>();
        for r in 0..MR {
            // SAFETY: 2l·MR + MR + r < kc·MR <= a.len() since r < MR and 2l + 1 < kc.
            let (x0, x1) = unsafe { (*ap.add(l * 2 * MR + r), *ap.add(l * 2 * MR + MR + r)) };
            let (x0, x1) = (_mm256_set1_epi64x(x0 as i64), _mm256_set1_epi64x(x1 as i64));
            for v in 0..NV {
                // SAFETY: panel rows 2l and 2l + 1 hold 2·nr elements from l·2·nr, within
                // b.len() >= kc·nr; `loadu` needs no alignment.
                let (b0, b1) = unsafe {
                    (
                        _mm256_loadu_si256(bq.add(v)),
                        _mm256_loadu_si256(bq.add(NV + v)),
                    )
                };
                let x = _mm256_add_epi64(x0, b1);
                let y = _mm256_add_epi64(x1, b0);
                let y_swapped = _mm256_shuffle_epi32::<0b10_11_00_01>(y);
                lo[r][v] = _mm256_add_epi64(lo[r][v], _mm256_mul_epu32(x, y));
                cross[r][v] = _mm256_add_epi32(cross[r][v], _mm256_mullo_epi32(x, y_swapped));
            }
        }
    }
    for (r, (lo_r, cross_r)) in lo.iter().zip(&cross).enumerate() {
        for (v, (&l, &c)) in lo_r.iter().zip(cross_r).enumerate() {
            // low 32 bits of the two cross sums, added, moved to the high half
            let c = _mm256_slli_epi64::<32>(_mm256_add_epi32(c, _mm256_srli_epi64::<32>(c)));
            let dst = &mut tile[r * nr + 4 * v..r * nr + 4 * v + 4];
            // SAFETY: `dst` holds exactly 4 u64; `storeu` needs no alignment.
            unsafe { _mm256_storeu_si256(dst.as_mut_ptr().cast(), _mm256_add_epi64(l, c)) };
        }
    }
}

/// AVX-512 8×16 kernel: 16 zmm accumulators; per vector and pair of inner indices two `vpaddq`
/// pre-additions, one `vpmullq` and one accumulation.
#[cfg(target_arch = "x86_64")]
pub(super) struct Avx512Kernel;

#[cfg(target_arch = "x86_64")]
impl MicroKernel for Avx512Kernel {
    const MR: usize = 8;
    const NR: usize = 16;
    const MC: usize = 96;

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
