//! Human-readable and JSON reports of results.

use num_traits::Zero;
use crate::certify::{Certified, Verdict};
use crate::problem::Problem;
use crate::simulate::Simulation;
use inari::Interval;
use serde_json::{json, Value};

/// A progress bar over `len` units on stderr with the indicatif `template` (the default style if
/// the template does not parse). indicatif draws it only when stderr is a terminal.
pub fn progress_bar(len: u64, template: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(Some(len), indicatif::ProgressDrawTarget::stderr());
    bar.set_style(indicatif::ProgressStyle::with_template(template).unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()));
    bar
}

/// A JSON number for an f64 endpoint (exact: serde_json prints the shortest decimal that reads
/// back to the same f64), or `null` when the endpoint is infinite.
fn endpoint(x: f64) -> Value {
    if x.is_finite() { json!(x) } else { Value::Null }
}

/// `{"lo": .., "hi": ..}` with the exact f64 endpoints.
pub fn interval_json(x: Interval) -> Value {
    json!({ "lo": endpoint(x.inf()), "hi": endpoint(x.sup()) })
}

/// `{"lo": .., "hi": ..}` holding exactly `x 2^k` (`proofs/normalisation.md`, Lemma S3): an
/// endpoint is the JSON number of the product when that is an f64 (no rounding on the way),
/// `null` when infinite, else the text `"<x> * 2^<k>"` with `x` the shortest decimal that reads
/// back to the f64 (the checker reads both, `check::claims`).
pub fn scaled_interval_json(x: Interval, k: i64) -> Value {
    let end = |v: f64| -> Value {
        if !v.is_finite() {
            return Value::Null;
        }
        // Outward rounding leaves a point exactly when the product is an f64.
        let product = crate::scale::scale_interval(interval_point(v), k);
        let exact = product.inf() == product.sup() && product.inf().is_finite();
        if exact { json!(product.inf()) } else { json!(format!("{v:e}{SCALED_SEPARATOR}{k}")) }
    };
    json!({ "lo": end(x.inf()), "hi": end(x.sup()) })
}

/// Between the mantissa and the exponent of an endpoint `"x * 2^e"`.
const SCALED_SEPARATOR: &str = " * 2^";

/// An f64 enclosure of an endpoint [`scaled_interval_json`] wrote: a number, `null`
/// (`infinite`), or `"x * 2^e"` enclosed outward (rounded down when `lower`, else up); `None`
/// when it is none of these. For reading results (tables, plots); the checker has its own reader.
pub fn endpoint_enclosure(v: &Value, lower: bool, infinite: f64) -> Option<f64> {
    match v {
        Value::Null => Some(infinite),
        Value::String(text) => {
            let (x, e) = text.split_once(SCALED_SEPARATOR)?;
            let x: f64 = x.parse().ok().filter(|x: &f64| x.is_finite())?;
            let scaled = crate::scale::scale_interval(interval_point(x), e.parse::<i64>().ok().filter(|e| e.abs() <= crate::scale::MAX_EXPONENT)?);
            Some(if lower { scaled.inf() } else { scaled.sup() })
        }
        _ => v.as_f64(),
    }
}

fn interval_point(v: f64) -> Interval {
    Interval::try_from((v, v)).expect("finite")
}

pub fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Certified => "certified",
        Verdict::Refuted => "refuted",
        Verdict::Inconclusive => "inconclusive",
    }
}

/// The object printed by `certify --json`.
/// The claims are exact: with a normalisation that rescaled the outputs
/// (`Certified::normalized`), every endpoint is the normalised one times its power of two, a
/// JSON number when that is an f64, else the text `"x * 2^k"` ([`scaled_interval_json`]).
pub fn certify_value(problem: &Problem, r: &Certified) -> Value {
    let j = r.normalized.scale.output;
    let (sup, last, outputs, linear_outputs, r0) = match &r.normalized.enclosures {
        Some(e) => (&e.sup_deviation, &e.final_deviation, &e.outputs_final, &e.linear_outputs_final, &e.r0),
        None => (&r.sup_deviation, &r.final_deviation, &r.outputs_final, &r.linear_outputs_final, &r.r0),
    };
    let list = |xs: &[Interval]| xs.iter().map(|&x| scaled_interval_json(x, j)).collect::<Vec<_>>();
    json!({
        "name": problem.name,
        "verdict": verdict_name(r.verdict),
        "reason": r.reason,
        "tolerance": crate::arith::rational::rational_to_string(&problem.tolerance.value),
        "sup_deviation": scaled_interval_json(*sup, j),
        "final_deviation": scaled_interval_json(*last, j),
        "outputs_final": list(outputs),
        "linear_outputs_final": list(linear_outputs),
        "r0": scaled_interval_json(*r0, 2 * j),
        "steps": r.steps,
        "seconds": r.seconds,
    })
}

