//! Files read and created safely (docs/DESIGN.md §10): the one place where every reader and writer
//! of the engine and the CLI opens, creates, locks, renames and removes files.
//!
//! * **Inputs** are opened without blocking and must be regular files ([`open_input`]): a
//!   FIFO, a pipe (`<(…)`), a device, a socket, a directory or a procfs/sysfs pseudo-file is
//!   refused with a message that says what it is, before any byte is read.
//! * **Outputs** ([`Output`]) must be new names, regular files, or symbolic links to regular
//!   files (the link itself is then replaced: the file it points to is never written).
//!   Devices, FIFOs, sockets and directories are refused. Inputs and outputs are compared by
//!   device and inode, and outputs with each other also by canonical path ([`check_distinct`]).
//! * **New files** ([`NewFile`]) are created exclusively (`O_CREAT | O_EXCL | O_NOFOLLOW`,
//!   never through a planted symbolic link, never over anything already there), written in
//!   full, synced and renamed into place; a `NewFile` that is dropped before that (an error,
//!   a panic unwinding) removes itself.
//! * **A lock** ([`Output::lock`]): an exclusive `flock` on a hidden lock file next to the
//!   output, held for the whole job, so that a second run on the same output refuses at once
//!   instead of mixing its rows into the first one's file.
//! * **Hidden names** (`.K.npy.partial`, `.K.npy.lock`) are shortened with a hash when the
//!   output's own name is too long to carry a prefix and a suffix ([`Output::hidden`]).

use std::ffi::{OsStr, OsString};
use std::fs::{File, FileType, Metadata, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::bus_guard::Registration;
use crate::error::{Error, Result};

/// The longest file name (bytes) the usual Linux filesystems accept.
pub const NAME_MAX: usize = 255;

/// What a file that is not a regular one is, in words.
fn kind(ft: &FileType) -> &'static str {
    if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a FIFO or pipe (e.g. `<(…)` process substitution)"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_symlink() {
        "a symbolic link"
    } else {
        "a regular file"
    }
}

