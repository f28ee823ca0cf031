//! Empirical (finite-width) NTK and NNGP Gram matrices, never forming a Jacobian.
//!
//! A dense layer's Jacobian is an outer product, so its share of the NTK factorises into two
//! Gram matrices of activations (Novak, Sohl-Dickstein & Schoenholz 2022, "Fast Finite Width
//! Neural Tangent Kernel", the "structured derivatives" rule for dense layers):
//!
//! ```text
//! Θ(x, x')[a, b] = Σ_{l=0..L} (s_W(l)²·h_l(x)·h_l(x') + s_b(l)²) · δ_l(x)[a]·δ_l(x')[b]
//! ```
//!
//! with `h_l` the layer's input, `δ_l = ∂f/∂z_l` back-propagated through the same scales,
//! and `δ_L = I` for the readout. The empirical NNGP is the output covariance over the
//! readout's initialisation given the last hidden features,
//! `K̂(x, x') = W_std²·h_L(x)·h_L(x')/m_L + b_std²`.
//!
//! Two schedules compute the same sums ([`stored`] and [`streamed`]): both cut the output
//! into tiles fixed by the problem size and reduce over neurons in fixed blocks
//! (`tile::REDUCE_BLOCK`), so results are bit-identical for any number of threads (and, in
//! `f32`, for any tile size: `simd::gemm`).

pub(crate) mod cost;
pub use cost::empirical_flops;
pub(crate) mod features;
mod kernel_io;
pub mod out_of_core;
pub mod ranked;
pub mod stored;
pub mod streamed;
pub(crate) mod tile;
pub mod two_layer_relu;

use core::sync::atomic::{AtomicBool, Ordering};

use faer::Mat;
use rayon::prelude::*;

use crate::data::Points;
use crate::error::{Error, Result};
use crate::model::Mlp;
use crate::parallel::Parallelism;
use crate::params::Params;

/// Which kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum KernelKind {
    /// The neural tangent kernel.
    #[default]
    Ntk,
    /// The NNGP kernel (output covariance at initialisation).
    Nngp,
}

impl core::str::FromStr for KernelKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ntk" => Ok(KernelKind::Ntk),
            "nngp" => Ok(KernelKind::Nngp),
            _ => Err(Error::invalid("kind", s, "ntk or nngp")),
        }
    }
}

/// The precision of the inner products. `F32` accumulates each neuron block's partial sums
/// in `f64`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Precision {
    /// Single precision products, `f64` accumulation.
    #[default]
    F32,
    /// Double precision throughout.
    F64,
}

impl core::str::FromStr for Precision {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "f32" | "float32" => Ok(Precision::F32),
            "f64" | "float64" => Ok(Precision::F64),
            _ => Err(Error::invalid("dtype", s, "f32 or f64")),
        }
    }
}

/// The weights of the network: drawn from a seed (regenerable chunk by chunk), or given.
#[derive(Clone, Copy, Debug)]
pub enum Weights<'a> {
    /// The seeded initialisation of `init`.
    Seeded(u64),
    /// Explicit parameters (checked against the model).
    Explicit(&'a Params),
}

/// Which schedule computes the sums.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Schedule {
    /// [`Schedule::Streamed`] for one hidden layer, [`Schedule::Stored`] otherwise.
    #[default]
    Auto,
    /// Every layer's features of every point held in memory.
    Stored,
    /// One hidden layer only: the width is walked in chunks, weights regenerated per chunk;
    /// memory `O(n1·n2 + (n1 + n2)·c + c·d)` whatever the width.
    Streamed,
}

/// Options of [`empirical`].
#[derive(Clone, Copy, Debug)]
pub struct EmpiricalOptions {
    /// NTK or NNGP.
    pub kind: KernelKind,
    /// The full `n1 × n2 × k × k` kernel instead of the traced mean over outputs.
    pub full: bool,
    /// Precision of the products.
    pub precision: Precision,
    /// Threads.
    pub parallelism: Parallelism,
    /// Schedule.
    pub schedule: Schedule,
    /// Rows per output tile (and per forward block). Part of the problem's definition in
    /// `f64`: the bits of the result may change with it (not with the thread count); in
    /// `f32` only scheduling, and the default is run as [`F32_TILE`] where it can.
    pub tile: usize,
    /// Neurons per streamed chunk, a multiple of `tile::REDUCE_BLOCK` (256); only memory and
    /// scheduling depend on it, never the result. The default is 1024 (its reasons are at
    /// `DEFAULT_CHUNK` in the source).
    pub chunk: usize,
}

