//! Twin of `notebooks/01-quickstart.ipynb`, at the notebook's own size (it takes about a
//! second): a kernel on the digits data and its distance to the infinite-width limit.
//!
//! `cargo run --release -p ntk-notebook --example quickstart`

use ntk_notebook::prelude::*;

/// The notebook's cells in order, with the numbers its text states asserted.
pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    let raw = Data::bundled("digits")?;
    let images = raw.images(12, 8)?;
    assert_eq!(images.0.matches("<svg").count(), 12);
    println!("{raw}");

    let x = raw.head(120).sorted_by_label().unit_norm()?;
    let model = Model::new(64, &[1024, 1024], Activation::Relu);
    println!("{model}");
    // "~1.1 million weights".
    assert!((1_050_000..1_150_000).contains(&model.parameter_count()));

    let k = empirical_ntk(&model, &x, 0)?;
    println!("{}", k.summary());
    // "the diagonal blocks stand out": same-digit pairs have the larger kernel on average.
    let labels = x.labels().ok_or("labels")?;
    let (mut same, mut ns, mut other, mut no) = (0.0, 0, 0.0, 0);
    for i in 0..x.rows() {
        for j in 0..i {
            if labels[i] == labels[j] {
                same += k.get(i, j);
                ns += 1;
            } else {
                other += k.get(i, j);
                no += 1;
            }
        }
    }
    assert!(same / ns as f64 > 1.1 * other / no as f64);

    let limit = analytic_ntk(&model, &x)?;
    let err = k.rel_error(&limit)?;
    println!("relative Frobenius distance to the infinite-width kernel: {err:.4}");
    // The text says "about 0.09, i.e. about 9 %" (seed 0 fixes it; the window allows for
    // rounding differences between machines' GEMMs only loosely: 0.08–0.10).
    assert!((0.08..0.10).contains(&err), "{err}");
    let both = k.compare(&limit)?;
    assert_eq!(both.0.matches("<svg").count(), 3);
    assert!(both.0.contains("difference"));
    Ok(())
}
