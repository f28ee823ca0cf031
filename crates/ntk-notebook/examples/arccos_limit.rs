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

    let scatter = arccos_scatter(&ring, &[64, 4096], 0)?;
    assert_eq!(scatter.series.len(), 3);
    println!("{scatter}");

    // The closed form is the engine's analytic NTK minus its NNGP (the readout's term),
    // times d.
    let two_layer = Model::two_layer_relu(2, 1);
    let engine = analytic_ntk(&two_layer, &ring)?
        .minus(&analytic_nngp(&two_layer, &ring)?, "engine")?
        .scaled(2.0, "engine, first layer");
    println!("closed form vs engine: {:e}", limit.rel_error(&engine)?);

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
    Ok(())
}
