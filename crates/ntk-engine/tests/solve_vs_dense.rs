//! The iterative solvers against the dense path (eigendecomposition and Cholesky), the
//! preconditioner's effect, and every bad input.

mod common;

use common::points;
use ntk_engine::data::npy;
use ntk_engine::predict::{FitOptions, GradientFlow, Initial, Matrix};
use ntk_engine::solve::{IterativeOptions, KernelOperator, Predictions, gradient_flow};
use ntk_engine::{Activation, AnalyticOptions, Error, Mlp, Parallelism, Points, analytic};

/// Relative Frobenius error `‖a − b‖/‖b‖` (0 when both are zero, as at `t = 0`).
fn rel(a: &Matrix, b: &Matrix) -> f64 {
    assert_eq!(a.shape(), b.shape());
    let d: f64 = a
        .data
        .iter()
        .zip(&b.data)
        .map(|(x, y)| (x - y).powi(2))
        .sum();
    let r: f64 = b.data.iter().map(|y| y * y).sum();
    if d == 0.0 { 0.0 } else { (d / r).sqrt() }
}

/// The analytic ReLU NTK of `n` random points (train) and `m` more (test), and targets.
fn problem(n: usize, m: usize, k: usize) -> (Matrix, Matrix, Matrix) {
    let d = 8;
    let x = points(n, d, 3);
    let xs = points(m, d, 4);
    let p = Points::from_f64(&x, n, d).unwrap();
    let ps = Points::from_f64(&xs, m, d).unwrap();
    let model = Mlp::new(d, &[512, 512], Activation::Relu).with_b_std(0.1);
    let o = AnalyticOptions::default();
    let ktt = analytic(&model, &p, None, &o).unwrap();
    let kst = analytic(&model, &ps, Some(&p), &o).unwrap();
    let y = Matrix::from_fn(n, k, |i, c| (x[i * d + c] * 3.0).sin() + x[i * d + 1]);
    (
        Matrix::new(n, n, ktt.data).unwrap(),
        Matrix::new(m, n, kst.data).unwrap(),
        y,
    )
}

fn iterative(
    ktt: &Matrix,
    kst: &Matrix,
    y: &Matrix,
    times: &[f64],
    opts: &IterativeOptions,
) -> Predictions {
    let a = KernelOperator::dense(ktt, Parallelism::default()).unwrap();
    let b = KernelOperator::dense(kst, Parallelism::default()).unwrap();
    gradient_flow(
        &a,
        Some(&b),
        y,
        times,
        &Initial::default(),
        true,
        opts,
        &mut |_| {},
    )
    .unwrap()
}

#[test]
fn cg_and_lanczos_match_the_dense_path() {
    let (n, m, k) = (1000, 200, 2);
    let (ktt, kst, y) = problem(n, m, k);
    // Times in units where η·t/N·λ spans the spectrum: N = n·k.
    let times = [0.0, 1e2, 1e4, 1e6, f64::INFINITY];
    // The bound is 10·tol: measured up to 3.6·tol (PCG: the error of K_*·A is about
    // tol·‖K_*‖‖(K + λI)⁻¹‖‖y‖/‖K_*A‖, small here; Lanczos: its estimate is the next
    // block's coefficient, within a small factor of the true error).
    for (diag_reg, tol) in [(1e-2, 1e-10), (1e-3, 1e-10), (1e-3, 1e-6)] {
        let bound = 10.0 * tol;
        let dense = GradientFlow::fit(
            &ktt,
            &y,
            &FitOptions {
                diag_reg,
                ..FitOptions::default()
            },
        )
        .unwrap();
        let want_test = dense
            .predict_test(&times, &kst, &Initial::default())
            .unwrap();
        let want_train = dense.predict_train(&times, &Initial::default()).unwrap();
        let opts = IterativeOptions {
            diag_reg,
            tol,
            rank: 50,
            ..IterativeOptions::default()
        };
        let got = iterative(&ktt, &kst, &y, &times, &opts);
        let train = got.train.as_ref().unwrap();
        for (t, time) in times.iter().enumerate() {
            let e_test = rel(&got.test[t], &want_test[t]);
            let e_train = rel(&train[t], &want_train[t]);
            assert!(
                e_test <= bound,
                "test at t = {time}: {e_test:e} > {bound:e}"
            );
            assert!(
                e_train <= bound,
                "train at t = {time}: {e_train:e} > {bound:e}"
            );
        }
    }
}

