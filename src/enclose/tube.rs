//! The validated integrator of the true gradient flow by the defect method: a polynomial path
//! `P(s)` with exact float coefficients through the centre, its defect `P' - F(P)` enclosed from
//! the field's coefficients along the path and a Lagrange remainder over the step's interval of
//! base points (Lemmas 0-1), or from its values at nodes and its size over complex discs
//! (Lemmas N, D: large deep networks), and the distance to every true solution bounded through the logarithmic norm of
//! the flow's Jacobian (Gauss-Newton split). Proof: `proofs/tube-integrator.md`.
//!
//! Invariant of a step from `t_k`: `w(t_k)` lies in the 2-norm ball `B(centre, radius)`. The step
//! proves, for all `s in [0, h]`, `|w(t_k + s) - P(s)| <= tube_radius` and
//! `h(P(s)) in sum_{j<=q} H_j s^j + W s^{q+1}` (interval coefficients).

use super::nodes::NodeRule;
use super::poly;
use crate::arith::ball::Ball;
use crate::arith::elementary;
use crate::arith::fast_interval::FastInterval;
use crate::arith::scalar::Scalar;
use crate::model::ball_vec::BallVec;
use crate::model::bounds::{derivative_bounds, DerivativeBounds, HiddenActivations};
use crate::model::coeffs::CoeffVec;
use crate::model::curvature::{residual_hessian_upper_near, WeightNorms};
use crate::model::disc_vec::DiscVec;
use crate::model::point_vec::PointVec;
use crate::model::flow::{Expansion, FieldExpansion, GradientFlow, TrainedModel};
use crate::model::majorants::{derivative_norms, taylor_model_bounds};
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
    /// A bound of the step (the remainder, the tube radius) was not a finite f64: the
    /// problem's scales leave the f64 range, which shorter steps rarely cure (issue 20).
    Overflow,
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
    /// `H_0..H_q`: enclosures of the coefficients of `h(P(s))` (at nodes: the float
    /// coefficients of the float path, as points; the nodes enclose the tail against them).
    pub outputs: Vec<Vec<Interval>>,
    /// `d_k >= |(k+1) P_{k+1} - F(P(s))[k]|_2`, `k <= q` (empty at nodes, which need none).
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
    /// The network in inari intervals and its weights' spectral norms at `w0`, for the
    /// residual-weighted Hessian bound of `mu`.
    net: Option<(Mlp<Interval>, WeightNorms)>,
    order: usize,
    /// With [`validate_at_nodes`](Self::validate_at_nodes): Lemmas N and D; `None`: the
    /// remainder pass of Lemma 1.
    nodes: Option<NodeValidation>,
    /// When the integrator trains the order-`Q` Taylor model ([`for_model`](Self::for_model)):
    /// what bounds its derivatives over a tube (Lemma G of `proofs/taylor-models.md`).
    model_norms: Option<ModelNorms>,
    /// With [`in_displacements`](Self::in_displacements): `w0`; every point, ball and box the
    /// integrator takes or returns is then a displacement `u = w - w0`.
    origin: Option<Vec<FastInterval>>,
}

/// The derivative norms of the network at `w0` from which the order-`Q` model's derivative
/// bounds over any region follow (`model::majorants::taylor_model_bounds`).
struct ModelNorms {
    q: usize,
    /// `norms[k - 1][i] >= sup_{|u|=1} |D^k h_i(w0)[u^k]|`, `k <= q`.
    norms: Vec<Vec<f64>>,
    w0: Vec<FastInterval>,
}

/// What the validation at nodes needs besides the ball flow.
struct NodeValidation {
    rule: &'static NodeRule,
    /// The field over complex discs (Lemma D).
    disc_flow: GradientFlow<DiscVec>,
    /// The float point path (Lemma 0 with any coefficients: the nodes enclose its defect).
    point_flow: GradientFlow<PointVec>,
}

