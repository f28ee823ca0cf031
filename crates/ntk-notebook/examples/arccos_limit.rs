//! Twin of `notebooks/02-arccos-limit.ipynb`, small: the lecture's two-layer ReLU kernel
//! approaching `xᵀx'·(π − arccos xᵀx')/(2π)`.
//!
//! `cargo run --release -p ntk-notebook --example arccos_limit`

use ntk_notebook::prelude::*;

/// `n` points evenly spaced on the unit circle: every correlation from −1 to 1.
pub fn circle(n: usize) -> Result<Data, Error> {
    let v = (0..n)
        .flat_map(|i| {
            let t = i as f64 * std::f64::consts::TAU / n as f64;
            [t.cos(), t.sin()]
        })
        .collect();
    Data::from_rows("circle", v, n, 2, None)
}

/// The notebook's cells in order, at a small size.
pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!(
        "(π − arccos ρ)/(2π) at ρ = 1, 0, −1: {} {} {}",
        arccos0(1.0),
        arccos0(0.0),
        arccos0(-1.0)
    );

    let ring = circle(12)?;
    let limit = arccos_kernel(&ring)?;
    println!("{limit}");
    let k = lecture_kernel(&ring, 1024, 0)?;
    println!("width 1024: relative error {:.4}", k.rel_error(&limit)?);

    // The text: at width 32 (seed 0) the cloud is shrunk towards 0 by a common factor of
    // about one half (below the curve where it is positive, above where it is negative):
    // the diagonal ratio, and the least-squares factor c in k_32 ≈ c·k_∞ over all pairs.
    let ring40 = circle(40)?;
    let (k32, lim40) = (lecture_kernel(&ring40, 32, 0)?, arccos_kernel(&ring40)?);
    let ratio = k32
        .diagonal()
        .iter()
        .zip(lim40.diagonal())
        .map(|(a, b)| a / b)
        .sum::<f64>()
        / 40.0;
    println!("width 32: mean diagonal ratio {ratio:.3}");
    assert!((0.4..0.6).contains(&ratio), "{ratio}");
    let (mut kl, mut ll) = (0.0, 0.0);
    for i in 0..40 {
        for j in 0..40 {
            kl += k32.get(i, j) * lim40.get(i, j);
            ll += lim40.get(i, j) * lim40.get(i, j);
        }
    }
    println!("least-squares factor {:.3}", kl / ll);
    assert!((0.4..0.7).contains(&(kl / ll)), "{}", kl / ll);

    let scatter = arccos_scatter(&ring, &[64, 4096], 0)?;
    assert_eq!(scatter.series.len(), 3);
    println!("{scatter}");

    // The closed form is the engine's analytic NTK minus its NNGP (the readout's term),
    // times d.
    let two_layer = Model::two_layer_relu(2, 1);
    let engine = analytic_ntk(&two_layer, &ring)?
        .minus(&analytic_nngp(&two_layer, &ring)?, "engine")?
        .scaled(2.0, "engine, first layer");
    let agree = limit.rel_error(&engine)?;
    println!("closed form vs engine: {agree:e}");
    // "8.97e-10" in the notebook: the engine's arc-cosine evaluation against the lecture's
    // closed form; anything below 1e-8 is rounding of the two routes.
    assert!(agree < 1e-8, "{agree}");

    let digits = Data::bundled("digits")?
        .head(16)
        .standardized()
        .unit_norm()?;
    let sweep = arccos_sweep(&digits, &[64, 256, 1024, 4096], 3)?;
    println!("{sweep}");
    let fit = sweep.fit.ok_or("no fit")?;
    assert!((fit.slope + 0.5).abs() < 0.2, "{fit}");

    let full = width_sweep(
        &two_layer.outputs(1),
        KernelKind::Ntk,
        &digits,
        &[64, 1024],
        2,
    );
    // The model's input dimension (2) does not match the digits (64): a typed error.
    assert!(full.is_err());
    let net = Model::two_layer_relu(64, 1);
    let full = width_sweep(&net, KernelKind::Ntk, &digits, &[64, 256, 1024, 4096], 3)?;
    println!("{full}");
    let f = full.fit.ok_or("no fit")?;
    // "converges at the same rate": −1/2 within 0.15 (3 seeds, 16 points).
    assert!((f.slope + 0.5).abs() < 0.15, "{f}");

    // Depth 3: the same −1/2 slope on a higher line (the notebook uses 6 seeds up to 8192).
    let deep = Model::uniform(64, 3, 1, Activation::Relu);
    let deep_sweep = width_sweep(&deep, KernelKind::Ntk, &digits, &[64, 256, 1024], 3)?;
    let d = deep_sweep.fit.ok_or("no fit")?;
    println!("{deep_sweep}");
    assert!((d.slope + 0.5).abs() < 0.2, "{d}");
    assert!(deep_sweep.means()[0] > full.means()[0]);
    Ok(())
}
