//! Stage two of the two-stage tridiagonalisation: a symmetric band matrix of half-bandwidth
//! `b` to tridiagonal form, `T = Q₂ᵀ·B·Q₂`, by Householder bulge chasing (Lang, "A parallel
//! algorithm for reducing symmetric banded matrices to tridiagonal form", SIAM J. Sci.
//! Comput. 14, 1993; the three kernels of Haidar, Ltaief & Dongarra, SC'11, as in LAPACK's
//! `dsb2st_kernels`).
//!
//! Sweep `i` annihilates column `i` below its subdiagonal with one reflector on rows
//! `i+1 ..= i+b`, applied on both sides of the diagonal block it spans; applied from the
//! right to the `b` rows below, it fills them (the bulge). The next reflector annihilates
//! only the first column of the bulge and is applied from the left to the rest of the
//! bulge, on both sides of the next diagonal block, and from the right below it; and so on
//! to the end of the matrix. The part of each bulge left standing lies exactly where the
//! next sweep's bulges fall, and is removed by them. `O(n²·b)` flops in all, on blocks of
//! `b × b`; the reflectors (`n²/2` numbers) are kept to apply `Q₂` later.

use faer::{Mat, MatMut};
use pulp::Arch;
use rayon::prelude::*;

use super::reflector;

/// One reflector of the chase: `H = I − τ·v·vᵀ` on rows `row .. row + len`, `v` at
/// `at .. at + len` of [`BulgeChase::vs`] (with its leading 1 stored).
struct Step {
    row: usize,
    len: usize,
    at: usize,
    tau: f64,
}

/// `Q₂ = H₁·H₂·…`, the product of the chase's reflectors in the order they were made.
pub(crate) struct BulgeChase {
    steps: Vec<Step>,
    vs: Vec<f64>,
}

/// The tridiagonal matrix: diagonal and subdiagonal.
pub(crate) struct Tridiagonal {
    pub diag: Vec<f64>,
    pub sub: Vec<f64>,
}

impl BulgeChase {
    /// Reduces the band held in the lower triangle of `a` (entries `i − j ≤ b`; nothing
    /// else is read) to tridiagonal form.
    ///
    /// The work is done in a copy of the band with room for the bulges: column `c` keeps
    /// rows `c .. c + 2b` contiguously, element `(r, c)` at `c·(2b − 1) + r`, so every
    /// column segment below is one slice of a buffer of `2b·n` numbers.
    pub fn reduce(a: &Mat<f64>, b: usize) -> (Self, Tridiagonal) {
        let n = a.nrows();
        let mut chase = BulgeChase {
            steps: Vec::new(),
            vs: Vec::with_capacity(n * n / 2 + n),
        };
        let b = b.max(1);
        let stride = 2 * b - 1;
        let mut data = vec![0.0; n * 2 * b + 1];
        for c in 0..n {
            for r in c..(c + b + 1).min(n) {
                data[c * stride + r] = a[(r, c)];
            }
        }
        if b >= 2 {
            let mut v = vec![0.0; b];
            let mut y = vec![0.0; b];
            Arch::new().dispatch(
                #[inline(always)]
                || {
                    for i in 0..n.saturating_sub(2) {
                        let (mut col, mut st) = (i, i + 1);
                        let mut len = b.min(n - st);
                        while len >= 2 {
                            let x = &mut data[col * stride + st..col * stride + st + len];
                            let tau = reflector::make(x);
                            v[0] = 1.0;
                            v[1..len].copy_from_slice(&x[1..]);
                            x[1..].fill(0.0);
                            let v = &v[..len];
                            if tau != 0.0 {
                                // The rest of the bulge, from the left.
                                for c in col + 1..st {
                                    let s = c * stride + st;
                                    reflector::apply(v, tau, &mut data[s..s + len]);
                                }
                                two_sided(&mut data, stride, st, v, tau, &mut y[..len]);
                                // The rows below, from the right: B ← B − τ·(B·v)·vᵀ.
                                let rb = st + len;
                                let lb = b.min(n - rb);
                                if lb > 0 {
                                    let z = &mut y[..lb];
                                    z.fill(0.0);
                                    for (q, &vq) in v.iter().enumerate() {
                                        let s = (st + q) * stride + rb;
                                        reflector::axpy(vq, &data[s..s + lb], z);
                                    }
                                    for (q, &vq) in v.iter().enumerate() {
                                        let s = (st + q) * stride + rb;
                                        reflector::axpy(-tau * vq, z, &mut data[s..s + lb]);
                                    }
                                }
                            }
                            chase.steps.push(Step {
                                row: st,
                                len,
                                at: chase.vs.len(),
                                tau,
                            });
                            chase.vs.extend_from_slice(v);
                            col = st;
                            st += len;
                            len = b.min(n - st);
                        }
                    }
                },
            );
        }
        let diag = (0..n).map(|i| data[i * stride + i]).collect();
        let sub = (0..n.saturating_sub(1))
            .map(|i| data[i * stride + i + 1])
            .collect();
        (chase, Tridiagonal { diag, sub })
    }

