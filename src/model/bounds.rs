//! Norm bounds of `Dh` and `D^2 h` (derivatives with respect to the parameters) over a box of
//! parameters, from the layer structure: cost about one forward pass, no `p x p` work.
//!
//! Proof: `proofs/derivative-bounds.md` (box recursion; for an MLP the minimum with the layered
//! bound of `model::layered`, `proofs/theory-local-constant.md`). For each input `x_i` the
//! returned values satisfy, for
//! every `w` in the box and every direction `v`,
//! `|Dh_i(w) v| <= gradient[i] |v|` and `|D^2 h_i(w)[v, v]| <= hessian[i] |v|^2`,
//! where `h_i(w)` is the vector of the network's outputs on `x_i` (2-norms).

use super::activation::global_derivative_bounds;
use super::mlp::{Mlp, MlpTaylor};
use crate::arith::fast_interval::FastInterval;
use crate::arith::rational::rational_to_interval;
use crate::arith::scalar::Scalar;
use crate::arith::vector::point;
use crate::enclose::poly;
use crate::problem::{Architecture, MlpArchitecture, Problem};
use inari::{const_interval, Interval};

/// Per-input bounds; see the module documentation.
#[derive(Debug, Clone)]
pub struct DerivativeBounds {
    pub gradient: Vec<f64>,
    pub hessian: Vec<f64>,
}

impl DerivativeBounds {
    /// The per-input minimum of two bounds over the same region (each entry of either is an
    /// upper bound, so the smaller one is).
    pub fn min(&self, other: &DerivativeBounds) -> DerivativeBounds {
        let pick = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x.min(*y)).collect();
        DerivativeBounds { gradient: pick(&self.gradient, &other.gradient), hessian: pick(&self.hessian, &other.hessian) }
    }

    /// An upper bound of the operator norm of the stacked Jacobian `Dh(w)` (`N x p`).
    pub fn gradient_total(&self) -> f64 {
        root_sum_squares(&self.gradient)
    }
    /// An upper bound of `sup_{|v|=1} |D^2 h(w)[v, v]|` for the stacked outputs.
    pub fn hessian_total(&self) -> f64 {
        root_sum_squares(&self.hessian)
    }
}

/// An upper bound of `sqrt(sum x_i^2)` (inari, rounded up).
pub(crate) fn root_sum_squares(v: &[f64]) -> f64 {
    let mut s = const_interval!(0.0, 0.0);
    for &x in v {
        s += point(x).sqr();
    }
    s.sqrt().sup()
}

/// Bounds over the union of the 2-norm balls of radius `radius` around the points of the box
/// `centre` (for example the reachable ball `B(w0, sqrt(T R0)/alpha)` of MATH.md F2).
pub fn derivative_bounds_on_ball(problem: &Problem, centre: &[Interval], radius: f64) -> DerivativeBounds {
    region_bounds(problem, centre, Some(radius))
}

/// As [`derivative_bounds_on_ball`] for an MLP, given the hidden activations over the box
/// `centre` ([`HiddenActivations`]), so that callers needing the forward pass for other purposes
/// do not repeat it (used by `theory::local`).
pub fn mlp_bounds_on_ball(net: &Mlp<Interval>, hidden: &HiddenActivations, centre: &[Interval], radius: f64) -> DerivativeBounds {
    mlp_bounds(net, hidden, centre, Some(radius))
}

/// Enclosures of the hidden activations `a_l(x_i; w)` over a box of parameters: entry `l - 1`
/// holds layer `l` (`1 <= l < L`), input-major (`n x width_l`). Any enclosure serves: the
/// forward pass of [`hidden_activations`], or the order-0 coefficients of a Taylor expansion
/// over the same box (`model::flow::GradientFlow::start_activations`).
pub type HiddenActivations = Vec<Vec<Interval>>;

/// The hidden activations of `net` over the box `w` by one forward pass in the fast interval
/// type (inari's tanh calls MPFR per endpoint, far too slow for one pass per integration step).
pub fn hidden_activations(arch: &MlpArchitecture, inputs: &[Vec<Interval>], w: &[Interval]) -> HiddenActivations {
    let mut taylor = MlpTaylor::new(Mlp::<FastInterval>::new(arch, inputs));
    taylor.forward(&[w.iter().map(|&v| FastInterval::from_inari(v)).collect()], 0);
    hidden_of_forward(&taylor)
}

/// The hidden activations held by a forward pass (`taylor.forward(.., 0)` has run), as inari
/// intervals.
pub fn hidden_of_forward(taylor: &MlpTaylor<FastInterval>) -> HiddenActivations {
    (1..taylor.net.num_layers()).map(|l| taylor.activations(l, 0).iter().map(|v| v.to_inari()).collect()).collect()
}

/// Bounds over the box `w` (every real parameter vector with `w_j` in the interval `w[j]`).
/// `hidden`, if given, encloses the hidden activations over the box (ignored for the quadratic
/// family): the tube step passes those of its expansion over the box; otherwise one forward
/// pass computes them.
pub fn derivative_bounds(problem: &Problem, w: &[Interval], hidden: Option<&HiddenActivations>) -> DerivativeBounds {
    match (&problem.architecture, hidden) {
        (Architecture::Mlp(arch), Some(hidden)) => mlp_region_bounds(&Mlp::<Interval>::new(arch, &problem.inputs), hidden, w, None),
        _ => region_bounds(problem, w, None),
    }
}

