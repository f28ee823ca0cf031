//! `ntk predict`: gradient-flow predictions (MSE loss) at a list of times, `inf` being
//! kernel regression, from precomputed kernels in `.npy` files.
//!
//! The outputs are checked (regular files or new names, distinct from the inputs and from
//! each other) and locked before anything is read; everything is read and checked, and
//! every output computed and checked finite, before the first file is written; both outputs
//! are written in full to exclusive temporary files before either is renamed into place, so
//! a failed run leaves no output behind.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use ntk_engine::data::npy;
use ntk_engine::data::safe_file::{NewFile, Output, available_memory, check_distinct};
use ntk_engine::predict::{FitOptions, GradientFlow, Initial, Matrix};
use ntk_engine::ranks::Ranks;
use ntk_engine::{Error, NpyFile, Parallelism, Result};

/// Arguments of `ntk predict`.
#[derive(Args, Debug)]
pub struct PredictArgs {
    /// Train-train kernel, n_train × n_train (.npy, f32 or f64); may be larger than memory
    /// with --solver cg or auto.
    #[arg(
        long,
        value_name = "KTT.npy",
        required_unless_present = "method",
        conflicts_with = "method"
    )]
    pub(crate) k_train_train: Option<PathBuf>,
    /// Test-train kernel, n_test × n_train.
    #[arg(
        long,
        value_name = "KST.npy",
        required_unless_present = "method",
        conflicts_with = "method"
    )]
    pub(crate) k_test_train: Option<PathBuf>,
    /// Targets, n_train × k (or 1-D for k = 1).
    #[arg(long, value_name = "Y.npy")]
    pub(crate) y_train: PathBuf,
    /// Initial outputs on the training points, the shape of Y (default 0).
    #[arg(long, value_name = "F0.npy")]
    pub(crate) fx_train_0: Option<PathBuf>,
    /// Initial outputs on the test points, n_test × k (default 0).
    #[arg(long, value_name = "G0.npy")]
    pub(crate) fx_test_0: Option<PathBuf>,
    /// Times, comma-separated, each ≥ 0 or inf (= infinity: kernel regression).
    #[arg(
        long,
        value_name = "T1,T2,...",
        value_delimiter = ',',
        required = true,
        value_parser = parse_time,
        allow_negative_numbers = true
    )]
    pub(crate) times: Vec<f64>,
    /// Learning rate η (> 0); only η·t matters.
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub(crate) learning_rate: f64,
    /// Relative ridge: K_train_train + diag_reg·(trace/n_train)·I.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub(crate) diag_reg: f64,
    /// Test predictions, T × n_test × k, f64 (written atomically).
    #[arg(long, value_name = "PRED.npy")]
    pub(crate) out: PathBuf,
    /// Training-set predictions, T × n_train × k, f64.
    #[arg(long, value_name = "PRED_TRAIN.npy")]
    pub(crate) out_train: Option<PathBuf>,
    /// Threads (0 = one per core; at most 4 per core).
    #[arg(long, default_value_t = 0)]
    pub(crate) threads: usize,
    /// The iterative solvers and the matrix-free form (see `crate::solve`).
    #[command(flatten)]
    pub(crate) iterative: crate::solve::SolverArgs,
}

/// `inf`/`infinity` (any case) or a number `≥ 0`.
fn parse_time(s: &str) -> core::result::Result<f64, String> {
    let bad = || format!("`{s}` is not a time: expected a number ≥ 0, inf or infinity");
    let t: f64 = s.trim().parse().map_err(|_| bad())?;
    if t >= 0.0 { Ok(t) } else { Err(bad()) }
}

/// A loaded array: its file, shape, and values as `f64`, all finite.
pub(crate) struct Array {
    path: PathBuf,
    shape: Vec<usize>,
    data: Vec<f64>,
}

