//! NumPy `.npy` files: memory-mapped reading (zero-copy when the payload is aligned) and
//! atomic writing.
//!
//! The header is parsed by the `npyz` crate; the mapping, the validation and the error
//! messages are ours. Supported: little-endian `f4`, `f8` (features, kernels) and `i4`, `i8`
//! (labels), C order, any number of dimensions (the caller checks the one it needs).

use std::fs::File;
use std::io::{BufWriter, Cursor, Read, Seek, Write};
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use npyz::{DType, NpyHeader, Order, TypeChar};

use super::bus_guard::Registration;
use super::safe_file::{self, Output};
use crate::error::{Error, Result};

/// Input files up to this size are read into memory rather than mapped (1 GiB), unless the
/// environment variable `NTK_COPY_LIMIT` gives another size in bytes ([`copy_limit`]).
pub const COPY_LIMIT: u64 = 1 << 30;

/// The size above which [`NpyFile::open`] maps a file instead of reading it: `NTK_COPY_LIMIT`
/// (bytes) when set to an integer, else [`COPY_LIMIT`]. Mapping saves memory; reading into
/// memory keeps a later change to the file out of the computation.
pub fn copy_limit() -> u64 {
    std::env::var("NTK_COPY_LIMIT")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(COPY_LIMIT)
}

/// The element types this reader accepts.
pub const SUPPORTED_DTYPES: &str = "float32 (<f4), float64 (<f8), int32 (<i4), int64 (<i8)";

/// An element type of a supported `.npy` file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    /// Little-endian `f4`.
    F32,
    /// Little-endian `f8`.
    F64,
    /// Little-endian `i4`.
    I32,
    /// Little-endian `i8`.
    I64,
}

impl Dtype {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Dtype::F32 | Dtype::I32 => 4,
            Dtype::F64 | Dtype::I64 => 8,
        }
    }

    fn descr(self) -> &'static str {
        match self {
            Dtype::F32 => "<f4",
            Dtype::F64 => "<f8",
            Dtype::I32 => "<i4",
            Dtype::I64 => "<i8",
        }
    }
}

/// An opened, validated `.npy` file, its payload memory-mapped.
pub struct NpyFile {
    path: PathBuf,
    shape: Vec<usize>,
    dtype: Dtype,
    bytes: Backing,
    offset: usize,
    /// The file, its length and content hash when opened, for [`NpyFile::verify_unchanged`].
    source: Option<(File, u64, u64)>,
    /// Present when the bytes are a map of the file itself (not a copy): a `SIGBUS` in the
    /// map then names this file ([`bus_guard`](super::bus_guard)).
    mapped: Option<Registration>,
}

/// Where the bytes of an [`NpyFile`] live.
enum Backing {
    Map(Mmap),
    Owned(Vec<u8>),
}

impl Backing {
    fn bytes(&self) -> &[u8] {
        match self {
            Backing::Map(m) => m,
            Backing::Owned(v) => v,
        }
    }
}

impl std::fmt::Debug for NpyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NpyFile")
            .field("path", &self.path)
            .field("shape", &self.shape)
            .field("dtype", &self.dtype)
            .finish()
    }
}

/// A read-only map of `file` (at `path`), registered so that a `SIGBUS` in it names the file.
fn map_file(file: &File, path: &Path) -> Result<(Mmap, Registration)> {
    // SAFETY: the map is read-only and private to the `NpyFile` that keeps it. Another
    // process truncating the file while it is mapped could raise SIGBUS: the hazard of every
    // memory map, and the reason only files above `copy_limit()` (or looked at in a few
    // places, `open_mapped`) are mapped; their length is checked against the header before
    // any element is read, and a SIGBUS in the map is reported as this file truncated
    // (`bus_guard`).
    let map = unsafe { Mmap::map(file) }.map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let registration = Registration::map(&map, path);
    Ok((map, registration))
}

