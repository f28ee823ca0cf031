//! The few dense operations the predictions need, over faer with explicit parallelism,
//! and the spectral functions `φ(λ)` of the gradient-flow solution.

use faer::diag::Diag;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt::{factor, solve};
use faer::linalg::evd::{self, ComputeEigenvectors};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};

use crate::error::{Error, Result};
use crate::parallel::Parallelism;

/// faer's parallelism for ours.
pub(crate) fn par(p: Parallelism) -> Par {
    match p {
        Parallelism::Sequential => Par::Seq,
        Parallelism::Rayon0 => Par::rayon(0),
        Parallelism::Rayon(n) => Par::rayon(n),
    }
}

/// `A·B`.
pub(crate) fn mul(a: MatRef<'_, f64>, b: MatRef<'_, f64>, par: Par) -> Mat<f64> {
    let mut c = Mat::zeros(a.nrows(), b.ncols());
    matmul(c.as_mut(), Accum::Replace, a, b, 1.0, par);
    c
}

/// `diag(d)·M`.
pub(crate) fn scale_rows(d: &[f64], m: MatRef<'_, f64>) -> Mat<f64> {
    Mat::from_fn(m.nrows(), m.ncols(), |i, j| d[i] * m[(i, j)])
}

/// `A = V diag(λ) Vᵀ` of a symmetric matrix (its lower triangle is read), `λ` ascending.
pub(crate) struct Eigen {
    pub values: Vec<f64>,
    pub vectors: Mat<f64>,
}

/// Below this size the eigendecomposition runs on one thread (splitting costs more than
/// it gains).
const EVD_PARALLEL_MIN: usize = 256;
/// The fixed number of parts faer's parallel eigendecomposition splits its work into,
/// whatever the number of threads present.
const EVD_SPLIT: usize = 8;

/// The split of the eigendecomposition for an `n × n` matrix: a function of `n` only.
///
/// faer's parallel tridiagonalisation splits its reductions into as many parts as the
/// [`Par`] it is given says, so its eigenvectors move in the last bits with that number
/// (7e-15 relative at n = 600). It is therefore given a split fixed by the problem size,
/// never the caller's thread count; rayon then runs those parts on however many threads
/// the pool has, and the bits do not change (the test
/// `results_do_not_depend_on_the_thread_count` holds the whole path to bitwise equality,
/// and `evd_bits_do_not_depend_on_the_pool` below the decomposition itself).
pub(crate) fn evd_par(n: usize) -> Par {
    if n < EVD_PARALLEL_MIN {
        Par::Seq
    } else {
        Par::rayon(EVD_SPLIT)
    }
}

/// The eigendecomposition of a symmetric matrix, in parallel with a work split fixed by its
/// size ([`evd_par`]), run in the caller's rayon pool. On failure, what was expected of the
/// matrix.
pub(crate) fn eigh(a: MatRef<'_, f64>) -> core::result::Result<Eigen, String> {
    let n = a.nrows();
    let par = evd_par(n);
    let mut s = Diag::<f64>::zeros(n);
    let mut u = Mat::<f64>::zeros(n, n);
    let req =
        evd::self_adjoint_evd_scratch::<f64>(n, ComputeEigenvectors::Yes, par, Default::default());
    evd::self_adjoint_evd(
        a,
        s.as_mut(),
        Some(u.as_mut()),
        par,
        MemStack::new(&mut MemBuffer::new(req)),
        Default::default(),
    )
    .map_err(|e| format!("a symmetric matrix whose eigendecomposition converges ({e:?})"))?;
    let values = s.column_vector().iter().copied().collect();
    Ok(Eigen { values, vectors: u })
}

/// The lower Cholesky factor `L` of a symmetric matrix (lower triangle read), or
/// [`Error::NotPositiveDefinite`] with the first pivot `≤ 0`.
pub(crate) fn cholesky(a: MatRef<'_, f64>, par: Par) -> Result<Mat<f64>> {
    match try_cholesky(a, par) {
        Ok(l) => Ok(l),
        Err(index) => Err(Error::NotPositiveDefinite {
            pivot: pivot_at(a, index, par),
            index,
        }),
    }
}

fn try_cholesky(a: MatRef<'_, f64>, par: Par) -> core::result::Result<Mat<f64>, usize> {
    let n = a.nrows();
    let mut l = a.to_owned();
    let req = factor::cholesky_in_place_scratch::<f64>(n, par, Default::default());
    match factor::cholesky_in_place(
        l.as_mut(),
        Default::default(),
        par,
        MemStack::new(&mut MemBuffer::new(req)),
        Default::default(),
    ) {
        Ok(_) => {
            // Keep the factor strictly lower: the upper triangle still holds A.
            for j in 1..n {
                for i in 0..j {
                    l[(i, j)] = 0.0;
                }
            }
            Ok(l)
        }
        Err(factor::LltError::NonPositivePivot { index }) => Err(index),
    }
}

