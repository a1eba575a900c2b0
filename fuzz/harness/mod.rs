//! The fuzz targets' entry points, shared by the libFuzzer targets (`fuzz/fuzz_targets/*.rs`)
//! and by the regression test `tests/fuzz_regressions.rs`, which replays every committed corpus
//! and artifact file through the same functions without libFuzzer (fuzz/README.md).
//!
//! Every entry point takes arbitrary bytes, goes through the library's real file-loading path
//! under the crate's resource limits ([`SPEC_MEMORY_LIMIT`], [`MEMORY_LIMIT`] as `--max-memory`, the file limits of
//! `ntkcert::files`) and panics, which is the finding libFuzzer reports, when
//!
//! - the library panics;
//! - an error is not one line (every library error must be `FILE: field 'F': REASON`);
//! - `check` says `valid` for a certificate whose claims cannot hold (target `check`: a claimed
//!   interval disjoint from the one of the untouched, valid seed certificate, which contains the
//!   true value).
//!
//! Hangs and allocations over the limit are found by libFuzzer's `-timeout=5` and
//! `-rss_limit_mb=512` (also `malloc_limit_mb`, the same by default), and by the regression
//! test's time limit.

#![allow(dead_code)]

use ntkcert::check::Validity;
use ntkcert::resources::{Engine, MemoryLimit};
use serde_json::Value;
use std::cell::RefCell;
use std::path::{Path, PathBuf};

/// The memory limit of the spec targets (`--max-memory 32M`). It also bounds the loading work,
/// which is linear in the dimensions it limits: the generated weights of the largest spec 256 MiB
/// admits (about 3e5 parameters) take about 1 s natively but over 5 s (libFuzzer's timeout) in
/// the instrumented build (AddressSanitizer, debug assertions), a false hang.
pub const SPEC_MEMORY_LIMIT: u64 = 32 << 20;

/// The memory limit of the certificate targets (`check --max-memory 256M`, half of libFuzzer's
/// `-rss_limit_mb=512`; the checker's fixed part alone is estimated at 48 MiB).
pub const MEMORY_LIMIT: u64 = 256 << 20;

/// The tiny specs of the `certificate` and `check` targets and their valid certificates
/// (written by `ntkcert certify SPEC --out CERT`, see fuzz/README.md), by file name.
pub const TINY: [(&str, &str, &str); 4] = [
    ("tiny-flow.toml", include_str!("../specs/tiny-flow.toml"), include_str!("../specs/tiny-flow.cert.json")),
    ("tiny-bias.toml", include_str!("../specs/tiny-bias.toml"), include_str!("../specs/tiny-bias.cert.json")),
    ("tiny-descent.toml", include_str!("../specs/tiny-descent.toml"), include_str!("../specs/tiny-descent.cert.json")),
    ("tiny-forever.toml", include_str!("../specs/tiny-forever.toml"), include_str!("../specs/tiny-forever.cert.json")),
];

/// Panics unless `message` is one non-empty line (the library's error contract).
pub fn one_line(what: &str, message: &str) {
    assert!(!message.trim().is_empty(), "{what}: empty error message");
    assert!(!message.contains('\n') && !message.contains('\r'), "{what}: error message is not one line: {message:?}");
}

