//! Full-batch gradient descent run to a loss target, with the outputs kept at chosen steps:
//! what Arora et al. 2019 (Thm 3.2: a network trained to convergence predicts as kernel
//! regression with its NTK) and Lee et al. 2019 (the whole trajectory follows the NTK's
//! gradient flow) compare against the kernel.
//!
//! The trained output is `g(x) = f(x; θ) − c·f(x; θ_0)` (`c = 1` when centred, so `g`
//! starts at exactly 0, Arora et al.'s "output at initialisation ≈ 0"; `c = 0` otherwise),
//! the loss the MSE of [`predict`](crate::predict), `L = 1/(2N)·‖g − y‖²` with
//! `N = n_train·k`, and each step `θ ← θ − η·∇L` over every training point. This is
//! [`train`](super::train) at `α = 1` without its records, plus a stopping rule: the run
//! stops at the first step whose loss (before stepping) is below `loss_below`, or after
//! `max_steps` steps.

use faer::Mat;

use super::net::{self, par};
use crate::data::Points;
use crate::error::{Error, Result};
use crate::model::Mlp;
use crate::parallel::Parallelism;
use crate::params::Params;
use crate::predict::Matrix;

/// Settings of [`descend`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DescentOptions {
    /// Learning rate `η > 0`.
    pub learning_rate: f64,
    /// Train `f − f_0` (starts at 0) instead of `f`.
    pub centre: bool,
    /// Stop once the training loss is below this (`None`: run `max_steps`).
    pub loss_below: Option<f64>,
    /// The most steps taken.
    pub max_steps: usize,
    /// Threads of the GEMMs.
    pub parallelism: Parallelism,
}

impl Default for DescentOptions {
    fn default() -> Self {
        DescentOptions {
            learning_rate: 1.0,
            centre: true,
            loss_below: None,
            max_steps: 1000,
            parallelism: Parallelism::default(),
        }
    }
}

/// The outputs after `step` steps.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    /// Steps taken.
    pub step: usize,
    /// The training loss `1/(2N)·‖g − y‖²`.
    pub loss: f64,
    /// `g` on the training points, `n_train × k`.
    pub train: Matrix,
    /// `g` on the test points.
    pub test: Option<Matrix>,
}

/// The result of [`descend`].
#[derive(Clone, Debug)]
pub struct Descent {
    /// `θ` at the end.
    pub params: Params,
    /// Whether the loss went below `loss_below` (always `false` without a target).
    pub converged: bool,
    /// The snapshots asked for (those within the steps taken, in step order), then the
    /// final state as the last entry.
    pub snapshots: Vec<Snapshot>,
}

impl Descent {
    /// The final state.
    pub fn last(&self) -> &Snapshot {
        self.snapshots
            .last()
            .unwrap_or_else(|| unreachable!("the final state is always kept"))
    }
}

fn check(
    model: &Mlp,
    params0: &Params,
    x_train: &Points<'_>,
    y: &Matrix,
    x_test: Option<&Points<'_>>,
    o: &DescentOptions,
) -> Result<()> {
    model.validate()?;
    params0.check(model)?;
    for (name, x) in [("x_train", Some(x_train)), ("x_test", x_test)] {
        if let Some(x) = x
            && x.cols() != model.input_dim
        {
            return Err(Error::DimensionMismatch {
                what: format!("feature dimension of {name} (the model's input dimension)"),
                expected: model.input_dim,
                got: x.cols(),
            });
        }
    }
    y.check_len("y_train")?;
    if y.rows != x_train.rows() || y.cols != model.outputs {
        return Err(Error::invalid(
            "y_train shape",
            format!("{}×{}", y.rows, y.cols),
            format!("{}×{} (n_train × outputs)", x_train.rows(), model.outputs),
        ));
    }
    if y.data.iter().any(|v| !v.is_finite()) {
        return Err(Error::invalid(
            "y_train",
            "a non-finite entry",
            "finite targets",
        ));
    }
    if !(o.learning_rate.is_finite() && o.learning_rate > 0.0) {
        return Err(Error::invalid(
            "learning rate",
            o.learning_rate,
            "a finite number > 0",
        ));
    }
    if let Some(e) = o.loss_below
        && !(e.is_finite() && e >= 0.0)
    {
        return Err(Error::invalid("loss target", e, "a finite number ≥ 0"));
    }
    Ok(())
}

