//! A 2-D `.npy` kernel (f32 or f64) read in bands of rows through a memory map, for
//! kernels larger than memory.
//!
//! The header is validated by [`NpyFile`]; the payload is mapped once. A band of rows is
//! handed to the caller in place (zero copy when the payload is aligned, as in files written
//! by `ntk kernel` and by NumPy), the next band is announced to the kernel (`MADV_WILLNEED`,
//! read-ahead while the current band is computed on) and, once used, the band's pages are
//! dropped from the process (`MADV_DONTNEED`): the page cache may keep them, but the
//! resident set stays near one band, whatever the file's size.

use std::borrow::Cow;
use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};

use memmap2::{Advice, Mmap, UncheckedAdvice};

use super::bus_guard::Registration;
use super::npy::{Dtype, NpyFile};
use crate::error::{Error, Result};

/// The values of a band of rows, row-major.
#[derive(Debug)]
pub enum BandValues<'a> {
    /// A single-precision file.
    F32(Cow<'a, [f32]>),
    /// A double-precision file.
    F64(Cow<'a, [f64]>),
}

/// A memory-mapped 2-D `.npy` matrix of `f32` or `f64`, read in row bands.
pub struct MappedKernel {
    path: PathBuf,
    rows: usize,
    cols: usize,
    dtype: Dtype,
    map: Mmap,
    /// A SIGBUS in the map names this file ([`bus_guard`](super::bus_guard)).
    _guard: Registration,
    offset: usize,
}

impl std::fmt::Debug for MappedKernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MappedKernel")
            .field("path", &self.path)
            .field("rows", &self.rows)
            .field("cols", &self.cols)
            .field("dtype", &self.dtype)
            .finish()
    }
}

/// Byte offset of the payload: after the magic, version, header length and header.
fn payload_offset(bytes: &[u8]) -> Option<usize> {
    match bytes.get(6)? {
        1 => Some(10 + u16::from_le_bytes([*bytes.get(8)?, *bytes.get(9)?]) as usize),
        2 | 3 => {
            let b: [u8; 4] = bytes.get(8..12)?.try_into().ok()?;
            Some(12 + u32::from_le_bytes(b) as usize)
        }
        _ => None,
    }
}