impl<'a> TubeIntegrator<'a> {
    /// `offset`: enclosure of `h(w0)` for the centred model.
    pub fn new(problem: &'a Problem, offset: Option<Vec<Interval>>, order: usize) -> Self {
        let flow = GradientFlow::new(problem, offset.as_deref());
        let box_flow = GradientFlow::new(problem, offset.as_deref());
        let net = match &problem.architecture {
            Architecture::Mlp(arch) => {
                let net = Mlp::new(arch, &problem.inputs);
                let norms = WeightNorms::new(&net, &problem.params0);
                Some((net, norms))
            }
            Architecture::Quadratic(_) => None,
        };
        TubeIntegrator { problem, flow, box_flow, offset, net, order, nodes: None, model_norms: None, origin: None }
    }

    /// The integrator of the gradient flow of `model`: the network ([`new`](Self::new)) or its
    /// order-`Q` Taylor model around `w0` (MLPs; `None` otherwise), whose derivative bounds
    /// over a tube come from the norms of `D^k h(w0)`, `k <= Q` (`model::majorants`, Lemmas B
    /// and G of `proofs/taylor-models.md`; for `k = 1, 2` the minimum with the network's own
    /// bounds at the box `w0`). Its steps are validated by the remainder pass.
    pub fn for_model(problem: &'a Problem, offset: Option<Vec<Interval>>, order: usize, model: TrainedModel) -> Option<Self> {
        let TrainedModel::TaylorModel(q) = model else { return Some(Self::new(problem, offset, order)) };
        let Architecture::Mlp(arch) = &problem.architecture else { return None };
        let flow = GradientFlow::training(problem, offset.as_deref(), model)?;
        let box_flow = GradientFlow::training(problem, offset.as_deref(), model)?;
        let mut norms = derivative_norms(&Mlp::<FastInterval>::new(arch, &problem.inputs), &problem.params0, q);
        let at_w0 = derivative_bounds(problem, &problem.params0, None);
        for (k, own) in [(0, &at_w0.gradient), (1, &at_w0.hessian)] {
            if let Some(row) = norms.get_mut(k) {
                row.iter_mut().zip(own).for_each(|(x, &y)| *x = x.min(y));
            }
        }
        let w0 = problem.params0.iter().map(|&x| FastInterval::from_inari(x)).collect();
        let model_norms = Some(ModelNorms { q, norms, w0 });
        Some(TubeIntegrator { problem, flow, box_flow, offset, net: None, order, nodes: None, model_norms, origin: None })
    }

    /// Encloses the order-0 residual through the increment `h(w) - h(w0)`
    /// (`GradientFlow::with_differences`, `proofs/tube-integrator.md` "Differences from w0"):
    /// narrower fields near `w0`, hence slower-growing tubes.
    pub fn with_differences(mut self) -> Self {
        self.flow = self.flow.with_differences(self.problem);
        self.box_flow = self.box_flow.with_differences(self.problem);
        self
    }

    /// Works in displacement coordinates `u = w - w0` from now on, with the increments of
    /// [`with_differences`](Self::with_differences) (`GradientFlow::displace`;
    /// `proofs/tube-integrator.md`, "Displacements"): the flow starts at the exact point
    /// `u = 0`, and the width of `w0`'s enclosure enters the field multiplied by `u`. For the
    /// network's flow of an MLP (otherwise the integrator is returned as it is: the
    /// quadratic family has no increments, and Taylor models stay in weights). Call before
    /// [`validate_at_nodes`](Self::validate_at_nodes).
    pub fn in_displacements(self) -> Self {
        if self.model_norms.is_some() || !matches!(self.problem.architecture, Architecture::Mlp(_)) {
            return self;
        }
        let mut this = self.with_differences();
        this.flow.displace(this.problem);
        this.box_flow.displace(this.problem);
        this.origin = Some(this.problem.params0.iter().map(|&x| FastInterval::from_inari(x)).collect());
        this
    }

