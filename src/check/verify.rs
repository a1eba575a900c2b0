//! Re-verification of the numerical claims: the checker's own validated integration of the
//! gradient flow and of the linearised flow on the step grid given by the hints, in ball
//! arithmetic, and the comparison of its enclosures with the claimed intervals.
//! Proofs: `proofs/checker.md`, sections "The step", "The linearised flow", "Deviation" and
//! "Claims".

use super::ball::{dot_acc, interval_to_ball, norm2_lower, norm2_upper, up, up_n, Ball, PREC};
use super::series::{jacobian, to_rug, Along, DerivativeBounds, Displacement, FlowData, Net, PointPath};
use super::taylor::ModelFlow;
use crate::problem::Problem;
use rug::float::Round;
use rug::ops::{AddAssignRound, AssignRound, MulAssignRound, SubAssignRound};
use rug::Assign;
use rug::{Float, Rational};
use std::cmp::Ordering;
use rayon::prelude::*;
use std::collections::BinaryHeap;

/// A claimed interval `[lo, hi]` (f64 endpoints, `-inf`/`+inf` for a `null` endpoint).
#[derive(Clone, Copy, Debug)]
pub struct Claim {
    pub lo: f64,
    pub hi: f64,
}

impl Claim {
    pub fn is_whole(&self) -> bool {
        self.lo == f64::NEG_INFINITY && self.hi == f64::INFINITY
    }
}

/// The numerical claims of a certificate.
pub struct Claims {
    pub sup_deviation: Claim,
    pub final_deviation: Claim,
    pub outputs_final: Vec<Claim>,
    pub linear_outputs_final: Vec<Claim>,
    pub r0: Claim,
}

/// `Ok(())` iff the ball lies inside the claimed interval (exact comparisons); otherwise the
/// reason, naming `what`.
pub fn claim_contains_ball(what: &str, c: Claim, b: &Ball) -> Result<(), String> {
    claim_contains_range(what, c, &b.lo(), &b.hi())
}

/// `Ok(())` iff `[lo, hi]` lies inside the claimed interval (exact comparisons); otherwise the
/// reason, naming `what`.
fn claim_contains_range(what: &str, c: Claim, lo: &Float, hi: &Float) -> Result<(), String> {
    if c.lo <= *lo && *hi <= c.hi {
        Ok(())
    } else {
        Err(format!(
            "{what} = [{:e}, {:e}] does not contain the checker's enclosure [{:e}, {:e}]",
            c.lo,
            c.hi,
            lo.to_f64_round(Round::Down),
            hi.to_f64_round(Round::Up)
        ))
    }
}

/// Proof: `proofs/checker.md`, "What `valid` means" (4), non-negative quantities.
/// `Ok(())` iff the ball, its lower end clamped at 0, lies inside the claimed interval: for a
/// quantity that is `>= 0` by definition (`R0`, a sum of squares), `[max(lo, 0), hi]` is still
/// an enclosure, and a negative lower end (a ball around a value near 0) must not make a true
/// claim `[0, x]` look unconfirmed (issue 20).
pub fn claim_contains_nonneg(what: &str, c: Claim, b: &Ball) -> Result<(), String> {
    claim_contains_range(what, c, &b.lo().max(&Float::new(PREC)), &b.hi())
}

/// `Ok(())` iff `[lo, hi]` (f64, a proved enclosure) lies inside the claimed interval.
pub(super) fn claim_contains(what: &str, c: Claim, lo: f64, hi: f64) -> Result<(), String> {
    if c.lo <= lo && hi <= c.hi {
        Ok(())
    } else {
        Err(format!("{what} = [{:e}, {:e}] does not contain the checker's enclosure [{lo:e}, {hi:e}]", c.lo, c.hi))
    }
}

/// Horner evaluation `sum_j c[j][i] x^j` for one component `i`.
fn horner(c: &[Vec<Ball>], i: usize, x: &Ball) -> Ball {
    let q = c.len() - 1;
    let mut acc = c[q][i].clone();
    for j in (0..q).rev() {
        acc = acc.mul(x).add(&c[j][i]);
    }
    acc
}

fn pow(x: &Ball, k: usize) -> Ball {
    let mut p = Ball::exact(1.0);
    for _ in 0..k {
        p = p.mul(x);
    }
    p
}

/// Upper bound of the 2-norm of the vector of radii.
pub(super) fn rad_norm(v: &[Ball]) -> f64 {
    let s: f64 = v.iter().map(|b| b.r * b.r).sum();
    up(up_n(s, v.len()).sqrt())
}

/// `x` as an upper-rounded f64.
fn f64_up(x: &Float) -> f64 {
    x.to_f64_round(Round::Up)
}

/// One piece of the deviation: for `s in [0, h_hi]`, `e(s) = r - rbar` lies within `rho` of
/// the box `sum_j p[j] s^j + s^{q+1} lag`.
struct Piece {
    p: Vec<Vec<Ball>>,
    lag: Vec<Ball>,
    rho: f64,
    h: Ball,
    h_hi: Float,
    h_lo: Float,
}

impl Piece {
    fn value(&self, s: &Ball) -> Vec<Ball> {
        let q = self.p.len() - 1;
        let sq = pow(s, q + 1);
        (0..self.lag.len()).map(|i| horner(&self.p, i, s).add(&sq.mul(&self.lag[i]))).collect()
    }
    /// Upper bound of `D` on `t_k + [a, b]`: per component the smaller magnitude of two
    /// enclosures of `P(s)`, Horner's ([`Piece::value`]) and the mean value form
    /// ([`Piece::value_mean`]), which converges quadratically near a maximum of `D` where the
    /// certifier's search (`poly::range`) also uses it.
    fn upper_on(&self, a: &Float, b: &Float) -> f64 {
        let s = interval_to_ball(a, b);
        let best: Vec<Ball> = self
            .value(&s)
            .into_iter()
            .zip(self.value_mean(&s))
            .map(|(h, m)| if m.abs_upper() < h.abs_upper() { m } else { h })
            .collect();
        up(norm2_upper(&best) + self.rho)
    }
    /// An enclosure of `P(s)` for every `s` in the ball `s`: `P(c) + P'(S) [-r, r]` for the
    /// polynomial part (`c`, `r` the ball's midpoint and radius; mean value theorem for the
    /// fixed real coefficients inside their balls, `P'` enclosed by Horner over the ball) plus
    /// `s^{q+1}` times the Lagrange box, as in [`Piece::value`].
    fn value_mean(&self, s: &Ball) -> Vec<Ball> {
        let q = self.p.len() - 1;
        let centre = Ball { m: s.m.clone(), r: 0.0 };
        let sq = pow(s, q + 1);
        (0..self.lag.len())
            .map(|i| {
                let at_centre = horner(&self.p, i, &centre);
                let mut slope = self.p[q][i].mul_int(q as i64);
                for j in (1..q).rev() {
                    slope = slope.mul(s).add(&self.p[j][i].mul_int(j as i64));
                }
                let spread = up(slope.abs_upper() * s.r);
                let mean = Ball { m: at_centre.m, r: up(at_centre.r + spread) };
                mean.add(&sq.mul(&self.lag[i]))
            })
            .collect()
    }
    /// Lower bound of `D(t_k + s)` for every `s` in the ball.
    fn lower_at(&self, s: &Ball) -> f64 {
        let v = norm2_lower(&self.value(s)) - up(self.rho);
        // D is a norm: 0 is always a lower bound (proofs/checker.md, "Deviation").
        (v - v.abs() * 1e-15 - 1e-300).max(0.0)
    }
    /// `[lower, upper]` of `D(t_k + s)` for `s` in the ball: `D` is a norm, so the lower end is clamped at 0
    /// (`proofs/checker.md`, "Deviation"): a negative lower end made true claims `[0, x]` look
    /// unconfirmed (issue 20).
    fn enclosure_at(&self, s: &Ball) -> (f64, f64) {
        let v = self.value(s);
        let lo = norm2_lower(&v) - up(self.rho);
        ((lo - lo.abs() * 1e-15 - 1e-300).max(0.0), up(norm2_upper(&v) + self.rho))
    }
}

/// What the integration re-derived.
pub struct Derived {
    pub r0: Ball,
}

/// A progress bar over `steps` steps on stderr, cleared when dropped.
fn step_bar(steps: usize) -> indicatif::ProgressBar {
    crate::report::progress_bar(steps as u64, "checking [{bar:40}] step {pos}/{len} eta {eta}")
        .with_finish(indicatif::ProgressFinish::AndClear)
}