thread_local! {
    /// This thread's scratch directory (the regression test runs inputs on several threads).
    static SCRATCH: RefCell<Option<tempfile::TempDir>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's scratch directory, emptied first.
fn with_scratch<R>(f: impl FnOnce(&Path) -> R) -> R {
    SCRATCH.with(|cell| {
        let mut slot = cell.borrow_mut();
        // On tmpfs when there is one: a few files are written and removed per input.
        let base = Path::new("/dev/shm");
        let base = if base.is_dir() { base.to_path_buf() } else { std::env::temp_dir() };
        let dir = slot.get_or_insert_with(|| tempfile::Builder::new().prefix("ntkcert-fuzz-").tempdir_in(&base).expect("scratch directory"));
        let path = dir.path().to_path_buf();
        for entry in std::fs::read_dir(&path).expect("read scratch").flatten() {
            let p = entry.path();
            if p.is_dir() {
                std::fs::remove_dir_all(&p).expect("clean scratch");
            } else {
                std::fs::remove_file(&p).expect("clean scratch");
            }
        }
        f(&path)
    })
}

fn limit(engine: Engine) -> MemoryLimit {
    MemoryLimit { bytes: SPEC_MEMORY_LIMIT, order: None, engine }
}

/// Target `spec`: `data` as the text of a spec file (any bytes), loaded by
/// `spec::load_within` under [`SPEC_MEMORY_LIMIT`] from an otherwise empty directory.
pub fn spec(data: &[u8]) {
    with_scratch(|dir| {
        let path = dir.join("spec.toml");
        std::fs::write(&path, data).expect("write spec");
        if let Err(e) = ntkcert::spec::load_within(&path, &limit(Engine::Certify)) {
            one_line("spec", &e.to_string());
        }
    })
}

/// The separator of the `spec_files` input format: the spec text, then for each data file
/// `SEPARATOR NAME \n BYTES`.
pub const SEPARATOR: &[u8] = b"\n%%FILE ";

/// Splits a `spec_files` input into the spec text and the named files (names of 1 to 40
/// characters `[A-Za-z0-9._-]`, not starting with a dot; other parts are dropped).
pub fn split_files(data: &[u8]) -> (&[u8], Vec<(String, &[u8])>) {
    let mut parts = Vec::new();
    let rest = data;
    let mut starts = Vec::new();
    let mut i = 0;
    while i + SEPARATOR.len() <= rest.len() {
        if &rest[i..i + SEPARATOR.len()] == SEPARATOR {
            starts.push(i);
            i += SEPARATOR.len();
        } else {
            i += 1;
        }
    }
    let spec_end = starts.first().copied().unwrap_or(rest.len());
    let spec = &rest[..spec_end];
    for (k, &s) in starts.iter().enumerate() {
        let end = starts.get(k + 1).copied().unwrap_or(rest.len());
        let part = &rest[s + SEPARATOR.len()..end];
        let (name, bytes) = match part.iter().position(|&b| b == b'\n') {
            Some(p) => (&part[..p], &part[p + 1..]),
            None => (part, &part[part.len()..]),
        };
        let ok = !name.is_empty() && name.len() <= 40 && name[0] != b'.' && name.iter().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(b));
        if ok {
            parts.push((String::from_utf8(name.to_vec()).expect("ascii"), bytes));
        }
    }
    (spec, parts)
}

/// Target `spec_files`: a spec and its data files (`.npy`, `.csv`, `.safetensors`, any bytes;
/// format of [`split_files`]) written into a directory, then loaded by `spec::load_within` under
/// [`SPEC_MEMORY_LIMIT`], so the data go through the real file loaders.
pub fn spec_files(data: &[u8]) {
    let (spec, files) = split_files(data);
    with_scratch(|dir| {
        for (name, bytes) in &files {
            std::fs::write(dir.join(name), bytes).expect("write data file");
        }
        let path = dir.join("spec.toml");
        std::fs::write(&path, spec).expect("write spec");
        if let Err(e) = ntkcert::spec::load_within(&path, &limit(Engine::Certify)) {
            one_line("spec_files", &e.to_string());
        }
    })
}

/// Writes the tiny specs into `dir`.
fn write_tiny_specs(dir: &Path) {
    for (name, text, _) in TINY {
        std::fs::write(dir.join(name), text).expect("write tiny spec");
    }
}

/// Runs `ntkcert::check::check_file_within` (`check CERT --max-memory 256M`, the spec found
/// from the certificate) on the certificate `bytes` beside the tiny specs; panics on an error
/// that is not one line. The outcome: `Ok(true)` valid, `Ok(false)` invalid, `Err` an error.
fn check_bytes(what: &str, bytes: &[u8], spec: Option<&str>) -> Result<bool, String> {
    with_scratch(|dir| {
        write_tiny_specs(dir);
        let cert = dir.join("cert.json");
        std::fs::write(&cert, bytes).expect("write certificate");
        let spec: Option<PathBuf> = spec.map(|s| dir.join(s));
        match ntkcert::check::check_file_within(&cert, spec.as_deref(), false, Some(MEMORY_LIMIT)) {
            Ok(Validity::Valid) => Ok(true),
            Ok(Validity::Invalid(why)) => {
                one_line(what, &why);
                Ok(false)
            }
            Err(e) => {
                let e = e.to_string();
                one_line(what, &e);
                Err(e)
            }
        }
    })
}

