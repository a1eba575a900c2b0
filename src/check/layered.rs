//! The checker's layered bound of `sup |Dh_i|` and `sup |D^2 h_i|` over a parameter box (the
//! checker's own code, in its own arithmetic: MPFR balls and f64 upper bounds inflated by
//! [`up`]/[`up_n`]; it shares no code with `crate::model`).
//!
//! The second derivative of an MLP splits exactly into the curvature terms
//! `Q_l (sigma_l'' * (z_l')^2)` (`Q_l = dz_L/da_l`) and the cross terms `2 c_l P_l V_l a_{l-1}'`
//! (`P_l = dz_L/dz_l`); each is bounded with spectral norms of the weight blocks
//! ([`spectral_upper`]), the largest column of the backward map and activation derivatives bounded
//! on the box's activation range ([`local_activation_bounds`]). [`tube_bounds`] returns the
//! per-input minimum of this bound and the box recursion `series::derivative_bounds` (both
//! valid), which `verify::verify` uses for `mu` and the output slack.
//!
//! Proof: `proofs/checker.md`, section "The layered bound (`layered.rs`)" (lemmas LS, LA, LB).

use super::ball::{dot_acc, norm2_upper, up, up_n, Ball, PREC};
use super::series::{activation_bounds, derivative_bounds, DerivativeBounds, Net};
use crate::problem::Activation;
use rug::float::Round;
use rug::Float;

/// Largest smaller side `k` of a weight block for which [`spectral_upper`] forms the `k x k`
/// Gram matrix (cost `O(rows cols k + k^3)` ball operations); larger blocks use the Frobenius
/// norm.
pub const MAX_GRAM_SIDE: usize = 64;

/// Bounds over the box `wbox`: for every input `i`, every `w` in the box and every direction
/// `v`, `|Dh_i(w) v| <= gradient[i] |v|` and `|D^2 h_i(w)[v, v]| <= hessian[i] |v|^2`; the
/// per-input minimum of [`layered_bounds`] and the box recursion
/// [`derivative_bounds`](super::series::derivative_bounds). `hidden` as for `derivative_bounds`:
/// `hidden[l-1]` holds balls containing the activations `a_l(w)` of hidden layer `l` for every
/// `w` in the box (`n x width_l`, input-major). Proof: `proofs/checker.md`, lemma LB.
pub fn tube_bounds(net: &Net, wbox: &[Ball], hidden: &[Vec<Ball>]) -> DerivativeBounds {
    let recursion = derivative_bounds(net, wbox, hidden);
    match layered_bounds(net, wbox, hidden) {
        Some(layered) => min_bounds(&recursion, &layered),
        None => recursion,
    }
}

/// The per-entry minimum of two valid upper bounds (a NaN entry counts as no bound).
fn min_bounds(a: &DerivativeBounds, b: &DerivativeBounds) -> DerivativeBounds {
    let pick = |x: &[f64], y: &[f64]| -> Vec<f64> { x.iter().zip(y).map(|(p, q)| p.min(*q)).collect() };
    DerivativeBounds { gradient: pick(&a.gradient, &b.gradient), hessian: pick(&a.hessian, &b.hessian) }
}

/// `max(a, b)` that propagates NaN as `+inf` (so that an undefined bound is never dropped).
fn max_or_inf(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::INFINITY
    } else {
        a.max(b)
    }
}

/// Upper bound of `(sum x_j^2)^{1/2}` for non-negative f64 upper bounds `x_j` (each square one
/// rounding, the sum `n - 1` more, the square root one: covered by `up_n` and `up`).
fn root_sum_squares(x: &[f64]) -> f64 {
    super::ball::norm2_of_bounds(x)
}

