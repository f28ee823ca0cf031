//! A `.npy` kernel file written band by band, for Gram matrices larger than memory, with
//! resume after an interruption.
//!
//! The file is built under a hidden name next to the target (`.K.npy.partial`), created
//! exclusively ([`safe_file`](super::safe_file)) under the output's lock (`.K.npy.lock`,
//! held until the file is committed or dropped), its full size reserved on disk up front
//! (`posix_fallocate`, so a full disk is an error at the start, never in the middle), each
//! band of rows checked finite and written with positioned writes ([`BandWriter`]), and its
//! index and checksum appended to a progress log (`.K.npy.progress`) after the write.
//! Neither the band nor the log line is synced on its own: a line that a crash loses makes
//! a resumed run compute its band again, and a band whose bytes a crash loses fails its
//! checksum. [`KernelFile::commit`] syncs the file and renames it into place: the target
//! appears only when complete. Dropping a `KernelFile` (an error, a panic unwinding)
//! removes both hidden files; a killed run (or [`KernelFile::suspend`]) leaves them, and a
//! new run with `resume` and the same job key verifies each finished band's checksum and
//! skips it (a last log line that the kill cut short is dropped: its band is computed again).
//!
//! The progress log ([`parse_progress`]) is the header
//! `ntk-kernel-file v2\nshape [n1, …] DTYPE rows_per_band R\njob HASH\n` (the job key's
//! XXH3-128) and one line `band B CHECKSUM` (XXH3-64 of the band's bytes, 16 hex digits) per
//! finished band.
//!
//! Several processes can write one file (MPI ranks, see [`crate::gram::ranked`]): one of them
//! creates it as above and holds the lock and the log; the others [`KernelFile::join`] it
//! and write their bands with positioned writes, synced, and the owner records them with
//! [`KernelFile::record_band`].

use std::fs::File;
use std::io::Write;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use memmap2::MmapOptions;
use rayon::prelude::*;

use super::npy::{Dtype, header_bytes};

/// Bytes per positioned write of a band.
const WRITE_CHUNK: usize = 1 << 20;

/// Bytes written between two requests to start their writeback.
const WRITEBACK_CHUNK: u64 = 16 << 20;

