//! The `ntkcert kernel` command: computes the kernel a spec asks for, its certified spectrum,
//! and prints it (readable text or JSON; `--out` writes the JSON to a file).

use super::empirical::empirical_kernel;
use super::limit::limit_kernels_on;
use super::prediction::{kernel_gap, predict, Gap, Prediction};
use super::spectrum::{spectrum, Bounds, Spectrum};
use crate::arith::ball::Ball;
use crate::arith::fast_interval::FastInterval;
use crate::arith::rational::rational_to_string;
use crate::problem::{KernelProblem, Parameterization};
use serde_json::{json, Value};
use inari::Interval;
use std::path::Path;
use std::time::Instant;

/// Which kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelKind {
    /// `K0 = J(w0) J(w0)^T` of the spec's finite network.
    Empirical,
    /// `Theta` and `Sigma` of the infinite-width limit.
    Limit,
}

/// A computed kernel with its spectrum.
#[derive(Debug, Clone)]
pub struct KernelResult {
    pub kind: KernelKind,
    /// The matrix order: `n * outputs` for `K0`, `n` for `Theta`.
    pub order: usize,
    /// `K0` or `Theta`, `order x order`, row-major, as closed intervals.
    pub ntk: Vec<Bounds>,
    /// `Sigma` (limit only).
    pub nngp: Option<Vec<Bounds>>,
    /// Limit only: whether the recursion ran in 128-bit MPFR intervals (`limit::PRECISE_INPUTS`).
    pub precise: Option<bool>,
    pub spectrum: Spectrum,
    /// The largest relative width `(hi - lo) / max(|lo|, |hi|)` over the entries of `ntk`.
    pub max_relative_width: f64,
    /// Limit with `data.test_inputs`: `Theta(x*, x)`, `m x n` row-major (test rows).
    pub cross: Option<Vec<Bounds>>,
    /// Limit: the infinite-width prediction (`kernel::prediction::predict`), when computed.
    pub prediction: Option<Prediction>,
    /// Limit: the bound of `sup_t |fbar_K0(t) - f_inf(t)|` (`kernel::prediction::kernel_gap`).
    pub gap: Option<Gap>,
    /// Why a prediction or a gap is missing, one line each.
    pub notes: Vec<String>,
    /// Seconds spent on the kernel, on the spectrum and on the prediction with the gap.
    pub kernel_seconds: f64,
    pub spectrum_seconds: f64,
    pub prediction_seconds: f64,
}

fn bounds_of(x: FastInterval) -> Bounds {
    Bounds { lo: x.lo, hi: x.hi }
}

/// `(hi - lo) / max(|lo|, |hi|)` (0 for `[0, 0]`, infinite for unbounded entries).
pub fn relative_width(b: Bounds) -> f64 {
    let scale = b.lo.abs().max(b.hi.abs());
    if !(b.lo.is_finite() && b.hi.is_finite()) {
        f64::INFINITY
    } else if scale == 0.0 {
        0.0
    } else {
        (b.hi - b.lo) / scale
    }
}

/// Computes the kernel of `problem` (`Err`: one line, e.g. an activation without a closed form
/// for the limit, naming the spec field).
pub fn compute(problem: &KernelProblem, kind: KernelKind) -> Result<KernelResult, String> {
    let started = Instant::now();
    let n = problem.inputs.len();
    let mut limit_parts = None;
    let (order, balls, ntk, nngp, precise) = match kind {
        KernelKind::Empirical => {
            let k = empirical_kernel(problem);
            let order = k.len();
            let balls: Vec<Ball> = k.into_iter().flatten().collect();
            let ntk: Vec<Bounds> = balls.iter().map(|b| bounds_of(b.to_fast())).collect();
            (order, balls, ntk, None, None)
        }
        KernelKind::Limit => {
            // Training inputs then test inputs: the cross-kernel is the lower-left block.
            let all: Vec<Vec<Interval>> = problem.inputs.iter().chain(&problem.test_inputs).cloned().collect();
            let limit = limit_kernels_on(problem, &all).map_err(|e| format!("field 'model.activation': {e}"))?;
            let total = all.len();
            let block = |k: &[Interval], rows: std::ops::Range<usize>| -> Vec<Interval> { rows.flat_map(|i| (0..n).map(move |j| k[i * total + j])).collect() };
            let theta = block(&limit.ntk, 0..n);
            let sigma = block(&limit.nngp, 0..n);
            let cross = block(&limit.ntk, n..total);
            let balls: Vec<Ball> = theta.iter().map(|&v| Ball::from_fast(FastInterval::from_inari(v))).collect();
            let ntk = theta.iter().map(|v| Bounds { lo: v.inf(), hi: v.sup() }).collect();
            let nngp = sigma.iter().map(|v| Bounds { lo: v.inf(), hi: v.sup() }).collect();
            limit_parts = Some((theta, cross));
            (n, balls, ntk, Some(nngp), Some(limit.precise))
        }
    };
    let kernel_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let spectrum = spectrum(&balls, order);
    let spectrum_seconds = started.elapsed().as_secs_f64();
    let max_relative_width = ntk.iter().map(|&b| relative_width(b)).fold(0.0, f64::max);
    let started = Instant::now();
    let (cross, prediction, gap, notes) = match &limit_parts {
        None => (None, None, None, Vec::new()),
        Some((theta, cross)) => {
            let (prediction, gap, notes) = chain(problem, theta, cross);
            let cross = (!problem.test_inputs.is_empty()).then(|| cross.iter().map(|v| Bounds { lo: v.inf(), hi: v.sup() }).collect());
            (cross, prediction, gap, notes)
        }
    };
    let prediction_seconds = started.elapsed().as_secs_f64();
    Ok(KernelResult {
        kind,
        order,
        ntk,
        nngp,
        precise,
        spectrum,
        max_relative_width,
        cross,
        prediction,
        gap,
        notes,
        kernel_seconds,
        spectrum_seconds,
        prediction_seconds,
    })
}