/// Lemma LS (`proofs/checker.md`): an upper bound of the spectral norm `|W|_2` of every real
/// matrix `W` in the ball matrix `w` (`rows x cols`, row-major). The minimum of the Frobenius
/// bound `norm2_upper(w)` and, when `k = min(rows, cols) <= MAX_GRAM_SIDE`,
/// `2^{e/2} (|[G']^32|_inf)^{1/64}` where `[G']` encloses the scaled Gram matrix `2^-e W W^T`
/// (or `2^-e W^T W`), raised to the 32nd power by five ball squarings.
pub fn spectral_upper(w: &[Ball], rows: usize, cols: usize) -> f64 {
    let frob = norm2_upper(w);
    let k = rows.min(cols);
    if k == 0 || k > MAX_GRAM_SIDE || !frob.is_finite() || frob == 0.0 {
        return frob;
    }
    // e even with 2^e >= frob^2 >= |G|_2, so the scaled Gram matrix has norm <= 1.
    let f2 = up(frob * frob);
    let mut e = f2.log2().ceil() as i32;
    if e % 2 != 0 {
        e += 1;
    }
    if !(-900..=900).contains(&e) {
        return frob;
    }
    let scale = Ball::exact(2f64.powi(-e));
    // [G] (symmetric by construction: only a <= b computed, then mirrored).
    let mut g = vec![Ball::zero(); k * k];
    for a in 0..k {
        for b in a..k {
            let mut acc = Ball::zero();
            if rows <= cols {
                // (W W^T)_{ab} = sum_j W_aj W_bj
                dot_acc(&mut acc, w[a * cols..(a + 1) * cols].iter().zip(&w[b * cols..(b + 1) * cols]));
            } else {
                // (W^T W)_{ab} = sum_r W_ra W_rb
                dot_acc(&mut acc, (0..rows).map(|r| (&w[r * cols + a], &w[r * cols + b])));
            }
            let v = acc.mul(&scale);
            g[b * k + a] = v.clone();
            g[a * k + b] = v;
        }
    }
    for _ in 0..5 {
        // The true matrix is symmetric, so g[b][c] encloses its (c, b) entry.
        let mut next = vec![Ball::zero(); k * k];
        for a in 0..k {
            for b in a..k {
                let mut acc = Ball::zero();
                dot_acc(&mut acc, g[a * k..(a + 1) * k].iter().zip(&g[b * k..(b + 1) * k]));
                next[b * k + a] = acc.clone();
                next[a * k + b] = acc;
            }
        }
        g = next;
    }
    // |G'^32|_inf <= max_a sum_b sup |entry|.
    let mut norm = 0.0f64;
    for a in 0..k {
        let row: f64 = g[a * k..(a + 1) * k].iter().map(|x| x.abs_upper()).sum();
        norm = max_or_inf(norm, up_n(row, k));
    }
    if !norm.is_finite() {
        return frob;
    }
    // rho(G')^32 <= norm, so |W|_2 = 2^{e/2} rho(G')^{1/2} <= 2^{e/2} norm^{1/64}.
    let mut root = Float::with_val_round(PREC, norm, Round::Up).0;
    for _ in 0..6 {
        root = Float::with_val_round(PREC, root.sqrt_ref(), Round::Up).0;
    }
    root <<= e / 2; // exact: multiplication by a power of two
    let bound = root.to_f64_round(Round::Up);
    if bound.is_finite() {
        bound.min(frob)
    } else {
        frob
    }
}

