//! Blocked, multithreaded assembly of the analytic Gram matrix.
//!
//! The output is cut into row bands of `tile` rows, and each band into `tile × tile` tiles.
//! Bands are the parallel unit (rayon, each band a disjoint slice of the output, written in
//! place). Per tile, the input Gram `x·x'` comes from a register-blocked micro-kernel
//! ([`super::input_gram`]) and the layer recursion then runs over each row of the tile as
//! vectorised loops ([`Recursion::run`]). Every entry is a pure function of its two inputs
//! and their per-point variances, computed with one fixed order of operations, so the bits
//! never depend on the thread count, on `tile`, or on the instruction set. For `x1 × x1`
//! only the tiles on and below the diagonal are computed and the lower triangle is
//! mirrored, so the result is exactly symmetric.
//!
//! Memory: the output, the inputs as `f64`, `L` variances per point (twice: per point and
//! per layer), and one `tile × tile` scratch block per band in flight.

use std::sync::atomic::AtomicBool;

use rayon::prelude::*;

use super::input_gram::{PackedColumns, gram_tile_packed, pack_columns};
use super::state::Recursion;
use crate::gram::Kernel;

/// Block edge of the (sequential) mirror of the lower triangle: 64 × 64 `f64` blocks keep
/// both the source and the destination in L1/L2.
const MIRROR_BLOCK: usize = 64;

/// One side of the kernel: `n` points of dimension `d`, row-major, and their variances.
pub(crate) struct Side<'a> {
    /// Row-major inputs.
    pub x: &'a [f64],
    /// `n × L` variances, row-major (one point's run).
    pub q: &'a [f64],
    /// The same variances layer-major, `L × n` (one layer's run over the points).
    pub q_by_layer: Vec<f64>,
    /// Number of points.
    pub n: usize,
}

impl<'a> Side<'a> {
    /// A side over `x` (`n` rows) and its `n × L` variances `q`.
    pub fn new(x: &'a [f64], q: &'a [f64], n: usize, depth: usize) -> Self {
        let mut q_by_layer = vec![0.0; q.len()];
        for i in 0..n {
            for l in 0..depth {
                q_by_layer[l * n + i] = q[i * depth + l];
            }
        }
        Side {
            x,
            q,
            q_by_layer,
            n,
        }
    }
}

/// The variances of every row of `x` (parallel over points), `n × L` row-major.
pub(crate) fn variances(rec: &Recursion, x: &[f64], n: usize, consistent: bool) -> Vec<f64> {
    let (d, depth) = (rec.input_dim, rec.depth());
    let mut q = vec![0.0; n * depth];
    if depth > 0 {
        q.par_chunks_mut(depth)
            .zip(x.par_chunks(d))
            .for_each(|(out, row)| rec.variances(row, consistent, out));
    }
    q
}

/// The `n1 × n2` (or `n1 × n2 × k × k`, value on the output diagonal) kernel; `s2 = None`
/// is `x1 × x1`. Runs in the caller's rayon pool.
pub(crate) fn assemble(
    rec: &Recursion,
    s1: &Side<'_>,
    s2: Option<&Side<'_>>,
    ntk: bool,
    k: usize,
    tile: usize,
    cancel: Option<&AtomicBool>,
) -> Kernel {
    let symmetric = s2.is_none();
    let s2 = s2.unwrap_or(s1);
    let (n1, n2) = (s1.n, s2.n);
    let kk = k * k;
    let mut data = crate::memory::zeroed_f64_until(n1 * n2 * kk, &|| cancelled(cancel));
    let packed = pack_columns(s2.x, n2, rec.input_dim, tile);
    let band_len = tile * n2 * kk;
    data.par_chunks_mut(band_len.max(1))
        .enumerate()
        .for_each(|(bi, band)| {
            if cancelled(cancel) {
                return;
            }
            let rows = bi * tile..((bi + 1) * tile).min(n1);
            let col_end = if symmetric { rows.end } else { n2 };
            band_tiles(rec, s1, s2, ntk, k, rows, col_end, (tile, &packed), band);
        });
    if symmetric && !cancelled(cancel) {
        mirror(&mut data, n1, k);
    }
    Kernel { n1, n2, k, data }
}

