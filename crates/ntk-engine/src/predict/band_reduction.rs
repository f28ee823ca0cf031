//! Stage one of the two-stage tridiagonalisation: a symmetric `A` to a band matrix of
//! half-bandwidth `b`, `B = Q₁ᵀ·A·Q₁`, by blocked Householder transformations whose
//! trailing updates are matrix products (Bischof, Lang & Sun, "A framework for symmetric
//! band reduction", ACM TOMS 26, 2000; LAPACK's `dsytrd_sy2sb`).
//!
//! Panel `p` (columns `j = p·b .. j + b`) is QR-factored below the band, `A[j+b.., j..j+b] =
//! (I − V·T·Vᵀ)·R`, `R` upper triangular: that block of the band becomes `R` and the rows
//! below it zero. The trailing matrix `A₂₂ = A[j+b.., j+b..]` becomes `Qₚᵀ·A₂₂·Qₚ` by the
//! symmetric rank-2b update
//!
//! ```text
//! X = A₂₂·V·T,   W = X − ½·V·(Tᵀ·Vᵀ·X),   A₂₂ ← A₂₂ − V·Wᵀ − W·Vᵀ
//! ```
//!
//! (`4m²b` of the panel's `6m²b` flops in one product of inner size `2b`), so the whole
//! reduction runs at the rate of faer's matrix product, where the one-stage reduction is
//! bound by the memory traffic of a matrix-vector product per column. The work split of
//! every product is the fixed [`Par`] given, so the bits do not depend on the threads.

use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::{Accum, Mat, MatMut, MatRef, Par};
use pulp::Arch;
use rayon::prelude::*;

use super::linalg::mul;
use super::reflector;

/// One panel's block reflector `Qₚ = I − V·T·Vᵀ`, acting on rows `row..n`.
struct Panel {
    row: usize,
    /// `m × r`, unit lower trapezoidal (ones on the diagonal, zeros above, stored).
    v: Mat<f64>,
    /// `r × r`, upper triangular.
    t: Mat<f64>,
}

/// `Q₁ = Q₀·Q₁·…`, the orthogonal factor of the reduction, kept as its panels.
pub(crate) struct BandReduction {
    panels: Vec<Panel>,
    par: Par,
}

impl BandReduction {
    /// Reduces the symmetric `a` in place, its lower triangle read and written (the upper
    /// is neither): on return the lower triangle holds the band `B` (entries `i − j ≤ b`)
    /// and zeros below it.
    pub fn reduce(a: &mut Mat<f64>, b: usize, par: Par) -> Self {
        let n = a.nrows();
        let mut panels = Vec::new();
        let mut j = 0;
        while b > 0 && j + b + 1 < n {
            let row = j + b;
            let m = n - row;
            let mut block = a.as_ref().submatrix(row, j, m, b).to_owned();
            let taus = factor_panel(&mut block);
            let r = taus.len();
            // The band receives R; below it, zeros (the reflectors live in `v`).
            for q in 0..b {
                let col = &mut a.col_as_slice_mut(j + q)[row..];
                let src = block.col_as_slice(q);
                let keep = (q + 1).min(m);
                col[..keep].copy_from_slice(&src[..keep]);
                col[keep..].fill(0.0);
            }
            let v = Mat::from_fn(m, r, |p, q| match p.cmp(&q) {
                core::cmp::Ordering::Less => 0.0,
                core::cmp::Ordering::Equal => 1.0,
                core::cmp::Ordering::Greater => block[(p, q)],
            });
            let t = triangular_factor(&v, &taus);
            update_trailing(a.as_mut().submatrix_mut(row, row, m, m), &v, &t, par);
            panels.push(Panel { row, v, t });
            j += b;
        }
        BandReduction { panels, par }
    }

