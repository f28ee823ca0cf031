//! Throughput of the empirical kernel over width and depth: read from criterion's saved
//! results (`cargo bench -p ntk-benches --bench empirical` writes
//! `target/criterion/<group>/<shape>/new/{estimates,benchmark}.json`), or timed here on small
//! shapes when there are none. Operation counts are the engine's
//! ([`ntk_engine::gram::empirical_flops`]).

use std::path::{Path, PathBuf};
use std::time::Instant;

use ntk_engine::gram::KernelKind;
use ntk_engine::gram::empirical_flops;
use ntk_engine::{Activation, Error, Result};

use crate::data::Data;
use crate::display::plot::{Legend, Plot, Series, Style};
use crate::display::{Table, figure_with_table, num};
use crate::kernel::empirical_kernel;
use crate::model::Model;

/// One measured shape.
#[derive(Clone, Debug, PartialEq)]
pub struct Measurement {
    /// The shape's name, e.g. `d2_m1024`.
    pub name: String,
    /// Hidden layers (0 when the name does not say).
    pub depth: usize,
    /// Hidden width (0 when the name does not say).
    pub width: usize,
    /// Seconds per kernel (criterion's mean, or the best of the repetitions).
    pub seconds: f64,
    /// The slowest repetition's seconds (criterion's mean again: its spread is in its
    /// own report), so a table shows how much a timing varies from run to run.
    pub slowest: f64,
    /// Floating-point operations per kernel.
    pub flops: f64,
}

impl Measurement {
    /// Billions of floating-point operations per second.
    pub fn gflops(&self) -> f64 {
        self.flops / self.seconds / 1e9
    }
}

/// Measurements, and where they came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Throughput {
    /// Where the numbers come from.
    pub source: String,
    /// The shapes measured.
    pub rows: Vec<Measurement>,
}

/// `d<depth>_m<width>` → `(depth, width)`.
fn parse_shape(name: &str) -> (usize, usize) {
    let mut it = name.split('_');
    let depth = it.next().and_then(|s| s.strip_prefix('d')?.parse().ok());
    let width = it.next().and_then(|s| s.strip_prefix('m')?.parse().ok());
    (depth.unwrap_or(0), width.unwrap_or(0))
}

/// Where criterion keeps its results: `$CARGO_TARGET_DIR/criterion`, else the workspace's
/// `target/criterion`.
pub fn criterion_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(t) => PathBuf::from(t).join("criterion"),
        None => {
            let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
            let root = crate_dir
                .parent()
                .and_then(Path::parent)
                .unwrap_or(crate_dir);
            root.join("target/criterion")
        }
    }
}

fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.into(),
        source,
    })?;
    serde_json::from_str(&text)
        .map_err(|e| Error::invalid("criterion file", path.display(), e.to_string()))
}

/// The saved results of one criterion group (e.g. `empirical_ntk_f32`) under `dir`
/// ([`criterion_dir`] in a notebook): every `<shape>/new/estimates.json` with its
/// throughput from `benchmark.json`. An error when the group has no results.
pub fn criterion_results(dir: &Path, group: &str) -> Result<Throughput> {
    let gdir = dir.join(group);
    let entries = std::fs::read_dir(&gdir).map_err(|source| Error::Io {
        path: gdir.clone(),
        source,
    })?;
    let mut rows = Vec::new();
    for e in entries.flatten() {
        let new = e.path().join("new");
        let (Ok(est), Ok(bench)) = (
            read_json(&new.join("estimates.json")),
            read_json(&new.join("benchmark.json")),
        ) else {
            continue;
        };
        let ns = est["mean"]["point_estimate"].as_f64();
        let elems = bench["throughput"]["Elements"].as_f64();
        let name = e.file_name().to_string_lossy().into_owned();
        if let (Some(ns), Some(flops)) = (ns, elems) {
            let (depth, width) = parse_shape(&name);
            rows.push(Measurement {
                name,
                depth,
                width,
                seconds: ns * 1e-9,
                slowest: ns * 1e-9,
                flops,
            });
        }
    }
    if rows.is_empty() {
        return Err(Error::invalid(
            "criterion group",
            gdir.display(),
            "saved results (run `cargo bench -p ntk-benches --bench empirical`)",
        ));
    }
    rows.sort_by_key(|m| (m.depth, m.width));
    Ok(Throughput {
        source: format!("criterion's saved results, group {group}"),
        rows,
    })
}

