//! The training steps of a train job: mini-batches in the public order, checkpoints, and the
//! overflow guard (`[guard]` in the job file) with rollback.
//!
//! Step `g` (counted over all epochs from 0) trains on batch `g mod s` of epoch `g / s`
//! (`s` batches per epoch, [`mpc_nn::data::batch_indices`] from the public seed), so a run
//! can start at any step: the step number is the data position.
//!
//! **The guard.** Every `guard.every_steps` steps, and before every checkpoint, one
//! [`any_out_of_range`] over the step's activations and gradients (every layer's output and
//! the gradient flowing into it), the parameters with their gradients and the optimizer state
//! opens one bit to every party: "some value has `|v| >= guard.bound`". If set, the parties
//! restore the state of the last checkpoint (kept in memory, identical to the file; without
//! `[checkpoint]`, a snapshot taken at the end of every epoch), halve the learning rate,
//! delete later checkpoint files and rewrite that one with the new rate (so that a crash
//! brings back neither) and go on from there. If the run fails again before the next
//! checkpoint, that checkpoint was already on its way out: the next rollback goes one further
//! back (the guard keeps the starting state and the last three). After `guard.max_rollbacks` rollbacks the job fails with
//! [`Error::Diverged`]. What the bit reveals: that training left the range at that step,
//! which the consortium agreed to learn by enabling the guard.

use super::checkpoint::Checkpoints;
use crate::error::{Error, Result};
use crate::job::Job;
use mpc_core::{AShare, Party};
use mpc_nn::data::batch_indices;
use mpc_nn::guard::any_out_of_range;
use mpc_nn::loss::Loss;
use mpc_nn::optim::Optimizer;
use mpc_nn::share::Standardizer;
use mpc_nn::train::train_step;
use mpc_nn::{Backend, Module, Sequential};
use std::sync::atomic::{AtomicU64, Ordering};

/// What the steps did.
pub(super) struct StepsDone {
    /// Rollbacks by the overflow guard.
    pub(super) rollbacks: usize,
    /// The learning rate at the end.
    pub(super) lr: f64,
    /// Checkpoints written.
    pub(super) checkpoints: usize,
}

/// The state the guard rolls back to.
struct Snapshot {
    step: u64,
    params: Vec<(String, AShare)>,
    optimizer: Vec<(String, AShare)>,
}

impl Snapshot {
    fn take(step: u64, model: &Sequential<Party>, opt: &dyn Optimizer<Party>) -> Snapshot {
        Snapshot {
            step,
            params: model
                .params()
                .iter()
                .map(|q| (q.name.clone(), q.value.clone()))
                .collect(),
            optimizer: opt
                .state()
                .into_iter()
                .map(|(n, t)| (n, t.clone()))
                .collect(),
        }
    }

    fn restore(&self, model: &mut Sequential<Party>, opt: &mut dyn Optimizer<Party>) -> Result<()> {
        for (name, v) in &self.params {
            model.set_param(name, v.clone())?;
        }
        opt.load_state(self.optimizer.clone(), self.step)?;
        Ok(())
    }
}

/// Whether some activation, gradient, parameter or optimizer state of the last step is out
/// of range.
fn out_of_range(
    p: &mut Party,
    model: &Sequential<Party>,
    opt: &dyn Optimizer<Party>,
    bound: f64,
) -> Result<bool> {
    let params = model.params();
    let mut ts: Vec<&AShare> = opt.state().into_iter().map(|(_, t)| t).collect();
    for q in &params {
        ts.push(&q.value);
        ts.extend(q.grad.as_ref());
    }
    if let Some((acts, grads)) = model.trace() {
        ts.extend(acts);
        ts.extend(grads);
    }
    p.set_reveal_label("guard");
    Ok(any_out_of_range(p, &ts, bound)?)
}

