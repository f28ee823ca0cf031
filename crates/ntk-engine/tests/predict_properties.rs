//! Properties of the predictions beyond the golden values: the eigen path at large times
//! agrees with the Cholesky path at ∞, a kernel that is not positive definite is reported
//! with its pivot, `diag_reg` is relative, thread counts do not matter, and bad inputs are
//! typed errors that name the argument.

mod common;

use common::{points, rel_frob};
use ntk_engine::predict::{Ensemble, FitOptions, GradientFlow, Initial, Matrix, TestKernels};
use ntk_engine::{Error, Parallelism};

/// Agreement of two f64 evaluations of the same limit on a well-conditioned (cond ≈ 10)
/// 40×40 kernel: the eigen path's `e^{−sλ}` is below 1e-26 and both paths are backward
/// stable, so the difference is rounding, ~1e-15 · cond.
const LIMIT_TOL: f64 = 1e-12;

/// Exponential kernel `e^{−‖x_i − x_j‖}` on `n + m` points in 3-D (positive definite),
/// plus `ridge·I` on the first `n`: returns (train-train, test-train, test-test).
fn kernels(n: usize, m: usize, ridge: f64, seed: u64) -> (Matrix, Matrix, Matrix) {
    let x = points(n + m, 3, seed);
    let k = |i: usize, j: usize| {
        let d2: f64 = (0..3).map(|c| (x[i * 3 + c] - x[j * 3 + c]).powi(2)).sum();
        (-d2.sqrt()).exp()
    };
    let ktt = Matrix::from_fn(n, n, |i, j| k(i, j) + if i == j { ridge } else { 0.0 });
    let kst = Matrix::from_fn(m, n, |i, j| k(n + i, j));
    let kss = Matrix::from_fn(m, m, |i, j| k(n + i, n + j));
    (ktt, kst, kss)
}

fn targets(n: usize, k: usize, seed: u64) -> Matrix {
    Matrix::new(n, k, points(n, k, seed)).unwrap()
}

/// A time at which every eigencomponent has decayed below e^{−60}.
fn late(flow_min_eig: f64, n: usize, k: usize, lr: f64) -> f64 {
    60.0 * (n * k) as f64 / (lr * flow_min_eig)
}

#[test]
fn eigen_path_at_large_time_agrees_with_cholesky_at_infinity() {
    let (n, m, k, lr) = (40, 7, 2, 0.7);
    let (ktt, kst, kss) = kernels(n, m, 0.5, 1);
    let y = targets(n, k, 2);
    let (f0, g0) = (targets(n, k, 3), targets(m, k, 4));
    let opts = FitOptions {
        learning_rate: lr,
        diag_reg: 1e-2,
        ..FitOptions::default()
    };
    let flow = GradientFlow::fit(&ktt, &y, &opts).unwrap();
    let lmin = flow.eigenvalues().unwrap()[0];
    assert!(lmin > 0.4, "well conditioned: λ_min = {lmin}");
    let times = [late(lmin, n, k, lr), f64::INFINITY];
    let init = Initial {
        fx_train_0: Some(&f0),
        fx_test_0: Some(&g0),
    };
    let test = flow.predict_test(&times, &kst, &init).unwrap();
    let err = rel_frob(&test[0].data, &test[1].data);
    assert!(err < LIMIT_TOL, "f_test: {err:e}");
    let train = flow.predict_train(&times, &init).unwrap();
    let err = rel_frob(&train[0].data, &train[1].data);
    assert!(err < LIMIT_TOL, "f_train: {err:e}");

    let nngp_st = kst.clone();
    let test_kernels = TestKernels {
        nngp_test_train: &nngp_st,
        nngp_test_test: &kss,
        ntk_test_train: Some(&kst),
    };
    // An "NTK" that differs from the NNGP, to exercise every term of the NTK covariance.
    let ntk = Matrix::from_fn(n, n, |i, j| 2.0 * ktt.get(i, j));
    let ntk_st = Matrix::from_fn(m, n, |i, j| 2.0 * kst.get(i, j));
    for ens in [
        Ensemble::nngp(&ktt, &y, &opts).unwrap(),
        Ensemble::ntk(&ktt, &ntk, &y, &opts).unwrap(),
    ] {
        let tk = TestKernels {
            ntk_test_train: Some(&ntk_st),
            ..test_kernels
        };
        let g = ens.predict_test(&times, &tk).unwrap();
        assert!(
            rel_frob(&g[0].mean.data, &g[1].mean.data) < LIMIT_TOL,
            "{ens:?} mean"
        );
        assert!(
            rel_frob(&g[0].covariance.data, &g[1].covariance.data) < LIMIT_TOL,
            "{ens:?} cov"
        );
        let tr = ens.predict_train(&times).unwrap();
        assert!(rel_frob(&tr[0].mean.data, &tr[1].mean.data) < LIMIT_TOL);
        let cov_norm = tr[0]
            .covariance
            .data
            .iter()
            .map(|v| v * v)
            .sum::<f64>()
            .sqrt();
        assert!(
            cov_norm < 1e-20,
            "train covariance at a late time: {cov_norm:e}"
        );
    }
}

