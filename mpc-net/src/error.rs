use std::fmt;
use thiserror::Error;

/// Which link an error happened on: a known party, or a connection not yet identified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// The link to this party role.
    Party(usize),
    /// An incoming connection whose party is not known yet (before TLS or the handshake).
    Unidentified(String),
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Link::Party(p) => write!(f, "party {p}"),
            Link::Unidentified(addr) => write!(f, "unidentified connection from {addr}"),
        }
    }
}

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
    /// Connecting to a peer failed for good (refused until the connect timeout, or unreachable).
    #[error("cannot connect to party {peer} at {addr}: {detail}")]
    Connect {
        /// The peer.
        peer: usize,
        /// Its configured address.
        addr: String,
        /// What went wrong last.
        detail: String,
    },
    /// This party could not listen on its address, or accepting connections failed.
    #[error("cannot listen on {addr}: {detail}")]
    Listen {
        /// The listen address.
        addr: String,
        /// What went wrong.
        detail: String,
    },
    /// Peers that should have connected to this party did not within the connect timeout.
    #[error("timed out after {millis} ms waiting for parties {missing:?} to connect")]
    AcceptTimeout {
        /// Roles that never connected.
        missing: Vec<usize>,
        /// The connect timeout, in milliseconds.
        millis: u64,
    },
    /// The TLS handshake failed (wrong CA, no client certificate, garbage instead of TLS...).
    #[error("TLS handshake with {link} failed: {detail}")]
    Tls {
        /// The link.
        link: Link,
        /// The TLS library's reason.
        detail: String,
    },
    /// The peer's certificate is valid under the consortium CA but not for the role it should have.
    #[error("{link} presented a certificate that is not for {expected}: {detail}")]
    WrongIdentity {
        /// The link.
        link: Link,
        /// The identity the certificate should carry, e.g. `trefoil-party-1`.
        expected: String,
        /// Why it does not match.
        detail: String,
    },
    /// The peer's session handshake disagrees with ours on one field.
    #[error("handshake with {link}: {field} mismatch (ours {ours}, theirs {theirs})")]
    HandshakeMismatch {
        /// The link.
        link: Link,
        /// The field that differs: protocol version, session id, role or session settings.
        field: &'static str,
        /// Our value.
        ours: String,
        /// The peer's value.
        theirs: String,
    },
    /// A frame announced a payload larger than the configured maximum (nothing was allocated).
    #[error("frame from {link} announces {len} bytes, above the maximum of {max}")]
    FrameTooLarge {
        /// The link.
        link: Link,
        /// Announced payload length in bytes.
        len: u64,
        /// The configured maximum.
        max: u64,
    },
    /// The connection ended in the middle of a frame.
    #[error("truncated frame from {link}: {detail}")]
    TruncatedFrame {
        /// The link.
        link: Link,
        /// Where it ended.
        detail: String,
    },
    /// A frame header carried a message kind this version does not know.
    #[error("frame from {link} has unknown message kind {kind}")]
    UnknownKind {
        /// The link.
        link: Link,
        /// The kind byte.
        kind: u8,
    },
    /// A frame's payload does not decode (wrong length for its kind, bad control message...).
    #[error("bad payload from {link}: {detail}")]
    BadPayload {
        /// The link.
        link: Link,
        /// What is wrong.
        detail: String,
    },
    /// A socket error on an established link.
    #[error("i/o error on the link to {link}: {detail}")]
    Io {
        /// The link.
        link: Link,
        /// The operating system's reason.
        detail: String,
    },
    /// A peer ended the session on purpose and said why.
    #[error("party {peer} aborted the session: {reason}")]
    PeerAborted {
        /// The peer.
        peer: usize,
        /// Its reason.
        reason: String,
    },
    /// A configuration value is missing or invalid.
    #[error("config field `{field}`: {detail}")]
    Config {
        /// The field, e.g. `addresses[1]` or `tls.cert`.
        field: String,
        /// What is wrong.
        detail: String,
    },
    /// A certificate or key file could not be read or used.
    #[error("certificate material {path}: {detail}")]
    Cert {
        /// The file (or item) concerned.
        path: String,
        /// What is wrong.
        detail: String,
    },
    /// Generating or writing certificates failed.
    #[error("keygen: {0}")]
    Keygen(String),
    /// The transport's async runtime could not be started.
    #[error("cannot start the network runtime: {0}")]
    Runtime(String),
}
