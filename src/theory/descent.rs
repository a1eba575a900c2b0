//! F9: the discrete analogue of F5 for gradient descent `w_{k+1} = w_k - eta grad F(w_k)`,
//! `k < K`, `T = K eta`, against the linearised iteration `rbar_{k+1} = (I - eta K0) rbar_k`.
//!
//! Proof: `proofs/theory-f9.md` (Lemma D9: the descent condition, the ball that holds the
//! iterates and the segments between them; Lemma G9: the kernel sum `S_K`; the bound F9).
//!
//! - [`descent_region`]: verifies the step-size condition `eta beta < 2` with a certified
//!   `beta >= lambda_max(Hess Phi)` over a ball that it proves to contain every iterate and
//!   every segment between consecutive iterates (`Phi = F + (lambda/2)|w - w0|^2`).
//! - [`kernel_sum_upper`]: `S_K = sum_{m<K} phi_m sqrt(K-1-m)`, `phi_m = max_{x in [0, x_max]}
//!   sqrt(x) |1 - x|^m`, bounded from above.
//! - [`gradient_descent_value`]: F9's value.

use super::local::{layered_bounds_with, Forward};
use crate::arith::spd::sqrt_upper;
use crate::arith::vector::point;
use crate::problem::Problem;
use inari::Interval;

/// The terms of `S_K` summed one by one; the rest in blocks (Lemma G9 (c)).
pub const HEAD_TERMS: u64 = 4096;

/// `R_hat = |r0| (1 + 2^-20)`: a bound strictly above `|r0|` for the residual on the segments
/// (Lemma D9; the strictness is what the continuity argument needs).
const RESIDUAL_SLACK: f64 = 1.0 + 1.0 / 1048576.0;
/// The ball is taken this much larger than the radius it must contain (`rho_B > rho`).
const BALL_SLACK: f64 = 1.0 + 1.0 / 16.0;
/// Attempts at a ball that contains the radius proved over it.
const BALL_ATTEMPTS: usize = 12;

/// What Lemma D9 certified (every field an upper bound unless said otherwise).
#[derive(Debug, Clone)]
pub struct DescentRegion {
    /// `rho_B`: the ball `B(w0, rho_B)` over which the constants below hold.
    pub ball: f64,
    /// `rho < rho_B`: every iterate and every segment between consecutive iterates lies in
    /// `B(w0, rho)`, `rho = min(sqrt(T R0 / c), T s |r0|)/alpha` (without the penalty; with it,
    /// also `sqrt(2 R0/lambda)/alpha`).
    pub reach: f64,
    /// `Lip(h) >= sup |Dh|` over the ball (layered bound).
    pub lip_h: f64,
    /// `L >= sup |D^2 h|` over the ball (layered bound, min with the box recursion).
    pub lip_dh: f64,
    /// The box recursion's `sup |D^2 h|` alone, for comparison.
    pub lip_dh_box: f64,
    /// `s = min(Lip(h), sqrt(lambda_max(K0)) + L rho_B) >= sup |Dh|` over the ball.
    pub jacobian_norm: f64,
    /// `beta = s^2 + R_hat L / alpha + lambda >= lambda_max(Hess Phi)` over the ball wherever
    /// `|r| <= R_hat`.
    pub smoothness: f64,
    /// `c = 1 - eta beta / 2 > 0`, enclosed (its lower end is what the bound uses).
    pub margin: Interval,
}

/// Everything `bound` reports about gradient descent.
#[derive(Debug, Clone)]
pub struct DescentReport {
    /// `eta`, enclosed.
    pub learning_rate: Interval,
    pub iterations: u64,
    /// `>= lambda_max(K0)` (`enclose::linear::LinearFlow::kernel_norm`, `arith::spd`).
    pub lambda_max_k0: f64,
    /// `x_max = eta lambda_max(K0)` (upper): the linearised iteration is stable when `<= 2`.
    pub x_max: f64,
    /// A lower bound of the stability edge `2 / lambda_max(K0)` (`2 / (lambda_max(K0) +
    /// lambda)` with the penalty).
    pub edge: f64,
    /// `lambda >= 0` of the penalty (enclosure).
    pub lambda: Interval,
    /// Lemma D9's region, or why the condition is not established.
    pub region: Result<DescentRegion, String>,
    /// The last ball tried (for the report when the condition fails): `(rho_B, Lip(h), L,
    /// L_box)`.
    pub last_ball: Option<(f64, f64, f64, f64)>,
    /// `S_K` (upper), when the region holds.
    pub kernel_sum: Option<f64>,
}