    /// `X ← Q₁ᵀ·X` (`transpose`) or `X ← Q₁·X`, for `X` of `n` rows.
    pub fn apply(&self, mut x: MatMut<'_, f64>, transpose: bool) {
        let order: Box<dyn Iterator<Item = &Panel>> = if transpose {
            Box::new(self.panels.iter())
        } else {
            Box::new(self.panels.iter().rev())
        };
        for p in order {
            let m = p.v.nrows();
            let mut rows = x.as_mut().subrows_mut(p.row, m);
            // (I − V·T·Vᵀ)ᵀ·X = X − V·(Tᵀ·(Vᵀ·X)); untransposed with T.
            let vtx = mul(p.v.transpose(), rows.as_ref(), self.par);
            let tv = if transpose {
                mul(p.t.transpose(), vtx.as_ref(), Par::Seq)
            } else {
                mul(p.t.as_ref(), vtx.as_ref(), Par::Seq)
            };
            matmul(
                rows.as_mut(),
                Accum::Add,
                p.v.as_ref(),
                tv.as_ref(),
                -1.0,
                self.par,
            );
        }
    }
}

/// Householder QR of the `m × b` panel in place (LAPACK `dgeqr2`): `R` on and above the
/// diagonal, the reflectors' `v` below it. Returns the `τ`s of the `min(m − 1, b)`
/// reflectors.
fn factor_panel(p: &mut Mat<f64>) -> Vec<f64> {
    let (m, b) = (p.nrows(), p.ncols());
    let r = (m - 1).min(b);
    let mut taus = Vec::with_capacity(r);
    let mut v = vec![0.0; m];
    for i in 0..r {
        let tau = reflector::make(&mut p.col_as_slice_mut(i)[i..]);
        taus.push(tau);
        if tau == 0.0 {
            continue;
        }
        v[i] = 1.0;
        v[i + 1..].copy_from_slice(&p.col_as_slice(i)[i + 1..]);
        for c in i + 1..b {
            let col = &mut p.col_as_slice_mut(c)[i..];
            Arch::new().dispatch(Apply {
                v: &v[i..],
                tau,
                y: col,
            });
        }
    }
    taus
}

/// One reflector applied to one column, as a `WithSimd` whose body each instruction set
/// compiles with its target features (a closure's body was compiled once without them and
/// called from the dispatched code).
struct Apply<'a> {
    v: &'a [f64],
    tau: f64,
    y: &'a mut [f64],
}

impl pulp::WithSimd for Apply<'_> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        reflector::apply(self.v, self.tau, self.y)
    }
}

/// The upper triangular `T` with `H₀·H₁·…·H_{r−1} = I − V·T·Vᵀ` (LAPACK `dlarft`,
/// forward, columnwise): `T[i,i] = τᵢ`, `T[..i, i] = −τᵢ·T[..i, ..i]·(V[:, ..i]ᵀ·vᵢ)`.
fn triangular_factor(v: &Mat<f64>, taus: &[f64]) -> Mat<f64> {
    let r = taus.len();
    let mut t = Mat::<f64>::zeros(r, r);
    for i in 0..r {
        t[(i, i)] = taus[i];
        if i == 0 || taus[i] == 0.0 {
            continue;
        }
        let vi = &v.col_as_slice(i)[i..];
        let w: Vec<f64> = (0..i)
            .map(|q| reflector::dot(&v.col_as_slice(q)[i..], vi))
            .collect();
        for p in 0..i {
            let s: f64 = (p..i).map(|q| t[(p, q)] * w[q]).sum();
            t[(p, i)] = -taus[i] * s;
        }
    }
    t
}

/// Tile edge of [`symmetric_times`]: a `f64` tile of 256² (512 KiB) stays in L2 while it
/// serves both of its products.
const SYMM_TILE: usize = 256;

