//! Three parties as three threads over loopback TCP: the success path with TLS and plain TCP, and
//! every fault the transport must turn into a typed error (wrong CA, certificate of another role,
//! no client certificate, garbage on the port, oversized frame, mismatched settings, a silent
//! peer, a peer that goes away).
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use mpc_net::codec::SessionSettings;
use mpc_net::keygen::{Material, generate};
use mpc_net::tls::TlsIdentity;
use mpc_net::{Comm, Link, NetError, Security, TcpConfig, TcpTransport, Transport};
use std::io::Write;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

fn identity(m: &Material, ca: &str, role: usize) -> Arc<TlsIdentity> {
    let (cert, key) = &m.parties[role];
    let names = [
        "ca".to_string(),
        format!("party{role}.pem"),
        format!("party{role}.key"),
    ];
    Arc::new(TlsIdentity::from_pem(ca.as_bytes(), cert.as_bytes(), key.as_bytes(), names).unwrap())
}

/// Loopback listeners for parties 0 and 1 (party 2 only dials) and the three configs.
fn setup(security: [Security; 3]) -> (Vec<Option<TcpListener>>, Vec<TcpConfig>) {
    let l0 = TcpListener::bind("127.0.0.1:0").unwrap();
    let l1 = TcpListener::bind("127.0.0.1:0").unwrap();
    let addrs = [
        l0.local_addr().unwrap().to_string(),
        l1.local_addr().unwrap().to_string(),
        "127.0.0.1:9".to_string(), // never dialled
    ];
    let cfgs = security
        .into_iter()
        .enumerate()
        .map(|(role, sec)| {
            let mut c = TcpConfig::new(
                role,
                addrs.clone(),
                "test-session",
                SessionSettings::new(16),
                sec,
            );
            c.connect_timeout = Duration::from_secs(5);
            c.recv_timeout = Duration::from_secs(5);
            c.linger = Duration::from_millis(300);
            c
        })
        .collect();
    (vec![Some(l0), Some(l1), None], cfgs)
}

fn tls_all(m: &Material) -> [Security; 3] {
    std::array::from_fn(|r| Security::Tls(identity(m, &m.ca_cert, r)))
}

