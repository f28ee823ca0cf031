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

/// A reusable buffer for the partial Gram of one block.
pub struct Scratch<T: Real>(Mat<T>);

impl<T: Real> Scratch<T> {
    /// A buffer for tiles of up to `rows × cols`.
    pub fn new(rows: usize, cols: usize) -> Self {
        Scratch(Mat::zeros(rows, cols))
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
    let mut s = scratch.0.as_mut().submatrix_mut(0, 0, ri, rj);
    let mut start = 0;
    while start < c {
        let w = REDUCE_BLOCK.min(c - start);
        matmul(
            s.rb_mut(),
            Accum::Replace,
            a.subcols(start, w),
            b.subcols(start, w).transpose(),
            T::ONE,
            Par::Seq,
        );
        for j in 0..rj {
            let src = s.rb().col(j).try_as_col_major().map(|c| c.as_slice());
            let Some(src) = src else {
                unreachable!("scratch is column-major")
            };
            crate::simd::promote_add(acc.col_as_slice_mut(j), src, alpha);
        }
        start += w;
    }
}
