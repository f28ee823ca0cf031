//! The fast empirical kernels against the explicit-Jacobian reference on random nets:
//! depth 1–4, every activation, both parameterizations, k ∈ {1, 3}; symmetry and positive
//! semi-definiteness of the Gram.

mod common;

use common::{assert_close, points, rel_frob, tol};
use ntk_engine::gram::{EmpiricalOptions, KernelKind, Precision, Schedule, Weights, empirical};
use ntk_engine::{Activation, Mlp, Parameterization, Params, Points, reference};

const ACTIVATIONS: [Activation; 10] = [
    Activation::Relu,
    Activation::LeakyRelu(0.2),
    Activation::Abs,
    Activation::Erf,
    Activation::SigmoidLike,
    Activation::Gelu,
    Activation::Identity,
    Activation::Tanh,
    Activation::Softplus,
    Activation::Sin,
];

fn nets() -> Vec<Mlp> {
    let mut out = Vec::new();
    let widths: [&[usize]; 4] = [&[9], &[7, 5], &[6, 6, 4], &[5, 8, 3, 6]];
    for (i, act) in ACTIVATIONS.iter().enumerate() {
        for (j, w) in widths.iter().enumerate() {
            let param = if (i + j) % 2 == 0 {
                Parameterization::Ntk
            } else {
                Parameterization::Standard
            };
            let k = if (i + j) % 3 == 0 { 3 } else { 1 };
            out.push(
                Mlp::new(4, w, *act)
                    .with_w_std(1.2 + 0.1 * j as f64)
                    .with_b_std(0.1 * i as f64)
                    .with_parameterization(param)
                    .with_outputs(k),
            );
        }
    }
    out
}

#[test]
fn fast_paths_match_the_jacobian_reference() {
    let (x1, x2) = (points(5, 4, 1), points(3, 4, 2));
    let (p1, p2) = (
        Points::from_f64(&x1, 5, 4).unwrap(),
        Points::from_f64(&x2, 3, 4).unwrap(),
    );
    for (s, model) in nets().iter().enumerate() {
        let params = Params::seeded(model, s as u64).unwrap();
        let want = reference::ntk(model, &params, &x1, &x2);
        let want11 = reference::ntk(model, &params, &x1, &x1);
        let want_nngp = reference::nngp(model, &params, &x1, &x2);
        for seeded in [false, true] {
            let w = if seeded {
                Weights::Seeded(s as u64)
            } else {
                Weights::Explicit(&params)
            };
            let schedules: &[Schedule] = if model.depth() == 1 {
                &[Schedule::Stored, Schedule::Streamed]
            } else {
                &[Schedule::Stored]
            };
            for &schedule in schedules {
                for (precision, t) in [
                    (Precision::F64, tol::F64_VS_REFERENCE),
                    (Precision::F32, tol::F32_GOLDEN),
                ] {
                    let opts = |kind, full| EmpiricalOptions {
                        kind,
                        full,
                        precision,
                        schedule,
                        tile: 2,
                        ..EmpiricalOptions::default()
                    };
                    let what = format!("{model} seeded={seeded} {schedule:?} {precision:?}");
                    let full =
                        empirical(model, w, &p1, Some(&p2), &opts(KernelKind::Ntk, true)).unwrap();
                    assert_close(&full.data, &want.data, t, &what);
                    let sym = empirical(model, w, &p1, None, &opts(KernelKind::Ntk, true)).unwrap();
                    assert_close(&sym.data, &want11.data, t, &what);
                    let traced =
                        empirical(model, w, &p1, Some(&p2), &opts(KernelKind::Ntk, false)).unwrap();
                    assert_close(&traced.data, &want.traced().data, t, &what);
                    let nngp = empirical(model, w, &p1, Some(&p2), &opts(KernelKind::Nngp, false))
                        .unwrap();
                    assert_close(&nngp.data, &want_nngp.data, t, &what);
                }
            }
        }
    }
}

/// Smallest eigenvalue of a symmetric matrix by cyclic Jacobi rotations (slow, obvious).
fn min_eigenvalue(mut a: Vec<f64>, n: usize) -> f64 {
    for _sweep in 0..100 {
        let mut off = 0.0;
        for p in 0..n {
            for q in p + 1..n {
                off += a[p * n + q] * a[p * n + q];
            }
        }
        if off < 1e-30 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let (c, s) = (1.0 / (t * t + 1.0).sqrt(), t / (t * t + 1.0).sqrt());
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
            }
        }
    }
    (0..n).map(|i| a[i * n + i]).fold(f64::INFINITY, f64::min)
}

/// `x1 × x1` is exactly symmetric (one triangle mirrored) and PSD up to roundoff:
/// eigenvalues ≥ −1e-12·trace in f64 (a Gram of Jacobians is PSD exactly; Jacobi's own
/// error is ~1e-15 relative).
#[test]
fn symmetric_kernels_are_exactly_symmetric_and_psd() {
    let n = 23;
    let x = points(n, 6, 9);
    let p = Points::from_f64(&x, n, 6).unwrap();
    for (act, depth) in [
        (Activation::Relu, 1),
        (Activation::Tanh, 2),
        (Activation::Gelu, 3),
    ] {
        let model = Mlp::new(6, &vec![64; depth], act)
            .with_b_std(0.3)
            .with_outputs(2);
        for kind in [KernelKind::Ntk, KernelKind::Nngp] {
            let opts = EmpiricalOptions {
                kind,
                precision: Precision::F64,
                tile: 5,
                ..Default::default()
            };
            let k = empirical(&model, Weights::Seeded(4), &p, None, &opts).unwrap();
            for i in 0..n {
                for j in 0..n {
                    assert_eq!(k.data[i * n + j].to_bits(), k.data[j * n + i].to_bits());
                }
            }
            let trace: f64 = (0..n).map(|i| k.data[i * n + i]).sum();
            let lmin = min_eigenvalue(k.data.clone(), n);
            assert!(
                lmin >= -1e-12 * trace,
                "{act} depth {depth} {kind:?}: λmin {lmin}"
            );
        }
    }
}

/// The f32 products with f64 accumulation stay close to f64 at a width where plain f32
/// accumulation would visibly drift: relative Frobenius error ≤ 1e-5 at m = 65536
/// (f32 unit roundoff 6e-8 times √(blocks) growth of the block partials, ≈ 1e-6).
#[test]
fn f32_with_f64_accumulation_is_accurate_at_large_width() {
    let (n, d) = (16, 10);
    let x = points(n, d, 3);
    let p = Points::from_f64(&x, n, d).unwrap();
    let model = Mlp::new(d, &[65536], Activation::Relu).with_b_std(0.1);
    let run = |precision| {
        let opts = EmpiricalOptions {
            precision,
            ..Default::default()
        };
        empirical(&model, Weights::Seeded(1), &p, None, &opts).unwrap()
    };
    let err = rel_frob(&run(Precision::F32).data, &run(Precision::F64).data);
    assert!(err < 1e-5, "f32 vs f64: {err:e}");
}
