//! The lecture's linearisation bound, measured: the two-layer net
//! `f(x; W) = m^{-1/2} Σ_j a_j σ(w_jᵀx)` (fixed `a_j = ±1`, the engine's
//! `train::two_layer::TwoLayer`) trained by gradient descent from `W_0`, and
//! `max_x |f(x; W) − f_{W_0}(x; W)|` against `β/(2√m)·‖W − W_0‖_F²` at each width (for a
//! `β`-smooth `σ`; ReLU has no `β`, and the lecture's bound for it,
//! `(2B^{4/3} + B·log(1/δ)^{1/4})/m^{1/6}` with probability `1 − δ` over `‖W − W_0‖_F ≤ B`
//! (Telgarsky's Lemma 4.1), is drawn with `B` the measured distance). Also the lecture's
//! homogeneity identity `f(x; W) = ⟨∇f(x; W), W⟩` for ReLU ([`homogeneity`]).

use faer::Mat;
use ntk_engine::metrics::Stat;
use ntk_engine::train::two_layer::{TwoLayer, TwoLayerTask, beta, linearisation_run};
use ntk_engine::{Activation, Error, Result};

use crate::data::Data;
use crate::display::plot::{Panels, Plot, Series, Style};
use crate::display::{Table, num};
use crate::predict::Outputs;
use crate::sweep::{Fit, loglog_fit};

/// Per width, over seeds: the measured linearisation error, `‖W − W_0‖_F` and the bound.
#[derive(Clone, Debug, PartialEq)]
pub struct Linearisation {
    /// `σ`.
    pub activation: String,
    /// `sup |σ''|` (`None` for ReLU).
    pub beta: Option<f64>,
    /// The widths.
    pub widths: Vec<usize>,
    /// `error[i][s]`: `max_x |f − f_lin|` at width `i`, seed `s`.
    pub error: Vec<Vec<f64>>,
    /// `‖W − W_0‖_F`.
    pub distance: Vec<Vec<f64>>,
    /// `β/(2√m)·‖W − W_0‖_F²` (NaN without `β`).
    pub bound: Vec<Vec<f64>>,
    /// The final training loss.
    pub loss: Vec<Vec<f64>>,
}

/// Trains the two-layer net with `activation` at each width and seed `0..seeds` by `steps`
/// of gradient descent (learning rate `lr`) on `x → y` (column 0), then measures the gap
/// to its linearisation at `W_0` over the rows of `x`. Every row of `x` must have
/// `‖x‖ ≤ 1` (use [`Data::unit_norm`]).
pub fn linearisation(
    activation: Activation,
    x: &Data,
    y: &Outputs,
    widths: &[usize],
    seeds: u64,
    steps: usize,
    lr: f64,
) -> Result<Linearisation> {
    crate::sweep::check_sizes(widths, seeds)?;
    let (n, d) = (x.rows(), x.cols());
    if y.rows != n {
        return Err(Error::DimensionMismatch {
            what: "rows of the targets".into(),
            expected: n,
            got: y.rows,
        });
    }
    let v = x.values();
    let norm = (0..n)
        .map(|i| {
            v[i * d..(i + 1) * d]
                .iter()
                .map(|a| a * a)
                .sum::<f64>()
                .sqrt()
        })
        .fold(0.0, f64::max);
    if norm > 1.0 + 1e-9 {
        return Err(Error::invalid(
            "input norms",
            norm,
            "every ‖x‖ ≤ 1 (unit_norm)",
        ));
    }
    let xm = Mat::from_fn(n, d, |i, j| v[i * d + j]);
    let target: Vec<f64> = (0..n).map(|i| y.get(i, 0)).collect();
    let mut out = Linearisation {
        activation: activation.to_string(),
        beta: beta(activation),
        widths: widths.to_vec(),
        error: vec![],
        distance: vec![],
        bound: vec![],
        loss: vec![],
    };
    let task = TwoLayerTask {
        x_train: xm.as_ref(),
        y: &target,
        x_eval: xm.as_ref(),
        learning_rate: lr,
        steps,
    };
    for &m in widths {
        let runs: Vec<_> = (0..seeds)
            .map(|s| linearisation_run(&task, activation, m, s))
            .collect();
        out.error.push(runs.iter().map(|r| r.error).collect());
        out.distance.push(runs.iter().map(|r| r.distance).collect());
        out.bound.push(runs.iter().map(|r| r.bound).collect());
        out.loss.push(runs.iter().map(|r| r.loss).collect());
    }
    Ok(out)
}

