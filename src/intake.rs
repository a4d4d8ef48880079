//! Data owners outside the three servers (`trefoil share`): an owner secret-shares its CSV
//! rows and sends each server only its two components, over mutual TLS.
//!
//! The owner reads its CSV with the job's columns and classes, splits it into train and test
//! rows like a party does (same seed and fraction), encodes every value in fixed point and draws
//! `x0, x1` from a CSPRNG (AES-CTR keyed by the operating system's randomness), so that
//! `x = x0 + x1 + x2` in Z_2^64; server `i` receives `(x_i, x_{i+1})`, which is uniformly random
//! on its own, plus the public shapes and column names. The servers accept such connections on
//! the job's `intake.addresses` during a train job, check the owner's certificate
//! ([`mpc_net::tls::owner_name`]`(k)`, from `trefoil keygen --owners N`), then compare among
//! themselves the shapes each received, and pairwise the digests of the components they both
//! received (`check_components`), before using the rows.
//!
//! Wire format inside TLS: the 16-byte magic `TREFOIL-INTAKE2\n`, a `u32` length and a JSON
//! header (job id, owner, fractional bits, column names, tensor shapes), then per tensor its two
//! components as little-endian `u64` words. The server answers the header and the components
//! each with `1` (received) or `0`, a `u32` length and its reason; then it keeps the connection
//! until the three servers have checked every owner's delivery together, and sends the final
//! verdict the same way: `1` (the rows will be trained on) or `0` and why not (another owner's
//! columns differ, shares that do not pair up, an owner that never came). So `trefoil share`
//! succeeds only when the servers accepted the data. The owner sends to the three servers
//! first, then waits for the three verdicts (at most the job's intake timeout plus 20 s).
//! Every socket operation has a timeout.

use crate::error::{Error, Result};
use crate::job::Job;
use mpc_core::AShare;
use mpc_core::fixed::encode_with;
use mpc_core::prg::{Prg, os_seed};
use mpc_net::tls::{TlsIdentity, certificate_has_name, owner_name, party_name};
use ndarray::{Array2, ArrayD, IxDyn};
use rustls::pki_types::ServerName;
use rustls::{ClientConnection, ServerConnection, StreamOwned};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

const MAGIC: &[u8; 16] = b"TREFOIL-INTAKE2\n";
/// Largest tensor an owner may send, in elements (2^24: 128 MiB per component).
const MAX_ELEMENTS: usize = 1 << 24;
const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// The public part of an owner's delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Header {
    job: String,
    owner: usize,
    frac_bits: u32,
    names: Vec<String>,
    /// (name, rows, cols) of each tensor, in order.
    tensors: Vec<(String, usize, usize)>,
}

/// What one server received from one owner: the column names and its shares of the tensors
/// `x_train`, `y_train`, `x_test`, `y_test`.
#[derive(Debug, Clone)]
pub struct OwnerData {
    /// The owner's index.
    pub owner: usize,
    /// The feature columns.
    pub names: Vec<String>,
    /// The four tensors, in the order above.
    pub tensors: Vec<AShare>,
}

/// Names of the tensors an owner sends.
pub const TENSORS: [&str; 4] = ["x_train", "y_train", "x_test", "y_test"];

