//! Pseudo-random generator: AES-128 in counter mode, done in bulk.
//!
//! Each [`Prg`] is keyed with a 128-bit seed. Word `2j` and `2j+1` of the stream are the two halves
//! of `AES_k(j)` (the counter written little-endian), so the output is the textbook AES-CTR
//! keystream. On x86-64 with AES-NI the keystream comes from a counter mode written for this
//! (`prg/ctr.rs`: the counters made in registers, 16 blocks in flight; VAES on 512-bit registers
//! where the CPU has AVX-512 and VAES, VAES on 256-bit registers where it has AVX2 and VAES but
//! not AVX-512 (AMD Zen 3, Intel Alder Lake), else AES-NI; chosen at run time, or forced with
//! [`force_aes_path`]) and is stored once into the caller's buffer. Elsewhere counter blocks are
//! written into the caller's buffer and encrypted in place with the `aes` crate's block API. All paths give the same textbook
//! keystream (a test compares every path this CPU supports with the crate), so parties on
//! different CPUs agree. On a Zen 4 VM the hand-written path made relu1e6, where AES-CTR was
//! about a quarter of the time (the crate's VAES path spent as long again copying blocks into
//! arrays), 24% faster (median 61 -> 47 ms, alternating runs).
//!
//! Keystream throughput per path on that VM (`cargo bench --bench core -- prg`, 2^17 words):
//!
//! | path | GB/s | bytes per cycle |
//! |---|---|---|
//! | `aes` crate (portable fallback; itself uses VAES there) | 14.0 | 3.9 |
//! | AES-NI, 128-bit registers | 8.4 | 2.3 |
//! | VAES, 256-bit registers | 21.1 | 5.8 |
//! | VAES, 512-bit registers | 23.6 | 6.5 |
//!
//! relu1e6 with each path forced (`bench_suite relu1e6 --aes P`, alternating runs of 111 calls):
//! vaes512 41-44 ms, vaes256 42-46 ms, aesni 49-51 ms, portable 49-51 ms; so on a CPU with VAES
//! but no AVX-512 the 256-bit path takes relu about 15% below the AES-NI path it used before.
//!
//! Security: AES-128 as a PRF; a key is never used for more than 2^64 blocks. Seeds come from the
//! operating system's CSPRNG ([`os_seed`]) or, for pairwise keys, from a peer who drew them so.

use crate::error::{CoreError, Result};
use aes::Aes128;
use aes::Block;
use aes::cipher::{BlockCipherEncrypt, KeyInit};
use std::mem::MaybeUninit;

mod ctr;

/// Words of keystream made at a time by the chunked forms (even, so that chunking does not change
/// the stream; 16 KiB, well inside a core's L1/L2 cache).
pub(crate) const CHUNK: usize = 2048;

/// A 128-bit PRG seed.
pub type Seed = [u8; 16];

/// Draws a fresh seed from the operating system's CSPRNG.
pub fn os_seed() -> Result<Seed> {
    let mut s = [0u8; 16];
    getrandom::fill(&mut s).map_err(|e| CoreError::Rng(e.to_string()))?;
    Ok(s)
}

/// A way of making the AES-CTR keystream. Every path gives the same textbook keystream, so
/// parties on different CPUs agree; they differ only in speed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AesPath {
    /// The `aes` crate's block API (any CPU, any architecture).
    Portable,
    /// AES-NI, one block per instruction (x86-64 with AES-NI, e.g. AMD Zen 1/2).
    AesNi,
    /// VAES on 256-bit registers, two blocks per instruction (x86-64 with AVX2 and VAES but
    /// no AVX-512 needed, e.g. AMD Zen 3, Intel Alder Lake).
    Vaes256,
    /// VAES on 512-bit registers, four blocks per instruction (x86-64 with AVX-512 F and
    /// VAES, e.g. AMD Zen 4/5).
    Vaes512,
}

impl AesPath {
    /// Every path, slowest first.
    pub const ALL: [AesPath; 4] = [
        AesPath::Portable,
        AesPath::AesNi,
        AesPath::Vaes256,
        AesPath::Vaes512,
    ];

