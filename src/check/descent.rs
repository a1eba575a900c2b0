//! `ntkcert check` for gradient-descent certificates (`[training] method = "gradient-descent"`,
//! issue 15): the checker re-runs `w_{k+1} = w_k - eta grad F(w_k)` and the linearised
//! iteration `rbar_{k+1} = rbar_k - eta (K0 rbar_k + lambda (rbar_k - r0))` in its own MPFR ball
//! arithmetic, keeps 2-norm balls `B(c_j, r_j)` and `B(cbar_j, rho_j)` around exact centres,
//! bounds the Lipschitz constant of the iteration map over one box per hinted chunk (its own
//! curvature and derivative bounds: [`super::curvature`], [`super::layered`]) and confirms that
//! every claim contains its enclosure.
//!
//! The checker's own code: it uses [`super::series`] for the network (one order-0 pass per
//! iterate gives `h(c_j)` and `-grad F(c_j)`), never `crate::enclose`, `crate::model` or
//! `crate::certify`. Proof: `proofs/checker.md`, section "Gradient descent" (Lemmas GD0-GD5).
//!
//! - [`check_method`]: `problem.method`, `problem.learning_rate` and `hints.method` against the
//!   spec (both directions: a flow certificate for a descent spec, and the converse, are invalid).
//! - [`check`]: the re-verification of a gradient-descent certificate ([`parse_chunks`],
//!   [`Descender::run`]).

use super::ball::{dot_acc, interval_to_ball, norm2_lower, norm2_upper, up, Ball, PREC};
use super::series::{jacobian, to_rug, FlowData, Net, PointPath};
use super::verify::{claim_contains, claim_contains_ball, claim_contains_nonneg, hull, rad_norm, sqr, Claim, Claims};
use super::{get, get_exact, invalid, malformed, CheckError};
use crate::problem::{Descent, Problem};
use rayon::prelude::*;
use rug::float::Round;
use rug::{Float, Rational};
use serde_json::Value;

/// The most chunks a certificate may hint (each costs a few passes over a box; a certificate
/// with more is refused as malformed before any work).
pub const MAX_CHUNKS: usize = 1_000_000;

/// How often a chunk's guard is enlarged when the radii outgrow it (effort only).
const GUARD_TRIES: usize = 3;

/// Proof: `proofs/checker.md`, "What `valid` means" (2).
/// The certificate's `problem.method`, `problem.learning_rate` and `hints.method` against the
/// spec: for a gradient-flow spec the two problem keys must be absent and `hints.method` must
/// not be `"gradient-descent"`; for a gradient-descent spec `problem.method` must be
/// `"gradient-descent"`, `problem.learning_rate` the spec's `eta` exactly and `hints.method`
/// `"gradient-descent"`. A mismatch is `invalid` (the certificate is about another problem); a
/// key of the wrong type is malformed. An unknown `hints.method` is left to the caller.
pub fn check_method(cert: &Value, problem: &Problem, hints_method: &str) -> Result<(), CheckError> {
    let cert_method = cert.get("problem").and_then(|p| p.get("method"));
    let cert_rate = cert.get("problem").and_then(|p| p.get("learning_rate"));
    match problem.descent() {
        None => {
            if cert_method.is_some() || cert_rate.is_some() {
                return invalid("problem.method / problem.learning_rate are present (a gradient-descent certificate) but the spec trains by gradient flow");
            }
            if hints_method == "gradient-descent" {
                return invalid("hints.method is 'gradient-descent' but the spec trains by gradient flow");
            }
            Ok(())
        }
        Some(d) => {
            match cert_method {
                None => return invalid("problem.method is missing (a gradient-flow certificate) but the spec trains by gradient descent"),
                Some(Value::String(m)) if m == "gradient-descent" => {}
                Some(Value::String(m)) => return invalid(format!("problem.method is '{m}' but the spec trains by gradient descent")),
                Some(_) => return Err(malformed("problem.method", "not a string")),
            }
            if cert_rate.is_none() {
                return invalid("problem.learning_rate is missing but the spec trains by gradient descent");
            }
            let eta = to_rug(&d.learning_rate.value);
            if get_exact(cert, "problem.learning_rate")? != eta {
                return invalid(format!("problem.learning_rate differs from the spec's eta = {eta}"));
            }
            match hints_method {
                "gradient-descent" => Ok(()),
                "taylor-tube" => invalid("hints.method is 'taylor-tube' (a gradient-flow certificate) but the spec trains by gradient descent"),
                other => Err(malformed("hints.method", format!("unknown method '{other}'"))),
            }
        }
    }
}

/// One hinted chunk: the iterates `k..k+count` share one box, of half-width `guard` around
/// the hull of their centres (`proofs/checker.md`, "Gradient descent"; effort only).
#[derive(Clone, Debug, PartialEq)]
pub struct Chunk {
    pub k: u64,
    pub count: u64,
    pub guard: f64,
}