/// Runs the job's steps from `start` to the end of the last epoch.
#[allow(clippy::too_many_arguments)]
pub(super) fn run(
    p: &mut Party,
    job: &Job,
    model: &mut Sequential<Party>,
    loss: &dyn Loss<Party>,
    opt: &mut dyn Optimizer<Party>,
    (x, y): (&AShare, &AShare),
    st: Option<&Standardizer<AShare>>,
    start: u64,
    ckpt: Option<&Checkpoints>,
    step: &AtomicU64,
    progress: &mut dyn FnMut(&str),
) -> Result<StepsDone> {
    let t = job.train_spec();
    let n = x.shape().first().copied().unwrap_or(0);
    let per_epoch = n.div_ceil(t.batch_size.max(1)) as u64;
    let total = per_epoch * t.epochs as u64;
    if per_epoch == 0 {
        return Err(Error::Data("no training rows".into()));
    }
    if start > total {
        return Err(Error::Checkpoint {
            path: ckpt.map(|c| c.dir().to_path_buf()).unwrap_or_default(),
            detail: format!("step {start} is past the job's {total} steps"),
        });
    }
    let guard = job.guard.as_ref();
    let snap_every = ckpt.map_or(per_epoch, |c| c.every);
    model.keep_trace(guard.is_some());
    // the guard's rollback targets: the starting state, then the latest (at most 3) snapshots
    let mut snaps: Vec<Snapshot> = guard
        .map(|_| vec![Snapshot::take(start, model, &*opt)])
        .unwrap_or_default();
    // whether the last rollback went to the newest snapshot and no new one was taken since:
    // a second failure then means that snapshot is already on its way out, so go further back
    let mut retried_newest = false;
    let mut done = StepsDone {
        rollbacks: 0,
        lr: opt.lr(),
        checkpoints: 0,
    };
    let mut g = start;
    let mut batches: (u64, Vec<Vec<usize>>) = (u64::MAX, Vec::new());
    while g < total {
        let epoch = g / per_epoch;
        if batches.0 != epoch {
            batches = (epoch, batch_indices(n, t.batch_size, t.seed, epoch, false)?);
        }
        let rows = batches
            .1
            .get((g % per_epoch) as usize)
            .ok_or_else(|| Error::Data(format!("no batch {g} in epoch {epoch}")))?;
        let xb = p.take_rows(x, rows)?;
        let yb = p.take_rows(y, rows)?;
        train_step(p, model, loss, opt, &xb, &yb)?;
        g += 1;
        step.store(g, Ordering::SeqCst);
        let snapshot_due = g.is_multiple_of(snap_every) || g == total;
        if let Some(gd) = guard
            && (g.is_multiple_of(gd.every_steps as u64) || snapshot_due)
            && out_of_range(p, model, &*opt, gd.bound)?
        {
            done.rollbacks += 1;
            let (old, new) = (opt.lr(), opt.lr() / 2.0);
            if done.rollbacks > gd.max_rollbacks {
                return Err(Error::Diverged(format!(
                    "a value reached |v| >= {} at step {g} after {} rollbacks (lr now {old}); \
                     lower train.lr or standardise the data",
                    gd.bound, gd.max_rollbacks
                )));
            }
            if retried_newest && snaps.len() > 1 {
                snaps.pop();
            }
            retried_newest = true;
            let Some(s) = snaps.last() else {
                return Err(Error::Diverged("no state to roll back to".into()));
            };
            s.restore(model, opt)?;
            opt.set_lr(new);
            if let Some(c) = ckpt {
                // a crash now must not bring back a later checkpoint or the old rate
                c.discard_after(s.step)?;
                if s.step > 0 {
                    c.save(model, &*opt, st, s.step, new, &p.rng_state())?;
                }
            }
            progress(&format!(
                "GUARD step {g}: a value left |v| < {}; rolled back to step {}, lr {old} -> {new}",
                gd.bound, s.step
            ));
            g = s.step;
            step.store(g, Ordering::SeqCst);
            done.lr = new;
            continue;
        }
        if snapshot_due {
            if let Some(c) = ckpt {
                let path = c.save(model, &*opt, st, g, opt.lr(), &p.rng_state())?;
                done.checkpoints += 1;
                progress(&format!(
                    "CHECKPOINT step {g} written to {}",
                    path.display()
                ));
            }
            if guard.is_some() {
                snaps.push(Snapshot::take(g, model, &*opt));
                if snaps.len() > 4 {
                    snaps.remove(1);
                }
                retried_newest = false;
            }
        }
        if g.is_multiple_of(per_epoch) {
            progress(&format!("EPOCH {}/{} done", g / per_epoch, t.epochs));
        }
    }
    model.keep_trace(false);
    model.set_training(false);
    done.lr = opt.lr();
    Ok(done)
}
