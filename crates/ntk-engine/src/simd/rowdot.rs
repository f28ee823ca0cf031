//! `out[i, c] = Σ_j K[i, j]·V[j, c]` for a band of kernel rows, in a fixed order.
//!
//! Every output entry is the dot product of one kernel row (`f32` or `f64`, widened to
//! `f64`) with one column of `V` (`f64`), summed in an order fixed by the row length alone:
//! eight lanes, lane `l` adding the products at `j ≡ l (mod 8)` in increasing `j`
//! (`acc_l ← fma(K[i, j], V[j, c], acc_l)`, one fused multiply-add with a single rounding),
//! then the lanes combined as `((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7))`. The fused
//! operation is IEEE's `fusedMultiplyAdd` on every path (the FMA instruction on x86-64-v3
//! and v4, `libm`'s `fma` on the scalar fallback), so the bits depend on neither the
//! instruction set, nor the thread count, nor which band or group of columns a row is
//! computed in; one instruction per product instead of a multiply and an add. This is what makes the [kernel operator](crate::solve)
//! bitwise independent of its band size.

use pulp::{Arch, Simd, WithSimd};
use rayon::prelude::*;

use crate::scalar::Real;

/// Lanes of the fixed summation order.
pub const LANES: usize = 8;

/// Columns of `V` handled per pass over a row (the row stays in L1/L2 between passes).
const GROUP: usize = 4;

/// Rows per parallel work item (only scheduling depends on it).
const ROWS_PER_TASK: usize = 8;

/// The eight lanes combined in the fixed tree order.
#[inline(always)]
fn combine(a: &[f64; LANES]) -> f64 {
    ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]))
}

/// `C` columns of `V` packed for the kernel: chunk `b` holds `V[8b + l, c]` at `[c][l]`, so
/// one contiguous `[[f64; 8]; C]` feeds eight lanes of `C` accumulators; the last
/// `n mod 8` rows are in `tail`.
struct Packed<const C: usize> {
    chunks: Vec<[[f64; LANES]; C]>,
    tail: Vec<[f64; C]>,
    /// The first column of the group.
    first: usize,
}

impl<const C: usize> Packed<C> {
    fn new(v: &[&[f64]], first: usize, n: usize) -> Self {
        let full = n / LANES;
        let chunks = (0..full)
            .map(|b| {
                core::array::from_fn(|c| core::array::from_fn(|l| v[first + c][b * LANES + l]))
            })
            .collect();
        let tail = (full * LANES..n)
            .map(|j| core::array::from_fn(|c| v[first + c][j]))
            .collect();
        Packed {
            chunks,
            tail,
            first,
        }
    }

    /// Dot products of `R` rows with the group's columns, in the fixed order: each packed
    /// chunk of `V` is loaded once for the `R` rows (register blocking), and every entry
    /// keeps its own eight lanes, held as `8/w` SIMD vectors of `w` lanes (fused
    /// multiply-add on every instruction set, so each gives the scalar order's bits).
    #[inline(always)]
    fn dots<S: Simd, T: Real, const R: usize>(
        &self,
        simd: S,
        rows: [&[T]; R],
        out: &mut [&mut [f64]; R],
    ) {
        let w = S::F64_LANES;
        let p = LANES / w;
        let full = self.chunks.len() * LANES;
        let rows: [&[T]; R] = core::array::from_fn(|r| &rows[r][..full + self.tail.len()]);
        let zero = simd.splat_f64s(0.0);
        let mut acc = [[[zero; LANES]; C]; R];
        for (b, v) in self.chunks.iter().enumerate() {
            let vv: [[S::f64s; LANES]; C] = core::array::from_fn(|c| {
                let (vs, _) = S::as_simd_f64s(&v[c]);
                core::array::from_fn(|q| if q < p { vs[q] } else { zero })
            });
            for r in 0..R {
                let x = &rows[r][b * LANES..b * LANES + LANES];
                let xf: [f64; LANES] = core::array::from_fn(|l| x[l].f64());
                let (xs, _) = S::as_simd_f64s(&xf);
                for c in 0..C {
                    for q in 0..p {
                        acc[r][c][q] = simd.mul_add_f64s(xs[q], vv[c][q], acc[r][c][q]);
                    }
                }
            }
        }
        for r in 0..R {
            for c in 0..C {
                let mut lanes = [0.0f64; LANES];
                for q in 0..p {
                    simd.partial_store_f64s(&mut lanes[q * w..q * w + w], acc[r][c][q]);
                }
                for (l, v) in self.tail.iter().enumerate() {
                    lanes[l] = rows[r][full + l].f64().mul_add(v[c], lanes[l]);
                }
                out[r][self.first + c] = combine(&lanes);
            }
        }
    }
}

