//! The streamed schedule for one hidden layer: the width is walked in chunks of neurons
//! whose weights are regenerated from the seed (or sliced from explicit weights), each
//! chunk's Gram contributions added to per-tile `f64` accumulators, then dropped.
//!
//! Memory is `O(n1·n2 + (n1 + n2)·c + c·d)` whatever the width `m` (docs/DESIGN.md §2, "Very wide
//! networks"). With `h_0 = x`, `δ_0[a] = s_W(1)·W_1[:, a] ⊙ φ'(z_0)` and `h_1 = φ(z_0)`:
//!
//! ```text
//! Θ = (s_W(0)²·x·x' + s_b(0)²) ⊙ Σ_chunks δ_0·δ_0'  +  (s_W(1)²·Σ_chunks h_1·h_1' + s_b(1)²)·I
//! ```

use core::ops::Range;
use core::sync::atomic::AtomicBool;
use std::collections::BTreeSet;

use faer::Mat;
use rayon::prelude::*;

use super::features::{bias_activation_cols, readout_delta_in_place, readout_delta_into};
use super::tile::{Compute, REDUCE_BLOCK, Scratch, Spare, row_blocks};
use super::{
    EmpiricalOptions, Kernel, KernelKind, Weights, add_layer_term, assemble, band_blocks,
    check_cancel, entries, layer_term_over, nngp_tile, tile_pairs,
};
use crate::data::Points;
use crate::error::Result;
use crate::init;
use crate::model::Mlp;

/// One chunk's weights in `T`: `c` neurons, `b` (`c`), readout rows (`c × k`), and `W`
/// (`d × c`) prepared per block of [`REDUCE_BLOCK`] columns for the forward products.
struct ChunkWeights<T: Compute> {
    c: usize,
    b: Vec<T>,
    readout: Mat<T>,
    packed: Vec<T::Packed>,
}

fn chunk_weights<T: Compute>(
    model: &Mlp,
    weights: Weights<'_>,
    cols: Range<usize>,
) -> ChunkWeights<T> {
    let (d, k, c) = (model.input_dim, model.outputs, cols.len());
    match weights {
        Weights::Explicit(p) => {
            let (w0, w1) = (&p.layers[0], &p.layers[1]);
            let w = Mat::from_fn(d, c, |i, j| T::of(w0.w[(i, cols.start + j)]));
            ChunkWeights {
                c,
                b: cols.clone().map(|j| T::of(w0.b[j])).collect(),
                readout: Mat::from_fn(c, k, |u, a| T::of(w1.w[(cols.start + u, a)])),
                packed: (0..c)
                    .step_by(REDUCE_BLOCK)
                    .collect::<Vec<_>>()
                    .into_par_iter()
                    .map(|s| T::pack(w.as_ref().subcols(s, REDUCE_BLOCK.min(c - s))))
                    .collect(),
            }
        }
        Weights::Seeded(seed) => {
            // One stream block per task, drawn straight into its prepared form (the same
            // values whatever the chunking: chunks start on a stream block), no `W`.
            const { assert!(init::STREAM_BLOCK == REDUCE_BLOCK) };
            debug_assert!(cols.start.is_multiple_of(init::STREAM_BLOCK));
            let first = cols.start / init::STREAM_BLOCK;
            let parts: Vec<(T::Packed, Vec<f64>, Vec<f64>)> = (0..c.div_ceil(REDUCE_BLOCK))
                .into_par_iter()
                .map(|i| {
                    let blk = first + i;
                    let lo = blk * init::STREAM_BLOCK;
                    let width = REDUCE_BLOCK.min(cols.end - lo);
                    let (packed, mut b) = T::pack_layer(d, width, |_, put| {
                        init::hidden_block(model, seed, 0, blk, |j, col| put(j, col))
                    });
                    let b = b.pop().unwrap_or_default();
                    (packed, b, init::readout_rows(model, seed, lo..lo + width))
                })
                .collect();
            let (mut b, mut rd) = (Vec::with_capacity(c), Vec::with_capacity(c * k));
            let mut packed = Vec::with_capacity(parts.len());
            for (pw, pb, pr) in parts {
                packed.push(pw);
                b.extend(pb.into_iter().map(T::of));
                rd.extend(pr);
            }
            ChunkWeights {
                c,
                b,
                readout: Mat::from_fn(c, k, |u, a| T::of(rd[u * k + a])),
                packed,
            }
        }
    }
}

