//! Certified theory bounds (MATH.md F3-F6) for a problem: the constants they need (R0, the
//! reachable radius, Lip(h) and the local Lipschitz constant of Dh on the reachable ball), and
//! the bounds themselves, each an upper bound of `sup_{t<=T} D(t)`, rounded upward. With
//! `horizon = "inf"` (the penalty is then required) only F3 and F8 are reported, both uniform
//! in time: upper bounds of `sup_{t>=0} D(t)`, with `L_loc` over the ball
//! `B(w0, sqrt(2 R0/lambda)/alpha)` that contains `w(t)` for all `t >= 0`; the settling time
//! `T1` (`problem.horizon`) enters no bound.
//!
//! Proofs: `proofs/theory-f1-f2.md` (F1, F2: the reachable ball), `proofs/theory-f5-f6.md`
//! (F3-F6 and the loss-decrease bound), `proofs/theory-f8.md` (F8, the penalty),
//! `proofs/theory-f9.md` (F9, gradient descent), `proofs/theory-local-constant.md` (the constants
//! `Lip(h)` and `L_loc` over the ball), `proofs/theory-f7.md` (the tightness family).
//!
//! Library API (used by the sweep/table code): [`theory_bounds`] and [`TheoryBounds::get`].
//! - [`local`]: the layered bound of `sup |D^2 h|` over a ball.
//! - [`descent`]: F9, gradient descent (`proofs/theory-f9.md`): the step-size condition and
//!   the discrete analogue of F5.
//! - [`trajectory`]: a sampled (not certified) estimate of the effective constant along the
//!   actual trajectory, to say how loose the certified constant is.
//! - [`report`]: the `ntkcert bound` command.

pub mod descent;
pub mod local;
pub mod report;
pub mod taylor;
pub mod trajectory;

use num_traits::Signed;
use crate::arith::vector::{norm2_lower, point};
use crate::certify::InitialState;
use crate::problem::Problem;
use inari::Interval;

/// One named bound.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NamedBound {
    /// Key used in JSON and in regression assertions (`bound.KEY`).
    pub key: &'static str,
    pub name: &'static str,
    pub formula: &'static str,
    pub proof: &'static str,
    /// Upper bound of `sup_{t<=T} D(t)` (with `horizon = "inf"`: of `sup_{t>=0} D(t)`),
    /// rounded upward.
    pub value: f64,
}

/// A bound that does not apply to this problem, with the reason (reported by `bound` as
/// `bounds.KEY = null` and `unavailable.KEY = REASON`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Unavailable {
    pub key: &'static str,
    pub name: &'static str,
    pub proof: &'static str,
    pub reason: String,
}

/// Everything `ntkcert bound` reports.
#[derive(Debug, Clone)]
pub struct TheoryBounds {
    /// `R0 = |r0|^2 / 2`.
    pub r0: Interval,
    /// `min(sqrt(T R0), T Lip(h) sqrt(2 R0)) / alpha` (upper): the trajectory stays in
    /// `B(w0, reach)` (F2 and its velocity form); with the penalty also at most
    /// `sqrt(2 R0/lambda)/alpha`, which alone is the reach with `horizon = "inf"`.
    pub reach: f64,
    /// `sup |Dh|` over the reachable ball (upper).
    pub lip_h: f64,
    /// `sup |D^2 h|` over the reachable ball (upper): a Lipschitz constant of `Dh` there
    /// (the local constant `L_loc`), the smaller of the layered and the box recursion.
    pub lip_dh_local: f64,
    /// The box recursion alone (`proofs/derivative-bounds.md`), for comparison.
    pub lip_dh_box: f64,
    /// `T L sqrt(R0) / alpha` with `L = lip_dh_local` (enclosure given that L); with
    /// `horizon = "inf"` `[T1 L sqrt(R0)/alpha, +inf]` (no bound uses it then).
    pub kappa: Interval,
    /// The error-growth rate at `w0` (upper bounds of `lambda_max(-Hess F(w0))`, the rate the
    /// integrator's `mu` bounds over each step's tube): `|r0| sup|D^2 h(w0)| / alpha`, and the
    /// residual-weighted `H(w0) / alpha` (MLPs; `proofs/residual-hessian.md`), which keeps the
    /// cancellation over the inputs.
    pub growth_rate: GrowthRate,
    pub bounds: Vec<NamedBound>,
    /// Bounds that would apply to this kind of problem but whose hypotheses are not
    /// established (gradient descent above its step-size condition), with the reason.
    pub unavailable: Vec<Unavailable>,
    /// For gradient descent: the step-size condition and the constants of F9
    /// (`proofs/theory-f9.md`); then `reach`, `lip_h`, `lip_dh_local`, `lip_dh_box` and `kappa`
    /// refer to the ball of Lemma D9 (the last ball tried when the condition fails).
    pub descent: Option<descent::DescentReport>,
    /// With `reference_order = Q >= 2`: the order-`Q` model's remainders, convergence radius
    /// and F10 (`taylor::taylor_order_report`).
    pub taylor: Option<taylor::TaylorOrderReport>,
    /// Wall-clock seconds of [`theory_bounds`].
    pub seconds: f64,
}

