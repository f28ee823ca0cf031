//! Inputs from a memory-mapped `.npy` vs from memory: opening and validating a dataset, and
//! the empirical Gram computed from each (the engine reads the map in place).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ntk_benches::points;
use ntk_engine::data::npy;
use ntk_engine::gram::{EmpiricalOptions, Weights, empirical};
use ntk_engine::{Activation, Mlp, NpyFile, Points};

/// (name, n, d)
const SHAPES: &[(&str, usize, usize)] = &[("n2048_d784", 2048, 784), ("n8192_d784", 8192, 784)];

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut open = c.benchmark_group("dataset_open");
    open.sample_size(10);
    for &(name, n, d) in SHAPES {
        let x: Vec<f32> = points(n, d, 3).into_iter().map(|v| v as f32).collect();
        let path = dir.path().join(format!("{name}.npy"));
        npy::write(&path, &[n, d], x.iter().copied()).unwrap();
        open.throughput(Throughput::Bytes((n * d * 4) as u64));
        open.bench_with_input(BenchmarkId::new("mmap", name), &path, |b, path| {
            b.iter(|| {
                let f = NpyFile::open(path).unwrap();
                black_box(Points::from_npy(&f).unwrap().rows())
            })
        });
        open.bench_with_input(
            BenchmarkId::new("read_to_memory", name),
            &path,
            |b, path| {
                b.iter(|| {
                    let bytes = std::fs::read(path).unwrap();
                    let f = NpyFile::from_bytes(path, bytes).unwrap();
                    black_box(Points::from_npy(&f).unwrap().rows())
                })
            },
        );
    }
    open.finish();

    let mut gram = c.benchmark_group("dataset_gram");
    gram.sample_size(10);
    let (n, d) = (1024, 784);
    let x: Vec<f32> = points(n, d, 4).into_iter().map(|v| v as f32).collect();
    let path = dir.path().join("gram.npy");
    npy::write(&path, &[n, d], x.iter().copied()).unwrap();
    let model = Mlp::new(d, &[4096], Activation::Relu);
    let opts = EmpiricalOptions::default();
    gram.throughput(Throughput::Elements((n * n) as u64));
    let mapped = NpyFile::open(&path).unwrap();
    gram.bench_function("mmap_n1024_m4096", |b| {
        b.iter(|| {
            let p = Points::from_npy(&mapped).unwrap();
            black_box(empirical(&model, Weights::Seeded(0), &p, None, &opts).unwrap())
        })
    });
    gram.bench_function("memory_n1024_m4096", |b| {
        b.iter(|| {
            let p = Points::from_f32(&x, n, d).unwrap();
            black_box(empirical(&model, Weights::Seeded(0), &p, None, &opts).unwrap())
        })
    });
    gram.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
