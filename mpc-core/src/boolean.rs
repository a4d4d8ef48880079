//! Boolean circuits on XOR-replicated shares, and the bit-packing helpers the conversions use.
//!
//! ## AND (Araki et al. CCS'16, boolean version)
//! With `x = x_0 ^ x_1 ^ x_2` and `y` likewise, party `i` holds `(x_i, x_{i+1})`, `(y_i, y_{i+1})`
//! and computes locally the 3-out-of-3 share
//! `z_i = (x_i & y_i) ^ (x_i & y_{i+1}) ^ (x_{i+1} & y_i) ^ alpha_i`, where `alpha_i` is its
//! component of a fresh XOR zero-sharing `F(k_i) ^ F(k_{i+1})`. Then `z_i` is *reshared*: party `i`
//! sends it to party `i - 1`. **1 round; each party sends one bit per AND gate**, i.e. `8` bytes
//! per `u64` word of 64 independent gates. XOR, NOT, shifts and public masks are local
//! ([`crate::BShare`]).
//!
//! Security: semi-honest, honest majority. The message `z_i` is masked by `F(k_{i+1})`, which the
//! receiver (party `i - 1`) does not hold.
//!
//! ## Bit slicing
//! The comparison protocols work on *bit planes*: for `n` elements of 64 bits, plane `j` is
//! `ceil(n / 64)` words whose bit `e % 64` of word `e / 64` is bit `j` of element `e`
//! (`to_planes`, a 64x64 bit-matrix transpose per block of 64 elements). A circuit that narrows
//! (a carry tree) then sends only its surviving gates, 64 elements per word, with no padding
//! except in the last word when `n` is not a multiple of 64.

use crate::convert::Pair;
use crate::error::{CoreError, Result};
use crate::party::{Party, to_array};
use crate::prg::{CHUNK, Prg};
use crate::share::BShare;
use ndarray::ArrayD;
use std::borrow::Cow;
use std::mem::MaybeUninit;
use std::ops::Range;
use std::sync::Arc;

/// Row-major words of an array, borrowed when it is contiguous in standard order.
pub(crate) fn flat(a: &ArrayD<u64>) -> Cow<'_, [u64]> {
    match a.as_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(a.iter().copied().collect()),
    }
}

/// Transposes a 64x64 bit matrix in place: afterwards bit `c` of `a[r]` is the former bit `r` of
/// `a[c]` (recursive block swap, Hacker's Delight 7-3).
pub(crate) fn transpose64(a: &mut [u64; 64]) {
    let mut j = 32usize;
    let mut m: u64 = 0x0000_0000_FFFF_FFFF;
    while j != 0 {
        let mut k = 0usize;
        while k < 64 {
            let t = ((a[k] >> j) ^ a[k | j]) & m;
            a[k] ^= t << j;
            a[k | j] ^= t;
            k = ((k | j) + 1) & !j;
        }
        j >>= 1;
        m ^= m << j;
    }
}

/// Matrices transposed side by side by [`transpose64xl`] in the main pass of [`to_planes`]:
/// 32, so that each plane receives four cache lines per step. Measured on Zen 4 (10^6 words,
/// alternating in one process): 32 lanes 15-25% faster than 8 or 16, and than 64; the time is
/// mostly the stores into the 64 planes, not the transposition.
const LANES: usize = 32;

/// Matrices per step of the pass over the blocks that remain after the main pass.
const TAIL_LANES: usize = 8;

/// [`transpose64`] of `L` matrices at once: lane `l` of `a[r]` is row `r` of matrix `l`.
/// The lanes are independent, so each step is a few wide vector operations where the CPU has
/// them (compiled for AVX2 in [`to_planes`] when the CPU supports it).
#[inline(always)]
fn transpose64xl<const L: usize>(a: &mut [[u64; L]; 64]) {
    let mut j = 32usize;
    let mut m: u64 = 0x0000_0000_FFFF_FFFF;
    while j != 0 {
        let mut k = 0usize;
        while k < 64 {
            let (lo, hi) = a.split_at_mut(k | j);
            let (x, y) = (&mut lo[k], &mut hi[0]);
            for l in 0..L {
                let t = ((x[l] >> j) ^ y[l]) & m;
                x[l] ^= t << j;
                y[l] ^= t;
            }
            k = ((k | j) + 1) & !j;
        }
        j >>= 1;
        m ^= m << j;
    }
}