/// Re-verifies the numerical claims for `problem` on the step grid `steps` (exact step
/// lengths; they sum exactly to `T`), at Taylor order `order`. Proof: `proofs/checker.md`,
/// "The step" (Lemmas 0-3, Q; [`tube_step`]), "The linearised flow" (Lemma L), "Deviation".
/// `tube_hints[k]`: the certificate's `tube_radius` of step `k`, if any (untrusted: a target
/// that only decides the effort of the step, `proofs/checker.md`, "Hints are not trusted").
/// Returns `Err(reason)` for the first claim that the checker's enclosures do not confirm.
/// `progress`: a progress bar over the steps on stderr.
///
/// `model_hints[k]`: the certificate's `model_tube_radius` of step `k` (the order-`Q` model's
/// tube, `reference_order = Q >= 2`), if any; untrusted like `tube_hints`. With `Q >= 2` the
/// reference is the order-`Q` model, integrated by [`tube_step`] with [`ModelFlow`] on the same
/// grid ([`model_flow`], [`model_reference`]; `proofs/checker.md`, "The order-Q model", Lemma MC).
///
/// `tail_guard`: `Some(G)` for `horizon = "inf"` (`steps` then cover `[0, T1]`): the claims
/// are about `[0, infinity)` and the limits, and the enclosures at `T1` are widened by the
/// checker's own tail argument ([`super::tail::tail`], with the hinted guard `G` as the first
/// box to try; `proofs/checker.md`, "The tail on `[T1, infinity)`", Lemma C4) before they are
/// compared.
#[allow(clippy::too_many_arguments)]
pub fn verify(problem: &Problem, net: &Net, order: usize, steps: &[Rational], tube_hints: &[Option<f64>], model_hints: &[Option<f64>], claims: &Claims, tail_guard: Option<f64>, progress: bool) -> Result<Derived, String> {
    let q = order;
    let alpha_q = to_rug(&problem.alpha.value);
    let alpha = Ball::from_rational(&alpha_q);
    let inv_alpha = Ball::from_rational(&Rational::from(alpha_q.recip_ref()));
    let targets: Vec<Ball> = problem.targets.iter().map(|y| Ball::from_interval(y.inf(), y.sup())).collect();
    let n_out = targets.len();
    let out_dim = net.output_dim();
    let w0: Vec<Ball> = problem.params0.iter().map(|x| Ball::from_interval(x.inf(), x.sup())).collect();

    // h(w0) over the initial box.
    let plain = FlowData { net, alpha: alpha.clone(), inv_alpha: inv_alpha.clone(), targets: targets.clone(), offset: None, penalty: None, displacement: None };
    let h0 = plain.expand(w0.clone(), 0).out.swap_remove(0);
    if h0.len() != n_out {
        return Err(format!("the model has {} outputs but there are {} targets", h0.len(), n_out));
    }
    let offset = problem.centred.then(|| h0.clone());
    // r0 = alpha (h(w0) - offset) - y: exactly -y when centred.
    let r0: Vec<Ball> = if problem.centred {
        targets.iter().map(|y| y.neg()).collect()
    } else {
        h0.iter().zip(&targets).map(|(h, y)| alpha.mul(h).sub(y)).collect()
    };
    let mut big_r0 = Ball::zero();
    for r in &r0 {
        big_r0 = big_r0.add(&sqr(r));
    }
    let big_r0 = big_r0.div_int(2);
    claim_contains_nonneg("claims.r0", claims.r0, &big_r0)?;

    let everything_whole = claims.sup_deviation.is_whole()
        && claims.final_deviation.is_whole()
        && claims.outputs_final.iter().chain(&claims.linear_outputs_final).all(Claim::is_whole);
    if everything_whole {
        return Ok(Derived { r0: big_r0 });
    }
    if claims.outputs_final.len() != n_out || claims.linear_outputs_final.len() != n_out {
        return Err(format!("claims.outputs_final and claims.linear_outputs_final must have {n_out} entries"));
    }
    // The penalty (lambda/2)|w - w0|^2 of [training] regularization, if any.
    let lambda_q = to_rug(&problem.regularization.value);
    let lambda = (lambda_q != 0).then(|| Ball::from_rational(&lambda_q));
    let flow = FlowData {
        net,
        alpha: alpha.clone(),
        inv_alpha: inv_alpha.clone(),
        targets: targets.clone(),
        offset: offset.clone(),
        penalty: lambda.clone().map(|l| (l, w0.clone())),
        displacement: None,
    };

    // Exact special cases, recognised from the spec and the checker's own enclosures (never
    // from the certificate; proofs/checker.md, "Exact special cases"): T = 0; the flow at rest
    // (r0 = 0 exactly); a stationary start (the field at w0 exactly 0). In each, D = 0 and both
    // models' outputs are alpha (h(w0) - offset) at every time considered, whatever the hints.
    if let Some(case) = exact_case(problem, &flow, &w0, &r0) {
        claim_contains("claims.sup_deviation", claims.sup_deviation, 0.0, 0.0).map_err(|e| format!("{e} ({case})"))?;
        claim_contains("claims.final_deviation", claims.final_deviation, 0.0, 0.0).map_err(|e| format!("{e} ({case})"))?;
        for i in 0..n_out {
            let o = if problem.centred { Ball::zero() } else { alpha.mul(&h0[i]) };
            claim_contains_ball(&format!("claims.outputs_final[{i}]"), claims.outputs_final[i], &o)?;
            claim_contains_ball(&format!("claims.linear_outputs_final[{i}]"), claims.linear_outputs_final[i], &o)?;
        }
        return Ok(Derived { r0: big_r0 });
    }
    if steps.is_empty() {
        return Err("hints.steps is empty but T > 0 and R0 is not exactly 0 (nor is the field at w0)".into());
    }
    // A model linear in w is its own linearisation: D = 0 at every time (Lemma X2).
    let linear = linear_in_w(problem);
    // The network's flow in displacements u = w - w0 from the exact point u = 0, for MLPs on
    // a finite horizon (proofs/checker.md, "Displacements"); the order-Q model's flow and the
    // tail argument stay in weights.
    let displaced = matches!(net, Net::Mlp(_)) && tail_guard.is_none();
    let mut flow = flow;
    if let (true, Net::Mlp(m)) = (displaced, net) {
        flow.displacement = Some(Displacement::new(m, w0.clone(), r0.clone()));
    }

    // The linearised flow: K0 = J0 J0^T over the initial box.
    let j0 = jacobian(net, &w0, n_out);
    let mut k0 = vec![vec![Ball::zero(); n_out]; n_out];
    for a in 0..n_out {
        for b in 0..n_out {
            dot_acc(&mut k0[a][b], j0[a].iter().zip(&j0[b]));
        }
    }
    // |K0|_2 = lambda_max(K0) (symmetric positive semi-definite): the smaller of the Frobenius
    // norm and Lemma S's bound (proofs/residual-hessian.md).
    let k0_flat: Vec<Ball> = k0.iter().flatten().cloned().collect();
    let k_norm = norm2_upper(&k0_flat).min(super::curvature::lambda_max_upper(&k0_flat, n_out));

    let weights_centre: Vec<Ball> = w0.iter().map(|b| Ball { m: b.m.clone(), r: 0.0 }).collect();
    let (mut centre, mut radius) = if displaced { (vec![Ball::zero(); w0.len()], 0.0) } else { (weights_centre.clone(), rad_norm(&w0)) };
    // The order-Q model (Q >= 2) replaces the linearisation (Lemma MC).
    let model = if problem.reference_order > 1 {
        if tail_guard.is_some() {
            return Err("reference_order >= 2 with horizon = \"inf\" is not supported".into());
        }
        Some(model_flow(problem, net, &flow, &w0)?)
    } else {
        None
    };
    let (mut m_centre, mut m_radius) = (weights_centre, rad_norm(&w0));
    let mut lin_centre: Vec<Ball> = r0.iter().map(|b| Ball { m: b.m.clone(), r: 0.0 }).collect();
    let mut lin_radius = rad_norm(&r0);
    let alpha_up = alpha.abs_upper();
    let mut pieces: Vec<Piece> = Vec::with_capacity(steps.len());
    let mut final_outputs: Vec<Ball> = Vec::new();
    let mut final_linear: Vec<Ball> = Vec::new();
    let inv_alpha_up = inv_alpha.abs_upper();
    let bar = progress.then(|| step_bar(steps.len()));

    for (k, h_exact) in steps.iter().enumerate() {
        if let Some(bar) = &bar {
            bar.set_position(k as u64);
        }
        let h = Ball::from_rational(h_exact);
        let h_hi = h.hi();
        let h_lo = h.lo();

        // (1)-(6) The step by the defect method (proofs/checker.md, "The step"): the point
        // path from the centre, its defects, the tubes, the remainder, mu and the radius E.
        let path = flow.point_path(centre.clone(), q);
        let target = tube_hints.get(k).copied().flatten();
        let st = tube_step(&flow, path, radius, &h_hi, q, inv_alpha_up, target).map_err(|why| format!("step {k}: {why}"))?;
        let e_t = st.e_t;
        let p_dim = centre.len();
        // (7) The next ball: P(h) by Horner at the ball [h] (P_0 = c exact).
        let hpow = pow(&h, q + 1);
        let end: Vec<Ball> = (0..p_dim).into_par_iter().map(|i| horner(&st.path, i, &h)).collect();

        // The linearised flow on the step: rbar' = -K0 rbar, or with the penalty
        // -(K0 + lambda I) rbar + lambda r0 (Lemma P of proofs/matrix-exponential.md; the anchor
        // r0 enters as its balls, so its uncertainty is inside the coefficients).
        let mut model_lag: Option<Vec<Ball>> = None;
        let (lin_coeffs, lin_rem) = match (&model, &lambda) {
            (Some(mf), _) => {
                let mr = model_reference(mf, &m_centre, m_radius, &h, q, inv_alpha_up, model_hints.get(k).copied().flatten()).map_err(|why| format!("step {k} (the order-{} model): {why}", mf.order))?;
                (m_centre, m_radius) = (mr.next_centre, mr.next_radius);
                if k + 1 == steps.len() {
                    final_linear = mr.outputs_end.clone();
                }
                model_lag = Some(mr.lag);
                (mr.coeffs, mr.rad)
            }
            (None, None) => {
                // Lemma LD: the path with the computed midpoints as exact coefficients, and its
                // defect; or Lemma L's resting bound (the zero polynomial with remainder |c|)
                // when that is tighter.
                let (coeffs, rem) = linear_defect_path(&k0, &lin_centre, q, &h_hi);
                let resting = norm2_upper(&lin_centre);
                if !(rem <= resting) {
                    (vec![vec![Ball::zero(); n_out]; q + 1], resting)
                } else {
                    (coeffs, rem)
                }
            }
            (None, Some(l)) => {
                let mut lin_coeffs: Vec<Vec<Ball>> = vec![lin_centre.clone()];
                for j in 1..=q {
                    let prev = &lin_coeffs[j - 1];
                    let next: Vec<Ball> = (0..n_out)
                        .map(|a| {
                            let mut acc = Ball::zero();
                            dot_acc(&mut acc, k0[a].iter().zip(prev));
                            acc = acc.add(&l.mul(&prev[a]));
                            if j == 1 {
                                acc = acc.sub(&l.mul(&r0[a]));
                            }
                            acc.neg().div_int(j as i64)
                        })
                        .collect();
                    lin_coeffs.push(next);
                }
                // Lemma P (i): |c_1| |A|^q H^{q+1} / (q+1)!, |A| <= |K0| + lambda.
                let a_norm = up(k_norm + l.abs_upper());
                let x = Float::with_val_round(64, a_norm, Round::Up).0;
                let xq = Float::with_val_round(64, rug::ops::Pow::pow(&x, q as u32), Round::Up).0;
                let hp = Float::with_val_round(64, &xq * &pow_up(&h_hi, q + 1), Round::Up).0;
                let fact = Float::with_val_round(64, Float::factorial((q + 1) as u32), Round::Down).0;
                let c = Float::with_val_round(64, &hp / &fact, Round::Up).0.to_f64_round(Round::Up);
                let rem = up(c * norm2_upper(&lin_coeffs[1]));
                (lin_coeffs, rem)
            }
        };
        // With the model, its radius alpha G_Q E_Q already covers the start ball (Lemma MC).
        let lin_rad_step = if model.is_some() { lin_rem } else { up(lin_radius + lin_rem) };
        let lin_end: Vec<Ball> = (0..n_out).map(|i| horner(&lin_coeffs, i, &h)).collect();

        // The deviation piece.
        let mut p: Vec<Vec<Ball>> = Vec::with_capacity(q + 1);
        for j in 0..=q {
            let row: Vec<Ball> = (0..n_out)
                .map(|i| {
                    let a = if j == 0 {
                        let g = match &offset {
                            Some(o) => st.out[0][i].sub(&o[i]),
                            None => st.out[0][i].clone(),
                        };
                        alpha.mul(&g).sub(&targets[i])
                    } else {
                        alpha.mul(&st.out[j][i])
                    };
                    a.sub(&lin_coeffs[j][i])
                })
                .collect();
            p.push(row);
        }
        // (8) Outputs along the step: h(P(s)) in sum_j H_j s^j + s^{q+1} W, and
        // |h(w(t_k + s)) - h(P(s))| <= G E over the tube.
        let mut lag: Vec<Ball> = st.lag.iter().map(|w| alpha.mul(w)).collect();
        if let Some(ml) = &model_lag {
            // Lemma MC: the model's Lagrange box enters the piece's remainder.
            lag = lag.iter().zip(ml).map(|(a, b)| a.sub(b)).collect();
        }
        let network_rho = up(alpha_up * st.bounds.gradient_total() * e_t);
        let mut rho = up(network_rho + lin_rad_step);
        // The first piece: e(0) = 0 exactly, so P_0 may be the point 0 with the radius
        // 2 alpha G E plus, for the plain linearised flow (start ball lin_radius, path defect
        // lin_rem), min(1, h |K0|) lin_radius + 2 lin_rem, else twice the reference's radius
        // (proofs/sup-over-interval.md, "The first piece"; the checker's own choice).
        if k == 0 {
            let reference = if model.is_none() && lambda.is_none() {
                let moved = up(h_hi.to_f64_round(Round::Up) * k_norm).min(1.0);
                up(moved * lin_radius + 2.0 * lin_rem)
            } else {
                up(2.0 * lin_rad_step)
            };
            let from_zero = up(2.0 * network_rho + reference);
            if from_zero <= up(rho + norm2_upper(&p[0])) {
                p[0] = vec![Ball::zero(); n_out];
                rho = from_zero;
            }
        }
        pieces.push(Piece { p, lag, rho, h: h.clone(), h_hi: h_hi.clone(), h_lo });

        if k + 1 == steps.len() {
            final_outputs = (0..n_out)
                .map(|i| {
                    let hv = horner(&st.out, i, &h).add(&hpow.mul(&st.lag[i]));
                    let g = match &offset {
                        Some(o) => hv.sub(&o[i]),
                        None => hv,
                    };
                    let slack = up(st.bounds.gradient[i / out_dim] * e_t);
                    let g = Ball { m: g.m, r: up(g.r + slack) };
                    alpha.mul(&g)
                })
                .collect();
            final_linear = if model.is_some() {
                std::mem::take(&mut final_linear)
            } else {
                (0..n_out)
                .map(|i| {
                    let v = lin_end[i].add(&targets[i]);
                    Ball { m: v.m, r: up(v.r + lin_rad_step) }
                })
                .collect()
            };
        }
        centre = end.iter().map(|b| Ball { m: b.m.clone(), r: 0.0 }).collect();
        radius = up(e_t + rad_norm(&end));
        lin_centre = lin_end.iter().map(|b| Ball { m: b.m.clone(), r: 0.0 }).collect();
        lin_radius = up(lin_rad_step + rad_norm(&lin_end));
        st.recycle();
        super::ball::recycle(end);
    }

    let last = pieces.last().expect("at least one step");
    let (mut dlo, mut dhi) = if linear { (0.0, 0.0) } else { last.enclosure_at(&last.h) };
    // horizon = "inf": the enclosures at T1 widened to every t >= T1 and the limits (Lemma C3).
    let mut after_t1: Option<f64> = None;
    if let Some(guard) = tail_guard {
        let lin = super::tail::LinearAtT1 { centre: &lin_centre, radius: lin_radius, k0: &k0, k_norm, r0: &r0 };
        let t = super::tail::tail(&flow, net, &centre, radius, &lin, guard, inv_alpha_up)?;
        final_outputs = final_outputs.iter().enumerate().map(|(i, v)| t.widen_output(v, alpha_up, i / out_dim)).collect();
        final_linear = final_linear.iter().map(|v| t.widen_linear(v)).collect();
        if !linear {
            let spread = t.spread(alpha_up);
            // D >= 0; the f64 subtraction lowered by 1e-15 of its magnitude plus 1e-300.
            let lo = dlo - spread;
            dlo = (lo - lo.abs() * 1e-15 - 1e-300).max(0.0);
            dhi = up(dhi + spread);
            after_t1 = Some(dhi);
        }
    }
    for i in 0..n_out {
        claim_contains_ball(&format!("claims.outputs_final[{i}]"), claims.outputs_final[i], &final_outputs[i])?;
        claim_contains_ball(&format!("claims.linear_outputs_final[{i}]"), claims.linear_outputs_final[i], &final_linear[i])?;
    }
    claim_contains("claims.final_deviation", claims.final_deviation, dlo, dhi)?;
    if linear {
        // D = 0 at every time (Lemma X2): sup D = 0.
        claim_contains("claims.sup_deviation", claims.sup_deviation, 0.0, 0.0).map_err(|e| format!("{e} (a model linear in w)"))?;
    } else if !claims.sup_deviation.is_whole() {
        // sup over [0, infinity) <= max(sup over [0, T1], sup over [T1, infinity)).
        if let Some(upper) = after_t1 {
            if !(upper <= claims.sup_deviation.hi) {
                return Err(format!(
                    "claims.sup_deviation.hi = {:e} is not confirmed: the checker's upper bound of D(t) for t >= T1 (D(T1) plus the tail) is {upper:e}",
                    claims.sup_deviation.hi
                ));
            }
        }
        confirm_sup(&pieces, claims.sup_deviation)?;
    }
    Ok(Derived { r0: big_r0 })
}

