//! The infinite ensemble: infinitely many infinitely wide networks, initialised from the
//! NNGP prior `f(0) ~ GP(0, K)` and trained by gradient flow on the MSE loss. Their outputs
//! at time `t` are Gaussian with closed-form mean and covariance (Lee et al. 2019; NT's
//! `gradient_descent_mse_ensemble`).
//!
//! Notation: `K` is the NNGP kernel, `Θ` the NTK; `K_g` the training kernel (`Θ` or `K`)
//! with `diag_reg` applied; `K` alone is the **unregularised** NNGP train-train kernel;
//! `s = η t / N`, `N = n_train·k`; `A(t) = K_g⁻¹(I − e^{−s K_g})`, evaluated in the
//! eigenbasis of `K_g` with the same clipping as the gradient flow.
//!
//! ```text
//! mean_test  = K_g,test,train · A(t) · y              mean_train = (I − e^{−s K_g}) · y
//! NNGP (K_g = K_reg):
//!   cov_test  = K_test,test − K_test,train K_g⁻¹(I − e^{−2s K_g}) K_train,test
//!   cov_train = K_g e^{−2s K_g}
//! NTK (K_g = Θ_reg), T1 = A(t)·Θ_train,test, T2 = Θ_test,train·A(t)·K_train,test:
//!   cov_test  = T1ᵀ K T1 + K_test,test − T2 − T2ᵀ
//!   cov_train = e^{−s Θ_reg} K e^{−s Θ_reg}
//! ```
//!
//! At `t = ∞` the exponentials vanish and `K_g⁻¹` is applied by Cholesky: the train mean is
//! `y` and the train covariance 0; for the NNGP the test moments are the Gaussian-process
//! posterior (exact Bayesian inference).

use faer::Mat;

use super::fit::{FitOptions, KernelFit};
use super::linalg;
use super::{Matrix, validate};
use crate::error::{Error, Result};

/// A Gaussian over the outputs at one time: `mean` is `n × k`, `covariance` `n × n` (shared
/// by the `k` independent output columns).
#[derive(Clone, Debug, PartialEq)]
pub struct Gaussian {
    /// The mean, `n × k`.
    pub mean: Matrix,
    /// The covariance between points, `n × n`.
    pub covariance: Matrix,
}

/// The test-point kernels an ensemble prediction needs.
#[derive(Clone, Copy, Debug)]
pub struct TestKernels<'a> {
    /// NNGP between test and training points, `n_test × n_train`.
    pub nngp_test_train: &'a Matrix,
    /// NNGP among test points, `n_test × n_test`.
    pub nngp_test_test: &'a Matrix,
    /// NTK between test and training points, `n_test × n_train`; required by an
    /// [`Ensemble::ntk`], ignored by an [`Ensemble::nngp`].
    pub ntk_test_train: Option<&'a Matrix>,
}

/// An infinite ensemble, fitted: the training kernel factored once, predictions at any
/// times on the training set ([`predict_train`](Ensemble::predict_train)) and on test
/// points ([`predict_test`](Ensemble::predict_test)).
pub struct Ensemble {
    fit: KernelFit,
    /// `Vᵀ K V`: the unregularised NNGP train-train kernel in the eigenbasis of `Θ_reg`
    /// (NTK training only).
    nngp_eig: Option<Mat<f64>>,
    /// `K`, unregularised (NTK training only).
    nngp: Option<Mat<f64>>,
    y: Mat<f64>,
}

impl std::fmt::Debug for Ensemble {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ensemble")
            .field("kernel", &if self.is_ntk() { "ntk" } else { "nngp" })
            .field("n_train", &self.fit.n())
            .field("n_outputs", &self.y.ncols())
            .finish_non_exhaustive()
    }
}

impl Ensemble {
    /// Training with the NNGP itself (`K_g = K + diag_reg·(tr K/n)·I`).
    ///
    /// Errors: a kernel that is not square, empty or finite; `y_train` not `n × k` or not
    /// finite; a learning rate `≤ 0` or a negative `diag_reg`.
    pub fn nngp(nngp_train_train: &Matrix, y_train: &Matrix, options: &FitOptions) -> Result<Self> {
        validate::finite("y_train", y_train)?;
        let fit = KernelFit::new("nngp_train_train", nngp_train_train, y_train.cols, options)?;
        validate::rows(
            "y_train",
            y_train,
            fit.n(),
            "n_train, the size of the kernels",
        )?;
        Ok(Ensemble {
            fit,
            nngp_eig: None,
            nngp: None,
            y: y_train.to_faer(),
        })
    }