/// Proof: `proofs/checker.md`, "Hints are not trusted" and "Gradient descent".
/// Reads `hints.chunks` for `K = iterations`: an array of at most [`MAX_CHUNKS`] objects whose
/// iterate ranges `k..k+count` (`count >= 1`) are consecutive from 0 and end exactly at `K`
/// (so they cover `0..=K`), each with a finite `guard >= 0`; `radius`, `linear_radius` and
/// `lipschitz` must be numbers (or `null`) and are not used. Anything else: malformed, one line.
pub fn parse_chunks(v: &Value, iterations: u64) -> Result<Vec<Chunk>, CheckError> {
    let arr = v.as_array().ok_or_else(|| malformed("hints.chunks", "not an array"))?;
    if arr.len() > MAX_CHUNKS {
        return Err(malformed("hints.chunks", format!("{} chunks; at most {MAX_CHUNKS} are accepted", arr.len())));
    }
    let total = iterations.checked_add(1).ok_or_else(|| malformed("hints.chunks", "too many iterations"))?;
    let mut chunks = Vec::with_capacity(arr.len());
    let mut next = 0u64;
    for (i, c) in arr.iter().enumerate() {
        let field = |key: &str| format!("hints.chunks[{i}].{key}");
        let obj = c.as_object().ok_or_else(|| malformed(&format!("hints.chunks[{i}]"), "not an object"))?;
        let k = obj.get("k").and_then(Value::as_u64).ok_or_else(|| malformed(&field("k"), "missing or not a non-negative integer"))?;
        let count = obj.get("count").and_then(Value::as_u64).filter(|&n| n >= 1).ok_or_else(|| malformed(&field("count"), "missing or not an integer >= 1"))?;
        let guard = obj.get("guard").and_then(Value::as_f64).filter(|g| g.is_finite() && *g >= 0.0).ok_or_else(|| malformed(&field("guard"), "missing, negative or not a finite number"))?;
        for key in ["radius", "linear_radius", "lipschitz"] {
            match obj.get(key) {
                Some(Value::Number(_)) | Some(Value::Null) => {}
                _ => return Err(malformed(&field(key), "missing or not a number")),
            }
        }
        if k != next {
            return Err(malformed(&field("k"), format!("is {k} but the chunks before end at iterate {next}: the chunks must cover the iterates 0..={iterations} consecutively")));
        }
        next = match k.checked_add(count) {
            Some(n) if n <= total => n,
            _ => return Err(malformed(&field("count"), format!("{count} iterates from {k} pass the last iterate K = {iterations}"))),
        };
        chunks.push(Chunk { k, count, guard });
    }
    if next != total {
        return Err(malformed("hints.chunks", format!("the chunks cover the iterates 0..{next} but must cover 0..={iterations}")));
    }
    Ok(chunks)
}

/// Proof: `proofs/checker.md`, "Gradient descent".
/// Re-verifies a gradient-descent certificate: `claims.steps = K`, then (unless every claim but
/// `r0` is the whole line) the chunks ([`parse_chunks`]) and every claim against the enclosures
/// of [`Descender::run`]; `R0` always.
pub fn check(cert: &Value, problem: &Problem, descent: &Descent, claims: &Claims, progress: bool) -> Result<(), CheckError> {
    let iterations = descent.iterations;
    if super::get_u64(cert, "claims.steps")? != iterations {
        return invalid(format!("claims.steps differs from the spec's number of iterations K = T/eta = {iterations}"));
    }
    let whole = everything_whole(claims);
    let chunks = if whole { Vec::new() } else { parse_chunks(get(cert, "hints.chunks")?, iterations)? };
    let net = Net::new(problem).map_err(CheckError::Unsupported)?;
    if problem.num_inputs() == 0 {
        return Err(CheckError::Unsupported("the problem has no training inputs".into()));
    }
    verify(problem, &net, descent, &chunks, claims, progress).map_err(CheckError::Invalid)
}

fn everything_whole(claims: &Claims) -> bool {
    claims.sup_deviation.is_whole()
        && claims.final_deviation.is_whole()
        && claims.outputs_final.iter().chain(&claims.linear_outputs_final).all(Claim::is_whole)
}


/// Proof: `proofs/checker.md`, "Gradient descent" (What is compared; Lemma GD5).
/// The claims against the checker's enclosures: `R0`, then (unless the claims are the whole
/// line) the outputs and linearised outputs at `K`, `D_K` and `max_k D_k`.
pub fn verify(problem: &Problem, net: &Net, descent: &Descent, chunks: &[Chunk], claims: &Claims, progress: bool) -> Result<(), String> {
    let d = Descender::new(problem, net, &to_rug(&descent.learning_rate.value))?;
    claim_contains_nonneg("claims.r0", claims.r0, &d.big_r0())?;
    if everything_whole(claims) {
        return Ok(());
    }
    let n_out = d.r0.len();
    if claims.outputs_final.len() != n_out || claims.linear_outputs_final.len() != n_out {
        return Err(format!("claims.outputs_final and claims.linear_outputs_final must have {n_out} entries"));
    }
    let e = d.run(descent.iterations, chunks, progress)?;
    for i in 0..n_out {
        claim_contains_ball(&format!("claims.outputs_final[{i}]"), claims.outputs_final[i], &e.outputs[i])?;
        claim_contains_ball(&format!("claims.linear_outputs_final[{i}]"), claims.linear_outputs_final[i], &e.linear_outputs[i])?;
    }
    claim_contains("claims.final_deviation", claims.final_deviation, e.last.0, e.last.1)?;
    claim_contains("claims.sup_deviation", claims.sup_deviation, e.sup.0, e.sup.1)
}

