//! Conversions between arithmetic and boolean shares: MSB extraction, A2B, bit injection (B2A of
//! single bits) and the bit-times-value product.
//!
//! ## The two-summand split
//! A replicated arithmetic share `x = x_0 + x_1 + x_2` is, without communication, a sum of two
//! values: `a = x_0 + x_1`, known to party 0 only, and `b = x_2`, known to parties 1 and 2. So
//! `x = a + b (mod 2^64)` is the output of a 64-bit adder with inputs `a` and `b`.
//! - `b` has the boolean replicated sharing `(0, 0, b)` for free.
//! - `a` gets the sharing `(A_0, A_1, 0)` with `A_1 = F(k_1)` (common randomness of parties 0 and 1)
//!   and `A_0 = a ^ A_1`, which party 0 sends to party 2: **64 bits from party 0**.
//! - Propagate `P = a ^ b` is then local. Generate `G = a & b = (A_0 & b) ^ (A_1 & b)` is a
//!   two-out-of-two XOR sharing between party 2 (`A_0 & b`) and party 1 (`A_1 & b`); it becomes
//!   replicated `(C_0, C_1, C_2)` with `C_0 = F(k_0)`, `C_1 = F(k_1)` and `C_2` exchanged by
//!   parties 1 and 2 (each sends its half masked by the key the other lacks): **one round, one
//!   bit per generate bit from parties 1 and 2**, nothing from party 0.
//!
//! ## MSB: a carry-only prefix tree over bit planes
//! `msb(x) = a_63 ^ b_63 ^ c_63`, where `c_63` is the carry into bit 63, i.e. the group generate
//! of bits `0..=62`. The protocol bit-slices `a` and `b` ([`crate::boolean`]), so each bit
//! position is a plane of `ceil(n/64)` words holding one bit of every element, and combines
//! groups pairwise (Brent-Kung's upward tree): `G' = G_hi ^ (P_hi & G_lo)`, `P' = P_hi & P_lo`,
//! skipping `P'` of the lowest group (no carry enters bit 0). The 63 positions shrink to
//! 32, 16, 8, 4, 2, 1 groups: **6 AND rounds of 61 + 31 + 15 + 7 + 3 + 1 = 118 gates**.
//!
//! | protocol | rounds | bits sent per element: party 0 / party 1 / party 2 |
//! |---|---|---|
//! | `msb` | 8 = 1 (share `a`) + 1 (`G`) + 6 (tree) | 182 / 181 / 181 |
//! | `a2b` (Kogge-Stone, all 64 sum bits) | 8 | 768 / 768 / 768 |
//! | `b2a_bit` | 2 | 64 / 64 / 64 |
//! | `mul_bit` | 2 | 128 / 64 / 64 |
//! | `b2a_bit` and `mul_bit` of the same bit together | 2 | 128 / 128 / 128 |
//! | zero test `[x == 0]` (packed; [`Party::eqz`] adds a `b2a_bit`) | at most 7 | 127 / 63 / 63 |
//!
//! Bits are exact when the number of elements is a multiple of 64; otherwise the bit-sliced part
//! of `msb` rounds the element count up to the next multiple of 64. The first round of `msb` only
//! involves party 0 and the `G` exchange of party 1, so the rounds overlap as stated.
//!
//! ## Bit injection and bit-times-value (2 rounds, no preprocessing)
//! A shared bit `β = β_0 ^ β_1 ^ β_2` is `c ^ d` with `c = β_0 ^ β_1` (party 0) and `d = β_2`
//! (parties 1 and 2), so as integers `β = d + s c` with `s = 1 - 2d`, and for a shared `x`,
//! `β x = d x + s c x = d x + s (c (x_0 + x_1) + c x_2)`. Round 1: party 0 splits `c` and
//! `w = c (x_0 + x_1)` additively between parties 1 and 2 (`c = c_1 + c_2`, `w = w_1 + w_2`;
//! `c_1, w_1` from `k_1`, and it sends `c_2, w_2` to party 2). Parties 1 and 2 then hold additive
//! shares of the result, `u_1 = d (x_1 + x_2) + s (w_1 + c_1 x_2)` and
//! `u_2 = d x_0 + s (w_2 + c_2 x_2)` (for `β` alone: `u_1 = d + s c_1`, `u_2 = s c_2`). Round 2:
//! they turn it into a replicated sharing `(D_0, D_1, D_2)`, `D_0 = F(k_0)`, `D_1 = F(k_1)`,
//! `D_2 = (u_1 - D_1) + (u_2 - D_0)`, exchanging the two masked halves. The product is exact: no
//! truncation, `x`'s scale is kept.
//!
//! Security (semi-honest, honest majority): every message is masked by a PRG stream of a key its
//! receiver does not hold (`A_0`, `c_2`, `w_2` by `k_1` towards party 2; party 1's halves by
//! `k_1` towards party 2; party 2's halves by `k_0` towards party 1). No failure probability:
//! the results are exact for every ring value.

