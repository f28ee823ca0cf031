//! Packed `f32` matrix products whose every entry is one fixed chain of fused multiply-adds.
//!
//! `C[i, j] = α · Σ_p A[i, p]·B[j, p]` is computed, for every `(i, j)`, as the sequential
//! chain `s ← fma(A[i, p], B[j, p], s)` for `p = 0, 1, …, k−1` from `s = 0` (all in `f32`),
//! then scaled (or promoted to `f64` and added, for a Gram block). That order does not depend
//! on the blocking, on the row or column ranges a caller asks for, on the number of threads,
//! nor on the instruction set (the scalar fallback uses the same fused operation): the bits of
//! an entry are a function of its two rows only. Callers may therefore split the work in any
//! way (rows, columns, tiles) and still get bit-identical results.
//!
//! The kernel is the classic register-blocked one of Goto & van de Geijn (2008, "Anatomy of
//! high-performance matrix multiplication"): the right operand is packed into panels of
//! [`NR`] rows interleaved by `p`, the left one into panels of `MR` rows (two SIMD vectors,
//! 32 rows, with AVX-512; three, 24 rows, with AVX2: [`vectors`]), and a micro-kernel keeps
//! the `MR × NR` sums in registers while it walks `p`, one broadcast of `B` and one vector
//! load of `A` per vector of the panel per step.
//! The inner dimension is cut into chunks of [`KC`] so that a left panel stays in L1; between
//! chunks the partial sums go through memory in `f32`, which does not change them (an inner
//! dimension of at most four chunks keeps them in registers instead).

use faer::reborrow::ReborrowMut;
use faer::{MatMut, MatRef};
use pulp::{Arch, Simd, bytemuck};
use rayon::prelude::*;

/// A zeroed buffer of `n` values (huge pages only on request: [`crate::memory`]).
pub(crate) fn zeroed(n: usize) -> Vec<f32> {
    crate::memory::zeroed_f32(n)
}

/// Rows of a packed right-operand panel (columns of the micro-tile).
pub const NR: usize = 8;
/// Inner-dimension chunk: a left panel of `32 × KC` values is 32 KiB, within an AVX-512
/// core's L1 (48 KiB); `24 × KC` on AVX2 is 24 KiB of a Zen 3 core's 32 KiB.
pub const KC: usize = 256;
/// SIMD vectors per left panel for vectors of `lanes` floats: the micro-tile has
/// `vectors(lanes) · lanes` rows. Two with 32 registers (AVX-512: a `32 × 8` tile, 16 sums);
/// three with 16 (AVX2 and narrower: a `24 × 8` tile run as two passes of `24 × 4`, 12 sums
/// in registers — [`micro`]).
const fn vectors(lanes: usize) -> usize {
    if lanes >= WIDE { 2 } else { 3 }
}

/// Lanes from which the vector registers are taken to be 32 (AVX-512).
const WIDE: usize = 16;

/// Runs `$f::<S, V>(args)` with `V = vectors(S::F32_LANES)` (a const generic needs a literal
/// per instruction-set width).
macro_rules! with_vectors {
    ($s:ident, $f:ident ( $($arg:expr),* $(,)? )) => {
        if <$s as Simd>::F32_LANES >= WIDE {
            $f::<$s, 2>($($arg),*)
        } else {
            $f::<$s, 3>($($arg),*)
        }
    };
}

/// The right operand of `A·Bᵀ`, `B` (`n × k`), packed once and reusable by any number of
/// products (a layer's weights are packed once for all row blocks).
pub struct PackedRhs {
    n: usize,
    k: usize,
    /// Chunk `c` (inner indices `p0 = c·KC .. p0 + kc`) starts at `p0 · n_pad`; in it, panel
    /// `jp` (rows `jp·NR ..`) starts at `jp · kc · NR` and holds `B[jp·NR + j, p0 + p]` at
    /// `p·NR + j` (zero past row `n`).
    data: Vec<f32>,
}

impl PackedRhs {
    /// Packs `b` (`n × k`, any strides; pass `w.transpose()` for `A·W`).
    pub fn new(b: MatRef<'_, f32>) -> Self {
        let (n, k) = (b.nrows(), b.ncols());
        let n_pad = n.div_ceil(NR) * NR;
        let mut data = zeroed(n_pad * k);
        let mut p0 = 0;
        while p0 < k {
            let kc = KC.min(k - p0);
            data[p0 * n_pad..(p0 + kc) * n_pad]
                .par_chunks_mut(kc * NR)
                .enumerate()
                .for_each(|(jp, panel)| pack_rhs_panel(b, jp * NR, p0, kc, panel));
            p0 += kc;
        }
        PackedRhs { n, k, data }
    }

    /// Rows of `B` (columns of the product).
    pub fn n(&self) -> usize {
        self.n
    }

    /// Inner dimension.
    pub fn k(&self) -> usize {
        self.k
    }

    fn panel(&self, p0: usize, kc: usize, jp: usize) -> &[f32] {
        let n_pad = self.n.div_ceil(NR) * NR;
        let at = p0 * n_pad + jp * kc * NR;
        &self.data[at..at + kc * NR]
    }
}

/// The neurons of one block of a layer's weights, as [`PackedRhs::layer_from_columns`]
/// draws them.
pub const LAYER_BLOCK: usize = KC;

impl PackedRhs {
    /// A hidden layer's weights `W` (`fan_in × fan_out`) packed for the forward product
    /// `h·W` (and, read across by [`gemm_packed_t_in`], for the backward one `δ·Wᵀ`) without
    /// ever forming `W`: `draw(blk, put)` produces the columns of the neurons
    /// `blk·LAYER_BLOCK ..` (at most [`LAYER_BLOCK`]), calling `put(j, column)` for each (`j`
    /// within the block, `column` its `fan_in` weights in `f64`, rounded to `f32` here), and
    /// returns what it likes (the block's biases); blocks run in parallel and their results
    /// come back in order. The packed values and layout are exactly those of
    /// [`PackedRhs::new`] of the assembled `Wᵀ`, so the products' bits are too.
    pub fn layer_from_columns<R: Send>(
        fan_in: usize,
        fan_out: usize,
        draw: impl Fn(usize, &mut dyn FnMut(usize, &[f64])) -> R + Sync,
    ) -> (Self, Vec<R>) {
        const { assert!(LAYER_BLOCK.is_multiple_of(NR)) };
        let blocks = fan_out.div_ceil(LAYER_BLOCK);
        // B = Wᵀ (`fan_out × fan_in`), chunks over the inputs; block `blk` owns its panels'
        // piece of every chunk.
        let out_pad = fan_out.div_ceil(NR) * NR;
        let mut fwd = zeroed(out_pad * fan_in);
        let mut per_block: Vec<Vec<&mut [f32]>> = (0..blocks).map(|_| Vec::new()).collect();
        let mut p0 = 0;
        let mut rest = fwd.as_mut_slice();
        while p0 < fan_in {
            let kc = KC.min(fan_in - p0);
            let (chunk, tail) = rest.split_at_mut(kc * out_pad);
            for (blk, piece) in chunk.chunks_mut(LAYER_BLOCK * kc).enumerate() {
                per_block[blk].push(piece);
            }
            rest = tail;
            p0 += kc;
        }
        let results: Vec<R> = per_block
            .into_par_iter()
            .enumerate()
            .map(|(blk, mut pieces)| {
                let width = LAYER_BLOCK.min(fan_out - blk * LAYER_BLOCK);
                draw(blk, &mut |j, col| {
                    assert!(j < width && col.len() == fan_in, "a column of the block");
                    let (jp, lane) = (j / NR, j % NR);
                    let mut p0 = 0;
                    for piece in pieces.iter_mut() {
                        let kc = KC.min(fan_in - p0);
                        let panel = &mut piece[jp * kc * NR..(jp + 1) * kc * NR];
                        for (p, &v) in col[p0..p0 + kc].iter().enumerate() {
                            panel[p * NR + lane] = v as f32;
                        }
                        p0 += kc;
                    }
                })
            })
            .collect();
        let fwd = PackedRhs {
            n: fan_out,
            k: fan_in,
            data: fwd,
        };
        (fwd, results)
    }
}

/// `panel[p·NR + j] = b[j0 + j, p0 + p]` (zero for `j0 + j ≥ n`).
fn pack_rhs_panel(b: MatRef<'_, f32>, j0: usize, p0: usize, kc: usize, panel: &mut [f32]) {
    let rows = NR.min(b.nrows() - j0);
    if rows < NR {
        // The padding (a recycled buffer may hold old values there).
        for p in 0..kc {
            panel[p * NR + rows..(p + 1) * NR].fill(0.0);
        }
    }
    if b.row(j0).try_as_row_major().is_some() {
        for j in 0..rows {
            let Some(r) = b.row(j0 + j).try_as_row_major() else {
                unreachable!("same strides as row j0")
            };
            for (p, &v) in r.as_slice()[p0..p0 + kc].iter().enumerate() {
                panel[p * NR + j] = v;
            }
        }
    } else if b.col(p0).try_as_col_major().is_some() {
        for p in 0..kc {
            let Some(col) = b.col(p0 + p).try_as_col_major() else {
                unreachable!("same strides as column p0")
            };
            let src = &col.as_slice()[j0..j0 + rows];
            let dst = &mut panel[p * NR..p * NR + rows];
            // A fixed-size copy (inlined) when the panel is full, not a call per 8 values.
            match (
                <&mut [f32; NR]>::try_from(&mut *dst),
                <&[f32; NR]>::try_from(src),
            ) {
                (Ok(d), Ok(s)) => *d = *s,
                _ => dst.copy_from_slice(src),
            }
        }
    } else {
        for p in 0..kc {
            for j in 0..rows {
                panel[p * NR + j] = b[(j0 + j, p0 + p)];
            }
        }
    }
}

/// What becomes of the finished sums `s[i, j]` of a product.
pub enum Epilogue<'a> {
    /// `c[i, j] = α·s[i, j]`; `c` must be column-major (unit row stride).
    Store(MatMut<'a, f32>, f32),
    /// `c[i, j] += α·f64(s[i, j])` (`c` column-major), only `j ≤ i` when `lower`. The inner
    /// dimension must be at most [`KC`] (one Gram block).
    AddF64 {
        /// The accumulator.
        c: MatMut<'a, f64>,
        /// The scale.
        alpha: f64,
        /// Only the lower triangle (a diagonal tile of a symmetric kernel).
        lower: bool,
    },
}

/// `C = α · A·Bᵀ` (or its `f64` accumulation) with `B` packed; `a` is `m × k`, any strides.
/// Sequential: callers parallelise over independent products.
///
/// # Panics
/// If the shapes disagree, or [`Epilogue::AddF64`] is asked for more than [`KC`] inner indices.
#[cfg(test)] // The allocating form, for the unit tests; the engine reuses its work space.
pub fn gemm_packed(a: MatRef<'_, f32>, b: &PackedRhs, out: Epilogue<'_>) {
    gemm_packed_in(a, b, out, &mut Vec::new());
}

