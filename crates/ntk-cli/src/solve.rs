//! `ntk predict --solver cg|auto` and the matrix-free `ntk predict --method …`: kernels
//! larger than memory, streamed from a file or recomputed, solved by the engine's Krylov
//! methods (`ntk_engine::solve`). This module reads flags and files, shows progress and
//! writes the outputs; the numerics are the engine's.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use ntk_engine::gram::out_of_core::default_memory_budget;
use ntk_engine::gram::{EmpiricalOptions, Weights};
use ntk_engine::predict::{FitOptions, GradientFlow, Initial, Matrix};
use ntk_engine::solve::{
    IterativeOptions, KernelOperator, Progress, Solver, Stage, choose, gradient_flow,
};
use ntk_engine::{
    AnalyticOptions, Error, Mlp, NpyFile, Parallelism, Params, Points, Result, analytic, empirical,
};

use crate::kernel::{ModelArgs, parse_bytes};
use ntk_engine::data::safe_file::Output;
use ntk_engine::ranks::Ranks;

use crate::predict::{Array, PredictArgs, publish, same};

/// Flags of the iterative path and of the matrix-free form of `ntk predict`.
#[derive(Args, Debug)]
pub struct SolverArgs {
    /// dense (eigendecomposition in memory), cg (conjugate gradients for inf and Lanczos for
    /// finite times, on a kernel streamed from disk or recomputed), or auto: cg when the
    /// dense path's memory, 48·n² bytes, exceeds --memory-budget.
    #[arg(long, default_value = "auto", value_parser = ["dense", "cg", "auto"])]
    solver: String,
    /// Rank of the randomly pivoted Cholesky preconditioner (0 = none; at most n_train).
    #[arg(long, default_value_t = 100)]
    rank: usize,
    /// Relative residual (CG) or error estimate (Lanczos) to stop at, in (0, 1).
    #[arg(long, default_value_t = 1e-6)]
    tol: f64,
    /// Iteration limit; reaching it is an error (no output is written).
    #[arg(long, default_value_t = 1000)]
    max_iters: usize,
    /// Memory for kernel bands, in bytes (suffixes K, M, G); default: half of the
    /// available memory. Also what --solver auto compares the dense path against.
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    memory_budget: Option<usize>,
    /// Matrix-free: recompute the analytic or empirical kernel from the inputs (never
    /// stored) instead of reading kernel files; takes the model flags of `ntk kernel`.
    #[arg(long, value_parser = ["analytic", "empirical"], requires_all = ["x_train", "x_test"])]
    pub(crate) method: Option<String>,
    /// Training inputs for --method, n_train × d (.npy).
    #[arg(long, value_name = "X.npy", requires = "method")]
    x_train: Option<PathBuf>,
    /// Test inputs for --method, n_test × d (.npy).
    #[arg(long, value_name = "XS.npy", requires = "method")]
    x_test: Option<PathBuf>,
    /// The model (with --method).
    #[command(flatten)]
    model: ModelArgs,
}

impl SolverArgs {
    /// The input files of the matrix-free form, named by their flags.
    pub(crate) fn input_paths(&self) -> Vec<(&'static str, &std::path::Path)> {
        let mut v = Vec::new();
        v.extend(self.x_train.as_deref().map(|p| ("--x-train", p)));
        v.extend(self.x_test.as_deref().map(|p| ("--x-test", p)));
        v
    }
}

/// `true` when the run goes to the iterative path: `--solver cg`, or `auto` with a
/// train-train kernel (file or recomputed) whose dense path exceeds the budget.
pub fn is_iterative(args: &PredictArgs) -> Result<bool> {
    let s = &args.iterative;
    let n = match (&args.k_train_train, &s.x_train) {
        (Some(p), _) => NpyFile::open(p)?.shape().first().copied().unwrap_or(0),
        (None, Some(p)) => NpyFile::open(p)?.shape().first().copied().unwrap_or(0),
        (None, None) => 0,
    };
    Ok(match s.solver.as_str() {
        "cg" => true,
        "dense" => false,
        _ => choose(n, budget(s)) == Solver::Iterative,
    })
}

