//! Width-scaling studies: a grid of widths × seeds, and per width the mean and spread over
//! seeds of what the theory predicts (docs/DESIGN.md §5), with fitted log-log slopes.
//!
//! For each width `m` and seed, with the MLP of [`StudyConfig`] (every hidden layer of
//! width `m`) trained by [`train`](crate::train::train) for `steps` steps:
//!
//! | metric | what | theory |
//! | --- | --- | --- |
//! | `kernel_error` | `‖Θ̂_0 − Θ‖_F/‖Θ‖_F`, empirical vs analytic NTK on the training points | `m^{-1/2}` (Jacot et al. 2018) |
//! | `kernel_drift` | `‖Θ̂_T − Θ̂_0‖_F/‖Θ̂_0‖_F` after training | `m^{-1/2}` (Lee et al. 2019) |
//! | `param_distance` | `‖θ_T − θ_0‖₂` | `O(1)` |
//! | `lin_gap` | RMS of `g_nn − g_lin` on the test points | `m^{-1/2}` |
//! | `ntk_gap` | RMS of `g_nn − g_ntk` on the test points, `g_ntk` the analytic-NTK gradient flow at the same time from the same `g(0)` | `m^{-1/2}` + discretisation (Arora et al. 2019) |
//! | `test_mse` | mean of `(g − y)²` over test outputs | |
//! | `test_accuracy` | argmax (or sign, `k = 1`) agreement | |
//! | `train_loss` | the final loss | |
//! | `two_layer_error` | `max_x` of the absolute gap `f(x; W_T) − f_{W_0}(x; W_T)` of the lecture's two-layer net | `≤ two_layer_bound` |
//! | `two_layer_bound` | `β/(2√m)·‖W_T − W_0‖_F²` | `m^{-1/2}` |
//!
//! Under the mean-field parameterization the learning rate is multiplied by `m` (so the
//! function moves at the NTK speed; this is the NTK parameterization at `α = 1/√m`), and
//! there is no analytic kernel (`kernel_error`, `ntk_gap` are NaN).

mod run;

use faer::Mat;

pub use crate::metrics::Stat;
pub use run::{Progress, run_one, run_study, summarise};

use crate::activation::Activation;
use crate::data::{Dataset, Points};
use crate::error::{Error, Result};
use crate::metrics::argmax;
use crate::model::Parameterization;
use crate::parallel::Parallelism;
use crate::predict::Matrix;

/// The metrics of a run, in column order, and whether a log-log slope is fitted to each.
pub const METRICS: [(&str, bool); 10] = [
    ("kernel_error", true),
    ("kernel_drift", true),
    ("param_distance", true),
    ("lin_gap", true),
    ("ntk_gap", true),
    ("test_mse", false),
    ("test_accuracy", false),
    ("train_loss", false),
    ("two_layer_error", true),
    ("two_layer_bound", true),
];

/// The index of a metric in [`METRICS`].
pub fn metric_index(name: &str) -> Option<usize> {
    METRICS.iter().position(|m| m.0 == name)
}

/// What to run.
#[derive(Clone, Debug)]
pub struct StudyConfig {
    /// Hidden widths `m`.
    pub widths: Vec<usize>,
    /// Seeds of the initialisations (and of the SGD batches).
    pub seeds: Vec<u64>,
    /// Hidden layers.
    pub depth: usize,
    /// Activation of the MLP.
    pub activation: Activation,
    /// Parameterization.
    pub parameterization: Parameterization,
    /// `W_std`.
    pub w_std: f64,
    /// `b_std`.
    pub b_std: f64,
    /// Output scale `α`.
    pub alpha: f64,
    /// Train `α·(f − f_0)`.
    pub centre: bool,
    /// Steps of training.
    pub steps: usize,
    /// Learning rate `η`.
    pub learning_rate: f64,
    /// Batch size for SGD (`None`: full batch).
    pub batch_size: Option<usize>,
    /// The two-layer net's activation (`None`: skip it; it needs a finite `β`).
    pub two_layer: Option<Activation>,
    /// Threads.
    pub parallelism: Parallelism,
}

impl Default for StudyConfig {
    fn default() -> Self {
        StudyConfig {
            widths: vec![64, 128, 256, 512, 1024],
            seeds: vec![0, 1, 2],
            depth: 1,
            activation: Activation::Relu,
            parameterization: Parameterization::Ntk,
            w_std: 1.0,
            b_std: 0.0,
            alpha: 1.0,
            centre: false,
            steps: 100,
            learning_rate: 1.0,
            batch_size: None,
            two_layer: Some(Activation::Tanh),
            parallelism: Parallelism::default(),
        }
    }
}