/// [`gemm_packed`] with a reusable buffer for the packed left operand.
pub fn gemm_packed_in(a: MatRef<'_, f32>, b: &PackedRhs, out: Epilogue<'_>, work: &mut Vec<f32>) {
    assert_eq!(a.ncols(), b.k, "inner dimensions");
    gemm_on_packed(pack_lhs_into(a, work), a.nrows(), b, out, Read::Panels);
}

/// `A` packed into `work` by [`pack_lhs_all`] for this CPU: the part the products read.
fn pack_lhs_into<'w>(a: MatRef<'_, f32>, work: &'w mut Vec<f32>) -> &'w [f32] {
    let mr = panel_rows();
    pack_lhs_all(a, mr, work);
    &work[..a.nrows().div_ceil(mr) * mr * a.ncols()]
}

/// How a product reads its packed right operand `b` (`P`, `b.n × b.k`).
#[derive(Clone, Copy)]
enum Read {
    /// `A·Pᵀ` by panels ([`drive_packed`]): inner dimension `b.k`, `b.n` output columns.
    Panels,
    /// `A·P`, the panels read across ([`drive_transposed`]): inner dimension `b.n`, `b.k`
    /// output columns.
    Across,
}

/// The checks and the dispatch of a product whose `A` (`m` rows) is packed by
/// [`pack_lhs_all`] for this CPU, shared by [`gemm_packed_in`], [`gemm_rows`] and
/// [`gemm_packed_t_in`].
fn gemm_on_packed(apack: &[f32], m: usize, b: &PackedRhs, mut out: Epilogue<'_>, read: Read) {
    let (inner, n) = match read {
        Read::Panels => (b.k, b.n),
        Read::Across => (b.n, b.k),
    };
    let (rows, cols) = match &out {
        Epilogue::Store(c, _) => (c.nrows(), c.ncols()),
        Epilogue::AddF64 { c, .. } => (c.nrows(), c.ncols()),
    };
    assert_eq!((rows, cols), (m, n), "output shape");
    if let Epilogue::AddF64 { .. } = out {
        assert!(inner <= KC, "a Gram block is at most KC inner indices");
    }
    if inner == 0 {
        if let Epilogue::Store(c, _) = &mut out {
            c.fill(0.0);
        }
        return;
    }
    struct Run<'x, 'y> {
        apack: &'x [f32],
        m: usize,
        b: &'x PackedRhs,
        out: &'x mut Epilogue<'y>,
        read: Read,
    }
    impl pulp::WithSimd for Run<'_, '_> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: Simd>(self, simd: S) {
            match self.read {
                Read::Panels => {
                    with_vectors!(S, drive_packed(simd, self.apack, self.m, self.b, self.out))
                }
                Read::Across => {
                    with_vectors!(
                        S,
                        drive_transposed(simd, self.apack, self.m, self.b, self.out)
                    )
                }
            }
        }
    }
    Arch::new().dispatch(Run {
        apack,
        m,
        b,
        out: &mut out,
        read,
    });
}

/// `acc += α · A·Bᵀ` for one Gram block (`a`: `m × k`, `b`: `n × k`, `k ≤ KC`), only
/// `j ≤ i` when `lower`.
#[cfg(test)] // The allocating form, for the unit tests; the engine reuses its work space.
pub fn gram_block_f64(
    acc: MatMut<'_, f64>,
    a: MatRef<'_, f32>,
    b: MatRef<'_, f32>,
    alpha: f64,
    lower: bool,
) {
    gram_block_f64_in(acc, a, b, alpha, lower, &mut GramWork::default());
}

/// The micro-tile's rows on the instruction set [`Arch`] picks.
struct Lanes;
impl pulp::WithSimd for Lanes {
    type Output = usize;
    #[inline(always)]
    fn with_simd<S: Simd>(self, _: S) -> usize {
        vectors(S::F32_LANES) * S::F32_LANES
    }
}

/// Reusable buffers of [`gram_block_f64_in`].
#[derive(Default)]
pub struct GramWork {
    lhs: Vec<f32>,
    rhs: Option<PackedRhs>,
}

/// [`gram_block_f64`] with reusable buffers.
pub fn gram_block_f64_in(
    acc: MatMut<'_, f64>,
    a: MatRef<'_, f32>,
    b: MatRef<'_, f32>,
    alpha: f64,
    lower: bool,
    work: &mut GramWork,
) {
    let mr = panel_rows();
    fn cols<'m>(x: MatRef<'m, f32>) -> Option<Vec<&'m [f32]>> {
        (0..x.ncols())
            .map(|p| x.col(p).try_as_col_major().map(|c| c.as_slice()))
            .collect()
    }
    if a.nrows().is_multiple_of(mr)
        && b.nrows().is_multiple_of(NR)
        && a.ncols() == b.ncols()
        && let (Some(ac), Some(bc)) = (cols(a), cols(b))
    {
        assert_eq!(
            (acc.nrows(), acc.ncols()),
            (a.nrows(), b.nrows()),
            "output shape"
        );
        struct Direct<'x, 'y> {
            ac: &'x [&'x [f32]],
            bc: &'x [&'x [f32]],
            m: usize,
            n: usize,
            out: Epilogue<'y>,
        }
        impl pulp::WithSimd for Direct<'_, '_> {
            type Output = ();
            #[inline(always)]
            fn with_simd<S: Simd>(mut self, simd: S) {
                with_vectors!(
                    S,
                    gram_direct(simd, self.ac, self.bc, self.m, self.n, &mut self.out)
                )
            }
        }
        let (m, n) = (a.nrows(), b.nrows());
        Arch::new().dispatch(Direct {
            ac: &ac,
            bc: &bc,
            m,
            n,
            out: Epilogue::AddF64 {
                c: acc,
                alpha,
                lower,
            },
        });
        return;
    }
    let packed = match work.rhs.take() {
        Some(mut p) => {
            p.repack_seq(b);
            p
        }
        None => PackedRhs::new_seq(b),
    };
    gemm_packed_in(
        a,
        &packed,
        Epilogue::AddF64 {
            c: acc,
            alpha,
            lower,
        },
        &mut work.lhs,
    );
    work.rhs = Some(packed);
}

impl PackedRhs {
    /// [`PackedRhs::new`] on the calling thread only.
    pub fn new_seq(b: MatRef<'_, f32>) -> Self {
        let mut p = PackedRhs {
            n: 0,
            k: 0,
            data: Vec::new(),
        };
        p.repack_seq(b);
        p
    }

    /// Packs `b` in place of the current contents, reusing the buffer.
    pub fn repack_seq(&mut self, b: MatRef<'_, f32>) {
        let (n, k) = (b.nrows(), b.ncols());
        let n_pad = n.div_ceil(NR) * NR;
        let data = &mut self.data;
        data.clear();
        data.resize(n_pad * k, 0.0);
        let mut p0 = 0;
        while p0 < k {
            let kc = KC.min(k - p0);
            for (jp, panel) in data[p0 * n_pad..(p0 + kc) * n_pad]
                .chunks_mut(kc * NR)
                .enumerate()
            {
                pack_rhs_panel(b, jp * NR, p0, kc, panel);
            }
            p0 += kc;
        }
        (self.n, self.k) = (n, k);
    }
}

/// Output columns per block: a row tile's partial sums of one block stay in L2 across the
/// chunks of `p`.
const NB: usize = 256;

/// `A` (`m × k`) packed into `work` as [`drive_packed`] reads it: chunk `p0` at `p0·mp·mr`, its
/// panel `ip` at `+ ip·kc·mr` (in floats), rows past `m` zero.
fn pack_lhs_all(a: MatRef<'_, f32>, mr: usize, work: &mut Vec<f32>) {
    let (m, k) = (a.nrows(), a.ncols());
    let mp = m.div_ceil(mr);
    let need = mp * mr * k;
    if work.len() < need {
        work.resize(need, 0.0);
    }
    let flat = &mut work[..need];
    let mut p0 = 0;
    while p0 < k {
        let kc = KC.min(k - p0);
        let chunk = &mut flat[p0 * mp * mr..(p0 + kc) * mp * mr];
        for (ip, panel) in chunk.chunks_mut(kc * mr).enumerate() {
            pack_lhs_panel(a, ip * mr, mr, p0, kc, panel);
        }
        p0 += kc;
    }
}

/// The longest inner dimension run whole per micro-tile by [`drive_packed`] (four chunks):
/// measured on one core (AVX-512), `256 × 784` by `784 × 16384` ran at 164–170 GFLOP/s this
/// way against 151–154 chunk by chunk, while at `k = 4096` the chunked order stays faster
/// (155 against 148).
const WHOLE_K: usize = 4 * KC;
/// Columns per block of the whole-inner-dimension order.
const NB_WHOLE: usize = 64;

/// The blocked loop over `A` packed by [`pack_lhs_all`] (`m` rows): per block of [`NB`]
/// columns and per chunk of `p`, every `(row panel, column panel)` micro-tile.
#[inline(always)]
fn drive_packed<S: Simd, const MV: usize>(
    simd: S,
    apack: &[f32],
    m: usize,
    b: &PackedRhs,
    out: &mut Epilogue<'_>,
) {
    let lanes = S::F32_LANES;
    let mr = MV * lanes;
    let (n, k) = (b.n, b.k);
    let (mp, np) = (m.div_ceil(mr), n.div_ceil(NR));
    let apack: &[S::f32s] = bytemuck::cast_slice(&apack[..mp * mr * k]);
    if k <= WHOLE_K && !matches!(out, Epilogue::AddF64 { .. }) {
        // A short inner dimension: each micro-tile runs every chunk with its sums in
        // registers (no partial sums through memory); a row panel's chunks (at most
        // `MR × WHOLE_K` values) stay in L2 while a block of [`NB_WHOLE`] columns passes.
        for jb in (0..np).step_by(NB_WHOLE / NR) {
            for ip in 0..mp {
                for jp in jb..(jb + NB_WHOLE / NR).min(np) {
                    // The assembly tile takes every chunk or none (that depends on the output
                    // and the tile only); its partial sums pass through the output (in L1)
                    // between chunks instead of registers: the same bits.
                    let (i0, j0) = (ip * mr, jp * NR);
                    let mut p0 = 0;
                    while p0 < k {
                        let kc = KC.min(k - p0);
                        let ap = &apack[p0 * mp * MV + ip * kc * MV..][..kc * MV];
                        let chunk = (p0 == 0, p0 + kc == k);
                        if !stored_whole::<MV>(lanes, ap, b.panel(p0, kc, jp), out, (i0, j0), chunk)
                        {
                            break;
                        }
                        p0 += kc;
                    }
                    if p0 == k {
                        continue;
                    }
                    let mut acc = [[simd.splat_f32s(0.0); NR]; MV];
                    let mut p0 = 0;
                    while p0 < k {
                        let kc = KC.min(k - p0);
                        let ap = &apack[p0 * mp * MV + ip * kc * MV..][..kc * MV];
                        micro(simd, ap, b.panel(p0, kc, jp), &mut acc);
                        p0 += kc;
                    }
                    finish(&acc, out, ip * mr, jp * NR, lanes, true);
                }
            }
        }
        return;
    }
    for jb in (0..np).step_by(NB / NR) {
        let mut p0 = 0;
        while p0 < k {
            let kc = KC.min(k - p0);
            let (first, last) = (p0 == 0, p0 + kc == k);
            let achunk = &apack[p0 * mp * MV..(p0 + kc) * mp * MV];
            for ip in 0..mp {
                // This left panel (MR × KC) stays in L1 while the block's right panels pass.
                let ap = &achunk[ip * kc * MV..(ip + 1) * kc * MV];
                for jp in jb..(jb + NB / NR).min(np) {
                    let bp = b.panel(p0, kc, jp);
                    let (i0, j0) = (ip * mr, jp * NR);
                    if let Epilogue::AddF64 { lower: true, .. } = out
                        && j0 >= i0 + mr
                    {
                        continue; // every entry of the micro-tile has j > i
                    }
                    chunk_tile::<S, MV>(simd, ap, bp, out, (i0, j0), (first, last));
                }
            }
            p0 += kc;
        }
    }
}