impl Array {
    pub(crate) fn load(path: &Path) -> Result<Self> {
        let file = NpyFile::open(path)?;
        let shape = file.shape().to_vec();
        let data = file.to_f64_vec();
        if let Some(p) = data.iter().position(|v| !v.is_finite()) {
            let cols = match shape[..] {
                [_, c, ..] if c > 0 => c,
                _ => 1,
            };
            return Err(Error::NonFinite {
                what: path.display().to_string(),
                row: p / cols,
                col: p % cols,
                value: data[p],
            });
        }
        Ok(Array {
            path: path.to_path_buf(),
            shape,
            data,
        })
    }

    /// A 2-D non-empty array (or, with `vector_ok`, a 1-D one as a column).
    pub(crate) fn matrix(self, what: &str, vector_ok: bool) -> Result<Matrix> {
        let (rows, cols) = match self.shape[..] {
            [r, c] if r > 0 && c > 0 => (r, c),
            [n] if vector_ok && n > 0 => (n, 1),
            _ => {
                let want = if vector_ok { "1-D or 2-D" } else { "2-D" };
                return Err(Error::npy(
                    &self.path,
                    format!(
                        "shape {:?}: the {what} must be a non-empty {want} array",
                        self.shape
                    ),
                ));
            }
        };
        Matrix::new(rows, cols, self.data)
    }
}

/// `got == expected`, or an error naming `file` and what the size must equal.
pub(crate) fn same(file: &Path, what: &str, expected: usize, got: usize) -> Result<()> {
    if expected == got {
        return Ok(());
    }
    Err(Error::DimensionMismatch {
        what: format!("{}: {what}", file.display()),
        expected,
        got,
    })
}

/// The largest `|K_ij − K_ji|` accepted in `k_train_train`, relative to its largest entry:
/// above f32 rounding (a kernel computed in f32 by another tool), far below a mistake.
pub const SYMMETRY_TOLERANCE: f64 = 1e-5;

/// Refuses a train-train kernel that is not symmetric within [`SYMMETRY_TOLERANCE`].
fn symmetric(path: &Path, k: &Matrix) -> Result<()> {
    let n = k.rows;
    let scale = k.data.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let mut worst = (0.0f64, 0, 0);
    for i in 0..n {
        for j in 0..i {
            let d = (k.data[i * n + j] - k.data[j * n + i]).abs();
            if d > worst.0 {
                worst = (d, i, j);
            }
        }
    }
    if worst.0 > SYMMETRY_TOLERANCE * scale {
        let (d, i, j) = worst;
        return Err(Error::npy(
            path,
            format!(
                "not symmetric: |K[{i}, {j}] − K[{j}, {i}]| = {d:e}, more than {SYMMETRY_TOLERANCE:e} \
                 × the largest entry {scale:e} (a train-train kernel must be symmetric)"
            ),
        ));
    }
    Ok(())
}

/// The first non-finite entry of the predictions as an error naming the file and index.
fn finite_result(path: &Path, per_time: &[Matrix], times: &[f64]) -> Result<()> {
    for (t, m) in per_time.iter().enumerate() {
        if let Some(p) = m.data.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFiniteResult {
                what: format!("predictions {}", path.display()),
                index: format!("[{t}, {}, {}] (time {})", p / m.cols, p % m.cols, times[t]),
                value: m.data[p],
                cause: "the kernels, targets or initial outputs are too large (values near \
                        1e308 overflow), or the learning rate × time is; rescale them"
                    .into(),
            });
        }
    }
    Ok(())
}

