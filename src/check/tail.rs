//! The checker's own tail argument for `horizon = "inf"` (the regularised flow for all
//! `t >= 0`): from its own balls at the settling time `T1` (the end of [`super::verify`]'s step
//! loop), its own field enclosure over the final ball's box, its own loss-curvature bound over
//! a box `Q` around it and its own `|rbar'(T1)|`, in its own arithmetic (MPFR balls of
//! [`super::ball`], f64 upper bounds inflated by [`up`]). The mathematics is Lemmas T1-T3 of
//! `proofs/infinite-horizon.md`, proved again for this code in `proofs/checker.md`, section
//! "The tail on `[T1, infinity)`" (Lemmas C1-C4).
//!
//! - [`tail`]: the displacement bounds of the true and the linearised flow after `T1`
//!   (Lemmas C1, C2), with the derivative bounds over `Q`.
//! - [`Tail::widen_output`], [`Tail::widen_linear`], [`Tail::spread`]: the widening of the
//!   enclosures at `T1` into enclosures valid for every `t >= T1` and the limits (Lemma C3).

use super::ball::{dot_acc, norm2_upper, up, Ball, PREC};
use super::series::{DerivativeBounds, FlowData, Net};
use rug::float::Round;
use rug::Float;

/// At most this many boxes are tried: the hinted guard, then twice the reach of the last
/// attempt (effort only: every guard is valid).
pub const GUARD_TRIES: usize = 4;

/// What the checker proved from `T1` on.
pub struct Tail {
    /// `G`: the half-width of the box `Q = c +- G` that contains `w(t)` for all `t >= T1`.
    pub guard: f64,
    /// `m > 0` with `lambda_max(-Hess F) <= -m` on `Q` (Lemma C1).
    pub contraction: f64,
    /// `s >= |w'(T1)|`.
    pub speed: f64,
    /// `d >= |w(t) - w(T1)|` for every `t >= T1` (Lemma C1: `s / m`).
    pub displacement: f64,
    /// `dbar >= |rbar(t) - rbar(T1)|` for every `t >= T1` (Lemma C2: `|rbar'(T1)| / lambda`).
    pub linear_displacement: f64,
    /// `|Dh_i|` bounds over `Q` (per input; `layered::tube_bounds`).
    pub bounds: DerivativeBounds,
}

impl Tail {
    /// Lemma C3: the ball `v` containing `alpha g_i(w(T1))` (output `i`, of input `input`)
    /// widened to contain `alpha g_i(w(t))` for every `t >= T1`: radius plus
    /// `alpha G_input d`.
    pub fn widen_output(&self, v: &Ball, alpha_up: f64, input: usize) -> Ball {
        let moved = up(up(alpha_up * self.bounds.gradient[input]) * self.displacement);
        Ball { m: v.m.clone(), r: up(v.r + moved) }
    }

    /// Lemma C3: the ball `v` containing `rbar_i(T1) + y_i` widened by `dbar`.
    pub fn widen_linear(&self, v: &Ball) -> Ball {
        Ball { m: v.m.clone(), r: up(v.r + self.linear_displacement) }
    }

    /// Lemma C3: `|D(t) - D(T1)| <= alpha G_tot d + dbar` for every `t >= T1`.
    pub fn spread(&self, alpha_up: f64) -> f64 {
        up(up(up(alpha_up * self.bounds.gradient_total()) * self.displacement) + self.linear_displacement)
    }
}

/// The data of the linearised flow at `T1`: `rbar(T1) in B(centre, radius)` (2-norm),
/// `rbar' = -(K0 + lambda I) rbar + lambda r0` with `K0` in the balls `k0` (`N x N`),
/// `k_norm >= |K0|_2` and `r0` in its balls.
pub struct LinearAtT1<'a> {
    pub centre: &'a [Ball],
    pub radius: f64,
    pub k0: &'a [Vec<Ball>],
    pub k_norm: f64,
    pub r0: &'a [Ball],
}

/// Proof: `proofs/checker.md`, "The tail on `[T1, infinity)`" (Lemma C2).
/// `|rbar'(T1)|` over the ball: the ball value of `-[K] c - lambda (c - r0)` at the centre,
/// plus `(k_norm + lambda) radius`.
pub fn linear_speed(lin: &LinearAtT1, lambda: &Ball) -> f64 {
    let n = lin.centre.len();
    let at_centre: Vec<Ball> = (0..n)
        .map(|a| {
            let mut acc = Ball::zero();
            dot_acc(&mut acc, lin.k0[a].iter().zip(lin.centre));
            acc.add(&lambda.mul(&lin.centre[a].sub(&lin.r0[a]))).neg()
        })
        .collect();
    up(norm2_upper(&at_centre) + up(up(lin.k_norm + lambda.abs_upper()) * lin.radius))
}

