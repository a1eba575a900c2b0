//! Re-verification of the numerical claims: the checker's own validated integration of the
//! gradient flow and of the linearised flow on the step grid given by the hints, in ball
//! arithmetic, and the comparison of its enclosures with the claimed intervals.
//! Proofs: `proofs/checker.md`, sections "The step", "The linearised flow", "Deviation" and
//! "Claims".

use super::ball::{dot_acc, interval_to_ball, norm2_lower, norm2_upper, up, up_n, Ball, PREC};
use super::series::{jacobian, to_rug, DerivativeBounds, Expansion, FlowData, Net};
use crate::problem::Problem;
use rug::float::Round;
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
    let (lo, hi) = (b.lo(), b.hi());
    if c.lo <= lo && hi <= c.hi {
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

/// `Ok(())` iff `[lo, hi]` (f64, a proved enclosure) lies inside the claimed interval.
fn claim_contains(what: &str, c: Claim, lo: f64, hi: f64) -> Result<(), String> {
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
fn rad_norm(v: &[Ball]) -> f64 {
    let s: f64 = v.iter().map(|b| b.r * b.r).sum();
    up(up_n(s, v.len()).sqrt())
}

/// Upper bound (as f64) of `|a - b|` for two floats.
fn diff_upper(a: &Float, b: &Float) -> f64 {
    let d1 = Float::with_val_round(64, a - b, Round::Up).0.to_f64_round(Round::Up);
    let d2 = Float::with_val_round(64, b - a, Round::Up).0.to_f64_round(Round::Up);
    d1.max(d2).max(0.0)
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
        v - v.abs() * 1e-15 - 1e-300
    }
    /// `[lower, upper]` of `D(t_k + s)` for `s` in the ball.
    fn enclosure_at(&self, s: &Ball) -> (f64, f64) {
        let v = self.value(s);
        let lo = norm2_lower(&v) - up(self.rho);
        (lo - lo.abs() * 1e-15 - 1e-300, up(norm2_upper(&v) + self.rho))
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
/// "The step" (Lemmas S1-S3), "The linearised flow" (Lemma L), "Deviation". Returns `Err(reason)` for the
/// first claim that the checker's enclosures do not confirm. `progress`: a progress bar over the
/// steps on stderr.
pub fn verify(problem: &Problem, net: &Net, order: usize, steps: &[Rational], claims: &Claims, progress: bool) -> Result<Derived, String> {
    let q = order;
    let alpha_q = to_rug(&problem.alpha.value);
    let alpha = Ball::from_rational(&alpha_q);
    let inv_alpha = Ball::from_rational(&Rational::from(alpha_q.recip_ref()));
    let targets: Vec<Ball> = problem.targets.iter().map(|y| Ball::from_interval(y.inf(), y.sup())).collect();
    let n_out = targets.len();
    let out_dim = net.output_dim();
    let w0: Vec<Ball> = problem.params0.iter().map(|x| Ball::from_interval(x.inf(), x.sup())).collect();

    // h(w0) over the initial box.
    let plain = FlowData { net, alpha: alpha.clone(), inv_alpha: inv_alpha.clone(), targets: targets.clone(), offset: None };
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
    claim_contains_ball("claims.r0", claims.r0, &big_r0)?;

    let everything_whole = claims.sup_deviation.is_whole()
        && claims.final_deviation.is_whole()
        && claims.outputs_final.iter().chain(&claims.linear_outputs_final).all(Claim::is_whole);
    if everything_whole {
        return Ok(Derived { r0: big_r0 });
    }
    if claims.outputs_final.len() != n_out || claims.linear_outputs_final.len() != n_out {
        return Err(format!("claims.outputs_final and claims.linear_outputs_final must have {n_out} entries"));
    }
    if steps.is_empty() {
        // T = 0: D = 0, outputs alpha (h(w0) - offset).
        claim_contains("claims.sup_deviation", claims.sup_deviation, 0.0, 0.0)?;
        claim_contains("claims.final_deviation", claims.final_deviation, 0.0, 0.0)?;
        for i in 0..n_out {
            let o = if problem.centred { Ball::zero() } else { alpha.mul(&h0[i]) };
            claim_contains_ball(&format!("claims.outputs_final[{i}]"), claims.outputs_final[i], &o)?;
            claim_contains_ball(&format!("claims.linear_outputs_final[{i}]"), claims.linear_outputs_final[i], &o)?;
        }
        return Ok(Derived { r0: big_r0 });
    }

    let flow = FlowData { net, alpha: alpha.clone(), inv_alpha: inv_alpha.clone(), targets: targets.clone(), offset: offset.clone() };

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

    let mut centre: Vec<Ball> = w0.iter().map(|b| Ball { m: b.m.clone(), r: 0.0 }).collect();
    let mut radius = rad_norm(&w0);
    let mut lin_centre: Vec<Ball> = r0.iter().map(|b| Ball { m: b.m.clone(), r: 0.0 }).collect();
    let mut lin_radius = rad_norm(&r0);
    let alpha_up = alpha.abs_upper();
    let mut pieces: Vec<Piece> = Vec::with_capacity(steps.len());
    let mut final_outputs: Vec<Ball> = Vec::new();
    let mut final_linear: Vec<Ball> = Vec::new();
    let mut last_box: Option<VerifiedBox> = None;
    let bar = progress.then(|| step_bar(steps.len()));

    for (k, h_exact) in steps.iter().enumerate() {
        if let Some(bar) = &bar {
            bar.set_position(k as u64);
        }
        let h = Ball::from_rational(h_exact);
        let h_hi = h.hi();
        let h_lo = h.lo();
        let s_box = Ball::zero_to(&h);
        let h_hi_f = f64_up(&h_hi);

        // (1) Taylor coefficients of the solution through the centre.
        let pt = flow.expand(centre.clone(), q);
        let u = &pt.w;
        let p_dim = centre.len();
        // Per-parameter series evaluations run on every core (the expansions already do).
        let e_poly: Vec<Ball> = (0..p_dim).into_par_iter().map(|i| horner(u, i, &s_box)).collect();
        let s_pow = pow(&s_box, q + 1);
        // (2)-(3) A box verified for this step: the last one if it passes this step's tests
        // (proofs/checker.md, "The step", Lemma S4), else a new one.
        let reused = last_box.as_ref().and_then(|b| {
            let e_t = b.tube_radius(radius, h_hi_f);
            (e_t < b.g_rad && b.encloses(&e_poly, &s_pow, q)).then_some(e_t)
        });
        if reused.is_none() {
            // The candidate covers the polynomial up to the end of the next BOX_STEPS - 1
            // hinted steps too, so that they can usually reuse the box.
            let ahead = steps[k..(k + BOX_STEPS).min(steps.len())].iter().fold(Ball::zero(), |t, s| t.add(&Ball::from_rational(s)));
            let reach = Ball::zero_to(&ahead);
            let fresh = new_box(&flow, net, u, &e_poly, &s_pow, &reach, radius, inv_alpha.abs_upper(), h_hi_f, q)
                .ok_or_else(|| format!("step {k}: the checker could not verify an a-priori enclosure for the hinted step length (order {q})"))?;
            if let Some(old) = last_box.replace(fresh) {
                old.bx.recycle();
            }
        }
        let b = last_box.as_ref().expect("a box was just verified");
        let (bx, bounds) = (&b.bx, &b.bounds);
        let e_t = reused.unwrap_or_else(|| b.tube_radius(radius, h_hi_f));
        if !(e_t < b.g_rad) {
            return Err(format!("step {k}: the tube radius {e_t:e} exceeds the assumed {:e}", b.g_rad));
        }
        // (4) The next ball.
        let hpow = pow(&h, q + 1);
        let end: Vec<Ball> = (0..p_dim).into_par_iter().map(|i| horner(u, i, &h).add(&hpow.mul(&bx.w[q + 1][i]))).collect();

        // The linearised flow on the step.
        let mut lin_coeffs: Vec<Vec<Ball>> = vec![lin_centre.clone()];
        for j in 1..=q {
            let prev = &lin_coeffs[j - 1];
            let next: Vec<Ball> = (0..n_out)
                .map(|a| {
                    let mut acc = Ball::zero();
                    dot_acc(&mut acc, k0[a].iter().zip(prev));
                    acc.neg().div_int(j as i64)
                })
                .collect();
            lin_coeffs.push(next);
        }
        let lin_rem = {
            let x = Float::with_val_round(64, up(k_norm * h_hi_f), Round::Up).0;
            let xp = Float::with_val_round(64, rug::ops::Pow::pow(&x, (q + 1) as u32), Round::Up).0;
            let fact = Float::with_val_round(64, Float::factorial((q + 1) as u32), Round::Down).0;
            let c = Float::with_val_round(64, &xp / &fact, Round::Up).0.to_f64_round(Round::Up);
            up(c * norm2_upper(&lin_centre))
        };
        let lin_rad_step = up(lin_radius + lin_rem);
        let lin_end: Vec<Ball> = (0..n_out).map(|i| horner(&lin_coeffs, i, &h)).collect();

        // The deviation piece.
        let mut p: Vec<Vec<Ball>> = Vec::with_capacity(q + 1);
        for j in 0..=q {
            let row: Vec<Ball> = (0..n_out)
                .map(|i| {
                    let a = if j == 0 {
                        let g = match &offset {
                            Some(o) => pt.out[0][i].sub(&o[i]),
                            None => pt.out[0][i].clone(),
                        };
                        alpha.mul(&g).sub(&targets[i])
                    } else {
                        alpha.mul(&pt.out[j][i])
                    };
                    a.sub(&lin_coeffs[j][i])
                })
                .collect();
            p.push(row);
        }
        let lag: Vec<Ball> = bx.out[q + 1].iter().map(|w| alpha.mul(w)).collect();
        let rho = up(alpha_up * bounds.gradient_total() * e_t + lin_rad_step);
        pieces.push(Piece { p, lag, rho, h: h.clone(), h_hi: h_hi.clone(), h_lo });

        if k + 1 == steps.len() {
            final_outputs = (0..n_out)
                .map(|i| {
                    let hv = horner(&pt.out, i, &h).add(&hpow.mul(&bx.out[q + 1][i]));
                    let g = match &offset {
                        Some(o) => hv.sub(&o[i]),
                        None => hv,
                    };
                    let slack = up(bounds.gradient[i / out_dim] * e_t);
                    let g = Ball { m: g.m, r: up(g.r + slack) };
                    alpha.mul(&g)
                })
                .collect();
            final_linear = (0..n_out)
                .map(|i| {
                    let v = lin_end[i].add(&targets[i]);
                    Ball { m: v.m, r: up(v.r + lin_rad_step) }
                })
                .collect();
        }
        if std::env::var_os("NTKCERT_CHECK_TRACE").is_some() {
            let vmax = bx.w[q + 1].iter().map(|v| v.abs_upper()).fold(0.0, f64::max);
            let vrad = bx.w[q + 1].iter().map(|v| v.r).fold(0.0, f64::max);
            let candw = b.cand.iter().map(|c| c.r).fold(0.0, f64::max);
            let polyw = e_poly.iter().map(|c| c.r).fold(0.0, f64::max);
            let wout = bx.out[q + 1].iter().map(|v| v.r).fold(0.0, f64::max);
            eprintln!(
                "TRACE k={k} h={h_hi_f:.3e} reused={} e={radius:.3e} e_t={e_t:.3e} G={:.3e} mu={:.3e} rad_end={:.3e} hpow*|V|={:.3e} hpow*radV={:.3e} cand_r={candw:.3e} poly_r={polyw:.3e} hpow*radW={:.3e} grad={:.3e} lin_rad={lin_rad_step:.3e}",
                reused.is_some(), b.g_rad, b.mu, rad_norm(&end), f64_up(&hpow.hi()) * vmax, f64_up(&hpow.hi()) * vrad, f64_up(&hpow.hi()) * wout, bounds.gradient_total()
            );
        }
        centre = end.iter().map(|b| Ball { m: b.m.clone(), r: 0.0 }).collect();
        radius = up(e_t + rad_norm(&end));
        lin_centre = lin_end.iter().map(|b| Ball { m: b.m.clone(), r: 0.0 }).collect();
        lin_radius = up(lin_rad_step + rad_norm(&lin_end));
        let _ = &pieces[k].h;
        pt.recycle();
    }
    if let Some(b) = last_box {
        b.bx.recycle();
    }

    if std::env::var_os("NTKCERT_CHECK_TRACE").is_some() {
        for i in 0..n_out {
            let c = claims.outputs_final[i];
            let l = claims.linear_outputs_final[i];
            eprintln!("TRACE out[{i}] claim w {:.3e} checker w {:.3e} ratio {:.2}; lin claim w {:.3e} checker w {:.3e}", c.hi - c.lo, 2.0 * final_outputs[i].r, 2.0 * final_outputs[i].r / (c.hi - c.lo), l.hi - l.lo, 2.0 * final_linear[i].r);
        }
        let last = pieces.last().expect("at least one step");
        let (dlo, dhi) = last.enclosure_at(&last.h);
        let c = claims.final_deviation;
        eprintln!("TRACE D(T) claim w {:.3e} checker w {:.3e}", c.hi - c.lo, dhi - dlo);
    }
    for i in 0..n_out {
        claim_contains_ball(&format!("claims.outputs_final[{i}]"), claims.outputs_final[i], &final_outputs[i])?;
        claim_contains_ball(&format!("claims.linear_outputs_final[{i}]"), claims.linear_outputs_final[i], &final_linear[i])?;
    }
    let last = pieces.last().expect("at least one step");
    let (dlo, dhi) = last.enclosure_at(&last.h);
    claim_contains("claims.final_deviation", claims.final_deviation, dlo, dhi)?;
    if !claims.sup_deviation.is_whole() {
        confirm_sup(&pieces, claims.sup_deviation)?;
    }
    Ok(Derived { r0: big_r0 })
}

/// A new box's candidate is guessed to cover this many hinted steps (a matter of cost and of
/// the checker's own widths, never of validity). Measured on gf-mlp-small: 2 steps 0.95e9
/// instructions, 4 steps 0.86e9; but with 4 the wider boxes loosened the checker's enclosures
/// so much that true claims of shipped F7 and gelu certificates were no longer confirmed.
const BOX_STEPS: usize = 2;

/// An a-priori box that passed Lemma S1's test for the step that built it: the candidate
/// `C`, the tube `T = C + [-G, G]` (`g_rad = G`), the expansion over `T`, and `mu` and the
/// derivative bounds over `T` (Lemma S2).
struct VerifiedBox {
    cand: Vec<Ball>,
    g_rad: f64,
    bx: Expansion,
    bounds: DerivativeBounds,
    mu: f64,
}

impl VerifiedBox {
    /// Lemma S1's test for a step with `e_poly_i = sum_{j<=q} U_{j,i} S^j` and `s_pow = S^{q+1}`:
    /// `E_i = e_poly_i + s_pow V_i` inside `C_i` for every `i`.
    fn encloses(&self, e_poly: &[Ball], s_pow: &Ball, q: usize) -> bool {
        (e_poly, &self.bx.w[q + 1][..], &self.cand[..]).into_par_iter().all(|(e, v, c)| lagrange_component(e, s_pow, v, c).1)
    }

    /// `E_t = e exp(mu h)`, rounded up (Lemma S3).
    fn tube_radius(&self, radius: f64, h_hi: f64) -> f64 {
        let growth = Float::with_val_round(64, up(self.mu * h_hi), Round::Up).0;
        let growth = Float::with_val_round(64, growth.exp_ref(), Round::Up).0.to_f64_round(Round::Up);
        up(radius * growth)
    }
}

/// Component `i` of Lemma S1's `E = e_poly + s_pow V` and whether it lies in `C_i`
/// (`|mid E - mid C| + rad E <= rad C`, rounded up).
fn lagrange_component(e_poly_i: &Ball, s_pow: &Ball, v_i: &Ball, c_i: &Ball) -> (Ball, bool) {
    let encl = e_poly_i.add(&s_pow.mul(v_i));
    let inside = up(diff_upper(&encl.m, &c_i.m) + encl.r) <= c_i.r;
    (encl, inside)
}

/// Steps (2) and (3) of "The step": a candidate from the point series `u` over `reach`
/// (a guess), the tube with `G = 2e`, the expansion over it, Lemma S1's test with the step's
/// `e_poly` and `s_pow` (at most 6 candidates), then `mu` and the bounds over the tube.
#[allow(clippy::too_many_arguments)]
fn new_box(
    flow: &FlowData,
    net: &Net,
    u: &[Vec<Ball>],
    e_poly: &[Ball],
    s_pow: &Ball,
    reach: &Ball,
    radius: f64,
    inv_alpha_up: f64,
    h_hi: f64,
    q: usize,
) -> Option<VerifiedBox> {
    let hq = h_hi.powi(q as i32);
    let mut cand: Vec<Ball> = (0..e_poly.len())
        .into_par_iter()
        .map(|i| {
            let e = horner(u, i, reach);
            let extra = up(2.0 * u[q][i].abs_upper() * hq * 1.01) + 1e-9 * e.r + 1e-40 * (e.abs_upper() + 1e-200);
            Ball { m: e.m.clone(), r: up(e.r + extra) }
        })
        .collect();
    let g_rad = up(2.0 * radius) + 1e-200;
    if std::env::var_os("NTKCERT_CHECK_TRACE").is_some() {
        let r = reach.hi().to_f64();
        eprintln!("TRACE new_box reach {r:.3e} h {h_hi:.3e} cand0 max r {:.3e}", cand.iter().map(|c| c.r).fold(0.0, f64::max));
    }
    for attempt in 0..6 {
        if std::env::var_os("NTKCERT_CHECK_TRACE").is_some() && attempt > 0 {
            eprintln!("TRACE new_box attempt {attempt} cand max r {:.3e}", cand.iter().map(|c| c.r).fold(0.0, f64::max));
        }
        let tube: Vec<Ball> = cand.iter().map(|c| Ball { m: c.m.clone(), r: up(c.r + g_rad) }).collect();
        let bx = flow.expand(tube.clone(), q + 1);
        let mut ok = true;
        for (i, (e, v)) in e_poly.iter().zip(&bx.w[q + 1]).enumerate() {
            let (encl, inside) = lagrange_component(e, s_pow, v, &cand[i]);
            if !inside {
                ok = false;
                cand[i] = Ball { m: encl.m.clone(), r: up(2.0 * encl.r + 1e-30 * encl.abs_upper()) };
            }
        }
        if ok {
            // = hidden_activations(net, &tube), from the expansion
            let bounds = super::layered::tube_bounds(net, &tube, &bx.hidden0);
            // Lemma S2: mu = |r|_T M_T / alpha, or for an MLP the smaller H_T / alpha with the
            // residual-weighted bound H_T of proofs/residual-hessian.md (both valid over T).
            let mut mu = up(norm2_upper(&bx.residual0) * bounds.hessian_total() * inv_alpha_up);
            if let Net::Mlp(_) = net {
                let h = super::curvature::residual_hessian_upper(net, &tube, &bx.hidden0, &bx.residual0);
                mu = mu.min(up(h * inv_alpha_up));
            }
            return Some(VerifiedBox { cand, g_rad, bx, bounds, mu });
        }
        bx.recycle();
    }
    None
}

/// `x^2` for a ball: `[0, (|m|+r)^2]` when the ball is near 0, else the product bound.
fn sqr(x: &Ball) -> Ball {
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
