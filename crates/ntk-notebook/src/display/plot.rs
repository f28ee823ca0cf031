//! Line and scatter plots as SVG, drawn with plotters' SVG backend, on linear or logarithmic
//! axes. No font library is involved: plotters estimates text sizes and the browser draws
//! the `<text>` elements.

use core::fmt;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

use super::emit;

/// A tick label: at most 4 significant digits without trailing zeros, `0` for values within
/// `1e-9·span` of zero (rounding in the tick positions), scientific notation outside
/// `[1e-3, 1e5)`.
pub(crate) fn tick(v: f64, span: f64) -> String {
    if v.abs() <= 1e-9 * span.abs() {
        return "0".into();
    }
    let e = v.abs().log10().floor();
    if !(1e-3..1e5).contains(&v.abs()) {
        let m = v / 10f64.powf(e);
        return format!("{}e{}", trim(format!("{m:.2}")), e as i32);
    }
    let decimals = (3 - e as i32).clamp(0, 6) as usize;
    trim(format!("{v:.decimals$}"))
}

/// Ticks of a logarithmic axis over `[lo, hi]`: `1, 2, 5 × 10^k`, or every `1..9 × 10^k`
/// when that gives fewer than three, or the ends when even that does.
pub(crate) fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let (a, b) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let pick = |mantissas: &[f64]| -> Vec<f64> {
        (a..=b)
            .flat_map(|e| mantissas.iter().map(move |m| m * 10f64.powi(e)))
            .filter(|v| (lo..=hi).contains(v))
            .collect()
    };
    let coarse = pick(&[1.0, 2.0, 5.0]);
    if coarse.len() >= 3 {
        return coarse;
    }
    let fine = pick(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
    if fine.len() >= 2 { fine } else { vec![lo, hi] }
}

fn trim(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Markers only.
    Points,
    /// A line through the points, in order.
    Line,
    /// A line with markers.
    LinePoints,
}

/// One named series of `(x, y)` points.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The legend entry.
    pub name: String,
    /// The points; on a logarithmic axis, those with a coordinate `≤ 0` are left out.
    pub points: Vec<(f64, f64)>,
    /// How it is drawn.
    pub style: Style,
}

impl Series {
    /// A series from its name, points and style.
    pub fn new(name: &str, points: Vec<(f64, f64)>, style: Style) -> Self {
        Series {
            name: name.into(),
            points,
            style,
        }
    }
}

/// Where the legend goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Legend {
    /// Top right (the default).
    #[default]
    UpperRight,
    /// Top left.
    UpperLeft,
    /// Middle of the right edge.
    MiddleRight,
    /// Bottom left.
    LowerLeft,
    /// Bottom right.
    LowerRight,
}

/// A plot: a title, axis labels, axis scales and series. `to_svg` draws it; evcxr shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Plot {
    /// Title above the plot.
    pub title: String,
    /// Label of the x axis.
    pub x_label: String,
    /// Label of the y axis.
    pub y_label: String,
    /// Logarithmic x axis.
    pub log_x: bool,
    /// Logarithmic y axis.
    pub log_y: bool,
    /// The series, drawn in order with the colours of [`COLOURS`].
    pub series: Vec<Series>,
    /// Size in pixels.
    pub size: (u32, u32),
    /// Where the legend goes.
    pub legend: Legend,
}

/// Series colours, in order (Tableau 10).
pub const COLOURS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

impl Plot {
    /// An empty plot with linear axes, 640 × 400 pixels.
    pub fn new(title: &str, x_label: &str, y_label: &str) -> Self {
        Plot {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            log_x: false,
            log_y: false,
            series: Vec::new(),
            size: (640, 400),
            legend: Legend::UpperRight,
        }
    }

    /// Moves the legend.
    pub fn legend_at(mut self, legend: Legend) -> Self {
        self.legend = legend;
        self
    }

    /// Both axes logarithmic.
    pub fn log_log(mut self) -> Self {
        self.log_x = true;
        self.log_y = true;
        self
    }

    /// Adds a series.
    pub fn with(mut self, series: Series) -> Self {
        self.series.push(series);
        self
    }

