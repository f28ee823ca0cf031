//! Mean and spread over seeds, and least-squares log-log slopes with their standard error.

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

/// A fitted power law `y ≈ e^{intercept}·m^{slope}`.
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

/// Ordinary least squares of `log y` on `log m` over the pairs with `y > 0` finite:
/// `(slope, stderr, intercept)`, `stderr = √(Σr²/(n − 2) / Σ(u − ū)²)`. `None` with fewer
/// than two usable widths.
pub fn loglog_fit(widths: &[usize], y: &[f64]) -> Option<(f64, f64, f64)> {
    let pts: Vec<(f64, f64)> = widths
        .iter()
        .zip(y)
        .filter(|(_, y)| y.is_finite() && **y > 0.0)
        .map(|(&m, &y)| ((m as f64).ln(), y.ln()))
        .collect();
    let n = pts.len();
    if n < 2 {
        return None;
    }
    let ub = pts.iter().map(|p| p.0).sum::<f64>() / n as f64;
    let vb = pts.iter().map(|p| p.1).sum::<f64>() / n as f64;
    let sxx: f64 = pts.iter().map(|p| (p.0 - ub) * (p.0 - ub)).sum();
    if sxx == 0.0 {
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
    Some((slope, stderr, intercept))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_power_law_and_spread() {
        let w = [64, 128, 256, 512];
        let y: Vec<f64> = w.iter().map(|&m| 3.0 * (m as f64).powf(-0.5)).collect();
        let (s, se, c) = loglog_fit(&w, &y).unwrap();
        assert!((s + 0.5).abs() < 1e-12 && se < 1e-12 && (c - 3f64.ln()).abs() < 1e-12);
        let st = Stat::of(&[1.0, 3.0, f64::NAN]);
        assert_eq!(st.mean, 2.0);
        assert!((st.std - 2f64.sqrt()).abs() < 1e-15);
        assert!(loglog_fit(&[4], &[1.0]).is_none());
        assert!(loglog_fit(&[4, 8], &[1.0, 2.0]).unwrap().1.is_nan());
    }
}
