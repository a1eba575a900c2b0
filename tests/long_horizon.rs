//! Long horizons after convergence (issue 20, step control): the linearised flow's resting
//! steps (`proofs/matrix-exponential.md`, Lemma R) and the checker's (`proofs/checker.md`,
//! "Resting steps").

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
