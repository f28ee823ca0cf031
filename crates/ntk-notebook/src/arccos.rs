//! The lecture's kernel: a two-layer ReLU network `f(x) = (1/√m) Σ_j a_j σ(w_jᵀx)` with
//! the readout fixed has the tangent kernel
//!
//! ```text
//! k_m(x, x') = xᵀx' · (1/m) Σ_j a_j² σ'(w_jᵀx) σ'(w_jᵀx')
//!            → xᵀx' · (π − arccos(xᵀx'))/(2π)      (m → ∞, E a_j² = 1, ‖x‖ = ‖x'‖ = 1)
//! ```
//!
//! (the arc-cosine kernel of degree 0 times the linear kernel; Cho & Saul 2009). The limit
//! is the engine's ([`ntk_engine::gram::two_layer_relu::lecture_limit`]), the empirical
//! kernel is the engine's NTK and NNGP of its depth-1 ReLU net ([`lecture_kernel`]); this
//! module checks the lecture's unit-norm inputs and draws them.

use ntk_engine::activation::arccos::derivative_kernel;
use ntk_engine::gram::two_layer_relu;
use ntk_engine::gram::{KernelKind, Precision};
use ntk_engine::{Error, Kernel, Result};

use crate::data::Data;
use crate::display::plot::{Legend, Plot, Series, Style};
use crate::kernel::{KernelMatrix, empirical_with};
use crate::model::Model;
use crate::scan::Scan;
use crate::sweep::{check_sizes, error_scan};

/// `(π − arccos ρ)/(2π)`, the probability that two Gaussian half-spaces at angle
/// `arccos ρ` both contain a point (the engine's degree-0 arc-cosine kernel).
pub fn arccos0(rho: f64) -> f64 {
    derivative_kernel(0.0, 1.0, rho.clamp(-1.0, 1.0).acos())
}

fn matrix(title: String, k: Kernel) -> KernelMatrix {
    KernelMatrix {
        title,
        rows: k.n1,
        cols: k.n2,
        data: k.data,
    }
}

fn check_unit_norm(x: &Data) -> Result<()> {
    for i in 0..x.rows() {
        let n2: f64 = x.row(i).iter().map(|v| v * v).sum();
        if (n2 - 1.0).abs() > 1e-6 {
            return Err(Error::invalid(
                "row norm",
                format!("{} (row {i})", n2.sqrt()),
                "unit-norm rows, as the lecture assumes (call .unit_norm() first)",
            ));
        }
    }
    Ok(())
}

/// The infinite-width kernel `xᵀx'·(π − arccos xᵀx')/(2π)` on the unit-norm rows of `x`
/// (the engine's [`lecture_limit`](two_layer_relu::lecture_limit)).
pub fn arccos_kernel(x: &Data) -> Result<KernelMatrix> {
    check_unit_norm(x)?;
    Ok(matrix(
        "xᵀx'·(π − arccos xᵀx')/(2π)".into(),
        two_layer_relu::lecture_limit(&x.points(), None),
    ))
}

/// The lecture network's empirical kernel `k_m` at width `width` and `seed`, on the
/// unit-norm rows of `x`, in `f64`, with the readout drawn `a_j ~ N(0, 1)` as the engine's
/// depth-1 ReLU [`Mlp`](ntk_engine::Mlp) without bias draws it: that net's empirical NTK is
/// the first-layer term divided by `d` plus the readout's term, which is exactly its
/// empirical NNGP, so `k_m = d·(Θ̂ − K̂)`, both from the engine at the same seed. (With the
/// readout fixed to `±1`, `Σ_j a_j²/m = 1` exactly: the engine's
/// [`two_layer_relu::lecture_kernel`]. The random readout adds the spread of `a_j²` that
/// notebook 02 shows at small widths.)
pub fn lecture_kernel(x: &Data, width: usize, seed: u64) -> Result<KernelMatrix> {
    check_unit_norm(x)?;
    let model = Model::two_layer_relu(x.cols(), width);
    let ntk = empirical_with(&model, KernelKind::Ntk, x, None, seed, Precision::F64)?;
    let nngp = empirical_with(&model, KernelKind::Nngp, x, None, seed, Precision::F64)?;
    let first = ntk.minus(&nngp, "")?;
    Ok(first.scaled(
        x.cols() as f64,
        &format!("two-layer ReLU kernel, width {width}, seed {seed}"),
    ))
}

