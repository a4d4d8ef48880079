//! The reveal policy of a job: what may be opened, and to whom, and the signed audit log of
//! every opening.
//!
//! A job's openings have five kinds, the labels the job runner gives them:
//!
//! | label | what is opened | to |
//! |---|---|---|
//! | `metrics` | test accuracy and mean loss (train), accuracy on labelled queries (infer) | all |
//! | `model` | the trained parameters and the standardiser | `output.model_to` |
//! | `predictions` | the predicted classes | `infer.predictions_to` |
//! | `guard` | the overflow guard's one bit per check | all |
//! | `standardise` | the standardiser's self-check: one bit, "some column came out wrong" (`mpc_nn::share::Standardizer`) | all |
//!
//! The job file's `[reveal]` section lists the allowed openings, e.g.
//! `allow = ["metrics to all", "model to 0"]`; without `allow`, the policy is exactly the
//! openings the job's other keys ask for (the table above). Loading a job checks that its keys
//! ask for nothing its policy does not allow, and every party installs the policy as its
//! [reveal gate](mpc_core::Party::set_reveal_gate) for the run: an honest party refuses, with
//! [`mpc_core::CoreError::RevealRefused`] and before sending anything, any opening that is not
//! allowed, so one modified party cannot make the others open another tensor, or a tensor to
//! another party.
//!
//! With `log = "audit-{role}.jsonl"` each party appends one line per opening that its gate lets
//! through (what, to whom, shape, training step, job id and hash) to its own hash-chained log,
//! signed with its TLS key ([`crate::audit`]; `trefoil audit verify` checks a log). A party
//! that cannot write its log refuses the opening, so nothing is opened unlogged.
//!
//! Not reveals: the public announcements the parties exchange in the clear (the job's digest,
//! row counts, column counts and names, checkpoint steps) carry no secret values, and the
//! masked values that protocols open internally carry no information.

use crate::audit::{AuditLog, AuditRecord};
use crate::error::{Error, Result};
use crate::job::{Job, JobKind};
use mpc_core::{RevealEvent, RevealGate};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// One allowed opening: a label and a recipient (`None`: every party).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// `metrics`, `model`, `predictions`, `guard` or `standardise`.
    pub what: String,
    /// The receiving party, or `None` for all.
    pub to: Option<usize>,
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.to {
            None => write!(f, "{} to all", self.what),
            Some(k) => write!(f, "{} to {k}", self.what),
        }
    }
}

const LABELS: [&str; 5] = ["metrics", "model", "predictions", "guard", "standardise"];

/// Parses `"<label> to all"` or `"<label> to <party>"`.
pub fn parse_rule(key: &str, text: &str) -> Result<Rule> {
    let bad = |why: &str| {
        Error::key(
            key,
            format!("{text:?}: {why}; write e.g. \"model to 0\" or \"metrics to all\""),
        )
    };
    let (what, to) = text
        .trim()
        .split_once(" to ")
        .ok_or_else(|| bad("no \" to \""))?;
    let what = what.trim();
    if !LABELS.contains(&what) {
        return Err(bad(&format!("unknown opening, choose one of {LABELS:?}")));
    }
    let to = match to.trim() {
        "all" => None,
        n => match n.parse::<usize>() {
            Ok(k) if k < 3 => Some(k),
            _ => return Err(bad("the recipient is \"all\" or a party 0, 1 or 2")),
        },
    };
    Ok(Rule {
        what: what.to_string(),
        to,
    })
}

/// The openings the job's keys ask for.
fn needed(job: &Job) -> Vec<(Rule, &'static str)> {
    let rule = |what: &str, to| Rule {
        what: what.into(),
        to,
    };
    let mut out = Vec::new();
    match job.kind {
        JobKind::Train => {
            if job.train_spec().test_fraction > 0.0 {
                out.push((rule("metrics", None), "train.test_fraction"));
            }
            if let Some(k) = job.output.as_ref().and_then(|o| o.model_to) {
                out.push((rule("model", Some(k)), "output.model_to"));
            }
            if job.guard.is_some() {
                out.push((rule("guard", None), "guard"));
            }
            if job.data.standardize {
                out.push((rule("standardise", None), "data.standardize"));
            }
        }
        JobKind::Infer => {
            out.push((rule("metrics", None), "infer.queries"));
            if let Some(i) = &job.infer {
                out.push((
                    rule("predictions", Some(i.predictions_to)),
                    "infer.predictions_to",
                ));
            }
        }
    }
    out
}

/// The job's policy: its `[reveal] allow` list, or what its keys ask for. With an explicit
/// list, a key that asks for an opening the list does not allow is an error naming the key.
pub fn policy_of(job: &Job) -> Result<Vec<Rule>> {
    let needs = needed(job);
    let Some(allow) = job.reveal.as_ref().and_then(|r| r.allow.as_ref()) else {
        return Ok(needs.into_iter().map(|(r, _)| r).collect());
    };
    let rules: Vec<Rule> = allow
        .iter()
        .enumerate()
        .map(|(i, t)| parse_rule(&format!("reveal.allow[{i}]"), t))
        .collect::<Result<_>>()?;
    for (rule, key) in needs {
        // unlabelled queries open no accuracy: an infer job may forbid metrics
        if job.kind == JobKind::Infer && rule.what == "metrics" {
            continue;
        }
        if !rules.contains(&rule) {
            return Err(Error::key(
                key,
                format!(
                    "asks to open {rule}, which reveal.allow {allow:?} does not allow (add \
                     \"{rule}\" or change the key)"
                ),
            ));
        }
    }
    Ok(rules)
}

/// The reveal gate of `job` for one party: allows what [`policy_of`] allows and appends each
/// allowed opening to `log` (if any) with the current value of `step`.
pub fn gate(job: &Job, log: Option<AuditLog>, step: Arc<AtomicU64>) -> Result<RevealGate> {
    let rules = policy_of(job)?;
    let job_id = job.id.clone();
    let job_hash: String = job.digest().iter().map(|b| format!("{b:02x}")).collect();
    let mut log = log;
    Ok(Box::new(move |ev: &RevealEvent<'_>| {
        if !rules.iter().any(|r| r.what == ev.label && r.to == ev.to) {
            let allowed: Vec<String> = rules.iter().map(Rule::to_string).collect();
            return Err(format!("the job's reveal policy allows only {allowed:?}"));
        }
        if let Some(log) = log.as_mut() {
            let record =
                AuditRecord::from_event(&job_id, &job_hash, step.load(Ordering::SeqCst), ev);
            log.append(&record)
                .map_err(|e| format!("cannot write the audit log, so nothing is opened: {e}"))?;
        }
        Ok(())
    }))
}
