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

pub fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Certified => "certified",
        Verdict::Refuted => "refuted",
        Verdict::Inconclusive => "inconclusive",
    }
}

/// The object printed by `certify --json`.
pub fn certify_value(problem: &Problem, r: &Certified) -> Value {
    json!({
        "name": problem.name,
        "verdict": verdict_name(r.verdict),
        "reason": r.reason,
        "tolerance": crate::arith::rational::rational_to_string(&problem.tolerance.value),
        "sup_deviation": interval_json(r.sup_deviation),
        "final_deviation": interval_json(r.final_deviation),
        "outputs_final": r.outputs_final.iter().map(|&x| interval_json(x)).collect::<Vec<_>>(),
        "linear_outputs_final": r.linear_outputs_final.iter().map(|&x| interval_json(x)).collect::<Vec<_>>(),
        "r0": interval_json(r.r0),
        "steps": r.steps,
        "seconds": r.seconds,
    })
}

pub fn certify_json(problem: &Problem, r: &Certified) -> String {
    certify_value(problem, r).to_string()
}

fn fmt_interval(x: Interval) -> String {
    format!("[{:.12e}, {:.12e}]", x.inf(), x.sup())
}

/// The readable summary printed by `certify`. The decimal endpoints shown are rounded for
/// reading; the JSON output carries the exact ones.
pub fn certify_text(problem: &Problem, r: &Certified) -> String {
    let eps = crate::arith::rational::rational_to_string(&problem.tolerance.value);
    let mut s = String::new();
    let range = if problem.infinite_horizon { "t>=0" } else { "t<=T" };
    let headline = match r.verdict {
        Verdict::Certified => format!("CERTIFIED: sup_{{{range}}} D(t) <= eps = {eps} is proved"),
        Verdict::Refuted => format!("REFUTED: sup_{{{range}}} D(t) > eps = {eps} is proved"),
        Verdict::Inconclusive => "INCONCLUSIVE".to_string(),
    };
    s.push_str(&format!("{}: {headline}\n", problem.name));
    if let Some(reason) = &r.reason {
        let label = if r.verdict == Verdict::Inconclusive { "why" } else { "note" };
        s.push_str(&format!("  {label}: {reason}\n"));
    }
    s.push_str(&format!(
        "  model: p = {} parameters, N = {} outputs, alpha = {}, T = {}, {}\n",
        problem.num_params(),
        problem.num_outputs(),
        crate::arith::rational::rational_to_string(&problem.alpha.value),
        if problem.infinite_horizon { "inf".to_string() } else { crate::arith::rational::rational_to_string(&problem.horizon.value) },
        if problem.centred { "centred" } else { "not centred" }
    ));
    let method = match problem.descent() {
        Some(d) => format!(
            "gradient descent, learning_rate = {}, {} iterations",
            crate::arith::rational::rational_to_string(&d.learning_rate.value),
            d.iterations
        ),
        None => "gradient flow".to_string(),
    };
    if !problem.regularization.value.is_zero() {
        let lambda = crate::arith::rational::rational_to_string(&problem.regularization.value);
        s.push_str(&format!("  training: {method} on the loss + (lambda/2)|w - w0|^2, lambda = {lambda}\n"));
    } else if problem.descent().is_some() {
        s.push_str(&format!("  training: {method}\n"));
    }
    if problem.infinite_horizon {
        s.push_str(&format!(
            "  horizon: all t >= 0 (the flows enclosed on [0, T1], T1 = {}, then the tail argument)\n",
            crate::arith::rational::rational_to_string(&problem.horizon.value)
        ));
        s.push_str(&format!("  sup_(t>=0) D(t) in {}\n", fmt_interval(r.sup_deviation)));
        s.push_str(&format!("  lim D(t)        in {}\n", fmt_interval(r.final_deviation)));
    } else {
        s.push_str(&format!("  sup_(t<=T) D(t) in {}\n", fmt_interval(r.sup_deviation)));
        s.push_str(&format!("  D(T)           in {}\n", fmt_interval(r.final_deviation)));
    }
    s.push_str(&format!("  R0             in {}\n", fmt_interval(r.r0)));
    let widest = r.outputs_final.iter().map(|x| x.wid()).fold(0.0, f64::max);
    let at = if problem.infinite_horizon { "inf" } else { "T" };
    s.push_str(&format!("  alpha*g(w({at})): {} outputs, widest enclosure {:.2e}\n", r.outputs_final.len(), widest));
    for (i, x) in r.outputs_final.iter().enumerate().take(4) {
        s.push_str(&format!("    [{i}] {}\n", fmt_interval(*x)));
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
        problem.name, sim.sup_deviation, sim.final_deviation, sim.r0, sim.steps, sim.seconds
    )
}
