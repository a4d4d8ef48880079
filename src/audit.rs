//! A per-party, hash-chained, signed log of reveals (`trefoil audit verify` checks one).
//!
//! Each party appends one line per explicit opening (what, to whom, shape, step, job) to its own
//! log. A line is one JSON object:
//!
//! ```text
//! {"entry":{"seq":1,"party":0,"job_id":"...","job_hash":"...","step":3,"what":"metrics",
//!  "to":"all","shape":[1],"unix_ms":1764604800000},
//!  "prev":"<64 hex>","hash":"<64 hex>","sig":"<hex>"}
//! ```
//!
//! - `seq` counts lines from 1; `prev` is the previous line's `hash` (64 zeros on the first);
//! - `hash` = hex SHA-256 of [`DOMAIN`], the 32 bytes of `prev`, and the canonical JSON of
//!   `entry` (its fields in the order above, no spaces: what `serde_json` writes for
//!   [`AuditEntry`]);
//! - `sig` = hex ASN.1 DER ECDSA P-256 / SHA-256 signature of the 32 bytes of `hash` by the
//!   party's key (the TLS key that `trefoil keygen` writes, PKCS#8 PEM).
//!
//! [`verify`] recomputes every line with the party's certificate (optionally checked against the
//! consortium CA) and names the first line where the chain breaks and how ([`Fault`]).
//!
//! What the log shows: any edit, removal, insertion or reordering of a line before the last one
//! breaks the chain, and nobody without the party's key can write a line that verifies. What it
//! cannot show: the party itself (its key holder) can rewrite its whole log, and cutting lines
//! off the *end* leaves a shorter chain that is intact; compare [`VerifyReport::last_hash`] and
//! the entry count with a copy kept elsewhere (e.g. by the other parties) to detect that.

use crate::error::{Error, Result};
use ring::digest::{SHA256, digest};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
use ring::signature::{KeyPair, UnparsedPublicKey};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{PrivateKeyDer, UnixTime};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Domain separation prefix of every line hash.
pub const DOMAIN: &[u8] = b"trefoil audit log v1\0";

/// `prev` of the first line.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One reveal as it is logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    /// Line number in the log, from 1.
    pub seq: u64,
    /// The role of the party that keeps (and signs) the log.
    pub party: usize,
    /// The job's id.
    pub job_id: String,
    /// The job file's hash (hex).
    pub job_hash: String,
    /// The training step (or another position in the job) at the reveal.
    pub step: u64,
    /// What was opened: the reveal label (e.g. `metrics`, `model`, `predictions`).
    pub what: String,
    /// To whom: `all` or `party N`.
    pub to: String,
    /// The shape of the opened tensor.
    pub shape: Vec<usize>,
    /// Wall-clock time of the entry, milliseconds since the Unix epoch.
    pub unix_ms: u64,
}

/// What a caller logs; [`AuditLog::append`] adds the sequence number, party and time.
#[derive(Debug, Clone, Copy)]
pub struct AuditRecord<'a> {
    /// The job's id.
    pub job_id: &'a str,
    /// The job file's hash (hex).
    pub job_hash: &'a str,
    /// The training step (or another position in the job).
    pub step: u64,
    /// What is opened: the reveal label.
    pub what: &'a str,
    /// The recipient: `Some(role)`, or `None` for every party.
    pub to: Option<usize>,
    /// The shape of the opened tensor.
    pub shape: &'a [usize],
}

impl<'a> AuditRecord<'a> {
    /// The record of a reveal that a party's reveal gate is asked about.
    pub fn from_event(
        job_id: &'a str,
        job_hash: &'a str,
        step: u64,
        event: &mpc_core::RevealEvent<'a>,
    ) -> AuditRecord<'a> {
        AuditRecord {
            job_id,
            job_hash,
            step,
            what: event.label,
            to: event.to,
            shape: event.shape,
        }
    }
}

/// `all` or `party N`, as [`AuditEntry::to`] spells a recipient.
pub fn recipient(to: Option<usize>) -> String {
    match to {
        Some(r) => format!("party {r}"),
        None => "all".into(),
    }
}

/// The stored form of a line.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    entry: AuditEntry,
    prev: String,
    hash: String,
    sig: String,
}