fn region_bounds(problem: &Problem, w: &[Interval], ball: Option<f64>) -> DerivativeBounds {
    match &problem.architecture {
        Architecture::Quadratic(q) => {
            // Dh = sqrt(lambda) + L w, D^2 h = L.
            let l = rational_to_interval(&q.lipschitz);
            let slope = rational_to_interval(&q.lambda).sqrt();
            let w_mag = point(w[0].mag()) + point(ball.unwrap_or(0.0));
            let g = (slope.abs() + l.abs() * w_mag).sup();
            DerivativeBounds { gradient: vec![g], hessian: vec![l.abs().sup()] }
        }
        Architecture::Mlp(arch) => {
            let hidden = hidden_activations(arch, &problem.inputs, w);
            mlp_region_bounds(&Mlp::<Interval>::new(arch, &problem.inputs), &hidden, w, ball)
        }
    }
}

/// The per-input minimum of the box recursion (`proofs/derivative-bounds.md`) and the sharper
/// layered bound (`model::layered::mlp_layered`, `proofs/theory-local-constant.md`), both valid
/// over the same region: the union of the balls of radius `ball` (0 for a plain box) around the
/// points of the box `w`, with `hidden` enclosing the hidden activations over that box. The
/// independent checker re-derives both (`check::layered::tube_bounds`, `proofs/checker.md`
/// lemma LB).
fn mlp_region_bounds(net: &Mlp<Interval>, hidden: &HiddenActivations, w: &[Interval], ball: Option<f64>) -> DerivativeBounds {
    let layered = super::layered::mlp_layered(net, hidden, w, ball.unwrap_or(0.0));
    mlp_bounds(net, hidden, w, ball).min(&layered)
}

/// The layer recursion of `proofs/derivative-bounds.md`, per input, with first-order
/// coefficients `g` (a linear form in the per-layer direction norms `nu_l`) and second-order
/// coefficients `q` (a quadratic form in `nu`). Over a ball of radius `rho` around the box
/// `w`, `|W_l|_F <= |W_l(w)|_F + rho` and `|a_l| <= |a_l(w)| + rho sup|Da_l|`. Arithmetic in
/// the endpoint intervals of `arith::fast_interval` (the same formulas as in inari, rounded
/// outward one ulp more per operation; `proofs/fast-interval.md`); only upper ends are used.
fn mlp_bounds(net: &Mlp<Interval>, hidden: &HiddenActivations, w: &[Interval], ball: Option<f64>) -> DerivativeBounds {
    type F = FastInterval;
    let pt = F::point;
    let layers = net.num_layers();
    let two = pt(2.0);
    let rho = pt(ball.unwrap_or(0.0));
    // omega_l >= sup over the region of |W_l|_F >= |W_l|_2.
    let omegas: Vec<F> = (1..=layers).map(|l| pt(poly::norm2_upper(net.weights(w, l))) + rho).collect();
    let bias_term = if net.bias { pt(1.0) } else { F::ZERO };
    let d = net.widths[0];
    let mut gradient = Vec::with_capacity(net.num_inputs);
    let mut hessian = Vec::with_capacity(net.num_inputs);
    // Workspaces reused for every input: linear forms (length L) and quadratic forms (L x L,
    // row-major).
    let mut ga = vec![F::ZERO; layers];
    let mut qa = vec![F::ZERO; layers * layers];
    let mut gz = ga.clone();
    let mut qz = qa.clone();
    for i in 0..net.num_inputs {
        let mut a_norm = pt(poly::norm2_upper(&net.inputs[i * d..(i + 1) * d]));
        ga.fill(F::ZERO);
        qa.fill(F::ZERO);
        for l in 1..=layers {
            let c = pt(net.scales[l - 1].mag());
            let co = c * omegas[l - 1];
            // |z_l'| <= c omega |a'| + nu_l sqrt(c^2 |a|^2 + [bias])
            for (z, &a) in gz.iter_mut().zip(&ga) {
                *z = co * a;
            }
            gz[l - 1] = gz[l - 1] + Scalar::sqrt(c * c * a_norm * a_norm + bias_term);
            // |z_l''| <= c omega |a''| + 2 c nu_l |a'|
            for (z, &a) in qz.iter_mut().zip(&qa) {
                *z = co * a;
            }
            for k in 0..layers {
                qz[(l - 1) * layers + k] = qz[(l - 1) * layers + k] + two * c * ga[k];
            }
            if l == layers {
                break;
            }
            let (s1, s2) = global_derivative_bounds(net.activations[l - 1]);
            let (s1, s2) = (pt(s1), pt(s2));
            let width = net.widths[l];
            // |a_l'| <= s1 |z_l'|;  |a_l''| <= s2 |z_l'|^2 + s1 |z_l''|
            for (a, &z) in ga.iter_mut().zip(&gz) {
                *a = s1 * z;
            }
            for r in 0..layers {
                for k in 0..layers {
                    qa[r * layers + k] = s2 * gz[r] * gz[k] + s1 * qz[r * layers + k];
                }
            }
            a_norm = pt(poly::norm2_upper(&hidden[l - 1][i * width..(i + 1) * width]));
            if ball.is_some() {
                // Mean value inequality along the segment from the centre (inside the ball).
                a_norm = a_norm + rho * pt(poly::norm2_upper(&ga));
            }
        }
        gradient.push(poly::norm2_upper(&gz));
        hessian.push(poly::norm2_upper(&qz));
    }
    DerivativeBounds { gradient, hessian }
}