/// `C = α·A·P` where `b` holds `P` (`b.n × b.k`) packed for products `X·Pᵀ`: the product with
/// the packed matrix itself, reading its panels across (the backward product `δ·Wᵀ` from the
/// forward pack of `W`, which holds `P = Wᵀ`, so no second copy of the weights is needed).
/// `a` is `m × b.n`, `C` is `m × b.k`, column-major. Every entry is the fused chain over the
/// inner index in order, exactly as [`gemm_packed_in`] computes it with
/// `PackedRhs::new(Pᵀ)`: the same bits.
///
/// # Panics
/// If the shapes disagree.
#[cfg(test)] // The unpacked form, for the unit tests; the engine reads prepared rows (`gemm_rows_t`).
pub fn gemm_packed_t_in(
    a: MatRef<'_, f32>,
    b: &PackedRhs,
    c: MatMut<'_, f32>,
    alpha: f32,
    work: &mut Vec<f32>,
) {
    assert_eq!(a.ncols(), b.n, "inner dimensions");
    let m = a.nrows();
    gemm_on_packed(
        pack_lhs_into(a, work),
        m,
        b,
        Epilogue::Store(c, alpha),
        Read::Across,
    );
}

/// [`drive_packed`] for `A·P` ([`gemm_packed_t_in`]): output panels are `NR` columns of `P`,
/// the inner index runs over `P`'s rows. For output columns `q0..q0 + NR` (inside one chunk
/// `c0` of `P`'s columns, `kcp` wide) and inner rows `t` of one panel of `NR` rows, the values
/// `P[t, q0 + q]` lie in one block of `NR × NR` floats, `[q][t % NR]`.
#[inline(always)]
fn drive_transposed<S: Simd, const MV: usize>(
    simd: S,
    apack: &[f32],
    m: usize,
    b: &PackedRhs,
    out: &mut Epilogue<'_>,
) {
    let lanes = S::F32_LANES;
    let mr = MV * lanes;
    let (n, k) = (b.k, b.n); // outputs: columns of P; inner: rows of P
    let n_pad = b.n.div_ceil(NR) * NR;
    let (mp, np) = (m.div_ceil(mr), n.div_ceil(NR));
    let apack: &[S::f32s] = bytemuck::cast_slice(&apack[..mp * mr * k]);
    // A block of output panels' values for one inner chunk, gathered into the ordinary panel
    // layout `[t][q]` (in `P`'s pack the blocks of one panel lie `kcp·NR` floats apart, all
    // in the same cache sets: read in place they missed L1 on every step), then run as
    // [`drive_packed`] runs: each row panel in L1 while the block's panels pass.
    let mut panels = vec![0.0f32; (NB / NR) * KC.div_ceil(NR) * NR * NR];
    for jb in (0..np).step_by(NB / NR) {
        let jend = (jb + NB / NR).min(np);
        let mut t0 = 0;
        while t0 < k {
            let kc = KC.min(k - t0);
            let (first, last) = (t0 == 0, t0 + kc == k);
            let achunk = &apack[t0 * mp * MV..(t0 + kc) * mp * MV];
            for jp in jb..jend {
                let q0 = jp * NR;
                // P's column chunk holding q0 (chunks of KC; NR divides KC), and the block
                // of inner panel `t / NR` at `at + (t / NR)·kcp·NR`: `[q][t % NR]`.
                let c0 = q0 / KC * KC;
                let kcp = KC.min(b.k - c0);
                let at = c0 * n_pad + (q0 - c0) * NR + t0 / NR * kcp * NR;
                // Rows of P's panel past `b.k` are not in this chunk (zeros instead).
                let rows = NR.min(b.k - q0);
                let panel = &mut panels[(jp - jb) * kc.div_ceil(NR) * NR * NR..]
                    [..kc.div_ceil(NR) * NR * NR];
                for (tb, dst) in panel.chunks_exact_mut(NR * NR).enumerate() {
                    let from = at + tb * kcp * NR;
                    // The blocks lie a page or more apart: no hardware prefetcher follows them.
                    let ahead = from + GATHER_AHEAD * kcp * NR;
                    if let Some(next) = b.data.get(ahead..(ahead + rows * NR).min(b.data.len())) {
                        prefetch(next);
                    }
                    let src = &b.data[from..from + rows * NR];
                    let mut padded = [0.0f32; NR * NR];
                    let src = match <&[f32; NR * NR]>::try_from(src) {
                        Ok(whole) => whole,
                        Err(_) => {
                            padded[..src.len()].copy_from_slice(src);
                            &padded
                        }
                    };
                    let Ok(dst) = <&mut [f32; NR * NR]>::try_from(dst) else {
                        unreachable!("chunks of NR × NR")
                    };
                    transpose_block(src, dst);
                }
            }
            for ip in 0..mp {
                let ap = &achunk[ip * kc * MV..(ip + 1) * kc * MV];
                for jp in jb..jend {
                    let (i0, q0) = (ip * mr, jp * NR);
                    let bp = &panels[(jp - jb) * kc.div_ceil(NR) * NR * NR..][..kc * NR];
                    chunk_tile::<S, MV>(simd, ap, bp, out, (i0, q0), (first, last));
                }
            }
            t0 += kc;
        }
    }
}

/// `dst[u·NR + q] = src[q·NR + u]`: in registers with AVX, else the plain loop.
#[inline(always)]
fn transpose_block(src: &[f32; NR * NR], dst: &mut [f32; NR * NR]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: AVX was detected.
        unsafe { super::micro_avx2::transpose_8x8(src, dst) };
        return;
    }
    for u in 0..NR {
        for q in 0..NR {
            dst[u * NR + q] = src[q * NR + u];
        }
    }
}

/// A Gram block straight from two column-major operands whose rows fill whole micro-tiles
/// (no packing: each step reads `MR` contiguous values of `A` and `NR` of `B` from column
/// `p`). The same chains as [`drive`], so the same bits.
#[inline(always)]
fn gram_direct<S: Simd, const MV: usize>(
    simd: S,
    acols: &[&[f32]],
    bcols: &[&[f32]],
    m: usize,
    n: usize,
    out: &mut Epilogue<'_>,
) {
    let lanes = S::F32_LANES;
    let mr = MV * lanes;
    for jp in 0..n / NR {
        for ip in 0..m / mr {
            let (i0, j0) = (ip * mr, jp * NR);
            if let Epilogue::AddF64 { lower: true, .. } = out
                && j0 >= i0 + mr
            {
                continue;
            }
            let mut r = [[simd.splat_f32s(0.0); NR]; MV];
            let steps = acols.iter().zip(bcols).map(|(ac, bc)| {
                let av: &[S::f32s] = bytemuck::cast_slice(&ac[i0..i0 + mr]);
                let (av, _) = pulp::as_arrays::<MV, _>(av);
                let (bv, _) = pulp::as_arrays::<NR, _>(&bc[j0..j0 + NR]);
                (&av[0], &bv[0])
            });
            micro_steps(simd, steps, &mut r);
            finish(&r, out, i0, j0, lanes, true);
        }
    }
}

/// Rows of a left panel on this CPU: the micro-tile's `MR`.
fn panel_rows() -> usize {
    Arch::new().dispatch(Lanes)
}

/// The rows of an `r × c` matrix (points × neurons) packed once for any number of Gram
/// products with other packed rows, per block of `block` columns: as left operand, panels of
/// `MR` rows (`[p][MR]`), and as right operand, panels of [`NR`] rows (`[p][NR]`), zero past
/// row `r`. A micro-tile then reads both operands in order, and its left panel (`MR × block`)
/// stays in L1 while the right panels stream past it.
///
/// [`PackedRows::left`] keeps the left panels only, half the memory: a Gram that takes these
/// rows as its right operand reads each group of [`NR`] rows inside their left panel, its
/// steps `MR` floats apart instead of [`NR`] (the same values, so the same bits; on the scalar
/// fallback, whose 3-row panels do not hold whole groups, it copies them into right panels
/// per block, [`right_panels`]). Read in place, a step's [`NR`] values still lie in one
/// cache line, but a micro-tile touches twice the lines of a right panel: the stored schedule
/// keeps the right panels for rows that serve many tiles (`gram::stored`).
pub struct PackedRows {
    rows: usize,
    cols: usize,
    block: usize,
    mr: usize,
    lhs: Vec<f32>,
    rhs: Vec<f32>,
}

impl PackedRows {
    /// Packs `x` (`r × c`, any strides) in blocks of `block` columns, on the calling thread
    /// and straight from `x` (no copy of each block first): the layout of
    /// [`PackedRows::from_blocks`]. Its callers (the stored schedule's row blocks) run one
    /// block of rows per task, the tasks in parallel.
    pub fn new(x: MatRef<'_, f32>, block: usize) -> Self {
        Self::packed(x, block, true)
    }

    /// [`PackedRows::new`] without the right panels (the type's docs).
    pub fn left(x: MatRef<'_, f32>, block: usize) -> Self {
        Self::packed(x, block, false)
    }