/// Proof: `proofs/checker.md`, "The order-Q model" (Lemmas MB, MG).
/// The checker's order-`Q` model flow (`Q = problem.reference_order`) of the MLP `net` with the
/// network flow's `alpha`, targets, offset and penalty, anchored at the balls `w0`; its
/// `beta_k` (`k <= Q`) from Lemma MB at the box `w0`, for `k = 1, 2` the smaller of that and the
/// network's `tube_bounds` at the same box (both bound `sup_{|u|=1} |D^k h_i(w0)[u^k]|`).
/// `Err` for a network that is not an MLP.
fn model_flow<'a>(problem: &Problem, net: &'a Net, flow: &FlowData, w0: &[Ball]) -> Result<ModelFlow<'a>, String> {
    let Net::Mlp(m) = net else {
        return Err(format!("reference_order = {} needs an MLP", problem.reference_order));
    };
    let q = problem.reference_order;
    let consts = super::taylor::Consts::new();
    let mut beta = super::taylor::derivative_norms(m, w0, q, &consts);
    let hidden = super::series::hidden_activations(net, w0);
    let at_w0 = super::layered::tube_bounds(net, w0, &hidden);
    for (i, b) in beta.iter_mut().enumerate() {
        b[0] = b[0].min(at_w0.gradient[i]);
        b[1] = b[1].min(at_w0.hessian[i]);
    }
    Ok(ModelFlow {
        net: m,
        order: q,
        w0: w0.to_vec(),
        alpha: flow.alpha.clone(),
        inv_alpha: flow.inv_alpha.clone(),
        targets: flow.targets.clone(),
        offset: flow.offset.clone(),
        penalty: flow.penalty.as_ref().map(|(l, _)| l.clone()),
        consts,
        beta,
    })
}

/// The order-`Q` model's side of a step (Lemma MC).
struct ModelReference {
    /// The residual's coefficients `alpha (H_{Q,0} - offset) - y`, `alpha H_{Q,j}` (`j <= q`).
    coeffs: Vec<Vec<Ball>>,
    /// `alpha W_Q` (the outputs' Lagrange box, residual units).
    lag: Vec<Ball>,
    /// `alpha G_Q E_Q` (rounded up).
    rad: f64,
    /// `alpha (h_Q(w_Q(t_k + h)) - offset)` per output, with the slack `alpha G_{Q,i} E_Q`.
    outputs_end: Vec<Ball>,
    next_centre: Vec<Ball>,
    next_radius: f64,
}

