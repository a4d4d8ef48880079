//! Infer jobs: a model entered as secret shares, predictions on one party's queries revealed to
//! one party.

use super::{
    FEATURES_KEY, JobReport, PlainStd, STD_INV_STD, STD_MEAN, STD_PRESCALE, STD_RESCALE,
    agree_shapes, build_model, check_encodable, columns_of, empty_report, features_hex,
    label_matrix, read_rows, share_blocks,
};
use crate::error::{Error, Result};
use crate::job::Job;
use mpc_core::Party;
use mpc_nn::Backend;
use mpc_nn::io::{
    NamedTensors, import_safetensors, input_model, load_shares, safetensors_meta, share_file_meta,
};
use mpc_nn::share::{Standardizer, factor_inv_std};
use mpc_nn::train::{correct_count, predict};
use std::path::Path;

/// Splits the standardiser's tensors off a plaintext model file, `1 / std` into the two factors
/// it enters as at the session's `resolution`.
fn split_standardizer(
    mut params: NamedTensors,
    path: &Path,
    want: bool,
    resolution: f64,
) -> Result<(NamedTensors, Option<PlainStd>)> {
    let mut take = |name: &str| {
        params
            .iter()
            .position(|(n, _)| n == name)
            .map(|i| params.remove(i).1)
    };
    let (mean, inv) = (take(STD_MEAN), take(STD_INV_STD));
    match (want, mean, inv) {
        (true, Some(m), Some(i)) => {
            let factors = factor_inv_std(&i, resolution)
                .map_err(|e| Error::Data(format!("{}: {STD_INV_STD}: {e}", path.display())))?;
            Ok((params, Some((m, factors))))
        }
        (true, _, _) => Err(Error::Data(format!(
            "{}: no {STD_MEAN} / {STD_INV_STD} tensors, but data.standardize is true \
             (set it to false for a model trained without standardisation)",
            path.display()
        ))),
        (false, _, _) => Ok((params, None)),
    }
}

/// Checks that the queries' feature columns (the names hash in `shape`, announced by the
/// queries' party) are the ones the model was trained on, as recorded in the model file that
/// this party reads (its share file, or the weights file at the weights' party). Files written
/// before the hash was recorded are not checked.
fn check_features(job: &Job, role: usize, shape: &[u64]) -> Result<()> {
    let Some(inf) = &job.infer else {
        return Ok(());
    };
    let (path, meta) = match (&inf.weights, &inf.shares) {
        (Some(w), _) if w.party == role => {
            let path = job.path_for(&w.path, role);
            let meta = safetensors_meta(&path)?;
            (path, meta)
        }
        (None, Some(sp)) => {
            let path = job.path_for(sp, role);
            let meta = share_file_meta(&path)?;
            (path, meta)
        }
        _ => return Ok(()),
    };
    match meta.get(FEATURES_KEY) {
        Some(trained) if *trained != features_hex(shape.get(1..).unwrap_or_default()) => {
            Err(Error::Data(format!(
                "the feature columns of party {}'s queries ({}, {} columns) differ in names or \
                 order from those the model in {} was trained on: give the queries the training \
                 CSV's feature columns under the same names and in the same order (or select \
                 them with data.features)",
                inf.queries.party,
                inf.queries.csv.display(),
                shape.first().copied().unwrap_or(0),
                path.display()
            )))
        }
        _ => Ok(()),
    }
}

