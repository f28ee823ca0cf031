//! The network and its kernels: `_mlp_check`, `_analytic`, `_empirical`, `_init`.

use ntk_engine::gram::{EmpiricalOptions, Precision, Weights};
use ntk_engine::params::{Dense, Params};
use ntk_engine::{
    Activation, AnalyticOptions, KernelKind, Mlp, Parameterization, analytic_cancellable,
    empirical_cancellable,
};
use numpy::PyArrayDyn;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use crate::convert::{
    array2, engine_err, matrix, matrix_to_numpy, parallelism, run_engine, to_numpy,
};

/// The engine's model from the Python constructor's arguments, for inputs of dimension `d`;
/// the parsers are the CLI's (`FromStr` of the engine types).
pub fn model(
    d: usize,
    widths: &[usize],
    activation: &str,
    w_std: f64,
    b_std: f64,
    parameterization: &str,
    outputs: usize,
) -> PyResult<Mlp> {
    let act: Activation = activation.parse().map_err(|e| engine_err(None, e))?;
    let par: Parameterization = parameterization.parse().map_err(|e| engine_err(None, e))?;
    let m = Mlp::new(d, widths, act)
        .with_w_std(w_std)
        .with_b_std(b_std)
        .with_parameterization(par)
        .with_outputs(outputs);
    m.validate().map_err(|e| engine_err(None, e))?;
    Ok(m)
}

/// Checks a model's settings (with `d = 1`) and returns the activation's canonical name.
#[pyfunction]
#[pyo3(signature = (widths, activation, w_std, b_std, parameterization, outputs))]
pub fn _mlp_check(
    widths: Vec<usize>,
    activation: &str,
    w_std: f64,
    b_std: f64,
    parameterization: &str,
    outputs: usize,
) -> PyResult<(String, String)> {
    let m = model(
        1,
        &widths,
        activation,
        w_std,
        b_std,
        parameterization,
        outputs,
    )?;
    Ok((m.activation.to_string(), m.parameterization.to_string()))
}

fn kind(get: &str) -> PyResult<KernelKind> {
    get.parse().map_err(|e| engine_err(None, e))
}

/// The analytic (infinite-width) kernel `kind` between the rows of `x1` and `x2`.
#[pyfunction]
#[pyo3(signature = (x1, x2, widths, activation, w_std, b_std, parameterization, outputs, get, full, threads))]
#[allow(clippy::too_many_arguments)]
pub fn _analytic<'py>(
    py: Python<'py>,
    x1: &Bound<'py, PyAny>,
    x2: Option<&Bound<'py, PyAny>>,
    widths: Vec<usize>,
    activation: &str,
    w_std: f64,
    b_std: f64,
    parameterization: &str,
    outputs: usize,
    get: &str,
    full: bool,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
    let (mut g1, mut g2) = (None, None);
    let a1 = array2("x1", x1, &mut g1)?;
    let a2 = x2.map(|x| array2("x2", x, &mut g2)).transpose()?;
    let p1 = a1.points("x1")?;
    let p2 = a2.as_ref().map(|a| a.points("x2")).transpose()?;
    let m = model(
        p1.cols(),
        &widths,
        activation,
        w_std,
        b_std,
        parameterization,
        outputs,
    )?;
    let opts = AnalyticOptions {
        kind: kind(get)?,
        full,
        parallelism: parallelism(threads)?,
        ..AnalyticOptions::default()
    };
    let k = run_engine(py, None, |cancel| {
        analytic_cancellable(&m, &p1, p2.as_ref(), &opts, cancel)
    })?;
    let shape = k.shape();
    to_numpy(py, k.data, &shape)
}

/// One `(W, b)` pair of a stax parameter list (empty tuples, a stax activation layer's
/// parameters, are skipped by the caller).
fn dense(l: usize, pair: &Bound<'_, PyAny>) -> PyResult<Dense> {
    let items: Vec<Bound<'_, PyAny>> = pair
        .try_iter()
        .map_err(|_| {
            PyTypeError::new_err(format!("params[{l}]: expected a (W, b) pair of arrays"))
        })?
        .collect::<PyResult<_>>()?;
    let [w, b] = &items[..] else {
        return Err(PyValueError::new_err(format!(
            "params[{l}]: expected a (W, b) pair, got {} items",
            items.len()
        )));
    };
    let w = matrix(&format!("params[{l}] W"), w)?;
    // b is `(fan_out,)` in stax; `(1, fan_out)` is accepted too.
    let np = PyModule::import(b.py(), "numpy")?;
    let b2 = np.call_method1("atleast_2d", (b,))?;
    let b = matrix(&format!("params[{l}] b"), &b2)?;
    if b.rows != 1 {
        return Err(PyValueError::new_err(format!(
            "params[{l}] b: expected shape (fan_out,), got {} rows",
            b.rows
        )));
    }
    Dense::new(&w, b.data).map_err(|e| engine_err(Some(&format!("params[{l}]")), e))
}

