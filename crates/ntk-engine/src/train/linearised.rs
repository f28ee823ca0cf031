//! The network's linearisation at `θ_0`, trained in function space with the same discrete
//! steps as the network (Lee et al. 2019, eq. 8–9, in discrete time):
//!
//! ```text
//! g_lin(t+1) = g_lin(t) − (η/N_B)·Θ_0(·, B)·(g_lin(B, t) − y_B)
//! ```
//!
//! on the training and test points at once, with `Θ_0` the full (`k × k` per pair)
//! empirical NTK at initialisation, `B` the step's batch and `N_B = |B|·k`. For full-batch
//! gradient descent this is `f_lin,train(t+1) = f_lin,train(t) − (η/N)·Θ_0(train, train)·
//! (f_lin,train(t) − y)` and the test side follows through `Θ_0(test, train)`: exactly the
//! outputs of the parameter-space linear model `f_0 + J_0·(θ − θ_0)` trained by the same
//! steps. The output scale `α` does not enter: `g = α·f` on the loss `1/α²` moves by
//! `−(η/N)·J_f·J_fᵀ·(g − y)` whatever `α`.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};

use crate::data::Points;
use crate::error::Result;
use crate::gram::{self, EmpiricalOptions, KernelKind, Precision, Weights};
use crate::model::Mlp;
use crate::parallel::Parallelism;
use crate::params::Params;

/// The linear model's state: `Θ_0` as an `(n_all·k) × (n_train·k)` matrix (row `i·k + a`,
/// column `j·k + b`; the first `n_train` points are the training points) and the current
/// outputs, `n_all × k`.
pub struct Linearised {
    theta: Mat<f64>,
    /// Outputs of all points, `n_all × k`.
    pub out: Mat<f64>,
    k: usize,
}

impl Linearised {
    /// `Θ_0(all, train)` of `model` at `params` (empirical, full, `f64`), starting from the
    /// outputs `out0` (`n_all × k`, train rows first).
    pub fn new(
        model: &Mlp,
        params: &Params,
        x_all: &Points<'_>,
        x_train: &Points<'_>,
        out0: Mat<f64>,
        parallelism: Parallelism,
    ) -> Result<Self> {
        let opts = EmpiricalOptions {
            kind: KernelKind::Ntk,
            full: true,
            precision: Precision::F64,
            parallelism,
            ..EmpiricalOptions::default()
        };
        let kern = gram::empirical(
            model,
            Weights::Explicit(params),
            x_all,
            Some(x_train),
            &opts,
        )?;
        let k = model.outputs;
        let (n1, n2) = (kern.n1, kern.n2);
        let theta = Mat::from_fn(n1 * k, n2 * k, |r, c| {
            let (i, a, j, b) = (r / k, r % k, c / k, c % k);
            kern.data[((i * n2 + j) * k + a) * k + b]
        });
        Ok(Linearised {
            theta,
            out: out0,
            k,
        })
    }

    /// One step on the batch `batch` (training indices) with targets `y` (`n_train × k`).
    ///
    /// The product `Θ_0(·, B)·r` is a matrix-vector product, run on one thread: faer splits
    /// a parallel one along the reduced dimension, so its bits would depend on the thread
    /// count (STYLE §6; `tests/train_threads.rs` found it). It costs `n_all·k·|B|·k`
    /// multiply-adds a step, small against the network's own step.
    pub fn step(&mut self, batch: &[usize], y: &Mat<f64>, learning_rate: f64) {
        let k = self.k;
        let nb = batch.len() * k;
        // r = g_lin(B) − y_B, flattened as (j·k + b).
        let r = Mat::from_fn(nb, 1, |c, _| {
            let (jj, b) = (c / k, c % k);
            let j = batch[jj];
            self.out[(j, b)] - y[(j, b)]
        });
        let whole = nb == self.theta.ncols() && batch.iter().enumerate().all(|(i, &j)| i == j);
        let gathered;
        let cols = if whole {
            self.theta.as_ref()
        } else {
            gathered = Mat::from_fn(self.theta.nrows(), nb, |row, c| {
                self.theta[(row, batch[c / k] * k + c % k)]
            });
            gathered.as_ref()
        };
        let mut delta = Mat::<f64>::zeros(self.theta.nrows(), 1);
        matmul(
            delta.as_mut(),
            Accum::Replace,
            cols,
            r.as_ref(),
            -learning_rate / nb as f64,
            Par::Seq,
        );
        for row in 0..delta.nrows() {
            self.out[(row / k, row % k)] += delta[(row, 0)];
        }
    }
}