    /// The path a new [`Prg`] uses on this CPU: the fastest supported one (detected once), or
    /// the one [`force_aes_path`] set.
    pub fn detect() -> AesPath {
        use std::sync::atomic::Ordering;
        let forced = FORCED_PATH.load(Ordering::Relaxed);
        if let Some(&p) = forced
            .checked_sub(1)
            .and_then(|i| AesPath::ALL.get(usize::from(i)))
        {
            return p;
        }
        match ctr::Path::best() {
            Some(ctr::Path::Vaes512) => AesPath::Vaes512,
            Some(ctr::Path::Vaes256) => AesPath::Vaes256,
            Some(ctr::Path::AesNi) => AesPath::AesNi,
            None => AesPath::Portable,
        }
    }

    /// Whether the running CPU supports this path.
    pub fn is_supported(self) -> bool {
        self.hand_written().is_none_or(ctr::Path::is_supported)
    }

    /// A short name: `"portable"`, `"aesni"`, `"vaes256"` or `"vaes512"`.
    pub fn name(self) -> &'static str {
        match self {
            AesPath::Portable => "portable",
            AesPath::AesNi => "aesni",
            AesPath::Vaes256 => "vaes256",
            AesPath::Vaes512 => "vaes512",
        }
    }

    /// The hand-written counter mode of this path (`None`: the crate's block API).
    fn hand_written(self) -> Option<ctr::Path> {
        match self {
            AesPath::Portable => None,
            AesPath::AesNi => Some(ctr::Path::AesNi),
            AesPath::Vaes256 => Some(ctr::Path::Vaes256),
            AesPath::Vaes512 => Some(ctr::Path::Vaes512),
        }
    }
}

/// The path forced by [`force_aes_path`] (`0`: none; else `1 +` its index in [`AesPath::ALL`]).
static FORCED_PATH: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// Makes every [`Prg`] created later in this process (and so every party set up later) use
/// `path`, or with `None` the fastest one again. For benchmarks that compare the paths on one
/// machine (e.g. `bench_suite -- --aes aesni` on a CPU with VAES); the keystream is the same on
/// every path. Returns [`CoreError::UnsupportedAesPath`] (and changes nothing) if the CPU lacks
/// `path`.
///
/// ```
/// use mpc_core::prg::{AesPath, Prg, force_aes_path};
/// let fast = Prg::new(&[7u8; 16]).words(9);
/// force_aes_path(Some(AesPath::Portable)).unwrap();
/// assert_eq!(AesPath::detect(), AesPath::Portable);
/// assert_eq!(Prg::new(&[7u8; 16]).words(9), fast);
/// force_aes_path(None).unwrap();
/// ```
pub fn force_aes_path(path: Option<AesPath>) -> Result<()> {
    use std::sync::atomic::Ordering;
    let code = match path {
        None => 0,
        Some(p) => {
            if !p.is_supported() {
                return Err(CoreError::UnsupportedAesPath(p.name()));
            }
            AesPath::ALL
                .iter()
                .position(|&a| a == p)
                .map_or(0, |i| i as u8 + 1)
        }
    };
    FORCED_PATH.store(code, Ordering::Relaxed);
    Ok(())
}

/// AES-128-CTR keystream generator producing ring words.
#[derive(Clone)]
pub struct Prg {
    cipher: Aes128,
    /// The hand-written counter mode of this CPU and its round keys, if it has AES-NI
    /// (`ctr.rs`); else the crate's block API makes the stream.
    fast: Option<(ctr::Path, ctr::RoundKeys)>,
    /// Kept for [`Prg::state`] (checkpoints); never printed.
    seed: Seed,
    counter: u64,
}

impl std::fmt::Debug for Prg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // never print key material
        f.debug_struct("Prg")
            .field("counter", &self.counter)
            .finish_non_exhaustive()
    }
}

impl Prg {
    /// A generator keyed with `seed`, starting at counter 0.
    pub fn new(seed: &Seed) -> Prg {
        Prg::resume(seed, 0)
    }

