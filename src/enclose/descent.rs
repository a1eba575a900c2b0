//! The validated enclosure of gradient descent `w_{k+1} = Phi(w_k) = w_k - eta grad F(w_k)`:
//! a ball `B(c_k, r_k)` around exact float centres, one gradient in ball arithmetic per
//! iteration and, per chunk of iterations, one bound of the Lipschitz constant of `Phi` over a
//! box around the chunk's centres. Proof: `proofs/gradient-descent.md` (Lemmas D1, D3).
//!
//! The centres do not depend on the radii, so a chunk runs in two phases: the centres and the
//! rounding of each image ([`DescentIntegrator::run_centres`]), then the radii over a box of
//! half-width `G` around the centres' hull ([`DescentIntegrator::enclose`]), which holds when
//! every radius of the chunk stays below `G`.

use super::tube::{RegionBounds, TubeIntegrator};
use crate::arith::ball::Ball;
use crate::arith::fast_interval::FastInterval;
use crate::arith::scalar::Scalar;
use crate::enclose::poly;
use crate::model::ball_vec::BallVec;
use crate::model::bounds::DerivativeBounds;
use crate::model::coeffs::CoeffVec;
use crate::model::flow::GradientFlow;
use crate::problem::Problem;
use inari::Interval;

/// Encloses gradient-descent iterates of one problem.
pub struct DescentIntegrator<'a> {
    /// The field `-grad F` (with the penalty) at a point, in balls.
    flow: GradientFlow<BallVec>,
    /// Bounds over boxes (derivatives, residual-weighted curvature).
    region: TubeIntegrator<'a>,
    eta: Ball,
    eta_fast: FastInterval,
    lambda: FastInterval,
    /// `>= sqrt(lambda_max(K0)) = |J(w0)|_2` for every `w0` in the initial box.
    initial_jacobian_norm: f64,
    /// The initial box.
    w0: Vec<FastInterval>,
}

/// Phase 1 of a chunk: the centres `c_j` of its iterates and what the radii need from them.
#[derive(Debug, Clone)]
pub struct CentreRun {
    /// Componentwise hull of the chunk's centres.
    lower: Vec<f64>,
    upper: Vec<f64>,
    /// `rounding[j] >= |Phi(c_j) - c_{j+1}|_2` for every step taken.
    pub rounding: Vec<f64>,
    /// `h(c_j)` (stacked, not centred, not scaled) per iterate of the chunk.
    pub outputs: Vec<Vec<Interval>>,
    /// The centre after the chunk's last step (the start when no step was taken).
    pub next_centre: Vec<f64>,
}

/// Phase 2 of a chunk: the radii.
#[derive(Debug, Clone)]
pub struct ChunkEnclosure {
    /// `w_j` lies in `B(c_j, radii[j])` for the chunk's iterates, and `radii[count]` is the
    /// radius after the last step taken.
    pub radii: Vec<f64>,
    /// `>= sup |D Phi|_2` over the box.
    pub lipschitz: f64,
    /// Derivative bounds over the box (for `|h(w_j) - h(c_j)| <= |grad h_i| r_j`).
    pub bounds: DerivativeBounds,
    /// The box's half-width around the centres' hull.
    pub guard: f64,
}

impl<'a> DescentIntegrator<'a> {
    /// `offset`: enclosure of `h(w0)` for the centred model; `kernel_norm >= lambda_max(K0)`
    /// (`LinearFlow::kernel_norm`); `eta` encloses the learning rate.
    pub fn new(problem: &'a Problem, offset: Option<Vec<Interval>>, kernel_norm: f64, eta: Interval) -> Self {
        let flow = GradientFlow::new(problem, offset.as_deref());
        let region = TubeIntegrator::new(problem, offset, 1);
        DescentIntegrator {
            flow,
            region,
            eta: Ball::from_interval(eta),
            eta_fast: FastInterval::from_inari(eta),
            lambda: FastInterval::from_inari(problem.regularization.enclosure),
            initial_jacobian_norm: Scalar::sqrt(FastInterval::point(kernel_norm)).hi,
            w0: problem.params0.iter().map(|&v| FastInterval::from_inari(v)).collect(),
        }
    }

