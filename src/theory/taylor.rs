//! The order-`Q` Taylor model (`[training] reference_order = Q`, MATH.md F10): certified
//! remainders of `h_Q` over the reachable ball, a convergence radius of the power series around
//! `w0`, and an F5-style bound of `sup_{t<=T} D_Q(t)`,
//! `D_Q = |alpha g(w(t)) - alpha g_Q(w_Q(t))|`. Proof: `proofs/taylor-models.md`, Lemma F10.

use crate::arith::fast_interval::FastInterval;
use crate::model::bounds::root_sum_squares;
use crate::model::majorants::{analytic_radius, derivative_norms, derivative_norms_on_ball, taylor_model_bounds};
use crate::model::mlp::Mlp;
use crate::problem::{Architecture, Problem};
use inari::Interval;

type F = FastInterval;

/// What `bound` reports for the order-`Q` model.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TaylorOrderReport {
    /// `Q`.
    pub order: usize,
    /// `rho`: both flows stay in `B(w0, rho)` (F2 for each: `sqrt(T R0)/alpha`, with the penalty
    /// also `sqrt(2 R0/lambda)/alpha`).
    pub reach: f64,
    /// `E0 >= sup_{w in B} |h(w) - h_Q(w)|` (stacked outputs): `beta_{Q+1} rho^(Q+1)/(Q+1)!`.
    pub remainder: f64,
    /// `E1 >= sup_{w in B} |Dh(w) - Dh_Q(w)|`: `beta_{Q+1} rho^Q / Q!`.
    pub gradient_remainder: f64,
    /// A lower bound of the radius around `w0` within which the power series of every output
    /// converges (`f64::INFINITY`: entire).
    pub convergence_radius: f64,
    /// `G_Q >= sup_B |Dh_Q|` and `H_Q >= sup_B |D^2 h_Q|` (Lemma G with `V = rho`).
    pub model_gradient: f64,
    pub model_hessian: f64,
    /// `mu_Q`: the one-sided Lipschitz bound of the model's field on the segments between the
    /// two flows (`lambda` subtracted), at the last gap.
    pub growth: f64,
    /// The F10 bound of `sup_{t<=T} D_Q(t)` (before the minimum with F3).
    pub value: f64,
}

/// Lemma F10 of `proofs/taylor-models.md` for an MLP (`None` otherwise): with `E0`, `E1`,
/// `G = G_Q`, `mu = mu_Q` as in [`TaylorOrderReport`] and `phi(mu, T) = (e^(mu T) - 1)/mu`
/// (`T` at `mu <= 0`),
/// `sup_{t<=T} D_Q(t) <= alpha E0 + alpha G gap` with `gap >= sup_t |w(t) - w_Q(t)|`: starting
/// from `2 rho`, `gap <- (E1 |r0| / alpha + G E0) phi(mu(gap), T)` while it shrinks, where
/// `mu(gap) = (|r0| + alpha G gap) H_Q / alpha - lambda`. `r0_norm >= |r0|`, `reach >= rho`.
pub fn taylor_order_report(problem: &Problem, q: usize, r0_norm: f64, reach: f64) -> Option<TaylorOrderReport> {
    let Architecture::Mlp(arch) = &problem.architecture else { return None };
    let net = Mlp::<FastInterval>::new(arch, &problem.inputs);
    let w0 = &problem.params0;
    let at_w0 = derivative_norms(&net, w0, q);
    let model = taylor_model_bounds(&at_w0, q, reach);
    let top = derivative_norms_on_ball(&net, w0, reach, q + 1);
    let beta = F::point(root_sum_squares(&top[q]));
    let rho = F::point(reach);
    let factorial = (1..=q).fold(F::point(1.0), |acc, k| acc * F::point(k as f64));
    let rho_q = (0..q).fold(F::point(1.0), |acc, _| acc * rho);
    let e1 = beta * rho_q / factorial;
    let e0 = beta * rho_q * rho / (factorial * F::point((q + 1) as f64));
    let alpha = F::from_inari(problem.alpha.enclosure);
    let g = F::point(model.gradient_total());
    let h = F::point(model.hessian_total());
    let r0 = F::point(r0_norm);
    let lambda = F::from_inari(problem.regularization.enclosure);
    let horizon = F::from_inari(problem.horizon.enclosure);
    // gap >= sup_t |w(t) - w_Q(t)|: 2 rho at first (both in B), then each bound proved with the
    // growth rate of the last one (the segment [w, w_Q] stays within `gap` of w_Q, where
    // |r_Q| <= |r0|), while it shrinks.
    let mut gap = F::point(2.0) * rho;
    let mut mu = F::ZERO;
    for _ in 0..16 {
        mu = (r0 + alpha * g * gap) * h / alpha - lambda;
        let next = (e1 * r0 / alpha + g * e0) * growth_integral(mu.hi, horizon);
        if !(next.hi < gap.hi) {
            break;
        }
        gap = F::point(next.hi);
    }
    let value = alpha * e0 + alpha * g * gap;
    Some(TaylorOrderReport {
        order: q,
        reach,
        remainder: e0.hi,
        gradient_remainder: e1.hi,
        convergence_radius: analytic_radius(&net, w0),
        model_gradient: g.hi,
        model_hessian: h.hi,
        growth: mu.hi,
        value: value.hi,
    })
}

/// An upper bound of `(e^(mu T) - 1)/mu` (`T` for `mu <= 0`, where the quotient is at most `T`).
fn growth_integral(mu: f64, horizon: F) -> F {
    if mu <= 0.0 {
        return F::point(horizon.hi);
    }
    let m = F::point(mu);
    // (e^x - 1)/mu is increasing in mu; e^x - 1 >= x keeps the quotient's enclosure valid.
    (crate::arith::elementary::exp(m * horizon) - F::point(1.0)) / m
}

/// `|r0|` from the enclosure of `R0 = |r0|^2/2` (upper).
pub fn residual_norm(r0: Interval) -> f64 {
    crate::arith::scalar::Scalar::sqrt(F::point(2.0) * F::from_inari(r0)).hi
}
