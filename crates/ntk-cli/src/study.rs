//! `ntk study`: a width × seed grid of trained networks against their kernel description
//! (see `ntk_engine::train::study`), printed as a table and written as `study.csv`,
//! `study.json` and a log-log plot `study.svg` into the output directory.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use ntk_engine::data::safe_file::{Output, available_memory, check_distinct};
use ntk_engine::predict::Matrix;
use ntk_engine::ranks::{Ranks, assign};
use ntk_engine::train::study::{
    Run, RunMetrics, StudyConfig, StudyData, metric_index, run_one, run_study, summarise,
};
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
    #[arg(
        long,
        value_name = "LABELS.npy",
        conflicts_with = "targets",
        requires = "features"
    )]
    labels: Option<PathBuf>,
    /// Regression targets, 1-D or 2-D .npy, one row per row of --features.
    #[arg(long, value_name = "Y.npy", requires = "features")]
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
    /// Output directory (created if missing; removed again if the study fails).
    #[arg(long, default_value = "study", value_name = "DIR")]
    out: PathBuf,
    /// Threads (0 = one per core; at most 4 per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

/// `--n-train` + `--n-test` rows of `rows` in `file`, checked (no overflow).
fn check_sizes(args: &StudyArgs, rows: usize, file: &str) -> Result<()> {
    match args.n_train.checked_add(args.n_test) {
        Some(n) if args.n_train > 0 && args.n_test > 0 && n <= rows => Ok(()),
        _ => Err(Error::invalid(
            "--n-train/--n-test",
            format!("{}+{}", args.n_train, args.n_test),
            format!("positive sizes adding up to at most {rows}, the rows of {file}"),
        )),
    }
}

fn load(args: &StudyArgs) -> Result<StudyData> {
    let Some(features) = &args.features else {
        let d = Dataset::bundled(&args.dataset)?;
        check_sizes(args, d.rows(), &format!("--dataset {}", args.dataset))?;
        return StudyData::from_dataset(&d, args.n_train, args.n_test);
    };
    let fname = features.display().to_string();
    if let Some(t) = &args.targets {
        let d = Dataset::load(features, None)?;
        check_sizes(args, d.rows(), &fname)?;
        let f = NpyFile::open(t)?;
        let (rows, cols) = match f.shape()[..] {
            [r] => (r, 1),
            [r, c] if c > 0 => (r, c),
            _ => {
                return Err(Error::npy(
                    t,
                    format!(
                        "shape {:?}: expected a 1-D or 2-D array with at least one column",
                        f.shape()
                    ),
                ));
            }
        };
        if rows != d.rows() {
            return Err(Error::npy(
                t,
                format!(
                    "{rows} rows of targets, expected {} (one per row of {fname})",
                    d.rows()
                ),
            ));
        }
        let y = Matrix::new(rows, cols, f.to_f64_vec())?;
        if let Some(p) = y.data.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite {
                what: t.display().to_string(),
                row: p / cols,
                col: p % cols,
                value: y.data[p],
            });
        }
        return StudyData::regression(&d, &y, args.n_train, args.n_test);
    }
    let Some(labels) = &args.labels else {
        return Err(Error::invalid(
            "--features",
            &fname,
            "--labels LABELS.npy or --targets Y.npy with it",
        ));
    };
    let d = Dataset::load(features, Some(labels))?;
    check_sizes(args, d.rows(), &fname)?;
    StudyData::from_dataset(&d, args.n_train, args.n_test)
}

