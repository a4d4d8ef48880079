//! Optimizers over named parameters (state is kept per parameter name, as in burn).
//!
//! Gradients arrive **summed over the batch**; `grad_scale` (`1 / batch`) is folded into the
//! learning-rate product. All parameters are updated as one flattened vector, so a step costs
//! the rounds of one update whatever the number of parameters: for SGD one truncating scalar
//! product (two with momentum, one more with weight decay: 2, 4 or 6 rounds), for Adam about 60
//! rounds (one `rsqrt` over twice the parameters, and one comparison).
//!
//! Adam uses the secure `rsqrt`: `w -= lr_t m rsqrt(v + eps)`, with the bias corrections folded
//! into the public constants `lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t)` and `eps` added *inside*
//! the root (in units of the summed gradient squared), which keeps `v + eps` above the lower end
//! `2^-10` of `rsqrt`'s secure range `[2^-10, 2^18)` (so `eps` defaults to `2^-10`). Above
//! `2^17`, `m rsqrt(v + eps)` is computed as `(m 2^-7) rsqrt((v + eps) 2^-14)`, selected by a
//! secure comparison, so `v + eps` may go up to the products' range `2^(62 - 2f)` (`2^30` at 16
//! fractional bits: summed gradients up to about `2^15`, e.g. unstandardised features or large
//! batches); beyond it `g^2` itself overflows, as any product does (see [`crate::guard`]).
//! `m / sqrt(v)` does not depend on the gradient's scale, so Adam ignores `grad_scale` apart
//! from `eps`. The plaintext twin runs the same formulas.
//!
//! Settings are checked at every step ([`SgdConfig::validate`], [`AdamConfig::validate`]): a
//! learning rate that is not positive and finite, or a momentum or beta outside `[0, 1)`, is an
//! [`NnError::Config`] before anything changes.

use crate::backend::Backend;
use crate::error::{NnError, Result};
use crate::module::Param;
use std::collections::HashMap;

/// Updates parameters from their gradients.
pub trait Optimizer<B: Backend> {
    /// One update of every parameter that has a gradient; `grad_scale` multiplies the gradients.
    fn step(
        &mut self,
        b: &mut B,
        params: Vec<&mut Param<B::Tensor>>,
        grad_scale: f64,
    ) -> Result<()>;
    /// The optimizer's state tensors by name (e.g. `fc1.weight.momentum`), for checkpoints.
    fn state(&self) -> Vec<(String, &B::Tensor)>;
    /// Replaces the state with `state` (named as [`Optimizer::state`] names it, e.g. read back
    /// from a checkpoint), as after `steps` updates. A name the optimizer does not keep is an
    /// [`NnError::Params`] error naming it, and the state is unchanged.
    fn load_state(&mut self, state: Vec<(String, B::Tensor)>, steps: u64) -> Result<()>;
    /// The learning rate.
    fn lr(&self) -> f64;
    /// Sets the learning rate of the following steps (e.g. halved after a divergence).
    fn set_lr(&mut self, lr: f64);
}

/// `state` names that end in one of `suffixes`, as (parameter name, suffix index, tensor).
fn parse_state<T>(state: Vec<(String, T)>, suffixes: &[&str]) -> Result<Vec<(String, usize, T)>> {
    state
        .into_iter()
        .map(|(name, t)| {
            suffixes
                .iter()
                .enumerate()
                .find_map(|(i, s)| name.strip_suffix(s).map(|p| (p.to_string(), i)))
                .map(|(p, i)| (p, i, t))
                .ok_or_else(|| {
                    NnError::Params(format!(
                        "optimizer state {name}: expected a name ending in {}",
                        suffixes.join(" or ")
                    ))
                })
        })
        .collect()
}

/// All tensors as one column (`total x 1`), so that an update is one vectorised protocol run
/// (the rounds of one parameter, not of all of them in turn), and their shapes.
fn flatten<B: Backend>(b: &mut B, ts: &[&B::Tensor]) -> Result<(B::Tensor, Vec<Vec<usize>>)> {
    let mut cols = Vec::with_capacity(ts.len());
    let mut shapes = Vec::with_capacity(ts.len());
    for t in ts {
        let shape = B::shape_of(t);
        cols.push(b.reshape(t, &[shape.iter().product(), 1])?);
        shapes.push(shape);
    }
    if cols.is_empty() {
        return Err(NnError::Config("no parameters to update".into()));
    }
    Ok((b.concat(&cols, 0)?, shapes))
}