/// The infinite-width prediction and `kernel_gap` for the spec's training (centred gradient
/// flow; the prediction without the penalty and for a finite horizon), with a note for each part
/// not computed.
fn chain(problem: &KernelProblem, theta: &[Interval], cross: &[Interval]) -> (Option<Prediction>, Option<Gap>, Vec<String>) {
    let t = &problem.training;
    let mut notes = Vec::new();
    if t.gradient_descent {
        notes.push("no infinite-width prediction or kernel_gap: they are for gradient flow, the spec trains by gradient descent".to_string());
        return (None, None, notes);
    }
    if !t.centred {
        notes.push("no infinite-width prediction or kernel_gap: they are for the centred model (centred = true), whose outputs start at 0".to_string());
        return (None, None, notes);
    }
    let (n, m, outputs) = (problem.inputs.len(), problem.test_inputs.len(), problem.output_dim());
    let lambda = t.regularization.enclosure;
    let prediction = if lambda.sup() > 0.0 {
        notes.push("no infinite-width prediction with [training] regularization > 0 (not implemented); kernel_gap covers the penalised flow".to_string());
        None
    } else {
        match predict(theta, n, cross, m, outputs, &t.targets, &t.horizon.value) {
            Ok(p) => Some(p),
            Err(e) => {
                notes.push(format!("no infinite-width prediction: {e}"));
                None
            }
        }
    };
    let k0 = empirical_kernel(problem);
    let horizon = (!t.infinite_horizon).then_some(&t.horizon.value);
    let gap = kernel_gap(&k0, theta, n, outputs, &t.targets, horizon, lambda);
    (prediction, Some(gap), notes)
}

/// Whether the spec's finite network (i.i.d. N(0, 1) initial weights) has `K0 -> Theta` as its
/// hidden widths grow (with several outputs, `K0 -> Theta (x) I`): NTK parameterisation with `weight_variance = 1` and `bias_variance = 1`
/// with biases, `0` without (proofs/infinite-width-kernels.md, "Conventions").
pub fn limit_matches_network(problem: &KernelProblem) -> bool {
    let one = num_rational::BigRational::from_integer(1.into());
    let zero = num_rational::BigRational::from_integer(0.into());
    problem.parameterization == Parameterization::Ntk
        && problem.weight_variance.value == one
        && problem.bias_variance.value == if problem.bias { one } else { zero }
}

fn bounds_json(b: Bounds) -> Value {
    json!({ "lo": b.lo, "hi": b.hi })
}

fn matrix_json(m: &[Bounds], order: usize) -> Value {
    Value::Array((0..order).map(|i| Value::Array(m[i * order..(i + 1) * order].iter().map(|&b| bounds_json(b)).collect())).collect())
}

fn activations(problem: &KernelProblem) -> Vec<&'static str> {
    problem.activations.iter().map(|a| a.name()).collect()
}

