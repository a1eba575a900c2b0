//! The checker's own residual-weighted Hessian bound: an upper bound `H` of
//! `sup |sum_i r_i^T D^2 h_i(w)[v, v]|` over unit `v`, every `w` of a parameter box and every
//! residual `r` of an enclosure, so that `mu = H / alpha` bounds `lambda_max(DF)` over the box
//! (Lemma S2 of `proofs/checker.md`). The mathematics is `proofs/residual-hessian.md` (Lemmas
//! R1-R3 and S); the arithmetic is the checker's (MPFR balls of [`super::ball`], f64 upper
//! bounds inflated by [`up`]/[`up_n`]). It shares no code with `crate::model` or
//! `crate::arith`: plain f64 appears only in the untrusted guesses of Lemma S (the shift `theta`,
//! the Cholesky factor `R`) and of the Collatz-Wielandt vector `u`, each of which may be
//! anything without affecting validity.
//!
//! - [`residual_hessian_upper`]: the bound `H` (Lemma R3 "over a region").
//! - [`spectral_norm_upper`], [`lambda_max_upper`]: Lemma S for interval matrices.
//!
//! Proof of the code: `proofs/checker.md`, section "The residual-weighted bound
//! (`curvature.rs`)", with the lemmas of `proofs/residual-hessian.md`.

use super::ball::{norm2_upper, pack, up, up_n, with_dot, Ball, Fixed, PREC};
use super::layered::local_activation_bounds;
use super::series::{Mlp, Net};
use crate::problem::Activation;
use rayon::prelude::*;
use rug::Float;

/// Largest smaller side `k` of a matrix for which [`spectral_norm_upper`] forms the `k x k`
/// Gram matrix (cost `O(rows cols k + k^3)` ball operations); larger matrices get the
/// Frobenius norm (a valid, looser bound).
pub const MAX_GRAM_SIDE: usize = 512;

/// How often [`lambda_max_upper`] enlarges `theta` (by 10%) after a failed Cholesky
/// factorisation before it falls back to the Frobenius norm.
const CHOLESKY_TRIES: usize = 20;

/// Iterations of the floating-point power iterations (guesses only).
const POWER_STEPS: usize = 300;

/// `max(a, b)` that turns a NaN into `+inf` (an undefined bound is never dropped).
fn max_or_inf(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::INFINITY
    } else {
        a.max(b)
    }
}

/// Lemma R3 of `proofs/residual-hessian.md`, over a region: an upper bound `H` of
/// `|sum_i r_i^T D^2 h_i(w)[v, v]| / |v|^2` for every direction `v != 0`, every `w` in the
/// parameter box `wbox`, every residual `r` in the ball vector `residual` (`n * o` entries,
/// input-major: `r_i = residual[i*o..(i+1)*o]`, as `Expansion::residual0`) and every input `x_i`
/// in the net's input balls.
///
/// `hidden[l-1]` must hold balls containing the activations `a_{l,i}(w)` of hidden layer `l`
/// (`n x width_l`, input-major) for every `w` in `wbox` (as `Expansion::hidden0` or
/// `series::hidden_activations`, the same argument as `layered::tube_bounds`).
///
/// Computed as in the proof: an interval backward pass for `mu_{l,i}` and `lambda_{l,i}`
/// (enclosures of `sigma_l'` from the activation balls), `k_{l,i} >= max_k |kappa_{l,i,k}|` from
/// the local bound of `|sigma_l''|` ([`local_activation_bounds`]), `s1_l`, the spectral norms
/// `nu_l >= |Lambda_l|_2`, `Omega_l >= |W_l|_2`, `gamma_{l-1}(omega) >=
/// |Atilde_{l-1} diag(sqrt omega)|_2` ([`spectral_norm_upper`]), the `L x L` matrix `M` and its
/// Collatz-Wielandt bound; every quantity rounded up. Returns `0` when `M = 0` (e.g. one layer),
/// `+inf` for the quadratic family (no bound; the caller keeps its other bound), for mismatched
/// sizes, and whenever a quantity is not finite.
pub fn residual_hessian_upper(net: &Net, wbox: &[Ball], hidden: &[Vec<Ball>], residual: &[Ball]) -> f64 {
    let m = match net {
        Net::Mlp(m) => m,
        Net::Quadratic { .. } => return f64::INFINITY,
    };
    let layers = m.widths.len() - 1;
    let ok = wbox.len() == m.p
        && residual.len() == m.n * m.widths[layers]
        && hidden.len() >= layers - 1
        && (1..layers).all(|l| hidden[l - 1].len() == m.n * m.widths[l]);
    if !ok {
        return f64::INFINITY;
    }
    let h = mlp_bound(m, wbox, hidden, residual);
    if h.is_nan() {
        f64::INFINITY
    } else {
        h
    }
}

/// The ball block `W_l` (row-major, `widths[l] x widths[l-1]`) of the box.
fn block<'a>(m: &Mlp, wbox: &'a [Ball], l: usize) -> &'a [Ball] {
    let off = m.w_off[l - 1];
    &wbox[off..off + m.widths[l] * m.widths[l - 1]]
}

/// The result of the interval backward pass for hidden layer `l`.
struct Backward {
    /// `lambda_{l,i}` balls, `n x width_l`, input-major.
    lambda: Vec<Ball>,
    /// `k_{l,i} >= max_k |kappa_{l,i,k}|`, per input.
    kappa: Vec<f64>,
    /// `s1_l >= sup |sigma_l'(z_{l,i,k})|` over inputs and units.
    s1: f64,
}

/// A ball containing every real number of `b` that also lies in `[lo, hi]` (the interval
/// `[b.lo(), b.hi()] cap [lo, hi]`, enclosed by `interval_to_ball`); the ball of `[lo, hi]`
/// when `b` is not finite. Valid whenever the real number in question lies in both.
fn clamp(b: Ball, lo: f64, hi: f64) -> Ball {
    let (flo, fhi) = (Float::with_val(PREC, lo), Float::with_val(PREC, hi));
    if !b.m.is_finite() || !b.r.is_finite() {
        return super::ball::interval_to_ball(&flo, &fhi);
    }
    let (blo, bhi) = (b.lo(), b.hi());
    if blo >= flo && bhi <= fhi {
        return b;
    }
    let a = blo.max(&flo);
    let c = bhi.min(&fhi);
    if a > c {
        // Cannot happen when the real number lies in both; stay valid anyway.
        return super::ball::interval_to_ball(&flo, &fhi);
    }
    super::ball::interval_to_ball(&a, &c)
}

