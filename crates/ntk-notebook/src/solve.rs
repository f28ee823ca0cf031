//! Predictions with the engine's iterative solvers (`ntk_engine::solve`): kernels in memory,
//! in `.npy` files larger than memory, or recomputed from a model and never stored.
//! Progress is printed while the solver runs; the result draws its residual history.

use std::path::PathBuf;

use ntk_engine::analytic::AnalyticOptions;
use ntk_engine::gram::out_of_core::default_memory_budget;
use ntk_engine::predict::{Initial, Matrix};
use ntk_engine::solve::{
    IterativeOptions, KernelOperator, Progress, SolveReport, Stage, gradient_flow,
};
use ntk_engine::{Parallelism, Result};

use crate::data::Data;
use crate::display::plot::{Legend, Plot, Series, Style};
use crate::display::{Table, figure_with_table, num};
use crate::kernel::KernelMatrix;
use crate::model::Model;
use crate::predict::Outputs;

/// Where the kernels come from.
#[derive(Clone, Copy, Debug)]
pub enum Kernels<'a> {
    /// Matrices in memory: train × train and test × train.
    Matrices {
        /// `n × n`.
        train: &'a KernelMatrix,
        /// `m × n`.
        test_train: &'a KernelMatrix,
    },
    /// `.npy` files (f32 or f64), streamed in bands: they may be larger than memory.
    Files {
        /// The `n × n` file.
        train: &'a str,
        /// The `m × n` file.
        test_train: &'a str,
    },
    /// The analytic NTK of `model`, recomputed band by band on every product.
    Analytic {
        /// The network.
        model: &'a Model,
        /// Training inputs.
        train: &'a Data,
        /// Test inputs.
        test: &'a Data,
    },
}

/// Solver settings; [`Settings::default`] is `tol` 1e-6, 1000 iterations, rank 100 (at most
/// `n`), half the available memory, progress printed every 10 iterations.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Relative residual (CG) or error estimate (Lanczos) to stop at.
    pub tol: f64,
    /// Iteration limit (an error when reached).
    pub max_iters: usize,
    /// Preconditioner rank (0: none); capped at `n`.
    pub rank: usize,
    /// Bytes for kernel bands.
    pub memory_budget: usize,
    /// Print a progress line every this many iterations (0: never).
    pub print_every: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            tol: 1e-6,
            max_iters: 1000,
            rank: 100,
            memory_budget: default_memory_budget(),
            print_every: 10,
        }
    }
}