/// What [`Descender::run`] proves: `max_{k<=K} D_k` and `D_K` lie in `sup` and `last`
/// (`[lower, upper]`), `alpha g(w_K)` in `outputs`, `rbar_K + y` in `linear_outputs`.
pub struct Enclosures {
    pub sup: (f64, f64),
    pub last: (f64, f64),
    pub outputs: Vec<Ball>,
    pub linear_outputs: Vec<Ball>,
}

/// The problem in the checker's arithmetic, ready to iterate (`proofs/checker.md`, "Gradient
/// descent", set-up).
pub struct Descender<'a> {
    net: &'a Net,
    /// The field `-grad F` with the offset (centred) and the penalty.
    flow: FlowData<'a>,
    /// The initial box (balls containing the true `w0`).
    w0: Vec<Ball>,
    /// `h(w0)` over the initial box.
    h0: Vec<Ball>,
    /// `r0 = alpha g(w0) - y` (exactly `-y` when centred).
    r0: Vec<Ball>,
    centred: bool,
    eta: Rational,
    eta_ball: Ball,
    lambda: Rational,
    lambda_ball: Option<Ball>,
    alpha: Ball,
    alpha_up: f64,
    inv_alpha_up: f64,
    /// Balls containing `K0 = J(w0) J(w0)^T`, row by row.
    k0: Vec<Vec<Ball>>,
    /// `Lambda0 >= lambda_max(K0)`.
    lambda0: f64,
}

/// Per iterate of a chunk, what the radius-free first pass found.
struct Record {
    /// `s_j >= |Phi(c_j) - c_{j+1}|` (0 at `K`, where no step is taken).
    s: f64,
    /// Lower and upper bounds of `|alpha g(c_j) - y - cbar_j|` (0 at iterate 0).
    v_lo: f64,
    v_hi: f64,
    /// `rho_j`: `rbar_j in B(cbar_j, rho_j)`.
    rho: f64,
}

/// The bounds of one chunk: its radii `r_j` (one more than the iterates: the radius after
/// the chunk's last step) and the gradient bounds over its box.
struct ChunkBounds {
    radii: Vec<f64>,
    gradient: Vec<f64>,
    gradient_total: f64,
}


/// The midpoints as exact points (radius 0).
fn centres(v: &[Ball]) -> Vec<Ball> {
    v.iter().map(|b| Ball { m: b.m.clone(), r: 0.0 }).collect()
}


/// Proof: `proofs/checker.md`, "Gradient descent", Lemma GD1.
/// `L >= max |1 - eta e|` over `e in [lambda - mu, lambda + big + mu]` (the endpoints
/// decide: `|1 - eta e|` is convex in `e`), computed exactly in rationals from the f64 bounds
/// `mu, big >= 0` and rounded up; `+inf` when a bound is not finite.
pub fn lipschitz(eta: &Rational, lambda: &Rational, mu: f64, big: f64) -> f64 {
    if !(mu.is_finite() && big.is_finite()) {
        return f64::INFINITY;
    }
    let mu = Rational::from_f64(mu.max(0.0)).expect("finite");
    let big = Rational::from_f64(big.max(0.0)).expect("finite");
    let low = Rational::from(1) - eta.clone() * (lambda.clone() - mu.clone());
    let high = Rational::from(1) - eta.clone() * (lambda.clone() + big + mu);
    let m = if low.clone().abs() >= high.clone().abs() { low.abs() } else { high.abs() };
    Float::with_val_round(53, &m, Round::Up).0.to_f64_round(Round::Up)
}