/// Refuses widths whose networks cannot be represented or held: the parameters and the
/// activations of the training points must fit in the memory available.
fn check_widths(args: &StudyArgs, data: &StudyData) -> Result<()> {
    let avail = available_memory().unwrap_or(usize::MAX);
    let (d, k) = (data.dim, data.y_train.cols);
    let n = args.n_train.saturating_add(args.n_test);
    for &m in &args.widths {
        let hidden = args
            .depth
            .saturating_sub(1)
            .saturating_mul(m.saturating_mul(m));
        let params = d
            .saturating_mul(m)
            .saturating_add(hidden)
            .saturating_add(m.saturating_mul(k));
        // Parameters, their initial copy and gradient; activations and deltas per point.
        let bytes = params.saturating_mul(3 * 8).saturating_add(
            n.saturating_mul(m)
                .saturating_mul(args.depth)
                .saturating_mul(2 * 8),
        );
        if bytes > avail {
            return Err(Error::invalid(
                "--widths",
                m,
                format!(
                    "a width whose network fits in memory (at least {bytes} bytes needed, {avail} available)"
                ),
            ));
        }
    }
    Ok(())
}

/// Runs whose training diverged: a non-finite loss, test error or distance travelled.
fn diverged(result: &ntk_engine::train::study::StudyResult) -> Option<(usize, u64, f64)> {
    let idx: Vec<usize> = ["train_loss", "test_mse", "param_distance"]
        .iter()
        .filter_map(|m| metric_index(m))
        .collect();
    result.runs.iter().find_map(|r| {
        idx.iter()
            .map(|&i| r.values()[i])
            .find(|v| !v.is_finite())
            .map(|v| (r.width, r.seed, v))
    })
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

/// What a study created, removed again if it fails.
#[derive(Default)]
struct Created {
    dirs: Vec<PathBuf>,
    files: Vec<PathBuf>,
    done: bool,
}

impl Drop for Created {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        self.files.iter().for_each(|f| {
            let _ = std::fs::remove_file(f);
        });
        // Innermost first; only directories this run created (and left empty).
        self.dirs.iter().rev().for_each(|d| {
            let _ = std::fs::remove_dir(d);
        });
    }
}

/// Creates `dir` and its missing parents, recording each one created.
fn create_dirs(dir: &Path, created: &mut Created) -> Result<()> {
    let mut missing = Vec::new();
    let mut p = dir;
    loop {
        match std::fs::symlink_metadata(p) {
            Ok(m) if m.is_dir() => break,
            Ok(m) if m.file_type().is_symlink() && p.is_dir() => break,
            Ok(_) => {
                return Err(Error::invalid(
                    "--out",
                    dir.display(),
                    format!("a directory ({} exists and is not one)", p.display()),
                ));
            }
            Err(_) => missing.push(p.to_path_buf()),
        }
        match p.parent() {
            Some(q) if !q.as_os_str().is_empty() => p = q,
            _ => break,
        }
    }
    for d in missing.into_iter().rev() {
        std::fs::create_dir(&d).map_err(|source| Error::Io {
            path: d.clone(),
            source,
        })?;
        created.dirs.push(d);
    }
    Ok(())
}

fn write(out: &Output, text: &str, created: &mut Created) -> Result<()> {
    let mut tmp = out.temp()?;
    std::io::Write::write_all(tmp.file_mut(), text.as_bytes()).map_err(|source| Error::Io {
        path: out.path().to_path_buf(),
        source,
    })?;
    tmp.commit(out)?;
    created.files.push(out.path().to_path_buf());
    Ok(())
}

/// Messages of a shared grid to rank 0: a finished run, a failure, the end of a rank's runs.
const RUN: u8 = 0;
const FAILED: u8 = 1;
const DONE: u8 = 2;

/// The cost of a run of width `m` (the parameters: `m` per layer for one hidden layer, `m²`
/// for deeper nets), for balancing the grid.
fn run_cost(m: usize, depth: usize) -> f64 {
    let m = m as f64;
    if depth > 1 { m * m } else { m }
}

