//! The linearised flow in function space: `rbar' = -K0 rbar`, `K0 = J0 J0^T`, so
//! `rbar(t) = exp(-K0 t) rbar(0)`; with the penalty `(lambda/2)|w - w0|^2`,
//! `rbar' = -(K0 + lambda I) rbar + lambda rbar(0)`. Enclosed step by step: without the penalty a
//! Taylor polynomial with float coefficients and its enclosed defect (Lemma D), with it Taylor
//! polynomials with an explicit remainder (Lemma P); no inverse or eigendecomposition, so a
//! singular or badly conditioned `K0` costs nothing. Proof: `proofs/matrix-exponential.md`.

use super::poly;
use crate::arith::ball::Ball;
use crate::arith::fast_interval::FastInterval;
use crate::arith::scalar::Scalar;
use crate::model::flow::jacobian;
use crate::problem::Problem;
use inari::Interval;
use crate::arith::spd::lambda_max_upper;
use rayon::prelude::*;

/// `K0` enclosed, and an upper bound of its 2-norm.
#[derive(Debug, Clone)]
pub struct LinearFlow {
    /// `N x N` midpoint-radius balls (`arith::ball`), containing `J(w0) J(w0)^T` for every
    /// `w0` in the initial box.
    pub kernel: Vec<Vec<Ball>>,
    /// `>= |K0|_2`: the smaller of the Frobenius norm of the magnitudes and the largest-eigenvalue
    /// bound of `arith::spd` (`K0` is symmetric positive semi-definite, so `|K0|_2 = lambda_max`).
    pub kernel_norm: f64,
    /// With the penalty (`lambda > 0`): `lambda` and the anchor `rbar(0)`.
    penalty: Option<Penalty>,
}

/// The penalty's terms of the linearised flow: `rbar' = -(K0 + lambda I) rbar + lambda r0`.
#[derive(Debug, Clone)]
struct Penalty {
    lambda: Ball,
    /// `>= lambda`.
    lambda_hi: f64,
    /// `r0` lies in the ball `B(anchor, anchor_radius)`.
    anchor: Vec<f64>,
    anchor_radius: f64,
}

/// The enclosure of one step `[t_k, t_k + h]`.
#[derive(Debug, Clone)]
pub struct LinearStep {
    /// The coefficients of the step's polynomial (points without the penalty: floats near
    /// `(-K0)^j c / j!`; with it, enclosures of the exact Taylor coefficients), `j <= q`.
    pub coeffs: Vec<Vec<FastInterval>>,
    /// `rbar(t_k + s)` lies within this distance of `sum_j coeffs[j] s^j` for all s in [0, h].
    pub radius: f64,
    /// `sum_j coeffs[j] h^j`: `rbar(t_k + h)` lies within `radius` of a point of this box.
    pub end: Vec<FastInterval>,
    /// The ball `B(next_centre, next_spread)` contains the box `end` (`poly::advance`).
    next_centre: Vec<f64>,
    next_spread: f64,
}

impl LinearStep {
    /// The next step's centre and radius: `rbar(t_k + h)` lies in the ball they describe.
    pub fn next_ball(&self) -> (Vec<f64>, f64) {
        (self.next_centre.clone(), (FastInterval::point(self.radius) + FastInterval::point(self.next_spread)).hi)
    }
}

