//! The slow, obviously-correct reference the fast paths are tested against: the network in
//! plain `f64` loops, explicit per-example Jacobians `J(x) ∈ ℝ^{k×P}` by back-propagation,
//! and `Θ(x, x') = J(x)·J(x')ᵀ`. The Jacobians themselves are checked against central finite
//! differences of [`forward`] (see the tests). Cost `O(n1·n2·k²·P)`: small nets only.
//!
//! Parameters are flattened as stax lists them: `W0` (row-major), `b0`, `W1`, `b1`, ….

use faer::Mat;

use crate::error::{Error, Result};
use crate::gram::Kernel;
use crate::model::Mlp;
use crate::params::{Dense, Params};

/// Pre-activations `z_l` and activations `h_l` of one point (`h_0 = x`).
struct Trace {
    h: Vec<Vec<f64>>,
    z: Vec<Vec<f64>>,
}

fn trace(model: &Mlp, params: &Params, x: &[f64]) -> Trace {
    let depth = model.depth();
    let mut h = vec![x.to_vec()];
    let mut z = Vec::new();
    for (l, layer) in params.layers.iter().enumerate() {
        let (s_w, s_b) = model.forward_scales(l);
        let input = &h[l];
        let out: Vec<f64> = (0..layer.w.ncols())
            .map(|j| {
                let mut acc = 0.0;
                for (i, hi) in input.iter().enumerate() {
                    acc += hi * layer.w[(i, j)];
                }
                s_w * acc + s_b * layer.b[j]
            })
            .collect();
        if l < depth {
            h.push(out.iter().map(|&v| model.activation.value(v)).collect());
        }
        z.push(out);
    }
    Trace { h, z }
}

/// `f(x)`, the `k` outputs for one point. Errors when `x` does not hold exactly the
/// model's `d` inputs or `params` does not fit the model (see [`Mlp::apply`] for a batch).
pub fn forward(model: &Mlp, params: &Params, x: &[f64]) -> Result<Vec<f64>> {
    params.check(model)?;
    if x.len() != model.input_dim {
        return Err(Error::DimensionMismatch {
            what: "inputs of the point (the model's input dimension)".into(),
            expected: model.input_dim,
            got: x.len(),
        });
    }
    Ok(trace(model, params, x).z.pop().unwrap_or_default())
}

/// The Jacobian `∂f_a(x)/∂p`, `k` rows of `P` entries.
pub fn jacobian(model: &Mlp, params: &Params, x: &[f64]) -> Vec<Vec<f64>> {
    let t = trace(model, params, x);
    let depth = model.depth();
    let p_total = model.parameter_count();
    (0..model.outputs)
        .map(|a| {
            let mut row = vec![0.0; p_total];
            // Offsets of each layer's W and b in the flat parameter vector.
            let mut offsets = Vec::new();
            let mut off = 0;
            for layer in &params.layers {
                offsets.push(off);
                off += layer.w.nrows() * layer.w.ncols() + layer.b.len();
            }
            let mut delta: Vec<f64> = (0..model.outputs).map(|o| f64::from(o == a)).collect();
            for l in (0..=depth).rev() {
                let (s_w, s_b) = model.forward_scales(l);
                let layer = &params.layers[l];
                let (fan_in, fan_out) = (layer.w.nrows(), layer.w.ncols());
                let o = offsets[l];
                for i in 0..fan_in {
                    for j in 0..fan_out {
                        row[o + i * fan_out + j] = s_w * t.h[l][i] * delta[j];
                    }
                }
                for j in 0..fan_out {
                    row[o + fan_in * fan_out + j] = s_b * delta[j];
                }
                if l > 0 {
                    delta = (0..fan_in)
                        .map(|i| {
                            let g: f64 = (0..fan_out).map(|j| layer.w[(i, j)] * delta[j]).sum();
                            s_w * g * model.activation.derivative(t.z[l - 1][i])
                        })
                        .collect();
                }
            }
            row
        })
        .collect()
}

/// The full empirical NTK `J(x1)·J(x2)ᵀ`, `n1 × n2 × k × k`, rows of `x1`, `x2` row-major.
pub fn ntk(model: &Mlp, params: &Params, x1: &[f64], x2: &[f64]) -> Kernel {
    let d = model.input_dim;
    let k = model.outputs;
    let j1: Vec<_> = x1.chunks(d).map(|x| jacobian(model, params, x)).collect();
    let j2: Vec<_> = x2.chunks(d).map(|x| jacobian(model, params, x)).collect();
    let (n1, n2) = (j1.len(), j2.len());
    let mut data = vec![0.0; n1 * n2 * k * k];
    for i in 0..n1 {
        for j in 0..n2 {
            for a in 0..k {
                for b in 0..k {
                    data[((i * n2 + j) * k + a) * k + b] =
                        j1[i][a].iter().zip(&j2[j][b]).map(|(u, v)| u * v).sum();
                }
            }
        }
    }
    Kernel { n1, n2, k, data }
}

