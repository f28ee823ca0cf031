//! The kernel operator `V ↦ K·V`, from four sources: a matrix in memory, a memory-mapped
//! `.npy` file, or the analytic or empirical kernel recomputed band by band and never
//! stored ("matrix-free").
//!
//! `K` is walked in bands of rows within a memory budget; each band's rows are multiplied
//! by the block `V` (`n × k`, `f64`) with `simd::rowdot::band_times_block`, whose every output entry is
//! one row's dot product in an order fixed by the row length. The bands of the matrix-free
//! sources are [`analytic_rows`] and [`empirical_rows`], which are bit for bit the rows of
//! [`crate::analytic()`] and [`crate::empirical()`]. So `K·V` is **bitwise independent of the
//! thread count and of the band size**, and equal across sources holding the same values:
//! the tests `operators_agree_bitwise` (tests/solve_operator.rs) hold all four to it.
//!
//! Memory: one band (`rows × n` values) plus `V` and the result; the band holds as many rows
//! as the budget allows, a multiple of [`BAND_ALIGN`] (and of the empirical tile).
//!
//! Shared among processes ([`KernelOperator::with_ranks`], e.g. MPI ranks): each rank owns a
//! contiguous block of the bands, computes (or reads) only those rows of `K·V`, and every
//! rank receives the whole product by an all-gather of the `rows × k` blocks, as bits. Each
//! entry is still one row's dot product in the same order, so the product, and every
//! iterate of a solver that computes its reductions from it on each rank, is **bitwise the
//! product of one process, for any rank count**.

use std::ops::Range;

use faer::Mat;

use crate::analytic::{AnalyticOptions, analytic, analytic_rows};
use crate::data::mapped_kernel::{BandValues, MappedKernel};
use crate::data::{PointValues, Points};
use crate::error::{Error, Result};
use crate::gram::out_of_core::{empirical_memory, rows_per_band};
use crate::gram::{EmpiricalOptions, Weights, empirical, empirical_rows};
use crate::model::Mlp;
use crate::parallel::Parallelism;
use crate::predict::Matrix;
use crate::ranks::{Ranks, row_blocks};
use crate::simd::rowdot::band_times_block;

/// Bands start at multiples of this many rows (only memory and scheduling depend on it).
pub const BAND_ALIGN: usize = 256;

/// Relative tolerance of the symmetry check: `|K_ij − K_ji| ≤ SYMMETRY_TOL·s` with
/// `s = max(|K_ij|, |K_ji|, √|K_ii·K_jj|)` (f32 rounding is `6e-8`).
pub const SYMMETRY_TOL: f64 = 1e-6;

/// Random pairs `(i, j)` checked for symmetry across bands of a file (the bands' diagonal
/// blocks are checked entirely).
pub const SYMMETRY_PROBES: usize = 4096;

/// A borrowed band of kernel rows, row-major.
#[derive(Clone, Copy)]
pub(crate) enum Band<'b> {
    F32(&'b [f32]),
    F64(&'b [f64]),
}

enum Source<'a> {
    Dense(&'a Matrix),
    Mapped(MappedKernel),
    Analytic {
        model: &'a Mlp,
        x1: &'a Points<'a>,
        x2: Option<&'a Points<'a>>,
        opts: AnalyticOptions,
    },
    Empirical {
        model: &'a Mlp,
        weights: Weights<'a>,
        x1: &'a Points<'a>,
        x2: Option<&'a Points<'a>>,
        opts: EmpiricalOptions,
    },
}

/// `V ↦ K·V` for an `n1 × n2` kernel `K` held in memory, in a file, or recomputed.
pub struct KernelOperator<'a> {
    source: Source<'a>,
    rows: usize,
    cols: usize,
    band_rows: usize,
    parallelism: Parallelism,
    name: String,
    ranks: Option<&'a dyn Ranks>,
}

impl std::fmt::Debug for KernelOperator<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KernelOperator")
            .field("name", &self.name)
            .field("rows", &self.rows)
            .field("cols", &self.cols)
            .field("band_rows", &self.band_rows)
            .finish_non_exhaustive()
    }
}