    /// The range of one coordinate over every drawable point, padded.
    fn range(&self, pick: impl Fn(&(f64, f64)) -> f64, log: bool) -> (f64, f64) {
        let vals = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(&pick))
            .filter(|v| v.is_finite() && (!log || *v > 0.0));
        let (lo, hi) = vals.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
        match (lo.is_finite(), log) {
            (false, true) => (0.1, 10.0),
            (false, false) => (0.0, 1.0),
            (true, true) => (lo / 1.3, hi * 1.3),
            (true, false) => {
                let pad = if hi > lo { 0.05 * (hi - lo) } else { 1.0 };
                (lo - pad, hi + pad)
            }
        }
    }

    /// The plot as an SVG document.
    pub fn to_svg(&self) -> String {
        let mut out = String::new();
        {
            let root = SVGBackend::with_string(&mut out, self.size).into_drawing_area();
            let (x0, x1) = self.range(|p| p.0, self.log_x);
            let (y0, y1) = self.range(|p| p.1, self.log_y);
            let (xs, ys) = (x1 - x0, y1 - y0);
            let lx = || (x0..x1).log_scale().with_key_points(log_ticks(x0, x1));
            let ly = || (y0..y1).log_scale().with_key_points(log_ticks(y0, y1));
            let drawn = match (self.log_x, self.log_y) {
                (true, true) => self.draw(&root, (lx(), xs), (ly(), ys)),
                (true, false) => self.draw(&root, (lx(), xs), (y0..y1, ys)),
                (false, true) => self.draw(&root, (x0..x1, xs), (ly(), ys)),
                (false, false) => self.draw(&root, (x0..x1, xs), (y0..y1, ys)),
            };
            // Drawing into a string cannot fail but for a plotters bug; show it in the picture.
            if let Err(e) = drawn {
                let _ = root.draw_text(
                    &format!("plot failed: {e}"),
                    &("sans-serif", 14).into_font().color(&RED),
                    (10, 20),
                );
            }
            let _ = root.present();
        }
        out
    }

    fn draw<X, Y>(
        &self,
        root: &DrawingArea<SVGBackend<'_>, Shift>,
        (x, xspan): (X, f64),
        (y, yspan): (Y, f64),
    ) -> Result<(), Box<dyn std::error::Error + '_>>
    where
        X: AsRangedCoord<Value = f64>,
        Y: AsRangedCoord<Value = f64>,
        X::CoordDescType: ValueFormatter<f64>,
        Y::CoordDescType: ValueFormatter<f64>,
    {
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(x, y)?;
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 15))
            .x_label_formatter(&|v| tick(*v, xspan))
            .y_label_formatter(&|v| tick(*v, yspan))
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        let (lx, ly) = (self.log_x, self.log_y);
        for (i, s) in self.series.iter().enumerate() {
            let colour = COLOURS[i % COLOURS.len()];
            let pts: Vec<(f64, f64)> = s
                .points
                .iter()
                .copied()
                .filter(|&(a, b)| {
                    a.is_finite() && b.is_finite() && (!lx || a > 0.0) && (!ly || b > 0.0)
                })
                .collect();
            let style = ShapeStyle::from(&colour).stroke_width(2);
            let anno = match s.style {
                Style::Points => chart.draw_series(
                    pts.iter()
                        .map(|&p| Circle::new(p, 3, colour.mix(0.7).filled())),
                )?,
                Style::Line => chart.draw_series(LineSeries::new(pts.clone(), style))?,
                Style::LinePoints => {
                    chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, colour.filled())))?;
                    chart.draw_series(LineSeries::new(pts.clone(), style))?
                }
            };
            anno.label(s.name.as_str()).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(3))
            });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font(("sans-serif", 13))
            .position(match self.legend {
                Legend::UpperRight => SeriesLabelPosition::UpperRight,
                Legend::UpperLeft => SeriesLabelPosition::UpperLeft,
                Legend::MiddleRight => SeriesLabelPosition::MiddleRight,
                Legend::LowerLeft => SeriesLabelPosition::LowerLeft,
                Legend::LowerRight => SeriesLabelPosition::LowerRight,
            })
            .draw()?;
        Ok(())
    }

    /// Shows the plot in the notebook.
    pub fn evcxr_display(&self) {
        emit("image/svg+xml", &self.to_svg());
    }
}

impl fmt::Display for Plot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} ({} vs {})", self.title, self.y_label, self.x_label)?;
        for s in &self.series {
            writeln!(f, "  {}: {} points", s.name, s.points.len())?;
        }
        Ok(())
    }
}

/// `true` when `svg` has a `<text>` element reading exactly `text` (as plotters writes it).
#[cfg(test)]
pub(crate) fn has_text(svg: &str, text: &str) -> bool {
    svg.contains(&format!(">\n{}\n</text>", super::escape(text)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_log_plot_is_svg_with_every_series_in_the_legend() {
        let p = Plot::new("error vs width", "width m", "error")
            .log_log()
            .with(Series::new(
                "seeds",
                vec![(64.0, 0.2), (256.0, 0.1), (1024.0, 0.05), (0.0, 1.0)],
                Style::Points,
            ))
            .with(Series::new(
                "fit: slope -0.50 ± 0.02",
                vec![(64.0, 0.2), (1024.0, 0.05)],
                Style::Line,
            ));
        let s = p.to_svg();
        assert!(
            s.starts_with("<svg") && s.trim_end().ends_with("</svg>"),
            "{s}"
        );
        assert!(s.contains("error vs width"));
        assert!(has_text(&s, "seeds") && has_text(&s, "fit: slope -0.50 ± 0.02"));
        // Three drawable markers (the point at x = 0 is off a log axis) and one polyline
        // for the fit, plus the legend's two paths.
        assert!(s.matches("<circle").count() >= 3);
        assert!(s.matches("<polyline").count() >= 1);
        assert!(!s.contains("plot failed"));
    }

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(tick(-2.2e-16, 2.0), "0");
        assert_eq!(tick(0.5, 2.0), "0.5");
        assert_eq!(tick(0.25, 2.0), "0.25");
        assert_eq!(tick(100.0, 1e3), "100");
        assert_eq!(tick(2e5, 1e6), "2e5");
        assert_eq!(tick(1e-4, 1.0), "1e-4");
        let close = |a: Vec<f64>, b: &[f64]| {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12 * y)
        };
        assert!(close(log_ticks(0.05, 1.5), &[0.05, 0.1, 0.2, 0.5, 1.0]));
        assert!(close(log_ticks(5.6, 90.0), &[10.0, 20.0, 50.0]));
        assert!(close(
            log_ticks(2.5, 9.5),
            &[3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
        ));
        assert!(close(log_ticks(1.1, 1.9), &[1.1, 1.9]));
    }

    #[test]
    fn empty_and_linear_plots_still_draw() {
        let s = Plot::new("empty", "x", "y").to_svg();
        assert!(s.starts_with("<svg") && !s.contains("plot failed"));
        let s = Plot::new("lin", "x", "y")
            .with(Series::new(
                "a",
                vec![(-1.0, 2.0), (1.0, 3.0)],
                Style::LinePoints,
            ))
            .to_svg();
        assert!(has_text(&s, "a") && !s.contains("plot failed"));
    }
}
