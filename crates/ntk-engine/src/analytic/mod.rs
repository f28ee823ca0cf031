//! Analytic (infinite-width) NTK and NNGP kernels.
//!
//! As every hidden width tends to infinity, the network's output at initialisation becomes
//! a Gaussian process with covariance `K` (the NNGP kernel; Neal 1996, Williams 1997,
//! Lee et al. 2018) and its neural tangent kernel becomes deterministic and constant in
//! training, `Θ` (Jacot, Gabriel & Hongler 2018; Lee et al. 2019). Both follow from one
//! recursion over the layers (`state`), with the same formulas as neural-tangents:
//!
//! ```text
//! start       K = x·x'/d,  q = |x|²/d,  Θ = 0
//! dense (NTK) K ← W_std²·K + b_std²,  Θ ← K + W_std²·Θ
//! dense (std) Θ ← fan_in·K + W_std²·Θ + 1,  K ← W_std²·K + b_std²
//! activation  K ← E[φ(u)φ(v)],  Θ ← Θ·E[φ'(u)φ'(v)],  q ← E[φ(u)²]
//! ```
//!
//! (`dense`, `dual`). The expectations have closed forms for the ABReLU family
//! (arc-cosine kernels, Cho & Saul 2009), the erf family (Williams 1997) and GELU; any other
//! activation is integrated by two-dimensional Gauss–Hermite quadrature.
//!
//! The kernel is the same for every output and zero between outputs: the traced kernel
//! (`k = 1`) is `Θ`, the full one `Θ ⊗ I_k`.
//!
//! Speed and precision: per tile of pairs, the input Gram `x·x'` is a register-blocked
//! micro-kernel at GEMM speed (`analytic/input_gram.rs`) and the layer recursion runs as vectorised
//! loops over each row of the tile (the closed forms are branch-free, with an `atan2`
//! within 2 ulp of `libm`'s, `simd::atan2`). Everything is computed in `f64`, the
//! input Gram included, whatever the output type: a kernel written as `f32` is the `f64`
//! kernel rounded once, so its relative error is at most 2⁻²⁴ ≈ 6·10⁻⁸ (measured 3.1·10⁻⁸
//! on the diagonal of a depth-3 ReLU NTK, where neural-tangents' f32 kernel is off by
//! 8·10⁻⁵: an `f32` input Gram loses the small angles between nearby points, which the
//! arc-cosine needs to full precision). The Gram is assembled in parallel row bands of
//! tiles with bits independent of the thread count, the tile size and the instruction set.

mod assemble;
pub(crate) mod dense;
pub(crate) mod dual;
mod input_gram;
pub mod out_of_core;
pub(crate) mod quadrature;
pub(crate) mod state;
pub(crate) mod streamed;

use assemble::Side;

use crate::data::Points;
use crate::error::{Error, Result};
use crate::gram::{Kernel, KernelKind};
use crate::model::Mlp;
use crate::parallel::Parallelism;
#[doc(hidden)] // Tests hold the closed forms against quadrature; not the API.
pub use dual::Dual;
pub(crate) use state::Recursion;

/// Options of [`analytic`].
#[derive(Clone, Copy, Debug)]
pub struct AnalyticOptions {
    /// NTK or NNGP.
    pub kind: KernelKind,
    /// The full `n1 × n2 × k × k` kernel (`Θ ⊗ I_k`) instead of the traced `n1 × n2`.
    pub full: bool,
    /// Threads.
    pub parallelism: Parallelism,
    /// Rows (and columns) per output tile. Only scheduling and memory locality depend on
    /// it, never the result.
    pub tile: usize,
    /// Gauss–Hermite nodes per dimension for activations without a closed form (tanh,
    /// softplus, sin, custom); the cost per entry and layer is `order²` evaluations.
    pub quadrature_order: usize,
}

impl Default for AnalyticOptions {
    fn default() -> Self {
        AnalyticOptions {
            kind: KernelKind::Ntk,
            full: false,
            parallelism: Parallelism::default(),
            tile: 256,
            quadrature_order: 64,
        }
    }
}

