//! AES-128 counter mode written for the PRG's one job: the keystream of consecutive counters,
//! stored straight into the caller's words. The counters are made in registers (no counter
//! blocks written to memory and read back, as the block API needs) and 16 blocks are in flight
//! at once. Three x86-64 paths, chosen at run time: VAES on 512-bit registers (four blocks per
//! instruction), VAES on 256-bit registers (two blocks per instruction: CPUs with VAES but no
//! AVX-512, such as AMD Zen 3) and AES-NI (one block per instruction); elsewhere [`super::Prg`]
//! uses the `aes` crate. Every path gives the textbook keystream (tests compare them with the
//! crate).

#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::*;
use std::mem::MaybeUninit;

/// A hand-written counter-mode path. Which ones the CPU supports is decided at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Path {
    /// VAES on 512-bit registers (AVX-512 F and VAES: AMD Zen 4/5, Intel Ice Lake server and
    /// later).
    Vaes512,
    /// VAES on 256-bit registers (AVX2 and VAES, no AVX-512 needed: AMD Zen 3, Intel Alder Lake
    /// and later).
    Vaes256,
    /// AES-NI on 128-bit registers (any x86-64 with AES-NI, e.g. AMD Zen 1/2).
    AesNi,
}

impl Path {
    /// Every path, fastest first.
    pub(super) const ALL: [Path; 3] = [Path::Vaes512, Path::Vaes256, Path::AesNi];

    /// The fastest path this CPU supports (detected once), or `None` (then the crate's block
    /// API is used).
    pub(super) fn best() -> Option<Path> {
        static BEST: std::sync::OnceLock<Option<Path>> = std::sync::OnceLock::new();
        *BEST.get_or_init(|| Path::ALL.into_iter().find(|p| p.is_supported()))
    }

    /// Whether the running CPU supports this path.
    pub(super) fn is_supported(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            is_x86_feature_detected!("aes")
                && match self {
                    Path::Vaes512 => {
                        is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("vaes")
                    }
                    Path::Vaes256 => {
                        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("vaes")
                    }
                    Path::AesNi => true,
                }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = self;
            false
        }
    }
}

/// The eleven AES-128 round keys, as 16-byte little-endian values (key material: never printed).
#[derive(Clone, Copy)]
// (only made, and so only read, on x86-64)
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(super) struct RoundKeys([u128; 11]);

impl RoundKeys {
    /// Expands `key` with AES-NI. `None` if the CPU has no AES-NI.
    pub(super) fn new(key: &[u8; 16]) -> Option<RoundKeys> {
        if !Path::AesNi.is_supported() {
            return None;
        }
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU has AES-NI (just checked).
        return Some(unsafe { expand(key) });
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = key;
            None
        }
    }
}

/// One step of the AES-128 key schedule (`assist` is `aeskeygenassist` of the previous key).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "aes")]
fn schedule_step(prev: __m128i, assist: __m128i) -> __m128i {
    let assist = _mm_shuffle_epi32::<0xff>(assist);
    let mut k = prev;
    k = _mm_xor_si128(k, _mm_slli_si128::<4>(k));
    k = _mm_xor_si128(k, _mm_slli_si128::<4>(k));
    k = _mm_xor_si128(k, _mm_slli_si128::<4>(k));
    _mm_xor_si128(k, assist)
}

/// The AES-128 key expansion with `aeskeygenassist`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "aes")]
fn expand(key: &[u8; 16]) -> RoundKeys {
    let mut k = [_mm_setzero_si128(); 11];
    // SAFETY: `key` is 16 readable bytes; `loadu` needs no alignment.
    k[0] = unsafe { _mm_loadu_si128(key.as_ptr().cast()) };
    k[1] = schedule_step(k[0], _mm_aeskeygenassist_si128::<0x01>(k[0]));
    k[2] = schedule_step(k[1], _mm_aeskeygenassist_si128::<0x02>(k[1]));
    k[3] = schedule_step(k[2], _mm_aeskeygenassist_si128::<0x04>(k[2]));
    k[4] = schedule_step(k[3], _mm_aeskeygenassist_si128::<0x08>(k[3]));
    k[5] = schedule_step(k[4], _mm_aeskeygenassist_si128::<0x10>(k[4]));
    k[6] = schedule_step(k[5], _mm_aeskeygenassist_si128::<0x20>(k[5]));
    k[7] = schedule_step(k[6], _mm_aeskeygenassist_si128::<0x40>(k[6]));
    k[8] = schedule_step(k[7], _mm_aeskeygenassist_si128::<0x80>(k[7]));
    k[9] = schedule_step(k[8], _mm_aeskeygenassist_si128::<0x1b>(k[8]));
    k[10] = schedule_step(k[9], _mm_aeskeygenassist_si128::<0x36>(k[9]));
    let mut out = [0u128; 11];
    for (o, k) in out.iter_mut().zip(k) {
        // SAFETY: `o` is 16 writable bytes; `storeu` needs no alignment.
        unsafe { _mm_storeu_si128(std::ptr::from_mut(o).cast(), k) };
    }
    RoundKeys(out)
}

