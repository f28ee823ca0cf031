//! Twin of `notebooks/06-digits-classification.ipynb`, small: NTK and NNGP kernel regression
//! across depth against a linear baseline.
//!
//! `cargo run --release -p ntk-notebook --example digits_classification`

use ntk_notebook::prelude::*;

/// The notebook's cells in order, at a small size.
pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    let digits = Data::bundled("digits")?;
    let (raw_train, raw_test) = digits.split(300, 150);
    let train = raw_train.unit_norm()?;
    let test = raw_test.unit_norm()?;
    println!("{}", train.summary());

    let pixels = Model::new(64, &[], Activation::Identity);
    let baseline = classify(&pixels, KernelKind::Nngp, &raw_train, &raw_test, 1e-2)?;
    println!("linear ridge regression on raw pixels: {baseline:.3}");

    let study = depth_study(&train, &test, &[1, 2, 3], Activation::Relu, 1e-3)?;
    println!("{study}");
    assert!(study.ntk.iter().all(|&a| a > 0.8), "{study}");

    let model = Model::uniform(64, 2, 1, Activation::Relu);
    let k_train = analytic_ntk(&model, &train.sorted_by_label())?;
    println!("{}", k_train.summary());

    let y_train = train.one_hot(10)?;
    let y_test = test.one_hot(10)?;
    let k = analytic_ntk(&model, &train)?;
    let k_test = analytic_kernel(&model, KernelKind::Ntk, &test, Some(&train))?;
    let times = [1.0, 10.0, 100.0, 1e3, 1e4, 1e5, f64::INFINITY];
    let flow = gradient_flow(&k, &y_train, &k_test, Some(&y_test), &times, 1e-3)?;
    println!("{flow}");
    for (t, out) in times.iter().zip(&flow.test) {
        println!(
            "t = {t:>8}: test accuracy {:.3}",
            out.accuracy(test.labels().unwrap_or(&[]))?
        );
    }

    // The spectrum: eigenvalues largest first, λ_min > 0, the targets' energy concentrated
    // in the leading directions, and large directions learned first (at every time the top
    // direction's residual has decayed at least as far as the last one's).
    let times: Vec<f64> = (0..=16).map(|i| 10f64.powf(0.5 * i as f64)).collect();
    let spec = spectrum(&k, &y_train, 1.0, &times)?;
    println!("{spec}");
    assert!(spec.eigenvalues.windows(2).all(|w| w[0] >= w[1]));
    assert!(spec.lambda_min() > 0.0);
    assert!(spec.leading_energy(10) > 0.5, "{}", spec.leading_energy(10));
    let last = spec.eigenvalues.len() - 1;
    for r in &spec.residual {
        assert!(r[0] <= r[last] + 1e-12);
    }
    assert!(spec.total.windows(2).all(|w| w[1] <= w[0]));

    // "≈ 97 % vs 90 %" at the notebook's size (1000 train / 797 test, ridge 1e-3).
    let (full_train, full_test) = (digits.slice(0, 1000), digits.slice(1000, 1797));
    let ntk2 = classify(
        &model,
        KernelKind::Ntk,
        &full_train.unit_norm()?,
        &full_test.unit_norm()?,
        1e-3,
    )?;
    let lin = classify(&pixels, KernelKind::Nngp, &full_train, &full_test, 1e-2)?;
    println!("1000/797 digits: depth-2 NTK {ntk2:.3}, linear {lin:.3}");
    assert!(ntk2 > 0.96 && (0.88..0.92).contains(&lin), "{ntk2} {lin}");
    Ok(())
}