impl LinearFlow {
    /// `w0`: the initial parameter box. The Jacobian and `K0 = J J^T` are enclosed in balls
    /// (`proofs/fast-interval.md`, section "Balls"); `K0` is symmetric, so only `b >= a` is
    /// computed and mirrored (the same enclosure of the same real number).
    /// `r0`: the enclosure of `rbar(0)` (the anchor of the penalty's term).
    pub fn new(problem: &Problem, w0: &[Interval], r0: &[Interval]) -> Self {
        let start: Vec<Ball> = w0.iter().map(|&v| Ball::from_interval(v)).collect();
        let j = jacobian::<Ball>(problem, &start);
        let n = j.len();
        let upper: Vec<Vec<Ball>> = (0..n)
            .into_par_iter()
            .map(|a| (a..n).map(|b| Ball::dot(Ball::ZERO, &j[a], &j[b])).collect())
            .collect();
        let kernel: Vec<Vec<Ball>> =
            (0..n).map(|a| (0..n).map(|b| if b >= a { upper[a][b - a] } else { upper[b][a - b] }).collect()).collect();
        let mut flow = Self::from_kernel(kernel);
        let lambda = problem.regularization.enclosure;
        let penalty = (lambda.sup() > 0.0).then(|| {
            let anchor: Vec<f64> = r0.iter().map(|v| v.mid()).collect();
            let offsets: Vec<FastInterval> =
                r0.iter().zip(&anchor).map(|(&v, &c)| FastInterval::from_inari(v) - FastInterval::point(c)).collect();
            Penalty { lambda: Ball::from_interval(lambda), lambda_hi: lambda.sup(), anchor, anchor_radius: poly::norm2_upper(&offsets) }
        });
        flow.penalty = penalty;
        flow
    }

    /// The flow `rbar' = -K rbar` (no penalty) of a given kernel: `kernel` (`N x N` balls)
    /// contains a symmetric positive semi-definite `K`, e.g. the infinite-width `Theta`
    /// (`kernel::prediction`). `kernel_norm` as in [`new`](Self::new).
    pub fn from_kernel(kernel: Vec<Vec<Ball>>) -> Self {
        let n = kernel.len();
        let flat: Vec<FastInterval> = kernel.iter().flatten().map(|k| k.to_fast()).collect();
        let kernel_norm = poly::norm2_upper(&flat).min(lambda_max_upper(&flat, n));
        LinearFlow { kernel_norm, kernel, penalty: None }
    }

    /// `>= |K0 + lambda I|_2 = |K0|_2 + lambda` (both symmetric positive semi-definite).
    fn system_norm(&self) -> f64 {
        match &self.penalty {
            None => self.kernel_norm,
            Some(p) => (FastInterval::point(self.kernel_norm) + FastInterval::point(p.lambda_hi)).hi,
        }
    }

    /// The largest step for which the remainder factor `(|K0| h)^{q+1} / (q+1)!` is below `tol`.
    pub fn max_step(&self, order: usize, tol: f64) -> f64 {
        let norm = self.system_norm();
        if norm == 0.0 {
            return f64::INFINITY;
        }
        let log_fact: f64 = (1..=order + 1).map(|i| (i as f64).ln()).sum();
        ((tol.ln() + log_fact) / (order + 1) as f64).exp() / norm
    }

    /// A step length for which the defect bound's top term `|K0| |R_q| h^{q+1} / (q+1)` (Lemma D
    /// of `proofs/matrix-exponential.md`) at `centre` is about `tol` (absolute), at least
    /// [`max_step`](Self::max_step)`(order, relative)`: once the residual's components along the
    /// large eigenvalues have decayed, `|K0^q c|` is far below `|K0|^q |c|` and the steps may be
    /// as long as the network's. A heuristic (floats): `step` proves.
    pub fn step_cap(&self, centre: &[f64], order: usize, relative: f64, tol: f64) -> f64 {
        let crude = self.max_step(order, relative);
        if self.penalty.is_some() || self.kernel_norm == 0.0 {
            return crude;
        }
        let series = self.point_series(centre, order);
        let top = series[order].iter().map(|c| c * c).sum::<f64>().sqrt();
        crude.max(top_term_step(tol, order, self.kernel_norm, top))
    }

    /// `R_0 = c`, `R_{j+1}` the float nearest the computed `-K0 R_j / (j+1)` (midpoints of
    /// `self.kernel`): any floats serve as the path's coefficients (Lemma D); these make its
    /// defect small.
    fn point_series(&self, centre: &[f64], order: usize) -> Vec<Vec<f64>> {
        let mut coeffs = vec![centre.to_vec()];
        for j in 0..order {
            let inv = 1.0 / (j + 1) as f64;
            let next = self.kernel.iter().map(|row| -row.iter().zip(&coeffs[j]).map(|(k, c)| k.mid * c).sum::<f64>() * inv).collect();
            coeffs.push(next);
        }
        coeffs
    }

