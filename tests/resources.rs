//! The resource model (issue 21): `--max-memory` refuses a run whose estimated memory is above
//! the limit, in one line naming the estimate, the limit and the field, before anything large is
//! allocated; the shipped bench specs fit under the default limit; bad sizes are usage errors.

mod common;
use common::{code, ntkcert, root};
use ntkcert::resources::{estimate, Dims, Engine, MemoryLimit};
use std::time::{Duration, Instant};

/// A spec with one hidden layer of `width` units on `n` gf-mlp inputs of dimension 2 (nothing
/// proportional to the width is read from a file; the generator makes the weights).
fn wide_spec(dir: &std::path::Path, width: usize, n: usize, extra: &str) -> std::path::PathBuf {
    let path = dir.join("wide.toml");
    let text = format!(
        "alpha = \"10\"\nhorizon = \"1\"\ntolerance = \"1/1000\"\n[model]\nkind = \"mlp\"\nwidths = [2, {width}, 1]\nactivation = \"tanh\"\n\
         [weights]\nsource = \"gf-mlp\"\n[data]\nsource = \"gf-mlp\"\nn = {n}\n{extra}"
    );
    std::fs::write(&path, text).expect("write spec");
    path
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_run_above_the_limit_is_refused_quickly_in_one_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = wide_spec(dir.path(), 20_000, 200, "");
    let start = Instant::now();
    for command in ["certify", "simulate"] {
        let out = ntkcert(&[command, spec.to_str().expect("utf-8"), "--max-memory", "100M"]);
        let err = stderr(&out);
        assert_eq!(code(&out), 65, "{command}: {err}");
        assert!(out.stdout.is_empty(), "{command}: no partial output");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("field 'model.widths': the run needs about "), "{err}");
        assert!(err.contains("Taylor workspaces of 200 inputs x width 20000 at order 16"), "{err}");
        assert!(err.trim_end().ends_with("above the limit of 100.0 MiB (--max-memory)"), "{err}");
    }
    assert!(start.elapsed() < Duration::from_secs(2), "refused in {:?}", start.elapsed());

    // Many inputs of a small network: the inputs drive it.
    let spec = wide_spec(dir.path(), 16, 2_000_000, "");
    let out = ntkcert(&["certify", spec.to_str().expect("utf-8"), "--max-memory", "100M"]);
    assert_eq!(code(&out), 65, "{}", stderr(&out));
    assert!(stderr(&out).contains("field 'data.n': the run needs about "), "{}", stderr(&out));

    // An order that alone takes the run over the limit is named as such.
    let spec = wide_spec(dir.path(), 200, 50, "[solver]\norder = 60\n");
    let fits_at_16 = estimate(&Dims {
        widths: vec![2, 200, 1],
        inputs: 50,
        inputs_field: "data.n",
        params: 600,
        order: 16,
        descent: false,
        engine: Engine::Certify,
    });
    let limit = format!("{}", fits_at_16.bytes + 1);
    let out = ntkcert(&["certify", spec.to_str().expect("utf-8"), "--max-memory", &limit]);
    assert_eq!(code(&out), 65, "{}", stderr(&out));
    assert!(stderr(&out).contains("field 'solver.order': the run needs about "), "{}", stderr(&out));
    assert!(stderr(&out).contains("at order 60"), "{}", stderr(&out));
    let out = ntkcert(&["simulate", spec.to_str().expect("utf-8"), "--max-memory", &limit, "--order", "16"]);
    assert_eq!(code(&out), 0, "--order 16 overrides the spec's order: {}", stderr(&out));
}

/// With `/usr/bin/time` (GNU time), the refused run's peak resident memory stays small.
#[test]
fn a_refused_run_allocates_nothing_large() {
    let time = std::path::Path::new("/usr/bin/time");
    if !time.exists() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = wide_spec(dir.path(), 20_000, 200, "");
    let out = std::process::Command::new(time)
        .arg("-v")
        .arg(env!("CARGO_BIN_EXE_ntkcert"))
        .args(["certify", spec.to_str().expect("utf-8"), "--max-memory", "100M"])
        .output()
        .expect("run /usr/bin/time");
    let err = stderr(&out);
    let Some(line) = err.lines().find(|l| l.contains("Maximum resident set size")) else { return };
    let kb: u64 = line.rsplit(':').next().and_then(|v| v.trim().parse().ok()).expect("a number");
    assert!(kb < 64 * 1024, "peak {kb} kB");
}