use crate::boolean::{and_local, flat, pack_bits, to_planes, unpack_bits};
use crate::error::{CoreError, Result};
use crate::party::{Party, to_array};
use crate::share::{AShare, BShare};
use mpc_net::pool;

/// Replicated components of packed boolean values: `(s0, s1)`.
pub(crate) type Pair = (Vec<u64>, Vec<u64>);

/// Plane `t` of `m`-word planes.
fn plane(m: usize, v: &[u64], t: usize) -> &[u64] {
    &v[t * m..(t + 1) * m]
}

/// `(a & b) ^ mask`, element-wise.
fn masked_and(a: &[u64], b: &[u64], mask: &[u64]) -> Vec<u64> {
    a.iter()
        .zip(b)
        .zip(mask)
        .map(|((a, b), c)| (a & b) ^ c)
        .collect()
}

/// `out ^= (a & b) ^ mask`, element-wise.
fn xor_masked_and(out: &mut [u64], a: &[u64], b: &[u64], mask: &[u64]) {
    for (((o, a), b), c) in out.iter_mut().zip(a).zip(b).zip(mask) {
        *o ^= (a & b) ^ c;
    }
}

fn xor(a: &[u64], b: &[u64]) -> Vec<u64> {
    a.iter().zip(b).map(|(x, y)| x ^ y).collect()
}

impl Party {
    /// This party's summand of the two-summand split, bit-sliced into 64 planes: `a = x_0 + x_1`
    /// at party 0, `b = x_2` at parties 1 and 2.
    fn split_summand_planes(&self, x: &AShare) -> Vec<u64> {
        let (s0, s1) = (flat(&x.s0), flat(&x.s1));
        match self.role() {
            0 => to_planes(&s0, Some(&s1), 64),
            1 => to_planes(&s1, None, 64),
            _ => to_planes(&s0, None, 64),
        }
    }

    /// This party's summand of the two-summand split, one word per element.
    fn split_summand(&self, x: &AShare) -> Vec<u64> {
        match self.role() {
            0 => {
                x.s0.iter()
                    .zip(x.s1.iter())
                    .map(|(a, b)| a.wrapping_add(*b))
                    .collect()
            }
            1 => flat(&x.s1).into_owned(),
            _ => flat(&x.s0).into_owned(),
        }
    }

    /// Shares the adder inputs (see the module docs): `v` is this party's summand in any packed
    /// layout of `len` words; returns the replicated propagate `P = a ^ b` (all `len` words)
    /// and generate `G = a & b` (the first `lg` words). 2 rounds; party 0 sends `len` words,
    /// parties 1 and 2 send `lg` words.
    fn adder_inputs(&mut self, v: Vec<u64>, lg: usize) -> Result<(Pair, Pair)> {
        let len = v.len();
        match self.role() {
            0 => {
                let a1 = self.prg_next.words(len);
                let mut a0 = v;
                for (a, r) in a0.iter_mut().zip(&a1) {
                    *a ^= *r;
                }
                self.comm.send_copy(2, &a0)?;
                let c0 = self.prg_prev.words(lg);
                let c1 = self.prg_next.words(lg);
                Ok(((a0, a1), (c0, c1)))
            }
            1 => {
                let a1 = self.prg_prev.words(len);
                let c1 = self.prg_prev.words(lg);
                let half = masked_and(&a1, &v, &c1);
                self.comm.send(2, half)?;
                let mut c2 = self.comm.recv(2, lg)?;
                xor_masked_and(&mut c2, &a1, &v, &c1);
                Ok(((a1, v), (c1, c2)))
            }
            _ => {
                let a0 = self.comm.recv(0, len)?;
                let c0 = self.prg_next.words(lg);
                let half = masked_and(&a0, &v, &c0);
                self.comm.send(1, half)?;
                let mut c2 = self.comm.recv(1, lg)?;
                xor_masked_and(&mut c2, &a0, &v, &c0);
                Ok(((v, a0), (c2, c0)))
            }
        }
    }

