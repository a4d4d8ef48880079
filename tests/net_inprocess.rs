//! The protocol code runs unchanged over TCP with mutual TLS and over the network simulator:
//! same results and exactly the same bytes and rounds as over in-memory channels.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mpc_core::{CommStats, FixedPoint, Party, Result, run_3pc};
use mpc_net::codec::SessionSettings;
use mpc_net::keygen::generate;
use mpc_net::memory::memory_network;
use mpc_net::sim::{NetProfile, SimTransport, estimate};
use mpc_net::tls::TlsIdentity;
use mpc_net::{Security, TcpConfig, TcpTransport, Transport};
use ndarray::{ArrayD, IxDyn};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Share, matmul (fused truncation), stand-alone truncation, reveal.
fn demo(p: &mut Party) -> Result<(Vec<f64>, CommStats)> {
    let x = ArrayD::from_shape_fn(IxDyn(&[6, 5]), |i| {
        (i[0] as f64 - 2.5) / 3.0 + i[1] as f64 / 7.0
    });
    let y = ArrayD::from_shape_fn(IxDyn(&[5, 4]), |i| (i[0] * i[1]) as f64 / 9.0 - 0.4);
    let sx = p.input_f64(0, (p.role() == 0).then_some(&x), x.shape())?;
    let sy = p.input_f64(1, (p.role() == 1).then_some(&y), y.shape())?;
    let z = p.matmul(&sx, &sy)?;
    let t = p.trunc(&z, 3)?;
    let r = p.reveal_f64(&t)?;
    let want = x
        .into_dimensionality::<ndarray::Ix2>()
        .unwrap()
        .dot(&y.into_dimensionality::<ndarray::Ix2>().unwrap());
    for (a, b) in r.iter().zip(want.iter()) {
        assert!((a - b).abs() < 2e-3, "{a} vs {b}");
    }
    Ok((r.iter().copied().collect(), p.stats()))
}

fn run_over(ts: Vec<Box<dyn Transport>>) -> Vec<(Vec<f64>, CommStats)> {
    let hs: Vec<_> = ts
        .into_iter()
        .map(|t| {
            std::thread::spawn(move || {
                let mut p = Party::new(t, FixedPoint::default()).unwrap();
                demo(&mut p).unwrap()
            })
        })
        .collect();
    hs.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn protocols_over_tls_match_in_memory_bytes_and_rounds() {
    let m = generate(3, "test CA").unwrap();
    let l0 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let l1 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addrs = [
        l0.local_addr().unwrap().to_string(),
        l1.local_addr().unwrap().to_string(),
        "127.0.0.1:9".to_string(),
    ];
    let mut listeners = [Some(l0), Some(l1), None];
    let connecting: Vec<_> = (0..3)
        .map(|role| {
            let (c, k) = &m.parties[role];
            let names = ["ca".into(), "cert".into(), "key".into()];
            let id = TlsIdentity::from_pem(m.ca_cert.as_bytes(), c.as_bytes(), k.as_bytes(), names)
                .unwrap();
            let mut cfg = TcpConfig::new(
                role,
                addrs.clone(),
                "inproc",
                SessionSettings::new(16),
                Security::Tls(Arc::new(id)),
            );
            cfg.connect_timeout = Duration::from_secs(10);
            let l = listeners[role].take();
            std::thread::spawn(move || TcpTransport::connect_with_listener(&cfg, l).unwrap())
        })
        .collect();
    let tcp: Vec<Box<dyn Transport>> = connecting
        .into_iter()
        .map(|h| Box::new(h.join().unwrap()) as Box<dyn Transport>)
        .collect();
    let over_tls = run_over(tcp);
    let in_memory = run_3pc(demo).unwrap();
    for (role, ((_, tls_stats), (_, mem_stats))) in over_tls.iter().zip(&in_memory).enumerate() {
        assert_eq!(tls_stats, mem_stats, "party {role}");
    }
    // input (1) + input (1) + matmul (2) + trunc (1) + reveal (1), partly overlapping
    assert!(over_tls.iter().map(|r| r.1.rounds).max().unwrap() >= 4);
}

#[test]
fn simulated_wan_costs_at_least_the_latency_of_its_rounds() {
    let profile = NetProfile {
        rtt: Duration::from_millis(20),
        bits_per_second: 1e9,
    };
    let ts: Vec<Box<dyn Transport>> = memory_network()
        .into_iter()
        .map(|t| Box::new(SimTransport::new(Box::new(t), profile)) as Box<dyn Transport>)
        .collect();
    let t0 = Instant::now();
    let outs = run_over(ts);
    let took = t0.elapsed();
    let stats = [outs[0].1, outs[1].1, outs[2].1];
    let est = estimate(&stats, &profile);
    let rounds = stats.iter().map(|s| s.rounds).max().unwrap();
    // set-up adds one more hop; lower bounds only (no upper timing bound in tests)
    assert!(took >= profile.one_way() * (rounds as u32 + 1), "{took:?}");
    assert!(est >= profile.one_way() * rounds as u32);
    assert_eq!(stats, run_3pc(demo).unwrap().map(|r| r.1));
}
