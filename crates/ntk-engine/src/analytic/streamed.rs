//! The symmetric kernel `x × x` computed whole in memory and handed over band by band, each
//! band as soon as it is final, so that writing it overlaps the computation of the others.
//!
//! The rows are cut into bands of `tile` rows. The pool's threads take the bands last
//! first, each computing its band's part of the lower triangle (columns `0..end`, tile by
//! tile, [`band_tiles`]), exactly as [`super::assemble::assemble`] computes it. A band's
//! columns right of its rows are the transposes of later rows, so it is final once every
//! later band is computed: one more thread (the hand-over thread) receives the computed
//! bands, and as soon as the bands from `t` to the last are all in, copies band `t`'s upper
//! part from the later bands (`[i, j] ← [j, i]`, the copy [`super::assemble::assemble`]'s
//! mirror makes) and hands it to `emit`, in order from the last band to the first. Every
//! entry is the same pure function of its two inputs as in [`super::assemble`], so the
//! handed-over rows are those of the in-memory kernel, bit for bit, whatever the thread
//! count (tested below).
//!
//! Memory: each band's lower part (about half the `n × n × k²` kernel) and one band of full
//! rows, assembled for `emit` in a reused buffer; the callers use it when the kernel fits in
//! their budget twice over.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::assemble::{Side, band_tiles};
use super::state::Recursion;
use crate::error::{Error, Result};

/// Edge of the square blocks of the transposing copy: 16 rows read and 16 written, each in
/// its own page (rows are up to `n·k²·8` bytes apart), within the first-level TLB.
const BLOCK: usize = 16;

/// Computes the symmetric kernel of the points of `s` (`NTK` or NNGP as `ntk` says, `k`
/// outputs on the output diagonal) in bands of `tile` rows: `check(i..i + 1, row)` sees
/// each row's lower part (columns `0..end` of its band, every entry the rest of the kernel
/// copies) on the thread that computed it, and `emit(rows, band)` receives each final band,
/// `rows.len() × n × k²` row-major, from the last band to the first. The first error from
/// `check` or `emit` stops the work and is returned. Runs in the caller's rayon pool, plus
/// one thread of its own for the hand-over.
pub(crate) fn lower_streamed(
    rec: &Recursion,
    s: &Side<'_>,
    ntk: bool,
    k: usize,
    tile: usize,
    check: impl Fn(core::ops::Range<usize>, &[f64]) -> Result<()> + Sync,
    mut emit: impl FnMut(core::ops::Range<usize>, &[f64]) -> Result<()> + Send,
) -> Result<()> {
    let n = s.n;
    let row_len = n * k * k;
    if n == 0 || row_len == 0 {
        return Ok(());
    }
    let tile = tile.max(1);
    let bands = n.div_ceil(tile);
    let rows_of = |t: usize| t * tile..((t + 1) * tile).min(n);
    // Each band's lower part only (its rows, columns `0..end`): half the kernel's memory
    // and page faults; the full rows are assembled in one reused buffer as they are handed
    // over.
    let mut data = crate::memory::zeroed_f64(lower_len(n, k, tile));
    let packed = super::input_gram::pack_columns(s.x, n, rec.input_dim, tile);
    let mut parts = Vec::with_capacity(bands);
    let mut rest = data.as_mut_slice();
    for t in 0..bands {
        let rows = rows_of(t);
        let (part, tail) = rest.split_at_mut(band_lower_len(&rows, k));
        parts.push((t, part));
        rest = tail;
    }
    // Handed out from the end of the list: the last band first.
    let queue = Mutex::new(parts);
    let stop = AtomicBool::new(false);
    let failed: Mutex<Option<Error>> = Mutex::new(None);
    let fail = |e: Error| {
        stop.store(true, Ordering::Relaxed);
        failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert(e);
    };
    let (tx, rx) = std::sync::mpsc::channel::<(usize, &mut [f64])>();
    let handed = std::thread::scope(|scope| {
        let hand_over = scope.spawn(move || -> Result<()> {
            let mut computed: Vec<Option<&mut [f64]>> = (0..bands).map(|_| None).collect();
            let mut full = vec![0.0f64; tile.min(n) * row_len];
            // Bands `next..bands` are handed over.
            let mut next = bands;
            for (t, band) in rx {
                computed[t] = Some(band);
                while next > 0 && computed[next - 1].is_some() {
                    let t = next - 1;
                    let rows = rows_of(t);
                    let (head, later) = computed.split_at(t + 1);
                    let band = head[t].as_deref().expect("computed");
                    let full = &mut full[..rows.len() * row_len];
                    full_rows(full, band, rows.clone(), later, tile, row_len, k);
                    emit(rows, full)?;
                    next = t;
                }
            }
            Ok(())
        });
        rayon::broadcast(|_| {
            let tx = tx.clone();
            while !stop.load(Ordering::Relaxed) {
                let Some((t, band)) = queue.lock().unwrap_or_else(|p| p.into_inner()).pop() else {
                    break;
                };
                let rows = rows_of(t);
                band_tiles(
                    rec,
                    s,
                    s,
                    ntk,
                    k,
                    rows.clone(),
                    rows.end,
                    (tile, &packed),
                    band,
                );
                // Row by row: the file's row of each entry is then the one the check names.
                let lower = rows.end * k * k;
                let bad = band
                    .chunks_exact(lower)
                    .zip(rows.clone())
                    .find_map(|(row, i)| check(i..i + 1, row).err());
                if let Some(e) = bad {
                    fail(e);
                    break;
                }
                if tx.send((t, band)).is_err() {
                    // The hand-over stopped on an error of its own, returned below.
                    stop.store(true, Ordering::Relaxed);
                    break;
                }
            }
        });
        drop(tx);
        hand_over.join()
    });
    let handed = handed.map_err(|_| {
        Error::invalid(
            "kernel hand-over",
            "a panic",
            "a hand-over thread that returns",
        )
    })?;
    if let Some(e) = failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    handed
}

