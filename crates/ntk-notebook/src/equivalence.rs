//! A trained network against the kernel: Arora et al. 2019's Theorem 3.2 (a wide network
//! trained to convergence predicts as kernel regression with the analytic NTK,
//! `f_ntk(x) = Θ(x, X)·Θ⁻¹·Y`) and Lee et al. 2019's picture (the whole training
//! trajectory follows gradient flow under `Θ`).
//!
//! The networks train `g = f − f_0` (centred: exactly 0 at initialisation, the limit of
//! Arora et al.'s small output scale `κ`) by full-batch gradient descent on
//! `1/(2N)·‖g − Y‖²`, by the engine's [`descend`]. The kernel side is the engine's analytic
//! NTK and [`GradientFlow`]: the flow at time `t` (in steps, `η` the learning rate) is
//! `f_train(t) = (I − e^{−ηtΘ/N})·Y` on the training set and
//! `f_test(t) = Θ(x, X)·Θ⁻¹·(I − e^{−ηtΘ/N})·Y` on a test point. This module only collects
//! the engine's numbers and draws them.

use core::fmt;

use ntk_engine::Result;
use ntk_engine::metrics::{Stat, max_abs_diff, mse, rms};
use ntk_engine::params::Params;
use ntk_engine::predict::{FitOptions, GradientFlow, Initial, Matrix};
use ntk_engine::train::descent::{DescentOptions, descend};

use crate::data::Data;
use crate::display::plot::{Panels, Plot, Series, Style};
use crate::display::{Table, emit, figures_with_table, num};
use crate::kernel::analytic_kernel;
use crate::model::Model;
use crate::predict::Outputs;
use crate::sweep::{Fit, loglog_fit};
use ntk_engine::gram::KernelKind;

fn mean(v: &[f64]) -> f64 {
    Stat::of(v).mean
}

fn sd(v: &[f64]) -> f64 {
    Stat::of(v).std
}

/// The analytic NTK's train-train and test-train matrices for `model`.
fn ntk_flow(
    model: &Model,
    x_train: &Data,
    y: &Outputs,
    x_test: &Data,
    lr: f64,
) -> Result<(GradientFlow, Matrix)> {
    let k = analytic_kernel(model, KernelKind::Ntk, x_train, None)?;
    let ks = analytic_kernel(model, KernelKind::Ntk, x_test, Some(x_train))?;
    let flow = GradientFlow::fit(
        &k.to_matrix(),
        &y.to_matrix(),
        &FitOptions {
            learning_rate: lr,
            ..FitOptions::default()
        },
    )?;
    Ok((flow, ks.to_matrix()))
}

/// Arora et al.'s comparison over widths and seeds (see [`trained_vs_kernel`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Equivalence {
    /// A one-line description.
    pub title: String,
    /// The loss target `ε`.
    pub epsilon: f64,
    /// The widths.
    pub widths: Vec<usize>,
    /// `rms_gap[i][s]`: RMS over test points and outputs of `f_nn − f_ntk`.
    pub rms_gap: Vec<Vec<f64>>,
    /// `max_gap[i][s]`: the largest `|f_nn(x) − f_ntk(x)|` over test points and outputs.
    pub max_gap: Vec<Vec<f64>>,
    /// Steps taken to reach the target.
    pub steps: Vec<Vec<usize>>,
    /// The final training loss.
    pub loss: Vec<Vec<f64>>,
    /// Whether every run reached `loss < ε`.
    pub all_converged: bool,
    /// `f_ntk` on the test points.
    pub f_ntk: Outputs,
    /// The widest network's test outputs (seed 0).
    pub f_widest: Outputs,
    /// The narrowest network's test outputs (seed 0).
    pub f_narrowest: Outputs,
}