/// How a log's chain is broken (see [`Error::AuditChain`], which adds the file and line).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// The line is not a JSON audit record, or lacks or adds fields.
    NotJson(String),
    /// The last line is incomplete (no line end): a write was cut short or the file truncated.
    Truncated,
    /// The sequence number is not the previous one plus one.
    SeqNotConsecutive {
        /// The number this line should carry.
        expected: u64,
        /// The number it carries.
        found: u64,
    },
    /// `prev` is not the previous line's hash.
    PrevMismatch,
    /// `hash` is not the hash of `prev` and the entry.
    HashMismatch,
    /// `sig` is not a signature of `hash` by the certificate's key.
    BadSignature,
    /// The entry names another party than the log's.
    WrongParty {
        /// The party the log belongs to.
        expected: usize,
        /// The party the entry names.
        found: usize,
    },
    /// `prev`, `hash` or `sig` is not hexadecimal of the right length.
    BadHex(&'static str),
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::NotJson(d) => write!(f, "not a JSON audit record (fields missing?): {d}"),
            Fault::Truncated => f.write_str(
                "truncated: the last line is incomplete (no line end), a write was cut short",
            ),
            Fault::SeqNotConsecutive { expected, found } => write!(
                f,
                "seq {found} where {expected} was expected: a line was removed, inserted or \
                 reordered"
            ),
            Fault::PrevMismatch => f.write_str(
                "prev does not match the previous line's hash: a line was removed, reordered or \
                 inserted before it",
            ),
            Fault::HashMismatch => {
                f.write_str("hash does not match the entry: the entry was edited")
            }
            Fault::BadSignature => f.write_str(
                "bad signature: the line was not signed by this certificate's key (signed by \
                 another key, or forged)",
            ),
            Fault::WrongParty { expected, found } => write!(
                f,
                "the entry names party {found} but the log is party {expected}'s"
            ),
            Fault::BadHex(field) => write!(f, "`{field}` is not hexadecimal of the right length"),
        }
    }
}

/// What [`verify`] found in an intact log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Number of entries.
    pub entries: u64,
    /// The last line's hash ([`GENESIS`] for an empty log).
    pub last_hash: String,
    /// The party whose certificate verified the log.
    pub party: usize,
    /// The job ids seen, in order of first appearance.
    pub job_ids: Vec<String>,
}