/// The columns of `V` in groups of four, then two, then one.
struct Groups {
    four: Vec<Packed<GROUP>>,
    two: Option<Packed<2>>,
    one: Option<Packed<1>>,
}

impl Groups {
    fn new(v: &[&[f64]], n: usize) -> Self {
        let k = v.len();
        let fours = k / GROUP;
        let four = (0..fours).map(|g| Packed::new(v, g * GROUP, n)).collect();
        let mut next = fours * GROUP;
        let two = (k - next >= 2).then(|| {
            next += 2;
            Packed::new(v, next - 2, n)
        });
        let one = (k > next).then(|| Packed::new(v, next, n));
        Groups { four, two, one }
    }

    #[inline(always)]
    fn rows<S: Simd, T: Real, const R: usize>(
        &self,
        simd: S,
        rows: [&[T]; R],
        out: &mut [&mut [f64]; R],
    ) {
        for g in &self.four {
            g.dots(simd, rows, out);
        }
        if let Some(g) = &self.two {
            g.dots(simd, rows, out);
        }
        if let Some(g) = &self.one {
            g.dots(simd, rows, out);
        }
    }
}

/// One parallel work item: rows of the band and their outputs.
struct Task<'a, T> {
    groups: &'a Groups,
    out: &'a mut [f64],
    band: &'a [T],
    n: usize,
    k: usize,
}

impl<T: Real> WithSimd for Task<'_, T> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        // Accumulators in registers: 4 rows × 4 columns of one AVX-512 vector, or 2 rows of
        // two AVX2 vectors.
        if S::F64_LANES >= LANES {
            self.run::<S, 4>(simd)
        } else {
            self.run::<S, 2>(simd)
        }
    }
}

impl<T: Real> Task<'_, T> {
    #[inline(always)]
    fn run<S: Simd, const R: usize>(self, simd: S) {
        let mut o = self.out.chunks_exact_mut(self.k);
        let mut b = self.band.chunks_exact(self.n);
        while b.len() >= R {
            let rows: [&[T]; R] = core::array::from_fn(|_| b.next().unwrap_or(&[]));
            let mut out: [&mut [f64]; R] = core::array::from_fn(|_| o.next().unwrap_or(&mut []));
            self.groups.rows(simd, rows, &mut out);
        }
        for (orow, row) in o.zip(b) {
            self.groups.rows(simd, [row], &mut [orow]);
        }
    }
}

