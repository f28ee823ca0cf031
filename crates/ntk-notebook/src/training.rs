//! Training a finite network with the engine's trainer (`ntk_engine::train`), and the
//! trace of how far it moves from its kernel description: loss, `‖θ − θ_0‖`, kernel drift
//! and the gap to the linearised model, recorded against the step.
//!
//! The engine trains `g = α·(f − c·f_0)` on the loss `1/α²·1/(2N)·‖g − y‖²` (Chizat & Bach
//! 2019); [`TrainPlan`] sets the steps, learning rate, `α` and centring. All numbers here are
//! the engine's; this module only collects them into owned values and draws them.

use core::fmt;

use ntk_engine::metrics::rms;
use ntk_engine::train::{Batching, TrainData, TrainOptions, ntk_flow_prediction, train};
use ntk_engine::{Params, Result};

use crate::data::Data;
use crate::display::plot::{Panels, Plot, Series, Style};
use crate::display::{Table, emit, num};
use crate::model::Model;
use crate::predict::Outputs;

/// How to train: steps, learning rate `η`, output scale `α`, centring, record interval,
/// SGD batch size and seed of the initialisation.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainPlan {
    /// Steps.
    pub steps: usize,
    /// Learning rate `η`.
    pub learning_rate: f64,
    /// Output scale `α` (1 = plain training).
    pub alpha: f64,
    /// Train `α·(f − f_0)`, which starts at 0.
    pub centre: bool,
    /// Record every this many steps.
    pub record_every: usize,
    /// Mini-batch size (`None`: full batch).
    pub batch: Option<usize>,
    /// Seed of the initial parameters (and of the batches).
    pub seed: u64,
}

impl TrainPlan {
    /// Full-batch gradient descent, `α = 1`, uncentred, 20 records, seed 0.
    pub fn new(steps: usize, learning_rate: f64) -> TrainPlan {
        TrainPlan {
            steps,
            learning_rate,
            alpha: 1.0,
            centre: false,
            record_every: (steps / 20).max(1),
            batch: None,
            seed: 0,
        }
    }

    /// Sets `α`.
    pub fn alpha(mut self, alpha: f64) -> TrainPlan {
        self.alpha = alpha;
        self
    }

    /// Trains `α·(f − f_0)` instead of `α·f`.
    pub fn centred(mut self) -> TrainPlan {
        self.centre = true;
        self
    }

    /// Records every `n` steps.
    pub fn record_every(mut self, n: usize) -> TrainPlan {
        self.record_every = n;
        self
    }

    /// Mini-batch SGD with `size` points per step.
    pub fn batch(mut self, size: usize) -> TrainPlan {
        self.batch = Some(size);
        self
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> TrainPlan {
        self.seed = seed;
        self
    }
}

/// One record of a run (NaN where not measured).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Step {
    /// Steps taken.
    pub step: usize,
    /// Training loss.
    pub loss: f64,
    /// `‖θ_t − θ_0‖₂`.
    pub param_distance: f64,
    /// `‖Θ_t − Θ_0‖_F/‖Θ_0‖_F` on the training points.
    pub kernel_drift: f64,
    /// RMS of `g_nn − g_lin` on the training points.
    pub lin_gap_train: f64,
    /// RMS of `g_nn − g_lin` on the test points.
    pub lin_gap_test: f64,
}

/// A trained network: its records and outputs, the linearised model's outputs, and (NTK
/// parameterization with test points) the analytic NTK's gradient flow at the same time.
#[derive(Clone, Debug, PartialEq)]
pub struct Training {
    /// A one-line description.
    pub title: String,
    /// The records, in step order.
    pub steps: Vec<Step>,
    /// `g` on the training points after training.
    pub train: Outputs,
    /// `g` on the test points after training.
    pub test: Option<Outputs>,
    /// The linearised network on the test points after training.
    pub lin_test: Option<Outputs>,
    /// Gradient flow under the analytic NTK at the same time, from the same `g(0)`, on the
    /// test points (`None` under mean field, where there is no kernel limit).
    pub ntk_test: Option<Outputs>,
}