/// Asks the kernel to start writing `len` bytes at `offset` of `file` to disk now, without
/// waiting (`sync_file_range(SYNC_FILE_RANGE_WRITE)`), so that the disk works while the
/// band is still being written and the next band computed, and the `fsync` before the
/// rename finds less to wait for (0.15 s for a 200 MB kernel here). Advice only: a failure
/// changes nothing, and durability still comes from that `fsync`.
fn start_writeback(file: &File, offset: u64, len: u64) {
    #[cfg(target_os = "linux")]
    if len > 0 {
        use std::os::fd::AsRawFd;
        // SAFETY: FFI on a file descriptor this `File` owns and keeps open for the call; the
        // call only schedules writeback of the file's own pages and touches no memory of
        // this process.
        unsafe {
            libc::sync_file_range(
                file.as_raw_fd(),
                offset as libc::off64_t,
                len as libc::off64_t,
                libc::SYNC_FILE_RANGE_WRITE,
            );
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, offset, len);
}

/// The little-endian bytes of `values` in `dtype` (f32 or f64) as the file holds them: the
/// values' own bytes for f64 on a little-endian machine, else converted into `buf`.
fn le_bytes<'a>(dtype: Dtype, values: &'a [f64], buf: &'a mut Vec<u8>) -> &'a [u8] {
    if dtype != Dtype::F32 && cfg!(target_endian = "little") {
        return pulp::bytemuck::cast_slice(values);
    }
    let size = dtype.size();
    buf.resize(values.len() * size, 0);
    // Fixed-size element copies into a preallocated buffer: a straight loop the compiler
    // vectorises (pushing bytes element by element did not).
    match dtype {
        Dtype::F32 => buf
            .chunks_exact_mut(4)
            .zip(values)
            .for_each(|(b, v)| b.copy_from_slice(&(*v as f32).to_le_bytes())),
        _ => buf
            .chunks_exact_mut(8)
            .zip(values)
            .for_each(|(b, v)| b.copy_from_slice(&v.to_le_bytes())),
    }
    buf
}
use super::safe_file::{self, Lock, NewFile, Output};
use crate::error::{Error, Result};

/// An output kernel file under construction.
#[derive(Debug)]
pub struct KernelFile {
    target: Output,
    partial: NewFile,
    /// `None` for a process that joined the file of another ([`KernelFile::join`]).
    progress: Option<NewFile>,
    _lock: Option<Lock>,
    shape: Vec<usize>,
    dtype: Dtype,
    header_len: usize,
    row_elems: usize,
    rows_per_band: usize,
    done: Vec<bool>,
}

/// Writes rows into a [`KernelFile`]'s partial file through its own handle, so that bands
/// are written (and synced) by other threads while the next ones are computed
/// (`gram::out_of_core::write_streamed`).
#[derive(Debug)]
pub struct BandWriter {
    file: File,
    path: PathBuf,
    dtype: Dtype,
    header_len: usize,
    row_elems: usize,
    shape: Vec<usize>,
}

impl BandWriter {
    /// Writes the rows starting at `first_row` from `values` (row-major `f64`, converted to
    /// the file's dtype) and returns the XXH3-64 checksum of their bytes.
    ///
    /// Positioned writes in 1 MiB pieces, each hashed just before it is written (while in
    /// cache). No map: stores into a map of the reserved file fault every page in and zero
    /// it first, and a synchronous flush waits for the disk. The data is not synced: a band
    /// that a crash loses fails its checksum on `--resume` and is computed again.
    pub fn write(&self, first_row: usize, values: &[f64]) -> Result<u64> {
        let size = self.dtype.size();
        let offset = (self.header_len + first_row * self.row_elems * size) as u64;
        let per = (WRITE_CHUNK / size).max(1);
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        let mut buf = Vec::new();
        let mut at = offset;
        let mut unflushed = at;
        for piece in values.chunks(per) {
            let bytes = le_bytes(self.dtype, piece, &mut buf);
            hasher.update(bytes);
            self.file
                .write_all_at(bytes, at)
                .map_err(io_err(&self.path))?;
            at += bytes.len() as u64;
            if at - unflushed >= WRITEBACK_CHUNK {
                start_writeback(&self.file, unflushed, at - unflushed);
                unflushed = at;
            }
        }
        start_writeback(&self.file, unflushed, at - unflushed);
        debug_assert_eq!(at - offset, (values.len() * size) as u64);
        Ok(hasher.digest())
    }

    /// Waits until the bytes written so far are on the disk (`fdatasync`).
    pub fn sync(&self) -> Result<()> {
        self.file.sync_data().map_err(io_err(&self.path))
    }

    /// `Ok` when every value of the rows starting at `first_row` is finite (and finite once
    /// converted to f32, for an f32 file); else an error naming the first entry that is not
    /// and its likely cause.
    pub fn check_finite(&self, first_row: usize, values: &[f64]) -> Result<()> {
        self.non_finite(first_row, values).map_or(Ok(()), Err)
    }

    /// The first non-finite entry of a band as an error, with its likely cause.
    fn non_finite(&self, first_row: usize, values: &[f64]) -> Option<Error> {
        let f32_out = self.dtype == Dtype::F32;
        // Scanned in parallel by pieces; the first bad piece names the first bad entry.
        const PIECE: usize = 1 << 18;
        let bad = |v: &f64| !v.is_finite() || (f32_out && !(*v as f32).is_finite());
        let firsts: Vec<Option<usize>> = values
            .par_chunks(PIECE)
            .map(|c| c.iter().position(bad))
            .collect();
        let p = firsts
            .iter()
            .enumerate()
            .find_map(|(i, f)| f.map(|f| i * PIECE + f))?;
        let v = values[p];
        let mut index = vec![first_row + p / self.row_elems];
        let mut rest = p % self.row_elems;
        let dims = &self.shape[1..];
        let mut tail = Vec::with_capacity(dims.len());
        for (i, _) in dims.iter().enumerate() {
            let stride: usize = dims[i + 1..].iter().product();
            tail.push(rest / stride.max(1));
            rest %= stride.max(1);
        }
        index.extend(tail);
        let cause = if v.is_finite() {
            format!("|{v:e}| exceeds the f32 range; write it in f64 (--dtype f64)")
        } else if f32_out {
            format!(
                "values beyond the f32 range (use --dtype f64, which also computes in f64), or {OVERFLOW_CAUSE}"
            )
        } else {
            OVERFLOW_CAUSE.to_string()
        };
        Some(Error::NonFiniteResult {
            what: format!("kernel {}", self.path.display()),
            index: format!("{index:?}"),
            value: if v.is_finite() {
                f64::INFINITY.copysign(v)
            } else {
                v
            },
            cause,
        })
    }
}

/// The first lines of a progress log: format, shape, dtype, band size and job.
pub fn progress_header(
    shape: &[usize],
    dtype: Dtype,
    rows_per_band: usize,
    job_key: &str,
) -> String {
    format!(
        "ntk-kernel-file v2\nshape {shape:?} {dtype:?} rows_per_band {rows_per_band}\njob {:032x}\n",
        xxhash_rust::xxh3::xxh3_128(job_key.as_bytes())
    )
}

/// Why a progress log was not accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProgressError {
    /// The header differs: another command, inputs, settings or memory budget.
    OtherJob,
    /// A line that is not `band B CHECKSUM` with `B` below the band count (1-based line).
    BadLine(usize),
    /// A band recorded twice with different checksums.
    Conflict(usize),
}

