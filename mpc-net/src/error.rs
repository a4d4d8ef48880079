use thiserror::Error;

/// Everything that can go wrong while moving messages between parties.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum NetError {
    /// A peer role that is not another party (out of range, or this party itself).
    #[error("party {role} cannot talk to party {peer}: peers are the two other roles of 0, 1, 2")]
    BadPeer {
        /// This party's role.
        role: usize,
        /// The offending peer role.
        peer: usize,
    },
    /// The peer's end of the link is gone (it crashed, returned, or closed the connection).
    #[error("party {peer} disconnected")]
    Disconnected {
        /// The peer that went away.
        peer: usize,
    },
    /// No message from the peer within the configured timeout.
    #[error("timed out after {millis} ms waiting for party {peer}")]
    Timeout {
        /// The silent peer.
        peer: usize,
        /// The timeout that expired, in milliseconds.
        millis: u64,
    },
    /// A message had a different number of ring words than the protocol step expects.
    #[error("message from party {peer} has {got} words, expected {expected}")]
    WrongLength {
        /// The sender.
        peer: usize,
        /// Words the protocol expects.
        expected: usize,
        /// Words received.
        got: usize,
    },
    /// An invalid role was given when building a transport.
    #[error("invalid party role {0}: roles are 0, 1 and 2")]
    BadRole(usize),
}
