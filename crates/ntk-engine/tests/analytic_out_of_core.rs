//! The analytic kernel written in bands: the file holds exactly the in-memory kernel's bits,
//! for a symmetric kernel (computed as its triangle, the upper part read back from later
//! bands) as for two point sets, and an interrupted symmetric run resumes.

mod common;

use common::points;
use ntk_engine::analytic::{AnalyticOptions, analytic, analytic_rows};
use ntk_engine::data::NpyFile;
use ntk_engine::data::kernel_file::KernelFile;
use ntk_engine::data::npy::Dtype;
use ntk_engine::data::safe_file::Output;
use ntk_engine::gram::out_of_core::{BandedOutput, write_analytic};
use ntk_engine::gram::{Kernel, KernelKind};
use ntk_engine::{Activation, Mlp, Points};

/// The file's values against `whole`'s, bit for bit after the file's rounding.
fn same_bits(path: &std::path::Path, whole: &Kernel, dtype: Dtype) -> bool {
    let file = NpyFile::open(path).unwrap();
    match dtype {
        Dtype::F64 => file
            .as_f64()
            .unwrap()
            .iter()
            .zip(&whole.data)
            .all(|(a, b)| a.to_bits() == b.to_bits()),
        _ => file
            .as_f32()
            .unwrap()
            .iter()
            .zip(&whole.data)
            .all(|(a, b)| a.to_bits() == (*b as f32).to_bits()),
    }
}

#[test]
fn banded_analytic_kernels_equal_the_in_memory_kernel_bitwise() {
    let d = 6;
    let dir = tempfile::tempdir().unwrap();
    // (model, n, full, dtype, symmetric): closed forms (ReLU, erf with a bias, GELU) and
    // quadrature (tanh), traced and full, f32 and f64, ragged last band.
    let cases = [
        (
            Mlp::new(d, &[64, 64, 64], Activation::Relu),
            700,
            false,
            Dtype::F32,
            true,
        ),
        (
            Mlp::new(d, &[64, 64], Activation::Erf)
                .with_b_std(0.3)
                .with_outputs(3),
            330,
            true,
            Dtype::F64,
            true,
        ),
        (
            Mlp::new(d, &[64], Activation::Gelu),
            450,
            false,
            Dtype::F64,
            true,
        ),
        (
            Mlp::new(d, &[64], Activation::Tanh),
            200,
            false,
            Dtype::F64,
            true,
        ),
        (
            Mlp::new(d, &[64, 64], Activation::Relu),
            520,
            false,
            Dtype::F32,
            false,
        ),
    ];
    for (i, (model, n, full, dtype, symmetric)) in cases.into_iter().enumerate() {
        let x = points(n, d, 40 + i as u64);
        let p = Points::from_f64(&x, n, d).unwrap();
        let y = points(n / 2 + 3, d, 60 + i as u64);
        let q = Points::from_f64(&y, n / 2 + 3, d).unwrap();
        let x2 = (!symmetric).then_some(&q);
        let opts = AnalyticOptions {
            kind: KernelKind::Ntk,
            full,
            ..Default::default()
        };
        let kk = if full {
            model.outputs * model.outputs
        } else {
            1
        };
        let n2 = x2.map_or(n, |q| q.rows());
        // One tile of 64 rows per band.
        let budget = 64 * (n2 * kk * 16 + 256 * kk * 8) + 2 * n * (d + 4) * 8 + 4096;
        let path = dir.path().join(format!("k{i}.npy"));
        let out = Output::new("--out", &path).unwrap();
        let report = write_analytic(
            &model,
            &p,
            x2,
            &opts,
            &BandedOutput::new(&out, dtype, budget, "job", false),
        )
        .unwrap();
        assert!(report.bands >= 3, "case {i}: {report:?}");
        let whole = analytic(&model, &p, x2, &opts).unwrap();
        assert!(same_bits(&path, &whole, dtype), "case {i}: {report:?}");
    }
}

#[test]
fn an_interrupted_symmetric_run_resumes() {
    let (n, d) = (400, 5);
    let x = points(n, d, 77);
    let p = Points::from_f64(&x, n, d).unwrap();
    let model = Mlp::new(d, &[64, 64], Activation::Relu).with_b_std(0.1);
    let opts = AnalyticOptions::default();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.npy");
    let out = Output::new("--out", &path).unwrap();
    let budget = 64 * (n * 16 + 256 * 8) + 2 * n * (d + 4) * 8 + 4096;
    // A first run wrote the last band and one in the middle, as full rows, then was killed.
    let rows = 64;
    let mut f = KernelFile::create(&out, &[n, n], Dtype::F64, rows, "job", false).unwrap();
    for b in [2, 6] {
        let r = b * rows..((b + 1) * rows).min(n);
        let k = analytic_rows(&model, &p, None, r.clone(), &opts).unwrap();
        f.write_band(b, r.start, &k.data).unwrap();
    }
    f.suspend();
    let report = write_analytic(
        &model,
        &p,
        None,
        &opts,
        &BandedOutput::new(&out, Dtype::F64, budget, "job", true),
    )
    .unwrap();
    assert_eq!(
        (report.rows_per_band, report.bands, report.resumed),
        (rows, 7, 2)
    );
    let whole = analytic(&model, &p, None, &opts).unwrap();
    assert!(same_bits(&path, &whole, Dtype::F64));
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no partial files left"
    );
}

