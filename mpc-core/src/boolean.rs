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
//! ([`to_planes`], a 64x64 bit-matrix transpose per block of 64 elements). A circuit that narrows
//! (a carry tree) then sends only its surviving gates, 64 elements per word, with no padding
//! except in the last word when `n` is not a multiple of 64.

use crate::error::{CoreError, Result};
use crate::party::{Party, to_array};
use crate::share::BShare;
use ndarray::ArrayD;
use std::borrow::Cow;

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

/// Bit-slices `words` (one element per word), or `words + add` element-wise when `add` is
/// given: returns `nbits` planes of `ceil(n/64)` words each, plane `j` first at offset
/// `j * ceil(n/64)`. Missing elements of the last block are zero.
pub(crate) fn to_planes(words: &[u64], add: Option<&[u64]>, nbits: usize) -> Vec<u64> {
    let m = words.len().div_ceil(64);
    let nbits = nbits.min(64);
    let mut out = mpc_net::pool::take_zeroed(nbits * m);
    let mut blk = [0u64; 64];
    for (w, chunk) in words.chunks(64).enumerate() {
        blk[..chunk.len()].copy_from_slice(chunk);
        if let Some(add) = add {
            let other = &add[w * 64..(w * 64 + chunk.len()).min(add.len())];
            for (b, a) in blk.iter_mut().zip(other) {
                *b = b.wrapping_add(*a);
            }
        }
        blk[chunk.len()..].fill(0);
        transpose64(&mut blk);
        for (j, &v) in blk.iter().take(nbits).enumerate() {
            out[j * m + w] = v;
        }
    }
    out
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

/// XORs into `z` the local part of the AND of replicated shares `(x0, x1)` and `(y0, y1)`:
/// `(x0 & y0) ^ (x0 & y1) ^ (x1 & y0)`.
#[inline]
pub(crate) fn and_local(z: &mut [u64], x0: &[u64], x1: &[u64], y0: &[u64], y1: &[u64]) {
    for ((((z, &a0), &a1), &b0), &b1) in z.iter_mut().zip(x0).zip(x1).zip(y0).zip(y1) {
        *z ^= (a0 & (b0 ^ b1)) ^ (a1 & b0);
    }
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
        let mut z = self.zero_share_xor(n);
        and_local(&mut z, x0, x1, y0, y1);
        self.reshare_xor(z)
    }

    /// Reshares a re-randomised 3-out-of-3 XOR share `z_i`: sends it to the previous party and
    /// receives `z_{i+1}` from the next one. 1 round, `8` bytes per word.
    pub(crate) fn reshare_xor(&mut self, z: Vec<u64>) -> Result<(Vec<u64>, Vec<u64>)> {
        let n = z.len();
        let (next, prev) = (self.comm.next(), self.comm.prev());
        self.comm.send_copy(prev, &z)?;
        let z1 = self.comm.recv(next, n)?;
        Ok((z, z1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_and_packing_round_trip() {
        let mut s = 0x1234_5678_9abc_def1u64;
        let words: Vec<u64> = (0..150)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                s
            })
            .collect();
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
