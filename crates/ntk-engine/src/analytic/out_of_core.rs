//! The analytic kernel written to a `.npy` file in row bands within a memory budget
//! ([`write_analytic`]), bit for bit the in-memory [`analytic`](super::analytic) kernel.
//!
//! A symmetric kernel `x × x` that fits in the budget (twice over, as a band and its
//! conversion are counted) is computed whole in memory and written band by band of
//! `opts.tile` rows, each as soon as it is final, while the others are computed (the
//! crate-private `analytic_lower_streamed` over `analytic/streamed.rs`): the disk works
//! during the computation.
//!
//! Otherwise a kernel of two point sets costs its full rows per band. A symmetric kernel
//! `x × x` costs only its lower triangle: the bands are computed last first, each band
//! computes its columns `0..end` ([`analytic_rows_lower`]), and the columns
//! `end..n` are the transposes of the later rows, read back from the partial file
//! ([`KernelFile::read_block`]). The analytic kernel is symmetric bit for bit (the in-memory
//! assembly mirrors its lower triangle in the same way), and an `f32` file's values widen to
//! `f64` exactly, so the file holds the same bytes as writing the full rows. When the bands
//! are shared among ranks ([`crate::gram::ranked`]) every band computes its full rows: a rank
//! cannot wait for another's rows.

use core::ops::Range;

use rayon::prelude::*;

use super::{AnalyticOptions, analytic_lower_streamed, analytic_rows, analytic_rows_lower};
use crate::data::Points;
use crate::data::kernel_file::KernelFile;
use crate::error::Result;
use crate::gram::Kernel;
use crate::gram::out_of_core::{
    BandOrder, BandReport, BandedOutput, rows_within_memory, write_bands, write_in_bands,
    write_streamed,
};
use crate::model::Mlp;

/// Rows of the read-back block per positioned read (bounds the extra memory to
/// `READ_ROWS × band rows × k² × 8` bytes).
const READ_ROWS: usize = 256;
/// Side of the square blocks of the transposing copy.
const BLOCK: usize = 64;

/// The analytic kernel written to `out` in bands within its budget (output f32 or f64),
/// identical to writing [`analytic`](super::analytic)'s result; a symmetric kernel costs its
/// triangle (module docs).
pub fn write_analytic(
    model: &Mlp,
    x1: &Points<'_>,
    x2: Option<&Points<'_>>,
    opts: &AnalyticOptions,
    out: &BandedOutput<'_>,
) -> Result<BandReport> {
    let n1 = x1.rows();
    let n2 = x2.map_or(n1, |x| x.rows());
    let k = if opts.full { model.outputs } else { 1 };
    // Inputs in f64 and one variance per point and layer, for both sides.
    let pts = if x2.is_none() { n1 } else { n1 + n2 };
    let mul = |a: usize, b: usize| a.saturating_mul(b);
    let fixed = mul(mul(pts, model.input_dim.saturating_add(model.depth())), 8);
    // The band in f64 and its conversion, and its share of a read-back block.
    let per_row = mul(mul(mul(n2, k), k), 16).saturating_add(mul(mul(READ_ROWS, k), k) * 8);
    let rows = rows_within_memory(n1, 64, (fixed, per_row), out.budget)?;
    let shape = if opts.full && k > 1 {
        vec![n1, n2, k, k]
    } else {
        vec![n1, n2]
    };
    // A symmetric kernel that fits twice over is computed whole (module docs), and written
    // in bands of the engine's tile.
    let whole = x2.is_none() && out.ranks.is_none() && rows >= n1;
    let (rows, estimated) = if whole {
        let tile = opts.tile.clamp(1, n1.max(1));
        let kernel = mul(
            super::streamed::lower_len(n1, k, tile).saturating_add(mul(mul(mul(tile, n2), k), k)),
            8,
        );
        (tile, fixed.saturating_add(kernel))
    } else {
        (rows, fixed.saturating_add(rows.saturating_mul(per_row)))
    };
    let (bands, resumed) = match (x2, out.ranks) {
        (None, None) if whole => write_streamed(out, &shape, rows, |check, sink| {
            analytic_lower_streamed(model, x1, opts, check, sink)
        })?,
        // Under ranks every band computes its full rows from the inputs alone (a band cannot
        // wait for another rank's later rows): the ranked writer's contract.
        (Some(_), _) | (None, Some(_)) => {
            write_in_bands(out, &shape, rows, |r| analytic_rows(model, x1, x2, r, opts))?
        }
        // Last band first: every later band is on disk when a band starts (resumed or just
        // written), which `read_block` checks.
        (None, None) => write_bands(out, &shape, rows, BandOrder::Reverse, |r, file| {
            let mut band = analytic_rows_lower(model, x1, r.clone(), opts)?;
            fill_from_later_rows(&mut band, r, file, k)?;
            Ok(band)
        })?,
    };
    Ok(BandReport {
        rows_per_band: rows,
        bands,
        resumed,
        estimated_bytes: estimated,
    })
}

/// Fills the columns `rows.end..n` of the band `rows` from the rows `rows.end..n` of the
/// file (finished): `band[i, j] = file[j, i]`, element block `k × k` transposed (only its
/// diagonal is non-zero, so a copy).
fn fill_from_later_rows(
    band: &mut Kernel,
    rows: Range<usize>,
    file: &KernelFile,
    k: usize,
) -> Result<()> {
    let n = band.n2;
    let nr = rows.len();
    let kk = k * k;
    let mut j0 = rows.end;
    while j0 < n {
        let j1 = (j0 + READ_ROWS).min(n);
        // `(j1 - j0) × nr × k²`: rows j of the file, columns in the band's rows.
        let block = file.read_block(j0..j1, rows.clone())?;
        band.data
            .par_chunks_mut((BLOCK * n * kk).max(1))
            .enumerate()
            .for_each(|(c, chunk)| {
                let i0 = c * BLOCK;
                let ni = chunk.len() / (n * kk);
                for jb in (j0..j1).step_by(BLOCK) {
                    for i in 0..ni {
                        let row = &mut chunk[i * n * kk..][..n * kk];
                        for j in jb..(jb + BLOCK).min(j1) {
                            let from = ((j - j0) * nr + i0 + i) * kk;
                            row[j * kk..][..kk].copy_from_slice(&block[from..from + kk]);
                        }
                    }
                }
            });
        j0 = j1;
    }
    Ok(())
}
