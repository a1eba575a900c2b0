//! The validated integrator of the true gradient flow: high-order Taylor steps from a point,
//! an a-priori enclosure by the high-order enclosure test, a Lagrange remainder over it, and
//! the propagation of the initial uncertainty by the logarithmic norm of the flow's Jacobian,
//! which for a gradient flow is bounded through the Gauss-Newton split of the Hessian.
//! Proof: `proofs/tube-integrator.md`.
//!
//! Invariant of a step from `t_k`: `w(t_k)` lies in the 2-norm ball `B(centre, radius)`. With
//! `u(s)` the exact solution through `centre`, the step proves, for all `s in [0, h]`,
//! `u(s) in sum_{j<=q} u_j s^j + U_{q+1} s^{q+1}` (interval coefficients) and
//! `|w(t_k + s) - u(s)| <= tube_radius`.

use super::poly;
use crate::arith::ball::Ball;
use crate::arith::elementary;
use crate::arith::fast_interval::FastInterval;
use crate::arith::scalar::Scalar;
use crate::model::ball_vec::BallVec;
use crate::model::coeffs::CoeffVec;
use crate::model::bounds::{derivative_bounds, DerivativeBounds, HiddenActivations};
use crate::model::curvature::residual_hessian_upper;
use crate::model::flow::{Expansion, GradientFlow};
use crate::model::mlp::Mlp;
use crate::problem::{Architecture, Problem};
use inari::Interval;

/// The certified content of one step.
#[derive(Debug, Clone)]
pub struct TubeStep {
    /// Encloses the step length `h`; the step's statements hold for `s in [0, step.sup()]`.
    pub step: Interval,
    /// Same for the network outputs `h(u(s))` (stacked, not centred, not scaled).
    pub outputs: Vec<Vec<Interval>>,
    /// `|w(t_k + s) - u(s)| <= tube_radius` for `s in [0, h]`.
    pub tube_radius: f64,
    /// Upper bound of the logarithmic norm of `DF` over the tube.
    pub mu: f64,
    /// Derivative bounds over the tube (for `|h(w) - h(u)| <= gradient * tube_radius`).
    pub bounds: DerivativeBounds,
    /// The ball containing `w(t_k + h)`.
    pub next_centre: Vec<f64>,
    pub next_radius: f64,
    /// When the remainder exceeded its target but stayed within the accepted slack: the
    /// factor by which the next proposals should shrink.
    pub remainder_shrink: Option<f64>,
}

/// Why a step was rejected; the caller shrinks the step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rejection {
    /// The high-order enclosure test failed for every candidate box.
    Enclosure,
    /// `radius exp(mu h)` exceeded the tube radius `2 radius` assumed for `mu` (carried): a
    /// step below `ln 2 / mu` may pass.
    TubeGrowth(f64),
    /// The remainder was too large; shrink by this factor.
    Remainder(f64),
}

/// Step-size targets: the remainder terms should not exceed these (absolute) sizes.
#[derive(Debug, Clone, Copy)]
pub struct Tolerances {
    pub params: f64,
    /// For `alpha * h(u(s))`.
    pub outputs: f64,
}

/// Boxes up to this relative spread are expanded in balls. Measured: on the benchmarks (largest
/// relative spread 1.2e-3) balls take 21-28% fewer instructions per run than endpoint intervals
/// and give about the same outputs (small 4.28e-12 against 4.35e-12); on the far-from-lazy
/// random reference problems balls on every box made inconclusive runs 4-50x longer (the
/// steps shrank), while with this threshold they behave as with endpoint intervals.
const BALL_BOX_MAX_SPREAD: f64 = 1e-2;
/// A remainder up to this many times its target is accepted (the next proposals shrink).
const REMAINDER_SLACK: f64 = 16.0;

pub struct TubeIntegrator<'a> {
    problem: &'a Problem,
    /// The vector field in midpoint-radius arithmetic (`arith::ball`: about 1.8x fewer
    /// instructions than endpoint intervals), for the expansion through a point, where every
    /// quantity is thin; results are converted to inari intervals (supersets). Stored as
    /// separate midpoint and radius arrays ([`BallVec`]) so that its loops vectorise.
    flow: GradientFlow<BallVec>,
    /// The same in endpoint intervals, for the expansion over wide a-priori boxes: there the
    /// balls overestimate, and steps collapsed on far-from-lazy problems.
    box_flow: GradientFlow<Vec<FastInterval>>,
    offset: Option<Vec<Interval>>,
    /// The network in inari intervals, for the residual-weighted Hessian bound of `mu`.
    net: Option<Mlp<Interval>>,
    order: usize,
    /// The a-priori box of the last new box expansion, tried first by the next attempt.
    last_box: Option<AprioriBox>,
}