    /// The carry out of `k` bit-plane groups of `m` words each: the group generate of all of
    /// them, by the pairwise tree of the module docs. `g` holds the generates of groups
    /// `0..k` and `p` the propagates of groups `1..k` (group 0's is never needed), group `t` of
    /// `g` at offset `t * m` and of `p` at `(t - 1 + poff) * m`. `ceil(log2 k)` rounds.
    fn carry_tree(
        &mut self,
        mut g: Pair,
        mut p: Pair,
        mut poff: usize,
        mut k: usize,
        m: usize,
    ) -> Result<Pair> {
        while k > 1 {
            let pairs = k / 2;
            let gates = 2 * pairs - 1;
            let mut z = self.zero_share_xor(gates * m);
            // gate t < pairs: P_{2t+1} & G_{2t}; gate pairs + t - 1 (t >= 1): P_{2t+1} & P_{2t}
            for (q, zq) in z.chunks_mut(m).enumerate() {
                let (hi, lo, lo_is_g) = if q < pairs {
                    (2 * q + 1, 2 * q, true)
                } else {
                    let t = q - pairs + 1;
                    (2 * t + 1, 2 * t, false)
                };
                let (x0, x1) = (plane(m, &p.0, hi - 1 + poff), plane(m, &p.1, hi - 1 + poff));
                let (y0, y1) = if lo_is_g {
                    (plane(m, &g.0, lo), plane(m, &g.1, lo))
                } else {
                    (plane(m, &p.0, lo - 1 + poff), plane(m, &p.1, lo - 1 + poff))
                };
                and_local(zq, x0, x1, y0, y1);
            }
            let (mut z0, mut z1) = self.reshare_xor(z)?;
            let tail = |z: &mut Vec<u64>| {
                let mut t = pool::take(z.len() - pairs * m);
                t.extend_from_slice(&z[pairs * m..]);
                z.truncate(pairs * m);
                t
            };
            let mut np = (tail(&mut z0), tail(&mut z1));
            for t in 0..pairs {
                let hi = (2 * t + 1) * m;
                let dst = t * m..(t + 1) * m;
                for ((d, e), s) in z0[dst.clone()].iter_mut().zip(&mut z1[dst]).zip(hi..) {
                    *d ^= g.0[s];
                    *e ^= g.1[s];
                }
            }
            if k % 2 == 1 {
                let s = (k - 1) * m;
                z0.extend_from_slice(&g.0[s..s + m]);
                z1.extend_from_slice(&g.1[s..s + m]);
                let s = (k - 2 + poff) * m;
                np.0.extend_from_slice(&p.0[s..s + m]);
                np.1.extend_from_slice(&p.1[s..s + m]);
            }
            for old in [g.0, g.1, p.0, p.1] {
                pool::give(old);
            }
            g = (z0, z1);
            p = np;
            poff = 0;
            k = pairs + k % 2;
        }
        g.0.truncate(m);
        g.1.truncate(m);
        Ok(g)
    }

    /// The sign bits of `x` as one packed plane (bit `e % 64` of word `e / 64` is the MSB of
    /// element `e`). 8 rounds; see the module docs for the bits.
    pub(crate) fn msb_packed(&mut self, x: &AShare) -> Result<Pair> {
        let m = x.len().div_ceil(64);
        if m == 0 {
            // an empty tensor: nothing to compute or send (every party sees the same shape)
            return Ok((Vec::new(), Vec::new()));
        }
        let v = self.split_summand_planes(x);
        let (mut p, g) = self.adder_inputs(v, 63 * m)?;
        let top = (p.0.split_off(63 * m), p.1.split_off(63 * m));
        // p keeps bit 0's propagate, which the tree skips (offset 1)
        let c = self.carry_tree(g, p, 1, 63, m)?;
        let out = (xor(&top.0, &c.0), xor(&top.1, &c.1));
        for used in [c.0, c.1] {
            pool::give(used);
        }
        Ok(out)
    }

