//! A binary built without the `mpi` feature, started as one of several MPI ranks (seen by
//! the launchers' environment variables, set here by hand: no MPI library needed), refuses
//! with exit 2 and one line from rank 0, and writes nothing: never R copies of the same job
//! racing on one file. With one rank, or a Slurm allocation without `srun`, it runs.
#![cfg(not(feature = "mpi"))]

mod common;

use std::process::Command;

use common::{bin, listing, refused, run, s};

fn ntk_with(env: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
    let mut c = Command::new(bin());
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    run(c)
}

#[test]
fn several_ranks_without_mpi_support_are_refused_once_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("k.npy");
    let args = ["kernel", "--data", "iris", "--out", s(&out)];
    for (size, rank) in [
        ("PMI_SIZE", "PMI_RANK"),
        ("OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK"),
        ("SLURM_STEP_NUM_TASKS", "SLURM_PROCID"),
    ] {
        let res = ntk_with(&[(size, "4"), (rank, "0")], &args);
        refused(&res, &[&format!("{size}=4"), "--features mpi"]);
        // The other ranks say nothing: one line in all.
        let res = ntk_with(&[(size, "4"), (rank, "2")], &args);
        assert_eq!((res.0, res.2.as_str()), (2, ""), "{size}");
        assert!(listing(dir.path()).is_empty(), "{:?}", listing(dir.path()));
    }
    // Study and predict too (the check is before any command runs).
    let res = ntk_with(
        &[("PMI_SIZE", "2"), ("PMI_RANK", "0")],
        &["study", "--out", s(&dir.path().join("st"))],
    );
    refused(&res, &["PMI_SIZE=2"]);
    assert!(listing(dir.path()).is_empty());
}

#[test]
fn one_rank_or_an_allocation_without_a_launch_runs() {
    let dir = tempfile::tempdir().unwrap();
    for (i, env) in [
        vec![("PMI_SIZE", "1"), ("PMI_RANK", "0")],
        vec![("SLURM_NTASKS", "8"), ("SLURM_PROCID", "0")],
    ]
    .iter()
    .enumerate()
    {
        let out = dir.path().join(format!("k{i}.npy"));
        let (code, text, err) = ntk_with(env, &["kernel", "--data", "iris", "--out", s(&out)]);
        assert_eq!(code, 0, "{err}");
        assert!(text.contains("shape [150, 150]"), "{text}");
        assert!(out.exists());
    }
}
