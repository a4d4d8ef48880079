//! The one codec for control messages (handshake, abort): serde + bincode 2 with the standard
//! configuration and a size limit, so a hostile length prefix cannot make the decoder allocate
//! more than the frame it came in.
//!
//! Tensor payloads never go through here; they are raw little-endian words (see
//! [`crate::frame`]).

use crate::{Link, NetError};
use serde::{Deserialize, Serialize};

/// The wire protocol version; both ends of a link must agree.
pub const PROTOCOL_VERSION: u32 = 2;

/// The largest control message the decoder will accept, in bytes.
const DECODE_LIMIT: usize = crate::frame::MAX_CONTROL_BYTES as usize;

/// Session settings that all three parties must share; their hash goes into the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionSettings {
    /// Bits of the ring (64: Z_2^64).
    pub ring_bits: u32,
    /// Fractional bits of the fixed-point encoding.
    pub frac_bits: u32,
    /// What the parties will compute: a hash of the job they run, or 0 for none (a session
    /// that runs no job file, such as the built-in check computation). A party started with
    /// another job, or without one, is then named in the handshake, before any data moves.
    pub job: u64,
}

impl SessionSettings {
    /// Settings for the ring Z_2^64 with `frac_bits` fractional bits, running no job.
    pub fn new(frac_bits: u32) -> SessionSettings {
        SessionSettings {
            ring_bits: 64,
            frac_bits,
            job: 0,
        }
    }

    /// These settings for running the job whose hash is `job` (not 0).
    pub fn with_job(self, job: u64) -> SessionSettings {
        SessionSettings { job, ..self }
    }

    /// A 64-bit FNV-1a hash of the encoded settings: a consistency check between honest
    /// parties (the links are authenticated by TLS, not by this hash).
    pub fn hash(&self) -> u64 {
        let bytes = encode(self).unwrap_or_default();
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h
    }
}

impl std::fmt::Display for SessionSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ring Z_2^{} with {} fractional bits, ",
            self.ring_bits, self.frac_bits
        )?;
        f.write_str(&job_name(self.job))
    }
}

/// How [`SessionSettings::job`] is named in messages.
fn job_name(job: u64) -> String {
    match job {
        0 => "no job".into(),
        j => format!("job {j:016x}"),
    }
}

/// The first message on every link, sent by both ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// [`PROTOCOL_VERSION`] of the sender.
    pub version: u32,
    /// The session identifier all parties were configured with.
    pub session_id: String,
    /// The sender's party role.
    pub role: u8,
    /// [`SessionSettings::hash`] of the sender's settings.
    pub settings_hash: u64,
    /// The sender's settings in clear, so a mismatch can be named.
    pub settings: SessionSettings,
}

/// A control message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Control {
    /// Session handshake.
    Hello(Hello),
    /// The sender ends the session, with its reason.
    Abort {
        /// Why the sender gave up.
        reason: String,
    },
}

fn config() -> bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Varint,
    bincode::config::Limit<DECODE_LIMIT>,
> {
    bincode::config::standard().with_limit::<DECODE_LIMIT>()
}

/// Encodes a control value.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, NetError> {
    bincode::serde::encode_to_vec(value, config()).map_err(|e| NetError::BadPayload {
        link: Link::Unidentified("local encoder".into()),
        detail: format!("cannot encode control message: {e}"),
    })
}

/// Decodes a control message received on `link`; trailing bytes are an error.
pub fn decode_control(bytes: &[u8], link: &Link) -> Result<Control, NetError> {
    let (value, used): (Control, usize) = bincode::serde::decode_from_slice(bytes, config())
        .map_err(|e| NetError::BadPayload {
            link: link.clone(),
            detail: format!("undecodable control message: {e}"),
        })?;
    if used != bytes.len() {
        return Err(NetError::BadPayload {
            link: link.clone(),
            detail: format!("control message has {} trailing bytes", bytes.len() - used),
        });
    }
    Ok(value)
}

