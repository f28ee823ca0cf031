//! The AVX2 kernels written by hand: the packed `f32` product's micro-kernel (half of a
//! `24 × 8` micro-tile, `24 × 4`, twelve sums, for [`super::gemm`]); the same loop over a
//! whole `24 × 8` tile that reads and writes a stored product's output itself
//! ([`tile_24x8_c`]) or adds to a Gram block's `f64` accumulators ([`gram_24x8_f64`]), so
//! that no sums are copied through buffers between calls; the analytic input Gram's
//! `4 × 12` `f64` tile; and the `8 × 8` transpose of the backward product's gather.
//!
//! The micro-kernels are assembly because with 16 vector registers their twelve sums,
//! three loaded vectors and a broadcast fill the register file exactly, and the compiler
//! (LLVM 20) kept one sum on the stack: a store and a reload on that chain every step, which
//! bounded the whole tile by the store-forwarding latency (33–39 GFLOP/s on a Zen 3 core
//! whose FMA peak is 89). Each sum is still the one chain `s ← fma(a, b, s)` over the inner
//! index in order (`vfmadd231ps`/`pd`: one rounding), so the bits are those of the portable
//! kernels.

/// The loop of the `24 × 4` kernels, as assembly text: per step, three vectors of the left
/// panel (`{a}`, 24 floats) and four broadcasts of the right operand's values (`{b}`, steps
/// `{bs}` bytes apart: 32 in a right panel, 96 when the right operand is read from left
/// panels), twelve fused multiply-adds into `ymm0..ymm11` (sum `3·j + v` for column `j`,
/// vector `v`), for `{n}` ≥ 1 steps; `{a}`, `{b}` and `{n}` are consumed.
macro_rules! steps_24x4 {
    () => {
        concat!(
            "2:\n",
            "vmovups ymm12, [{a}]\n",
            "vmovups ymm13, [{a} + 32]\n",
            "vmovups ymm14, [{a} + 64]\n",
            "vbroadcastss ymm15, dword ptr [{b}]\n",
            "vfmadd231ps ymm0, ymm12, ymm15\n",
            "vfmadd231ps ymm1, ymm13, ymm15\n",
            "vfmadd231ps ymm2, ymm14, ymm15\n",
            "vbroadcastss ymm15, dword ptr [{b} + 4]\n",
            "vfmadd231ps ymm3, ymm12, ymm15\n",
            "vfmadd231ps ymm4, ymm13, ymm15\n",
            "vfmadd231ps ymm5, ymm14, ymm15\n",
            "vbroadcastss ymm15, dword ptr [{b} + 8]\n",
            "vfmadd231ps ymm6, ymm12, ymm15\n",
            "vfmadd231ps ymm7, ymm13, ymm15\n",
            "vfmadd231ps ymm8, ymm14, ymm15\n",
            "vbroadcastss ymm15, dword ptr [{b} + 12]\n",
            "vfmadd231ps ymm9, ymm12, ymm15\n",
            "vfmadd231ps ymm10, ymm13, ymm15\n",
            "vfmadd231ps ymm11, ymm14, ymm15\n",
            "add {a}, 96\n",
            "add {b}, {bs}\n",
            "dec {n}\n",
            "jnz 2b",
        )
    };
}

/// Whether this CPU runs the micro-kernels below (AVX2 and FMA; a cached flag after the
/// first call).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn available() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// `t[3·j + v] += Σ_p A[v·8 .. v·8 + 8, p] · B[j, p]` for `j < 4`, `v < 3`, `p < steps`,
/// each lane a sequential fused chain; `a` is a left panel (`[p][24]`), `b` points at the
/// group's first column of step 0, step `p` at `b + p·bstep` floats (8 in a right panel,
/// 24 in a left one).
///
/// # Safety
/// The CPU must have AVX, AVX2 and FMA; `a` must be valid for reading `24 · steps` floats and
/// `b` for `bstep · (steps − 1) + 4`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx,avx2,fma")]
pub(crate) unsafe fn cols_24x4(
    a: *const f32,
    b: *const f32,
    bstep: usize,
    steps: usize,
    t: &mut [[f32; 8]; 12],
) {
    // `t` is the group's four columns of three vectors, 96 bytes apart.
    // SAFETY: the caller guarantees the instruction set and that `a` and `b` cover `steps`
    // steps; `t` holds the four columns of 24 floats, read and written in place.
    unsafe {
        group_24x4_c(
            a,
            b,
            4 * bstep,
            steps,
            t.as_mut_ptr().cast(),
            96,
            true,
            core::ptr::null(),
        )
    }
}

