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
    let mut by_points = Table::new(
        "one hidden layer, width 256",
        &["points n", "ms", "GFLOP/s"],
    );
    for n in [16, 32] {
        let t = time_empirical(
            &Data::bundled("digits")?.head(n).unit_norm()?,
            &[1],
            &[256],
            1,
        )?;
        let m = &t.rows[0];
        by_points.push(vec![
            n.to_string(),
            format!("{:.2}", m.seconds * 1e3),
            format!("{:.1}", m.gflops()),
        ]);
    }
    println!("{by_points}");

    let start = std::time::Instant::now();
    let limit = analytic_ntk(&Model::uniform(64, 3, 1, Activation::Relu), &x)?;
    println!(
        "analytic NTK {} × {}: {:.1} ms",
        limit.rows,
        limit.cols,
        start.elapsed().as_secs_f64() * 1e3
    );

    let small = time_empirical(&x, &[1, 2], &[64, 256], 1)?;
    assert_eq!(small.rows.len(), 4);
    // The notebook's design claim, in the engine's operation count (the rates and times
    // depend on the machine and are not asserted): one hidden layer's work grows linearly
    // in the width (its Grams and the thin forward pass; the input Gram, n²·d, does not
    // grow, so 4× the width costs between 3× and 4×: 3.4× at n = d = 64), two hidden
    // layers' faster, on its way to m² as the m × m weights take over (at m = 64 the n²·m
    // Grams and the n·m² passes are still of one size: 8.1×, between twice depth 1's
    // factor and 16×).
    let flops = |d: usize, m: usize| {
        small
            .rows
            .iter()
            .find(|r| (r.depth, r.width) == (d, m))
            .map_or(f64::NAN, |r| r.flops)
    };
    let (one, two) = (flops(1, 256) / flops(1, 64), flops(2, 256) / flops(2, 64));
    println!("4× the width: {one:.2}× the work at depth 1, {two:.2}× at depth 2");
    assert!((3.0..=4.0).contains(&one), "depth 1: {one}");
    assert!(
        two > 2.0 * one && two < 16.0,
        "depth 2: {two} (depth 1: {one})"
    );
    assert!(
        small
            .rows
            .iter()
            .all(|m| m.gflops().is_finite() && m.gflops() > 0.0)
    );
    // Best and slowest of the repetitions, as the notebook's tables show them.
    let spread = time_empirical(&x, &[1], &[128], 3)?;
    assert!(spread.rows[0].slowest >= spread.rows[0].seconds);
    assert!(spread.table().header.iter().any(|h| h == "ms (slowest)"));
    println!("{}", small.plot());
    Ok(())
}
