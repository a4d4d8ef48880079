//! The IDX format of MNIST and Fashion-MNIST, plain or gzip-compressed.
//!
//! An IDX file is a 4-byte magic `0x00 0x00 TYPE NDIMS`, then `NDIMS` big-endian `u32`
//! dimensions, then the elements in row-major order. Only the unsigned byte type (`0x08`) is
//! supported, which is what (Fashion-)MNIST uses. Whether a file is gzip-compressed is detected
//! from its first two bytes (`0x1f 0x8b`), not from its name.
//!
//! The header's declared size is checked against the file before any buffer of that size is
//! allocated: against the file's length for a plain file, and by reading at most the declared
//! number of bytes (plus one, to detect trailing data) for a compressed one.

use super::Dataset;
use crate::{NnError, Result};
use flate2::Compression;
use flate2::bufread::MultiGzDecoder;
use flate2::write::GzEncoder;
use ndarray::{Array1, Array2};
use std::fs::File;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

/// Where Debian's `dataset-fashion-mnist` package installs the Fashion-MNIST files.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// The ten Fashion-MNIST class names, by label.
pub const FASHION_MNIST_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// The IDX type code of unsigned bytes.
const TYPE_U8: u8 = 0x08;

/// The gzip magic.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// An IDX array: its dimensions and its elements in row-major order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// The dimensions, outermost first (e.g. `[n, 28, 28]` for images, `[n]` for labels).
    pub dims: Vec<usize>,
    /// The `dims.iter().product()` elements, row-major.
    pub data: Vec<u8>,
}

