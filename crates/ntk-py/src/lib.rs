//! # ntk-py: the Python module `ntk`
//!
//! The native half (`ntk._ntk`) of the Python package in `python/ntk`: NumPy arrays in and
//! out of `ntk-engine`, with no numerics of its own. Arrays are read in place when they are
//! C-contiguous `float64`/`float32` and copied otherwise; the engine runs with the GIL
//! released on a worker thread while the calling thread watches for Ctrl-C, which stops an
//! empirical kernel between tiles (`ntk_engine::empirical_cancellable`). Engine errors
//! become `ValueError` (`OSError` for files) with the engine's message.
//!
//! The Python API (neural-tangents' shapes: `Mlp.kernel`, `Mlp.empirical`, `Mlp.init`,
//! `predict.gradient_descent_mse[_ensemble]`, `study`, `datasets.load`) is the thin Python
//! layer in `python/ntk`, documented there with the formulas.

mod convert;
mod data;
mod kernel;
mod predict;

use pyo3::prelude::*;

/// The native module `ntk._ntk`.
#[pymodule]
fn _ntk(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(kernel::_mlp_check, m)?)?;
    m.add_function(wrap_pyfunction!(kernel::_analytic, m)?)?;
    m.add_function(wrap_pyfunction!(kernel::_empirical, m)?)?;
    m.add_function(wrap_pyfunction!(kernel::_init, m)?)?;
    m.add_function(wrap_pyfunction!(kernel::_input_address, m)?)?;
    m.add_function(wrap_pyfunction!(data::_dataset_names, m)?)?;
    m.add_function(wrap_pyfunction!(data::_dataset, m)?)?;
    m.add_function(wrap_pyfunction!(data::_study, m)?)?;
    m.add_class::<predict::_Flow>()?;
    m.add_class::<predict::_Ensemble>()?;
    Ok(())
}
