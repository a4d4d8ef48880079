//! Network benchmarks on loopback:
//! - the cost of one round (a one-word reveal, 1,000 in a row) in memory, over plain TCP and
//!   over mutual TLS, next to its floors: the same ring of one-word messages between three
//!   threads over bare blocking loopback sockets (`TCP_NODELAY`), and over blocking channels,
//!   with no transport in between (what waking a thread per message costs on this machine);
//! - transport throughput (criterion, MB/s): party 0 sends 4 MiB messages to party 1, which
//!   acknowledges each, over plain TCP and over mutual TLS;
//! - a 512 x 512 secret matmul (fused truncation) over TLS vs in-memory channels, printing the
//!   median time, bytes per party and rounds, and the simulated-network estimate for LAN/WAN.
//!
//! Run with `cargo bench --bench net`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput};
use mpc_core::{FixedPoint, Party, time_3pc};
use mpc_net::codec::SessionSettings;
use mpc_net::keygen::generate;
use mpc_net::memory::memory_network;
use mpc_net::sim::{NetProfile, SimTransport, estimate};
use mpc_net::tls::TlsIdentity;
use mpc_net::{Comm, CommStats, Security, TcpConfig, TcpTransport, Transport};
use std::net::TcpListener;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

const MSG_WORDS: usize = 512 * 1024; // 4 MiB

fn configs(tls: bool) -> (Vec<Option<TcpListener>>, Vec<TcpConfig>) {
    let m = generate(3, "bench CA").unwrap();
    let l0 = TcpListener::bind("127.0.0.1:0").unwrap();
    let l1 = TcpListener::bind("127.0.0.1:0").unwrap();
    let addrs = [
        l0.local_addr().unwrap().to_string(),
        l1.local_addr().unwrap().to_string(),
        "127.0.0.1:9".to_string(),
    ];
    let cfgs = (0..3)
        .map(|role| {
            let sec = if tls {
                let (c, k) = &m.parties[role];
                let names = ["ca".into(), "cert".into(), "key".into()];
                let id =
                    TlsIdentity::from_pem(m.ca_cert.as_bytes(), c.as_bytes(), k.as_bytes(), names);
                Security::Tls(Arc::new(id.unwrap()))
            } else {
                Security::InsecurePlainTcp
            };
            TcpConfig::new(role, addrs.clone(), "bench", SessionSettings::new(16), sec)
        })
        .collect();
    (vec![Some(l0), Some(l1), None], cfgs)
}

/// Three connected transports (connected concurrently), in role order.
fn connect(tls: bool) -> Vec<TcpTransport> {
    let (ls, cfgs) = configs(tls);
    let hs: Vec<_> = ls
        .into_iter()
        .zip(cfgs)
        .map(|(l, c)| {
            std::thread::spawn(move || TcpTransport::connect_with_listener(&c, l).unwrap())
        })
        .collect();
    hs.into_iter().map(|h| h.join().unwrap()).collect()
}

fn throughput(c: &mut Criterion) {
    let mut g = c.benchmark_group("loopback_throughput");
    g.throughput(Throughput::Bytes(8 * MSG_WORDS as u64));
    g.sample_size(20);
    for tls in [false, true] {
        let mut ts = connect(tls);
        let t1 = ts.remove(1);
        let _t2 = ts.pop();
        let mut a = Comm::new(Box::new(ts.remove(0)));
        // party 1 echoes a one-word ack per message until it gets an empty message
        let echo = std::thread::spawn(move || {
            let mut b = Comm::new(Box::new(t1));
            loop {
                let mut t = b.recv(0, MSG_WORDS);
                if t.is_err() {
                    return;
                }
                let _ = t.as_mut().map(|v| v.clear());
                if b.send(0, vec![1]).is_err() {
                    return;
                }
            }
        });
        let payload = vec![0x5a5a_5a5a_5a5a_5a5a_u64; MSG_WORDS];
        let name = if tls { "tls" } else { "plain_tcp" };
        g.bench_function(name, |bch| {
            bch.iter(|| {
                a.send(1, payload.clone()).unwrap();
                a.recv(1, 1).unwrap();
            })
        });
        a.send(1, vec![]).unwrap(); // wrong length: party 1 stops
        let _ = a.recv(1, 1);
        drop(a);
        echo.join().unwrap();
    }
    g.finish();
}

