//! The lecture's two-layer network (Telgarsky's notes, §4):
//!
//! ```text
//! f(x; W) = (1/√m) Σ_j a_j σ(w_jᵀx),    a_j ∈ {±1} fixed,  w_j ~ N(0, I_d)
//! ```
//!
//! trained in `W` only. Its linearisation at `W_0`,
//! `f_{W_0}(x; W) = f(x; W_0) + ⟨∇f(x; W_0), W − W_0⟩` with
//! `∇_{w_j} f(x; W) = a_j σ'(w_jᵀx)·x/√m`, has the empirical kernel
//! `k(x, x') = xᵀx'·(1/m) Σ_j a_j² σ'(w_jᵀx) σ'(w_jᵀx')`, whose limit for ReLU is
//! `xᵀx'·(π − arccos ρ)/(2π)` with `ρ` the cosine of the angle between `x` and `x'`
//! ([`relu_limit_kernel`]; any norms, since only the signs of `wᵀx` matter).
//!
//! For a `β`-smooth `σ` (`|σ''| ≤ β`) and `‖x‖ ≤ 1` the lecture's bound is, for any `W`,
//! `|f(x; W) − f_{W_0}(x; W)| ≤ β/(2√m)·‖W − W_0‖_F²` (Taylor with remainder per neuron,
//! `|a_j| ≤ 1`, Cauchy–Schwarz); [`beta`] gives the true `sup |σ''|` of the activations
//! that have one.

use core::f64::consts::{E, PI};

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{Rng, SeedableRng};

use crate::activation::Activation;
use crate::activation::erf::SIGMOID_LIKE_WIDTH;
use crate::gram::two_layer_relu::limit_entry;

/// `sup_z |σ''(z)|` where it is finite and the activation is twice differentiable
/// everywhere (`None` for ReLU, leaky ReLU, Abs and custom activations):
///
/// * tanh: `σ'' = −2 tanh·sech²`, largest at `tanh z = 1/√3`: `β = 4/(3√3) ≈ 0.7698`;
/// * softplus: `σ'' = s(1 − s)` with `s` the logistic sigmoid: `β = 1/4`;
/// * erf: `σ'' = −(4/√π)·z·e^{−z²}`, largest at `z = 1/√2`: `β = 4/√(2πe) ≈ 0.9679`;
///   `a·erf(b·z) + c` (sigmoid-like) scales it by `|a|·b²`;
/// * GELU `zΦ(z)`: `σ'' = φ(z)(2 − z²)`, largest at `z = 0`: `β = 2φ(0) = √(2/π) ≈ 0.7979`;
/// * sin: `β = 1`; identity: `β = 0`.
pub fn beta(activation: Activation) -> Option<f64> {
    let erf_beta = 4.0 / (2.0 * PI * E).sqrt();
    match activation {
        Activation::Tanh => Some(4.0 / (3.0 * 3f64.sqrt())),
        Activation::Softplus => Some(0.25),
        Activation::Erf => Some(erf_beta),
        Activation::SigmoidLike => {
            let b = 1.0 / SIGMOID_LIKE_WIDTH;
            Some(0.5 * b * b * erf_beta)
        }
        Activation::Gelu => Some((2.0 / PI).sqrt()),
        Activation::Sin => Some(1.0),
        Activation::Identity => Some(0.0),
        _ => None,
    }
}

/// The network: `W` (`m × d`, row `j` is `w_j`), the fixed readout `a` and `σ`.
#[derive(Clone, Debug)]
pub struct TwoLayer {
    /// Hidden weights, `m × d`.
    pub w: Mat<f64>,
    /// Readout signs, `m` values in `{±1}`.
    pub a: Vec<f64>,
    /// `σ`.
    pub activation: Activation,
}