impl<'a> Descender<'a> {
    /// The set-up for `problem` with the learning rate `eta`.
    pub fn new(problem: &Problem, net: &'a Net, eta: &Rational) -> Result<Descender<'a>, String> {
        let targets: Vec<Ball> = problem.targets.iter().map(|y| Ball::from_interval(y.inf(), y.sup())).collect();
        let w0: Vec<Ball> = problem.params0.iter().map(|x| Ball::from_interval(x.inf(), x.sup())).collect();
        Descender::from_parts(net, &to_rug(&problem.alpha.value), targets, w0, problem.centred, &to_rug(&problem.regularization.value), eta)
    }

    /// Proof: `proofs/checker.md`, "Gradient descent", set-up.
    /// The set-up from its parts: `alpha`, the targets' and the initial weights' balls,
    /// centring, the penalty `lambda >= 0` and `eta > 0` (exact).
    pub fn from_parts(net: &'a Net, alpha_q: &Rational, targets: Vec<Ball>, w0: Vec<Ball>, centred: bool, lambda_q: &Rational, eta: &Rational) -> Result<Descender<'a>, String> {
        let alpha = Ball::from_rational(alpha_q);
        let inv_alpha = Ball::from_rational(&Rational::from(alpha_q.recip_ref()));
        let n_out = targets.len();
        let plain = FlowData { net, alpha: alpha.clone(), inv_alpha: inv_alpha.clone(), targets: targets.clone(), offset: None, penalty: None, displacement: None };
        let h0 = plain.expand(w0.clone(), 0).out.swap_remove(0);
        if h0.len() != n_out {
            return Err(format!("the model has {} outputs but there are {} targets", h0.len(), n_out));
        }
        let r0: Vec<Ball> = if centred {
            targets.iter().map(|y| y.neg()).collect()
        } else {
            h0.iter().zip(&targets).map(|(h, y)| alpha.mul(h).sub(y)).collect()
        };
        let lambda_ball = (*lambda_q != 0).then(|| Ball::from_rational(lambda_q));
        let flow = FlowData {
            net,
            alpha: alpha.clone(),
            inv_alpha: inv_alpha.clone(),
            targets,
            offset: centred.then(|| h0.clone()),
            penalty: lambda_ball.clone().map(|l| (l, w0.clone())),
            displacement: None,
        };
        // K0 = J0 J0^T over the initial box, and Lambda0 >= lambda_max(K0) = |K0|_2 (PSD).
        // The entries a <= b by dot_acc (rows in parallel), mirrored: the true K0 is symmetric
        // and (b, a) is the same dot product of the same balls.
        let j0 = jacobian(net, &w0, n_out);
        let upper: Vec<Vec<Ball>> = (0..n_out)
            .into_par_iter()
            .map(|a| {
                (a..n_out)
                    .map(|b| {
                        let mut acc = Ball::zero();
                        dot_acc(&mut acc, j0[a].iter().zip(&j0[b]));
                        acc
                    })
                    .collect()
            })
            .collect();
        let k0: Vec<Vec<Ball>> = (0..n_out).map(|a| (0..n_out).map(|b| if a <= b { upper[a][b - a].clone() } else { upper[b][a - b].clone() }).collect()).collect();
        let k0_flat: Vec<Ball> = k0.iter().flatten().cloned().collect();
        let lambda0 = norm2_upper(&k0_flat).min(super::curvature::lambda_max_upper(&k0_flat, n_out));
        Ok(Descender {
            net,
            flow,
            w0,
            h0,
            r0,
            centred,
            eta: eta.clone(),
            eta_ball: Ball::from_rational(eta),
            lambda: lambda_q.clone(),
            lambda_ball,
            alpha_up: alpha.abs_upper(),
            inv_alpha_up: inv_alpha.abs_upper(),
            alpha,
            k0,
            lambda0,
        })
    }

    /// `R0 = |r0|^2 / 2`.
    pub fn big_r0(&self) -> Ball {
        let mut s = Ball::zero();
        for r in &self.r0 {
            s = s.add(&sqr(r));
        }
        s.div_int(2)
    }

    /// Proof: `proofs/checker.md`, "Gradient descent", Lemma GD4.
    /// Balls containing `Psi(x) = x - eta (K0 x + lambda (x - r0))` for the exact point `x`,
    /// with the true `K0` and `r0` inside their balls.
    fn linear_step(&self, x: &[Ball]) -> Vec<Ball> {
        (0..x.len())
            .map(|a| {
                let mut acc = Ball::zero();
                dot_acc(&mut acc, self.k0[a].iter().zip(x));
                if let Some(l) = &self.lambda_ball {
                    acc = acc.add(&l.mul(&x[a].sub(&self.r0[a])));
                }
                x[a].sub(&self.eta_ball.mul(&acc))
            })
            .collect()
    }

    /// Proof: `proofs/checker.md`, "Gradient descent", Lemma GD5.
    /// `alpha g(c) - y - cbar` for the outputs `h` at an exact centre (`g = h - h0` when centred).
    fn difference(&self, h: &[Ball], cbar: &[Ball]) -> Vec<Ball> {
        (0..h.len())
            .map(|i| {
                let g = if self.centred { h[i].sub(&self.h0[i]) } else { h[i].clone() };
                self.alpha.mul(&g).sub(&self.flow.targets[i]).sub(&cbar[i])
            })
            .collect()
    }

    /// Proof: `proofs/checker.md`, "Gradient descent", Lemma GD2 (the second bound of `Lambda`).
    /// `Lambda >= lambda_max(J(xi)^T J(xi))` for every `xi` in `wbox`:
    /// `(sqrt(Lambda0) + M dist)^2` with `M` the stacked Hessian bound over the hull of `wbox`
    /// and the initial box, `dist >= |xi - w0|`.
    fn gram_by_displacement(&self, wbox: &[Ball]) -> f64 {
        let hull: Vec<Ball> = wbox.iter().zip(&self.w0).map(|(a, b)| hull(a, b)).collect();
        let (_, hidden) = self.flow.over_box(hull.clone());
        let m = super::layered::tube_bounds(self.net, &hull, &hidden).hessian_total();
        let diff: Vec<Ball> = wbox.iter().zip(&self.w0).map(|(a, b)| a.sub(b)).collect();
        let dist = norm2_upper(&diff);
        let x = up(up(self.lambda0.max(0.0).sqrt()) + up(m * dist));
        let v = up(x * x);
        if v.is_nan() {
            f64::INFINITY
        } else {
            v
        }
    }

    /// Proof: `proofs/checker.md`, "Gradient descent", Lemmas GD1-GD3 (a chunk).
    /// The radii of a chunk whose centres spread over `[lo, hi]` (componentwise), starting at
    /// `r_first`, with the steps' roundings `s_j` of `recs`: for a guard `G`, the box
    /// `B = [lo - G, hi + G]`, `mu`, `Lambda` and the gradient bounds over it, `L`, and
    /// `r_{j+1} = L r_j + s_j`; accepted when every `r_j` of the chunk's iterates is `<= G`.
    /// The guard starts at the hint and is enlarged to `4 max r_j` when that fails (at most
    /// [`GUARD_TRIES`] boxes; effort only). `steps`: how many of the chunk's iterates take a step.
    fn chunk_bounds(&self, lo: &[Float], hi: &[Float], r_first: f64, recs: &[Record], steps: usize, hint: f64) -> Result<ChunkBounds, String> {
        let mut guard = hint;
        let mut last_reason = String::new();
        for _ in 0..GUARD_TRIES {
            let g = Float::with_val_round(PREC, guard, Round::Up).0;
            let wbox: Vec<Ball> = lo
                .iter()
                .zip(hi)
                .map(|(a, b)| {
                    let l = Float::with_val_round(PREC, a - &g, Round::Down).0;
                    let h = Float::with_val_round(PREC, b + &g, Round::Up).0;
                    interval_to_ball(&l, &h)
                })
                .collect();
            let (residual, hidden) = self.flow.over_box(wbox.clone());
            let bounds = super::layered::tube_bounds(self.net, &wbox, &hidden);
            // mu >= sup |(1/alpha) sum_i r_i D^2 h_i[v, v]| over unit v (both signs).
            let mut mu = up(up(norm2_upper(&residual) * bounds.hessian_total()) * self.inv_alpha_up);
            if let Net::Mlp(_) = self.net {
                let h = super::curvature::residual_hessian_upper(self.net, &wbox, &hidden, &residual);
                mu = mu.min(up(h * self.inv_alpha_up));
            }
            if mu.is_nan() {
                mu = f64::INFINITY;
            }
            let gradient_total = bounds.gradient_total();
            let gram = up(gradient_total * gradient_total);
            let mut lip = lipschitz(&self.eta, &self.lambda, mu, gram);
            let mut gram_used = gram;
            if lip > lipschitz(&self.eta, &self.lambda, mu, 0.0) {
                // The largest eigenvalue of J^T J matters (near the stability edge): the
                // sharper bound through the displacement from w0.
                gram_used = gram.min(self.gram_by_displacement(&wbox));
                lip = lipschitz(&self.eta, &self.lambda, mu, gram_used);
            }
            let mut radii = Vec::with_capacity(recs.len() + 1);
            radii.push(r_first);
            for rec in &recs[..steps] {
                let r = *radii.last().expect("non-empty");
                radii.push(up(up(lip * r) + rec.s));
            }
            let needed = radii[..recs.len()].iter().fold(0.0f64, |m, &r| if r.is_nan() { f64::INFINITY } else { m.max(r) });
            if needed <= guard {
                return Ok(ChunkBounds { radii, gradient: bounds.gradient, gradient_total });
            }
            last_reason = format!("the radius {needed:e} exceeds the guard G = {guard:e} (L = {lip:e}, mu = {mu:e}, Lambda = {gram_used:e})");
            if !needed.is_finite() {
                break;
            }
            guard = up(4.0 * needed);
        }
        Err(last_reason)
    }

    /// Proof: `proofs/checker.md`, "Gradient descent" (Lemmas GD0-GD5).
    /// Runs the `K = iterations` iterations on the hinted chunks (which must cover `0..=K`,
    /// [`parse_chunks`]) and returns the enclosures. Per chunk: first the centres (one order-0
    /// pass per iterate: `h(c_j)` and `-grad F(c_j)`), the linearised balls and the
    /// radius-free parts of `D_j`; then the box and the radii ([`Descender::chunk_bounds`]);
    /// then `D_j`. `progress`: a progress bar over the iterates on stderr.
    pub fn run(&self, iterations: u64, chunks: &[Chunk], progress: bool) -> Result<Enclosures, String> {
        let n_out = self.r0.len();
        if iterations == 0 {
            // w_K = w0: D = 0, both outputs alpha g(w0) (0 when centred).
            let o: Vec<Ball> = (0..n_out).map(|i| if self.centred { Ball::zero() } else { self.alpha.mul(&self.h0[i]) }).collect();
            return Ok(Enclosures { sup: (0.0, 0.0), last: (0.0, 0.0), outputs: o.clone(), linear_outputs: o });
        }
        let out_dim = self.net.output_dim();
        let lbar = lipschitz(&self.eta, &self.lambda, 0.0, self.lambda0);
        let mut c = centres(&self.w0);
        let mut r = rad_norm(&self.w0);
        let mut cbar = centres(&self.r0);
        let mut rho = rad_norm(&self.r0);
        // D_0 = |r0 - rbar_0| = 0.
        let mut sup = (0.0f64, 0.0f64);
        let mut last = (f64::NAN, f64::NAN);
        let mut outputs = Vec::new();
        let mut linear_outputs = Vec::new();
        let bar = progress.then(|| {
            crate::report::progress_bar(iterations + 1, "checking [{bar:40}] iterate {pos}/{len} eta {eta}").with_finish(indicatif::ProgressFinish::AndClear)
        });
        for (ci, chunk) in chunks.iter().enumerate() {
            let mut lo: Vec<Float> = c.iter().map(|b| b.m.clone()).collect();
            let mut hi = lo.clone();
            let mut recs: Vec<Record> = Vec::with_capacity(chunk.count.min(1 << 20) as usize);
            let mut final_h: Option<Vec<Ball>> = None;
            let mut final_lin: Option<(Vec<Ball>, f64)> = None;
            let end = chunk.k + chunk.count;
            for j in chunk.k..end {
                if let Some(bar) = &bar {
                    bar.set_position(j);
                }
                for (i, b) in c.iter().enumerate() {
                    if b.m < lo[i] {
                        lo[i].clone_from(&b.m);
                    }
                    if b.m > hi[i] {
                        hi[i].clone_from(&b.m);
                    }
                }
                // One order-0 pass at the exact centre: A ⊇ -grad F(c_j), H ⊇ h(c_j).
                let PointPath { p, field, out } = self.flow.point_path(c.clone(), 0);
                super::ball::recycle_series(p);
                let (v_lo, v_hi) = if j == 0 {
                    (0.0, 0.0)
                } else {
                    let v = self.difference(&out[0], &cbar);
                    let b = (norm2_lower(&v), norm2_upper(&v));
                    super::ball::recycle(v);
                    b
                };
                let mut rec = Record { s: 0.0, v_lo, v_hi, rho };
                if j == iterations {
                    final_lin = Some((cbar.clone(), rho));
                }
                if j < iterations {
                    // c_{j+1} = mid(c_j + eta A), s_j = |radii|.
                    let next: Vec<Ball> = c.iter().zip(&field[0]).map(|(ci, ai)| ci.add(&self.eta_ball.mul(ai))).collect();
                    rec.s = rad_norm(&next);
                    super::ball::recycle(std::mem::replace(&mut c, centres(&next)));
                    super::ball::recycle(next);
                    let nb = self.linear_step(&cbar);
                    cbar = centres(&nb);
                    rho = up(up(lbar * rho) + rad_norm(&nb));
                }
                super::ball::recycle_series(field);
                if j == iterations {
                    final_h = out.into_iter().next();
                } else {
                    super::ball::recycle_series(out);
                }
                recs.push(rec);
            }
            let steps = if end > iterations { recs.len() - 1 } else { recs.len() };
            let cb = self
                .chunk_bounds(&lo, &hi, r, &recs, steps, chunk.guard)
                .map_err(|why| format!("chunk {ci} (iterates {}..={}): {why}", chunk.k, end - 1))?;
            for (idx, rec) in recs.iter().enumerate() {
                let j = chunk.k + idx as u64;
                if j == 0 {
                    continue;
                }
                // |r_j - rbar_j| within alpha G r_j + rho_j of |alpha g(c_j) - y - cbar_j|.
                let slack = up(up(self.alpha_up * up(cb.gradient_total * cb.radii[idx])) + rec.rho);
                let lo_d = rec.v_lo - slack;
                let lo_d = (lo_d - lo_d.abs() * 1e-15 - 1e-300).max(0.0);
                let hi_d = up(rec.v_hi + slack);
                let hi_d = if hi_d.is_nan() { f64::INFINITY } else { hi_d };
                sup = (sup.0.max(lo_d), sup.1.max(hi_d));
                if j == iterations {
                    last = (lo_d, hi_d);
                }
            }
            if let (Some(h), Some((cb_lin, rho_lin))) = (final_h, final_lin) {
                let r_k = cb.radii[recs.len() - 1];
                outputs = (0..n_out)
                    .map(|i| {
                        let g = if self.centred { h[i].sub(&self.h0[i]) } else { h[i].clone() };
                        let slack = up(cb.gradient[i / out_dim] * r_k);
                        self.alpha.mul(&Ball { r: up(g.r + slack), m: g.m })
                    })
                    .collect();
                linear_outputs = (0..n_out)
                    .map(|i| {
                        let v = cb_lin[i].add(&self.flow.targets[i]);
                        Ball { m: v.m, r: up(v.r + rho_lin) }
                    })
                    .collect();
            }
            r = *cb.radii.last().expect("non-empty");
        }
        if outputs.len() != n_out || last.0.is_nan() {
            return Err("the chunks do not reach the last iterate".into());
        }
        Ok(Enclosures { sup, last, outputs, linear_outputs })
    }
}


#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::series::tests::{direct_field, exact_small_mlp};

    fn chunks_json(v: serde_json::Value) -> Result<Vec<Chunk>, String> {
        parse_chunks(&v, 9).map_err(|e| match e {
            CheckError::Malformed(m) => m,
            other => panic!("not malformed: {other:?}"),
        })
    }

    fn chunk(k: u64, count: u64) -> serde_json::Value {
        serde_json::json!({"k": k, "count": count, "guard": 1e-6, "radius": 0.0, "linear_radius": 0.0, "lipschitz": 1.0})
    }

    /// Chunks must cover 0..=K consecutively (K = 9 here), with sane numbers.
    #[test]
    fn chunks_must_cover_every_iterate() {
        assert_eq!(chunks_json(serde_json::json!([chunk(0, 4), chunk(4, 6)])).unwrap().len(), 2);
        assert_eq!(chunks_json(serde_json::json!([chunk(0, 10)])).unwrap(), vec![Chunk { k: 0, count: 10, guard: 1e-6 }]);
        for (what, v) in [
            ("short", serde_json::json!([chunk(0, 4), chunk(4, 5)])),
            ("long", serde_json::json!([chunk(0, 4), chunk(4, 7)])),
            ("gap", serde_json::json!([chunk(0, 4), chunk(5, 5)])),
            ("overlap", serde_json::json!([chunk(0, 4), chunk(3, 7)])),
            ("not from 0", serde_json::json!([chunk(1, 10)])),
            ("empty", serde_json::json!([])),
            ("count 0", serde_json::json!([chunk(0, 0), chunk(0, 10)])),
            ("huge count", serde_json::json!([chunk(0, u64::MAX)])),
            ("object", serde_json::json!({"k": 0})),
        ] {
            assert!(chunks_json(v).is_err(), "{what}");
        }
        for (key, bad) in [("guard", serde_json::json!(-1.0)), ("guard", serde_json::Value::Null), ("k", serde_json::json!(-1)), ("count", serde_json::json!(1.5)), ("lipschitz", serde_json::json!("x"))] {
            let mut c = chunk(0, 10);
            c[key] = bad.clone();
            let e = chunks_json(serde_json::json!([c])).unwrap_err();
            assert!(e.contains(&format!("hints.chunks[0].{key}")), "{key} = {bad}: {e}");
        }
    }

    /// `lipschitz`: the endpoint rule, and an upper bound of `|1 - eta e|` on a grid of `e`.
    #[test]
    fn lipschitz_bounds_the_iteration_map() {
        let q = |s: &str| Rational::from_str_radix(s, 10).unwrap();
        // eta = 1/10, lambda = 1/2, mu = 1/4, big = 30: e in [1/4, 30.75], max(0.975, 2.075).
        let l = lipschitz(&q("1/10"), &q("1/2"), 0.25, 30.0);
        assert!((2.075..2.075 * (1.0 + 1e-15)).contains(&l), "{l}");
        // Small eta: 1 - eta (lambda - mu) = 1 + 1/100 * 1/2.
        let l = lipschitz(&q("1/100"), &q("0"), 0.5, 10.0);
        assert!((1.005..1.005 * (1.0 + 1e-15)).contains(&l), "{l}");
        assert_eq!(lipschitz(&q("1"), &q("0"), f64::NAN, 1.0), f64::INFINITY);
        for (eta, lambda, mu, big) in [("3/10", "1/10", 0.3, 5.0), ("1/7", "2", 0.01, 0.5), ("1", "0", 0.0, 1.99)] {
            let l = lipschitz(&q(eta), &q(lambda), mu, big);
            let (eta, lambda) = (q(eta).to_f64(), q(lambda).to_f64());
            for t in 0..=100 {
                let e = lambda - mu + (big + 2.0 * mu) * t as f64 / 100.0;
                assert!((1.0 - eta * e).abs() <= l * (1.0 + 1e-12), "e = {e}: {l}");
            }
        }
    }

    /// `y = -(1/alpha) J^T (alpha h - y)` at 256 bits, plus the penalty.
    fn field(net: &Net, targets: &[Ball], w: &[Float], w0: &[Float], lambda: f64) -> (Vec<Float>, Vec<Float>) {
        let (mut f, out) = direct_field(net, targets, w, 256);
        for i in 0..f.len() {
            let d = Float::with_val(256, &w[i] - &w0[i]);
            f[i] -= Float::with_val(256, d * lambda);
        }
        (f, out)
    }

    fn rat(x: &Float) -> Rational {
        x.to_rational().expect("finite")
    }

    fn inside(b: &Ball, v: &Float) -> bool {
        let slack = Rational::from_f64(b.r).unwrap() + rat(v).abs() / (Rational::from(1) << 200u32);
        (rat(v) - rat(&b.m)).abs() <= slack
    }

    /// The exact small MLP (gf-mlp-small's architecture, exact inputs, targets and start;
    /// alpha = 2, uncentred), 40 iterations of eta = 1/4 (and with lambda = 1/2), chunks of
    /// 10, 25, 5: a 256-bit reference run of the true and the linearised iteration from a start
    /// at distance 0.9 r of the centre (the initial box is widened to radius r) lies in every
    /// enclosure (outputs, linearised outputs, D_K, max D_k); the enclosures are tight
    /// (D's width below 50 times the initial radius); a checker with eta = 0 or without the penalty misses.
    #[test]
    fn enclosures_contain_a_reference_run() {
        let (net, targets, c) = exact_small_mlp();
        let p = c.len();
        let n = targets.len();
        let k = 40u64;
        let eta_s = "1/4";
        let eta = Rational::from_str_radix(eta_s, 10).unwrap();
        let e0 = 1e-9;
        let start: Vec<Float> = c.iter().enumerate().map(|(i, b)| Float::with_val(256, &b.m) + 0.9 * e0 / (p as f64).sqrt() * if i % 3 == 0 { 1.0 } else { -1.0 }).collect();
        let w0_balls: Vec<Ball> = c.iter().map(|b| Ball { m: b.m.clone(), r: e0 / (p as f64).sqrt() }).collect();
        let chunks = vec![Chunk { k: 0, count: 10, guard: 1e-7 }, Chunk { k: 10, count: 25, guard: 0.0 }, Chunk { k: 35, count: 6, guard: 1e-3 }];
        for lambda in [0.0, 0.5] {
            let lambda_q = Rational::from_f64(lambda).unwrap();
            let alpha = Rational::from(2);
            // Reference: w_{j+1} = w_j + eta F(w_j); K0 from J rows J^T e_i = 2 (F(e_i) - F(0)) with alpha = 2, no penalty.
            let zero = vec![Ball::zero(); n];
            let f0 = direct_field(&net, &zero, &start, 256).0;
            let jrows: Vec<Vec<Float>> = (0..n)
                .map(|i| {
                    let mut e = zero.clone();
                    e[i] = Ball::exact(1.0);
                    let fi = direct_field(&net, &e, &start, 256).0;
                    fi.iter().zip(&f0).map(|(a, b)| Float::with_val(256, a - b) * 2u32).collect()
                })
                .collect();
            let k0: Vec<Vec<Float>> = (0..n).map(|a| (0..n).map(|b| jrows[a].iter().zip(&jrows[b]).fold(Float::with_val(256, 0), |s, (x, y)| s + Float::with_val(256, x * y))).collect()).collect();
            let out0 = direct_field(&net, &targets, &start, 256).1;
            let r0: Vec<Float> = (0..n).map(|i| Float::with_val(256, &out0[i] * 2u32) - &targets[i].m).collect();
            let eta_f = Float::with_val(256, &eta);
            let mut w = start.clone();
            let mut rbar = r0.clone();
            let mut d_max = Float::with_val(256, 0);
            let mut d = Float::with_val(256, 0);
            let mut out = out0.clone();
            for j in 0..=k {
                let (f, o) = field(&net, &targets, &w, &start, lambda);
                out = o;
                let dev = (0..n).fold(Float::with_val(256, 0), |s, i| {
                    let e = Float::with_val(256, &out[i] * 2u32) - &targets[i].m - &rbar[i];
                    s + Float::with_val(256, e.square_ref())
                });
                d = dev.sqrt();
                if d > d_max {
                    d_max = d.clone();
                }
                if j == k {
                    break;
                }
                w = w.iter().zip(&f).map(|(a, b)| Float::with_val(256, a + Float::with_val(256, b * &eta_f))).collect();
                rbar = (0..n)
                    .map(|a| {
                        let kr = (0..n).fold(Float::with_val(256, 0), |s, b| s + Float::with_val(256, &k0[a][b] * &rbar[b]));
                        let pen = Float::with_val(256, &rbar[a] - &r0[a]) * lambda;
                        Float::with_val(256, &rbar[a] - Float::with_val(256, kr + pen) * &eta_f)
                    })
                    .collect();
            }
            let run = |eta: &Rational, lambda_q: &Rational| {
                let d = Descender::from_parts(&net, &alpha, targets.clone(), w0_balls.clone(), false, lambda_q, eta).unwrap();
                d.run(k, &chunks, false).expect("the run verifies")
            };
            let e = run(&eta, &lambda_q);
            for i in 0..n {
                let o = Float::with_val(256, &out[i] * 2u32);
                assert!(inside(&e.outputs[i], &o), "lambda {lambda}, output {i}: {:?} misses {}", e.outputs[i], o.to_f64());
                let l = Float::with_val(256, &rbar[i] + &targets[i].m);
                assert!(inside(&e.linear_outputs[i], &l), "lambda {lambda}, linear output {i}: {:?} misses {}", e.linear_outputs[i], l.to_f64());
            }
            let (d, d_max) = (d.to_f64(), d_max.to_f64());
            assert!(e.last.0 <= d && d <= e.last.1, "lambda {lambda}: D_K = {d:e} outside {:?}", e.last);
            assert!(e.sup.0 <= d_max && d_max <= e.sup.1, "lambda {lambda}: max D = {d_max:e} outside {:?}", e.sup);
            // The width comes from the initial radius e0 (alpha |Dh| r_K on each side).
            assert!(e.sup.1 - e.sup.0 < 50.0 * e0 && d_max > 1e-4, "lambda {lambda}: loose or trivial: {:?}", e.sup);
            // Mutations: eta = 0 misses the outputs; dropping the penalty misses them too.
            let frozen = run(&Rational::from(0), &lambda_q);
            assert!((0..n).any(|i| !inside(&frozen.outputs[i], &Float::with_val(256, &out[i] * 2u32))), "eta = 0 not caught");
            if lambda > 0.0 {
                let plain = run(&eta, &Rational::from(0));
                assert!((0..n).any(|i| !inside(&plain.outputs[i], &Float::with_val(256, &out[i] * 2u32))), "penalty ignored, not caught");
            }
        }
    }

    /// A guard hint that is absurdly large makes the bounds infinite: the chunk fails (an
    /// honest failure, never a pass); a guard of 0 is enlarged and verifies.
    #[test]
    fn guards_are_effort_only() {
        let (net, targets, c) = exact_small_mlp();
        let eta = Rational::from_str_radix("1/4", 10).unwrap();
        let d = Descender::from_parts(&net, &Rational::from(2), targets, c, false, &Rational::from(0), &eta).unwrap();
        assert!(d.run(5, &[Chunk { k: 0, count: 6, guard: 0.0 }], false).is_ok());
        let r = d.run(5, &[Chunk { k: 0, count: 6, guard: 1e200 }], false);
        assert!(matches!(&r, Err(m) if m.contains("chunk 0")), "{:?}", r.as_ref().err());
    }
}
