//! `ntk predict` end to end: the golden gradient-flow values through `.npy` files, output
//! shapes `T × n × k`, and bad inputs answering exit code 2 with one line that names the
//! problem and no output file.

use std::path::{Path, PathBuf};
use std::process::Command;

use ntk_engine::NpyFile;
use ntk_engine::data::npy;
use serde_json::Value;

/// The task asks ≤ 1e-8 relative against neural-tangents' f64 values (an f64
/// implementation reaches ~1e-12; refs/README.md).
const TOL: f64 = 1e-8;

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

fn golden() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../ntk-engine/tests/golden/predict.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `{"shape", "data"}` → (shape, row-major values).
fn array(v: &Value) -> (Vec<usize>, Vec<f64>) {
    fn walk(v: &Value, out: &mut Vec<f64>) {
        match v {
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            other => out.push(other.as_f64().unwrap()),
        }
    }
    let shape = v["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    let mut data = Vec::new();
    walk(&v["data"], &mut data);
    (shape, data)
}

/// Writes a golden array as f64 `.npy`, optionally under another shape (same data).
fn write(path: &Path, v: &Value, shape: Option<&[usize]>) {
    let (s, d) = array(v);
    npy::write(path, shape.unwrap_or(&s), d).unwrap();
}

/// `|got − want| ≤ tol·max(|want|, 1e-3·max|want|)`, as the engine's golden tests.
fn assert_close(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let bound = TOL * w.abs().max(1e-3 * scale);
        assert!((g - w).abs() <= bound, "{what}[{i}]: got {g}, want {w}");
    }
}

fn read(path: &Path) -> (Vec<usize>, Vec<f64>) {
    let f = NpyFile::open(path).unwrap();
    (f.shape().to_vec(), f.as_f64().expect("f64 output").to_vec())
}

struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Self {
        Dir(tempfile::tempdir().unwrap())
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }
    /// Only the named files exist (no outputs, no temporaries).
    fn assert_only(&self, names: &[&str], ctx: &str) {
        let mut found: Vec<String> = std::fs::read_dir(self.0.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        found.sort();
        let mut want: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        want.sort();
        assert_eq!(found, want, "{ctx}");
    }
}

