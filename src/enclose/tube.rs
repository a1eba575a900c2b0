//! The validated integrator of the true gradient flow by the defect method: a polynomial path
//! `P(s)` with exact float coefficients through the centre, its defect `P' - F(P)` enclosed from
//! the field's coefficients along the path and a Lagrange remainder over the step's interval of
//! base points, and the distance to every true solution bounded through the logarithmic norm of
//! the flow's Jacobian (Gauss-Newton split). Proof: `proofs/tube-integrator.md`.
//!
//! Invariant of a step from `t_k`: `w(t_k)` lies in the 2-norm ball `B(centre, radius)`. The step
//! proves, for all `s in [0, h]`, `|w(t_k + s) - P(s)| <= tube_radius` and
//! `h(P(s)) in sum_{j<=q} H_j s^j + W s^{q+1}` (interval coefficients).

use super::poly;
use crate::arith::ball::Ball;
use crate::arith::elementary;
use crate::arith::fast_interval::FastInterval;
use crate::arith::scalar::Scalar;
use crate::model::ball_vec::BallVec;
use crate::model::bounds::{derivative_bounds, DerivativeBounds, HiddenActivations};
use crate::model::coeffs::CoeffVec;
use crate::model::curvature::residual_hessian_upper;
use crate::model::flow::{Expansion, FieldExpansion, GradientFlow};
use crate::model::mlp::Mlp;
use crate::problem::{Architecture, Problem};
use inari::Interval;

/// The certified content of one step.
#[derive(Debug, Clone)]
pub struct TubeStep {
    /// Encloses the step length `h`; the step's statements hold for `s in [0, step.sup()]`.
    pub step: Interval,
    /// `H_0..H_q, W`: `h(P(s))` (stacked, not centred, not scaled) lies in
    /// `sum_{j<=q} H_j s^j + W s^{q+1}`.
    pub outputs: Vec<Vec<Interval>>,
    /// `|w(t_k + s) - P(s)| <= tube_radius` for `s in [0, h]` (Lemma 2's `E`).
    pub tube_radius: f64,
    /// Upper bound of the logarithmic norm of `DF` over the tube.
    pub mu: f64,
    /// Derivative bounds over the tube (for `|h(w) - h(P)| <= gradient * tube_radius`).
    pub bounds: DerivativeBounds,
    /// The ball containing `w(t_k + h)`.
    pub next_centre: Vec<f64>,
    pub next_radius: f64,
    /// When the remainder exceeded its target but stayed within the accepted slack: the
    /// factor by which the next proposals should shrink.
    pub remainder_shrink: Option<f64>,
    /// The step's additions to the tube radius (Lemma 2, before the growth factor): the
    /// truncation term `|C| H^{q+2} / (q+2)` and the defect terms `sum_k d_k H^{k+1} / (k+1)`
    /// (the path's rounding). Their ratio says whether shorter steps could narrow the tube.
    pub truncation: f64,
    pub defect: f64,
    /// The truncation term of the outputs, `alpha max|W| H^{q+1}`.
    pub output_truncation: f64,
}

/// Why a step was rejected; the caller shrinks the step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rejection {
    /// The tube radius `E` did not stay below the guard `G` assumed for `mu`, with the growth
    /// factor `exp(mu h)` at least 2 (carried: a step below `ln 2 / mu` may pass).
    TubeGrowth(f64),
    /// The remainder was too large; shrink by this factor.
    Remainder(f64),
}

/// Step-size targets: the remainder terms should not exceed these (absolute) sizes.
#[derive(Debug, Clone, Copy)]
pub struct Tolerances {
    pub params: f64,
    /// For `alpha * h(P(s))`.
    pub outputs: f64,
}

