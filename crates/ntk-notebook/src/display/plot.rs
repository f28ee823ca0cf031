//! Line and scatter plots as SVG, drawn with plotters' SVG backend, on linear or logarithmic
//! axes. No font library is involved: plotters estimates text sizes and the browser draws
//! the `<text>` elements. The legend is drawn beside the axes, never over the data; a series
//! may carry error bars and may borrow another series' colour (a fit line drawn in its
//! points' colour). [`Panels`] puts plots of different units side by side.

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
    /// Index into [`COLOURS`] (`None`: the series' own position in the plot).
    pub colour: Option<usize>,
    /// Error bars: `(low, high)` per point, in the order of `points` (empty: none).
    pub errors: Vec<(f64, f64)>,
}

impl Series {
    /// A series from its name, points and style.
    pub fn new(name: &str, points: Vec<(f64, f64)>, style: Style) -> Self {
        Series {
            name: name.into(),
            points,
            style,
            colour: None,
            errors: Vec::new(),
        }
    }

    /// Draws the series in colour `i` of [`COLOURS`] (to match another series).
    pub fn colour(mut self, i: usize) -> Self {
        self.colour = Some(i);
        self
    }

    /// Error bars from `low` to `high` at each point.
    pub fn errors(mut self, bars: Vec<(f64, f64)>) -> Self {
        self.errors = bars;
        self
    }
}