/// A [`NnError::Idx`].
fn idx_err(path: &Path, detail: impl Into<String>) -> NnError {
    NnError::Idx {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

/// A [`NnError::Io`].
fn io_err(path: &Path, source: std::io::Error) -> NnError {
    NnError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Maps a read error: an early end is a truncated file, a decoding error a corrupt stream.
fn read_err(path: &Path, gz: bool, what: &str, e: std::io::Error) -> NnError {
    match e.kind() {
        ErrorKind::UnexpectedEof => {
            idx_err(path, format!("truncated: the file ends inside {what}"))
        }
        ErrorKind::InvalidData | ErrorKind::InvalidInput if gz => idx_err(
            path,
            format!("corrupt gzip stream while reading {what}: {e}"),
        ),
        _ => io_err(path, e),
    }
}

/// The name of an IDX element type.
fn type_name(code: u8) -> Option<&'static str> {
    match code {
        0x08 => Some("unsigned byte"),
        0x09 => Some("signed byte"),
        0x0B => Some("16-bit integer"),
        0x0C => Some("32-bit integer"),
        0x0D => Some("32-bit float"),
        0x0E => Some("64-bit float"),
        _ => None,
    }
}

/// Reads an IDX file of unsigned bytes, plain or gzip-compressed.
///
/// # Errors
/// [`NnError::Io`] if the file cannot be opened or read; [`NnError::Idx`] if the magic's first
/// two bytes are not zero, the element type is not `0x08`, there are no dimensions, the
/// dimensions' product overflows, the file is truncated (in the header or the data), it has
/// bytes past the declared data, or its gzip stream is corrupt.
pub fn read_idx(path: &Path) -> Result<IdxArray> {
    let file = File::open(path).map_err(|e| io_err(path, e))?;
    let file_len = file.metadata().map_err(|e| io_err(path, e))?.len();
    let mut buffered = BufReader::new(file);
    let gz = buffered
        .fill_buf()
        .map_err(|e| io_err(path, e))?
        .starts_with(&GZIP_MAGIC);
    let mut reader: Box<dyn Read> = if gz {
        Box::new(MultiGzDecoder::new(buffered))
    } else {
        Box::new(buffered)
    };

    let mut magic = [0u8; 4];
    reader
        .read_exact(&mut magic)
        .map_err(|e| read_err(path, gz, "the 4-byte magic", e))?;
    if magic[0] != 0 || magic[1] != 0 {
        return Err(idx_err(
            path,
            format!(
                "bad magic {:02x} {:02x} {:02x} {:02x}: the first two bytes must be zero",
                magic[0], magic[1], magic[2], magic[3]
            ),
        ));
    }
    if magic[2] != TYPE_U8 {
        return Err(idx_err(
            path,
            match type_name(magic[2]) {
                Some(name) => format!(
                    "element type 0x{:02x} ({name}) is not supported; only 0x08 (unsigned byte) is",
                    magic[2]
                ),
                None => format!("unknown element type 0x{:02x}", magic[2]),
            },
        ));
    }
    let ndims = usize::from(magic[3]);
    if ndims == 0 {
        return Err(idx_err(path, "the header declares zero dimensions"));
    }
    let mut dim_bytes = vec![0u8; 4 * ndims];
    reader
        .read_exact(&mut dim_bytes)
        .map_err(|e| read_err(path, gz, "the dimensions", e))?;
    let dims: Vec<usize> = dim_bytes
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let len = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| idx_err(path, format!("dimensions {dims:?} overflow")))?;
    let header_len = 4 + 4 * ndims as u64;

    if !gz {
        let expected = header_len + len as u64;
        if file_len < expected {
            return Err(idx_err(
                path,
                format!(
                    "truncated: dimensions {dims:?} need {len} data bytes but the file holds \
                     only {}",
                    file_len.saturating_sub(header_len)
                ),
            ));
        }
        if file_len > expected {
            return Err(idx_err(
                path,
                format!(
                    "{} bytes past the {len} data bytes of dimensions {dims:?}",
                    file_len - expected
                ),
            ));
        }
    }
    // Never trust the header for the allocation: read at most len + 1 bytes, growing as they
    // arrive.
    let mut data = Vec::new();
    reader
        .take(len as u64 + 1)
        .read_to_end(&mut data)
        .map_err(|e| read_err(path, gz, "the data", e))?;
    if data.len() < len {
        return Err(idx_err(
            path,
            format!(
                "truncated: dimensions {dims:?} need {len} data bytes but the file holds only {}",
                data.len()
            ),
        ));
    }
    if data.len() > len {
        return Err(idx_err(
            path,
            format!("bytes past the {len} data bytes of dimensions {dims:?}"),
        ));
    }
    Ok(IdxArray { dims, data })
}

/// Writes an IDX file of unsigned bytes with dimensions `dims`, gzip-compressed if `gzip`.
///
/// # Errors
/// [`NnError::Idx`] if `dims` is empty, has more than 255 entries or one above `u32::MAX`, or
/// its product is not `data.len()`; [`NnError::Io`] if the file cannot be written.
pub fn write_idx(path: &Path, dims: &[usize], data: &[u8], gzip: bool) -> Result<()> {
    let ndims = u8::try_from(dims.len())
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| {
            idx_err(
                path,
                format!("{} dimensions; IDX needs 1 to 255", dims.len()),
            )
        })?;
    let product = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    if product != Some(data.len()) {
        return Err(idx_err(
            path,
            format!("dimensions {dims:?} do not hold {} bytes", data.len()),
        ));
    }
    let mut bytes = vec![0, 0, TYPE_U8, ndims];
    for &d in dims {
        let d = u32::try_from(d)
            .map_err(|_| idx_err(path, format!("dimension {d} does not fit in 32 bits")))?;
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(data);
    let file = File::create(path).map_err(|e| io_err(path, e))?;
    if gzip {
        let mut enc = GzEncoder::new(file, Compression::default());
        enc.write_all(&bytes).map_err(|e| io_err(path, e))?;
        enc.finish()
            .and_then(|mut f| f.flush())
            .map_err(|e| io_err(path, e))
    } else {
        let mut f = file;
        f.write_all(&bytes)
            .and_then(|()| f.flush())
            .map_err(|e| io_err(path, e))
    }
}

/// A dataset from an IDX file of images and one of labels (MNIST layout).
///
/// The images file has dimensions `n x rows x cols` (or more generally `n x ...`); each image
/// is flattened row-major into one record of `rows * cols` features scaled to `[0, 1]` by
/// `/ 255`, named `pixel_{row}_{col}` (`x0, x1, ...` when the images are not 2-D). The labels
/// file has dimensions `n`; `n_classes` is the larger of 10 and the largest label plus one, and
/// the class names are `"0"`, `"1"`, .... With `limit`, only the first `limit` records are kept
/// (all of them if there are fewer).
///
/// # Errors
/// As [`read_idx`] for either file; [`NnError::Idx`] if the images file has fewer than two
/// dimensions, the labels file has not exactly one, their record counts differ, the images
/// have no pixels, or there are no records (or `limit` is `Some(0)`).
pub fn load_idx_dataset(images: &Path, labels: &Path, limit: Option<usize>) -> Result<Dataset> {
    let (img, lab) = read_pair(images, labels, limit)?;
    let (n, d) = (lab.dims[0], img.data.len() / img.dims[0].max(1));
    let feature_names = pixel_names(&img.dims);
    let n_classes = lab
        .data
        .iter()
        .map(|&l| usize::from(l) + 1)
        .max()
        .unwrap_or(0)
        .max(10);
    build(
        &img,
        &lab,
        (n, d),
        n_classes,
        feature_names,
        (0..n_classes).map(|c| c.to_string()).collect(),
    )
}

/// Reads and checks a pair of image and label files, truncated to `limit` records.
fn read_pair(images: &Path, labels: &Path, limit: Option<usize>) -> Result<(IdxArray, IdxArray)> {
    let mut img = read_idx(images)?;
    let mut lab = read_idx(labels)?;
    if img.dims.len() < 2 {
        return Err(idx_err(
            images,
            format!(
                "images need at least 2 dimensions (n x features), got {:?}",
                img.dims
            ),
        ));
    }
    if lab.dims.len() != 1 {
        return Err(idx_err(
            labels,
            format!("labels need exactly 1 dimension, got {:?}", lab.dims),
        ));
    }
    if img.dims[0] != lab.dims[0] {
        return Err(idx_err(
            labels,
            format!(
                "{} labels but {} holds {} images",
                lab.dims[0],
                images.display(),
                img.dims[0]
            ),
        ));
    }
    let n = limit.map_or(img.dims[0], |l| l.min(img.dims[0]));
    if n == 0 {
        return Err(idx_err(
            images,
            if img.dims[0] == 0 {
                "the file holds no records".to_string()
            } else {
                "limit 0 keeps no records".to_string()
            },
        ));
    }
    let d = img.data.len() / img.dims[0];
    if d == 0 {
        return Err(idx_err(
            images,
            format!("images of dimensions {:?} have no pixels", img.dims),
        ));
    }
    img.data.truncate(n * d);
    img.dims[0] = n;
    lab.data.truncate(n);
    lab.dims[0] = n;
    Ok((img, lab))
}

/// `pixel_{r}_{c}` names for `n x rows x cols` images, else empty (the default `x0, ...`).
fn pixel_names(dims: &[usize]) -> Vec<String> {
    match dims {
        [_, rows, cols] => (0..*rows)
            .flat_map(|r| (0..*cols).map(move |c| format!("pixel_{r}_{c}")))
            .collect(),
        _ => Vec::new(),
    }
}

/// The dataset of checked images and labels.
fn build(
    img: &IdxArray,
    lab: &IdxArray,
    (n, d): (usize, usize),
    n_classes: usize,
    feature_names: Vec<String>,
    class_names: Vec<String>,
) -> Result<Dataset> {
    let features = Array2::from_shape_vec(
        (n, d),
        img.data.iter().map(|&p| f64::from(p) / 255.0).collect(),
    )
    .map_err(|e| NnError::Dataset(format!("IDX images: {e}")))?;
    let labels = Array1::from_iter(lab.data.iter().map(|&l| usize::from(l)));
    Dataset::new(features, labels, n_classes, feature_names, class_names)
}

/// `dir/name`, or `dir/name.gz` if only that exists.
fn find_file(dir: &Path, name: &str) -> Result<PathBuf> {
    let plain = dir.join(name);
    let gz = dir.join(format!("{name}.gz"));
    if plain.is_file() {
        Ok(plain)
    } else if gz.is_file() {
        Ok(gz)
    } else {
        Err(NnError::Io {
            path: gz,
            source: std::io::Error::new(
                ErrorKind::NotFound,
                format!(
                    "neither {name} nor {name}.gz found in {} (Debian's dataset-fashion-mnist \
                     package installs them in {FASHION_MNIST_DIR})",
                    dir.display()
                ),
            ),
        })
    }
}

/// Fashion-MNIST from `dir` (e.g. [`FASHION_MNIST_DIR`]): the training set
/// (`train-images-idx3-ubyte` and `train-labels-idx1-ubyte`, 60000 images) if `train`, else
/// the test set (`t10k-...`, 10000 images), each file plain or with a `.gz` suffix. Records are
/// 28 x 28 images flattened to 784 features in `[0, 1]`; `class_names` are
/// [`FASHION_MNIST_CLASSES`]. `limit` keeps the first records, as in [`load_idx_dataset`].
///
/// # Errors
/// [`NnError::Io`] if a file is missing or unreadable; as [`load_idx_dataset`]; and
/// [`NnError::Idx`] if a label is 10 or more.
pub fn fashion_mnist(dir: &Path, train: bool, limit: Option<usize>) -> Result<Dataset> {
    let prefix = if train { "train" } else { "t10k" };
    let images = find_file(dir, &format!("{prefix}-images-idx3-ubyte"))?;
    let labels = find_file(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
    let (img, lab) = read_pair(&images, &labels, limit)?;
    if let Some((i, &l)) = lab.data.iter().enumerate().find(|&(_, &l)| l >= 10) {
        return Err(idx_err(
            &labels,
            format!("label {l} of record {i} is not a Fashion-MNIST class (0 to 9)"),
        ));
    }
    let (n, d) = (lab.dims[0], img.data.len() / img.dims[0]);
    build(
        &img,
        &lab,
        (n, d),
        10,
        pixel_names(&img.dims),
        FASHION_MNIST_CLASSES
            .iter()
            .map(|s| s.to_string())
            .collect(),
    )
}
