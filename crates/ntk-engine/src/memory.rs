//! Large zeroed buffers (kernel bands, packed features and weights), and whether they ask
//! the system for transparent huge pages.
//!
//! A buffer of hundreds of megabytes is allocated zeroed (fresh pages from the system) and
//! first touched by the threads that fill it, one page fault per 4 KiB.
//! `madvise(MADV_HUGEPAGE)` asks for 2 MiB pages instead, 512 times fewer faults. But under
//! the kernel's default `transparent_hugepage/defrag = madvise`, an advised fault that finds
//! no free 2 MiB page *compacts memory on the spot*: on a machine whose memory is
//! fragmented (a large page cache, hours of uptime) that stall costs far more than the
//! faults it saves. Measured on a 2-core VM with 6 GiB of page cache (2026-12-02): filling
//! 200 MiB took 0.14–0.27 s in 4 KiB pages and 1.5–2.1 s advised; a 3-layer empirical kernel
//! took 1.37–1.44 s against 3.16–3.40 s advised (2.0–2.2 s of system time), the analytic
//! depth-3 kernel at n = 5000 0.95–1.04 s against 1.49–1.84 s. Earlier, on the same kind of
//! machine with free memory, the advice had saved about a tenth of a deep net's time.
//!
//! So the advice is opt-in: set `NTK_HUGE_PAGES=1` where huge pages come cheap (a machine
//! with unfragmented free memory, or `defrag` set to `defer`). It never changes contents or
//! results; where it is refused, nothing changes but speed.

use std::sync::OnceLock;

/// Buffers at least this large are advised (smaller ones are not worth a system call).
const ADVISE_BYTES: usize = 8 << 20;

/// Whether `NTK_HUGE_PAGES=1` asked for huge pages (read once per process).
fn huge_pages_wanted() -> bool {
    static WANTED: OnceLock<bool> = OnceLock::new();
    *WANTED.get_or_init(|| std::env::var_os("NTK_HUGE_PAGES").is_some_and(|v| v == "1"))
}

/// Advises the whole pages of `[ptr, ptr + bytes)` to use huge pages, when asked for and
/// the range is large enough.
fn advise<T>(ptr: *const T, bytes: usize) {
    advise_if(huge_pages_wanted(), ptr, bytes);
}

