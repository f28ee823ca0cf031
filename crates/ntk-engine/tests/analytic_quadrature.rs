//! The closed forms against two-dimensional Gauss–Hermite quadrature of `E[φ(u)φ(v)]`,
//! `E[φ'(u)φ'(v)]` and `E[φ(u)²]`: pair by pair on a grid of variances and correlations,
//! and whole kernels through [`Method::Quadrature`].

mod common;

use ntk_engine::analytic::{AnalyticOptions, Dual, Method, analytic, analytic_with};
use ntk_engine::{Activation, KernelKind, Mlp, Parallelism, Points};

/// Variances and correlations, including perfect (anti)correlation and a zero variance.
fn grid() -> Vec<(f64, f64, f64)> {
    let mut g = Vec::new();
    for &(q1, q2) in &[
        (0.2f64, 0.2f64),
        (1.0, 0.5),
        (3.0, 1.7),
        (0.0, 1.3),
        (0.05, 2.5),
    ] {
        for &rho in &[-1.0, -0.93, -0.5, 0.0, 0.31, 0.8, 0.999, 1.0] {
            let k = rho * (q1 * q2).sqrt();
            g.push((k, q1, q2));
        }
    }
    g
}

/// Largest differences `(K', ḋ, q')` over the grid, each normalised by its Cauchy–Schwarz
/// bound: `|ΔK'|/√(q1'·q2')`, `|Δḋ|/√(E[φ'(u)²]·E[φ'(v)²])`, `|Δq'|/q1'`. (A plain relative
/// error is meaningless where `K'` or `ḋ` vanish, e.g. ReLU at antipodal inputs.)
///
/// Zero variances are skipped for the ABReLU family: there `u = 0` almost surely and
/// quadrature sees the sub-gradient `φ'(0) = a`, while the closed form (like
/// neural-tangents) takes the limit `q → 0⁺`, `θ = π/2`.
fn worst(act: Activation, order: usize) -> (f64, f64, f64) {
    let closed = Dual::new(act, order);
    let quad = Dual::quadrature(act, order);
    assert!(!closed.is_quadrature() && quad.is_quadrature());
    let floor = 1e-300;
    let (mut ek, mut ed, mut eq) = (0.0f64, 0.0f64, 0.0f64);
    for (k, q1, q2) in grid() {
        if q1 == 0.0 && act.abrelu().is_some() {
            continue;
        }
        let (kc, dc) = closed.nngp_ntk(k, q1, q2, true);
        let (kq, dq) = quad.nngp_ntk(k, q1, q2, true);
        let sk = (closed.variance(q1) * closed.variance(q2)).sqrt();
        let dd = |q: f64| closed.nngp_ntk(q, q, q, true).1;
        let sd = (dd(q1) * dd(q2)).sqrt();
        ek = ek.max((kq - kc).abs() / sk.max(floor));
        ed = ed.max((dq - dc).abs() / sd.max(floor));
        let v = closed.variance(q1);
        eq = eq.max((quad.variance(q1) - v).abs() / v.max(floor));
    }
    (ek, ed, eq)
}

/// Smooth activations: Gauss–Hermite converges geometrically (measured: erf reaches 1e-15
/// at 256 nodes and 4e-11 at 128 — `erf(√q·z)` with `q = 3` is steep; sigmoid-like and
/// GELU reach 1e-15 at 128), so the closed forms must agree to 1e-10.
#[test]
fn smooth_closed_forms_match_quadrature_tightly() {
    for (act, order) in [
        (Activation::Erf, 256),
        (Activation::SigmoidLike, 128),
        (Activation::Gelu, 128),
    ] {
        let (ek, ed, eq) = worst(act, order);
        assert!(
            ek <= 1e-10 && ed <= 1e-10 && eq <= 1e-10,
            "{act} order {order}: K' {ek:e}, ḋ {ed:e}, q' {eq:e}"
        );
    }
}

