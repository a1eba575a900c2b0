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
//! closed form (erf, relu, gelu, sin, identity) or by certified quadrature (tanh, sigmoid,
//! softplus: `kernel::quadrature`) and every operation in outward-rounded interval arithmetic: MPFR intervals at
//! 128 bits for up to [`PRECISE_INPUTS`] distinct inputs, inari's f64 intervals beyond
//! (`kernel::number`). Proof of every closed form and of the degenerate cases:
//! `proofs/infinite-width-kernels.md`.

use super::number::{End, KernelNumber, Mp};
use super::quadrature::{expectation, expectation_diagonal, Integrand, TOLERANCE};
use crate::problem::{Activation, KernelActivation, KernelProblem};
use inari::Interval;
use rayon::prelude::*;

type I = Interval;

/// Up to this many distinct inputs the recursion runs in [`Mp`] (128-bit MPFR intervals):
/// entries that cancel (`Sigma_{l+1} + Sdot Theta_l` with `Theta_l < 0`) keep the relative
/// width the inputs' enclosures imply. Beyond, inari (about 10x faster).
pub const PRECISE_INPUTS: usize = 128;

fn nonneg<T: KernelNumber>(x: T) -> T {
    x.restrict(0.0, f64::INFINITY)
}

/// Whether the limit kernels can be computed for this activation (`Err`: the reason, one line).
/// Every activation is supported: closed forms for erf, relu, gelu, sin, identity, certified
/// quadrature ([`super::quadrature`]) for tanh, sigmoid, softplus.
pub fn limit_support(act: KernelActivation) -> Result<(), String> {
    match act {
        KernelActivation::Relu | KernelActivation::Flow(_) => Ok(()),
    }
}

/// The integrands of `E[act act]` and `E[act' act']` for the activations integrated by
/// quadrature (`softplus' = sigmoid`); `None` for those with a closed form.
pub fn quadrature_integrands(act: KernelActivation) -> Option<(Integrand, Integrand)> {
    match act {
        KernelActivation::Flow(Activation::Tanh) => Some((Integrand::Tanh, Integrand::TanhDerivative)),
        KernelActivation::Flow(Activation::Sigmoid) => Some((Integrand::Sigmoid, Integrand::SigmoidDerivative)),
        KernelActivation::Flow(Activation::Softplus) => Some((Integrand::Softplus, Integrand::Sigmoid)),
        _ => None,
    }
}

/// `J1(rho) = sqrt(1 - rho^2) + (pi - acos rho) rho` (the arc-cosine kernel of degree 1 as a
/// function of the correlation, `= sin t + (pi - t) cos t` with `t = acos rho`), enclosed at the
/// single point `rho` in `[-1, 1]` given an enclosure `angle` of `pi - acos rho = acos(-rho)`.
/// `sqrt(1 - rho^2)` is formed as `sqrt((1 - rho)(1 + rho))`, relatively tight near `|rho| = 1`.
fn relu_j1<T: KernelNumber>(rho: T, angle: T) -> T {
    let one = T::point(1.0);
    let sine = nonneg((one.clone() - rho.clone()) * (one + rho.clone())).sqrt();
    sine + angle * rho
}

/// `(E[relu(u) relu(v)], E[step(u) step(v)])` for `(u, v) ~ N(0, [[s11, s12], [s12, s22]])`,
/// `step = relu'` with `step(0) = 0`, for every positive semi-definite matrix in the enclosures
/// (Lemma R of the proof): with `q = sqrt(s11 s22)`, `rho = s12 / q`,
/// `E[relu relu] = q J1(rho) / (2 pi)` and `E[step step] = acos(-rho) / (2 pi)`, both
/// nondecreasing in `rho`, so the ends of the correlation's enclosure give the ends of the
/// result (no width is lost to `acos`'s infinite slope at `+-1` in `J1`): `acos(-rho_lo)` for
/// the lower and `acos(-rho_hi)` for the upper end (with inari one MPFR call each). When a
/// variance may vanish: `[0, q/2]` and `[0, 1/2]`.
fn relu_pair<T: KernelNumber>(s11: T, s12: T, s22: T) -> (T, T) {
    let (s11, s22) = (nonneg(s11), nonneg(s22));
    let positive = s11.lower() > 0.0 && s22.lower() > 0.0;
    let q = (s11 * s22).sqrt();
    let half = T::interval(0.0, 0.5);
    if !positive {
        return (q * half.clone(), half);
    }
    let rho = (s12 / q.clone()).restrict(-1.0, 1.0);
    let (lo, hi) = rho.ends();
    let angle_lo = lo.acos_of_negated(End::Lower);
    let angle_hi = if rho.is_point() { angle_lo.clone() } else { hi.acos_of_negated(End::Upper) };
    let j_lo = relu_j1(lo, angle_lo.clone());
    let j_hi = relu_j1(hi, angle_hi.clone());
    let j = T::span(&j_lo, &j_hi).restrict(0.0, I::PI.sup());
    let two_pi = T::pi() * T::point(2.0);
    (q * j / two_pi.clone(), (T::span(&angle_lo, &angle_hi) / two_pi).restrict(0.0, 0.5))
}

