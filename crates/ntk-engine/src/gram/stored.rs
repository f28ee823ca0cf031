//! The stored schedule: every layer's `h_l` and `δ_l` for every point in memory (computed
//! per row block), then each output tile summed layer by layer. Any depth.

use std::collections::BTreeSet;
use std::ops::Range;
use std::sync::atomic::AtomicBool;

use faer::Mat;
use rayon::prelude::*;

use super::features::{BlockFeatures, block_features, layers_of};
use super::tile::{Compute, Scratch, row_blocks};
use super::{
    EmpiricalOptions, Kernel, KernelKind, Weights, add_layer_term, assemble, band_blocks,
    check_cancel, entries, nngp_tile, tile_pairs,
};
use crate::data::Points;
use crate::error::Result;
use crate::model::Mlp;

/// A block's features are prepared as a Gram's right operand too when the block is the right
/// operand of more than this many tiles on average; otherwise each Gram reads them in their
/// left panels (`simd::gemm::PackedRows::left`). Keeping them costs half the stored
/// features' memory, and the page faults of filling it (a fresh process pays about 2.5 µs a
/// page on our VMs). The measurements below were taken when a Gram copied the rows into right
/// panels per tile instead (before 2026-12-03's in-place read).
/// Measured on a 2-core Zen 4 (2026-12-03, medians of alternated runs, `f32`, tiles of 256):
/// without them depth 2 × 4096 took 0.624 s against 0.663 at `n = 1024` (2.5 tiles per block,
/// peak RSS 189 against 256 MiB) and 1.475 against 1.519 s at `n = 2048` (4.5), but depth
/// 2 × 1024 at `n = 4096` (8.5) 0.807 against 0.739 s.
const RIGHT_KEPT_FROM: usize = 6;

/// Runs the stored schedule in precision `T` (inside the caller's thread pool).
pub fn run<T: Compute>(
    model: &Mlp,
    weights: Weights<'_>,
    x1: &Points<'_>,
    x2: Option<&Points<'_>>,
    band: Range<usize>,
    opts: &EmpiricalOptions,
    cancel: Option<&AtomicBool>,
) -> Result<Kernel> {
    let with_deltas = opts.kind == KernelKind::Ntk;
    let layers = layers_of::<T>(model, weights, with_deltas)?;
    let symmetric = x2.is_none();
    let rows1 = row_blocks(x1.rows(), opts.tile);
    let rows2 = row_blocks(x2.map_or(x1.rows(), |x| x.rows()), opts.tile);
    let pairs = tile_pairs(
        rows1.len(),
        rows2.len(),
        symmetric,
        band_blocks(&band, opts.tile),
    );
    // Features of exactly the blocks the tiles need, each computed once.
    let features = |x: &Points<'_>, rows: &[Range<usize>], need: BTreeSet<usize>, right: bool| {
        let computed: Vec<(usize, BlockFeatures<T>)> = need
            .into_iter()
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|b| {
                let r = &rows[b];
                (
                    b,
                    block_features(
                        model,
                        &layers,
                        x.to_mat::<T>(r.start, r.end),
                        with_deltas,
                        right,
                    ),
                )
            })
            .collect();
        let mut out: Vec<Option<BlockFeatures<T>>> = (0..rows.len()).map(|_| None).collect();
        for (b, f) in computed {
            out[b] = Some(f);
        }
        out
    };
    let left: BTreeSet<usize> = pairs.iter().map(|p| p.0).collect();
    let right: BTreeSet<usize> = pairs.iter().map(|p| p.1).collect();
    let keep_right = pairs.len() > RIGHT_KEPT_FROM * right.len();
    let (f1, f2) = match x2 {
        None => (
            features(
                x1,
                &rows1,
                left.union(&right).copied().collect(),
                keep_right,
            ),
            None,
        ),
        Some(x2) => (
            features(x1, &rows1, left, false),
            Some(features(x2, &rows2, right, keep_right)),
        ),
    };
    let f2r = f2.as_ref().unwrap_or(&f1);
    let n_entries = entries(model, opts);
    check_cancel(cancel)?;
    // A tile started after the cancel flag is set is skipped (`None`), and the call fails.
    let tiles: Option<Vec<_>> = pairs
        .into_par_iter()
        .map(|(bi, bj)| {
            check_cancel(cancel).ok()?;
            let (a, b) = (f1[bi].as_ref(), f2r[bj].as_ref());
            let out = match (a, b) {
                (Some(a), Some(b)) => tile(model, opts, a, b, n_entries, symmetric && bi == bj),
                _ => unreachable!("features of every needed block are computed above"),
            };
            Some(((bi, bj), out))
        })
        .collect();
    check_cancel(cancel)?;
    let tiles = tiles.ok_or(crate::error::Error::Cancelled)?;
    Ok(assemble(
        model, opts, tiles, &rows1, &rows2, symmetric, band,
    ))
}

/// One output tile from two blocks' features.
fn tile<T: Compute>(
    model: &Mlp,
    opts: &EmpiricalOptions,
    a: &BlockFeatures<T>,
    b: &BlockFeatures<T>,
    n_entries: usize,
    diagonal: bool,
) -> Vec<Mat<f64>> {
    let depth = model.depth();
    let k = model.outputs;
    let (ri, rj) = (T::rows_of(&a.acts[0]), T::rows_of(&b.acts[0]));
    let mut scratch = Scratch::<T>::for_tile(ri, rj, diagonal, 0, 0);
    if opts.kind == KernelKind::Nngp {
        let mut ga = Mat::<f64>::zeros(ri, rj);
        T::add_gram_rows(&mut ga, &a.acts[depth], &b.acts[depth], 1.0, &mut scratch);
        return vec![nngp_tile(model, &ga)];
    }
    let mut out = vec![Mat::<f64>::zeros(ri, rj); n_entries];
    for l in 0..=depth {
        let (s_w, s_b) = model.forward_scales(l);
        let mut ga = Mat::<f64>::zeros(ri, rj);
        T::add_gram_rows(&mut ga, &a.acts[l], &b.acts[l], 1.0, &mut scratch);
        if l == depth {
            add_layer_term(&mut out, &ga, None, s_w, s_b, k);
            continue;
        }
        let (da, db) = (&a.deltas[l], &b.deltas[l]);
        if n_entries == 1 {
            let mut g = Mat::<f64>::zeros(ri, rj);
            for o in 0..k {
                T::add_gram_rows(&mut g, &da[o], &db[o], 1.0 / k as f64, &mut scratch);
            }
            add_layer_term(&mut out, &ga, Some(&[g]), s_w, s_b, k);
        } else {
            // One δ Gram at a time, added to its entry at once (k² of them held together
            // would be k² fresh tiles per layer).
            let mut g = Mat::<f64>::zeros(ri, rj);
            for (e, o) in out.iter_mut().enumerate() {
                g.fill(0.0);
                T::add_gram_rows(&mut g, &da[e / k], &db[e % k], 1.0, &mut scratch);
                add_layer_term(
                    core::slice::from_mut(o),
                    &ga,
                    Some(core::slice::from_ref(&g)),
                    s_w,
                    s_b,
                    k,
                );
            }
        }
    }
    out
}
