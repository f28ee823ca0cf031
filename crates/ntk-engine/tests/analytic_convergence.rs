//! Convergence evidence (DESIGN §5.1; Jacot et al. 2018, Hanin & Nica 2019): the empirical
//! NTK and NNGP of seeded networks approach the analytic kernels, with a relative Frobenius
//! error `‖Θ̂_m − Θ‖_F/‖Θ‖_F` that falls like `m^{−1/2}`.
//!
//! For ReLU and erf at depths 1 and 3, the error is averaged over 8 seeds at each width and
//! a line is fitted to `log(error)` against `log(m)`; its slope must lie in
//! `[−0.65, −0.35]`. The width ranges (64…4096 for one hidden layer, 64…2048 for three,
//! whose stored weights grow as `m²`) keep the test to a few seconds in release mode.

mod common;

use ntk_engine::analytic::{AnalyticOptions, analytic};
use ntk_engine::gram::{EmpiricalOptions, Precision, Weights, empirical};
use ntk_engine::{Activation, KernelKind, Mlp, Points};

const SEEDS: u64 = 8;
const N: usize = 16;
const D: usize = 8;

/// 16 points on the unit sphere of R⁸.
fn unit_points() -> Vec<f64> {
    let mut x = common::points(N, D, 2024);
    for row in x.chunks_mut(D) {
        let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
        row.iter_mut().for_each(|v| *v /= norm);
    }
    x
}

/// Least-squares slope of `ys` against `xs`.
fn slope(xs: &[f64], ys: &[f64]) -> f64 {
    let n = xs.len() as f64;
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let sxy: f64 = xs.iter().zip(ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
    sxy / sxx
}

#[test]
fn empirical_kernels_converge_at_rate_one_over_root_width() {
    let x = unit_points();
    let p = Points::from_f64(&x, N, D).unwrap();
    for act in [Activation::Relu, Activation::Erf] {
        for depth in [1usize, 3] {
            let widths: &[usize] = if depth == 1 {
                &[64, 256, 1024, 4096]
            } else {
                &[64, 128, 256, 512, 1024, 2048]
            };
            for kind in [KernelKind::Ntk, KernelKind::Nngp] {
                let proto = Mlp::new(D, &vec![1; depth], act)
                    .with_w_std(1.5)
                    .with_b_std(0.1);
                let opts = AnalyticOptions {
                    kind,
                    ..AnalyticOptions::default()
                };
                let exact = analytic(&proto, &p, None, &opts).unwrap();
                let mut logs = (Vec::new(), Vec::new());
                for &m in widths {
                    let model = Mlp {
                        widths: vec![m; depth],
                        ..proto.clone()
                    };
                    let eopts = EmpiricalOptions {
                        kind,
                        precision: Precision::F64,
                        ..EmpiricalOptions::default()
                    };
                    let err = (0..SEEDS)
                        .map(|seed| {
                            let k =
                                empirical(&model, Weights::Seeded(seed), &p, None, &eopts).unwrap();
                            common::rel_frob(&k.data, &exact.data)
                        })
                        .sum::<f64>()
                        / SEEDS as f64;
                    logs.0.push((m as f64).ln());
                    logs.1.push(err.ln());
                }
                let s = slope(&logs.0, &logs.1);
                let errs: Vec<String> = logs.1.iter().map(|e| format!("{:.3e}", e.exp())).collect();
                eprintln!("{act} L={depth} {kind:?}: slope {s:.3}, errors {errs:?}");
                assert!(
                    (-0.65..=-0.35).contains(&s),
                    "{act} L={depth} {kind:?}: slope {s} (errors {errs:?})"
                );
            }
        }
    }
}
