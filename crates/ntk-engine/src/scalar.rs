//! The two floating-point types the engine computes in.
//!
//! Every numeric routine is written once over [`Real`], implemented for `f32` and `f64`.
//! Special functions come from `libm` so that both precisions use the same, portable
//! implementations (the standard library has no `erf`).

use core::fmt::Debug;
use core::iter::Sum;
use core::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};

/// A real scalar the engine can compute in: `f32` or `f64`.
pub trait Real:
    faer::traits::RealField
    + Copy
    + Debug
    + Default
    + Send
    + Sync
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + Sum
    + 'static
{
    /// Short name used in messages and file headers (`"f32"` or `"f64"`).
    const NAME: &'static str;
    /// Zero.
    const ZERO: Self;
    /// One.
    const ONE: Self;
    /// Rounds an `f64` to this type.
    fn of(x: f64) -> Self;
    /// Widens to `f64` (exact).
    fn f64(self) -> f64;
    /// The error function.
    fn erf(self) -> Self;
    /// `e^x`.
    fn exp(self) -> Self;
    /// `ln(1 + x)`, accurate near 0.
    fn ln_1p(self) -> Self;
    /// Hyperbolic tangent.
    fn tanh(self) -> Self;
    /// Sine.
    fn sin(self) -> Self;
    /// Cosine.
    fn cos(self) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// `true` when neither NaN nor infinite.
    fn is_finite(self) -> bool;
}

macro_rules! impl_real {
    ($t:ty, $name:literal, $erf:path, $exp:path, $ln1p:path, $tanh:path, $sin:path, $cos:path) => {
        impl Real for $t {
            const NAME: &'static str = $name;
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            #[inline(always)]
            fn of(x: f64) -> Self {
                x as $t
            }
            #[inline(always)]
            fn f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn erf(self) -> Self {
                $erf(self)
            }
            #[inline(always)]
            fn exp(self) -> Self {
                $exp(self)
            }
            #[inline(always)]
            fn ln_1p(self) -> Self {
                $ln1p(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                $tanh(self)
            }
            #[inline(always)]
            fn sin(self) -> Self {
                $sin(self)
            }
            #[inline(always)]
            fn cos(self) -> Self {
                $cos(self)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline(always)]
            fn is_finite(self) -> bool {
                <$t>::is_finite(self)
            }
        }
    };
}

impl_real!(
    f32,
    "f32",
    libm::erff,
    libm::expf,
    libm::log1pf,
    libm::tanhf,
    libm::sinf,
    libm::cosf
);
impl_real!(
    f64,
    "f64",
    libm::erf,
    libm::exp,
    libm::log1p,
    libm::tanh,
    libm::sin,
    libm::cos
);
