//! Hostile values (issue 11, classes 7–10, 12–15 and the messages): huge labels, sizes that
//! overflow, closed or full stdout, absurd thread counts, impossible widths, non-finite
//! results, asymmetric kernels, diverging studies, and every message one true line.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use ntk_engine::data::npy;

fn predict_files(d: &std::path::Path) -> [std::path::PathBuf; 3] {
    let (k, kst, y) = (d.join("ktt.npy"), d.join("kst.npy"), d.join("y.npy"));
    matrix(&k, 4, 4, |i, j| if i == j { 2.0 } else { 0.5 });
    matrix(&kst, 3, 4, |i, j| 0.1 * (i + j) as f64);
    matrix(&y, 4, 2, |i, j| (i + j) as f64);
    [k, kst, y]
}

fn predict_args<'a>(f: &'a [std::path::PathBuf; 3], out: &'a str) -> Vec<&'a str> {
    vec![
        "predict",
        "--k-train-train",
        s(&f[0]),
        "--k-test-train",
        s(&f[1]),
        "--y-train",
        s(&f[2]),
        "--times",
        "1,inf",
        "--out",
        out,
    ]
}

/// Class 7: labels far beyond the number of rows are refused, naming the labels file,
/// instead of allocating a one-hot matrix of 10⁹ columns.
#[test]
fn huge_labels_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let x = d.join("x.npy");
    points(&x, 40, 3);
    for (i, big) in [1e5f64, 1e9, 9.223372036854775e18].into_iter().enumerate() {
        let l = d.join(format!("l{i}.npy"));
        npy::write(
            &l,
            &[40],
            (0..40).map(|r| if r == 7 { big } else { (r % 3) as f64 }),
        )
        .unwrap();
        let res = ntk(&[
            "study",
            "--features",
            s(&x),
            "--labels",
            s(&l),
            "--n-train",
            "20",
            "--n-test",
            "10",
            "--quiet",
            "--out",
            s(&d.join("st")),
        ]);
        refused(&res, &[&format!("l{i}.npy"), "position 7"]);
    }
    assert!(!d.join("st").exists());
}

/// Class 8: sizes that overflow or exceed the machine are refused before any file exists.
#[test]
fn size_arithmetic_never_wraps() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let x = d.join("x.npy");
    points(&x, 20, 5);
    let out = d.join("K.npy");
    refused(
        &ntk(&[
            "study",
            "--n-train",
            "18446744073709551615",
            "--n-test",
            "1",
            "--quiet",
            "--out",
            s(&d.join("st")),
        ]),
        &["--n-train"],
    );
    for extra in [
        &["--full", "--outputs", "536870912"][..],
        &["--method", "empirical", "--widths", "4294967296,4294967296"],
        &["--method", "empirical", "--widths", "18446744073709551615"],
        &[
            "--full",
            "--outputs",
            "100000",
            "--memory-budget",
            "100000G",
        ],
    ] {
        let mut args = vec!["kernel", "--x1", s(&x), "--out", s(&out)];
        args.extend(extra);
        let res = ntk(&args);
        refused(&res, &[]);
        assert!(
            res.2.contains("memory") || res.2.contains("size"),
            "{extra:?}: {}",
            res.2
        );
    }
    assert_eq!(listing(d), ["x.npy"]);
}

/// Class 9: a closed stdout ends quietly (exit 0, no message, outputs complete); a full one
/// gives one warning line and no panic.
#[test]
fn closed_or_full_stdout_is_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let f = predict_files(dir.path());
    let out = dir.path().join("p.npy");
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let child = Command::new(bin())
        .args(predict_args(&f, s(&out)))
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let res = wait(child, Duration::from_secs(60));
    assert_eq!(
        res.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    assert!(
        res.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    assert!(out.exists());
    std::fs::remove_file(&out).unwrap();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let x = dir.path().join("x.npy");
    points(&x, 6, 3);
    let st = dir.path().join("st");
    for args in [
        predict_args(&f, s(&out)),
        vec![
            "kernel",
            "--x1",
            s(&x),
            "--out",
            s(&dir.path().join("K.npy")),
        ],
        vec![
            "study",
            "--n-train",
            "24",
            "--n-test",
            "24",
            "--widths",
            "16",
            "--seeds",
            "0",
            "--steps",
            "2",
            "--quiet",
            "--out",
            s(&st),
        ],
    ] {
        let child = Command::new(bin())
            .args(&args)
            .stdout(full.try_clone().unwrap())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let res = wait(child, Duration::from_secs(120));
        let err = String::from_utf8_lossy(&res.stderr);
        assert_eq!(res.status.code(), Some(0), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains("No space left") && !err.contains("panicked"),
            "{err}"
        );
    }
}

/// Class 10: an absurd thread count is capped at a stated multiple of the cores, with a
/// warning, and the result is bit-identical.
#[test]
fn thread_counts_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let x = dir.path().join("x.npy");
    points(&x, 20, 5);
    let (a, b) = (dir.path().join("a.npy"), dir.path().join("b.npy"));
    let res = ntk(&[
        "kernel",
        "--method",
        "empirical",
        "--widths",
        "64",
        "--x1",
        s(&x),
        "--out",
        s(&a),
        "--threads",
        "100000",
    ]);
    assert_eq!(res.0, 0, "{}", res.2);
    let cores = std::thread::available_parallelism().unwrap().get();
    let cap = ntk_cli::common::thread_cap(cores);
    assert!(
        res.2.contains("--threads 100000") && res.2.contains(&format!("using {cap}")),
        "{}",
        res.2
    );
    let res = ntk(&[
        "kernel",
        "--method",
        "empirical",
        "--widths",
        "64",
        "--x1",
        s(&x),
        "--out",
        s(&b),
        "--threads",
        "1",
    ]);
    assert_eq!(res.0, 0);
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let f = predict_files(dir.path());
    let mut args = predict_args(&f, "p.npy");
    let p = dir.path().join("p.npy");
    args[10] = s(&p);
    args.extend(["--threads", "5000"]);
    let res = ntk(&args);
    assert_eq!(res.0, 0, "{}", res.2);
    assert!(res.2.contains("warning"), "{}", res.2);
}

