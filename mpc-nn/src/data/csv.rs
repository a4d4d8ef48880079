//! CSV files: a header row, comma-separated numeric features and one named label column.
//!
//! The dialect is a simple RFC 4180: fields are separated by commas and trimmed of surrounding
//! whitespace; a field may be quoted with `"`, a quote inside it written `""` (a quoted field
//! keeps its inner whitespace); a record is one line (no newlines inside quotes); `\r\n` line
//! ends and a leading UTF-8 byte-order mark are accepted; blank lines are skipped.
//!
//! Every column except the label column must parse as a finite `f64`. Labels may be any
//! strings or numbers: the classes are the distinct label values, sorted numerically if all of
//! them are numbers (then `1` and `1.0` are one class) and lexicographically otherwise, and
//! `class_names` keeps their spelling. Errors are [`NnError::Csv`] with the 1-based line number
//! (the header is line 1) and the column's name.

use super::Dataset;
use crate::{NnError, Result};
use ndarray::{Array1, Array2};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// Cells read as a missing value (compared case-insensitively, after trimming).
const MISSING: [&str; 5] = ["", "na", "n/a", "nan", "null"];

/// Whether a trimmed cell stands for a missing value.
fn is_missing(cell: &str) -> bool {
    MISSING.iter().any(|m| cell.eq_ignore_ascii_case(m))
}

/// A [`NnError::Csv`].
fn csv_err(
    path: &Path,
    row: usize,
    column: impl Into<String>,
    detail: impl Into<String>,
) -> NnError {
    NnError::Csv {
        path: path.to_path_buf(),
        row,
        column: column.into(),
        detail: detail.into(),
    }
}

/// Splits one line into fields. On a malformed quoted field, returns the 0-based index of the
/// field and what is wrong.
fn split_fields(line: &str) -> std::result::Result<Vec<String>, (usize, String)> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let idx = fields.len();
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let field = if chars.next_if_eq(&'"').is_some() {
            let mut s = String::new();
            loop {
                match chars.next() {
                    None => {
                        return Err((
                            idx,
                            "unterminated quoted field (quotes cannot span lines)".into(),
                        ));
                    }
                    Some('"') => {
                        if chars.next_if_eq(&'"').is_some() {
                            s.push('"');
                        } else {
                            break;
                        }
                    }
                    Some(c) => s.push(c),
                }
            }
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
            match chars.peek() {
                None | Some(',') => {}
                Some(c) => {
                    return Err((idx, format!("unexpected {c:?} after a closing quote")));
                }
            }
            s
        } else {
            let mut s = String::new();
            while let Some(c) = chars.next_if(|&c| c != ',') {
                if c == '"' {
                    return Err((
                        idx,
                        "a quote inside an unquoted field (quote the whole field and write \"\")"
                            .into(),
                    ));
                }
                s.push(c);
            }
            s.trim_end().to_string()
        };
        fields.push(field);
        if chars.next().is_none() {
            return Ok(fields);
        }
    }
}

