//! A matrix as an SVG heatmap (viridis), with a colour bar.
//!
//! Large matrices are shown as block means on a grid of at most [`MAX_CELLS`] cells a side,
//! so the picture stays a few hundred kilobytes whatever the kernel's size.

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

/// An SVG heatmap of a row-major `rows × cols` matrix, `size` pixels square for the cells,
/// with a title above and a colour bar with the minimum and maximum at the right.
///
/// # Panics
/// When `values.len() != rows * cols`.
pub fn heatmap_svg(values: &[f64], rows: usize, cols: usize, title: &str, size: u32) -> String {
    assert_eq!(
        values.len(),
        rows * cols,
        "heatmap of a {rows}×{cols} matrix"
    );
    let (grid, gr, gc) = downsample(values, rows, cols, MAX_CELLS);
    let finite = grid.iter().copied().filter(|v| v.is_finite());
    let lo = finite.clone().fold(f64::INFINITY, f64::min);
    let hi = finite.fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    let span = if hi > lo { hi - lo } else { 1.0 };
    let colour = |v: f64| {
        let c = ViridisRGB.get_color_normalized(((v - lo) / span) as f32, 0.0, 1.0);
        format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
    };
    let (top, left) = (24.0, 8.0);
    let (cw, ch) = (size as f64 / gc as f64, size as f64 / gr as f64);
    let width = left + size as f64 + 90.0;
    let height = top + size as f64 + 8.0;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"12\">\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\
         <text x=\"{left}\" y=\"16\">{}</text><g shape-rendering=\"crispEdges\">",
        escape(title)
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
        // MAX_CELLS² cells, the colour bar, the background.
        assert_eq!(s.matches("<rect").count(), MAX_CELLS * MAX_CELLS + 32 + 1);
        let c = heatmap_svg(&[1.0, 1.0, 1.0, 1.0], 2, 2, "const", 64);
        assert!(!c.contains("NaN"));
    }
}