/// Bit-slices `words` (one element per word), or `words + add` element-wise when `add` (of the
/// same length) is given: returns `nbits` planes of `ceil(n/64)` words each, plane `j` first at
/// offset `j * ceil(n/64)`. Missing elements of the last block are zero. Runs the AVX-512, AVX2
/// or portable build of the transposition, following the GEMM kernel
/// ([`crate::gemm::GemmKernel::detect`], which [`crate::gemm::force_kernel`] sets); every build
/// gives the same words.
pub(crate) fn to_planes(words: &[u64], add: Option<&[u64]>, nbits: usize) -> Vec<u64> {
    #[cfg(target_arch = "x86_64")]
    match crate::gemm::GemmKernel::detect() {
        // SAFETY: `detect` returns a kernel only if the CPU supports it (the avx512 one needs
        // AVX-512 F, the avx2 one AVX2)
        crate::gemm::GemmKernel::Avx512 => return unsafe { to_planes_avx512(words, add, nbits) },
        crate::gemm::GemmKernel::Avx2 => return unsafe { to_planes_avx2(words, add, nbits) },
        crate::gemm::GemmKernel::Portable => {}
    }
    to_planes_with(words, add, nbits)
}

/// [`to_planes_with`] compiled for AVX-512.
///
/// # Safety
/// The CPU must support AVX-512 F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn to_planes_avx512(words: &[u64], add: Option<&[u64]>, nbits: usize) -> Vec<u64> {
    to_planes_with(words, add, nbits)
}

/// [`to_planes_with`] compiled for AVX2.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn to_planes_avx2(words: &[u64], add: Option<&[u64]>, nbits: usize) -> Vec<u64> {
    to_planes_with(words, add, nbits)
}

/// The body of [`to_planes`]: [`LANES`] 64-element blocks at a time (lane `l` of the
/// transposition is block `w + l`, so plane `j` of them is adjacent output words), then
/// [`TAIL_LANES`] at a time, then the remaining blocks one at a time. Every output word is
/// written exactly once.
#[inline(always)]
pub(crate) fn to_planes_with(words: &[u64], add: Option<&[u64]>, nbits: usize) -> Vec<u64> {
    let n = words.len();
    let m = n.div_ceil(64);
    let nbits = nbits.min(64);
    let mut out = mpc_net::pool::take(nbits * m);
    let planes = &mut out.spare_capacity_mut()[..nbits * m];
    let src = Src {
        words,
        add,
        nbits,
        m,
    };
    let done = src.lanes::<LANES>(planes, 0);
    let done = src.lanes::<TAIL_LANES>(planes, done);
    for w in done..m {
        let mut blk = [0u64; 64];
        load_block(words, add, w, |k, v| blk[k] = v);
        transpose64(&mut blk);
        for (j, &v) in blk.iter().take(nbits).enumerate() {
            planes[j * m + w].write(v);
        }
    }
    // SAFETY: the passes above wrote every word of `planes`, i.e. indices `j * m + w` for
    // every plane `j < nbits` and block `w < m` (the lane passes blocks `0..done`, whole
    // groups of full blocks, the last loop blocks `done..m`), and `planes` is the first
    // `nbits * m` words of `out`'s capacity.
    unsafe { out.set_len(nbits * m) };
    out
}

/// The input of [`to_planes_with`]: `m` blocks of 64 words (the last one possibly short),
/// summed with `add` if given, of which the first `nbits` planes are wanted.
struct Src<'a> {
    words: &'a [u64],
    add: Option<&'a [u64]>,
    nbits: usize,
    m: usize,
}

