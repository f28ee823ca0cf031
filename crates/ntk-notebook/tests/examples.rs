//! Runs every example — each the small twin of a notebook in `notebooks/` — so that a
//! notebook never shows an API that no longer exists, and the numbers its text states (each
//! twin asserts them, in windows whose reasons it gives) still hold. (`cargo test` also builds them as
//! examples; here they are compiled into one test binary and run.)

#[path = "../examples/quickstart.rs"]
mod quickstart;

#[path = "../examples/arccos_limit.rs"]
mod arccos_limit;

#[path = "../examples/digits_classification.rs"]
mod digits_classification;

#[path = "../examples/performance.rs"]
mod performance;

#[test]
fn quickstart_notebook_twin_runs() {
    quickstart::main().unwrap();
}

#[test]
fn arccos_limit_notebook_twin_runs() {
    arccos_limit::main().unwrap();
}

#[test]
fn digits_classification_notebook_twin_runs() {
    digits_classification::main().unwrap();
}

#[test]
fn performance_notebook_twin_runs() {
    performance::main().unwrap();
}

#[path = "../examples/linearisation.rs"]
mod linearisation;

#[path = "../examples/training_dynamics.rs"]
mod training_dynamics;

#[path = "../examples/lazy_vs_rich.rs"]
mod lazy_vs_rich;

#[test]
fn linearisation_notebook_twin_runs() {
    linearisation::main().unwrap();
}

#[test]
fn training_dynamics_notebook_twin_runs() {
    training_dynamics::main().unwrap();
}

#[test]
fn lazy_vs_rich_notebook_twin_runs() {
    lazy_vs_rich::main().unwrap();
}

#[path = "../examples/trained_vs_kernel.rs"]
mod trained_vs_kernel;

#[test]
fn trained_vs_kernel_notebook_twin_runs() {
    trained_vs_kernel::main().unwrap();
}
