//! The spectrum of a kernel and what gradient flow does along it: the eigenvalues of the
//! train-train kernel (`λ_min` is Arora et al. 2019's `λ_0`, the rate of linear
//! convergence), the targets' energy per eigendirection, and the training residual per
//! eigendirection over time, `‖v_iᵀ(f(t) − y)‖ = e^{−ηtλ_i/N}·‖v_iᵀ y‖` from zero outputs.
//! The numbers are the engine's ([`GradientFlow::label_energy`],
//! [`GradientFlow::residual_spectrum`]); this module orders them largest-first and draws them.

use ntk_engine::Result;
use ntk_engine::predict::{FitOptions, GradientFlow, Initial};

use crate::display::plot::{Panels, Plot, Series, Style};
use crate::display::{Table, num};
use crate::kernel::KernelMatrix;
use crate::predict::Outputs;

/// A kernel's spectrum and the flow along it, largest eigenvalue first.
#[derive(Clone, Debug, PartialEq)]
pub struct Spectrum {
    /// What kernel.
    pub title: String,
    /// Eigenvalues, largest first.
    pub eigenvalues: Vec<f64>,
    /// `‖v_iᵀ Y‖² / ‖Y‖_F²`, same order.
    pub energy: Vec<f64>,
    /// The flow's times.
    pub times: Vec<f64>,
    /// `residual[t][i] = ‖v_iᵀ(f(t) − y)‖ / ‖v_iᵀ y‖` (1 at `t = 0`; NaN where `v_iᵀ y = 0`).
    pub residual: Vec<Vec<f64>>,
    /// `‖f(t) − y‖² / ‖y‖²` at each time.
    pub total: Vec<f64>,
    /// `η/N`: the decay rate of direction `i` is `η λ_i / N`.
    pub rate: f64,
}

/// The spectrum of `k_train` and gradient flow to `y_train` from zero outputs (learning rate
/// `lr`) at each of `times`, per eigendirection.
pub fn spectrum(
    k_train: &KernelMatrix,
    y_train: &Outputs,
    lr: f64,
    times: &[f64],
) -> Result<Spectrum> {
    let flow = GradientFlow::fit(
        &k_train.to_matrix(),
        &y_train.to_matrix(),
        &FitOptions {
            learning_rate: lr,
            ..FitOptions::default()
        },
    )?;
    let mut eig = flow.eigenvalues()?.to_vec();
    let mut energy = flow.label_energy()?;
    let total_energy: f64 = energy.iter().sum();
    let res = flow.residual_spectrum(times, &Initial::default())?;
    eig.reverse();
    energy.reverse();
    let norm0: Vec<f64> = energy.iter().map(|e| e.sqrt()).collect();
    let residual = res
        .iter()
        .map(|r| {
            r.iter()
                .rev()
                .zip(&norm0)
                .map(|(a, b)| if *b > 0.0 { a / b } else { f64::NAN })
                .collect()
        })
        .collect();
    let total = res
        .iter()
        .map(|r| r.iter().map(|v| v * v).sum::<f64>() / total_energy)
        .collect();
    Ok(Spectrum {
        title: k_train.title.clone(),
        eigenvalues: eig,
        energy: energy.iter().map(|e| e / total_energy).collect(),
        times: times.to_vec(),
        residual,
        total,
        rate: lr / y_train.data.len() as f64,
    })
}

impl Spectrum {
    /// The smallest eigenvalue (Arora et al.'s `λ_0`).
    pub fn lambda_min(&self) -> f64 {
        *self.eigenvalues.last().unwrap_or(&f64::NAN)
    }

    /// The largest eigenvalue.
    pub fn lambda_max(&self) -> f64 {
        *self.eigenvalues.first().unwrap_or(&f64::NAN)
    }

    /// The fraction of the targets' energy in the `j` leading eigendirections.
    pub fn leading_energy(&self, j: usize) -> f64 {
        self.energy.iter().take(j).sum()
    }

    /// The directions drawn over time: 1, 2, 5, 10, 20, 50, … up to `n`.
    pub fn shown_directions(&self) -> Vec<usize> {
        let n = self.eigenvalues.len();
        let mut v = Vec::new();
        let mut k = 1;
        while k <= n {
            for m in [1, 2, 5] {
                if k * m <= n {
                    v.push(k * m);
                }
            }
            k *= 10;
        }
        if v.last() != Some(&n) {
            v.push(n);
        }
        v
    }