/// The expectations of [`gaussian_pair`] at `u = v` (`(u, v) ~ N(0, [[s, s], [s, s]])`).
fn relu_diagonal<T: KernelNumber>(s: T) -> (T, T) {
    let s = nonneg(s);
    let step = if s.lower() > 0.0 { T::point(0.5) } else { T::interval(0.0, 0.5) };
    (s / T::point(2.0), step)
}

/// `E[erf(u) erf(v)] = (2/pi) asin(2 s12 / sqrt((1 + 2 s11)(1 + 2 s22)))` and
/// `E[erf'(u) erf'(v)] = (4/pi) det(I + 2 S)^(-1/2)`, `det(I + 2S) = 1 + 2(s11 + s22) +
/// 4(s11 s22 - s12^2)` with the last term `>= 0` (Lemma E of the proof).
fn erf_pair<T: KernelNumber>(s11: T, s12: T, s22: T) -> (T, T) {
    let (one, two, four) = (T::point(1.0), T::point(2.0), T::point(4.0));
    let (s11, s22) = (nonneg(s11), nonneg(s22));
    let d1 = one.clone() + two.clone() * s11.clone();
    let d2 = one.clone() + two.clone() * s22.clone();
    let r = (two.clone() * s12.clone() / (d1 * d2).sqrt()).restrict(-1.0, 1.0);
    let gap = nonneg(s11.clone() * s22.clone() - s12.clone() * s12);
    let det = one + two.clone() * (s11 + s22) + four * gap;
    let two_over_pi = two.clone() / T::pi();
    (two_over_pi.clone() * r.asin(), two * two_over_pi / det.sqrt())
}

fn erf_diagonal<T: KernelNumber>(s: T) -> (T, T) {
    let (one, two, four) = (T::point(1.0), T::point(2.0), T::point(4.0));
    let s = nonneg(s);
    // 2s / (1 + 2s) = 1 - 1/(1 + 2s): one occurrence of s.
    let r = (one.clone() - one.clone() / (one.clone() + two.clone() * s.clone())).restrict(-1.0, 1.0);
    let two_over_pi = two.clone() / T::pi();
    (two_over_pi.clone() * r.asin(), two * two_over_pi / (one + four * s).sqrt())
}

/// `E[sin u sin v] = exp(-(s11 + s22)/2) sinh(s12)`, `E[cos u cos v] = exp(-(s11 + s22)/2)
/// cosh(s12)` (Lemma S of the proof).
fn sin_pair<T: KernelNumber>(s11: T, s12: T, s22: T) -> (T, T) {
    let (s11, s22) = (nonneg(s11), nonneg(s22));
    let e = (-(s11 + s22) / T::point(2.0)).exp();
    (e.clone() * s12.clone().sinh(), e * s12.cosh())
}

fn sin_diagonal<T: KernelNumber>(s: T) -> (T, T) {
    let s = nonneg(s);
    let e = (-s.clone()).exp();
    (e.clone() * s.clone().sinh(), e * s.cosh())
}

