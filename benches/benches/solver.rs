//! The kernel operator `K·V` (the cost of one CG or Lanczos iteration) over a kernel held
//! in memory and one read in bands from an f32 `.npy` file, against `n` and the number of
//! right-hand sides `k`. Throughput: kernel entries per second (each used `k` times).
//!
//! Run with `cargo bench -p ntk-benches --bench solver`; CI runs it with `-- --test`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ntk_engine::Parallelism;
use ntk_engine::data::npy;
use ntk_engine::predict::Matrix;
use ntk_engine::solve::KernelOperator;

/// Named shapes: (name, n, k).
const SHAPES: &[(&str, usize, usize)] = &[
    ("n2048_k1", 2048, 1),
    ("n2048_k10", 2048, 10),
    ("n4096_k10", 4096, 10),
];

fn kernel(n: usize) -> Matrix {
    Matrix::from_fn(n, n, |i, j| {
        (-((i as f64 - j as f64) / 300.0).powi(2)).exp()
    })
}

fn operator(c: &mut Criterion) {
    let mut group = c.benchmark_group("solver/apply");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    let dir = tempfile::tempdir().expect("temporary directory");
    for &(name, n, k) in SHAPES {
        let kk = kernel(n);
        let v = Matrix::from_fn(n, k, |i, c| ((i + c) % 7) as f64);
        group.throughput(Throughput::Elements((n * n) as u64));
        let dense = KernelOperator::dense(&kk, Parallelism::default()).expect("operator");
        group.bench_function(BenchmarkId::new("memory_f64", name), |b| {
            b.iter(|| black_box(dense.apply(&v).expect("apply")))
        });
        let path = dir.path().join(format!("{name}.npy"));
        npy::write(&path, &[n, n], kk.data.iter().map(|&x| x as f32)).expect("write");
        // Bands of 256 rows, as a file larger than the budget would be read.
        let mapped =
            KernelOperator::mapped(&path, 256 * n * 4, Parallelism::default()).expect("operator");
        group.bench_function(BenchmarkId::new("file_f32_bands", name), |b| {
            b.iter(|| black_box(mapped.apply(&v).expect("apply")))
        });
    }
    group.finish();
}

criterion_group!(benches, operator);
criterion_main!(benches);