impl TwoLayer {
    /// `w_j ~ N(0, I_d)` and `a_j = ±1` with equal probability, from `seed`.
    pub fn seeded(input_dim: usize, width: usize, activation: Activation, seed: u64) -> Self {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x7477_6f5f_6c61_7972);
        let mut w = Mat::<f64>::zeros(width, input_dim);
        for j in 0..width {
            for i in 0..input_dim {
                w[(j, i)] = StandardNormal.sample(&mut rng);
            }
        }
        let a = (0..width)
            .map(|_| if rng.next_u64() >> 63 == 0 { 1.0 } else { -1.0 })
            .collect();
        TwoLayer { w, a, activation }
    }

    /// The width `m`.
    pub fn width(&self) -> usize {
        self.w.nrows()
    }

    /// `Z = X·Wᵀ` (`n × m`).
    fn pre(&self, x: MatRef<'_, f64>) -> Mat<f64> {
        let mut z = Mat::zeros(x.nrows(), self.width());
        matmul(
            z.as_mut(),
            Accum::Replace,
            x,
            self.w.transpose(),
            1.0,
            Par::Seq,
        );
        z
    }

    /// `f(x; W)` for the rows of `x` (`n × d`).
    pub fn forward(&self, x: MatRef<'_, f64>) -> Vec<f64> {
        let z = self.pre(x);
        let s = 1.0 / (self.width() as f64).sqrt();
        (0..x.nrows())
            .map(|i| {
                let mut acc = 0.0;
                for j in 0..self.width() {
                    acc += self.a[j] * self.activation.value(z[(i, j)]);
                }
                s * acc
            })
            .collect()
    }

    /// `∇_W L` for `L = 1/(2n)·Σ_i (f(x_i) − y_i)²`: `(1/n)·Σ_i r_i·∇f(x_i)`, `m × d`.
    pub fn loss_gradient(&self, x: MatRef<'_, f64>, y: &[f64]) -> Mat<f64> {
        let n = x.nrows();
        let r: Vec<f64> = self.forward(x).iter().zip(y).map(|(f, y)| f - y).collect();
        let z = self.pre(x);
        let s = 1.0 / (self.width() as f64).sqrt();
        // G[i, j] = r_i·a_j·σ'(z_ij)/(√m·n); ∇ = Gᵀ·X.
        let g = Mat::from_fn(n, self.width(), |i, j| {
            r[i] * self.a[j] * self.activation.derivative(z[(i, j)]) * s / n as f64
        });
        let mut grad = Mat::zeros(self.width(), x.ncols());
        matmul(
            grad.as_mut(),
            Accum::Replace,
            g.transpose(),
            x,
            1.0,
            Par::Seq,
        );
        grad
    }

    /// `steps` of gradient descent on `1/(2n)·‖f − y‖²` with learning rate `lr`; returns
    /// the loss before each step and after the last.
    pub fn train_gd(&mut self, x: MatRef<'_, f64>, y: &[f64], lr: f64, steps: usize) -> Vec<f64> {
        let loss = |net: &TwoLayer| {
            let f = net.forward(x);
            f.iter().zip(y).map(|(f, y)| (f - y) * (f - y)).sum::<f64>() / (2.0 * y.len() as f64)
        };
        let mut losses = Vec::with_capacity(steps + 1);
        for _ in 0..steps {
            losses.push(loss(self));
            let g = self.loss_gradient(x, y);
            self.w = &self.w - lr * &g;
        }
        losses.push(loss(self));
        losses
    }

    /// The linearisation at `self` (`= W_0`) evaluated at `w`:
    /// `f(x; W_0) + (1/√m)·Σ_j a_j σ'(w_{0,j}ᵀx)·(w_j − w_{0,j})ᵀx`.
    pub fn linearised(&self, w: MatRef<'_, f64>, x: MatRef<'_, f64>) -> Vec<f64> {
        let dw = w - &self.w;
        let f0 = self.forward(x);
        self.gradient_inner(dw.as_ref(), x)
            .iter()
            .zip(f0)
            .map(|(g, f)| f + g)
            .collect()
    }

    /// `⟨∇_W f(x; W), V⟩ = (1/√m)·Σ_j a_j σ'(w_jᵀx)·v_jᵀx` for the rows of `x`, with `W` the
    /// network's own weights and `V` any `m × d` matrix.
    ///
    /// With `V = W` this is the lecture's homogeneity identity: for a positively homogeneous
    /// `σ` (ReLU, leaky ReLU: `σ'(z)·z = σ(z)`), `f(x; W) = ⟨∇f(x; W), W⟩`, hence
    /// `f_{W_0}(x; W) = ⟨∇f(x; W_0), W⟩`: the linearisation has no constant term and is a
    /// kernel model in `W`. For other `σ` the two differ by
    /// `(1/√m)·Σ_j a_j (σ(z_j) − σ'(z_j) z_j)`.
    ///
    /// # Panics
    /// When `v` is not `m × d` or `x` has not `d` columns.
    pub fn gradient_inner(&self, v: MatRef<'_, f64>, x: MatRef<'_, f64>) -> Vec<f64> {
        assert_eq!(
            (v.nrows(), v.ncols()),
            (self.width(), self.w.ncols()),
            "V must be m × d"
        );
        let z = self.pre(x);
        let mut proj = Mat::zeros(x.nrows(), self.width());
        matmul(
            proj.as_mut(),
            Accum::Replace,
            x,
            v.transpose(),
            1.0,
            Par::Seq,
        );
        let s = 1.0 / (self.width() as f64).sqrt();
        (0..x.nrows())
            .map(|i| {
                let mut acc = 0.0;
                for j in 0..self.width() {
                    acc += self.a[j] * self.activation.derivative(z[(i, j)]) * proj[(i, j)];
                }
                s * acc
            })
            .collect()
    }

    /// The empirical tangent kernel `k(x, x') = xᵀx'·(1/m)·Σ_j a_j² σ'(w_jᵀx)σ'(w_jᵀx')`,
    /// `n1 × n2`.
    pub fn kernel(&self, x1: MatRef<'_, f64>, x2: MatRef<'_, f64>) -> Mat<f64> {
        let m = self.width() as f64;
        let d = |x: MatRef<'_, f64>| {
            let z = self.pre(x);
            Mat::from_fn(z.nrows(), z.ncols(), |i, j| {
                self.a[j] * self.activation.derivative(z[(i, j)])
            })
        };
        let (d1, d2) = (d(x1), d(x2));
        let mut g = Mat::zeros(x1.nrows(), x2.nrows());
        matmul(
            g.as_mut(),
            Accum::Replace,
            d1.as_ref(),
            d2.transpose(),
            1.0 / m,
            Par::Seq,
        );
        let mut xx = Mat::zeros(x1.nrows(), x2.nrows());
        matmul(
            xx.as_mut(),
            Accum::Replace,
            x1,
            x2.transpose(),
            1.0,
            Par::Seq,
        );
        Mat::from_fn(g.nrows(), g.ncols(), |i, j| g[(i, j)] * xx[(i, j)])
    }

    /// `max_x |f(x; W) − f_{W_0}(x; W)|` over the rows of `x`, for `self = W` trained from
    /// `init = W_0`.
    pub fn linearisation_error(&self, init: &TwoLayer, x: MatRef<'_, f64>) -> f64 {
        let f = self.forward(x);
        let lin = init.linearised(self.w.as_ref(), x);
        f.iter()
            .zip(&lin)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max)
    }

    /// The lecture's bound `β/(2√m)·‖W − W_0‖_F²` (`None` when `σ` has no finite `β`).
    pub fn linearisation_bound(&self, init: &TwoLayer) -> Option<f64> {
        let b = beta(self.activation)?;
        let dist2 = (&self.w - &init.w).squared_norm_l2();
        Some(b / (2.0 * (self.width() as f64).sqrt()) * dist2)
    }
}