    fn packed(x: MatRef<'_, f32>, block: usize, right: bool) -> Self {
        assert!(block > 0, "block of at least one column");
        let (rows, cols) = (x.nrows(), x.ncols());
        let mr = panel_rows();
        let (rl, rr) = (rows.div_ceil(mr) * mr, rows.div_ceil(NR) * NR);
        let mut lhs = zeroed(rl * cols);
        let mut rhs = if right { zeroed(rr * cols) } else { Vec::new() };
        if rows > 0 && cols > 0 {
            for (q, l) in lhs.chunks_mut(block * rl).enumerate() {
                let (q0, w) = (q * block, block.min(cols - q * block));
                let m = x.subcols(q0, w);
                for (ip, panel) in l.chunks_mut(w * mr).enumerate() {
                    pack_lhs_panel(m, ip * mr, mr, 0, w, panel);
                }
                if right {
                    let r = &mut rhs[q0 * rr..(q0 + w) * rr];
                    for (jp, panel) in r.chunks_mut(w * NR).enumerate() {
                        pack_rhs_panel(m, jp * NR, 0, w, panel);
                    }
                }
            }
        }
        PackedRows {
            rows,
            cols,
            block,
            mr,
            lhs,
            rhs,
        }
    }

    /// `count` packed matrices of `rows × cols`, left panels only (as [`PackedRows::left`]:
    /// a Gram reads its right operand from them in place), built block by block: `f(q0, w)`
    /// returns the `count` matrices (`rows × w`, column-major) of the columns `q0..q0 + w`.
    /// The blocks run in parallel (rayon), each packed while it is still in cache, so no
    /// `rows × cols` matrix is ever formed.
    ///
    /// # Panics
    /// If `f` returns other than `count` matrices of `rows × w`.
    pub fn from_blocks(
        rows: usize,
        cols: usize,
        block: usize,
        count: usize,
        f: impl Fn(usize, usize) -> Vec<faer::Mat<f32>> + Sync,
    ) -> Vec<Self> {
        let (rows_pool, mats_pool) = Default::default();
        Self::from_blocks_in(rows, cols, block, count, f, (&rows_pool, &mats_pool))
    }

    /// [`PackedRows::from_blocks`] reusing the buffers of packed rows that are no longer
    /// needed (taken from `spare.0`; every value is written again, padding included), so that
    /// a loop over chunks does not fault in fresh pages for every chunk; `f`'s matrices go
    /// to `spare.1` once packed, for the next chunk's `f` to write into.
    pub fn from_blocks_in(
        rows: usize,
        cols: usize,
        block: usize,
        count: usize,
        f: impl Fn(usize, usize) -> Vec<faer::Mat<f32>> + Sync,
        spare: (
            &std::sync::Mutex<Vec<PackedRows>>,
            &std::sync::Mutex<Vec<faer::Mat<f32>>>,
        ),
    ) -> Vec<Self> {
        let (spare, used) = spare;
        assert!(block > 0, "block of at least one column");
        let mr = panel_rows();
        let rl = rows.div_ceil(mr) * mr;
        let mut bufs: Vec<Vec<f32>> = {
            let mut pool = spare.lock().unwrap_or_else(|e| e.into_inner());
            (0..count)
                .map(|_| match pool.pop() {
                    Some(PackedRows { mut lhs, .. }) => {
                        lhs.resize(rl * cols, 0.0);
                        lhs
                    }
                    None => zeroed(rl * cols),
                })
                .collect()
        };
        if rows == 0 || cols == 0 {
            return bufs
                .into_iter()
                .map(|lhs| PackedRows {
                    rows,
                    cols,
                    block,
                    mr,
                    lhs,
                    rhs: Vec::new(),
                })
                .collect();
        }
        let nq = cols.div_ceil(block);
        // Per block, its segment of every buffer (blocks are contiguous).
        let mut per_block: Vec<Vec<&mut [f32]>> =
            (0..nq).map(|_| Vec::with_capacity(count)).collect();
        for l in &mut bufs {
            for (q, seg) in l.chunks_mut(block * rl).enumerate() {
                per_block[q].push(seg);
            }
        }
        per_block.into_par_iter().enumerate().for_each(|(q, segs)| {
            let q0 = q * block;
            let w = block.min(cols - q0);
            let mats = f(q0, w);
            assert_eq!(mats.len(), segs.len(), "matrices per block");
            for (m, l) in mats.iter().zip(segs) {
                assert_eq!((m.nrows(), m.ncols()), (rows, w), "block shape");
                for (ip, panel) in l.chunks_mut(w * mr).enumerate() {
                    pack_lhs_panel(m.as_ref(), ip * mr, mr, 0, w, panel);
                }
            }
            used.lock().unwrap_or_else(|e| e.into_inner()).extend(mats);
        });
        bufs.into_iter()
            .map(|lhs| PackedRows {
                rows,
                cols,
                block,
                mr,
                lhs,
                rhs: Vec::new(),
            })
            .collect()
    }

    /// Rows (points).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns (neurons).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The left panels as a product reads them: packed by blocks of [`KC`] columns they are,
    /// value for value, what [`pack_lhs_all`] makes of the same matrix (chunk `q` at
    /// `q·KC·rl`, its panel `ip` at `+ ip·w·mr`, rows past `rows` zero).
    fn lhs_panels(&self) -> &[f32] {
        assert_eq!(self.block, KC, "rows packed by blocks of KC columns");
        assert_eq!(self.mr, panel_rows(), "packed on this CPU");
        &self.lhs
    }
}

/// [`gemm_packed_in`] with `A` given as the rows prepared for the Grams (a layer's
/// activations or `δ`, packed once for both uses): the same bits, without packing `A` again.
///
/// # Panics
/// If the shapes disagree, `a` was packed by blocks other than [`KC`] or on another
/// instruction set, or [`Epilogue::AddF64`] is asked for more than [`KC`] inner indices.
pub fn gemm_rows(a: &PackedRows, b: &PackedRhs, out: Epilogue<'_>) {
    assert_eq!(a.cols, b.k, "inner dimensions");
    gemm_on_packed(a.lhs_panels(), a.rows, b, out, Read::Panels);
}

/// [`gemm_packed_t_in`] with `A` given as prepared rows (as [`gemm_rows`]): the same bits.
///
/// # Panics
/// As [`gemm_rows`].
pub fn gemm_rows_t(a: &PackedRows, b: &PackedRhs, c: MatMut<'_, f32>, alpha: f32) {
    assert_eq!(a.cols, b.n, "inner dimensions");
    gemm_on_packed(
        a.lhs_panels(),
        a.rows,
        b,
        Epilogue::Store(c, alpha),
        Read::Across,
    );
}

/// `acc += α · Σ_blocks f64(A[:, blk]·B[:, blk]ᵀ)`, block by block in column order, each
/// block's entries the fixed `f32` chains of this module (only `j ≤ i` when `lower`): the
/// same bits as [`gram_block_f64`] on each block.
///
/// # Panics
/// If the two operands differ in columns or blocking, were packed on another instruction
/// set, or `acc` differs in shape.
pub fn gram_rows_f64(
    acc: MatMut<'_, f64>,
    a: &PackedRows,
    b: &PackedRows,
    alpha: f64,
    lower: bool,
) {
    assert_eq!((a.cols, a.block), (b.cols, b.block), "operands");
    assert_eq!((acc.nrows(), acc.ncols()), (a.rows, b.rows), "output shape");
    assert_eq!(
        (a.mr, b.mr),
        (panel_rows(), panel_rows()),
        "packed on this CPU"
    );
    struct Run<'x, 'y> {
        a: &'x PackedRows,
        b: &'x PackedRows,
        out: Epilogue<'y>,
    }
    impl pulp::WithSimd for Run<'_, '_> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: Simd>(mut self, simd: S) {
            with_vectors!(S, gram_rows_drive(simd, self.a, self.b, &mut self.out))
        }
    }
    Arch::new().dispatch(Run {
        a,
        b,
        out: Epilogue::AddF64 {
            c: acc,
            alpha,
            lower,
        },
    });
}

#[inline(always)]
fn gram_rows_drive<S: Simd, const MV: usize>(
    simd: S,
    a: &PackedRows,
    b: &PackedRows,
    out: &mut Epilogue<'_>,
) {
    let lanes = S::F32_LANES;
    let mr = MV * lanes;
    let (rl, rr) = (a.rows.div_ceil(mr) * mr, b.rows.div_ceil(NR) * NR);
    let lhs: &[S::f32s] = bytemuck::cast_slice(&a.lhs);
    let rlb = b.rows.div_ceil(mr) * mr;
    // Left panels only: read in place where a left panel's rows hold whole groups of NR
    // (every SIMD width), else (the scalar fallback's 3-row panels) copied into right panels.
    let in_place = mr.is_multiple_of(NR);
    let mut work = Vec::new();
    let mut q0 = 0;
    while q0 < a.cols {
        let w = a.block.min(a.cols - q0);
        // In vectors: the block starts at q0·rl/lanes, panel ip at + ip·w·MV.
        let ablk = &lhs[q0 * rl / lanes..(q0 + w) * rl / lanes];
        let lblk = &b.lhs[q0 * rlb..(q0 + w) * rlb];
        if b.rhs.is_empty() && !in_place {
            right_panels(lblk, mr, rr, w, &mut work);
        }
        // The right operand's columns `j0 .. j0 + NR` over the block's steps: a right panel
        // (steps NR apart), or the same values inside a left panel (steps `mr` apart, the
        // group at `j0 % mr` of left panel `j0 / mr`).
        let right = |j0: usize| -> (&[f32], usize) {
            if !b.rhs.is_empty() {
                (&b.rhs[q0 * rr + j0 * w..][..w * NR], NR)
            } else if in_place {
                let at = j0 / mr * w * mr + j0 % mr;
                (&lblk[at..at + (w - 1) * mr + NR], mr)
            } else {
                (&work[j0 * w..][..w * NR], NR)
            }
        };
        for (ip, ap) in ablk.chunks_exact(w * MV).enumerate() {
            let i0 = ip * mr;
            for j0 in (0..rr).step_by(NR) {
                if let Epilogue::AddF64 { lower: true, .. } = out
                    && j0 >= i0 + mr
                {
                    break; // this and every later column panel lie above the diagonal
                }
                let (bp, bstep) = right(j0);
                prefetch_tile(out, i0, j0, mr);
                if gram_whole::<MV>(lanes, ap, bp, bstep, out, (i0, j0)) {
                    continue;
                }
                let mut acc = [[simd.splat_f32s(0.0); NR]; MV];
                micro_strided(simd, ap, bp, bstep, &mut acc);
                finish(&acc, out, i0, j0, lanes, true);
            }
        }
        q0 += w;
    }
}