/// A whole `24 × 8` micro-tile of a stored product, straight from and to its output: for
/// each group of four columns, the twelve sums start at zero (`load` false) or at the
/// partial sums held in `c` (`load` true), run [`cols_24x4`]'s chains over `steps`, are
/// multiplied by `*scale` when `scale` is non-null, and are stored back to `c`. Column `j`
/// of the tile is `c + j·ldc` (floats), rows `0..24` contiguous. The same chains, roundings
/// and final `α·s` product as the portable path through registers copied in and out
/// (`simd::gemm::finish`): the same bits, without copying twenty-four sums through two
/// buffers per call.
///
/// # Safety
/// The CPU must have AVX, AVX2 and FMA; `a` must be valid for reading `24 · steps` floats,
/// `b` for `8 · steps`, and `c + j·ldc .. + 24` for reading and writing for `j < 8`; `scale`
/// null or valid for reading one float.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx,avx2,fma")]
pub(crate) unsafe fn tile_24x8_c(
    a: *const f32,
    b: *const f32,
    steps: usize,
    c: *mut f32,
    ldc: usize,
    load: bool,
    scale: *const f32,
) {
    for g in 0..2 {
        // SAFETY: the caller's guarantees, for columns 4g .. 4g + 4 of the tile and the
        // group's first column of each step of the right panel.
        unsafe {
            group_24x4_c(
                a,
                b.add(4 * g),
                32,
                steps,
                c.add(4 * g * ldc),
                ldc * 4,
                load,
                scale,
            )
        };
    }
}