/// Tubes up to this relative spread are expanded in balls. Measured (with the a-priori boxes of
/// the earlier method, largest relative spread 1.2e-3 on the benchmarks): balls took 21-28%
/// fewer instructions than endpoint intervals for the same widths; on far-from-lazy problems
/// balls on wide boxes widened the enclosures and shrank the steps.
const BALL_BOX_MAX_SPREAD: f64 = 1e-2;
/// A remainder up to this many times its target is accepted (the next proposals shrink).
const REMAINDER_SLACK: f64 = 16.0;

/// The path through a centre (Lemma 0): its exact coefficients, the outputs along it and the
/// defect bounds of its low orders. It depends on the centre only; every attempted step length
/// reuses it.
pub struct CentrePath {
    /// `params` are `P_0..P_{q+1}` (exact floats); `outputs` the midpoints of `H_0..H_q` (for the
    /// step proposal only).
    pub approx: Expansion<Vec<f64>>,
    /// `H_0..H_q`: enclosures of the coefficients of `h(P(s))`.
    pub outputs: Vec<Vec<Interval>>,
    /// `d_k >= |(k+1) P_{k+1} - F(P(s))[k]|_2`, `k <= q`.
    pub defect: Vec<f64>,
}

pub struct TubeIntegrator<'a> {
    problem: &'a Problem,
    /// The vector field in midpoint-radius arithmetic (`arith::ball`: about 1.8x fewer
    /// instructions than endpoint intervals), for the pass along the point path, where every
    /// quantity is thin, and for thin tubes; results are converted to inari intervals
    /// (supersets). Stored as separate midpoint and radius arrays ([`BallVec`]) so that its
    /// loops vectorise.
    flow: GradientFlow<BallVec>,
    /// The same in endpoint intervals, for wide tubes, where balls overestimate.
    box_flow: GradientFlow<Vec<FastInterval>>,
    offset: Option<Vec<Interval>>,
    /// The network in inari intervals, for the residual-weighted Hessian bound of `mu`.
    net: Option<Mlp<Interval>>,
    order: usize,
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
        TubeIntegrator { problem, flow, box_flow, offset, net, order }
    }

    pub fn alpha(&self) -> Interval {
        self.problem.alpha.enclosure
    }

    /// The path through the point `centre` (Lemma 0): one pass in balls along the point path.
    pub fn centre_path(&mut self, centre: &[f64]) -> CentrePath {
        let q = self.order;
        let pass = self.flow.point_path(centre, q);
        let defect = (0..=q)
            .map(|k| {
                // (k+1) P_{k+1} - A_k, outward (balls), then its 2-norm rounded up.
                let scale = Ball::exact((k + 1) as f64);
                let field = &pass.field[k];
                let d: Vec<Ball> =
                    pass.path[k + 1].iter().enumerate().map(|(i, &p)| scale * Ball::exact(p) - field.get(i)).collect();
                poly::norm2_upper(&d.iter().map(|b| b.to_interval()).collect::<Vec<_>>())
            })
            .collect();
        let outputs: Vec<Vec<Interval>> = pass.outputs.iter().map(CoeffVec::to_intervals).collect();
        let approx = Expansion { params: pass.path, outputs: pass.outputs.iter().map(|o| o.mid.clone()).collect() };
        CentrePath { approx, outputs, defect }
    }

    /// A step length for which the last terms of the path's series are below the tolerances
    /// (a heuristic; the step verifies its remainder).
    pub fn propose_step(&self, path: &CentrePath, tol: Tolerances) -> f64 {
        path.approx.step_for(self.order, self.alpha().sup(), tol.params, tol.outputs)
    }

    /// The field and outputs along the path with coefficients `tube, rest[0], rest[1], ...`
    /// up to order `order` (`GradientFlow::along`, section 6 of `taylor-recurrences.md`), as
    /// inari intervals, and the hidden activations over the box `tube` (the order-0 pass). Thin
    /// tubes (largest width at most [`BALL_BOX_MAX_SPREAD`] times the largest magnitude) go
    /// through the balls, wider ones through endpoint intervals: both are enclosures.
    fn along_tube(&mut self, tube: &[FastInterval], rest: &[Vec<FastInterval>], order: usize) -> (FieldExpansion<Vec<Interval>>, Option<HiddenActivations>) {
        let spread = tube.iter().map(|v| v.hi - v.lo).fold(0.0, f64::max);
        let size = tube.iter().map(|v| v.lo.abs().max(v.hi.abs())).fold(0.0, f64::max);
        let coefficients = std::iter::once(tube).chain(rest.iter().map(|v| v.as_slice()));
        if spread <= BALL_BOX_MAX_SPREAD * size {
            let path: Vec<BallVec> = coefficients
                .map(|v| BallVec::from_scalars(&v.iter().map(|x| Ball::from_interval(x.to_inari())).collect::<Vec<_>>()))
                .collect();
            let pass = self.flow.along(&path, order).to_intervals();
            return (pass, intervals(self.flow.start_activations()));
        }
        let path: Vec<Vec<FastInterval>> = coefficients.map(|v| v.to_vec()).collect();
        let pass = self.box_flow.along(&path, order).to_intervals();
        (pass, intervals(self.box_flow.start_activations()))
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

    /// `mu` over the tube (Lemma 3 of `proofs/tube-integrator.md`): [`loss_curvature`]
    /// (Self::loss_curvature) minus `lambda` with the penalty.
    fn log_norm_bound(&self, tube: &[Interval], outputs: &[Interval], bounds: &DerivativeBounds, hidden: Option<&HiddenActivations>) -> f64 {
        let loss_part = self.loss_curvature(tube, outputs, bounds, hidden);
        // The penalty's Hessian is lambda I: DF drops by lambda (Lemma 3).
        let lambda = self.problem.regularization.enclosure.inf();
        if lambda > 0.0 {
            (FastInterval::point(loss_part) - FastInterval::point(lambda)).hi
        } else {
            loss_part
        }
    }

    /// An upper bound of `sup |(1/alpha) sum_i r_i D^2 h_i(w)[v, v]|` over unit `v` and `w` in
    /// the box `region` (both signs: it bounds the spectral norm of the residual-weighted part
    /// of `Hess F`): the minimum of `|r| sup|D^2 h| / alpha` and, for an MLP, `H / alpha` with
    /// `H` the residual-weighted Hessian bound (`proofs/residual-hessian.md`). `outputs`
    /// encloses `h` over the box.
    fn loss_curvature(&self, region: &[Interval], outputs: &[Interval], bounds: &DerivativeBounds, hidden: Option<&HiddenActivations>) -> f64 {
        let residual = self.residual_enclosure(outputs);
        let alpha = FastInterval::from_inari(self.alpha());
        let per_input = (FastInterval::point(poly::norm2_upper(&residual)) * FastInterval::point(bounds.hessian_total()) / alpha).hi;
        match (&self.net, hidden) {
            (Some(net), Some(hidden)) => {
                let residual: Vec<Interval> = residual.iter().map(|r| r.to_inari()).collect();
                let weighted = residual_hessian_upper(net, hidden, region, &residual);
                per_input.min((FastInterval::point(weighted) / alpha).hi)
            }
            _ => per_input,
        }
    }

    /// An enclosure of the field `F = -grad F` (with the penalty) at every point of the box
    /// `region` (one order-0 pass over it).
    pub fn field_over(&mut self, region: &[FastInterval]) -> Vec<Interval> {
        let (over, _) = self.along_tube(region, &[], 0);
        over.field[0].clone()
    }

    /// `lambda`'s lower end (0 without the penalty).
    pub fn lambda_lower(&self) -> f64 {
        self.problem.regularization.enclosure.inf().max(0.0)
    }

    /// Bounds over the box `region` (one order-0 pass over it): the outputs `h` (not centred,
    /// not scaled), the derivative bounds of `model::bounds` and [`loss_curvature`]
    /// (Self::loss_curvature) (without the penalty). Used by the gradient-descent enclosure
    /// (`enclose::descent`).
    pub fn region_bounds(&mut self, region: &[FastInterval]) -> RegionBounds {
        let (over, hidden) = self.along_tube(region, &[], 0);
        let region: Vec<Interval> = region.iter().map(|b| b.to_inari()).collect();
        let bounds = derivative_bounds(self.problem, &region, hidden.as_ref());
        let loss_curvature = self.loss_curvature(&region, &over.outputs[0], &bounds, hidden.as_ref());
        RegionBounds { outputs: over.outputs[0].clone(), bounds, loss_curvature }
    }

    /// Attempts the step `[t_k, t_k + h]` from the ball `B(centre, radius)` along the path
    /// through `centre` (`path`, from [`centre_path`](Self::centre_path) at the same centre):
    /// Lemmas 1-3 over a tube, with the guard of the proof's section "The guard", then the
    /// next ball.
    pub fn try_step(&mut self, centre: &[f64], radius: f64, path: &CentrePath, h: Interval, tol: Tolerances) -> Result<TubeStep, Rejection> {
        let q = self.order;
        let big_h = FastInterval::point(h.sup());
        let shifted = poly::taylor_shift(&path.approx.params, FastInterval { lo: 0.0, hi: h.sup() });
        // e + sum_k d_k H^{k+1} / (k+1): the start ball and the low orders' share of the defect.
        let mut known = FastInterval::point(radius);
        for (k, &d) in path.defect.iter().enumerate() {
            known = known + FastInterval::point(d) * poly::pow_nonneg(big_h, k as u32 + 1) / FastInterval::point((k + 1) as f64);
        }
        let h_pow = poly::pow_nonneg(big_h, q as u32 + 1);
        let top = poly::norm2_upper(&path.approx.params[q + 1].iter().map(|&x| FastInterval::point(x)).collect::<Vec<_>>());
        let guess = (FastInterval::point(2.0) * (known + FastInterval::point(top) * h_pow)).hi + f64::MIN_POSITIVE;
        let mut tube = self.tube(&shifted, guess, known, h.sup());
        if !(tube.radius < tube.guard) && tube.growth < 2.0 && tube.radius.is_finite() {
            // A wrong guess of the remainder, not a long step: once more with room.
            tube = self.tube(&shifted, (FastInterval::point(4.0) * FastInterval::point(tube.radius)).hi, known, h.sup());
        }
        if !tube.radius.is_finite() {
            return Err(Rejection::Remainder(0.5));
        }
        if !(tube.radius < tube.guard) {
            return Err(Rejection::TubeGrowth(tube.mu));
        }

        // The remainders must be small enough to keep the step accurate (a heuristic).
        let remainder = &tube.over.field[q + 1];
        let param_rem = (FastInterval::point(max_magnitude(remainder)) * h_pow * big_h / FastInterval::point((q + 2) as f64)).hi;
        let output_rem = self.alpha().sup() * max_magnitude(&tube.over.outputs[q + 1]) * h_pow.hi;
        let excess = (param_rem / (16.0 * tol.params)).max(output_rem / (16.0 * tol.outputs));
        let shrink = |excess: f64| (1.0 / excess).powf(1.0 / (q + 1) as f64).clamp(0.1, 0.8);
        if excess > REMAINDER_SLACK || !excess.is_finite() {
            return Err(Rejection::Remainder(if excess.is_finite() { shrink(excess) } else { 0.5 }));
        }
        let remainder_shrink = (excess > 1.0).then(|| shrink(excess));

        // The next ball: P(h) in c + [h] sum_{1<=j<=q+1} P_j [h]^{j-1} (P_0 = c exactly),
        // re-centred by an exact TwoSum (`poly::advance`).
        let hi = FastInterval::from_inari(h);
        let increment: Vec<FastInterval> =
            poly::horner(&path.approx.params[1..], hi).into_iter().map(|v| poly::mul_add_nonneg(v, hi, FastInterval::ZERO)).collect();
        let (next_centre, spread) = poly::advance(centre, &increment);
        let next_radius = (FastInterval::point(tube.radius) + FastInterval::point(spread)).hi;
        let mut outputs: Vec<Vec<Interval>> = path.outputs.clone();
        outputs.push(tube.over.outputs[q + 1].clone());
        Ok(TubeStep {
            step: h,
            outputs,
            tube_radius: tube.radius,
            mu: tube.mu,
            bounds: tube.bounds,
            next_centre,
            next_radius,
            remainder_shrink,
            truncation: tube.truncation,
            output_truncation: output_rem,
            defect: (known - FastInterval::point(radius)).hi.max(0.0),
        })
    }

    /// Lemmas 1-3 for the tube of half-width `guard` around `P([0, H])` (`shifted` holds the
    /// coefficients of `P(xi + sigma)` over `xi in [0, H]`; `known` encloses `e + sum_k d_k
    /// H^{k+1}/(k+1)`): the pass over the tube, `mu`, the bounds and Lemma 2's `E`.
    fn tube(&mut self, shifted: &[Vec<FastInterval>], guard: f64, known: FastInterval, big_h: f64) -> Tube {
        let q = self.order;
        let guard_box = FastInterval { lo: -guard, hi: guard };
        // Every point within `guard` of P(s), s in [0, H] (outward).
        let tube: Vec<FastInterval> = shifted[0].iter().map(|&b| b + guard_box).collect();
        let (over, hidden) = self.along_tube(&tube, &shifted[1..], q + 1);
        let tube: Vec<Interval> = tube.iter().map(|b| b.to_inari()).collect();
        let bounds = derivative_bounds(self.problem, &tube, hidden.as_ref());
        let mu = self.log_norm_bound(&tube, &over.outputs[0], &bounds, hidden.as_ref());
        let big_h = FastInterval::point(big_h);
        let growth = elementary::exp(FastInterval::point(mu.max(0.0)) * big_h);
        // Lemma 2: E = e^{mu+ H} (e + sum_k d_k H^{k+1}/(k+1) + |C| H^{q+2}/(q+2)).
        let c = FastInterval::point(poly::norm2_upper(&over.field[q + 1]));
        let remainder = c * poly::pow_nonneg(big_h, q as u32 + 2) / FastInterval::point((q + 2) as f64);
        let radius = (growth * (known + remainder)).hi;
        Tube { over, bounds, mu, growth: growth.hi, guard, radius, truncation: remainder.hi }
    }
}

