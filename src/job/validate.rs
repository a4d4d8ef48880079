//! Validation of a parsed [`Job`]: every key's value is checked before anything runs, and a bad
//! one is an [`Error::JobKey`] naming the key and what it may be.

use super::{JOB_FRAC_BITS, Job, JobKind, MAX_LR, Partition, job_frac_bits_detail};
use crate::error::{Error, Result};

/// The widest hidden layer an `mlp` job may ask for (each party holds two shares of every
/// weight and activation; a width of 10^8 would exhaust any server's memory).
const MAX_HIDDEN: usize = 1 << 14;
/// The most hidden layers an `mlp` job may ask for.
const MAX_LAYERS: usize = 16;

fn check_party(key: &str, p: usize) -> Result<()> {
    if p >= 3 {
        return Err(Error::key(key, format!("{p} is not a party (0, 1 or 2)")));
    }
    Ok(())
}

impl Job {
    pub(super) fn validate(&self) -> Result<()> {
        if self.id.is_empty() || self.id.len() > 200 || self.id.contains(['\n', '\r']) {
            return Err(Error::key("id", "must have 1 to 200 characters, one line"));
        }
        if let Some(f) = self.frac_bits
            && !JOB_FRAC_BITS.contains(&f)
        {
            return Err(Error::key("frac_bits", job_frac_bits_detail(f)));
        }
        self.validate_model()?;
        let d = &self.data;
        if d.label.is_empty() {
            return Err(Error::key("data.label", "must name the label column"));
        }
        if d.classes.len() < 2 {
            return Err(Error::key(
                "data.classes",
                format!("{} classes: give at least 2", d.classes.len()),
            ));
        }
        for (i, c) in d.classes.iter().enumerate() {
            if d.classes[..i].contains(c) {
                return Err(Error::key("data.classes", format!("{c:?} appears twice")));
            }
        }
        if let Some(f) = &d.features {
            if f.is_empty() {
                return Err(Error::key(
                    "data.features",
                    "empty: give at least one column",
                ));
            }
            if f.contains(&d.label) {
                return Err(Error::key(
                    "data.features",
                    format!("contains the label column {:?}", d.label),
                ));
            }
            for (i, c) in f.iter().enumerate() {
                if f[..i].contains(c) {
                    return Err(Error::key("data.features", format!("{c:?} appears twice")));
                }
            }
        }
        match self.kind {
            JobKind::Train => self.validate_train()?,
            JobKind::Infer => self.validate_infer()?,
        }
        if let Some(r) = &self.reveal
            && r.log.as_ref().is_some_and(|l| l.as_os_str().is_empty())
        {
            return Err(Error::key("reveal.log", "must name a file"));
        }
        crate::policy::policy_of(self).map(|_| ())
    }

    fn validate_model(&self) -> Result<()> {
        let m = &self.model;
        let classes = self.data.classes.len();
        match m.name.as_str() {
            "logistic_regression" | "softmax_regression" => {
                if !m.hidden.is_empty() {
                    return Err(Error::key(
                        "model.hidden",
                        format!("{} has no hidden layers", m.name),
                    ));
                }
                if m.activation.is_some() {
                    return Err(Error::key(
                        "model.activation",
                        format!("{} has no activation", m.name),
                    ));
                }
                if m.name == "logistic_regression" && classes != 2 {
                    return Err(Error::key(
                        "model.name",
                        format!(
                            "logistic_regression is binary but data.classes has {classes} classes \
                             (use softmax_regression or mlp)"
                        ),
                    ));
                }
            }
            "mlp" => {
                if m.hidden.is_empty() || m.hidden.contains(&0) {
                    return Err(Error::key(
                        "model.hidden",
                        "an mlp needs hidden widths of at least 1, e.g. [16]",
                    ));
                }
                if let Some(w) = m.hidden.iter().find(|&&w| w > MAX_HIDDEN) {
                    return Err(Error::key(
                        "model.hidden",
                        format!(
                            "{w}: a hidden width may be at most {MAX_HIDDEN} (each party holds \
                             two shares of every weight and activation)"
                        ),
                    ));
                }
                if m.hidden.len() > MAX_LAYERS {
                    return Err(Error::key(
                        "model.hidden",
                        format!("{} hidden layers: at most {MAX_LAYERS}", m.hidden.len()),
                    ));
                }
                if let Some(a) = &m.activation
                    && !["relu", "sigmoid", "tanh"].contains(&a.as_str())
                {
                    return Err(Error::key(
                        "model.activation",
                        format!("{a:?}: choose \"relu\", \"sigmoid\" or \"tanh\""),
                    ));
                }
            }
            other => {
                return Err(Error::key(
                    "model.name",
                    format!(
                        "{other:?}: choose \"logistic_regression\", \"softmax_regression\" or \"mlp\""
                    ),
                ));
            }
        }
        Ok(())
    }

