//! MPI ranks: detecting a launch by `mpirun`/`mpiexec`/`srun`, and (with the `mpi` cargo
//! feature) the engine's `Ranks` on top of MPI (rsmpi).
//!
//! A binary built without the feature that finds itself one of several ranks refuses to run
//! (exit 2, one line from rank 0): otherwise each of the R copies would compute the whole
//! job and race on the same output file.
//!
//! With the feature, MPI is initialised only when a launcher is detected (a plain `ntk` run
//! never touches the MPI library), with `MPI_THREAD_SERIALIZED`: the engine calls MPI from
//! one thread at a time, but not always from the main thread (rayon's pool runs the band
//! loop).

/// A launch by an MPI launcher, read from its environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Launch {
    /// The number of ranks.
    pub size: usize,
    /// This process's rank (0 when the launcher does not say).
    pub rank: usize,
    /// The variable that gave the size.
    pub var: &'static str,
}

/// World-size and rank variables of the launchers: MPICH/Intel MPI (Hydra, PMI), Open MPI,
/// MVAPICH, PMIx and Slurm's `srun` (a job step: `SLURM_STEP_NUM_TASKS`, not
/// `SLURM_NTASKS`, which a batch script sees even when it starts one process).
const LAUNCH_VARS: [(&str, &str); 5] = [
    ("PMI_SIZE", "PMI_RANK"),
    ("OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK"),
    ("MV2_COMM_WORLD_SIZE", "MV2_COMM_WORLD_RANK"),
    ("PMIX_SIZE", "PMIX_RANK"),
    ("SLURM_STEP_NUM_TASKS", "SLURM_PROCID"),
];

/// The launch described by `get` (an environment lookup), if any.
pub fn detect(get: impl Fn(&str) -> Option<String>) -> Option<Launch> {
    let num = |v: &str| get(v).and_then(|s| s.trim().parse::<usize>().ok());
    LAUNCH_VARS.iter().find_map(|&(size, rank)| {
        num(size).map(|n| Launch {
            size: n,
            rank: num(rank).unwrap_or(0),
            var: size,
        })
    })
}

/// The launch of this process, from its environment.
pub fn launched() -> Option<Launch> {
    detect(|v| std::env::var(v).ok())
}

/// The refusal of a binary without MPI support started as one of several ranks.
pub fn refusal(l: &Launch) -> String {
    format!(
        "ntk: {}={}: started as one of {} MPI ranks, but this ntk was built without MPI \
         support (expected one process, or a build with `cargo build --release -p ntk-cli \
         --features mpi`)",
        l.var, l.size, l.size
    )
}

#[cfg(feature = "mpi")]
pub use with_mpi::MpiRanks;

#[cfg(feature = "mpi")]
mod with_mpi {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use mpi::collective::SystemOperation;
    use mpi::datatype::PartitionMut;
    use mpi::environment::Universe;
    use mpi::topology::SimpleCommunicator;
    use mpi::traits::*;

    use ntk_engine::ranks::Ranks;

    /// The tag of messages to the root.
    const TO_ROOT: i32 = 7;

    /// The world communicator of an initialised MPI, as the engine's [`Ranks`].
    pub struct MpiRanks {
        _universe: Universe,
        world: SimpleCommunicator,
        rank: usize,
        size: usize,
        /// Another rank failed and reports it: this one prints nothing.
        quiet: AtomicBool,
        /// A distributed section started (the ranks met in [`Ranks::start`]).
        started: AtomicBool,
        /// This rank (not the root) was the lowest to fail at a meeting: it reports.
        speaker: AtomicBool,
        /// Messages sent to the root, for the test hook `NTK_MPI_TEST_DIE`.
        sent: AtomicUsize,
        rows: AtomicUsize,
        bands: AtomicUsize,
    }

    // SAFETY: MPI is initialised with MPI_THREAD_SERIALIZED (checked in `init`), which allows
    // calls from any thread as long as no two are concurrent; the engine calls these methods
    // from one thread at a time (the band loop, the solver's iterations and the study grid
    // are sequential), and the handle itself is an integer.
    unsafe impl Sync for MpiRanks {}
    // SAFETY: as above; the communicator handle can be used from any thread.
    unsafe impl Send for MpiRanks {}

    impl MpiRanks {
        /// Initialises MPI (serialized threads); an error line when the library refuses.
        pub fn init() -> Result<MpiRanks, String> {
            let (universe, threading) = mpi::initialize_with_threading(mpi::Threading::Serialized)
                .ok_or("ntk: MPI could not be initialised (already initialised)")?;
            if threading < mpi::Threading::Serialized {
                return Err(format!(
                    "ntk: the MPI library supports threads at level {threading:?}; ntk needs \
                     Serialized (rebuild MPI with thread support)"
                ));
            }
            let world = universe.world();
            let (rank, size) = (world.rank() as usize, world.size() as usize);
            Ok(MpiRanks {
                _universe: universe,
                world,
                rank,
                size,
                quiet: AtomicBool::new(false),
                started: AtomicBool::new(false),
                speaker: AtomicBool::new(false),
                sent: AtomicUsize::new(0),
                rows: AtomicUsize::new(0),
                bands: AtomicUsize::new(0),
            })
        }

