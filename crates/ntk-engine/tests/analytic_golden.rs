//! Every case of `analytic_kernels.json` (neural-tangents 0.6.5, float64): NNGP and NTK,
//! `x1 × x1` and `x1 × x2`, traced and full, to 1e-10 relative ([`tol::F64_ANALYTIC`]).

mod common;

use common::{array, assert_close, golden, tol};

/// The largest `|got − want|/max(|want|, 1e-3·max|want|)` (the measure `assert_close` bounds).
fn worst(got: &[f64], want: &[f64]) -> f64 {
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    got.iter()
        .zip(want)
        .map(|(g, w)| (g - w).abs() / w.abs().max(1e-3 * scale))
        .fold(0.0, f64::max)
}
use ntk_engine::analytic::{AnalyticOptions, analytic};
use ntk_engine::{KernelKind, Parallelism, Points};

#[test]
fn every_golden_case_matches() {
    let g = golden("analytic_kernels.json");
    let cases = g["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 149);
    let mut max_err = 0.0f64;
    for case in cases {
        let id = case["id"].as_str().unwrap();
        let (s1, x1) = array(&case["x1"]);
        let (s2, x2) = array(&case["x2"]);
        let model = common::model(case, s1[1]);
        let p1 = Points::from_f64(&x1, s1[0], s1[1]).unwrap();
        let p2 = Points::from_f64(&x2, s2[0], s2[1]).unwrap();
        for (kind, name) in [(KernelKind::Nngp, "nngp"), (KernelKind::Ntk, "ntk")] {
            let opts = AnalyticOptions {
                kind,
                parallelism: Parallelism::Sequential,
                tile: 4,
                ..AnalyticOptions::default()
            };
            let (_, want11) = array(&case["out"][format!("{name}_x1x1")]);
            let (_, want12) = array(&case["out"][format!("{name}_x1x2")]);
            let got11 = analytic(&model, &p1, None, &opts).unwrap();
            assert_eq!(got11.shape(), vec![s1[0], s1[0]]);
            assert_close(
                &got11.data,
                &want11,
                tol::F64_ANALYTIC,
                &format!("{id} {name}_x1x1"),
            );
            let got12 = analytic(&model, &p1, Some(&p2), &opts).unwrap();
            assert_eq!(got12.shape(), vec![s1[0], s2[0]]);
            assert_close(
                &got12.data,
                &want12,
                tol::F64_ANALYTIC,
                &format!("{id} {name}_x1x2"),
            );
            max_err = max_err.max(worst(&got11.data, &want11));
            max_err = max_err.max(worst(&got12.data, &want12));
        }
    }
    eprintln!("analytic golden: worst relative error {max_err:e}");
}

/// The full kernel is `Θ ⊗ I_k`: the traced value on the output diagonal, 0 elsewhere, and
/// its trace gives back the traced kernel exactly.
#[test]
fn full_kernel_is_the_traced_one_times_identity() {
    let g = golden("analytic_kernels.json");
    let case = &g["cases"].as_array().unwrap()[7];
    let (s1, x1) = array(&case["x1"]);
    let (s2, x2) = array(&case["x2"]);
    let model = common::model(case, s1[1]).with_outputs(3);
    let p1 = Points::from_f64(&x1, s1[0], s1[1]).unwrap();
    let p2 = Points::from_f64(&x2, s2[0], s2[1]).unwrap();
    for kind in [KernelKind::Ntk, KernelKind::Nngp] {
        for x2 in [None, Some(&p2)] {
            let traced = AnalyticOptions {
                kind,
                ..AnalyticOptions::default()
            };
            let full = AnalyticOptions {
                full: true,
                ..traced
            };
            let t = analytic(&model, &p1, x2, &traced).unwrap();
            let f = analytic(&model, &p1, x2, &full).unwrap();
            assert_eq!(f.shape(), vec![t.n1, t.n2, 3, 3]);
            for i in 0..t.n1 {
                for j in 0..t.n2 {
                    for a in 0..3 {
                        for b in 0..3 {
                            let want = if a == b { t.get(i, j, 0, 0) } else { 0.0 };
                            assert_eq!(f.get(i, j, a, b), want);
                        }
                    }
                }
            }
            // The trace is `(v + v + v)/3`: one rounding away from `v`.
            assert_close(&f.traced().data, &t.data, 1e-15, "traced full");
        }
    }
}
