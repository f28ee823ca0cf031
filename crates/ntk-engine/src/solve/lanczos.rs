//! Block Lanczos for matrix functions `f(A)·R` with `A = K + λI` symmetric: one Krylov
//! basis serves every function and every time.
//!
//! With `R = Q₁B₀` (thin QR) the block Lanczos recurrence (Golub & Underwood 1977) builds an
//! orthonormal basis `Q = [Q₁ … Q_m]` of `span{R, AR, …, A^{m−1}R}` and the block
//! tridiagonal `T = Qᵀ·A·Q` (diagonal blocks `A_j = Q_jᵀAQ_j`, off-diagonal `B_j` from
//! `AQ_j − Q_jA_j − Q_{j−1}B_{j−1}ᵀ = Q_{j+1}B_j`), with full reorthogonalisation (twice,
//! classical Gram–Schmidt) so `Q` stays orthonormal to rounding. Then
//!
//! ```text
//! f(A)·R ≈ Q·f(T)·E₁·B₀ = Q·S·diag(f(θ))·Sᵀ·E₁·B₀,   T = S·diag(θ)·Sᵀ
//! ```
//!
//! (Gallopoulos & Saad 1992; Higham, "Functions of Matrices", 2008, §13.2): the error is that
//! of the best polynomial of degree `< m` on the spectrum, so it falls fastest for smooth
//! `f`. The error estimate used to stop is the size of the next block's coefficient,
//! `‖B_m·[f(T)·E₁·B₀]_m‖ / ‖f(T)·E₁·B₀‖` (exact for `f(λ) = 1/λ`, where it is the
//! residual of the Galerkin solution), its maximum over every requested function and time.
//!
//! That estimate only sees the Ritz values found so far: for `e^{−sλ}` with a long time
//! `s`, a basis that has not yet reached the small eigenvalues (where `e^{−sλ}` is far
//! from 0) would look converged. So it is trusted only from `m ≥ √(s·ρ)` blocks on, `ρ ≥
//! λ_max` bounded by `‖T‖_∞`: the onset of the superlinear convergence of Lanczos for the
//! exponential on a spectrum in `[0, ρ]` (Hochbruck & Lubich 1997, "On Krylov subspace
//! approximations to the matrix exponential operator", Thm. 2). Before that no estimate is
//! accepted; the basis may grow to the whole space (`⌈n/k⌉` blocks), where it is exact.
//! A direction whose new block column vanishes (an invariant subspace) is deflated: its
//! column of `Q` is zero and it drops out of `T`.

use std::time::Instant;

use faer::{Mat, Par};

use super::operator::KernelOperator;
use super::pcg::shifted;
use super::{Progress, Stage};
use crate::error::{Error, Result};
use crate::predict::linalg;

/// A column whose norm falls below this fraction of its norm before orthogonalisation is
/// deflated (it lies in the space already spanned).
const DEFLATE: f64 = 1e-10;

/// The Krylov basis, the projected matrix, and `B₀`.
pub(crate) struct Krylov {
    /// The blocks `Q_j`, `n × k` each.
    q: Vec<Mat<f64>>,
    /// Eigenvalues of `T` (Ritz values).
    theta: Vec<f64>,
    /// `Sᵀ·E₁·B₀` (`m·k × k`).
    coords: Mat<f64>,
    /// Eigenvectors `S` of `T`.
    s: Mat<f64>,
    pub iterations: usize,
    pub estimate: f64,
    pub seconds: f64,
}

