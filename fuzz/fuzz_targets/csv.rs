//! The CSV loader (mpc-nn's `data::parse_csv`, and `load_csv` for bytes that are not UTF-8):
//! arbitrary text is a dataset or a typed `Csv` error naming the line and column. The label is
//! the column `label`, and then the header's first field (so the label is also tried first).
//! An accepted dataset is consistent and goes through one-hot encoding, standardisation and
//! the row and column splits of the parties.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use trefoil::nn::NnError;
use trefoil::nn::data::{Dataset, Standardizer, load_csv, parse_csv};
use trefoil_fuzz::scratch_file;

fn check(r: Result<Dataset, NnError>) {
    match r {
        Ok(ds) => {
            let n = ds.len();
            assert!(n > 0);
            assert_eq!(ds.features.nrows(), n);
            assert_eq!(ds.features.ncols(), ds.feature_names.len());
            assert_eq!(ds.class_names.len(), ds.n_classes);
            assert!(ds.labels.iter().all(|&l| l < ds.n_classes));
            assert!(ds.features.iter().all(|v| v.is_finite()));
            let _ = ds.one_hot();
            let _ = ds.class_counts();
            let s = Standardizer::fit(&ds.features);
            let _ = s.transform(&ds.features).map_err(|e| e.to_string());
            let _ = ds.split_rows(3).map_err(|e| e.to_string());
            let _ = ds.split_columns(3).map_err(|e| e.to_string());
            let _ = ds
                .train_test_split(0.25, 7, true)
                .map_err(|e| e.to_string());
        }
        Err(e) => assert!(
            matches!(e, NnError::Csv { .. } | NnError::Dataset(_)),
            "not a CSV error: {e:?}"
        ),
    }
}

fuzz_target!(init: trefoil_fuzz::init(), |data: &[u8]| {
    let path = Path::new("fuzz.csv");
    match std::str::from_utf8(data) {
        Ok(text) => {
            check(parse_csv(text, path, "label"));
            let first = text
                .trim_start_matches('\u{feff}')
                .split([',', '\n', '\r'])
                .next()
                .unwrap_or("")
                .trim_matches('"');
            if first != "label" {
                check(parse_csv(text, path, first));
            }
        }
        Err(_) => match load_csv(&scratch_file("csv", data), "label") {
            Ok(_) => panic!("load_csv accepted bytes that are not UTF-8"),
            Err(e) => assert!(matches!(e, NnError::Io { .. }), "{e:?}"),
        },
    }
});
