//! NumPy arrays in and out, engine errors as Python exceptions, and the engine run on a
//! worker thread with the GIL released and Ctrl-C watched.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::time::Duration;

use ntk_engine::predict::Matrix;
use ntk_engine::{Error, Parallelism, Points};
use numpy::{PyArray1, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;

/// An engine error as `OSError` (files) or `ValueError` (everything else), with the
/// engine's message, prefixed by the argument it concerns when there is one.
pub fn engine_err(what: Option<&str>, e: Error) -> PyErr {
    let msg = match what {
        Some(w) => format!("{w}: {e}"),
        None => e.to_string(),
    };
    match e {
        Error::Io { .. } | Error::Npy { .. } => PyOSError::new_err(msg),
        _ => PyValueError::new_err(msg),
    }
}

/// The values of a 2-D float array, borrowed when it is C-contiguous (zero-copy), copied in
/// row-major order otherwise.
pub enum Values<'a> {
    /// `float64` values.
    F64(Cow<'a, [f64]>),
    /// `float32` values.
    F32(Cow<'a, [f32]>),
}

/// A 2-D float array read from Python: its shape and values.
pub struct Array2<'a> {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// The values, row-major.
    pub values: Values<'a>,
}

/// A shape as Python prints it: `(6,)`, `(2, 3, 4)`.
fn py_shape(s: &[usize]) -> String {
    match s {
        [n] => format!("({n},)"),
        s => format!(
            "({})",
            s.iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// Reads `obj` (named `what` in errors) as a 2-D `float32`/`float64` NumPy array.
///
/// The returned values borrow the array's memory while `guard` lives when the array is
/// C-contiguous; any other layout (a transpose, a strided slice) is copied. Errors: not a
/// NumPy array or not float32/float64 (`TypeError`), not 2-D (`ValueError`).
pub fn array2<'a, 'py>(
    what: &str,
    obj: &Bound<'py, PyAny>,
    guard: &'a mut Option<Borrowed<'py>>,
) -> PyResult<Array2<'a>> {
    let shape2 = |shape: &[usize]| -> PyResult<(usize, usize)> {
        match shape {
            [r, c] => Ok((*r, *c)),
            s => Err(PyValueError::new_err(format!(
                "{what}: expected a 2-D array (n, d), got shape {}",
                py_shape(s)
            ))),
        }
    };
    // One arm per element type: the guard keeps the read-only borrow alive, and only a
    // C-contiguous array is read in place (`as_slice` accepts Fortran order too).
    macro_rules! read_as {
        ($t:ty, $variant:ident) => {
            if let Ok(a) = obj.cast::<PyArrayDyn<$t>>() {
                let (rows, cols) = shape2(a.shape())?;
                let r = a.try_readonly().map_err(|e| {
                    PyValueError::new_err(format!("{what}: cannot read the array ({e})"))
                })?;
                let g = guard.insert(Borrowed::$variant(r));
                let Borrowed::$variant(r) = g else {
                    unreachable!()
                };
                let values = match r.as_slice() {
                    Ok(s) if r.is_c_contiguous() => Cow::Borrowed(s),
                    _ => Cow::Owned(r.as_array().iter().copied().collect()),
                };
                return Ok(Array2 {
                    rows,
                    cols,
                    values: Values::$variant(values),
                });
            }
        };
    }
    read_as!(f64, F64);
    read_as!(f32, F32);
    if let Ok(a) = obj.cast::<numpy::PyUntypedArray>() {
        let dt = a.dtype();
        return Err(PyTypeError::new_err(format!(
            "{what}: expected a float32 or float64 array, got dtype {dt}"
        )));
    }
    Err(PyTypeError::new_err(format!(
        "{what}: expected a NumPy array (float32 or float64), got {}",
        type_name(obj)
    )))
}

/// The read guard that keeps a borrowed array's memory valid.
pub enum Borrowed<'py> {
    /// A `float64` array.
    F64(numpy::PyReadonlyArrayDyn<'py, f64>),
    /// A `float32` array.
    F32(numpy::PyReadonlyArrayDyn<'py, f32>),
}

impl<'a> Array2<'a> {
    /// The engine's view of the array as points (rows) in `d = cols` dimensions; fails on a
    /// non-finite value.
    pub fn points(&self, what: &str) -> PyResult<Points<'_>> {
        match &self.values {
            Values::F64(v) => Points::from_f64(v, self.rows, self.cols),
            Values::F32(v) => Points::from_f32(v, self.rows, self.cols),
        }
        .map_err(|e| engine_err(Some(what), e))
    }

    /// A copy as an engine [`Matrix`] in `f64`.
    pub fn matrix(&self, what: &str) -> PyResult<Matrix> {
        let data = match &self.values {
            Values::F64(v) => v.to_vec(),
            Values::F32(v) => v.iter().map(|&x| x as f64).collect(),
        };
        Matrix::new(self.rows, self.cols, data).map_err(|e| engine_err(Some(what), e))
    }

    /// The address of the first value the engine reads (for the zero-copy test).
    pub fn address(&self) -> usize {
        match &self.values {
            Values::F64(v) => v.as_ptr() as usize,
            Values::F32(v) => v.as_ptr() as usize,
        }
    }

    /// Whether the values are borrowed from the array (no copy).
    pub fn borrowed(&self) -> bool {
        matches!(
            &self.values,
            Values::F64(Cow::Borrowed(_)) | Values::F32(Cow::Borrowed(_))
        )
    }
}

/// Reads `obj` as a 2-D array and copies it into an engine [`Matrix`].
pub fn matrix(what: &str, obj: &Bound<'_, PyAny>) -> PyResult<Matrix> {
    let mut guard = None;
    array2(what, obj, &mut guard)?.matrix(what)
}

/// A new NumPy array of `shape` holding `data` (row-major), without a copy.
pub fn to_numpy<'py>(
    py: Python<'py>,
    data: Vec<f64>,
    shape: &[usize],
) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
    PyArray1::from_vec(py, data).reshape(shape.to_vec())
}

/// A matrix as a 2-D NumPy array.
pub fn matrix_to_numpy<'py>(py: Python<'py>, m: Matrix) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
    let shape = [m.rows, m.cols];
    to_numpy(py, m.data, &shape)
}

