//! The residual-weighted Hessian bound: an upper bound `H` of `|sum_i r_i^T D^2 h_i(w)|_2` over
//! a box of parameters and a box of residuals, with the residual folded into the backward pass
//! so that the sum over the inputs is formed before any norm (Lemmas R1-R3 of
//! `proofs/residual-hessian.md`). `H / alpha` bounds the logarithmic norm of the gradient flow's
//! Jacobian (Lemma 3 of `proofs/tube-integrator.md`); for deep and wide networks it is thousands
//! of times smaller than `|r| sup|D^2 h|`.
//!
//! Cost: one interval backward pass, Gram matrices of the per-layer activations and adjoints
//! (order `min(n, width)`), the spectral norms of the weights, and one Cholesky factorisation
//! per spectral norm (`arith::spd`): no `p x p` object.

use super::bounds::HiddenActivations;
use super::layered::local_activation_bounds;
use super::mlp::Mlp;
use crate::arith::fast_interval::FastInterval;
use crate::arith::scalar::Scalar;
use crate::arith::spd::{gram_smaller_side, lambda_max_upper, spectral_norm_upper, sqrt_upper};
use crate::problem::Activation;
use inari::Interval;

type F = FastInterval;

/// Upper bounds of the spectral norms of the weight blocks at `w0`, from which
/// [`residual_hessian_upper_near`] bounds them over a box by the triangle inequality
/// (`proofs/residual-hessian.md`, "Weights near w0") instead of one Gram matrix and Cholesky
/// factorisation per block and box (on deep-tanh-w512 a sixth of certify's time).
#[derive(Debug, Clone)]
pub struct WeightNorms {
    w0: Vec<Interval>,
    /// `at_w0[l - 1] >= |W_l|_2` for every `W_l` in the enclosure of `w0` (Lemma S), for
    /// `l >= 2` (the bound uses no `Omega_1`; 0 there).
    at_w0: Vec<f64>,
}

impl WeightNorms {
    pub fn new(net: &Mlp<Interval>, w0: &[Interval]) -> Self {
        let widths = &net.widths;
        let at_w0 = (1..=net.num_layers())
            .map(|l| {
                if l == 1 {
                    return 0.0;
                }
                let block: Vec<F> = net.weights(w0, l).iter().map(|&v| F::from_inari(v)).collect();
                spectral_norm_upper(&block, widths[l], widths[l - 1])
            })
            .collect();
        WeightNorms { w0: w0.to_vec(), at_w0 }
    }

    /// `>= |W_l|_2` for every `W_l` in the box `block` (layer `l`, 1-based): `|W0_l|_2 +
    /// |W_l - W0_l|_F`, rounded up.
    fn upper(&self, net: &Mlp<Interval>, l: usize, block: &[F]) -> f64 {
        let w0 = net.weights(&self.w0, l);
        let distance: Vec<F> = block.iter().zip(w0).map(|(&x, &x0)| x - F::from_inari(x0)).collect();
        (F::point(self.at_w0[l - 1]) + F::point(crate::enclose::poly::norm2_upper(&distance))).hi
    }
}

/// An upper bound `H` of `sup_{|v| = 1} |sum_i r_i^T D^2 h_i(w)[v, v]|` for every `w` in the
/// box `w` and every stacked residual `r` in `residual` (input-major, `n x outputs`), where
/// `hidden` encloses the hidden activations over the box (`model::bounds::HiddenActivations`).
/// `+inf` when an enclosure is not finite. Lemma R3 of `proofs/residual-hessian.md`.
pub fn residual_hessian_upper(net: &Mlp<Interval>, hidden: &HiddenActivations, w: &[Interval], residual: &[Interval]) -> f64 {
    residual_hessian_upper_near(net, hidden, w, residual, None)
}

