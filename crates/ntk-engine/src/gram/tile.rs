//! Gram tiles accumulated block by block over the neuron dimension, in a fixed order.
//!
//! Every inner product of the engine is a sum over neurons. It is cut into blocks of
//! [`REDUCE_BLOCK`] neurons at fixed offsets; each block's partial Gram is one GEMM in the
//! compute precision `T`, promoted to `f64` and added to the accumulator in block order.
//! The result therefore depends only on the problem (never on the thread count or on the
//! chunk size used to schedule the work), and `f32` runs keep `f64` accuracy across a
//! million neurons (docs/DESIGN.md §2, "Precision").
//!
//! In `f32` every product runs on the packed kernel of [`crate::simd::gemm`], where each
//! entry of a block is one sequential chain of fused multiply-adds: its bits do not even
//! depend on the tile size or the instruction set. Features are packed once per row block
//! ([`Compute::pack_rows`]) and weights once per layer ([`Compute::pack`]).

use core::ops::Range;

use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::reborrow::{Reborrow, ReborrowMut};
use faer::{Accum, Mat, MatMut, MatRef, Par};

use rayon::prelude::*;

use crate::scalar::Real;
use crate::simd::gemm::{
    Epilogue, GramWork, PackedRhs, PackedRows, gemm_rows, gemm_rows_t, gram_block_f64_in,
    gram_rows_f64,
};

/// Neurons per partial sum.
pub const REDUCE_BLOCK: usize = 256;

/// Buffers that a loop over chunks of neurons hands from one chunk to the next, so that it
/// neither faults in fresh pages nor zeroes memory for every chunk: prepared features no
/// longer needed, and the matrices a chunk's products and activations are written into
/// (every entry of which is written again before it is read).
pub struct Spare<T: Compute> {
    /// Prepared features of an earlier chunk ([`Compute::rows_by_block`] refills them).
    pub rows: std::sync::Mutex<Vec<T::Rows>>,
    /// Feature blocks of an earlier chunk, already prepared.
    pub mats: std::sync::Mutex<Vec<Mat<T>>>,
}

impl<T: Compute> Default for Spare<T> {
    fn default() -> Self {
        Spare {
            rows: std::sync::Mutex::new(Vec::new()),
            mats: std::sync::Mutex::new(Vec::new()),
        }
    }
}

impl<T: Compute> Spare<T> {
    /// An `r × c` matrix to be overwritten: a spare one of that shape, else zeros.
    pub fn mat(&self, r: usize, c: usize) -> Mat<T> {
        let mut pool = self.mats.lock().unwrap_or_else(|e| e.into_inner());
        match pool.iter().rposition(|m| (m.nrows(), m.ncols()) == (r, c)) {
            Some(i) => pool.swap_remove(i),
            None => Mat::zeros(r, c),
        }
    }
}

/// The row ranges of `n` points cut into tiles of `tile` rows.
pub fn row_blocks(n: usize, tile: usize) -> Vec<Range<usize>> {
    (0..n.div_ceil(tile))
        .map(|b| b * tile..((b + 1) * tile).min(n))
        .collect()
}

/// `C = A·B` for a row block, sequential (the caller parallelises over blocks).
pub fn gemm<T: Real>(dst: MatMut<'_, T>, a: MatRef<'_, T>, b: MatRef<'_, T>, alpha: T) {
    matmul(dst, Accum::Replace, a, b, alpha, Par::Seq);
}

