//! How many threads a routine may use, as a value (STYLE §6).
//!
//! Results never depend on this value: work is split into units fixed by the problem size,
//! and every reduction runs in a fixed order.

use crate::error::{Error, Result};

/// Sequential, or rayon with a given number of threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Parallelism {
    /// One thread, the caller's.
    Sequential,
    /// A rayon pool of this many threads; 0 means one per available core.
    #[default]
    Rayon0,
    /// A rayon pool of exactly this many threads.
    Rayon(usize),
}

impl Parallelism {
    /// `n = 0`: all cores; `n = 1`: sequential; otherwise `n` threads.
    pub fn threads(n: usize) -> Self {
        match n {
            0 => Parallelism::Rayon0,
            1 => Parallelism::Sequential,
            n => Parallelism::Rayon(n),
        }
    }

    /// Runs `f` inside a pool of the requested size (or directly when sequential).
    pub fn install<R: Send>(self, f: impl FnOnce() -> R + Send) -> Result<R> {
        let n = match self {
            Parallelism::Sequential => 1,
            Parallelism::Rayon0 => 0,
            Parallelism::Rayon(n) => n,
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .map_err(|e| Error::invalid("threads", n, format!("a thread pool ({e})")))?;
        Ok(pool.install(f))
    }
}
