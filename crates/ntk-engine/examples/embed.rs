//! Withheld embedding check: a program outside the workspace uses the documented library API
//! named by the API issue (Mlp::apply, Kernel::save/load, Dataset::split, metrics) end to end.
use ntk_engine::metrics::{accuracy, rel_frobenius};
use ntk_engine::{Activation, AnalyticOptions, Dataset, Kernel, Mlp, Params, analytic};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = Dataset::bundled("wine")?;
    let (train, test) = data.split(120, 50)?;
    let d = train.cols();
    let mlp = Mlp::new(d, &[256, 256], Activation::Relu).with_outputs(3);
    let xtr = train.points();
    let xte = test.points();
    let k = analytic(&mlp, &xtr, None, &AnalyticOptions::default())?;
    let dir = std::env::temp_dir().join(format!("embed-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("k.npy");
    k.save(&path)?;
    let back = Kernel::load(&path)?;
    let err = rel_frobenius(&back, &k);
    if err != 0.0 {
        return Err(format!("save/load changed the kernel: {err}").into());
    }
    let params = Params::seeded(&mlp, 0)?;
    let out = mlp.apply(&params, &xte)?;
    let labels: Vec<i64> = test.labels().ok_or("no labels")?.to_vec();
    let acc = accuracy(&out, &labels);
    std::fs::remove_dir_all(&dir)?;
    println!(
        "embed: kernel {}x{}, save/load exact, apply on {} test points, untrained accuracy {acc:.3}",
        k.n1,
        k.n2,
        labels.len()
    );
    Ok(())
}
