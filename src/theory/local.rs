//! A sharper certified bound of `sup |D^2 h|` and `sup |Dh|` over a parameter ball, from the
//! layer structure ("layered bound"): the second derivative of an MLP is split into the terms
//! `Q_l (sigma_l'' * z_l'^2)` (curvature of the activations, weighted by the largest column of
//! the backward map `Q_l = dz_L/da_l`) and `2 c_l P_l V_l a_{l-1}'` (products of two weight
//! directions), each bounded with local activation derivatives over the ball.
//!
//! Proof: `proofs/theory-local-constant.md`. Cost: one interval forward pass over the inputs
//! plus `O(p)` norm computations (and `O(k^3)` for the spectral bound of a layer whose smaller
//! side `k` is at most 64): no backward pass, no `p x p` work.

use crate::arith::fast_interval::FastInterval;
use crate::model::bounds::{derivative_bounds_on_ball, hidden_of_forward, mlp_bounds_on_ball, DerivativeBounds, HiddenActivations};
use crate::model::layered::mlp_layered;
use crate::model::mlp::{Mlp, MlpTaylor};
use crate::problem::{Architecture, Problem};
use inari::Interval;

/// Per-input bounds over the ball `B(w0, radius)` (every `w` with `|w - v| <= radius` for some
/// `v` in the box `w0`), and the per-term decomposition of the curvature bound.
#[derive(Debug, Clone)]
pub struct LayeredBounds {
    /// The same bounds as [`DerivativeBounds`]: per input, `sup |Dh_i|` and `sup |D^2 h_i|`.
    pub bounds: DerivativeBounds,
    /// The box recursion of `proofs/derivative-bounds.md` (ball version), for comparison.
    pub box_bounds: DerivativeBounds,
}

/// One interval forward pass at `w0` over all inputs (in the fast rigorous interval type, as
/// `model::bounds`), shared by the bounds below and by the computation of `R0` (for an MLP;
/// nothing for the quadratic family).
pub struct Forward {
    mlp: Option<ForwardPass>,
}

/// The network (interval constants), its outputs `h(w0)` and its hidden activations at `w0`.
struct ForwardPass {
    net: Mlp<Interval>,
    outputs: Vec<Interval>,
    hidden: HiddenActivations,
}

impl Forward {
    pub fn new(problem: &Problem) -> Self {
        let mlp = match &problem.architecture {
            Architecture::Quadratic(_) => None,
            Architecture::Mlp(arch) => {
                let mut t = MlpTaylor::new(Mlp::<FastInterval>::new(arch, &problem.inputs));
                t.forward(&[problem.params0.iter().map(|&v| FastInterval::from_inari(v)).collect()], 0);
                Some(ForwardPass {
                    net: Mlp::<Interval>::new(arch, &problem.inputs),
                    outputs: t.outputs(0).iter().map(|v| v.to_inari()).collect(),
                    hidden: hidden_of_forward(&t),
                })
            }
        };
        Forward { mlp }
    }

    /// `h(w0)` for an MLP (input-major), `None` for the quadratic family.
    pub fn outputs(&self) -> Option<Vec<Interval>> {
        self.mlp.as_ref().map(|f| f.outputs.clone())
    }

    /// The network and its hidden activations at `w0` for an MLP, `None` for the quadratic
    /// family.
    pub fn hidden(&self) -> Option<(&Mlp<Interval>, &HiddenActivations)> {
        self.mlp.as_ref().map(|f| (&f.net, &f.hidden))
    }
}

/// Certified `sup |Dh_i|` and `sup |D^2 h_i|` over the ball: the per-input minimum of the
/// layered bound and the box recursion (`model::bounds::derivative_bounds_on_ball`).
pub fn layered_bounds_on_ball(problem: &Problem, radius: f64) -> LayeredBounds {
    layered_bounds_with(problem, &Forward::new(problem), radius)
}

/// As [`layered_bounds_on_ball`], reusing the forward pass `fwd` of this problem.
pub fn layered_bounds_with(problem: &Problem, fwd: &Forward, radius: f64) -> LayeredBounds {
    match &fwd.mlp {
        None => {
            let b = derivative_bounds_on_ball(problem, &problem.params0, radius);
            LayeredBounds { bounds: b.clone(), box_bounds: b }
        }
        Some(ForwardPass { net, hidden, .. }) => {
            let box_bounds = mlp_bounds_on_ball(net, hidden, &problem.params0, radius);
            let layered = mlp_layered(net, hidden, &problem.params0, radius);
            let bounds = layered.min(&box_bounds);
            LayeredBounds { bounds, box_bounds }
        }
    }
}