    /// One step from `rbar(t_k)` in the ball `B(centre, radius)` over `s in [0, h.sup()]`;
    /// `h` encloses the step length. The path `sum_j R_j s^j` has exact float coefficients
    /// (`point_series`) and its defect is enclosed (Lemma D of `proofs/matrix-exponential.md`):
    /// no radius grows through the recurrence, so long steps stay narrow.
    pub fn step(&self, centre: &[f64], radius: f64, h: Interval, order: usize) -> LinearStep {
        if let Some(penalty) = &self.penalty {
            return self.penalised_step(penalty, centre, radius, h, order);
        }
        let series = self.point_series(centre, order);
        let big_h = FastInterval::point(h.sup());
        // int_0^H |delta| <= sum_{j<q} |D_j| H^{j+1}/(j+1) + |K0 R_q| H^{q+1}/(q+1), with
        // D_j = (j+1) R_{j+1} + K0 R_j enclosed in balls (the kernel's balls contain K0).
        let applied = |v: &[f64]| -> Vec<Ball> {
            let balls: Vec<Ball> = v.iter().map(|&x| Ball::point(x)).collect();
            self.kernel.iter().map(|row| Ball::dot(Ball::ZERO, row, &balls)).collect()
        };
        let norm = |v: &[Ball]| poly::norm2_upper(&v.iter().map(|b| b.to_fast()).collect::<Vec<_>>());
        let mut defect = FastInterval::ZERO;
        for j in 0..order {
            let scale = Ball::point((j + 1) as f64);
            let d: Vec<Ball> = applied(&series[j]).into_iter().zip(&series[j + 1]).map(|(k, &next)| scale * Ball::point(next) + k).collect();
            defect = defect + FastInterval::point(norm(&d)) * poly::pow_nonneg(big_h, j as u32 + 1) / FastInterval::point((j + 1) as f64);
        }
        let top = FastInterval::point(norm(&applied(&series[order])));
        defect = defect + top * poly::pow_nonneg(big_h, order as u32 + 1) / FastInterval::point((order + 1) as f64);
        let coeffs: Vec<Vec<FastInterval>> = series.iter().map(|c| c.iter().map(|&x| FastInterval::point(x)).collect()).collect();
        let centre_norm = poly::norm2_upper(&coeffs[0]);
        if !(defect.hi <= centre_norm) {
            // A long step (the defect exceeds |c|, or overflowed): the resting bound of the proof's Lemma R,
            // |exp(-K0 s) d| <= |d| for every d in the ball: the zero polynomial, the radius
            // grown by |c|, and the next ball centred at 0 (its radius no longer grows).
            let zero = vec![0.0; centre.len()];
            let coeffs = vec![vec![FastInterval::ZERO; centre.len()]; order + 1];
            let total = (FastInterval::point(radius) + FastInterval::point(centre_norm)).hi;
            return finish(&zero, coeffs, total, h);
        }
        let total = (FastInterval::point(radius) + defect).hi;
        finish(centre, coeffs, total, h)
    }

    /// Whether `rbar` in the ball `B(centre, radius)` is at rest to within `tol`: then a step of
    /// any length costs at most `|centre| + radius <= tol` of enclosure width (the resting bound
    /// of [`step`](Self::step)), so the linearised flow does not limit the step length. Never
    /// with the penalty (whose flow rests elsewhere than 0).
    pub fn at_rest_within(&self, centre: &[f64], radius: f64, tol: f64) -> bool {
        if self.penalty.is_some() {
            return false;
        }
        let c: Vec<FastInterval> = centre.iter().map(|&x| FastInterval::point(x)).collect();
        (FastInterval::point(poly::norm2_upper(&c)) + FastInterval::point(radius)).hi <= tol
    }