pub fn certify_json(problem: &Problem, r: &Certified) -> String {
    certify_value(problem, r).to_string()
}

/// An exact number for reading: its exact text when short (`1/1000`, `0.25`, `100`), else a
/// 13-digit approximation marked `~` (the JSON output and certificates keep the exact value).
pub fn readable(q: &num_rational::BigRational) -> String {
    const SHORT: usize = 24;
    let exact = crate::arith::rational::rational_to_string(q);
    if exact.len() <= SHORT {
        return exact;
    }
    let decimal = crate::sweep::grid::decimal_text(q);
    if decimal.len() <= SHORT {
        return decimal;
    }
    use num_traits::ToPrimitive;
    match q.to_f64() {
        Some(v) if v.is_finite() && v != 0.0 => format!("~{v:.12e}"),
        _ => format!("~{} digits", exact.len()),
    }
}

/// `text` for a terminal: control characters replaced by `?`, at most 120 characters shown.
pub fn terminal_safe(text: &str) -> String {
    const LONGEST: usize = 120;
    let mut out: String = text.chars().take(LONGEST).map(|c| if c.is_control() { '?' } else { c }).collect();
    if text.chars().count() > LONGEST {
        out.push_str("...");
    }
    out
}

fn fmt_interval(x: Interval) -> String {
    format!("[{:.12e}, {:.12e}]", x.inf(), x.sup())
}

/// A claim for reading: its endpoints in the spec's units, or, where those left the normal f64
/// range (overflowed, or subnormal), the normalised enclosure times its power of two
/// (`normalized`: the enclosure and the exponent; `--json` has the exact claims).
fn fmt_claim(user: Interval, normalized: Option<(Interval, i64)>) -> String {
    let abnormal = |v: f64| !v.is_finite() || (v != 0.0 && v.abs() < f64::MIN_POSITIVE);
    match normalized {
        Some((n, k)) if (abnormal(user.inf()) || abnormal(user.sup())) && n.inf().is_finite() && n.sup().is_finite() => format!("{} * 2^{k}", fmt_interval(n)),
        _ => fmt_interval(user),
    }
}

