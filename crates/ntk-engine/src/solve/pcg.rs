//! Preconditioned conjugate gradients for `(K + λI)·A = Y`, all `k` columns of `Y` at once:
//! one recurrence per column (its own step lengths), one shared preconditioner, and one
//! pass over `K` per iteration for the whole block (Hestenes & Stiefel 1952; Saad,
//! "Iterative Methods for Sparse Linear Systems", 2003, Alg. 9.1).
//!
//! ```text
//! R = Y, Z = P⁻¹R, D = Z;  per iteration, for every unconverged column c:
//!   q = (K + λI)·d_c,  α = r_cᵀz_c / d_cᵀq   (d_cᵀq ≤ 0: breakdown, K + λI not PD)
//!   a_c += α·d_c,  r_c −= α·q,  stop when ‖r_c‖ ≤ tol·‖y_c‖
//!   z_c = P⁻¹r_c,  β = r_cᵀz_c (new) / r_cᵀz_c (old),  d_c = z_c + β·d_c
//! ```
//!
//! The residual reported is the true one, `max_c ‖y_c − (K + λI)a_c‖/‖y_c‖`, recomputed with
//! one more pass at the end. Every dot product is a sequential sum, so the iterates are
//! bitwise independent of the thread count.

use std::time::Instant;

use faer::Mat;

use super::operator::KernelOperator;
use super::rpcholesky::Preconditioner;
use super::{Progress, Stage};
use crate::error::{Error, Result};

/// `Σ_i a_i·b_i` over column `c` of two blocks, in order.
fn dot(a: &Mat<f64>, b: &Mat<f64>, c: usize) -> f64 {
    (0..a.nrows()).map(|i| a[(i, c)] * b[(i, c)]).sum()
}

/// `(K + λI)·V`.
pub(crate) fn shifted(op: &KernelOperator<'_>, lambda: f64, v: &Mat<f64>) -> Result<Mat<f64>> {
    let mut kv = op.apply_mat(v)?;
    if lambda != 0.0 {
        kv += faer::Scale(lambda) * v;
    }
    Ok(kv)
}

/// What [`pcg`] returns: the solution and its iteration count and true residual.
pub(crate) struct PcgOutcome {
    pub solution: Mat<f64>,
    pub iterations: usize,
    pub residual: f64,
    pub seconds: f64,
}

/// Solves `(K + λI)·A = Y` to relative residual `tol` per column within `max_iters`
/// iterations. Errors: [`Error::Breakdown`] on non-positive curvature,
/// [`Error::NotConverged`] at the limit.
pub(crate) fn pcg(
    op: &KernelOperator<'_>,
    lambda: f64,
    y: &Mat<f64>,
    precond: &Preconditioner,
    tol: f64,
    max_iters: usize,
    progress: &mut dyn FnMut(&Progress),
) -> Result<PcgOutcome> {
    let start = Instant::now();
    let (n, k) = (y.nrows(), y.ncols());
    let norms: Vec<f64> = (0..k).map(|c| dot(y, y, c).sqrt()).collect();
    let mut x = Mat::<f64>::zeros(n, k);
    let mut r = y.clone();
    let mut z = precond.apply(&r);
    let mut d = z.clone();
    let mut rho: Vec<f64> = (0..k).map(|c| dot(&r, &z, c)).collect();
    let mut active: Vec<bool> = norms.iter().map(|&v| v > 0.0).collect();
    let mut rel = vec![0.0f64; k];
    for c in 0..k {
        rel[c] = if active[c] { 1.0 } else { 0.0 };
    }
    let mut iterations = 0;
    while active.iter().any(|&a| a) {
        if iterations == max_iters {
            return Err(Error::NotConverged {
                method: "pcg".into(),
                iterations,
                residual: rel.iter().copied().fold(0.0, f64::max),
                tol,
            });
        }
        iterations += 1;
        let q = shifted(op, lambda, &d)?;
        for c in 0..k {
            if !active[c] {
                continue;
            }
            let curvature = dot(&d, &q, c);
            if curvature.is_nan() || curvature <= 0.0 || !rho[c].is_finite() {
                return Err(Error::Breakdown {
                    method: "pcg".into(),
                    iteration: iterations,
                    column: c,
                    curvature,
                });
            }
            let alpha = rho[c] / curvature;
            for i in 0..n {
                x[(i, c)] += alpha * d[(i, c)];
                r[(i, c)] -= alpha * q[(i, c)];
            }
            rel[c] = dot(&r, &r, c).sqrt() / norms[c];
            if rel[c] <= tol {
                active[c] = false;
            }
        }
        progress(&Progress {
            stage: Stage::Pcg,
            iteration: iterations,
            max_iters,
            residual: rel.iter().copied().fold(0.0, f64::max),
        });
        if !active.iter().any(|&a| a) {
            break;
        }
        z = precond.apply(&r);
        for c in (0..k).filter(|&c| active[c]) {
            let next = dot(&r, &z, c);
            let beta = next / rho[c];
            rho[c] = next;
            for i in 0..n {
                d[(i, c)] = z[(i, c)] + beta * d[(i, c)];
            }
        }
        for c in (0..k).filter(|&c| !active[c]) {
            for i in 0..n {
                d[(i, c)] = 0.0;
            }
        }
    }
    // The true residual, one more pass.
    let ax = shifted(op, lambda, &x)?;
    let residual = (0..k)
        .filter(|&c| norms[c] > 0.0)
        .map(|c| {
            let s: f64 = (0..n).map(|i| (y[(i, c)] - ax[(i, c)]).powi(2)).sum();
            s.sqrt() / norms[c]
        })
        .fold(0.0, f64::max);
    Ok(PcgOutcome {
        solution: x,
        iterations,
        residual,
        seconds: start.elapsed().as_secs_f64(),
    })
}