/// An open, append-only audit log of one party.
pub struct AuditLog {
    path: PathBuf,
    file: File,
    role: usize,
    key: EcdsaKeyPair,
    rng: SystemRandom,
    seq: u64,
    last_hash: [u8; 32],
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("path", &self.path)
            .field("role", &self.role)
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn key_err(path: &Path, detail: impl Into<String>) -> Error {
    Error::AuditKey {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

fn chain_err(path: &Path, line: usize, seq: Option<u64>, fault: Fault) -> Error {
    Error::AuditChain {
        path: path.to_path_buf(),
        line,
        seq,
        fault,
    }
}

/// Loads an ECDSA P-256 PKCS#8 private key (PEM), as `trefoil keygen` writes.
fn load_key(path: &Path) -> Result<EcdsaKeyPair> {
    let pem = std::fs::read(path).map_err(io(path))?;
    let der = PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|e| key_err(path, format!("not a PEM private key: {e}")))?;
    let PrivateKeyDer::Pkcs8(pkcs8) = der else {
        return Err(key_err(
            path,
            "unsupported key type: need an ECDSA P-256 key in PKCS#8 (as `trefoil keygen` writes)",
        ));
    };
    EcdsaKeyPair::from_pkcs8(
        &ECDSA_P256_SHA256_ASN1_SIGNING,
        pkcs8.secret_pkcs8_der(),
        &SystemRandom::new(),
    )
    .map_err(|e| {
        key_err(
            path,
            format!(
                "unsupported key type ({e}): need an ECDSA P-256 key in PKCS#8 (as `trefoil \
                 keygen` writes)"
            ),
        )
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn unhex32(s: &str, field: &'static str) -> std::result::Result<[u8; 32], Fault> {
    unhex(s)
        .and_then(|v| <[u8; 32]>::try_from(v).ok())
        .ok_or(Fault::BadHex(field))
}

/// The chained hash of an entry after `prev`.
fn line_hash(prev: &[u8; 32], entry: &AuditEntry) -> std::result::Result<[u8; 32], String> {
    let json = serde_json::to_vec(entry).map_err(|e| e.to_string())?;
    let mut msg = Vec::with_capacity(DOMAIN.len() + 32 + json.len());
    msg.extend_from_slice(DOMAIN);
    msg.extend_from_slice(prev);
    msg.extend_from_slice(&json);
    let d = digest(&SHA256, &msg);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    Ok(out)
}

/// The state after the last intact line.
struct Chain {
    entries: u64,
    last_hash: [u8; 32],
    job_ids: Vec<String>,
}

/// Checks every line of `text`; `check_sig(hash, sig)` says whether a signature is good.
fn check_chain(
    path: &Path,
    text: &str,
    party: usize,
    check_sig: &dyn Fn(&[u8; 32], &[u8]) -> bool,
) -> Result<Chain> {
    let mut chain = Chain {
        entries: 0,
        last_hash: [0u8; 32],
        job_ids: Vec::new(),
    };
    let mut rest = text;
    let mut number = 0usize;
    while !rest.is_empty() {
        number += 1;
        let (raw, complete) = match rest.find('\n') {
            Some(i) => {
                let raw = &rest[..i];
                rest = &rest[i + 1..];
                (raw, true)
            }
            None => {
                let raw = rest;
                rest = "";
                (raw, false)
            }
        };
        if !complete {
            return Err(chain_err(path, number, None, Fault::Truncated));
        }
        let line: Line = serde_json::from_str(raw)
            .map_err(|e| chain_err(path, number, None, Fault::NotJson(e.to_string())))?;
        let seq = Some(line.entry.seq);
        let fail = |fault| chain_err(path, number, seq, fault);
        let expected = chain.entries + 1;
        if line.entry.seq != expected {
            return Err(fail(Fault::SeqNotConsecutive {
                expected,
                found: line.entry.seq,
            }));
        }
        let prev = unhex32(&line.prev, "prev").map_err(fail)?;
        if prev != chain.last_hash {
            return Err(fail(Fault::PrevMismatch));
        }
        let hash = unhex32(&line.hash, "hash").map_err(fail)?;
        let want = line_hash(&prev, &line.entry).map_err(|e| fail(Fault::NotJson(e)))?;
        if hash != want {
            return Err(fail(Fault::HashMismatch));
        }
        let sig = unhex(&line.sig).ok_or_else(|| fail(Fault::BadHex("sig")))?;
        if !check_sig(&hash, &sig) {
            return Err(fail(Fault::BadSignature));
        }
        if line.entry.party != party {
            return Err(fail(Fault::WrongParty {
                expected: party,
                found: line.entry.party,
            }));
        }
        if !chain.job_ids.contains(&line.entry.job_id) {
            chain.job_ids.push(line.entry.job_id.clone());
        }
        chain.entries = expected;
        chain.last_hash = hash;
    }
    Ok(chain)
}

fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    String::from_utf8(bytes).map_err(|e| {
        let line = e.as_bytes()[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        chain_err(path, line, None, Fault::NotJson("not UTF-8 text".into()))
    })
}

impl AuditLog {
    /// Opens party `role`'s log at `path` for appending, signing with the PKCS#8 PEM key at
    /// `key_pem`. An existing log is checked line by line (with this key's public half) and its
    /// chain continued; a broken one is refused ([`Error::AuditChain`]) and left untouched. A
    /// new log is created readable by its owner only (mode 0600 on Unix).
    pub fn open(path: &Path, role: usize, key_pem: &Path) -> Result<AuditLog> {
        let key = load_key(key_pem)?;
        let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, key.public_key().as_ref());
        let existed = path.exists();
        let chain = if existed {
            let text = read_text(path)?;
            check_chain(path, &text, role, &|h, s| public.verify(h, s).is_ok())?
        } else {
            Chain {
                entries: 0,
                last_hash: [0u8; 32],
                job_ids: Vec::new(),
            }
        };
        let mut opts = OpenOptions::new();
        opts.append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let file = opts.open(path).map_err(io(path))?;
        if !existed {
            // make the new file's directory entry durable too
            let dir = path
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(AuditLog {
            path: path.to_path_buf(),
            file,
            role,
            key,
            rng: SystemRandom::new(),
            seq: chain.entries,
            last_hash: chain.last_hash,
        })
    }

    /// Appends one signed line for `record` and flushes it to disk (fsync) before returning
    /// the entry written.
    pub fn append(&mut self, record: &AuditRecord<'_>) -> Result<AuditEntry> {
        let unix_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let entry = AuditEntry {
            seq: self.seq + 1,
            party: self.role,
            job_id: record.job_id.to_string(),
            job_hash: record.job_hash.to_string(),
            step: record.step,
            what: record.what.to_string(),
            to: recipient(record.to),
            shape: record.shape.to_vec(),
            unix_ms,
        };
        let fail = |detail: String| key_err(&self.path, detail);
        let hash = line_hash(&self.last_hash, &entry).map_err(&fail)?;
        let sig = self
            .key
            .sign(&self.rng, &hash)
            .map_err(|e| fail(format!("signing failed: {e}")))?;
        let line = Line {
            entry,
            prev: hex(&self.last_hash),
            hash: hex(&hash),
            sig: hex(sig.as_ref()),
        };
        let mut text = serde_json::to_string(&line).map_err(|e| fail(e.to_string()))?;
        text.push('\n');
        self.file
            .write_all(text.as_bytes())
            .and_then(|()| self.file.flush())
            .and_then(|()| self.file.sync_data())
            .map_err(io(&self.path))?;
        self.seq += 1;
        self.last_hash = hash;
        Ok(line.entry)
    }

    /// Entries in the log so far.
    pub fn entries(&self) -> u64 {
        self.seq
    }

    /// The last line's hash (hex; [`GENESIS`] for an empty log).
    pub fn last_hash(&self) -> String {
        hex(&self.last_hash)
    }

    /// The party whose log this is.
    pub fn role(&self) -> usize {
        self.role
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Loads one PEM certificate.
fn load_cert(path: &Path) -> Result<CertificateDer<'static>> {
    let pem = std::fs::read(path).map_err(io(path))?;
    CertificateDer::from_pem_slice(&pem)
        .map_err(|e| key_err(path, format!("not a PEM certificate: {e}")))
}

/// Verifies the log at `log` with the party certificate at `cert` (PEM) and, if `ca` is given,
/// checks that the certificate is signed by that CA. Returns what an intact log holds, or the
/// first break ([`Error::AuditChain`]: line, seq and [`Fault`]).
pub fn verify(log: &Path, cert: &Path, ca: Option<&Path>) -> Result<VerifyReport> {
    let der = load_cert(cert)?;
    let ee = webpki::EndEntityCert::try_from(&der)
        .map_err(|e| key_err(cert, format!("unparsable certificate: {e:?}")))?;
    if let Some(ca) = ca {
        let ca_der = load_cert(ca)?;
        let anchor = webpki::anchor_from_trusted_cert(&ca_der)
            .map_err(|e| key_err(ca, format!("unusable CA certificate: {e:?}")))?;
        ee.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &[anchor],
            &[],
            UnixTime::now(),
            webpki::KeyUsage::client_auth(),
            None,
            None,
        )
        .map_err(|e| {
            key_err(
                cert,
                format!("not a certificate of the CA {}: {e:?}", ca.display()),
            )
        })?;
    }
    let roles: Vec<usize> = (0..mpc_net::PARTIES)
        .filter(|&r| mpc_net::tls::certificate_has_name(&der, &mpc_net::tls::party_name(r)))
        .collect();
    let [party] = roles[..] else {
        return Err(key_err(
            cert,
            format!("the certificate must name exactly one party, it names {roles:?}"),
        ));
    };
    // probe the key type once, so that an unsupported key is named as such
    if let Err(webpki::Error::UnsupportedSignatureAlgorithmForPublicKeyContext(_)) =
        ee.verify_signature(webpki::ring::ECDSA_P256_SHA256, b"probe", &[])
    {
        return Err(key_err(
            cert,
            "unsupported key type: the certificate's key is not ECDSA P-256",
        ));
    }
    let text = read_text(log)?;
    let chain = check_chain(log, &text, party, &|h, s| {
        ee.verify_signature(webpki::ring::ECDSA_P256_SHA256, h, s)
            .is_ok()
    })?;
    Ok(VerifyReport {
        entries: chain.entries,
        last_hash: hex(&chain.last_hash),
        party,
        job_ids: chain.job_ids,
    })
}