/// Checks with the neighbouring servers that every owner's shares pair up: server `i`'s second
/// component of a tensor must equal server `i + 1`'s first (both are `x_{i+1}`). Server `i`
/// sends the SHA-256 digests of its second components to server `i + 1` only, the one other
/// server that holds them: a digest given to the third server would let it test guesses of the
/// owner's values (it holds the two other components). The verdicts are then exchanged, so the
/// three servers stop together, naming the owner and the tensor, before any row is used.
pub(crate) fn check_components(p: &mut mpc_core::Party, got: &[OwnerData]) -> Result<()> {
    let role = p.role();
    let (next, prev) = ((role + 1) % 3, (role + 2) % 3);
    let digest = |a: &ndarray::ArrayD<u64>| -> Vec<u64> {
        let bytes: Vec<u8> = a.iter().flat_map(|w| w.to_le_bytes()).collect();
        crate::run::words_of(ring::digest::digest(&ring::digest::SHA256, &bytes).as_ref())
    };
    let (mut first, mut second) = (Vec::new(), Vec::new());
    for o in got {
        for t in &o.tensors {
            let (s0, s1) = t.components();
            first.extend(digest(s0));
            second.extend(digest(s1));
        }
    }
    let c = p.comm();
    c.send(next, second)?;
    let theirs = c.recv(prev, first.len())?;
    // the first tensor whose shared component differs, as [owner, tensor], or [none]
    let per_owner = TENSORS.len();
    let verdict = match first
        .chunks(4)
        .zip(theirs.chunks(4))
        .position(|(a, b)| a != b)
    {
        Some(k) => vec![got[k / per_owner].owner as u64, (k % per_owner) as u64],
        None => vec![u64::MAX],
    };
    let all = crate::run::exchange(p, &verdict)?;
    for (server, v) in all.iter().enumerate() {
        if let [owner, tensor] = v[..] {
            let name = TENSORS.get(tensor as usize).copied().unwrap_or("a tensor");
            return Err(Error::Intake {
                peer: format!("owner {owner}"),
                detail: format!(
                    "its shares of {name} at servers {} and {server} do not pair up (the \
                     component both received differs): the owner sent inconsistent shares, and \
                     none of its rows were used",
                    (server + 2) % 3
                ),
            });
        }
    }
    Ok(())
}

fn intake_err(peer: impl Into<String>, detail: impl std::fmt::Display) -> Error {
    Error::Intake {
        peer: peer.into(),
        detail: detail.to_string(),
    }
}

fn encode(x: &Array2<f64>, frac_bits: u32) -> Result<Vec<u64>> {
    x.iter()
        .map(|&v| encode_with(v, frac_bits).map_err(Error::from))
        .collect()
}

fn words_to_bytes(w: &[u64]) -> Vec<u8> {
    w.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// What the owner did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShareReport {
    /// The owner's index.
    pub owner: usize,
    /// Training and test rows sent.
    pub rows: (usize, usize),
    /// Feature columns.
    pub columns: usize,
    /// Bytes sent to each server.
    pub bytes: [u64; 3],
}