impl Src<'_> {
    /// Writes the planes of blocks `from..` in groups of `L` full blocks, as far as whole
    /// groups go; returns the first block not written.
    #[inline(always)]
    fn lanes<const L: usize>(&self, planes: &mut [MaybeUninit<u64>], from: usize) -> usize {
        let m = self.m;
        let full = from + ((self.words.len() / 64).saturating_sub(from) / L) * L;
        let mut wide = [[0u64; L]; 64];
        for w in (from..full).step_by(L) {
            for (l, block) in (w..w + L).enumerate() {
                load_block(self.words, self.add, block, |k, v| wide[k][l] = v);
            }
            transpose64xl(&mut wide);
            for (j, row) in wide.iter().take(self.nbits).enumerate() {
                for (o, v) in planes[j * m + w..j * m + w + L].iter_mut().zip(row) {
                    o.write(*v);
                }
            }
        }
        full
    }
}

/// Hands word `k` of block `w` of `words` (summed with `add`'s, whose missing words count as
/// zero) to `put(k, word)`, for the words the block has.
#[inline(always)]
fn load_block(words: &[u64], add: Option<&[u64]>, w: usize, mut put: impl FnMut(usize, u64)) {
    let range = w * 64..(w * 64 + 64).min(words.len());
    match add.and_then(|a| a.get(range.clone())) {
        Some(extra) => {
            for (k, (x, y)) in words[range].iter().zip(extra).enumerate() {
                put(k, x.wrapping_add(*y));
            }
        }
        None => words[range]
            .iter()
            .enumerate()
            .for_each(|(k, x)| put(k, *x)),
    }
}

/// Bit `e % 64` of `plane[e / 64]` for `e < n`, as one word (0 or 1) per element.
pub(crate) fn unpack_bits(plane: &[u64], n: usize) -> Vec<u64> {
    let mut out = Vec::with_capacity(n);
    for (w, &v) in plane.iter().enumerate() {
        let k = (n - (w * 64).min(n)).min(64);
        for e in 0..k {
            out.push((v >> e) & 1);
        }
    }
    out
}

/// Packs bit 0 of each word into a plane (the inverse of [`unpack_bits`]).
pub(crate) fn pack_bits(words: &[u64]) -> Vec<u64> {
    words
        .chunks(64)
        .map(|c| {
            c.iter()
                .enumerate()
                .fold(0u64, |acc, (e, &v)| acc | ((v & 1) << e))
        })
        .collect()
}

impl Party {
    /// Bitwise AND of two boolean-shared tensors of words (same shape): 1 round, each party
    /// sends `8` bytes per word (one bit per AND gate). See the module docs.
    pub fn and(&mut self, x: &BShare, y: &BShare) -> Result<BShare> {
        if x.shape() != y.shape() {
            return Err(CoreError::ShapeMismatch {
                op: "and",
                left: x.shape().to_vec(),
                right: y.shape().to_vec(),
            });
        }
        let (z0, z1) = self.and_words(&flat(&x.s0), &flat(&x.s1), &flat(&y.s0), &flat(&y.s1))?;
        Ok(BShare {
            s0: to_array(x.shape(), z0)?,
            s1: to_array(x.shape(), z1)?,
        })
    }

    /// AND of packed boolean shares given as component slices of equal length; returns this
    /// party's two components of the result. 1 round, `8` bytes per word.
    pub(crate) fn and_words(
        &mut self,
        x0: &[u64],
        x1: &[u64],
        y0: &[u64],
        y1: &[u64],
    ) -> Result<(Vec<u64>, Vec<u64>)> {
        let n = x0.len();
        if x1.len() != n || y0.len() != n || y1.len() != n {
            return Err(CoreError::ShapeMismatch {
                op: "and_words",
                left: vec![x0.len(), x1.len()],
                right: vec![y0.len(), y1.len()],
            });
        }
        self.and_planes(1, n, |_| Gate::words((x0, x1), (y0, y1), None))
    }

