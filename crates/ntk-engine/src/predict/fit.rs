//! Fitting: the regularised train-train kernel, its eigendecomposition (every finite time)
//! and its Cholesky factor (`t = ∞`), each computed on first use, so that predictions at
//! `t = ∞` alone cost one Cholesky factorisation and triangular solves, and no
//! eigendecomposition; and the [`GradientFlow`] of an MSE problem built on them.

use std::sync::OnceLock;

use faer::{Mat, MatRef, Par};

use super::factored_eigen::FactoredEigen;
use super::linalg;
use super::{Matrix, validate};
use crate::error::{Error, Result};
use crate::parallel::Parallelism;

/// Settings shared by [`GradientFlow`] and [`Ensemble`](super::Ensemble).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FitOptions {
    /// Learning rate `η > 0`; the time enters only as `η·t`. Default 1.
    pub learning_rate: f64,
    /// Relative ridge `≥ 0`: the train-train kernel becomes `K + diag_reg·(tr K/n)·I`, in the
    /// eigendecomposition and in the Cholesky solve alike. Test kernels are not changed.
    /// Default 0.
    pub diag_reg: f64,
    /// Threads for the factorisations and products.
    pub parallelism: Parallelism,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            learning_rate: 1.0,
            diag_reg: 0.0,
            parallelism: Parallelism::default(),
        }
    }
}

/// `K + diag_reg·(tr K/n)·I`, factored: the part of a fit that every prediction reuses.
pub(crate) struct KernelFit {
    /// The regularised kernel.
    pub regularised: Mat<f64>,
    /// Its eigendecomposition in factored form, or what was expected of the kernel,
    /// computed on the first finite-time request.
    eigen: OnceLock<core::result::Result<FactoredEigen, String>>,
    /// The eigenvectors formed whole, for the ensemble's covariances only.
    vectors: OnceLock<Mat<f64>>,
    /// `η/N`: scaled time per unit of `t`.
    pub rate: f64,
    pub par: Par,
    /// The caller's threads, for the eigendecomposition's pool.
    parallelism: Parallelism,
    /// The Cholesky factor, or the first bad pivot, computed on the first `t = ∞` request.
    llt: OnceLock<core::result::Result<Mat<f64>, (f64, usize)>>,
}

impl KernelFit {
    /// Checks and factors the train-train kernel `what` for `n_outputs` targets per point.
    pub fn new(what: &str, k: &Matrix, n_outputs: usize, options: &FitOptions) -> Result<Self> {
        let n = validate::square(what, k)?;
        validate::scalar("learning_rate", options.learning_rate, 0.0, true)?;
        validate::scalar("diag_reg", options.diag_reg, 0.0, false)?;
        let mut regularised = k.to_faer();
        if options.diag_reg > 0.0 {
            let trace: f64 = (0..n).map(|i| regularised[(i, i)]).sum();
            let ridge = options.diag_reg * trace / n as f64;
            for i in 0..n {
                regularised[(i, i)] += ridge;
            }
        }
        let par = linalg::par(options.parallelism);
        Ok(KernelFit {
            regularised,
            eigen: OnceLock::new(),
            vectors: OnceLock::new(),
            parallelism: options.parallelism,
            rate: options.learning_rate / (n * n_outputs) as f64,
            par,
            llt: OnceLock::new(),
        })
    }

    /// Number of training points.
    pub fn n(&self) -> usize {
        self.regularised.nrows()
    }

    /// Scaled time `s = η t / N` (`∞` stays `∞`).
    pub fn scaled(&self, t: f64) -> f64 {
        if t.is_infinite() { t } else { self.rate * t }
    }

    /// The eigendecomposition of the regularised kernel in factored form (computed on first
    /// use, in the caller's pool).
    pub fn eigen(&self) -> Result<&FactoredEigen> {
        let n = self.n();
        let eigen = self.eigen.get_or_init(|| {
            self.parallelism
                .install(|| FactoredEigen::new(self.regularised.as_ref()))
                .unwrap_or_else(|e| Err(e.to_string()))
        });
        match eigen {
            Ok(e) => Ok(e),
            Err(expected) => Err(Error::invalid(
                "k_train_train",
                format!("{n}×{n} matrix"),
                expected.clone(),
            )),
        }
    }

    /// The eigenvectors `V`, formed whole on first use (only the ensemble's covariances need
    /// them; everything else applies them in factored form).
    pub fn vectors(&self) -> Result<&Mat<f64>> {
        let e = self.eigen()?;
        if let Some(v) = self.vectors.get() {
            return Ok(v);
        }
        let v = self.parallelism.install(|| e.vectors())?;
        Ok(self.vectors.get_or_init(|| v))
    }

    /// `φ(λ_i)` for every eigenvalue.
    pub fn spectrum(&self, phi: impl Fn(f64) -> f64) -> Result<Vec<f64>> {
        Ok(self.eigen()?.values.iter().map(|&l| phi(l)).collect())
    }

    /// Whether the eigenvalues are all positive with `λ_min > n·ε·λ_max`: then `V·Λ⁻¹·Vᵀ`
    /// is as accurate an inverse as the Cholesky solve (condition below `1/(n·ε)`), and a
    /// prediction that has the eigendecomposition anyway takes `t = ∞` from it, as
    /// neural-tangents does. Otherwise `t = ∞` goes through Cholesky, which names the
    /// first bad pivot of a kernel that is not positive definite.
    pub fn spectrum_inverts(&self) -> Result<bool> {
        let values = &self.eigen()?.values;
        let (lo, hi) = match (values.first(), values.last()) {
            (Some(&lo), Some(&hi)) => (lo, hi),
            _ => return Ok(false),
        };
        Ok(lo > 0.0 && lo > values.len() as f64 * f64::EPSILON * hi)
    }

