//! Hostile files and unlucky timing (issue 11, classes 1–6, 11 and 16): planted symbolic
//! links, outputs that are devices or inputs, concurrent runs, tampered resumes, inputs that
//! change during a run, blocking inputs, and failures that must leave nothing behind. Run
//! as root and, where permissions matter, also as the ordinary user `nobody`.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Class 1: a symbolic link planted at any hidden name (`.K.npy.partial`, `.progress`,
/// `.lock`) is never followed: its target keeps its bytes, and `K.npy` is a regular file.
#[test]
fn planted_symlinks_are_never_followed() {
    let root = tempfile::tempdir().unwrap();
    let dir = shared_dir(root.path());
    let x = dir.join("x.npy");
    points(&x, 9, 4);
    let victim = root.path().join("victim");
    for suffix in ["partial", "progress", "lock"] {
        for user in ["root", "nobody"] {
            std::fs::write(&victim, b"precious").unwrap();
            if user == "nobody" && is_root() {
                // The victim is the ordinary user's own file: one it could overwrite.
                std::os::unix::fs::chown(&victim, Some(NOBODY), Some(NOBODY)).unwrap();
            }
            let out = dir.join("K.npy");
            let _ = std::fs::remove_file(&out);
            let link = dir.join(format!(".K.npy.{suffix}"));
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(&victim, &link).unwrap();
            let args = ["kernel", "--x1", s(&x), "--out", s(&out), "--widths", "8"];
            let res = if user == "root" {
                Some(ntk(&args))
            } else {
                as_nobody(&args)
            };
            let Some(res) = res else { continue };
            assert_eq!(
                std::fs::read(&victim).unwrap(),
                b"precious",
                "{suffix} {user}"
            );
            match res.0 {
                0 => {
                    let m = std::fs::symlink_metadata(&out).unwrap();
                    assert!(
                        m.file_type().is_file(),
                        "{suffix} {user}: K.npy not a regular file"
                    );
                }
                // An ordinary user cannot remove root's link in a sticky directory: refused.
                _ => {
                    refused(&res, &[&format!(".K.npy.{suffix}")]);
                    assert!(!out.exists());
                }
            }
            // With --resume the planted files are not trusted either.
            let _ = std::fs::remove_file(&link);
            for name in [".K.npy.partial", ".K.npy.progress"] {
                let _ = std::fs::remove_file(dir.join(name));
                std::os::unix::fs::symlink(&victim, dir.join(name)).unwrap();
            }
            let mut resume = args.to_vec();
            resume.push("--resume");
            let res = if user == "root" {
                Some(ntk(&resume))
            } else {
                as_nobody(&resume)
            };
            if let Some(res) = res {
                refused(&res, &["symbolic link"]);
            }
            assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
            for name in [".K.npy.partial", ".K.npy.progress"] {
                let _ = std::fs::remove_file(dir.join(name));
            }
        }
    }
}

/// Class 2: an existing `--out` that is not a regular file (or a link to one) is refused
/// and left as it was: `/dev/null` stays a character device.
#[test]
fn outputs_that_are_not_regular_files_are_refused() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let x = d.join("x.npy");
    points(&x, 6, 3);
    let fifo = d.join("fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let sock = d.join("sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let subdir = d.join("sub");
    std::fs::create_dir(&subdir).unwrap();
    let to_null = d.join("to-null");
    std::os::unix::fs::symlink("/dev/null", &to_null).unwrap();
    let before = listing(d);
    for (out, what) in [
        (Path::new("/dev/null"), "character device"),
        (fifo.as_path(), "FIFO"),
        (sock.as_path(), "socket"),
        (subdir.as_path(), "directory"),
        (to_null.as_path(), "character device"),
    ] {
        refused(
            &ntk(&["kernel", "--x1", s(&x), "--out", s(out)]),
            &["--out", what],
        );
        let p = ["predict", "--k-train-train", s(&x), "--k-test-train", s(&x)];
        let mut args = p.to_vec();
        args.extend(["--y-train", s(&x), "--times", "1", "--out", s(out)]);
        refused(&ntk(&args), &["--out", what]);
    }
    assert!(
        std::fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device()
    );
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    assert_eq!(listing(d), before, "nothing created");
    // `study --out` naming a file is refused too.
    refused(
        &ntk(&["study", "--out", s(&x), "--quiet"]),
        &["--out", "not one"],
    );
}

