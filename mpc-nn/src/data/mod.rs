//! Datasets: features and class labels held in plaintext by a data owner, before sharing.
//!
//! - [`Dataset`]: an `n x d` feature matrix with one class label per row, validated by
//!   [`Dataset::new`] (lengths agree, labels in range, finite features);
//! - [`split`]: seeded train/test splits (optionally stratified), horizontal and vertical
//!   partitions between data owners, and the public mini-batch shuffle [`batch_indices`];
//! - [`Standardizer`]: plaintext z-scoring (the twin of the secure version);
//! - [`csv`]: CSV files with a header row and a named label column;
//! - [`idx`]: the IDX (MNIST) format, gzip or not, and [`fashion_mnist`];
//! - [`datasets`]: the Wisconsin breast cancer and the 8x8 digits sets, embedded (no network).
//!
//! Everything here is deterministic given its seeds, and bad input gives a typed
//! [`NnError`] naming the file, row and column at fault.

pub mod csv;
pub mod datasets;
pub mod idx;
pub mod split;

pub use csv::{load_csv, parse_csv, write_csv};
pub use datasets::{breast_cancer, digits};
pub use idx::{
    FASHION_MNIST_CLASSES, FASHION_MNIST_DIR, IdxArray, fashion_mnist, load_idx_dataset, read_idx,
    write_idx,
};
pub use split::{batch_indices, column_blocks, split_indices};

use crate::{NnError, Result};
use ndarray::{Array1, Array2, Axis};

/// A classification dataset in plaintext: one row of features per record and its class.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Features, one row per record (`n x d`).
    pub features: Array2<f64>,
    /// Class index of each record, in `0..n_classes`.
    pub labels: Array1<usize>,
    /// Number of classes.
    pub n_classes: usize,
    /// Names of the `d` feature columns.
    pub feature_names: Vec<String>,
    /// Names of the classes (index `c` names class `c`).
    pub class_names: Vec<String>,
}

/// `prefix0, prefix1, ...`: `count` default names.
fn default_names(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{prefix}{i}")).collect()
}

impl Dataset {
    /// A validated dataset.
    ///
    /// Checks that `labels` has one entry per row of `features`, that `n_classes >= 1` and every
    /// label is below it, that every feature is finite (no NaN or infinity), and that
    /// `feature_names` has `d` entries and `class_names` has `n_classes` entries. An empty
    /// `feature_names` is filled with `x0, x1, ...` and an empty `class_names` with
    /// `0, 1, ...`. A dataset with no rows is allowed (see [`Dataset::is_empty`]).
    ///
    /// # Errors
    /// [`NnError::Dataset`] naming the first check that fails (and the row and column of a
    /// non-finite feature).
    pub fn new(
        features: Array2<f64>,
        labels: Array1<usize>,
        n_classes: usize,
        feature_names: Vec<String>,
        class_names: Vec<String>,
    ) -> Result<Dataset> {
        let (n, d) = features.dim();
        if labels.len() != n {
            return Err(NnError::Dataset(format!(
                "{} labels for {n} rows of features",
                labels.len()
            )));
        }
        if n_classes == 0 {
            return Err(NnError::Dataset("n_classes must be at least 1".into()));
        }
        if let Some((i, &l)) = labels.iter().enumerate().find(|&(_, &l)| l >= n_classes) {
            return Err(NnError::Dataset(format!(
                "label {l} of row {i} is not below n_classes = {n_classes}"
            )));
        }
        if let Some(((i, j), v)) = features.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(NnError::Dataset(format!(
                "feature at row {i}, column {j} is not finite ({v})"
            )));
        }
        let feature_names = if feature_names.is_empty() {
            default_names("x", d)
        } else if feature_names.len() != d {
            return Err(NnError::Dataset(format!(
                "{} feature names for {d} feature columns",
                feature_names.len()
            )));
        } else {
            feature_names
        };
        let class_names = if class_names.is_empty() {
            default_names("", n_classes)
        } else if class_names.len() != n_classes {
            return Err(NnError::Dataset(format!(
                "{} class names for n_classes = {n_classes}",
                class_names.len()
            )));
        } else {
            class_names
        };
        Ok(Dataset {
            features,
            labels,
            n_classes,
            feature_names,
            class_names,
        })
    }

    /// Number of records (rows).
    pub fn len(&self) -> usize {
        self.features.nrows()
    }

    /// Whether the dataset has no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of feature columns `d`.
    pub fn n_features(&self) -> usize {
        self.features.ncols()
    }

    /// The labels one-hot encoded: `n x n_classes`, row `i` has a single 1 at column `labels[i]`.
    pub fn one_hot(&self) -> Array2<f64> {
        let mut out = Array2::zeros((self.len(), self.n_classes));
        for (mut row, &l) in out.rows_mut().into_iter().zip(self.labels.iter()) {
            if let Some(cell) = row.get_mut(l) {
                *cell = 1.0;
            }
        }
        out
    }

    /// The labels as an `n x 1` column of class indices as `f64` (0/1 for binary tasks).
    pub fn labels_column(&self) -> Array2<f64> {
        Array2::from_shape_fn((self.len(), 1), |(i, _)| self.labels[i] as f64)
    }

    /// Number of records of each class (`n_classes` entries).
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.n_classes];
        for &l in &self.labels {
            if let Some(c) = counts.get_mut(l) {
                *c += 1;
            }
        }
        counts
    }

    /// The records at `rows`, in that order (an index may repeat; an empty list gives an empty
    /// dataset). Names and `n_classes` are kept.
    ///
    /// # Errors
    /// [`NnError::Dataset`] if an index is not below [`Dataset::len`].
    pub fn subset(&self, rows: &[usize]) -> Result<Dataset> {
        if let Some(&bad) = rows.iter().find(|&&r| r >= self.len()) {
            return Err(NnError::Dataset(format!(
                "row index {bad} out of range for a dataset of {} rows",
                self.len()
            )));
        }
        Ok(Dataset {
            features: self.features.select(Axis(0), rows),
            labels: self.labels.select(Axis(0), rows),
            n_classes: self.n_classes,
            feature_names: self.feature_names.clone(),
            class_names: self.class_names.clone(),
        })
    }

    /// The same records with only the feature columns `cols`, in that order (names follow).
    ///
    /// # Errors
    /// [`NnError::Dataset`] if `cols` is empty, has an index not below
    /// [`Dataset::n_features`], or names a column twice.
    pub fn select_columns(&self, cols: &[usize]) -> Result<Dataset> {
        let d = self.n_features();
        if cols.is_empty() {
            return Err(NnError::Dataset(
                "select_columns: no columns selected".into(),
            ));
        }
        let mut seen = vec![false; d];
        for &c in cols {
            match seen.get_mut(c) {
                None => {
                    return Err(NnError::Dataset(format!(
                        "select_columns: column index {c} out of range for {d} features"
                    )));
                }
                Some(true) => {
                    return Err(NnError::Dataset(format!(
                        "select_columns: column index {c} selected twice"
                    )));
                }
                Some(s) => *s = true,
            }
        }
        Ok(Dataset {
            features: self.features.select(Axis(1), cols),
            labels: self.labels.clone(),
            n_classes: self.n_classes,
            feature_names: cols
                .iter()
                .map(|&c| self.feature_names.get(c).cloned().unwrap_or_default())
                .collect(),
            class_names: self.class_names.clone(),
        })
    }
}

