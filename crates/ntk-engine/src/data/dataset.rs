//! A dataset: features (memory-mapped from `.npy`, or owned after a transformation) and
//! optional integer labels, with the preprocessing the theory assumes.

use std::path::{Path, PathBuf};

use super::{NpyFile, Points};
use crate::error::{Error, Result};

/// Class labels are integers in `0..MAX_CLASSES` (and below the number of rows): one-hot
/// targets are `rows × classes`, so a label of 10⁹ must be refused, not allocated.
pub const MAX_CLASSES: usize = 4096;

/// The names [`Dataset::bundled`] knows.
pub const BUNDLED: [&str; 4] = ["digits", "iris", "wine", "breast-cancer"];

enum Storage {
    Mapped(NpyFile),
    Owned(Vec<f64>),
}

/// Features (`rows × cols`) and optional labels.
pub struct Dataset {
    name: String,
    rows: usize,
    cols: usize,
    storage: Storage,
    labels: Option<Vec<i64>>,
}

impl std::fmt::Debug for Dataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Dataset({}: {}×{}, labels: {})",
            self.name,
            self.rows,
            self.cols,
            self.labels.is_some()
        )
    }
}

/// Where the bundled `.npy` files live: `$NTK_DATA_DIR`, else the repository's `data/`
/// (known at compile time), else `./data`.
pub fn data_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("NTK_DATA_DIR") {
        return PathBuf::from(d);
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data");
    if repo.join("digits.npy").exists() {
        repo
    } else {
        PathBuf::from("data")
    }
}

impl Dataset {
    /// Maps `features` (a 2-D f32/f64 `.npy`, checked finite) and reads `labels` (1-D
    /// integer or float `.npy` of whole numbers, one per row) when given.
    pub fn load(features: impl AsRef<Path>, labels: Option<&Path>) -> Result<Self> {
        let file = NpyFile::open(features.as_ref())?;
        let (rows, cols) = file.expect_2d()?;
        Points::from_npy(&file)?; // validates values (finite)
        let labels = match labels {
            None => None,
            Some(p) => {
                let lf = NpyFile::open(p)?;
                if lf.shape() != [rows] {
                    return Err(Error::npy(
                        p,
                        format!(
                            "labels of shape {:?}: expected [{rows}] (one per row of the features)",
                            lf.shape()
                        ),
                    ));
                }
                let v = lf.to_f64_vec();
                if let Some(i) = v.iter().position(|x| x.fract() != 0.0 || !x.is_finite()) {
                    return Err(Error::npy(
                        p,
                        format!("label {} at position {i} is not a whole number", v[i]),
                    ));
                }
                let classes = MAX_CLASSES.min(rows.max(2));
                if let Some(i) = v.iter().position(|&x| x < 0.0 || x >= classes as f64) {
                    return Err(Error::npy(
                        p,
                        format!(
                            "label {} at position {i} is not a class in 0..{classes} (labels are \
                             0, 1, 2, …: at most one class per row, at most {MAX_CLASSES})",
                            v[i]
                        ),
                    ));
                }
                Some(v.into_iter().map(|x| x as i64).collect())
            }
        };
        let name = features
            .as_ref()
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(Dataset {
            name,
            rows,
            cols,
            storage: Storage::Mapped(file),
            labels,
        })
    }

    /// One of the datasets shipped in `data/` ([`BUNDLED`]), with its labels.
    pub fn bundled(name: &str) -> Result<Self> {
        if !BUNDLED.contains(&name) {
            return Err(Error::invalid(
                "dataset",
                name,
                format!("one of {}", BUNDLED.join(", ")),
            ));
        }
        let dir = data_dir();
        let mut d = Self::load(
            dir.join(format!("{name}.npy")),
            Some(&dir.join(format!("{name}-labels.npy"))),
        )?;
        d.name = name.to_string();
        Ok(d)
    }

    /// The path of a bundled dataset's features, checked to exist.
    pub fn bundled_path(name: &str) -> Result<PathBuf> {
        if !BUNDLED.contains(&name) {
            return Err(Error::invalid(
                "dataset",
                name,
                format!("one of {}", BUNDLED.join(", ")),
            ));
        }
        Ok(data_dir().join(format!("{name}.npy")))
    }

