//! `Σ_w popcount(a[w] & b[w])` over rows of packed bits: the Gram matrix of 0/1 vectors.
//!
//! The AVX-512 `VPOPCNTDQ` version counts 512 bits per instruction; it is selected at run
//! time when the CPU has it, else the loop runs with the scalar `POPCNT` instruction (pulp's
//! AVX2 level), else in portable code. All three give the same integers.

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

/// `counts[i·rj + j] += Σ_w popcount(a_i[w] & b_j[w])` for the `ri` rows of `a` and `rj` rows
/// of `b` (each `words` long, row-major); with `lower`, only `j ≤ i`.
pub fn gram_counts(a: &[u64], b: &[u64], words: usize, counts: &mut [u64], lower: bool) {
    let (ri, rj) = (a.len() / words.max(1), b.len() / words.max(1));
    debug_assert_eq!(counts.len(), ri * rj);
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512vpopcntdq")
        && std::arch::is_x86_feature_detected!("avx512f")
    {
        // SAFETY: the two target features the function is compiled for were detected above.
        unsafe { gram_counts_vpopcnt(a, b, words, counts, lower, ri, rj) };
        return;
    }
    Arch::new().dispatch(
        #[inline(always)]
        || gram_counts_body(a, b, words, counts, lower, ri, rj),
    )
}

#[inline(always)]
fn gram_counts_body(
    a: &[u64],
    b: &[u64],
    words: usize,
    counts: &mut [u64],
    lower: bool,
    ri: usize,
    rj: usize,
) {
    for i in 0..ri {
        let ai = &a[i * words..(i + 1) * words];
        let end = if lower { (i + 1).min(rj) } else { rj };
        for j in 0..end {
            counts[i * rj + j] += and_popcount_portable(ai, &b[j * words..(j + 1) * words]);
        }
    }
}

/// # Safety
/// The CPU must support `avx512f` and `avx512vpopcntdq`.
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
    gram_counts_body(a, b, words, counts, lower, ri, rj)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_match_a_bit_by_bit_loop() {
        let words = 37;
        let bits = |seed: u64, n: usize| -> Vec<u64> {
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
        let (a, b) = (bits(3, 5), bits(9, 4));
        let mut c = vec![0u64; 20];
        gram_counts(&a, &b, words, &mut c, false);
        for i in 0..5 {
            for j in 0..4 {
                let mut want = 0;
                for w in 0..words {
                    for bit in 0..64 {
                        want += (a[i * words + w] >> bit) & (b[j * words + w] >> bit) & 1;
                    }
                }
                assert_eq!(c[i * 4 + j], want);
            }
        }
    }
}