/// For each width and seed `0..seeds`: `model` at that width (every hidden layer), trained
/// centred by full-batch gradient descent (learning rate `lr`) until the training loss is
/// below `epsilon` (at most `max_steps` steps), and its test outputs compared with kernel
/// regression under the analytic NTK, `f_ntk(x) = Θ(x, X)·Θ⁻¹·Y` (ridgeless).
#[allow(clippy::too_many_arguments)]
pub fn trained_vs_kernel(
    model: &Model,
    x_train: &Data,
    y_train: &Outputs,
    x_test: &Data,
    widths: &[usize],
    seeds: u64,
    lr: f64,
    epsilon: f64,
    max_steps: usize,
) -> Result<Equivalence> {
    crate::sweep::check_sizes(widths, seeds)?;
    let base = model.clone().outputs(y_train.cols);
    let (flow, ks) = ntk_flow(&base, x_train, y_train, x_test, lr)?;
    let f_ntk = flow
        .predict_test(&[f64::INFINITY], &ks, &Initial::default())?
        .remove(0);
    let opts = DescentOptions {
        learning_rate: lr,
        centre: true,
        loss_below: Some(epsilon),
        max_steps,
        ..DescentOptions::default()
    };
    let (pt, ps) = (x_train.points(), x_test.points());
    let y = y_train.to_matrix();
    let mut out = Equivalence {
        title: format!(
            "{} depth {}, {} train / {} test points, η = {lr}, loss < {}",
            base.mlp.activation,
            base.depth(),
            x_train.rows(),
            x_test.rows(),
            num(epsilon)
        ),
        epsilon,
        widths: widths.to_vec(),
        rms_gap: vec![],
        max_gap: vec![],
        steps: vec![],
        loss: vec![],
        all_converged: true,
        f_ntk: f_ntk.clone().into(),
        f_widest: Outputs::new(0, 0, vec![])?,
        f_narrowest: Outputs::new(0, 0, vec![])?,
    };
    for (wi, &m) in widths.iter().enumerate() {
        let net = base.with_width(m);
        let (mut r, mut mx, mut st, mut lo) = (vec![], vec![], vec![], vec![]);
        for s in 0..seeds {
            let p0 = Params::seeded(net.mlp(), s)?;
            let run = descend(net.mlp(), &p0, &pt, &y, Some(&ps), &opts, &[])?;
            let last = run.last();
            let test = last
                .test
                .clone()
                .unwrap_or_else(|| unreachable!("test points given"));
            r.push(rms(&test.data, &f_ntk.data));
            mx.push(max_abs_diff(&test.data, &f_ntk.data));
            st.push(last.step);
            lo.push(last.loss);
            out.all_converged &= run.converged;
            if s == 0 && wi == 0 {
                out.f_narrowest = test.clone().into();
            }
            if s == 0 && wi + 1 == widths.len() {
                out.f_widest = test.into();
            }
        }
        out.rms_gap.push(r);
        out.max_gap.push(mx);
        out.steps.push(st);
        out.loss.push(lo);
    }
    Ok(out)
}

impl Equivalence {
    fn fit_of(&self, v: &[Vec<f64>]) -> Option<Fit> {
        let pts: Vec<(f64, f64)> = self
            .widths
            .iter()
            .zip(v)
            .flat_map(|(&m, e)| e.iter().map(move |&y| (m as f64, y)))
            .collect();
        loglog_fit(&pts)
    }

    /// The fitted power law of the RMS gap (every width and seed).
    pub fn rms_fit(&self) -> Option<Fit> {
        self.fit_of(&self.rms_gap)
    }

    /// The fitted power law of the largest gap.
    pub fn max_fit(&self) -> Option<Fit> {
        self.fit_of(&self.max_gap)
    }

    /// Mean RMS gap per width.
    pub fn mean_rms(&self) -> Vec<f64> {
        self.rms_gap.iter().map(|v| mean(v)).collect()
    }

