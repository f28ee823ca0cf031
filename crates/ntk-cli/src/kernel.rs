//! `ntk kernel`: an empirical or analytic Gram matrix from `.npy` inputs.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use ntk_engine::data::npy;
use ntk_engine::gram::cost::empirical_flops;
use ntk_engine::gram::{EmpiricalOptions, Kernel, KernelKind, Precision, Weights, empirical};
use ntk_engine::{
    Activation, Error, Mlp, NpyFile, Parallelism, Parameterization, Params, Points, Result,
};

/// Arguments of `ntk kernel`.
#[derive(Args, Debug)]
pub struct KernelArgs {
    /// Inputs, a 2-D .npy array (rows = points; f32 or f64, C order).
    #[arg(long, value_name = "X1.npy")]
    x1: PathBuf,
    /// Second inputs; without it the kernel is x1 × x1.
    #[arg(long, value_name = "X2.npy")]
    x2: Option<PathBuf>,
    /// Output .npy file (written atomically).
    #[arg(long, value_name = "K.npy")]
    out: PathBuf,
    /// empirical (finite width) or analytic (infinite width).
    #[arg(long, default_value = "analytic", value_parser = ["empirical", "analytic"])]
    method: String,
    /// ntk or nngp.
    #[arg(long, default_value = "ntk")]
    kind: KernelKind,
    /// Hidden widths, comma-separated; the depth is their count.
    #[arg(long, default_value = "512,512", value_delimiter = ',')]
    widths: Vec<usize>,
    /// relu | leaky_relu:0.1 | abs | erf | sigmoid_like | gelu | identity | tanh | softplus | sin.
    #[arg(long, default_value = "relu")]
    activation: Activation,
    /// Weight scale W_std.
    #[arg(long, default_value_t = 1.0)]
    w_std: f64,
    /// Bias scale b_std.
    #[arg(long, default_value_t = 0.0)]
    b_std: f64,
    /// ntk or standard.
    #[arg(long, default_value = "ntk")]
    parameterization: Parameterization,
    /// Number of outputs k.
    #[arg(long, default_value_t = 1)]
    outputs: usize,
    /// Seed of the initialisation (empirical).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Directory of explicit weights W0.npy, b0.npy, … (overrides --seed).
    #[arg(long, value_name = "DIR")]
    weights: Option<PathBuf>,
    /// Write the full n1 × n2 × k × k kernel instead of the traced n1 × n2.
    #[arg(long)]
    full: bool,
    /// Output dtype; f64 also computes in f64.
    #[arg(long, default_value = "f32")]
    dtype: Precision,
    /// Threads (0 = one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

/// Runs the command and prints a one-paragraph summary.
pub fn run(args: KernelArgs) -> Result<()> {
    let f1 = NpyFile::open(&args.x1)?;
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
                args.x1.display()
            ),
            expected: p1.cols(),
            got: p2.cols(),
        });
    }
    let model = Mlp {
        input_dim: p1.cols(),
        widths: args.widths.clone(),
        activation: args.activation,
        w_std: args.w_std,
        b_std: args.b_std,
        parameterization: args.parameterization,
        outputs: args.outputs,
    };
    model.validate()?;
    let start = Instant::now();
    let (kernel, flops) = match args.method.as_str() {
        "empirical" => {
            let loaded = args
                .weights
                .as_ref()
                .map(|d| Params::load_dir(d, &model))
                .transpose()?;
            let weights = match &loaded {
                Some(p) => Weights::Explicit(p),
                None => Weights::Seeded(args.seed),
            };
            let opts = EmpiricalOptions {
                kind: args.kind,
                full: args.full,
                precision: args.dtype,
                parallelism: Parallelism::threads(args.threads),
                ..EmpiricalOptions::default()
            };
            let k = empirical(&model, weights, &p1, p2.as_ref(), &opts)?;
            let n2 = p2.as_ref().map_or(p1.rows(), |p| p.rows());
            let flops = empirical_flops(&model, p1.rows(), n2, p2.is_none(), args.kind, args.full);
            (k, Some(flops))
        }
        _ => {
            return Err(Error::NotImplemented(
                "--method analytic is not implemented yet in this build; use --method empirical"
                    .into(),
            ));
        }
    };
    let seconds = start.elapsed().as_secs_f64();
    write_kernel(&args.out, &kernel, args.dtype)?;
    summary(&args, &model, &kernel, seconds, flops);
    Ok(())
}

fn write_kernel(path: &PathBuf, k: &Kernel, dtype: Precision) -> Result<()> {
    let shape = k.shape();
    match dtype {
        Precision::F32 => npy::write(path, &shape, k.data.iter().map(|&v| v as f32)),
        Precision::F64 => npy::write(path, &shape, k.data.iter().copied()),
    }
}

fn summary(args: &KernelArgs, model: &Mlp, k: &Kernel, seconds: f64, flops: Option<f64>) {
    let traced = k.traced();
    let sym = args.x2.is_none();
    let vals: Vec<f64> = if sym {
        (0..traced.n1)
            .map(|i| traced.data[i * traced.n2 + i])
            .collect()
    } else {
        traced.data.clone()
    };
    let mean = vals.iter().sum::<f64>() / vals.len() as f64;
    let min = vals.iter().copied().fold(f64::INFINITY, f64::min);
    let max = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let entries = (k.n1 * k.n2) as f64;
    let mut rate = format!("{:.3e} entries/s", entries / seconds);
    if let Some(f) = flops {
        rate.push_str(&format!(", {:.1} GFLOP/s", f / seconds / 1e9));
    }
    let text = format!(
        "{} {} kernel of {model}\n  shape {:?} ({}) -> {}\n  time {seconds:.3} s, {rate}\n  {} mean {mean:.6}, min {min:.6}, max {max:.6}\n",
        args.method,
        format!("{:?}", args.kind).to_lowercase(),
        k.shape(),
        if args.full { "full" } else { "traced" },
        args.out.display(),
        if sym { "diagonal" } else { "entries" },
    );
    // A closed pipe (`ntk … | head`) is not an error of the computation.
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
}
