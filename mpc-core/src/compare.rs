//! Comparisons, selection, sign, absolute value, ReLU and its derivative.
//!
//! Everything reduces to the sign bit of a difference ([`Party::msb`], 8 rounds) followed by one
//! 2-round bit injection or bit-times-value product ([`crate::convert`]); a selection costs one
//! integer multiplication (1 round) on top of a comparison. Equality is a zero test of the
//! difference instead: `d = a + b` (the two-summand split of [`crate::convert`]) is 0 exactly when
//! `a = -b`, so party 0 boolean-shares `a`, the 64 bits of `!(a ^ -b)` are local, and an AND tree
//! over the bit planes (32 + 16 + 8 + 4 + 2 + 1 = 63 gates, 6 rounds) gives `[d == 0]` for every
//! ring value, before one bit injection.
//!
//! Rounds are counted as in [`mpc_net`]: the longest chain of dependent messages. The sum is 9,
//! not 10, because the chains overlap: in `msb`, party 0's share of `a` (round 1) and party 1's
//! half of `G` do not wait for each other, so party 0 finishes the carry tree one hop before
//! parties 1 and 2, and its injection message (the first of the 2-round product) travels in the
//! tree's last round.
//!
//! | protocol | rounds | bits sent per element: party 0 / party 1 / party 2 |
//! |---|---|---|
//! | `ltz`, `drelu`, `lt`/`le`/`gt`/`ge` (and `_public`) | 9 | 246 / 245 / 245 |
//! | `eq`, `eq_public`, `eqz` | 8 | 191 / 127 / 127 |
//! | `relu`, `abs` | 9 | 310 / 245 / 245 |
//! | `relu_with_drelu` | 9 | 310 / 309 / 309 |
//! | `sign` | 9 | 246 / 245 / 245 |
//! | `select(b, x, y)` (given the 0/1 integer `b`) | 1 | 64 / 64 / 64 |
//!
//! (Exact when the element count is a multiple of 64; see [`crate::convert`].)
//!
//! ## Where the time of a ReLU goes
//! `relu` of 1e6 elements, three parties in one process on a 2-core AMD EPYC (AVX2, AES-NI).
//! At the start of 2026-12-02 a call took 141-156 ms (`bench_suite relu1e6`, SPU ABY3 3.7 s);
//! the CPU time was memory traffic more than arithmetic: each party streams about 230 MB through
//! multi-megabyte buffers per call (planes, masks, levels, messages), and this VM copies at about
//! 8 GB/s on one core, 13 GB/s on both. So every pass over a large buffer was removed that could
//! be (see [`crate::convert`], "Memory passes"): the AND layers, adder inputs and injections make
//! each message in one pass over cache-sized chunks that draws the keystreams it needs, a buffer
//! that is both a party's component and a message is written once and shared with the receiver
//! in process ([`mpc_net::Comm::send_shared`]), the bit slicing transposes eight blocks at a
//! time with AVX2, and results go back to [`mpc_net::pool`] when dropped. Alternating runs of
//! both binaries, 8 each: **141-156 -> 84-97 ms** (38-44x SPU); peak memory 528 -> 389 MB.
//!
//! Now (`perf record`, same machine): per call each party uses 45-57 ms of CPU (party 0 the
//! most: it slices the sum of two components and draws both of its result components), 141-151
//! ms in all, so the two cores are busy about 85% of the wall time and the rest is waiting for a
//! peer's message. Of the CPU time: the AND layers' and adder's fused passes 15%, AES-CTR 14% and
//! writing its counter blocks 5%, appending chunks to their buffers (`memcpy`) 12%, bit slicing
//! 11%, the injection's loops 11%, the generate and injection exchanges 6%, page faults 5%.
//!
//! Later on 2026-12-02 (a Zen 4 VM with AVX-512 and VAES): the keystream is written straight
//! into its destination ([`crate::prg::Prg::append`]) instead of a scratch chunk that was then
//! copied, the bit slicing stores 32 blocks per step, and party 0's generate shares are drawn
//! where the carry tree reads them ([`crate::convert`]): 45-50 -> 39-41.5 ms per call, 19% less
//! CPU time (alternating runs of 111 calls), 55-64x SPU ABY3 side by side. The profile after:
//! the AND layers' fused passes about 23%, AES-CTR 17%, bit slicing 15%, the injection's loops
//! 20%, the exchanges 7%, copies 3%.
//!
//! On an Intel Xeon (2026-12-03, family 6 model 167, AVX-512 and VAES) relu1e6 took 41-45 ms,
//! 37-40x SPU ABY3, against 49-55x on Zen 4: the injection's loops were `extend` over iterators
//! that stayed scalar (baseline x86-64) and took about 15% of the CPU time. Written as plain
//! loops over zipped slices and built for AVX-512, AVX2 and baseline (`Party::inject` in
//! `convert.rs`, following the GEMM kernel), the call takes 37-40 ms there, 41-42x SPU. Profile
//! after: AES-CTR 19%, the carry tree's AND passes 15-17%, bit slicing 12-13%, the generate
//! exchange 8%, the injection 10%, page faults and zeroing 6%.
//!
//! ## Correctness range
//! The sign bit is exact for every ring value. A comparison `x < y` is computed as the sign of
//! `x - y`, so it is correct whenever `|x - y| < 2^63` as ring integers, i.e. for all values
//! encodable at a common scale whose difference does not overflow (`|x|, |y| < 2^62` in ring
//! units always suffices; at 16 fractional bits that is `|x| < 2^46`, about 7e13).
//! Equality (`eq`, `eq_public`, `eqz`) is exact for every pair of encodable values: two
//! encodable values differ by less than `2^64` ring units, so `x - y` is the zero ring element
//! only when `x = y` (also when the difference is `2^63`, where `x - y` and `y - x` are the same
//! ring element and a test of the two sign bits would fail).
//!
//! Conventions: results are arithmetic integer shares (scale 0) of 0 or 1; `drelu(x) = [x >= 0]`,
//! so `drelu(0) = 1` and `relu'(0)` is taken as 1; `sign(0) = +1`.

