//! Predicting: [`GradientFlow`]'s outputs on the training and test points at any times.
//!
//! Per time the work is products with the eigenbasis computed once: `O(n²k)` on the
//! training set and `O(m·n·k)` on `m` test points, after an `O(m·n²)` change of basis of
//! the test-train kernel shared by all times. When every time is `∞` there is no
//! eigendecomposition: one Cholesky factorisation and its triangular solves.

use faer::Mat;

use super::fit::GradientFlow;
use super::linalg;
use super::{Matrix, validate};
use crate::error::Result;

/// The network's outputs at `t = 0`; an absent one is zero (neural-tangents' default).
#[derive(Clone, Copy, Debug, Default)]
pub struct Initial<'a> {
    /// `f_train(0)`, `n_train × k`.
    pub fx_train_0: Option<&'a Matrix>,
    /// `f_test(0)`, `n_test × k`.
    pub fx_test_0: Option<&'a Matrix>,
}

impl GradientFlow {
    fn initial_train(&self, initial: &Initial<'_>) -> Result<Mat<f64>> {
        let (n, k) = (self.n_train(), self.n_outputs());
        match initial.fx_train_0 {
            None => Ok(Mat::zeros(n, k)),
            Some(f) => {
                validate::finite("fx_train_0", f)?;
                validate::rows("fx_train_0", f, n, "n_train, the size of k_train_train")?;
                validate::cols("fx_train_0", f, k, "k, the columns of y_train")?;
                Ok(f.to_faer())
            }
        }
    }

    /// `f_train(t)` (`n_train × k`) at each of `times`, in order:
    /// `y + V diag(e^{−ηtλ/N}) Vᵀ (f_train(0) − y)`, and `y` at `t = ∞`.
    ///
    /// Errors: a time that is negative or NaN; an `fx_train_0` that is not `n_train × k`
    /// or not finite.
    pub fn predict_train(&self, times: &[f64], initial: &Initial<'_>) -> Result<Vec<Matrix>> {
        validate::times(times)?;
        let f0 = self.initial_train(initial)?;
        let fit = &self.fit;
        // The eigenbasis only when some time is finite: `t = ∞` alone is `y`. The
        // coordinates of `f_train(0) − y` are those of `y − f_train(0)` negated, exactly
        // (rounding is symmetric), so the test predictions' projection serves.
        let coords = if times.iter().any(|t| t.is_finite()) {
            let residual = &self.y - &f0;
            -self.coordinates(residual.as_ref())?
        } else {
            Mat::zeros(0, 0)
        };
        // Every finite time in one pass of the eigenvectors.
        let finite: Vec<f64> = times.iter().copied().filter(|t| t.is_finite()).collect();
        let ds = finite
            .iter()
            .map(|&t| {
                let s = fit.scaled(t);
                fit.spectrum(|l| linalg::expm1_decay(l, s))
            })
            .collect::<Result<Vec<_>>>()?;
        let k = f0.ncols();
        let moved = if ds.is_empty() {
            Mat::zeros(f0.nrows(), 0)
        } else {
            fit.unproject_stacked(&ds, coords.as_ref())?
        };
        let mut next = 0;
        Ok(times
            .iter()
            .map(|&t| match t.is_infinite() {
                true => Matrix::from_faer(self.y.as_ref()),
                false => {
                    let f = &f0 + moved.as_ref().subcols(next * k, k);
                    next += 1;
                    Matrix::from_faer(f.as_ref())
                }
            })
            .collect())
    }

