//! IDX files, IDX datasets and Fashion-MNIST.

use mpc_nn::NnError;
use mpc_nn::data::{
    FASHION_MNIST_CLASSES, FASHION_MNIST_DIR, fashion_mnist, load_idx_dataset, read_idx, write_idx,
};
use ndarray::array;
use std::path::{Path, PathBuf};

/// The message of an `Idx` error, checking it names `path`.
fn idx_err<T: std::fmt::Debug>(r: mpc_nn::Result<T>, path: &Path) -> String {
    match r {
        Err(e @ NnError::Idx { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains(&*path.to_string_lossy()),
                "{msg} should name {path:?}"
            );
            msg
        }
        other => panic!("expected NnError::Idx, got {other:?}"),
    }
}

/// Writes raw `bytes` to `dir/name`, gzip-compressed if `gz`.
fn raw(dir: &Path, name: &str, bytes: &[u8], gz: bool) -> PathBuf {
    use std::io::Write;
    let p = dir.join(name);
    if gz {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).expect("gzip");
        std::fs::write(&p, e.finish().expect("gzip")).expect("write fixture");
    } else {
        std::fs::write(&p, bytes).expect("write fixture");
    }
    p
}

#[test]
fn idx_round_trips_and_detects_gzip_by_magic() {
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..24).map(|i| (i * 11) as u8).collect();
    // Names lie on purpose: compression is detected from the content.
    for (name, gz) in [
        ("plain.gz", false),
        ("packed.idx", true),
        ("a.gz", true),
        ("b", false),
    ] {
        let p = dir.path().join(name);
        write_idx(&p, &[2, 3, 4], &data, gz).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(bytes.starts_with(&[0x1f, 0x8b]), gz);
        let a = read_idx(&p).unwrap();
        assert_eq!((a.dims, a.data), (vec![2, 3, 4], data.clone()));
    }
    let p = dir.path().join("empty");
    write_idx(&p, &[0], &[], false).unwrap();
    assert_eq!(read_idx(&p).unwrap().dims, [0]);
}

#[test]
fn idx_malformed_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for gz in [false, true] {
        let tag = if gz { "gz" } else { "plain" };
        let cases: Vec<(&[u8], &str)> = vec![
            (&[0, 1, 8, 1, 0, 0, 0, 0], "bad magic 00 01 08 01"),
            (&[7, 0, 8, 1, 0, 0, 0, 0], "first two bytes must be zero"),
            (
                &[0, 0, 0x0d, 1, 0, 0, 0, 0],
                "0x0d (32-bit float) is not supported",
            ),
            (&[0, 0, 0x42, 1, 0, 0, 0, 0], "unknown element type 0x42"),
            (&[0, 0, 8, 0], "zero dimensions"),
            (
                &[0, 0, 8],
                "truncated: the file ends inside the 4-byte magic",
            ),
            (
                &[0, 0, 8, 2, 0, 0, 0, 1, 0, 0],
                "ends inside the dimensions",
            ),
            (
                &[0, 0, 8, 1, 0, 0, 0, 3, 1, 2],
                "need 3 data bytes but the file holds only 2",
            ),
            (&[0, 0, 8, 1, 0, 0, 0, 1, 1, 2], "past the 1 data bytes"),
            // About 2^48 bytes claimed by a 14-byte file: refused without allocating.
            (
                &[0, 0, 8, 2, 0xff, 0xff, 0, 0, 0, 0, 0xff, 0xff, 1, 2],
                "need 281466386841600 data",
            ),
            (
                &[
                    0, 0, 8, 3, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
                ],
                "overflow",
            ),
        ];
        for (i, (bytes, needle)) in cases.into_iter().enumerate() {
            let p = raw(d, &format!("{tag}{i}"), bytes, gz);
            let msg = idx_err(read_idx(&p), &p);
            assert!(
                msg.contains(needle),
                "{tag}: {msg:?} should contain {needle:?}"
            );
        }
    }
    // A gzip stream cut short, and one that is garbage after the magic.
    let p = d.join("full.gz");
    write_idx(&p, &[1000], &[7; 1000], true).unwrap();
    let mut bytes = std::fs::read(&p).unwrap();
    bytes.truncate(bytes.len() - 12);
    let cut = raw(d, "cut.gz", &bytes, false);
    assert!(idx_err(read_idx(&cut), &cut).contains("truncated"));
    let junk = raw(
        d,
        "junk.gz",
        &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff],
        false,
    );
    let msg = idx_err(read_idx(&junk), &junk);
    assert!(
        msg.contains("corrupt gzip") || msg.contains("truncated"),
        "{msg}"
    );
    let missing = d.join("missing");
    assert!(matches!(read_idx(&missing), Err(NnError::Io { .. })));
}

