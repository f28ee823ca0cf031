//! The streamed schedule for one hidden layer: the width is walked in chunks of neurons
//! whose weights are regenerated from the seed (or sliced from explicit weights), each
//! chunk's Gram contributions added to per-tile `f64` accumulators, then dropped.
//!
//! Memory is `O(n1·n2 + (n1 + n2)·c + c·d)` whatever the width `m` (DESIGN.md §2, "Very wide
//! networks"). With `h_0 = x`, `δ_0[a] = s_W(1)·W_1[:, a] ⊙ φ'(z_0)` and `h_1 = φ(z_0)`:
//!
//! ```text
//! Θ = (s_W(0)²·x·x' + s_b(0)²) ⊙ Σ_chunks δ_0·δ_0'  +  (s_W(1)²·Σ_chunks h_1·h_1' + s_b(1)²)·I
//! ```

use core::ops::Range;
use std::collections::BTreeSet;

use faer::Mat;
use rayon::prelude::*;

use super::features::{bias_activation_cols, readout_delta};
use super::tile::{Compute, REDUCE_BLOCK, Scratch, add_gram, row_blocks};
use super::{
    EmpiricalOptions, Kernel, KernelKind, Weights, add_layer_term, assemble, band_blocks, entries,
    nngp_tile, tile_pairs,
};
use crate::data::Points;
use crate::error::Result;
use crate::init;
use crate::model::Mlp;
use faer::reborrow::ReborrowMut;

/// One chunk's weights in `T`: `W` (`d × c`), `b` (`c`), readout rows (`c × k`), and `W`
/// prepared per block of [`REDUCE_BLOCK`] columns for the forward products.
struct ChunkWeights<T: Compute> {
    w: Mat<T>,
    b: Vec<T>,
    readout: Mat<T>,
    packed: Vec<T::Packed>,
}

impl<T: Compute> ChunkWeights<T> {
    fn with_packed(mut self) -> Self {
        let c = self.w.ncols();
        self.packed = (0..c)
            .step_by(REDUCE_BLOCK)
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|s| T::pack(self.w.as_ref().subcols(s, REDUCE_BLOCK.min(c - s))))
            .collect();
        self
    }
}

fn chunk_weights<T: Compute>(
    model: &Mlp,
    weights: Weights<'_>,
    cols: Range<usize>,
) -> ChunkWeights<T> {
    chunk_weights_raw(model, weights, cols).with_packed()
}

fn chunk_weights_raw<T: Compute>(
    model: &Mlp,
    weights: Weights<'_>,
    cols: Range<usize>,
) -> ChunkWeights<T> {
    let (d, k, c) = (model.input_dim, model.outputs, cols.len());
    match weights {
        Weights::Explicit(p) => {
            let (w0, w1) = (&p.layers[0], &p.layers[1]);
            ChunkWeights {
                w: Mat::from_fn(d, c, |i, j| T::of(w0.w[(i, cols.start + j)])),
                b: cols.clone().map(|j| T::of(w0.b[j])).collect(),
                readout: Mat::from_fn(c, k, |u, a| T::of(w1.w[(cols.start + u, a)])),
                packed: Vec::new(),
            }
        }
        Weights::Seeded(seed) => {
            // One stream block per task, converted to `T` in the task: the same values
            // whatever the chunking, and no serial pass over the chunk.
            let parts: Vec<(Mat<T>, Vec<T>, Vec<f64>)> = (cols.start..cols.end)
                .step_by(init::STREAM_BLOCK)
                .collect::<Vec<_>>()
                .into_par_iter()
                .map(|lo| {
                    let r = lo..(lo + init::STREAM_BLOCK).min(cols.end);
                    let (w, b) = init::hidden_columns(model, seed, 0, r.clone());
                    let wm = Mat::from_fn(d, r.len(), |i, j| T::of(w[j * d + i]));
                    (
                        wm,
                        b.into_iter().map(T::of).collect(),
                        init::readout_rows(model, seed, r),
                    )
                })
                .collect();
            let mut w = Mat::<T>::zeros(d, c);
            let mut b = Vec::with_capacity(c);
            let mut rd = Vec::with_capacity(c * k);
            let mut at = 0;
            for (pw, pb, pr) in parts {
                w.as_mut()
                    .subcols_mut(at, pw.ncols())
                    .copy_from(pw.as_ref());
                at += pw.ncols();
                b.extend(pb);
                rd.extend(pr);
            }
            ChunkWeights {
                w,
                b,
                readout: Mat::from_fn(c, k, |u, a| T::of(rd[u * k + a])),
                packed: Vec::new(),
            }
        }
    }
}

