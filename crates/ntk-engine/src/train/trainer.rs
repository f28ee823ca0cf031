//! Full-batch gradient descent and mini-batch SGD with the records of [`super`].

use faer::{Mat, MatRef};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{Rng, SeedableRng};

use super::linearised::Linearised;
use super::net::{self, par};
use crate::data::Points;
use crate::error::{Error, Result};
use crate::gram::{self, EmpiricalOptions, KernelKind, Precision, Weights};
use crate::metrics::rel_frobenius;
use crate::model::Mlp;
use crate::parallel::Parallelism;
use crate::params::Params;
use crate::predict::Matrix;

/// Which points each step uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Batching {
    /// Every training point, every step (gradient descent).
    #[default]
    Full,
    /// `size` points per step (SGD): the training set is visited in a fresh seeded random
    /// order each epoch, batches taken in turn from the concatenated orders (a batch may
    /// straddle two epochs). The same seed gives the same batches.
    MiniBatch {
        /// Points per batch, `1..=n_train`.
        size: usize,
        /// Seed of the orders.
        seed: u64,
    },
}

/// Settings of [`train`].
///
/// The defaults are what a first call should get: plain full-batch gradient descent on the
/// centred output `g = f − f_0` (so the predictions start at 0 and the fit is not pulled by
/// the random initial function), with the kernel drift recorded and no linearised model. What each option costs, for `n` training points, `k` outputs and `P` parameters:
///
/// | option | default | cost |
/// | --- | --- | --- |
/// | `steps` | 100 | one forward and backward pass over the batch per step, `O(n·P)` |
/// | `centre` | `true` | one extra forward pass at `θ_0` on the training (and test) points, once |
/// | `record_every` | 10 | one forward pass over the training (and test) points per record |
/// | `kernel_drift` | `true` | one traced empirical NTK on the probe set per record (`O(n²·Σ m_l)` plus the features) |
/// | `linearised` | `false` | one **full** empirical NTK `n × n × k × k` at `θ_0` per call (memory `8·n²·k²` bytes), and a linear step per step |
///
/// The defaults changed: before this version `centre` was `false` and `linearised` was
/// `true`; set them explicitly for the old behaviour.
#[derive(Clone, Copy, Debug)]
pub struct TrainOptions {
    /// Number of steps.
    pub steps: usize,
    /// Learning rate `η > 0`.
    pub learning_rate: f64,
    /// Full batch or mini-batches.
    pub batching: Batching,
    /// Output scale `α > 0` (1 = plain training).
    pub alpha: f64,
    /// Train `α·(f − f_0)`, which starts at 0, instead of `α·f` (default `true`).
    pub centre: bool,
    /// Record every this many steps (≥ 1); the first and last steps are always recorded.
    pub record_every: usize,
    /// Compute the kernel drift at each record (one empirical NTK on the probe set each).
    pub kernel_drift: bool,
    /// Train the linearised model alongside (one full `n × n × k × k` empirical NTK at
    /// `θ_0`; default `false`).
    pub linearised: bool,
    /// Threads.
    pub parallelism: Parallelism,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            steps: 100,
            learning_rate: 1.0,
            batching: Batching::Full,
            alpha: 1.0,
            centre: true,
            record_every: 10,
            kernel_drift: true,
            linearised: false,
            parallelism: Parallelism::default(),
        }
    }
}

/// The data of a run: training points and targets, optional test points, and the probe set
/// of the kernel drift (the training points when absent).
#[derive(Clone, Copy, Debug)]
pub struct TrainData<'a> {
    /// Training inputs, `n_train × d`.
    pub x_train: &'a Points<'a>,
    /// Targets, `n_train × k`.
    pub y_train: &'a Matrix,
    /// Test inputs, `n_test × d`.
    pub x_test: Option<&'a Points<'a>>,
    /// Probe inputs for the kernel drift.
    pub probe: Option<&'a Points<'a>>,
}

/// One row of the training log.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Record {
    /// Steps taken.
    pub step: usize,
    /// `L(θ_t)` on the whole training set.
    pub loss: f64,
    /// `‖θ_t − θ_0‖₂`.
    pub param_distance: f64,
    /// `‖Θ_t − Θ_0‖_F/‖Θ_0‖_F` on the probe set (traced NTK), when asked for.
    pub kernel_drift: Option<f64>,
    /// RMS of `g_nn − g_lin` on the training points, when the linear model runs.
    pub lin_gap_train: Option<f64>,
    /// RMS of `g_nn − g_lin` on the test points, when there are test points and the linear
    /// model runs.
    pub lin_gap_test: Option<f64>,
}