/// `true` when several ranks share the run: `--solver cg` or `auto` (the same on every
/// rank, whatever its node's memory).
pub fn shared_solver(args: &PredictArgs) -> bool {
    args.iterative.solver != "dense"
}

fn budget(s: &SolverArgs) -> usize {
    s.memory_budget.unwrap_or_else(default_memory_budget)
}

/// The targets and initial outputs, checked against `n` and `m`.
struct Targets {
    y: Matrix,
    f0: Option<Matrix>,
    g0: Option<Matrix>,
}

fn targets(args: &PredictArgs, n: usize, n_what: &str, m: usize, m_what: &str) -> Result<Targets> {
    let y = Array::load(&args.y_train)?.matrix("targets", true)?;
    let k = y.cols;
    let n_train = format!("n_train, {n_what}");
    same(
        &args.y_train,
        &format!("number of rows (must equal {n_train})"),
        n,
        y.rows,
    )?;
    let k_of_y = format!("k, the columns of {}", args.y_train.display());
    let load = |p: &PathBuf, what: &str, rows: usize, rows_what: &str| -> Result<Matrix> {
        let f = Array::load(p)?.matrix(what, k == 1)?;
        same(
            p,
            &format!("number of rows (must equal {rows_what})"),
            rows,
            f.rows,
        )?;
        same(
            p,
            &format!("number of columns (must equal {k_of_y})"),
            k,
            f.cols,
        )?;
        Ok(f)
    };
    let f0 = args
        .fx_train_0
        .as_ref()
        .map(|p| load(p, "initial train outputs", n, &n_train))
        .transpose()?;
    let g0 = args
        .fx_test_0
        .as_ref()
        .map(|p| load(p, "initial test outputs", m, &format!("n_test, {m_what}")))
        .transpose()?;
    Ok(Targets { y, f0, g0 })
}

/// The inputs of the matrix-free form, and the model.
struct Inputs {
    train: NpyFile,
    test: NpyFile,
    model: Mlp,
    params: Option<Params>,
}

fn inputs(s: &SolverArgs) -> Result<Inputs> {
    let (Some(xp), Some(xsp)) = (&s.x_train, &s.x_test) else {
        return Err(Error::invalid(
            "--method",
            s.method.clone().unwrap_or_default(),
            "--x-train X.npy and --x-test XS.npy with it",
        ));
    };
    let train = NpyFile::open(xp)?;
    let test = NpyFile::open(xsp)?;
    let d = Points::from_npy(&train)?.cols();
    let ds = Points::from_npy(&test)?.cols();
    if ds != d {
        return Err(Error::DimensionMismatch {
            what: format!(
                "{}: feature dimension (must equal that of {})",
                xsp.display(),
                xp.display()
            ),
            expected: d,
            got: ds,
        });
    }
    let model = s.model.mlp(d)?;
    let params = match (s.method.as_deref(), &s.model.weights) {
        (Some("empirical"), Some(dir)) => Some(Params::load_dir(dir, &model)?),
        (Some("analytic"), Some(dir)) => {
            return Err(Error::invalid(
                "--weights",
                dir.display(),
                "no explicit weights with --method analytic (the infinite-width kernel does not depend on them)",
            ));
        }
        _ => None,
    };
    Ok(Inputs {
        train,
        test,
        model,
        params,
    })
}

fn analytic_options(s: &SolverArgs, threads: usize) -> AnalyticOptions {
    AnalyticOptions {
        kind: s.model.kind,
        parallelism: Parallelism::threads(threads),
        ..AnalyticOptions::default()
    }
}

fn empirical_options(s: &SolverArgs, threads: usize) -> EmpiricalOptions {
    EmpiricalOptions {
        kind: s.model.kind,
        parallelism: Parallelism::threads(threads),
        ..EmpiricalOptions::default()
    }
}

