//! The kernel operator `V ↦ K·V`: its four sources give the same bits as the matrix in
//! memory, whatever the band size and the thread count.

mod common;

use common::points;
use ntk_engine::analytic::analytic_rows;
use ntk_engine::data::npy;
use ntk_engine::gram::{EmpiricalOptions, Weights, empirical, empirical_rows};
use ntk_engine::predict::Matrix;
use ntk_engine::solve::KernelOperator;
use ntk_engine::{Activation, AnalyticOptions, Mlp, Parallelism, Points, analytic};

fn block(n: usize, k: usize) -> Matrix {
    Matrix::from_fn(n, k, |i, c| ((i * 7 + c * 3) % 11) as f64 / 5.0 - 1.0)
}

fn bits(m: &Matrix) -> Vec<u64> {
    m.data.iter().map(|v| v.to_bits()).collect()
}

fn as_matrix(k: &ntk_engine::Kernel) -> Matrix {
    Matrix::new(k.n1, k.n2, k.data.clone()).unwrap()
}

#[test]
fn operators_agree_bitwise() {
    let (n, d, k) = (700, 6, 3);
    let x = points(n, d, 5);
    let p = Points::from_f64(&x, n, d).unwrap();
    let model = Mlp::new(d, &[64, 64], Activation::Relu).with_b_std(0.1);
    let v = block(n, k);
    let dir = tempfile::tempdir().unwrap();

    // Analytic: in memory, from a file (f64) in bands, and recomputed in bands.
    let aopts = AnalyticOptions::default();
    let full = as_matrix(&analytic(&model, &p, None, &aopts).unwrap());
    let want = KernelOperator::dense(&full, Parallelism::Sequential)
        .unwrap()
        .apply(&v)
        .unwrap();
    let path = dir.path().join("k64.npy");
    npy::write(&path, &[n, n], full.data.iter().copied()).unwrap();
    for (budget, threads) in [(n * n * 8, 1), (256 * n * 8, 2), (1, 3)] {
        let op = KernelOperator::mapped(
            &path,
            budget.max(256 * n * 8),
            Parallelism::threads(threads),
        )
        .unwrap();
        assert_eq!(
            bits(&op.apply(&v).unwrap()),
            bits(&want),
            "file, budget {budget}"
        );
    }
    for (rows, threads) in [(256, 1), (512, 2), (700, 3)] {
        let opts = AnalyticOptions {
            parallelism: Parallelism::threads(threads),
            ..aopts
        };
        let op = KernelOperator::analytic(&model, &p, None, opts, usize::MAX)
            .unwrap()
            .with_band_rows(rows);
        assert_eq!(op.band_rows(), rows);
        assert_eq!(
            bits(&op.apply(&v).unwrap()),
            bits(&want),
            "analytic, {rows} rows"
        );
    }
    // A band of analytic_rows is the same rows of the whole kernel, bit for bit.
    let band = analytic_rows(&model, &p, None, 256..512, &aopts).unwrap();
    assert_eq!(band.data, full.data[256 * n..512 * n]);

    // An f32 file equals the in-memory matrix of its (rounded) values.
    let rounded = Matrix::new(n, n, full.data.iter().map(|&v| v as f32 as f64).collect()).unwrap();
    let want32 = KernelOperator::dense(&rounded, Parallelism::Sequential)
        .unwrap()
        .apply(&v)
        .unwrap();
    let p32 = dir.path().join("k32.npy");
    npy::write(&p32, &[n, n], full.data.iter().map(|&v| v as f32)).unwrap();
    let op = KernelOperator::mapped(&p32, 256 * n * 4, Parallelism::threads(2)).unwrap();
    assert!(op.band_rows() < n);
    assert_eq!(bits(&op.apply(&v).unwrap()), bits(&want32));

    // Empirical: the symmetric kernel in memory and recomputed in bands of tiles.
    let eopts = EmpiricalOptions {
        tile: 64,
        ..EmpiricalOptions::default()
    };
    let w = Weights::Seeded(9);
    let emp = as_matrix(&empirical(&model, w, &p, None, &eopts).unwrap());
    let want = KernelOperator::dense(&emp, Parallelism::Sequential)
        .unwrap()
        .apply(&v)
        .unwrap();
    for (rows, threads) in [(256, 1), (448, 2)] {
        let opts = EmpiricalOptions {
            parallelism: Parallelism::threads(threads),
            ..eopts
        };
        let op = KernelOperator::empirical(&model, w, &p, None, opts, usize::MAX)
            .unwrap()
            .with_band_rows(rows);
        assert_eq!(
            bits(&op.apply(&v).unwrap()),
            bits(&want),
            "empirical, {rows} rows"
        );
    }
    let band = empirical_rows(&model, w, &p, None, 320..640, &eopts).unwrap();
    assert_eq!(band.data, emp.data[320 * n..640 * n]);
}

#[test]
fn test_train_operators_agree_bitwise() {
    let (n, m, d, k) = (300, 130, 5, 2);
    let x = points(n, d, 1);
    let xs = points(m, d, 2);
    let p = Points::from_f64(&x, n, d).unwrap();
    let ps = Points::from_f64(&xs, m, d).unwrap();
    let model = Mlp::new(d, &[32], Activation::Erf);
    let v = block(n, k);
    let aopts = AnalyticOptions::default();
    let full = as_matrix(&analytic(&model, &ps, Some(&p), &aopts).unwrap());
    let want = KernelOperator::dense(&full, Parallelism::Sequential)
        .unwrap()
        .apply(&v)
        .unwrap();
    let op = KernelOperator::analytic(&model, &ps, Some(&p), aopts, usize::MAX)
        .unwrap()
        .with_band_rows(50);
    assert_eq!(op.shape(), (m, n));
    assert_eq!(bits(&op.apply(&v).unwrap()), bits(&want));
    // The product is the plain K·V to rounding.
    let got = op.apply(&v).unwrap();
    for i in [0, 77, m - 1] {
        for c in 0..k {
            let r: f64 = (0..n).map(|j| full.get(i, j) * v.get(j, c)).sum();
            assert!((got.get(i, c) - r).abs() <= 1e-12 * r.abs().max(1.0));
        }
    }
}

#[test]
fn a_budget_below_one_band_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.npy");
    npy::write(&path, &[300, 300], (0..90_000).map(|v| v as f64)).unwrap();
    let e = KernelOperator::mapped(&path, 1000, Parallelism::Sequential)
        .unwrap_err()
        .to_string();
    assert!(e.contains("memory budget"), "{e}");
}
