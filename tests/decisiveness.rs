//! Deciding what can be decided (issue 20): long horizons after convergence (the linearised
//! flow's resting steps, `proofs/matrix-exponential.md`, Lemma R, and the checker's,
//! `proofs/checker.md`, "Resting steps"), and inconclusive reasons that name their cause.

mod common;

use common::{code, ntkcert, root};

/// A two-layer identity network trained to T = 20 000: refuted as before, in fewer than 1 000
/// steps (1 804 while the linearised flow's series capped every step at O(1/|K0|)), and the
/// certificate checks valid.
#[test]
fn converged_identity_network_takes_long_steps_and_checks() {
    let spec = root().join("tests/data/long/identity.toml");
    let dir = tempfile::tempdir().expect("temp dir");
    let cert = dir.path().join("c.json");
    let out = ntkcert(&["certify".as_ref(), spec.as_os_str(), "--json".as_ref(), "-q".as_ref(), "--out".as_ref(), cert.as_os_str()]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("certify --json");
    assert_eq!(json["verdict"], "refuted", "{json}");
    let steps = json["steps"].as_u64().expect("steps");
    assert!(steps < 1000, "{steps} steps");
    let check = ntkcert(&["check".as_ref(), cert.as_os_str()]);
    assert_eq!(code(&check), 0, "{}", String::from_utf8_lossy(&check.stdout));
}

/// An eps inside the tight enclosure of gf-mlp-small's sup D: inconclusive, and the reason says
/// that the width is rounding (not truncation), so a higher order would not help.
#[test]
fn undecided_at_the_rounding_floor_says_so() {
    let text = std::fs::read_to_string(root().join("specs/bench/gf-mlp-small.toml")).expect("spec");
    let text: String = text.lines().map(|l| if l.starts_with("tolerance =") { "tolerance = \"0.0001534643975\"".to_string() } else { l.to_string() }).collect::<Vec<_>>().join("\n");
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = dir.path().join("small-eps.toml");
    std::fs::write(&spec, text).expect("write");
    let out = ntkcert(&["certify".as_ref(), spec.as_os_str(), "--json".as_ref(), "-q".as_ref()]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("certify --json");
    assert_eq!(json["verdict"], "inconclusive", "{json}");
    let reason = json["reason"].as_str().expect("reason");
    assert!(reason.contains("f64 rounding") && !reason.contains("higher [solver] order would"), "{reason}");
}