/// `gelu(x) = x Phi(x)` (Lemma GELU of the proof; Tsuchida et al. 2021, neural-tangents'
/// `stax.Gelu`): with `D^2 = (1 + s11)(1 + s22) - s12^2 = 1 + s11 + s22 + (s11 s22 - s12^2) >= 1`
/// and `a = atan(s12 / D)`,
/// `E[gelu gelu] = ((s12^2 + s11 s22 D^2) / ((1 + s11)(1 + s22) D) + s12 a) / (2 pi) + s12 / 4`,
/// `E[gelu' gelu'] = 1/4 + a / (2 pi) + s12 / (2 pi D) (1/D^2 + (1 - s11 s22)/((1 + s11)(1 + s22)) + 1)`.
/// `D >= 1`: no singular case.
fn gelu_pair<T: KernelNumber>(s11: T, s12: T, s22: T) -> (T, T) {
    let one = T::point(1.0);
    let (s11, s22) = (nonneg(s11), nonneg(s22));
    let prod = s11.clone() * s22.clone();
    let gap = nonneg(prod.clone() - s12.clone() * s12.clone());
    let d2 = one.clone() + s11.clone() + s22.clone() + gap;
    let d = d2.clone().sqrt();
    let plus = (one.clone() + s11) * (one.clone() + s22);
    let angle = (s12.clone() / d.clone()).atan();
    let two_pi = T::pi() * T::point(2.0);
    let quarter = T::point(0.25);
    let e = ((s12.clone() * s12.clone() + prod.clone() * d2.clone()) / (plus.clone() * d.clone()) + s12.clone() * angle.clone()) / two_pi.clone()
        + s12.clone() * quarter.clone();
    let first = (one.clone() / d2 + (one.clone() - prod) / plus + one) * s12 / (two_pi.clone() * d);
    (e, first + quarter + angle / two_pi)
}

/// `(E[act(u) act(v)], E[act'(u) act'(v)])` for `(u, v) ~ N(0, S)`, `S = [[s11, s12], [s12,
/// s22]]`: enclosures valid for every positive semi-definite `S` with entries in the given
/// sets. `None` for activations without a closed form ([`limit_support`]).
pub fn gaussian_pair<T: KernelNumber>(act: KernelActivation, s11: T, s12: T, s22: T) -> Option<(T, T)> {
    Some(match act {
        KernelActivation::Relu => relu_pair(s11, s12, s22),
        KernelActivation::Flow(Activation::Erf) => erf_pair(s11, s12, s22),
        KernelActivation::Flow(Activation::Sin) => sin_pair(s11, s12, s22),
        KernelActivation::Flow(Activation::Gelu) => gelu_pair(s11, s12, s22),
        KernelActivation::Flow(Activation::Identity) => (s12, T::point(1.0)),
        KernelActivation::Flow(_) => {
            let (f, fd) = quadrature_integrands(act)?;
            let e = expectation(f, f, s11.clone(), s12.clone(), s22.clone(), TOLERANCE);
            (e, expectation(fd, fd, s11, s12, s22, TOLERANCE))
        }
    })
}

