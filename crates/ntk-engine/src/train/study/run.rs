//! Running a study: every `(width, seed)` in turn, then the per-width statistics and fits.

use faer::Mat;

use super::{
    Activation, AnalyticOptions, Batching, EmpiricalOptions, Error, FitOptions, GradientFlow,
    Initial, METRICS, Matrix, Mlp, Parameterization, Params, Precision, Result, Row, Run, Slope,
    Stat, StudyConfig, StudyData, StudyResult, TrainData, TrainOptions, TwoLayer, Weights,
    analytic, beta, gram, loglog_fit, train,
};

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

fn rms(a: &Matrix, b: &Matrix) -> f64 {
    let s: f64 = a
        .data
        .iter()
        .zip(&b.data)
        .map(|(x, y)| (x - y) * (x - y))
        .sum();
    (s / a.data.len().max(1) as f64).sqrt()
}

fn accuracy(pred: &Matrix, y: &Matrix) -> f64 {
    let hits = (0..y.rows)
        .filter(|&i| {
            let (p, t) = (pred.row(i), y.row(i));
            if t.len() == 1 {
                (p[0] >= 0.0) == (t[0] >= 0.0)
            } else {
                super::argmax(p) == super::argmax(t)
            }
        })
        .count();
    hits as f64 / y.rows.max(1) as f64
}

fn rel_frob(a: &[f64], b: &[f64]) -> f64 {
    let num: f64 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
    let den: f64 = b.iter().map(|y| y * y).sum();
    (num / den).sqrt()
}

/// One MLP run and, when configured, one two-layer run.
fn one(config: &StudyConfig, data: &StudyData, width: usize, seed: u64) -> Result<Vec<f64>> {
    let mut v = vec![f64::NAN; METRICS.len()];
    let (x_train, x_test) = (data.points(&data.x_train)?, data.points(&data.x_test)?);
    let model = Mlp::new(data.dim, &vec![width; config.depth], config.activation)
        .with_w_std(config.w_std)
        .with_b_std(config.b_std)
        .with_parameterization(config.parameterization)
        .with_outputs(data.y_train.cols);
    let params0 = Params::seeded(&model, seed)?;
    let mean_field = config.parameterization == Parameterization::MeanField;
    let lr = if mean_field {
        config.learning_rate * width as f64
    } else {
        config.learning_rate
    };
    let aopts = AnalyticOptions {
        parallelism: config.parallelism,
        ..AnalyticOptions::default()
    };
    let analytic_tt = if mean_field {
        None
    } else {
        Some(analytic(&model, &x_train, None, &aopts)?)
    };
    if let Some(a) = &analytic_tt {
        let eopts = EmpiricalOptions {
            precision: Precision::F64,
            parallelism: config.parallelism,
            ..EmpiricalOptions::default()
        };
        let e = gram::empirical(&model, Weights::Explicit(&params0), &x_train, None, &eopts)?;
        v[0] = rel_frob(&e.data, &a.data);
    }
    let opts = TrainOptions {
        steps: config.steps,
        learning_rate: lr,
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
    let last = t.records.last().copied();
    let test = t
        .test
        .as_ref()
        .unwrap_or_else(|| unreachable!("test points given"));
    v[1] = last.and_then(|r| r.kernel_drift).unwrap_or(f64::NAN);
    v[2] = last.map_or(f64::NAN, |r| r.param_distance);
    v[3] = last.and_then(|r| r.lin_gap_test).unwrap_or(f64::NAN);
    if let Some(k_tt) = &analytic_tt {
        let k_st = analytic(&model, &x_test, Some(&x_train), &aopts)?;
        let (n, m) = (k_tt.n1, k_st.n1);
        let flow = GradientFlow::fit(
            &Matrix::new(n, n, k_tt.data.clone())?,
            &data.y_train,
            &FitOptions {
                learning_rate: lr,
                parallelism: config.parallelism,
                ..FitOptions::default()
            },
        )?;
        let init = Initial {
            fx_train_0: Some(&t.train_0),
            fx_test_0: t.test_0.as_ref(),
        };
        let pred = flow.predict_test(
            &[config.steps as f64],
            &Matrix::new(m, n, k_st.data)?,
            &init,
        )?;
        v[4] = rms(test, &pred[0]);
    }
    v[5] = rms(test, &data.y_test).powi(2);
    if data.classification {
        v[6] = accuracy(test, &data.y_test);
    }
    v[7] = last.map_or(f64::NAN, |r| r.loss);
    if let Some(act) = config.two_layer {
        let (xt, y, xs) = data.two_layer_task();
        let init = TwoLayer::seeded(data.dim, width, act, seed);
        let mut net = init.clone();
        net.train_gd(xt.as_ref(), &y, config.learning_rate, config.steps);
        let all = Mat::from_fn(xt.nrows() + xs.nrows(), data.dim, |i, j| {
            if i < xt.nrows() {
                xt[(i, j)]
            } else {
                xs[(i - xt.nrows(), j)]
            }
        });
        v[8] = net.linearisation_error(&init, all.as_ref());
        v[9] = net.linearisation_bound(&init).unwrap_or(f64::NAN);
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
            let values = one(config, data, width, seed)?;
            runs.push(super::Run {
                width,
                seed,
                values,
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
        values: one(config, data, width, seed)?,
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
                        .map(|r| r.values[i])
                        .collect();
                    Stat::of(&vals)
                })
                .collect(),
        })
        .collect();
    let widths: Vec<usize> = rows.iter().map(|r| r.width).collect();
    let slopes = METRICS
        .iter()
        .enumerate()
        .filter(|(_, m)| m.1)
        .filter_map(|(i, m)| {
            let y: Vec<f64> = rows.iter().map(|r| r.stats[i].mean).collect();
            loglog_fit(&widths, &y).map(|(slope, stderr, intercept)| Slope {
                metric: m.0,
                slope,
                stderr,
                intercept,
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
