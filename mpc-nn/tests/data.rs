//! Tests of `mpc_nn::data`: datasets, splits, batches, standardizer, embedded sets; CSV and IDX
//! files in the submodules `data/csv.rs` and `data/idx.rs`.

#[path = "data/csv.rs"]
mod csv;
#[path = "data/idx.rs"]
mod idx;

use mpc_nn::NnError;
use mpc_nn::data::{
    Dataset, Standardizer, batch_indices, breast_cancer, column_blocks, digits, split_indices,
};
use ndarray::{Array1, Array2, Axis, array, concatenate};
use proptest::prelude::*;

/// `n` records whose feature 0 is the row index (so rows can be traced) and feature 1 its
/// square; labels cycle through `labels`.
fn traced(n: usize, labels: &[usize], n_classes: usize) -> Dataset {
    let x = Array2::from_shape_fn((n, 2), |(i, j)| (i * (i * j).max(1)) as f64);
    let y = Array1::from_iter((0..n).map(|i| labels[i % labels.len()]));
    Dataset::new(x, y, n_classes, vec![], vec![]).expect("valid dataset")
}

/// The row indices held by `ds` (feature 0 of [`traced`]).
fn ids(ds: &Dataset) -> Vec<usize> {
    ds.features.column(0).iter().map(|&v| v as usize).collect()
}

/// The message of a `Dataset` error, failing on any other outcome.
fn dataset_err<T: std::fmt::Debug>(r: mpc_nn::Result<T>) -> String {
    match r {
        Err(e @ NnError::Dataset(_)) => e.to_string(),
        other => panic!("expected NnError::Dataset, got {other:?}"),
    }
}

// ---------------------------------------------------------------- Dataset

#[test]
fn new_fills_default_names_and_accessors_work() {
    let ds = Dataset::new(
        array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]],
        array![2, 0],
        3,
        vec![],
        vec![],
    )
    .unwrap();
    assert_eq!(ds.feature_names, ["x0", "x1", "x2"]);
    assert_eq!(ds.class_names, ["0", "1", "2"]);
    assert_eq!((ds.len(), ds.n_features(), ds.is_empty()), (2, 3, false));
    assert_eq!(ds.one_hot(), array![[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]);
    assert_eq!(ds.labels_column(), array![[2.0], [0.0]]);
    assert_eq!(ds.class_counts(), [1, 0, 1]);
    let named = Dataset::new(
        array![[1.0]],
        array![1],
        2,
        vec!["a".into()],
        vec!["no".into(), "yes".into()],
    )
    .unwrap();
    assert_eq!(
        (
            named.feature_names[0].as_str(),
            named.class_names[1].as_str()
        ),
        ("a", "yes")
    );
    let empty = Dataset::new(Array2::zeros((0, 4)), Array1::zeros(0), 2, vec![], vec![]).unwrap();
    assert!(empty.is_empty());
    assert_eq!(empty.one_hot().dim(), (0, 2));
    assert_eq!(empty.class_counts(), [0, 0]);
}

#[test]
fn new_rejects_inconsistent_input() {
    let x = array![[1.0, 2.0], [3.0, 4.0]];
    let cases: Vec<(mpc_nn::Result<Dataset>, &str)> = vec![
        (
            Dataset::new(x.clone(), array![0], 2, vec![], vec![]),
            "1 labels for 2 rows",
        ),
        (
            Dataset::new(x.clone(), array![0, 0], 0, vec![], vec![]),
            "n_classes must be",
        ),
        (
            Dataset::new(x.clone(), array![0, 2], 2, vec![], vec![]),
            "label 2 of row 1",
        ),
        (
            Dataset::new(
                array![[1.0, f64::NAN], [0.0, 0.0]],
                array![0, 1],
                2,
                vec![],
                vec![],
            ),
            "row 0, column 1 is not finite",
        ),
        (
            Dataset::new(
                array![[1.0, 0.0], [f64::INFINITY, 0.0]],
                array![0, 1],
                2,
                vec![],
                vec![],
            ),
            "row 1, column 0 is not finite",
        ),
        (
            Dataset::new(x.clone(), array![0, 1], 2, vec!["a".into()], vec![]),
            "1 feature names for 2",
        ),
        (
            Dataset::new(
                x,
                array![0, 1],
                2,
                vec![],
                vec!["a".into(), "b".into(), "c".into()],
            ),
            "3 class names for n_classes = 2",
        ),
    ];
    for (r, needle) in cases {
        let msg = dataset_err(r);
        assert!(msg.contains(needle), "{msg:?} should contain {needle:?}");
    }
}