/// An enclosure of `sigma'(z)` for every pre-activation `z` with `sigma(z)` in the ball `a`,
/// given `s1 >= |sigma'(z)|` there (`proofs/residual-hessian.md`, "Over a region"): tanh
/// `1 - a^2`, sigmoid `a (1 - a)` (both intersected with `[0, s1]`, which contains them),
/// identity `1`, the others `[-s1, s1]`.
fn slope_enclosure(act: Activation, a: &Ball, s1: f64) -> Ball {
    let one = Ball::exact(1.0);
    match act {
        Activation::Identity => one,
        Activation::Tanh => clamp(one.sub(&a.sqr()), 0.0, s1),
        Activation::Sigmoid => clamp(a.mul(&one.sub(a)), 0.0, s1),
        Activation::Softplus | Activation::Erf | Activation::Sin | Activation::Gelu => Ball { m: Float::with_val(PREC, 0), r: s1 },
    }
}

/// One step of the interval backward pass (notation of `proofs/residual-hessian.md`): from
/// balls `lam_next` of `lambda_{l+1,i}` (`n x width_{l+1}`), the balls of
/// `mu_{l,i} = c_{l+1} W_{l+1}^T lambda_{l+1,i}` over the box's `W_{l+1}`, then
/// `lambda_{l,i} = sigma_l' . mu_{l,i}`, `k_{l,i} = max_k s2_{l,i,k} sup|mu_{l,i,k}|` and `s1_l`,
/// with `(s1, s2)` per unit from [`local_activation_bounds`] on the activation ball.
fn backward_layer(m: &Mlp, wbox: &[Ball], hidden: &[Vec<Ball>], lam_next: &[Ball], l: usize) -> Backward {
    let (w, wn) = (m.widths[l], m.widths[l + 1]);
    let wf = pack(block(m, wbox, l + 1)); // wn x w
    let c = &m.scales[l]; // c_{l+1}
    let act = m.acts[l - 1];
    let per_input: Vec<(Vec<Ball>, f64, f64)> = (0..m.n)
        .into_par_iter()
        .map(|i| {
            let lf = pack(&lam_next[i * wn..(i + 1) * wn]);
            let mut mu = vec![Ball::zero(); w];
            with_dot(|d| {
                for (k, out) in mu.iter_mut().enumerate() {
                    d.begin_zero();
                    for (r, lr) in lf.iter().enumerate() {
                        d.add_fixed(&wf[r * w + k], lr);
                    }
                    d.finish(out);
                }
            });
            let mut lambda = Vec::with_capacity(w);
            let (mut kap, mut s1) = (0.0f64, 0.0f64);
            for (k, muk) in mu.iter_mut().enumerate() {
                muk.mul_assign(c);
                let a = &hidden[l - 1][i * w + k];
                let (b1, b2) = local_activation_bounds(act, a);
                s1 = max_or_inf(s1, b1);
                kap = max_or_inf(kap, up(b2 * muk.abs_upper()));
                lambda.push(slope_enclosure(act, a, b1).mul(muk));
            }
            (lambda, kap, s1)
        })
        .collect();
    let mut lambda = Vec::with_capacity(m.n * w);
    let mut kappa = Vec::with_capacity(m.n);
    let mut s1 = 0.0f64;
    for (lam, k, s) in per_input {
        lambda.extend(lam);
        kappa.push(k);
        s1 = max_or_inf(s1, s);
    }
    Backward { lambda, kappa, s1 }
}

/// `Atilde_{l-1}` transposed: `n x (width_{l-1} + bias)` balls, row `i` = `(c_l a_{l-1,i}; 1)`
/// (`a_0 = x_i` from the net's input balls, else `hidden[l-2]`; the `1` only with biases).
fn atilde(m: &Mlp, hidden: &[Vec<Ball>], l: usize) -> (Vec<Ball>, usize) {
    let w = m.widths[l - 1];
    let cols = w + usize::from(m.bias);
    let src: &[Ball] = if l == 1 { &m.inputs } else { &hidden[l - 2] };
    let c = &m.scales[l - 1];
    let mut out = Vec::with_capacity(m.n * cols);
    for i in 0..m.n {
        out.extend(src[i * w..(i + 1) * w].iter().map(|a| c.mul(a)));
        if m.bias {
            out.push(Ball::exact(1.0));
        }
    }
    (out, cols)
}

/// `gamma_{l-1}(omega) >= |Atilde_{l-1} diag(sqrt omega)|_2` for the weights `omega` (`None`:
/// all 1), from `at` = `Atilde_{l-1}^T` (`n x cols`). Each `sqrt(omega_i)` is replaced by an
/// f64 upper bound `t_i` (f64 `sqrt`, then [`up`]); since
/// `A diag(t)^2 A^T = sum_i t_i^2 a_i a_i^T` is Loewner-nondecreasing in every `t_i^2`, the
/// norm for `t` bounds the norm for `sqrt(omega)`.
fn gamma(at: &[Ball], n: usize, cols: usize, omega: Option<&[f64]>) -> f64 {
    let Some(om) = omega else {
        return spectral_norm_upper(at, n, cols);
    };
    if om.iter().any(|x| x.is_nan() || *x == f64::INFINITY) {
        return f64::INFINITY;
    }
    if om.iter().all(|x| *x <= 0.0) {
        return 0.0;
    }
    let mut scaled = Vec::with_capacity(at.len());
    for (i, &o) in om.iter().enumerate() {
        let t = Ball::exact(if o > 0.0 { up(o.sqrt()) } else { 0.0 });
        scaled.extend(at[i * cols..(i + 1) * cols].iter().map(|a| a.mul(&t)));
    }
    spectral_norm_upper(&scaled, n, cols)
}

