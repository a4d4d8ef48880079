//! Transports for Trefoil's three parties, and the communication counters every backend shares.
//!
//! Protocol code talks to the other two parties through a [`Comm`]: it sends vectors of ring words
//! (`u64`) to a peer and receives them back in FIFO order per peer. A [`Comm`] wraps any
//! [`Transport`] backend (in-process channels from [`memory`], TCP with mutual TLS from [`tcp`],
//! optionally behind the network simulator of [`sim`]) and counts, per
//! party, the payload bytes and messages sent and the number of communication rounds.
//!
//! ## How rounds are counted
//! Every message carries a *depth*: the number of sequential message hops that had to happen before
//! it could be sent, plus one. A party's depth starts at 0, becomes `max(depth, message depth)` on
//! every receive, and each message it sends is stamped `depth + 1`. The depth of a party at the end
//! of a protocol is the length of the longest chain of dependent messages that led to it, i.e. the
//! protocol's latency in one-way message hops. The rounds of a whole computation are the maximum
//! depth over the three parties ([`CommStats::rounds`] on each party, then the maximum); the rounds
//! of one operation inside it are the growth of that maximum across the operation.
//! This definition needs only a number in each frame header, so it works the same over a network.
//!
//! Three parties over in-process channels: each sends one word to the next party, then
//! forwards what it received to the next again. Two dependent hops, so two rounds:
//!
//! ```
//! use mpc_net::{Comm, memory::memory_network};
//!
//! let stats: Vec<_> = std::thread::scope(|s| {
//!     let workers: Vec<_> = memory_network()
//!         .into_iter()
//!         .map(|t| {
//!             s.spawn(move || -> Result<_, mpc_net::NetError> {
//!                 let mut c = Comm::new(Box::new(t));
//!                 let (next, prev) = (c.next(), c.prev());
//!                 c.send(next, vec![10 + c.role() as u64])?;
//!                 let got = c.recv(prev, 1)?; // a length other than 1 would be an error
//!                 assert_eq!(got, [10 + prev as u64]);
//!                 c.send(next, got)?;
//!                 c.recv(prev, 1)?;
//!                 Ok(c.stats())
//!             })
//!         })
//!         .collect();
//!     workers.into_iter().map(|w| w.join().unwrap()).collect()
//! });
//! for st in stats {
//!     let st = st?;
//!     assert_eq!((st.bytes_sent, st.messages_sent, st.rounds), (16, 2, 2));
//! }
//! # Ok::<(), mpc_net::NetError>(())
//! ```
#![deny(missing_docs)]

pub mod codec;
pub mod config;
mod error;
pub mod frame;
pub mod keygen;
pub mod memory;
pub mod pool;
pub mod sim;
pub mod tcp;
pub mod tls;

pub use error::{Link, NetError};
use std::sync::Arc;
pub use tcp::{Security, TcpConfig, TcpTransport};

/// The number of parties in a Trefoil computation.
pub const PARTIES: usize = 3;

/// One message on the wire: its depth stamp (see the crate docs) and its payload of ring words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Depth stamp: the number of dependent hops up to and including this message.
    pub depth: u64,
    /// Payload: little-endian u64 words on a real wire.
    pub words: Vec<u64>,
}

/// A backend that moves [`Message`]s between this party and the two others.
///
/// Delivery is reliable and FIFO per (sender, receiver) pair. `recv` blocks until a message
/// arrives, the peer is known to be gone, or the backend's timeout expires; it never hangs
/// forever.
pub trait Transport: Send {
    /// This party's role, 0, 1 or 2.
    fn role(&self) -> usize;
    /// Sends `msg` to party `to` (never this party).
    fn send(&mut self, to: usize, msg: Message) -> Result<(), NetError>;
    /// Receives the next message from party `from`.
    fn recv(&mut self, from: usize) -> Result<Message, NetError>;

    /// Sends `words`, stamped `depth`, to party `to` while this party keeps reading them.
    /// A backend whose parties share memory may hand the receiver the buffer itself
    /// ([`memory`]: read-only, so neither side can change what the other reads); the default
    /// sends a copy (a buffer from [`pool`]) through [`Transport::send`].
    fn send_shared(
        &mut self,
        to: usize,
        depth: u64,
        words: &Arc<Vec<u64>>,
    ) -> Result<(), NetError> {
        self.send(
            to,
            Message {
                depth,
                words: pool::copy(words),
            },
        )
    }

    /// Receives the next message from party `from` as a read-only shared buffer (the
    /// default wraps the message [`Transport::recv`] returns). FIFO together with `recv`.
    fn recv_shared(&mut self, from: usize) -> Result<(u64, Arc<Vec<u64>>), NetError> {
        let m = self.recv(from)?;
        Ok((m.depth, Arc::new(m.words)))
    }

    /// Ends the session on purpose: tells every peer still connected why (`reason`), so that
    /// each stops with [`NetError::PeerAborted`] naming this party and the cause, rather than
    /// a bare disconnect. Best effort and bounded in time; sends after it fail. The TCP and
    /// in-memory transports implement it; the default does nothing.
    fn abort(&mut self, _reason: &str) {}
}