#[test]
fn golden_gradient_flow_through_npy_files() {
    let g = golden();
    for (c, case) in g["cases"].as_array().unwrap().iter().enumerate() {
        let dir = Dir::new();
        let k = case["y_train"]["shape"][1].as_u64().unwrap() as usize;
        let n = case["y_train"]["shape"][0].as_u64().unwrap() as usize;
        // k = 1: pass the targets and initial outputs as 1-D arrays.
        let one_d = [n];
        let vector = (k == 1).then_some(&one_d[..]);
        write(&dir.path("y.npy"), &case["y_train"], vector);
        write(&dir.path("f0.npy"), &case["fx_train_0"], vector);
        write(&dir.path("g0.npy"), &case["fx_test_0"], None);
        let times: Vec<String> = case["times"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| match t {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        let lr = case["learning_rate"].to_string();
        let reg = case["diag_reg"].to_string();
        for kind in ["ntk", "nngp"] {
            let kern = &case["kernels"];
            write(
                &dir.path("ktt.npy"),
                &kern[format!("{kind}_train_train")],
                None,
            );
            write(
                &dir.path("kst.npy"),
                &kern[format!("{kind}_test_train")],
                None,
            );
            for init in ["zero_init", "nonzero_init"] {
                let (out, out_train) = (dir.path("pred.npy"), dir.path("pred_train.npy"));
                let mut args = vec![
                    "predict",
                    "--k-train-train",
                    s(&dir.path("ktt.npy")),
                    "--k-test-train",
                    s(&dir.path("kst.npy")),
                    "--y-train",
                    s(&dir.path("y.npy")),
                    "--times",
                ]
                .into_iter()
                .map(String::from)
                .collect::<Vec<_>>();
                args.push(times.join(","));
                for (flag, v) in [
                    ("--learning-rate", &lr),
                    ("--diag-reg", &reg),
                    ("--out", &s(&out).to_string()),
                    ("--out-train", &s(&out_train).to_string()),
                ] {
                    args.extend([flag.to_string(), v.clone()]);
                }
                if init == "nonzero_init" {
                    args.extend(["--fx-train-0".into(), s(&dir.path("f0.npy")).into()]);
                    args.extend(["--fx-test-0".into(), s(&dir.path("g0.npy")).into()]);
                }
                let argv: Vec<&str> = args.iter().map(String::as_str).collect();
                let (code, stdout, stderr) = ntk(&argv);
                assert_eq!(code, 0, "{argv:?}: {stderr}");
                assert!(stdout.contains("test predictions"), "{stdout}");
                let want = &case["out"][format!("gd_mse/{kind}/{init}")];
                let what = format!("case {c} {kind} {init}");
                for (file, field) in [(&out, "fx_test_t"), (&out_train, "fx_train_t")] {
                    let (shape, got) = read(file);
                    let (wshape, wdata) = array(&want[field]);
                    assert_eq!(shape, wshape, "{what} {field}: T × n × k");
                    assert_eq!(shape.len(), 3);
                    assert_close(&got, &wdata, &format!("{what} {field}"));
                }
                std::fs::remove_file(&out).unwrap();
                std::fs::remove_file(&out_train).unwrap();
            }
        }
    }
}

#[test]
fn f32_inputs_and_infinity_spellings() {
    let dir = Dir::new();
    let n = 5;
    let ktt: Vec<f32> = (0..n * n)
        .map(|p| if p / n == p % n { 2.0 } else { 0.25 })
        .collect();
    npy::write(dir.path("ktt.npy"), &[n, n], ktt).unwrap();
    npy::write(dir.path("kst.npy"), &[3, n], vec![0.5f32; 3 * n]).unwrap();
    npy::write(dir.path("y.npy"), &[n, 2], (0..2 * n).map(|i| i as f32)).unwrap();
    let out = dir.path("p.npy");
    let (code, _, stderr) = ntk(&[
        "predict",
        "--k-train-train",
        s(&dir.path("ktt.npy")),
        "--k-test-train",
        s(&dir.path("kst.npy")),
        "--y-train",
        s(&dir.path("y.npy")),
        "--times",
        "1,Infinity,inf",
        "--out",
        s(&out),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let (shape, data) = read(&out);
    assert_eq!(shape, [3, 3, 2]);
    assert_eq!(data[6..12], data[12..18], "inf and Infinity agree");
}

#[test]
fn bad_inputs_exit_2_with_one_line_and_no_output() {
    let dir = Dir::new();
    let n = 4;
    let spd = |i: usize, j: usize| if i == j { 2.0 } else { 0.5 };
    let m = |path: &str, r: usize, c: usize, f: &dyn Fn(usize, usize) -> f64| {
        npy::write(dir.path(path), &[r, c], (0..r * c).map(|p| f(p / c, p % c))).unwrap();
    };
    m("ktt.npy", n, n, &spd);
    m("kst.npy", 3, n, &|i, j| 0.1 * (i + j) as f64);
    m("kst_bad.npy", 3, n + 1, &|_, _| 0.1);
    m("y.npy", n, 2, &|i, j| (i + j) as f64);
    m("y_nan.npy", n, 2, &|i, j| {
        if (i, j) == (2, 1) { f64::NAN } else { 1.0 }
    });
    m("f0_bad.npy", n, 3, &|_, _| 0.0);
    m("g0_bad.npy", 2, 2, &|_, _| 0.0);
    m("not_square.npy", n, n - 1, &|_, _| 1.0);
    // Not positive definite: [[1, 2], [2, 1]] ⊕ I, pivot −3 at index 1.
    m("not_pd.npy", n, n, &|i, j| {
        if i == j {
            1.0
        } else if i + j == 1 {
            2.0
        } else {
            0.0
        }
    });
    let inputs = [
        "ktt.npy",
        "kst.npy",
        "kst_bad.npy",
        "y.npy",
        "y_nan.npy",
        "f0_bad.npy",
        "g0_bad.npy",
        "not_square.npy",
        "not_pd.npy",
    ];
    let p = |name: &str| s(&dir.path(name)).to_string();
    // (flags replacing or adding to the defaults, what stderr must contain)
    type Case<'a> = (Vec<(&'a str, String)>, &'a [&'a str]);
    let cases: Vec<Case> = vec![
        (
            vec![("--k-test-train", p("kst_bad.npy"))],
            &["kst_bad.npy", "expected 4, got 5"],
        ),
        (
            vec![("--k-train-train", p("not_square.npy"))],
            &["not_square.npy", "square"],
        ),
        (
            vec![("--y-train", p("y_nan.npy"))],
            &["y_nan.npy", "non-finite", "row 2, column 1"],
        ),
        (
            vec![("--fx-train-0", p("f0_bad.npy"))],
            &["f0_bad.npy", "expected 2, got 3"],
        ),
        (
            vec![("--fx-test-0", p("g0_bad.npy"))],
            &["g0_bad.npy", "expected 3, got 2"],
        ),
        (
            vec![("--k-train-train", p("missing.npy"))],
            &["missing.npy"],
        ),
        (vec![("--times", "0,abc".into())], &["abc", "not a time"]),
        (vec![("--times", "1,-1".into())], &["-1", "not a time"]),
        (vec![("--times", "nan".into())], &["nan", "not a time"]),
        (vec![("--times", "1,,2".into())], &["not a time"]),
        (vec![("--learning-rate", "0".into())], &["learning_rate"]),
        (vec![("--diag-reg", "-1".into())], &["diag_reg"]),
        (
            vec![
                ("--k-train-train", p("not_pd.npy")),
                ("--times", "1,inf".into()),
            ],
            &["not_pd.npy", "not positive definite", "index 1"],
        ),
        (
            vec![("--out-train", p("no/dir/t.npy"))],
            &["does not exist"],
        ),
    ];
    for (extra, needles) in cases {
        let mut flags = vec![
            ("--k-train-train", p("ktt.npy")),
            ("--k-test-train", p("kst.npy")),
            ("--y-train", p("y.npy")),
            ("--times", "0,1,inf".into()),
            ("--out", p("pred.npy")),
            ("--out-train", p("pred_train.npy")),
        ];
        for (flag, value) in extra {
            match flags.iter_mut().find(|(f, _)| *f == flag) {
                Some(slot) => slot.1 = value,
                None => flags.push((flag, value)),
            }
        }
        let mut args = vec!["predict".to_string()];
        for (flag, value) in flags {
            args.extend([flag.to_string(), value]);
        }
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, _, stderr) = ntk(&argv);
        assert_eq!(code, 2, "{argv:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{argv:?}: {stderr}");
        for needle in needles {
            assert!(
                stderr.contains(needle),
                "{argv:?}: {stderr:?} lacks {needle:?}"
            );
        }
        dir.assert_only(&inputs, &format!("{argv:?} left an output"));
    }
}