/// A symmetric kernel that fits in the budget is computed whole and written band by band
/// while it is computed: the same bits as the in-memory kernel for closed forms and
/// quadrature, traced and full, f32 and f64, a ragged last band; and an interrupted run
/// resumes, its finished bands not written again.
#[test]
fn whole_symmetric_kernels_written_while_computed_equal_the_in_memory_kernel_bitwise() {
    let d = 6;
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            Mlp::new(d, &[64, 64, 64], Activation::Relu),
            300,
            false,
            Dtype::F32,
        ),
        (
            Mlp::new(d, &[64, 64], Activation::Erf)
                .with_b_std(0.3)
                .with_outputs(3),
            130,
            true,
            Dtype::F64,
        ),
        (Mlp::new(d, &[64], Activation::Gelu), 257, false, Dtype::F64),
        (Mlp::new(d, &[64], Activation::Tanh), 100, false, Dtype::F64),
    ];
    for (i, (model, n, full, dtype)) in cases.into_iter().enumerate() {
        let x = points(n, d, 140 + i as u64);
        let p = Points::from_f64(&x, n, d).unwrap();
        let opts = AnalyticOptions {
            full,
            tile: 32,
            ..Default::default()
        };
        let path = dir.path().join(format!("w{i}.npy"));
        let out = Output::new("--out", &path).unwrap();
        let report = write_analytic(
            &model,
            &p,
            None,
            &opts,
            &BandedOutput::new(&out, dtype, 1 << 30, "job", false),
        )
        .unwrap();
        assert_eq!(
            (report.rows_per_band, report.bands),
            (32, n.div_ceil(32)),
            "case {i}"
        );
        let whole = analytic(&model, &p, None, &opts).unwrap();
        assert!(same_bits(&path, &whole, dtype), "case {i}: {report:?}");
    }

    let (n, model) = (
        400,
        Mlp::new(d, &[64, 64], Activation::Relu).with_b_std(0.1),
    );
    let x = points(n, d, 177);
    let p = Points::from_f64(&x, n, d).unwrap();
    let opts = AnalyticOptions {
        tile: 64,
        ..Default::default()
    };
    let path = dir.path().join("resumed.npy");
    let out = Output::new("--out", &path).unwrap();
    let mut f = KernelFile::create(&out, &[n, n], Dtype::F64, 64, "job", false).unwrap();
    for b in [0, 6] {
        let r = b * 64..((b + 1) * 64).min(n);
        let k = analytic_rows(&model, &p, None, r.clone(), &opts).unwrap();
        f.write_band(b, r.start, &k.data).unwrap();
    }
    f.suspend();
    let report = write_analytic(
        &model,
        &p,
        None,
        &opts,
        &BandedOutput::new(&out, Dtype::F64, 1 << 30, "job", true),
    )
    .unwrap();
    assert_eq!(
        (report.rows_per_band, report.bands, report.resumed),
        (64, 7, 2)
    );
    let whole = analytic(&model, &p, None, &opts).unwrap();
    assert!(same_bits(&path, &whole, Dtype::F64));
}

/// A kernel that overflows while it is written whole is an error naming an entry, and
/// leaves no file behind (neither the output nor a partial one).
#[test]
fn an_overflowing_whole_kernel_leaves_no_file() {
    let (n, d) = (150, 4);
    let mut x = points(n, d, 9);
    for v in &mut x[97 * d..98 * d] {
        *v = 1e200;
    }
    let p = Points::from_f64(&x, n, d).unwrap();
    let model = Mlp::new(d, &[64], Activation::Relu);
    let opts = AnalyticOptions {
        tile: 16,
        ..Default::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.npy");
    let out = Output::new("--out", &path).unwrap();
    let err = write_analytic(
        &model,
        &p,
        None,
        &opts,
        &BandedOutput::new(&out, Dtype::F64, 1 << 30, "job", false),
    )
    .unwrap_err();
    assert!(
        matches!(err, ntk_engine::Error::NonFiniteResult { .. }),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "{err}");
}
