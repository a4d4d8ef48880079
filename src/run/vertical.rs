//! Train jobs with `data.split = "vertical"`: each party's CSV holds some feature columns of the
//! same records, in the same order, and exactly one party's CSV also holds the label column.
//!
//! The parties announce, in public, their number of records, their column names and whether
//! they hold the labels (in a vertical partition the schema is public: the model's weights
//! are laid out by it). They check that every file has the same number of records, that no
//! column is held twice and that one party holds the labels, then split the record indices
//! with the job's public seed ([`split_indices`], unstratified: nobody but the label holder
//! sees a label) and share their columns side by side ([`share_columns`]). The model's input
//! columns are party 0's, then party 1's, then party 2's, each in its file's order.
//!
//! Aligning the records (the same patient on the same row everywhere) is the data owners' job
//! before the run, e.g. by sorting on a shared record id that is not a column of the files.

use super::{
    Pooled, Rows, check_encodable, exchange, label_matrix, names_hash, read_rows, words_of,
};
use crate::error::{Error, Result};
use crate::job::Job;
use mpc_core::{AShare, Party};
use mpc_nn::data::split_indices;
use mpc_nn::share::{Block, share_columns, share_rows};
use ndarray::{Array2, Axis};

/// What a party announces: records, columns, label or not, column names.
struct Announce {
    rows: usize,
    labels: bool,
    names: Vec<String>,
}

fn encode(a: &Announce) -> Vec<u64> {
    let bytes = a.names.join("\n").into_bytes();
    let mut w = vec![
        a.rows as u64,
        u64::from(a.labels),
        a.names.len() as u64,
        bytes.len() as u64,
    ];
    w.extend(words_of(&bytes));
    w
}

fn decode(party: usize, w: &[u64]) -> Result<Announce> {
    let bad = || {
        Error::Data(format!(
            "party {party} announced malformed vertical columns"
        ))
    };
    let [rows, labels, count, len, rest @ ..] = w else {
        return Err(bad());
    };
    let len = usize::try_from(*len).map_err(|_| bad())?;
    if *labels > 1 || rest.len() != len.div_ceil(8) {
        return Err(bad());
    }
    let bytes: Vec<u8> = rest
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .take(len)
        .collect();
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let names: Vec<String> = if *count == 0 {
        Vec::new()
    } else {
        text.split('\n').map(str::to_string).collect()
    };
    if names.len() as u64 != *count {
        return Err(bad());
    }
    Ok(Announce {
        rows: usize::try_from(*rows).map_err(|_| bad())?,
        labels: *labels == 1,
        names,
    })
}

/// This party's columns: its CSV (at most one in a vertical job), restricted to
/// `data.features` if the job lists them.
fn local_columns(job: &Job, role: usize, frac_bits: u32) -> Result<Option<Rows>> {
    let Some(src) = job.data.sources.iter().find(|s| s.party == role) else {
        return Ok(None);
    };
    let mut all = job.clone();
    all.data.features = None;
    let path = job.path_for(&src.csv, role);
    let mut r = read_rows(&all, &path, false)?;
    if let Some(want) = &job.data.features {
        let keep: Vec<usize> = (0..r.names.len())
            .filter(|&j| want.contains(&r.names[j]))
            .collect();
        r.x = r.x.select(Axis(1), &keep);
        r.names = keep.iter().map(|&j| r.names[j].clone()).collect();
    }
    check_encodable(&r, &path, frac_bits)?;
    Ok(Some(r))
}