/// The thread count: `threads` when given, else `$NTK_NUM_THREADS`, else all cores.
pub fn parallelism(threads: Option<usize>) -> PyResult<Parallelism> {
    let n = match threads {
        Some(n) => n,
        None => match std::env::var("NTK_NUM_THREADS") {
            Ok(s) if !s.trim().is_empty() => s.trim().parse::<usize>().map_err(|_| {
                PyValueError::new_err(format!(
                    "invalid NTK_NUM_THREADS `{s}`: expected a whole number of threads (0 = \
                     one per core)"
                ))
            })?,
            _ => 0,
        },
    };
    Ok(Parallelism::threads(n))
}

/// Runs `f` on a worker thread with the GIL released, checking for signals (Ctrl-C) every
/// 50 ms; on a pending `KeyboardInterrupt` it sets the cancel flag `f` receives, waits for
/// `f` to return (at its next tile) and raises the interrupt.
pub fn run_engine<T: Send>(
    py: Python<'_>,
    what: Option<&str>,
    f: impl FnOnce(&AtomicBool) -> ntk_engine::Result<T> + Send,
) -> PyResult<T> {
    let cancel = AtomicBool::new(false);
    let mut interrupt: Option<PyErr> = None;
    let joined = py.detach(|| {
        std::thread::scope(|s| {
            let (tx, rx) = channel::<()>();
            let cancel = &cancel;
            let worker = s.spawn(move || {
                let r = f(cancel);
                let _ = tx.send(());
                r
            });
            loop {
                match rx.recv_timeout(Duration::from_millis(50)) {
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
                    Err(RecvTimeoutError::Timeout) => {
                        if interrupt.is_none()
                            && let Err(e) = Python::attach(|py| py.check_signals())
                        {
                            cancel.store(true, Ordering::Relaxed);
                            interrupt = Some(e);
                        }
                    }
                }
            }
            worker.join()
        })
    });
    let result = joined.map_err(|_| PyRuntimeError::new_err("ntk: the engine panicked"))?;
    if let Some(e) = interrupt {
        return Err(e);
    }
    result.map_err(|e| engine_err(what, e))
}