    /// Whether the integrator works in displacements `u = w - w0`.
    pub fn is_displaced(&self) -> bool {
        self.origin.is_some()
    }

    /// The weights `w0 + u` of a box of the integrator's coordinates (outward; the box itself
    /// when not in displacements), as inari intervals.
    fn weights_of(&self, region: &[FastInterval]) -> Vec<Interval> {
        match &self.origin {
            Some(w0) => region.iter().zip(w0).map(|(&u, &x0)| (x0 + u).to_inari()).collect(),
            None => region.iter().map(|b| b.to_inari()).collect(),
        }
    }

    /// Derivative bounds of the trained model over the box `region` (`hidden`: the network's
    /// hidden activations over it, when known): `model::bounds::derivative_bounds` for the
    /// network, Lemma G with `|w - w0| <= |region - w0|` for the order-`Q` model.
    fn region_derivative_bounds(&self, region: &[Interval], hidden: Option<&HiddenActivations>) -> DerivativeBounds {
        match &self.model_norms {
            None => derivative_bounds(self.problem, region, hidden),
            Some(m) => {
                let offsets: Vec<FastInterval> = region.iter().zip(&m.w0).map(|(&x, &x0)| FastInterval::from_inari(x) - x0).collect();
                taylor_model_bounds(&m.norms, m.q, poly::norm2_upper(&offsets))
            }
        }
    }

    /// Validates the steps at nodes (Lemmas N and D of `proofs/tube-integrator.md`) instead of
    /// by the pass of order `q + 1` over the step's base points (Lemma 1), for MLPs: about 16
    /// passes of order 0 and one over complex discs against one of order `q + 1` (whose cost
    /// grows like `q^2` products). Its bound does not shrink below about `1e-12` of the field
    /// per unit of time, so tight passes keep Lemma 1.
    pub fn validate_at_nodes(mut self) -> Self {
        if matches!(self.problem.architecture, Architecture::Mlp(_)) && self.model_norms.is_none() {
            let offset = self.offset.as_deref();
            let mut disc_flow = GradientFlow::new(self.problem, offset);
            let mut point_flow = GradientFlow::new(self.problem, offset);
            if self.origin.is_some() {
                disc_flow.displace(self.problem);
                point_flow.displace(self.problem);
            }
            self.nodes = Some(NodeValidation { rule: NodeRule::default_rule(), disc_flow, point_flow });
        }
        self
    }

    pub fn alpha(&self) -> Interval {
        self.problem.alpha.enclosure
    }