/// `h_1` and `δ_0[a]` of one row block for one chunk. The forward GEMM runs per
/// [`REDUCE_BLOCK`] columns so that its shape, hence its bits (in `f64`), never depend on
/// the chunk.
fn chunk_features<T: Compute>(
    model: &Mlp,
    x: &T::Rows,
    cw: &ChunkWeights<T>,
    with_deltas: bool,
    spare: &Spare<T>,
) -> ChunkFeatures<T> {
    let (c, r) = (cw.c, T::rows_of(x));
    let (s_w0, s_b0) = model.forward_scales(0);
    let (s_w1, _) = model.forward_scales(1);
    let k = if with_deltas { model.outputs } else { 0 };
    // Per block of REDUCE_BLOCK neurons (in parallel, nested inside the row blocks'
    // parallelism): h_1 and δ_0[a] of the block, each a product of fixed shape, prepared for
    // the Grams while still in cache.
    let mut all = T::rows_by_block(
        r,
        c,
        1 + k,
        |q0, w| {
            // Both overwritten whole: the product stores every entry, the activation too.
            let mut h = spare.mat(r, w);
            let mut dphi = spare.mat(r, w);
            T::gemm_rows(h.as_mut(), x, &cw.packed[q0 / REDUCE_BLOCK], T::of(s_w0));
            bias_activation_cols(model, &cw.b[q0..q0 + w], s_b0, h.as_mut(), dphi.as_mut());
            let mut out = Vec::with_capacity(1 + k);
            out.push(h);
            if k == 1 {
                out.push(readout_delta_in_place(
                    dphi,
                    |u| cw.readout[(q0 + u, 0)],
                    s_w1,
                ));
            } else {
                for a in 0..k {
                    let mut d = spare.mat(r, w);
                    readout_delta_into(&mut d, &dphi, |u| cw.readout[(q0 + u, a)], s_w1);
                    out.push(d);
                }
                spare
                    .mats
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(dphi);
            }
            out
        },
        spare,
    );
    let deltas = all.split_off(1);
    let Some(h) = all.pop() else {
        unreachable!("h_1 is the first of the blocks")
    };
    (h, deltas)
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
    cancel: Option<&AtomicBool>,
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
    // Each needed row block's inputs, prepared once as rows (left panels) for the forward
    // products of every chunk (`gemm_rows`: the bits of packing them per product) and for
    // the input Gram `x·x'` of the last step.
    let blocks =
        |x: &Points<'_>, rows: &[Range<usize>], need: &BTreeSet<usize>| -> Vec<Option<T::Rows>> {
            rows.par_iter()
                .enumerate()
                .map(|(b, r)| {
                    need.contains(&b)
                        .then(|| T::pack_rows(x.to_mat::<T>(r.start, r.end).as_ref(), false))
                })
                .collect()
        };
    let (xr1, xr2) = match x2 {
        None => (
            blocks(x1, &rows1, &left.union(&right).copied().collect()),
            None,
        ),
        Some(x2) => (blocks(x1, &rows1, &left), Some(blocks(x2, &rows2, &right))),
    };
    let xr2r = xr2.as_ref().unwrap_or(&xr1);
    let n_entries = entries(model, opts);
    // Zeroed in parallel (10 MiB of fresh pages at n = 1024 in tiles of 256).
    let mut accs: Vec<Acc> = pairs
        .par_iter()
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
    // The previous chunk's feature buffers, reused by the next one.
    let spare = Spare::<T>::default();
    let mut c0 = 0;
    while c0 < m {
        check_cancel(cancel)?;
        let cols = c0..(c0 + opts.chunk).min(m);
        let cw = chunk_weights::<T>(model, weights, cols.clone());
        let feats = |xs: &Vec<Option<T::Rows>>| -> Vec<Option<ChunkFeatures<T>>> {
            xs.par_iter()
                .map(|x| {
                    x.as_ref()
                        .map(|x| chunk_features(model, x, &cw, ntk, &spare))
                })
                .collect()
        };
        let f1 = feats(&xr1);
        let f2 = xr2.as_ref().map(feats);
        let f2r = f2.as_ref().unwrap_or(&f1);
        pairs
            .par_iter()
            .zip(accs.par_iter_mut())
            .for_each(|(&(bi, bj), acc)| {
                // Once cancelled, the remaining tiles of the chunk are skipped (the
                // accumulators are then incomplete, and the call fails below).
                if check_cancel(cancel).is_err() {
                    return;
                }
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
        let mut pool = spare.rows.lock().unwrap_or_else(|e| e.into_inner());
        for (h, d) in f1.into_iter().chain(f2.into_iter().flatten()).flatten() {
            pool.push(h);
            pool.extend(d);
        }
        drop(pool);
        c0 = cols.end;
    }
    check_cancel(cancel)?;
    // The chunks' buffers go back to the allocator, for the last step to reuse.
    drop(spare);
    let tiles: Vec<_> = pairs
        .par_iter()
        .zip(accs.into_par_iter())
        .map(|(&(bi, bj), acc)| {
            if !ntk {
                return ((bi, bj), vec![nngp_tile(model, &acc.h)]);
            }
            let (Some(xa), Some(xb)) = (&xr1[bi], &xr2r[bj]) else {
                unreachable!("inputs of every needed block are kept above")
            };
            let (ri, rj) = (T::rows_of(xa), T::rows_of(xb));
            let mut scratch = Scratch::<T>::for_tile(ri, rj, symmetric, bi, bj);
            let mut gx = Mat::<f64>::zeros(ri, rj);
            T::add_gram_rows(&mut gx, xa, xb, 1.0, &mut scratch);
            let (s_w0, s_b0) = model.forward_scales(0);
            let (s_w1, s_b1) = model.forward_scales(1);
            // Θ = (s_W(0)²·x·x' + s_b(0)²) ⊙ Σ δ_0·δ_0' + …, written over the δ Grams.
            let Acc { h, d: mut out } = acc;
            layer_term_over(&mut out, &gx, s_w0, s_b0);
            add_layer_term(&mut out, &h, None, s_w1, s_b1, k);
            ((bi, bj), out)
        })
        .collect();
    Ok(assemble(
        model, opts, tiles, &rows1, &rows2, symmetric, band,
    ))
}
