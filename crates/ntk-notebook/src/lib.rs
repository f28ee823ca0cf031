//! # ntk-notebook: the friendly tier
//!
//! For Rust Jupyter notebooks (evcxr) and short scripts: one `use ntk_notebook::prelude::*;`
//! brings a small, macro-free API over the engine whose calls take explicit sizes and return
//! owned values of this crate (evcxr cannot name a foreign generic type in a variable), each
//! of which draws itself in a notebook (a heatmap, a log-log plot, a table) and prints
//! sensibly in a terminal. For explicit control over precision, threads, tiling and
//! weights, use `ntk-engine`. The kernels, predictions, preprocessing, error measures,
//! accuracies and the least-squares line of a sweep ([`loglog_fit`]) are the engine's
//! (`ntk_engine::metrics`); this crate's own arithmetic is presentation (block means for
//! heatmaps, axis ranges).
//!
//! | job | call | returns |
//! | --- | --- | --- |
//! | data | [`Data::bundled`], [`Data::npy`], `.unit_norm()`, `.split(..)`, `.one_hot(..)` | [`Data`], [`Outputs`] |
//! | model | [`Model::new`], [`Model::uniform`], [`Model::two_layer_relu`] | [`Model`] |
//! | kernels | [`empirical_ntk`], [`analytic_ntk`], [`empirical_kernel`], [`analytic_kernel`] | [`KernelMatrix`] |
//! | predictions | [`kernel_regression`], [`gradient_flow`] | [`Outputs`], [`Flow`] |
//! | large kernels | [`predict()`] over [`Kernels`] (memory, files, recomputed): CG and Lanczos | [`Solved`] |
//! | limits | [`width_sweep`], [`arccos_sweep`], [`arccos_scatter`] | [`Scan`], [`Plot`] |
//! | classification | [`classify()`], [`depth_study`] | accuracy, [`DepthStudy`] |
//! | training | [`train_network`], [`alpha_sweep`] | [`Training`], [`Scan`] |
//! | width studies | [`study()`], [`compare_studies`], [`linearisation`], [`homogeneity`] | [`Study`], [`Plot`], [`Linearisation`], [`Homogeneity`] |
//! | network vs kernel | [`trained_vs_kernel`] (Arora et al. 2019, Thm 3.2), [`trajectories`] (Lee et al. 2019) | [`Equivalence`], [`Trajectories`] |
//! | spectrum | [`spectrum()`] | [`Spectrum`] |
//! | performance | [`criterion_results`], [`time_empirical`] | [`Throughput`] |
//!
//! ```
//! use ntk_notebook::prelude::*;
//! let x = Data::bundled("digits")?.head(20).unit_norm()?;
//! let model = Model::new(64, &[512], Activation::Relu);
//! let k = empirical_ntk(&model, &x, 0)?;
//! let limit = analytic_ntk(&model, &x)?;
//! assert_eq!((k.rows, k.cols), (20, 20));
//! assert!(k.rel_error(&limit)? < 0.2);
//! # Ok::<(), ntk_notebook::Error>(())
//! ```
//!
//! Every notebook in `notebooks/` has a twin in this crate's `examples/`, run small by
//! `cargo test` (`tests/examples.rs`), so a notebook never shows an API that is gone.

#![warn(missing_docs)]

/// The rich display most result types share: `Display` is the type's `table()`, and
/// `evcxr_display` (which evcxr calls on a cell's value) emits the HTML built by the given
/// closure over `&self`, with that text as the plain-text fallback.
macro_rules! table_display {
    ($ty:ty, |$s:ident| $html:expr) => {
        impl $ty {
            /// Shows it in a notebook: the HTML figure and table, with the plain table as
            /// the text fallback.
            pub fn evcxr_display(&self) {
                let $s = self;
                $crate::display::emit("text/html", &$html, &$s.to_string());
            }
        }

        impl core::fmt::Display for $ty {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, "{}", self.table())
            }
        }
    };
}

pub mod arccos;
pub mod classify;
pub mod data;
pub mod display;
pub mod equivalence;
pub mod kernel;
pub mod linearise;
pub mod model;
pub mod perf;
pub mod predict;
pub mod scan;
pub mod solve;
pub mod spectrum;
pub mod study;
pub mod sweep;
pub mod training;

pub use arccos::{arccos_kernel, arccos_scatter, arccos_sweep, arccos0, lecture_kernel};
pub use classify::{DepthStudy, classify, depth_study};
pub use data::Data;
pub use display::plot::{Legend, Panels, Plot, Series, Style};
pub use display::{Html, Svg, Table};
pub use equivalence::{Equivalence, Trajectories, trained_vs_kernel, trajectories};
pub use kernel::{
    KernelMatrix, analytic_kernel, analytic_nngp, analytic_ntk, empirical_kernel, empirical_nngp,
    empirical_ntk,
};
pub use linearise::{Homogeneity, Linearisation, homogeneity, linearisation};
pub use model::Model;
pub use ntk_engine::{Error, Result};
pub use perf::{Measurement, Throughput, criterion_dir, criterion_results, time_empirical};
pub use predict::{Flow, Outputs, gradient_flow, kernel_regression};
pub use scan::{Scan, compare_scans};
pub use solve::{Kernels, Settings, Solved, predict, predict_with};
pub use spectrum::{Spectrum, spectrum};
pub use study::{Study, StudyPlan, compare_studies, study};
pub use sweep::{Fit, loglog_fit, width_sweep};
pub use training::{Step, TrainPlan, Training, alpha_sweep, train_network};

/// Everything a notebook needs in one import.
pub mod prelude {
    pub use crate::{
        Data, DepthStudy, Error, Fit, Flow, Html, KernelMatrix, Legend, Measurement, Model,
        Outputs, Plot, Result, Series, Style, Svg, Table, Throughput, analytic_kernel,
        analytic_nngp, analytic_ntk, arccos_kernel, arccos_scatter, arccos_sweep, arccos0,
        classify, criterion_dir, criterion_results, depth_study, empirical_kernel, empirical_nngp,
        empirical_ntk, gradient_flow, kernel_regression, lecture_kernel, loglog_fit,
        time_empirical, width_sweep,
    };
    pub use crate::{
        Equivalence, Homogeneity, Linearisation, Panels, Scan, Spectrum, Step, Study, StudyPlan,
        TrainPlan, Training, Trajectories, alpha_sweep, compare_scans, compare_studies,
        homogeneity, linearisation, spectrum, study, train_network, trained_vs_kernel,
        trajectories,
    };
    pub use crate::{Kernels, Settings, Solved, predict, predict_with};
    pub use ntk_engine::gram::KernelKind;
    pub use ntk_engine::{Activation, Parameterization};
}
