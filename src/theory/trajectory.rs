//! A sampled, **not certified**, estimate of the effective constants along the actual
//! trajectory: `L_traj = max_k |Dh(w(t_k)) - Dh(w0)|_2 / |w(t_k) - w0|` and
//! `Lip_traj = max_k |Dh(w(t_k))|_2` at sample times `t_k`, with `w(t)` integrated in f64 by
//! the same Taylor method as `simulate` (for gradient descent: the iterates in f64, sampled at
//! about evenly spaced iterations). It only serves to say how loose the certified constants of
//! [`super::theory_bounds`] are; nothing certified depends on it.

use crate::model::flow::{jacobian, GradientFlow};
use crate::problem::Problem;

/// What the samples show (plain f64, no guarantee).
#[derive(Debug, Clone, serde::Serialize)]
pub struct TrajectoryEstimate {
    /// Largest sampled `|J(w) - J0| / |w - w0|`.
    pub lip_dh_sampled: f64,
    /// Largest sampled `|J(w)|`.
    pub lip_h_sampled: f64,
    /// Largest sampled `|w(t) - w0|`.
    pub displacement_sampled: f64,
    /// Number of sample times.
    pub samples: usize,
}

fn horner(coeffs: &[Vec<f64>], s: f64) -> Vec<f64> {
    let mut acc = coeffs[coeffs.len() - 1].clone();
    for c in coeffs[..coeffs.len() - 1].iter().rev() {
        for (a, &ci) in acc.iter_mut().zip(c) {
            *a = a.mul_add(s, ci);
        }
    }
    acc
}

/// The spectral norm of the `N x p` matrix `rows` by power iteration on the `N x N` Gram matrix
/// (an estimate from below, converged to a few digits).
fn spectral_norm(rows: &[Vec<f64>]) -> f64 {
    let n = rows.len();
    let gram: Vec<Vec<f64>> =
        (0..n).map(|a| (0..n).map(|b| rows[a].iter().zip(&rows[b]).map(|(x, y)| x * y).sum()).collect()).collect();
    let mut v: Vec<f64> = (0..n).map(|i| 1.0 + 0.01 * i as f64).collect();
    let mut lambda = 0.0;
    for _ in 0..200 {
        let next: Vec<f64> = gram.iter().map(|row| row.iter().zip(&v).map(|(g, x)| g * x).sum()).collect();
        let norm = next.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm == 0.0 {
            return 0.0;
        }
        let prev = lambda;
        lambda = norm / v.iter().map(|x| x * x).sum::<f64>().sqrt();
        v = next.into_iter().map(|x| x / norm).collect();
        if (lambda - prev).abs() <= 1e-12 * lambda {
            break;
        }
    }
    lambda.sqrt()
}

