//! Kernels larger than memory: the Gram matrix computed in bands of rows, each band written
//! into a memory-mapped `.npy` file ([`KernelFile`]) and dropped, within a memory budget.
//!
//! Bands are [`empirical_rows`] calls, so the file holds the same bits as the in-memory
//! kernel. The budget covers the engine's working memory (features, weights, accumulators)
//! and the band itself, estimated by [`empirical_memory`]; the rows per band are the most
//! that fit, a multiple of the tile.

use std::path::Path;

use super::{EmpiricalOptions, Kernel, KernelKind, Precision, Schedule, Weights, empirical_rows};
use crate::data::Points;
use crate::data::kernel_file::KernelFile;
use crate::data::npy::Dtype;
use crate::error::{Error, Result};
use crate::model::Mlp;

/// What a banded write did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BandReport {
    /// Rows per band.
    pub rows_per_band: usize,
    /// Number of bands.
    pub bands: usize,
    /// Bands found finished by a resumed run and skipped.
    pub resumed: usize,
    /// The engine's estimated peak working memory, bytes.
    pub estimated_bytes: usize,
}

/// The engine's working memory for a band of `rows` rows of the empirical kernel, in bytes:
/// `(fixed, per_row)`, so that a band of `r` rows needs about `fixed + r·per_row`.
pub fn empirical_memory(
    model: &Mlp,
    n1: usize,
    n2: usize,
    symmetric: bool,
    opts: &EmpiricalOptions,
) -> (usize, usize) {
    let s = match opts.precision {
        Precision::F32 => 4,
        Precision::F64 => 8,
    };
    let k = model.outputs;
    let ntk = opts.kind == KernelKind::Ntk;
    let out_entries = if opts.full { k * k } else { 1 };
    let pts = if symmetric { n1 } else { n1 + n2 };
    // The band's kernel, the tiles before they are scattered, and the f32/f64 conversion.
    let mut per_row = n2 * out_entries * 8 * 2;
    let streamed = match opts.schedule {
        Schedule::Auto => model.depth() == 1,
        Schedule::Stored => false,
        Schedule::Streamed => true,
    };
    let fixed = if streamed {
        // Accumulators per tile (a symmetric band also holds the tiles right of it).
        per_row += n2 * (1 + if ntk { out_entries } else { 0 }) * 8 * if symmetric { 2 } else { 1 };
        let c = opts
            .chunk
            .min(model.width(1).next_multiple_of(super::tile::REDUCE_BLOCK));
        let d = model.input_dim;
        pts * c * (2 + k) * s + c * d * (2 * 8 + s) + c * k * (8 + s)
    } else {
        let widths: usize = (0..=model.depth()).map(|l| model.width(l)).sum();
        let deltas: usize = (1..=model.depth()).map(|l| model.width(l)).sum::<usize>() * k;
        let params: usize = (0..=model.depth())
            .map(|l| {
                let (i, o) = model.layer_shape(l);
                (i * o + o) * (8 + s)
            })
            .sum();
        pts * (widths + if ntk { 2 * deltas } else { 0 }) * s + params
    };
    // Per-thread tile scratch and layer Grams.
    let threads = rayon::current_num_threads().max(1);
    let tile = opts.tile * opts.tile * (s + 8 * (2 + 2 * out_entries)) * threads;
    (fixed + tile, per_row)
}

/// Rows per band within `budget` bytes: the most that fit, a multiple of `tile`.
pub fn rows_per_band(
    n1: usize,
    tile: usize,
    (fixed, per_row): (usize, usize),
    budget: usize,
) -> Result<usize> {
    let need = fixed + tile.min(n1) * per_row;
    if need > budget {
        return Err(Error::invalid(
            "memory budget",
            format!("{budget} bytes"),
            format!(
                "at least {need} bytes for this job (one band of {} rows)",
                tile.min(n1)
            ),
        ));
    }
    let rows = (budget - fixed) / per_row.max(1);
    Ok((rows / tile * tile).clamp(tile.min(n1), n1.max(1)))
}

