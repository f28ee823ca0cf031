//! Seeded initialisation where every weight is a pure function of `(seed, layer, position)`.
//!
//! The neurons of a layer are cut into blocks of [`STREAM_BLOCK`]; each block draws from its
//! own `Xoshiro256++` stream, keyed by a SplitMix64 hash of `(seed, layer, tensor, block)`.
//! So any block can be regenerated on its own, and the weights (hence the kernels) are the
//! same bits whatever the thread count or the chunk size used to schedule the work.
//!
//! * Hidden layer `l < L`: block `b` holds the neurons `b·B..(b+1)·B` of `z_l` (columns of
//!   `W_l`); its stream yields, neuron after neuron, the `fan_in` entries of that column.
//!   A second stream per block yields the block's biases.
//! * Readout `l = L`: block `b` holds the rows `b·B..(b+1)·B` of `W_L` (one per last-hidden
//!   neuron), each row's `k` entries in order, so a chunk of hidden neurons regenerates its
//!   readout rows without the rest. The readout bias has one stream.
//!
//! Draws are standard normals (`rand_distr`'s ziggurat), scaled by
//! [`Mlp::init_scales`](crate::model::Mlp::init_scales) for the standard parameterization.

use core::ops::Range;

use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::SeedableRng;

use crate::model::Mlp;

/// Neurons per random stream.
pub const STREAM_BLOCK: usize = 256;

const TAG_W: u64 = 0x5745_4947_4854; // "WEIGHT"
const TAG_B: u64 = 0x4249_4153; // "BIAS"

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The stream of one block: a pure function of its key.
fn stream(seed: u64, layer: usize, tag: u64, block: usize) -> Xoshiro256PlusPlus {
    let mut h = splitmix64(seed);
    h = splitmix64(h ^ layer as u64);
    h = splitmix64(h ^ tag);
    h = splitmix64(h ^ block as u64);
    Xoshiro256PlusPlus::seed_from_u64(h)
}

fn normals(rng: &mut Xoshiro256PlusPlus, out: &mut [f64], scale: f64) {
    for v in out {
        let z: f64 = StandardNormal.sample(rng);
        *v = scale * z;
    }
}

/// Columns `cols` of hidden layer `l`'s weights and biases: `W` column-major
/// (`fan_in × cols.len()`, column `j` = neuron `cols.start + j`), and the biases.
///
/// # Panics
/// If `l` is the readout or `cols` runs past the layer's width.
pub fn hidden_columns(
    model: &Mlp,
    seed: u64,
    l: usize,
    cols: Range<usize>,
) -> (Vec<f64>, Vec<f64>) {
    let (fan_in, fan_out) = model.layer_shape(l);
    assert!(
        l < model.depth() && cols.end <= fan_out,
        "hidden_columns out of range"
    );
    let (sw, sb) = model.init_scales(l);
    let c = cols.len();
    let mut w = vec![0.0; fan_in * c];
    let mut b = vec![0.0; c];
    let mut block_w = vec![0.0; fan_in * STREAM_BLOCK];
    let mut block_b = vec![0.0; STREAM_BLOCK];
    let (first, last) = (cols.start / STREAM_BLOCK, cols.end.div_ceil(STREAM_BLOCK));
    for blk in first..last {
        let lo = blk * STREAM_BLOCK;
        let hi = (lo + STREAM_BLOCK).min(fan_out);
        let (n, take) = (hi - lo, lo.max(cols.start)..hi.min(cols.end));
        normals(
            &mut stream(seed, l, TAG_W, blk),
            &mut block_w[..n * fan_in],
            sw,
        );
        normals(&mut stream(seed, l, TAG_B, blk), &mut block_b[..n], sb);
        for j in take {
            let src = (j - lo) * fan_in;
            let dst = (j - cols.start) * fan_in;
            w[dst..dst + fan_in].copy_from_slice(&block_w[src..src + fan_in]);
            b[j - cols.start] = block_b[j - lo];
        }
    }
    (w, b)
}

