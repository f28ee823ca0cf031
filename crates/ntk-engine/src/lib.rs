//! # ntk-engine: neural tangent kernels of MLPs, the expert tier
//!
//! **Should I use this crate?** If you want a kernel matrix in a notebook or a script with
//! sensible defaults, use `ntk-notebook` (its `prelude` wraps everything here). Use this
//! crate when you need explicit control: the precision of the products, the thread count,
//! the tiling, the schedule, the weights.
//!
//! What it computes, for a fully connected network with neural-tangents' conventions
//! ([`model`]):
//! * the **empirical NTK and NNGP** Gram matrices ([`gram`]) by the per-layer factorisation
//!   `Θ = Σ_l (s_W²·H_l H_lᵀ + s_b²) ⊙ Δ_l Δ_lᵀ`, never forming a Jacobian, blocked over
//!   rows and neurons, multithreaded with results independent of the thread count, and
//!   streamed over the width for one-hidden-layer nets up to `m = 10⁶`;
//! * the **analytic (infinite-width) NTK and NNGP** ([`mod@analytic`]): closed forms for
//!   ReLU-like, erf-like and GELU activations, Gauss–Hermite quadrature for the rest;
//! * kernel [`predict`]ions: gradient flow on the MSE loss at any times from one
//!   eigendecomposition, kernel regression at `t = ∞`, and the infinite ensemble's mean and
//!   covariance (Lee et al. 2019; Arora et al. 2019);
//! * a slow explicit-Jacobian [`reference`](mod@crate::reference) the fast paths are tested against.
//!
//! # Example: kernel, predict, train
//!
//! The infinite-width NTK of a ReLU net on the bundled breast-cancer data, kernel
//! regression with it, and a finite network of the same architecture trained by gradient
//! descent; both scored with [`metrics`]. (`examples/workflow.rs` adds saving and loading
//! the kernel and applying the trained net to new points.)
//!
//! ```
//! use ntk_engine::metrics::accuracy;
//! use ntk_engine::train::train;
//! use ntk_engine::{
//!     Activation, AnalyticOptions, Dataset, FitOptions, GradientFlow, Initial, Matrix, Mlp,
//!     Params, TrainData, TrainOptions, analytic,
//! };
//!
//! // 200 training and 100 test points, scaled together to neural-tangents' x·x/d = 1.
//! let data = Dataset::bundled("breast-cancer")?.head(300).scaled_to_unit_variance()?;
//! let (train_set, test_set) = data.split(200, 100)?;
//! let y = train_set.targets(2)?; // one-hot, 200 × 2
//! let labels = test_set.labels().expect("bundled data has labels");
//! let (x, x_test) = (train_set.points(), test_set.points());
//!
//! // The kernel: train × train and test × train.
//! let mlp = Mlp::new(x.cols(), &[512, 512], Activation::Relu).with_outputs(2);
//! let opts = AnalyticOptions::default();
//! let k = analytic(&mlp, &x, None, &opts)?;
//! let k_test = analytic(&mlp, &x_test, Some(&x), &opts)?;
//!
//! // Predict: gradient flow to t = ∞ (kernel regression).
//! let fit = FitOptions { diag_reg: 1e-6, ..FitOptions::default() };
//! let flow = GradientFlow::fit(&Matrix::from(k), &y, &fit)?;
//! let pred = flow.predict_test(&[f64::INFINITY], &Matrix::from(k_test), &Initial::default())?;
//! let kernel_accuracy = accuracy(&pred[0], labels);
//!
//! // Train: 100 steps of gradient descent from the seeded initialisation. The trained
//! // output is centred, g = f(θ) − f(θ_0) (see TrainOptions), so it starts at 0 as the
//! // kernel prediction does; `mlp.apply(&trained.params, &x_test)` gives f(θ) itself.
//! let params = Params::seeded(&mlp, 0)?;
//! let data = TrainData { x_train: &x, y_train: &y, x_test: Some(&x_test), probe: None };
//! let trained = train(&mlp, &params, &data, &TrainOptions::default())?;
//! let net_accuracy = accuracy(trained.test.as_ref().expect("test points given"), labels);
//!
//! assert!(kernel_accuracy > 0.85 && net_accuracy > 0.85, "{kernel_accuracy} {net_accuracy}");
//! # Ok::<(), ntk_engine::Error>(())
//! ```
//!
//! # Where things are
//! * data: [`Dataset`] (bundled sets, `.npy` files, [`split`](Dataset::split),
//!   [`scaled_to_unit_variance`](Dataset::scaled_to_unit_variance)) and [`Points`];
//! * the network: [`Mlp`], [`Params`], and [`Mlp::apply`] for its outputs;
//! * kernels: [`analytic()`], [`empirical()`], the [`Kernel`] they return
//!   ([`Kernel::save`], [`Kernel::load`], `Matrix::from(kernel)`);
//! * predictions: [`GradientFlow`] and [`predict::Ensemble`] on [`Matrix`] values;
//! * training: [`train::train`] with [`TrainOptions`], and its kernel description
//!   [`train::ntk_flow_prediction`];
//! * the lecture's two-layer ReLU kernel: [`gram::two_layer_relu`];
//! * scores and fits: [`metrics`] (errors, accuracy, log-log slopes over widths).
//!
//! Everything else is internal (`pub(crate)`); the design notes the code cites are in
//! `docs/DESIGN.md`.
//!
//! References: Jacot, Gabriel & Hongler, "Neural Tangent Kernel", NeurIPS 2018;
//! Lee et al., "Wide Neural Networks of Any Depth Evolve as Linear Models", NeurIPS 2019;
//! Novak, Sohl-Dickstein & Schoenholz, "Fast Finite Width Neural Tangent Kernel", ICML 2022.

#![warn(missing_docs)]

pub mod activation;
pub mod analytic;
mod apply;
pub mod data;
pub mod error;
pub mod gram;
pub(crate) mod init;
mod memory;
pub mod metrics;
pub mod model;
pub mod parallel;
pub mod params;
pub mod predict;
pub mod ranks;
pub mod reference;
pub(crate) mod scalar;
pub(crate) mod simd;
pub mod solve;
pub mod train;

pub use activation::Activation;
pub use analytic::{AnalyticOptions, analytic, analytic_cancellable};
pub use data::{Dataset, NpyFile, Points};
pub use error::{Error, Result};
pub use gram::{
    EmpiricalOptions, Kernel, KernelKind, Precision, Schedule, Weights, empirical,
    empirical_cancellable,
};
pub use model::{Mlp, Parameterization};
pub use parallel::Parallelism;
pub use params::Params;
pub use predict::{FitOptions, GradientFlow, Initial, Matrix};
pub use scalar::Real;
pub use train::{TrainData, TrainOptions, Trained};