/// The relative Frobenius error of [`lecture_kernel`] against [`arccos_kernel`] for each
/// width and seeds `0..seeds`.
pub fn arccos_sweep(x: &Data, widths: &[usize], seeds: u64) -> Result<Scan> {
    check_sizes(widths, seeds)?;
    let limit = arccos_kernel(x)?;
    let mut errors = Vec::with_capacity(widths.len());
    for &m in widths {
        let e = (0..seeds)
            .map(|s| lecture_kernel(x, m, s)?.rel_error(&limit))
            .collect::<Result<Vec<f64>>>()?;
        errors.push(e);
    }
    Ok(error_scan(
        "two-layer ReLU kernel vs the arc-cosine limit",
        widths,
        errors,
    ))
}

/// Every off-diagonal entry `k_m(x, x')` against `ρ = xᵀx'`, one colour per width, over
/// the curve `ρ·(π − arccos ρ)/(2π)`.
pub fn arccos_scatter(x: &Data, widths: &[usize], seed: u64) -> Result<Plot> {
    check_unit_norm(x)?;
    let n = x.rows();
    let values = x.values();
    let d = x.cols();
    // ρ_ij straight from the rows: a dot product for the x axis of a picture.
    let rho =
        |i: usize, j: usize| -> f64 { (0..d).map(|c| values[i * d + c] * values[j * d + c]).sum() };
    let mut plot = Plot::new(
        "the lecture's kernel approaches the arc-cosine form",
        "ρ = xᵀx'",
        "k(x, x')",
    )
    .legend_at(Legend::UpperLeft);
    for &m in widths {
        let k = lecture_kernel(x, m, seed)?;
        let pts = (0..n)
            .flat_map(|i| (0..i).map(move |j| (i, j)))
            .map(|(i, j)| (rho(i, j), k.get(i, j)))
            .collect();
        plot = plot.with(Series::new(&format!("width {m}"), pts, Style::Points));
    }
    let curve = (0..=200)
        .map(|t| -1.0 + 2.0 * t as f64 / 200.0)
        .map(|r| (r, r * arccos0(r)))
        .collect();
    Ok(plot.with(Series::new("ρ(π − arccos ρ)/(2π)", curve, Style::Line)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::{analytic_nngp, analytic_ntk};

    fn circle(n: usize) -> Data {
        let v = (0..n)
            .flat_map(|i| {
                let t = i as f64 * std::f64::consts::TAU / n as f64;
                [t.cos(), t.sin()]
            })
            .collect();
        Data::from_rows("circle", v, n, 2, None).unwrap()
    }

    #[test]
    fn closed_form_is_the_engine_ntk_first_layer_term() {
        let x = circle(12);
        let k = arccos_kernel(&x).unwrap();
        assert!((k.get(0, 0) - 0.5).abs() < 1e-15);
        assert!((k.get(0, 6) - 0.0).abs() < 1e-15); // antipodal: ρ = −1, factor 0
        assert!((k.get(0, 3)).abs() < 1e-15); // orthogonal: ρ = 0
        let model = Model::two_layer_relu(2, 1);
        let first = analytic_ntk(&model, &x)
            .unwrap()
            .minus(&analytic_nngp(&model, &x).unwrap(), "")
            .unwrap()
            .scaled(2.0, "");
        // The engine's analytic kernel goes through `s = √(q1·q2 − K²)`, which cancels
        // near ρ = ±1 and costs about half the digits there (the closed form takes the
        // angle by Kahan's formula instead); they agree to ~1e-9.
        let err = k.rel_error(&first).unwrap();
        assert!(err < 1e-8, "{err:e}");
        assert!(arccos_kernel(&Data::from_rows("x", vec![2.0, 0.0], 1, 2, None).unwrap()).is_err());
    }

    #[test]
    fn empirical_kernel_approaches_the_closed_form() {
        let x = circle(16);
        let s = arccos_sweep(&x, &[256, 16384], 2).unwrap();
        let m = s.means();
        assert!(m[1] < m[0] / 3.0, "{m:?}");
        let svg = arccos_scatter(&x, &[256], 0).unwrap().to_svg();
        assert!(svg.contains("width 256") && svg.contains("arccos"));
    }
}
