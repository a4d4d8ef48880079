//! Job files (the facade's `job::Job::from_toml_str`): arbitrary text parses to a validated job
//! or a typed job-file error; an accepted job can be hashed, and its paths resolved.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use trefoil::Error;
use trefoil::job::Job;

fuzz_target!(init: trefoil_fuzz::init(), |data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Job::from_toml_str(text, Path::new("/nonexistent-fuzz-base")) {
        Ok(job) => {
            let _ = job.digest();
            let _ = job.outputs();
            let _ = job.train_spec();
            let _ = job.path_for(Path::new("shares-{role}.safetensors"), 2);
        }
        Err(e) => assert!(
            matches!(e, Error::JobFile { .. } | Error::JobKey { .. }),
            "not a job-file error: {e:?}"
        ),
    }
});
