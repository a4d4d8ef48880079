//! The floor of wrapping `u64` multiply-adds on this CPU, single thread: register-blocked inner
//! loops over L1-resident packed operands (the shape of a GEMM micro-kernel, no packing, no
//! memory traffic), one per way of forming 64-bit products. `cargo bench --bench core -- floor`
//! reports each in multiply-adds per second (criterion's elements per second), next to the
//! library's own GEMM kernels (`gemm/...`).
//!
//! Every loop is checked once against a plain scalar computation before it is timed.

/// Inner dimension of every floor loop (a multiple of 2; the operands stay in L1).
pub const KC: usize = 256;

/// A floor loop: `run(a, b, out)` over packed operands, multiply-adds per call.
pub struct Floor {
    /// Name in the criterion report.
    pub name: &'static str,
    /// Multiply-adds per call.
    pub macs: usize,
    /// The loop; returns one word of its output (so that it cannot be optimised away).
    pub run: fn(&[u64], &[u64], &mut [u64]) -> u64,
    /// Rows and columns of the tile (for the correctness check).
    pub tile: (usize, usize),
    /// Whether the loop uses the Winograd pairing (for the correctness check).
    pub winograd: bool,
}

/// Every floor loop this CPU can run.
pub fn all() -> Vec<Floor> {
    let mut v = vec![
        Floor {
            name: "scalar imul 4x4",
            macs: KC * 16,
            run: scalar_plain,
            tile: (4, 4),
            winograd: false,
        },
        Floor {
            name: "scalar imul 4x4, Winograd",
            macs: KC * 16,
            run: scalar_winograd,
            tile: (4, 4),
            winograd: true,
        },
    ];
    v.extend(vector_floors());
    v
}

/// The vector floor loops this CPU can run (x86-64 with AVX2; none elsewhere).
fn vector_floors() -> Vec<Floor> {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") {
        return avx2::all();
    }
    Vec::new()
}

/// Checks `f` against a scalar computation of its tile.
pub fn check(f: &Floor, a: &[u64], b: &[u64]) {
    let (mr, nr) = f.tile;
    let mut out = vec![0u64; mr * nr];
    (f.run)(a, b, &mut out);
    for i in 0..mr {
        for j in 0..nr {
            let mut want = 0u64;
            for p in 0..KC {
                let (x, y) = (a[p * mr + i], b[p * nr + j]);
                if f.winograd && p % 2 == 0 {
                    let (x1, y1) = (a[(p + 1) * mr + i], b[(p + 1) * nr + j]);
                    want = want.wrapping_add(x.wrapping_add(y1).wrapping_mul(x1.wrapping_add(y)));
                } else if !f.winograd {
                    want = want.wrapping_add(x.wrapping_mul(y));
                }
            }
            assert_eq!(out[i * nr + j], want, "{} at ({i}, {j})", f.name);
        }
    }
}

/// The clock rate (GHz) from a chain of dependent additions (one per cycle), where measurable.
pub fn clock_ghz() -> Option<f64> {
    #[cfg(target_arch = "x86_64")]
    {
        let n = 20_000_000u64;
        let t = std::time::Instant::now();
        let mut x = std::hint::black_box(1u64);
        for _ in 0..n {
            // SAFETY: four register additions, no memory access
            unsafe {
                std::arch::asm!("add {0}, {1}", "add {0}, {1}", "add {0}, {1}", "add {0}, {1}",
                    inout(reg) x, in(reg) 3u64, options(nomem, nostack))
            };
        }
        std::hint::black_box(x);
        Some(4.0 * n as f64 / t.elapsed().as_secs_f64() / 1e9)
    }
    #[cfg(not(target_arch = "x86_64"))]
    None
}

fn scalar_plain(a: &[u64], b: &[u64], out: &mut [u64]) -> u64 {
    let mut acc = [[0u64; 4]; 4];
    for (ak, bk) in a.chunks_exact(4).zip(b.chunks_exact(4)).take(KC) {
        for (row, &x) in acc.iter_mut().zip(ak) {
            for (s, &y) in row.iter_mut().zip(bk) {
                *s = s.wrapping_add(x.wrapping_mul(y));
            }
        }
    }
    out[..16].copy_from_slice(acc.as_flattened());
    out[5]
}