/// Proof: `proofs/checker.md`, "The order-Q model" (Lemma MC).
/// The model's step from the ball `B(centre, radius)` over `[0, h]` by [`tube_step`] with the
/// model's flow: for every `s` in the step, `r_Q(w_Q(t_k + s))` lies within `rad` of
/// `sum_j coeffs_j s^j + s^{q+1} lag`; the outputs at the step's end; the next ball.
#[allow(clippy::too_many_arguments)]
fn model_reference(mf: &ModelFlow, centre: &[Ball], radius: f64, h: &Ball, q: usize, inv_alpha_up: f64, target: Option<f64>) -> Result<ModelReference, String> {
    let st = tube_step(mf, mf.point_path(centre.to_vec(), q), radius, &h.hi(), q, inv_alpha_up, target)?;
    let alpha = &mf.alpha;
    let n_out = st.lag.len();
    let out_dim = n_out / st.bounds.gradient.len().max(1);
    let off = |i: usize, v: Ball| match &mf.offset {
        Some(o) => v.sub(&o[i]),
        None => v,
    };
    let coeffs: Vec<Vec<Ball>> = (0..=q)
        .map(|j| (0..n_out).map(|i| if j == 0 { alpha.mul(&off(i, st.out[0][i].clone())).sub(&mf.targets[i]) } else { alpha.mul(&st.out[j][i]) }).collect())
        .collect();
    let lag: Vec<Ball> = st.lag.iter().map(|w| alpha.mul(w)).collect();
    let rad = up(up(alpha.abs_upper() * st.bounds.gradient_total()) * st.e_t);
    let hpow = pow(h, q + 1);
    let outputs_end = (0..n_out)
        .map(|i| {
            let g = off(i, horner(&st.out, i, h).add(&hpow.mul(&st.lag[i])));
            let g = Ball { m: g.m, r: up(g.r + up(st.bounds.gradient[i / out_dim] * st.e_t)) };
            alpha.mul(&g)
        })
        .collect();
    let end: Vec<Ball> = (0..centre.len()).into_par_iter().map(|i| horner(&st.path, i, h)).collect();
    let next_radius = up(st.e_t + rad_norm(&end));
    let next_centre = end.into_iter().map(|b| Ball { m: b.m, r: 0.0 }).collect();
    st.recycle();
    Ok(ModelReference { coeffs, lag, rad, outputs_end, next_centre, next_radius })
}

/// Proof: `proofs/checker.md`, "Exact special cases" (Lemma X2).
/// Whether `h(w)` is affine in `w`, read from the spec's architecture: an MLP with no hidden
/// layer (`h = c W x + b`; activations apply to hidden layers only), or the quadratic family
/// `sqrt(lambda) w + (L/2) w^2` with `L = 0`.
pub(super) fn linear_in_w(problem: &Problem) -> bool {
    match &problem.architecture {
        crate::problem::Architecture::Mlp(a) => a.widths.len() == 2,
        crate::problem::Architecture::Quadratic(q) => num_traits::Zero::is_zero(&q.lipschitz),
    }
}

/// Proof: `proofs/checker.md`, "Exact special cases" (Lemma X1, and "At rest").
/// The exact case that holds, if any, named: `T = 0` (a finite horizon; then no time passes),
/// the flow at rest (every residual ball `r0` is the exact point 0), or a stationary start
/// (the checker's enclosure of the field `F(w)` over the box of `w0`, with the offset and the
/// penalty, is the exact point 0 in every component, so the true field vanishes at the true
/// `w0`). In each case
/// `w(t) = w0` and `rbar(t) = r0` for every `t >= 0`, so `D = 0` and both models' outputs are
/// `alpha (h(w0) - offset)`.
fn exact_case(problem: &Problem, flow: &FlowData, w0: &[Ball], r0: &[Ball]) -> Option<&'static str> {
    if !problem.infinite_horizon && !num_traits::Signed::is_positive(&problem.horizon.value) {
        return Some("T = 0");
    }
    if r0.iter().all(Ball::is_exact_zero) {
        return Some("at rest: R0 = 0");
    }
    let field = flow.expand(w0.to_vec(), 1).w.swap_remove(1);
    field.iter().all(Ball::is_exact_zero).then_some("a stationary start: the field at w0 is 0")
}

/// A closed interval `[lo, hi]` of MPFR floats, for ranges over `[0, H]` (Lemma E,
/// `proofs/checker.md`, "The step"). The operations work in place (the shifted coefficients
/// of every step run `O(q^2)` of them per parameter).
struct Range {
    lo: Float,
    hi: Float,
}

impl Range {
    fn new() -> Range {
        Range { lo: Float::new(PREC), hi: Float::new(PREC) }
    }

    fn is_finite(&self) -> bool {
        self.lo.is_finite() && self.hi.is_finite()
    }

    /// Sets the range to `[k m - k r, k m + k r]` for the ball `b = (m, r)` and an integer
    /// `k >= 1`, each operation rounded outward (`k m` rounded down and up, `k r` rounded up):
    /// it contains `k x` for every `x` in the ball.
    fn set_scaled(&mut self, b: &Ball, k: i64, tmp: &mut Float) {
        self.lo.assign_round(&b.m * k, Round::Down);
        self.hi.assign_round(&b.m * k, Round::Up);
        if b.r != 0.0 {
            tmp.assign_round(b.r, Round::Up);
            tmp.mul_assign_round(k, Round::Up);
            self.lo.sub_assign_round(&*tmp, Round::Down);
            self.hi.add_assign_round(&*tmp, Round::Up);
        }
    }

    /// Lemma E in place: the range becomes `[min(lo, 0) top + c.lo, max(hi, 0) top + c.hi]`,
    /// which contains `{x t + y : x in self, t in [0, top], y in c}` for `top >= 0`, each
    /// operation rounded outward. The caller checks finiteness (a NaN end would be lost by the
    /// comparisons with 0).
    fn mul_add_nonneg_assign(&mut self, top: &Float, c: &Range) {
        if self.lo < 0 {
            self.lo.mul_assign_round(top, Round::Down);
        } else {
            self.lo.assign(0u32);
        }
        if self.hi > 0 {
            self.hi.mul_assign_round(top, Round::Up);
        } else {
            self.hi.assign(0u32);
        }
        self.lo.add_assign_round(&c.lo, Round::Down);
        self.hi.add_assign_round(&c.hi, Round::Up);
    }

    /// A ball containing the range (the whole line when it is not finite).
    fn to_ball(&self) -> Ball {
        if self.is_finite() {
            interval_to_ball(&self.lo, &self.hi)
        } else {
            Ball { m: Float::new(PREC), r: f64::INFINITY }
        }
    }
}

/// Lemma LD of `proofs/checker.md` for `rbar' = -K0 rbar` over `[0, H]` (`h_hi = H`): the
/// coefficients `R_0 = c` (exact), `R_{j+1}` the midpoint of `-[K0] R_j / (j+1)` taken as an exact
/// number, and `>= int_0^H |R' + K0 R|`, from the defect coefficients
/// `D_j = (j+1) R_{j+1} + [K0] R_j` (balls containing them for every `K0` in `[K0]`, `j < q`) and
/// the top term `[K0] R_q`: `sum_{j<q} |D_j| H^{j+1}/(j+1) + |[K0] R_q| H^{q+1}/(q+1)`.
fn linear_defect_path(k0: &[Vec<Ball>], centre: &[Ball], q: usize, h_hi: &Float) -> (Vec<Vec<Ball>>, f64) {
    let n = centre.len();
    let apply = |v: &[Ball]| -> Vec<Ball> {
        (0..n)
            .map(|a| {
                let mut acc = Ball::zero();
                dot_acc(&mut acc, k0[a].iter().zip(v));
                acc
            })
            .collect()
    };
    let mut coeffs: Vec<Vec<Ball>> = vec![centre.iter().map(|b| Ball { m: b.m.clone(), r: 0.0 }).collect()];
    for j in 0..q {
        let next = apply(&coeffs[j]).into_iter().map(|b| b.neg().div_int(j as i64 + 1)).map(|b| Ball { m: b.m, r: 0.0 }).collect();
        coeffs.push(next);
    }
    let mut rem = 0.0;
    for j in 0..q {
        let d: Vec<Ball> = apply(&coeffs[j]).iter().zip(&coeffs[j + 1]).map(|(k, next)| next.mul_int(j as i64 + 1).add(k)).collect();
        rem = up(rem + up(up(norm2_upper(&d) * f64_up(&pow_up(h_hi, j + 1))) / (j + 1) as f64));
    }
    let top = norm2_upper(&apply(&coeffs[q]));
    rem = up(rem + up(up(top * f64_up(&pow_up(h_hi, q + 1))) / (q + 1) as f64));
    (coeffs, rem)
}

/// `x^k` rounded up, for `x >= 0`.
fn pow_up(x: &Float, k: usize) -> Float {
    Float::with_val_round(PREC, rug::ops::Pow::pow(x, k as u32), Round::Up).0
}

/// `exp(x)` rounded up, for an f64 `x` (MPFR `exp` rounded up).
fn exp_up(x: f64) -> f64 {
    let x = Float::with_val_round(64, x, Round::Up).0;
    Float::with_val_round(64, x.exp_ref(), Round::Up).0.to_f64_round(Round::Up)
}

/// `C(m, j)` for `m, j <= n` (Pascal's triangle, exact in `i64` for `n <= 61`: the largest is
/// `C(61, 30) < 2^58`).
fn binomials(n: usize) -> Vec<Vec<i64>> {
    let mut c = vec![vec![0i64; n + 1]; n + 1];
    for m in 0..=n {
        c[m][0] = 1;
        for j in 1..=m {
            c[m][j] = c[m - 1][j - 1] + if j < m { c[m - 1][j] } else { 0 };
        }
    }
    c
}

