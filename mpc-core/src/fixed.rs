//! Fixed-point encoding of reals into the ring Z_2^64.
//!
//! A real `x` is encoded as the two's-complement ring element `round(x * 2^f)`, where `f` is the
//! number of fractional bits (16 by default). Decoding reads the word as a signed 64-bit integer
//! and divides by `2^f`.
//!
//! ## Safe ranges (f = 16 unless stated)
//! | quantity | limit | why |
//! |---|---|---|
//! | encodable value | `|x| < 2^(63-f)` (about 1.4e14 at f = 16) | the signed word must not wrap; larger values are an [`CoreError::OutOfRange`] error |
//! | product before truncation | `|x*y| < 2^(63-2f)` (about 2.1e9 at f = 16) | the product carries `2f` fractional bits in 64 bits |
//! | product, recommended | `|x*y| <= 2^10` | probabilistic truncation then fails with probability below `|x*y| * 2^(2f-64)` = 2^-22 per element; see [`crate::trunc`] |
//! | resolution | `2^-f` (1.5e-5 at f = 16) | encoding rounds to nearest; each truncation adds at most one unit in the last place |
//!
//! The nonlinear functions ([`crate::recip`], [`crate::exp_log`], [`crate::activation`]) are
//! tested at 8, 12, 16, 20 and 24 fractional bits (`mpc-core/tests/scales.rs`): errors of a few
//! ulp of `2^-f`, except at 24 bits where their approximations' own errors (up to `4e-6`, 10 to
//! 60 ulp there) dominate; above 20 bits a party truncates exactly unless told otherwise
//! ([`crate::TruncMode::for_frac_bits`]).

use crate::error::{CoreError, Result};

/// Fixed-point settings of a session: the number of fractional bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FixedPoint {
    frac_bits: u32,
}

impl Default for FixedPoint {
    fn default() -> Self {
        FixedPoint { frac_bits: 16 }
    }
}

impl FixedPoint {
    /// Settings with `frac_bits` fractional bits; 1..=30 is allowed so products (2f bits) fit.
    pub fn new(frac_bits: u32) -> Result<FixedPoint> {
        if !(1..=30).contains(&frac_bits) {
            return Err(CoreError::InvalidFixedPoint(format!(
                "{frac_bits} fractional bits: choose 1 to 30 so that products (2f bits) fit in 64 bits"
            )));
        }
        Ok(FixedPoint { frac_bits })
    }

    /// The number of fractional bits `f`.
    pub fn frac_bits(&self) -> u32 {
        self.frac_bits
    }

    /// The largest magnitude [`FixedPoint::encode`] accepts: `2^(63-f)`, exclusive.
    pub fn max_abs(&self) -> f64 {
        (2f64).powi(63 - self.frac_bits as i32)
    }

    /// Encodes `x` as `round(x * 2^f)` in two's complement; an error if `|x| >= 2^(63-f)` or `x`
    /// is not finite.
    pub fn encode(&self, x: f64) -> Result<u64> {
        encode_with(x, self.frac_bits)
    }

    /// Decodes a ring element with `f` fractional bits.
    pub fn decode(&self, w: u64) -> f64 {
        decode_with(w, self.frac_bits)
    }
}

/// Encodes `x` with `frac_bits` fractional bits (see [`FixedPoint::encode`]).
pub fn encode_with(x: f64, frac_bits: u32) -> Result<u64> {
    let limit = (2f64).powi(63 - frac_bits as i32);
    let scaled = (x * (2f64).powi(frac_bits as i32)).round();
    if !x.is_finite() || scaled.abs() >= 2f64.powi(63) {
        return Err(CoreError::OutOfRange {
            value: x,
            frac_bits,
            limit,
        });
    }
    Ok(scaled as i64 as u64)
}

/// Decodes a ring element with `frac_bits` fractional bits (signed interpretation).
pub fn decode_with(w: u64, frac_bits: u32) -> f64 {
    (w as i64) as f64 / (2f64).powi(frac_bits as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_limits() {
        let fp = FixedPoint::default();
        for x in [0.0, 1.0, -1.0, 0.5, -3.25, 1e-5, 12345.678, -1e10] {
            let w = fp.encode(x).unwrap();
            assert!((fp.decode(w) - x).abs() <= 0.5 / 65536.0 + 1e-12 * x.abs());
        }
        assert_eq!(fp.encode(-1.0).unwrap(), (-65536i64) as u64);
        assert!(matches!(
            fp.encode(fp.max_abs()),
            Err(CoreError::OutOfRange { .. })
        ));
        assert!(fp.encode(fp.max_abs() * 0.99).is_ok());
        assert!(fp.encode(f64::NAN).is_err());
        assert!(fp.encode(f64::INFINITY).is_err());
        assert!(FixedPoint::new(0).is_err());
        assert!(FixedPoint::new(31).is_err());
        assert_eq!(FixedPoint::new(20).unwrap().frac_bits(), 20);
    }
}
