//! The lecture's two-layer ReLU kernel: the network
//! `f(x) = (1/√m) Σ_j a_j σ(w_jᵀx)` with `w_j ~ N(0, I_d)` and the readout `a_j = ±1` fixed
//! (only `W` trained). Its empirical NTK is
//!
//! ```text
//! k̂(x, x') = xᵀx' · (1/m) Σ_j 1[w_jᵀx > 0]·1[w_jᵀx' > 0]
//! ```
//!
//! (`a_j² = 1`), which tends to the arc-cosine kernel of degree 0 times `xᵀx'`,
//! `k(x, x') = xᵀx'·(π − arccos ρ)/(2π)` with `ρ = xᵀx'/(‖x‖‖x'‖)` — for inputs of any norm,
//! since the activation pattern depends only on direction (Cho & Saul 2009; the lecture's
//! "arccos kernel" slide). The angular factor is the ReLU case of the arc-cosine family's
//! [`derivative_kernel`]; [`lecture_kernel`] is the empirical kernel and [`lecture_limit`]
//! its limit, the one home of this kernel (the notebook crate and
//! [`train::two_layer`](crate::train::two_layer) call it).
//!
//! The sum is a count of shared active neurons. Stored as bits, the Gram of the patterns is
//! AND + popcount (`simd::popcount`): 32 times less memory traffic than the `f32`
//! path, which multiplies 0/1 matrices. Both give the same integers, so the same kernel bit
//! for bit.

use faer::Mat;
use rayon::prelude::*;

use super::tile::{REDUCE_BLOCK, Scratch, add_gram, gemm, row_blocks};
use super::{Kernel, tile_pairs};
use crate::activation::Activation;
use crate::activation::arccos::derivative_kernel;
use crate::data::Points;
use crate::error::{Error, Result};
use crate::init;
use crate::model::Mlp;
pub use crate::simd::popcount::Level;
use crate::simd::popcount::gram_counts_at;

/// Rows per tile of the count matrix.
const TILE: usize = 128;
/// Neurons generated at a time.
const CHUNK: usize = 4096;

/// The activation patterns `1[w_jᵀx > 0]` of `n` points over `m` neurons, as bits
/// (`words = ⌈m/64⌉` per point, neuron `j` at bit `j % 64` of word `j / 64`).
#[derive(Clone, Debug)]
pub struct Patterns {
    /// Points.
    pub n: usize,
    /// Neurons.
    pub m: usize,
    /// Words per point.
    pub words: usize,
    /// `n × words`, row-major.
    pub bits: Vec<u64>,
}

/// The model whose first layer draws the `w_j` (stored `N(0, 1)`, NTK parameterization).
fn model(d: usize, m: usize) -> Mlp {
    Mlp::new(d, &[m], Activation::Relu)
}

/// The patterns of the rows of `x` for `m` neurons drawn from `seed`: `w_jᵀx` by `f32` GEMMs
/// (per block of `REDUCE_BLOCK` neurons), then the signs packed into bits.
pub fn patterns(x: &Points<'_>, m: usize, seed: u64) -> Result<Patterns> {
    if m == 0 {
        return Err(Error::invalid("width", 0, "at least one neuron"));
    }
    let (n, d) = (x.rows(), x.cols());
    let words = m.div_ceil(64);
    let mut bits = vec![0u64; n * words];
    let net = model(d, m);
    let rows = row_blocks(n, TILE);
    let xs: Vec<Mat<f32>> = rows
        .iter()
        .map(|r| x.to_mat::<f32>(r.start, r.end))
        .collect();
    let mut c0 = 0;
    while c0 < m {
        let c1 = (c0 + CHUNK).min(m);
        let (w, _) = init::hidden_columns(&net, seed, 0, c0..c1);
        let wm = Mat::<f32>::from_fn(d, c1 - c0, |i, j| w[j * d + i] as f32);
        let blocks: Vec<Vec<u64>> = xs
            .par_iter()
            .map(|xb| {
                let r = xb.nrows();
                let wpc = (c1 - c0).div_ceil(64);
                let mut out = vec![0u64; r * wpc];
                let mut z = Mat::<f32>::zeros(r, REDUCE_BLOCK);
                let mut s = 0;
                while s < c1 - c0 {
                    let bw = REDUCE_BLOCK.min(c1 - c0 - s);
                    gemm(
                        z.as_mut().subcols_mut(0, bw),
                        xb.as_ref(),
                        wm.as_ref().subcols(s, bw),
                        1.0,
                    );
                    for u in 0..bw {
                        let col = z.col_as_slice(u);
                        let (word, bit) = ((s + u) / 64, (s + u) % 64);
                        for (i, &v) in col.iter().enumerate() {
                            out[i * wpc + word] |= u64::from(v > 0.0) << bit;
                        }
                    }
                    s += bw;
                }
                out
            })
            .collect();
        // CHUNK and REDUCE_BLOCK are multiples of 64, so a chunk starts on a word.
        let (w0, wpc) = (c0 / 64, (c1 - c0).div_ceil(64));
        for (r, block) in rows.iter().zip(blocks) {
            for (ii, i) in r.clone().enumerate() {
                bits[i * words + w0..i * words + w0 + wpc]
                    .copy_from_slice(&block[ii * wpc..(ii + 1) * wpc]);
            }
        }
        c0 = c1;
    }
    Ok(Patterns { n, m, words, bits })
}

