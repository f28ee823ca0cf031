//! Width sweeps: how far a finite network's kernel is from its infinite-width limit, over
//! widths and seeds, as a [`Scan`] with its least-squares line through `log(error)`
//! against `log(width)` (the engine's [`loglog_fit`]).
//!
//! Theory (Jacot et al. 2018; Hanin & Nica 2019): the relative Frobenius error of the
//! empirical NTK falls like `m^{-1/2}`, so the fitted slope should be close to `−1/2`.

use ntk_engine::gram::KernelKind;
use ntk_engine::{Error, Result};

pub use ntk_engine::metrics::{LogLogFit as Fit, loglog_fit};

use crate::data::Data;
use crate::kernel::{analytic_kernel, empirical_kernel};
use crate::model::Model;
use crate::scan::Scan;

/// A scan of relative Frobenius errors against the width, with the `m^{-1/2}` reference.
pub(crate) fn error_scan(title: &str, widths: &[usize], errors: Vec<Vec<f64>>) -> Scan {
    Scan::new(
        title,
        "width m",
        "relative Frobenius error",
        widths.iter().map(|&m| m as f64).collect(),
        errors,
        Some(-0.5),
    )
}

pub(crate) fn check_sizes(widths: &[usize], seeds: u64) -> Result<()> {
    if widths.is_empty() || seeds == 0 {
        return Err(Error::invalid(
            "sweep",
            format!("{} widths, {seeds} seeds", widths.len()),
            "at least one width and one seed",
        ));
    }
    Ok(())
}

/// The relative Frobenius error `‖K̂_m − K_∞‖/‖K_∞‖` of the empirical `kind` kernel of
/// `model` (every hidden layer set to width `m`) against the analytic one, on the rows of
/// `x`, for each width and seeds `0..seeds`. Cost: `seeds` empirical kernels per width.
pub fn width_sweep(
    model: &Model,
    kind: KernelKind,
    x: &Data,
    widths: &[usize],
    seeds: u64,
) -> Result<Scan> {
    check_sizes(widths, seeds)?;
    let limit = analytic_kernel(model, kind, x, None)?;
    let mut errors = Vec::with_capacity(widths.len());
    for &m in widths {
        let net = model.with_width(m);
        let e = (0..seeds)
            .map(|s| empirical_kernel(&net, kind, x, None, s)?.rel_error(&limit))
            .collect::<Result<Vec<f64>>>()?;
        errors.push(e);
    }
    let title = format!(
        "empirical vs analytic {}, depth {}, {}",
        if kind == KernelKind::Ntk {
            "NTK"
        } else {
            "NNGP"
        },
        model.depth(),
        model.mlp.activation
    );
    Ok(error_scan(&title, widths, errors))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ntk_engine::Activation;

    #[test]
    fn sweep_of_a_relu_net_falls_and_plots() {
        let x = Data::bundled("iris").unwrap().head(10).unit_norm().unwrap();
        let model = Model::new(4, &[1], Activation::Relu);
        let s = width_sweep(&model, KernelKind::Ntk, &x, &[64, 1024], 2).unwrap();
        let means = s.means();
        assert!(means[1] < means[0], "{means:?}");
        let svg = s.plot().to_svg();
        assert!(svg.contains("fit: slope") && svg.contains("min–max over 2 seeds"));
        assert!(svg.contains("reference slope -0.5"));
        assert_eq!(s.local_slopes().len(), 1);
        assert!(s.table().to_html().contains("1024"));
        assert!(width_sweep(&model, KernelKind::Ntk, &x, &[], 1).is_err());
    }
}
