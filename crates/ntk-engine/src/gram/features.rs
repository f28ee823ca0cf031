//! The per-layer factors of the empirical NTK for a block of points: the layer inputs
//! `h_l` and the back-propagated `δ_l = ∂f/∂z_l`, from one forward and one backward pass.

use faer::Mat;

use faer::reborrow::ReborrowMut;

use super::Weights;
use super::tile::Compute;
use crate::init;
use crate::model::Mlp;
use crate::params::Params;
use crate::scalar::Real;
use crate::simd;

/// One dense layer in the compute precision, with its forward scales. A hidden layer holds
/// its weights only as prepared right operands: `fwd` for `h·W` and, when back-propagating
/// through it, `bwd` for `δ·Wᵀ`; the readout holds `w` itself.
pub struct LayerT<T: Compute> {
    /// `W_l`, `fan_in × fan_out` (the readout's; empty for hidden layers).
    pub w: Mat<T>,
    /// `W_l` prepared for `h·W_l` (hidden layers).
    pub fwd: Option<T::Packed>,
    /// `W_lᵀ` prepared for `δ·W_lᵀ` (hidden layers but the first, for the NTK), where the
    /// precision keeps its own copy ([`Compute::backward_pack`]); `f32` reads `fwd` across
    /// instead, half the weights' memory.
    pub bwd: Option<T::Packed>,
    /// `b_l`.
    pub b: Vec<T>,
    /// `s_W`.
    pub s_w: f64,
    /// `s_b`.
    pub s_b: f64,
}

/// One layer from its weights in `T`: packed when hidden, kept as is for the readout.
fn layer_from<T: Compute>(model: &Mlp, l: usize, w: Mat<T>, b: Vec<T>, deltas: bool) -> LayerT<T> {
    if l == model.depth() {
        let (s_w, s_b) = model.forward_scales(l);
        return LayerT {
            w,
            fwd: None,
            bwd: None,
            b,
            s_w,
            s_b,
        };
    }
    hidden_layer(model, l, T::pack(w.as_ref()), b, deltas)
}

/// A hidden layer from its forward preparation, with the backward one where the precision
/// keeps it ([`Compute::backward_pack`]; layers after the first, for the NTK).
fn hidden_layer<T: Compute>(
    model: &Mlp,
    l: usize,
    fwd: T::Packed,
    b: Vec<T>,
    deltas: bool,
) -> LayerT<T> {
    let (s_w, s_b) = model.forward_scales(l);
    let bwd = if deltas && l > 0 {
        T::backward_pack(&fwd)
    } else {
        None
    };
    LayerT {
        w: Mat::zeros(0, 0),
        fwd: Some(fwd),
        bwd,
        b,
        s_w,
        s_b,
    }
}

/// Converts stored parameters to `T` with the model's forward scales attached (`deltas`:
/// prepare the backward products too).
pub fn layers_in<T: Compute>(model: &Mlp, params: &Params, deltas: bool) -> Vec<LayerT<T>> {
    params
        .layers
        .iter()
        .enumerate()
        .map(|(l, d)| {
            let w = Mat::from_fn(d.w.nrows(), d.w.ncols(), |i, j| T::of(d.w[(i, j)]));
            let b = d.b.iter().map(|&v| T::of(v)).collect();
            layer_from(model, l, w, b, deltas)
        })
        .collect()
}

/// The layers of `weights` in `T`. Seeded weights are drawn layer by layer, one stream block
/// per task (the same values as [`Params::seeded`], which [`init`] makes independent of the
/// split), and each layer's `f64` draw is dropped once converted.
pub fn layers_of<T: Compute>(
    model: &Mlp,
    weights: Weights<'_>,
    deltas: bool,
) -> crate::error::Result<Vec<LayerT<T>>> {
    let seed = match weights {
        Weights::Explicit(p) => return Ok(layers_in(model, p, deltas)),
        Weights::Seeded(seed) => seed,
    };
    model.validate()?;
    let depth = model.depth();
    let mut layers = Vec::with_capacity(depth + 1);
    const { assert!(init::STREAM_BLOCK == crate::simd::gemm::LAYER_BLOCK) };
    for l in 0..depth {
        let (fan_in, fan_out) = model.layer_shape(l);
        let (fwd, bs) = T::pack_layer(fan_in, fan_out, |blk, put| {
            init::hidden_block(model, seed, l, blk, |j, c| put(j, c))
        });
        let b: Vec<T> = bs.into_iter().flatten().map(T::of).collect();
        layers.push(hidden_layer(model, l, fwd, b, deltas));
    }
    let (fan_in, k) = model.layer_shape(depth);
    let rd = init::readout_rows(model, seed, 0..fan_in);
    let w = Mat::from_fn(fan_in, k, |i, j| T::of(rd[i * k + j]));
    let b = init::readout_bias(model, seed)
        .into_iter()
        .map(T::of)
        .collect();
    layers.push(layer_from(model, depth, w, b, deltas));
    Ok(layers)
}

/// `h_0..h_L` and `δ_0..δ_{L−1}` (one matrix per output) for a block of `r` points,
/// prepared for Gram products ([`Compute::pack_rows`]).
pub struct BlockFeatures<T: Compute> {
    /// `acts[l]` = `h_l`, `r × m_l` (`h_0 = x`).
    pub acts: Vec<T::Rows>,
    /// `deltas[l][a]` = `∂f_a/∂z_l`, `r × m_{l+1}`, for hidden layers `l < L`.
    pub deltas: Vec<Vec<T::Rows>>,
}

