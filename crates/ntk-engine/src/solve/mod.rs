//! Predictions from kernels larger than memory: a kernel operator and Krylov solvers.
//!
//! The dense path ([`crate::predict`]) holds the `n × n` train-train kernel and
//! eigendecomposes it: `O(n²)` memory and `O(n³)` time, 28.8 GB and hours at n = 60 000.
//! Here the kernel is only ever **applied**, `V ↦ K·V`, by a [`KernelOperator`] that streams
//! it in row bands from a memory-mapped `.npy` file or recomputes it band by band from the
//! inputs (analytic or empirical, never stored); and the predictions of
//! [`crate::predict`]'s module docs are computed with Krylov methods on top of it:
//!
//! * **`t = ∞`** (kernel regression): `(K + λI)·A = Y − f_train(0)` by block
//!   **preconditioned conjugate gradients** (`pcg`) with a rank-`r` **randomly pivoted
//!   Cholesky** preconditioner applied by Woodbury (`rpcholesky`), then
//!   `f_test = f_test(0) + K_test,train·A` and `f_train = y`;
//! * **finite `t`**: `f_train(t) = f_train(0) − (e^{−sA} − I)·R` and
//!   `f_test(t) = f_test(0) + K_test,train·φ_s(A)·R` with `R = y − f_train(0)`,
//!   `s = ηt/N`, `φ_s(λ) = (1 − e^{−sλ})/λ`, by **block Lanczos**: one Krylov basis of
//!   `A = K + λI` from `R` serves every time.
//!
//! `λ = diag_reg·tr(K)/n` exactly as in [`crate::predict`] (the trace summed in the same
//! order), so the two paths solve the same problem.
//!
//! # Accuracy against the dense path
//! PCG stops when every column's relative residual `‖y − (K + λI)a‖/‖y‖` is `≤ tol`; the
//! error of the predictions is then about `κ·tol` (κ the condition number of `K + λI`).
//! Lanczos stops when its error estimate is `≤ tol` for every time. The tests
//! (`tests/solve_vs_dense.rs`) hold both to the dense path at n = 500–1500 for several times
//! and ridges: relative Frobenius error `≤ 1e-6` with `tol = 1e-10`, `≤ 1e-4` with
//! `tol = 1e-6`.
//!
//! # Determinism
//! Every product with `K` is bitwise independent of the thread count and the band size
//! ([`operator`]); the small dense operations run on one thread; so the predictions are too.
//!
//! # Choosing
//! [`choose`] picks the dense path when its memory, [`DENSE_BYTES_PER_ENTRY`]` · n²` bytes,
//! fits the budget, and the iterative path otherwise.

pub mod flow;
pub(crate) mod lanczos;
pub mod operator;
pub(crate) mod pcg;
pub(crate) mod rpcholesky;

pub use flow::{IterativeOptions, Predictions, SolveReport, gradient_flow};
pub use operator::{KernelOperator, Scan};

/// Which part of an iterative solve a [`Progress`] report is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// The first pass over the kernel: checks and the diagonal.
    Scan,
    /// Building the preconditioner.
    Preconditioner,
    /// Conjugate gradients (`t = ∞`).
    Pcg,
    /// Lanczos (finite times).
    Lanczos,
}

/// A progress report, sent after every iteration.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// The stage.
    pub stage: Stage,
    /// Iterations done (1-based).
    pub iteration: usize,
    /// The iteration limit.
    pub max_iters: usize,
    /// The current relative residual (PCG) or error estimate (Lanczos).
    pub residual: f64,
}

/// The dense path or the iterative one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Solver {
    /// Eigendecomposition and Cholesky of the kernel in memory ([`crate::predict`]).
    Dense,
    /// Krylov methods on a [`KernelOperator`] (this module).
    Iterative,
}

/// Bytes per kernel entry the dense path needs at its peak: the loaded `f64` kernel, its
/// regularised copy, the eigenvectors, the eigensolver's workspace, the Cholesky factor and
/// the test-train products, about six `f64` copies of `n × n`.
pub const DENSE_BYTES_PER_ENTRY: usize = 48;

/// [`Solver::Dense`] when `DENSE_BYTES_PER_ENTRY · n²` bytes fit within `budget`,
/// [`Solver::Iterative`] otherwise.
pub fn choose(n: usize, budget: usize) -> Solver {
    let need = n
        .checked_mul(n)
        .and_then(|e| e.checked_mul(DENSE_BYTES_PER_ENTRY));
    match need {
        Some(b) if b <= budget => Solver::Dense,
        _ => Solver::Iterative,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_picks_dense_while_it_fits() {
        // 1000² · 48 = 48 MB.
        assert_eq!(choose(1000, 48_000_000), Solver::Dense);
        assert_eq!(choose(1000, 47_999_999), Solver::Iterative);
        assert_eq!(choose(60_000, 12 << 30), Solver::Iterative);
        assert_eq!(choose(usize::MAX, usize::MAX), Solver::Iterative);
    }
}