/// The chunk of [`EmpiricalOptions::default`], 1024: four blocks of [`tile::REDUCE_BLOCK`]
/// neurons. A chunk's features (every row block's `h_1` and `δ_0`, as left panels) then stay
/// in cache between the forward product that makes them and the Grams that read them, the
/// weights of its blocks are drawn on both threads, and the buffers are reused chunk after
/// chunk instead of faulting in fresh pages. Against 4096 (an earlier default) at
/// `n = 1024, d = 784`: width 16384 0.31–0.33 s against 0.35–0.36 s, width 4096 0.12 s
/// against 0.14 s, peak memory 43 MB against 112 MB (with 512 then). Once the features were
/// kept as left panels only (2026-12-03, half the bytes per neuron), 1024 against 512 on a
/// 2-core Zen 4: width 16384 0.415 against 0.433 s and 0.388 against 0.410 s (medians of 11
/// and 7 alternated runs; 2048: 0.407 against 0.413 s for 1024), width 4096 0.120 against
/// 0.120 s (15 runs), peak RSS 45 against 40 MiB (README, "Measured performance").
pub(crate) const DEFAULT_CHUNK: usize = 4 * tile::REDUCE_BLOCK;

/// The tile of [`EmpiricalOptions::default`].
pub const DEFAULT_TILE: usize = 128;
/// The tile an `f32` run with the default tile uses where it can (bands starting at a
/// multiple of it, traced or one-output kernels): twice the forward block, measured 8–10%
/// faster for a 3-layer net of width 4096 at `n = 1024` (README). In `f32` the bits do not
/// depend on the tile (`simd::gemm`; `tests/determinism.rs`), so this is scheduling only.
pub const F32_TILE: usize = 256;

impl EmpiricalOptions {
    /// The options a band `rows` runs with: [`F32_TILE`] in place of the default tile in
    /// `f32` where the band (of `0..n1`) starts and ends on it and the per-tile scratch stays small (`k = 1` or
    /// traced); otherwise these options unchanged.
    fn scheduled_for(
        &self,
        rows: &core::ops::Range<usize>,
        n1: usize,
        outputs: usize,
    ) -> EmpiricalOptions {
        let small_tiles = !self.full || outputs == 1;
        if self.precision == Precision::F32
            && self.tile == DEFAULT_TILE
            && small_tiles
            && rows.start.is_multiple_of(F32_TILE)
            && (rows.end.is_multiple_of(F32_TILE) || rows.end == n1)
        {
            EmpiricalOptions {
                tile: F32_TILE,
                ..*self
            }
        } else {
            *self
        }
    }
}

impl Default for EmpiricalOptions {
    fn default() -> Self {
        EmpiricalOptions {
            kind: KernelKind::Ntk,
            full: false,
            precision: Precision::F32,
            parallelism: Parallelism::default(),
            schedule: Schedule::Auto,
            tile: DEFAULT_TILE,
            chunk: DEFAULT_CHUNK,
        }
    }
}

/// A Gram matrix: `n1 × n2` (traced NTK or NNGP) or `n1 × n2 × k × k` (full), row-major
/// in `f64`.
#[derive(Clone, Debug, PartialEq)]
pub struct Kernel {
    /// Rows (points of `x1`).
    pub n1: usize,
    /// Columns (points of `x2`).
    pub n2: usize,
    /// Outputs per point in the layout (1 unless full).
    pub k: usize,
    /// Values, index `((i·n2 + j)·k + a)·k + b`.
    pub data: Vec<f64>,
}