/// `A·V` for the symmetric `A` of which only the lower triangle is read, reading each of
/// its tiles once: tile `(I, J)` below the diagonal gives `Y_I += A_IJ·V_J` and
/// `Y_J += A_IJᵀ·V_I` while it is in cache (half the memory traffic of a product with
/// the whole matrix, which is what bounds this thin product).
///
/// Each tile column `J` is one task with its own accumulator (tiles in a fixed order, each
/// product sequential); the accumulators are then summed in the order of `J`. So the
/// bits depend on the matrix alone, not on the threads. `par` only says whether to run
/// the tasks in parallel.
fn symmetric_times(a: MatRef<'_, f64>, v: MatRef<'_, f64>, par: Par) -> Mat<f64> {
    let (m, r) = (a.nrows(), v.ncols());
    let nb = m.div_ceil(SYMM_TILE);
    let column = |j: usize| {
        let j0 = j * SYMM_TILE;
        let jw = SYMM_TILE.min(m - j0);
        // Rows j0..m of the result.
        let mut y = Mat::<f64>::zeros(m - j0, r);
        let ajj = a.submatrix(j0, j0, jw, jw);
        let vj = v.subrows(j0, jw);
        for (structure, lhs, accum) in [
            (BlockStructure::TriangularLower, ajj, Accum::Add),
            (
                BlockStructure::StrictTriangularUpper,
                ajj.transpose(),
                Accum::Add,
            ),
        ] {
            triangular::matmul(
                y.as_mut().subrows_mut(0, jw),
                BlockStructure::Rectangular,
                accum,
                lhs,
                structure,
                vj,
                BlockStructure::Rectangular,
                1.0,
                Par::Seq,
            );
        }
        let mut i0 = j0 + jw;
        while i0 < m {
            let iw = SYMM_TILE.min(m - i0);
            let aij = a.submatrix(i0, j0, iw, jw);
            matmul(
                y.as_mut().subrows_mut(i0 - j0, iw),
                Accum::Add,
                aij,
                vj,
                1.0,
                Par::Seq,
            );
            let vi = v.subrows(i0, iw);
            matmul(
                y.as_mut().subrows_mut(0, jw),
                Accum::Add,
                aij.transpose(),
                vi,
                1.0,
                Par::Seq,
            );
            i0 += iw;
        }
        y
    };
    let parts: Vec<Mat<f64>> = match par {
        Par::Seq => (0..nb).map(column).collect(),
        _ => (0..nb).into_par_iter().map(column).collect(),
    };
    let mut y = Mat::<f64>::zeros(m, r);
    for (j, part) in parts.iter().enumerate() {
        let j0 = j * SYMM_TILE;
        for c in 0..r {
            let dst = &mut y.col_as_slice_mut(c)[j0..];
            for (d, s) in dst.iter_mut().zip(part.col(c).iter()) {
                *d += s;
            }
        }
    }
    y
}