fn mean(v: &[f64]) -> f64 {
    Stat::of(v).mean
}

impl Linearisation {
    fn fit_of(&self, vals: &[Vec<f64>]) -> Option<Fit> {
        let pts: Vec<(f64, f64)> = self
            .widths
            .iter()
            .zip(vals)
            .flat_map(|(&m, v)| v.iter().map(move |&y| (m as f64, y)))
            .collect();
        loglog_fit(&pts)
    }

    /// The fitted power law of the measured error.
    pub fn error_fit(&self) -> Option<Fit> {
        self.fit_of(&self.error)
    }

    /// The fitted power law of the bound.
    pub fn bound_fit(&self) -> Option<Fit> {
        self.fit_of(&self.bound)
    }

    /// The lecture's ReLU bound `(2B^{4/3} + B·log(1/δ)^{1/4})/m^{1/6}` per width, with `B`
    /// the largest `‖W − W_0‖_F` over seeds at that width (the bound covers the whole ball
    /// `‖W − W_0‖_F ≤ B`, so every seed's trained `W` is inside it).
    pub fn relu_bound(&self, delta: f64) -> Vec<f64> {
        self.widths
            .iter()
            .zip(&self.distance)
            .map(|(&m, d)| {
                let b = d.iter().copied().fold(0.0, f64::max);
                (2.0 * b.powf(4.0 / 3.0) + b * (1.0 / delta).ln().powf(0.25))
                    / (m as f64).powf(1.0 / 6.0)
            })
            .collect()
    }

    /// Whether every seed's error is at most its bound (`None` without `β`).
    pub fn bound_holds(&self) -> Option<bool> {
        self.beta?;
        Some(
            self.error
                .iter()
                .flatten()
                .zip(self.bound.iter().flatten())
                .all(|(e, b)| e <= b),
        )
    }

