//! `ntkcert bound SPEC [--json] [--compare] [--bench]`: the certified theory bounds, readable
//! or as JSON; optionally compared with the trajectory (a certified run and f64 samples), or
//! timed against one Jacobian evaluation.

use super::{theory_bounds, trajectory, TheoryBounds};
use crate::arith::vector::point;
use crate::certify::{certify, Certified, Options};
use crate::problem::Problem;
use crate::report::interval_json;
use inari::Interval;
use serde_json::{json, Value};
use std::path::Path;

/// The comparison with the actual trajectory (`--compare`).
#[derive(Debug, Clone)]
pub struct Comparison {
    pub sampled: trajectory::TrajectoryEstimate,
    pub certified: Certified,
    /// The layered bound over the ball of the *sampled* maximal displacement (not a certified
    /// radius): how much of the gap to `L_traj` is the ball's size, and how much the supremum
    /// over all directions and points.
    pub lip_dh_at_sampled_radius: f64,
}

/// Runs the certified integration and the f64 samples, and adds the loss-decrease bound.
pub fn compare(problem: &Problem, tb: &mut TheoryBounds, options: &Options) -> Result<Comparison, String> {
    let sampled = trajectory::estimate(problem, options.order.unwrap_or(16), 32);
    let certified = certify(problem, options).map_err(|e| e.to_string())?;
    if certified.outputs_final.iter().all(|x| x.sup().is_finite() && x.inf().is_finite()) {
        let residual: Vec<Interval> = certified.outputs_final.iter().zip(&problem.targets).map(|(&o, &y)| o - y).collect();
        tb.add_loss_decrease(problem, &residual);
    }
    let lip_dh_at_sampled_radius =
        super::local::layered_bounds_on_ball(problem, sampled.displacement_sampled).bounds.hessian_total();
    Ok(Comparison { sampled, certified, lip_dh_at_sampled_radius })
}

fn endpoint(x: f64) -> Value {
    if x.is_finite() { json!(x) } else { Value::Null }
}

/// The JSON object printed by `bound --json`.
pub fn bound_value(problem: &Problem, tb: &TheoryBounds, cmp: Option<&Comparison>) -> Value {
    let mut bounds = serde_json::Map::new();
    for b in &tb.bounds {
        bounds.insert(b.key.to_string(), endpoint(b.value));
    }
    let mut unavailable = serde_json::Map::new();
    for u in &tb.unavailable {
        bounds.insert(u.key.to_string(), Value::Null);
        unavailable.insert(u.key.to_string(), Value::String(u.reason.clone()));
    }
    let mut v = json!({
        "name": problem.name,
        "r0": interval_json(tb.r0),
        "reach": endpoint(tb.reach),
        "lip_h": endpoint(tb.lip_h),
        "lip_dh_local": endpoint(tb.lip_dh_local),
        "lip_dh_box": endpoint(tb.lip_dh_box),
        "kappa": interval_json(tb.kappa),
        "growth_rate": {
            "per_input": endpoint(tb.growth_rate.per_input),
            "residual_weighted": tb.growth_rate.residual_weighted.map(endpoint),
        },
        "bounds": Value::Object(bounds),
        "bound_details": tb.bounds,
        "seconds": tb.seconds,
    });
    if problem.infinite_horizon {
        // The bounds are of sup_(t>=0) D; `kappa` is [T1 L sqrt(R0)/alpha, +inf] (hi null).
        v["infinite_horizon"] = json!(true);
        v["settle_time"] = json!(crate::arith::rational::rational_to_string(&problem.horizon.value));
    }
    if !tb.unavailable.is_empty() {
        v["unavailable"] = Value::Object(unavailable);
        v["unavailable_details"] = json!(tb.unavailable);
    }
    if let Some(d) = &tb.descent {
        v["descent"] = descent_json(problem, d);
    }
    if let Some(t) = &tb.taylor {
        v["taylor_order"] = json!({
            "order": t.order,
            "reach": endpoint(t.reach),
            "remainder": endpoint(t.remainder),
            "gradient_remainder": endpoint(t.gradient_remainder),
            "convergence_radius": endpoint(t.convergence_radius),
            "model_gradient": endpoint(t.model_gradient),
            "model_hessian": endpoint(t.model_hessian),
            "growth": endpoint(t.growth),
        });
    }
    if let Some(c) = cmp {
        let s = &c.sampled;
        v["trajectory"] = json!({
            "certified": false,
            "lip_dh_sampled": endpoint(s.lip_dh_sampled),
            "lip_h_sampled": endpoint(s.lip_h_sampled),
            "displacement_sampled": endpoint(s.displacement_sampled),
            "samples": s.samples,
            "lip_dh_looseness": endpoint(tb.lip_dh_local / s.lip_dh_sampled),
            "lip_dh_local_at_sampled_radius": endpoint(c.lip_dh_at_sampled_radius),
            "lip_h_looseness": endpoint(tb.lip_h / s.lip_h_sampled),
            "reach_looseness": endpoint(tb.reach / s.displacement_sampled),
        });
        let sup = c.certified.sup_deviation;
        let mut ratios = serde_json::Map::new();
        for b in &tb.bounds {
            // Only meaningful when the run was certified (a finite positive lower end).
            let r = if sup.inf() > 0.0 && sup.sup().is_finite() { b.value / sup.inf() } else { f64::NAN };
            ratios.insert(b.key.to_string(), endpoint(r));
        }
        v["certified"] = json!({
            "verdict": crate::report::verdict_name(c.certified.verdict),
            "sup_deviation": interval_json(sup),
            "ratio_to_kappa_sqrt_r0": interval_json(sup / tb.kappa_sqrt_r0()),
            "bound_over_sup_deviation": Value::Object(ratios),
        });
    }
    v
}

