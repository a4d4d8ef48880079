//! Network simulation: a [`Transport`] wrapper that adds latency and a bandwidth cap, and the
//! analytical cost estimate it is checked against.
//!
//! ## Model
//! Each directed link is a pipe with one-way latency `L = RTT / 2` and bandwidth `B`. A message of
//! `b` payload bytes sent at time `t` starts transmitting when the link is free
//! (`start = max(t, link_free)`), occupies the link for `b / B`, and arrives at
//! `start + b / B + L`. The sender never waits (a NIC queues); the receiver's `recv` returns the
//! message no earlier than its arrival time. The arrival time travels with the message as two
//! extra words (stripped on receipt and not counted by [`crate::Comm`]), so both ends of every
//! link must be wrapped, and the clocks must agree (in-process, or one machine).
//!
//! ## Estimate
//! [`estimate`]: `rounds * RTT / 2 + max_party_bytes_sent / B`. Rounds are one-way message hops
//! on the critical path (see the crate docs), so each costs one one-way latency; the bytes term
//! assumes the busiest party's traffic is serialised on its links. It ignores computation, so
//! the measured simulated time is at least the latency term and usually close to the sum.

use crate::{CommStats, Message, NetError, PARTIES, Transport};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Latency and bandwidth of the simulated links.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NetProfile {
    /// Round-trip time.
    pub rtt: Duration,
    /// Bandwidth of each directed link, in bits per second.
    pub bits_per_second: f64,
}

impl NetProfile {
    /// A data-centre LAN: 0.2 ms RTT, 10 Gbit/s.
    pub fn lan() -> NetProfile {
        NetProfile {
            rtt: Duration::from_micros(200),
            bits_per_second: 10e9,
        }
    }

    /// A wide-area link between sites: 40 ms RTT, 100 Mbit/s.
    pub fn wan() -> NetProfile {
        NetProfile {
            rtt: Duration::from_millis(40),
            bits_per_second: 100e6,
        }
    }

    /// One-way latency, `RTT / 2`.
    pub fn one_way(&self) -> Duration {
        self.rtt / 2
    }

    /// Time to put `bytes` on the link.
    pub fn transmit(&self, bytes: u64) -> Duration {
        if self.bits_per_second <= 0.0 || !self.bits_per_second.is_finite() {
            return Duration::ZERO;
        }
        Duration::from_secs_f64(bytes as f64 * 8.0 / self.bits_per_second)
    }
}