/// How the activation's expectations are evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Method {
    /// The closed form where there is one, else quadrature.
    #[default]
    Auto,
    /// Gauss–Hermite quadrature for every activation (slow; to check the closed forms).
    Quadrature,
}

/// The infinite-width NTK or NNGP of `model` between the rows of `x1` and `x2`
/// (`x1 × x1` when `x2` is `None`: symmetric, its variances taken from the diagonal of `K`
/// itself so `θ_ii = 0` exactly).
///
/// The model's widths matter only under the standard parameterization (as `fan_in`); its
/// number of outputs only for the shape of a full kernel.
pub fn analytic(
    model: &Mlp,
    x1: &Points<'_>,
    x2: Option<&Points<'_>>,
    opts: &AnalyticOptions,
) -> Result<Kernel> {
    analytic_with(model, x1, x2, opts, Method::Auto)
}

/// The rows `rows` of [`analytic`]'s kernel, bit for bit, as a `rows.len() × n2` kernel:
/// the unit of work of the out-of-core writer.
pub fn analytic_rows(
    model: &Mlp,
    x1: &Points<'_>,
    x2: Option<&Points<'_>>,
    rows: core::ops::Range<usize>,
    opts: &AnalyticOptions,
) -> Result<Kernel> {
    check_band(&rows, x1.rows())?;
    analytic_impl(model, x1, x2, opts, Method::Auto, Part::Rows(rows), None)
}

/// The rows `rows` of the symmetric kernel `analytic(x1, None)` for the columns
/// `0..rows.end` only (its lower triangle and the diagonal block), bit for bit, as a
/// `rows.len() × n` kernel whose columns `rows.end..n` are zero: the out-of-core writer's
/// unit of work for a symmetric kernel, which fills those columns from later rows.
pub fn analytic_rows_lower(
    model: &Mlp,
    x1: &Points<'_>,
    rows: core::ops::Range<usize>,
    opts: &AnalyticOptions,
) -> Result<Kernel> {
    check_band(&rows, x1.rows())?;
    analytic_impl(model, x1, None, opts, Method::Auto, Part::Lower(rows), None)
}

/// What [`analytic_lower_streamed`] hands each band to: `(rows, band)`, a band of
/// `rows.len()` rows of `n·k²` values.
pub(crate) type BandSink<'a> = dyn FnMut(core::ops::Range<usize>, &[f64]) -> Result<()> + Send + 'a;
/// What [`analytic_lower_streamed`] checks each band with as it is computed.
pub(crate) type BandCheck<'a> = dyn Fn(core::ops::Range<usize>, &[f64]) -> Result<()> + Sync + 'a;

/// The symmetric kernel `analytic(x1, None)` whole in memory, handed to `emit` in bands of
/// `opts.tile` rows, last band first, each as soon as it is final (the rows of
/// [`analytic`]'s kernel bit for bit); `check` sees each band's lower part as it is
/// computed. The in-memory writer's unit of work: the file is written while the kernel is
/// computed ([`crate::analytic::out_of_core`]).
pub(crate) fn analytic_lower_streamed(
    model: &Mlp,
    x1: &Points<'_>,
    opts: &AnalyticOptions,
    check: &BandCheck<'_>,
    emit: &mut BandSink<'_>,
) -> Result<()> {
    analytic_impl(
        model,
        x1,
        None,
        opts,
        Method::Auto,
        Part::Streamed(check, emit),
        None,
    )
    .map(|_| ())
}

/// A band of rows must lie within `0..n`.
fn check_band(rows: &core::ops::Range<usize>, n: usize) -> Result<()> {
    if rows.start > rows.end || rows.end > n {
        return Err(Error::invalid(
            "row band",
            format!("{}..{}", rows.start, rows.end),
            format!("a range within 0..{n}"),
        ));
    }
    Ok(())
}

/// Which part of the kernel [`analytic_impl`] computes.
enum Part<'a, 'b> {
    All,
    Rows(core::ops::Range<usize>),
    Lower(core::ops::Range<usize>),
    /// The symmetric kernel handed over in bands ([`analytic_lower_streamed`]); the
    /// returned kernel is empty.
    Streamed(&'a BandCheck<'b>, &'a mut BandSink<'b>),
}

