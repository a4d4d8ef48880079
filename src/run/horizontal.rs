//! Train jobs with the default `data.split = "horizontal"`: each party's CSV holds some records
//! with every column. The parties announce their row counts, feature count and a hash of their
//! column names ([`agree_shapes`]), split their own rows into train and test rows with the job's
//! public seed ([`split_local`], stratified), and share them one party after the other
//! ([`share_blocks`]); the rows of external data owners (`data.owners`, delivered through
//! [`crate::intake`]) are appended after the parties', once the three servers have checked that
//! they received the same shapes and columns from every owner.

use super::{
    Pooled, Rows, XY, agree_shapes, check_encodable, columns_of, exchange, names_hash, read_rows,
    share_blocks, split_local,
};
use crate::error::{Error, Result};
use crate::job::{Job, Source};
use mpc_core::{AShare, Party};
use mpc_net::tls::TlsIdentity;
use ndarray::{Array2, Axis};

/// This party's sources, read and stacked.
fn local_rows(job: &Job, role: usize, sources: &[&Source], frac_bits: u32) -> Result<Option<Rows>> {
    let mut acc: Option<Rows> = None;
    for s in sources.iter().filter(|s| s.party == role) {
        let path = job.path_for(&s.csv, role);
        let r = read_rows(job, &path, true)?;
        check_encodable(&r, &path, frac_bits)?;
        acc = Some(match acc {
            None => r,
            Some(a) => {
                if a.names != r.names {
                    return Err(Error::Data(format!(
                        "{}: columns differ from this party's other CSV",
                        s.csv.display()
                    )));
                }
                let x = ndarray::concatenate(Axis(0), &[a.x.view(), r.x.view()])
                    .map_err(|e| Error::Data(e.to_string()))?;
                let mut labels = a.labels.unwrap_or_default();
                labels.extend(r.labels.unwrap_or_default());
                Rows {
                    x,
                    labels: Some(labels),
                    names: a.names,
                }
            }
        });
    }
    Ok(acc)
}

/// The servers compare what each received from every owner (shapes and column names must be
/// the same on the three, and fit the parties' columns). Returns the deliveries with their
/// shape announcement (`d` and names hash).
fn agree_owner_shapes(
    p: &mut Party,
    got: &[crate::intake::OwnerData],
    parties: Option<&Vec<u64>>,
    outputs: usize,
) -> Result<Vec<(crate::intake::OwnerData, Vec<u64>)>> {
    let mut mine = Vec::new();
    let mut out = Vec::new();
    for o in got {
        let t = &o.tensors;
        let d = t[0].shape()[1];
        let ok = t[2].shape()[1] == d
            && t[1].shape()[1] == outputs
            && t[3].shape()[1] == outputs
            && t[0].shape()[0] == t[1].shape()[0]
            && t[2].shape()[0] == t[3].shape()[0];
        if !ok {
            return Err(Error::Intake {
                peer: format!("owner {}", o.owner),
                detail: format!(
                    "tensors of shapes {:?} do not fit {outputs} label columns",
                    t.iter().map(|x| x.shape().to_vec()).collect::<Vec<_>>()
                ),
            });
        }
        let mut shape = vec![d as u64];
        shape.extend(names_hash(&o.names));
        if let Some(ps) = parties
            && *ps != shape
        {
            return Err(Error::Data(format!(
                "the feature columns of owner {} ({d} columns) differ from the parties' ({}) \
                 in number, names or order; list them in data.features",
                o.owner, ps[0]
            )));
        }
        mine.extend([
            o.owner as u64,
            t[0].shape()[0] as u64,
            t[2].shape()[0] as u64,
        ]);
        mine.extend(&shape);
        out.push((o.clone(), shape));
    }
    let all = exchange(p, &mine)?;
    for (server, theirs) in all.iter().enumerate() {
        if *theirs != mine {
            return Err(Error::Data(format!(
                "server {server} received other shapes or columns from the external owners than \
                 this server; an owner sent inconsistent data"
            )));
        }
    }
    Ok(out)
}

