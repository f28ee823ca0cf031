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
    /// A copy of the `.npy` image compiled into the library ([`EMBEDDED`]).
    Embedded(NpyFile),
    Owned(Vec<f64>),
}

/// The bundled datasets compiled into the library (`include_bytes!`, about 560 kB), so
/// that [`Dataset::bundled`] works in a binary built anywhere: `(name, features, labels)`,
/// the exact bytes of `data/<name>.npy` and `data/<name>-labels.npy`.
const EMBEDDED: [(&str, &[u8], &[u8]); 4] = [
    (
        "digits",
        include_bytes!("../../../../data/digits.npy"),
        include_bytes!("../../../../data/digits-labels.npy"),
    ),
    (
        "iris",
        include_bytes!("../../../../data/iris.npy"),
        include_bytes!("../../../../data/iris-labels.npy"),
    ),
    (
        "wine",
        include_bytes!("../../../../data/wine.npy"),
        include_bytes!("../../../../data/wine-labels.npy"),
    ),
    (
        "breast-cancer",
        include_bytes!("../../../../data/breast-cancer.npy"),
        include_bytes!("../../../../data/breast-cancer-labels.npy"),
    ),
];

/// Where [`Dataset::bundled`] reads a dataset from.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Source {
    /// `<dir>/<name>.npy` and `<dir>/<name>-labels.npy`, memory-mapped.
    Dir(PathBuf),
    /// The copy compiled into the library.
    Embedded,
}