/// [`analytic`] with the evaluation [`Method`] chosen explicitly.
pub fn analytic_with(
    model: &Mlp,
    x1: &Points<'_>,
    x2: Option<&Points<'_>>,
    opts: &AnalyticOptions,
    method: Method,
) -> Result<Kernel> {
    analytic_impl(model, x1, x2, opts, method, Part::All, None)
}

fn analytic_impl(
    model: &Mlp,
    x1: &Points<'_>,
    x2: Option<&Points<'_>>,
    opts: &AnalyticOptions,
    method: Method,
    part: Part<'_, '_>,
    cancel: Option<&std::sync::atomic::AtomicBool>,
) -> Result<Kernel> {
    model.validate()?;
    if model.parameterization == crate::model::Parameterization::MeanField {
        return Err(Error::invalid(
            "parameterization",
            "mean_field",
            "ntk or standard for the analytic kernel (the mean-field NTK vanishes as m → ∞)",
        ));
    }
    model.check_inputs(x1, x2)?;
    if opts.tile == 0 {
        return Err(Error::invalid("tile", 0, "at least 1 row"));
    }
    let needs_quadrature =
        method == Method::Quadrature || Dual::new(model.activation, 1).is_quadrature();
    if needs_quadrature && model.depth() > 0 && opts.quadrature_order == 0 {
        return Err(Error::invalid(
            "quadrature order",
            0,
            format!("at least 1 node ({} has no closed form)", model.activation),
        ));
    }
    let dual = match method {
        Method::Auto => Dual::new(model.activation, opts.quadrature_order.max(1)),
        Method::Quadrature => Dual::quadrature(model.activation, opts.quadrature_order.max(1)),
    };
    let rec = Recursion::new(model, dual);
    let ntk = opts.kind == KernelKind::Ntk;
    let k = if opts.full { model.outputs } else { 1 };
    let xv1 = x1.to_f64_vec();
    let xv2 = x2.map(|x| x.to_f64_vec());
    let depth = rec.depth();
    opts.parallelism
        .install(|| {
            let q1 = assemble::variances(&rec, &xv1, x1.rows(), x2.is_none());
            let s1 = Side::new(&xv1, &q1, x1.rows(), depth);
            let q2 = match (&xv2, x2) {
                (Some(xv2), Some(x2)) => Some(assemble::variances(&rec, xv2, x2.rows(), false)),
                _ => None,
            };
            let s2 = match (&xv2, &q2, x2) {
                (Some(xv2), Some(q2), Some(x2)) => Some(Side::new(xv2, q2, x2.rows(), depth)),
                _ => None,
            };
            Ok(match part {
                Part::Rows(r) => {
                    assemble::assemble_rows(&rec, &s1, s2.as_ref(), ntk, k, r, opts.tile, cancel)
                }
                Part::Lower(r) => {
                    assemble::assemble_rows_lower(&rec, &s1, ntk, k, r, opts.tile, cancel)
                }
                Part::All => assemble::assemble(&rec, &s1, s2.as_ref(), ntk, k, opts.tile, cancel),
                Part::Streamed(check, emit) => {
                    streamed::lower_streamed(&rec, &s1, ntk, k, opts.tile, check, emit)?;
                    Kernel {
                        n1: 0,
                        n2: 0,
                        k,
                        data: Vec::new(),
                    }
                }
            })
        })
        .and_then(|r| r)
        .and_then(|k| crate::gram::check_cancel(cancel).map(|()| k))
}

/// [`analytic`], stoppable: `cancel` is read before each band of `opts.tile` rows; once it
/// is `true` the remaining bands are skipped and the call returns [`Error::Cancelled`].
/// While it stays `false` the result is [`analytic`]'s, bit for bit. For callers that run
/// the kernel on a worker thread and watch for an interrupt (the Python module's Ctrl-C).
pub fn analytic_cancellable(
    model: &Mlp,
    x1: &Points<'_>,
    x2: Option<&Points<'_>>,
    opts: &AnalyticOptions,
    cancel: &std::sync::atomic::AtomicBool,
) -> Result<Kernel> {
    analytic_impl(model, x1, x2, opts, Method::Auto, Part::All, Some(cancel))
}