#[test]
fn lanczos_without_ridge_matches_at_finite_times() {
    let (n, m, k) = (500, 50, 1);
    let (ktt, kst, y) = problem(n, m, k);
    let times = [1.0, 1e3, 1e5];
    let dense = GradientFlow::fit(&ktt, &y, &FitOptions::default()).unwrap();
    let want = dense
        .predict_test(&times, &kst, &Initial::default())
        .unwrap();
    let want_train = dense.predict_train(&times, &Initial::default()).unwrap();
    let opts = IterativeOptions {
        tol: 1e-9,
        ..IterativeOptions::default()
    };
    let got = iterative(&ktt, &kst, &y, &times, &opts);
    assert_eq!(got.reports.len(), 1);
    assert_eq!(got.reports[0].method, "lanczos");
    for t in 0..times.len() {
        // 10·tol, as above.
        assert!(rel(&got.test[t], &want[t]) <= 1e-8, "t = {}", times[t]);
        assert!(rel(&got.train.as_ref().unwrap()[t], &want_train[t]) <= 1e-8);
    }
}

/// A Gaussian (RBF) kernel of `n` points in 2-D: its spectrum decays exponentially.
fn rbf(n: usize) -> Matrix {
    let x = points(n, 2, 8);
    Matrix::from_fn(n, n, |i, j| {
        let d2 = (x[2 * i] - x[2 * j]).powi(2) + (x[2 * i + 1] - x[2 * j + 1]).powi(2);
        (-d2 / (2.0 * 0.3f64.powi(2))).exp()
    })
}

#[test]
fn the_preconditioner_cuts_the_iterations() {
    let n = 600;
    let k = rbf(n);
    let y = Matrix::from_fn(n, 2, |i, c| ((i * (c + 3)) % 7) as f64 - 3.0);
    let op = KernelOperator::dense(&k, Parallelism::default()).unwrap();
    let run = |rank| {
        let opts = IterativeOptions {
            diag_reg: 1e-4,
            tol: 1e-8,
            max_iters: 20_000,
            rank,
            ..IterativeOptions::default()
        };
        let p = gradient_flow(
            &op,
            None,
            &y,
            &[f64::INFINITY],
            &Initial::default(),
            false,
            &opts,
            &mut |_| {},
        )
        .unwrap();
        // The true residual drifts from the recurrence's by rounding, ~κ·ε = 1e-10.
        assert!(p.reports[0].residual <= 1e-7);
        p.reports[0].iterations
    };
    let plain = run(0);
    let preconditioned = run(200);
    // Measured 1/100 and less (n = 1000, diag_reg 1e-5: 5881 against 8). The RBF spectrum
    // falls below the ridge (1e-4 of the mean diagonal) within ~100 eigenvalues, so rank
    // 200 leaves the preconditioned system well conditioned, while plain CG sees κ ≈ 1e6.
    assert!(
        plain >= 10 * preconditioned,
        "plain CG {plain} iterations, preconditioned {preconditioned}"
    );
}

#[test]
fn results_do_not_depend_on_threads_or_bands() {
    let (n, m, k) = (600, 40, 2);
    let (ktt, kst, y) = problem(n, m, k);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ktt.npy");
    npy::write(&path, &[n, n], ktt.data.iter().map(|&v| v as f32)).unwrap();
    let times = [10.0, f64::INFINITY];
    let opts = IterativeOptions {
        diag_reg: 1e-3,
        ..IterativeOptions::default()
    };
    let run = |threads: usize, budget: usize| {
        let a = KernelOperator::mapped(&path, budget, Parallelism::threads(threads)).unwrap();
        let b = KernelOperator::dense(&kst, Parallelism::threads(threads)).unwrap();
        gradient_flow(
            &a,
            Some(&b),
            &y,
            &times,
            &Initial::default(),
            true,
            &opts,
            &mut |_| {},
        )
        .unwrap()
    };
    let one = run(1, usize::MAX);
    let many = run(3, 256 * n * 4);
    assert_eq!(one.test, many.test);
    assert_eq!(one.train, many.train);
}

fn expect_err(k: &Matrix, y: &Matrix, times: &[f64], opts: &IterativeOptions) -> Error {
    let op = KernelOperator::dense(k, Parallelism::default()).unwrap();
    gradient_flow(
        &op,
        None,
        y,
        times,
        &Initial::default(),
        true,
        opts,
        &mut |_| {},
    )
    .unwrap_err()
}

