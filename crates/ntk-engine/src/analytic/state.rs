//! The kernel state and the whole network's recursion.
//!
//! Per pair of inputs the state is the NNGP covariance `K` and the NTK `Θ`; per input, the
//! variances `q` before each activation, which the closed forms need. The recursion starts
//! from `K = x·x'/d`, `q = |x|²/d`, `Θ = 0` and applies each dense layer ([`super::dense`])
//! and each activation ([`super::dual`]) in turn; after the readout, `K` is the NNGP
//! (Neal 1996; Lee et al. 2018) and `Θ` the NTK (Jacot et al. 2018).
//!
//! Each entry is a pure function of its two inputs, so any tiling and any thread count give
//! the same bits.

use super::dense::Dense;
use super::dual::Dual;
use crate::model::Mlp;

/// The state of one pair of inputs.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PairState {
    /// NNGP covariance `K`.
    pub k: f64,
    /// NTK `Θ`.
    pub theta: f64,
}

/// The network's recursion: its dense layers, its activation's transform, `d`.
#[derive(Clone, Debug)]
pub struct Recursion {
    /// The `L + 1` dense layers (the last is the readout).
    pub layers: Vec<Dense>,
    /// The activation's transform, applied after every hidden layer.
    pub dual: Dual,
    /// The input dimension `d`.
    pub input_dim: usize,
}

/// `x·y` as the sequential fused sum over the coordinates: the order of the tiled input
/// Gram (`analytic::input_gram`), so a point's variance and its pairs agree bitwise. It is
/// symmetric (`dot(x, y) = dot(y, x)` bitwise) and odd (`dot(x, −y) = −dot(x, y)`), so
/// identical and antipodal inputs are exact.
#[inline]
pub fn dot(x: &[f64], y: &[f64]) -> f64 {
    super::input_gram::dot(x, y)
}

impl Recursion {
    /// The recursion of `model` with `dual` as its activation's transform.
    pub fn new(model: &Mlp, dual: Dual) -> Self {
        Recursion {
            layers: Dense::layers(model),
            dual,
            input_dim: model.input_dim,
        }
    }

    /// The number of hidden layers `L`.
    pub fn depth(&self) -> usize {
        self.layers.len() - 1
    }

    /// The input kernel `x·y/d`.
    #[inline]
    pub fn input(&self, x: &[f64], y: &[f64]) -> f64 {
        dot(x, y) / self.input_dim as f64
    }

    /// The variances `q_0..q_{L−1}` of one input before each activation.
    ///
    /// `consistent = true` takes each `q` as the pair transform of the input with itself
    /// (`K = q1 = q2`), i.e. the diagonal of `K` itself, bitwise; the `x1 × x1` kernel uses
    /// it so that `P − K² = 0` and `θ_ii = 0` exactly. Otherwise the activation's variance
    /// transform `q ← E[φ(u)²]` is used, as neural-tangents does for `x1 × x2` (the two
    /// agree bitwise for the ABReLU family and to a few ulps otherwise).
    pub fn variances(&self, x: &[f64], consistent: bool, out: &mut [f64]) {
        debug_assert_eq!(out.len(), self.depth());
        let mut q = self.input(x, x);
        for (layer, slot) in self.layers.iter().zip(out.iter_mut()) {
            q = layer.variance(q);
            *slot = q;
            q = if consistent {
                self.dual.nngp_ntk(q, q, q, false).0
            } else {
                self.dual.variance(q)
            };
        }
    }

    /// The state of the pair `(x, y)` after the readout, given their variances from
    /// [`Recursion::variances`]. With `with_ntk = false`, `Θ` is not meaningful.
    #[inline]
    pub fn pair(&self, x: &[f64], y: &[f64], qx: &[f64], qy: &[f64], with_ntk: bool) -> PairState {
        let mut s = PairState {
            k: self.input(x, y),
            theta: 0.0,
        };
        let depth = self.depth();
        for (l, layer) in self.layers.iter().enumerate() {
            layer.apply(&mut s);
            if l < depth {
                let (k, dot) = self.dual.nngp_ntk(s.k, qx[l], qy[l], with_ntk);
                s.k = k;
                s.theta *= dot;
            }
        }
        s
    }

    /// [`Recursion::pair`] for one point `x` against a run of points at once, bit for bit:
    /// on entry `k[j]` holds `x·y_j` ([`dot`]), on return `k[j]` the NNGP and `theta[j]` the
    /// NTK of the pair. `qy(l)` is the run's variances before activation `l`. The closed
    /// forms run as vectorised loops ([`Dual::apply_run`]).
    pub(crate) fn run<'q>(
        &self,
        k: &mut [f64],
        theta: &mut [f64],
        qx: &[f64],
        qy: impl Fn(usize) -> &'q [f64],
        with_ntk: bool,
    ) {
        let d = self.input_dim as f64;
        let depth = self.depth();
        pulp::Arch::new().dispatch(
            #[inline(always)]
            || {
                for (kj, tj) in k.iter_mut().zip(theta.iter_mut()) {
                    *kj /= d;
                    *tj = 0.0;
                }
            },
        );
        for (l, layer) in self.layers.iter().enumerate() {
            layer.apply_run(k, theta);
            if l < depth {
                self.dual.apply_run(k, theta, qx[l], qy(l), with_ntk);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::Activation;

    #[test]
    fn dot_is_symmetric_and_odd_bitwise() {
        let x: Vec<f64> = (0..11).map(|i| (i as f64 * 0.37).sin()).collect();
        let y: Vec<f64> = (0..11).map(|i| (i as f64 * 1.3).cos()).collect();
        let ny: Vec<f64> = y.iter().map(|v| -v).collect();
        assert_eq!(dot(&x, &y), dot(&y, &x));
        assert_eq!(dot(&x, &ny), -dot(&x, &y));
    }

    /// A point paired with itself reproduces its consistent variances bitwise, so the
    /// ReLU angle is exactly 0 on the diagonal.
    #[test]
    fn self_pair_reproduces_consistent_variances() {
        for act in [Activation::Relu, Activation::Erf, Activation::Gelu] {
            let m = Mlp::new(3, &[4, 4, 4], act).with_b_std(0.1).with_w_std(1.3);
            let r = Recursion::new(&m, Dual::new(act, 8));
            let x = [0.3, -1.2, 0.8];
            let mut q = vec![0.0; 3];
            r.variances(&x, true, &mut q);
            // Reconstruct K before each activation along the pair path.
            let mut s = PairState {
                k: r.input(&x, &x),
                theta: 0.0,
            };
            for (l, (layer, &ql)) in r.layers.iter().zip(&q).enumerate() {
                layer.apply(&mut s);
                assert_eq!(s.k, ql, "{act} layer {l}");
                s.k = r.dual.nngp_ntk(s.k, ql, ql, true).0;
            }
        }
    }
}
