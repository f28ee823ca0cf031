//! Empirical NTK Gram throughput over width and depth.
//!
//! Throughput is in floating-point operations of the factorisation
//! (`ntk_engine::gram::cost::empirical_flops`), so criterion's "elem/s" reads as FLOP/s.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ntk_benches::points;
use ntk_engine::gram::empirical_flops;
use ntk_engine::gram::{EmpiricalOptions, KernelKind, Precision, Weights, empirical};
use ntk_engine::{Activation, Mlp, Points};

/// (name, n points, input dimension, hidden widths)
const SHAPES: &[(&str, usize, usize, &[usize])] = &[
    ("d1_m256", 256, 64, &[256]),
    ("d1_m1024", 256, 64, &[1024]),
    ("d1_m4096", 256, 64, &[4096]),
    ("d1_m16384", 256, 64, &[16384]),
    ("d1_m65536", 256, 64, &[65536]),
    ("d1_m262144", 256, 64, &[262144]),
    ("d1_m1048576", 256, 64, &[1048576]),
    ("d2_m1024", 256, 64, &[1024; 2]),
    ("d3_m1024", 256, 64, &[1024; 3]),
    ("d4_m1024", 256, 64, &[1024; 4]),
    ("d6_m1024", 256, 64, &[1024; 6]),
    ("d8_m1024", 256, 64, &[1024; 8]),
    ("d2_m4096", 256, 64, &[4096; 2]),
    ("d4_m4096", 256, 64, &[4096; 4]),
];

fn bench(c: &mut Criterion) {
    // f64 only on the smaller shapes: it is there to show the price of double precision.
    for precision in [Precision::F32, Precision::F64] {
        let mut group = c.benchmark_group(format!("empirical_ntk_{precision:?}").to_lowercase());
        group.sample_size(10);
        for &(name, n, d, widths) in SHAPES {
            if precision == Precision::F64 && widths.iter().sum::<usize>() > 65536 {
                continue;
            }
            let x = points(n, d, 1);
            let p = Points::from_f64(&x, n, d).unwrap();
            let model = Mlp::new(d, widths, Activation::Relu);
            let flops = empirical_flops(&model, n, n, true, KernelKind::Ntk, false);
            group.throughput(Throughput::Elements(flops as u64));
            let opts = EmpiricalOptions {
                precision,
                ..EmpiricalOptions::default()
            };
            group.bench_with_input(BenchmarkId::from_parameter(name), &p, |b, p| {
                b.iter(|| black_box(empirical(&model, Weights::Seeded(0), p, None, &opts).unwrap()))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
