//! `ntk predict`: gradient-flow predictions (MSE loss) at a list of times, `inf` being
//! kernel regression, from precomputed kernels in `.npy` files.
//!
//! Everything is read and checked, and every output computed, before the first file is
//! written; the writer is atomic, and a failure writing the second output removes the
//! first, so a failed run leaves no output behind.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use ntk_engine::data::npy;
use ntk_engine::predict::{FitOptions, GradientFlow, Initial, Matrix};
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
    /// Threads (0 = one per core).
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

/// Runs the command and prints a short summary.
pub fn run(args: PredictArgs) -> Result<()> {
    if crate::solve::is_iterative(&args)? {
        return crate::solve::run(&args);
    }
    let Some(ktt_path) = &args.k_train_train else {
        // --method without an iterative solver computes the kernels in memory.
        return crate::solve::run_dense_matrix_free(&args);
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

    let start = Instant::now();
    let options = FitOptions {
        learning_rate: args.learning_rate,
        diag_reg: args.diag_reg,
        parallelism: Parallelism::threads(args.threads),
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
    let test = flow
        .predict_test(&args.times, &kst, &initial)
        .map_err(on_file)?;
    let train = match &args.out_train {
        Some(_) => Some(flow.predict_train(&args.times, &initial)?),
        None => None,
    };
    let seconds = start.elapsed().as_secs_f64();

    let t = args.times.len();
    write(&args.out, &[t, m, k], &test)?;
    if let (Some(path), Some(train)) = (&args.out_train, &train)
        && let Err(e) = write(path, &[t, n, k], train)
    {
        let _ = std::fs::remove_file(&args.out);
        return Err(e);
    }

    println!("gradient flow (MSE), n_train {n}, n_test {m}, k {k}, {t} times in {seconds:.3} s");
    println!(
        "  test predictions [{t}, {m}, {k}] -> {}",
        args.out.display()
    );
    if let Some(path) = &args.out_train {
        println!("  train predictions [{t}, {n}, {k}] -> {}", path.display());
    }
    Ok(())
}

pub(crate) fn write(path: &Path, shape: &[usize], per_time: &[Matrix]) -> Result<()> {
    npy::write(
        path,
        shape,
        per_time.iter().flat_map(|m| m.data.iter().copied()),
    )
}
