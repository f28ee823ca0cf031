//! Kernel matrices: empirical (a finite network at a seed) and analytic (infinite width),
//! NTK and NNGP, returned as an owned [`KernelMatrix`] that draws itself as a heatmap.

use core::fmt;

use ntk_engine::gram::{EmpiricalOptions, KernelKind, Precision, Weights, empirical};
use ntk_engine::metrics::rel_frobenius;
use ntk_engine::predict::Matrix;
use ntk_engine::{AnalyticOptions, Error, Kernel, Result, analytic};

use crate::data::Data;
use crate::display::heatmap::{Scale, finite_range, heatmap_scaled, heatmap_svg};
use crate::display::{Html, Svg, Table, emit, escape, figure_with_table, num};
use crate::model::Model;

/// A kernel matrix `rows × cols` (row-major `f64`) with a title saying what it is.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelMatrix {
    /// What it is, e.g. `empirical NTK, widths [512], seed 0`.
    pub title: String,
    /// Rows (points of the first set).
    pub rows: usize,
    /// Columns (points of the second set).
    pub cols: usize,
    /// Entry `(i, j)` at `data[i * cols + j]`.
    pub data: Vec<f64>,
}

fn check_same(a: &KernelMatrix, b: &KernelMatrix) -> Result<()> {
    if (a.rows, a.cols) != (b.rows, b.cols) {
        return Err(Error::DimensionMismatch {
            what: format!(
                "kernel shapes ({}: {}×{}, {}: {}×{})",
                a.title, a.rows, a.cols, b.title, b.rows, b.cols
            ),
            expected: a.rows * a.cols,
            got: b.rows * b.cols,
        });
    }
    Ok(())
}

impl KernelMatrix {
    fn from_kernel(title: String, k: Kernel) -> KernelMatrix {
        let k = k.traced();
        KernelMatrix {
            title,
            rows: k.n1,
            cols: k.n2,
            data: k.data,
        }
    }

