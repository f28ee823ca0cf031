//! Training finite networks, and how far they stay from their kernel description.
//!
//! # The loss and the output scale
//! The trained output is `g(x) = α·(f(x; θ) − c·f(x; θ_0))` with `c = 1` when
//! [`TrainOptions::centre`] is set (so `g` starts at 0) and `c = 0` otherwise. The loss is
//! the MSE of [`predict`](crate::predict) scaled by `1/α²` (Chizat & Bach 2019, "On Lazy
//! Training in Differentiable Programming"):
//!
//! ```text
//! L(θ) = 1/α² · 1/(2N) · ‖g − y‖²,    N = n·k
//! ```
//!
//! over the step's batch of `n` points. `α = 1` is plain training; large `α` is lazy (the
//! parameters move by `O(1/α)` and the kernel by `O(1/α)` relative), small `α` is rich.
//! Whatever `α`, `g` moves at first by `−(η/N)·Θ·(g − y)` with `Θ` the NTK of `f`.
//!
//! # What is recorded
//! Every [`TrainOptions::record_every`] steps (and at the first and last step) a
//! [`Record`]: the full-training-set loss, `‖θ_t − θ_0‖₂`, the kernel drift
//! `‖Θ_t − Θ_0‖_F/‖Θ_0‖_F` of the traced empirical NTK on a probe set, and the gap between
//! the network and its linearised model (Lee et al. 2019), as a root mean square over
//! the `n·k` outputs, `‖g_nn − g_lin‖_F/√(n·k)`, on the training and the test points.
//!
//! # Layout
//! * [`descent`]: full-batch gradient descent to a loss target, outputs kept at chosen
//!   steps (Arora et al. 2019's trained-to-convergence network, Lee et al. 2019's
//!   trajectories);
//! * [`net`]: batched forward and backward passes (faer GEMMs, `f64`);
//! * `linearised`: the linear model from the empirical `Θ_0`, in discrete steps;
//! * [`ntk_flow_prediction`]: the analytic NTK's gradient flow from the network's own
//!   initial outputs, the kernel description of a training run;
//! * [`two_layer`]: the lecture's two-layer net with a fixed `±1` readout;
//! * [`study`]: width × seed grids and their log-log fits.

pub mod descent;
pub(crate) mod linearised;
#[doc(hidden)] // Tests hold the backward pass against the reference; not the API.
pub mod net;
mod ntk_flow;
pub mod study;
mod trainer;
pub mod two_layer;

pub use ntk_flow::ntk_flow_prediction;
pub use trainer::{Batching, Record, TrainData, TrainOptions, Trained, train};