/// The inverse of [`flatten`].
fn unflatten<B: Backend>(
    b: &mut B,
    flat: &B::Tensor,
    shapes: &[Vec<usize>],
) -> Result<Vec<B::Tensor>> {
    let mut out = Vec::with_capacity(shapes.len());
    let mut at = 0;
    for shape in shapes {
        let n: usize = shape.iter().product();
        let rows: Vec<usize> = (at..at + n).collect();
        let part = b.take_rows(flat, &rows)?;
        out.push(b.reshape(&part, shape)?);
        at += n;
    }
    Ok(out)
}

/// `Ok` if `v` is finite and within `lo..hi` (`lo` included when `lo_inclusive`; `hi` excluded),
/// else an [`NnError::Config`] naming the optimizer's setting.
fn check_setting(
    opt: &str,
    name: &str,
    v: f64,
    (lo, lo_inclusive): (f64, bool),
    hi: f64,
) -> Result<()> {
    let ok = v.is_finite() && (v > lo || (lo_inclusive && v == lo)) && v < hi;
    if !ok {
        let low = if lo_inclusive { "[" } else { "(" };
        return Err(NnError::Config(format!(
            "{opt}: {name} = {v} must be finite and in {low}{lo}, {hi})"
        )));
    }
    Ok(())
}

fn grad_of<T>(p: &Param<T>) -> Result<&T> {
    p.grad
        .as_ref()
        .ok_or_else(|| NnError::Config(format!("{} has no gradient: run backward first", p.name)))
}

/// Settings of [`Sgd`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdConfig {
    /// Learning rate.
    pub lr: f64,
    /// Momentum (0 for plain SGD).
    pub momentum: f64,
    /// L2 weight decay.
    pub weight_decay: f64,
}

impl SgdConfig {
    /// Plain SGD with learning rate `lr`.
    pub fn new(lr: f64) -> SgdConfig {
        SgdConfig {
            lr,
            momentum: 0.0,
            weight_decay: 0.0,
        }
    }

    /// Checks the settings: `lr` positive, `momentum` in `[0, 1)`, `weight_decay` at least 0,
    /// all finite. [`Sgd`]'s `step` checks them too (also after [`Optimizer::set_lr`]), so a
    /// bad setting fails before any parameter changes.
    ///
    /// # Errors
    /// [`NnError::Config`] naming the setting.
    pub fn validate(&self) -> Result<()> {
        check_setting("SGD", "lr", self.lr, (0.0, false), f64::INFINITY)?;
        check_setting("SGD", "momentum", self.momentum, (0.0, true), 1.0)?;
        check_setting(
            "SGD",
            "weight_decay",
            self.weight_decay,
            (0.0, true),
            f64::INFINITY,
        )
    }

    /// The optimizer for engine `B`.
    pub fn build<B: Backend>(self) -> Sgd<B> {
        Sgd {
            cfg: self,
            velocity: HashMap::new(),
        }
    }
}

/// Stochastic gradient descent with momentum and weight decay:
/// `v = mu v + g + wd w`, `w -= lr v` (`v` kept at the summed-gradient scale).
pub struct Sgd<B: Backend> {
    cfg: SgdConfig,
    velocity: HashMap<String, B::Tensor>,
}

impl<B: Backend> Optimizer<B> for Sgd<B> {
    fn step(
        &mut self,
        b: &mut B,
        mut params: Vec<&mut Param<B::Tensor>>,
        grad_scale: f64,
    ) -> Result<()> {
        let c = self.cfg;
        c.validate()?;
        if !(grad_scale.is_finite() && grad_scale > 0.0) {
            return Err(NnError::Config(format!(
                "SGD: grad_scale = {grad_scale} must be positive and finite"
            )));
        }
        let grads: Vec<&B::Tensor> = params.iter().map(|p| grad_of(p)).collect::<Result<_>>()?;
        let (mut g, layout) = flatten::<B>(b, &grads)?;
        if c.weight_decay != 0.0 {
            let values: Vec<&B::Tensor> = params.iter().map(|p| &p.value).collect();
            let (w, _) = flatten::<B>(b, &values)?;
            let wd = b.scale(&w, c.weight_decay / grad_scale)?;
            g = b.add(&g, &wd)?;
        }
        if c.momentum != 0.0 {
            let old: Option<Vec<&B::Tensor>> =
                params.iter().map(|p| self.velocity.get(&p.name)).collect();
            if let Some(old) = old {
                let (v, _) = flatten::<B>(b, &old)?;
                let mv = b.scale(&v, c.momentum)?;
                g = b.add(&mv, &g)?;
            }
            for (p, v) in params.iter().zip(unflatten::<B>(b, &g, &layout)?) {
                self.velocity.insert(p.name.clone(), v);
            }
        }
        let delta = b.scale(&g, c.lr * grad_scale)?;
        for (p, d) in params.iter_mut().zip(unflatten::<B>(b, &delta, &layout)?) {
            p.value = b.sub(&p.value, &d)?;
        }
        Ok(())
    }

