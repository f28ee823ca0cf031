//! The input Gram `x·x'` of a tile of pairs, at GEMM speed, with one fixed order of
//! operations per entry.
//!
//! Every entry is the sequential fused sum `acc ← fma(x_t, x'_t, acc)` over `t = 0..d`,
//! exactly [`dot`]. A register-blocked micro-kernel (`MR` rows × `NR` SIMD vectors of
//! columns, the columns packed `t`-major into panels, as a GEMM packs them; Goto & van de
//! Geijn 2008) computes many such sums at once, each in its own SIMD lane, so vectorising
//! changes no bit: an entry depends only on its two inputs, never on the tile, the thread
//! count or the instruction set (the scalar fallback's `mul_add` is the same correctly
//! rounded fused operation). It follows that the Gram is exactly symmetric
//! (`fma(a, b, c) = fma(b, a, c)`), odd (`x·(−y) = −(x·y)`), and that a point's product with
//! itself is bitwise its squared norm as [`dot`] computes it for the variances.

use pulp::{Arch, Simd, WithSimd};

/// `x·y` as the sequential fused sum over the coordinates, in the micro-kernel's order.
pub(crate) fn dot(x: &[f64], y: &[f64]) -> f64 {
    Arch::new().dispatch(
        #[inline(always)]
        || {
            let mut acc = 0.0f64;
            for (a, b) in x.iter().zip(y) {
                acc = a.mul_add(*b, acc);
            }
            acc
        },
    )
}

/// `out[i·ld + j] = dot(a_i, b_j)` for the `rows` rows `a_i` of `a` and the `cols` rows
/// `b_j` of `b` (both row-major with `d` columns).
#[cfg(test)]
pub(crate) fn gram_tile(
    a: &[f64],
    rows: usize,
    b: &[f64],
    cols: usize,
    d: usize,
    out: &mut [f64],
    ld: usize,
) {
    let packed = pack_columns(b, cols, d, cols.max(1));
    gram_tile_packed(a, rows, packed.tile(0), cols, d, out, ld);
}

/// The points of one side packed as [`gram_tile_packed`] reads them, once per kernel: for
/// each tile of `tile` columns, its panels of `w` columns (`w` = [`NR`] SIMD vectors of the
/// instruction set [`gram_tile_packed`] dispatches to), each `t`-major and zero-padded:
/// `panel[t·w + c] = x[first + c][t]`. Packed per tile instead, the columns were gathered
/// again by every band of rows (about 10× over a triangle of 20 bands) with `w` strided
/// reads per step from the third-level cache: a 256 × 256 × 784 tile ran at 28 GFLOP/s on a
/// Zen 3 core against 43 for its micro-kernel.
pub(crate) struct PackedColumns {
    data: Vec<f64>,
    per_tile: usize,
}

impl PackedColumns {
    /// The panels of column tile `index` (columns `index·tile ..`).
    pub(crate) fn tile(&self, index: usize) -> &[f64] {
        &self.data[index * self.per_tile..][..self.per_tile]
    }
}

/// The panel width `w` of the instruction set dispatched to.
fn panel_width() -> usize {
    struct Lanes;
    impl WithSimd for Lanes {
        type Output = usize;
        #[inline(always)]
        fn with_simd<S: Simd>(self, _: S) -> usize {
            S::F64_LANES
        }
    }
    NR * Arch::new().dispatch(Lanes)
}

/// `n` points of `b` (row-major, `d` columns) packed for tiles of `tile` columns
/// ([`PackedColumns`]), tiles in parallel.
pub(crate) fn pack_columns(b: &[f64], n: usize, d: usize, tile: usize) -> PackedColumns {
    use rayon::prelude::*;
    let w = panel_width();
    let tile = tile.max(1);
    let per_tile = tile.div_ceil(w) * w * d;
    let mut data = vec![0.0f64; n.div_ceil(tile) * per_tile];
    data.par_chunks_mut(per_tile.max(1))
        .enumerate()
        .for_each(|(ti, packed)| {
            let cols = tile.min(n - ti * tile);
            let mut srcs: Vec<&[f64]> = Vec::with_capacity(w);
            for (p, panel) in packed.chunks_exact_mut(d * w).enumerate() {
                let c0 = ti * tile + p * w;
                if p * w >= cols {
                    break;
                }
                let cw = (cols - p * w).min(w);
                srcs.clear();
                srcs.extend((0..cw).map(|c| &b[(c0 + c) * d..][..d]));
                // Step by step over `t`: each step one contiguous run of `w` stores.
                for (t, dst) in panel.chunks_exact_mut(w).enumerate() {
                    for (v, src) in dst.iter_mut().zip(&srcs) {
                        *v = src[t];
                    }
                }
            }
        });
    PackedColumns { data, per_tile }
}

