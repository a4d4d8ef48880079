//! Splitting a dataset: seeded train/test splits, partitions between data owners, mini-batches.
//!
//! - [`Dataset::train_test_split`]: a seeded random split, optionally stratified by class;
//! - [`Dataset::split_rows`]: a *horizontal* partition (each data owner holds some records);
//! - [`Dataset::split_columns`] / [`column_blocks`]: a *vertical* partition (each data owner
//!   holds some features of the same records);
//! - [`batch_indices`]: the per-epoch mini-batch order.
//!
//! Random permutations are Fisher-Yates shuffles driven by a seeded ChaCha generator
//! ([`rand::rngs::StdRng`], ChaCha with 12 rounds, pinned by `Cargo.lock`), with an unbiased
//! bounded draw (Lemire's multiply-and-reject) on its 64-bit outputs, so a permutation depends
//! only on the seed and the generator's stream.

use super::Dataset;
use crate::{NnError, Result};
use ndarray::{Array2, Axis, Slice};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::ops::Range;

/// The seeded generator behind every shuffle here.
type ShuffleRng = StdRng;

/// Domain tag mixed into the seed of [`batch_indices`], so batch orders never coincide with the
/// permutation of a train/test split made from the same seed.
const BATCH_TAG: &[u8; 16] = b"trefoil-batches\0";

/// A uniform draw in `0..bound` (`bound >= 1`), unbiased (Lemire's method).
fn below(rng: &mut ShuffleRng, bound: u64) -> u64 {
    let threshold = bound.wrapping_neg() % bound;
    loop {
        let m = u128::from(rng.next_u64()) * u128::from(bound);
        if (m as u64) >= threshold {
            return (m >> 64) as u64;
        }
    }
}

/// Fisher-Yates shuffle of `v` in place.
fn shuffle(rng: &mut ShuffleRng, v: &mut [usize]) {
    for i in (1..v.len()).rev() {
        let j = below(rng, i as u64 + 1) as usize;
        v.swap(i, j);
    }
}

/// `0..len` cut into `parts` contiguous blocks whose sizes differ by at most one (the first
/// `len % parts` blocks are one longer). `parts == 0` gives no blocks; with `parts > len` the
/// last `parts - len` blocks are empty.
///
/// These are the column ranges of [`Dataset::split_columns`] (and the row ranges of
/// [`Dataset::split_rows`]).
pub fn column_blocks(d: usize, parts: usize) -> Vec<Range<usize>> {
    if parts == 0 {
        return Vec::new();
    }
    let (base, extra) = (d / parts, d % parts);
    let mut start = 0;
    (0..parts)
        .map(|p| {
            let len = base + usize::from(p < extra);
            let r = start..start + len;
            start += len;
            r
        })
        .collect()
}

/// The mini-batches of one epoch: a random permutation of `0..n` cut into chunks of
/// `batch_size` (the last one shorter unless `drop_last`, which drops it; so with
/// `drop_last` and `n < batch_size` there are no batches).
///
/// The permutation is a Fisher-Yates shuffle by a ChaCha generator seeded from `seed` and
/// `epoch` together, so each epoch has its own order and the same `(seed, epoch)` always gives
/// the same batches. **This shuffle is public randomness**: it depends only on `n`, the seed and
/// the epoch, never on any data, so all parties can compute it in the clear and agree on which
/// records form each batch without revealing anything about the records themselves.
///
/// # Errors
/// [`NnError::Dataset`] if `batch_size` is 0.
pub fn batch_indices(
    n: usize,
    batch_size: usize,
    seed: u64,
    epoch: u64,
    drop_last: bool,
) -> Result<Vec<Vec<usize>>> {
    if batch_size == 0 {
        return Err(NnError::Dataset("batch_size must be at least 1".into()));
    }
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&epoch.to_le_bytes());
    key[16..].copy_from_slice(BATCH_TAG);
    let mut rng = ShuffleRng::from_seed(key);
    let mut order: Vec<usize> = (0..n).collect();
    shuffle(&mut rng, &mut order);
    Ok(order
        .chunks(batch_size)
        .filter(|c| !drop_last || c.len() == batch_size)
        .map(<[usize]>::to_vec)
        .collect())
}

/// The record indices of an unstratified seeded split of `n` records: `(train, test)`, each
/// in increasing order. The same indices as [`Dataset::train_test_split`] without
/// stratification, for parties that each hold some columns of the same `n` records (a
/// vertical partition) and must split them alike without seeing the labels.
///
/// # Errors
/// [`NnError::Dataset`] as for [`Dataset::train_test_split`].
pub fn split_indices(n: usize, test_fraction: f64, seed: u64) -> Result<(Vec<usize>, Vec<usize>)> {
    check_fraction(test_fraction)?;
    let mut group: Vec<usize> = (0..n).collect();
    let mut in_test = vec![false; n];
    let mut rng = ShuffleRng::seed_from_u64(seed);
    shuffle(&mut rng, &mut group);
    let k = ((test_fraction * n as f64).round() as usize).min(n);
    for &i in &group[..k] {
        in_test[i] = true;
    }
    partition(in_test, test_fraction)
}