impl TheoryBounds {
    /// The value of the bound with this key (`trivial`, `published`, `sharpened`,
    /// `gronwall_t2`, and `loss_decrease` once [`TheoryBounds::add_loss_decrease`] ran).
    pub fn get(&self, key: &str) -> Option<f64> {
        self.bounds.iter().find(|b| b.key == key).map(|b| b.value)
    }

    /// `kappa sqrt(R0)` (enclosure given `L = lip_dh_local`).
    pub fn kappa_sqrt_r0(&self) -> Interval {
        self.kappa * self.r0.sqrt()
    }

    /// Adds the loss-decrease bound F5-loss (`proofs/theory-f5-f6.md#f5-loss`) given a
    /// certified enclosure of the final residual `r(T) = alpha g(w(T)) - y` (for example from
    /// `certify`: `outputs_final[i] - targets[i]`). Returns its value.
    pub fn add_loss_decrease(&mut self, problem: &Problem, final_residual: &[Interval]) -> f64 {
        if problem.descent().is_some() {
            // F5-loss is proved for the flow; for gradient descent F9 is the bound.
            return self.get("gradient_descent").or(self.get("trivial")).unwrap_or(f64::INFINITY);
        }
        if problem.regularization.value.is_positive() {
            // F5-loss is proved for the plain flow only; F8 is the regularised bound.
            return self.get("regularized").unwrap_or(f64::INFINITY);
        }
        let value = loss_decrease_bound(problem, self, final_residual);
        self.bounds.retain(|b| b.key != "loss_decrease");
        self.bounds.push(NamedBound {
            key: "loss_decrease",
            name: "F5-loss: F5 with the certified loss decrease (derived here)",
            formula: "min((T L'/alpha) (dR/sqrt 2 + pi/(2 sqrt e) sqrt(dR R0)), sqrt(8 R0)), dR = R0 - R(T), L' = L_loc on B(w0, sqrt(T dR)/alpha)",
            proof: "proofs/theory-f5-f6.md#f5-loss",
            value,
        });
        value
    }
}

/// `1/sqrt(2) + pi / (2 sqrt(e))` enclosed (F5's constant, `proofs/theory-f5-f6.md#f5`).
pub fn sharpened_constant() -> Interval {
    let two = point(2.0);
    two.sqrt().recip() + Interval::PI / (two * Interval::E.sqrt())
}

/// `4 + sqrt(2 pi / e)` enclosed (F8's constant, `proofs/theory-f8.md`).
pub fn regularized_constant() -> Interval {
    point(4.0) + (point(2.0) * Interval::PI / Interval::E).sqrt()
}

/// `pi / (2 sqrt(e))` enclosed (the second part of F5).
fn second_part_constant() -> Interval {
    Interval::PI / (point(2.0) * Interval::E.sqrt())
}

/// Upper bounds of the local error-growth rate at `w0` (see [`TheoryBounds::growth_rate`]).
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct GrowthRate {
    /// `|r0| sup|D^2 h(w0)| / alpha`.
    pub per_input: f64,
    /// `H(w0) / alpha`, `None` for the quadratic family.
    pub residual_weighted: Option<f64>,
}