/// Writes the keystream blocks `counter, counter + 1, ...` (each `AES_k(j)` for the counter `j`
/// little-endian in the low 8 bytes) into `out`, two words per block; `out.len()` must be even.
/// Every word of `out` is written (it may start uninitialised). Returns `false` (and writes
/// nothing) if `path` is not supported here.
pub(super) fn keystream(
    path: Path,
    keys: &RoundKeys,
    counter: u64,
    out: &mut [MaybeUninit<u64>],
) -> bool {
    debug_assert!(out.len().is_multiple_of(2));
    #[cfg(target_arch = "x86_64")]
    {
        if !path.is_supported() {
            return false;
        }
        match path {
            // SAFETY: the CPU has AVX-512 F and VAES (checked above).
            Path::Vaes512 => unsafe { vaes512(keys, counter, out) },
            // SAFETY: the CPU has AVX2 and VAES (checked above).
            Path::Vaes256 => unsafe { vaes256(keys, counter, out) },
            // SAFETY: the CPU has AES-NI (checked above).
            Path::AesNi => unsafe { aesni(keys, counter, out) },
        }
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (path, keys, counter, out);
        false
    }
}

/// The VAES path: 16 blocks (four registers) per step, then one register, then a partial one.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,vaes")]
fn vaes512(keys: &RoundKeys, counter: u64, out: &mut [MaybeUninit<u64>]) {
    // SAFETY (all loads and stores below): `keys.0` holds 11 16-byte keys; every store writes 8
    // words inside `out` (the chunk loops) or into the local `tail`; `loadu`/`storeu` need no
    // alignment.
    let rk: [__m512i; 11] = std::array::from_fn(|r| {
        _mm512_broadcast_i32x4(unsafe { _mm_loadu_si128(std::ptr::from_ref(&keys.0[r]).cast()) })
    });
    let encrypt = |b: __m512i| {
        let mut b = _mm512_xor_si512(b, rk[0]);
        for k in &rk[1..10] {
            b = _mm512_aesenc_epi128(b, *k);
        }
        _mm512_aesenclast_epi128(b, rk[10])
    };
    // lanes (counter + i, 0) for i = 0..4
    let c = counter as i64;
    let mut ctr = _mm512_add_epi64(
        _mm512_set1_epi64(c),
        _mm512_set_epi64(0, 3, 0, 2, 0, 1, 0, 0),
    );
    ctr = _mm512_and_si512(ctr, _mm512_set_epi64(0, -1, 0, -1, 0, -1, 0, -1));
    let four = _mm512_set_epi64(0, 4, 0, 4, 0, 4, 0, 4);
    let mut big = out.chunks_exact_mut(32);
    for chunk in &mut big {
        let c0 = ctr;
        let c1 = _mm512_add_epi64(c0, four);
        let c2 = _mm512_add_epi64(c1, four);
        let c3 = _mm512_add_epi64(c2, four);
        ctr = _mm512_add_epi64(c3, four);
        let (mut b0, mut b1, mut b2, mut b3) = (
            _mm512_xor_si512(c0, rk[0]),
            _mm512_xor_si512(c1, rk[0]),
            _mm512_xor_si512(c2, rk[0]),
            _mm512_xor_si512(c3, rk[0]),
        );
        for k in &rk[1..10] {
            b0 = _mm512_aesenc_epi128(b0, *k);
            b1 = _mm512_aesenc_epi128(b1, *k);
            b2 = _mm512_aesenc_epi128(b2, *k);
            b3 = _mm512_aesenc_epi128(b3, *k);
        }
        let p = chunk.as_mut_ptr().cast::<__m512i>();
        unsafe {
            _mm512_storeu_si512(p, _mm512_aesenclast_epi128(b0, rk[10]));
            _mm512_storeu_si512(p.add(1), _mm512_aesenclast_epi128(b1, rk[10]));
            _mm512_storeu_si512(p.add(2), _mm512_aesenclast_epi128(b2, rk[10]));
            _mm512_storeu_si512(p.add(3), _mm512_aesenclast_epi128(b3, rk[10]));
        }
    }
    for chunk in big.into_remainder().chunks_mut(8) {
        let b = encrypt(ctr);
        ctr = _mm512_add_epi64(ctr, four);
        if chunk.len() == 8 {
            unsafe { _mm512_storeu_si512(chunk.as_mut_ptr().cast(), b) };
        } else {
            let mut tail = [0u64; 8];
            unsafe { _mm512_storeu_si512(tail.as_mut_ptr().cast(), b) };
            for (o, &t) in chunk.iter_mut().zip(&tail) {
                o.write(t);
            }
        }
    }
}

