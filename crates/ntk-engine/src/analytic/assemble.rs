//! Blocked, multithreaded assembly of the analytic Gram matrix.
//!
//! The output is cut into row bands of `tile` rows, and each band into `tile × tile` tiles.
//! Bands are the parallel unit (rayon, each band a disjoint slice of the output, written in
//! place); a band walks its tiles in order, so the `tile` rows of `x2` stay in cache while
//! the band's rows run over them. Each entry is a pure function of its two inputs and their
//! per-point variances ([`super::state::Recursion::pair`]), so the bits never depend on the
//! thread count (nor on `tile`). For `x1 × x1` only the tiles on and below the diagonal are
//! computed and the lower triangle is mirrored, so the result is exactly symmetric.
//!
//! Memory: the output, the inputs as `f64`, and `L` variances per point.

use rayon::prelude::*;

use super::state::Recursion;
use crate::gram::Kernel;

/// Block edge of the (sequential) mirror of the lower triangle: 64 × 64 `f64` blocks keep
/// both the source and the destination in L1/L2.
const MIRROR_BLOCK: usize = 64;

/// One side of the kernel: `n` points of dimension `d`, row-major, and their variances.
pub(crate) struct Side<'a> {
    /// Row-major inputs.
    pub x: &'a [f64],
    /// `n × L` variances, row-major.
    pub q: &'a [f64],
    /// Number of points.
    pub n: usize,
}

/// The variances of every row of `x` (parallel over points), `n × L` row-major.
pub(crate) fn variances(rec: &Recursion, x: &[f64], n: usize, consistent: bool) -> Vec<f64> {
    let (d, depth) = (rec.input_dim, rec.depth());
    let mut q = vec![0.0; n * depth];
    if depth > 0 {
        q.par_chunks_mut(depth)
            .zip(x.par_chunks(d))
            .for_each(|(out, row)| rec.variances(row, consistent, out));
    }
    q
}

/// The `n1 × n2` (or `n1 × n2 × k × k`, value on the output diagonal) kernel; `s2 = None`
/// is `x1 × x1`. Runs in the caller's rayon pool.
pub(crate) fn assemble(
    rec: &Recursion,
    s1: &Side<'_>,
    s2: Option<&Side<'_>>,
    ntk: bool,
    k: usize,
    tile: usize,
) -> Kernel {
    let symmetric = s2.is_none();
    let s2 = s2.unwrap_or(s1);
    let (n1, n2, d, depth) = (s1.n, s2.n, rec.input_dim, rec.depth());
    let kk = k * k;
    let mut data = vec![0.0; n1 * n2 * kk];
    let band_len = tile * n2 * kk;
    data.par_chunks_mut(band_len)
        .enumerate()
        .for_each(|(bi, band)| {
            let rows = bi * tile..((bi + 1) * tile).min(n1);
            let col_end = if symmetric { rows.end } else { n2 };
            let mut c0 = 0;
            while c0 < col_end {
                let cols = c0..(c0 + tile).min(col_end);
                for i in rows.clone() {
                    let (xi, qi) = (&s1.x[i * d..][..d], &s1.q[i * depth..][..depth]);
                    let out = &mut band[(i - rows.start) * n2 * kk..][..n2 * kk];
                    for j in cols.clone() {
                        if symmetric && j > i {
                            break;
                        }
                        let (xj, qj) = (&s2.x[j * d..][..d], &s2.q[j * depth..][..depth]);
                        let s = rec.pair(xi, xj, qi, qj, ntk);
                        let v = if ntk { s.theta } else { s.k };
                        for a in 0..k {
                            out[j * kk + a * k + a] = v;
                        }
                    }
                }
                c0 = cols.end;
            }
        });
    if symmetric {
        mirror(&mut data, n1, k);
    }
    Kernel { n1, n2, k, data }
}

/// The rows `rows` of [`assemble`]'s kernel, bit for bit: for `x1 × x1` an entry above the
/// diagonal is computed as the pair below it (`[j, i]`), exactly what the mirror copies.
pub(crate) fn assemble_rows(
    rec: &Recursion,
    s1: &Side<'_>,
    s2: Option<&Side<'_>>,
    ntk: bool,
    k: usize,
    rows: core::ops::Range<usize>,
) -> Kernel {
    let symmetric = s2.is_none();
    let s2 = s2.unwrap_or(s1);
    let (n2, d, depth) = (s2.n, rec.input_dim, rec.depth());
    let kk = k * k;
    let mut data = vec![0.0; rows.len() * n2 * kk];
    data.par_chunks_mut(n2 * kk)
        .enumerate()
        .for_each(|(r, out)| {
            let i = rows.start + r;
            for j in 0..n2 {
                let (a, b) = if symmetric && j > i { (j, i) } else { (i, j) };
                let (xa, qa) = (&s1.x[a * d..][..d], &s1.q[a * depth..][..depth]);
                let (xb, qb) = (&s2.x[b * d..][..d], &s2.q[b * depth..][..depth]);
                let s = rec.pair(xa, xb, qa, qb, ntk);
                let v = if ntk { s.theta } else { s.k };
                for o in 0..k {
                    out[j * kk + o * k + o] = v;
                }
            }
        });
    Kernel {
        n1: rows.len(),
        n2,
        k,
        data,
    }
}

/// Copies the lower triangle onto the upper one: `[j, i, a, a] ← [i, j, a, a]` for `j < i`
/// (only the output diagonal is non-zero), block by block.
fn mirror(data: &mut [f64], n: usize, k: usize) {
    let kk = k * k;
    for bi in (0..n).step_by(MIRROR_BLOCK) {
        for bj in (0..=bi).step_by(MIRROR_BLOCK) {
            for i in bi..(bi + MIRROR_BLOCK).min(n) {
                for j in bj..(bj + MIRROR_BLOCK).min(i) {
                    for a in 0..k {
                        data[(j * n + i) * kk + a * k + a] = data[(i * n + j) * kk + a * k + a];
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_copies_the_lower_triangle_on_the_output_diagonal() {
        let (n, k) = (130, 2);
        let mut d = vec![0.0; n * n * k * k];
        for i in 0..n {
            for j in 0..=i {
                for a in 0..k {
                    d[(i * n + j) * k * k + a * k + a] = (i * 1000 + j * 10 + a) as f64;
                }
            }
        }
        mirror(&mut d, n, k);
        for i in 0..n {
            for j in 0..n {
                for a in 0..k {
                    for b in 0..k {
                        let v = d[(i * n + j) * k * k + a * k + b];
                        let w = d[(j * n + i) * k * k + b * k + a];
                        assert_eq!(v, w);
                        if a != b {
                            assert_eq!(v, 0.0);
                        }
                    }
                }
            }
        }
    }
}
