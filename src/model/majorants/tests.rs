use super::*;
use crate::model::test_problems::{problem, thin, Rng};
use crate::problem::{Activation, Architecture, Problem};
use crate::reference::{outputs_at, taylor_model_at};
use rug::Float;

const PREC: u32 = 400;

fn mlp(problem: &Problem) -> Mlp<FastInterval> {
    match &problem.architecture {
        Architecture::Mlp(arch) => Mlp::new(arch, &problem.inputs),
        Architecture::Quadratic(_) => unreachable!("an MLP"),
    }
}

/// A random unit vector of length `p`.
fn unit(rng: &mut Rng, p: usize) -> Vec<f64> {
    let v: Vec<f64> = (0..p).map(|_| rng.next()).collect();
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    v.iter().map(|x| x / norm).collect()
}

/// `d^k/dt^k f(w + t u)` at `t = 0` for every output of `f` (MPFR, central differences of step
/// `2^-40`: truncation about `2^-80`, rounding about `2^(40 k - 400)`).
fn derivative_along(f: &dyn Fn(&[Float]) -> Vec<Float>, w: &[f64], u: &[f64], k: usize) -> Vec<Float> {
    let delta = Float::with_val(PREC, Float::i_exp(1, -40));
    let mut total: Vec<Float> = Vec::new();
    let mut binomial = 1u64;
    for j in 0..=k {
        // node (k/2 - j) delta, weight (-1)^j C(k, j)
        let t = Float::with_val(PREC, &delta * (k as f64 / 2.0 - j as f64));
        let point: Vec<Float> = w.iter().zip(u).map(|(&x, &y)| Float::with_val(PREC, x) + Float::with_val(PREC, &t * y)).collect();
        let values = f(&point);
        if total.is_empty() {
            total = vec![Float::new(PREC); values.len()];
        }
        let sign = if j % 2 == 0 { 1.0 } else { -1.0 };
        for (acc, v) in total.iter_mut().zip(values) {
            *acc += v * (sign * binomial as f64);
        }
        binomial = binomial * (k - j) as u64 / (j + 1) as u64;
    }
    let scale = Float::with_val(PREC, rug::ops::Pow::pow(&delta, k as u32)).recip();
    total.into_iter().map(|x| x * &scale).collect()
}

/// Per-input 2-norms of stacked outputs (`out` per input).
fn per_input_norms(v: &[Float], out: usize) -> Vec<f64> {
    v.chunks(out).map(|c| c.iter().map(|x| x.to_f64().powi(2)).sum::<f64>().sqrt()).collect()
}

/// Lemma B: on random small MLPs of every activation (with and without biases, both
/// parameterisations), `|D^k h_i(w)[u^k]|` along random unit directions, from MPFR central
/// differences, stays below the bound for `k = 1..=4`, at the box's midpoint, at a point
/// inside a box of half-width `1e-3`, and on the boundary of a ball of radius `1/4`.
#[test]
fn derivative_norms_contain_directional_derivatives() {
    for (case, &act) in Activation::ALL.iter().enumerate() {
        let seed = 31 * case as u64 + 3;
        let widths = if case % 2 == 0 { vec![2, 3, 4, 2] } else { vec![3, 5, 1] };
        let problem = problem(seed, widths, act, case % 3 == 0, true, "0");
        let out = problem.architecture.output_dim();
        let net = mlp(&problem);
        let mut rng = Rng(seed + 7);
        for (half_width, radius) in [(0.0, 0.0), (1e-3, 0.0), (0.0, 0.25)] {
            let region: Vec<Interval> = problem.params0.iter().map(|x| Interval::try_from((x.mid() - half_width, x.mid() + half_width)).unwrap()).collect();
            let norms = derivative_norms_on_ball(&net, &region, radius, 4);
            // A point of the box, or on the ball's boundary (up to rounding).
            let out_of_centre = unit(&mut rng, region.len());
            let w: Vec<f64> = problem.params0.iter().zip(&out_of_centre).map(|(x, v)| x.mid() + half_width * rng.next() + radius * (1.0 - 1e-9) * v).collect();
            let f = |point: &[Float]| outputs_at(&problem, point, PREC);
            for _ in 0..4 {
                let u = unit(&mut rng, w.len());
                for k in 1..=4 {
                    let d = per_input_norms(&derivative_along(&f, &w, &u, k), out);
                    for (i, &x) in d.iter().enumerate() {
                        assert!(x <= norms[k - 1][i] * (1.0 + 1e-9), "{act:?} k = {k} input {i}: |D^k h[u^k]| = {x:e} above {:e}", norms[k - 1][i]);
                    }
                }
            }
        }
    }
}

/// The bound is attained within a factor 2 on a deep linear chain `h = c2 w2 c1 w1 x`, whose
/// `D^2 h[u, u] = 2 c1 c2 x u1 u2` has the supremum `c1 c2 |x|` over unit `u` (the recursion
/// bounds each layer's share of the direction by 1: factor 2 here); dropping the direction's
/// term `c U a[r - 1]` would give 0.
#[test]
fn derivative_norms_are_close_on_a_linear_chain() {
    let mut chain = problem(2, vec![1, 1, 1], Activation::Identity, false, false, "0");
    chain.params0 = vec![thin(0.75), thin(-1.25)];
    chain.inputs = vec![vec![thin(0.5)]];
    chain.targets = vec![thin(0.0)];
    let norms = derivative_norms(&mlp(&chain), &chain.params0, 3);
    // NTK scaling with fan-in 1: c1 = c2 = 1. |Dh| = |x| sqrt(w2^2 + w1^2).
    let gradient = 0.5 * (0.75f64.powi(2) + 1.25f64.powi(2)).sqrt();
    assert!(norms[0][0] >= gradient && norms[0][0] <= 2.0 * gradient, "{:?}", norms[0]);
    assert!(norms[1][0] >= 0.5 && norms[1][0] <= 1.0 + 1e-12, "{:?}", norms[1]);
    assert!(norms[2][0] < 1e-300, "a bilinear map has no third derivative: {:?}", norms[2]);
}

