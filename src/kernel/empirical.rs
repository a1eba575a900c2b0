//! The empirical NTK `K0 = J(w0) J(w0)^T` of the spec's finite network at its initial weights,
//! enclosed in balls. Without relu it is `enclose::linear::LinearFlow`'s enclosure (the one
//! `certify` uses). With relu, [`layerwise_kernel`]: the layer-by-layer form of `J J^T`
//! (proofs/infinite-width-kernels.md, Lemma K) with the generalised derivative of relu.

use crate::arith::ball::Ball;
use crate::arith::fast_interval::FastInterval;
use crate::arith::scalar::Scalar;
use crate::enclose::linear::LinearFlow;
use crate::problem::{Activation, KernelActivation, KernelProblem, Parameterization};
use inari::Interval;
use rayon::prelude::*;

/// `K0` (`N x N`, `N = n * outputs`, rows input-major: row `i * outputs + o` is output `o` of
/// input `i`), containing `J(w0) J(w0)^T` for every `w0` in the initial box.
pub fn empirical_kernel(problem: &KernelProblem) -> Vec<Vec<Ball>> {
    match &problem.problem {
        Some(flow) => {
            let zero = Interval::try_from((0.0, 0.0)).expect("zero");
            LinearFlow::new(flow, &flow.params0, &vec![zero; flow.num_outputs()]).kernel
        }
        None => layerwise_kernel(problem),
    }
}

/// An activation's value and derivative at every point of the ball `z`. For relu the
/// derivative is `1` on `z > 0`, `0` on `z < 0` and `relu'(0) = 0` (JAX's convention); a ball
/// that contains 0 and other points gets `[0, 1]`.
fn activate(act: KernelActivation, z: Ball) -> (Ball, Ball) {
    let one = Ball::point(1.0);
    match act {
        KernelActivation::Relu => {
            let f = z.to_fast();
            if f.lo > 0.0 {
                (z, one)
            } else if f.hi < 0.0 || (f.lo == 0.0 && f.hi == 0.0) {
                (Ball::ZERO, Ball::ZERO)
            } else {
                // z contains 0: relu(z) in [0, max(z, 0)], relu' in [0, 1].
                (Ball::from_fast(FastInterval { lo: 0.0, hi: f.hi.max(0.0) }), Ball { mid: 0.5, rad: 0.5 })
            }
        }
        KernelActivation::Flow(a) => match a {
            Activation::Identity => (z, one),
            Activation::Tanh => {
                let t = z.tanh();
                (t, one - t * t)
            }
            Activation::Erf => {
                let c = Ball::from_interval(Interval::FRAC_2_SQRT_PI);
                (z.erf(), c * (-(z * z)).exp())
            }
            Activation::Sigmoid => {
                let s = z.sigmoid();
                (s, s * (one - s))
            }
            Activation::Softplus => (z.softplus(), z.sigmoid()),
            Activation::Sin => (z.sin(), z.cos()),
            Activation::Gelu => {
                // gelu = z Phi(z), Phi = (1 + erf(z / sqrt 2)) / 2; gelu' = Phi + z phi(z),
                // phi = exp(-z^2/2) / sqrt(2 pi) = (2/sqrt pi)(1/sqrt 2)/2 exp(-z^2/2).
                let half = Ball::point(0.5);
                let phi_big = half * (one + (z * Ball::from_interval(Interval::FRAC_1_SQRT_2)).erf());
                let c = Ball::from_interval(Interval::FRAC_2_SQRT_PI * Interval::FRAC_1_SQRT_2) * half;
                let phi = c * (-(half * z * z)).exp();
                (z * phi_big, phi_big + z * phi)
            }
        },
    }
}

