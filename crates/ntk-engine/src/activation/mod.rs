//! Elementwise activations `φ` and their derivatives, in `f32` and `f64`.
//!
//! One module per family, as neural-tangents groups them: the ABReLU family
//! ([`arccos`]: ReLU, leaky ReLU, Abs), the erf family (`erf`: Erf, sigmoid-like),
//! `gelu`, and `smooth` (tanh, softplus, sin). A user function with its derivative is an
//! [`Activation::Custom`].

pub mod arccos;
pub(crate) mod erf;
pub(crate) mod gelu;
pub(crate) mod smooth;

use core::fmt;
use core::str::FromStr;

use crate::error::Error;
use crate::scalar::Real;

/// A user-supplied activation: a function and its derivative, in `f64`.
///
/// The `f32` path evaluates them in `f64` and rounds.
#[derive(Clone, Copy)]
pub struct CustomActivation {
    /// A name for messages and display.
    pub name: &'static str,
    /// `φ(x)`.
    pub value: fn(f64) -> f64,
    /// `φ'(x)`.
    pub derivative: fn(f64) -> f64,
}

impl fmt::Debug for CustomActivation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Custom({})", self.name)
    }
}

impl PartialEq for CustomActivation {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && core::ptr::fn_addr_eq(self.value, other.value)
            && core::ptr::fn_addr_eq(self.derivative, other.derivative)
    }
}

/// An elementwise nonlinearity applied after every hidden dense layer.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Activation {
    /// `max(x, 0)`.
    Relu,
    /// `max(x, 0) + α·min(x, 0)`.
    LeakyRelu(f64),
    /// `|x|`.
    Abs,
    /// `erf(x)`.
    Erf,
    /// `0.5·erf(x/2.4020563531719796) + 0.5`, neural-tangents' `Sigmoid_like`.
    SigmoidLike,
    /// Exact GELU, `x·Φ(x)`.
    Gelu,
    /// `x`.
    Identity,
    /// `tanh(x)`.
    Tanh,
    /// `ln(1 + eˣ)`.
    Softplus,
    /// `sin(x)`.
    Sin,
    /// A user function with its derivative.
    Custom(CustomActivation),
}

impl Activation {
    /// Every built-in activation once (leaky ReLU with `α = 0.1`), for sweeps and tests.
    pub const BUILT_IN: [Activation; 10] = [
        Activation::Relu,
        Activation::LeakyRelu(0.1),
        Activation::Abs,
        Activation::Erf,
        Activation::SigmoidLike,
        Activation::Gelu,
        Activation::Identity,
        Activation::Tanh,
        Activation::Softplus,
        Activation::Sin,
    ];
}

/// The names [`Activation::from_str`] accepts.
pub const ACTIVATION_NAMES: &str =
    "relu, leaky_relu:ALPHA, abs, erf, sigmoid_like, gelu, identity, tanh, softplus, sin";

impl Activation {
    /// The ABReLU parameters `(a, b)` when this activation is in that family.
    pub fn abrelu(&self) -> Option<(f64, f64)> {
        match *self {
            Activation::Relu => Some((0.0, 1.0)),
            Activation::LeakyRelu(alpha) => Some((alpha, 1.0)),
            Activation::Abs => Some((-1.0, 1.0)),
            _ => None,
        }
    }

    /// The erf-family parameters `(a, b, c)` of `a·erf(b·x) + c` when this activation is in
    /// that family.
    pub fn erf_family(&self) -> Option<(f64, f64, f64)> {
        match *self {
            Activation::Erf => Some((1.0, 1.0, 0.0)),
            Activation::SigmoidLike => Some((0.5, 1.0 / erf::SIGMOID_LIKE_WIDTH, 0.5)),
            _ => None,
        }
    }

    /// `φ(x)`.
    #[inline]
    pub fn value<T: Real>(&self, x: T) -> T {
        match *self {
            Activation::Relu => arccos::value(T::ZERO, T::ONE, x),
            Activation::LeakyRelu(a) => arccos::value(T::of(a), T::ONE, x),
            Activation::Abs => x.abs(),
            Activation::Erf => x.erf(),
            Activation::SigmoidLike => erf::value(
                T::of(0.5),
                T::of(1.0 / erf::SIGMOID_LIKE_WIDTH),
                T::of(0.5),
                x,
            ),
            Activation::Gelu => gelu::value(x),
            Activation::Identity => x,
            Activation::Tanh => smooth::tanh(x),
            Activation::Softplus => smooth::softplus(x),
            Activation::Sin => x.sin(),
            Activation::Custom(c) => T::of((c.value)(x.f64())),
        }
    }

    /// `φ'(x)`.
    #[inline]
    pub fn derivative<T: Real>(&self, x: T) -> T {
        match *self {
            Activation::Relu => arccos::derivative(T::ZERO, T::ONE, x),
            Activation::LeakyRelu(a) => arccos::derivative(T::of(a), T::ONE, x),
            Activation::Abs => arccos::derivative(-T::ONE, T::ONE, x),
            Activation::Erf => erf::derivative(T::ONE, T::ONE, x),
            Activation::SigmoidLike => {
                erf::derivative(T::of(0.5), T::of(1.0 / erf::SIGMOID_LIKE_WIDTH), x)
            }
            Activation::Gelu => gelu::derivative(x),
            Activation::Identity => T::ONE,
            Activation::Tanh => smooth::tanh_derivative(x),
            Activation::Softplus => smooth::softplus_derivative(x),
            Activation::Sin => x.cos(),
            Activation::Custom(c) => T::of((c.derivative)(x.f64())),
        }
    }

