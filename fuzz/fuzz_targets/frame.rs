//! Frame decoding (mpc-net's `frame::read_frame`) on an arbitrary byte stream, with the default
//! frame limit of a party's configuration: every frame is decoded, a control frame's payload
//! goes on to the control codec and the handshake check, exactly as a link does with what a
//! peer sends. The stream must end in `Ok(None)` (a clean end) or a typed error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trefoil::net::codec::{Control, Hello, SessionSettings, decode_control};
use trefoil::net::frame::{Frame, read_frame};
use trefoil::net::tcp::DEFAULT_MAX_FRAME_BYTES;
use trefoil::net::{Link, NetError};
use trefoil_fuzz::ready;

fuzz_target!(init: trefoil_fuzz::init(), |data: &[u8]| {
    let link = Link::Party(1);
    let ours = Hello::new(0, "fuzz-session", SessionSettings::new(16));
    let mut stream = data;
    let mut scratch = Vec::new();
    // every successful frame consumes at least its 13-byte header, so this terminates
    for _ in 0..=data.len() / trefoil::net::frame::HEADER_LEN {
        let before = stream.len();
        match ready(read_frame(
            &mut stream,
            DEFAULT_MAX_FRAME_BYTES,
            &link,
            &mut scratch,
        )) {
            Ok(None) => {
                assert!(stream.is_empty(), "clean end with {} bytes left", stream.len());
                return;
            }
            Ok(Some(Frame::Data(msg))) => {
                assert_eq!(
                    before - stream.len(),
                    trefoil::net::frame::HEADER_LEN + 8 * msg.words.len()
                );
            }
            Ok(Some(Frame::Control(payload))) => match decode_control(&payload, &link) {
                Ok(Control::Hello(theirs)) => {
                    let _ = ours.check(&theirs, 1, &link).map_err(|e| e.to_string());
                }
                Ok(Control::Abort { reason }) => {
                    let _ = reason.len();
                }
                Err(e) => assert!(matches!(e, NetError::BadPayload { .. }), "{e:?}"),
            },
            Err(e) => {
                // the error must say something (and formatting it must not panic)
                assert!(!e.to_string().is_empty());
                return;
            }
        }
    }
    panic!("read_frame returned frames without consuming its input");
});