/// One group of [`tile_24x8_c`]: four columns at `c`, `ld` bytes apart.
///
/// # Safety
/// As [`tile_24x8_c`], for four columns: `b` valid for reading `bs/4 · (steps − 1) + 4`
/// floats, its steps `bs` bytes apart.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx,avx2,fma")]
#[allow(clippy::too_many_arguments)] // the assembly's operands, one register each
unsafe fn group_24x4_c(
    a: *const f32,
    b: *const f32,
    bs: usize,
    steps: usize,
    c: *mut f32,
    ld: usize,
    load: bool,
    scale: *const f32,
) {
    // SAFETY: the caller guarantees the instruction set and every range read or written:
    // `a` and `b` for `steps` steps, the four columns of 24 floats at `c + j·ld` bytes,
    // `scale` when non-null; no stack is used.
    unsafe {
        core::arch::asm!(
            "lea {c1}, [{c} + {ld}]",
            "lea {c2}, [{c} + 2*{ld}]",
            "lea {c3}, [{c1} + 2*{ld}]",
            "test {load}, {load}",
            "jz 3f",
            "vmovups ymm0, [{c}]",
            "vmovups ymm1, [{c} + 32]",
            "vmovups ymm2, [{c} + 64]",
            "vmovups ymm3, [{c1}]",
            "vmovups ymm4, [{c1} + 32]",
            "vmovups ymm5, [{c1} + 64]",
            "vmovups ymm6, [{c2}]",
            "vmovups ymm7, [{c2} + 32]",
            "vmovups ymm8, [{c2} + 64]",
            "vmovups ymm9, [{c3}]",
            "vmovups ymm10, [{c3} + 32]",
            "vmovups ymm11, [{c3} + 64]",
            "jmp 4f",
            "3:",
            "vxorps ymm0, ymm0, ymm0",
            "vxorps ymm1, ymm1, ymm1",
            "vxorps ymm2, ymm2, ymm2",
            "vxorps ymm3, ymm3, ymm3",
            "vxorps ymm4, ymm4, ymm4",
            "vxorps ymm5, ymm5, ymm5",
            "vxorps ymm6, ymm6, ymm6",
            "vxorps ymm7, ymm7, ymm7",
            "vxorps ymm8, ymm8, ymm8",
            "vxorps ymm9, ymm9, ymm9",
            "vxorps ymm10, ymm10, ymm10",
            "vxorps ymm11, ymm11, ymm11",
            "4:",
            "test {n}, {n}",
            "jz 5f",
            steps_24x4!(),
            "5:",
            "test {scale}, {scale}",
            "jz 6f",
            "vbroadcastss ymm15, dword ptr [{scale}]",
            "vmulps ymm0, ymm15, ymm0",
            "vmulps ymm1, ymm15, ymm1",
            "vmulps ymm2, ymm15, ymm2",
            "vmulps ymm3, ymm15, ymm3",
            "vmulps ymm4, ymm15, ymm4",
            "vmulps ymm5, ymm15, ymm5",
            "vmulps ymm6, ymm15, ymm6",
            "vmulps ymm7, ymm15, ymm7",
            "vmulps ymm8, ymm15, ymm8",
            "vmulps ymm9, ymm15, ymm9",
            "vmulps ymm10, ymm15, ymm10",
            "vmulps ymm11, ymm15, ymm11",
            "6:",
            "vmovups [{c}], ymm0",
            "vmovups [{c} + 32], ymm1",
            "vmovups [{c} + 64], ymm2",
            "vmovups [{c1}], ymm3",
            "vmovups [{c1} + 32], ymm4",
            "vmovups [{c1} + 64], ymm5",
            "vmovups [{c2}], ymm6",
            "vmovups [{c2} + 32], ymm7",
            "vmovups [{c2} + 64], ymm8",
            "vmovups [{c3}], ymm9",
            "vmovups [{c3} + 32], ymm10",
            "vmovups [{c3} + 64], ymm11",
            c = in(reg) c,
            ld = in(reg) ld,
            load = in(reg) usize::from(load),
            scale = in(reg) scale,
            c1 = out(reg) _,
            c2 = out(reg) _,
            c3 = out(reg) _,
            a = inout(reg) a => _,
            b = inout(reg) b => _,
            bs = in(reg) bs,
            n = inout(reg) steps => _,
            out("ymm0") _, out("ymm1") _, out("ymm2") _, out("ymm3") _,
            out("ymm4") _, out("ymm5") _, out("ymm6") _, out("ymm7") _,
            out("ymm8") _, out("ymm9") _, out("ymm10") _, out("ymm11") _,
            out("ymm12") _, out("ymm13") _, out("ymm14") _, out("ymm15") _,
            options(nostack),
        );
    }
}

/// A whole `24 × 8` micro-tile of a Gram block added to its `f64` accumulators: for each
/// group of four columns, twelve sums from zero over `steps` ([`cols_24x4`]'s chains), then
/// `c[i, j] += α · f64(s[i, j])` (a product and a sum, each rounded once, as
/// `simd::gemm::finish` computes it). Column `j` of the tile is `c + j·ldc` (`f64`s), rows
/// `0..24` contiguous. The same bits as the portable path, without copying the sums through
/// two buffers and converting them one by one.
///
/// # Safety
/// The CPU must have AVX, AVX2 and FMA; `a` must be valid for reading `24 · steps` floats,
/// `b` for `bstep · (steps − 1) + 8` (step `p` of the right operand at `b + p·bstep`
/// floats, as in [`cols_24x4`]), and `c + j·ldc .. + 24` for reading and writing for
/// `j < 8`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx,avx2,fma")]
pub(crate) unsafe fn gram_24x8_f64(
    a: *const f32,
    b: *const f32,
    bstep: usize,
    steps: usize,
    c: *mut f64,
    ldc: usize,
    alpha: f64,
) {
    for g in 0..2 {
        // SAFETY: the caller's guarantees, for columns 4g .. 4g + 4 of the tile and the
        // group's first column of each step of the right panel.
        unsafe {
            gram_group_f64(
                a,
                b.add(4 * g),
                4 * bstep,
                steps,
                c.add(4 * g * ldc),
                ldc * 8,
                &alpha,
            )
        };
    }
}