fn scalar_winograd(a: &[u64], b: &[u64], out: &mut [u64]) -> u64 {
    let mut acc = [[0u64; 4]; 4];
    for (ak, bk) in a.chunks_exact(8).zip(b.chunks_exact(8)).take(KC / 2) {
        let ((a0, a1), (b0, b1)) = (ak.split_at(4), bk.split_at(4));
        for ((row, &x0), &x1) in acc.iter_mut().zip(a0).zip(a1) {
            for ((s, &y0), &y1) in row.iter_mut().zip(b0).zip(b1) {
                *s = s.wrapping_add(x0.wrapping_add(y1).wrapping_mul(x1.wrapping_add(y0)));
            }
        }
    }
    out[..16].copy_from_slice(acc.as_flattened());
    out[5]
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    //! AVX2 loops on a 5x4 tile (5 rows, one vector of 4 lanes), the library kernel's shape.
    use super::{Floor, KC};
    use core::arch::x86_64::*;

    const MR: usize = 5;

    pub fn all() -> Vec<Floor> {
        vec![
            Floor {
                name: "avx2 3x vpmuludq 5x4",
                macs: KC * MR * 4,
                run: |a, b, o| unsafe { three_muls(a, b, o) },
                tile: (MR, 4),
                winograd: false,
            },
            Floor {
                name: "avx2 vpmuludq+vpmulld 5x4",
                macs: KC * MR * 4,
                run: |a, b, o| unsafe { mulld(a, b, o) },
                tile: (MR, 4),
                winograd: false,
            },
            Floor {
                name: "avx2 3x vpmuludq 5x4, Winograd",
                macs: KC * MR * 4,
                run: |a, b, o| unsafe { winograd_three_muls(a, b, o) },
                tile: (MR, 4),
                winograd: true,
            },
            Floor {
                name: "avx2 vpmuludq+vpmulld 5x4, Winograd",
                macs: KC * MR * 4,
                run: |a, b, o| unsafe { winograd_mulld(a, b, o) },
                tile: (MR, 4),
                winograd: true,
            },
        ]
    }

    /// Low 64 bits of `lo + cross 2^32`, stored.
    #[target_feature(enable = "avx2")]
    fn finish(lo: &[__m256i; MR], cross: &[__m256i; MR], out: &mut [u64], dwords: bool) -> u64 {
        for (r, (&l, &c)) in lo.iter().zip(cross).enumerate() {
            // with 32-bit cross sums, add the two halves first
            let c = if dwords {
                _mm256_add_epi32(c, _mm256_srli_epi64::<32>(c))
            } else {
                c
            };
            let v = _mm256_add_epi64(l, _mm256_slli_epi64::<32>(c));
            // SAFETY: out holds MR * 4 words
            unsafe { _mm256_storeu_si256(out.as_mut_ptr().add(4 * r).cast(), v) };
        }
        out[5]
    }

    /// `x·y` from three `vpmuludq` (low halves, and each half times the other's high half via
    /// shifts), no pairing: 3 multiplications, 2 shifts and 3 additions per 4 multiply-adds.
    #[target_feature(enable = "avx2")]
    unsafe fn three_muls(a: &[u64], b: &[u64], out: &mut [u64]) -> u64 {
        assert!(a.len() >= KC * MR && b.len() >= KC * 4 && out.len() >= MR * 4);
        let mut lo = [_mm256_setzero_si256(); MR];
        let mut cross = [_mm256_setzero_si256(); MR];
        for p in 0..KC {
            // SAFETY: within b (asserted)
            let y = unsafe { _mm256_loadu_si256(b.as_ptr().add(p * 4).cast()) };
            let yh = _mm256_srli_epi64::<32>(y);
            for r in 0..MR {
                let x = _mm256_set1_epi64x(a[p * MR + r] as i64);
                let xh = _mm256_srli_epi64::<32>(x);
                lo[r] = _mm256_add_epi64(lo[r], _mm256_mul_epu32(x, y));
                let c = _mm256_add_epi64(_mm256_mul_epu32(x, yh), _mm256_mul_epu32(xh, y));
                cross[r] = _mm256_add_epi64(cross[r], c);
            }
        }
        finish(&lo, &cross, out, false)
    }

    /// `x·y` from one `vpmuludq` and one `vpmulld` (both cross products), no pairing.
    #[target_feature(enable = "avx2")]
    unsafe fn mulld(a: &[u64], b: &[u64], out: &mut [u64]) -> u64 {
        assert!(a.len() >= KC * MR && b.len() >= KC * 4 && out.len() >= MR * 4);
        let mut lo = [_mm256_setzero_si256(); MR];
        let mut cross = [_mm256_setzero_si256(); MR];
        for p in 0..KC {
            // SAFETY: within b (asserted)
            let y = unsafe { _mm256_loadu_si256(b.as_ptr().add(p * 4).cast()) };
            let ys = _mm256_shuffle_epi32::<0b10_11_00_01>(y);
            for r in 0..MR {
                let x = _mm256_set1_epi64x(a[p * MR + r] as i64);
                lo[r] = _mm256_add_epi64(lo[r], _mm256_mul_epu32(x, y));
                cross[r] = _mm256_add_epi32(cross[r], _mm256_mullo_epi32(x, ys));
            }
        }
        finish(&lo, &cross, out, true)
    }

    /// Winograd pairing, products from three `vpmuludq` with shifts.
    #[target_feature(enable = "avx2")]
    unsafe fn winograd_three_muls(a: &[u64], b: &[u64], out: &mut [u64]) -> u64 {
        assert!(a.len() >= KC * MR && b.len() >= KC * 4 && out.len() >= MR * 4);
        let mut lo = [_mm256_setzero_si256(); MR];
        let mut cross = [_mm256_setzero_si256(); MR];
        for l in 0..KC / 2 {
            // SAFETY: within b (asserted)
            let (b0, b1) = unsafe {
                let q = b.as_ptr().add(l * 8).cast::<__m256i>();
                (_mm256_loadu_si256(q), _mm256_loadu_si256(q.add(1)))
            };
            for r in 0..MR {
                let x0 = _mm256_set1_epi64x(a[l * 2 * MR + r] as i64);
                let x1 = _mm256_set1_epi64x(a[l * 2 * MR + MR + r] as i64);
                let (x, y) = (_mm256_add_epi64(x0, b1), _mm256_add_epi64(x1, b0));
                lo[r] = _mm256_add_epi64(lo[r], _mm256_mul_epu32(x, y));
                let c = _mm256_add_epi64(
                    _mm256_mul_epu32(_mm256_srli_epi64::<32>(x), y),
                    _mm256_mul_epu32(x, _mm256_srli_epi64::<32>(y)),
                );
                cross[r] = _mm256_add_epi64(cross[r], c);
            }
        }
        finish(&lo, &cross, out, false)
    }

    /// Winograd pairing, products from `vpmuludq` + `vpshufd` + `vpmulld` (the library's AVX2
    /// kernel without packing): 7 operations per 8 multiply-adds.
    #[target_feature(enable = "avx2")]
    unsafe fn winograd_mulld(a: &[u64], b: &[u64], out: &mut [u64]) -> u64 {
        assert!(a.len() >= KC * MR && b.len() >= KC * 4 && out.len() >= MR * 4);
        let mut lo = [_mm256_setzero_si256(); MR];
        let mut cross = [_mm256_setzero_si256(); MR];
        for l in 0..KC / 2 {
            // SAFETY: within b (asserted)
            let (b0, b1) = unsafe {
                let q = b.as_ptr().add(l * 8).cast::<__m256i>();
                (_mm256_loadu_si256(q), _mm256_loadu_si256(q.add(1)))
            };
            for r in 0..MR {
                let x0 = _mm256_set1_epi64x(a[l * 2 * MR + r] as i64);
                let x1 = _mm256_set1_epi64x(a[l * 2 * MR + MR + r] as i64);
                let (x, y) = (_mm256_add_epi64(x0, b1), _mm256_add_epi64(x1, b0));
                let ys = _mm256_shuffle_epi32::<0b10_11_00_01>(y);
                lo[r] = _mm256_add_epi64(lo[r], _mm256_mul_epu32(x, y));
                cross[r] = _mm256_add_epi32(cross[r], _mm256_mullo_epi32(x, ys));
            }
        }
        finish(&lo, &cross, out, true)
    }
}