/// `z = s_W·h·W + s_b·b` with `W` prepared and `h` given as the features prepared for the
/// Grams ([`Compute::gemm_rows`]), then `h ← φ(z)` in place and `φ'(z)` into `dz`.
pub fn dense_forward_rows<T: Compute>(
    model: &Mlp,
    h: &T::Rows,
    layer: &LayerT<T>,
) -> (Mat<T>, Mat<T>) {
    let (r, c) = (T::rows_of(h), layer.b.len());
    let mut z = Mat::<T>::zeros(r, c);
    let mut dz = Mat::<T>::zeros(r, c);
    let Some(w) = &layer.fwd else {
        unreachable!("hidden layers are packed")
    };
    T::gemm_rows(z.as_mut(), h, w, T::of(layer.s_w));
    bias_activation_cols(model, &layer.b, layer.s_b, z.as_mut(), dz.as_mut());
    (z, dz)
}

/// `h ← φ(z + s_b·b)` and `dz ← φ'(z + s_b·b)`, column by column.
pub fn bias_activation_cols<T: Real>(
    model: &Mlp,
    b: &[T],
    s_b: f64,
    mut z: faer::MatMut<'_, T>,
    mut dz: faer::MatMut<'_, T>,
) {
    let sb = T::of(s_b);
    for (j, &bj) in b.iter().enumerate().take(z.ncols()) {
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
    let mut out = Mat::<T>::zeros(dphi.nrows(), dphi.ncols());
    readout_delta_into(&mut out, dphi, g, s);
    out
}

/// [`readout_delta`] into `out` (of `dphi`'s shape, every entry overwritten).
pub fn readout_delta_into<T: Real>(
    out: &mut Mat<T>,
    dphi: &Mat<T>,
    g: impl Fn(usize) -> T,
    s: f64,
) {
    for u in 0..dphi.ncols() {
        simd::scaled_copy(
            out.col_as_slice_mut(u),
            dphi.col_as_slice(u),
            T::of(s) * g(u),
        );
    }
}

/// [`readout_delta`] written over `dphi` itself (the same products), for a single output:
/// `dphi[:, u] ← s·g[u]·dphi[:, u]`, without a second matrix.
pub fn readout_delta_in_place<T: Real>(mut dphi: Mat<T>, g: impl Fn(usize) -> T, s: f64) -> Mat<T> {
    for u in 0..dphi.ncols() {
        simd::scale_in_place(dphi.col_as_slice_mut(u), T::of(s) * g(u));
    }
    dphi
}

/// Forward and backward pass for the block `x` (`r × d`). `deltas` are computed only when
/// `with_deltas` (the NNGP needs only the last layer's features).
///
/// Each activation and each `δ` is prepared for the Grams ([`Compute::pack_rows`]) as soon
/// as it is made, and the next product (the layer above's forward one, the layer below's
/// backward one) reads that preparation ([`Compute::gemm_rows`]): one packing of each
/// matrix instead of two, the same bits. `right`: prepare them as a Gram's right operand too
/// ([`Compute::pack_rows`]).
pub fn block_features<T: Compute>(
    model: &Mlp,
    layers: &[LayerT<T>],
    x: Mat<T>,
    with_deltas: bool,
    right: bool,
) -> BlockFeatures<T> {
    let depth = model.depth();
    let k = model.outputs;
    let r = x.nrows();
    let mut acts: Vec<T::Rows> = Vec::with_capacity(depth + 1);
    let mut dphi = Vec::with_capacity(depth);
    acts.push(T::pack_rows(x.as_ref(), right));
    drop(x);
    for layer in &layers[..depth] {
        let (h, dz) = dense_forward_rows(model, &acts[acts.len() - 1], layer);
        acts.push(T::pack_rows(h.as_ref(), right));
        if with_deltas {
            dphi.push(dz);
        }
    }
    let mut deltas: Vec<Vec<T::Rows>> = Vec::with_capacity(depth);
    if with_deltas && depth > 0 {
        // δ_{L−1}[a] = s_W(L)·W_L[:, a]ᵀ ⊙ φ'(z_{L−1}), column by column.
        let read = &layers[depth];
        // φ'(z_{L−1}) is needed no more: with one output, δ_{L−1} is written over it.
        let Some(d_last) = dphi.pop() else {
            unreachable!("one φ' per hidden layer")
        };
        let top: Vec<Mat<T>> = if k == 1 {
            vec![readout_delta_in_place(d_last, |u| read.w[(u, 0)], read.s_w)]
        } else {
            (0..k)
                .map(|a| readout_delta(&d_last, |u| read.w[(u, a)], read.s_w))
                .collect()
        };
        deltas.push(
            top.iter()
                .map(|d| T::pack_rows(d.as_ref(), right))
                .collect(),
        );
        drop(top);
        // δ_{l−1}[a] = (s_W(l)·δ_l[a]·W_lᵀ) ⊙ φ'(z_{l−1}).
        for l in (1..depth).rev() {
            let layer = &layers[l];
            let prev = &dphi[l - 1];
            let above = &deltas[deltas.len() - 1];
            let next: Vec<T::Rows> = above
                .iter()
                .map(|d| {
                    let mut out = Mat::<T>::zeros(r, prev.ncols());
                    let Some(w) = &layer.fwd else {
                        unreachable!("hidden layers are packed for the forward pass")
                    };
                    match &layer.bwd {
                        Some(wt) => T::gemm_rows(out.as_mut(), d, wt, T::of(layer.s_w)),
                        None => T::gemm_rows_t(out.as_mut(), d, w, T::of(layer.s_w)),
                    }
                    for j in 0..prev.ncols() {
                        simd::hadamard_in_place(out.col_as_slice_mut(j), prev.col_as_slice(j));
                    }
                    T::pack_rows(out.as_ref(), right)
                })
                .collect();
            deltas.push(next);
        }
        deltas.reverse();
    }
    BlockFeatures { acts, deltas }
}
