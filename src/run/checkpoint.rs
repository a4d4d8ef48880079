//! Checkpoints of a train job (`[checkpoint]` in the job file) and resuming from them.
//!
//! Every `every_steps` steps each party writes **its own** shares of the model's parameters,
//! of the optimizer state and of the standardiser to `dir/step-<step>.safetensors`
//! ([`mpc_nn::io::save_shares`]: atomic write to a temporary file, `fsync`, rename; mode
//! `0600`; CRC-32 over everything), and deletes all but the newest `keep`. The file's job tag
//! is `<job id>@<first 16 hex digits of the job's SHA-256>/step=<step>/lr=<learning rate>`:
//! the job and its hash, the data position (the number of steps done; the batch order is a
//! function of the public seed and the epoch, so the step number says which batch comes next)
//! and the learning rate (which the overflow guard may have halved). A checkpoint holds only
//! that party's two components of each tensor, so it reveals nothing (see
//! [`mpc_nn::io`]'s module docs on what a share file reveals).
//!
//! When a train job with checkpoints starts, each party reads every `step-*.safetensors` in
//! its folder and checks it (structure, checksum, role, job id and hash, step); a file of
//! another job, of another party or a corrupt one is an [`Error::Checkpoint`] naming the file,
//! and that party tells the others, which fail with an error naming it: no party silently
//! starts from zero. The parties then announce their steps and resume from the latest step all
//! three have. If some parties have checkpoints but no step is common to all three (a party
//! lost its folder), every party fails with an error saying so.
//!
//! Fresh correlated randomness is drawn for every session (a security requirement), so the
//! shares after a resume are not bit-identical to those of an uninterrupted run, and the
//! revealed model differs from one in the last bits of the fixed-point truncations, as two
//! uninterrupted runs do from each other.

use super::{STD_INV_STD, STD_MEAN, exchange};
use crate::error::{Error, Result};
use crate::job::Job;
use mpc_core::{AShare, Party};
use mpc_nn::Sequential;
use mpc_nn::io::{load_shares, save_shares, share_file_job};
use mpc_nn::optim::Optimizer;
use mpc_nn::share::Standardizer;
use std::path::{Path, PathBuf};

/// One party's checkpoint folder for one job.
pub(super) struct Checkpoints {
    dir: PathBuf,
    /// Steps between checkpoints.
    pub(super) every: u64,
    keep: usize,
    role: usize,
    /// `<id>@<hash>`.
    prefix: String,
}

/// What a checkpoint restores besides the model: optimizer state and standardiser.
pub(super) struct Restored {
    pub(super) optimizer: Vec<(String, AShare)>,
    pub(super) standardizer: Option<Standardizer<AShare>>,
}

