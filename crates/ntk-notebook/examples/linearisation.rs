//! Twin of `notebooks/03-linearisation.ipynb`, small: the lecture's two-layer net against its
//! linearisation at `W_0` as the width grows, for tanh (with the bound `β/(2√m)·‖W−W_0‖_F²`)
//! and for ReLU.
//!
//! `cargo run --release -p ntk-notebook --example linearisation`

use ntk_notebook::prelude::*;

/// The notebook's cells in order, at a small size.
pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    let x = Data::bundled("digits")?
        .head(32)
        .standardized()
        .unit_norm()?;
    let y = x.one_vs_rest(0)?;
    let widths = [16, 64, 256, 1024];

    let tanh = linearisation(Activation::Tanh, &x, &y, &widths, 2, 100, 2.0)?;
    println!("{tanh}");
    assert_eq!(tanh.bound_holds(), Some(true));
    let (e, b) = (
        tanh.error_fit().ok_or("no fit")?,
        tanh.bound_fit().ok_or("no fit")?,
    );
    println!("tanh: error {e}, bound {b}");
    assert!(e.slope < -0.3 && b.slope < -0.3, "{e} {b}");

    let softplus = linearisation(Activation::Softplus, &x, &y, &widths, 2, 100, 2.0)?;
    assert_eq!(softplus.bound_holds(), Some(true));

    let relu = linearisation(Activation::Relu, &x, &y, &widths, 2, 100, 2.0)?;
    println!("{relu}");
    assert_eq!(relu.bound_holds(), None);
    let r = relu.error_fit().ok_or("no fit")?;
    println!("relu: error {r}");
    assert!(r.slope < 0.0, "{r}");
    println!("{}", relu.plot());
    Ok(())
}
