//! [`Data`]: a dataset held by value, with the engine's preprocessing.

use core::fmt;

use ntk_engine::{Dataset, Error, Points, Result};

use crate::display::{Table, emit, escape, heatmap::heatmap_svg};
use crate::predict::Outputs;

/// Features (`rows × cols`, row-major `f64`) and optional integer labels.
///
/// Every transformation returns a new `Data`; the preprocessing itself is the engine's
/// ([`Dataset`]).
pub struct Data {
    pub(crate) inner: Dataset,
}

impl Data {
    /// A dataset shipped with the repository: `"digits"` (1797 × 64, 8×8 images of digits),
    /// `"iris"`, `"wine"` or `"breast-cancer"`, with labels.
    pub fn bundled(name: &str) -> Result<Data> {
        Ok(Data {
            inner: Dataset::bundled(name)?,
        })
    }

    /// A 2-D `.npy` file of features (f32, f64 or integers) and, optionally, a 1-D `.npy`
    /// of integer labels.
    pub fn npy(features: &str, labels: Option<&str>) -> Result<Data> {
        Ok(Data {
            inner: Dataset::load(features, labels.map(std::path::Path::new))?,
        })
    }

    /// A dataset from row-major values.
    pub fn from_rows(
        name: &str,
        values: Vec<f64>,
        rows: usize,
        cols: usize,
        labels: Option<Vec<i64>>,
    ) -> Result<Data> {
        Ok(Data {
            inner: Dataset::from_vec(name, values, rows, cols, labels)?,
        })
    }

    /// The name.
    pub fn name(&self) -> &str {
        self.inner.name()
    }

    /// Number of points.
    pub fn rows(&self) -> usize {
        self.inner.rows()
    }

    /// Number of features.
    pub fn cols(&self) -> usize {
        self.inner.cols()
    }

    /// The labels, if any.
    pub fn labels(&self) -> Option<&[i64]> {
        self.inner.labels()
    }

    /// Number of classes: one more than the largest label (0 without labels).
    pub fn classes(&self) -> usize {
        self.labels()
            .and_then(|l| l.iter().max())
            .map_or(0, |&m| (m.max(-1) + 1) as usize)
    }

    /// The features, row-major (a copy).
    pub fn values(&self) -> Vec<f64> {
        self.inner.to_f64_vec()
    }

    /// Row `i` (a copy).
    ///
    /// # Panics
    /// When `i ≥ rows`.
    pub fn row(&self, i: usize) -> Vec<f64> {
        assert!(i < self.rows(), "row {i} of {} rows", self.rows());
        let c = self.cols();
        self.inner.to_f64_vec()[i * c..(i + 1) * c].to_vec()
    }

