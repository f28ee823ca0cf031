//! A small owned row-major `f64` matrix: what the prediction API takes and returns, so that
//! callers (notebooks, the CLI) never hold linear-algebra library types.

use faer::{Mat, MatRef};
use rayon::prelude::*;

use crate::error::{Error, Result};

/// A dense row-major matrix of `f64`: entry `(i, j)` is `data[i * cols + j]`.
///
/// The fields are public for easy construction and inspection; every routine that takes a
/// `Matrix` checks that `data.len() == rows * cols`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Matrix {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// The entries, row after row.
    pub data: Vec<f64>,
}

impl Matrix {
    /// A `rows × cols` matrix from row-major values; fails when the length disagrees.
    pub fn new(rows: usize, cols: usize, data: Vec<f64>) -> Result<Self> {
        let m = Matrix { rows, cols, data };
        m.check_len("matrix")?;
        Ok(m)
    }

    /// The `rows × cols` zero matrix.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Matrix {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    /// A matrix whose entry `(i, j)` is `f(i, j)`.
    pub fn from_fn(rows: usize, cols: usize, mut f: impl FnMut(usize, usize) -> f64) -> Self {
        let mut data = Vec::with_capacity(rows * cols);
        for i in 0..rows {
            for j in 0..cols {
                data.push(f(i, j));
            }
        }
        Matrix { rows, cols, data }
    }

    /// A column vector (`n × 1`), e.g. the targets of a single-output problem.
    pub fn column(data: Vec<f64>) -> Self {
        Matrix {
            rows: data.len(),
            cols: 1,
            data,
        }
    }

    /// `(rows, cols)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// Entry `(i, j)`.
    ///
    /// # Panics
    /// When `i ≥ rows` or `j ≥ cols`.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        assert!(
            i < self.rows && j < self.cols,
            "index ({i}, {j}) out of range"
        );
        self.data[i * self.cols + j]
    }

    /// Row `i` as a slice.
    ///
    /// # Panics
    /// When `i ≥ rows`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// The transpose.
    pub fn transpose(&self) -> Matrix {
        Matrix::from_fn(self.cols, self.rows, |i, j| self.data[j * self.cols + i])
    }

    /// Fails with a [`Error::DimensionMismatch`] naming `what` when the length of `data`
    /// is not `rows * cols`.
    pub(crate) fn check_len(&self, what: &str) -> Result<()> {
        let want = self.rows.checked_mul(self.cols);
        if want != Some(self.data.len()) {
            return Err(Error::DimensionMismatch {
                what: format!(
                    "{what}: number of values of a {}×{} matrix",
                    self.rows, self.cols
                ),
                expected: want.unwrap_or(usize::MAX),
                got: self.data.len(),
            });
        }
        Ok(())
    }

    /// A column-major copy for the linear algebra.
    pub(crate) fn to_faer(&self) -> Mat<f64> {
        // A transposing copy in blocks of 64 × 64 (both sides stay in cache), columns of
        // blocks in parallel: a copy, so nothing depends on the threads.
        const B: usize = 64;
        let (rows, cols) = (self.rows, self.cols);
        let mut m = Mat::<f64>::zeros(rows, cols);
        m.as_mut()
            .par_col_chunks_mut(B)
            .enumerate()
            .for_each(|(cb, mut block)| {
                let j0 = cb * B;
                for i0 in (0..rows).step_by(B) {
                    for j in 0..block.ncols() {
                        let col = block
                            .as_mut()
                            .col_mut(j)
                            .try_as_col_major_mut()
                            .expect("faer columns are contiguous")
                            .as_slice_mut();
                        for (i, dst) in col.iter_mut().enumerate().skip(i0).take(B) {
                            *dst = self.data[i * cols + j0 + j];
                        }
                    }
                }
            });
        m
    }

    /// A row-major copy of a faer matrix.
    pub(crate) fn from_faer(m: MatRef<'_, f64>) -> Matrix {
        Matrix::from_fn(m.nrows(), m.ncols(), |i, j| m[(i, j)])
    }
}

impl AsRef<[f64]> for Matrix {
    /// The entries, row after row.
    fn as_ref(&self) -> &[f64] {
        &self.data
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn construction_access_and_transpose() {
        let m = Matrix::new(2, 3, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        assert_eq!(m.get(1, 0), 4.0);
        assert_eq!(m.row(0), &[1.0, 2.0, 3.0]);
        let t = m.transpose();
        assert_eq!(t.shape(), (3, 2));
        assert_eq!(t.get(2, 1), 6.0);
        assert_eq!(Matrix::from_faer(m.to_faer().as_ref()), m);
        assert!(Matrix::new(2, 2, vec![0.0; 3]).is_err());
    }

    /// The blocked copy puts every entry where the entry-by-entry one does, for shapes
    /// around and across the block edge.
    #[test]
    fn faer_copy_is_the_same_matrix() {
        for (r, c) in [(0, 0), (1, 1), (3, 70), (64, 64), (65, 129), (200, 7)] {
            let m = Matrix::from_fn(r, c, |i, j| (i * 1000 + j) as f64);
            let f = m.to_faer();
            assert_eq!((f.nrows(), f.ncols()), (r, c));
            for i in 0..r {
                for j in 0..c {
                    assert_eq!(f[(i, j)], m.get(i, j), "({i}, {j}) of {r} × {c}");
                }
            }
        }
    }
}