    /// Entry `(i, j)`.
    ///
    /// # Panics
    /// When `i ≥ rows` or `j ≥ cols`.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        assert!(
            i < self.rows && j < self.cols,
            "entry ({i}, {j}) out of range"
        );
        self.data[i * self.cols + j]
    }

    /// The diagonal (the first `min(rows, cols)` entries `(i, i)`).
    pub fn diagonal(&self) -> Vec<f64> {
        (0..self.rows.min(self.cols))
            .map(|i| self.get(i, i))
            .collect()
    }

    /// The relative Frobenius distance `‖self − reference‖_F / ‖reference‖_F` (the
    /// engine's [`rel_frobenius`]).
    pub fn rel_error(&self, reference: &KernelMatrix) -> Result<f64> {
        check_same(self, reference)?;
        Ok(rel_frobenius(&self.data, &reference.data))
    }

    /// `self − other`, entry by entry, with a new title.
    pub fn minus(&self, other: &KernelMatrix, title: &str) -> Result<KernelMatrix> {
        check_same(self, other)?;
        let data = self.data.iter().zip(&other.data).map(|(a, b)| a - b);
        Ok(KernelMatrix {
            title: title.into(),
            rows: self.rows,
            cols: self.cols,
            data: data.collect(),
        })
    }

    /// `c · self`, with a new title.
    pub fn scaled(&self, c: f64, title: &str) -> KernelMatrix {
        KernelMatrix {
            title: title.into(),
            rows: self.rows,
            cols: self.cols,
            data: self.data.iter().map(|v| c * v).collect(),
        }
    }

    /// The matrix the engine's predictions take.
    pub fn to_matrix(&self) -> Matrix {
        Matrix {
            rows: self.rows,
            cols: self.cols,
            data: self.data.clone(),
        }
    }

    /// Shape, range, mean of the diagonal and off the diagonal, symmetry.
    pub fn summary(&self) -> Table {
        let lo = self.data.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = self.data.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let diag = self.diagonal();
        let dmean = diag.iter().sum::<f64>() / diag.len().max(1) as f64;
        let off = (self.data.iter().sum::<f64>() - diag.iter().sum::<f64>())
            / (self.data.len() - diag.len()).max(1) as f64;
        let square = self.rows == self.cols;
        let sym = square
            && (0..self.rows).all(|i| {
                (0..i).all(|j| (self.get(i, j) - self.get(j, i)).abs() <= 1e-12 * hi.abs())
            });
        let mut t = Table::new(&self.title, &["quantity", "value"]);
        for (k, v) in [
            ("shape", format!("{} × {}", self.rows, self.cols)),
            ("min", num(lo)),
            ("max", num(hi)),
            ("mean diagonal", num(dmean)),
            ("mean off-diagonal", num(off)),
            ("symmetric", if sym { "yes" } else { "no" }.into()),
        ] {
            t.push(vec![k.into(), v]);
        }
        t
    }

    /// The matrix as a heatmap (block means above 64 × 64).
    pub fn heatmap(&self) -> Svg {
        Svg(heatmap_svg(
            &self.data,
            self.rows,
            self.cols,
            &self.title,
            320,
        ))
    }

    /// This kernel and `other` (same shape) on **one** colour scale, and their difference
    /// `self − other` on a blue–white–red scale centred at 0, with the relative Frobenius
    /// distance in the difference's title.
    pub fn compare(&self, other: &KernelMatrix) -> Result<Html> {
        let rel = self.rel_error(other)?;
        let (a, b) = (finite_range(&self.data), finite_range(&other.data));
        let scale = Scale::Fixed(a.0.min(b.0), a.1.max(b.1));
        let diff: Vec<f64> = self
            .data
            .iter()
            .zip(&other.data)
            .map(|(x, y)| x - y)
            .collect();
        let pics = [
            heatmap_scaled(&self.data, self.rows, self.cols, &self.title, 260, scale),
            heatmap_scaled(
                &other.data,
                other.rows,
                other.cols,
                &other.title,
                260,
                scale,
            ),
            heatmap_scaled(
                &diff,
                self.rows,
                self.cols,
                &format!("difference (relative Frobenius {})", num(rel)),
                260,
                Scale::Diverging,
            ),
        ];
        let body: String = pics.iter().map(|p| format!("<div>{p}</div>")).collect();
        Ok(Html(format!(
            "<p>{} against {}: relative Frobenius distance {}; the two on one colour scale, \
             then their difference</p><div style=\"display:flex;flex-wrap:wrap;gap:8px\">{body}</div>",
            escape(&self.title),
            escape(&other.title),
            num(rel)
        )))
    }

    /// Shows the heatmap and the summary side by side.
    pub fn evcxr_display(&self) {
        emit(
            "text/html",
            &figure_with_table(&self.heatmap().0, &self.summary()),
            &self.to_string(),
        );
    }
}

impl fmt::Display for KernelMatrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} ({} × {})", self.title, self.rows, self.cols)?;
        let (r, c) = (self.rows.min(5), self.cols.min(5));
        for i in 0..r {
            let row: Vec<String> = (0..c)
                .map(|j| format!("{:>10}", num(self.get(i, j))))
                .collect();
            let more = if c < self.cols { " …" } else { "" };
            writeln!(f, "{}{more}", row.join(" "))?;
        }
        if r < self.rows {
            writeln!(f, "…")?;
        }
        Ok(())
    }
}

fn kind_name(kind: KernelKind) -> &'static str {
    match kind {
        KernelKind::Ntk => "NTK",
        KernelKind::Nngp => "NNGP",
    }
}

/// The empirical (finite-width) NTK or NNGP of `model` initialised from `seed`, between the
/// rows of `x1` and of `x2` (`x1` with itself when `None`). Products in `f32`, sums in `f64`.
/// The cost grows with the number of points squared times the widths: size the call.
pub fn empirical_kernel(
    model: &Model,
    kind: KernelKind,
    x1: &Data,
    x2: Option<&Data>,
    seed: u64,
) -> Result<KernelMatrix> {
    empirical_with(model, kind, x1, x2, seed, Precision::F32)
}