/// A progress bar on stderr (hidden when stderr is not a terminal) showing the stage,
/// iterations and residual.
fn bar() -> ProgressBar {
    let bar = ProgressBar::new(1);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} {prefix} [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

fn on_progress(bar: &ProgressBar, p: &Progress) {
    let name = match p.stage {
        Stage::Scan => "scan",
        Stage::Preconditioner => "preconditioner",
        Stage::Pcg => "pcg",
        Stage::Lanczos => "lanczos",
    };
    bar.set_prefix(name);
    bar.set_length(p.max_iters as u64);
    bar.set_position(p.iteration as u64);
    bar.set_message(format!("residual {:.2e}", p.residual));
}

/// The iterative path: kernels from files (streamed) or recomputed (matrix-free). With
/// `ranks`, each rank owns a block of the kernels' rows (`KernelOperator::with_ranks`), the
/// iterates are the same bits on every rank and as with one process, and rank 0 alone
/// (the one given `outs`) shows progress and writes the outputs.
pub fn run(
    args: &PredictArgs,
    outs: Option<(&Output, Option<&Output>)>,
    threads: usize,
    ranks: Option<&dyn Ranks>,
) -> Result<String> {
    let s = &args.iterative;
    let start = Instant::now();
    let budget = budget(s);
    let par = Parallelism::threads(threads);
    let loaded = match &s.method {
        Some(_) => Some(inputs(s)?),
        None => None,
    };
    let points = match &loaded {
        Some(i) => Some((Points::from_npy(&i.train)?, Points::from_npy(&i.test)?)),
        None => None,
    };
    let (ktt, kst) = match (&loaded, &points) {
        (Some(inp), Some((p, ps))) => {
            let model = &inp.model;
            if s.method.as_deref() == Some("empirical") {
                let w = match &inp.params {
                    Some(p) => Weights::Explicit(p),
                    None => Weights::Seeded(s.model.seed),
                };
                let o = empirical_options(s, threads);
                (
                    KernelOperator::empirical(model, w, p, None, o, budget)?,
                    KernelOperator::empirical(model, w, ps, Some(p), o, budget)?,
                )
            } else {
                let o = analytic_options(s, threads);
                (
                    KernelOperator::analytic(model, p, None, o, budget)?,
                    KernelOperator::analytic(model, ps, Some(p), o, budget)?,
                )
            }
        }
        _ => {
            let (Some(a), Some(b)) = (&args.k_train_train, &args.k_test_train) else {
                return Err(Error::invalid(
                    "kernels",
                    "none",
                    "--k-train-train and --k-test-train, or --method with --x-train and --x-test",
                ));
            };
            (
                KernelOperator::mapped(a, budget, par)?,
                KernelOperator::mapped(b, budget, par)?,
            )
        }
    };
    let (ktt, kst) = (ktt.with_parallelism(par), kst.with_parallelism(par));
    let (ktt, kst) = match ranks {
        Some(r) => (ktt.with_ranks(r), kst.with_ranks(r)),
        None => (ktt, kst),
    };
    let (n, _) = ktt.shape();
    let (m, _) = kst.shape();
    let t = targets(
        args,
        n,
        &format!("the size of {}", ktt.name()),
        m,
        &format!("the rows of {}", kst.name()),
    )?;
    let k = t.y.cols;
    let opts = IterativeOptions {
        learning_rate: args.learning_rate,
        diag_reg: args.diag_reg,
        tol: s.tol,
        max_iters: s.max_iters,
        rank: s.rank,
        seed: 0,
    };
    let initial = Initial {
        fx_train_0: t.f0.as_ref(),
        fx_test_0: t.g0.as_ref(),
    };
    if let Some(failed) = ranks.and_then(|r| r.start(true)) {
        return Err(Error::invalid(
            "MPI rank",
            failed,
            "every rank to start (that rank reports its error)",
        ));
    }
    let Some(outs) = outs else {
        // Another rank than 0: its share of every product, no outputs.
        gradient_flow(
            &ktt,
            Some(&kst),
            &t.y,
            &args.times,
            &Initial {
                fx_train_0: t.f0.as_ref(),
                fx_test_0: t.g0.as_ref(),
            },
            args.out_train.is_some(),
            &opts,
            &mut |_| {},
        )?;
        return Ok(String::new());
    };
    let bar = bar();
    let result = gradient_flow(
        &ktt,
        Some(&kst),
        &t.y,
        &args.times,
        &initial,
        args.out_train.is_some(),
        &opts,
        &mut |p| on_progress(&bar, p),
    );
    bar.finish_and_clear();
    let pred = result?;
    let seconds = start.elapsed().as_secs_f64();

    let nt = args.times.len();
    publish(args, outs, (m, n, k), &pred.test, pred.train.as_deref())?;
    let mut text = format!(
        "gradient flow (MSE), iterative, n_train {n}, n_test {m}, k {k}, {nt} times in {seconds:.3} s\n  \
         kernel {} in bands of {} rows; scan {:.3} s; lambda {:e}\n",
        ktt.name(),
        ktt.band_rows(),
        pred.scan_seconds,
        pred.lambda,
    );
    if let Some((rank, secs)) = pred.preconditioner {
        text.push_str(&format!(
            "  preconditioner: randomly pivoted Cholesky, rank {rank}, {secs:.3} s\n"
        ));
    }
    for r in &pred.reports {
        text.push_str(&format!(
            "  {}: {} iterations, residual {:.3e}, {:.3} s\n",
            r.method, r.iterations, r.residual, r.seconds
        ));
    }
    text.push_str(&format!(
        "  test predictions [{nt}, {m}, {k}] -> {}\n",
        args.out.display()
    ));
    if let Some(path) = &args.out_train {
        text.push_str(&format!(
            "  train predictions [{nt}, {n}, {k}] -> {}\n",
            path.display()
        ));
    }
    Ok(text)
}

/// `--method` with the dense solver: the kernels computed in memory, then the dense path.
pub fn run_dense_matrix_free(
    args: &PredictArgs,
    outs: (&Output, Option<&Output>),
    threads: usize,
) -> Result<String> {
    let s = &args.iterative;
    let start = Instant::now();
    let inp = inputs(s)?;
    let (p, ps) = (Points::from_npy(&inp.train)?, Points::from_npy(&inp.test)?);
    let (ktt, kst) = if s.method.as_deref() == Some("empirical") {
        let w = match &inp.params {
            Some(p) => Weights::Explicit(p),
            None => Weights::Seeded(s.model.seed),
        };
        let o = empirical_options(s, threads);
        (
            empirical(&inp.model, w, &p, None, &o)?,
            empirical(&inp.model, w, &ps, Some(&p), &o)?,
        )
    } else {
        let o = analytic_options(s, threads);
        (
            analytic(&inp.model, &p, None, &o)?,
            analytic(&inp.model, &ps, Some(&p), &o)?,
        )
    };
    let (n, m) = (ktt.n1, kst.n1);
    let ktt = Matrix::new(n, n, ktt.data)?;
    let kst = Matrix::new(m, n, kst.data)?;
    let t = targets(args, n, "the rows of --x-train", m, "the rows of --x-test")?;
    let k = t.y.cols;
    let options = FitOptions {
        learning_rate: args.learning_rate,
        diag_reg: args.diag_reg,
        parallelism: Parallelism::threads(threads),
    };
    let initial = Initial {
        fx_train_0: t.f0.as_ref(),
        fx_test_0: t.g0.as_ref(),
    };
    let flow = GradientFlow::fit(&ktt, &t.y, &options)?;
    let test = flow.predict_test(&args.times, &kst, &initial)?;
    let train = match &args.out_train {
        Some(_) => Some(flow.predict_train(&args.times, &initial)?),
        None => None,
    };
    let seconds = start.elapsed().as_secs_f64();
    let nt = args.times.len();
    publish(args, outs, (m, n, k), &test, train.as_deref())?;
    Ok(format!(
        "gradient flow (MSE), dense, {} kernels in memory, n_train {n}, n_test {m}, k {k}, {nt} times in {seconds:.3} s\n  \
         test predictions [{nt}, {m}, {k}] -> {}\n",
        s.method.as_deref().unwrap_or("analytic"),
        args.out.display()
    ))
}