pub(super) fn infer(p: &mut Party, job: &Job, progress: &mut dyn FnMut(&str)) -> Result<JobReport> {
    let role = p.role();
    let inf = job
        .infer
        .clone()
        .ok_or_else(|| Error::key("infer", "missing"))?;
    let q = &inf.queries;
    let local = if q.party == role {
        let path = job.path_for(&q.csv, role);
        let r = read_rows(job, &path, false)?;
        check_encodable(&r, &path, p.fixed_point().frac_bits())?;
        Some(r)
    } else {
        None
    };
    let n_local = local.as_ref().map_or(0, |r| r.x.nrows());
    let labelled_local = local.as_ref().is_some_and(|r| r.labels.is_some());
    let names = local.as_ref().map(|r| r.names.clone()).unwrap_or_default();
    let d_local = local.as_ref().map_or(0, |r| r.x.ncols());
    let (rows, shape) = agree_shapes(
        p,
        &[n_local, usize::from(labelled_local)],
        d_local,
        &names,
        "queries",
    )?;
    let d = columns_of(shape.as_ref(), "query")?;
    check_features(job, role, shape.as_deref().unwrap_or_default())?;
    let n = rows[0][q.party];
    let labelled = rows[1][q.party] == 1;
    progress(&format!(
        "DATA {n} query rows of {d} features from party {}",
        q.party
    ));
    // the model, as secret shares
    let mut model = build_model(p, job, d)?;
    let st = if let Some(w) = &inf.weights {
        let mut mine = None;
        if role == w.party {
            let path = job.path_for(&w.path, role);
            let params = import_safetensors(&path)?;
            mine = Some(split_standardizer(
                params,
                &path,
                job.data.standardize,
                p.resolution(),
            )?);
        }
        input_model(
            p,
            w.party,
            &mut model,
            mine.as_ref().map(|(ps, _)| ps.as_slice()),
        )?;
        if job.data.standardize {
            let s = mine.as_ref().and_then(|(_, s)| s.as_ref());
            let mean = p.input_f64(w.party, s.map(|s| &s.0), &[1, d])?;
            // 1 / std enters as two factors, each with f bits of relative precision
            let prescale = p.input_f64(w.party, s.map(|s| &s.1.0), &[1, d])?;
            let rescale = p.input_f64(w.party, s.map(|s| &s.1.1), &[1, d])?;
            Some(Standardizer {
                mean,
                prescale,
                rescale,
            })
        } else {
            None
        }
    } else {
        let sp = inf
            .shares
            .as_ref()
            .ok_or_else(|| Error::key("infer", "no model"))?;
        let path = job.path_for(sp, role);
        let train_job = inf.shares_job.clone().unwrap_or_else(|| job.id.clone());
        let mut extras = load_shares(&path, role, &train_job, &mut model)?;
        if job.data.standardize {
            let old_format = extras.iter().any(|(n, _)| n == STD_INV_STD);
            let mut take = |name: &str| {
                extras
                    .iter()
                    .position(|(n, _)| n == name)
                    .map(|i| extras.remove(i).1)
                    .ok_or_else(|| {
                        let why = if old_format {
                            format!(
                                " (the file holds {STD_INV_STD}, written by a version that kept \
                                 1 / std as one value: train the model again)"
                            )
                        } else {
                            String::new()
                        };
                        Error::Data(format!(
                            "{}: no {name} share, but data.standardize is true{why}",
                            path.display()
                        ))
                    })
            };
            let mean = take(STD_MEAN)?;
            let prescale = take(STD_PRESCALE)?;
            let rescale = take(STD_RESCALE)?;
            Some(Standardizer {
                mean,
                prescale,
                rescale,
            })
        } else {
            None
        }
    };
    let qx = local.as_ref().map(|r| r.x.clone());
    let x = share_blocks(p, &rows[0], d, qx.as_ref())?;
    let x = match &st {
        Some(st) => st.transform(p, &x)?,
        None => x,
    };
    let out = predict(p, &mut model, &x, 512)?;
    let pred = if job.outputs() == 1 {
        Backend::ge_zero(p, &out)?
    } else {
        Backend::argmax(p, &out, 1)?
    };
    let mut report = empty_report(p, job);
    report.test_rows = n;
    let metrics = crate::policy::Rule {
        what: "metrics".into(),
        to: None,
    };
    let allowed = crate::policy::policy_of(job)?.contains(&metrics);
    if labelled && !allowed {
        progress("QUERIES accuracy not computed: the job's reveal policy does not allow metrics");
    }
    if labelled && allowed {
        p.set_reveal_label("metrics");
        let outputs = job.outputs();
        let y = local
            .as_ref()
            .and_then(|r| r.labels.as_ref())
            .map(|l| label_matrix(l, outputs));
        let ys = share_blocks(p, &rows[0], outputs, y.as_ref())?;
        let hits = correct_count(p, &out, &ys)?;
        let acc = Backend::reveal(p, &hits)?.iter().sum::<f64>().round() / n.max(1) as f64;
        report.accuracy = Some(acc);
        progress(&format!(
            "QUERIES accuracy {acc:.4} (revealed to all parties)"
        ));
    }
    p.set_reveal_label("predictions");
    if let Some(v) = p.reveal_to_f64(inf.predictions_to, &pred)? {
        let classes = &job.data.classes;
        let mut text = format!("row,{}\n", job.data.label);
        for (i, row) in v.outer_iter().enumerate() {
            let k = if row.len() == 1 {
                usize::from(row[0] > 0.5)
            } else {
                row.iter().position(|&b| b > 0.5).unwrap_or(0)
            };
            text.push_str(&format!("{i},{}\n", classes[k.min(classes.len() - 1)]));
        }
        let path = job.path_for(&inf.predictions_path, role);
        std::fs::write(&path, text).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        progress(&format!("PREDICTIONS written to {}", path.display()));
        report.predictions_written = Some(path);
    }
    Ok(report)
}