/// Class 3: an output that is an input (by any spelling: `./`, a symlink, a hard link), or
/// the same file as another output, is refused before anything is written.
#[test]
fn outputs_never_clobber_inputs_or_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let x = d.join("x.npy");
    let x2 = d.join("x2.npy");
    points(&x, 6, 3);
    points(&x2, 4, 3);
    let link = d.join("link.npy");
    std::os::unix::fs::symlink(&x, &link).unwrap();
    let hard = d.join("hard.npy");
    std::fs::hard_link(&x2, &hard).unwrap();
    let bytes = std::fs::read(&x).unwrap();
    let dotted = d.join(".").join("x.npy");
    for (out, flag) in [
        (&x, "--x1"),
        (&dotted, "--x1"),
        (&link, "--x1"),
        (&hard, "--x2"),
    ] {
        let res = ntk(&["kernel", "--x1", s(&x), "--x2", s(&x2), "--out", s(out)]);
        refused(&res, &["--out", flag]);
    }
    assert_eq!(std::fs::read(&x).unwrap(), bytes);
    let k = d.join("k.npy");
    common::matrix(&k, 4, 4, |i, j| if i == j { 2.0 } else { 0.5 });
    let kst = d.join("kst.npy");
    common::matrix(&kst, 2, 4, |_, _| 0.1);
    let y = d.join("y.npy");
    common::matrix(&y, 4, 1, |i, _| i as f64);
    let base = [
        "predict",
        "--k-train-train",
        s(&k),
        "--k-test-train",
        s(&kst),
    ];
    let p = d.join("p.npy");
    let p_again = d.join(".").join("p.npy");
    for (out, out_train, needle) in [
        (&k, None, "--k-train-train"),
        (&p, Some(&y), "--y-train"),
        (&p, Some(&p_again), "--out"),
        (&p, Some(&p), "--out"),
    ] {
        let mut args = base.to_vec();
        args.extend(["--y-train", s(&y), "--times", "1", "--out", s(out)]);
        if let Some(t) = out_train {
            args.extend(["--out-train", s(t)]);
        }
        refused(&ntk(&args), &[needle]);
    }
    assert!(!p.exists());
}