/// `out[i·ld + j] = dot(a_i, b_j)` for the `rows` rows `a_i` of `a` (row-major, `d`
/// columns) and the `cols` columns of one tile of [`pack_columns`] (`packed`, from
/// [`PackedColumns::tile`]).
pub(crate) fn gram_tile_packed(
    a: &[f64],
    rows: usize,
    packed: &[f64],
    cols: usize,
    d: usize,
    out: &mut [f64],
    ld: usize,
) {
    if rows == 0 || cols == 0 {
        return;
    }
    debug_assert!(a.len() >= rows * d);
    debug_assert!(out.len() >= (rows - 1) * ld + cols);
    Arch::new().dispatch(GramTile {
        a,
        rows,
        packed,
        cols,
        d,
        out,
        ld,
    });
}

struct GramTile<'a> {
    a: &'a [f64],
    rows: usize,
    packed: &'a [f64],
    cols: usize,
    d: usize,
    out: &'a mut [f64],
    ld: usize,
}

/// Columns vectors per register block.
const NR: usize = 3;

impl WithSimd for GramTile<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        // AVX-512 has 32 registers (8 × 3 accumulators fit), AVX2 16 (4 × 3).
        if S::F64_LANES >= 8 {
            kernel::<S, 8>(simd, self)
        } else {
            kernel::<S, 4>(simd, self)
        }
    }
}

/// Every row of the tile against one packed panel of twelve columns (`c0 .. c0 + cw`) by
/// [`gram_4x12_f64`](crate::simd::micro_avx2::gram_4x12_f64), where it applies (AVX2 and
/// FMA, four `f64` lanes); `false` (nothing done) elsewhere.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn avx2_rows(
    lanes: usize,
    mr: usize,
    (a, rows, d): (&[f64], usize, usize),
    panel: &[f64],
    out: &mut [f64],
    ld: usize,
    (c0, cw): (usize, usize),
) -> bool {
    #[cfg(target_arch = "x86_64")]
    if lanes == 4 && mr == 4 && NR == 3 && crate::simd::micro_avx2::available() {
        assert!(panel.len() >= 12 * d && a.len() >= rows * d && cw <= 12);
        // Whole rows per pass: chunks of 256 inner indices with the sums through `out` (the
        // panel chunk in L1) measured no faster on a Zen 3 core, and the rows in chunks of
        // 256 KiB (to stay in its L2 across the panels) slower (0.92–1.04 s against
        // 0.84–0.95 s for the depth-3 kernel at n = 5000).
        let mut r0 = 0;
        while r0 < rows {
            // Rows past the end repeat the last row; their results are not stored.
            let a4: [*const f64; 4] =
                core::array::from_fn(|r| a[(r0 + r).min(rows - 1) * d..].as_ptr());
            let mut t = [[0.0f64; 4]; 12];
            // SAFETY: AVX2 and FMA were detected; every row pointer has `d` values and the
            // panel `12·d` (checked above).
            unsafe { crate::simd::micro_avx2::gram_4x12_f64(a4, panel.as_ptr(), d, &mut t) };
            for r in 0..4.min(rows - r0) {
                let row = &mut out[(r0 + r) * ld + c0..][..cw];
                for (c, v) in row.iter_mut().enumerate() {
                    *v = t[3 * r + c / 4][c % 4];
                }
            }
            r0 += 4;
        }
        return true;
    }
    let _ = (lanes, mr, a, rows, d, panel, out, ld, c0, cw);
    false
}

