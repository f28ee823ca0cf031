//! What every command shares: the thread cap, printing to a stdout that may be closed or
//! full, and the one-line messages on stderr.

use std::io::Write;
use std::process::ExitCode;

/// `--threads` above this many per available core is capped (with a warning): more threads
/// than that only add scheduling overhead, and 10⁵ of them exhaust the machine.
pub const MAX_THREADS_PER_CORE: usize = 4;

/// The thread count to use for `--threads requested` (0 = one per core): at most
/// [`MAX_THREADS_PER_CORE`] × the available cores, with a warning on stderr when capped.
/// Results do not depend on it.
pub fn threads(requested: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cap = thread_cap(cores);
    if requested > cap {
        print_stderr(&format!(
            "ntk: warning: --threads {requested} is more than {MAX_THREADS_PER_CORE} × the \
             {cores} available cores; using {cap}"
        ));
        return cap;
    }
    requested
}

/// The cap for `cores` available cores.
pub fn thread_cap(cores: usize) -> usize {
    MAX_THREADS_PER_CORE.saturating_mul(cores.max(1))
}

/// Writes `text` to stdout. A closed pipe (`ntk … | head`) ends the program quietly with
/// exit code 0, as `cat` does; any other failure (a full disk, `> /dev/full`) is one warning
/// line on stderr, and the exit code stays 0: the outputs were written in full before.
pub fn print_stdout(text: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            print_stderr(&format!(
                "ntk: warning: could not print the summary to stdout ({e}); the outputs are complete"
            ));
            ExitCode::SUCCESS
        }
    }
}

/// Writes one line to stderr, ignoring a closed stderr (never a panic).
pub fn print_stderr(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}
