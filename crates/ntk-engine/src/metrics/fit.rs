//! Mean and spread over seeds, and least-squares log-log slopes with their standard error:
//! how a measured error scales with the width (`m^{-1/2}` for the kernel error, Jacot et
//! al. 2018; Hanin & Nica 2019).

/// Mean and sample standard deviation (`n − 1` in the denominator; 0 for one value) of the
/// finite values of a metric over seeds; NaN when there is none.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stat {
    /// The mean.
    pub mean: f64,
    /// The sample standard deviation.
    pub std: f64,
}

impl Stat {
    /// Over the finite entries of `values`.
    pub fn of(values: &[f64]) -> Stat {
        let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return Stat {
                mean: f64::NAN,
                std: f64::NAN,
            };
        }
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let std = if v.len() > 1 {
            (v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0)).sqrt()
        } else {
            0.0
        };
        Stat { mean, std }
    }
}

/// A least-squares power law `y ≈ e^{intercept}·x^{slope}`: the line
/// `log y = intercept + slope·log x` ([`loglog_fit`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LogLogFit {
    /// The fitted exponent.
    pub slope: f64,
    /// Its standard error from the residuals, `√(Σr²/(n − 2) / Σ(u − ū)²)` on the
    /// logarithms (NaN with fewer than three points).
    pub stderr: f64,
    /// The fitted `log y` at `x = 1` (natural logarithm).
    pub intercept: f64,
    /// How many points were fitted.
    pub points: usize,
}

impl LogLogFit {
    /// The line's value at `x`, `e^{intercept}·x^{slope}`.
    pub fn at(&self, x: f64) -> f64 {
        (self.intercept + self.slope * x.ln()).exp()
    }
}

impl core::fmt::Display for LogLogFit {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "slope {:.3} ± {:.3}", self.slope, self.stderr)
    }
}

/// Ordinary least squares of `log y` on `log x` over the points with `x, y > 0` finite
/// (several points may share an `x`: one per seed). `None` when fewer than two points, or
/// fewer than two distinct `x`, remain.
pub fn loglog_fit(points: &[(f64, f64)]) -> Option<LogLogFit> {
    let pts: Vec<(f64, f64)> = points
        .iter()
        .filter(|(x, y)| x.is_finite() && y.is_finite() && *x > 0.0 && *y > 0.0)
        .map(|&(x, y)| (x.ln(), y.ln()))
        .collect();
    let n = pts.len();
    if n < 2 {
        return None;
    }
    let ub = pts.iter().map(|p| p.0).sum::<f64>() / n as f64;
    let vb = pts.iter().map(|p| p.1).sum::<f64>() / n as f64;
    let sxx: f64 = pts.iter().map(|p| (p.0 - ub) * (p.0 - ub)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let sxy: f64 = pts.iter().map(|p| (p.0 - ub) * (p.1 - vb)).sum();
    let slope = sxy / sxx;
    let intercept = vb - slope * ub;
    let stderr = if n > 2 {
        let rss: f64 = pts
            .iter()
            .map(|p| (p.1 - intercept - slope * p.0).powi(2))
            .sum();
        (rss / (n as f64 - 2.0) / sxx).sqrt()
    } else {
        f64::NAN
    };
    Some(LogLogFit {
        slope,
        stderr,
        intercept,
        points: n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_power_law_and_spread() {
        let pts: Vec<(f64, f64)> = [64.0, 128.0, 256.0, 512.0]
            .iter()
            .map(|&m: &f64| (m, 3.0 * m.powf(-0.5)))
            .collect();
        let f = loglog_fit(&pts).unwrap();
        assert!((f.slope + 0.5).abs() < 1e-12 && f.stderr < 1e-12);
        assert!((f.intercept - 3f64.ln()).abs() < 1e-12 && f.points == 4);
        assert!((f.at(100.0) - 0.3).abs() < 1e-12);
        // Two seeds at each of two widths: a spread, so a positive standard error.
        let noisy = [(10.0, 1.0), (10.0, 2.0), (100.0, 0.4), (100.0, 0.2)];
        assert!(loglog_fit(&noisy).unwrap().stderr > 0.05);
        let st = Stat::of(&[1.0, 3.0, f64::NAN]);
        assert_eq!(st.mean, 2.0);
        assert!((st.std - 2f64.sqrt()).abs() < 1e-15);
        assert!(loglog_fit(&[(4.0, 1.0)]).is_none());
        assert!(loglog_fit(&[(4.0, 1.0), (4.0, 2.0)]).is_none());
        assert!(
            loglog_fit(&[(4.0, 1.0), (8.0, 2.0)])
                .unwrap()
                .stderr
                .is_nan()
        );
    }
}