/// The 256-bit VAES path: 16 blocks (eight registers) per step, then one register, then a
/// partial one.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,vaes")]
fn vaes256(keys: &RoundKeys, counter: u64, out: &mut [MaybeUninit<u64>]) {
    // SAFETY (all loads and stores below): `keys.0` holds 11 16-byte keys; every store writes 4
    // words inside `out` (the chunk loops) or into the local `tail`; `loadu`/`storeu` need no
    // alignment.
    let rk: [__m256i; 11] = std::array::from_fn(|r| {
        _mm256_broadcastsi128_si256(unsafe {
            _mm_loadu_si128(std::ptr::from_ref(&keys.0[r]).cast())
        })
    });
    let encrypt = |b: __m256i| {
        let mut b = _mm256_xor_si256(b, rk[0]);
        for k in &rk[1..10] {
            b = _mm256_aesenc_epi128(b, *k);
        }
        _mm256_aesenclast_epi128(b, rk[10])
    };
    // lanes (counter + i, 0) for i = 0..2
    let mut ctr = _mm256_add_epi64(
        _mm256_set1_epi64x(counter as i64),
        _mm256_set_epi64x(0, 1, 0, 0),
    );
    ctr = _mm256_and_si256(ctr, _mm256_set_epi64x(0, -1, 0, -1));
    let two = _mm256_set_epi64x(0, 2, 0, 2);
    // register i of a step holds the counters 2i and 2i + 1 past the step's first
    let step: [__m256i; 8] = std::array::from_fn(|i| {
        let i = 2 * i as i64;
        _mm256_set_epi64x(0, i, 0, i)
    });
    let sixteen = _mm256_set_epi64x(0, 16, 0, 16);
    let mut big = out.chunks_exact_mut(32);
    for chunk in &mut big {
        let mut b: [__m256i; 8] =
            std::array::from_fn(|i| _mm256_xor_si256(_mm256_add_epi64(ctr, step[i]), rk[0]));
        ctr = _mm256_add_epi64(ctr, sixteen);
        for k in &rk[1..10] {
            for x in &mut b {
                *x = _mm256_aesenc_epi128(*x, *k);
            }
        }
        let p = chunk.as_mut_ptr().cast::<__m256i>();
        for (i, x) in b.into_iter().enumerate() {
            unsafe { _mm256_storeu_si256(p.add(i), _mm256_aesenclast_epi128(x, rk[10])) };
        }
    }
    for chunk in big.into_remainder().chunks_mut(4) {
        let b = encrypt(ctr);
        ctr = _mm256_add_epi64(ctr, two);
        if chunk.len() == 4 {
            unsafe { _mm256_storeu_si256(chunk.as_mut_ptr().cast(), b) };
        } else {
            let mut tail = [0u64; 4];
            unsafe { _mm256_storeu_si256(tail.as_mut_ptr().cast(), b) };
            for (o, &t) in chunk.iter_mut().zip(&tail) {
                o.write(t);
            }
        }
    }
}

/// The AES-NI path: 8 blocks in flight per step, then one at a time.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "aes")]
fn aesni(keys: &RoundKeys, counter: u64, out: &mut [MaybeUninit<u64>]) {
    // SAFETY (all loads and stores below): `keys.0` holds 11 16-byte keys; every store writes 2
    // words inside `out`; `loadu`/`storeu` need no alignment.
    let rk: [__m128i; 11] =
        std::array::from_fn(|r| unsafe { _mm_loadu_si128(std::ptr::from_ref(&keys.0[r]).cast()) });
    let block = |j: u64| _mm_xor_si128(_mm_set_epi64x(0, j as i64), rk[0]);
    let mut j = counter;
    let mut big = out.chunks_exact_mut(16);
    for chunk in &mut big {
        let mut b: [__m128i; 8] = std::array::from_fn(|i| block(j.wrapping_add(i as u64)));
        j = j.wrapping_add(8);
        for k in &rk[1..10] {
            for x in &mut b {
                *x = _mm_aesenc_si128(*x, *k);
            }
        }
        let p = chunk.as_mut_ptr().cast::<__m128i>();
        for (i, x) in b.into_iter().enumerate() {
            unsafe { _mm_storeu_si128(p.add(i), _mm_aesenclast_si128(x, rk[10])) };
        }
    }
    for pair in big.into_remainder().chunks_exact_mut(2) {
        let mut x = block(j);
        j = j.wrapping_add(1);
        for k in &rk[1..10] {
            x = _mm_aesenc_si128(x, *k);
        }
        unsafe { _mm_storeu_si128(pair.as_mut_ptr().cast(), _mm_aesenclast_si128(x, rk[10])) };
    }
}
