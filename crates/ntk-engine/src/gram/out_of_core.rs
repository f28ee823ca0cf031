//! Kernels larger than memory: the Gram matrix computed in bands of rows, each band written
//! into a memory-mapped `.npy` file ([`KernelFile`]) and dropped, within a memory budget.
//!
//! Bands are [`empirical_rows`] calls, so the file holds the same bits as the in-memory
//! kernel (the analytic writer, [`crate::analytic::out_of_core`], uses the same bands). The budget covers the engine's working memory (features, weights, accumulators)
//! and the band itself, estimated by [`empirical_memory`]; the rows per band are the most
//! that fit, a multiple of the tile.

use super::{EmpiricalOptions, Kernel, KernelKind, Precision, Schedule, Weights, empirical_rows};
use crate::data::Points;
use crate::data::kernel_file::KernelFile;
use crate::data::npy::Dtype;
use crate::data::safe_file::{self, Output};
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
    let s: usize = match opts.precision {
        Precision::F32 => 4,
        Precision::F64 => 8,
    };
    // Saturating throughout: an estimate too large to represent is `usize::MAX`, which no
    // budget and no machine affords, so it is refused instead of wrapping to a small number.
    let mul = |a: usize, b: usize| a.saturating_mul(b);
    let k = model.outputs;
    let ntk = opts.kind == KernelKind::Ntk;
    let out_entries = if opts.full { mul(k, k) } else { 1 };
    let pts = if symmetric { n1 } else { n1.saturating_add(n2) };
    // The band's kernel, the tiles before they are scattered, and the f32/f64 conversion.
    let mut per_row = mul(mul(n2, out_entries), 16);
    let streamed = match opts.schedule {
        Schedule::Auto => model.depth() == 1,
        Schedule::Stored => false,
        Schedule::Streamed => true,
    };
    // The parameters must be representable even when they are never all stored.
    let params: usize = (0..=model.depth())
        .map(|l| {
            let (i, o) = model.layer_shape(l);
            mul(mul(i, o).saturating_add(o), 8 + s)
        })
        .fold(0, usize::saturating_add);
    let fixed = if streamed {
        // Accumulators per tile (a symmetric band also holds the tiles right of it).
        let acc = 1 + if ntk { out_entries } else { 0 };
        per_row = per_row.saturating_add(mul(mul(mul(n2, acc), 8), if symmetric { 2 } else { 1 }));
        let c = opts.chunk.min(
            model
                .width(1)
                .checked_next_multiple_of(super::tile::REDUCE_BLOCK)
                .unwrap_or(usize::MAX),
        );
        let d = model.input_dim;
        let per_chunk = mul(mul(mul(pts, c), k.saturating_add(2)), s)
            .saturating_add(mul(mul(c, d), 16 + s))
            .saturating_add(mul(mul(c, k), 8 + s));
        if params == usize::MAX {
            usize::MAX
        } else {
            per_chunk
        }
    } else {
        let widths: usize = (0..=model.depth())
            .map(|l| model.width(l))
            .fold(0, usize::saturating_add);
        let deltas = mul(
            (1..=model.depth())
                .map(|l| model.width(l))
                .fold(0, usize::saturating_add),
            k,
        );
        let per_pt = widths.saturating_add(if ntk { mul(2, deltas) } else { 0 });
        mul(mul(pts, per_pt), s).saturating_add(params)
    };
    // Per-thread tile scratch and layer Grams.
    let threads = rayon::current_num_threads().max(1);
    let tile = mul(
        mul(
            mul(opts.tile, opts.tile),
            s + 8 * (2 + 2 * out_entries.min(1 << 20)),
        ),
        threads,
    );
    (fixed.saturating_add(tile), per_row)
}

