//! Training mechanics: the batched backward pass against the explicit-Jacobian reference,
//! the linearised model against the network for a small step, the mean-field/α identity,
//! and deterministic mini-batches.

use faer::Mat;
use ntk_engine::predict::Matrix;
use ntk_engine::reference;
use ntk_engine::train::net::{self, flatten};
use ntk_engine::train::{Batching, TrainData, TrainOptions, train};
use ntk_engine::{Activation, Mlp, Parameterization, Params, Points};

/// The batched gradient and the reference are the same sums in another order: 1e-12
/// relative to the largest entry.
const GRAD_TOL: f64 = 1e-12;

fn inputs(n: usize, d: usize) -> Vec<f64> {
    (0..n * d).map(|i| ((i as f64) * 0.731).sin()).collect()
}

/// `backward(G) = Σ_i Σ_a G[i, a]·∂f_a(x_i)/∂θ` for every parameterization, several
/// depths, activations and a nonzero bias scale.
#[test]
fn backward_matches_reference_jacobian() {
    let (n, d, k) = (5, 3, 2);
    let x = inputs(n, d);
    let xm = Mat::from_fn(n, d, |i, j| x[i * d + j]);
    let g = Mat::from_fn(n, k, |i, a| ((i * k + a) as f64 * 1.3).cos());
    for p in [
        Parameterization::Ntk,
        Parameterization::Standard,
        Parameterization::MeanField,
    ] {
        for (widths, act) in [
            (vec![], Activation::Relu),
            (vec![7], Activation::Tanh),
            (vec![6, 4], Activation::Gelu),
            (vec![5, 3, 4], Activation::Relu),
        ] {
            let model = Mlp::new(d, &widths, act)
                .with_outputs(k)
                .with_b_std(0.3)
                .with_w_std(1.2)
                .with_parameterization(p);
            let params = Params::seeded(&model, 11).unwrap();
            let tape = net::forward_tape(&model, &params, xm.as_ref(), faer::Par::Seq);
            for i in 0..n {
                let f = reference::forward(&model, &params, &x[i * d..(i + 1) * d]).unwrap();
                for (a, fa) in f.iter().enumerate() {
                    assert!((tape.out[(i, a)] - fa).abs() < 1e-13, "forward {p}");
                }
            }
            let got = flatten(&net::backward(
                &model,
                &params,
                &tape,
                g.as_ref(),
                faer::Par::Seq,
            ));
            let mut want = vec![0.0; model.parameter_count()];
            for i in 0..n {
                let jac = reference::jacobian(&model, &params, &x[i * d..(i + 1) * d]);
                for a in 0..k {
                    for (w, j) in want.iter_mut().zip(&jac[a]) {
                        *w += g[(i, a)] * j;
                    }
                }
            }
            let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            for (q, (u, v)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (u - v).abs() <= GRAD_TOL * scale,
                    "{p} {widths:?} {act}: parameter {q}: {u} vs {v}"
                );
            }
        }
    }
}

fn run(model: &Mlp, params: &Params, x: &Points<'_>, y: &Matrix, o: &TrainOptions) -> Matrix {
    let data = TrainData {
        x_train: x,
        y_train: y,
        x_test: None,
        probe: None,
    };
    train(model, params, &data, o).unwrap().train
}

/// After one step the network and its linearisation differ by the second-order term, so
/// halving `η` divides the gap by 4 (to within 10 %; the cubic term is ~η³).
#[test]
fn one_step_gap_to_the_linearisation_is_second_order() {
    let (n, d) = (6, 4);
    let xv = inputs(n, d);
    let x = Points::from_f64(&xv, n, d).unwrap();
    let y = Matrix::from_fn(n, 2, |i, a| ((i + a) as f64).sin());
    let model = Mlp::new(d, &[16, 16], Activation::Tanh).with_outputs(2);
    let params = Params::seeded(&model, 3).unwrap();
    let gap = |lr: f64| {
        let o = TrainOptions {
            steps: 1,
            learning_rate: lr,
            kernel_drift: false,
            centre: false,
            linearised: true,
            ..TrainOptions::default()
        };
        let data = TrainData {
            x_train: &x,
            y_train: &y,
            x_test: None,
            probe: None,
        };
        train(&model, &params, &data, &o).unwrap().records[1]
            .lin_gap_train
            .unwrap()
    };
    let (g1, g2) = (gap(0.2), gap(0.1));
    assert!(g1 > 0.0 && (g1 / g2 - 4.0).abs() < 0.4, "{g1} {g2}");
}

