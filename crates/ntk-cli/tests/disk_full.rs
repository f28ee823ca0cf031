//! A full disk during `ntk kernel`: exit code 2, one line naming the file and the error, and
//! nothing left on the disk. Uses a 256 KiB tmpfs, which needs root (CI and the development
//! machines run as root); where mounting is not permitted the test says so and checks only
//! the engine's failing-writer path (`data::npy` unit tests).

use std::path::Path;
use std::process::Command;

use ntk_engine::data::npy;

fn mount_tiny_tmpfs(dir: &Path) -> bool {
    Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
        .arg(dir)
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

#[test]
fn a_full_disk_fails_cleanly() {
    let work = tempfile::tempdir().unwrap();
    let x = work.path().join("x.npy");
    // 400 points: the f64 kernel is 1.28 MB, five times the filesystem.
    npy::write(
        &x,
        &[400, 3],
        (0..1200).map(|v| ((v * 37) % 101) as f64 / 50.0 - 1.0),
    )
    .unwrap();
    let tiny = work.path().join("tiny");
    std::fs::create_dir(&tiny).unwrap();
    if !mount_tiny_tmpfs(&tiny) {
        eprintln!(
            "disk_full: cannot mount a tmpfs here (not root?); the failing-writer unit test covers the engine"
        );
        return;
    }
    let out = tiny.join("k.npy");
    let res = Command::new(env!("CARGO_BIN_EXE_ntk"))
        .args([
            "kernel",
            "--method",
            "empirical",
            "--widths",
            "64",
            "--dtype",
            "f64",
            "--x1",
        ])
        .arg(&x)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let left: Vec<_> = std::fs::read_dir(&tiny)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    let _ = Command::new("umount").arg(&tiny).status();
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("k.npy") && stderr.contains("No space left"),
        "{stderr}"
    );
    assert!(left.is_empty(), "left behind: {left:?}");
}
