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
//! **Bit-identical resume.** Every checkpoint also holds the party's position in its two key
//! streams ([`mpc_core::RngState`], tensors `rng.start` and `rng.now`: the keys and counters
//! when the job started sharing its data, and when the checkpoint was written) and its tag
//! names a digest of the CSV files this party reads (`/data=<16 hex digits of their
//! SHA-256>`). A resumed party restores `rng.start`, shares and standardises its data again
//! (drawing exactly the randomness of the first run, so the data's shares come out the same),
//! then restores `rng.now` and the model's shares: from there every step is the one of an
//! uninterrupted run, and the final shares and the revealed model are bit-identical to it.
//! Redoing the same computation with the same randomness on the same inputs sends only
//! messages that were already sent (see [`mpc_core::Party::restore_rng_state`]); a
//! party whose data files changed since the checkpoint refuses to resume (it would reuse masks
//! on other values), and the parties check that their restored streams pair up (each sends a
//! SHA-256 of its two streams' state; no key is sent). Two exceptions draw fresh randomness
//! and resume only to the same model up to the last bits of the fixed-point truncations, as
//! two uninterrupted runs differ: a job with external data owners (`data.owners`: the owners
//! share their data afresh in every session), and a run whose guard rolls back twice in a row
//! after the resumed step (the resumed run keeps fewer snapshots in memory).
//! A checkpoint's `rng` tensors are key material: the file is as secret as the shares in it.

use super::{STD_MEAN, STD_PRESCALE, STD_RESCALE, exchange};
use crate::error::{Error, Result};
use crate::job::Job;
use mpc_core::{AShare, Party, RngState};
use mpc_nn::Sequential;
use mpc_nn::io::{load_share_extras, load_shares, save_shares, share_file_job};
use mpc_nn::optim::Optimizer;
use mpc_nn::share::Standardizer;
use ndarray::{ArrayD, IxDyn};
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
    /// Digest of the CSV files this party reads (16 hex digits).
    data: String,
    /// The key-stream state when the job started sharing its data (`rng.start`).
    pub(super) rng_start: RngState,
}

/// The names of the two key-stream states in a checkpoint.
const RNG_START: &str = "rng.start";
const RNG_NOW: &str = "rng.now";

/// The key-stream states a checkpoint holds (see the module docs).
#[derive(Clone)]
pub(super) struct RngPoints {
    /// When the job started sharing its data.
    pub(super) start: RngState,
    /// When the checkpoint was written.
    pub(super) now: RngState,
}

fn rng_tensor(s: &RngState) -> Result<AShare> {
    let a = ArrayD::from_shape_vec(IxDyn(&[3]), s.prev_words().to_vec());
    let b = ArrayD::from_shape_vec(IxDyn(&[3]), s.next_words().to_vec());
    match (a, b) {
        (Ok(a), Ok(b)) => Ok(AShare::from_components(a, b, 0)?),
        _ => Err(Error::Data("rng state of the wrong size".into())),
    }
}

fn rng_of(path: &Path, t: &AShare) -> Result<RngState> {
    let (a, b) = t.components();
    let words = |x: &ArrayD<u64>| -> Option<[u64; 3]> {
        x.iter().copied().collect::<Vec<_>>().try_into().ok()
    };
    match (words(a), words(b)) {
        (Some(a), Some(b)) => Ok(RngState::from_words(a, b)),
        _ => Err(ckpt_err(path, "an rng tensor is not 3 words")),
    }
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
    format!("{}@{}", job.id, hex16(&job.digest()))
}