/// Orthonormalises the columns of `w` in place against the blocks of `basis` and among
/// themselves, twice (CGS2); returns the `k × k` upper-triangular `B` with
/// `w_in = Q·B` (restricted to the new directions). Deflated columns become zero.
fn orthonormalise(w: &mut Mat<f64>, basis: &[Mat<f64>]) -> Mat<f64> {
    let (n, k) = (w.nrows(), w.ncols());
    let before: Vec<f64> = (0..k)
        .map(|c| (0..n).map(|i| w[(i, c)] * w[(i, c)]).sum::<f64>().sqrt())
        .collect();
    for _ in 0..2 {
        // Classical Gram–Schmidt against the whole basis: every projection from the same W.
        let hs: Vec<Mat<f64>> = basis
            .iter()
            .map(|q| linalg::mul(q.transpose(), w.as_ref(), Par::Seq))
            .collect();
        for (q, h) in basis.iter().zip(&hs) {
            *w -= &linalg::mul(q.as_ref(), h.as_ref(), Par::Seq);
        }
    }
    let mut b = Mat::<f64>::zeros(k, k);
    for c in 0..k {
        for _ in 0..2 {
            for p in 0..c {
                let h: f64 = (0..n).map(|i| w[(i, p)] * w[(i, c)]).sum();
                b[(p, c)] += h;
                for i in 0..n {
                    let v = w[(i, p)];
                    w[(i, c)] -= h * v;
                }
            }
        }
        let norm: f64 = (0..n).map(|i| w[(i, c)] * w[(i, c)]).sum::<f64>().sqrt();
        if norm <= DEFLATE * before[c] || norm == 0.0 {
            for i in 0..n {
                w[(i, c)] = 0.0;
            }
            continue;
        }
        b[(c, c)] = norm;
        for i in 0..n {
            w[(i, c)] /= norm;
        }
    }
    b
}

/// The block tridiagonal `T` of `m` blocks of size `k`.
fn assemble(diag: &[Mat<f64>], off: &[Mat<f64>], k: usize) -> Mat<f64> {
    let m = diag.len();
    let mut t = Mat::<f64>::zeros(m * k, m * k);
    for (j, a) in diag.iter().enumerate() {
        for p in 0..k {
            for q in 0..k {
                t[(j * k + p, j * k + q)] = 0.5 * (a[(p, q)] + a[(q, p)]);
            }
        }
    }
    for (j, b) in off.iter().enumerate().take(m.saturating_sub(1)) {
        for p in 0..k {
            for q in 0..k {
                t[((j + 1) * k + p, j * k + q)] = b[(p, q)];
                t[(j * k + q, (j + 1) * k + p)] = b[(p, q)];
            }
        }
    }
    t
}

impl Krylov {
    /// `f(T)·E₁·B₀` in the Krylov basis (`m·k × k`).
    fn small(&self, f: &dyn Fn(f64) -> f64) -> Mat<f64> {
        let scaled = linalg::scale_rows(
            &self.theta.iter().map(|&l| f(l)).collect::<Vec<_>>(),
            self.coords.as_ref(),
        );
        linalg::mul(self.s.as_ref(), scaled.as_ref(), Par::Seq)
    }

    /// `f(A)·R ≈ Q·f(T)·E₁·B₀` (`n × k`).
    pub fn apply(&self, f: &dyn Fn(f64) -> f64) -> Mat<f64> {
        let c = self.small(f);
        let k = c.ncols();
        let mut out = Mat::<f64>::zeros(self.q.first().map_or(0, |q| q.nrows()), k);
        for (j, q) in self.q.iter().enumerate() {
            out += &linalg::mul(q.as_ref(), c.subrows(j * k, k), Par::Seq);
        }
        out
    }
}

/// The Ritz values and vectors of `T`, `Sᵀ·E₁·B₀`, and the error estimate.
struct Ritz {
    theta: Vec<f64>,
    s: Mat<f64>,
    coords: Mat<f64>,
    estimate: f64,
}

/// The error estimate of every function in `fs` for the current `T`.
fn estimate(
    t: &Mat<f64>,
    b0: &Mat<f64>,
    last: &Mat<f64>,
    k: usize,
    fs: &[&dyn Fn(f64) -> f64],
) -> Result<Ritz> {
    let mk = t.nrows();
    let eig = linalg::eigh(t.as_ref())
        .map_err(|e| Error::invalid("Lanczos projection", format!("{mk}×{mk} matrix"), e))?;
    let e1b0 = Mat::from_fn(mk, k, |i, j| if i < k { b0[(i, j)] } else { 0.0 });
    let coords = linalg::mul(eig.vectors.transpose(), e1b0.as_ref(), Par::Seq);
    let mut worst = 0.0f64;
    for f in fs {
        let d: Vec<f64> = eig.values.iter().map(|&l| f(l)).collect();
        let u = linalg::mul(
            eig.vectors.as_ref(),
            linalg::scale_rows(&d, coords.as_ref()).as_ref(),
            Par::Seq,
        );
        let total: f64 = (0..mk)
            .flat_map(|i| (0..k).map(move |j| (i, j)))
            .map(|(i, j)| u[(i, j)] * u[(i, j)])
            .sum::<f64>()
            .sqrt();
        let tail = u.subrows(mk - k, k);
        let next = linalg::mul(last.as_ref(), tail, Par::Seq);
        let err: f64 = (0..k)
            .flat_map(|i| (0..k).map(move |j| (i, j)))
            .map(|(i, j)| next[(i, j)] * next[(i, j)])
            .sum::<f64>()
            .sqrt();
        if total > 0.0 {
            worst = worst.max(err / total);
        }
    }
    Ok(Ritz {
        theta: eig.values,
        s: eig.vectors,
        coords,
        estimate: worst,
    })
}