    /// `f_test(t)` (`n_test × k`) at each of `times`, in order:
    /// `f_test(0) + K_test,train V diag((1 − e^{−ηtλ/N})/|λ|) Vᵀ (y − f_train(0))`, and at
    /// `t = ∞` the kernel-regression solution `f_test(0) + K_test,train K⁻¹ (y − f_train(0))`,
    /// by Cholesky, or by the spectrum when finite times come with it (module docs).
    ///
    /// Errors: a time that is negative or NaN; a `k_test_train` that is not
    /// `n_test × n_train` or not finite; initial outputs of the wrong shape or not finite;
    /// at `t = ∞`, a train-train kernel that is not positive definite
    /// ([`Error::NotPositiveDefinite`](crate::Error::NotPositiveDefinite)).
    pub fn predict_test(
        &self,
        times: &[f64],
        k_test_train: &Matrix,
        initial: &Initial<'_>,
    ) -> Result<Vec<Matrix>> {
        validate::times(times)?;
        let (n, k) = (self.n_train(), self.n_outputs());
        validate::finite("k_test_train", k_test_train)?;
        validate::cols(
            "k_test_train",
            k_test_train,
            n,
            "n_train, the size of k_train_train",
        )?;
        let m = k_test_train.rows;
        let f0 = self.initial_train(initial)?;
        let g0 = match initial.fx_test_0 {
            None => Mat::zeros(m, k),
            Some(g) => {
                validate::finite("fx_test_0", g)?;
                validate::rows("fx_test_0", g, m, "n_test, the rows of k_test_train")?;
                validate::cols("fx_test_0", g, k, "k, the columns of y_train")?;
                g.to_faer()
            }
        };
        let fit = &self.fit;
        let kst = k_test_train.to_faer();
        let residual = &self.y - &f0;
        let finite = times.iter().any(|t| t.is_finite());
        // Vᵀ(y − f_train(0)), shared by every finite time (V in factored form: each time
        // costs O(n²k), never a product with the whole V).
        let coords = if finite {
            self.coordinates(residual.as_ref())?
        } else {
            Mat::zeros(0, 0)
        };
        let infinite = times.iter().any(|t| t.is_infinite());
        // With the eigendecomposition at hand (some finite time) and a well-conditioned
        // spectrum, t = ∞ is one more column block of the same pass; otherwise Cholesky.
        let by_spectrum = infinite && finite && fit.spectrum_inverts()?;
        let at_infinity = if infinite && !by_spectrum {
            let alpha = fit.solve(residual.as_ref())?;
            Some(&g0 + linalg::mul(kst.as_ref(), alpha.as_ref(), fit.par))
        } else {
            None
        };
        // Every finite time (and t = ∞ by the spectrum) in one pass of the eigenvectors and
        // one product with K_test,train.
        let mut gs = times
            .iter()
            .filter(|t| t.is_finite())
            .map(|&t| {
                let s = fit.scaled(t);
                fit.spectrum(|l| linalg::inv_expm1(l, s))
            })
            .collect::<Result<Vec<_>>>()?;
        if by_spectrum {
            gs.push(fit.spectrum(|l| 1.0 / l)?);
        }
        let moved = if gs.is_empty() {
            Mat::zeros(m, 0)
        } else {
            let w = fit.unproject_stacked(&gs, coords.as_ref())?;
            linalg::mul(kst.as_ref(), w.as_ref(), fit.par)
        };
        let by_spectrum_at = (gs.len().saturating_sub(1)) * k;
        let mut next = 0;
        Ok(times
            .iter()
            .map(|&t| match &at_infinity {
                Some(f) if t.is_infinite() => Matrix::from_faer(f.as_ref()),
                None if t.is_infinite() => {
                    let f = &g0 + moved.as_ref().subcols(by_spectrum_at, k);
                    Matrix::from_faer(f.as_ref())
                }
                _ => {
                    let f = &g0 + moved.as_ref().subcols(next * k, k);
                    next += 1;
                    Matrix::from_faer(f.as_ref())
                }
            })
            .collect())
    }
}
#[cfg(test)]
mod tests {
    use super::super::FitOptions;
    use super::*;
    use crate::Error;

    fn spd(n: usize) -> Matrix {
        Matrix::from_fn(n, n, |i, j| (-((i as f64) - (j as f64)).abs() / 2.0).exp())
    }

    #[test]
    fn starts_at_the_initial_outputs_and_fits_the_targets() {
        let k = spd(5);
        let y = Matrix::from_fn(5, 2, |i, j| (i + 2 * j) as f64 - 3.0);
        let f0 = Matrix::from_fn(5, 2, |i, j| 0.1 * (i * j) as f64);
        let kst = Matrix::from_fn(3, 5, |i, j| 0.2 + 0.1 * ((i + j) % 3) as f64);
        let flow = GradientFlow::fit(&k, &y, &FitOptions::default()).unwrap();
        let init = Initial {
            fx_train_0: Some(&f0),
            fx_test_0: None,
        };
        let train = flow.predict_train(&[0.0, f64::INFINITY], &init).unwrap();
        assert_eq!(train[0], f0);
        assert_eq!(train[1], y);
        let test = flow.predict_test(&[0.0], &kst, &init).unwrap();
        assert_eq!(test[0], Matrix::zeros(3, 2));
    }

