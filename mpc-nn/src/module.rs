//! The [`Module`] trait, named parameters, and [`Sequential`] with per-layer cost and activation
//! traces.

use crate::backend::Backend;
use crate::error::{NnError, Result};
use std::time::{Duration, Instant};

/// A named parameter and its gradient from the last backward pass.
#[derive(Debug, Clone)]
pub struct Param<T> {
    /// Full name, e.g. `fc1.weight`.
    pub name: String,
    /// The value (on shares: this party's share).
    pub value: T,
    /// The gradient of the loss summed over the batch, set by `backward`.
    pub grad: Option<T>,
}

impl<T> Param<T> {
    /// A parameter without a gradient yet.
    pub fn new(name: impl Into<String>, value: T) -> Param<T> {
        Param {
            name: name.into(),
            value,
            grad: None,
        }
    }
}

/// A layer (or a stack of layers) with a forward and a backward pass on engine `B`.
///
/// `forward` in training mode keeps what `backward` needs; `backward` takes the gradient of the
/// loss with respect to the output, stores the parameters' gradients and returns the gradient
/// with respect to the input.
pub trait Module<B: Backend>: Send {
    /// The output for input `x`.
    fn forward(&mut self, b: &mut B, x: &B::Tensor) -> Result<B::Tensor>;
    /// The input gradient for output gradient `grad` (after a training-mode forward).
    fn backward(&mut self, b: &mut B, grad: &B::Tensor) -> Result<B::Tensor>;
    /// Like [`Module::backward`] when the input gradient is not needed (the first layer):
    /// layers with parameters skip computing it.
    fn backward_params(&mut self, b: &mut B, grad: &B::Tensor) -> Result<()> {
        self.backward(b, grad).map(drop)
    }
    /// The layer's parameters.
    fn params(&self) -> Vec<&Param<B::Tensor>> {
        Vec::new()
    }
    /// The layer's parameters, mutably (optimizers update them).
    fn params_mut(&mut self) -> Vec<&mut Param<B::Tensor>> {
        Vec::new()
    }
    /// Switches between training (keep activations for backward) and evaluation.
    fn set_training(&mut self, _on: bool) {}
    /// A short description, e.g. `Linear(30 -> 1)`.
    fn describe(&self) -> String;
}

/// What one layer of a [`Sequential`] cost in its last forward and backward pass (this party).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LayerCost {
    /// The layer's name.
    pub name: String,
    /// Its description.
    pub kind: String,
    /// Bytes this party sent in forward.
    pub forward_bytes: u64,
    /// Rounds of forward.
    pub forward_rounds: u64,
    /// Wall time of forward.
    pub forward_time: Duration,
    /// Bytes this party sent in backward.
    pub backward_bytes: u64,
    /// Rounds of backward.
    pub backward_rounds: u64,
    /// Wall time of backward.
    pub backward_time: Duration,
}

/// Renders per-layer costs as a table (bytes and rounds this party sent, milliseconds).
pub fn format_costs(costs: &[LayerCost]) -> String {
    let mut s = String::from(
        "| layer | forward bytes | forward rounds | forward ms | backward bytes | backward rounds | backward ms |\n|---|---|---|---|---|---|---|\n",
    );
    for c in costs {
        s.push_str(&format!(
            "| {}: {} | {} | {} | {:.1} | {} | {} | {:.1} |\n",
            c.name,
            c.kind,
            c.forward_bytes,
            c.forward_rounds,
            c.forward_time.as_secs_f64() * 1e3,
            c.backward_bytes,
            c.backward_rounds,
            c.backward_time.as_secs_f64() * 1e3
        ));
    }
    s
}

/// Traced layer outputs and output gradients, in layer order.
type Trace<T> = (Vec<T>, Vec<T>);

/// A view of a [`Sequential`]'s trace: the outputs and the output gradients, in layer order.
pub type TraceView<'a, T> = (&'a [T], &'a [T]);

/// Layers applied in order, each with a name that prefixes its parameters' names.
pub struct Sequential<B: Backend> {
    layers: Vec<(String, Box<dyn Module<B>>)>,
    costs: Vec<LayerCost>,
    trace: Option<Trace<B::Tensor>>,
}

impl<B: Backend> Default for Sequential<B> {
    fn default() -> Self {
        Sequential {
            layers: Vec::new(),
            costs: Vec::new(),
            trace: None,
        }
    }
}

impl<B: Backend> std::fmt::Debug for Sequential<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut l = f.debug_list();
        for (name, m) in &self.layers {
            l.entry(&format!("{name}: {}", m.describe()));
        }
        l.finish()
    }
}

/// Timing and counters around one layer call.
fn measured<B: Backend, T>(
    b: &mut B,
    f: impl FnOnce(&mut B) -> Result<T>,
) -> Result<(T, u64, u64, Duration)> {
    let (bytes0, rounds0) = b.cost();
    let t0 = Instant::now();
    let out = f(b)?;
    let (bytes1, rounds1) = b.cost();
    Ok((out, bytes1 - bytes0, rounds1 - rounds0, t0.elapsed()))
}

impl<B: Backend> Sequential<B> {
    /// An empty stack.
    pub fn new() -> Sequential<B> {
        Sequential::default()
    }

