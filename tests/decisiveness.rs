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

/// The identity network of `tests/data/long/identity.toml` rescaled exactly (inputs and targets
/// by `2^k`, T by `2^-2k`, eps by `2^k`: the flow in time `t 2^-2k`, every output scaled by
/// `2^k`, so `D` scales by `2^k`): at `k = 10` the same verdict in the same number of steps, with
/// `sup D` enclosures that scale into each other. At `k = 18` the Taylor bounds leave the f64
/// range (internal rescaling is not done), and the reason says so instead of blaming the error
/// growth.
#[test]
fn rescaled_identity_network_is_invariant_or_names_the_range() {
    let base = std::fs::read_to_string(root().join("tests/data/long/identity.toml")).expect("spec");
    let dir = tempfile::tempdir().expect("temp dir");
    let run = |k: u32| -> serde_json::Value {
        let s = 1u64 << k;
        let text = base
            .replace("horizon = \"20000\"", &format!("horizon = \"20000/{}\"", s * s))
            .replace("tolerance = \"0.05\"", &format!("tolerance = \"{}/20\"", s))
            .replace("inputs = [[\"1\", \"0.5\"], [\"-0.5\", \"1\"]]", &format!("inputs = [[\"{s}\", \"{}\"], [\"-{}\", \"{s}\"]]", s / 2, s / 2))
            .replace("targets = [\"1\", \"-0.5\"]", &format!("targets = [\"{s}\", \"-{}\"]", s / 2));
        let spec = dir.path().join(format!("identity-{k}.toml"));
        std::fs::write(&spec, text).expect("write");
        let out = ntkcert(&["certify".as_ref(), spec.as_os_str(), "--json".as_ref(), "-q".as_ref()]);
        serde_json::from_slice(&out.stdout).expect("certify --json")
    };
    let (plain, scaled) = (run(1), run(10));
    assert_eq!(plain["verdict"], "refuted", "{plain}");
    assert_eq!(scaled["verdict"], plain["verdict"], "{scaled}");
    assert_eq!(scaled["steps"], plain["steps"], "the step control is not invariant under rescaling");
    let ends = |v: &serde_json::Value, f: f64| (v["sup_deviation"]["lo"].as_f64().unwrap() * f, v["sup_deviation"]["hi"].as_f64().unwrap() * f);
    let ((a_lo, a_hi), (b_lo, b_hi)) = (ends(&plain, 512.0), ends(&scaled, 1.0));
    assert!(a_lo <= b_hi && b_lo <= a_hi, "sup D 2^9 [{a_lo:e}, {a_hi:e}] and [{b_lo:e}, {b_hi:e}] do not intersect");
    let far = run(18);
    assert_eq!(far["verdict"], "inconclusive", "{far}");
    let reason = far["reason"].as_str().expect("reason");
    assert!(reason.contains("f64 range") && !reason.contains("far from lazy"), "{reason}");
}
