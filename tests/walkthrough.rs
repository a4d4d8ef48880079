//! The README's "Three machines" walkthrough, run as processes on loopback: `keygen`,
//! `sample-data`, one folder per server with only its own certificate, config, CSV and the job
//! files taken verbatim from the README (`# file: NAME` blocks; the ports are replaced by free
//! ones), then three `trefoil party --job job.toml` processes (train), then three with
//! `predict.toml` (infer). Checks the accuracy, that only server 0 got the model file and only
//! server 1 the predictions. Every wait is bounded; children are killed at the end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{run_each, setup};
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
}