/// The rows `rows` of [`assemble`]'s kernel, bit for bit, as a `rows.len() × n2` kernel:
/// for `x1 × x1` an entry above the diagonal equals the pair below it (`[j, i]`), exactly
/// what the mirror copies (the closed forms are symmetric in the pair bitwise, and
/// quadrature is evaluated as the pair `[j, i]`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn assemble_rows(
    rec: &Recursion,
    s1: &Side<'_>,
    s2: Option<&Side<'_>>,
    ntk: bool,
    k: usize,
    rows: core::ops::Range<usize>,
    tile: usize,
    cancel: Option<&AtomicBool>,
) -> Kernel {
    let symmetric = s2.is_none();
    if symmetric && rows == (0..s1.n) {
        return assemble(rec, s1, None, ntk, k, tile, cancel);
    }
    let s2 = s2.unwrap_or(s1);
    let n2 = s2.n;
    let kk = k * k;
    let mut data = crate::memory::zeroed_f64_until(rows.len() * n2 * kk, &|| cancelled(cancel));
    let packed = pack_columns(s2.x, n2, rec.input_dim, tile);
    tile_bands(&mut data, &rows, tile, n2 * kk, cancel, |sub, band| {
        if symmetric && rec.dual.is_quadrature() {
            quadrature_rows_symmetric(rec, s1, ntk, k, sub, s1.n, band);
        } else {
            band_tiles(rec, s1, s2, ntk, k, sub, n2, (tile, &packed), band);
        }
    });
    Kernel {
        n1: rows.len(),
        n2,
        k,
        data,
    }
}

/// The rows `rows` of the symmetric kernel `x1 × x1` for the columns `0..rows.end` only, as
/// a `rows.len() × n` kernel whose columns `rows.end..n` are left zero: the band's part of
/// the lower triangle, computed tile band by tile band as [`assemble`] computes it, and its
/// diagonal block mirrored as [`assemble`] mirrors it. Every entry it fills equals
/// [`assemble_rows`]'s bit for bit; the columns it leaves are the transposes of later rows
/// (the out-of-core writer reads them back from its file), so the band costs its triangle,
/// not its full rows.
pub(crate) fn assemble_rows_lower(
    rec: &Recursion,
    s1: &Side<'_>,
    ntk: bool,
    k: usize,
    rows: core::ops::Range<usize>,
    tile: usize,
    cancel: Option<&AtomicBool>,
) -> Kernel {
    let n = s1.n;
    let kk = k * k;
    let nr = rows.len();
    let mut data = crate::memory::zeroed_f64_until(nr * n * kk, &|| cancelled(cancel));
    let packed = pack_columns(s1.x, rows.end, rec.input_dim, tile);
    tile_bands(&mut data, &rows, tile, n * kk, cancel, |sub, band| {
        let end = sub.end;
        if rec.dual.is_quadrature() {
            quadrature_rows_symmetric(rec, s1, ntk, k, sub, end, band);
        } else {
            band_tiles(rec, s1, s1, ntk, k, sub, end, (tile, &packed), band);
        }
    });
    // The diagonal block's upper part: `[i, j] ← [j, i]` for rows.start ≤ i < j < rows.end.
    mirror_rows(&mut data, 0, nr, rows.start, n * kk, k);
    Kernel {
        n1: nr,
        n2: n,
        k,
        data,
    }
}

/// Calls `f(sub, band)` in parallel for the bands of `tile` rows of `rows`, `band` being the
/// `sub.len()` rows of `row_len` values of `data` that hold them; once `cancel` is set, the
/// bands not yet started are skipped.
fn tile_bands(
    data: &mut [f64],
    rows: &core::ops::Range<usize>,
    tile: usize,
    row_len: usize,
    cancel: Option<&AtomicBool>,
    f: impl Fn(core::ops::Range<usize>, &mut [f64]) + Sync,
) {
    data.par_chunks_mut((tile * row_len).max(1))
        .enumerate()
        .for_each(|(bi, band)| {
            if cancelled(cancel) {
                return;
            }
            let start = rows.start + bi * tile;
            f(start..(start + tile).min(rows.end), band);
        });
}

/// Whether the caller asked to stop (read before each band of `tile` rows: the bands left
/// are skipped; the caller then returns `Error::Cancelled`, never the partial kernel).
fn cancelled(cancel: Option<&AtomicBool>) -> bool {
    crate::gram::check_cancel(cancel).is_err()
}

