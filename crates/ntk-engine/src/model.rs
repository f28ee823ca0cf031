//! The network: a fully connected MLP with neural-tangents' (stax) conventions.
//!
//! Layers are numbered as stax numbers its `Dense` layers: `l = 0..=L`, where `L` is the
//! number of hidden layers and layer `L` is the readout. Layer `l` maps `h_l` (with
//! `h_0 = x`) of width `m_l` (`m_0 = d`) to `z_l` of width `m_{l+1}` (`m_{L+1} = k`);
//! `h_{l+1} = φ(z_l)` for hidden layers and `f(x) = z_L`.
//!
//! * NTK parameterization: stored entries `~ N(0, 1)`, `z = (W_std/√m_l)·h W + b_std·b`.
//! * Standard parameterization: stored `W ~ N(0, W_std²/m_l)`, `b ~ N(0, b_std²)`,
//!   `z = h W + b`; the bias is trainable even when `b_std = 0`.
//!
//! (Jacot, Gabriel & Hongler 2018 for the NTK parameterization; Novak et al. 2020,
//! "Neural Tangents", for the stax conventions.)

use core::fmt;
use core::str::FromStr;

use crate::activation::Activation;
use crate::error::{Error, Result};

/// Where the `1/√fan_in` scale lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Parameterization {
    /// Scales in the forward pass, stored weights `~ N(0, 1)` (stax's default).
    #[default]
    Ntk,
    /// Scales baked into the stored weights at initialisation.
    Standard,
    /// The NTK parameterization with the readout scaled by `1/m_L` instead of `1/√m_L`
    /// (mean-field scaling, Mei, Montanari & Nguyen 2018; Chizat & Bach 2019): the output
    /// starts at `O(1/√m)` and training moves the features. Its NTK vanishes as `m → ∞`, so
    /// it has no analytic limit here.
    MeanField,
}

impl FromStr for Parameterization {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ntk" => Ok(Parameterization::Ntk),
            "standard" => Ok(Parameterization::Standard),
            "mean_field" | "mean-field" | "meanfield" => Ok(Parameterization::MeanField),
            _ => Err(Error::invalid(
                "parameterization",
                s,
                "ntk, standard or mean_field",
            )),
        }
    }
}

impl fmt::Display for Parameterization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Parameterization::Ntk => "ntk",
            Parameterization::Standard => "standard",
            Parameterization::MeanField => "mean_field",
        })
    }
}

/// An MLP: input dimension, hidden widths, activation, `W_std`, `b_std`, parameterization
/// and number of outputs `k`.
#[derive(Clone, Debug, PartialEq)]
pub struct Mlp {
    /// Input dimension `d`.
    pub input_dim: usize,
    /// Hidden widths `m_1..m_L`; the depth `L` is their count.
    pub widths: Vec<usize>,
    /// The activation after every hidden layer.
    pub activation: Activation,
    /// Weight scale `W_std`.
    pub w_std: f64,
    /// Bias scale `b_std`.
    pub b_std: f64,
    /// NTK or standard parameterization.
    pub parameterization: Parameterization,
    /// Number of outputs `k`.
    pub outputs: usize,
}

impl Mlp {
    /// An MLP with `W_std = 1`, `b_std = 0`, the NTK parameterization and one output;
    /// change those with the `with_*` methods. Call [`Mlp::validate`] (every engine entry
    /// point does) before use.
    pub fn new(input_dim: usize, widths: &[usize], activation: Activation) -> Self {
        Mlp {
            input_dim,
            widths: widths.to_vec(),
            activation,
            w_std: 1.0,
            b_std: 0.0,
            parameterization: Parameterization::Ntk,
            outputs: 1,
        }
    }

    /// Sets `W_std`.
    pub fn with_w_std(mut self, w_std: f64) -> Self {
        self.w_std = w_std;
        self
    }

    /// Sets `b_std`.
    pub fn with_b_std(mut self, b_std: f64) -> Self {
        self.b_std = b_std;
        self
    }

    /// Sets the parameterization.
    pub fn with_parameterization(mut self, p: Parameterization) -> Self {
        self.parameterization = p;
        self
    }

    /// Sets the number of outputs `k`.
    pub fn with_outputs(mut self, k: usize) -> Self {
        self.outputs = k;
        self
    }

