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
//! Two tridiagonalisations, chosen by size ([`Method::for_size`]):
//! * **one stage**, faer's own (`self_adjoint_evd` taken apart: same tridiagonalisation,
//!   same block size), for small matrices. Half its flops are matrix-vector products over
//!   the trailing matrix, so it runs at the memory's speed, not the processor's;
//! * **two stages** from [`TWO_STAGE_MIN`] on: dense → band of half-bandwidth
//!   [`BAND_WIDTH`] by blocked reflectors at the rate of the matrix product
//!   ([`band_reduction`](super::band_reduction)), then band → tridiagonal by bulge chasing
//!   in a buffer of `2b·n` numbers that stays in cache
//!   ([`bulge_chase`](super::bulge_chase)); `Q = Q₁·Q₂`. This is how LAPACK ≥ 3.7
//!   (`dsyevd_2stage`) and PLASMA reduce large matrices.
//!
//! Either way faer's tridiagonal solver follows, and every parallel step has a work split
//! fixed by `n` ([`evd_par`]), so the bits do not depend on the thread count.

use faer::diag::Diag;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::evd::{self, ComputeEigenvectors, tridiag};
use faer::linalg::householder;
use faer::{Conj, Mat, MatRef, Par};

use super::band_reduction::BandReduction;
use super::bulge_chase::BulgeChase;
use super::linalg::{evd_par, mul};

/// From this size on, the two-stage reduction (below it the one-stage one is as fast and
/// the band would be most of the matrix).
pub(crate) const TWO_STAGE_MIN: usize = 512;
/// The half-bandwidth of the two-stage reduction's band: wide enough for the first stage's
/// products to run near the processor's rate, narrow enough for the chase (`O(n²·b)`
/// flops on `b × b` blocks) to stay cheap. Measured at n = 4000 (README).
pub(crate) const BAND_WIDTH: usize = 32;

/// How `A` is brought to tridiagonal form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    /// faer's blocked Householder tridiagonalisation.
    OneStage,
    /// Dense → band of half-bandwidth `b` → tridiagonal.
    TwoStage(usize),
}

impl Method {
    /// The method used for an `n × n` matrix.
    pub fn for_size(n: usize) -> Method {
        if n >= TWO_STAGE_MIN {
            Method::TwoStage(BAND_WIDTH)
        } else {
            Method::OneStage
        }
    }
}

/// `Q` of `A = Q·T·Qᵀ`, `T` tridiagonal.
enum Reduction {
    /// The tridiagonalised matrix holding the reflectors below its subdiagonal, and their
    /// block Householder factors (faer's layout).
    OneStage {
        reflectors: Mat<f64>,
        factors: Mat<f64>,
    },
    /// `Q = Q₁·Q₂`.
    TwoStage {
        band: BandReduction,
        chase: BulgeChase,
    },
}

/// `A = Q·S·diag(λ)·Sᵀ·Qᵀ`, `λ` ascending.
pub(crate) struct FactoredEigen {
    /// Eigenvalues, ascending.
    pub values: Vec<f64>,
    /// `Q`, kept as reflectors.
    reduction: Reduction,
    /// Eigenvectors of the tridiagonal matrix, `n × n`.
    s: Mat<f64>,
    /// The fixed work split of this size.
    par: Par,
}

impl FactoredEigen {
    /// Decomposes the symmetric `a` (its lower triangle is read) by the method for its
    /// size. On failure, what was expected of the matrix.
    pub fn new(a: MatRef<'_, f64>) -> core::result::Result<Self, String> {
        Self::with_method(a, Method::for_size(a.nrows()))
    }

