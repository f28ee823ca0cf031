//! An activation's infinite-width transform (its "dual"): how it maps the covariance `K` of
//! a pair of pre-activations, their variances `q1, q2`, and the NTK.
//!
//! ```text
//! K ← E[φ(u)φ(v)],   Θ ← Θ·E[φ'(u)φ'(v)],   q ← E[φ(u)²],   (u, v) ~ N(0, [[q1, K], [K, q2]])
//! ```
//!
//! Closed forms live with their activations ([`crate::activation::arccos`] for the ABReLU
//! family, Cho & Saul 2009; [`crate::activation::erf`], Williams 1997;
//! [`crate::activation::gelu`]); the identity changes nothing; every other activation —
//! tanh, softplus, sin, a user function — goes through [`Quadrature`].

use super::quadrature::Quadrature;
use crate::activation::{Activation, arccos, erf, gelu};

/// The transform of one activation.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Dual {
    /// `φ(x) = x`: nothing changes.
    Identity,
    /// `a·min(x, 0) + b·max(x, 0)`: the arc-cosine closed form.
    AbRelu {
        /// Slope for `x < 0`.
        a: f64,
        /// Slope for `x > 0`.
        b: f64,
    },
    /// `a·erf(b·x) + c`: Williams' arcsine closed form.
    Erf {
        /// Output scale.
        a: f64,
        /// Input scale.
        b: f64,
        /// Offset.
        c: f64,
    },
    /// Exact GELU, closed form.
    Gelu,
    /// Two-dimensional Gauss–Hermite quadrature of `φ`, `φ'`.
    Quadrature(Quadrature),
}

impl Dual {
    /// The closed form of `activation` where there is one, else quadrature with `order`
    /// nodes per dimension.
    ///
    /// # Panics
    /// If quadrature is needed and `order = 0` ([`super::analytic`] checks it first).
    pub fn new(activation: Activation, order: usize) -> Self {
        if activation == Activation::Identity {
            Dual::Identity
        } else if activation == Activation::Gelu {
            Dual::Gelu
        } else if let Some((a, b)) = activation.abrelu() {
            Dual::AbRelu { a, b }
        } else if let Some((a, b, c)) = activation.erf_family() {
            Dual::Erf { a, b, c }
        } else {
            Dual::quadrature(activation, order)
        }
    }

    /// Quadrature with `order` nodes per dimension, whatever the activation (to check the
    /// closed forms, or to evaluate a custom activation).
    ///
    /// # Panics
    /// If `order = 0`.
    pub fn quadrature(activation: Activation, order: usize) -> Self {
        Dual::Quadrature(Quadrature::new(activation, order))
    }

    /// `true` when this transform integrates numerically.
    pub fn is_quadrature(&self) -> bool {
        matches!(self, Dual::Quadrature(_))
    }

    /// `(K', ḋ)` for covariance `k` and variances `q1, q2`: the new covariance and the factor
    /// `E[φ'(u)φ'(v)]` the NTK is multiplied by. With `with_ntk = false` the factor may be
    /// skipped (quadrature returns 0 for it).
    #[inline]
    pub fn nngp_ntk(&self, k: f64, q1: f64, q2: f64, with_ntk: bool) -> (f64, f64) {
        match self {
            Dual::Identity => (k, 1.0),
            Dual::AbRelu { a, b } => arccos::nngp_ntk(*a, *b, k, q1, q2),
            Dual::Erf { a, b, c } => erf::nngp_ntk(*a, *b, *c, k, q1, q2),
            Dual::Gelu => gelu::nngp_ntk(k, q1, q2),
            Dual::Quadrature(quad) => quad.nngp_ntk(k, q1, q2, with_ntk),
        }
    }

