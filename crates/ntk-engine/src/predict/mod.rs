//! Kernel predictions: gradient flow on the MSE loss, kernel regression (`t = ∞`), and the
//! infinite ensemble of infinitely wide networks.
//!
//! # Conventions (neural-tangents' `nt.predict`)
//!
//! Continuous-time gradient descent on `L = 1/(2N)·‖f_train − y‖²` with
//! **`N = n_train · k`** (every entry of `y`, outputs included), learning rate `η` and time
//! `t` counted in steps (only `η·t` matters):
//! `d f_train/dt = −(η/N)·K·(f_train − y)`. Each of the `k` output columns evolves
//! independently under the same kernel. `diag_reg` is **relative** and touches the
//! train-train kernel only: `K ← K + diag_reg·(tr K / n_train)·I`.
//!
//! With `K = V diag(λ) Vᵀ` (one eigendecomposition serves every time; `λ` is clipped at 0
//! inside the exponentials, so a kernel that is positive semi-definite up to rounding is
//! harmless) and `s = η t / N`:
//!
//! ```text
//! f_train(t) = y + V diag(e^{−s λ}) Vᵀ (f_train(0) − y)
//! f_test(t)  = f_test(0) + K_test,train V diag((1 − e^{−s λ})/|λ|) Vᵀ (y − f_train(0))
//! ```
//!
//! (Lee et al. 2019, the linearised network's function-space dynamics). At `t = ∞` the flow converges to kernel regression
//! (Arora et al. 2019): `f_train = y` and
//! `f_test = f_test(0) + K_test,train K⁻¹ (y − f_train(0))`, solved by Cholesky when `t = ∞`
//! is asked alone (no eigendecomposition at all), and from the eigendecomposition when
//! finite times come with it and its spectrum is well conditioned
//! ([`GradientFlow`]'s `spectrum_inverts`: `λ_min > n·ε·λ_max`); a kernel that is not
//! positive definite there is an [`Error::NotPositiveDefinite`](crate::Error::NotPositiveDefinite)
//! naming the first bad pivot of the Cholesky factorisation (never a silent jitter).
//!
//! The **infinite ensemble** ([`Ensemble`]) draws `f(0)` from the NNGP prior; the outputs
//! are Gaussian, with the closed-form mean and covariance of Lee et al. 2019, for
//! training with the NTK Θ or with the NNGP `K` itself (Bayesian inference at `t = ∞`); see
//! [`ensemble`] for the formulas.
//!
//! # Layout
//! * [`fit`]: validation of the train-train kernel, regularisation, eigendecomposition,
//!   Cholesky factor, and the [`GradientFlow`] it builds;
//! * [`predict`]: [`GradientFlow`]'s train and test predictions at any times;
//! * [`ensemble`]: the ensemble mean and covariance;
//! * [`spectrum`]: the flow in the kernel's eigenbasis (label energy, residual per
//!   eigendirection over time);
//! * [`Matrix`]: the small row-major matrix the API takes and returns.
//!
//! # Example
//! ```
//! use ntk_engine::predict::{FitOptions, GradientFlow, Initial, Matrix};
//!
//! let k = Matrix::new(2, 2, vec![2.0, 0.5, 0.5, 1.0])?;
//! let y = Matrix::new(2, 1, vec![1.0, -1.0])?;
//! let k_test = Matrix::new(1, 2, vec![0.3, 0.7])?;
//! let flow = GradientFlow::fit(&k, &y, &FitOptions::default())?;
//! let times = [0.0, 10.0, f64::INFINITY];
//! let test = flow.predict_test(&times, &k_test, &Initial::default())?;
//! assert_eq!(test.len(), 3);
//! let train = flow.predict_train(&times, &Initial::default())?;
//! assert_eq!(train[2], y); // at t = ∞ the training targets are fitted exactly
//! # Ok::<(), ntk_engine::Error>(())
//! ```
//!
//! References: Lee, Xiao, Schoenholz, Bahri, Novak, Sohl-Dickstein & Pennington, "Wide
//! Neural Networks of Any Depth Evolve as Linear Models Under Gradient Descent", NeurIPS
//! 2019; Arora, Du, Hu, Li, Salakhutdinov & Wang, "On Exact Computation with an Infinitely
//! Wide Neural Net", NeurIPS 2019; Novak et al., "Neural Tangents", ICLR 2020.

mod band_reduction;
mod bulge_chase;
pub mod ensemble;
mod factored_eigen;
pub mod fit;
pub(crate) mod linalg;
mod matrix;
// The module that predicts is named after the operation (STYLE §3: "regression splits into
// `fit` and `predict`"), which is also the parent's name.
#[allow(clippy::module_inception)]
pub mod predict;
mod reflector;
pub mod spectrum;
pub(crate) mod validate;

pub use ensemble::{Ensemble, Gaussian, TestKernels};
pub use fit::{FitOptions, GradientFlow};
pub use matrix::Matrix;
pub use predict::Initial;
