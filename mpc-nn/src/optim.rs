//! Optimizers over named parameters (state is kept per parameter name, as in burn).
//!
//! Gradients arrive **summed over the batch**; `grad_scale` (`1 / batch`) is folded into the
//! learning-rate product. All parameters are updated as one flattened vector, so a step costs
//! the rounds of one update whatever the number of parameters: for SGD one truncating scalar
//! product (two with momentum, one more with weight decay: 2, 4 or 6 rounds), for Adam about 45
//! rounds (one `rsqrt`).
//!
//! Adam uses the secure `rsqrt`: `w -= lr_t m rsqrt(v + eps)`, with the bias corrections folded
//! into the public constants `lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t)` and `eps` added *inside*
//! the root (in units of the summed gradient squared), which keeps `v + eps` within `rsqrt`'s
//! secure range `[2^-10, 2^18)` (so `eps` defaults to `2^-10`). `m / sqrt(v)` does not depend on
//! the gradient's scale, so Adam ignores `grad_scale` apart from `eps`. The plaintext twin runs
//! the same formulas.

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
        self.t += 1;
        let lr_t = c.lr * (1.0 - c.beta2.powi(self.t)).sqrt() / (1.0 - c.beta1.powi(self.t));
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
        let r = b.rsqrt(&ve)?;
        let step = b.mul(&m, &r)?;
        let delta = b.scale(&step, lr_t)?;
        let ms = unflatten::<B>(b, &m, &layout)?;
        let vs = unflatten::<B>(b, &v, &layout)?;
        let ds = unflatten::<B>(b, &delta, &layout)?;
        for (((p, m), v), d) in params.iter_mut().zip(ms).zip(vs).zip(ds) {
            p.value = b.sub(&p.value, &d)?;
            self.moments.insert(p.name.clone(), (m, v));
        }
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