/// Rows per band within `budget` bytes: the most that fit, a multiple of `tile`.
pub fn rows_per_band(
    n1: usize,
    tile: usize,
    (fixed, per_row): (usize, usize),
    budget: usize,
) -> Result<usize> {
    let need = fixed.saturating_add(tile.min(n1).saturating_mul(per_row));
    if need == usize::MAX {
        return Err(Error::invalid(
            "job size",
            "more than 2^64 bytes",
            "a job whose memory can be represented (the parameter count or working memory \
             overflows 64 bits; reduce the widths, outputs or points)",
        ));
    }
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
    let tile = tile.max(1);
    Ok((rows / tile * tile).clamp(tile.min(n1), n1.max(1)))
}

/// Where and how a kernel is written in bands.
#[derive(Clone, Copy)]
pub struct BandedOutput<'a> {
    /// The output file (checked, see [`Output::new`]).
    pub out: &'a Output,
    /// The file's element type, f32 or f64.
    pub dtype: Dtype,
    /// The memory budget in bytes (capped at the memory available).
    pub budget: usize,
    /// Everything the values depend on, for `resume` to check.
    pub job_key: &'a str,
    /// Continue an interrupted run from its finished bands.
    pub resume: bool,
    /// Called after the last band and before the file is renamed into place (the CLI checks
    /// there that its inputs did not change during the run).
    pub before_commit: Option<&'a (dyn Fn() -> Result<()> + Sync)>,
    /// Share the bands among cooperating processes (see [`super::ranked`]); `None`: this
    /// process writes them all.
    pub ranks: Option<&'a dyn crate::ranks::Ranks>,
    /// Each band computes only its part of the triangle of a symmetric kernel (the
    /// entries `j ≥ i` of its rows), so that band `[a, b)` costs `Σ (n1 − i)`: ranks then
    /// balance by that cost (see [`crate::ranks::band_cost`]). Set by a band writer that
    /// does so; the writers here compute every entry of a band's rows (uniform costs).
    pub triangle: bool,
    /// Bands chosen for ranks start at multiples of this many rows (the empirical tile;
    /// set by [`write_empirical`]).
    pub align: usize,
}

impl std::fmt::Debug for BandedOutput<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BandedOutput")
            .field("out", &self.out.path())
            .field("dtype", &self.dtype)
            .field("budget", &self.budget)
            .field("resume", &self.resume)
            .finish()
    }
}

impl<'a> BandedOutput<'a> {
    /// An output with the given settings and no check before the commit.
    pub fn new(
        out: &'a Output,
        dtype: Dtype,
        budget: usize,
        job_key: &'a str,
        resume: bool,
    ) -> Self {
        BandedOutput {
            out,
            dtype,
            budget,
            job_key,
            resume,
            before_commit: None,
            ranks: None,
            triangle: false,
            align: 1,
        }
    }
}

/// Rows per band within the budget and the memory available: [`rows_per_band`] with the
/// budget capped at what the system reports available, and an error that says so.
pub(crate) fn rows_within_memory(
    n1: usize,
    tile: usize,
    mem: (usize, usize),
    budget: usize,
) -> Result<usize> {
    let available = safe_file::available_memory().unwrap_or(usize::MAX);
    if budget <= available {
        return rows_per_band(n1, tile, mem, budget);
    }
    rows_per_band(n1, tile, mem, available).map_err(|_| {
        let need = mem.0.saturating_add(tile.min(n1).saturating_mul(mem.1));
        Error::invalid(
            "memory",
            format!("{need} bytes needed"),
            format!(
                "a job that fits in the {available} bytes of memory available (one band of {} rows \
                 needs {need})",
                tile.min(n1)
            ),
        )
    })
}

