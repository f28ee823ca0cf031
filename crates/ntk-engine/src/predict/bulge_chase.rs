//! Stage two of the two-stage tridiagonalisation: a symmetric band matrix of half-bandwidth
//! `b` to tridiagonal form, `T = Q₂ᵀ·B·Q₂`, by Householder bulge chasing (Lang, "A parallel
//! algorithm for reducing symmetric banded matrices to tridiagonal form", SIAM J. Sci.
//! Comput. 14, 1993; the three kernels of Haidar, Ltaief & Dongarra, SC'11, as in LAPACK's
//! `dsb2st_kernels`).
//!
//! Sweep `i` annihilates column `i` below its subdiagonal with one reflector on rows
//! `i+1 ..= i+b`, applied on both sides of the diagonal block it spans; applied from the
//! right to the `b` rows below, it fills them (the bulge). The next reflector annihilates
//! only the first column of the bulge and is applied from the left to the rest of the
//! bulge, on both sides of the next diagonal block, and from the right below it; and so on
//! to the end of the matrix. The part of each bulge left standing lies exactly where the
//! next sweep's bulges fall, and is removed by them. `O(n²·b)` flops in all, on blocks of
//! `b × b`; the reflectors (`n²/2` numbers) are kept to apply `Q₂` later.

use std::sync::atomic::{AtomicUsize, Ordering};

use faer::{Mat, MatMut};
use pulp::Arch;
use rayon::prelude::*;

use super::reflector;

/// One reflector of the chase: `H = I − τ·v·vᵀ` on rows `row .. row + len`, `v` at
/// `at .. at + len` of its sweep's [`Sweep::vs`] (with its leading 1 stored).
struct Step {
    row: usize,
    len: usize,
    at: usize,
    tau: f64,
}

/// The reflectors of one sweep, in the order it made them.
struct Sweep {
    steps: Vec<Step>,
    vs: Vec<f64>,
}

/// `Q₂ = H₁·H₂·…`, the product of the chase's reflectors in the order one thread would make
/// them: sweep after sweep.
pub(crate) struct BulgeChase {
    sweeps: Vec<Sweep>,
}

/// The tridiagonal matrix: diagonal and subdiagonal.
pub(crate) struct Tridiagonal {
    pub diag: Vec<f64>,
    pub sub: Vec<f64>,
}

impl BulgeChase {
    /// Reduces the band held in the lower triangle of `a` (entries `i − j ≤ b`; nothing
    /// else is read) to tridiagonal form.
    ///
    /// The work is done in a copy of the band with room for the bulges: column `c` keeps
    /// rows `c .. c + 2b` contiguously, element `(r, c)` at `c·(2b − 1) + r`, so every
    /// column segment below is one slice of a buffer of `2b·n` numbers.
    pub fn reduce(a: &Mat<f64>, b: usize) -> (Self, Tridiagonal) {
        let n = a.nrows();
        let mut chase = BulgeChase { sweeps: Vec::new() };
        let b = b.max(1);
        let stride = 2 * b - 1;
        let mut data = vec![0.0; n * 2 * b + 1];
        for c in 0..n {
            for r in c..(c + b + 1).min(n) {
                data[c * stride + r] = a[(r, c)];
            }
        }
        if b >= 2 {
            let sweeps = n.saturating_sub(2);
            let workers = if n >= PIPELINE_MIN && rayon::current_num_threads() >= 2 {
                2
            } else {
                1
            };
            let buf = Buffer {
                ptr: data.as_mut_ptr(),
                len: data.len(),
                stride,
            };
            // progress[i]: steps of sweep i finished (usize::MAX once it is complete).
            let progress: Vec<AtomicUsize> = (0..sweeps).map(|_| AtomicUsize::new(0)).collect();
            let work = |w: usize| {
                let (mut v, mut y) = (vec![0.0; b], vec![0.0; b]);
                let mut mine = Vec::new();
                for i in (w..sweeps).step_by(workers) {
                    let (mut steps, mut vs) =
                        (Vec::with_capacity(n / b + 1), Vec::with_capacity(n + b));
                    let ready = |s: usize| {
                        if i > 0 && workers > 1 {
                            wait_for(&progress[i - 1], s + LAG);
                        }
                    };
                    let done = |s: usize| progress[i].store(s + 1, Ordering::Release);
                    Arch::new().dispatch(SweepRun {
                        buf,
                        n,
                        b,
                        i,
                        work: (&mut v, &mut y),
                        out: (&mut steps, &mut vs),
                        ready,
                        done,
                    });
                    progress[i].store(usize::MAX, Ordering::Release);
                    mine.push(Sweep { steps, vs });
                }
                mine
            };
            let per_worker: Vec<Vec<Sweep>> = if workers == 1 {
                vec![work(0)]
            } else {
                std::thread::scope(|scope| {
                    let others: Vec<_> =
                        (1..workers).map(|w| scope.spawn(move || work(w))).collect();
                    let mut all = vec![work(0)];
                    all.extend(
                        others
                            .into_iter()
                            .map(|h| h.join().expect("a chase worker")),
                    );
                    all
                })
            };
            // The sweeps in their order (worker w made sweeps w, w + workers, …).
            let mut iters: Vec<_> = per_worker.into_iter().map(|w| w.into_iter()).collect();
            chase.sweeps = (0..sweeps)
                .map(|i| iters[i % workers].next().expect("one entry per sweep"))
                .collect();
        }
        let diag = (0..n).map(|i| data[i * stride + i]).collect();
        let sub = (0..n.saturating_sub(1))
            .map(|i| data[i * stride + i + 1])
            .collect();
        (chase, Tridiagonal { diag, sub })
    }

