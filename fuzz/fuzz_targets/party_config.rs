//! A party's configuration file (mpc-net's `PartyConfig::from_toml_str`): arbitrary text parses
//! to a validated configuration or a typed `Config` error naming the field; an accepted
//! insecure configuration also converts to the transport's settings.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use trefoil::net::NetError;
use trefoil::net::config::PartyConfig;

fuzz_target!(init: trefoil_fuzz::init(), |data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match PartyConfig::from_toml_str(text, Path::new("/nonexistent-fuzz-base")) {
        Ok(cfg) => {
            assert!(cfg.role < 3);
            assert!(cfg.max_frame_bytes >= 8);
            if cfg.insecure {
                if let Err(e) = cfg.to_tcp_config() {
                    panic!("an accepted insecure configuration does not convert: {e}");
                }
            } else {
                // the TLS files do not exist: a typed error, not a panic
                let _ = cfg.to_tcp_config().map_err(|e| e.to_string());
            }
        }
        Err(e) => assert!(matches!(e, NetError::Config { .. }), "{e:?}"),
    }
});