/// The analytical cost of a computation on `profile`: `rounds * RTT/2 + max bytes_sent / B`,
/// from the three parties' counters. It is a lower bound: it charges each party's bytes once, as
/// if all transmissions overlapped, while a protocol whose critical path passes several large
/// messages one after another (the fused truncation sends a whole matrix on each of its two hops)
/// takes up to `rounds` times the transmission term; `SimTransport` measures that.
pub fn estimate(stats: &[CommStats; PARTIES], profile: &NetProfile) -> Duration {
    let rounds = stats.iter().map(|s| s.rounds).max().unwrap_or(0);
    let bytes = stats.iter().map(|s| s.bytes_sent).max().unwrap_or(0);
    profile.one_way() * u32::try_from(rounds).unwrap_or(u32::MAX) + profile.transmit(bytes)
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// A transport that delays messages as [`NetProfile`] says (see the module docs).
pub struct SimTransport {
    inner: Box<dyn Transport>,
    profile: NetProfile,
    /// Per destination: when the link finishes sending what is queued (ns since the epoch).
    link_free: [u64; PARTIES],
}

impl std::fmt::Debug for SimTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimTransport")
            .field("role", &self.inner.role())
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

impl SimTransport {
    /// Wraps `inner`; the peers must be wrapped with the same profile.
    pub fn new(inner: Box<dyn Transport>, profile: NetProfile) -> SimTransport {
        SimTransport {
            inner,
            profile,
            link_free: [0; PARTIES],
        }
    }
}

impl Transport for SimTransport {
    fn role(&self) -> usize {
        self.inner.role()
    }

    fn send(&mut self, to: usize, mut msg: Message) -> Result<(), NetError> {
        let bytes = 8 * msg.words.len() as u64;
        let now = now_nanos();
        let free = self.link_free.get_mut(to).ok_or(NetError::BadPeer {
            role: self.inner.role(),
            peer: to,
        })?;
        let done = now.max(*free) + self.profile.transmit(bytes).as_nanos() as u64;
        *free = done;
        let arrival = done + self.profile.one_way().as_nanos() as u64;
        msg.words.push(arrival);
        msg.words.push(!arrival); // a check word: a peer that is not simulated is detected
        self.inner.send(to, msg)
    }

    fn recv(&mut self, from: usize) -> Result<Message, NetError> {
        let mut msg = self.inner.recv(from)?;
        let (check, arrival) = match (msg.words.pop(), msg.words.pop()) {
            (Some(c), Some(a)) if c == !a => (c, a),
            _ => {
                return Err(NetError::BadPayload {
                    link: crate::Link::Party(from),
                    detail:
                        "message without simulated arrival time: wrap every party in SimTransport"
                            .into(),
                });
            }
        };
        let _ = check;
        let now = now_nanos();
        if arrival > now {
            std::thread::sleep(Duration::from_nanos(arrival - now));
        }
        Ok(msg)
    }

    fn abort(&mut self, reason: &str) {
        self.inner.abort(reason);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Comm;
    use crate::memory::memory_network;
    use std::time::Instant;

    #[test]
    fn estimate_formula() {
        let p = NetProfile {
            rtt: Duration::from_millis(10),
            bits_per_second: 8e6, // 1 MB/s
        };
        let s = |bytes_sent, rounds| CommStats {
            bytes_sent,
            rounds,
            ..CommStats::default()
        };
        let e = estimate(&[s(1000, 2), s(500_000, 3), s(0, 1)], &p);
        // 3 rounds * 5 ms + 500 kB / (1 MB/s)
        assert_eq!(e, Duration::from_millis(15) + Duration::from_millis(500));
        assert_eq!(NetProfile::wan().one_way(), Duration::from_millis(20));
        assert_eq!(
            NetProfile::lan().transmit(1_250_000_000),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn ping_pong_pays_latency_and_bandwidth() {
        let p = NetProfile {
            rtt: Duration::from_millis(20),
            bits_per_second: 80e6, // 10 MB/s
        };
        let [a, b, _c] = memory_network();
        let mut a = Comm::new(Box::new(SimTransport::new(Box::new(a), p)));
        let mut b = Comm::new(Box::new(SimTransport::new(Box::new(b), p)));
        let t0 = Instant::now();
        let h = std::thread::spawn(move || {
            for _ in 0..3 {
                let v = b.recv(0, 12_500).unwrap();
                b.send(0, v).unwrap();
            }
            b.stats()
        });
        for _ in 0..3 {
            a.send(1, vec![1; 12_500]).unwrap(); // 100 kB: 10 ms on the link
            assert_eq!(a.recv(1, 12_500).unwrap().len(), 12_500);
        }
        let took = t0.elapsed();
        let sb = h.join().unwrap();
        // 6 one-way hops of 10 ms latency + 10 ms transmission each
        assert_eq!(a.stats().rounds, 6);
        assert_eq!(sb.bytes_sent, 300_000, "the arrival stamp is not counted");
        assert!(took >= Duration::from_millis(120), "{took:?}");
        // a peer without the simulator is detected
        let [x, y, _z] = memory_network();
        let mut x = Comm::new(Box::new(x));
        let mut y = Comm::new(Box::new(SimTransport::new(Box::new(y), p)));
        x.send(1, vec![5]).unwrap();
        assert!(matches!(y.recv(0, 1), Err(NetError::BadPayload { .. })));
    }
}