/// Lemma G: at points `w` with `|w - w0| = reach`, the first and second directional
/// derivatives of the order-`Q` model (`reference::taylor_model_at`, MPFR interpolation) stay
/// below `taylor_model_bounds`, for Q = 1..=4.
#[test]
fn taylor_model_bounds_contain_the_model_derivatives() {
    for (case, act) in [Activation::Tanh, Activation::Erf, Activation::Sin].into_iter().enumerate() {
        let seed = 5 + case as u64;
        let problem = problem(seed, vec![2, 3, 3, 1], act, case == 1, true, "0");
        let out = problem.architecture.output_dim();
        let norms = derivative_norms(&mlp(&problem), &problem.params0, 4);
        let mut rng = Rng(seed * 13);
        for q in 1..=4 {
            let reach = 0.3;
            let bounds = taylor_model_bounds(&norms, q, reach);
            let step = unit(&mut rng, problem.params0.len());
            let w: Vec<f64> = problem.params0.iter().zip(&step).map(|(x, s)| x.mid() + reach * s * (1.0 - 1e-9)).collect();
            let f = |point: &[Float]| taylor_model_at(&problem, point, q, PREC).0;
            for _ in 0..3 {
                let u = unit(&mut rng, w.len());
                let first = per_input_norms(&derivative_along(&f, &w, &u, 1), out);
                let second = per_input_norms(&derivative_along(&f, &w, &u, 2), out);
                for i in 0..first.len() {
                    assert!(first[i] <= bounds.gradient[i], "{act:?} Q = {q}: |Dh_Q u| = {:e} above {:e}", first[i], bounds.gradient[i]);
                    assert!(second[i] <= bounds.hessian[i] * (1.0 + 1e-9) + 1e-20, "{act:?} Q = {q}: |D^2 h_Q[u, u]| = {:e} above {:e}", second[i], bounds.hessian[i]);
                }
            }
        }
    }
}

/// Lemma A on a one-unit net `h = a sigma(w x)` at `w = 0` (fan-in 1, so `c = 1`): along the
/// direction of `w` the pre-activation is `eps x`, whose first singularity is at
/// `|eps| = pi / (2 |x|)` for tanh and `pi / |x|` for sigmoid: the bound is within 1e-9 of it and
/// not above (a wrong strip, e.g. pi for tanh, is seen). Entire activations give infinity.
#[test]
fn analytic_radius_is_exact_on_one_unit() {
    for (act, pole) in [(Activation::Tanh, std::f64::consts::FRAC_PI_2), (Activation::Sigmoid, std::f64::consts::PI), (Activation::Erf, f64::INFINITY)] {
        let mut net = problem(2, vec![1, 1, 1], act, false, false, "0");
        net.params0 = vec![thin(0.0), thin(0.75)];
        net.inputs = vec![vec![thin(0.5)]];
        net.targets = vec![thin(0.0)];
        let radius = analytic_radius(&mlp(&net), &net.params0);
        let exact = pole / 0.5;
        assert!(radius <= exact, "{act:?}: {radius} above the true radius {exact}");
        assert!(radius >= exact * (1.0 - 1e-9), "{act:?}: {radius} far below {exact}");
    }
}

/// Lemma A against the series itself: on random tanh nets, the `eps`-coefficients of
/// `h(w0 + eps u)` (MPFR central differences, orders 1..=4 scaled by `R^k`) stay bounded with
/// `R` the bound's radius, i.e. the bound is not far beyond where the terms start to grow
/// (a sanity check of the order of magnitude: within the radius the terms `|c_k| R^k` cannot
/// grow geometrically).
#[test]
fn analytic_radius_is_below_the_series_growth() {
    for seed in 0..4u64 {
        let problem = problem(seed, vec![2, 4, 3, 1], Activation::Tanh, seed % 2 == 0, false, "0");
        let out = problem.architecture.output_dim();
        let radius = analytic_radius(&mlp(&problem), &problem.params0);
        assert!(radius > 0.0 && radius.is_finite(), "seed {seed}: {radius}");
        let mut rng = Rng(seed);
        let w: Vec<f64> = problem.params0.iter().map(|x| x.mid()).collect();
        let f = |point: &[Float]| outputs_at(&problem, point, PREC);
        let u = unit(&mut rng, w.len());
        let mut factorial = 1.0;
        let terms: Vec<f64> = (1..=4)
            .map(|k| {
                factorial *= k as f64;
                per_input_norms(&derivative_along(&f, &w, &u, k), out).into_iter().fold(0.0, f64::max) / factorial * radius.powi(k as i32)
            })
            .collect();
        let norms = derivative_norms(&mlp(&problem), &problem.params0, 1);
        // |c_k| R^k <= M for a bounded analytic function on the disc: the terms stay below
        // the first-order bound's scale times a modest factor.
        let scale = norms[0].iter().fold(0.0f64, |m, &x| m.max(x)) * radius;
        assert!(terms.iter().all(|&t| t <= 100.0 * scale.max(1.0)), "seed {seed}: terms {terms:?}, scale {scale}");
    }
}