/// [`residual_hessian_upper`] with the weights' spectral norms from `norms` (computed at `w0`)
/// when given.
pub fn residual_hessian_upper_near(net: &Mlp<Interval>, hidden: &HiddenActivations, w: &[Interval], residual: &[Interval], norms: Option<&WeightNorms>) -> f64 {
    let layers = net.num_layers();
    let n = net.num_inputs;
    if layers < 2 || n == 0 {
        // A network without hidden layers is linear in its parameters: D^2 h = 0.
        return 0.0;
    }
    let widths = &net.widths;
    let scales: Vec<F> = net.scales.iter().map(|&c| F::from_inari(c)).collect();
    let weights: Vec<Vec<F>> = (1..=layers).map(|l| net.weights(w, l).iter().map(|&v| F::from_inari(v)).collect()).collect();

    // Per hidden layer l (index l - 1): the enclosure of sigma_l'(z) per entry, the bound of
    // |sigma_l''(z)| per entry, and s1_l = max |sigma_l'|.
    let mut slopes: Vec<Vec<F>> = Vec::with_capacity(layers - 1);
    let mut curvatures: Vec<Vec<f64>> = Vec::with_capacity(layers - 1);
    let mut s1: Vec<f64> = Vec::with_capacity(layers - 1);
    for l in 1..layers {
        let act = net.activations[l - 1];
        let mut slope = Vec::with_capacity(n * widths[l]);
        let mut curvature = Vec::with_capacity(n * widths[l]);
        let mut max_slope = 0.0f64;
        for &a in &hidden[l - 1] {
            let a = F::from_inari(a);
            let (b1, b2) = local_activation_bounds(act, a);
            let s = derivative_enclosure(act, a, b1);
            max_slope = max_slope.max(s.magnitude());
            slope.push(s);
            curvature.push(b2);
        }
        slopes.push(slope);
        curvatures.push(curvature);
        s1.push(max_slope);
    }

    // Backward pass with the residual folded in: adjoints[l - 1] = Lambda_l (input-major,
    // n x width_l) for l >= 2; kappa_max[l - 1][i] >= max_k |kappa_{l,i,k}| for l < L.
    let mut adjoints: Vec<Vec<F>> = vec![Vec::new(); layers];
    adjoints[layers - 1] = residual.iter().map(|&r| F::from_inari(r)).collect();
    let mut kappa_max: Vec<Vec<f64>> = vec![Vec::new(); layers - 1];
    for l in (1..layers).rev() {
        let (rows, cols) = (widths[l + 1], widths[l]);
        let upper = &adjoints[l];
        let wl = &weights[l];
        let mut lambda = Vec::with_capacity(n * cols);
        let mut kmax = Vec::with_capacity(n);
        let mut mu = vec![F::ZERO; cols];
        for i in 0..n {
            // mu_{l,i} = c_{l+1} W_{l+1}^T lambda_{l+1,i}
            mu.fill(F::ZERO);
            for j in 0..rows {
                let coefficient = upper[i * rows + j];
                for (m, &x) in mu.iter_mut().zip(&wl[j * cols..(j + 1) * cols]) {
                    *m = coefficient.mul_add(x, *m);
                }
            }
            let mut largest = 0.0f64;
            for k in 0..cols {
                let m = scales[l] * mu[k];
                largest = largest.max((F::point(curvatures[l - 1][i * cols + k]) * F::point(m.magnitude())).hi);
                lambda.push(slopes[l - 1][i * cols + k] * m);
            }
            kmax.push(largest);
        }
        kappa_max[l - 1] = kmax;
        if l >= 2 {
            adjoints[l - 1] = lambda;
        }
    }

    // nu_l >= |Lambda_l|_2 and Omega_l >= |W_l|_2 for l >= 2 (index l - 1).
    let nu: Vec<f64> = (0..layers).map(|li| if li == 0 { 0.0 } else { spectral_norm_upper(&adjoints[li], n, widths[li + 1]) }).collect();
    let omega: Vec<f64> = (0..layers)
        .map(|li| match (li, norms) {
            (0, _) => 0.0,
            (_, Some(norms)) => norms.upper(net, li + 1, &weights[li]),
            (_, None) => spectral_norm_upper(&weights[li], widths[li + 1], widths[li]),
        })
        .collect();

    // Atilde_{l-1} with inputs as rows: (c_l a_{l-1,i}, [1]).
    let augmented: Vec<(Vec<F>, usize)> = (1..=layers)
        .map(|l| {
            let fan_in = widths[l - 1];
            let cols = fan_in + usize::from(net.bias);
            let mut m = Vec::with_capacity(n * cols);
            for i in 0..n {
                let row: Vec<F> = if l == 1 {
                    net.inputs[i * fan_in..(i + 1) * fan_in].iter().map(|&x| F::from_inari(x)).collect()
                } else {
                    hidden[l - 2][i * fan_in..(i + 1) * fan_in].iter().map(|&x| F::from_inari(x)).collect()
                };
                m.extend(row.into_iter().map(|x| scales[l - 1] * x));
                if net.bias {
                    m.push(F::point(1.0));
                }
            }
            (m, cols)
        })
        .collect();
    let gamma = WeightedNorms::new(&augmented, n);

    // zeta^omega_l (rows over the layers), Lemma R2.
    let zeta = |weights: Option<&[f64]>, upto: usize| -> Vec<F> {
        let mut row = vec![F::ZERO; layers];
        for l in 1..=upto {
            if l > 1 {
                let gain = scales[l - 1] * F::point(omega[l - 1]) * F::point(s1[l - 2]);
                for x in row.iter_mut() {
                    *x = gain * *x;
                }
            }
            row[l - 1] = F::point(gamma.upper(l - 1, weights));
        }
        row
    };

    // M, Lemma R3 (every entry >= 0; upper ends kept).
    let mut m = vec![F::ZERO; layers * layers];
    for l in 2..=layers {
        let coefficient = scales[l - 1] * F::point(nu[l - 1]) * F::point(s1[l - 2]);
        let z = zeta(None, l - 1);
        for (k, &zk) in z.iter().enumerate() {
            let t = coefficient * zk;
            m[(l - 1) * layers + k] += t;
            m[k * layers + l - 1] += t;
        }
    }
    for l in 1..layers {
        let z = zeta(Some(&kappa_max[l - 1]), l);
        for a in 0..layers {
            for b in 0..layers {
                m[a * layers + b] = z[a].mul_add(z[b], m[a * layers + b]);
            }
        }
    }
    let upper: Vec<f64> = m.iter().map(|x| if x.hi.is_nan() { f64::INFINITY } else { x.hi.max(0.0) }).collect();
    perron_upper(&upper, layers)
}