/// The result of [`train`]: the parameters, the log and the outputs (of `g`).
#[derive(Clone, Debug)]
pub struct Trained {
    /// `θ` after the last step.
    pub params: Params,
    /// The log, in step order.
    pub records: Vec<Record>,
    /// `g` on the training points at step 0, `n_train × k`.
    pub train_0: Matrix,
    /// `g` on the test points at step 0.
    pub test_0: Option<Matrix>,
    /// `g` on the training points after the last step.
    pub train: Matrix,
    /// `g` on the test points after the last step.
    pub test: Option<Matrix>,
    /// The linearised model's outputs on the training points after the last step.
    pub lin_train: Option<Matrix>,
    /// The linearised model's outputs on the test points after the last step.
    pub lin_test: Option<Matrix>,
}

fn check(model: &Mlp, params: &Params, data: &TrainData<'_>, o: &TrainOptions) -> Result<()> {
    model.validate()?;
    params.check(model)?;
    let n = data.x_train.rows();
    for (name, x) in [
        ("x_train", Some(data.x_train)),
        ("x_test", data.x_test),
        ("probe", data.probe),
    ] {
        if let Some(x) = x
            && x.cols() != model.input_dim
        {
            return Err(Error::DimensionMismatch {
                what: format!("feature dimension of {name} (the model's input dimension)"),
                expected: model.input_dim,
                got: x.cols(),
            });
        }
    }
    data.y_train.check_len("y_train")?;
    if data.y_train.rows != n || data.y_train.cols != model.outputs {
        return Err(Error::invalid(
            "y_train shape",
            format!("{}×{}", data.y_train.rows, data.y_train.cols),
            format!("{n}×{} (n_train × outputs)", model.outputs),
        ));
    }
    if let Some(p) = data.y_train.data.iter().position(|v| !v.is_finite()) {
        return Err(Error::NonFinite {
            what: "y_train".into(),
            row: p / data.y_train.cols,
            col: p % data.y_train.cols,
            value: data.y_train.data[p],
        });
    }
    if !(o.learning_rate.is_finite() && o.learning_rate > 0.0) {
        return Err(Error::invalid(
            "learning rate",
            o.learning_rate,
            "a finite number > 0",
        ));
    }
    if !(o.alpha.is_finite() && o.alpha > 0.0) {
        return Err(Error::invalid("alpha", o.alpha, "a finite number > 0"));
    }
    if o.record_every == 0 {
        return Err(Error::invalid("record_every", 0, "at least 1 step"));
    }
    if let Batching::MiniBatch { size, .. } = o.batching
        && (size == 0 || size > n)
    {
        return Err(Error::invalid(
            "batch size",
            size,
            format!("1..={n} (the training points)"),
        ));
    }
    Ok(())
}

/// Seeded epochs of shuffled indices, cut into batches in turn.
struct Batches {
    n: usize,
    order: Vec<usize>,
    pos: usize,
    rng: Option<Xoshiro256PlusPlus>,
}

impl Batches {
    fn new(n: usize, batching: Batching) -> Self {
        let rng = match batching {
            Batching::Full => None,
            Batching::MiniBatch { seed, .. } => Some(Xoshiro256PlusPlus::seed_from_u64(seed)),
        };
        let mut b = Batches {
            n,
            order: (0..n).collect(),
            pos: 0,
            rng,
        };
        b.shuffle();
        b
    }

    fn shuffle(&mut self) {
        self.order = (0..self.n).collect();
        if let Some(rng) = &mut self.rng {
            for i in (1..self.n).rev() {
                let j = (rng.next_u64() % (i as u64 + 1)) as usize;
                self.order.swap(i, j);
            }
        }
        self.pos = 0;
    }

    fn next(&mut self, size: usize) -> Vec<usize> {
        let mut out = Vec::with_capacity(size);
        while out.len() < size {
            if self.pos == self.n {
                self.shuffle();
            }
            out.push(self.order[self.pos]);
            self.pos += 1;
        }
        out
    }
}

fn rows_of(x: MatRef<'_, f64>, idx: &[usize]) -> Mat<f64> {
    Mat::from_fn(idx.len(), x.ncols(), |i, j| x[(idx[i], j)])
}