#[test]
fn the_shipped_bench_specs_fit_under_the_default_limit() {
    let limit = MemoryLimit { bytes: ntkcert::resources::default_max_memory(), order: None, engine: Engine::Certify };
    for spec in ["gf-mlp-small", "gf-mlp-capd-edge", "gf-mlp-mid", "gf-mlp-large", "deep-tanh-w128", "deep-tanh-w512"] {
        let path = root().join(format!("specs/bench/{spec}.toml"));
        if let Err(e) = ntkcert::spec::load_within(&path, &limit) {
            panic!("{spec}: {e}");
        }
    }
    // And the command line runs under its default limit.
    let out = ntkcert(&["certify", "-q", root().join("specs/bench/gf-mlp-small.toml").to_str().expect("utf-8")]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn the_limit_is_checked_again_once_a_data_file_gives_the_inputs() {
    // deep-tanh-w128 reads its inputs from a .npy file: the widths alone (one input) fit in
    // 60M, its 100 inputs do not.
    let path = root().join("specs/bench/deep-tanh-w128.toml");
    let out = ntkcert(&["simulate", path.to_str().expect("utf-8"), "--max-memory", "60M"]);
    assert_eq!(code(&out), 65, "{}", stderr(&out));
    assert!(stderr(&out).contains("the run needs about "), "{}", stderr(&out));
    assert!(stderr(&out).contains("of 100 inputs"), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
}

#[test]
fn bad_sizes_are_usage_errors() {
    let spec = root().join("specs/bench/gf-mlp-small.toml");
    let spec = spec.to_str().expect("utf-8");
    for bad in ["", "lots", "-5M", "0", "5X", "1e9"] {
        for command in ["certify", "simulate"] {
            let option = format!("--max-memory={bad}");
            let out = ntkcert(&[command, spec, &option]);
            assert_eq!(code(&out), 64, "{command} --max-memory '{bad}': {}", stderr(&out));
            assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
            assert!(stderr(&out).contains("--max-memory"), "{}", stderr(&out));
            assert!(out.stdout.is_empty());
        }
    }
    let out = ntkcert(&["check", "nonexistent.json", "--max-memory", "12Q"]);
    assert_eq!(code(&out), 64, "{}", stderr(&out));
    for good in ["8G", "500M", "65536K", "1073741824"] {
        let out = ntkcert(&["simulate", spec, "--max-memory", good]);
        assert_eq!(code(&out), 0, "--max-memory {good}: {}", stderr(&out));
    }
}

#[test]
fn check_applies_the_limit_to_the_checker() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cert = dir.path().join("small.json");
    let spec = root().join("specs/bench/gf-mlp-small.toml");
    let out = ntkcert(&["certify", "-q", spec.to_str().expect("utf-8"), "--out", cert.to_str().expect("utf-8")]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = ntkcert(&["check", "-q", cert.to_str().expect("utf-8"), "--max-memory", "1M"]);
    assert_eq!(code(&out), 65, "{}", stderr(&out));
    assert!(stderr(&out).contains("above the limit of 1.0 MiB (--max-memory)"), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let out = ntkcert(&["check", "-q", cert.to_str().expect("utf-8")]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

/// Issue 21: `sweep` checks every cell against its share of `--max-memory` while the grid is
/// validated, so an absurd width is refused in one line at `--dry-run` speed (before any cell
/// runs or any weights are generated), and `--jobs J` divides the limit.
#[test]
fn a_sweep_with_a_cell_above_the_limit_is_refused_at_dry_run_speed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = root().join("specs/bench/gf-mlp-small.toml");
    let out_dir = dir.path().join("out");
    let start = Instant::now();
    let run = |extra: &[&str]| {
        let mut args = vec!["sweep", spec.to_str().expect("utf-8"), "--dry-run", "--out", out_dir.to_str().expect("utf-8"), "--set"];
        args.extend_from_slice(extra);
        ntkcert(&args)
    };
    let out = run(&["width=16,20000000"]);
    let err = stderr(&out);
    assert_eq!(code(&out), 65, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("(cell width=20000000): field 'model.widths': the run needs about "), "{err}");
    assert!(start.elapsed().as_secs_f64() < 2.0, "took {:?}", start.elapsed());
    // width 4000 needs about 98 MiB: it fits under 400M alone, not under an eighth of it.
    assert_eq!(code(&run(&["width=4000", "--max-memory", "400M"])), 0);
    let out = run(&["width=4000", "--max-memory", "400M", "--jobs", "8"]);
    assert_eq!(code(&out), 65, "{}", stderr(&out));
    assert!(!out_dir.join("results.jsonl").exists(), "no partial output");
}

/// Issue 21: `bench` reads every spec within `--max-memory` before it prints or runs anything.
#[test]
fn bench_refuses_a_spec_above_the_limit_before_any_output() {
    let small = root().join("specs/bench/gf-mlp-small.toml");
    let large = root().join("specs/bench/gf-mlp-large.toml");
    let out = ntkcert(&["bench", small.to_str().expect("utf-8"), large.to_str().expect("utf-8"), "--max-memory", "100M"]);
    let err = stderr(&out);
    assert_eq!(code(&out), 65, "{err}");
    assert!(out.stdout.is_empty(), "no partial output: {}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("gf-mlp-large.toml: field 'model.widths': the run needs about "), "{err}");
}