#[test]
fn not_positive_definite_names_the_pivot() {
    // A positive definite 3×3 block, then a point that repeats point 1 with its diagonal
    // lowered by 0.5: the Schur complement (the Cholesky pivot) at index 3 is −0.5.
    let base = [[2.0, 0.5, 0.1], [0.5, 1.5, 0.2], [0.1, 0.2, 1.0]];
    let idx = [0, 1, 2, 1];
    let ktt = Matrix::from_fn(4, 4, |i, j| {
        base[idx[i]][idx[j]] - if i == 3 && j == 3 { 0.5 } else { 0.0 }
    });
    let y = targets(4, 1, 5);
    let kst = Matrix::from_fn(2, 4, |i, j| 0.1 * (i + j) as f64);
    let flow = GradientFlow::fit(&ktt, &y, &FitOptions::default()).unwrap();
    // Finite times go through the clipped eigendecomposition and still work.
    assert!(
        flow.predict_test(&[1.0, 10.0], &kst, &Initial::default())
            .is_ok()
    );
    let e = flow
        .predict_test(&[1.0, f64::INFINITY], &kst, &Initial::default())
        .unwrap_err();
    match e {
        Error::NotPositiveDefinite { pivot, index } => {
            assert_eq!(index, 3);
            assert!((pivot + 0.5).abs() < 1e-12, "pivot {pivot}");
        }
        other => panic!("expected NotPositiveDefinite, got {other}"),
    }
    let text = e.to_string();
    assert!(
        text.contains("not positive definite") && text.contains("index 3"),
        "{text}"
    );
    // The same kernel through the ensemble.
    let kss = Matrix::from_fn(2, 2, |i, j| if i == j { 1.0 } else { 0.0 });
    let ens = Ensemble::nngp(&ktt, &y, &FitOptions::default()).unwrap();
    let tk = TestKernels {
        nngp_test_train: &kst,
        nngp_test_test: &kss,
        ntk_test_train: None,
    };
    assert!(matches!(
        ens.predict_test(&[f64::INFINITY], &tk),
        Err(Error::NotPositiveDefinite { index: 3, .. })
    ));
    // Enough ridge makes it positive definite.
    let opts = FitOptions {
        diag_reg: 1.0,
        ..FitOptions::default()
    };
    let flow = GradientFlow::fit(&ktt, &y, &opts).unwrap();
    assert!(
        flow.predict_test(&[f64::INFINITY], &kst, &Initial::default())
            .is_ok()
    );
}