/// `phi_m = max_{x in [0, x_max]} sqrt(x) |1 - x|^m` (upper; `0 <= x_max < 2`), Lemma G9 (a).
pub fn phi_upper(x_max: f64, m: u64) -> f64 {
    let x = point(x_max);
    if m == 0 {
        return x.sqrt().sup();
    }
    let mi = i32::try_from(m).expect("phi_upper: m fits in i32 (K <= 1e8)");
    let mm = point(m as f64);
    // The peak of sqrt(x)(1 - x)^m on [0, 1] is at x* = 1/(2m + 1).
    let peak = (point(2.0) * mm + point(1.0)).recip();
    let first = if x_max < peak.inf() {
        // Increasing on [0, x_max]: the value at x_max.
        (x.sqrt() * (point(1.0) - x).powi(mi)).sup()
    } else {
        (peak.sqrt() * (point(2.0) * mm * peak).powi(mi)).sup()
    };
    if x_max > 1.0 {
        // On [1, x_max], sqrt(x)(x - 1)^m is increasing.
        let second = (x.sqrt() * (x - point(1.0)).powi(mi)).sup();
        first.max(second)
    } else {
        first
    }
}

/// An upper bound of `S_K = sum_{m=0}^{K-1} phi_m sqrt(K-1-m)` (Lemma G9 (c)): the first
/// [`HEAD_TERMS`] terms one by one (as enclosures), the rest in blocks `[m1, m2)` growing by the
/// factor `1 + 1/BLOCK_GROWTH`, each bounded by `phi_{m1} int_{m1-1}^{m2-1} sqrt(n - u) du`
/// (`phi_m` and `sqrt(n - m)` are non-increasing in `m`). `0 <= x_max < 2`.
pub fn kernel_sum_upper(x_max: f64, iterations: u64) -> f64 {
    assert!((0.0..2.0).contains(&x_max), "kernel_sum_upper: x_max = {x_max} must lie in [0, 2)");
    if iterations == 0 {
        return 0.0;
    }
    let n = iterations - 1;
    let head_end = n.min(HEAD_TERMS - 1);
    let mut sum = point(0.0);
    for m in 0..=head_end {
        sum += point(phi_upper(x_max, m)) * point((n - m) as f64).sqrt();
    }
    let nn = point(n as f64);
    let mut m1 = HEAD_TERMS;
    while m1 <= n {
        let m2 = (m1 + m1 / BLOCK_GROWTH).min(n + 1);
        // int_{m1-1}^{m2-1} sqrt(n - u) du = (2/3)(A^{3/2} - B^{3/2}), A = n - m1 + 1,
        // B = n - m2 + 1 >= 0, written as (2/3)(A - B)(A + sqrt(AB) + B)/(sqrt A + sqrt B).
        let a = nn - point((m1 - 1) as f64);
        let b = nn - point((m2 - 1) as f64);
        let integral = point(2.0) / point(3.0) * point((m2 - m1) as f64) * (a + (a * b).sqrt() + b) / (a.sqrt() + b.sqrt());
        sum += point(phi_upper(x_max, m1)) * integral;
        m1 = m2;
    }
    sum.sup()
}

/// Blocks of the kernel sum beyond the head grow by the factor `1 + 1/BLOCK_GROWTH`.
const BLOCK_GROWTH: u64 = 256;

