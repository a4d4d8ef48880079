//! The command line: `--help` of every command, and every bad flag, file or value gives an
//! error naming it (single processes where the error comes before connecting, three processes on
//! loopback where it comes after); `demo --processes` runs three processes and succeeds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{BIN, run_each, setup};
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

fn trefoil(args: &[&str], cwd: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn every_command_has_help() {
    let dir = std::env::temp_dir();
    for (args, want) in [
        (vec!["--help"], "Commands:"),
        (vec!["demo", "--help"], "--processes"),
        (vec!["keygen", "--help"], "--out <DIR>"),
        (vec!["party", "--help"], "--job <FILE>"),
        (vec!["sample-data", "--help"], "--hospitals <N>"),
        (vec!["help", "party"], "--config <FILE>"),
    ] {
        let o = trefoil(&args, &dir);
        assert!(o.status.success(), "{args:?}: {o:?}");
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.contains(want), "{args:?}: {text}");
    }
    let o = trefoil(&["fly"], &dir);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("unrecognized subcommand 'fly'"),
        "{}",
        stderr(&o)
    );
    let o = trefoil(&["party"], &dir);
    assert!(stderr(&o).contains("--config <FILE>"), "{}", stderr(&o));
    let o = trefoil(&["keygen", "--parties", "x", "--out", "c"], &dir);
    assert!(stderr(&o).contains("'--parties <N>'"), "{}", stderr(&o));
    let o = trefoil(&["demo", "--owner", "3"], &dir);
    assert!(stderr(&o).contains("--owner"), "{}", stderr(&o));
    let o = trefoil(
        &[
            "sample-data",
            "--vertical",
            "--hospitals",
            "4",
            "--out",
            "v",
        ],
        &dir,
    );
    assert!(stderr(&o).contains("--hospitals"), "{}", stderr(&o));
}

#[test]
fn bad_files_and_values_are_named_before_connecting() {
    let tmp = tempfile::tempdir().unwrap();
    let servers = setup(tmp.path());
    let s0 = &servers[0];
    let job = std::fs::read_to_string(s0.join("job.toml")).unwrap();
    let cfg = std::fs::read_to_string(s0.join("party0.toml")).unwrap();
    let cases: Vec<(&str, String, String, &str)> = vec![
        (
            "unknown key",
            cfg.clone(),
            job.replace("epochs = 10", "epochz = 10"),
            "epochz",
        ),
        (
            "bad value",
            cfg.clone(),
            job.replace("epochs = 10", "epochs = 0"),
            "train.epochs",
        ),
        (
            "bad model",
            cfg.clone(),
            job.replace("\"mlp\"", "\"cnn\""),
            "model.name",
        ),
        (
            "bad party",
            cfg.clone(),
            job.replace("party = 2", "party = 7"),
            "data.sources[2].party",
        ),
        (
            "bad role",
            cfg.replace("role = 0", "role = 5"),
            job.clone(),
            "`role`",
        ),
        (
            "missing certificate",
            cfg.replace("certs/party0.pem", "certs/nope.pem"),
            job.clone(),
            "nope.pem",
        ),
        (
            "config key",
            format!("colour = 1\n{cfg}"),
            job.clone(),
            "`colour`",
        ),
    ];
    for (case, c, j, want) in cases {
        std::fs::write(s0.join("c.toml"), c).unwrap();
        std::fs::write(s0.join("j.toml"), j).unwrap();
        let o = trefoil(&["party", "--config", "c.toml", "--job", "j.toml"], s0);
        assert!(!o.status.success(), "{case}");
        assert!(stderr(&o).contains(want), "{case}: {}", stderr(&o));
    }
    let o = trefoil(
        &["party", "--config", "party0.toml", "--job", "none.toml"],
        s0,
    );
    assert!(stderr(&o).contains("none.toml"), "{}", stderr(&o));
    let o = trefoil(&["party", "--config", "none.toml"], s0);
    assert!(stderr(&o).contains("none.toml"), "{}", stderr(&o));
}

/// Edits `job.toml` in server `i`'s folder.
fn edit_job(dir: &Path, from: &str, to: &str) {
    let p = dir.join("job.toml");
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.contains(from), "{from}");
    std::fs::write(&p, text.replace(from, to)).unwrap();
}