/// `$NTK_DATA_DIR` when set (an explicit choice: a missing file there is an error), else
/// the repository's `data/` when this build can see it, else the embedded copy.
fn source(env: Option<std::ffi::OsString>, repo: &Path) -> Source {
    match env {
        Some(d) => Source::Dir(PathBuf::from(d)),
        None if repo.join("digits.npy").exists() => Source::Dir(repo.to_path_buf()),
        None => Source::Embedded,
    }
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

/// Where the bundled `.npy` files live on disk: `$NTK_DATA_DIR`, else the repository's
/// `data/` (known at compile time), else `./data`. [`Dataset::bundled`] does not need the
/// files: when neither `$NTK_DATA_DIR` is set nor the repository is present it uses the
/// copy compiled into the library.
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
        let labels = labels.map(NpyFile::open).transpose()?;
        let name = features
            .as_ref()
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Self::from_npy(name, file, labels, Storage::Mapped)
    }

    /// A dataset of the opened `file` and `labels`, checked, stored by `store`.
    fn from_npy(
        name: String,
        file: NpyFile,
        labels: Option<NpyFile>,
        store: fn(NpyFile) -> Storage,
    ) -> Result<Self> {
        let (rows, cols) = file.expect_2d()?;
        Points::from_npy(&file)?; // validates values (finite)
        let labels = match labels {
            None => None,
            Some(lf) => {
                let p = lf.path();
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
        Ok(Dataset {
            name,
            rows,
            cols,
            storage: store(file),
            labels,
        })
    }

    /// One of the datasets shipped in `data/` ([`BUNDLED`]), with its labels, in the file's
    /// row order (no shuffling: `wine` and `iris` are sorted by class, `digits` and
    /// `breast-cancer` are not).
    ///
    /// Where from: the directory `$NTK_DATA_DIR` when that variable is set (a missing file
    /// there is an error naming it); else the repository's `data/` when the build can see
    /// it (memory-mapped); else the copy of the files compiled into this library, so a
    /// program built outside this checkout finds the data with no set-up.
    pub fn bundled(name: &str) -> Result<Self> {
        if !BUNDLED.contains(&name) {
            return Err(Error::invalid(
                "dataset",
                name,
                format!("one of {}", BUNDLED.join(", ")),
            ));
        }
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data");
        Self::bundled_from(name, source(std::env::var_os("NTK_DATA_DIR"), &repo))
    }

    fn bundled_from(name: &str, source: Source) -> Result<Self> {
        let mut d = match source {
            Source::Dir(dir) => Self::load(
                dir.join(format!("{name}.npy")),
                Some(&dir.join(format!("{name}-labels.npy"))),
            )?,
            Source::Embedded => {
                let (_, x, y) = EMBEDDED
                    .iter()
                    .find(|e| e.0 == name)
                    .ok_or_else(|| Error::invalid("dataset", name, BUNDLED.join(", ")))?;
                let file = NpyFile::from_bytes(format!("<embedded>/{name}.npy"), x.to_vec())?;
                let labels =
                    NpyFile::from_bytes(format!("<embedded>/{name}-labels.npy"), y.to_vec())?;
                Self::from_npy(name.into(), file, Some(labels), Storage::Embedded)?
            }
        };
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

    /// `true` when the features are read in place from a memory map (or from the copy of a
    /// bundled file compiled into the library).
    pub fn is_mapped(&self) -> bool {
        matches!(self.storage, Storage::Mapped(_) | Storage::Embedded(_))
    }

    /// The features as engine input, borrowed from the map when aligned.
    pub fn points(&self) -> Points<'_> {
        let p = match &self.storage {
            Storage::Mapped(f) | Storage::Embedded(f) => Points::from_npy(f),
            Storage::Owned(v) => Points::from_f64(v, self.rows, self.cols),
        };
        // Validated when the dataset was made.
        p.unwrap_or_else(|e| unreachable!("dataset validated at construction: {e}"))
    }

    /// The features in `f64`, row-major (a copy).
    pub fn to_f64_vec(&self) -> Vec<f64> {
        match &self.storage {
            Storage::Mapped(f) | Storage::Embedded(f) => f.to_f64_vec(),
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

    /// Rows `range` (a copy, labels included); an empty range or one past the last row is an
    /// error.
    pub fn slice(&self, range: core::ops::Range<usize>) -> Result<Dataset> {
        if range.start >= range.end || range.end > self.rows {
            return Err(Error::invalid(
                "row range",
                format!("{}..{}", range.start, range.end),
                format!("a non-empty range within 0..{} ({})", self.rows, self.name),
            ));
        }
        let c = self.cols;
        let v = match &self.storage {
            Storage::Owned(v) => v[range.start * c..range.end * c].to_vec(),
            Storage::Mapped(f) | Storage::Embedded(f) => {
                (range.start * c..range.end * c).map(|p| f.get(p)).collect()
            }
        };
        Ok(Dataset {
            name: self.name.clone(),
            rows: range.len(),
            cols: c,
            storage: Storage::Owned(v),
            labels: self.labels.as_ref().map(|l| l[range].to_vec()),
        })
    }

    /// The first `n_train` rows for training and the next `n_test` for testing, in the
    /// file's order (as the study's [`StudyData`](crate::train::study::StudyData) takes
    /// them). Both sizes must be positive and add up to at most [`rows`](Self::rows).
    ///
    /// To prepare data as the study does, scale before splitting, so that both parts share
    /// the statistics: `data.head(n_train + n_test).scaled_to_unit_variance()?.split(n_train,
    /// n_test)?`.
    pub fn split(&self, n_train: usize, n_test: usize) -> Result<(Dataset, Dataset)> {
        let n = n_train.checked_add(n_test);
        if n_train == 0 || n_test == 0 || n.is_none_or(|n| n > self.rows) {
            return Err(Error::invalid(
                "train/test sizes",
                format!("{n_train}+{n_test}"),
                format!(
                    "positive sizes adding up to at most {} rows ({})",
                    self.rows, self.name
                ),
            ));
        }
        Ok((
            self.slice(0..n_train)?,
            self.slice(n_train..n_train + n_test)?,
        ))
    }

    /// neural-tangents' input convention `x·x/d = 1`: columns [`standardized`](Self::standardized)
    /// (mean 0, variance 1 over these rows), then each row scaled to norm `√d`, so every
    /// input has unit mean square `‖x‖²/d = 1`, the scale the analytic kernels and
    /// `W_std`, `b_std` assume. Bit for bit what the study does to its inputs. A row that is
    /// zero after centring is an error naming it.
    pub fn scaled_to_unit_variance(&self) -> Result<Dataset> {
        let unit = self.standardized().unit_norm_rows()?;
        let root_d = (self.cols as f64).sqrt();
        let v = unit.to_f64_vec().iter().map(|x| x * root_d).collect();
        Ok(self.with_values("/nt", v, self.cols))
    }

    /// The number of classes, `1 + the largest label` (`None` without labels or with a
    /// negative label).
    pub fn classes(&self) -> Option<usize> {
        let labels = self.labels.as_ref()?;
        if labels.iter().any(|&l| l < 0) {
            return None;
        }
        Some(labels.iter().copied().max().map_or(0, |m| m as usize + 1))
    }

    /// The labels as one-hot targets, a `rows × classes` [`Matrix`](crate::Matrix) (as
    /// [`one_hot`](Self::one_hot)), ready for [`GradientFlow::fit`](crate::GradientFlow::fit)
    /// or [`train`](crate::train::train).
    pub fn targets(&self, classes: usize) -> Result<crate::predict::Matrix> {
        crate::predict::Matrix::new(self.rows, classes, self.one_hot(classes)?)
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

    /// The copy compiled into the library is the repository's files, value for value, and
    /// is what a build that sees neither `$NTK_DATA_DIR` nor the repository uses.
    #[test]
    fn embedded_copies_equal_the_files() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data");
        assert_eq!(source(None, &repo), Source::Dir(repo.clone()));
        let nowhere = Path::new("/nonexistent-ntk-data");
        assert_eq!(source(None, nowhere), Source::Embedded);
        assert_eq!(
            source(Some("/x".into()), &repo),
            Source::Dir(PathBuf::from("/x"))
        );
        for name in BUNDLED {
            let file = Dataset::bundled_from(name, Source::Dir(repo.clone())).unwrap();
            let emb = Dataset::bundled_from(name, Source::Embedded).unwrap();
            assert_eq!(emb.name(), name);
            assert_eq!((emb.rows(), emb.cols()), (file.rows(), file.cols()));
            assert_eq!(emb.to_f64_vec(), file.to_f64_vec(), "{name}");
            assert_eq!(emb.labels(), file.labels());
        }
        let e = Dataset::bundled_from("wine", Source::Dir(nowhere.into()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent-ntk-data/wine.npy"), "{e}");
    }

    #[test]
    fn split_and_slice_take_rows_in_order() {
        let d = Dataset::bundled("iris").unwrap();
        let (tr, te) = d.split(100, 30).unwrap();
        assert_eq!((tr.rows(), te.rows(), te.cols()), (100, 30, 4));
        let all = d.to_f64_vec();
        assert_eq!(tr.to_f64_vec(), all[..400]);
        assert_eq!(te.to_f64_vec(), all[400..520]);
        assert_eq!(te.labels().unwrap(), &d.labels().unwrap()[100..130]);
        let s = d.slice(10..12).unwrap();
        assert_eq!(s.to_f64_vec(), all[40..48]);
        assert_eq!(s.slice(1..2).unwrap().to_f64_vec(), all[44..48]);
        for (a, b) in [(0, 5), (5, 0), (100, 51), (usize::MAX, 1)] {
            assert!(d.split(a, b).is_err(), "{a}+{b}");
        }
        assert!(d.slice(3..3).is_err() && d.slice(149..151).is_err());
        assert_eq!(d.classes(), Some(3));
        let y = te.targets(3).unwrap();
        assert_eq!(y.shape(), (30, 3));
        assert_eq!(y.row(0).iter().sum::<f64>(), 1.0);
    }

    /// `x·x/d = 1` per row, and bit for bit the study's inputs.
    #[test]
    fn unit_variance_scaling_matches_the_study() {
        let d = Dataset::bundled("wine").unwrap();
        let (n_train, n_test) = (60, 20);
        let scaled = d.head(n_train + n_test).scaled_to_unit_variance().unwrap();
        for row in scaled.to_f64_vec().chunks(13) {
            let msq = row.iter().map(|x| x * x).sum::<f64>() / 13.0;
            assert!((msq - 1.0).abs() < 1e-14, "{msq}");
        }
        let (tr, te) = scaled.split(n_train, n_test).unwrap();
        let study = crate::train::study::StudyData::from_dataset(&d, n_train, n_test).unwrap();
        assert_eq!(tr.to_f64_vec(), study.x_train);
        assert_eq!(te.to_f64_vec(), study.x_test);
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
