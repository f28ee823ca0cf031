//! The erf family `φ(x) = a·erf(b·x) + c`: Erf (`1, 1, 0`) and the sigmoid-like
//! `0.5·erf(x/2.4020563531719796) + 0.5` (`0.5, 1/2.4020563531719796, 0.5`).
//!
//! Its infinite-width kernel is Williams' arcsine kernel, "Computing with Infinite
//! Networks", NeurIPS 1997.

use crate::scalar::Real;
use crate::simd::atan2::atan2;

/// The scale under the erf of the sigmoid-like activation, as neural-tangents defines it.
pub const SIGMOID_LIKE_WIDTH: f64 = 2.4020563531719796;

/// `2/√π`.
const TWO_OVER_SQRT_PI: f64 = core::f64::consts::FRAC_2_SQRT_PI;

/// `a·erf(b·x) + c`.
#[inline(always)]
pub fn value<T: Real>(a: T, b: T, c: T, x: T) -> T {
    a * (b * x).erf() + c
}

/// `a·b·(2/√π)·exp(−(b·x)²)`.
#[inline(always)]
pub fn derivative<T: Real>(a: T, b: T, x: T) -> T {
    let bx = b * x;
    a * b * T::of(TWO_OVER_SQRT_PI) * (-(bx * bx)).exp()
}

/// The infinite-width transform of one pair for `a·erf(b·x) + c` (Williams 1997), as
/// neural-tangents computes it: scale `K, q1, q2` by `b²`, then with
/// `r = √max((1 + 2q1)(1 + 2q2) − 4K², 0)`
///
/// ```text
/// K' = a²·(2/π)·atan2(2K, r) + c²,    ḋ = a²·b²·(4/π)/r
/// ```
///
/// returned as `(K', ḋ)` (the NTK is multiplied by `ḋ = E[φ'(u)φ'(v)]`). `r²` is
/// evaluated as `1 + 2(q1 + q2) + 4·max(q1·q2 − K², 0)`, identical in exact arithmetic and
/// never below 1, so huge inputs cannot round it to 0.
#[inline(always)]
pub fn nngp_ntk(a: f64, b: f64, c: f64, k: f64, q1: f64, q2: f64) -> (f64, f64) {
    let b2 = b * b;
    let (k, q1, q2) = (k * b2, q1 * b2, q2 * b2);
    // (1 + 2q1)(1 + 2q2) − 4K², written so that it stays ≥ 1 when q1·q2 ≈ K² is huge.
    let r = (1.0 + 2.0 * (q1 + q2) + 4.0 * (q1 * q2 - k * k).max(0.0)).sqrt();
    let kn = core::f64::consts::FRAC_2_PI * atan2(2.0 * k, r);
    let dot = 2.0 * core::f64::consts::FRAC_2_PI / r;
    (a * a * kn + c * c, b2 * dot * (a * a))
}

/// The variance transform `q' = a²·(2/π)·atan2(b²q, √(b²q + ¼)) + c²`.
#[inline]
pub fn variance(a: f64, b: f64, c: f64, q: f64) -> f64 {
    let q = q * b * b;
    a * a * (core::f64::consts::FRAC_2_PI * atan2(q, (q + 0.25).sqrt())) + c * c
}
