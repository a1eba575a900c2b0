//! Norm bounds of the higher derivatives `D^k h` of an MLP with respect to its parameters at
//! every point of a box, by majorant series through the layers, and from them the bounds of
//! `Dh_Q` and `D^2 h_Q` that the validated integrator needs for the order-`Q` Taylor model
//! (`model::taylor_model`) over a tube.
//!
//! For a unit direction `u` the network along the line, `phi(eps) = h(w + eps u)`, has
//! coefficients `[eps^k] phi = D^k h(w)[u^k] / k!`. The recursion bounds the 2-norm (over the
//! units of a layer, one input at a time) of every `eps`-coefficient of every layer from the
//! layer before: linear maps by spectral and row norms, activations by their Taylor
//! coefficients over the pre-activations' enclosures and the composition of power series.
//! Proof: `proofs/taylor-models.md`, Lemma B (the majorant recursion) and Lemma G (the model's
//! bounds over a tube). Cost: one forward pass of order 0 over the box, the activations' Taylor
//! coefficients of order `<= top` per unit, and `O(L top^3)` scalar operations per input.

use super::activation::ActivationSeries;
use super::bounds::DerivativeBounds;
use super::layered::spectral_norm_upper;
use super::mlp::{Mlp, MlpTaylor};
use crate::arith::fast_interval::FastInterval;
use crate::arith::scalar::Scalar;
use crate::enclose::poly::norm2_upper;
use inari::Interval;

type F = FastInterval;

/// `norms[k - 1][i] >= sup_{|u| = 1} |D^k h_i(w)[u^k]|_2` for `1 <= k <= top`, every input `i`
/// and every `w` in the box `w` (`h_i` the outputs on input `i`; `u` over all parameter
/// directions, 2-norm), by Lemma B of `proofs/taylor-models.md`. By Banach's theorem on
/// symmetric multilinear forms the same number bounds `|D^k h_i(w)[u_1, ..., u_k]|_2` for unit
/// `u_1, ..., u_k`. `top >= 1`; arithmetic in endpoint intervals (upper ends kept).
pub fn derivative_norms(net: &Mlp<FastInterval>, w: &[Interval], top: usize) -> Vec<Vec<f64>> {
    assert!(top >= 1, "derivative_norms: top = {top}");
    let layers = net.num_layers();
    let n = net.num_inputs;
    let d = net.widths[0];
    let mut forward = MlpTaylor::new(net.clone());
    forward.forward(&[w.iter().map(|&x| F::from_inari(x)).collect()], 0);

    // Per layer: c_l, Omega_l >= |W_l|_2 and omega_l >= the largest row norm of W_l.
    let scales: Vec<F> = net.scales.iter().map(|c| F::point(c.magnitude())).collect();
    let spectral: Vec<F> = (1..=layers).map(|l| F::point(spectral_norm_upper(net.weights(w, l), net.widths[l], net.widths[l - 1]))).collect();
    let row_norms: Vec<F> = (1..=layers)
        .map(|l| {
            let cols = net.widths[l - 1];
            F::point(net.weights(w, l).chunks_exact(cols.max(1)).map(norm2_upper).fold(0.0, f64::max))
        })
        .collect();
    // s[l - 1][m][i] >= max_j |sigma_l^(m)(z)| / m! over the pre-activations z of unit j, input i.
    let slopes: Vec<Vec<Vec<f64>>> = (1..layers).map(|l| activation_coefficients(&forward, l, top)).collect();
    let bias = if net.bias { F::point(1.0) } else { F::ZERO };

    let mut norms = vec![Vec::with_capacity(n); top];
    for i in 0..n {
        // a2[r] >= |a_{l-1}[r]|_2 for the layer's input (a_0 = x, constant in eps).
        let mut a2 = vec![F::ZERO; top + 1];
        a2[0] = F::point(norm2_upper(&net.inputs[i * d..(i + 1) * d]));
        for l in 1..=layers {
            let (c, big, row) = (scales[l - 1], spectral[l - 1], row_norms[l - 1]);
            // z_l[r] = c W a[r] + c U a[r - 1] + [r = 1] b_dir: the 2-norm with |W|_2, the
            // entries with the row norms; |U|_2, its rows and |b_dir| are at most 1.
            let first = Scalar::sqrt(c * c * a2[0] * a2[0] + bias);
            let mut z2 = vec![F::ZERO; top + 1];
            let mut zinf = vec![F::ZERO; top + 1];
            for r in 1..=top {
                let direction = if r == 1 { first } else { c * a2[r - 1] };
                z2[r] = c * big * a2[r] + direction;
                zinf[r] = c * row * a2[r] + direction;
                if zinf[r].hi > z2[r].hi {
                    zinf[r] = z2[r];
                }
            }
            if l == layers {
                let mut factorial = F::point(1.0);
                for (k, norm) in norms.iter_mut().enumerate() {
                    factorial = factorial * F::point((k + 1) as f64);
                    norm.push((factorial * z2[k + 1]).hi);
                }
                break;
            }
            // a_l[r] = sum_m sigma^(m)/m! [eps^r] (z - z[0])^m, entrywise; the 2-norm of an
            // entrywise product is at most one factor's 2-norm times the others' largest entries.
            let width = net.widths[l];
            let mut next = vec![F::ZERO; top + 1];
            next[0] = F::point(norm2_upper(&forward.activations(l, 0)[i * width..(i + 1) * width]));
            let mut power = z2.clone();
            for m in 1..=top {
                let s = F::point(slopes[l - 1][m][i]);
                for r in m..=top {
                    next[r] = next[r] + s * power[r];
                }
                power = truncated_product(&power, &zinf);
            }
            a2 = next;
        }
    }
    norms
}