#[test]
fn data_errors_and_job_mismatch_fail_every_party_with_a_named_cause() {
    let limit = Duration::from_secs(60);
    // a missing CSV at server 2: it names the file, and tells the others, who name it too
    let tmp = tempfile::tempdir().unwrap();
    let servers = setup(tmp.path());
    std::fs::remove_file(servers[2].join("hospital2.csv")).unwrap();
    let runs = run_each(&servers, "job.toml", limit);
    assert!(runs.iter().all(|r| !r.success));
    assert!(
        runs[2].stderr.contains("hospital2.csv"),
        "{}",
        runs[2].stderr
    );
    for r in &runs[..2] {
        assert!(
            r.stderr.contains("party 2 aborted the session") && r.stderr.contains("hospital2.csv"),
            "{}: {}",
            r.role,
            r.stderr
        );
    }

    // a feature column no file has
    for s in &servers {
        edit_job(
            s,
            "# features = [\"mean radius\", \"mean texture\"]",
            "features = [\"mean radius\", \"tumour colour\"]",
        );
    }
    let runs = run_each(&servers, "job.toml", limit);
    assert!(runs.iter().all(|r| !r.success));
    assert!(
        runs[0].stderr.contains("\"tumour colour\""),
        "{}",
        runs[0].stderr
    );

    // a label that is not one of the job's classes
    let tmp = tempfile::tempdir().unwrap();
    let servers = setup(tmp.path());
    for s in &servers {
        edit_job(
            s,
            "[\"malignant\", \"benign\"]",
            "[\"malignant\", \"healthy\"]",
        );
    }
    let runs = run_each(&servers, "job.toml", limit);
    assert!(runs.iter().all(|r| !r.success));
    assert!(runs[0].stderr.contains("\"benign\""), "{}", runs[0].stderr);

    // server 2 runs another job file: every server stops with `job mismatch`
    let tmp = tempfile::tempdir().unwrap();
    let servers = setup(tmp.path());
    edit_job(&servers[2], "epochs = 10", "epochs = 11");
    let runs = run_each(&servers, "job.toml", limit);
    for r in &runs {
        assert!(!r.success);
        assert!(
            r.stderr.contains("job mismatch"),
            "{}: {}",
            r.role,
            r.stderr
        );
    }
}

#[test]
fn demo_processes_runs_three_processes_over_tls() {
    let tmp = tempfile::tempdir().unwrap();
    let o = trefoil(
        &["demo", "--processes", "--epochs", "3", "--owner", "2"],
        tmp.path(),
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}\n{}", stderr(&o));
    // both models of the in-process demo, each as its own job
    for (slug, section) in [
        ("logreg", "== logistic regression"),
        ("mlp", "== MLP 30-16-1"),
    ] {
        let part = out
            .split("\n== ")
            .find(|p| p.starts_with(section.trim_start_matches("== ")))
            .unwrap_or_else(|| panic!("no section {section}: {out}"));
        assert!(part.contains(&format!("hospitals-demo-{slug}")), "{part}");
        for role in 0..3 {
            let line = part
                .lines()
                .find(|l| l.starts_with(&format!("party {role}: {{")))
                .unwrap_or_else(|| panic!("no result of party {role} for {slug}: {out}"));
            let v: serde_json::Value = serde_json::from_str(&line[9..]).unwrap();
            assert!(v["accuracy"].as_f64().unwrap() >= 0.9, "{line}");
            assert_eq!(v["model_written"].is_string(), role == 2, "{line}");
        }
        // the owner's model outlives the temporary deployment folder
        let kept = tmp.path().join(format!(
            "trefoil-out/hospital2-processes-{slug}.safetensors"
        ));
        let params = trefoil::nn::io::import_safetensors(&kept).unwrap();
        let names: Vec<&str> = params.iter().map(|(n, _)| n.as_str()).collect();
        assert!(names.iter().any(|n| n.ends_with("weight")), "{names:?}");
    }
    assert!(out.contains("hospital 2's model:"), "{out}");
}

#[test]
fn demo_processes_vertical_trains_on_column_split_files() {
    let tmp = tempfile::tempdir().unwrap();
    let o = trefoil(
        &[
            "demo",
            "--processes",
            "--vertical",
            "--epochs",
            "3",
            "--no-files",
        ],
        tmp.path(),
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}\n{}", stderr(&o));
    assert!(
        out.contains("each hospital holds some measurements"),
        "{out}"
    );
    let results: Vec<serde_json::Value> = out
        .lines()
        .filter_map(|l| l.split_once(": {").map(|(_, j)| format!("{{{j}")))
        .map(|j| serde_json::from_str(&j).unwrap())
        .collect();
    assert_eq!(results.len(), 6, "{out}");
    for v in &results {
        assert!(v["accuracy"].as_f64().unwrap() >= 0.9, "{v}");
        assert_eq!(v["train_rows"], 410, "{v}");
    }
    assert!(!tmp.path().join("trefoil-out").exists());
    // the sample data of a vertical walkthrough: columns per hospital, labels at hospital 2
    let o = trefoil(&["sample-data", "--vertical", "--out", "v"], tmp.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let header = |i: usize| {
        let t = std::fs::read_to_string(tmp.path().join(format!("v/hospital{i}.csv"))).unwrap();
        t.lines().next().unwrap().to_string()
    };
    assert!(!header(0).contains("diagnosis") && !header(1).contains("diagnosis"));
    assert!(header(2).ends_with("diagnosis"), "{}", header(2));
}

#[test]
fn servers_stop_waiting_for_a_missing_owner() {
    let tmp = tempfile::tempdir().unwrap();
    let servers = setup(tmp.path());
    for s in &servers {
        let p = s.join("pool.toml");
        let text = std::fs::read_to_string(&p).unwrap();
        std::fs::write(&p, text.replace("timeout_ms = 60000", "timeout_ms = 1500")).unwrap();
    }
    let runs = run_each(&servers, "pool.toml", Duration::from_secs(60));
    for r in &runs {
        assert!(!r.success);
        assert!(
            r.stderr
                .contains("timed out after 1500 ms waiting for owners [0]"),
            "{}: {}",
            r.role,
            r.stderr
        );
    }
}