/// `out[i·k + c] = Σ_j band[i·n + j]·v[c][j]` for the `band.len()/n` rows of `band`
/// (row-major, rows of length `n`) and the `k = v.len()` columns `v[c]` (each of length
/// `n`). `out` is row-major `rows × k`. Rows are spread over the current rayon pool.
///
/// # Panics
/// When `band.len()` is not a multiple of `n`, a column is not of length `n`, or `out` is
/// not `rows × k`.
pub fn band_times_block<T: Real>(band: &[T], n: usize, v: &[&[f64]], out: &mut [f64]) {
    let k = v.len();
    assert!(
        n > 0 && band.len().is_multiple_of(n),
        "band of rows of length {n}"
    );
    assert!(v.iter().all(|c| c.len() == n), "columns of length {n}");
    assert_eq!(out.len(), band.len() / n * k, "output of rows × k");
    if k == 0 {
        return;
    }
    let groups = Groups::new(v, n);
    out.par_chunks_mut(ROWS_PER_TASK * k)
        .zip(band.par_chunks(ROWS_PER_TASK * n))
        .for_each(|(o, b)| {
            Arch::new().dispatch(Task {
                groups: &groups,
                out: o,
                band: b,
                n,
                k,
            })
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fixed order written out as a scalar loop: the reference.
    fn reference(row: &[f64], col: &[f64]) -> f64 {
        let mut acc = [0.0f64; LANES];
        for j in 0..row.len() {
            acc[j % LANES] = row[j].mul_add(col[j], acc[j % LANES]);
        }
        combine(&acc)
    }

    #[test]
    fn equals_the_scalar_order_for_every_group_and_length() {
        for n in [1usize, 7, 8, 9, 33, 100] {
            for k in 1..=7 {
                let rows = 5;
                let band: Vec<f64> = (0..rows * n)
                    .map(|i| ((i * 37 % 101) as f64 - 50.0) / 7.0)
                    .collect();
                let cols: Vec<Vec<f64>> = (0..k)
                    .map(|c| {
                        (0..n)
                            .map(|j| ((j * 13 + c * 5) % 17) as f64 / 3.0 - 2.0)
                            .collect()
                    })
                    .collect();
                let v: Vec<&[f64]> = cols.iter().map(|c| c.as_slice()).collect();
                let mut out = vec![0.0; rows * k];
                band_times_block(&band, n, &v, &mut out);
                for i in 0..rows {
                    for c in 0..k {
                        let want = reference(&band[i * n..(i + 1) * n], &cols[c]);
                        assert_eq!(out[i * k + c].to_bits(), want.to_bits(), "n {n} k {k}");
                    }
                }
                // f32 rows are widened exactly.
                let b32: Vec<f32> = band.iter().map(|&x| x as f32).collect();
                let mut o32 = vec![0.0; rows * k];
                band_times_block(&b32, n, &v, &mut o32);
                let wide: Vec<f64> = b32.iter().map(|&x| x as f64).collect();
                let mut o64 = vec![0.0; rows * k];
                band_times_block(&wide, n, &v, &mut o64);
                assert_eq!(o32, o64);
            }
        }
    }

    /// Every instruction-set level this CPU has (scalar, and AVX2 / AVX-512 where present)
    /// against the scalar reference, on values with full mantissas (where a fused and a
    /// separate multiply-add differ).
    #[test]
    fn every_simd_level_equals_the_scalar_order() {
        let (rows, n, k) = (9, 203, 7);
        let mut s = 0x1234_5678_9abc_def1_u64;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let band: Vec<f64> = (0..rows * n).map(|_| next()).collect();
        let cols: Vec<Vec<f64>> = (0..k).map(|_| (0..n).map(|_| next()).collect()).collect();
        let v: Vec<&[f64]> = cols.iter().map(|c| c.as_slice()).collect();
        let groups = Groups::new(&v, n);
        let run = |level: &dyn Fn(Task<'_, f64>)| {
            let mut out = vec![0.0; rows * k];
            level(Task {
                groups: &groups,
                out: &mut out,
                band: &band,
                n,
                k,
            });
            out
        };
        let mut outs = vec![("scalar", run(&|t| t.with_simd(pulp::Scalar::new())))];
        #[cfg(target_arch = "x86_64")]
        {
            if let Some(simd) = pulp::x86::V3::try_new() {
                outs.push(("v3", run(&|t| t.with_simd(simd))));
            }
            if let Some(simd) = pulp::x86::V4::try_new() {
                outs.push(("v4", run(&|t| t.with_simd(simd))));
            }
        }
        let mut fused_differs = false;
        for i in 0..rows {
            for c in 0..k {
                let row = &band[i * n..(i + 1) * n];
                let want = reference(row, &cols[c]);
                for (name, out) in &outs {
                    assert_eq!(
                        out[i * k + c].to_bits(),
                        want.to_bits(),
                        "{name} row {i} col {c}"
                    );
                }
                let mut acc = [0.0f64; LANES];
                for j in 0..n {
                    acc[j % LANES] += row[j] * cols[c][j];
                }
                fused_differs |= combine(&acc).to_bits() != want.to_bits();
            }
        }
        assert!(
            fused_differs,
            "the data does not tell a fused order from a separate one"
        );
    }
}