/// Trains `model` (seeded by `schedule.seed`) on `x_train → y_train` by the engine's
/// trainer, recording loss, parameter distance, kernel drift and the linearised gap; with
/// test points, also the analytic NTK's gradient flow at the final time. Cost per record:
/// one empirical NTK on the training points.
pub fn train_network(
    model: &Model,
    x_train: &Data,
    y_train: &Outputs,
    x_test: Option<&Data>,
    schedule: &TrainPlan,
) -> Result<Training> {
    let mlp = model.mlp.clone().with_outputs(y_train.cols);
    let params0 = Params::seeded(&mlp, schedule.seed)?;
    let (pt, ps) = (x_train.points(), x_test.map(Data::points));
    let y = y_train.to_matrix();
    let opts = TrainOptions {
        steps: schedule.steps,
        learning_rate: schedule.learning_rate,
        batching: match schedule.batch {
            None => Batching::Full,
            Some(size) => Batching::MiniBatch {
                size,
                seed: schedule.seed,
            },
        },
        alpha: schedule.alpha,
        centre: schedule.centre,
        record_every: schedule.record_every,
        kernel_drift: true,
        linearised: true,
        ..TrainOptions::default()
    };
    let data = TrainData {
        x_train: &pt,
        y_train: &y,
        x_test: ps.as_ref(),
        probe: None,
    };
    let t = train(&mlp, &params0, &data, &opts)?;
    let ntk_test = ntk_flow_prediction(&mlp, &data, &t, &opts)?.map(Outputs::from);
    let nan = |v: Option<f64>| v.unwrap_or(f64::NAN);
    Ok(Training {
        title: format!(
            "{} widths {:?}, {}, α = {}, η = {}, {} steps{}",
            mlp.parameterization,
            mlp.widths,
            mlp.activation,
            schedule.alpha,
            schedule.learning_rate,
            schedule.steps,
            if schedule.centre { ", centred" } else { "" }
        ),
        steps: t
            .records
            .iter()
            .map(|r| Step {
                step: r.step,
                loss: r.loss,
                param_distance: r.param_distance,
                kernel_drift: nan(r.kernel_drift),
                lin_gap_train: nan(r.lin_gap_train),
                lin_gap_test: nan(r.lin_gap_test),
            })
            .collect(),
        train: t.train.into(),
        test: t.test.map(Outputs::from),
        lin_test: t.lin_test.map(Outputs::from),
        ntk_test,
    })
}

impl Training {
    /// The last record.
    pub fn last(&self) -> Step {
        *self
            .steps
            .last()
            .unwrap_or_else(|| unreachable!("the last step is recorded"))
    }

    /// The curve of one quantity against the step (values ≤ 0 or NaN left out).
    fn curve(&self, pick: impl Fn(&Step) -> f64) -> Vec<(f64, f64)> {
        self.steps
            .iter()
            .map(|s| (s.step as f64, pick(s)))
            .filter(|p| p.1.is_finite() && p.1 > 0.0)
            .collect()
    }

    /// Four panels against the step, one per quantity (their units differ): the training
    /// loss, `‖θ − θ_0‖`, the relative kernel drift, and the RMS gap to the linearised
    /// model on the test points (on the training points without test points).
    pub fn plot(&self) -> Panels {
        let panel = |title: &str, y: &str, pts: Vec<(f64, f64)>, c: usize, log: bool| {
            let mut p = Plot::new(title, "step", y)
                .with(Series::new(title, pts, Style::LinePoints).colour(c));
            p.log_y = log;
            p.size = (380, 280);
            p
        };
        let test = self.steps.iter().any(|s| s.lin_gap_test.is_finite());
        Panels(vec![
            panel(
                "training loss",
                "loss (log scale)",
                self.curve(|s| s.loss),
                0,
                true,
            ),
            panel(
                "‖θ − θ₀‖",
                "parameter distance",
                self.curve(|s| s.param_distance),
                1,
                false,
            ),
            panel(
                "kernel drift",
                "‖Θ_t − Θ₀‖_F / ‖Θ₀‖_F",
                self.curve(|s| s.kernel_drift),
                2,
                false,
            ),
            if test {
                panel(
                    "gap to linearised (test)",
                    "RMS output gap",
                    self.curve(|s| s.lin_gap_test),
                    3,
                    false,
                )
            } else {
                panel(
                    "gap to linearised (train)",
                    "RMS output gap",
                    self.curve(|s| s.lin_gap_train),
                    3,
                    false,
                )
            },
        ])
    }