/// Plaintext z-scoring: `(x - mean) / std` per column, fitted on training data.
///
/// This is the plaintext twin of the secure standardizer: the same formula on clear values.
#[derive(Debug, Clone, PartialEq)]
pub struct Standardizer {
    /// Mean of each column.
    pub mean: Array1<f64>,
    /// Population standard deviation of each column (1 for a constant column).
    pub std: Array1<f64>,
}

impl Standardizer {
    /// Column means and population standard deviations (divided by `n`, not `n - 1`) of `x`.
    ///
    /// A column with zero spread (all values equal) gets `std = 1` and `mean` equal to its value
    /// exactly, so it transforms to exact zeros. With no rows every mean is 0 and every std 1.
    /// Non-finite input propagates into the statistics (validated [`Dataset`] features never
    /// hold any).
    pub fn fit(x: &Array2<f64>) -> Standardizer {
        let (n, d) = x.dim();
        let mut mean = Array1::zeros(d);
        let mut std = Array1::ones(d);
        if n == 0 {
            return Standardizer { mean, std };
        }
        for (j, col) in x.columns().into_iter().enumerate() {
            let first = col[0];
            if col.iter().all(|&v| v == first) {
                mean[j] = first;
                continue;
            }
            let m = col.sum() / n as f64;
            let var = col.iter().map(|&v| (v - m) * (v - m)).sum::<f64>() / n as f64;
            mean[j] = m;
            let s = var.sqrt();
            std[j] = if s == 0.0 { 1.0 } else { s };
        }
        Standardizer { mean, std }
    }

    /// `(x - mean) / std`, column by column.
    ///
    /// # Errors
    /// [`NnError::Shape`] if `x` does not have as many columns as the fitted statistics (or
    /// `mean` and `std` differ in length).
    pub fn transform(&self, x: &Array2<f64>) -> Result<Array2<f64>> {
        if self.mean.len() != self.std.len() {
            return Err(NnError::shape(
                "Standardizer::transform",
                format!(
                    "mean has {} entries but std has {}",
                    self.mean.len(),
                    self.std.len()
                ),
            ));
        }
        if x.ncols() != self.mean.len() {
            return Err(NnError::shape(
                "Standardizer::transform",
                format!(
                    "input has {} columns but the standardizer was fitted on {}",
                    x.ncols(),
                    self.mean.len()
                ),
            ));
        }
        Ok((x - &self.mean) / &self.std)
    }
}