fn check_fraction(test_fraction: f64) -> Result<()> {
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(NnError::Dataset(format!(
            "test_fraction must be strictly between 0 and 1, got {test_fraction}"
        )));
    }
    Ok(())
}

/// `(train, test)` indices from the test flags; both sides must be non-empty.
fn partition(in_test: Vec<bool>, test_fraction: f64) -> Result<(Vec<usize>, Vec<usize>)> {
    let n = in_test.len();
    let n_test = in_test.iter().filter(|&&t| t).count();
    if n_test == 0 || n_test == n {
        return Err(NnError::Dataset(format!(
            "test_fraction {test_fraction} of {n} records gives {n_test} test and {} train \
             records; both sides must be non-empty",
            n - n_test
        )));
    }
    let (test, train): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| in_test[i]);
    Ok((train, test))
}

impl Dataset {
    /// A seeded random split into `(train, test)`.
    ///
    /// Without `stratified`, `round(test_fraction * n)` records chosen by a permutation seeded
    /// with `seed` go to the test side. With `stratified`, each class is shuffled on its own
    /// (classes in index order, one generator) and `round(test_fraction * count)` of its records
    /// go to test, so each side keeps the class proportions. Both sides keep the records in
    /// their original order. The same `seed` always gives the same split.
    ///
    /// # Errors
    /// [`NnError::Dataset`] if `test_fraction` is not strictly between 0 and 1, or the split
    /// would leave the train or the test side empty.
    pub fn train_test_split(
        &self,
        test_fraction: f64,
        seed: u64,
        stratified: bool,
    ) -> Result<(Dataset, Dataset)> {
        check_fraction(test_fraction)?;
        let n = self.len();
        let mut rng = ShuffleRng::seed_from_u64(seed);
        let mut in_test = vec![false; n];
        let groups: Vec<Vec<usize>> = if stratified {
            let mut by_class = vec![Vec::new(); self.n_classes];
            for (i, &l) in self.labels.iter().enumerate() {
                if let Some(g) = by_class.get_mut(l) {
                    g.push(i);
                }
            }
            by_class
        } else {
            vec![(0..n).collect()]
        };
        for mut group in groups {
            shuffle(&mut rng, &mut group);
            let k = ((test_fraction * group.len() as f64).round() as usize).min(group.len());
            for &i in &group[..k] {
                in_test[i] = true;
            }
        }
        let (train, test) = partition(in_test, test_fraction)?;
        Ok((self.subset(&train)?, self.subset(&test)?))
    }

    /// Horizontal partition: `parts` datasets of contiguous, near-equal blocks of rows (sizes
    /// differ by at most one, the first ones longer), as when each data owner holds some of the
    /// records. Concatenated in order they give back `self`.
    ///
    /// # Errors
    /// [`NnError::Dataset`] if `parts` is 0 or larger than the number of rows.
    pub fn split_rows(&self, parts: usize) -> Result<Vec<Dataset>> {
        if parts == 0 || parts > self.len() {
            return Err(NnError::Dataset(format!(
                "split_rows: cannot split {} rows into {parts} non-empty parts",
                self.len()
            )));
        }
        column_blocks(self.len(), parts)
            .into_iter()
            .map(|r| self.subset(&r.collect::<Vec<_>>()))
            .collect()
    }

    /// Vertical partition: the feature matrix cut into `parts` contiguous, near-equal blocks of
    /// columns ([`column_blocks`]), all over the same records in the same order, as when each
    /// data owner holds some features. The labels are not included (they stay with the caller).
    ///
    /// # Errors
    /// [`NnError::Dataset`] if `parts` is 0 or larger than the number of features.
    pub fn split_columns(&self, parts: usize) -> Result<Vec<Array2<f64>>> {
        let d = self.n_features();
        if parts == 0 || parts > d {
            return Err(NnError::Dataset(format!(
                "split_columns: cannot split {d} feature columns into {parts} non-empty parts"
            )));
        }
        Ok(column_blocks(d, parts)
            .into_iter()
            .map(|r| self.features.slice_axis(Axis(1), Slice::from(r)).to_owned())
            .collect())
    }

    /// The column ranges of [`Dataset::split_columns`]: same as the free function
    /// [`column_blocks`].
    pub fn column_blocks(d: usize, parts: usize) -> Vec<Range<usize>> {
        column_blocks(d, parts)
    }
}
