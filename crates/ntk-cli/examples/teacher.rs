//! Data and scoring for the large-kernel demonstration (`benches/solver/run.sh`).
//!
//! `teacher data --n N --m M --d D --out DIR` writes a synthetic teacher task: inputs drawn
//! uniformly on the unit sphere in `D` dimensions (`x.npy`, `N × D`; `xs.npy`, `M × D`,
//! f32), labelled by the argmax of a random wide ReLU network's 10 outputs,
//! `f(x) = W₂·relu(W₁x)` with standard normal weights and `h = 2048` hidden units; the targets are one-hot minus 0.1 (`y.npy`, `N × 10`, f64), the test labels
//! `labels.npy`.
//!
//! `teacher accuracy PRED.npy LABELS.npy` prints the accuracy of the argmax of the last
//! time's predictions (`T × M × 10`); `teacher compare A.npy B.npy` prints the relative
//! Frobenius difference of two prediction files.

use std::path::{Path, PathBuf};

use faer::Mat;
use ntk_engine::NpyFile;
use ntk_engine::data::npy;

/// Hidden units of the teacher.
const HIDDEN: usize = 2048;
/// Classes.
const CLASSES: usize = 10;

/// A standard normal stream (xorshift64* and Box–Muller), fixed by its seed.
struct Normal(u64);

impl Normal {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let v = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        ((v >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn next(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

fn sphere(n: usize, d: usize, rng: &mut Normal) -> Vec<f32> {
    let mut out = Vec::with_capacity(n * d);
    for _ in 0..n {
        let v: Vec<f64> = (0..d).map(|_| rng.next()).collect();
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        out.extend(v.iter().map(|x| (x / norm) as f32));
    }
    out
}

fn labels(x: &[f32], d: usize, w1: &Mat<f64>, w2: &Mat<f64>) -> Vec<i64> {
    let n = x.len() / d;
    let xm = Mat::from_fn(n, d, |i, j| x[i * d + j] as f64);
    let h = (&xm * w1).as_ref().map(|z| z.max(0.0));
    let f = &h * w2;
    (0..n)
        .map(|i| (0..CLASSES).fold(0, |b, c| if f[(i, c)] > f[(i, b)] { c } else { b }) as i64)
        .collect()
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn data(args: &[String]) -> Result<(), String> {
    let get = |name: &str, default: usize| -> Result<usize, String> {
        arg(args, name).map_or(Ok(default), |v| {
            v.parse().map_err(|e| format!("{name}: {e}"))
        })
    };
    let (n, m, d) = (get("--n", 60_000)?, get("--m", 10_000)?, get("--d", 784)?);
    let out = PathBuf::from(arg(args, "--out").ok_or("--out DIR")?);
    let mut rng = Normal(0x5eed_1234_abcd_ef01);
    let w1 = Mat::from_fn(d, HIDDEN, |_, _| rng.next());
    let w2 = Mat::from_fn(HIDDEN, CLASSES, |_, _| rng.next());
    let x = sphere(n, d, &mut rng);
    let xs = sphere(m, d, &mut rng);
    let (ly, lt) = (labels(&x, d, &w1, &w2), labels(&xs, d, &w1, &w2));
    let e = |e: ntk_engine::Error| e.to_string();
    npy::write(out.join("x.npy"), &[n, d], x).map_err(e)?;
    npy::write(out.join("xs.npy"), &[m, d], xs).map_err(e)?;
    let y = ly
        .iter()
        .flat_map(|&l| (0..CLASSES).map(move |c| if c as i64 == l { 0.9 } else { -0.1 }));
    npy::write(out.join("y.npy"), &[n, CLASSES], y).map_err(e)?;
    npy::write(out.join("labels.npy"), &[m], lt.iter().map(|&l| l as f64)).map_err(e)?;
    let mut counts = [0usize; CLASSES];
    ly.iter().for_each(|&l| counts[l as usize] += 1);
    println!("teacher data: {n} train, {m} test, d = {d}; train class counts {counts:?}");
    Ok(())
}

fn load(p: &Path) -> Result<(Vec<usize>, Vec<f64>), String> {
    let f = NpyFile::open(p).map_err(|e| e.to_string())?;
    Ok((f.shape().to_vec(), f.to_f64_vec()))
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("data") => data(&args),
        Some("accuracy") if args.len() == 3 => {
            let (shape, pred) = load(Path::new(&args[1]))?;
            let (_, lab) = load(Path::new(&args[2]))?;
            let (m, k) = (shape[1], shape[2]);
            let last = &pred[(shape[0] - 1) * m * k..];
            let hits = last
                .chunks(k)
                .zip(&lab)
                .filter(|(r, l)| {
                    let a = (0..k).fold(0, |b, c| if r[c] > r[b] { c } else { b });
                    a as f64 == **l
                })
                .count();
            println!("test accuracy {:.4} ({hits}/{m})", hits as f64 / m as f64);
            Ok(())
        }
        Some("compare") if args.len() == 3 => {
            let (_, a) = load(Path::new(&args[1]))?;
            let (_, b) = load(Path::new(&args[2]))?;
            let d: f64 = a.iter().zip(&b).map(|(x, y)| (x - y).powi(2)).sum();
            let r: f64 = b.iter().map(|y| y * y).sum();
            println!("relative difference {:.3e}", (d / r).sqrt());
            Ok(())
        }
        _ => Err(
            "usage: teacher data --n N --m M --d D --out DIR | accuracy PRED LABELS | compare A B"
                .into(),
        ),
    }
}
