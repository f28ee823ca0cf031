//! The preconditioner of the conjugate gradients: a rank-`r` approximation `K ≈ F·Fᵀ` by
//! **randomly pivoted Cholesky**, applied as `(F·Fᵀ + μI)⁻¹` by the Woodbury identity.
//!
//! Randomly pivoted Cholesky (Chen, Epperly, Tropp & Webber 2023, "Randomly pivoted
//! Cholesky: practical approximation of a kernel matrix with few entry evaluations";
//! as a preconditioner for kernel ridge regression: Díaz, Epperly, Frangella, Tropp &
//! Webber 2023, arXiv 2304.12465) picks pivot `s` with probability proportional to the
//! diagonal of the residual `K − F·Fᵀ`, and appends the residual's column `s` scaled by
//! `1/√(residual_ss)`:
//!
//! ```text
//! d = diag(K);  repeat r times:  s ~ d/Σd,  g = K[:, s] − F·F[s, :]ᵀ,
//!                                F ← [F, g/√g_s],  d ← d − (g/√g_s)²
//! ```
//!
//! **Why this one, not Nyström:** it needs only the diagonal and `r` rows of `K` (`O(r·n)`
//! entries), never a pass over the whole kernel, which matters when every pass streams a
//! file of many gigabytes or recomputes the kernel; it adapts to the spectrum (pivots land
//! where the residual is large) and carries a near-optimal trace-norm guarantee; a
//! Gaussian Nyström sketch of rank `r` costs a full `K·Ω` pass. Pivots are drawn
//! [`BLOCK`] at a time so the matrix-free sources compute rows in batches; within a block
//! they are taken one by one exactly as above (a pivot whose residual has fallen to zero is
//! skipped), so the result is the sequential algorithm's.
//!
//! The preconditioner is `P = F·Fᵀ + μI` with `μ = λ` (the ridge) when `λ > 0`, else the
//! mean of the residual diagonal `Σd/n` (the size of what `F` left out). By Woodbury,
//! `P⁻¹·R = (R − F·M⁻¹·Fᵀ·R)/μ` with the `r × r` Cholesky factor of `M = μI + Fᵀ·F`.

use faer::{Mat, Par};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{Rng, SeedableRng};

use super::operator::KernelOperator;
use crate::error::Result;
use crate::predict::linalg;

/// Pivots drawn (and rows of `K` computed) at a time.
pub const BLOCK: usize = 32;

/// The preconditioner `(F·Fᵀ + μI)⁻¹`, or the identity at rank 0.
#[derive(Debug)]
pub(crate) struct Preconditioner {
    /// `n × r`.
    f: Mat<f64>,
    /// The shift `μ`.
    mu: f64,
    /// Lower Cholesky factor of `μI + FᵀF`.
    l: Mat<f64>,
}

/// A uniform draw in `[0, 1)` from the top 53 bits.
fn uniform(rng: &mut Xoshiro256PlusPlus) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

impl Preconditioner {
    /// No preconditioning.
    pub fn identity(n: usize) -> Self {
        Preconditioner {
            f: Mat::zeros(n, 0),
            mu: 1.0,
            l: Mat::zeros(0, 0),
        }
    }

    /// Rank of `F` (may be below the rank asked for when the kernel's numerical rank is).
    pub fn rank(&self) -> usize {
        self.f.ncols()
    }

    /// Randomly pivoted Cholesky of rank up to `rank` of the square kernel `op` with
    /// diagonal `diag`, for the system `K + λI`; pivots drawn from `seed`.
    pub fn rpcholesky(
        op: &KernelOperator<'_>,
        diag: &[f64],
        rank: usize,
        lambda: f64,
        seed: u64,
    ) -> Result<Self> {
        let n = diag.len();
        let mut d: Vec<f64> = diag.iter().map(|&v| v.max(0.0)).collect();
        let trace: f64 = d.iter().sum();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut cols: Vec<Vec<f64>> = Vec::new();
        let mut idle = 0;
        while cols.len() < rank && idle < 4 {
            let total: f64 = d.iter().sum();
            if total.is_nan() || total <= 1e-14 * trace {
                break;
            }
            // Draw a block of pivots ∝ d (with replacement; repeats dropped).
            let want = BLOCK.min(rank - cols.len());
            let mut picks: Vec<usize> = Vec::with_capacity(want);
            for _ in 0..want {
                let u = uniform(&mut rng) * total;
                let mut acc = 0.0;
                let mut s = n - 1;
                for (i, &v) in d.iter().enumerate() {
                    acc += v;
                    if u < acc {
                        s = i;
                        break;
                    }
                }
                if !picks.contains(&s) {
                    picks.push(s);
                }
            }
            // Residual columns K[:, S] − F·F[S, :]ᵀ (K symmetric: its rows S).
            let rows = op.rows_at(&picks)?;
            let r0 = cols.len();
            let mut g = Mat::from_fn(n, picks.len(), |i, c| rows[c * n + i]);
            if r0 > 0 {
                let f = Mat::from_fn(n, r0, |i, c| cols[c][i]);
                let fs = Mat::from_fn(picks.len(), r0, |p, c| cols[c][picks[p]]);
                let ffs = linalg::mul(f.as_ref(), fs.transpose(), Par::Seq);
                g -= &ffs;
            }
            let before = cols.len();
            for (p, &s) in picks.iter().enumerate() {
                let mut col: Vec<f64> = (0..n).map(|i| g[(i, p)]).collect();
                for c in &cols[before..] {
                    let w = c[s];
                    for (x, &y) in col.iter_mut().zip(c) {
                        *x -= w * y;
                    }
                }
                let pivot = col[s];
                // A pivot the earlier columns already explain (or rounding made ≤ 0).
                if pivot.is_nan() || pivot <= 1e-12 * diag[s].abs().max(f64::MIN_POSITIVE) {
                    continue;
                }
                let scale = 1.0 / pivot.sqrt();
                col.iter_mut().for_each(|x| *x *= scale);
                for (di, &x) in d.iter_mut().zip(&col) {
                    *di = (*di - x * x).max(0.0);
                }
                d[s] = 0.0;
                cols.push(col);
            }
            idle = if cols.len() == before { idle + 1 } else { 0 };
        }
        let r = cols.len();
        let f = Mat::from_fn(n, r, |i, c| cols[c][i]);
        let residual: f64 = d.iter().sum::<f64>() / n.max(1) as f64;
        let mu = if lambda > 0.0 {
            lambda
        } else if residual > 0.0 {
            residual
        } else {
            1e-12 * trace / n.max(1) as f64
        };
        let mut m = linalg::mul(f.transpose(), f.as_ref(), Par::Seq);
        for i in 0..r {
            m[(i, i)] += mu;
        }
        let l = linalg::cholesky(m.as_ref(), Par::Seq)?;
        Ok(Preconditioner { f, mu, l })
    }

    /// `P⁻¹·R`.
    pub fn apply(&self, r: &Mat<f64>) -> Mat<f64> {
        if self.rank() == 0 {
            return r.clone();
        }
        let ftr = linalg::mul(self.f.transpose(), r.as_ref(), Par::Seq);
        let c = linalg::cholesky_solve(self.l.as_ref(), ftr.as_ref(), Par::Seq);
        let fc = linalg::mul(self.f.as_ref(), c.as_ref(), Par::Seq);
        let inv = 1.0 / self.mu;
        Mat::from_fn(r.nrows(), r.ncols(), |i, j| (r[(i, j)] - fc[(i, j)]) * inv)
    }
}