    fn validate_train(&self) -> Result<()> {
        if self.infer.is_some() {
            return Err(Error::key("infer", "only for kind = \"infer\""));
        }
        if self.data.sources.is_empty() && self.data.owners.is_empty() {
            return Err(Error::key(
                "data.sources",
                "missing: a train job needs [[data.sources]] (party, csv) or data.owners",
            ));
        }
        for (i, o) in self.data.owners.iter().enumerate() {
            if *o >= 1000 || self.data.owners[..i].contains(o) {
                return Err(Error::key(
                    "data.owners",
                    format!("{o}: owners are distinct indices below 1000"),
                ));
            }
        }
        match (&self.intake, self.data.owners.is_empty()) {
            (None, false) => {
                return Err(Error::key(
                    "intake",
                    "missing: data.owners needs [intake] addresses (one per server)",
                ));
            }
            (Some(_), true) => return Err(Error::key("intake", "only with data.owners")),
            (Some(i), false) => {
                for (k, a) in i.addresses.iter().enumerate() {
                    if !a
                        .rsplit_once(':')
                        .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
                    {
                        return Err(Error::key(
                            format!("intake.addresses[{k}]"),
                            format!("{a:?} is not host:port"),
                        ));
                    }
                }
                if i.timeout_ms == 0 {
                    return Err(Error::key("intake.timeout_ms", "must be at least 1"));
                }
            }
            (None, true) => {}
        }
        for (i, s) in self.data.sources.iter().enumerate() {
            check_party(&format!("data.sources[{i}].party"), s.party)?;
            if let Some(j) = self.data.sources[..i]
                .iter()
                .position(|o| o.party == s.party && o.csv == s.csv)
            {
                return Err(Error::key(
                    format!("data.sources[{i}]"),
                    format!(
                        "party {} reads {} twice (also data.sources[{j}]): its records would \
                         count twice",
                        s.party,
                        s.csv.display()
                    ),
                ));
            }
        }
        if self.data.split == Partition::Vertical {
            if !self.data.owners.is_empty() {
                return Err(Error::key(
                    "data.owners",
                    "external owners send records (rows): only with split = \"horizontal\"",
                ));
            }
            for (i, s) in self.data.sources.iter().enumerate() {
                if self.data.sources[..i].iter().any(|o| o.party == s.party) {
                    return Err(Error::key(
                        format!("data.sources[{i}].party"),
                        format!(
                            "party {} has two CSV files; with split = \"vertical\" each party \
                             holds one file of its columns",
                            s.party
                        ),
                    ));
                }
            }
        }
        if let Some(c) = &self.checkpoint {
            if c.dir.as_os_str().is_empty() {
                return Err(Error::key("checkpoint.dir", "must name a folder"));
            }
            if c.every_steps == 0 {
                return Err(Error::key("checkpoint.every_steps", "must be at least 1"));
            }
            if c.keep < 2 {
                return Err(Error::key(
                    "checkpoint.keep",
                    format!(
                        "{}: keep at least 2 (after a crash the parties may be one checkpoint apart)",
                        c.keep
                    ),
                ));
            }
        }
        if let Some(g) = &self.guard {
            if !(g.bound.is_finite() && g.bound > 0.0 && g.bound <= 1e9) {
                return Err(Error::key(
                    "guard.bound",
                    format!("{}: choose 0 < bound <= 1e9", g.bound),
                ));
            }
            if g.every_steps == 0 {
                return Err(Error::key("guard.every_steps", "must be at least 1"));
            }
        }
        let t = self.train.clone().unwrap_or_default();
        if t.epochs == 0 {
            return Err(Error::key("train.epochs", "must be at least 1"));
        }
        if t.batch_size == 0 {
            return Err(Error::key("train.batch_size", "must be at least 1"));
        }
        if !(t.lr.is_finite() && t.lr > 0.0) {
            return Err(Error::key(
                "train.lr",
                format!("{}: must be positive", t.lr),
            ));
        }
        if t.lr >= MAX_LR {
            return Err(Error::key(
                "train.lr",
                format!(
                    "{}: must be below 2^39 (about 5.5e11), the largest fixed-point constant at \
                     24 fractional bits",
                    t.lr
                ),
            ));
        }
        if !(0.0..1.0).contains(&t.momentum) {
            return Err(Error::key(
                "train.momentum",
                format!("{}: choose 0 <= m < 1", t.momentum),
            ));
        }
        if !(0.0..1.0).contains(&t.weight_decay) {
            return Err(Error::key(
                "train.weight_decay",
                format!("{}: choose 0 <= w < 1", t.weight_decay),
            ));
        }
        if !(0.0..1.0).contains(&t.test_fraction) {
            return Err(Error::key(
                "train.test_fraction",
                format!("{}: choose 0 <= f < 1", t.test_fraction),
            ));
        }
        let o = self.output.as_ref().ok_or_else(|| {
            Error::key(
                "output",
                "missing: say who receives the model (model_to, model_path)",
            )
        })?;
        match (o.model_to, &o.model_path) {
            (Some(p), Some(_)) => check_party("output.model_to", p)?,
            (Some(_), None) => {
                return Err(Error::key("output.model_path", "missing (with model_to)"));
            }
            (None, Some(_)) => {
                return Err(Error::key("output.model_to", "missing (with model_path)"));
            }
            (None, None) if o.shares_path.is_none() => {
                return Err(Error::key(
                    "output",
                    "give model_to and model_path, or shares_path (a trained model must go somewhere)",
                ));
            }
            (None, None) => {}
        }
        Ok(())
    }