/// The right panels (`[j / NR][p][j % NR]`, `rr` rows) of one block of `w` columns, from its
/// left panels (`[j / mr][p][j % mr]`, as [`PackedRows`] keeps them): the same values moved,
/// rows past the matrix zero in both. Any `mr` (the scalar fallback's panels have 3 rows).
fn right_panels(left: &[f32], mr: usize, rr: usize, w: usize, out: &mut Vec<f32>) {
    let rl = left.len() / w;
    out.clear();
    out.resize(rr * w, 0.0);
    for j in 0..rr.min(rl) {
        let (ip, i) = (j / mr, j % mr);
        let src = &left[ip * w * mr..(ip + 1) * w * mr];
        let (jp, jj) = (j / NR, j % NR);
        let dst = &mut out[jp * w * NR..(jp + 1) * w * NR];
        for p in 0..w {
            dst[p * NR + jj] = src[p * mr + i];
        }
    }
}

/// The column stride of `c` where the AVX2 whole-tile kernels apply to its `24 × 8` tile at
/// `(i0, j0)`: 8-lane vectors in 24-row tiles on a CPU with AVX2 and FMA, and the tile inside
/// `c`, whose rows are contiguous and whose columns lie a non-negative stride apart.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn whole_tile<const MV: usize, T>(
    lanes: usize,
    c: MatRef<'_, T>,
    (i0, j0): (usize, usize),
) -> Option<usize> {
    let fits = i0 + 24 <= c.nrows() && j0 + NR <= c.ncols() && c.row_stride() == 1;
    if lanes == 8 && MV == 3 && fits && super::micro_avx2::available() {
        usize::try_from(c.col_stride()).ok()
    } else {
        None
    }
}

/// A whole tile's panels as the assembly kernels read them: the left one as floats (24 per
/// step), and the steps it holds; the right operand holds [`NR`] values per step, its steps
/// `bstep` floats apart ([`NR`] in a right panel, `MR` inside a left one).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn tile_panels<'a>(ap: &'a [impl bytemuck::Pod], bp: &[f32], bstep: usize) -> (&'a [f32], usize) {
    let a: &[f32] = bytemuck::cast_slice(ap);
    let steps = a.len() / 24;
    assert!(
        a.len() == 24 * steps && steps > 0 && bstep >= NR && bp.len() >= (steps - 1) * bstep + NR,
        "a 24 × 8 tile's operands"
    );
    (a, steps)
}

/// [`gram_rows_drive`]'s tile on AVX2 when it is a whole `24 × 8` tile inside the
/// accumulators and, for a lower triangle, wholly on or below the diagonal: the assembly
/// kernel ([`super::micro_avx2::gram_24x8_f64`]) adds `α·f64(s)` to the accumulators
/// straight from its registers, the bits of [`finish`]. Returns whether it ran.
#[inline(always)]
fn gram_whole<const MV: usize>(
    lanes: usize,
    ap: &[impl bytemuck::Pod],
    bp: &[f32],
    bstep: usize,
    out: &mut Epilogue<'_>,
    (i0, j0): (usize, usize),
) -> bool {
    #[cfg(target_arch = "x86_64")]
    if let Epilogue::AddF64 { c, alpha, lower } = out
        // Every entry of the tile has i ≥ j when its first row is at or below its last column.
        && !(*lower && i0 < j0 + NR - 1)
        && let Some(ldc) = whole_tile::<MV, _>(lanes, c.as_ref(), (i0, j0))
    {
        let (a, steps) = tile_panels(ap, bp, bstep);
        let at = c.rb_mut().ptr_at_mut(i0, j0);
        // SAFETY: AVX2 and FMA were detected; `a` holds 24 floats per step and `bp` 8 at
        // every `bstep` (asserted); rows `i0 .. i0 + 24` and columns `j0 .. j0 + 8` lie inside
        // `c`, whose rows are contiguous and whose columns are `ldc` apart, borrowed mutably
        // here.
        unsafe {
            super::micro_avx2::gram_24x8_f64(a.as_ptr(), bp.as_ptr(), bstep, steps, at, ldc, *alpha)
        };
        return true;
    }
    let _ = (lanes, ap, bp, bstep, out, i0, j0);
    false
}

/// Asks for the outputs of the micro-tile at `(i0, j0)` (`mr` rows, [`NR`] columns) to be
/// brought into cache while its sums are computed: the `f64` accumulators of a Gram tile
/// (read and written once per block of neurons) and the `f32` partial sums of a product
/// between inner chunks come from L3 or memory once a tile outgrows L2, and the epilogue
/// (or the next chunk's first step) otherwise waits for them.
#[inline(always)]
fn prefetch_tile(out: &Epilogue<'_>, i0: usize, j0: usize, mr: usize) {
    match out {
        Epilogue::AddF64 { c, .. } => prefetch_cols(c.as_ref(), i0, j0, mr),
        Epilogue::Store(c, _) => prefetch_cols(c.as_ref(), i0, j0, mr),
    }
}

/// Blocks ahead that [`drive_transposed`]'s gather asks for.
const GATHER_AHEAD: usize = 4;

/// Asks for every cache line of `x` (nothing off x86-64).
#[inline(always)]
fn prefetch<T>(x: &[T]) {
    #[cfg(target_arch = "x86_64")]
    for piece in x.chunks(64 / size_of::<T>()) {
        // SAFETY: a prefetch has no architectural effect; the address is in `x`.
        unsafe {
            core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
                piece.as_ptr().cast(),
            )
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}

/// [`prefetch_tile`] on a column-major matrix.
#[inline(always)]
fn prefetch_cols<T>(c: MatRef<'_, T>, i0: usize, j0: usize, mr: usize) {
    let rows = mr.min(c.nrows().saturating_sub(i0));
    for j in j0..(j0 + NR).min(c.ncols()) {
        let Some(col) = c.col(j).try_as_col_major() else {
            return;
        };
        prefetch(&col.as_slice()[i0..i0 + rows]);
    }
}

/// `panel[p·mr + i] = a[i0 + i, p0 + p]` (zero for `i0 + i ≥ m`).
fn pack_lhs_panel(
    a: MatRef<'_, f32>,
    i0: usize,
    mr: usize,
    p0: usize,
    kc: usize,
    panel: &mut [f32],
) {
    let rows = mr.min(a.nrows() - i0);
    if a.col(p0).try_as_col_major().is_some() {
        for p in 0..kc {
            let Some(col) = a.col(p0 + p).try_as_col_major() else {
                unreachable!("same strides as the first column")
            };
            let dst = &mut panel[p * mr..p * mr + rows];
            let src = &col.as_slice()[i0..i0 + rows];
            // Whole 8-value pieces are inlined moves, not a library call per column.
            let (d8, dr) = pulp::as_arrays_mut::<8, _>(dst);
            let (s8, sr) = pulp::as_arrays::<8, _>(src);
            for (d, s) in d8.iter_mut().zip(s8) {
                *d = *s;
            }
            dr.copy_from_slice(sr);
            panel[p * mr + rows..(p + 1) * mr].fill(0.0);
        }
    } else {
        for p in 0..kc {
            for i in 0..mr {
                panel[p * mr + i] = if i < rows { a[(i0 + i, p0 + p)] } else { 0.0 };
            }
        }
    }
}

/// One inner chunk of the micro-tile at `(i0, j0)`: its partial sums read back from the
/// output unless the chunk is the `first`, the chunk's steps, then the sums stored (scaled
/// when it is the `last`). Only [`Epilogue::Store`] has several chunks.
#[inline(always)]
fn chunk_tile<S: Simd, const MV: usize>(
    simd: S,
    ap: &[S::f32s],
    bp: &[f32],
    out: &mut Epilogue<'_>,
    (i0, j0): (usize, usize),
    (first, last): (bool, bool),
) {
    let lanes = S::F32_LANES;
    if !first {
        // The partial sums of the next micro-tile along the row, which the next call reads
        // back first: they arrive while this one runs.
        prefetch_tile(out, i0, j0 + NR, MV * lanes);
    }
    if stored_whole::<MV>(lanes, ap, bp, out, (i0, j0), (first, last)) {
        return;
    }
    // A Gram block is one chunk (`first` and `last`): its whole tiles by assembly too.
    if first && last && gram_whole::<MV>(lanes, ap, bp, NR, out, (i0, j0)) {
        return;
    }
    let mut acc = [[simd.splat_f32s(0.0); NR]; MV];
    if !first {
        let Epilogue::Store(c, _) = out else {
            unreachable!("AddF64 has a single chunk")
        };
        load_partial(&mut acc, c.as_ref(), i0, j0, lanes);
    }
    micro(simd, ap, bp, &mut acc);
    finish(&acc, out, i0, j0, lanes, last);
}

/// [`chunk_tile`] for a whole `24 × 8` micro-tile of a stored product on AVX2, by the
/// assembly kernel that reads its partial sums from the output and writes them back there
/// ([`super::micro_avx2::tile_24x8_c`]): the bits of the general path (the same chains, the
/// same `α·s` at the last chunk), without its copies of the sums into and out of registers
/// through two buffers, which measured about a tenth of a `256 × 4096 × 4096` product's time
/// (inner passes of 128 steps, twice the calls, ran 65 GFLOP/s against 73 on one Zen 3 core).
/// Returns whether it ran: `false` for other instruction sets, Gram blocks, and tiles that
/// reach past the output.
#[inline(always)]
fn stored_whole<const MV: usize>(
    lanes: usize,
    ap: &[impl bytemuck::Pod],
    bp: &[f32],
    out: &mut Epilogue<'_>,
    (i0, j0): (usize, usize),
    (first, last): (bool, bool),
) -> bool {
    #[cfg(target_arch = "x86_64")]
    if let Epilogue::Store(c, alpha) = out
        && let Some(ldc) = whole_tile::<MV, _>(lanes, c.as_ref(), (i0, j0))
    {
        let (a, steps) = tile_panels(ap, bp, NR);
        let scale: *const f32 = if last {
            &raw const *alpha
        } else {
            core::ptr::null()
        };
        let at = c.rb_mut().ptr_at_mut(i0, j0);
        // SAFETY: AVX2 and FMA were detected; `a` holds 24 floats and `bp` 8 per step
        // (asserted); rows `i0 .. i0 + 24` and columns `j0 .. j0 + 8` lie inside `c`, whose
        // rows are contiguous and whose columns are `ldc` floats apart, borrowed mutably
        // here; `scale` is null or points at the epilogue's factor.
        unsafe {
            super::micro_avx2::tile_24x8_c(a.as_ptr(), bp.as_ptr(), steps, at, ldc, !first, scale)
        };
        return true;
    }
    let _ = (lanes, ap, bp, out, i0, j0, first, last);
    false
}

/// The register-blocked core: `acc[v][j] += A[v·lanes.., p] · B[j, p]` for every `p`, in
/// order, by fused multiply-adds.
///
/// With 32 vector registers (AVX-512) the whole `MV × NR` tile is one pass. With 16 (AVX2,
/// SSE) the `MV · NR = 16` sums, the `A` vectors and the broadcast do not fit: the compiler
/// spilled and shuffled sums on every step (33 GFLOP/s of an 89 GFLOP/s FMA peak on a Zen 3
/// core). There the tile runs as [`COL_GROUPS`] passes over `p`, each over `NR / COL_GROUPS`
/// columns (8 sums in registers); every entry's chain is unchanged, so are its bits.
#[inline(always)]
fn micro<S: Simd, const MV: usize>(
    simd: S,
    ap: &[S::f32s],
    bp: &[f32],
    acc: &mut [[S::f32s; NR]; MV],
) {
    #[cfg(target_arch = "x86_64")]
    if S::F32_LANES == 8 && MV == 3 && super::micro_avx2::available() {
        micro_avx2(ap, bp, NR, acc);
        return;
    }
    let (av, _) = pulp::as_arrays::<MV, _>(ap);
    let (bv, _) = pulp::as_arrays::<NR, _>(bp);
    micro_steps(simd, av.iter().zip(bv), acc);
}

/// [`micro`] with the right operand's steps `bstep` floats apart (its [`NR`] values at
/// `bp[p·bstep ..]`): [`NR`] for a right panel, the left panels' `MR` when a Gram reads its
/// right operand from them. The same chains, so the same bits, as [`micro`] on a right panel
/// holding the same values.
#[inline(always)]
fn micro_strided<S: Simd, const MV: usize>(
    simd: S,
    ap: &[S::f32s],
    bp: &[f32],
    bstep: usize,
    acc: &mut [[S::f32s; NR]; MV],
) {
    if bstep == NR {
        return micro(simd, ap, bp, acc);
    }
    let (av, _) = pulp::as_arrays::<MV, _>(ap);
    assert!(
        !av.is_empty() && bp.len() >= (av.len() - 1) * bstep + NR,
        "right operand steps"
    );
    #[cfg(target_arch = "x86_64")]
    if S::F32_LANES == 8 && MV == 3 && super::micro_avx2::available() {
        micro_avx2(ap, bp, bstep, acc);
        return;
    }
    let steps = bp.chunks(bstep).map(|s| -> &[f32; NR] {
        let Ok(b) = s[..NR].try_into() else {
            unreachable!("NR values per step")
        };
        b
    });
    micro_steps(simd, av.iter().zip(steps), acc);
}

/// [`micro`] for 8-lane vectors and 24-row tiles through the assembly kernel, one group of
/// four columns at a time.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn micro_avx2<V: bytemuck::Pod, const MV: usize>(
    ap: &[V],
    bp: &[f32],
    bstep: usize,
    acc: &mut [[V; NR]; MV],
) {
    const G: usize = NR / COL_GROUPS;
    // The left panel sets the steps (every caller passes exactly one panel's worth).
    let steps = ap.len() / MV;
    let a: &[f32] = bytemuck::cast_slice(ap);
    assert!(
        MV == 3
            && a.len() >= 24 * steps
            && G == 4
            && (steps == 0 || bp.len() >= (steps - 1) * bstep + NR),
        "a 24 × 8 tile"
    );
    for g in 0..COL_GROUPS {
        let mut t = [[0.0f32; 8]; 12];
        for j in 0..G {
            for v in 0..MV {
                t[3 * j + v] = bytemuck::cast(acc[v][g * G + j]);
            }
        }
        // SAFETY: AVX2 and FMA were detected (`micro_avx2::available`); `a` holds 24 floats
        // per step and `bp[g·4..]` at least bstep·(steps − 1) + 4 (asserted above).
        unsafe {
            super::micro_avx2::cols_24x4(a.as_ptr(), bp[g * G..].as_ptr(), bstep, steps, &mut t)
        };
        for j in 0..G {
            for v in 0..MV {
                acc[v][g * G + j] = bytemuck::cast(t[3 * j + v]);
            }
        }
    }
}

