//! Thread independence of the training paths (STYLE §6): gradient descent, SGD with the
//! linearised model and kernel drift, `descend`, and `Mlp::apply` give the same bits with
//! one thread and with three. Sizes are large enough for faer to split its GEMMs
//! (`n = 96` points, hidden width 192, two hidden layers).

use ntk_engine::predict::Matrix;
use ntk_engine::train::descent::{DescentOptions, descend};
use ntk_engine::train::{Batching, TrainData, TrainOptions, train};
use ntk_engine::{Activation, Mlp, Parallelism, Params, Points};

const THREADS: [Parallelism; 2] = [Parallelism::Sequential, Parallelism::Rayon(3)];

fn inputs(n: usize, d: usize, phase: f64) -> Vec<f64> {
    (0..n * d)
        .map(|i| ((i as f64) * 0.731 + phase).sin())
        .collect()
}

fn setup() -> (Mlp, Params, Vec<f64>, Vec<f64>, Matrix) {
    let (n, d, k) = (96, 20, 3);
    let mlp = Mlp::new(d, &[192, 192], Activation::Tanh).with_outputs(k);
    let params = Params::seeded(&mlp, 7).unwrap();
    let y = Matrix::from_fn(n, k, |i, a| ((i * k + a) as f64 * 1.3).cos());
    (mlp, params, inputs(n, d, 0.0), inputs(32, d, 0.4), y)
}

#[test]
fn train_is_bitwise_independent_of_the_thread_count() {
    let (mlp, params, xt, xs, y) = setup();
    let (pt, ps) = (
        Points::from_f64(&xt, 96, 20).unwrap(),
        Points::from_f64(&xs, 32, 20).unwrap(),
    );
    let data = TrainData {
        x_train: &pt,
        y_train: &y,
        x_test: Some(&ps),
        probe: None,
    };
    for batching in [Batching::Full, Batching::MiniBatch { size: 40, seed: 3 }] {
        let runs: Vec<_> = THREADS
            .iter()
            .map(|&parallelism| {
                let opts = TrainOptions {
                    steps: 6,
                    learning_rate: 0.5,
                    batching,
                    record_every: 2,
                    kernel_drift: true,
                    linearised: true,
                    parallelism,
                    ..TrainOptions::default()
                };
                train(&mlp, &params, &data, &opts).unwrap()
            })
            .collect();
        let (a, b) = (&runs[0], &runs[1]);
        assert_eq!(a.params.to_flat(), b.params.to_flat(), "{batching:?}");
        assert_eq!(a.records, b.records, "{batching:?}");
        assert_eq!(a.train, b.train, "{batching:?}");
        assert_eq!(a.test, b.test, "{batching:?}");
        assert_eq!(a.lin_train, b.lin_train, "{batching:?}");
        assert_eq!(a.lin_test, b.lin_test, "{batching:?}");
        // The run moved: the comparison is not between two untouched initialisations.
        assert_ne!(a.params.to_flat(), params.to_flat());
    }
}

#[test]
fn descend_and_apply_are_bitwise_independent_of_the_thread_count() {
    let (mlp, params, xt, xs, y) = setup();
    let (pt, ps) = (
        Points::from_f64(&xt, 96, 20).unwrap(),
        Points::from_f64(&xs, 32, 20).unwrap(),
    );
    let runs: Vec<_> = THREADS
        .iter()
        .map(|&parallelism| {
            let o = DescentOptions {
                learning_rate: 0.5,
                max_steps: 5,
                parallelism,
                ..DescentOptions::default()
            };
            descend(&mlp, &params, &pt, &y, Some(&ps), &o, &[0, 2, 5]).unwrap()
        })
        .collect();
    assert_eq!(runs[0].params.to_flat(), runs[1].params.to_flat());
    assert_eq!(runs[0].snapshots, runs[1].snapshots);
    let outs: Vec<Matrix> = THREADS
        .iter()
        .map(|&p| mlp.apply_with(&runs[0].params, &pt, p).unwrap())
        .collect();
    assert_eq!(outs[0], outs[1]);
}