    /// Appends `layer` under `name` (its parameters become `name.weight`, ...).
    pub fn push(&mut self, name: &str, mut layer: impl Module<B> + 'static) -> &mut Self {
        for p in layer.params_mut() {
            p.name = format!("{name}.{}", p.name);
        }
        self.costs.push(LayerCost {
            name: name.to_string(),
            kind: layer.describe(),
            ..LayerCost::default()
        });
        self.layers.push((name.to_string(), Box::new(layer)));
        self
    }

    /// Builder form of [`Sequential::push`].
    pub fn add(mut self, name: &str, layer: impl Module<B> + 'static) -> Self {
        self.push(name, layer);
        self
    }

    /// The layers' names and descriptions.
    pub fn layers(&self) -> Vec<(String, String)> {
        self.layers
            .iter()
            .map(|(n, m)| (n.clone(), m.describe()))
            .collect()
    }

    /// The per-layer costs of the last forward and backward pass.
    pub fn costs(&self) -> &[LayerCost] {
        &self.costs
    }

    /// Keeps every layer's output and input gradient of the following passes (for a
    /// [divergence report](crate::train::divergence_report)); `false` drops them.
    pub fn keep_trace(&mut self, on: bool) {
        self.trace = on.then(|| (Vec::new(), Vec::new()));
    }

    /// The traced outputs of each layer (last forward) and the gradients flowing into each
    /// layer's output (last backward, in layer order).
    pub fn trace(&self) -> Option<TraceView<'_, B::Tensor>> {
        self.trace
            .as_ref()
            .map(|(a, g)| (a.as_slice(), g.as_slice()))
    }

    /// Looks a parameter up by full name.
    pub fn param(&self, name: &str) -> Option<&Param<B::Tensor>> {
        self.params().into_iter().find(|p| p.name == name)
    }

    /// Replaces a parameter's value (same shape), e.g. when loading a model.
    pub fn set_param(&mut self, name: &str, value: B::Tensor) -> Result<()> {
        let p = self
            .params_mut()
            .into_iter()
            .find(|p| p.name == name)
            .ok_or_else(|| NnError::Params(format!("the model has no parameter {name}")))?;
        let (have, got) = (B::shape_of(&p.value), B::shape_of(&value));
        if have != got {
            return Err(NnError::Params(format!(
                "{name}: shape {got:?}, the model expects {have:?}"
            )));
        }
        p.value = value;
        Ok(())
    }
}

impl<B: Backend> Sequential<B> {
    /// Backward through every layer, last first; the first layer computes its input gradient
    /// only if `input_grad`.
    fn run_backward(
        &mut self,
        b: &mut B,
        grad: &B::Tensor,
        input_grad: bool,
    ) -> Result<Option<B::Tensor>> {
        let mut g = Some(grad.clone());
        let mut grads = Vec::new();
        for (i, (_, layer)) in self.layers.iter_mut().enumerate().rev() {
            let Some(gi) = g.take() else { break };
            if self.trace.is_some() {
                grads.push(gi.clone());
            }
            let (out, bytes, rounds, time) = measured(b, |b| {
                if i == 0 && !input_grad {
                    layer.backward_params(b, &gi).map(|()| None)
                } else {
                    layer.backward(b, &gi).map(Some)
                }
            })?;
            let c = &mut self.costs[i];
            (c.backward_bytes, c.backward_rounds, c.backward_time) = (bytes, rounds, time);
            g = out;
        }
        if let Some((_, gs)) = &mut self.trace {
            grads.reverse();
            *gs = grads;
        }
        Ok(if self.layers.is_empty() {
            Some(grad.clone())
        } else {
            g
        })
    }
}

impl<B: Backend> Module<B> for Sequential<B> {
    fn forward(&mut self, b: &mut B, x: &B::Tensor) -> Result<B::Tensor> {
        let mut h = x.clone();
        if let Some((acts, _)) = &mut self.trace {
            acts.clear();
        }
        for (i, (_, layer)) in self.layers.iter_mut().enumerate() {
            let (out, bytes, rounds, time) = measured(b, |b| layer.forward(b, &h))?;
            let c = &mut self.costs[i];
            (c.forward_bytes, c.forward_rounds, c.forward_time) = (bytes, rounds, time);
            if let Some((acts, _)) = &mut self.trace {
                acts.push(out.clone());
            }
            h = out;
        }
        Ok(h)
    }

    fn backward(&mut self, b: &mut B, grad: &B::Tensor) -> Result<B::Tensor> {
        self.run_backward(b, grad, true)?
            .ok_or_else(|| NnError::shape("Sequential", "backward through an empty stack"))
    }

    fn backward_params(&mut self, b: &mut B, grad: &B::Tensor) -> Result<()> {
        self.run_backward(b, grad, false).map(drop)
    }

    fn params(&self) -> Vec<&Param<B::Tensor>> {
        self.layers.iter().flat_map(|(_, l)| l.params()).collect()
    }

    fn params_mut(&mut self) -> Vec<&mut Param<B::Tensor>> {
        self.layers
            .iter_mut()
            .flat_map(|(_, l)| l.params_mut())
            .collect()
    }

    fn set_training(&mut self, on: bool) {
        for (_, l) in &mut self.layers {
            l.set_training(on);
        }
    }

    fn describe(&self) -> String {
        let parts: Vec<String> = self
            .layers
            .iter()
            .map(|(n, l)| format!("{n}: {}", l.describe()))
            .collect();
        format!("Sequential[{}]", parts.join(", "))
    }
}
