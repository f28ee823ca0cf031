//! `ntk study`: a width × seed grid of trained networks against their kernel description
//! (see `ntk_engine::train::study`), printed as a table and written as `study.csv`,
//! `study.json` and a log-log plot `study.svg` into the output directory.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use ntk_engine::predict::Matrix;
use ntk_engine::train::study::{StudyConfig, StudyData, run_study};
use ntk_engine::{Activation, Dataset, Error, NpyFile, Parallelism, Parameterization, Result};

/// Arguments of `ntk study`.
#[derive(Args, Debug)]
pub struct StudyArgs {
    /// A bundled dataset: digits, iris, wine or breast-cancer (ignored with --features).
    #[arg(long, default_value = "digits", value_name = "NAME")]
    dataset: String,
    /// Features of your own, a 2-D .npy array (needs --labels or --targets).
    #[arg(long, value_name = "X.npy")]
    features: Option<PathBuf>,
    /// Integer class labels, 1-D .npy, one per row of --features (classification).
    #[arg(long, value_name = "LABELS.npy", conflicts_with = "targets")]
    labels: Option<PathBuf>,
    /// Regression targets, 1-D or 2-D .npy, one row per row of --features.
    #[arg(long, value_name = "Y.npy")]
    targets: Option<PathBuf>,
    /// Training points: the first rows of the data.
    #[arg(long, default_value_t = 256)]
    n_train: usize,
    /// Test points: the rows after the training points.
    #[arg(long, default_value_t = 256)]
    n_test: usize,
    /// Hidden widths, comma-separated.
    #[arg(long, default_value = "64,128,256,512,1024", value_delimiter = ',')]
    widths: Vec<usize>,
    /// Seeds, comma-separated.
    #[arg(long, default_value = "0,1,2", value_delimiter = ',')]
    seeds: Vec<u64>,
    /// Steps of gradient descent.
    #[arg(long, default_value_t = 100)]
    steps: usize,
    /// Learning rate η (multiplied by the width under mean_field). The loss is normalised
    /// by N = n_train·k, so η = 10 with the 10 digit classes is η·λ/N well inside the stable
    /// range for the default ReLU net.
    #[arg(long, default_value_t = 10.0, allow_negative_numbers = true)]
    learning_rate: f64,
    /// Mini-batch size for SGD (default: full-batch gradient descent).
    #[arg(long)]
    batch_size: Option<usize>,
    /// Hidden layers, each of the grid's width.
    #[arg(long, default_value_t = 1)]
    depth: usize,
    /// relu | leaky_relu:0.1 | abs | erf | sigmoid_like | gelu | identity | tanh | softplus | sin.
    #[arg(long, default_value = "relu")]
    activation: Activation,
    /// ntk, standard or mean_field.
    #[arg(long, default_value = "ntk")]
    parameterization: Parameterization,
    /// Weight scale W_std.
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    w_std: f64,
    /// Bias scale b_std.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    b_std: f64,
    /// Output scale α: the model α·f trained on the loss 1/α² (large α: lazy).
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    alpha: f64,
    /// Train α·(f − f_0), which starts at 0 (`--centre false`: train α·f itself).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    centre: bool,
    /// The lecture's two-layer net's activation (smooth: tanh, softplus, erf, gelu, sin,
    /// sigmoid_like), or `none`.
    #[arg(long, default_value = "tanh")]
    two_layer: String,
    /// Output directory (created if missing).
    #[arg(long, default_value = "study", value_name = "DIR")]
    out: PathBuf,
    /// Threads (0 = one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

fn load(args: &StudyArgs) -> Result<StudyData> {
    let Some(features) = &args.features else {
        let d = Dataset::bundled(&args.dataset)?;
        return StudyData::from_dataset(&d, args.n_train, args.n_test);
    };
    if let Some(t) = &args.targets {
        let d = Dataset::load(features, None)?;
        let f = NpyFile::open(t)?;
        let (rows, cols) = match f.shape()[..] {
            [r] => (r, 1),
            [r, c] => (r, c),
            _ => {
                return Err(Error::npy(
                    t,
                    format!("shape {:?}: expected a 1-D or 2-D array", f.shape()),
                ));
            }
        };
        let y = Matrix::new(rows, cols, f.to_f64_vec())?;
        return StudyData::regression(&d, &y, args.n_train, args.n_test);
    }
    let Some(labels) = &args.labels else {
        return Err(Error::invalid(
            "targets",
            "none",
            "--labels LABELS.npy or --targets Y.npy with --features",
        ));
    };
    let d = Dataset::load(features, Some(labels))?;
    StudyData::from_dataset(&d, args.n_train, args.n_test)
}

fn config(args: &StudyArgs) -> Result<StudyConfig> {
    let two_layer = match args.two_layer.trim() {
        "none" => None,
        s => Some(s.parse::<Activation>()?),
    };
    if args.depth == 0 {
        return Err(Error::invalid("depth", 0, "at least 1 hidden layer"));
    }
    if args.steps == 0 {
        return Err(Error::invalid("steps", 0, "at least 1 step"));
    }
    Ok(StudyConfig {
        widths: args.widths.clone(),
        seeds: args.seeds.clone(),
        depth: args.depth,
        activation: args.activation,
        parameterization: args.parameterization,
        w_std: args.w_std,
        b_std: args.b_std,
        alpha: args.alpha,
        centre: args.centre,
        steps: args.steps,
        learning_rate: args.learning_rate,
        batch_size: args.batch_size,
        two_layer,
        parallelism: Parallelism::threads(args.threads),
    })
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Runs `ntk study`.
pub fn run(args: StudyArgs) -> Result<()> {
    let config = config(&args)?;
    let data = load(&args)?;
    std::fs::create_dir_all(&args.out).map_err(|source| Error::Io {
        path: args.out.clone(),
        source,
    })?;
    let total = (config.widths.len() * config.seeds.len()) as u64;
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(total)
    };
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} runs {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let start = Instant::now();
    let result = run_study(&config, &data, &mut |p| {
        bar.set_message(format!("(m={}, seed={})", p.width, p.seed));
        bar.set_position(p.done as u64);
    });
    bar.finish_and_clear();
    let result = result?;
    let secs = start.elapsed().as_secs_f64();
    print!("{}", result.table());
    let (csv, json, svg) = (
        args.out.join("study.csv"),
        args.out.join("study.json"),
        args.out.join("study.svg"),
    );
    write(&csv, &result.to_csv())?;
    write(&json, &result.to_json())?;
    crate::plot::loglog(&result, &svg)?;
    println!(
        "{} runs in {secs:.1} s; wrote {}, {} and {}",
        result.runs.len(),
        csv.display(),
        json.display(),
        svg.display()
    );
    Ok(())
}