/// Fills the band of rows `rows` (`band` holds `rows.len()` output rows of equal length,
/// `n2·k²` or at least `col_end·k²`) for the columns `0..col_end`, tile by tile, the columns
/// read from `packed` (`s2`'s points packed for tiles of `tile` columns, [`pack_columns`]).
#[allow(clippy::too_many_arguments)]
pub(crate) fn band_tiles(
    rec: &Recursion,
    s1: &Side<'_>,
    s2: &Side<'_>,
    ntk: bool,
    k: usize,
    rows: core::ops::Range<usize>,
    col_end: usize,
    (tile, packed): (usize, &PackedColumns),
    band: &mut [f64],
) {
    let (n2, d, depth) = (s2.n, rec.input_dim, rec.depth());
    let kk = k * k;
    let nr = rows.len();
    let row_len = band.len() / nr.max(1);
    let mut g = vec![0.0; nr * tile.min(col_end.max(1))];
    let mut theta = vec![0.0; tile.min(col_end.max(1))];
    let mut c0 = 0;
    while c0 < col_end {
        let cw = tile.min(col_end - c0);
        gram_tile_packed(
            &s1.x[rows.start * d..],
            nr,
            packed.tile(c0 / tile),
            cw,
            d,
            &mut g,
            cw,
        );
        for (r, i) in rows.clone().enumerate() {
            let kr = &mut g[r * cw..][..cw];
            let th = &mut theta[..cw];
            rec.run(
                kr,
                th,
                &s1.q[i * depth..][..depth],
                |l| &s2.q_by_layer[l * n2 + c0..][..cw],
                ntk,
            );
            let v = if ntk { &*th } else { &*kr };
            let out = &mut band[r * row_len..][..row_len];
            if k == 1 {
                out[c0..c0 + cw].copy_from_slice(v);
            } else {
                for (j, vj) in v.iter().enumerate() {
                    for a in 0..k {
                        out[(c0 + j) * kk + a * k + a] = *vj;
                    }
                }
            }
        }
        c0 += cw;
    }
}

/// Rows of a symmetric quadrature kernel pair by pair for the columns `0..col_end`, the
/// entries above the diagonal evaluated as the pair below it (quadrature is not bitwise
/// symmetric in its arguments).
fn quadrature_rows_symmetric(
    rec: &Recursion,
    s: &Side<'_>,
    ntk: bool,
    k: usize,
    rows: core::ops::Range<usize>,
    col_end: usize,
    band: &mut [f64],
) {
    let (n, d, depth) = (s.n, rec.input_dim, rec.depth());
    let kk = k * k;
    for (r, i) in rows.enumerate() {
        let out = &mut band[r * n * kk..][..n * kk];
        for j in 0..col_end {
            let (a, b) = if j > i { (j, i) } else { (i, j) };
            let st = rec.pair(
                &s.x[a * d..][..d],
                &s.x[b * d..][..d],
                &s.q[a * depth..][..depth],
                &s.q[b * depth..][..depth],
                ntk,
            );
            let v = if ntk { st.theta } else { st.k };
            for o in 0..k {
                out[j * kk + o * k + o] = v;
            }
        }
    }
}

/// Copies the lower triangle onto the upper one: `[j, i, a, a] ← [i, j, a, a]` for `j < i`
/// (only the output diagonal is non-zero).
fn mirror(data: &mut [f64], n: usize, k: usize) {
    mirror_rows(data, 0, n, 0, n * k * k, k);
}

