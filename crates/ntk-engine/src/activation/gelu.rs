//! The exact (erf-based) GELU, `φ(x) = x·Φ(x) = ½·x·(1 + erf(x/√2))`
//! (Hendrycks & Gimpel 2016), with the closed-form kernel neural-tangents uses.

use crate::scalar::Real;

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
