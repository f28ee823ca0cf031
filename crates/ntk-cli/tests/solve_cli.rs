//! `ntk predict --solver cg|auto` and the matrix-free `--method` form end to end: against
//! the dense solver, `auto`'s choice, and bad inputs (exit 2, one line naming the problem,
//! no output).

use std::path::Path;
use std::process::Command;

use ntk_engine::NpyFile;
use ntk_engine::data::npy;

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

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn read(path: &Path) -> Vec<f64> {
    NpyFile::open(path).unwrap().to_f64_vec()
}

fn rel(a: &[f64], b: &[f64]) -> f64 {
    let d: f64 = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum();
    let r: f64 = b.iter().map(|y| y * y).sum();
    (d / r).sqrt()
}

/// Inputs (`n` train, `m` test, d = 6), targets with 2 outputs, and the analytic kernels
/// written by `ntk kernel` in f64.
fn setup(dir: &Path, n: usize, m: usize) {
    let d = 6;
    let pts = |count: usize, seed: u64| -> Vec<f64> {
        let mut st = seed | 1;
        (0..count * d)
            .map(|_| {
                st ^= st << 13;
                st ^= st >> 7;
                st ^= st << 17;
                (st >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
            })
            .collect()
    };
    let x = pts(n, 3);
    npy::write(dir.join("x.npy"), &[n, d], x.iter().copied()).unwrap();
    npy::write(dir.join("xs.npy"), &[m, d], pts(m, 5)).unwrap();
    let y: Vec<f64> = (0..n)
        .flat_map(|i| [(3.0 * x[i * d]).sin(), x[i * d + 1] - x[i * d + 2]])
        .collect();
    npy::write(dir.join("y.npy"), &[n, 2], y).unwrap();
    let model = ["--widths", "64,64", "--b-std", "0.1", "--dtype", "f64"];
    for (out, x2) in [("ktt.npy", None), ("kst.npy", Some("xs.npy"))] {
        let mut a = vec!["kernel", "--method", "analytic", "--out"];
        let o = dir.join(out);
        a.push(s(&o));
        let x1 = dir.join(if x2.is_some() { "xs.npy" } else { "x.npy" });
        a.extend(["--x1", s(&x1)]);
        let xt = dir.join("x.npy");
        if x2.is_some() {
            a.extend(["--x2", s(&xt)]);
        }
        a.extend(model);
        let (code, _, err) = ntk(&a);
        assert_eq!(code, 0, "{err}");
    }
}

fn predict(dir: &Path, out: &str, extra: &[&str]) -> (i32, String, String) {
    let (ktt, kst, y, o) = (
        dir.join("ktt.npy"),
        dir.join("kst.npy"),
        dir.join("y.npy"),
        dir.join(out),
    );
    let mut a = vec![
        "predict",
        "--k-train-train",
        s(&ktt),
        "--k-test-train",
        s(&kst),
        "--y-train",
        s(&y),
        "--out",
        s(&o),
        "--times",
        "5,500,inf",
        "--diag-reg",
        "1e-3",
    ];
    a.extend(extra);
    ntk(&a)
}

#[test]
fn cg_matches_dense_and_auto_picks_by_memory() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let n = 400;
    setup(p, n, 60);
    let (code, out, err) = predict(p, "dense.npy", &["--solver", "dense"]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("iterative"), "{out}");
    let (code, out, err) = predict(p, "cg.npy", &["--solver", "cg", "--tol", "1e-10"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("pcg:") && out.contains("lanczos:"), "{out}");
    let (dense, cg) = (read(&p.join("dense.npy")), read(&p.join("cg.npy")));
    assert_eq!(dense.len(), 3 * 60 * 2);
    // 10·tol, as the engine's tests/solve_vs_dense.rs.
    assert!(rel(&cg, &dense) <= 1e-9, "{}", rel(&cg, &dense));

    // auto: 48·n² = 7.7 MB. Below it, the iterative path (one band of 256 rows fits in
    // 1 MB); above it, the dense one.
    let (code, out, err) = predict(p, "a1.npy", &["--memory-budget", "1M"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("iterative"), "{out}");
    let (code, out, err) = predict(p, "a2.npy", &["--memory-budget", "8M"]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("iterative"), "{out}");
    assert_eq!(read(&p.join("a2.npy")), dense);
}

#[test]
fn the_matrix_free_form_equals_the_file_form() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    setup(p, 300, 40);
    let (x, xs, y) = (p.join("x.npy"), p.join("xs.npy"), p.join("y.npy"));
    let free = |method: &str, out: &str, extra: &[&str]| {
        let o = p.join(out);
        let mut a = vec![
            "predict",
            "--method",
            method,
            "--x-train",
            s(&x),
            "--x-test",
            s(&xs),
            "--y-train",
            s(&y),
            "--out",
            s(&o),
            "--times",
            "5,500,inf",
            "--diag-reg",
            "1e-3",
            "--widths",
            "64,64",
            "--b-std",
            "0.1",
        ];
        a.extend(extra);
        ntk(&a)
    };
    // Without a preconditioner (whose rows the matrix-free source computes by the x1 × x2
    // path, equal only to rounding) every product is the same bits as the file's.
    let (code, out, err) = free("analytic", "free.npy", &["--solver", "cg", "--rank", "0"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("analytic kernel"), "{out}");
    let (code, _, err) = predict(p, "file.npy", &["--solver", "cg", "--rank", "0"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(read(&p.join("free.npy")), read(&p.join("file.npy")));
    // The dense solver on kernels computed in memory equals the dense path on the files.
    let (code, _, err) = free("analytic", "free_dense.npy", &["--solver", "dense"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = predict(p, "file_dense.npy", &["--solver", "dense"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        read(&p.join("free_dense.npy")),
        read(&p.join("file_dense.npy"))
    );
    // The empirical kernel, recomputed, against its dense twin.
    let (code, _, err) = free(
        "empirical",
        "e_cg.npy",
        &["--solver", "cg", "--tol", "1e-10"],
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = free("empirical", "e_dense.npy", &["--solver", "dense"]);
    assert_eq!(code, 0, "{err}");
    let r = rel(&read(&p.join("e_cg.npy")), &read(&p.join("e_dense.npy")));
    assert!(r <= 1e-9, "{r}");
}

#[test]
fn bad_inputs_exit_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let n = 300;
    setup(p, n, 20);
    let bad = |name: &str, extra: &[&str], want: &[&str]| {
        let (code, _, err) = predict(p, name, extra);
        assert_eq!(code, 2, "{name}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        for w in want {
            assert!(err.contains(w), "{name}: {err} lacks {w}");
        }
        assert!(!p.join(name).exists(), "{name} written");
    };
    bad(
        "r.npy",
        &["--solver", "cg", "--rank", "301"],
        &["rank", "301", "300"],
    );
    bad(
        "m.npy",
        &["--solver", "cg", "--max-iters", "2", "--tol", "1e-12"],
        &["did not converge"],
    );
    bad("t.npy", &["--solver", "cg", "--tol", "2"], &["tol"]);

    let k = read(&p.join("ktt.npy"));
    let ktt = p.join("ktt.npy");
    let put = |v: &[f64]| npy::write(&ktt, &[n, n], v.iter().map(|&x| x as f32)).unwrap();
    let mut nan = k.clone();
    nan[5 * n + 9] = f64::NAN;
    put(&nan);
    bad(
        "nan.npy",
        &["--solver", "cg"],
        &["ktt.npy", "row 5, column 9"],
    );
    let mut asym = k.clone();
    asym[9 * n + 5] *= 1.5;
    put(&asym);
    bad(
        "asym.npy",
        &["--solver", "cg"],
        &["ktt.npy", "not symmetric"],
    );
    // Indefinite with a positive diagonal: tridiagonal (1, 0.8), eigenvalues in (−0.6, 2.6).
    let indef: Vec<f64> = (0..n * n)
        .map(|p| {
            let (i, j) = (p / n, p % n);
            if i == j {
                1.0
            } else if i.abs_diff(j) == 1 {
                0.8
            } else {
                0.0
            }
        })
        .collect();
    put(&indef);
    bad(
        "indef.npy",
        &["--solver", "cg", "--max-iters", "100000"],
        &["broke down at iteration"],
    );

    // The matrix-free form needs its inputs.
    let (code, _, err) = ntk(&[
        "predict",
        "--method",
        "analytic",
        "--y-train",
        "y.npy",
        "--out",
        "o.npy",
        "--times",
        "1",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--x-train") || err.contains("x-test"), "{err}");
}
