//! The infinite-width kernels of an MLP: the NNGP kernel `Sigma` and the NTK `Theta` of the
//! network with every hidden width sent to infinity, by the layer recursion
//!
//! ```text
//! Sigma_1(x, x') = SW x.x'/d + SB,                 Theta_1 = Sigma_1,
//! Sigma_{l+1}    = SW E[act(u) act(v)] + SB,       (u, v) ~ N(0, [[S11, S12], [S12, S22]]),
//! Sdot_{l+1}     = SW E[act'(u) act'(v)],          S.. = Sigma_l at (x, x), (x, x'), (x', x'),
//! Theta_{l+1}    = Sigma_{l+1} + Sdot_{l+1} Theta_l,
//! ```
//!
//! (neural-tangents' `stax.Dense(W_std = sqrt(SW), b_std = sqrt(SB), parameterization = "ntk")`
//! between the activations, one scalar output, no `1/n`), with the Gaussian expectations in
//! closed form and every operation in outward-rounded interval arithmetic (inari). Proof of
//! every closed form and of the degenerate cases: `proofs/infinite-width-kernels.md`.

use crate::arith::ball::Ball;
use crate::arith::scalar::Scalar;
use crate::problem::{Activation, KernelActivation, KernelProblem};
use inari::Interval;
use rayon::prelude::*;

type I = Interval;

/// The point interval `[x, x]` (`x` finite).
fn point(x: f64) -> I {
    I::try_from((x, x)).expect("finite point")
}

/// `[lo, hi]` (`lo <= hi`, not NaN).
fn between(lo: f64, hi: f64) -> I {
    I::try_from((lo, hi)).expect("ordered bounds")
}

/// `x` restricted to `[0, +inf)` (the empty set stays empty).
fn nonneg(x: I) -> I {
    x.intersection(between(0.0, f64::INFINITY))
}

/// `x` restricted to `[-1, 1]`; when the enclosure misses `[-1, 1]` entirely (impossible for a
/// correct enclosure of a correlation), the whole of `[-1, 1]`.
fn correlation(x: I) -> I {
    let unit = between(-1.0, 1.0);
    let r = x.intersection(unit);
    if r.is_empty() { unit } else { r }
}

/// Whether the limit kernels have a closed form for this activation: `Err` with the reason
/// otherwise (one line).
pub fn limit_support(act: KernelActivation) -> Result<(), String> {
    match act {
        KernelActivation::Relu
        | KernelActivation::Flow(Activation::Erf | Activation::Identity | Activation::Sin) => Ok(()),
        KernelActivation::Flow(a @ (Activation::Tanh | Activation::Sigmoid | Activation::Softplus | Activation::Gelu)) => Err(format!(
            "activation '{}' is not supported for the limit kernel: it has no closed-form Gaussian expectation here and needs a certified 2-D quadrature, which is not implemented (closed forms: erf, relu, sin, identity)",
            a.name()
        )),
    }
}

/// `acos(x)` for `x` in `[-1, 1]`, rounded down (`up = false`) or up, by one MPFR call at 53 bits
/// (correctly rounded in the requested direction; a thread-local variable, so no allocation).
/// `acos(x)` itself then lies in `[d, next_up(d)]` for the value `d` rounded down, and in
/// `[next_down(u), u]` for the value `u` rounded up: one call encloses it.
fn acos_directed(x: f64, up: bool) -> f64 {
    use gmp_mpfr_sys::mpfr;
    thread_local! {
        static SCRATCH: std::cell::RefCell<rug::Float> = std::cell::RefCell::new(rug::Float::new(53));
    }
    SCRATCH.with(|cell| {
        let mut f = cell.borrow_mut();
        let rnd = if up { mpfr::rnd_t::RNDU } else { mpfr::rnd_t::RNDD };
        // SAFETY: `f` is an initialised MPFR variable of precision 53 owned by this thread;
        // set_d is exact at that precision, acos may use its operand as its result.
        unsafe {
            mpfr::set_d(f.as_raw_mut(), x, rnd);
            mpfr::acos(f.as_raw_mut(), f.as_raw(), rnd);
            mpfr::get_d(f.as_raw(), rnd)
        }
    })
}