/// Proof: `proofs/checker.md`, "The step", Lemma Q.
/// The shifted coefficients of the polynomial `P(s) = sum_{m<=n} p[m] s^m` over base points
/// `xi in [0, top]`: balls `Qhat_j` (`j = 0..=n`) with
/// `Qhat_{j,i} ⊇ {sum_{m>=j} C(m, j) p[m]_i xi^{m-j} : xi in [0, top]}`, each by Horner's scheme
/// in `xi` over the coefficients `C(m, j) p[m]_i` ([`Range::set_scaled`]) with Lemma E
/// ([`Range::mul_add_nonneg_assign`]) at every step. A component with a non-finite coefficient
/// or intermediate gets the whole line.
fn taylor_shift(p: &[Vec<Ball>], top: &Float) -> Vec<Vec<Ball>> {
    let n = p.len() - 1;
    let binom = binomials(n);
    let whole = || Ball { m: Float::new(PREC), r: f64::INFINITY };
    let per_component: Vec<Vec<Ball>> = (0..p[0].len())
        .into_par_iter()
        .map(|i| {
            if !top.is_finite() || (0..=n).any(|m| !(p[m][i].m.is_finite() && p[m][i].r.is_finite())) {
                return (0..=n).map(|_| whole()).collect();
            }
            let (mut acc, mut c, mut tmp) = (Range::new(), Range::new(), Float::new(PREC));
            (0..=n)
                .map(|j| {
                    acc.set_scaled(&p[n][i], binom[n][j], &mut tmp);
                    for m in (j..n).rev() {
                        c.set_scaled(&p[m][i], binom[m][j], &mut tmp);
                        // Lemma E needs finite ends (its comparisons with 0 would drop a NaN).
                        if !(acc.is_finite() && c.is_finite()) {
                            return whole();
                        }
                        acc.mul_add_nonneg_assign(top, &c);
                    }
                    acc.to_ball()
                })
                .collect()
        })
        .collect();
    let mut shifted: Vec<Vec<Ball>> = (0..=n).map(|_| Vec::with_capacity(per_component.len())).collect();
    for comp in per_component {
        for (j, b) in comp.into_iter().enumerate() {
            shifted[j].push(b);
        }
    }
    shifted
}

/// `d >= |(k+1) P_{k+1} - A_k|_2` (Lemma 0): the ball of the defect coefficient, per component.
fn defect_norm(next: &[Ball], field: &[Ball], k: usize) -> f64 {
    let d: Vec<Ball> = next.par_iter().zip(field).map(|(p, a)| p.mul_int(k as i64 + 1).sub(a)).collect();
    let norm = norm2_upper(&d);
    super::ball::recycle(d);
    norm
}

/// Proof: `proofs/checker.md`, "The step" (step 5, Lemma 3).
/// `mu >= lambda_max(DF)` over the box `tube` (`residual`, `hidden`: the residual and hidden
/// activations over it): `|r|_T M_T / alpha`, and for an MLP the smaller `H_T / alpha` with the
/// residual-weighted bound.
pub(super) fn log_norm_bound(net: &Net, tube: &[Ball], residual: &[Ball], hidden: &[Vec<Ball>], bounds: &DerivativeBounds, inv_alpha_up: f64) -> f64 {
    let mut mu = up(norm2_upper(residual) * bounds.hessian_total() * inv_alpha_up);
    if let Net::Mlp(_) = net {
        let h = super::curvature::residual_hessian_upper(net, tube, hidden, residual);
        mu = mu.min(up(h * inv_alpha_up));
    }
    mu
}

/// Proof: `proofs/checker.md`, "The step" and "The order-Q model" (Lemma MC).
/// A gradient flow the step verifies: the network's ([`FlowData`]) or the order-`Q` model's
/// ([`ModelFlow`]; the point path is the inherent `point_path` of each). `along` and `over_box` have the contracts of
/// `FlowData::{point_path, along, over_box}` for the flow's field and outputs;
/// `mu_over(tube, residual, hidden)` returns `mu >= lambda_max` of the field's Jacobian without
/// the penalty over the box `tube` (given the flow's residual and hidden activations over it)
/// and bounds `G_i`, `M_i` of the outputs' first and second derivatives over it; `penalty` is the
/// ball of `lambda` if any.
pub(super) trait Dynamics: Sync {
    fn along(&self, path: Vec<Vec<Ball>>) -> Along;
    fn over_box(&self, wbox: Vec<Ball>) -> (Vec<Ball>, Vec<Vec<Ball>>);
    fn mu_over(&self, tube: &[Ball], residual: &[Ball], hidden: &[Vec<Ball>], inv_alpha_up: f64) -> (f64, DerivativeBounds);
    fn penalty(&self) -> Option<&Ball>;
}

impl Dynamics for FlowData<'_> {
    fn along(&self, path: Vec<Vec<Ball>>) -> Along {
        FlowData::along(self, path)
    }
    fn over_box(&self, wbox: Vec<Ball>) -> (Vec<Ball>, Vec<Vec<Ball>>) {
        FlowData::over_box(self, wbox)
    }
    /// `tube_bounds` (Lemmas D, LB) and [`log_norm_bound`] (step 5).
    /// In displacements the box of weights `W0 + tube`.
    fn mu_over(&self, tube: &[Ball], residual: &[Ball], hidden: &[Vec<Ball>], inv_alpha_up: f64) -> (f64, DerivativeBounds) {
        let weights = self.displacement.as_ref().map(|d| d.weights(tube));
        let tube = weights.as_deref().unwrap_or(tube);
        let b = super::layered::tube_bounds(self.net, tube, hidden);
        (log_norm_bound(self.net, tube, residual, hidden, &b, inv_alpha_up), b)
    }
    fn penalty(&self) -> Option<&Ball> {
        self.penalty.as_ref().map(|(l, _)| l)
    }
}

impl Dynamics for ModelFlow<'_> {
    fn along(&self, path: Vec<Vec<Ball>>) -> Along {
        ModelFlow::along(self, path)
    }
    fn over_box(&self, wbox: Vec<Ball>) -> (Vec<Ball>, Vec<Vec<Ball>>) {
        (ModelFlow::over_box(self, wbox), Vec::new())
    }
    /// Lemma MG and the crude form `|r_Q| M_Q / alpha`.
    fn mu_over(&self, tube: &[Ball], residual: &[Ball], _hidden: &[Vec<Ball>], inv_alpha_up: f64) -> (f64, DerivativeBounds) {
        ModelFlow::mu_over(self, tube, residual, inv_alpha_up)
    }
    fn penalty(&self) -> Option<&Ball> {
        self.penalty.as_ref()
    }
}

/// A verified step (`proofs/checker.md`, "The step"): for every solution with
/// `w(t_k) in B(c, e)` and every `s in S = [0, H]`, `|w(t_k + s) - P(s)| <= e_t`, the segment
/// from `P(s)` to `w(t_k + s)` lies in a box over which `bounds` hold, and
/// `h(P(s)) in sum_{j<=q} out_j s^j + s^{q+1} lag`.
struct TubeStep {
    /// `P_0..P_{q+1}` (exact points).
    path: Vec<Vec<Ball>>,
    /// `H_0..H_q`.
    out: Vec<Vec<Ball>>,
    /// `W`, the output coefficient `q + 1` along the shifted paths.
    lag: Vec<Ball>,
    /// `E`.
    e_t: f64,
    /// `|Dh|`, `|D^2 h|` over the tubes (`tube_bounds`, the maxima).
    bounds: DerivativeBounds,
}

impl TubeStep {
    fn recycle(self) {
        super::ball::recycle_series(self.path);
        super::ball::recycle_series(self.out);
        super::ball::recycle(self.lag);
    }
}

/// The coefficients of `sigma -> P(a + sigma)` for the ball `a` (`sum_{m>=j} C(m, j) p[m] a^{m-j}`,
/// Horner's scheme in ball arithmetic with exact binomials): balls containing the exact
/// coefficients for every `a` and every `p[m]` in their balls.
fn shifted_at(p: &[Vec<Ball>], a: &Ball) -> Vec<Vec<Ball>> {
    let n = p.len() - 1;
    let binom = binomials(n);
    (0..=n)
        .map(|j| {
            (0..p[0].len())
                .into_par_iter()
                .map(|i| {
                    let mut acc = p[n][i].mul_int(binom[n][j]);
                    for m in (j..n).rev() {
                        acc = acc.mul(a).add(&p[m][i].mul_int(binom[m][j]));
                    }
                    acc
                })
                .collect()
        })
        .collect()
}

/// A ball containing the balls `a` and `b` (the hull of the two intervals, ends rounded
/// outward; the whole line when either is not finite).
pub(super) fn hull(a: &Ball, b: &Ball) -> Ball {
    if !(a.m.is_finite() && b.m.is_finite() && a.r.is_finite() && b.r.is_finite()) {
        return Ball { m: Float::new(PREC), r: f64::INFINITY };
    }
    let (al, bl) = (a.lo(), b.lo());
    let (ah, bh) = (a.hi(), b.hi());
    interval_to_ball(if al < bl { &al } else { &bl }, if ah > bh { &ah } else { &bh })
}

/// The passes along the shifted paths of a step's base interval `S = [0, H]` split into
/// `pieces` intervals (`proofs/checker.md`, "The step", steps 2-4): `C ⊇` the field's
/// coefficient `q + 1` and `W ⊇` the outputs' (hulls over the pieces), and per piece its tube
/// `Qhat_0 + [-G, G]` with the residual and hidden activations over it.
struct PieceRemainders {
    pieces: usize,
    guard: f64,
    c: Vec<Ball>,
    lag: Vec<Ball>,
    /// Per piece: the start `a_m`, the width `w_m`, the tube, the residual and the hidden
    /// activations over the tube.
    tubes: Vec<PieceTube>,
}

struct PieceTube {
    start: Float,
    width: Float,
    tube: Vec<Ball>,
    residual: Vec<Ball>,
    hidden: Vec<Vec<Ball>>,
}