/// What a [`KernelOperator::scan`] found: the diagonal (square kernels) after checking
/// every value finite and the symmetry.
#[derive(Clone, Debug)]
pub struct Scan {
    /// `K_ii`, in order.
    pub diagonal: Vec<f64>,
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Rows per band within `budget` for `(fixed, per_row)` bytes, a multiple of `align`.
fn band_rows(n1: usize, align: usize, mem: (usize, usize), budget: usize) -> Result<usize> {
    rows_per_band(n1, align, mem, budget)
}

impl<'a> KernelOperator<'a> {
    /// A kernel held in memory (row-major, `n1 × n2`): one band.
    pub fn dense(k: &'a Matrix, parallelism: Parallelism) -> Result<Self> {
        k.check_len("kernel")?;
        Ok(KernelOperator {
            rows: k.rows,
            cols: k.cols,
            band_rows: k.rows.max(1),
            source: Source::Dense(k),
            parallelism,
            name: "kernel".into(),
            ranks: None,
        })
    }

    /// A `.npy` kernel file (f32 or f64, 2-D), streamed in bands of at most `budget` bytes
    /// (at least [`BAND_ALIGN`] rows, or all of them).
    pub fn mapped(
        path: impl AsRef<std::path::Path>,
        budget: usize,
        parallelism: Parallelism,
    ) -> Result<Self> {
        let m = MappedKernel::open(path)?;
        let (rows, cols) = m.shape();
        let per_row = cols * m.dtype().size();
        let band_rows = band_rows(rows, BAND_ALIGN, (0, per_row), budget)?;
        Ok(KernelOperator {
            name: m.path().display().to_string(),
            source: Source::Mapped(m),
            rows,
            cols,
            band_rows,
            parallelism,
            ranks: None,
        })
    }

    /// The analytic kernel of `model` between `x1` and `x2` (`x1 × x1` when `None`),
    /// recomputed band by band with [`analytic_rows`] on every product, never stored.
    /// `opts.full` must be off (the traced kernel).
    pub fn analytic(
        model: &'a Mlp,
        x1: &'a Points<'a>,
        x2: Option<&'a Points<'a>>,
        opts: AnalyticOptions,
        budget: usize,
    ) -> Result<Self> {
        check_matrix_free(model, x1, x2, opts.full)?;
        let (n1, n2) = (x1.rows(), x2.map_or(x1.rows(), |x| x.rows()));
        let pts = if x2.is_none() { n1 } else { n1 + n2 };
        // Both sides' inputs in f64 (copied per band) and one variance per point and layer.
        let fixed = pts * (2 * model.input_dim + model.depth() + 1) * 8;
        let band_rows = band_rows(n1, BAND_ALIGN, (fixed, n2 * 8 * 2), budget)?;
        Ok(KernelOperator {
            source: Source::Analytic {
                model,
                x1,
                x2,
                opts,
            },
            rows: n1,
            cols: n2,
            band_rows,
            parallelism: opts.parallelism,
            name: "analytic kernel".into(),
            ranks: None,
        })
    }

    /// The empirical kernel of `model` with `weights` between `x1` and `x2` (`x1 × x1` when
    /// `None`), recomputed band by band with [`empirical_rows`], never stored. `opts.full`
    /// must be off.
    pub fn empirical(
        model: &'a Mlp,
        weights: Weights<'a>,
        x1: &'a Points<'a>,
        x2: Option<&'a Points<'a>>,
        opts: EmpiricalOptions,
        budget: usize,
    ) -> Result<Self> {
        check_matrix_free(model, x1, x2, opts.full)?;
        if opts.tile == 0 {
            return Err(Error::invalid("tile", 0, "at least 1 row"));
        }
        let (n1, n2) = (x1.rows(), x2.map_or(x1.rows(), |x| x.rows()));
        let mem = empirical_memory(model, n1, n2, x2.is_none(), &opts);
        // Bands start at multiples of the tile (empirical_rows' contract) and of BAND_ALIGN.
        let align = BAND_ALIGN / gcd(BAND_ALIGN, opts.tile) * opts.tile;
        let band_rows = band_rows(n1, align, mem, budget)?;
        Ok(KernelOperator {
            source: Source::Empirical {
                model,
                weights,
                x1,
                x2,
                opts,
            },
            rows: n1,
            cols: n2,
            band_rows,
            parallelism: opts.parallelism,
            name: "empirical kernel".into(),
            ranks: None,
        })
    }

    /// Names the kernel in errors (a file's path by default).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Uses `parallelism` for the products (the matrix-free sources keep their own for the
    /// kernel's bands).
    pub fn with_parallelism(mut self, parallelism: Parallelism) -> Self {
        self.parallelism = parallelism;
        self
    }

    /// Sets the rows per band (rounded up to a multiple of the source's alignment): for
    /// tests of band-size independence and for callers with their own memory plan.
    pub fn with_band_rows(mut self, rows: usize) -> Self {
        let align = match &self.source {
            Source::Empirical { opts, .. } => opts.tile,
            _ => 1,
        };
        self.band_rows = rows.max(1).next_multiple_of(align).min(self.rows.max(1));
        self
    }