    /// Training with the NTK (`K_g = Θ + diag_reg·(tr Θ/n)·I`) from the NNGP prior `K`.
    ///
    /// Errors: as [`Ensemble::nngp`], and the two kernels of different sizes.
    pub fn ntk(
        nngp_train_train: &Matrix,
        ntk_train_train: &Matrix,
        y_train: &Matrix,
        options: &FitOptions,
    ) -> Result<Self> {
        validate::finite("y_train", y_train)?;
        let fit = KernelFit::new("ntk_train_train", ntk_train_train, y_train.cols, options)?;
        let n = fit.n();
        validate::square("nngp_train_train", nngp_train_train)?;
        validate::rows(
            "nngp_train_train",
            nngp_train_train,
            n,
            "n_train, the size of ntk_train_train",
        )?;
        validate::rows("y_train", y_train, n, "n_train, the size of the kernels")?;
        let k = nngp_train_train.to_faer();
        let v = fit.vectors()?.as_ref();
        let vk = linalg::mul(v.transpose(), k.as_ref(), fit.par);
        let nngp_eig = linalg::mul(vk.as_ref(), v, fit.par);
        Ok(Ensemble {
            fit,
            nngp_eig: Some(nngp_eig),
            nngp: Some(k),
            y: y_train.to_faer(),
        })
    }

    fn is_ntk(&self) -> bool {
        self.nngp.is_some()
    }

    /// Mean (`n_train × k`) and covariance (`n_train × n_train`) of the outputs on the
    /// training points at each of `times`, in order.
    ///
    /// Errors: a time that is negative or NaN.
    pub fn predict_train(&self, times: &[f64]) -> Result<Vec<Gaussian>> {
        validate::times(times)?;
        let (fit, n) = (&self.fit, self.fit.n());
        let coords = fit.project(self.y.as_ref())?;
        let vt = fit.vectors()?.transpose();
        times
            .iter()
            .map(|&t| {
                if t.is_infinite() {
                    return Ok(Gaussian {
                        mean: Matrix::from_faer(self.y.as_ref()),
                        covariance: Matrix::zeros(n, n),
                    });
                }
                let s = fit.scaled(t);
                let fitted = fit.spectrum(|l| -linalg::expm1_decay(l, s))?;
                let mean = fit.unproject(&fitted, coords.as_ref())?;
                let covariance = match &self.nngp_eig {
                    None => fit.unproject(&fit.spectrum(|l| l * linalg::decay(l, 2.0 * s))?, vt)?,
                    Some(m) => {
                        let e = fit.spectrum(|l| linalg::decay(l, s))?;
                        let inner = Mat::from_fn(n, n, |i, j| e[i] * m[(i, j)] * e[j]);
                        fit.unproject(
                            &vec![1.0; n],
                            linalg::mul(inner.as_ref(), vt, fit.par).as_ref(),
                        )?
                    }
                };
                Ok(Gaussian {
                    mean: Matrix::from_faer(mean.as_ref()),
                    covariance: Matrix::from_faer(covariance.as_ref()),
                })
            })
            .collect()
    }