/// Communication counters of one party.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommStats {
    /// Payload bytes sent by this party (8 per ring word; headers are not counted).
    pub bytes_sent: u64,
    /// Payload bytes received by this party.
    pub bytes_received: u64,
    /// Messages sent by this party.
    pub messages_sent: u64,
    /// This party's depth: the longest chain of dependent messages so far (see the crate docs).
    pub rounds: u64,
}

impl CommStats {
    /// The counters accumulated since `earlier` was taken from the same party.
    pub fn since(&self, earlier: &CommStats) -> CommStats {
        CommStats {
            bytes_sent: self.bytes_sent - earlier.bytes_sent,
            bytes_received: self.bytes_received - earlier.bytes_received,
            messages_sent: self.messages_sent - earlier.messages_sent,
            rounds: self.rounds - earlier.rounds,
        }
    }
}

/// A party's communication endpoint: a [`Transport`] plus counters and depth stamping.
pub struct Comm {
    role: usize,
    transport: Box<dyn Transport>,
    stats: CommStats,
}

impl std::fmt::Debug for Comm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Comm")
            .field("role", &self.role)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Comm {
    /// Wraps a transport; counters start at zero.
    pub fn new(transport: Box<dyn Transport>) -> Comm {
        Comm {
            role: transport.role(),
            transport,
            stats: CommStats::default(),
        }
    }

    /// This party's role, 0, 1 or 2.
    pub fn role(&self) -> usize {
        self.role
    }

    /// The role of the next party, `role + 1 mod 3`.
    pub fn next(&self) -> usize {
        (self.role + 1) % PARTIES
    }

    /// The role of the previous party, `role + 2 mod 3`.
    pub fn prev(&self) -> usize {
        (self.role + 2) % PARTIES
    }

    /// The counters so far.
    pub fn stats(&self) -> CommStats {
        self.stats
    }

    /// Ends the session, telling the peers why ([`Transport::abort`]).
    pub fn abort(&mut self, reason: &str) {
        self.transport.abort(reason);
    }

    fn check_peer(&self, peer: usize) -> Result<(), NetError> {
        if peer >= PARTIES || peer == self.role {
            return Err(NetError::BadPeer {
                role: self.role,
                peer,
            });
        }
        Ok(())
    }

    /// Zeroes the counters (e.g. after session set-up, so only protocol traffic is counted).
    pub fn reset_stats(&mut self) {
        self.stats = CommStats::default();
    }

    /// Raises this party's depth to at least `depth`. Measurement harnesses use it to line the
    /// three parties up at a common depth before timing one operation, so that the operation's
    /// rounds are the growth of the maximum depth; protocols never need it.
    pub fn raise_depth(&mut self, depth: u64) {
        self.stats.rounds = self.stats.rounds.max(depth);
    }

    /// Sends ring words to party `to`. Costs `8 * words.len()` bytes.
    pub fn send(&mut self, to: usize, words: Vec<u64>) -> Result<(), NetError> {
        self.check_peer(to)?;
        self.stats.bytes_sent += 8 * words.len() as u64;
        self.stats.messages_sent += 1;
        let depth = self.stats.rounds + 1;
        self.transport.send(to, Message { depth, words })
    }

    /// Sends a copy of `words` (in a buffer from [`pool`]) to party `to`, for a sender that keeps
    /// its own. Costs `8 * words.len()` bytes.
    pub fn send_copy(&mut self, to: usize, words: &[u64]) -> Result<(), NetError> {
        self.send(to, pool::copy(words))
    }

    /// Sends `words` to party `to` while this party keeps reading them: the in-process
    /// transport hands the receiver the same read-only buffer, other backends send a copy (see
    /// [`Transport::send_shared`]). Counted as [`Comm::send`].
    pub fn send_shared(&mut self, to: usize, words: &Arc<Vec<u64>>) -> Result<(), NetError> {
        self.check_peer(to)?;
        self.stats.bytes_sent += 8 * words.len() as u64;
        self.stats.messages_sent += 1;
        let depth = self.stats.rounds + 1;
        self.transport.send_shared(to, depth, words)
    }

    /// [`Comm::recv`] as a read-only shared buffer (the sender's own, in process).
    pub fn recv_shared(
        &mut self,
        from: usize,
        expected_len: usize,
    ) -> Result<Arc<Vec<u64>>, NetError> {
        self.check_peer(from)?;
        let (depth, words) = self.transport.recv_shared(from)?;
        if words.len() != expected_len {
            return Err(NetError::WrongLength {
                peer: from,
                expected: expected_len,
                got: words.len(),
            });
        }
        self.stats.bytes_received += 8 * words.len() as u64;
        self.stats.rounds = self.stats.rounds.max(depth);
        Ok(words)
    }

    /// Receives the next vector of ring words from party `from`, which must have exactly
    /// `expected_len` words; any other length is [`NetError::WrongLength`].
    pub fn recv(&mut self, from: usize, expected_len: usize) -> Result<Vec<u64>, NetError> {
        self.check_peer(from)?;
        let msg = self.transport.recv(from)?;
        if msg.words.len() != expected_len {
            return Err(NetError::WrongLength {
                peer: from,
                expected: expected_len,
                got: msg.words.len(),
            });
        }
        self.stats.bytes_received += 8 * msg.words.len() as u64;
        self.stats.rounds = self.stats.rounds.max(msg.depth);
        Ok(msg.words)
    }
}
