//! # ntk-notebook: the friendly tier
//!
//! For Rust Jupyter notebooks (evcxr) and short scripts: one `use ntk_notebook::prelude::*;`
//! brings the model types and a few calls with sensible defaults that return owned values.
//! For explicit control over precision, threads, tiling and weights, use `ntk-engine`.
//!
//! ```
//! use ntk_notebook::prelude::*;
//! let x = vec![0.6, 0.8, 1.0, 0.0, 0.0, -1.0];
//! let model = Mlp::new(2, &[256], Activation::Relu);
//! let k = empirical_ntk(&model, &x, 3, 0).unwrap();
//! assert_eq!((k.n1, k.n2), (3, 3));
//! ```

#![warn(missing_docs)]

use ntk_engine::gram::{EmpiricalOptions, Kernel, Precision, Weights, empirical};
use ntk_engine::{Points, Result};

/// Everything a notebook needs in one import.
pub mod prelude {
    pub use crate::empirical_ntk;
    pub use ntk_engine::gram::{Kernel, KernelKind, Precision};
    pub use ntk_engine::{Activation, Mlp, Parameterization};
}

/// The traced empirical NTK of `model` at seed `seed` on the `n` rows of `x` (row-major,
/// `n × model.input_dim`), in f64.
pub fn empirical_ntk(model: &ntk_engine::Mlp, x: &[f64], n: usize, seed: u64) -> Result<Kernel> {
    let d = model.input_dim;
    let p = Points::from_f64(x, n, d)?;
    let opts = EmpiricalOptions {
        precision: Precision::F64,
        ..EmpiricalOptions::default()
    };
    empirical(model, Weights::Seeded(seed), &p, None, &opts)
}