/// Parses a progress log written for `header` (see [`progress_header`]) and `bands` bands:
/// the checksum of each finished band, `None` for the others. Strict: any other line is
/// an error, so a log that was edited or appended to by hand is refused.
pub fn parse_progress(
    text: &str,
    header: &str,
    bands: usize,
) -> core::result::Result<Vec<Option<u64>>, ProgressError> {
    let rest = text.strip_prefix(header).ok_or(ProgressError::OtherJob)?;
    let mut sums = vec![None; bands];
    let first = header.lines().count() + 1;
    for (i, line) in rest.split_terminator('\n').enumerate() {
        let bad = || ProgressError::BadLine(first + i);
        let mut words = line.split(' ');
        let (Some("band"), Some(b), Some(sum), None) =
            (words.next(), words.next(), words.next(), words.next())
        else {
            return Err(bad());
        };
        let digits = |s: &str, radix: u32| {
            !s.is_empty() && s.len() <= 20 && s.chars().all(|c| c.is_digit(radix))
        };
        if !digits(b, 10) || sum.len() != 16 || !digits(sum, 16) {
            return Err(bad());
        }
        let b: usize = b.parse().map_err(|_| bad())?;
        let sum = u64::from_str_radix(sum, 16).map_err(|_| bad())?;
        let slot = sums.get_mut(b).ok_or_else(bad)?;
        match slot {
            Some(s) if *s != sum => return Err(ProgressError::Conflict(b)),
            _ => *slot = Some(sum),
        }
    }
    Ok(sums)
}

fn io_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What a non-finite kernel entry probably means.
const OVERFLOW_CAUSE: &str = "the computation overflowed: inputs, weights or activation \
     parameters too large (e.g. inputs near 1e308, leaky_relu:1e300)";

impl KernelFile {
    /// Starts (or, with `resume`, continues) the file `target` of `shape` (rows first) in
    /// `dtype`, written in bands of `rows_per_band` rows. `job_key` describes everything
    /// the values depend on; a resume with another key, shape or band size is refused, and
    /// so is one whose finished bands no longer match their checksums. Takes the output's
    /// lock: a second writer of the same target is refused.
    pub fn create(
        target: &Output,
        shape: &[usize],
        dtype: Dtype,
        rows_per_band: usize,
        job_key: &str,
        resume: bool,
    ) -> Result<Self> {
        if !matches!(dtype, Dtype::F32 | Dtype::F64) {
            return Err(Error::invalid(
                "kernel dtype",
                format!("{dtype:?}"),
                "f32 or f64",
            ));
        }
        let path = target.path();
        let too_big = || {
            Error::invalid(
                target.flag(),
                path.display(),
                format!("a kernel whose size fits in memory addresses (shape {shape:?})"),
            )
        };
        let header = header_bytes(dtype, shape);
        let row_elems = shape[1..]
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(too_big)?;
        let total = shape[0]
            .checked_mul(row_elems)
            .and_then(|e| e.checked_mul(dtype.size()))
            .and_then(|b| b.checked_add(header.len()))
            .filter(|&t| t <= i64::MAX as usize)
            .ok_or_else(too_big)?;
        let rows_per_band = rows_per_band.max(1);
        let bands = shape[0].div_ceil(rows_per_band).max(1);
        let lock = target.lock()?;
        let partial_path = target.hidden("partial");
        let progress_path = target.hidden("progress");
        let head = progress_header(shape, dtype, rows_per_band, job_key);
        let (partial, progress, sums) = if resume
            && partial_path.symlink_metadata().is_ok()
            && progress_path.symlink_metadata().is_ok()
        {
            Self::reopen(&partial_path, &progress_path, &head, bands, total)?
        } else {
            safe_file::remove_stale(&partial_path)?;
            safe_file::remove_stale(&progress_path)?;
            let partial = NewFile::create(&partial_path)?;
            let mut progress = NewFile::create(&progress_path)?;
            let made = (|| -> std::io::Result<()> {
                reserve(partial.file(), total as u64)?;
                let mut file: &File = partial.file();
                file.write_all(&header)?;
                partial.file().sync_all()?;
                progress.file_mut().write_all(head.as_bytes())?;
                progress.file().sync_all()
            })();
            made.map_err(io_err(path))?;
            (partial, progress, vec![None; bands])
        };
        let file = KernelFile {
            target: target.clone(),
            partial,
            progress: Some(progress),
            _lock: Some(lock),
            shape: shape.to_vec(),
            dtype,
            header_len: header.len(),
            row_elems,
            rows_per_band,
            done: sums.iter().map(Option::is_some).collect(),
        };
        if let Err(e) = file.verify_resumed(&sums) {
            // Not ours to delete on a refused resume: a run without --resume starts over.
            file.suspend();
            return Err(e);
        }
        Ok(file)
    }

