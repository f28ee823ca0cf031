//! The eigendecomposition `A = U·diag(λ)·Uᵀ` kept in factored form, `U = Q·S`: `Q` the
//! orthogonal matrix of the Householder tridiagonalisation `A = Q·T·Qᵀ` (stored as its
//! reflectors), `S` the eigenvectors of the tridiagonal `T` (Golub & Van Loan, *Matrix
//! Computations*, 4th ed., §8.3).
//!
//! A dense symmetric eigendecomposition costs, for `n × n`: the tridiagonalisation
//! (`4n³/3` flops), the tridiagonal eigensolver (divide and conquer, up to about `4n³/3`),
//! and the back-transformation `U = Q·S` (`2n³`). The predictions only ever apply `U` and
//! `Uᵀ` to blocks of `k` columns (`k` outputs, a few times), so [`FactoredEigen`] skips the
//! back-transformation: [`project`](FactoredEigen::project) is `Sᵀ·(Qᵀ·B)` and
//! [`unproject`](FactoredEigen::unproject) `Q·(S·C)`, each `O(n²k)`. [`vectors`]
//! (FactoredEigen::vectors) forms `U` when a caller needs it whole (the ensemble's
//! covariances).
//!
//! The steps are faer's own `self_adjoint_evd` taken apart (same tridiagonalisation, same
//! block size, same tridiagonal solver), with a work split fixed by `n` ([`evd_par`]), so the
//! bits do not depend on the thread count.

use faer::diag::Diag;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::evd::{self, ComputeEigenvectors, tridiag};
use faer::linalg::householder;
use faer::{Conj, Mat, MatRef, Par};

use super::linalg::{evd_par, mul};

/// `A = Q·S·diag(λ)·Sᵀ·Qᵀ`, `λ` ascending.
pub(crate) struct FactoredEigen {
    /// Eigenvalues, ascending.
    pub values: Vec<f64>,
    /// The tridiagonalised matrix: the reflectors of `Q` below its subdiagonal.
    reflectors: Mat<f64>,
    /// The block Householder factors of `Q`.
    factors: Mat<f64>,
    /// Eigenvectors of the tridiagonal matrix, `n × n`.
    s: Mat<f64>,
    /// The fixed work split of this size.
    par: Par,
}

impl FactoredEigen {
    /// Decomposes the symmetric `a` (its lower triangle is read). On failure, what was
    /// expected of the matrix.
    pub fn new(a: MatRef<'_, f64>) -> core::result::Result<Self, String> {
        let n = a.nrows();
        let par = evd_par(n);
        let req = evd::self_adjoint_evd_scratch::<f64>(
            n,
            ComputeEigenvectors::Yes,
            par,
            Default::default(),
        );
        let mut buf = MemBuffer::new(req);
        let stack = MemStack::new(&mut buf);
        let mut reflectors = Mat::<f64>::zeros(n, n);
        reflectors.copy_from_triangular_lower(a);
        let bs = faer::linalg::qr::no_pivoting::factor::recommended_block_size::<f64>(n, n);
        let mut factors = Mat::<f64>::zeros(bs, n.saturating_sub(1));
        if n > 0 {
            tridiag::tridiag_in_place(
                reflectors.as_mut(),
                factors.as_mut(),
                par,
                stack,
                Default::default(),
            );
        }
        let mut diag = Diag::<f64>::zeros(n);
        let mut sub = Diag::<f64>::zeros(n);
        for i in 0..n {
            diag[i] = reflectors[(i, i)];
            if i + 1 < n {
                sub[i] = reflectors[(i + 1, i)];
            }
        }
        let mut values = Diag::<f64>::zeros(n);
        let mut s = Mat::<f64>::zeros(n, n);
        evd::tridiagonal_self_adjoint_evd(
            diag.as_ref(),
            sub.as_ref(),
            values.as_mut(),
            Some(s.as_mut()),
            par,
            stack,
            Default::default(),
        )
        .map_err(|e| format!("a symmetric matrix whose eigendecomposition converges ({e:?})"))?;
        Ok(FactoredEigen {
            values: values.column_vector().iter().copied().collect(),
            reflectors,
            factors,
            s,
            par,
        })
    }

    /// Size `n`.
    pub fn n(&self) -> usize {
        self.s.nrows()
    }