/// The first 8 bytes of a digest as 16 hex digits.
fn hex16(digest: &[u8]) -> String {
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

impl Checkpoints {
    /// The job's checkpoints at party `role`, if the job asks for them; `data` is the digest of
    /// the data files this party reads, `rng_start` the key-stream state before sharing them.
    pub(super) fn new(
        job: &Job,
        role: usize,
        data: &str,
        rng_start: RngState,
    ) -> Option<Checkpoints> {
        job.checkpoint.as_ref().map(|c| Checkpoints {
            dir: job.path_for(&c.dir, role),
            every: c.every_steps as u64,
            keep: c.keep,
            role,
            prefix: job_prefix(job),
            data: data.to_string(),
            rng_start,
        })
    }

    fn file(&self, step: u64) -> PathBuf {
        self.dir.join(format!("step-{step:010}.safetensors"))
    }

    fn tag(&self, step: u64, lr: f64) -> String {
        format!("{}/step={step}/lr={lr}/data={}", self.prefix, self.data)
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
                .and_then(|(s, r)| Some((s, r.split_once("/data=")?)))
                .and_then(|(s, (lr, data))| {
                    Some((s.parse::<u64>().ok()?, lr.parse::<f64>().ok()?, data))
                });
            match parsed {
                Some((_, _, data)) if data != self.data => {
                    return Err(ckpt_err(
                        &path,
                        format!(
                            "the data files this party reads changed since this checkpoint was \
                             written (digest {data}, now {}); resuming would train on other \
                             records and reuse masks on other values: restore the files or \
                             empty the three checkpoint folders to start over",
                            self.data
                        ),
                    ));
                }
                Some((s, lr, _)) if s == step && lr.is_finite() && lr > 0.0 => out.push((s, lr)),
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

    /// Writes this party's checkpoint of `step` (`rng_now`: the key-stream state now), then deletes all but the newest `keep`.
    pub(super) fn save(
        &self,
        model: &Sequential<Party>,
        opt: &dyn Optimizer<Party>,
        st: Option<&Standardizer<AShare>>,
        step: u64,
        lr: f64,
        rng_now: &RngState,
    ) -> Result<PathBuf> {
        std::fs::create_dir_all(&self.dir).map_err(|source| Error::Io {
            path: self.dir.clone(),
            source,
        })?;
        let mut extra: Vec<(String, &AShare)> = opt.state();
        if let Some(st) = st {
            extra.push((STD_MEAN.into(), &st.mean));
            extra.push((STD_PRESCALE.into(), &st.prescale));
            extra.push((STD_RESCALE.into(), &st.rescale));
        }
        let (start, now) = (rng_tensor(&self.rng_start)?, rng_tensor(rng_now)?);
        extra.push((RNG_START.into(), &start));
        extra.push((RNG_NOW.into(), &now));
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
        let (mut mean, mut prescale, mut rescale) = (None, None, None);
        let mut optimizer = Vec::new();
        for (name, t) in extras {
            match name.as_str() {
                STD_MEAN => mean = Some(t),
                STD_PRESCALE => prescale = Some(t),
                STD_RESCALE => rescale = Some(t),
                RNG_START | RNG_NOW => {}
                _ => optimizer.push((name, t)),
            }
        }
        let standardizer = match (mean, prescale, rescale) {
            (Some(mean), Some(prescale), Some(rescale)) => Some(Standardizer {
                mean,
                prescale,
                rescale,
            }),
            _ => None,
        };
        Ok(Restored {
            optimizer,
            standardizer,
        })
    }

    /// The key-stream states of this party's checkpoint of `step` (before the model exists).
    pub(super) fn load_rng(&self, step: u64, lr: f64) -> Result<RngPoints> {
        let path = self.file(step);
        let extras = load_share_extras(&path, self.role, &self.tag(step, lr))
            .map_err(|e| ckpt_err(&path, e.to_string()))?;
        let find = |name: &str| {
            extras
                .iter()
                .find(|(n, _)| n == name)
                .ok_or_else(|| ckpt_err(&path, format!("no {name} tensor")))
                .and_then(|(_, t)| rng_of(&path, t))
        };
        Ok(RngPoints {
            start: find(RNG_START)?,
            now: find(RNG_NOW)?,
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

/// The parties check that the key-stream states they are about to restore pair up: party
/// `i`'s streams with its next party must be that party's streams with its previous one, at
/// the start and at the checkpoint. Each party sends a SHA-256 of each of its states (no key
/// material), or that it cannot read them; one round. Every party checks every pair, so all
/// three fail together.
pub(super) fn agree_rng(p: &mut Party, dir: &Path, local: &Result<RngPoints>) -> Result<()> {
    let digest = |w: [u64; 3]| -> Vec<u64> {
        let bytes: Vec<u8> = w.iter().flat_map(|x| x.to_le_bytes()).collect();
        super::words_of(ring::digest::digest(&ring::digest::SHA256, &bytes).as_ref())
    };
    // [0, prev(start), prev(now), next(start), next(now)] or [1]
    let mine: Vec<u64> = match local {
        Ok(r) => {
            let mut w = vec![0];
            w.extend(digest(r.start.prev_words()));
            w.extend(digest(r.now.prev_words()));
            w.extend(digest(r.start.next_words()));
            w.extend(digest(r.now.next_words()));
            w
        }
        Err(_) => vec![1],
    };
    let all = exchange(p, &mine)?;
    if let Err(e) = local {
        return Err(ckpt_err(dir, e.to_string()));
    }
    if let Some(j) = (0..3).find(|&j| all[j].first() != Some(&0) || all[j].len() != mine.len()) {
        return Err(ckpt_err(
            dir,
            format!(
                "party {j} cannot read the randomness state of its checkpoint; no party resumes"
            ),
        ));
    }
    let half = (mine.len() - 1) / 2;
    let broken: Vec<String> = (0..3)
        .filter(|&j| all[j][1 + half..] != all[(j + 1) % 3][1..1 + half])
        .map(|j| format!("{j} and {}", (j + 1) % 3))
        .collect();
    if !broken.is_empty() {
        return Err(ckpt_err(
            dir,
            format!(
                "the parties' checkpoints of this step come from different runs (the correlated \
                 randomness of parties {} does not pair up); empty the three checkpoint folders \
                 to start over",
                broken.join(", ")
            ),
        ));
    }
    Ok(())
}

/// A digest of the CSV files party `role` reads for the job (their bytes, in the job's order):
/// the first 16 hex digits of a SHA-256, kept in this party's checkpoint tags.
pub(super) fn data_digest(job: &Job, role: usize) -> Result<String> {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for s in job.data.sources.iter().filter(|s| s.party == role) {
        let path = job.path_for(&s.csv, role);
        let bytes = std::fs::read(&path).map_err(|source| Error::Io { path, source })?;
        ctx.update(&(bytes.len() as u64).to_le_bytes());
        ctx.update(&bytes);
    }
    Ok(hex16(ctx.finish().as_ref()))
}
