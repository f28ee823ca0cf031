//! One kernel file written by several processes ([`Ranks`], e.g. MPI ranks on a shared
//! filesystem): each rank computes a disjoint set of the file's row bands; the file appears
//! only when every band is done. Bitwise the file of one process: a band's bytes do not
//! depend on who computes it.
//!
//! The protocol, on top of [`KernelFile`]'s single-writer design:
//! 1. **Start.** A collective [`Ranks::start`]: a rank that failed before (bad input) makes
//!    every rank stop here, with nothing created.
//! 2. **Create (root).** Rank 0 chooses the band size: the most rows its memory budget
//!    allows, capped for more than one rank so that there are about
//!    [`BANDS_PER_RANK`] bands per rank (a multiple of [`BAND_ROUND`] rows); with `--resume`,
//!    the band size of the interrupted run's progress log when it fits, so that a run
//!    resumes per band **whatever the rank count of the interrupted run**. It then creates
//!    (or reopens and verifies) the partial file and the progress log and takes the output's
//!    lock, held until the commit, exactly as one process does, and broadcasts the band size
//!    and which bands are already done (or its error).
//! 3. **Bands.** Every rank computes the same owner for each band still to do
//!    ([`assign`] of [`band_cost`], longest first: equal bands dealt out evenly, and the
//!    bands of a triangle-only writer, [`BandedOutput::triangle`], balanced by their
//!    triangle's cost). The
//!    other ranks [`KernelFile::join`] the partial file, write their bands with positioned
//!    writes, sync them, and send `(band, checksum)` to the root; the root writes its own
//!    bands and appends every finished band, its own and the others', to the progress log
//!    (checking for messages after each of its bands). One writer of the log, so it needs
//!    no file locking across nodes (`O_APPEND` is not atomic on NFS).
//! 4. **Finish.** Each rank sends `done` (or its error) when its bands are finished; the root
//!    waits for all, then commits the file if every band is done (after the caller's
//!    `before_commit` check) and broadcasts the outcome.
//!
//! A rank that dies (killed, out of memory) takes the job down with it (`mpirun` ends every
//! rank); the partial file and the log hold every band logged so far, and a run with
//! `--resume`, at any rank count, computes only the others. A band a rank wrote but whose
//! record the root never logged is computed again. An error in a band (a non-finite entry)
//! is reported by the root as `rank R: …`, and the partial files are removed, as by one
//! process.

use core::ops::Range;

use super::Kernel;
use super::out_of_core::BandedOutput;
use crate::data::kernel_file::KernelFile;
use crate::error::{Error, Result};
use crate::ranks::{Ranks, assign, band_cost};

/// Bands per rank aimed at when the budget allows bigger ones: enough for the schedule to
/// balance unequal bands (the triangle), few enough that per-band costs stay small.
pub const BANDS_PER_RANK: usize = 4;

/// Band sizes chosen for ranks are multiples of this many rows (the empirical tile).
pub const BAND_ROUND: usize = 128;

const BAND: u8 = 0;
const FAILED: u8 = 1;
const DONE: u8 = 2;

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    if let Some(s) = bytes.get(at..at + 8) {
        b.copy_from_slice(s);
    }
    u64::from_le_bytes(b)
}

/// The error every other rank returns when rank `rank` failed (the root reports the cause).
fn failed_elsewhere(rank: usize) -> Error {
    Error::invalid(
        "MPI rank",
        rank,
        "every rank to succeed (that rank's error is reported by it or by rank 0)",
    )
}