/// [`GrowthRate`] at the initial box, from the shared forward pass and the initial residual.
fn growth_rate_at_w0(problem: &Problem, forward: &local::Forward, residual: &[Interval]) -> GrowthRate {
    let alpha = problem.alpha.enclosure;
    let residual_norm = point(crate::enclose::poly::norm2_upper(residual));
    let hidden = forward.hidden();
    let bounds = crate::model::bounds::derivative_bounds(problem, &problem.params0, hidden.map(|(_, h)| h));
    let per_input = (residual_norm * point(bounds.hessian_total()) / alpha).sup();
    let residual_weighted = hidden.map(|(net, hidden)| {
        let h = crate::model::curvature::residual_hessian_upper(net, hidden, &problem.params0, residual);
        (point(h) / alpha).sup()
    });
    GrowthRate { per_input, residual_weighted }
}

/// `r0 = alpha h(w0) - y`, or `-y` for the centred model, as `certify::InitialState`, with
/// `h(w0)` from the shared forward pass.
fn initial_residual(problem: &Problem, forward: &local::Forward) -> Vec<Interval> {
    let alpha = problem.alpha.enclosure;
    match (problem.centred, forward.outputs()) {
        (true, _) => problem.targets.iter().map(|&y| -y).collect(),
        (false, Some(h)) => h.iter().zip(&problem.targets).map(|(&h, &y)| alpha * h - y).collect(),
        (false, None) => InitialState::new(problem).residual,
    }
}