/// What one two-layer run is measured on: training inputs and scalar targets, the points
/// the linearisation gap is taken over, and the gradient-descent schedule.
#[derive(Clone, Copy, Debug)]
pub struct TwoLayerTask<'a> {
    /// Training inputs, `n × d`, every row with `‖x‖ ≤ 1` for the bound to hold.
    pub x_train: MatRef<'a, f64>,
    /// Scalar targets, one per training row.
    pub y: &'a [f64],
    /// The points `max_x |f − f_lin|` is taken over (`p × d`).
    pub x_eval: MatRef<'a, f64>,
    /// Learning rate of gradient descent on `1/(2n)·‖f − y‖²`.
    pub learning_rate: f64,
    /// Steps of gradient descent.
    pub steps: usize,
}

/// One seeded run of the lecture's linearisation check.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinearisationRun {
    /// `max_x |f(x; W_T) − f_{W_0}(x; W_T)|` over the evaluation points.
    pub error: f64,
    /// `‖W_T − W_0‖_F`.
    pub distance: f64,
    /// The bound `β/(2√m)·‖W_T − W_0‖_F²` (NaN when `σ` has no finite `β`).
    pub bound: f64,
    /// The training loss after the last step.
    pub loss: f64,
}

/// The net of `width` neurons with `activation` drawn from `seed`, trained on `task` by
/// gradient descent from `W_0`, and its gap to the linearisation at `W_0`.
pub fn linearisation_run(
    task: &TwoLayerTask<'_>,
    activation: Activation,
    width: usize,
    seed: u64,
) -> LinearisationRun {
    let init = TwoLayer::seeded(task.x_train.ncols(), width, activation, seed);
    let mut net = init.clone();
    let losses = net.train_gd(task.x_train, task.y, task.learning_rate, task.steps);
    LinearisationRun {
        error: net.linearisation_error(&init, task.x_eval),
        distance: (&net.w - &init.w).norm_l2(),
        bound: net.linearisation_bound(&init).unwrap_or(f64::NAN),
        loss: losses.last().copied().unwrap_or(f64::NAN),
    }
}