impl<'a> TubeIntegrator<'a> {
    /// `offset`: enclosure of `h(w0)` for the centred model.
    pub fn new(problem: &'a Problem, offset: Option<Vec<Interval>>, order: usize) -> Self {
        let flow = GradientFlow::new(problem, offset.as_deref());
        let box_flow = GradientFlow::new(problem, offset.as_deref());
        let net = match &problem.architecture {
            Architecture::Mlp(arch) => Some(Mlp::new(arch, &problem.inputs)),
            Architecture::Quadratic(_) => None,
        };
        TubeIntegrator { problem, flow, box_flow, offset, net, order, last_box: None }
    }

    pub fn alpha(&self) -> Interval {
        self.problem.alpha.enclosure
    }

    /// The Taylor expansion through every point of the box `start`, as inari intervals, and the
    /// hidden activations over the box (its order-0 pass). Thin boxes (largest width at most
    /// [`BALL_BOX_MAX_SPREAD`] times the largest magnitude) go through the balls, wider ones
    /// through endpoint intervals. Both are enclosures; the choice is about cost and width only.
    fn expand_box(&mut self, start: &[Interval], order: usize) -> (Expansion<Vec<Interval>>, Option<HiddenActivations>) {
        let spread = start.iter().map(|v| v.wid()).fold(0.0, f64::max);
        let size = start.iter().map(|v| v.mag()).fold(0.0, f64::max);
        if spread <= BALL_BOX_MAX_SPREAD * size {
            let balls = BallVec::from_scalars(&start.iter().map(|&v| Ball::from_interval(v)).collect::<Vec<_>>());
            let expansion = self.flow.expand(&balls, order).to_intervals();
            return (expansion, intervals(self.flow.start_activations()));
        }
        let start: Vec<FastInterval> = start.iter().map(|&v| FastInterval::from_inari(v)).collect();
        let e = self.box_flow.expand(&start, order);
        (e.to_intervals(), intervals(self.box_flow.start_activations()))
    }

    /// Taylor coefficients of the solution through the point `centre` (orders `0..=q+1`).
    pub fn point_expansion(&mut self, centre: &[f64]) -> Expansion<Vec<Interval>> {
        let start = BallVec { mid: centre.to_vec(), rad: vec![0.0; centre.len()] };
        self.flow.expand(&start, self.order).to_intervals()
    }

    /// A step length for which the last terms of the point series are below the tolerances.
    pub fn propose_step(&self, expansion: &Expansion<Vec<Interval>>, tol: Tolerances) -> f64 {
        expansion.step_for(self.order, self.alpha().sup(), tol.params, tol.outputs)
    }

    /// An enclosure of the residual `alpha (h - offset) - y` over the outputs' enclosure `h`
    /// (endpoint arithmetic, `proofs/fast-interval.md`).
    fn residual_enclosure(&self, outputs: &[Interval]) -> Vec<FastInterval> {
        let alpha = FastInterval::from_inari(self.alpha());
        outputs
            .iter()
            .enumerate()
            .map(|(i, &h)| {
                let h = FastInterval::from_inari(h);
                let g = match &self.offset {
                    Some(off) => h - FastInterval::from_inari(off[i]),
                    None => h,
                };
                alpha * g - FastInterval::from_inari(self.problem.targets[i])
            })
            .collect()
    }

    /// `mu` over the tube (Lemma 3 of `proofs/tube-integrator.md`): the minimum of
    /// `|r| sup|D^2 h| / alpha` and, for an MLP, `H / alpha` with `H` the residual-weighted
    /// Hessian bound (`proofs/residual-hessian.md`), both upper bounds of the log norm.
    fn log_norm_bound(&self, tube: &[Interval], outputs: &[Interval], bounds: &DerivativeBounds, hidden: Option<&HiddenActivations>) -> f64 {
        let residual = self.residual_enclosure(outputs);
        let alpha = FastInterval::from_inari(self.alpha());
        let per_input = (FastInterval::point(poly::norm2_upper(&residual)) * FastInterval::point(bounds.hessian_total()) / alpha).hi;
        let (Some(net), Some(hidden)) = (&self.net, hidden) else { return per_input };
        let residual: Vec<Interval> = residual.iter().map(|r| r.to_inari()).collect();
        let weighted = residual_hessian_upper(net, hidden, tube, &residual);
        per_input.min((FastInterval::point(weighted) / alpha).hi)
    }