/// The pivot `a_ii − ‖L_{i,:i}‖²` at which the factorisation stopped: the leading `i × i`
/// block is factored again, `L_{i,:i}` solved from it. Should that block fail too (rounding
/// on the edge), the earlier index is used instead, so this always terminates.
fn pivot_at(a: MatRef<'_, f64>, mut index: usize, par: Par) -> f64 {
    loop {
        if index == 0 {
            return a[(0, 0)];
        }
        match try_cholesky(a.submatrix(0, 0, index, index), par) {
            Ok(l) => {
                let mut x = Mat::from_fn(index, 1, |j, _| a[(index, j)]);
                solve_lower(l.as_ref(), &mut x, par);
                let norm2: f64 = (0..index).map(|j| x[(j, 0)] * x[(j, 0)]).sum();
                return a[(index, index)] - norm2;
            }
            Err(earlier) => index = earlier.min(index - 1),
        }
    }
}

fn solve_lower(l: MatRef<'_, f64>, x: &mut Mat<f64>, par: Par) {
    faer::linalg::triangular_solve::solve_lower_triangular_in_place(l, x.as_mut(), par);
}

/// `A⁻¹·B` from the Cholesky factor `L` of `A`.
pub(crate) fn cholesky_solve(l: MatRef<'_, f64>, b: MatRef<'_, f64>, par: Par) -> Mat<f64> {
    let mut x = b.to_owned();
    let req = solve::solve_in_place_scratch::<f64>(l.nrows(), x.ncols(), par);
    solve::solve_in_place(l, x.as_mut(), par, MemStack::new(&mut MemBuffer::new(req)));
    x
}

/// `e^{−s·max(λ, 0)}`: the decay of the eigencomponent `λ` after scaled time `s = ηt/N`
/// (`0` at `s = ∞` for every `λ > 0`).
pub(crate) fn decay(lambda: f64, s: f64) -> f64 {
    if lambda <= 0.0 {
        return 1.0;
    }
    (-s * lambda).exp()
}

/// `e^{−s·max(λ, 0)} − 1`, accurate for small `s·λ`.
pub(crate) fn expm1_decay(lambda: f64, s: f64) -> f64 {
    if lambda <= 0.0 {
        return 0.0;
    }
    (-s * lambda).exp_m1()
}

/// `(1 − e^{−s·max(λ, 0)})/|λ|`: neural-tangents' `inv_expm1` (negated). For `λ < 0` the
/// clipped exponential gives 0; at `λ = 0` the limit `s` is used where NT would divide
/// 0 by 0.
pub(crate) fn inv_expm1(lambda: f64, s: f64) -> f64 {
    if lambda < 0.0 {
        0.0
    } else if lambda == 0.0 {
        s
    } else {
        -(-s * lambda).exp_m1() / lambda
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eigh_and_cholesky_reconstruct() {
        let a = Mat::from_fn(3, 3, |i, j| {
            if i == j {
                4.0
            } else {
                1.0 / (1 + i + j) as f64
            }
        });
        let e = eigh(a.as_ref()).unwrap();
        let v = &e.vectors;
        let back = mul(
            scale_rows(&e.values, v.transpose()).as_ref().transpose(),
            v.transpose(),
            Par::Seq,
        );
        let l = cholesky(a.as_ref(), Par::Seq).unwrap();
        let llt = mul(l.as_ref(), l.transpose(), Par::Seq);
        for i in 0..3 {
            for j in 0..3 {
                assert!((back[(i, j)] - a[(i, j)]).abs() < 1e-14);
                assert!((llt[(i, j)] - a[(i, j)]).abs() < 1e-14);
            }
        }
    }

    /// The parallel eigendecomposition gives the same bits in pools of 1, 2 and 3 threads.
    #[test]
    fn evd_bits_do_not_depend_on_the_pool() {
        let n = 300;
        let a = Mat::from_fn(n, n, |i, j| {
            let (i, j) = (i.max(j), i.min(j));
            ((i * 7919 + j * 104_729) % 1009) as f64 / 1009.0 + if i == j { 50.0 } else { 0.0 }
        });
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let e = pool.install(|| eigh(a.as_ref()).unwrap());
            let mut bits: Vec<u64> = e.values.iter().map(|v| v.to_bits()).collect();
            for j in 0..n {
                bits.extend(e.vectors.col(j).iter().map(|v| v.to_bits()));
            }
            bits
        };
        let one = run(1);
        assert_eq!(run(2), one);
        assert_eq!(run(3), one);
    }

    #[test]
    fn pivot_is_the_schur_complement() {
        // [[1, 2], [2, 1]]: pivot 1 − 4 = −3 at index 1.
        let a = Mat::from_fn(2, 2, |i, j| if i == j { 1.0 } else { 2.0 });
        match cholesky(a.as_ref(), Par::Seq) {
            Err(Error::NotPositiveDefinite { pivot, index }) => {
                assert_eq!(index, 1);
                assert!((pivot + 3.0).abs() < 1e-14, "{pivot}");
            }
            other => panic!("{:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn spectral_functions() {
        assert_eq!(inv_expm1(0.0, 2.0), 2.0);
        assert_eq!(inv_expm1(-1.0, 2.0), 0.0);
        assert!((inv_expm1(1e-20, 2.0) - 2.0).abs() < 1e-15);
        assert_eq!(decay(-1.0, 5.0), 1.0);
        assert_eq!(decay(1.0, f64::INFINITY), 0.0);
        assert_eq!(expm1_decay(1.0, 0.0), 0.0);
    }
}