    /// `Vᵀ·B`: coordinates in the eigenbasis.
    pub fn project(&self, b: MatRef<'_, f64>) -> Result<Mat<f64>> {
        let e = self.eigen()?;
        self.parallelism.install(|| e.project(b))
    }

    /// `V·diag(d)·C`: back from the eigenbasis, after scaling by `d`.
    pub fn unproject(&self, d: &[f64], c: MatRef<'_, f64>) -> Result<Mat<f64>> {
        self.unproject_stacked(&[d.to_vec()], c)
    }

    /// `[V·diag(d₀)·C, V·diag(d₁)·C, …]` side by side (`n × k·len(ds)`, block `i` in columns
    /// `i·k..(i+1)·k`), in one pass of `V` (one application of the reflectors for all).
    pub fn unproject_stacked(&self, ds: &[Vec<f64>], c: MatRef<'_, f64>) -> Result<Mat<f64>> {
        let e = self.eigen()?;
        let k = c.ncols();
        let stacked = Mat::from_fn(c.nrows(), k * ds.len(), |r, j| ds[j / k][r] * c[(r, j % k)]);
        self.parallelism.install(|| e.unproject(stacked.as_ref()))
    }

    /// `K_reg⁻¹·B` by Cholesky.
    pub fn solve(&self, b: MatRef<'_, f64>) -> Result<Mat<f64>> {
        let llt = self.llt.get_or_init(|| {
            linalg::cholesky(self.regularised.as_ref(), self.par).map_err(|e| match e {
                Error::NotPositiveDefinite { pivot, index } => (pivot, index),
                _ => (f64::NAN, 0),
            })
        });
        match llt {
            Ok(l) => Ok(linalg::cholesky_solve(l.as_ref(), b, self.par)),
            Err((pivot, index)) => Err(Error::NotPositiveDefinite {
                pivot: *pivot,
                index: *index,
            }),
        }
    }
}

/// Gradient flow of the MSE loss under a fixed kernel (the NTK for a wide network, or any
/// kernel): fitted once, evaluated at any list of times by
/// [`predict_train`](GradientFlow::predict_train) and
/// [`predict_test`](GradientFlow::predict_test).
///
/// The formulas are in the [module docs](super); neural-tangents' equivalent is
/// `nt.predict.gradient_descent_mse`.
pub struct GradientFlow {
    pub(crate) fit: KernelFit,
    /// Targets, `n_train × k`.
    pub(crate) y: Mat<f64>,
    /// The last residual `y − f_train(0)` projected on the eigenbasis, with its
    /// coordinates: train and test predictions from the same initial outputs share them.
    projected: std::sync::Mutex<Option<(Mat<f64>, Mat<f64>)>>,
}

impl std::fmt::Debug for GradientFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GradientFlow")
            .field("n_train", &self.n_train())
            .field("n_outputs", &self.n_outputs())
            .finish_non_exhaustive()
    }
}

impl GradientFlow {
    /// Checks the inputs, regularises `k_train_train` (`n × n`, symmetric: its lower
    /// triangle is read) and eigendecomposes it. `y_train` is `n × k`.
    ///
    /// Errors: a non-square, empty or non-finite kernel, targets whose row count is not
    /// `n` or with non-finite entries, a learning rate `≤ 0` or a negative `diag_reg`.
    pub fn fit(k_train_train: &Matrix, y_train: &Matrix, options: &FitOptions) -> Result<Self> {
        validate::finite("y_train", y_train)?;
        let fit = KernelFit::new("k_train_train", k_train_train, y_train.cols, options)?;
        validate::rows(
            "y_train",
            y_train,
            fit.n(),
            "n_train, the size of k_train_train",
        )?;
        Ok(GradientFlow {
            y: y_train.to_faer(),
            fit,
            projected: std::sync::Mutex::new(None),
        })
    }

    /// `Vᵀ·(y − f_train(0))`, computed once per distinct residual (the last one is kept;
    /// a repeated call returns the same bits it computed).
    pub(crate) fn coordinates(&self, residual: MatRef<'_, f64>) -> Result<Mat<f64>> {
        let mut last = self.projected.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((r, c)) = last.as_ref()
            && r.as_ref() == residual
        {
            return Ok(c.clone());
        }
        let c = self.fit.project(residual)?;
        *last = Some((residual.to_owned(), c.clone()));
        Ok(c)
    }

    /// Number of training points `n`.
    pub fn n_train(&self) -> usize {
        self.fit.n()
    }

    /// Number of outputs `k` (columns of `y_train`).
    pub fn n_outputs(&self) -> usize {
        self.y.ncols()
    }

    /// Eigenvalues of the regularised train-train kernel, ascending (the eigendecomposition
    /// is computed on the first call, or by the first finite-time prediction).
    ///
    /// Errors: an eigendecomposition that does not converge.
    pub fn eigenvalues(&self) -> Result<&[f64]> {
        Ok(&self.fit.eigen()?.values)
    }
}
