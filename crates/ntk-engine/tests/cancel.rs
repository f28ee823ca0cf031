//! `empirical_cancellable` and `analytic_cancellable`: with the flag clear each is
//! `empirical` (both schedules) or `analytic` bit for bit, symmetric or not; with the flag
//! set each returns `Error::Cancelled` and no kernel. (Stopping mid-run, from another thread, is tested through the Python module's
//! Ctrl-C test in crates/ntk-py/tests.)

mod common;

use std::sync::atomic::AtomicBool;

use common::points;
use ntk_engine::gram::{EmpiricalOptions, KernelKind, Schedule, Weights};
use ntk_engine::{Activation, Error, Mlp, Points, empirical, empirical_cancellable};

#[test]
fn clear_flag_is_empirical_and_set_flag_cancels() {
    let (n1, n2, d) = (37, 20, 5);
    let (x1, x2) = (points(n1, d, 1), points(n2, d, 2));
    let (p1, p2) = (
        Points::from_f64(&x1, n1, d).unwrap(),
        Points::from_f64(&x2, n2, d).unwrap(),
    );
    for (widths, schedule) in [
        (&[600][..], Schedule::Streamed),
        (&[300][..], Schedule::Stored),
        (&[40, 30][..], Schedule::Stored),
    ] {
        let model = Mlp::new(d, widths, Activation::Relu).with_outputs(2);
        for kind in [KernelKind::Ntk, KernelKind::Nngp] {
            for x2 in [None, Some(&p2)] {
                let opts = EmpiricalOptions {
                    kind,
                    schedule,
                    tile: 8,
                    chunk: 256,
                    ..EmpiricalOptions::default()
                };
                let w = Weights::Seeded(3);
                let want = empirical(&model, w, &p1, x2, &opts).unwrap();
                let clear = AtomicBool::new(false);
                let got = empirical_cancellable(&model, w, &p1, x2, &opts, &clear).unwrap();
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&got.data), bits(&want.data), "{model} {schedule:?}");
                let set = AtomicBool::new(true);
                let r = empirical_cancellable(&model, w, &p1, x2, &opts, &set);
                assert!(matches!(r, Err(Error::Cancelled)), "{model} {schedule:?}");
            }
        }
    }
}

/// `analytic_cancellable` likewise: closed forms and quadrature, symmetric or not, traced
/// and full.
#[test]
fn analytic_clear_flag_is_analytic_and_set_flag_cancels() {
    use ntk_engine::{AnalyticOptions, analytic, analytic_cancellable};
    let (n1, n2, d) = (150, 70, 5);
    let (x1, x2) = (points(n1, d, 4), points(n2, d, 5));
    let (p1, p2) = (
        Points::from_f64(&x1, n1, d).unwrap(),
        Points::from_f64(&x2, n2, d).unwrap(),
    );
    for (model, full) in [
        (Mlp::new(d, &[64, 64], Activation::Relu), false),
        (Mlp::new(d, &[64], Activation::Tanh).with_outputs(2), true),
    ] {
        for x2 in [None, Some(&p2)] {
            let opts = AnalyticOptions {
                full,
                tile: 32,
                ..AnalyticOptions::default()
            };
            let want = analytic(&model, &p1, x2, &opts).unwrap();
            let clear = AtomicBool::new(false);
            let got = analytic_cancellable(&model, &p1, x2, &opts, &clear).unwrap();
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got.data), bits(&want.data), "{model}");
            let set = AtomicBool::new(true);
            let r = analytic_cancellable(&model, &p1, x2, &opts, &set);
            assert!(matches!(r, Err(Error::Cancelled)), "{model}");
        }
    }
}