/// Proof: `proofs/checker.md`, "The tail on `[T1, infinity)`" (Lemmas C1, C2).
/// From `w(T1) in B(centre, radius)` (the centre exact points) and the linearised flow's
/// ball at `T1`: `s` = the 2-norm of the field's enclosure over the box `centre +- radius`
/// ([`FlowData::expand`] at order 1 from the box: `w[1]` is the field over it, penalty
/// included); then for the guards `G` (the hint `hint_guard` first, then twice the last reach,
/// at most [`GUARD_TRIES`] boxes): over `Q = centre +- G` the residual and activations
/// ([`FlowData::over_box`]), the derivative bounds (`layered::tube_bounds`), the loss curvature
/// `kappa` (`verify::log_norm_bound`, the smaller of `|r| M / alpha` and the residual-weighted
/// `H / alpha`), `m = lambda_lo - kappa` (rounded down), `d = s / m` (rounded up); accepted when
/// `m > 0` and `radius + d < G` (rounded up). `Err` with the reason otherwise. `flow` must
/// carry the penalty.
pub fn tail(flow: &FlowData, net: &Net, centre: &[Ball], radius: f64, lin: &LinearAtT1, hint_guard: f64, inv_alpha_up: f64) -> Result<Tail, String> {
    let Some((lambda, _)) = &flow.penalty else {
        return Err("the tail argument needs [training] regularization > 0".into());
    };
    let lambda_lo = lambda.lo().to_f64_round(Round::Down);
    if !(lambda_lo > 0.0) {
        return Err("the tail argument needs [training] regularization > 0".into());
    }
    if !(radius.is_finite() && hint_guard.is_finite() && hint_guard > 0.0) {
        return Err(format!("the tail argument needs a finite ball at T1 and a guard > 0 (radius {radius:e}, guard {hint_guard:e})"));
    }
    let boxed = |g: f64| -> Vec<Ball> { centre.iter().map(|c| Ball { m: c.m.clone(), r: g }).collect() };
    // s >= |w'(T1)|: the field over the box containing the 2-norm ball B(c, e).
    let expansion = flow.expand(boxed(radius), 1);
    let speed = norm2_upper(&expansion.w[1]);
    expansion.recycle();
    let linear_displacement = up(linear_speed(lin, lambda) / lambda_lo);
    // Lemma C1 over the box of half-width g: the tail, or why it fails and the reach.
    let attempt = |g: f64| -> Result<Tail, (String, f64)> {
        let q = boxed(g);
        let (residual, hidden) = flow.over_box(q.clone());
        let bounds = super::layered::tube_bounds(net, &q, &hidden);
        let kappa = super::verify::log_norm_bound(net, &q, &residual, &hidden, &bounds, inv_alpha_up);
        super::ball::recycle_series([q, residual]);
        super::ball::recycle_series(hidden);
        // m = lambda_lo - kappa, rounded down (a NaN kappa fails the test below).
        let m = Float::with_val_round(PREC, Float::with_val(PREC, lambda_lo) - kappa, Round::Down).0.to_f64_round(Round::Down);
        if !(m > 0.0) {
            let why = format!("the loss curvature bound {kappa:e} over the box of half-width {g:e} around w(T1) is not below lambda = {lambda_lo:e}");
            return Err((why, f64::INFINITY));
        }
        let displacement = up(speed / m);
        let reach = up(radius + displacement);
        // Lemma C1 needs the reach strictly inside the box's ball.
        if reach < g {
            Ok(Tail { guard: g, contraction: m, speed, displacement, linear_displacement, bounds })
        } else {
            Err((format!("the reach e + s/m = {reach:e} is not below the guard {g:e} (s = {speed:e}, m = {m:e})"), reach))
        }
    };
    let mut guard = hint_guard;
    let mut why = String::new();
    for _ in 0..GUARD_TRIES {
        match attempt(guard) {
            Ok(found) => return Ok(tighter(found, radius, &attempt)),
            Err((reason, reach)) => {
                why = reason;
                if !reach.is_finite() {
                    break;
                }
                guard = up(2.0 * reach);
            }
        }
    }
    Err(format!("the tail argument on [T1, infinity) does not close: {why}"))
}

/// The factor above the reach at which [`tighter`] tries a smaller box.
const SHRINK: f64 = 1.125;

