//! Predictions with a kernel: kernel regression (`t = ∞`) and gradient flow at chosen times,
//! through the engine's [`GradientFlow`]; targets and predictions are [`Outputs`].

use core::fmt;

use ntk_engine::metrics;
use ntk_engine::predict::{FitOptions, GradientFlow, Initial, Matrix};
use ntk_engine::{Error, Result};

use crate::display::plot::{Legend, Plot, Series, Style};
use crate::display::{Table, figure_with_table, num};
use crate::kernel::KernelMatrix;

/// Outputs or targets: `rows × cols` (points × outputs), row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Outputs {
    /// Points.
    pub rows: usize,
    /// Outputs per point.
    pub cols: usize,
    /// Entry `(i, a)` at `data[i * cols + a]`.
    pub data: Vec<f64>,
}

impl Outputs {
    /// Outputs from row-major values; fails when the length is not `rows * cols`.
    pub fn new(rows: usize, cols: usize, data: Vec<f64>) -> Result<Outputs> {
        Ok(Outputs::from(Matrix::new(rows, cols, data)?))
    }

    /// Entry `(i, a)`.
    ///
    /// # Panics
    /// When out of range.
    pub fn get(&self, i: usize, a: usize) -> f64 {
        assert!(
            i < self.rows && a < self.cols,
            "entry ({i}, {a}) out of range"
        );
        self.data[i * self.cols + a]
    }

    /// The predicted class of each point: the engine's [`argmax`](metrics::argmax) (the
    /// largest output; a single output is read as a sign, `1` where positive).
    pub fn argmax(&self) -> Vec<usize> {
        metrics::argmax(&self.to_matrix())
    }

    /// The fraction of points whose [`argmax`](Outputs::argmax) equals the label (the
    /// engine's [`accuracy`](metrics::accuracy)).
    pub fn accuracy(&self, labels: &[i64]) -> Result<f64> {
        if labels.len() != self.rows {
            return Err(Error::DimensionMismatch {
                what: "labels (one per predicted point)".into(),
                expected: self.rows,
                got: labels.len(),
            });
        }
        Ok(metrics::accuracy(&self.to_matrix(), labels))
    }

    /// Mean squared error against `targets`, over every entry (the engine's
    /// [`mse`](metrics::mse)).
    pub fn mse(&self, targets: &Outputs) -> Result<f64> {
        if (self.rows, self.cols) != (targets.rows, targets.cols) {
            return Err(Error::DimensionMismatch {
                what: format!(
                    "targets of shape {}×{} for outputs of shape {}×{}",
                    targets.rows, targets.cols, self.rows, self.cols
                ),
                expected: self.data.len(),
                got: targets.data.len(),
            });
        }
        Ok(metrics::mse(&self.data, &targets.data))
    }

    pub(crate) fn to_matrix(&self) -> Matrix {
        Matrix {
            rows: self.rows,
            cols: self.cols,
            data: self.data.clone(),
        }
    }
}

impl From<Matrix> for Outputs {
    fn from(m: Matrix) -> Outputs {
        Outputs {
            rows: m.rows,
            cols: m.cols,
            data: m.data,
        }
    }
}

impl fmt::Display for Outputs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "outputs {} × {}", self.rows, self.cols)?;
        for i in 0..self.rows.min(5) {
            let r: Vec<String> = (0..self.cols.min(10))
                .map(|a| format!("{:>9}", num(self.get(i, a))))
                .collect();
            writeln!(f, "{}", r.join(" "))?;
        }
        Ok(())
    }
}

fn fit(k_train: &KernelMatrix, y_train: &Outputs, ridge: f64, lr: f64) -> Result<GradientFlow> {
    let opts = FitOptions {
        learning_rate: lr,
        diag_reg: ridge,
        ..FitOptions::default()
    };
    GradientFlow::fit(&k_train.to_matrix(), &y_train.to_matrix(), &opts)
}

/// Kernel (ridge) regression: the test outputs `K_test,train (K + ridge·(tr K/n)·I)⁻¹ y`,
/// the `t = ∞` limit of gradient flow from zero outputs. `ridge` is relative to the mean
/// diagonal; 0 is the ridgeless interpolant (the kernel must then be positive definite).
pub fn kernel_regression(
    k_train: &KernelMatrix,
    y_train: &Outputs,
    k_test_train: &KernelMatrix,
    ridge: f64,
) -> Result<Outputs> {
    let flow = fit(k_train, y_train, ridge, 1.0)?;
    let mut out = flow.predict_test(
        &[f64::INFINITY],
        &k_test_train.to_matrix(),
        &Initial::default(),
    )?;
    Ok(out.remove(0).into())
}