/// Filesystems whose "regular" files are generated on read and report a size of 0.
fn pseudo_filesystem(file: &File) -> Option<&'static str> {
    use std::os::fd::AsRawFd;
    let mut st = core::mem::MaybeUninit::<libc::statfs>::zeroed();
    // SAFETY: `fstatfs` writes one `statfs` into the buffer it is given, which is valid and
    // large enough, and only reads the descriptor, which `file` keeps open for the call.
    let rc = unsafe { libc::fstatfs(file.as_raw_fd(), st.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // `f_type`'s integer type differs between targets, hence the cast.
    #[allow(clippy::unnecessary_cast)]
    // SAFETY: `fstatfs` returned 0, so it initialised the buffer.
    let magic = unsafe { st.assume_init() }.f_type as i64;
    match magic {
        0x9fa0 => Some("procfs"),
        0x6265_6572 => Some("sysfs"),
        0x6462_6720 => Some("debugfs"),
        _ => None,
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Opens an input file for reading. Refused, with a message naming the file and what it
/// is: anything but a regular file (a FIFO is opened non-blocking, so a FIFO without a
/// writer never hangs), and pseudo-files of procfs/sysfs.
pub fn open_input(path: &Path) -> Result<File> {
    // Non-blocking, so that opening a FIFO with no writer returns at once.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(io(path))?;
    let meta = file.metadata().map_err(io(path))?;
    let ft = meta.file_type();
    if !ft.is_file() {
        return Err(Error::npy(
            path,
            format!(
                "not a regular file: it is {} (expected a .npy file)",
                kind(&ft)
            ),
        ));
    }
    if let Some(fs) = pseudo_filesystem(&file) {
        return Err(Error::npy(
            path,
            format!("not a regular file: a {fs} pseudo-file (expected a .npy file on disk)"),
        ));
    }
    // Regular files never block; clear the flag so reads behave as usual.
    set_blocking(&file);
    Ok(file)
}

fn set_blocking(file: &File) {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: `fcntl` with F_GETFL/F_SETFL only reads and sets the flags of a descriptor
    // that `file` keeps open for both calls.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
    }
}

/// A file's identity: device and inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    /// The identity of what `path` names, following symbolic links; `None` if nothing.
    pub fn of(path: &Path) -> Option<FileId> {
        std::fs::metadata(path).ok().map(|m| Self::of_meta(&m))
    }

    /// The identity of an open file.
    pub fn of_file(file: &File) -> Option<FileId> {
        file.metadata().ok().map(|m| Self::of_meta(&m))
    }

    fn of_meta(m: &Metadata) -> FileId {
        FileId {
            dev: m.dev(),
            ino: m.ino(),
        }
    }
}

/// An output file of a job, checked: its directory exists, and the name is new, a regular
/// file, or a symbolic link to one (which the new file will replace).
#[derive(Clone, Debug)]
pub struct Output {
    flag: String,
    path: PathBuf,
    dir: PathBuf,
    name: OsString,
    canonical: PathBuf,
}

/// Process-wide counter that makes temporary names unique within a run.
static TEMP_COUNTER: AtomicUsize = AtomicUsize::new(0);

impl Output {
    /// Checks `path`, the output named by `flag` (for messages, e.g. `--out`).
    pub fn new(flag: &str, path: impl AsRef<Path>) -> Result<Output> {
        let path = path.as_ref().to_path_buf();
        let bad = |why: String| Error::invalid(flag, path.display(), why);
        let raw = path.as_os_str().as_bytes();
        let name = match path.file_name() {
            Some(n) if !raw.ends_with(b"/") && n != ".." => n.to_os_string(),
            _ => return Err(bad("a file name (this names a directory)".into())),
        };
        if name.len() > NAME_MAX {
            return Err(bad(format!(
                "a file name of at most {NAME_MAX} bytes (this one has {})",
                name.len()
            )));
        }
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let canonical_dir = match std::fs::canonicalize(&dir) {
            Ok(d) if d.is_dir() => d,
            _ => {
                return Err(bad(format!(
                    "a path in an existing directory ({} does not exist or is not a directory)",
                    dir.display()
                )));
            }
        };
        match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(io(&path)(e)),
            Ok(m) if m.file_type().is_file() => {}
            Ok(m) if m.file_type().is_symlink() => match std::fs::metadata(&path) {
                Ok(t) if t.file_type().is_file() => {}
                Ok(t) => {
                    return Err(bad(format!(
                        "a new name or a regular file (it is a symbolic link to {})",
                        kind(&t.file_type())
                    )));
                }
                Err(_) => {
                    return Err(bad(
                        "a new name or a regular file (it is a symbolic link to nothing)".into(),
                    ));
                }
            },
            Ok(m) => {
                return Err(bad(format!(
                    "a new name or a regular file, never replaced if it is anything else (it is {})",
                    kind(&m.file_type())
                )));
            }
        }
        Ok(Output {
            flag: flag.to_string(),
            canonical: canonical_dir.join(&name),
            path,
            dir,
            name,
        })
    }

    /// The path as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The flag that named it.
    pub fn flag(&self) -> &str {
        &self.flag
    }

    /// A hidden sibling `.NAME.suffix`, or `.PREFIX~HASH.suffix` when that would exceed
    /// [`NAME_MAX`] bytes.
    pub fn hidden(&self, suffix: &str) -> PathBuf {
        self.dir.join(hidden_name(&self.name, suffix))
    }

    /// Takes the output's lock (`.NAME.lock`, `flock` exclusive, non-blocking), held until
    /// the [`Lock`] is dropped. A second job on the same output gets an error at once.
    pub fn lock(&self) -> Result<Lock> {
        Lock::take(&self.hidden("lock"), &self.path)
    }

    /// A new, empty, exclusively created temporary file next to the output, removed when
    /// dropped unless [`NewFile::commit`]ted.
    pub fn temp(&self) -> Result<NewFile> {
        let mut last = None;
        for _ in 0..16 {
            let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
            let p = self.hidden(&format!("{}-{n}.tmp", std::process::id()));
            match NewFile::create(&p) {
                Ok(f) => return Ok(f),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::invalid(&self.flag, self.path.display(), "a temp")))
    }
}

/// `.NAME.suffix`, shortened to fit [`NAME_MAX`] bytes with a hash of the full name.
pub fn hidden_name(name: &OsStr, suffix: &str) -> OsString {
    let bytes = name.as_bytes();
    let full = 1 + bytes.len() + 1 + suffix.len();
    let mut out = Vec::with_capacity(full.min(NAME_MAX));
    out.push(b'.');
    if full <= NAME_MAX {
        out.extend_from_slice(bytes);
    } else {
        let hash = format!("~{:016x}", xxhash_rust::xxh3::xxh3_64(bytes));
        let keep = NAME_MAX.saturating_sub(2 + suffix.len() + hash.len());
        out.extend_from_slice(&bytes[..keep.min(bytes.len())]);
        out.extend_from_slice(hash.as_bytes());
    }
    out.push(b'.');
    out.extend_from_slice(suffix.as_bytes());
    OsString::from_vec(out)
}

