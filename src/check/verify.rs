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
        let h_hi_f = f64_up(&h_hi);

        // (1) Taylor coefficients of the solution through the centre.
        let pt = flow.expand(centre.clone(), q);
        let u = &pt.w;
        let p_dim = centre.len();
        // Per-parameter series ranges over S = [0, sup [h]] (Lemma E) run on every core (the
        // expansions already do).
        let e_poly: Vec<Range> = (0..p_dim).into_par_iter().map(|i| Range::horner(u, i, &h_hi)).collect();
        // sup(S)^{q+1}, rounded up.
        let s_pow = pow_up(&h_hi, q + 1);
        // (2)-(3) A box verified for this step: the last one if it passes this step's tests
        // (proofs/checker.md, "The step", Lemma S4), else a new one.
        let reused = last_box.as_ref().and_then(|b| {
            let e_t = b.tube_radius(radius, h_hi_f);
            (e_t < b.g_rad && b.encloses(&e_poly, &s_pow, q)).then_some(e_t)
        });
        if reused.is_none() {
            let reach = box_reach(steps, k, &h_hi, &s_pow, &centre, last_box.as_ref(), q);
            let fresh = new_box(&flow, net, u, &e_poly, &s_pow, &reach, radius, inv_alpha.abs_upper(), q)
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
            let crude = up(c * norm2_upper(&lin_centre));
            // Lemma L, second bound: sup(S)^{q+1} |K| |R_q| / (q+1), with R_q ∋ (-K0)^q c_l / q!.
            let sharp = up(up(up(f64_up(&pow_up(&h_hi, q + 1)) * k_norm) * norm2_upper(&lin_coeffs[q])) / (q + 1) as f64);
            crude.min(sharp)
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

/// A step is *long* when the width its Lagrange remainder adds, estimated with the last box's
/// coefficient (`sup(S)^{q+1} max_i rad V_i`), exceeds this fraction of the parameters' scale
/// `max_i |c_i|` (see [`box_reach`]). The certifier's tight steps keep their remainders near
/// `2^-56` of its scale; loose ones (`--accuracy 1e-4`) at `1e-13` to `1e-10`.
const LONG_STEP_REMAINDER: f64 = 1.0 / 1_125_899_906_842_624.0; // 2^-50

/// The reach `H` of a new box's candidate, the range of the point series over `[0, H]` (a guess:
/// any candidate that passes Lemma S1's test is valid; the reach matters for cost and for the
/// checker's own widths only). A long step (its widths come from the Lagrange remainders
/// `[0, h^{q+1}] V`, and the width of `V` grows faster than linearly with the tube's), and the
/// first step, get a box over their own `[0, h]`; other steps a box that also covers the next
/// hinted step, up to `2h` (as the certifier's boxes), so that the next step can usually reuse
/// it. Measured on certificates of `--accuracy 1e-2`: outputs 4-20x tighter than with
/// `h + min(h, h_next)` for every step, about the same time; on tight certificates the shared
/// boxes save a quarter of the time (gf-mlp-small, gf-mlp-capd-edge).
fn box_reach(steps: &[Rational], k: usize, h_hi: &Float, s_pow: &Float, centre: &[Ball], last: Option<&VerifiedBox>, q: usize) -> Float {
    let long = match last {
        None => true,
        Some(b) => {
            let scale = centre.iter().map(|c| c.abs_upper()).fold(0.0, f64::max);
            let width = b.bx.w[q + 1].iter().map(|v| v.r).fold(0.0, f64::max) * f64_up(s_pow);
            !(width <= LONG_STEP_REMAINDER * scale)
        }
    };
    match steps.get(k + 1) {
        Some(next) if !long => {
            let next = Ball::from_rational(next).hi();
            let ahead = if next < *h_hi { next } else { h_hi.clone() };
            Float::with_val_round(PREC, h_hi + &ahead, Round::Up).0
        }
        _ => h_hi.clone(),
    }
}

/// A closed interval `[lo, hi]` of MPFR floats, for ranges over `[0, H]` (Lemma E,
/// `proofs/checker.md`, "The step"). Not finite (an end infinite or NaN): nothing is known, and
/// every test on it fails.
struct Range {
    lo: Float,
    hi: Float,
}

impl Range {
    fn whole() -> Range {
        Range { lo: Float::with_val(PREC, f64::NEG_INFINITY), hi: Float::with_val(PREC, f64::INFINITY) }
    }

    /// The ball's set `[m - r, m + r]`, ends rounded outward.
    fn of(b: &Ball) -> Range {
        Range { lo: b.lo(), hi: b.hi() }
    }

    fn is_finite(&self) -> bool {
        self.lo.is_finite() && self.hi.is_finite()
    }

    /// Lemma E: `{x t + y : x in self, t in [0, top], y in c}` for `top >= 0`, inside
    /// `[min(lo, 0) top + c.lo, max(hi, 0) top + c.hi]`, each operation rounded outward.
    fn mul_add_nonneg(&self, top: &Float, c: &Range) -> Range {
        if !(self.is_finite() && c.is_finite() && top.is_finite()) {
            return Range::whole();
        }
        let lo = if self.lo < 0 { Float::with_val_round(PREC, &self.lo * top, Round::Down).0 } else { Float::new(PREC) };
        let hi = if self.hi > 0 { Float::with_val_round(PREC, &self.hi * top, Round::Up).0 } else { Float::new(PREC) };
        let lo = Float::with_val_round(PREC, &lo + &c.lo, Round::Down).0;
        let hi = Float::with_val_round(PREC, &hi + &c.hi, Round::Up).0;
        Range { lo, hi }
    }

    /// `{sum_j c[j][i] s^j : s in [0, top]}` for every choice of the coefficients in their
    /// balls, by Horner's scheme with Lemma E at each step (`top >= 0`).
    fn horner(c: &[Vec<Ball>], i: usize, top: &Float) -> Range {
        let q = c.len() - 1;
        let mut acc = Range::of(&c[q][i]);
        for j in (0..q).rev() {
            acc = acc.mul_add_nonneg(top, &Range::of(&c[j][i]));
        }
        acc
    }

    /// A ball containing the range (the whole line when it is not finite).
    fn to_ball(&self) -> Ball {
        if self.is_finite() {
            interval_to_ball(&self.lo, &self.hi)
        } else {
            Ball { m: Float::new(PREC), r: f64::INFINITY }
        }
    }

    /// Whether the range lies in the ball `c`: `inf c <= lo` and `hi <= sup c`, with the ball's
    /// ends rounded inward (false when either is not finite).
    fn inside(&self, c: &Ball) -> bool {
        if !(self.is_finite() && c.m.is_finite() && c.r.is_finite()) {
            return false;
        }
        let c_lo = Float::with_val_round(PREC, &c.m - c.r, Round::Up).0;
        let c_hi = Float::with_val_round(PREC, &c.m + c.r, Round::Down).0;
        c_lo <= self.lo && self.hi <= c_hi
    }
}

/// `x^k` rounded up, for `x >= 0`.
fn pow_up(x: &Float, k: usize) -> Float {
    Float::with_val_round(PREC, rug::ops::Pow::pow(x, k as u32), Round::Up).0
}

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
    /// Lemma S1's test for a step with `e_poly_i ⊇ {sum_{j<=q} U_{j,i} s^j : s in S}` and
    /// `s_pow >= sup(S)^{q+1}`: `E_i = e_poly_i + [0, s_pow] V_i` inside `C_i` for every `i`.
    fn encloses(&self, e_poly: &[Range], s_pow: &Float, q: usize) -> bool {
        (e_poly, &self.bx.w[q + 1][..], &self.cand[..]).into_par_iter().all(|(e, v, c)| lagrange_component(e, s_pow, v).inside(c))
    }

    /// `E_t = e exp(mu h)`, rounded up (Lemma S3).
    fn tube_radius(&self, radius: f64, h_hi: f64) -> f64 {
        let growth = Float::with_val_round(64, up(self.mu * h_hi), Round::Up).0;
        let growth = Float::with_val_round(64, growth.exp_ref(), Round::Up).0.to_f64_round(Round::Up);
        up(radius * growth)
    }
}

