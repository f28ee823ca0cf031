//! [`Model`]: the network, held by value.

use core::fmt;

use ntk_engine::{Activation, Mlp, Parameterization};

use crate::display::{Table, emit};

/// A fully connected network (the engine's [`Mlp`]): input dimension, hidden widths,
/// activation, `W_std`, `b_std`, parameterization, number of outputs.
///
/// ```
/// use ntk_notebook::prelude::*;
/// let m = Model::new(64, &[512, 512], Activation::Relu).b_std(0.1);
/// assert_eq!(m.depth(), 2);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    pub(crate) mlp: Mlp,
}

impl Model {
    /// An MLP with `W_std = 1`, `b_std = 0`, the NTK parameterization and one output.
    pub fn new(input_dim: usize, widths: &[usize], activation: Activation) -> Model {
        Model {
            mlp: Mlp::new(input_dim, widths, activation),
        }
    }

    /// `depth` hidden layers of width `width`.
    pub fn uniform(input_dim: usize, depth: usize, width: usize, activation: Activation) -> Model {
        Model::new(input_dim, &vec![width; depth], activation)
    }

    /// The lecture's two-layer network: one hidden ReLU layer of width `width`, no bias.
    pub fn two_layer_relu(input_dim: usize, width: usize) -> Model {
        Model::new(input_dim, &[width], Activation::Relu)
    }

    /// Sets `W_std`.
    pub fn w_std(mut self, w_std: f64) -> Model {
        self.mlp.w_std = w_std;
        self
    }

    /// Sets `b_std`.
    pub fn b_std(mut self, b_std: f64) -> Model {
        self.mlp.b_std = b_std;
        self
    }

    /// Sets the parameterization.
    pub fn parameterization(mut self, p: Parameterization) -> Model {
        self.mlp.parameterization = p;
        self
    }

    /// Sets the number of outputs.
    pub fn outputs(mut self, k: usize) -> Model {
        self.mlp.outputs = k;
        self
    }

    /// The same network with every hidden layer of width `width`.
    pub fn with_width(&self, width: usize) -> Model {
        let mut m = self.clone();
        m.mlp.widths.iter_mut().for_each(|w| *w = width);
        m
    }

    /// The same network with `depth` hidden layers of the first layer's width (64 if none).
    pub fn with_depth(&self, depth: usize) -> Model {
        let w = self.mlp.widths.first().copied().unwrap_or(64);
        let mut m = self.clone();
        m.mlp.widths = vec![w; depth];
        m
    }

    /// Number of hidden layers.
    pub fn depth(&self) -> usize {
        self.mlp.depth()
    }

    /// Hidden widths.
    pub fn widths(&self) -> &[usize] {
        &self.mlp.widths
    }

    /// Input dimension.
    pub fn input_dim(&self) -> usize {
        self.mlp.input_dim
    }

    /// Number of trainable parameters.
    pub fn parameter_count(&self) -> usize {
        self.mlp.parameter_count()
    }

    /// The engine's model.
    pub fn mlp(&self) -> &Mlp {
        &self.mlp
    }

    /// A one-row table: the settings and the parameter count.
    pub fn summary(&self) -> Table {
        let m = &self.mlp;
        let mut t = Table::new(
            "model",
            &[
                "input",
                "hidden widths",
                "outputs",
                "activation",
                "W_std",
                "b_std",
                "parameterization",
                "parameters",
            ],
        );
        t.push(vec![
            m.input_dim.to_string(),
            format!("[{}]", m.widths_string()),
            m.outputs.to_string(),
            m.activation.to_string(),
            m.w_std.to_string(),
            m.b_std.to_string(),
            m.parameterization.to_string(),
            m.parameter_count().to_string(),
        ]);
        t
    }

    /// Shows [`Model::summary`] in the notebook.
    pub fn evcxr_display(&self) {
        emit(
            "text/html",
            &self.summary().to_html(),
            &self.summary().to_string(),
        );
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.mlp)
    }
}

impl From<Mlp> for Model {
    fn from(mlp: Mlp) -> Model {
        Model { mlp }
    }
}
