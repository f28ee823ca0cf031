//! Classification by kernel regression on one-hot targets (Arora et al. 2019; Lee et al.
//! 2018): the predicted class is the largest output. [`depth_study`] compares the analytic
//! NTK and NNGP across depth with the linear kernel (a network with no hidden layer: ridge
//! regression on the inputs).

use ntk_engine::gram::KernelKind;
use ntk_engine::{Activation, Error, Result};

use crate::data::Data;
use crate::display::plot::{Legend, Plot, Series, Style};
use crate::display::{Table, figure_with_table};
use crate::kernel::analytic_kernel;
use crate::model::Model;
use crate::predict::kernel_regression;

fn labels(d: &Data) -> Result<&[i64]> {
    d.labels()
        .ok_or_else(|| Error::invalid("labels", d.name(), "a dataset with labels"))
}

/// Test accuracy of kernel regression with the analytic `kind` kernel of `model`, trained
/// on `train` (one-hot targets, relative `ridge`) and evaluated on `test`.
pub fn classify(
    model: &Model,
    kind: KernelKind,
    train: &Data,
    test: &Data,
    ridge: f64,
) -> Result<f64> {
    let classes = train.classes().max(test.classes());
    let y = train.one_hot(classes)?;
    let k_train = analytic_kernel(model, kind, train, None)?;
    let k_test = analytic_kernel(model, kind, test, Some(train))?;
    kernel_regression(&k_train, &y, &k_test, ridge)?.accuracy(labels(test)?)
}

/// Test accuracy of the NTK and the NNGP at each depth, and of the linear kernel.
#[derive(Clone, Debug, PartialEq)]
pub struct DepthStudy {
    /// The depths (hidden layers).
    pub depths: Vec<usize>,
    /// NTK accuracy at each depth.
    pub ntk: Vec<f64>,
    /// NNGP accuracy at each depth.
    pub nngp: Vec<f64>,
    /// The linear kernel's accuracy.
    pub linear: f64,
    /// Training and test sizes.
    pub sizes: (usize, usize),
    /// The activation.
    pub activation: String,
}

/// Kernel-regression accuracy of the analytic NTK and NNGP of `activation` networks
/// (`W_std = 1`, `b_std = 0`) at each depth, against the linear kernel `xᵀx'/d` on the same
/// inputs, with relative `ridge`. Cost: two analytic
/// kernels per depth, `O((n_train + n_test)·n_train·depth)`, and a Cholesky of `n_train`.
pub fn depth_study(
    train: &Data,
    test: &Data,
    depths: &[usize],
    activation: Activation,
    ridge: f64,
) -> Result<DepthStudy> {
    let d = train.cols();
    let mut ntk = Vec::new();
    let mut nngp = Vec::new();
    for &depth in depths {
        let model = Model::uniform(d, depth, 1, activation);
        ntk.push(classify(&model, KernelKind::Ntk, train, test, ridge)?);
        nngp.push(classify(&model, KernelKind::Nngp, train, test, ridge)?);
    }
    let linear_model = Model::new(d, &[], Activation::Identity);
    let linear = classify(&linear_model, KernelKind::Nngp, train, test, ridge)?;
    Ok(DepthStudy {
        depths: depths.to_vec(),
        ntk,
        nngp,
        linear,
        sizes: (train.rows(), test.rows()),
        activation: activation.to_string(),
    })
}

impl DepthStudy {
    /// Accuracy per depth.
    pub fn table(&self) -> Table {
        let mut t = Table::new(
            &format!(
                "test accuracy, {} train / {} test, {}",
                self.sizes.0, self.sizes.1, self.activation
            ),
            &["depth", "NTK", "NNGP", "linear"],
        );
        for (i, d) in self.depths.iter().enumerate() {
            t.push(vec![
                d.to_string(),
                format!("{:.3}", self.ntk[i]),
                format!("{:.3}", self.nngp[i]),
                format!("{:.3}", self.linear),
            ]);
        }
        t
    }

    /// Accuracy against depth, with the linear kernel as a flat line.
    pub fn plot(&self) -> Plot {
        let xs: Vec<f64> = self.depths.iter().map(|&d| d as f64).collect();
        let line = |v: &[f64]| xs.iter().copied().zip(v.iter().copied()).collect();
        let (a, b) = (
            xs.first().copied().unwrap_or(0.0),
            xs.last().copied().unwrap_or(1.0),
        );
        Plot::new(
            "kernel regression on digits: accuracy vs depth",
            "depth (hidden layers)",
            "test accuracy",
        )
        .legend_at(Legend::MiddleRight)
        .with(Series::new("NTK", line(&self.ntk), Style::LinePoints))
        .with(Series::new("NNGP", line(&self.nngp), Style::LinePoints))
        .with(Series::new(
            "linear kernel xᵀx′ (depth 0)",
            vec![(a, self.linear), (b, self.linear)],
            Style::Line,
        ))
    }
}

table_display!(DepthStudy, |s| figure_with_table(
    &s.plot().to_svg(),
    &s.table()
));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_classify_digits_well_above_chance() {
        let d = Data::bundled("digits").unwrap().unit_norm().unwrap();
        let (train, test) = d.split(200, 100);
        let s = depth_study(&train, &test, &[1, 2], Activation::Relu, 1e-4).unwrap();
        assert!(s.ntk.iter().chain(&s.nngp).all(|&a| a > 0.7), "{s}");
        assert!(s.linear > 0.5, "{s}");
        let svg = s.plot().to_svg();
        let has = |t| crate::display::plot::has_text(&svg, t);
        assert!(has("NTK") && has("NNGP") && has("linear kernel xᵀx′ (depth 0)"));
        assert_eq!(s.table().rows.len(), 2);
    }
}
