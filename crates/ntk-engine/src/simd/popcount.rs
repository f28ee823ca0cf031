//! `Σ_w popcount(a[w] & b[w])` over rows of packed bits: the Gram matrix of 0/1 vectors.
//!
//! Four ways to count, chosen at run time by [`Level::best`] (or forced with
//! [`gram_counts_at`], for tests and benchmarks):
//!
//! * [`Level::Vpopcntdq`]: AVX-512 `VPOPCNTQ`, 512 bits per instruction;
//! * [`Level::Avx2Shuffle`]: the nibble-table method of Muła, Kurz & Lemire (2018, "Faster
//!   population counts using AVX2 instructions"): each byte's count is two `VPSHUFB` lookups
//!   of its nibbles in a 16-entry table, summed per byte over up to 31 steps, then per
//!   64-bit lane by `VPSADBW`;
//! * [`Level::Popcnt`]: the scalar `POPCNT` instruction on each word (pulp's levels);
//! * [`Level::Portable`]: `u64::count_ones` without target features.
//!
//! All give the same integers (counts are exact).
//!
//! # Why the two fast levels bypass pulp
//! pulp's instruction-set levels (`V3` = AVX2 + FMA + …, `V4` = AVX-512 F/BW/CD/DQ/VL) do
//! not include `avx512vpopcntdq`, so no pulp level lets LLVM emit `VPOPCNTQ`; and the AVX2
//! count is written with raw `VPSHUFB`/`VPSADBW` intrinsics, which pulp's safe vector types
//! do not offer. These two levels are therefore `#[target_feature]` functions of this file,
//! entered only after [`Level::available`] detected every feature they enable (the only
//! `unsafe` here); the `Popcnt` level goes through pulp's dispatch as the rest of `simd/`.

use pulp::Arch;

/// The dot product of two bit rows: the number of positions set in both.
#[inline(always)]
fn and_popcount_portable(a: &[u64], b: &[u64]) -> u64 {
    // Four independent sums so the adds do not serialise behind each popcount.
    let (mut s0, mut s1, mut s2, mut s3) = (0u64, 0u64, 0u64, 0u64);
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        s0 += (x[0] & y[0]).count_ones() as u64;
        s1 += (x[1] & y[1]).count_ones() as u64;
        s2 += (x[2] & y[2]).count_ones() as u64;
        s3 += (x[3] & y[3]).count_ones() as u64;
    }
    for (x, y) in ra.iter().zip(rb) {
        s0 += (x & y).count_ones() as u64;
    }
    s0 + s1 + s2 + s3
}

/// How the bits are counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// AVX-512 `VPOPCNTQ` (needs `avx512f`, `avx512vpopcntdq` and `popcnt`).
    Vpopcntdq,
    /// AVX2 nibble-table `VPSHUFB` counts (needs `avx2` and `popcnt`).
    Avx2Shuffle,
    /// The scalar `POPCNT` per word, under the best instruction set pulp finds.
    Popcnt,
    /// Portable code, no target features.
    Portable,
}

impl Level {
    /// Every level, fastest first.
    pub const ALL: [Level; 4] = [
        Level::Vpopcntdq,
        Level::Avx2Shuffle,
        Level::Popcnt,
        Level::Portable,
    ];

    /// Whether this CPU can run the level: every target feature its function enables is
    /// detected.
    pub fn available(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            match self {
                Level::Vpopcntdq => {
                    std::arch::is_x86_feature_detected!("avx512vpopcntdq")
                        && std::arch::is_x86_feature_detected!("avx512f")
                        && std::arch::is_x86_feature_detected!("popcnt")
                }
                Level::Avx2Shuffle => {
                    std::arch::is_x86_feature_detected!("avx2")
                        && std::arch::is_x86_feature_detected!("popcnt")
                }
                Level::Popcnt | Level::Portable => true,
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            matches!(self, Level::Popcnt | Level::Portable)
        }
    }

    /// The fastest level this CPU runs.
    pub fn best() -> Level {
        Level::ALL
            .into_iter()
            .find(|l| l.available())
            .unwrap_or(Level::Portable)
    }
}

