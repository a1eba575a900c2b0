//! `ntkcert check CERT [--spec SPEC]`: an independent checker for certificates.
//!
//! Independence (`proofs/checker.md`): this module uses only the spec loader (`crate::spec`,
//! `crate::problem`) and its own arithmetic ([`ball`], MPFR through `rug`) and its own
//! integrator ([`series`], [`verify`]). It does not use `crate::enclose`, `crate::model`,
//! `crate::arith::fast_interval`, `crate::arith::elementary` or `crate::certify`.
//!
//! The bounds of `|Dh|`, `|D^2 h|` over a tube: [`series::derivative_bounds`] and the sharper
//! [`layered`] bound; `verify` uses their minimum ([`layered::tube_bounds`]). For MLPs `mu` is
//! also bounded by the residual-weighted Hessian bound of [`curvature`]
//! (`proofs/residual-hessian.md`), and `verify` takes the smaller.
//!
//! Infinite-horizon certificates (`horizon = "inf"`, `problem.infinite_horizon = true`) are
//! re-verified on `[0, T1]` as above, then by the checker's own tail argument on
//! `[T1, infinity)` ([`tail`]; `hints.tail.guard` is only the first box size it tries).
//!
//! Gradient-descent certificates (`[training] method = "gradient-descent"`, `hints.method =
//! "gradient-descent"`) are re-verified by [`descent`] (its own iteration and per-chunk bounds).
//!
//! - [`run`]: the command (reads files, prints `valid` / `invalid: ...`, returns the exit code).
//! - [`check_value`]: the check of a parsed certificate against a loaded spec.

pub mod ball;
pub mod curvature;
pub mod descent;
pub mod layered;
pub mod series;
pub mod tail;
pub mod taylor;
pub mod verify;

use crate::error::Error;
use crate::spec::LoadedSpec;
use rug::Rational;
use serde_json::Value;
use std::path::{Path, PathBuf};
use crate::problem::Problem;
use crate::scale::Scale;
use verify::{Claim, Claims};

/// The only certificate format this checker knows.
pub const KNOWN_FORMAT: &str = "ntkcert-certificate/1";

/// Why a check did not succeed.
#[derive(Debug)]
pub enum CheckError {
    /// A claim is false or could not be confirmed (exit 1).
    Invalid(String),
    /// The certificate file is not a readable certificate (exit 65).
    Malformed(String),
    /// The certificate needs something the checker cannot do (exit 70).
    Unsupported(String),
}

fn invalid<T>(msg: impl Into<String>) -> Result<T, CheckError> {
    Err(CheckError::Invalid(msg.into()))
}

fn malformed(field: &str, why: impl std::fmt::Display) -> CheckError {
    CheckError::Malformed(format!("field '{field}': {why}"))
}

/// The outcome of checking a certificate that could be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Validity {
    /// Every claim is confirmed.
    Valid,
    /// A claim is false or could not be confirmed (the reason, one line).
    Invalid(String),
}

/// The spec a certificate names: `spec.path_from_certificate` resolved against the
/// certificate's directory (the pair may have been moved together), else `spec.path` as given
/// (relative to the working directory), else `spec.path` beside the certificate. The error names
/// every path tried and `--spec`.
fn find_spec(cert_path: &Path, cert: &Value) -> Result<PathBuf, String> {
    let spec = cert.get("spec");
    let field = |name: &str| spec.and_then(|s| s.get(name)).and_then(Value::as_str);
    let dir = cert_path.parent().unwrap_or(Path::new(""));
    let mut tried: Vec<PathBuf> = Vec::new();
    if let Some(relative) = field("path_from_certificate") {
        tried.push(dir.join(relative));
    }
    match field("path") {
        Some(p) => {
            tried.push(PathBuf::from(p));
            tried.push(dir.join(p));
        }
        None if tried.is_empty() => return Err("field 'spec.path' is missing; pass the spec with --spec SPEC".into()),
        None => {}
    }
    if let Some(found) = tried.iter().find(|p| p.is_file()) {
        return Ok(found.clone());
    }
    let names: Vec<String> = tried.iter().map(|p| format!("'{}'", p.display())).collect();
    Err(format!("the spec named by the certificate was not found (tried {}); pass it with --spec SPEC", names.join(", ")))
}