    /// Checks every size and scale: positive dimensions, finite non-negative `W_std` and
    /// `b_std`.
    pub fn validate(&self) -> Result<()> {
        if self.input_dim == 0 {
            return Err(Error::invalid("input dimension", 0, "at least 1"));
        }
        if let Some(i) = self.widths.iter().position(|&m| m == 0) {
            return Err(Error::invalid(
                "widths",
                self.widths_string(),
                format!("positive widths (hidden layer {} has width 0)", i + 1),
            ));
        }
        if self.outputs == 0 {
            return Err(Error::invalid("outputs", 0, "at least 1"));
        }
        if !(self.w_std.is_finite() && self.w_std >= 0.0) {
            return Err(Error::invalid("w-std", self.w_std, "a finite number >= 0"));
        }
        if !(self.b_std.is_finite() && self.b_std >= 0.0) {
            return Err(Error::invalid("b-std", self.b_std, "a finite number >= 0"));
        }
        if let Activation::LeakyRelu(a) = self.activation
            && !a.is_finite()
        {
            return Err(Error::invalid("leaky_relu slope", a, "a finite number"));
        }
        Ok(())
    }

    /// Checks that `x1` (and `x2`, when given) have the model's input dimension.
    pub fn check_inputs(
        &self,
        x1: &crate::data::Points<'_>,
        x2: Option<&crate::data::Points<'_>>,
    ) -> Result<()> {
        for (name, x) in [("x1", Some(x1)), ("x2", x2)] {
            if let Some(x) = x
                && x.cols() != self.input_dim
            {
                return Err(Error::DimensionMismatch {
                    what: format!("feature dimension of {name} (the model's input dimension)"),
                    expected: self.input_dim,
                    got: x.cols(),
                });
            }
        }
        Ok(())
    }

    /// The number of hidden layers `L`.
    pub fn depth(&self) -> usize {
        self.widths.len()
    }

    /// Width of `h_l`: `d` for `l = 0`, `m_l` for `1 ≤ l ≤ L`, `k` for `l = L + 1`.
    pub fn width(&self, l: usize) -> usize {
        if l == 0 {
            self.input_dim
        } else if l <= self.depth() {
            self.widths[l - 1]
        } else {
            self.outputs
        }
    }

    /// `(fan_in, fan_out)` of dense layer `l ∈ 0..=L`.
    pub fn layer_shape(&self, l: usize) -> (usize, usize) {
        (self.width(l), self.width(l + 1))
    }

    /// The forward scale factors `(s_W, s_b)` of dense layer `l`: `(W_std/√fan_in, b_std)`
    /// under the NTK parameterization, `(1, 1)` under the standard one; the mean-field one is
    /// the NTK one but for the readout, `(W_std/m_L, b_std)`.
    pub fn forward_scales(&self, l: usize) -> (f64, f64) {
        let fan_in = self.width(l) as f64;
        match self.parameterization {
            Parameterization::Ntk => (self.w_std / fan_in.sqrt(), self.b_std),
            Parameterization::MeanField if l == self.depth() => (self.w_std / fan_in, self.b_std),
            Parameterization::MeanField => (self.w_std / fan_in.sqrt(), self.b_std),
            Parameterization::Standard => (1.0, 1.0),
        }
    }

    /// The scales `(σ_W, σ_b)` applied to `N(0, 1)` draws to give the stored initial values:
    /// `(1, 1)` under the NTK parameterization, `(W_std/√fan_in, b_std)` under the standard.
    pub fn init_scales(&self, l: usize) -> (f64, f64) {
        match self.parameterization {
            Parameterization::Ntk | Parameterization::MeanField => (1.0, 1.0),
            Parameterization::Standard => (self.w_std / (self.width(l) as f64).sqrt(), self.b_std),
        }
    }

    /// Total number of trainable parameters (every `W` and `b`).
    pub fn parameter_count(&self) -> usize {
        (0..=self.depth())
            .map(|l| {
                let (i, o) = self.layer_shape(l);
                i * o + o
            })
            .sum()
    }

    /// The hidden widths as `512,512`.
    pub fn widths_string(&self) -> String {
        let w: Vec<String> = self.widths.iter().map(|m| m.to_string()).collect();
        w.join(",")
    }
}

impl fmt::Display for Mlp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "MLP d={} widths=[{}] k={} act={} W_std={} b_std={} param={}",
            self.input_dim,
            self.widths_string(),
            self.outputs,
            self.activation,
            self.w_std,
            self.b_std,
            self.parameterization
        )
    }
}