/// Mean field with learning rate `η·m` is the NTK parameterization at `α = 1/√m`
/// (without a readout bias): the same outputs up to rounding.
#[test]
fn mean_field_is_ntk_at_alpha_one_over_sqrt_m() {
    let (n, d, m) = (8, 3, 64);
    let xv = inputs(n, d);
    let x = Points::from_f64(&xv, n, d).unwrap();
    let y = Matrix::from_fn(n, 1, |i, _| (i as f64 * 0.5).cos());
    let ntk = Mlp::new(d, &[m], Activation::Relu);
    let mf = ntk
        .clone()
        .with_parameterization(Parameterization::MeanField);
    let params = Params::seeded(&ntk, 5).unwrap();
    let base = TrainOptions {
        steps: 20,
        learning_rate: 0.5,
        kernel_drift: false,
        linearised: false,
        centre: false,
        ..TrainOptions::default()
    };
    let a = run(
        &ntk,
        &params,
        &x,
        &y,
        &TrainOptions {
            alpha: 1.0 / (m as f64).sqrt(),
            ..base
        },
    );
    let b = run(
        &mf,
        &params,
        &x,
        &y,
        &TrainOptions {
            learning_rate: 0.5 * m as f64,
            ..base
        },
    );
    for (u, v) in a.data.iter().zip(&b.data) {
        assert!((u - v).abs() < 1e-10 * (1.0 + v.abs()), "{u} vs {v}");
    }
}

/// SGD is a pure function of its seed; another seed gives other batches; batches of the
/// whole set are gradient descent up to summation order.
#[test]
fn mini_batches_are_seeded() {
    let (n, d) = (10, 3);
    let xv = inputs(n, d);
    let x = Points::from_f64(&xv, n, d).unwrap();
    let y = Matrix::from_fn(n, 1, |i, _| (i as f64).sin());
    let model = Mlp::new(d, &[32], Activation::Erf);
    let params = Params::seeded(&model, 1).unwrap();
    let sgd = |size: usize, seed: u64| TrainOptions {
        steps: 15,
        learning_rate: 0.5,
        batching: Batching::MiniBatch { size, seed },
        kernel_drift: false,
        centre: false,
        linearised: true,
        ..TrainOptions::default()
    };
    let a = run(&model, &params, &x, &y, &sgd(3, 9));
    assert_eq!(a, run(&model, &params, &x, &y, &sgd(3, 9)));
    assert_ne!(a, run(&model, &params, &x, &y, &sgd(3, 10)));
    let full = run(
        &model,
        &params,
        &x,
        &y,
        &TrainOptions {
            batching: Batching::Full,
            ..sgd(n, 0)
        },
    );
    let whole = run(&model, &params, &x, &y, &sgd(n, 4));
    for (u, v) in full.data.iter().zip(&whole.data) {
        assert!((u - v).abs() < 1e-12, "{u} vs {v}");
    }
    let bad = TrainData {
        x_train: &x,
        y_train: &y,
        x_test: None,
        probe: None,
    };
    let err = train(&model, &params, &bad, &sgd(n + 1, 0)).unwrap_err();
    assert!(err.to_string().contains("batch size"), "{err}");
}

/// The loss falls under gradient descent, and the linearised model tracks the network's
/// training outputs closely for a wide net.
#[test]
fn loss_falls_and_records_are_kept() {
    let (n, d) = (12, 4);
    let xv = inputs(n, d);
    let x = Points::from_f64(&xv, n, d).unwrap();
    let y = Matrix::from_fn(n, 1, |i, _| (i as f64 * 0.7).sin());
    let model = Mlp::new(d, &[512], Activation::Relu);
    let params = Params::seeded(&model, 2).unwrap();
    let o = TrainOptions {
        steps: 50,
        learning_rate: 1.0,
        record_every: 20,
        centre: false,
        linearised: true,
        ..TrainOptions::default()
    };
    let data = TrainData {
        x_train: &x,
        y_train: &y,
        x_test: Some(&x),
        probe: None,
    };
    let t = train(&model, &params, &data, &o).unwrap();
    let steps: Vec<usize> = t.records.iter().map(|r| r.step).collect();
    assert_eq!(steps, vec![0, 20, 40, 50]);
    assert!(
        t.records[3].loss < 0.5 * t.records[0].loss,
        "{:?}",
        t.records
    );
    assert_eq!(t.records[0].kernel_drift, Some(0.0));
    let r = t.records[3];
    assert!(
        r.lin_gap_train.unwrap() < 0.05 && r.kernel_drift.unwrap() < 0.1,
        "{r:?}"
    );
    assert_eq!(r.lin_gap_train, r.lin_gap_test);
}
