//! Three OS processes (the `trefoil` binary) on loopback with mutual TLS: the demo computation
//! (share, matmul, truncation, reveal) gives the right answer on every party; a killed peer, a
//! mismatched session setting, a party started without the others' job, a certificate for
//! another role, garbage bytes written to a port and an oversized frame each give the expected
//! error. Every wait is bounded and every child is killed when the test ends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_trefoil");

/// Kills the child on drop, so a failing test leaves nothing running.
struct Guard(Child);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    trefoil::deploy::free_port().unwrap()
}

/// Writes certificates and three configs into `dir`; `frac_bits[i]` for party i.
fn prepare(dir: &Path, frac_bits: [u32; 3]) {
    let out = Command::new(BIN)
        .args(["keygen", "--parties", "3", "--out"])
        .arg(dir.join("certs"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let ports = [free_port(), free_port(), free_port()];
    for (role, bits) in frac_bits.iter().enumerate() {
        let cfg = format!(
            "role = {role}\n\
             addresses = [\"127.0.0.1:{}\", \"127.0.0.1:{}\", \"127.0.0.1:{}\"]\n\
             session_id = \"process-test\"\n\
             frac_bits = {}\n\
             connect_timeout_ms = 10000\n\
             recv_timeout_ms = 10000\n\
             [tls]\n\
             ca = \"certs/ca.pem\"\n\
             cert = \"certs/party{role}.pem\"\n\
             key = \"certs/party{role}.key\"\n",
            ports[0], ports[1], ports[2], bits
        );
        std::fs::write(dir.join(format!("party{role}.toml")), cfg).unwrap();
    }
}

/// Starts party `role`; its stdout lines arrive on the returned channel.
fn spawn(dir: &Path, role: usize, extra: &[&str]) -> (Guard, mpsc::Receiver<String>) {
    let mut child = Command::new(BIN)
        .arg("party")
        .arg("--config")
        .arg(dir.join(format!("party{role}.toml")))
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (Guard(child), rx)
}

/// Waits (bounded) for the child to exit; returns success and its stderr.
fn finish(g: &mut Guard, limit: Duration) -> (bool, String) {
    let start = Instant::now();
    loop {
        if let Some(status) = g.0.try_wait().unwrap() {
            let mut err = String::new();
            if let Some(mut e) = g.0.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            return (status.success(), err);
        }
        assert!(
            start.elapsed() < limit,
            "a party did not finish within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn result_values(lines: &mpsc::Receiver<String>) -> Vec<f64> {
    let line = lines
        .try_iter()
        .find(|l| l.starts_with("RESULT "))
        .expect("no RESULT line");
    let v: serde_json::Value = serde_json::from_str(&line["RESULT ".len()..]).unwrap();
    v["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// The demo's inputs, as in `src/bin/trefoil.rs`.
fn expected() -> Vec<f64> {
    let x = |i: usize, j: usize| ((i * 8 + j) % 7) as f64 / 4.0 - 0.75;
    let y = |i: usize, j: usize| ((i * 3 + j * 5) % 11) as f64 / 8.0 - 0.5;
    let mut out = Vec::new();
    for i in 0..8 {
        for j in 0..8 {
            out.push((0..8).map(|k| x(i, k) * y(k, j)).sum());
        }
    }
    out
}

#[test]
fn three_processes_over_tls_compute_the_demo() {
    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path(), [16, 16, 16]);
    let mut parties: Vec<_> = (0..3).map(|r| spawn(dir.path(), r, &[])).collect();
    let want = expected();
    for (g, lines) in &mut parties {
        let (ok, err) = finish(g, Duration::from_secs(30));
        assert!(ok, "party failed: {err}");
        let got = result_values(lines);
        assert_eq!(got.len(), want.len());
        for (a, b) in got.iter().zip(&want) {
            // fixed point with 16 bits, two truncations: a few units of 2^-14
            assert!((a - b).abs() < 1e-3, "{a} vs {b}");
        }
    }
}

#[test]
fn killed_peer_and_mismatched_setting_fail_the_others() {
    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path(), [16, 16, 16]);
    let mut p0 = spawn(dir.path(), 0, &[]);
    let mut victim = spawn(dir.path(), 1, &["--stall-ms", "20000"]);
    let mut p2 = spawn(dir.path(), 2, &[]);
    // kill party 1 once the session is up and it is stalling
    let line = victim.1.recv_timeout(Duration::from_secs(20)).unwrap();
    assert!(line.starts_with("CONNECTED"), "{line}");
    victim.0.0.kill().unwrap();
    for (g, _) in [&mut p0, &mut p2] {
        let (ok, err) = finish(g, Duration::from_secs(20));
        assert!(!ok);
        assert!(err.contains("party 1 disconnected"), "{err}");
        eprintln!("killed-peer case, stderr: {err}");
    }
    drop(victim);

    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path(), [16, 16, 12]);
    for err in run_all_failing(dir.path(), "a settings mismatch") {
        assert!(err.contains("session settings mismatch"), "{err}");
        eprintln!("mismatch case, stderr: {err}");
    }

    // parties 0 and 1 run a job, party 2 was started without one: all three say so in the
    // handshake (before, party 2's check computation met a framing error)
    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path(), [16, 16, 16]);
    let job = dir.path().join("job.toml");
    let text = trefoil::deploy::demo_model_job_text(
        trefoil::deploy::DemoModel::LogisticRegression,
        1,
        0,
        trefoil::job::Partition::Horizontal,
    );
    std::fs::write(&job, text).unwrap();
    let with_job = ["--job", job.to_str().unwrap()];
    let mut parties: Vec<_> = (0..3)
        .map(|r| spawn(dir.path(), r, if r < 2 { &with_job[..] } else { &[] }))
        .collect();
    for (g, _) in &mut parties {
        let (ok, err) = finish(g, Duration::from_secs(30));
        assert!(!ok);
        assert!(
            err.contains("job mismatch") && err.contains("no job"),
            "{err}"
        );
    }
}

/// Runs the three parties configured in `dir`; every one must fail (bounded wait). Returns their
/// stderr in role order.
fn run_all_failing(dir: &Path, case: &str) -> Vec<String> {
    let mut parties: Vec<_> = (0..3).map(|r| spawn(dir, r, &[])).collect();
    parties
        .iter_mut()
        .map(|(g, _)| {
            let (ok, err) = finish(g, Duration::from_secs(30));
            assert!(!ok, "a party succeeded despite {case}");
            err
        })
        .collect()
}

/// Replaces `from` by `to` in party `role`'s config written by [`prepare`].
fn edit_config(dir: &Path, role: usize, from: &str, to: &str) {
    let path = dir.join(format!("party{role}.toml"));
    let text = std::fs::read_to_string(&path).unwrap().replace(from, to);
    std::fs::write(&path, text).unwrap();
}

/// The first address (party 0's) written by [`prepare`].
fn party0_addr(dir: &Path) -> String {
    let cfg = std::fs::read_to_string(dir.join("party0.toml")).unwrap();
    let start = cfg.find("127.0.0.1:").unwrap();
    let end = start + cfg[start..].find('"').unwrap();
    cfg[start..end].to_string()
}

#[test]
fn wrong_certificate_garbage_and_oversized_frame_in_processes() {
    // party 2 presents party 1's (valid) certificate: refused, and every party stops with an error
    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path(), [16, 16, 16]);
    edit_config(dir.path(), 2, "party2.", "party1.");
    let errs = run_all_failing(dir.path(), "a wrong certificate");
    assert!(
        errs.iter().any(|e| e.contains("not for trefoil-party-2")),
        "{errs:?}"
    );

    // a stranger writes garbage to party 0's port while it waits for its peers
    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path(), [16, 16, 16]);
    let mut p0 = spawn(dir.path(), 0, &[]);
    let addr = party0_addr(dir.path());
    let start = Instant::now();
    let mut stream = loop {
        match std::net::TcpStream::connect(&addr) {
            Ok(s) => break s,
            Err(e) => {
                assert!(
                    start.elapsed() < Duration::from_secs(10),
                    "party 0 never listened: {e}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    };
    std::io::Write::write_all(&mut stream, &[0x5a; 64]).unwrap();
    let (ok, err) = finish(&mut p0.0, Duration::from_secs(30));
    assert!(!ok);
    assert!(err.contains("unidentified connection"), "{err}");
    drop(stream);

    // party 0 accepts frames of at most 64 bytes: the first larger one is refused by size
    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path(), [16, 16, 16]);
    edit_config(dir.path(), 0, "[tls]", "max_frame_bytes = 64\n[tls]");
    let errs = run_all_failing(dir.path(), "an oversized frame");
    assert!(errs[0].contains("above the maximum of 64"), "{errs:?}");
}