/// One group of [`gram_24x8_f64`]: four columns at `c`, `ld` bytes apart.
///
/// # Safety
/// As [`gram_24x8_f64`], for four columns.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx,avx2,fma")]
unsafe fn gram_group_f64(
    a: *const f32,
    b: *const f32,
    bs: usize,
    steps: usize,
    c: *mut f64,
    ld: usize,
    alpha: &f64,
) {
    // SAFETY: the caller guarantees the instruction set and every range read or written:
    // `a` and `b` for `steps` steps, four columns of 24 `f64`s at `c + j·ld` bytes; `alpha`
    // is a reference; no stack is used.
    unsafe {
        core::arch::asm!(
            "lea {c1}, [{c0} + {ld}]",
            "lea {c2}, [{c0} + 2*{ld}]",
            "lea {c3}, [{c1} + 2*{ld}]",
            "vxorps ymm0, ymm0, ymm0",
            "vxorps ymm1, ymm1, ymm1",
            "vxorps ymm2, ymm2, ymm2",
            "vxorps ymm3, ymm3, ymm3",
            "vxorps ymm4, ymm4, ymm4",
            "vxorps ymm5, ymm5, ymm5",
            "vxorps ymm6, ymm6, ymm6",
            "vxorps ymm7, ymm7, ymm7",
            "vxorps ymm8, ymm8, ymm8",
            "vxorps ymm9, ymm9, ymm9",
            "vxorps ymm10, ymm10, ymm10",
            "vxorps ymm11, ymm11, ymm11",
            "test {n}, {n}",
            "jz 5f",
            steps_24x4!(),
            "5:",
            "vbroadcastsd ymm15, qword ptr [{alpha}]",
            "vcvtps2pd ymm12, xmm0",
            "vextractf128 xmm13, ymm0, 1",
            "vcvtps2pd ymm13, xmm13",
            "vmulpd ymm12, ymm12, ymm15",
            "vmulpd ymm13, ymm13, ymm15",
            "vaddpd ymm12, ymm12, [{c0} + 0]",
            "vaddpd ymm13, ymm13, [{c0} + 32]",
            "vmovupd [{c0} + 0], ymm12",
            "vmovupd [{c0} + 32], ymm13",
            "vcvtps2pd ymm12, xmm1",
            "vextractf128 xmm13, ymm1, 1",
            "vcvtps2pd ymm13, xmm13",
            "vmulpd ymm12, ymm12, ymm15",
            "vmulpd ymm13, ymm13, ymm15",
            "vaddpd ymm12, ymm12, [{c0} + 64]",
            "vaddpd ymm13, ymm13, [{c0} + 96]",
            "vmovupd [{c0} + 64], ymm12",
            "vmovupd [{c0} + 96], ymm13",
            "vcvtps2pd ymm12, xmm2",
            "vextractf128 xmm13, ymm2, 1",
            "vcvtps2pd ymm13, xmm13",
            "vmulpd ymm12, ymm12, ymm15",
            "vmulpd ymm13, ymm13, ymm15",
            "vaddpd ymm12, ymm12, [{c0} + 128]",
            "vaddpd ymm13, ymm13, [{c0} + 160]",
            "vmovupd [{c0} + 128], ymm12",
            "vmovupd [{c0} + 160], ymm13",
            "vcvtps2pd ymm12, xmm3",
            "vextractf128 xmm13, ymm3, 1",
            "vcvtps2pd ymm13, xmm13",
            "vmulpd ymm12, ymm12, ymm15",
            "vmulpd ymm13, ymm13, ymm15",
            "vaddpd ymm12, ymm12, [{c1} + 0]",
            "vaddpd ymm13, ymm13, [{c1} + 32]",
            "vmovupd [{c1} + 0], ymm12",
            "vmovupd [{c1} + 32], ymm13",
            "vcvtps2pd ymm12, xmm4",
            "vextractf128 xmm13, ymm4, 1",
            "vcvtps2pd ymm13, xmm13",
            "vmulpd ymm12, ymm12, ymm15",
            "vmulpd ymm13, ymm13, ymm15",
            "vaddpd ymm12, ymm12, [{c1} + 64]",
            "vaddpd ymm13, ymm13, [{c1} + 96]",
            "vmovupd [{c1} + 64], ymm12",
            "vmovupd [{c1} + 96], ymm13",
            "vcvtps2pd ymm12, xmm5",
            "vextractf128 xmm13, ymm5, 1",
            "vcvtps2pd ymm13, xmm13",
            "vmulpd ymm12, ymm12, ymm15",
            "vmulpd ymm13, ymm13, ymm15",
            "vaddpd ymm12, ymm12, [{c1} + 128]",
            "vaddpd ymm13, ymm13, [{c1} + 160]",
            "vmovupd [{c1} + 128], ymm12",
            "vmovupd [{c1} + 160], ymm13",
            "vcvtps2pd ymm12, xmm6",
            "vextractf128 xmm13, ymm6, 1",
            "vcvtps2pd ymm13, xmm13",
            "vmulpd ymm12, ymm12, ymm15",
            "vmulpd ymm13, ymm13, ymm15",
            "vaddpd ymm12, ymm12, [{c2} + 0]",
            "vaddpd ymm13, ymm13, [{c2} + 32]",
            "vmovupd [{c2} + 0], ymm12",
            "vmovupd [{c2} + 32], ymm13",
            "vcvtps2pd ymm12, xmm7",
            "vextractf128 xmm13, ymm7, 1",
            "vcvtps2pd ymm13, xmm13",
            "vmulpd ymm12, ymm12, ymm15",
            "vmulpd ymm13, ymm13, ymm15",
            "vaddpd ymm12, ymm12, [{c2} + 64]",
            "vaddpd ymm13, ymm13, [{c2} + 96]",
            "vmovupd [{c2} + 64], ymm12",
            "vmovupd [{c2} + 96], ymm13",
            "vcvtps2pd ymm12, xmm8",
            "vextractf128 xmm13, ymm8, 1",
            "vcvtps2pd ymm13, xmm13",
            "vmulpd ymm12, ymm12, ymm15",
            "vmulpd ymm13, ymm13, ymm15",
            "vaddpd ymm12, ymm12, [{c2} + 128]",
            "vaddpd ymm13, ymm13, [{c2} + 160]",
            "vmovupd [{c2} + 128], ymm12",
            "vmovupd [{c2} + 160], ymm13",
            "vcvtps2pd ymm12, xmm9",
            "vextractf128 xmm13, ymm9, 1",
            "vcvtps2pd ymm13, xmm13",
            "vmulpd ymm12, ymm12, ymm15",
            "vmulpd ymm13, ymm13, ymm15",
            "vaddpd ymm12, ymm12, [{c3} + 0]",
            "vaddpd ymm13, ymm13, [{c3} + 32]",
            "vmovupd [{c3} + 0], ymm12",
            "vmovupd [{c3} + 32], ymm13",
            "vcvtps2pd ymm12, xmm10",
            "vextractf128 xmm13, ymm10, 1",
            "vcvtps2pd ymm13, xmm13",
            "vmulpd ymm12, ymm12, ymm15",
            "vmulpd ymm13, ymm13, ymm15",
            "vaddpd ymm12, ymm12, [{c3} + 64]",
            "vaddpd ymm13, ymm13, [{c3} + 96]",
            "vmovupd [{c3} + 64], ymm12",
            "vmovupd [{c3} + 96], ymm13",
            "vcvtps2pd ymm12, xmm11",
            "vextractf128 xmm13, ymm11, 1",
            "vcvtps2pd ymm13, xmm13",
            "vmulpd ymm12, ymm12, ymm15",
            "vmulpd ymm13, ymm13, ymm15",
            "vaddpd ymm12, ymm12, [{c3} + 128]",
            "vaddpd ymm13, ymm13, [{c3} + 160]",
            "vmovupd [{c3} + 128], ymm12",
            "vmovupd [{c3} + 160], ymm13",
            c0 = in(reg) c,
            ld = in(reg) ld,
            alpha = in(reg) alpha,
            c1 = out(reg) _,
            c2 = out(reg) _,
            c3 = out(reg) _,
            a = inout(reg) a => _,
            b = inout(reg) b => _,
            bs = in(reg) bs,
            n = inout(reg) steps => _,
            out("ymm0") _, out("ymm1") _, out("ymm2") _, out("ymm3") _,
            out("ymm4") _, out("ymm5") _, out("ymm6") _, out("ymm7") _,
            out("ymm8") _, out("ymm9") _, out("ymm10") _, out("ymm11") _,
            out("ymm12") _, out("ymm13") _, out("ymm14") _, out("ymm15") _,
            options(nostack),
        );
    }
}

