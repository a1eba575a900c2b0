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

/// The exact decimal text of `q 2^k`, `q` a decimal.
fn times_pow2(q: &str, k: i64) -> String {
    let value = ntkcert::arith::rational::parse_decimal(q).expect("decimal") * ntkcert::scale::pow2(k);
    ntkcert::arith::rational::rational_to_string(&value)
}

/// A claim endpoint (`certify --json`: a number, `null` or `"x * 2^e"`) times `2^-k`, as an f64
/// (exact for the claims of these tests, whose normalised values are normal f64s).
fn endpoint_times_pow2(v: &serde_json::Value, k: i64) -> f64 {
    let (x, e) = match v {
        serde_json::Value::Number(n) => (n.as_f64().expect("f64"), 0),
        serde_json::Value::String(s) => {
            let (x, e) = s.split_once(" * 2^").expect("x * 2^e");
            (x.parse().expect("x"), e.parse().expect("e"))
        }
        other => panic!("endpoint {other}"),
    };
    let y = ntkcert::scale::scale_interval(common::thin(x), e - k);
    assert_eq!(y.inf(), y.sup(), "{v} times 2^{} is not an f64", -k);
    y.inf()
}

/// Certifies `text` (a spec) with `--json` and writes a certificate; the parsed JSON and the
/// certificate's path.
fn certify_spec(dir: &std::path::Path, name: &str, text: &str) -> (serde_json::Value, std::path::PathBuf) {
    let spec = dir.join(format!("{name}.toml"));
    std::fs::write(&spec, text).expect("write");
    let cert = dir.join(format!("{name}.json"));
    let out = ntkcert(&["certify".as_ref(), spec.as_os_str(), "--json".as_ref(), "-q".as_ref(), "--out".as_ref(), cert.as_os_str()]);
    (serde_json::from_slice(&out.stdout).expect("certify --json"), cert)
}

/// Lemma S2 of `proofs/normalisation.md`: `scaled` (the problem rescaled so that `D` scales by
/// `2^k`) gets the verdict and steps of `plain`, and every claim is `plain`'s times `2^k`
/// exactly (`R0`'s times `4^k`).
fn assert_scaled_exactly(plain: &serde_json::Value, scaled: &serde_json::Value, k: i64) {
    assert_eq!(scaled["verdict"], plain["verdict"], "2^{k}: {scaled}");
    assert_eq!(scaled["steps"], plain["steps"], "2^{k}: the step control is not invariant under rescaling");
    let mut pairs = vec![("sup_deviation".to_string(), k), ("final_deviation".to_string(), k), ("r0".to_string(), 2 * k)];
    for list in ["outputs_final", "linear_outputs_final"] {
        pairs.extend((0..plain[list].as_array().expect("list").len()).map(|i| (format!("{list}/{i}"), k)));
    }
    for (path, e) in pairs {
        let pointer = format!("/{path}");
        for end in ["lo", "hi"] {
            let (a, b) = (&plain.pointer(&pointer).expect("claim")[end], &scaled.pointer(&pointer).expect("claim")[end]);
            assert_eq!(endpoint_times_pow2(a, 0), endpoint_times_pow2(b, e), "2^{k}: {path}.{end}: {a} against {b}");
        }
    }
}

