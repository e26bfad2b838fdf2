#![no_main]
//! Fuzzes the `faultlens_topology` decoder: any input must give records or an error, never a panic.

use faultlens_core::{SourceFormat, SourceOptions, decode_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let options = SourceOptions::new();
    let _ = decode_bytes(SourceFormat::FaultlensTopology, "fuzz", data, &options);
});
