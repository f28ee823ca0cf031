//! Bit-identical results for 1 vs 2 threads and for two chunk sizes (the tiles and the
//! neuron blocks of every reduction are fixed by the problem, never by the schedule).

mod common;

use common::points;
use ntk_engine::gram::{EmpiricalOptions, KernelKind, Precision, Schedule, Weights, empirical};
use ntk_engine::{Activation, Mlp, Parallelism, Points};

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn threads_and_chunks_do_not_change_a_bit() {
    let (n1, n2, d) = (70, 33, 12);
    let (x1, x2) = (points(n1, d, 5), points(n2, d, 6));
    let (p1, p2) = (
        Points::from_f64(&x1, n1, d).unwrap(),
        Points::from_f64(&x2, n2, d).unwrap(),
    );
    let cases = [
        (
            Mlp::new(d, &[1300], Activation::Relu)
                .with_outputs(2)
                .with_b_std(0.2),
            Schedule::Streamed,
        ),
        (Mlp::new(d, &[300, 200], Activation::Erf), Schedule::Stored),
        // Three ReLU layers, widths off every panel size of the f32 kernel (8, 16, 32 rows).
        (
            Mlp::new(d, &[70, 45, 37], Activation::Relu)
                .with_outputs(3)
                .with_w_std(1.4)
                .with_b_std(0.1),
            Schedule::Stored,
        ),
    ];
    for (model, schedule) in cases {
        for precision in [Precision::F32, Precision::F64] {
            for kind in [KernelKind::Ntk, KernelKind::Nngp] {
                for x2 in [None, Some(&p2)] {
                    let run = |threads, chunk| {
                        let opts = EmpiricalOptions {
                            kind,
                            full: true,
                            precision,
                            schedule,
                            parallelism: Parallelism::threads(threads),
                            tile: 16,
                            chunk,
                        };
                        bits(
                            &empirical(&model, Weights::Seeded(42), &p1, x2, &opts)
                                .unwrap()
                                .data,
                        )
                    };
                    let base = run(1, 256);
                    assert_eq!(base, run(2, 256), "{model} threads");
                    assert_eq!(base, run(2, 768), "{model} chunk");
                    assert_eq!(base, run(3, 4096), "{model} chunk and threads");
                }
            }
        }
    }
}

/// In `f32` every entry is one fixed chain of fused multiply-adds per neuron block
/// (`simd::gemm`), so even the tile size, which may change `f64` bits, leaves them unchanged.
#[test]
fn f32_kernels_do_not_depend_on_the_tile() {
    let (n1, n2, d) = (61, 29, 10);
    let (x1, x2) = (points(n1, d, 25), points(n2, d, 26));
    let (p1, p2) = (
        Points::from_f64(&x1, n1, d).unwrap(),
        Points::from_f64(&x2, n2, d).unwrap(),
    );
    let cases = [
        (
            Mlp::new(d, &[600], Activation::Relu)
                .with_outputs(2)
                .with_b_std(0.1),
            Schedule::Streamed,
        ),
        (
            Mlp::new(d, &[90, 300, 33], Activation::Relu).with_outputs(2),
            Schedule::Stored,
        ),
    ];
    for (model, schedule) in cases {
        for kind in [KernelKind::Ntk, KernelKind::Nngp] {
            for x2 in [None, Some(&p2)] {
                let run = |tile| {
                    let opts = EmpiricalOptions {
                        kind,
                        full: true,
                        precision: Precision::F32,
                        schedule,
                        tile,
                        ..Default::default()
                    };
                    bits(
                        &empirical(&model, Weights::Seeded(4), &p1, x2, &opts)
                            .unwrap()
                            .data,
                    )
                };
                let base = run(128);
                for tile in [7, 16, 40] {
                    assert_eq!(base, run(tile), "{model} {kind:?} tile {tile}");
                }
            }
        }
    }
}

/// The default tile runs as `F32_TILE` in `f32` where it can (scheduling only): the
/// default options give the bits of an explicit small tile, for the whole kernel and for
/// bands that start on and off the larger tile, traced and one-output, both schedules.
#[test]
fn f32_default_tile_runs_larger_with_the_same_bits() {
    use ntk_engine::gram::{DEFAULT_TILE, F32_TILE, empirical_rows};
    let (n1, n2, d) = (F32_TILE + 150, 41, 12);
    let (x1, x2) = (points(n1, d, 27), points(n2, d, 28));
    let (p1, p2) = (
        Points::from_f64(&x1, n1, d).unwrap(),
        Points::from_f64(&x2, n2, d).unwrap(),
    );
    let cases = [
        (
            Mlp::new(d, &[300], Activation::Relu).with_b_std(0.1),
            Schedule::Streamed,
        ),
        (
            Mlp::new(d, &[64, 96], Activation::Relu).with_outputs(3),
            Schedule::Stored,
        ),
    ];
    for (model, schedule) in cases {
        for x2 in [None, Some(&p2)] {
            let opts = |tile| EmpiricalOptions {
                precision: Precision::F32,
                schedule,
                tile,
                ..Default::default()
            };
            assert_eq!(opts(DEFAULT_TILE).tile, EmpiricalOptions::default().tile);
            let whole = |tile| {
                bits(
                    &empirical(&model, Weights::Seeded(5), &p1, x2, &opts(tile))
                        .unwrap()
                        .data,
                )
            };
            assert_eq!(whole(DEFAULT_TILE), whole(32), "{model}");
            for rows in [0..F32_TILE, F32_TILE..n1, DEFAULT_TILE..n1] {
                let band = |tile| {
                    bits(
                        &empirical_rows(
                            &model,
                            Weights::Seeded(5),
                            &p1,
                            x2,
                            rows.clone(),
                            &opts(tile),
                        )
                        .unwrap()
                        .data,
                    )
                };
                assert_eq!(band(DEFAULT_TILE), band(32), "{model} rows {rows:?}");
            }
        }
    }
}