impl Kernel {
    /// The array shape: `[n1, n2]` or `[n1, n2, k, k]`.
    pub fn shape(&self) -> Vec<usize> {
        if self.k == 1 {
            vec![self.n1, self.n2]
        } else {
            vec![self.n1, self.n2, self.k, self.k]
        }
    }

    /// Entry `[i, j, a, b]`.
    pub fn get(&self, i: usize, j: usize, a: usize, b: usize) -> f64 {
        self.data[((i * self.n2 + j) * self.k + a) * self.k + b]
    }

    /// The traced kernel `Σ_a Θ[i, j, a, a]/k` (itself when already traced).
    pub fn traced(&self) -> Kernel {
        let k = self.k;
        let data = (0..self.n1 * self.n2)
            .map(|p| (0..k).map(|a| self.data[(p * k + a) * k + a]).sum::<f64>() / k as f64)
            .collect();
        Kernel {
            n1: self.n1,
            n2: self.n2,
            k: 1,
            data,
        }
    }
}

/// The empirical NTK or NNGP of `model` with `weights` between the rows of `x1` and `x2`
/// (`x1 × x1` when `x2` is `None`: one triangle of tiles, mirrored).
pub fn empirical(
    model: &Mlp,
    weights: Weights<'_>,
    x1: &Points<'_>,
    x2: Option<&Points<'_>>,
    opts: &EmpiricalOptions,
) -> Result<Kernel> {
    empirical_rows(model, weights, x1, x2, 0..x1.rows(), opts)
}

/// [`empirical`], stoppable: `cancel` is read before each output tile (stored schedule) and
/// each width chunk (streamed schedule); once it is `true` the remaining work is skipped
/// and the call returns [`Error::Cancelled`]. While it stays `false` the result is
/// [`empirical`]'s, bit for bit. For callers that run the kernel on a worker thread and
/// watch for an interrupt (the Python module's Ctrl-C).
pub fn empirical_cancellable(
    model: &Mlp,
    weights: Weights<'_>,
    x1: &Points<'_>,
    x2: Option<&Points<'_>>,
    opts: &EmpiricalOptions,
    cancel: &AtomicBool,
) -> Result<Kernel> {
    rows_with(model, weights, x1, x2, 0..x1.rows(), opts, Some(cancel))
}

/// `Err(Cancelled)` once `cancel` is set.
pub(crate) fn check_cancel(cancel: Option<&AtomicBool>) -> Result<()> {
    match cancel {
        Some(c) if c.load(Ordering::Relaxed) => Err(Error::Cancelled),
        _ => Ok(()),
    }
}

/// The rows `rows` of [`empirical`]'s kernel, bit for bit, as a `rows.len() × n2` kernel:
/// the unit of work of the out-of-core writer. `rows.start` must be a multiple of
/// `opts.tile`. For a symmetric kernel a band below the first computes the tiles right of
/// its diagonal block again (as transposes), so a run in bands does up to twice the Gram
/// work of one in-memory run.
pub fn empirical_rows(
    model: &Mlp,
    weights: Weights<'_>,
    x1: &Points<'_>,
    x2: Option<&Points<'_>>,
    rows: core::ops::Range<usize>,
    opts: &EmpiricalOptions,
) -> Result<Kernel> {
    rows_with(model, weights, x1, x2, rows, opts, None)
}