    /// Opens the partial file and progress log of an interrupted run and verifies them.
    fn reopen(
        partial_path: &std::path::Path,
        progress_path: &std::path::Path,
        head: &str,
        bands: usize,
        total: usize,
    ) -> Result<(NewFile, NewFile, Vec<Option<u64>>)> {
        let refuse = |why: String| {
            Error::invalid(
                "--resume",
                progress_path.display(),
                format!("{why}; run without --resume to start over"),
            )
        };
        let mut pf = safe_file::open_own(progress_path, true)?;
        let mut text = String::new();
        std::io::Read::read_to_string(&mut pf, &mut text)
            .map_err(|_| refuse("a readable text progress log".into()))?;
        // A crash in the middle of a line leaves it without its newline: it records no
        // finished band, so it is dropped (its band is computed again) and the log goes on
        // from the last whole line.
        let whole = text.rfind('\n').map_or(0, |i| i + 1);
        if whole < text.len() && whole >= head.len() {
            text.truncate(whole);
            pf.set_len(whole as u64).map_err(io_err(progress_path))?;
            std::io::Seek::seek(&mut pf, std::io::SeekFrom::End(0))
                .map_err(io_err(progress_path))?;
        }
        let sums = parse_progress(&text, head, bands).map_err(|e| {
            refuse(match e {
                ProgressError::OtherJob => "a progress log from the same command (the settings, \
                     inputs or memory budget differ)"
                    .into(),
                ProgressError::BadLine(l) => {
                    format!("a progress log written by ntk (line {l} is not `band B CHECKSUM`)")
                }
                ProgressError::Conflict(b) => {
                    format!("a progress log written by ntk (band {b} recorded twice)")
                }
            })
        })?;
        let file = safe_file::open_own(partial_path, true)?;
        let len = file.metadata().map_err(io_err(partial_path))?.len();
        if len != total as u64 {
            return Err(Error::npy(
                partial_path,
                format!("partial kernel of {len} bytes, expected {total}; run without --resume"),
            ));
        }
        let partial = NewFile::adopt(file, partial_path.to_path_buf());
        let progress = NewFile::adopt(pf, progress_path.to_path_buf());
        Ok((partial, progress, sums))
    }

    /// Joins the partial file of `target` that another process created (and whose lock it
    /// holds) with the same `shape`, `dtype` and `rows_per_band`, to write bands into it.
    /// Such a file never removes, logs or commits anything: [`KernelFile::write_band`]
    /// syncs the band and returns its checksum for the owner to record.
    pub fn join(
        target: &Output,
        shape: &[usize],
        dtype: Dtype,
        rows_per_band: usize,
    ) -> Result<Self> {
        let header = header_bytes(dtype, shape);
        let row_elems = shape[1..].iter().fold(1usize, |a, &d| a.saturating_mul(d));
        let total = shape[0]
            .saturating_mul(row_elems)
            .saturating_mul(dtype.size())
            .saturating_add(header.len());
        let partial_path = target.hidden("partial");
        let file = safe_file::open_own(&partial_path, true)?;
        let len = file.metadata().map_err(io_err(&partial_path))?.len();
        if len != total as u64 {
            return Err(Error::npy(
                &partial_path,
                format!("partial kernel of {len} bytes, expected {total}"),
            ));
        }
        let mut partial = NewFile::adopt(file, partial_path);
        partial.keep();
        let rows_per_band = rows_per_band.max(1);
        Ok(KernelFile {
            target: target.clone(),
            partial,
            progress: None,
            _lock: None,
            shape: shape.to_vec(),
            dtype,
            header_len: header.len(),
            row_elems,
            rows_per_band,
            done: vec![false; shape[0].div_ceil(rows_per_band).max(1)],
        })
    }