/// `trefoil share`: secret-shares `csv` as owner `owner` of `job` and sends every server its
/// two components. Retries connecting until `timeout`.
pub fn share_csv(
    job: &Job,
    owner: usize,
    identity: &TlsIdentity,
    csv: &Path,
    timeout: Duration,
) -> Result<ShareReport> {
    if !job.data.owners.contains(&owner) {
        return Err(Error::key(
            "data.owners",
            format!(
                "owner {owner} is not listed (the job expects {:?})",
                job.data.owners
            ),
        ));
    }
    let intake = job
        .intake
        .as_ref()
        .ok_or_else(|| Error::key("intake", "missing"))?;
    let frac_bits = job.frac_bits.unwrap_or(16);
    let rows = crate::run::read_rows(job, csv, true)?;
    crate::run::check_encodable(&rows, csv, frac_bits)?;
    let (train, test) = crate::run::split_local(job, &rows)?;
    let empty = |c| Array2::<f64>::zeros((0, c));
    let outputs = job.outputs();
    let d = rows.x.ncols();
    let mats = [
        train.0,
        train.1,
        test.as_ref().map_or_else(|| empty(d), |t| t.0.clone()),
        test.as_ref()
            .map_or_else(|| empty(outputs), |t| t.1.clone()),
    ];
    let header = Header {
        job: job.id.clone(),
        owner,
        frac_bits,
        names: rows.names.clone(),
        tensors: TENSORS
            .iter()
            .zip(&mats)
            .map(|(n, m)| (n.to_string(), m.nrows(), m.ncols()))
            .collect(),
    };
    // replicated shares: components c0, c1 random, c2 = x - c0 - c1
    let mut prg = Prg::new(&os_seed()?);
    let mut comps: [Vec<u8>; 3] = Default::default();
    for m in &mats {
        let x = encode(m, frac_bits)?;
        let c0 = prg.words(x.len());
        let c1 = prg.words(x.len());
        let c2: Vec<u64> = x
            .iter()
            .zip(c0.iter().zip(&c1))
            .map(|(&v, (&a, &b))| v.wrapping_sub(a).wrapping_sub(b))
            .collect();
        for (i, c) in [c0, c1, c2].iter().enumerate() {
            comps[i].extend(words_to_bytes(c));
        }
    }
    let head = serde_json::to_vec(&header).map_err(|e| intake_err("-", e))?;
    let mut bytes = [0u64; 3];
    let cfg = identity.client_config()?;
    let mut waiting = Vec::with_capacity(3);
    for server in 0..3 {
        let addr = &intake.addresses[server];
        let peer = format!("server {server} at {addr}");
        let tcp = dial(addr, timeout).map_err(|e| intake_err(&peer, e))?;
        let name = ServerName::try_from(party_name(server)).map_err(|e| intake_err(&peer, e))?;
        let conn = ClientConnection::new(cfg.clone(), name).map_err(|e| intake_err(&peer, e))?;
        let mut s = StreamOwned::new(conn, tcp);
        let mut msg = Vec::with_capacity(20 + head.len());
        msg.extend_from_slice(MAGIC);
        msg.extend((head.len() as u32).to_le_bytes());
        msg.extend_from_slice(&head);
        send_and_check(&mut s, &msg, &peer)?;
        let mut sent = msg.len();
        // per tensor: both components (the components were concatenated tensor by tensor)
        let mut body = Vec::with_capacity(2 * comps[0].len());
        let mut at = 0;
        for m in &mats {
            let len = 8 * m.len();
            body.extend_from_slice(&comps[server][at..at + len]);
            body.extend_from_slice(&comps[(server + 1) % 3][at..at + len]);
            at += len;
        }
        send_and_check(&mut s, &body, &peer)?;
        sent += body.len();
        bytes[server] = sent as u64;
        waiting.push((s, peer));
    }
    // the servers answer once all owners have delivered and the three have checked together
    for (mut s, peer) in waiting {
        let _ = s.sock.set_read_timeout(Some(timeout + IO_TIMEOUT));
        read_verdict(&mut s, &peer, "refused the data", timeout + IO_TIMEOUT)?;
        s.conn.send_close_notify();
        let _ = s.flush();
    }
    Ok(ShareReport {
        owner,
        rows: (mats[0].nrows(), mats[2].nrows()),
        columns: d,
        bytes,
    })
}

/// Writes `msg`, then reads the server's verdict.
fn send_and_check(
    s: &mut StreamOwned<ClientConnection, TcpStream>,
    msg: &[u8],
    peer: &str,
) -> Result<()> {
    s.write_all(msg).map_err(|e| tls_io(peer, e))?;
    s.flush().map_err(|e| tls_io(peer, e))?;
    read_verdict(s, peer, "refused the data", IO_TIMEOUT)
}

/// Reads a server's `1` or `0` + reason; `0` is an error saying `what` and the reason.
fn read_verdict(
    s: &mut StreamOwned<ClientConnection, TcpStream>,
    peer: &str,
    what: &str,
    waited: Duration,
) -> Result<()> {
    let mut status = [0u8; 1];
    s.read_exact(&mut status)
        .map_err(|e| tls_io_after(peer, e, waited))?;
    if status[0] != 1 {
        let reason = read_reason(s).unwrap_or_else(|| "no reason given".into());
        return Err(intake_err(peer, format!("{what}: {reason}")));
    }
    Ok(())
}

fn tls_io(peer: &str, e: std::io::Error) -> Error {
    tls_io_after(peer, e, IO_TIMEOUT)
}

fn tls_io_after(peer: &str, e: std::io::Error, waited: Duration) -> Error {
    use std::io::ErrorKind::*;
    let detail = match e.kind() {
        WouldBlock | TimedOut => format!("timed out after {} s", waited.as_secs()),
        UnexpectedEof | ConnectionReset | BrokenPipe => format!("disconnected ({e})"),
        _ => e.to_string(),
    };
    intake_err(peer, detail)
}