    /// The path through the point `centre` (Lemma 0): one pass in balls along the point path,
    /// or in floats when the steps are validated at nodes (which need no `d_k`, and take the
    /// float output coefficients as exact).
    pub fn centre_path(&mut self, centre: &[f64]) -> CentrePath {
        let q = self.order;
        if let Some(nodes) = &mut self.nodes {
            let pass = nodes.point_flow.point_path(centre, q);
            let outputs = pass.outputs.iter().map(|o| o.0.iter().map(|&x| Interval::try_from((x, x)).unwrap_or(Interval::ENTIRE)).collect()).collect();
            let approx = Expansion { params: pass.path, outputs: pass.outputs.into_iter().map(|o| o.0).collect() };
            return CentrePath { approx, outputs, defect: Vec::new() };
        }
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
        // The spread relative to the weights (`w0 + u` in displacements).
        let magnitude = |v: &FastInterval| v.lo.abs().max(v.hi.abs());
        let size = match &self.origin {
            Some(w0) => tube.iter().zip(w0).map(|(v, x0)| magnitude(v) + magnitude(x0)).fold(0.0, f64::max),
            None => tube.iter().map(magnitude).fold(0.0, f64::max),
        };
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
            (Some((net, norms)), Some(hidden)) => {
                let residual: Vec<Interval> = residual.iter().map(|r| r.to_inari()).collect();
                let weighted = residual_hessian_upper_near(net, hidden, region, &residual, Some(norms));
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
        let region = self.weights_of(region);
        let bounds = self.region_derivative_bounds(&region, hidden.as_ref());
        let loss_curvature = self.loss_curvature(&region, &over.outputs[0], &bounds, hidden.as_ref());
        RegionBounds { outputs: over.outputs[0].clone(), bounds, loss_curvature }
    }

    /// Attempts the step `[t_k, t_k + h]` from the ball `B(centre, radius)` along the path
    /// through `centre` (`path`, from [`centre_path`](Self::centre_path) at the same centre):
    /// the defect bounded by Lemmas 0-1 or by Lemma N, Lemmas 2-3 over a tube with the guard
    /// of the proof's section "The guard", then the next ball.
    pub fn try_step(&mut self, centre: &[f64], radius: f64, path: &CentrePath, h: Interval, tol: Tolerances) -> Result<TubeStep, Rejection> {
        let big_h = h.sup();
        let defect = match self.nodes.is_some() {
            true => self.defect_at_nodes(path, big_h)?,
            false => self.defect_by_remainder(path, big_h),
        };
        // The defect must be small enough to keep the step accurate (a heuristic).
        let param_rem = defect.param_truncation;
        let output_rem = defect.output_truncation;
        let q = self.order;
        let excess = (param_rem / (16.0 * tol.params)).max(output_rem / (16.0 * tol.outputs));
        let shrink = |excess: f64| (1.0 / excess).powf(1.0 / (q + 1) as f64).clamp(0.1, 0.8);
        if !excess.is_finite() {
            return Err(Rejection::Overflow);
        }
        if excess > REMAINDER_SLACK {
            return Err(Rejection::Remainder(shrink(excess)));
        }
        let remainder_shrink = (excess > 1.0).then(|| shrink(excess));

        // e + the rounding's share of int_0^H |delta| (Lemma 2; the truncation joins in `tube`).
        let known = defect.rounding.iter().fold(FastInterval::point(radius), |acc, &term| acc + FastInterval::point(term));
        let guess = (FastInterval::point(2.0) * (known + FastInterval::point(defect.guard_extra))).hi + f64::MIN_POSITIVE;
        let mut tube = self.tube(&defect.range, guess, known, defect.truncation, big_h);
        if !(tube.radius < tube.guard) && tube.growth < 2.0 && tube.radius.is_finite() {
            // A wrong guess of the remainder, not a long step: once more with room.
            tube = self.tube(&defect.range, (FastInterval::point(4.0) * FastInterval::point(tube.radius)).hi, known, defect.truncation, big_h);
        }
        if !tube.radius.is_finite() {
            return Err(Rejection::Overflow);
        }
        if !(tube.radius < tube.guard) {
            return Err(Rejection::TubeGrowth(tube.mu));
        }

        // The next ball: P(h) in c + [h] sum_{1<=j<=q+1} P_j [h]^{j-1} (P_0 = c exactly),
        // re-centred by an exact TwoSum (`poly::advance`).
        let hi = FastInterval::from_inari(h);
        let increment: Vec<FastInterval> =
            poly::horner(&path.approx.params[1..], hi).into_iter().map(|v| poly::mul_add_nonneg(v, hi, FastInterval::ZERO)).collect();
        let (next_centre, spread) = poly::advance(centre, &increment);
        let next_radius = (FastInterval::point(tube.radius) + FastInterval::point(spread)).hi;
        Ok(TubeStep {
            step: h,
            outputs: defect.outputs,
            tube_radius: tube.radius,
            mu: tube.mu,
            bounds: tube.bounds,
            next_centre,
            next_radius,
            remainder_shrink,
            truncation: defect.truncation,
            output_truncation: output_rem,
            defect: (known - FastInterval::point(radius)).hi.max(0.0),
        })
    }

    /// Lemmas 0 and 1: the defect's low orders from the path, its remainder from the pass of
    /// order `q + 1` along the path shifted over `[0, H]` (through the box `P([0, H])`).
    fn defect_by_remainder(&mut self, path: &CentrePath, big_h: f64) -> PathDefect {
        let q = self.order;
        let h = FastInterval::point(big_h);
        let shifted = poly::taylor_shift(&path.approx.params, FastInterval { lo: 0.0, hi: big_h });
        // d_k H^{k+1} / (k+1): the low orders' share of the defect.
        let rounding = path
            .defect
            .iter()
            .enumerate()
            .map(|(k, &d)| (FastInterval::point(d) * poly::pow_nonneg(h, k as u32 + 1) / FastInterval::point((k + 1) as f64)).hi)
            .collect();
        let (over, _) = self.along_tube(&shifted[0], &shifted[1..], q + 1);
        let h_pow = poly::pow_nonneg(h, q as u32 + 1);
        // |C| H^{q+2} / (q+2) with c >= |C|_2 (Lemma 2).
        let c = FastInterval::point(poly::norm2_upper(&over.field[q + 1]));
        let truncation = (c * poly::pow_nonneg(h, q as u32 + 2) / FastInterval::point((q + 2) as f64)).hi;
        let top = poly::norm2_upper(&path.approx.params[q + 1].iter().map(|&x| FastInterval::point(x)).collect::<Vec<_>>());
        let mut outputs: Vec<Vec<Interval>> = path.outputs.clone();
        outputs.push(over.outputs[q + 1].clone());
        let param_truncation = (FastInterval::point(max_magnitude(&over.field[q + 1])) * h_pow * h / FastInterval::point((q + 2) as f64)).hi;
        PathDefect {
            rounding,
            truncation,
            guard_extra: (FastInterval::point(top) * h_pow).hi,
            param_truncation,
            output_truncation: self.alpha().sup() * max_magnitude(&over.outputs[q + 1]) * h_pow.hi,
            range: shifted.into_iter().next().expect("the shifted path has a constant term"),
            outputs,
        }
    }

    /// Lemmas N and D: the defect `P' - F(P)` and the outputs' tail `h(P) - sum_{k<=q} H_k s^k`
    /// from their values at the rule's nodes in `[0, H]` (passes of order 0 in balls) and their
    /// bounds over the disc `|z - H/2| <= rho H` (one pass over complex discs around
    /// `P_0`, of radius `sum_k |P_k| ((rho + 1/2) H)^k`). Rejects (`Remainder(0.5)`) when the
    /// discs leave the region where the activations are bounded analytic functions.
    fn defect_at_nodes(&mut self, path: &CentrePath, big_h: f64) -> Result<PathDefect, Rejection> {
        let q = self.order;
        let NodeValidation { rule, disc_flow, .. } = self.nodes.as_mut().expect("validation at nodes");
        let rule: &NodeRule = rule;
        let p = FastInterval::point;
        let params = &path.approx.params;
        let n_out = path.outputs[0].len();

        // The complex neighbourhood: |z| <= R = (rho + 1/2) H contains the disc of Lemma N.
        let reach = (p(rule.disc_radius) + p(0.5)) * p(big_h);
        let reach_powers: Vec<FastInterval> = (0..=q + 1).map(|k| poly::pow_nonneg(reach, k as u32)).collect();
        let mut region_rad = vec![0.0f64; params[0].len()];
        let mut slope_bound = vec![0.0f64; params[0].len()];
        for (k, coeff) in params.iter().enumerate().skip(1) {
            let kf = p(k as f64);
            for (i, &c) in coeff.iter().enumerate() {
                let term = p(c.abs()) * reach_powers[k];
                region_rad[i] = (p(region_rad[i]) + term).hi;
                slope_bound[i] = (p(slope_bound[i]) + kf * p(c.abs()) * reach_powers[k - 1]).hi;
            }
        }
        let region = DiscVec::new(params[0].clone(), region_rad);
        let over = disc_flow.along(&[region], 0);
        let field_bound = over.field[0].moduli();
        let output_bound = over.outputs[0].moduli();
        if field_bound.iter().chain(&output_bound).any(|m| !m.is_finite()) {
            return Err(Rejection::Remainder(0.5));
        }
        // M for the defect (|P'| + |F(P)|) and for the outputs' tail (|h(P)| + |sum H_k z^k|).
        let defect_bound: Vec<f64> = field_bound.iter().zip(&slope_bound).map(|(&f, &s)| (p(f) + p(s)).hi).collect();
        let tail_bound: Vec<f64> = (0..n_out)
            .map(|i| {
                let poly = path.outputs.iter().enumerate().fold(FastInterval::ZERO, |acc, (k, hk)| acc + p(hk[i].mag()) * reach_powers[k]);
                (p(output_bound[i]) + poly).hi
            })
            .collect();

        // The values at the nodes x_j = H t_j (each enclosed as an interval).
        let derivative = poly::derivative_coeffs(params);
        let hermite = p(rule.hermite);
        // sum_j c_j |delta(x_j)|^2 (upper), and the same of the parts beyond rounding.
        let mut squares = p(0.0);
        let mut truncation_squares = p(0.0);
        let mut tail_at_nodes = vec![0.0f64; n_out];
        let mut tail_truncation = vec![0.0f64; n_out];
        for (&t, &weight) in rule.nodes.iter().zip(&rule.gram_rows) {
            let x = p(big_h) * p(t);
            let at = BallVec::from_scalars(&poly::horner(params, x).into_iter().map(Ball::from_fast).collect::<Vec<_>>());
            let pass = self.flow.along(&[at], 0);
            let slope = poly::horner(&derivative, x);
            let defect: Vec<FastInterval> = slope.iter().zip(pass.field[0].to_scalars()).map(|(&s, f)| s - f.to_fast()).collect();
            let (norm, excess) = (p(poly::norm2_upper(&defect)), p(norm2_excess(&defect)));
            squares = squares + p(weight) * norm * norm;
            truncation_squares = truncation_squares + p(weight) * excess * excess;
            for (i, h) in pass.outputs[0].to_scalars().into_iter().enumerate() {
                let series = path.outputs.iter().rev().fold(Interval::try_from((0.0, 0.0)).unwrap(), |acc, hk| acc.mul_add(x.to_inari(), hk[i]));
                let tail = h.to_fast() - FastInterval::from_inari(series);
                tail_at_nodes[i] = tail_at_nodes[i].max(tail.magnitude());
                tail_truncation[i] = tail_truncation[i].max(excess_of(tail));
            }
        }
        let hermite_term = hermite * p(poly::norm2_upper(&defect_bound.iter().map(|&m| p(m)).collect::<Vec<_>>()));
        let lebesgue = p(rule.lebesgue);
        let tails: Vec<f64> = (0..n_out).map(|i| (lebesgue * p(tail_at_nodes[i]) + hermite * p(tail_bound[i])).hi).collect();
        let alpha = p(self.alpha().sup());
        // The step control sees the values beyond rounding only: the interpolation term K M
        // stays near the same size per unit of time however short the steps (a floor, like
        // rounding), and counting it would only shrink steps in vain.
        let output_truncation = (0..n_out).map(|i| (alpha * lebesgue * p(tail_truncation[i])).hi).fold(0.0, f64::max);
        // h(P(s)) in sum_{k<=q} H_k s^k + [-tail, tail]: the tail joins H_0; W = 0.
        let mut outputs = path.outputs.clone();
        for (h0, &tail) in outputs[0].iter_mut().zip(&tails) {
            *h0 = *h0 + Interval::try_from((-tail, tail)).unwrap_or(Interval::ENTIRE);
        }
        outputs.push(vec![Interval::try_from((0.0, 0.0)).unwrap(); n_out]);
        // int_0^H |delta| <= H (sqrt(sum_j c_j |delta(x_j)|^2) + K |M|) (Lemma N), split into
        // the part beyond the values' rounding (truncation) and the rest (rounding and the
        // interpolation term, floors that shorter steps do not lower).
        let root = |x: FastInterval| p(Scalar::sqrt(p(x.hi)).hi);
        let integral = p(big_h) * (root(squares) + hermite_term);
        let truncation = (p(big_h) * root(truncation_squares)).hi;
        Ok(PathDefect {
            rounding: vec![(integral - p(truncation)).hi.max(0.0)],
            truncation,
            guard_extra: truncation,
            param_truncation: truncation,
            output_truncation,
            range: poly::horner(params, FastInterval { lo: 0.0, hi: big_h }),
            outputs,
        })
    }

    /// Lemmas 2-3 for the tube of half-width `guard` around `P([0, H])` (`range` encloses it;
    /// `known + truncation >= e + int_0^H |delta|`): the pass of order 0 over the tube, `mu`,
    /// the bounds and Lemma 2's `E`.
    fn tube(&mut self, range: &[FastInterval], guard: f64, known: FastInterval, truncation: f64, big_h: f64) -> Tube {
        let guard_box = FastInterval { lo: -guard, hi: guard };
        // Every point within `guard` of P(s), s in [0, H] (outward).
        let tube: Vec<FastInterval> = range.iter().map(|&b| b + guard_box).collect();
        let (over, hidden) = self.along_tube(&tube, &[], 0);
        let tube = self.weights_of(&tube);
        let bounds = self.region_derivative_bounds(&tube, hidden.as_ref());
        let mu = self.log_norm_bound(&tube, &over.outputs[0], &bounds, hidden.as_ref());
        let growth = elementary::exp(FastInterval::point(mu.max(0.0)) * FastInterval::point(big_h));
        // Lemma 2: E = e^{mu+ H} (e + int_0^H |delta|).
        let radius = (growth * (known + FastInterval::point(truncation))).hi;
        Tube { bounds, mu, growth: growth.hi, guard, radius }
    }
}

/// What bounds the path's defect over a step (Lemmas 0-1, or Lemma N).
struct PathDefect {
    /// `rounding` (added in order) plus `truncation` is `>= int_0^H |P'(s) - F(P(s))|_2 ds`.
    /// `truncation` is the part that shrinks with the step (Lemma 1's remainder term; at nodes,
    /// the values beyond their rounding; the interpolation term `K |M|` counts as rounding).
    rounding: Vec<f64>,
    truncation: f64,
    /// Added to the guard's guess (Lemma 1: `|P_{q+1}| H^{q+1}`).
    guard_extra: f64,
    /// For the step control: the truncation in parameters and in `alpha h` (max over outputs).
    param_truncation: f64,
    output_truncation: f64,
    /// Encloses `P([0, H])`.
    range: Vec<FastInterval>,
    /// `H_0..H_q, W`: `h(P(s)) in sum_{j<=q} H_j s^j + W s^{q+1}` for `s in [0, H]`.
    outputs: Vec<Vec<Interval>>,
}

/// A lower estimate of the defect beyond its rounding: `|(max(|mid| - rad, 0))_i|_2` (the
/// value's distance from 0 that no rounding explains). For the step control only.
fn norm2_excess(v: &[FastInterval]) -> f64 {
    poly::norm2_upper(&v.iter().map(|&x| FastInterval::point(excess_of(x))).collect::<Vec<_>>())
}

/// `max(mig(x), 0)`: the magnitude of `x` beyond its width.
fn excess_of(x: FastInterval) -> f64 {
    if x.lo > 0.0 {
        x.lo
    } else if x.hi < 0.0 {
        -x.hi
    } else {
        0.0
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

/// Lemmas 2-3 over one tube ([`TubeIntegrator::tube`]).
struct Tube {
    bounds: DerivativeBounds,
    mu: f64,
    /// `exp(max(mu, 0) H)`, rounded up.
    growth: f64,
    /// The tube's half-width `G`.
    guard: f64,
    /// Lemma 2's `E`, rounded up: valid when `radius < guard`.
    radius: f64,
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

    /// Lemma N over a float path (Lemma 1N) against MPFR: on a shipped 2-layer net at order 4
    /// and a long step (`H = 1/2`, where the path's defect is far above rounding), the bound on
    /// `int_0^H |P' - F(P)|` contains a Simpson estimate of the integral from the MPFR field
    /// and is within 100 times of it, and the outputs `h(P(s))` at 17 points lie in the step's
    /// output polynomial with its tail (which is within 1000 times of the actual tail).
    #[test]
    fn node_bounds_contain_the_mpfr_defect_and_outputs() {
        let loaded = crate::spec::load(std::path::Path::new("specs/bench/gf-mlp-small.toml")).expect("shipped spec");
        let problem = &loaded.problem;
        let q = 4;
        let big_h = 0.5;
        let offset = GradientFlow::<Vec<Interval>>::new(problem, None).outputs_at(&problem.params0);
        let centre: Vec<f64> = problem.params0.iter().map(|v| v.mid()).collect();
        let mut integrator = TubeIntegrator::new(problem, Some(offset.clone()), q).validate_at_nodes();
        let path = integrator.centre_path(&centre);
        let defect = integrator.defect_at_nodes(&path, big_h).expect("the discs stay in the strip");
        let bound = defect.rounding.iter().sum::<f64>() + defect.truncation;
        let prec = 512;
        let point_at = |s: f64| -> Vec<Float> {
            let sf = Float::with_val(prec, s);
            (0..centre.len())
                .map(|i| path.approx.params.iter().rev().fold(Float::with_val(prec, 0), |acc, c| acc * &sf + Float::with_val(prec, c[i])))
                .collect()
        };
        // Simpson's rule with 64 intervals for int_0^H |P'(s) - F(P(s))|_2 ds.
        let intervals = 64;
        let mut integral = 0.0;
        let mut worst_tail = 0.0f64;
        for k in 0..=intervals {
            let s = big_h * k as f64 / intervals as f64;
            let field = crate::reference::field_at(problem, &point_at(s), 256);
            let sf = Float::with_val(prec, s);
            let norm = field
                .iter()
                .enumerate()
                .map(|(i, f)| (at_derivative(&path.approx.params, i, &sf, prec) - f).to_f64().powi(2))
                .sum::<f64>()
                .sqrt();
            let weight = if k == 0 || k == intervals { 1.0 } else if k % 2 == 1 { 4.0 } else { 2.0 };
            integral += weight * norm * big_h / (3.0 * intervals as f64);
            if k % 4 == 0 {
                let outputs = crate::reference::outputs_at(problem, &point_at(s), 256);
                let si = Interval::try_from((s, s)).unwrap();
                for (i, h) in outputs.iter().enumerate() {
                    let enclosure = defect.outputs.iter().rev().fold(Interval::try_from((0.0, 0.0)).unwrap(), |acc, c| acc * si + c[i]);
                    assert!(Float::with_val(prec, enclosure.inf()) <= *h && *h <= Float::with_val(prec, enclosure.sup()), "s = {s}, output {i}: {h} not in {enclosure:?}");
                    let series = path.approx.outputs.iter().rev().fold(0.0, |acc, c| acc * s + c[i]);
                    worst_tail = worst_tail.max((h.to_f64() - series).abs());
                }
            }
        }
        assert!(integral <= bound, "int |delta| ~ {integral:e} above the bound {bound:e}");
        assert!(bound <= 100.0 * integral, "the bound {bound:e} is slack against {integral:e}");
        let tail = (0..defect.outputs[0].len()).map(|i| defect.outputs[0][i].wid() / 2.0).fold(0.0, f64::max);
        assert!(worst_tail > 0.0 && tail <= 1000.0 * worst_tail, "output tail {tail:e} against {worst_tail:e}");
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