#[test]
fn subset_and_select_columns() {
    let ds = traced(5, &[0, 1], 2);
    let s = ds.subset(&[4, 0, 4]).unwrap();
    assert_eq!(ids(&s), [4, 0, 4]);
    assert_eq!(s.labels, array![0, 0, 0]);
    assert_eq!(s.class_names, ds.class_names);
    assert!(ds.subset(&[]).unwrap().is_empty());
    assert!(dataset_err(ds.subset(&[1, 5])).contains("row index 5 out of range"));

    let c = ds.select_columns(&[1, 0]).unwrap();
    assert_eq!(c.feature_names, ["x1", "x0"]);
    assert_eq!(c.features.column(1), ds.features.column(0));
    assert_eq!(c.labels, ds.labels);
    assert!(dataset_err(ds.select_columns(&[2])).contains("column index 2 out of range"));
    assert!(dataset_err(ds.select_columns(&[1, 1])).contains("column index 1 selected twice"));
    assert!(dataset_err(ds.select_columns(&[])).contains("no columns"));
}

// ---------------------------------------------------------------- splits

#[test]
fn train_test_split_errors() {
    let ds = traced(10, &[0, 1], 2);
    for f in [0.0, 1.0, -0.5, 1.5, f64::NAN, f64::INFINITY] {
        let msg = dataset_err(ds.train_test_split(f, 1, false));
        assert!(msg.contains("strictly between 0 and 1"), "{msg}");
    }
    // round(0.04 * 10) = 0 test records; round(0.96 * 10) = 10 leaves no train record.
    for (f, strat) in [(0.04, false), (0.96, false), (0.04, true), (0.96, true)] {
        let msg = dataset_err(ds.train_test_split(f, 1, strat));
        assert!(msg.contains("both sides must be non-empty"), "{msg}");
    }
    let empty = traced(1, &[0], 1).subset(&[]).unwrap();
    assert!(empty.train_test_split(0.5, 0, false).is_err());
}

#[test]
fn split_rows_and_columns() {
    let ds = traced(7, &[0, 1, 2], 3);
    let parts = ds.split_rows(3).unwrap();
    assert_eq!(
        parts.iter().map(Dataset::len).collect::<Vec<_>>(),
        [3, 2, 2]
    );
    assert_eq!(
        parts.iter().flat_map(ids).collect::<Vec<_>>(),
        (0..7).collect::<Vec<_>>()
    );
    assert!(
        parts
            .iter()
            .all(|p| p.n_classes == 3 && p.feature_names == ds.feature_names)
    );
    assert_eq!(ds.split_rows(7).unwrap().len(), 7);
    for p in [0, 8] {
        assert!(dataset_err(ds.split_rows(p)).contains(&format!("7 rows into {p}")));
    }

    let wide = Dataset::new(
        Array2::from_shape_fn((3, 5), |(i, j)| (10 * i + j) as f64),
        array![0, 1, 0],
        2,
        vec![],
        vec![],
    )
    .unwrap();
    let blocks = wide.split_columns(2).unwrap();
    assert_eq!(
        blocks.iter().map(|b| b.dim()).collect::<Vec<_>>(),
        [(3, 3), (3, 2)]
    );
    let views: Vec<_> = blocks.iter().map(|b| b.view()).collect();
    assert_eq!(concatenate(Axis(1), &views).unwrap(), wide.features);
    for p in [0, 6] {
        assert!(
            dataset_err(wide.split_columns(p)).contains(&format!("5 feature columns into {p}"))
        );
    }
    assert_eq!(column_blocks(5, 2), [0..3, 3..5]);
    assert_eq!(Dataset::column_blocks(10, 4), [0..3, 3..6, 6..8, 8..10]);
    assert_eq!(column_blocks(2, 3), [0..1, 1..2, 2..2]);
    assert!(column_blocks(4, 0).is_empty());
}