    /// The band size recorded in the progress log of an interrupted run of the same job,
    /// shape and dtype at `target`, if there is one (read without the lock: a hint, which
    /// [`KernelFile::create`] verifies).
    pub fn resumable_rows(
        target: &Output,
        shape: &[usize],
        dtype: Dtype,
        job_key: &str,
    ) -> Option<usize> {
        let text = std::fs::read_to_string(target.hidden("progress")).ok()?;
        let mut lines = text.lines();
        let (first, second, third) = (lines.next()?, lines.next()?, lines.next()?);
        let rows: usize = second
            .strip_prefix(&format!("shape {shape:?} {dtype:?} rows_per_band "))?
            .parse()
            .ok()?;
        let head = progress_header(shape, dtype, rows, job_key);
        (head == format!("{first}\n{second}\n{third}\n")).then_some(rows)
    }

    /// Records band `b`, written by another process with checksum `sum`, in the progress
    /// log (the owner only).
    pub fn record_band(&mut self, b: usize, sum: u64) -> Result<()> {
        if b >= self.done.len() {
            return Err(Error::invalid(
                "band",
                b,
                format!("a band below {}", self.done.len()),
            ));
        }
        if let Some(progress) = self.progress.as_mut() {
            let p = progress.path().to_path_buf();
            let f = progress.file_mut();
            // Not synced: a line a crash loses makes `--resume` compute its band again, and
            // a line that outlives its band's bytes fails the band's checksum (the same
            // rule as the bands' data, which is not synced either). A sync here waited
            // 30–40 ms per band on ext4 (a journal commit).
            // One write of the whole line: `writeln!` on a file issues a system call per
            // piece, and a run killed between them left a torn line that refused the resume.
            let line = format!("band {b} {sum:016x}\n");
            f.write_all(line.as_bytes()).map_err(io_err(&p))?;
        }
        self.done[b] = true;
        Ok(())
    }

    /// Which bands are on disk.
    pub fn done(&self) -> &[bool] {
        &self.done
    }

    /// Whether band `b` is already on disk (from a resumed run).
    pub fn is_done(&self, b: usize) -> bool {
        self.done[b]
    }

    /// Number of bands already on disk.
    pub fn done_count(&self) -> usize {
        self.done.iter().filter(|&&d| d).count()
    }