/// Writes `band(rows)` for consecutive bands of `rows_per_band` rows into the `.npy` file
/// `out` (shape `[n1, rest…]`), skipping bands a resumed run already wrote. The file appears
/// only when complete; on any error (a band that fails, a non-finite entry, a failed
/// `before_commit` check) the partial files are removed.
pub fn write_in_bands(
    out: &BandedOutput<'_>,
    shape: &[usize],
    rows_per_band: usize,
    mut band: impl FnMut(core::ops::Range<usize>) -> Result<Kernel>,
) -> Result<(usize, usize)> {
    if let Some(ranks) = out.ranks {
        return super::ranked::write_in_bands(ranks, out, shape, rows_per_band, band);
    }
    write_bands(out, shape, rows_per_band, BandOrder::Forward, |r, _| {
        band(r)
    })
}

/// The order in which [`write_bands`] computes the bands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BandOrder {
    /// First band first.
    Forward,
    /// Last band first: a band may then read back the rows of every later band (the
    /// symmetric analytic writer fills a band's upper part from them).
    Reverse,
}

/// [`write_in_bands`] in one process, in the given `order`, where `band(rows, file)` may
/// read finished bands back from the partial file ([`KernelFile::read_block`]). Returns
/// `(bands, resumed)`. Bands shared among ranks (`out.ranks`) go through
/// [`write_in_bands`], whose bands depend on the inputs alone; this function refuses them.
pub fn write_bands(
    out: &BandedOutput<'_>,
    shape: &[usize],
    rows_per_band: usize,
    order: BandOrder,
    mut band: impl FnMut(core::ops::Range<usize>, &KernelFile) -> Result<Kernel>,
) -> Result<(usize, usize)> {
    let why = "one process (bands that read each other back are not shared among ranks)";
    let mut file = own_file(out, shape, rows_per_band, why)?;
    let n1 = shape[0];
    let bands = n1.div_ceil(rows_per_band.max(1)).max(1);
    let resumed = file.done_count();
    for i in 0..bands {
        let b = match order {
            BandOrder::Forward => i,
            BandOrder::Reverse => bands - 1 - i,
        };
        if file.is_done(b) {
            continue;
        }
        let rows = b * rows_per_band..((b + 1) * rows_per_band).min(n1);
        let k = band(rows.clone(), &file)?;
        file.write_band(b, rows.start, &k.data)?;
    }
    if let Some(check) = out.before_commit {
        check()?;
    }
    file.commit()?;
    Ok((bands, resumed))
}

/// The kernel file of a writer that runs in one process: bands shared among ranks are
/// refused with `why` (what the writer needs).
fn own_file(
    out: &BandedOutput<'_>,
    shape: &[usize],
    rows_per_band: usize,
    why: &str,
) -> Result<KernelFile> {
    if out.ranks.is_some() {
        return Err(Error::invalid(
            "band writer",
            "bands shared among ranks",
            why,
        ));
    }
    KernelFile::create(
        out.out,
        shape,
        out.dtype,
        rows_per_band,
        out.job_key,
        out.resume,
    )
}