/// Issue 20, deliverables 2 and 3: a two-layer identity network and its exact rescalings
/// (inputs and targets by `2^k`, `T` by `2^-2k`, so that `D` scales by `2^k`) get the same
/// verdict, the same 628 steps and claims scaled exactly, for `k` from -500 to 500 (before the
/// normalisation, `k = 17` left the f64 range and `T` scaled by `2^40` ran out of steps); the
/// certificates check valid.
#[test]
fn rescaled_identity_network_gets_the_same_verdict_and_scaled_claims() {
    let base = std::fs::read_to_string(root().join("tests/data/long/identity.toml")).expect("spec");
    let dir = tempfile::tempdir().expect("temp dir");
    let run = |k: i64| {
        let s = |q: &str| times_pow2(q, k);
        let text = base
            .replace("horizon = \"20000\"", &format!("horizon = \"{}\"", times_pow2("20000", -2 * k)))
            .replace("tolerance = \"0.05\"", &format!("tolerance = \"{}\"", s("0.05")))
            .replace("inputs = [[\"1\", \"0.5\"], [\"-0.5\", \"1\"]]", &format!("inputs = [[\"{}\", \"{}\"], [\"{}\", \"{}\"]]", s("1"), s("0.5"), s("-0.5"), s("1")))
            .replace("targets = [\"1\", \"-0.5\"]", &format!("targets = [\"{}\", \"{}\"]", s("1"), s("-0.5")));
        certify_spec(dir.path(), &format!("identity-{k}"), &text)
    };
    let (plain, _) = run(0);
    assert_eq!(plain["verdict"], "refuted", "{plain}");
    for k in [10, 18, 20, 200, -200, 500, -500] {
        let (scaled, cert) = run(k);
        assert_scaled_exactly(&plain, &scaled, k);
        if k.abs() == 500 {
            let out = ntkcert(&["check".as_ref(), cert.as_os_str()]);
            assert_eq!(code(&out), 0, "2^{k}: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
}

/// The same for a tanh network whose `alpha`, targets and `eps` are scaled by `2^k`, `|k|` up to
/// 1020 (the reported cases: `R0` had overflowed to `[8.99e307, inf]`, "step size underflow").
/// At `2^-1020` the deviations are below the normal f64 range and at `2^1000` `R0` is above it:
/// the claims are then written exactly as `"x * 2^e"`, and the certificates check valid.
#[test]
fn rescaled_alpha_and_targets_get_the_same_verdict_and_scaled_claims() {
    let dir = tempfile::tempdir().expect("temp dir");
    let run = |k: i64| {
        let s = |q: &str| times_pow2(q, k);
        let text = format!(
            "name = \"scaled-tanh\"\nalpha = \"{}\"\nhorizon = \"3\"\ntolerance = \"{}\"\ncentred = true\n\
             [model]\nkind = \"mlp\"\nwidths = [2, 4, 1]\nactivation = \"tanh\"\nbias = true\n\
             [weights]\nsource = \"inline\"\nvalues = [\"0.5\", \"-0.3\", \"0.2\", \"0.7\", \"-0.6\", \"0.1\", \"0.4\", \"-0.2\", \"0.1\", \"0\", \"-0.1\", \"0.2\", \"0.6\", \"-0.5\", \"0.3\", \"0.4\", \"0.05\"]\n\
             [data]\ninputs = [[\"1\", \"0.5\"], [\"-0.5\", \"1\"], [\"0.3\", \"-0.8\"]]\ntargets = [\"{}\", \"{}\", \"{}\"]\n",
            s("20"),
            s("0.01"),
            s("0.7"),
            s("-0.4"),
            s("0.25")
        );
        certify_spec(dir.path(), &format!("tanh-{k}"), &text)
    };
    let (plain, _) = run(0);
    assert_eq!(plain["verdict"], "certified", "{plain}");
    for k in [-1020, -1000, -600, 600, 1000] {
        let (scaled, cert) = run(k);
        assert_scaled_exactly(&plain, &scaled, k);
        let out = ntkcert(&["check".as_ref(), cert.as_os_str()]);
        assert_eq!(code(&out), 0, "2^{k}: {}", String::from_utf8_lossy(&out.stderr));
        if k == -1020 {
            assert_tampering_refused(&cert);
        }
    }
}

/// A certificate whose exact-text claim is altered, or whose scale hint is not the spec's
/// normalisation (one off, or a time scale for a tanh net), is not valid.
fn assert_tampering_refused(cert: &std::path::Path) {
    let original: serde_json::Value = serde_json::from_slice(&std::fs::read(cert).expect("read")).expect("json");
    let hi = original["claims"]["sup_deviation"]["hi"].as_str().expect("sup D below the f64 range is exact text").to_string();
    let (x, e) = hi.split_once(" * 2^").expect("x * 2^e");
    let lower: f64 = x.parse::<f64>().expect("x") * 0.999;
    let tampered: [(&str, Box<dyn Fn(&mut serde_json::Value)>); 4] = [
        ("an output scale one off", Box::new(|c| c["hints"]["scale"]["output"] = serde_json::json!(c["hints"]["scale"]["output"].as_i64().unwrap() + 1))),
        ("a time scale for a tanh net", Box::new(|c| c["hints"]["scale"]["time"] = serde_json::json!(1))),
        ("sup D's upper end lowered", Box::new(move |c| c["claims"]["sup_deviation"]["hi"] = serde_json::json!(format!("{lower:e} * 2^{e}")))),
        ("a malformed endpoint", Box::new(|c| c["claims"]["final_deviation"]["hi"] = serde_json::json!("1e-3 * 3^7"))),
    ];
    for (what, change) in tampered {
        let mut c = original.clone();
        change(&mut c);
        let path = cert.with_extension("tampered.json");
        std::fs::write(&path, serde_json::to_vec(&c).expect("json")).expect("write");
        let out = ntkcert(&["check".as_ref(), path.as_os_str(), "--spec".as_ref(), cert.with_extension("toml").as_os_str()]);
        assert_ne!(code(&out), 0, "{what}: accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{what}: {err}");
    }
}

/// Issue 20, deliverable 5: an order raised above the default is never worse than the default.
/// For the shipped examples and orders 24, 40 and 60, the answer is either within the accuracy
/// asked (decided, `sup D` within twice the relative width) or at least as good as the default
/// order's (decided where the default is, `sup D` no wider, relatively).
#[test]
fn raised_orders_are_never_worse_than_the_default() {
    use ntkcert::certify::{certify, Accuracy, Options, Verdict};
    let relative = |r: &ntkcert::certify::Certified| r.sup_deviation.wid() / r.sup_deviation.sup().max(f64::MIN_POSITIVE);
    for name in ["mlp-inline", "mlp-csv", "tightness", "regularised-forever"] {
        let path = root().join(format!("specs/examples/{name}.toml"));
        let loaded = ntkcert::spec::load(&path).expect("example");
        let base = Options::from_solver(&loaded.solver, None);
        let options = Options { order: None, accuracy: Accuracy::Relative(1e-9), ..base.clone() };
        let default = certify(&loaded.problem, &options).expect("certify");
        for q in [24, 40, 60] {
            let raised = certify(&loaded.problem, &Options { order: Some(q), ..options.clone() }).expect("certify");
            let within = raised.verdict != Verdict::Inconclusive && relative(&raised) <= 2e-9;
            let no_worse = (raised.verdict != Verdict::Inconclusive || default.verdict == Verdict::Inconclusive) && relative(&raised) <= relative(&default);
            assert!(within || no_worse, "{name}, order {q}: {:?} relative width {:e} against the default's {:?} {:e}", raised.verdict, relative(&raised), default.verdict, relative(&default));
        }
    }
}