/// The infinite-width limit of the ReLU kernel, `xᵀx'·(π − θ)/(2π)`, `n1 × n2`, with
/// `θ` the angle between `x` and `x'` (0 when either point is 0): the lecture's kernel of
/// [`gram::two_layer_relu`](crate::gram::two_layer_relu), here on faer matrices.
pub fn relu_limit_kernel(x1: MatRef<'_, f64>, x2: MatRef<'_, f64>) -> Mat<f64> {
    let row = |x: MatRef<'_, f64>, i: usize| (0..x.ncols()).map(|c| x[(i, c)]).collect();
    let r1: Vec<Vec<f64>> = (0..x1.nrows()).map(|i| row(x1, i)).collect();
    let r2: Vec<Vec<f64>> = (0..x2.nrows()).map(|j| row(x2, j)).collect();
    Mat::from_fn(x1.nrows(), x2.nrows(), |i, j| limit_entry(&r1[i], &r2[j]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `β` against a fine grid of central second differences of `σ'` (step 1e-5 on
    /// `[−8, 8]`, grid 1e-4: the sup is found to ~1e-7 relative, tolerance 1e-5).
    #[test]
    fn beta_is_the_sup_of_the_second_derivative() {
        for act in [
            Activation::Tanh,
            Activation::Softplus,
            Activation::Erf,
            Activation::SigmoidLike,
            Activation::Gelu,
            Activation::Sin,
        ] {
            let h = 1e-5f64;
            let mut sup = 0.0f64;
            let mut z = -8.0f64;
            while z <= 8.0 {
                let d2 = (act.derivative(z + h) - act.derivative(z - h)) / (2.0 * h);
                sup = sup.max(d2.abs());
                z += 1e-4;
            }
            let b = beta(act).unwrap();
            assert!((sup - b).abs() <= 1e-5 * b, "{act}: grid {sup}, beta {b}");
        }
        assert_eq!(beta(Activation::Relu), None);
    }

    /// `⟨∇f(x; W), V⟩` against central differences of `f` along `V` (a slow reference that
    /// never calls `σ'`), then the homogeneity identity `f = ⟨∇f, W⟩`: to rounding for
    /// ReLU and leaky ReLU (1e-12 relative; no weight sits at a kink for these inputs), and
    /// off by O(1) for tanh. Step 1e-5 on tanh: truncation ~1e-10 times the third
    /// derivative, rounding ~1e-11; tolerance 1e-7.
    #[test]
    fn gradient_inner_is_a_directional_derivative_and_relu_is_homogeneous() {
        let x = Mat::from_fn(6, 4, |i, j| ((i * 4 + j) as f64 * 0.53).cos() * 0.4);
        let v = Mat::from_fn(32, 4, |j, i| ((j * 4 + i) as f64 * 0.29).sin());
        let tanh = TwoLayer::seeded(4, 32, Activation::Tanh, 7);
        let h = 1e-5;
        let shifted = |c: f64| {
            let mut n = tanh.clone();
            n.w = &tanh.w + c * &v;
            n.forward(x.as_ref())
        };
        let (p, m) = (shifted(h), shifted(-h));
        for (i, g) in tanh
            .gradient_inner(v.as_ref(), x.as_ref())
            .iter()
            .enumerate()
        {
            let fd = (p[i] - m[i]) / (2.0 * h);
            assert!((fd - g).abs() < 1e-7, "{i}: {fd} vs {g}");
        }
        for act in [Activation::Relu, Activation::LeakyRelu(0.1)] {
            let net = TwoLayer::seeded(4, 64, act, 2);
            let f = net.forward(x.as_ref());
            let g = net.gradient_inner(net.w.as_ref(), x.as_ref());
            let scale = f.iter().map(|v| v.abs()).fold(0.0, f64::max);
            for (a, b) in f.iter().zip(&g) {
                assert!((a - b).abs() <= 1e-12 * scale, "{act}: {a} vs {b}");
            }
        }
        let f = tanh.forward(x.as_ref());
        let g = tanh.gradient_inner(tanh.w.as_ref(), x.as_ref());
        assert!(f.iter().zip(&g).any(|(a, b)| (a - b).abs() > 1e-3));
    }

    #[test]
    fn readout_is_signs_and_gradient_matches_differences() {
        let net = TwoLayer::seeded(3, 16, Activation::Tanh, 4);
        assert!(net.a.iter().all(|&a| a == 1.0 || a == -1.0));
        let x = Mat::from_fn(5, 3, |i, j| ((i * 3 + j) as f64 * 0.37).sin() * 0.5);
        let y: Vec<f64> = (0..5).map(|i| (i as f64) * 0.2 - 0.4).collect();
        let g = net.loss_gradient(x.as_ref(), &y);
        let loss = |n: &TwoLayer| {
            let f = n.forward(x.as_ref());
            f.iter()
                .zip(&y)
                .map(|(f, y)| (f - y) * (f - y))
                .sum::<f64>()
                / 10.0
        };
        for (j, i) in [(0, 0), (7, 2), (15, 1)] {
            let (mut p, mut q) = (net.clone(), net.clone());
            p.w[(j, i)] += 1e-6;
            q.w[(j, i)] -= 1e-6;
            let fd = (loss(&p) - loss(&q)) / 2e-6;
            assert!(
                (fd - g[(j, i)]).abs() < 1e-8,
                "({j},{i}): {fd} vs {}",
                g[(j, i)]
            );
        }
    }
}
