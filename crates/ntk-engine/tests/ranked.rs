//! Work shared among ranks without MPI: `R` threads play the ranks ([`Team`], collectives
//! on a barrier, messages on a channel), and the kernel file written by all of them, and the
//! kernel operator's products, are the bytes of one process. (The same code under
//! `mpirun` is tested by `crates/ntk-cli/tests/mpi_ranks.rs`.)

mod common;

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Barrier, Mutex};

use common::points;
use ntk_engine::data::npy::Dtype;
use ntk_engine::data::safe_file::Output;
use ntk_engine::gram::out_of_core::{BandedOutput, write_analytic, write_empirical};
use ntk_engine::gram::{EmpiricalOptions, Weights};
use ntk_engine::ranks::Ranks;
use ntk_engine::solve::KernelOperator;
use ntk_engine::{Activation, AnalyticOptions, Matrix, Mlp, Points};

/// A message to the root and its sender.
type Message = (usize, Vec<u8>);

struct Shared {
    barrier: Barrier,
    bytes: Mutex<Vec<Vec<u8>>>,
    values: Mutex<Vec<Vec<f64>>>,
}

/// One thread's view of a team of threads.
struct Team {
    rank: usize,
    size: usize,
    shared: Arc<Shared>,
    to_root: Mutex<Sender<Message>>,
    inbox: Option<Mutex<Receiver<Message>>>,
}

fn team(size: usize) -> Vec<Team> {
    let shared = Arc::new(Shared {
        barrier: Barrier::new(size),
        bytes: Mutex::new(vec![Vec::new(); size]),
        values: Mutex::new(vec![Vec::new(); size]),
    });
    let (tx, rx) = channel();
    let mut rx = Some(rx);
    (0..size)
        .map(|rank| Team {
            rank,
            size,
            shared: shared.clone(),
            to_root: Mutex::new(tx.clone()),
            inbox: if rank == 0 {
                rx.take().map(Mutex::new)
            } else {
                None
            },
        })
        .collect()
}

impl Ranks for Team {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.size
    }
    fn start(&self, ready: bool) -> Option<usize> {
        let mine = if ready { self.size } else { self.rank };
        self.shared.bytes.lock().unwrap()[self.rank] = vec![mine as u8];
        self.shared.barrier.wait();
        let low = self.shared.bytes.lock().unwrap().iter().map(|b| b[0]).min();
        self.shared.barrier.wait();
        low.map(usize::from).filter(|&l| l < self.size)
    }
    fn broadcast(&self, bytes: &mut Vec<u8>) {
        if self.rank == 0 {
            self.shared.bytes.lock().unwrap()[0] = bytes.clone();
        }
        self.shared.barrier.wait();
        if self.rank != 0 {
            *bytes = self.shared.bytes.lock().unwrap()[0].clone();
        }
        self.shared.barrier.wait();
    }
    fn send_to_root(&self, bytes: &[u8]) {
        self.to_root
            .lock()
            .unwrap()
            .send((self.rank, bytes.to_vec()))
            .unwrap();
    }
    fn receive_at_root(&self, wait: bool) -> Option<Message> {
        let inbox = self.inbox.as_ref()?.lock().unwrap();
        if wait {
            inbox.recv().ok()
        } else {
            inbox.try_recv().ok()
        }
    }
    fn all_gather(&self, local: &[f64], counts: &[usize]) -> Vec<f64> {
        assert_eq!(local.len(), counts[self.rank]);
        self.shared.values.lock().unwrap()[self.rank] = local.to_vec();
        self.shared.barrier.wait();
        let all = self.shared.values.lock().unwrap().concat();
        self.shared.barrier.wait();
        all
    }
}