/// Checks the certificate file at `cert_path` against its spec (`spec_override`, else the one
/// [`find_spec`] finds). Errors: an unreadable file
/// ([`crate::error::ErrorKind::Io`]), a malformed certificate or invalid spec ([`crate::error::ErrorKind::Invalid`]), a
/// certificate the checker cannot check ([`crate::error::ErrorKind::Internal`]). `progress`: show a progress
/// bar on stderr (on a terminal).
pub fn check_file(cert_path: &Path, spec_override: Option<&Path>, progress: bool) -> Result<Validity, Error> {
    check_file_within(cert_path, spec_override, progress, None)
}

/// [`check_file`], refusing (an `Invalid` error naming the spec and the field that drives the
/// estimate) when the checker's estimated memory ([`crate::resources`], MPFR balls, at the
/// certificate's `hints.order`) is above `max_memory` bytes; checked while the spec is read,
/// before its weights and data are.
pub fn check_file_within(cert_path: &Path, spec_override: Option<&Path>, progress: bool, max_memory: Option<u64>) -> Result<Validity, Error> {
    let label = cert_path.display().to_string();
    let bytes = crate::files::read_bounded(cert_path, crate::files::CERTIFICATE_LIMIT).map_err(|e| Error::io(format!("{label}: cannot read certificate: {}", io_reason(&e))))?;
    let cert: Value = serde_json::from_slice(&bytes).map_err(|e| Error::invalid(format!("{label}: not a certificate (invalid JSON: {e})")))?;
    if let Err(e) = check_format(&cert) {
        return Err(Error::invalid(format!("{label}: {}", message(&e))));
    }
    let spec_path: PathBuf = match spec_override {
        Some(p) => p.to_path_buf(),
        None => find_spec(cert_path, &cert).map_err(|why| Error::invalid(format!("{label}: {why}")))?,
    };
    let loaded = match max_memory {
        None => crate::spec::load(&spec_path)?,
        Some(bytes) => {
            let order = cert.pointer("/hints/order").and_then(Value::as_u64).and_then(|q| usize::try_from(q).ok()).filter(|q| crate::spec::ORDER_RANGE.contains(q));
            let limit = crate::resources::MemoryLimit { bytes, order, engine: crate::resources::Engine::Check };
            crate::spec::load_within(&spec_path, &limit)?
        }
    };
    match check_value_showing(&cert, &loaded, progress) {
        Ok(()) => Ok(Validity::Valid),
        Err(CheckError::Invalid(msg)) => Ok(Validity::Invalid(msg)),
        Err(CheckError::Malformed(msg)) => Err(Error::invalid(format!("{label}: {msg}"))),
        Err(CheckError::Unsupported(msg)) => Err(Error::internal(format!("{label}: cannot check: {msg}"))),
    }
}

fn message(e: &CheckError) -> String {
    match e {
        CheckError::Invalid(m) | CheckError::Malformed(m) | CheckError::Unsupported(m) => m.clone(),
    }
}

fn io_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(p) => s[..p].to_string(),
        None => s,
    }
}

/// Refuses a certificate whose `format` is not [`KNOWN_FORMAT`].
fn check_format(cert: &Value) -> Result<(), CheckError> {
    if !cert.is_object() {
        return Err(CheckError::Malformed("not a certificate (the top level is not a JSON object)".into()));
    }
    match cert.get("format") {
        Some(Value::String(f)) if f == KNOWN_FORMAT => Ok(()),
        Some(Value::String(f)) => Err(CheckError::Malformed(format!(
            "unknown certificate format '{f}' (this checker knows only '{KNOWN_FORMAT}')"
        ))),
        _ => Err(malformed("format", "missing or not a string")),
    }
}

/// Field accessors with one-line errors naming the field.
fn get<'a>(v: &'a Value, path: &str) -> Result<&'a Value, CheckError> {
    let mut cur = v;
    for part in path.split('.') {
        cur = cur.get(part).ok_or_else(|| malformed(path, "missing"))?;
    }
    Ok(cur)
}

