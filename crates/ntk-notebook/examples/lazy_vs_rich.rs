//! Twin of `notebooks/05-lazy-vs-rich.ipynb`, small: kernel drift against the output scale
//! `α`, and the mean-field parameterization against the NTK one.
//!
//! `cargo run --release -p ntk-notebook --example lazy_vs_rich`

use ntk_notebook::prelude::*;

/// The notebook's cells in order, at a small size.
pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    let digits = Data::bundled("digits")?
        .head(32)
        .standardized()
        .unit_norm()?
        .scaled(8.0)?;
    let y = digits.one_hot(10)?;
    let model = Model::new(64, &[256], Activation::Relu).outputs(10);

    let scan = alpha_sweep(
        &model,
        &digits,
        &y,
        &[0.1, 1.0, 10.0, 100.0],
        &Schedule::new(50, 1.0),
        2,
    )?;
    println!("{scan}");
    let fit = scan.fit.ok_or("no fit")?;
    assert!(fit.slope < -0.5, "{fit}");

    let rich = train_network(
        &model,
        &digits,
        &y,
        None,
        &Schedule::new(50, 1.0).alpha(0.1).centred(),
    )?;
    let lazy = train_network(
        &model,
        &digits,
        &y,
        None,
        &Schedule::new(50, 1.0).alpha(100.0).centred(),
    )?;
    println!(
        "drift: rich {:.3e}, lazy {:.3e}",
        rich.last().kernel_drift,
        lazy.last().kernel_drift
    );
    assert!(rich.last().kernel_drift > lazy.last().kernel_drift);

    let data = Data::bundled("digits")?;
    let widths = [64, 256, 1024];
    let ntk = study(&StudyPlan::new(&widths, 2, 50, 1.0), &data, 32, 16)?;
    let mf = study(
        &StudyPlan::new(&widths, 2, 50, 1.0).parameterization(Parameterization::MeanField),
        &data,
        32,
        16,
    )?
    .show(&["kernel_drift", "param_distance"])?;
    println!("{mf}");
    let plot = compare_studies(&[("NTK", &ntk), ("mean field", &mf)], "kernel_drift")?;
    println!("{plot}");
    let (a, b) = (
        ntk.slope("kernel_drift").ok_or("no slope")?,
        mf.slope("kernel_drift").ok_or("no slope")?,
    );
    println!("kernel drift slope: NTK {a}, mean field {b}");
    assert!(b.slope > a.slope, "{a} vs {b}");
    Ok(())
}