/// The data of a study: train and test inputs (row-major) and targets.
#[derive(Clone, Debug)]
pub struct StudyData {
    /// A name for reports.
    pub name: String,
    /// Input dimension.
    pub dim: usize,
    /// Training inputs, `n_train × dim`.
    pub x_train: Vec<f64>,
    /// Training targets, `n_train × k`.
    pub y_train: Matrix,
    /// Test inputs.
    pub x_test: Vec<f64>,
    /// Test targets, `n_test × k`.
    pub y_test: Matrix,
    /// Report accuracy (argmax for `k > 1`, sign for `k = 1`).
    pub classification: bool,
}

impl StudyData {
    /// The first `n_train` rows of `dataset` for training and the next `n_test` for testing,
    /// standardised (with the statistics of that whole subset), each row then scaled to
    /// norm `√d` (`x·x/d = 1`, neural-tangents' convention); targets one-hot minus `1/k`
    /// over the label's classes `0..=max label`.
    pub fn from_dataset(dataset: &Dataset, n_train: usize, n_test: usize) -> Result<Self> {
        let head = Self::subset(dataset, n_train, n_test)?;
        let labels = head
            .labels()
            .ok_or_else(|| Error::invalid("dataset", dataset.name(), "a dataset with labels"))?;
        // Labels are checked to lie in `0..MAX_CLASSES` when loaded (`Dataset`).
        let classes = labels.iter().copied().max().unwrap_or(0).max(1) as usize + 1;
        let hot = head.one_hot(classes)?;
        let y: Vec<f64> = hot.iter().map(|v| v - 1.0 / classes as f64).collect();
        Self::assemble(&head, y, classes, n_train, true)
    }

    /// As [`from_dataset`](Self::from_dataset), with the targets given (`rows × k`, the
    /// first `n_train + n_test` rows used): a regression, no accuracy.
    pub fn regression(
        dataset: &Dataset,
        targets: &Matrix,
        n_train: usize,
        n_test: usize,
    ) -> Result<Self> {
        targets.check_len("targets")?;
        if targets.cols == 0 {
            return Err(Error::invalid(
                "targets",
                format!("{}×0 matrix", targets.rows),
                "at least one column",
            ));
        }
        if targets.rows != dataset.rows() {
            return Err(Error::DimensionMismatch {
                what: "rows of the targets (one per row of the features)".into(),
                expected: dataset.rows(),
                got: targets.rows,
            });
        }
        let head = Self::subset(dataset, n_train, n_test)?;
        let k = targets.cols;
        let y = targets.data[..(n_train + n_test) * k].to_vec();
        Self::assemble(&head, y, k, n_train, false)
    }

    fn subset(dataset: &Dataset, n_train: usize, n_test: usize) -> Result<Dataset> {
        let n = n_train.saturating_add(n_test);
        if n_train == 0 || n_test == 0 || n > dataset.rows() {
            return Err(Error::invalid(
                "train/test sizes",
                format!("{n_train}+{n_test}"),
                format!(
                    "positive sizes adding up to at most {} rows",
                    dataset.rows()
                ),
            ));
        }
        dataset.head(n).standardized().unit_norm_rows()
    }

    fn assemble(
        head: &Dataset,
        y: Vec<f64>,
        k: usize,
        n_train: usize,
        classification: bool,
    ) -> Result<Self> {
        let d = head.cols();
        let n_test = head.rows() - n_train;
        let x: Vec<f64> = head
            .to_f64_vec()
            .iter()
            .map(|v| v * (d as f64).sqrt())
            .collect();
        if let Some(p) = y.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite {
                what: "targets".into(),
                row: p / k,
                col: p % k,
                value: y[p],
            });
        }
        Ok(StudyData {
            name: head.name().to_string(),
            dim: d,
            x_train: x[..n_train * d].to_vec(),
            y_train: Matrix::new(n_train, k, y[..n_train * k].to_vec())?,
            x_test: x[n_train * d..].to_vec(),
            y_test: Matrix::new(n_test, k, y[n_train * k..].to_vec())?,
            classification,
        })
    }

    fn points<'a>(&self, v: &'a [f64]) -> Result<Points<'a>> {
        Points::from_f64(v, v.len() / self.dim, self.dim)
    }

    /// The two-layer net's task: inputs scaled by one common factor so that every row has
    /// `‖x‖ ≤ 1`, and a scalar target (the target itself for `k = 1`, else `±1` by the
    /// parity of the argmax class).
    fn two_layer_task(&self) -> (Mat<f64>, Vec<f64>, Mat<f64>) {
        let d = self.dim;
        let norm = |r: &[f64]| r.iter().map(|v| v * v).sum::<f64>().sqrt();
        let scale = self
            .x_train
            .chunks(d)
            .chain(self.x_test.chunks(d))
            .map(norm)
            .fold(0.0, f64::max)
            .max(f64::MIN_POSITIVE);
        let mat = |v: &[f64]| Mat::from_fn(v.len() / d, d, |i, j| v[i * d + j] / scale);
        let y = if self.y_train.cols == 1 {
            self.y_train.data.clone()
        } else {
            argmax(&self.y_train)
                .into_iter()
                .map(|c| if c.is_multiple_of(2) { 1.0 } else { -1.0 })
                .collect()
        };
        (mat(&self.x_train), y, mat(&self.x_test))
    }

    /// The class of each test point (the [`argmax`] of its target row), when the study
    /// is a classification.
    fn test_labels(&self) -> Option<Vec<i64>> {
        self.classification
            .then(|| argmax(&self.y_test).into_iter().map(|c| c as i64).collect())
    }
}