/// `dst[u·8 + q] = src[q·8 + u]`: an `8 × 8` transpose in registers (unpack, shuffle and
/// lane permutes, 24 shuffles where the plain loop was 64 scalar moves).
///
/// # Safety
/// The CPU must have AVX.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
pub(crate) unsafe fn transpose_8x8(src: &[f32; 64], dst: &mut [f32; 64]) {
    use core::arch::x86_64::*;
    // SAFETY: AVX is guaranteed by the caller; every load and store is of 8 floats inside
    // `src` or `dst` (unaligned forms).
    unsafe {
        let r: [__m256; 8] = core::array::from_fn(|q| _mm256_loadu_ps(src.as_ptr().add(8 * q)));
        let t0 = _mm256_unpacklo_ps(r[0], r[1]);
        let t1 = _mm256_unpackhi_ps(r[0], r[1]);
        let t2 = _mm256_unpacklo_ps(r[2], r[3]);
        let t3 = _mm256_unpackhi_ps(r[2], r[3]);
        let t4 = _mm256_unpacklo_ps(r[4], r[5]);
        let t5 = _mm256_unpackhi_ps(r[4], r[5]);
        let t6 = _mm256_unpacklo_ps(r[6], r[7]);
        let t7 = _mm256_unpackhi_ps(r[6], r[7]);
        let s0 = _mm256_shuffle_ps::<0x44>(t0, t2);
        let s1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
        let s2 = _mm256_shuffle_ps::<0x44>(t1, t3);
        let s3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
        let s4 = _mm256_shuffle_ps::<0x44>(t4, t6);
        let s5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
        let s6 = _mm256_shuffle_ps::<0x44>(t5, t7);
        let s7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
        let out = [
            _mm256_permute2f128_ps::<0x20>(s0, s4),
            _mm256_permute2f128_ps::<0x20>(s1, s5),
            _mm256_permute2f128_ps::<0x20>(s2, s6),
            _mm256_permute2f128_ps::<0x20>(s3, s7),
            _mm256_permute2f128_ps::<0x31>(s0, s4),
            _mm256_permute2f128_ps::<0x31>(s1, s5),
            _mm256_permute2f128_ps::<0x31>(s2, s6),
            _mm256_permute2f128_ps::<0x31>(s3, s7),
        ];
        for (u, v) in out.into_iter().enumerate() {
            _mm256_storeu_ps(dst.as_mut_ptr().add(8 * u), v);
        }
    }
}