/// `h_1` and `δ_0[a]` of one row block for one chunk. The forward GEMM runs per
/// [`REDUCE_BLOCK`] columns so that its shape, hence its bits, never depend on the chunk.
fn chunk_features<T: Compute>(
    model: &Mlp,
    x: &Mat<T>,
    cw: &ChunkWeights<T>,
    with_deltas: bool,
) -> ChunkFeatures<T> {
    let (r, c) = (x.nrows(), cw.w.ncols());
    let (s_w0, s_b0) = model.forward_scales(0);
    let (s_w1, _) = model.forward_scales(1);
    let mut h = Mat::<T>::zeros(r, c);
    let mut dphi = Mat::<T>::zeros(r, c);
    // Column blocks in parallel (nested inside the row blocks' parallelism), each a GEMM
    // of fixed shape, so the bits never depend on the chunk or the thread count.
    h.as_mut()
        .par_col_chunks_mut(REDUCE_BLOCK)
        .zip(dphi.as_mut().par_col_chunks_mut(REDUCE_BLOCK))
        .enumerate()
        .for_each(|(blk, (hb, db))| {
            let (start, w) = (blk * REDUCE_BLOCK, hb.ncols());
            let mut hb = hb;
            T::gemm_packed(hb.rb_mut(), x.as_ref(), &cw.packed[blk], T::of(s_w0));
            bias_activation_cols(model, &cw.b[start..start + w], s_b0, hb, db);
        });
    let deltas = if with_deltas {
        (0..model.outputs)
            .map(|a| T::pack_rows(readout_delta(&dphi, |u| cw.readout[(u, a)], s_w1).as_ref()))
            .collect()
    } else {
        Vec::new()
    };
    (T::pack_rows(h.as_ref()), deltas)
}

/// `h_1` and `δ_0[a]` of one row block for one chunk, prepared for Gram products.
type ChunkFeatures<T> = (<T as Compute>::Rows, Vec<<T as Compute>::Rows>);

/// Per-tile accumulators: `Σ h_1·h_1'` and `Σ δ_0·δ_0'` (one per output pair, or traced).
struct Acc {
    h: Mat<f64>,
    d: Vec<Mat<f64>>,
}