    /// [`step`](Self::step) with the penalty (Lemma P of the proof): `A = K0 + lambda I`,
    /// `coeffs[1] = -A c + lambda anchor`, `coeffs[j+1] = -A coeffs[j] / (j+1)`; the remainder
    /// `|coeffs[1]| |A|^q s^{q+1} / (q+1)!`, the start ball's radius (the flow map is
    /// non-expansive) and the anchor's uncertainty times `lambda s`.
    fn penalised_step(&self, penalty: &Penalty, centre: &[f64], radius: f64, h: Interval, order: usize) -> LinearStep {
        let lambda = penalty.lambda;
        let apply = |v: &[Ball]| -> Vec<Ball> {
            self.kernel.iter().zip(v).map(|(row, &vi)| -(Ball::dot(Ball::ZERO, row, v) + lambda * vi)).collect()
        };
        let start: Vec<Ball> = centre.iter().map(|&c| Ball::point(c)).collect();
        let mut balls: Vec<Ball> = apply(&start).into_iter().zip(&penalty.anchor).map(|(v, &a)| v + lambda * Ball::point(a)).collect();
        let mut coeffs: Vec<Vec<FastInterval>> = Vec::with_capacity(order + 1);
        coeffs.push(centre.iter().map(|&c| FastInterval::point(c)).collect());
        coeffs.push(balls.iter().map(|b| b.to_fast()).collect());
        let first_norm = poly::norm2_upper(&coeffs[1]);
        for j in 1..order {
            let inv = Ball::from_fast(FastInterval::point(1.0) / FastInterval::point((j + 1) as f64));
            balls = apply(&balls).into_iter().map(|b| b * inv).collect();
            coeffs.push(balls.iter().map(|b| b.to_fast()).collect());
        }
        // |u(s) - sum_{j<=q} coeffs[j] s^j| <= |coeffs[1]| |A|^q s^{q+1} / (q+1)!.
        let s = FastInterval::point(h.sup());
        let power = poly::pow_nonneg(FastInterval::point(self.system_norm()), order as u32) * poly::pow_nonneg(s, order as u32 + 1);
        let factor = over_factorial(power, order + 1);
        let remainder = factor * FastInterval::point(first_norm);
        let anchor_part = FastInterval::point(penalty.lambda_hi) * s * FastInterval::point(penalty.anchor_radius);
        let total = (FastInterval::point(radius) + remainder + anchor_part).hi;
        finish(centre, coeffs, total, h)
    }
}

/// The step `h` at which the top term `|K0| |R_q| h^{q+1} / (q+1)` of Lemma D's defect bound is
/// `tol`, for `kernel_norm >= |K0|` and `top = |R_q|` (infinite when `R_q = 0`): the linearised
/// flow's step cap, for `LinearFlow::step_cap` and `simulate` (floats: a proposal only).
pub fn top_term_step(tol: f64, order: usize, kernel_norm: f64, top: f64) -> f64 {
    if !(top > 0.0) {
        return f64::INFINITY;
    }
    (tol * (order + 1) as f64 / (kernel_norm * top)).powf(1.0 / (order + 1) as f64)
}

/// The linearised gradient-descent map `M rbar + eta lambda r0`, `M = (1 - eta lambda) I - eta
/// K0` (Lemma D2 of `proofs/gradient-descent.md`), for a learning rate `eta`.
#[derive(Debug, Clone)]
pub struct LinearDescent {
    eta: Ball,
    /// `>= |M|_2 = max(|1 - eta lambda|, |1 - eta lambda - eta lambda_max(K0)|)`.
    pub contraction: f64,
}

impl LinearFlow {
    /// An upper bound of `|rbar'|_2 = |-(K0 + lambda I) rbar + lambda r0|_2` for every `rbar` in
    /// `B(centre, radius)`: the ball value at the centre, plus `(|K0| + lambda) radius` and
    /// `lambda` times the anchor's uncertainty (`proofs/infinite-horizon.md`, Lemma T2).
    pub fn velocity_bound(&self, centre: &[f64], radius: f64) -> f64 {
        // |rbar'| at the centre is |pull|: negation is exact.
        let velocity: Vec<FastInterval> = self.pull(centre).iter().map(|b| b.to_fast()).collect();
        let lambda_hi = self.penalty.as_ref().map_or(0.0, |p| p.lambda_hi);
        let anchor = self.penalty.as_ref().map_or(0.0, |p| p.anchor_radius);
        let spread = FastInterval::point(self.system_norm()) * FastInterval::point(radius) + FastInterval::point(lambda_hi) * FastInterval::point(anchor);
        (FastInterval::point(poly::norm2_upper(&velocity)) + spread).hi
    }

