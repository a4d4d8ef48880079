//! The secure engine: [`Backend`] on replicated secret shares, implemented by
//! [`mpc_core::Party`] itself, so a layer's `forward(&mut party, &share)` is the protocol.
//!
//! Each operation maps to one `mpc-core` protocol (costs in its module docs): products and
//! matmuls reshare with the party's truncation mode (exact by default in training, see
//! [`secure_session`]), ReLU and masks are comparisons, the functions are `mpc-core`'s
//! approximations. Masks are integer shares (scale 0): multiplying by one is a 1-round product
//! with no truncation. Public constants enter component 0 only (parties 0 and 2), as
//! [`AShare::add_public_ring`] does: party 1's pair of a public tensor is zero, which reveals
//! nothing since the tensor is public.

use crate::backend::Backend;
use crate::error::{NnError, Result};
use mpc_core::{AShare, Party, TruncMode};
use ndarray::ArrayD;

/// Prepares a party for training: exact truncation ([`TruncMode::Exact`]), so that no product
/// of a long run can fail by wrap-around. Call it in all three parties at the same point.
pub fn secure_session(p: &mut Party) {
    p.set_trunc_mode(TruncMode::Exact);
}

fn keep_axis(shape: &[usize], axis: usize) -> Vec<usize> {
    let mut s = shape.to_vec();
    if axis < s.len() {
        s[axis] = 1;
    }
    s
}

impl Backend for Party {
    type Tensor = AShare;

    fn resolution(&self) -> f64 {
        2f64.powi(-(self.fixed_point().frac_bits() as i32))
    }