/// Predictions from the iterative solvers, with their residual history.
#[derive(Clone, Debug)]
pub struct Solved {
    /// The times.
    pub times: Vec<f64>,
    /// Test outputs at each time.
    pub test: Vec<Outputs>,
    /// Training outputs at each time.
    pub train: Vec<Outputs>,
    /// What each solver did (PCG for `t = ∞`, Lanczos for finite times).
    pub reports: Vec<SolveReport>,
    /// `(solver, iteration, residual)` after every iteration.
    pub history: Vec<(&'static str, usize, f64)>,
}

/// Gradient-flow predictions at `times` (`f64::INFINITY`: kernel regression) from zero
/// outputs, by conjugate gradients and Lanczos on the `kernels`; `ridge` is relative to the
/// mean diagonal, as in [`crate::kernel_regression`].
pub fn predict(
    kernels: Kernels<'_>,
    y_train: &Outputs,
    times: &[f64],
    ridge: f64,
) -> Result<Solved> {
    predict_with(kernels, y_train, times, ridge, &Settings::default())
}

/// [`predict`] with explicit [`Settings`].
pub fn predict_with(
    kernels: Kernels<'_>,
    y_train: &Outputs,
    times: &[f64],
    ridge: f64,
    settings: &Settings,
) -> Result<Solved> {
    let par = Parallelism::default();
    let budget = settings.memory_budget;
    let (m_train, m_test);
    let points;
    let opts = AnalyticOptions::default();
    let (a, b) = match kernels {
        Kernels::Matrices { train, test_train } => {
            m_train = Matrix::new(train.rows, train.cols, train.data.clone())?;
            m_test = Matrix::new(test_train.rows, test_train.cols, test_train.data.clone())?;
            (
                KernelOperator::dense(&m_train, par)?,
                KernelOperator::dense(&m_test, par)?,
            )
        }
        Kernels::Files { train, test_train } => (
            KernelOperator::mapped(PathBuf::from(train), budget, par)?,
            KernelOperator::mapped(PathBuf::from(test_train), budget, par)?,
        ),
        Kernels::Analytic { model, train, test } => {
            points = (train.points(), test.points());
            (
                KernelOperator::analytic(&model.mlp, &points.0, None, opts, budget)?,
                KernelOperator::analytic(&model.mlp, &points.1, Some(&points.0), opts, budget)?,
            )
        }
    };
    let n = a.shape().0;
    let options = IterativeOptions {
        diag_reg: ridge,
        tol: settings.tol,
        max_iters: settings.max_iters,
        rank: settings.rank.min(n),
        ..IterativeOptions::default()
    };
    let mut history = Vec::new();
    let every = settings.print_every;
    let mut show = |p: &Progress| {
        let name = match p.stage {
            Stage::Pcg => "pcg",
            Stage::Lanczos => "lanczos",
            Stage::Scan | Stage::Preconditioner => return,
        };
        history.push((name, p.iteration, p.residual));
        if every > 0 && p.iteration.is_multiple_of(every) {
            eprintln!(
                "{name} iteration {}: residual {:.3e}",
                p.iteration, p.residual
            );
        }
    };
    let out = gradient_flow(
        &a,
        Some(&b),
        &y_train.to_matrix(),
        times,
        &Initial::default(),
        true,
        &options,
        &mut show,
    )?;
    Ok(Solved {
        times: times.to_vec(),
        test: out.test.into_iter().map(Outputs::from).collect(),
        train: out
            .train
            .unwrap_or_default()
            .into_iter()
            .map(Outputs::from)
            .collect(),
        reports: out.reports,
        history,
    })
}

impl Solved {
    /// One row per solver: iterations, final residual, seconds.
    pub fn table(&self) -> Table {
        let mut t = Table::new(
            "iterative solvers",
            &["solver", "iterations", "residual", "seconds"],
        );
        for r in &self.reports {
            t.push(vec![
                r.method.to_string(),
                r.iterations.to_string(),
                num(r.residual),
                num(r.seconds),
            ]);
        }
        t
    }

    /// The residual against the iteration, per solver (both axes logarithmic).
    pub fn plot(&self) -> Plot {
        let mut p = Plot::new("convergence", "iteration", "relative residual")
            .log_log()
            .legend_at(Legend::UpperRight);
        for name in ["pcg", "lanczos"] {
            let pts: Vec<(f64, f64)> = self
                .history
                .iter()
                .filter(|h| h.0 == name && h.2.is_finite() && h.2 > 0.0)
                .map(|h| (h.1 as f64, h.2))
                .collect();
            if !pts.is_empty() {
                p = p.with(Series::new(name, pts, Style::LinePoints));
            }
        }
        p
    }
}

table_display!(Solved, |s| figure_with_table(
    &s.plot().to_svg(),
    &s.table()
));

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predict::kernel_regression;

    #[test]
    fn matches_kernel_regression_on_digits() {
        let x = Data::bundled("digits")
            .unwrap()
            .head(200)
            .unit_norm()
            .unwrap();
        let model = Model::new(64, &[512], ntk_engine::Activation::Relu);
        let k = crate::analytic_ntk(&model, &x).unwrap();
        let y = Outputs::from(Matrix::from_fn(200, 1, |i, _| (i % 3) as f64 - 1.0));
        let want = kernel_regression(&k, &y, &k, 1e-2).unwrap();
        let settings = Settings {
            tol: 1e-10,
            print_every: 0,
            ..Settings::default()
        };
        for kernels in [
            Kernels::Matrices {
                train: &k,
                test_train: &k,
            },
            Kernels::Analytic {
                model: &model,
                train: &x,
                test: &x,
            },
        ] {
            let got = predict_with(kernels, &y, &[f64::INFINITY], 1e-2, &settings).unwrap();
            let err = got.test[0].mse(&want).unwrap().sqrt();
            assert!(err < 1e-8, "{err}");
            assert!(!got.history.is_empty());
            assert!(got.to_string().contains("pcg"));
        }
    }
}