/// Refuses outputs that are one of the inputs (same device and inode) or the same file as
/// another output (same canonical path, or same device and inode).
pub fn check_distinct(inputs: &[(&str, &Path)], outputs: &[&Output]) -> Result<()> {
    for (i, o) in outputs.iter().enumerate() {
        let oid = FileId::of(&o.path);
        for (flag, p) in inputs {
            if oid.is_some() && oid == FileId::of(p) {
                return Err(Error::invalid(
                    o.flag.as_str(),
                    o.path.display(),
                    format!(
                        "an output that is not an input (it is the same file as {flag} {})",
                        p.display()
                    ),
                ));
            }
        }
        for other in &outputs[..i] {
            let same_id = oid.is_some() && oid == FileId::of(&other.path);
            if same_id || other.canonical == o.canonical {
                return Err(Error::invalid(
                    o.flag.as_str(),
                    o.path.display(),
                    format!(
                        "a different file from {} {} (both name the same file)",
                        other.flag,
                        other.path.display()
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// An exclusive lock on an output, released (and its lock file removed) when dropped.
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
    _file: File,
    _guard: Registration,
}

impl Lock {
    fn take(path: &Path, target: &Path) -> Result<Lock> {
        for _ in 0..16 {
            // Without truncation, and never written: an existing lock file is not modified;
            // O_NOFOLLOW refuses a planted symbolic link, O_NONBLOCK a planted FIFO.
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
                .open(path)
                .map_err(|e| refuse_link(path, e))?;
            let meta = file.metadata().map_err(io(path))?;
            if !meta.file_type().is_file() {
                return Err(Error::npy(
                    path,
                    format!(
                        "the lock file is {}, not a regular file; remove it",
                        kind(&meta.file_type())
                    ),
                ));
            }
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(Error::Io {
                        path: target.to_path_buf(),
                        source: std::io::Error::new(
                            ErrorKind::ResourceBusy,
                            format!(
                                "another ntk run is writing this output (it holds {}); wait for it \
                                 to finish or choose another output",
                                path.display()
                            ),
                        ),
                    });
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(io(path)(e)),
            }
            // The holder before us may have removed the file after we opened it: the lock
            // counts only if the name still leads to the inode we locked.
            if std::fs::symlink_metadata(path)
                .is_ok_and(|m| m.dev() == meta.dev() && m.ino() == meta.ino())
            {
                return Ok(Lock {
                    path: path.to_path_buf(),
                    _file: file,
                    _guard: Registration::remove(path),
                });
            }
        }
        Err(Error::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(ErrorKind::ResourceBusy, "the lock file keeps changing"),
        })
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Removed while still held, so that a waiting run re-checks and creates a new one.
        let _ = std::fs::remove_file(&self.path);
    }
}

fn refuse_link(path: &Path, e: std::io::Error) -> Error {
    if e.raw_os_error() == Some(libc::ELOOP) {
        return Error::npy(
            path,
            "is a symbolic link where ntk keeps a file of its own; not followed (remove it)",
        );
    }
    io(path)(e)
}

/// A file this run created exclusively; removed when dropped unless committed or kept.
#[derive(Debug)]
pub struct NewFile {
    file: File,
    path: PathBuf,
    keep: bool,
    /// Removal of the file if the process dies of `SIGBUS` ([`bus_guard`](super::bus_guard)).
    guard: Option<Registration>,
}

impl NewFile {
    /// Creates `path` exclusively (`O_CREAT | O_EXCL | O_NOFOLLOW`), read-write: fails if
    /// anything, a symbolic link included, is already there.
    pub fn create(path: &Path) -> Result<NewFile> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| match e.kind() {
                ErrorKind::AlreadyExists => Error::npy(
                    path,
                    "already exists (left by another run, or planted); not overwritten",
                ),
                _ => refuse_link(path, e),
            })?;
        Ok(NewFile {
            file,
            path: path.to_path_buf(),
            keep: false,
            guard: Some(Registration::remove(path)),
        })
    }

    /// Takes charge of an existing file of ours (see [`open_own`]): removed when dropped
    /// unless committed or kept.
    pub fn adopt(file: File, path: PathBuf) -> NewFile {
        let guard = Some(Registration::remove(&path));
        NewFile {
            file,
            path,
            keep: false,
            guard,
        }
    }

    /// The open file.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// The open file, mutably.
    pub fn file_mut(&mut self) -> &mut File {
        &mut self.file
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Syncs the file and renames it over `target` (atomically: a link there is replaced,
    /// never followed).
    pub fn commit(mut self, target: &Output) -> Result<()> {
        self.file.sync_all().map_err(io(&target.path))?;
        std::fs::rename(&self.path, &target.path).map_err(io(&target.path))?;
        self.keep = true;
        Ok(())
    }

    /// Keeps the file on disk when this value is dropped (a resumable partial file).
    pub fn keep(&mut self) {
        self.keep = true;
        self.guard = None;
    }
}

impl Drop for NewFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Removes a stale file of ours (a regular file, or whatever was planted in its place:
/// unlinking a symbolic link never touches its target). A directory there is an error.
pub fn remove_stale(path: &Path) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(path)(e)),
        Ok(m) if m.is_dir() => Err(Error::npy(
            path,
            "is a directory where ntk keeps a file of its own; remove it",
        )),
        Ok(_) => std::fs::remove_file(path).map_err(io(path)),
    }
}

/// Opens an existing file of ours for a resume: never through a symbolic link, and only a
/// regular file with one link, owned by this user.
pub fn open_own(path: &Path, write: bool) -> Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(write)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| refuse_link(path, e))?;
    let m = file.metadata().map_err(io(path))?;
    // SAFETY: `geteuid` has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if !m.file_type().is_file() || m.nlink() != 1 || m.uid() != me {
        return Err(Error::npy(
            path,
            "is not a file this user's ntk created (not a regular file, several links, or \
             another owner); not trusted for --resume",
        ));
    }
    set_blocking(&file);
    Ok(file)
}

