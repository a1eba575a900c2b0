//! The layered bound of `sup |Dh|` and `sup |D^2 h|` over a parameter ball or box (`radius = 0`):
//! the second derivative of an MLP is split into the terms `Q_l (sigma_l'' * z_l'^2)` (curvature
//! of the activations, weighted by the largest column of the backward map `Q_l = dz_L/da_l`) and
//! `2 c_l P_l V_l a_{l-1}'` (products of two weight directions), each bounded with spectral
//! norms and local activation derivatives. Used, as the per-input minimum with the box recursion
//! of `model::bounds`, by the theory bounds (`theory::local`, over the reachable ball) and by the
//! integrator's `mu` and output slack (`model::bounds::derivative_bounds`, over a tube box,
//! radius 0).
//!
//! Proof: `proofs/theory-local-constant.md`. Cost: one interval forward pass (the caller's)
//! plus `O(p)` norm computations and `O(k^3)` for the spectral bound of a layer whose smaller
//! side `k` is at most 64: no backward pass, no `p x p` work.

use super::activation::global_derivative_bounds;
use super::bounds::{DerivativeBounds, HiddenActivations};
use super::mlp::Mlp;
use crate::arith::vector::{norm2_upper, point};
use crate::problem::Activation;
use inari::{const_interval, Interval};

/// An upper bound of the spectral norm `|W|_2` of every real matrix in the interval matrix `w`
/// (`rows x cols`, row-major): the minimum of the Frobenius norm and, when the smaller side `k`
/// is at most 64, `(|G^32|_inf)^(1/64)` with `G` the `k x k` Gram matrix (`lambda_max(G) =
/// rho(G^32)^(1/32) <= |G^32|_inf^(1/32)`). Proof: `proofs/theory-local-constant.md`, lemma S.
pub fn spectral_norm_upper(w: &[Interval], rows: usize, cols: usize) -> f64 {
    let frob = norm2_upper(w);
    let k = rows.min(cols);
    if k == 0 || k > 64 || !frob.is_finite() || frob == 0.0 {
        return frob;
    }
    // G = W W^T (k = rows) or W^T W (k = cols), k x k.
    let mut g = vec![const_interval!(0.0, 0.0); k * k];
    if rows <= cols {
        for a in 0..k {
            for b in a..k {
                let mut s = const_interval!(0.0, 0.0);
                for (x, y) in w[a * cols..(a + 1) * cols].iter().zip(&w[b * cols..(b + 1) * cols]) {
                    s = x.mul_add(*y, s);
                }
                g[a * k + b] = s;
                g[b * k + a] = s;
            }
        }
    } else {
        for r in 0..rows {
            let row = &w[r * cols..(r + 1) * cols];
            for a in 0..k {
                for b in a..k {
                    g[a * k + b] = row[a].mul_add(row[b], g[a * k + b]);
                }
            }
        }
        for a in 0..k {
            for b in 0..a {
                g[a * k + b] = g[b * k + a];
            }
        }
    }
    // Scale by an exact power of two 2^-e (e even) so that the entries stay near 1.
    let mut e = (frob * frob).log2().ceil() as i32;
    if e % 2 != 0 {
        e += 1;
    }
    let scale = point(2f64.powi(-e));
    for v in &mut g {
        *v *= scale;
    }
    for _ in 0..5 {
        let mut next = vec![const_interval!(0.0, 0.0); k * k];
        for a in 0..k {
            for c in 0..k {
                let gac = g[a * k + c];
                for b in 0..k {
                    next[a * k + b] = gac.mul_add(g[c * k + b], next[a * k + b]);
                }
            }
        }
        g = next;
    }
    let mut norm = const_interval!(0.0, 0.0);
    for a in 0..k {
        let mut row = const_interval!(0.0, 0.0);
        for b in 0..k {
            row += point(g[a * k + b].mag());
        }
        norm = point(norm.sup().max(row.sup()));
    }
    // lambda_max(G_scaled) <= norm^(1/32); |W|_2 = 2^(e/2) lambda_max(G_scaled)^(1/2).
    let mut root = norm;
    for _ in 0..6 {
        root = root.sqrt();
    }
    let bound = (root * point(2f64.powi(e / 2))).sup();
    if bound.is_finite() { bound.min(frob) } else { frob }
}