        /// Whether this rank should stay silent about its error (another rank reports).
        pub fn quiet(&self) -> bool {
            self.quiet.load(Ordering::Relaxed)
        }

        /// Whether this rank reports its own error: rank 0 unless another rank failed
        /// first, another rank when it was the lowest to fail at a meeting of the ranks.
        pub fn speaks(&self) -> bool {
            if self.rank == 0 {
                !self.quiet()
            } else {
                self.speaker.load(Ordering::Relaxed)
            }
        }

        /// Whether the ranks met in a distributed section.
        pub fn started(&self) -> bool {
            self.started.load(Ordering::Relaxed)
        }

        /// Ends every rank at once with `code` (a rank that cannot continue alone).
        pub fn abort(&self, code: i32) -> ! {
            self.world.abort(code)
        }
    }

    impl Ranks for MpiRanks {
        fn rank(&self) -> usize {
            self.rank
        }
        fn size(&self) -> usize {
            self.size
        }
        fn start(&self, ready: bool) -> Option<usize> {
            self.started.store(true, Ordering::Relaxed);
            let mine = if ready {
                self.size as u64
            } else {
                self.rank as u64
            };
            let mut lowest = 0u64;
            self.world
                .all_reduce_into(&mine, &mut lowest, SystemOperation::min());
            let failed = (lowest < self.size as u64).then_some(lowest as usize);
            match failed {
                Some(r) if r != self.rank => self.quiet.store(true, Ordering::Relaxed),
                Some(_) if self.rank != 0 => self.speaker.store(true, Ordering::Relaxed),
                _ => {}
            }
            failed
        }
        fn broadcast(&self, bytes: &mut Vec<u8>) {
            let root = self.world.process_at_rank(0);
            let mut len = bytes.len() as u64;
            root.broadcast_into(&mut len);
            bytes.resize(len as usize, 0);
            root.broadcast_into(&mut bytes[..]);
            if self.rank != 0 && bytes.first().is_some_and(|&b| b != 0) {
                // The root failed and says so.
                self.quiet.store(true, Ordering::Relaxed);
            }
        }
        fn send_to_root(&self, bytes: &[u8]) {
            self.world.process_at_rank(0).send_with_tag(bytes, TO_ROOT);
            let sent = self.sent.fetch_add(1, Ordering::Relaxed) + 1;
            // Test hook: this rank dies (SIGABRT, no clean-up) after that many messages.
            if let Ok(spec) = std::env::var("NTK_MPI_TEST_DIE")
                && let Some((rank, after)) = spec.split_once(':')
                && rank.parse() == Ok(self.rank)
                && after.parse() == Ok(sent)
            {
                std::process::abort();
            }
        }
        fn receive_at_root(&self, wait: bool) -> Option<(usize, Vec<u8>)> {
            let any = self.world.any_process();
            let probed = if wait {
                any.matched_probe_with_tag(TO_ROOT)
            } else {
                any.immediate_matched_probe_with_tag(TO_ROOT)?
            };
            let (bytes, status) = probed.matched_receive_vec::<u8>();
            Some((status.source_rank() as usize, bytes))
        }
        fn all_gather(&self, local: &[f64], counts: &[usize]) -> Vec<f64> {
            let total: usize = counts.iter().sum();
            let mut all = vec![0.0; total];
            let c: Vec<i32> = counts.iter().map(|&c| c as i32).collect();
            let displs: Vec<i32> = counts
                .iter()
                .scan(0i32, |at, &c| {
                    let d = *at;
                    *at += c as i32;
                    Some(d)
                })
                .collect();
            let mut part = PartitionMut::new(&mut all[..], &c[..], &displs[..]);
            self.world.all_gather_varcount_into(local, &mut part);
            all
        }
        fn note_bands(&self, rows: usize, bands: usize) {
            self.rows.store(rows, Ordering::Relaxed);
            self.bands.store(bands, Ordering::Relaxed);
        }
        fn noted_bands(&self) -> Option<(usize, usize)> {
            let b = self.bands.load(Ordering::Relaxed);
            (b > 0).then(|| (self.rows.load(Ordering::Relaxed), b))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |v| {
            vars.iter()
                .find(|(k, _)| *k == v)
                .map(|(_, x)| x.to_string())
        }
    }

    #[test]
    fn launchers_are_detected_by_their_variables() {
        assert_eq!(detect(env(&[])), None);
        assert_eq!(
            detect(env(&[("PMI_SIZE", "4"), ("PMI_RANK", "3")])),
            Some(Launch {
                size: 4,
                rank: 3,
                var: "PMI_SIZE"
            })
        );
        let l = detect(env(&[("OMPI_COMM_WORLD_SIZE", "2")])).unwrap();
        assert_eq!((l.size, l.rank), (2, 0));
        // A batch script's allocation is not a launch.
        assert_eq!(detect(env(&[("SLURM_NTASKS", "8")])), None);
        let l = detect(env(&[("SLURM_STEP_NUM_TASKS", "8"), ("SLURM_PROCID", "5")])).unwrap();
        assert_eq!((l.size, l.rank), (8, 5));
        assert!(refusal(&l).contains("--features mpi"));
    }
}