/// Gradient flow on the MSE loss under a fixed kernel, from zero outputs: the train and test
/// predictions at each of `times` (learning rate 1; `f64::INFINITY` is kernel regression).
#[derive(Clone, Debug, PartialEq)]
pub struct Flow {
    /// The times.
    pub times: Vec<f64>,
    /// Training-set outputs at each time.
    pub train: Vec<Outputs>,
    /// Test-set outputs at each time.
    pub test: Vec<Outputs>,
    /// The training targets.
    pub y_train: Outputs,
    /// The test targets, when given.
    pub y_test: Option<Outputs>,
}

/// Runs gradient flow with the kernel `k_train` (train × train) to the targets `y_train`,
/// predicting on test points through `k_test_train` at each of `times`. `y_test`, when
/// given, is kept for the loss curves.
pub fn gradient_flow(
    k_train: &KernelMatrix,
    y_train: &Outputs,
    k_test_train: &KernelMatrix,
    y_test: Option<&Outputs>,
    times: &[f64],
    ridge: f64,
) -> Result<Flow> {
    let flow = fit(k_train, y_train, ridge, 1.0)?;
    let train = flow.predict_train(times, &Initial::default())?;
    let test = flow.predict_test(times, &k_test_train.to_matrix(), &Initial::default())?;
    Ok(Flow {
        times: times.to_vec(),
        train: train.into_iter().map(Outputs::from).collect(),
        test: test.into_iter().map(Outputs::from).collect(),
        y_train: y_train.clone(),
        y_test: y_test.cloned(),
    })
}

impl Flow {
    /// Train (and test) MSE at each time.
    pub fn table(&self) -> Table {
        let mut t = Table::new("gradient flow", &["time", "train MSE", "test MSE"]);
        for (i, &time) in self.times.iter().enumerate() {
            let tr = self.train[i].mse(&self.y_train).map_or(f64::NAN, |v| v);
            let te = self
                .y_test
                .as_ref()
                .and_then(|y| self.test[i].mse(y).ok())
                .map_or("–".into(), num);
            t.push(vec![num(time), num(tr), te]);
        }
        t
    }

    /// The losses against time, both axes logarithmic (times ≤ 0 and `∞` are left out).
    pub fn plot(&self) -> Plot {
        let curve = |outs: &[Outputs], y: &Outputs| -> Vec<(f64, f64)> {
            self.times
                .iter()
                .zip(outs)
                .filter_map(|(&t, o)| o.mse(y).ok().map(|l| (t, l)))
                .collect()
        };
        let mut p = Plot::new("gradient flow under the kernel", "time t", "MSE")
            .log_log()
            .legend_at(Legend::LowerLeft)
            .with(Series::new(
                "train",
                curve(&self.train, &self.y_train),
                Style::LinePoints,
            ));
        if let Some(y) = &self.y_test {
            p = p.with(Series::new("test", curve(&self.test, y), Style::LinePoints));
        }
        p
    }
}

table_display!(Flow, |s| figure_with_table(&s.plot().to_svg(), &s.table()));

#[cfg(test)]
mod tests {
    use super::*;

    fn km(rows: usize, cols: usize, f: impl Fn(usize, usize) -> f64) -> KernelMatrix {
        let m = Matrix::from_fn(rows, cols, f);
        KernelMatrix {
            title: "k".into(),
            rows,
            cols,
            data: m.data,
        }
    }

    #[test]
    fn regression_interpolates_and_flow_converges_to_it() {
        let k = km(4, 4, |i, j| (-((i as f64) - (j as f64)).abs()).exp());
        let y = Outputs::new(4, 2, vec![1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0]).unwrap();
        // Predicting on the training points themselves gives the targets back.
        let f = kernel_regression(&k, &y, &k, 0.0).unwrap();
        assert!(f.mse(&y).unwrap() < 1e-20);
        assert_eq!(f.accuracy(&[0, 1, 0, 1]).unwrap(), 1.0);
        let flow =
            gradient_flow(&k, &y, &k, Some(&y), &[0.0, 1.0, 1e3, f64::INFINITY], 0.0).unwrap();
        let losses: Vec<f64> = flow.train.iter().map(|o| o.mse(&y).unwrap()).collect();
        assert!(losses[0] > losses[1] && losses[1] > losses[2]);
        assert_eq!(losses[3], 0.0);
        let svg = flow.plot().to_svg();
        let has = |t| crate::display::plot::has_text(&svg, t);
        assert!(has("train") && has("test"));
        assert_eq!(flow.table().rows.len(), 4);
    }

    #[test]
    fn argmax_and_shape_errors() {
        let o = Outputs::new(2, 3, vec![0.1, 0.9, 0.0, 2.0, 1.0, 3.0]).unwrap();
        assert_eq!(o.argmax(), vec![1, 2]);
        assert!(o.accuracy(&[1]).is_err());
        assert!(Outputs::new(2, 2, vec![0.0]).is_err());
        let b = Outputs::new(2, 1, vec![-0.5, 0.5]).unwrap();
        assert_eq!(b.argmax(), vec![0, 1]);
    }
}