    /// A dataset from row-major values (checked finite) and optional labels.
    pub fn from_vec(
        name: &str,
        values: Vec<f64>,
        rows: usize,
        cols: usize,
        labels: Option<Vec<i64>>,
    ) -> Result<Self> {
        Points::from_f64(&values, rows, cols)?;
        if let Some(l) = &labels
            && l.len() != rows
        {
            return Err(Error::DimensionMismatch {
                what: format!("labels of {name}"),
                expected: rows,
                got: l.len(),
            });
        }
        Ok(Dataset {
            name: name.into(),
            rows,
            cols,
            storage: Storage::Owned(values),
            labels,
        })
    }

    /// The name (file stem or bundled name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of features.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The labels, if any.
    pub fn labels(&self) -> Option<&[i64]> {
        self.labels.as_deref()
    }

    /// `true` when the features are read in place from a memory map.
    pub fn is_mapped(&self) -> bool {
        matches!(self.storage, Storage::Mapped(_))
    }

    /// The features as engine input, borrowed from the map when aligned.
    pub fn points(&self) -> Points<'_> {
        let p = match &self.storage {
            Storage::Mapped(f) => Points::from_npy(f),
            Storage::Owned(v) => Points::from_f64(v, self.rows, self.cols),
        };
        // Validated when the dataset was made.
        p.unwrap_or_else(|e| unreachable!("dataset validated at construction: {e}"))
    }

    /// The features in `f64`, row-major (a copy).
    pub fn to_f64_vec(&self) -> Vec<f64> {
        match &self.storage {
            Storage::Mapped(f) => f.to_f64_vec(),
            Storage::Owned(v) => v.clone(),
        }
    }

    fn with_values(&self, suffix: &str, values: Vec<f64>, cols: usize) -> Dataset {
        Dataset {
            name: format!("{}{suffix}", self.name),
            rows: self.rows,
            cols,
            storage: Storage::Owned(values),
            labels: self.labels.clone(),
        }
    }

    /// The first `n` rows (all when `n ≥ rows`).
    pub fn head(&self, n: usize) -> Dataset {
        let n = n.min(self.rows);
        let v = self.to_f64_vec()[..n * self.cols].to_vec();
        Dataset {
            name: self.name.clone(),
            rows: n,
            cols: self.cols,
            storage: Storage::Owned(v),
            labels: self.labels.as_ref().map(|l| l[..n].to_vec()),
        }
    }

    /// Rows scaled to unit Euclidean norm; a zero row is an error naming it.
    pub fn unit_norm_rows(&self) -> Result<Dataset> {
        let mut v = self.to_f64_vec();
        for (i, row) in v.chunks_mut(self.cols).enumerate() {
            let norm = row.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm == 0.0 {
                return Err(Error::invalid(
                    "row",
                    i,
                    format!("a nonzero row of {} to normalise", self.name),
                ));
            }
            row.iter_mut().for_each(|x| *x /= norm);
        }
        Ok(self.with_values("/unit", v, self.cols))
    }

    /// Columns shifted to mean 0 and scaled to variance 1 (population variance); a constant
    /// column becomes 0.
    pub fn standardized(&self) -> Dataset {
        let mut v = self.to_f64_vec();
        let (r, c) = (self.rows as f64, self.cols);
        for j in 0..c {
            let mean = (0..self.rows).map(|i| v[i * c + j]).sum::<f64>() / r;
            let var = (0..self.rows)
                .map(|i| (v[i * c + j] - mean).powi(2))
                .sum::<f64>()
                / r;
            let scale = if var > 0.0 { 1.0 / var.sqrt() } else { 0.0 };
            (0..self.rows).for_each(|i| v[i * c + j] = (v[i * c + j] - mean) * scale);
        }
        self.with_values("/std", v, c)
    }

    /// The lecture's lift onto the sphere: `x ↦ (x/(√2‖x‖), 1/√2)`, a point of
    /// `{z ∈ ℝ^{d+1} : ‖z‖ = 1, z_{d+1} = 1/√2}`, on which the ReLU NTK of a bias-free
    /// two-layer net is universal (the lecture's "arccos kernel" slide). This is
    /// `(x̂, 1/√2)/‖(x̂, 1/√2)‖` for `x̂` the row scaled to norm `1/√2`. A zero row is an error.
    pub fn sphere_lift(&self) -> Result<Dataset> {
        let c = self.cols;
        let src = self.to_f64_vec();
        let h = std::f64::consts::FRAC_1_SQRT_2;
        let mut v = Vec::with_capacity(self.rows * (c + 1));
        for (i, row) in src.chunks(c).enumerate() {
            let norm = row.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm == 0.0 {
                return Err(Error::invalid(
                    "row",
                    i,
                    format!("a nonzero row of {} to lift", self.name),
                ));
            }
            v.extend(row.iter().map(|x| x * h / norm));
            v.push(h);
        }
        Ok(self.with_values("/lift", v, c + 1))
    }

    /// Labels as one-hot targets `rows × classes` (row-major), classes `0..classes`.
    pub fn one_hot(&self, classes: usize) -> Result<Vec<f64>> {
        let labels = self
            .labels
            .as_ref()
            .ok_or_else(|| Error::invalid("labels", &self.name, "a dataset with labels"))?;
        if classes > MAX_CLASSES {
            return Err(Error::invalid(
                "number of classes",
                classes,
                format!("at most {MAX_CLASSES}"),
            ));
        }
        let mut y = vec![0.0; self.rows * classes];
        for (i, &l) in labels.iter().enumerate() {
            if l < 0 || l as usize >= classes {
                return Err(Error::invalid(
                    "label",
                    l,
                    format!("a class in 0..{classes} (row {i})"),
                ));
            }
            y[i * classes + l as usize] = 1.0;
        }
        Ok(y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_sets_load_in_place_with_labels() {
        for (name, rows, cols) in [
            ("digits", 1797, 64),
            ("iris", 150, 4),
            ("wine", 178, 13),
            ("breast-cancer", 569, 30),
        ] {
            let d = Dataset::bundled(name).unwrap();
            assert_eq!((d.rows(), d.cols()), (rows, cols), "{name}");
            assert!(d.is_mapped());
            assert!(matches!(
                d.points().values(),
                crate::data::PointValues::F32(std::borrow::Cow::Borrowed(_))
            ));
            assert_eq!(d.labels().unwrap().len(), rows);
        }
        let e = Dataset::bundled("mnist").unwrap_err().to_string();
        assert!(e.contains("mnist") && e.contains("digits"), "{e}");
    }

    #[test]
    fn preprocessing_does_what_it_says() {
        let d = Dataset::from_vec(
            "t",
            vec![3.0, 4.0, 1.0, 0.0, 0.0, 2.0],
            3,
            2,
            Some(vec![0, 1, 1]),
        )
        .unwrap();
        let u = d.unit_norm_rows().unwrap().to_f64_vec();
        assert_eq!(u, vec![0.6, 0.8, 1.0, 0.0, 0.0, 1.0]);
        let s = d.standardized().to_f64_vec();
        for j in 0..2 {
            let col: Vec<f64> = (0..3).map(|i| s[i * 2 + j]).collect();
            let mean = col.iter().sum::<f64>() / 3.0;
            let var = col.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 3.0;
            assert!(mean.abs() < 1e-15 && (var - 1.0).abs() < 1e-12);
        }
        let l = d.sphere_lift().unwrap();
        assert_eq!(l.cols(), 3);
        for row in l.to_f64_vec().chunks(3) {
            let norm: f64 = row.iter().map(|x| x * x).sum();
            assert!((norm - 1.0).abs() < 1e-15);
            assert_eq!(row[2], std::f64::consts::FRAC_1_SQRT_2);
        }
        assert_eq!(d.one_hot(2).unwrap(), vec![1.0, 0.0, 0.0, 1.0, 0.0, 1.0]);
        assert!(d.one_hot(1).is_err());
        let z = Dataset::from_vec("z", vec![0.0, 0.0], 1, 2, None).unwrap();
        assert!(z.unit_norm_rows().is_err() && z.sphere_lift().is_err());
    }
}