/// Runs the streamed schedule in precision `T` (inside the caller's thread pool).
pub fn run<T: Compute>(
    model: &Mlp,
    weights: Weights<'_>,
    x1: &Points<'_>,
    x2: Option<&Points<'_>>,
    band: Range<usize>,
    opts: &EmpiricalOptions,
) -> Result<Kernel> {
    let k = model.outputs;
    let m = model.width(1);
    let ntk = opts.kind == KernelKind::Ntk;
    let symmetric = x2.is_none();
    let rows1 = row_blocks(x1.rows(), opts.tile);
    let rows2 = row_blocks(x2.map_or(x1.rows(), |x| x.rows()), opts.tile);
    let pairs = tile_pairs(
        rows1.len(),
        rows2.len(),
        symmetric,
        band_blocks(&band, opts.tile),
    );
    // Only the row blocks some tile needs (None elsewhere).
    let left: BTreeSet<usize> = pairs.iter().map(|p| p.0).collect();
    let right: BTreeSet<usize> = pairs.iter().map(|p| p.1).collect();
    let blocks =
        |x: &Points<'_>, rows: &[Range<usize>], need: &BTreeSet<usize>| -> Vec<Option<Mat<T>>> {
            rows.iter()
                .enumerate()
                .map(|(b, r)| need.contains(&b).then(|| x.to_mat::<T>(r.start, r.end)))
                .collect()
        };
    let (xs1, xs2) = match x2 {
        None => (
            blocks(x1, &rows1, &left.union(&right).copied().collect()),
            None,
        ),
        Some(x2) => (blocks(x1, &rows1, &left), Some(blocks(x2, &rows2, &right))),
    };
    let xs2r = xs2.as_ref().unwrap_or(&xs1);
    let n_entries = entries(model, opts);
    let mut accs: Vec<Acc> = pairs
        .iter()
        .map(|&(bi, bj)| {
            let (ri, rj) = (rows1[bi].len(), rows2[bj].len());
            Acc {
                h: Mat::zeros(ri, rj),
                d: if ntk {
                    vec![Mat::zeros(ri, rj); n_entries]
                } else {
                    Vec::new()
                },
            }
        })
        .collect();
    let mut c0 = 0;
    while c0 < m {
        let cols = c0..(c0 + opts.chunk).min(m);
        let cw = chunk_weights::<T>(model, weights, cols.clone());
        let feats = |xs: &Vec<Option<Mat<T>>>| -> Vec<Option<ChunkFeatures<T>>> {
            xs.par_iter()
                .map(|x| x.as_ref().map(|x| chunk_features(model, x, &cw, ntk)))
                .collect()
        };
        let f1 = feats(&xs1);
        let f2 = xs2.as_ref().map(feats);
        let f2r = f2.as_ref().unwrap_or(&f1);
        pairs
            .par_iter()
            .zip(accs.par_iter_mut())
            .for_each(|(&(bi, bj), acc)| {
                let (Some((ha, da)), Some((hb, db))) = (&f1[bi], &f2r[bj]) else {
                    unreachable!("features of every needed block are computed above")
                };
                let (ri, rj) = (T::rows_of(ha), T::rows_of(hb));
                let mut scratch = Scratch::<T>::for_tile(ri, rj, symmetric, bi, bj);
                T::add_gram_rows(&mut acc.h, ha, hb, 1.0, &mut scratch);
                if ntk {
                    if n_entries == 1 {
                        for a in 0..k {
                            T::add_gram_rows(
                                &mut acc.d[0],
                                &da[a],
                                &db[a],
                                1.0 / k as f64,
                                &mut scratch,
                            );
                        }
                    } else {
                        for (e, g) in acc.d.iter_mut().enumerate() {
                            T::add_gram_rows(g, &da[e / k], &db[e % k], 1.0, &mut scratch);
                        }
                    }
                }
            });
        c0 = cols.end;
    }
    let tiles: Vec<_> = pairs
        .par_iter()
        .zip(accs.into_par_iter())
        .map(|(&(bi, bj), acc)| {
            if !ntk {
                return ((bi, bj), vec![nngp_tile(model, &acc.h)]);
            }
            let (Some(xa), Some(xb)) = (&xs1[bi], &xs2r[bj]) else {
                unreachable!("inputs of every needed block are kept above")
            };
            let mut scratch = Scratch::<T>::for_tile(xa.nrows(), xb.nrows(), symmetric, bi, bj);
            let mut gx = Mat::<f64>::zeros(xa.nrows(), xb.nrows());
            add_gram(&mut gx, xa.as_ref(), xb.as_ref(), 1.0, &mut scratch);
            let mut out = vec![Mat::<f64>::zeros(xa.nrows(), xb.nrows()); n_entries];
            let (s_w0, s_b0) = model.forward_scales(0);
            let (s_w1, s_b1) = model.forward_scales(1);
            add_layer_term(&mut out, &gx, Some(&acc.d), s_w0, s_b0, k);
            add_layer_term(&mut out, &acc.h, None, s_w1, s_b1, k);
            ((bi, bj), out)
        })
        .collect();
    Ok(assemble(
        model, opts, tiles, &rows1, &rows2, symmetric, band,
    ))
}