/// Lemma D9 (`proofs/theory-f9.md#d9`): searches a ball `B(w0, rho_B)` over which
/// `eta beta < 2` and which strictly contains the radius `rho` proved from it. `r0n >= |r0|`,
/// `r0` the enclosure of `R0`, `lam_k0 >= lambda_max(K0)`.
#[allow(clippy::too_many_arguments)]
pub fn descent_region(
    problem: &Problem,
    forward: &Forward,
    r0: Interval,
    r0n: f64,
    lam_k0: f64,
    eta: Interval,
    last_ball: &mut Option<(f64, f64, f64, f64)>,
) -> Result<DescentRegion, String> {
    let alpha = problem.alpha.enclosure;
    let horizon = problem.horizon.enclosure;
    let lambda = problem.regularization.enclosure;
    let penalised = lambda.sup() > 0.0;
    let eta_txt = crate::arith::rational::rational_to_string(&problem.descent().expect("gradient descent").learning_rate.value);
    let x_max = (eta * (point(lam_k0) + lambda)).sup();
    if !(x_max < 2.0) {
        let edge = (point(2.0) / (point(lam_k0) + lambda)).inf();
        return Err(if penalised {
            format!(
                "eta = {eta_txt} is not below the certified stability edge 2/(lambda_max(K0) + lambda) >= {edge:.6e} (lambda_max(K0) <= {lam_k0:.6e}): the linearised iteration is not proved stable and the loss is not proved to decrease"
            )
        } else {
            format!(
                "eta = {eta_txt} is not below the certified stability edge 2/lambda_max(K0) >= {edge:.6e} (lambda_max(K0) <= {lam_k0:.6e}): the linearised iteration is not proved stable and the loss is not proved to decrease"
            )
        });
    }
    let s0 = sqrt_upper(lam_k0);
    let r_hat = (point(r0n) * point(RESIDUAL_SLACK)).sup();
    let r0n_i = point(r0n);
    // The radius proved over a ball, given its constants.
    let proved_radius = |c: Interval, s: Option<f64>| -> f64 {
        let mut rho = ((horizon * r0 / c).sqrt() / alpha).sup();
        if penalised {
            rho = rho.min(((point(2.0) * r0 / lambda).sqrt() / alpha).sup());
        } else if let Some(s) = s.filter(|s| s.is_finite()) {
            rho = rho.min((horizon * point(s) * r0n_i / alpha).sup());
        }
        rho
    };
    // First guess: beta >= lambda_max(K0) + lambda, so c <= 1 - x_max/2.
    let c_guess = point(1.0) - point(x_max) / point(2.0);
    let mut try_radius = (point(proved_radius(c_guess, None).max(f64::MIN_POSITIVE)) * point(BALL_SLACK)).sup();
    let mut best: Option<DescentRegion> = None;
    let mut failure = String::new();
    for _ in 0..BALL_ATTEMPTS {
        let region = layered_bounds_with(problem, forward, try_radius);
        let lip_h = region.bounds.gradient_total();
        let lip_dh = region.bounds.hessian_total();
        let lip_dh_box = region.box_bounds.hessian_total();
        if best.is_none() {
            *last_ball = Some((try_radius, lip_h, lip_dh, lip_dh_box));
        }
        let l = point(lip_dh);
        let s = lip_h.min((point(s0) + l * point(try_radius)).sup());
        let beta = (point(s).sqr() + point(r_hat) * l / alpha + lambda).sup();
        let c = point(1.0) - eta * point(beta) / point(2.0);
        if !(c.inf() > 0.0) {
            let limit = (point(2.0) / point(beta)).inf();
            failure = format!(
                "eta = {eta_txt} is below the stability edge of the linearised iteration (eta lambda_max(K0){} <= {x_max:.6e} < 2) but not below 2/beta = {limit:.6e}, beta = {beta:.6e} >= lambda_max(Hess {}) over B(w0, {try_radius:.6e}) (s = {s:.4e} >= |Dh|, L = {lip_dh:.4e}): the loss is not proved to decrease (descent lemma, proofs/theory-f9.md#d9)",
                if penalised { " + eta lambda" } else { "" },
                if penalised { "(F + (lambda/2)|w - w0|^2)" } else { "F" },
            );
            break;
        }
        let rho = proved_radius(c, Some(s));
        if rho < try_radius {
            let found = DescentRegion { ball: try_radius, reach: rho, lip_h, lip_dh, lip_dh_box, jacobian_norm: s, smoothness: beta, margin: c };
            *last_ball = Some((try_radius, lip_h, lip_dh, lip_dh_box));
            let shrink = (point(rho.max(f64::MIN_POSITIVE)) * point(BALL_SLACK)).sup();
            let done = shrink >= 0.9 * try_radius;
            best = Some(found);
            if done {
                break;
            }
            // A smaller ball may close too (smaller constants): try it.
            try_radius = shrink;
            continue;
        }
        if best.is_some() {
            break;
        }
        failure = format!(
            "the iterates' ball did not close: over B(w0, {try_radius:.6e}) the proved radius is {rho:.6e} (c = {:.4e})",
            c.inf()
        );
        try_radius = (point(rho) * point(BALL_SLACK)).sup();
    }
    best.ok_or(failure)
}

