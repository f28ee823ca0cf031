//! `ntk`: neural tangent kernels from `.npy` files (see the library, `ntk_cli`).

fn main() -> std::process::ExitCode {
    keep_freed_memory();
    ntk_cli::main_entry()
}

/// Tells glibc's allocator to keep freed memory for reuse instead of handing it back.
///
/// The engine allocates and frees buffers of megabytes to tens of megabytes many times in a
/// run (per row block and layer: features, their packed forms, products). By default glibc
/// serves every block above a threshold (128 KiB at first, rising only as such blocks are
/// freed) with its own `mmap`, and returns the top of a heap to the system (`munmap`/`madvise`) once 128 KiB are free there:
/// every new buffer is then fresh pages, one fault per 4 KiB, and every release a TLB
/// shootdown across the pool's threads. On the 2-core VMs we measure on, a fault costs
/// 4–10 µs. With blocks below 32 MiB served from the heap and up to 512 MiB kept free at its
/// top, a 3 × 16384 empirical kernel (n = 1024, f32) took 13.4–14.6 s against 14.1–15.4 s
/// before, with 786 000 page faults against 855 000 (four alternating runs each on a noisy
/// VM, 2026-12-02); at 3 × 4096 the faults went from 119 000 to 101 000, the time within the
/// noise. Results are unaffected; the cost is up to 512 MiB of freed memory held
/// by the process. Blocks of 32 MiB and more (kernels, weights of wide layers) still come
/// from and return to the system at once.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: FFI; `mallopt` only changes the allocator's thresholds, before any thread exists.
    // A refused setting (return 0) leaves glibc's default, which is only slower.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
    }
}