/// Computes the certified constants and bounds F3-F6 (proofs: `proofs/theory-f5-f6.md`,
/// `proofs/theory-local-constant.md`). Costs one interval forward pass over the inputs plus
/// `O(p)` work (no Jacobian).
pub fn theory_bounds(problem: &Problem) -> TheoryBounds {
    let started = std::time::Instant::now();
    let alpha = problem.alpha.enclosure;
    let horizon = problem.horizon.enclosure;
    let forward = local::Forward::new(problem);
    // R0 = |r0|^2/2.
    let residual = initial_residual(problem, &forward);
    let r0 = residual.iter().fold(point(0.0), |acc, &r| acc + r.sqr()) * point(0.5);
    let lambda = problem.regularization.enclosure;
    let regularised = problem.regularization.value.is_positive();
    // horizon = "inf": the claims are about all t >= 0, and `problem.horizon` is only the
    // settling time T1 of the certifier's integration, not a horizon of any bound: the reach
    // is the lambda-ball alone, and kappa (T = inf) is not finite. (The spec loader admits
    // "inf" only with the penalty.)
    let infinite = problem.infinite_horizon;
    let mut reach = if infinite { f64::INFINITY } else { ((horizon * r0).sqrt() / alpha).sup() };
    if regularised {
        // F8: the penalised objective decreases, so |w(t) - w0| <= sqrt(2 R0 / lambda) / alpha
        // for every t (proofs/theory-f8.md, Lemma D8).
        reach = reach.min(((point(2.0) * r0 / lambda).sqrt() / alpha).sup());
    }
    let mut region = local::layered_bounds_with(problem, &forward, reach);
    // The velocity form of F2 (`|w(t) - w0| <= t Lip(h) sqrt(2 R0)/alpha`, Lip(h) over the ball
    // just used, which contains the trajectory) is smaller for short horizons: then every
    // constant is taken over that smaller ball (proofs/theory-f1-f2.md#f2). (Plain flow only.)
    let velocity = (horizon * point(region.bounds.gradient_total()) * (point(2.0) * r0).sqrt() / alpha).sup();
    if problem.reference_order >= 2 {
        return taylor_order_bounds(problem, &forward, &residual, r0, reach, region, started);
    }
    if velocity < reach && !regularised {
        reach = velocity;
        region = local::layered_bounds_with(problem, &forward, reach);
    }
    let mut lip_h = region.bounds.gradient_total();
    let mut lip_dh = region.bounds.hessian_total();
    let mut lip_dh_box = region.box_bounds.hessian_total();
    if let Some(d) = problem.descent() {
        let gd = descent_bounds(problem, &forward, &residual, r0, d);
        if let Some((ball, h, l, lb)) = gd.report.last_ball {
            (reach, lip_h, lip_dh, lip_dh_box) = (ball, h, l, lb);
        }
        if let Ok(region) = &gd.report.region {
            (reach, lip_h, lip_dh, lip_dh_box) = (region.ball, region.lip_h, region.lip_dh, region.lip_dh_box);
        }
        return TheoryBounds {
            r0,
            reach,
            lip_h,
            lip_dh_local: lip_dh,
            lip_dh_box,
            kappa: horizon * point(lip_dh) * r0.sqrt() / alpha,
            growth_rate: growth_rate_at_w0(problem, &forward, &residual),
            bounds: gd.bounds,
            unavailable: gd.unavailable,
            descent: Some(gd.report),
            taylor: None,
            seconds: started.elapsed().as_secs_f64(),
        };
    }
    let l = point(lip_dh);
    let sqrt_r0 = r0.sqrt();
    let kappa = horizon * l * sqrt_r0 / alpha;
    // T = inf: kappa = T L sqrt(R0)/alpha is infinite; its value at T1 is only a lower end.
    let kappa = if infinite { Interval::try_from((kappa.inf(), f64::INFINITY)).unwrap_or(Interval::ENTIRE) } else { kappa };
    let trivial = (point(8.0) * r0).sqrt().sup();
    let mut bounds = vec![NamedBound {
        key: "trivial",
        name: "F3 trivial bound",
        formula: "sqrt(8 R0)",
        proof: if regularised { "proofs/theory-f8.md#f3" } else { "proofs/theory-f5-f6.md#f3" },
        value: trivial,
    }];
    if regularised {
        // F4-F6 are proved for the plain gradient flow; with the penalty F3 and F8 hold.
        bounds.push(NamedBound {
            key: "regularized",
            name: "F8 regularised, uniform in time (derived here)",
            formula: if infinite {
                "min((4 + sqrt(2 pi/e)) L_loc R0 / (alpha lambda), sqrt(8 R0)), L_loc on B(w0, sqrt(2 R0/lambda)/alpha): a bound of sup_(t>=0) D(t)"
            } else {
                "min((4 + sqrt(2 pi/e)) L_loc R0 / (alpha lambda), sqrt(8 R0)), L_loc on B(w0, min(sqrt(T R0), sqrt(2 R0/lambda))/alpha)"
            },
            proof: "proofs/theory-f8.md#f8",
            value: (regularized_constant() * l * r0 / (alpha * lambda)).sup().min(trivial),
        });
    } else {
        bounds.extend([
            NamedBound {
                key: "published",
                name: "F4 published (Boix-Adsera & Littwin 2023, constant as recalled in MATH.md)",
                formula: "min(6 kappa sqrt(R0), sqrt(8 R0)), kappa = T L_loc sqrt(R0)/alpha",
                proof: "proofs/theory-f5-f6.md#f4",
                value: (point(6.0) * kappa * sqrt_r0).sup().min(trivial),
            },
            NamedBound {
                key: "sharpened",
                name: "F5 sharpened constant (derived, not published)",
                formula: "min((1/sqrt 2 + pi/(2 sqrt e)) kappa sqrt(R0), sqrt(8 R0))",
                proof: "proofs/theory-f5-f6.md#f5",
                value: (sharpened_constant() * kappa * sqrt_r0).sup().min(trivial),
            },
            NamedBound {
                key: "gronwall_t2",
                name: "F6 O(T^2) comparator (elementary Gronwall in the style of Chizat et al.; not their constant)",
                formula: "2 Lip(h)^2 L_loc R0 T^2 / alpha",
                proof: "proofs/theory-f5-f6.md#f6",
                value: (point(2.0) * point(lip_h).sqr() * l * r0 * horizon.sqr() / alpha).sup(),
            },
        ]);
    }
    TheoryBounds {
        r0,
        reach,
        lip_h,
        lip_dh_local: lip_dh,
        lip_dh_box,
        kappa,
        growth_rate: growth_rate_at_w0(problem, &forward, &residual),
        bounds,
        unavailable: Vec::new(),
        descent: None,
        taylor: None,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// [`theory_bounds`] for `reference_order = Q >= 2` (gradient flow on a finite horizon, MLPs):
/// F3 (both flows decrease their losses from `R0`) and F10 (`taylor`); F4-F6 and F8 are about
/// the linearisation and are reported unavailable. `reach` is F2's (with the penalty's form),
/// valid for both flows; `region` holds the network's constants over it.
fn taylor_order_bounds(
    problem: &Problem,
    forward: &local::Forward,
    residual: &[Interval],
    r0: Interval,
    reach: f64,
    region: local::LayeredBounds,
    started: std::time::Instant,
) -> TheoryBounds {
    let q = problem.reference_order;
    let alpha = problem.alpha.enclosure;
    let trivial = (point(8.0) * r0).sqrt().sup();
    let report = taylor::taylor_order_report(problem, q, taylor::residual_norm(r0), reach);
    let mut bounds = vec![NamedBound { key: "trivial", name: "F3 trivial bound", formula: "sqrt(8 R0)", proof: "proofs/theory-f5-f6.md#f3", value: trivial }];
    if let Some(t) = &report {
        bounds.push(NamedBound {
            key: "taylor_order",
            name: "F10 order-Q Taylor model (derived here)",
            formula: "min(alpha E0 + alpha G_Q gap, sqrt(8 R0)), gap = (E1 |r0|/alpha + G_Q E0) (e^(mu_Q T) - 1)/mu_Q from gap = 2 rho while it shrinks, mu_Q = (|r0| + alpha G_Q gap) H_Q/alpha - lambda, E0 = beta_(Q+1) rho^(Q+1)/(Q+1)!, E1 = beta_(Q+1) rho^Q/Q!",
            proof: "proofs/taylor-models.md#lemma-f10",
            value: t.value.min(trivial),
        });
    }
    let about_linearisation = |key: &'static str, name: &'static str, proof: &'static str| Unavailable {
        key,
        name,
        proof,
        reason: format!("bounds the deviation from the NTK linearisation; with reference_order = {q} the deviation is from the order-{q} model (F10)"),
    };
    TheoryBounds {
        r0,
        reach,
        lip_h: region.bounds.gradient_total(),
        lip_dh_local: region.bounds.hessian_total(),
        lip_dh_box: region.box_bounds.hessian_total(),
        kappa: problem.horizon.enclosure * point(region.bounds.hessian_total()) * r0.sqrt() / alpha,
        growth_rate: growth_rate_at_w0(problem, forward, residual),
        bounds,
        unavailable: vec![
            about_linearisation("published", "F4 published", "proofs/theory-f5-f6.md#f4"),
            about_linearisation("sharpened", "F5 sharpened constant", "proofs/theory-f5-f6.md#f5"),
            about_linearisation("gronwall_t2", "F6 O(T^2) comparator", "proofs/theory-f5-f6.md#f6"),
        ],
        descent: None,
        taylor: report,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// The bounds of a gradient-descent problem.
struct DescentBounds {
    report: descent::DescentReport,
    bounds: Vec<NamedBound>,
    unavailable: Vec<Unavailable>,
}

const GD_NAME: &str = "F9 gradient descent, discrete analogue of F5 (derived here)";
const GD_FORMULA: &str = "min((L_loc R0/alpha) (T/(sqrt(2) c) + sqrt(2/c) eta S_K), sqrt(8 R0)), c = 1 - eta beta/2, S_K = sum_{m<K} phi_m sqrt(K-1-m), phi_m = max_{x in [0, eta lambda_max(K0)]} sqrt(x)|1-x|^m";
const GD_F3_NAME: &str = "F3 trivial bound (gradient descent: under the descent condition)";

/// F3 and F9 for gradient descent (`proofs/theory-f9.md`): `lambda_max(K0)` from the enclosed
/// `K0` (`enclose::linear::LinearFlow`, its `kernel_norm`: the Cholesky bound of `arith::spd`
/// and the Frobenius norm), Lemma D9's region, the kernel sum, the value. Without the region
/// (the step-size condition not established) neither F3 nor F9 is proved: both are reported as
/// unavailable with the reason. With the penalty only F3 is derived.
fn descent_bounds(problem: &Problem, forward: &local::Forward, residual: &[Interval], r0: Interval, d: &crate::problem::Descent) -> DescentBounds {
    let eta = d.learning_rate.enclosure;
    let lambda = problem.regularization.enclosure;
    let regularised = problem.regularization.value.is_positive();
    let lam_k0 = crate::enclose::linear::LinearFlow::new(problem, &problem.params0, residual).kernel_norm;
    let r0n = crate::arith::vector::norm2_upper(residual);
    let mut last_ball = None;
    let region = descent::descent_region(problem, forward, r0, r0n, lam_k0, eta, &mut last_ball);
    let x_max = (eta * point(lam_k0)).sup();
    let edge = (point(2.0) / (point(lam_k0) + lambda)).inf();
    let mut bounds = Vec::new();
    let mut unavailable = Vec::new();
    let mut kernel_sum = None;
    match &region {
        Ok(reg) => {
            let trivial = (point(8.0) * r0).sqrt().sup();
            bounds.push(NamedBound { key: "trivial", name: GD_F3_NAME, formula: "sqrt(8 R0)", proof: "proofs/theory-f9.md#f3", value: trivial });
            if regularised {
                unavailable.push(Unavailable {
                    key: "gradient_descent",
                    name: GD_NAME,
                    proof: "proofs/theory-f9.md#penalty",
                    reason: format!(
                        "F9 is derived for the unpenalised objective only (regularization lambda = {}); with the penalty only F3 is proved (under the same descent condition, which holds here)",
                        crate::arith::rational::rational_to_string(&problem.regularization.value)
                    ),
                });
            } else {
                let s = descent::kernel_sum_upper(x_max, d.iterations);
                kernel_sum = Some(s);
                bounds.push(NamedBound {
                    key: "gradient_descent",
                    name: GD_NAME,
                    formula: GD_FORMULA,
                    proof: "proofs/theory-f9.md#f9",
                    value: descent::gradient_descent_value(problem, r0, reg, eta, s).min(trivial),
                });
            }
        }
        Err(why) => {
            unavailable.push(Unavailable { key: "trivial", name: GD_F3_NAME, proof: "proofs/theory-f9.md#f3", reason: why.clone() });
            unavailable.push(Unavailable {
                key: "gradient_descent",
                name: GD_NAME,
                proof: if regularised { "proofs/theory-f9.md#penalty" } else { "proofs/theory-f9.md#f9" },
                reason: if regularised { format!("{why}; besides, F9 is derived for the unpenalised objective only") } else { why.clone() },
            });
        }
    }
    DescentBounds {
        report: descent::DescentReport {
            learning_rate: eta,
            iterations: d.iterations,
            lambda_max_k0: lam_k0,
            x_max: (eta * (point(lam_k0) + lambda)).sup(),
            edge,
            lambda,
            region,
            last_ball,
            kernel_sum,
        },
        bounds,
        unavailable,
    }
}

/// The F5-loss value (`proofs/theory-f5-f6.md#f5-loss`).
fn loss_decrease_bound(problem: &Problem, tb: &TheoryBounds, final_residual: &[Interval]) -> f64 {
    let trivial = tb.get("trivial").unwrap_or(f64::INFINITY);
    let rt_lower = point(norm2_lower(final_residual)).sqr() * point(0.5);
    // dR >= R0 - R(T) >= 0, upper.
    let dr = (tb.r0 - rt_lower).sup().max(0.0).min(tb.r0.sup());
    if !dr.is_finite() {
        return trivial;
    }
    let dr = point(dr);
    let alpha = problem.alpha.enclosure;
    let horizon = problem.horizon.enclosure;
    let reach = ((horizon * dr).sqrt() / alpha).sup();
    let region = local::layered_bounds_on_ball(problem, reach);
    let l = point(region.bounds.hessian_total().min(tb.lip_dh_local));
    let first = dr / point(2.0).sqrt();
    let second = second_part_constant() * (dr * tb.r0).sqrt();
    (horizon * l / alpha * (first + second)).sup().min(trivial)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regularized_constant_is_four_plus_sqrt_two_pi_over_e() {
        let c = regularized_constant();
        assert!(c.inf() > 5.5203 && c.sup() < 5.5205, "{c:?}");
        assert!(c.wid() < 1e-14);
    }

    #[test]
    fn sharpened_constant_matches_math_md() {
        let c = sharpened_constant();
        assert!(c.inf() > 1.6597 && c.sup() < 1.6599, "{c:?}");
        assert!(c.wid() < 1e-14);
        let s = second_part_constant();
        assert!(s.inf() > 0.9527 && s.sup() < 0.9528, "{s:?}");
    }
}
