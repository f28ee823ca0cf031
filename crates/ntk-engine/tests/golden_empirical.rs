//! Every case of `empirical_ntk.json` (neural-tangents 0.6.5), through the weights it
//! carries: full and traced NTK, x1×x2 and x1×x1, and the empirical NNGP
//! `W_std²·h_L·h_L'/m_L + b_std²`, in f64 (≤ 1e-9) and f32 (≤ 1e-4), both schedules.

mod common;

use common::{array, assert_close, golden, tol};
use ntk_engine::gram::{EmpiricalOptions, KernelKind, Precision, Schedule, Weights, empirical};
use ntk_engine::{Parallelism, Points};

fn schedules(depth: usize) -> Vec<Schedule> {
    if depth == 1 {
        vec![Schedule::Stored, Schedule::Streamed]
    } else {
        vec![Schedule::Stored]
    }
}

#[test]
fn every_golden_case_matches() {
    let g = golden("empirical_ntk.json");
    let cases = g["cases"].as_array().unwrap();
    assert!(cases.len() >= 5);
    for case in cases {
        let id = case["id"].as_str().unwrap();
        let (s1, x1) = array(&case["x1"]);
        let (s2, x2) = array(&case["x2"]);
        let model = common::model(case, s1[1]);
        let params = common::params(case);
        let p1 = Points::from_f64(&x1, s1[0], s1[1]).unwrap();
        let p2 = Points::from_f64(&x2, s2[0], s2[1]).unwrap();
        let (_, nt_full) = array(&case["out"]["ntk_x1x2"]);
        let (_, nt_full11) = array(&case["out"]["ntk_x1x1"]);
        let (_, nt_traced) = array(&case["out"]["ntk_traced_x1x2"]);
        let w2 = model.w_std * model.w_std;
        let b2 = model.b_std * model.b_std;
        let nngp = |name: &str| -> Vec<f64> {
            array(&case["out"][name])
                .1
                .iter()
                .map(|v| w2 * v + b2)
                .collect()
        };
        let (nngp12, nngp11) = (nngp("nngp_features_x1x2"), nngp("nngp_features_x1x1"));
        for precision in [Precision::F64, Precision::F32] {
            let t = if precision == Precision::F64 {
                tol::F64_GOLDEN
            } else {
                tol::F32_GOLDEN
            };
            for schedule in schedules(model.depth()) {
                for threads in [1, 2] {
                    let opts = |kind, full| EmpiricalOptions {
                        kind,
                        full,
                        precision,
                        schedule,
                        parallelism: Parallelism::threads(threads),
                        tile: 4,
                        ..EmpiricalOptions::default()
                    };
                    let w = Weights::Explicit(&params);
                    let what = |s: &str| format!("{id} {precision:?} {schedule:?} {s}");
                    let k =
                        empirical(&model, w, &p1, Some(&p2), &opts(KernelKind::Ntk, true)).unwrap();
                    assert_close(&k.data, &nt_full, t, &what("ntk_x1x2"));
                    let k = empirical(&model, w, &p1, None, &opts(KernelKind::Ntk, true)).unwrap();
                    assert_close(&k.data, &nt_full11, t, &what("ntk_x1x1"));
                    let k = empirical(&model, w, &p1, Some(&p2), &opts(KernelKind::Ntk, false))
                        .unwrap();
                    assert_close(&k.data, &nt_traced, t, &what("ntk_traced_x1x2"));
                    let k = empirical(&model, w, &p1, Some(&p2), &opts(KernelKind::Nngp, false))
                        .unwrap();
                    assert_close(&k.data, &nngp12, t, &what("nngp_x1x2"));
                    let k =
                        empirical(&model, w, &p1, None, &opts(KernelKind::Nngp, false)).unwrap();
                    assert_close(&k.data, &nngp11, t, &what("nngp_x1x1"));
                }
            }
        }
    }
}

/// The outputs of the reference network agree with neural-tangents' `f_x1` (checks that the
/// forward pass and the golden weights are read with the same conventions).
#[test]
fn reference_forward_matches_golden_outputs() {
    let g = golden("empirical_ntk.json");
    for case in g["cases"].as_array().unwrap() {
        let (s1, x1) = array(&case["x1"]);
        let model = common::model(case, s1[1]);
        let params = common::params(case);
        let (_, f) = array(&case["out"]["f_x1"]);
        let got: Vec<f64> = x1
            .chunks(s1[1])
            .flat_map(|x| ntk_engine::reference::forward(&model, &params, x).unwrap())
            .collect();
        assert_close(&got, &f, tol::F64_GOLDEN, case["id"].as_str().unwrap());
    }
}
