//! A `.npy` kernel file written band by band through a memory map, for Gram matrices larger
//! than memory, with resume after an interruption.
//!
//! The file is built under a hidden temporary name next to the target (`.K.npy.partial`),
//! its full size reserved on disk up front (`posix_fallocate`, so a full disk is an error at
//! the start, never a `SIGBUS` in the middle), each band of rows mapped, written, flushed
//! and unmapped in turn, and its index appended to a progress file (`.K.npy.progress`) only
//! after the flush. [`KernelFile::commit`] renames the file into place: the target appears
//! only when complete. A killed run leaves the two hidden files; a new run with `resume`
//! and the same job key skips the bands already done.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use memmap2::MmapOptions;

use super::npy::{Dtype, header_bytes};
use crate::error::{Error, Result};

/// An output kernel file under construction.
#[derive(Debug)]
pub struct KernelFile {
    target: PathBuf,
    partial: PathBuf,
    progress: PathBuf,
    file: File,
    dtype: Dtype,
    header_len: usize,
    row_elems: usize,
    done: Vec<bool>,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl KernelFile {
    /// Starts (or, with `resume`, continues) the file `target` of `shape` (rows first) in
    /// `dtype`, written in `bands` bands. `job_key` describes everything the values depend
    /// on; a resume with another key, shape or band count is refused.
    pub fn create(
        target: impl AsRef<Path>,
        shape: &[usize],
        dtype: Dtype,
        bands: usize,
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
        let target = target.as_ref().to_path_buf();
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !dir.is_dir() {
            return Err(Error::Io {
                path: target.clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("output directory {} does not exist", dir.display()),
                ),
            });
        }
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let partial = dir.join(format!(".{name}.partial"));
        let progress = dir.join(format!(".{name}.progress"));
        let header = header_bytes(dtype, shape);
        let row_elems: usize = shape[1..].iter().product();
        let total = header.len() + shape[0] * row_elems * dtype.size();
        let key =
            format!("ntk-kernel-file v1\nshape {shape:?} {dtype:?} bands {bands}\n{job_key}\n");
        let mut done = vec![false; bands];
        if resume && partial.exists() && progress.exists() {
            let text = std::fs::read_to_string(&progress).map_err(io_err(&progress))?;
            let Some(rest) = text.strip_prefix(&key) else {
                return Err(Error::invalid(
                    "--resume",
                    progress.display(),
                    "a progress file from the same command (the settings, inputs or memory budget differ; \
                     run without --resume to start over)",
                ));
            };
            for line in rest.lines() {
                if let Some(b) = line
                    .strip_prefix("band ")
                    .and_then(|b| b.parse::<usize>().ok())
                    && b < bands
                {
                    done[b] = true;
                }
            }
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(&partial)
                .map_err(io_err(&partial))?;
            let len = file.metadata().map_err(io_err(&partial))?.len();
            if len != total as u64 {
                return Err(Error::npy(
                    &partial,
                    format!("partial kernel of {len} bytes, expected {total}"),
                ));
            }
            return Ok(KernelFile {
                target,
                partial,
                progress,
                file,
                dtype,
                header_len: header.len(),
                row_elems,
                done,
            });
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&partial)
            .map_err(io_err(&target))?;
        let made = (|| -> std::io::Result<()> {
            reserve(&file, total as u64)?;
            file.write_all(&header)?;
            file.sync_all()?;
            std::fs::write(&progress, key.as_bytes())
        })();
        if let Err(source) = made {
            let _ = std::fs::remove_file(&partial);
            let _ = std::fs::remove_file(&progress);
            return Err(Error::Io {
                path: target,
                source,
            });
        }
        Ok(KernelFile {
            target,
            partial,
            progress,
            file,
            dtype,
            header_len: header.len(),
            row_elems,
            done,
        })
    }

    /// Whether band `b` is already on disk (from a resumed run).
    pub fn is_done(&self, b: usize) -> bool {
        self.done[b]
    }