/// `A₂₂ ← (I − V·T·Vᵀ)ᵀ·A₂₂·(I − V·T·Vᵀ)`, lower triangle read and written, by the
/// rank-2b update.
fn update_trailing(a22: MatMut<'_, f64>, v: &Mat<f64>, t: &Mat<f64>, par: Par) {
    let (m, r) = (v.nrows(), v.ncols());
    let av = symmetric_times(a22.as_ref(), v.as_ref(), par);
    let mut w = mul(av.as_ref(), t.as_ref(), Par::Seq);
    let vtx = mul(v.transpose(), w.as_ref(), par);
    let c = mul(t.transpose(), vtx.as_ref(), Par::Seq);
    matmul(
        w.as_mut(),
        Accum::Add,
        v.as_ref(),
        c.as_ref(),
        -0.5,
        Par::Seq,
    );
    let mut left = Mat::<f64>::zeros(m, 2 * r);
    let mut right = Mat::<f64>::zeros(m, 2 * r);
    left.as_mut().subcols_mut(0, r).copy_from(v);
    left.as_mut().subcols_mut(r, r).copy_from(&w);
    right.as_mut().subcols_mut(0, r).copy_from(&w);
    right.as_mut().subcols_mut(r, r).copy_from(v);
    triangular::matmul(
        a22,
        BlockStructure::TriangularLower,
        Accum::Add,
        left.as_ref(),
        BlockStructure::Rectangular,
        right.transpose(),
        BlockStructure::Rectangular,
        -1.0,
        par,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sym(n: usize) -> Mat<f64> {
        Mat::from_fn(n, n, |i, j| {
            let (i, j) = (i.max(j), i.min(j));
            ((i * 7919 + j * 104_729) % 1009) as f64 / 1009.0 + if i == j { 5.0 } else { 0.0 }
        })
    }

    /// `Q₁·B·Q₁ᵀ = A` with `B` banded, `Q₁ᵀ·Q₁ = I`: checked densely (tolerance 1e-12 of
    /// `‖A‖_max·n`, rounding of `O(n)` reflectors).
    /// The tiled symmetric product equals the plain one on the whole symmetric matrix
    /// (tolerance 1e-13 relative: another order of the same sums), for sizes around the
    /// tile edge, and its bits do not depend on whether the tiles run in parallel.
    #[test]
    fn symmetric_product_from_the_lower_triangle() {
        for m in [
            1,
            7,
            SYMM_TILE - 1,
            SYMM_TILE,
            SYMM_TILE + 1,
            2 * SYMM_TILE + 50,
        ] {
            let full = sym(m);
            // Garbage above the diagonal: it must not be read.
            let lower = Mat::from_fn(m, m, |i, j| if i >= j { full[(i, j)] } else { f64::NAN });
            let v = Mat::from_fn(m, 5, |i, c| ((i * 13 + c * 7) % 17) as f64 - 8.0);
            let want = mul(full.as_ref(), v.as_ref(), Par::Seq);
            let seq = symmetric_times(lower.as_ref(), v.as_ref(), Par::Seq);
            let par = symmetric_times(lower.as_ref(), v.as_ref(), Par::rayon(3));
            for c in 0..5 {
                for i in 0..m {
                    assert_eq!(seq[(i, c)].to_bits(), par[(i, c)].to_bits());
                    let scale = 8.0 * 6.0 * m as f64;
                    assert!((seq[(i, c)] - want[(i, c)]).abs() < 1e-13 * scale, "m {m}");
                }
            }
        }
    }

    #[test]
    fn reconstructs_the_matrix() {
        for (n, b) in [(1, 4), (5, 4), (9, 4), (40, 8), (100, 16), (131, 7)] {
            let a = sym(n);
            let mut band = a.clone();
            let q = BandReduction::reduce(&mut band, b, Par::Seq);
            let bfull = Mat::from_fn(n, n, |i, j| {
                let (hi, lo) = (i.max(j), i.min(j));
                assert!(
                    hi - lo <= b || band[(hi, lo)] == 0.0,
                    "n {n}: ({hi},{lo}) not zero"
                );
                if hi - lo <= b { band[(hi, lo)] } else { 0.0 }
            });
            // Q₁·B·Q₁ᵀ = Q₁·(Q₁·B)ᵀ
            let mut qb = bfull.clone();
            q.apply(qb.as_mut(), false);
            let mut qbqt = qb.transpose().to_owned();
            q.apply(qbqt.as_mut(), false);
            let err = (0..n)
                .flat_map(|i| (0..n).map(move |j| (i, j)))
                .map(|(i, j)| (qbqt[(i, j)] - a[(i, j)]).abs())
                .fold(0.0, f64::max);
            assert!(err < 1e-12 * 6.0 * n as f64, "n {n} b {b}: {err:e}");
            let mut x = Mat::from_fn(n, 2, |i, c| (i + c) as f64);
            let x0 = x.clone();
            q.apply(x.as_mut(), true);
            q.apply(x.as_mut(), false);
            let err = (0..n)
                .flat_map(|i| (0..2).map(move |c| (i, c)))
                .map(|(i, c)| (x[(i, c)] - x0[(i, c)]).abs())
                .fold(0.0, f64::max);
            assert!(err < 1e-12 * n as f64, "n {n}: {err:e}");
        }
    }
}
