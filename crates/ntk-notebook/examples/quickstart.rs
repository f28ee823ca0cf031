//! Twin of `notebooks/01-quickstart.ipynb`, small: a kernel on the digits data.
//!
//! `cargo run --release -p ntk-notebook --example quickstart`

use ntk_notebook::prelude::*;

/// The notebook's cells in order, at a small size.
pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    let raw = Data::bundled("digits")?;
    let images = raw.images(4, 8)?;
    assert_eq!(images.0.matches("<svg").count(), 4);
    println!("{raw}");

    let x = raw.head(40).sorted_by_label().unit_norm()?;
    let model = Model::new(64, &[256, 256], Activation::Relu);
    println!("{model}");

    let k = empirical_ntk(&model, &x, 0)?;
    println!("{k}");
    println!("{}", k.summary());

    let limit = analytic_ntk(&model, &x)?;
    let err = k.rel_error(&limit)?;
    println!("relative Frobenius distance to the infinite-width kernel: {err:.4}");
    assert!(err < 0.5, "{err}");
    Ok(())
}
