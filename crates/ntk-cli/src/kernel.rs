//! `ntk kernel`: an empirical or analytic Gram matrix from `.npy` inputs.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use ntk_engine::AnalyticOptions;
use ntk_engine::data::npy::Dtype;
use ntk_engine::data::safe_file::{Output, check_distinct};
use ntk_engine::gram::empirical_flops;
use ntk_engine::gram::out_of_core::{
    BandReport, BandedOutput, default_memory_budget, write_analytic, write_empirical,
};
use ntk_engine::gram::{EmpiricalOptions, KernelKind, Precision, Weights};
use ntk_engine::ranks::Ranks;
use ntk_engine::{
    Activation, Dataset, Error, Mlp, NpyFile, Parallelism, Parameterization, Params, Points, Result,
};

/// Arguments of `ntk kernel`.
#[derive(Args, Debug)]
pub struct KernelArgs {
    /// Inputs, a 2-D .npy array (rows = points; f32 or f64, C order).
    #[arg(
        long,
        value_name = "X1.npy",
        required_unless_present = "data",
        conflicts_with = "data"
    )]
    x1: Option<PathBuf>,
    /// A bundled dataset as the inputs: digits, iris, wine or breast-cancer.
    #[arg(long, value_name = "NAME")]
    data: Option<String>,
    /// Second inputs; without it the kernel is x1 × x1.
    #[arg(long, value_name = "X2.npy")]
    x2: Option<PathBuf>,
    /// Output .npy file (written atomically; a new name, a regular file, or a symbolic link
    /// to one, which is replaced).
    #[arg(long, value_name = "K.npy")]
    out: PathBuf,
    /// empirical (finite width) or analytic (infinite width).
    #[arg(long, default_value = "analytic", value_parser = ["empirical", "analytic"])]
    method: String,
    /// The model.
    #[command(flatten)]
    model: ModelArgs,
    /// Write the full n1 × n2 × k × k kernel instead of the traced n1 × n2.
    #[arg(long)]
    full: bool,
    /// Output dtype; f64 also computes in f64.
    #[arg(long, default_value = "f32")]
    dtype: Precision,
    /// Threads (0 = one per core; at most 4 per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Memory budget for the computation, in bytes (suffixes K, M, G allowed); the kernel is
    /// written to disk in bands of rows that fit. Default: half of the available memory.
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    memory_budget: Option<usize>,
    /// Continue an interrupted run from the bands it already wrote.
    #[arg(long)]
    resume: bool,
}

/// The model's flags, shared by `ntk kernel` and the matrix-free `ntk predict --method`.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// ntk or nngp.
    #[arg(long, default_value = "ntk")]
    pub kind: KernelKind,
    /// Hidden widths, comma-separated; the depth is their count.
    #[arg(long, default_value = "512,512", value_delimiter = ',')]
    pub widths: Vec<usize>,
    /// relu | leaky_relu:0.1 | abs | erf | sigmoid_like | gelu | identity | tanh | softplus | sin.
    #[arg(long, default_value = "relu")]
    pub activation: Activation,
    /// Weight scale W_std.
    #[arg(long, default_value_t = 1.0)]
    pub w_std: f64,
    /// Bias scale b_std.
    #[arg(long, default_value_t = 0.0)]
    pub b_std: f64,
    /// ntk, standard or mean_field (mean_field: empirical only).
    #[arg(long, default_value = "ntk")]
    pub parameterization: Parameterization,
    /// Number of outputs k.
    #[arg(long, default_value_t = 1)]
    pub outputs: usize,
    /// Seed of the initialisation (empirical).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Directory of explicit weights W0.npy, b0.npy, … (overrides --seed).
    #[arg(long, value_name = "DIR")]
    pub weights: Option<PathBuf>,
}

impl ModelArgs {
    /// The network for inputs of dimension `input_dim`, validated.
    pub fn mlp(&self, input_dim: usize) -> Result<Mlp> {
        let model = Mlp {
            input_dim,
            widths: self.widths.clone(),
            activation: self.activation,
            w_std: self.w_std,
            b_std: self.b_std,
            parameterization: self.parameterization,
            outputs: self.outputs,
        };
        model.validate()?;
        Ok(model)
    }
}