/// Shares the horizontally partitioned records: the parties' rows, then the external owners'.
pub(super) fn pool(
    p: &mut Party,
    job: &Job,
    intake: Option<&TlsIdentity>,
    progress: &mut dyn FnMut(&str),
) -> Result<Pooled> {
    let role = p.role();
    let outputs = job.outputs();
    let sources: Vec<&Source> = job.data.sources.iter().collect();
    let local = local_rows(job, role, &sources, p.fixed_point().frac_bits())?;
    // this party's train / test rows
    let (tr, te): (Option<XY>, Option<XY>) = match &local {
        None => (None, None),
        Some(r) => {
            let (a, b) = split_local(job, r)?;
            (Some(a), b)
        }
    };
    let n_tr = tr.as_ref().map_or(0, |m| m.0.nrows());
    let n_te = te.as_ref().map_or(0, |m| m.0.nrows());
    let names = local.as_ref().map(|r| r.names.clone()).unwrap_or_default();
    let d_local = local.as_ref().map_or(0, |r| r.x.ncols());
    let (rows, shape) = agree_shapes(p, &[n_tr, n_te], d_local, &names, "training data")?;
    let owners = match (job.data.owners.is_empty(), intake) {
        (true, _) => Vec::new(),
        (false, None) => {
            return Err(Error::key(
                "data.owners",
                "this party has no TLS identity to accept owners with",
            ));
        }
        (false, Some(id)) => {
            let frac_bits = p.fixed_point().frac_bits();
            let got = crate::intake::receive_owners(job, role, frac_bits, id, progress)?;
            // the owners wait for the servers' joint verdict on what they sent
            let checked = agree_owner_shapes(p, &got.data, shape.as_ref(), outputs)
                .and_then(|o| crate::intake::check_components(p, &got.data).map(|()| o));
            let refused = checked.as_ref().err().map(|e| e.to_string());
            got.answer(refused.as_deref());
            checked?
        }
    };
    let shape = shape.or_else(|| owners.first().map(|o| o.1.clone()));
    let d = columns_of(shape.as_ref(), "training")?;
    let (train_rows, test_rows) = (rows[0], rows[1]);
    let owner_rows = |t: usize| -> usize { owners.iter().map(|o| o.0.tensors[t].shape()[0]).sum() };
    let total_tr: usize = train_rows.iter().sum::<usize>() + owner_rows(0);
    let total_te: usize = test_rows.iter().sum::<usize>() + owner_rows(2);
    progress(&format!(
        "DATA {total_tr} training and {total_te} test rows of {d} features (parties hold {:?} + {:?}, \
         {} external owners)",
        train_rows,
        test_rows,
        owners.len()
    ));
    let pooled =
        |p: &mut Party, rows: &[usize; 3], cols: usize, mine: Option<&Array2<f64>>, t: usize| {
            let mut parts = Vec::new();
            if rows.iter().any(|&r| r > 0) {
                parts.push(share_blocks(p, rows, cols, mine)?);
            }
            for (o, _) in owners.iter() {
                if o.tensors[t].shape()[0] > 0 {
                    parts.push(o.tensors[t].clone());
                }
            }
            Ok::<_, Error>(AShare::concat(0, &parts.iter().collect::<Vec<_>>())?)
        };
    let x = pooled(p, &train_rows, d, tr.as_ref().map(|m| &m.0), 0)?;
    let y = pooled(p, &train_rows, outputs, tr.as_ref().map(|m| &m.1), 1)?;
    let test = if total_te > 0 {
        Some((
            pooled(p, &test_rows, d, te.as_ref().map(|m| &m.0), 2)?,
            pooled(p, &test_rows, outputs, te.as_ref().map(|m| &m.1), 3)?,
        ))
    } else {
        None
    };
    Ok(Pooled {
        x,
        y,
        test,
        d,
        features: shape.map(|s| s[1..].to_vec()).unwrap_or_default(),
        train_rows: total_tr,
        test_rows: total_te,
    })
}