    /// One layer of `gates` AND gates over bit planes of `m` words, resharing included
    /// (1 round, `8 * gates * m` bytes sent): output plane `q` is `x & y ^ e` for the operands
    /// `gate(q)` gives (`e`, if any, is XORed in for free). Returns this party's two components,
    /// output plane `q` at offset `q * m`.
    pub(crate) fn and_planes<'a>(
        &mut self,
        gates: usize,
        m: usize,
        gate: impl Fn(usize) -> Gate<'a>,
    ) -> Result<Pair> {
        let n = gates * m;
        let mut keep = mpc_net::pool::take(n);
        let mut msg = mpc_net::pool::take(n);
        self.and_layer(m, n, &gate, &mut keep, Some(&mut msg));
        let (next, prev) = (self.comm.next(), self.comm.prev());
        self.comm.send(prev, msg)?;
        let other = self.comm.recv(next, n)?;
        Ok((keep, other))
    }

    /// [`Party::and_planes`] with both components as read-only shared buffers: this party's
    /// is the message itself ([`mpc_net::Comm::send_shared`]; in process the receiver reads
    /// the same memory), so each output word is written once.
    pub(crate) fn and_planes_shared<'a>(
        &mut self,
        gates: usize,
        m: usize,
        gate: impl Fn(usize) -> Gate<'a>,
    ) -> Result<SharedPair> {
        let n = gates * m;
        let mut keep = mpc_net::pool::take(n);
        self.and_layer(m, n, &gate, &mut keep, None);
        let keep = Arc::new(keep);
        let (next, prev) = (self.comm.next(), self.comm.prev());
        self.comm.send_shared(prev, &keep)?;
        let other = self.comm.recv_shared(next, n)?;
        Ok((keep, other))
    }

    /// The local part of an AND layer: appends this party's `n` words of `z_i ^ e_i` to `keep`
    /// (and `msg`, if given), in one pass over cache-sized chunks that draws this party's
    /// component of the zero-sharing (`F(k_i) ^ F(k_{i+1})`, the same words
    /// [`Party::zero_share_xor`] would draw) and does the local AND. The receiver of the
    /// message (party `i - 1`) holds `e_i` itself, so the message tells it nothing new, and it
    /// is masked by `F(k_{i+1})`, which the receiver lacks.
    fn and_layer<'a>(
        &mut self,
        m: usize,
        n: usize,
        gate: &impl Fn(usize) -> Gate<'a>,
        keep: &mut Vec<u64>,
        mut msg: Option<&mut Vec<u64>>,
    ) {
        // scratch no larger than needed (small layers are frequent); `bufs` holds the words of
        // operand components drawn from keystreams (x0, x1, y0, y1, e0), made only for a layer
        // that has such operands
        let chunk = n.clamp(1, CHUNK);
        let mut r = vec![0u64; chunk];
        let mut bufs = Vec::new();
        let mut pos = 0;
        keep.reserve(n);
        while pos < n {
            let len = chunk.min(n - pos);
            // the chunk of `keep` starts as F(k_i), written in place
            let at = keep.len();
            self.prg_prev.append(keep, len);
            let z = &mut keep[at..];
            self.prg_next.fill(&mut r[..len]);
            let mut i = 0;
            while i < len {
                let (q, off) = ((pos + i) / m, (pos + i) % m);
                let seg = (m - off).min(len - i);
                let g = gate(q);
                let span = off..off + seg;
                let (zs, rs) = (&mut z[i..i + seg], &r[i..i + seg]);
                if bufs.is_empty() && g.has_stream() {
                    bufs = vec![0u64; 5 * chunk];
                }
                let [bx0, bx1, by0, by1, be0] = five(&mut bufs);
                let x = (g.x.0.read(span.clone(), bx0), g.x.1.read(span.clone(), bx1));
                let y = (g.y.0.read(span.clone(), by0), g.y.1.read(span.clone(), by1));
                and_local_masked(zs, rs, x, y);
                if let Some((e0, _)) = g.e {
                    for (z, e) in zs.iter_mut().zip(e0.read(span, be0)) {
                        *z ^= e;
                    }
                }
                i += seg;
            }
            if let Some(msg) = msg.as_deref_mut() {
                msg.extend_from_slice(z);
            }
            pos += len;
        }
    }
}

