//! End-to-end tests of the `ntkcert` binary: verdicts and exit codes, the `--json` report, the
//! certificate file (content, hashes, atomic writing, schema), `simulate`, and every kind of bad
//! input (one line on stderr naming the field or file, the documented exit code, nothing on
//! stdout, no output file). Only small specs: the whole file runs in a few seconds in release.

mod common;
use common::{code, npy_f64, ntkcert, root};
use num_bigint::BigUint;
use ntkcert::arith::rational::{f64_to_rational, parse_decimal};
use serde_json::Value;
use std::ffi::OsStr;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Output;

fn repo(rel: &str) -> PathBuf {
    root().join(rel)
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("stderr is UTF-8")
}

/// The one JSON object printed on stdout (exactly one line).
fn json_stdout(out: &Output) -> Value {
    let s = stdout(out);
    assert_eq!(s.lines().count(), 1, "expected one line of JSON on stdout, got:\n{s}");
    let v: Value = serde_json::from_str(s.trim_end()).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{s}"));
    assert!(v.is_object(), "stdout is not a JSON object: {s}");
    v
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// Names of the entries of `dir`, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

/// `(lo, hi)` of an interval object `{"lo": .., "hi": ..}` with finite endpoints, `lo <= hi`.
fn interval(v: &Value, what: &str) -> (f64, f64) {
    let obj = v.as_object().unwrap_or_else(|| panic!("{what}: not an object: {v}"));
    assert_eq!(obj.len(), 2, "{what}: expected exactly the keys lo, hi: {v}");
    let lo = obj.get("lo").and_then(Value::as_f64).unwrap_or_else(|| panic!("{what}: lo is not a number: {v}"));
    let hi = obj.get("hi").and_then(Value::as_f64).unwrap_or_else(|| panic!("{what}: hi is not a number: {v}"));
    assert!(lo <= hi, "{what}: lo > hi: {v}");
    (lo, hi)
}

/// The exact decimal expansion of a positive finite f64 (every binary fraction has one).
fn exact_decimal(x: f64) -> String {
    assert!(x.is_finite() && x > 0.0);
    let bits = x.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i64;
    let fraction = bits & ((1u64 << 52) - 1);
    let (m, e) = if biased == 0 { (fraction, -1074) } else { (fraction | (1 << 52), biased - 1075) };
    // x = m 2^e = m 5^k / 10^k with k = -e.
    let s = if e >= 0 {
        (BigUint::from(m) << e as usize).to_string()
    } else {
        let k = (-e) as usize;
        let digits = (BigUint::from(m) * BigUint::from(5u32).pow(k as u32)).to_string();
        let padded = if digits.len() <= k { "0".repeat(k + 1 - digits.len()) + &digits } else { digits };
        let (int, frac) = padded.split_at(padded.len() - k);
        let frac = frac.trim_end_matches('0');
        if frac.is_empty() { int.to_string() } else { format!("{int}.{frac}") }
    };
    assert_eq!(parse_decimal(&s).unwrap(), f64_to_rational(x), "exact_decimal({x:e}) = {s} is not exact");
    s
}

// ---------------------------------------------------------------------------------------------
// Verdicts, exit codes and the --json report.

const SMALL: &str = "specs/bench/gf-mlp-small.toml";

#[test]
fn certify_small_json_is_one_certified_object() {
    let out = ntkcert(&["certify", SMALL, "--json"]);
    assert_eq!(code(&out), 0, "stderr: {}", stderr(&out));
    assert_eq!(stderr(&out), "", "--json prints nothing on stderr (no progress bar)");
    let v = json_stdout(&out);
    for key in ["verdict", "sup_deviation", "final_deviation", "outputs_final", "r0", "seconds"] {
        assert!(v.get(key).is_some(), "missing key {key}: {v}");
    }
    assert_eq!(v["verdict"], "certified");
    assert_eq!(v["name"], "gf-mlp-small");
    assert_eq!(v["tolerance"], "1/1000");
    assert!(v["reason"].is_null());
    let (sup_lo, sup_hi) = interval(&v["sup_deviation"], "sup_deviation");
    let (fin_lo, fin_hi) = interval(&v["final_deviation"], "final_deviation");
    assert!(sup_lo >= 0.0 && fin_lo >= 0.0, "a deviation is a norm: {v}");
    assert!(sup_hi <= 1e-3, "certified means sup D <= eps = 1e-3: {v}");
    assert!(fin_hi <= sup_hi, "D(T) <= sup_t D(t): {v}");
    assert!(fin_lo <= sup_hi, "D(T) and sup D enclosures must be consistent: {v}");
    let outputs = v["outputs_final"].as_array().expect("outputs_final is a list");
    assert_eq!(outputs.len(), 8, "N = n = 8 outputs");
    for (i, x) in outputs.iter().enumerate() {
        interval(x, &format!("outputs_final[{i}]"));
    }
    let lin = v["linear_outputs_final"].as_array().expect("linear_outputs_final is a list");
    assert_eq!(lin.len(), 8);
    for (i, x) in lin.iter().enumerate() {
        interval(x, &format!("linear_outputs_final[{i}]"));
    }
    let (r0_lo, r0_hi) = interval(&v["r0"], "r0");
    assert!(r0_lo > 0.0 && r0_hi < 1.0, "R0 = |y|^2 / 2 ~ 0.714: {v}");
    assert!(v["seconds"].as_f64().is_some_and(|s| s >= 0.0), "seconds: {v}");
    assert!(v["steps"].as_u64().is_some_and(|s| s >= 1), "steps: {v}");
}

#[test]
fn certify_small_text_report() {
    let out = ntkcert(&["certify", SMALL, "--quiet"]);
    assert_eq!(code(&out), 0, "stderr: {}", stderr(&out));
    let s = stdout(&out);
    assert!(s.starts_with("gf-mlp-small: CERTIFIED"), "{s}");
    assert!(s.contains("sup_(t<=T) D(t) in ["), "{s}");
}

#[test]
fn refuted_example_exits_1() {
    let out = ntkcert(&["certify", "specs/examples/mlp-inline.toml", "--json"]);
    assert_eq!(code(&out), 1, "stderr: {}", stderr(&out));
    let v = json_stdout(&out);
    assert_eq!(v["verdict"], "refuted");
    let (lo, _) = interval(&v["sup_deviation"], "sup_deviation");
    assert!(lo > 0.05, "refuted means a certified lower bound above eps = 0.05: {v}");
}

/// `--trace` reports rejected step attempts on stderr and changes nothing else. (At order 40
/// this example has a rejected attempt; at the default order every step passes.)
#[test]
fn trace_lists_rejected_steps_without_changing_the_result() {
    let plain = ntkcert(&["certify", "specs/examples/mlp-inline.toml", "--json", "--order", "40", "--accuracy", "tight"]);
    let traced = ntkcert(&["certify", "specs/examples/mlp-inline.toml", "--json", "--order", "40", "--accuracy", "tight", "--trace"]);
    assert_eq!(code(&traced), 1, "stderr: {}", stderr(&traced));
    let lines: Vec<String> = stderr(&traced).lines().map(str::to_owned).collect();
    assert!(!lines.is_empty() && lines.iter().all(|l| l.starts_with("t = ") && l.contains(": rejected, ")), "{lines:?}");
    let (mut a, mut b) = (json_stdout(&plain), json_stdout(&traced));
    a["seconds"] = Value::Null;
    b["seconds"] = Value::Null;
    assert_eq!(a, b);
}

/// `[training] regularization = "0"` is the plain gradient flow bit for bit (the same JSON
/// apart from the spec's hash and time); `"1"` changes the answer and says so in the report.
#[test]
fn zero_regularization_is_plain_gradient_flow() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo(SMALL)).unwrap();
    let zero = dir.path().join("zero.toml");
    write(&zero, &format!("{text}\n[training]\nregularization = \"0\"\n"));
    let one = dir.path().join("one.toml");
    write(&one, &format!("{text}\n[training]\nregularization = \"1\"\n"));
    let plain = json_stdout(&ntkcert(&["certify", SMALL, "--json"]));
    let mut z = json_stdout(&ntkcert(&[OsStr::new("certify"), zero.as_os_str(), "--json".as_ref()]));
    let mut p = plain.clone();
    for v in [&mut z, &mut p] {
        v["seconds"] = Value::Null;
        v["spec_sha256"] = Value::Null;
    }
    assert_eq!(z, p);
    let o = json_stdout(&ntkcert(&[OsStr::new("certify"), one.as_os_str(), "--json".as_ref()]));
    assert_ne!(o["sup_deviation"], plain["sup_deviation"]);
    let report = stdout(&ntkcert(&[OsStr::new("certify"), one.as_os_str(), "-q".as_ref()]));
    assert!(report.contains("lambda = 1"), "{report}");
}