#[test]
fn batch_indices_basics() {
    let msg = dataset_err(batch_indices(10, 0, 1, 0, false));
    assert!(msg.contains("batch_size"), "{msg}");
    let b = batch_indices(10, 4, 7, 0, false).unwrap();
    assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), [4, 4, 2]);
    let d = batch_indices(10, 4, 7, 0, true).unwrap();
    assert_eq!(d.iter().map(Vec::len).collect::<Vec<_>>(), [4, 4]);
    assert_eq!(d[..], b[..2], "drop_last only drops the short tail");
    assert!(batch_indices(3, 4, 7, 0, true).unwrap().is_empty());
    assert!(batch_indices(0, 4, 7, 0, false).unwrap().is_empty());
    assert_eq!(batch_indices(1, 1, 7, 3, false).unwrap(), [vec![0]]);
    // A real shuffle, not the identity.
    let flat: Vec<usize> = batch_indices(100, 100, 7, 0, false).unwrap().concat();
    assert_ne!(flat, (0..100).collect::<Vec<_>>());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn split_invariants(n in 4usize..120, k in 1usize..5, f in 0.1f64..0.9, seed: u64, strat: bool) {
        let labels: Vec<usize> = (0..k).collect();
        let ds = traced(n, &labels, k);
        match ds.train_test_split(f, seed, strat) {
            Ok((train, test)) => {
                let (a, b) = (ids(&train), ids(&test));
                // Disjoint and covering, each side in the original order.
                let mut all: Vec<usize> = a.iter().chain(&b).copied().collect();
                all.sort_unstable();
                prop_assert_eq!(all, (0..n).collect::<Vec<_>>());
                prop_assert!(a.windows(2).all(|w| w[0] < w[1]) && b.windows(2).all(|w| w[0] < w[1]));
                // Labels travel with their rows.
                for (s, i) in [(&train, &a), (&test, &b)] {
                    for (row, &id) in i.iter().enumerate() {
                        prop_assert_eq!(s.labels[row], id % k);
                    }
                }
                if strat {
                    for (c, &cnt) in ds.class_counts().iter().enumerate() {
                        prop_assert_eq!(test.class_counts()[c], (f * cnt as f64).round() as usize);
                    }
                } else {
                    prop_assert_eq!(test.len(), (f * n as f64).round() as usize);
                    // The vertical parties' index split is the same split.
                    let (ia, ib) = split_indices(n, f, seed).unwrap();
                    prop_assert_eq!(&ia, &a);
                    prop_assert_eq!(&ib, &b);
                }
                // Deterministic given the seed.
                let (train2, test2) = ds.train_test_split(f, seed, strat).unwrap();
                prop_assert_eq!(&train2, &train);
                prop_assert_eq!(&test2, &test);
            }
            Err(e) => {
                prop_assert!(matches!(e, NnError::Dataset(_)));
                prop_assert!(e.to_string().contains("both sides must be non-empty"));
            }
        }
    }

    #[test]
    fn batch_invariants(n in 1usize..300, bs in 1usize..40, seed: u64, epoch in 0u64..1000, drop: bool) {
        let b = batch_indices(n, bs, seed, epoch, drop).unwrap();
        prop_assert!(b.iter().all(|c| c.len() == bs || (!drop && c.len() < bs)));
        prop_assert_eq!(b.len(), if drop { n / bs } else { n.div_ceil(bs) });
        let mut flat: Vec<usize> = b.concat();
        prop_assert_eq!(&b, &batch_indices(n, bs, seed, epoch, drop).unwrap());
        flat.sort_unstable();
        flat.dedup();
        prop_assert_eq!(flat.len(), if drop { (n / bs) * bs } else { n });
        prop_assert!(flat.iter().all(|&i| i < n));
    }

    #[test]
    fn blocks_partition(d in 0usize..200, parts in 1usize..20) {
        let r = column_blocks(d, parts);
        prop_assert_eq!(r.len(), parts);
        prop_assert_eq!(r[0].start, 0);
        prop_assert_eq!(r[parts - 1].end, d);
        prop_assert!(r.windows(2).all(|w| w[0].end == w[1].start && w[0].len() >= w[1].len()));
        prop_assert!(r[0].len() - r[parts - 1].len() <= 1);
    }
}

#[test]
fn shuffles_differ_across_seeds_and_epochs() {
    let base = batch_indices(50, 50, 1, 0, false).unwrap();
    let mut epochs_differ = 0;
    for epoch in 1..20 {
        epochs_differ += usize::from(batch_indices(50, 50, 1, epoch, false).unwrap() != base);
    }
    assert_eq!(epochs_differ, 19, "every epoch has its own order");
    assert_ne!(batch_indices(50, 50, 2, 0, false).unwrap(), base);
    let ds = traced(50, &[0, 1], 2);
    let (_, t1) = ds.train_test_split(0.3, 1, true).unwrap();
    let (_, t2) = ds.train_test_split(0.3, 2, true).unwrap();
    assert_ne!(ids(&t1), ids(&t2));
    // Every position is reached: over many epochs element 0 lands in many places.
    let spots: std::collections::BTreeSet<usize> = (0..200)
        .map(|e| {
            batch_indices(10, 10, 3, e, false).unwrap()[0]
                .iter()
                .position(|&i| i == 0)
        })
        .map(|p| p.unwrap_or(usize::MAX))
        .collect();
    assert_eq!(spots.len(), 10);
}