/// The mirror of the square block of rows `r0..r0 + rows` (local to a band whose first row
/// is the kernel's row `s`): `[i, s + j] ← [j, s + i]` for `r0 ≤ i < j < r0 + rows`, where
/// `data` holds exactly those rows, `row_len` values each. In parallel and safe by
/// splitting: the rows are cut in two, the top half's block right of the diagonal is
/// copied from the bottom half's block below it (the top's rows in parallel, the bottom
/// only read), then both halves mirror themselves at once. Copies only, so the bits are
/// those of a serial loop.
fn mirror_rows(data: &mut [f64], r0: usize, rows: usize, s: usize, row_len: usize, k: usize) {
    let kk = k * k;
    if rows <= 2 * MIRROR_BLOCK {
        for i in 0..rows {
            for j in i + 1..rows {
                for a in 0..k {
                    data[i * row_len + (s + r0 + j) * kk + a * k + a] =
                        data[j * row_len + (s + r0 + i) * kk + a * k + a];
                }
            }
        }
        return;
    }
    let h = (rows / 2).next_multiple_of(MIRROR_BLOCK);
    let (top, bottom) = data.split_at_mut(h * row_len);
    let below = rows - h;
    top.par_chunks_mut(MIRROR_BLOCK * row_len)
        .enumerate()
        .for_each(|(c, chunk)| {
            let i0 = c * MIRROR_BLOCK;
            let ni = chunk.len() / row_len;
            for jb in (0..below).step_by(MIRROR_BLOCK) {
                for i in 0..ni {
                    let row = &mut chunk[i * row_len..][..row_len];
                    for j in jb..(jb + MIRROR_BLOCK).min(below) {
                        // [r0 + i0 + i, s + r0 + h + j] ← [r0 + h + j, s + r0 + i0 + i]
                        let from = j * row_len + (s + r0 + i0 + i) * kk;
                        let to = (s + r0 + h + j) * kk;
                        for a in 0..k {
                            row[to + a * k + a] = bottom[from + a * k + a];
                        }
                    }
                }
            }
        });
    rayon::join(
        || mirror_rows(top, r0, h, s, row_len, k),
        || mirror_rows(bottom, r0 + h, below, s, row_len, k),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tiled, vectorised assembly equals the scalar pair recursion entry by entry, bit
    /// for bit, for every kind of transform (closed forms and quadrature), both kinds and
    /// both parameterizations, with ragged tiles: runs of 5 (the scalar remainder of every
    /// instruction set) and of 24 (whole SIMD vectors and a remainder).
    #[test]
    fn tiles_equal_the_scalar_pair_recursion_bitwise() {
        use crate::activation::Activation;
        use crate::analytic::dual::Dual;
        use crate::model::{Mlp, Parameterization};
        let (n1, n2, d) = (23, 29, 37);
        let x1: Vec<f64> = (0..n1 * d)
            .map(|i| ((i * 37) % 101) as f64 / 50.0 - 1.0)
            .collect();
        let x2: Vec<f64> = (0..n2 * d)
            .map(|i| ((i * 53) % 97) as f64 / 40.0 - 1.2)
            .collect();
        for act in [
            Activation::Relu,
            Activation::Abs,
            Activation::Erf,
            Activation::Gelu,
            Activation::Tanh,
        ] {
            for param in [Parameterization::Ntk, Parameterization::Standard] {
                let m = Mlp::new(d, &[6, 5, 4], act)
                    .with_b_std(0.3)
                    .with_w_std(1.4)
                    .with_parameterization(param);
                let rec = Recursion::new(&m, Dual::new(act, 12));
                let depth = rec.depth();
                let (q1, q2) = (
                    variances(&rec, &x1, n1, false),
                    variances(&rec, &x2, n2, false),
                );
                let (s1, s2) = (
                    Side::new(&x1, &q1, n1, depth),
                    Side::new(&x2, &q2, n2, depth),
                );
                for (ntk, tile) in [(true, 5), (false, 5), (true, 24), (false, 24)] {
                    let k = assemble(&rec, &s1, Some(&s2), ntk, 1, tile, None);
                    for i in 0..n1 {
                        for j in 0..n2 {
                            let st = rec.pair(
                                &x1[i * d..][..d],
                                &x2[j * d..][..d],
                                &q1[i * depth..][..depth],
                                &q2[j * depth..][..depth],
                                ntk,
                            );
                            let want = if ntk { st.theta } else { st.k };
                            assert_eq!(
                                k.data[i * n2 + j].to_bits(),
                                want.to_bits(),
                                "{act} {param:?} tile {tile} [{i},{j}]"
                            );
                        }
                    }
                }
            }
        }
    }

    /// The split, parallel mirror of a band's diagonal block equals the plain loop over
    /// `i < j`, for blocks that split once, several times and unevenly, and for bands
    /// that start inside the kernel (`s > 0`).
    #[test]
    fn parallel_mirror_equals_the_plain_loop() {
        for (n, k, s, nr) in [(300, 1, 0, 300), (333, 2, 0, 333), (700, 1, 150, 517)] {
            let kk = k * k;
            let row_len = n * kk;
            let data: Vec<f64> = (0..nr * row_len).map(|v| v as f64 * 0.5 + 1.0).collect();
            let mut want = data.clone();
            for i in 0..nr {
                for j in i + 1..nr {
                    for a in 0..k {
                        want[i * row_len + (s + j) * kk + a * k + a] =
                            want[j * row_len + (s + i) * kk + a * k + a];
                    }
                }
            }
            let mut got = data;
            crate::parallel::Parallelism::threads(3)
                .install(|| mirror_rows(&mut got, 0, nr, s, row_len, k))
                .unwrap();
            assert!(got == want, "n {n} k {k} s {s} rows {nr}");
        }
    }

    #[test]
    fn mirror_copies_the_lower_triangle_on_the_output_diagonal() {
        let (n, k) = (130, 2);
        let mut d = vec![0.0; n * n * k * k];
        for i in 0..n {
            for j in 0..=i {
                for a in 0..k {
                    d[(i * n + j) * k * k + a * k + a] = (i * 1000 + j * 10 + a) as f64;
                }
            }
        }
        mirror(&mut d, n, k);
        for i in 0..n {
            for j in 0..n {
                for a in 0..k {
                    for b in 0..k {
                        let v = d[(i * n + j) * k * k + a * k + b];
                        let w = d[(j * n + i) * k * k + b * k + a];
                        assert_eq!(v, w);
                        if a != b {
                            assert_eq!(v, 0.0);
                        }
                    }
                }
            }
        }
    }
}