/// The products of the engine in one compute precision. `f32` runs on the packed kernel of
/// [`crate::simd::gemm`] (every entry one fixed chain of fused multiply-adds, whatever the
/// blocking); `f64` on faer's sequential GEMM (its reduction order is fixed by the shapes,
/// which the tiles fix).
pub trait Compute: Real {
    /// A right operand prepared once for many products (a layer's weights).
    type Packed: Send + Sync;
    /// Prepares `B` (`k × n`) for `A·B`.
    fn pack(b: MatRef<'_, Self>) -> Self::Packed;
    /// A hidden layer's weights `W` (`fan_in × fan_out`) prepared for `h·W`, from its
    /// columns drawn block by block: `draw(blk, put)` calls `put(j, column)` for the neurons
    /// of block `blk` (of [`LAYER_BLOCK`](crate::simd::gemm::LAYER_BLOCK)) and returns the
    /// block's result; blocks run in parallel, results in order. The same as
    /// [`Compute::pack`] of the assembled `W`.
    fn pack_layer<R: Send>(
        fan_in: usize,
        fan_out: usize,
        draw: impl Fn(usize, &mut dyn FnMut(usize, &[f64])) -> R + Sync,
    ) -> (Self::Packed, Vec<R>);
    /// What the backward product `δ·Wᵀ` needs besides `W` prepared by [`Compute::pack`]:
    /// `Wᵀ` prepared where the precision keeps its own copy (`f64`), `None` where
    /// [`Compute::gemm_rows_t`] reads the forward preparation across (`f32`: half the
    /// weights' memory).
    fn backward_pack(fwd: &Self::Packed) -> Option<Self::Packed>;
    /// Features of a row block (points × neurons) prepared for [`Compute::add_gram_rows`].
    type Rows: Send + Sync;
    /// Prepares a row block's features; `right`: also as a Gram's right operand, which
    /// the Grams otherwise prepare from the rest each time they take these rows as one
    /// (`f32`: [`crate::simd::gemm::PackedRows::left`]; the same bits either way).
    fn pack_rows(x: MatRef<'_, Self>, right: bool) -> Self::Rows;
    /// Points in prepared features.
    fn rows_of(x: &Self::Rows) -> usize;
    /// `dst = alpha·A·B` with `A` given as prepared features ([`Compute::pack_rows`]) and
    /// `B` prepared by [`Compute::pack`]; sequential. A layer's activations feed the next
    /// layer's product from the preparation made for the Grams, not from a second packing:
    /// the bits of packing `A` for the product.
    fn gemm_rows(dst: MatMut<'_, Self>, a: &Self::Rows, b: &Self::Packed, alpha: Self);
    /// `dst = alpha·A·Bᵀ` with `A` given as prepared features and `B` prepared by
    /// [`Compute::pack`] (for products `X·B`): the bits of [`Compute::gemm_rows`] with `Bᵀ`
    /// prepared.
    fn gemm_rows_t(dst: MatMut<'_, Self>, a: &Self::Rows, b: &Self::Packed, alpha: Self);
    /// `count` prepared `rows × cols` features built per block of [`REDUCE_BLOCK`] columns
    /// (`f(q0, w)` gives the `count` blocks of columns `q0..q0 + w`), blocks in parallel;
    /// buffers come from `spare` where it has them, and the blocks go back to it once
    /// prepared.
    fn rows_by_block(
        rows: usize,
        cols: usize,
        count: usize,
        f: impl Fn(usize, usize) -> Vec<Mat<Self>> + Sync,
        spare: &Spare<Self>,
    ) -> Vec<Self::Rows>;
    /// [`add_gram`] on prepared features: the same bits.
    fn add_gram_rows(
        acc: &mut Mat<f64>,
        a: &Self::Rows,
        b: &Self::Rows,
        alpha: f64,
        scratch: &mut Scratch<Self>,
    );
    /// `acc += alpha·A·Bᵀ` over one block of at most [`REDUCE_BLOCK`] neurons, promoted to
    /// `f64` (only `j ≤ i` when `lower`).
    fn gram_block(
        acc: MatMut<'_, f64>,
        a: MatRef<'_, Self>,
        b: MatRef<'_, Self>,
        alpha: f64,
        lower: bool,
        scratch: &mut Scratch<Self>,
    );
}

impl Compute for f32 {
    type Packed = PackedRhs;
    fn backward_pack(_: &PackedRhs) -> Option<PackedRhs> {
        None
    }
    type Rows = PackedRows;
    fn pack_rows(x: MatRef<'_, f32>, right: bool) -> PackedRows {
        if right {
            PackedRows::new(x, REDUCE_BLOCK)
        } else {
            PackedRows::left(x, REDUCE_BLOCK)
        }
    }
    fn rows_of(x: &PackedRows) -> usize {
        x.rows()
    }
    fn gemm_rows(dst: MatMut<'_, f32>, a: &PackedRows, b: &PackedRhs, alpha: f32) {
        gemm_rows(a, b, Epilogue::Store(dst, alpha));
    }
    fn gemm_rows_t(dst: MatMut<'_, f32>, a: &PackedRows, b: &PackedRhs, alpha: f32) {
        gemm_rows_t(a, b, dst, alpha);
    }
    fn rows_by_block(
        rows: usize,
        cols: usize,
        count: usize,
        f: impl Fn(usize, usize) -> Vec<Mat<f32>> + Sync,
        spare: &Spare<f32>,
    ) -> Vec<PackedRows> {
        PackedRows::from_blocks_in(
            rows,
            cols,
            REDUCE_BLOCK,
            count,
            f,
            (&spare.rows, &spare.mats),
        )
    }
    fn add_gram_rows(
        acc: &mut Mat<f64>,
        a: &PackedRows,
        b: &PackedRows,
        alpha: f64,
        scratch: &mut Scratch<f32>,
    ) {
        let lower = scratch.lower && a.rows() == b.rows();
        gram_rows_f64(acc.as_mut(), a, b, alpha, lower);
    }
    fn pack(b: MatRef<'_, f32>) -> PackedRhs {
        PackedRhs::new(b.transpose())
    }
    fn pack_layer<R: Send>(
        fan_in: usize,
        fan_out: usize,
        draw: impl Fn(usize, &mut dyn FnMut(usize, &[f64])) -> R + Sync,
    ) -> (PackedRhs, Vec<R>) {
        // Straight into the packed layout: no `W`, no packing pass.
        PackedRhs::layer_from_columns(fan_in, fan_out, draw)
    }
    fn gram_block(
        acc: MatMut<'_, f64>,
        a: MatRef<'_, f32>,
        b: MatRef<'_, f32>,
        alpha: f64,
        lower: bool,
        scratch: &mut Scratch<f32>,
    ) {
        gram_block_f64_in(acc, a, b, alpha, lower, &mut scratch.work);
    }
}

impl Compute for f64 {
    type Packed = Mat<f64>;
    fn backward_pack(fwd: &Mat<f64>) -> Option<Mat<f64>> {
        Some(Self::pack(fwd.transpose()))
    }
    type Rows = Mat<f64>;
    fn pack_rows(x: MatRef<'_, f64>, _right: bool) -> Mat<f64> {
        x.to_owned()
    }
    fn rows_of(x: &Mat<f64>) -> usize {
        x.nrows()
    }
    fn gemm_rows(dst: MatMut<'_, f64>, a: &Mat<f64>, b: &Mat<f64>, alpha: f64) {
        gemm(dst, a.as_ref(), b.as_ref(), alpha);
    }
    fn gemm_rows_t(dst: MatMut<'_, f64>, a: &Mat<f64>, b: &Mat<f64>, alpha: f64) {
        gemm(dst, a.as_ref(), b.transpose(), alpha);
    }
    fn rows_by_block(
        rows: usize,
        cols: usize,
        count: usize,
        f: impl Fn(usize, usize) -> Vec<Mat<f64>> + Sync,
        _spare: &Spare<f64>,
    ) -> Vec<Mat<f64>> {
        let starts: Vec<usize> = (0..cols).step_by(REDUCE_BLOCK).collect();
        let blocks: Vec<Vec<Mat<f64>>> = starts
            .par_iter()
            .map(|&q0| f(q0, REDUCE_BLOCK.min(cols - q0)))
            .collect();
        (0..count)
            .map(|c| {
                let mut m = Mat::<f64>::zeros(rows, cols);
                for (&q0, b) in starts.iter().zip(&blocks) {
                    m.as_mut()
                        .subcols_mut(q0, b[c].ncols())
                        .copy_from(b[c].as_ref());
                }
                m
            })
            .collect()
    }
    fn add_gram_rows(
        acc: &mut Mat<f64>,
        a: &Mat<f64>,
        b: &Mat<f64>,
        alpha: f64,
        scratch: &mut Scratch<f64>,
    ) {
        add_gram(acc, a.as_ref(), b.as_ref(), alpha, scratch);
    }
    fn pack(b: MatRef<'_, f64>) -> Mat<f64> {
        b.to_owned()
    }
    fn pack_layer<R: Send>(
        fan_in: usize,
        fan_out: usize,
        draw: impl Fn(usize, &mut dyn FnMut(usize, &[f64])) -> R + Sync,
    ) -> (Mat<f64>, Vec<R>) {
        let mut w = Mat::<f64>::zeros(fan_in, fan_out);
        let results = w
            .as_mut()
            .par_col_chunks_mut(crate::simd::gemm::LAYER_BLOCK)
            .enumerate()
            .map(|(blk, mut cols)| {
                draw(blk, &mut |j, c| {
                    let Some(dst) = cols.rb_mut().col_mut(j).try_as_col_major_mut() else {
                        unreachable!("weights are column-major")
                    };
                    dst.as_slice_mut().copy_from_slice(c);
                })
            })
            .collect();
        (w, results)
    }
    fn gram_block(
        mut acc: MatMut<'_, f64>,
        a: MatRef<'_, f64>,
        b: MatRef<'_, f64>,
        alpha: f64,
        lower: bool,
        scratch: &mut Scratch<f64>,
    ) {
        let (ri, rj) = (a.nrows(), b.nrows());
        let mut s = scratch.buf.as_mut().submatrix_mut(0, 0, ri, rj);
        let (lhs, rhs) = (a, b.transpose());
        if lower {
            triangular::matmul(
                s.rb_mut(),
                BlockStructure::TriangularLower,
                Accum::Replace,
                lhs,
                BlockStructure::Rectangular,
                rhs,
                BlockStructure::Rectangular,
                1.0,
                Par::Seq,
            );
        } else {
            matmul(s.rb_mut(), Accum::Replace, lhs, rhs, 1.0, Par::Seq);
        }
        for j in 0..rj {
            let src = s.rb().col(j).try_as_col_major().map(|c| c.as_slice());
            let Some(src) = src else {
                unreachable!("scratch is column-major")
            };
            let Some(dst) = acc.rb_mut().col_mut(j).try_as_col_major_mut() else {
                unreachable!("accumulators are column-major")
            };
            // On a diagonal tile only rows i ≥ j hold values.
            let from = if lower { j } else { 0 };
            crate::simd::promote_add(&mut dst.as_slice_mut()[from..], &src[from..], alpha);
        }
    }
}

/// A reusable buffer for the partial Gram of one block, and whether the tile is on the
/// diagonal of a symmetric kernel (then only its lower triangle is computed: a triangular
/// GEMM, half the work).
pub struct Scratch<T: Real> {
    buf: Mat<T>,
    work: GramWork,
    lower: bool,
}

impl<T: Real> Scratch<T> {
    /// A buffer for tiles of up to `rows × cols`.
    pub fn new(rows: usize, cols: usize) -> Self {
        Scratch {
            buf: Mat::zeros(rows, cols),
            work: GramWork::default(),
            lower: false,
        }
    }

    /// A buffer for the tile `(p, q)`: lower-triangular when `symmetric` and `p == q`.
    pub fn for_tile(rows: usize, cols: usize, symmetric: bool, p: usize, q: usize) -> Self {
        Scratch {
            buf: if T::NAME == "f64" {
                Mat::zeros(rows, cols)
            } else {
                Mat::zeros(0, 0) // the f32 kernel packs instead
            },
            work: GramWork::default(),
            lower: symmetric && p == q && rows == cols,
        }
    }
}

/// `acc += alpha · Σ_blocks A[:, blk]·B[:, blk]ᵀ` over column blocks of [`REDUCE_BLOCK`]
/// starting at column 0 of `a` and `b` (which the caller aligns with a multiple of the block
/// in absolute neuron index).
pub fn add_gram<T: Compute>(
    acc: &mut Mat<f64>,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    alpha: f64,
    scratch: &mut Scratch<T>,
) {
    let (ri, rj, c) = (a.nrows(), b.nrows(), a.ncols());
    debug_assert_eq!(b.ncols(), c);
    debug_assert_eq!((acc.nrows(), acc.ncols()), (ri, rj));
    let lower = scratch.lower && ri == rj;
    let mut start = 0;
    while start < c {
        let w = REDUCE_BLOCK.min(c - start);
        T::gram_block(
            acc.as_mut(),
            a.subcols(start, w),
            b.subcols(start, w),
            alpha,
            lower,
            scratch,
        );
        start += w;
    }
}