/// `eta beta = 2 (1 - c)` (upper) from the enclosure of `c = 1 - eta beta / 2`.
fn eta_beta(c: Interval) -> f64 {
    (point(2.0) * (point(1.0) - point(c.inf()))).sup()
}

/// The `descent` object of `bound --json` (gradient descent, `proofs/theory-f9.md`).
fn descent_json(problem: &Problem, d: &super::descent::DescentReport) -> Value {
    let eta = problem.descent().map(|g| crate::arith::rational::rational_to_string(&g.learning_rate.value));
    let mut v = json!({
        "learning_rate": eta,
        "iterations": d.iterations,
        "lambda_max_k0": endpoint(d.lambda_max_k0),
        "eta_lambda_max": endpoint(d.x_max),
        "stability_edge": endpoint(d.edge),
        "kernel_sum": d.kernel_sum.map(endpoint),
    });
    match &d.region {
        Ok(r) => {
            v["condition"] = json!({
                "holds": true,
                "ball": endpoint(r.ball),
                "reach": endpoint(r.reach),
                "jacobian_norm": endpoint(r.jacobian_norm),
                "smoothness": endpoint(r.smoothness),
                "eta_smoothness": endpoint(eta_beta(r.margin)),
                "margin": interval_json(r.margin),
            });
        }
        Err(why) => {
            v["condition"] = json!({ "holds": false, "reason": why });
        }
    }
    v
}

fn fmt_interval(x: Interval) -> String {
    format!("[{:.6e}, {:.6e}]", x.inf(), x.sup())
}