    /// `[x == 0]` for every element of `x` as one packed plane (bit `e % 64` of word `e / 64`),
    /// exact for every ring value: `x = a + b` is 0 exactly when `a = -b`, so party 0
    /// boolean-shares `a` (64 bits to party 2, as in `msb`), `-b` is shared for free, the 64
    /// bits of `!(a ^ -b)` are local, and an AND tree over the bit planes
    /// (64 -> 32 -> ... -> 1, 63 gates) gives their conjunction. At most 7 rounds; party 0
    /// sends 127 bits per element, parties 1 and 2 send 63.
    pub(crate) fn eqz_packed(&mut self, x: &AShare) -> Result<Pair> {
        let m = x.len().div_ceil(64);
        if m == 0 {
            return Ok((Vec::new(), Vec::new()));
        }
        let (s0, s1) = (flat(&x.s0), flat(&x.s1));
        let neg = |v: &[u64]| v.iter().map(|w| w.wrapping_neg()).collect::<Vec<_>>();
        let len = 64 * m;
        // the replicated sharing (A_0, A_1, -b) of a ^ -b, with A_0 ^ A_1 = a
        let (mut e0, mut e1) = match self.role() {
            0 => {
                let a1 = self.prg_next.words(len);
                let mut a0 = to_planes(&s0, Some(&s1), 64);
                for (a, r) in a0.iter_mut().zip(&a1) {
                    *a ^= *r;
                }
                self.comm.send(2, a0.clone())?;
                (a0, a1)
            }
            1 => {
                let a1 = self.prg_prev.words(len);
                (a1, to_planes(&neg(&s1), None, 64))
            }
            _ => {
                let a0 = self.comm.recv(0, len)?;
                (to_planes(&neg(&s0), None, 64), a0)
            }
        };
        // NOT: public ones enter component 0 (parties 0 and 2)
        match self.role() {
            0 => e0.iter_mut().for_each(|v| *v = !*v),
            2 => e1.iter_mut().for_each(|v| *v = !*v),
            _ => {}
        }
        self.and_tree((e0, e1), 64, m)
    }

    /// The AND of `k` bit planes of `m` words each (plane `t` at offset `t * m` of both
    /// components), pairwise in `ceil(log2 k)` rounds of `k - 1` gates in all.
    fn and_tree(&mut self, mut x: Pair, mut k: usize, m: usize) -> Result<Pair> {
        while k > 1 {
            let pairs = k / 2;
            let mut z = self.zero_share_xor(pairs * m);
            for (t, zt) in z.chunks_mut(m).enumerate() {
                let (lo, hi) = (2 * t, 2 * t + 1);
                let (x0, x1) = (plane(m, &x.0, lo), plane(m, &x.1, lo));
                let (y0, y1) = (plane(m, &x.0, hi), plane(m, &x.1, hi));
                and_local(zt, x0, x1, y0, y1);
            }
            let (mut z0, mut z1) = self.reshare_xor(z)?;
            if k % 2 == 1 {
                z0.extend_from_slice(plane(m, &x.0, k - 1));
                z1.extend_from_slice(plane(m, &x.1, k - 1));
            }
            x = (z0, z1);
            k = pairs + k % 2;
        }
        x.0.truncate(m);
        x.1.truncate(m);
        Ok(x)
    }

    /// The most significant (sign) bit of every element of `x`, as a boolean share whose words
    /// are 0 or 1. 8 rounds; parties send 182 / 181 / 181 bits per element (module docs).
    pub fn msb(&mut self, x: &AShare) -> Result<BShare> {
        let (b0, b1) = self.msb_packed(x)?;
        let n = x.len();
        Ok(BShare {
            s0: to_array(x.shape(), unpack_bits(&b0, n))?,
            s1: to_array(x.shape(), unpack_bits(&b1, n))?,
        })
    }

