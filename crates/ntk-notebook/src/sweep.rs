//! Width sweeps: how far a finite network's kernel is from its infinite-width limit, over
//! widths and seeds, with a least-squares line through `log(error)` against `log(width)`.
//!
//! Theory (Jacot et al. 2018; Hanin & Nica 2019): the relative Frobenius error of the
//! empirical NTK falls like `m^{-1/2}`, so the fitted slope should be close to `−1/2`.
//!
//! The fit is the only arithmetic of this crate that is not the engine's: an ordinary
//! least-squares line over every (width, seed) point, with the textbook standard error of
//! its slope, `√(RSS/(n − 2) / Σ(x − x̄)²)` on the logarithms.

use core::fmt;

use ntk_engine::gram::KernelKind;
use ntk_engine::{Error, Result};

use crate::data::Data;
use crate::display::plot::{Plot, Series, Style};
use crate::display::{Table, emit, figure_with_table, num};
use crate::kernel::{analytic_kernel, empirical_kernel};
use crate::model::Model;

/// A least-squares line `log y = intercept + slope · log x`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fit {
    /// The slope (the exponent of the power law).
    pub slope: f64,
    /// The standard error of the slope (NaN with fewer than three points).
    pub stderr: f64,
    /// The intercept, in natural logarithms.
    pub intercept: f64,
    /// Number of points fitted.
    pub points: usize,
}

impl Fit {
    /// The line's value at `x`.
    pub fn at(&self, x: f64) -> f64 {
        (self.intercept + self.slope * x.ln()).exp()
    }
}

impl fmt::Display for Fit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "slope {:.3} ± {:.3}", self.slope, self.stderr)
    }
}

/// The least-squares line through `(ln x, ln y)` of the points with `x, y > 0`; `None`
/// when fewer than two distinct `x` remain.
pub fn loglog_fit(points: &[(f64, f64)]) -> Option<Fit> {
    let logs: Vec<(f64, f64)> = points
        .iter()
        .filter(|(x, y)| *x > 0.0 && *y > 0.0 && x.is_finite() && y.is_finite())
        .map(|(x, y)| (x.ln(), y.ln()))
        .collect();
    let n = logs.len() as f64;
    let mx = logs.iter().map(|p| p.0).sum::<f64>() / n;
    let my = logs.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = logs.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if logs.len() < 2 || sxx <= 0.0 {
        return None;
    }
    let sxy: f64 = logs.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let rss: f64 = logs
        .iter()
        .map(|p| (p.1 - intercept - slope * p.0).powi(2))
        .sum();
    let stderr = if logs.len() > 2 {
        (rss / (n - 2.0) / sxx).sqrt()
    } else {
        f64::NAN
    };
    Some(Fit {
        slope,
        stderr,
        intercept,
        points: logs.len(),
    })
}

/// Errors over widths and seeds, with their fitted power law.
#[derive(Clone, Debug, PartialEq)]
pub struct Sweep {
    /// What was measured.
    pub title: String,
    /// Label of the measured quantity.
    pub y_label: String,
    /// The widths.
    pub widths: Vec<usize>,
    /// `errors[i][s]`: the error at `widths[i]` for seed `s`.
    pub errors: Vec<Vec<f64>>,
    /// The line through every (width, seed) point.
    pub fit: Option<Fit>,
}

impl Sweep {
    /// Builds a sweep from measured errors and fits it.
    pub fn new(title: &str, y_label: &str, widths: Vec<usize>, errors: Vec<Vec<f64>>) -> Sweep {
        let pts: Vec<(f64, f64)> = widths
            .iter()
            .zip(&errors)
            .flat_map(|(&m, e)| e.iter().map(move |&v| (m as f64, v)))
            .collect();
        Sweep {
            title: title.into(),
            y_label: y_label.into(),
            fit: loglog_fit(&pts),
            widths,
            errors,
        }
    }

    /// The mean error over seeds at each width.
    pub fn means(&self) -> Vec<f64> {
        self.errors
            .iter()
            .map(|e| e.iter().sum::<f64>() / e.len().max(1) as f64)
            .collect()
    }

    /// Width, mean, min and max over seeds.
    pub fn table(&self) -> Table {
        let mut t = Table::new(&self.title, &["width", "mean", "min", "max", "seeds"]);
        for ((m, e), mean) in self.widths.iter().zip(&self.errors).zip(self.means()) {
            let lo = e.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = e.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            t.push(vec![
                m.to_string(),
                num(mean),
                num(lo),
                num(hi),
                e.len().to_string(),
            ]);
        }
        if let Some(fit) = &self.fit {
            t.title = format!("{} — fitted {fit}", self.title);
        }
        t
    }

