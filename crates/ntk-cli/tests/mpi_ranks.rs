//! `ntk` under `mpirun -np 2` and `-np 3` (built with `--features mpi`; needs an MPI
//! launcher on the PATH): kernels (symmetric or not, empirical and analytic, one band per
//! rank and many), the CG solve (files and matrix-free) and a study give the bytes of one
//! process; a rank that dies mid-run leaves a partial file and a progress log that
//! `--resume` completes at any rank count; an error is one line.
#![cfg(feature = "mpi")]

mod common;

use std::path::Path;
use std::process::Command;

use common::{bin, listing, ntk, points, run, s};

/// `mpirun -np ranks ntk args…` (Open MPI as root needs its two variables; MPICH ignores
/// them), with extra environment `env`.
fn mpirun(ranks: usize, env: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
    let mut c = Command::new("mpirun");
    c.args(["-np", &ranks.to_string(), bin()])
        .args(args)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    for (k, v) in env {
        c.env(k, v);
    }
    run(c)
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn bytes(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Runs `args` (with `--out` set to `dir/NAME`) alone and under 2 and 3 ranks, and checks
/// that the output files are the same bytes; returns rank 0's summary under 3 ranks.
fn same_bytes(dir: &Path, name: &str, args: &[&str]) -> String {
    let alone = dir.join(format!("alone-{name}"));
    let mut a = args.to_vec();
    a.extend(["--out", s(&alone)]);
    let (code, _, err) = ntk(&a);
    assert_eq!(code, 0, "{err}");
    let mut text = String::new();
    for r in [2, 3] {
        let out = dir.join(format!("np{r}-{name}"));
        let mut a = args.to_vec();
        a.extend(["--out", s(&out)]);
        let (code, t, err) = mpirun(r, &[], &a);
        assert_eq!(code, 0, "np {r}: {err}");
        assert!(err.is_empty(), "np {r}: {err}");
        assert!(bytes(&alone) == bytes(&out), "{name}: np {r} differs");
        text = t;
    }
    text
}

#[test]
fn kernels_under_ranks_are_the_bytes_of_one_process() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (x1, x2) = (d.join("x1.npy"), d.join("x2.npy"));
    points(&x1, 384, 5);
    points(&x2, 200, 5);
    let (x1, x2) = (s(&x1), s(&x2));
    // 3 bands of 128 rows: one per rank under 3 ranks, unequal shares under 2.
    let text = same_bytes(d, "a.npy", &["kernel", "--x1", x1, "--method", "analytic"]);
    assert!(text.contains("3 band(s) of 128 rows"), "{text}");
    assert_eq!(
        text.matches("shape [384, 384]").count(),
        1,
        "rank 0 alone prints"
    );
    // Many bands per rank (64 rows: the budget), symmetric and not.
    same_bytes(
        d,
        "b.npy",
        &[
            "kernel",
            "--x1",
            x1,
            "--method",
            "analytic",
            "--memory-budget",
            "1M",
        ],
    );
    same_bytes(
        d,
        "c.npy",
        &[
            "kernel", "--x1", x1, "--x2", x2, "--method", "analytic", "--dtype", "f64",
        ],
    );
    let emp = [
        "kernel",
        "--x1",
        x1,
        "--method",
        "empirical",
        "--widths",
        "32,32",
    ];
    same_bytes(d, "e.npy", &emp);
    same_bytes(
        d,
        "f.npy",
        &[
            "kernel",
            "--x1",
            x1,
            "--x2",
            x2,
            "--method",
            "empirical",
            "--widths",
            "48",
            "--outputs",
            "2",
            "--full",
        ],
    );
    // Nothing but the outputs is left behind.
    assert_eq!(listing(d).iter().filter(|n| n.starts_with('.')).count(), 0);
}

#[test]
fn a_rank_that_dies_leaves_a_partial_file_that_resume_completes_at_any_rank_count() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let x = d.join("x.npy");
    points(&x, 569, 6);
    let alone = d.join("alone.npy");
    let args = |out: &Path| -> Vec<String> {
        [
            "kernel",
            "--x1",
            s(&x),
            "--method",
            "analytic",
            "--memory-budget",
            "1M",
        ]
        .iter()
        .map(|a| a.to_string())
        .chain(["--out".to_string(), s(out).to_string()])
        .collect()
    };
    let a = args(&alone);
    assert_eq!(ntk(&strs(&a)).0, 0);
    for (dies, resume_with) in [(2, 3), (3, 1), (2, 0)] {
        let out = d.join(format!("k-{dies}-{resume_with}.npy"));
        let a = args(&out);
        // Rank 1 dies (SIGABRT) after reporting its first band.
        let (code, _, _) = mpirun(dies, &[("NTK_MPI_TEST_DIE", "1:1")], &strs(&a));
        assert_ne!(code, 0);
        assert!(!out.exists(), "no output from a run that died");
        let name = out.file_name().unwrap().to_str().unwrap();
        let progress = d.join(format!(".{name}.progress"));
        let log = std::fs::read_to_string(&progress).unwrap();
        assert!(log.starts_with("ntk-kernel-file v2\n"), "{log}");
        assert!(d.join(format!(".{name}.partial")).exists());
        let mut r = a.clone();
        r.push("--resume".into());
        let (code, text, err) = if resume_with == 0 {
            ntk(&strs(&r))
        } else {
            mpirun(resume_with, &[], &strs(&r))
        };
        assert_eq!(code, 0, "{err}");
        assert!(bytes(&out) == bytes(&alone), "resumed file differs");
        let logged = log.lines().filter(|l| l.starts_with("band ")).count();
        if logged > 0 {
            assert!(text.contains(&format!("{logged} resumed")), "{text}\n{log}");
        }
        assert!(!progress.exists());
    }
}

