//! A dense layer's infinite-width transform, in both parameterizations (Jacot et al. 2018;
//! Lee et al. 2019, appendix; the order of the updates is neural-tangents').
//!
//! * NTK parameterization: `K ← W_std²·K + b_std²` (and each `q`), then `Θ ← K + W_std²·Θ`
//!   with the new `K`.
//! * Standard parameterization: `Θ ← fan_in·K + W_std²·Θ + 1` with the old `K` (the `+1` is
//!   the bias, trainable even when `b_std = 0`), then `K ← W_std²·K + b_std²`.

use super::state::PairState;
use crate::model::{Mlp, Parameterization};

/// One dense layer's constants.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dense {
    /// `W_std²`.
    pub w2: f64,
    /// `b_std²`.
    pub b2: f64,
    /// The layer's input width (`d` for the first layer), used by the standard
    /// parameterization.
    pub fan_in: f64,
    /// Where the `1/√fan_in` lives.
    pub parameterization: Parameterization,
}

impl Dense {
    /// The `L + 1` dense layers of `model` (the last is the readout).
    pub fn layers(model: &Mlp) -> Vec<Dense> {
        (0..=model.depth())
            .map(|l| Dense {
                w2: model.w_std * model.w_std,
                b2: model.b_std * model.b_std,
                fan_in: model.layer_shape(l).0 as f64,
                parameterization: model.parameterization,
            })
            .collect()
    }

    /// The variance (or covariance) update `W_std²·q + b_std²`, the same operation as the
    /// pair's, so a point paired with itself keeps `K = q` bitwise.
    #[inline(always)]
    pub fn variance(&self, q: f64) -> f64 {
        self.w2 * q + self.b2
    }

    /// Updates one pair's `K` and `Θ`.
    #[inline(always)]
    pub fn apply(&self, s: &mut PairState) {
        match self.parameterization {
            // Mean-field is refused by `analytic_with` before any recursion runs.
            Parameterization::Ntk | Parameterization::MeanField => {
                s.k = self.variance(s.k);
                s.theta = s.k + self.w2 * s.theta;
            }
            Parameterization::Standard => {
                s.theta = self.fan_in * s.k + self.w2 * s.theta + 1.0;
                s.k = self.variance(s.k);
            }
        }
    }

    /// [`Dense::apply`] over a run of pairs (`k`, `theta` side by side), vectorised.
    pub(crate) fn apply_run(&self, k: &mut [f64], theta: &mut [f64]) {
        let this = *self;
        pulp::Arch::new().dispatch(
            #[inline(always)]
            || {
                for (kj, tj) in k.iter_mut().zip(theta.iter_mut()) {
                    let mut s = PairState { k: *kj, theta: *tj };
                    this.apply(&mut s);
                    (*kj, *tj) = (s.k, s.theta);
                }
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::Activation;

    #[test]
    fn both_parameterizations_follow_neural_tangents_order() {
        let m = Mlp::new(5, &[7], Activation::Relu)
            .with_w_std(2.0)
            .with_b_std(0.5);
        let l = Dense::layers(&m);
        assert_eq!(l.len(), 2);
        let mut s = PairState { k: 1.0, theta: 3.0 };
        l[0].apply(&mut s);
        assert_eq!((s.k, s.theta), (4.25, 4.25 + 12.0));
        let m = m.with_parameterization(Parameterization::Standard);
        let l = Dense::layers(&m);
        assert_eq!((l[0].fan_in, l[1].fan_in), (5.0, 7.0));
        let mut s = PairState { k: 1.0, theta: 3.0 };
        l[1].apply(&mut s);
        assert_eq!((s.k, s.theta), (4.25, 7.0 + 12.0 + 1.0));
    }
}