    /// A generator keyed with `seed` whose next block is block `counter` of the stream: the
    /// generator a [`Prg::state`] was taken from, continued.
    pub fn resume(seed: &Seed, counter: u64) -> Prg {
        let fast = AesPath::detect()
            .hand_written()
            .zip(ctr::RoundKeys::new(seed));
        Prg {
            cipher: Aes128::new(&(*seed).into()),
            fast,
            seed: *seed,
            counter,
        }
    }

    /// [`Prg::resume`] on a given counter-mode path (`None`: the crate's block API), for the
    /// tests that compare the paths.
    #[cfg(test)]
    fn on_path(seed: &Seed, counter: u64, path: Option<ctr::Path>) -> Prg {
        let mut p = Prg::resume(seed, counter);
        p.fast = path.zip(ctr::RoundKeys::new(seed));
        p
    }

    /// The seed and the position (the next block's counter): key material, as secret as the
    /// seed itself.
    pub fn state(&self) -> (Seed, u64) {
        (self.seed, self.counter)
    }

    /// Overwrites `out` with the next `out.len()` words of the stream: the counter blocks are
    /// written straight into `out` (one 16-byte store each) and encrypted in place, and an odd
    /// last word is the first half of one more block.
    pub fn fill(&mut self, out: &mut [u64]) {
        // SAFETY: `MaybeUninit<u64>` has the layout of `u64`, and `fill_uninit` writes only
        // initialised words, so `out` stays initialised.
        let out = unsafe { &mut *(std::ptr::from_mut(out) as *mut [MaybeUninit<u64>]) };
        self.fill_uninit(out);
    }

    /// [`Prg::fill`] into memory that may be uninitialised: every word of `out` is written.
    fn fill_uninit(&mut self, out: &mut [MaybeUninit<u64>]) {
        let full = out.len() / 2;
        let (pairs, rest) = out.split_at_mut(full * 2);
        if let Some((path, keys)) = &self.fast {
            // counters made in registers, the keystream stored once (see `ctr.rs`)
            if ctr::keystream(*path, keys, self.counter, pairs) {
                self.counter = self.counter.wrapping_add(full as u64);
                if let Some(last) = rest.first_mut() {
                    let mut block = [MaybeUninit::new(0u64); 2];
                    ctr::keystream(*path, keys, self.counter, &mut block);
                    // SAFETY: `keystream` returned true, so it wrote both words of `block`.
                    last.write(unsafe { block[0].assume_init() });
                    self.counter = self.counter.wrapping_add(1);
                }
                return;
            }
        }
        for w in pairs.iter_mut() {
            w.write(0);
        }
        // SAFETY: `pairs` is 16 * full bytes, initialised just above; `Block` is a transparent
        // [u8; 16] (alignment 1, no invalid bit patterns), so viewing it as `full` blocks is
        // sound, and the exclusive borrow is held for the whole use.
        let blocks =
            unsafe { std::slice::from_raw_parts_mut(pairs.as_mut_ptr().cast::<Block>(), full) };
        let c = self.counter;
        for (j, b) in blocks.iter_mut().enumerate() {
            *b = Block::from(u128::from(c.wrapping_add(j as u64)).to_le_bytes());
        }
        self.cipher.encrypt_blocks(blocks);
        for w in pairs.iter_mut() {
            // SAFETY: initialised above (and encrypted in place).
            let v = unsafe { w.assume_init() };
            w.write(u64::from_le(v));
        }
        self.counter = self.counter.wrapping_add(full as u64);
        if let Some(last) = rest.first_mut() {
            let mut bytes = [0u8; 16];
            bytes[..8].copy_from_slice(&self.counter.to_le_bytes());
            let mut block = Block::from(bytes);
            self.cipher.encrypt_block(&mut block);
            let mut w = [0u8; 8];
            w.copy_from_slice(&block[..8]);
            last.write(u64::from_le_bytes(w));
            self.counter = self.counter.wrapping_add(1);
        }
    }

