//! Small classic datasets embedded in the binary (through `smartcore`), so no network is needed.
//!
//! - [`breast_cancer`]: Wisconsin Diagnostic Breast Cancer, 569 x 30, 2 classes;
//! - [`digits`]: UCI optical digits as in scikit-learn, 1797 x 64 (8x8 images), 10 classes.
//!
//! `smartcore` stores the values as `f32`; each is converted to the `f64` nearest its shortest
//! decimal form (so 17.99 reads as `17.99`, not `17.989999771118164`), which gives back the
//! decimal values of the original files.

use super::Dataset;
use crate::{NnError, Result};
use ndarray::{Array1, Array2};

/// `v` as the `f64` nearest its shortest round-trip decimal representation.
fn f32_decimal(v: f32) -> f64 {
    format!("{v}").parse::<f64>().unwrap_or(f64::from(v))
}

/// A [`Dataset`] from `smartcore`'s row-major `data` and its numeric targets.
fn from_smartcore(
    name: &str,
    data: &[f32],
    target: impl Iterator<Item = f64>,
    (n, d): (usize, usize),
    n_classes: usize,
    feature_names: Vec<String>,
    class_names: Vec<String>,
) -> Result<Dataset> {
    if data.len() != n * d {
        return Err(NnError::Dataset(format!(
            "{name}: embedded data has {} values for {n} x {d}",
            data.len()
        )));
    }
    let features = Array2::from_shape_fn((n, d), |(i, j)| f32_decimal(data[i * d + j]));
    let labels = target
        .enumerate()
        .map(|(i, t)| {
            if t >= 0.0 && t.fract() == 0.0 && t < n_classes as f64 {
                Ok(t as usize)
            } else {
                Err(NnError::Dataset(format!(
                    "{name}: embedded target {t} of row {i} is not a class index"
                )))
            }
        })
        .collect::<Result<Vec<usize>>>()?;
    Dataset::new(
        features,
        Array1::from(labels),
        n_classes,
        feature_names,
        class_names,
    )
}

/// The Wisconsin Diagnostic Breast Cancer dataset: 569 records, 30 real features (mean,
/// standard error and worst value of ten cell-nucleus measurements, in the scikit-learn order
/// and names: `mean radius`, ..., `worst fractal dimension`).
///
/// Labels follow `smartcore` and scikit-learn: **0 = malignant** (212 records) and
/// **1 = benign** (357 records); `class_names` is `["malignant", "benign"]`.
///
/// # Errors
/// [`NnError::Dataset`] only if the embedded data were inconsistent (never for the shipped
/// copy).
pub fn breast_cancer() -> Result<Dataset> {
    let raw = smartcore::dataset::breast_cancer::load_dataset();
    from_smartcore(
        "breast_cancer",
        &raw.data,
        raw.target.iter().map(|&t| f64::from(t)),
        (raw.num_samples, raw.num_features),
        2,
        raw.feature_names.clone(),
        vec!["malignant".into(), "benign".into()],
    )
}

/// The 8x8 handwritten digits dataset (as `sklearn.datasets.load_digits`): 1797 records of 64
/// pixel counts in `0..=16`, row-major (`pixel_{row}_{col}`), labels the digits 0 to 9
/// (`class_names` `"0"` to `"9"`, about 180 records each).
///
/// # Errors
/// [`NnError::Dataset`] only if the embedded data were inconsistent (never for the shipped
/// copy).
pub fn digits() -> Result<Dataset> {
    let raw = smartcore::dataset::digits::load_dataset();
    // smartcore's feature names for this set are a copy of iris's; use scikit-learn's instead.
    let names = (0..8)
        .flat_map(|r| (0..8).map(move |c| format!("pixel_{r}_{c}")))
        .collect();
    from_smartcore(
        "digits",
        &raw.data,
        raw.target.iter().map(|&t| f64::from(t)),
        (raw.num_samples, raw.num_features),
        10,
        names,
        (0..10).map(|c| c.to_string()).collect(),
    )
}