/// Times the empirical NTK (f32 products) of ReLU networks on the rows of `x` for every
/// depth and width: the best of `reps` runs each. Keep the shapes small in a notebook.
pub fn time_empirical(
    x: &Data,
    depths: &[usize],
    widths: &[usize],
    reps: usize,
) -> Result<Throughput> {
    let mut rows = Vec::new();
    for &depth in depths {
        for &width in widths {
            let model = Model::uniform(x.cols(), depth, width, Activation::Relu);
            let (mut best, mut slowest) = (f64::INFINITY, 0.0f64);
            for _ in 0..reps.max(1) {
                let t = Instant::now();
                std::hint::black_box(empirical_kernel(&model, KernelKind::Ntk, x, None, 0)?);
                let s = t.elapsed().as_secs_f64();
                best = best.min(s);
                slowest = slowest.max(s);
            }
            let flops =
                empirical_flops(&model.mlp, x.rows(), x.rows(), true, KernelKind::Ntk, false);
            rows.push(Measurement {
                name: format!("d{depth}_m{width}"),
                depth,
                width,
                seconds: best,
                slowest,
                flops,
            });
        }
    }
    Ok(Throughput {
        source: format!("timed here, {} points of dimension {}", x.rows(), x.cols()),
        rows,
    })
}

impl Throughput {
    /// One row per shape.
    pub fn table(&self) -> Table {
        let mut t = Table::new(
            &format!("empirical NTK throughput ({})", self.source),
            &[
                "shape",
                "depth",
                "width",
                "ms (best)",
                "ms (slowest)",
                "GFLOP/s (best)",
            ],
        );
        for m in &self.rows {
            t.push(vec![
                m.name.clone(),
                m.depth.to_string(),
                m.width.to_string(),
                num(m.seconds * 1e3),
                num(m.slowest * 1e3),
                num(m.gflops()),
            ]);
        }
        t
    }

    /// GFLOP/s against width, one line per depth, log-log.
    pub fn plot(&self) -> Plot {
        let mut depths: Vec<usize> = self.rows.iter().map(|m| m.depth).collect();
        depths.dedup();
        let mut p = Plot::new("empirical NTK throughput", "width m", "GFLOP/s")
            .log_log()
            .legend_at(Legend::LowerRight);
        for d in depths {
            let pts = self
                .rows
                .iter()
                .filter(|m| m.depth == d)
                .map(|m| (m.width as f64, m.gflops()))
                .collect();
            p = p.with(Series::new(&format!("depth {d}"), pts, Style::LinePoints));
        }
        p
    }
}

table_display!(Throughput, |s| figure_with_table(
    &s.plot().to_svg(),
    &s.table()
));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_criterion_layout_and_times_small_shapes() {
        let dir = std::env::temp_dir().join(format!("ntk-nb-crit-{}", std::process::id()));
        let new = dir.join("empirical_ntk_f32/d2_m1024/new");
        std::fs::create_dir_all(&new).unwrap();
        std::fs::write(
            new.join("estimates.json"),
            r#"{"mean":{"point_estimate":2.0e6}}"#,
        )
        .unwrap();
        std::fs::write(
            new.join("benchmark.json"),
            r#"{"throughput":{"Elements":4.0e9}}"#,
        )
        .unwrap();
        let t = criterion_results(&dir, "empirical_ntk_f32").unwrap();
        assert_eq!((t.rows[0].depth, t.rows[0].width), (2, 1024));
        assert!((t.rows[0].gflops() - 2000.0).abs() < 1e-9);
        assert!(criterion_results(&dir, "missing").is_err());
        std::fs::remove_dir_all(&dir).unwrap();

        let x = Data::bundled("iris").unwrap().head(16);
        let t = time_empirical(&x, &[1, 2], &[32, 64], 1).unwrap();
        assert_eq!(t.rows.len(), 4);
        assert!(t.rows.iter().all(|m| m.seconds > 0.0 && m.flops > 0.0));
        let svg = t.plot().to_svg();
        assert!(svg.contains("depth 1") && svg.contains("depth 2"));
    }
}
