//! Shared test helpers: the golden files, array parsing and the tolerance policy.
#![allow(dead_code)]

use faer::Mat;
use ntk_engine::params::{Dense, Params};
use ntk_engine::{Activation, Mlp, Parameterization};
use serde_json::Value;

/// Tolerances, written down once (STYLE §9).
pub mod tol {
    /// f64 kernels against neural-tangents' f64 values: its README measures ≤ 1.1e-12 for an
    /// independent implementation; the issue asks ≤ 1e-9.
    pub const F64_GOLDEN: f64 = 1e-9;
    /// f32 products (f64 accumulation) against f64 references: f32 has a 6e-8 unit
    /// roundoff; inner products of a few hundred terms and the activations' own roundoff
    /// stay below 1e-5; the issue asks ≤ 1e-4.
    pub const F32_GOLDEN: f64 = 1e-4;
    /// The f64 fast path against the f64 Jacobian reference: the same sums in another
    /// order, so agreement to ~1e-13 is expected; 1e-10 leaves room for deep nets.
    pub const F64_VS_REFERENCE: f64 = 1e-10;
    /// Analytic kernels against neural-tangents: the same closed forms in f64, reproduced by
    /// an independent implementation to ≤ 1.1e-12 (refs/README.md); the issue asks ≤ 1e-10.
    pub const F64_ANALYTIC: f64 = 1e-10;
}

/// A golden file, parsed.
pub fn golden(name: &str) -> Value {
    let path = format!("{}/tests/golden/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `{"shape": [...], "data": nested}` → (shape, row-major values).
pub fn array(v: &Value) -> (Vec<usize>, Vec<f64>) {
    let shape = v["shape"]
        .as_array()
        .expect("shape")
        .iter()
        .map(|s| s.as_u64().expect("dim") as usize)
        .collect();
    let mut out = Vec::new();
    fn walk(v: &Value, out: &mut Vec<f64>) {
        match v {
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            Value::Number(n) => out.push(n.as_f64().expect("number")),
            other => panic!("unexpected {other}"),
        }
    }
    walk(&v["data"], &mut out);
    (shape, out)
}

/// `|got − want| ≤ tol·max(|want|, 1e-3·max|want|)` entry by entry (refs/README.md).
pub fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let bound = tol * w.abs().max(1e-3 * scale);
        assert!(
            (g - w).abs() <= bound,
            "{what}[{i}]: got {g}, want {w} (bound {bound:e})"
        );
    }
}

/// Relative Frobenius error `‖a − b‖/‖b‖`.
pub fn rel_frob(a: &[f64], b: &[f64]) -> f64 {
    let num: f64 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
    let den: f64 = b.iter().map(|y| y * y).sum();
    (num / den).sqrt()
}

/// The activation named by a golden case.
pub fn activation(name: &str) -> Activation {
    match name {
        "Relu" => Activation::Relu,
        "Erf" => Activation::Erf,
        "Gelu" => Activation::Gelu,
        "Tanh" => Activation::Tanh,
        "Abs" => Activation::Abs,
        "Identity" => Activation::Identity,
        "Sigmoid_like" => Activation::SigmoidLike,
        "LeakyRelu" => Activation::LeakyRelu(0.1),
        other => panic!("unknown activation {other}"),
    }
}

/// The model of a golden case.
pub fn model(case: &Value, d: usize) -> Mlp {
    let arch = &case["arch"];
    let widths: Vec<usize> = arch["hidden_widths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_u64().unwrap() as usize)
        .collect();
    let mut act = activation(arch["activation"].as_str().unwrap());
    if let Activation::LeakyRelu(_) = act {
        act = Activation::LeakyRelu(arch["activation_params"]["alpha"].as_f64().unwrap_or(0.1));
    }
    Mlp::new(d, &widths, act)
        .with_w_std(arch["W_std"].as_f64().unwrap())
        .with_b_std(arch["b_std"].as_f64().unwrap())
        .with_parameterization(
            arch["parameterization"]
                .as_str()
                .unwrap()
                .parse::<Parameterization>()
                .unwrap(),
        )
        .with_outputs(arch["readout_width"].as_u64().unwrap_or(1) as usize)
}

/// The explicit weights of a golden case.
pub fn params(case: &Value) -> Params {
    let layers = case["params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let (ws, w) = array(&p["W"]);
            let (_, b) = array(&p["b"]);
            Dense {
                w: Mat::from_fn(ws[0], ws[1], |i, j| w[i * ws[1] + j]),
                b,
            }
        })
        .collect();
    Params { layers }
}

/// A deterministic pseudo-random matrix (row-major) for tests.
pub fn points(n: usize, d: usize, seed: u64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n * d)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        })
        .collect()
}