#[inline(always)]
fn kernel<S: Simd, const MR: usize>(simd: S, t: GramTile<'_>) {
    let GramTile {
        a,
        rows,
        packed,
        cols,
        d,
        out,
        ld,
    } = t;
    let lanes = S::F64_LANES;
    let w = NR * lanes;
    let mut c0 = 0;
    while c0 < cols {
        let cw = (cols - c0).min(w);
        let panel = &packed[c0 * d..][..d * w];
        if avx2_rows(lanes, MR, (a, rows, d), panel, out, ld, (c0, cw)) {
            c0 += w;
            continue;
        }
        let (pv, _) = S::as_simd_f64s(panel);
        let pv = &pv[..d * NR];
        let mut r0 = 0;
        while r0 < rows {
            // Rows past the end repeat the last row; their results are not stored.
            let arows: [&[f64]; MR] =
                core::array::from_fn(|r| &a[(r0 + r).min(rows - 1) * d..][..d]);
            let mut acc = [[simd.splat_f64s(0.0); NR]; MR];
            for (t, bt) in pv.chunks_exact(NR).enumerate() {
                let bv: [S::f64s; NR] = core::array::from_fn(|c| bt[c]);
                for r in 0..MR {
                    let av = simd.splat_f64s(arows[r][t]);
                    for c in 0..NR {
                        acc[r][c] = simd.mul_add_f64s(av, bv[c], acc[r][c]);
                    }
                }
            }
            for (r, acc_r) in acc.iter().enumerate().take(rows - r0) {
                let row = &mut out[(r0 + r) * ld + c0..][..cw];
                for (c, v) in acc_r.iter().enumerate() {
                    let start = c * lanes;
                    if start >= cw {
                        break;
                    }
                    simd.partial_store_f64s(&mut row[start..(start + lanes).min(cw)], *v);
                }
            }
            r0 += MR;
        }
        c0 += w;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar_dot(x: &[f64], y: &[f64]) -> f64 {
        let mut acc = 0.0f64;
        for (a, b) in x.iter().zip(y) {
            acc = a.mul_add(*b, acc);
        }
        acc
    }

    fn points(n: usize, d: usize, seed: u64) -> Vec<f64> {
        (0..n * d)
            .map(|i| (((i as u64 + 1) * (seed * 2 + 7919)) % 1009) as f64 / 97.0 - 5.0)
            .collect()
    }

    /// Every entry equals the scalar fused sum bit for bit, for ragged shapes that exercise
    /// the row and column remainders of every instruction set's block.
    #[test]
    fn tile_equals_scalar_fused_dot_bitwise() {
        for (rows, cols, d) in [
            (1, 1, 1),
            (5, 7, 3),
            (9, 25, 17),
            (17, 49, 64),
            (33, 3, 130),
        ] {
            let a = points(rows, d, 1);
            let b = points(cols, d, 2);
            let ld = cols + 3;
            let mut out = vec![f64::NAN; rows * ld];
            gram_tile(&a, rows, &b, cols, d, &mut out, ld);
            for i in 0..rows {
                for j in 0..cols {
                    let want = scalar_dot(&a[i * d..][..d], &b[j * d..][..d]);
                    assert_eq!(
                        out[i * ld + j].to_bits(),
                        want.to_bits(),
                        "{rows}x{cols}x{d} [{i},{j}]"
                    );
                    assert_eq!(
                        dot(&a[i * d..][..d], &b[j * d..][..d]).to_bits(),
                        want.to_bits()
                    );
                }
                for j in cols..ld {
                    if i * ld + j < out.len() {
                        assert!(out[i * ld + j].is_nan(), "wrote past the tile");
                    }
                }
            }
        }
    }

    /// Symmetric and odd bitwise, so identical and antipodal points stay exact.
    #[test]
    fn symmetric_and_odd_bitwise() {
        let d = 37;
        let x = points(1, d, 3);
        let y = points(1, d, 4);
        let ny: Vec<f64> = y.iter().map(|v| -v).collect();
        assert_eq!(dot(&x, &y).to_bits(), dot(&y, &x).to_bits());
        assert_eq!(dot(&x, &ny).to_bits(), (-dot(&x, &y)).to_bits());
    }
}