    /// Log-log: the gaps per width (mean ± one standard deviation over seeds as error bars)
    /// and their fitted lines in the same colours.
    pub fn plot(&self) -> Plot {
        let mut p = Plot::new("|f_nn − f_ntk| on the test points", "width m", "gap").log_log();
        for (i, (name, v, f)) in [
            ("RMS", &self.rms_gap, self.rms_fit()),
            ("max", &self.max_gap, self.max_fit()),
        ]
        .into_iter()
        .enumerate()
        {
            let pts: Vec<(f64, f64)> = self
                .widths
                .iter()
                .zip(v)
                .map(|(&m, e)| (m as f64, mean(e)))
                .collect();
            let bars = v
                .iter()
                .map(|e| (mean(e) - sd(e), mean(e) + sd(e)))
                .collect();
            let label = f.map_or(name.to_string(), |f| {
                format!("{name}: slope {:.3} ± {:.3}", f.slope, f.stderr)
            });
            p = p.with(
                Series::new(&label, pts.clone(), Style::Points)
                    .colour(i)
                    .errors(bars),
            );
            if let (Some(f), Some(a), Some(b)) = (f, pts.first(), pts.last()) {
                p = p.with(
                    Series::new(
                        &format!("{name} fit"),
                        vec![(a.0, f.at(a.0)), (b.0, f.at(b.0))],
                        Style::Line,
                    )
                    .colour(i),
                );
            }
        }
        p
    }

    /// The test outputs of the narrowest and widest networks against `f_ntk`, with `y = x`.
    pub fn scatter(&self) -> Plot {
        let pairs = |o: &Outputs| -> Vec<(f64, f64)> {
            self.f_ntk
                .data
                .iter()
                .copied()
                .zip(o.data.iter().copied())
                .collect()
        };
        let (lo, hi) = crate::display::heatmap::finite_range(&self.f_ntk.data);
        let (a, b) = (
            self.widths.first().copied().unwrap_or(0),
            self.widths.last().copied().unwrap_or(0),
        );
        Plot::new(
            "test outputs: trained network vs NTK regression",
            "f_ntk(x)",
            "f_nn(x)",
        )
        .with(Series::new("y = x", vec![(lo, lo), (hi, hi)], Style::Line).colour(7))
        .with(
            Series::new(
                &format!("width {a}"),
                pairs(&self.f_narrowest),
                Style::Points,
            )
            .colour(1),
        )
        .with(Series::new(&format!("width {b}"), pairs(&self.f_widest), Style::Points).colour(0))
    }

    /// Per width: mean ± s.d. of the gaps over seeds, steps to converge, final loss.
    pub fn table(&self) -> Table {
        let mut t = Table::new(
            &format!(
                "{} (mean ± s.d. over {} seeds)",
                self.title,
                self.rms_gap.first().map_or(0, Vec::len)
            ),
            &[
                "width",
                "RMS |f_nn − f_ntk|",
                "max |f_nn − f_ntk|",
                "steps",
                "final loss",
            ],
        );
        for i in 0..self.widths.len() {
            let steps: Vec<f64> = self.steps[i].iter().map(|&s| s as f64).collect();
            t.push(vec![
                self.widths[i].to_string(),
                format!(
                    "{} ± {}",
                    num(mean(&self.rms_gap[i])),
                    num(sd(&self.rms_gap[i]))
                ),
                format!(
                    "{} ± {}",
                    num(mean(&self.max_gap[i])),
                    num(sd(&self.max_gap[i]))
                ),
                num(mean(&steps)),
                num(self.loss[i].iter().copied().fold(0.0, f64::max)),
            ]);
        }
        t
    }

    /// Shows the plots and the table.
    pub fn evcxr_display(&self) {
        emit(
            "text/html",
            &figures_with_table(
                &[&self.plot().to_svg(), &self.scatter().to_svg()],
                &self.table(),
            ),
            &self.to_string(),
        );
    }
}

impl fmt::Display for Equivalence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.table())?;
        if let Some(fit) = self.rms_fit() {
            writeln!(f, "RMS gap: fitted {fit}")?;
        }
        Ok(())
    }
}