/// A read-only buffer shared with a peer (see [`mpc_net::Comm::send_shared`]).
pub(crate) type Shared = Arc<Vec<u64>>;

/// Replicated components held as shared buffers.
pub(crate) type SharedPair = (Shared, Shared);

/// Drops this party's reference to a shared buffer; the last holder gives it back to the pool.
pub(crate) fn release(a: Shared) {
    if let Some(v) = Arc::into_inner(a) {
        mpc_net::pool::give(v);
    }
}

/// The words of a shared buffer as an owned vector: the buffer itself if this is its last
/// holder, else a copy.
pub(crate) fn into_owned(a: Shared) -> Vec<u64> {
    Arc::try_unwrap(a).unwrap_or_else(|a| mpc_net::pool::copy(&a))
}

/// One component of a gate operand's `m`-word plane: stored words, or the plane that starts
/// at word `start` of a keystream, drawn when it is read ([`Prg::fill_at`]). A component that
/// is pure keystream (e.g. party 0's share of the generate bits) then needs no buffer that is
/// written once and read back once.
#[derive(Clone, Copy)]
pub(crate) enum Comp<'a> {
    /// The plane's words.
    Words(&'a [u64]),
    /// Words `start..start + m` of a keystream.
    Stream(&'a Prg, usize),
}

impl<'a> Comp<'a> {
    /// Words `span` of the plane: borrowed if stored, else drawn into `buf` (at least
    /// `span.len()` words).
    fn read<'b>(self, span: Range<usize>, buf: &'b mut [u64]) -> &'b [u64]
    where
        'a: 'b,
    {
        match self {
            Comp::Words(w) => &w[span],
            Comp::Stream(prg, start) => {
                let out = &mut buf[..span.len()];
                prg.fill_at(start + span.start, out);
                out
            }
        }
    }

    /// Appends the first `m` words of the plane to `v`.
    pub(crate) fn append_to(self, m: usize, v: &mut Vec<u64>) {
        match self {
            Comp::Words(w) => v.extend_from_slice(&w[..m]),
            Comp::Stream(prg, start) => {
                let at = v.len();
                v.resize(at + m, 0);
                prg.fill_at(start, &mut v[at..]);
            }
        }
    }
}

/// The operands of one AND gate of [`Party::and_planes`]: replicated pairs of `m`-word planes.
pub(crate) struct Gate<'a> {
    /// Left input.
    pub x: (Comp<'a>, Comp<'a>),
    /// Right input.
    pub y: (Comp<'a>, Comp<'a>),
    /// A shared plane XORed into the output, if any.
    pub e: Option<(Comp<'a>, Comp<'a>)>,
}

impl<'a> Gate<'a> {
    /// Whether an operand component is drawn from a keystream.
    fn has_stream(&self) -> bool {
        let (x, y) = (self.x, self.y);
        [x.0, x.1, y.0, y.1]
            .into_iter()
            .chain(self.e.map(|e| e.0))
            .any(|c| matches!(c, Comp::Stream(..)))
    }

    /// A gate over stored planes.
    pub(crate) fn words(
        x: (&'a [u64], &'a [u64]),
        y: (&'a [u64], &'a [u64]),
        e: Option<(&'a [u64], &'a [u64])>,
    ) -> Gate<'a> {
        let w = |(a, b): (&'a [u64], &'a [u64])| (Comp::Words(a), Comp::Words(b));
        Gate {
            x: w(x),
            y: w(y),
            e: e.map(w),
        }
    }
}