fn ckpt_err(path: &Path, detail: impl Into<String>) -> Error {
    Error::Checkpoint {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

/// The job's checkpoint tag prefix: id and shortened hash.
pub(super) fn job_prefix(job: &Job) -> String {
    let hash: String = job.digest()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{}@{hash}", job.id)
}

impl Checkpoints {
    /// The job's checkpoints at party `role`, if the job asks for them.
    pub(super) fn new(job: &Job, role: usize) -> Option<Checkpoints> {
        job.checkpoint.as_ref().map(|c| Checkpoints {
            dir: job.path_for(&c.dir, role),
            every: c.every_steps as u64,
            keep: c.keep,
            role,
            prefix: job_prefix(job),
        })
    }

    fn file(&self, step: u64) -> PathBuf {
        self.dir.join(format!("step-{step:010}.safetensors"))
    }

    fn tag(&self, step: u64, lr: f64) -> String {
        format!("{}/step={step}/lr={lr}", self.prefix)
    }

    /// The checkpoint files in the folder by their names: `(step, path)`, oldest first.
    fn files(&self) -> Result<Vec<(u64, PathBuf)>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(Error::Io {
                    path: self.dir.clone(),
                    source,
                });
            }
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| Error::Io {
                path: self.dir.clone(),
                source,
            })?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let Some(step) = name
                .strip_prefix("step-")
                .and_then(|s| s.strip_suffix(".safetensors"))
            else {
                continue;
            };
            let step = step.parse::<u64>().map_err(|_| {
                ckpt_err(
                    &entry.path(),
                    "not a checkpoint name (step-<number>.safetensors)",
                )
            })?;
            out.push((step, entry.path()));
        }
        out.sort();
        Ok(out)
    }

    /// Every checkpoint in the folder, checked: `(step, learning rate)`, oldest first.
    pub(super) fn list(&self) -> Result<Vec<(u64, f64)>> {
        let mut out = Vec::new();
        for (step, path) in self.files()? {
            let (tag, role) = share_file_job(&path).map_err(|e| ckpt_err(&path, e.to_string()))?;
            if role != self.role {
                return Err(ckpt_err(
                    &path,
                    format!(
                        "holds party {role}'s shares, this is party {}; each party keeps its own folder",
                        self.role
                    ),
                ));
            }
            let Some(rest) = tag.strip_prefix(&format!("{}/", self.prefix)) else {
                let other = tag.split('/').next().unwrap_or("");
                return Err(ckpt_err(
                    &path,
                    format!(
                        "belongs to job {other:?}, not to this job {:?} (id@hash): another job's \
                         checkpoint or a changed job file; move it away or set another checkpoint.dir",
                        self.prefix
                    ),
                ));
            };
            let parsed = rest
                .strip_prefix("step=")
                .and_then(|r| r.split_once("/lr="))
                .and_then(|(s, lr)| Some((s.parse::<u64>().ok()?, lr.parse::<f64>().ok()?)));
            match parsed {
                Some((s, lr)) if s == step && lr.is_finite() && lr > 0.0 => out.push((s, lr)),
                _ => {
                    return Err(ckpt_err(
                        &path,
                        format!("its tag {tag:?} does not fit its name (step {step})"),
                    ));
                }
            }
        }
        Ok(out)
    }

    /// Writes this party's checkpoint of `step`, then deletes all but the newest `keep`.
    pub(super) fn save(
        &self,
        model: &Sequential<Party>,
        opt: &dyn Optimizer<Party>,
        st: Option<&Standardizer<AShare>>,
        step: u64,
        lr: f64,
    ) -> Result<PathBuf> {
        std::fs::create_dir_all(&self.dir).map_err(|source| Error::Io {
            path: self.dir.clone(),
            source,
        })?;
        let mut extra: Vec<(String, &AShare)> = opt.state();
        if let Some(st) = st {
            extra.push((STD_MEAN.into(), &st.mean));
            extra.push((STD_INV_STD.into(), &st.inv_std));
        }
        let path = self.file(step);
        save_shares(&path, self.role, &self.tag(step, lr), model, &extra)?;
        let files = self.files()?;
        let old = files.len().saturating_sub(self.keep);
        for (_, p) in &files[..old] {
            std::fs::remove_file(p).map_err(|source| Error::Io {
                path: p.clone(),
                source,
            })?;
        }
        Ok(path)
    }

    /// Loads this party's checkpoint of `step` into `model`.
    pub(super) fn load(
        &self,
        model: &mut Sequential<Party>,
        step: u64,
        lr: f64,
    ) -> Result<Restored> {
        let path = self.file(step);
        let extras = load_shares(&path, self.role, &self.tag(step, lr), model)
            .map_err(|e| ckpt_err(&path, e.to_string()))?;
        let (mut mean, mut inv) = (None, None);
        let mut optimizer = Vec::new();
        for (name, t) in extras {
            match name.as_str() {
                STD_MEAN => mean = Some(t),
                STD_INV_STD => inv = Some(t),
                _ => optimizer.push((name, t)),
            }
        }
        let standardizer = match (mean, inv) {
            (Some(mean), Some(inv_std)) => Some(Standardizer { mean, inv_std }),
            _ => None,
        };
        Ok(Restored {
            optimizer,
            standardizer,
        })
    }

    /// Deletes this party's checkpoint files of steps after `step`.
    pub(super) fn discard_after(&self, step: u64) -> Result<()> {
        for (s, path) in self.files()? {
            if s > step {
                std::fs::remove_file(&path).map_err(|source| Error::Io { path, source })?;
            }
        }
        Ok(())
    }

    /// The folder, for messages.
    pub(super) fn dir(&self) -> &Path {
        &self.dir
    }
}

/// The parties announce their checkpoints (or that theirs are unusable) and agree on the step
/// to resume from: `None` to start from zero (nobody has any), or the latest `(step, lr)` that
/// all three have.
pub(super) fn agree_resume(
    p: &mut Party,
    dir: &Path,
    local: Result<Vec<(u64, f64)>>,
) -> Result<Option<(u64, f64)>> {
    let mine: Vec<u64> = match &local {
        Ok(list) => {
            let mut w = vec![0, list.len() as u64];
            for (s, lr) in list {
                w.extend([*s, lr.to_bits()]);
            }
            w
        }
        Err(_) => vec![1, 0],
    };
    let all = exchange(p, &mine)?;
    // this party's own error first (it names the file)
    local?;
    let mut lists: Vec<Vec<(u64, u64)>> = Vec::new();
    for (party, w) in all.iter().enumerate() {
        match w.as_slice() {
            [0, n, rest @ ..] if rest.len() as u64 == 2 * n => {
                lists.push(rest.chunks(2).map(|c| (c[0], c[1])).collect());
            }
            [1, ..] => {
                return Err(ckpt_err(
                    dir,
                    format!(
                        "party {party} cannot use its checkpoints (its error names the file); \
                         no party resumes"
                    ),
                ));
            }
            _ => {
                return Err(Error::Data(format!(
                    "party {party} announced malformed checkpoints"
                )));
            }
        }
    }
    if lists.iter().all(Vec::is_empty) {
        return Ok(None);
    }
    let common = lists[0]
        .iter()
        .filter(|c| lists[1..].iter().all(|l| l.contains(c)))
        .max();
    match common {
        Some(&(step, lr)) => Ok(Some((step, f64::from_bits(lr)))),
        None => {
            let steps: Vec<Vec<u64>> = lists
                .iter()
                .map(|l| l.iter().map(|c| c.0).collect())
                .collect();
            Err(ckpt_err(
                dir,
                format!(
                    "no checkpoint that all three parties have (steps by party: {steps:?}, this \
                     is party {}); to start over from step 0, empty the three checkpoint folders",
                    p.role()
                ),
            ))
        }
    }
}