impl PieceRemainders {
    fn recycle(self) {
        super::ball::recycle_series([self.c, self.lag]);
        for t in self.tubes {
            super::ball::recycle_series([t.tube, t.residual]);
            super::ball::recycle_series(t.hidden);
        }
    }
}

/// `n + 1` floats `0 = a_0 <= a_1 <= ... <= a_n = top` (`a_m = RN(top m / n)`).
fn ends(top: &Float, n: usize) -> Vec<Float> {
    (0..=n)
        .map(|m| match m {
            0 => Float::new(PREC),
            m if m == n => top.clone(),
            m => Float::with_val(PREC, Float::with_val(PREC, top * m as u32) / n as u32),
        })
        .collect()
}

/// The elementwise maximum of two lists of upper bounds (a NaN gives `+inf`).
fn max_bounds(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| if x.is_nan() || y.is_nan() { f64::INFINITY } else { x.max(*y) }).collect()
}

/// Proof: `proofs/checker.md`, "The step" (Lemmas Q, 1; steps 2-4).
/// The path `path` over `S = [0, h_hi]` split into `pieces` base intervals `[a_m, a_m + w_m]`
/// ([`ends`]; `w_m` the difference to the next end rounded up, so they cover `S`): for each,
/// the coefficients of `P(a_m + sigma)` ([`shifted_at`]; `P` itself for `a_0 = 0`), the
/// shifted coefficients over `[0, w_m]` ([`taylor_shift`]), the tube `Qhat_0 + [-G, G]` and
/// the pass along `(T, Qhat_1, ...)` (`C_m`, `W_m`, the residual and activations over `T`).
fn piece_remainders(flow: &dyn Dynamics, path: &[Vec<Ball>], h_hi: &Float, pieces: usize, guard: f64) -> PieceRemainders {
    let piece_ends = ends(h_hi, pieces);
    let mut out = PieceRemainders { pieces, guard, c: Vec::new(), lag: Vec::new(), tubes: Vec::new() };
    for m in 0..pieces {
        let width = Float::with_val_round(PREC, &piece_ends[m + 1] - &piece_ends[m], Round::Up).0;
        let shifted = if m == 0 {
            taylor_shift(path, &width)
        } else {
            let based = shifted_at(path, &Ball { m: piece_ends[m].clone(), r: 0.0 });
            let shifted = taylor_shift(&based, &width);
            super::ball::recycle_series(based);
            shifted
        };
        let mut it = shifted.into_iter();
        let tube: Vec<Ball> = it.next().expect("coefficient 0").into_iter().map(|c| Ball { m: c.m, r: up(c.r + guard) }).collect();
        let mut boxes: Vec<Vec<Ball>> = vec![tube.clone()];
        boxes.extend(it);
        let Along { field, out: lag, residual0, hidden0 } = flow.along(boxes);
        if m == 0 {
            out.c = field;
            out.lag = lag;
        } else {
            let c = out.c.iter().zip(&field).map(|(a, b)| hull(a, b)).collect();
            let l = out.lag.iter().zip(&lag).map(|(a, b)| hull(a, b)).collect();
            super::ball::recycle_series([std::mem::replace(&mut out.c, c), std::mem::replace(&mut out.lag, l), field, lag]);
        }
        out.tubes.push(PieceTube { start: piece_ends[m].clone(), width, tube, residual: residual0, hidden: hidden0 });
    }
    out
}

/// Proof: `proofs/checker.md`, "The step" (Lemma 3, step 5).
/// `mu` and the derivative bounds over the tubes of the pieces (`mu_split = 1`), or over the
/// tubes `P(I) + [-G, G]` of `mu_split` sub-intervals `I` of each piece (`P(I)` by Horner's
/// scheme in ball arithmetic at a ball containing `I`; the residual and activations by an
/// order-0 pass, [`FlowData::over_box`]): the maxima over all tubes. Every point within `G`
/// of `P(s)`, `s in S`, is in one of the tubes.
fn log_norm_over(flow: &dyn Dynamics, path: &[Vec<Ball>], pr: &PieceRemainders, mu_split: usize, inv_alpha_up: f64) -> (f64, DerivativeBounds) {
    let mut mu = f64::NEG_INFINITY;
    let mut bounds: Option<DerivativeBounds> = None;
    let mut fold = |tube: &[Ball], residual: &[Ball], hidden: &[Vec<Ball>]| {
        let (m, b) = flow.mu_over(tube, residual, hidden, inv_alpha_up);
        mu = if mu.is_nan() || m.is_nan() { f64::NAN } else { mu.max(m) };
        bounds = Some(match bounds.take() {
            None => b,
            Some(a) => DerivativeBounds { gradient: max_bounds(&a.gradient, &b.gradient), hessian: max_bounds(&a.hessian, &b.hessian) },
        });
    };
    for t in &pr.tubes {
        if mu_split <= 1 {
            fold(&t.tube, &t.residual, &t.hidden);
            continue;
        }
        let sub = ends(&t.width, mu_split);
        for j in 0..mu_split {
            // [lo, hi] ⊇ a_m + [sub_j, sub_{j+1}]: together they cover the piece.
            let lo = Float::with_val_round(PREC, &t.start + &sub[j], Round::Down).0;
            let hi = Float::with_val_round(PREC, &t.start + &sub[j + 1], Round::Up).0;
            let times = interval_to_ball(&lo, &hi);
            let tube: Vec<Ball> = (0..path[0].len())
                .into_par_iter()
                .map(|i| {
                    let v = horner(path, i, &times);
                    Ball { m: v.m, r: up(v.r + pr.guard) }
                })
                .collect();
            let (residual, hidden) = flow.over_box(tube.clone());
            fold(&tube, &residual, &hidden);
            super::ball::recycle_series([tube, residual]);
            super::ball::recycle_series(hidden);
        }
    }
    // The penalty's Hessian is lambda I: DF drops by lambda (Lemma 3).
    if let Some(lambda) = flow.penalty() {
        // mu - inf(lambda), rounded up (mu may become negative).
        let shifted = Float::with_val_round(PREC, Float::with_val(64, mu) - lambda.lo(), Round::Up).0;
        mu = shifted.to_f64_round(Round::Up);
    }
    (mu, bounds.expect("at least one tube"))
}

/// How finely a step's base interval `S = [0, H]` is split: `pieces` intervals for the
/// remainder (one pass along the shifted paths each), each split again into `mu_split`
/// sub-intervals for `mu` and the derivative bounds (`1`: the piece's own tube). Effort only:
/// every split is valid.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Split {
    pieces: usize,
    mu_split: usize,
}

/// At most this many remainder pieces per step, and this many sub-intervals for `mu` in all
/// ([`tube_step`]).
const MAX_PIECES: usize = 4;
const MAX_MU_TUBES: usize = 4;

/// Proof: `proofs/checker.md`, "The step" (Lemmas 0, Q, 1, 2, 3, the guard).
/// Steps 2-6 of the step from the ball `B(c, e)` (`e = radius`) over `S = [0, h_hi]`,
/// given the point path `pp` from `c`: the defect bounds `d_k`, the guard `G`, the remainder
/// `C`, `W` ([`piece_remainders`]), `mu` and the bounds over the tubes ([`log_norm_over`]),
/// and `E = exp(mu+ H) (e + sum_k d_k H^{k+1}/(k+1) + |C| H^{q+2}/(q+2))`. Succeeds iff
/// `E < G` for some guard and split: the guard is guessed, and once more `4E` when the guess
/// failed but `exp(mu+ H) < 2`. When `E` fails, or exceeds the certificate's `tube_radius`
/// hint `target`, the split is refined ([`refine`]; effort only: any guard and split are
/// valid). Otherwise the reason.
#[allow(clippy::too_many_arguments)]
fn tube_step(flow: &dyn Dynamics, pp: PointPath, radius: f64, h_hi: &Float, q: usize, inv_alpha_up: f64, target: Option<f64>) -> Result<TubeStep, String> {
    // H^j rounded up (j = 0..=q+2).
    let hp: Vec<f64> = (0..=q + 2).map(|j| f64_up(&pow_up(h_hi, j))).collect();
    // Lemma 0: sum_k d_k H^{k+1}/(k+1) >= int_0^H of the polynomial part of the defect bound.
    let terms: Vec<f64> = (0..=q).map(|k| up(up(defect_norm(&pp.p[k + 1], &pp.field[k], k) * hp[k + 1]) / (k + 1) as f64)).collect();
    let defect = up_n(terms.iter().sum::<f64>(), terms.len());
    let PointPath { p: path, field, out } = pp;
    super::ball::recycle_series(field);
    // The guard (any G > 0 is valid): twice a guess of E, or 2^-20 of the widest range of a
    // component of P over S when that is larger (a guard far below the tube's width changes
    // C and mu by a negligible amount, and it saves a second pass when the guess is too small).
    let guess = up(2.0 * up(radius + defect + up(norm2_upper(&path[q + 1]) * hp[q + 1])));
    let widest = (0..path[0].len()).into_par_iter().map(|i| range_radius(&path, i, h_hi)).reduce(|| 0.0, f64::max);
    let mut guard = guess.max(widest * 9.5367431640625e-7) + 1e-200;
    let mut split = Split { pieces: 1, mu_split: 1 };
    let mut guard_retried = false;
    let mut passes: Option<PieceRemainders> = None;
    loop {
        // The passes along the pieces are redone only when the pieces or the guard change.
        let pr = match passes.take() {
            Some(pr) if pr.pieces == split.pieces && pr.guard == guard => pr,
            old => {
                if let Some(old) = old {
                    old.recycle();
                }
                piece_remainders(flow, &path, h_hi, split.pieces, guard)
            }
        };
        let (mu, bounds) = log_norm_over(flow, &path, &pr, split.mu_split, inv_alpha_up);
        // mu+ = max(mu, 0) (a NaN counts as +inf).
        let mu_plus = if mu.is_nan() { f64::INFINITY } else { mu.max(0.0) };
        let growth = exp_up(up(mu_plus * hp[1]));
        let remainder_term = up(up(norm2_upper(&pr.c) * hp[q + 2]) / (q + 2) as f64);
        // Lemma 2.
        let e_t = up(growth * up(radius + defect + remainder_term));
        let finer = refine(split, up(growth * remainder_term), e_t, target.unwrap_or(0.0));
        if e_t < guard {
            // Above the certificate's radius: a finer split may reach it (effort only).
            match finer {
                Some(f) if target.is_some_and(|t| e_t > t) => split = f,
                _ => {
                    let lag = pr.lag.clone();
                    pr.recycle();
                    return Ok(TubeStep { path, out, lag, e_t, bounds });
                }
            }
        } else if growth < 2.0 && e_t.is_finite() && (!guard_retried || finer.is_some()) {
            // A wrong guess of the guard (not a step too long for mu): a guard above E, and
            // after the first retry a finer split too.
            if guard_retried {
                split = finer.expect("checked");
            }
            guard_retried = true;
            guard = up(4.0 * e_t);
        } else {
            pr.recycle();
            super::ball::recycle_series(path);
            super::ball::recycle_series(out);
            return Err(format!(
                "the checker could not verify the hinted step length (order {q}, {} piece(s)): the tube radius E = {e_t:e} is not below the guard G = {guard:e} (mu = {mu:e}, exp(mu h) = {growth:e})",
                split.pieces
            ));
        }
        passes = Some(pr);
    }
}