/// Times `iters` 512 x 512 fixed-point matmuls over the given transports (one per party, in role
/// order); returns (median, per-party stats, rounds).
fn matmul_over(ts: Vec<Box<dyn Transport>>, iters: usize) -> (Duration, [CommStats; 3], u64) {
    let barrier = Arc::new(Barrier::new(3));
    let hs: Vec<_> = ts
        .into_iter()
        .map(|t| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut p = Party::new(t, FixedPoint::default()).unwrap();
                let x = p.random_share(&[512, 512], 16).unwrap();
                let y = p.random_share(&[512, 512], 16).unwrap();
                let mut samples = Vec::new();
                let mut per = CommStats::default();
                for i in 0..iters + 1 {
                    barrier.wait();
                    let before = p.stats();
                    let t0 = Instant::now();
                    let z = p.matmul(&x, &y).unwrap();
                    barrier.wait();
                    if i > 0 {
                        samples.push(t0.elapsed());
                    }
                    per = p.stats().since(&before);
                    drop(z);
                }
                (samples, per)
            })
        })
        .collect();
    let outs: Vec<_> = hs.into_iter().map(|h| h.join().unwrap()).collect();
    let mut samples = outs[0].0.clone();
    samples.sort();
    let stats = [outs[0].1, outs[1].1, outs[2].1];
    let rounds = stats.iter().map(|s| s.rounds).max().unwrap_or(0);
    (samples[samples.len() / 2], stats, rounds)
}

/// The cost of one round over the given transports: `n` dependent one-word reveals, per reveal
/// (median over 5 repetitions).
fn round_over(ts: Vec<Box<dyn Transport>>, n: usize) -> Duration {
    let hs: Vec<_> = ts
        .into_iter()
        .map(|t| {
            std::thread::spawn(move || {
                let mut p = Party::new(t, FixedPoint::default()).unwrap();
                let x = p.random_share(&[1], 16).unwrap();
                per_round(n, || {
                    p.reveal(&x).unwrap();
                })
            })
        })
        .collect();
    slowest(hs)
}

/// Time per call of `round`: the median over 5 repetitions of `n` calls, after one warm-up.
fn per_round(n: usize, mut round: impl FnMut()) -> Duration {
    let mut samples: Vec<Duration> = (0..6)
        .map(|_| {
            let t0 = Instant::now();
            for _ in 0..n {
                round();
            }
            t0.elapsed() / n as u32
        })
        .skip(1)
        .collect();
    samples.sort();
    samples[samples.len() / 2]
}

/// The slowest of the parties' timings.
fn slowest(hs: Vec<std::thread::JoinHandle<Duration>>) -> Duration {
    hs.into_iter()
        .map(|h| h.join().unwrap())
        .max()
        .unwrap_or_default()
}

/// The floor of one round: three threads in a ring, each writes one 16-byte message (a word and
/// a header's worth) to the next and reads one from the previous, over bare blocking loopback
/// sockets with `TCP_NODELAY` (`tcp`) or blocking channels (`channel`). Per round, the median
/// over 5 repetitions of `n`.
fn floor(kind: &str, n: usize) -> Duration {
    use std::io::{Read, Write};
    type Link = (
        Box<dyn FnMut(&[u8; 16]) + Send>,
        Box<dyn FnMut(&mut [u8; 16]) + Send>,
    );
    let mut links: Vec<Link> = Vec::new();
    if kind == "tcp" {
        // party i's stream to i+1, and i+1's end of it
        let mut outs = Vec::new();
        let mut ins = Vec::new();
        for _ in 0..3 {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let a = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
            let (b, _) = l.accept().unwrap();
            a.set_nodelay(true).unwrap();
            b.set_nodelay(true).unwrap();
            outs.push(a);
            ins.push(b);
        }
        // party i writes on outs[i] (to i+1) and reads ins[i-1] (from i-1)
        ins.rotate_right(1);
        for (mut o, mut i) in outs.into_iter().zip(ins) {
            links.push((
                Box::new(move |m| o.write_all(m).unwrap()),
                Box::new(move |m| i.read_exact(m).unwrap()),
            ));
        }
    } else {
        let mut txs = Vec::new();
        let mut rxs = Vec::new();
        for _ in 0..3 {
            let (t, r) = crossbeam_channel::unbounded::<[u8; 16]>();
            txs.push(t);
            rxs.push(r);
        }
        rxs.rotate_right(1);
        for (t, r) in txs.into_iter().zip(rxs) {
            links.push((
                Box::new(move |m| t.send(*m).unwrap()),
                Box::new(move |m| *m = r.recv().unwrap()),
            ));
        }
    }
    let hs: Vec<_> = links
        .into_iter()
        .map(|(mut send, mut recv)| {
            std::thread::spawn(move || {
                let mut m = [7u8; 16];
                per_round(n, || {
                    send(&m);
                    recv(&mut m);
                })
            })
        })
        .collect();
    slowest(hs)
}