    /// Appends the next `n` words of the stream to `v`, written once, straight into its spare
    /// capacity.
    pub fn append(&mut self, v: &mut Vec<u64>, n: usize) {
        v.reserve(n);
        let at = v.len();
        self.fill_uninit(&mut v.spare_capacity_mut()[..n]);
        // SAFETY: `fill_uninit` wrote all `n` words after the first `at`, within capacity.
        unsafe { v.set_len(at + n) };
    }

    /// The next `n` words of the stream, in a vector from [`mpc_net::pool`], written once
    /// (no zeroing, no copy from a scratch chunk).
    pub fn words(&mut self, n: usize) -> Vec<u64> {
        let mut v: Vec<u64> = mpc_net::pool::take(n);
        self.append(&mut v, n);
        v
    }

    /// A generator of the next `n` words of this stream, which this one then skips: drawing
    /// them from the returned generator (in even-sized chunks but the last) gives the words
    /// [`Prg::words`]`(n)` would have, so several streams can be drawn chunk by chunk side by
    /// side (as the fused protocol loops do).
    pub fn take_stream(&mut self, n: usize) -> Prg {
        let part = self.clone();
        self.counter = self.counter.wrapping_add(n.div_ceil(2) as u64);
        part
    }

    /// Writes the words at positions `pos..pos + out.len()` of this generator's stream
    /// (position 0 is the word [`Prg::words`] would give next) into `out`, without moving the
    /// generator: a taken stream ([`Prg::take_stream`]) read at any place, as often as needed.
    pub(crate) fn fill_at(&self, pos: usize, out: &mut [u64]) {
        let Some((first, rest)) = out.split_first_mut() else {
            return;
        };
        let mut p = self.clone();
        p.counter = p.counter.wrapping_add((pos / 2) as u64);
        if pos % 2 == 1 {
            // an odd start is the high half of its block; the rest starts on a block
            let mut block = [0u64; 2];
            p.fill(&mut block);
            *first = block[1];
            p.fill(rest);
        } else {
            p.fill(out);
        }
    }

    /// XORs the next `out.len()` words of the stream into `out`.
    pub fn xor_into(&mut self, out: &mut [u64]) {
        self.combine_into(out, |o, r| o ^ r);
    }

    /// Subtracts the next `out.len()` words of the stream from `out` (wrapping).
    pub fn sub_from(&mut self, out: &mut [u64]) {
        self.combine_into(out, u64::wrapping_sub);
    }

    /// `out[i] = op(out[i], next word)`, drawing the stream in cache-sized chunks (an even
    /// chunk length, so the words are those [`Prg::fill`] would give).
    fn combine_into(&mut self, out: &mut [u64], op: impl Fn(u64, u64) -> u64) {
        // scratch no larger than needed: small calls are frequent (one per secret product)
        let mut buf = vec![0u64; out.len().min(CHUNK)];
        for chunk in out.chunks_mut(CHUNK) {
            let b = &mut buf[..chunk.len()];
            self.fill(b);
            for (o, r) in chunk.iter_mut().zip(b.iter()) {
                *o = op(*o, *r);
            }
        }
    }
}

/// Words per chunk of [`for_chunks`] (even; up to three 8 KiB chunks stay in a core's L1).
const SIDE_CHUNK: usize = 1024;

/// Walks `0..n` in chunks, drawing each chunk's words from every generator of `streams` (each
/// yields the words [`Prg::words`]`(n)` would), and calls `f(start, [chunk of each stream])`.
/// Fused loops over several keystreams use it instead of materialising each stream in full.
#[inline(always)]
pub(crate) fn for_chunks<const K: usize>(
    n: usize,
    mut streams: [&mut Prg; K],
    mut f: impl FnMut(usize, [&[u64]; K]),
) {
    // one scratch chunk per stream, no larger than needed (small calls are frequent)
    let side = n.clamp(1, SIDE_CHUNK);
    let mut bufs = vec![0u64; K * side];
    let mut start = 0;
    while start < n {
        let len = side.min(n - start);
        for (prg, buf) in streams.iter_mut().zip(bufs.chunks_exact_mut(side)) {
            prg.fill(&mut buf[..len]);
        }
        f(
            start,
            std::array::from_fn(|i| &bufs[i * side..i * side + len]),
        );
        start += len;
    }
}