    /// Two log-log panels: the measured error (mean over seeds with min–max bars) next to
    /// the bound (`β/(2√m)·‖W − W_0‖_F²` for a smooth `σ`; for ReLU the lecture's
    /// `m^{-1/6}` bound at `δ = 0.05`), fits in the points' colours; and `‖W − W_0‖_F`,
    /// whose units differ, on its own panel.
    pub fn plot(&self) -> Panels {
        let fit_label = |name: &str, f: Option<Fit>| match f {
            Some(f) => format!("{name}: slope {:.3} ± {:.3}", f.slope, f.stderr),
            None => name.to_string(),
        };
        let xs: Vec<f64> = self.widths.iter().map(|&m| m as f64).collect();
        let with_bars = |name: &str, vals: &[Vec<f64>], f: Option<Fit>, c: usize| -> Vec<Series> {
            let pts: Vec<(f64, f64)> = xs
                .iter()
                .copied()
                .zip(vals.iter().map(|v| mean(v)))
                .collect();
            let bars = vals
                .iter()
                .map(|v| {
                    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
                    (lo, v.iter().copied().fold(f64::NEG_INFINITY, f64::max))
                })
                .collect();
            let mut out = vec![
                Series::new(&fit_label(name, f), pts, Style::Points)
                    .colour(c)
                    .errors(bars),
            ];
            if let (Some(f), Some(a), Some(b)) = (f, xs.first(), xs.last()) {
                out.push(
                    Series::new(
                        &format!("{name} fit"),
                        vec![(*a, f.at(*a)), (*b, f.at(*b))],
                        Style::Line,
                    )
                    .colour(c),
                );
            }
            out
        };
        let mut gap = Plot::new(
            &format!("two-layer {}: gap to the linearisation", self.activation),
            "width m",
            "output units",
        )
        .log_log();
        for s in with_bars("max_x |f − f_lin|", &self.error, self.error_fit(), 0) {
            gap = gap.with(s);
        }
        if self.beta.is_some() {
            for s in with_bars("β/(2√m)·‖W−W₀‖²", &self.bound, self.bound_fit(), 1) {
                gap = gap.with(s);
            }
        } else {
            let pts = xs.iter().copied().zip(self.relu_bound(0.05)).collect();
            gap = gap.with(
                Series::new(
                    "(2B^{4/3} + B log(1/δ)^{1/4})/m^{1/6}, δ = 0.05",
                    pts,
                    Style::LinePoints,
                )
                .colour(1),
            );
        }
        gap = gap.with(
            Series::new(
                "targets ±1",
                vec![(xs[0], 1.0), (xs[xs.len() - 1], 1.0)],
                Style::Line,
            )
            .colour(7),
        );
        let mut dist = Plot::new("distance travelled", "width m", "‖W − W₀‖_F").log_log();
        for s in with_bars("‖W − W₀‖_F", &self.distance, self.fit_of(&self.distance), 2) {
            dist = dist.with(s);
        }
        gap.size = (620, 380);
        dist.size = (420, 380);
        Panels(vec![gap, dist])
    }

    /// Means over seeds per width.
    pub fn table(&self) -> Table {
        let beta = self.beta.map_or("none".into(), num);
        // Without β, the lecture's ReLU bound (δ = 0.05, B = the largest distance).
        let bound: Vec<f64> = match self.beta {
            Some(_) => self.bound.iter().map(|b| mean(b)).collect(),
            None => self.relu_bound(0.05),
        };
        let bound_head = if self.beta.is_some() {
            "bound β/(2√m)·‖W−W₀‖²"
        } else {
            "bound (2B^{4/3}+B·log(1/δ)^{1/4})/m^{1/6}, δ = 0.05"
        };
        let mut t = Table::new(
            &format!(
                "two-layer {}, β = {beta}: means over {} seeds",
                self.activation,
                self.error.first().map_or(0, Vec::len)
            ),
            &[
                "width",
                "max |f − f_lin|",
                bound_head,
                "‖W−W₀‖_F",
                "final loss",
            ],
        );
        for (i, b) in bound.iter().enumerate() {
            t.push(vec![
                self.widths[i].to_string(),
                num(mean(&self.error[i])),
                num(*b),
                num(mean(&self.distance[i])),
                num(mean(&self.loss[i])),
            ]);
        }
        t
    }
}

table_display!(Linearisation, |s| format!(
    "{}{}",
    s.plot().to_html(),
    s.table().to_html()
));

/// The lecture's homogeneity identity, measured (see [`homogeneity`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Homogeneity {
    /// Width of the nets.
    pub width: usize,
    /// Per activation: its name, `max_x |f(x; W_0) − ⟨∇f(x; W_0), W_0⟩| / max_x |f(x; W_0)|`,
    /// and after training to `W`, `max_x |f_{W_0}(x; W) − ⟨∇f(x; W_0), W⟩|`.
    pub rows: Vec<(String, f64, f64)>,
}