#[test]
fn the_cg_solve_under_ranks_is_the_bytes_of_one_process() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (xt, xs, y) = (d.join("xt.npy"), d.join("xs.npy"), d.join("y.npy"));
    points(&xt, 300, 4);
    points(&xs, 70, 4);
    common::matrix(&y, 300, 2, |i, j| ((i * 5 + j) % 7) as f64 - 3.0);
    let (ktt, kst) = (d.join("ktt.npy"), d.join("kst.npy"));
    for (out, x2) in [(&ktt, None), (&kst, Some(&xt))] {
        let mut a = vec!["kernel", "--x1", s(if x2.is_some() { &xs } else { &xt })];
        if let Some(x2) = x2 {
            a.extend(["--x2", s(x2)]);
        }
        a.extend(["--out", s(out), "--dtype", "f64", "--widths", "64"]);
        assert_eq!(ntk(&a).0, 0);
    }
    let solve = [
        "predict",
        "--solver",
        "cg",
        "--y-train",
        s(&y),
        "--times",
        "inf,0.5",
        "--diag-reg",
        "1e-3",
        "--rank",
        "10",
    ];
    let mut files = solve.to_vec();
    files.extend(["--k-train-train", s(&ktt), "--k-test-train", s(&kst)]);
    let text = same_bytes(d, "p.npy", &files);
    assert!(text.contains("pcg:"), "{text}");
    let mut free = solve.to_vec();
    free.extend([
        "--method",
        "analytic",
        "--x-train",
        s(&xt),
        "--x-test",
        s(&xs),
        "--widths",
        "64",
    ]);
    same_bytes(d, "q.npy", &free);
}

#[test]
fn a_study_under_ranks_writes_the_files_of_one_process() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let args = [
        "study",
        "--dataset",
        "iris",
        "--n-train",
        "60",
        "--n-test",
        "40",
        "--widths",
        "16,32,64",
        "--learning-rate",
        "1",
        "--seeds",
        "0,1",
        "--steps",
        "15",
        "--quiet",
    ];
    let run_in = |out: &Path, ranks: usize| {
        let mut a = args.to_vec();
        a.extend(["--out", s(out)]);
        let (code, text, err) = if ranks == 1 {
            ntk(&a)
        } else {
            mpirun(ranks, &[], &a)
        };
        assert_eq!(code, 0, "{err}");
        text
    };
    let alone = d.join("alone");
    let t1 = run_in(&alone, 1);
    for r in [2, 3] {
        let out = d.join(format!("np{r}"));
        let t = run_in(&out, r);
        for f in ["study.csv", "study.json", "study.svg"] {
            assert!(bytes(&alone.join(f)) == bytes(&out.join(f)), "np {r}: {f}");
        }
        // The table is the same (the time and the directory aside).
        let table = |t: &str| {
            t.lines()
                .take_while(|l| !l.contains(" runs in "))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(table(&t1), table(&t));
    }
}

#[test]
fn an_error_under_ranks_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("k.npy");
    let missing = dir.path().join("missing.npy");
    let (code, _, err) = mpirun(3, &[], &["kernel", "--x1", s(&missing), "--out", s(&out)]);
    assert_ne!(code, 0);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("missing.npy"), "{err}");
    // A budget too small for one band: refused by every rank, said once.
    let x = dir.path().join("x.npy");
    points(&x, 100, 3);
    let (code, _, err) = mpirun(
        2,
        &[],
        &[
            "kernel",
            "--x1",
            s(&x),
            "--out",
            s(&out),
            "--memory-budget",
            "1K",
        ],
    );
    assert_ne!(code, 0);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("memory budget"), "{err}");
    assert_eq!(listing(dir.path()), vec!["x.npy"]);
}
