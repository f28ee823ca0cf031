//! The iterative solvers against the dense path (eigendecomposition and Cholesky), the
//! preconditioner's effect, and every bad input.

mod common;

use common::points;
use ntk_engine::data::npy;
use ntk_engine::predict::{FitOptions, GradientFlow, Initial, Matrix};
use ntk_engine::solve::{IterativeOptions, KernelOperator, Predictions, gradient_flow};
use ntk_engine::{Activation, AnalyticOptions, Error, Mlp, Parallelism, Points, analytic};

/// Relative Frobenius error `‖a − b‖/‖b‖`.
fn rel(a: &Matrix, b: &Matrix) -> f64 {
    let d: f64 = a.data.iter().zip(&b.data).map(|(x, y)| (x - y).powi(2)).sum();
    let r: f64 = b.data.iter().map(|y| y * y).sum();
    (d / r).sqrt()
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
    gradient_flow(&a, Some(&b), y, times, &Initial::default(), true, opts, &mut |_| {}).unwrap()
}

#[test]
fn cg_and_lanczos_match_the_dense_path() {
    let (n, m, k) = (1000, 200, 2);
    let (ktt, kst, y) = problem(n, m, k);
    // Times in units where η·t/N·λ spans the spectrum: N = n·k.
    let times = [0.0, 1e2, 1e4, 1e6, f64::INFINITY];
    for (diag_reg, tol, bound) in [(1e-2, 1e-10, 1e-7), (1e-3, 1e-10, 1e-6), (1e-3, 1e-6, 1e-3)] {
        let dense = GradientFlow::fit(
            &ktt,
            &y,
            &FitOptions {
                diag_reg,
                ..FitOptions::default()
            },
        )
        .unwrap();
        let want_test = dense.predict_test(&times, &kst, &Initial::default()).unwrap();
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
            eprintln!(
                "diag_reg {diag_reg:e} tol {tol:e} t {time:e}: test {e_test:.2e} train {e_train:.2e} {:?}",
                got.reports
            );
            assert!(e_test <= bound, "test at t = {time}: {e_test:e} > {bound:e}");
            assert!(e_train <= bound, "train at t = {time}: {e_train:e} > {bound:e}");
        }
    }
}