/// For each activation, the lecture's two-layer net of width `width` (seed 0) on the rows
/// of `x` (`‖x‖ ≤ 1`): the relative gap between `f(x; W_0)` and `⟨∇f(x; W_0), W_0⟩`, and,
/// after `steps` of gradient descent (learning rate `lr`) on `x → y`, the gap between the
/// linearisation `f_{W_0}(x; W)` and `⟨∇f(x; W_0), W⟩`. Both vanish (to rounding) exactly
/// when `σ(z) = σ'(z)·z`: ReLU and leaky ReLU, whose nets are positively homogeneous in `W`.
pub fn homogeneity(
    x: &Data,
    y: &Outputs,
    width: usize,
    activations: &[Activation],
    steps: usize,
    lr: f64,
) -> Result<Homogeneity> {
    let (n, d) = (x.rows(), x.cols());
    if y.rows != n {
        return Err(Error::DimensionMismatch {
            what: "rows of the targets".into(),
            expected: n,
            got: y.rows,
        });
    }
    crate::sweep::check_sizes(&[width], 1)?;
    let v = x.values();
    let xm = Mat::from_fn(n, d, |i, j| v[i * d + j]);
    let target: Vec<f64> = (0..n).map(|i| y.get(i, 0)).collect();
    let mut rows = Vec::new();
    for &act in activations {
        let init = TwoLayer::seeded(d, width, act, 0);
        let f = init.forward(xm.as_ref());
        let g = init.gradient_inner(init.w.as_ref(), xm.as_ref());
        let scale = f.iter().map(|a| a.abs()).fold(0.0, f64::max);
        let gap0 = f
            .iter()
            .zip(&g)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max)
            / scale;
        let mut net = init.clone();
        net.train_gd(xm.as_ref(), &target, lr, steps);
        let lin = init.linearised(net.w.as_ref(), xm.as_ref());
        let h = init.gradient_inner(net.w.as_ref(), xm.as_ref());
        let gap1 = lin
            .iter()
            .zip(&h)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        rows.push((act.to_string(), gap0, gap1));
    }
    Ok(Homogeneity { width, rows })
}

impl Homogeneity {
    /// The gaps as a table.
    pub fn table(&self) -> Table {
        let mut t = Table::new(
            &format!("two-layer nets of width {}: f against ⟨∇f, W⟩", self.width),
            &[
                "σ",
                "max|f(x;W₀) − ⟨∇f(x;W₀),W₀⟩| / max|f|",
                "max|f_W₀(x;W) − ⟨∇f(x;W₀),W⟩| after training",
            ],
        );
        for (a, g0, g1) in &self.rows {
            t.push(vec![a.clone(), num(*g0), num(*g1)]);
        }
        t
    }
}

table_display!(Homogeneity, |s| s.table().to_html());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tanh_error_sits_below_its_bound_and_relu_has_none() {
        let x = Data::bundled("iris").unwrap().head(10).unit_norm().unwrap();
        let y = x.one_vs_rest(0).unwrap();
        let l = linearisation(Activation::Tanh, &x, &y, &[16, 256], 2, 20, 1.0).unwrap();
        assert_eq!(l.bound_holds(), Some(true));
        assert!(l.plot().to_html().contains("β/(2√m)"));
        let r = linearisation(Activation::Relu, &x, &y, &[16, 256], 1, 20, 1.0).unwrap();
        assert_eq!(r.bound_holds(), None);
        assert!(!r.plot().to_html().contains("β/(2√m)"));
        assert!(r.plot().to_html().contains("m^{1/6}"));
        assert!(r.relu_bound(0.05).iter().all(|b| b.is_finite() && *b > 0.0));
        let h = homogeneity(&x, &y, 64, &[Activation::Relu, Activation::Tanh], 5, 1.0).unwrap();
        assert!(h.rows[0].1 < 1e-12 && h.rows[0].2 < 1e-12, "{h}");
        assert!(h.rows[1].1 > 1e-3, "{h}");
        assert!(r.table().to_html().contains("none") && !r.table().to_html().contains("NaN"));
        let far = Data::bundled("iris").unwrap().head(10);
        assert!(linearisation(Activation::Tanh, &far, &y, &[16], 1, 1, 1.0).is_err());
    }
}