/// Writes `band(rows)` for consecutive bands of `rows_per_band` rows into the `.npy` file
/// `path` (shape `[n1, rest…]`), skipping bands a resumed run already wrote. The file
/// appears only when complete; on an error the partial files are removed unless the error
/// came from a band computation that a resume can retry.
#[allow(clippy::too_many_arguments)]
pub fn write_in_bands(
    path: &Path,
    shape: &[usize],
    dtype: Dtype,
    rows_per_band: usize,
    job_key: &str,
    resume: bool,
    mut band: impl FnMut(core::ops::Range<usize>) -> Result<Kernel>,
) -> Result<(usize, usize)> {
    let n1 = shape[0];
    let bands = n1.div_ceil(rows_per_band).max(1);
    let mut file = KernelFile::create(path, shape, dtype, bands, job_key, resume)?;
    let resumed = file.done_count();
    for b in 0..bands {
        if file.is_done(b) {
            continue;
        }
        let rows = b * rows_per_band..((b + 1) * rows_per_band).min(n1);
        let k = match band(rows.clone()) {
            Ok(k) => k,
            Err(e) => {
                file.abandon();
                return Err(e);
            }
        };
        if let Err(e) = file.write_band(b, rows.start, &k.data) {
            file.abandon();
            return Err(e);
        }
    }
    file.commit()?;
    Ok((bands, resumed))
}

/// The empirical kernel written to `path` in bands within `budget` bytes (output in `dtype`,
/// f32 or f64), identical to writing [`super::empirical`]'s result.
#[allow(clippy::too_many_arguments)]
pub fn write_empirical(
    model: &Mlp,
    weights: Weights<'_>,
    x1: &Points<'_>,
    x2: Option<&Points<'_>>,
    opts: &EmpiricalOptions,
    path: &Path,
    dtype: Dtype,
    budget: usize,
    job_key: &str,
    resume: bool,
) -> Result<BandReport> {
    let n1 = x1.rows();
    let n2 = x2.map_or(n1, |x| x.rows());
    // A streamed run trades chunk width for memory: halve it until one band fits.
    let mut opts = *opts;
    let mut mem = empirical_memory(model, n1, n2, x2.is_none(), &opts);
    while mem.0 + opts.tile.min(n1) * mem.1 > budget && opts.chunk > super::tile::REDUCE_BLOCK {
        opts.chunk = (opts.chunk / 2).next_multiple_of(super::tile::REDUCE_BLOCK);
        mem = empirical_memory(model, n1, n2, x2.is_none(), &opts);
    }
    let opts = &opts;
    let rows = rows_per_band(n1, opts.tile, mem, budget)?;
    let k = model.outputs;
    let shape = if opts.full && k > 1 {
        vec![n1, n2, k, k]
    } else {
        vec![n1, n2]
    };
    let (bands, resumed) = write_in_bands(path, &shape, dtype, rows, job_key, resume, |r| {
        empirical_rows(model, weights, x1, x2, r, opts)
    })?;
    Ok(BandReport {
        rows_per_band: rows,
        bands,
        resumed,
        estimated_bytes: mem.0 + rows * mem.1,
    })
}

/// A safe default budget: half of the memory the system reports available
/// (`MemAvailable` in `/proc/meminfo`), or 2 GiB where that cannot be read.
pub fn default_memory_budget() -> usize {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("MemAvailable:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<usize>().ok())
        })
        .map_or(2 << 30, |kb| kb * 1024 / 2)
}

/// The analytic kernel written to `path` in bands within `budget` bytes, identical to
/// writing [`crate::analytic::analytic`]'s result.
#[allow(clippy::too_many_arguments)]
pub fn write_analytic(
    model: &Mlp,
    x1: &Points<'_>,
    x2: Option<&Points<'_>>,
    opts: &crate::analytic::AnalyticOptions,
    path: &Path,
    dtype: Dtype,
    budget: usize,
    job_key: &str,
    resume: bool,
) -> Result<BandReport> {
    let n1 = x1.rows();
    let n2 = x2.map_or(n1, |x| x.rows());
    let k = if opts.full { model.outputs } else { 1 };
    // Inputs in f64 and one variance per point and layer, for both sides.
    let pts = if x2.is_none() { n1 } else { n1 + n2 };
    let fixed = pts * (model.input_dim + model.depth()) * 8;
    let per_row = n2 * k * k * 8 * 2;
    let rows = rows_per_band(n1, 64, (fixed, per_row), budget)?;
    let shape = if opts.full && k > 1 {
        vec![n1, n2, k, k]
    } else {
        vec![n1, n2]
    };
    let (bands, resumed) = write_in_bands(path, &shape, dtype, rows, job_key, resume, |r| {
        crate::analytic::analytic_rows(model, x1, x2, r, opts)
    })?;
    Ok(BandReport {
        rows_per_band: rows,
        bands,
        resumed,
        estimated_bytes: fixed + rows * per_row,
    })
}