/// Local bounds `(|sigma'|, |sigma''|)` over the pre-activations whose activation values lie in
/// `a` (an enclosure of `sigma` over the pre-activation range), where this determines them;
/// otherwise the global bounds. Proof: `proofs/theory-local-constant.md`, lemma A.
fn local_activation_bounds(act: Activation, a: Interval) -> (f64, f64) {
    let (g1, g2) = global_derivative_bounds(act);
    let one = const_interval!(1.0, 1.0);
    let two = const_interval!(2.0, 2.0);
    match act {
        Activation::Identity => (1.0, 0.0),
        Activation::Tanh => {
            // tanh' = 1 - t^2, tanh'' = -2 t (1 - t^2), t in [-1, 1].
            let t = a.intersection(const_interval!(-1.0, 1.0));
            if t.is_empty() {
                return (g1, g2);
            }
            let s = one - t.sqr();
            let d2 = two * t * s;
            (s.mag().min(g1), d2.mag().min(g2))
        }
        Activation::Sigmoid => {
            // sigma' = t (1 - t), sigma'' = t (1 - t)(1 - 2 t), t in [0, 1].
            let t = a.intersection(const_interval!(0.0, 1.0));
            if t.is_empty() {
                return (g1, g2);
            }
            let s = t - t.sqr();
            let d2 = s * (one - two * t);
            (s.mag().min(g1), d2.mag().min(g2))
        }
        Activation::Sin => {
            // |sin''| = |sin|; |sin'| = |cos| = sqrt(1 - sin^2).
            let m = a.mig().min(1.0);
            let s = (one - point(m).sqr()).sqrt();
            (s.sup().min(g1), a.mag().min(g2))
        }
        Activation::Erf | Activation::Softplus | Activation::Gelu => (g1, g2),
    }
}

