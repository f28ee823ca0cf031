//! Deep empirical NTKs (the stored schedule): ReLU nets of 1 to 4 hidden layers with
//! `W_std = √2`, `b_std = 0.1` on MNIST-sized inputs, traced and with the full `k × k` output
//! kernel.
//!
//! Throughput is in floating-point operations of the factorisation
//! (`ntk_engine::gram::cost::empirical_flops`), so criterion's "elem/s" reads as FLOP/s and
//! compares directly with the machine's f32 GEMM rate.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ntk_benches::points;
use ntk_engine::gram::empirical_flops;
use ntk_engine::gram::{EmpiricalOptions, KernelKind, Schedule, Weights, empirical};
use ntk_engine::{Activation, Mlp, Points};

/// (name, n points, input dimension, hidden widths, outputs, full k × k kernel)
type Shape = (&'static str, usize, usize, &'static [usize], usize, bool);

const SHAPES: &[Shape] = &[
    ("d1_m4096", 512, 784, &[4096], 1, false),
    ("d2_m4096", 512, 784, &[4096; 2], 1, false),
    ("d3_m4096", 512, 784, &[4096; 3], 1, false),
    ("d4_m4096", 512, 784, &[4096; 4], 1, false),
    ("d2_m16384", 256, 784, &[16384; 2], 1, false),
    ("d3_m1024_k10_traced", 512, 784, &[1024; 3], 10, false),
    ("d3_m1024_k10_full", 512, 784, &[1024; 3], 10, true),
];

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("deep_ntk_f32");
    group.sample_size(10);
    for &(name, n, d, widths, k, full) in SHAPES {
        let x = points(n, d, 3);
        let p = Points::from_f64(&x, n, d).unwrap();
        let model = Mlp::new(d, widths, Activation::Relu)
            .with_w_std(2f64.sqrt())
            .with_b_std(0.1)
            .with_outputs(k);
        let flops = empirical_flops(&model, n, n, true, KernelKind::Ntk, full);
        group.throughput(Throughput::Elements(flops as u64));
        // The stored schedule for every depth, one hidden layer included.
        let opts = EmpiricalOptions {
            full,
            schedule: Schedule::Stored,
            ..EmpiricalOptions::default()
        };
        group.bench_with_input(BenchmarkId::from_parameter(name), &p, |b, p| {
            b.iter(|| black_box(empirical(&model, Weights::Seeded(0), p, None, &opts).unwrap()))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
