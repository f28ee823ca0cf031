//! Gradient-flow predictions by Krylov methods on a [`KernelOperator`]: the iterative twin
//! of [`GradientFlow`](crate::predict::GradientFlow), with the same conventions (see
//! [`crate::predict`]) and the same results to the solver's tolerance.

use std::time::Instant;

use faer::Mat;

use super::lanczos::lanczos;
use super::operator::KernelOperator;
use super::pcg::pcg;
use super::rpcholesky::Preconditioner;
use super::{Progress, Stage};
use crate::error::{Error, Result};
use crate::predict::{Initial, Matrix, linalg, validate};

/// Settings of [`gradient_flow`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IterativeOptions {
    /// Learning rate `η > 0`; only `η·t` matters. Default 1.
    pub learning_rate: f64,
    /// Relative ridge `≥ 0`: `λ = diag_reg·tr(K)/n`, as in [`crate::predict`]. Default 0.
    pub diag_reg: f64,
    /// Relative residual (PCG) and error estimate (Lanczos) to stop at, in `(0, 1)`.
    /// Default `1e-6`.
    pub tol: f64,
    /// Iteration limit of each solver (`≥ 1`); reaching it is an
    /// [`Error::NotConverged`]. Default 1000.
    pub max_iters: usize,
    /// Rank of the randomly pivoted Cholesky preconditioner (`0`: none; at most `n`).
    /// Default 100.
    pub rank: usize,
    /// Seed of the preconditioner's pivots. Default 0.
    pub seed: u64,
}

impl Default for IterativeOptions {
    fn default() -> Self {
        IterativeOptions {
            learning_rate: 1.0,
            diag_reg: 0.0,
            tol: 1e-6,
            max_iters: 1000,
            rank: 100,
            seed: 0,
        }
    }
}

/// What one solver did.
#[derive(Clone, Debug, PartialEq)]
pub struct SolveReport {
    /// `"pcg"` or `"lanczos"`.
    pub method: &'static str,
    /// Iterations (passes over `K`, one for the whole block of outputs).
    pub iterations: usize,
    /// PCG: the true final relative residual, the maximum over outputs; Lanczos: the final
    /// error estimate.
    pub residual: f64,
    /// Wall time, seconds.
    pub seconds: f64,
}

/// The predictions and how they were computed.
#[derive(Clone, Debug)]
pub struct Predictions {
    /// `f_test(t)` at each time, `n_test × k` (empty without a test kernel).
    pub test: Vec<Matrix>,
    /// `f_train(t)` at each time, `n_train × k`, when asked for.
    pub train: Option<Vec<Matrix>>,
    /// The ridge `λ` added to the train-train kernel.
    pub lambda: f64,
    /// Seconds of the first pass (checks and the diagonal).
    pub scan_seconds: f64,
    /// Rank reached by the preconditioner and its seconds (`t = ∞` only).
    pub preconditioner: Option<(usize, f64)>,
    /// The solvers run: PCG for `t = ∞`, Lanczos for the finite times.
    pub reports: Vec<SolveReport>,
}