    /// `X ← Q₂ᵀ·X` (`transpose`) or `X ← Q₂·X`, for `X` of `n` rows. Columns are
    /// independent: blocks of [`COLUMN_BLOCK`] run in parallel (the same operations on each
    /// column, whatever the threads), each block taking the reflectors in one pass.
    pub fn apply(&self, x: MatMut<'_, f64>, transpose: bool) {
        x.par_col_chunks_mut(COLUMN_BLOCK).for_each(|mut block| {
            let mut cols: Vec<&mut [f64]> = Vec::with_capacity(COLUMN_BLOCK);
            let mut rest = block.as_mut();
            while rest.ncols() > 0 {
                let (first, tail) = rest.split_at_col_mut(1);
                cols.push(
                    first
                        .col_mut(0)
                        .try_as_col_major_mut()
                        .expect("faer columns are contiguous")
                        .as_slice_mut(),
                );
                rest = tail;
            }
            Arch::new().dispatch(ApplyBlock {
                chase: self,
                cols,
                transpose,
            });
        });
    }
}

/// One task of [`BulgeChase::apply`]: every reflector, in order, on a block of columns. A
/// `WithSimd` so that each instruction set compiles the loops with its target features (a
/// closure's body passed to `dispatch` was compiled once, for the baseline SSE2, and called
/// from the dispatched code: `perf annotate` showed two-lane `mulpd`/`addpd` on an AVX-512
/// machine).
struct ApplyBlock<'a, 'c> {
    chase: &'a BulgeChase,
    cols: Vec<&'c mut [f64]>,
    transpose: bool,
}

impl pulp::WithSimd for ApplyBlock<'_, '_> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(mut self, _: S) {
        if self.transpose {
            for w in &self.chase.sweeps {
                for s in &w.steps {
                    apply_step(w, s, &mut self.cols);
                }
            }
        } else {
            for w in self.chase.sweeps.iter().rev() {
                for s in w.steps.iter().rev() {
                    apply_step(w, s, &mut self.cols);
                }
            }
        }
    }
}

/// Reflector `s` of sweep `w` applied to each column.
#[inline(always)]
fn apply_step(w: &Sweep, s: &Step, cols: &mut [&mut [f64]]) {
    let v = &w.vs[s.at..s.at + s.len];
    for col in cols.iter_mut() {
        reflector::apply(v, s.tau, &mut col[s.row..s.row + s.len]);
    }
}

/// One sweep of [`BulgeChase::reduce`] as a `WithSimd`, for the reason given at
/// [`ApplyBlock`].
struct SweepRun<'a, R, D> {
    buf: Buffer,
    n: usize,
    b: usize,
    i: usize,
    work: (&'a mut [f64], &'a mut [f64]),
    out: (&'a mut Vec<Step>, &'a mut Vec<f64>),
    ready: R,
    done: D,
}

impl<R: Fn(usize), D: Fn(usize)> pulp::WithSimd for SweepRun<'_, R, D> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        sweep(
            self.buf, self.n, self.b, self.i, self.work, self.out, self.ready, self.done,
        )
    }
}

/// Columns per parallel task of [`BulgeChase::apply`].
const COLUMN_BLOCK: usize = 8;