/// The rows per band for `ranks` ranks: the most `rows_fit` allows, capped at about
/// [`BANDS_PER_RANK`] bands per rank, a multiple of [`BAND_ROUND`] and of `align`.
pub fn rows_for_ranks(n1: usize, rows_fit: usize, ranks: usize, align: usize) -> usize {
    if ranks <= 1 {
        return rows_fit.max(1);
    }
    let align = align.max(1);
    let round = BAND_ROUND / gcd(BAND_ROUND, align) * align;
    let spread = n1.div_ceil(ranks * BANDS_PER_RANK).next_multiple_of(round);
    rows_fit.min(spread).max(1)
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// [`super::out_of_core::write_in_bands`] shared among `ranks`: see the module
/// documentation. `rows_fit` is the most rows per band this rank's memory budget allows;
/// returns `(bands, bands resumed)`.
pub fn write_in_bands(
    ranks: &dyn Ranks,
    out: &BandedOutput<'_>,
    shape: &[usize],
    rows_fit: usize,
    mut band: impl FnMut(Range<usize>) -> Result<Kernel>,
) -> Result<(usize, usize)> {
    if let Some(r) = ranks.start(true) {
        return Err(failed_elsewhere(r));
    }
    let (me, size) = (ranks.rank(), ranks.size());
    let n1 = shape[0];
    // 2. The root creates the file and says how it is cut.
    let mut root_file = None;
    let mut msg = Vec::new();
    if me == 0 {
        let made = (|| {
            let mut rows = rows_for_ranks(n1, rows_fit, size, out.align);
            if out.resume
                && let Some(r) = KernelFile::resumable_rows(out.out, shape, out.dtype, out.job_key)
                && r <= rows_fit
            {
                rows = r;
            }
            let file =
                KernelFile::create(out.out, shape, out.dtype, rows, out.job_key, out.resume)?;
            Ok::<_, Error>((rows, file))
        })();
        match made {
            Ok((rows, file)) => {
                msg.push(0);
                msg.extend_from_slice(&(rows as u64).to_le_bytes());
                msg.extend(file.done().iter().map(|&d| u8::from(d)));
                root_file = Some(file);
            }
            Err(e) => {
                msg.push(1);
                ranks.broadcast(&mut msg);
                return Err(e);
            }
        }
    }
    ranks.broadcast(&mut msg);
    if msg.first() != Some(&0) {
        return Err(failed_elsewhere(0));
    }
    let rows = (u64_at(&msg, 1) as usize).max(1);
    let done: Vec<bool> = msg[9..].iter().map(|&d| d != 0).collect();
    let bands = done.len();
    ranks.note_bands(rows, bands);
    let resumed = done.iter().filter(|&&d| d).count();
    let range = |b: usize| b * rows..((b + 1) * rows).min(n1);
    // 3. Every rank derives the same owners.
    let costs: Vec<Option<f64>> = (0..bands)
        .map(|b| (!done[b]).then(|| band_cost(range(b), n1, out.triangle)))
        .collect();
    let owner = assign(&costs, size);
    let mine: Vec<usize> = (0..bands).filter(|&b| owner[b] == Some(me)).collect();
    if me != 0 {
        let outcome = (|| {
            let mut file = KernelFile::join(out.out, shape, out.dtype, rows)?;
            for &b in &mine {
                let r = range(b);
                let k = band(r.clone())?;
                let sum = file.write_band(b, r.start, &k.data)?;
                let mut m = vec![BAND];
                m.extend_from_slice(&(b as u64).to_le_bytes());
                m.extend_from_slice(&sum.to_le_bytes());
                ranks.send_to_root(&m);
            }
            Ok::<_, Error>(())
        })();
        match &outcome {
            Ok(()) => ranks.send_to_root(&[DONE]),
            Err(e) => {
                let mut m = vec![FAILED];
                m.extend_from_slice(e.to_string().as_bytes());
                ranks.send_to_root(&m);
            }
        }
        let mut verdict = Vec::new();
        ranks.broadcast(&mut verdict);
        outcome?;
        return match verdict.first() {
            Some(0) => Ok((bands, resumed)),
            _ => Err(failed_elsewhere(u64_at(&verdict, 1) as usize)),
        };
    }
    // The root: its own bands, the others' records as they come.
    let Some(mut file) = root_file else {
        return Err(failed_elsewhere(0));
    };
    let mut first_error: Option<(usize, Error)> = None;
    let mut finished = 1;
    let handle = |file: &mut KernelFile,
                  (from, m): (usize, Vec<u8>),
                  first_error: &mut Option<(usize, Error)>,
                  finished: &mut usize| {
        match m.first() {
            Some(&BAND) => {
                if let Err(e) = file.record_band(u64_at(&m, 1) as usize, u64_at(&m, 9)) {
                    first_error.get_or_insert((0, e));
                }
            }
            Some(&DONE) => *finished += 1,
            _ => {
                *finished += 1;
                let text = String::from_utf8_lossy(m.get(1..).unwrap_or_default()).into_owned();
                first_error.get_or_insert((
                    from,
                    Error::invalid(
                        format!("MPI rank {from}"),
                        "its bands",
                        format!("every band computed; it failed: {text}"),
                    ),
                ));
            }
        }
    };
    for &b in &mine {
        if first_error.is_some() {
            break;
        }
        let r = range(b);
        let wrote = band(r.clone()).and_then(|k| file.write_band(b, r.start, &k.data));
        if let Err(e) = wrote {
            first_error = Some((0, e));
        }
        while let Some(m) = ranks.receive_at_root(false) {
            handle(&mut file, m, &mut first_error, &mut finished);
        }
    }
    while finished < size {
        if let Some(m) = ranks.receive_at_root(true) {
            handle(&mut file, m, &mut first_error, &mut finished);
        }
    }
    // 4. Commit, and tell everyone.
    let outcome = match first_error {
        Some((_, e)) => Err(e),
        None => out
            .before_commit
            .map_or(Ok(()), |check| check())
            .and_then(|()| file.commit()),
    };
    let mut verdict = vec![u8::from(outcome.is_err())];
    verdict.extend_from_slice(&0u64.to_le_bytes());
    ranks.broadcast(&mut verdict);
    outcome.map(|()| (bands, resumed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn band_sizes_for_ranks_spread_the_rows_and_respect_the_budget() {
        assert_eq!(rows_for_ranks(4096, 4096, 1, 1), 4096);
        assert_eq!(rows_for_ranks(4096, 4096, 4, 1), 256);
        assert_eq!(rows_for_ranks(4096, 128, 4, 64), 128);
        assert_eq!(rows_for_ranks(300, 300, 2, 128), 128);
        assert_eq!(rows_for_ranks(10, 10, 3, 1), 10);
        // A tile of 96 rows: bands of a multiple of lcm(128, 96) = 384.
        assert_eq!(rows_for_ranks(4096, 4096, 4, 96), 384);
    }
}