fn read_reason(s: &mut impl Read) -> Option<String> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).ok()?;
    let n = u32::from_le_bytes(len).min(4096) as usize;
    let mut buf = vec![0u8; n];
    s.read_exact(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf).into_owned())
}

fn dial(addr: &str, timeout: Duration) -> std::result::Result<TcpStream, String> {
    let start = Instant::now();
    let mut backoff = Duration::from_millis(10);
    loop {
        match TcpStream::connect(addr) {
            Ok(s) => {
                let _ = s.set_read_timeout(Some(IO_TIMEOUT));
                let _ = s.set_write_timeout(Some(IO_TIMEOUT));
                return Ok(s);
            }
            Err(e) if start.elapsed() >= timeout => {
                return Err(format!(
                    "cannot connect within {} ms: {e}",
                    timeout.as_millis()
                ));
            }
            Err(_) => {
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_millis(500));
            }
        }
    }
}

/// The owners' deliveries at one server, with the connections their final verdict goes to.
pub struct Delivered {
    /// The deliveries, in owner order.
    pub data: Vec<OwnerData>,
    /// Each owner's connection, waiting for [`Delivered::answer`].
    conns: Vec<StreamOwned<ServerConnection, TcpStream>>,
}

impl Delivered {
    /// Sends every owner the servers' joint verdict: accepted (`None`), or refused with the
    /// reason. An owner that went away meanwhile is skipped.
    pub fn answer(self, refused: Option<&str>) {
        for mut s in self.conns {
            match refused {
                None => {
                    let _ = s.write_all(&[1]);
                    s.conn.send_close_notify();
                    let _ = s.flush();
                }
                Some(reason) => refuse(&mut s, reason),
            }
        }
    }
}

impl std::fmt::Debug for Delivered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivered")
            .field("data", &self.data)
            .field("waiting", &self.conns.len())
            .finish()
    }
}

/// Server side: accepts the job's external owners on `intake.addresses[role]` until all have
/// delivered (or the intake timeout). A connection with a wrong certificate, job, format or
/// fixed-point scale is refused with its reason (reported through `progress`) and the server
/// keeps waiting for the expected owners. Returns the deliveries in owner order; the owners
/// wait for [`Delivered::answer`]. If an owner never comes, the others are told so.
pub fn receive_owners(
    job: &Job,
    role: usize,
    frac_bits: u32,
    identity: &TlsIdentity,
    progress: &mut dyn FnMut(&str),
) -> Result<Delivered> {
    let intake = job
        .intake
        .as_ref()
        .ok_or_else(|| Error::key("intake", "missing"))?;
    let addr = &intake.addresses[role];
    let listener = TcpListener::bind(addr.as_str()).map_err(|e| {
        intake_err(
            format!("intake address {addr}"),
            format!("cannot listen: {e}"),
        )
    })?;
    listener
        .set_nonblocking(true)
        .map_err(|e| intake_err(addr.as_str(), e))?;
    let cfg = identity.server_config()?;
    let timeout = Duration::from_millis(intake.timeout_ms);
    let deadline = Instant::now() + timeout;
    let mut got: Vec<OwnerData> = Vec::new();
    let mut conns = Vec::new();
    progress(&format!(
        "INTAKE waiting on {addr} for owners {:?}",
        job.data.owners
    ));
    let missing = |got: &[OwnerData]| -> Vec<usize> {
        job.data
            .owners
            .iter()
            .copied()
            .filter(|o| !got.iter().any(|g| g.owner == *o))
            .collect()
    };
    while got.len() < job.data.owners.len() {
        if Instant::now() >= deadline {
            let e = Error::IntakeTimeout {
                missing: missing(&got),
                millis: intake.timeout_ms,
            };
            Delivered { data: got, conns }.answer(Some(&format!("the servers stopped: {e}")));
            return Err(e);
        }
        let (tcp, from) = match listener.accept() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            Err(e) => {
                let e = intake_err(addr.as_str(), e);
                Delivered { data: got, conns }.answer(Some(&format!("the servers stopped: {e}")));
                return Err(e);
            }
        };
        let _ = tcp.set_nonblocking(false);
        let _ = tcp.set_read_timeout(Some(IO_TIMEOUT));
        let _ = tcp.set_write_timeout(Some(IO_TIMEOUT));
        let expected = missing(&got);
        match accept_one(job, frac_bits, &cfg, tcp, &expected) {
            Ok((d, s)) => {
                progress(&format!(
                    "INTAKE owner {} delivered {} + {} rows",
                    d.owner,
                    d.tensors[0].shape()[0],
                    d.tensors[2].shape()[0]
                ));
                got.push(d);
                conns.push(s);
            }
            Err(e) => progress(&format!("INTAKE refused a connection from {from}: {e}")),
        }
    }
    got.sort_by_key(|d| d.owner);
    Ok(Delivered { data: got, conns })
}