/// Which Gram of the patterns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CountPath {
    /// AND + popcount on the bits, at the fastest [`Level`] the CPU runs.
    Bits,
    /// AND + popcount at a given level (tests and benchmarks measure each).
    BitsAt(Level),
    /// `f32` GEMMs on the 0/1 matrices, block partials added in `f64` (exact integers).
    F32,
}

/// `C[i, j] = Σ_j 1[w_jᵀx_i > 0]·1[w_jᵀx'_j > 0]`, `n1 × n2` row-major (`p2 = None`: `p1`
/// with itself, one triangle computed and mirrored). Runs in the caller's thread pool.
pub fn counts(p1: &Patterns, p2: Option<&Patterns>, path: CountPath) -> Vec<u64> {
    let symmetric = p2.is_none();
    let q = p2.unwrap_or(p1);
    let (n1, n2, words) = (p1.n, q.n, p1.words);
    let (r1, r2) = (row_blocks(n1, TILE), row_blocks(n2, TILE));
    let pairs = tile_pairs(r1.len(), r2.len(), symmetric, 0..r1.len());
    let tiles: Vec<((usize, usize), Vec<u64>)> = match path {
        CountPath::Bits | CountPath::BitsAt(_) => pairs
            .into_par_iter()
            .map(|(bi, bj)| {
                let (a, b) = (&r1[bi], &r2[bj]);
                let mut c = vec![0u64; a.len() * b.len()];
                let level = match path {
                    CountPath::BitsAt(level) => level,
                    _ => Level::best(),
                };
                gram_counts_at(
                    level,
                    &p1.bits[a.start * words..a.end * words],
                    &q.bits[b.start * words..b.end * words],
                    words,
                    &mut c,
                    symmetric && bi == bj,
                );
                ((bi, bj), c)
            })
            .collect(),
        CountPath::F32 => f32_counts(p1, p2, &r1, &r2, &pairs),
    };
    let mut out = vec![0u64; n1 * n2];
    for ((bi, bj), c) in tiles {
        let (a, b) = (&r1[bi], &r2[bj]);
        for (ii, i) in a.clone().enumerate() {
            for (jj, j) in b.clone().enumerate() {
                if symmetric && j > i {
                    continue;
                }
                let v = c[ii * b.len() + jj];
                out[i * n2 + j] = v;
                if symmetric {
                    out[j * n2 + i] = v;
                }
            }
        }
    }
    out
}

/// The `f32` path: per chunk of neurons, the 0/1 pattern matrices of every row block
/// (unpacked once), then every tile's Gram by GEMM with `f64` accumulation — the streamed
/// schedule of the general engine applied to `φ'`.
fn f32_counts(
    p1: &Patterns,
    p2: Option<&Patterns>,
    r1: &[core::ops::Range<usize>],
    r2: &[core::ops::Range<usize>],
    pairs: &[(usize, usize)],
) -> Vec<((usize, usize), Vec<u64>)> {
    let symmetric = p2.is_none();
    let q = p2.unwrap_or(p1);
    let unpack = |pat: &Patterns, rows: &core::ops::Range<usize>, lo: usize, hi: usize| {
        let mut out = Mat::<f32>::zeros(rows.len(), hi - lo);
        for u in 0..hi - lo {
            let (word, bit) = ((lo + u) / 64, (lo + u) % 64);
            for (i, v) in out.col_as_slice_mut(u).iter_mut().enumerate() {
                *v = ((pat.bits[(rows.start + i) * pat.words + word] >> bit) & 1) as f32;
            }
        }
        out
    };
    let mut accs: Vec<Mat<f64>> = pairs
        .iter()
        .map(|&(bi, bj)| Mat::zeros(r1[bi].len(), r2[bj].len()))
        .collect();
    let mut lo = 0;
    while lo < p1.m {
        let hi = (lo + CHUNK).min(p1.m);
        let u1: Vec<Mat<f32>> = r1.par_iter().map(|r| unpack(p1, r, lo, hi)).collect();
        let u2: Option<Vec<Mat<f32>>> =
            (!symmetric).then(|| r2.par_iter().map(|r| unpack(q, r, lo, hi)).collect());
        let u2r = u2.as_ref().unwrap_or(&u1);
        pairs
            .par_iter()
            .zip(accs.par_iter_mut())
            .for_each(|(&(bi, bj), acc)| {
                let mut scratch =
                    Scratch::<f32>::for_tile(r1[bi].len(), r2[bj].len(), symmetric, bi, bj);
                add_gram(acc, u1[bi].as_ref(), u2r[bj].as_ref(), 1.0, &mut scratch);
            });
        lo = hi;
    }
    pairs
        .iter()
        .zip(accs)
        .map(|(&pair, acc)| {
            let (ri, rj) = (acc.nrows(), acc.ncols());
            let c = (0..ri * rj).map(|p| acc[(p / rj, p % rj)] as u64).collect();
            (pair, c)
        })
        .collect()
}