#[test]
fn diag_reg_is_relative_to_the_mean_diagonal() {
    let (n, m) = (12, 3);
    let (ktt, kst, _) = kernels(n, m, 0.0, 7);
    let y = targets(n, 1, 8);
    let reg = 0.3;
    let trace: f64 = (0..n).map(|i| ktt.get(i, i)).sum();
    let explicit = Matrix::from_fn(n, n, |i, j| {
        ktt.get(i, j) + if i == j { reg * trace / n as f64 } else { 0.0 }
    });
    let times = [0.5, 3.0, f64::INFINITY];
    let a = GradientFlow::fit(
        &ktt,
        &y,
        &FitOptions {
            diag_reg: reg,
            ..FitOptions::default()
        },
    )
    .unwrap()
    .predict_test(&times, &kst, &Initial::default())
    .unwrap();
    let b = GradientFlow::fit(&explicit, &y, &FitOptions::default())
        .unwrap()
        .predict_test(&times, &kst, &Initial::default())
        .unwrap();
    for (a, b) in a.iter().zip(&b) {
        assert!(rel_frob(&a.data, &b.data) < 1e-13);
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let (n, m) = (600, 20);
    let (ktt, kst, _) = kernels(n, m, 0.1, 9);
    let y = targets(n, 2, 10);
    let times = [0.5, 1.0, 100.0, f64::INFINITY];
    let run = |p: Parallelism| {
        let opts = FitOptions {
            parallelism: p,
            ..FitOptions::default()
        };
        GradientFlow::fit(&ktt, &y, &opts)
            .unwrap()
            .predict_test(&times, &kst, &Initial::default())
            .unwrap()
    };
    let seq = run(Parallelism::Sequential);
    for p in [Parallelism::Rayon(2), Parallelism::Rayon(3)] {
        let par = run(p);
        for (a, b) in seq.iter().zip(&par) {
            assert_eq!(a, b, "{p:?}: {:e}", rel_frob(&a.data, &b.data));
        }
    }
}

#[test]
fn bad_inputs_are_typed_errors_naming_the_argument() {
    let (ktt, kst, kss) = kernels(5, 2, 0.1, 11);
    let y = targets(5, 1, 12);
    let opts = FitOptions::default();
    let msg = |e: Error| e.to_string();

    let nonsquare = Matrix::zeros(5, 4);
    let e = GradientFlow::fit(&nonsquare, &y, &opts).unwrap_err();
    assert!(matches!(e, Error::DimensionMismatch { .. }) && msg(e).contains("k_train_train"));

    let mut nan = ktt.clone();
    nan.data[7] = f64::NAN;
    let e = GradientFlow::fit(&nan, &y, &opts).unwrap_err();
    assert!(
        matches!(e, Error::NonFinite { row: 1, col: 2, .. }) && msg(e).contains("k_train_train")
    );

    let e = GradientFlow::fit(&ktt, &targets(4, 1, 1), &opts).unwrap_err();
    assert!(matches!(
        e,
        Error::DimensionMismatch {
            expected: 5,
            got: 4,
            ..
        }
    ));

    for (lr, reg) in [
        (0.0, 0.0),
        (f64::NAN, 0.0),
        (1.0, -1.0),
        (1.0, f64::INFINITY),
    ] {
        let o = FitOptions {
            learning_rate: lr,
            diag_reg: reg,
            ..opts
        };
        assert!(matches!(
            GradientFlow::fit(&ktt, &y, &o),
            Err(Error::InvalidArgument { .. })
        ));
    }

    let flow = GradientFlow::fit(&ktt, &y, &opts).unwrap();
    for t in [-1.0, f64::NAN, f64::NEG_INFINITY] {
        let e = flow
            .predict_train(&[0.0, t], &Initial::default())
            .unwrap_err();
        assert!(msg(e).contains("time"));
    }
    let wrong_k = targets(5, 2, 1);
    let e = flow
        .predict_train(
            &[1.0],
            &Initial {
                fx_train_0: Some(&wrong_k),
                fx_test_0: None,
            },
        )
        .unwrap_err();
    assert!(msg(e).contains("fx_train_0"));
    let wrong_m = targets(3, 1, 1);
    let e = flow
        .predict_test(
            &[1.0],
            &kst,
            &Initial {
                fx_train_0: None,
                fx_test_0: Some(&wrong_m),
            },
        )
        .unwrap_err();
    assert!(msg(e).contains("fx_test_0"));
    let broken = Matrix {
        rows: 2,
        cols: 5,
        data: vec![0.0; 9],
    };
    let e = flow
        .predict_test(&[1.0], &broken, &Initial::default())
        .unwrap_err();
    assert!(msg(e).contains("k_test_train"));

    let ens = Ensemble::ntk(&ktt, &ktt, &y, &opts).unwrap();
    let tk = TestKernels {
        nngp_test_train: &kst,
        nngp_test_test: &kss,
        ntk_test_train: None,
    };
    assert!(msg(ens.predict_test(&[1.0], &tk).unwrap_err()).contains("ntk_test_train"));
    let tk = TestKernels {
        nngp_test_test: &ktt,
        ntk_test_train: Some(&kst),
        ..tk
    };
    assert!(msg(ens.predict_test(&[1.0], &tk).unwrap_err()).contains("nngp_test_test"));
    let e = Ensemble::ntk(&targets(4, 4, 1), &ktt, &y, &opts).unwrap_err();
    assert!(msg(e).contains("nngp_train_train"));
}