/// Runs `f` as each party over TCP; returns each party's result (connect errors included).
fn run<T: Send>(
    listeners: Vec<Option<TcpListener>>,
    cfgs: Vec<TcpConfig>,
    f: impl Fn(&mut Comm) -> Result<T, NetError> + Sync,
) -> Vec<Result<T, NetError>> {
    let f = &f;
    std::thread::scope(|s| {
        let hs: Vec<_> = listeners
            .into_iter()
            .zip(cfgs)
            .map(|(l, c)| {
                s.spawn(move || {
                    let t = TcpTransport::connect_with_listener(&c, l)?;
                    let mut comm = Comm::new(Box::new(t));
                    f(&mut comm)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// Each party sends a vector to both others and checks what it gets; a 2 MiB message too.
fn exchange(c: &mut Comm) -> Result<u64, NetError> {
    let me = c.role() as u64;
    let big: Vec<u64> = (0..(1u64 << 18)).map(|i| i ^ me).collect();
    let shared = std::sync::Arc::new(big.clone());
    for i in 0..3 {
        c.send(c.next(), vec![me, 10 + me])?;
        // the second time framed straight from a shared buffer, and received as one
        if i == 1 {
            c.send_shared(c.prev(), &shared)?;
        } else {
            c.send(c.prev(), big.clone())?;
        }
        let from_prev = c.recv(c.prev(), 2)?;
        let from_next = if i == 1 {
            c.recv_shared(c.next(), big.len())?.to_vec()
        } else {
            c.recv(c.next(), big.len())?
        };
        assert_eq!(from_prev, vec![c.prev() as u64, 10 + c.prev() as u64]);
        assert_eq!(from_next[5], 5 ^ c.next() as u64);
        assert!(
            from_next
                .iter()
                .enumerate()
                .all(|(j, &v)| v == j as u64 ^ c.next() as u64)
        );
    }
    Ok(c.stats().rounds)
}

#[test]
fn tls_and_plain_links_carry_messages_in_order() {
    let m = generate(3, "test CA").unwrap();
    let (ls, cfgs) = setup(tls_all(&m));
    for r in run(ls, cfgs, exchange) {
        assert!(r.unwrap() >= 3);
    }
    let (ls, cfgs) = setup(std::array::from_fn(|_| Security::InsecurePlainTcp));
    for r in run(ls, cfgs, exchange) {
        assert!(r.unwrap() >= 3);
    }
}

fn expect_all_fail(results: Vec<Result<u64, NetError>>) -> Vec<String> {
    results
        .into_iter()
        .map(|r| match r {
            Ok(_) => panic!("a party succeeded in a broken session"),
            Err(e) => e.to_string(),
        })
        .collect()
}

#[test]
fn certificate_from_another_ca_is_refused() {
    let m = generate(3, "test CA").unwrap();
    let rogue = generate(3, "rogue CA").unwrap();
    let mut sec = tls_all(&m);
    sec[1] = Security::Tls(identity(&rogue, &rogue.ca_cert, 1));
    let (ls, cfgs) = setup(sec);
    let errs = expect_all_fail(run(ls, cfgs, exchange));
    assert!(errs[0].contains("TLS handshake"), "{errs:?}");
    assert!(errs[1].contains("TLS handshake"), "{errs:?}");
}

#[test]
fn certificate_of_another_role_is_refused() {
    let m = generate(3, "test CA").unwrap();
    let mut sec = tls_all(&m);
    // party 1 presents party 2's (valid) certificate
    sec[1] = Security::Tls(identity(&m, &m.ca_cert, 2));
    let (ls, mut cfgs) = setup(sec);
    cfgs[1].role = 1;
    let errs = expect_all_fail(run(ls, cfgs, exchange));
    assert!(errs[0].contains("not for"), "{errs:?}");
    assert!(
        errs.iter().any(|e| e.contains("trefoil-party-1")),
        "{errs:?}"
    );
}

#[test]
fn mismatched_settings_and_session_are_named_on_every_party() {
    let m = generate(3, "test CA").unwrap();
    let (ls, mut cfgs) = setup(tls_all(&m));
    cfgs[1].settings = SessionSettings::new(12);
    let errs = expect_all_fail(run(ls, cfgs, exchange));
    for e in &errs {
        assert!(e.contains("session settings mismatch"), "{errs:?}");
    }
    let (ls, mut cfgs) = setup(std::array::from_fn(|_| Security::InsecurePlainTcp));
    cfgs[2].session_id = "other".into();
    let errs = expect_all_fail(run(ls, cfgs, exchange));
    assert!(errs[0].contains("session id mismatch"), "{errs:?}");
    assert!(errs[2].contains("session id mismatch"), "{errs:?}");
}

#[test]
fn garbage_and_missing_client_certificate_end_the_session() {
    let m = generate(3, "test CA").unwrap();
    for plain in [false, true] {
        let sec = if plain {
            std::array::from_fn(|_| Security::InsecurePlainTcp)
        } else {
            tls_all(&m)
        };
        let (ls, mut cfgs) = setup(sec);
        for c in &mut cfgs {
            // party 2 never comes: party 1 gives up waiting for it after this
            c.connect_timeout = Duration::from_millis(800);
        }
        let target = cfgs[0].addresses[0].clone();
        let mut two = cfgs;
        two.pop();
        let mut ls = ls;
        ls.pop();
        // a stranger writes garbage to party 0's port before party 2 could connect
        let mut s = std::net::TcpStream::connect(&target).unwrap();
        s.write_all(&[0x5a; 64]).unwrap();
        let errs: Vec<String> = run(ls, two, exchange)
            .into_iter()
            .map(|r| r.unwrap_err().to_string())
            .collect();
        assert!(errs[0].contains("unidentified connection"), "{errs:?}");
        if plain {
            assert!(errs[0].contains("unknown message kind 90"), "{errs:?}");
        }
        drop(s);
    }
    // a TLS client without a certificate
    let (mut ls, cfgs) = setup(tls_all(&m));
    let target = cfgs[0].addresses[0].clone();
    let l0 = ls.remove(0);
    let mut c0 = cfgs[0].clone();
    c0.connect_timeout = Duration::from_millis(800); // nobody else will come
    let h = std::thread::spawn(move || TcpTransport::connect_with_listener(&c0, l0).map(|_| ()));
    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::pem::PemObject;
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_slice(m.ca_cert.as_bytes()).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("trefoil-party-0").unwrap();
    let mut conn = rustls::ClientConnection::new(Arc::new(cfg), name).unwrap();
    let mut sock = std::net::TcpStream::connect(&target).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut tls = rustls::Stream::new(&mut conn, &mut sock);
    let _ = tls.write_all(b"hello");
    let _ = tls.flush();
    let mut buf = [0u8; 16];
    let _ = std::io::Read::read(&mut tls, &mut buf);
    let err = h.join().unwrap().unwrap_err();
    assert!(
        matches!(
            err,
            NetError::Tls {
                link: Link::Unidentified(_),
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
}

#[test]
fn oversized_frame_silent_peer_and_departed_peer() {
    // party 0 allows big frames, party 1 only 1 KiB: party 0's 2 KiB message is refused by 1
    let (ls, mut cfgs) = setup(std::array::from_fn(|_| Security::InsecurePlainTcp));
    cfgs[1].max_frame_bytes = 1024;
    let res = run(ls, cfgs, |c| {
        match c.role() {
            0 => c.send(1, vec![7; 256])?,
            1 => {
                c.recv(0, 256)?;
            }
            _ => {}
        }
        Ok(0)
    });
    let err = res[1].as_ref().unwrap_err();
    assert!(
        matches!(
            err,
            NetError::FrameTooLarge {
                link: Link::Party(0),
                len: 2048,
                max: 1024
            }
        ),
        "{err}"
    );
    // the sender refuses frames above its own maximum before they reach the wire
    let (ls, mut cfgs) = setup(std::array::from_fn(|_| Security::InsecurePlainTcp));
    for c in &mut cfgs {
        c.max_frame_bytes = 1024;
    }
    let res = run(ls, cfgs, |c| c.send(c.next(), vec![1; 200]).map(|_| 0));
    assert!(matches!(res[0], Err(NetError::FrameTooLarge { .. })));
    // party 2 connects and then never answers: the others time out naming party 2; then it
    // leaves, and party 0 sees it gone
    let (ls, mut cfgs) = setup(std::array::from_fn(|_| Security::InsecurePlainTcp));
    for c in &mut cfgs {
        c.recv_timeout = Duration::from_millis(300);
    }
    let res = run(ls, cfgs, |c| {
        if c.role() == 2 {
            std::thread::sleep(Duration::from_millis(600));
            return Ok(0);
        }
        let first = c.recv(2, 1);
        assert!(
            matches!(
                first,
                Err(NetError::Timeout {
                    peer: 2,
                    millis: 300
                })
            ),
            "{first:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
        c.recv(2, 1).map(|_| 0)
    });
    assert!(
        matches!(res[0], Err(NetError::Disconnected { peer: 2 })),
        "{:?}",
        res[0]
    );
    assert!(res[2].is_ok());
}

/// A party that gives up tells both others why: they stop with `PeerAborted` naming it and its
/// reason, over TLS, and its own sends fail afterwards.
#[test]
fn an_aborting_party_tells_both_others_why() {
    let m = generate(3, "test CA").unwrap();
    let (ls, cfgs) = setup(tls_all(&m));
    let res = run(ls, cfgs, |c| {
        if c.role() == 1 {
            c.send(0, vec![1])?;
            c.abort("hospital1.csv: no such file");
            return match c.send(0, vec![2]) {
                Err(NetError::Disconnected { peer: 0 }) => Ok(1),
                other => panic!("a send after abort: {other:?}"),
            };
        }
        if c.role() == 0 {
            assert_eq!(c.recv(1, 1)?, vec![1]);
        }
        c.recv(1, 1).map(|_| 0)
    });
    assert_eq!(*res[1].as_ref().unwrap(), 1);
    for r in [&res[0], &res[2]] {
        match r {
            Err(NetError::PeerAborted { peer: 1, reason }) => {
                assert_eq!(reason, "hospital1.csv: no such file");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn nobody_listening_is_a_bounded_connect_error() {
    let (_, mut cfgs) = setup(std::array::from_fn(|_| Security::InsecurePlainTcp));
    let mut c = cfgs.remove(2);
    c.addresses[0] = "127.0.0.1:1".into();
    c.connect_timeout = Duration::from_millis(300);
    let err = TcpTransport::connect(&c).unwrap_err();
    assert!(matches!(err, NetError::Connect { peer: 0, .. }), "{err}");
    let _: &dyn Transport = &mpc_net::memory::memory_network()
        .into_iter()
        .next()
        .unwrap();
}