/// The ABReLU family is kinked, so quadrature converges only algebraically: measured
/// `K'` error ≈ 0.26/n and `ḋ` error ≈ 0.7·n^{−0.6} (ReLU; Abs twice that). At 128 nodes
/// that is ≈ 4e-3 and ≈ 4e-2 (Abs), so the bounds are 1e-2 and 6e-2; and the `K'` error
/// must fall roughly as 1/n (by ≥ 1.6× from 128 to 256 nodes). The variance
/// `E[φ(u)²] = (a² + b²)/2·q` is exact for any symmetric rule with `n ≥ 2`.
#[test]
fn abrelu_closed_forms_match_quadrature_loosely() {
    for act in [
        Activation::Relu,
        Activation::LeakyRelu(0.1),
        Activation::Abs,
    ] {
        let (ek, ed, eq) = worst(act, 128);
        assert!(
            ek <= 1e-2 && ed <= 6e-2 && eq <= 1e-14,
            "{act}: K' {ek:e}, ḋ {ed:e}, q' {eq:e}"
        );
        let (ek2, ..) = worst(act, 256);
        assert!(ek2 * 1.6 <= ek, "{act}: K' error {ek:e} → {ek2:e}");
    }
}

fn inputs() -> Vec<f64> {
    let mut x = common::points(12, 4, 11);
    // An identical pair, an antipodal pair and a zero row.
    let row0: Vec<f64> = x[..4].to_vec();
    x[4..8].copy_from_slice(&row0);
    for c in 0..4 {
        x[8 + c] = -row0[c];
    }
    x[12..16].fill(0.0);
    x
}

/// Whole kernels: a depth-3 net (NTK and standard parameterizations) with every activation
/// forced through quadrature against the closed forms, `x1 × x1` and `x1 × x2`. Smooth
/// activations to 1e-10 entry by entry (the per-step agreement above, compounded over three
/// layers); ABReLU in relative Frobenius norm, the NNGP to 1e-2 (the per-step `K'` bound)
/// and the NTK to 5e-2 (a product of three `ḋ` factors, each within ~4e-2 at 128 nodes;
/// measured ≤ 2e-2).
#[test]
fn whole_kernels_by_quadrature_agree_with_closed_forms() {
    let x = inputs();
    let p1 = Points::from_f64(&x, 12, 4).unwrap();
    let y = common::points(5, 4, 3);
    let p2 = Points::from_f64(&y, 5, 4).unwrap();
    for (act, order) in [
        (Activation::Erf, 256),
        (Activation::SigmoidLike, 128),
        (Activation::Gelu, 128),
        (Activation::Relu, 128),
        (Activation::Abs, 128),
    ] {
        for param in ["ntk", "standard"] {
            let model = Mlp::new(4, &[6, 5, 7], act)
                .with_w_std(1.3)
                .with_b_std(0.2)
                .with_parameterization(param.parse().unwrap());
            for kind in [KernelKind::Ntk, KernelKind::Nngp] {
                let opts = AnalyticOptions {
                    kind,
                    quadrature_order: order,
                    parallelism: Parallelism::threads(2),
                    ..AnalyticOptions::default()
                };
                for x2 in [None, Some(&p2)] {
                    let c = analytic(&model, &p1, x2, &opts).unwrap();
                    let q = analytic_with(&model, &p1, x2, &opts, Method::Quadrature).unwrap();
                    let what = format!("{act} {param} {kind:?} x2={}", x2.is_some());
                    if act.abrelu().is_some() {
                        let e = common::rel_frob(&q.data, &c.data);
                        let bound = if kind == KernelKind::Nngp { 1e-2 } else { 5e-2 };
                        assert!(e <= bound, "{what}: {e:e}");
                    } else {
                        common::assert_close(&q.data, &c.data, 1e-10, &what);
                    }
                }
            }
        }
    }
}

/// A user activation goes through quadrature: `Custom(erf, erf')` reproduces the erf closed
/// form to 1e-10.
#[test]
fn custom_activation_goes_through_quadrature() {
    fn f(x: f64) -> f64 {
        libm_erf(x)
    }
    fn df(x: f64) -> f64 {
        2.0 / core::f64::consts::PI.sqrt() * (-x * x).exp()
    }
    fn libm_erf(x: f64) -> f64 {
        Activation::Erf.value(x)
    }
    let custom = Activation::Custom(ntk_engine::activation::CustomActivation {
        name: "my_erf",
        value: f,
        derivative: df,
    });
    let x = common::points(7, 3, 5);
    let p = Points::from_f64(&x, 7, 3).unwrap();
    let opts = AnalyticOptions {
        quadrature_order: 256,
        ..AnalyticOptions::default()
    };
    let erf = analytic(&Mlp::new(3, &[4, 4], Activation::Erf), &p, None, &opts).unwrap();
    let cus = analytic(&Mlp::new(3, &[4, 4], custom), &p, None, &opts).unwrap();
    common::assert_close(&cus.data, &erf.data, 1e-10, "custom erf");
}