impl Hello {
    /// Our hello for `role` in session `session_id` with `settings`.
    pub fn new(role: usize, session_id: &str, settings: SessionSettings) -> Hello {
        Hello {
            version: PROTOCOL_VERSION,
            session_id: session_id.to_string(),
            role: role as u8,
            settings_hash: settings.hash(),
            settings,
        }
    }

    /// Checks the peer's hello against ours, expecting the peer to be `expected_role`; the first
    /// differing field is named in the error.
    pub fn check(&self, theirs: &Hello, expected_role: usize, link: &Link) -> Result<(), NetError> {
        let mismatch = |field: &'static str, ours: String, theirs: String| {
            Err(NetError::HandshakeMismatch {
                link: link.clone(),
                field,
                ours,
                theirs,
            })
        };
        if theirs.version != self.version {
            return mismatch(
                "protocol version",
                self.version.to_string(),
                theirs.version.to_string(),
            );
        }
        if theirs.session_id != self.session_id {
            return mismatch(
                "session id",
                format!("{:?}", self.session_id),
                format!("{:?}", theirs.session_id),
            );
        }
        if usize::from(theirs.role) != expected_role {
            return mismatch(
                "party role",
                format!("expected party {expected_role}"),
                format!("party {}", theirs.role),
            );
        }
        let (a, b) = (&self.settings, &theirs.settings);
        if (a.ring_bits, a.frac_bits) == (b.ring_bits, b.frac_bits) && a.job != b.job {
            return mismatch("job", job_name(a.job), job_name(b.job));
        }
        if theirs.settings_hash != self.settings_hash || theirs.settings != self.settings {
            return mismatch(
                "session settings",
                format!("{} (hash {:016x})", self.settings, self.settings_hash),
                format!("{} (hash {:016x})", theirs.settings, theirs.settings_hash),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_mismatches() {
        let h = Hello::new(1, "s1", SessionSettings::new(16));
        let bytes = encode(&Control::Hello(h.clone())).unwrap();
        let link = Link::Party(1);
        assert_eq!(
            decode_control(&bytes, &link).unwrap(),
            Control::Hello(h.clone())
        );
        let ours = Hello::new(0, "s1", SessionSettings::new(16));
        assert!(ours.check(&h, 1, &link).is_ok());
        let err = ours.check(&h, 2, &link).unwrap_err().to_string();
        assert!(err.contains("party role"), "{err}");
        let other = Hello::new(1, "s2", SessionSettings::new(16));
        let err = ours.check(&other, 1, &link).unwrap_err().to_string();
        assert!(err.contains("session id"), "{err}");
        let other = Hello::new(1, "s1", SessionSettings::new(12));
        let err = ours.check(&other, 1, &link).unwrap_err().to_string();
        assert!(
            err.contains("session settings") && err.contains("12"),
            "{err}"
        );
        assert_ne!(
            SessionSettings::new(16).hash(),
            SessionSettings::new(12).hash()
        );
        // a party running another job, or none, is named with both sides' jobs
        let job = SessionSettings::new(16).with_job(0xabcd);
        let ours = Hello::new(0, "s1", job);
        let err = ours.check(&h, 1, &link).unwrap_err().to_string();
        assert!(
            err.contains("job mismatch (ours job 000000000000abcd, theirs no job)"),
            "{err}"
        );
        let other = Hello::new(1, "s1", SessionSettings::new(16).with_job(0xabce));
        assert!(ours.check(&other, 1, &link).is_err());
        assert!(ours.check(&Hello::new(1, "s1", job), 1, &link).is_ok());
        // garbage and trailing bytes are typed errors
        assert!(decode_control(&[0xff; 40], &link).is_err());
        let mut long = bytes.clone();
        long.push(0);
        assert!(decode_control(&long, &link).is_err());
        // a huge announced string length does not allocate: the limit refuses it
        let huge = [
            0u8, 1, 0, 0, 0, 0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
        ];
        assert!(decode_control(&huge, &link).is_err());
    }
}
