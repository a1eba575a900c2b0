//! The tail of the regularised flow on `[T1, infinity)` (`horizon = "inf"`): once the penalty
//! makes the flow contract on a box around the enclosure at `T1`, the velocity decays
//! exponentially, so the parameters and the outputs move by a bounded amount for all later
//! times, and the linearised flow likewise. Proof: `proofs/infinite-horizon.md` (Lemmas T1, T2).

use super::linear::LinearFlow;
use super::tube::TubeIntegrator;
use crate::arith::fast_interval::FastInterval;
use crate::enclose::poly;
use crate::model::bounds::DerivativeBounds;

/// What the tail argument proves from `T1` on.
#[derive(Debug, Clone)]
pub struct Tail {
    /// `|w(t) - w(T1)| <= displacement` for every `t >= T1` (Lemma T1: `|w'(T1)| / m`).
    pub displacement: f64,
    /// `|rbar(t) - rbar(T1)| <= linear_displacement` for every `t >= T1` (Lemma T2:
    /// `|rbar'(T1)| / lambda`).
    pub linear_displacement: f64,
    /// Derivative bounds over the box that contains `w(t)` for all `t >= T1`.
    pub bounds: DerivativeBounds,
    /// The box's half-width around the centre.
    pub guard: f64,
    /// `m > 0` with `mu <= -m` over the box.
    pub contraction: f64,
}

/// Tries at most this many guards (each doubling the last).
const GUARD_TRIES: usize = 6;

/// The tail from the ball `B(centre, radius)` containing `w(T1)` and the ball `B(lin_centre,
/// lin_radius)` containing `rbar(T1)`; `Err` with the reason when the flow does not provably
/// contract around it (the loss curvature over the box is not below `lambda`).
pub fn tail(tube: &mut TubeIntegrator, linear: &LinearFlow, centre: &[f64], radius: f64, lin_centre: &[f64], lin_radius: f64) -> Result<Tail, String> {
    let lambda = tube.lambda_lower();
    if !(lambda > 0.0) {
        return Err("the tail argument needs regularization > 0".into());
    }
    let ball_box = |g: f64| -> Vec<FastInterval> { centre.iter().map(|&c| FastInterval::point(c) + FastInterval { lo: -g, hi: g }).collect() };
    // |w'(T1)| over a box containing the ball.
    let speed = poly::norm2_upper(&tube.field_over(&ball_box(radius)));
    let linear_displacement = (FastInterval::point(linear.velocity_bound(lin_centre, lin_radius)) / FastInterval::point(lambda)).hi;
    // First guess of the contraction: lambda itself (the loss curvature is small when lazy).
    let mut guard = 2.0 * (FastInterval::point(radius) + FastInterval::point(speed) / FastInterval::point(lambda)).hi + f64::MIN_POSITIVE;
    let mut last_curvature = f64::NAN;
    for _ in 0..GUARD_TRIES {
        let region = ball_box(guard);
        let over = tube.region_bounds(&region);
        last_curvature = over.loss_curvature;
        let m = (FastInterval::point(lambda) - FastInterval::point(over.loss_curvature)).lo;
        if !(m > 0.0) {
            break;
        }
        let displacement = (FastInterval::point(speed) / FastInterval::point(m)).hi;
        let reach = (FastInterval::point(radius) + FastInterval::point(displacement)).hi;
        // Lemma T1 needs the reach strictly inside the box's ball.
        if reach < guard {
            return Ok(Tail { displacement, linear_displacement, bounds: over.bounds, guard, contraction: m });
        }
        guard = 2.0 * reach;
    }
    Err(format!(
        "the tail argument did not close at T1: the flow must contract on a box around w(T1), but the residual-weighted curvature bound {last_curvature:.3e} is not below lambda = {lambda:.3e} there (|w'(T1)| <= {speed:.3e}); a larger [training] settle_time, a larger alpha or a larger lambda would help"
    ))
}
