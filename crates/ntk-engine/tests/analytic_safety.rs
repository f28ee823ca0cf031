//! Numerical safety of the analytic kernels: deep nets, degenerate inputs (zero rows,
//! identical and antipodal pairs), exact symmetry and diagonal, positive semi-definiteness,
//! bit-identical results for any thread count and tile, and errors on bad input.

mod common;

use faer::{Mat, Side};
use ntk_engine::analytic::{AnalyticOptions, analytic};
use ntk_engine::{Activation, Error, Kernel, KernelKind, Mlp, Parallelism, Points};

const ACTIVATIONS: [Activation; 10] = Activation::BUILT_IN;

/// 9 points in d = 4: random rows, then a copy of row 0, its negation, a zero row, and a
/// tiny multiple of row 1 (1e-8: far smaller and, over 50 layers of `W_std = 0.5`, the
/// products `q1·q2` of the ABReLU angle underflow; see `activation::arccos`).
fn inputs() -> Vec<f64> {
    let (n, d) = (9, 4);
    let mut x = common::points(n, d, 7);
    let (r0, r1): (Vec<f64>, Vec<f64>) = (x[..d].to_vec(), x[d..2 * d].to_vec());
    for c in 0..d {
        x[5 * d + c] = r0[c];
        x[6 * d + c] = -r0[c];
        x[7 * d + c] = 0.0;
        x[8 * d + c] = 1e-8 * r1[c];
    }
    x
}

/// Smallest eigenvalue of the symmetric `n × n` matrix, and the largest magnitude.
fn eigen_range(k: &Kernel) -> (f64, f64) {
    let n = k.n1;
    let m = Mat::from_fn(n, n, |i, j| k.data[i * n + j]);
    let ev = m.self_adjoint_eigenvalues(Side::Lower).unwrap();
    let max = ev.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    (ev[0], max)
}

fn check_gram(k: &Kernel, what: &str) {
    let n = k.n1;
    assert!(
        k.data.iter().all(|v| v.is_finite()),
        "{what}: non-finite entry"
    );
    for i in 0..n {
        assert!(k.data[i * n + i] >= 0.0, "{what}: negative diagonal at {i}");
        for j in 0..n {
            assert_eq!(k.data[i * n + j], k.data[j * n + i], "{what}: asymmetric");
        }
    }
    let (min, max) = eigen_range(k);
    assert!(
        min >= -1e-10 * max,
        "{what}: eigenvalue {min:e} (max {max:e})"
    );
}

/// Depth 50, `W_std` from 0.5 to 4, with and without bias, both parameterizations, every
/// activation (quadrature ones with 20 nodes: this checks safety, not accuracy): every
/// entry finite, every variance ≥ 0, the `x1 × x1` Gram exactly symmetric and PSD to
/// 1e-10 of its largest eigenvalue, and `x1 × x2` finite.
#[test]
fn deep_nets_stay_finite_symmetric_and_psd() {
    let x = inputs();
    let p = Points::from_f64(&x, 9, 4).unwrap();
    let y = common::points(3, 4, 8);
    let py = Points::from_f64(&y, 3, 4).unwrap();
    let widths = vec![8; 50];
    for act in ACTIVATIONS {
        for w_std in [0.5, 1.0, 1.5, 4.0] {
            for b_std in [0.0, 0.1] {
                for param in ["ntk", "standard"] {
                    let model = Mlp::new(4, &widths, act)
                        .with_w_std(w_std)
                        .with_b_std(b_std)
                        .with_parameterization(param.parse().unwrap());
                    for kind in [KernelKind::Ntk, KernelKind::Nngp] {
                        let opts = AnalyticOptions {
                            kind,
                            quadrature_order: 20,
                            ..AnalyticOptions::default()
                        };
                        let what = format!("{act} W={w_std} b={b_std} {param} {kind:?}");
                        let k = analytic(&model, &p, None, &opts).unwrap();
                        check_gram(&k, &what);
                        let k = analytic(&model, &p, Some(&py), &opts).unwrap();
                        assert!(k.data.iter().all(|v| v.is_finite()), "{what} x1×x2");
                    }
                }
            }
        }
    }
}