    /// `t = ∞` beside finite times comes from the spectrum; alone, from Cholesky. The two
    /// agree to `1e-12` relative (both backward stable on a kernel of condition ~10²), at
    /// a size with each tridiagonalisation. A kernel that is not positive definite still
    /// gets Cholesky's error when finite times come with `t = ∞`.
    #[test]
    fn infinity_by_the_spectrum_equals_the_cholesky_solve() {
        for n in [40, crate::predict::factored_eigen::TWO_STAGE_MIN + 9] {
            let k = spd(n);
            let y = Matrix::from_fn(n, 3, |i, j| ((i * 5 + j) % 7) as f64 - 3.0);
            let kst = Matrix::from_fn(6, n, |i, j| {
                (-((i * 9) as f64 - j as f64).abs() / 9.0).exp()
            });
            let flow = GradientFlow::fit(&k, &y, &FitOptions::default()).unwrap();
            let alone = flow
                .predict_test(&[f64::INFINITY], &kst, &Initial::default())
                .unwrap();
            let mixed = flow
                .predict_test(&[1.0, f64::INFINITY, 5.0], &kst, &Initial::default())
                .unwrap();
            assert!(flow.fit.spectrum_inverts().unwrap());
            let scale = alone[0].as_ref().iter().fold(0.0f64, |m, v| m.max(v.abs()));
            for (a, b) in alone[0].as_ref().iter().zip(mixed[1].as_ref()) {
                assert!((a - b).abs() < 1e-12 * scale, "n {n}: {a} vs {b}");
            }
            let at_one = flow
                .predict_test(&[1.0], &kst, &Initial::default())
                .unwrap();
            assert_eq!(at_one[0], mixed[0]);
        }
        let mut bad = spd(6);
        bad = Matrix::from_fn(6, 6, |i, j| bad.get(i, j) - if i == j { 2.0 } else { 0.0 });
        let flow = GradientFlow::fit(&bad, &Matrix::zeros(6, 1), &FitOptions::default()).unwrap();
        let kst = Matrix::zeros(2, 6);
        let err = flow.predict_test(&[1.0, f64::INFINITY], &kst, &Initial::default());
        assert!(
            matches!(err, Err(Error::NotPositiveDefinite { .. })),
            "{err:?}"
        );
    }

    /// The shared projection: train and test predictions, from alternating initial
    /// outputs, equal those of a fresh fit each time, bit for bit.
    #[test]
    fn shared_coordinates_follow_the_initial_outputs() {
        let n = 30;
        let k = spd(n);
        let y = Matrix::from_fn(n, 2, |i, j| ((i * 3 + j) % 5) as f64 - 2.0);
        let kst = Matrix::from_fn(4, n, |i, j| 0.1 * ((i + j) % 4) as f64);
        let f0s = [
            Matrix::from_fn(n, 2, |i, j| 0.01 * (i + j) as f64),
            Matrix::zeros(n, 2),
        ];
        let flow = GradientFlow::fit(&k, &y, &FitOptions::default()).unwrap();
        let times = [0.5, 3.0];
        for f0 in f0s.iter().chain(&f0s).chain(&f0s[..1]) {
            let init = Initial {
                fx_train_0: Some(f0),
                fx_test_0: None,
            };
            let fresh = GradientFlow::fit(&k, &y, &FitOptions::default()).unwrap();
            assert_eq!(
                flow.predict_train(&times, &init).unwrap(),
                fresh.predict_train(&times, &init).unwrap()
            );
            assert_eq!(
                flow.predict_test(&times, &kst, &init).unwrap(),
                fresh.predict_test(&times, &kst, &init).unwrap()
            );
        }
    }

    #[test]
    fn shape_errors_name_the_argument() {
        let k = spd(4);
        let y = Matrix::zeros(4, 1);
        let flow = GradientFlow::fit(&k, &y, &FitOptions::default()).unwrap();
        let bad = Matrix::zeros(2, 3);
        let e = flow
            .predict_test(&[1.0], &bad, &Initial::default())
            .unwrap_err();
        assert!(matches!(
            e,
            Error::DimensionMismatch {
                expected: 4,
                got: 3,
                ..
            }
        ));
        assert!(e.to_string().contains("k_test_train"), "{e}");
        let e = GradientFlow::fit(&k, &Matrix::zeros(3, 1), &FitOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("y_train"), "{e}");
        let e = flow
            .predict_train(&[f64::NAN], &Initial::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("time"), "{e}");
    }
}
