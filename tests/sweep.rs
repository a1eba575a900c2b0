//! `ntkcert sweep`, `merge`, `table` and `plot`: golden tables in every format, the outward
//! rounding of printed intervals (property test against exact rationals), resuming an
//! interrupted sweep without recomputing finished cells, and shards + merge = one run.
//! Only the scalar tightness family (each cell takes well under a millisecond).

mod common;
use common::{ntkcert, root};
use ntkcert::arith::rational::f64_to_rational;
use ntkcert::sweep::decimal::{f64_text, interval_parts, interval_text, rational_text, Dir, Style};
use num_bigint::BigInt;
use num_rational::BigRational;
use proptest::prelude::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "exit {:?}\nstderr: {}", out.status.code(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).expect("utf-8")
}

fn one_line_error(out: &Output, code: i32) -> String {
    assert_eq!(out.status.code(), Some(code), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(err.trim_end().lines().count(), 1, "one line expected: {err}");
    assert!(err.starts_with("error: "), "{err}");
    err
}

// ---------------------------------------------------------------------------------------------
// Golden tables

const COLUMNS: &str = "alpha,T,verdict,kappa,supD,DT,R0,published,sharpened,gronwall_t2,supD/sharpened,supD/kappa";

fn golden(name: &str, actual: &str) {
    let path = root().join("tests/golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1)", path.display()));
    assert_eq!(actual, expected, "{name} differs from the golden file (UPDATE_GOLDEN=1 rewrites it)");
}

#[test]
fn golden_tables_in_every_format() {
    for (format, file) in [("latex", "sweep-table.tex"), ("markdown", "sweep-table.md"), ("csv", "sweep-table.csv")] {
        let out = ntkcert(&["table", "tests/data/sweep/results.jsonl", "--no-check", "--format", format, "--columns", COLUMNS, "--digits", "3"]);
        golden(file, &ok(&out));
    }
    // Swept fields as columns, more digits.
    let out = ntkcert(&["table", "tests/data/sweep/results.jsonl", "--no-check", "--format", "latex", "--columns", "sweep.alpha,alpha,horizon,supD", "--digits", "6"]);
    golden("sweep-table-schedules.tex", &ok(&out));
}