/// The memory the system reports available (`MemAvailable` in `/proc/meminfo`), in bytes.
pub fn available_memory() -> Option<usize> {
    std::fs::read_to_string("/proc/meminfo").ok().and_then(|t| {
        t.lines()
            .find(|l| l.starts_with("MemAvailable:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<usize>().ok())
            .map(|kb| kb.saturating_mul(1024))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_names_fit() {
        let short = hidden_name(OsStr::new("K.npy"), "partial");
        assert_eq!(short, ".K.npy.partial");
        let long = "k".repeat(254);
        let h = hidden_name(OsStr::new(&long), "partial");
        assert!(h.len() <= NAME_MAX, "{}", h.len());
        assert!(h.as_bytes().starts_with(b".kkk") && h.as_bytes().ends_with(b".partial"));
        let other = hidden_name(OsStr::new(&format!("{long}x")[1..]), "partial");
        assert_ne!(h, other);
    }

    #[test]
    fn new_files_are_exclusive_and_removed_unless_committed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        let link = dir.path().join(".k.partial");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        assert!(NewFile::create(&link).is_err());
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        let p = dir.path().join("new");
        drop(NewFile::create(&p).unwrap());
        assert!(!p.exists());
        let out = Output::new("--out", dir.path().join("k")).unwrap();
        let t = out.temp().unwrap();
        t.commit(&out).unwrap();
        assert!(dir.path().join("k").is_file());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
    }

    #[test]
    fn locks_exclude_a_second_holder_and_clean_up() {
        let dir = tempfile::tempdir().unwrap();
        let out = Output::new("--out", dir.path().join("k")).unwrap();
        let a = out.lock().unwrap();
        let e = out.lock().unwrap_err().to_string();
        assert!(e.contains("another ntk run"), "{e}");
        drop(a);
        assert!(!out.hidden("lock").exists());
        drop(out.lock().unwrap());
    }

    #[test]
    fn outputs_that_are_not_regular_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Output::new("--out", "/dev/null").is_err());
        assert!(Output::new("--out", dir.path()).is_err());
        assert!(Output::new("--out", dir.path().join("missing/k")).is_err());
        let x = dir.path().join("x");
        std::fs::write(&x, b"x").unwrap();
        let o = Output::new("--out", &x).unwrap();
        assert!(check_distinct(&[("--x1", &x)], &[&o]).is_err());
        let o2 = Output::new("--out-train", dir.path().join(".").join("x")).unwrap();
        assert!(check_distinct(&[], &[&o, &o2]).is_err());
    }
}