    /// `Q·X` (`transpose = false`) or `Qᵀ·X`, in place, for `X` of `n` rows. `Q` leaves the
    /// first row alone (`Q = 1 ⊕ Q₁`, reflectors on rows `1..n`).
    fn apply_q(&self, x: &mut Mat<f64>, transpose: bool) {
        let n = self.n();
        if n < 2 {
            return;
        }
        let k = x.ncols();
        let bs = self.factors.nrows();
        let req = if transpose {
            householder::apply_block_householder_sequence_transpose_on_the_left_in_place_scratch::<
                f64,
            >(n - 1, bs, k)
        } else {
            householder::apply_block_householder_sequence_on_the_left_in_place_scratch::<f64>(
                n - 1,
                bs,
                k,
            )
        };
        let mut buf = MemBuffer::new(req);
        let stack = MemStack::new(&mut buf);
        let essentials = self.reflectors.as_ref().submatrix(1, 0, n - 1, n - 1);
        let rows = x.as_mut().subrows_mut(1, n - 1);
        if transpose {
            householder::apply_block_householder_sequence_transpose_on_the_left_in_place_with_conj(
                essentials,
                self.factors.as_ref(),
                Conj::No,
                rows,
                self.par,
                stack,
            );
        } else {
            householder::apply_block_householder_sequence_on_the_left_in_place_with_conj(
                essentials,
                self.factors.as_ref(),
                Conj::No,
                rows,
                self.par,
                stack,
            );
        }
    }

    /// `Uᵀ·B = Sᵀ·(Qᵀ·B)`: coordinates in the eigenbasis.
    pub fn project(&self, b: MatRef<'_, f64>) -> Mat<f64> {
        let mut x = b.to_owned();
        self.apply_q(&mut x, true);
        mul(self.s.transpose(), x.as_ref(), self.par)
    }

    /// `U·C = Q·(S·C)`: back from the eigenbasis.
    pub fn unproject(&self, c: MatRef<'_, f64>) -> Mat<f64> {
        let mut x = mul(self.s.as_ref(), c, self.par);
        self.apply_q(&mut x, false);
        x
    }

    /// The eigenvectors `U = Q·S`, formed (the `2n³` back-transformation the factored form
    /// avoids).
    pub fn vectors(&self) -> Mat<f64> {
        let mut u = self.s.clone();
        self.apply_q(&mut u, false);
        u
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predict::linalg::eigh;

    fn sym(n: usize) -> Mat<f64> {
        Mat::from_fn(n, n, |i, j| {
            let (i, j) = (i.max(j), i.min(j));
            ((i * 7919 + j * 104_729) % 1009) as f64 / 1009.0 + if i == j { 50.0 } else { 0.0 }
        })
    }

    /// The factored form equals faer's whole eigendecomposition: the same eigenvalues bit
    /// for bit (the same steps) and the same eigenvectors, up to the rounding of forming
    /// `Q·S` (one reflector application: `1e-13` relative, measured `~1e-15`); `U·Uᵀ·B = B`.
    #[test]
    fn equals_the_whole_eigendecomposition() {
        for n in [1, 2, 5, 40, 300] {
            let a = sym(n);
            let whole = eigh(a.as_ref()).unwrap();
            let f = FactoredEigen::new(a.as_ref()).unwrap();
            assert_eq!(f.values, whole.values, "n {n}");
            let u = f.vectors();
            let err = (0..n)
                .flat_map(|j| (0..n).map(move |i| (i, j)))
                .map(|(i, j)| (u[(i, j)] - whole.vectors[(i, j)]).abs())
                .fold(0.0, f64::max);
            assert!(err < 1e-13, "n {n}: {err:e}");
            let b = Mat::from_fn(n, 3, |i, c| (i as f64 + 1.0).sqrt() - c as f64);
            let back = f.unproject(f.project(b.as_ref()).as_ref());
            let err = (0..n)
                .flat_map(|i| (0..3).map(move |c| (i, c)))
                .map(|(i, c)| (back[(i, c)] - b[(i, c)]).abs())
                .fold(0.0, f64::max);
            assert!(err < 1e-12 * (n as f64).sqrt(), "n {n}: {err:e}");
            let direct = mul(whole.vectors.transpose(), b.as_ref(), Par::Seq);
            let coords = f.project(b.as_ref());
            let err = (0..n)
                .flat_map(|i| (0..3).map(move |c| (i, c)))
                .map(|(i, c)| (coords[(i, c)] - direct[(i, c)]).abs())
                .fold(0.0, f64::max);
            assert!(err < 1e-12, "n {n}: {err:e}");
        }
    }

    /// Bits independent of the pool: 1, 2 and 3 threads.
    #[test]
    fn bits_do_not_depend_on_the_pool() {
        let n = 300;
        let a = sym(n);
        let b = Mat::from_fn(n, 4, |i, c| (i * 3 + c) as f64 / 7.0);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let f = FactoredEigen::new(a.as_ref()).unwrap();
                let c = f.project(b.as_ref());
                let back = f.unproject(c.as_ref());
                let mut bits: Vec<u64> = f.values.iter().map(|v| v.to_bits()).collect();
                for j in 0..4 {
                    bits.extend(c.col(j).iter().map(|v| v.to_bits()));
                    bits.extend(back.col(j).iter().map(|v| v.to_bits()));
                }
                bits
            })
        };
        let one = run(1);
        assert_eq!(run(2), one);
        assert_eq!(run(3), one);
    }
}