/// What one `(width, seed)` run measured (NaN when not applicable); the fields are the
/// [`METRICS`], in that order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunMetrics {
    /// `‖Θ̂_0 − Θ‖_F/‖Θ‖_F` on the training points.
    pub kernel_error: f64,
    /// `‖Θ̂_T − Θ̂_0‖_F/‖Θ̂_0‖_F` after training.
    pub kernel_drift: f64,
    /// `‖θ_T − θ_0‖₂`.
    pub param_distance: f64,
    /// RMS of `g_nn − g_lin` on the test points.
    pub lin_gap: f64,
    /// RMS of `g_nn − g_ntk` on the test points.
    pub ntk_gap: f64,
    /// Mean of `(g − y)²` over the test outputs.
    pub test_mse: f64,
    /// Fraction of test points classified right.
    pub test_accuracy: f64,
    /// The final training loss.
    pub train_loss: f64,
    /// The two-layer net's `max_x |f − f_lin|`.
    pub two_layer_error: f64,
    /// Its bound `β/(2√m)·‖W_T − W_0‖_F²`.
    pub two_layer_bound: f64,
}

impl RunMetrics {
    /// Every metric NaN.
    pub const NAN: RunMetrics = RunMetrics {
        kernel_error: f64::NAN,
        kernel_drift: f64::NAN,
        param_distance: f64::NAN,
        lin_gap: f64::NAN,
        ntk_gap: f64::NAN,
        test_mse: f64::NAN,
        test_accuracy: f64::NAN,
        train_loss: f64::NAN,
        two_layer_error: f64::NAN,
        two_layer_bound: f64::NAN,
    };

    /// The metrics from their values in the order of [`METRICS`] (the inverse of
    /// [`values`](Self::values)); a missing value is NaN, extra values are ignored.
    pub fn from_values(v: &[f64]) -> RunMetrics {
        let at = |i: usize| v.get(i).copied().unwrap_or(f64::NAN);
        RunMetrics {
            kernel_error: at(0),
            kernel_drift: at(1),
            param_distance: at(2),
            lin_gap: at(3),
            ntk_gap: at(4),
            test_mse: at(5),
            test_accuracy: at(6),
            train_loss: at(7),
            two_layer_error: at(8),
            two_layer_bound: at(9),
        }
    }

    /// The values in the order of [`METRICS`].
    pub fn values(&self) -> [f64; METRICS.len()] {
        [
            self.kernel_error,
            self.kernel_drift,
            self.param_distance,
            self.lin_gap,
            self.ntk_gap,
            self.test_mse,
            self.test_accuracy,
            self.train_loss,
            self.two_layer_error,
            self.two_layer_bound,
        ]
    }
}

/// One `(width, seed)` run.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    /// Hidden width.
    pub width: usize,
    /// Seed.
    pub seed: u64,
    /// What it measured.
    pub metrics: RunMetrics,
}

impl Run {
    /// The values of [`METRICS`], in order.
    pub fn values(&self) -> [f64; METRICS.len()] {
        self.metrics.values()
    }
}

/// A fitted power law of one metric against the width, `y ≈ e^{intercept}·m^{slope}`
/// ([`loglog_fit`](crate::metrics::loglog_fit) of the per-width means).
#[derive(Clone, Debug, PartialEq)]
pub struct Slope {
    /// The metric's name.
    pub metric: &'static str,
    /// The fitted exponent.
    pub slope: f64,
    /// Its standard error from the residuals (NaN with fewer than three widths).
    pub stderr: f64,
    /// The fitted `log y` at `m = 1`.
    pub intercept: f64,
}

/// One width's row: a [`Stat`] per metric.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Hidden width.
    pub width: usize,
    /// Mean and spread over seeds, one per metric.
    pub stats: Vec<Stat>,
}

/// Everything a study measured.
#[derive(Clone, Debug)]
pub struct StudyResult {
    /// A one-line description of the setting.
    pub description: String,
    /// Every run.
    pub runs: Vec<Run>,
    /// Per width, in the order of the configuration.
    pub rows: Vec<Row>,
    /// The fitted slopes of the metrics that have one.
    pub slopes: Vec<Slope>,
}

impl StudyResult {
    /// The per-width means of `metric`.
    pub fn means(&self, metric: &str) -> Option<Vec<f64>> {
        let i = metric_index(metric)?;
        Some(self.rows.iter().map(|r| r.stats[i].mean).collect())
    }

    /// The fitted slope of `metric`.
    pub fn slope(&self, metric: &str) -> Option<&Slope> {
        self.slopes.iter().find(|s| s.metric == metric)
    }
}