fn get_str<'a>(v: &'a Value, path: &str) -> Result<&'a str, CheckError> {
    get(v, path)?.as_str().ok_or_else(|| malformed(path, "not a string"))
}

fn get_u64(v: &Value, path: &str) -> Result<u64, CheckError> {
    get(v, path)?.as_u64().ok_or_else(|| malformed(path, "not a non-negative integer"))
}

fn get_bool(v: &Value, path: &str) -> Result<bool, CheckError> {
    get(v, path)?.as_bool().ok_or_else(|| malformed(path, "not a boolean"))
}

fn get_exact(v: &Value, path: &str) -> Result<Rational, CheckError> {
    let s = get_str(v, path)?;
    let ok = !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || c == '/' || c == '-');
    if !ok {
        return Err(malformed(path, format!("'{s}' is not an exact number (P or P/Q)")));
    }
    Rational::from_str_radix(s, 10).map_err(|_| malformed(path, format!("'{s}' is not an exact number (P or P/Q)")))
}

/// Proof: `proofs/normalisation.md`, Lemma S3.
/// An interval `{"lo", "hi"}` of the certificate, in the units of the normalisation the hints
/// name: its value times `2^-k` (`k = j` for deviations and outputs, `2j` for `R0`). An endpoint
/// is a number, `null` (infinite) or the text `"x * 2^e"` (exactly `x 2^e`, `x` a decimal that
/// reads as a finite f64, `e` an integer); the products are rounded inward (`lo` up, `hi` down),
/// so the returned interval lies inside the claim and whatever it contains, the claim contains.
/// The certifier writes exact images of its f64 endpoints, which come back unchanged.
fn get_claim(v: &Value, field: &str, k: i64) -> Result<Claim, CheckError> {
    let obj = v.as_object().ok_or_else(|| malformed(field, "not an interval object {\"lo\", \"hi\"}"))?;
    let end = |key: &str, inf: f64| -> Result<f64, CheckError> {
        let (x, e) = match obj.get(key) {
            Some(Value::Null) => return Ok(inf),
            Some(Value::Number(n)) => (n.as_f64().filter(|x| x.is_finite()).ok_or_else(|| malformed(field, "bad endpoint"))?, 0),
            Some(Value::String(text)) => scaled_endpoint(text).ok_or_else(|| malformed(&format!("{field}.{key}"), format!("'{text}' is not a number of the form \"x * 2^e\"")))?,
            _ => return Err(malformed(&format!("{field}.{key}"), "missing or not a number/null/\"x * 2^e\"")),
        };
        let exponent = i32::try_from(e - k).map_err(|_| malformed(&format!("{field}.{key}"), "exponent out of range"))?;
        let round = if inf < 0.0 { rug::float::Round::Up } else { rug::float::Round::Down };
        Ok((rug::Float::with_val(53, x) << exponent).to_f64_round(round))
    };
    let (lo, hi) = (end("lo", f64::NEG_INFINITY)?, end("hi", f64::INFINITY)?);
    if !(lo <= hi) {
        return Err(malformed(field, "lo > hi"));
    }
    Ok(Claim { lo, hi })
}

/// `(x, e)` of the text `"x * 2^e"` (`x` a finite f64, `|e| <= 2^20`).
fn scaled_endpoint(text: &str) -> Option<(f64, i64)> {
    let (x, e) = text.split_once(" * 2^")?;
    let x: f64 = x.parse().ok().filter(|x: &f64| x.is_finite())?;
    let e: i64 = e.parse().ok().filter(|e: &i64| e.abs() <= 1 << 20)?;
    Some((x, e))
}

fn get_claims(v: &Value, path: &str, k: i64) -> Result<Vec<Claim>, CheckError> {
    let arr = get(v, path)?.as_array().ok_or_else(|| malformed(path, "not an array"))?;
    arr.iter().enumerate().map(|(i, x)| get_claim(x, &format!("{path}[{i}]"), k)).collect()
}

