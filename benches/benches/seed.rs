//! The seed's kernel: the Gram of activation patterns by AND + popcount vs by f32 GEMM on
//! 0/1 matrices (same integers), and the pattern computation both share.
//!
//! Throughput: pair–neuron products, `n(n+1)/2 · m` for a symmetric kernel.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ntk_benches::points;
use ntk_engine::Points;
use ntk_engine::gram::two_layer_relu::Level;
use ntk_engine::gram::two_layer_relu::{CountPath, counts, patterns};

/// (name, n, d, m)
const SHAPES: &[(&str, usize, usize, usize)] = &[
    ("n512_m65536", 512, 64, 65536),
    ("n1024_m65536", 1024, 64, 65536),
    ("n1024_m262144", 1024, 64, 262144),
];

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("seed_counts");
    g.sample_size(10);
    for &(name, n, d, m) in SHAPES {
        let x = points(n, d, 5);
        let p = Points::from_f64(&x, n, d).unwrap();
        let pat = patterns(&p, m, 0).unwrap();
        g.throughput(Throughput::Elements((n * (n + 1) / 2 * m) as u64));
        // Every popcount level this CPU runs, so that a machine with VPOPCNTDQ also measures
        // the AVX2 and POPCNT paths that machines without it take.
        for level in Level::ALL.into_iter().filter(|l| l.available()) {
            let id = format!("popcount_{level:?}").to_lowercase();
            g.bench_with_input(BenchmarkId::new(id, name), &pat, |b, pat| {
                b.iter(|| black_box(counts(pat, None, CountPath::BitsAt(level))))
            });
        }
        g.bench_with_input(BenchmarkId::new("f32", name), &pat, |b, pat| {
            b.iter(|| black_box(counts(pat, None, CountPath::F32)))
        });
    }
    g.finish();
    let mut g = c.benchmark_group("seed_patterns");
    g.sample_size(10);
    for &(name, n, d, m) in SHAPES {
        let x = points(n, d, 5);
        let p = Points::from_f64(&x, n, d).unwrap();
        g.throughput(Throughput::Elements((n * m) as u64));
        g.bench_with_input(BenchmarkId::from_parameter(name), &p, |b, p| {
            b.iter(|| black_box(patterns(p, m, 0).unwrap()))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