/// `counts[i·rj + j] += Σ_w popcount(a_i[w] & b_j[w])` for the `ri` rows of `a` and `rj` rows
/// of `b` (each `words` long, row-major); with `lower`, only `j ≤ i`; at `level`
/// ([`Level::best`] is the fastest the CPU runs).
///
/// # Panics
/// If the CPU cannot run `level` ([`Level::available`]).
pub fn gram_counts_at(
    level: Level,
    a: &[u64],
    b: &[u64],
    words: usize,
    counts: &mut [u64],
    lower: bool,
) {
    assert!(level.available(), "{level:?} is not available on this CPU");
    let (ri, rj) = (a.len() / words.max(1), b.len() / words.max(1));
    debug_assert_eq!(counts.len(), ri * rj);
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `gram_counts_vpopcnt` enables avx512f, avx512vpopcntdq and popcnt;
        // `level.available()` (asserted above) detected all three on this CPU.
        Level::Vpopcntdq => unsafe { gram_counts_vpopcnt(a, b, words, counts, lower, ri, rj) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `gram_counts_avx2` enables avx2 and popcnt; `level.available()` (asserted
        // above) detected both on this CPU.
        Level::Avx2Shuffle => unsafe { gram_counts_avx2(a, b, words, counts, lower, ri, rj) },
        Level::Popcnt => Arch::new().dispatch(
            #[inline(always)]
            || gram_counts_body(a, b, words, counts, lower, ri, rj, and_popcount_portable),
        ),
        _ => gram_counts_body(a, b, words, counts, lower, ri, rj, and_popcount_portable),
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn gram_counts_body(
    a: &[u64],
    b: &[u64],
    words: usize,
    counts: &mut [u64],
    lower: bool,
    ri: usize,
    rj: usize,
    dot: impl Fn(&[u64], &[u64]) -> u64,
) {
    for i in 0..ri {
        let ai = &a[i * words..(i + 1) * words];
        let end = if lower { (i + 1).min(rj) } else { rj };
        for j in 0..end {
            counts[i * rj + j] += dot(ai, &b[j * words..(j + 1) * words]);
        }
    }
}

/// # Safety
/// The CPU must support `avx512f`, `avx512vpopcntdq` and `popcnt` (the features enabled).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vpopcntdq,popcnt")]
unsafe fn gram_counts_vpopcnt(
    a: &[u64],
    b: &[u64],
    words: usize,
    counts: &mut [u64],
    lower: bool,
    ri: usize,
    rj: usize,
) {
    // The same loop; compiled with VPOPCNTDQ enabled, LLVM vectorises the popcount of the
    // AND into 512-bit VPANDQ + VPOPCNTQ + VPADDQ.
    gram_counts_body(a, b, words, counts, lower, ri, rj, and_popcount_portable)
}

/// # Safety
/// The CPU must support `avx2` and `popcnt` (the features enabled).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
#[allow(clippy::too_many_arguments)]
unsafe fn gram_counts_avx2(
    a: &[u64],
    b: &[u64],
    words: usize,
    counts: &mut [u64],
    lower: bool,
    ri: usize,
    rj: usize,
) {
    gram_counts_body(a, b, words, counts, lower, ri, rj, |x, y| {
        // SAFETY: this closure runs inside `gram_counts_avx2`, whose caller guarantees avx2
        // and popcnt, the two features `and_popcount_avx2` enables.
        unsafe { and_popcount_avx2(x, y) }
    })
}

/// `Σ_w popcount(a[w] & b[w])` by nibble lookups, 256 bits per step.
///
/// # Safety
/// The CPU must support `avx2` and `popcnt` (the features enabled).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
#[inline]
unsafe fn and_popcount_avx2(a: &[u64], b: &[u64]) -> u64 {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len());
    let steps = n / 4;
    // Bits set in 0..15.
    let table = _mm256_setr_epi8(
        0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3,
        3, 4,
    );
    let low = _mm256_set1_epi8(0x0f);
    let mut total = _mm256_setzero_si256();
    let mut s = 0;
    while s < steps {
        // At most 8 per byte per step: 31 steps fit in a byte (248 ≤ 255).
        let end = (s + 31).min(steps);
        let mut bytes = _mm256_setzero_si256();
        while s < end {
            let (pa, pb) = (a[4 * s..4 * s + 4].as_ptr(), b[4 * s..4 * s + 4].as_ptr());
            // SAFETY: both slices hold the 4 words (32 bytes) read; unaligned loads.
            let v = unsafe {
                _mm256_and_si256(_mm256_loadu_si256(pa.cast()), _mm256_loadu_si256(pb.cast()))
            };
            let lo = _mm256_shuffle_epi8(table, _mm256_and_si256(v, low));
            let hi = _mm256_shuffle_epi8(table, _mm256_and_si256(_mm256_srli_epi16(v, 4), low));
            bytes = _mm256_add_epi8(bytes, _mm256_add_epi8(lo, hi));
            s += 1;
        }
        total = _mm256_add_epi64(total, _mm256_sad_epu8(bytes, _mm256_setzero_si256()));
    }
    let mut lanes = [0u64; 4];
    // SAFETY: `lanes` is 32 bytes; unaligned store.
    unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), total) };
    let tail: u64 = a[4 * steps..n]
        .iter()
        .zip(&b[4 * steps..n])
        .map(|(x, y)| (x & y).count_ones() as u64)
        .sum();
    lanes.iter().sum::<u64>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_match_a_bit_by_bit_loop() {
        let bits = |seed: u64, n: usize, words: usize| -> Vec<u64> {
            let mut s = seed | 1;
            (0..n * words)
                .map(|_| {
                    s ^= s << 13;
                    s ^= s >> 7;
                    s ^= s << 17;
                    s
                })
                .collect()
        };
        // 37 words: 9 AVX2 steps and a tail; 300 words: more than 31 steps per byte sum.
        for words in [37, 300] {
            let (a, b) = (bits(3, 5, words), bits(9, 4, words));
            for level in Level::ALL.into_iter().filter(|l| l.available()) {
                for lower in [false, true] {
                    let mut c = vec![1u64; 20];
                    gram_counts_at(level, &a, &b, words, &mut c, lower);
                    for i in 0..5 {
                        for j in 0..4 {
                            let mut want = 1;
                            if !lower || j <= i {
                                for w in 0..words {
                                    for bit in 0..64 {
                                        want += (a[i * words + w] >> bit)
                                            & (b[j * words + w] >> bit)
                                            & 1;
                                    }
                                }
                            }
                            assert_eq!(c[i * 4 + j], want, "{level:?} words {words}");
                        }
                    }
                }
            }
        }
    }

    /// All-ones rows: every byte counts 8 per step, the worst case of the byte sums.
    #[test]
    fn byte_sums_do_not_overflow() {
        let words = 4 * 100 + 3;
        let ones = vec![u64::MAX; words];
        for level in Level::ALL.into_iter().filter(|l| l.available()) {
            let mut c = vec![0u64; 1];
            gram_counts_at(level, &ones, &ones, words, &mut c, false);
            assert_eq!(c[0], 64 * words as u64, "{level:?}");
        }
    }
}
