//! Gradient flow in the kernel's eigenbasis: which directions are learned first.
//!
//! With the (regularised) train-train kernel `K = Σ_i λ_i v_i v_iᵀ` and the conventions of
//! the [module docs](super) (`s = η t / N`), the training residual decouples:
//!
//! ```text
//! v_iᵀ (f_train(t) − y) = e^{−s λ_i} · v_iᵀ (f_train(0) − y)
//! ```
//!
//! so the component along `v_i` decays at rate `η λ_i / N`: large-eigenvalue directions are
//! fitted first, and the slowest rate is set by `λ_min` (Arora et al. 2019's `λ_0`, the rate
//! of linear convergence in Du et al. 2019). How much of the targets lies along each
//! direction, `‖v_iᵀ Y‖²` (summed over the `k` outputs; the energies add up to `‖Y‖_F²`),
//! decides how fast a given task is learned (Arora et al. 2019, "Fine-Grained Analysis of
//! Optimization and Generalization for Overparameterized Two-Layer Neural Networks").
//!
//! Every vector here is in the order of [`GradientFlow::eigenvalues`] (ascending).

use super::fit::GradientFlow;
use super::predict::Initial;
use super::{Matrix, validate};
use crate::error::Result;

/// `‖v_iᵀ B‖₂` for each eigenvector `v_i` (row norms of `Vᵀ·B`).
fn row_norms(flow: &GradientFlow, b: &faer::Mat<f64>) -> Result<Vec<f64>> {
    let c = flow.fit.project(b.as_ref())?;
    Ok((0..c.nrows())
        .map(|i| {
            (0..c.ncols())
                .map(|a| c[(i, a)] * c[(i, a)])
                .sum::<f64>()
                .sqrt()
        })
        .collect())
}

impl GradientFlow {
    /// The targets' energy along each eigendirection, `‖v_iᵀ Y‖²` (sum over outputs), in
    /// the ascending order of [`eigenvalues`](GradientFlow::eigenvalues). The energies add
    /// up to `‖Y‖_F²`.
    ///
    /// Errors: an eigendecomposition that does not converge.
    pub fn label_energy(&self) -> Result<Vec<f64>> {
        Ok(row_norms(self, &self.y)?.iter().map(|r| r * r).collect())
    }

    /// The training residual's size along each eigendirection at each of `times`:
    /// `‖v_iᵀ (f_train(t) − y)‖ = e^{−ηtλ_i/N}·‖v_iᵀ (f_train(0) − y)‖` (`λ_i` clipped at 0,
    /// as in [`predict_train`](GradientFlow::predict_train)); one vector per time, 0 at
    /// `t = ∞`.
    ///
    /// Errors: as [`predict_train`](GradientFlow::predict_train).
    pub fn residual_spectrum(&self, times: &[f64], initial: &Initial<'_>) -> Result<Vec<Vec<f64>>> {
        validate::times(times)?;
        let zero = Matrix::zeros(self.n_train(), self.n_outputs());
        let f0 = initial.fx_train_0.unwrap_or(&zero);
        let r0 = self.residual_coordinates(f0)?;
        let eigenvalues = self.eigenvalues()?;
        Ok(times
            .iter()
            .map(|&t| {
                let s = self.fit.scaled(t);
                eigenvalues
                    .iter()
                    .zip(&r0)
                    .map(|(&l, &r)| {
                        if t.is_infinite() {
                            0.0
                        } else {
                            r * (-s * l.max(0.0)).exp()
                        }
                    })
                    .collect()
            })
            .collect())
    }

    /// Any training-set outputs' residual along each eigendirection, `‖v_iᵀ (f − y)‖`: for
    /// a real network's outputs, to set against
    /// [`residual_spectrum`](GradientFlow::residual_spectrum).
    ///
    /// Errors: `f` not `n_train × k`, or not finite.
    pub fn residual_coordinates(&self, f: &Matrix) -> Result<Vec<f64>> {
        validate::finite("f_train", f)?;
        validate::rows(
            "f_train",
            f,
            self.n_train(),
            "n_train, the size of k_train_train",
        )?;
        validate::cols("f_train", f, self.n_outputs(), "k, the columns of y_train")?;
        let r = f.to_faer() - &self.y;
        row_norms(self, &r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predict::FitOptions;

    /// `K = Q diag(λ) Qᵀ` with `Q` a known rotation of the plane (and a third axis): the
    /// energies must be `(q_iᵀ y)²` by hand, the residual must decay as `e^{−ηtλ/N}`, and
    /// both must agree with `predict_train`'s residual projected (tolerance 1e-12: a 3 × 3
    /// eigendecomposition is exact to a few ulps).
    #[test]
    fn energies_and_residuals_match_a_hand_built_eigenbasis() {
        let (c, s) = (0.6f64, 0.8f64);
        let q = [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]; // columns are q_i
        let lam = [0.5, 2.0, 4.0];
        let k = Matrix::from_fn(3, 3, |i, j| {
            (0..3).map(|a| q[i][a] * lam[a] * q[j][a]).sum()
        });
        let y = Matrix::new(3, 2, vec![1.0, 0.0, -0.5, 2.0, 0.25, -1.0]).unwrap();
        let flow = GradientFlow::fit(&k, &y, &FitOptions::default()).unwrap();
        let e = flow.label_energy().unwrap();
        for a in 0..3 {
            let by_hand: f64 = (0..2)
                .map(|o| {
                    let p: f64 = (0..3).map(|i| q[i][a] * y.get(i, o)).sum();
                    p * p
                })
                .sum();
            // Eigenvalues come ascending, as lam is.
            assert!((e[a] - by_hand).abs() < 1e-12, "{a}: {} vs {by_hand}", e[a]);
        }
        let total: f64 = y.data.iter().map(|v| v * v).sum();
        assert!((e.iter().sum::<f64>() - total).abs() < 1e-12);

        let f0 = Matrix::new(3, 2, vec![0.1, 0.2, 0.3, -0.1, 0.0, 0.5]).unwrap();
        let init = Initial {
            fx_train_0: Some(&f0),
            fx_test_0: None,
        };
        let times = [0.0, 1.0, 5.0, f64::INFINITY];
        let r = flow.residual_spectrum(&times, &init).unwrap();
        let f = flow.predict_train(&times, &init).unwrap();
        let r0 = flow.residual_coordinates(&f0).unwrap();
        let rate = 1.0 / 6.0; // η/N with N = 3·2
        for (ti, &t) in times.iter().enumerate() {
            let direct = flow.residual_coordinates(&f[ti]).unwrap();
            for a in 0..3 {
                let want = if t.is_infinite() {
                    0.0
                } else {
                    r0[a] * (-rate * t * lam[a]).exp()
                };
                assert!((r[ti][a] - want).abs() < 1e-12, "t {t}, {a}");
                assert!(
                    (direct[a] - want).abs() < 1e-12,
                    "t {t}, {a}: {}",
                    direct[a]
                );
            }
        }
        assert!(
            flow.residual_coordinates(&y)
                .unwrap()
                .iter()
                .all(|&v| v < 1e-12)
        );
        assert!(flow.residual_coordinates(&Matrix::zeros(2, 2)).is_err());
    }
}