/// `‖T‖_∞`, the largest absolute row sum: a bound on every Ritz value.
fn inf_norm(t: &Mat<f64>) -> f64 {
    (0..t.nrows())
        .map(|i| (0..t.ncols()).map(|j| t[(i, j)].abs()).sum::<f64>())
        .fold(0.0, f64::max)
}

/// Builds the Krylov basis of `A = K + λI` from `r` until the error estimate of every
/// function in `fs` is `≤ tol` (or the space is invariant); at most `max_iters` blocks.
/// `s_max` is the longest scaled time among the functions (`e^{−s·λ}`-like), which sets
/// the iterations before the estimate is trusted.
#[allow(clippy::too_many_arguments)]
pub(crate) fn lanczos(
    op: &KernelOperator<'_>,
    lambda: f64,
    r: &Mat<f64>,
    fs: &[&dyn Fn(f64) -> f64],
    s_max: f64,
    tol: f64,
    max_iters: usize,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Krylov> {
    let start = Instant::now();
    let (n, k) = (r.nrows(), r.ncols());
    let cap = max_iters.min(n.div_ceil(k.max(1))).max(1);
    let mut w = r.clone();
    let b0 = orthonormalise(&mut w, &[]);
    let mut basis: Vec<Mat<f64>> = vec![w];
    let mut diag: Vec<Mat<f64>> = Vec::new();
    let mut off: Vec<Mat<f64>> = Vec::new();
    let mut last_check = None;
    loop {
        let j = basis.len() - 1;
        let iterations = j + 1;
        let qj = &basis[j];
        let mut w = shifted(op, lambda, qj)?;
        let a = linalg::mul(qj.transpose(), w.as_ref(), Par::Seq);
        w -= &linalg::mul(qj.as_ref(), a.as_ref(), Par::Seq);
        if j > 0 {
            w -= &linalg::mul(basis[j - 1].as_ref(), off[j - 1].transpose(), Par::Seq);
        }
        diag.push(a);
        let b = orthonormalise(&mut w, &basis);
        let invariant = (0..k).all(|c| b[(c, c)] == 0.0);
        // The small eigenproblem costs (m·k)³: checked every step while small, then every
        // fifth.
        let t = assemble(&diag, &off, k);
        let trusted = (iterations as f64) >= (s_max * inf_norm(&t)).sqrt();
        let check = invariant
            || iterations == cap
            || (trusted && (iterations * k <= 400 || iterations.is_multiple_of(5)));
        if check {
            let Ritz {
                theta,
                s,
                coords,
                estimate: est,
            } = estimate(&t, &b0, &b, k, fs)?;
            let est = if invariant || iterations * k >= n {
                0.0
            } else if trusted {
                est
            } else {
                f64::INFINITY
            };
            last_check = Some(est);
            progress(&Progress {
                stage: Stage::Lanczos,
                iteration: iterations,
                max_iters: cap,
                residual: est,
            });
            if est <= tol || iterations == cap {
                if est > tol {
                    return Err(Error::NotConverged {
                        method: "lanczos".into(),
                        iterations,
                        residual: est,
                        tol,
                    });
                }
                basis.truncate(iterations);
                return Ok(Krylov {
                    q: basis,
                    theta,
                    coords,
                    s,
                    iterations,
                    estimate: est,
                    seconds: start.elapsed().as_secs_f64(),
                });
            }
        } else {
            progress(&Progress {
                stage: Stage::Lanczos,
                iteration: iterations,
                max_iters: cap,
                residual: last_check.unwrap_or(1.0),
            });
        }
        basis.push(w);
        off.push(b);
    }
}