/// Class 4: a second run on an output that another run is writing refuses at once (the
/// lock), and the first one's kernel is whole and unmixed.
#[test]
fn concurrent_runs_on_one_output_never_mix() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let x = d.join("x.npy");
    points(&x, 9, 4);
    let out = d.join("K.npy");
    // Deterministic: hold the lock the way a running ntk does.
    let held = ntk_engine::data::safe_file::Output::new("--out", &out).unwrap();
    let lock = held.lock().unwrap();
    refused(
        &ntk(&["kernel", "--x1", s(&x), "--out", s(&out)]),
        &["another ntk run", "K.npy"],
    );
    drop(lock);
    assert_eq!(listing(d), ["x.npy"]);
    // Two real processes, the second started while the first holds the lock.
    let big = d.join("big.npy");
    points(&big, 1024, 16);
    let args = |seed: &str| {
        let mut c = Command::new(bin());
        c.args([
            "kernel",
            "--method",
            "empirical",
            "--widths",
            "32768",
            "--seed",
            seed,
        ])
        .args(["--x1", s(&big), "--out", s(&out), "--memory-budget", "16M"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        c
    };
    let first = args("1").spawn().unwrap();
    let lockfile = d.join(".K.npy.lock");
    let start = Instant::now();
    while !lockfile.exists() && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(lockfile.exists(), "the first run never took its lock");
    let mut first = first;
    let second = run(args("2"));
    assert!(
        first.try_wait().unwrap().is_none(),
        "the first run ended before the second could start: inconclusive, make it larger"
    );
    let first = wait(first, Duration::from_secs(300));
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    refused(&second, &["another ntk run"]);
    // The kernel is the first run's, whole: equal to a run on its own.
    let alone = d.join("alone.npy");
    let k1 = std::fs::read(&out).unwrap();
    let mut c2 = Command::new(bin());
    c2.args([
        "kernel",
        "--method",
        "empirical",
        "--widths",
        "32768",
        "--seed",
        "1",
    ])
    .args(["--x1", s(&big), "--out", s(&alone)]);
    assert_eq!(run(c2).0, 0);
    assert_eq!(
        k1,
        std::fs::read(&alone).unwrap(),
        "the kernel mixes two runs"
    );
}

/// Starts a banded empirical run and kills it once the progress log records `bands`
/// finished bands; returns the args to run it again.
fn interrupted_run(d: &Path, x: &Path, out: &Path) -> Vec<String> {
    let args: Vec<String> = [
        "kernel",
        "--method",
        "empirical",
        "--widths",
        "32768",
        "--x1",
        s(x),
        "--out",
        s(out),
        "--memory-budget",
        "16M",
        "--dtype",
        "f64",
        "--threads",
        "1",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    let progress = d.join(".K.npy.progress");
    let mut child = Command::new(bin())
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(&progress).unwrap_or_default();
        if text.lines().filter(|l| l.starts_with("band ")).count() >= 1 {
            child.kill().unwrap();
            child.wait().unwrap();
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run finished before it could be interrupted; make it larger"
        );
        assert!(start.elapsed() < Duration::from_secs(120));
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(!out.exists());
    args
}

/// Class 5: a resume checks the content of the inputs (not their mtime), refuses a progress
/// log edited by hand and a band whose bytes changed; an honest resume is bit-identical.
#[test]
fn resume_checks_content_log_and_band_checksums() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let x = d.join("x.npy");
    points(&x, 1024, 16);
    let out = d.join("K.npy");
    let fresh = d.join("fresh.npy");
    let mut args = interrupted_run(d, &x, &out);
    let mut once = args.clone();
    once[8] = s(&fresh).to_string();
    assert_eq!(
        ntk(&once.iter().map(String::as_str).collect::<Vec<_>>()).0,
        0
    );
    args.push("--resume".into());
    let resume: Vec<&str> = args.iter().map(String::as_str).collect();

    // (a) The input's content changes, its size and mtime restored (`cp -p`).
    let original = std::fs::read(&x).unwrap();
    let stamp = d.join("stamp");
    std::fs::write(&stamp, b"").unwrap();
    assert!(
        Command::new("touch")
            .arg("-r")
            .arg(&x)
            .arg(&stamp)
            .status()
            .unwrap()
            .success()
    );
    let mut changed = original.clone();
    let n = changed.len();
    changed[n - 3] ^= 0x10;
    std::fs::write(&x, &changed).unwrap();
    assert!(
        Command::new("touch")
            .arg("-r")
            .arg(&stamp)
            .arg(&x)
            .status()
            .unwrap()
            .success()
    );
    refused(&ntk(&resume), &["--resume", "inputs"]);
    assert!(!out.exists());
    std::fs::write(&x, &original).unwrap();

    // (b) A `band N` line appended by hand.
    let progress = d.join(".K.npy.progress");
    let log = std::fs::read_to_string(&progress).unwrap();
    std::fs::write(&progress, format!("{log}band 5\n")).unwrap();
    refused(&ntk(&resume), &["--resume", "band B CHECKSUM"]);
    std::fs::write(&progress, &log).unwrap();

    // (c) A finished band's bytes changed on disk.
    let partial = d.join(".K.npy.partial");
    let bytes = std::fs::read(&partial).unwrap();
    let mut bad = bytes.clone();
    bad[200] ^= 1;
    std::fs::write(&partial, &bad).unwrap();
    refused(&ntk(&resume), &["--resume", "changed since it was written"]);
    std::fs::write(&partial, &bytes).unwrap();

    // An honest resume: the same bits as a run that was never interrupted.
    let res = ntk(&resume);
    assert_eq!(res.0, 0, "{}", res.2);
    assert!(res.1.contains("resumed"), "{}", res.1);
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&fresh).unwrap());
    assert_eq!(listing(d), ["K.npy", "fresh.npy", "stamp", "x.npy"]);
}

