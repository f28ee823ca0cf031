//! Twin of `notebooks/07-performance.ipynb`, small: empirical-kernel throughput over width
//! and depth, from criterion's saved results or timed here.
//!
//! `cargo run --release -p ntk-notebook --example performance`

use ntk_notebook::prelude::*;

/// The notebook's cells in order, at a small size.
pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!(
        "criterion results would be in {}",
        criterion_dir().display()
    );
    let x = Data::bundled("digits")?.head(64).unit_norm()?;
    let measured = match criterion_results(&criterion_dir(), "empirical_ntk_f32") {
        Ok(t) => t,
        Err(e) => {
            println!("{e}: timing small shapes here");
            time_empirical(&x, &[1, 2], &[64, 256], 2)?
        }
    };
    println!("{measured}");
    let small = time_empirical(&x, &[1, 2], &[64, 128], 1)?;
    assert_eq!(small.rows.len(), 4);
    assert!(small.rows.iter().all(|m| m.gflops() > 0.0));
    println!("{}", small.plot());
    Ok(())
}
