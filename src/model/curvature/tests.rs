//! The bound against an independent reference: power iteration on Hessian-vector products of
//! `sum_i r_i^T h_i` computed in MPFR (`reference::residual_hessian_vector`), on random small
//! MLPs of every activation, and on a wider deep net where it must also be tight.

use super::*;
use crate::arith::rational::Exact;
use crate::model::bounds::{derivative_bounds, hidden_activations};
use crate::problem::{Architecture, MlpArchitecture, Parameterization, Problem};
use crate::reference::residual_hessian_vector;

const PREC: u32 = 128;

struct Lcg(u64);

impl Lcg {
    /// Uniform in `[-1, 1)`.
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }
    fn below(&mut self, k: usize) -> usize {
        (((self.next() + 1.0) / 2.0) * k as f64) as usize % k
    }
    /// Roughly N(0, 1): the sum of three uniforms, scaled.
    fn gaussian(&mut self) -> f64 {
        (self.next() + self.next() + self.next()) * 1.0
    }
}

fn thin(x: f64) -> Interval {
    Interval::try_from((x, x)).unwrap()
}

fn problem(arch: MlpArchitecture, params: Vec<f64>, inputs: Vec<Vec<f64>>) -> Problem {
    let n = inputs.len();
    let outputs = arch.output_dim();
    Problem {
        name: "curvature".into(),
        architecture: Architecture::Mlp(arch),
        params0: params.into_iter().map(thin).collect(),
        inputs: inputs.into_iter().map(|x| x.into_iter().map(thin).collect()).collect(),
        targets: vec![thin(0.0); n * outputs],
        centred: false,
        alpha: Exact::parse("1").unwrap(),
        horizon: Exact::parse("1").unwrap(),
        tolerance: Exact::parse("1").unwrap(),
        regularization: Exact::from_integer(0),
        method: crate::problem::Method::GradientFlow,
        infinite_horizon: false,
        reference_order: 1,
    }
}

/// `(H, lower)`: the bound at the thin box `params0` with the thin residual, and the largest
/// `|H v| / |v|` met by 40 power iterations (a lower bound of the true norm, up to the
/// reference's error).
fn bound_and_reference(p: &Problem, residual: &[f64], rng: &mut Lcg) -> (f64, f64) {
    let Architecture::Mlp(arch) = &p.architecture else { unreachable!() };
    let hidden = hidden_activations(arch, &p.inputs, &p.params0);
    let net = Mlp::<Interval>::new(arch, &p.inputs);
    let r: Vec<Interval> = residual.iter().map(|&x| thin(x)).collect();
    let bound = residual_hessian_upper(&net, &hidden, &p.params0, &r);
    let w: Vec<f64> = p.params0.iter().map(|x| x.inf()).collect();
    let mut v: Vec<f64> = (0..w.len()).map(|_| rng.next()).collect();
    let mut lower: f64 = 0.0;
    for _ in 0..40 {
        let hv = residual_hessian_vector(p, &w, residual, &v, PREC);
        let vn = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        let hn = hv.iter().map(|x| x * x).sum::<f64>().sqrt();
        if hn == 0.0 {
            break;
        }
        lower = lower.max(hn / vn);
        v = hv.into_iter().map(|x| x / hn).collect();
    }
    (bound, lower)
}

/// Random small MLPs (1-3 hidden layers, every activation, both parameterisations, with and
/// without biases, one or two outputs): the bound lies above every `|H v| / |v|`.
#[test]
fn bound_contains_reference_hessian_norm() {
    let mut rng = Lcg(7);
    for case in 0..40 {
        let depth = 1 + rng.below(3);
        let d = 1 + rng.below(3);
        let n = 1 + rng.below(4);
        let out = 1 + rng.below(2);
        let mut widths = vec![d];
        widths.extend((0..depth).map(|_| 1 + rng.below(5)));
        widths.push(out);
        let arch = MlpArchitecture {
            widths,
            activations: (0..depth).map(|_| Activation::ALL[rng.below(Activation::ALL.len())]).collect(),
            parameterization: if rng.next() < 0.0 { Parameterization::Standard } else { Parameterization::Ntk },
            bias: rng.next() < 0.0,
        };
        let params: Vec<f64> = (0..arch.num_params()).map(|_| 1.5 * rng.next()).collect();
        let inputs: Vec<Vec<f64>> = (0..n).map(|_| (0..d).map(|_| 1.5 * rng.next()).collect()).collect();
        let residual: Vec<f64> = (0..n * out).map(|_| 2.0 * rng.next()).collect();
        let description = format!("case {case}: {arch:?}");
        let p = problem(arch, params, inputs);
        let (bound, lower) = bound_and_reference(&p, &residual, &mut rng);
        assert!(bound >= lower * (1.0 - 1e-9), "{description}: bound {bound} below the reference norm {lower}");
        assert!(bound.is_finite(), "{description}");
    }
}

