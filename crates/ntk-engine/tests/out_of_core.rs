//! Kernels larger than the memory budget, written in bands through a memory map: the file
//! holds exactly the in-memory kernel's bits, and an interrupted run resumes.

mod common;

use common::points;
use ntk_engine::data::NpyFile;
use ntk_engine::data::kernel_file::KernelFile;
use ntk_engine::data::npy::Dtype;
use ntk_engine::data::safe_file::Output;
use ntk_engine::gram::out_of_core::{
    BandedOutput, empirical_memory, rows_per_band, write_empirical,
};

fn output(path: &std::path::Path) -> Output {
    Output::new("--out", path).unwrap()
}
use ntk_engine::gram::{
    EmpiricalOptions, KernelKind, Precision, Weights, empirical, empirical_rows,
};
use ntk_engine::{Activation, Mlp, Points};

#[test]
fn a_kernel_four_times_the_budget_is_written_exactly() {
    // 4000 points: the f64 kernel is 128 MB, the f32 one 64 MB; bands of 32-row tiles keep
    // the working memory near 20 MB.
    let (n, d) = (4000, 8);
    let x = points(n, d, 21);
    let p = Points::from_f64(&x, n, d).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            Mlp::new(d, &[300], Activation::Relu).with_b_std(0.1),
            Precision::F32,
            Dtype::F64,
        ),
        (
            Mlp::new(d, &[64, 32], Activation::Erf),
            Precision::F32,
            Dtype::F32,
        ),
    ];
    for (i, (model, precision, dtype)) in cases.into_iter().enumerate() {
        let opts = EmpiricalOptions {
            precision,
            kind: KernelKind::Ntk,
            tile: 32,
            chunk: 256,
            ..Default::default()
        };
        let (fixed, per_row) = empirical_memory(&model, n, n, true, &opts);
        let kernel_bytes = n * n * dtype.size();
        // The smallest budget that fits one band of one tile, a quarter of the kernel or less.
        let budget = fixed + 32 * per_row;
        let budget = budget.max(kernel_bytes / 6);
        assert!(
            kernel_bytes >= 4 * budget,
            "case {i}: kernel {kernel_bytes} B vs budget {budget} B"
        );
        let path = dir.path().join(format!("k{i}.npy"));
        let report = write_empirical(
            &model,
            Weights::Seeded(5),
            &p,
            None,
            &opts,
            &BandedOutput::new(&output(&path), dtype, budget, "job", false),
        )
        .unwrap();
        assert!(report.bands >= 4, "case {i}: {report:?}");
        assert!(report.estimated_bytes <= budget);
        let whole = empirical(&model, Weights::Seeded(5), &p, None, &opts).unwrap();
        let file = NpyFile::open(&path).unwrap();
        assert_eq!(file.shape(), &[n, n]);
        match dtype {
            Dtype::F64 => assert!(
                file.as_f64()
                    .unwrap()
                    .iter()
                    .zip(&whole.data)
                    .all(|(a, b)| a.to_bits() == b.to_bits())
            ),
            _ => assert!(
                file.as_f32()
                    .unwrap()
                    .iter()
                    .zip(&whole.data)
                    .all(|(a, b)| a.to_bits() == (*b as f32).to_bits())
            ),
        }
    }
}

#[test]
fn an_interrupted_run_resumes_from_its_finished_bands() {
    let (n, d) = (300, 5);
    let x = points(n, d, 22);
    let p = Points::from_f64(&x, n, d).unwrap();
    let model = Mlp::new(d, &[512], Activation::Tanh).with_outputs(2);
    let opts = EmpiricalOptions {
        full: true,
        tile: 32,
        ..Default::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.npy");
    let mem = empirical_memory(&model, n, n, true, &opts);
    let budget = mem.0 + 64 * mem.1;
    let rows = rows_per_band(n, opts.tile, mem, budget).unwrap();
    assert_eq!(rows, 64);
    let bands = n.div_ceil(rows);
    // A run killed after two bands: the partial file and its progress stay behind.
    let out = output(&path);
    let mut f = KernelFile::create(&out, &[n, n, 2, 2], Dtype::F32, rows, "job", false).unwrap();
    for b in [0, 3] {
        let r = b * rows..((b + 1) * rows).min(n);
        let k = empirical_rows(&model, Weights::Seeded(1), &p, None, r.clone(), &opts).unwrap();
        f.write_band(b, r.start, &k.data).unwrap();
    }
    f.suspend();
    assert!(!path.exists());
    // Another job may not take the partial file over.
    assert!(
        write_empirical(
            &model,
            Weights::Seeded(2),
            &p,
            None,
            &opts,
            &BandedOutput::new(&out, Dtype::F32, budget, "other", true),
        )
        .is_err()
    );
    let report = write_empirical(
        &model,
        Weights::Seeded(1),
        &p,
        None,
        &opts,
        &BandedOutput::new(&out, Dtype::F32, budget, "job", true),
    )
    .unwrap();
    assert_eq!((report.bands, report.resumed), (bands, 2));
    let whole = empirical(&model, Weights::Seeded(1), &p, None, &opts).unwrap();
    let got = NpyFile::open(&path).unwrap();
    assert!(
        got.as_f32()
            .unwrap()
            .iter()
            .zip(&whole.data)
            .all(|(a, b)| a.to_bits() == (*b as f32).to_bits())
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no partial files left"
    );
}

#[test]
fn a_budget_too_small_for_one_band_is_refused_with_the_need() {
    let (n, d) = (200, 4);
    let x = points(n, d, 23);
    let p = Points::from_f64(&x, n, d).unwrap();
    let model = Mlp::new(d, &[256, 256], Activation::Relu);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.npy");
    let opts = EmpiricalOptions::default();
    let e = write_empirical(
        &model,
        Weights::Seeded(1),
        &p,
        None,
        &opts,
        &BandedOutput::new(&output(&path), Dtype::F32, 1000, "j", false),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("memory budget") && e.contains("at least"), "{e}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