    /// Three panels: eigenvalues (log-log against the index), the targets' energy per
    /// direction (log-log), and the residual of chosen directions against time.
    pub fn plot(&self) -> Panels {
        let idx = |v: &[f64]| -> Vec<(f64, f64)> {
            v.iter()
                .enumerate()
                .map(|(i, &e)| ((i + 1) as f64, e))
                .collect()
        };
        let mut eig = Plot::new(
            &format!(
                "eigenvalues (λ_max {}, λ_min {})",
                num(self.lambda_max()),
                num(self.lambda_min())
            ),
            "index i (largest first)",
            "λ_i",
        )
        .log_log()
        .with(Series::new("λ_i", idx(&self.eigenvalues), Style::Line));
        let mut en = Plot::new(
            "targets' energy per direction",
            "index i",
            "‖v_iᵀY‖² / ‖Y‖²",
        )
        .log_log()
        .with(Series::new("energy", idx(&self.energy), Style::Points).colour(1));
        let mut res = Plot::new(
            "residual along v_i over time",
            "time t (steps)",
            "‖v_iᵀ(f − y)‖ / ‖v_iᵀ y‖",
        )
        .log_log();
        for (c, &i) in self.shown_directions().iter().enumerate() {
            let pts = self
                .times
                .iter()
                .zip(&self.residual)
                .map(|(&t, r)| (t, r[i - 1]))
                .collect();
            res = res.with(Series::new(&format!("i = {i}"), pts, Style::Line).colour(c));
        }
        let total = self
            .times
            .iter()
            .copied()
            .zip(self.total.iter().copied())
            .collect();
        res = res.with(Series::new("all (‖f − y‖²/‖y‖²)", total, Style::LinePoints).colour(7));
        for p in [&mut eig, &mut en] {
            p.size = (400, 320);
        }
        res.size = (560, 320);
        Panels(vec![eig, en, res])
    }

    /// Summary numbers.
    pub fn table(&self) -> Table {
        let n = self.eigenvalues.len();
        let mut t = Table::new(
            &format!("spectrum of {}", self.title),
            &["quantity", "value"],
        );
        for (k, v) in [
            ("points n", n.to_string()),
            ("λ_max", num(self.lambda_max())),
            ("λ_min (Arora's λ₀)", num(self.lambda_min())),
            (
                "condition number",
                num(self.lambda_max() / self.lambda_min()),
            ),
            ("energy in top 10 directions", num(self.leading_energy(10))),
            (
                "energy in top 10 %",
                num(self.leading_energy(n.div_ceil(10))),
            ),
            (
                "slowest decay time N/(η λ_min)",
                num(1.0 / (self.rate * self.lambda_min())),
            ),
        ] {
            t.push(vec![k.into(), v]);
        }
        t
    }
}

table_display!(Spectrum, |s| format!(
    "{}{}",
    s.plot().to_html(),
    s.table().to_html()
));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_directions_are_learned_first() {
        let m = ntk_engine::predict::Matrix::from_fn(5, 5, |i, j| {
            (-((i as f64) - (j as f64)).abs()).exp()
        });
        let k = KernelMatrix {
            title: "k".into(),
            rows: 5,
            cols: 5,
            data: m.data,
        };
        let y = Outputs::new(5, 1, vec![1.0, -1.0, 0.5, 0.0, 2.0]).unwrap();
        let s = spectrum(&k, &y, 1.0, &[0.0, 1.0, 10.0, 100.0]).unwrap();
        assert!(s.eigenvalues.windows(2).all(|w| w[0] >= w[1]));
        assert!((s.energy.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(
            s.residual[0]
                .iter()
                .all(|r| r.is_nan() || (r - 1.0).abs() < 1e-12)
        );
        // At every time the leading direction has decayed at least as far as the last.
        for r in &s.residual[1..] {
            assert!(r[0] <= r[4] + 1e-15, "{r:?}");
        }
        assert!(s.total.windows(2).all(|w| w[1] < w[0]));
        assert_eq!(s.shown_directions(), vec![1, 2, 5]);
        assert_eq!(s.plot().0.len(), 3);
    }
}
