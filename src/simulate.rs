//! The non-rigorous baseline: the same flows integrated in f64 with the same Taylor method,
//! step-size rule and order as the certified run, so that `certify / simulate` measures the
//! price of rigour at comparable accuracy.

use crate::certify::PassSettings;
use crate::model::flow::{jacobian, Expansion, GradientFlow, TrainedModel};
use crate::model::point_vec::PointVec;
use crate::problem::Problem;

/// Approximate results (no guarantee).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Simulation {
    /// `alpha g(w(T))` per output.
    pub outputs_final: Vec<f64>,
    /// `alpha g_lin(T)` per output.
    pub linear_outputs_final: Vec<f64>,
    /// `D(T)`.
    pub final_deviation: f64,
    /// The largest `D` seen at step ends and step midpoints.
    pub sup_deviation: f64,
    /// `Some(t)` when the step budget (`PassSettings::max_steps`) ran out at time `t < T`: the
    /// figures are those at `t`.
    pub stopped_at: Option<f64>,
    /// `R0`.
    pub r0: f64,
    pub steps: usize,
    pub seconds: f64,
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

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// Integrates both flows on `[0, T]` in f64 with the Taylor order and step targets of
/// `settings` (those of `certify`'s first pass: `Options::first_pass`).
pub fn simulate(problem: &Problem, settings: PassSettings) -> Simulation {
    let started = std::time::Instant::now();
    let order = settings.order.max(2);
    let relative = settings.relative;
    let w0: Vec<f64> = problem.params0.iter().map(|v| v.mid()).collect();
    let alpha = problem.alpha.enclosure.mid();
    let targets: Vec<f64> = problem.targets.iter().map(|v| v.mid()).collect();
    let initial = GradientFlow::<Vec<f64>>::new(problem, None).outputs_at(&w0);
    let offset: Vec<f64> = if problem.centred { initial.clone() } else { vec![0.0; initial.len()] };
    let offset_iv: Option<Vec<inari::Interval>> =
        problem.centred.then(|| offset.iter().map(|&o| crate::arith::vector::point(o)).collect());
    // The network's flow in plain floats with its layer products through the matrix-multiply
    // kernel (`PointVec`), as a user's float solve would run them.
    let mut flow = GradientFlow::<PointVec>::new(problem, offset_iv.as_deref());
    let residual = |h: &[f64]| -> Vec<f64> {
        h.iter().zip(&offset).zip(&targets).map(|((&h, &o), &y)| alpha * (h - o) - y).collect()
    };
    let r0 = residual(&initial);
    let j0 = jacobian::<f64>(problem, &w0);
    let n = j0.len();
    let kernel: Vec<Vec<f64>> =
        (0..n).map(|a| (0..n).map(|b| j0[a].iter().zip(&j0[b]).map(|(x, y)| x * y).sum()).collect()).collect();
    // As the certifier's `LinearFlow::kernel_norm`, which bounds lambda_max(K0): here an f64
    // power-iteration estimate (the baseline proves nothing), raised by 1% so that it lies
    // above the certifier's bound rarely.
    let lambda = problem.regularization.enclosure.mid();
    let kernel_norm = largest_eigenvalue_estimate(&kernel) * 1.01 + lambda;
    if let Some(descent) = problem.descent() {
        let eta = descent.learning_rate.enclosure.mid();
        let mut point_field = |w: &[f64]| {
            let pass = flow.point_path(w, 0);
            (pass.outputs[0].0.clone(), pass.field[0].0.clone())
        };
        let iterations = descent.iterations.min(settings.max_steps as u64);
        let stopped_at = (iterations < descent.iterations).then(|| iterations as f64 * eta);
        let mut sim = simulate_descent(&mut point_field, &residual, &kernel, eta, lambda, w0, &r0, iterations);
        sim.outputs_final = sim.outputs_final.iter().zip(&offset).map(|(&h, &o)| alpha * (h - o)).collect();
        sim.linear_outputs_final = sim.linear_outputs_final.iter().zip(&targets).map(|(r, y)| r + y).collect();
        sim.stopped_at = stopped_at;
        sim.seconds = started.elapsed().as_secs_f64();
        return sim;
    }

    let horizon = problem.horizon.enclosure.mid();
    let tol_params = w0.iter().fold(0.0f64, |m, c| m.max(c.abs())).max(1e-300) * relative;
    let tol_outputs = r0.iter().fold(0.0f64, |m, r| m.max(r.abs())).max(1e-300) * relative;
    let log_fact: f64 = (1..=order + 1).map(|i| (i as f64).ln()).sum();
    let lin_max = if kernel_norm > 0.0 {
        ((relative.ln() + log_fact) / (order + 1) as f64).exp() / kernel_norm
    } else {
        f64::INFINITY
    };

    // reference_order = Q >= 2: the order-Q model's flow, stepped with the network's steps (as in
    // `certify`), in place of the linearisation.
    let mut model = match problem.reference_order {
        1 => None,
        q => GradientFlow::<Vec<f64>>::training(problem, offset_iv.as_deref(), TrainedModel::TaylorModel(q)).map(|flow| (flow, w0.clone(), initial.clone())),
    };
    let mut w = w0;
    let mut rbar = r0.clone();
    let mut t = 0.0;
    let mut steps = 0;
    let mut sup: f64 = 0.0;
    let mut last_h = initial.clone();
    let mut final_deviation = 0.0;
    let mut stopped_at = None;
    while t < horizon {
        if steps >= settings.max_steps {
            stopped_at = Some(t);
            break;
        }
        let exp = flow.expand(&PointVec(w.clone()), order);
        let exp = Expansion { params: exp.params.into_iter().map(|v| v.0).collect(), outputs: exp.outputs.into_iter().map(|v| v.0).collect() };
        // rbar' = -K0 rbar, and with the penalty -(K0 + lambda I) rbar + lambda r0.
        let mut lin = vec![rbar.clone()];
        for j in 0..order {
            let next = kernel
                .iter()
                .enumerate()
                .map(|(a, row)| {
                    let mut v = -row.iter().zip(&lin[j]).map(|(k, x)| k * x).sum::<f64>();
                    if lambda > 0.0 {
                        v -= lambda * lin[j][a];
                        if j == 0 {
                            v += lambda * r0[a];
                        }
                    }
                    v / (j + 1) as f64
                })
                .collect();
            lin.push(next);
        }
        // The linearised flow limits the step as in `certify` (`LinearFlow::step_cap`): by its
        // top coefficient without the penalty, by the norm bound with it.
        let lin_cap = if lambda > 0.0 || kernel_norm == 0.0 {
            lin_max
        } else {
            lin_max.max(crate::enclose::linear::top_term_step(tol_outputs, order, kernel_norm, norm(&lin[order])))
        };
        let model_exp = model.as_mut().map(|(flow, wq, _)| flow.expand(wq, order));
        let h = match &model_exp {
            None => exp.step_for(order, alpha, tol_params, tol_outputs).min(lin_cap),
            Some(m) => exp.step_for(order, alpha, tol_params, tol_outputs).min(m.step_for(order, alpha, tol_params, tol_outputs)),
        };
        let h = h.min(horizon - t);
        for s in [0.5 * h, h] {
            let hs = horner(&exp.outputs, s);
            let reference = match &model_exp {
                None => horner(&lin, s),
                Some(m) => residual(&horner(&m.outputs, s)),
            };
            let dev: Vec<f64> = residual(&hs).iter().zip(reference).map(|(a, b)| a - b).collect();
            sup = sup.max(norm(&dev));
            final_deviation = norm(&dev);
        }
        w = horner(&exp.params[..=order], h);
        rbar = horner(&lin, h);
        last_h = horner(&exp.outputs, h);
        if let (Some((_, wq, hq)), Some(m)) = (model.as_mut(), &model_exp) {
            *wq = horner(&m.params[..=order], h);
            *hq = horner(&m.outputs, h);
        }
        t += h;
        steps += 1;
    }
    let outputs_final: Vec<f64> = last_h.iter().zip(&offset).map(|(&h, &o)| alpha * (h - o)).collect();
    let linear_outputs_final = match &model {
        None => rbar.iter().zip(&targets).map(|(r, y)| r + y).collect(),
        Some((_, _, hq)) => hq.iter().zip(&offset).map(|(&h, &o)| alpha * (h - o)).collect(),
    };
    Simulation {
        outputs_final,
        linear_outputs_final,
        final_deviation,
        sup_deviation: sup,
        stopped_at,
        r0: 0.5 * norm(&r0).powi(2),
        steps,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// `iterations` steps of gradient descent `w <- w + eta F(w)` (`point_field` gives `h(w)` and
/// the field `F = -grad F`) and of the linearised `rbar <- rbar - eta (K0 rbar + lambda (rbar -
/// r0))`, with `D_k` at every iterate. `outputs_final` holds `h(w_K)` and
/// `linear_outputs_final` `rbar_K` (the caller scales them); `steps` is the iteration count.
#[allow(clippy::too_many_arguments)]
fn simulate_descent(
    point_field: &mut dyn FnMut(&[f64]) -> (Vec<f64>, Vec<f64>),
    residual: &dyn Fn(&[f64]) -> Vec<f64>,
    kernel: &[Vec<f64>],
    eta: f64,
    lambda: f64,
    w0: Vec<f64>,
    r0: &[f64],
    iterations: u64,
) -> Simulation {
    let mut w = w0;
    let mut rbar = r0.to_vec();
    let mut sup: f64 = 0.0;
    let mut deviation = 0.0;
    let mut outputs = Vec::new();
    for k in 0..=iterations {
        let (h, field) = point_field(&w);
        let dev: Vec<f64> = residual(&h).iter().zip(&rbar).map(|(a, b)| a - b).collect();
        deviation = norm(&dev);
        sup = sup.max(deviation);
        outputs = h;
        if k == iterations {
            break;
        }
        for (wi, fi) in w.iter_mut().zip(&field) {
            *wi += eta * fi;
        }
        rbar = kernel
            .iter()
            .enumerate()
            .map(|(a, row)| {
                let pull = row.iter().zip(&rbar).map(|(k, x)| k * x).sum::<f64>() + lambda * (rbar[a] - r0[a]);
                rbar[a] - eta * pull
            })
            .collect();
    }
    Simulation {
        outputs_final: outputs,
        linear_outputs_final: rbar,
        final_deviation: deviation,
        sup_deviation: sup,
        stopped_at: None,
        r0: 0.5 * norm(r0).powi(2),
        steps: iterations as usize,
        seconds: 0.0,
    }
}

/// `lambda_max` of the symmetric positive semi-definite `k` by 100 power iterations
/// (`arith::spd::dominant_magnitude_guess`; f64, not rigorous), at most the Frobenius norm, and
/// the Frobenius norm when the iteration breaks down.
fn largest_eigenvalue_estimate(k: &[Vec<f64>]) -> f64 {
    let frobenius = k.iter().flatten().map(|x| x * x).sum::<f64>().sqrt();
    let flat: Vec<f64> = k.iter().flatten().copied().collect();
    match crate::arith::spd::dominant_magnitude_guess(&flat, k.len(), 100) {
        e if e > 0.0 => e.min(frobenius),
        _ => frobenius,
    }
}