/// Lemma R2: the rows `zeta^omega_{l}` for `l = 1..=upto` (each of length `L`, zero beyond
/// `l`) from `gam[m-1] >= gamma_{m-1}(omega)` (`m = 1..=upto`) and
/// `prop[l-1] >= c_l Omega_l s1_{l-1}` (`l >= 2`): `zeta_{l,l} = gamma_{l-1}`,
/// `zeta_{l,m} = prop_l zeta_{l-1,m}` (`m < l`), every product rounded up.
fn zeta_rows(gam: &[f64], prop: &[f64], layers: usize, upto: usize) -> Vec<Vec<f64>> {
    let mut rows: Vec<Vec<f64>> = Vec::with_capacity(upto);
    for l in 1..=upto {
        let mut z = vec![0.0f64; layers];
        if l >= 2 {
            for (mi, zm) in z.iter_mut().enumerate().take(l - 1) {
                *zm = up(prop[l - 1] * rows[l - 2][mi]);
            }
        }
        z[l - 1] = gam[l - 1];
        rows.push(z);
    }
    rows
}

/// The bound for an MLP (contract of [`residual_hessian_upper`]; may return NaN, which the
/// caller turns into `+inf`).
fn mlp_bound(m: &Mlp, wbox: &[Ball], hidden: &[Vec<Ball>], residual: &[Ball]) -> f64 {
    let layers = m.widths.len() - 1;
    if layers < 2 {
        return 0.0; // h is affine in w: D^2 h = 0 (R1 has no terms)
    }
    let n = m.n;
    let cs: Vec<f64> = m.scales.iter().map(Ball::abs_upper).collect();

    // Interval backward pass: lambda_L = r, then layers L-1 .. 1.
    // back[l-1] for hidden layer l.
    let mut back: Vec<Backward> = Vec::with_capacity(layers - 1);
    for l in (1..layers).rev() {
        let next: &[Ball] = if l + 1 == layers { residual } else { &back.last().expect("layer l+1 done").lambda };
        let b = backward_layer(m, wbox, hidden, next, l);
        back.push(b);
    }
    back.reverse();
    let s1: Vec<f64> = back.iter().map(|b| b.s1).collect(); // s1[l-1] = s1_l, l < L

    // nu_l >= |Lambda_l|_2 (l = 2..L; Lambda_l^T is the n x width_l input-major array) and
    // prop_l >= c_l Omega_l s1_{l-1}.
    let mut nu = vec![0.0f64; layers + 1];
    let mut prop = vec![0.0f64; layers];
    for l in 2..=layers {
        let lam: &[Ball] = if l == layers { residual } else { &back[l - 1].lambda };
        nu[l] = spectral_norm_upper(lam, n, m.widths[l]);
        let omega = spectral_norm_upper(block(m, wbox, l), m.widths[l], m.widths[l - 1]);
        prop[l - 1] = up(cs[l - 1] * omega * s1[l - 2]);
    }

    // Atilde_{l-1}^T for l = 1..L-1, the unweighted gamma_{l-1}(1) and zeta^1_l (l <= L-1).
    let at: Vec<(Vec<Ball>, usize)> = (1..layers).map(|l| atilde(m, hidden, l)).collect();
    let gam1: Vec<f64> = at.iter().map(|(a, cols)| gamma(a, n, *cols, None)).collect();
    let zeta1 = zeta_rows(&gam1, &prop, layers, layers - 1);

    // M (L x L, row-major, index l-1), every sum of non-negative upper bounds rounded up.
    let mut mm = vec![0.0f64; layers * layers];
    let mut add = |a: usize, b: usize, x: f64| {
        mm[a * layers + b] = up(mm[a * layers + b] + x);
    };
    // Cross terms: c_l nu_l s1_{l-1} (e_l zeta^1_{l-1}^T + zeta^1_{l-1} e_l^T), l = 2..L.
    for l in 2..=layers {
        let t = up(cs[l - 1] * nu[l] * s1[l - 2]);
        for (mi, z) in zeta1[l - 2].iter().enumerate().take(l - 1) {
            let x = up(t * z);
            add(l - 1, mi, x);
            add(mi, l - 1, x);
        }
    }
    // Curvature terms: zeta^{kappa_l}_l zeta^{kappa_l T}_l, l = 1..L-1.
    for l in 1..layers {
        let kap = &back[l - 1].kappa;
        let gk: Vec<f64> = (1..=l).map(|j| gamma(&at[j - 1].0, n, at[j - 1].1, Some(kap))).collect();
        let z = zeta_rows(&gk, &prop, layers, l).pop().expect("l >= 1 rows");
        for a in 0..layers {
            for b in 0..layers {
                if z[a] != 0.0 && z[b] != 0.0 {
                    add(a, b, up(z[a] * z[b]));
                }
            }
        }
    }
    perron_upper(&mm, layers)
}

/// Collatz-Wielandt (Lemma R3): for a non-negative `k x k` matrix `mm` (row-major) and any
/// `u > 0`, `rho(mm) <= max_j (mm u)_j / u_j`; returned rounded up. `u` is a guess: an f64
/// power iteration on `mm + s I` (`s` half the largest row sum, so that the Perron root
/// dominates), floored at `2^-30 max u` so that it is positive. `0` for the zero matrix, `+inf`
/// if an entry is not finite.
fn perron_upper(mm: &[f64], k: usize) -> f64 {
    if mm.iter().any(|x| !x.is_finite() || *x < 0.0) {
        return f64::INFINITY;
    }
    if mm.iter().all(|x| *x == 0.0) {
        return 0.0;
    }
    let shift = 0.5 * (0..k).map(|a| mm[a * k..(a + 1) * k].iter().sum::<f64>()).fold(0.0, f64::max);
    let mut u = vec![1.0f64; k];
    for _ in 0..10 * POWER_STEPS {
        let next: Vec<f64> = (0..k).map(|a| shift * u[a] + (0..k).map(|b| mm[a * k + b] * u[b]).sum::<f64>()).collect();
        let top = next.iter().fold(0.0f64, |x, y| x.max(*y));
        if !(top > 0.0 && top.is_finite()) {
            break;
        }
        u = next.iter().map(|x| x / top).collect();
    }
    let top = u.iter().fold(0.0f64, |x, y| x.max(*y));
    let floor = if top > 0.0 && top.is_finite() { top * 2f64.powi(-30) } else { 1.0 };
    let u: Vec<f64> = u.iter().map(|x| if x.is_finite() { x.max(floor) } else { 1.0 }).collect();
    let mut t = 0.0f64;
    for a in 0..k {
        // (mm u)_a: k non-negative products, rounded up; the quotient one more rounding.
        let s: f64 = (0..k).map(|b| mm[a * k + b] * u[b]).sum();
        t = max_or_inf(t, up(up_n(s, k) / u[a]));
    }
    t
}