/// What [`TubeIntegrator::region_bounds`] proves over a box.
#[derive(Debug, Clone)]
pub struct RegionBounds {
    /// Encloses `h(w)` (stacked, not centred, not scaled) for every `w` in the box.
    pub outputs: Vec<Interval>,
    pub bounds: DerivativeBounds,
    /// `>= sup |(1/alpha) sum_i r_i D^2 h_i(w)[v, v]|` over unit `v` and `w` in the box.
    pub loss_curvature: f64,
}

/// Lemmas 1-3 over one tube ([`TubeIntegrator::tube`]).
struct Tube {
    /// The pass over the tube: coefficient `q + 1` of the field (`C`) and outputs (`W`).
    over: FieldExpansion<Vec<Interval>>,
    bounds: DerivativeBounds,
    mu: f64,
    /// `exp(max(mu, 0) H)`, rounded up.
    growth: f64,
    /// The tube's half-width `G`.
    guard: f64,
    /// Lemma 2's `E`, rounded up: valid when `radius < guard`.
    radius: f64,
    /// Its truncation term `|C| H^{q+2} / (q+2)`, rounded up.
    truncation: f64,
}

/// Per-layer scalars as inari intervals (supersets).
fn intervals<S: Scalar>(layers: Option<Vec<Vec<S>>>) -> Option<HiddenActivations> {
    layers.map(|l| l.into_iter().map(|v| v.into_iter().map(Scalar::to_interval).collect()).collect())
}

