//! Input (secret-sharing a plaintext) and output (revealing a secret).
//!
//! | protocol | rounds | bytes sent |
//! |---|---|---|
//! | `input` by owner `o` | 1 | owner: `16 n` (one ring word per value to each other party); others: 0 |
//! | `reveal` to all | 1 | `8 n` per party |
//! | `reveal_to(t)` | 1 | party `t+1`: `8 n`; others: 0 |
//!
//! **Input.** The owner `o` holds `x`. Components `x_o = F(k_o)` and `x_{o+1} = F(k_{o+1})` come
//! from the keys the owner shares with its neighbours, so they cost nothing; the owner sends
//! `x_{o+2} = x - x_o - x_{o+1}` to both other parties, who each need it. Each non-owner sees one
//! pseudo-random key stream value and `x_{o+2}`, which is masked by the stream it lacks.
//!
//! **Reveal.** Party `i` lacks `x_{i+2}`, which party `i+1` holds as its second component; each
//! party sends its second component to its previous party. **Reveal to one party** `t`: only party
//! `t+1` sends, so the others receive nothing and learn nothing.
//!
//! **Reveal gate.** Every explicit opening here first asks the party's reveal gate, if one is set
//! (see [`crate::party`]): a refused opening returns [`CoreError::RevealRefused`] before any
//! message is sent or received. Without a gate the costs above are unchanged.
//!
//! An outside data owner inputs through one party: it gives its tensor to that party (over its own
//! secure channel), which calls `input` as owner.

use crate::error::{CoreError, Result};
use crate::party::{Party, into_words, to_array};
use crate::share::{AShare, BShare};
use ndarray::ArrayD;

impl Party {
    fn check_owner(
        &self,
        owner: usize,
        has_value: bool,
        shape: &[usize],
        value_shape: Option<&[usize]>,
    ) -> Result<()> {
        if owner >= 3 {
            return Err(CoreError::BadRole(owner));
        }
        let me = self.role();
        if (me == owner) != has_value {
            return Err(CoreError::BadInput {
                owner,
                detail: if me == owner {
                    "the owner must provide its tensor".into()
                } else {
                    format!("party {me} is not the owner and must pass None")
                },
            });
        }
        if let Some(vs) = value_shape
            && vs != shape
        {
            return Err(CoreError::ShapeMismatch {
                op: "input",
                left: vs.to_vec(),
                right: shape.to_vec(),
            });
        }
        Ok(())
    }

    /// The input protocol for either sharing: `split(x, a, b)` is the third component given the
    /// owner's two pseudo-random ones (`x - a - b` arithmetic, `x ^ a ^ b` boolean).
    fn input_components(
        &mut self,
        owner: usize,
        value: Option<&ArrayD<u64>>,
        shape: &[usize],
        split: fn(u64, u64, u64) -> u64,
    ) -> Result<(ArrayD<u64>, ArrayD<u64>)> {
        self.check_owner(owner, value.is_some(), shape, value.map(|v| v.shape()))?;
        let n: usize = shape.iter().product();
        let me = self.role();
        let (s0, s1) = if me == owner {
            let a = self.prg_prev.words(n); // x_o
            let b = self.prg_next.words(n); // x_{o+1}
            let c: Vec<u64> = match value {
                Some(x) => x
                    .iter()
                    .zip(&a)
                    .zip(&b)
                    .map(|((x, a), b)| split(*x, *a, *b))
                    .collect(),
                None => Vec::new(),
            };
            let (next, prev) = (self.comm.next(), self.comm.prev());
            self.comm.send_copy(next, &c)?;
            self.comm.send(prev, c)?;
            (a, b)
        } else if me == (owner + 1) % 3 {
            let own = self.prg_prev.words(n); // x_{o+1}
            (own, self.comm.recv(owner, n)?) // x_{o+2}
        } else {
            let own = self.prg_next.words(n); // x_o
            (self.comm.recv(owner, n)?, own) // x_{o+2}
        };
        Ok((to_array(shape, s0)?, to_array(shape, s1)?))
    }

    /// Secret-shares ring words owned by party `owner`. The owner passes `Some(x)`, the others
    /// `None`; all pass the public `shape` and the scale `frac_bits` of the words.
    pub fn input(
        &mut self,
        owner: usize,
        value: Option<&ArrayD<u64>>,
        shape: &[usize],
        frac_bits: u32,
    ) -> Result<AShare> {
        let split = |x: u64, a: u64, b: u64| x.wrapping_sub(a).wrapping_sub(b);
        let (s0, s1) = self.input_components(owner, value, shape, split)?;
        Ok(AShare { s0, s1, frac_bits })
    }