/// Appends the next `n` words of `prg`'s stream to `v` in chunks of [`SIDE_CHUNK`] words and
/// calls `f(start, chunk, [chunk of each of streams])` on each chunk just written (still in
/// cache), the other `streams` drawn side by side as in [`for_chunks`]: a stream that is both
/// kept and used in a fused loop is written once, with no scratch copy.
#[inline(always)]
pub(crate) fn append_chunks<const K: usize>(
    prg: &mut Prg,
    v: &mut Vec<u64>,
    n: usize,
    mut streams: [&mut Prg; K],
    mut f: impl FnMut(usize, &[u64], [&[u64]; K]),
) {
    v.reserve(n);
    let side = n.clamp(1, SIDE_CHUNK);
    let mut bufs = vec![0u64; K * side];
    let mut start = 0;
    while start < n {
        let len = side.min(n - start);
        for (other, buf) in streams.iter_mut().zip(bufs.chunks_exact_mut(side)) {
            other.fill(&mut buf[..len]);
        }
        let at = v.len();
        prg.append(v, len);
        f(
            start,
            &v[at..],
            std::array::from_fn(|i| &bufs[i * side..i * side + len]),
        );
        start += len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_textbook_ctr_and_is_deterministic() {
        let seed = [7u8; 16];
        let mut a = Prg::new(&seed);
        let mut b = Prg::new(&seed);
        let x = a.words(5);
        let mut y = b.words(2);
        y.extend(b.words(3));
        // same key, same counter positions: the split does not matter for even chunks
        assert_eq!(x[..4], y[..4]);
        // textbook check: block 0 is AES_k(0)
        let c = Aes128::new(&seed.into());
        let mut blk = Block::from([0u8; 16]);
        c.encrypt_block(&mut blk);
        let mut w = [0u8; 8];
        w.copy_from_slice(&blk[..8]);
        assert_eq!(x[0], u64::from_le_bytes(w));
        // different keys, different streams
        let z = Prg::new(&[8u8; 16]).words(5);
        assert_ne!(x, z);
    }

    /// Every counter-mode path this CPU supports gives the crate's keystream, for every length
    /// (full 16-block steps, single registers, partial ones, an odd last word) and across the
    /// counter's wrap-around.
    #[test]
    fn every_counter_mode_path_gives_the_textbook_keystream() {
        let paths = ctr::Path::ALL;
        let seed: Seed = *b"\x2b\x7e\x15\x16\x28\xae\xd2\xa6\xab\xf7\x15\x88\x09\xcf\x4f\x3c";
        // the FIPS-197 example key; the reference is the `aes` crate block by block
        let c = Aes128::new(&seed.into());
        let reference = |counter: u64, n: usize| -> Vec<u64> {
            (0..n.div_ceil(2) as u64)
                .flat_map(|j| {
                    let mut blk = Block::from(u128::from(counter.wrapping_add(j)).to_le_bytes());
                    c.encrypt_block(&mut blk);
                    let (lo, hi) = blk.split_at(8);
                    let w = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
                    [w(lo), w(hi)]
                })
                .take(n)
                .collect()
        };
        let mut tested = 0;
        for path in paths.into_iter().filter(|p| p.is_supported()) {
            tested += 1;
            for counter in [0, 5, u64::MAX - 20] {
                for n in (0..80).chain([1000, 1001]) {
                    let mut p = Prg::on_path(&seed, counter, Some(path));
                    let mut got = vec![0u64; n];
                    p.fill(&mut got);
                    assert_eq!(
                        got,
                        reference(counter, n),
                        "{path:?}, counter {counter}, n = {n}"
                    );
                    assert_eq!(p.state().1, counter.wrapping_add(n.div_ceil(2) as u64));
                }
            }
        }
        let mut p = Prg::on_path(&seed, 3, None);
        assert_eq!(p.words(77), reference(3, 77), "the crate's path");
        eprintln!("{tested} hand-written counter-mode paths tested on this CPU");
    }

    #[test]
    fn words_fill_and_the_in_place_forms_agree() {
        for n in [0, 1, 2, 5, 4096, 4097] {
            let mut a = Prg::new(&[9u8; 16]);
            let mut b = Prg::new(&[9u8; 16]);
            a.words(3);
            b.words(3);
            let w = a.words(n);
            let mut f = vec![0u64; n];
            b.fill(&mut f);
            assert_eq!(w, f, "n = {n}");
            assert_eq!(a.state(), b.state());
            let mut x = vec![5u64; n];
            let mut y = vec![5u64; n];
            a.xor_into(&mut x);
            b.sub_from(&mut y);
            let mut c = Prg::resume(&[9u8; 16], a.state().1 - (n as u64).div_ceil(2));
            let r = c.words(n);
            for i in 0..n {
                assert_eq!(x[i], 5 ^ r[i]);
            }
            let mut d = Prg::resume(&[9u8; 16], b.state().1 - (n as u64).div_ceil(2));
            let r = d.words(n);
            for i in 0..n {
                assert_eq!(y[i], 5u64.wrapping_sub(r[i]));
            }
        }
    }

    #[test]
    fn taken_streams_and_chunked_draws_give_the_words_of_words() {
        for n in [0, 1, 2, 1023, 1024, 1025, 3001] {
            let mut a = Prg::new(&[4u8; 16]);
            let mut b = Prg::new(&[4u8; 16]);
            let (x, y, z) = (a.words(n), a.words(n), a.words(7));
            let mut s1 = b.take_stream(n);
            let mut s2 = b.take_stream(n);
            assert_eq!(b.words(7), z, "the parent skips the taken words, n = {n}");
            let (mut gx, mut gy) = (Vec::new(), Vec::new());
            for_chunks(n, [&mut s1, &mut s2], |start, [c1, c2]| {
                assert_eq!(start, gx.len());
                gx.extend_from_slice(c1);
                gy.extend_from_slice(c2);
            });
            assert_eq!((&gx, &gy), (&x, &y), "n = {n}");
            // appended chunks: the same words, each handed over right after it is written
            let mut c = Prg::new(&[4u8; 16]);
            let (mut v, mut seen) = (vec![1u64], Vec::new());
            append_chunks(&mut c, &mut v, n, [], |start, chunk, []| {
                assert_eq!(start, seen.len());
                seen.extend_from_slice(chunk);
            });
            assert_eq!((&v[1..], &seen[..]), (&x[..], &x[..]), "n = {n}");
            assert_eq!(v[0], 1);
        }
    }

    #[test]
    fn fill_at_reads_a_taken_stream_anywhere() {
        let mut a = Prg::new(&[6u8; 16]);
        a.words(3);
        let stream = a.take_stream(5000);
        let all = stream.clone().words(5000);
        for (pos, len) in [
            (0, 0),
            (0, 1),
            (1, 1),
            (1, 2),
            (2, 7),
            (7, 1024),
            (1023, 1977),
            (4999, 1),
        ] {
            let mut got = vec![0u64; len];
            stream.fill_at(pos, &mut got);
            assert_eq!(got, all[pos..pos + len], "pos {pos}, len {len}");
        }
    }

    #[test]
    fn a_resumed_generator_continues_the_stream() {
        let mut a = Prg::new(&[3u8; 16]);
        a.words(7);
        let (seed, counter) = a.state();
        assert_eq!((seed, counter), ([3u8; 16], 4));
        let mut b = Prg::resume(&seed, counter);
        assert_eq!(a.words(9), b.words(9));
        assert_ne!(
            Prg::resume(&seed, counter + 1).words(2),
            Prg::resume(&seed, counter).words(2)
        );
    }

    #[test]
    fn bits_are_balanced() {
        let v = Prg::new(&os_seed().unwrap()).words(1 << 16);
        let ones: u64 = v.iter().map(|w| w.count_ones() as u64).sum();
        let n = 64.0 * v.len() as f64;
        // mean n/2, sd sqrt(n)/2; 6 sd
        assert!((ones as f64 - n / 2.0).abs() < 6.0 * n.sqrt() / 2.0);
    }
}
