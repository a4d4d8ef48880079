//! Length-prefixed frames on a byte stream (TCP or TLS).
//!
//! Every frame is a 13-byte header followed by a payload:
//!
//! | bytes | field |
//! |---|---|
//! | 1 | message kind: [`KIND_DATA`] (ring words) or [`KIND_CONTROL`] (a [`crate::codec`] message) |
//! | 8 | depth stamp, little-endian u64 (see the crate docs on rounds); 0 for control frames |
//! | 4 | payload length in bytes, little-endian u32 |
//!
//! A data payload is the message's ring words as raw little-endian u64s, so its length must be a
//! multiple of 8. The reader checks the announced length against the configured maximum *before*
//! allocating anything, and then allocates only as the payload arrives (a 13-byte header that
//! announces 256 MiB and never sends them costs at most one chunk); a frame that is too large,
//! truncated, of an unknown kind or of a wrong payload length is a typed [`NetError`], never a
//! panic or an unbounded allocation.

use crate::{Link, Message, NetError};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Header length in bytes.
pub const HEADER_LEN: usize = 13;
/// Kind byte of a data frame (ring words).
pub const KIND_DATA: u8 = 1;
/// Kind byte of a control frame (handshake, abort).
pub const KIND_CONTROL: u8 = 2;
/// The largest control payload accepted (control messages are tiny).
pub const MAX_CONTROL_BYTES: u64 = 64 * 1024;
/// The largest `max_frame_bytes` setting: the header's length field is a u32.
pub const FRAME_LIMIT: u64 = u32::MAX as u64;

/// Bytes converted per chunk when moving words to and from the stream.
const CHUNK_WORDS: usize = 8 * 1024;

/// A decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Ring words with their depth stamp.
    Data(Message),
    /// An encoded control message (decode it with [`crate::codec`]).
    Control(Vec<u8>),
}

/// The header of a frame of `kind` with `depth` and a payload of `len` bytes.
pub fn encode_header(kind: u8, depth: u64, len: u32) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0] = kind;
    h[1..9].copy_from_slice(&depth.to_le_bytes());
    h[9..13].copy_from_slice(&len.to_le_bytes());
    h
}

/// Checks that a payload of `bytes` fits in a frame under `max`; the sender's side of the
/// reader's check.
pub fn check_len(link: &Link, bytes: u64, max: u64) -> Result<u32, NetError> {
    if bytes > max.min(FRAME_LIMIT) {
        return Err(NetError::FrameTooLarge {
            link: link.clone(),
            len: bytes,
            max,
        });
    }
    u32::try_from(bytes).map_err(|_| NetError::FrameTooLarge {
        link: link.clone(),
        len: bytes,
        max,
    })
}

/// Writes a data frame (header, then the words as little-endian bytes) into `w`. Does not flush.
pub async fn write_data<W: AsyncWrite + Unpin>(
    w: &mut W,
    msg: &Message,
    len: u32,
    scratch: &mut Vec<u8>,
) -> std::io::Result<()> {
    write_words(w, msg.depth, &msg.words, len, scratch).await
}

/// [`write_data`] of a message given as its depth stamp and words.
pub async fn write_words<W: AsyncWrite + Unpin>(
    w: &mut W,
    depth: u64,
    words: &[u64],
    len: u32,
    scratch: &mut Vec<u8>,
) -> std::io::Result<()> {
    w.write_all(&encode_header(KIND_DATA, depth, len)).await?;
    for chunk in words.chunks(CHUNK_WORDS) {
        scratch.clear();
        for x in chunk {
            scratch.extend_from_slice(&x.to_le_bytes());
        }
        w.write_all(scratch).await?;
    }
    Ok(())
}

/// Writes a control frame carrying `payload` into `w`. Does not flush.
pub async fn write_control<W: AsyncWrite + Unpin>(
    w: &mut W,
    payload: &[u8],
) -> std::io::Result<()> {
    let len = u32::try_from(payload.len()).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "control payload too large",
        )
    })?;
    w.write_all(&encode_header(KIND_CONTROL, 0, len)).await?;
    w.write_all(payload).await
}

/// Maps a read error in the middle of a frame to a typed error.
fn mid_frame(link: &Link, e: std::io::Error, what: &str) -> NetError {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        NetError::TruncatedFrame {
            link: link.clone(),
            detail: format!("connection closed inside the {what}"),
        }
    } else {
        crate::tcp::io_error(link, e)
    }
}

