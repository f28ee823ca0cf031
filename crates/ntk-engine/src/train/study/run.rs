//! Running a study: every `(width, seed)` in turn, then the per-width statistics and fits.

use faer::Mat;

use super::{METRICS, Row, Run, RunMetrics, Slope, Stat, StudyConfig, StudyData, StudyResult};
use crate::activation::Activation;
use crate::analytic::{AnalyticOptions, analytic};
use crate::error::{Error, Result};
use crate::gram::{self, EmpiricalOptions, Precision, Weights};
use crate::metrics::{accuracy, loglog_fit, mse, rel_frobenius, rms};
use crate::model::{Mlp, Parameterization};
use crate::params::Params;
use crate::train::ntk_flow::ntk_flow_prediction;
use crate::train::two_layer::{TwoLayerTask, beta, linearisation_run};
use crate::train::{Batching, TrainData, TrainOptions, train};

/// Where a study is, for progress reports.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Runs finished.
    pub done: usize,
    /// Runs in all.
    pub total: usize,
    /// Width of the run just finished.
    pub width: usize,
    /// Its seed.
    pub seed: u64,
}

fn check(config: &StudyConfig, data: &StudyData) -> Result<()> {
    if config.widths.is_empty() || config.widths.contains(&0) {
        return Err(Error::invalid(
            "widths",
            format!("{:?}", config.widths),
            "one or more positive widths",
        ));
    }
    if config.seeds.is_empty() {
        return Err(Error::invalid("seeds", "none", "at least one seed"));
    }
    if let Some(a) = config.two_layer
        && beta(a).is_none()
    {
        return Err(Error::invalid(
            "two-layer activation",
            a,
            "a smooth activation with a finite β (tanh, softplus, erf, sigmoid_like, gelu, sin)",
        ));
    }
    if data.dim == 0 || data.y_train.cols == 0 || data.y_train.cols != data.y_test.cols {
        return Err(Error::invalid(
            "study data",
            &data.name,
            "inputs of dimension ≥ 1 and train and test targets with the same columns",
        ));
    }
    Ok(())
}

/// The MLP of `config` with every hidden layer of width `width`.
fn model(config: &StudyConfig, data: &StudyData, width: usize) -> Mlp {
    Mlp::new(data.dim, &vec![width; config.depth], config.activation)
        .with_w_std(config.w_std)
        .with_b_std(config.b_std)
        .with_parameterization(config.parameterization)
        .with_outputs(data.y_train.cols)
}

/// `‖Θ̂_0 − Θ‖_F/‖Θ‖_F` on the training points (NaN under mean field: no limit).
fn kernel_error(
    config: &StudyConfig,
    model: &Mlp,
    params0: &Params,
    x: &crate::data::Points<'_>,
) -> Result<f64> {
    if config.parameterization == Parameterization::MeanField {
        return Ok(f64::NAN);
    }
    let aopts = AnalyticOptions {
        parallelism: config.parallelism,
        ..AnalyticOptions::default()
    };
    let limit = analytic(model, x, None, &aopts)?;
    let eopts = EmpiricalOptions {
        precision: Precision::F64,
        parallelism: config.parallelism,
        ..EmpiricalOptions::default()
    };
    let e = gram::empirical(model, Weights::Explicit(params0), x, None, &eopts)?;
    Ok(rel_frobenius(&e, &limit))
}

/// The two-layer net's `(error, bound)` at `width` and `seed`, on the study's data, its
/// gap taken over the training and test points together.
fn two_layer(
    config: &StudyConfig,
    data: &StudyData,
    act: Activation,
    width: usize,
    seed: u64,
) -> (f64, f64) {
    let (xt, y, xs) = data.two_layer_task();
    let all = Mat::from_fn(xt.nrows() + xs.nrows(), data.dim, |i, j| {
        if i < xt.nrows() {
            xt[(i, j)]
        } else {
            xs[(i - xt.nrows(), j)]
        }
    });
    let task = TwoLayerTask {
        x_train: xt.as_ref(),
        y: &y,
        x_eval: all.as_ref(),
        learning_rate: config.learning_rate,
        steps: config.steps,
    };
    let r = linearisation_run(&task, act, width, seed);
    (r.error, r.bound)
}