/// The grid shared among `ranks`: each rank computes the runs [`assign`] gives it (the
/// widest first, balanced by [`run_cost`]) and sends each to rank 0 as it finishes (the
/// values as their bits); rank 0 shows the progress and returns every run in the order of
/// one process. The other ranks return `None` once rank 0 has them all.
fn run_grid_ranked(
    ranks: &dyn Ranks,
    config: &StudyConfig,
    data: &StudyData,
    progress: &mut dyn FnMut(usize, usize, u64),
) -> Result<Option<Vec<Run>>> {
    let elsewhere = |rank: usize| {
        Error::invalid(
            "MPI rank",
            rank,
            "every rank to succeed (that rank's error is reported by it or by rank 0)",
        )
    };
    if let Some(r) = ranks.start(true) {
        return Err(elsewhere(r));
    }
    let cells: Vec<(usize, u64)> = config
        .widths
        .iter()
        .flat_map(|&w| config.seeds.iter().map(move |&s| (w, s)))
        .collect();
    let costs: Vec<Option<f64>> = cells
        .iter()
        .map(|&(w, _)| Some(run_cost(w, config.depth)))
        .collect();
    let owner = assign(&costs, ranks.size());
    let me = ranks.rank();
    if me != 0 {
        let mine = (0..cells.len()).filter(|&i| owner[i] == Some(me));
        let mut outcome = Ok(());
        for i in mine {
            let (w, s) = cells[i];
            match run_one(config, data, w, s) {
                Ok(run) => {
                    let mut m = vec![RUN];
                    m.extend_from_slice(&(i as u64).to_le_bytes());
                    run.values()
                        .iter()
                        .for_each(|v| m.extend_from_slice(&v.to_bits().to_le_bytes()));
                    ranks.send_to_root(&m);
                }
                Err(e) => {
                    let mut m = vec![FAILED];
                    m.extend_from_slice(e.to_string().as_bytes());
                    ranks.send_to_root(&m);
                    outcome = Err(e);
                    break;
                }
            }
        }
        if outcome.is_ok() {
            ranks.send_to_root(&[DONE]);
        }
        let mut verdict = Vec::new();
        ranks.broadcast(&mut verdict);
        outcome?;
        return match verdict.first() {
            Some(0) => Ok(None),
            _ => Err(elsewhere(0)),
        };
    }
    let mut runs: Vec<Option<Run>> = vec![None; cells.len()];
    let mut first_error: Option<Error> = None;
    // Ranks whose runs are all in (this one included), and runs done.
    let (mut finished, mut count) = (1, 0);
    // A message from another rank: a run (its index), or `None` for its end or failure.
    let take = |(from, m): (usize, Vec<u8>), first_error: &mut Option<Error>| {
        let word = |at: usize| {
            let mut b = [0u8; 8];
            if let Some(s) = m.get(at..at + 8) {
                b.copy_from_slice(s);
            }
            u64::from_le_bytes(b)
        };
        match m.first() {
            Some(&RUN) => {
                let i = word(1) as usize;
                let values = (0..m.len().saturating_sub(9) / 8)
                    .map(|j| f64::from_bits(word(9 + 8 * j)))
                    .collect::<Vec<f64>>();
                Some((i, values))
            }
            Some(&DONE) => None,
            _ => {
                let text = String::from_utf8_lossy(m.get(1..).unwrap_or_default()).into_owned();
                first_error.get_or_insert(Error::invalid(
                    format!("MPI rank {from}"),
                    "its runs",
                    format!("every run computed; it failed: {text}"),
                ));
                None
            }
        }
    };
    let mut own = (0..cells.len())
        .filter(|&i| owner[i] == Some(0))
        .collect::<Vec<_>>()
        .into_iter();
    while finished < ranks.size() || own.len() > 0 {
        let next = if first_error.is_none() {
            own.next()
        } else {
            None
        };
        if let Some(i) = next {
            let (w, s) = cells[i];
            match run_one(config, data, w, s) {
                Ok(run) => {
                    runs[i] = Some(run);
                    count += 1;
                    progress(count, w, s);
                }
                Err(e) => first_error = Some(e),
            }
        } else {
            own = Vec::new().into_iter();
        }
        // Drain what has arrived; once this rank's own runs are done, wait for the rest.
        let wait = own.len() == 0;
        while finished < ranks.size() {
            let Some(m) = ranks.receive_at_root(wait) else {
                break;
            };
            match take(m, &mut first_error) {
                Some((i, values)) => {
                    if let (Some(&(width, seed)), Some(slot)) = (cells.get(i), runs.get_mut(i)) {
                        *slot = Some(Run {
                            width,
                            seed,
                            metrics: RunMetrics::from_values(&values),
                        });
                        count += 1;
                        progress(count, width, seed);
                    }
                }
                None => finished += 1,
            }
        }
        if wait {
            break;
        }
    }
    let all: Option<Vec<Run>> = runs.into_iter().collect();
    let outcome = match (first_error, all) {
        (Some(e), _) => Err(e),
        (None, Some(all)) => Ok(Some(all)),
        (None, None) => Err(Error::invalid(
            "study",
            "the shared grid",
            "every run computed (some were never received)",
        )),
    };
    ranks.broadcast(&mut vec![u8::from(outcome.is_err())]);
    outcome
}