/// The upper triangle (`a <= b`) of a `k x k` symmetric ball matrix, row by row.
struct Sym {
    k: usize,
    rows: Vec<Vec<Ball>>, // rows[a][b - a]
}

impl Sym {
    fn get(&self, a: usize, b: usize) -> &Ball {
        let (a, b) = if a <= b { (a, b) } else { (b, a) };
        &self.rows[a][b - a]
    }

    /// `|G|_F >= |G|_2 >= lambda_max(G)` for every real symmetric `G` in the balls.
    fn frobenius_upper(&self) -> f64 {
        let mut s = 0.0f64;
        for row in &self.rows {
            for (j, x) in row.iter().enumerate() {
                let v = x.abs_upper();
                s += if j == 0 { v * v } else { 2.0 * v * v };
            }
        }
        up(up_n(s, self.k * self.k).sqrt())
    }
}

/// Lemma S(b): an upper bound of `|A|_2` for every real matrix `A` in the ball matrix `a`
/// (`rows x cols`, row-major). The minimum of the Frobenius bound `norm2_upper(a)` and, when
/// `k = min(rows, cols) <= MAX_GRAM_SIDE`, `sqrt(lambda_max_upper(G))` for the ball Gram matrix
/// `G = A A^T` (`rows <= cols`) or `A^T A` (each entry one exact [`super::ball::Dot`]), rounded
/// up. Proof: `proofs/residual-hessian.md`, Lemma S; `proofs/checker.md`, "The residual-weighted
/// bound".
pub fn spectral_norm_upper(a: &[Ball], rows: usize, cols: usize) -> f64 {
    debug_assert_eq!(a.len(), rows * cols);
    let frob = norm2_upper(a);
    let k = rows.min(cols);
    if k == 0 || k > MAX_GRAM_SIDE || !frob.is_finite() || frob == 0.0 {
        return frob;
    }
    // The k short rows s_a (length max(rows, cols)) with G_ab = s_a . s_b.
    let short: Vec<Vec<Fixed>> = if rows <= cols {
        (0..rows).map(|r| pack(&a[r * cols..(r + 1) * cols])).collect()
    } else {
        (0..cols).map(|c| (0..rows).map(|r| Fixed::of(&a[r * cols + c])).collect()).collect()
    };
    let g_rows: Vec<Vec<Ball>> = (0..k)
        .into_par_iter()
        .map(|x| {
            (x..k)
                .map(|y| {
                    let mut acc = Ball::zero();
                    with_dot(|d| {
                        d.begin_zero();
                        for (p, q) in short[x].iter().zip(&short[y]) {
                            d.add_fixed(p, q);
                        }
                        d.finish(&mut acc);
                    });
                    acc
                })
                .collect()
        })
        .collect();
    let lam = lambda_max_sym(&Sym { k, rows: g_rows });
    if !(lam.is_finite() && lam >= 0.0) {
        return frob;
    }
    up(lam.sqrt()).min(frob)
}

/// Lemma S(a): an upper bound of `lambda_max(G)` for every real symmetric `k x k` matrix `G`
/// whose entries `G_ab = G_ba` lie in the balls `g[a*k + b]` for `a <= b` (row-major; only the
/// upper triangle is read). `theta + |E|_F` rounded up, `E = theta I - G - R^T R` enclosed in
/// ball arithmetic, with `theta` and `R` floating-point guesses (`theta` a power-iteration
/// estimate of `lambda_max(mid G)` enlarged by `1/256`, `R` the f64 Cholesky factor of
/// `theta I - mid G`, `theta` enlarged by 10% up to [`CHOLESKY_TRIES`] times when it breaks
/// down), or the Frobenius bound of `G` when no factorisation succeeds; the minimum of the
/// two. Proof: `proofs/residual-hessian.md`, Lemma S.
pub fn lambda_max_upper(g: &[Ball], k: usize) -> f64 {
    debug_assert_eq!(g.len(), k * k);
    let rows = (0..k).map(|a| g[a * k + a..(a + 1) * k].to_vec()).collect();
    lambda_max_sym(&Sym { k, rows })
}

/// [`lambda_max_upper`] on the upper triangle.
fn lambda_max_sym(g: &Sym) -> f64 {
    let k = g.k;
    let frob = g.frobenius_upper();
    if k == 0 {
        return 0.0;
    }
    let mid: Vec<f64> = (0..k * k).map(|i| g.get(i / k, i % k).m.to_f64()).collect();
    if mid.iter().any(|x| !x.is_finite()) || (0..k).any(|a| !g.rows[a].iter().all(|x| x.r.is_finite())) {
        return frob;
    }
    let scale = mid.iter().fold(0.0f64, |x, y| x.max(y.abs()));
    let Some(est) = top_eigenvalue_guess(&mid, k) else {
        return frob;
    };
    // theta > lambda_max(mid G) is needed for the factorisation; the margin is a guess.
    let tiny = f64::MIN_POSITIVE;
    let mut theta = est + (est.abs().max(scale * 2f64.powi(-30)) / 256.0) + tiny;
    for _ in 0..=CHOLESKY_TRIES {
        if let Some(r) = cholesky(&mid, k, theta) {
            let bound = shifted_residual_bound(g, theta, &r);
            if bound.is_finite() {
                return bound.min(frob);
            }
            return frob;
        }
        theta += 0.1 * theta.abs().max(scale) + tiny;
    }
    frob
}