impl MappedKernel {
    /// Opens `path`: a 2-D, non-empty, C-ordered `.npy` of `f32` or `f64` (the header and
    /// the file's length are checked by [`NpyFile::open`]).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let npy = NpyFile::open(&path)?;
        let (rows, cols) = npy.expect_2d()?;
        let dtype = npy.dtype();
        if !matches!(dtype, Dtype::F32 | Dtype::F64) {
            return Err(Error::npy(
                &path,
                format!("dtype {dtype:?}: a kernel must be float32 or float64"),
            ));
        }
        drop(npy);
        let io = |source| Error::Io {
            path: path.clone(),
            source,
        };
        let file = File::open(&path).map_err(io)?;
        // SAFETY: a read-only shared map of a regular file; as for every memory map, another
        // process truncating the file meanwhile could raise SIGBUS, which is why its length
        // was checked against the header just above (NpyFile::open).
        let map = unsafe { Mmap::map(&file) }.map_err(io)?;
        let guard = Registration::map(&map, &path);
        let offset = payload_offset(&map)
            .filter(|o| o + rows * cols * dtype.size() <= map.len())
            .ok_or_else(|| Error::npy(&path, "the header changed while the file was opened"))?;
        Ok(MappedKernel {
            path,
            rows,
            cols,
            dtype,
            map,
            offset,
            _guard: guard,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `(rows, cols)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// The element type (`F32` or `F64`).
    pub fn dtype(&self) -> Dtype {
        self.dtype
    }

    fn byte_range(&self, rows: &Range<usize>) -> Range<usize> {
        let row = self.cols * self.dtype.size();
        self.offset + rows.start * row..self.offset + rows.end * row
    }

    /// Entry `(i, j)` in `f64`, read from the map.
    ///
    /// # Panics
    /// When `i ≥ rows` or `j ≥ cols`.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        assert!(i < self.rows && j < self.cols, "({i}, {j}) out of range");
        let size = self.dtype.size();
        let at = self.offset + (i * self.cols + j) * size;
        let b = &self.map[at..at + size];
        match self.dtype {
            Dtype::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
            _ => f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
        }
    }

    /// Asks the kernel to start reading rows `rows` in the background.
    pub fn prefetch(&self, rows: Range<usize>) {
        let r = self.byte_range(&rows);
        // Advice only: a failure changes nothing but speed.
        let _ = self.map.advise_range(Advice::WillNeed, r.start, r.len());
    }

    /// Calls `f` with rows `rows` (row-major, `rows.len() × cols`), then drops their pages
    /// from the process's resident set.
    ///
    /// # Panics
    /// When `rows` is not within `0..rows`.
    pub fn with_band<R>(&self, rows: Range<usize>, f: impl FnOnce(BandValues<'_>) -> R) -> R {
        assert!(
            rows.start <= rows.end && rows.end <= self.rows,
            "band in range"
        );
        let r = self.byte_range(&rows);
        let bytes = &self.map[r.clone()];
        let out = match self.dtype {
            Dtype::F32 => f(BandValues::F32(cast_or_copy(bytes, f32::from_le_bytes))),
            _ => f(BandValues::F64(cast_or_copy(bytes, f64::from_le_bytes))),
        };
        // SAFETY: MADV_DONTNEED on a read-only shared file mapping only drops the pages from
        // this process; a later access reads the same bytes from the page cache or the file.
        // No borrow of the band outlives `f`, and nothing in this mapping is ever written.
        let _ = unsafe {
            self.map
                .unchecked_advise_range(UncheckedAdvice::DontNeed, r.start, r.len())
        };
        out
    }
}

/// The bytes as `T` in place when aligned, else a converted copy.
fn cast_or_copy<const S: usize, T: Copy + Default>(
    bytes: &[u8],
    from_le: fn([u8; S]) -> T,
) -> Cow<'_, [T]> {
    debug_assert_eq!(core::mem::size_of::<T>(), S);
    if (bytes.as_ptr() as usize).is_multiple_of(core::mem::align_of::<T>()) {
        // SAFETY: the pointer is aligned for T (checked above), the length is a whole number
        // of T (rows × cols × S bytes), the bytes live as long as the borrow, and T is f32
        // or f64, for which every bit pattern is a valid value (little-endian targets only,
        // see data::npy).
        Cow::Borrowed(unsafe {
            core::slice::from_raw_parts(bytes.as_ptr().cast::<T>(), bytes.len() / S)
        })
    } else {
        Cow::Owned(
            bytes
                .chunks_exact(S)
                .map(|c| from_le(c.try_into().unwrap_or([0; S])))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::npy;

    #[test]
    fn bands_read_the_file_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.npy");
        npy::write(&p, &[3, 4], (0..12).map(|v| v as f32)).unwrap();
        let m = MappedKernel::open(&p).unwrap();
        assert_eq!(m.shape(), (3, 4));
        assert_eq!(m.get(2, 1), 9.0);
        m.prefetch(1..3);
        let got = m.with_band(1..3, |b| match b {
            BandValues::F32(v) => {
                assert!(matches!(v, Cow::Borrowed(_)));
                v.to_vec()
            }
            BandValues::F64(_) => panic!("f32 file"),
        });
        assert_eq!(got, (4..12).map(|v| v as f32).collect::<Vec<_>>());
        // Dropped pages read back the same.
        assert_eq!(m.get(1, 0), 4.0);
        let q = dir.path().join("i.npy");
        npy::write(&q, &[2, 2], [1.0f64, 2.0, 3.0, 4.0]).unwrap();
        assert!(MappedKernel::open(&q).is_ok());
        let e = dir.path().join("v.npy");
        npy::write(&e, &[4], [1.0f64, 2.0, 3.0, 4.0]).unwrap();
        assert!(
            MappedKernel::open(&e)
                .unwrap_err()
                .to_string()
                .contains("2-D")
        );
    }

    #[test]
    fn unaligned_payloads_are_copied() {
        let bytes: Vec<u8> = [1.5f64, -2.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let mut shifted = vec![0u8];
        shifted.extend_from_slice(&bytes);
        let v = cast_or_copy(&shifted[1..], f64::from_le_bytes);
        assert_eq!(&v[..], &[1.5, -2.0]);
    }
}