/// The layered recursion (`proofs/theory-local-constant.md`, section "The layered bound"):
/// per-input bounds of `|Dh_i(w)|` and `sup_{|v|=1} |D^2 h_i(w)[v, v]|` for every `w` within
/// `radius` (2-norm) of some point of the box `w0` (`radius = 0`: the box itself). `hidden`
/// must enclose the hidden activations over the box `w0` (`model::bounds::HiddenActivations`).
pub fn mlp_layered(net: &Mlp<Interval>, hidden: &HiddenActivations, w0: &[Interval], radius: f64) -> DerivativeBounds {
    let layers = net.num_layers();
    let rho = point(radius);
    let zero = const_interval!(0.0, 0.0);
    let bias_term = if net.bias { const_interval!(1.0, 1.0) } else { zero };
    let d = net.widths[0];
    // Omega_l >= |W_l(w)|_2 over the ball; column norms of W_l (for the backward map Q_{l-1}).
    let omegas: Vec<Interval> = (1..=layers)
        .map(|l| point(spectral_norm_upper(net.weights(w0, l), net.widths[l], net.widths[l - 1])) + rho)
        .collect();
    let col_norms: Vec<Vec<Interval>> = (1..=layers)
        .map(|l| {
            let (rows, cols) = (net.widths[l], net.widths[l - 1]);
            let wl = net.weights(w0, l);
            let mut sums = vec![zero; cols];
            for r in 0..rows {
                for (s, x) in sums.iter_mut().zip(&wl[r * cols..(r + 1) * cols]) {
                    *s += point(x.mag()).sqr();
                }
            }
            sums.into_iter().map(|s| s.sqrt() + rho).collect()
        })
        .collect();
    let scales: Vec<Interval> = net.scales.iter().map(|c| point(c.mag())).collect();
    let n = net.num_inputs;
    let mut gradient = Vec::with_capacity(n);
    let mut hessian = Vec::with_capacity(n);
    let norm = |v: &[Interval]| point(norm2_upper(v));
    for i in 0..n {
        let mut a_norm = norm(&net.inputs[i * d..(i + 1) * d]);
        let mut ga = vec![zero; layers];
        // Per layer: gz_l, ga_{l-1}, s1_l, per-neuron s2_l.
        let mut gzs: Vec<Vec<Interval>> = Vec::with_capacity(layers);
        let mut gas_prev: Vec<Vec<Interval>> = Vec::with_capacity(layers);
        let mut s1s: Vec<Interval> = Vec::with_capacity(layers);
        let mut s2s: Vec<Vec<Interval>> = Vec::with_capacity(layers);
        for l in 1..=layers {
            let c = scales[l - 1];
            let mut gz: Vec<Interval> = ga.iter().map(|&g| c * omegas[l - 1] * g).collect();
            gz[l - 1] += (c.sqr() * a_norm.sqr() + bias_term).sqrt();
            gas_prev.push(ga.clone());
            if l < layers {
                let width = net.widths[l];
                let act = net.activations[l - 1];
                let (g1, _) = global_derivative_bounds(act);
                // Every pre-activation moves by at most delta = rho |gz| over the ball, every
                // activation by at most g1 delta.
                let delta = rho * norm(&gz);
                let spread = point(g1) * delta;
                let spread = Interval::try_from((-spread.sup(), spread.sup())).unwrap_or(Interval::ENTIRE);
                let a0 = &hidden[l - 1][i * width..(i + 1) * width];
                let mut s1 = 0.0f64;
                let mut s2 = Vec::with_capacity(width);
                for &aj in a0 {
                    let (b1, b2) = local_activation_bounds(act, aj + spread);
                    s1 = s1.max(b1);
                    s2.push(point(b2));
                }
                s1s.push(point(s1));
                s2s.push(s2);
                ga = gz.iter().map(|&g| point(s1) * g).collect();
                a_norm = norm(&a0) + rho * norm(&ga);
            }
            gzs.push(gz);
        }
        // pi_l >= |dz_L/dz_l| over the ball: pi_L = 1, pi_l = pi_{l+1} c_{l+1} Omega_{l+1} s1_l.
        let mut pis = vec![const_interval!(1.0, 1.0); layers + 1];
        for l in (1..layers).rev() {
            pis[l] = pis[l + 1] * scales[l] * omegas[l] * s1s[l - 1];
        }
        let mut m = zero;
        for l in 1..layers {
            // gamma_l = max_j |Q_l[:, j]| |sigma_l''_j|, |Q_l[:, j]| <= pi_{l+1} c_{l+1} |W_{l+1}[:, j]|.
            let factor = pis[l + 1] * scales[l];
            let gamma = col_norms[l].iter().zip(&s2s[l - 1]).map(|(cn, s2)| (factor * *cn * *s2).sup()).fold(0.0, f64::max);
            m += point(gamma) * norm(&gzs[l - 1]).sqr();
        }
        for l in 2..=layers {
            // 2 c_l pi_l sup_{|nu|=1} nu_l (ga_{l-1} . nu) = c_l pi_l (|ga_{l-1}| + ga_{l-1}[l]).
            let g = &gas_prev[l - 1];
            m += scales[l - 1] * pis[l] * (norm(g) + g[l - 1]);
        }
        gradient.push(norm2_upper(&gzs[layers - 1]));
        hessian.push(m.sup());
    }
    DerivativeBounds { gradient, hessian }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spectral_bound_is_close_and_above() {
        // [[3, 0], [4, 5]]: singular values sqrt(45) and sqrt(5) ... |W|_2 = 6.7082039...
        let w: Vec<Interval> = [3.0, 0.0, 4.0, 5.0].iter().map(|&x| point(x)).collect();
        let b = spectral_norm_upper(&w, 2, 2);
        assert!(b >= 45f64.sqrt() && b < 45f64.sqrt() * 1.03, "{b}");
        let w: Vec<Interval> = (0..24).map(|i| point(((i * 7) % 5) as f64 - 2.0)).collect();
        let b = spectral_norm_upper(&w, 8, 3);
        assert!(b <= norm2_upper(&w));
    }
}
