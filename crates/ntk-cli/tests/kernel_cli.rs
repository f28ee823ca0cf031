//! `ntk kernel` end to end: outputs, explicit weights, and every bad input answering exit
//! code 2 with one line that names the problem and no output file.

use std::path::{Path, PathBuf};
use std::process::Command;

use ntk_engine::data::npy;
use ntk_engine::{NpyFile, Params};

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

fn write_matrix(path: &Path, rows: usize, cols: usize, f: impl Fn(usize, usize) -> f64) {
    npy::write(
        path,
        &[rows, cols],
        (0..rows * cols).map(|p| f(p / cols, p % cols)),
    )
    .unwrap();
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let f = Fixture {
            dir: tempfile::tempdir().unwrap(),
        };
        write_matrix(&f.path("x.npy"), 9, 5, |i, j| {
            ((i * 7 + j * 3) % 11) as f64 / 5.0 - 1.0
        });
        write_matrix(&f.path("y.npy"), 4, 5, |i, j| {
            ((i * 5 + j) % 7) as f64 / 3.0 - 1.0
        });
        f
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

#[test]
fn writes_traced_and_full_kernels() {
    let f = Fixture::new();
    let out = f.path("k.npy");
    let (code, stdout, stderr) = ntk(&[
        "kernel",
        "--method",
        "empirical",
        "--x1",
        s(&f.path("x.npy")),
        "--out",
        s(&out),
        "--widths",
        "32,16",
        "--activation",
        "erf",
        "--outputs",
        "3",
        "--dtype",
        "f64",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("shape [9, 9]") && stdout.contains("diagonal mean"),
        "{stdout}"
    );
    let k = NpyFile::open(&out).unwrap();
    assert_eq!(k.shape(), &[9, 9]);
    let traced = k.as_f64().unwrap().to_vec();

    let full = f.path("full.npy");
    let (code, _, stderr) = ntk(&[
        "kernel",
        "--method",
        "empirical",
        "--x1",
        s(&f.path("x.npy")),
        "--x2",
        s(&f.path("y.npy")),
        "--out",
        s(&full),
        "--widths",
        "32,16",
        "--activation",
        "erf",
        "--outputs",
        "3",
        "--full",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let kf = NpyFile::open(&full).unwrap();
    assert_eq!(kf.shape(), &[9, 4, 3, 3]);
    assert!(kf.as_f32().is_some());
    // The symmetric traced kernel is symmetric.
    for i in 0..9 {
        for j in 0..9 {
            assert_eq!(traced[i * 9 + j], traced[j * 9 + i]);
        }
    }
}

/// `--weights` with neural-tangents' golden weights reproduces its NTK; a directory that
/// disagrees with `--widths` is refused.
#[test]
fn explicit_weights_reproduce_neural_tangents() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../ntk-engine/tests/golden/empirical_ntk.json"
    );
    let g: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let case = &g["cases"][3]; // empirical/7x6/Relu/ntk/out3
    assert_eq!(case["id"], "empirical/7x6/Relu/ntk/out3");
    let flat = |v: &serde_json::Value| -> Vec<f64> {
        let mut out = Vec::new();
        fn walk(v: &serde_json::Value, out: &mut Vec<f64>) {
            match v {
                serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
                n => out.push(n.as_f64().unwrap()),
            }
        }
        walk(&v["data"], &mut out);
        out
    };
    let f = Fixture::new();
    let x1 = flat(&case["x1"]);
    write_matrix(&f.path("x1.npy"), 6, 5, |i, j| x1[i * 5 + j]);
    let wdir = f.path("weights");
    std::fs::create_dir(&wdir).unwrap();
    let layers = case["params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let w = flat(&p["W"]);
            let (r, c) = (
                p["fan_in"].as_u64().unwrap() as usize,
                p["fan_out"].as_u64().unwrap() as usize,
            );
            ntk_engine::params::Dense {
                w: faer::Mat::from_fn(r, c, |i, j| w[i * c + j]),
                b: flat(&p["b"]),
            }
        })
        .collect();
    Params { layers }.save_dir(&wdir).unwrap();
    let out = f.path("k.npy");
    let x1p = f.path("x1.npy");
    let base = [
        "kernel",
        "--method",
        "empirical",
        "--x1",
        s(&x1p),
        "--out",
        s(&out),
        "--weights",
        s(&wdir),
        "--activation",
        "relu",
        "--w-std",
        "1.5",
        "--b-std",
        "0.05",
        "--outputs",
        "3",
        "--full",
        "--dtype",
        "f64",
    ];
    let mut args = base.to_vec();
    args.extend(["--widths", "7,6"]);
    let (code, _, stderr) = ntk(&args);
    assert_eq!(code, 0, "{stderr}");
    let got = NpyFile::open(&out).unwrap().as_f64().unwrap().to_vec();
    let want = flat(&case["out"]["ntk_x1x1"]);
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() <= 1e-9 * w.abs().max(1e-3), "{g} vs {w}");
    }
    std::fs::remove_file(&out).unwrap();
    let mut args = base.to_vec();
    args.extend(["--widths", "7,5"]);
    let (code, _, stderr) = ntk(&args);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("W1.npy") && stderr.contains("disagrees"),
        "{stderr}"
    );
    assert!(!out.exists());
}

