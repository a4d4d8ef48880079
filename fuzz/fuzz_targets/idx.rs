//! The IDX loader (mpc-nn's `data::read_idx` and `load_idx_dataset`), plain and gzip: the first
//! input byte chooses the mode, the rest is the file.
//!
//! - bit 0: gzip the rest before writing it (the loader detects gzip by its magic, so inputs
//!   that are gzip files already are read as such in either mode);
//! - bit 1: split the rest at the offset in the next two bytes into an images file and a labels
//!   file, and load them as a dataset (with a record limit from bits 2-3).
//!
//! Every outcome must be `Ok` with consistent dimensions or a typed `Idx` / `Dataset` error.
#![no_main]

use flate2::Compression;
use flate2::write::GzEncoder;
use libfuzzer_sys::fuzz_target;
use std::io::Write;
use trefoil::nn::NnError;
use trefoil::nn::data::{load_idx_dataset, read_idx};
use trefoil_fuzz::scratch_file;

fn maybe_gzip(bytes: &[u8], gz: bool) -> Vec<u8> {
    if !gz {
        return bytes.to_vec();
    }
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    if e.write_all(bytes).is_err() {
        panic!("gzip into memory failed");
    }
    e.finish()
        .unwrap_or_else(|e| panic!("gzip into memory failed: {e}"))
}

fn typed(e: &NnError) {
    assert!(
        matches!(e, NnError::Idx { .. } | NnError::Dataset(_)),
        "not an IDX error: {e:?}"
    );
}

fuzz_target!(init: trefoil_fuzz::init(), |data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let gz = mode & 1 == 1;
    if mode & 2 == 0 {
        let path = scratch_file("idx", &maybe_gzip(rest, gz));
        match read_idx(&path) {
            Ok(a) => {
                assert!(!a.dims.is_empty());
                assert_eq!(a.dims.iter().product::<usize>(), a.data.len());
            }
            Err(e) => typed(&e),
        }
        return;
    }
    if rest.len() < 2 {
        return;
    }
    let at = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
    let files = &rest[2..];
    let (images, labels) = files.split_at(at.min(files.len()));
    let images = scratch_file("images.idx", &maybe_gzip(images, gz));
    let labels = scratch_file("labels.idx", &maybe_gzip(labels, gz));
    let limit = match (mode >> 2) & 3 {
        0 => None,
        k => Some(usize::from(k) - 1),
    };
    match load_idx_dataset(&images, &labels, limit) {
        Ok(ds) => {
            assert_eq!(ds.features.nrows(), ds.labels.len());
            assert!(ds.labels.iter().all(|&l| l < ds.n_classes));
            assert!(ds.features.iter().all(|v| (0.0..=1.0).contains(v)));
        }
        Err(e) => typed(&e),
    }
});