    /// `K0 c + lambda (c - a)` in balls at the point `c` (`a` the centre of `r0`'s enclosure; no
    /// penalty term without the penalty): minus the linearised flow's velocity at `c`, and what
    /// a descent step subtracts times `eta`.
    fn pull(&self, centre: &[f64]) -> Vec<Ball> {
        let start: Vec<Ball> = centre.iter().map(|&c| Ball::point(c)).collect();
        self.kernel
            .iter()
            .zip(&start)
            .enumerate()
            .map(|(i, (row, &c))| {
                let pull = Ball::dot(Ball::ZERO, row, &start);
                match &self.penalty {
                    Some(p) => pull + p.lambda * (c - Ball::point(p.anchor[i])),
                    None => pull,
                }
            })
            .collect()
    }

    /// A lower bound of `lambda_max(K0)`: the Rayleigh quotient `v^T K0 v / v^T v` (balls,
    /// rounded down) of a float power-iteration vector `v` (any `v` gives a lower bound).
    pub fn largest_eigenvalue_lower(&self) -> f64 {
        let n = self.kernel.len();
        let mut v = vec![1.0; n];
        for _ in 0..50 {
            let w: Vec<f64> = self.kernel.iter().map(|row| row.iter().zip(&v).map(|(k, x)| k.mid * x).sum()).collect();
            let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
            if !(norm > 0.0 && norm.is_finite()) {
                return 0.0;
            }
            v = w.iter().map(|x| x / norm).collect();
        }
        let balls: Vec<Ball> = v.iter().map(|&x| Ball::point(x)).collect();
        let image: Vec<Ball> = self.kernel.iter().map(|row| Ball::dot(Ball::ZERO, row, &balls)).collect();
        let quotient = Ball::dot(Ball::ZERO, &balls, &image).to_fast() / Ball::dot(Ball::ZERO, &balls, &balls).to_fast();
        quotient.lo.max(0.0)
    }

    /// The map of one linearised descent step with learning rate `eta` (enclosed). `K0` is
    /// symmetric positive semi-definite with `lambda_max <= kernel_norm`, so the eigenvalues of
    /// `M` lie in `[1 - eta lambda - eta kernel_norm, 1 - eta lambda]`.
    pub fn descent(&self, eta: Interval) -> LinearDescent {
        let eta_f = FastInterval::from_inari(eta);
        let lambda = self.penalty.as_ref().map_or(FastInterval::ZERO, |p| p.lambda.to_fast());
        let top = FastInterval::point(1.0) - eta_f * lambda;
        let bottom = top - eta_f * FastInterval::point(self.kernel_norm);
        LinearDescent { eta: Ball::from_interval(eta), contraction: top.magnitude().max(bottom.magnitude()) }
    }

    /// One linearised descent step from `rbar_k` in the ball `B(centre, radius)`:
    /// `rbar_{k+1} = rbar_k - eta (K0 rbar_k + lambda (rbar_k - r0))` lies in the returned ball
    /// (Lemma D2: `|M| radius`, the rounding of the centre's image, and `eta lambda` times the
    /// anchor's uncertainty).
    pub fn descent_step(&self, map: &LinearDescent, centre: &[f64], radius: f64) -> (Vec<f64>, f64) {
        let image: Vec<Ball> = centre.iter().zip(self.pull(centre)).map(|(&c, pull)| Ball::point(c) - map.eta * pull).collect();
        let next: Vec<f64> = image.iter().map(|b| b.mid).collect();
        let spread: Vec<FastInterval> = image.iter().map(|b| FastInterval { lo: -b.rad, hi: b.rad }).collect();
        let mut total = FastInterval::point(map.contraction) * FastInterval::point(radius) + FastInterval::point(poly::norm2_upper(&spread));
        if let Some(p) = &self.penalty {
            total = total + map.eta.to_fast() * FastInterval::point(p.lambda_hi) * FastInterval::point(p.anchor_radius);
        }
        (next, total.hi)
    }
}

