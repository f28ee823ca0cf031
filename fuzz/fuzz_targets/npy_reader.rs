//! Fuzzes the `.npy` reader: any byte string must give a value or a typed error, never a
//! panic, and every accessor of an accepted file must stay in bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ntk_engine::{NpyFile, Points};

fuzz_target!(|data: &[u8]| {
    if let Ok(file) = NpyFile::from_bytes("fuzz.npy", data.to_vec()) {
        let n = file.len();
        let _ = file.shape();
        let _ = file.as_f32();
        let _ = file.as_f64();
        if n > 0 && n < 1 << 20 {
            let v = file.to_f64_vec();
            assert_eq!(v.len(), n);
            let _ = file.get(n - 1);
        }
        if let Ok(p) = Points::from_npy(&file) {
            assert_eq!(p.rows() * p.cols(), n);
        }
    }
});