/// Target `certificate`: `data` as a certificate file (any bytes), checked by `ntkcert check`
/// beside the tiny specs it may name (`spec.path`, `spec.path_from_certificate`).
pub fn certificate(data: &[u8]) {
    let _ = check_bytes("certificate", data, None);
}

/// The parsed seed certificates of [`TINY`], with their `spec.path` made relative to the
/// certificate's directory (where [`check_bytes`] writes the specs).
pub fn seeds() -> &'static [Value] {
    static SEEDS: std::sync::OnceLock<Vec<Value>> = std::sync::OnceLock::new();
    SEEDS.get_or_init(|| {
        TINY.iter()
            .map(|(name, _, cert)| {
                let mut v: Value = serde_json::from_str(cert).expect("seed certificate");
                v["spec"]["path"] = Value::from(*name);
                v["spec"]["path_from_certificate"] = Value::from(*name);
                v
            })
            .collect()
    })
}

/// JSON pointers of every number, in document order, outside `spec` (whose canonical form
/// only makes the identity check fail).
fn number_leaves(v: &Value, here: String, out: &mut Vec<String>) {
    match v {
        Value::Number(_) => out.push(here),
        Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| number_leaves(x, format!("{here}/{i}"), out)),
        Value::Object(m) => m.iter().filter(|(k, _)| here != "" || k.as_str() != "spec").for_each(|(k, x)| number_leaves(x, format!("{here}/{k}"), out)),
        _ => {}
    }
}

/// A little-endian reader of the fuzz input (zeros past its end).
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    fn u64(&mut self) -> u64 {
        (0..8).fold(0u64, |a, k| a | (u64::from(self.u8()) << (8 * k)))
    }
}

/// The `check` target's mutation of a seed: `data[0]` picks the seed, then each operation is an
/// opcode byte and its operands (see the match). Returns the seed index and the certificate.
pub fn mutate(data: &[u8]) -> (usize, Value) {
    let mut b = Bytes(data);
    let seed = usize::from(b.u8()) % TINY.len();
    let mut cert = seeds()[seed].clone();
    let mut ops = 0;
    while !b.0.is_empty() && ops < 64 {
        ops += 1;
        let op = b.u8() % 12;
        let mut leaves = Vec::new();
        number_leaves(&cert, String::new(), &mut leaves);
        let pick = |b: &mut Bytes, leaves: &[String]| -> Option<String> {
            let i = usize::from(b.u16());
            (!leaves.is_empty()).then(|| leaves[i % leaves.len()].clone())
        };
        let steps_key = if cert["hints"]["method"] == "gradient-descent" { "chunks" } else { "steps" };
        match op {
            // A number becomes an arbitrary f64 (non-finite ones become null in JSON).
            0 => {
                if let Some(p) = pick(&mut b, &leaves) {
                    let x = f64::from_bits(b.u64());
                    *cert.pointer_mut(&p).expect("leaf") = serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number);
                }
            }
            // A number moves by a few ulps (the claims' rigour is at the last bits).
            1 | 2 => {
                if let Some(p) = pick(&mut b, &leaves) {
                    let k = i64::from(b.u8() as i8);
                    let leaf = cert.pointer_mut(&p).expect("leaf");
                    if let Some(x) = leaf.as_f64() {
                        let y = if x == 0.0 { f64::from_bits(k.unsigned_abs()) * k.signum() as f64 } else { f64::from_bits((x.to_bits() as i64).wrapping_add(k) as u64) };
                        *leaf = serde_json::Number::from_f64(y).map_or(Value::Null, Value::Number);
                    }
                }
            }
            // A number is scaled by 2^(k/4).
            3 => {
                if let Some(p) = pick(&mut b, &leaves) {
                    let k = f64::from(b.u8() as i8) / 4.0;
                    let leaf = cert.pointer_mut(&p).expect("leaf");
                    if let Some(x) = leaf.as_f64() {
                        *leaf = serde_json::Number::from_f64(x * k.exp2()).map_or(Value::Null, Value::Number);
                    }
                }
            }
            // A number becomes an integer (counts, orders, indices).
            4 => {
                if let Some(p) = pick(&mut b, &leaves) {
                    let n = u64::from(b.u16()) as i64 - 16;
                    *cert.pointer_mut(&p).expect("leaf") = Value::from(n);
                }
            }
            // A step or chunk is split in two halves (the same record twice, h halved).
            5 => {
                if let Some(steps) = cert["hints"][steps_key].as_array_mut() {
                    if !steps.is_empty() && steps.len() < 256 {
                        let j = usize::from(b.u8()) % steps.len();
                        let mut s = steps[j].clone();
                        if let Some(h) = s.get("h").and_then(Value::as_f64) {
                            s["h"] = Value::from(h / 2.0);
                            steps[j]["h"] = Value::from(h / 2.0);
                        }
                        steps.insert(j, s);
                    }
                }
            }
            // A step or chunk is removed.
            6 => {
                if let Some(steps) = cert["hints"][steps_key].as_array_mut() {
                    if !steps.is_empty() {
                        let j = usize::from(b.u8()) % steps.len();
                        steps.remove(j);
                    }
                }
            }
            // Two steps or chunks swap.
            7 => {
                if let Some(steps) = cert["hints"][steps_key].as_array_mut() {
                    if !steps.is_empty() {
                        let (i, j) = (usize::from(b.u8()) % steps.len(), usize::from(b.u8()) % steps.len());
                        steps.swap(i, j);
                    }
                }
            }
            // The Taylor order.
            8 => cert["hints"]["order"] = Value::from(b.u8() % 64),
            // The verdict.
            9 => cert["claims"]["verdict"] = Value::from(["certified", "refuted", "inconclusive", "bogus"][usize::from(b.u8() % 4)]),
            // A number (or its field) is removed, or becomes null, a string or an object.
            10 => {
                if let Some(p) = pick(&mut b, &leaves) {
                    let what = b.u8() % 4;
                    let leaf = cert.pointer_mut(&p).expect("leaf");
                    *leaf = match what {
                        0 => Value::Null,
                        1 => Value::from("1/3"),
                        2 => serde_json::json!({"lo": 0.0, "hi": 1.0}),
                        _ => Value::Array(vec![]),
                    };
                }
            }
            // claims.steps follows the hinted steps (keeps the certificate consistent).
            _ => {
                if let Some(n) = cert["hints"]["steps"].as_array().map(Vec::len) {
                    cert["claims"]["steps"] = Value::from(n);
                }
            }
        }
    }
    (seed, cert)
}