/// Stream block `blk` of hidden layer `l`, neuron after neuron: `col(j, w)` receives the
/// `fan_in` weights of neuron `blk·STREAM_BLOCK + j` (the values of [`hidden_columns`],
/// without its whole-block buffer); returns the block's biases.
///
/// # Panics
/// If `l` is the readout or the block lies past the layer's width.
pub fn hidden_block(
    model: &Mlp,
    seed: u64,
    l: usize,
    blk: usize,
    mut col: impl FnMut(usize, &[f64]),
) -> Vec<f64> {
    let (fan_in, fan_out) = model.layer_shape(l);
    let lo = blk * STREAM_BLOCK;
    assert!(
        l < model.depth() && lo < fan_out,
        "hidden_block out of range"
    );
    let hi = (lo + STREAM_BLOCK).min(fan_out);
    let (sw, sb) = model.init_scales(l);
    let mut rng = stream(seed, l, TAG_W, blk);
    let mut buf = vec![0.0; fan_in];
    for j in 0..hi - lo {
        normals(&mut rng, &mut buf, sw);
        col(j, &buf);
    }
    let mut b = vec![0.0; hi - lo];
    normals(&mut stream(seed, l, TAG_B, blk), &mut b, sb);
    b
}

/// Rows `rows` of the readout weights `W_L` (row-major, `rows.len() × k`).
///
/// # Panics
/// If `rows` runs past the last hidden width.
pub fn readout_rows(model: &Mlp, seed: u64, rows: Range<usize>) -> Vec<f64> {
    let l = model.depth();
    let (fan_in, k) = model.layer_shape(l);
    assert!(rows.end <= fan_in, "readout_rows out of range");
    let (sw, _) = model.init_scales(l);
    let mut w = vec![0.0; rows.len() * k];
    let mut block = vec![0.0; STREAM_BLOCK * k];
    let (first, last) = (rows.start / STREAM_BLOCK, rows.end.div_ceil(STREAM_BLOCK));
    for blk in first..last {
        let lo = blk * STREAM_BLOCK;
        let hi = (lo + STREAM_BLOCK).min(fan_in);
        normals(
            &mut stream(seed, l, TAG_W, blk),
            &mut block[..(hi - lo) * k],
            sw,
        );
        for i in lo.max(rows.start)..hi.min(rows.end) {
            let dst = (i - rows.start) * k;
            w[dst..dst + k].copy_from_slice(&block[(i - lo) * k..(i - lo + 1) * k]);
        }
    }
    w
}

/// The readout bias (`k` values).
pub fn readout_bias(model: &Mlp, seed: u64) -> Vec<f64> {
    let l = model.depth();
    let (_, sb) = model.init_scales(l);
    let mut b = vec![0.0; model.outputs];
    normals(&mut stream(seed, l, TAG_B, 0), &mut b, sb);
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::Activation;

    #[test]
    fn any_chunk_regenerates_the_same_weights() {
        let model = Mlp::new(5, &[700], Activation::Relu).with_outputs(3);
        let (w_all, b_all) = hidden_columns(&model, 7, 0, 0..700);
        for range in [0..256, 100..300, 256..700, 699..700, 13..14] {
            let (w, b) = hidden_columns(&model, 7, 0, range.clone());
            assert_eq!(w, w_all[range.start * 5..range.end * 5]);
            assert_eq!(b, b_all[range.clone()]);
        }
        let mut w = Vec::new();
        let b = hidden_block(&model, 7, 0, 2, |j, c| {
            assert_eq!(j, w.len() / 5);
            w.extend_from_slice(c)
        });
        assert_eq!(w, w_all[512 * 5..700 * 5]);
        assert_eq!(b, b_all[512..700]);
        let r_all = readout_rows(&model, 7, 0..700);
        let r = readout_rows(&model, 7, 300..520);
        assert_eq!(r, r_all[300 * 3..520 * 3]);
    }

    #[test]
    fn seeds_and_layers_give_different_streams() {
        let model = Mlp::new(4, &[8, 8], Activation::Relu);
        let (a, _) = hidden_columns(&model, 1, 0, 0..8);
        let (b, _) = hidden_columns(&model, 2, 0, 0..8);
        let (c, _) = hidden_columns(&model, 1, 1, 0..4);
        assert_ne!(a, b);
        assert_ne!(a[..32], c[..32]);
    }

    /// The draws are standard normal: mean within 5 standard errors of 0 and variance of 1.
    #[test]
    fn draws_are_standard_normal() {
        let model = Mlp::new(100, &[1000], Activation::Relu);
        let (w, _) = hidden_columns(&model, 3, 0, 0..1000);
        let n = w.len() as f64;
        let mean = w.iter().sum::<f64>() / n;
        let var = w.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        assert!(mean.abs() < 5.0 / n.sqrt(), "mean {mean}");
        assert!((var - 1.0).abs() < 5.0 * (2.0 / n).sqrt(), "var {var}");
    }
}
