//! A [`Kernel`] on disk (`.npy`, through the engine's reader and atomic writer in
//! [`crate::data::npy`]) and as the [`Matrix`] the predictions take.

use std::path::Path;

use super::Kernel;
use crate::data::NpyFile;
use crate::data::npy::{self, Dtype};
use crate::error::{Error, Result};
use crate::predict::Matrix;

impl Kernel {
    /// Writes the kernel to `path` as a `.npy` of `f64` in its [`shape`](Kernel::shape)
    /// (`[n1, n2]`, or `[n1, n2, k, k]` for a full kernel), C order, atomically: the file
    /// appears only once complete. [`Kernel::load`] reads it back bit for bit; NumPy reads
    /// it with `np.load`.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let expected = self.n1 * self.n2 * self.k * self.k;
        if self.data.len() != expected {
            return Err(Error::DimensionMismatch {
                what: format!(
                    "values of the {}×{}×{}×{} kernel to save",
                    self.n1, self.n2, self.k, self.k
                ),
                expected,
                got: self.data.len(),
            });
        }
        npy::write(path, &self.shape(), self.data.iter().copied())
    }

    /// Reads a kernel from a `.npy` of `f32` or `f64`: a 2-D `[n1, n2]` array (a traced NTK
    /// or an NNGP, `k = 1`) or a 4-D `[n1, n2, k, k]` full kernel. `f32` values are widened
    /// exactly. Errors name the file: a missing or malformed file, an integer dtype, another
    /// shape, or a non-finite value.
    pub fn load(path: impl AsRef<Path>) -> Result<Kernel> {
        let file = NpyFile::open(path.as_ref())?;
        if !matches!(file.dtype(), Dtype::F32 | Dtype::F64) {
            return Err(Error::npy(
                file.path(),
                format!(
                    "dtype {:?}: expected a float32 or float64 kernel",
                    file.dtype()
                ),
            ));
        }
        let (n1, n2, k) = match *file.shape() {
            [n1, n2] => (n1, n2, 1),
            [n1, n2, a, b] if a == b && a > 0 => (n1, n2, a),
            ref s => {
                return Err(Error::npy(
                    file.path(),
                    format!("shape {s:?}: expected [n1, n2] or [n1, n2, k, k] (a kernel)"),
                ));
            }
        };
        let data = file.to_f64_vec();
        let row = n2 * k * k;
        if let Some(p) = data.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite {
                what: file.path().display().to_string(),
                row: p / row.max(1),
                col: p % row.max(1),
                value: data[p],
            });
        }
        Ok(Kernel { n1, n2, k, data })
    }
}

impl AsRef<[f64]> for Kernel {
    /// The values in storage order, index `((i·n2 + j)·k + a)·k + b`.
    fn as_ref(&self) -> &[f64] {
        &self.data
    }
}

/// The kernel as a matrix, without loss: a traced kernel (`k = 1`) is the `n1 × n2` matrix
/// itself (its values moved, not copied); a full kernel becomes the `(n1·k) × (n2·k)`
/// matrix with entry `(i·k + a, j·k + b) = Θ[i, j, a, b]`, the kernel of the flattened
/// outputs (row `i·k + a` is output `a` of point `i`, the order of a row-major `n × k`
/// target matrix).
impl From<Kernel> for Matrix {
    fn from(kernel: Kernel) -> Matrix {
        if kernel.k == 1 {
            return Matrix {
                rows: kernel.n1,
                cols: kernel.n2,
                data: kernel.data,
            };
        }
        Matrix::from(&kernel)
    }
}

/// As `From<Kernel>`, copying the values.
impl From<&Kernel> for Matrix {
    fn from(kernel: &Kernel) -> Matrix {
        let k = kernel.k;
        Matrix::from_fn(kernel.n1 * k, kernel.n2 * k, |r, c| {
            kernel.get(r / k, c / k, r % k, c % k)
        })
    }
}

/// A matrix as a traced kernel (`k = 1`), `n1 × n2` = `rows × cols`, values moved.
impl From<Matrix> for Kernel {
    fn from(m: Matrix) -> Kernel {
        Kernel {
            n1: m.rows,
            n2: m.cols,
            k: 1,
            data: m.data,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(n1: usize, n2: usize, k: usize) -> Kernel {
        let data = (0..n1 * n2 * k * k)
            .map(|v| (v as f64).sin() / 3.0)
            .collect();
        Kernel { n1, n2, k, data }
    }

    #[test]
    fn save_then_load_is_exact_for_traced_and_full_kernels() {
        let dir = tempfile::tempdir().unwrap();
        for kernel in [full(3, 5, 1), full(2, 3, 4)] {
            let p = dir.path().join(format!("k{}.npy", kernel.k));
            kernel.save(&p).unwrap();
            let back = Kernel::load(&p).unwrap();
            assert_eq!(back, kernel);
            assert_eq!(NpyFile::open(&p).unwrap().shape(), kernel.shape());
        }
    }

    #[test]
    fn load_refuses_what_is_not_a_kernel() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.npy");
        npy::write(&p, &[4], [1.0f64, 2.0, 3.0, 4.0]).unwrap();
        let e = Kernel::load(&p).unwrap_err().to_string();
        assert!(e.contains("v.npy") && e.contains("[4]"), "{e}");
        let q = dir.path().join("nan.npy");
        npy::write(&q, &[2, 2], [1.0f32, f32::NAN, 0.0, 1.0]).unwrap();
        let e = Kernel::load(&q).unwrap_err().to_string();
        assert!(
            e.contains("nan.npy") && e.contains("row 0, column 1"),
            "{e}"
        );
        let r = dir.path().join("k.npy");
        npy::write(&r, &[2, 2, 2, 3], (0..24).map(|v| v as f64)).unwrap();
        assert!(Kernel::load(&r).is_err());
        assert!(Kernel::load(dir.path().join("missing.npy")).is_err());
        let bad = Kernel {
            n1: 2,
            n2: 2,
            k: 1,
            data: vec![0.0; 3],
        };
        assert!(bad.save(dir.path().join("bad.npy")).is_err());
        assert!(!dir.path().join("bad.npy").exists());
    }

    #[test]
    fn conversions_keep_every_value() {
        let traced = full(3, 4, 1);
        let m = Matrix::from(traced.clone());
        assert_eq!((m.rows, m.cols), (3, 4));
        assert_eq!(m.data, traced.data);
        assert_eq!(Kernel::from(m), traced);
        let f = full(2, 3, 2);
        let m = Matrix::from(f.clone());
        assert_eq!((m.rows, m.cols), (4, 6));
        for (i, j, a, b) in [(0, 0, 0, 0), (1, 2, 1, 0), (0, 1, 1, 1), (1, 0, 0, 1)] {
            assert_eq!(m.get(i * 2 + a, j * 2 + b), f.get(i, j, a, b));
        }
        let mut sorted_m = m.data.clone();
        let mut sorted_f = f.data.clone();
        sorted_m.sort_by(f64::total_cmp);
        sorted_f.sort_by(f64::total_cmp);
        assert_eq!(sorted_m, sorted_f);
    }
}