    /// Attempts the step `[t_k, t_k + h]` from the ball `B(centre, radius)`, given the point
    /// expansion through `centre`. The a-priori box of an earlier attempt or step is tried
    /// first (Lemma 5 of the proof: every test is redone for this step); a new box is expanded
    /// only when that fails.
    pub fn try_step(
        &mut self,
        centre: &[f64],
        radius: f64,
        expansion: &Expansion<Vec<Interval>>,
        h: Interval,
        tol: Tolerances,
    ) -> Result<TubeStep, Rejection> {
        let q = self.order;
        // Series evaluations run in endpoint intervals (`enclose::poly`, lemma E: s >= 0).
        let series_range = poly::horner(&expansion.params[..=q], FastInterval { lo: 0.0, hi: h.sup() });
        let h_pow = poly::pow_nonneg(FastInterval::point(h.sup()), q as u32 + 1).hi;
        if let Some(reused) = &self.last_box {
            if reused.encloses(&series_range, h_pow, q) {
                if let Ok(step) = self.finish_step(reused, centre, radius, expansion, h, h_pow, tol) {
                    return Ok(step);
                }
            }
        }
        let fresh = self.new_box(centre, radius, expansion, &series_range, h, h_pow)?;
        let step = self.finish_step(&fresh, centre, radius, expansion, h, h_pow, tol);
        self.last_box = Some(fresh);
        step
    }

    /// A verified a-priori box for the step (Lemma 1), with `mu` and the derivative bounds over
    /// its tube (Lemma 3). The candidate is guessed from the point series over
    /// `[0, BOX_REACH h]`, so that the next step can usually reuse the box.
    fn new_box(
        &mut self,
        centre: &[f64],
        radius: f64,
        expansion: &Expansion<Vec<Interval>>,
        series_range: &[FastInterval],
        h: Interval,
        h_pow: f64,
    ) -> Result<AprioriBox, Rejection> {
        let q = self.order;
        // Tube half-width assumed when bounding mu; verified in `finish_step`.
        let guard = 2.0 * radius;
        let guard_box = FastInterval { lo: -guard, hi: guard };
        // 1. A-priori enclosure B of u([0, h]) by the high-order test: if
        //    sum_{j<=q} u_j [0,h]^j + [0,h]^{q+1} U_{q+1}(B) lies in the interior of B, the
        //    solution exists on [0, h] and stays in B (proofs/tube-integrator.md, Lemma 1).
        // The candidate is any box (a heuristic guess); only the test below matters.
        let reach = poly::horner(&expansion.params[..=q], FastInterval { lo: 0.0, hi: BOX_REACH * h.sup() });
        let mut candidate: Vec<FastInterval> = reach
            .iter()
            .zip(centre)
            .map(|(r, &c)| {
                let pad = 0.05 * (r.hi - r.lo) + 8.0 * f64::EPSILON * c.abs() + f64::MIN_POSITIVE;
                FastInterval { lo: r.lo - pad, hi: r.hi + pad }
            })
            .collect();
        for _ in 0..4 {
            // Outward, so that every point within `guard` of the candidate is in the tube.
            let tube: Vec<Interval> = candidate.iter().map(|&b| (b + guard_box).to_inari()).collect();
            let (remainder, hidden) = self.expand_box(&tube, q + 1);
            let enclosure = lagrange_enclosure(series_range, &remainder.params[q + 1], h_pow);
            // Interior: strict inequalities (false for NaN).
            if inside(&enclosure, &candidate) {
                // 2. mu >= lambda_max(DF) over the tube (Gauss-Newton split, Lemma 3).
                let bounds = derivative_bounds(self.problem, &tube, hidden.as_ref());
                let mu = self.log_norm_bound(&tube, &remainder.outputs[0], &bounds, hidden.as_ref());
                return Ok(AprioriBox { candidate, guard, remainder, bounds, mu });
            }
            if enclosure.iter().any(|e| !(e.lo.is_finite() && e.hi.is_finite())) {
                break;
            }
            candidate = candidate
                .iter()
                .zip(&enclosure)
                .map(|(b, e)| {
                    let (lo, hi) = (b.lo.min(e.lo), b.hi.max(e.hi));
                    let pad = 0.1 * (hi - lo) + f64::MIN_POSITIVE;
                    FastInterval { lo: lo - pad, hi: hi + pad }
                })
                .collect();
        }
        Err(Rejection::Enclosure)
    }

