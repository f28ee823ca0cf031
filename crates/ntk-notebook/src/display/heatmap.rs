//! A matrix as an SVG heatmap (viridis, or a blue–white–red scale centred at 0 for
//! differences), with a colour bar.
//!
//! Large matrices are shown as block means on a grid of at most [`MAX_CELLS`] cells a side,
//! so the picture stays a few hundred kilobytes whatever the kernel's size; the picture then
//! says so under its title. Two heatmaps meant to be compared take one [`Scale::Fixed`].

use plotters::style::colors::colormaps::{ColorMap, ViridisRGB};

use super::{escape, num};

/// The most cells drawn along one side.
pub const MAX_CELLS: usize = 64;

/// Block means of a row-major `rows × cols` matrix on a grid of at most `max` cells a side:
/// `(grid, grid_rows, grid_cols)`.
pub(crate) fn downsample(
    values: &[f64],
    rows: usize,
    cols: usize,
    max: usize,
) -> (Vec<f64>, usize, usize) {
    let (gr, gc) = (rows.min(max), cols.min(max));
    let mut sum = vec![0.0; gr * gc];
    let mut count = vec![0usize; gr * gc];
    for i in 0..rows {
        let bi = i * gr / rows;
        for j in 0..cols {
            let bj = j * gc / cols;
            sum[bi * gc + bj] += values[i * cols + j];
            count[bi * gc + bj] += 1;
        }
    }
    let grid = sum
        .iter()
        .zip(&count)
        .map(|(s, &c)| s / c.max(1) as f64)
        .collect();
    (grid, gr, gc)
}

/// The colour scale of a heatmap.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scale {
    /// Viridis from the drawn minimum to the drawn maximum.
    Own,
    /// Viridis from `lo` to `hi` (values outside are clamped): one scale for several maps.
    Fixed(f64, f64),
    /// Blue (negative) – white (0) – red (positive), symmetric about 0: for differences.
    Diverging,
}

/// The `min` and `max` of the finite values (`(0, 1)` if none).
pub(crate) fn finite_range(values: &[f64]) -> (f64, f64) {
    let finite = values.iter().copied().filter(|v| v.is_finite());
    let lo = finite.clone().fold(f64::INFINITY, f64::min);
    let hi = finite.fold(f64::NEG_INFINITY, f64::max);
    if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) }
}

fn hex(c: (u8, u8, u8)) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

/// Blue `(33, 102, 172)` at `u = 0`, white at `0.5`, red `(178, 24, 43)` at `1`.
fn diverging(u: f64) -> (u8, u8, u8) {
    let u = u.clamp(0.0, 1.0);
    let (end, t) = if u < 0.5 {
        ((33.0, 102.0, 172.0), 1.0 - 2.0 * u)
    } else {
        ((178.0, 24.0, 43.0), 2.0 * u - 1.0)
    };
    let mix = |e: f64| (255.0 + (e - 255.0) * t).round() as u8;
    (mix(end.0), mix(end.1), mix(end.2))
}

/// An SVG heatmap of a row-major `rows × cols` matrix, `size` pixels square for the cells,
/// with a title above and a colour bar with the minimum and maximum at the right, on its
/// own colour scale.
///
/// # Panics
/// When `values.len() != rows * cols`.
pub fn heatmap_svg(values: &[f64], rows: usize, cols: usize, title: &str, size: u32) -> String {
    heatmap_scaled(values, rows, cols, title, size, Scale::Own)
}