    /// Number of bands already on disk.
    pub fn done_count(&self) -> usize {
        self.done.iter().filter(|&&d| d).count()
    }

    /// Writes band `b`, the rows starting at `first_row`, from `values` (row-major `f64`,
    /// converted to the file's dtype), flushes it and records it as done.
    pub fn write_band(&mut self, b: usize, first_row: usize, values: &[f64]) -> Result<()> {
        let size = self.dtype.size();
        let offset = self.header_len + first_row * self.row_elems * size;
        let len = values.len() * size;
        if len == 0 {
            return Ok(());
        }
        // SAFETY: the partial file is private to this run (hidden name, created or checked
        // above), opened read-write, its length reserved in full, and not truncated while
        // this map of `[offset, offset + len)` lives; the map is dropped before returning.
        let mut map = unsafe {
            MmapOptions::new()
                .offset(offset as u64)
                .len(len)
                .map_mut(&self.file)
        }
        .map_err(io_err(&self.target))?;
        match self.dtype {
            Dtype::F32 => {
                for (dst, v) in map.chunks_exact_mut(4).zip(values) {
                    dst.copy_from_slice(&(*v as f32).to_le_bytes());
                }
            }
            _ => {
                for (dst, v) in map.chunks_exact_mut(8).zip(values) {
                    dst.copy_from_slice(&v.to_le_bytes());
                }
            }
        }
        map.flush().map_err(io_err(&self.target))?;
        drop(map);
        let mut p = OpenOptions::new()
            .append(true)
            .open(&self.progress)
            .map_err(io_err(&self.progress))?;
        writeln!(p, "band {b}").map_err(io_err(&self.progress))?;
        self.done[b] = true;
        Ok(())
    }

    /// Renames the complete file into place and removes the progress file.
    pub fn commit(self) -> Result<()> {
        if let Some(b) = self.done.iter().position(|d| !d) {
            return Err(Error::invalid(
                "kernel file",
                self.target.display(),
                format!("every band written (band {b} is missing)"),
            ));
        }
        self.file.sync_all().map_err(io_err(&self.target))?;
        std::fs::rename(&self.partial, &self.target).map_err(io_err(&self.target))?;
        let _ = std::fs::remove_file(&self.progress);
        Ok(())
    }

    /// Removes the partial and progress files (after an error that a resume cannot mend).
    pub fn abandon(self) {
        let _ = std::fs::remove_file(&self.partial);
        let _ = std::fs::remove_file(&self.progress);
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

    #[test]
    fn bands_resume_and_commit() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("k.npy");
        let values: Vec<f64> = (0..6 * 4).map(|v| v as f64 * 0.25).collect();
        let mut f = KernelFile::create(&target, &[6, 4], Dtype::F64, 3, "job", false).unwrap();
        f.write_band(0, 0, &values[..8]).unwrap();
        f.write_band(2, 4, &values[16..]).unwrap();
        drop(f); // interrupted
        assert!(!target.exists());
        assert!(KernelFile::create(&target, &[6, 4], Dtype::F64, 3, "other job", true).is_err());
        let mut f = KernelFile::create(&target, &[6, 4], Dtype::F64, 3, "job", true).unwrap();
        assert_eq!(f.done_count(), 2);
        assert!(f.is_done(0) && !f.is_done(1) && f.is_done(2));
        f.write_band(1, 2, &values[8..16]).unwrap();
        f.commit().unwrap();
        let k = NpyFile::open(&target).unwrap();
        assert_eq!(k.as_f64().unwrap(), &values[..]);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn incomplete_files_are_not_committed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("k.npy");
        let mut f = KernelFile::create(&target, &[2, 2], Dtype::F32, 2, "job", false).unwrap();
        f.write_band(0, 0, &[1.0, 2.0]).unwrap();
        assert!(f.commit().is_err());
        assert!(!target.exists());
    }
}