    /// The records as a table.
    pub fn table(&self) -> Table {
        let mut t = Table::new(
            "records",
            &[
                "step",
                "loss",
                "‖θ−θ₀‖",
                "kernel drift",
                "lin gap train",
                "lin gap test",
            ],
        );
        for s in &self.steps {
            t.push(vec![
                s.step.to_string(),
                num(s.loss),
                num(s.param_distance),
                num(s.kernel_drift),
                num(s.lin_gap_train),
                num(s.lin_gap_test),
            ]);
        }
        t
    }

    /// The network's test outputs against the linearised model's and the analytic NTK
    /// flow's (output 0 of each test point, one dot per point), with the diagonal.
    pub fn versus_kernels(&self) -> Plot {
        let mut p = Plot::new(
            "test outputs: linearised / NTK flow vs network",
            "trained network g(x), output 0",
            "prediction, output 0",
        );
        let Some(net) = &self.test else { return p };
        p.title = format!(
            "test outputs (output 0 of {} per point): linearised / NTK flow vs network",
            net.cols
        );
        let pairs = |o: &Outputs| -> Vec<(f64, f64)> {
            (0..o.rows).map(|i| (net.get(i, 0), o.get(i, 0))).collect()
        };
        let (lo, hi) = net
            .data
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        p = p.with(Series::new("y = x", vec![(lo, lo), (hi, hi)], Style::Line).colour(7));
        if let Some(l) = &self.lin_test {
            p = p.with(Series::new("linearised network", pairs(l), Style::Points));
        }
        if let Some(k) = &self.ntk_test {
            p = p.with(Series::new("analytic NTK flow", pairs(k), Style::Points));
        }
        p
    }

    /// RMS distance of the test outputs to the analytic NTK flow's.
    pub fn ntk_gap(&self) -> Option<f64> {
        Some(rms(
            &self.test.as_ref()?.data,
            &self.ntk_test.as_ref()?.data,
        ))
    }

    /// Shows the plot and the records.
    pub fn evcxr_display(&self) {
        emit(
            "text/html",
            &format!("{}{}", self.plot().to_html(), self.table().to_html()),
            &self.to_string(),
        );
    }
}

impl fmt::Display for Training {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.title)?;
        write!(f, "{}", self.table())
    }
}

/// Final kernel drift (and `‖θ − θ_0‖`) against the output scale `α`: one centred run of
/// `schedule` per `α` and seed `0..seeds`. Lazy training predicts drift `∝ 1/α`.
pub fn alpha_sweep(
    model: &Model,
    x_train: &Data,
    y_train: &Outputs,
    alphas: &[f64],
    schedule: &TrainPlan,
    seeds: u64,
) -> Result<crate::scan::Scan> {
    crate::sweep::check_sizes(&[alphas.len()], seeds)?;
    let mut drift = Vec::new();
    for &a in alphas {
        let mut v = Vec::new();
        for s in 0..seeds {
            let sch = schedule
                .clone()
                .alpha(a)
                .centred()
                .seed(s)
                .record_every(schedule.steps.max(1));
            v.push(
                train_network(model, x_train, y_train, None, &sch)?
                    .last()
                    .kernel_drift,
            );
        }
        drift.push(v);
    }
    Ok(crate::scan::Scan::new(
        &format!(
            "kernel drift against α, {} widths {:?}",
            model.mlp.activation, model.mlp.widths
        ),
        "output scale α",
        "‖Θ_T − Θ_0‖_F / ‖Θ_0‖_F",
        alphas.to_vec(),
        drift,
        Some(-1.0),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ntk_engine::Activation;

    #[test]
    fn a_short_run_records_and_draws() {
        let d = Data::bundled("iris").unwrap().head(24).unit_norm().unwrap();
        let (tr, te) = d.split(16, 8);
        let y = tr.one_hot(3).unwrap();
        let model = Model::new(4, &[128], Activation::Relu);
        let t = train_network(
            &model,
            &tr,
            &y,
            Some(&te),
            &TrainPlan::new(10, 1.0).centred(),
        )
        .unwrap();
        assert_eq!(t.steps.first().unwrap().step, 0);
        assert_eq!(t.last().step, 10);
        assert!(t.last().loss < t.steps[0].loss);
        assert!(t.ntk_gap().unwrap().is_finite());
        let svg = t.plot().to_html();
        assert!(svg.contains("kernel drift") && svg.contains("training loss"));
        assert!(t.versus_kernels().to_svg().contains("analytic NTK flow"));
        assert_eq!(t.table().rows.len(), t.steps.len());
    }
}
