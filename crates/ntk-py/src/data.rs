//! The bundled datasets and the width-scaling study.

use ntk_engine::train::study::{METRICS, StudyConfig, StudyData, run_study};
use ntk_engine::{Activation, Dataset, Error, Parameterization};
use numpy::{PyArray1, PyArrayDyn};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::{engine_err, parallelism, run_engine, to_numpy};

/// The names of the bundled datasets.
#[pyfunction]
pub fn _dataset_names() -> Vec<&'static str> {
    ntk_engine::data::dataset::BUNDLED.to_vec()
}

/// Features and labels of a dataset.
type Arrays<'py> = (
    Bound<'py, PyArrayDyn<f64>>,
    Option<Bound<'py, PyArray1<i64>>>,
);

/// A bundled dataset: its features (`n × d`, float64) and integer labels (`n`).
#[pyfunction]
pub fn _dataset<'py>(py: Python<'py>, name: &str) -> PyResult<Arrays<'py>> {
    let d = Dataset::bundled(name).map_err(|e| engine_err(None, e))?;
    let x = to_numpy(py, d.to_f64_vec(), &[d.rows(), d.cols()])?;
    let y = d.labels().map(|l| PyArray1::from_slice(py, l));
    Ok((x, y))
}

/// Runs `ntk study` on a bundled dataset; returns its table as `{column: array}` with the
/// CSV's columns (`width`, `METRIC_mean`, `METRIC_std`).
#[pyfunction]
#[pyo3(signature = (dataset, n_train, n_test, widths, seeds, steps, learning_rate, batch_size, depth, activation, parameterization, w_std, b_std, alpha, centre, two_layer, threads))]
#[allow(clippy::too_many_arguments)]
pub fn _study<'py>(
    py: Python<'py>,
    dataset: &str,
    n_train: usize,
    n_test: usize,
    widths: Vec<usize>,
    seeds: Vec<u64>,
    steps: usize,
    learning_rate: f64,
    batch_size: Option<usize>,
    depth: usize,
    activation: &str,
    parameterization: &str,
    w_std: f64,
    b_std: f64,
    alpha: f64,
    centre: bool,
    two_layer: Option<&str>,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    let e = |e: Error| engine_err(None, e);
    if depth == 0 {
        return Err(e(Error::invalid("depth", 0, "at least 1 hidden layer")));
    }
    if steps == 0 {
        return Err(e(Error::invalid("steps", 0, "at least 1 step")));
    }
    let config = StudyConfig {
        widths,
        seeds,
        depth,
        activation: activation.parse::<Activation>().map_err(e)?,
        parameterization: parameterization.parse::<Parameterization>().map_err(e)?,
        w_std,
        b_std,
        alpha,
        centre,
        steps,
        learning_rate,
        batch_size,
        two_layer: two_layer
            .map(|s| s.parse::<Activation>())
            .transpose()
            .map_err(e)?,
        parallelism: parallelism(threads)?,
    };
    let data = Dataset::bundled(dataset)
        .and_then(|d| StudyData::from_dataset(&d, n_train, n_test))
        .map_err(e)?;
    let result = run_engine(py, None, |_| run_study(&config, &data, &mut |_| {}))?;
    let out = PyDict::new(py);
    let widths: Vec<i64> = result.rows.iter().map(|r| r.width as i64).collect();
    out.set_item("width", PyArray1::from_vec(py, widths))?;
    for (i, (name, _)) in METRICS.iter().enumerate() {
        let mean: Vec<f64> = result.rows.iter().map(|r| r.stats[i].mean).collect();
        let std: Vec<f64> = result.rows.iter().map(|r| r.stats[i].std).collect();
        out.set_item(format!("{name}_mean"), PyArray1::from_vec(py, mean))?;
        out.set_item(format!("{name}_std"), PyArray1::from_vec(py, std))?;
    }
    Ok(out)
}
