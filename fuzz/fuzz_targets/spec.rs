//! Fuzz target `spec`: see `harness::spec` and fuzz/README.md.
#![no_main]

#[path = "../harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::spec(data));