    /// [`Dual::nngp_ntk`] over a run of pairs sharing the first point (variance `q1`):
    /// `(k[j], ḋ) ← nngp_ntk(k[j], q1, q2[j])`, `theta[j] ← theta[j]·ḋ`, bit for bit. The
    /// closed forms are branch-free and vectorise under [`pulp::Arch::dispatch`]; quadrature
    /// runs pair by pair.
    pub(crate) fn apply_run(
        &self,
        k: &mut [f64],
        theta: &mut [f64],
        q1: f64,
        q2: &[f64],
        with_ntk: bool,
    ) {
        /// The closed form of each variant, written out in a loop that is generic over the
        /// instruction set, so that each dispatched copy is compiled (and auto-vectorised)
        /// with that set's target features. A closure would not do: it is compiled once
        /// without them and called from the dispatched code (seen as SSE2 in profiles).
        struct Run<'a> {
            dual: &'a Dual,
            k: &'a mut [f64],
            theta: &'a mut [f64],
            q1: f64,
            q2: &'a [f64],
        }
        impl pulp::WithSimd for Run<'_> {
            type Output = ();
            #[inline(always)]
            fn with_simd<S: pulp::Simd>(self, _: S) {
                let Run {
                    dual,
                    k,
                    theta,
                    q1,
                    q2,
                } = self;
                let pairs = k.iter_mut().zip(theta.iter_mut()).zip(q2);
                match *dual {
                    Dual::AbRelu { a, b } => {
                        for ((kj, tj), &q2j) in pairs {
                            let (kn, dot) = arccos::nngp_ntk(a, b, *kj, q1, q2j);
                            (*kj, *tj) = (kn, *tj * dot);
                        }
                    }
                    Dual::Erf { a, b, c } => {
                        for ((kj, tj), &q2j) in pairs {
                            let (kn, dot) = erf::nngp_ntk(a, b, c, *kj, q1, q2j);
                            (*kj, *tj) = (kn, *tj * dot);
                        }
                    }
                    Dual::Gelu => {
                        for ((kj, tj), &q2j) in pairs {
                            let (kn, dot) = gelu::nngp_ntk(*kj, q1, q2j);
                            (*kj, *tj) = (kn, *tj * dot);
                        }
                    }
                    Dual::Identity | Dual::Quadrature(_) => {
                        unreachable!("handled by apply_run")
                    }
                }
            }
        }
        match self {
            Dual::Identity => {}
            Dual::AbRelu { .. } | Dual::Erf { .. } | Dual::Gelu => {
                pulp::Arch::new().dispatch(Run {
                    dual: self,
                    k,
                    theta,
                    q1,
                    q2,
                });
            }
            Dual::Quadrature(quad) => {
                for ((kj, tj), q2j) in k.iter_mut().zip(theta.iter_mut()).zip(q2) {
                    let (kn, dot) = quad.nngp_ntk(*kj, q1, *q2j, with_ntk);
                    *kj = kn;
                    *tj *= dot;
                }
            }
        }
    }

    /// The variance transform `q' = E[φ(u)²]`, `u ~ N(0, q)`.
    #[inline]
    pub fn variance(&self, q: f64) -> f64 {
        match self {
            Dual::Identity => q,
            Dual::AbRelu { a, b } => arccos::variance(*a, *b, q),
            Dual::Erf { a, b, c } => erf::variance(*a, *b, *c, q),
            Dual::Gelu => gelu::variance(q),
            Dual::Quadrature(quad) => quad.variance(q),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each closed-form variance is its pair transform at `K = q1 = q2` (to 1e-14; the
    /// ABReLU family bitwise, which keeps `θ_ii = 0`).
    #[test]
    fn variance_is_the_pair_transform_on_the_diagonal() {
        let acts = [
            Activation::Relu,
            Activation::LeakyRelu(0.1),
            Activation::Abs,
            Activation::Erf,
            Activation::SigmoidLike,
            Activation::Gelu,
            Activation::Identity,
        ];
        for act in acts {
            let dual = Dual::new(act, 8);
            assert!(!dual.is_quadrature());
            for q in [0.0, 1e-9, 0.3, 1.0, 7.5, 1e6] {
                let (k, _) = dual.nngp_ntk(q, q, q, true);
                let v = dual.variance(q);
                if act.abrelu().is_some() {
                    assert_eq!(k, v, "{act} q={q}");
                } else {
                    assert!((k - v).abs() <= 1e-14 * v.abs().max(1e-300), "{act} q={q}");
                }
            }
        }
    }

    /// Antipodal inputs under ReLU: `θ = π`, so `K' = 0` and `ḋ = 0` exactly.
    #[test]
    fn relu_antipodal_is_exactly_zero() {
        let dual = Dual::new(Activation::Relu, 8);
        assert_eq!(dual.nngp_ntk(-2.0, 2.0, 2.0, true), (0.0, 0.0));
        // Zero variance: θ = π/2 as neural-tangents fills it.
        let (k, d) = dual.nngp_ntk(0.0, 0.0, 3.0, true);
        assert_eq!(k, 0.0);
        assert_eq!(d, 0.25);
    }

    #[test]
    fn activations_without_closed_form_use_quadrature() {
        for act in [Activation::Tanh, Activation::Softplus, Activation::Sin] {
            assert!(Dual::new(act, 16).is_quadrature());
        }
    }
}