/// Reads the next frame. `Ok(None)` means the peer closed the stream cleanly between frames.
/// Payloads above `max` bytes (or above [`MAX_CONTROL_BYTES`] for control frames) are refused
/// before any allocation.
pub async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
    max: u64,
    link: &Link,
    scratch: &mut Vec<u8>,
) -> Result<Option<Frame>, NetError> {
    let mut header = [0u8; HEADER_LEN];
    // the first byte decides between a clean end and a truncated header
    let first = r
        .read(&mut header[..1])
        .await
        .map_err(|e| crate::tcp::io_error(link, e))?;
    if first == 0 {
        return Ok(None);
    }
    r.read_exact(&mut header[1..])
        .await
        .map_err(|e| mid_frame(link, e, "frame header"))?;
    let kind = header[0];
    let mut depth = [0u8; 8];
    depth.copy_from_slice(&header[1..9]);
    let depth = u64::from_le_bytes(depth);
    let mut len = [0u8; 4];
    len.copy_from_slice(&header[9..13]);
    let len = u64::from(u32::from_le_bytes(len));
    match kind {
        KIND_DATA => {
            if len > max {
                return Err(NetError::FrameTooLarge {
                    link: link.clone(),
                    len,
                    max,
                });
            }
            if len % 8 != 0 {
                return Err(NetError::BadPayload {
                    link: link.clone(),
                    detail: format!("data frame of {len} bytes is not a whole number of u64 words"),
                });
            }
            let n = (len / 8) as usize;
            // Grow with what arrives: the header alone must not reserve up to `max` bytes.
            let mut words = Vec::with_capacity(n.min(CHUNK_WORDS));
            while words.len() < n {
                let take = (n - words.len()).min(CHUNK_WORDS);
                scratch.resize(take * 8, 0);
                r.read_exact(scratch)
                    .await
                    .map_err(|e| mid_frame(link, e, "data payload"))?;
                for b in scratch.chunks_exact(8) {
                    let mut w = [0u8; 8];
                    w.copy_from_slice(b);
                    words.push(u64::from_le_bytes(w));
                }
            }
            Ok(Some(Frame::Data(Message { depth, words })))
        }
        KIND_CONTROL => {
            let limit = MAX_CONTROL_BYTES.min(max);
            if len > limit {
                return Err(NetError::FrameTooLarge {
                    link: link.clone(),
                    len,
                    max: limit,
                });
            }
            let mut payload = vec![0u8; len as usize];
            r.read_exact(&mut payload)
                .await
                .map_err(|e| mid_frame(link, e, "control payload"))?;
            Ok(Some(Frame::Control(payload)))
        }
        kind => Err(NetError::UnknownKind {
            link: link.clone(),
            kind,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    async fn read_bytes(bytes: &[u8], max: u64) -> Result<Option<Frame>, NetError> {
        let mut r = bytes;
        read_frame(&mut r, max, &Link::Party(1), &mut Vec::new()).await
    }

    #[test]
    fn roundtrip_data_and_control() {
        rt().block_on(async {
            let msg = Message {
                depth: 7,
                words: (0..20_000u64)
                    .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
                    .collect(),
            };
            let mut buf = Vec::new();
            let len = check_len(&Link::Party(1), 8 * msg.words.len() as u64, 1 << 20).unwrap();
            write_data(&mut buf, &msg, len, &mut Vec::new())
                .await
                .unwrap();
            write_control(&mut buf, b"hello").await.unwrap();
            assert_eq!(buf.len(), 2 * HEADER_LEN + 8 * 20_000 + 5);
            let mut r = &buf[..];
            let mut s = Vec::new();
            let f1 = read_frame(&mut r, 1 << 20, &Link::Party(1), &mut s)
                .await
                .unwrap();
            assert_eq!(f1, Some(Frame::Data(msg)));
            let f2 = read_frame(&mut r, 1 << 20, &Link::Party(1), &mut s)
                .await
                .unwrap();
            assert_eq!(f2, Some(Frame::Control(b"hello".to_vec())));
            let f3 = read_frame(&mut r, 1 << 20, &Link::Party(1), &mut s)
                .await
                .unwrap();
            assert_eq!(f3, None);
        });
    }

    #[test]
    fn bad_frames_are_typed_errors() {
        rt().block_on(async {
            // too large: refused from the header alone (no payload present, nothing allocated)
            let h = encode_header(KIND_DATA, 1, u32::MAX);
            assert!(matches!(
                read_bytes(&h, 1024).await,
                Err(NetError::FrameTooLarge { len, max: 1024, .. }) if len == u64::from(u32::MAX)
            ));
            let h = encode_header(KIND_CONTROL, 0, 1 << 20);
            assert!(matches!(
                read_bytes(&h, 1 << 30).await,
                Err(NetError::FrameTooLarge { .. })
            ));
            // truncated header and payload
            assert!(matches!(
                read_bytes(&h[..5], 1024).await,
                Err(NetError::TruncatedFrame { .. })
            ));
            let mut t = encode_header(KIND_DATA, 1, 16).to_vec();
            t.extend_from_slice(&[1, 2, 3]);
            assert!(matches!(
                read_bytes(&t, 1024).await,
                Err(NetError::TruncatedFrame { .. })
            ));
            // unknown kind, payload not a whole number of words
            assert!(matches!(
                read_bytes(&encode_header(9, 0, 0), 1024).await,
                Err(NetError::UnknownKind { kind: 9, .. })
            ));
            assert!(matches!(
                read_bytes(&encode_header(KIND_DATA, 0, 12), 1024).await,
                Err(NetError::BadPayload { .. })
            ));
            // the sender refuses too
            assert!(check_len(&Link::Party(0), 2048, 1024).is_err());
        });
    }
}