/// Class 12: widths whose parameters cannot be represented are refused at once.
#[test]
fn impossible_widths_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let x = dir.path().join("x.npy");
    points(&x, 10, 5);
    let res = ntk(&[
        "kernel",
        "--method",
        "empirical",
        "--widths",
        "18446744073709551615",
        "--x1",
        s(&x),
        "--out",
        s(&dir.path().join("K.npy")),
    ]);
    refused(&res, &["overflows"]);
    let res = ntk(&[
        "study",
        "--widths",
        "4294967296",
        "--n-train",
        "24",
        "--n-test",
        "24",
        "--seeds",
        "0",
        "--steps",
        "1",
        "--quiet",
        "--out",
        s(&dir.path().join("st")),
    ]);
    refused(&res, &["--widths", "4294967296"]);
    assert_eq!(listing(dir.path()), ["x.npy"]);
}

/// Class 13: a non-finite kernel or prediction is exit 2, naming the first entry and a
/// likely cause; nothing is written.
#[test]
fn non_finite_results_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let x = d.join("x.npy");
    points(&x, 8, 3);
    let huge = d.join("huge.npy");
    matrix(
        &huge,
        8,
        3,
        |i, j| if (i + j) % 2 == 0 { 1e308 } else { -1e308 },
    );
    let big = d.join("big.npy");
    matrix(&big, 8, 3, |i, j| 1e20 * (1.0 + (i * 3 + j) as f64));
    let out = d.join("K.npy");
    for (args, cause) in [
        (
            vec![
                "--x1",
                s(&x),
                "--activation",
                "leaky_relu:1e300",
                "--method",
                "empirical",
            ],
            "overflowed",
        ),
        (vec!["--x1", s(&huge)], "overflowed"),
        (
            vec![
                "--x1",
                s(&big),
                "--method",
                "empirical",
                "--activation",
                "identity",
            ],
            "--dtype f64",
        ),
    ] {
        let mut a = vec!["kernel", "--out", s(&out), "--widths", "16"];
        a.extend(args);
        refused(&ntk(&a), &["K.npy", "entry [", cause]);
    }
    // f64 holds what f32 cannot.
    let res = ntk(&[
        "kernel",
        "--out",
        s(&out),
        "--widths",
        "16",
        "--x1",
        s(&big),
        "--method",
        "empirical",
        "--activation",
        "identity",
        "--dtype",
        "f64",
    ]);
    assert_eq!(res.0, 0, "{}", res.2);
    std::fs::remove_file(&out).unwrap();
    // Explicit weights scaled by 1e200.
    let w = d.join("w");
    std::fs::create_dir(&w).unwrap();
    npy::write(
        w.join("W0.npy"),
        &[3, 4],
        (0..12).map(|v| 1e200 * (v as f64 - 5.5)),
    )
    .unwrap();
    npy::write(w.join("b0.npy"), &[4], [0.0f64; 4]).unwrap();
    npy::write(w.join("W1.npy"), &[4, 1], [1e200f64; 4]).unwrap();
    npy::write(w.join("b1.npy"), &[1], [0.0f64]).unwrap();
    refused(
        &ntk(&[
            "kernel",
            "--out",
            s(&out),
            "--widths",
            "4",
            "--x1",
            s(&x),
            "--method",
            "empirical",
            "--weights",
            s(&w),
        ]),
        &["K.npy", "entry ["],
    );
    // Predictions from targets near the largest double.
    let f = predict_files(d);
    matrix(&f[2], 4, 2, |_, _| 1e308);
    let p = d.join("p.npy");
    refused(
        &ntk(&predict_args(&f, s(&p))),
        &["p.npy", "entry [0, ", "too large"],
    );
    assert!(!out.exists() && !p.exists());
}