/// `123`, `64K`, `512M`, `2G` (powers of 1024; `KiB`, `MB`… spellings accepted).
pub(crate) fn parse_bytes(s: &str) -> std::result::Result<usize, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let scale: f64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1.0,
        "K" | "KB" | "KIB" => 1024.0,
        "M" | "MB" | "MIB" => 1024.0 * 1024.0,
        "G" | "GB" | "GIB" => 1024.0 * 1024.0 * 1024.0,
        _ => {
            return Err(format!(
                "`{s}` is not a size (expected bytes, e.g. 4096, 512M or 2G)"
            ));
        }
    };
    num.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v > 0.0)
        .map(|v| (v * scale) as usize)
        .ok_or_else(|| format!("`{s}` is not a size (expected bytes, e.g. 4096, 512M or 2G)"))
}

/// Everything the kernel's values depend on, for `--resume` to check: the settings and the
/// content hashes (XXH3) of the inputs and weights, never their paths or times.
fn job_key(
    args: &KernelArgs,
    model: &Mlp,
    inputs: &[&NpyFile],
    weights: Option<&Params>,
) -> String {
    let hashes: Vec<String> = inputs
        .iter()
        .map(|f| format!("{:016x}", f.content_hash()))
        .collect();
    let weights = weights.map(|p| {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        for layer in &p.layers {
            for j in 0..layer.w.ncols() {
                for i in 0..layer.w.nrows() {
                    h.update(&layer.w[(i, j)].to_le_bytes());
                }
            }
            layer.b.iter().for_each(|b| h.update(&b.to_le_bytes()));
        }
        format!("{:016x}", h.digest())
    });
    format!(
        "{} {:?} {model} seed={} weights={weights:?} full={} dtype={:?} inputs={hashes:?} x2={}",
        args.method,
        args.model.kind,
        args.model.seed,
        args.full,
        args.dtype,
        args.x2.is_some(),
    )
}

/// Runs the command; returns a one-paragraph summary. With `ranks`, the bands are shared
/// among them (`ntk_engine::gram::ranked`) and the summary is rank 0's (the others return
/// an empty text).
pub fn run(mut args: KernelArgs, ranks: Option<&dyn Ranks>) -> Result<String> {
    let x1 = match (&args.x1, &args.data) {
        (Some(p), _) => p.clone(),
        (None, Some(name)) => Dataset::bundled_path(name)?,
        (None, None) => {
            return Err(Error::invalid(
                "inputs",
                "none",
                "--x1 X1.npy or --data NAME",
            ));
        }
    };
    args.x1 = Some(x1.clone());
    // Outputs first: nothing is read or created for an output that cannot be written.
    let out = Output::new("--out", &args.out)?;
    let mut inputs: Vec<(&str, PathBuf)> = vec![("--x1", x1.clone())];
    if let Some(x2) = &args.x2 {
        inputs.push(("--x2", x2.clone()));
    }
    if let Some(dir) = &args.model.weights {
        for l in 0..=args.model.widths.len() {
            inputs.push(("--weights", dir.join(format!("W{l}.npy"))));
            inputs.push(("--weights", dir.join(format!("b{l}.npy"))));
        }
    }
    let named: Vec<(&str, &std::path::Path)> =
        inputs.iter().map(|(f, p)| (*f, p.as_path())).collect();
    check_distinct(&named, &[&out])?;
    let threads = crate::common::threads(args.threads);
    let f1 = NpyFile::open(&x1)?;
    let p1 = Points::from_npy(&f1)?;
    let f2 = args.x2.as_ref().map(NpyFile::open).transpose()?;
    let p2 = f2.as_ref().map(Points::from_npy).transpose()?;
    if let Some(p2) = &p2
        && p2.cols() != p1.cols()
    {
        return Err(Error::DimensionMismatch {
            what: format!(
                "feature dimension of {} (must equal that of {})",
                f2.as_ref()
                    .map_or(String::new(), |f| f.path().display().to_string()),
                x1.display()
            ),
            expected: p1.cols(),
            got: p2.cols(),
        });
    }
    let model = args.model.mlp(p1.cols())?;
    let start = Instant::now();
    let budget = args.memory_budget.unwrap_or_else(default_memory_budget);
    let input_files: Vec<&NpyFile> = std::iter::once(&f1).chain(f2.as_ref()).collect();
    // Before the file is renamed into place: the inputs must be as they were read.
    let unchanged = || -> Result<()> {
        f1.verify_unchanged()?;
        f2.as_ref().map_or(Ok(()), NpyFile::verify_unchanged)
    };
    let dtype = match args.dtype {
        Precision::F32 => Dtype::F32,
        Precision::F64 => Dtype::F64,
    };
    let (report, flops) = match args.method.as_str() {
        "empirical" => {
            let loaded = args
                .model
                .weights
                .as_ref()
                .map(|d| Params::load_dir(d, &model))
                .transpose()?;
            let weights = match &loaded {
                Some(p) => Weights::Explicit(p),
                None => Weights::Seeded(args.model.seed),
            };
            let opts = EmpiricalOptions {
                kind: args.model.kind,
                full: args.full,
                precision: args.dtype,
                parallelism: Parallelism::threads(threads),
                ..EmpiricalOptions::default()
            };
            let key = job_key(&args, &model, &input_files, loaded.as_ref());
            let banded = BandedOutput {
                before_commit: Some(&unchanged),
                ranks,
                ..BandedOutput::new(&out, dtype, budget, &key, args.resume)
            };
            let report = opts
                .parallelism
                .install(|| write_empirical(&model, weights, &p1, p2.as_ref(), &opts, &banded))??;
            let n2 = p2.as_ref().map_or(p1.rows(), |p| p.rows());
            let flops = empirical_flops(
                &model,
                p1.rows(),
                n2,
                p2.is_none(),
                args.model.kind,
                args.full,
            );
            (report, Some(flops))
        }
        _ => {
            if args.model.weights.is_some() {
                return Err(Error::invalid(
                    "--weights",
                    args.model
                        .weights
                        .as_ref()
                        .map_or(String::new(), |p| p.display().to_string()),
                    "no explicit weights with --method analytic (the infinite-width kernel does not depend on them)",
                ));
            }
            let opts = AnalyticOptions {
                kind: args.model.kind,
                full: args.full,
                parallelism: Parallelism::threads(threads),
                ..AnalyticOptions::default()
            };
            let key = job_key(&args, &model, &input_files, None);
            let banded = BandedOutput {
                before_commit: Some(&unchanged),
                ranks,
                ..BandedOutput::new(&out, dtype, budget, &key, args.resume)
            };
            let report = opts
                .parallelism
                .install(|| write_analytic(&model, &p1, p2.as_ref(), &opts, &banded))??;
            (report, None)
        }
    };
    let seconds = start.elapsed().as_secs_f64();
    let mut report = report;
    if let Some(r) = ranks {
        if r.rank() != 0 {
            return Ok(String::new());
        }
        if let Some((rows, bands)) = r.noted_bands() {
            report.rows_per_band = rows;
            report.bands = bands;
        }
    }
    summary(&args, &model, &report, seconds, flops)
}

