//! The library end to end, with documented public API only: the infinite-width NTK of an
//! MLP on the bundled digits, saved and loaded as `.npy`, kernel regression and gradient
//! flow on it, a finite network of the same architecture trained by gradient descent and
//! applied to the test points, and the test accuracy of each, measured with
//! [`ntk_engine::metrics`].
//!
//! Run: `cargo run --release -p ntk-engine --example workflow`.

use ntk_engine::metrics::{accuracy, rel_frobenius, rms};
use ntk_engine::train::train;
use ntk_engine::{
    Activation, AnalyticOptions, Dataset, FitOptions, GradientFlow, Initial, Kernel, Matrix, Mlp,
    Params, TrainData, TrainOptions, analytic,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Data: 300 training and 200 test digits, scaled together to x·x/d = 1.
    let (n_train, n_test) = (300, 200);
    let digits = Dataset::bundled("digits")?;
    let (train_set, test_set) = digits
        .head(n_train + n_test)
        .scaled_to_unit_variance()?
        .split(n_train, n_test)?;
    let classes = digits.classes().ok_or("digits has labels")?;
    let y_train = train_set.targets(classes)?;
    let labels = test_set.labels().ok_or("digits has labels")?;
    let (x_train, x_test) = (train_set.points(), test_set.points());

    // The model and its infinite-width NTK: train-train and test-train.
    let mlp = Mlp::new(train_set.cols(), &[512], Activation::Relu)
        .with_b_std(0.1)
        .with_outputs(classes);
    let opts = AnalyticOptions::default();
    let k_train = analytic(&mlp, &x_train, None, &opts)?;
    let k_test = analytic(&mlp, &x_test, Some(&x_train), &opts)?;

    // Save and load: exact.
    let dir = std::env::temp_dir().join(format!("ntk-workflow-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("k_train.npy");
    k_train.save(&path)?;
    let k_back = Kernel::load(&path)?;
    std::fs::remove_dir_all(&dir)?;
    if k_back != k_train {
        return Err("the kernel changed on its way through a .npy file".into());
    }

    // Kernel predictions: gradient flow at the training time and at t = ∞ (regression).
    let (steps, learning_rate) = (200, 5.0);
    let fit = FitOptions {
        learning_rate,
        diag_reg: 1e-6,
        ..FitOptions::default()
    };
    let flow = GradientFlow::fit(&Matrix::from(k_back), &y_train, &fit)?;
    let times = [steps as f64, f64::INFINITY];
    let kernel_pred = flow.predict_test(&times, &Matrix::from(k_test), &Initial::default())?;

    // A finite network trained by gradient descent on the same loss, from g(0) = 0
    // (centred, the default), then applied to the test points: g = f(θ_T) − f(θ_0).
    let params0 = Params::seeded(&mlp, 0)?;
    let options = TrainOptions {
        steps,
        learning_rate,
        ..TrainOptions::default()
    };
    let data = TrainData {
        x_train: &x_train,
        y_train: &y_train,
        x_test: Some(&x_test),
        probe: None,
    };
    let trained = train(&mlp, &params0, &data, &options)?;
    let (f_t, f_0) = (
        mlp.apply(&trained.params, &x_test)?,
        mlp.apply(&params0, &x_test)?,
    );
    let net_pred = Matrix::from_fn(f_t.rows, f_t.cols, |i, a| f_t.get(i, a) - f_0.get(i, a));
    let recorded = trained.test.as_ref().ok_or("test outputs were asked for")?;
    let self_check = rel_frobenius(&net_pred, recorded);
    if self_check > 1e-10 {
        return Err(format!("apply disagrees with the trainer's outputs: {self_check:e}").into());
    }

    let acc_flow = accuracy(&kernel_pred[0], labels);
    let acc_regression = accuracy(&kernel_pred[1], labels);
    let acc_net = accuracy(&net_pred, labels);
    println!(
        "workflow: digits {n_train}+{n_test}, {mlp}\n  test accuracy: NTK flow at t={steps} \
         {acc_flow:.3}, NTK regression {acc_regression:.3}, trained net {acc_net:.3}\n  \
         RMS gap net vs NTK flow on the test outputs: {:.3e}",
        rms(&net_pred, &kernel_pred[0])
    );
    for (what, acc) in [
        ("flow", acc_flow),
        ("regression", acc_regression),
        ("net", acc_net),
    ] {
        // Ten classes: chance is 0.1. A working pipeline is far above it.
        if acc.is_nan() || acc < 0.5 {
            return Err(format!("{what} accuracy {acc} is not above chance").into());
        }
    }
    Ok(())
}
