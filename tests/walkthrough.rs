//! The README's "Three machines" walkthrough, run as processes on loopback: `keygen`,
//! `sample-data`, one folder per server with only its own certificate, config, CSV and the job
//! files taken verbatim from the README (`# file: NAME` blocks; the ports are replaced by free
//! ones), then three `trefoil party --job job.toml` processes (train), then three with
//! `predict.toml` (infer). Checks the accuracy, that only server 0 got the model file and only
//! server 1 the predictions. Every wait is bounded; children are killed at the end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{run_each, setup, share};
use std::time::Duration;
use trefoil::deploy::PartyRun;

fn json(r: &PartyRun) -> serde_json::Value {
    assert!(
        r.success,
        "party {} failed: {}\n{:?}",
        r.role, r.stderr, r.stdout
    );
    serde_json::from_str(r.result().expect("no RESULT line")).unwrap()
}

/// Swaps the columns named `x` and `y` of the CSV at `path` (header and values).
fn swap_columns(path: &std::path::Path, x: &str, y: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (a, b) = (col(x), col(y));
    let swapped: String = text
        .lines()
        .map(|l| {
            let mut f: Vec<&str> = l.split(',').collect();
            f.swap(a, b);
            f.join(",") + "\n"
        })
        .collect();
    std::fs::write(path, swapped).unwrap();
}

#[test]
fn readme_three_machine_walkthrough_trains_and_predicts() {
    let tmp = tempfile::tempdir().unwrap();
    let servers = setup(tmp.path());
    let limit = Duration::from_secs(120);

    let runs = run_each(&servers, "job.toml", limit);
    let reports: Vec<_> = runs.iter().map(json).collect();
    let acc = reports[0]["accuracy"].as_f64().unwrap();
    assert!(acc >= 0.9, "test accuracy {acc}");
    for r in &reports {
        assert_eq!(r["accuracy"].as_f64().unwrap(), acc);
        assert_eq!(r["train_rows"], reports[0]["train_rows"]);
    }
    // only server 0 received the model; each server has its own share file
    assert!(servers[0].join("model.safetensors").exists());
    for (i, s) in servers.iter().enumerate() {
        assert_eq!(s.join("model.safetensors").exists(), i == 0, "server {i}");
        assert!(s.join(format!("shares-party{i}.safetensors")).exists());
    }
    let model = trefoil::nn::io::import_safetensors(&servers[0].join("model.safetensors")).unwrap();
    assert!(model.iter().any(|(n, _)| n == "fc1.weight"), "{model:?}");

    let runs = run_each(&servers, "predict.toml", limit);
    let reports: Vec<_> = runs.iter().map(json).collect();
    let acc = reports[1]["accuracy"].as_f64().unwrap();
    assert!(acc >= 0.9, "query accuracy {acc}");
    for (i, s) in servers.iter().enumerate() {
        assert_eq!(s.join("predictions.csv").exists(), i == 1, "server {i}");
    }
    let preds = std::fs::read_to_string(servers[1].join("predictions.csv")).unwrap();
    let rows = preds.lines().count() - 1;
    assert_eq!(rows as u64, reports[1]["test_rows"].as_u64().unwrap());
    assert!(preds.starts_with("row,diagnosis\n0,"), "{preds}");

    // the README's alternative: server 0 enters its plaintext model file as secret shares
    for s in &servers {
        let p = s.join("predict.toml");
        let text = std::fs::read_to_string(&p).unwrap().replace(
            "shares = \"shares-party{role}.safetensors\"",
            "weights = { party = 0, path = \"model.safetensors\" }",
        );
        let text = text.replace("shares_job = \"cancer-2026-12\"", "");
        std::fs::write(&p, text).unwrap();
        let _ = std::fs::remove_file(s.join("predictions.csv"));
    }
    let runs = run_each(&servers, "predict.toml", limit);
    let reports: Vec<_> = runs.iter().map(json).collect();
    assert_eq!(reports[1]["accuracy"].as_f64().unwrap(), acc);
    let again = std::fs::read_to_string(servers[1].join("predictions.csv")).unwrap();
    assert_eq!(again, preds);

    // queries with two feature columns swapped (header and values): refused, not mispredicted
    swap_columns(
        &servers[1].join("queries.csv"),
        "mean area",
        "mean smoothness",
    );
    let _ = std::fs::remove_file(servers[1].join("predictions.csv"));
    let refused = |runs: &[PartyRun], who: &[usize]| {
        assert!(runs.iter().all(|r| !r.success), "{runs:?}");
        for &i in who {
            assert!(
                runs[i]
                    .stderr
                    .contains("differ in names or order from those the model"),
                "party {i}: {}",
                runs[i].stderr
            );
        }
        assert!(!servers[1].join("predictions.csv").exists());
    };
    // the weights' party (0) reads the plaintext model file, every party its share file
    refused(&run_each(&servers, "predict.toml", limit), &[0]);
    for s in &servers {
        let p = s.join("predict.toml");
        let text = std::fs::read_to_string(&p).unwrap().replace(
            "weights = { party = 0, path = \"model.safetensors\" }",
            "shares = \"shares-party{role}.safetensors\"",
        );
        std::fs::write(&p, text).unwrap();
    }
    refused(&run_each(&servers, "predict.toml", limit), &[0, 1, 2]);
}

#[test]
fn readme_external_owner_feeds_the_training() {
    let tmp = tempfile::tempdir().unwrap();
    let servers = setup(tmp.path());
    let limit = Duration::from_secs(120);
    let s2 = servers.clone();
    let job = std::thread::spawn(move || run_each(&s2, "pool.toml", limit));
    // a server's certificate is not an owner's: refused, with the reason
    let bad = share(tmp.path(), "../../certs/party2");
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("not for an expected owner"), "{err}");
    let ok = share(tmp.path(), "owner0");
    assert!(ok.status.success(), "{ok:?}");
    let reports: Vec<_> = job.join().unwrap().iter().map(json).collect();
    let acc = reports[0]["accuracy"].as_f64().unwrap();
    assert!(acc >= 0.9, "{acc}");
    // all three hospitals' rows: as many as in the walkthrough's job
    assert_eq!(reports[0]["train_rows"].as_u64().unwrap(), 410);
    for (i, s) in servers.iter().enumerate() {
        assert_eq!(s.join("pool-model.safetensors").exists(), i == 0);
    }
}

/// `trefoil share` succeeds only when the servers accept the data: an owner whose columns are
/// in another order than the servers' (two swapped) is refused by all three after their joint
/// check, and the owner exits with an error saying why (before, it exited 0).
#[test]
fn an_owner_whose_rows_the_servers_refuse_is_told_why() {
    let tmp = tempfile::tempdir().unwrap();
    let servers = setup(tmp.path());
    swap_columns(
        &tmp.path().join("owner0/hospital2.csv"),
        "mean area",
        "mean smoothness",
    );
    let s2 = servers.clone();
    let job = std::thread::spawn(move || run_each(&s2, "pool.toml", Duration::from_secs(120)));
    let out = share(tmp.path(), "owner0");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{out:?}");
    assert!(
        err.contains("refused the data") && err.contains("differ from the parties'"),
        "{err}"
    );
    for r in job.join().unwrap() {
        assert!(!r.success);
        assert!(
            r.stderr.contains("differ from the parties'"),
            "{}",
            r.stderr
        );
        assert!(!servers[r.role].join("pool-model.safetensors").exists());
    }
}