/// Prints shape, time, throughput and the statistics of the diagonal (or of all entries
/// for `x1 × x2`), read back from the written file.
fn summary(
    args: &KernelArgs,
    model: &Mlp,
    report: &BandReport,
    seconds: f64,
    flops: Option<f64>,
) -> Result<String> {
    // Mapped: a symmetric kernel's summary reads its diagonal only.
    let file = NpyFile::open_mapped(&args.out)?;
    let shape = file.shape().to_vec();
    let (n1, n2) = (shape[0], shape[1]);
    let k = if shape.len() == 4 { shape[2] } else { 1 };
    let traced = |i: usize, j: usize| {
        (0..k)
            .map(|a| file.get(((i * n2 + j) * k + a) * k + a))
            .sum::<f64>()
            / k as f64
    };
    let sym = args.x2.is_none();
    let (mut sum, mut min, mut max, mut count) = (0.0, f64::INFINITY, f64::NEG_INFINITY, 0usize);
    let mut add = |v: f64| {
        sum += v;
        min = min.min(v);
        max = max.max(v);
        count += 1;
    };
    if sym {
        (0..n1).for_each(|i| add(traced(i, i)));
    } else {
        (0..n1).for_each(|i| (0..n2).for_each(|j| add(traced(i, j))));
    }
    let mean = sum / count.max(1) as f64;
    let entries = (n1 * n2) as f64;
    let mut rate = format!("{:.3e} entries/s", entries / seconds);
    if let Some(f) = flops {
        rate.push_str(&format!(", {:.1} GFLOP/s", f / seconds / 1e9));
    }
    let resumed = if report.resumed > 0 {
        format!(", {} resumed", report.resumed)
    } else {
        String::new()
    };
    let text = format!(
        "{} {} kernel of {model}\n  shape {shape:?} ({}) -> {}\n  time {seconds:.3} s, {rate}\n  \
         {} band(s) of {} rows{resumed}, est. working memory {:.1} MiB\n  {} mean {mean:.6}, min {min:.6}, max {max:.6}\n",
        args.method,
        format!("{:?}", args.model.kind).to_lowercase(),
        if args.full { "full" } else { "traced" },
        args.out.display(),
        report.bands,
        report.rows_per_band,
        report.estimated_bytes as f64 / (1 << 20) as f64,
        if sym { "diagonal" } else { "entries" },
    );
    Ok(text)
}
