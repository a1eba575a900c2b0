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
use crate::arith::fast_interval::FastInterval;
use crate::arith::scalar::Scalar;
use crate::enclose::poly::norm2_upper;
use crate::problem::Activation;
use inari::Interval;

// All arithmetic below is in the endpoint intervals of `arith::fast_interval` (round to
// nearest, then one step outward; `proofs/fast-interval.md`), which enclose every real operation
// as inari's intervals do (one ulp wider per operation): the bounds are the same formulas, only
// rounded differently. Interval inputs convert exactly (`FastInterval::from_inari`).
type F = FastInterval;

#[inline(always)]
fn pt(x: f64) -> F {
    F::point(x)
}

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
    let wf: Vec<F> = w.iter().map(|&v| F::from_inari(v)).collect();
    // G = W W^T (k = rows) or W^T W (k = cols), k x k.
    let mut g = vec![F::ZERO; k * k];
    if rows <= cols {
        for a in 0..k {
            for b in a..k {
                let s = F::dot(F::ZERO, &wf[a * cols..(a + 1) * cols], &wf[b * cols..(b + 1) * cols]);
                g[a * k + b] = s;
                g[b * k + a] = s;
            }
        }
    } else {
        for r in 0..rows {
            let row = &wf[r * cols..(r + 1) * cols];
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
    let scale = pt(2f64.powi(-e));
    for v in &mut g {
        *v = *v * scale;
    }
    for _ in 0..5 {
        let mut next = vec![F::ZERO; k * k];
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
    let mut norm = 0.0f64;
    for a in 0..k {
        let mut row = F::ZERO;
        for b in 0..k {
            row = row + pt(g[a * k + b].magnitude());
        }
        norm = norm.max(row.hi);
    }
    // lambda_max(G_scaled) <= norm^(1/32); |W|_2 = 2^(e/2) lambda_max(G_scaled)^(1/2).
    let mut root = pt(norm);
    for _ in 0..6 {
        root = Scalar::sqrt(root);
    }
    let bound = (root * pt(2f64.powi(e / 2))).hi;
    if bound.is_finite() { bound.min(frob) } else { frob }
}

/// Local bounds `(|sigma'|, |sigma''|)` over the pre-activations whose activation values lie in
/// `a` (an enclosure of `sigma` over the pre-activation range), where this determines them;
/// otherwise the global bounds. Proof: `proofs/theory-local-constant.md`, lemma A.
pub(crate) fn local_activation_bounds(act: Activation, a: F) -> (f64, f64) {
    let (g1, g2) = global_derivative_bounds(act);
    let one = pt(1.0);
    match act {
        Activation::Identity => (1.0, 0.0),
        Activation::Tanh => {
            // tanh' = 1 - t^2, tanh'' = -2 t (1 - t^2), t in a ∩ [-1, 1]:
            // |tanh'| <= 1 - mig(t)^2, |tanh''| <= 2 mag(t) (1 - mig(t)^2).
            let (lo, hi) = (a.lo.max(-1.0), a.hi.min(1.0));
            if !(lo <= hi) {
                return (g1, g2);
            }
            let mig = if lo > 0.0 { lo } else if hi < 0.0 { -hi } else { 0.0 };
            let mag = lo.abs().max(hi.abs());
            let s = (one - pt(mig) * pt(mig)).hi.max(0.0);
            let d2 = (pt(2.0 * mag) * pt(s)).hi;
            (s.min(g1), d2.min(g2))
        }
        Activation::Sigmoid => {
            // sigma' = t (1 - t), sigma'' = t (1 - t)(1 - 2 t), t in a ∩ [0, 1].
            let (lo, hi) = (a.lo.max(0.0), a.hi.min(1.0));
            if !(lo <= hi) {
                return (g1, g2);
            }
            let t = F { lo, hi };
            let s = t - t * t;
            let d2 = s * (one - pt(2.0) * t);
            (s.magnitude().min(g1), d2.magnitude().min(g2))
        }
        Activation::Sin => {
            // |sin''| = |sin|; |sin'| = |cos| = sqrt(1 - sin^2).
            let (lo, hi) = (a.lo, a.hi);
            if !(lo <= hi) {
                return (g1, g2);
            }
            let mig = if lo > 0.0 { lo } else if hi < 0.0 { -hi } else { 0.0 };
            let m = mig.min(1.0);
            let s = Scalar::sqrt(one - pt(m) * pt(m));
            (s.hi.min(g1), a.magnitude().min(g2))
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
    let rho = pt(radius);
    let bias_term = if net.bias { pt(1.0) } else { F::ZERO };
    let d = net.widths[0];
    // Omega_l >= |W_l(w)|_2 over the ball; column norms of W_l (for the backward map Q_{l-1}).
    let omegas: Vec<F> = (1..=layers)
        .map(|l| pt(spectral_norm_upper(net.weights(w0, l), net.widths[l], net.widths[l - 1])) + rho)
        .collect();
    let col_norms: Vec<Vec<F>> = (1..=layers)
        .map(|l| {
            let (rows, cols) = (net.widths[l], net.widths[l - 1]);
            let wl = net.weights(w0, l);
            let mut sums = vec![0.0f64; cols];
            for r in 0..rows {
                for (s, x) in sums.iter_mut().zip(&wl[r * cols..(r + 1) * cols]) {
                    let m = x.mag();
                    *s = F::from_nearest(*s, m.mul_add(m, *s)).hi;
                }
            }
            sums.into_iter().map(|s| Scalar::sqrt(pt(s)) + rho).collect()
        })
        .collect();
    let scales: Vec<F> = net.scales.iter().map(|c| pt(c.mag())).collect();
    let n = net.num_inputs;
    let mut gradient = Vec::with_capacity(n);
    let mut hessian = Vec::with_capacity(n);
    let norm = |v: &[F]| pt(norm2_upper(v));
    let inorm = |v: &[Interval]| pt(norm2_upper(v));
    // Workspaces reused for every input: per layer l (index l - 1) the linear forms gz_l and
    // ga_{l-1} (length L each, row-major), s1_l, and max_j |W_{l+1}[:, j]| s2_{l,j} (the factor
    // pi_{l+1} c_{l+1} of gamma_l is applied below, once per layer instead of once per neuron).
    let mut gzs = vec![F::ZERO; layers * layers];
    let mut gas_prev = vec![F::ZERO; layers * layers];
    let mut s1s = vec![F::ZERO; layers];
    let mut col_s2 = vec![0.0f64; layers];
    let mut ga = vec![F::ZERO; layers];
    let mut pis = vec![pt(1.0); layers + 1];
    for i in 0..n {
        let mut a_norm = inorm(&net.inputs[i * d..(i + 1) * d]);
        ga.fill(F::ZERO);
        for l in 1..=layers {
            let c = scales[l - 1];
            let co = c * omegas[l - 1];
            let row = (l - 1) * layers..l * layers;
            for (z, &g) in gzs[row.clone()].iter_mut().zip(&ga) {
                *z = co * g;
            }
            gzs[(l - 1) * layers + l - 1] = gzs[(l - 1) * layers + l - 1] + Scalar::sqrt(c * c * a_norm * a_norm + bias_term);
            gas_prev[row.clone()].copy_from_slice(&ga);
            if l < layers {
                let width = net.widths[l];
                let act = net.activations[l - 1];
                let (g1, _) = global_derivative_bounds(act);
                // Every pre-activation moves by at most delta = rho |gz| over the ball, every
                // activation by at most g1 delta.
                let delta = rho * norm(&gzs[row.clone()]);
                let spread = (pt(g1) * delta).hi;
                let spread = F { lo: -spread, hi: spread };
                let a0 = &hidden[l - 1][i * width..(i + 1) * width];
                let mut s1 = 0.0f64;
                let mut cs2 = 0.0f64;
                for (&aj, cn) in a0.iter().zip(&col_norms[l]) {
                    let (b1, b2) = local_activation_bounds(act, F::from_inari(aj) + spread);
                    s1 = s1.max(b1);
                    cs2 = cs2.max((*cn * pt(b2)).hi);
                }
                s1s[l - 1] = pt(s1);
                col_s2[l - 1] = cs2;
                for (g, &z) in ga.iter_mut().zip(&gzs[row.clone()]) {
                    *g = pt(s1) * z;
                }
                a_norm = inorm(a0) + rho * norm(&ga);
            }
        }
        // pi_l >= |dz_L/dz_l| over the ball: pi_L = 1, pi_l = pi_{l+1} c_{l+1} Omega_{l+1} s1_l.
        for l in (1..layers).rev() {
            pis[l] = pis[l + 1] * scales[l] * omegas[l] * s1s[l - 1];
        }
        let mut m = F::ZERO;
        for l in 1..layers {
            // gamma_l = max_j |Q_l[:, j]| |sigma_l''_j|, |Q_l[:, j]| <= pi_{l+1} c_{l+1} |W_{l+1}[:, j]|.
            let gamma = pis[l + 1] * scales[l] * pt(col_s2[l - 1]);
            let g = norm(&gzs[(l - 1) * layers..l * layers]);
            m = m + pt(gamma.hi) * g * g;
        }
        for l in 2..=layers {
            // 2 c_l pi_l sup_{|nu|=1} nu_l (ga_{l-1} . nu) = c_l pi_l (|ga_{l-1}| + ga_{l-1}[l]).
            let g = &gas_prev[(l - 1) * layers..l * layers];
            m = m + scales[l - 1] * pis[l] * (norm(g) + g[l - 1]);
        }
        gradient.push(norm2_upper(&gzs[(layers - 1) * layers..]));
        hessian.push(m.hi);
    }
    DerivativeBounds { gradient, hessian }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arith::vector::point;

    /// Lemma A in endpoint arithmetic: for pre-activations `z` whose activation value lies in
    /// the enclosure, `|sigma'(z)|` and `|sigma''(z)|` stay below the local bounds (MPFR at 200
    /// bits for tanh, sigmoid and sin).
    #[test]
    fn local_activation_bounds_contain_sampled_derivatives() {
        use rug::Float;
        let prec = 200;
        for k in 0..400 {
            let z = Float::with_val(prec, k - 200) / 37u32;
            for act in [Activation::Tanh, Activation::Sigmoid, Activation::Sin] {
                let (value, d1, d2) = match act {
                    Activation::Tanh => {
                        let t = z.clone().tanh();
                        let s = Float::with_val(prec, 1) - t.clone().square();
                        let d2 = Float::with_val(prec, -2) * t.clone() * s.clone();
                        (t, s, d2)
                    }
                    Activation::Sigmoid => {
                        let e = (-z.clone()).exp();
                        let t = Float::with_val(prec, 1) / (Float::with_val(prec, 1) + e);
                        let s = t.clone() * (Float::with_val(prec, 1) - t.clone());
                        let d2 = s.clone() * (Float::with_val(prec, 1) - Float::with_val(prec, 2) * t.clone());
                        (t, s, d2)
                    }
                    _ => (z.clone().sin(), z.clone().cos(), -z.clone().sin()),
                };
                // Enclosures of the value: thin, and widened by 1e-3 and 0.3 on each side.
                for pad in [0.0, 1e-3, 0.3] {
                    let lo = value.to_f64_round(rug::float::Round::Down) - pad;
                    let hi = value.to_f64_round(rug::float::Round::Up) + pad;
                    let (b1, b2) = local_activation_bounds(act, F { lo, hi });
                    assert!(d1.clone().abs() <= b1, "{act:?} sigma' at {z}: {b1}");
                    assert!(d2.clone().abs() <= b2, "{act:?} sigma'' at {z}: {b2}");
                }
            }
        }
        // A NaN enclosure stands for the whole line: the global bounds (or below them) hold.
        let (b1, b2) = local_activation_bounds(Activation::Tanh, F { lo: f64::NAN, hi: f64::NAN });
        assert!(b1 >= 1.0 && b2 >= 0.7698, "{b1} {b2}");
    }

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