    /// Shares the operator's rows among `ranks` (see the module documentation): bands of at
    /// most `⌈n1 / ranks⌉` rows (rounded up to the source's alignment), a contiguous block
    /// of them per rank. Every product and scan is then collective.
    /// A matrix in memory is not shared (every rank holds it).
    pub fn with_ranks(mut self, ranks: &'a dyn Ranks) -> Self {
        if matches!(self.source, Source::Dense(_)) {
            return self;
        }
        let size = ranks.size().max(1);
        if size > 1 {
            let align = match &self.source {
                Source::Empirical { opts, .. } => {
                    BAND_ALIGN / gcd(BAND_ALIGN, opts.tile.max(1)) * opts.tile.max(1)
                }
                _ => BAND_ALIGN,
            };
            let share = self.rows.div_ceil(size).next_multiple_of(align).max(1);
            self.band_rows = self.band_rows.min(share);
        }
        self.ranks = Some(ranks);
        self
    }

    /// The bands `(first, count)` of each rank, in rank order.
    fn band_blocks(&self) -> Vec<(usize, usize)> {
        let all = self.rows.div_ceil(self.band_rows.max(1));
        match self.ranks {
            Some(r) => row_blocks(all, r.size()),
            None => vec![(0, all)],
        }
    }

    /// The rows of each rank (`(first row, rows)`), in rank order.
    fn row_shares(&self) -> Vec<(usize, usize)> {
        let b = self.band_rows.max(1);
        self.band_blocks()
            .into_iter()
            .map(|(first, count)| {
                let start = (first * b).min(self.rows);
                let end = ((first + count) * b).min(self.rows);
                (start, end - start)
            })
            .collect()
    }

    /// This rank's rows.
    fn own_rows(&self) -> Range<usize> {
        let me = self.ranks.map_or(0, |r| r.rank());
        let (start, len) = self.row_shares()[me];
        start..start + len
    }

    /// Every rank's local result (`per_row` values per row) joined in row order on every
    /// rank, after all agree that they succeeded; alone, `local` itself.
    fn gather(&self, local: Result<Vec<f64>>, per_row: usize) -> Result<Vec<f64>> {
        let Some(ranks) = self.ranks else {
            return local;
        };
        if let Some(r) = ranks.start(local.is_ok()) {
            local?;
            return Err(Error::invalid(
                "MPI rank",
                r,
                format!(
                    "every rank to compute its rows of {} (that rank failed)",
                    self.name
                ),
            ));
        }
        let counts: Vec<usize> = self
            .row_shares()
            .iter()
            .map(|&(_, len)| len * per_row)
            .collect();
        Ok(ranks.all_gather(&local?, &counts))
    }

    /// `(n1, n2)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// Rows per band.
    pub fn band_rows(&self) -> usize {
        self.band_rows
    }

    /// The name used in errors.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `true` for the analytic and empirical sources, which are symmetric by construction
    /// when square and hold only finite values.
    pub fn is_matrix_free(&self) -> bool {
        matches!(
            self.source,
            Source::Analytic { .. } | Source::Empirical { .. }
        )
    }

    fn bands(&self) -> impl Iterator<Item = Range<usize>> + '_ {
        let b = self.band_rows.max(1);
        let me = self.ranks.map_or(0, |r| r.rank());
        let (first, count) = self.band_blocks()[me];
        (first..first + count).map(move |i| i * b..((i + 1) * b).min(self.rows))
    }