/// The analytic input Gram's AVX2 micro-kernel (`analytic::input_gram`): `t[3·r + c]` (four
/// `f64` lanes each) `+= Σ_s a_r[s] · panel[s·12 + 4c ..]` over `s < steps`, each
/// lane the sequential fused chain over `s` (`vfmadd231pd`), for four rows `a_r` and a panel
/// of twelve columns packed `s`-major. Twelve sums, three panel vectors and a broadcast fill
/// the sixteen registers; the compiler kept sums on the stack instead (the same trouble as
/// [`cols_24x4`]).
///
/// # Safety
/// The CPU must have AVX, AVX2 and FMA; each `a[r]` must be valid for reading `steps` values
/// and `panel` for `12 · steps`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx,avx2,fma")]
pub(crate) unsafe fn gram_4x12_f64(
    a: [*const f64; 4],
    panel: *const f64,
    steps: usize,
    t: &mut [[f64; 4]; 12],
) {
    if steps == 0 {
        return;
    }
    // SAFETY: the caller guarantees the instruction set and the extents read; `t` is
    // 12 × 32 bytes, read and written in place; no stack is used.
    unsafe {
        core::arch::asm!(
            "vmovupd ymm0, [{t}]",
            "vmovupd ymm1, [{t} + 32]",
            "vmovupd ymm2, [{t} + 64]",
            "vmovupd ymm3, [{t} + 96]",
            "vmovupd ymm4, [{t} + 128]",
            "vmovupd ymm5, [{t} + 160]",
            "vmovupd ymm6, [{t} + 192]",
            "vmovupd ymm7, [{t} + 224]",
            "vmovupd ymm8, [{t} + 256]",
            "vmovupd ymm9, [{t} + 288]",
            "vmovupd ymm10, [{t} + 320]",
            "vmovupd ymm11, [{t} + 352]",
            "2:",
            "vmovupd ymm12, [{p}]",
            "vmovupd ymm13, [{p} + 32]",
            "vmovupd ymm14, [{p} + 64]",
            "vbroadcastsd ymm15, qword ptr [{a0}]",
            "vfmadd231pd ymm0, ymm12, ymm15",
            "vfmadd231pd ymm1, ymm13, ymm15",
            "vfmadd231pd ymm2, ymm14, ymm15",
            "vbroadcastsd ymm15, qword ptr [{a1}]",
            "vfmadd231pd ymm3, ymm12, ymm15",
            "vfmadd231pd ymm4, ymm13, ymm15",
            "vfmadd231pd ymm5, ymm14, ymm15",
            "vbroadcastsd ymm15, qword ptr [{a2}]",
            "vfmadd231pd ymm6, ymm12, ymm15",
            "vfmadd231pd ymm7, ymm13, ymm15",
            "vfmadd231pd ymm8, ymm14, ymm15",
            "vbroadcastsd ymm15, qword ptr [{a3}]",
            "vfmadd231pd ymm9, ymm12, ymm15",
            "vfmadd231pd ymm10, ymm13, ymm15",
            "vfmadd231pd ymm11, ymm14, ymm15",
            "add {p}, 96",
            "add {a0}, 8",
            "add {a1}, 8",
            "add {a2}, 8",
            "add {a3}, 8",
            "dec {n}",
            "jnz 2b",
            "vmovupd [{t}], ymm0",
            "vmovupd [{t} + 32], ymm1",
            "vmovupd [{t} + 64], ymm2",
            "vmovupd [{t} + 96], ymm3",
            "vmovupd [{t} + 128], ymm4",
            "vmovupd [{t} + 160], ymm5",
            "vmovupd [{t} + 192], ymm6",
            "vmovupd [{t} + 224], ymm7",
            "vmovupd [{t} + 256], ymm8",
            "vmovupd [{t} + 288], ymm9",
            "vmovupd [{t} + 320], ymm10",
            "vmovupd [{t} + 352], ymm11",
            t = in(reg) t.as_mut_ptr(),
            p = inout(reg) panel => _,
            a0 = inout(reg) a[0] => _,
            a1 = inout(reg) a[1] => _,
            a2 = inout(reg) a[2] => _,
            a3 = inout(reg) a[3] => _,
            n = inout(reg) steps => _,
            out("ymm0") _, out("ymm1") _, out("ymm2") _, out("ymm3") _,
            out("ymm4") _, out("ymm5") _, out("ymm6") _, out("ymm7") _,
            out("ymm8") _, out("ymm9") _, out("ymm10") _, out("ymm11") _,
            out("ymm12") _, out("ymm13") _, out("ymm14") _, out("ymm15") _,
            options(nostack),
        );
    }
}