/// F9's value (`proofs/theory-f9.md#f9`), before the `min` with F3:
/// `(L R0/alpha) (T/(sqrt(2) c) + sqrt(2/c) eta S_K)`, upper.
pub fn gradient_descent_value(problem: &Problem, r0: Interval, region: &DescentRegion, eta: Interval, kernel_sum: f64) -> f64 {
    let alpha = problem.alpha.enclosure;
    let horizon = problem.horizon.enclosure;
    let c = region.margin;
    let two = point(2.0);
    let first = horizon / (two.sqrt() * c);
    let second = (two / c).sqrt() * eta * point(kernel_sum);
    (point(region.lip_dh) * r0 / alpha * (first + second)).sup()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `max_{x in [0, x_max]} sqrt(x)|1-x|^m` by a dense grid (f64, uniform and geometric from
    /// 1e-12), a lower estimate.
    fn phi_grid(x_max: f64, m: u64) -> f64 {
        let n = 200_000;
        let g = |x: f64| x.sqrt() * (1.0 - x).abs().powi(m as i32);
        let uniform = (0..=n).map(|i| x_max * i as f64 / n as f64).map(g).fold(0.0, f64::max);
        let ratio = (x_max / 1e-12).ln() / n as f64;
        let geometric = (0..=n).map(|i| 1e-12 * (ratio * i as f64).exp()).filter(|&x| x <= x_max).map(g).fold(0.0, f64::max);
        uniform.max(geometric)
    }

    #[test]
    fn phi_dominates_a_grid_search_and_is_close() {
        for &x_max in &[0.05, 0.3, 0.9, 1.0, 1.2, 1.7, 1.95] {
            for m in [0u64, 1, 2, 3, 5, 10, 50, 400, 3000] {
                let up = phi_upper(x_max, m);
                let grid = phi_grid(x_max, m);
                // (the f64 grid has rounding errors of a few ulps)
                assert!(up >= grid * (1.0 - 1e-13), "x_max {x_max} m {m}: {up} < grid {grid}");
                assert!(up <= grid * (1.0 + 1e-4) + 1e-300, "x_max {x_max} m {m}: {up} vs grid {grid}");
            }
        }
    }

    #[test]
    fn peak_term_is_dominated_by_the_continuous_kernel() {
        // a_m <= 1/sqrt(2 e m) (Lemma G9 (b)), and the ratio tends to 1.
        for m in [1u64, 2, 10, 100, 4096, 100_000] {
            let a = phi_upper(1.0, m);
            let c = 1.0 / (2.0 * std::f64::consts::E * m as f64).sqrt();
            assert!(a <= c * (1.0 + 1e-12), "m {m}: {a} > {c}");
            if m >= 100 {
                assert!(a >= c * (1.0 - 3.0 / m as f64), "m {m}: {a} vs {c}");
            }
        }
    }

    /// The sum by brute force in f64 with the grid maximum, for an independent check.
    fn kernel_sum_direct(x_max: f64, k: u64) -> f64 {
        (0..k).map(|m| phi_grid_fast(x_max, m) * ((k - 1 - m) as f64).sqrt()).sum()
    }

    /// The closed-form maximum in f64 (independent of the interval code: no branches shared).
    fn phi_grid_fast(x_max: f64, m: u64) -> f64 {
        // Golden-section free: evaluate at the analytic peak if inside, the end points otherwise.
        let g = |x: f64| x.sqrt() * (1.0 - x).abs().powf(m as f64);
        let mut best = g(x_max).max(g(x_max.min(1.0)));
        let peak = 1.0 / (2.0 * m as f64 + 1.0);
        if peak <= x_max {
            best = best.max(g(peak));
        }
        best
    }

    #[test]
    fn kernel_sum_dominates_the_direct_sum_and_is_tight() {
        for &x_max in &[0.2, 1.0, 1.5, 1.9] {
            for k in [1u64, 2, 10, 1000, 4097, 20_000, 300_000] {
                let up = kernel_sum_upper(x_max, k);
                let direct = kernel_sum_direct(x_max, k);
                assert!(up >= direct * (1.0 - 1e-12), "x_max {x_max} K {k}: {up} < {direct}");
                assert!(up <= direct * 1.002 + 1e-12, "x_max {x_max} K {k}: {up} vs {direct}");
            }
        }
    }

    #[test]
    fn kernel_sum_tends_to_the_continuous_integral() {
        // eta S_K -> T pi/(2 sqrt(2e)) as eta -> 0 with K eta = T = 1, when lambda_max(K0) T is
        // large (here 1e4; the cap sigma^2 <= lambda_max matters only for T - s < 1/(2 lambda_max)).
        // The discrete kernel is dominated by the continuous one, so the limit is approached
        // from below (up to the m = 0 term, sqrt(x_max K) eta).
        let limit = std::f64::consts::PI / (2.0 * (2.0 * std::f64::consts::E).sqrt());
        for k in [100_000u64, 1_000_000, 10_000_000] {
            let eta = 1.0 / k as f64;
            let v = eta * kernel_sum_upper(1e4 * eta, k);
            assert!(v <= limit * 1.001, "K {k}: {v} vs {limit}");
            if k >= 1_000_000 {
                assert!(v >= limit * 0.97, "K {k}: {v} vs {limit}");
            }
        }
    }
}
