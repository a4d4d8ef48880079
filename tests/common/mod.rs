//! Shared by the process tests: the README walkthrough's set-up and running three servers.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use trefoil::deploy::{PartyRun, free_port};

pub const BIN: &str = env!("CARGO_BIN_EXE_trefoil");

/// The README's `# file: NAME` code blocks, dedented.
pub fn readme_files() -> Vec<(String, String)> {
    let readme = include_str!("../../README.md");
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
    // step 6's keygen (with an owner certificate) covers step 1's
    run(
        &[
            "keygen",
            "--parties",
            "3",
            "--owners",
            "1",
            "--out",
            "certs",
        ],
        root,
    );
    run(&["sample-data", "--out", "data"], root);
    let files = readme_files();
    let get = |name: &str| {
        files
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.clone())
            .unwrap_or_else(|| panic!("README has no `# file: {name}` block"))
    };
    let mut config = get("party0.toml");
    let mut pool = get("pool.toml");
    for i in 0..3 {
        let port = |base: usize| format!("127.0.0.1:{}", base + i);
        let free = format!("127.0.0.1:{}", free_port().unwrap());
        config = config.replace(&port(7000), &free);
        let free = format!("127.0.0.1:{}", free_port().unwrap());
        pool = pool.replace(&port(7100), &free);
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
        std::fs::write(dir.join("pool.toml"), &pool).unwrap();
        let csv = format!("hospital{i}.csv");
        std::fs::copy(root.join("data").join(&csv), dir.join(&csv)).unwrap();
    }
    std::fs::copy(
        root.join("data/queries.csv"),
        servers[1].join("queries.csv"),
    )
    .unwrap();
    // the external owner's machine: the CA, its own certificate, the job and its CSV
    let owner = root.join("owner0");
    std::fs::create_dir_all(owner.join("certs")).unwrap();
    for f in ["ca.pem", "owner0.pem", "owner0.key"] {
        std::fs::copy(root.join("certs").join(f), owner.join("certs").join(f)).unwrap();
    }
    std::fs::write(owner.join("pool.toml"), &pool).unwrap();
    std::fs::copy(root.join("data/hospital2.csv"), owner.join("hospital2.csv")).unwrap();
    servers
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

/// Runs `trefoil share` as the README's step 6 says, from `root/owner0`, with `cert` as the
/// owner's certificate name (e.g. `owner0`).
pub fn share(root: &Path, cert: &str) -> std::process::Output {
    Command::new(BIN)
        .args([
            "share",
            "--job",
            "pool.toml",
            "--owner",
            "0",
            "--csv",
            "hospital2.csv",
        ])
        .args(["--ca", "certs/ca.pem"])
        .arg("--cert")
        .arg(format!("certs/{cert}.pem"))
        .arg("--key")
        .arg(format!("certs/{cert}.key"))
        .current_dir(root.join("owner0"))
        .output()
        .unwrap()
}
