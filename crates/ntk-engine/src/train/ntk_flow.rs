//! The kernel description of a training run: gradient flow under the analytic NTK from
//! the network's own initial outputs, at the time the network was trained for (Jacot et
//! al. 2018; Lee et al. 2019; Arora et al. 2019).
//!
//! With `η` the learning rate and `t` the number of steps, the flow is
//!
//! ```text
//! g_train(t) = Y + e^{−ηtΘ/N}·(g_train(0) − Y)
//! g_test(t)  = g_test(0) + Θ(x, X)·Θ⁻¹·(I − e^{−ηtΘ/N})·(Y − g_train(0))
//! ```
//!
//! ([`GradientFlow`]). The trained output is `g = α·(f − c·f_0)` with the loss scaled by
//! `1/α²` ([`train`](super)), so the NTK of `g`, `α²·Θ`, meets a learning rate scaled by
//! `1/α²`: the flow of `g` is the flow under `Θ` at the same `η`, whatever `α`.

use super::{TrainData, TrainOptions, Trained};
use crate::analytic::{AnalyticOptions, analytic};
use crate::error::Result;
use crate::model::{Mlp, Parameterization};
use crate::predict::{FitOptions, GradientFlow, Initial, Matrix};

/// The analytic NTK's gradient-flow prediction on `data.x_test` after `opts.steps` steps at
/// `opts.learning_rate`, started from the network's initial outputs
/// (`trained.train_0`, `trained.test_0`): what the infinitely wide network trained as
/// `trained` was would output. `None` without test points, or under the mean-field
/// parameterization (it has no kernel limit).
///
/// Cost: two analytic kernels (`n_train²` and `n_test·n_train` entries) and one
/// eigendecomposition of the `n_train × n_train` kernel.
pub fn ntk_flow_prediction(
    mlp: &Mlp,
    data: &TrainData<'_>,
    trained: &Trained,
    opts: &TrainOptions,
) -> Result<Option<Matrix>> {
    let Some(x_test) = data.x_test else {
        return Ok(None);
    };
    if mlp.parameterization == Parameterization::MeanField {
        return Ok(None);
    }
    let a = AnalyticOptions {
        parallelism: opts.parallelism,
        ..AnalyticOptions::default()
    };
    let k_tt = analytic(mlp, data.x_train, None, &a)?;
    let k_st = analytic(mlp, x_test, Some(data.x_train), &a)?;
    let flow = GradientFlow::fit(
        &Matrix::from(k_tt),
        data.y_train,
        &FitOptions {
            learning_rate: opts.learning_rate,
            parallelism: opts.parallelism,
            ..FitOptions::default()
        },
    )?;
    let init = Initial {
        fx_train_0: Some(&trained.train_0),
        fx_test_0: trained.test_0.as_ref(),
    };
    let mut pred = flow.predict_test(&[opts.steps as f64], &Matrix::from(k_st), &init)?;
    Ok(pred.pop())
}
