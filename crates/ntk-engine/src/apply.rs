//! The network as a function: `f(x; θ)` for a batch of points, neural-tangents' `apply_fn`.
//!
//! The batch is cut into blocks of [`APPLY_BLOCK`] rows, fixed by the problem size; each
//! block runs the forward pass of [`train::net`](crate::train::net) (`z_l = s_W·h_l·W_l +
//! s_b·b_l`, `h_{l+1} = φ(z_l)`, `f = z_L`) on one thread, and the blocks run in parallel.
//! So the bits of the result do not depend on the thread count (STYLE §6).

use faer::Par;
use rayon::prelude::*;

use crate::data::Points;
use crate::error::{Error, Result};
use crate::model::Mlp;
use crate::parallel::Parallelism;
use crate::params::Params;
use crate::predict::Matrix;
use crate::train::net;

/// Rows per block of [`Mlp::apply`].
pub const APPLY_BLOCK: usize = 256;

impl Mlp {
    /// The outputs `f(x; θ)` of the network with parameters `params` at every row of `x`:
    /// an `n × k` [`Matrix`], row `i` the `k` outputs at point `i` (neural-tangents'
    /// `apply_fn(params, x)`), on all cores ([`Parallelism::Rayon0`]).
    ///
    /// Errors: an invalid model, parameters of another shape ([`Params::check`]), or points
    /// whose dimension is not the model's input dimension
    /// ([`Error::DimensionMismatch`]).
    ///
    /// ```
    /// use ntk_engine::{Activation, Mlp, Params, Points};
    ///
    /// let mlp = Mlp::new(3, &[64], Activation::Relu).with_outputs(2);
    /// let params = Params::seeded(&mlp, 0)?;
    /// let values = [0.1, 0.2, 0.3, -1.0, 0.5, 2.0];
    /// let out = mlp.apply(&params, &Points::from_f64(&values, 2, 3)?)?;
    /// assert_eq!(out.shape(), (2, 2));
    /// let wrong = Points::from_f64(&values, 3, 2)?;
    /// assert!(mlp.apply(&params, &wrong).is_err()); // 2 inputs for a 3-input net
    /// # Ok::<(), ntk_engine::Error>(())
    /// ```
    pub fn apply(&self, params: &Params, x: &Points<'_>) -> Result<Matrix> {
        self.apply_with(params, x, Parallelism::default())
    }

    /// [`Mlp::apply`] with the given threads; the result is the same, bit for bit, for
    /// every `parallelism`.
    pub fn apply_with(
        &self,
        params: &Params,
        x: &Points<'_>,
        parallelism: Parallelism,
    ) -> Result<Matrix> {
        self.validate()?;
        params.check(self)?;
        if x.cols() != self.input_dim {
            return Err(Error::DimensionMismatch {
                what: "feature dimension of the points (the model's input dimension)".into(),
                expected: self.input_dim,
                got: x.cols(),
            });
        }
        let (n, k) = (x.rows(), self.outputs);
        let starts: Vec<usize> = (0..n).step_by(APPLY_BLOCK).collect();
        let blocks = parallelism.install(|| {
            starts
                .par_iter()
                .map(|&lo| {
                    let hi = (lo + APPLY_BLOCK).min(n);
                    net::forward(self, params, x.to_mat::<f64>(lo, hi).as_ref(), Par::Seq)
                })
                .collect::<Vec<_>>()
        })?;
        let mut data = Vec::with_capacity(n * k);
        for b in &blocks {
            for i in 0..b.nrows() {
                data.extend((0..k).map(|a| b[(i, a)]));
            }
        }
        Matrix::new(n, k, data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::Activation;
    use crate::model::Parameterization;
    use crate::reference;

    fn inputs(n: usize, d: usize) -> Vec<f64> {
        (0..n * d).map(|v| ((v * 7 + 3) as f64).sin()).collect()
    }

    /// Against the slow per-point reference, over more than one block. Both sum the same
    /// products in possibly different orders (faer's GEMM vs a plain loop): tolerance
    /// 1e-12 relative to the output's size.
    #[test]
    fn apply_matches_the_reference_forward() {
        let (n, d) = (APPLY_BLOCK + 37, 5);
        let xv = inputs(n, d);
        let x = Points::from_f64(&xv, n, d).unwrap();
        for (act, param) in [
            (Activation::Relu, Parameterization::Ntk),
            (Activation::Tanh, Parameterization::Standard),
        ] {
            let mlp = Mlp::new(d, &[24, 16], act)
                .with_b_std(0.3)
                .with_parameterization(param)
                .with_outputs(3);
            let params = Params::seeded(&mlp, 4).unwrap();
            let out = mlp.apply(&params, &x).unwrap();
            assert_eq!(out.shape(), (n, 3));
            for i in 0..n {
                let want = reference::forward(&mlp, &params, &xv[i * d..(i + 1) * d]).unwrap();
                for (a, w) in want.iter().enumerate() {
                    let got = out.get(i, a);
                    assert!((got - w).abs() <= 1e-12 * (1.0 + w.abs()), "{got} vs {w}");
                }
            }
        }
    }

    #[test]
    fn apply_is_independent_of_the_thread_count() {
        let (n, d) = (3 * APPLY_BLOCK + 1, 4);
        let xv = inputs(n, d);
        let x = Points::from_f64(&xv, n, d).unwrap();
        let mlp = Mlp::new(d, &[64, 64], Activation::Gelu).with_outputs(2);
        let params = Params::seeded(&mlp, 1).unwrap();
        let seq = mlp
            .apply_with(&params, &x, Parallelism::Sequential)
            .unwrap();
        for p in [
            Parallelism::Rayon(2),
            Parallelism::Rayon(3),
            Parallelism::Rayon0,
        ] {
            assert_eq!(mlp.apply_with(&params, &x, p).unwrap(), seq, "{p:?}");
        }
    }

    /// 63 or 65 inputs to a 64-input net are a typed error, as are parameters of another
    /// model.
    #[test]
    fn wrong_dimensions_are_typed_errors() {
        let mlp = Mlp::new(64, &[8], Activation::Relu);
        let params = Params::seeded(&mlp, 0).unwrap();
        for d in [63, 65] {
            let xv = inputs(2, d);
            let x = Points::from_f64(&xv, 2, d).unwrap();
            match mlp.apply(&params, &x) {
                Err(Error::DimensionMismatch { expected, got, .. }) => {
                    assert_eq!((expected, got), (64, d));
                }
                other => panic!("expected a dimension mismatch, got {other:?}"),
            }
        }
        let other = Params::seeded(&Mlp::new(64, &[9], Activation::Relu), 0).unwrap();
        let xv = inputs(2, 64);
        let x = Points::from_f64(&xv, 2, 64).unwrap();
        assert!(mlp.apply(&other, &x).is_err());
    }
}
