//! Any bytes through format detection and every importer: an error is fine, a panic,
//! a hang or unbounded memory is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ferry_import::import(data, &ferry_import::ImportOptions::default());
});