/// A floating-point estimate of `lambda_max` of the symmetric `k x k` matrix `mid` (a guess):
/// the Rayleigh quotient after a power iteration; if that finds a negative dominant eigenvalue
/// `d`, a second power iteration on `mid - d I` (whose dominant eigenvalue is
/// `lambda_max - d`). `None` if the arithmetic overflows.
fn top_eigenvalue_guess(mid: &[f64], k: usize) -> Option<f64> {
    let power = |shift: f64| -> Option<f64> {
        let mut v: Vec<f64> = (0..k).map(|j| 1.0 + 0.01 * ((j as f64) * 0.7).sin()).collect();
        let mut rq = 0.0;
        for it in 0..POWER_STEPS {
            let w: Vec<f64> = (0..k).map(|a| (0..k).map(|b| mid[a * k + b] * v[b]).sum::<f64>() - shift * v[a]).collect();
            let vv: f64 = v.iter().map(|x| x * x).sum();
            let new_rq = v.iter().zip(&w).map(|(x, y)| x * y).sum::<f64>() / vv;
            let nrm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
            if !nrm.is_finite() || !new_rq.is_finite() {
                return None;
            }
            if nrm == 0.0 {
                return Some(new_rq + shift);
            }
            let done = it > 20 && (new_rq - rq).abs() <= 1e-14 * new_rq.abs();
            rq = new_rq;
            v = w.iter().map(|x| x / nrm).collect();
            if done {
                break;
            }
        }
        Some(rq + shift)
    };
    let d = power(0.0)?;
    if d >= 0.0 {
        Some(d)
    } else {
        power(d)
    }
}

/// The f64 Cholesky factor `R` (upper triangular, row-major, `R^T R ~ theta I - mid`) or `None`
/// when a pivot is not positive (a guess: its errors are caught by `E`).
fn cholesky(mid: &[f64], k: usize, theta: f64) -> Option<Vec<f64>> {
    let mut r = vec![0.0f64; k * k];
    for j in 0..k {
        let mut d = theta - mid[j * k + j];
        for i in 0..j {
            d -= r[i * k + j] * r[i * k + j];
        }
        if !(d > 0.0 && d.is_finite()) {
            return None;
        }
        let rjj = d.sqrt();
        r[j * k + j] = rjj;
        for c in j + 1..k {
            let mut s = -mid[j * k + c];
            for i in 0..j {
                s -= r[i * k + j] * r[i * k + c];
            }
            r[j * k + c] = s / rjj;
        }
    }
    Some(r)
}

