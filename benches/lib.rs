//! Criterion benchmarks of the ntk engine live in `benches/` (one binary per area); this
//! library holds the inputs they share.

/// A deterministic pseudo-random `n × d` matrix (row-major) in `[-1, 1)`.
pub fn points(n: usize, d: usize, seed: u64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n * d)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        })
        .collect()
}
