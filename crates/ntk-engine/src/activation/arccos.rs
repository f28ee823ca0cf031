//! The ABReLU family `φ(x) = a·min(x, 0) + b·max(x, 0)`: ReLU (`a = 0, b = 1`), leaky ReLU
//! (`a = α, b = 1`) and Abs (`a = −1, b = 1`).
//!
//! Its infinite-width kernel is the arc-cosine kernel of degree 1 (and degree 0 for the
//! derivative), Cho & Saul, "Kernel Methods for Deep Learning", NeurIPS 2009.

use crate::scalar::Real;
use crate::simd::atan2::atan2;

/// `a·min(x, 0) + b·max(x, 0)`.
#[inline(always)]
pub fn value<T: Real>(a: T, b: T, x: T) -> T {
    if x > T::ZERO { b * x } else { a * x }
}

/// `φ'(x)`: `b` for `x > 0`, `a` otherwise (the sub-gradient at 0 is taken as `a`, as
/// JAX's `relu` takes 0 there).
#[inline(always)]
pub fn derivative<T: Real>(a: T, b: T, x: T) -> T {
    if x > T::ZERO { b } else { a }
}

/// The derivative kernel `ḋ = E[φ'(u)φ'(v)] = (a² + b²)/2 − (a − b)²·θ/(2π)` of two
/// Gaussian pre-activations at angle `θ`; for ReLU the arc-cosine kernel of degree 0,
/// `(π − θ)/(2π)`, the probability that both lie in one half-space (Cho & Saul 2009).
/// `θ/(2π)` is formed first, so `θ = 0` gives `(a² + b²)/2` and `θ = π` gives `ab`
/// exactly for ReLU-like `a, b`.
#[inline(always)]
pub fn derivative_kernel(a: f64, b: f64, theta: f64) -> f64 {
    (a * a + b * b) / 2.0 - (a - b) * (a - b) * (theta / core::f64::consts::TAU)
}

/// The infinite-width transform of one pair: with `P = q1·q2`, `s = √max(P − K², 0)`,
/// `θ = atan2(s, K)` (`π/2` when `s = K = 0`, as neural-tangents fills it), returns
///
/// ```text
/// K' = (a − b)²/(2π)·s + ḋ·K,    ḋ = (a² + b²)/2 − (a − b)²/(2π)·θ
/// ```
///
/// as `(K', ḋ)`; the NTK is multiplied by `ḋ = E[φ'(u)φ'(v)]`. For ReLU this is Cho & Saul's
/// arc-cosine kernel of degree 1, `K' = (s + (π − θ)K)/(2π)`, with `ḋ = (π − θ)/(2π)` the
/// degree-0 kernel (Cho & Saul 2009; Jacot et al. 2018 for the NTK step).
///
/// `θ/(2π)` is formed first, so identical inputs (`s = 0, K > 0`) give `θ = 0` and
/// antipodal ones (`s = 0, K < 0`) give `θ/(2π) = ½` exactly.
///
/// Range: `P = q1·q2` and `K²` are formed as neural-tangents forms them, so the angle is
/// lost once they leave the normal `f64` range (variances below ~1e-154 or above ~1e154,
/// e.g. an input of norm 1e-150, or ~170 layers of `W_std = 4` Abs); `s` is then clamped
/// to `[0, √P]` and nothing becomes NaN, but the angle is not accurate.
#[inline(always)]
pub fn nngp_ntk(a: f64, b: f64, k: f64, q1: f64, q2: f64) -> (f64, f64) {
    let s = (q1 * q2 - k * k).max(0.0).sqrt();
    let theta = if s == 0.0 && k == 0.0 {
        core::f64::consts::FRAC_PI_2
    } else {
        atan2(s, k)
    };
    let jump = (a - b) * (a - b);
    let dot = derivative_kernel(a, b, theta);
    (jump / core::f64::consts::TAU * s + dot * k, dot)
}

/// The variance transform `q' = E[φ(u)²] = (a² + b²)/2 · q`; bitwise equal to
/// [`nngp_ntk`]`(a, b, q, q, q).0`, so a point paired with itself stays consistent.
#[inline]
pub fn variance(a: f64, b: f64, q: f64) -> f64 {
    (a * a + b * b) / 2.0 * q
}
