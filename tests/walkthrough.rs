//! The README's "Three machines" walkthrough, run as processes on loopback: `keygen`,
//! `sample-data`, one folder per server with only its own certificate, config, CSV and the job
//! files taken verbatim from the README (`# file: NAME` blocks; the ports are replaced by free
//! ones), then three `trefoil party --job job.toml` processes (train), then three with
//! `predict.toml` (infer). Checks the accuracy, that only server 0 got the model file and only
//! server 1 the predictions. Every wait is bounded; children are killed at the end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use trefoil::deploy::{PartyRun, free_port};

const BIN: &str = env!("CARGO_BIN_EXE_trefoil");

/// The README's `# file: NAME` code blocks, dedented.
pub fn readme_files() -> Vec<(String, String)> {
    let readme = include_str!("../README.md");
    let mut out = Vec::new();
    let mut lines = readme.lines();
    while let Some(l) = lines.next() {
        if l.trim() != "```toml" {
            continue;
        }
        let indent = l.len() - l.trim_start().len();
        let body: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
        if let Some(name) = body.first().and_then(|f| f.trim().strip_prefix("# file: ")) {
            let text: String = body[1..]
                .iter()
                .map(|l| format!("{}\n", l.get(indent..).unwrap_or("")))
                .collect();
            out.push((name.to_string(), text));
        }
    }
    out
}

fn run(args: &[&str], cwd: &Path) {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {out:?}");
}

/// Sets up `root/server{0,1,2}` as the walkthrough says; returns the server folders.
pub fn setup(root: &Path) -> [PathBuf; 3] {
    run(&["keygen", "--parties", "3", "--out", "certs"], root);
    run(&["sample-data", "--out", "data"], root);
    let files = readme_files();
    let get = |name: &str| {
        files
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.clone())
            .unwrap_or_else(|| panic!("README has no `# file: {name}` block"))
    };
    let ports = [
        free_port().unwrap(),
        free_port().unwrap(),
        free_port().unwrap(),
    ];
    let mut config = get("party0.toml");
    for (i, p) in ports.iter().enumerate() {
        config = config.replace(
            &format!("127.0.0.1:{}", 7000 + i),
            &format!("127.0.0.1:{p}"),
        );
    }
    let servers = [0, 1, 2].map(|i| root.join(format!("server{i}")));
    for (i, dir) in servers.iter().enumerate() {
        std::fs::create_dir_all(dir.join("certs")).unwrap();
        for f in [
            "ca.pem".to_string(),
            format!("party{i}.pem"),
            format!("party{i}.key"),
        ] {
            std::fs::copy(root.join("certs").join(&f), dir.join("certs").join(&f)).unwrap();
        }
        let cfg = config
            .replace("role = 0", &format!("role = {i}"))
            .replace("party0.", &format!("party{i}."));
        std::fs::write(dir.join(format!("party{i}.toml")), cfg).unwrap();
        std::fs::write(dir.join("job.toml"), get("job.toml")).unwrap();
        std::fs::write(dir.join("predict.toml"), get("predict.toml")).unwrap();
        let csv = format!("hospital{i}.csv");
        std::fs::copy(root.join("data").join(&csv), dir.join(&csv)).unwrap();
    }
    std::fs::copy(
        root.join("data/queries.csv"),
        servers[1].join("queries.csv"),
    )
    .unwrap();
    servers
}

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

/// Runs the three servers, each from its own folder (its config, its job file copy).
pub fn run_each(servers: &[PathBuf; 3], job: &str, limit: Duration) -> Vec<PartyRun> {
    trefoil::deploy::run_party_set(
        BIN.as_ref(),
        &[0, 1, 2].map(|i| {
            (
                servers[i].join(format!("party{i}.toml")),
                servers[i].join(job),
            )
        }),
        limit,
    )
    .unwrap()
}