#[test]
fn write_idx_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("w");
    assert!(
        idx_err(write_idx(&p, &[2, 2], &[1, 2, 3], false), &p).contains("[2, 2] do not hold 3")
    );
    assert!(idx_err(write_idx(&p, &[], &[], false), &p).contains("0 dimensions"));
    assert!(idx_err(write_idx(&p, &[1; 256], &[1], false), &p).contains("256 dimensions"));
    let big = u32::MAX as usize + 1;
    assert!(idx_err(write_idx(&p, &[big, 0], &[], false), &p).contains("does not fit in 32 bits"));
    let nowhere = dir.path().join("no/dir");
    assert!(matches!(
        write_idx(&nowhere, &[1], &[1], true),
        Err(NnError::Io { .. })
    ));
}

/// Writes `n` images of `rows x cols` (pixel `k` of image `i` is `(i * 7 + k) % 256`) and the
/// given labels; returns the two paths.
fn idx_pair(
    dir: &Path,
    prefix: &str,
    (n, rows, cols): (usize, usize, usize),
    labels: &[u8],
    gz: bool,
) -> (PathBuf, PathBuf) {
    let sfx = if gz { ".gz" } else { "" };
    let img = dir.join(format!("{prefix}-images-idx3-ubyte{sfx}"));
    let lab = dir.join(format!("{prefix}-labels-idx1-ubyte{sfx}"));
    let px: Vec<u8> = (0..n * rows * cols)
        .map(|k| ((k / (rows * cols)) * 7 + k % (rows * cols)) as u8)
        .collect();
    write_idx(&img, &[n, rows, cols], &px, gz).expect("write images");
    write_idx(&lab, &[labels.len()], labels, gz).expect("write labels");
    (img, lab)
}