/// Runs `f` on every member of a team of `size` threads; rank 0's result.
fn on_team<T: Send>(size: usize, f: impl Fn(&Team) -> T + Sync) -> Vec<T> {
    let members = team(size);
    std::thread::scope(|s| {
        let handles: Vec<_> = members.iter().map(|m| s.spawn(|| f(m))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn a_kernel_file_written_by_a_team_is_the_file_of_one_process() {
    let dir = tempfile::tempdir().unwrap();
    let (n, d) = (700, 6);
    let x = points(n, d, 3);
    let x2 = points(300, d, 4);
    let p = Points::from_f64(&x, n, d).unwrap();
    let p2 = Points::from_f64(&x2, 300, d).unwrap();
    let model = Mlp::new(d, &[40, 24], Activation::Erf);
    let emp = EmpiricalOptions {
        tile: 32,
        ..Default::default()
    };
    let ana = AnalyticOptions::default();
    // (analytic?, second inputs?, budget): one band per rank and many.
    for (case, (analytic, other, budget)) in [
        (true, false, 1 << 30),
        (true, true, 1 << 20),
        (false, false, 1 << 30),
        (false, true, 12 << 20),
    ]
    .into_iter()
    .enumerate()
    {
        let x2 = other.then_some(&p2);
        let write = |path: &std::path::Path, ranks: Option<&dyn Ranks>| {
            let out = Output::new("--out", path).unwrap();
            let banded = BandedOutput {
                ranks,
                ..BandedOutput::new(&out, Dtype::F32, budget, "job", false)
            };
            if analytic {
                write_analytic(&model, &p, x2, &ana, &banded).map(|r| r.bands)
            } else {
                write_empirical(&model, Weights::Seeded(5), &p, x2, &emp, &banded).map(|r| r.bands)
            }
        };
        let alone = dir.path().join(format!("alone{case}.npy"));
        write(&alone, None).unwrap();
        for size in [2, 3] {
            let path = dir.path().join(format!("team{case}-{size}.npy"));
            let results = on_team(size, |m| write(&path, Some(m)));
            assert!(results.iter().all(|r| r.is_ok()), "{case}: {results:?}");
            assert!(
                std::fs::read(&alone).unwrap() == std::fs::read(&path).unwrap(),
                "case {case}, {size} ranks: the bytes differ"
            );
        }
    }
    // Only the outputs are left: no partial file, log or lock.
    let hidden = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with('.')
        })
        .count();
    assert_eq!(hidden, 0);
}

#[test]
fn a_band_that_fails_on_one_rank_fails_every_rank_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (n, d) = (400, 3);
    // Inputs so large that the ReLU kernel overflows f32 from row 300 on.
    let x: Vec<f64> = (0..n * d)
        .map(|i| if i / d >= 300 { 1e30 } else { 0.5 })
        .collect();
    let p = Points::from_f64(&x, n, d).unwrap();
    let model = Mlp::new(d, &[16], Activation::Relu);
    let path = dir.path().join("k.npy");
    let results = on_team(3, |m| {
        let out = Output::new("--out", &path).unwrap();
        let banded = BandedOutput {
            ranks: Some(m as &dyn Ranks),
            ..BandedOutput::new(&out, Dtype::F32, 1 << 20, "job", false)
        };
        write_analytic(&model, &p, None, &AnalyticOptions::default(), &banded).map(|r| r.bands)
    });
    assert!(results.iter().all(|r| r.is_err()), "{results:?}");
    let root = results[0].as_ref().unwrap_err().to_string();
    assert!(root.contains("f64") || root.contains("rank"), "{root}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn products_shared_among_a_team_are_the_products_of_one_process() {
    let (n, d, k) = (900, 5, 3);
    let x = points(n, d, 8);
    let p = Points::from_f64(&x, n, d).unwrap();
    let model = Mlp::new(d, &[32], Activation::Relu).with_b_std(0.2);
    let v = Matrix::new(
        n,
        k,
        (0..n * k).map(|i| ((i * 7) % 13) as f64 - 6.0).collect(),
    )
    .unwrap();
    let emp = EmpiricalOptions {
        tile: 64,
        ..Default::default()
    };
    let budget = 32 << 20;
    let alone =
        KernelOperator::analytic(&model, &p, None, AnalyticOptions::default(), budget).unwrap();
    let want = alone.apply(&v).unwrap();
    let want_diag = alone.scan().unwrap().diagonal;
    let alone_e =
        KernelOperator::empirical(&model, Weights::Seeded(1), &p, None, emp, budget).unwrap();
    let want_e = alone_e.apply(&v).unwrap();
    for size in [2, 3, 4] {
        let got = on_team(size, |m| {
            let a = KernelOperator::analytic(&model, &p, None, AnalyticOptions::default(), budget)
                .unwrap()
                .with_ranks(m);
            let e = KernelOperator::empirical(&model, Weights::Seeded(1), &p, None, emp, budget)
                .unwrap()
                .with_ranks(m);
            (
                a.apply(&v).unwrap(),
                a.scan().unwrap().diagonal,
                e.apply(&v).unwrap(),
            )
        });
        for (rank, (a, diag, e)) in got.iter().enumerate() {
            let bits = |m: &Matrix| m.data.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(a), bits(&want), "{size} ranks, rank {rank}");
            assert_eq!(bits(e), bits(&want_e), "{size} ranks, rank {rank}");
            assert_eq!(
                diag.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                want_diag.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
            );
        }
    }
}
