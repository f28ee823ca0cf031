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
//! * a slow explicit-Jacobian [`reference`](crate::reference) the fast paths are tested against.
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
pub mod init;
pub mod metrics;
pub mod model;
pub mod parallel;
pub mod params;
pub mod predict;
pub mod reference;
pub mod scalar;
pub mod simd;
pub mod solve;
pub mod train;

pub use activation::Activation;
pub use analytic::{AnalyticOptions, analytic};
pub use data::{Dataset, NpyFile, Points};
pub use error::{Error, Result};
pub use gram::{EmpiricalOptions, Kernel, KernelKind, Precision, Schedule, Weights, empirical};
pub use model::{Mlp, Parameterization};
pub use parallel::Parallelism;
pub use params::Params;
pub use predict::{FitOptions, GradientFlow, Initial, Matrix};
pub use train::{TrainData, TrainOptions, Trained};