/// Lee et al.'s picture (see [`trajectories`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Trajectories {
    /// A one-line description.
    pub title: String,
    /// The recorded steps.
    pub steps: Vec<usize>,
    /// The widths.
    pub widths: Vec<usize>,
    /// `loss[w][t]`: the network's training loss.
    pub loss: Vec<Vec<f64>>,
    /// `test[w][t]`: the network's test outputs.
    pub test: Vec<Vec<Outputs>>,
    /// The analytic NTK flow's training loss at each step.
    pub ntk_loss: Vec<f64>,
    /// The flow's test outputs at each step.
    pub ntk_test: Vec<Outputs>,
}

/// For each width (seed `seed`), `model` trained centred by `max(steps)` steps of
/// full-batch gradient descent with learning rate `lr`, its training loss and test outputs
/// kept at each of `steps`; and the analytic NTK's gradient flow at the same times.
#[allow(clippy::too_many_arguments)]
pub fn trajectories(
    model: &Model,
    x_train: &Data,
    y_train: &Outputs,
    x_test: &Data,
    widths: &[usize],
    seed: u64,
    lr: f64,
    steps: &[usize],
) -> Result<Trajectories> {
    crate::sweep::check_sizes(widths, 1)?;
    let base = model.clone().outputs(y_train.cols);
    let (flow, ks) = ntk_flow(&base, x_train, y_train, x_test, lr)?;
    let times: Vec<f64> = steps.iter().map(|&s| s as f64).collect();
    let y = y_train.to_matrix();
    let ntk_loss = flow
        .predict_train(&times, &Initial::default())?
        .iter()
        .map(|f| mse(&f.data, &y.data) / 2.0)
        .collect();
    let ntk_test = flow
        .predict_test(&times, &ks, &Initial::default())?
        .into_iter()
        .map(Outputs::from)
        .collect();
    let opts = DescentOptions {
        learning_rate: lr,
        centre: true,
        loss_below: None,
        max_steps: steps.iter().copied().max().unwrap_or(0),
        ..DescentOptions::default()
    };
    let (pt, ps) = (x_train.points(), x_test.points());
    let (mut loss, mut test) = (vec![], vec![]);
    for &m in widths {
        let net = base.with_width(m);
        let p0 = Params::seeded(net.mlp(), seed)?;
        let run = descend(net.mlp(), &p0, &pt, &y, Some(&ps), &opts, steps)?;
        let snaps: Vec<_> = steps
            .iter()
            .map(|s| {
                run.snapshots
                    .iter()
                    .find(|x| x.step == *s)
                    .unwrap_or_else(|| run.last())
            })
            .collect();
        loss.push(snaps.iter().map(|s| s.loss).collect());
        test.push(
            snaps
                .iter()
                .map(|s| {
                    Outputs::from(
                        s.test
                            .clone()
                            .unwrap_or_else(|| unreachable!("test points given")),
                    )
                })
                .collect(),
        );
    }
    Ok(Trajectories {
        title: format!(
            "{} depth {}, η = {lr}, seed {seed}",
            base.mlp.activation,
            base.depth()
        ),
        steps: steps.to_vec(),
        widths: widths.to_vec(),
        loss,
        test,
        ntk_loss,
        ntk_test,
    })
}

impl Trajectories {
    /// Per width, the largest RMS distance over the recorded times between the network's
    /// test outputs and the NTK flow's.
    pub fn max_gap(&self) -> Vec<f64> {
        self.test
            .iter()
            .map(|w| {
                w.iter()
                    .zip(&self.ntk_test)
                    .map(|(a, b)| rms(&a.data, &b.data))
                    .fold(0.0, f64::max)
            })
            .collect()
    }

