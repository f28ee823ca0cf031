//! The study's log-log plot: per metric with a fitted slope, the mean over seeds against
//! the width (points joined by a line, bars of ± one standard deviation where they stay
//! positive) and the fitted power law dashed, with the slope and its standard error in the
//! legend. SVG, text as `<text>` elements (no fonts needed to write it).

use std::path::Path;

use ntk_engine::train::study::{METRICS, StudyResult, metric_index};
use ntk_engine::{Error, Result};
use plotters::prelude::*;

fn plot_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(format!("drawing the plot: {e}")),
    }
}

/// Draws the plot of `result` as SVG into `svg` (`path` names it in errors).
pub fn loglog(result: &StudyResult, svg: &mut String, path: &Path) -> Result<()> {
    let err = |e: &dyn std::fmt::Display| plot_err(path, e);
    let series: Vec<(usize, &ntk_engine::train::study::Slope)> = result
        .slopes
        .iter()
        .filter_map(|s| metric_index(s.metric).map(|i| (i, s)))
        .collect();
    let widths: Vec<f64> = result.rows.iter().map(|r| r.width as f64).collect();
    let mut lo = f64::INFINITY;
    let mut hi = 0.0f64;
    for &(i, _) in &series {
        for r in &result.rows {
            let m = r.stats[i].mean;
            if m.is_finite() && m > 0.0 {
                lo = lo.min(m);
                hi = hi.max(m + r.stats[i].std.max(0.0));
            }
        }
    }
    if !(lo.is_finite() && hi > 0.0) {
        lo = 1e-3;
        hi = 1.0;
    }
    let (xmin, xmax) = (
        widths.iter().copied().fold(f64::INFINITY, f64::min) / 1.3,
        widths.iter().copied().fold(0.0, f64::max) * 1.3,
    );
    let root = SVGBackend::with_string(svg, (960, 640)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(&result.description, ("sans-serif", 13))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(
            (xmin..xmax).log_scale().with_key_points(widths.clone()),
            (lo / 2.0..hi * 2.0).log_scale(),
        )
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("hidden width m")
        .x_label_formatter(&|m| format!("{m:.0}"))
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .y_desc("mean over seeds")
        .draw()
        .map_err(|e| err(&e))?;
    for (c, &(i, slope)) in series.iter().enumerate() {
        let color = Palette99::pick(c).to_rgba();
        let pts: Vec<(f64, f64)> = result
            .rows
            .iter()
            .filter(|r| r.stats[i].mean > 0.0)
            .map(|r| (r.width as f64, r.stats[i].mean))
            .collect();
        let label = format!(
            "{}: slope {:+.3} ± {:.3}",
            METRICS[i].0, slope.slope, slope.stderr
        );
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
            .map_err(|e| err(&e))?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart
            .draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))
            .map_err(|e| err(&e))?;
        let bars = result.rows.iter().filter_map(|r| {
            let s = r.stats[i];
            (s.mean - s.std > 0.0 && s.std > 0.0).then(|| {
                PathElement::new(
                    vec![
                        (r.width as f64, s.mean - s.std),
                        (r.width as f64, s.mean + s.std),
                    ],
                    color,
                )
            })
        });
        chart.draw_series(bars).map_err(|e| err(&e))?;
        let fit = |m: f64| (slope.intercept + slope.slope * m.ln()).exp();
        let dashes: Vec<PathElement<(f64, f64)>> = (0..24)
            .filter(|k| k % 2 == 0)
            .map(|k| {
                let t = |k: f64| (xmin.ln() + (xmax.ln() - xmin.ln()) * k / 24.0).exp();
                let (a, b) = (t(k as f64), t(k as f64 + 1.0));
                PathElement::new(vec![(a, fit(a)), (b, fit(b))], color.mix(0.6))
            })
            .collect();
        chart.draw_series(dashes).map_err(|e| err(&e))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