/// [`empirical_rows`] with an optional cancel flag (see [`empirical_cancellable`]).
fn rows_with(
    model: &Mlp,
    weights: Weights<'_>,
    x1: &Points<'_>,
    x2: Option<&Points<'_>>,
    rows: core::ops::Range<usize>,
    opts: &EmpiricalOptions,
    cancel: Option<&AtomicBool>,
) -> Result<Kernel> {
    model.validate()?;
    if rows.start > rows.end
        || rows.end > x1.rows()
        || (opts.tile > 0 && !rows.start.is_multiple_of(opts.tile))
    {
        return Err(Error::invalid(
            "row band",
            format!("{}..{}", rows.start, rows.end),
            format!(
                "a range within 0..{} starting at a multiple of the tile ({})",
                x1.rows(),
                opts.tile
            ),
        ));
    }
    model.check_inputs(x1, x2)?;
    if opts.tile == 0 {
        return Err(Error::invalid("tile", 0, "at least 1 row"));
    }
    let tuned = opts.scheduled_for(&rows, x1.rows(), model.outputs);
    let opts = &tuned;
    if opts.chunk == 0 || !opts.chunk.is_multiple_of(tile::REDUCE_BLOCK) {
        return Err(Error::invalid(
            "chunk",
            opts.chunk,
            format!("a positive multiple of {}", tile::REDUCE_BLOCK),
        ));
    }
    if let Weights::Explicit(p) = weights {
        p.check(model)?;
    }
    let streamed = match opts.schedule {
        Schedule::Auto => model.depth() == 1,
        Schedule::Stored => false,
        Schedule::Streamed => {
            if model.depth() != 1 {
                return Err(Error::invalid(
                    "schedule",
                    "streamed",
                    format!("one hidden layer (the model has {})", model.depth()),
                ));
            }
            true
        }
    };
    opts.parallelism
        .install(|| match (streamed, opts.precision) {
            (true, Precision::F32) => {
                streamed::run::<f32>(model, weights, x1, x2, rows.clone(), opts, cancel)
            }
            (true, Precision::F64) => {
                streamed::run::<f64>(model, weights, x1, x2, rows.clone(), opts, cancel)
            }
            (false, Precision::F32) => {
                stored::run::<f32>(model, weights, x1, x2, rows.clone(), opts, cancel)
            }
            (false, Precision::F64) => {
                stored::run::<f64>(model, weights, x1, x2, rows.clone(), opts, cancel)
            }
        })?
}

/// The output tiles `(P, Q)` (left block of `x1`, right block of `x2`) needed for the row
/// blocks `band`: every `Q` for `P ∈ band`; for a symmetric kernel only `Q ≤ P`, with either
/// block in the band (a tile above the diagonal is the transpose of one below it).
pub(crate) fn tile_pairs(
    n1_blocks: usize,
    n2_blocks: usize,
    symmetric: bool,
    band: core::ops::Range<usize>,
) -> Vec<(usize, usize)> {
    let mut pairs = Vec::new();
    for p in 0..n1_blocks {
        for q in 0..n2_blocks {
            let wanted = if symmetric {
                q <= p && (band.contains(&p) || band.contains(&q))
            } else {
                band.contains(&p)
            };
            if wanted {
                pairs.push((p, q));
            }
        }
    }
    pairs
}

/// The row blocks of the band `rows` (which must start on a tile boundary).
pub(crate) fn band_blocks(rows: &core::ops::Range<usize>, tile: usize) -> core::ops::Range<usize> {
    rows.start / tile..rows.end.div_ceil(tile)
}

/// Number of matrices per tile: `k²` for the full NTK, else 1.
pub(crate) fn entries(model: &Mlp, opts: &EmpiricalOptions) -> usize {
    if opts.full && opts.kind == KernelKind::Ntk {
        model.outputs * model.outputs
    } else {
        1
    }
}

/// Adds one layer's term `(s_W²·GA + s_b²) ⊙ GD` to the tile. `gd = None` is the readout's
/// `δ = I`: the term lands on the output diagonal (`a = b`, or once in the traced mean).
pub(crate) fn add_layer_term(
    out: &mut [Mat<f64>],
    ga: &Mat<f64>,
    gd: Option<&[Mat<f64>]>,
    s_w: f64,
    s_b: f64,
    k: usize,
) {
    let (sw2, sb2) = (s_w * s_w, s_b * s_b);
    let full = out.len() > 1;
    for (e, o) in out.iter_mut().enumerate() {
        let diag = !full || e / k == e % k;
        for j in 0..ga.ncols() {
            let a = ga.col_as_slice(j);
            let oc = o.col_as_slice_mut(j);
            match gd {
                Some(gd) => crate::simd::layer_term(oc, a, gd[e].col_as_slice(j), sw2, sb2),
                None if diag => crate::simd::readout_term(oc, a, sw2, sb2),
                None => {}
            }
        }
    }
}