/// The JSON object of `ntkcert kernel --json`.
pub fn result_json(problem: &KernelProblem, r: &KernelResult) -> Value {
    let limit = r.kind == KernelKind::Limit;
    json!({
        "name": problem.name,
        "kernel": if limit { "limit" } else { "empirical" },
        "inputs": problem.inputs.len(),
        "outputs": problem.output_dim(),
        "order": r.order,
        "widths": problem.widths,
        "activations": activations(problem),
        "weight_variance": if limit { Value::from(rational_to_string(&problem.weight_variance.value)) } else { Value::Null },
        "bias_variance": if limit { Value::from(rational_to_string(&problem.bias_variance.value)) } else { Value::Null },
        "limit_of_spec_network": if limit { Value::from(limit_matches_network(problem)) } else { Value::Null },
        "arithmetic": match r.precise { Some(true) => Value::from("mpfr-128"), Some(false) => Value::from("f64"), None => Value::Null },
        "ntk": matrix_json(&r.ntk, r.order),
        "nngp": r.nngp.as_ref().map_or(Value::Null, |m| matrix_json(m, r.order)),
        "lambda_min": bounds_json(r.spectrum.lambda_min),
        "lambda_max": bounds_json(r.spectrum.lambda_max),
        "positive_definite": r.spectrum.positive_definite,
        "condition_upper": r.spectrum.condition_upper,
        "max_relative_width": r.max_relative_width,
        "test_inputs": problem.test_inputs.len(),
        "ntk_test_train": r.cross.as_ref().map_or(Value::Null, |m| {
            Value::Array(m.chunks(problem.inputs.len().max(1)).map(|row| Value::Array(row.iter().map(|&b| bounds_json(b)).collect())).collect())
        }),
        "prediction": r.prediction.as_ref().map_or(Value::Null, prediction_json),
        "kernel_gap": r.gap.map_or(Value::Null, |g| Value::from(g.bound)),
        "kernel_gap_detail": r.gap.map_or(Value::Null, |g| json!({
            "difference_norm": g.difference_norm,
            "targets_norm": g.targets_norm,
            "time_factor": g.time_factor,
            "horizon": if problem.training.infinite_horizon { "inf".to_string() } else { rational_to_string(&problem.training.horizon.value) },
        })),
        "notes": r.notes,
        "seconds": { "kernel": r.kernel_seconds, "spectrum": r.spectrum_seconds, "prediction": r.prediction_seconds },
    })
}

fn intervals_json(v: &[Interval]) -> Value {
    Value::Array(v.iter().map(|x| bounds_json(Bounds { lo: x.inf(), hi: x.sup() })).collect())
}

/// `{"times": [exact strings], "train": [[{lo, hi}] per time], "test": [...], "steps"}`.
fn prediction_json(p: &Prediction) -> Value {
    json!({
        "times": p.times.iter().map(rational_to_string).collect::<Vec<_>>(),
        "train": p.train.iter().map(|v| intervals_json(v)).collect::<Vec<_>>(),
        "test": p.test.iter().map(|v| intervals_json(v)).collect::<Vec<_>>(),
        "steps": p.steps,
    })
}

/// Up to six entries' enclosures as `[lo, hi]` text.
fn some_entries(v: &[Interval]) -> String {
    let mut parts: Vec<String> = v.iter().take(6).map(|x| format!("[{:.9e}, {:.9e}]", x.inf(), x.sup())).collect();
    if v.len() > 6 {
        parts.push(format!("... ({} entries)", v.len()));
    }
    parts.join(" ")
}