fn accept_one(
    job: &Job,
    frac_bits: u32,
    cfg: &std::sync::Arc<rustls::ServerConfig>,
    tcp: TcpStream,
    expected: &[usize],
) -> Result<(OwnerData, StreamOwned<ServerConnection, TcpStream>)> {
    let peer = "an owner".to_string();
    let conn = ServerConnection::new(cfg.clone()).map_err(|e| intake_err(&peer, e))?;
    let mut s = StreamOwned::new(conn, tcp);
    let mut magic = [0u8; 16];
    s.read_exact(&mut magic).map_err(|e| tls_io(&peer, e))?;
    let cert = s
        .conn
        .peer_certificates()
        .and_then(|c| c.first())
        .ok_or_else(|| intake_err(&peer, "presented no certificate"))?;
    let Some(owner) = expected
        .iter()
        .copied()
        .find(|&k| certificate_has_name(cert, &owner_name(k)))
    else {
        let names = expected.iter().map(|&k| owner_name(k)).collect::<Vec<_>>();
        let reason = format!(
            "the certificate is not for an expected owner ({})",
            names.join(", ")
        );
        refuse(&mut s, &reason);
        return Err(Error::OwnerIdentity { detail: reason });
    };
    let peer = format!("owner {owner}");
    let fail = |s: &mut StreamOwned<ServerConnection, TcpStream>, reason: String| {
        refuse(s, &reason);
        intake_err(format!("owner {owner}"), reason)
    };
    if &magic != MAGIC {
        return Err(fail(&mut s, "not a Trefoil intake message".into()));
    }
    let mut len = [0u8; 4];
    s.read_exact(&mut len).map_err(|e| tls_io(&peer, e))?;
    let n = u32::from_le_bytes(len) as usize;
    if n > 1 << 20 {
        return Err(fail(&mut s, format!("header of {n} bytes")));
    }
    let mut head = vec![0u8; n];
    s.read_exact(&mut head).map_err(|e| tls_io(&peer, e))?;
    let h: Header = match serde_json::from_slice(&head) {
        Ok(h) => h,
        Err(e) => return Err(fail(&mut s, format!("bad header: {e}"))),
    };
    if h.job != job.id {
        return Err(fail(
            &mut s,
            format!("job {:?}, this server runs {:?}", h.job, job.id),
        ));
    }
    if h.owner != owner {
        return Err(fail(
            &mut s,
            format!("claims owner {}, certificate of owner {owner}", h.owner),
        ));
    }
    if h.frac_bits != frac_bits {
        return Err(fail(
            &mut s,
            format!(
                "{} fractional bits, the session uses {frac_bits} (set frac_bits in the job)",
                h.frac_bits
            ),
        ));
    }
    let names_ok = h.tensors.len() == 4 && h.tensors.iter().zip(TENSORS).all(|(t, n)| t.0 == n);
    if !names_ok
        || h.tensors
            .iter()
            .any(|t| t.1.saturating_mul(t.2) > MAX_ELEMENTS)
    {
        return Err(fail(
            &mut s,
            "tensors must be x_train, y_train, x_test, y_test of bounded size".into(),
        ));
    }
    s.write_all(&[1]).map_err(|e| tls_io(&peer, e))?;
    s.flush().map_err(|e| tls_io(&peer, e))?;
    let mut tensors = Vec::with_capacity(4);
    for (_, rows, cols) in &h.tensors {
        let read = |s: &mut StreamOwned<ServerConnection, TcpStream>| -> Result<ArrayD<u64>> {
            let mut buf = vec![0u8; 8 * rows * cols];
            s.read_exact(&mut buf).map_err(|e| tls_io(&peer, e))?;
            let words = buf
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect();
            ArrayD::from_shape_vec(IxDyn(&[*rows, *cols]), words).map_err(|e| intake_err(&peer, e))
        };
        let s0 = read(&mut s)?;
        let s1 = read(&mut s)?;
        tensors.push(AShare::from_components(s0, s1, frac_bits)?);
    }
    s.write_all(&[1]).map_err(|e| tls_io(&peer, e))?;
    s.flush().map_err(|e| tls_io(&peer, e))?;
    let d = OwnerData {
        owner,
        names: h.names,
        tensors,
    };
    Ok((d, s))
}