/// [`add_layer_term`] of a layer with `δ` Grams onto a zero output, written over those Grams:
/// `gd[e] ← 0 + (s_w²·ga + s_b²) ⊙ gd[e]` ([`crate::simd::layer_term_onto`], the same bits),
/// a tile's first term without a fresh output.
pub(crate) fn layer_term_over(gd: &mut [Mat<f64>], ga: &Mat<f64>, s_w: f64, s_b: f64) {
    let (sw2, sb2) = (s_w * s_w, s_b * s_b);
    for d in gd {
        for j in 0..ga.ncols() {
            crate::simd::layer_term_onto(d.col_as_slice_mut(j), ga.col_as_slice(j), sw2, sb2);
        }
    }
}

/// The empirical NNGP of a tile from the Gram of the last hidden features.
pub(crate) fn nngp_tile(model: &Mlp, ga_last: &Mat<f64>) -> Mat<f64> {
    let m = model.width(model.depth()) as f64;
    let (w2, b2) = (model.w_std * model.w_std / m, model.b_std * model.b_std);
    Mat::from_fn(ga_last.nrows(), ga_last.ncols(), |i, j| {
        w2 * ga_last[(i, j)] + b2
    })
}

/// A finished tile: its `(left, right)` block indices and one matrix per output entry.
pub(crate) type TileResult = ((usize, usize), Vec<Mat<f64>>);

/// The kernel of the rows `band` (of the full `n1 × n2` matrix) from its finished tiles:
/// `n1 × n2` traced or NNGP, `n1 × n2 × k × k` full (a full NNGP is `K ⊗ I_k`). For a
/// symmetric kernel only the entries with `i ≥ j` of a tile are taken, written at `[i, j]` and
/// mirrored to `[j, i]` (`Θ[j, i, b, a] = Θ[i, j, a, b]`), each where it falls inside the band,
/// so the result is exactly symmetric and the same bits whatever the band. The rows are
/// filled in parallel, each from the tiles its entries lie in (was one pass over the tiles on
/// one thread, writing across the rows: 9 ms of a 0.1 s kernel at `n = 1024`).
pub(crate) fn assemble(
    model: &Mlp,
    opts: &EmpiricalOptions,
    tiles: Vec<TileResult>,
    rows1: &[core::ops::Range<usize>],
    rows2: &[core::ops::Range<usize>],
    symmetric: bool,
    band: core::ops::Range<usize>,
) -> Kernel {
    let k = if opts.full { model.outputs } else { 1 };
    let kk = k * k;
    let n2 = rows2.last().map_or(0, |r| r.end);
    let nngp_full = opts.full && opts.kind == KernelKind::Nngp && k > 1;
    let mut data = crate::memory::zeroed_f64(band.len() * n2 * kk);
    // The tile of each pair of blocks (absent ones leave zeros).
    let nb2 = rows2.len();
    let mut of_pair: Vec<Option<&[Mat<f64>]>> = vec![None; rows1.len() * nb2];
    for ((bi, bj), out) in &tiles {
        of_pair[bi * nb2 + bj] = Some(out);
    }
    if n2 > 0 {
        let at = Placement {
            rows1,
            rows2,
            of_pair: &of_pair,
            symmetric,
            band: band.clone(),
        };
        if kk == 1 {
            assemble_single(&mut data, &at);
        } else {
            assemble_entries(&mut data, &at, k, nngp_full);
        }
    }
    Kernel {
        n1: band.len(),
        n2,
        k,
        data,
    }
}

/// Where the finished tiles of a band lie: the row blocks of both sides, the tile of each
/// pair of blocks (`of_pair[bi · blocks2 + bj]`, absent ones leave zeros), whether the kernel
/// is symmetric (tiles on and below the block diagonal only), and the band's rows.
struct Placement<'a> {
    rows1: &'a [core::ops::Range<usize>],
    rows2: &'a [core::ops::Range<usize>],
    of_pair: &'a [Option<&'a [Mat<f64>]>],
    symmetric: bool,
    band: core::ops::Range<usize>,
}

