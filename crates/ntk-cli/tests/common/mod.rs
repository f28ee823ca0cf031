//! Helpers of the hostile-input suites: running `ntk` (as root and, where it matters, as an
//! ordinary user), with a deadline, and looking at what it left behind.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use ntk_engine::data::npy;

/// The `ntk` binary.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ntk")
}

/// `ntk args…` with a deadline: a run that hangs is killed and fails the test.
pub fn ntk(args: &[&str]) -> (i32, String, String) {
    let mut c = Command::new(bin());
    c.args(args);
    run(c)
}

/// Runs `c` to completion within 120 s.
pub fn run(mut c: Command) -> (i32, String, String) {
    let child = c
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ntk");
    let out = wait(child, Duration::from_secs(120));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Waits for `child`, killing it (and failing) past `limit`.
pub fn wait(mut child: Child, limit: Duration) -> Output {
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "ntk hung for {limit:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Exit code 2 with exactly one line on stderr that contains every needle.
pub fn refused(res: &(i32, String, String), needles: &[&str]) {
    let (code, _, err) = res;
    assert_eq!(*code, 2, "expected exit 2, stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err:?}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        !err.chars().any(|c| c.is_control() && c != '\n'),
        "control bytes: {err:?}"
    );
    for n in needles {
        assert!(err.contains(n), "missing {n:?} in: {err}");
    }
}

/// A matrix written as `.npy` (f64).
pub fn matrix(path: &Path, rows: usize, cols: usize, f: impl Fn(usize, usize) -> f64) {
    npy::write(
        path,
        &[rows, cols],
        (0..rows * cols).map(|p| f(p / cols, p % cols)),
    )
    .unwrap();
}

/// Smooth test inputs in `[-1, 1]`.
pub fn points(path: &Path, rows: usize, cols: usize) {
    matrix(path, rows, cols, |i, j| {
        ((i * 7 + j * 3) % 11) as f64 / 5.0 - 1.0
    });
}

/// The names in `dir`, sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A path as `&str`.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Whether this process is root.
pub fn is_root() -> bool {
    // SAFETY: `geteuid` has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The ordinary user `nobody` (uid/gid 65534) the permission tests run `ntk` as.
pub const NOBODY: u32 = 65534;

/// `ntk args…` as the ordinary user `nobody` (via `setpriv`), or `None` with the reason
/// printed when that is impossible here (not root, no `setpriv`, binary not reachable).
pub fn as_nobody(args: &[&str]) -> Option<(i32, String, String)> {
    if !is_root() {
        eprintln!("skipped the ordinary-user run: not root, cannot switch users");
        return None;
    }
    let ok = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            bin(),
            "--version",
        ])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("skipped the ordinary-user run: setpriv cannot run ntk as uid 65534 here");
        return None;
    }
    let mut c = Command::new("setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups", bin()])
        .args(args);
    Some(run(c))
}

/// A world-writable, sticky directory (like `/tmp`) under a fresh temporary directory.
pub fn shared_dir(root: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let d = root.join("shared");
    std::fs::create_dir(&d).unwrap();
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o1777)).unwrap();
    d
}