/// `J1(rho) = sqrt(1 - rho^2) + (pi - acos rho) rho` (the arc-cosine kernel of degree 1 as a
/// function of the correlation, `= sin t + (pi - t) cos t` with `t = acos rho`), enclosed at the
/// single point `rho` in `[-1, 1]` given an enclosure `angle` of `pi - acos rho = acos(-rho)`.
/// `sqrt(1 - rho^2)` is formed as `sqrt((1 - rho)(1 + rho))`, relatively tight near `|rho| = 1`.
fn relu_j1(rho: f64, angle: I) -> I {
    let r = point(rho);
    let one = point(1.0);
    let sine = nonneg((one - r) * (one + r)).sqrt();
    sine + angle * r
}

/// `(E[relu(u) relu(v)], E[step(u) step(v)])` for `(u, v) ~ N(0, [[s11, s12], [s12, s22]])`,
/// `step = relu'` with `step(0) = 0`, for every positive semi-definite matrix in the enclosures
/// (Lemma R of the proof): with `q = sqrt(s11 s22)`, `rho = s12 / q`,
/// `E[relu relu] = q J1(rho) / (2 pi)` and `E[step step] = acos(-rho) / (2 pi)`, both
/// nondecreasing in `rho`, so the ends of the correlation's enclosure give the ends of the
/// result (no width is lost to `acos`'s infinite slope at `+-1`): `acos(-rho_lo)` rounded down
/// and `acos(-rho_hi)` rounded up, two MPFR calls. When a variance may vanish: `[0, q/2]` and
/// `[0, 1/2]`.
fn relu_pair(s11: I, s12: I, s22: I) -> (I, I) {
    let (s11, s22) = (nonneg(s11), nonneg(s22));
    let q = (s11 * s22).sqrt();
    let half = between(0.0, 0.5);
    if !(s11.inf() > 0.0 && s22.inf() > 0.0) {
        return (q * half, half);
    }
    let rho = correlation(s12 / q);
    let (lo, hi) = (rho.inf(), rho.sup());
    let down = acos_directed(-lo, false);
    let up = acos_directed(-hi, true);
    let j_lo = relu_j1(lo, between(down, down.next_up()));
    let j_hi = relu_j1(hi, between(up.next_down(), up));
    let j = between(j_lo.inf().max(0.0), j_hi.sup().min(I::PI.sup()));
    (q * j / I::TAU, (between(down, up) / I::TAU).intersection(half))
}

/// The expectations of [`gaussian_pair`] at `u = v` (`(u, v) ~ N(0, [[s, s], [s, s]])`).
fn relu_diagonal(s: I) -> (I, I) {
    let s = nonneg(s);
    let step = if s.inf() > 0.0 { point(0.5) } else { between(0.0, 0.5) };
    (s / point(2.0), step)
}

/// `E[erf(u) erf(v)] = (2/pi) asin(2 s12 / sqrt((1 + 2 s11)(1 + 2 s22)))` and
/// `E[erf'(u) erf'(v)] = (4/pi) det(I + 2 S)^(-1/2)`, `det(I + 2S) = 1 + 2(s11 + s22) +
/// 4(s11 s22 - s12^2)` with the last term `>= 0` (Lemma E of the proof).
fn erf_pair(s11: I, s12: I, s22: I) -> (I, I) {
    let (one, two, four) = (point(1.0), point(2.0), point(4.0));
    let (s11, s22) = (nonneg(s11), nonneg(s22));
    let r = correlation(two * s12 / ((one + two * s11) * (one + two * s22)).sqrt());
    let gap = nonneg(s11 * s22 - s12 * s12);
    let det = one + two * (s11 + s22) + four * gap;
    (I::FRAC_2_PI * r.asin(), two * I::FRAC_2_PI / det.sqrt())
}