fn rms(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> f64 {
    let n = (a.nrows() * a.ncols()).max(1) as f64;
    ((a - b).squared_norm_l2() / n).sqrt()
}

fn traced_ntk(model: &Mlp, params: &Params, x: &Points<'_>, p: Parallelism) -> Result<Vec<f64>> {
    let opts = EmpiricalOptions {
        kind: KernelKind::Ntk,
        precision: Precision::F64,
        parallelism: p,
        ..EmpiricalOptions::default()
    };
    Ok(gram::empirical(model, Weights::Explicit(params), x, None, &opts)?.data)
}

/// The linearised model on the training and test points together, started from `g(0)`.
fn linearised_setup(
    model: &Mlp,
    params0: &Params,
    data: &TrainData<'_>,
    g0_train: &Mat<f64>,
    g0_test: Option<&Mat<f64>>,
    parallelism: Parallelism,
) -> Result<Linearised> {
    let (n, k) = (g0_train.nrows(), g0_train.ncols());
    let n_test = data.x_test.map_or(0, |x| x.rows());
    let mut all = data.x_train.to_f64_vec();
    if let Some(x) = data.x_test {
        all.extend(x.to_f64_vec());
    }
    let x_all = Points::from_f64(&all, n + n_test, model.input_dim)?;
    let out0 = Mat::from_fn(n + n_test, k, |i, a| {
        if i < n {
            g0_train[(i, a)]
        } else {
            g0_test.map_or(0.0, |g| g[(i - n, a)])
        }
    });
    Linearised::new(model, params0, &x_all, data.x_train, out0, parallelism)
}

/// What a record needs: the fixed inputs, targets and initial outputs of a run, and `Θ_0`
/// on the probe set when the kernel drift is recorded.
struct Recorder<'a> {
    model: &'a Mlp,
    params0: &'a Params,
    x_train: MatRef<'a, f64>,
    x_test: Option<MatRef<'a, f64>>,
    y: MatRef<'a, f64>,
    f0_train: &'a Mat<f64>,
    f0_test: Option<&'a Mat<f64>>,
    probe: &'a Points<'a>,
    theta0: Option<Vec<f64>>,
    /// `α` and the centring factor `c` of `g = α·(f − c·f_0)`.
    alpha: f64,
    c: f64,
    parallelism: Parallelism,
}

/// One record and the outputs `g` on the training and test points it was taken from.
type Recorded = (Record, Mat<f64>, Option<Mat<f64>>);

impl Recorder<'_> {
    /// `g = α·(f − c·f_0)`.
    fn g(&self, f: &Mat<f64>, f0: &Mat<f64>) -> Mat<f64> {
        let (alpha, c) = (self.alpha, self.c);
        Mat::from_fn(f.nrows(), f.ncols(), |i, a| {
            alpha * (f[(i, a)] - c * f0[(i, a)])
        })
    }

    /// The record of `params` after `step` steps (`lin`: the linearised model then).
    fn record(&self, step: usize, params: &Params, lin: Option<&Linearised>) -> Result<Recorded> {
        let pr = par(self.parallelism);
        let f = net::forward(self.model, params, self.x_train, pr);
        let g_train = self.g(&f, self.f0_train);
        let g_test = self
            .x_test
            .zip(self.f0_test)
            .map(|(x, f0)| self.g(&net::forward(self.model, params, x, pr), f0));
        let (n, k) = (g_train.nrows(), g_train.ncols());
        let loss = (&g_train - self.y).squared_norm_l2()
            / (2.0 * (n * k) as f64 * self.alpha * self.alpha);
        let kernel_drift = match &self.theta0 {
            None => None,
            Some(t0) => Some(rel_frobenius(
                &traced_ntk(self.model, params, self.probe, self.parallelism)?,
                t0,
            )),
        };
        let (lin_gap_train, lin_gap_test) = match lin {
            None => (None, None),
            Some(l) => (
                Some(rms(g_train.as_ref(), l.out.subrows(0, n))),
                g_test
                    .as_ref()
                    .map(|g| rms(g.as_ref(), l.out.subrows(n, g.nrows()))),
            ),
        };
        let record = Record {
            step,
            loss,
            param_distance: net::distance(params, self.params0),
            kernel_drift,
            lin_gap_train,
            lin_gap_test,
        };
        Ok((record, g_train, g_test))
    }
}