/// Runs `ntk study`; returns the table and where the files went. With `ranks`, the grid is
/// shared among them ([`run_grid_ranked`]) and rank 0 alone writes the files, the same
/// bytes as one process.
pub fn run(args: StudyArgs, ranks: Option<&dyn Ranks>) -> Result<String> {
    let config = config(&args)?;
    let threads = crate::common::threads(args.threads);
    let config = StudyConfig {
        parallelism: Parallelism::threads(threads),
        ..config
    };
    let data = load(&args)?;
    check_widths(&args, &data)?;
    let ranks = ranks.filter(|r| r.size() > 1);
    if let Some(r) = ranks.filter(|r| r.rank() != 0) {
        // The outputs are rank 0's: this rank only computes its share of the grid.
        run_grid_ranked(r, &config, &data, &mut |_, _, _| {})?;
        return Ok(String::new());
    }
    let mut created = Created::default();
    create_dirs(&args.out, &mut created)?;
    let (csv, json, svg) = (
        Output::new("--out", args.out.join("study.csv"))?,
        Output::new("--out", args.out.join("study.json"))?,
        Output::new("--out", args.out.join("study.svg"))?,
    );
    let inputs: Vec<(&str, &Path)> = [
        ("--features", args.features.as_deref()),
        ("--labels", args.labels.as_deref()),
        ("--targets", args.targets.as_deref()),
    ]
    .into_iter()
    .filter_map(|(f, p)| p.map(|p| (f, p)))
    .collect();
    check_distinct(&inputs, &[&csv, &json, &svg])?;
    let lock = csv.lock()?;
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
    let result = match ranks {
        Some(r) => run_grid_ranked(r, &config, &data, &mut |done, width, seed| {
            bar.set_message(format!("(m={width}, seed={seed})"));
            bar.set_position(done as u64);
        })
        .and_then(|runs| {
            runs.map(|runs| summarise(&config, &data, runs))
                .ok_or_else(|| Error::invalid("study", "rank 0", "the runs of every rank"))
        }),
        None => run_study(&config, &data, &mut |p| {
            bar.set_message(format!("(m={}, seed={})", p.width, p.seed));
            bar.set_position(p.done as u64);
        }),
    };
    bar.finish_and_clear();
    let result = result?;
    if let Some((width, seed, v)) = diverged(&result) {
        return Err(Error::invalid(
            "--learning-rate",
            args.learning_rate,
            format!(
                "a rate at which training converges (it diverged: a loss or distance of {v} at \
                 width {width}, seed {seed}; try a smaller --learning-rate)"
            ),
        ));
    }
    let secs = start.elapsed().as_secs_f64();
    write(&csv, &crate::study_report::csv(&result), &mut created)?;
    write(&json, &crate::study_report::json(&result), &mut created)?;
    let mut plot = String::new();
    crate::plot::loglog(&result, &mut plot, svg.path())?;
    write(&svg, &plot, &mut created)?;
    drop(lock);
    created.done = true;
    Ok(format!(
        "{}{} runs in {secs:.1} s; wrote {}, {} and {}\n",
        crate::study_report::table(&result),
        result.runs.len(),
        csv.path().display(),
        json.path().display(),
        svg.path().display()
    ))
}