/// From this size on, the sweeps run two at a time on two threads (below it the waiting
/// costs more than it saves).
const PIPELINE_MIN: usize = 1024;

/// How many steps a sweep stays behind the sweep before it. Step `s` of sweep `i` touches
/// entries `(r, c)` with `c ≥ i + 1 + (s − 1)·b` and `r < i + 1 + (s + 2)·b` (the column it
/// annihilates, the diagonal block, the rows below); so step `s` of sweep `i + 1` and
/// step `s'` of sweep `i` touch no common entry once `s' ≥ s + 3`, and sweep `i + 1` may
/// take step `s` when sweep `i` has finished steps `0 ..= s + 3` (one step of margin).
/// Every entry then sees the same operations in the same order as in one sweep after the
/// other, so the bits do not depend on the number of workers.
const LAG: usize = 4;

/// Waits until `progress` is at least `at`.
fn wait_for(progress: &AtomicUsize, at: usize) {
    let mut spins = 0u32;
    while progress.load(Ordering::Acquire) < at {
        spins += 1;
        if spins < 1 << 12 {
            core::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

/// The band buffer, shared by the sweeps in flight.
#[derive(Clone, Copy)]
struct Buffer {
    ptr: *mut f64,
    len: usize,
    stride: usize,
}

// SAFETY: the buffer is only reached through `Buffer::seg`, whose callers (the sweeps) touch
// disjoint entries at any moment: each sweep is one thread, and a sweep waits (`LAG`, with
// acquire/release ordering on its predecessor's progress) until the entries of its next
// step are no longer touched by the sweep before it; the buffer outlives the threads (a
// scoped spawn in `BulgeChase::reduce`).
unsafe impl Send for Buffer {}
// SAFETY: as for `Send`.
unsafe impl Sync for Buffer {}

impl Buffer {
    /// Rows `r0..r1` of column `c`.
    ///
    /// # Safety
    /// No other live slice of the buffer, in this thread or another, overlaps them.
    #[inline(always)]
    unsafe fn seg<'a>(self, c: usize, r0: usize, r1: usize) -> &'a mut [f64] {
        let at = c * self.stride + r0;
        debug_assert!(c <= r0 && r0 <= r1 && r1 <= c + self.stride + 1);
        assert!(
            at + (r1 - r0) <= self.len,
            "a band segment outside the buffer"
        );
        // SAFETY: inside the allocation (checked above); exclusive by the caller's contract.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.add(at), r1 - r0) }
    }
}

/// Sweep `i`: annihilates column `i` below its subdiagonal and chases the bulge to the end
/// of the matrix, recording its reflectors in `out`. `ready(s)` is called before step `s`,
/// `done(s)` after it.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn sweep(
    buf: Buffer,
    n: usize,
    b: usize,
    i: usize,
    (v, y): (&mut [f64], &mut [f64]),
    (steps, vs): (&mut Vec<Step>, &mut Vec<f64>),
    ready: impl Fn(usize),
    done: impl Fn(usize),
) {
    let (mut col, mut st) = (i, i + 1);
    let mut len = b.min(n - st);
    let mut s = 0;
    while len >= 2 {
        ready(s);
        // SAFETY (every `seg` below): the entries of this step, which no other sweep
        // touches now (`LAG`); within the step, each slice is dropped before the next
        // overlapping one is made.
        let x = unsafe { buf.seg(col, st, st + len) };
        let tau = reflector::make(x);
        v[0] = 1.0;
        v[1..len].copy_from_slice(&x[1..]);
        x[1..].fill(0.0);
        let v = &v[..len];
        if tau != 0.0 {
            // The rest of the bulge, from the left.
            for c in col + 1..st {
                reflector::apply(v, tau, unsafe { buf.seg(c, st, st + len) });
            }
            two_sided(buf, st, v, tau, &mut y[..len]);
            // The rows below, from the right: B ← B − τ·(B·v)·vᵀ.
            let rb = st + len;
            let lb = b.min(n - rb);
            if lb > 0 {
                let z = &mut y[..lb];
                z.fill(0.0);
                for (q, &vq) in v.iter().enumerate() {
                    reflector::axpy(vq, unsafe { buf.seg(st + q, rb, rb + lb) }, z);
                }
                for (q, &vq) in v.iter().enumerate() {
                    reflector::axpy(-tau * vq, z, unsafe { buf.seg(st + q, rb, rb + lb) });
                }
            }
        }
        steps.push(Step {
            row: st,
            len,
            at: vs.len(),
            tau,
        });
        vs.extend_from_slice(v);
        done(s);
        s += 1;
        col = st;
        st += len;
        len = b.min(n - st);
    }
}

/// `D ← H·D·H` for the symmetric block `D` at rows and columns `st .. st + len` (lower
/// triangle read and written; LAPACK `dsytd2`): `y = τ·D·v`, `w = y − ½·τ·(yᵀv)·v`,
/// `D ← D − v·wᵀ − w·vᵀ`.
#[inline(always)]
fn two_sided(buf: Buffer, st: usize, v: &[f64], tau: f64, y: &mut [f64]) {
    let len = v.len();
    y.fill(0.0);
    for c in 0..len {
        // Column c of the lower triangle: D[c..len, c].
        // SAFETY: this step's entries (see `sweep`); one slice at a time.
        let col = unsafe { buf.seg(st + c, st + c, st + len) };
        y[c] += col[0] * v[c];
        y[c] += reflector::dot(&col[1..], &v[c + 1..]);
        reflector::axpy(v[c], &col[1..], &mut y[c + 1..]);
    }
    for e in y.iter_mut() {
        *e *= tau;
    }
    let alpha = -0.5 * tau * reflector::dot(y, v);
    reflector::axpy(alpha, v, y);
    for c in 0..len {
        // SAFETY: as above.
        let col = unsafe { buf.seg(st + c, st + c, st + len) };
        reflector::axpy(-y[c], &v[c..], col);
        reflector::axpy(-v[c], &y[c..], col);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn band(n: usize, b: usize) -> Mat<f64> {
        Mat::from_fn(n, n, |i, j| {
            if i < j || i - j > b {
                0.0
            } else {
                ((i * 7919 + j * 104_729) % 1009) as f64 / 1009.0 - 0.3
            }
        })
    }

    /// `Q₂·T·Q₂ᵀ = B` (tolerance `1e-13·n`: rounding of `O(n²/b)` reflectors, each on `b`
    /// entries) and `Q₂ᵀ·Q₂ = I`.
    #[test]
    fn reconstructs_the_band() {
        for (n, b) in [
            (0, 3),
            (1, 3),
            (2, 3),
            (3, 2),
            (10, 3),
            (37, 4),
            (64, 8),
            (101, 16),
        ] {
            let bm = band(n, b);
            let (q, t) = BulgeChase::reduce(&bm, b);
            let tm = Mat::from_fn(n, n, |i, j| {
                if i == j {
                    t.diag[i]
                } else if i == j + 1 {
                    t.sub[j]
                } else if j == i + 1 {
                    t.sub[i]
                } else {
                    0.0
                }
            });
            let mut qt = tm.clone();
            q.apply(qt.as_mut(), false);
            let mut qtq = qt.transpose().to_owned();
            q.apply(qtq.as_mut(), false);
            let err = (0..n)
                .flat_map(|i| (0..n).map(move |j| (i, j)))
                .map(|(i, j)| {
                    let full = if i >= j { bm[(i, j)] } else { bm[(j, i)] };
                    (qtq[(i, j)] - full).abs()
                })
                .fold(0.0, f64::max);
            assert!(err < 1e-13 * (n.max(1) as f64), "n {n} b {b}: {err:e}");
        }
    }

    /// Two sweeps in flight (pools of 2 and 3 threads) give the bits of one sweep after the
    /// other (a pool of 1), for the tridiagonal matrix and for `Q₂ᵀ·X`.
    #[test]
    fn pipelined_sweeps_give_the_same_bits() {
        for (n, b) in [(PIPELINE_MIN + 37, 8), (PIPELINE_MIN, 3)] {
            let bm = band(n, b);
            let x = Mat::from_fn(n, 3, |i, c| ((i * 7 + c) % 11) as f64 - 5.0);
            let run = |threads: usize| {
                crate::parallel::Parallelism::Rayon(threads)
                    .install(|| {
                        let (q, t) = BulgeChase::reduce(&bm, b);
                        let mut y = x.clone();
                        q.apply(y.as_mut(), true);
                        let mut bits: Vec<u64> =
                            t.diag.iter().chain(&t.sub).map(|v| v.to_bits()).collect();
                        for c in 0..3 {
                            bits.extend(y.col(c).iter().map(|v| v.to_bits()));
                        }
                        bits
                    })
                    .unwrap()
            };
            let one = run(1);
            assert_eq!(run(2), one, "n {n} b {b}");
            assert_eq!(run(3), one, "n {n} b {b}");
        }
    }
}