    /// Overwrites `z` with `φ(z)` and writes `φ'(z)` into `dz`, in one pass.
    ///
    /// # Panics
    /// If the slices differ in length.
    pub fn forward_in_place<T: Real>(&self, z: &mut [T], dz: &mut [T]) {
        assert_eq!(z.len(), dz.len(), "activation buffers differ in length");
        // One monomorphised loop per variant, so the match is outside the hot loop.
        macro_rules! map {
            ($f:expr, $df:expr) => {
                for (x, d) in z.iter_mut().zip(dz.iter_mut()) {
                    let v = *x;
                    *d = $df(v);
                    *x = $f(v);
                }
            };
        }
        match *self {
            Activation::Relu => map!(|v| arccos::value(T::ZERO, T::ONE, v), |v| {
                arccos::derivative(T::ZERO, T::ONE, v)
            }),
            Activation::Identity => map!(|v| v, |_| T::ONE),
            _ => {
                let act = *self;
                map!(|v| act.value(v), |v| act.derivative(v))
            }
        }
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Activation::Relu => f.write_str("relu"),
            Activation::LeakyRelu(a) => write!(f, "leaky_relu:{a}"),
            Activation::Abs => f.write_str("abs"),
            Activation::Erf => f.write_str("erf"),
            Activation::SigmoidLike => f.write_str("sigmoid_like"),
            Activation::Gelu => f.write_str("gelu"),
            Activation::Identity => f.write_str("identity"),
            Activation::Tanh => f.write_str("tanh"),
            Activation::Softplus => f.write_str("softplus"),
            Activation::Sin => f.write_str("sin"),
            Activation::Custom(c) => f.write_str(c.name),
        }
    }
}

impl FromStr for Activation {
    type Err = Error;

    /// Parses `relu`, `leaky_relu:0.1` (`leaky_relu` alone means `α = 0.01`), `abs`, `erf`,
    /// `sigmoid_like`, `gelu`, `identity`, `tanh`, `softplus`, `sin`.
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = |expected: &str| Error::InvalidArgument {
            name: "activation".into(),
            value: s.into(),
            expected: expected.into(),
        };
        let (name, param) = match s.split_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (s, None),
        };
        let act = match name.trim().to_ascii_lowercase().as_str() {
            "relu" => Activation::Relu,
            "leaky_relu" | "leakyrelu" => {
                let alpha = match param {
                    None => 0.01,
                    Some(p) => p
                        .trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|a| a.is_finite())
                        .ok_or_else(|| bad("leaky_relu:ALPHA with ALPHA a finite number"))?,
                };
                return Ok(Activation::LeakyRelu(alpha));
            }
            "abs" => Activation::Abs,
            "erf" => Activation::Erf,
            "sigmoid_like" => Activation::SigmoidLike,
            "gelu" => Activation::Gelu,
            "identity" | "linear" => Activation::Identity,
            "tanh" => Activation::Tanh,
            "softplus" => Activation::Softplus,
            "sin" => Activation::Sin,
            _ => return Err(bad(&format!("one of {ACTIVATION_NAMES}"))),
        };
        if param.is_some() {
            return Err(bad(&format!("no parameter after `{name}`")));
        }
        Ok(act)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Activation; 10] = Activation::BUILT_IN;

    /// The derivative against a central difference in f64. Points avoid the kinks at 0.
    /// Tolerance 1e-7: the central difference with h = 1e-5 has truncation error
    /// ~h²·φ'''/6 ≈ 1e-10 and rounding error ~1e-16/h ≈ 1e-11.
    #[test]
    fn derivatives_match_central_differences() {
        for act in ALL {
            for &x in &[-3.1, -1.2, -0.3, 0.25, 0.9, 2.7] {
                let h = 1e-5;
                let fd = (act.value(x + h) - act.value(x - h)) / (2.0 * h);
                let d: f64 = act.derivative(x);
                assert!(
                    (fd - d).abs() < 1e-7 * (1.0 + d.abs()),
                    "{act}: x={x} fd={fd} d={d}"
                );
            }
        }
    }

    /// f32 agrees with f64 to a few f32 ulps (libm's single-precision routines are
    /// accurate to about 1 ulp; 1e-6 relative leaves room for the composed formulas).
    #[test]
    fn f32_matches_f64() {
        for act in ALL {
            for &x in &[-3.1f64, -0.3, 0.25, 2.7] {
                let v64 = act.value(x);
                let v32 = act.value(x as f32) as f64;
                assert!(
                    (v64 - v32).abs() <= 1e-6 * (1.0 + v64.abs()),
                    "{act} at {x}"
                );
                let d64 = act.derivative(x);
                let d32 = act.derivative(x as f32) as f64;
                assert!(
                    (d64 - d32).abs() <= 1e-6 * (1.0 + d64.abs()),
                    "{act}' at {x}"
                );
            }
        }
    }

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for act in ALL {
            assert_eq!(act.to_string().parse::<Activation>().unwrap(), act);
        }
        let err = "swish".parse::<Activation>().unwrap_err().to_string();
        assert!(err.contains("swish") && err.contains("relu"), "{err}");
        assert!("leaky_relu:x".parse::<Activation>().is_err());
        assert!("relu:2".parse::<Activation>().is_err());
    }

    #[test]
    fn softplus_is_stable_for_large_inputs() {
        assert_eq!(smooth::softplus(1000.0f64), 1000.0);
        assert_eq!(smooth::softplus(-1000.0f64), 0.0);
        assert_eq!(smooth::softplus_derivative(-1000.0f64), 0.0);
        assert_eq!(smooth::softplus_derivative(1000.0f32), 1.0);
    }
}