impl NpyFile {
    /// Opens `path` (a regular file, see [`safe_file::open_input`]), parses and checks the
    /// header against the file's length. Files up to [`COPY_LIMIT`] bytes are read into
    /// memory, so that a later change to the file cannot mix into a computation or raise
    /// `SIGBUS`; larger ones are memory-mapped. Either way [`NpyFile::verify_unchanged`]
    /// tells whether the file changed since.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let io = |source| Error::Io {
            path: path.clone(),
            source,
        };
        let mut file = safe_file::open_input(&path)?;
        let len = file.metadata().map_err(io)?.len();
        if len == 0 {
            return Err(Error::npy(
                &path,
                "the file is empty (0 bytes; expected a .npy array)",
            ));
        }
        let mut mapped = None;
        let backing = if len <= copy_limit() {
            let mut buf = memmap2::MmapMut::map_anon(len as usize).map_err(io)?;
            file.read_exact(&mut buf).map_err(|e| {
                Error::npy(
                    &path,
                    format!("changed size while being read ({e}); expected {len} bytes"),
                )
            })?;
            buf.make_read_only().map_err(io)?
        } else {
            let (map, registration) = map_file(&file, &path)?;
            mapped = Some(registration);
            map
        };
        let hash = xxhash_rust::xxh3::xxh3_64(&backing);
        let mut npy = Self::parse(path, Backing::Map(backing))?;
        npy.source = Some((file, len, hash));
        npy.mapped = mapped;
        Ok(npy)
    }

    /// Opens `path` as [`NpyFile::open`] does, but always maps it and reads nothing ahead:
    /// only the pages of the elements asked for are read. For a look at a few elements of a
    /// large file (the diagonal of a kernel just written), not for inputs:
    /// [`NpyFile::verify_unchanged`] then checks nothing.
    pub fn open_mapped(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = safe_file::open_input(&path)?;
        let len = file
            .metadata()
            .map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?
            .len();
        if len == 0 {
            return Err(Error::npy(
                &path,
                "the file is empty (0 bytes; expected a .npy array)",
            ));
        }
        let (map, registration) = map_file(&file, &path)?;
        let mut npy = Self::parse(path, Backing::Map(map))?;
        npy.mapped = Some(registration);
        Ok(npy)
    }

    /// An XXH3 hash of the file's bytes (header and payload) as read.
    pub fn content_hash(&self) -> u64 {
        match &self.source {
            Some((_, _, h)) => *h,
            None => xxhash_rust::xxh3::xxh3_64(self.bytes.bytes()),
        }
    }

    /// Fails if the file on disk changed (size or content) since it was opened: a
    /// computation that read it while it was being rewritten would mix two versions.
    pub fn verify_unchanged(&self) -> Result<()> {
        let Some((file, len, hash)) = &self.source else {
            return Ok(());
        };
        let changed = |what: &str| {
            Error::npy(
                &self.path,
                format!(
                    "the input {what} while ntk was running; its result would mix two \
                     versions of the file, so nothing was written (run again on a stable copy)"
                ),
            )
        };
        let now = file
            .metadata()
            .map_err(|source| Error::Io {
                path: self.path.clone(),
                source,
            })?
            .len();
        if now != *len {
            return Err(changed("changed size"));
        }
        let again = match &self.bytes {
            // A mapped file shows the current contents.
            Backing::Map(m) if self.mapped.is_some() => xxhash_rust::xxh3::xxh3_64(m),
            _ => {
                let mut f = file;
                let mut h = xxhash_rust::xxh3::Xxh3::new();
                let mut buf = vec![0u8; 1 << 20];
                f.seek(std::io::SeekFrom::Start(0))
                    .and_then(|_| {
                        loop {
                            let n = f.read(&mut buf)?;
                            if n == 0 {
                                break Ok(());
                            }
                            h.update(&buf[..n]);
                        }
                    })
                    .map_err(|source| Error::Io {
                        path: self.path.clone(),
                        source,
                    })?;
                h.digest()
            }
        };
        if again != *hash {
            return Err(changed("was rewritten"));
        }
        Ok(())
    }

    /// Parses an in-memory `.npy` image; `label` names it in errors. Used by the fuzz
    /// target and for data that does not come from a file.
    pub fn from_bytes(label: impl Into<PathBuf>, bytes: Vec<u8>) -> Result<Self> {
        let path = label.into();
        if bytes.is_empty() {
            return Err(Error::npy(
                &path,
                "the file is empty (expected a .npy array)",
            ));
        }
        Self::parse(path, Backing::Owned(bytes))
    }

    fn parse(path: PathBuf, backing: Backing) -> Result<Self> {
        let bytes: &[u8] = backing.bytes();
        if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
            return Err(Error::npy(
                &path,
                "bad magic: not a .npy file (expected the bytes \\x93NUMPY)",
            ));
        }
        precheck_header(bytes).map_err(|reason| Error::npy(&path, reason))?;
        let mut cursor = Cursor::new(bytes);
        let header = NpyHeader::from_reader(&mut cursor).map_err(|e| {
            Error::npy(
                &path,
                format!(
                    "unreadable header: {}",
                    crate::error::one_line(&e.to_string(), 160)
                ),
            )
        })?;
        let offset = cursor.position() as usize;
        let dtype = match header.dtype() {
            DType::Plain(ts) => {
                let little = !matches!(ts.endianness(), npyz::Endianness::Big);
                match (ts.type_char(), ts.size_field(), little) {
                    (TypeChar::Float, 4, true) => Dtype::F32,
                    (TypeChar::Float, 8, true) => Dtype::F64,
                    (TypeChar::Int, 4, true) => Dtype::I32,
                    (TypeChar::Int, 8, true) => Dtype::I64,
                    _ => {
                        return Err(Error::npy(
                            &path,
                            format!("unsupported dtype `{ts}`: supported are {SUPPORTED_DTYPES}"),
                        ));
                    }
                }
            }
            other => {
                return Err(Error::npy(
                    &path,
                    format!(
                        "unsupported dtype `{}`: supported are {SUPPORTED_DTYPES}",
                        other.descr()
                    ),
                ));
            }
        };
        let shape: Vec<usize> = header.shape().iter().map(|&s| s as usize).collect();
        if header.order() == Order::Fortran && shape.iter().filter(|&&s| s > 1).count() > 1 {
            return Err(Error::npy(
                &path,
                "Fortran-ordered array: expected C order (save it with np.ascontiguousarray)",
            ));
        }
        let count = shape
            .iter()
            .try_fold(1usize, |acc, &s| acc.checked_mul(s))
            .and_then(|c| c.checked_mul(dtype.size()))
            .ok_or_else(|| Error::npy(&path, format!("shape {shape:?} overflows")))?;
        let have = bytes.len() - offset;
        if have < count {
            return Err(Error::npy(
                &path,
                format!(
                    "truncated: the header promises {count} bytes of data (shape {shape:?}, {}), \
                     the file has {have}",
                    dtype.descr()
                ),
            ));
        }
        Ok(NpyFile {
            path,
            shape,
            dtype,
            bytes: backing,
            offset,
            source: None,
            mapped: None,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The array's shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The element type.
    pub fn dtype(&self) -> Dtype {
        self.dtype
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// `true` when the array has no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn payload(&self) -> &[u8] {
        &self.bytes.bytes()[self.offset..self.offset + self.len() * self.dtype.size()]
    }

    /// The payload as `f32` without copying, when it is `f32` and aligned.
    pub fn as_f32(&self) -> Option<&[f32]> {
        if self.dtype != Dtype::F32 {
            return None;
        }
        cast_slice::<f32>(self.payload())
    }

    /// The payload as `f64` without copying, when it is `f64` and aligned.
    pub fn as_f64(&self) -> Option<&[f64]> {
        if self.dtype != Dtype::F64 {
            return None;
        }
        cast_slice::<f64>(self.payload())
    }

    /// Element `i` (flat C-order index) converted to `f64`, read from the map.
    ///
    /// # Panics
    /// If `i` is out of bounds.
    pub fn get(&self, i: usize) -> f64 {
        let size = self.dtype.size();
        let b = &self.payload()[i * size..(i + 1) * size];
        let mut w = [0u8; 8];
        w[..size].copy_from_slice(b);
        match self.dtype {
            Dtype::F32 => f32::from_le_bytes([w[0], w[1], w[2], w[3]]) as f64,
            Dtype::F64 => f64::from_le_bytes(w),
            Dtype::I32 => i32::from_le_bytes([w[0], w[1], w[2], w[3]]) as f64,
            Dtype::I64 => i64::from_le_bytes(w) as f64,
        }
    }

    /// The elements converted to `f64` (a copy; integers are converted exactly up to 2⁵³).
    pub fn to_f64_vec(&self) -> Vec<f64> {
        let p = self.payload();
        match self.dtype {
            Dtype::F32 => p
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap_or([0; 4])) as f64)
                .collect(),
            Dtype::F64 => p
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                .collect(),
            Dtype::I32 => p
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes(c.try_into().unwrap_or([0; 4])) as f64)
                .collect(),
            Dtype::I64 => p
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f64)
                .collect(),
        }
    }

    /// Checks that the array is 2-D with at least one row and one column, and returns
    /// `(rows, cols)`.
    pub fn expect_2d(&self) -> Result<(usize, usize)> {
        match self.shape[..] {
            [r, c] if r > 0 && c > 0 => Ok((r, c)),
            [r, c] => Err(Error::npy(
                &self.path,
                format!("empty array of shape ({r}, {c}): expected at least one row and column"),
            )),
            _ => Err(Error::npy(
                &self.path,
                format!(
                    "{}-D array of shape {:?}: expected a 2-D array (rows × features)",
                    self.shape.len(),
                    self.shape
                ),
            )),
        }
    }
}