/// The next, finer split of a step whose radius `e_t` should come down to `target` (`0`: as
/// far as possible), `None` at the finest: more remainder pieces while the remainder's share
/// `rem` (after growth) is at least the excess `e_t - target` (halving the sub-intervals per
/// piece), else sub-intervals for `mu` ([`MAX_MU_TUBES`] in all). Effort only.
fn refine(split: Split, rem: f64, e_t: f64, target: f64) -> Option<Split> {
    if rem >= e_t - target && split.pieces < MAX_PIECES {
        return Some(Split { pieces: split.pieces * 2, mu_split: (split.mu_split / 2).max(1) });
    }
    if split.pieces * split.mu_split >= MAX_MU_TUBES {
        return None;
    }
    Some(Split { pieces: split.pieces, mu_split: MAX_MU_TUBES / split.pieces })
}

/// The radius of the range of the component `i` of `P` over `[0, top]` (Lemma E; for the
/// guard's guess only).
fn range_radius(path: &[Vec<Ball>], i: usize, top: &Float) -> f64 {
    let n = path.len() - 1;
    let (mut acc, mut c, mut tmp) = (Range::new(), Range::new(), Float::new(PREC));
    acc.set_scaled(&path[n][i], 1, &mut tmp);
    for m in (0..n).rev() {
        c.set_scaled(&path[m][i], 1, &mut tmp);
        acc.mul_add_nonneg_assign(top, &c);
    }
    if acc.is_finite() {
        acc.to_ball().r
    } else {
        f64::INFINITY
    }
}

/// `x^2` for a ball: `[0, (|m|+r)^2]` when the ball is near 0, else the product bound.
pub(super) fn sqr(x: &Ball) -> Ball {
    let m = super::ball::mag(&x.m);
    if m < 2.5 * x.r {
        let top = up((m + x.r) * (m + x.r));
        Ball { m: Float::with_val(PREC, top / 2.0), r: up(top / 2.0) }
    } else {
        x.sqr()
    }
}

/// A search candidate: piece `k`, subinterval `[a, b]`, an upper bound of `D` on it.
struct Cand {
    upper: f64,
    k: usize,
    a: Float,
    b: Float,
}

impl PartialEq for Cand {
    fn eq(&self, o: &Self) -> bool {
        self.upper.total_cmp(&o.upper) == Ordering::Equal
    }
}
impl Eq for Cand {}
impl PartialOrd for Cand {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Cand {
    fn cmp(&self, o: &Self) -> Ordering {
        self.upper.total_cmp(&o.upper)
    }
}

/// Proof: `proofs/checker.md`, "Deviation".
/// Confirms `claim.lo <= sup_{[0,T]} D <= claim.hi` by best-first bisection: the candidates
/// always cover `[0, T]`, each with a valid upper bound, and `best` is `D`'s lower bound at a
/// point surely in `[0, T]`. Succeeds when the largest upper bound is `<= claim.hi` and
/// `best >= claim.lo` (`proofs/checker.md`, "Deviation").
fn confirm_sup(pieces: &[Piece], claim: Claim) -> Result<(), String> {
    let mut heap = BinaryHeap::new();
    let mut best = f64::NEG_INFINITY;
    for (k, pc) in pieces.iter().enumerate() {
        let zero = Float::new(PREC);
        let upper = pc.upper_on(&zero, &pc.h_hi);
        heap.push(Cand { upper, k, a: zero, b: pc.h_hi.clone() });
        best = best.max(pc.lower_at(&Ball::zero()));
        best = best.max(pc.lower_at(&pc.h));
    }
    // The certifier's search (`enclose::deviation::sup_deviation`, called with at most
    // 500 + 20 * pieces bisections since stop 9, two evaluations each) may end at its budget with a claim
    // that only as many bisections reach: allow at least twice that, so that a claim the
    // certifier reached is not rejected for want of subdivisions. The search stops as soon as
    // the claim is confirmed, so easy claims cost little.
    let budget = 4 * (1000 + 200 * pieces.len());
    let mut evals = 0usize;
    loop {
        let top = heap.peek().expect("candidates cover [0, T]");
        if top.upper <= claim.hi && best >= claim.lo {
            return Ok(());
        }
        if evals >= budget {
            return Err(if top.upper > claim.hi {
                format!(
                    "claims.sup_deviation.hi = {:e} is not confirmed: the checker's upper bound of sup D is {:e}",
                    claim.hi, top.upper
                )
            } else {
                format!(
                    "claims.sup_deviation.lo = {:e} is not confirmed: the checker's best lower bound of sup D is {:e}",
                    claim.lo, best
                )
            });
        }
        let top = heap.pop().expect("non-empty");
        let pc = &pieces[top.k];
        let mid = Float::with_val(PREC, &top.a + &top.b) / 2u32;
        let mid = Float::with_val(PREC, mid);
        if mid <= pc.h_lo {
            best = best.max(pc.lower_at(&Ball { m: mid.clone(), r: 0.0 }));
        }
        let left = pc.upper_on(&top.a, &mid).min(top.upper);
        let right = pc.upper_on(&mid, &top.b).min(top.upper);
        evals += 2;
        heap.push(Cand { upper: left, k: top.k, a: top.a, b: mid.clone() });
        heap.push(Cand { upper: right, k: top.k, a: mid, b: top.b });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::series::tests::{direct_field, exact_small_mlp, poly_at, small_flow};

    fn rat(x: &Float) -> Rational {
        x.to_rational().expect("finite")
    }

    /// Whether the exact rational `v` lies in the ball, with a relative slack `rel` for a
    /// reference computed in finite precision.
    fn holds(b: &Ball, v: &Rational, rel: f64) -> bool {
        let slack = Rational::from_f64(b.r).unwrap() + Rational::from(v.clone().abs() * Rational::from_f64(rel).unwrap());
        b.r.is_finite() && Rational::from(v - rat(&b.m)).abs() <= slack
    }

    /// `binomials` is Pascal's triangle: `C(61, 30)`, symmetry and row sums `2^m`.
    #[test]
    fn binomials_are_exact() {
        let c = binomials(61);
        assert_eq!(c[61][30], 232_714_176_627_630_544);
        for m in 0..=61usize {
            assert_eq!(c[m].iter().map(|&x| x as i128).sum::<i128>(), 1i128 << m);
            for j in 0..=m {
                assert_eq!(c[m][j], c[m][m - j]);
            }
        }
    }

    /// Lemma Q: for base points `xi in [0, 3/4]` and coefficients at the ends and inside their
    /// balls, the exact shifted coefficients `sum_{m>=j} C(m, j) p_m xi^{m-j}` (rationals) lie in
    /// `taylor_shift`'s balls; and for an exact polynomial and `top = 0` they are the
    /// coefficients themselves.
    #[test]
    fn taylor_shift_contains_the_shifted_coefficients() {
        let mids = [0.5, -1.25, 3.0, -0.1, 2.5, -4.0, 0.0, 1e-3];
        let rads = [0.0, 1e-3, 0.0, 1e-6, 0.5, 0.0, 1e-9, 0.0];
        let n = mids.len() - 1;
        // Two components: p_m and (-1)^m p_m.
        let p: Vec<Vec<Ball>> = (0..=n)
            .map(|m| {
                let sign = if m % 2 == 0 { 1.0 } else { -1.0 };
                vec![Ball { m: Float::with_val(PREC, mids[m]), r: rads[m] }, Ball { m: Float::with_val(PREC, sign * mids[m]), r: rads[m] }]
            })
            .collect();
        let top = Float::with_val(PREC, 0.75);
        let shifted = taylor_shift(&p, &top);
        let binom = binomials(n);
        for i in 0..2 {
            for &xi in &[0.0, 0.1, 0.375, 0.75] {
                for choice in [-1.0, 0.0, 0.5, 1.0] {
                    let coef: Vec<Rational> = (0..=n)
                        .map(|m| rat(&p[m][i].m) + Rational::from_f64(choice * rads[m] * if m % 3 == 0 { -1.0 } else { 1.0 }).unwrap())
                        .collect();
                    let x = Rational::from_f64(xi).unwrap();
                    for j in 0..=n {
                        let mut v = Rational::new();
                        for m in (j..=n).rev() {
                            v = v * &x + Rational::from(&coef[m] * binom[m][j]);
                        }
                        assert!(holds(&shifted[j][i], &v, 0.0), "component {i}, xi = {xi}, j = {j}: {:?} misses {}", shifted[j][i], v.to_f64());
                    }
                }
            }
        }
        let exact: Vec<Vec<Ball>> = mids.iter().map(|&m| vec![Ball::exact(m)]).collect();
        let at_zero = taylor_shift(&exact, &Float::new(PREC));
        for (j, b) in at_zero.iter().enumerate() {
            assert!(b[0].m == mids[j] && b[0].r == 0.0, "j = {j}: {:?}", b[0]);
        }
    }

    /// Lemma 1 with the checker's code: for the exact small MLP, the point path of order 6 from
    /// `w0`, base points `[0, 1/2]`, the tube `Qhat_0 + [-10^-3, 10^-3]` and the pass along
    /// `(T, Qhat_1, ..., Qhat_7)`: at `s = 0.1, 0.3, 0.5`, the directly evaluated `F(P(s))` and
    /// `h(P(s))` (256 bits) lie in `sum_{k<=q} A_k s^k + s^{q+1} C` and
    /// `sum_{k<=q} H_k s^k + s^{q+1} W`, componentwise; and the remainder term matters (without
    /// it some component is outside).
    #[test]
    fn the_remainder_contains_the_field_along_the_path() {
        let (net, targets, c) = exact_small_mlp();
        let flow = small_flow(&net, &targets);
        let q = 6;
        let pp = flow.point_path(c, q);
        let top = Float::with_val(PREC, 0.5);
        let shifted = taylor_shift(&pp.p, &top);
        let tube: Vec<Ball> = shifted[0].iter().map(|b| Ball { m: b.m.clone(), r: up(b.r + 1e-3) }).collect();
        let mut boxes = vec![tube];
        boxes.extend(shifted[1..].iter().cloned());
        let along = flow.along(boxes);
        let mut needed = false;
        for &s in &[0.1, 0.3, 0.5] {
            let sb = Ball::exact(s);
            let sq = pow(&sb, q + 1);
            let w: Vec<Float> = (0..pp.p[0].len()).map(|i| poly_at(&pp.p, i, &Float::with_val(256, s), 256)).collect();
            let (field, out) = direct_field(&net, &targets, &w, 256);
            for (i, f) in field.iter().enumerate() {
                let encl = horner(&pp.field, i, &sb).add(&sq.mul(&along.field[i]));
                assert!(holds(&encl, &rat(f), 1e-70), "s = {s}, component {i}: {encl:?} misses {}", f.to_f64());
                needed |= !holds(&horner(&pp.field, i, &sb), &rat(f), 1e-70);
            }
            for (i, h) in out.iter().enumerate() {
                let encl = horner(&pp.out, i, &sb).add(&sq.mul(&along.out[i]));
                assert!(holds(&encl, &rat(h), 1e-70), "s = {s}, output {i}: {encl:?} misses {}", h.to_f64());
            }
        }
        assert!(needed, "the test does not exercise the remainder");
    }

    /// The solution of the exact small MLP's flow from `w(0)`, by RK4 with `n` steps of
    /// `h / n` at 256 bits (the field by [`direct_field`]); returns `w(h/2)` and `w(h)`.
    /// (The error at 1600 steps is about 1/16 of the difference to 800 steps, which the test
    /// adds to its tolerances.)
    fn rk4(net: &Net, targets: &[Ball], w0: &[Float], h: f64, n: usize) -> (Vec<Float>, Vec<Float>) {
        let prec = 256;
        let dt = Float::with_val(prec, h / n as f64);
        let mut w = w0.to_vec();
        let mut half = Vec::new();
        let axpy = |w: &[Float], k: &[Float], f: f64| -> Vec<Float> {
            w.iter().zip(k).map(|(a, b)| Float::with_val(prec, a + Float::with_val(prec, b * &dt) * f)).collect()
        };
        for step in 0..n {
            if step == n / 2 {
                half = w.clone();
            }
            let k1 = direct_field(net, targets, &w, prec).0;
            let k2 = direct_field(net, targets, &axpy(&w, &k1, 0.5), prec).0;
            let k3 = direct_field(net, targets, &axpy(&w, &k2, 0.5), prec).0;
            let k4 = direct_field(net, targets, &axpy(&w, &k3, 1.0), prec).0;
            w = w
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    let sum = Float::with_val(prec, &k1[i] + &k4[i]) + Float::with_val(prec, &k2[i] + &k3[i]) * 2u32;
                    Float::with_val(prec, a + Float::with_val(prec, sum * &dt) / 6u32)
                })
                .collect();
        }
        (half, w)
    }