/// Lemma LA (`proofs/checker.md`): `(s1, s2)` with `|sigma'(z)| <= s1` and
/// `|sigma''(z)| <= s2` for every pre-activation `z` whose activation value `sigma(z)` lies in
/// the ball `a`; each at most the global bound of `activation_bounds`. tanh and sigmoid are
/// bounded through their value, and so is sin (`|sin'| = (1 - sin^2)^{1/2}`, `|sin''| = |sin|`);
/// softplus, erf and gelu use the global bounds; identity is `(1, 0)`.
pub fn local_activation_bounds(act: Activation, a: &Ball) -> (f64, f64) {
    let (g1, g2) = activation_bounds(act);
    let up_f = |x: &Float| x.to_f64_round(Round::Up);
    match act {
        Activation::Identity => (1.0, 0.0),
        Activation::Tanh => {
            // t = tanh z; tanh' = 1 - t^2 <= 1 - x^2, |tanh''| = 2 |t| (1 - t^2) <= 2 X (1 - x^2).
            let Some((s, big)) = unit_range_bounds(a) else { return (g1, g2) };
            let d2 = Float::with_val_round(PREC, &big * &s, Round::Up).0 * 2u32; // *2 exact
            (up_f(&s).min(g1), up_f(&d2).min(g2))
        }
        Activation::Sigmoid => {
            // t = sigmoid z in [lo, hi] cap [0, 1]; sigma' = t (1 - t), sigma'' = sigma' (1 - 2t).
            let (lo, hi) = (a.lo(), a.hi());
            if lo.is_nan() || hi.is_nan() {
                return (g1, g2);
            }
            let lo = lo.max(&Float::new(PREC));
            let hi = hi.min(&Float::with_val(PREC, 1));
            if lo > hi {
                return (g1, g2);
            }
            let one_minus_lo = Float::with_val_round(PREC, 1 - &lo, Round::Up).0; // >= 1 - t >= 0
            let s = Float::with_val_round(PREC, &hi * &one_minus_lo, Round::Up).0; // >= t (1 - t)
            // |1 - 2t| = max(1 - 2t, 2t - 1) <= max(1 - 2 lo, 2 hi - 1) (>= 0 as lo <= hi);
            // 2 lo, 2 hi exact, each difference rounded up.
            let e_lo = Float::with_val_round(PREC, 1 - Float::with_val(PREC, &lo * 2u32), Round::Up).0;
            let e_hi = Float::with_val_round(PREC, Float::with_val(PREC, &hi * 2u32) - 1, Round::Up).0;
            let slope = e_lo.max(&e_hi);
            let d2 = Float::with_val_round(PREC, &s * &slope, Round::Up).0;
            (up_f(&s).min(g1), up_f(&d2).min(g2))
        }
        Activation::Sin => {
            // s = sin z; |sin'| = |cos z| = (1 - s^2)^{1/2} <= (1 - x^2)^{1/2}, |sin''| = |s| <= X.
            let Some((c, big)) = unit_range_bounds(a) else { return (g1, g2) };
            let slope = Float::with_val_round(PREC, c.sqrt_ref(), Round::Up).0;
            (up_f(&slope).min(g1), up_f(&big).min(g2))
        }
        Activation::Softplus | Activation::Erf | Activation::Gelu => (g1, g2),
    }
}

/// For values `v` in the ball `a` cap `[-1, 1]` (tanh's and sin's range): `(1 - x^2, X)` with
/// `x = min |v|` (0 if the range contains 0) and `X = max |v|`, the first rounded up (`x^2` down),
/// the second exact; `None` when the range is empty or not a number (Lemma LA).
fn unit_range_bounds(a: &Ball) -> Option<(Float, Float)> {
    let (lo, hi) = (a.lo(), a.hi());
    if lo.is_nan() || hi.is_nan() {
        return None;
    }
    let lo = lo.max(&Float::with_val(PREC, -1));
    let hi = hi.min(&Float::with_val(PREC, 1));
    if lo > hi {
        return None;
    }
    let (alo, ahi) = (Float::with_val(PREC, lo.abs_ref()), Float::with_val(PREC, hi.abs_ref()));
    let x = if lo <= 0 && hi >= 0 { Float::new(PREC) } else { alo.clone().min(&ahi) };
    let big = alo.max(&ahi);
    let x2 = Float::with_val_round(PREC, x.square_ref(), Round::Down).0;
    Some((Float::with_val_round(PREC, 1 - &x2, Round::Up).0, big))
}

