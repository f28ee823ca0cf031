//! Cooperating processes ("ranks", as under MPI) seen by the engine: the few operations
//! that the distributed kernel writer ([`crate::gram::ranked`]), the distributed kernel
//! operator and the study grid need, and how work is shared among ranks.
//!
//! The engine links no MPI library: a front end (the `ntk` command built with its `mpi`
//! feature) implements [`Ranks`] on top of one. Every result computed with ranks is bitwise
//! the result of one process: the work is split, never the reductions (every value is
//! computed by exactly one rank, in the same order as by one process, and moved as bits).

/// A team of `size()` processes running the same command, this one being `rank()`; rank 0
/// is the root, which owns the outputs.
///
/// Every method except [`Ranks::send_to_root`] and [`Ranks::receive_at_root`] is
/// collective: all ranks call it, in the same order.
pub trait Ranks: Sync {
    /// This process's index, `0..size()`.
    fn rank(&self) -> usize;
    /// The number of processes.
    fn size(&self) -> usize;
    /// Collective start of a distributed section: each rank says whether it got there
    /// without an error; returns the lowest rank that did not (`None`: all did). A rank
    /// that fails before a distributed section calls this with `false`, so that no rank
    /// waits for it forever.
    fn start(&self, ready: bool) -> Option<usize>;
    /// Replaces `bytes` on every rank with the root's.
    fn broadcast(&self, bytes: &mut Vec<u8>);
    /// Sends one message to the root (not collective; not called by the root).
    fn send_to_root(&self, bytes: &[u8]);
    /// The root: the next message from another rank and its sender, waiting for one if
    /// `wait`, else `None` when none has arrived.
    fn receive_at_root(&self, wait: bool) -> Option<(usize, Vec<u8>)>;
    /// Every rank's `local` values concatenated in rank order, on every rank; `counts[r]` is
    /// the length of rank `r`'s part.
    fn all_gather(&self, local: &[f64], counts: &[usize]) -> Vec<f64>;
    /// Told the band size and count a distributed write agreed on (for reports).
    fn note_bands(&self, _rows_per_band: usize, _bands: usize) {}
    /// The last band size and count told to [`Ranks::note_bands`], if kept.
    fn noted_bands(&self) -> Option<(usize, usize)> {
        None
    }
}

/// The owner of each of `costs.len()` work items among `ranks` ranks: longest item first,
/// each to the least loaded rank (ties: the lower item, the lower rank), the greedy
/// "longest processing time" schedule (Graham 1969), within 4/3 of the best balance.
/// Items with cost `None` (already done) get no owner.
pub fn assign(costs: &[Option<f64>], ranks: usize) -> Vec<Option<usize>> {
    let ranks = ranks.max(1);
    let mut order: Vec<usize> = (0..costs.len()).filter(|&i| costs[i].is_some()).collect();
    let cost = |i: usize| costs[i].unwrap_or(0.0);
    order.sort_by(|&a, &b| cost(b).total_cmp(&cost(a)).then(a.cmp(&b)));
    let mut load = vec![0.0f64; ranks];
    let mut owner = vec![None; costs.len()];
    for i in order {
        let r = (0..ranks).fold(0, |best, r| if load[r] < load[best] { r } else { best });
        load[r] += cost(i);
        owner[i] = Some(r);
    }
    owner
}

/// The cost of computing rows `rows` of an `n1`-row kernel: the rows themselves, or for a
/// symmetric kernel computed on and right of its diagonal only (`triangle`),
/// `Σ_{i ∈ rows} (n1 − i)`.
pub fn band_cost(rows: core::ops::Range<usize>, n1: usize, triangle: bool) -> f64 {
    let len = rows.len() as f64;
    if triangle {
        // Σ (n1 − i) for i in a..b = len·n1 − (a + b − 1)·len / 2.
        len * n1 as f64 - (rows.start + rows.end) as f64 * len / 2.0 + len / 2.0
    } else {
        len
    }
}

/// Contiguous blocks of `n` rows for `ranks` ranks, as equal as possible (the first
/// `n mod ranks` one row longer): `(start, len)` of each rank, in rank order.
pub fn row_blocks(n: usize, ranks: usize) -> Vec<(usize, usize)> {
    let ranks = ranks.max(1);
    let (q, r) = (n / ranks, n % ranks);
    let mut start = 0;
    (0..ranks)
        .map(|i| {
            let len = q + usize::from(i < r);
            let block = (start, len);
            start += len;
            block
        })
        .collect()
}

/// One process: every collective is the identity. For tests and for front ends without
/// ranks.
#[derive(Clone, Copy, Debug, Default)]
pub struct Alone;

impl Ranks for Alone {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn start(&self, ready: bool) -> Option<usize> {
        (!ready).then_some(0)
    }
    fn broadcast(&self, _bytes: &mut Vec<u8>) {}
    fn send_to_root(&self, _bytes: &[u8]) {}
    fn receive_at_root(&self, _wait: bool) -> Option<(usize, Vec<u8>)> {
        None
    }
    fn all_gather(&self, local: &[f64], _counts: &[usize]) -> Vec<f64> {
        local.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triangle_costs_add_up_and_the_schedule_balances_them() {
        let n = 1000;
        // Bands of 100 rows of the triangle: 100·1000 − … down to the last, 5 050.
        let costs: Vec<Option<f64>> = (0..10)
            .map(|b| Some(band_cost(b * 100..(b + 1) * 100, n, true)))
            .collect();
        let total: f64 = costs.iter().flatten().sum();
        assert_eq!(total, (n * (n + 1) / 2) as f64);
        assert_eq!(costs[9], Some(5050.0));
        let owner = assign(&costs, 3);
        let mut load = [0.0; 3];
        for (c, o) in costs.iter().zip(&owner) {
            load[o.unwrap()] += c.unwrap();
        }
        let (max, min) = (
            load.iter().cloned().fold(0.0, f64::max),
            load.iter().cloned().fold(f64::MAX, f64::min),
        );
        // LPT is within 4/3 of optimal; here the loads differ by under 10 %.
        assert!(max / min < 1.1, "{load:?}");
        // Contiguous blocks of bands would give the first rank 3.6× the last one's work.
        let first: f64 = costs[..4].iter().flatten().sum();
        let last: f64 = costs[7..].iter().flatten().sum();
        assert!(first / last > 3.0);
    }

    #[test]
    fn finished_items_get_no_owner_and_ties_go_to_low_ranks() {
        let owner = assign(&[Some(1.0), None, Some(1.0), Some(1.0)], 2);
        assert_eq!(owner, vec![Some(0), None, Some(1), Some(0)]);
        assert_eq!(assign(&[Some(2.0)], 0), vec![Some(0)]);
    }

    #[test]
    fn row_blocks_cover_the_rows_once() {
        assert_eq!(row_blocks(10, 3), vec![(0, 4), (4, 3), (7, 3)]);
        assert_eq!(row_blocks(2, 3), vec![(0, 1), (1, 1), (2, 0)]);
        assert_eq!(row_blocks(5, 1), vec![(0, 5)]);
    }
}