/// Component `i` of Lemma S1's `E = e_poly + [0, s_pow] V` (Lemma E).
fn lagrange_component(e_poly_i: &Range, s_pow: &Float, v_i: &Ball) -> Range {
    Range::of(v_i).mul_add_nonneg(s_pow, e_poly_i)
}

/// Steps (2) and (3) of "The step": a candidate from the range of the point series `u` over
/// `[0, reach]` padded by 5% of its width on each side (a guess, as the integrator's), the tube
/// with `G = 2e`, the expansion over it, Lemma S1's test with the step's `e_poly` and `s_pow`
/// (at most 6 candidates: a failing component is replaced by the hull of itself and its `E_i`,
/// padded by 10% of the width), then `mu` and the bounds over the tube.
#[allow(clippy::too_many_arguments)]
fn new_box(
    flow: &FlowData,
    net: &Net,
    u: &[Vec<Ball>],
    e_poly: &[Range],
    s_pow: &Float,
    reach: &Float,
    radius: f64,
    inv_alpha_up: f64,
    q: usize,
) -> Option<VerifiedBox> {
    let mut cand: Vec<Ball> = (0..e_poly.len())
        .into_par_iter()
        .map(|i| {
            let e = Range::horner(u, i, reach).to_ball();
            let extra = 0.1 * e.r + 1e-40 * (e.abs_upper() + 1e-200);
            Ball { m: e.m, r: up(e.r + extra) }
        })
        .collect();
    let g_rad = up(2.0 * radius) + 1e-200;
    for _ in 0..6 {
        let tube: Vec<Ball> = cand.iter().map(|c| Ball { m: c.m.clone(), r: up(c.r + g_rad) }).collect();
        let bx = flow.expand(tube.clone(), q + 1);
        let mut ok = true;
        for (i, (e, v)) in e_poly.iter().zip(&bx.w[q + 1]).enumerate() {
            let encl = lagrange_component(e, s_pow, v);
            if !encl.inside(&cand[i]) {
                ok = false;
                if !encl.is_finite() {
                    // A wider candidate cannot make the coefficients over its tube finite.
                    bx.recycle();
                    return None;
                }
                let c = Range::of(&cand[i]);
                let lo = if c.lo < encl.lo { c.lo } else { encl.lo };
                let hi = if c.hi > encl.hi { c.hi } else { encl.hi };
                let hull = interval_to_ball(&lo, &hi);
                let r = up(1.2 * hull.r + 1e-30 * hull.abs_upper());
                cand[i] = Ball { m: hull.m, r };
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