/// The empirical NNGP `W_std²·h_L(x)·h_L(x')/m_L + b_std²`, `n1 × n2`.
pub fn nngp(model: &Mlp, params: &Params, x1: &[f64], x2: &[f64]) -> Kernel {
    let d = model.input_dim;
    let last = |x: &[f64]| trace(model, params, x).h.pop().unwrap_or_default();
    let h1: Vec<_> = x1.chunks(d).map(last).collect();
    let h2: Vec<_> = x2.chunks(d).map(last).collect();
    let m = model.width(model.depth()) as f64;
    let (w2, b2) = (model.w_std * model.w_std / m, model.b_std * model.b_std);
    let data = h1
        .iter()
        .flat_map(|a| {
            h2.iter()
                .map(move |b| w2 * a.iter().zip(b).map(|(u, v)| u * v).sum::<f64>() + b2)
        })
        .collect();
    Kernel {
        n1: h1.len(),
        n2: h2.len(),
        k: 1,
        data,
    }
}

/// The parameters as one flat vector (stax order).
pub fn flatten(params: &Params) -> Vec<f64> {
    let mut v = Vec::new();
    for layer in &params.layers {
        for i in 0..layer.w.nrows() {
            for j in 0..layer.w.ncols() {
                v.push(layer.w[(i, j)]);
            }
        }
        v.extend_from_slice(&layer.b);
    }
    v
}

/// The inverse of [`flatten`] for `model`'s shapes.
pub fn unflatten(model: &Mlp, flat: &[f64]) -> Params {
    let mut off = 0;
    let layers = (0..=model.depth())
        .map(|l| {
            let (fan_in, fan_out) = model.layer_shape(l);
            let w = Mat::from_fn(fan_in, fan_out, |i, j| flat[off + i * fan_out + j]);
            off += fan_in * fan_out;
            let b = flat[off..off + fan_out].to_vec();
            off += fan_out;
            Dense { w, b }
        })
        .collect();
    Params { layers }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::Activation;
    use crate::model::Parameterization;

    /// 63 or 65 inputs to a 64-input net: an error, not a silent value or a panic.
    #[test]
    fn forward_checks_the_input_length() {
        let model = Mlp::new(64, &[4], Activation::Relu);
        let params = Params::seeded(&model, 0).unwrap();
        for d in [63, 65] {
            let e = forward(&model, &params, &vec![0.5; d]).unwrap_err();
            assert!(
                matches!(e, Error::DimensionMismatch { expected: 64, got, .. } if got == d),
                "{e}"
            );
        }
        assert_eq!(forward(&model, &params, &[0.5; 64]).unwrap().len(), 1);
    }

    /// The back-propagated Jacobian against central differences, every parameter.
    /// h = 1e-6; smooth activations, so the error is O(h²) truncation plus O(ε/h)
    /// rounding ≈ 1e-10 relative; tolerance 1e-6 absolute + relative.
    #[test]
    fn jacobian_matches_central_differences() {
        for (act, param) in [
            (Activation::Tanh, Parameterization::Ntk),
            (Activation::Gelu, Parameterization::Standard),
            (Activation::Erf, Parameterization::Ntk),
        ] {
            let model = Mlp::new(3, &[4, 5], act)
                .with_w_std(1.3)
                .with_b_std(0.2)
                .with_parameterization(param)
                .with_outputs(2);
            let params = Params::seeded(&model, 11).unwrap();
            let x = [0.3, -0.7, 1.1];
            let jac = jacobian(&model, &params, &x);
            let flat = flatten(&params);
            assert_eq!(flat.len(), model.parameter_count());
            let h = 1e-6;
            for p in 0..flat.len() {
                let mut plus = flat.clone();
                plus[p] += h;
                let mut minus = flat.clone();
                minus[p] -= h;
                let fp = forward(&model, &unflatten(&model, &plus), &x).unwrap();
                let fm = forward(&model, &unflatten(&model, &minus), &x).unwrap();
                for a in 0..2 {
                    let fd = (fp[a] - fm[a]) / (2.0 * h);
                    let err = (fd - jac[a][p]).abs();
                    assert!(
                        err < 1e-6 * (1.0 + fd.abs()),
                        "{act} p={p} a={a}: {fd} vs {}",
                        jac[a][p]
                    );
                }
            }
        }
    }
}