// ---------------------------------------------------------------- Standardizer

#[test]
fn standardizer_fit_and_transform() {
    let x = array![[1.0, 5.0, -2.0], [3.0, 5.0, 0.0], [5.0, 5.0, 8.0]];
    let s = Standardizer::fit(&x);
    assert_eq!(s.mean, array![3.0, 5.0, 2.0]);
    let pop_std = (8.0f64 / 3.0).sqrt();
    assert!(
        (s.std[0] - pop_std).abs() < 1e-12,
        "population std, not sample std"
    );
    assert_eq!(s.std[1], 1.0, "a constant column gets std 1");
    let z = s.transform(&x).unwrap();
    assert!(z.column(1).iter().all(|&v| v == 0.0));
    for j in [0, 2] {
        let col = z.column(j);
        let m = col.sum() / 3.0;
        let v = col.iter().map(|a| (a - m) * (a - m)).sum::<f64>() / 3.0;
        assert!(m.abs() < 1e-12 && (v - 1.0).abs() < 1e-12);
    }
    // A constant column with a value that does not average exactly still maps to zeros.
    let c = Array2::from_elem((7, 1), 0.1);
    assert!(
        Standardizer::fit(&c)
            .transform(&c)
            .unwrap()
            .iter()
            .all(|&v| v == 0.0)
    );
    let e = Standardizer::fit(&Array2::zeros((0, 2)));
    assert_eq!((e.mean, e.std), (array![0.0, 0.0], array![1.0, 1.0]));

    match s.transform(&Array2::zeros((2, 2))) {
        Err(e @ NnError::Shape { .. }) => assert!(e.to_string().contains("2 columns"), "{e}"),
        other => panic!("expected a shape error, got {other:?}"),
    }
    let bad = Standardizer {
        mean: array![0.0, 0.0],
        std: array![1.0],
    };
    match bad.transform(&Array2::zeros((1, 2))) {
        Err(e @ NnError::Shape { .. }) => assert!(e.to_string().contains("std has 1"), "{e}"),
        other => panic!("expected a shape error, got {other:?}"),
    }
}

// ---------------------------------------------------------------- embedded datasets

#[test]
fn breast_cancer_matches_scikit_learn() {
    let ds = breast_cancer().unwrap();
    assert_eq!((ds.len(), ds.n_features(), ds.n_classes), (569, 30, 2));
    assert_eq!(ds.class_names, ["malignant", "benign"]);
    assert_eq!(ds.class_counts(), [212, 357]);
    assert_eq!(ds.feature_names[0], "mean radius");
    assert_eq!(ds.feature_names[29], "worst fractal dimension");
    // First record of the UCI file: 17.99, 10.38, 122.8, 1001, ..., malignant.
    assert_eq!(
        ds.features.row(0).to_vec()[..4],
        [17.99, 10.38, 122.8, 1001.0]
    );
    assert_eq!(ds.features[[0, 29]], 0.1189);
    assert_eq!(ds.labels[0], 0);
    assert_eq!(ds.labels[568], 1);
    assert_eq!(ds.features[[568, 0]], 7.76);
}

#[test]
fn digits_matches_scikit_learn() {
    let ds = digits().unwrap();
    assert_eq!((ds.len(), ds.n_features(), ds.n_classes), (1797, 64, 10));
    assert_eq!(
        ds.class_counts(),
        [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    );
    assert_eq!(
        ds.labels.slice(ndarray::s![..10]).to_vec(),
        (0..10).collect::<Vec<_>>()
    );
    assert_eq!(
        ds.features.row(0).to_vec()[..8],
        [0.0, 0.0, 5.0, 13.0, 9.0, 1.0, 0.0, 0.0]
    );
    assert!(
        ds.features
            .iter()
            .all(|&v| (0.0..=16.0).contains(&v) && v.fract() == 0.0)
    );
    assert_eq!(ds.features.iter().cloned().fold(0.0, f64::max), 16.0);
    assert_eq!(
        (ds.feature_names[0].as_str(), ds.feature_names[63].as_str()),
        ("pixel_0_0", "pixel_7_7")
    );
    assert_eq!(ds.class_names[9], "9");
}
