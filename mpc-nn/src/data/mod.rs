//! Datasets: features and class labels held in plaintext by a data owner, before sharing.

use ndarray::{Array1, Array2};

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
