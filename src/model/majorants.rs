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
use crate::arith::elementary;
use crate::arith::fast_interval::FastInterval;
use crate::arith::scalar::Scalar;
use crate::enclose::poly::norm2_upper;
use crate::problem::Activation;
use inari::Interval;

type F = FastInterval;

/// `norms[k - 1][i] >= sup_{|u| = 1} |D^k h_i(w)[u^k]|_2` for `1 <= k <= top`, every input `i`
/// and every `w` in the box `w` (`h_i` the outputs on input `i`; `u` over all parameter
/// directions, 2-norm), by Lemma B of `proofs/taylor-models.md`. By Banach's theorem on
/// symmetric multilinear forms the same number bounds `|D^k h_i(w)[u_1, ..., u_k]|_2` for unit
/// `u_1, ..., u_k`. `top >= 1`; arithmetic in endpoint intervals (upper ends kept).
pub fn derivative_norms(net: &Mlp<FastInterval>, w: &[Interval], top: usize) -> Vec<Vec<f64>> {
    derivative_norms_on_ball(net, w, 0.0, top)
}

/// [`derivative_norms`] for every `w` within `radius` (2-norm) of a point of the box `w`
/// (Lemma B over a ball: the weights' norms grow by `radius`, the pre-activations of unit `j`
/// move by at most `radius` times the bound of `|Dz_j|`, the activations' norms by `radius`
/// times that of `|Da|`).
pub fn derivative_norms_on_ball(net: &Mlp<FastInterval>, w: &[Interval], radius: f64, top: usize) -> Vec<Vec<f64>> {
    assert!(top >= 1, "derivative_norms: top = {top}");
    let layers = net.num_layers();
    let n = net.num_inputs;
    let d = net.widths[0];
    let rho = F::point(radius);
    let mut forward = MlpTaylor::new(net.clone());
    forward.forward(&[w.iter().map(|&x| F::from_inari(x)).collect()], 0);

    // Per layer: c_l, Omega_l >= |W_l|_2 and omega_l >= the largest row norm of W_l over the ball.
    let scales: Vec<F> = net.scales.iter().map(|c| F::point(c.magnitude())).collect();
    let weight_norms = layer_norms(net, w);
    let bias = if net.bias { F::point(1.0) } else { F::ZERO };

    let mut norms = vec![Vec::with_capacity(n); top];
    for i in 0..n {
        // a2[r] >= |a_{l-1}[r]|_2 for the layer's input (a_0 = x, constant in eps).
        let mut a2 = vec![F::ZERO; top + 1];
        a2[0] = F::point(norm2_upper(&net.inputs[i * d..(i + 1) * d]));
        for l in 1..=layers {
            let (c, big, row) = (scales[l - 1], weight_norms[l - 1].0 + rho, weight_norms[l - 1].1 + rho);
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
            let units = i * width..(i + 1) * width;
            let shift = (rho * zinf[1]).hi;
            let slopes = activation_coefficients(net.activations[l - 1], &forward.pre_activations(l, 0)[units.clone()], shift, top);
            let mut next = vec![F::ZERO; top + 1];
            let mut power = z2.clone();
            for m in 1..=top {
                let s = F::point(slopes[m]);
                for r in m..=top {
                    next[r] = next[r] + s * power[r];
                }
                power = truncated_product(&power, &zinf);
            }
            // Over the ball |a_l| grows by at most radius sup|Da_l| (mean value on a segment).
            next[0] = F::point(norm2_upper(&forward.activations(l, 0)[units])) + rho * next[1];
            a2 = next;
        }
    }
    norms
}

/// `out[m] >= max_j |sigma^(m)(z)| / m!` for every `z` within `shift` of the enclosure `z_j`
/// (`m <= top`): the time coefficients of `sigma` along `z + s` (`ActivationSeries`, evaluated
/// over the widened enclosures by inclusion isotony).
fn activation_coefficients(activation: Activation, z: &[F], shift: f64, top: usize) -> Vec<f64> {
    let widened: Vec<F> = z.iter().map(|&x| x + F { lo: -shift, hi: shift }).collect();
    let mut line = vec![widened, vec![F::point(1.0); z.len()]];
    line.resize(top + 1, vec![F::ZERO; z.len()]);
    let mut series = ActivationSeries::<Vec<F>>::new(activation);
    for k in 0..=top {
        series.push_order(&line[..=k]);
    }
    (0..=top).map(|m| series.values[m].iter().map(|v| v.magnitude()).fold(0.0, f64::max)).collect()
}

