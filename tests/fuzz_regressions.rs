//! Replays every committed fuzz input (the minimised corpus `fuzz/corpus/TARGET/` and the
//! reproducers `fuzz/artifacts/TARGET/`) through the fuzz targets' own entry points
//! (`fuzz/harness/mod.rs`), without libFuzzer (fuzz/README.md). Each input must end in `Ok` or a
//! one-line error, never a panic, and (target `check`) within the fuzzing timeout; a `valid`
//! answer of `check` must not claim what the seed certificate refutes. A fixed bug that comes
//! back fails here through its reproducer.

#[path = "../fuzz/harness/mod.rs"]
mod harness;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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

/// Runs every input of `target` through `entry`; fails naming each input that panicked or took
/// longer than [`TIMEOUT`].
fn replay(target: &str, entry: fn(&[u8])) {
    let files = inputs(target);
    assert!(files.len() >= 4, "fuzz/corpus/{target}: only {} inputs (is the corpus committed?)", files.len());
    let mut failures = Vec::new();
    for path in &files {
        let data = std::fs::read(path).expect("read fuzz input");
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
    }
    assert!(failures.is_empty(), "{} of {} {target} inputs failed:\n{}", failures.len(), files.len(), failures.join("\n"));
}

#[test]
fn spec_inputs() {
    replay("spec", harness::spec);
}

#[test]
fn spec_with_data_files() {
    replay("spec_files", harness::spec_files);
}

#[test]
fn certificates() {
    replay("certificate", harness::certificate);
}

#[test]
fn check_of_mutated_certificates() {
    replay("check", harness::check);
}

/// The harness's contract checks can fail: a multi-line error is a finding.
#[test]
#[should_panic(expected = "not one line")]
fn a_multi_line_error_is_a_finding() {
    harness::one_line("test", "first line\nsecond line");
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