/// `bufs` cut into the five equal scratch slices of [`Party::and_layer`] (empty if it is).
fn five(bufs: &mut [u64]) -> [&mut [u64]; 5] {
    let chunk = bufs.len() / 5;
    let (a, rest) = bufs.split_at_mut(chunk);
    let (b, rest) = rest.split_at_mut(chunk);
    let (c, rest) = rest.split_at_mut(chunk);
    let (d, e) = rest.split_at_mut(chunk);
    [a, b, c, d, e]
}

/// `z = z ^ r ^ (x & y)_local` word by word (`z`, `r` and the operands hold the same span).
#[inline]
fn and_local_masked(
    z: &mut [u64],
    r: &[u64],
    (x0, x1): (&[u64], &[u64]),
    (y0, y1): (&[u64], &[u64]),
) {
    for (((((z, &r), &a0), &a1), &b0), &b1) in z.iter_mut().zip(r).zip(x0).zip(x1).zip(y0).zip(y1) {
        *z ^= r ^ (a0 & (b0 ^ b1)) ^ (a1 & b0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xorshift_words(n: usize, mut s: u64) -> Vec<u64> {
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                s
            })
            .collect()
    }

    #[test]
    fn every_transposition_path_gives_the_defined_planes() {
        // lengths around the LANES-block (2048-element), TAIL_LANES-block (512-element) and
        // 64-element boundaries
        for n in [
            0, 1, 63, 64, 65, 255, 256, 257, 511, 512, 1000, 1029, 2047, 2048, 2049, 2600, 4700,
        ] {
            let words = xorshift_words(n, 0x9e37_79b9_7f4a_7c15 ^ n as u64);
            let add = xorshift_words(n, 0x2545_f491_4f6c_dd1d ^ n as u64);
            let m = n.div_ceil(64);
            for (with_add, nbits) in [(false, 64), (true, 64), (false, 63), (true, 1)] {
                let a = with_add.then_some(&add[..]);
                let dispatched = to_planes(&words, a, nbits);
                let portable = to_planes_with(&words, a, nbits);
                assert_eq!(dispatched, portable, "n = {n}");
                #[cfg(target_arch = "x86_64")]
                {
                    if is_x86_feature_detected!("avx2") {
                        // SAFETY: the CPU supports AVX2 (checked just above)
                        let v = unsafe { to_planes_avx2(&words, a, nbits) };
                        assert_eq!(v, portable, "avx2, n = {n}");
                    }
                    if is_x86_feature_detected!("avx512f") {
                        // SAFETY: the CPU supports AVX-512 F (checked just above)
                        let v = unsafe { to_planes_avx512(&words, a, nbits) };
                        assert_eq!(v, portable, "avx512, n = {n}");
                    }
                }
                assert_eq!(dispatched.len(), nbits * m);
                for e in 0..n {
                    let v = if with_add {
                        words[e].wrapping_add(add[e])
                    } else {
                        words[e]
                    };
                    for j in 0..nbits {
                        let got = (dispatched[j * m + e / 64] >> (e % 64)) & 1;
                        assert_eq!(got, (v >> j) & 1, "n = {n}, element {e}, bit {j}");
                    }
                }
                // missing elements of the last block are zero
                for j in 0..nbits {
                    if n % 64 != 0 {
                        assert_eq!(dispatched[j * m + m - 1] >> (n % 64), 0);
                    }
                }
            }
        }
    }

    #[test]
    fn transpose_and_packing_round_trip() {
        let words = xorshift_words(150, 0x1234_5678_9abc_def1);
        let planes = to_planes(&words, None, 64);
        let m = 3;
        for (e, &w) in words.iter().enumerate() {
            for j in 0..64 {
                assert_eq!((planes[j * m + e / 64] >> (e % 64)) & 1, (w >> j) & 1);
            }
        }
        let bits: Vec<u64> = words.iter().map(|w| w & 1).collect();
        assert_eq!(unpack_bits(&pack_bits(&words), words.len()), bits);
        assert_eq!(unpack_bits(&planes[..m], words.len()), bits);
    }
}