/// Where the legend goes in the column beside the axes (it is never drawn over the data):
/// the `Upper*` variants put it at the top of that column, `MiddleRight` in the middle, the
/// `Lower*` variants at the bottom.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Legend {
    /// Top (the default).
    #[default]
    UpperRight,
    /// Top.
    UpperLeft,
    /// Middle.
    MiddleRight,
    /// Bottom.
    LowerLeft,
    /// Bottom.
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
    /// An empty plot with linear axes, 640 × 400 pixels (legend column included).
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
    fn range(&self, pick: impl Fn(&(f64, f64)) -> f64, log: bool, bars: bool) -> (f64, f64) {
        let vals = self
            .series
            .iter()
            .flat_map(|s| {
                let b = if bars { s.errors.clone() } else { Vec::new() };
                s.points
                    .iter()
                    .map(&pick)
                    .chain(b.into_iter().flat_map(|(lo, hi)| [lo, hi]))
            })
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
            let whole = SVGBackend::with_string(&mut out, self.size).into_drawing_area();
            let _ = whole.fill(&WHITE);
            let legend_w = self.legend_width().min(self.size.0 / 2);
            let (root, side) = whole.split_horizontally(self.size.0 - legend_w);
            let (x0, x1) = self.range(|p| p.0, self.log_x, false);
            let (y0, y1) = self.range(|p| p.1, self.log_y, true);
            let (xs, ys) = (x1 - x0, y1 - y0);
            let lx = || (x0..x1).log_scale().with_key_points(log_ticks(x0, x1));
            let ly = || (y0..y1).log_scale().with_key_points(log_ticks(y0, y1));
            let drawn = match (self.log_x, self.log_y) {
                (true, true) => self.draw(&root, (lx(), xs), (ly(), ys)),
                (true, false) => self.draw(&root, (lx(), xs), (y0..y1, ys)),
                (false, true) => self.draw(&root, (x0..x1, xs), (ly(), ys)),
                (false, false) => self.draw(&root, (x0..x1, xs), (y0..y1, ys)),
            };
            let drawn = drawn.and_then(|()| self.draw_legend(&side));
            // Drawing into a string cannot fail but for a plotters bug; show it in the picture.
            if let Err(e) = drawn {
                let _ = root.draw_text(
                    &format!("plot failed: {e}"),
                    &("sans-serif", 14).into_font().color(&RED),
                    (10, 20),
                );
            }
            let _ = whole.present();
        }
        out
    }

    /// Pixels of the legend column: the longest name at ~7.5 px a character, plus the
    /// sample line and margins.
    fn legend_width(&self) -> u32 {
        let chars = self
            .series
            .iter()
            .map(|s| s.name.chars().count())
            .max()
            .unwrap_or(0);
        if chars == 0 {
            0
        } else {
            (chars as f64 * 7.5) as u32 + 40
        }
    }

    fn colour_of(&self, i: usize) -> RGBColor {
        COLOURS[self.series[i].colour.unwrap_or(i) % COLOURS.len()]
    }

    /// The legend in its own column, beside the axes.
    fn draw_legend(
        &self,
        side: &DrawingArea<SVGBackend<'_>, Shift>,
    ) -> Result<(), Box<dyn std::error::Error + '_>> {
        let (_, h) = side.dim_in_pixel();
        let rows = self.series.len() as i32;
        let block = rows * 20;
        let top = match self.legend {
            Legend::UpperRight | Legend::UpperLeft => 40,
            Legend::MiddleRight => (h as i32 - block) / 2,
            Legend::LowerLeft | Legend::LowerRight => h as i32 - block - 50,
        }
        .max(4);
        let font = ("sans-serif", 13).into_font();
        for (i, s) in self.series.iter().enumerate() {
            let y = top + 20 * i as i32;
            let c = self.colour_of(i);
            match s.style {
                Style::Points => side.draw(&Circle::new((14, y), 4, c.filled()))?,
                _ => side.draw(&PathElement::new(vec![(4, y), (24, y)], c.stroke_width(3)))?,
            }
            side.draw(&Text::new(s.name.clone(), (30, y - 7), font.clone()))?;
        }
        Ok(())
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
        let ok =
            |a: f64, b: f64| a.is_finite() && b.is_finite() && (!lx || a > 0.0) && (!ly || b > 0.0);
        for (i, s) in self.series.iter().enumerate() {
            let colour = self.colour_of(i);
            let pts: Vec<(f64, f64)> = s
                .points
                .iter()
                .copied()
                .filter(|&(a, b)| ok(a, b))
                .collect();
            let style = ShapeStyle::from(&colour).stroke_width(2);
            let bars: Vec<Vec<(f64, f64)>> = s
                .points
                .iter()
                .zip(&s.errors)
                .filter(|((x, _), (lo, hi))| ok(*x, *lo) && ok(*x, *hi))
                .map(|(&(x, _), &(lo, hi))| vec![(x, lo), (x, hi)])
                .collect();
            chart.draw_series(
                bars.into_iter()
                    .map(|b| PathElement::new(b, colour.stroke_width(2))),
            )?;
            match s.style {
                Style::Points => {
                    chart.draw_series(
                        pts.iter()
                            .map(|&p| Circle::new(p, 3, colour.mix(0.7).filled())),
                    )?;
                }
                Style::Line => {
                    chart.draw_series(LineSeries::new(pts.clone(), style))?;
                }
                Style::LinePoints => {
                    chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, colour.filled())))?;
                    chart.draw_series(LineSeries::new(pts.clone(), style))?;
                }
            }
        }
        Ok(())
    }

    /// Shows the plot in the notebook (with its text description as the plain fallback).
    pub fn evcxr_display(&self) {
        emit("image/svg+xml", &self.to_svg(), &self.to_string());
    }
}

/// Plots side by side (one per quantity, when their units differ), shown as one HTML block.
#[derive(Clone, Debug, PartialEq)]
pub struct Panels(pub Vec<Plot>);

impl Panels {
    /// The panels as one HTML block of SVGs.
    pub fn to_html(&self) -> String {
        let mut s = String::from("<div style=\"display:flex;flex-wrap:wrap;gap:8px\">");
        for p in &self.0 {
            s += &format!("<div>{}</div>", p.to_svg());
        }
        s + "</div>"
    }

    /// Shows the panels.
    pub fn evcxr_display(&self) {
        emit("text/html", &self.to_html(), &self.to_string());
    }
}

impl fmt::Display for Panels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.0 {
            write!(f, "{p}")?;
        }
        Ok(())
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