/// Round trips (issue 21): an unwritable `--out` is refused before any computation, with one
/// line; `table` given a certificate says what it is; `table DIR` reads `DIR/results.jsonl`.
#[test]
fn unwritable_out_and_certificates_given_to_table_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = ntkcert(&[OsStr::new("certify"), repo(SMALL).as_os_str(), "-q".as_ref(), "--out".as_ref(), dir.path().as_os_str()]);
    assert_eq!(code(&out), 73, "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "nothing computed or printed: {}", stdout(&out));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("it is a directory"), "{}", stderr(&out));
    let missing = dir.path().join("no-such-dir").join("c.json");
    let out = ntkcert(&[OsStr::new("certify"), repo(SMALL).as_os_str(), "-q".as_ref(), "--out".as_ref(), missing.as_os_str()]);
    assert_eq!(code(&out), 73, "{}", stderr(&out));
    assert!(stdout(&out).is_empty());

    let cert = dir.path().join("c.json");
    let out = ntkcert(&[OsStr::new("certify"), repo(SMALL).as_os_str(), "-q".as_ref(), "--out".as_ref(), cert.as_os_str()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = ntkcert(&[OsStr::new("table"), cert.as_os_str()]);
    assert_eq!(code(&out), 65, "{}", stderr(&out));
    assert!(stderr(&out).contains("this is a certificate") && stderr(&out).contains("results.jsonl"), "{}", stderr(&out));

    let sweep_dir = dir.path().join("sweep");
    let out = ntkcert(&[OsStr::new("sweep"), repo(SMALL).as_os_str(), "--set".as_ref(), "alpha=10".as_ref(), "--quiet".as_ref(), "--out".as_ref(), sweep_dir.as_os_str()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = ntkcert(&[OsStr::new("table"), sweep_dir.as_os_str()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).starts_with("| alpha"), "{}", stdout(&out));
}

/// The tolerance set to the exact midpoint of the certified enclosure of sup D: neither
/// `sup D <= eps` nor `sup D > eps` can be proved (tight: one pass); the default accuracy
/// then tightens by itself and decides.
#[test]
fn tolerance_inside_the_enclosure_is_inconclusive_exit_2() {
    let first = json_stdout(&ntkcert(&["certify", SMALL, "--json", "--accuracy", "tight"]));
    let (lo, hi) = interval(&first["sup_deviation"], "sup_deviation");
    let mid = lo + (hi - lo) / 2.0;
    assert!(lo < mid && mid < hi, "the enclosure [{lo:e}, {hi:e}] has no f64 strictly inside");
    let eps = exact_decimal(mid);

    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo(SMALL)).unwrap();
    assert_eq!(text.matches("tolerance = \"1e-3\"").count(), 1);
    let spec = dir.path().join("inside.toml");
    write(&spec, &text.replace("tolerance = \"1e-3\"", &format!("tolerance = \"{eps}\"")));

    let out = ntkcert(&[OsStr::new("certify"), spec.as_os_str(), "--json".as_ref(), "--accuracy".as_ref(), "tight".as_ref()]);
    assert_eq!(code(&out), 2, "stdout: {} stderr: {}", stdout(&out), stderr(&out));
    let v = json_stdout(&out);
    assert_eq!(v["verdict"], "inconclusive");
    assert_eq!(v["sup_deviation"], first["sup_deviation"], "the tolerance does not change the enclosure");
    assert!(v["reason"].as_str().is_some_and(|r| r.contains("inside")), "a reason is given: {v}");

    // The readable report says so too, with the reason.
    let out = ntkcert(&[OsStr::new("certify"), spec.as_os_str(), "-q".as_ref(), "--accuracy".as_ref(), "tight".as_ref()]);
    assert_eq!(code(&out), 2);
    let s = stdout(&out);
    assert!(s.contains("INCONCLUSIVE") && s.contains("why:"), "{s}");

    // The default's first pass cannot decide an eps taken inside its own enclosure either (here
    // near its lower end, away from the tight enclosure); its later passes tighten until they do.
    let loose = json_stdout(&ntkcert(&["certify", SMALL, "--json", "--accuracy", "1e-2"]));
    let (lo, hi) = interval(&loose["sup_deviation"], "sup_deviation");
    let eps = exact_decimal(lo + (hi - lo) / 50.0);
    assert!(eps.parse::<f64>().unwrap() < first["sup_deviation"]["lo"].as_f64().unwrap(), "eps {eps} not below the tight enclosure");
    write(&spec, &text.replace("tolerance = \"1e-3\"", &format!("tolerance = \"{eps}\"")));
    let out = ntkcert(&[OsStr::new("certify"), spec.as_os_str(), "--json".as_ref(), "--trace".as_ref(), "--accuracy".as_ref(), "1e-2".as_ref()]);
    let v = json_stdout(&out);
    assert_eq!(v["verdict"], "refuted", "{v}");
    assert!(stderr(&out).contains("pass 2"), "{}", stderr(&out));
}

/// gf-mlp-small with `[solver] max_steps = steps`, written as `limit.toml` in `dir`.
fn small_with_step_limit(dir: &Path, steps: usize) -> PathBuf {
    let text = std::fs::read_to_string(repo(SMALL)).unwrap();
    let spec = dir.join("limit.toml");
    write(&spec, &format!("{text}\n[solver]\nmax_steps = {steps}\n"));
    spec
}

/// An integrator that gives up (here: at the step limit) gives an inconclusive verdict, a reason,
/// whole-line enclosures (null endpoints), and still a valid certificate.
#[test]
fn step_limit_is_inconclusive_with_whole_line_enclosures() {
    let dir = tempfile::tempdir().unwrap();
    let spec = small_with_step_limit(dir.path(), 2);
    let cert_path = dir.path().join("limit.json");
    let out = ntkcert(&[OsStr::new("certify"), spec.as_os_str(), "--json".as_ref(), "--out".as_ref(), cert_path.as_os_str()]);
    assert_eq!(code(&out), 2, "stderr: {}", stderr(&out));
    let v = json_stdout(&out);
    assert_eq!(v["verdict"], "inconclusive");
    assert!(v["reason"].as_str().is_some_and(|r| r.contains("step limit")), "{v}");
    assert_eq!(v["steps"], 2);
    for key in ["sup_deviation", "final_deviation"] {
        assert!(v[key]["lo"].is_null() && v[key]["hi"].is_null(), "{key}: {v}");
    }
    interval(&v["r0"], "r0");
    let cert: Value = serde_json::from_str(&std::fs::read_to_string(&cert_path).unwrap()).unwrap();
    assert_eq!(cert["claims"], v);
    assert_eq!(cert["hints"]["steps"].as_array().unwrap().len(), 2);
    check_against_schema(&cert);
}

/// `simulate` honours `[solver] max_steps` and says where it stopped.
#[test]
fn simulate_stops_at_the_step_limit() {
    let dir = tempfile::tempdir().unwrap();
    let spec = small_with_step_limit(dir.path(), 3);
    let out = ntkcert(&[OsStr::new("simulate"), spec.as_os_str(), "--json".as_ref()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json_stdout(&out);
    assert_eq!(v["steps"], 3);
    assert!(v["stopped_at"].as_f64().is_some_and(|t| t > 0.0 && t < 5.0), "{v}");
    let out = ntkcert(&["simulate", SMALL, "--json"]);
    assert!(json_stdout(&out)["stopped_at"].is_null());
}

/// `--accuracy`: a relative target certifies the same verdict in fewer steps with a wider
/// enclosure that contains the tight one's midpoint region; `--out` needs `tight`; a bad value
/// is a usage error.
#[test]
fn accuracy_targets() {
    let tight = ntkcert(&["certify", SMALL, "--json", "--accuracy", "tight"]);
    let loose = ntkcert(&["certify", SMALL, "--json", "--accuracy", "1e-4"]);
    assert_eq!(code(&tight), 0);
    assert_eq!(code(&loose), 0);
    let (t, l) = (json_stdout(&tight), json_stdout(&loose));
    assert_eq!(t["verdict"], l["verdict"]);
    assert!(l["steps"].as_u64().unwrap() < t["steps"].as_u64().unwrap(), "{} vs {}", l["steps"], t["steps"]);
    let (tlo, thi) = interval(&t["sup_deviation"], "tight sup D");
    let (llo, lhi) = interval(&l["sup_deviation"], "loose sup D");
    // Both enclose the same number: they intersect, and the loose one meets its target.
    assert!(llo <= thi && tlo <= lhi, "[{llo}, {lhi}] and [{tlo}, {thi}] are disjoint");
    assert!((lhi - llo) / lhi <= 2e-4, "relative width {} (about 1e-4: within twice)", (lhi - llo) / lhi);
    // The default is 1e-4.
    assert_eq!(json_stdout(&ntkcert(&["certify", SMALL, "--json"]))["sup_deviation"], l["sup_deviation"]);
    // Its certificate checks valid.
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("c.json");
    let out = ntkcert(&[OsStr::new("certify"), OsStr::new(SMALL), "--accuracy".as_ref(), "1e-4".as_ref(), "--out".as_ref(), cert.as_os_str()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = ntkcert(&[OsStr::new("check"), cert.as_os_str(), "--quiet".as_ref()]);
    assert_eq!(stdout(&out), "valid\n", "{}", stderr(&out));
    // The order range is the checker's (2..=60) everywhere.
    for q in ["1", "61"] {
        let out = ntkcert(&["certify", SMALL, "--order", q]);
        assert_eq!(code(&out), 64, "--order {q}");
        assert!(stderr(&out).contains("between 2 and 60"), "{}", stderr(&out));
    }
    let out = ntkcert(&["certify", SMALL, "--accuracy", "fast"]);
    assert_eq!(code(&out), 64);
    assert!(stderr(&out).contains("'fast'"), "{}", stderr(&out));
}

/// `--validation` and `[solver] validation`: both step validations certify the same verdict
/// with enclosures that intersect, their certificates check valid, and bad values are one-line
/// errors naming the option or the field.
#[test]
fn step_validation_choices() {
    let dir = tempfile::tempdir().unwrap();
    let mut enclosures = Vec::new();
    for v in ["nodes", "remainder", "auto"] {
        let cert = dir.path().join(format!("{v}.json"));
        let out = ntkcert(&[OsStr::new("certify"), OsStr::new(SMALL), "--json".as_ref(), "--validation".as_ref(), v.as_ref(), "--out".as_ref(), cert.as_os_str()]);
        assert_eq!(code(&out), 0, "{v}: {}", stderr(&out));
        let result = json_stdout(&out);
        assert_eq!(result["verdict"], "certified", "{v}");
        enclosures.push(interval(&result["sup_deviation"], v));
        let out = ntkcert(&[OsStr::new("check"), cert.as_os_str(), "--quiet".as_ref()]);
        assert_eq!(stdout(&out), "valid\n", "{v}: {}", stderr(&out));
    }
    let (nodes, remainder) = (enclosures[0], enclosures[1]);
    assert!(nodes.0 <= remainder.1 && remainder.0 <= nodes.1, "{nodes:?} and {remainder:?} are disjoint");
    assert_ne!(nodes, remainder, "the two validations should give different enclosures");
    let out = ntkcert(&["certify", SMALL, "--validation", "fast"]);
    assert_eq!(code(&out), 64);
    assert!(stderr(&out).contains("'fast'"), "{}", stderr(&out));
    let spec = dir.path().join("bad.toml");
    std::fs::write(&spec, std::fs::read_to_string(SMALL).unwrap() + "\n[solver]\nvalidation = \"fast\"\n").unwrap();
    let out = ntkcert(&[OsStr::new("certify"), spec.as_os_str(), "-q".as_ref()]);
    assert_eq!(code(&out), 65, "{}", stderr(&out));
    assert!(stderr(&out).contains("solver.validation") && stderr(&out).lines().count() == 1, "{}", stderr(&out));
}

// ---------------------------------------------------------------------------------------------
// simulate, help.

#[test]
fn simulate_agrees_with_the_certified_midpoint() {
    let cert = json_stdout(&ntkcert(&["certify", SMALL, "--json"]));
    let out = ntkcert(&["simulate", SMALL, "--json"]);
    assert_eq!(code(&out), 0, "stderr: {}", stderr(&out));
    let sim = json_stdout(&out);
    for key in ["final_deviation", "sup_deviation"] {
        let (lo, hi) = interval(&cert[key], key);
        let mid = lo + (hi - lo) / 2.0;
        let d = sim[key].as_f64().unwrap_or_else(|| panic!("simulate {key}: {sim}"));
        assert!((d - mid).abs() <= 1e-9, "simulate {key} = {d:e}, certified midpoint {mid:e}");
    }
    let (r0_lo, r0_hi) = interval(&cert["r0"], "r0");
    let r0 = sim["r0"].as_f64().unwrap();
    assert!((r0 - (r0_lo + r0_hi) / 2.0).abs() <= 1e-12, "R0 {r0} vs [{r0_lo}, {r0_hi}]");
    let outputs = sim["outputs_final"].as_array().unwrap();
    assert_eq!(outputs.len(), 8);

    let text = ntkcert(&["simulate", SMALL]);
    assert_eq!(code(&text), 0);
    assert!(stdout(&text).contains("not certified"), "{}", stdout(&text));
}

#[test]
fn help_and_version_exit_0() {
    let out = ntkcert(&["--help"]);
    assert_eq!(code(&out), 0);
    let s = stdout(&out);
    for cmd in ["certify", "simulate", "bench"] {
        assert!(s.contains(cmd), "--help lists {cmd}:\n{s}");
    }
    let out = ntkcert(&["certify", "--help"]);
    assert_eq!(code(&out), 0);
    assert!(stdout(&out).contains("--out"), "{}", stdout(&out));
    let out = ntkcert(&["--version"]);
    assert_eq!(code(&out), 0);
    assert!(stdout(&out).starts_with("ntkcert "), "{}", stdout(&out));
}

// ---------------------------------------------------------------------------------------------
// The certificate file.

fn umask() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Umask:"))?;
    u32::from_str_radix(line.split_whitespace().nth(1)?, 8).ok()
}

#[test]
fn certificate_for_the_npy_example() {
    let spec_rel = "specs/examples/mlp-npy.toml";
    let dir = tempfile::tempdir().unwrap();
    let cert_path = dir.path().join("cert.json");
    // An existing file is replaced whole.
    write(&cert_path, "old content, not JSON");
    let out = ntkcert(&[
        OsStr::new("certify"),
        spec_rel.as_ref(),
        "--json".as_ref(),
        "--out".as_ref(),
        cert_path.as_os_str(),
    ]);
    assert_eq!(code(&out), 0, "stderr: {}", stderr(&out));
    let claims = json_stdout(&out);
    assert_eq!(entries(dir.path()), vec!["cert.json"], "no temporary file is left behind");
    let text = std::fs::read_to_string(&cert_path).unwrap();
    let cert: Value = serde_json::from_str(&text).expect("the certificate is JSON");

    assert_eq!(cert["format"], "ntkcert-certificate/1");
    assert_eq!(cert["format"], ntkcert::certificate::FORMAT_VERSION);
    assert_eq!(cert["tool"]["name"], "ntkcert");
    assert_eq!(cert["tool"]["version"], env!("CARGO_PKG_VERSION"));

    // The spec hash is the library's, and is the SHA-256 of the canonical text.
    let loaded = ntkcert::spec::load(&repo(spec_rel)).unwrap();
    assert_eq!(cert["spec"]["sha256"], loaded.spec_sha256.as_str());
    assert_eq!(cert["spec"]["canonical"], loaded.canonical);
    let canonical_text = ntkcert::spec::canonical_string(&cert["spec"]["canonical"]);
    assert_eq!(sha256_hex(canonical_text.as_bytes()), loaded.spec_sha256);

    // Every data file, in reading order, with the hash of its bytes.
    let expected = [
        ("weights.files[0]", "npy_W1.npy"),
        ("weights.files[1]", "npy_b1.npy"),
        ("weights.files[2]", "npy_W2.npy"),
        ("weights.files[3]", "npy_b2.npy"),
        ("data.inputs_file", "npy_x.npy"),
        ("data.targets_file", "npy_y.npy"),
    ];
    let files = cert["data_files"].as_array().expect("data_files is a list");
    assert_eq!(files.len(), expected.len(), "{}", cert["data_files"]);
    for (f, (field, path)) in files.iter().zip(expected) {
        assert_eq!(f["field"], field);
        assert_eq!(f["path"], path);
        let bytes = std::fs::read(repo("specs/examples").join(path)).unwrap();
        assert_eq!(f["sha256"], sha256_hex(&bytes).as_str(), "hash of {path}");
    }

    // The problem, in exact decimals.
    let p = &cert["problem"];
    assert_eq!(p["name"], "mlp-npy-tanh");
    assert_eq!(p["alpha"], "20");
    assert_eq!(p["horizon"], "5");
    assert_eq!(p["tolerance"], "1/100");
    assert_eq!(p["num_params"], 2 * 8 + 8 + 8 + 1);
    assert_eq!(p["num_outputs"], 5);
    assert_eq!(p["centred"], true);

    // The claims are exactly what certify --json printed in the same run.
    assert_eq!(cert["claims"], claims);
    assert_eq!(cert["claims"]["verdict"], "certified");
    assert_eq!(cert["r0"], claims["r0"]);

    // The hints: one record per step, covering [0, T].
    assert_eq!(cert["hints"]["method"], "taylor-tube");
    assert_eq!(cert["hints"]["order"], 16);
    let steps = cert["hints"]["steps"].as_array().unwrap();
    assert_eq!(steps.len() as u64, claims["steps"].as_u64().unwrap());
    assert_eq!(steps[0]["t"], 0.0);
    let mut t_prev = -1.0;
    for s in steps {
        let t = s["t"].as_f64().unwrap();
        assert!(t > t_prev, "step start times increase: {s}");
        t_prev = t;
        assert!(s["h"].as_f64().unwrap() > 0.0, "{s}");
        for key in ["radius", "tube_radius", "linear_radius"] {
            assert!(s[key].as_f64().unwrap() >= 0.0, "{key}: {s}");
        }
        assert!(s["mu"].as_f64().is_some(), "{s}");
    }
    let last = steps.last().unwrap();
    let end = last["t"].as_f64().unwrap() + last["h"].as_f64().unwrap();
    assert!((end - 5.0).abs() <= 1e-9, "the steps end at T = 5, not {end}");

    // Ordinary file permissions (0666 less the umask), not a temporary file's 0600.
    #[cfg(unix)]
    if let Some(mask) = umask() {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&cert_path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o666 & !mask, "certificate mode {mode:o} with umask {mask:o}");
    }

    check_against_schema(&cert);
}

#[test]
fn certificate_into_a_missing_directory_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let cert_path = missing.join("cert.json");
    let out = ntkcert(&[OsStr::new("certify"), SMALL.as_ref(), "--out".as_ref(), cert_path.as_os_str()]);
    assert_eq!(code(&out), 73, "stderr: {}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "one line on stderr:\n{err}");
    assert!(err.starts_with("error: ") && err.contains(&*cert_path.to_string_lossy()), "{err}");
    assert!(!err.contains(".ntkcert-") && !err.contains("at path"), "the temporary file's name is not shown: {err}");
    assert_eq!(stdout(&out), "", "nothing on stdout when the certificate cannot be written");
    assert!(!missing.exists());
    assert_eq!(entries(dir.path()), Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------------
// Bad input: one line on stderr naming the field or the file, the documented exit code, nothing
// on stdout, no certificate.

const EXIT_USAGE: i32 = 64;
const EXIT_DATA: i32 = 65;
const EXIT_NO_INPUT: i32 = 66;

/// Runs `certify SPEC --json --out OUT/cert.json` (and `simulate SPEC --json`) and checks the
/// failure. `needles` must all occur in the error line.
fn assert_rejected(spec: &Path, expected: i32, needles: &[&str]) {
    let out_dir = tempfile::tempdir().unwrap();
    let cert = out_dir.path().join("cert.json");
    let out = ntkcert(&[
        OsStr::new("certify"),
        spec.as_os_str(),
        "--json".as_ref(),
        "--out".as_ref(),
        cert.as_os_str(),
    ]);
    let what = spec.display();
    let err = stderr(&out);
    print!("{err}"); // shown with --nocapture
    assert_eq!(code(&out), expected, "{what}: exit code; stderr: {err}");
    assert_eq!(stdout(&out), "", "{what}: nothing on stdout");
    assert_eq!(err.lines().count(), 1, "{what}: exactly one line on stderr, got:\n{err}");
    assert!(err.ends_with('\n'));
    assert!(err.starts_with("error: "), "{what}: {err}");
    assert!(err.contains(&*spec.to_string_lossy()), "{what}: the error names the spec file: {err}");
    for needle in needles {
        assert!(err.contains(needle), "{what}: the error mentions {needle:?}: {err}");
    }
    assert!(!cert.exists(), "{what}: no certificate after a failure");
    assert_eq!(entries(out_dir.path()), Vec::<String>::new(), "{what}: nothing written at all");

    let out = ntkcert(&[OsStr::new("simulate"), spec.as_os_str(), "--json".as_ref()]);
    assert_eq!(code(&out), expected, "{what}: simulate exit code; stderr: {}", stderr(&out));
    assert_eq!(stdout(&out), "", "{what}: simulate prints nothing on stdout");
    assert_eq!(stderr(&out), err, "{what}: simulate reports the same error");
}

/// A small valid spec that the variations below break one thing at a time.
const BASE: &str = r#"name = "base"
alpha = 10
horizon = 1
tolerance = "0.01"

[model]
kind = "mlp"
widths = [2, 3, 1]
activation = "tanh"

[weights]
source = "inline"
values = ["0.8", "-0.5", "0.3", "0.9", "-0.7", "0.2", "0.6", "-0.4", "0.5"]

[data]
inputs = [["1", "0"], ["0.5", "-0.5"]]
targets = ["0.3", "-0.2"]
"#;

/// `BASE` with `from` (which must occur exactly once) replaced by `to`.
fn variant(from: &str, to: &str) -> String {
    assert_eq!(BASE.matches(from).count(), 1, "{from:?} occurs once in BASE");
    BASE.replace(from, to)
}

#[test]
fn base_spec_is_valid() {
    // Otherwise the rejections below would prove nothing.
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("base.toml");
    write(&spec, BASE);
    let out = ntkcert(&[OsStr::new("certify"), spec.as_os_str(), "--json".as_ref()]);
    assert!([0, 1, 2].contains(&code(&out)), "stderr: {}", stderr(&out));
    let base = json_stdout(&out);
    // The hand-written .npy writer makes files the loader accepts, with the same values.
    let spec = dir.path().join("npy.toml");
    write(&spec, &variant(r#"inputs = [["1", "0"], ["0.5", "-0.5"]]"#, r#"inputs_file = "x.npy""#));
    std::fs::write(dir.path().join("x.npy"), npy_f64(&[2, 2], &[1.0, 0.0, 0.5, -0.5])).unwrap();
    let out = ntkcert(&[OsStr::new("certify"), spec.as_os_str(), "--json".as_ref()]);
    assert!([0, 1, 2].contains(&code(&out)), "stderr: {}", stderr(&out));
    assert_eq!(json_stdout(&out)["sup_deviation"], base["sup_deviation"]);
}

#[test]
fn invalid_specs_are_rejected_with_65() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        ("malformed", variant("alpha = 10", "alpha = = 10"), vec!["invalid TOML", "line 2"]),
        ("unclosed", variant("[model]", "[model"), vec!["invalid TOML"]),
        ("weights-count", variant(r#", "0.5"]"#, "]"), vec!["weights.values", "9", "8"]),
        ("inputs-width", variant(r#"["0.5", "-0.5"]]"#, r#"["0.5", "-0.5", "1"]]"#), vec!["data.inputs"]),
        ("targets-length", variant(r#"targets = ["0.3", "-0.2"]"#, r#"targets = ["0.3"]"#), vec!["data.targets"]),
        ("nan-inline", variant(r#"values = ["0.8""#, r#"values = ["nan""#), vec!["weights.values[0]"]),
        ("inf-inline", variant(r#"["1", "0"]"#, r#"["inf", "0"]"#), vec!["data.inputs[0][0]"]),
        ("nan-unquoted", variant(r#"["1", "0"]"#, r#"[nan, "0"]"#), vec!["data.inputs[0][0]"]),
        ("alpha-zero", variant("alpha = 10", r#"alpha = "0""#), vec!["'alpha'"]),
        ("alpha-negative", variant("alpha = 10", r#"alpha = "-1""#), vec!["'alpha'"]),
        ("alpha-float", variant("alpha = 10", "alpha = 0.1"), vec!["'alpha'", "\"0.1\""]),
        ("horizon-negative", variant("horizon = 1", r#"horizon = "-1""#), vec!["'horizon'"]),
        ("tolerance-negative", variant(r#"tolerance = "0.01""#, r#"tolerance = "-0.5""#), vec!["'tolerance'"]),
        ("bad-decimal", variant(r#"tolerance = "0.01""#, r#"tolerance = "0.0.1""#), vec!["'tolerance'"]),
        ("activation", variant(r#"activation = "tanh""#, r#"activation = "relu""#), vec!["model.activation", "relu"]),
        ("unknown-key", variant("alpha = 10", "alpha = 10\nalhpa = 3"), vec!["alhpa"]),
        ("missing-key", variant("horizon = 1\n", ""), vec!["horizon"]),
    ];
    for (name, text, needles) in cases {
        let spec = dir.path().join(format!("{name}.toml"));
        write(&spec, &text);
        assert_rejected(&spec, EXIT_DATA, &needles);
    }
}

#[test]
fn invalid_data_files_are_rejected_with_65() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let from_file = variant(r#"inputs = [["1", "0"], ["0.5", "-0.5"]]"#, r#"inputs_file = "x.csv""#);

    // NaN and infinity in data files.
    write(&d.join("nan.toml"), &from_file);
    write(&d.join("x.csv"), "x1,x2\n1,0\n0.5,nan\n");
    assert_rejected(&d.join("nan.toml"), EXIT_DATA, &["data.inputs_file", "x.csv", "line 3, column 2", "nan"]);
    write(&d.join("inf.toml"), &from_file.replace("x.csv", "inf.npy"));
    std::fs::write(d.join("inf.npy"), npy_f64(&[2, 2], &[1.0, 0.0, f64::INFINITY, -0.5])).unwrap();
    assert_rejected(&d.join("inf.toml"), EXIT_DATA, &["data.inputs_file", "inf.npy", "[1, 0]"]);
    // A data file of the wrong shape.
    write(&d.join("shape.toml"), &from_file.replace("x.csv", "x3.npy"));
    std::fs::write(d.join("x3.npy"), npy_f64(&[2, 3], &[1.0; 6])).unwrap();
    assert_rejected(&d.join("shape.toml"), EXIT_DATA, &["data.inputs_file", "x3.npy"]);

    // Truncated .npy files: a copy of the npy example with one file cut short.
    let npy_dir = d.join("npy");
    std::fs::create_dir(&npy_dir).unwrap();
    for name in ["mlp-npy.toml", "npy_W1.npy", "npy_b1.npy", "npy_W2.npy", "npy_b2.npy", "npy_x.npy", "npy_y.npy"] {
        std::fs::copy(repo("specs/examples").join(name), npy_dir.join(name)).unwrap();
    }
    let spec = npy_dir.join("mlp-npy.toml");
    let out = ntkcert(&[OsStr::new("certify"), spec.as_os_str(), "--json".as_ref()]);
    assert_eq!(code(&out), 0, "the copied example is valid: {}", stderr(&out));
    let w1 = std::fs::read(npy_dir.join("npy_W1.npy")).unwrap();
    std::fs::write(npy_dir.join("npy_W1.npy"), &w1[..w1.len() - 3]).unwrap();
    assert_rejected(&spec, EXIT_DATA, &["weights.files[0]", "npy_W1.npy"]);
    std::fs::write(npy_dir.join("npy_W1.npy"), &w1[..20]).unwrap();
    assert_rejected(&spec, EXIT_DATA, &["weights.files[0]", "npy_W1.npy"]);
    std::fs::write(npy_dir.join("npy_W1.npy"), &w1).unwrap();
    let y = std::fs::read(npy_dir.join("npy_y.npy")).unwrap();
    std::fs::write(npy_dir.join("npy_y.npy"), &y[..y.len() - 8]).unwrap();
    assert_rejected(&spec, EXIT_DATA, &["data.targets_file", "npy_y.npy"]);

    // Truncated .safetensors files.
    let st_dir = d.join("st");
    std::fs::create_dir(&st_dir).unwrap();
    for name in ["mlp-safetensors.toml", "model.safetensors"] {
        std::fs::copy(repo("specs/examples").join(name), st_dir.join(name)).unwrap();
    }
    let spec = st_dir.join("mlp-safetensors.toml");
    let out = ntkcert(&[OsStr::new("certify"), spec.as_os_str(), "--json".as_ref()]);
    assert_eq!(code(&out), 0, "the copied example is valid: {}", stderr(&out));
    let model = std::fs::read(st_dir.join("model.safetensors")).unwrap();
    for cut in [model.len() - 5, 30, 4] {
        std::fs::write(st_dir.join("model.safetensors"), &model[..cut]).unwrap();
        assert_rejected(&spec, EXIT_DATA, &["weights.file", "model.safetensors"]);
    }
}

#[test]
fn missing_files_are_rejected_with_66() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A missing spec file.
    assert_rejected(&d.join("no-such-spec.toml"), EXIT_NO_INPUT, &["cannot read"]);
    // A missing data file.
    write(&d.join("missing-data.toml"), &variant(r#"targets = ["0.3", "-0.2"]"#, r#"targets_file = "nope.npy""#));
    assert_rejected(&d.join("missing-data.toml"), EXIT_NO_INPUT, &["data.targets_file", "nope.npy"]);
    write(&d.join("missing-inputs.toml"), &variant(r#"inputs = [["1", "0"], ["0.5", "-0.5"]]"#, r#"inputs_file = "gone.csv""#));
    assert_rejected(&d.join("missing-inputs.toml"), EXIT_NO_INPUT, &["data.inputs_file", "gone.csv"]);
}

#[test]
fn command_line_errors_exit_64_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.json");
    let cert = cert.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["frobnicate"], "frobnicate"),
        (vec!["certiffy", SMALL], "certiffy"),
        (vec!["certify"], "<SPEC>"),
        (vec!["simulate"], "<SPEC>"),
        (vec!["certify", SMALL, "--bogus"], "--bogus"),
        (vec!["certify", SMALL, "--order", "x", "--out", cert], "--order"),
        (vec!["certify", SMALL, "--order", "1", "--out", cert], "--order"),
        (vec!["certify", SMALL, "--out"], "--out"),
        (vec!["certify", SMALL, "extra", "--out", cert], "extra"),
    ];
    for (args, needle) in cases {
        let out = ntkcert(&args);
        let err = stderr(&out);
        assert_eq!(code(&out), EXIT_USAGE, "{args:?}: stderr: {err}");
        assert_eq!(stdout(&out), "", "{args:?}: nothing on stdout");
        assert_eq!(err.lines().count(), 1, "{args:?}: exactly one line on stderr, got:\n{err}");
        assert!(err.starts_with("error: ") && err.contains(needle), "{args:?}: {err}");
        assert_eq!(entries(dir.path()), Vec::<String>::new(), "{args:?}: nothing written");
    }
    // No subcommand at all: the help, on stderr, and the usage exit code.
    let out = ntkcert::<&str>(&[]);
    assert_eq!(code(&out), EXIT_USAGE);
    assert_eq!(stdout(&out), "");
    assert!(stderr(&out).contains("certify"));
}

// ---------------------------------------------------------------------------------------------
// The certificate schema (specs/certificate.schema.json), checked with a small validator for
// the subset of JSON Schema 2020-12 the schema uses. Any other keyword makes the test fail, so
// the schema cannot silently say more than is checked here.

fn check_against_schema(cert: &Value) {
    let text = std::fs::read_to_string(repo("specs/certificate.schema.json")).expect("the schema file");
    let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    let mut errors = Vec::new();
    validate(&schema, &schema, cert, "$", &mut errors);
    assert!(errors.is_empty(), "the certificate does not match the schema:\n{}", errors.join("\n"));

    // The validator itself rejects what it should.
    let mut broken = cert.clone();
    broken["format"] = Value::from("ntkcert-certificate/2");
    broken.as_object_mut().unwrap().remove("hints");
    broken["data_files"] = serde_json::json!([{ "field": "data.inputs_file", "path": "x.npy", "sha256": "XYZ" }]);
    broken["claims"]["sup_deviation"]["lo"] = Value::from("0");
    broken["problem"]["extra"] = Value::from(1);
    let mut errors = Vec::new();
    validate(&schema, &schema, &broken, "$", &mut errors);
    for bad in ["$.format", "hints", "$.data_files[0].sha256", "$.claims.sup_deviation.lo", "extra"] {
        assert!(errors.iter().any(|e| e.contains(bad)), "the validator misses {bad}: {errors:?}");
    }
}

fn type_matches(ty: &str, v: &Value) -> bool {
    match ty {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|x| x.fract() == 0.0),
        other => panic!("schema: unknown type {other}"),
    }
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn validate(root: &Value, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    let Some(obj) = schema.as_object() else {
        match schema {
            Value::Bool(true) => return,
            Value::Bool(false) => return errors.push(format!("{at}: not allowed")),
            _ => panic!("schema at {at} is not a schema: {schema}"),
        }
    };
    for (key, sub) in obj {
        match key.as_str() {
            "$schema" | "$id" | "$defs" | "title" | "description" | "$comment" | "examples" => {}
            "$ref" => {
                let path = sub.as_str().and_then(|r| r.strip_prefix("#/$defs/")).expect("only #/$defs/ references");
                validate(root, &root["$defs"][path], v, at, errors);
            }
            "type" => {
                let ok = match sub {
                    Value::String(t) => type_matches(t, v),
                    Value::Array(ts) => ts.iter().any(|t| type_matches(t.as_str().unwrap(), v)),
                    _ => panic!("schema: bad type {sub}"),
                };
                if !ok {
                    errors.push(format!("{at}: expected type {sub}, got {v}"));
                }
            }
            "const" => {
                if v != sub {
                    errors.push(format!("{at}: expected {sub}, got {v}"));
                }
            }
            "enum" => {
                if !sub.as_array().unwrap().contains(v) {
                    errors.push(format!("{at}: {v} not in {sub}"));
                }
            }
            "minimum" => {
                if let Some(x) = v.as_f64() {
                    if x < sub.as_f64().unwrap() {
                        errors.push(format!("{at}: {x} < minimum {sub}"));
                    }
                }
            }
            "minLength" => {
                if let Some(s) = v.as_str() {
                    if (s.chars().count() as u64) < sub.as_u64().unwrap() {
                        errors.push(format!("{at}: shorter than {sub}"));
                    }
                }
            }
            "pattern" => {
                // Only the patterns the schema uses are understood.
                if let Some(s) = v.as_str() {
                    let ok = match sub.as_str().unwrap() {
                        "^[0-9a-f]{64}$" => is_sha256_hex(s),
                        "^-?[0-9]+(/[0-9]+)?$" => {
                            let body = s.strip_prefix('-').unwrap_or(s);
                            let mut parts = body.split('/');
                            let num = parts.next().unwrap();
                            let den = parts.next();
                            parts.next().is_none()
                                && !num.is_empty()
                                && num.bytes().all(|b| b.is_ascii_digit())
                                && den.is_none_or(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
                        }
                        "^-?[0-9.]+(e-?[0-9]+)? \\* 2\\^-?[0-9]+$" => s.split_once(" * 2^").is_some_and(|(x, e)| {
                            x.parse::<f64>().is_ok_and(f64::is_finite) && e.strip_prefix('-').unwrap_or(e).bytes().all(|b| b.is_ascii_digit()) && !e.is_empty()
                        }),
                        other => panic!("schema: pattern {other} is not understood by the test"),
                    };
                    if !ok {
                        errors.push(format!("{at}: {s:?} does not match {sub}"));
                    }
                }
            }
            "required" => {
                if let Some(o) = v.as_object() {
                    for k in sub.as_array().unwrap() {
                        if !o.contains_key(k.as_str().unwrap()) {
                            errors.push(format!("{at}: missing required key {k}"));
                        }
                    }
                }
            }
            "properties" => {
                if let Some(o) = v.as_object() {
                    for (k, s) in sub.as_object().unwrap() {
                        if let Some(x) = o.get(k) {
                            validate(root, s, x, &format!("{at}.{k}"), errors);
                        }
                    }
                }
            }
            "additionalProperties" => {
                if let Some(o) = v.as_object() {
                    let known = obj.get("properties").and_then(Value::as_object);
                    for (k, x) in o {
                        if !known.is_some_and(|p| p.contains_key(k)) {
                            validate(root, sub, x, &format!("{at}.{k}"), errors);
                        }
                    }
                }
            }
            "items" => {
                if let Some(a) = v.as_array() {
                    for (i, x) in a.iter().enumerate() {
                        validate(root, sub, x, &format!("{at}[{i}]"), errors);
                    }
                }
            }
            "minItems" => {
                if let Some(a) = v.as_array() {
                    if (a.len() as u64) < sub.as_u64().unwrap() {
                        errors.push(format!("{at}: fewer than {sub} items"));
                    }
                }
            }
            other => panic!("schema keyword {other} (at {at}) is not understood by the test's validator"),
        }
    }
}

/// The shipped examples of gradient descent and of the regularised flow for all time certify
/// with their documented figures, contain `simulate`'s values, write certificates that the
/// schema accepts, and the gradient-descent certificate checks valid.
#[test]
fn training_examples_certify_and_their_certificates_hold() {
    let dir = tempfile::tempdir().unwrap();
    for (spec, sup_mid, iterations) in [("specs/examples/gradient-descent.toml", 1.5452e-4, Some(50)), ("specs/examples/regularised-forever.toml", 3.9659e-5, None)] {
        let cert_path = dir.path().join("c.json");
        let out = ntkcert(&[OsStr::new("certify"), OsStr::new(spec), "--json".as_ref(), "--out".as_ref(), cert_path.as_os_str()]);
        assert_eq!(code(&out), 0, "{spec}: {}", stderr(&out));
        let v = json_stdout(&out);
        assert_eq!(v["verdict"], "certified", "{spec}: {v}");
        let (lo, hi) = interval(&v["sup_deviation"], "sup_deviation");
        assert!((lo - sup_mid).abs() < 1e-4 * sup_mid && hi - lo < 1e-4 * hi, "{spec}: sup D [{lo:e}, {hi:e}]");
        if let Some(k) = iterations {
            assert_eq!(v["steps"], k, "{spec}");
        }
        let sim = json_stdout(&ntkcert(&["simulate", spec, "--json"]));
        let sampled = sim["sup_deviation"].as_f64().unwrap();
        assert!(lo - 1e-12 <= sampled && sampled <= hi + 1e-12, "{spec}: simulate's {sampled:e} outside [{lo:e}, {hi:e}]");
        let cert: Value = serde_json::from_str(&std::fs::read_to_string(&cert_path).unwrap()).unwrap();
        check_against_schema(&cert);
        if iterations.is_some() {
            let out = ntkcert(&[OsStr::new("check"), cert_path.as_os_str()]);
            assert_eq!(code(&out), 0, "{spec}: check: {}{}", stdout(&out), stderr(&out));
        }
    }
}

/// Exact special cases (issue 20): zero targets on the centred model (R0 = 0 exactly) leave the
/// flow at rest, so D = 0 is certified for any eps, also for all t >= 0, and the checker
/// accepts it (no steps); a certificate with no steps for a problem that is not at rest is
/// invalid. Targets beyond the f64 range end inconclusive naming the range, and that
/// certificate checks valid too.
#[test]
fn a_flow_at_rest_is_certified_exactly_and_the_range_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(repo("specs/examples/mlp-inline.toml")).unwrap();
    let start = base.find("targets = [").unwrap();
    let end = start + base[start..].find("\n]\n").unwrap() + 3;
    let with_targets = |targets: &str| format!("{}targets = {targets}\n{}", &base[..start], &base[end..]).replace("centred = false", "centred = true").replace("tolerance = \"0.05\"", "tolerance = \"0\"");
    let zero = with_targets(r#"[["0","0"],["0","0"],["0","0"],["0","0"]]"#);
    let cases = [
        ("rest.toml", zero.clone(), "certified"),
        ("rest-inf.toml", format!("{}\n[training]\nregularization = \"1\"\n", zero.replace("horizon = \"2.5\"", "horizon = \"inf\"")), "certified"),
        ("huge.toml", with_targets(r#"[["1e200","0"],["0","0"],["0","0"],["0","0"]]"#), "inconclusive"),
    ];
    for (name, text, verdict) in cases {
        let spec = dir.path().join(name);
        write(&spec, &text);
        let cert = dir.path().join(format!("{name}.json"));
        let out = ntkcert(&[OsStr::new("certify"), spec.as_os_str(), "--json".as_ref(), "--out".as_ref(), cert.as_os_str()]);
        let v = json_stdout(&out);
        assert_eq!(v["verdict"], verdict, "{name}: {v}");
        if verdict == "certified" {
            assert_eq!(interval(&v["sup_deviation"], "sup"), (0.0, 0.0), "{name}");
            assert_eq!(v["steps"], 0, "{name}");
        } else {
            assert!(v["reason"].as_str().unwrap().contains("f64 range"), "{name}: {v}");
        }
        let out = ntkcert(&[OsStr::new("check"), cert.as_os_str()]);
        assert_eq!(code(&out), 0, "{name}: check: {}{}", stdout(&out), stderr(&out));
        if name == "rest.toml" {
            // The same empty certificate for a problem that is not at rest.
            let moved = with_targets(r#"[["0.5","0"],["0","0"],["0","0"],["0","0"]]"#);
            write(&spec, &moved);
            let mut c: Value = serde_json::from_str(&std::fs::read_to_string(&cert).unwrap()).unwrap();
            let loaded = ntkcert::spec::load(&spec).unwrap();
            c["spec"]["sha256"] = loaded.spec_sha256.clone().into();
            c["spec"]["canonical"] = loaded.canonical.clone();
            c["r0"] = serde_json::json!({"lo": 0.125, "hi": 0.125});
            c["claims"]["r0"] = c["r0"].clone();
            write(&cert, &c.to_string());
            let out = ntkcert(&[OsStr::new("check"), cert.as_os_str()]);
            assert_ne!(code(&out), 0, "an empty certificate for a moving flow was accepted: {}", stdout(&out));
            assert!(format!("{}{}", stdout(&out), stderr(&out)).contains("R0 is not exactly 0"), "{}{}", stdout(&out), stderr(&out));
        }
    }
}

/// Round trips (issue 21): a certificate written with a relative `--out` is checked from inside
/// its directory, and after the certificate and its spec are moved together elsewhere; when
/// the spec cannot be found the error names the paths tried and `--spec`.
#[test]
fn check_finds_the_spec_from_the_certificates_directory() {
    let work = tempfile::tempdir().expect("temp dir");
    let specs = work.path().join("specs");
    let out = work.path().join("out");
    std::fs::create_dir_all(&specs).expect("mkdir");
    std::fs::create_dir_all(&out).expect("mkdir");
    std::fs::copy(root().join("specs/examples/mlp-inline.toml"), specs.join("inline.toml")).expect("copy");
    let run = |dir: &std::path::Path, args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_ntkcert"))
            .args(args)
            .current_dir(dir)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run ntkcert")
    };
    let certify = run(work.path(), &["certify", "specs/inline.toml", "--out", "out/c.json", "-q"]);
    assert!(out.join("c.json").is_file(), "{}", String::from_utf8_lossy(&certify.stderr));
    let inside = run(&out, &["check", "c.json"]);
    assert_eq!(code(&inside), 0, "{}{}", String::from_utf8_lossy(&inside.stdout), String::from_utf8_lossy(&inside.stderr));

    let moved = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(moved.path().join("a/specs")).expect("mkdir");
    std::fs::create_dir_all(moved.path().join("a/out")).expect("mkdir");
    std::fs::rename(specs.join("inline.toml"), moved.path().join("a/specs/inline.toml")).expect("move spec");
    std::fs::rename(out.join("c.json"), moved.path().join("a/out/c.json")).expect("move cert");
    let elsewhere = run(moved.path(), &["check", "a/out/c.json"]);
    assert_eq!(code(&elsewhere), 0, "{}{}", String::from_utf8_lossy(&elsewhere.stdout), String::from_utf8_lossy(&elsewhere.stderr));

    std::fs::remove_file(moved.path().join("a/specs/inline.toml")).expect("remove spec");
    let missing = run(moved.path(), &["check", "a/out/c.json"]);
    let text = String::from_utf8_lossy(&missing.stderr).to_string() + &String::from_utf8_lossy(&missing.stdout);
    assert_ne!(code(&missing), 0);
    assert!(text.contains("tried") && text.contains("--spec") && text.lines().count() == 1, "{text}");
}

/// Bounded reading (issue 21): devices and directories as a spec, a certificate or a data file
/// end at once with a one-line error naming the file (and the field), never a read until memory
/// runs out (`files::read_bounded`).
#[test]
fn devices_and_directories_are_refused_at_once() {
    if !std::path::Path::new("/dev/zero").exists() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = dir.path().join("dz.toml");
    let text = std::fs::read_to_string(root().join("tests/data/long/identity.toml")).expect("spec");
    let text = text.replace("inputs = [[\"1\", \"0.5\"], [\"-0.5\", \"1\"]]", "inputs_file = \"/dev/zero\"");
    assert!(text.contains("/dev/zero"));
    std::fs::write(&spec, text).expect("write");
    let spec = spec.display().to_string();
    let tmp = dir.path().display().to_string();
    for (args, needle) in [
        (vec!["certify", "/dev/zero"], "not a regular file"),
        (vec!["check", "/dev/urandom"], "not a regular file"),
        (vec!["certify", tmp.as_str()], "a directory"),
        (vec!["certify", spec.as_str()], "data.inputs_file"),
    ] {
        let out = ntkcert(&args);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_ne!(code(&out), 0, "{args:?}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

/// A declared size beyond the parameter limit (issue 21) is refused before anything
/// proportional to it is allocated: a sweep's dry run over width 1e8 ends at once.
#[test]
fn absurd_widths_are_refused_before_allocation() {
    let out = ntkcert(&["sweep", "specs/bench/gf-mlp-small.toml", "--set", "width=100000000", "--dry-run"]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_ne!(code(&out), 0);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("model.widths") && err.contains("too many parameters"), "{err}");
}
