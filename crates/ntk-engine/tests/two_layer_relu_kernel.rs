//! The lecture's kernel (the two-layer ReLU net with a fixed ±1 readout): the
//! popcount path equals the f32 path exactly, both count what a plain loop counts, and the
//! empirical kernel converges to `xᵀx'·(π − arccos ρ)/(2π)` for inputs of any norm.

mod common;

use common::{points, rel_frob};
use ntk_engine::Points;
use ntk_engine::gram::two_layer_relu::{
    CountPath, counts, kernel_from_counts, lecture_kernel, lecture_limit, patterns,
};

#[test]
fn popcount_and_f32_paths_count_the_same() {
    let (n1, n2, d) = (150, 70, 9);
    let (x1, x2) = (points(n1, d, 1), points(n2, d, 2));
    let (p1, p2) = (
        Points::from_f64(&x1, n1, d).unwrap(),
        Points::from_f64(&x2, n2, d).unwrap(),
    );
    for m in [64, 300, 5000] {
        let (a, b) = (patterns(&p1, m, 7).unwrap(), patterns(&p2, m, 7).unwrap());
        for other in [None, Some(&b)] {
            let bits = counts(&a, other, CountPath::Bits);
            let f32s = counts(&a, other, CountPath::F32);
            assert_eq!(bits, f32s, "m = {m}");
        }
    }
}

/// Against a plain loop over neurons with f64 pre-activations. The engine takes signs of f32
/// products, so a pair may differ where some `|w_jᵀx| < 1e-5`; the test counts those neurons
/// and allows exactly that slack.
#[test]
fn counts_match_a_plain_loop() {
    let (n, d, m) = (20, 6, 700);
    let x = points(n, d, 3);
    let p = Points::from_f64(&x, n, d).unwrap();
    let pat = patterns(&p, m, 11).unwrap();
    let c = counts(&pat, None, CountPath::Bits);
    let model = ntk_engine::Mlp::new(d, &[m], ntk_engine::Activation::Relu);
    // The patterns draw the first layer of the seeded net.
    let params = ntk_engine::Params::seeded(&model, 11).unwrap();
    let w = |j: usize| params.layer(0).unwrap().weights_into(j);
    let z = |i: usize, j: usize| (0..d).map(|t| x[i * d + t] * w(j)[t]).sum::<f64>();
    for i in 0..n {
        for k in 0..n {
            let want = (0..m).filter(|&j| z(i, j) > 0.0 && z(k, j) > 0.0).count() as i64;
            let slack = (0..m)
                .filter(|&j| z(i, j).abs() < 1e-5 || z(k, j).abs() < 1e-5)
                .count() as i64;
            assert!(
                (c[i * n + k] as i64 - want).abs() <= slack,
                "({i},{k}): {} vs {want}",
                c[i * n + k]
            );
        }
    }
}

/// Relative Frobenius error against the limit, averaged over 6 seeds, falls like m^{-1/2}:
/// fitted log-log slope in [−0.65, −0.35]. Inputs have norms from 0.1 to 3.
#[test]
fn empirical_seed_kernel_converges_to_the_arccos_limit() {
    let (n, d) = (24, 5);
    let mut x = points(n, d, 4);
    for (i, row) in x.chunks_mut(d).enumerate() {
        let s = 0.1 + 2.9 * i as f64 / (n - 1) as f64;
        row.iter_mut().for_each(|v| *v *= s);
    }
    let p = Points::from_f64(&x, n, d).unwrap();
    let limit = lecture_limit(&p, None);
    let widths = [256usize, 1024, 4096, 16384];
    let errs: Vec<f64> = widths
        .iter()
        .map(|&m| {
            (0..6)
                .map(|s| {
                    rel_frob(
                        &lecture_kernel(&p, None, m, s, CountPath::Bits)
                            .unwrap()
                            .data,
                        &limit.data,
                    )
                })
                .sum::<f64>()
                / 6.0
        })
        .collect();
    let (lx, ly): (Vec<f64>, Vec<f64>) = widths
        .iter()
        .zip(&errs)
        .map(|(&m, e)| ((m as f64).ln(), e.ln()))
        .unzip();
    let (mx, my) = (lx.iter().sum::<f64>() / 4.0, ly.iter().sum::<f64>() / 4.0);
    let slope = lx
        .iter()
        .zip(&ly)
        .map(|(a, b)| (a - mx) * (b - my))
        .sum::<f64>()
        / lx.iter().map(|a| (a - mx).powi(2)).sum::<f64>();
    assert!(
        (-0.65..=-0.35).contains(&slope),
        "slope {slope}, errors {errs:?}"
    );
    // And the kernel is the counts times xᵀx'/m.
    let pat = patterns(&p, 512, 0).unwrap();
    let k = kernel_from_counts(&p, None, &counts(&pat, None, CountPath::F32), 512);
    assert_eq!(
        k.data,
        lecture_kernel(&p, None, 512, 0, CountPath::Bits)
            .unwrap()
            .data
    );
}
