//! A party's configuration file (TOML). Every error names the offending field.
//!
//! ```toml
//! role = 0                                   # this party: 0, 1 or 2
//! addresses = ["10.0.0.1:7000", "10.0.0.2:7000", "10.0.0.3:7000"]
//! session_id = "demo-2025-01"                # identical on all parties
//! frac_bits = 16                             # fixed-point bits, identical on all parties
//! # listen = "0.0.0.0:7000"                  # optional bind address (default: own address)
//! connect_timeout_ms = 30000                 # optional
//! recv_timeout_ms = 60000                    # optional
//! max_frame_bytes = 268435456                # optional
//! linger_ms = 1000                           # optional: wait for peers to close
//! # insecure = true                          # plain TCP, no TLS: testing only
//!
//! [tls]                                      # required unless insecure = true
//! ca = "certs/ca.pem"
//! cert = "certs/party0.pem"
//! key = "certs/party0.key"
//! ```
//! Relative certificate paths are resolved against the configuration file's directory.

use crate::codec::SessionSettings;
use crate::tcp::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_LINGER, DEFAULT_MAX_FRAME_BYTES, DEFAULT_RECV_TIMEOUT,
    Security, TcpConfig,
};
use crate::tls::TlsIdentity;
use crate::{NetError, PARTIES};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use toml::{Table, Value};

/// Paths of a party's TLS material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsPaths {
    /// The consortium CA certificate.
    pub ca: PathBuf,
    /// This party's certificate.
    pub cert: PathBuf,
    /// This party's private key.
    pub key: PathBuf,
}

/// A parsed and validated party configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyConfig {
    /// This party's role.
    pub role: usize,
    /// `host:port` of the three parties in role order.
    pub addresses: [String; PARTIES],
    /// Optional bind address.
    pub listen: Option<String>,
    /// Session identifier.
    pub session_id: String,
    /// Fixed-point fractional bits (1 to 30).
    pub frac_bits: u32,
    /// Plain TCP without TLS.
    pub insecure: bool,
    /// TLS material (required unless `insecure`).
    pub tls: Option<TlsPaths>,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Receive timeout.
    pub recv_timeout: Duration,
    /// Largest frame payload in bytes.
    pub max_frame_bytes: u64,
    /// How long closing waits for the peers to close their side.
    pub linger: Duration,
}

fn field_err(field: &str, detail: impl Into<String>) -> NetError {
    NetError::Config {
        field: field.to_string(),
        detail: detail.into(),
    }
}

const KNOWN: [&str; 11] = [
    "role",
    "addresses",
    "listen",
    "session_id",
    "frac_bits",
    "insecure",
    "tls",
    "connect_timeout_ms",
    "recv_timeout_ms",
    "max_frame_bytes",
    "linger_ms",
];

fn get_int(t: &Table, field: &str) -> Result<Option<u64>, NetError> {
    match t.get(field) {
        None => Ok(None),
        Some(Value::Integer(i)) => u64::try_from(*i)
            .map(Some)
            .map_err(|_| field_err(field, format!("must not be negative, got {i}"))),
        Some(v) => Err(field_err(
            field,
            format!("expected an integer, got {}", v.type_str()),
        )),
    }
}

fn get_str(t: &Table, field: &str, prefix: &str) -> Result<Option<String>, NetError> {
    match t.get(field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v) => Err(field_err(
            &format!("{prefix}{field}"),
            format!("expected a string, got {}", v.type_str()),
        )),
    }
}

fn check_addr(field: &str, a: &str) -> Result<(), NetError> {
    match a.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => Ok(()),
        _ => Err(field_err(
            field,
            format!("{a:?} is not host:port (e.g. \"10.0.0.1:7000\")"),
        )),
    }
}

fn millis(t: &Table, field: &str, default: Duration) -> Result<Duration, NetError> {
    match get_int(t, field)? {
        None => Ok(default),
        Some(0) => Err(field_err(field, "must be at least 1 ms")),
        Some(ms) => Ok(Duration::from_millis(ms)),
    }
}