#[cfg(test)]
mod tests {
    /// The `f32` chain of one entry and its `f64` update, written plainly.
    fn chain(a: &[f32], b: &[f32], bstep: usize, i: usize, j: usize, steps: usize) -> f32 {
        (0..steps).fold(0.0f32, |s, p| a[p * 24 + i].mul_add(b[p * bstep + j], s))
    }

    /// Both assembly loops with the right operand read at steps of 8 floats (a right panel)
    /// and of 24 and 32 (inside left panels), against the plain chains, bit for bit: the
    /// sums of `cols_24x4` and the `f64` accumulators of `gram_24x8_f64`.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn strided_right_operands_give_the_plain_chains() {
        if !super::available() {
            return;
        }
        let val = |k: usize| ((k * 7919 % 1009) as f32 - 504.0) / 97.0;
        for &(bstep, steps) in &[(8usize, 1usize), (8, 37), (24, 37), (32, 256), (24, 1)] {
            let a: Vec<f32> = (0..24 * steps).map(val).collect();
            let b: Vec<f32> = (0..bstep * (steps - 1) + 8).map(|k| val(k + 5)).collect();
            for g in 0..2 {
                let mut t = [[0.0f32; 8]; 12];
                // SAFETY: AVX2 and FMA were detected; `a` holds 24 floats per step and
                // `b[4g..]` bstep·(steps − 1) + 4.
                unsafe { super::cols_24x4(a.as_ptr(), b[4 * g..].as_ptr(), bstep, steps, &mut t) };
                for j in 0..4 {
                    for i in 0..24 {
                        let want = chain(&a, &b, bstep, i, 4 * g + j, steps);
                        assert_eq!(
                            t[3 * j + i / 8][i % 8].to_bits(),
                            want.to_bits(),
                            "cols_24x4 bstep {bstep} steps {steps} ({i}, {})",
                            4 * g + j
                        );
                    }
                }
            }
            let (ldc, alpha) = (29usize, 0.37f64);
            let c0: Vec<f64> = (0..ldc * 8).map(|k| f64::from(val(k + 11))).collect();
            let mut c = c0.clone();
            // SAFETY: as above; column `j` of the tile is `c[j·ldc .. + 24]`, inside `c`.
            unsafe {
                super::gram_24x8_f64(
                    a.as_ptr(),
                    b.as_ptr(),
                    bstep,
                    steps,
                    c.as_mut_ptr(),
                    ldc,
                    alpha,
                )
            };
            for j in 0..8 {
                for i in 0..24 {
                    let want =
                        c0[j * ldc + i] + alpha * f64::from(chain(&a, &b, bstep, i, j, steps));
                    assert_eq!(
                        c[j * ldc + i].to_bits(),
                        want.to_bits(),
                        "gram_24x8_f64 bstep {bstep} steps {steps} ({i}, {j})"
                    );
                }
            }
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn transpose_matches_the_index_swap() {
        if !std::arch::is_x86_feature_detected!("avx") {
            return;
        }
        let src: [f32; 64] = core::array::from_fn(|i| i as f32 * 1.5 - 7.0);
        let mut dst = [0.0f32; 64];
        // SAFETY: AVX was detected above.
        unsafe { super::transpose_8x8(&src, &mut dst) };
        for u in 0..8 {
            for q in 0..8 {
                assert_eq!(
                    dst[u * 8 + q].to_bits(),
                    src[q * 8 + u].to_bits(),
                    "({u}, {q})"
                );
            }
        }
    }
}
