//! The committed `specs/paper/` outputs are what the current code produces (issue 21): both
//! sweeps are run again into a temporary directory and every results row must equal the
//! committed one except for its timing (`seconds`), and the Markdown tables must be identical.
//! When this fails after a change that alters certified numbers, regenerate the paper
//! (`rm -rf specs/paper/f7 specs/paper/gf-mlp && sh specs/paper/make.sh`) and commit it.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn ntkcert(args: &[&str]) {
    let status = Command::new(env!("CARGO_BIN_EXE_ntkcert")).args(args).current_dir(env!("CARGO_MANIFEST_DIR")).status().expect("run ntkcert");
    assert!(status.success(), "ntkcert {args:?} failed");
}

/// The rows of a results file by key, without their timings.
fn rows(path: &Path) -> Vec<(String, Value)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut rows: Vec<(String, Value)> = text
        .lines()
        .map(|line| {
            let mut row: Value = serde_json::from_str(line).expect("a JSON row");
            row.as_object_mut().expect("an object").remove("seconds");
            (row["key"].as_str().expect("a key").to_string(), row)
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows
}

#[test]
fn shipped_paper_results_are_reproduced() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    for sweep in ["f7", "gf-mlp"] {
        let out = dir.path().join(sweep);
        let out_str = out.to_str().unwrap();
        ntkcert(&["sweep", &format!("specs/paper/{sweep}-schedules.toml"), "--out", out_str, "--quiet"]);
        let (fresh, shipped) = (rows(&out.join("results.jsonl")), rows(&root.join(format!("specs/paper/{sweep}/results.jsonl"))));
        assert_eq!(fresh.len(), shipped.len(), "{sweep}: number of cells");
        for ((key, new), (_, old)) in fresh.iter().zip(&shipped) {
            assert_eq!(new, old, "{sweep}: cell {key} differs from the committed specs/paper/{sweep}/results.jsonl (regenerate the paper: see this file's header)");
        }
        let table = dir.path().join(format!("{sweep}-table.md"));
        let columns = "sweep.alpha,alpha,T,verdict,kappa,supD,sharpened,gronwall_t2,supD/sharpened";
        ntkcert(&["table", &format!("{out_str}/results.jsonl"), "--format", "markdown", "--columns", columns, "--out", table.to_str().unwrap()]);
        let shipped_table = std::fs::read_to_string(root.join(format!("specs/paper/{sweep}-table.md"))).unwrap();
        assert_eq!(std::fs::read_to_string(&table).unwrap(), shipped_table, "{sweep}: the Markdown table differs from the committed one");
    }
}
