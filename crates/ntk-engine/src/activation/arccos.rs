//! The ABReLU family `φ(x) = a·min(x, 0) + b·max(x, 0)`: ReLU (`a = 0, b = 1`), leaky ReLU
//! (`a = α, b = 1`) and Abs (`a = −1, b = 1`).
//!
//! Its infinite-width kernel is the arc-cosine kernel of degree 1 (and degree 0 for the
//! derivative), Cho & Saul, "Kernel Methods for Deep Learning", NeurIPS 2009.

use crate::scalar::Real;

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