/// The readable report.
pub fn bound_text(problem: &Problem, tb: &TheoryBounds, cmp: Option<&Comparison>) -> String {
    let infinite = problem.infinite_horizon;
    let mut s = format!(
        "{}: certified theory bounds (each an upper bound of {}, rounded outward{})\n",
        problem.name,
        if problem.descent().is_some() {
            "max_(k<=K) D_k = |r_k - rbar_k| over the gradient-descent iterates"
        } else if infinite {
            "sup_(t>=0) D(t)"
        } else {
            "sup_(t<=T) D(t)"
        },
        if infinite { "; F3 and F8 are uniform in time" } else { "" }
    );
    let horizon = if infinite {
        format!(
            "inf (certify integrates to the settling time T1 = {}, then applies the tail argument; no bound depends on T1)",
            crate::arith::rational::rational_to_string(&problem.horizon.value)
        )
    } else {
        crate::arith::rational::rational_to_string(&problem.horizon.value)
    };
    s.push_str(&format!(
        "  model: p = {}, N = {}, alpha = {}, T = {horizon}\n",
        problem.num_params(),
        problem.num_outputs(),
        crate::arith::rational::rational_to_string(&problem.alpha.value),
    ));
    if let (Some(g), Some(d)) = (problem.descent(), &tb.descent) {
        let penalised = d.lambda.sup() > 0.0;
        s.push_str(&format!(
            "  gradient descent: eta = {}, K = {} iterations; lambda_max(K0) <= {:.6e}, stability edge {} >= {:.6e}, {} <= {:.6e}\n",
            crate::arith::rational::rational_to_string(&g.learning_rate.value),
            g.iterations,
            d.lambda_max_k0,
            if penalised { "2/(lambda_max(K0) + lambda)" } else { "2/lambda_max(K0)" },
            d.edge,
            if penalised { "eta (lambda_max(K0) + lambda)" } else { "eta lambda_max(K0)" },
            d.x_max
        ));
        match &d.region {
            Ok(r) => s.push_str(&format!(
                "  descent condition HOLDS: beta <= {:.6e} (>= lambda_max(Hess {}) on B(w0, reach) where |r| <= |r0|), eta beta <= {:.6e} < 2, c = 1 - eta beta/2 >= {:.6e}; iterates within {:.6e} of w0 [proofs/theory-f9.md#d9]\n",
                r.smoothness,
                if penalised { "(F + (lambda/2)|w - w0|^2)" } else { "F" },
                eta_beta(r.margin),
                r.margin.inf(),
                r.reach
            )),
            Err(why) => s.push_str(&format!("  descent condition NOT ESTABLISHED: {why}\n  => no bound of max_(k<=K) D_k is available (not even F3: the iterates may diverge)\n")),
        }
    }
    s.push_str(&format!("  R0      in {}   |alpha h(w0) - y|^2 / 2\n", fmt_interval(tb.r0)));
    let reach_formula = if let Some(d) = &tb.descent {
        match (&d.region, &d.last_ball) {
            (Ok(_), _) => "the ball of Lemma D9: iterates and the segments between them stay in it [proofs/theory-f9.md#d9]",
            (Err(_), Some(_)) => "the last ball tried for Lemma D9 (the condition fails there: nothing is proved about the iterates)",
            (Err(_), None) => "the gradient-flow ball (gradient descent is not proved to stay anywhere: the condition fails)",
        }
    } else if infinite {
        "sqrt(2 R0/lambda)/alpha: w(t) stays in B(w0, reach) for all t >= 0 [proofs/theory-f8.md#d8]"
    } else if tb.get("regularized").is_some() {
        "min(sqrt(T R0), sqrt(2 R0/lambda))/alpha: w(t) stays in B(w0, reach) [proofs/theory-f8.md#d8]"
    } else {
        "min(sqrt(T R0), T Lip(h) sqrt(2 R0))/alpha: w(t) stays in B(w0, reach) [proofs/theory-f1-f2.md#f2]"
    };
    s.push_str(&format!("  reach   <= {:.6e}   {reach_formula}\n", tb.reach));
    s.push_str(&format!("  Lip(h)  <= {:.6e}   sup |Dh| on B(w0, reach) [proofs/theory-local-constant.md]\n", tb.lip_h));
    s.push_str(&format!(
        "  L_loc   <= {:.6e}   sup |D^2 h| on B(w0, reach), layered bound (box recursion: {:.3e}) [proofs/theory-local-constant.md]\n",
        tb.lip_dh_local, tb.lip_dh_box
    ));
    if infinite {
        s.push_str("  kappa   =  +inf   T L_loc sqrt(R0)/alpha with T = inf (F3 and F8 do not use it)\n");
    } else {
        s.push_str(&format!("  kappa   in {}   T L_loc sqrt(R0)/alpha\n", fmt_interval(tb.kappa)));
    }
    let rate = &tb.growth_rate;
    match rate.residual_weighted {
        Some(h) => s.push_str(&format!(
            "  mu(w0)  <= {:.6e}   lambda_max(-Hess F(w0)) <= H(w0)/alpha, residual-weighted [proofs/residual-hessian.md]; |r0| sup|D^2 h|/alpha: {:.3e}\n",
            h, rate.per_input
        )),
        None => s.push_str(&format!("  mu(w0)  <= {:.6e}   lambda_max(-Hess F(w0)) <= |r0| sup|D^2 h|/alpha\n", rate.per_input)),
    }
    if let Some(t) = &tb.taylor {
        s.push_str(&taylor_text(t));
    }
    s.push_str(if tb.descent.is_some() {
        "  bounds of max_(k<=K) D_k:\n"
    } else if tb.taylor.is_some() {
        "  bounds of sup_(t<=T) D_Q(t) = |alpha g(w(t)) - alpha g_Q(w_Q(t))|:\n"
    } else if infinite {
        "  bounds of sup_(t>=0) D(t) (uniform in time):\n"
    } else {
        "  bounds of sup_(t<=T) D(t):\n"
    });
    for b in &tb.bounds {
        s.push_str(&format!("    {:<14} <= {:.6e}  {}: {}  [{}]\n", b.key, b.value, b.name, b.formula, b.proof));
    }
    for u in &tb.unavailable {
        s.push_str(&format!("    {:<14} NOT AVAILABLE: {}  ({}) [{}]\n", u.key, u.reason, u.name, u.proof));
    }
    if let Some(c) = cmp {
        let e = &c.sampled;
        s.push_str(&format!(
            "  along the {}{} (f64 samples at {} times, NOT certified):\n    L_traj ~ {:.3e} (L_loc is {:.1}x that)   Lip_traj ~ {:.3e} (Lip(h) is {:.2}x)   max |w - w0| ~ {:.3e} (reach is {:.2}x)\n",
            if problem.descent().is_some() { "gradient-descent iterates" } else { "trajectory" },
            if infinite { " on [0, T1]" } else { "" },
            e.samples,
            e.lip_dh_sampled,
            tb.lip_dh_local / e.lip_dh_sampled,
            e.lip_h_sampled,
            tb.lip_h / e.lip_h_sampled,
            e.displacement_sampled,
            tb.reach / e.displacement_sampled
        ));
        s.push_str(&format!(
            "    L_loc over the ball of the sampled displacement: {:.3e} ({:.1}x L_traj): the rest of the gap is the supremum over all directions\n",
            c.lip_dh_at_sampled_radius,
            c.lip_dh_at_sampled_radius / e.lip_dh_sampled
        ));
        let sup = c.certified.sup_deviation;
        if infinite {
            s.push_str(&format!(
                "  certified run: {}, sup_(t>=0) D in {}\n",
                crate::report::verdict_name(c.certified.verdict),
                fmt_interval(sup)
            ));
        } else {
            s.push_str(&format!(
                "  certified run: {}, sup D in {}; sup D / (kappa sqrt R0) in {}\n",
                crate::report::verdict_name(c.certified.verdict),
                fmt_interval(sup),
                fmt_interval(sup / tb.kappa_sqrt_r0())
            ));
        }
        if sup.inf() > 0.0 && sup.sup().is_finite() {
            for b in &tb.bounds {
                s.push_str(&format!("    {:<14} / sup D <= {:.3e}\n", b.key, b.value / sup.inf()));
            }
        }
    } else {
        s.push_str("  (--compare: how loose, against the certified run and the constants along the trajectory)\n");
    }
    s.push_str(&format!("  {:.4} s\n", tb.seconds));
    s
}

