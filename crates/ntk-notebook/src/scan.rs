//! [`Scan`]: a measured quantity against a positive parameter (a width, an output scale),
//! several seeds each, with its fitted log-log line (the engine's [`loglog_fit`]) and,
//! optionally, a reference power law drawn through the first mean. Width sweeps
//! ([`width_sweep`](crate::width_sweep), [`arccos_sweep`](crate::arccos_sweep)) and output
//! scale sweeps ([`alpha_sweep`](crate::alpha_sweep)) all return one.

use crate::display::plot::{Plot, Series, Style};
use crate::display::{Table, figure_with_table, num};
use crate::sweep::{Fit, loglog_fit};

/// Values over a parameter and seeds, with their power-law fit.
#[derive(Clone, Debug, PartialEq)]
pub struct Scan {
    /// What was measured.
    pub title: String,
    /// Label of the parameter.
    pub x_label: String,
    /// Label of the quantity.
    pub y_label: String,
    /// The parameter values.
    pub xs: Vec<f64>,
    /// `values[i][s]`: the quantity at `xs[i]` for seed `s`.
    pub values: Vec<Vec<f64>>,
    /// The line through every (x, seed) point.
    pub fit: Option<Fit>,
    /// Exponent of the reference power law, if any.
    pub reference: Option<f64>,
}

impl Scan {
    /// Builds and fits a scan.
    pub fn new(
        title: &str,
        x_label: &str,
        y_label: &str,
        xs: Vec<f64>,
        values: Vec<Vec<f64>>,
        reference: Option<f64>,
    ) -> Scan {
        let pts: Vec<(f64, f64)> = xs
            .iter()
            .zip(&values)
            .flat_map(|(&x, v)| v.iter().map(move |&y| (x, y)))
            .collect();
        Scan {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            fit: loglog_fit(&pts),
            xs,
            values,
            reference,
        }
    }

    /// Mean over seeds at each parameter value.
    pub fn means(&self) -> Vec<f64> {
        self.values
            .iter()
            .map(|v| v.iter().sum::<f64>() / v.len().max(1) as f64)
            .collect()
    }

    /// The line through every seed's point whose parameter lies in `[lo, hi]`.
    pub fn fit_range(&self, lo: f64, hi: f64) -> Option<Fit> {
        let pts: Vec<(f64, f64)> = self
            .xs
            .iter()
            .zip(&self.values)
            .filter(|(x, _)| (lo..=hi).contains(*x))
            .flat_map(|(&x, v)| v.iter().map(move |&y| (x, y)))
            .collect();
        loglog_fit(&pts)
    }

    /// The log-log slopes between successive means, `Δ log mean / Δ log x`.
    pub fn local_slopes(&self) -> Vec<f64> {
        let m = self.means();
        self.xs
            .windows(2)
            .zip(m.windows(2))
            .map(|(x, y)| (y[1] / y[0]).ln() / (x[1] / x[0]).ln())
            .collect()
    }

    /// The means with min–max bars over seeds, as a series in colour `c`.
    pub(crate) fn mean_series(&self, name: &str, c: usize) -> Series {
        let bars = self
            .values
            .iter()
            .map(|v| {
                let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
                (lo, v.iter().copied().fold(f64::NEG_INFINITY, f64::max))
            })
            .collect();
        Series::new(
            name,
            self.xs.iter().copied().zip(self.means()).collect(),
            Style::Points,
        )
        .colour(c)
        .errors(bars)
    }

    /// Parameter, mean, min, max and the number of seeds (a whole-number parameter, such
    /// as a width, is printed as an integer).
    pub fn table(&self) -> Table {
        let mut t = Table::new(&self.title, &[&self.x_label, "mean", "min", "max", "seeds"]);
        for ((x, v), m) in self.xs.iter().zip(&self.values).zip(self.means()) {
            let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let x = if x.fract() == 0.0 && x.abs() < 1e15 {
                format!("{}", *x as i64)
            } else {
                num(*x)
            };
            t.push(vec![x, num(m), num(lo), num(hi), v.len().to_string()]);
        }
        if let Some(f) = &self.fit {
            t.title = format!("{} — fitted {f}", self.title);
        }
        t
    }

    /// Log-log plot: the mean over seeds with min–max bars, the fit over every seed's point
    /// (slope ± s.e., same colour) and the reference power law (grey).
    pub fn plot(&self) -> Plot {
        let n = self.values.first().map_or(0, Vec::len);
        let mut p = Plot::new(&self.title, &self.x_label, &self.y_label)
            .log_log()
            .with(self.mean_series(&format!("mean, min–max over {n} seeds"), 0));
        let means: Vec<(f64, f64)> = self.xs.iter().copied().zip(self.means()).collect();
        if let (Some(f), Some(a), Some(b)) = (&self.fit, means.first(), means.last()) {
            p = p.with(
                Series::new(
                    &format!("fit: slope {:.3} ± {:.3}", f.slope, f.stderr),
                    vec![(a.0, f.at(a.0)), (b.0, f.at(b.0))],
                    Style::Line,
                )
                .colour(0),
            );
            if let Some(e) = self.reference {
                p = p.with(
                    Series::new(
                        &format!("reference slope {e}"),
                        vec![(a.0, a.1), (b.0, a.1 * (b.0 / a.0).powf(e))],
                        Style::Line,
                    )
                    .colour(7),
                );
            }
        }
        p
    }
}

table_display!(Scan, |s| figure_with_table(&s.plot().to_svg(), &s.table()));

/// Several scans of one quantity on one log-log plot, each with its mean ± min–max bars
/// and its line fitted over the parameters in `[lo, hi]` only, in the same colour.
pub fn compare_scans(scans: &[(&str, &Scan)], lo: f64, hi: f64) -> Plot {
    let (title, xl, yl) = scans.first().map_or(("", "", ""), |(_, s)| {
        (s.title.as_str(), s.x_label.as_str(), s.y_label.as_str())
    });
    let _ = title;
    let mut p = Plot::new(
        &format!("{yl}: fits over {} ≤ {xl} ≤ {}", num(lo), num(hi)),
        xl,
        yl,
    )
    .log_log();
    for (c, (name, s)) in scans.iter().enumerate() {
        p = p.with(s.mean_series(name, c));
        if let Some(f) = s.fit_range(lo, hi) {
            let (a, b) = (lo.max(s.xs[0]), hi.min(s.xs[s.xs.len() - 1]));
            p = p.with(
                Series::new(
                    &format!("{name}: slope {:.3} ± {:.3}", f.slope, f.stderr),
                    vec![(a, f.at(a)), (b, f.at(b))],
                    Style::Line,
                )
                .colour(c),
            );
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scan_fits_and_draws_its_reference() {
        let xs = vec![1.0, 10.0, 100.0];
        let v = xs.iter().map(|x: &f64| vec![2.0 / x, 2.0 / x]).collect();
        let s = Scan::new("t", "α", "drift", xs, v, Some(-1.0));
        assert!((s.fit.unwrap().slope + 1.0).abs() < 1e-12);
        let svg = s.plot().to_svg();
        assert!(svg.contains("reference slope -1") && svg.contains("fit: slope -1.000"));
        assert!(s.table().title.contains("fitted slope -1.000"));
        assert!((s.fit_range(5.0, 200.0).unwrap().slope + 1.0).abs() < 1e-12);
        assert!(s.local_slopes().iter().all(|l| (l + 1.0).abs() < 1e-12));
        let c = compare_scans(&[("a", &s), ("b", &s)], 1.0, 100.0);
        assert_eq!(c.series.len(), 4);
    }
}