/// An enclosure of `sigma'(z)` for the pre-activations `z` whose activation value lies in `a`,
/// given `|sigma'| <= b1` there (`proofs/residual-hessian.md`, "Over a region").
fn derivative_enclosure(act: Activation, a: F, b1: f64) -> F {
    let bound = F { lo: -b1, hi: b1 };
    let one = F::point(1.0);
    let from_value = match act {
        Activation::Identity => return one,
        // tanh' = 1 - t^2 with t in [-1, 1].
        Activation::Tanh => {
            let t = F { lo: a.lo.max(-1.0), hi: a.hi.min(1.0) };
            if !(t.lo <= t.hi) {
                return bound;
            }
            one - t * t
        }
        // sigmoid' = t (1 - t) with t in [0, 1].
        Activation::Sigmoid => {
            let t = F { lo: a.lo.max(0.0), hi: a.hi.min(1.0) };
            if !(t.lo <= t.hi) {
                return bound;
            }
            t * (one - t)
        }
        _ => return bound,
    };
    F { lo: from_value.lo.max(-b1), hi: from_value.hi.min(b1) }
}

/// `gamma_{l-1}(omega) >= |diag(sqrt omega) Atilde_{l-1}|_2` for each layer, with the Gram
/// matrix of the inputs' side computed once when that side is the smaller one.
struct WeightedNorms<'a> {
    matrices: &'a [(Vec<F>, usize)],
    n: usize,
    /// `Atilde Atilde^T` (`n x n`) per layer, when `n <= cols`.
    input_grams: Vec<Option<Vec<F>>>,
}

impl<'a> WeightedNorms<'a> {
    fn new(matrices: &'a [(Vec<F>, usize)], n: usize) -> Self {
        let input_grams = matrices.iter().map(|(m, cols)| (n <= *cols).then(|| gram_smaller_side(m, n, *cols).0)).collect();
        WeightedNorms { matrices, n, input_grams }
    }

    /// The bound for layer index `layer` (`Atilde_layer`) with row weights `omega` (`None`: 1).
    fn upper(&self, layer: usize, omega: Option<&[f64]>) -> f64 {
        let (m, cols) = (&self.matrices[layer].0, self.matrices[layer].1);
        let n = self.n;
        let Some(omega) = omega else {
            return match &self.input_grams[layer] {
                Some(g) => sqrt_upper(lambda_max_upper(g, n)),
                None => spectral_norm_upper(m, n, cols),
            };
        };
        let roots: Vec<F> = omega.iter().map(|&x| Scalar::sqrt(F::point(x))).collect();
        match &self.input_grams[layer] {
            Some(g) => {
                let mut scaled = g.clone();
                for i in 0..n {
                    for j in 0..n {
                        scaled[i * n + j] = roots[i] * roots[j] * scaled[i * n + j];
                    }
                }
                sqrt_upper(lambda_max_upper(&scaled, n))
            }
            None => {
                let mut weighted = m.clone();
                for i in 0..n {
                    for x in &mut weighted[i * cols..(i + 1) * cols] {
                        *x = roots[i] * *x;
                    }
                }
                spectral_norm_upper(&weighted, n, cols)
            }
        }
    }
}

/// An upper bound of the Perron root of the nonnegative `k x k` matrix `m` (row-major):
/// `max_j (M u)_j / u_j` for a positive `u` from a floating-point power iteration
/// (Collatz-Wielandt; `proofs/residual-hessian.md`, Lemma R3). `0` for the zero matrix.
fn perron_upper(m: &[f64], k: usize) -> f64 {
    if m.iter().all(|&x| x == 0.0) {
        return 0.0;
    }
    if m.iter().any(|x| !x.is_finite()) {
        return f64::INFINITY;
    }
    // Iterates on M + s I (same Perron vector): plain M oscillates when -rho(M) is also an
    // eigenvalue (a zero diagonal, e.g. two layers with identity activations).
    let shift = m.iter().cloned().fold(0.0, f64::max);
    let mut u = vec![1.0f64; k];
    for _ in 0..60 {
        let next: Vec<f64> =
            (0..k).map(|i| m[i * k..(i + 1) * k].iter().zip(&u).map(|(a, b)| a * b).sum::<f64>() + shift * u[i]).collect();
        let top = next.iter().cloned().fold(0.0, f64::max);
        if !(top > 0.0 && top.is_finite()) {
            break;
        }
        // Floored so that u stays positive (a zero row then gives ratio 0).
        u = next.into_iter().map(|x| (x / top).max(1e-30)).collect();
    }
    let mut bound = 0.0f64;
    for i in 0..k {
        let mut s = F::ZERO;
        for j in 0..k {
            s = F::point(m[i * k + j]).mul_add(F::point(u[j]), s);
        }
        bound = bound.max((s / F::point(u[i])).hi);
    }
    bound
}

#[cfg(test)]
mod tests;