fn best_of(repeat: usize, mut f: impl FnMut()) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..repeat.max(1) {
        let t = std::time::Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    best
}

/// `bound --bench`: the cost of `theory_bounds` against one Jacobian evaluation `Dh(w0)` in the
/// same rigorous arithmetic (the fast interval type of `arith::fast_interval`, which the bound's
/// forward pass uses), and for reference in inari intervals and in plain f64; one thread each,
/// measured side by side, interleaved.
pub fn bench(problem: &Problem, repeat: usize) -> String {
    use crate::arith::fast_interval::FastInterval;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("a thread pool");
    let (mut tb_best, mut jac_best, mut jac64_best) = (f64::INFINITY, f64::INFINITY, f64::INFINITY);
    let mut jacf_best = f64::INFINITY;
    let w0 = problem.params0.clone();
    let w0fast: Vec<FastInterval> = w0.iter().map(|&v| FastInterval::from_inari(v)).collect();
    let w0f: Vec<f64> = w0.iter().map(|v| v.mid()).collect();
    for _ in 0..repeat.max(1) {
        pool.install(|| {
            tb_best = tb_best.min(best_of(1, || {
                std::hint::black_box(theory_bounds(problem));
            }));
            jacf_best = jacf_best.min(best_of(1, || {
                std::hint::black_box(crate::model::flow::jacobian::<FastInterval>(problem, &w0fast));
            }));
            jac_best = jac_best.min(best_of(1, || {
                std::hint::black_box(crate::model::flow::jacobian::<Interval>(problem, &w0));
            }));
            jac64_best = jac64_best.min(best_of(1, || {
                std::hint::black_box(crate::model::flow::jacobian::<f64>(problem, &w0f));
            }));
        });
    }
    let _ = point(0.0);
    format!(
        "{:<22} {:>7} {:>5} {:>10} {:>12} {:>7} {:>14} {:>12}\n{:<22} {:>7} {:>5} {:>10.5} {:>12.5} {:>7.2} {:>14.5} {:>12.5}\n",
        "spec", "p", "N", "bound s", "jacobian s", "ratio", "jac (inari) s", "jac f64 s",
        problem.name,
        problem.num_params(),
        problem.num_outputs(),
        tb_best,
        jacf_best,
        tb_best / jacf_best,
        jac_best,
        jac64_best
    )
}

