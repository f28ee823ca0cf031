//! Gram tiles accumulated block by block over the neuron dimension, in a fixed order.
//!
//! Every inner product of the engine is a sum over neurons. It is cut into blocks of
//! [`REDUCE_BLOCK`] neurons at fixed offsets; each block's partial Gram is one GEMM in the
//! compute precision `T`, promoted to `f64` and added to the accumulator in block order.
//! The result therefore depends only on the problem (never on the thread count or on the
//! chunk size used to schedule the work), and `f32` runs keep `f64` accuracy across a
//! million neurons (DESIGN.md §2, "Precision").

use core::ops::Range;

use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::reborrow::{Reborrow, ReborrowMut};
use faer::{Accum, Mat, MatMut, MatRef, Par};

use crate::scalar::Real;

/// Neurons per partial sum.
pub const REDUCE_BLOCK: usize = 256;

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

/// A reusable buffer for the partial Gram of one block, and whether the tile is on the
/// diagonal of a symmetric kernel (then only its lower triangle is computed: a triangular
/// GEMM, half the work).
pub struct Scratch<T: Real> {
    buf: Mat<T>,
    lower: bool,
}

impl<T: Real> Scratch<T> {
    /// A buffer for tiles of up to `rows × cols`.
    pub fn new(rows: usize, cols: usize) -> Self {
        Scratch {
            buf: Mat::zeros(rows, cols),
            lower: false,
        }
    }

    /// A buffer for the tile `(p, q)`: lower-triangular when `symmetric` and `p == q`.
    pub fn for_tile(rows: usize, cols: usize, symmetric: bool, p: usize, q: usize) -> Self {
        Scratch {
            buf: Mat::zeros(rows, cols),
            lower: symmetric && p == q && rows == cols,
        }
    }
}

/// `acc += alpha · Σ_blocks A[:, blk]·B[:, blk]ᵀ` over column blocks of [`REDUCE_BLOCK`]
/// starting at column 0 of `a` and `b` (which the caller aligns with a multiple of the block
/// in absolute neuron index).
pub fn add_gram<T: Real>(
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
    let mut s = scratch.buf.as_mut().submatrix_mut(0, 0, ri, rj);
    let mut start = 0;
    while start < c {
        let w = REDUCE_BLOCK.min(c - start);
        let (lhs, rhs) = (a.subcols(start, w), b.subcols(start, w).transpose());
        if lower {
            triangular::matmul(
                s.rb_mut(),
                BlockStructure::TriangularLower,
                Accum::Replace,
                lhs,
                BlockStructure::Rectangular,
                rhs,
                BlockStructure::Rectangular,
                T::ONE,
                Par::Seq,
            );
        } else {
            matmul(s.rb_mut(), Accum::Replace, lhs, rhs, T::ONE, Par::Seq);
        }
        for j in 0..rj {
            let src = s.rb().col(j).try_as_col_major().map(|c| c.as_slice());
            let Some(src) = src else {
                unreachable!("scratch is column-major")
            };
            // On a diagonal tile only rows i ≥ j hold values.
            let from = if lower { j } else { 0 };
            crate::simd::promote_add(&mut acc.col_as_slice_mut(j)[from..], &src[from..], alpha);
        }
        start += w;
    }
}