    /// Arithmetic-to-boolean conversion of every word of `x` (all 64 bits), by a Kogge-Stone
    /// adder on packed words. 8 rounds; each party sends 768 bits per element.
    pub fn a2b(&mut self, x: &AShare) -> Result<BShare> {
        let n = x.len();
        let v = self.split_summand(x);
        let ((p0, p1), (mut g0, mut g1)) = self.adder_inputs(v, n)?;
        let (mut q0, mut q1) = (p0.clone(), p1.clone());
        for d in [1u32, 2, 4, 8, 16, 32] {
            let last = d == 32;
            let mut x0 = q0.clone();
            let mut x1 = q1.clone();
            let mut y0: Vec<u64> = g0.iter().map(|v| v << d).collect();
            let mut y1: Vec<u64> = g1.iter().map(|v| v << d).collect();
            if !last {
                x0.extend_from_slice(&q0);
                x1.extend_from_slice(&q1);
                y0.extend(q0.iter().map(|v| v << d));
                y1.extend(q1.iter().map(|v| v << d));
            }
            let (z0, z1) = self.and_words(&x0, &x1, &y0, &y1)?;
            for i in 0..n {
                g0[i] ^= z0[i];
                g1[i] ^= z1[i];
            }
            if !last {
                q0.copy_from_slice(&z0[n..]);
                q1.copy_from_slice(&z1[n..]);
            }
        }
        let s0: Vec<u64> = p0.iter().zip(&g0).map(|(p, g)| p ^ (g << 1)).collect();
        let s1: Vec<u64> = p1.iter().zip(&g1).map(|(p, g)| p ^ (g << 1)).collect();
        Ok(BShare {
            s0: to_array(x.shape(), s0)?,
            s1: to_array(x.shape(), s1)?,
        })
    }

    /// Bit injection and/or bit-times-value for packed shared bits `bits` (one per element, `n`
    /// elements) and optionally values `x` (`n` words per component). Returns the arithmetic
    /// 0/1 bits (if `want_bit`) and the products (if `x` is given), as component pairs.
    /// 2 rounds; see the module docs.
    pub(crate) fn inject(
        &mut self,
        bits: &Pair,
        n: usize,
        x: Option<(&[u64], &[u64])>,
        want_bit: bool,
    ) -> Result<(Option<Pair>, Option<Pair>)> {
        let outs = usize::from(want_bit) + usize::from(x.is_some());
        let bit_of = |v: &[u64], e: usize| (v[e / 64] >> (e % 64)) & 1;
        let role = self.role();
        // u: this party's additive half of [bit..., product...] (parties 1 and 2)
        let (s0, s1) = match role {
            0 => {
                // the masks c_1, w_1 are drawn straight into the message, then replaced by
                // c - c_1 and w - w_1
                let mut msg = pool::take_zeroed(n * (1 + usize::from(x.is_some())));
                let (cm, wm) = msg.split_at_mut(n);
                self.prg_next.fill(cm);
                for (e, r) in cm.iter_mut().enumerate() {
                    let c = bit_of(&bits.0, e) ^ bit_of(&bits.1, e);
                    *r = c.wrapping_sub(*r);
                }
                if let Some((x0, x1)) = x {
                    self.prg_next.fill(wm);
                    for (e, r) in wm.iter_mut().enumerate() {
                        let c = bit_of(&bits.0, e) ^ bit_of(&bits.1, e);
                        let w = x0[e].wrapping_add(x1[e]) & c.wrapping_neg();
                        *r = w.wrapping_sub(*r);
                    }
                }
                self.comm.send(2, msg)?;
                let d0 = self.prg_prev.words(outs * n);
                let d1 = self.prg_next.words(outs * n);
                (d0, d1)
            }
            1 => {
                let c1 = self.prg_prev.words(n);
                let nb = if want_bit { n } else { 0 };
                let mut u = pool::take_zeroed(outs * n);
                // w_1 is drawn straight into the product part of u
                if x.is_some() {
                    self.prg_prev.fill(&mut u[nb..]);
                }
                let d1 = self.prg_prev.words(outs * n);
                let (ub, up) = u.split_at_mut(nb);
                // party 1's components are (x_1, x_2) and (β_1, β_2 = d)
                for (e, (v, c)) in ub.iter_mut().zip(&c1).enumerate() {
                    let mask = bit_of(&bits.1, e).wrapping_neg();
                    *v = (mask & 1).wrapping_add(signed(*c, mask));
                }
                if let Some((x1, x2)) = x {
                    for (e, (v, c)) in up.iter_mut().zip(&c1).enumerate() {
                        let mask = bit_of(&bits.1, e).wrapping_neg();
                        let t = v.wrapping_add(c.wrapping_mul(x2[e]));
                        *v = (x1[e].wrapping_add(x2[e]) & mask).wrapping_add(signed(t, mask));
                    }
                }
                pool::give(c1);
                for (v, d) in u.iter_mut().zip(&d1) {
                    *v = v.wrapping_sub(*d);
                }
                self.comm.send_copy(2, &u)?;
                let mut other = self.comm.recv(2, outs * n)?;
                for (o, a) in other.iter_mut().zip(&u) {
                    *o = o.wrapping_add(*a);
                }
                pool::give(u);
                (d1, other)
            }
            _ => {
                let d0 = self.prg_next.words(outs * n);
                let msg = self.comm.recv(0, n * (1 + usize::from(x.is_some())))?;
                let (c2, w2) = msg.split_at(n);
                let mut u = pool::take(outs * n);
                // party 2's components are (x_2, x_0) and (β_2 = d, β_0)
                if want_bit {
                    for (e, c) in c2.iter().enumerate() {
                        let mask = bit_of(&bits.0, e).wrapping_neg();
                        u.push(signed(*c, mask));
                    }
                }
                if let Some((x2, x0)) = x {
                    for (e, c) in c2.iter().enumerate() {
                        let mask = bit_of(&bits.0, e).wrapping_neg();
                        let t = w2[e].wrapping_add(c.wrapping_mul(x2[e]));
                        u.push((x0[e] & mask).wrapping_add(signed(t, mask)));
                    }
                }
                pool::give(msg);
                for (v, d) in u.iter_mut().zip(&d0) {
                    *v = v.wrapping_sub(*d);
                }
                self.comm.send_copy(1, &u)?;
                let mut other = self.comm.recv(1, outs * n)?;
                for (o, a) in other.iter_mut().zip(&u) {
                    *o = o.wrapping_add(*a);
                }
                pool::give(u);
                (other, d0)
            }
        };
        // [bits..., products...]: split only when both are there (a split moves the tail)
        let split = |v: Vec<u64>| -> (Vec<u64>, Vec<u64>) {
            match (want_bit, x.is_some()) {
                (true, true) => {
                    let mut a = v;
                    let b = a.split_off(n);
                    (a, b)
                }
                (true, false) => (v, Vec::new()),
                _ => (Vec::new(), v),
            }
        };
        let (b0, p0) = split(s0);
        let (b1, p1) = split(s1);
        Ok((
            want_bit.then_some((b0, b1)),
            x.is_some().then_some((p0, p1)),
        ))
    }