fn erf_diagonal(s: I) -> (I, I) {
    let (one, two, four) = (point(1.0), point(2.0), point(4.0));
    let s = nonneg(s);
    // 2s / (1 + 2s) = 1 - 1/(1 + 2s): one occurrence of s.
    let r = correlation(one - one / (one + two * s));
    (I::FRAC_2_PI * r.asin(), two * I::FRAC_2_PI / (one + four * s).sqrt())
}

/// `E[sin u sin v] = exp(-(s11 + s22)/2) sinh(s12)`, `E[cos u cos v] = exp(-(s11 + s22)/2)
/// cosh(s12)` (Lemma S of the proof).
fn sin_pair(s11: I, s12: I, s22: I) -> (I, I) {
    let (s11, s22) = (nonneg(s11), nonneg(s22));
    let e = (-(s11 + s22) / point(2.0)).exp();
    (e * s12.sinh(), e * s12.cosh())
}

fn sin_diagonal(s: I) -> (I, I) {
    let s = nonneg(s);
    let e = (-s).exp();
    (e * s.sinh(), e * s.cosh())
}

/// `(E[act(u) act(v)], E[act'(u) act'(v)])` for `(u, v) ~ N(0, S)`, `S = [[s11, s12], [s12,
/// s22]]`: enclosures valid for every positive semi-definite `S` with entries in the given
/// intervals. `None` for activations without a closed form ([`limit_support`]).
pub fn gaussian_pair(act: KernelActivation, s11: I, s12: I, s22: I) -> Option<(I, I)> {
    Some(match act {
        KernelActivation::Relu => relu_pair(s11, s12, s22),
        KernelActivation::Flow(Activation::Erf) => erf_pair(s11, s12, s22),
        KernelActivation::Flow(Activation::Sin) => sin_pair(s11, s12, s22),
        KernelActivation::Flow(Activation::Identity) => (s12, point(1.0)),
        KernelActivation::Flow(_) => return None,
    })
}

/// `(E[act(u)^2], E[act'(u)^2])` for `u ~ N(0, s)`: [`gaussian_pair`] with `u = v`, in forms
/// with a single occurrence of `s` where possible.
pub fn gaussian_diagonal(act: KernelActivation, s: I) -> Option<(I, I)> {
    Some(match act {
        KernelActivation::Relu => relu_diagonal(s),
        KernelActivation::Flow(Activation::Erf) => erf_diagonal(s),
        KernelActivation::Flow(Activation::Sin) => sin_diagonal(s),
        KernelActivation::Flow(Activation::Identity) => (s, point(1.0)),
        KernelActivation::Flow(_) => return None,
    })
}

/// The limit kernels on `n` inputs, `n x n` row-major, symmetric (the entry `(j, i)` is the
/// same enclosure as `(i, j)`).
#[derive(Debug, Clone)]
pub struct LimitKernels {
    pub n: usize,
    /// `Theta_L`, the NTK of one scalar output.
    pub ntk: Vec<I>,
    /// `Sigma_L`, the NNGP kernel.
    pub nngp: Vec<I>,
}

/// `Sigma_1`: `SW x_i . x_j / d + SB` (the dot products in balls, `proofs/fast-interval.md`).
fn input_layer(inputs: &[Vec<I>], sw: I, sb: I) -> Vec<I> {
    let n = inputs.len();
    let d = inputs.first().map_or(0, |x| x.len());
    let balls: Vec<Vec<Ball>> = inputs.iter().map(|x| x.iter().map(|&v| Ball::from_interval(v)).collect()).collect();
    let scale = if d == 0 { point(0.0) } else { sw / point(d as f64) };
    let zero: Vec<bool> = inputs.iter().map(|x| x.iter().all(|v| v.inf() == 0.0 && v.sup() == 0.0)).collect();
    let upper: Vec<Vec<I>> = (0..n)
        .into_par_iter()
        .map(|i| {
            (i..n)
                .map(|j| {
                    // A zero input (all entries the point 0) has exactly zero dot products.
                    let dot = if zero[i] || zero[j] { point(0.0) } else { Ball::dot(Ball::ZERO, &balls[i], &balls[j]).to_interval() };
                    scale * dot + sb
                })
                .collect()
        })
        .collect();
    mirror(n, &upper)
}