/// `x / n!` enclosed, dividing by `1, 2, ..., n` in turn.
fn over_factorial(x: FastInterval, n: usize) -> FastInterval {
    (1..=n).fold(x, |acc, i| acc / FastInterval::point(i as f64))
}

/// The step's end box and next ball from its coefficients and radius.
fn finish(centre: &[f64], coeffs: Vec<Vec<FastInterval>>, total: f64, h: Interval) -> LinearStep {
    // end = c + h sum_{j>=1} coeffs[j] h^{j-1}; the next centre by an exact TwoSum.
    let hi = FastInterval::from_inari(h);
    let increment: Vec<FastInterval> =
        poly::horner(&coeffs[1..], hi).into_iter().map(|v| poly::mul_add_nonneg(v, hi, FastInterval::ZERO)).collect();
    let (next_centre, next_spread) = poly::advance(centre, &increment);
    let end = coeffs[0].iter().zip(&increment).map(|(&c, &d)| c + d).collect();
    LinearStep { coeffs, radius: total, end, next_centre, next_spread }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arith::rational::Exact;
    use crate::problem::{Activation, Architecture, Method, MlpArchitecture, Parameterization};
    use crate::reference::linear_flow_from;

    fn thin(v: f64) -> Interval {
        Interval::try_from((v, v)).expect("point")
    }

    fn problem() -> Problem {
        let arch = MlpArchitecture { widths: vec![2, 4, 1], activations: vec![Activation::Tanh], parameterization: Parameterization::Ntk, bias: true };
        let p = arch.num_params();
        Problem {
            name: "linear".into(),
            params0: (0..p).map(|i| thin(((i * 5 % 9) as f64 - 4.0) / 4.0)).collect(),
            architecture: Architecture::Mlp(arch),
            inputs: vec![vec![thin(0.5), thin(-1.0)], vec![thin(1.0), thin(0.25)], vec![thin(-0.75), thin(0.5)]],
            targets: vec![thin(1.0), thin(-0.5), thin(0.25)],
            centred: true,
            alpha: Exact::parse("2.5").expect("alpha"),
            horizon: Exact::from_integer(3),
            tolerance: Exact::from_integer(1),
            regularization: Exact::from_integer(0),
            method: Method::GradientFlow,
            infinite_horizon: false,
            reference_order: 1,
        }
    }

    /// A step encloses `exp(-K0 s) c` at sample times of `[0, h]` and at its end (the next
    /// ball), for short steps (the Taylor polynomial) and long ones (the resting bound of
    /// Lemma R), against the MPFR matrix exponential.
    #[test]
    fn steps_short_and_long_contain_the_matrix_exponential() {
        let problem = problem();
        let c = vec![0.75, -0.5, 0.25];
        let r0: Vec<Interval> = c.iter().map(|&x| thin(x)).collect();
        let flow = LinearFlow::new(&problem, &problem.params0, &r0);
        for h in [0.05, 0.5, 40.0, 1e6] {
            let step = flow.step(&c, 0.0, thin(h), 12);
            for frac in [0.0, 0.1, 0.37, 0.8, 1.0] {
                let s = h * frac;
                let exact = linear_flow_from(&problem, &c, s, 200);
                let poly: Vec<FastInterval> = poly::horner(&step.coeffs, FastInterval::point(s));
                let dist: f64 = exact.iter().zip(&poly).map(|(e, p)| {
                    let e = e.to_f64();
                    if e < p.lo { p.lo - e } else if e > p.hi { e - p.hi } else { 0.0 }
                }).map(|d| d * d).sum::<f64>().sqrt();
                assert!(dist <= step.radius * (1.0 + 1e-12) + 1e-15, "h = {h}, s = {s}: off by {dist:e} > radius {:e}", step.radius);
            }
            let (next, radius) = step.next_ball();
            let exact = linear_flow_from(&problem, &c, h, 200);
            let dist: f64 = exact.iter().zip(&next).map(|(e, &m)| (e.to_f64() - m).powi(2)).sum::<f64>().sqrt();
            assert!(dist <= radius * (1.0 + 1e-12) + 1e-15, "h = {h}: next ball misses by {dist:e} > {radius:e}");
        }
    }
}