/// Class 6: an input rewritten in place or truncated during a run is an error (exit 2 and
/// a message, never SIGBUS), and nothing is written. `NTK_COPY_LIMIT=0` makes the run map
/// the input instead of reading it (as it does above 1 GiB): a truncation is then met as a
/// `SIGBUS` on the next band's read, which the handler turns into the same ending.
#[test]
fn inputs_changed_during_a_run_are_detected() {
    for (truncate, mapped) in [(false, false), (true, false), (false, true), (true, true)] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let x = d.join("x.npy");
        points(&x, 1024, 16);
        let out = d.join("K.npy");
        // Eight bands of 128 rows: seconds of work after the first band.
        let mut child = Command::new(bin())
            .args(["kernel", "--method", "empirical", "--widths", "32768"])
            .args(["--threads", "1", "--memory-budget", "12M"])
            .args(["--x1", s(&x), "--out", s(&out)])
            .env("NTK_COPY_LIMIT", if mapped { "0" } else { "1073741824" })
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Once the first band is logged, the inputs have been read: change them.
        let progress = d.join(".K.npy.progress");
        let start = Instant::now();
        while !std::fs::read_to_string(&progress)
            .unwrap_or_default()
            .contains("band ")
        {
            assert!(start.elapsed() < Duration::from_secs(120));
            assert!(
                child.try_wait().unwrap().is_none(),
                "the run ended before its input could be changed"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        let f = std::fs::OpenOptions::new().write(true).open(&x).unwrap();
        if truncate {
            f.set_len(100).unwrap();
        } else {
            use std::os::unix::fs::FileExt;
            f.write_all_at(&[0x3f; 64], 512).unwrap();
        }
        let res = wait(child, Duration::from_secs(300));
        let err = String::from_utf8_lossy(&res.stderr).into_owned();
        let case = format!("truncate={truncate} mapped={mapped}");
        assert_eq!(res.status.code(), Some(2), "{case}: {err}");
        assert!(
            err.contains("x.npy") && err.contains("while ntk was running"),
            "{case}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{case}: {err}");
        if truncate && mapped {
            assert!(err.contains("memory-mapped"), "{case}: {err}");
        }
        assert_eq!(listing(d), ["x.npy"], "{case}");
    }
}

/// Class 11: inputs that are not regular files are refused at once, saying what they are;
/// a FIFO with no writer never blocks.
#[test]
fn blocking_and_special_inputs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fifo = d.join("fifo.npy");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let out = d.join("K.npy");
    for (input, what) in [
        (s(&fifo), "FIFO"),
        ("/dev/zero", "character device"),
        ("/proc/self/status", "procfs"),
        (s(d), "directory"),
    ] {
        refused(
            &ntk(&["kernel", "--x1", input, "--out", s(&out)]),
            &[input, what],
        );
    }
    // Process substitution `<(…)`: a pipe, reported as one.
    let x = d.join("x.npy");
    points(&x, 5, 3);
    let script = format!("{} kernel --x1 <(cat {}) --out {}", bin(), s(&x), s(&out));
    let mut c = Command::new("bash");
    c.args(["-c", &script]);
    refused(&run(c), &["/dev/fd/", "not a regular file", "pipe"]);
    assert_eq!(listing(d), ["fifo.npy", "x.npy"]);
}

/// Class 16: failures leave nothing: an `--out` that is a directory, an unwritable output
/// directory (as an ordinary user), a failure after the computation.
#[test]
fn failures_leave_nothing_behind() {
    let root = tempfile::tempdir().unwrap();
    let d = root.path();
    let x = d.join("x.npy");
    points(&x, 6, 3);
    let sub = d.join("d");
    std::fs::create_dir(&sub).unwrap();
    refused(
        &ntk(&["kernel", "--x1", s(&x), "--out", s(&sub)]),
        &["--out", "directory"],
    );
    refused(
        &ntk(&[
            "kernel",
            "--x1",
            s(&x),
            "--out",
            &format!("{}/", s(&d.join("new"))),
        ]),
        &["--out", "directory"],
    );
    // A non-finite kernel is detected after the computation: still nothing left.
    let huge = d.join("huge.npy");
    common::matrix(&huge, 6, 3, |_, _| 1e300);
    refused(
        &ntk(&["kernel", "--x1", s(&huge), "--out", s(&d.join("K.npy"))]),
        &["K.npy"],
    );
    assert_eq!(listing(d), ["d", "huge.npy", "x.npy"]);
    assert!(listing(&sub).is_empty());
    // As an ordinary user, in a directory it cannot write: one line, nothing created.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&x, std::fs::Permissions::from_mode(0o644)).unwrap();
    if let Some(res) = as_nobody(&["kernel", "--x1", s(&x), "--out", s(&sub.join("K.npy"))]) {
        refused(&res, &["Permission denied"]);
        assert!(listing(&sub).is_empty());
    }
}