/// `K0` by layers: for the network `z_l = c_l W_l a_{l-1} + b_l`, `a_l = act_l(z_l)`,
/// `h = z_L`, with `delta_l = dh_o / dz_l` (`delta_L = e_o`,
/// `delta_l = act_l'(z_l) . c_{l+1} W_{l+1}^T delta_{l+1}`),
/// `K0[(i,o), (i',o')] = sum_l (delta_l . delta_l') (c_l^2 a_{l-1} . a_{l-1}' + [bias])`
/// (Lemma K). Every quantity is a ball enclosure for every `w0` in the initial box and every
/// input in its enclosure.
pub fn layerwise_kernel(problem: &KernelProblem) -> Vec<Vec<Ball>> {
    let widths = &problem.widths;
    let layers = widths.len() - 1;
    let outputs = problem.output_dim();
    let w: Vec<Ball> = problem.params0.iter().map(|&v| Ball::from_interval(v)).collect();
    let mut weight_offsets = Vec::with_capacity(layers);
    let mut bias_offsets = Vec::with_capacity(layers);
    let mut offset = 0;
    for l in 1..=layers {
        weight_offsets.push(offset);
        offset += widths[l] * widths[l - 1];
        bias_offsets.push(offset);
        if problem.bias {
            offset += widths[l];
        }
    }
    assert_eq!(offset, w.len(), "layerwise_kernel: parameter count");
    // c_l and c_l^2 (layer l at index l - 1).
    let (scales, squares): (Vec<Ball>, Vec<Ball>) = (1..=layers)
        .map(|l| match problem.parameterization {
            Parameterization::Ntk => {
                let inv = FastInterval::point(1.0) / FastInterval::point(widths[l - 1] as f64);
                (Ball::from_fast(Scalar::sqrt(inv)), Ball::from_fast(inv))
            }
            Parameterization::Standard => (Ball::point(1.0), Ball::point(1.0)),
        })
        .unzip();

    // Per input: a_{l-1} for l = 1..=L, and per output the deltas delta_l for l = 1..=L-1.
    struct Tape {
        acts: Vec<Vec<Ball>>,
        deltas: Vec<Vec<Vec<Ball>>>,
    }
    let tapes: Vec<Tape> = problem
        .inputs
        .par_iter()
        .map(|x| {
            let mut acts: Vec<Vec<Ball>> = vec![x.iter().map(|&v| Ball::from_interval(v)).collect()];
            let mut derivs: Vec<Vec<Ball>> = Vec::with_capacity(layers);
            for l in 1..layers {
                let (nin, nout) = (widths[l - 1], widths[l]);
                let prev = acts.last().expect("a_{l-1}");
                let weights = &w[weight_offsets[l - 1]..weight_offsets[l - 1] + nout * nin];
                let (a, d): (Vec<Ball>, Vec<Ball>) = (0..nout)
                    .map(|j| {
                        let bias = if problem.bias { w[bias_offsets[l - 1] + j] } else { Ball::ZERO };
                        let z = Ball::dot(Ball::ZERO, &weights[j * nin..(j + 1) * nin], prev).mul_add(scales[l - 1], bias);
                        activate(problem.activations[l - 1], z)
                    })
                    .unzip();
                acts.push(a);
                derivs.push(d);
            }
            let deltas = (0..outputs)
                .map(|o| {
                    // delta_l for l = L-1 down to 1, stored at index l - 1.
                    let mut out: Vec<Vec<Ball>> = vec![Vec::new(); layers.saturating_sub(1)];
                    let mut upper: Vec<Ball> = (0..outputs).map(|k| if k == o { Ball::point(1.0) } else { Ball::ZERO }).collect();
                    for l in (1..layers).rev() {
                        let (nin, nout) = (widths[l], widths[l + 1]);
                        let weights = &w[weight_offsets[l]..weight_offsets[l] + nout * nin];
                        let mut g = vec![Ball::ZERO; nin];
                        for (j, &dj) in upper.iter().enumerate() {
                            let row = &weights[j * nin..(j + 1) * nin];
                            for (gk, &wjk) in g.iter_mut().zip(row) {
                                *gk = wjk.mul_add(dj, *gk);
                            }
                        }
                        let delta: Vec<Ball> = g.iter().zip(&derivs[l - 1]).map(|(&gk, &dk)| gk * scales[l] * dk).collect();
                        out[l - 1] = delta.clone();
                        upper = delta;
                    }
                    out
                })
                .collect();
            Tape { acts, deltas }
        })
        .collect();

    let n = problem.inputs.len();
    let big = n * outputs;
    let one = Ball::point(1.0);
    let rows: Vec<Vec<Ball>> = (0..big)
        .into_par_iter()
        .map(|r| {
            let (i, o) = (r / outputs, r % outputs);
            (r..big)
                .map(|c| {
                    let (i2, o2) = (c / outputs, c % outputs);
                    let mut total = Ball::ZERO;
                    for l in 1..=layers {
                        let input_part = Ball::dot(Ball::ZERO, &tapes[i].acts[l - 1], &tapes[i2].acts[l - 1]);
                        let mut factor = squares[l - 1] * input_part;
                        if problem.bias {
                            factor += one;
                        }
                        let delta_part = if l == layers {
                            if o == o2 { one } else { Ball::ZERO }
                        } else {
                            Ball::dot(Ball::ZERO, &tapes[i].deltas[o][l - 1], &tapes[i2].deltas[o2][l - 1])
                        };
                        total = delta_part.mul_add(factor, total);
                    }
                    total
                })
                .collect()
        })
        .collect();
    (0..big).map(|a| (0..big).map(|b| if b >= a { rows[a][b - a] } else { rows[b][a - b] }).collect()).collect()
}