#[test]
fn bad_inputs_exit_2_with_one_line_and_no_output() {
    let f = Fixture::new();
    write_matrix(&f.path("x3.npy"), 4, 3, |i, j| (i + j) as f64);
    write_matrix(&f.path("nan.npy"), 3, 5, |i, j| {
        if (i, j) == (1, 2) { f64::NAN } else { 1.0 }
    });
    npy::write(f.path("v.npy"), &[5], [1.0f64, 2.0, 3.0, 4.0, 5.0]).unwrap();
    std::fs::write(f.path("garbage.npy"), b"not numpy at all").unwrap();
    std::fs::write(f.path("empty.npy"), b"").unwrap();
    let header = npy::header_bytes(npy::Dtype::F64, &[3, 5]);
    std::fs::write(f.path("cut-header.npy"), &header[..40]).unwrap();
    let mut short = header.clone();
    short.extend_from_slice(&[0u8; 8 * 14]);
    std::fs::write(f.path("short.npy"), &short).unwrap();
    let with = |from: &[u8], to: &[u8], extra: usize| {
        let mut h = header.clone();
        let at = h.windows(from.len()).position(|w| w == from).unwrap();
        h[at..at + to.len()].copy_from_slice(to);
        h.extend(std::iter::repeat_n(0u8, extra));
        h
    };
    std::fs::write(f.path("u1.npy"), with(b"'<f8'", b"'|u1'", 15)).unwrap();
    std::fs::write(f.path("fortran.npy"), with(b"False", b"True ", 120)).unwrap();
    npy::write(f.path("cube.npy"), &[2, 3, 5], (0..30).map(|v| v as f64)).unwrap();
    npy::write(f.path("norows.npy"), &[0, 5], std::iter::empty::<f64>()).unwrap();
    let out = f.path("k.npy");
    let x = f.path("x.npy");
    let cases: Vec<(Vec<String>, &[&str])> = vec![
        (
            vec!["--x2".into(), s(&f.path("x3.npy")).into()],
            &["feature dimension", "x3.npy", "expected 5, got 3"],
        ),
        (
            vec!["--x1".into(), s(&f.path("v.npy")).into()],
            &["v.npy", "1-D", "2-D"],
        ),
        (
            vec!["--x1".into(), s(&f.path("nan.npy")).into()],
            &["nan.npy", "non-finite", "row 1, column 2"],
        ),
        (
            vec!["--activation".into(), "swish".into()],
            &["swish", "relu"],
        ),
        (vec!["--widths".into(), "16,0".into()], &["width 0"]),
        (
            vec!["--x1".into(), s(&f.path("missing.npy")).into()],
            &["missing.npy"],
        ),
        (
            vec!["--x1".into(), s(&f.path("garbage.npy")).into()],
            &["garbage.npy", "magic"],
        ),
        (
            vec!["--weights".into(), s(&f.path("nodir")).into()],
            &["nodir", "weights directory"],
        ),
        (
            vec!["--kind".into(), "gram".into()],
            &["gram", "ntk or nngp"],
        ),
        (
            vec!["--out".into(), s(&f.path("no/dir/k.npy")).into()],
            &["does not exist"],
        ),
    ];
    for (extra, needles) in cases {
        let mut args: Vec<String> = ["kernel", "--method", "empirical", "--widths", "16"]
            .map(String::from)
            .to_vec();
        if !extra.contains(&"--x1".to_string()) {
            args.extend(["--x1".into(), s(&x).into()]);
        }
        if !extra.contains(&"--out".to_string()) {
            args.extend(["--out".into(), s(&out).into()]);
        }
        args.extend(extra.iter().cloned());
        let (code, _, stderr) = ntk(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        for n in needles {
            assert!(stderr.contains(n), "{args:?}: {stderr:?} lacks {n:?}");
        }
        assert!(!out.exists(), "{args:?} left an output");
        let leftovers: Vec<_> = std::fs::read_dir(f.dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }
}
