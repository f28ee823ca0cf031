//! Operation counts of the empirical kernel, for throughput reports: the multiply-adds the
//! factorisation needs (forward pass, backward pass, the per-layer Grams), counted as two
//! floating-point operations each. A symmetric kernel counts one triangle of every Gram.

use super::KernelKind;
use crate::model::Mlp;

/// Floating-point operations of the empirical kernel of `model` on `n1 × n2` points
/// (`x2 = x1` when `symmetric`), traced or `full`.
pub fn empirical_flops(
    model: &Mlp,
    n1: usize,
    n2: usize,
    symmetric: bool,
    kind: KernelKind,
    full: bool,
) -> f64 {
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let points = if symmetric { n1f } else { n1f + n2f };
    let pairs = if symmetric {
        n1f * (n1f + 1.0) / 2.0
    } else {
        n1f * n2f
    };
    let depth = model.depth();
    let k = model.outputs as f64;
    let mut flops = 0.0;
    // Forward through the hidden layers.
    for l in 0..depth {
        let (i, o) = model.layer_shape(l);
        flops += 2.0 * points * (i * o) as f64;
    }
    if kind == KernelKind::Nngp {
        return flops + 2.0 * pairs * model.width(depth) as f64;
    }
    // Backward: k outputs through every hidden layer but the first.
    for l in 1..depth {
        let (i, o) = model.layer_shape(l);
        flops += 2.0 * points * k * (i * o) as f64;
    }
    // Grams: the inputs of every layer, and the δ of every hidden layer (k of them traced,
    // k² pairs full).
    let delta_pairs = if full { k * k } else { k };
    for l in 0..=depth {
        flops += 2.0 * pairs * model.width(l) as f64;
        if l < depth {
            flops += 2.0 * pairs * delta_pairs * model.width(l + 1) as f64;
        }
    }
    flops
}