/// Proof: `proofs/normalisation.md`, Lemma S1 and "The checker".
/// The normalisation the hints were computed in and the problem rescaled by it: `hints.scale`
/// must be absent (no rescaling, as in certificates older than the normalisation) or the
/// spec's own normalisation `Scale::of`, computed here. (Any scale accepted by
/// `Problem::rescaled` would be an exact symmetry; admitting only these two keeps every
/// rescaled number in the range the spec's own numbers and its normalisation give.)
fn normalized_problem(cert: &Value, problem: &Problem) -> Result<(Problem, Scale), CheckError> {
    let Some(hint) = get(cert, "hints")?.get("scale") else {
        return Ok((problem.clone(), Scale::default()));
    };
    let exponent = |key: &str| -> Result<i64, CheckError> {
        hint.get(key).and_then(Value::as_i64).ok_or_else(|| malformed(&format!("hints.scale.{key}"), "missing or not an integer"))
    };
    let scale = Scale { output: exponent("output")?, time: exponent("time")? };
    let (normalized, own) = problem.normalized();
    if scale != own {
        return Err(malformed("hints.scale", format!("(output {}, time {}) is not the spec's normalisation (output {}, time {})", scale.output, scale.time, own.output, own.time)));
    }
    Ok((normalized, scale))
}

/// Proof: `proofs/checker.md`, "What `valid` means" (3).
/// The verdict the claimed `sup` and the exact `eps` give: `certified` when `sup.hi <= eps`
/// (exact), `refuted` when `sup.lo` exceeds `eps` rounded up to an f64, else `inconclusive`.
fn check_verdict(verdict: &str, sup: &Claim, eps: &Rational) -> Result<(), CheckError> {
    let certified = sup.hi.is_finite() && Rational::from_f64(sup.hi).expect("finite") <= *eps;
    let eps_up = rug::Float::with_val_round(53, eps, rug::float::Round::Up).0.to_f64_round(rug::float::Round::Up);
    let refuted = sup.lo.is_finite() && sup.lo > eps_up;
    let expected = if certified {
        "certified"
    } else if refuted {
        "refuted"
    } else {
        "inconclusive"
    };
    if verdict != expected {
        return invalid(format!("claims.verdict is '{verdict}' but the claimed sup_deviation [{:e}, {:e}] and eps = {eps} give '{expected}'", sup.lo, sup.hi));
    }
    Ok(())
}

/// Proof: `proofs/checker.md`, "What `valid` means" and "Hints are not trusted".
/// Checks a parsed certificate against a loaded spec: identity of the inputs (hashes, problem),
/// the verdict's consistency, then every numerical claim by re-verification
/// (`proofs/checker.md`, "What `valid` means").
pub fn check_value(cert: &Value, loaded: &LoadedSpec) -> Result<(), CheckError> {
    check_value_showing(cert, loaded, false)
}