/// The readable report.
pub fn result_text(problem: &KernelProblem, r: &KernelResult) -> String {
    let mut s = String::new();
    let n = problem.inputs.len();
    let acts = activations(problem).join(", ");
    match r.kind {
        KernelKind::Empirical => {
            s += &format!(
                "{}: empirical NTK K0 = J(w0) J(w0)^T, {} x {} ({} inputs x {} outputs), widths {:?}, activations [{}], {} parameters\n",
                problem.name,
                r.order,
                r.order,
                n,
                problem.output_dim(),
                problem.widths,
                acts,
                problem.num_params()
            );
        }
        KernelKind::Limit => {
            let hidden: Vec<String> = (0..problem.widths.len())
                .map(|l| if l == 0 || l + 1 == problem.widths.len() { problem.widths[l].to_string() } else { "inf".into() })
                .collect();
            s += &format!(
                "{}: infinite-width NTK Theta and NNGP Sigma, {} x {}, widths [{}] (one scalar output), activations [{}], weight_variance {}, bias_variance {}\n",
                problem.name,
                r.order,
                r.order,
                hidden.join(", "),
                acts,
                rational_to_string(&problem.weight_variance.value),
                rational_to_string(&problem.bias_variance.value)
            );
        }
    }
    let label = if r.kind == KernelKind::Limit { "Theta" } else { "K0" };
    let arithmetic = match r.precise {
        Some(true) => " (recursion in 128-bit MPFR intervals)",
        Some(false) => " (recursion in f64 intervals)",
        None => "",
    };
    s += &format!("{label} entries enclosed{arithmetic}: largest relative width {:.2e}\n", r.max_relative_width);
    if let Some(nngp) = &r.nngp {
        let w = nngp.iter().map(|&b| relative_width(b)).fold(0.0, f64::max);
        s += &format!("Sigma entries enclosed: largest relative width {w:.2e}\n");
    }
    if r.order <= 6 {
        for i in 0..r.order {
            let row: Vec<String> = r.ntk[i * r.order..(i + 1) * r.order].iter().map(|b| format!("{:>12.6e}", 0.5 * b.lo + 0.5 * b.hi)).collect();
            s += &format!("  {}\n", row.join(" "));
        }
    }
    let sp = &r.spectrum;
    s += &format!("lambda_min in [{:.6e}, {:.6e}]\n", sp.lambda_min.lo, sp.lambda_min.hi);
    s += &format!("lambda_max in [{:.6e}, {:.6e}]\n", sp.lambda_max.lo, sp.lambda_max.hi);
    if sp.positive_definite {
        s += &format!("positive definite: lambda_min >= {:.6e} > 0\n", sp.lambda_min.lo);
        if let Some(c) = sp.condition_upper {
            s += &format!("condition number <= {c:.6e}\n");
        }
    } else {
        s += "positive definite: not proved\n";
    }
    if r.kind == KernelKind::Limit && !limit_matches_network(problem) {
        s += "note: this is not the limit of the spec's network's K0 (that needs parameterization = \"ntk\", weight_variance = 1 and bias_variance = 1 with biases, 0 without)\n";
    }
    if let (Some(p), Some(t)) = (&r.prediction, r.prediction.as_ref().and_then(|p| p.times.last())) {
        let t = crate::report::readable(t);
        s += &format!("infinite-width prediction f_inf(t) = (I - exp(-Theta t)) y, enclosed at t = k T/{} ({} steps); at T = {t}:\n", p.times.len() - 1, p.steps);
        s += &format!("  training inputs: {}\n", some_entries(p.train.last().expect("times")));
        if !problem.test_inputs.is_empty() {
            s += &format!("  test inputs (cross-kernel): {}\n", some_entries(p.test.last().expect("times")));
        }
    }
    if let Some(g) = r.gap {
        let horizon = if problem.training.infinite_horizon { "all t >= 0".to_string() } else { format!("t <= {}", crate::report::readable(&problem.training.horizon.value)) };
        s += &format!(
            "kernel_gap: sup over {horizon} of |fbar_K0(t) - f_inf(t)| <= {:.6e}  (|K0 - Theta (x) I|_2 <= {:.3e}, |y| <= {:.3e}, time factor {:.3e})\n",
            g.bound, g.difference_norm, g.targets_norm, g.time_factor
        );
        s += "chain: |alpha (h(w(t)) - h(w0)) - f_inf(t)| <= D(t) + kernel_gap, with sup D from `ntkcert certify` on this spec (triangle inequality)\n";
    }
    for note in &r.notes {
        s += &format!("note: {note}\n");
    }
    s += &format!("time: kernel {:.3} s, spectrum {:.3} s, prediction {:.3} s\n", r.kernel_seconds, r.spectrum_seconds, r.prediction_seconds);
    s
}

/// `ntkcert kernel SPEC [--limit] [--json] [--out FILE]`: prints the kernel's summary.
pub fn run(path: &Path, limit: bool, json_output: bool, out: Option<&Path>) -> Result<(), crate::error::Error> {
    use crate::error::Error;
    let problem = crate::spec::load_kernel(path)?;
    if let Some(out) = out {
        if let Err(e) = crate::certificate::check_writable(out) {
            return Err(Error::cant_create(format!("cannot write '{}': {e}", out.display())));
        }
    }
    let kind = if limit { KernelKind::Limit } else { KernelKind::Empirical };
    let result = compute(&problem, kind).map_err(|e| Error::invalid(format!("{}: {e}", path.display())))?;
    let value = (json_output || out.is_some()).then(|| result_json(&problem, &result));
    if let (Some(out), Some(value)) = (out, &value) {
        let text = serde_json::to_string_pretty(value).expect("JSON");
        if let Err(e) = crate::certificate::write_atomically(out, text.as_bytes()) {
            return Err(Error::cant_create(format!("cannot write '{}': {e}", out.display())));
        }
    }
    if let (true, Some(value)) = (json_output, &value) {
        println!("{value}");
    } else {
        print!("{}", result_text(&problem, &result));
    }
    Ok(())
}