    /// The step from the ball `B(centre, radius)` inside the verified box `b` (whose Lemma 1
    /// test the caller has passed for this step): the tube radius (Lemma 4), the remainder's
    /// size, the next ball.
    #[allow(clippy::too_many_arguments)]
    fn finish_step(
        &self,
        b: &AprioriBox,
        centre: &[f64],
        radius: f64,
        expansion: &Expansion<Vec<Interval>>,
        h: Interval,
        h_pow: f64,
        tol: Tolerances,
    ) -> Result<TubeStep, Rejection> {
        let q = self.order;
        let growth = elementary::exp(FastInterval::point(b.mu) * FastInterval::point(h.sup()));
        // e = 0: the solution is u itself (Lemma 4), whatever the growth factor.
        let tube_radius = if radius == 0.0 { 0.0 } else { (FastInterval::point(radius) * growth).hi };
        if radius > 0.0 && !(tube_radius < b.guard) {
            return Err(Rejection::TubeGrowth(b.mu));
        }

        // 3. The Lagrange remainders must be small enough to keep the step accurate.
        let remainder = &b.remainder;
        let param_rem = max_magnitude(&remainder.params[q + 1]) * h_pow;
        let output_rem = self.alpha().sup() * max_magnitude(&remainder.outputs[q + 1]) * h_pow;
        let excess = (param_rem / (16.0 * tol.params)).max(output_rem / (16.0 * tol.outputs));
        let shrink = |excess: f64| (1.0 / excess).powf(1.0 / (q + 1) as f64).clamp(0.1, 0.8);
        if excess > REMAINDER_SLACK || !excess.is_finite() {
            return Err(Rejection::Remainder(if excess.is_finite() { shrink(excess) } else { 0.5 }));
        }
        let remainder_shrink = (excess > 1.0).then(|| shrink(excess));

        // The next ball: u(h) in c + [h] sum_{1<=j<=q+1} U_j [h]^{j-1} (Horner with V = U_{q+1} on
        // top; u_0 = c exactly), re-centred by an exact TwoSum (`poly::advance`).
        let hi = FastInterval::from_inari(h);
        let rows: Vec<&[Interval]> =
            expansion.params[1..=q].iter().chain(std::iter::once(&remainder.params[q + 1])).map(|v| v.as_slice()).collect();
        let increment: Vec<FastInterval> =
            poly::horner(&rows, hi).into_iter().map(|v| poly::mul_add_nonneg(v, hi, FastInterval::ZERO)).collect();
        let (next_centre, spread) = poly::advance(centre, &increment);
        let next_radius = (FastInterval::point(tube_radius) + FastInterval::point(spread)).hi;
        let mut outputs: Vec<Vec<Interval>> = expansion.outputs[..=q].to_vec();
        outputs.push(remainder.outputs[q + 1].clone());
        Ok(TubeStep { step: h, outputs, tube_radius, mu: b.mu, bounds: b.bounds.clone(), next_centre, next_radius, remainder_shrink })
    }
}

/// The candidate of a new a-priori box covers the point series over `[0, BOX_REACH h]`, so that
/// it usually contains the next step's trajectory as well and that step needs no expansion over
/// a box of its own (Lemma 5 of the proof).
const BOX_REACH: f64 = 2.0;

/// A verified a-priori box: Lemma 1's test passed for the step that built it. The tube is
/// `candidate + [-guard, guard]`; `remainder` is the expansion over the tube (its coefficient
/// `q + 1` is Lemma 1's `V`), `mu` and `bounds` hold over the tube (Lemma 3).
struct AprioriBox {
    candidate: Vec<FastInterval>,
    guard: f64,
    remainder: Expansion<Vec<Interval>>,
    bounds: DerivativeBounds,
    mu: f64,
}

impl AprioriBox {
    /// Lemma 1's test for a step with point series range `series_range` over `[0, h]` and
    /// `h^{q+1} <= h_pow`: the Lagrange enclosure lies in the interior of the candidate.
    fn encloses(&self, series_range: &[FastInterval], h_pow: f64, q: usize) -> bool {
        inside(&lagrange_enclosure(series_range, &self.remainder.params[q + 1], h_pow), &self.candidate)
    }
}

/// `sum_{j<=q} u_j [0,h]^j + [0, h_pow] V` per component (Lemma 1's `E`), from the range of the
/// series over `[0, h]` and `V`.
fn lagrange_enclosure(series_range: &[FastInterval], v: &[Interval], h_pow: f64) -> Vec<FastInterval> {
    let power_span = FastInterval { lo: 0.0, hi: h_pow };
    series_range.iter().zip(v).map(|(&r, &u)| poly::mul_add_nonneg(FastInterval::from_inari(u), power_span, r)).collect()
}

/// Every `e` strictly inside its `b` (false for NaN).
fn inside(e: &[FastInterval], b: &[FastInterval]) -> bool {
    e.iter().zip(b).all(|(e, b)| b.lo < e.lo && e.hi < b.hi)
}

/// Per-layer scalars as inari intervals (supersets).
fn intervals<S: Scalar>(layers: Option<Vec<Vec<S>>>) -> Option<HiddenActivations> {
    layers.map(|l| l.into_iter().map(|v| v.into_iter().map(Scalar::to_interval).collect()).collect())
}

/// The largest magnitude of the entries.
pub fn max_magnitude(v: &[Interval]) -> f64 {
    v.iter().map(|x| x.mag()).fold(0.0, f64::max)
}
