//! The exact (erf-based) GELU, `φ(x) = x·Φ(x) = ½·x·(1 + erf(x/√2))`
//! (Hendrycks & Gimpel 2016), with the closed-form kernel neural-tangents uses.

use crate::scalar::Real;
use crate::simd::atan2::atan2;

const FRAC_1_SQRT_2: f64 = core::f64::consts::FRAC_1_SQRT_2;
/// `1/√(2π)`.
const FRAC_1_SQRT_2PI: f64 = 0.3989422804014327;

/// `x·Φ(x)`.
#[inline(always)]
pub fn value<T: Real>(x: T) -> T {
    T::of(0.5) * x * (T::ONE + (x * T::of(FRAC_1_SQRT_2)).erf())
}

/// `Φ(x) + x·ϕ(x)` with `ϕ` the standard normal density.
#[inline(always)]
pub fn derivative<T: Real>(x: T) -> T {
    let cdf = T::of(0.5) * (T::ONE + (x * T::of(FRAC_1_SQRT_2)).erf());
    cdf + x * T::of(FRAC_1_SQRT_2PI) * (-(x * x) * T::of(0.5)).exp()
}

/// The infinite-width transform of one pair, neural-tangents' closed form: with
/// `P = q1·q2`, `P₁ = (q1 + 1)(q2 + 1)`, `Δ² = P₁ − K²`, `α = atan2(K, Δ)`,
///
/// ```text
/// K' = ((K² + P·Δ²)/(P₁·Δ) + K·α)/(2π) + K/4
/// ḋ  = 1/4 + α/(2π) + K/(2πΔ)·(1/Δ² + (1 − P)/P₁ + 1)
/// ```
///
/// returned as `(K', ḋ)`. Evaluated in a mathematically identical form that stays finite
/// for huge variances (deep nets with large `W_std`): `Δ² = max(P − K², 0) + q1 + q2 + 1`
/// (so `Δ² ≥ 1` even when `(q + 1)² − q²` would round to 0), `(K² + P·Δ²)/(P₁·Δ) =
/// K²/(P₁·Δ) + (P/P₁)·Δ` (no `q⁴`), and `1 + (1 − P)/P₁ = (q1 + q2 + 2)/P₁` (no
/// cancellation). These agree with neural-tangents' form to a few ulps for moderate `q`.
#[inline(always)]
pub fn nngp_ntk(k: f64, q1: f64, q2: f64) -> (f64, f64) {
    use core::f64::consts::TAU;
    let prod = q1 * q2;
    let prod1 = (q1 + 1.0) * (q2 + 1.0);
    let delta2 = (prod - k * k).max(0.0) + (q1 + q2 + 1.0);
    let delta = delta2.sqrt();
    let alpha = atan2(k, delta);
    let kn = (k * k / (prod1 * delta) + prod / prod1 * delta + k * alpha) / TAU + 0.25 * k;
    let first = (1.0 / delta2 + (q1 + q2 + 2.0) / prod1) * (k / delta / TAU);
    (kn, first + (0.25 + alpha / TAU))
}

/// The variance transform
/// `q' = q·(1/4 + (q/((q + 1)·√(1 + 2q)) + atan2(q, √(1 + 2q))/2)/π)`.
#[inline]
pub fn variance(q: f64) -> f64 {
    let root = (1.0 + 2.0 * q).sqrt();
    let inner = q / ((q + 1.0) * root) + atan2(q, root) / 2.0;
    q * (inner / core::f64::consts::PI + 0.25)
}