fn main() {
    for kind in ["channel", "tcp"] {
        println!(
            "{{\"workload\":\"round_floor\",\"transport\":\"{kind}\",\"median_s\":{:.9}}}",
            floor(kind, 1000).as_secs_f64()
        );
    }
    for (name, links) in [
        (
            "in_memory",
            memory_network()
                .into_iter()
                .map(|t| Box::new(t) as Box<dyn Transport>)
                .collect::<Vec<_>>(),
        ),
        (
            "plain_tcp_loopback",
            connect(false)
                .into_iter()
                .map(|t| Box::new(t) as Box<dyn Transport>)
                .collect(),
        ),
        (
            "tls_loopback",
            connect(true)
                .into_iter()
                .map(|t| Box::new(t) as Box<dyn Transport>)
                .collect(),
        ),
    ] {
        let per = round_over(links, 1000);
        println!(
            "{{\"workload\":\"round\",\"transport\":\"{name}\",\"median_s\":{:.9}}}",
            per.as_secs_f64()
        );
    }
    let mut c = Criterion::default().configure_from_args();
    throughput(&mut c);
    c.final_summary();

    let iters = 5;
    let (mem, _) = time_3pc(
        1,
        iters,
        |p| {
            Ok((
                p.random_share(&[512, 512], 16)?,
                p.random_share(&[512, 512], 16)?,
            ))
        },
        |p, (x, y)| p.matmul(x, y).map(|_| ()),
    )
    .unwrap();
    let tls_links = connect(true)
        .into_iter()
        .map(|t| Box::new(t) as Box<dyn Transport>);
    let (tls, stats, rounds) = matmul_over(tls_links.collect(), iters);
    // the same matmul through the network simulator: measured next to the analytical estimate
    let sim = |profile: NetProfile| {
        let links = memory_network()
            .into_iter()
            .map(|t| Box::new(SimTransport::new(Box::new(t), profile)) as Box<dyn Transport>);
        matmul_over(links.collect(), iters)
    };
    let (lan, lan_stats, lan_rounds) = sim(NetProfile::lan());
    let (wan, wan_stats, wan_rounds) = sim(NetProfile::wan());
    for (name, median, per, r) in [
        ("in_memory", mem.median(), mem.per_op, mem.rounds),
        ("tls_loopback", tls, stats, rounds),
        ("sim_lan", lan, lan_stats, lan_rounds),
        ("sim_wan", wan, wan_stats, wan_rounds),
    ] {
        println!(
            "{{\"workload\":\"matmul_512\",\"transport\":\"{name}\",\"median_s\":{:.4},\"bytes_per_party\":[{},{},{}],\"rounds\":{r},\"est_lan_s\":{:.4},\"est_wan_s\":{:.4}}}",
            median.as_secs_f64(),
            per[0].bytes_sent,
            per[1].bytes_sent,
            per[2].bytes_sent,
            estimate(&per, &NetProfile::lan()).as_secs_f64(),
            estimate(&per, &NetProfile::wan()).as_secs_f64(),
        );
    }
}