/// Class 14: a train-train kernel asymmetric beyond the stated tolerance is refused; one
/// within it (f32 rounding) is accepted.
#[test]
fn asymmetric_kernels_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let f = predict_files(dir.path());
    let p = dir.path().join("p.npy");
    matrix(&f[0], 4, 4, |i, j| {
        if i == j {
            2.0
        } else if i < j {
            0.5
        } else {
            0.4
        }
    });
    refused(
        &ntk(&predict_args(&f, s(&p))),
        &["ktt.npy", "not symmetric", "K[1, 0]"],
    );
    let tol = ntk_cli::predict::SYMMETRY_TOLERANCE;
    matrix(&f[0], 4, 4, |i, j| {
        if i == j {
            2.0
        } else if i < j {
            0.5
        } else {
            0.5 + 0.5 * tol
        }
    });
    let res = ntk(&predict_args(&f, s(&p)));
    assert_eq!(res.0, 0, "{}", res.2);
}

/// Class 15: a diverging study is an error, `--labels`/`--targets` need `--features`, and a
/// failed study leaves no directory.
#[test]
fn study_failures_are_errors_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let st = d.join("st/deeper");
    refused(
        &ntk(&[
            "study",
            "--n-train",
            "24",
            "--n-test",
            "24",
            "--widths",
            "16,32",
            "--seeds",
            "0",
            "--steps",
            "20",
            "--learning-rate",
            "1e6",
            "--quiet",
            "--out",
            s(&st),
        ]),
        &["--learning-rate", "diverged"],
    );
    assert_eq!(
        listing(d),
        Vec::<String>::new(),
        "a failed study leaves nothing"
    );
    let l = d.join("l.npy");
    npy::write(&l, &[10], [0.0f64; 10]).unwrap();
    refused(
        &ntk(&["study", "--labels", s(&l), "--quiet"]),
        &["--features"],
    );
    refused(
        &ntk(&["study", "--targets", s(&l), "--quiet"]),
        &["--features"],
    );
}

/// The messages of the issue: each one line, naming the file or flag, and true.
#[test]
fn messages_are_one_true_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = d.join("K.npy");
    // A header with NUL and control bytes: one line, escaped.
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    let dict = "{'descr': '<f8\0\x01\x02\n\n', 'fortran_order': False, 'shape': (2, 2), }\n";
    b.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    b.extend_from_slice(dict.as_bytes());
    b.extend_from_slice(&[0u8; 32]);
    let nul = d.join("nul.npy");
    std::fs::write(&nul, &b).unwrap();
    refused(
        &ntk(&["kernel", "--x1", s(&nul), "--out", s(&out)]),
        &["nul.npy"],
    );
    refused(
        &ntk(&["kernel", "--x1", s(d), "--out", s(&out)]),
        &["directory"],
    );
    refused(
        &ntk(&["kernel", "--x1", "/dev/zero", "--out", s(&out)]),
        &["character device"],
    );
    refused(
        &ntk(&["kernel", "--x1", "/proc/self/stat", "--out", s(&out)]),
        &["procfs"],
    );
    let f = predict_files(d);
    let p = d.join("p.npy");
    let mut args = predict_args(&f, s(&p));
    args.extend(["--diag-reg", "1e308"]);
    refused(&ntk(&args), &["--diag-reg", "1e308", "finite"]);
    // Targets with no column.
    let x = d.join("x.npy");
    points(&x, 60, 3);
    let t0 = d.join("t0.npy");
    npy::write(&t0, &[60, 0], std::iter::empty::<f64>()).unwrap();
    let res = ntk(&[
        "study",
        "--features",
        s(&x),
        "--targets",
        s(&t0),
        "--n-train",
        "20",
        "--n-test",
        "10",
        "--quiet",
        "--out",
        s(&d.join("st")),
    ]);
    refused(&res, &["t0.npy", "column"]);
    assert!(!res.2.contains("expected 60, got 60"), "{}", res.2);
    // A legal 254-byte output name works (the hidden names are shortened).
    let long = d.join("k".repeat(250) + ".npy");
    let res = ntk(&["kernel", "--x1", s(&x), "--out", s(&long), "--widths", "8"]);
    assert_eq!(res.0, 0, "{}", res.2);
    // Study messages name the file or flag.
    refused(
        &ntk(&[
            "study",
            "--features",
            s(&x),
            "--targets",
            s(&x),
            "--n-train",
            "50",
            "--n-test",
            "20",
            "--quiet",
        ]),
        &["--n-train", "x.npy"],
    );
    let short = d.join("short.npy");
    npy::write(&short, &[7], [0.0f64; 7]).unwrap();
    refused(
        &ntk(&[
            "study",
            "--features",
            s(&x),
            "--targets",
            s(&short),
            "--n-train",
            "20",
            "--n-test",
            "10",
            "--quiet",
        ]),
        &["short.npy", "x.npy"],
    );
    // The help hint once; `kernel --help` lists mean_field.
    let res = ntk(&["kernel", "--x1", s(&x), "--out", s(&out), "--oops"]);
    refused(&res, &["--oops"]);
    assert_eq!(res.2.matches("--help").count(), 1, "{}", res.2);
    let (code, help, _) = ntk(&["kernel", "--help"]);
    assert_eq!(code, 0);
    assert!(help.contains("mean_field"), "{help}");
}