/// The claimed intervals of a certificate: `(field, lo, hi)` (`null` ends are infinite).
fn claimed_intervals(cert: &Value) -> Vec<(String, f64, f64)> {
    let mut out = Vec::new();
    let end = |v: &Value, key: &str, inf: f64| v.get(key).and_then(Value::as_f64).unwrap_or(inf);
    let mut push = |field: String, v: &Value| out.push((field, end(v, "lo", f64::NEG_INFINITY), end(v, "hi", f64::INFINITY)));
    for key in ["sup_deviation", "final_deviation", "r0"] {
        push(format!("claims.{key}"), &cert["claims"][key]);
    }
    for key in ["outputs_final", "linear_outputs_final"] {
        for (i, v) in cert["claims"][key].as_array().into_iter().flatten().enumerate() {
            push(format!("claims.{key}[{i}]"), v);
        }
    }
    out
}

/// Target `check`: a valid certificate of a tiny problem ([`TINY`]), mutated by [`mutate`],
/// checked by `ntkcert check` (about a millisecond per input). Besides the panics and one-line
/// errors, a `valid` answer must not claim an interval disjoint from the seed's.
pub fn check(data: &[u8]) {
    let (seed, cert) = mutate(data);
    let bytes = serde_json::to_vec_pretty(&cert).expect("serialise");
    if check_bytes("check", &bytes, None) == Ok(true) {
        let truth = claimed_intervals(&seeds()[seed]);
        for (field, lo, hi) in claimed_intervals(&cert) {
            if let Some((_, tlo, thi)) = truth.iter().find(|t| t.0 == field) {
                assert!(lo <= *thi && *tlo <= hi, "check: valid certificate claims {field} in [{lo:e}, {hi:e}], disjoint from the seed's [{tlo:e}, {thi:e}]");
            }
        }
    }
}