fn refuse(s: &mut StreamOwned<ServerConnection, TcpStream>, reason: &str) {
    let mut msg = vec![0u8];
    msg.extend((reason.len() as u32).to_le_bytes());
    msg.extend_from_slice(reason.as_bytes());
    let _ = s.write_all(&msg);
    s.conn.send_close_notify();
    let _ = s.flush();
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Two owners' deliveries as the three servers receive them, from one consistent sharing;
    /// `tamper = (server, tensor)` changes one word of that server's second component.
    fn deliveries(tamper: Option<(usize, usize)>) -> Vec<Vec<OwnerData>> {
        let mut prg = Prg::new(&[9u8; 16]);
        let shapes = [[2usize, 3], [2, 1], [1, 3], [1, 1]];
        let mut out = vec![Vec::new(), Vec::new(), Vec::new()];
        for owner in [3usize, 5] {
            let comps: Vec<[Vec<u64>; 3]> = shapes
                .iter()
                .map(|s| {
                    [
                        prg.words(s[0] * s[1]),
                        prg.words(s[0] * s[1]),
                        prg.words(s[0] * s[1]),
                    ]
                })
                .collect();
            for (server, o) in out.iter_mut().enumerate() {
                let tensors = comps
                    .iter()
                    .zip(&shapes)
                    .enumerate()
                    .map(|(t, (c, s))| {
                        let mut second = c[(server + 1) % 3].clone();
                        if owner == 5 && tamper == Some((server, t)) {
                            second[0] ^= 1;
                        }
                        let arr = |v: Vec<u64>| ArrayD::from_shape_vec(IxDyn(s), v).unwrap();
                        AShare::from_components(arr(c[server].clone()), arr(second), 16).unwrap()
                    })
                    .collect();
                o.push(OwnerData {
                    owner,
                    names: vec!["a".into(), "b".into(), "c".into()],
                    tensors,
                });
            }
        }
        out
    }

    fn check(tamper: Option<(usize, usize)>) -> [std::result::Result<(), String>; 3] {
        let data = deliveries(tamper);
        mpc_core::run_3pc(|p| Ok(check_components(p, &data[p.role()]).map_err(|e| e.to_string())))
            .unwrap()
    }

    /// Consistent shares pass at every server; a component that differs between the two
    /// servers holding it stops all three, naming the owner, the tensor and the two servers.
    #[test]
    fn inconsistent_owner_shares_are_named_at_every_server() {
        assert!(check(None).iter().all(|r| r.is_ok()));
        for (server, tensor) in [(1usize, 1usize), (2, 3), (0, 0)] {
            for r in check(Some((server, tensor))) {
                let e = r.unwrap_err();
                let pair = format!("servers {server} and {}", (server + 1) % 3);
                assert!(e.contains("owner 5"), "{e}");
                assert!(e.contains(TENSORS[tensor]), "{e}");
                assert!(e.contains(&pair), "{e}");
            }
        }
    }
}