/// One MLP run and, when configured, one two-layer run.
fn one(config: &StudyConfig, data: &StudyData, width: usize, seed: u64) -> Result<RunMetrics> {
    let mut v = RunMetrics::NAN;
    let (x_train, x_test) = (data.points(&data.x_train)?, data.points(&data.x_test)?);
    let model = model(config, data, width);
    let params0 = Params::seeded(&model, seed)?;
    v.kernel_error = kernel_error(config, &model, &params0, &x_train)?;
    // Under mean field the learning rate is multiplied by m (see the module docs).
    let learning_rate = match config.parameterization {
        Parameterization::MeanField => config.learning_rate * width as f64,
        _ => config.learning_rate,
    };
    let opts = TrainOptions {
        steps: config.steps,
        learning_rate,
        batching: match config.batch_size {
            None => Batching::Full,
            Some(size) => Batching::MiniBatch { size, seed },
        },
        alpha: config.alpha,
        centre: config.centre,
        record_every: config.steps.max(1),
        kernel_drift: true,
        linearised: true,
        parallelism: config.parallelism,
    };
    let td = TrainData {
        x_train: &x_train,
        y_train: &data.y_train,
        x_test: Some(&x_test),
        probe: None,
    };
    let t = train(&model, &params0, &td, &opts)?;
    let test = t
        .test
        .as_ref()
        .unwrap_or_else(|| unreachable!("test points given"));
    if let Some(last) = t.records.last() {
        v.kernel_drift = last.kernel_drift.unwrap_or(f64::NAN);
        v.param_distance = last.param_distance;
        v.lin_gap = last.lin_gap_test.unwrap_or(f64::NAN);
        v.train_loss = last.loss;
    }
    if let Some(flow) = ntk_flow_prediction(&model, &td, &t, &opts)? {
        v.ntk_gap = rms(test, &flow);
    }
    v.test_mse = mse(test, &data.y_test);
    if let Some(labels) = data.test_labels() {
        v.test_accuracy = accuracy(test, &labels);
    }
    if let Some(act) = config.two_layer {
        (v.two_layer_error, v.two_layer_bound) = two_layer(config, data, act, width, seed);
    }
    Ok(v)
}

/// Runs the grid, calling `progress` after each run.
pub fn run_study(
    config: &StudyConfig,
    data: &StudyData,
    progress: &mut dyn FnMut(Progress),
) -> Result<StudyResult> {
    check(config, data)?;
    let total = config.widths.len() * config.seeds.len();
    let mut runs = Vec::with_capacity(total);
    for &width in &config.widths {
        for &seed in &config.seeds {
            let metrics = one(config, data, width, seed)?;
            runs.push(Run {
                width,
                seed,
                metrics,
            });
            progress(Progress {
                done: runs.len(),
                total,
                width,
                seed,
            });
        }
    }
    Ok(summarise(config, data, runs))
}

/// The run of one grid point `(width, seed)`, exactly as [`run_study`] computes it (for
/// a grid shared among processes, see [`crate::ranks`]).
pub fn run_one(config: &StudyConfig, data: &StudyData, width: usize, seed: u64) -> Result<Run> {
    check(config, data)?;
    Ok(Run {
        width,
        seed,
        metrics: one(config, data, width, seed)?,
    })
}

/// The study from every run of the grid, in [`run_study`]'s order (widths, then seeds):
/// the per-width statistics and the fits.
pub fn summarise(config: &StudyConfig, data: &StudyData, runs: Vec<Run>) -> StudyResult {
    let rows: Vec<Row> = config
        .widths
        .iter()
        .map(|&w| Row {
            width: w,
            stats: (0..METRICS.len())
                .map(|i| {
                    let vals: Vec<f64> = runs
                        .iter()
                        .filter(|r: &&Run| r.width == w)
                        .map(|r| r.values()[i])
                        .collect();
                    Stat::of(&vals)
                })
                .collect(),
        })
        .collect();
    let slopes = METRICS
        .iter()
        .enumerate()
        .filter(|(_, m)| m.1)
        .filter_map(|(i, m)| {
            let pts: Vec<(f64, f64)> = rows
                .iter()
                .map(|r| (r.width as f64, r.stats[i].mean))
                .collect();
            loglog_fit(&pts).map(|f| Slope {
                metric: m.0,
                slope: f.slope,
                stderr: f.stderr,
                intercept: f.intercept,
            })
        })
        .collect();
    let description = format!(
        "{}: n_train={} n_test={} k={} depth={} act={} param={} W_std={} b_std={} alpha={}{} \
         steps={} lr={} batch={} two_layer={}",
        data.name,
        data.y_train.rows,
        data.y_test.rows,
        data.y_train.cols,
        config.depth,
        config.activation,
        config.parameterization,
        config.w_std,
        config.b_std,
        config.alpha,
        if config.centre { " (centred)" } else { "" },
        config.steps,
        config.learning_rate,
        config
            .batch_size
            .map_or("full".to_string(), |b| b.to_string()),
        config
            .two_layer
            .map_or("none".to_string(), |a: Activation| a.to_string()),
    );
    StudyResult {
        description,
        runs,
        rows,
        slopes,
    }
}
