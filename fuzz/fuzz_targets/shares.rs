//! Share files (mpc-nn's `io::load_shares`, the checkpoint reader): arbitrary bytes as party
//! 0's share file of job `fuzz-job` for a small model (a 4 -> 3 -> 2 MLP on secret shares).
//! Loading is `Ok` or a typed `Params` error naming the file. The model is built once, in a
//! three-party session at start-up; `load_shares` itself does not communicate.
//!
//! The checksum check stops mutated files early, so the fuzzer mostly exercises the
//! safetensors structure and metadata checks; the seeds include valid files of this model.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::{Mutex, OnceLock};
use trefoil::core::{HarnessConfig, Party, run_parties};
use trefoil::models::{MlpConfig, mlp};
use trefoil::nn::io::load_shares;
use trefoil::nn::{NnError, Sequential};
use trefoil_fuzz::scratch_file;

/// The job id the seeds were saved with.
pub const JOB: &str = "fuzz-job";

fn model() -> &'static Mutex<Sequential<Party>> {
    static MODEL: OnceLock<Mutex<Sequential<Party>>> = OnceLock::new();
    MODEL.get_or_init(|| {
        let built = run_parties(&HarnessConfig::default(), |p| -> Result<_, NnError> {
            mlp(p, &MlpConfig::new(4, &[3], 2))
        });
        match built {
            Ok([m0, _, _]) => Mutex::new(m0),
            Err(e) => panic!("cannot build the model: {e}"),
        }
    })
}

fuzz_target!(init: trefoil_fuzz::init(), |data: &[u8]| {
    let path = scratch_file("party0.shares", data);
    let mut m = model().lock().unwrap_or_else(|e| e.into_inner());
    match load_shares(&path, 0, JOB, &mut m) {
        Ok(extras) => {
            for (name, s) in &extras {
                assert!(!name.is_empty());
                let _ = s.shape();
            }
        }
        Err(e) => assert!(matches!(e, NnError::Params(_)), "not a typed error: {e:?}"),
    }
});