/// The streamed schedule regenerates exactly the weights the stored one holds, so the two
/// agree to roundoff (f64: 1e-12 relative Frobenius; they sum in different block shapes).
#[test]
fn streamed_and_stored_schedules_agree() {
    let (n, d) = (40, 7);
    let x = points(n, d, 8);
    let p = Points::from_f64(&x, n, d).unwrap();
    let model = Mlp::new(d, &[1000], Activation::Gelu)
        .with_outputs(3)
        .with_b_std(0.1);
    let run = |schedule| {
        let opts = EmpiricalOptions {
            full: true,
            precision: Precision::F64,
            schedule,
            ..Default::default()
        };
        empirical(&model, Weights::Seeded(3), &p, None, &opts)
            .unwrap()
            .data
    };
    let err = common::rel_frob(&run(Schedule::Streamed), &run(Schedule::Stored));
    assert!(err < 1e-12, "{err:e}");
}

/// Row bands (the out-of-core writer's unit) reproduce the in-memory kernel bit for bit.
#[test]
fn row_bands_reproduce_the_whole_kernel() {
    use ntk_engine::gram::empirical_rows;
    let (n1, n2, d) = (50, 21, 6);
    let (x1, x2) = (points(n1, d, 15), points(n2, d, 16));
    let (p1, p2) = (
        Points::from_f64(&x1, n1, d).unwrap(),
        Points::from_f64(&x2, n2, d).unwrap(),
    );
    let models = [
        (
            Mlp::new(d, &[600], Activation::Tanh)
                .with_outputs(2)
                .with_b_std(0.1),
            Schedule::Streamed,
        ),
        (
            Mlp::new(d, &[40, 30], Activation::Relu).with_outputs(2),
            Schedule::Stored,
        ),
    ];
    for (model, schedule) in models {
        for kind in [KernelKind::Ntk, KernelKind::Nngp] {
            for x2 in [None, Some(&p2)] {
                let opts = EmpiricalOptions {
                    kind,
                    full: true,
                    schedule,
                    tile: 8,
                    ..Default::default()
                };
                let whole = empirical(&model, Weights::Seeded(2), &p1, x2, &opts).unwrap();
                let per_row = whole.data.len() / n1;
                for band in [0..16, 16..24, 24..50, 48..50] {
                    let part =
                        empirical_rows(&model, Weights::Seeded(2), &p1, x2, band.clone(), &opts)
                            .unwrap();
                    assert_eq!(part.n1, band.len());
                    assert_eq!(
                        bits(&part.data),
                        bits(&whole.data[band.start * per_row..band.end * per_row]),
                        "{model} {kind:?} sym={} band {band:?}",
                        x2.is_none()
                    );
                }
                assert!(empirical_rows(&model, Weights::Seeded(2), &p1, x2, 3..9, &opts).is_err());
            }
        }
    }
}

/// Row bands of the analytic kernel reproduce the whole kernel bit for bit.
#[test]
fn analytic_row_bands_reproduce_the_whole_kernel() {
    use ntk_engine::analytic::{AnalyticOptions, analytic, analytic_rows};
    let (n1, n2, d) = (40, 13, 5);
    let (x1, x2) = (points(n1, d, 17), points(n2, d, 18));
    let (p1, p2) = (
        Points::from_f64(&x1, n1, d).unwrap(),
        Points::from_f64(&x2, n2, d).unwrap(),
    );
    for act in [Activation::Relu, Activation::Tanh, Activation::Gelu] {
        let model = Mlp::new(d, &[8, 8], act).with_b_std(0.2).with_outputs(2);
        for kind in [KernelKind::Ntk, KernelKind::Nngp] {
            for x2 in [None, Some(&p2)] {
                let opts = AnalyticOptions {
                    kind,
                    full: true,
                    ..Default::default()
                };
                let whole = analytic(&model, &p1, x2, &opts).unwrap();
                let per_row = whole.data.len() / n1;
                for band in [0..7, 7..31, 31..40] {
                    let part = analytic_rows(&model, &p1, x2, band.clone(), &opts).unwrap();
                    assert_eq!(
                        bits(&part.data),
                        bits(&whole.data[band.start * per_row..band.end * per_row]),
                        "{act} {kind:?} band {band:?}"
                    );
                }
            }
        }
    }
}
