//! Gradient-flow predictions at five times (four finite, one ∞) against the number of
//! training points: the eigendecomposition and the Cholesky factorisation (`O(n³)`)
//! dominate; the per-time work is `O(n²k + m·n·k)`. Kernel regression alone (`t = ∞`) needs
//! the Cholesky factorisation only.
//!
//! Run with `cargo bench -p ntk-benches --bench predict`; CI runs it with `-- --test`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use ntk_engine::predict::{FitOptions, GradientFlow, Initial, Matrix};

/// Named problem sizes: (name, n_train).
const SIZES: &[(&str, usize)] = &[("n256", 256), ("n1024", 1024), ("n2048", 2048)];
/// Test points and outputs per problem.
const N_TEST: usize = 128;
const OUTPUTS: usize = 1;
/// The five prediction times.
const TIMES: [f64; 5] = [0.1, 1.0, 10.0, 100.0, f64::INFINITY];

/// A deterministic point cloud in 4-D and its Laplace kernel `e^{−‖x − x'‖}` (positive
/// definite): (train-train, test-train, targets).
fn problem(n: usize) -> (Matrix, Matrix, Matrix) {
    let d = 4;
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    };
    let x: Vec<f64> = (0..(n + N_TEST) * d).map(|_| next()).collect();
    let k = |i: usize, j: usize| {
        let d2: f64 = (0..d).map(|c| (x[i * d + c] - x[j * d + c]).powi(2)).sum();
        (-d2.sqrt()).exp()
    };
    let ktt = Matrix::from_fn(n, n, k);
    let kst = Matrix::from_fn(N_TEST, n, |i, j| k(n + i, j));
    let y = Matrix::from_fn(n, OUTPUTS, |_, _| next());
    (ktt, kst, y)
}

fn options() -> FitOptions {
    FitOptions {
        diag_reg: 1e-3,
        ..FitOptions::default()
    }
}

/// Fit (eigendecomposition) and predict on test and training points at five times.
fn gradient_flow(c: &mut Criterion) {
    let mut group = c.benchmark_group("predict/gradient_flow_5_times");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.measurement_time(Duration::from_secs(10));
    for &(name, n) in SIZES {
        let (ktt, kst, y) = problem(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &n, |b, _| {
            b.iter(|| {
                let flow = GradientFlow::fit(&ktt, &y, &options()).unwrap();
                let init = Initial::default();
                let test = flow.predict_test(&TIMES, &kst, &init).unwrap();
                let train = flow.predict_train(&TIMES, &init).unwrap();
                black_box((test, train))
            })
        });
    }
    group.finish();
}

/// The five predictions alone, from a fit made once (its Cholesky factor is cached after
/// the first `t = ∞` request, as in a notebook that asks again).
fn times_only(c: &mut Criterion) {
    let mut group = c.benchmark_group("predict/times_only_5");
    group.sample_size(10);
    for &(name, n) in SIZES {
        let (ktt, kst, y) = problem(n);
        let flow = GradientFlow::fit(&ktt, &y, &options()).unwrap();
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &n, |b, _| {
            b.iter(|| {
                let init = Initial::default();
                black_box(flow.predict_test(&TIMES, &kst, &init).unwrap())
            })
        });
    }
    group.finish();
}

/// Kernel regression alone (`t = ∞`): fit and predict with no eigendecomposition, one
/// Cholesky factorisation and its triangular solves.
fn infinity_only(c: &mut Criterion) {
    let mut group = c.benchmark_group("predict/infinity_only");
    group.sample_size(10);
    for &(name, n) in SIZES {
        let (ktt, kst, y) = problem(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &n, |b, _| {
            b.iter(|| {
                let flow = GradientFlow::fit(&ktt, &y, &options()).unwrap();
                let init = Initial::default();
                black_box(flow.predict_test(&[f64::INFINITY], &kst, &init).unwrap())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, gradient_flow, times_only, infinity_only);
criterion_main!(benches);