    /// The engine's view of the features.
    pub fn points(&self) -> Points<'_> {
        self.inner.points()
    }

    /// The rows `start..end` (clamped to the dataset).
    pub fn slice(&self, start: usize, end: usize) -> Data {
        let (c, end) = (self.cols(), end.min(self.rows()));
        let start = start.min(end);
        let v = self.inner.to_f64_vec()[start * c..end * c].to_vec();
        let labels = self.labels().map(|l| l[start..end].to_vec());
        let name = format!("{}[{start}..{end}]", self.name());
        Data::from_rows(&name, v, end - start, c, labels)
            .unwrap_or_else(|e| unreachable!("a slice of valid data is valid: {e}"))
    }

    /// The first `n` rows.
    pub fn head(&self, n: usize) -> Data {
        Data {
            inner: self.inner.head(n),
        }
    }

    /// The rows reordered by label (stable), so a kernel's heatmap shows one block per
    /// class; unchanged without labels.
    pub fn sorted_by_label(&self) -> Data {
        let Some(labels) = self.labels() else {
            return self.slice(0, self.rows());
        };
        let mut order: Vec<usize> = (0..self.rows()).collect();
        order.sort_by_key(|&i| labels[i]);
        let (c, v) = (self.cols(), self.values());
        let values = order
            .iter()
            .flat_map(|&i| v[i * c..(i + 1) * c].to_vec())
            .collect();
        let labels = order.iter().map(|&i| labels[i]).collect();
        Data::from_rows(self.name(), values, self.rows(), c, Some(labels))
            .unwrap_or_else(|e| unreachable!("reordered valid data is valid: {e}"))
    }

    /// The first `n_train` rows and the `n_test` rows after them.
    pub fn split(&self, n_train: usize, n_test: usize) -> (Data, Data) {
        (
            self.slice(0, n_train),
            self.slice(n_train, n_train + n_test),
        )
    }

    /// Rows scaled to unit norm (the lecture's `‖x‖ = 1`); a zero row is an error.
    pub fn unit_norm(&self) -> Result<Data> {
        Ok(Data {
            inner: self.inner.unit_norm_rows()?,
        })
    }

    /// Every value times `factor` (e.g. `√d` after [`Data::unit_norm`], so that
    /// `xᵀx/d = 1`, neural-tangents' convention for the MLPs), labels kept.
    pub fn scaled(&self, factor: f64) -> Result<Data> {
        let v = self.values().iter().map(|a| a * factor).collect();
        let labels = self.labels().map(<[i64]>::to_vec);
        Data::from_rows(self.name(), v, self.rows(), self.cols(), labels)
    }

    /// Columns standardised to mean 0, variance 1.
    pub fn standardized(&self) -> Data {
        Data {
            inner: self.inner.standardized(),
        }
    }

    /// The lecture's lift onto `{‖z‖ = 1, z_{d+1} = 1/√2}`, where the two-layer ReLU NTK
    /// is universal.
    pub fn sphere_lift(&self) -> Result<Data> {
        Ok(Data {
            inner: self.inner.sphere_lift()?,
        })
    }

    /// One-hot targets (`rows × classes`); an error without labels or with a label
    /// outside `0..classes`.
    pub fn one_hot(&self, classes: usize) -> Result<Outputs> {
        let y = self.inner.one_hot(classes)?;
        Outputs::new(self.rows(), classes, y)
    }

    /// Targets `±1` for "label == class" (a binary task, one output column).
    pub fn one_vs_rest(&self, class: i64) -> Result<Outputs> {
        let labels = self
            .labels()
            .ok_or_else(|| Error::invalid("labels", self.name(), "a dataset with labels"))?;
        let y = labels
            .iter()
            .map(|&l| if l == class { 1.0 } else { -1.0 })
            .collect();
        Outputs::new(self.rows(), 1, y)
    }

    /// The summary shown in a notebook: size, labels, value range.
    pub fn summary(&self) -> Table {
        let v = self.values();
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut t = Table::new(
            &format!("dataset {}", self.name()),
            &["rows", "features", "classes", "min", "max"],
        );
        t.push(vec![
            self.rows().to_string(),
            self.cols().to_string(),
            self.classes().to_string(),
            crate::display::num(lo),
            crate::display::num(hi),
        ]);
        t
    }

    /// The first `n` rows drawn as `side × side` images (for `digits`, `side = 8`), each
    /// with its label: an HTML strip of small heatmaps.
    pub fn images(&self, n: usize, side: usize) -> Result<crate::display::Html> {
        if side * side != self.cols() {
            return Err(Error::invalid(
                "image side",
                side,
                format!("side² = {} (the number of features)", self.cols()),
            ));
        }
        let mut s = String::from("<div style=\"display:flex;flex-wrap:wrap;gap:4px\">");
        for i in 0..n.min(self.rows()) {
            let label = self
                .labels()
                .map_or(String::new(), |l| format!("label {}", l[i]));
            s += &heatmap_svg(&self.row(i), side, side, &escape(&label), 64);
        }
        Ok(crate::display::Html(s + "</div>"))
    }

    /// Shows [`Data::summary`] in the notebook.
    pub fn evcxr_display(&self) {
        emit(
            "text/html",
            &self.summary().to_html(),
            &self.summary().to_string(),
        );
    }
}

impl fmt::Display for Data {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.summary())
    }
}

impl fmt::Debug for Data {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_load_split_and_encode() {
        let d = Data::bundled("digits").unwrap();
        assert_eq!((d.rows(), d.cols(), d.classes()), (1797, 64, 10));
        let (tr, te) = d.split(100, 50);
        assert_eq!((tr.rows(), te.rows()), (100, 50));
        assert_eq!(te.row(0), d.row(100));
        assert_eq!(te.labels().unwrap()[0], d.labels().unwrap()[100]);
        let y = tr.one_hot(10).unwrap();
        assert_eq!((y.rows, y.cols), (100, 10));
        let u = tr.unit_norm().unwrap();
        let r = u.row(3);
        assert!((r.iter().map(|x| x * x).sum::<f64>() - 1.0).abs() < 1e-12);
        let s = tr.sorted_by_label();
        let l = s.labels().unwrap();
        assert!(l.windows(2).all(|w| w[0] <= w[1]) && l.len() == 100);
        let img = d.images(3, 8).unwrap().0;
        assert_eq!(img.matches("<svg").count(), 3);
        assert!(d.images(3, 7).is_err());
        assert!(d.summary().to_html().contains("1797"));
    }
}
