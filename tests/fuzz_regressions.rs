//! Replays every committed fuzz input (the minimised corpus `fuzz/corpus/TARGET/` and the
//! reproducers `fuzz/artifacts/TARGET/`) through the fuzz targets' own entry points
//! (`fuzz/harness/mod.rs`), without libFuzzer (fuzz/README.md). Each input must end in `Ok` or a
//! one-line error, never a panic, and (target `check`) within the fuzzing timeout; a `valid`
//! answer of `check` must not claim what the seed certificate refutes. A fixed bug that comes
//! back fails here through its reproducer. A single allocation above libFuzzer's
//! `-malloc_limit_mb` (512 MiB, the `-rss_limit_mb` of the runs) fails too: this test binary's
//! allocator records the largest request (natively a large zeroed allocation may succeed
//! without touching memory, so the request itself is what is checked).

#[path = "../fuzz/harness/mod.rs"]
mod harness;

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The system allocator, recording the largest single request since the last reset.
struct Recording;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Recording {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOCATOR: Recording = Recording;

/// Held by the tests that read or make [`LARGEST`] (tests run on parallel threads).
static RECORD: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// libFuzzer's `-malloc_limit_mb` (the `-rss_limit_mb=512` of the runs).
const ALLOCATION_LIMIT: usize = 512 << 20;

/// libFuzzer's `-timeout=5` of the fuzzing runs.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The committed inputs of `target`: corpus and artifacts, sorted.
fn inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut files: Vec<PathBuf> = ["corpus", "artifacts"]
        .iter()
        .filter_map(|kind| std::fs::read_dir(root.join(kind).join(target)).ok())
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs every input of `target` through `entry`; returns a line for each input that panicked,
/// took longer than [`TIMEOUT`] or asked for more than [`ALLOCATION_LIMIT`] at once.
fn replay(target: &str, entry: fn(&[u8])) -> Vec<String> {
    let files = inputs(target);
    assert!(files.len() >= 4, "fuzz/corpus/{target}: only {} inputs (is the corpus committed?)", files.len());
    let mut failures = Vec::new();
    for path in &files {
        let data = std::fs::read(path).expect("read fuzz input");
        LARGEST.store(0, Ordering::Relaxed);
        let start = Instant::now();
        let outcome = std::panic::catch_unwind(|| entry(&data));
        let took = start.elapsed();
        let name = path.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap_or(path).display().to_string();
        match outcome {
            Err(panic) => {
                let why = panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default();
                failures.push(format!("{name}: panicked: {why}"));
            }
            Ok(()) if took > TIMEOUT => failures.push(format!("{name}: took {took:?}, over {TIMEOUT:?}")),
            Ok(()) => {}
        }
        let largest = LARGEST.load(Ordering::Relaxed);
        if largest > ALLOCATION_LIMIT {
            failures.push(format!("{name}: allocated {largest} bytes at once, over {ALLOCATION_LIMIT}"));
        }
    }
    eprintln!("fuzz_regressions: {} {target} inputs replayed", files.len());
    failures
}

/// The four targets, one after the other (in one test, so that the recorded allocations are
/// this input's alone).
#[test]
fn every_committed_input_ends_cleanly() {
    let _record = RECORD.lock().unwrap_or_else(|e| e.into_inner());
    let mut failures = Vec::new();
    failures.extend(replay("spec", harness::spec));
    failures.extend(replay("spec_files", harness::spec_files));
    failures.extend(replay("certificate", harness::certificate));
    failures.extend(replay("check", harness::check));
    assert!(failures.is_empty(), "{} committed fuzz inputs failed:\n{}", failures.len(), failures.join("\n"));
}

/// The harness's contract checks can fail: a multi-line error is a finding.
#[test]
#[should_panic(expected = "not one line")]
fn a_multi_line_error_is_a_finding() {
    harness::one_line("test", "first line\nsecond line");
}

/// The allocation record works (so that an allocation regression can fail the replay).
#[test]
fn large_requests_are_recorded() {
    let _record = RECORD.lock().unwrap_or_else(|e| e.into_inner());
    let v: Vec<u8> = Vec::with_capacity(ALLOCATION_LIMIT + 1);
    assert!(LARGEST.load(Ordering::Relaxed) > ALLOCATION_LIMIT);
    drop(v);
}

/// The untouched seeds check `valid` (else the `check` target would only exercise refusals).
#[test]
fn the_seed_certificates_are_valid() {
    for (seed, (name, _, _)) in harness::TINY.iter().enumerate() {
        let (_, cert) = harness::mutate(&[seed as u8]);
        assert_eq!(&cert, &harness::seeds()[seed], "{name}");
        let dir = tempfile::tempdir().expect("temp dir");
        for (spec, text, _) in harness::TINY {
            std::fs::write(dir.path().join(spec), text).expect("write spec");
        }
        let path = dir.path().join("cert.json");
        std::fs::write(&path, serde_json::to_vec(&cert).expect("json")).expect("write cert");
        let v = ntkcert::check::check_file_within(&path, None, false, Some(harness::MEMORY_LIMIT)).expect("check runs");
        assert_eq!(v, ntkcert::check::Validity::Valid, "{name}");
    }
}
