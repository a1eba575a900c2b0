//! The `ntkcert kernel` command: computes the kernel a spec asks for, its certified spectrum,
//! and prints it (readable text or JSON; `--out` writes the JSON to a file).

use super::empirical::empirical_kernel;
use super::limit::limit_kernels;
use super::spectrum::{spectrum, Bounds, Spectrum};
use crate::arith::ball::Ball;
use crate::arith::fast_interval::FastInterval;
use crate::arith::rational::rational_to_string;
use crate::problem::{KernelProblem, Parameterization};
use serde_json::{json, Value};
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
    /// Seconds spent on the kernel and on the spectrum.
    pub kernel_seconds: f64,
    pub spectrum_seconds: f64,
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
    let (order, balls, ntk, nngp, precise) = match kind {
        KernelKind::Empirical => {
            let k = empirical_kernel(problem);
            let order = k.len();
            let balls: Vec<Ball> = k.into_iter().flatten().collect();
            let ntk: Vec<Bounds> = balls.iter().map(|b| bounds_of(b.to_fast())).collect();
            (order, balls, ntk, None, None)
        }
        KernelKind::Limit => {
            let limit = limit_kernels(problem).map_err(|e| format!("field 'model.activation': {e}"))?;
            let balls: Vec<Ball> = limit.ntk.iter().map(|&v| Ball::from_fast(FastInterval::from_inari(v))).collect();
            let ntk = limit.ntk.iter().map(|v| Bounds { lo: v.inf(), hi: v.sup() }).collect();
            let nngp = limit.nngp.iter().map(|v| Bounds { lo: v.inf(), hi: v.sup() }).collect();
            (limit.n, balls, ntk, Some(nngp), Some(limit.precise))
        }
    };
    let kernel_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let spectrum = spectrum(&balls, order);
    let spectrum_seconds = started.elapsed().as_secs_f64();
    let max_relative_width = ntk.iter().map(|&b| relative_width(b)).fold(0.0, f64::max);
    Ok(KernelResult { kind, order, ntk, nngp, precise, spectrum, max_relative_width, kernel_seconds, spectrum_seconds })
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
        "seconds": { "kernel": r.kernel_seconds, "spectrum": r.spectrum_seconds },
    })
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
    s += &format!("time: kernel {:.3} s, spectrum {:.3} s\n", r.kernel_seconds, r.spectrum_seconds);
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