    fn state(&self) -> Vec<(String, &B::Tensor)> {
        let mut v: Vec<_> = self
            .velocity
            .iter()
            .map(|(k, t)| (format!("{k}.momentum"), t))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    fn load_state(&mut self, state: Vec<(String, B::Tensor)>, _steps: u64) -> Result<()> {
        let parsed = parse_state(state, &[".momentum"])?;
        self.velocity = parsed.into_iter().map(|(p, _, t)| (p, t)).collect();
        Ok(())
    }

    fn lr(&self) -> f64 {
        self.cfg.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.cfg.lr = lr;
    }
}

/// `v + eps` from which [`m_rsqrt`] switches to its scaled branch.
const RSQRT_SPLIT: f64 = (1u64 << 17) as f64;
/// The scaled branch computes `rsqrt(ve 2^-RSQRT_SHIFT)` and multiplies `m 2^-(RSQRT_SHIFT/2)`.
const RSQRT_SHIFT: u32 = 14;

/// `m / sqrt(ve)` for `ve` (`v + eps`) from `2^-10` up to `2^32`, beyond the secure `rsqrt`'s
/// range `[2^-10, 2^18)`: below `2^17` it is `m rsqrt(ve)`; from `2^17` on (a summed gradient
/// of a few hundred and more, e.g. unstandardised features or large batches) it is
/// `(m 2^-7) rsqrt(ve 2^-14)`, whose root argument lies in `[2^3, 2^18)`. (The products of the
/// fixed-point encoding already end at `2^(62 - 2f)`, `2^30` at 16 bits.) Both branches run
/// as one `rsqrt` and one product over twice the elements; a comparison `[ve >= 2^17]` selects
/// (a mask product, so the unselected branch, garbage out of its range, is multiplied by an
/// exact 0).
fn m_rsqrt<B: Backend>(b: &mut B, m: &B::Tensor, ve: &B::Tensor) -> Result<B::Tensor> {
    let n = B::shape_of(ve).first().copied().unwrap_or(0);
    let ve_hi = b.div_pow2(ve, RSQRT_SHIFT)?;
    // keeps the plaintext twin's root finite where its fixed-point emulation rounds ve_hi to 0
    // (below one ulp on shares: encoded as 0 there)
    let ve_hi = b.add_scalar(&ve_hi, 2f64.powi(-20))?;
    let m_hi = b.div_pow2(m, RSQRT_SHIFT / 2)?;
    let both = b.concat(&[ve.clone(), ve_hi], 0)?;
    let r = b.rsqrt(&both)?;
    let ms = b.concat(&[m.clone(), m_hi], 0)?;
    let steps = b.mul(&ms, &r)?;
    let lo_rows: Vec<usize> = (0..n).collect();
    let hi_rows: Vec<usize> = (n..2 * n).collect();
    let lo = b.take_rows(&steps, &lo_rows)?;
    let hi = b.take_rows(&steps, &hi_rows)?;
    let over = b.add_scalar(ve, -RSQRT_SPLIT)?;
    let bit = b.ge_zero(&over)?;
    let diff = b.sub(&hi, &lo)?;
    let pick = b.mul(&bit, &diff)?;
    b.add(&lo, &pick)
}

/// Settings of [`Adam`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    /// Learning rate.
    pub lr: f64,
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Added inside the square root (summed-gradient units); keeps `rsqrt` in range.
    pub eps: f64,
}

impl AdamConfig {
    /// Adam with learning rate `lr`, betas 0.9 / 0.999 and `eps = 2^-10`.
    pub fn new(lr: f64) -> AdamConfig {
        AdamConfig {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1.0 / 1024.0,
        }
    }

    /// Checks the settings: `lr` positive, `beta1` and `beta2` in `[0, 1)`, `eps` positive, all
    /// finite. [`Adam`]'s `step` checks them too (also after [`Optimizer::set_lr`]), so a bad
    /// setting fails before any parameter or moment changes.
    ///
    /// # Errors
    /// [`NnError::Config`] naming the setting.
    pub fn validate(&self) -> Result<()> {
        check_setting("Adam", "lr", self.lr, (0.0, false), f64::INFINITY)?;
        check_setting("Adam", "beta1", self.beta1, (0.0, true), 1.0)?;
        check_setting("Adam", "beta2", self.beta2, (0.0, true), 1.0)?;
        check_setting("Adam", "eps", self.eps, (0.0, false), f64::INFINITY)
    }

