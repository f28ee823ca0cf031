//! Predictions: the gradient flow of the MSE loss (`_Flow`) and the infinite ensemble
//! (`_Ensemble`) on kernels given as NumPy arrays. The formulas are the engine's
//! (`ntk_engine::predict`); this layer converts arrays and stacks the per-time results.

use ntk_engine::predict::Matrix;
use ntk_engine::predict::{Ensemble, FitOptions, Gaussian, GradientFlow, Initial, TestKernels};
use numpy::PyArrayDyn;
use pyo3::prelude::*;

use crate::convert::{matrix, parallelism, run_engine, to_numpy};

fn options(learning_rate: f64, diag_reg: f64, threads: Option<usize>) -> PyResult<FitOptions> {
    Ok(FitOptions {
        learning_rate,
        diag_reg,
        parallelism: parallelism(threads)?,
    })
}

fn opt_matrix(what: &str, obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Matrix>> {
    obj.map(|o| matrix(what, o)).transpose()
}

/// Per-time matrices stacked as one `T × rows × cols` array.
fn stack<'py>(py: Python<'py>, ms: Vec<Matrix>) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
    let (r, c) = ms.first().map_or((0, 0), |m| (m.rows, m.cols));
    let t = ms.len();
    let data: Vec<f64> = ms.into_iter().flat_map(|m| m.data).collect();
    to_numpy(py, data, &[t, r, c])
}

type Moments<'py> = (Bound<'py, PyArrayDyn<f64>>, Bound<'py, PyArrayDyn<f64>>);

fn moments(py: Python<'_>, gs: Vec<Gaussian>) -> PyResult<Moments<'_>> {
    let (means, covs): (Vec<Matrix>, Vec<Matrix>) =
        gs.into_iter().map(|g| (g.mean, g.covariance)).unzip();
    Ok((stack(py, means)?, stack(py, covs)?))
}

/// A fitted gradient flow (engine `GradientFlow`).
#[pyclass(frozen)]
pub struct _Flow {
    flow: GradientFlow,
}

#[pymethods]
impl _Flow {
    #[new]
    #[pyo3(signature = (k_train_train, y_train, learning_rate, diag_reg, threads))]
    fn new(
        py: Python<'_>,
        k_train_train: &Bound<'_, PyAny>,
        y_train: &Bound<'_, PyAny>,
        learning_rate: f64,
        diag_reg: f64,
        threads: Option<usize>,
    ) -> PyResult<Self> {
        let k = matrix("k_train_train", k_train_train)?;
        let y = matrix("y_train", y_train)?;
        let opts = options(learning_rate, diag_reg, threads)?;
        let flow = run_engine(py, None, |_| GradientFlow::fit(&k, &y, &opts))?;
        Ok(_Flow { flow })
    }

    /// `f_train(t)` at each time, `T × n_train × k`.
    #[pyo3(signature = (times, fx_train_0))]
    fn train<'py>(
        &self,
        py: Python<'py>,
        times: Vec<f64>,
        fx_train_0: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        let f0 = opt_matrix("fx_train_0", fx_train_0)?;
        let initial = Initial {
            fx_train_0: f0.as_ref(),
            fx_test_0: None,
        };
        let out = run_engine(py, None, |_| self.flow.predict_train(&times, &initial))?;
        stack(py, out)
    }

    /// `f_test(t)` at each time, `T × n_test × k`.
    #[pyo3(signature = (times, k_test_train, fx_train_0, fx_test_0))]
    fn test<'py>(
        &self,
        py: Python<'py>,
        times: Vec<f64>,
        k_test_train: &Bound<'py, PyAny>,
        fx_train_0: Option<&Bound<'py, PyAny>>,
        fx_test_0: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        let kst = matrix("k_test_train", k_test_train)?;
        let f0 = opt_matrix("fx_train_0", fx_train_0)?;
        let g0 = opt_matrix("fx_test_0", fx_test_0)?;
        let initial = Initial {
            fx_train_0: f0.as_ref(),
            fx_test_0: g0.as_ref(),
        };
        let out = run_engine(py, None, |_| self.flow.predict_test(&times, &kst, &initial))?;
        stack(py, out)
    }
}

/// A fitted infinite ensemble (engine `Ensemble`), trained with the NTK or the NNGP.
#[pyclass(frozen)]
pub struct _Ensemble {
    ens: Ensemble,
}

#[pymethods]
impl _Ensemble {
    /// `ntk_train_train = None`: NNGP training (Bayesian inference at `t = ∞`).
    #[new]
    #[pyo3(signature = (nngp_train_train, ntk_train_train, y_train, learning_rate, diag_reg, threads))]
    fn new(
        py: Python<'_>,
        nngp_train_train: &Bound<'_, PyAny>,
        ntk_train_train: Option<&Bound<'_, PyAny>>,
        y_train: &Bound<'_, PyAny>,
        learning_rate: f64,
        diag_reg: f64,
        threads: Option<usize>,
    ) -> PyResult<Self> {
        let k = matrix("nngp_train_train", nngp_train_train)?;
        let theta = opt_matrix("ntk_train_train", ntk_train_train)?;
        let y = matrix("y_train", y_train)?;
        let opts = options(learning_rate, diag_reg, threads)?;
        let ens = run_engine(py, None, |_| match &theta {
            Some(t) => Ensemble::ntk(&k, t, &y, &opts),
            None => Ensemble::nngp(&k, &y, &opts),
        })?;
        Ok(_Ensemble { ens })
    }

    /// Means (`T × n_train × k`) and covariances (`T × n_train × n_train`) on the
    /// training points.
    fn train<'py>(&self, py: Python<'py>, times: Vec<f64>) -> PyResult<Moments<'py>> {
        let gs = run_engine(py, None, |_| self.ens.predict_train(&times))?;
        moments(py, gs)
    }

    /// Means (`T × n_test × k`) and covariances (`T × n_test × n_test`) on test points.
    #[pyo3(signature = (times, nngp_test_train, nngp_test_test, ntk_test_train))]
    fn test<'py>(
        &self,
        py: Python<'py>,
        times: Vec<f64>,
        nngp_test_train: &Bound<'py, PyAny>,
        nngp_test_test: &Bound<'py, PyAny>,
        ntk_test_train: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Moments<'py>> {
        let kst = matrix("nngp_test_train", nngp_test_train)?;
        let kss = matrix("nngp_test_test", nngp_test_test)?;
        let tst = opt_matrix("ntk_test_train", ntk_test_train)?;
        let test = TestKernels {
            nngp_test_train: &kst,
            nngp_test_test: &kss,
            ntk_test_train: tst.as_ref(),
        };
        let gs = run_engine(py, None, |_| self.ens.predict_test(&times, &test))?;
        moments(py, gs)
    }
}
