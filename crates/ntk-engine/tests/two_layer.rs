//! The lecture's two-layer net: its tangent kernel is the inner product of its gradients,
//! the ReLU kernel converges to the arc-cosine closed form, and the linearisation agrees
//! with the network at `W_0` and to second order nearby.

use faer::Mat;
use ntk_engine::Activation;
use ntk_engine::train::two_layer::{TwoLayer, relu_limit_kernel};

fn points(n: usize, d: usize) -> Mat<f64> {
    let x = Mat::from_fn(n, d, |i, j| ((i * d + j) as f64 * 0.913).sin());
    // Various norms, some above 1: the closed form holds for any norms.
    Mat::from_fn(n, d, |i, j| x[(i, j)] * (0.5 + 0.3 * i as f64))
}

/// `∇f(x)` from the loss gradient of one point with residual 1 (`y = f(x) − 1`).
fn grad(net: &TwoLayer, x: &Mat<f64>, i: usize) -> Mat<f64> {
    let xi = x.subrows(i, 1).to_owned();
    let f = net.forward(xi.as_ref())[0];
    net.loss_gradient(xi.as_ref(), &[f - 1.0])
}

#[test]
fn kernel_is_the_gradient_inner_product() {
    let x = points(4, 3);
    for act in [Activation::Tanh, Activation::Relu, Activation::Softplus] {
        let net = TwoLayer::seeded(3, 50, act, 2);
        let k = net.kernel(x.as_ref(), x.as_ref());
        for i in 0..4 {
            for j in 0..4 {
                let (gi, gj) = (grad(&net, &x, i), grad(&net, &x, j));
                let dot: f64 = (0..50)
                    .flat_map(|u| (0..3).map(move |c| (u, c)))
                    .map(|(u, c)| gi[(u, c)] * gj[(u, c)])
                    .sum();
                assert!((dot - k[(i, j)]).abs() < 1e-13, "{act} ({i},{j})");
            }
        }
    }
}

/// Relative Frobenius error of the empirical ReLU kernel at `m = 16384` against
/// `xᵀx'·(π − arccos ρ)/(2π)`: Monte Carlo over neurons, so `O(1/√m) ≈ 0.008`; 0.03
/// allows four standard errors.
#[test]
fn relu_kernel_converges_to_the_arccos_limit() {
    let x = points(6, 5);
    let net = TwoLayer::seeded(5, 16384, Activation::Relu, 9);
    let (k, lim) = (
        net.kernel(x.as_ref(), x.as_ref()),
        relu_limit_kernel(x.as_ref(), x.as_ref()),
    );
    let err = (&k - &lim).norm_l2() / lim.norm_l2();
    assert!(err < 0.03, "relative error {err}");
    // On the diagonal the limit is ‖x‖²/2.
    let n0: f64 = (0..5).map(|c| x[(0, c)] * x[(0, c)]).sum();
    assert!((lim[(0, 0)] - n0 / 2.0).abs() < 1e-14 * n0);
}

#[test]
fn linearisation_is_exact_at_w0_and_second_order_nearby() {
    let x = points(5, 4);
    let net = TwoLayer::seeded(4, 64, Activation::Tanh, 1);
    let f0 = net.forward(x.as_ref());
    let lin0 = net.linearised(net.w.as_ref(), x.as_ref());
    for (a, b) in f0.iter().zip(&lin0) {
        assert!((a - b).abs() < 1e-14);
    }
    let dir = Mat::from_fn(64, 4, |j, c| ((j * 4 + c) as f64 * 1.7).cos());
    let gap = |eps: f64| {
        let mut moved = net.clone();
        moved.w = &net.w + eps * &dir;
        moved.linearisation_error(&net, x.as_ref())
    };
    let ratio = gap(1e-2) / gap(5e-3);
    assert!((ratio - 4.0).abs() < 0.2, "ratio {ratio}");
}