    /// Decomposes the symmetric `a` (its lower triangle is read) by `method`.
    pub fn with_method(a: MatRef<'_, f64>, method: Method) -> core::result::Result<Self, String> {
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
        let mut diag = Diag::<f64>::zeros(n);
        let mut sub = Diag::<f64>::zeros(n);
        let reduction = match method {
            Method::OneStage => {
                let mut reflectors = Mat::<f64>::zeros(n, n);
                reflectors.copy_from_triangular_lower(a);
                let bs = faer::linalg::qr::no_pivoting::factor::recommended_block_size::<f64>(n, n);
                let mut factors = Mat::<f64>::zeros(bs, n.saturating_sub(1));
                if n > 0 {
                    tridiag::tridiag_in_place(
                        reflectors.as_mut(),
                        factors.as_mut(),
                        par,
                        &mut *stack,
                        Default::default(),
                    );
                }
                for i in 0..n {
                    diag[i] = reflectors[(i, i)];
                    if i + 1 < n {
                        sub[i] = reflectors[(i + 1, i)];
                    }
                }
                Reduction::OneStage {
                    reflectors,
                    factors,
                }
            }
            Method::TwoStage(b) => {
                let mut full = Mat::<f64>::zeros(n, n);
                full.copy_from_triangular_lower(a);
                let band = BandReduction::reduce(&mut full, b, par);
                let (chase, t) = BulgeChase::reduce(&full, b);
                drop(full);
                for i in 0..n {
                    diag[i] = t.diag[i];
                    if i + 1 < n {
                        sub[i] = t.sub[i];
                    }
                }
                Reduction::TwoStage { band, chase }
            }
        };
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
            reduction,
            s,
            par,
        })
    }

    /// Size `n`.
    pub fn n(&self) -> usize {
        self.s.nrows()
    }

    /// `Q·X` (`transpose = false`) or `Qᵀ·X`, in place, for `X` of `n` rows.
    fn apply_q(&self, x: &mut Mat<f64>, transpose: bool) {
        match &self.reduction {
            Reduction::OneStage {
                reflectors,
                factors,
            } => self.apply_one_stage(reflectors, factors, x, transpose),
            // Qᵀ = Q₂ᵀ·Q₁ᵀ, Q = Q₁·Q₂.
            Reduction::TwoStage { band, chase } if transpose => {
                band.apply(x.as_mut(), true);
                chase.apply(x.as_mut(), true);
            }
            Reduction::TwoStage { band, chase } => {
                chase.apply(x.as_mut(), false);
                band.apply(x.as_mut(), false);
            }
        }
    }

    /// faer's reflectors: `Q` leaves the first row alone (`Q = 1 ⊕ Q₁`, reflectors on rows
    /// `1..n`).
    fn apply_one_stage(
        &self,
        reflectors: &Mat<f64>,
        factors: &Mat<f64>,
        x: &mut Mat<f64>,
        transpose: bool,
    ) {
        let n = self.n();
        if n < 2 {
            return;
        }
        let k = x.ncols();
        let bs = factors.nrows();
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
        let essentials = reflectors.as_ref().submatrix(1, 0, n - 1, n - 1);
        let rows = x.as_mut().subrows_mut(1, n - 1);
        if transpose {
            householder::apply_block_householder_sequence_transpose_on_the_left_in_place_with_conj(
                essentials,
                factors.as_ref(),
                Conj::No,
                rows,
                self.par,
                stack,
            );
        } else {
            householder::apply_block_householder_sequence_on_the_left_in_place_with_conj(
                essentials,
                factors.as_ref(),
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

    /// The eigenvalues, `Uᵀ·B` and `U·Uᵀ·B` (`B` with `cols` columns) of an `n × n` matrix
    /// bit for bit the same in pools of 1, 2 and 3 threads.
    fn assert_pool_independent(n: usize, cols: usize) {
        let a = sym(n);
        let b = Mat::from_fn(n, cols, |i, c| (i * 3 + c) as f64 / 7.0);
        let run = |threads: usize| {
            crate::parallel::Parallelism::Rayon(threads)
                .install(|| {
                    let f = FactoredEigen::new(a.as_ref()).unwrap();
                    let c = f.project(b.as_ref());
                    let back = f.unproject(c.as_ref());
                    let mut bits: Vec<u64> = f.values.iter().map(|v| v.to_bits()).collect();
                    for j in 0..cols {
                        bits.extend(c.col(j).iter().map(|v| v.to_bits()));
                        bits.extend(back.col(j).iter().map(|v| v.to_bits()));
                    }
                    bits
                })
                .unwrap()
        };
        let one = run(1);
        assert_eq!(run(2), one, "n {n}");
        assert_eq!(run(3), one, "n {n}");
    }

    /// Bits independent of the pool: 1, 2 and 3 threads.
    #[test]
    fn bits_do_not_depend_on_the_pool() {
        assert_pool_independent(300, 4);
    }

    /// `U·diag(f(λ))·Uᵀ·B` with `f(λ) = 1/(1 + λ)`: independent of the eigenvectors' signs
    /// and of the basis chosen inside a repeated eigenvalue, so the two methods can be
    /// compared through it.
    fn function_times(f: &FactoredEigen, b: &Mat<f64>) -> Mat<f64> {
        let c = f.project(b.as_ref());
        let d: Vec<f64> = f.values.iter().map(|l| 1.0 / (1.0 + l.abs())).collect();
        f.unproject(super::super::linalg::scale_rows(&d, c.as_ref()).as_ref())
    }

    /// The two-stage reduction against faer's one-stage one, at sizes where either is
    /// chosen and with bands from 2 to wider than the matrix: eigenvalues to `1e-12` of
    /// the largest (both backward stable, `O(n·ε·‖A‖)`; measured `~1e-14`), `f(A)·B` to
    /// `1e-11` relative, and `Q` orthogonal (`U·Uᵀ·B = B` to `1e-12·√n`).
    #[test]
    fn two_stages_equal_one() {
        for (n, b) in [
            (1, 4),
            (2, 4),
            (3, 2),
            (17, 4),
            (40, 8),
            (130, 32),
            (300, 7),
            (600, 32),
        ] {
            let a = sym(n);
            let one = FactoredEigen::with_method(a.as_ref(), Method::OneStage).unwrap();
            let two = FactoredEigen::with_method(a.as_ref(), Method::TwoStage(b)).unwrap();
            let scale = one.values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            for (x, y) in one.values.iter().zip(&two.values) {
                assert!((x - y).abs() < 1e-12 * scale, "n {n} b {b}: {x} vs {y}");
            }
            let bm = Mat::from_fn(n, 3, |i, c| ((i * 31 + c * 17) % 23) as f64 - 11.0);
            let (f1, f2) = (function_times(&one, &bm), function_times(&two, &bm));
            let norm = (0..n).map(|i| f1[(i, 0)].abs()).fold(1e-300, f64::max);
            for c in 0..3 {
                for i in 0..n {
                    let d = (f1[(i, c)] - f2[(i, c)]).abs();
                    assert!(d < 1e-11 * norm, "n {n} b {b} ({i},{c}): {d:e}");
                }
            }
            let back = two.unproject(two.project(bm.as_ref()).as_ref());
            for c in 0..3 {
                for i in 0..n {
                    let d = (back[(i, c)] - bm[(i, c)]).abs();
                    assert!(
                        d < 1e-12 * 11.0 * (n as f64).sqrt(),
                        "n {n} ({i},{c}): {d:e}"
                    );
                }
            }
            let u = two.vectors();
            let uu = mul(u.transpose(), u.as_ref(), Par::Seq);
            for j in 0..n {
                for i in 0..n {
                    let e = if i == j { 1.0 } else { 0.0 };
                    assert!((uu[(i, j)] - e).abs() < 1e-12, "n {n}: UᵀU ({i},{j})");
                }
            }
        }
        assert_eq!(Method::for_size(TWO_STAGE_MIN - 1), Method::OneStage);
        assert_eq!(
            Method::for_size(TWO_STAGE_MIN),
            Method::TwoStage(BAND_WIDTH)
        );
    }

    /// The two-stage path's bits do not depend on the pool either (1, 2 and 3 threads, at a
    /// size where it is the one chosen).
    #[test]
    fn two_stage_bits_do_not_depend_on_the_pool() {
        assert_pool_independent(TWO_STAGE_MIN + 37, 11);
    }
}