#[test]
fn table_rejects_bad_columns_and_checks_certificates() {
    let out = ntkcert(&["table", "tests/data/sweep/results.jsonl", "--no-check", "--columns", "alpha,bogus"]);
    let err = one_line_error(&out, 64);
    assert!(err.contains("'bogus'"), "{err}");
    // The fixture has no certificate files: without --no-check the table refuses.
    let out = ntkcert(&["table", "tests/data/sweep/results.jsonl"]);
    let err = one_line_error(&out, 65);
    assert!(err.contains("certificate"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Outward rounding of printed numbers, checked with exact rationals

/// Parses `[+-]digits[.digits][e[+-]digits]` exactly (no range limit).
fn exact(text: &str) -> BigRational {
    let (m, e) = match text.split_once('e') {
        Some((m, e)) => (m, e.parse::<i64>().unwrap()),
        None => (text, 0),
    };
    let (neg, m) = match m.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, m),
    };
    let (int, frac) = m.split_once('.').unwrap_or((m, ""));
    let digits: BigInt = format!("{int}{frac}").parse().unwrap();
    let scale = e - frac.len() as i64;
    let p = BigRational::from_integer(num_traits::pow(BigInt::from(10), scale.unsigned_abs() as usize));
    let v = BigRational::from_integer(digits) * if scale < 0 { p.recip() } else { p };
    if neg { -v } else { v }
}

fn latex_interval(text: &str) -> (BigRational, BigRational) {
    let (body, e) = match text.split_once("\\times10^{") {
        Some((b, e)) => (b, e.trim_end_matches('}').parse::<i64>().unwrap()),
        None => (text, 0),
    };
    let (l, h) = body.trim_start_matches('[').trim_end_matches(']').split_once(", ").unwrap();
    (exact(&format!("{l}e{e}")), exact(&format!("{h}e{e}")))
}

fn plain_interval(text: &str) -> (BigRational, BigRational) {
    let (l, h) = text.trim_start_matches('[').trim_end_matches(']').split_once(", ").unwrap();
    (exact(l), exact(h))
}

fn ulp_power(x: &BigRational, digits: usize) -> BigRational {
    // 10^(floor(log10 |x|) - digits + 1), the unit of the last printed digit.
    let k = ntkcert::sweep::decimal::decimal_exponent(x) - digits as i64 + 1;
    ntkcert::sweep::decimal::pow10(k)
}

fn finite() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |x| x.is_finite()),
        (-1e6f64..1e6),
        (-30i32..30, 1.0f64..10.0).prop_map(|(e, m)| m * 10f64.powi(e)),
        Just(0.0),
        Just(f64::MIN_POSITIVE),
        Just(f64::MAX),
        Just(-f64::MAX),
        Just(5e-324),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// `proofs/printed-intervals.md`: printed lower <= true lower, printed upper >= true upper,
    /// in both spellings, at every digit count; and the rounding loses less than one unit of
    /// the last printed digit of the larger endpoint.
    #[test]
    fn printed_intervals_are_outward(a in finite(), b in finite(), digits in 1usize..18) {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let (qlo, qhi) = (f64_to_rational(lo), f64_to_rational(hi));
        let (plo, phi) = plain_interval(&interval_text(lo, hi, digits, Style::Plain));
        prop_assert!(plo <= qlo && phi >= qhi);
        let (llo, lhi) = latex_interval(&interval_text(lo, hi, digits, Style::Latex));
        prop_assert_eq!((&llo, &lhi), (&plo, &phi));
        let big = if qlo.clone() * qlo.clone() > qhi.clone() * qhi.clone() { qlo.clone() } else { qhi.clone() };
        if big != BigRational::from_integer(0.into()) {
            let unit = ulp_power(&big, digits);
            prop_assert!(qlo.clone() - plo.clone() < unit.clone() && phi.clone() - qhi.clone() < unit);
        }
        // Single numbers (bounds): rounded up / down.
        let up = exact(&f64_text(hi, digits, Dir::Up, Style::Plain));
        let down = exact(&f64_text(lo, digits, Dir::Down, Style::Plain));
        prop_assert!(up >= qhi && down <= qlo);
        // CSV parts with the shared exponent.
        let (l, h, shared) = interval_parts(Some(&qlo), Some(&qhi), digits, Style::Plain);
        let (pl, ph) = (exact(&format!("{l}e{shared}")), exact(&format!("{h}e{shared}")));
        prop_assert!(pl <= qlo && ph >= qhi);
    }

    #[test]
    fn rational_rounding_is_directed(n in -1_000_000_000i64..1_000_000_000, d in 1i64..1_000_000, digits in 1usize..12) {
        let q = BigRational::new(n.into(), d.into());
        let up = exact(&rational_text(&q, digits, Dir::Up, Style::Plain));
        let down = exact(&rational_text(&q, digits, Dir::Down, Style::Plain));
        prop_assert!(down <= q && q <= up);
    }
}

