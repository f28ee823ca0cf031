//! The engine's typed errors. Each variant carries what a user needs to fix the input: the
//! file, the value, and what was expected.

use std::path::PathBuf;

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A `.npy` file is unreadable, malformed or of an unsupported kind.
    #[error("{path}: {reason}")]
    Npy {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// An I/O error on a named file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Two sizes that must agree do not.
    #[error("{what}: expected {expected}, got {got}")]
    DimensionMismatch {
        /// What was compared (names the file or argument).
        what: String,
        /// The size required.
        expected: usize,
        /// The size found.
        got: usize,
    },
    /// A value that is NaN or infinite where finite numbers are needed.
    #[error("{what}: non-finite value {value} at row {row}, column {col}")]
    NonFinite {
        /// Where (names the file or argument).
        what: String,
        /// Row of the first offending entry.
        row: usize,
        /// Column of the first offending entry.
        col: usize,
        /// The value found.
        value: f64,
    },
    /// A computed result (a kernel or prediction entry) that is NaN or infinite.
    #[error("{what}: entry {index} is {value}: not finite; likely cause: {cause}")]
    NonFiniteResult {
        /// The result (names the output file).
        what: String,
        /// The index of the first such entry, e.g. `[3, 7]`.
        index: String,
        /// Its value.
        value: f64,
        /// The likely cause and remedy.
        cause: String,
    },
    /// An argument or model setting out of its domain.
    #[error("invalid {name} `{value}`: expected {expected}")]
    InvalidArgument {
        /// The argument.
        name: String,
        /// The value given.
        value: String,
        /// What is accepted.
        expected: String,
    },
    /// A matrix that must be positive definite (the train-train kernel of a `t = ∞`
    /// prediction, factored by Cholesky) is not: the factorisation met a pivot `≤ 0`.
    #[error(
        "the train-train kernel (after diag_reg) is not positive definite: Cholesky pivot \
         {pivot:e} at index {index} is not > 0; use diag_reg > 0 or finite times"
    )]
    NotPositiveDefinite {
        /// The first non-positive pivot: `K_ii − Σ_{j<i} L_ij²`.
        pivot: f64,
        /// Its row (0-based).
        index: usize,
    },
    /// A kernel that must be symmetric is not: `K[row, col]` and `K[col, row]` differ by
    /// more than the tolerance of [`crate::solve`]'s checks.
    #[error(
        "{what}: not symmetric: K[{row}, {col}] = {a:e} but K[{col}, {row}] = {b:e} \
         (expected a symmetric kernel matrix)"
    )]
    NotSymmetric {
        /// Where (names the file or argument).
        what: String,
        /// Row of the first offending pair.
        row: usize,
        /// Column of the first offending pair.
        col: usize,
        /// `K[row, col]`.
        a: f64,
        /// `K[col, row]`.
        b: f64,
    },
    /// An iterative solver met a direction of non-positive curvature `pᵀ(K + λI)p ≤ 0`: the
    /// regularised kernel is not positive definite (an indefinite kernel, or `diag_reg`
    /// too small for its rounding errors).
    #[error(
        "{method} broke down at iteration {iteration} (output column {column}): curvature \
         pᵀ(K + λI)p = {curvature:e} is not > 0, so the train-train kernel (after diag_reg) is \
         not positive definite; use diag_reg > 0 or check the kernel"
    )]
    Breakdown {
        /// The solver (`"pcg"`, `"lanczos"`).
        method: String,
        /// The iteration (1-based) at which it happened.
        iteration: usize,
        /// The output column whose recurrence broke down.
        column: usize,
        /// The curvature found.
        curvature: f64,
    },
    /// An iterative solver stopped at its iteration limit before reaching the tolerance.
    #[error(
        "{method} did not converge to tol {tol:e} within {iterations} iterations (last \
         residual or error estimate {residual:e}); raise max_iters (or the preconditioner's \
         rank, or diag_reg)"
    )]
    NotConverged {
        /// The solver (`"pcg"`, `"lanczos"`).
        method: String,
        /// Iterations done.
        iterations: usize,
        /// The relative residual (or error estimate) reached; infinite when the Lanczos
        /// estimate was not yet trustworthy (see the block Lanczos of [`crate::solve`]).
        residual: f64,
        /// The tolerance asked for.
        tol: f64,
    },
    /// A capability that this build of the engine does not have.
    #[error("not implemented: {0}")]
    NotImplemented(String),
    /// The caller asked a running computation to stop (its cancel flag was set, e.g. by
    /// Ctrl-C in the Python module); nothing was returned.
    #[error("cancelled")]
    Cancelled,
}

impl Error {
    /// Shorthand for [`Error::InvalidArgument`].
    pub fn invalid(
        name: impl Into<String>,
        value: impl ToString,
        expected: impl Into<String>,
    ) -> Self {
        Error::InvalidArgument {
            name: name.into(),
            value: value.to_string(),
            expected: expected.into(),
        }
    }

    /// Shorthand for [`Error::Npy`].
    pub fn npy(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Npy {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// `text` as one line of at most `max` characters: control characters escaped, runs of
/// whitespace (newlines included) collapsed to one space, an ellipsis where it was cut.
pub fn one_line(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut space = false;
    for c in text.trim().chars() {
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if out.chars().count() > max {
        out = out.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
    }
    out
}

/// The engine's result type.
pub type Result<T, E = Error> = core::result::Result<T, E>;
