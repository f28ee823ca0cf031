//! `ntk study` end to end on a tiny grid: the table, `study.csv`, `study.json` and the SVG
//! plot with the fitted slopes in its legend; bad arguments answer exit code 2 with one
//! line.

use std::process::Command;

fn ntk(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ntk"))
        .args(args)
        .output()
        .expect("run ntk");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const TINY: [&str; 10] = [
    "study",
    "--n-train",
    "24",
    "--widths",
    "32,64,128",
    "--seeds",
    "0,1",
    "--steps",
    "5",
    "--quiet",
];

#[test]
fn tiny_study_writes_table_csv_json_and_svg() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut args = TINY.to_vec();
    args.extend(["--n-test", "16", "--out", out.to_str().unwrap()]);
    let (code, stdout, stderr) = ntk(&args);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("kernel_drift") && stdout.contains("m=128"),
        "{stdout}"
    );
    let csv = std::fs::read_to_string(out.join("study.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines[0].starts_with("width,kernel_error_mean,kernel_error_std"));
    assert!(lines[3].starts_with("128,"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("study.json")).unwrap()).unwrap();
    assert_eq!(json["rows"].as_array().unwrap().len(), 3);
    assert_eq!(json["runs"].as_array().unwrap().len(), 6);
    let slope = json["slopes"]["kernel_drift"]["slope"].as_f64().unwrap();
    assert!(slope < 0.0, "{slope}");
    let svg = std::fs::read_to_string(out.join("study.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("kernel_drift: slope -") && svg.contains("<circle"));
    assert!(svg.contains("<polyline"), "the series are drawn as lines");
}

#[test]
fn bad_arguments_answer_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bad");
    let o = out.to_str().unwrap();
    for (extra, needle) in [
        (vec!["--widths", "0,8"], "widths"),
        (vec!["--activation", "swish"], "swish"),
        (vec!["--two-layer", "relu"], "two-layer activation"),
        (vec!["--n-test", "5000"], "--n-train/--n-test"),
        (vec!["--alpha", "-1"], "alpha"),
        (vec!["--dataset", "mnist"], "mnist"),
        (vec!["--steps", "x"], "steps"),
    ] {
        let mut args = TINY.to_vec();
        args.extend(["--out", o]);
        args.extend(extra.iter().copied());
        let (code, _, stderr) = ntk(&args);
        assert_eq!(code, 2, "{extra:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{extra:?}: {stderr}");
        assert!(stderr.contains(needle), "{extra:?}: {stderr}");
    }
    assert!(!out.exists(), "a failed study leaves no directory");
}

/// Features and regression targets from `.npy` files: no accuracy row, a written CSV.
#[test]
fn npy_features_with_regression_targets() {
    use ntk_engine::data::npy;
    let dir = tempfile::tempdir().unwrap();
    let (n, d) = (40, 5);
    let x = dir.path().join("x.npy");
    let y = dir.path().join("y.npy");
    npy::write(&x, &[n, d], (0..n * d).map(|p| ((p as f64) * 0.37).sin())).unwrap();
    npy::write(&y, &[n], (0..n).map(|i| ((i as f64) * 0.5).cos())).unwrap();
    let out = dir.path().join("run");
    let (code, stdout, stderr) = ntk(&[
        "study",
        "--features",
        x.to_str().unwrap(),
        "--targets",
        y.to_str().unwrap(),
        "--n-train",
        "24",
        "--n-test",
        "16",
        "--widths",
        "16,32",
        "--seeds",
        "0",
        "--steps",
        "3",
        "--learning-rate",
        "1",
        "--activation",
        "erf",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("test_mse") && !stdout.contains("test_accuracy"),
        "{stdout}"
    );
    assert!(out.join("study.csv").exists() && out.join("study.svg").exists());
    let (code, _, stderr) = ntk(&["study", "--features", x.to_str().unwrap(), "--quiet"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("--labels") && stderr.trim().lines().count() == 1,
        "{stderr}"
    );
}