/// Rows per task of [`assemble_single`]: eight entries of a tile column are one cache line.
const ASSEMBLE_ROWS: usize = 8;

/// [`assemble`] for one value per entry (traced, NNGP, or `k = 1`): the same entries as
/// [`assemble_entries`], bit for bit, copied by groups of [`ASSEMBLE_ROWS`] rows so that
/// both the column-major tiles and the row-major output are read and written in order. Entry
/// `[i, j]` is the tile entry `(i, j)` when `j ≤ i` or the kernel is not symmetric, else the
/// tile entry `(j, i)`. At `n = 1024` (one hidden layer of 4096, a 0.13 s kernel) the
/// entry-by-entry loop took 5 ms and this one 3.5 ms, most of it the first touch of the
/// band's fresh pages.
fn assemble_single(data: &mut [f64], at: &Placement<'_>) {
    let n2 = at.rows2.last().map_or(0, |r| r.end);
    let nb2 = at.rows2.len();
    data.par_chunks_mut(n2 * ASSEMBLE_ROWS)
        .enumerate()
        .for_each(|(g, out)| {
            let first = at.band.start + g * ASSEMBLE_ROWS;
            let last = first + out.len() / n2;
            let mut i0 = first;
            // Runs of the group's rows that lie in one row block.
            while i0 < last {
                let bi = at.rows1.partition_point(|r| r.end <= i0);
                let i1 = last.min(at.rows1[bi].end);
                let a0 = i0 - at.rows1[bi].start;
                let run = &mut out[(i0 - first) * n2..(i1 - first) * n2];
                for (bj, rb) in at.rows2.iter().enumerate() {
                    // Entries read from tile (bi, bj) as they are: every column of a block
                    // left of the rows (or of any block when not symmetric).
                    if let Some(tile) = at.of_pair[bi * nb2 + bj] {
                        let cols = if at.symmetric {
                            rb.start..rb.end.min(i1)
                        } else {
                            rb.clone()
                        };
                        for j in cols {
                            let col = &tile[0].col_as_slice(j - rb.start)[a0..a0 + (i1 - i0)];
                            for (r, &v) in col.iter().enumerate() {
                                if !at.symmetric || j <= i0 + r {
                                    run[r * n2 + j] = v;
                                }
                            }
                        }
                    }
                    // Entries mirrored from tile (bj, bi): the columns right of each row.
                    if at.symmetric
                        && rb.end > i0 + 1
                        && let Some(tile) = at.of_pair[bj * nb2 + bi]
                    {
                        for (r, i) in (i0..i1).enumerate() {
                            let js = rb.start.max(i + 1)..rb.end;
                            if js.is_empty() {
                                continue;
                            }
                            let col = tile[0].col_as_slice(a0 + r);
                            run[r * n2 + js.start..r * n2 + js.end]
                                .copy_from_slice(&col[js.start - rb.start..js.end - rb.start]);
                        }
                    }
                }
                i0 = i1;
            }
        });
}