impl PartyConfig {
    /// Parses a configuration; relative TLS paths are resolved against `base_dir`.
    pub fn from_toml_str(text: &str, base_dir: &Path) -> Result<PartyConfig, NetError> {
        let t: Table = text
            .parse()
            .map_err(|e: toml::de::Error| field_err("<file>", format!("invalid TOML: {e}")))?;
        if let Some(k) = t.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(field_err(
                k,
                format!("unknown field; known fields: {}", KNOWN.join(", ")),
            ));
        }
        let role = get_int(&t, "role")?.ok_or_else(|| field_err("role", "missing"))?;
        let role = usize::try_from(role)
            .ok()
            .filter(|r| *r < PARTIES)
            .ok_or_else(|| field_err("role", format!("{role} is not 0, 1 or 2")))?;
        let addresses = match t.get("addresses") {
            None => return Err(field_err("addresses", "missing")),
            Some(Value::Array(a)) if a.len() == PARTIES => {
                let mut out: [String; PARTIES] = Default::default();
                for (i, (v, slot)) in a.iter().zip(out.iter_mut()).enumerate() {
                    let field = format!("addresses[{i}]");
                    let s = v.as_str().ok_or_else(|| {
                        field_err(&field, format!("expected a string, got {}", v.type_str()))
                    })?;
                    check_addr(&field, s)?;
                    *slot = s.to_string();
                }
                for i in 1..PARTIES {
                    if let Some(j) = (0..i).find(|&j| out[j] == out[i]) {
                        return Err(field_err(
                            &format!("addresses[{i}]"),
                            format!(
                                "{:?} is also addresses[{j}]: each party needs its own",
                                out[i]
                            ),
                        ));
                    }
                }
                out
            }
            Some(Value::Array(a)) => {
                return Err(field_err(
                    "addresses",
                    format!(
                        "{} entries: expected 3 \"host:port\" strings, one per party",
                        a.len()
                    ),
                ));
            }
            Some(v) => {
                return Err(field_err(
                    "addresses",
                    format!(
                        "expected an array of 3 \"host:port\" strings, got a {}",
                        v.type_str()
                    ),
                ));
            }
        };
        let listen = get_str(&t, "listen", "")?;
        if let Some(l) = &listen {
            check_addr("listen", l)?;
        }
        let session_id =
            get_str(&t, "session_id", "")?.ok_or_else(|| field_err("session_id", "missing"))?;
        if session_id.is_empty() || session_id.len() > 256 {
            return Err(field_err("session_id", "must have 1 to 256 characters"));
        }
        let frac_bits = get_int(&t, "frac_bits")?.unwrap_or(16);
        if !(1..=30).contains(&frac_bits) {
            return Err(field_err(
                "frac_bits",
                format!("{frac_bits}: choose 1 to 30 so that products (2f bits) fit in 64 bits"),
            ));
        }
        let insecure = match t.get("insecure") {
            None => false,
            Some(Value::Boolean(b)) => *b,
            Some(v) => {
                return Err(field_err(
                    "insecure",
                    format!("expected true or false, got {}", v.type_str()),
                ));
            }
        };
        let tls = match t.get("tls") {
            None => None,
            Some(Value::Table(tt)) => {
                let path = |name: &str| -> Result<PathBuf, NetError> {
                    let p = get_str(tt, name, "tls.")?
                        .ok_or_else(|| field_err(&format!("tls.{name}"), "missing"))?;
                    Ok(base_dir.join(p))
                };
                if let Some(k) = tt
                    .keys()
                    .find(|k| !["ca", "cert", "key"].contains(&k.as_str()))
                {
                    return Err(field_err(
                        &format!("tls.{k}"),
                        "unknown field (ca, cert, key)",
                    ));
                }
                Some(TlsPaths {
                    ca: path("ca")?,
                    cert: path("cert")?,
                    key: path("key")?,
                })
            }
            Some(v) => {
                return Err(field_err(
                    "tls",
                    format!("expected a table, got {}", v.type_str()),
                ));
            }
        };
        if tls.is_none() && !insecure {
            return Err(field_err(
                "tls",
                "missing: give [tls] ca, cert and key (or set insecure = true for plain TCP)",
            ));
        }
        let max_frame_bytes = get_int(&t, "max_frame_bytes")?.unwrap_or(DEFAULT_MAX_FRAME_BYTES);
        if !(8..=crate::frame::FRAME_LIMIT).contains(&max_frame_bytes) {
            return Err(field_err(
                "max_frame_bytes",
                format!(
                    "{max_frame_bytes}: choose 8 to {}",
                    crate::frame::FRAME_LIMIT
                ),
            ));
        }
        Ok(PartyConfig {
            role,
            addresses,
            listen,
            session_id,
            frac_bits: frac_bits as u32,
            insecure,
            tls,
            connect_timeout: millis(&t, "connect_timeout_ms", DEFAULT_CONNECT_TIMEOUT)?,
            recv_timeout: millis(&t, "recv_timeout_ms", DEFAULT_RECV_TIMEOUT)?,
            max_frame_bytes,
            linger: millis(&t, "linger_ms", DEFAULT_LINGER)?,
        })
    }

    /// Reads and parses a configuration file.
    pub fn load(path: &Path) -> Result<PartyConfig, NetError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| field_err("<file>", format!("cannot read {}: {e}", path.display())))?;
        let base = path.parent().unwrap_or(Path::new("."));
        PartyConfig::from_toml_str(&text, base)
    }

    /// The transport configuration; loads the TLS material (unless insecure).
    pub fn to_tcp_config(&self) -> Result<TcpConfig, NetError> {
        let security = match (&self.tls, self.insecure) {
            (_, true) => Security::InsecurePlainTcp,
            (Some(p), false) => Security::Tls(Arc::new(TlsIdentity::load(&p.ca, &p.cert, &p.key)?)),
            (None, false) => return Err(field_err("tls", "missing")),
        };
        let mut c = TcpConfig::new(
            self.role,
            self.addresses.clone(),
            &self.session_id,
            SessionSettings::new(self.frac_bits),
            security,
        );
        c.listen = self.listen.clone();
        c.connect_timeout = self.connect_timeout;
        c.recv_timeout = self.recv_timeout;
        c.max_frame_bytes = self.max_frame_bytes;
        c.linger = self.linger;
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
role = 1
addresses = ["127.0.0.1:7000", "127.0.0.1:7001", "localhost:7002"]
session_id = "s"
recv_timeout_ms = 500
[tls]
ca = "certs/ca.pem"
cert = "certs/party1.pem"
key = "/abs/party1.key"
"#;

    fn err_field(text: &str) -> String {
        match PartyConfig::from_toml_str(text, Path::new("/cfg")) {
            Err(NetError::Config { field, .. }) => field,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn parses_and_names_bad_fields() {
        let c = PartyConfig::from_toml_str(GOOD, Path::new("/cfg")).unwrap();
        assert_eq!(c.role, 1);
        assert_eq!(c.frac_bits, 16);
        assert_eq!(c.recv_timeout, Duration::from_millis(500));
        let tls = c.tls.unwrap();
        assert_eq!(tls.ca, PathBuf::from("/cfg/certs/ca.pem"));
        assert_eq!(tls.key, PathBuf::from("/abs/party1.key"));
        assert_eq!(err_field(&GOOD.replace("role = 1", "role = 3")), "role");
        assert_eq!(err_field(&GOOD.replace("role = 1", "")), "role");
        assert_eq!(err_field(&GOOD.replace("role = 1", "role = \"x\"")), "role");
        assert_eq!(err_field(&GOOD.replace(":7001", "")), "addresses[1]");
        assert_eq!(
            err_field(&GOOD.replace("localhost:7002", "127.0.0.1:7001")),
            "addresses[2]"
        );
        assert_eq!(
            err_field(&GOOD.replace(", \"localhost:7002\"", "")),
            "addresses"
        );
        assert_eq!(
            err_field(&GOOD.replace("session_id = \"s\"", "session_id = \"\"")),
            "session_id"
        );
        assert_eq!(
            err_field(&GOOD.replace("recv_timeout_ms = 500", "recv_timeout_ms = -1")),
            "recv_timeout_ms"
        );
        assert_eq!(
            err_field(&GOOD.replace("recv_timeout_ms = 500", "frac_bits = 40")),
            "frac_bits"
        );
        assert_eq!(
            err_field(&GOOD.replace("recv_timeout_ms = 500", "colour = 1")),
            "colour"
        );
        assert_eq!(
            err_field(&GOOD.replace("key = \"/abs/party1.key\"", "")),
            "tls.key"
        );
        let no_tls = GOOD.split("[tls]").next().unwrap();
        assert_eq!(err_field(no_tls), "tls");
        let insecure = format!("insecure = true\n{no_tls}");
        let c = PartyConfig::from_toml_str(&insecure, Path::new(".")).unwrap();
        assert!(matches!(
            c.to_tcp_config().unwrap().security,
            Security::InsecurePlainTcp
        ));
        assert_eq!(err_field("role = "), "<file>");
        // missing certificate files are named
        let c = PartyConfig::from_toml_str(GOOD, Path::new("/nonexistent")).unwrap();
        let err = c.to_tcp_config().unwrap_err().to_string();
        assert!(err.contains("/nonexistent/certs/ca.pem"), "{err}");
    }
}