/// The diagonal is exact: an input paired with a copy of itself (rows 0 and 5) gives the
/// diagonal value bitwise, in `x1 × x1` and in `x1 × x2`; for the ABReLU family `x1 × x2`
/// with `x2 = x1` is bitwise the `x1 × x1` kernel (other activations: to 1e-13, their
/// variance formula differs from the pair formula by ulps). ReLU's angle is exactly 0 on
/// the diagonal, so a one-layer ReLU NTK diagonal is exactly `q/2 + q/2`.
#[test]
fn identical_inputs_give_the_diagonal_exactly() {
    let x = inputs();
    let p = Points::from_f64(&x, 9, 4).unwrap();
    for act in ACTIVATIONS {
        let model = Mlp::new(4, &[5, 5, 5], act).with_w_std(1.4).with_b_std(0.1);
        for kind in [KernelKind::Ntk, KernelKind::Nngp] {
            let opts = AnalyticOptions {
                kind,
                quadrature_order: 16,
                ..AnalyticOptions::default()
            };
            let k11 = analytic(&model, &p, None, &opts).unwrap();
            let k12 = analytic(&model, &p, Some(&p), &opts).unwrap();
            let what = format!("{act} {kind:?}");
            assert_eq!(k11.get(0, 5, 0, 0), k11.get(0, 0, 0, 0), "{what}");
            assert_eq!(k11.get(5, 5, 0, 0), k11.get(0, 0, 0, 0), "{what}");
            assert_eq!(k12.get(0, 5, 0, 0), k12.get(0, 0, 0, 0), "{what}");
            if act.abrelu().is_some() || act == Activation::Identity {
                assert_eq!(k11, k12, "{what}");
            } else {
                common::assert_close(&k12.data, &k11.data, 1e-13, &what);
            }
        }
    }
    // One ReLU layer, no bias: q = |x|²/d·W², the angle on the diagonal is 0, so
    // K_ii = W²·q/2 (NNGP) and Θ_ii = K_ii + W²·(q·½) = W²q exactly.
    let model = Mlp::new(4, &[3], Activation::Relu);
    let ntk = analytic(&model, &p, None, &AnalyticOptions::default()).unwrap();
    for i in 0..9 {
        let r = &x[i * 4..][..4];
        let q = r.iter().fold(0.0f64, |acc, a| a.mul_add(*a, acc)) / 4.0;
        assert_eq!(ntk.get(i, i, 0, 0), q / 2.0 + q / 2.0, "row {i}");
    }
}

/// Antipodal inputs (rows 0 and 6): `θ = π` exactly, so one bias-free ReLU layer gives an
/// NNGP of exactly 0 and an NTK of exactly 0 (`ḋ = 0`, and `K = 0` after the readout);
/// Abs gives `K(x, −x) = K(x, x)` and `Θ(x, −x) = Θ(x, x)` exactly. A zero row gives exactly 0 for ReLU (θ = π/2).
#[test]
fn antipodal_and_zero_inputs_are_exact() {
    let x = inputs();
    let p = Points::from_f64(&x, 9, 4).unwrap();
    let relu = Mlp::new(4, &[3], Activation::Relu);
    for kind in [KernelKind::Ntk, KernelKind::Nngp] {
        let opts = AnalyticOptions {
            kind,
            ..AnalyticOptions::default()
        };
        let k = analytic(&relu, &p, None, &opts).unwrap();
        assert_eq!(k.get(0, 6, 0, 0), 0.0, "{kind:?}");
        for j in 0..9 {
            assert_eq!(k.get(7, j, 0, 0), 0.0, "{kind:?} zero row with {j}");
        }
        let abs = Mlp::new(4, &[3], Activation::Abs);
        let k = analytic(&abs, &p, None, &opts).unwrap();
        // Abs is even, so the net is even in x: both kernels agree at x and −x
        // (`θ = π` gives `ḋ = −1` exactly, undoing the sign of `K`).
        assert_eq!(k.get(0, 6, 0, 0), k.get(0, 0, 0, 0), "{kind:?}");
    }
}