#[test]
fn bad_inputs_are_named() {
    let n = 300;
    let good = rbf(n);
    let y = Matrix::from_fn(n, 1, |i, _| (i % 5) as f64);
    let opts = IterativeOptions::default();
    let inf = [f64::INFINITY];

    // Non-finite values, in memory and in a file.
    let mut k = good.clone();
    k.data[3 * n + 5] = f64::NAN;
    match expect_err(&k, &y, &inf, &opts) {
        Error::NonFinite { row: 3, col: 5, .. } => {}
        e => panic!("{e}"),
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.npy");
    npy::write(&path, &[n, n], k.data.iter().map(|&v| v as f32)).unwrap();
    let op = KernelOperator::mapped(&path, usize::MAX, Parallelism::default()).unwrap();
    let e = gradient_flow(
        &op,
        None,
        &y,
        &inf,
        &Initial::default(),
        false,
        &opts,
        &mut |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("bad.npy") && e.contains("row 3, column 5"),
        "{e}"
    );
    let mut yb = y.clone();
    yb.data[7] = f64::INFINITY;
    assert!(
        expect_err(&good, &yb, &inf, &opts)
            .to_string()
            .contains("y_train")
    );

    // Not symmetric: in memory; in a file, inside a band and across bands.
    let mut k = good.clone();
    k.data[7 * n + 2] += 0.01;
    match expect_err(&k, &y, &inf, &opts) {
        Error::NotSymmetric { row: 7, col: 2, .. } => {}
        e => panic!("{e}"),
    }
    let mut k = good.clone();
    for i in 0..256 {
        for j in 256..n {
            k.data[i * n + j] *= 1.01;
        }
    }
    let path = dir.path().join("asym.npy");
    npy::write(&path, &[n, n], k.data.iter().copied()).unwrap();
    let op = KernelOperator::mapped(&path, 256 * n * 8, Parallelism::default()).unwrap();
    assert_eq!(op.band_rows(), 256);
    let e = gradient_flow(
        &op,
        None,
        &y,
        &inf,
        &Initial::default(),
        false,
        &opts,
        &mut |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("asym.npy") && e.contains("not symmetric"), "{e}");

    // An indefinite kernel with a positive diagonal: tridiagonal (1, 0.8), eigenvalues
    // 1 + 1.6·cos(πj/(n+1)) ∈ (−0.6, 2.6). CG stops at the first negative curvature.
    let tri = Matrix::from_fn(n, n, |i, j| match i.abs_diff(j) {
        0 => 1.0,
        1 => 0.8,
        _ => 0.0,
    });
    let yt = Matrix::from_fn(n, 1, |i, _| ((i * 37) % 11) as f64 - 5.0);
    for rank in [0, 10] {
        let o = IterativeOptions {
            rank,
            max_iters: 100_000,
            ..opts
        };
        match expect_err(&tri, &yt, &inf, &o) {
            Error::Breakdown {
                iteration,
                curvature,
                ..
            } => {
                assert!((1..100_000).contains(&iteration) && curvature <= 0.0);
                let e = expect_err(&tri, &yt, &inf, &o).to_string();
                assert!(e.contains(&format!("iteration {iteration}")), "{e}");
            }
            e => panic!("rank {rank}: {e}"),
        }
    }

    // The options.
    let e = expect_err(
        &good,
        &y,
        &inf,
        &IterativeOptions {
            rank: n + 1,
            ..opts
        },
    );
    assert!(
        matches!(&e, Error::InvalidArgument { name, .. } if name == "rank"),
        "{e}"
    );
    for tol in [0.0, 1.0, f64::NAN] {
        let e = expect_err(&good, &y, &inf, &IterativeOptions { tol, ..opts });
        assert!(e.to_string().contains("tol"), "{e}");
    }
    let e = expect_err(
        &good,
        &y,
        &inf,
        &IterativeOptions {
            max_iters: 0,
            ..opts
        },
    );
    assert!(e.to_string().contains("max_iters"), "{e}");
    // The iteration limit: no result, an error with the residual reached.
    let few = IterativeOptions {
        diag_reg: 1e-8,
        tol: 1e-12,
        max_iters: 3,
        rank: 0,
        ..opts
    };
    for times in [&inf[..], &[1e6]] {
        match expect_err(&good, &y, times, &few) {
            Error::NotConverged {
                iterations,
                residual,
                ..
            } => {
                assert!(iterations <= 3 && residual > 1e-12);
            }
            e => panic!("{e}"),
        }
    }
    // Shapes.
    let e = expect_err(&good, &Matrix::zeros(n - 1, 1), &inf, &opts).to_string();
    assert!(e.contains("y_train"), "{e}");
    let rect = Matrix::zeros(n, n - 1);
    let e = expect_err(&rect, &y, &inf, &opts).to_string();
    assert!(e.contains("square"), "{e}");
}