    /// Mean (`n_test × k`) and covariance (`n_test × n_test`) of the outputs on the test
    /// points at each of `times`, in order.
    ///
    /// Errors: a time that is negative or NaN; test kernels of the wrong shape or not
    /// finite; an NTK ensemble without `ntk_test_train`; at `t = ∞`, a training kernel that
    /// is not positive definite ([`Error::NotPositiveDefinite`]).
    pub fn predict_test(&self, times: &[f64], test: &TestKernels<'_>) -> Result<Vec<Gaussian>> {
        validate::times(times)?;
        let (fit, n) = (&self.fit, self.fit.n());
        let meaning = "n_train, the size of the train-train kernels";
        validate::finite("nngp_test_train", test.nngp_test_train)?;
        validate::cols("nngp_test_train", test.nngp_test_train, n, meaning)?;
        let m = test.nngp_test_train.rows;
        validate::square("nngp_test_test", test.nngp_test_test)?;
        validate::rows(
            "nngp_test_test",
            test.nngp_test_test,
            m,
            "n_test, the rows of nngp_test_train",
        )?;
        let kst = test.nngp_test_train.to_faer();
        let ktt = test.nngp_test_test.to_faer();
        let ntk_st = match (self.is_ntk(), test.ntk_test_train) {
            (false, _) => None,
            (true, None) => {
                return Err(Error::invalid(
                    "ntk_test_train",
                    "none",
                    "the test-train NTK, which an NTK ensemble needs",
                ));
            }
            (true, Some(th)) => {
                validate::finite("ntk_test_train", th)?;
                validate::cols("ntk_test_train", th, n, meaning)?;
                validate::rows(
                    "ntk_test_train",
                    th,
                    m,
                    "n_test, the rows of nngp_test_train",
                )?;
                Some(th.to_faer())
            }
        };
        // The training kernel's own test-train block: Θ for the NTK, K for the NNGP.
        let gst = ntk_st.as_ref().unwrap_or(&kst);
        let par = fit.par;
        let at_infinity = if times.iter().any(|t| t.is_infinite()) {
            Some(self.test_at_infinity(gst, &kst, &ktt)?)
        } else {
            None
        };
        // Eigenbasis coordinates shared by every finite time.
        let v = fit.vectors()?.as_ref();
        let w = linalg::mul(v.transpose(), gst.transpose(), par); // Vᵀ K_g,train,test
        let z = linalg::mul(v.transpose(), kst.transpose(), par); // Vᵀ K_train,test
        let coords = fit.project(self.y.as_ref())?;
        times
            .iter()
            .map(|&t| match &at_infinity {
                Some(g) if t.is_infinite() => Ok(g.clone()),
                _ => {
                    let s = fit.scaled(t);
                    let g = fit.spectrum(|l| linalg::inv_expm1(l, s))?;
                    let mean = linalg::mul(
                        w.transpose(),
                        linalg::scale_rows(&g, coords.as_ref()).as_ref(),
                        par,
                    );
                    let covariance = match &self.nngp_eig {
                        None => {
                            let g2 = fit.spectrum(|l| linalg::inv_expm1(l, 2.0 * s))?;
                            &ktt - linalg::mul(
                                z.transpose(),
                                linalg::scale_rows(&g2, z.as_ref()).as_ref(),
                                par,
                            )
                        }
                        Some(k_eig) => {
                            let t1 = linalg::scale_rows(&g, w.as_ref()); // Vᵀ T1
                            let kt1 = linalg::mul(k_eig.as_ref(), t1.as_ref(), par);
                            let t2 = linalg::mul(t1.transpose(), z.as_ref(), par);
                            linalg::mul(t1.transpose(), kt1.as_ref(), par) + &ktt
                                - &t2
                                - t2.transpose()
                        }
                    };
                    Ok(Gaussian {
                        mean: Matrix::from_faer(mean.as_ref()),
                        covariance: Matrix::from_faer(covariance.as_ref()),
                    })
                }
            })
            .collect()
    }

    /// The `t = ∞` test moments by Cholesky solves with `K_g`.
    fn test_at_infinity(&self, gst: &Mat<f64>, kst: &Mat<f64>, ktt: &Mat<f64>) -> Result<Gaussian> {
        let par = self.fit.par;
        // X = K_g⁻¹ K_g,train,test; the mean is Xᵀ y (K_g is symmetric).
        let x = self.fit.solve(gst.transpose())?;
        let mean = linalg::mul(x.transpose(), self.y.as_ref(), par);
        let covariance = match &self.nngp {
            None => ktt - linalg::mul(kst.as_ref(), x.as_ref(), par),
            Some(k) => {
                let kx = linalg::mul(k.as_ref(), x.as_ref(), par);
                let t2 = linalg::mul(x.transpose(), kst.transpose(), par);
                linalg::mul(x.transpose(), kx.as_ref(), par) + ktt - &t2 - t2.transpose()
            }
        };
        Ok(Gaussian {
            mean: Matrix::from_faer(mean.as_ref()),
            covariance: Matrix::from_faer(covariance.as_ref()),
        })
    }
}
