//! Twin of `notebooks/04-training-dynamics.ipynb`, small: a trained network next to its
//! linearisation and the analytic NTK's gradient flow at the same time, and the gaps and the
//! kernel drift against width.
//!
//! `cargo run --release -p ntk-notebook --example training_dynamics`

use ntk_notebook::prelude::*;

/// The notebook's cells in order, at a small size.
pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    let digits = Data::bundled("digits")?
        .head(48)
        .standardized()
        .unit_norm()?
        .scaled(8.0)?;
    let (train, test) = digits.split(32, 16);
    let y = train.one_hot(10)?;
    let y_test = test.one_hot(10)?;

    let model = Model::new(64, &[512], Activation::Relu).outputs(10);
    let run = train_network(
        &model,
        &train,
        &y,
        Some(&test),
        &Schedule::new(100, 1.0).centred(),
    )?;
    println!("{run}");
    let last = run.last();
    assert!(last.loss < run.steps[0].loss);
    println!(
        "gap to the analytic NTK flow: {:.4}",
        run.ntk_gap().ok_or("no flow")?
    );
    println!("{}", run.versus_kernels());
    let net_mse = run.test.as_ref().ok_or("no test")?.mse(&y_test)?;
    println!("test MSE of the network {net_mse:.4}");

    let k = analytic_ntk(&model, &train)?;
    let k_st = analytic_kernel(&model, KernelKind::Ntk, &test, Some(&train))?;
    let flow = gradient_flow(
        &k,
        &y,
        &k_st,
        Some(&y_test),
        &[1.0, 10.0, 100.0, f64::INFINITY],
        0.0,
    )?;
    println!("{flow}");

    let plan = StudyPlan::new(&[64, 256, 1024], 2, 50, 1.0).centred();
    let s = study(&plan, &Data::bundled("digits")?, 32, 16)?.show(&[
        "kernel_drift",
        "lin_gap",
        "ntk_gap",
    ])?;
    println!("{s}");
    let drift = s.slope("kernel_drift").ok_or("no slope")?;
    assert!(drift.slope < -0.2, "{drift}");
    println!("{}", s.full_table());
    Ok(())
}