/// The empirical kernel `xᵀx'·C/m` from the counts.
pub fn kernel_from_counts(
    x1: &Points<'_>,
    x2: Option<&Points<'_>>,
    counts: &[u64],
    m: usize,
) -> Kernel {
    pairwise(x1, x2, |p, a, b| {
        let dot: f64 = a.iter().zip(b).map(|(u, v)| u * v).sum();
        dot * counts[p] as f64 / m as f64
    })
}

/// The `n1 × n2` traced kernel with entry `p = i·n2 + j` given by `f(p, x_i, x'_j)`.
fn pairwise(
    x1: &Points<'_>,
    x2: Option<&Points<'_>>,
    f: impl Fn(usize, &[f64], &[f64]) -> f64,
) -> Kernel {
    let x2r = x2.unwrap_or(x1);
    let (n1, n2, d) = (x1.rows(), x2r.rows(), x1.cols());
    let (v1, v2) = (x1.to_f64_vec(), x2r.to_f64_vec());
    let data = (0..n1 * n2)
        .map(|p| {
            let (i, j) = (p / n2, p % n2);
            f(p, &v1[i * d..(i + 1) * d], &v2[j * d..(j + 1) * d])
        })
        .collect();
    Kernel { n1, n2, k: 1, data }
}

/// The empirical kernel `k̂(x, x') = xᵀx'·(1/m) Σ_j 1[w_jᵀx > 0]·1[w_jᵀx' > 0]` of width
/// `m` at `seed`, `n1 × n2` (`x2 = None`: `x1` with itself), its counts by `path`.
pub fn lecture_kernel(
    x1: &Points<'_>,
    x2: Option<&Points<'_>>,
    m: usize,
    seed: u64,
    path: CountPath,
) -> Result<Kernel> {
    if let Some(x2) = x2
        && x2.cols() != x1.cols()
    {
        return Err(Error::DimensionMismatch {
            what: "feature dimension of x2".into(),
            expected: x1.cols(),
            got: x2.cols(),
        });
    }
    let p1 = patterns(x1, m, seed)?;
    let p2 = x2.map(|x| patterns(x, m, seed)).transpose()?;
    let c = counts(&p1, p2.as_ref(), path);
    Ok(kernel_from_counts(x1, x2, &c, m))
}

/// One entry of the limit, `xᵀx'·(π − θ)/(2π)` for the rows `x`, `x'` (0 when either is
/// 0). The angle is `θ = 2·atan2(‖x̂ − x̂'‖, ‖x̂ + x̂'‖)` on the unit vectors (Kahan),
/// accurate to rounding even for nearly parallel points, where `arccos` of a rounded
/// cosine is not.
pub(crate) fn limit_entry(x: &[f64], y: &[f64]) -> f64 {
    let norm = |v: &[f64]| v.iter().map(|a| a * a).sum::<f64>().sqrt();
    let (nx, ny) = (norm(x), norm(y));
    if nx == 0.0 || ny == 0.0 {
        return 0.0;
    }
    let dot: f64 = x.iter().zip(y).map(|(a, b)| a * b).sum();
    let (mut minus, mut plus) = (0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (u, v) = (a / nx, b / ny);
        minus += (u - v) * (u - v);
        plus += (u + v) * (u + v);
    }
    let theta = 2.0 * minus.sqrt().atan2(plus.sqrt());
    dot * derivative_kernel(0.0, 1.0, theta)
}

/// The infinite-width limit `xᵀx'·(π − arccos ρ)/(2π)` of [`lecture_kernel`], any norms
/// (0 for a zero row), `n1 × n2` (`x2 = None`: `x1` with itself).
pub fn lecture_limit(x1: &Points<'_>, x2: Option<&Points<'_>>) -> Kernel {
    pairwise(x1, x2, |_, a, b| limit_entry(a, b))
}