/// A lower bound of the radius `R` such that for every unit direction `u` the function
/// `eps -> h(w0 + eps u)` is analytic on the complex disc `|eps| < R`, for every `w0` in the
/// box `w`: so the power series of every output around `w0` converges on the ball
/// `|w - w0| < R` (Lemma A of `proofs/taylor-models.md`). `f64::INFINITY` when every
/// activation is entire (erf, sin, gelu, identity: `h` is then entire); `0` when no positive
/// radius is proved. Bisection over `rho` of [`analytic_on_disc`] (monotone in `rho`).
pub fn analytic_radius(net: &Mlp<FastInterval>, w: &[Interval]) -> f64 {
    if net.activations.iter().all(|&a| strip_half_width(a).is_none()) {
        return f64::INFINITY;
    }
    let mut forward = MlpTaylor::new(net.clone());
    forward.forward(&[w.iter().map(|&x| F::from_inari(x)).collect()], 0);
    let norms = layer_norms(net, w);
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    while analytic_on_disc(net, &norms, &forward, hi) && hi < 1e300 {
        (lo, hi) = (hi, hi * 2.0);
    }
    for _ in 0..48 {
        let mid = 0.5 * (lo + hi);
        if analytic_on_disc(net, &norms, &forward, mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// The half-width of the strip `|Im z| < c` around the real line on which the activation is
/// analytic (tanh: `pi/2`, sigmoid and softplus: `pi`); `None` for entire ones.
fn strip_half_width(activation: Activation) -> Option<f64> {
    match activation {
        Activation::Tanh => Some(std::f64::consts::FRAC_PI_2),
        Activation::Sigmoid | Activation::Softplus => Some(std::f64::consts::PI),
        Activation::Erf | Activation::Sin | Activation::Gelu | Activation::Identity => None,
    }
}

/// An upper bound of `|sigma'(z)|` over complex `z` with `|Im z| <= delta` (`delta` below the
/// strip's half-width): `1/cos^2 delta` (tanh: `|cosh z|^2 >= cos^2(Im z)`), `1/(4 cos^2(delta/2))`
/// (sigmoid `= (1 + tanh(z/2))/2`), `(1 + 1/cos(delta/2))/2` (softplus' = sigmoid, with
/// `|tanh z| <= 1/|cos(Im z)|`), `(2/sqrt pi) e^(delta^2)` (erf), `cosh delta` (sin), 1
/// (identity); `None` outside the strip or for gelu (no bound derived).
fn complex_slope(activation: Activation, delta: f64) -> Option<F> {
    let d = F::point(delta);
    let one = F::point(1.0);
    let cos_below = |x: F| -> Option<F> {
        // cos on [0, pi/2) is decreasing: a lower bound of cos x from the upper end.
        let c = Scalar::cos(F::point(x.hi));
        (c.lo > 0.0).then_some(F::point(c.lo))
    };
    match activation {
        Activation::Tanh if delta < std::f64::consts::FRAC_PI_2 => cos_below(d).map(|c| one / (c * c)),
        Activation::Sigmoid if delta < std::f64::consts::PI => cos_below(d * F::point(0.5)).map(|c| one / (F::point(4.0) * c * c)),
        Activation::Softplus if delta < std::f64::consts::PI => cos_below(d * F::point(0.5)).map(|c| (one + one / c) * F::point(0.5)),
        Activation::Erf => Some(F::point(1.1283791670955128) * F::point(1.0 + 1e-15) * elementary::exp(d * d)),
        Activation::Sin => Some((elementary::exp(d) + elementary::exp(-d)) * F::point(0.5)),
        Activation::Identity => Some(one),
        _ => None,
    }
}

/// Whether `eps -> h(w0 + eps u)` is analytic on `|eps| <= rho` for every unit `u` and every
/// `w0` in the box (`forward`: the order-0 pass over it; `norms`: [`layer_norms`] of it): along the complex line every
/// pre-activation moves by at most `|dz|_inf`, which must stay inside its activation's strip,
/// and the activations by at most the complex slope bound times `|dz|_2` (Lemma A).
fn analytic_on_disc(net: &Mlp<FastInterval>, norms: &[(F, F)], forward: &MlpTaylor<FastInterval>, rho: f64) -> bool {
    let layers = net.num_layers();
    let d = net.widths[0];
    let rho = F::point(rho);
    let bias = if net.bias { rho } else { F::ZERO };
    for i in 0..net.num_inputs {
        // |a_{l-1}(0)|_2 and |a_{l-1}(eps) - a_{l-1}(0)|_2.
        let mut base = F::point(norm2_upper(&net.inputs[i * d..(i + 1) * d]));
        let mut moved = F::ZERO;
        for l in 1..layers {
            let c = F::point(net.scales[l - 1].magnitude());
            let (spectral, row) = norms[l - 1];
            // z(eps) - z(0) = c (W da + eps U (a + da)) + eps b_dir, |U|_2, rows, |b_dir| <= 1.
            let direction = c * rho * (base + moved) + bias;
            let dz_inf = c * row * moved + direction;
            let dz_2 = c * spectral * moved + direction;
            let Some(slope) = complex_slope(net.activations[l - 1], dz_inf.hi) else { return false };
            if !(dz_inf.hi.is_finite() && slope.hi.is_finite()) {
                return false;
            }
            let width = net.widths[l];
            base = F::point(norm2_upper(&forward.activations(l, 0)[i * width..(i + 1) * width]));
            moved = slope * dz_2;
        }
    }
    true
}

/// Per layer `l`: `(Omega_l, omega_l)` with `Omega_l >= |W_l|_2` (`layered::spectral_norm_upper`)
/// and `omega_l >=` the largest row 2-norm of `W_l`, for every `W_l` in the box `w`.
fn layer_norms(net: &Mlp<FastInterval>, w: &[Interval]) -> Vec<(F, F)> {
    (1..=net.num_layers())
        .map(|l| {
            let cols = net.widths[l - 1];
            let spectral = F::point(spectral_norm_upper(net.weights(w, l), net.widths[l], cols));
            let row = F::point(net.weights(w, l).chunks_exact(cols.max(1)).map(norm2_upper).fold(0.0, f64::max));
            (spectral, row)
        })
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