/// Nesting deeper than this in the header dictionary is refused before parsing: a valid
/// header nests two deep (`{… (rows, cols)}`), and the Python-literal parser behind `npyz`
/// backtracks exponentially on deeply nested brackets (found by fuzzing: a 200-byte header
/// of nested `[` took minutes).
const MAX_HEADER_NESTING: usize = 4;

/// Cheap structural checks of the header text before it reaches the literal parser.
fn precheck_header(bytes: &[u8]) -> core::result::Result<(), String> {
    let (len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10usize),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => {
            return Err(format!(
                "unsupported .npy format version {v} (expected 1, 2 or 3)"
            ));
        }
    };
    let text = bytes.get(start..start.saturating_add(len)).ok_or_else(|| {
        format!(
            "truncated header: {len} bytes announced, {} present",
            bytes.len() - start.min(bytes.len())
        )
    })?;
    let mut depth = 0usize;
    for &b in text {
        match b {
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_HEADER_NESTING {
                    return Err(format!(
                        "malformed header: brackets nested more than {MAX_HEADER_NESTING} deep"
                    ));
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Reinterprets little-endian bytes as `T` when aligned (this engine runs on little-endian
/// targets only; see the compile-time check below).
fn cast_slice<T: Copy>(bytes: &[u8]) -> Option<&[T]> {
    let size = core::mem::size_of::<T>();
    if !bytes.len().is_multiple_of(size)
        || !(bytes.as_ptr() as usize).is_multiple_of(core::mem::align_of::<T>())
    {
        return None;
    }
    // SAFETY: the pointer is aligned for T (checked above), the length is a whole number of
    // T, the bytes live as long as the borrow, and T is f32 or f64, for which every bit
    // pattern is a valid value.
    Some(unsafe { core::slice::from_raw_parts(bytes.as_ptr().cast::<T>(), bytes.len() / size) })
}

#[cfg(not(target_endian = "little"))]
compile_error!("ntk reads .npy payloads in place and supports little-endian targets only");

/// The `.npy` v1.0 header for a C-ordered array, padded so the payload starts on a
/// 64-byte boundary.
pub fn header_bytes(dtype: Dtype, shape: &[usize]) -> Vec<u8> {
    let dims = match shape {
        [n] => format!("({n},)"),
        _ => {
            let s: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
            format!("({})", s.join(", "))
        }
    };
    let mut dict = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {dims}, }}",
        dtype.descr()
    );
    let unpadded = 10 + dict.len() + 1;
    dict.extend(std::iter::repeat_n(
        ' ',
        unpadded.next_multiple_of(64) - unpadded,
    ));
    dict.push('\n');
    let mut out = Vec::with_capacity(10 + dict.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

/// Element types that [`write()`] accepts.
pub trait NpyElement: Copy {
    /// The file's dtype.
    const DTYPE: Dtype;
    /// Little-endian bytes.
    fn write_le(self, out: &mut impl Write) -> std::io::Result<()>;
}

impl NpyElement for f32 {
    const DTYPE: Dtype = Dtype::F32;
    fn write_le(self, out: &mut impl Write) -> std::io::Result<()> {
        out.write_all(&self.to_le_bytes())
    }
}

impl NpyElement for f64 {
    const DTYPE: Dtype = Dtype::F64;
    fn write_le(self, out: &mut impl Write) -> std::io::Result<()> {
        out.write_all(&self.to_le_bytes())
    }
}

/// Why [`write_to`] failed.
#[derive(Debug)]
pub enum WriteError {
    /// The writer failed (a full disk, a closed pipe…).
    Io(std::io::Error),
    /// The values did not fill the shape: this many were given.
    Count(usize),
}

/// Writes a whole `.npy` (header and `values`, C order) to any writer.
pub fn write_to<T: NpyElement>(
    w: &mut impl Write,
    shape: &[usize],
    values: impl IntoIterator<Item = T>,
) -> core::result::Result<(), WriteError> {
    let expected: usize = shape.iter().product();
    w.write_all(&header_bytes(T::DTYPE, shape))
        .map_err(WriteError::Io)?;
    let mut count = 0usize;
    for v in values {
        v.write_le(w).map_err(WriteError::Io)?;
        count += 1;
    }
    if count != expected {
        return Err(WriteError::Count(count));
    }
    w.flush().map_err(WriteError::Io)
}

/// Writes `values` (C order, `shape`) to `path` atomically: into a temporary file created
/// exclusively in the same directory, renamed over `path` only once complete
/// ([`safe_file`]). On any error the temporary file is removed and `path` is left as it was.
/// `path` must be new, a regular file, or a symbolic link to one (the link is replaced).
pub fn write<T: NpyElement>(
    path: impl AsRef<Path>,
    shape: &[usize],
    values: impl IntoIterator<Item = T>,
) -> Result<()> {
    let out = Output::new("output", path.as_ref())?;
    let tmp = write_temp(&out, shape, values)?;
    tmp.commit(&out)
}

/// Writes `values` into a new temporary file next to `out` and returns it, complete and
/// synced, for the caller to [`commit`](safe_file::NewFile::commit) (when several outputs
/// must all be complete before any is renamed into place).
pub fn write_temp<T: NpyElement>(
    out: &Output,
    shape: &[usize],
    values: impl IntoIterator<Item = T>,
) -> Result<safe_file::NewFile> {
    let path = out.path();
    let expected = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| {
            Error::invalid(
                "output shape",
                format!("{shape:?}"),
                "a size that fits in memory",
            )
        })?;
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut tmp = out.temp()?;
    let mut w = BufWriter::with_capacity(1 << 20, tmp.file_mut());
    write_to(&mut w, shape, values).map_err(|e| match e {
        WriteError::Io(source) => io(source),
        WriteError::Count(got) => Error::DimensionMismatch {
            what: format!("values written to {}", path.display()),
            expected,
            got,
        },
    })?;
    w.into_inner().map_err(|e| io(e.into_error()))?;
    tmp.file().sync_all().map_err(io)?;
    Ok(tmp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_f32_and_f64_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.npy");
        write(&p, &[2, 3], (0..6).map(|i| i as f32 * 0.5)).unwrap();
        let f = NpyFile::open(&p).unwrap();
        assert_eq!(f.shape(), &[2, 3]);
        assert_eq!(f.as_f32().unwrap(), &[0.0, 0.5, 1.0, 1.5, 2.0, 2.5]);
        assert_eq!(f.expect_2d().unwrap(), (2, 3));
        let q = dir.path().join("b.npy");
        write(&q, &[4], [1.0f64, -2.0, 3.5, 1e-300]).unwrap();
        let g = NpyFile::open(&q).unwrap();
        assert_eq!(g.as_f64().unwrap(), &[1.0, -2.0, 3.5, 1e-300]);
        assert!(g.expect_2d().unwrap_err().to_string().contains("1-D"));
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    /// A mapped file gives the elements a copied one gives, and refuses what `open` refuses.
    #[test]
    fn mapped_files_read_the_same_elements() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.npy");
        write(&p, &[3, 3], (0..9).map(|i| i as f64 * 0.25 - 1.0)).unwrap();
        let (copied, mapped) = (
            NpyFile::open(&p).unwrap(),
            NpyFile::open_mapped(&p).unwrap(),
        );
        assert_eq!(mapped.shape(), &[3, 3]);
        for i in 0..9 {
            assert_eq!(mapped.get(i).to_bits(), copied.get(i).to_bits());
        }
        let empty = dir.path().join("empty.npy");
        std::fs::write(&empty, b"").unwrap();
        let e = NpyFile::open_mapped(&empty).unwrap_err().to_string();
        assert!(e.contains("empty.npy") && e.contains("empty"), "{e}");
        let text = dir.path().join("text.npy");
        std::fs::write(&text, b"not an array at all").unwrap();
        let e = NpyFile::open_mapped(&text).unwrap_err().to_string();
        assert!(e.contains("text.npy") && e.contains("magic"), "{e}");
    }

    #[test]
    fn header_is_aligned_to_64_bytes() {
        for shape in [&[1usize][..], &[1797, 64], &[1024, 1024, 3, 3]] {
            let h = header_bytes(Dtype::F64, shape);
            assert_eq!(h.len() % 64, 0);
            assert_eq!(*h.last().unwrap(), b'\n');
        }
    }

    /// Replaces the first occurrence of `from` (same length as `to`) in a header.
    fn replace(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        let at = out
            .windows(from.len())
            .position(|w| w == from)
            .expect("pattern");
        out[at..at + to.len()].copy_from_slice(to);
        out
    }

    #[test]
    fn bad_files_are_named_and_explained() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.npy");
        let e = NpyFile::open(&missing).unwrap_err().to_string();
        assert!(e.contains("missing.npy"), "{e}");

        let empty = dir.path().join("empty.npy");
        std::fs::write(&empty, b"").unwrap();
        assert!(
            NpyFile::open(&empty)
                .unwrap_err()
                .to_string()
                .contains("empty")
        );

        let magic = dir.path().join("magic.npy");
        std::fs::write(&magic, b"PK\x03\x04 this is a zip").unwrap();
        assert!(
            NpyFile::open(&magic)
                .unwrap_err()
                .to_string()
                .contains("magic")
        );

        let trunc = dir.path().join("trunc.npy");
        let mut bytes = header_bytes(Dtype::F64, &[10, 10]);
        bytes.extend_from_slice(&[0u8; 80]);
        std::fs::write(&trunc, &bytes).unwrap();
        let e = NpyFile::open(&trunc).unwrap_err().to_string();
        assert!(e.contains("truncated") && e.contains("800"), "{e}");

        let header_cut = dir.path().join("cut.npy");
        std::fs::write(&header_cut, &header_bytes(Dtype::F64, &[3, 3])[..30]).unwrap();
        let e = NpyFile::open(&header_cut).unwrap_err().to_string();
        assert!(e.contains("cut.npy") && e.contains("header"), "{e}");

        let fortran = dir.path().join("f.npy");
        let mut h = replace(&header_bytes(Dtype::F64, &[2, 2]), b"False", b"True ");
        h.extend_from_slice(&[0u8; 32]);
        std::fs::write(&fortran, &h).unwrap();
        let e = NpyFile::open(&fortran).unwrap_err().to_string();
        assert!(e.contains("Fortran"), "{e}");

        let complex = dir.path().join("c.npy");
        let mut b = replace(&header_bytes(Dtype::F64, &[2]), b"<f8", b"<c8");
        b.extend_from_slice(&[0u8; 16]);
        std::fs::write(&complex, &b).unwrap();
        let e = NpyFile::open(&complex).unwrap_err().to_string();
        assert!(
            e.contains("unsupported dtype") && e.contains("float32"),
            "{e}"
        );
    }

    /// The fuzzer's slow input, kept as a regression test: nested brackets are refused
    /// before the literal parser sees them.
    #[test]
    fn deeply_nested_headers_are_refused_quickly() {
        let dict = format!(
            "{{'descr': '<f8', 'fortran_order': False, 'shape': {}(1,){}, }}",
            "[".repeat(40),
            "]".repeat(40)
        );
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(dict.len() as u16).to_le_bytes());
        b.extend_from_slice(dict.as_bytes());
        let t = std::time::Instant::now();
        let e = NpyFile::from_bytes("nested.npy", b)
            .unwrap_err()
            .to_string();
        assert!(e.contains("nested"), "{e}");
        assert!(t.elapsed().as_secs_f64() < 1.0);
        let seed = include_bytes!("../../tests/golden/fuzz-timeout-nested-brackets.npy");
        assert!(NpyFile::from_bytes("seed.npy", seed.to_vec()).is_err());
    }

    #[test]
    fn writing_into_a_missing_directory_fails_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("no/such/dir/k.npy");
        let e = write(&p, &[1], [1.0f64]).unwrap_err().to_string();
        assert!(e.contains("does not exist"), "{e}");
        let e = write("/dev/null", &[1], [1.0f64]).unwrap_err().to_string();
        assert!(e.contains("character device"), "{e}");
    }

    /// A writer that accepts `room` bytes and then fails like a full disk.
    struct FullDisk {
        room: usize,
    }

    impl Write for FullDisk {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.room == 0 {
                return Err(std::io::Error::from_raw_os_error(28)); // ENOSPC
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_full_disk_is_an_error_not_a_panic() {
        let mut w = FullDisk { room: 100 };
        match write_to(&mut w, &[10, 10], (0..100).map(|v| v as f64)) {
            Err(WriteError::Io(e)) => assert_eq!(e.raw_os_error(), Some(28)),
            other => panic!("expected ENOSPC, got {other:?}"),
        }
    }

    #[test]
    fn a_short_iterator_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.npy");
        assert!(write(&p, &[3], [1.0f64, 2.0]).is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
