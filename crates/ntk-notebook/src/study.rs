//! Width-scaling studies of trained networks: [`study`] wraps the engine's
//! `train::study::run_study` (a widths × seeds grid; per width the mean and spread of each
//! metric over seeds; a log-log slope fitted to the means) into an owned [`Study`] that
//! draws chosen metrics against width, with `slope ± standard error` in the legend.
//!
//! The metrics (the engine's `METRICS`): `kernel_error`, `kernel_drift`, `param_distance`,
//! `lin_gap`, `ntk_gap`, `test_mse`, `test_accuracy`, `train_loss`, `two_layer_error`,
//! `two_layer_bound`.

use ntk_engine::train::study::{METRICS, StudyConfig, StudyData, run_study};
use ntk_engine::{Activation, Error, Parameterization, Result};

use crate::data::Data;
use crate::display::plot::{Panels, Plot, Series, Style};
use crate::display::{Html, Table, num};
use crate::sweep::Fit;

/// What a study trains: widths, seeds, depth, activation, parameterization, `α`, steps,
/// learning rate (full batch, uncentred unless set).
#[derive(Clone, Debug, PartialEq)]
pub struct StudyPlan {
    /// Hidden widths.
    pub widths: Vec<usize>,
    /// Number of seeds (`0..seeds`).
    pub seeds: u64,
    /// Hidden layers.
    pub depth: usize,
    /// Activation.
    pub activation: Activation,
    /// Parameterization (mean field multiplies the learning rate by the width).
    pub parameterization: Parameterization,
    /// Output scale.
    pub alpha: f64,
    /// Train `α·(f − f_0)`.
    pub centre: bool,
    /// Steps.
    pub steps: usize,
    /// Learning rate.
    pub learning_rate: f64,
    /// The lecture's two-layer net alongside, with this smooth activation.
    pub two_layer: Option<Activation>,
}

impl StudyPlan {
    /// One hidden ReLU layer, NTK parameterization, `α = 1`, no two-layer net.
    pub fn new(widths: &[usize], seeds: u64, steps: usize, learning_rate: f64) -> StudyPlan {
        StudyPlan {
            widths: widths.to_vec(),
            seeds,
            depth: 1,
            activation: Activation::Relu,
            parameterization: Parameterization::Ntk,
            alpha: 1.0,
            centre: false,
            steps,
            learning_rate,
            two_layer: None,
        }
    }
    /// Sets the depth.
    pub fn depth(mut self, depth: usize) -> StudyPlan {
        self.depth = depth;
        self
    }
    /// Sets the activation.
    pub fn activation(mut self, a: Activation) -> StudyPlan {
        self.activation = a;
        self
    }
    /// Sets the parameterization.
    pub fn parameterization(mut self, p: Parameterization) -> StudyPlan {
        self.parameterization = p;
        self
    }
    /// Sets `α`.
    pub fn alpha(mut self, alpha: f64) -> StudyPlan {
        self.alpha = alpha;
        self
    }
    /// Trains `α·(f − f_0)`.
    pub fn centred(mut self) -> StudyPlan {
        self.centre = true;
        self
    }
    /// Runs the lecture's two-layer net with `a` alongside.
    pub fn two_layer(mut self, a: Activation) -> StudyPlan {
        self.two_layer = Some(a);
        self
    }
}

/// The result of [`study`]: per width and metric the mean and standard deviation over
/// seeds, the fitted slopes, and which metrics the display draws.
#[derive(Clone, Debug, PartialEq)]
pub struct Study {
    /// The engine's one-line description of the setting.
    pub description: String,
    /// The widths.
    pub widths: Vec<usize>,
    /// Metric names, in column order.
    pub metrics: Vec<String>,
    /// `mean[i][j]`: metric `j` at width `i`, mean over seeds.
    pub mean: Vec<Vec<f64>>,
    /// Standard deviation over seeds.
    pub std: Vec<Vec<f64>>,
    /// Fitted log-log slopes (of the means), by metric name.
    pub slopes: Vec<(String, Fit)>,
    /// The metrics [`Study::plot`] draws by default.
    pub shown: Vec<String>,
}