/// The `bound` command: prints the report.
pub fn run(path: &Path, json: bool, compare_run: bool, bench_run: bool, repeat: usize, order: Option<usize>) -> Result<(), crate::error::Error> {
    use crate::error::Error;
    let mut loaded = crate::spec::load(path)?;
    if let Some(q) = order {
        loaded.problem.reference_order = crate::spec::reference_order_for(&loaded.problem, q).map_err(|why| Error::invalid(format!("--order {q}: {why}")))?;
    }
    let problem = &loaded.problem;
    if problem.num_inputs() == 0 {
        return Err(Error::invalid(format!("{}: the problem has no training inputs", path.display())));
    }
    if bench_run {
        print!("{}", bench(problem, repeat));
        return Ok(());
    }
    let mut tb = theory_bounds(problem);
    let cmp = if compare_run {
        let options = Options::from_solver(&loaded.solver, None);
        match compare(problem, &mut tb, &options) {
            Ok(c) => Some(c),
            Err(e) => return Err(Error::invalid(format!("{}: {e}", path.display()))),
        }
    } else {
        None
    };
    if json {
        println!("{}", bound_value(problem, &tb, cmp.as_ref()));
    } else {
        print!("{}", bound_text(problem, &tb, cmp.as_ref()));
    }
    Ok(())
}

/// The order-`Q` model's section of the readable report (`proofs/taylor-models.md`).
fn taylor_text(t: &crate::theory::taylor::TaylorOrderReport) -> String {
    let q = t.order;
    let radius = if t.convergence_radius.is_infinite() {
        "+inf (entire activations: the series converges everywhere)".to_string()
    } else {
        format!("{:.6e}", t.convergence_radius)
    };
    let inside = if t.reach < t.convergence_radius { "inside" } else { "NOT inside" };
    format!(
        "  order-{q} Taylor model h_{q}(w) = sum_(r<={q}) D^r h(w0)[(w - w0)^r]/r! on B(w0, reach) [proofs/taylor-models.md]:\n    \
         |h - h_{q}|   <= {:.6e}   beta_{} reach^{}/{}!, beta >= sup |D^{} h| on the ball (Lemma B)\n    \
         |Dh - Dh_{q}| <= {:.6e}   beta_{} reach^{q}/{q}!\n    \
         |Dh_{q}| <= {:.6e}, |D^2 h_{q}| <= {:.6e} (Lemma G), mu_{q} <= {:.6e}\n    \
         series radius >= {radius} around w0 (Lemma A); the reachable ball is {inside} it\n",
        t.remainder,
        q + 1,
        q + 1,
        q + 1,
        q + 1,
        t.gradient_remainder,
        q + 1,
        t.model_gradient,
        t.model_hessian,
        t.growth,
    )
}