/// `out[m][i] >= max_j |sigma^(m)(z_ij)| / m!` over the enclosures `z_ij` of the pre-activations
/// of hidden layer `l` (input `i`, unit `j`), `m <= top`: the time coefficients of `sigma` along
/// `z + s` (`ActivationSeries`, evaluated over the enclosures by inclusion isotony).
fn activation_coefficients(forward: &MlpTaylor<FastInterval>, l: usize, top: usize) -> Vec<Vec<f64>> {
    let z = forward.pre_activations(l, 0);
    let width = forward.net.widths[l];
    let n = forward.net.num_inputs;
    let mut line = vec![z.clone(), vec![F::point(1.0); z.len()]];
    line.resize(top + 1, vec![F::ZERO; z.len()]);
    let mut series = ActivationSeries::<Vec<F>>::new(forward.net.activations[l - 1]);
    for k in 0..=top {
        series.push_order(&line[..=k]);
    }
    (0..=top)
        .map(|m| (0..n).map(|i| series.values[m][i * width..(i + 1) * width].iter().map(|v| v.magnitude()).fold(0.0, f64::max)).collect())
        .collect()
}

/// The product of two power series with non-negative coefficients, truncated at the length
/// of `a` (upper ends; `a` and `b` have equal lengths).
fn truncated_product(a: &[F], b: &[F]) -> Vec<F> {
    let mut out = vec![F::ZERO; a.len()];
    for (r, slot) in out.iter_mut().enumerate() {
        for j in 0..=r {
            *slot = *slot + a[j] * b[r - j];
        }
    }
    out
}

/// Lemma G of `proofs/taylor-models.md`: per input, bounds of `|Dh_Q(w)|` and
/// `sup_{|u|=1} |D^2 h_Q(w)[u, u]|` for every `w` with `|w - w0|_2 <= reach`, where
/// `h_Q(w) = sum_{r <= Q} D^r h(w0)[(w - w0)^r] / r!` and `norms[k - 1]` bounds `D^k h` at `w0`
/// (from [`derivative_norms`] with `top >= q`, or the minimum with another valid bound):
/// `sum_{r < Q} norms_{r+1} reach^r / r!` and `sum_{r < Q-1} norms_{r+2} reach^r / r!`.
pub fn taylor_model_bounds(norms: &[Vec<f64>], q: usize, reach: f64) -> DerivativeBounds {
    assert!(q >= 1 && norms.len() >= q, "taylor_model_bounds: order {q} with {} norms", norms.len());
    let n = norms[0].len();
    let reach = F::point(reach);
    let series = |first: usize| -> Vec<f64> {
        (0..n)
            .map(|i| {
                // sum_{r} norms[first + r][i] reach^r / r!, for first + r < q.
                let mut total = F::ZERO;
                let mut term_scale = F::point(1.0);
                for (r, k) in (first..q).enumerate() {
                    if r > 0 {
                        term_scale = term_scale * reach / F::point(r as f64);
                    }
                    total = total + F::point(norms[k][i]) * term_scale;
                }
                total.hi
            })
            .collect()
    };
    DerivativeBounds { gradient: series(0), hessian: series(1) }
}

#[cfg(test)]
mod tests;