/// Checks the announcements; returns the number of records, each party's columns, the label
/// holder and the model's input columns in order.
fn agree(job: &Job, all: &[Announce]) -> Result<(usize, [usize; 3], usize, Vec<String>)> {
    let holders: Vec<usize> = (0..3)
        .filter(|&i| job.data.sources.iter().any(|s| s.party == i))
        .collect();
    let n = all[holders[0]].rows;
    for &i in &holders {
        if all[i].rows != n {
            return Err(Error::Data(format!(
                "vertical split: party {i}'s CSV has {} records, party {}'s has {n}; every \
                 file must hold the same records in the same order",
                all[i].rows, holders[0]
            )));
        }
    }
    if n == 0 {
        return Err(Error::Data(
            "vertical split: the CSV files have no records".into(),
        ));
    }
    let label_at: Vec<usize> = (0..3).filter(|&i| all[i].labels).collect();
    let label_party = match label_at[..] {
        [k] => k,
        [] => {
            return Err(Error::Data(format!(
                "vertical split: no party's CSV has the label column {:?}; exactly one must",
                job.data.label
            )));
        }
        _ => {
            return Err(Error::Data(format!(
                "vertical split: parties {label_at:?} all have the label column {:?}; exactly \
                 one party holds the labels (drop the column from the other files)",
                job.data.label
            )));
        }
    };
    let mut names: Vec<String> = Vec::new();
    let mut owner_of: Vec<usize> = Vec::new();
    for (i, a) in all.iter().enumerate() {
        for c in &a.names {
            if let Some(k) = names.iter().position(|x| x == c) {
                return Err(Error::Data(format!(
                    "vertical split: column {c:?} is in the files of parties {} and {i}; each \
                     column must be held by one party",
                    owner_of[k]
                )));
            }
            names.push(c.clone());
            owner_of.push(i);
        }
    }
    if let Some(want) = &job.data.features
        && let Some(c) = want.iter().find(|c| !names.contains(c))
    {
        return Err(Error::Data(format!(
            "vertical split: column {c:?} of data.features is in no party's file"
        )));
    }
    if names.is_empty() {
        return Err(Error::Data(
            "vertical split: the files have no feature columns".into(),
        ));
    }
    let cols = [0, 1, 2].map(|i| all[i].names.len());
    Ok((n, cols, label_party, names))
}

/// Shares the vertically partitioned training (and test) records.
pub(super) fn pool(p: &mut Party, job: &Job, progress: &mut dyn FnMut(&str)) -> Result<Pooled> {
    let role = p.role();
    let outputs = job.outputs();
    let local = local_columns(job, role, p.fixed_point().frac_bits())?;
    let mine = Announce {
        rows: local.as_ref().map_or(0, |r| r.x.nrows()),
        labels: local.as_ref().is_some_and(|r| r.labels.is_some()),
        names: local.as_ref().map(|r| r.names.clone()).unwrap_or_default(),
    };
    let words = exchange(p, &encode(&mine))?;
    let all: Vec<Announce> = (0..3)
        .map(|i| decode(i, &words[i]))
        .collect::<Result<_>>()?;
    let (n, cols, label_party, names) = agree(job, &all)?;
    let t = job.train_spec();
    let (train_idx, test_idx) = if t.test_fraction > 0.0 {
        let (a, b) = split_indices(n, t.test_fraction, t.seed)?;
        (a, Some(b))
    } else {
        ((0..n).collect(), None)
    };
    progress(&format!(
        "DATA vertical: {} training and {} test records; columns held by the parties {cols:?}, \
         labels at party {label_party}; model inputs in order: {}",
        train_idx.len(),
        test_idx.as_ref().map_or(0, Vec::len),
        names.join(", ")
    ));
    let rows_of = |idx: &[usize]| -> Option<(Array2<f64>, Array2<f64>)> {
        local.as_ref().map(|r| {
            let x = r.x.select(Axis(0), idx);
            let y = match &r.labels {
                Some(l) => label_matrix(&idx.iter().map(|&i| l[i]).collect::<Vec<_>>(), outputs),
                None => Array2::zeros((0, outputs)),
            };
            (x, y)
        })
    };
    let share = |p: &mut Party, idx: &[usize]| -> Result<(AShare, AShare)> {
        let mine = rows_of(idx);
        let blocks: Vec<Block<'_>> = (0..3)
            .filter(|&i| cols[i] > 0)
            .map(|i| Block {
                owner: i,
                shape: (idx.len(), cols[i]),
                data: if i == role {
                    mine.as_ref().map(|m| &m.0)
                } else {
                    None
                },
            })
            .collect();
        let x = share_columns(p, &blocks)?;
        let label = [Block {
            owner: label_party,
            shape: (idx.len(), outputs),
            data: if role == label_party {
                mine.as_ref().map(|m| &m.1)
            } else {
                None
            },
        }];
        let y = share_rows(p, &label)?;
        Ok((x, y))
    };
    let (x, y) = share(p, &train_idx)?;
    let test = match &test_idx {
        Some(idx) => Some(share(p, idx)?),
        None => None,
    };
    Ok(Pooled {
        x,
        y,
        test,
        d: names.len(),
        features: names_hash(&names),
        train_rows: train_idx.len(),
        test_rows: test_idx.as_ref().map_or(0, Vec::len),
    })
}