/// Passes over the columns of a micro-tile when the ISA has 16 vector registers.
const COL_GROUPS: usize = 2;

/// [`micro`] over any sequence of steps `(A vectors, B values)`: one pass over all columns
/// with wide vectors, [`COL_GROUPS`] passes over column groups with narrow ones.
#[inline(always)]
fn micro_steps<'s, S: Simd, const MV: usize, I>(simd: S, steps: I, acc: &mut [[S::f32s; NR]; MV])
where
    I: Iterator<Item = (&'s [S::f32s; MV], &'s [f32; NR])> + Clone,
    S::f32s: 's,
{
    if S::F32_LANES >= WIDE {
        micro_cols::<S, MV, I, NR>(simd, steps, acc, 0);
    } else {
        const G: usize = NR / COL_GROUPS;
        for g in 0..COL_GROUPS {
            micro_cols::<S, MV, I, G>(simd, steps.clone(), acc, g * G);
        }
    }
}

/// Columns `j0 .. j0 + G` of a micro-tile over every step, their `MV · G` sums in registers.
#[inline(always)]
fn micro_cols<'s, S: Simd, const MV: usize, I, const G: usize>(
    simd: S,
    steps: I,
    acc: &mut [[S::f32s; NR]; MV],
    j0: usize,
) where
    I: Iterator<Item = (&'s [S::f32s; MV], &'s [f32; NR])>,
    S::f32s: 's,
{
    let mut r = [[simd.splat_f32s(0.0); G]; MV];
    for v in 0..MV {
        r[v].copy_from_slice(&acc[v][j0..j0 + G]);
    }
    for (a, b) in steps {
        for j in 0..G {
            let bj = simd.splat_f32s(b[j0 + j]);
            for v in 0..MV {
                r[v][j] = simd.mul_add_f32s(a[v], bj, r[v][j]);
            }
        }
    }
    for v in 0..MV {
        acc[v][j0..j0 + G].copy_from_slice(&r[v]);
    }
}

/// The `f32` values of a micro-tile's column `j`, vector `v` (rows `v·lanes ..`).
#[inline(always)]
fn lanes_of<V: bytemuck::Pod>(x: &V) -> &[f32] {
    bytemuck::cast_slice(core::slice::from_ref(x))
}

#[inline(always)]
fn load_partial<V: bytemuck::Pod, const MV: usize>(
    acc: &mut [[V; NR]; MV],
    c: MatRef<'_, f32>,
    i0: usize,
    j0: usize,
    lanes: usize,
) {
    let (m, n) = (c.nrows(), c.ncols());
    for j in 0..NR.min(n - j0) {
        let Some(col) = c.col(j0 + j).try_as_col_major() else {
            unreachable!("Store outputs are column-major")
        };
        let col = col.as_slice();
        for (v, row) in acc.iter_mut().enumerate() {
            let r0 = i0 + v * lanes;
            if r0 >= m {
                break;
            }
            let len = lanes.min(m - r0);
            if len == lanes {
                // A whole vector: one unaligned load (a copy of run-time length is a call).
                row[j] = bytemuck::pod_read_unaligned(bytemuck::cast_slice(&col[r0..r0 + len]));
            } else {
                let dst: &mut [f32] = bytemuck::cast_slice_mut(core::slice::from_mut(&mut row[j]));
                dst[..len].copy_from_slice(&col[r0..r0 + len]);
            }
        }
    }
}