/// Runs the engine's study on the first `n_train` rows of `data` (training) and the next
/// `n_test` (test), standardised, rows scaled to norm `√d`, one-hot targets minus `1/k`.
/// Shows `kernel_drift` and `lin_gap` by default ([`Study::show`] changes it).
pub fn study(plan: &StudyPlan, data: &Data, n_train: usize, n_test: usize) -> Result<Study> {
    let sd = StudyData::from_dataset(&data.inner, n_train, n_test)?;
    let config = StudyConfig {
        widths: plan.widths.clone(),
        seeds: (0..plan.seeds).collect(),
        depth: plan.depth,
        activation: plan.activation,
        parameterization: plan.parameterization,
        alpha: plan.alpha,
        centre: plan.centre,
        steps: plan.steps,
        learning_rate: plan.learning_rate,
        two_layer: plan.two_layer,
        ..StudyConfig::default()
    };
    let r = run_study(&config, &sd, &mut |_| {})?;
    Ok(Study {
        description: r.description,
        widths: r.rows.iter().map(|row| row.width).collect(),
        metrics: METRICS.iter().map(|m| m.0.to_string()).collect(),
        mean: r
            .rows
            .iter()
            .map(|row| row.stats.iter().map(|s| s.mean).collect())
            .collect(),
        std: r
            .rows
            .iter()
            .map(|row| row.stats.iter().map(|s| s.std).collect())
            .collect(),
        slopes: r
            .slopes
            .iter()
            .map(|s| {
                let fit = Fit {
                    slope: s.slope,
                    stderr: s.stderr,
                    intercept: s.intercept,
                    points: r.rows.len(),
                };
                (s.metric.to_string(), fit)
            })
            .collect(),
        shown: vec!["kernel_drift".into(), "lin_gap".into()],
    })
}

impl Study {
    fn index(&self, metric: &str) -> Result<usize> {
        self.metrics
            .iter()
            .position(|m| m == metric)
            .ok_or_else(|| {
                Error::invalid(
                    "metric",
                    metric,
                    format!("one of {}", self.metrics.join(", ")),
                )
            })
    }

    /// The same study, displaying `metrics`.
    pub fn show(mut self, metrics: &[&str]) -> Result<Study> {
        for m in metrics {
            self.index(m)?;
        }
        self.shown = metrics.iter().map(|m| m.to_string()).collect();
        Ok(self)
    }

    /// The per-width means of `metric`.
    pub fn means(&self, metric: &str) -> Result<Vec<f64>> {
        let j = self.index(metric)?;
        Ok(self.mean.iter().map(|r| r[j]).collect())
    }

    /// The fitted slope of `metric`.
    pub fn slope(&self, metric: &str) -> Option<Fit> {
        self.slopes.iter().find(|s| s.0 == metric).map(|s| s.1)
    }

    /// The series of `metric` (means, with ± one standard deviation over seeds as error
    /// bars), labelled `label: slope ± s.e.`, and its fitted line, both in colour `colour`.
    pub(crate) fn series(&self, metric: &str, label: &str, colour: usize) -> Result<Vec<Series>> {
        let j = self.index(metric)?;
        type Points = Vec<(f64, f64)>;
        let (pts, bars): (Points, Points) = self
            .widths
            .iter()
            .enumerate()
            .map(|(i, &w)| {
                let (m, sd) = (self.mean[i][j], self.std[i][j]);
                ((w as f64, m), (m - sd, m + sd))
            })
            .filter(|(p, _)| p.1.is_finite() && p.1 > 0.0)
            .unzip();
        let mut out = Vec::new();
        match self.slope(metric) {
            Some(f) if pts.len() >= 2 => {
                let (a, b) = (pts[0].0, pts[pts.len() - 1].0);
                out.push(
                    Series::new(
                        &format!("{label}: slope {:.3} ± {:.3}", f.slope, f.stderr),
                        pts,
                        Style::Points,
                    )
                    .colour(colour)
                    .errors(bars),
                );
                out.push(
                    Series::new(
                        &format!("{label} fit"),
                        vec![(a, f.at(a)), (b, f.at(b))],
                        Style::Line,
                    )
                    .colour(colour),
                );
            }
            _ => out.push(
                Series::new(label, pts, Style::LinePoints)
                    .colour(colour)
                    .errors(bars),
            ),
        }
        Ok(out)
    }

