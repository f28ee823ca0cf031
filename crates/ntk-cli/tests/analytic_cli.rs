//! `ntk kernel --method analytic` against neural-tangents' analytic kernels, through files.

use std::process::Command;

use ntk_engine::NpyFile;
use ntk_engine::data::npy;

fn flat(v: &serde_json::Value) -> Vec<f64> {
    fn walk(v: &serde_json::Value, out: &mut Vec<f64>) {
        match v {
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            n => out.push(n.as_f64().unwrap()),
        }
    }
    let mut out = Vec::new();
    walk(&v["data"], &mut out);
    out
}

#[test]
fn analytic_cli_matches_neural_tangents() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../ntk-engine/tests/golden/analytic_kernels.json"
    );
    let g: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for case in g["cases"].as_array().unwrap().iter().step_by(7) {
        let arch = &case["arch"];
        let act = match arch["activation"].as_str().unwrap() {
            "Relu" => "relu".to_string(),
            "Erf" => "erf".into(),
            "Abs" => "abs".into(),
            "Gelu" => "gelu".into(),
            "Identity" => "identity".into(),
            "Sigmoid_like" => "sigmoid_like".into(),
            "LeakyRelu" => format!(
                "leaky_relu:{}",
                arch["activation_params"]["alpha"].as_f64().unwrap_or(0.1)
            ),
            other => panic!("{other}"),
        };
        let widths: Vec<String> = arch["hidden_widths"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.to_string())
            .collect();
        let (x1, x2) = (flat(&case["x1"]), flat(&case["x2"]));
        let (p1, p2) = (dir.path().join("x1.npy"), dir.path().join("x2.npy"));
        npy::write(&p1, &[6, 5], x1.iter().copied()).unwrap();
        npy::write(&p2, &[4, 5], x2.iter().copied()).unwrap();
        for (kind, x2arg, field) in [
            ("ntk", None, "ntk_x1x1"),
            ("nngp", Some(&p2), "nngp_x1x2"),
            ("ntk", Some(&p2), "ntk_x1x2"),
        ] {
            let out = dir.path().join("k.npy");
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_ntk"));
            cmd.args([
                "kernel",
                "--method",
                "analytic",
                "--dtype",
                "f64",
                "--kind",
                kind,
                "--activation",
                &act,
            ])
            .args([
                "--widths",
                &widths.join(","),
                "--parameterization",
                arch["parameterization"].as_str().unwrap(),
            ])
            .args([
                "--w-std",
                &arch["W_std"].to_string(),
                "--b-std",
                &arch["b_std"].to_string(),
            ])
            .arg("--x1")
            .arg(&p1)
            .arg("--out")
            .arg(&out);
            if let Some(x2) = x2arg {
                cmd.arg("--x2").arg(x2);
            }
            let res = cmd.output().unwrap();
            assert!(
                res.status.success(),
                "{}: {}",
                case["id"],
                String::from_utf8_lossy(&res.stderr)
            );
            let got = NpyFile::open(&out).unwrap().as_f64().unwrap().to_vec();
            let want = flat(&case["out"][field]);
            let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            for (a, b) in got.iter().zip(&want) {
                assert!(
                    (a - b).abs() <= 1e-10 * b.abs().max(1e-3 * scale),
                    "{} {field}: {a} vs {b}",
                    case["id"]
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 60, "{checked}");
}
