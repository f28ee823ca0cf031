//! Throughput of the analytic (infinite-width) Gram matrix: entries per second over the
//! number of points and the depth, closed forms (ReLU; ReLU, erf and GELU on d = 784 inputs,
//! where the input Gram dominates) and quadrature (tanh).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ntk_engine::analytic::{AnalyticOptions, analytic};
use ntk_engine::{Activation, KernelKind, Mlp, Points};

/// A named problem: `n` points of dimension `d` (`x1 × x1`), `depth` hidden layers.
struct Shape {
    name: &'static str,
    n: usize,
    d: usize,
    depth: usize,
}

const CLOSED_FORM: &[Shape] = &[
    Shape {
        name: "n256_L1",
        n: 256,
        d: 32,
        depth: 1,
    },
    Shape {
        name: "n256_L3",
        n: 256,
        d: 32,
        depth: 3,
    },
    Shape {
        name: "n256_L10",
        n: 256,
        d: 32,
        depth: 10,
    },
    Shape {
        name: "n1024_L1",
        n: 1024,
        d: 32,
        depth: 1,
    },
    Shape {
        name: "n1024_L3",
        n: 1024,
        d: 32,
        depth: 3,
    },
    Shape {
        name: "n1024_L10",
        n: 1024,
        d: 32,
        depth: 10,
    },
    Shape {
        name: "n4096_L1",
        n: 4096,
        d: 32,
        depth: 1,
    },
    Shape {
        name: "n4096_L3",
        n: 4096,
        d: 32,
        depth: 3,
    },
    Shape {
        name: "n4096_L10",
        n: 4096,
        d: 32,
        depth: 10,
    },
];

/// Image-sized inputs (`d = 784`), where the input Gram is most of the work.
const WIDE_INPUTS: &[Shape] = &[
    Shape {
        name: "n1000_L3_d784",
        n: 1000,
        d: 784,
        depth: 3,
    },
    Shape {
        name: "n2000_L3_d784",
        n: 2000,
        d: 784,
        depth: 3,
    },
];

const QUADRATURE: &[Shape] = &[Shape {
    name: "n128_L1_order32",
    n: 128,
    d: 32,
    depth: 1,
}];

fn run(c: &mut Criterion, group: &str, shapes: &[Shape], act: Activation, order: usize) {
    for kind in [KernelKind::Ntk, KernelKind::Nngp] {
        let mut g = c.benchmark_group(format!("{group}/{kind:?}"));
        g.sample_size(10);
        for s in shapes {
            let x = ntk_benches::points(s.n, s.d, 1);
            let p = Points::from_f64(&x, s.n, s.d).expect("finite points");
            let model = Mlp::new(s.d, &vec![512; s.depth], act).with_b_std(0.1);
            let opts = AnalyticOptions {
                kind,
                quadrature_order: order,
                ..AnalyticOptions::default()
            };
            g.throughput(Throughput::Elements((s.n * s.n) as u64));
            g.bench_with_input(BenchmarkId::from_parameter(s.name), &p, |b, p| {
                b.iter(|| analytic(black_box(&model), black_box(p), None, &opts).expect("kernel"))
            });
        }
        g.finish();
    }
}

fn closed_form(c: &mut Criterion) {
    run(c, "analytic_relu", CLOSED_FORM, Activation::Relu, 64);
}

fn wide_inputs(c: &mut Criterion) {
    run(c, "analytic_relu_d784", WIDE_INPUTS, Activation::Relu, 64);
    run(c, "analytic_erf_d784", WIDE_INPUTS, Activation::Erf, 64);
    run(c, "analytic_gelu_d784", WIDE_INPUTS, Activation::Gelu, 64);
}

fn quadrature(c: &mut Criterion) {
    run(
        c,
        "analytic_tanh_quadrature",
        QUADRATURE,
        Activation::Tanh,
        32,
    );
}

criterion_group!(benches, closed_form, wide_inputs, quadrature);
criterion_main!(benches);