    fn validate_infer(&self) -> Result<()> {
        if self.train.is_some() {
            return Err(Error::key("train", "only for kind = \"train\""));
        }
        if self.output.is_some() {
            return Err(Error::key(
                "output",
                "only for kind = \"train\" (infer has predictions_to)",
            ));
        }
        if !self.data.sources.is_empty() {
            return Err(Error::key(
                "data.sources",
                "only for kind = \"train\" (infer has infer.queries)",
            ));
        }
        if self.checkpoint.is_some() || self.guard.is_some() {
            return Err(Error::key(
                if self.checkpoint.is_some() {
                    "checkpoint"
                } else {
                    "guard"
                },
                "only for train jobs",
            ));
        }
        if self.data.split != Partition::Horizontal {
            return Err(Error::key(
                "data.split",
                "only for train jobs (the queries are one party's rows)",
            ));
        }
        if !self.data.owners.is_empty() || self.intake.is_some() {
            return Err(Error::key(
                "data.owners",
                "external owners only feed train jobs",
            ));
        }
        let inf = self
            .infer
            .as_ref()
            .ok_or_else(|| Error::key("infer", "missing: an infer job needs [infer]"))?;
        match (&inf.weights, &inf.shares) {
            (Some(w), None) => check_party("infer.weights.party", w.party)?,
            (None, Some(_)) => {}
            _ => {
                return Err(Error::key(
                    "infer",
                    "give exactly one of weights = { party, path } and shares = \"...{role}...\"",
                ));
            }
        }
        if inf.shares_job.is_some() && inf.shares.is_none() {
            return Err(Error::key("infer.shares_job", "only with infer.shares"));
        }
        check_party("infer.queries.party", inf.queries.party)?;
        check_party("infer.predictions_to", inf.predictions_to)
    }
}
