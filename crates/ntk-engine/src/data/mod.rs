//! Data in and out: `.npy` files ([`npy`]) and the borrowed input matrices the kernels take
//! ([`Points`]).

pub mod bus_guard;
pub mod dataset;
#[doc(hidden)] // The out-of-core writer's file; tests and the fuzzer read it directly.
pub mod kernel_file;
pub mod mapped_kernel;
pub mod npy;
pub mod safe_file;

use std::borrow::Cow;

use faer::Mat;

use crate::error::{Error, Result};
use crate::scalar::Real;
pub use dataset::Dataset;
pub use npy::NpyFile;

/// The values of a [`Points`] matrix, borrowed from a memory map when possible.
#[derive(Clone, Debug)]
pub enum PointValues<'a> {
    /// Single precision.
    F32(Cow<'a, [f32]>),
    /// Double precision.
    F64(Cow<'a, [f64]>),
}

/// `n` input points of dimension `d`, row-major, all finite.
#[derive(Clone, Debug)]
pub struct Points<'a> {
    rows: usize,
    cols: usize,
    values: PointValues<'a>,
}

fn check_finite<T: Real>(what: &str, v: &[T], cols: usize) -> Result<()> {
    match v.iter().position(|x| !x.is_finite()) {
        None => Ok(()),
        Some(p) => Err(Error::NonFinite {
            what: what.into(),
            row: p / cols,
            col: p % cols,
            value: v[p].f64(),
        }),
    }
}

impl<'a> Points<'a> {
    fn new(what: &str, rows: usize, cols: usize, values: PointValues<'a>) -> Result<Self> {
        if rows == 0 || cols == 0 {
            return Err(Error::invalid(
                what,
                format!("{rows}×{cols} matrix"),
                "at least one row and one column",
            ));
        }
        let len = match &values {
            PointValues::F32(v) => v.len(),
            PointValues::F64(v) => v.len(),
        };
        if len != rows * cols {
            return Err(Error::DimensionMismatch {
                what: format!("{what}: number of values for {rows}×{cols}"),
                expected: rows * cols,
                got: len,
            });
        }
        match &values {
            PointValues::F32(v) => check_finite(what, v, cols)?,
            PointValues::F64(v) => check_finite(what, v, cols)?,
        }
        Ok(Points { rows, cols, values })
    }

    /// Borrows a row-major `f64` matrix; fails on a size mismatch or a non-finite value.
    pub fn from_f64(values: &'a [f64], rows: usize, cols: usize) -> Result<Self> {
        Self::new(
            "points",
            rows,
            cols,
            PointValues::F64(Cow::Borrowed(values)),
        )
    }

    /// Borrows a row-major `f32` matrix; fails on a size mismatch or a non-finite value.
    pub fn from_f32(values: &'a [f32], rows: usize, cols: usize) -> Result<Self> {
        Self::new(
            "points",
            rows,
            cols,
            PointValues::F32(Cow::Borrowed(values)),
        )
    }

    /// The 2-D array of a `.npy` file, in place when the payload is aligned. Integer files
    /// are converted to `f64`.
    pub fn from_npy(file: &'a NpyFile) -> Result<Self> {
        let (rows, cols) = file.expect_2d()?;
        let what = file.path().display().to_string();
        let values = match (file.as_f32(), file.as_f64(), file.dtype()) {
            (Some(v), _, _) => PointValues::F32(Cow::Borrowed(v)),
            (_, Some(v), _) => PointValues::F64(Cow::Borrowed(v)),
            (_, _, npy::Dtype::F32) => PointValues::F32(Cow::Owned(
                file.to_f64_vec().into_iter().map(|v| v as f32).collect(),
            )),
            _ => PointValues::F64(Cow::Owned(file.to_f64_vec())),
        };
        Self::new(&what, rows, cols, values)
    }

    /// Number of points `n`.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Dimension `d`.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The values.
    pub fn values(&self) -> &PointValues<'a> {
        &self.values
    }

    /// Entry `(i, j)` in `f64`.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        match &self.values {
            PointValues::F32(v) => v[i * self.cols + j] as f64,
            PointValues::F64(v) => v[i * self.cols + j],
        }
    }

    /// Rows `lo..hi` as an owned column-major matrix in `T`.
    pub fn to_mat<T: Real>(&self, lo: usize, hi: usize) -> Mat<T> {
        let d = self.cols;
        match &self.values {
            PointValues::F32(v) => {
                Mat::from_fn(hi - lo, d, |i, j| T::of(v[(lo + i) * d + j] as f64))
            }
            PointValues::F64(v) => Mat::from_fn(hi - lo, d, |i, j| T::of(v[(lo + i) * d + j])),
        }
    }

    /// The whole matrix in `f64`, row-major.
    pub fn to_f64_vec(&self) -> Vec<f64> {
        match &self.values {
            PointValues::F32(v) => v.iter().map(|&x| x as f64).collect(),
            PointValues::F64(v) => v.to_vec(),
        }
    }
}