/// [`advise`] with the choice made by the caller (the tests force it).
fn advise_if<T>(wanted: bool, ptr: *const T, bytes: usize) {
    #[cfg(target_os = "linux")]
    if bytes >= ADVISE_BYTES && wanted {
        const PAGE: usize = 4096;
        let start = ptr as usize;
        let first = start.next_multiple_of(PAGE);
        let end = (start + bytes) / PAGE * PAGE;
        if end > first {
            // SAFETY: FFI; advice on whole pages inside an allocation the caller owns and
            // nothing else uses yet. MADV_HUGEPAGE neither changes nor invalidates the
            // memory (the zeroes stay); a refusal is harmless.
            unsafe {
                libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (wanted, ptr, bytes);
}

/// Buffers at least this large are populated ([`populate`]).
const POPULATE_BYTES: usize = 8 << 20;

/// Maps in the whole pages of `[ptr, ptr + bytes)` at once (`MADV_POPULATE_WRITE`, Linux
/// 5.14), in pieces on the rayon pool's threads, instead of one page fault per 4 KiB as the
/// caller first writes them. Every buffer of [`zeroed_f64`] and [`zeroed_f32`] is written
/// whole by its caller (kernel bands, packed weights and features), so no page is mapped in
/// for nothing. On the 2-core VMs we measure on a fault costs about 2.7 µs per page and a
/// populated page 1.6 µs (400 MiB: 274 ms against 160 ms on one thread, 2026-12-03); 3 × 4096
/// (141 MiB of packed weights) took 1.216 s against 1.225 s (medians of five alternated
/// runs). Where the kernel refuses the advice (older than 5.14, or another system) the pages
/// fault in as before: contents and results never change.
///
/// The pieces are at most [`POPULATE_PIECE`] bytes, and none is started once `stop()` is
/// true: a caller that is being cancelled (a kernel of a gigabyte takes a quarter of a
/// second to map in on two threads) does not wait for the rest. The pages left fault in
/// when written, if they ever are.
fn populate<T>(ptr: *const T, bytes: usize, stop: &(dyn Fn() -> bool + Sync)) {
    #[cfg(target_os = "linux")]
    if bytes >= POPULATE_BYTES {
        use rayon::prelude::*;
        const PAGE: usize = 4096;
        let start = ptr as usize;
        let first = start.next_multiple_of(PAGE);
        let end = (start + bytes) / PAGE * PAGE;
        if end > first {
            let pieces = 4 * rayon::current_num_threads();
            let step = (end - first)
                .div_ceil(pieces)
                .min(POPULATE_PIECE)
                .next_multiple_of(PAGE);
            (first..end).step_by(step).par_bridge().for_each(|a| {
                if stop() {
                    return;
                }
                let b = (a + step).min(end);
                // SAFETY: FFI; whole pages inside an allocation the caller owns and nothing
                // else uses yet. MADV_POPULATE_WRITE only maps the pages in (as writing to
                // them would) and keeps their contents, the zeroes; a refusal is harmless.
                unsafe {
                    libc::madvise(a as *mut libc::c_void, b - a, libc::MADV_POPULATE_WRITE);
                }
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (ptr, bytes, stop);
}

/// The most [`populate`] maps in per call (16 MiB: about 6 ms on one of our cores), so that
/// a stop is seen that often.
const POPULATE_PIECE: usize = 16 << 20;

/// A zeroed `Vec<f64>` of `len` elements (huge pages on request, module docs), mapped in
/// ([`populate`]). A large one comes zeroed from the system (`calloc`), its pages untouched
/// until then, so the advice still applies to them.
pub(crate) fn zeroed_f64(len: usize) -> Vec<f64> {
    zeroed_f64_until(len, &|| false)
}

/// [`zeroed_f64`] for a caller that may be cancelled: once `stop()` is true no more of it is
/// mapped in ahead of time (the zeroes are the same either way).
pub(crate) fn zeroed_f64_until(len: usize, stop: &(dyn Fn() -> bool + Sync)) -> Vec<f64> {
    let v = vec![0.0f64; len];
    advise(v.as_ptr(), len * size_of::<f64>());
    populate(v.as_ptr(), len * size_of::<f64>(), stop);
    v
}

/// A zeroed `Vec<f32>` of `len` elements (huge pages on request, module docs), mapped in
/// ([`populate`]).
pub(crate) fn zeroed_f32(len: usize) -> Vec<f32> {
    let v = vec![0.0f32; len];
    advise(v.as_ptr(), len * size_of::<f32>());
    populate(v.as_ptr(), len * size_of::<f32>(), &|| false);
    v
}

#[cfg(test)]
mod tests {
    #[test]
    fn buffers_are_zeroed_whatever_their_size() {
        for len in [0, 1, 1000, 3 << 20] {
            let v = super::zeroed_f64(len);
            assert_eq!(v.len(), len);
            assert!(v.iter().all(|&x| x == 0.0));
            let v = super::zeroed_f32(len);
            assert_eq!(v.len(), len);
            assert!(v.iter().all(|&x| x == 0.0));
        }
    }

    /// A buffer whose mapping-in is stopped at once, or half way, is still whole and zeroed.
    #[test]
    fn a_stopped_buffer_is_still_zeroed() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let len = 9 << 20; // 72 MiB of f64: several pieces
        let v = super::zeroed_f64_until(len, &|| true);
        assert!(v.len() == len && v.iter().all(|&x| x == 0.0));
        let asked = AtomicUsize::new(0);
        let v = super::zeroed_f64_until(len, &|| asked.fetch_add(1, Ordering::Relaxed) >= 2);
        assert!(v.len() == len && v.iter().all(|&x| x == 0.0));
        assert!(
            asked.load(Ordering::Relaxed) >= 3,
            "asked before each piece"
        );
    }

    /// The advice (forced here, as `NTK_HUGE_PAGES=1` would) leaves the zeroes and the
    /// memory usable, whether or not the system grants huge pages.
    #[test]
    fn advised_buffers_stay_zeroed_and_writable() {
        let len = 5 << 20; // 40 MiB of f64, past the advice threshold
        let mut v = vec![0.0f64; len];
        super::advise_if(true, v.as_ptr(), len * size_of::<f64>());
        assert!(v.iter().all(|&x| x == 0.0));
        v.iter_mut().enumerate().for_each(|(i, x)| *x = i as f64);
        assert!(v.iter().enumerate().all(|(i, &x)| x == i as f64));
    }
}