/// Lemma LB (`proofs/checker.md`): the layered bound over the box `wbox` for an MLP (`None` for
/// the quadratic family, whose `D^2 h` the box recursion gives exactly). Contract as
/// [`tube_bounds`]; `hidden` must enclose the hidden activations over the whole box `wbox`.
pub fn layered_bounds(net: &Net, wbox: &[Ball], hidden: &[Vec<Ball>]) -> Option<DerivativeBounds> {
    let m = match net {
        Net::Mlp(m) => m,
        Net::Quadratic { .. } => return None,
    };
    let layers = m.widths.len() - 1;
    let block = |l: usize| &wbox[m.w_off[l - 1]..m.w_off[l - 1] + m.widths[l] * m.widths[l - 1]];
    // omega[l-1] >= |W_l|_2 over the box.
    let omega: Vec<f64> = (1..=layers).map(|l| spectral_upper(block(l), m.widths[l], m.widths[l - 1])).collect();
    // cols[l-1][j] >= |W_l[:, j]|_2 over the box (only l >= 2 is used).
    let cols: Vec<Vec<f64>> = (1..=layers)
        .map(|l| {
            let (rows, ncols) = (m.widths[l], m.widths[l - 1]);
            let w = block(l);
            (0..ncols)
                .map(|j| root_sum_squares(&(0..rows).map(|r| w[r * ncols + j].abs_upper()).collect::<Vec<_>>()))
                .collect()
        })
        .collect();
    let cs: Vec<f64> = m.scales.iter().map(|c| c.abs_upper()).collect();
    let bias = if m.bias { 1.0 } else { 0.0 };
    let d = m.widths[0];
    let mut gradient = Vec::with_capacity(m.n);
    let mut hessian = Vec::with_capacity(m.n);
    for i in 0..m.n {
        // a_norm >= |a_{l-1}| over the box (a_0 = x_i).
        let mut a_norm = norm2_upper(&m.inputs[i * d..(i + 1) * d]);
        // ga >= coefficients of |a_{l-1}'| <= ga . nu (a_0' = 0).
        let mut ga = vec![0.0f64; layers];
        let mut gz_norm = Vec::with_capacity(layers); // |gz_l|, l = 1..L
        let mut ga_prev_norm = Vec::with_capacity(layers); // |ga_{l-1}|, l = 1..L
        let mut s1s = Vec::with_capacity(layers); // s1_l, l = 1..L-1
        let mut s2s: Vec<Vec<f64>> = Vec::with_capacity(layers); // s2_{l,j}, l = 1..L-1
        for l in 1..=layers {
            let f = up(cs[l - 1] * omega[l - 1]);
            let mut gz: Vec<f64> = ga.iter().map(|x| up(f * x)).collect();
            let beta = up((cs[l - 1] * cs[l - 1] * a_norm * a_norm + bias).sqrt());
            gz[l - 1] = up(gz[l - 1] + beta);
            gz_norm.push(root_sum_squares(&gz));
            ga_prev_norm.push(root_sum_squares(&ga));
            if l < layers {
                let w = m.widths[l];
                let act = m.acts[l - 1];
                let mut s1 = 0.0f64;
                let mut s2 = Vec::with_capacity(w);
                for a in &hidden[l - 1][i * w..(i + 1) * w] {
                    let (b1, b2) = local_activation_bounds(act, a);
                    s1 = max_or_inf(s1, b1);
                    s2.push(b2);
                }
                ga = gz.iter().map(|x| up(s1 * x)).collect();
                s1s.push(s1);
                s2s.push(s2);
                a_norm = norm2_upper(&hidden[l - 1][i * w..(i + 1) * w]);
            }
        }
        // pi[l] >= |P_l| = |dz_L/dz_l|: pi_L = 1, pi_l = pi_{l+1} c_{l+1} omega_{l+1} s1_l.
        let mut pi = vec![1.0f64; layers + 1];
        for l in (1..layers).rev() {
            pi[l] = up(pi[l + 1] * cs[l] * omega[l] * s1s[l - 1]);
        }
        let mut terms = Vec::with_capacity(2 * layers);
        // Curvature terms: gamma_l |gz_l|^2, gamma_l = max_j pi_{l+1} c_{l+1} |W_{l+1}[:, j]| s2_{l,j}.
        for l in 1..layers {
            let f = up(pi[l + 1] * cs[l]);
            let gamma = cols[l].iter().zip(&s2s[l - 1]).fold(0.0f64, |g, (cn, s2)| max_or_inf(g, up(f * cn * s2)));
            terms.push(up(gamma * gz_norm[l - 1] * gz_norm[l - 1]));
        }
        // Cross terms: 2 c_l pi_l sup_{|nu| = 1} nu_l (ga_{l-1} . nu) = c_l pi_l |ga_{l-1}|.
        for l in 2..=layers {
            terms.push(up(cs[l - 1] * pi[l] * ga_prev_norm[l - 1]));
        }
        let total: f64 = terms.iter().sum();
        let total = up_n(total, terms.len());
        gradient.push(if gz_norm[layers - 1].is_nan() { f64::INFINITY } else { gz_norm[layers - 1] });
        hessian.push(if total.is_nan() { f64::INFINITY } else { total });
    }
    Some(DerivativeBounds { gradient, hessian })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::check::series::hidden_activations;
    use crate::problem::Problem;

    /// A deterministic generator of values in `[-1, 1)`.
    pub(crate) struct Lcg(pub(crate) u64);
    impl Lcg {
        pub(crate) fn next(&mut self) -> f64 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (self.0 >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        }
    }

    pub(crate) fn load(text: &str) -> Problem {
        crate::spec::load_str(text, std::path::Path::new("."), "test.toml").expect("test spec loads").problem
    }

    fn load_file(rel: &str) -> Problem {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
        crate::spec::load(&path).expect("shipped spec loads").problem
    }

    /// A spec with inline pseudo-random weights (`scale` times values in [-1, 1]).
    pub(crate) fn random_spec(widths: &[usize], acts: &[&str], param: &str, bias: bool, n: usize, scale: f64, seed: u64) -> String {
        let mut rng = Lcg(seed);
        let mut p = 0;
        for l in 1..widths.len() {
            p += widths[l] * widths[l - 1] + if bias { widths[l] } else { 0 };
        }
        let vals: Vec<String> = (0..p).map(|_| format!("\"{:.6}\"", scale * rng.next())).collect();
        let inputs: Vec<String> = (0..n)
            .map(|_| format!("[{}]", (0..widths[0]).map(|_| format!("\"{:.4}\"", rng.next())).collect::<Vec<_>>().join(", ")))
            .collect();
        let out = widths[widths.len() - 1];
        let targets: Vec<String> = (0..n * out).map(|_| format!("\"{:.3}\"", 0.5 * rng.next())).collect();
        let acts: Vec<String> = acts.iter().map(|a| format!("\"{a}\"")).collect();
        format!(
            "alpha = 10\nhorizon = 1\ntolerance = \"0.1\"\ncentred = true\n[model]\nkind = \"mlp\"\nwidths = {widths:?}\n\
             activation = [{}]\nparameterization = \"{param}\"\nbias = {bias}\n[weights]\nsource = \"inline\"\nvalues = [{}]\n\
             [data]\ninputs = [{}]\ntargets = [{}]\n",
            acts.join(", "),
            vals.join(", "),
            inputs.join(", "),
            targets.join(", ")
        )
    }

    /// The box `w0 + [-delta, delta]` (componentwise) as balls, and its midpoints in f64.
    fn box_around(problem: &Problem, delta: f64) -> (Vec<Ball>, Vec<f64>) {
        let mids: Vec<f64> = problem.params0.iter().map(|x| x.mid()).collect();
        let balls = mids.iter().map(|&m| Ball { m: Float::with_val(PREC, m), r: delta }).collect();
        (balls, mids)
    }

    fn act_f64(act: Activation, x: f64) -> f64 {
        match act {
            Activation::Tanh => x.tanh(),
            Activation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Activation::Softplus => x.exp().ln_1p(),
            Activation::Erf => Float::with_val(53, x).erf().to_f64(),
            Activation::Identity => x,
            Activation::Sin => x.sin(),
            Activation::Gelu => unreachable!(),
        }
    }

    /// The outputs `h(w; x_i)` in plain f64 (layout: per layer `W_l` row-major, then `b_l`).
    fn h_f64(net: &Net, w: &[f64], i: usize) -> Vec<f64> {
        let Net::Mlp(m) = net else { unreachable!() };
        let d = m.widths[0];
        let mut a: Vec<f64> = m.inputs[i * d..(i + 1) * d].iter().map(|b| b.m.to_f64()).collect();
        let mut off = 0;
        let layers = m.widths.len() - 1;
        for l in 1..=layers {
            let (din, dout) = (m.widths[l - 1], m.widths[l]);
            let c = m.scales[l - 1].m.to_f64();
            let mut z: Vec<f64> = (0..dout).map(|o| c * (0..din).map(|j| w[off + o * din + j] * a[j]).sum::<f64>()).collect();
            off += din * dout;
            if m.bias {
                for (o, zo) in z.iter_mut().enumerate() {
                    *zo += w[off + o];
                }
                off += dout;
            }
            a = if l < layers { z.iter().map(|&x| act_f64(m.acts[l - 1], x)).collect() } else { z };
        }
        assert_eq!(off, w.len());
        a
    }

    /// Sampled lower estimates of `sup |Dh_i| ` and `sup |D^2 h_i|` (finite differences in f64,
    /// largest eigenvalues by power iteration) at a few points of the box `mids +- delta`.
    #[allow(clippy::needless_range_loop)] // symmetric fill of the finite-difference Hessian
    fn sampled(net: &Net, mids: &[f64], delta: f64, i: usize, rng: &mut Lcg) -> (f64, f64) {
        let p = mids.len();
        let t = 1e-3;
        let (mut gmax, mut hmax) = (0.0f64, 0.0f64);
        for point in 0..3 {
            let w: Vec<f64> = mids.iter().map(|&m| if point == 0 { m } else { m + delta * rng.next() }).collect();
            let at = |dw: &[(usize, f64)]| {
                let mut x = w.clone();
                for &(j, s) in dw {
                    x[j] += s;
                }
                h_f64(net, &x, i)
            };
            let out = at(&[]).len();
            // Jacobian (out x p) and Hessians (p x p per output), central differences.
            let mut jac = vec![vec![0.0; p]; out];
            let mut hess = vec![vec![vec![0.0; p]; p]; out];
            for j in 0..p {
                let (fp, fm) = (at(&[(j, t)]), at(&[(j, -t)]));
                for o in 0..out {
                    jac[o][j] = (fp[o] - fm[o]) / (2.0 * t);
                }
                for k in j..p {
                    let f = |a: f64, b: f64| at(&[(j, a), (k, b)]);
                    let (pp, pm, mp, mm) = (f(t, t), f(t, -t), f(-t, t), f(-t, -t));
                    for o in 0..out {
                        let v = (pp[o] - pm[o] - mp[o] + mm[o]) / (4.0 * t * t);
                        hess[o][j][k] = v;
                        hess[o][k][j] = v;
                    }
                }
            }
            // |Dh_i|_2: power iteration on J J^T.
            let mut u = vec![1.0; out];
            for _ in 0..200 {
                let jtu: Vec<f64> = (0..p).map(|j| (0..out).map(|o| jac[o][j] * u[o]).sum()).collect();
                let next: Vec<f64> = (0..out).map(|o| (0..p).map(|j| jac[o][j] * jtu[j]).sum()).collect();
                let nrm = next.iter().map(|x| x * x).sum::<f64>().sqrt();
                if nrm == 0.0 {
                    break;
                }
                u = next.iter().map(|x| x / nrm).collect();
            }
            let jtu: Vec<f64> = (0..p).map(|j| (0..out).map(|o| jac[o][j] * u[o]).sum()).collect();
            gmax = gmax.max(jtu.iter().map(|x| x * x).sum::<f64>().sqrt());
            // |D^2 h_i[v, v]| >= |<z, D^2 h_i[v, v]>|: largest |eigenvalue| of sum_o z_o H_o for a
            // few unit z (power iteration on the square).
            for trial in 0..4 {
                let mut z: Vec<f64> = (0..out).map(|o| if trial == 0 { if o == 0 { 1.0 } else { 0.0 } } else { rng.next() }).collect();
                let zn = z.iter().map(|x| x * x).sum::<f64>().sqrt();
                z.iter_mut().for_each(|x| *x /= zn);
                let hz: Vec<Vec<f64>> = (0..p).map(|j| (0..p).map(|k| (0..out).map(|o| z[o] * hess[o][j][k]).sum()).collect()).collect();
                let mut v: Vec<f64> = (0..p).map(|_| rng.next()).collect();
                for _ in 0..300 {
                    let hv: Vec<f64> = (0..p).map(|j| (0..p).map(|k| hz[j][k] * v[k]).sum()).collect();
                    let h2v: Vec<f64> = (0..p).map(|j| (0..p).map(|k| hz[j][k] * hv[k]).sum()).collect();
                    let nrm = h2v.iter().map(|x| x * x).sum::<f64>().sqrt();
                    if nrm == 0.0 {
                        break;
                    }
                    v = h2v.iter().map(|x| x / nrm).collect();
                }
                let hv: Vec<f64> = (0..p).map(|j| (0..p).map(|k| hz[j][k] * v[k]).sum()).collect();
                let rayleigh: f64 = v.iter().zip(&hv).map(|(a, b)| a * b).sum();
                hmax = hmax.max(rayleigh.abs());
            }
        }
        (gmax, hmax)
    }

    /// The layered bound is above the sampled `|Dh_i|`, `|D^2 h_i|` (f64 finite differences,
    /// relative margin 1e-4 plus 1e-6 for their error) on nets of every supported activation,
    /// and it returns the smaller of itself and the box recursion in `tube_bounds`.
    #[test]
    fn layered_bound_is_above_sampled_derivatives() {
        let cases = [
            random_spec(&[3, 5, 2], &["tanh"], "standard", true, 3, 0.9, 1),
            random_spec(&[2, 4, 3, 1], &["tanh", "sigmoid"], "ntk", true, 3, 1.5, 2),
            random_spec(&[3, 4, 4, 2], &["sigmoid", "tanh"], "standard", false, 2, 1.2, 3),
            random_spec(&[2, 3, 3, 2], &["softplus", "erf"], "standard", true, 2, 0.8, 4),
            random_spec(&[4, 6, 1], &["tanh"], "ntk", false, 4, 2.0, 5),
            random_spec(&[1, 1, 1], &["tanh"], "standard", false, 2, 2.0, 6),
            random_spec(&[2, 3, 2], &["identity"], "standard", true, 2, 1.0, 7),
        ];
        let mut rng = Lcg(99);
        let mut tightest = 0.0f64;
        for (c, text) in cases.iter().enumerate() {
            let problem = load(text);
            let net = Net::new(&problem).unwrap();
            for delta in [0.0, 0.02] {
                let (wbox, mids) = box_around(&problem, delta);
                let hidden = hidden_activations(&net, &wbox);
                let lay = layered_bounds(&net, &wbox, &hidden).unwrap();
                let both = tube_bounds(&net, &wbox, &hidden);
                let rec = derivative_bounds(&net, &wbox, &hidden);
                for i in 0..problem.inputs.len() {
                    let (g, h) = sampled(&net, &mids, delta, i, &mut rng);
                    assert!(lay.gradient[i] * (1.0 + 1e-4) + 1e-6 >= g, "case {c} delta {delta} input {i}: |Dh| bound {} < sampled {g}", lay.gradient[i]);
                    assert!(lay.hessian[i] * (1.0 + 1e-4) + 1e-6 >= h, "case {c} delta {delta} input {i}: |D^2 h| bound {} < sampled {h}", lay.hessian[i]);
                    assert_eq!(both.hessian[i], lay.hessian[i].min(rec.hessian[i]));
                    assert_eq!(both.gradient[i], lay.gradient[i].min(rec.gradient[i]));
                    if h > 1e-3 {
                        tightest = tightest.max(h / lay.hessian[i]);
                    }
                }
            }
        }
        eprintln!("tightest sampled/bound = {tightest}");
        // The sampling is not vacuous: on some net the bound is within a factor 2 of a sample.
        assert!(tightest > 0.5, "sampled / bound at most {tightest}");
    }

    /// On the shipped nets the layered bound is at most the box recursion (it is the sharper
    /// one), strictly below it on the wide ones.
    #[test]
    fn layered_bound_is_below_box_recursion_on_typical_nets() {
        for (rel, delta, strict) in [
            ("specs/bench/gf-mlp-small.toml", 1e-6, true),
            ("specs/bench/gf-mlp-capd-edge.toml", 1e-6, true),
            ("specs/bench/gf-mlp-mid.toml", 1e-6, true),
            ("specs/examples/mlp-inline.toml", 1e-6, false),
        ] {
            let problem = load_file(rel);
            let net = Net::new(&problem).unwrap();
            let (wbox, _) = box_around(&problem, delta);
            let hidden = hidden_activations(&net, &wbox);
            let lay = layered_bounds(&net, &wbox, &hidden).unwrap();
            let rec = derivative_bounds(&net, &wbox, &hidden);
            for i in 0..problem.inputs.len() {
                assert!(lay.hessian[i] <= rec.hessian[i], "{rel} input {i}: layered {} > box {}", lay.hessian[i], rec.hessian[i]);
                assert!(lay.gradient[i] <= rec.gradient[i] * (1.0 + 1e-12), "{rel} input {i}: gradient");
            }
            let (l, r) = (lay.hessian_total(), rec.hessian_total());
            if strict {
                assert!(l < 0.8 * r, "{rel}: layered {l} not clearly below box {r}");
            }
        }
    }

    /// Lemma LS: above the spectral norm (power iteration on a corner matrix), below the
    /// Frobenius norm, and close on a known matrix.
    #[test]
    fn spectral_bound_is_above_and_close() {
        // [[3, 0], [4, 5]]: |W|_2 = sqrt(45).
        let w: Vec<Ball> = [3.0, 0.0, 4.0, 5.0].iter().map(|&x| Ball::exact(x)).collect();
        let b = spectral_upper(&w, 2, 2);
        assert!(b >= 45f64.sqrt() && b < 45f64.sqrt() * 1.03, "{b}");
        // The same scaled by 2^-30 (negative scaling exponent) and by 2^40.
        for sc in [-30, 40] {
            let w: Vec<Ball> = [3.0, 0.0, 4.0, 5.0].iter().map(|&x| Ball::exact(x * 2f64.powi(sc))).collect();
            let b = spectral_upper(&w, 2, 2);
            let exact = 45f64.sqrt() * 2f64.powi(sc);
            assert!(b >= exact && b < exact * 1.03, "scale 2^{sc}: {b} against {exact}");
        }
        let mut rng = Lcg(7);
        for (rows, cols) in [(8, 3), (3, 8), (20, 20), (1, 50), (70, 70)] {
            let w: Vec<Ball> = (0..rows * cols).map(|_| Ball { m: Float::with_val(PREC, rng.next()), r: 1e-3 }).collect();
            let b = spectral_upper(&w, rows, cols);
            assert!(b <= norm2_upper(&w));
            // A corner matrix (midpoint + radius with the sign of the midpoint) and its norm.
            let corner: Vec<f64> = w.iter().map(|x| { let m = x.m.to_f64(); m + x.r.copysign(m) }).collect();
            let mut v = vec![1.0; cols];
            let mut s = 0.0;
            for _ in 0..500 {
                let wv: Vec<f64> = (0..rows).map(|r| (0..cols).map(|c| corner[r * cols + c] * v[c]).sum()).collect();
                let wtwv: Vec<f64> = (0..cols).map(|c| (0..rows).map(|r| corner[r * cols + c] * wv[r]).sum()).collect();
                let n = wtwv.iter().map(|x| x * x).sum::<f64>().sqrt();
                s = wv.iter().map(|x| x * x).sum::<f64>().sqrt();
                v = wtwv.iter().map(|x| x / n).collect();
            }
            assert!(b >= s * (1.0 - 1e-12), "{rows}x{cols}: {b} < {s}");
            if rows.min(cols) <= MAX_GRAM_SIDE {
                assert!(b <= s * 1.1, "{rows}x{cols}: {b} far above {s}");
            }
        }
    }

    /// Lemma LA: the local bounds hold at sampled pre-activations of a range.
    #[test]
    fn local_activation_bounds_hold() {
        let d1 = |act: Activation, z: f64| (act_f64(act, z + 1e-6) - act_f64(act, z - 1e-6)) / 2e-6;
        let d2 = |act: Activation, z: f64| (act_f64(act, z + 1e-4) - 2.0 * act_f64(act, z) + act_f64(act, z - 1e-4)) / 1e-8;
        for act in [Activation::Tanh, Activation::Sigmoid, Activation::Softplus, Activation::Erf, Activation::Identity, Activation::Sin] {
            for (lo, hi) in [(-0.1, 0.2), (0.5, 0.7), (-3.0, -1.0), (1.2, 1.3), (-0.7, -0.5), (2.0, 6.0)] {
                // The activation's range over [lo, hi] (sin is not monotone there: sampled hull).
                let values: Vec<f64> = (0..=1000).map(|k| act_f64(act, lo + (hi - lo) * k as f64 / 1000.0)).collect();
                let (vlo, vhi) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
                let a = Ball::from_interval(vlo - 1e-9, vhi + 1e-9);
                let (s1, s2) = local_activation_bounds(act, &a);
                let (g1, g2) = activation_bounds(act);
                assert!(s1 <= g1 && s2 <= g2);
                for k in 0..=50 {
                    let z = lo + (hi - lo) * k as f64 / 50.0;
                    assert!(d1(act, z).abs() <= s1 * (1.0 + 1e-6) + 1e-9, "{act:?} z {z}: sigma' {} > {s1}", d1(act, z));
                    assert!(d2(act, z).abs() <= s2 * (1.0 + 1e-4) + 1e-6, "{act:?} z {z}: sigma'' {} > {s2}", d2(act, z));
                }
                if (act == Activation::Tanh && lo > 1.0) || (act == Activation::Sin && (lo, hi) == (1.2, 1.3)) {
                    assert!(s1 < 0.5 * g1, "{act:?} on [{lo}, {hi}]: {s1} not local");
                }
                if act == Activation::Sin && (lo, hi) == (-0.1, 0.2) {
                    assert!(s2 < 0.25 * g2, "sin on [{lo}, {hi}]: {s2} not local");
                }
            }
        }
    }
}