#[inline(always)]
fn finish<V: bytemuck::Pod, const MV: usize>(
    acc: &[[V; NR]; MV],
    out: &mut Epilogue<'_>,
    i0: usize,
    j0: usize,
    lanes: usize,
    last: bool,
) {
    match out {
        Epilogue::Store(c, alpha) => {
            let (m, n) = (c.nrows(), c.ncols());
            let alpha = if last { *alpha } else { 1.0 };
            for j in 0..NR.min(n - j0) {
                let Some(col) = c.rb_mut().col_mut(j0 + j).try_as_col_major_mut() else {
                    unreachable!("Store outputs are column-major")
                };
                let col = col.as_slice_mut();
                for (v, row) in acc.iter().enumerate() {
                    let r0 = i0 + v * lanes;
                    if r0 >= m {
                        break;
                    }
                    let len = lanes.min(m - r0);
                    let src = lanes_of(&row[j]);
                    if last {
                        for (d, s) in col[r0..r0 + len].iter_mut().zip(&src[..len]) {
                            *d = alpha * *s;
                        }
                    } else if len == lanes {
                        // A whole vector: one store of a fixed size, not a call.
                        bytemuck::cast_slice_mut::<f32, u8>(&mut col[r0..r0 + len])
                            .copy_from_slice(bytemuck::bytes_of(&row[j]));
                    } else {
                        col[r0..r0 + len].copy_from_slice(&src[..len]);
                    }
                }
            }
        }
        Epilogue::AddF64 { c, alpha, lower } => {
            let (m, n) = (c.nrows(), c.ncols());
            for j in 0..NR.min(n - j0) {
                let jj = j0 + j;
                let Some(col) = c.rb_mut().col_mut(jj).try_as_col_major_mut() else {
                    unreachable!("Gram accumulators are column-major")
                };
                let col = col.as_slice_mut();
                for (v, row) in acc.iter().enumerate() {
                    let r0 = i0 + v * lanes;
                    if r0 >= m {
                        break;
                    }
                    let mut len = lanes.min(m - r0);
                    let mut skip = 0;
                    if *lower {
                        // Only rows i ≥ jj.
                        if r0 + len <= jj {
                            continue;
                        }
                        skip = jj.saturating_sub(r0);
                        len -= skip;
                    }
                    let src = &lanes_of(&row[j])[skip..skip + len];
                    let from = r0 + skip;
                    for (d, s) in col[from..from + len].iter_mut().zip(src) {
                        *d += *alpha * f64::from(*s);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Mat;

    pub(super) fn mat(r: usize, c: usize, seed: u32) -> Mat<f32> {
        Mat::from_fn(r, c, |i, j| {
            let h = (i as u32).wrapping_mul(2654435761) ^ (j as u32).wrapping_mul(40503) ^ seed;
            (h % 1999) as f32 / 997.0 - 1.0
        })
    }

    /// The obvious loop: the same fused chain, one entry at a time.
    fn chain(a: MatRef<'_, f32>, b: MatRef<'_, f32>, i: usize, j: usize) -> f32 {
        let mut s = 0.0f32;
        for p in 0..a.ncols() {
            s = a[(i, p)].mul_add(b[(j, p)], s);
        }
        s
    }

    #[test]
    fn store_matches_the_scalar_chain_bit_for_bit() {
        for &(m, n, k) in &[
            (1, 1, 1),
            (37, 19, 5),
            (64, 8, 512),
            (40, 150, 600), // several column blocks of the whole-inner-dimension order
            (70, 33, 1100), // past WHOLE_K: chunk by chunk
            (5, 3, 0),
        ] {
            let a = mat(m, k, 1);
            let b = mat(k, n, 2); // A·B with B = Wᵀ of a row-major view
            let packed = PackedRhs::new(b.transpose());
            let mut c = Mat::<f32>::zeros(m, n);
            gemm_packed(a.as_ref(), &packed, Epilogue::Store(c.as_mut(), 0.75));
            for i in 0..m {
                for j in 0..n {
                    let want = 0.75 * chain(a.as_ref(), b.transpose(), i, j);
                    assert_eq!(c[(i, j)].to_bits(), want.to_bits(), "{m}x{n}x{k} [{i},{j}]");
                }
            }
            // A column-major B (the backward pass's W) gives the same bits.
            let bt = mat(n, k, 2);
            let packed = PackedRhs::new_seq(bt.as_ref());
            gemm_packed(a.as_ref(), &packed, Epilogue::Store(c.as_mut(), 1.0));
            for i in 0..m {
                for j in 0..n {
                    assert_eq!(
                        c[(i, j)].to_bits(),
                        chain(a.as_ref(), bt.as_ref(), i, j).to_bits()
                    );
                }
            }
        }
    }

    /// Products stored into a view of a larger matrix (columns further apart than its rows,
    /// rows starting inside a column) give the scalar chain's bits there, through the
    /// whole-tile assembly path on AVX2 (full `24 × 8` tiles, one chunk, a few chunks, many),
    /// and touch nothing outside the view.
    #[test]
    fn stores_into_views_match_the_scalar_chain() {
        for &(m, n, k) in &[(48, 16, 200), (72, 24, 700), (48, 17, 1300), (50, 40, 3000)] {
            let a = mat(m, k, 3);
            let b = mat(n, k, 4);
            let packed = PackedRhs::new(b.as_ref());
            let mut big = Mat::<f32>::from_fn(m + 9, n + 3, |i, j| (i * 7 + j) as f32);
            let before = big.clone();
            gemm_packed(
                a.as_ref(),
                &packed,
                Epilogue::Store(big.as_mut().submatrix_mut(5, 2, m, n), 1.25),
            );
            for i in 0..m + 9 {
                for j in 0..n + 3 {
                    let inside = (5..5 + m).contains(&i) && (2..2 + n).contains(&j);
                    let want = if inside {
                        1.25 * chain(a.as_ref(), b.as_ref(), i - 5, j - 2)
                    } else {
                        before[(i, j)]
                    };
                    assert_eq!(
                        big[(i, j)].to_bits(),
                        want.to_bits(),
                        "{m}x{n}x{k} [{i},{j}]"
                    );
                }
            }
        }
    }

    /// Weights drawn column by column straight into the packed layout equal packing the
    /// assembled `Wᵀ`, value for value, padding included, for ragged shapes (inputs not a
    /// multiple of the panel or the chunk, neurons not a multiple of the block or panel).
    #[test]
    fn layers_packed_from_columns_equal_packing_the_assembled_weights() {
        for &(fan_in, fan_out) in &[(1, 1), (37, 19), (300, 520), (513, 256), (8, 777)] {
            let value = |i: usize, j: usize| ((i * 31 + j * 17) % 101) as f64 / 7.0 - 6.5;
            let w = Mat::<f32>::from_fn(fan_in, fan_out, |i, j| value(i, j) as f32);
            let (fwd, blocks) = PackedRhs::layer_from_columns(fan_in, fan_out, |blk, put| {
                let lo = blk * LAYER_BLOCK;
                let hi = (lo + LAYER_BLOCK).min(fan_out);
                // Columns out of order within the block: only `j` places them.
                for j in (0..hi - lo).rev() {
                    let col: Vec<f64> = (0..fan_in).map(|i| value(i, lo + j)).collect();
                    put(j, &col);
                }
                blk
            });
            assert_eq!(
                blocks,
                (0..fan_out.div_ceil(LAYER_BLOCK)).collect::<Vec<_>>()
            );
            let want = PackedRhs::new(w.transpose());
            assert_eq!((fwd.n, fwd.k), (want.n, want.k));
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&fwd.data), bits(&want.data), "{fan_in}x{fan_out}");
        }
    }

    /// `A·P` read across the forward pack of `P` gives the bits of packing `Pᵀ` and
    /// running the ordinary product, for ragged shapes (partial panels, chunks and vectors
    /// on every side) and for the layout drawn straight from weight columns.
    #[test]
    fn transposed_products_match_packing_the_transpose() {
        for &(m, pn, pk) in &[
            (1, 1, 1),
            (37, 19, 5),
            (70, 300, 520),
            (33, 513, 260),
            (5, 8, 777),
        ] {
            let a = mat(m, pn, 7);
            let p = mat(pn, pk, 8);
            let fwd = PackedRhs::new(p.as_ref());
            let mut got = Mat::<f32>::zeros(m, pk);
            gemm_packed_t_in(a.as_ref(), &fwd, got.as_mut(), 0.5, &mut Vec::new());
            let mut want = Mat::<f32>::zeros(m, pk);
            let bwd = PackedRhs::new(p.transpose());
            gemm_packed(a.as_ref(), &bwd, Epilogue::Store(want.as_mut(), 0.5));
            for i in 0..m {
                for j in 0..pk {
                    assert_eq!(
                        got[(i, j)].to_bits(),
                        want[(i, j)].to_bits(),
                        "{m}x{pn}x{pk} [{i},{j}]"
                    );
                }
            }
        }
        // The weights' own layout: P = Wᵀ drawn by columns of W.
        let (fan_in, fan_out) = (300, 270);
        let w = mat(fan_in, fan_out, 9);
        let (fwd, _) = PackedRhs::layer_from_columns(fan_in, fan_out, |blk, put| {
            let lo = blk * LAYER_BLOCK;
            for j in 0..LAYER_BLOCK.min(fan_out - lo) {
                let col: Vec<f64> = (0..fan_in).map(|i| f64::from(w[(i, lo + j)])).collect();
                put(j, &col);
            }
        });
        let d = mat(45, fan_out, 10);
        let mut got = Mat::<f32>::zeros(45, fan_in);
        gemm_packed_t_in(d.as_ref(), &fwd, got.as_mut(), 1.0, &mut Vec::new());
        let mut want = Mat::<f32>::zeros(45, fan_in);
        gemm_packed(
            d.as_ref(),
            &PackedRhs::new(w.as_ref()),
            Epilogue::Store(want.as_mut(), 1.0),
        );
        assert!(got == want);
    }

    /// Rows prepared for the Grams feed products with the bits of packing `A` for each
    /// product (ragged rows and chunks of the inner dimension included), forward and read
    /// across; a preparation by blocks other than `KC` is refused.
    #[test]
    fn products_from_prepared_rows_match_packing_the_left_operand() {
        for &(m, k, n) in &[(1, 1, 1), (37, 19, 5), (70, 300, 520), (33, 513, 260)] {
            let a = mat(m, k, 11);
            let rows = PackedRows::new(a.as_ref(), KC);
            let b = PackedRhs::new(mat(n, k, 12).as_ref());
            let mut got = Mat::<f32>::zeros(m, n);
            gemm_rows(&rows, &b, Epilogue::Store(got.as_mut(), 0.75));
            let mut want = Mat::<f32>::zeros(m, n);
            gemm_packed(a.as_ref(), &b, Epilogue::Store(want.as_mut(), 0.75));
            assert!(got == want, "{m}x{k}x{n} forward");
            // Read across: `A·P` with `P` (`k × n`) packed as it is.
            let p = PackedRhs::new(mat(k, n, 13).as_ref());
            let mut got = Mat::<f32>::zeros(m, n);
            gemm_rows_t(&rows, &p, got.as_mut(), 0.5);
            let mut want = Mat::<f32>::zeros(m, n);
            gemm_packed_t_in(a.as_ref(), &p, want.as_mut(), 0.5, &mut Vec::new());
            assert!(got == want, "{m}x{k}x{n} across");
        }
        let a = mat(9, 300, 14);
        let other = PackedRows::new(a.as_ref(), KC / 2);
        let b = PackedRhs::new(mat(4, 300, 15).as_ref());
        let refused = std::panic::catch_unwind(|| {
            let mut c = Mat::<f32>::zeros(9, 4);
            gemm_rows(&other, &b, Epilogue::Store(c.as_mut(), 1.0));
        });
        assert!(refused.is_err(), "rows packed by blocks of KC / 2");
    }

    /// The right panels a Gram makes from left panels ([`right_panels`]) are those that
    /// [`PackedRows::from_blocks`] and [`PackedRows::new`] pack: ragged rows (past the last
    /// panel of `NR` and of `MR`) and a ragged last block; and Grams of rows with and without
    /// them agree.
    #[test]
    fn right_panels_from_left_ones_equal_packing_them() {
        for &(r, c) in &[(37, 300), (64, 256), (5, 7), (100, 513)] {
            let x = mat(r, c, 9);
            let blocks = PackedRows::from_blocks(r, c, 256, 1, |q0, w| {
                vec![x.as_ref().subcols(q0, w).to_owned()]
            })
            .pop()
            .unwrap();
            let left = PackedRows::left(x.as_ref(), 256);
            let both = PackedRows::new(x.as_ref(), 256);
            assert!(left.rhs.is_empty() && blocks.rhs.is_empty() && !both.rhs.is_empty());
            assert_eq!((&left.lhs, &blocks.lhs), (&both.lhs, &both.lhs));
            let (mr, rl, rr) = (left.mr, r.div_ceil(left.mr) * left.mr, r.div_ceil(NR) * NR);
            let mut work = vec![f32::NAN; 3];
            let mut q0 = 0;
            while q0 < c {
                let w = 256.min(c - q0);
                right_panels(&left.lhs[q0 * rl..(q0 + w) * rl], mr, rr, w, &mut work);
                assert_eq!(
                    work,
                    both.rhs[q0 * rr..(q0 + w) * rr],
                    "({r}, {c}) block {q0}"
                );
                q0 += w;
            }
            let (mut g1, mut g2) = (Mat::<f64>::zeros(r, r), Mat::<f64>::zeros(r, r));
            gram_rows_f64(g1.as_mut(), &left, &left, 1.0, false);
            gram_rows_f64(g2.as_mut(), &both, &both, 1.0, false);
            assert!(g1 == g2, "({r}, {c})");
        }
    }

    #[test]
    fn packed_rows_give_the_bits_of_block_by_block_grams() {
        for &(m, n, k, lower) in &[
            (45, 45, 600, true),
            (70, 21, 300, false),
            (128, 128, 512, true),
        ] {
            let (a, b) = (mat(m, k, 5), mat(n, k, if lower { 5 } else { 6 }));
            let mut want = Mat::<f64>::zeros(m, n);
            let mut q = 0;
            while q < k {
                let w = 256.min(k - q);
                gram_block_f64(
                    want.as_mut(),
                    a.as_ref().subcols(q, w),
                    b.as_ref().subcols(q, w),
                    0.25,
                    lower,
                );
                q += w;
            }
            let mut got = Mat::<f64>::zeros(m, n);
            let (pa, pb) = (
                PackedRows::new(a.as_ref(), 256),
                PackedRows::new(b.as_ref(), 256),
            );
            gram_rows_f64(got.as_mut(), &pa, &pb, 0.25, lower);
            for i in 0..m {
                for j in 0..n {
                    assert_eq!(got[(i, j)].to_bits(), want[(i, j)].to_bits(), "[{i},{j}]");
                }
            }
        }
    }

    /// Grams of packed rows added into a view of larger accumulators: per block of 256
    /// columns the fused chain from zero, `acc += α·f64(s)` block after block; the triangle
    /// respected on tiles that straddle the diagonal, nothing touched outside the view (the
    /// whole-tile assembly path on AVX2, the general one elsewhere).
    #[test]
    fn row_grams_into_views_match_the_scalar_chains() {
        for &(m, n, k, lower) in &[
            (96, 96, 300, true),
            (72, 40, 520, false),
            (50, 50, 90, true),
        ] {
            let (a, b) = (mat(m, k, 7), mat(n, k, if lower { 7 } else { 8 }));
            let base = |i: usize, j: usize| (i * 3 + j) as f64 / 8.0;
            let mut big = Mat::<f64>::from_fn(m + 5, n + 4, base);
            let (pa, pb) = (
                PackedRows::new(a.as_ref(), 256),
                PackedRows::new(b.as_ref(), 256),
            );
            gram_rows_f64(
                big.as_mut().submatrix_mut(3, 1, m, n),
                &pa,
                &pb,
                0.75,
                lower,
            );
            for i in 0..m + 5 {
                for j in 0..n + 4 {
                    let (r, c) = (i.wrapping_sub(3), j.wrapping_sub(1));
                    let mut want = base(i, j);
                    if r < m && c < n && !(lower && c > r) {
                        let mut q = 0;
                        while q < k {
                            let w = 256.min(k - q);
                            let s = chain(a.as_ref().subcols(q, w), b.as_ref().subcols(q, w), r, c);
                            want += 0.75 * f64::from(s);
                            q += w;
                        }
                    }
                    assert_eq!(
                        big[(i, j)].to_bits(),
                        want.to_bits(),
                        "{m}x{n}x{k} [{i},{j}]"
                    );
                }
            }
        }
    }

    #[test]
    fn gram_blocks_add_in_f64_and_respect_the_triangle() {
        for &(m, n, k, lower) in &[
            (45, 45, 256, true),
            (45, 30, 100, false),
            (128, 128, 256, true),
            (64, 40, 256, false),
        ] {
            let (a, b) = (mat(m, k, 3), mat(n, k, if lower { 3 } else { 4 }));
            let mut acc = Mat::<f64>::from_fn(m, n, |i, j| (i + 2 * j) as f64);
            gram_block_f64(acc.as_mut(), a.as_ref(), b.as_ref(), 0.5, lower);
            for i in 0..m {
                for j in 0..n {
                    let base = (i + 2 * j) as f64;
                    let want = if lower && j > i {
                        base
                    } else {
                        base + 0.5 * f64::from(chain(a.as_ref(), b.as_ref(), i, j))
                    };
                    assert_eq!(acc[(i, j)].to_bits(), want.to_bits(), "[{i},{j}]");
                }
            }
        }
    }
}

/// Throughput probes of the packed products, run by hand (they print rates and check
/// nothing; README, "Measured performance", quotes them):
/// `cargo test --release -p ntk-engine --lib simd::gemm::probe -- --ignored --nocapture`
/// (add `RAYON_NUM_THREADS=1` in front for the one-core figures of the first two).
#[cfg(test)]
mod probe {
    use super::tests::mat;
    use super::*;
    use faer::Mat;
    use std::time::Instant;

    fn rate(flop: f64, reps: usize, mut f: impl FnMut()) -> f64 {
        let t = Instant::now();
        for _ in 0..reps {
            f();
        }
        flop * reps as f64 / t.elapsed().as_secs_f64() / 1e9
    }

    /// The micro-kernel with both panels in L1, with the right panels streaming from L2,
    /// and whole products of the engine's shapes (rows × inner × columns), one thread.
    #[test]
    #[ignore = "a probe, run by hand"]
    fn products_on_one_thread() {
        struct Micro;
        impl pulp::WithSimd for Micro {
            type Output = (f64, f64);
            #[inline(always)]
            fn with_simd<S: Simd>(self, simd: S) -> (f64, f64) {
                with_vectors!(S, micro_rates(simd))
            }
        }
        // Plain loops: a closure here would be compiled without the target features.
        #[inline(always)]
        fn micro_rates<S: Simd, const MV: usize>(simd: S) -> (f64, f64) {
            let ap = vec![simd.splat_f32s(1.0); MV * KC];
            let panels = vec![0.5f32; NR * KC * 32]; // 256 KiB: L2
            let mut acc = [[simd.splat_f32s(0.0); NR]; MV];
            let flop = 2.0 * (MV * S::F32_LANES * NR * KC) as f64;
            let reps = 100_000;
            let t = Instant::now();
            for _ in 0..reps {
                micro(
                    simd,
                    &ap,
                    core::hint::black_box(&panels[..NR * KC]),
                    &mut acc,
                );
                core::hint::black_box(&mut acc);
            }
            let l1 = flop * reps as f64 / t.elapsed().as_secs_f64() / 1e9;
            let t = Instant::now();
            for r in 0..reps {
                let bp = &panels[r % 32 * NR * KC..][..NR * KC];
                micro(simd, &ap, core::hint::black_box(bp), &mut acc);
                core::hint::black_box(&mut acc);
            }
            let l2 = flop * reps as f64 / t.elapsed().as_secs_f64() / 1e9;
            (l1, l2)
        }
        let (l1, l2) = Arch::new().dispatch(Micro);
        eprintln!("micro-kernel: {l1:.1} GFLOP/s in L1, {l2:.1} with right panels from L2");
        for (m, k, n) in [(256, 784, 256), (256, 784, 16384), (256, 4096, 4096)] {
            let a = PackedRows::left(mat(m, k, 1).as_ref(), KC);
            let b = PackedRhs::new(mat(n, k, 2).as_ref());
            let mut c = Mat::<f32>::zeros(m, n);
            let flop = 2.0 * (m * k * n) as f64;
            let reps = (20e9 / flop).ceil() as usize;
            let g = rate(flop, reps, || {
                gemm_rows(&a, &b, Epilogue::Store(c.as_mut(), 1.0))
            });
            eprintln!("product {m} x {k} x {n}: {g:.1} GFLOP/s");
        }
    }

    /// The Gram of 256-row tiles over `m` neurons (blocks of 256), off the diagonal and on
    /// it (lower triangle), operands from memory (`m = 16384`) and within L2 (`m = 256`).
    #[test]
    #[ignore = "a probe, run by hand"]
    fn grams_on_one_thread() {
        for m in [256, 16384] {
            let (a, b) = (mat(256, m, 1), mat(256, m, 2));
            let (pa, pb) = (
                PackedRows::new(a.as_ref(), 256),
                PackedRows::new(b.as_ref(), 256),
            );
            let mut acc = Mat::<f64>::zeros(256, 256);
            let flop = 2.0 * (256 * 256 * m) as f64;
            let reps = (10e9 / flop).ceil() as usize;
            let off = rate(flop, reps, || {
                gram_rows_f64(acc.as_mut(), &pa, &pb, 1.0, false)
            });
            // The lower triangle with its diagonal micro-tiles: (1/2 + 1/16) of the products.
            let low = rate(flop * (0.5 + 1.0 / 16.0), reps, || {
                gram_rows_f64(acc.as_mut(), &pa, &pa, 1.0, true)
            });
            let lb = PackedRows::left(b.as_ref(), 256);
            let strided = rate(flop, reps, || {
                gram_rows_f64(acc.as_mut(), &pa, &lb, 1.0, false)
            });
            eprintln!(
                "Gram 256 x 256 over {m}: {off:.1} GFLOP/s off the diagonal, {low:.1} on it, \
                 {strided:.1} off it with the right operand read from left panels"
            );
        }
    }

    /// The deep-net product `1024 × 4096 · 4096 × 4096` on two threads, as four blocks of
    /// 256 rows (the engine's schedule) and as two of 512.
    #[test]
    #[ignore = "a probe, run by hand"]
    fn row_blocks_on_two_threads() {
        let (k, n) = (4096, 4096);
        let a = mat(1024, k, 1);
        let b = PackedRhs::new(mat(n, k, 2).as_ref());
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        for rows in [256, 512] {
            let blocks: Vec<PackedRows> = (0..1024 / rows)
                .map(|i| PackedRows::left(a.subrows(i * rows, rows), KC))
                .collect();
            let mut outs: Vec<Mat<f32>> = blocks.iter().map(|_| Mat::zeros(rows, n)).collect();
            let g = rate(2.0 * (1024 * k * n) as f64, 3, || {
                pool.install(|| {
                    outs.par_iter_mut()
                        .zip(&blocks)
                        .for_each(|(c, a)| gemm_rows(a, &b, Epilogue::Store(c.as_mut(), 1.0)))
                })
            });
            eprintln!(
                "{} blocks of {rows} rows on two threads: {g:.1} GFLOP/s",
                1024 / rows
            );
        }
    }

    /// The one-layer schedule's Grams: every tile of `n = 1024` (lower triangle) over one
    /// chunk of 512 neurons per call, the accumulators of all tiles live between calls.
    #[test]
    #[ignore]
    fn tile_grams_per_chunk_on_two_threads() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        for (tile, cols) in [(256usize, 512usize), (128, 512), (256, 16384)] {
            let blocks = 1024 / tile;
            let rows: Vec<PackedRows> = (0..blocks)
                .map(|i| PackedRows::new(mat(tile, cols, i as u32).as_ref(), 256))
                .collect();
            let pairs: Vec<(usize, usize)> = (0..blocks)
                .flat_map(|i| (0..=i).map(move |j| (i, j)))
                .collect();
            let mut accs: Vec<Mat<f64>> = pairs.iter().map(|_| Mat::zeros(tile, tile)).collect();
            let flop = 1024.0 * 1024.0 * cols as f64; // the lower half of 2·n²·cols
            let g = rate(flop, (20e9 / flop).ceil() as usize, || {
                pool.install(|| {
                    pairs
                        .par_iter()
                        .zip(accs.par_iter_mut())
                        .for_each(|(&(i, j), acc)| {
                            gram_rows_f64(acc.as_mut(), &rows[i], &rows[j], 1.0, i == j)
                        })
                })
            });
            eprintln!("tiles of {tile}, {cols} neurons per call, two threads: {g:.1} GFLOP/s");
        }
    }
}