/// Runs the command; returns a short summary. Under several `ranks`, rank 0 runs it alone
/// (the others return an empty text at once).
pub fn run(args: PredictArgs, ranks: Option<&dyn Ranks>) -> Result<String> {
    let ranks = ranks.filter(|r| r.size() > 1);
    // Under ranks `auto` is `cg`: the dense path's budget test reads each node's memory,
    // and every rank must take the same path.
    let iterative = ranks.is_some() && crate::solve::shared_solver(&args);
    if let Some(r) = ranks {
        if !iterative {
            // Not shared: rank 0 runs it alone.
            if let Some(failed) = r.start(true) {
                return Err(Error::invalid(
                    "MPI rank",
                    failed,
                    "every rank to start (that rank reports its error)",
                ));
            }
            if r.rank() != 0 {
                return Ok(String::new());
            }
        } else if r.rank() != 0 {
            // The iterative solve is shared; the outputs are rank 0's.
            let threads = crate::common::threads(args.threads);
            return crate::solve::run(&args, None, threads, Some(r));
        }
    }
    let out = Output::new("--out", &args.out)?;
    let out_train = args
        .out_train
        .as_ref()
        .map(|p| Output::new("--out-train", p))
        .transpose()?;
    let mut inputs: Vec<(&str, &Path)> = vec![("--y-train", args.y_train.as_path())];
    inputs.extend(
        args.k_train_train
            .as_deref()
            .map(|p| ("--k-train-train", p)),
    );
    inputs.extend(args.k_test_train.as_deref().map(|p| ("--k-test-train", p)));
    inputs.extend(args.fx_train_0.as_deref().map(|p| ("--fx-train-0", p)));
    inputs.extend(args.fx_test_0.as_deref().map(|p| ("--fx-test-0", p)));
    inputs.extend(args.iterative.input_paths());
    let outputs: Vec<&Output> = std::iter::once(&out).chain(out_train.as_ref()).collect();
    check_distinct(&inputs, &outputs)?;
    let _locks = outputs
        .iter()
        .map(|o| o.lock())
        .collect::<Result<Vec<_>>>()?;
    let threads = crate::common::threads(args.threads);
    let outs = (&out, out_train.as_ref());

    if iterative || crate::solve::is_iterative(&args)? {
        return crate::solve::run(&args, Some(outs), threads, ranks);
    }
    let Some(ktt_path) = &args.k_train_train else {
        // --method without an iterative solver computes the kernels in memory.
        return crate::solve::run_dense_matrix_free(&args, outs, threads);
    };
    let Some(k_test_train) = &args.k_test_train else {
        return Err(Error::invalid(
            "--k-test-train",
            "none",
            "a test-train kernel file",
        ));
    };
    let ktt = Array::load(ktt_path)?.matrix("train-train kernel", false)?;
    let n = ktt.rows;
    same(
        ktt_path,
        "number of columns (a kernel must be square)",
        n,
        ktt.cols,
    )?;
    symmetric(ktt_path, &ktt)?;
    let trace: f64 = (0..n).map(|i| ktt.data[i * n + i]).sum();
    let ridge = args.diag_reg * trace / n as f64;
    if args.diag_reg.is_finite() && !ridge.is_finite() {
        return Err(Error::invalid(
            "--diag-reg",
            format!("{:e}", args.diag_reg),
            format!(
                "a value whose ridge diag_reg × trace/n stays finite (trace/n of {} is {:e})",
                ktt_path.display(),
                trace / n as f64
            ),
        ));
    }
    let kst = Array::load(k_test_train)?.matrix("test-train kernel", false)?;
    let m = kst.rows;
    let n_train = format!("n_train, the size of {}", ktt_path.display());
    same(
        k_test_train,
        &format!("number of columns (must equal {n_train})"),
        n,
        kst.cols,
    )?;
    let y = Array::load(&args.y_train)?.matrix("targets", true)?;
    let k = y.cols;
    same(
        &args.y_train,
        &format!("number of rows (must equal {n_train})"),
        n,
        y.rows,
    )?;
    let k_of_y = format!("k, the columns of {}", args.y_train.display());
    let f0 = match &args.fx_train_0 {
        None => None,
        Some(p) => {
            let f = Array::load(p)?.matrix("initial train outputs", k == 1)?;
            same(
                p,
                &format!("number of rows (must equal {n_train})"),
                n,
                f.rows,
            )?;
            same(
                p,
                &format!("number of columns (must equal {k_of_y})"),
                k,
                f.cols,
            )?;
            Some(f)
        }
    };
    let g0 = match &args.fx_test_0 {
        None => None,
        Some(p) => {
            let g = Array::load(p)?.matrix("initial test outputs", k == 1)?;
            let n_test = format!("n_test, the rows of {}", k_test_train.display());
            same(
                p,
                &format!("number of rows (must equal {n_test})"),
                m,
                g.rows,
            )?;
            same(
                p,
                &format!("number of columns (must equal {k_of_y})"),
                k,
                g.cols,
            )?;
            Some(g)
        }
    };

    // The outputs' size, checked against the memory available before computing them.
    let t = args.times.len();
    let rows = m.saturating_add(if args.out_train.is_some() { n } else { 0 });
    let bytes = t.saturating_mul(rows).saturating_mul(k).saturating_mul(8);
    if let Some(avail) = available_memory()
        && bytes > avail
    {
        return Err(Error::invalid(
            "--times",
            format!("{t} times"),
            format!(
                "outputs that fit in memory ({bytes} bytes needed for {t} × {rows} × {k} values, \
                 {avail} available)"
            ),
        ));
    }
    let start = Instant::now();
    let options = FitOptions {
        learning_rate: args.learning_rate,
        diag_reg: args.diag_reg,
        parallelism: Parallelism::threads(threads),
    };
    let initial = Initial {
        fx_train_0: f0.as_ref(),
        fx_test_0: g0.as_ref(),
    };
    // The t = ∞ solve names the kernel's file when the kernel is not positive definite.
    let on_file = |e: Error| match e {
        Error::NotPositiveDefinite { .. } => Error::npy(ktt_path, e.to_string()),
        other => other,
    };
    let flow = GradientFlow::fit(&ktt, &y, &options)?;
    // The flow holds its own (regularised) copy: free the one read, before the
    // eigendecomposition needs its working memory (n² numbers each).
    drop(ktt);
    let test = flow
        .predict_test(&args.times, &kst, &initial)
        .map_err(on_file)?;
    let train = match &args.out_train {
        Some(_) => Some(flow.predict_train(&args.times, &initial)?),
        None => None,
    };
    let seconds = start.elapsed().as_secs_f64();
    publish(&args, outs, (m, n, k), &test, train.as_deref())?;

    let mut text = format!(
        "gradient flow (MSE), n_train {n}, n_test {m}, k {k}, {t} times in {seconds:.3} s\n  \
         test predictions [{t}, {m}, {k}] -> {}\n",
        args.out.display()
    );
    if let Some(path) = &args.out_train {
        text.push_str(&format!(
            "  train predictions [{t}, {n}, {k}] -> {}\n",
            path.display()
        ));
    }
    Ok(text)
}