/// The full matrix from its rows' upper parts (`upper[i][j - i]` for `j >= i`).
fn mirror(n: usize, upper: &[Vec<I>]) -> Vec<I> {
    let mut m = vec![point(0.0); n * n];
    for i in 0..n {
        for j in i..n {
            m[i * n + j] = upper[i][j - i];
            m[j * n + i] = upper[i][j - i];
        }
    }
    m
}

/// One hidden layer: `(Sigma_{l+1}, Theta_{l+1})` from `(Sigma_l, Theta_l)`.
fn layer(act: KernelActivation, n: usize, sigma: &[I], theta: &[I], sw: I, sb: I) -> (Vec<I>, Vec<I>) {
    let rows: Vec<Vec<(I, I)>> = (0..n)
        .into_par_iter()
        .map(|i| {
            (i..n)
                .map(|j| {
                    let (e, edot) = if i == j {
                        gaussian_diagonal(act, sigma[i * n + i])
                    } else {
                        gaussian_pair(act, sigma[i * n + i], sigma[i * n + j], sigma[j * n + j])
                    }
                    .expect("limit_support was checked");
                    let s = sw * e + sb;
                    (s, s + (sw * edot) * theta[i * n + j])
                })
                .collect()
        })
        .collect();
    let sigma_upper: Vec<Vec<I>> = rows.iter().map(|r| r.iter().map(|p| p.0).collect()).collect();
    let theta_upper: Vec<Vec<I>> = rows.iter().map(|r| r.iter().map(|p| p.1).collect()).collect();
    (mirror(n, &sigma_upper), mirror(n, &theta_upper))
}

/// `Theta_L` and `Sigma_L` of the problem's architecture (depth and activations; the hidden
/// widths are sent to infinity, the initial weights are not used) on its inputs, with
/// `SW = weight_variance`, `SB = bias_variance`. `Err` (one line) for an activation without a
/// closed form.
pub fn limit_kernels(problem: &KernelProblem) -> Result<LimitKernels, String> {
    for &act in &problem.activations {
        limit_support(act)?;
    }
    let sw = problem.weight_variance.enclosure;
    let sb = problem.bias_variance.enclosure;
    // Inputs given by the same point intervals are the same real vector: their kernel entries
    // are the diagonal ones (Lemma D of the proof). Computing on the distinct inputs only keeps
    // them from the correlation's enclosure around 1, where acos has an infinite slope.
    let (distinct, class) = distinct_inputs(&problem.inputs);
    let m = distinct.len();
    let mut sigma = input_layer(&distinct, sw, sb);
    let mut theta = sigma.clone();
    for &act in &problem.activations {
        (sigma, theta) = layer(act, m, &sigma, &theta, sw, sb);
    }
    let n = problem.inputs.len();
    let expand = |k: &[I]| -> Vec<I> { (0..n * n).map(|e| k[class[e / n] * m + class[e % n]]).collect() };
    Ok(LimitKernels { n, ntk: expand(&theta), nngp: expand(&sigma) })
}

/// The distinct inputs and, for each input, the index of its class: inputs whose entries are all
/// point intervals and equal are merged (they are the same real vector); any other input is its
/// own class.
fn distinct_inputs(inputs: &[Vec<I>]) -> (Vec<Vec<I>>, Vec<usize>) {
    let thin = |x: &[I]| x.iter().all(|v| v.inf() == v.sup());
    let mut distinct: Vec<Vec<I>> = Vec::new();
    let mut class = Vec::with_capacity(inputs.len());
    let mut seen: std::collections::HashMap<Vec<u64>, usize> = std::collections::HashMap::new();
    for x in inputs {
        if thin(x) {
            // -0.0 and 0.0 are the same real number.
            let key: Vec<u64> = x.iter().map(|v| (v.inf() + 0.0).to_bits()).collect();
            if let Some(&c) = seen.get(&key) {
                class.push(c);
                continue;
            }
            seen.insert(key, distinct.len());
        }
        class.push(distinct.len());
        distinct.push(x.clone());
    }
    (distinct, class)
}