/// Numbers in the bands' lower parts of an `n`-point kernel with `k` outputs in bands of
/// `tile` rows: band `t` keeps its rows' columns `0..end` (`end` its last row + 1).
pub(crate) fn lower_len(n: usize, k: usize, tile: usize) -> usize {
    let tile = tile.max(1);
    (0..n.div_ceil(tile))
        .map(|t| band_lower_len(&(t * tile..((t + 1) * tile).min(n)), k))
        .sum()
}

/// Numbers in the lower part of the band of rows `rows`: its rows' columns `0..rows.end`.
fn band_lower_len(rows: &core::ops::Range<usize>, k: usize) -> usize {
    rows.len() * rows.end * k * k
}

/// The full rows of band `rows` into `full` (`rows.len()` rows of `row_len = n·k²`): its
/// lower part from `band` (rows of `rows.end·k²`), its diagonal block's upper part from its
/// lower part (`[i, j] ← [j, i]`, `i < j`), and its columns right of its rows from the
/// later bands (`later[u]` holds band `rows.start / tile + 1 + u`'s lower part). Element
/// blocks are `k × k` with only their diagonal non-zero.
fn full_rows(
    full: &mut [f64],
    band: &[f64],
    rows: core::ops::Range<usize>,
    later: &[Option<&mut [f64]>],
    tile: usize,
    row_len: usize,
    k: usize,
) {
    let kk = k * k;
    let nr = rows.len();
    let lower = rows.end * kk;
    for (to, from) in full.chunks_exact_mut(row_len).zip(band.chunks_exact(lower)) {
        to[..lower].copy_from_slice(from);
        if k > 1 {
            // Only the blocks' diagonals are written below; the buffer is reused.
            to[lower..].fill(0.0);
        }
    }
    for i in 0..nr {
        for j in i + 1..nr {
            for a in 0..k {
                full[i * row_len + (rows.start + j) * kk + a * k + a] =
                    band[j * lower + (rows.start + i) * kk + a * k + a];
            }
        }
    }
    for (u, other) in later.iter().enumerate() {
        let other: &[f64] = other.as_deref().expect("every later band is computed");
        let first = rows.end + u * tile;
        let nj = tile.min(row_len / kk - first);
        let stride = (first + nj) * kk;
        for jb in (0..nj).step_by(BLOCK) {
            let je = (jb + BLOCK).min(nj);
            for ib in (0..nr).step_by(BLOCK) {
                for i in ib..(ib + BLOCK).min(nr) {
                    let col = (rows.start + i) * kk;
                    let to = &mut full[i * row_len + (first + jb) * kk..][..(je - jb) * kk];
                    if k == 1 {
                        for (t, j) in to.iter_mut().zip(jb..je) {
                            *t = other[j * stride + col];
                        }
                    } else {
                        for (t, j) in to.chunks_exact_mut(kk).zip(jb..je) {
                            for a in 0..k {
                                t[a * k + a] = other[j * stride + col + a * k + a];
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::assemble::{assemble, variances};
    use super::*;
    use crate::activation::Activation;
    use crate::analytic::dual::Dual;
    use crate::model::Mlp;

    /// Every band handed over equals the in-memory kernel's rows bit for bit, bands arrive
    /// last first, each once, for ragged tiles, one and several outputs, and one or three
    /// threads.
    #[test]
    fn bands_equal_the_in_memory_kernel_bitwise() {
        let (n, d) = (41, 13);
        let x: Vec<f64> = (0..n * d)
            .map(|i| ((i * 37) % 101) as f64 / 50.0 - 1.0)
            .collect();
        for (act, k, tile, threads) in [
            (Activation::Relu, 1, 8, 1),
            (Activation::Erf, 1, 7, 3),
            (Activation::Gelu, 2, 5, 3),
            (Activation::Relu, 3, 64, 2),
        ] {
            let m = Mlp::new(d, &[6, 5], act).with_b_std(0.2).with_w_std(1.3);
            let rec = Recursion::new(&m, Dual::new(act, 8));
            let q = variances(&rec, &x, n, true);
            let s = Side::new(&x, &q, n, rec.depth());
            let want = assemble(&rec, &s, None, true, k, tile, None);
            let row_len = n * k * k;
            let mut seen = Vec::new();
            crate::parallel::Parallelism::threads(threads)
                .install(|| {
                    lower_streamed(
                        &rec,
                        &s,
                        true,
                        k,
                        tile,
                        |_, _| Ok(()),
                        |rows, band| {
                            let from = rows.start * row_len;
                            assert!(
                                band.iter()
                                    .zip(&want.data[from..from + band.len()])
                                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                                "{act} k {k} tile {tile} rows {rows:?}"
                            );
                            seen.push(rows.start);
                            Ok(())
                        },
                    )
                })
                .unwrap()
                .unwrap();
            let mut order: Vec<usize> = (0..n).step_by(tile).collect();
            order.reverse();
            assert_eq!(seen, order, "{act} tile {tile}");
        }
    }

    /// An error from `check` or from `emit` stops the work and is the result.
    #[test]
    fn the_first_error_is_returned() {
        let (n, d) = (30, 4);
        let x: Vec<f64> = (0..n * d).map(|i| (i as f64 * 0.3).sin()).collect();
        let m = Mlp::new(d, &[3], Activation::Relu);
        let rec = Recursion::new(&m, Dual::new(Activation::Relu, 8));
        let q = variances(&rec, &x, n, true);
        let s = Side::new(&x, &q, n, rec.depth());
        let bad = || Error::invalid("test", 1, "2");
        let pool = crate::parallel::Parallelism::threads(2);
        let r =
            pool.install(|| lower_streamed(&rec, &s, true, 1, 4, |_, _| Err(bad()), |_, _| Ok(())));
        assert!(matches!(r.unwrap(), Err(Error::InvalidArgument { .. })));
        let mut calls = 0;
        let r = pool.install(|| {
            lower_streamed(
                &rec,
                &s,
                true,
                1,
                4,
                |_, _| Ok(()),
                |_, _| {
                    calls += 1;
                    Err(bad())
                },
            )
        });
        assert!(matches!(r.unwrap(), Err(Error::InvalidArgument { .. })));
        assert_eq!(calls, 1);
    }
}