#[test]
fn idx_datasets() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (img, lab) = idx_pair(d, "a", (5, 2, 3), &[3, 0, 9, 1, 1], false);
    let ds = load_idx_dataset(&img, &lab, None).unwrap();
    assert_eq!((ds.len(), ds.n_features(), ds.n_classes), (5, 6, 10));
    assert_eq!(
        ds.feature_names,
        [
            "pixel_0_0",
            "pixel_0_1",
            "pixel_0_2",
            "pixel_1_0",
            "pixel_1_1",
            "pixel_1_2"
        ]
    );
    assert_eq!(ds.features[[1, 2]], 9.0 / 255.0);
    assert_eq!(ds.labels, array![3, 0, 9, 1, 1]);
    assert_eq!(ds.class_names[9], "9");
    let lim = load_idx_dataset(&img, &lab, Some(2)).unwrap();
    assert_eq!(lim, ds.subset(&[0, 1]).unwrap());
    assert_eq!(load_idx_dataset(&img, &lab, Some(99)).unwrap(), ds);
    assert!(idx_err(load_idx_dataset(&img, &lab, Some(0)), &img).contains("limit 0"));
    // Labels above 9 widen the classes.
    let (img2, lab2) = idx_pair(d, "b", (2, 1, 1), &[12, 0], true);
    assert_eq!(load_idx_dataset(&img2, &lab2, None).unwrap().n_classes, 13);
    // Mismatched counts name both files.
    let msg = idx_err(load_idx_dataset(&img2, &lab, None), &lab);
    assert!(
        msg.contains("5 labels but") && msg.contains("b-images-idx3-ubyte.gz holds 2 images"),
        "{msg}"
    );
    // Wrong ranks, no records, no pixels.
    let flat = d.join("flat");
    write_idx(&flat, &[5], &[0; 5], false).unwrap();
    assert!(idx_err(load_idx_dataset(&flat, &lab, None), &flat).contains("at least 2 dimensions"));
    assert!(idx_err(load_idx_dataset(&img, &img, None), &img).contains("exactly 1 dimension"));
    let (none_i, none_l) = idx_pair(d, "c", (0, 2, 2), &[], false);
    assert!(idx_err(load_idx_dataset(&none_i, &none_l, None), &none_i).contains("no records"));
    let (zero_i, zero_l) = idx_pair(d, "z", (2, 0, 3), &[0, 1], false);
    assert!(idx_err(load_idx_dataset(&zero_i, &zero_l, None), &zero_i).contains("no pixels"));
    // 2-D "images" (n x features) get default names.
    let tab = d.join("tab");
    write_idx(&tab, &[5, 2], &[255; 10], false).unwrap();
    let t = load_idx_dataset(&tab, &lab, None).unwrap();
    assert_eq!(
        (t.feature_names[1].as_str(), t.features[[4, 1]]),
        ("x1", 1.0)
    );
}

#[test]
fn fashion_mnist_from_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    idx_pair(d, "train", (4, 28, 28), &[0, 9, 5, 5], true);
    idx_pair(d, "t10k", (3, 28, 28), &[1, 2, 3], false);
    let train = fashion_mnist(d, true, None).unwrap();
    assert_eq!(
        (train.len(), train.n_features(), train.n_classes),
        (4, 784, 10)
    );
    assert_eq!(train.class_names, FASHION_MNIST_CLASSES);
    assert_eq!(train.class_names[9], "Ankle boot");
    assert_eq!(train.feature_names[783], "pixel_27_27");
    let test = fashion_mnist(d, false, Some(2)).unwrap();
    assert_eq!(test.labels, array![1, 2]);
    // A label outside 0..10 and missing files.
    let bad = tempfile::tempdir().unwrap();
    let (_, lab) = idx_pair(bad.path(), "t10k", (2, 28, 28), &[1, 10], false);
    assert!(idx_err(fashion_mnist(bad.path(), false, None), &lab).contains("label 10 of record 1"));
    match fashion_mnist(bad.path(), true, None) {
        Err(e @ NnError::Io { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains("train-images-idx3-ubyte") && msg.contains("dataset-fashion-mnist"),
                "{msg}"
            );
        }
        other => panic!("expected NnError::Io, got {other:?}"),
    }
}

#[test]
fn real_fashion_mnist_if_installed() {
    let dir = Path::new(FASHION_MNIST_DIR);
    if !dir.is_dir() {
        println!("skipped: {FASHION_MNIST_DIR} is absent (apt-get install dataset-fashion-mnist)");
        return;
    }
    let test = fashion_mnist(dir, false, None).unwrap();
    assert_eq!((test.len(), test.n_features()), (10000, 784));
    assert_eq!(test.class_counts(), [1000; 10]);
    assert_eq!(
        test.labels.slice(ndarray::s![..5]).to_vec(),
        [9, 2, 1, 1, 6]
    );
    let first_sum: f64 = test.features.row(0).sum() * 255.0;
    assert!((first_sum - 33456.0).abs() < 1e-6, "{first_sum}");
    assert!(test.features.iter().all(|&v| (0.0..=1.0).contains(&v)));
    let train = fashion_mnist(dir, true, Some(500)).unwrap();
    assert_eq!((train.len(), train.n_features()), (500, 784));
}