    /// Calls `f(rows, band)` for every band of this rank in order.
    pub(crate) fn for_each_band(
        &self,
        mut f: impl FnMut(Range<usize>, Band<'_>) -> Result<()>,
    ) -> Result<()> {
        let bands: Vec<Range<usize>> = self.bands().collect();
        for (i, rows) in bands.iter().enumerate() {
            let rows = rows.clone();
            match &self.source {
                Source::Dense(m) => f(
                    rows.clone(),
                    Band::F64(&m.data[rows.start * m.cols..rows.end * m.cols]),
                )?,
                Source::Mapped(m) => {
                    if let Some(next) = bands.get(i + 1) {
                        m.prefetch(next.clone());
                    }
                    m.with_band(rows.clone(), |b| match b {
                        BandValues::F32(v) => f(rows.clone(), Band::F32(&v)),
                        BandValues::F64(v) => f(rows.clone(), Band::F64(&v)),
                    })?
                }
                Source::Analytic {
                    model,
                    x1,
                    x2,
                    opts,
                } => {
                    let k = analytic_rows(model, x1, *x2, rows.clone(), opts)?;
                    f(rows, Band::F64(&k.data))?
                }
                Source::Empirical {
                    model,
                    weights,
                    x1,
                    x2,
                    opts,
                } => {
                    let k = empirical_rows(model, *weights, x1, *x2, rows.clone(), opts)?;
                    f(rows, Band::F64(&k.data))?
                }
            }
        }
        Ok(())
    }

    /// `K·V` for `V` of `n2 × k` (column-major), in `f64`.
    pub(crate) fn apply_mat(&self, v: &Mat<f64>) -> Result<Mat<f64>> {
        if v.nrows() != self.cols {
            return Err(Error::DimensionMismatch {
                what: format!("rows of the block multiplied by {}", self.name),
                expected: self.cols,
                got: v.nrows(),
            });
        }
        let k = v.ncols();
        let cols: Vec<Vec<f64>> = (0..k)
            .map(|c| (0..self.cols).map(|j| v[(j, c)]).collect())
            .collect();
        let refs: Vec<&[f64]> = cols.iter().map(|c| c.as_slice()).collect();
        let own = self.own_rows();
        let mut local = vec![0.0; own.len() * k];
        let n = self.cols;
        let done = self
            .parallelism
            .install(|| {
                self.for_each_band(|rows, band| {
                    let o = &mut local[(rows.start - own.start) * k..(rows.end - own.start) * k];
                    match band {
                        Band::F32(b) => band_times_block(b, n, &refs, o),
                        Band::F64(b) => band_times_block(b, n, &refs, o),
                    }
                    Ok(())
                })
            })
            .and_then(|r| r);
        let out = self.gather(done.map(|()| local), k)?;
        Ok(Mat::from_fn(self.rows, k, |i, c| out[i * k + c]))
    }

    /// `K·V` for `V` of `n2 × k`: every entry a dot product of one row of `K` with one
    /// column of `V` in the fixed order of `band_times_block`.
    pub fn apply(&self, v: &Matrix) -> Result<Matrix> {
        v.check_len("block")?;
        let r = self.apply_mat(&v.to_faer())?;
        Ok(Matrix::from_faer(r.as_ref()))
    }

    /// One pass over a square kernel: every value finite, symmetric within
    /// [`SYMMETRY_TOL`] (checked entirely for a matrix in memory; for a file, on each band's
    /// diagonal block and at [`SYMMETRY_PROBES`] random pairs), and the diagonal, read.
    /// The matrix-free sources are symmetric and finite by construction; their diagonal
    /// costs one pass of recomputation.
    pub fn scan(&self) -> Result<Scan> {
        if self.rows != self.cols {
            return Err(Error::DimensionMismatch {
                what: format!("{}: number of columns (a kernel must be square)", self.name),
                expected: self.rows,
                got: self.cols,
            });
        }
        let n = self.rows;
        let check = !self.is_matrix_free();
        let mut diagonal = vec![0.0; n];
        let pass = self.parallelism.install(|| {
            self.for_each_band(|rows, band| {
                let get = |i: usize, j: usize| match band {
                    Band::F32(b) => b[(i - rows.start) * n + j] as f64,
                    Band::F64(b) => b[(i - rows.start) * n + j],
                };
                for i in rows.clone() {
                    diagonal[i] = get(i, i);
                }
                if !check {
                    return Ok(());
                }
                let bad = match band {
                    Band::F32(b) => first_non_finite(b, n),
                    Band::F64(b) => first_non_finite(b, n),
                };
                if let Some((r, c, value)) = bad {
                    return Err(Error::NonFinite {
                        what: self.name.clone(),
                        row: rows.start + r,
                        col: c,
                        value,
                    });
                }
                // The diagonal block entirely, in 64 × 64 tiles so that `[j, i]` is read
                // from cache (row by row it is a cache miss per pair: 10 minutes for a
                // 41 216-row band); in memory, everything left of it too.
                const T: usize = 64;
                for bi in rows.clone().step_by(T) {
                    for bj in (rows.start..=bi).step_by(T) {
                        for i in bi..(bi + T).min(rows.end) {
                            for j in bj..(bj + T).min(i) {
                                self.check_pair(i, j, get(i, j), get(j, i), &diagonal)?;
                            }
                        }
                    }
                }
                if let Source::Dense(m) = &self.source {
                    for i in rows.clone() {
                        for j in 0..rows.start {
                            self.check_pair(i, j, get(i, j), m.data[j * n + i], &diagonal)?;
                        }
                    }
                }
                Ok(())
            })
        });
        let own = self.own_rows();
        let local = pass.and_then(|r| r).map(|()| diagonal[own].to_vec());
        let diagonal = self.gather(local, 1)?;
        if let Source::Mapped(m) = &self.source {
            let mut state = 0x9e37_79b9_7f4a_7c15_u64;
            for _ in 0..SYMMETRY_PROBES.min(n * n) {
                let i = (splitmix(&mut state) % n as u64) as usize;
                let j = (splitmix(&mut state) % n as u64) as usize;
                self.check_pair(i, j, m.get(i, j), m.get(j, i), &diagonal)?;
            }
        }
        Ok(Scan { diagonal })
    }

    fn check_pair(&self, i: usize, j: usize, a: f64, b: f64, diag: &[f64]) -> Result<()> {
        let scale = a.abs().max(b.abs()).max((diag[i] * diag[j]).abs().sqrt());
        if (a - b).abs() > SYMMETRY_TOL * scale {
            return Err(Error::NotSymmetric {
                what: self.name.clone(),
                row: i,
                col: j,
                a,
                b,
            });
        }
        Ok(())
    }

    /// Rows `idx` of a square kernel, row-major `idx.len() × n`. The matrix-free sources
    /// compute them as the kernel between the points `idx` and all points (the general
    /// `x1 × x2` path: bitwise equal to the symmetric rows where checked, analytic and
    /// empirical, but not promised by their contracts): for preconditioners only.
    pub(crate) fn rows_at(&self, idx: &[usize]) -> Result<Vec<f64>> {
        let n = self.cols;
        match &self.source {
            Source::Dense(m) => Ok(idx
                .iter()
                .flat_map(|&i| m.data[i * n..(i + 1) * n].iter().copied())
                .collect()),
            Source::Mapped(m) => {
                let mut out = Vec::with_capacity(idx.len() * n);
                for &i in idx {
                    m.with_band(i..i + 1, |b| match b {
                        BandValues::F32(v) => out.extend(v.iter().map(|&x| x as f64)),
                        BandValues::F64(v) => out.extend_from_slice(&v),
                    });
                }
                Ok(out)
            }
            Source::Analytic {
                model, x1, opts, ..
            } => with_subset(
                x1,
                idx,
                |sub| Ok(analytic(model, sub, Some(x1), opts)?.data),
            ),
            Source::Empirical {
                model,
                weights,
                x1,
                opts,
                ..
            } => with_subset(x1, idx, |sub| {
                Ok(empirical(model, *weights, sub, Some(x1), opts)?.data)
            }),
        }
    }
}

/// Calls `f` with the points `idx` of `x`, in their precision.
fn with_subset<R>(
    x: &Points<'_>,
    idx: &[usize],
    f: impl FnOnce(&Points<'_>) -> Result<R>,
) -> Result<R> {
    let d = x.cols();
    match x.values() {
        PointValues::F32(v) => {
            let g: Vec<f32> = idx
                .iter()
                .flat_map(|&i| v[i * d..(i + 1) * d].iter().copied())
                .collect();
            f(&Points::from_f32(&g, idx.len(), d)?)
        }
        PointValues::F64(v) => {
            let g: Vec<f64> = idx
                .iter()
                .flat_map(|&i| v[i * d..(i + 1) * d].iter().copied())
                .collect();
            f(&Points::from_f64(&g, idx.len(), d)?)
        }
    }
}

/// The first non-finite value of a band of rows of length `n`: `(row, col, value)`.
fn first_non_finite<T: crate::scalar::Real>(b: &[T], n: usize) -> Option<(usize, usize, f64)> {
    use rayon::prelude::*;
    b.par_chunks(n).enumerate().find_map_first(|(r, row)| {
        row.iter()
            .position(|v| !v.is_finite())
            .map(|c| (r, c, row[c].f64()))
    })
}

/// SplitMix64: the probe positions (fixed, so a check is reproducible).
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
/// The checks both matrix-free sources make: a valid model, inputs of its dimension, and
/// the traced kernel (predictions need `k_train_train` as `n × n`).
fn check_matrix_free(
    model: &Mlp,
    x1: &Points<'_>,
    x2: Option<&Points<'_>>,
    full: bool,
) -> Result<()> {
    model.validate()?;
    model.check_inputs(x1, x2)?;
    if full {
        return Err(Error::invalid(
            "full",
            true,
            "the traced kernel for predictions",
        ));
    }
    Ok(())
}