    /// Encodes `value` with the session's fixed-point settings and secret-shares it
    /// (see [`Party::input`]). Values outside the encodable range are an error at the owner.
    pub fn input_f64(
        &mut self,
        owner: usize,
        value: Option<&ArrayD<f64>>,
        shape: &[usize],
    ) -> Result<AShare> {
        let f = self.fixed.frac_bits();
        let encoded = match value {
            Some(v) => {
                let mut out = Vec::with_capacity(v.len());
                for &x in v.iter() {
                    out.push(self.fixed.encode(x)?);
                }
                Some(to_array(v.shape(), out)?)
            }
            None => None,
        };
        self.input(owner, encoded.as_ref(), shape, f)
    }

    /// Reveals a secret to all three parties: ring words. Asks the reveal gate first.
    pub fn reveal(&mut self, x: &AShare) -> Result<ArrayD<u64>> {
        self.check_reveal(None, x.shape())?;
        let (next, prev) = (self.comm.next(), self.comm.prev());
        self.comm.send(prev, into_words(x.s1.clone()))?;
        let missing = self.comm.recv(next, x.len())?;
        let mut out = x.s0.clone();
        for ((o, b), c) in out.iter_mut().zip(x.s1.iter()).zip(missing) {
            *o = o.wrapping_add(*b).wrapping_add(c);
        }
        Ok(out)
    }

    /// Reveals a secret to all parties and decodes it with its scale.
    pub fn reveal_f64(&mut self, x: &AShare) -> Result<ArrayD<f64>> {
        let f = x.frac_bits;
        Ok(self.reveal(x)?.mapv(|w| crate::fixed::decode_with(w, f)))
    }

    /// Reveals a secret to party `target` only: it gets `Some(words)`, the others `None` (and
    /// receive nothing). Asks the reveal gate first, at every party.
    pub fn reveal_to(&mut self, target: usize, x: &AShare) -> Result<Option<ArrayD<u64>>> {
        if target >= 3 {
            return Err(CoreError::BadRole(target));
        }
        self.check_reveal(Some(target), x.shape())?;
        let me = self.role();
        if me == (target + 1) % 3 {
            self.comm.send(target, into_words(x.s1.clone()))?;
            Ok(None)
        } else if me == target {
            let missing = self.comm.recv((target + 1) % 3, x.len())?;
            let mut out = x.s0.clone();
            for ((o, b), c) in out.iter_mut().zip(x.s1.iter()).zip(missing) {
                *o = o.wrapping_add(*b).wrapping_add(c);
            }
            Ok(Some(out))
        } else {
            Ok(None)
        }
    }

    /// [`Party::reveal_to`] and decode.
    pub fn reveal_to_f64(&mut self, target: usize, x: &AShare) -> Result<Option<ArrayD<f64>>> {
        let f = x.frac_bits;
        Ok(self
            .reveal_to(target, x)?
            .map(|w| w.mapv(|v| crate::fixed::decode_with(v, f))))
    }

    /// Secret-shares words with XOR (boolean sharing), owned by `owner`; same costs as `input`.
    pub fn input_bool(
        &mut self,
        owner: usize,
        value: Option<&ArrayD<u64>>,
        shape: &[usize],
    ) -> Result<BShare> {
        let (s0, s1) = self.input_components(owner, value, shape, |x, a, b| x ^ a ^ b)?;
        Ok(BShare { s0, s1 })
    }

    /// Reveals a boolean-shared tensor of words to all parties.
    pub fn reveal_bool(&mut self, x: &BShare) -> Result<ArrayD<u64>> {
        self.check_reveal(None, x.shape())?;
        let (next, prev) = (self.comm.next(), self.comm.prev());
        self.comm.send(prev, into_words(x.s1.clone()))?;
        let n = x.s0.len();
        let missing = self.comm.recv(next, n)?;
        let mut out = x.s0.clone();
        for ((o, b), c) in out.iter_mut().zip(x.s1.iter()).zip(missing) {
            *o ^= *b ^ c;
        }
        Ok(out)
    }
}
