//! Fuzzes the CLI argument parser and the progress-log parser of resumable kernel files:
//! any input gives a value or a one-line error, never a panic. The first byte chooses:
//! even, the rest is a command line (arguments separated by NUL bytes) for
//! `ntk_cli::parse_args`; odd, the rest is a progress log for `parse_progress`, alone and
//! after a valid header.
#![no_main]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use libfuzzer_sys::fuzz_target;
use ntk_cli::{Parsed, parse_args};
use ntk_engine::data::kernel_file::{parse_progress, progress_header};
use ntk_engine::data::npy::Dtype;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    if selector & 1 == 0 {
        let args = std::iter::once(OsString::from("ntk"))
            .chain(rest.split(|&b| b == 0).map(|a| OsString::from_vec(a.to_vec())));
        if let Parsed::Usage(line) = parse_args(args) {
            assert!(!line.contains('\n') && line.starts_with("ntk: "), "{line:?}");
        }
    } else {
        let text = String::from_utf8_lossy(rest);
        let header = progress_header(&[6, 4], Dtype::F32, 2, "job key");
        let _ = parse_progress(&text, &header, 3);
        if let Ok(sums) = parse_progress(&format!("{header}{text}"), &header, 3) {
            assert_eq!(sums.len(), 3);
        }
    }
});