/// Explicit parameters from a stax list of `(W, b)` pairs (and `()` for activation layers).
fn params(m: &Mlp, list: &Bound<'_, PyAny>) -> PyResult<Params> {
    let mut layers = Vec::new();
    for item in list.try_iter().map_err(|_| {
        PyTypeError::new_err("params: expected a list of (W, b) pairs (stax layout)")
    })? {
        let item = item?;
        if item.len().ok() == Some(0) {
            continue;
        }
        layers.push(dense(layers.len(), &item)?);
    }
    Params::from_layers(m, layers).map_err(|e| engine_err(Some("params"), e))
}

/// The empirical (finite-width) kernel of the network with seeded or given weights.
#[pyfunction]
#[pyo3(signature = (x1, x2, widths, activation, w_std, b_std, parameterization, outputs, kind, seed, params, full, dtype, threads))]
#[allow(clippy::too_many_arguments)]
pub fn _empirical<'py>(
    py: Python<'py>,
    x1: &Bound<'py, PyAny>,
    x2: Option<&Bound<'py, PyAny>>,
    widths: Vec<usize>,
    activation: &str,
    w_std: f64,
    b_std: f64,
    parameterization: &str,
    outputs: usize,
    kind: &str,
    seed: u64,
    params: Option<&Bound<'py, PyAny>>,
    full: bool,
    dtype: &str,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
    let (mut g1, mut g2) = (None, None);
    let a1 = array2("x1", x1, &mut g1)?;
    let a2 = x2.map(|x| array2("x2", x, &mut g2)).transpose()?;
    let p1 = a1.points("x1")?;
    let p2 = a2.as_ref().map(|a| a.points("x2")).transpose()?;
    let m = model(
        p1.cols(),
        &widths,
        activation,
        w_std,
        b_std,
        parameterization,
        outputs,
    )?;
    let given = params.map(|p| self::params(&m, p)).transpose()?;
    let weights = match &given {
        Some(p) => Weights::Explicit(p),
        None => Weights::Seeded(seed),
    };
    let precision: Precision = dtype.parse().map_err(|e| engine_err(None, e))?;
    let opts = EmpiricalOptions {
        kind: self::kind(kind)?,
        full,
        precision,
        parallelism: parallelism(threads)?,
        ..EmpiricalOptions::default()
    };
    let k = run_engine(py, None, |cancel| {
        empirical_cancellable(&m, weights, &p1, p2.as_ref(), &opts, cancel)
    })?;
    let shape = k.shape();
    to_numpy(py, k.data, &shape)
}

/// The seeded initial weights as a list of `(W, b)` pairs (stax layout: `W` is
/// `fan_in × fan_out`, `b` is `(fan_out,)`).
#[pyfunction]
#[pyo3(signature = (d, widths, activation, w_std, b_std, parameterization, outputs, seed))]
#[allow(clippy::too_many_arguments)]
pub fn _init<'py>(
    py: Python<'py>,
    d: usize,
    widths: Vec<usize>,
    activation: &str,
    w_std: f64,
    b_std: f64,
    parameterization: &str,
    outputs: usize,
    seed: u64,
) -> PyResult<Bound<'py, PyList>> {
    let m = model(
        d,
        &widths,
        activation,
        w_std,
        b_std,
        parameterization,
        outputs,
    )?;
    let p = Params::seeded(&m, seed).map_err(|e| engine_err(None, e))?;
    let out = PyList::empty(py);
    for layer in &p.layers {
        let w = matrix_to_numpy(py, layer.weights())?;
        let b = to_numpy(py, layer.bias().to_vec(), &[layer.bias().len()])?;
        out.append(PyTuple::new(py, [w.into_any(), b.into_any()])?)?;
    }
    Ok(out)
}

/// Where the engine would read `x` from: `(address of the first value, borrowed)` (for the
/// zero-copy test).
#[pyfunction]
pub fn _input_address(x: &Bound<'_, PyAny>) -> PyResult<(usize, bool)> {
    let mut g = None;
    let a = array2("x", x, &mut g)?;
    Ok((a.address(), a.borrowed()))
}
