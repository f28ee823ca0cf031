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

    // "holds, but is vacuous here": at the notebook's data and schedule (64 digits, 300
    // steps, learning rate 2) the distance travelled is ≈ 13 and the bound stays above the
    // targets' size 1 even at width 1024 (one seed; the notebook: 2.19 there).
    let x64 = Data::bundled("digits")?
        .head(64)
        .standardized()
        .unit_norm()?;
    let y64 = x64.one_vs_rest(0)?;
    let one = linearisation(Activation::Tanh, &x64, &y64, &[1024], 1, 300, 2.0)?;
    println!("{one}");
    let (b, d) = (one.bound[0][0], one.distance[0][0]);
    assert!(
        b > 1.0 && (10.0..16.0).contains(&d),
        "bound {b}, distance {d}"
    );

    let softplus = linearisation(Activation::Softplus, &x, &y, &widths, 2, 100, 2.0)?;
    assert_eq!(softplus.bound_holds(), Some(true));

    let relu = linearisation(Activation::Relu, &x, &y, &widths, 2, 100, 2.0)?;
    println!("{relu}");
    assert_eq!(relu.bound_holds(), None);
    let r = relu.error_fit().ok_or("no fit")?;
    println!("relu: error {r}");
    assert!(r.slope < 0.0, "{r}");
    // The lecture's ReLU bound (B = the largest distance, δ = 0.05) sits far above the
    // measured gap, and above 1: it holds and is vacuous at these widths.
    let bound = relu.relu_bound(0.05);
    for (b, e) in bound.iter().zip(&relu.error) {
        assert!(e.iter().all(|e| e < b) && *b > 1.0, "{b} {e:?}");
    }
    println!("{}", relu.plot());

    // Homogeneity: f = ⟨∇f, W⟩ for ReLU and leaky ReLU to rounding (1e-12 relative), and
    // f_{W0}(x; W) = ⟨∇f(x; W0), W⟩ after training (1e-12 absolute, outputs are O(1));
    // tanh and softplus miss by O(1).
    let hom = homogeneity(
        &x,
        &y,
        256,
        &[
            Activation::Relu,
            Activation::LeakyRelu(0.1),
            Activation::Tanh,
            Activation::Softplus,
        ],
        100,
        2.0,
    )?;
    println!("{hom}");
    for (name, at_init, trained) in &hom.rows[..2] {
        assert!(
            *at_init < 1e-12 && *trained < 1e-12,
            "{name}: {at_init} {trained}"
        );
    }
    for (name, at_init, trained) in &hom.rows[2..] {
        assert!(
            *at_init > 1e-2 && *trained > 1e-2,
            "{name}: {at_init} {trained}"
        );
    }
    Ok(())
}
