//! The per-layer factors of the empirical NTK for a block of points: the layer inputs
//! `h_l` and the back-propagated `δ_l = ∂f/∂z_l`, from one forward and one backward pass.

use faer::Mat;

use faer::reborrow::ReborrowMut;

use super::tile::gemm;
use crate::model::Mlp;
use crate::params::Params;
use crate::scalar::Real;
use crate::simd;

/// One dense layer in the compute precision, with its forward scales.
pub struct LayerT<T: Real> {
    /// `W_l`, `fan_in × fan_out`.
    pub w: Mat<T>,
    /// `b_l`.
    pub b: Vec<T>,
    /// `s_W`.
    pub s_w: f64,
    /// `s_b`.
    pub s_b: f64,
}

/// Converts stored parameters to `T` with the model's forward scales attached.
pub fn layers_in<T: Real>(model: &Mlp, params: &Params) -> Vec<LayerT<T>> {
    params
        .layers
        .iter()
        .enumerate()
        .map(|(l, d)| {
            let (s_w, s_b) = model.forward_scales(l);
            LayerT {
                w: Mat::from_fn(d.w.nrows(), d.w.ncols(), |i, j| T::of(d.w[(i, j)])),
                b: d.b.iter().map(|&v| T::of(v)).collect(),
                s_w,
                s_b,
            }
        })
        .collect()
}

/// `h_0..h_L` and `δ_0..δ_{L−1}` (one matrix per output) for a block of `r` points.
pub struct BlockFeatures<T: Real> {
    /// `acts[l]` = `h_l`, `r × m_l` (`h_0 = x`).
    pub acts: Vec<Mat<T>>,
    /// `deltas[l][a]` = `∂f_a/∂z_l`, `r × m_{l+1}`, for hidden layers `l < L`.
    pub deltas: Vec<Vec<Mat<T>>>,
}

/// `z = s_W·h·W + s_b·b`, then `h ← φ(z)` in place and `φ'(z)` into `dz`.
pub fn dense_forward<T: Real>(
    model: &Mlp,
    h: faer::MatRef<'_, T>,
    w: faer::MatRef<'_, T>,
    b: &[T],
    s_w: f64,
    s_b: f64,
) -> (Mat<T>, Mat<T>) {
    let (r, c) = (h.nrows(), w.ncols());
    let mut z = Mat::<T>::zeros(r, c);
    let mut dz = Mat::<T>::zeros(r, c);
    dense_forward_into(model, h, w, b, s_w, s_b, z.as_mut(), dz.as_mut());
    (z, dz)
}

/// [`dense_forward`] into given column-major outputs (`r × c`, unit row stride).
#[allow(clippy::too_many_arguments)]
pub fn dense_forward_into<T: Real>(
    model: &Mlp,
    h: faer::MatRef<'_, T>,
    w: faer::MatRef<'_, T>,
    b: &[T],
    s_w: f64,
    s_b: f64,
    mut z: faer::MatMut<'_, T>,
    mut dz: faer::MatMut<'_, T>,
) {
    gemm(z.rb_mut(), h, w, T::of(s_w));
    let sb = T::of(s_b);
    for (j, &bj) in b.iter().enumerate().take(w.ncols()) {
        let (Some(zc), Some(dc)) = (
            z.rb_mut().col_mut(j).try_as_col_major_mut(),
            dz.rb_mut().col_mut(j).try_as_col_major_mut(),
        ) else {
            unreachable!("feature matrices are column-major")
        };
        simd::bias_activation(
            &model.activation,
            sb * bj,
            zc.as_slice_mut(),
            dc.as_slice_mut(),
        );
    }
}

/// `out[:, u] = s·g[u]·dphi[:, u]` for every column: `δ` of the last hidden layer for one
/// output, `g` the readout column.
pub fn readout_delta<T: Real>(dphi: &Mat<T>, g: impl Fn(usize) -> T, s: f64) -> Mat<T> {
    let (r, m) = (dphi.nrows(), dphi.ncols());
    let mut out = Mat::<T>::zeros(r, m);
    for u in 0..m {
        simd::scaled_copy(
            out.col_as_slice_mut(u),
            dphi.col_as_slice(u),
            T::of(s) * g(u),
        );
    }
    out
}

/// Forward and backward pass for the block `x` (`r × d`). `deltas` are computed only when
/// `with_deltas` (the NNGP needs only the last layer's features).
pub fn block_features<T: Real>(
    model: &Mlp,
    layers: &[LayerT<T>],
    x: Mat<T>,
    with_deltas: bool,
) -> BlockFeatures<T> {
    let depth = model.depth();
    let k = model.outputs;
    let r = x.nrows();
    let mut acts = Vec::with_capacity(depth + 1);
    let mut dphi = Vec::with_capacity(depth);
    acts.push(x);
    for layer in &layers[..depth] {
        let (h, dz) = dense_forward(
            model,
            acts[acts.len() - 1].as_ref(),
            layer.w.as_ref(),
            &layer.b,
            layer.s_w,
            layer.s_b,
        );
        acts.push(h);
        if with_deltas {
            dphi.push(dz);
        }
    }
    let mut deltas: Vec<Vec<Mat<T>>> = Vec::with_capacity(depth);
    if with_deltas && depth > 0 {
        // δ_{L−1}[a] = s_W(L)·W_L[:, a]ᵀ ⊙ φ'(z_{L−1}), column by column.
        let read = &layers[depth];
        let d_last = &dphi[depth - 1];
        let m = d_last.ncols();
        let top: Vec<Mat<T>> = (0..k)
            .map(|a| {
                Mat::from_fn(r, m, |i, u| {
                    T::of(read.s_w) * read.w[(u, a)] * d_last[(i, u)]
                })
            })
            .collect();
        deltas.push(top);
        // δ_{l−1}[a] = (s_W(l)·δ_l[a]·W_lᵀ) ⊙ φ'(z_{l−1}).
        for l in (1..depth).rev() {
            let layer = &layers[l];
            let prev = &dphi[l - 1];
            let above = &deltas[deltas.len() - 1];
            let next: Vec<Mat<T>> = above
                .iter()
                .map(|d| {
                    let mut out = Mat::<T>::zeros(r, prev.ncols());
                    gemm(
                        out.as_mut(),
                        d.as_ref(),
                        layer.w.transpose(),
                        T::of(layer.s_w),
                    );
                    for j in 0..prev.ncols() {
                        simd::hadamard_in_place(out.col_as_slice_mut(j), prev.col_as_slice(j));
                    }
                    out
                })
                .collect();
            deltas.push(next);
        }
        deltas.reverse();
    }
    BlockFeatures { acts, deltas }
}