/// The gradient-flow predictions of [`crate::predict`]'s module docs at `times`, for the
/// train-train kernel `k_train_train` (square, symmetric, positive semi-definite; checked
/// finite and symmetric in a first pass) and, when given, the test-train kernel
/// `k_test_train` (`n_test × n_train`), with targets `y_train` (`n_train × k`). Training
/// predictions are computed when `want_train`. `progress` hears every iteration.
///
/// Errors: the checks of [`KernelOperator::scan`]; shapes and values as in
/// [`GradientFlow`](crate::predict::GradientFlow); `rank > n`, `tol ∉ (0, 1)`,
/// `max_iters = 0`; [`Error::Breakdown`] when conjugate gradients meet non-positive
/// curvature (an indefinite kernel), with its iteration; [`Error::NotConverged`] at the
/// iteration limit.
#[allow(clippy::too_many_arguments)]
pub fn gradient_flow(
    k_train_train: &KernelOperator<'_>,
    k_test_train: Option<&KernelOperator<'_>>,
    y_train: &Matrix,
    times: &[f64],
    initial: &Initial<'_>,
    want_train: bool,
    opts: &IterativeOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Predictions> {
    validate::times(times)?;
    validate::scalar("learning_rate", opts.learning_rate, 0.0, true)?;
    validate::scalar("diag_reg", opts.diag_reg, 0.0, false)?;
    if !(opts.tol > 0.0 && opts.tol < 1.0) {
        return Err(Error::invalid("tol", opts.tol, "a number in (0, 1)"));
    }
    if opts.max_iters == 0 {
        return Err(Error::invalid("max_iters", 0, "at least 1"));
    }
    validate::finite("y_train", y_train)?;
    let (n, _) = k_train_train.shape();
    if opts.rank > n {
        return Err(Error::invalid(
            "rank",
            opts.rank,
            format!("at most n = {n}, the number of training points"),
        ));
    }
    let n_train = format!("n_train, the size of {}", k_train_train.name());
    validate::rows("y_train", y_train, n, &n_train)?;
    let k = y_train.cols;
    let m = match k_test_train {
        Some(op) => {
            let (m, cols) = op.shape();
            if cols != n {
                return Err(Error::DimensionMismatch {
                    what: format!("{}: number of columns (must equal {n_train})", op.name()),
                    expected: n,
                    got: cols,
                });
            }
            m
        }
        None => 0,
    };
    let f0 = match initial.fx_train_0 {
        None => Mat::zeros(n, k),
        Some(f) => {
            validate::finite("fx_train_0", f)?;
            validate::rows("fx_train_0", f, n, &n_train)?;
            validate::cols("fx_train_0", f, k, "k, the columns of y_train")?;
            f.to_faer()
        }
    };
    let g0 = match initial.fx_test_0 {
        None => Mat::zeros(m, k),
        Some(g) => {
            validate::finite("fx_test_0", g)?;
            validate::rows("fx_test_0", g, m, "n_test, the rows of k_test_train")?;
            validate::cols("fx_test_0", g, k, "k, the columns of y_train")?;
            g.to_faer()
        }
    };

    let start = Instant::now();
    let scan = k_train_train.scan()?;
    let scan_seconds = start.elapsed().as_secs_f64();
    progress(&Progress {
        stage: Stage::Scan,
        iteration: 1,
        max_iters: 1,
        residual: 1.0,
    });
    // As GradientFlow::fit: the trace summed in order, then diag_reg·trace/n.
    let lambda = if opts.diag_reg > 0.0 {
        let trace: f64 = scan.diagonal.iter().sum();
        opts.diag_reg * trace / n as f64
    } else {
        0.0
    };
    let y = y_train.to_faer();
    let residual0 = &y - &f0;
    let rate = opts.learning_rate / (n * k) as f64;
    let mut reports = Vec::new();
    let mut preconditioner = None;

    // t = ∞: kernel regression by PCG.
    let at_infinity = if times.iter().any(|t| t.is_infinite()) {
        let t0 = Instant::now();
        let p = if opts.rank == 0 {
            Preconditioner::identity(n)
        } else {
            Preconditioner::rpcholesky(k_train_train, &scan.diagonal, opts.rank, lambda, opts.seed)?
        };
        progress(&Progress {
            stage: Stage::Preconditioner,
            iteration: 1,
            max_iters: 1,
            residual: 1.0,
        });
        preconditioner = Some((p.rank(), t0.elapsed().as_secs_f64()));
        let out = pcg(
            k_train_train,
            lambda,
            &residual0,
            &p,
            opts.tol,
            opts.max_iters,
            progress,
        )?;
        reports.push(SolveReport {
            method: "pcg",
            iterations: out.iterations,
            residual: out.residual,
            seconds: out.seconds,
        });
        let test = match k_test_train {
            Some(op) => Some(&g0 + op.apply_mat(&out.solution)?),
            None => None,
        };
        Some(test)
    } else {
        None
    };

    // Finite times: one Krylov basis for all of them.
    let finite: Vec<f64> = times
        .iter()
        .filter(|t| t.is_finite())
        .map(|&t| rate * t)
        .collect();
    let mut finite_test: Vec<Mat<f64>> = Vec::new();
    let mut finite_train: Vec<Mat<f64>> = Vec::new();
    if !finite.is_empty() {
        let train_fns: Vec<Box<dyn Fn(f64) -> f64>> = if want_train {
            finite
                .iter()
                .map(|&s| Box::new(move |l| linalg::expm1_decay(l, s)) as Box<dyn Fn(f64) -> f64>)
                .collect()
        } else {
            Vec::new()
        };
        let test_fns: Vec<Box<dyn Fn(f64) -> f64>> = if k_test_train.is_some() {
            finite
                .iter()
                .map(|&s| Box::new(move |l| linalg::inv_expm1(l, s)) as Box<dyn Fn(f64) -> f64>)
                .collect()
        } else {
            Vec::new()
        };
        let fs: Vec<&dyn Fn(f64) -> f64> = train_fns
            .iter()
            .chain(&test_fns)
            .map(|f| f.as_ref())
            .collect();
        let krylov = lanczos(
            k_train_train,
            lambda,
            &residual0,
            &fs,
            finite.iter().copied().fold(0.0, f64::max),
            opts.tol,
            opts.max_iters,
            progress,
        )?;
        reports.push(SolveReport {
            method: "lanczos",
            iterations: krylov.iterations,
            residual: krylov.estimate,
            seconds: krylov.seconds,
        });
        for f in &train_fns {
            finite_train.push(&f0 - krylov.apply(f.as_ref()));
        }
        if let Some(op) = k_test_train {
            // Every time's φ_s(A)·R side by side: one pass over K_test,train.
            let zs: Vec<Mat<f64>> = test_fns.iter().map(|f| krylov.apply(f.as_ref())).collect();
            let stacked = Mat::from_fn(n, zs.len() * k, |i, c| zs[c / k][(i, c % k)]);
            let kz = op.apply_mat(&stacked)?;
            for (t, _) in zs.iter().enumerate() {
                finite_test.push(Mat::from_fn(m, k, |i, c| g0[(i, c)] + kz[(i, t * k + c)]));
            }
        }
    }

    let mut test = Vec::new();
    let mut train = Vec::new();
    let mut f = 0;
    for &t in times {
        if t.is_infinite() {
            if let Some(Some(g)) = &at_infinity {
                test.push(Matrix::from_faer(g.as_ref()));
            }
            train.push(y_train.clone());
        } else {
            if let Some(g) = finite_test.get(f) {
                test.push(Matrix::from_faer(g.as_ref()));
            }
            if let Some(g) = finite_train.get(f) {
                train.push(Matrix::from_faer(g.as_ref()));
            }
            f += 1;
        }
    }
    Ok(Predictions {
        test,
        train: want_train.then_some(train),
        lambda,
        scan_seconds,
        preconditioner,
        reports,
    })
}