    /// Reads back the block `rows × cols` of finished bands (every row in `rows` must lie in
    /// a band already on disk), as row-major `f64` of `rows.len() × cols.len() × rest` where
    /// `rest` is the product of the dimensions after the second (`k²` for a full kernel).
    /// An f32 file's values are widened exactly, so writing them back gives the same bytes.
    pub fn read_block(&self, rows: Range<usize>, cols: Range<usize>) -> Result<Vec<f64>> {
        let n2 = self.shape.get(1).copied().unwrap_or(1);
        let rest = self.row_elems / n2.max(1);
        if rows.end > self.shape[0]
            || cols.end > n2
            || rows.start > rows.end
            || cols.start > cols.end
        {
            return Err(Error::invalid(
                "kernel block",
                format!("rows {rows:?}, columns {cols:?}"),
                format!("a block within {}×{n2}", self.shape[0]),
            ));
        }
        let rpb = self.rows_per_band.max(1);
        if let Some(r) = rows.clone().find(|r| !self.done[r / rpb]) {
            return Err(Error::invalid(
                "kernel block",
                format!("row {r}"),
                "rows of finished bands",
            ));
        }
        let size = self.dtype.size();
        let seg = cols.len() * rest;
        let mut out = Vec::with_capacity(rows.len() * seg);
        let mut buf = vec![0u8; seg * size];
        for r in rows {
            let at = self.header_len + (r * self.row_elems + cols.start * rest) * size;
            self.partial
                .file()
                .read_exact_at(&mut buf, at as u64)
                .map_err(io_err(self.partial.path()))?;
            match self.dtype {
                Dtype::F32 => out.extend(
                    buf.chunks_exact(4)
                        .map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64),
                ),
                _ => out.extend(
                    buf.chunks_exact(8)
                        .map(|c| f64::from_le_bytes(c.try_into().unwrap())),
                ),
            }
        }
        Ok(out)
    }

    /// The rows of band `b`.
    pub fn band_rows(&self, b: usize) -> Range<usize> {
        let first = b * self.rows_per_band;
        first.min(self.shape[0])..((b + 1) * self.rows_per_band).min(self.shape[0])
    }

    fn band_range(&self, b: usize) -> (usize, usize) {
        let size = self.dtype.size();
        let first = b * self.rows_per_band;
        let last = ((b + 1) * self.rows_per_band).min(self.shape[0]);
        let offset = self.header_len + first * self.row_elems * size;
        (offset, last.saturating_sub(first) * self.row_elems * size)
    }

    /// Writes band `b`, the rows starting at `first_row`, from `values` (row-major `f64`,
    /// converted to the file's dtype), flushes it and records it as done with its checksum,
    /// which it returns (a joined file syncs the band's data instead of logging it). A value
    /// that is not finite (or not finite once converted to f32) is an error naming the entry
    /// and its likely cause.
    pub fn write_band(&mut self, b: usize, first_row: usize, values: &[f64]) -> Result<u64> {
        let writer = self.band_writer()?;
        writer.check_finite(first_row, values)?;
        let sum = writer.write(first_row, values)?;
        if self.progress.is_none() {
            // Another process logs it: the bytes must be on the (shared) disk first.
            self.partial
                .file()
                .sync_data()
                .map_err(io_err(self.target.path()))?;
        }
        self.record_band(b, sum)?;
        Ok(sum)
    }

    /// A handle that writes rows into this partial file from any thread
    /// ([`BandWriter::write`]); the band is then recorded with [`KernelFile::record_band`].
    pub fn band_writer(&self) -> Result<BandWriter> {
        Ok(BandWriter {
            file: self
                .partial
                .file()
                .try_clone()
                .map_err(io_err(self.partial.path()))?,
            path: self.target.path().to_path_buf(),
            dtype: self.dtype,
            header_len: self.header_len,
            row_elems: self.row_elems,
            shape: self.shape.clone(),
        })
    }

    /// Verifies the checksums of the bands a resumed run found finished; a band whose bytes
    /// changed since it was written is an error.
    fn verify_resumed(&self, sums: &[Option<u64>]) -> Result<()> {
        for (b, s) in sums.iter().enumerate() {
            let Some(s) = s else { continue };
            let (offset, len) = self.band_range(b);
            let got = if len == 0 {
                xxhash_rust::xxh3::xxh3_64(&[])
            } else {
                // SAFETY: as in `write_band`: our own partial file, under the lock, its
                // length checked; a read-only map of a range inside it, dropped at once.
                let map = unsafe {
                    MmapOptions::new()
                        .offset(offset as u64)
                        .len(len)
                        .map(self.partial.file())
                }
                .map_err(io_err(self.partial.path()))?;
                xxhash_rust::xxh3::xxh3_64(&map)
            };
            if got != *s {
                return Err(Error::invalid(
                    "--resume",
                    self.partial.path().display(),
                    format!(
                        "a partial kernel whose finished bands match their checksums (band {b} \
                         changed since it was written); run without --resume to start over"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Renames the complete file into place, removes the progress log and releases the
    /// lock.
    pub fn commit(self) -> Result<()> {
        if let Some(b) = self.done.iter().position(|d| !d) {
            return Err(Error::invalid(
                "kernel file",
                self.target.path().display(),
                format!("every band written (band {b} is missing)"),
            ));
        }
        if self.progress.is_none() {
            return Err(Error::invalid(
                "kernel file",
                self.target.path().display(),
                "committed by the process that created it",
            ));
        }
        let KernelFile {
            target,
            partial,
            progress,
            _lock,
            ..
        } = self;
        partial.commit(&target)?;
        drop(progress);
        Ok(())
    }

    /// Leaves the partial file and progress log on disk, as a killed run would, and releases
    /// the lock: a later `create` with `resume` continues from the finished bands.
    pub fn suspend(mut self) {
        self.partial.keep();
        if let Some(p) = self.progress.as_mut() {
            p.keep();
        }
    }

    /// The output this file becomes.
    pub fn target(&self) -> &Output {
        &self.target
    }

    /// The path of the partial file.
    pub fn partial_path(&self) -> PathBuf {
        self.partial.path().to_path_buf()
    }
}

/// Reserves `len` bytes for `file` so that later writes through a map cannot hit a full disk.
fn reserve(file: &File, len: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: `posix_fallocate` only reads the descriptor, which `file` keeps open for the
    // duration of the call; it returns an error number instead of setting errno.
    let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len as libc::off_t) };
    match rc {
        0 => Ok(()),
        // Filesystems without fallocate: fall back to extending the file (sparse).
        libc::EOPNOTSUPP | libc::EINVAL => file.set_len(len),
        e => Err(std::io::Error::from_raw_os_error(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::NpyFile;

    fn out(dir: &std::path::Path) -> Output {
        Output::new("--out", dir.join("k.npy")).unwrap()
    }

    #[test]
    fn bands_resume_and_commit() {
        let dir = tempfile::tempdir().unwrap();
        let target = out(dir.path());
        let values: Vec<f64> = (0..6 * 4).map(|v| v as f64 * 0.25).collect();
        let mut f = KernelFile::create(&target, &[6, 4], Dtype::F64, 2, "job", false).unwrap();
        f.write_band(0, 0, &values[..8]).unwrap();
        f.write_band(2, 4, &values[16..]).unwrap();
        f.suspend(); // interrupted
        assert!(!target.path().exists());
        assert!(KernelFile::create(&target, &[6, 4], Dtype::F64, 2, "other job", true).is_err());
        let mut f = KernelFile::create(&target, &[6, 4], Dtype::F64, 2, "job", true).unwrap();
        assert_eq!(f.done_count(), 2);
        assert!(f.is_done(0) && !f.is_done(1) && f.is_done(2));
        f.write_band(1, 2, &values[8..16]).unwrap();
        f.commit().unwrap();
        let k = NpyFile::open(target.path()).unwrap();
        assert_eq!(k.as_f64().unwrap(), &values[..]);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn incomplete_or_dropped_files_are_not_committed_and_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = out(dir.path());
        let mut f = KernelFile::create(&target, &[2, 2], Dtype::F32, 1, "job", false).unwrap();
        f.write_band(0, 0, &[1.0, 2.0]).unwrap();
        assert!(f.commit().is_err());
        assert!(!target.path().exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn non_finite_entries_are_refused_with_their_index_and_cause() {
        let dir = tempfile::tempdir().unwrap();
        let target = out(dir.path());
        let mut f = KernelFile::create(&target, &[2, 3], Dtype::F32, 1, "job", false).unwrap();
        let e = f
            .write_band(1, 1, &[1.0, 1e39, 2.0])
            .unwrap_err()
            .to_string();
        assert!(e.contains("[1, 1]") && e.contains("f64"), "{e}");
        let e = f
            .write_band(0, 0, &[f64::NAN, 0.0, 0.0])
            .unwrap_err()
            .to_string();
        assert!(e.contains("[0, 0]") && e.contains("overflowed"), "{e}");
    }

    /// The scan runs by pieces in parallel: with bad entries in several pieces, the error
    /// still names the first one. Bytes and checksum of a band written in many write
    /// pieces (and hashed on another thread) are those of the values, in f32 and f64.
    #[test]
    fn the_first_of_many_bad_entries_is_named_and_big_bands_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let target = out(dir.path());
        let cols = 1000;
        let rows = 700; // 700 000 values: several scan pieces and write pieces
        let mut values: Vec<f64> = (0..rows * cols).map(|v| (v as f64).sin()).collect();
        let mut f =
            KernelFile::create(&target, &[rows, cols], Dtype::F32, rows, "job", false).unwrap();
        for at in [650 * cols + 7, 300 * cols + 999, 600 * cols] {
            values[at] = f64::INFINITY;
        }
        let e = f.write_band(0, 0, &values).unwrap_err().to_string();
        assert!(e.contains("[300, 999]"), "{e}");
        drop(f);
        for at in [650 * cols + 7, 300 * cols + 999, 600 * cols] {
            values[at] = 0.5;
        }
        for dtype in [Dtype::F32, Dtype::F64] {
            let target = out(dir.path());
            let mut f =
                KernelFile::create(&target, &[rows, cols], dtype, rows, "j", false).unwrap();
            let sum = f.write_band(0, 0, &values).unwrap();
            let mut bytes = Vec::new();
            for v in &values {
                match dtype {
                    Dtype::F32 => bytes.extend_from_slice(&(*v as f32).to_le_bytes()),
                    _ => bytes.extend_from_slice(&v.to_le_bytes()),
                }
            }
            assert_eq!(sum, xxhash_rust::xxh3::xxh3_64(&bytes));
            f.commit().unwrap();
            let k = NpyFile::open(target.path()).unwrap();
            let got = k.to_f64_vec();
            let want: Vec<f64> = match dtype {
                Dtype::F32 => values.iter().map(|v| f64::from(*v as f32)).collect(),
                _ => values.clone(),
            };
            assert_eq!(got, want);
        }
    }

    #[test]
    fn a_tampered_band_or_log_refuses_the_resume() {
        let dir = tempfile::tempdir().unwrap();
        let target = out(dir.path());
        let mut f = KernelFile::create(&target, &[4, 2], Dtype::F64, 2, "job", false).unwrap();
        f.write_band(0, 0, &[1.0, 2.0, 3.0, 4.0]).unwrap();
        let partial = f.partial_path();
        f.suspend();
        // Appended by hand: no checksum.
        let progress = target.hidden("progress");
        let log = std::fs::read_to_string(&progress).unwrap();
        std::fs::write(&progress, format!("{log}band 1\n")).unwrap();
        let e = KernelFile::create(&target, &[4, 2], Dtype::F64, 2, "job", true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 5"), "{e}");
        std::fs::write(&progress, &log).unwrap();
        // The band's bytes changed after it was logged.
        let mut bytes = std::fs::read(&partial).unwrap();
        let at = bytes.len() - 4 * 8 - 1;
        bytes[at] ^= 1;
        std::fs::write(&partial, &bytes).unwrap();
        let e = KernelFile::create(&target, &[4, 2], Dtype::F64, 2, "job", true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("band 0 changed"), "{e}");
    }

    /// A run killed in the middle of a log line: the torn line names no band, so its band
    /// is computed again, and the lines written after it start on a line of their own.
    #[test]
    fn a_torn_last_log_line_recomputes_its_band() {
        let dir = tempfile::tempdir().unwrap();
        let target = out(dir.path());
        let values: Vec<f64> = (0..4 * 2).map(|v| v as f64 + 0.5).collect();
        let mut f = KernelFile::create(&target, &[4, 2], Dtype::F64, 2, "job", false).unwrap();
        f.write_band(0, 0, &values[..4]).unwrap();
        f.write_band(1, 2, &values[4..]).unwrap();
        f.suspend();
        let progress = target.hidden("progress");
        let log = std::fs::read_to_string(&progress).unwrap();
        std::fs::write(&progress, &log[..log.len() - 9]).unwrap(); // band 1's line, torn
        let mut f = KernelFile::create(&target, &[4, 2], Dtype::F64, 2, "job", true).unwrap();
        assert!(f.is_done(0) && !f.is_done(1));
        f.write_band(1, 2, &values[4..]).unwrap();
        f.suspend();
        assert_eq!(std::fs::read_to_string(&progress).unwrap(), log);
        let f = KernelFile::create(&target, &[4, 2], Dtype::F64, 2, "job", true).unwrap();
        assert_eq!(f.done_count(), 2);
        f.commit().unwrap();
        let k = NpyFile::open(target.path()).unwrap();
        assert_eq!(k.as_f64().unwrap(), &values[..]);
    }

    #[test]
    fn progress_logs_parse_strictly() {
        let h = progress_header(&[4, 4], Dtype::F32, 2, "key");
        let ok = format!("{h}band 1 00000000000000ff\nband 1 00000000000000ff\n");
        assert_eq!(parse_progress(&ok, &h, 2), Ok(vec![None, Some(255)]));
        let other = progress_header(&[4, 4], Dtype::F32, 2, "other key");
        assert_eq!(parse_progress(&ok, &other, 2), Err(ProgressError::OtherJob));
        for (bad, line) in [
            ("band 2 00000000000000ff\n", 4),
            ("band 0 ff\n", 4),
            ("band 0 00000000000000ff extra\n", 4),
            ("band -1 00000000000000ff\n", 4),
            ("band 99999999999999999999999 00000000000000ff\n", 4),
            ("\n", 4),
        ] {
            assert_eq!(
                parse_progress(&format!("{h}{bad}"), &h, 2),
                Err(ProgressError::BadLine(line)),
                "{bad:?}"
            );
        }
        let conflict = format!("{h}band 0 00000000000000ff\nband 0 00000000000000fe\n");
        assert_eq!(
            parse_progress(&conflict, &h, 2),
            Err(ProgressError::Conflict(0))
        );
    }
}