/// [`heatmap_svg`] on a chosen colour [`Scale`].
///
/// # Panics
/// When `values.len() != rows * cols`.
pub fn heatmap_scaled(
    values: &[f64],
    rows: usize,
    cols: usize,
    title: &str,
    size: u32,
    scale: Scale,
) -> String {
    assert_eq!(
        values.len(),
        rows * cols,
        "heatmap of a {rows}×{cols} matrix"
    );
    let (grid, gr, gc) = downsample(values, rows, cols, MAX_CELLS);
    let (lo, hi) = match scale {
        Scale::Own => finite_range(&grid),
        Scale::Fixed(lo, hi) => (lo, hi),
        Scale::Diverging => {
            let (a, b) = finite_range(&grid);
            let m = a.abs().max(b.abs());
            if m > 0.0 { (-m, m) } else { (-1.0, 1.0) }
        }
    };
    let span = if hi > lo { hi - lo } else { 1.0 };
    let colour = |v: f64| {
        let u = ((v - lo) / span).clamp(0.0, 1.0);
        if scale == Scale::Diverging {
            hex(diverging(u))
        } else {
            let c = ViridisRGB.get_color_normalized(u as f32, 0.0, 1.0);
            hex((c.0, c.1, c.2))
        }
    };
    let shrunk = gr < rows || gc < cols;
    let (top, left) = (if shrunk { 40.0 } else { 24.0 }, 8.0);
    let (cw, ch) = (size as f64 / gc as f64, size as f64 / gr as f64);
    let width = left + size as f64 + 90.0;
    let height = top + size as f64 + 8.0;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"12\">\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\
         <text x=\"{left}\" y=\"16\">{}</text>{}<g shape-rendering=\"crispEdges\">",
        escape(title),
        if shrunk {
            format!(
                "<text x=\"{left}\" y=\"32\" font-size=\"11\" fill=\"#555\">\
                 {rows} × {cols} shown as {gr} × {gc} block means</text>"
            )
        } else {
            String::new()
        }
    );
    for i in 0..gr {
        for j in 0..gc {
            let v = grid[i * gc + j];
            let fill = if v.is_finite() {
                colour(v)
            } else {
                "#ff00ff".into()
            };
            s += &format!(
                "<rect x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{:.2}\" fill=\"{fill}\"/>",
                left + j as f64 * cw,
                top + i as f64 * ch,
                cw + 0.05,
                ch + 0.05
            );
        }
    }
    s += "</g>";
    // Colour bar: 32 steps from max (top) to min (bottom).
    let bx = left + size as f64 + 12.0;
    let steps = 32;
    let bh = size as f64 / steps as f64;
    for k in 0..steps {
        let v = hi - (k as f64 + 0.5) / steps as f64 * (hi - lo);
        s += &format!(
            "<rect x=\"{bx}\" y=\"{:.2}\" width=\"14\" height=\"{:.2}\" fill=\"{}\"/>",
            top + k as f64 * bh,
            bh + 0.05,
            colour(v)
        );
    }
    s += &format!(
        "<text x=\"{}\" y=\"{}\">{}</text><text x=\"{}\" y=\"{}\">{}</text></svg>",
        bx + 18.0,
        top + 10.0,
        num(hi),
        bx + 18.0,
        top + size as f64,
        num(lo)
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_means_cover_every_entry() {
        let v: Vec<f64> = (0..16).map(|x| x as f64).collect();
        let (g, r, c) = downsample(&v, 4, 4, 2);
        assert_eq!((r, c), (2, 2));
        assert_eq!(g, vec![2.5, 4.5, 10.5, 12.5]);
        let (g, r, c) = downsample(&v, 4, 4, 8);
        assert_eq!((r, c, g), (4, 4, v));
    }

    #[test]
    fn heatmap_is_one_svg_with_a_cell_per_block() {
        let v: Vec<f64> = (0..100 * 100).map(|x| (x % 7) as f64).collect();
        let s = heatmap_svg(&v, 100, 100, "K <test>", 256);
        assert!(s.starts_with("<svg") && s.ends_with("</svg>"));
        assert_eq!(s.matches("<svg").count(), 1);
        assert!(s.contains("K &lt;test&gt;"));
        assert!(s.contains("100 × 100 shown as 64 × 64 block means"));
        // MAX_CELLS² cells, the colour bar, the background.
        assert_eq!(s.matches("<rect").count(), MAX_CELLS * MAX_CELLS + 32 + 1);
        let c = heatmap_svg(&[1.0, 1.0, 1.0, 1.0], 2, 2, "const", 64);
        assert!(!c.contains("NaN") && !c.contains("block means"));
        // A fixed scale prints its own ends; a diverging one is symmetric and white at 0.
        let f = heatmap_scaled(
            &[1.0, 2.0, 3.0, 4.0],
            2,
            2,
            "f",
            64,
            Scale::Fixed(0.0, 10.0),
        );
        assert!(f.contains(">10.00<") && f.contains(">0<"));
        let d = heatmap_scaled(&[-1.0, 0.0, 0.0, 0.5], 2, 2, "d", 64, Scale::Diverging);
        assert!(d.contains(">-1.000<") && d.contains(">1.000<") && d.contains("#ffffff"));
    }
}