/// Integrates the flow on `[0, T]` in f64 (Taylor order `order`) and samples the constants at
/// about `samples` evenly spaced times (at step ends).
pub fn estimate(problem: &Problem, order: usize, samples: usize) -> TrajectoryEstimate {
    let order = order.max(2);
    let w0: Vec<f64> = problem.params0.iter().map(|v| v.mid()).collect();
    let alpha = problem.alpha.enclosure.mid();
    let initial = GradientFlow::<Vec<f64>>::new(problem, None).outputs_at(&w0);
    let offset_iv: Option<Vec<inari::Interval>> =
        problem.centred.then(|| initial.iter().map(|&o| crate::arith::vector::point(o)).collect());
    let mut flow = GradientFlow::<Vec<f64>>::new(problem, offset_iv.as_deref());
    let j0 = jacobian::<f64>(problem, &w0);
    let horizon = problem.horizon.enclosure.mid();
    // Parameter scale: |w0| or the reachable radius sqrt(T R0)/alpha (w0 may be 0).
    let r0: f64 = problem
        .targets
        .iter()
        .zip(&initial)
        .map(|(y, h)| if problem.centred { y.mid() } else { alpha * h - y.mid() })
        .map(|r| r * r)
        .sum::<f64>()
        * 0.5;
    let reach = (horizon * r0).sqrt() / alpha;
    let tol = w0.iter().fold(0.0f64, |m, c| m.max(c.abs())).max(reach).max(1e-300) * 2f64.powi(-40);
    let tol_out = problem.targets.iter().fold(0.0f64, |m, y| m.max(y.mag())).max(1e-300) * 2f64.powi(-40);
    let mut w = w0.clone();
    if let Some(d) = problem.descent() {
        let offset: Vec<f64> = if problem.centred { initial.clone() } else { vec![0.0; initial.len()] };
        return estimate_descent(problem, d, &w0, &j0, &offset, samples, &mut flow);
    }
    let mut t = 0.0;
    let every = horizon / samples.max(1) as f64;
    let mut next_sample = every;
    let mut est = TrajectoryEstimate { lip_dh_sampled: 0.0, lip_h_sampled: spectral_norm(&j0), displacement_sampled: 0.0, samples: 0 };
    let mut guard = 0usize;
    while t < horizon && guard < 1_000_000 {
        guard += 1;
        let exp = flow.expand(&w, order);
        let h = exp.step_for(order, alpha, tol, tol_out).min(horizon - t).min(every).max(horizon * 1e-12);
        w = horner(&exp.params[..=order], h);
        t += h;
        if t >= next_sample || t >= horizon {
            next_sample = t + every;
            est.sample(problem, &w, &w0, &j0);
        }
    }
    est
}

impl TrajectoryEstimate {
    /// Takes the sample at `w`: `|J(w) - J(w0)| / |w - w0|`, `|J(w)|` and `|w - w0|` (f64).
    fn sample(&mut self, problem: &Problem, w: &[f64], w0: &[f64], j0: &[Vec<f64>]) {
        let j = jacobian::<f64>(problem, w);
        let diff: Vec<Vec<f64>> = j.iter().zip(j0).map(|(a, b)| a.iter().zip(b).map(|(x, y)| x - y).collect()).collect();
        let disp = w.iter().zip(w0).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt();
        if disp > 0.0 {
            self.lip_dh_sampled = self.lip_dh_sampled.max(spectral_norm(&diff) / disp);
        }
        self.lip_h_sampled = self.lip_h_sampled.max(spectral_norm(&j));
        self.displacement_sampled = self.displacement_sampled.max(disp);
        self.samples += 1;
    }
}

/// The sampled constants along gradient-descent iterates (f64, not certified): one Jacobian
/// per iteration (the gradient `J^T r/alpha + lambda (w - w0)`).
fn estimate_descent(
    problem: &Problem,
    d: &crate::problem::Descent,
    w0: &[f64],
    j0: &[Vec<f64>],
    offset: &[f64],
    samples: usize,
    flow: &mut GradientFlow<Vec<f64>>,
) -> TrajectoryEstimate {
    let eta = d.learning_rate.enclosure.mid();
    let alpha = problem.alpha.enclosure.mid();
    let lambda = problem.regularization.enclosure.mid();
    let targets: Vec<f64> = problem.targets.iter().map(|y| y.mid()).collect();
    let every = (d.iterations / samples.max(1) as u64).max(1);
    let mut est = TrajectoryEstimate { lip_dh_sampled: 0.0, lip_h_sampled: spectral_norm(j0), displacement_sampled: 0.0, samples: 0 };
    let mut w = w0.to_vec();
    for k in 0..d.iterations {
        // r = alpha (h(w) - h(w0)) - y for the centred model (outputs_at is not centred).
        let r: Vec<f64> = flow.outputs_at(&w).iter().zip(offset).zip(&targets).map(|((h, o), y)| alpha * (h - o) - y).collect();
        let j = jacobian::<f64>(problem, &w);
        for (i, wi) in w.iter_mut().enumerate() {
            let g = j.iter().zip(&r).map(|(row, ri)| row[i] * ri).sum::<f64>() / alpha + lambda * (*wi - w0[i]);
            *wi -= eta * g;
        }
        if (k + 1) % every == 0 || k + 1 == d.iterations {
            est.sample(problem, &w, w0, j0);
        }
    }
    est
}