    /// The optimizer for engine `B`.
    pub fn build<B: Backend>(self) -> Adam<B> {
        Adam {
            cfg: self,
            moments: HashMap::new(),
            t: 0,
        }
    }
}

/// Adam (Kingma and Ba) with the secure inverse square root; see the module docs.
pub struct Adam<B: Backend> {
    cfg: AdamConfig,
    moments: HashMap<String, (B::Tensor, B::Tensor)>,
    t: i32,
}

impl<B: Backend> Optimizer<B> for Adam<B> {
    fn step(
        &mut self,
        b: &mut B,
        mut params: Vec<&mut Param<B::Tensor>>,
        _grad_scale: f64,
    ) -> Result<()> {
        let c = self.cfg;
        c.validate()?;
        let t = self
            .t
            .checked_add(1)
            .ok_or_else(|| NnError::Config("Adam: too many steps".into()))?;
        let lr_t = c.lr * (1.0 - c.beta2.powi(t)).sqrt() / (1.0 - c.beta1.powi(t));
        let grads: Vec<&B::Tensor> = params.iter().map(|p| grad_of(p)).collect::<Result<_>>()?;
        let (g, layout) = flatten::<B>(b, &grads)?;
        let g2 = b.mul(&g, &g)?;
        let (g1, g21) = (b.scale(&g, 1.0 - c.beta1)?, b.scale(&g2, 1.0 - c.beta2)?);
        let old: Option<Vec<&(B::Tensor, B::Tensor)>> =
            params.iter().map(|p| self.moments.get(&p.name)).collect();
        let (m, v) = match old {
            Some(old) => {
                let (m, _) = flatten::<B>(b, &old.iter().map(|mv| &mv.0).collect::<Vec<_>>())?;
                let (v, _) = flatten::<B>(b, &old.iter().map(|mv| &mv.1).collect::<Vec<_>>())?;
                let (m1, v1) = (b.scale(&m, c.beta1)?, b.scale(&v, c.beta2)?);
                (b.add(&m1, &g1)?, b.add(&v1, &g21)?)
            }
            None => (g1, g21),
        };
        let ve = b.add_scalar(&v, c.eps)?;
        let step = m_rsqrt(b, &m, &ve)?;
        let delta = b.scale(&step, lr_t)?;
        let ms = unflatten::<B>(b, &m, &layout)?;
        let vs = unflatten::<B>(b, &v, &layout)?;
        let ds = unflatten::<B>(b, &delta, &layout)?;
        let mut updated = Vec::with_capacity(ds.len());
        for (p, d) in params.iter().zip(ds) {
            updated.push(b.sub(&p.value, &d)?);
        }
        for (((p, m), v), w) in params.iter_mut().zip(ms).zip(vs).zip(updated) {
            p.value = w;
            self.moments.insert(p.name.clone(), (m, v));
        }
        self.t = t;
        Ok(())
    }

    fn state(&self) -> Vec<(String, &B::Tensor)> {
        let mut out = Vec::new();
        for (k, (m, v)) in &self.moments {
            out.push((format!("{k}.adam_m"), m));
            out.push((format!("{k}.adam_v"), v));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    fn load_state(&mut self, state: Vec<(String, B::Tensor)>, steps: u64) -> Result<()> {
        let t = i32::try_from(steps)
            .map_err(|_| NnError::Params(format!("Adam: {steps} steps is too many")))?;
        let mut m: HashMap<String, B::Tensor> = HashMap::new();
        let mut v: HashMap<String, B::Tensor> = HashMap::new();
        for (p, i, x) in parse_state(state, &[".adam_m", ".adam_v"])? {
            if i == 0 {
                m.insert(p, x)
            } else {
                v.insert(p, x)
            };
        }
        let mut moments = HashMap::new();
        for (p, mx) in m {
            let vx = v
                .remove(&p)
                .ok_or_else(|| NnError::Params(format!("optimizer state {p}.adam_v is missing")))?;
            moments.insert(p, (mx, vx));
        }
        if let Some(p) = v.keys().next() {
            return Err(NnError::Params(format!(
                "optimizer state {p}.adam_m is missing"
            )));
        }
        self.moments = moments;
        self.t = t;
        Ok(())
    }

    fn lr(&self) -> f64 {
        self.cfg.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.cfg.lr = lr;
    }
}
