//! The control and handshake codec (mpc-net's `codec`): arbitrary bytes decode to a control
//! message or a typed `BadPayload` error; a decoded message encodes again and decodes back to
//! itself, and a `Hello` goes through the handshake check.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trefoil::net::codec::{Control, Hello, SessionSettings, decode_control, encode};
use trefoil::net::{Link, NetError};

fuzz_target!(init: trefoil_fuzz::init(), |data: &[u8]| {
    let link = Link::Party(2);
    match decode_control(data, &link) {
        Ok(msg) => {
            let again = match encode(&msg) {
                Ok(b) => b,
                Err(e) => panic!("a decoded message does not encode again: {e}"),
            };
            match decode_control(&again, &link) {
                Ok(back) => assert_eq!(back, msg, "decode(encode(m)) != m"),
                Err(e) => panic!("a re-encoded message does not decode: {e}"),
            }
            if let Control::Hello(theirs) = &msg {
                for role in 0..3 {
                    for frac in [12, 16] {
                        let ours = Hello::new(role, "fuzz-session", SessionSettings::new(frac));
                        let r = ours.check(theirs, usize::from(theirs.role), &link);
                        if let Err(e) = r {
                            assert!(matches!(e, NetError::HandshakeMismatch { .. }), "{e:?}");
                        }
                    }
                }
                let _ = theirs.settings.hash();
            }
        }
        Err(e) => assert!(matches!(e, NetError::BadPayload { .. }), "{e:?}"),
    }
});