use crate::boolean::flat;
use crate::convert::Pair;
use crate::error::{CoreError, Result};
use crate::party::{Party, to_array};
use crate::share::AShare;
use ndarray::{ArrayD, IxDyn};

impl Party {
    /// Flips packed shared bits (NOT): public ones enter component 0 (parties 0 and 2).
    fn not_packed(&self, b: Pair) -> Pair {
        let (mut b0, mut b1) = b;
        match self.role() {
            0 => b0.iter_mut().for_each(|v| *v = !*v),
            2 => b1.iter_mut().for_each(|v| *v = !*v),
            _ => {}
        }
        (b0, b1)
    }

    /// Packed bits to arithmetic 0/1 integers in the shape of `like` (2 rounds).
    fn bits_to_arith(&mut self, bits: &Pair, like: &AShare) -> Result<AShare> {
        let (bit, _) = self.inject(bits, like.len(), None, true)?;
        let (s0, s1) = bit.ok_or(CoreError::InvalidShape {
            op: "inject",
            detail: "internal: no bit output".into(),
        })?;
        AShare::from_components(to_array(like.shape(), s0)?, to_array(like.shape(), s1)?, 0)
    }

    /// `[x < 0]` as an arithmetic 0/1 integer share. 9 rounds.
    pub fn ltz(&mut self, x: &AShare) -> Result<AShare> {
        let b = self.msb_packed(x)?;
        self.bits_to_arith(&b, x)
    }

    /// DReLU, `[x >= 0]`, as an arithmetic 0/1 integer share (the derivative of ReLU, with
    /// `relu'(0) = 1`). 9 rounds.
    pub fn drelu(&mut self, x: &AShare) -> Result<AShare> {
        let b = self.msb_packed(x)?;
        let b = self.not_packed(b);
        self.bits_to_arith(&b, x)
    }

    /// ReLU, `max(x, 0)`, keeping `x`'s scale (exact). 9 rounds; parties send 310 / 245 / 245
    /// bits per element.
    ///
    /// ```
    /// use mpc_core::run_3pc;
    /// let x = ndarray::arr1(&[-1.5, 0.0, 2.25]).into_dyn();
    /// let out = run_3pc(|p| {
    ///     let s = p.input_f64(0, (p.role() == 0).then_some(&x), &[3])?;
    ///     let r = p.relu(&s)?;
    ///     p.reveal_f64(&r)
    /// })
    /// .unwrap();
    /// assert_eq!(out[0].as_slice().unwrap(), &[0.0, 0.0, 2.25]);
    /// ```
    pub fn relu(&mut self, x: &AShare) -> Result<AShare> {
        let b = self.msb_packed(x)?;
        let b = self.not_packed(b);
        self.mul_packed_bit(&b, x)
    }

    /// ReLU and DReLU of `x` sharing one sign-bit computation: `(relu(x), [x >= 0])`.
    /// 9 rounds; parties send 310 / 309 / 309 bits per element.
    pub fn relu_with_drelu(&mut self, x: &AShare) -> Result<(AShare, AShare)> {
        let b = self.msb_packed(x)?;
        let b = self.not_packed(b);
        let (x0, x1) = (flat(&x.s0), flat(&x.s1));
        let (bit, prod) = self.inject(&b, x.len(), Some((&x0, &x1)), true)?;
        let missing = || CoreError::InvalidShape {
            op: "relu_with_drelu",
            detail: "internal: missing output".into(),
        };
        let (d0, d1) = bit.ok_or_else(missing)?;
        let (r0, r1) = prod.ok_or_else(missing)?;
        let relu = AShare::from_components(
            to_array(x.shape(), r0)?,
            to_array(x.shape(), r1)?,
            x.frac_bits,
        )?;
        let drelu = AShare::from_components(to_array(x.shape(), d0)?, to_array(x.shape(), d1)?, 0)?;
        Ok((relu, drelu))
    }

