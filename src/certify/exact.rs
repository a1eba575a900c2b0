//! Exact special cases of the gradient flow (issue 20, deliverable 4): problems whose deviation
//! is `D = 0` identically, proved as such rather than enclosed by the integrator's widths.
//! Proof: `proofs/tube-integrator.md`, "Exact special cases". The checker recognises the same
//! cases from the spec with its own code (`proofs/checker.md`, "Exact special cases"); nothing
//! here is trusted by it.
//!
//! - [`stationary`]: the field vanishes at `w0` exactly (e.g. all-zero weights of a tanh net
//!   without biases): nothing moves, `D = 0` and both models' outputs stay `alpha g(w0)`.
//! - [`linear_in_w`], [`exact_deviation`]: models linear in `w` (no hidden layer; the quadratic
//!   family with `L = 0`) and `T = 0` have `D = 0` on `[0, T]`; the integrator's pass still
//!   encloses the outputs, [`exact_deviation`] replaces its enclosures of `D` by the point 0.

use super::{Certified, InitialState, Verdict};
use crate::arith::vector::point;
use crate::enclose::tight::TightInterval;
use crate::model::flow::GradientFlow;
use crate::problem::{Architecture, Problem};
use inari::Interval;
use num_traits::Zero;

/// Relative room of the outputs claimed by [`stationary`] (`2^-42`, as the integrator's
/// claims), plus `2^-900` absolute: the checker's own enclosures, rounded differently, may
/// stick out of these by a few ulps or by its radii's absolute floor (`2^-1000` per operation).
const ROOM_RELATIVE: f64 = 1.0 / 4_398_046_511_104.0;

/// Whether `h(w)` is affine in `w` for every input, read from the spec's architecture: an MLP
/// with no hidden layer (`h = c W x + b`, the activations apply to hidden layers only), or the
/// quadratic family `sqrt(lambda) w + (L/2) w^2` with `L = 0`. Then `h(w) = h(w0) + J0 (w - w0)`
/// is its own linearisation and `D = 0` at every time (`proofs/tube-integrator.md`, "Exact
/// special cases", Lemma X2).
pub fn linear_in_w(problem: &Problem) -> bool {
    match &problem.architecture {
        Architecture::Mlp(a) => a.widths.len() == 2,
        Architecture::Quadratic(q) => q.lipschitz.is_zero(),
    }
}

/// `result` with `sup D = D(T) = 0` exactly and the verdict `certified` when the deviation is
/// zero identically on `[0, T]`: a model linear in `w` ([`linear_in_w`]) or `T = 0` (`D(0) =
/// |r0 - r0| = 0`), gradient flow on a finite horizon or `horizon = "inf"` (Lemma X2 holds for all
/// `t`). The outputs stay the integrator's enclosures. Unchanged otherwise, and when the pass
/// gave up (whole-line outputs: its hinted steps do not cover `[0, T]`, and the checker would
/// have nothing to integrate on).
pub fn exact_deviation(problem: &Problem, result: Certified) -> Certified {
    let zero_horizon = problem.horizon.value.is_zero() && !problem.infinite_horizon;
    if problem.descent().is_some() || !(linear_in_w(problem) || zero_horizon) {
        return result;
    }
    let finite = |v: &[Interval]| v.iter().all(|x| x.inf().is_finite() && x.sup().is_finite());
    if !(finite(&result.outputs_final) && finite(&result.linear_outputs_final)) {
        return result;
    }
    Certified { verdict: Verdict::Certified, reason: None, sup_deviation: point(0.0), final_deviation: point(0.0), ..result }
}

/// `Some` certified result with `D = 0` and no steps when the field `F(w0) = -(1/alpha) J0^T r0`
/// is exactly 0 (every enclosure of the field at `w0` is the point 0), else `None`. Then `w0` is
/// an equilibrium of the flow (with or without the penalty, which vanishes at `w0`), and
/// `K0 r0 = J0 (J0^T r0) = 0`, so `rbar = r0` solves the linearised flow: `D = 0` and both models'
/// outputs are `alpha g(w0)` at every time (`proofs/tube-integrator.md`, "Exact special cases",
/// Lemma X1). Gradient flow only (the caller filters gradient descent).
pub fn stationary(problem: &Problem, initial: &InitialState) -> Option<Certified> {
    let start: Vec<TightInterval> = problem.params0.iter().map(|&v| TightInterval(v)).collect();
    let mut flow = GradientFlow::<Vec<TightInterval>>::new(problem, initial.offset.as_deref());
    let field = flow.along(std::slice::from_ref(&start), 0).to_intervals().field.swap_remove(0);
    if !field.iter().all(|f| f.inf() == 0.0 && f.sup() == 0.0) {
        return None;
    }
    // alpha g(w0): 0 when centred (g = h - h(w0)), else alpha h(w0); with room for the checker.
    let alpha = problem.alpha.enclosure;
    let outputs: Vec<Interval> = if problem.centred {
        vec![point(0.0); initial.outputs.len()]
    } else {
        initial.outputs.iter().map(|&h| with_room(alpha * h)).collect()
    };
    Some(Certified::exactly_zero(problem, outputs, initial.half_r0_sq))
}

/// `x` widened by [`ROOM_RELATIVE`] of its magnitude plus `2^-900` on each side (a superset of
/// an enclosure is an enclosure).
fn with_room(x: Interval) -> Interval {
    if !x.is_common_interval() {
        return x;
    }
    let room = (point(x.mag()) * point(ROOM_RELATIVE)).sup() + 2f64.powi(-900);
    x + crate::arith::vector::symmetric(room)
}