    /// `X ← Q₂ᵀ·X` (`transpose`) or `X ← Q₂·X`, for `X` of `n` rows. Columns are
    /// independent: blocks of [`COLUMN_BLOCK`] run in parallel (the same operations on each
    /// column, whatever the threads), each block taking the reflectors in one pass.
    pub fn apply(&self, x: MatMut<'_, f64>, transpose: bool) {
        x.par_col_chunks_mut(COLUMN_BLOCK).for_each(|mut block| {
            let mut cols: Vec<&mut [f64]> = Vec::with_capacity(COLUMN_BLOCK);
            let mut rest = block.as_mut();
            while rest.ncols() > 0 {
                let (first, tail) = rest.split_at_col_mut(1);
                cols.push(
                    first
                        .col_mut(0)
                        .try_as_col_major_mut()
                        .expect("faer columns are contiguous")
                        .as_slice_mut(),
                );
                rest = tail;
            }
            Arch::new().dispatch(
                #[inline(always)]
                || {
                    let mut one = |s: &Step| {
                        let v = &self.vs[s.at..s.at + s.len];
                        for col in cols.iter_mut() {
                            reflector::apply(v, s.tau, &mut col[s.row..s.row + s.len]);
                        }
                    };
                    if transpose {
                        self.steps.iter().for_each(&mut one);
                    } else {
                        self.steps.iter().rev().for_each(&mut one);
                    }
                },
            );
        });
    }
}

/// Columns per parallel task of [`BulgeChase::apply`].
const COLUMN_BLOCK: usize = 8;

/// `D ← H·D·H` for the symmetric block `D` at rows and columns `st .. st + len` (lower
/// triangle read and written; LAPACK `dsytd2`): `y = τ·D·v`, `w = y − ½·τ·(yᵀv)·v`,
/// `D ← D − v·wᵀ − w·vᵀ`.
#[inline(always)]
fn two_sided(data: &mut [f64], stride: usize, st: usize, v: &[f64], tau: f64, y: &mut [f64]) {
    let len = v.len();
    y.fill(0.0);
    for c in 0..len {
        let col = &data[(st + c) * stride + st + c..(st + c) * stride + st + len];
        // Column c of the lower triangle: D[c..len, c].
        y[c] += col[0] * v[c];
        y[c] += reflector::dot(&col[1..], &v[c + 1..]);
        reflector::axpy(v[c], &col[1..], &mut y[c + 1..]);
    }
    for e in y.iter_mut() {
        *e *= tau;
    }
    let alpha = -0.5 * tau * reflector::dot(y, v);
    reflector::axpy(alpha, v, y);
    for c in 0..len {
        let col = &mut data[(st + c) * stride + st + c..(st + c) * stride + st + len];
        reflector::axpy(-y[c], &v[c..], col);
        reflector::axpy(-v[c], &y[c..], col);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn band(n: usize, b: usize) -> Mat<f64> {
        Mat::from_fn(n, n, |i, j| {
            if i < j || i - j > b {
                0.0
            } else {
                ((i * 7919 + j * 104_729) % 1009) as f64 / 1009.0 - 0.3
            }
        })
    }

    /// `Q₂·T·Q₂ᵀ = B` (tolerance `1e-13·n`: rounding of `O(n²/b)` reflectors, each on `b`
    /// entries) and `Q₂ᵀ·Q₂ = I`.
    #[test]
    fn reconstructs_the_band() {
        for (n, b) in [
            (0, 3),
            (1, 3),
            (2, 3),
            (3, 2),
            (10, 3),
            (37, 4),
            (64, 8),
            (101, 16),
        ] {
            let bm = band(n, b);
            let (q, t) = BulgeChase::reduce(&bm, b);
            let tm = Mat::from_fn(n, n, |i, j| {
                if i == j {
                    t.diag[i]
                } else if i == j + 1 {
                    t.sub[j]
                } else if j == i + 1 {
                    t.sub[i]
                } else {
                    0.0
                }
            });
            let mut qt = tm.clone();
            q.apply(qt.as_mut(), false);
            let mut qtq = qt.transpose().to_owned();
            q.apply(qtq.as_mut(), false);
            let err = (0..n)
                .flat_map(|i| (0..n).map(move |j| (i, j)))
                .map(|(i, j)| {
                    let full = if i >= j { bm[(i, j)] } else { bm[(j, i)] };
                    (qtq[(i, j)] - full).abs()
                })
                .fold(0.0, f64::max);
            assert!(err < 1e-13 * (n.max(1) as f64), "n {n} b {b}: {err:e}");
        }
    }
}
