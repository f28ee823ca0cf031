//! Activations without a closed-form kernel in this engine: tanh, softplus and sin (their
//! infinite-width kernels go through Gauss–Hermite quadrature), and the identity.

use crate::scalar::Real;

/// `tanh(x)`.
#[inline(always)]
pub fn tanh<T: Real>(x: T) -> T {
    x.tanh()
}

/// `1 − tanh²(x)`.
#[inline(always)]
pub fn tanh_derivative<T: Real>(x: T) -> T {
    let t = x.tanh();
    T::ONE - t * t
}

/// `ln(1 + eˣ)`, computed as `max(x, 0) + ln(1 + e^{−|x|})` so it never overflows.
#[inline(always)]
pub fn softplus<T: Real>(x: T) -> T {
    let pos = if x > T::ZERO { x } else { T::ZERO };
    pos + (-x.abs()).exp().ln_1p()
}

/// The logistic sigmoid `1/(1 + e^{−x})`, the derivative of softplus, computed without
/// overflow for either sign.
#[inline(always)]
pub fn softplus_derivative<T: Real>(x: T) -> T {
    let e = (-x.abs()).exp();
    if x >= T::ZERO {
        T::ONE / (T::ONE + e)
    } else {
        e / (T::ONE + e)
    }
}