/// Parses CSV `text` (see the [module docs](self)) into a [`Dataset`] whose label is the
/// column named `label_column`; the features are all other columns, in file order.
/// `path_for_errors` only names the source in errors.
///
/// # Errors
/// [`NnError::Csv`] naming the line and column for: an empty file or a header with no data
/// rows, an empty or duplicate column name, a missing label column, no feature column, a
/// malformed quoted field, a ragged row (too few or too many fields), a missing value (empty,
/// `NA`, `N/A`, `NaN`, `null`) and a feature cell that is not a finite number.
pub fn parse_csv(text: &str, path_for_errors: &Path, label_column: &str) -> Result<Dataset> {
    let path = path_for_errors;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text
        .split('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
        .filter(|(_, l)| !l.trim().is_empty());

    let (header_line, header) = lines
        .next()
        .ok_or_else(|| csv_err(path, 0, "-", "empty file: a header row is required"))?;
    let names = split_fields(header)
        .map_err(|(j, e)| csv_err(path, header_line, (j + 1).to_string(), e))?;
    let mut first_seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (j, name) in names.iter().enumerate() {
        if name.is_empty() {
            return Err(csv_err(
                path,
                header_line,
                (j + 1).to_string(),
                "empty column name",
            ));
        }
        if let Some(&k) = first_seen.get(name.as_str()) {
            return Err(csv_err(
                path,
                header_line,
                name.clone(),
                format!("duplicate column name (columns {} and {})", k + 1, j + 1),
            ));
        }
        first_seen.insert(name, j);
    }
    let label_idx = names
        .iter()
        .position(|n| n == label_column)
        .ok_or_else(|| {
            csv_err(
                path,
                header_line,
                label_column,
                format!(
                    "label column not found; the header has: {}",
                    names.join(", ")
                ),
            )
        })?;
    if names.len() < 2 {
        return Err(csv_err(
            path,
            header_line,
            label_column,
            "no feature columns besides the label column",
        ));
    }
    let d = names.len() - 1;

    let mut values: Vec<f64> = Vec::new();
    let mut raw_labels: Vec<(usize, String)> = Vec::new();
    for (line_no, line) in lines {
        let fields =
            split_fields(line).map_err(|(j, e)| csv_err(path, line_no, col_name(&names, j), e))?;
        if fields.len() < names.len() {
            return Err(csv_err(
                path,
                line_no,
                col_name(&names, fields.len()),
                format!(
                    "ragged row: {} fields but the header has {}",
                    fields.len(),
                    names.len()
                ),
            ));
        }
        if fields.len() > names.len() {
            return Err(csv_err(
                path,
                line_no,
                (names.len() + 1).to_string(),
                format!(
                    "ragged row: {} fields but the header has {}",
                    fields.len(),
                    names.len()
                ),
            ));
        }
        for (j, (cell, name)) in fields.into_iter().zip(&names).enumerate() {
            if is_missing(cell.trim()) {
                return Err(csv_err(
                    path,
                    line_no,
                    name.clone(),
                    format!("missing value {cell:?}"),
                ));
            }
            if j == label_idx {
                raw_labels.push((line_no, cell));
                continue;
            }
            match cell.trim().parse::<f64>() {
                Ok(v) if v.is_finite() => values.push(v),
                Ok(_) => {
                    return Err(csv_err(
                        path,
                        line_no,
                        name.clone(),
                        format!("{cell:?} is not a finite number"),
                    ));
                }
                Err(_) => {
                    return Err(csv_err(
                        path,
                        line_no,
                        name.clone(),
                        format!("cannot parse {cell:?} as a number"),
                    ));
                }
            }
        }
    }
    let n = raw_labels.len();
    if n == 0 {
        return Err(csv_err(
            path,
            header_line,
            "-",
            "no data rows after the header",
        ));
    }

    let (class_names, labels) = classes(&raw_labels);
    let features = Array2::from_shape_vec((n, d), values)
        .map_err(|e| csv_err(path, 0, "-", format!("internal shape error: {e}")))?;
    let feature_names = names
        .into_iter()
        .enumerate()
        .filter(|&(j, _)| j != label_idx)
        .map(|(_, s)| s)
        .collect();
    Dataset::new(
        features,
        Array1::from(labels),
        class_names.len(),
        feature_names,
        class_names,
    )
    .map_err(|e| csv_err(path, 0, label_column, e.to_string()))
}

/// The name of column `j` (0-based), or its 1-based position past the header.
fn col_name(names: &[String], j: usize) -> String {
    names.get(j).cloned().unwrap_or_else(|| (j + 1).to_string())
}

/// The sorted class names and each record's class index.
fn classes(raw: &[(usize, String)]) -> (Vec<String>, Vec<usize>) {
    let distinct: Vec<&str> = raw
        .iter()
        .map(|(_, s)| s.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let numeric: Option<Vec<f64>> = distinct
        .iter()
        .map(|s| s.parse::<f64>().ok().filter(|v| v.is_finite()))
        .collect();
    match numeric {
        Some(nums) => {
            // Normalise -0 to 0 so that they are one class.
            let mut pairs: Vec<(f64, &str)> = nums
                .into_iter()
                .map(|v| if v == 0.0 { 0.0 } else { v })
                .zip(distinct.iter().copied())
                .collect();
            pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
            pairs.dedup_by(|later, earlier| later.0 == earlier.0);
            let names = pairs.iter().map(|(_, s)| s.to_string()).collect();
            let labels = raw
                .iter()
                .map(|(_, s)| {
                    let v = s.parse::<f64>().unwrap_or(f64::NAN);
                    pairs.iter().position(|p| p.0 == v).unwrap_or(0)
                })
                .collect();
            (names, labels)
        }
        None => {
            let labels = raw
                .iter()
                .map(|(_, s)| distinct.binary_search(&s.as_str()).unwrap_or(0))
                .collect();
            (distinct.iter().map(|s| s.to_string()).collect(), labels)
        }
    }
}

/// Reads the CSV file at `path` with [`parse_csv`].
///
/// # Errors
/// [`NnError::Io`] if the file cannot be read (or is not UTF-8), else as [`parse_csv`].
pub fn load_csv(path: &Path, label_column: &str) -> Result<Dataset> {
    let text = std::fs::read_to_string(path).map_err(|source| NnError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_csv(&text, path, label_column)
}

/// A field quoted when needed (commas, quotes, surrounding whitespace, or empty).
fn quote(field: &str) -> String {
    let needs = field.is_empty() || field.contains([',', '"']) || field.trim() != field;
    if needs {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// Writes `ds` to `path` as CSV: a header of the feature names then `label_column`, one line
/// per record with the features (shortest round-trip decimals, so they read back exactly) and
/// the record's class name. Reading it back with [`load_csv`] gives the same dataset when the
/// class names are in the order [`parse_csv`] sorts them (as after a [`load_csv`]).
///
/// # Errors
/// [`NnError::Dataset`] if a name contains a line break, a class name would read back as a
/// missing value, a feature is not finite, or `label_column` is also a feature name; [`NnError::Io`] if the file cannot
/// be written.
pub fn write_csv(path: &Path, ds: &Dataset, label_column: &str) -> Result<()> {
    let names = ds.feature_names.iter().chain(&ds.class_names);
    if let Some(bad) = names
        .chain(std::iter::once(&label_column.to_string()))
        .find(|s| s.contains(['\n', '\r']))
    {
        return Err(NnError::Dataset(format!(
            "write_csv: name {bad:?} contains a line break"
        )));
    }
    if let Some(bad) = ds.class_names.iter().find(|s| is_missing(s.trim())) {
        return Err(NnError::Dataset(format!(
            "write_csv: class name {bad:?} would read back as a missing value"
        )));
    }
    if let Some(((i, j), v)) = ds.features.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(NnError::Dataset(format!(
            "write_csv: feature at row {i}, column {j} is not finite ({v})"
        )));
    }
    if ds.feature_names.iter().any(|f| f == label_column) {
        return Err(NnError::Dataset(format!(
            "write_csv: label column {label_column:?} is also a feature name"
        )));
    }
    let io_err = |source| NnError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut out = String::new();
    let header: Vec<String> = ds
        .feature_names
        .iter()
        .map(|s| quote(s))
        .chain(std::iter::once(quote(label_column)))
        .collect();
    out.push_str(&header.join(","));
    out.push('\n');
    for (row, &label) in ds.features.rows().into_iter().zip(ds.labels.iter()) {
        for v in row {
            out.push_str(&format!("{v},"));
        }
        let class = ds
            .class_names
            .get(label)
            .cloned()
            .unwrap_or_else(|| label.to_string());
        out.push_str(&quote(&class));
        out.push('\n');
    }
    let mut file = std::fs::File::create(path).map_err(io_err)?;
    file.write_all(out.as_bytes()).map_err(io_err)?;
    file.flush().map_err(io_err)
}