    /// `|a - b|_2` for vectors of floats.
    fn dist(a: &[Float], b: &[Float]) -> f64 {
        a.iter().zip(b).map(|(x, y)| Float::with_val(256, x - y).to_f64().powi(2)).sum::<f64>().sqrt()
    }

    /// The step (Lemma 2, the next ball, the outputs) against an independent RK4 solution of
    /// the exact small MLP's flow: from a start point at distance `0.9 e` of the centre, the
    /// solution at `s = h/2` and `s = h` (`h = 1/2`, order 8) is within `E` of `P(s)`, and its
    /// outputs at `h` are within the step's output enclosure; `E` is not absurdly loose (below
    /// `100 (e + |w(h) - P(h)|)`; it is 26 times: the remainder's coefficient over the base
    /// points `[0, h]` is 13 times the one at 0, mostly the ball pass's overestimation over wide
    /// boxes). A path with a shifted coefficient (`P_3 + 10^-4`, its `A_k`
    /// recomputed along it) gets a larger `E` that still contains the solution; a step of
    /// length 40 is refused. The tampered path is checked on a step of `1/10`, where the shift
    /// (`7e-7` at the end) is far above the honest `E`.
    #[test]
    fn the_step_contains_the_solution_and_a_tampered_path_is_caught() {
        let (net, targets, c) = exact_small_mlp();
        let flow = small_flow(&net, &targets);
        let q = 8;
        let h = 0.5;
        let e = 1e-9;
        let p_dim = c.len();
        let w0: Vec<Float> = c.iter().enumerate().map(|(i, b)| Float::with_val(256, &b.m) + 0.9 * e / (p_dim as f64).sqrt() * if i % 2 == 0 { 1.0 } else { -1.0 }).collect();
        let (ref_half, ref_end) = rk4(&net, &targets, &w0, h, 1600);
        let (_, ref_end2) = rk4(&net, &targets, &w0, h, 800);
        let rk_err = dist(&ref_end, &ref_end2);
        assert!(rk_err < 1e-13, "RK4 reference error {rk_err:e}");
        let top = Float::with_val(PREC, h);
        let honest = tube_step(&flow, flow.point_path(c.clone(), q), e, &top, q, 0.5, None).expect("the step verifies");
        let at = |path: &[Vec<Ball>], s: f64| -> Vec<Float> { (0..p_dim).map(|i| poly_at(path, i, &Float::with_val(256, s), 256)).collect() };
        let dev_end = dist(&ref_end, &at(&honest.path, h));
        let dev_half = dist(&ref_half, &at(&honest.path, h / 2.0));
        assert!(dev_end + rk_err <= honest.e_t && dev_half + rk_err <= honest.e_t, "|w - P| = {dev_end:e}, {dev_half:e} > E = {:e}", honest.e_t);
        assert!(honest.e_t < 100.0 * (e + dev_end), "E = {:e} against e = {e:e}, |w(h) - P(h)| = {dev_end:e}", honest.e_t);
        // Outputs at h.
        let (_, out_ref) = direct_field(&net, &targets, &ref_end, 256);
        let hb = Ball::exact(h);
        for (i, o) in out_ref.iter().enumerate() {
            let v = horner(&honest.out, i, &hb).add(&pow(&hb, q + 1).mul(&honest.lag[i]));
            let v = Ball { m: v.m, r: up(v.r + honest.bounds.gradient[i] * honest.e_t) };
            assert!(holds(&v, &rat(o), 1e-60), "output {i}: {v:?} misses {}", o.to_f64());
        }
        // The tampered path on a step of 1/10 (where the honest E is about e): its own A_k,
        // H_k, and an honest, much larger E.
        let short = Float::with_val(PREC, 0.1);
        let (_, ref_short) = rk4(&net, &targets, &w0, 0.1, 400);
        let (_, ref_short2) = rk4(&net, &targets, &w0, 0.1, 200);
        let rk_err = dist(&ref_short, &ref_short2);
        let honest = tube_step(&flow, flow.point_path(c.clone(), q), e, &short, q, 0.5, None).expect("the short step verifies");
        let mut p = honest.path.clone();
        for b in &mut p[3] {
            b.m += 1e-4;
        }
        let tampered = tube_step(&flow, flow.along_exact_path(p), e, &short, q, 0.5, None).expect("a valid, looser step");
        let dev_h = dist(&ref_short, &at(&honest.path, 0.1));
        let dev_t = dist(&ref_short, &at(&tampered.path, 0.1));
        assert!(dev_h + rk_err <= honest.e_t, "short step: |w - P| = {dev_h:e} > E = {:e}", honest.e_t);
        assert!(dev_t + rk_err <= tampered.e_t, "tampered: |w - P| = {dev_t:e} > E = {:e}", tampered.e_t);
        assert!(dev_t > 100.0 * honest.e_t && tampered.e_t < 100.0 * dev_t, "E = {:e}, honest {:e}, |w - P| = {dev_t:e}", tampered.e_t, honest.e_t);
        // A step far too long.
        let long = Float::with_val(PREC, 40.0);
        let r = tube_step(&flow, flow.point_path(c.clone(), q), e, &long, q, 0.5, None);
        assert!(matches!(&r, Err(m) if m.contains("tube radius")), "{:?}", r.as_ref().err());
    }
}
