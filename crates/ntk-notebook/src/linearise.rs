//! The lecture's linearisation bound, measured: the two-layer net
//! `f(x; W) = m^{-1/2} Σ_j a_j σ(w_jᵀx)` (fixed `a_j = ±1`, the engine's
//! `train::two_layer::TwoLayer`) trained by gradient descent from `W_0`, and
//! `max_x |f(x; W) − f_{W_0}(x; W)|` against `β/(2√m)·‖W − W_0‖_F²` at each width (for a
//! `β`-smooth `σ`; ReLU has no `β`, and the lecture's bound for it falls like `m^{-1/6}`).

use core::fmt;

use faer::Mat;
use ntk_engine::train::two_layer::{TwoLayer, beta};
use ntk_engine::{Activation, Error, Result};

use crate::data::Data;
use crate::display::plot::{Legend, Plot, Series, Style};
use crate::display::{Table, emit, figure_with_table, num};
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
    for &m in widths {
        let (mut e, mut dist, mut b, mut l) = (vec![], vec![], vec![], vec![]);
        for s in 0..seeds {
            let init = TwoLayer::seeded(d, m, activation, s);
            let mut net = init.clone();
            let losses = net.train_gd(xm.as_ref(), &target, lr, steps);
            e.push(net.linearisation_error(&init, xm.as_ref()));
            dist.push((&net.w - &init.w).norm_l2());
            b.push(net.linearisation_bound(&init).unwrap_or(f64::NAN));
            l.push(*losses.last().unwrap_or(&f64::NAN));
        }
        out.error.push(e);
        out.distance.push(dist);
        out.bound.push(b);
        out.loss.push(l);
    }
    Ok(out)
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
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

    /// Log-log plot: the measured error of every seed, the bound, `‖W − W_0‖_F`, fits in
    /// the legend.
    pub fn plot(&self) -> Plot {
        let pts = |vals: &[Vec<f64>]| -> Vec<(f64, f64)> {
            self.widths
                .iter()
                .zip(vals)
                .flat_map(|(&m, v)| v.iter().map(move |&y| (m as f64, y)))
                .filter(|p| p.1.is_finite() && p.1 > 0.0)
                .collect()
        };
        let label = |name: &str, f: Option<Fit>| match f {
            Some(f) => format!("{name}: slope {:.3} ± {:.3}", f.slope, f.stderr),
            None => name.to_string(),
        };
        let mut p = Plot::new(
            &format!(
                "two-layer {} net: f against its linearisation",
                self.activation
            ),
            "width m",
            "value",
        )
        .log_log()
        .legend_at(Legend::LowerLeft)
        .with(Series::new(
            &label("max |f − f_lin|", self.error_fit()),
            pts(&self.error),
            Style::Points,
        ));
        if self.beta.is_some() {
            p = p.with(Series::new(
                &label("β/(2√m)·‖W−W₀‖²", self.bound_fit()),
                pts(&self.bound),
                Style::Points,
            ));
        }
        p.with(Series::new(
            &label("‖W − W₀‖_F", self.fit_of(&self.distance)),
            pts(&self.distance),
            Style::Points,
        ))
    }

    /// Means over seeds per width.
    pub fn table(&self) -> Table {
        let beta = self.beta.map_or("none".into(), num);
        let mut t = Table::new(
            &format!("two-layer {}, β = {beta}", self.activation),
            &[
                "width",
                "max |f − f_lin|",
                "bound",
                "‖W−W₀‖_F",
                "final loss",
            ],
        );
        for i in 0..self.widths.len() {
            t.push(vec![
                self.widths[i].to_string(),
                num(mean(&self.error[i])),
                num(mean(&self.bound[i])),
                num(mean(&self.distance[i])),
                num(mean(&self.loss[i])),
            ]);
        }
        t
    }

    /// Shows the plot and the table.
    pub fn evcxr_display(&self) {
        emit(
            "text/html",
            &figure_with_table(&self.plot().to_svg(), &self.table()),
        );
    }
}

impl fmt::Display for Linearisation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.table())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tanh_error_sits_below_its_bound_and_relu_has_none() {
        let x = Data::bundled("iris").unwrap().head(10).unit_norm().unwrap();
        let y = x.one_vs_rest(0).unwrap();
        let l = linearisation(Activation::Tanh, &x, &y, &[16, 256], 2, 20, 1.0).unwrap();
        assert_eq!(l.bound_holds(), Some(true));
        assert!(l.plot().to_svg().contains("β/(2√m)"));
        let r = linearisation(Activation::Relu, &x, &y, &[16, 256], 1, 20, 1.0).unwrap();
        assert_eq!(r.bound_holds(), None);
        assert!(!r.plot().to_svg().contains("β/(2√m)"));
        assert!(r.table().to_html().contains("none"));
        let far = Data::bundled("iris").unwrap().head(10);
        assert!(linearisation(Activation::Tanh, &far, &y, &[16], 1, 1, 1.0).is_err());
    }
}