    /// Phase 1 from the centre `start`: `count` iterates, a step after each of them but the last
    /// unless `step_after_last` (Lemma D1: `c_{j+1}` is the midpoint of the ball enclosure of
    /// `c_j + eta F(c_j)`, `F = -grad F`, and its radii's 2-norm bounds the rounding).
    pub fn run_centres(&mut self, start: &[f64], count: usize, step_after_last: bool) -> CentreRun {
        let mut centre = start.to_vec();
        let mut lower = start.to_vec();
        let mut upper = start.to_vec();
        let mut rounding = Vec::with_capacity(count);
        let mut outputs = Vec::with_capacity(count);
        for j in 0..count {
            for ((lo, hi), &c) in lower.iter_mut().zip(upper.iter_mut()).zip(&centre) {
                *lo = lo.min(c);
                *hi = hi.max(c);
            }
            let pass = self.flow.point_path(&centre, 0);
            outputs.push(pass.outputs[0].to_intervals());
            if j + 1 < count || step_after_last {
                let field = &pass.field[0];
                let image: Vec<Ball> = centre.iter().enumerate().map(|(i, &c)| Ball::point(c) + self.eta * field.get(i)).collect();
                let spread: Vec<FastInterval> = image.iter().map(|b| FastInterval { lo: -b.rad, hi: b.rad }).collect();
                rounding.push(poly::norm2_upper(&spread));
                centre = image.iter().map(|b| b.mid).collect();
            }
        }
        CentreRun { lower, upper, rounding, outputs, next_centre: centre }
    }

    /// Phase 2 (Lemma D3): the box `[lower - G, upper + G]` around the centres' hull, the
    /// Lipschitz bound of `Phi` over it, and the radii `r_{j+1} = L r_j + rounding[j]` from
    /// `radius` (`w` at the chunk's first iterate lies in `B(c, radius)`). `Err(needed)` when
    /// a radius of an iterate exceeds `G` (the box does not contain the balls): `needed` is the
    /// largest such radius (or infinity), a guard to try next.
    pub fn enclose(&mut self, run: &CentreRun, radius: f64, guard: f64) -> Result<ChunkEnclosure, f64> {
        let g = FastInterval { lo: -guard, hi: guard };
        let region: Vec<FastInterval> =
            run.lower.iter().zip(&run.upper).map(|(&lo, &hi)| FastInterval { lo, hi } + g).collect();
        let over = self.region.region_bounds(&region);
        let lipschitz = self.lipschitz(&region, &over);
        let mut radii = Vec::with_capacity(run.outputs.len() + 1);
        radii.push(radius);
        for &s in &run.rounding {
            let last = *radii.last().expect("one radius");
            radii.push((FastInterval::point(lipschitz) * FastInterval::point(last) + FastInterval::point(s)).hi);
        }
        let largest = radii.iter().take(run.outputs.len()).fold(0.0f64, |m, &r| if r.is_nan() { f64::INFINITY } else { m.max(r) });
        if !(largest <= guard) || !lipschitz.is_finite() {
            return Err(if lipschitz.is_finite() { largest } else { f64::INFINITY });
        }
        if radii.len() == run.outputs.len() {
            // No step after the last iterate: its radius is the next chunk's start.
            radii.push(*radii.last().expect("one radius"));
        }
        Ok(ChunkEnclosure { radii, lipschitz, bounds: over.bounds, guard })
    }

    /// `>= sup |I - eta Hess F|_2` over the box (Lemma D3): the eigenvalues of `Hess F` lie in
    /// `[lambda - m, lambda + Lambda + m]` with `m` the loss curvature and `Lambda >=
    /// lambda_max(J^T J)`, the smaller of `sum_i sup|grad h_i|^2` and, when the upper side
    /// decides, `(|J(w0)| + Htot sup|w - w0|)^2` with `Htot` over the hull of the box and `w0`.
    fn lipschitz(&mut self, region: &[FastInterval], over: &RegionBounds) -> f64 {
        let curvature = FastInterval::point(over.loss_curvature);
        let gradient = FastInterval::point(over.bounds.gradient_total());
        let frobenius = gradient * gradient;
        let lower_side = (FastInterval::point(1.0) - self.eta_fast * (self.lambda - curvature)).magnitude();
        let upper_side = |gram: FastInterval| (FastInterval::point(1.0) - self.eta_fast * (self.lambda + gram + curvature)).magnitude();
        let mut gram = frobenius;
        if upper_side(gram) > lower_side {
            let hull: Vec<FastInterval> =
                region.iter().zip(&self.w0).map(|(r, w)| FastInterval { lo: r.lo.min(w.lo), hi: r.hi.max(w.hi) }).collect();
            let displacement: Vec<FastInterval> = region.iter().zip(&self.w0).map(|(&r, &w)| r - w).collect();
            let htot = self.region.region_bounds(&hull).bounds.hessian_total();
            let norm = FastInterval::point(self.initial_jacobian_norm) + FastInterval::point(htot) * FastInterval::point(poly::norm2_upper(&displacement));
            let tight = norm * norm;
            if tight.hi < gram.hi {
                gram = tight;
            }
        }
        lower_side.max(upper_side(gram))
    }
}