/// The largest magnitude of the entries.
pub fn max_magnitude(v: &[Interval]) -> f64 {
    v.iter().map(|x| x.mag()).fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::flow::GradientFlow;
    use rug::Float;

    /// Lemmas 0 and 1 against the MPFR field (`reference::field_at`) at points of the path:
    /// `F(P(s)) in sum_{k<=q} A_k s^k + s^{q+1} C` for `s` in `[0, H]`, and the defect bound
    /// `|P'(s) - F(P(s))| <= sum_k d_k s^k + |C| s^{q+1}` (`centre_path`'s `d_k`), on a shipped
    /// 2-layer net at a long step.
    #[test]
    fn field_along_the_path_contains_the_mpfr_field() {
        let loaded = crate::spec::load(std::path::Path::new("specs/bench/gf-mlp-small.toml")).expect("shipped spec");
        let problem = &loaded.problem;
        let q = 8;
        let offset = GradientFlow::<Vec<Interval>>::new(problem, None).outputs_at(&problem.params0);
        let centre: Vec<f64> = problem.params0.iter().map(|v| v.mid()).collect();
        let mut flow = GradientFlow::<BallVec>::new(problem, Some(&offset));
        let pass = flow.point_path(&centre, q);
        let big_h = 0.25;
        let shifted = poly::taylor_shift(&pass.path, FastInterval { lo: 0.0, hi: big_h });
        let over = GradientFlow::<Vec<FastInterval>>::new(problem, Some(&offset)).along(&shifted, q + 1).to_intervals();
        let mut integrator = TubeIntegrator::new(problem, Some(offset.clone()), q);
        let defect = integrator.centre_path(&centre).defect;
        let c_norm = poly::norm2_upper(&over.field[q + 1]);
        let prec = 1024;
        for s in [0.0, 0.0625, 0.171875, big_h] {
            // P(s) and P'(s) exactly (dyadic s, 1024 bits).
            let sf = Float::with_val(prec, s);
            let at = |i: usize| -> Float {
                let mut acc = Float::with_val(prec, 0);
                for c in pass.path.iter().rev() {
                    acc = acc * &sf + Float::with_val(prec, c[i]);
                }
                acc
            };
            let point: Vec<Float> = (0..centre.len()).map(at).collect();
            let field = crate::reference::field_at(problem, &point, 256);
            let si = Interval::try_from((s, s)).unwrap();
            let mut defect_sq = Float::with_val(prec, 0);
            for (i, f) in field.iter().enumerate() {
                let mut enclosure = over.field[q + 1][i] * si.powi(q as i32 + 1);
                for k in (0..=q).rev() {
                    enclosure = enclosure + pass.field[k].get(i).to_interval() * si.powi(k as i32);
                }
                let (lo, hi) = (Float::with_val(prec, enclosure.inf()), Float::with_val(prec, enclosure.sup()));
                assert!(lo <= *f && *f <= hi, "s = {s}, component {i}: {f} not in {enclosure:?}");
                let d = at_derivative(&pass.path, i, &sf, prec) - f;
                defect_sq += Float::with_val(prec, &d * &d);
            }
            let bound: f64 = defect.iter().enumerate().map(|(k, d)| d * s.powi(k as i32)).sum::<f64>() + c_norm * s.powi(q as i32 + 1);
            assert!(defect_sq.sqrt() <= bound * (1.0 + 1e-12), "s = {s}: defect above its bound {bound:e}");
        }
    }

    /// `P'(s) = sum_{j>=1} j P_j s^{j-1}` exactly.
    fn at_derivative(path: &[Vec<f64>], i: usize, s: &Float, prec: u32) -> Float {
        let mut acc = Float::with_val(prec, 0);
        for j in (1..path.len()).rev() {
            acc = acc * s + Float::with_val(prec, path[j][i]) * (j as u32);
        }
        acc
    }
}

