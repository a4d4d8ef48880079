//! The signed, hash-chained audit log: an intact log verifies and can be continued; every kind
//! of tampering is found at the right line with the right reason, by the library and by
//! `trefoil audit verify`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ring::digest::{SHA256, digest};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;
use std::path::{Path, PathBuf};
use std::process::Command;
use trefoil::Error;
use trefoil::audit::{AuditEntry, AuditLog, AuditRecord, DOMAIN, Fault, GENESIS, verify};

const BIN: &str = env!("CARGO_BIN_EXE_trefoil");

struct Keys {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Keys {
    fn new() -> Keys {
        let dir = tempfile::tempdir().unwrap();
        let m = mpc_net::keygen::generate(3, "test CA").unwrap();
        m.write_to(dir.path()).unwrap();
        let root = dir.path().to_path_buf();
        Keys { _dir: dir, root }
    }
    fn key(&self, role: usize) -> PathBuf {
        self.root.join(format!("party{role}.key"))
    }
    fn cert(&self, role: usize) -> PathBuf {
        self.root.join(format!("party{role}.pem"))
    }
    fn ca(&self) -> PathBuf {
        self.root.join("ca.pem")
    }
    fn log(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }
}

/// Writes `n` entries to party 0's log at `path`.
fn write_log(keys: &Keys, path: &Path, n: u64) -> AuditLog {
    let mut log = AuditLog::open(path, 0, &keys.key(0)).unwrap();
    for step in 0..n {
        let (what, to, shape): (&str, Option<usize>, &[usize]) = if step % 2 == 0 {
            ("metrics", None, &[1])
        } else {
            ("model", Some(0), &[30, 2])
        };
        let e = log
            .append(&AuditRecord {
                job_id: "job-7",
                job_hash: "ab12",
                step,
                what,
                to,
                shape,
            })
            .unwrap();
        assert_eq!(e.seq, step + 1);
    }
    log
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn put_lines(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).unwrap();
}

/// The break `verify` reports: (line, seq, fault).
fn broken(log: &Path, keys: &Keys) -> (usize, Option<u64>, Fault) {
    match verify(log, &keys.cert(0), Some(&keys.ca())) {
        Err(Error::AuditChain {
            line, seq, fault, ..
        }) => (line, seq, fault),
        other => panic!("expected a chain error, got {other:?}"),
    }
}

/// Copies the intact log to a new file and applies `edit` to its lines.
fn tampered(keys: &Keys, good: &Path, name: &str, edit: impl FnOnce(&mut Vec<String>)) -> PathBuf {
    let mut l = lines(good);
    edit(&mut l);
    let p = keys.log(name);
    put_lines(&p, &l);
    p
}

fn json(line: &str) -> serde_json::Value {
    serde_json::from_str(line).unwrap()
}

/// Re-hashes `line` after its (edited) entry and signs it with the key at `key`, as someone
/// holding that key would.
fn reseal(line: &str, key: &Path) -> String {
    let mut v = json(line);
    let entry: AuditEntry = serde_json::from_value(v["entry"].clone()).unwrap();
    let prev = v["prev"].as_str().unwrap();
    let prev: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&prev[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let mut msg = DOMAIN.to_vec();
    msg.extend_from_slice(&prev);
    msg.extend_from_slice(&serde_json::to_vec(&entry).unwrap());
    let hash = digest(&SHA256, &msg);
    let pem = std::fs::read(key).unwrap();
    let PrivateKeyDer::Pkcs8(der) = PrivateKeyDer::from_pem_slice(&pem).unwrap() else {
        panic!("pkcs8")
    };
    let rng = SystemRandom::new();
    let kp = EcdsaKeyPair::from_pkcs8(
        &ECDSA_P256_SHA256_ASN1_SIGNING,
        der.secret_pkcs8_der(),
        &rng,
    )
    .unwrap();
    let sig = kp.sign(&rng, hash.as_ref()).unwrap();
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    v["hash"] = hex(hash.as_ref()).into();
    v["sig"] = hex(sig.as_ref()).into();
    v.to_string()
}

#[test]
fn an_intact_log_verifies_and_is_continued() {
    let keys = Keys::new();
    let path = keys.log("audit0.jsonl");
    let log = write_log(&keys, &path, 5);
    let last = log.last_hash();
    drop(log);
    let r = verify(&path, &keys.cert(0), Some(&keys.ca())).unwrap();
    assert_eq!(r.entries, 5);
    assert_eq!(r.last_hash, last);
    assert_eq!(r.party, 0);
    assert_eq!(r.job_ids, vec!["job-7".to_string()]);
    let first = json(&lines(&path)[0]);
    assert_eq!(first["prev"], GENESIS);
    assert_eq!(first["entry"]["to"], "all");
    assert_eq!(json(&lines(&path)[1])["entry"]["to"], "party 0");
    assert_eq!(
        json(&lines(&path)[1])["entry"]["shape"],
        serde_json::json!([30, 2])
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // reopening continues the chain
    let mut log = AuditLog::open(&path, 0, &keys.key(0)).unwrap();
    assert_eq!((log.entries(), log.last_hash()), (5, last.clone()));
    let event = mpc_core::RevealEvent {
        label: "predictions",
        to: Some(2),
        shape: &[4, 1],
    };
    let e = log
        .append(&AuditRecord::from_event("job-8", "cd34", 9, &event))
        .unwrap();
    assert_eq!(
        (e.seq, e.to.as_str(), e.what.as_str()),
        (6, "party 2", "predictions")
    );
    assert_eq!(json(&lines(&path)[5])["prev"], last);
    let r = verify(&path, &keys.cert(0), None).unwrap();
    assert_eq!(r.entries, 6);
    assert_eq!(r.job_ids, vec!["job-7".to_string(), "job-8".into()]);

    // an empty log is intact
    let empty = keys.log("empty.jsonl");
    drop(AuditLog::open(&empty, 0, &keys.key(0)).unwrap());
    let r = verify(&empty, &keys.cert(0), None).unwrap();
    assert_eq!((r.entries, r.last_hash.as_str()), (0, GENESIS));
}

#[test]
fn every_tampering_is_found_at_its_line() {
    let keys = Keys::new();
    let good = keys.log("good.jsonl");
    drop(write_log(&keys, &good, 5));

    // an edited field
    let p = tampered(&keys, &good, "edited.jsonl", |l| {
        l[1] = l[1].replace("\"model\"", "\"metrics\"");
    });
    assert_eq!(broken(&p, &keys), (2, Some(2), Fault::HashMismatch));

    // a deleted line
    let p = tampered(&keys, &good, "deleted.jsonl", |l| {
        l.remove(2);
    });
    let want = Fault::SeqNotConsecutive {
        expected: 3,
        found: 4,
    };
    assert_eq!(broken(&p, &keys), (3, Some(4), want));

    // a deleted line with the later lines renumbered (no key needed for that)
    let p = tampered(&keys, &good, "renumbered.jsonl", |l| {
        l.remove(2);
        for (i, line) in l.iter_mut().enumerate().skip(2) {
            let mut v = json(line);
            v["entry"]["seq"] = (i as u64 + 1).into();
            *line = v.to_string();
        }
    });
    assert_eq!(broken(&p, &keys), (3, Some(3), Fault::PrevMismatch));

    // two lines swapped
    let p = tampered(&keys, &good, "swapped.jsonl", |l| l.swap(1, 2));
    let want = Fault::SeqNotConsecutive {
        expected: 2,
        found: 3,
    };
    assert_eq!(broken(&p, &keys), (2, Some(3), want));

    // a line edited and re-sealed with another party's key
    let p = tampered(&keys, &good, "resigned.jsonl", |l| {
        l[3] = reseal(&l[3].replace("\"model\"", "\"labels\""), &keys.key(1));
    });
    assert_eq!(broken(&p, &keys), (4, Some(4), Fault::BadSignature));

    // a whole log written with party 1's key but claiming to be party 0's
    let forged = keys.log("forged.jsonl");
    let mut log = AuditLog::open(&forged, 0, &keys.key(1)).unwrap();
    log.append(&AuditRecord {
        job_id: "j",
        job_hash: "h",
        step: 0,
        what: "model",
        to: Some(1),
        shape: &[2],
    })
    .unwrap();
    drop(log);
    assert_eq!(broken(&forged, &keys), (1, Some(1), Fault::BadSignature));

    // entries naming another party, signed with party 0's own key
    let other = keys.log("other-party.jsonl");
    let mut log = AuditLog::open(&other, 2, &keys.key(0)).unwrap();
    log.append(&AuditRecord {
        job_id: "j",
        job_hash: "h",
        step: 0,
        what: "metrics",
        to: None,
        shape: &[1],
    })
    .unwrap();
    drop(log);
    let want = Fault::WrongParty {
        expected: 0,
        found: 2,
    };
    assert_eq!(broken(&other, &keys), (1, Some(1), want));

    // a missing field, and a line that is not JSON
    let p = tampered(&keys, &good, "nofield.jsonl", |l| {
        let mut v = json(&l[0]);
        v.as_object_mut().unwrap().remove("sig");
        l[0] = v.to_string();
    });
    let (line, seq, fault) = broken(&p, &keys);
    assert!(
        (line, seq) == (1, None) && matches!(&fault, Fault::NotJson(d) if d.contains("sig")),
        "{fault:?}"
    );
    let p = tampered(&keys, &good, "garbage.jsonl", |l| l[4] = "hello".into());
    assert!(matches!(broken(&p, &keys), (5, None, Fault::NotJson(_))));

    // the file cut in the middle of its last line
    let cut = keys.log("cut.jsonl");
    let text = std::fs::read(&good).unwrap();
    std::fs::write(&cut, &text[..text.len() - 40]).unwrap();
    assert_eq!(broken(&cut, &keys), (5, None, Fault::Truncated));

    // the messages name the line, the seq and the reason
    let p = keys.log("edited.jsonl");
    let msg = verify(&p, &keys.cert(0), None).unwrap_err().to_string();
    assert!(
        msg.contains("line 2 (seq 2)") && msg.contains("the entry was edited"),
        "{msg}"
    );
    let msg = verify(&cut, &keys.cert(0), None).unwrap_err().to_string();
    assert!(msg.contains("line 5: truncated"), "{msg}");
}

#[test]
fn appending_to_a_broken_log_is_refused_and_leaves_it_alone() {
    let keys = Keys::new();
    let good = keys.log("good.jsonl");
    drop(write_log(&keys, &good, 4));
    for (name, edit) in [
        (
            "edited.jsonl",
            Box::new(|l: &mut Vec<String>| l[1] = l[1].replace("[30,2]", "[30,3]"))
                as Box<dyn FnOnce(&mut Vec<String>)>,
        ),
        (
            "swapped.jsonl",
            Box::new(|l: &mut Vec<String>| l.swap(0, 1)),
        ),
    ] {
        let p = tampered(&keys, &good, name, edit);
        let before = std::fs::read(&p).unwrap();
        let err = AuditLog::open(&p, 0, &keys.key(0)).unwrap_err();
        assert!(
            matches!(err, Error::AuditChain { line: 1 | 2, .. }),
            "{name}: {err}"
        );
        assert_eq!(std::fs::read(&p).unwrap(), before, "{name} was modified");
    }
    let cut = keys.log("cut.jsonl");
    let text = std::fs::read(&good).unwrap();
    std::fs::write(&cut, &text[..text.len() - 1]).unwrap(); // only the last line end is lost
    let err = AuditLog::open(&cut, 0, &keys.key(0)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::AuditChain {
                line: 4,
                fault: Fault::Truncated,
                ..
            }
        ),
        "{err}"
    );
    // the log of another key is not continued either
    let err = AuditLog::open(&good, 0, &keys.key(1)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::AuditChain {
                line: 1,
                fault: Fault::BadSignature,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn keys_and_certificates_are_checked() {
    let keys = Keys::new();
    let good = keys.log("good.jsonl");
    drop(write_log(&keys, &good, 2));
    // a certificate of another consortium's CA
    let other = Keys::new();
    let err = verify(&good, &keys.cert(0), Some(&other.ca())).unwrap_err();
    assert!(
        matches!(&err, Error::AuditKey { detail, .. } if detail.contains("not a certificate of the CA")),
        "{err}"
    );
    // the certificate of another party: its key did not sign the lines
    let err = verify(&good, &keys.cert(1), Some(&keys.ca())).unwrap_err();
    assert!(
        matches!(
            err,
            Error::AuditChain {
                line: 1,
                fault: Fault::BadSignature,
                ..
            }
        ),
        "{err}"
    );
    // a certificate where a key belongs, and a key where a certificate belongs
    let err = AuditLog::open(&keys.log("x.jsonl"), 0, &keys.cert(0)).unwrap_err();
    assert!(matches!(err, Error::AuditKey { .. }), "{err}");
    assert!(!keys.log("x.jsonl").exists());
    let err = verify(&good, &keys.key(0), None).unwrap_err();
    assert!(matches!(err, Error::AuditKey { .. }), "{err}");
    // a missing log
    let err = verify(&keys.log("none.jsonl"), &keys.cert(0), None).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
}

#[test]
fn cli_verifies_and_names_the_break() {
    let keys = Keys::new();
    let good = keys.log("good.jsonl");
    let log = write_log(&keys, &good, 3);
    let last = log.last_hash();
    drop(log);
    let run = |log: &Path| {
        Command::new(BIN)
            .args(["audit", "verify", "--log"])
            .arg(log)
            .arg("--cert")
            .arg(keys.cert(0))
            .arg("--ca")
            .arg(keys.ca())
            .output()
            .unwrap()
    };
    let o = run(&good);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{o:?}");
    assert!(
        out.starts_with(&format!("OK: 3 entries, chain intact, last hash {last}")),
        "{out}"
    );

    let bad = tampered(&keys, &good, "bad.jsonl", |l| {
        l[1] = l[1].replace("\"step\":1", "\"step\":7");
    });
    let o = run(&bad);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(
        err.starts_with("error: audit log ")
            && err.contains("line 2 (seq 2): hash does not match the entry"),
        "{err}"
    );

    let o = Command::new(BIN)
        .args(["audit", "verify", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success());
    assert!(
        help.contains("--log <FILE>")
            && help.contains("--cert <FILE>")
            && help.contains("--ca <FILE>"),
        "{help}"
    );
}

#[test]
fn a_log_can_live_in_a_reveal_gate() {
    // the gate is `FnMut + Send`: a log moved into it must be Send
    fn assert_send<T: Send>() {}
    assert_send::<AuditLog>();
    let keys = Keys::new();
    let path = keys.log("gate.jsonl");
    let key = keys.key(0);
    let p = path.clone();
    let outs = mpc_core::run_3pc(move |party| {
        let role = party.role();
        if role == 0 {
            let mut log = AuditLog::open(&p, 0, &key).unwrap();
            party.set_reveal_gate(Box::new(move |ev| {
                log.append(&AuditRecord::from_event("job", "hash", 0, ev))
                    .map(drop)
                    .map_err(|e| e.to_string())
            }));
        }
        let x = ndarray::arr1(&[1.0, 2.0]).into_dyn();
        let sx = party.input_f64(1, (role == 1).then_some(&x), &[2])?;
        party.set_reveal_label("metrics");
        let v = party.reveal_f64(&sx)?;
        party.set_reveal_label("model");
        party.reveal_to_f64(2, &sx)?;
        Ok(v)
    })
    .unwrap();
    assert!((outs[0][1] - 2.0).abs() < 1e-3);
    let r = verify(&path, &keys.cert(0), None).unwrap();
    assert_eq!(r.entries, 2);
    let l = lines(&path);
    assert_eq!(json(&l[1])["entry"]["to"], "party 2");
    assert_eq!(json(&l[1])["entry"]["what"], "model");
}
