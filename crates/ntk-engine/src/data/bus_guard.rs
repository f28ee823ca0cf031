//! What happens when a memory-mapped input is truncated under a running job.
//!
//! Reading a page of a memory map that lies past the end of its (since shortened) file raises
//! `SIGBUS`. By default that kills the process with no message and leaves its temporary files
//! behind. [`install`] replaces that death by the ending every other failure has: one line on
//! standard error naming the file, the removal of the files this run created and has not kept
//! ([`NewFile`](super::safe_file::NewFile), the output lock), and exit status 2.
//!
//! The handler only reads what was registered before the signal, in fixed tables of atomic
//! pointers, and calls only async-signal-safe functions (`write`, `unlink`, `_exit`):
//!
//! * every memory map of an input registers its address range and path ([`Registration::map`]);
//! * every file to be removed on failure registers its path ([`Registration::remove`]).
//!
//! A registration is withdrawn when dropped. Its entry is freed then, unless the handler has
//! started (it is then left for the handler, which never returns). Each table holds
//! [`SLOTS`] entries; beyond that a registration is silently not recorded (a map then gets the
//! generic message, a file is left behind), which a command-line run never reaches.
//!
//! The engine never installs the handler itself: a signal disposition belongs to the
//! program (the `ntk` binary installs it; an embedding program may).

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr::null_mut;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering::SeqCst};

/// Entries per table.
pub const SLOTS: usize = 128;

/// A registered memory map, or a file to remove.
struct Entry {
    /// Address range of the map (`0..0` for a file to remove).
    start: usize,
    end: usize,
    /// NUL-terminated path.
    path: CString,
}

type Table = [AtomicPtr<Entry>; SLOTS];

static MAPS: Table = [const { AtomicPtr::new(null_mut()) }; SLOTS];
static REMOVE: Table = [const { AtomicPtr::new(null_mut()) }; SLOTS];
/// Set by the handler before it reads the tables: from then on, entries are never freed.
static DYING: AtomicBool = AtomicBool::new(false);

/// A registered entry, withdrawn when dropped.
#[derive(Debug)]
pub struct Registration {
    table: &'static Table,
    slot: Option<usize>,
}

impl Registration {
    /// Registers the memory map `bytes` of the file `path`: a `SIGBUS` inside it is reported
    /// as that file having been truncated.
    pub fn map(bytes: &[u8], path: &Path) -> Registration {
        let start = bytes.as_ptr() as usize;
        Self::add(&MAPS, start, start + bytes.len(), path)
    }

    /// Registers `path` for removal if the process ends by `SIGBUS`.
    pub fn remove(path: &Path) -> Registration {
        Self::add(&REMOVE, 0, 0, path)
    }

    fn add(table: &'static Table, start: usize, end: usize, path: &Path) -> Registration {
        let Ok(path) = CString::new(path.as_os_str().as_bytes()) else {
            return Registration { table, slot: None };
        };
        let entry = Box::into_raw(Box::new(Entry { start, end, path }));
        for (i, s) in table.iter().enumerate() {
            if s.compare_exchange(null_mut(), entry, SeqCst, SeqCst)
                .is_ok()
            {
                return Registration {
                    table,
                    slot: Some(i),
                };
            }
        }
        // SAFETY: `entry` came from `Box::into_raw` above and was published nowhere.
        drop(unsafe { Box::from_raw(entry) });
        Registration { table, slot: None }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let Some(i) = self.slot else { return };
        let entry = self.table[i].swap(null_mut(), SeqCst);
        // The handler sets DYING before it loads any slot (both SeqCst): if DYING is still
        // false here, the handler's loads come after our swap and cannot see this entry.
        if !entry.is_null() && !DYING.load(SeqCst) {
            // SAFETY: the entry came from `Box::into_raw` in `add`, was reachable only through
            // this slot, which no longer holds it, and no handler can be reading it (above).
            drop(unsafe { Box::from_raw(entry) });
        }
    }
}

/// Installs the `SIGBUS` handler described in the [module docs](self), process-wide.
pub fn install() -> std::io::Result<()> {
    // SAFETY: `sigaction` with a zeroed, then filled, struct and a handler of the
    // `SA_SIGINFO` signature; the handler is async-signal-safe (module docs).
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigbus as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO;
        libc::sigemptyset(&mut action.sa_mask);
        if libc::sigaction(libc::SIGBUS, &action, null_mut()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Writes `bytes` to standard error (best effort, async-signal-safe).
fn say(bytes: &[u8]) {
    // SAFETY: `write` on fd 2 from a valid slice; async-signal-safe.
    unsafe { libc::write(2, bytes.as_ptr().cast(), bytes.len()) };
}

extern "C" fn on_sigbus(_: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    DYING.store(true, SeqCst);
    // SAFETY: the kernel passes a valid `siginfo_t` to an SA_SIGINFO handler; for SIGBUS
    // `si_addr` is the faulting address.
    let addr = unsafe { (*info).si_addr() } as usize;
    let mut named = false;
    for s in &MAPS {
        let e = s.load(SeqCst);
        // SAFETY: a non-null slot holds a live entry: entries are freed only while DYING is
        // false (see `Registration::drop`), and it is true from the first line above.
        if let Some(e) = unsafe { e.as_ref() }
            && (e.start..e.end).contains(&addr)
        {
            say(b"ntk: ");
            say(e.path.as_bytes());
            say(
                b": the file was truncated while ntk was running (it is memory-mapped); \
                  nothing was written\n",
            );
            named = true;
            break;
        }
    }
    if !named {
        say(
            b"ntk: a memory-mapped file was truncated while ntk was running (SIGBUS); \
              nothing was written\n",
        );
    }
    for s in &REMOVE {
        // SAFETY: as above.
        if let Some(e) = unsafe { s.load(SeqCst).as_ref() } {
            // SAFETY: a NUL-terminated path; `unlink` is async-signal-safe.
            unsafe { libc::unlink(e.path.as_ptr()) };
        }
    }
    // SAFETY: `_exit` is async-signal-safe and never returns.
    unsafe { libc::_exit(2) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrations_are_withdrawn_when_dropped() {
        let a = Registration::remove(Path::new("/tmp/a"));
        let i = a.slot.expect("a free slot");
        let held = REMOVE[i].load(SeqCst);
        // SAFETY: the entry is alive while `a` holds it.
        assert_eq!(unsafe { &*held }.path.as_bytes(), b"/tmp/a");
        drop(a);
        // Compared as addresses only: the slot may meanwhile hold another test's entry.
        assert_ne!(REMOVE[i].load(SeqCst), held);
    }

    #[test]
    fn a_full_table_records_nothing_more() {
        let regs: Vec<_> = (0..SLOTS + 3)
            .map(|i| Registration::map(&[0u8; 1], Path::new(&format!("/x{i}"))))
            .collect();
        assert!(regs.iter().filter(|r| r.slot.is_none()).count() >= 3);
    }
}