/// Trains `model` from `params0` on `data` (see the [module docs](super) for the loss and
/// the records).
///
/// Errors: a model or parameters that do not match, inputs of the wrong dimension, targets
/// that are not `n_train × k` or not finite, a learning rate or `α` that is not finite and
/// positive, `record_every = 0`, or a batch size outside `1..=n_train`.
pub fn train(
    model: &Mlp,
    params0: &Params,
    data: &TrainData<'_>,
    o: &TrainOptions,
) -> Result<Trained> {
    check(model, params0, data, o)?;
    let pr = par(o.parallelism);
    let (n, k) = (data.x_train.rows(), model.outputs);
    let x_train = data.x_train.to_mat::<f64>(0, n);
    let x_test = data.x_test.map(|x| x.to_mat::<f64>(0, x.rows()));
    let y = data.y_train.to_faer();
    let f0_train = net::forward(model, params0, x_train.as_ref(), pr);
    let f0_test = x_test
        .as_ref()
        .map(|x| net::forward(model, params0, x.as_ref(), pr));
    let probe = data.probe.unwrap_or(data.x_train);
    let recorder = Recorder {
        model,
        params0,
        x_train: x_train.as_ref(),
        x_test: x_test.as_ref().map(Mat::as_ref),
        y: y.as_ref(),
        f0_train: &f0_train,
        f0_test: f0_test.as_ref(),
        probe,
        theta0: if o.kernel_drift {
            Some(traced_ntk(model, params0, probe, o.parallelism)?)
        } else {
            None
        },
        alpha: o.alpha,
        c: if o.centre { 1.0 } else { 0.0 },
        parallelism: o.parallelism,
    };
    let g0_train = recorder.g(&f0_train, &f0_train);
    let g0_test = f0_test.as_ref().map(|f| recorder.g(f, f));
    let mut lin = if o.linearised {
        Some(linearised_setup(
            model,
            params0,
            data,
            &g0_train,
            g0_test.as_ref(),
            o.parallelism,
        )?)
    } else {
        None
    };
    let mut params = params0.clone();
    let mut batches = Batches::new(n, o.batching);
    let size = match o.batching {
        Batching::Full => n,
        Batching::MiniBatch { size, .. } => size,
    };
    let mut records = Vec::new();
    let mut last: Option<(Mat<f64>, Option<Mat<f64>>)> = None;
    for step in 0..=o.steps {
        if step % o.record_every == 0 || step == o.steps {
            let (record, g_train, g_test) = recorder.record(step, &params, lin.as_ref())?;
            records.push(record);
            last = Some((g_train, g_test));
        }
        if step == o.steps {
            break;
        }
        let batch = batches.next(size);
        let xb = if size == n && o.batching == Batching::Full {
            x_train.clone()
        } else {
            rows_of(x_train.as_ref(), &batch)
        };
        let tape = net::forward_tape(model, &params, xb.as_ref(), pr);
        let nb = (batch.len() * k) as f64;
        // ∂L/∂f = (g − y)/(α·N_B).
        let (alpha, c) = (recorder.alpha, recorder.c);
        let g_out = Mat::from_fn(batch.len(), k, |i, a| {
            let j = batch[i];
            let g = alpha * (tape.out[(i, a)] - c * f0_train[(j, a)]);
            (g - y[(j, a)]) / (alpha * nb)
        });
        let grads = net::backward(model, &params, &tape, g_out.as_ref(), pr);
        net::axpy(&mut params, -o.learning_rate, &grads);
        if let Some(l) = &mut lin {
            l.step(&batch, &y, o.learning_rate);
        }
    }
    let (g_train, g_test) = last.unwrap_or_else(|| unreachable!("the last step is recorded"));
    let to = |m: &Mat<f64>| Matrix::from_faer(m.as_ref());
    let n_test = g_test.as_ref().map_or(0, |g| g.nrows());
    Ok(Trained {
        params,
        records,
        train_0: to(&g0_train),
        test_0: g0_test.as_ref().map(to),
        train: to(&g_train),
        test: g_test.as_ref().map(to),
        lin_train: lin.as_ref().map(|l| to(&l.out.subrows(0, n).to_owned())),
        lin_test: lin
            .as_ref()
            .filter(|_| n_test > 0)
            .map(|l| to(&l.out.subrows(n, n_test).to_owned())),
    })
}