    /// `|x|` (exact; `x`'s scale). 9 rounds.
    pub fn abs(&mut self, x: &AShare) -> Result<AShare> {
        let b = self.msb_packed(x)?;
        let bx = self.mul_packed_bit(&b, x)?;
        // |x| = x - 2 [x < 0] x
        x.sub(&bx.mul_scalar_int(2))
    }

    /// `sign(x)` as an integer share of `+1` or `-1` (`sign(0) = +1`). 9 rounds.
    pub fn sign(&mut self, x: &AShare) -> Result<AShare> {
        let neg = self.ltz(x)?;
        let one = ArrayD::from_elem(IxDyn(&[]), 1u64);
        neg.mul_scalar_int(-2).add_public_ring(self.role(), &one)
    }

    /// `[x < y]` as an arithmetic 0/1 integer share (same shape and scale). 9 rounds.
    pub fn lt(&mut self, x: &AShare, y: &AShare) -> Result<AShare> {
        self.ltz(&x.sub(y)?)
    }

    /// `[x <= y]`. 9 rounds.
    pub fn le(&mut self, x: &AShare, y: &AShare) -> Result<AShare> {
        self.drelu(&y.sub(x)?)
    }

    /// `[x > y]`. 9 rounds.
    pub fn gt(&mut self, x: &AShare, y: &AShare) -> Result<AShare> {
        self.ltz(&y.sub(x)?)
    }

    /// `[x >= y]`. 9 rounds.
    pub fn ge(&mut self, x: &AShare, y: &AShare) -> Result<AShare> {
        self.drelu(&x.sub(y)?)
    }

    /// `[x == y]`, exact for all operands of a common scale: a zero test of the ring element
    /// `x - y` ([`Party::eqz`]). 8 rounds.
    pub fn eq(&mut self, x: &AShare, y: &AShare) -> Result<AShare> {
        let d = x.sub(y)?;
        self.eqz(&d)
    }

    /// `[d == 0]` as an arithmetic 0/1 integer share, exact for every ring value: a zero test
    /// of the two summands of `d` (an AND tree over the 64 bit planes, 7 rounds) and one bit
    /// injection (2 rounds, the first overlapping the tree's last). 8 rounds; parties send
    /// 191 / 127 / 127 bits per element.
    pub fn eqz(&mut self, d: &AShare) -> Result<AShare> {
        let z = self.eqz_packed(d)?;
        self.bits_to_arith(&z, d)
    }

    /// Encodes a public constant at `x`'s scale as a share-shaped ring scalar.
    fn public_at_scale(x: &AShare, c: f64) -> Result<ArrayD<u64>> {
        let w = crate::fixed::encode_with(c, x.frac_bits)?;
        Ok(ArrayD::from_elem(IxDyn(&[]), w))
    }

    /// `x - c` for a public real `c` encoded at `x`'s scale.
    fn sub_public(&self, x: &AShare, c: f64) -> Result<AShare> {
        let w = Self::public_at_scale(x, c)?;
        x.add_public_ring(self.role(), &w.mapv(u64::wrapping_neg))
    }

    /// `[x < c]` for a public real `c` (encoded at `x`'s scale). 9 rounds.
    pub fn lt_public(&mut self, x: &AShare, c: f64) -> Result<AShare> {
        let d = self.sub_public(x, c)?;
        self.ltz(&d)
    }

    /// `[x <= c]`. 9 rounds.
    pub fn le_public(&mut self, x: &AShare, c: f64) -> Result<AShare> {
        let d = self.sub_public(x, c)?.neg();
        self.drelu(&d)
    }

    /// `[x > c]`. 9 rounds.
    pub fn gt_public(&mut self, x: &AShare, c: f64) -> Result<AShare> {
        let d = self.sub_public(x, c)?.neg();
        self.ltz(&d)
    }

    /// `[x >= c]`. 9 rounds.
    pub fn ge_public(&mut self, x: &AShare, c: f64) -> Result<AShare> {
        let d = self.sub_public(x, c)?;
        self.drelu(&d)
    }

    /// `[x == c]`, exact for every encodable `x` and `c`. 8 rounds.
    pub fn eq_public(&mut self, x: &AShare, c: f64) -> Result<AShare> {
        let d = self.sub_public(x, c)?;
        self.eqz(&d)
    }

    /// `b ? x : y` for a 0/1 integer share `b` (scale 0) and `x`, `y` of `b`'s shape and a
    /// common scale: `y + b (x - y)`, one integer multiplication. 1 round, 64 bits per element.
    pub fn select(&mut self, b: &AShare, x: &AShare, y: &AShare) -> Result<AShare> {
        if b.frac_bits != 0 {
            return Err(CoreError::ScaleMismatch {
                op: "select (the condition must be a 0/1 integer)",
                left: b.frac_bits,
                right: 0,
            });
        }
        let d = x.sub(y)?;
        let bd = self.mul(b, &d)?;
        bd.add(y)
    }
}