/// A smaller box gives smaller curvature and derivative bounds: once a guard works, one more
/// try at [`SHRINK`] times its reach `radius + d`, kept when its widening (`G_tot d`) is not
/// larger. Effort only (every accepted box is valid): it makes the checker's tail no looser
/// than the hinted box's when the certifier's box was generous.
fn tighter(found: Tail, radius: f64, attempt: &dyn Fn(f64) -> Result<Tail, (String, f64)>) -> Tail {
    let g = up(up(radius + found.displacement) * SHRINK);
    if !(g < found.guard) {
        return found;
    }
    let widening = |t: &Tail| up(t.bounds.gradient_total() * t.displacement);
    match attempt(g) {
        Ok(t) if widening(&t) <= widening(&found) => t,
        _ => found,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::curvature::lambda_max_upper;
    use crate::check::series::jacobian;
    use crate::check::series::tests::{direct_field, exact_small_mlp, small_flow};

    /// The penalised field `F(w) - lambda (w - w0)` of the exact small MLP (`alpha = 2`, not
    /// centred) and its outputs, evaluated directly ([`direct_field`]) at precision `prec`.
    fn field(net: &Net, targets: &[Ball], w: &[Float], w0: &[Float], lambda: f64, prec: u32) -> (Vec<Float>, Vec<Float>) {
        let (f, h) = direct_field(net, targets, w, prec);
        let f = f.iter().zip(w).zip(w0).map(|((fi, wi), ci)| Float::with_val(prec, fi - Float::with_val(prec, Float::with_val(prec, wi - ci) * lambda))).collect();
        (f, h)
    }

    fn dist(a: &[Float], b: &[Float]) -> f64 {
        a.iter().zip(b).map(|(x, y)| Float::with_val(256, x - y).to_f64().powi(2)).sum::<f64>().sqrt()
    }

    /// Lemmas C1-C3 against a reference: from `w0` of the exact small MLP with the penalty
    /// `lambda in {8, 16, 32}` (the tail argument applied at `T1 = 0`, ball radius 0), an RK4
    /// solution of the regularised flow (256 bits, step 1/32, to `t = 24`) stays within the
    /// displacement `d` of `w0` and its outputs `2 h_i` within `2 G_i d` of `2 h_i(w0)`, and an
    /// RK4 solution of the linearised flow from `r0` within `dbar` of `r0`, at every step. The
    /// bounds are not absurdly loose (the reference reaches at least 1/20 of each). With
    /// `lambda = 1/100` the flow does not provably contract: `Err`. (The bounds are reached
    /// at 0.49-0.93 of their size, so errors of a few tens of percent show: mutation-checked,
    /// `m = lambda + kappa` and `dbar` times 0.8 each fail here.)
    #[test]
    fn the_tail_contains_the_flow_for_all_later_times() {
        let (net, targets, c) = exact_small_mlp();
        let prec = 256;
        let w0: Vec<Float> = c.iter().map(|b| Float::with_val(prec, &b.m)).collect();
        let base = small_flow(&net, &targets);
        let n = targets.len();
        let h0 = base.expand(c.clone(), 0).out.swap_remove(0);
        let r0: Vec<Ball> = h0.iter().zip(&targets).map(|(h, y)| base.alpha.mul(h).sub(y)).collect();
        let r0_exact: Vec<Ball> = r0.iter().map(|b| Ball { m: b.m.clone(), r: 0.0 }).collect();
        let j0 = jacobian(&net, &c, n);
        let mut k0 = vec![vec![Ball::zero(); n]; n];
        for a in 0..n {
            for b in 0..n {
                dot_acc(&mut k0[a][b], j0[a].iter().zip(&j0[b]));
            }
        }
        let k_norm = lambda_max_upper(&k0.iter().flatten().cloned().collect::<Vec<_>>(), n);
        let k0_f: Vec<Vec<f64>> = k0.iter().map(|row| row.iter().map(|b| b.m.to_f64()).collect()).collect();
        let lin = LinearAtT1 { centre: &r0_exact, radius: rad(&r0), k0: &k0, k_norm, r0: &r0 };
        let mut closed = 0;
        for lambda in [8.0, 16.0, 32.0] {
            let flow = FlowData { penalty: Some((Ball::exact(lambda), c.clone())), ..small_flow(&net, &targets) };
            let t = match tail(&flow, &net, &c, 0.0, &lin, 1e-3, 0.5) {
                Ok(t) => t,
                Err(why) => {
                    eprintln!("lambda = {lambda}: {why}");
                    continue;
                }
            };
            closed += 1;
            // The true flow by RK4.
            let dt = 1.0 / 32.0;
            let mut w = w0.clone();
            let (_, out0) = field(&net, &targets, &w0, &w0, lambda, prec);
            let (mut max_w, mut max_out) = (0.0f64, 0.0f64);
            for _ in 0..(24 * 32) {
                let axpy = |w: &[Float], k: &[Float], f: f64| -> Vec<Float> { w.iter().zip(k).map(|(a, b)| Float::with_val(prec, a + Float::with_val(prec, b * dt) * f)).collect() };
                let k1 = field(&net, &targets, &w, &w0, lambda, prec).0;
                let k2 = field(&net, &targets, &axpy(&w, &k1, 0.5), &w0, lambda, prec).0;
                let k3 = field(&net, &targets, &axpy(&w, &k2, 0.5), &w0, lambda, prec).0;
                let k4 = field(&net, &targets, &axpy(&w, &k3, 1.0), &w0, lambda, prec).0;
                w = (0..w.len())
                    .map(|i| {
                        let sum = Float::with_val(prec, &k1[i] + &k4[i]) + Float::with_val(prec, &k2[i] + &k3[i]) * 2u32;
                        Float::with_val(prec, &w[i] + Float::with_val(prec, sum * dt) / 6u32)
                    })
                    .collect();
                let moved = dist(&w, &w0);
                assert!(moved <= t.displacement, "lambda = {lambda}: |w(t) - w(T1)| = {moved:e} > d = {:e}", t.displacement);
                max_w = max_w.max(moved);
                let (_, out) = field(&net, &targets, &w, &w0, lambda, prec);
                for (i, (o, o0)) in out.iter().zip(&out0).enumerate() {
                    let change = 2.0 * Float::with_val(prec, o - o0).to_f64().abs();
                    let bound = 2.0 * t.bounds.gradient[i] * t.displacement;
                    assert!(change <= bound, "lambda = {lambda}, output {i}: {change:e} > {bound:e}");
                    max_out = max_out.max(change / bound);
                }
            }
            // The linearised flow by RK4 in f64 (the bound is far above f64's errors here).
            let r0_f: Vec<f64> = r0.iter().map(|b| b.m.to_f64()).collect();
            let lin_field = |x: &[f64]| -> Vec<f64> { (0..n).map(|a| -(0..n).map(|b| k0_f[a][b] * x[b]).sum::<f64>() - lambda * (x[a] - r0_f[a])).collect() };
            let mut x = r0_f.clone();
            let mut max_lin = 0.0f64;
            for _ in 0..(24 * 32) {
                let step = |x: &[f64], k: &[f64], f: f64| -> Vec<f64> { x.iter().zip(k).map(|(a, b)| a + b * dt * f).collect() };
                let k1 = lin_field(&x);
                let k2 = lin_field(&step(&x, &k1, 0.5));
                let k3 = lin_field(&step(&x, &k2, 0.5));
                let k4 = lin_field(&step(&x, &k3, 1.0));
                x = (0..n).map(|i| x[i] + dt / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i])).collect();
                let moved = x.iter().zip(&r0_f).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
                assert!(moved <= t.linear_displacement, "lambda = {lambda}: |rbar(t) - rbar(T1)| = {moved:e} > {:e}", t.linear_displacement);
                max_lin = max_lin.max(moved);
            }
            eprintln!(
                "lambda = {lambda}: m = {:.4}, d = {:.3e} (reached {:.3}), outputs (reached {:.3}), dbar = {:.3e} (reached {:.3}), guard {:.3e}",
                t.contraction,
                t.displacement,
                max_w / t.displacement,
                max_out,
                t.linear_displacement,
                max_lin / t.linear_displacement,
                t.guard
            );
            assert!(max_w > t.displacement / 20.0 && max_lin > t.linear_displacement / 20.0, "lambda = {lambda}: the bounds are absurdly loose");
        }
        assert!(closed >= 2, "the tail closed for {closed} of 3 penalties");
        let flow = FlowData { penalty: Some((Ball::exact(0.01), c.clone())), ..small_flow(&net, &targets) };
        let r = tail(&flow, &net, &c, 0.0, &lin, 1e-3, 0.5);
        assert!(matches!(&r, Err(m) if m.contains("does not close")), "{:?}", r.as_ref().err());
    }

    /// The 2-norm of the radii, rounded up.
    fn rad(v: &[Ball]) -> f64 {
        up(v.iter().map(|b| b.r * b.r).sum::<f64>().sqrt() * 2.0)
    }
}
