//! The library as a user sees it: the examples run, the contract program builds and
//! runs as a separate Cargo project outside the workspace, and `NTK_DATA_DIR` is honoured.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `<target>/<profile>`: this test binary lives in its `deps/`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(Path::parent)
        .expect("test binaries live in <target>/<profile>/deps")
        .to_path_buf()
}

/// An example built by `cargo test` (examples are compiled with the tests).
fn example(name: &str) -> Command {
    let path = profile_dir().join("examples").join(name);
    assert!(
        path.exists(),
        "{} not built (cargo test builds the examples)",
        path.display()
    );
    Command::new(path)
}

fn stdout(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {text}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[test]
fn examples_run() {
    let embed = stdout(&example("embed").output().unwrap());
    assert!(
        embed.starts_with("embed: kernel 120x120, save/load exact, apply on 50 test points"),
        "{embed}"
    );
    let tour = stdout(&example("workflow").output().unwrap());
    assert!(tour.contains("test accuracy: NTK flow"), "{tour}");
}

/// `NTK_DATA_DIR`, when set, is where the bundled data is read from: an empty directory is
/// an error naming the missing file, a directory holding the files works.
#[test]
fn ntk_data_dir_is_honoured() {
    let empty = tempfile::tempdir().unwrap();
    let out = example("embed")
        .env("NTK_DATA_DIR", empty.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let want = empty.path().join("wine.npy");
    assert!(err.contains(&*want.to_string_lossy()), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data");
    for f in ["wine.npy", "wine-labels.npy"] {
        std::fs::copy(data.join(f), dir.path().join(f)).unwrap();
    }
    let ok = stdout(
        &example("embed")
            .env("NTK_DATA_DIR", dir.path())
            .output()
            .unwrap(),
    );
    assert!(ok.starts_with("embed: kernel 120x120"), "{ok}");
}

/// The `[profile.*]` sections of the workspace manifest, so that the outside project builds
/// its dependencies with the same settings and reuses this build's artifacts.
fn workspace_profiles(root: &Path) -> String {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let mut out = String::new();
    let mut keep = false;
    for line in manifest.lines() {
        if line.starts_with('[') {
            keep = line.starts_with("[profile.");
        }
        if keep {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The contract of the API issue: `examples/embed.rs`, unchanged, as `src/main.rs` of a new
/// Cargo project in a temporary directory whose only dependency is `ntk-engine` by path,
/// built offline (the workspace's `Cargo.lock`, this build's target directory and profile,
/// so only the engine and the program compile) and run.
#[test]
fn contract_program_builds_and_runs_outside_the_workspace() {
    let engine = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = engine.join("../..");
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path();
    std::fs::create_dir(project.join("src")).unwrap();
    std::fs::copy(
        engine.join("examples/embed.rs"),
        project.join("src/main.rs"),
    )
    .unwrap();
    std::fs::copy(root.join("Cargo.lock"), project.join("Cargo.lock")).unwrap();
    let manifest = format!(
        "[package]\nname = \"embed-check\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
         [dependencies]\nntk-engine = {{ path = {:?} }}\n\n[workspace]\n\n{}",
        engine.display().to_string(),
        workspace_profiles(&root)
    );
    std::fs::write(project.join("Cargo.toml"), manifest).unwrap();

    let profile = profile_dir();
    let target = profile.parent().unwrap();
    let release = profile.file_name().is_some_and(|n| n == "release");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(project)
        .args(["build", "--offline", "--quiet", "--bin", "embed-check"])
        .env("CARGO_TARGET_DIR", target)
        .env_remove("CARGO_MANIFEST_DIR")
        .env_remove("CARGO_PKG_NAME");
    if release {
        build.arg("--release");
    }
    let out = build.output().unwrap();
    assert!(
        out.status.success(),
        "building the outside project failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(
        &Command::new(profile.join("embed-check"))
            .current_dir(project)
            .output()
            .unwrap(),
    );
    assert!(
        text.starts_with("embed: kernel 120x120, save/load exact, apply on 50 test points"),
        "{text}"
    );
}