/// `(E[act(u)^2], E[act'(u)^2])` for `u ~ N(0, s)`: [`gaussian_pair`] with `u = v`, in forms
/// with a single occurrence of `s` where possible.
pub fn gaussian_diagonal<T: KernelNumber>(act: KernelActivation, s: T) -> Option<(T, T)> {
    Some(match act {
        KernelActivation::Relu => relu_diagonal(s),
        KernelActivation::Flow(Activation::Erf) => erf_diagonal(s),
        KernelActivation::Flow(Activation::Sin) => sin_diagonal(s),
        KernelActivation::Flow(Activation::Gelu) => gelu_pair(s.clone(), s.clone(), s),
        KernelActivation::Flow(Activation::Identity) => (s, T::point(1.0)),
        KernelActivation::Flow(_) => {
            let (f, fd) = quadrature_integrands(act)?;
            (expectation_diagonal(f, f, s.clone(), TOLERANCE), expectation_diagonal(fd, fd, s, TOLERANCE))
        }
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
    /// Whether the recursion ran in 128-bit MPFR intervals ([`PRECISE_INPUTS`]).
    pub precise: bool,
}

/// The inner products `x_i . x_j` (upper triangle, rows; `KernelNumber::dot`).
fn input_products<T: KernelNumber>(inputs: &[Vec<I>]) -> Vec<Vec<T>> {
    let n = inputs.len();
    (0..n).into_par_iter().map(|i| (i..n).map(|j| T::dot(&inputs[i], &inputs[j])).collect()).collect()
}

/// The full matrix from its rows' upper parts (`upper[i][j - i]` for `j >= i`).
fn mirror<T: KernelNumber>(n: usize, upper: &[Vec<T>]) -> Vec<T> {
    (0..n * n).map(|e| {
        let (i, j) = (e / n, e % n);
        if j >= i { upper[i][j - i].clone() } else { upper[j][i - j].clone() }
    }).collect()
}

/// One hidden layer: `(Sigma_{l+1}, Theta_{l+1})` from `(Sigma_l, Theta_l)`.
fn layer<T: KernelNumber>(act: KernelActivation, n: usize, sigma: &[T], theta: &[T], sw: &T, sb: &T) -> (Vec<T>, Vec<T>) {
    let rows: Vec<Vec<(T, T)>> = (0..n)
        .into_par_iter()
        .map(|i| {
            (i..n)
                .map(|j| {
                    let (e, edot) = if i == j {
                        gaussian_diagonal(act, sigma[i * n + i].clone())
                    } else {
                        gaussian_pair(act, sigma[i * n + i].clone(), sigma[i * n + j].clone(), sigma[j * n + j].clone())
                    }
                    .expect("limit_support was checked");
                    let s = sw.clone() * e + sb.clone();
                    let t = s.clone() + (sw.clone() * edot) * theta[i * n + j].clone();
                    (s, t)
                })
                .collect()
        })
        .collect();
    let sigma_upper: Vec<Vec<T>> = rows.iter().map(|r| r.iter().map(|p| p.0.clone()).collect()).collect();
    let theta_upper: Vec<Vec<T>> = rows.into_iter().map(|r| r.into_iter().map(|p| p.1).collect()).collect();
    (mirror(n, &sigma_upper), mirror(n, &theta_upper))
}

/// The recursion in the number type `T` on the given (distinct) inputs.
fn recursion<T: KernelNumber>(problem: &KernelProblem, inputs: &[Vec<I>]) -> (Vec<I>, Vec<I>) {
    let n = inputs.len();
    let d = problem.widths[0];
    let sw = T::from_rational(&problem.weight_variance.value, problem.weight_variance.enclosure);
    let sb = T::from_rational(&problem.bias_variance.value, problem.bias_variance.enclosure);
    let scale = if d == 0 { T::point(0.0) } else { sw.clone() / T::point(d as f64) };
    let products = input_products::<T>(inputs);
    let upper: Vec<Vec<T>> = products.into_iter().map(|row| row.into_iter().map(|p| scale.clone() * p + sb.clone()).collect()).collect();
    let mut sigma = mirror(n, &upper);
    let mut theta = sigma.clone();
    for &act in &problem.activations {
        (sigma, theta) = layer(act, n, &sigma, &theta, &sw, &sb);
    }
    (theta.iter().map(T::to_inari).collect(), sigma.iter().map(T::to_inari).collect())
}

/// `Theta_L` and `Sigma_L` of the problem's architecture (depth and activations; the hidden
/// widths are sent to infinity, the initial weights are not used) on its inputs, with
/// `SW = weight_variance`, `SB = bias_variance`. `Err` (one line) for an activation without a
/// closed form.
pub fn limit_kernels(problem: &KernelProblem) -> Result<LimitKernels, String> {
    limit_kernels_on(problem, &problem.inputs)
}

/// [`limit_kernels`] on the given inputs instead of the problem's (e.g. the training inputs
/// followed by the test inputs: the cross-kernel is then the lower-left block).
pub fn limit_kernels_on(problem: &KernelProblem, inputs: &[Vec<I>]) -> Result<LimitKernels, String> {
    for &act in &problem.activations {
        limit_support(act)?;
    }
    // Inputs given by the same point intervals are the same real vector: their kernel entries
    // are the diagonal ones (Lemma D of the proof). Computing on the distinct inputs only keeps
    // them from the correlation's enclosure around 1, where acos has an infinite slope.
    let (distinct, class) = distinct_inputs(inputs);
    let m = distinct.len();
    let precise = m <= PRECISE_INPUTS;
    let (theta, sigma) = if precise { recursion::<Mp>(problem, &distinct) } else { recursion::<I>(problem, &distinct) };
    let n = inputs.len();
    let expand = |k: &[I]| -> Vec<I> { (0..n * n).map(|e| k[class[e / n] * m + class[e % n]]).collect() };
    Ok(LimitKernels { n, ntk: expand(&theta), nngp: expand(&sigma), precise })
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
