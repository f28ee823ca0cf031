//! The erf family `φ(x) = a·erf(b·x) + c`: Erf (`1, 1, 0`) and the sigmoid-like
//! `0.5·erf(x/2.4020563531719796) + 0.5` (`0.5, 1/2.4020563531719796, 0.5`).
//!
//! Its infinite-width kernel is Williams' arcsine kernel, "Computing with Infinite
//! Networks", NeurIPS 1997.

use crate::scalar::Real;

/// The scale under the erf of the sigmoid-like activation, as neural-tangents defines it.
pub const SIGMOID_LIKE_WIDTH: f64 = 2.4020563531719796;

/// `2/√π`.
const TWO_OVER_SQRT_PI: f64 = 1.1283791670955126;

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
