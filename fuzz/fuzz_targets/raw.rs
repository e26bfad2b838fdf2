#![no_main]
//! Fuzzes the `raw` decoder: any input must give records or an error, never a panic.

use faultlens_core::{SourceFormat, SourceOptions, decode_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut options = SourceOptions::new();
    options.insert("log_format".into(), "auto".into());
    let _ = decode_bytes(SourceFormat::Raw, "fuzz", data, &options);
});
