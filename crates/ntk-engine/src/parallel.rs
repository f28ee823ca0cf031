//! How many threads a routine may use, as a value (STYLE §6).
//!
//! Results never depend on this value: work is split into units fixed by the problem size,
//! and every reduction runs in a fixed order.

use std::sync::{Arc, Mutex, OnceLock};

use rayon::ThreadPool;

use crate::error::{Error, Result};

/// Sequential, or rayon with a given number of threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Parallelism {
    /// One thread, the caller's.
    Sequential,
    /// All cores: a rayon pool of one thread per available core
    /// (`std::thread::available_parallelism`). The default.
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

    /// Runs `f` inside a pool of the requested size (one thread when sequential).
    ///
    /// Pools are built once per size and reused by later calls (a notebook makes many small
    /// calls, and building a pool costs a thread spawn per worker); a call made from inside a
    /// pool of the requested size runs there directly.
    pub fn install<R: Send>(self, f: impl FnOnce() -> R + Send) -> Result<R> {
        let n = match self {
            Parallelism::Sequential => 1,
            Parallelism::Rayon0 => 0,
            Parallelism::Rayon(n) => n,
        };
        let want = if n == 0 {
            std::thread::available_parallelism().map_or(1, |c| c.get())
        } else {
            n
        };
        if rayon::current_thread_index().is_some() && rayon::current_num_threads() == want {
            return Ok(f());
        }
        Ok(pool(want)?.install(f))
    }
}

/// At most this many pool sizes are kept alive; others are built per call.
const CACHED_POOLS: usize = 8;

/// The cached pools, by size.
type Pools = Mutex<Vec<(usize, Arc<ThreadPool>)>>;

/// The shared pool of `n` threads, built on first use.
fn pool(n: usize) -> Result<Arc<ThreadPool>> {
    static POOLS: OnceLock<Pools> = OnceLock::new();
    let build = || {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .map(Arc::new)
            .map_err(|e| Error::invalid("threads", n, format!("a thread pool ({e})")))
    };
    let pools = POOLS.get_or_init(|| Mutex::new(Vec::new()));
    let mut pools = pools
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, p)) = pools.iter().find(|(size, _)| *size == n) {
        return Ok(p.clone());
    }
    let p = build()?;
    if pools.len() < CACHED_POOLS {
        pools.push((n, p.clone()));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pools are reused, and a nested call of the same size runs in place.
    #[test]
    fn pools_are_reused_and_sized() {
        let a = pool(3).unwrap();
        let b = pool(3).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let inner = Parallelism::Rayon(3)
            .install(|| Parallelism::Rayon(3).install(rayon::current_num_threads))
            .unwrap()
            .unwrap();
        assert_eq!(inner, 3);
        assert_eq!(
            Parallelism::Sequential
                .install(rayon::current_num_threads)
                .unwrap(),
            1
        );
        assert_eq!(
            Parallelism::Rayon(2)
                .install(rayon::current_num_threads)
                .unwrap(),
            2
        );
    }
}