    /// Bit injection: bit 0 of every word of `b` as an arithmetic integer 0/1 (scale 0).
    /// 2 rounds; each party sends 64 bits per element.
    pub fn b2a_bit(&mut self, b: &BShare) -> Result<AShare> {
        let n = b.s0.len();
        let bits = (pack_bits(&flat(&b.s0)), pack_bits(&flat(&b.s1)));
        let (bit, _) = self.inject(&bits, n, None, true)?;
        let (s0, s1) = bit.ok_or(CoreError::InvalidShape {
            op: "b2a_bit",
            detail: "internal: no bit output".into(),
        })?;
        AShare::from_components(to_array(b.shape(), s0)?, to_array(b.shape(), s1)?, 0)
    }

    /// `b * x` for a shared bit `b` (bit 0 of each word) and a shared `x` of the same shape; the
    /// result keeps `x`'s scale (exact, no truncation). 2 rounds; party 0 sends 128 bits per
    /// element, parties 1 and 2 send 64.
    pub fn mul_bit(&mut self, b: &BShare, x: &AShare) -> Result<AShare> {
        if b.shape() != x.shape() {
            return Err(CoreError::ShapeMismatch {
                op: "mul_bit",
                left: b.shape().to_vec(),
                right: x.shape().to_vec(),
            });
        }
        let bits = (pack_bits(&flat(&b.s0)), pack_bits(&flat(&b.s1)));
        self.mul_packed_bit(&bits, x)
    }

    /// [`Party::mul_bit`] with the bits already packed.
    pub(crate) fn mul_packed_bit(&mut self, bits: &Pair, x: &AShare) -> Result<AShare> {
        let (x0, x1) = (flat(&x.s0), flat(&x.s1));
        let (_, prod) = self.inject(bits, x.len(), Some((&x0, &x1)), false)?;
        let (s0, s1) = prod.ok_or(CoreError::InvalidShape {
            op: "mul_bit",
            detail: "internal: no product output".into(),
        })?;
        AShare::from_components(
            to_array(x.shape(), s0)?,
            to_array(x.shape(), s1)?,
            x.frac_bits,
        )
    }
}

/// `v` if `mask` is 0, `-v` if `mask` is all ones.
#[inline]
fn signed(v: u64, mask: u64) -> u64 {
    (v ^ mask).wrapping_sub(mask)
}