/// [`check_value`], with a progress bar over the hinted steps on stderr when `progress` (the
/// bar is drawn only on a terminal and cleared at the end).
pub fn check_value_showing(cert: &Value, loaded: &LoadedSpec, progress: bool) -> Result<(), CheckError> {
    check_format(cert)?;
    let problem = &loaded.problem;

    // 1. The inputs are the ones the certificate is about.
    let sha = get_str(cert, "spec.sha256")?;
    if sha != loaded.spec_sha256 {
        return invalid(format!("spec.sha256 {sha} does not match the spec's {}", loaded.spec_sha256));
    }
    if get(cert, "spec.canonical")? != &loaded.canonical {
        return invalid("spec.canonical differs from the spec file");
    }
    let files = get(cert, "data_files")?.as_array().ok_or_else(|| malformed("data_files", "not an array"))?;
    if files.len() != loaded.data_files.len() {
        return invalid(format!("data_files lists {} files but the spec reads {}", files.len(), loaded.data_files.len()));
    }
    for (i, (f, d)) in files.iter().zip(&loaded.data_files).enumerate() {
        let field = get_str(f, "field")?;
        let path = get_str(f, "path")?;
        let fsha = get_str(f, "sha256")?;
        if field != d.field || path != d.path {
            return invalid(format!("data_files[{i}] names '{field}' = '{path}' but the spec reads '{}' = '{}'", d.field, d.path));
        }
        if fsha != d.sha256 {
            return invalid(format!("data_files[{i}].sha256 ({path}) does not match the file's {}", d.sha256));
        }
    }
    let exact = |q: &num_rational::BigRational| series::to_rug(q);
    if get_str(cert, "problem.name")? != problem.name {
        return invalid("problem.name differs from the spec's");
    }
    if get_u64(cert, "problem.num_params")? != problem.num_params() as u64 {
        return invalid(format!("problem.num_params differs from the spec's p = {}", problem.num_params()));
    }
    if get_u64(cert, "problem.num_outputs")? != problem.num_outputs() as u64 {
        return invalid(format!("problem.num_outputs differs from the spec's N = {}", problem.num_outputs()));
    }
    for (key, value) in [("alpha", &problem.alpha.value), ("horizon", &problem.horizon.value), ("tolerance", &problem.tolerance.value)] {
        let path = format!("problem.{key}");
        if get_exact(cert, &path)? != exact(value) {
            return invalid(format!("{path} differs from the spec's {}", exact(value)));
        }
    }
    if get_bool(cert, "problem.centred")? != problem.centred {
        return invalid("problem.centred differs from the spec's");
    }
    check_infinite_horizon(cert, problem.infinite_horizon)?;
    if get_str(cert, "claims.name")? != problem.name {
        return invalid("claims.name differs from the spec's");
    }
    if get_exact(cert, "claims.tolerance")? != exact(&problem.tolerance.value) {
        return invalid(format!("claims.tolerance differs from the spec's eps = {}", exact(&problem.tolerance.value)));
    }

    // 2. The claims and hints, from here on in the units of the hints' normalisation
    // (proofs/normalisation.md): the claims times 2^-j, the problem rescaled.
    let (normalized, scale) = normalized_problem(cert, problem)?;
    let problem = &normalized;
    let j = scale.output;
    let claims = Claims {
        sup_deviation: get_claim(get(cert, "claims.sup_deviation")?, "claims.sup_deviation", j)?,
        final_deviation: get_claim(get(cert, "claims.final_deviation")?, "claims.final_deviation", j)?,
        outputs_final: get_claims(cert, "claims.outputs_final", j)?,
        linear_outputs_final: get_claims(cert, "claims.linear_outputs_final", j)?,
        r0: get_claim(get(cert, "claims.r0")?, "claims.r0", 2 * j)?,
    };
    if get(cert, "r0")? != get(cert, "claims.r0")? {
        return invalid("r0 differs from claims.r0");
    }
    // eps in the same units as the claims.
    let eps = exact(&problem.tolerance.value);
    let verdict = get_str(cert, "claims.verdict")?;
    let method = get_str(cert, "hints.method")?;
    // Gradient flow or gradient descent: the certificate's method must be the spec's.
    descent::check_method(cert, problem, method)?;
    if let Some(d) = problem.descent() {
        check_verdict(verdict, &claims.sup_deviation, &eps)?;
        return descent::check(cert, problem, d, &claims, progress);
    }
    if method != "taylor-tube" {
        return Err(malformed("hints.method", format!("unknown method '{method}'")));
    }
    // The orders certify accepts (crate::spec::ORDER_RANGE, the single source; the upper end
    // guards against absurd work).
    let order = get_u64(cert, "hints.order")?;
    if let Some(why) = crate::spec::order_range_error(order.into()) {
        return Err(malformed("hints.order", why));
    }
    let order = order as usize;
    let hint_steps = get(cert, "hints.steps")?.as_array().ok_or_else(|| malformed("hints.steps", "not an array"))?;
    if get_u64(cert, "claims.steps")? != hint_steps.len() as u64 {
        return invalid("claims.steps differs from the number of hinted steps");
    }

    // 3. The verdict follows from the claimed sup D and the exact eps.
    check_verdict(verdict, &claims.sup_deviation, &eps)?;

    // 4. The step grid: every hinted length but the last is exact (an f64); the last is
    // T - t exactly, so the steps cover [0, T] exactly.
    let horizon = exact(&problem.horizon.value);
    let everything_whole = claims.sup_deviation.is_whole()
        && claims.final_deviation.is_whole()
        && claims.outputs_final.iter().chain(&claims.linear_outputs_final).all(Claim::is_whole);
    let mut steps: Vec<Rational> = Vec::new();
    let mut tube_hints: Vec<Option<f64>> = Vec::new();
    let mut model_hints: Vec<Option<f64>> = Vec::new();
    // No steps with T > 0: only in the exact special cases (at rest, a stationary start), which verify::verify
    // establishes from its own enclosures (proofs/checker.md, "Exact special cases").
    if !everything_whole && horizon > 0 && !hint_steps.is_empty() {
        let mut t = Rational::new();
        for (k, s) in hint_steps.iter().enumerate().take(hint_steps.len() - 1) {
            let field = format!("hints.steps[{k}].h");
            let h = s.get("h").and_then(Value::as_f64).filter(|h| h.is_finite() && *h > 0.0);
            let Some(h) = h else {
                return Err(malformed(&field, "missing, not positive or not finite"));
            };
            let h = Rational::from_f64(h).expect("finite");
            t += &h;
            steps.push(h);
        }
        let last = Rational::from(&horizon - &t);
        if last <= 0 {
            return invalid(format!("hints.steps: the first {} step lengths already reach T", hint_steps.len() - 1));
        }
        steps.push(last);
        // The certifier's tube radii: targets that only set how much work a step gets (any
        // value is safe; "Hints are not trusted").
        tube_hints = hint_steps.iter().map(|s| s.get("tube_radius").and_then(Value::as_f64).filter(|r| r.is_finite() && *r >= 0.0)).collect();
        // The order-Q model's tube radii (reference_order >= 2; absent in older certificates):
        // targets of the same kind.
        model_hints = hint_steps.iter().map(|s| s.get("model_tube_radius").and_then(Value::as_f64).filter(|r| r.is_finite() && *r >= 0.0)).collect();
    }

    // 5. Re-verification of every numerical claim; with horizon = "inf" the steps cover
    // [0, T1] and the tail argument covers [T1, infinity) (hints.tail.guard: the first box).
    let tail_guard = if problem.infinite_horizon && !everything_whole { Some(tail_guard(cert)?) } else { None };
    let net = series::Net::new(problem).map_err(CheckError::Unsupported)?;
    if problem.num_inputs() == 0 {
        return Err(CheckError::Unsupported("the problem has no training inputs".into()));
    }
    verify::verify(problem, &net, order, &steps, &tube_hints, &model_hints, &claims, tail_guard, progress).map_err(CheckError::Invalid)?;
    Ok(())
}