/// [`empirical_kernel`] at a chosen precision.
pub(crate) fn empirical_with(
    model: &Model,
    kind: KernelKind,
    x1: &Data,
    x2: Option<&Data>,
    seed: u64,
    precision: Precision,
) -> Result<KernelMatrix> {
    let opts = EmpiricalOptions {
        kind,
        precision,
        ..EmpiricalOptions::default()
    };
    let p2 = x2.map(|x| x.points());
    let k = empirical(
        &model.mlp,
        Weights::Seeded(seed),
        &x1.points(),
        p2.as_ref(),
        &opts,
    )?;
    let title = format!(
        "empirical {}, widths [{}], seed {seed}",
        kind_name(kind),
        model.mlp.widths_string()
    );
    Ok(KernelMatrix::from_kernel(title, k))
}

/// The analytic (infinite-width) NTK or NNGP of `model` between the rows of `x1` and of `x2`
/// (`x1` with itself when `None`).
pub fn analytic_kernel(
    model: &Model,
    kind: KernelKind,
    x1: &Data,
    x2: Option<&Data>,
) -> Result<KernelMatrix> {
    let opts = AnalyticOptions {
        kind,
        ..AnalyticOptions::default()
    };
    let p2 = x2.map(|x| x.points());
    let k = analytic(&model.mlp, &x1.points(), p2.as_ref(), &opts)?;
    let title = format!(
        "analytic {}, depth {}, {}",
        kind_name(kind),
        model.depth(),
        model.mlp.activation
    );
    Ok(KernelMatrix::from_kernel(title, k))
}

/// The empirical NTK of `model` at `seed` on the rows of `x`.
pub fn empirical_ntk(model: &Model, x: &Data, seed: u64) -> Result<KernelMatrix> {
    empirical_kernel(model, KernelKind::Ntk, x, None, seed)
}

/// The empirical NNGP of `model` at `seed` on the rows of `x`.
pub fn empirical_nngp(model: &Model, x: &Data, seed: u64) -> Result<KernelMatrix> {
    empirical_kernel(model, KernelKind::Nngp, x, None, seed)
}

/// The analytic NTK of `model` on the rows of `x`.
pub fn analytic_ntk(model: &Model, x: &Data) -> Result<KernelMatrix> {
    analytic_kernel(model, KernelKind::Ntk, x, None)
}

/// The analytic NNGP of `model` on the rows of `x`.
pub fn analytic_nngp(model: &Model, x: &Data) -> Result<KernelMatrix> {
    analytic_kernel(model, KernelKind::Nngp, x, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ntk_engine::Activation;

    #[test]
    fn wide_empirical_ntk_is_close_to_the_analytic_one() {
        let x = Data::bundled("iris").unwrap().head(12).unit_norm().unwrap();
        let model = Model::new(4, &[4096], Activation::Relu);
        let e = empirical_ntk(&model, &x, 0).unwrap();
        let a = analytic_ntk(&model, &x).unwrap();
        assert_eq!((e.rows, e.cols), (12, 12));
        let err = e.rel_error(&a).unwrap();
        assert!(err < 0.1, "relative error {err}");
        let s = e.summary();
        assert!(s.to_html().contains("12 × 12") && s.to_html().contains("yes"));
        let h = e.heatmap().0;
        assert!(h.starts_with("<svg") && h.contains("empirical NTK"));
        assert!(
            e.to_string()
                .starts_with("empirical NTK, widths [4096], seed 0 (12 × 12)")
        );
        let other = analytic_kernel(&model, KernelKind::Ntk, &x, Some(&x.head(3))).unwrap();
        assert_eq!((other.rows, other.cols), (12, 3));
        assert!(e.rel_error(&other).is_err());
    }
}