/// Writes a kernel whose bands `produce` hands over in any order, each once, while it
/// computes the others: `produce(check, sink)` calls `check(rows, values)` on each band as
/// it is computed (the finiteness check of [`KernelFile::write_band`]) and
/// `sink(rows, values)` with each final band of `rows_per_band` rows (the last may be
/// shorter), which writes it at once. Bands a resumed run finished are not written again.
/// As [`write_in_bands`], the file appears only when complete and is removed on any error.
/// Returns `(bands, resumed)`.
pub(crate) fn write_streamed(
    out: &BandedOutput<'_>,
    shape: &[usize],
    rows_per_band: usize,
    produce: impl FnOnce(
        &crate::analytic::BandCheck<'_>,
        &mut crate::analytic::BandSink<'_>,
    ) -> Result<()>,
) -> Result<(usize, usize)> {
    let rows_per_band = rows_per_band.max(1);
    let why = "one process (a kernel computed whole is not shared among ranks)";
    let mut file = own_file(out, shape, rows_per_band, why)?;
    let bands = shape[0].div_ceil(rows_per_band).max(1);
    let resumed = file.done_count();
    let writer = file.band_writer()?;
    let check =
        |rows: core::ops::Range<usize>, values: &[f64]| writer.check_finite(rows.start, values);
    let file_ref = &mut file;
    // Each band's bytes are synced by a thread of its own as the next bands are computed:
    // the commit's `fsync` then finds little left to wait for (the disk here flushes
    // ~300–500 MB/s, and a 5000² kernel is 200 MB).
    let (sync_tx, sync_rx) = std::sync::mpsc::channel::<()>();
    let (produced, synced) = std::thread::scope(|scope| {
        let writer = &writer;
        let syncer = scope.spawn(move || -> Result<()> {
            while sync_rx.recv().is_ok() {
                while sync_rx.try_recv().is_ok() {}
                writer.sync()?;
            }
            Ok(())
        });
        let mut sink = move |rows: core::ops::Range<usize>, values: &[f64]| -> Result<()> {
            let b = rows.start / rows_per_band;
            if !file_ref.is_done(b) {
                let sum = writer.write(rows.start, values)?;
                file_ref.record_band(b, sum)?;
                // A stopped syncer reports its error when joined.
                let _ = sync_tx.send(());
            }
            Ok(())
        };
        let produced = produce(&check, &mut sink);
        drop(sink);
        (produced, syncer.join())
    });
    produced?;
    synced.map_err(|_| {
        Error::invalid("kernel file sync", "a panic", "a sync thread that returns")
    })??;
    if let Some(b) = file.done().iter().position(|d| !d) {
        return Err(Error::invalid(
            "kernel producer",
            format!("band {b} never handed over"),
            "every band handed over once",
        ));
    }
    if let Some(check) = out.before_commit {
        check()?;
    }
    file.commit()?;
    Ok((bands, resumed))
}

/// The empirical kernel written to `path` in bands within `budget` bytes (output in `dtype`,
/// f32 or f64), identical to writing [`super::empirical`]'s result.
pub fn write_empirical(
    model: &Mlp,
    weights: Weights<'_>,
    x1: &Points<'_>,
    x2: Option<&Points<'_>>,
    opts: &EmpiricalOptions,
    out: &BandedOutput<'_>,
) -> Result<BandReport> {
    let budget = out.budget;
    let n1 = x1.rows();
    let n2 = x2.map_or(n1, |x| x.rows());
    // A streamed run trades chunk width for memory: halve it until one band fits.
    let mut opts = *opts;
    let mut mem = empirical_memory(model, n1, n2, x2.is_none(), &opts);
    while mem
        .0
        .saturating_add(opts.tile.min(n1).saturating_mul(mem.1))
        > budget
        && opts.chunk > super::tile::REDUCE_BLOCK
    {
        opts.chunk = (opts.chunk / 2).next_multiple_of(super::tile::REDUCE_BLOCK);
        mem = empirical_memory(model, n1, n2, x2.is_none(), &opts);
    }
    let opts = &opts;
    let rows = rows_within_memory(n1, opts.tile, mem, budget)?;
    let k = model.outputs;
    let shape = if opts.full && k > 1 {
        vec![n1, n2, k, k]
    } else {
        vec![n1, n2]
    };
    let out = &BandedOutput {
        align: opts.tile,
        ..*out
    };
    let (bands, resumed) = write_in_bands(out, &shape, rows, |r| {
        empirical_rows(model, weights, x1, x2, r, opts)
    })?;
    Ok(BandReport {
        rows_per_band: rows,
        bands,
        resumed,
        estimated_bytes: mem.0.saturating_add(rows.saturating_mul(mem.1)),
    })
}

/// A safe default budget: half of the memory the system reports available
/// (`MemAvailable` in `/proc/meminfo`), or 2 GiB where that cannot be read.
pub fn default_memory_budget() -> usize {
    safe_file::available_memory().map_or(2 << 30, |b| b / 2)
}

pub use crate::analytic::out_of_core::write_analytic;