/// Proof: `proofs/checker.md`, "What `valid` means" (2) and "The tail on `[T1, infinity)`".
/// `problem.infinite_horizon` (a boolean, absent meaning `false`) must be the spec's
/// (`horizon = "inf"`): a certificate about `[0, T]` is not one about all `t >= 0`, and vice
/// versa, although `problem.horizon` (then `T1`) may agree.
fn check_infinite_horizon(cert: &Value, spec_infinite: bool) -> Result<(), CheckError> {
    let claimed = match get(cert, "problem")?.get("infinite_horizon") {
        None => false,
        Some(v) => v.as_bool().ok_or_else(|| malformed("problem.infinite_horizon", "not a boolean"))?,
    };
    match (claimed, spec_infinite) {
        (true, false) => invalid("problem.infinite_horizon is true but the spec's horizon is finite"),
        (false, true) => invalid("problem.infinite_horizon is missing or false but the spec has horizon = \"inf\""),
        _ => Ok(()),
    }
}

/// Proof: `proofs/checker.md`, "Hints are not trusted".
/// `hints.tail.guard`: a finite number `> 0`, the half-width of the first box the tail argument
/// tries (any value is valid; a bad one can only make the check fail).
fn tail_guard(cert: &Value) -> Result<f64, CheckError> {
    let tail = get(cert, "hints.tail")?;
    if !tail.is_object() {
        return Err(malformed("hints.tail", "not an object (horizon = \"inf\" needs the tail's hints)"));
    }
    tail.get("guard").and_then(Value::as_f64).filter(|g| g.is_finite() && *g > 0.0).ok_or_else(|| malformed("hints.tail.guard", "missing, not positive or not finite"))
}
