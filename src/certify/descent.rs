//! Certification of gradient descent: both iterations enclosed chunk by chunk
//! (`enclose::descent` for the true iterates, `LinearFlow::descent_step` for the linearised
//! ones) and `D_k = |r_k - rbar_k|` enclosed at every iterate `k <= K`. Proof:
//! `proofs/gradient-descent.md`.

use super::{decide, leave_room_for_checking, Certified, ChunkRecord, InitialState, Options};
use crate::arith::fast_interval::FastInterval;
use crate::arith::rational::rational_to_interval;
use crate::arith::vector::{interval, point, radius_norm2_upper, symmetric};
use crate::enclose::descent::{ChunkEnclosure, DescentIntegrator};
use crate::enclose::linear::LinearFlow;
use crate::enclose::poly;
use crate::problem::{Descent, Problem};
use crate::scale::Scale;
use inari::Interval;

/// The first chunk's number of iterates; chunks double after a chunk whose first guard held,
/// up to [`LONGEST_CHUNK`], and halve when no guard holds.
const FIRST_CHUNK: usize = 8;
const LONGEST_CHUNK: usize = 256;
/// Guards tried per chunk before it is halved.
const GUARD_TRIES: usize = 4;

/// Certifies `K = T / eta` iterations of gradient descent and of its linearisation. Every
/// interval in the result contains the exact quantity; the verdict is about `max_{k<=K} D_k`.
/// `initial`: the enclosures at `k = 0` (the problem has inputs).
pub(super) fn certify_descent(problem: &Problem, descent: &Descent, options: &Options, initial: &InitialState, scale: Scale) -> Certified {
    let started = std::time::Instant::now();
    let eta = rational_to_interval(&descent.learning_rate.value);
    let alpha = problem.alpha.enclosure;
    let out_dim = problem.architecture.output_dim();
    let InitialState { offset, residual: r0, half_r0_sq, .. } = initial.clone();
    let linear = LinearFlow::new(problem, &problem.params0, &r0);
    let linear_map = linear.descent(eta);
    let mut integrator = DescentIntegrator::new(problem, offset.clone(), linear.kernel_norm, eta);
    let trivial_bound = (point(8.0) * half_r0_sq).sqrt();
    let residual_at = |outputs: &[Interval], bounds: &[f64], radius: f64| -> Vec<Interval> {
        outputs
            .iter()
            .enumerate()
            .map(|(i, &h)| {
                let g = h - offset.as_ref().map_or(point(0.0), |o| o[i]) + symmetric((point(bounds[i / out_dim]) * point(radius)).sup());
                alpha * g - problem.targets[i]
            })
            .collect()
    };

    let total = descent.iterations + 1;
    let mut centre: Vec<f64> = problem.params0.iter().map(|v| v.mid()).collect();
    let mut radius = radius_norm2_upper(&problem.params0);
    let mut lin_centre: Vec<f64> = r0.iter().map(|v| v.mid()).collect();
    let mut lin_radius = radius_norm2_upper(&r0);
    let mut k: u64 = 0;
    let mut chunk = FIRST_CHUNK;
    let mut growth = 1.0f64;
    let mut sup = (0.0f64, 0.0f64);
    let mut records: Vec<ChunkRecord> = Vec::new();
    let mut last: Option<(Vec<Interval>, Vec<Interval>, Interval)> = None;
    let mut failure: Option<String> = None;
    let progress = progress_bar(options.progress, total);
    while k < total {
        let count = (chunk as u64).min(total - k) as usize;
        let step_after_last = k + (count as u64) < total;
        let run = integrator.run_centres(&centre, count, step_after_last);
        // A guard with room: the radius the last chunk's Lipschitz bound predicts, doubled.
        let rounding: f64 = run.rounding.iter().sum();
        let mut guard = 2.0 * (radius + rounding) * growth.powi(count as i32) + f64::MIN_POSITIVE;
        let mut enclosed: Option<ChunkEnclosure> = None;
        for attempt in 0..GUARD_TRIES {
            match integrator.enclose(&run, radius, guard) {
                Ok(e) => {
                    if attempt == 0 {
                        chunk = (chunk * 2).min(LONGEST_CHUNK);
                    }
                    enclosed = Some(e);
                    break;
                }
                Err(needed) if needed.is_finite() => guard = 2.0 * needed.max(guard),
                Err(_) => break,
            }
        }
        let Some(e) = enclosed else {
            if count > 1 {
                chunk = (count / 2).max(1);
                continue;
            }
            failure = Some(format!(
                "at iteration {k} the ball around the iterate could not be kept inside a box on which the descent map's Lipschitz bound holds (radius {radius:.3e}); the training may be far from lazy here: a larger alpha, a smaller learning rate or fewer iterations would help"
            ));
            break;
        };
        records.push(ChunkRecord { k, count: count as u64, guard: e.guard, radius, linear_radius: lin_radius, lipschitz: e.lipschitz });
        for j in 0..count {
            let residual = residual_at(&run.outputs[j], &e.bounds.gradient, e.radii[j]);
            let lin: Vec<FastInterval> = lin_centre.iter().map(|&c| FastInterval::point(c)).collect();
            let diff: Vec<FastInterval> = residual.iter().zip(&lin).map(|(&r, &c)| FastInterval::from_inari(r) - c).collect();
            let lo = (FastInterval::point(poly::norm2_lower(&diff)) - FastInterval::point(lin_radius)).lo.max(0.0);
            let hi = (FastInterval::point(poly::norm2_upper(&diff)) + FastInterval::point(lin_radius)).hi;
            sup = (sup.0.max(lo), sup.1.max(if hi.is_nan() { f64::INFINITY } else { hi }));
            let is_final = k + j as u64 + 1 == total;
            if is_final {
                let outputs: Vec<Interval> = residual.iter().zip(&problem.targets).map(|(&r, &y)| r + y).collect();
                let lin_outputs: Vec<Interval> =
                    lin_centre.iter().zip(&problem.targets).map(|(&c, &y)| point(c) + symmetric(lin_radius) + y).collect();
                last = Some((outputs, lin_outputs, interval(lo, hi)));
            } else {
                (lin_centre, lin_radius) = linear.descent_step(&linear_map, &lin_centre, lin_radius);
            }
        }
        let uncertainty = (alpha * point(e.bounds.gradient_total()) * point(e.radii[count])).inf();
        if !(uncertainty <= trivial_bound.sup()) {
            failure = Some(format!(
                "at iteration {} the uncertainty of alpha h(w_k) (about {uncertainty:.3e}) exceeds the trivial bound sqrt(8 R0) = {:.3e}: the descent map's Lipschitz bound {:.6} lets errors grow too fast; a larger alpha or a smaller learning rate would help",
                k + count as u64,
                trivial_bound.sup(),
                e.lipschitz
            ));
            break;
        }
        growth = e.lipschitz;
        centre = run.next_centre;
        radius = e.radii[count];
        k += count as u64;
        if let Some(pb) = &progress {
            pb.set_position(k);
        }
    }
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }
    let n_out = problem.num_outputs();
    let edge = stability_note(&linear, eta);
    let (Some((outputs, lin_outputs, final_deviation)), None) = (last, failure.clone()) else {
        let reason = [failure, edge].into_iter().flatten().collect::<Vec<_>>().join("; ");
        let seconds = started.elapsed().as_secs_f64();
        return Certified { steps: descent.iterations as usize, chunk_records: records, ..Certified::inconclusive(reason, n_out, half_r0_sq, seconds) };
    };
    let sup_deviation = leave_room_for_checking(interval(sup.0, sup.1), true, 0.0);
    let (verdict, mut reason) = decide(problem, sup_deviation, "gradient descent is enclosed at its rounding floor; no setting makes it tighter", scale);
    if let Some(edge) = edge {
        reason = Some(match reason {
            Some(r) => format!("{r}; {edge}"),
            None => edge,
        });
    }
    Certified {
        verdict,
        reason,
        sup_deviation,
        final_deviation: leave_room_for_checking(final_deviation, true, 0.0),
        outputs_final: outputs.into_iter().map(|v| leave_room_for_checking(v, false, 0.0)).collect(),
        linear_outputs_final: lin_outputs.into_iter().map(|v| leave_room_for_checking(v, false, 0.0)).collect(),
        r0: half_r0_sq,
        steps: descent.iterations as usize,
        step_records: Vec::new(),
        chunk_records: records,
        tail: None,
        seconds: started.elapsed().as_secs_f64(),
        order: 0,
        passes: 1,
        truncation_share: 0.0,
        normalized: Default::default(),
    }
}

/// A note when `eta` is at or beyond the stability edge `2 / lambda_max(K0)`: proved beyond it
/// (a Rayleigh quotient of `K0` times `eta` exceeds 2) the linearised iterates diverge; `None`
/// below the edge or when that is not proved.
fn stability_note(linear: &LinearFlow, eta: Interval) -> Option<String> {
    let lower = linear.largest_eigenvalue_lower();
    let beyond = (eta * point(lower)).inf() > 2.0;
    beyond.then(|| {
        // eta lambda_max is the same in the normalised problem's units and the spec's.
        format!(
            "the learning rate is beyond the stability edge 2 / lambda_max(K0) (eta lambda_max(K0) in [{:.6e}, {:.6e}], above 2): the linearised iterates grow geometrically (they diverge as K grows)",
            (eta * point(lower)).inf(),
            (eta * point(linear.kernel_norm)).sup()
        )
    })
}

fn progress_bar(enabled: bool, total: u64) -> Option<indicatif::ProgressBar> {
    enabled.then(|| crate::report::progress_bar(total, "descending [{bar:40}] k = {pos}/{len} eta {eta}"))
}
