//! Fuzz target `check`: see `harness::check` and fuzz/README.md.
#![no_main]

#[path = "../harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::check(data));
