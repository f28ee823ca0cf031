//! The network's forward and backward passes over a whole batch, in `f64`, with faer GEMMs.
//!
//! With `h_0 = x` (a batch, `n × d`), layer `l` computes `z_l = s_W·h_l·W_l + s_b·1·b_lᵀ`
//! and `h_{l+1} = φ(z_l)`; `f = z_L`. Given `G_L = ∂L/∂f` (`n × k`) the backward pass is
//!
//! ```text
//! ∂L/∂W_l = s_W·h_lᵀ·G_l,   ∂L/∂b_l = s_b·1ᵀ·G_l,   G_{l−1} = (s_W·G_l·W_lᵀ) ⊙ φ'(z_{l−1})
//! ```
//!
//! the same chain rule as [`reference::jacobian`](crate::reference::jacobian), one GEMM per
//! product. The GEMMs run with the caller's [`Parallelism`]; their bits do not depend on
//! the thread count (STYLE §6): `tests/train_threads.rs` trains with one and three threads
//! and compares the parameters, records and outputs bit for bit.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};

use crate::model::Mlp;
use crate::parallel::Parallelism;
use crate::params::{Dense, Params};

/// faer's parallelism for ours.
pub(crate) fn par(p: Parallelism) -> Par {
    match p {
        Parallelism::Sequential => Par::Seq,
        Parallelism::Rayon0 => Par::rayon(0),
        Parallelism::Rayon(n) => Par::rayon(n),
    }
}

/// What the backward pass needs from the forward pass.
pub struct Tape {
    /// `h_0..h_L`, `n × m_l`.
    pub acts: Vec<Mat<f64>>,
    /// `φ'(z_0)..φ'(z_{L−1})`.
    pub dphi: Vec<Mat<f64>>,
    /// `f = z_L`, `n × k`.
    pub out: Mat<f64>,
}

/// `z = s_W·h·W + s_b·b` for a batch.
fn dense(h: MatRef<'_, f64>, layer: &Dense, s_w: f64, s_b: f64, par: Par) -> Mat<f64> {
    let mut z = Mat::<f64>::zeros(h.nrows(), layer.w.ncols());
    matmul(z.as_mut(), Accum::Replace, h, layer.w.as_ref(), s_w, par);
    if s_b != 0.0 {
        for j in 0..z.ncols() {
            let bias = s_b * layer.b[j];
            z.col_as_slice_mut(j).iter_mut().for_each(|v| *v += bias);
        }
    }
    z
}

/// The forward pass of `x` (`n × d`), keeping what [`backward`] needs.
pub fn forward_tape(model: &Mlp, params: &Params, x: MatRef<'_, f64>, par: Par) -> Tape {
    let depth = model.depth();
    let mut acts = Vec::with_capacity(depth + 1);
    let mut dphi = Vec::with_capacity(depth);
    acts.push(x.to_owned());
    for l in 0..depth {
        let (s_w, s_b) = model.forward_scales(l);
        let mut z = dense(acts[l].as_ref(), &params.layers[l], s_w, s_b, par);
        let mut dz = Mat::<f64>::zeros(z.nrows(), z.ncols());
        for j in 0..z.ncols() {
            model
                .activation
                .forward_in_place(z.col_as_slice_mut(j), dz.col_as_slice_mut(j));
        }
        acts.push(z);
        dphi.push(dz);
    }
    let (s_w, s_b) = model.forward_scales(depth);
    let out = dense(acts[depth].as_ref(), &params.layers[depth], s_w, s_b, par);
    Tape { acts, dphi, out }
}

/// `f(x)` for a batch `x` (`n × d`): `n × k`.
pub fn forward(model: &Mlp, params: &Params, x: MatRef<'_, f64>, par: Par) -> Mat<f64> {
    let depth = model.depth();
    let mut h = x.to_owned();
    for l in 0..depth {
        let (s_w, s_b) = model.forward_scales(l);
        let mut z = dense(h.as_ref(), &params.layers[l], s_w, s_b, par);
        for j in 0..z.ncols() {
            let col = z.col_as_slice_mut(j);
            col.iter_mut().for_each(|v| *v = model.activation.value(*v));
        }
        h = z;
    }
    let (s_w, s_b) = model.forward_scales(depth);
    dense(h.as_ref(), &params.layers[depth], s_w, s_b, par)
}

/// The gradient of a loss with `∂L/∂f = g_out` (`n × k`) with respect to every parameter,
/// in the layout of [`Params`].
pub fn backward(
    model: &Mlp,
    params: &Params,
    tape: &Tape,
    g_out: MatRef<'_, f64>,
    par: Par,
) -> Params {
    let depth = model.depth();
    let mut grads: Vec<Dense> = Vec::with_capacity(depth + 1);
    let mut g = g_out.to_owned();
    for l in (0..=depth).rev() {
        let (s_w, s_b) = model.forward_scales(l);
        let layer = &params.layers[l];
        let h = &tape.acts[l];
        let mut gw = Mat::<f64>::zeros(layer.w.nrows(), layer.w.ncols());
        matmul(
            gw.as_mut(),
            Accum::Replace,
            h.transpose(),
            g.as_ref(),
            s_w,
            par,
        );
        let gb: Vec<f64> = (0..g.ncols())
            .map(|j| s_b * g.col_as_slice(j).iter().sum::<f64>())
            .collect();
        grads.push(Dense { w: gw, b: gb });
        if l > 0 {
            let mut below = Mat::<f64>::zeros(g.nrows(), layer.w.nrows());
            matmul(
                below.as_mut(),
                Accum::Replace,
                g.as_ref(),
                layer.w.transpose(),
                s_w,
                par,
            );
            let d = &tape.dphi[l - 1];
            for j in 0..below.ncols() {
                let col = below.col_as_slice_mut(j);
                for (v, dv) in col.iter_mut().zip(d.col_as_slice(j)) {
                    *v *= *dv;
                }
            }
            g = below;
        }
    }
    grads.reverse();
    Params { layers: grads }
}

/// `θ ← θ + c·δ`, layer by layer.
pub fn axpy(theta: &mut Params, c: f64, delta: &Params) {
    for (t, d) in theta.layers.iter_mut().zip(&delta.layers) {
        for j in 0..t.w.ncols() {
            let tc = t.w.col_as_slice_mut(j);
            for (v, dv) in tc.iter_mut().zip(d.w.col_as_slice(j)) {
                *v += c * dv;
            }
        }
        for (v, dv) in t.b.iter_mut().zip(&d.b) {
            *v += c * dv;
        }
    }
}

/// `‖θ − θ'‖₂` over every parameter.
pub fn distance(a: &Params, b: &Params) -> f64 {
    let mut s = 0.0;
    for (x, y) in a.layers.iter().zip(&b.layers) {
        for j in 0..x.w.ncols() {
            for (u, v) in x.w.col_as_slice(j).iter().zip(y.w.col_as_slice(j)) {
                s += (u - v) * (u - v);
            }
        }
        s +=
            x.b.iter()
                .zip(&y.b)
                .map(|(u, v)| (u - v) * (u - v))
                .sum::<f64>();
    }
    s.sqrt()
}

/// Every parameter in [`reference`](crate::reference)'s flat order: `W0` row-major, `b0`,
/// `W1`, ….
pub fn flatten(p: &Params) -> Vec<f64> {
    let mut v = Vec::new();
    for layer in &p.layers {
        for i in 0..layer.w.nrows() {
            for j in 0..layer.w.ncols() {
                v.push(layer.w[(i, j)]);
            }
        }
        v.extend_from_slice(&layer.b);
    }
    v
}