#[test]
fn table_cells_are_outward_against_the_results_file() {
    // Every interval printed by `table --format markdown` encloses the exact f64 endpoints of
    // the results line it comes from.
    let out = ok(&ntkcert(&["table", "tests/data/sweep/results.jsonl", "--no-check", "--format", "markdown", "--columns", "supD,kappa", "--digits", "2"]));
    let lines: Vec<&str> = out.lines().skip(2).collect();
    let text = std::fs::read_to_string(root().join("tests/data/sweep/results.jsonl")).unwrap();
    let rows: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), rows.len());
    for (line, row) in lines.iter().zip(&rows) {
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
        for (cell, path) in cells.iter().zip([&row["sup_deviation"], &row["theory"]["kappa"]]) {
            let (plo, phi) = plain_interval(cell);
            assert!(plo <= f64_to_rational(path["lo"].as_f64().unwrap()), "{cell} vs {path}");
            assert!(phi >= f64_to_rational(path["hi"].as_f64().unwrap()), "{cell} vs {path}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sweeps: resume, shards, merge

fn tmpdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ntkcert-sweep-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const SPEC: &str = "specs/examples/tightness.toml";
const GRID: [&str; 4] = ["--set", "T=1,4,16", "--set", "alpha=10*T,10*sqrt(T)"];

fn sweep(out: &Path, extra: &[&str]) -> String {
    let mut args = vec!["sweep", SPEC, "--quiet", "--out", out.to_str().unwrap()];
    args.extend_from_slice(&GRID);
    args.extend_from_slice(extra);
    ok(&ntkcert(&args))
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn without_seconds(mut v: Value) -> Value {
    v.as_object_mut().unwrap().remove("seconds");
    v
}

#[test]
fn interrupted_sweep_resumes_without_recomputing_finished_cells() {
    let dir = tmpdir("resume");
    let first = sweep(&dir, &[]);
    assert!(first.contains("6 of 6 cells: 0 already done, 6 run now"), "{first}");
    let results = dir.join("results.jsonl");
    let full = lines(&results);
    assert_eq!(full.len(), 6);
    let keys: Vec<&str> = full.iter().map(|v| v["key"].as_str().unwrap()).collect();
    assert_eq!(keys[0], "alpha=10*T;horizon=1");

    // Simulate a kill: two finished lines (with a sentinel that a recomputation would not
    // reproduce) and a third line cut in the middle of its write.
    let mut seeded = full[0].clone();
    seeded["seconds"] = Value::from(12345.0);
    let mut text = format!("{}\n{}\n", seeded, full[3]);
    let partial = full[1].to_string();
    text.push_str(&partial[..partial.len() / 2]);
    std::fs::write(&results, text).unwrap();

    // The dry run lists what is done.
    let listing = ok(&ntkcert(&["sweep", SPEC, "--dry-run", "--out", dir.to_str().unwrap(), GRID[0], GRID[1], GRID[2], GRID[3]]));
    assert!(listing.contains("2 done, 4 pending"), "{listing}");

    let second = sweep(&dir, &[]);
    assert!(second.contains("6 of 6 cells: 2 already done, 4 run now"), "{second}");
    let after = lines(&results);
    assert_eq!(after.len(), 6, "one line per cell, the partial line dropped");
    // In cell order; the two finished cells were not recomputed (sentinel kept).
    assert_eq!(after[0]["seconds"], Value::from(12345.0));
    assert_eq!(after[0]["key"], full[0]["key"]);
    for (a, b) in after.iter().zip(&full) {
        assert_eq!(without_seconds(a.clone()), without_seconds(b.clone()));
    }
    // A third run has nothing to do.
    let third = sweep(&dir, &[]);
    assert!(third.contains("6 already done, 0 run now"), "{third}");

    // A finished line whose certificate vanished is recomputed.
    let cert = dir.join(after[2]["certificate"].as_str().unwrap());
    std::fs::remove_file(&cert).unwrap();
    let fourth = sweep(&dir, &[]);
    assert!(fourth.contains("5 already done, 1 run now"), "{fourth}");
    assert!(cert.is_file());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_grown_grid_reuses_finished_cells_and_keeps_other_lines() {
    let dir = tmpdir("grow");
    let run = |t: &str| {
        ok(&ntkcert(&["sweep", SPEC, "--quiet", "--out", dir.to_str().unwrap(), "--set", t, "--set", "alpha=10*T,10*sqrt(T)"]))
    };
    assert!(run("T=1,4").contains("4 of 4 cells: 0 already done, 4 run now"));
    let out = run("T=1,4,16");
    assert!(out.contains("6 of 6 cells: 4 already done, 2 run now"), "{out}");
    let rows = lines(&dir.join("results.jsonl"));
    let idx: Vec<u64> = rows.iter().map(|r| r["index"].as_u64().unwrap()).collect();
    assert_eq!(idx, [0, 1, 2, 3, 4, 5], "renumbered in the grown grid");
    assert!(rows.iter().all(|r| r["cells"] == 6));
    // A smaller grid keeps the other lines.
    let out = run("T=16");
    assert!(out.contains("2 of 2 cells: 2 already done, 0 run now"), "{out}");
    assert_eq!(lines(&dir.join("results.jsonl")).len(), 6);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shards_plus_merge_equal_a_single_run() {
    let single = tmpdir("single");
    sweep(&single, &[]);
    let sharded = tmpdir("sharded");
    let mut shard_files = Vec::new();
    for k in 1..=4 {
        let s = format!("{k}/4");
        let out = sweep(&sharded, &["--shard", &s]);
        assert!(out.contains(&format!("(shard {k}/4)")), "{out}");
        shard_files.push(sharded.join(format!("results.shard-{k}-of-4.jsonl")));
    }
    // Shards are disjoint and cover the grid: 6 cells over 4 shards = 2 + 2 + 1 + 1.
    let counts: Vec<usize> = shard_files.iter().map(|f| lines(f).len()).collect();
    assert_eq!(counts, [2, 2, 1, 1]);
    let merged = sharded.join("results.jsonl");
    let mut args = vec!["merge", "--out", merged.to_str().unwrap()];
    let names: Vec<String> = shard_files.iter().rev().map(|p| p.to_str().unwrap().to_string()).collect();
    args.extend(names.iter().map(String::as_str));
    let out = ok(&ntkcert(&args));
    assert!(out.contains("merged 6 cells"), "{out}");
    let a: Vec<Value> = lines(&single.join("results.jsonl")).into_iter().map(without_seconds).collect();
    let b: Vec<Value> = lines(&merged).into_iter().map(without_seconds).collect();
    assert_eq!(a, b);
    // The merged file's certificates resolve, and tables of both are identical.
    let t1 = ok(&ntkcert(&["table", single.join("results.jsonl").to_str().unwrap(), "--format", "csv"]));
    let t2 = ok(&ntkcert(&["table", merged.to_str().unwrap(), "--format", "csv"]));
    assert_eq!(t1, t2);
    // Merging an incomplete set says what is missing.
    let partial = sharded.join("partial.jsonl");
    let out = ok(&ntkcert(&["merge", "--out", partial.to_str().unwrap(), names[0].as_str()]));
    assert!(out.contains("5 cells of the grid are missing"), "{out}");
    let _ = std::fs::remove_dir_all(&single);
    let _ = std::fs::remove_dir_all(&sharded);
}

#[test]
fn sweep_table_in_the_spec_and_bad_entries() {
    let dir = tmpdir("spec-table");
    let spec = dir.join("grid.toml");
    let base = std::fs::read_to_string(root().join(SPEC)).unwrap();
    std::fs::write(&spec, format!("{base}\n[sweep]\nhorizon = [2, 8]\nalpha = [\"5*T\"]\n\"model.u\" = [\"0.5\", \"0.8\"]\n")).unwrap();
    // certify ignores [sweep].
    let out = ntkcert(&["certify", spec.to_str().unwrap(), "--json"]);
    assert!(out.status.code() == Some(0) || out.status.code() == Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let out_dir = dir.join("out");
    let text = ok(&ntkcert(&["sweep", spec.to_str().unwrap(), "--quiet", "--out", out_dir.to_str().unwrap()]));
    assert!(text.contains("4 of 4 cells"), "{text}");
    let rows = lines(&out_dir.join("results.jsonl"));
    assert_eq!(rows[0]["key"], "alpha=5*T;horizon=2;model.u=0.5");
    assert_eq!(rows[1]["alpha"], "10");
    assert_eq!(rows[3]["alpha"], "40");
    // Certificates are complete JSON and name the cell's exact alpha.
    let cert: Value = serde_json::from_str(&std::fs::read_to_string(out_dir.join(rows[3]["certificate"].as_str().unwrap())).unwrap()).unwrap();
    assert_eq!(cert["problem"]["alpha"], "40");
    assert!(cert["spec"]["canonical"].get("sweep").is_none());

    // Malformed entries: one line naming the field.
    for (entry, field) in [
        ("alpha = [0.5]", "sweep.alpha[0]"),
        ("alpha = []", "sweep.alpha"),
        ("alpha = [\"ten\"]", "sweep.alpha[0]"),
        ("alpha = [[1]]", "sweep.alpha[0]"),
    ] {
        std::fs::write(&spec, format!("{base}\n[sweep]\n{entry}\n")).unwrap();
        let out = ntkcert(&["sweep", spec.to_str().unwrap(), "--quiet", "--out", out_dir.to_str().unwrap()]);
        let err = one_line_error(&out, 65);
        assert!(err.contains(&format!("field '{field}'")), "{entry}: {err}");
    }
    // A value the loader refuses names the cell and the field.
    std::fs::write(&spec, format!("{base}\n[sweep]\nalpha = [\"-1\"]\n")).unwrap();
    let out = ntkcert(&["sweep", spec.to_str().unwrap(), "--quiet", "--out", out_dir.to_str().unwrap()]);
    let err = one_line_error(&out, 65);
    assert!(err.contains("cell alpha=-1") && err.contains("field 'alpha'"), "{err}");
    // Command-line errors.
    let out = ntkcert(&["sweep", SPEC, "--set", "alpha", "--out", out_dir.to_str().unwrap()]);
    one_line_error(&out, 64);
    let out = ntkcert(&["sweep", SPEC, "--shard", "5/4", "--out", out_dir.to_str().unwrap()]);
    one_line_error(&out, 64);
    let out = ntkcert(&["sweep", SPEC, "--set", "seed=1", "--out", out_dir.to_str().unwrap()]);
    let err = one_line_error(&out, 65);
    assert!(err.contains("seed needs model.kind = \\\"mlp\\\"") || err.contains("seed needs model.kind"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn seeded_weights_are_deterministic_and_exact() {
    let dir = tmpdir("seed");
    let out = ok(&ntkcert(&[
        "sweep", "specs/bench/gf-mlp-small.toml", "--quiet", "--out", dir.to_str().unwrap(),
        "--set", "seed=0,1", "--set", "width=4", "--set", "T=1",
    ]));
    assert!(out.contains("2 of 2 cells"), "{out}");
    let rows = lines(&dir.join("results.jsonl"));
    assert_eq!(rows[0]["num_params"], 12);
    assert_ne!(rows[0]["spec_sha256"], rows[1]["spec_sha256"]);
    let cert: Value = serde_json::from_str(&std::fs::read_to_string(dir.join(rows[1]["certificate"].as_str().unwrap())).unwrap()).unwrap();
    let w = &cert["spec"]["canonical"]["weights"];
    assert_eq!(w["source"], "inline");
    let vals = w["values"].as_array().unwrap();
    assert_eq!(vals.len(), 12);
    assert!(vals.iter().all(|v| v.as_str().unwrap().ends_with("/1048576")));
    // Same seed, same weights.
    let again = tmpdir("seed-again");
    ok(&ntkcert(&["sweep", "specs/bench/gf-mlp-small.toml", "--quiet", "--out", again.to_str().unwrap(), "--set", "seed=1", "--set", "width=4", "--set", "T=1"]));
    let rows2 = lines(&again.join("results.jsonl"));
    assert_eq!(rows2[0]["spec_sha256"], rows[1]["spec_sha256"]);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&again);
}

/// A spec with data files: each cell's spec is written beside its certificate with the data
/// paths rewritten to resolve from there, so `ntkcert check CERT` needs nothing else. The csv
/// cells (softplus, seeded weights) once failed to check: the certifier's sup-D search ended at
/// its budget and the checker allowed fewer bisections than it had used.
#[test]
fn cells_with_data_files_check_without_extra_arguments() {
    let runs: [(&str, &[&str]); 2] = [
        ("specs/examples/mlp-npy.toml", &["--set", "alpha=20,40"]),
        ("specs/examples/mlp-csv.toml", &["--set", "alpha=2,8", "--set", "seed=1,2"]),
    ];
    for (i, (spec, grid)) in runs.iter().enumerate() {
        let dir = tmpdir(&format!("data-files-{i}"));
        let mut args = vec!["sweep", spec, "--quiet", "--out", dir.to_str().unwrap()];
        args.extend_from_slice(grid);
        ok(&ntkcert(&args));
        for row in lines(&dir.join("results.jsonl")) {
            let cert = dir.join(row["certificate"].as_str().unwrap());
            let cell_spec = std::fs::read_to_string(cert.with_extension("toml")).unwrap();
            assert!(cell_spec.contains("../") && cell_spec.contains("_file"), "{cell_spec}");
            let out = ntkcert(&["check", cert.to_str().unwrap()]);
            assert_eq!(ok(&out).trim(), "valid", "{spec} {}", row["key"]);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn plots_svg_and_pgfplots() {
    let dir = tmpdir("plot");
    let svg = dir.join("fig.svg");
    ok(&ntkcert(&["plot", "tests/data/sweep/results.jsonl", "--out", svg.to_str().unwrap()]));
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg") && text.contains("alpha = 10*sqrt(T)"), "{}", &text[..200.min(text.len())]);
    let tex = dir.join("fig.tex");
    ok(&ntkcert(&["plot", "tests/data/sweep/results.jsonl", "--format", "pgfplots", "--out", tex.to_str().unwrap()]));
    let text = std::fs::read_to_string(&tex).unwrap();
    assert_eq!(text.matches("\\addplot[").count(), 3 * 3, "3 series, each with 2 bound curves");
    assert!(text.contains("\\begin{loglogaxis}"));
    // The data rows enclose the results: supD_lo <= lo and supD_hi >= hi.
    let rows = lines(&root().join("tests/data/sweep/results.jsonl"));
    let first = text.lines().skip_while(|l| !l.starts_with("T supD_lo supD_hi")).nth(1).unwrap();
    let parts: Vec<&str> = first.split(' ').collect();
    assert_eq!(parts[0], "1");
    assert!(exact(parts[1]) <= f64_to_rational(rows[0]["sup_deviation"]["lo"].as_f64().unwrap()));
    assert!(exact(parts[2]) >= f64_to_rational(rows[0]["sup_deviation"]["hi"].as_f64().unwrap()));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 16: `--set Q=1,2` sweeps `[training] reference_order`, and `table --pivot Q` shows one
/// sup D column per order (rows: the alphas), each cell the one of the matching results line;
/// pivoting on a field that is not swept is a one-line usage error.
#[test]
fn reference_order_sweep_and_one_column_per_order() {
    let dir = tmpdir("orders");
    let spec = dir.join("small.toml");
    let text = std::fs::read_to_string(root().join("specs/bench/gf-mlp-small.toml")).unwrap().replace("horizon = 10", "horizon = 5");
    std::fs::write(&spec, text).unwrap();
    // The spec's data are generated (no files): it can live in the temporary directory.
    let out = dir.join("out");
    ok(&ntkcert(&["sweep", spec.to_str().unwrap(), "--quiet", "--out", out.to_str().unwrap(), "--set", "alpha=10,20", "--set", "Q=1,2"]));
    let results = out.join("results.jsonl");
    let rows = lines(&results);
    assert_eq!(rows.len(), 4);
    let table = ok(&ntkcert(&["table", results.to_str().unwrap(), "--columns", "alpha,Q,supD", "--pivot", "Q", "--digits", "6"]));
    let body: Vec<&str> = table.lines().collect();
    assert_eq!(body[0], "| alpha | sup D (Q=1) | sup D (Q=2) |", "{table}");
    assert_eq!(body.len(), 4, "{table}");
    for (line, alpha) in body[2..].iter().zip(["10", "20"]) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        assert_eq!(cells[0], alpha);
        for (q, cell) in ["1", "2"].iter().zip(&cells[1..]) {
            let row = rows.iter().find(|r| r["alpha"] == alpha && r["values"]["training.reference_order"] == *q).expect("a results line");
            let (lo, hi) = plain_interval(cell);
            let sup = &row["sup_deviation"];
            assert!(lo <= f64_to_rational(sup["lo"].as_f64().unwrap()) && f64_to_rational(sup["hi"].as_f64().unwrap()) <= hi, "Q = {q}, alpha = {alpha}: {cell} against {sup}");
        }
    }
    let e = one_line_error(&ntkcert(&["table", results.to_str().unwrap(), "--pivot", "T"]), 64);
    assert!(e.contains("--pivot T: not a swept field"), "{e}");
}