    /// Two panels: the training loss against the step (log scale), and output `output` of
    /// test point `point` against the step, for each width, with the NTK flow dashed
    /// through them (grey).
    pub fn plot(&self, point: usize, output: usize) -> Panels {
        let xs: Vec<f64> = self.steps.iter().map(|&s| s as f64).collect();
        let mut loss = Plot::new("training loss", "step", "loss (log scale)");
        loss.log_y = true;
        let mut out = Plot::new(
            &format!("test point {point}, output {output}"),
            "step",
            "g(x)",
        );
        for (i, &m) in self.widths.iter().enumerate() {
            loss = loss.with(
                Series::new(
                    &format!("width {m}"),
                    xs.iter()
                        .copied()
                        .zip(self.loss[i].iter().copied())
                        .collect(),
                    Style::LinePoints,
                )
                .colour(i),
            );
            let o = self.test[i].iter().map(|t| {
                if point < t.rows && output < t.cols {
                    t.get(point, output)
                } else {
                    f64::NAN
                }
            });
            out = out.with(
                Series::new(
                    &format!("width {m}"),
                    xs.iter().copied().zip(o).collect(),
                    Style::LinePoints,
                )
                .colour(i),
            );
        }
        let grey = 7;
        loss = loss.with(
            Series::new(
                "NTK flow",
                xs.iter()
                    .copied()
                    .zip(self.ntk_loss.iter().copied())
                    .collect(),
                Style::Line,
            )
            .colour(grey),
        );
        let o = self.ntk_test.iter().map(|t| {
            if point < t.rows && output < t.cols {
                t.get(point, output)
            } else {
                f64::NAN
            }
        });
        out = out.with(
            Series::new("NTK flow", xs.iter().copied().zip(o).collect(), Style::Line).colour(grey),
        );
        loss.size = (480, 340);
        out.size = (480, 340);
        Panels(vec![loss, out])
    }

    /// Per width: the largest RMS gap to the NTK flow over the recorded times, and the final
    /// loss next to the flow's.
    pub fn table(&self) -> Table {
        let mut t = Table::new(
            &self.title,
            &[
                "width",
                "max over t of RMS(f_nn − f_ntk) on test",
                "final loss",
            ],
        );
        for (i, g) in self.max_gap().iter().enumerate() {
            t.push(vec![
                self.widths[i].to_string(),
                num(*g),
                num(*self.loss[i].last().unwrap_or(&f64::NAN)),
            ]);
        }
        t.push(vec![
            "NTK flow".into(),
            "0".into(),
            num(*self.ntk_loss.last().unwrap_or(&f64::NAN)),
        ]);
        t
    }
}

table_display!(Trajectories, |s| {
    let svgs: Vec<String> = s.plot(0, 0).0.iter().map(Plot::to_svg).collect();
    let refs: Vec<&str> = svgs.iter().map(String::as_str).collect();
    figures_with_table(&refs, &s.table())
});

#[cfg(test)]
mod tests {
    use super::*;
    use ntk_engine::Activation;

    #[test]
    fn wider_nets_sit_closer_to_the_kernel() {
        let d = Data::bundled("digits")
            .unwrap()
            .head(26)
            .standardized()
            .unit_norm()
            .unwrap()
            .scaled(8.0)
            .unwrap();
        let (tr, te) = d.split(16, 10);
        let y = tr.one_vs_rest(0).unwrap();
        let model = Model::new(64, &[64], Activation::Relu);
        let e = trained_vs_kernel(&model, &tr, &y, &te, &[64, 4096], 1, 2.0, 1e-6, 5000).unwrap();
        assert!(e.all_converged, "{e}");
        assert!(e.rms_gap[1][0] < e.rms_gap[0][0], "{e}");
        assert!(e.plot().to_svg().contains("RMS: slope"));
        let t = trajectories(&model, &tr, &y, &te, &[64, 4096], 0, 2.0, &[0, 10, 100]).unwrap();
        let g = t.max_gap();
        assert!(g[1] < g[0], "{g:?}");
        assert_eq!(t.plot(0, 0).0.len(), 2);
        assert!(t.ntk_loss[0] > t.ntk_loss[2]);
    }
}