/// The readable summary printed by `certify`. The decimal endpoints shown are rounded for
/// reading; the JSON output carries the exact ones.
pub fn certify_text(problem: &Problem, r: &Certified) -> String {
    let eps = readable(&problem.tolerance.value);
    let j = r.normalized.scale.output;
    let e = r.normalized.enclosures.as_deref();
    let sup = fmt_claim(r.sup_deviation, e.map(|e| (e.sup_deviation, j)));
    let last = fmt_claim(r.final_deviation, e.map(|e| (e.final_deviation, j)));
    let output = |i: usize| fmt_claim(r.outputs_final[i], e.map(|e| (e.outputs_final[i], j)));
    let mut s = String::new();
    let quantity = if problem.descent().is_some() {
        "max_{k<=K} D_k"
    } else if problem.infinite_horizon {
        "sup_{t>=0} D(t)"
    } else {
        "sup_{t<=T} D(t)"
    };
    let headline = match r.verdict {
        Verdict::Certified => format!("CERTIFIED: {quantity} <= eps = {eps} is proved"),
        Verdict::Refuted => format!("REFUTED: {quantity} > eps = {eps} is proved"),
        Verdict::Inconclusive => "INCONCLUSIVE".to_string(),
    };
    s.push_str(&format!("{}: {headline}\n", terminal_safe(&problem.name)));
    if let Some(reason) = &r.reason {
        let label = if r.verdict == Verdict::Inconclusive { "why" } else { "note" };
        s.push_str(&format!("  {label}: {reason}\n"));
    }
    s.push_str(&format!(
        "  model: p = {} parameters, N = {} outputs, alpha = {}, T = {}, {}\n",
        problem.num_params(),
        problem.num_outputs(),
        readable(&problem.alpha.value),
        if problem.infinite_horizon { "inf".to_string() } else { readable(&problem.horizon.value) },
        if problem.centred { "centred" } else { "not centred" }
    ));
    let method = match problem.descent() {
        Some(d) => format!(
            "gradient descent, learning_rate = {}, {} iterations",
            readable(&d.learning_rate.value),
            d.iterations
        ),
        None => "gradient flow".to_string(),
    };
    if !problem.regularization.value.is_zero() {
        let lambda = readable(&problem.regularization.value);
        s.push_str(&format!("  training: {method} on the loss + (lambda/2)|w - w0|^2, lambda = {lambda}\n"));
    } else if problem.descent().is_some() {
        s.push_str(&format!("  training: {method}\n"));
    }
    if problem.infinite_horizon {
        s.push_str(&format!(
            "  horizon: all t >= 0 (the flows enclosed on [0, T1], T1 = {}, then the tail argument)\n",
            readable(&problem.horizon.value)
        ));
        s.push_str(&format!("  sup_(t>=0) D(t) in {sup}\n"));
        s.push_str(&format!("  lim D(t)        in {last}\n"));
    } else if problem.descent().is_some() {
        s.push_str(&format!("  max_(k<=K) D_k  in {sup}\n"));
        s.push_str(&format!("  D_K             in {last}\n"));
    } else {
        s.push_str(&format!("  sup_(t<=T) D(t) in {sup}\n"));
        s.push_str(&format!("  D(T)           in {last}\n"));
    }
    s.push_str(&format!("  R0             in {}\n", fmt_claim(r.r0, e.map(|e| (e.r0, 2 * j)))));
    let widest = r.outputs_final.iter().map(|x| x.wid()).fold(0.0, f64::max);
    let at = if problem.infinite_horizon {
        "inf"
    } else if problem.descent().is_some() {
        "K"
    } else {
        "T"
    };
    s.push_str(&format!("  alpha*g(w({at})): {} outputs, widest enclosure {:.2e}\n", r.outputs_final.len(), widest));
    for i in 0..r.outputs_final.len().min(4) {
        s.push_str(&format!("    [{i}] {}\n", output(i)));
    }
    if r.outputs_final.len() > 4 {
        s.push_str("    ... (all of them with --json)\n");
    }
    let unit = if problem.descent().is_some() { "iterations" } else { "steps" };
    s.push_str(&format!("  {} {unit}, {:.3} s\n", r.steps, r.seconds));
    s
}

pub fn simulate_json(sim: &Simulation) -> String {
    serde_json::to_string(sim).unwrap_or_default()
}

pub fn simulate_text(problem: &Problem, sim: &Simulation) -> String {
    let stopped = match sim.stopped_at {
        Some(t) => format!("  stopped at the step limit ({}) at t = {t:.6}: the figures are at that time; raise [solver] max_steps\n", sim.steps),
        None => String::new(),
    };
    format!(
        "{}: f64 simulation (not certified)\n{stopped}  sup D (sampled) ~ {:.12e}\n  D(T) ~ {:.12e}\n  R0 ~ {:.12e}\n  {} steps, {:.3} s\n",
        terminal_safe(&problem.name), sim.sup_deviation, sim.final_deviation, sim.r0, sim.steps, sim.seconds
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_rational::BigRational;

    /// Long exact numbers and names print shortened; short ones print exactly.
    #[test]
    fn long_numbers_and_names_are_shortened_for_reading() {
        let q = |text: &str| crate::arith::rational::parse_decimal(text).unwrap();
        assert_eq!(readable(&q("1/1000")), "1/1000");
        assert_eq!(readable(&q("7071.0678118654755")), "7071.0678118654755");
        assert_eq!(readable(&q("1/3")), "1/3");
        let long = BigRational::new(1.into(), num_bigint::BigInt::from(3).pow(200));
        assert!(readable(&long).starts_with('~') && readable(&long).len() < 30, "{}", readable(&long));
        let huge = q(&format!("1{}", "0".repeat(300)));
        assert_eq!(readable(&huge), "~1.000000000000e300");
        assert_eq!(terminal_safe("a\x1b[31mb\n"), "a?[31mb?");
        assert_eq!(terminal_safe(&"x".repeat(300)).len(), 123);
    }
}