/// [`assemble`] entry by entry, for `k × k` values per entry (the full kernel; a full NNGP
/// is `K ⊗ I_k`).
fn assemble_entries(data: &mut [f64], at: &Placement<'_>, k: usize, nngp_full: bool) {
    let kk = k * k;
    let (rows1, rows2, band, symmetric) = (at.rows1, at.rows2, &at.band, at.symmetric);
    let n2 = rows2.last().map_or(0, |r| r.end);
    let nb2 = rows2.len();
    let of_pair = at.of_pair;
    // Row by row of the band, in parallel: entry [i, j] (k × k values) is the tile
    // entry (i, j) when `i ≥ j` or the kernel is not symmetric, else the mirror of the
    // tile entry (j, i). On the diagonal of a full kernel the lower `k × k` half is
    // mirrored onto the upper (what writing each entry and then its mirror gives).
    data.par_chunks_mut(n2 * kk)
        .enumerate()
        .for_each(|(t, row)| {
            let i = band.start + t;
            let bi = rows1.partition_point(|r| r.end <= i);
            for (bj, rb) in rows2.iter().enumerate() {
                // The tiles holding this row's entries of column block `bj`: `(i, j)` of
                // tile (bi, bj), and for a symmetric kernel (one blocking of the rows for
                // both sides) `(j, i)` of tile (bj, bi).
                let at = i - rows1[bi].start;
                let lower = of_pair[bi * nb2 + bj].map(|t| (t, at));
                let mirror = if symmetric {
                    of_pair[bj * nb2 + bi].map(|t| (t, rb.start, at))
                } else {
                    None
                };
                for j in rb.clone() {
                    let put = &mut row[j * kk..(j + 1) * kk];
                    for a in 0..k {
                        for b in 0..k {
                            let flip = symmetric && (j > i || (j == i && a < b));
                            let (tile, ii, jj) = match (flip, lower, mirror) {
                                (false, Some((t, ii)), _) => (t, ii, j - rb.start),
                                (true, _, Some((t, r0, jj))) => (t, j - r0, jj),
                                _ => continue,
                            };
                            let e = match (nngp_full, flip) {
                                (true, _) if a != b => continue,
                                (true, _) => 0,
                                (false, true) => b * k + a,
                                (false, false) => a * k + b,
                            };
                            put[a * k + b] = tile[e].col_as_slice(jj)[ii];
                        }
                    }
                }
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Row blocks of `n` rows in tiles of `tile` (the last one ragged).
    fn blocks(n: usize, tile: usize) -> Vec<core::ops::Range<usize>> {
        (0..n.div_ceil(tile))
            .map(|b| b * tile..((b + 1) * tile).min(n))
            .collect()
    }

    #[test]
    fn the_single_value_assembly_equals_the_entry_by_entry_one() {
        // Symmetric and not, ragged blocks, tiles smaller and larger than a task's eight
        // rows, bands that start inside the matrix, and missing tiles (left as zeros).
        for (n1, n2, tile, symmetric) in [
            (37, 37, 5, true),
            (64, 64, 16, true),
            (50, 50, 64, true),
            (33, 21, 7, false),
            (19, 40, 3, false),
        ] {
            let (rows1, rows2) = (blocks(n1, tile), blocks(n2, tile));
            for band_blocks in [0..rows1.len(), 1..rows1.len(), 0..1] {
                if band_blocks.is_empty() {
                    continue;
                }
                let band = rows1[band_blocks.start].start..rows1[band_blocks.end - 1].end;
                let pairs = tile_pairs(rows1.len(), rows2.len(), symmetric, band_blocks);
                let tiles: Vec<(usize, Vec<Mat<f64>>)> = pairs
                    .iter()
                    .enumerate()
                    .map(|(p, &(bi, bj))| {
                        let (ri, rj) = (rows1[bi].len(), rows2[bj].len());
                        let m = Mat::from_fn(ri, rj, |i, j| (1000 * p + 31 * i + j) as f64 + 0.5);
                        (p, vec![m])
                    })
                    .collect();
                let nb2 = rows2.len();
                let mut of_pair: Vec<Option<&[Mat<f64>]>> = vec![None; rows1.len() * nb2];
                for (p, t) in &tiles {
                    let (bi, bj) = pairs[*p];
                    // One pair missing: its entries stay zero in both.
                    if *p != 1 {
                        of_pair[bi * nb2 + bj] = Some(t);
                    }
                }
                let at = Placement {
                    rows1: &rows1,
                    rows2: &rows2,
                    of_pair: &of_pair,
                    symmetric,
                    band: band.clone(),
                };
                let mut fast = vec![0.0; band.len() * n2];
                let mut slow = fast.clone();
                assemble_single(&mut fast, &at);
                assemble_entries(&mut slow, &at, 1, false);
                assert!(
                    fast.iter()
                        .zip(&slow)
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "n1 {n1} n2 {n2} tile {tile} symmetric {symmetric} band {band:?}"
                );
                assert!(fast.iter().any(|&v| v != 0.0));
            }
        }
    }
}