/// Bits do not depend on the thread count nor on the tile size: 1 vs 2 threads, tiles of
/// 1, 7, 64 and 256 rows, `x1 × x1` (with the mirror) and `x1 × x2`, traced and full.
#[test]
fn results_are_bit_identical_for_any_threads_and_tile() {
    let (n, m, d) = (150, 70, 6);
    let x = common::points(n, d, 21);
    let y = common::points(m, d, 22);
    let px = Points::from_f64(&x, n, d).unwrap();
    let py = Points::from_f64(&y, m, d).unwrap();
    for act in [Activation::Relu, Activation::Gelu, Activation::Tanh] {
        let model = Mlp::new(d, &[9, 9], act).with_b_std(0.2).with_outputs(2);
        for x2 in [None, Some(&py)] {
            for full in [false, true] {
                let run = |threads: usize, tile: usize| {
                    let opts = AnalyticOptions {
                        full,
                        tile,
                        parallelism: Parallelism::threads(threads),
                        quadrature_order: 6,
                        ..AnalyticOptions::default()
                    };
                    analytic(&model, &px, x2, &opts).unwrap()
                };
                let base = run(1, 64);
                for (threads, tile) in [(2, 64), (2, 1), (2, 7), (1, 256), (2, 256)] {
                    let k = run(threads, tile);
                    assert_eq!(k.data, base.data, "{act} threads={threads} tile={tile}");
                }
            }
        }
    }
}

#[test]
fn bad_inputs_are_refused() {
    let x = common::points(4, 3, 1);
    let p3 = Points::from_f64(&x, 4, 3).unwrap();
    let y = common::points(3, 4, 1);
    let p4 = Points::from_f64(&y, 3, 4).unwrap();
    let model = Mlp::new(3, &[5], Activation::Relu);
    let opts = AnalyticOptions::default();
    match analytic(&model, &p4, None, &opts) {
        Err(Error::DimensionMismatch {
            what,
            expected: 3,
            got: 4,
        }) => assert!(what.contains("x1"), "{what}"),
        other => panic!("{other:?}"),
    }
    match analytic(&model, &p3, Some(&p4), &opts) {
        Err(Error::DimensionMismatch {
            what,
            expected: 3,
            got: 4,
        }) => assert!(what.contains("x2"), "{what}"),
        other => panic!("{other:?}"),
    }
    let bad_models = [
        Mlp::new(3, &[5, 0], Activation::Relu),
        Mlp::new(3, &[5], Activation::Relu).with_w_std(-1.0),
        Mlp::new(3, &[5], Activation::Relu).with_b_std(f64::NAN),
        Mlp::new(3, &[5], Activation::Relu).with_outputs(0),
        Mlp::new(3, &[5], Activation::LeakyRelu(f64::INFINITY)),
    ];
    for m in bad_models {
        assert!(
            matches!(
                analytic(&m, &p3, None, &opts),
                Err(Error::InvalidArgument { .. })
            ),
            "{m}"
        );
    }
    let tile0 = AnalyticOptions { tile: 0, ..opts };
    assert!(matches!(
        analytic(&model, &p3, None, &tile0),
        Err(Error::InvalidArgument { .. })
    ));
    // Quadrature order 0 is refused only where quadrature is needed.
    let order0 = AnalyticOptions {
        quadrature_order: 0,
        ..opts
    };
    assert!(analytic(&model, &p3, None, &order0).is_ok());
    let tanh = Mlp::new(3, &[5], Activation::Tanh);
    let err = analytic(&tanh, &p3, None, &order0).unwrap_err().to_string();
    assert!(err.contains("quadrature") && err.contains("tanh"), "{err}");
}