    /// Log-log plot: the mean over seeds with min–max bars, the line fitted through every
    /// (width, seed) point (slope ± standard error in the legend, same colour) and the
    /// `m^{-1/2}` reference through the first mean (grey).
    pub fn plot(&self) -> Plot {
        let means: Vec<(f64, f64)> = self
            .widths
            .iter()
            .map(|&m| m as f64)
            .zip(self.means())
            .collect();
        let bars = self
            .errors
            .iter()
            .map(|e| {
                let lo = e.iter().copied().fold(f64::INFINITY, f64::min);
                (lo, e.iter().copied().fold(f64::NEG_INFINITY, f64::max))
            })
            .collect();
        let nseeds = self.errors.first().map_or(0, Vec::len);
        let mut p = Plot::new(&self.title, "width m", &self.y_label)
            .log_log()
            .with(
                Series::new(
                    &format!("mean, min–max over {nseeds} seeds"),
                    means.clone(),
                    Style::Points,
                )
                .colour(0)
                .errors(bars),
            );
        let (first, last) = (means.first().copied(), means.last().copied());
        if let (Some(fit), Some(a), Some(b)) = (&self.fit, first, last) {
            p = p.with(
                Series::new(
                    &format!("fit: slope {:.3} ± {:.3}", fit.slope, fit.stderr),
                    vec![(a.0, fit.at(a.0)), (b.0, fit.at(b.0))],
                    Style::Line,
                )
                .colour(0),
            );
            p = p.with(
                Series::new(
                    "reference m^(-1/2)",
                    vec![(a.0, a.1), (b.0, a.1 * (b.0 / a.0).powf(-0.5))],
                    Style::Line,
                )
                .colour(7),
            );
        }
        p
    }

    /// Log-log slopes between successive means, `Δ log mean / Δ log m`.
    pub fn local_slopes(&self) -> Vec<f64> {
        let m = self.means();
        self.widths
            .windows(2)
            .zip(m.windows(2))
            .map(|(w, e)| (e[1] / e[0]).ln() / (w[1] as f64 / w[0] as f64).ln())
            .collect()
    }

    /// Shows the plot and the table.
    pub fn evcxr_display(&self) {
        emit(
            "text/html",
            &figure_with_table(&self.plot().to_svg(), &self.table()),
            &self.to_string(),
        );
    }
}

impl fmt::Display for Sweep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.table())
    }
}

pub(crate) fn check_sizes(widths: &[usize], seeds: u64) -> Result<()> {
    if widths.is_empty() || seeds == 0 {
        return Err(Error::invalid(
            "sweep",
            format!("{} widths, {seeds} seeds", widths.len()),
            "at least one width and one seed",
        ));
    }
    Ok(())
}

/// The relative Frobenius error `‖K̂_m − K_∞‖/‖K_∞‖` of the empirical `kind` kernel of
/// `model` (every hidden layer set to width `m`) against the analytic one, on the rows of
/// `x`, for each width and seeds `0..seeds`. Cost: `seeds` empirical kernels per width.
pub fn width_sweep(
    model: &Model,
    kind: KernelKind,
    x: &Data,
    widths: &[usize],
    seeds: u64,
) -> Result<Sweep> {
    check_sizes(widths, seeds)?;
    let limit = analytic_kernel(model, kind, x, None)?;
    let mut errors = Vec::with_capacity(widths.len());
    for &m in widths {
        let net = model.with_width(m);
        let e = (0..seeds)
            .map(|s| empirical_kernel(&net, kind, x, None, s)?.rel_error(&limit))
            .collect::<Result<Vec<f64>>>()?;
        errors.push(e);
    }
    let title = format!(
        "empirical vs analytic {}, depth {}, {}",
        if kind == KernelKind::Ntk {
            "NTK"
        } else {
            "NNGP"
        },
        model.depth(),
        model.mlp.activation
    );
    Ok(Sweep::new(
        &title,
        "relative Frobenius error",
        widths.to_vec(),
        errors,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ntk_engine::Activation;

    #[test]
    fn fit_recovers_a_power_law_and_its_uncertainty() {
        let pts: Vec<(f64, f64)> = [16.0, 64.0, 256.0, 1024.0]
            .iter()
            .map(|&m: &f64| (m, 3.0 * m.powf(-0.5)))
            .collect();
        let f = loglog_fit(&pts).unwrap();
        assert!((f.slope + 0.5).abs() < 1e-12 && f.stderr < 1e-12);
        assert!((f.at(100.0) - 0.3).abs() < 1e-12);
        assert!(loglog_fit(&[(1.0, 1.0)]).is_none());
        let noisy = [(10.0, 1.0), (10.0, 2.0), (100.0, 0.4), (100.0, 0.2)];
        let g = loglog_fit(&noisy).unwrap();
        assert!(g.stderr > 0.05, "{g}");
    }

    #[test]
    fn sweep_of_a_relu_net_falls_and_plots() {
        let x = Data::bundled("iris").unwrap().head(10).unit_norm().unwrap();
        let model = Model::new(4, &[1], Activation::Relu);
        let s = width_sweep(&model, KernelKind::Ntk, &x, &[64, 1024], 2).unwrap();
        let means = s.means();
        assert!(means[1] < means[0], "{means:?}");
        let svg = s.plot().to_svg();
        assert!(svg.contains("fit: slope") && svg.contains("min–max over 2 seeds"));
        assert_eq!(s.local_slopes().len(), 1);
        assert!(s.table().to_html().contains("1024"));
        assert!(width_sweep(&model, KernelKind::Ntk, &x, &[], 1).is_err());
    }
}