/// `theta + |E|_F` rounded up, `E = theta I - G - R^T R` enclosed entrywise for `a <= b` by one
/// exact [`super::ball::Dot`] each (`-G_ab + theta [a = b] - sum_{j <= a} R_ja R_jb`, `R`
/// upper triangular) and mirrored (the true `E` is symmetric); `|E|_F` counts each
/// off-diagonal entry twice.
fn shifted_residual_bound(g: &Sym, theta: f64, r: &[f64]) -> f64 {
    let k = g.k;
    let rf: Vec<Fixed> = r.iter().map(|&x| Fixed::of(&Ball::exact(x))).collect();
    let neg_rf: Vec<Fixed> = r.iter().map(|&x| Fixed::of(&Ball::exact(-x))).collect();
    let th = Fixed::of(&Ball::exact(theta));
    let one = Fixed::of(&Ball::exact(1.0));
    let sums: Vec<f64> = (0..k)
        .into_par_iter()
        .map(|a| {
            let mut s = 0.0f64;
            let mut e = Ball::zero();
            for b in a..k {
                let start = g.get(a, b).neg();
                with_dot(|d| {
                    d.begin(&start);
                    if a == b {
                        d.add_fixed(&th, &one);
                    }
                    for j in 0..=a {
                        d.add_fixed(&neg_rf[j * k + a], &rf[j * k + b]);
                    }
                    d.finish(&mut e);
                });
                let v = e.abs_upper();
                s += if a == b { v * v } else { 2.0 * v * v };
            }
            s
        })
        .collect();
    let total: f64 = sums.iter().sum();
    let e_frob = up(up_n(total, k * k).sqrt());
    up(theta + e_frob)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::layered::tube_bounds;
    use crate::check::series::hidden_activations;
    use crate::problem::{Architecture, Parameterization, Problem};

    /// Precision of the independent reference computations.
    const REF: u32 = 256;

    // The test specs of the layered bound's tests (same generator, same format).
    use crate::check::layered::tests::{load, random_spec, Lcg};

    /// An independent high-precision model of the net: `f(w) = sum_i r_i^T h_i(w)` in 256-bit
    /// MPFR, from the problem's architecture (exact `1/sqrt(fan_in)`) and the input midpoints.
    struct Reference {
        widths: Vec<usize>,
        acts: Vec<Activation>,
        bias: bool,
        scales: Vec<Float>,
        inputs: Vec<Vec<Float>>,
    }

    impl Reference {
        fn new(problem: &Problem, net: &Net) -> Reference {
            let Architecture::Mlp(a) = &problem.architecture else { unreachable!() };
            let Net::Mlp(m) = net else { unreachable!() };
            let scales = (1..a.widths.len())
                .map(|l| match a.parameterization {
                    Parameterization::Standard => Float::with_val(REF, 1),
                    Parameterization::Ntk => Float::with_val(REF, a.widths[l - 1]).recip_sqrt(),
                })
                .collect();
            let d = a.widths[0];
            let inputs = (0..m.n).map(|i| (0..d).map(|k| Float::with_val(REF, &m.inputs[i * d + k].m)).collect()).collect();
            Reference { widths: a.widths.clone(), acts: a.activations.clone(), bias: a.bias, scales, inputs }
        }

        fn act(act: Activation, x: Float) -> Float {
            match act {
                Activation::Tanh => x.tanh(),
                Activation::Sigmoid => (Float::with_val(REF, 1) + (-x).exp()).recip(),
                Activation::Sin => x.sin(),
                Activation::Identity => x,
                _ => unimplemented!("not used in these tests"),
            }
        }

        /// `sum_i r_i^T h_i(w)`.
        fn f(&self, w: &[Float], r: &[f64]) -> Float {
            let layers = self.widths.len() - 1;
            let o = self.widths[layers];
            let mut total = Float::with_val(REF, 0);
            for (i, x) in self.inputs.iter().enumerate() {
                let mut a = x.clone();
                let mut off = 0;
                for l in 1..=layers {
                    let (din, dout) = (self.widths[l - 1], self.widths[l]);
                    let mut z: Vec<Float> = (0..dout)
                        .map(|row| {
                            let mut s = Float::with_val(REF, 0);
                            for j in 0..din {
                                s += Float::with_val(REF, &w[off + row * din + j] * &a[j]);
                            }
                            s * &self.scales[l - 1]
                        })
                        .collect();
                    off += din * dout;
                    if self.bias {
                        for (row, zr) in z.iter_mut().enumerate() {
                            *zr += &w[off + row];
                        }
                        off += dout;
                    }
                    a = if l < layers { z.into_iter().map(|v| Self::act(self.acts[l - 1], v)).collect() } else { z };
                }
                assert_eq!(off, w.len());
                for k in 0..o {
                    total += Float::with_val(REF, &a[k] * r[i * o + k]);
                }
            }
            total
        }

        /// `Q(v) = d^2/de^2 f(w + e v)` at `e = 0` by a central difference with step `2^-40`
        /// (truncation error about `2^-80` relative, cancellation about `2^-176`).
        fn q(&self, w: &[Float], r: &[f64], v: &[f64]) -> f64 {
            let t = Float::with_val(REF, 1) >> 40u32;
            let at = |sign: i32| -> Float {
                let x: Vec<Float> = w.iter().zip(v).map(|(wj, vj)| Float::with_val(REF, wj + Float::with_val(REF, &t * *vj) * sign)).collect();
                self.f(&x, r)
            };
            let num = at(1) - at(0) * 2u32 + at(-1);
            (num / Float::with_val(REF, &t * &t)).to_f64()
        }

        /// The dense Hessian of `f` at `w` (mixed central differences, step `2^-40`), in f64.
        fn hessian(&self, w: &[Float], r: &[f64]) -> Vec<f64> {
            let p = w.len();
            let t = Float::with_val(REF, 1) >> 40u32;
            let at = |j: usize, sj: i32, k: usize, sk: i32| -> Float {
                let mut x = w.to_vec();
                x[j] += Float::with_val(REF, &t * sj);
                x[k] += Float::with_val(REF, &t * sk);
                self.f(&x, r)
            };
            let mut h = vec![0.0f64; p * p];
            let den = Float::with_val(REF, &t * &t) * 4u32;
            for j in 0..p {
                for k in j..p {
                    let num = at(j, 1, k, 1) - at(j, 1, k, -1) - at(j, -1, k, 1) + at(j, -1, k, -1);
                    let v = (num / &den).to_f64();
                    h[j * p + k] = v;
                    h[k * p + j] = v;
                }
            }
            h
        }
    }

    /// Top `|eigenvalue|` and its eigenvector of a dense symmetric f64 matrix (power
    /// iteration on its square, then the Rayleigh quotient).
    fn top_eigen(h: &[f64], p: usize) -> (f64, Vec<f64>) {
        let mv = |v: &[f64]| -> Vec<f64> { (0..p).map(|a| (0..p).map(|b| h[a * p + b] * v[b]).sum()).collect() };
        let mut v: Vec<f64> = (0..p).map(|j| 1.0 + 0.3 * (j as f64 * 1.3).sin()).collect();
        for _ in 0..2000 {
            let w = mv(&mv(&v));
            let n = w.iter().map(|x| x * x).sum::<f64>().sqrt();
            if n == 0.0 {
                break;
            }
            v = w.iter().map(|x| x / n).collect();
        }
        let hv = mv(&v);
        (v.iter().zip(&hv).map(|(a, b)| a * b).sum::<f64>().abs(), v)
    }

    struct Case {
        widths: &'static [usize],
        acts: &'static [&'static str],
        param: &'static str,
        bias: bool,
        n: usize,
        scale: f64,
    }

    fn cases() -> Vec<Case> {
        let c = |widths, acts, param, bias, n, scale| Case { widths, acts, param, bias, n, scale };
        vec![
            c(&[2, 4, 1][..], &["tanh"][..], "ntk", true, 3, 1.5),
            c(&[3, 5, 2], &["sigmoid"], "standard", false, 4, 1.2),
            c(&[2, 6, 1], &["sin"], "standard", true, 5, 1.0),
            c(&[3, 3, 2], &["identity"], "ntk", true, 3, 1.0),
            c(&[2, 3, 4, 1], &["tanh", "sin"], "ntk", true, 5, 1.5),
            c(&[3, 6, 3, 2], &["sigmoid", "tanh"], "standard", true, 3, 1.0),
            c(&[3, 4, 5, 1], &["identity", "tanh"], "ntk", false, 5, 1.3),
            c(&[2, 5, 4, 2], &["tanh", "identity"], "standard", false, 4, 0.8),
            c(&[3, 4, 3, 1], &["sin", "sigmoid"], "standard", true, 4, 1.2),
            c(&[2, 6, 6, 2], &["tanh", "tanh"], "ntk", true, 3, 2.0),
            // Large weights: the sigma'' (kappa) terms dominate the cross terms.
            c(&[2, 6, 1], &["sin"], "standard", false, 4, 4.0),
            c(&[3, 5, 4, 1], &["sin", "sin"], "standard", true, 3, 3.0),
        ]
    }

    /// Lemma R3 against the truth: on small random MLPs (2 and 3 layers, tanh, sigmoid, sin,
    /// identity, with and without bias, both parameterisations, one and two outputs), for
    /// point boxes and thin boxes, `H >= |Q(v)| / |v|^2` for 60 random directions (some
    /// restricted to one layer's block) and for the top eigenvector of the dense Hessian of
    /// `sum_i r_i^T h_i` (256-bit finite differences), at the box's centre and at sampled points of
    /// the box and of the residual enclosure. And `H` is not absurdly loose: at most 100 times
    /// the true norm on every point case.
    #[test]
    fn bound_is_above_the_true_second_variation() {
        let mut rng = Lcg(4242);
        let mut worst_ratio = 0.0f64;
        for (ci, case) in cases().iter().enumerate() {
            let text = random_spec(case.widths, case.acts, case.param, case.bias, case.n, case.scale, 100 + ci as u64);
            let problem = load(&text);
            let net = Net::new(&problem).unwrap();
            let reference = Reference::new(&problem, &net);
            let o = *case.widths.last().unwrap();
            let mids: Vec<f64> = problem.params0.iter().map(|x| x.mid()).collect();
            let p = mids.len();
            let r_mid: Vec<f64> = (0..case.n * o).map(|_| 2.0 * rng.next()).collect();
            for (delta, r_rad) in [(0.0, 0.0), (1e-3, 1e-3)] {
                let wbox: Vec<Ball> = mids.iter().map(|&m| Ball { m: Float::with_val(PREC, m), r: delta }).collect();
                let residual: Vec<Ball> = r_mid.iter().map(|&x| Ball { m: Float::with_val(PREC, x), r: r_rad }).collect();
                let hidden = hidden_activations(&net, &wbox);
                let h = residual_hessian_upper(&net, &wbox, &hidden, &residual);
                assert!(h.is_finite() && h >= 0.0, "case {ci}: H = {h}");
                let samples = if delta == 0.0 { 1 } else { 3 };
                for s in 0..samples {
                    let w: Vec<Float> = mids.iter().map(|&m| Float::with_val(REF, m + if s == 0 { 0.0 } else { delta * rng.next() })).collect();
                    let r: Vec<f64> = r_mid.iter().map(|&x| x + if s == 0 { 0.0 } else { r_rad * rng.next() }).collect();
                    let hess = reference.hessian(&w, &r);
                    let (lam, v_top) = top_eigen(&hess, p);
                    let q_top = reference.q(&w, &r, &v_top).abs();
                    assert!(h >= q_top * (1.0 - 1e-9), "case {ci} delta {delta}: H = {h} < |Q(v_top)| = {q_top}");
                    assert!((q_top - lam).abs() <= 1e-6 * lam.max(1e-12) + 1e-12, "case {ci}: reference disagrees {q_top} vs {lam}");
                    for t in 0..60 {
                        let mut v: Vec<f64> = (0..p).map(|_| rng.next()).collect();
                        if t % 4 == 3 {
                            // Only one layer's block (weights and bias) of the direction.
                            let Net::Mlp(m) = &net else { unreachable!() };
                            let l = 1 + t / 4 % (case.widths.len() - 1);
                            let lo = m.w_off[l - 1];
                            let hi = if l < case.widths.len() - 1 { m.w_off[l] } else { p };
                            v.iter_mut().enumerate().filter(|(j, _)| *j < lo || *j >= hi).for_each(|(_, x)| *x = 0.0);
                        }
                        let vv: f64 = v.iter().map(|x| x * x).sum();
                        let q = reference.q(&w, &r, &v).abs() / vv;
                        assert!(h >= q * (1.0 - 1e-9), "case {ci} delta {delta} direction {t}: H = {h} < |Q(v)|/|v|^2 = {q}");
                    }
                    if delta == 0.0 {
                        let ratio = h / lam;
                        eprintln!("case {ci}: H = {h:.4e}, true norm {lam:.4e}, ratio {ratio:.2}");
                        worst_ratio = worst_ratio.max(ratio);
                        assert!(h <= 20.0 * lam, "case {ci}: H = {h} more than 20x the true norm {lam}");
                    }
                }
            }
        }
        eprintln!("worst H / true norm = {worst_ratio:.2}");
    }

    /// On a 3-layer tanh net with more inputs the bound is well below the old bound
    /// `|r| sup |D^2 h|` (`tube_bounds`), which is what makes it worth computing.
    #[test]
    fn bound_beats_the_cauchy_schwarz_bound() {
        let text = random_spec(&[3, 16, 16, 1], &["tanh", "tanh"], "ntk", false, 40, 1.5, 77);
        let problem = load(&text);
        let net = Net::new(&problem).unwrap();
        let wbox: Vec<Ball> = problem.params0.iter().map(|x| Ball { m: Float::with_val(PREC, x.mid()), r: 1e-9 }).collect();
        let hidden = hidden_activations(&net, &wbox);
        let mut rng = Lcg(5);
        let residual: Vec<Ball> = (0..40).map(|_| Ball { m: Float::with_val(PREC, rng.next()), r: 0.0 }).collect();
        let h = residual_hessian_upper(&net, &wbox, &hidden, &residual);
        let old = up(norm2_upper(&residual) * tube_bounds(&net, &wbox, &hidden).hessian_total());
        eprintln!("H = {h:.4e}, |r| sup|D^2 h| = {old:.4e}");
        assert!(h < old, "H = {h} not below the old bound {old}");
    }

    /// The quadratic family has no such bound here (`+inf`), and mismatched sizes give `+inf`.
    #[test]
    fn unsupported_inputs_give_infinity() {
        let text = random_spec(&[2, 3, 1], &["tanh"], "ntk", true, 2, 1.0, 1);
        let problem = load(&text);
        let net = Net::new(&problem).unwrap();
        let wbox: Vec<Ball> = problem.params0.iter().map(|x| Ball::exact(x.mid())).collect();
        let hidden = hidden_activations(&net, &wbox);
        let short = vec![Ball::exact(1.0)];
        assert_eq!(residual_hessian_upper(&net, &wbox, &hidden, &short), f64::INFINITY);
        let quad = load("alpha = \"640\"\nhorizon = 64\ntolerance = \"0.05\"\n[data]\ntargets = [\"1\"]\n\
                         [model]\nkind = \"tightness\"\nlipschitz = \"1\"\nu = \"0.8\"\n");
        let qnet = Net::new(&quad).unwrap();
        assert!(matches!(qnet, Net::Quadratic { .. }));
        let w: Vec<Ball> = quad.params0.iter().map(|x| Ball::exact(x.mid())).collect();
        assert_eq!(residual_hessian_upper(&qnet, &w, &[], &[Ball::exact(1.0)]), f64::INFINITY);
    }

    /// An f64 power-iteration estimate of `|A|_2` (a lower bound up to its rounding).
    fn power_norm(a: &[f64], rows: usize, cols: usize) -> f64 {
        let mut v = vec![1.0; cols];
        let mut s = 0.0;
        for _ in 0..2000 {
            let av: Vec<f64> = (0..rows).map(|r| (0..cols).map(|c| a[r * cols + c] * v[c]).sum()).collect();
            let atav: Vec<f64> = (0..cols).map(|c| (0..rows).map(|r| a[r * cols + c] * av[r]).sum()).collect();
            let n = atav.iter().map(|x| x * x).sum::<f64>().sqrt();
            s = av.iter().map(|x| x * x).sum::<f64>().sqrt() / v.iter().map(|x| x * x).sum::<f64>().sqrt();
            if n == 0.0 {
                break;
            }
            v = atav.iter().map(|x| x / n).collect();
        }
        s
    }

    /// Lemma S: known matrices, random point matrices (both sides of the Gram matrix), interval
    /// matrices against their corners, scaled matrices, and an indefinite symmetric matrix for
    /// `lambda_max_upper`.
    #[test]
    fn spectral_norm_bound_is_above_and_close() {
        // diag(3, 1): within 1% above 3.
        let d: Vec<Ball> = [3.0, 0.0, 0.0, 1.0].iter().map(|&x| Ball::exact(x)).collect();
        let b = spectral_norm_upper(&d, 2, 2);
        assert!((3.0..=3.03).contains(&b), "diag(3, 1): {b}");
        // [[3, 0], [4, 5]]: sqrt(45); also scaled by 2^-30 and 2^40.
        for sc in [0, -30, 40] {
            let w: Vec<Ball> = [3.0, 0.0, 4.0, 5.0].iter().map(|&x| Ball::exact(x * 2f64.powi(sc))).collect();
            let exact = 45f64.sqrt() * 2f64.powi(sc);
            let b = spectral_norm_upper(&w, 2, 2);
            assert!(b >= exact && b <= exact * 1.01, "scale 2^{sc}: {b} against {exact}");
        }
        // Random point matrices: above the power-iteration estimate, below Frobenius, close.
        let mut rng = Lcg(11);
        for (rows, cols) in [(20, 7), (7, 20), (1, 9), (9, 1), (30, 30)] {
            let a: Vec<f64> = (0..rows * cols).map(|_| rng.next()).collect();
            let balls: Vec<Ball> = a.iter().map(|&x| Ball::exact(x)).collect();
            let b = spectral_norm_upper(&balls, rows, cols);
            let est = power_norm(&a, rows, cols);
            let frob = norm2_upper(&balls);
            assert!(b >= est * (1.0 - 1e-12), "{rows}x{cols}: {b} < estimate {est}");
            assert!(b <= frob, "{rows}x{cols}: {b} > Frobenius {frob}");
            assert!(b <= est * 1.01, "{rows}x{cols}: {b} far above {est}");
        }
        // Interval matrices: above every sampled corner's norm.
        for (rows, cols) in [(6, 4), (4, 6)] {
            let balls: Vec<Ball> = (0..rows * cols).map(|_| Ball { m: Float::with_val(PREC, rng.next()), r: 0.05 }).collect();
            let b = spectral_norm_upper(&balls, rows, cols);
            for _ in 0..20 {
                let corner: Vec<f64> = balls.iter().map(|x| x.m.to_f64() + if rng.next() > 0.0 { x.r } else { -x.r }).collect();
                let est = power_norm(&corner, rows, cols);
                assert!(b >= est * (1.0 - 1e-12), "{rows}x{cols} box: {b} < corner {est}");
            }
        }
        // lambda_max_upper on an indefinite matrix [[1, 2], [2, -3]]: lambda_max = -1 + sqrt(8).
        let g: Vec<Ball> = [1.0, 2.0, 2.0, -3.0].iter().map(|&x| Ball::exact(x)).collect();
        let lam = lambda_max_upper(&g, 2);
        let exact = -1.0 + 8f64.sqrt();
        assert!(lam >= exact && lam <= exact * 1.01 + 1e-12, "indefinite: {lam} against {exact}");
        // A negative definite matrix: lambda_max = -1, any bound >= -1 (here at most ~0).
        let g: Vec<Ball> = [-1.0, 0.0, 0.0, -2.0].iter().map(|&x| Ball::exact(x)).collect();
        let lam = lambda_max_upper(&g, 2);
        assert!((-1.0..=0.01).contains(&lam), "negative definite: {lam}");
        // Equal top eigenvalues (slow power iteration): still valid and close.
        let g: Vec<Ball> = [2.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 1.0].iter().map(|&x| Ball::exact(x)).collect();
        let lam = lambda_max_upper(&g, 3);
        assert!((2.0..=2.02).contains(&lam), "repeated: {lam}");
        // The zero matrix.
        assert!(spectral_norm_upper(&[Ball::zero(), Ball::zero()], 1, 2) < 1e-100);
    }

    /// Collatz-Wielandt: above the Perron root of known matrices, close to it, 0 for 0.
    #[test]
    fn perron_bound_is_above_and_close() {
        // [[2, 1], [1, 2]]: rho = 3. [[0, 1], [1, 0]]: rho = 1 (bipartite). diag(5, 1): 5.
        for (m, rho) in [(vec![2.0, 1.0, 1.0, 2.0], 3.0), (vec![0.0, 1.0, 1.0, 0.0], 1.0), (vec![5.0, 0.0, 0.0, 1.0], 5.0), (vec![11.0, 5.6, 7.9, 5.6, 0.86, 2.4, 7.9, 2.4, 0.0], 0.0)] {
            let k = if m.len() == 4 { 2 } else { 3 };
            let b = perron_upper(&m, k);
            let rho = if rho > 0.0 { rho } else {
                // f64 power iteration for the 3x3 example of the proof.
                let mut u = vec![1.0; 3];
                let mut r = 0.0;
                for _ in 0..1000 {
                    let w: Vec<f64> = (0..3).map(|a| (0..3).map(|c| m[a * 3 + c] * u[c]).sum()).collect();
                    r = w.iter().zip(&u).map(|(x, y)| x * y).sum::<f64>() / u.iter().map(|x| x * x).sum::<f64>();
                    let n = w.iter().map(|x| x * x).sum::<f64>().sqrt();
                    u = w.iter().map(|x| x / n).collect();
                }
                r
            };
            assert!(b >= rho * (1.0 - 1e-12) && b <= rho * (1.0 + 1e-6), "{m:?}: {b} against {rho}");
        }
        assert_eq!(perron_upper(&[0.0; 4], 2), 0.0);
        assert_eq!(perron_upper(&[1.0, f64::NAN, 0.0, 1.0], 2), f64::INFINITY);
    }
}