/// Checks that the predictions are finite, then writes the test (`T × m × k`) and training
/// (`T × n × k`) predictions, both complete on disk before either is renamed into place.
pub(crate) fn publish(
    args: &PredictArgs,
    (out, out_train): (&Output, Option<&Output>),
    (m, n, k): (usize, usize, usize),
    test: &[Matrix],
    train: Option<&[Matrix]>,
) -> Result<()> {
    let t = args.times.len();
    finite_result(&args.out, test, &args.times)?;
    if let (Some(path), Some(train)) = (&args.out_train, train) {
        finite_result(path, train, &args.times)?;
    }
    let test_file = write(out, &[t, m, k], test)?;
    let train_file = match (out_train, train) {
        (Some(o), Some(train)) => Some((o, write(o, &[t, n, k], train)?)),
        _ => None,
    };
    test_file.commit(out)?;
    if let Some((o, f)) = train_file
        && let Err(e) = f.commit(o)
    {
        let _ = std::fs::remove_file(&args.out);
        return Err(e);
    }
    Ok(())
}

fn write(out: &Output, shape: &[usize], per_time: &[Matrix]) -> Result<NewFile> {
    npy::write_temp(
        out,
        shape,
        per_time.iter().flat_map(|m| m.data.iter().copied()),
    )
}