    fn engine(&self) -> &'static str {
        match self.trunc_mode() {
            TruncMode::Exact => "secure (exact truncation)",
            TruncMode::Probabilistic => "secure (probabilistic truncation)",
        }
    }

    fn shape_of(t: &AShare) -> Vec<usize> {
        t.shape().to_vec()
    }

    fn constant(&mut self, v: &ArrayD<f64>) -> Result<AShare> {
        let f = self.fixed_point();
        let mut enc = Vec::with_capacity(v.len());
        for &x in v.iter() {
            enc.push(f.encode(x)?);
        }
        let c = ArrayD::from_shape_vec(v.raw_dim(), enc)
            .map_err(|e| NnError::shape("constant", e.to_string()))?;
        let zero = ArrayD::zeros(v.raw_dim());
        let z = AShare::from_components(zero.clone(), zero, f.frac_bits())?;
        Ok(z.add_public_ring(self.role(), &c)?)
    }

    fn add(&mut self, a: &AShare, b: &AShare) -> Result<AShare> {
        Ok(a.add(b)?)
    }

    fn sub(&mut self, a: &AShare, b: &AShare) -> Result<AShare> {
        Ok(a.sub(b)?)
    }

    fn add_broadcast(&mut self, a: &AShare, b: &AShare) -> Result<AShare> {
        Ok(a.add(&b.broadcast_to(a.shape())?)?)
    }

    fn mul(&mut self, a: &AShare, b: &AShare) -> Result<AShare> {
        Ok(Party::mul(self, a, b)?)
    }

    fn matmul(&mut self, a: &AShare, b: &AShare) -> Result<AShare> {
        Ok(Party::matmul(self, a, b)?)
    }

    fn matmul_map(
        &mut self,
        a: &AShare,
        b: &AShare,
        _plain: &dyn Fn(&ArrayD<f64>) -> Result<ArrayD<f64>>,
        ring: &dyn Fn(&ArrayD<u64>) -> Result<ArrayD<u64>>,
    ) -> Result<AShare> {
        let product = self.matmul_local(a, b)?.map(ring)?;
        Ok(self.finish_local(product)?)
    }

    fn scale(&mut self, a: &AShare, c: f64) -> Result<AShare> {
        Ok(self.mul_scalar(a, c)?)
    }

    fn add_scalar(&mut self, a: &AShare, c: f64) -> Result<AShare> {
        Ok(Party::add_scalar(self, a, c)?)
    }

    fn sum_axis(&mut self, a: &AShare, axis: usize) -> Result<AShare> {
        let kept = keep_axis(a.shape(), axis);
        Ok(a.sum_axis(axis)?.reshape(&kept)?)
    }

    fn reshape(&mut self, a: &AShare, shape: &[usize]) -> Result<AShare> {
        Ok(a.reshape(shape)?)
    }

    fn permute(&mut self, a: &AShare, axes: &[usize]) -> Result<AShare> {
        Ok(a.permute(axes)?)
    }

    fn take_rows(&mut self, a: &AShare, rows: &[usize]) -> Result<AShare> {
        let (s0, s1) = a.components();
        Ok(AShare::from_components(
            crate::window::take_rows(s0, rows)?,
            crate::window::take_rows(s1, rows)?,
            a.frac_bits(),
        )?)
    }

    fn concat(&mut self, parts: &[AShare], axis: usize) -> Result<AShare> {
        Ok(AShare::concat(axis, &parts.iter().collect::<Vec<_>>())?)
    }

    fn relu(&mut self, a: &AShare, with_mask: bool) -> Result<(AShare, Option<AShare>)> {
        if with_mask {
            let (y, m) = self.relu_with_drelu(a)?;
            Ok((y, Some(m)))
        } else {
            Ok((Party::relu(self, a)?, None))
        }
    }

    fn ge_zero(&mut self, a: &AShare) -> Result<AShare> {
        Ok(self.drelu(a)?)
    }

    fn lift(&mut self, mask: &AShare) -> Result<AShare> {
        let f = self.fixed_point().frac_bits();
        if mask.frac_bits() == f {
            return Ok(mask.clone());
        }
        Ok(mask.mul_scalar_int(1i64 << f).with_frac_bits(f))
    }

    fn sigmoid(&mut self, a: &AShare) -> Result<AShare> {
        Ok(Party::sigmoid(self, a)?)
    }

    fn tanh(&mut self, a: &AShare) -> Result<AShare> {
        Ok(Party::tanh(self, a)?)
    }

    fn softmax(&mut self, a: &AShare, axis: usize) -> Result<AShare> {
        Ok(Party::softmax(self, a, axis)?)
    }

    fn ln(&mut self, a: &AShare) -> Result<AShare> {
        Ok(Party::ln(self, a)?)
    }

    fn exp(&mut self, a: &AShare) -> Result<AShare> {
        Ok(Party::exp(self, a)?)
    }

    fn rsqrt(&mut self, a: &AShare) -> Result<AShare> {
        Ok(Party::rsqrt(self, a)?)
    }

    fn reciprocal(&mut self, a: &AShare) -> Result<AShare> {
        let f = self.fixed_point().frac_bits() as i32;
        let max = mpc_core::recip::RECIP_MAX_EXP;
        Ok(self.reciprocal_positive_range(a, -f, max)?)
    }

    fn div_pow2(&mut self, a: &AShare, bits: u32) -> Result<AShare> {
        if bits == 0 {
            return Ok(a.clone()); // mpc-core refuses a truncation by 0 bits
        }
        let f = a.frac_bits();
        Ok(self.trunc(&a.clone().with_frac_bits(f + bits), bits)?)
    }

    fn max_axis(&mut self, a: &AShare, axis: usize) -> Result<AShare> {
        let kept = keep_axis(a.shape(), axis);
        Ok(Party::max_axis(self, a, axis)?.reshape(&kept)?)
    }

    fn argmax(&mut self, a: &AShare, axis: usize) -> Result<AShare> {
        Ok(self.argmax_axis(a, axis)?)
    }

    fn maxpool2d(&mut self, x: &AShare, k: usize, stride: usize) -> Result<(AShare, AShare)> {
        Ok(Party::maxpool2d(self, x, k, stride)?)
    }

    fn maxpool2d_backward(
        &mut self,
        grad: &AShare,
        mask: &AShare,
        input_shape: &[usize],
        k: usize,
        stride: usize,
    ) -> Result<AShare> {
        Ok(Party::maxpool2d_backward(
            self,
            grad,
            mask,
            input_shape,
            k,
            stride,
        )?)
    }

    fn layout(
        &mut self,
        a: &AShare,
        _plain: &dyn Fn(&ArrayD<f64>) -> Result<ArrayD<f64>>,
        ring: &dyn Fn(&ArrayD<u64>) -> Result<ArrayD<u64>>,
    ) -> Result<AShare> {
        let (s0, s1) = a.components();
        Ok(AShare::from_components(
            ring(s0)?,
            ring(s1)?,
            a.frac_bits(),
        )?)
    }

    fn reveal(&mut self, a: &AShare) -> Result<ArrayD<f64>> {
        Ok(self.reveal_f64(a)?)
    }

    fn reveal_to(&mut self, to: usize, a: &AShare) -> Result<Option<ArrayD<f64>>> {
        Ok(self.reveal_to_f64(to, a)?)
    }

    fn cost(&self) -> (u64, u64) {
        let s = self.stats();
        (s.bytes_sent, s.rounds)
    }
}