/// A deep tanh net of width 24 with N(0,1)-like weights on 12 inputs: the bound holds, is
/// within a modest factor of the reference norm, and far below `|r| sup|D^2 h|`.
#[test]
fn bound_is_tight_on_a_wide_deep_net() {
    let mut rng = Lcg(11);
    let (d, width, n) = (4, 24, 12);
    let arch = MlpArchitecture {
        widths: vec![d, width, width, 1],
        activations: vec![Activation::Tanh; 2],
        parameterization: Parameterization::Ntk,
        bias: false,
    };
    let params: Vec<f64> = (0..arch.num_params()).map(|_| rng.gaussian()).collect();
    let inputs: Vec<Vec<f64>> = (0..n).map(|_| (0..d).map(|_| rng.gaussian()).collect()).collect();
    let residual: Vec<f64> = (0..n).map(|_| rng.gaussian()).collect();
    let p = problem(arch, params, inputs);
    let (bound, lower) = bound_and_reference(&p, &residual, &mut rng);
    assert!(bound >= lower * (1.0 - 1e-9), "bound {bound} below {lower}");
    assert!(bound <= 30.0 * lower, "bound {bound} more than 30x the reference norm {lower}");
    let old = derivative_bounds(&p, &p.params0, None).hessian_total() * residual.iter().map(|x| x * x).sum::<f64>().sqrt();
    assert!(bound * 2.0 < old, "bound {bound} not below the per-input bound {old}");
}

/// A network without hidden layers is linear in its parameters.
#[test]
fn linear_model_has_zero_curvature() {
    let arch = MlpArchitecture { widths: vec![2, 1], activations: vec![], parameterization: Parameterization::Ntk, bias: true };
    let p = problem(arch.clone(), vec![0.5, -1.0, 0.25], vec![vec![1.0, 2.0]]);
    let hidden = hidden_activations(&arch, &p.inputs, &p.params0);
    let net = Mlp::<Interval>::new(&arch, &p.inputs);
    assert_eq!(residual_hessian_upper(&net, &hidden, &p.params0, &[thin(3.0)]), 0.0);
}

/// Weights near w0 (`proofs/residual-hessian.md`): `WeightNorms::upper` from the norms at `w0`
/// lies above a float power-iteration estimate of `|W|_2` at points displaced by 0.01 to 1 per
/// entry, and the bound of `residual_hessian_upper_near` holds against the reference at a
/// displaced point and is within 1.5x of the direct bound there.
#[test]
fn bounds_from_w0_hold_at_displaced_weights() {
    let mut rng = Lcg(23);
    let (d, width, n) = (3, 16, 6);
    let arch = MlpArchitecture { widths: vec![d, width, width, 1], activations: vec![Activation::Tanh; 2], parameterization: Parameterization::Ntk, bias: false };
    let w0: Vec<f64> = (0..arch.num_params()).map(|_| rng.gaussian()).collect();
    let inputs: Vec<Vec<f64>> = (0..n).map(|_| (0..d).map(|_| rng.gaussian()).collect()).collect();
    let p0 = problem(arch.clone(), w0.clone(), inputs.clone());
    let net = Mlp::<Interval>::new(&arch, &p0.inputs);
    let norms = WeightNorms::new(&net, &p0.params0);
    for &step in &[0.01, 0.1, 1.0] {
        let w: Vec<Interval> = w0.iter().map(|&x| thin(x + step * rng.next())).collect();
        let block: Vec<F> = net.weights(&w, 2).iter().map(|&v| F::from_inari(v)).collect();
        // |W|_2 by power iteration on W^T W (a lower estimate).
        let m: Vec<f64> = block.iter().map(|b| b.lo).collect();
        let mut v = vec![1.0; width];
        let mut estimate = 0.0f64;
        for _ in 0..200 {
            let wv: Vec<f64> = (0..width).map(|i| (0..width).map(|j| m[i * width + j] * v[j]).sum()).collect();
            let wtwv: Vec<f64> = (0..width).map(|j| (0..width).map(|i| m[i * width + j] * wv[i]).sum()).collect();
            let norm = wtwv.iter().map(|x| x * x).sum::<f64>().sqrt();
            estimate = estimate.max(norm.sqrt() / v.iter().map(|x| x * x).sum::<f64>().sqrt().sqrt());
            v = wtwv.into_iter().map(|x| x / norm).collect();
        }
        let upper = norms.upper(&net, 2, &block);
        assert!(upper >= estimate * (1.0 - 1e-12), "step {step}: {upper} below the estimate {estimate}");
    }
    let w: Vec<f64> = w0.iter().map(|&x| x + 0.05 * rng.next()).collect();
    let residual: Vec<f64> = (0..n).map(|_| rng.gaussian()).collect();
    let pw = problem(arch.clone(), w, inputs);
    let (direct, lower) = bound_and_reference(&pw, &residual, &mut rng);
    let hidden = hidden_activations(&arch, &pw.inputs, &pw.params0);
    let r: Vec<Interval> = residual.iter().map(|&x| thin(x)).collect();
    let near = residual_hessian_upper_near(&net, &hidden, &pw.params0, &r, Some(&norms));
    assert!(near >= lower * (1.0 - 1e-9), "bound {near} below the reference {lower}");
    assert!(near <= 1.5 * direct, "bound {near} more than 1.5x the direct bound {direct}");
}
