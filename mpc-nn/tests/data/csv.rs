//! CSV loading, parsing and writing.

use super::{dataset_err, traced};
use mpc_nn::NnError;
use mpc_nn::data::{Dataset, load_csv, parse_csv, write_csv};
use ndarray::array;
use std::path::Path;

/// Parses `text` as `data.csv` with label column `y`.
fn csv(text: &str) -> mpc_nn::Result<Dataset> {
    parse_csv(text, Path::new("dir/data.csv"), "y")
}

/// Asserts `r` is a CSV error at `row` and `column` whose detail contains `needle`.
fn assert_csv_err(r: mpc_nn::Result<Dataset>, row: usize, column: &str, needle: &str) {
    match r {
        Err(e @ NnError::Csv { .. }) => {
            let msg = e.to_string();
            let NnError::Csv {
                path,
                row: r,
                column: c,
                detail,
            } = e
            else {
                unreachable!()
            };
            assert_eq!((r, c.as_str()), (row, column), "{msg}");
            assert_eq!(path, Path::new("dir/data.csv"));
            assert!(detail.contains(needle), "{msg:?} should contain {needle:?}");
            assert!(msg.starts_with("dir/data.csv: row "), "{msg}");
            assert!(
                msg.contains(&format!("row {row}, column {column}: ")),
                "{msg}"
            );
        }
        other => panic!("expected NnError::Csv, got {other:?}"),
    }
}

#[test]
fn csv_parses_features_and_labels() {
    let text = "\u{feff} a , y ,\"b, quoted\"\r\n1.5, cat ,2\r\n\n  -3e2,\"dog, \"\"big\"\"\",\" 4 \"\r\n\n";
    let ds = csv(text).unwrap();
    assert_eq!(ds.feature_names, ["a", "b, quoted"]);
    assert_eq!(ds.features, array![[1.5, 2.0], [-300.0, 4.0]]);
    assert_eq!(ds.class_names, ["cat", "dog, \"big\""]);
    assert_eq!(ds.labels, array![0, 1]);
    // Numeric labels sort numerically (10 after 9), with 1 and 1.0 one class.
    let ds = csv("x,y\n1,10\n2,9\n3,1\n4,1.0\n5,-2\n").unwrap();
    assert_eq!(ds.class_names, ["-2", "1", "9", "10"]);
    assert_eq!(ds.labels, array![3, 2, 1, 1, 0]);
    // String labels sort lexicographically.
    let ds = csv("y,x\nb,0\nB,1\na,2\n10,3\n").unwrap();
    assert_eq!(ds.class_names, ["10", "B", "a", "b"]);
    assert_eq!(ds.labels, array![3, 1, 2, 0]);
}

#[test]
fn csv_errors_name_row_and_column() {
    assert_csv_err(csv(""), 0, "-", "empty file");
    assert_csv_err(csv(" \n\n"), 0, "-", "empty file");
    assert_csv_err(csv("a,y\n"), 1, "-", "no data rows");
    assert_csv_err(
        csv("a,b\n1,2\n"),
        1,
        "y",
        "label column not found; the header has: a, b",
    );
    assert_csv_err(csv("y\n1\n"), 1, "y", "no feature columns");
    assert_csv_err(
        csv("a,y,a\n1,2,3\n"),
        1,
        "a",
        "duplicate column name (columns 1 and 3)",
    );
    assert_csv_err(csv("a,,y\n1,2,3\n"), 1, "2", "empty column name");
    assert_csv_err(
        csv("a,y\n1,0\n2,x,\n"),
        3,
        "3",
        "ragged row: 3 fields but the header has 2",
    );
    assert_csv_err(csv("a,b,y\n1,2,0\n\n1,2\n"), 4, "y", "ragged row: 2 fields");
    assert_csv_err(
        csv("a,b,y\n1,abc,0\n"),
        2,
        "b",
        "cannot parse \"abc\" as a number",
    );
    assert_csv_err(csv("a,b,y\n1,inf,0\n"), 2, "b", "not a finite number");
    for missing in ["", "NA", "nan", "NaN", "null", "N/A", "\"\""] {
        assert_csv_err(
            csv(&format!("a,b,y\n1,2,0\n3,{missing},1\n")),
            3,
            "b",
            "missing value",
        );
    }
    assert_csv_err(csv("a,y\n1, NA \n"), 2, "y", "missing value");
    assert_csv_err(csv("a,y\n1,\"open\n"), 2, "y", "unterminated quoted field");
    assert_csv_err(csv("a,y\n\"1\"x,0\n"), 2, "a", "after a closing quote");
    assert_csv_err(
        csv("a,y\n1,ab\"c\n"),
        2,
        "y",
        "quote inside an unquoted field",
    );
    assert_csv_err(csv("a,\"y\n"), 1, "2", "unterminated");
}

#[test]
fn csv_files_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.csv");
    let ds = Dataset::new(
        array![[0.1, -1e-300, 123456789.125], [1.0 / 3.0, 2.5e17, -0.0]],
        array![1, 0],
        2,
        vec!["f,1".into(), " spaced ".into(), "q\"uote".into()],
        vec!["a \"b\"".into(), "c,d".into()],
    )
    .unwrap();
    write_csv(&path, &ds, "label").unwrap();
    let back = load_csv(&path, "label").unwrap();
    assert_eq!(back, ds);
    // Missing and non-UTF-8 files are I/O errors naming the file.
    for bad in [dir.path().join("missing.csv"), {
        let p = dir.path().join("latin1.csv");
        std::fs::write(&p, b"a,y\n\xe9,1\n").unwrap();
        p
    }] {
        match load_csv(&bad, "y") {
            Err(e @ NnError::Io { .. }) => assert!(e.to_string().contains(&*bad.to_string_lossy())),
            other => panic!("expected NnError::Io, got {other:?}"),
        }
    }
    // Bad cells in a file name the file.
    std::fs::write(&path, "a,y\n1,0\nz,1\n").unwrap();
    let msg = load_csv(&path, "y").unwrap_err().to_string();
    assert!(msg.contains("out.csv: row 3, column a"), "{msg}");
}

#[test]
fn write_csv_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("w.csv");
    let ds = traced(2, &[0, 1], 2);
    assert!(dataset_err(write_csv(&p, &ds, "x0")).contains("\"x0\" is also a feature name"));
    assert!(dataset_err(write_csv(&p, &ds, "a\nb")).contains("line break"));
    let mut na = ds.clone();
    na.class_names[1] = "NA".into();
    assert!(dataset_err(write_csv(&p, &na, "y")).contains("\"NA\" would read back as a missing"));
    let mut nan = ds.clone();
    nan.features[[1, 0]] = f64::NAN;
    assert!(dataset_err(write_csv(&p, &nan, "y")).contains("row 1, column 0 is not finite"));
    let nowhere = dir.path().join("no/such/dir.csv");
    match write_csv(&nowhere, &ds, "y") {
        Err(e @ NnError::Io { .. }) => assert!(e.to_string().contains("dir.csv")),
        other => panic!("expected NnError::Io, got {other:?}"),
    }
}