/// Full-batch gradient descent from `params0` on `x_train → y` (see the
/// [module docs](self)), keeping the outputs (train and, with `x_test`, test) after each
/// step count in `at` that is reached, and at the end.
///
/// Errors: a model or parameters that do not match, inputs of the wrong dimension, targets
/// not `n_train × k` or not finite, a learning rate that is not finite and positive, a loss
/// target that is negative or not finite.
pub fn descend(
    model: &Mlp,
    params0: &Params,
    x_train: &Points<'_>,
    y: &Matrix,
    x_test: Option<&Points<'_>>,
    o: &DescentOptions,
    at: &[usize],
) -> Result<Descent> {
    check(model, params0, x_train, y, x_test, o)?;
    let pr = par(o.parallelism);
    let (n, k) = (x_train.rows(), model.outputs);
    let xt = x_train.to_mat::<f64>(0, n);
    let xs = x_test.map(|x| x.to_mat::<f64>(0, x.rows()));
    let yf = y.to_faer();
    let c = if o.centre { 1.0 } else { 0.0 };
    let f0 = net::forward(model, params0, xt.as_ref(), pr);
    let f0_test = xs
        .as_ref()
        .map(|x| net::forward(model, params0, x.as_ref(), pr));
    let big_n = (n * k) as f64;
    let g_of =
        |f: &Mat<f64>, f0: &Mat<f64>| Mat::from_fn(f.nrows(), k, |i, a| f[(i, a)] - c * f0[(i, a)]);
    let test_at = |params: &Params| {
        xs.as_ref().zip(f0_test.as_ref()).map(|(x, f0)| {
            Matrix::from_faer(g_of(&net::forward(model, params, x.as_ref(), pr), f0).as_ref())
        })
    };
    let mut params = params0.clone();
    let mut snapshots = Vec::new();
    let mut step = 0;
    loop {
        let tape = net::forward_tape(model, &params, xt.as_ref(), pr);
        let g = g_of(&tape.out, &f0);
        let loss = (&g - &yf).squared_norm_l2() / (2.0 * big_n);
        let converged = o.loss_below.is_some_and(|e| loss < e);
        let done = converged || step == o.max_steps;
        if at.contains(&step) || done {
            snapshots.push(Snapshot {
                step,
                loss,
                train: Matrix::from_faer(g.as_ref()),
                test: test_at(&params),
            });
        }
        if done {
            return Ok(Descent {
                params,
                converged,
                snapshots,
            });
        }
        // ∂L/∂f = (g − y)/N.
        let g_out = Mat::from_fn(n, k, |i, a| (g[(i, a)] - yf[(i, a)]) / big_n);
        let grads = net::backward(model, &params, &tape, g_out.as_ref(), pr);
        net::axpy(&mut params, -o.learning_rate, &grads);
        step += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::Activation;
    use crate::reference;

    /// The slow reference: `θ ← θ − (η/N)·Σ_i J(x_i)ᵀ (g(x_i) − y_i)` with the explicit
    /// Jacobians of [`reference`], in plain loops.
    fn reference_descent(
        model: &Mlp,
        p0: &Params,
        x: &[f64],
        y: &Matrix,
        lr: f64,
        steps: usize,
    ) -> (Params, Vec<f64>) {
        let d = model.input_dim;
        let n = x.len() / d;
        let k = model.outputs;
        let f0: Vec<Vec<f64>> = (0..n)
            .map(|i| reference::forward(model, p0, &x[i * d..(i + 1) * d]).unwrap())
            .collect();
        let mut theta = reference::flatten(p0);
        let mut losses = Vec::new();
        for _ in 0..=steps {
            let p = reference::unflatten(model, &theta);
            let mut grad = vec![0.0; theta.len()];
            let mut loss = 0.0;
            for i in 0..n {
                let xi = &x[i * d..(i + 1) * d];
                let f = reference::forward(model, &p, xi).unwrap();
                let jac = reference::jacobian(model, &p, xi);
                for a in 0..k {
                    let r = f[a] - f0[i][a] - y.get(i, a);
                    loss += r * r;
                    for (g, j) in grad.iter_mut().zip(&jac[a]) {
                        *g += r * j / (n * k) as f64;
                    }
                }
            }
            losses.push(loss / (2.0 * (n * k) as f64));
            if losses.len() > steps {
                break;
            }
            for (t, g) in theta.iter_mut().zip(&grad) {
                *t -= lr * g;
            }
        }
        (reference::unflatten(model, &theta), losses)
    }

    fn close(a: &Params, b: &Params, tol: f64) -> bool {
        let (fa, fb) = (reference::flatten(a), reference::flatten(b));
        let scale = fb.iter().map(|v| v * v).sum::<f64>().sqrt();
        let diff = fa
            .iter()
            .zip(&fb)
            .map(|(u, v)| (u - v) * (u - v))
            .sum::<f64>()
            .sqrt();
        diff <= tol * scale
    }

    /// Against the explicit-Jacobian reference on a small two-hidden-layer tanh net with
    /// biases and two outputs: the parameters after 30 steps and the losses along the way
    /// agree to 1e-10 relative (the two sum the same terms in different orders; 30 steps of
    /// rounding stay far below that).
    #[test]
    fn matches_explicit_jacobian_descent_and_stops_at_the_target() {
        let model = Mlp::new(3, &[7, 5], Activation::Tanh)
            .with_b_std(0.3)
            .with_outputs(2);
        let p0 = Params::seeded(&model, 3).unwrap();
        let x: Vec<f64> = (0..15).map(|i| ((i as f64) * 0.71).sin()).collect();
        let y = Matrix::from_fn(5, 2, |i, a| ((i + 2 * a) as f64 * 0.9).cos() * 0.5);
        let pts = Points::from_f64(&x, 5, 3).unwrap();
        let (lr, steps) = (0.8, 30);
        let opts = DescentOptions {
            learning_rate: lr,
            centre: true,
            loss_below: None,
            max_steps: steps,
            parallelism: Parallelism::Sequential,
        };
        let run = descend(&model, &p0, &pts, &y, Some(&pts), &opts, &[0, 10, 99]).unwrap();
        let (p_ref, losses) = reference_descent(&model, &p0, &x, &y, lr, steps);
        assert!(close(&run.params, &p_ref, 1e-10));
        assert!(!run.converged);
        let got: Vec<usize> = run.snapshots.iter().map(|s| s.step).collect();
        assert_eq!(got, [0, 10, 30]);
        for s in &run.snapshots {
            assert!(
                (s.loss - losses[s.step]).abs() <= 1e-10 * losses[0],
                "{}",
                s.step
            );
            // Centred: g = 0 at step 0; train and test points are the same here.
            assert_eq!(s.train, *s.test.as_ref().unwrap());
        }
        assert!(run.snapshots[0].train.data.iter().all(|&v| v == 0.0));

        // A target between two reference losses: the run stops at the first step below it.
        let target = 0.5 * (losses[20] + losses[21]);
        let first = losses.iter().position(|&l| l < target).unwrap();
        let stop = descend(
            &model,
            &p0,
            &pts,
            &y,
            None,
            &DescentOptions {
                loss_below: Some(target),
                ..opts
            },
            &[],
        )
        .unwrap();
        assert!(stop.converged);
        assert_eq!(stop.last().step, first);
        assert!(stop.last().loss < target && stop.last().test.is_none());

        let bad = DescentOptions {
            loss_below: Some(-1.0),
            ..opts
        };
        assert!(descend(&model, &p0, &pts, &y, None, &bad, &[]).is_err());
        assert!(descend(&model, &p0, &pts, &Matrix::zeros(5, 3), None, &opts, &[]).is_err());
    }
}