    /// Log-log plot of `metrics` (means over seeds, ± one standard deviation) against width,
    /// fitted slopes ± standard error in the legend. Put only metrics of one unit on one
    /// plot; [`plot`](Study::plot) gives each shown metric its own panel.
    pub fn plot_metrics(&self, metrics: &[&str]) -> Result<Plot> {
        let mut p = Plot::new("against width", "width m", "mean ± s.d. over seeds").log_log();
        for (c, m) in metrics.iter().enumerate() {
            for s in self.series(m, m, c)? {
                p = p.with(s);
            }
        }
        Ok(p)
    }

    /// One panel per shown metric (their units differ).
    pub fn plot(&self) -> Panels {
        Panels(
            self.shown
                .iter()
                .enumerate()
                .filter_map(|(c, m)| {
                    let mut p = self.plot_metrics(&[m]).ok()?;
                    p.title = m.clone();
                    p.y_label = format!("{m} (mean ± s.d.)");
                    p.size = (440, 320);
                    p.series.iter_mut().for_each(|s| s.colour = Some(c));
                    Some(p)
                })
                .collect(),
        )
    }

    /// Means ± standard deviations of the shown metrics per width, and their slopes.
    pub fn table(&self) -> Table {
        let mut head = vec!["width".to_string()];
        head.extend(self.shown.iter().cloned());
        let hr: Vec<&str> = head.iter().map(String::as_str).collect();
        let mut t = Table::new(&self.description, &hr);
        let idx: Vec<usize> = self
            .shown
            .iter()
            .filter_map(|m| self.index(m).ok())
            .collect();
        for (i, w) in self.widths.iter().enumerate() {
            let mut row = vec![w.to_string()];
            row.extend(
                idx.iter()
                    .map(|&j| format!("{} ± {}", num(self.mean[i][j]), num(self.std[i][j]))),
            );
            t.push(row);
        }
        let mut row = vec!["slope".to_string()];
        row.extend(
            self.shown
                .iter()
                .map(|m| self.slope(m).map_or("–".into(), |f| f.to_string())),
        );
        t.push(row);
        t
    }

    /// Every metric's means, as an HTML table.
    pub fn full_table(&self) -> Html {
        let mut head = vec!["width"];
        head.extend(self.metrics.iter().map(String::as_str));
        let mut t = Table::new(&self.description, &head);
        for (i, w) in self.widths.iter().enumerate() {
            let mut row = vec![w.to_string()];
            row.extend(self.mean[i].iter().map(|&v| num(v)));
            t.push(row);
        }
        Html(t.to_html())
    }
}

table_display!(Study, |s| format!(
    "{}{}",
    s.plot().to_html(),
    s.table().to_html()
));

/// One metric of several studies on one log-log plot, each labelled with its slope.
pub fn compare_studies(studies: &[(&str, &Study)], metric: &str) -> Result<Plot> {
    let mut p = Plot::new(&format!("{metric} against width"), "width m", metric).log_log();
    for (c, (name, s)) in studies.iter().enumerate() {
        for series in s.series(metric, name, c)? {
            p = p.with(series);
        }
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tiny_study_reports_slopes() {
        let d = Data::bundled("iris").unwrap();
        let s = study(&StudyPlan::new(&[32, 128, 512], 2, 5, 1.0), &d, 12, 6).unwrap();
        assert_eq!(s.widths, vec![32, 128, 512]);
        assert!(s.slope("kernel_drift").unwrap().slope < 0.0);
        let svg = s.plot().to_html();
        assert!(svg.contains("kernel_drift: slope") && svg.contains("lin_gap"));
        assert_eq!(s.table().rows.len(), 4);
        assert!(s.full_table().0.contains("ntk_gap"));
        assert!(s.clone().show(&["nope"]).is_err());
        let c = compare_studies(&[("a", &s), ("b", &s)], "kernel_drift").unwrap();
        assert_eq!(c.series.len(), 4);
    }
}
