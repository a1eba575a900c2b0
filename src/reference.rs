//! An independent, high-precision, *non-rigorous* reference solution of a [`Problem`].
//!
//! Used by tests to check that certified enclosures contain the truth. It shares no numerical
//! code with the rest of the crate: the network, its reverse-mode gradient and Jacobian, and the
//! integrator are written here again, in MPFR floats (`rug::Float`) at a configurable precision.
//! Only the problem types and exact rationals are taken from the crate.
//!
//! Every interval of the problem is replaced by its midpoint (a member of the interval, so the
//! certified enclosures must contain the reference values); `alpha` and `T` are taken exactly.
//!
//! Integrator: Gragg–Bulirsch–Stoer extrapolation (modified midpoint rule with substeps
//! 2, 4, 6, ..., 2k and Aitken–Neville extrapolation in h^2) on the combined state
//! `(w, rbar)`, with `w' = -(1/alpha) J(w)^T r(w)` and `rbar' = -K0 rbar` ([`reference`]), or
//! `(w, w_Q)` with the order-`Q` Taylor model's flow `w_Q' = F_Q(w_Q)` in the place of the
//! linearisation ([`reference_of_order`], `proofs/taylor-models.md`, Lemma R). (With the
//! penalty `lambda`, each flow gains its term `-lambda (w - w0)`, `-lambda (rbar - rbar(0))`.)
//!
//! - A first run controls its steps: each macro step builds the tableau row by row until the
//!   indicator `|T_{j,j} - T_{j,j-1}| / (1 + |T_{j,j}|)` is at most `tol = 2^(-0.55 prec)`
//!   (about 1e-33 at 200 bits), with at most `levels` rows, else it is rejected and retried
//!   shorter; the next step length minimises the work per unit time. Macro steps are at most
//!   `T / macro_steps` and end exactly on the sample times. A step whose midpoint iterates
//!   diverge (move a component more than 1024 times the exact flow's whole motion) is
//!   abandoned at once and retried shorter: the cost of an MPFR `sin` grows with the exponent
//!   of its argument, so a diverging sequence would otherwise stall a single evaluation.
//! - A second run repeats that grid with every macro step halved, a tolerance `2^(-0.75 prec)`
//!   and two more rows allowed; it has no step-size control of its own. Its results are
//!   reported, and the largest difference between the two runs is the error estimate (about
//!   the first run's error, so conservative for the second).
//!
//! A fixed step count is not used: the admissible step is set by the analyticity radius of the
//! solution in complex time (complex singularities of tanh, sigmoid, softplus; fast growth of
//! erf) and by stiffness (`lambda_max` of the Hessian of the objective), either of which can be
//! far from what a fixed count assumes.

use crate::problem::{Activation, Architecture, Parameterization, Problem};
use num_rational::BigRational;
use rug::float::Constant;
use rug::ops::{CompleteRound, NegAssign};
use rug::Assign;
use rug::{Float, Integer, Rational};

/// Tuning of the reference integration.
#[derive(Debug, Clone)]
pub struct ReferenceOptions {
    /// MPFR precision in bits.
    pub precision_bits: u32,
    /// The macro steps are at most `T / macro_steps` (and that is the first step tried).
    pub macro_steps: usize,
    /// Extrapolation levels k >= 2 (substep sequence 2, 4, ..., 2k; order 2k).
    pub levels: usize,
    /// Number of equally spaced sample times in [0, T], both ends included (at least 2).
    pub samples: usize,
}

impl Default for ReferenceOptions {
    fn default() -> Self {
        ReferenceOptions { precision_bits: 200, macro_steps: 4, levels: 16, samples: 9 }
    }
}

/// The reference solution. All values are at the requested precision. The reference model is
/// the NTK linearisation ([`reference`]); for [`reference_of_order`] with `Q >= 2` it is the
/// order-`Q` Taylor model, and `rbar` below reads `r_Q = alpha g_Q(w_Q) - y` (see there).
#[derive(Debug, Clone)]
pub struct Reference {
    /// `alpha * g(w(T))` per output, input-major (`g = h - h(w0)` when centred, else `h`).
    pub outputs_final: Vec<Float>,
    /// `alpha * g_lin(T) = rbar(T) + y` (order `Q >= 2`: `alpha g_Q(w_Q(T))`).
    pub linear_outputs_final: Vec<Float>,
    /// `D(T) = |r(w(T)) - rbar(T)|` (order `Q >= 2`: `D_Q(T) = |r(w(T)) - r_Q(T)|`).
    pub final_deviation: Float,
    /// `(t, D(t))` at `samples` equally spaced times in [0, T], both ends included.
    pub samples: Vec<(Float, Float)>,
    /// `R0 = |r(w0)|^2 / 2`.
    pub r0: Float,
    /// Estimated absolute error of `outputs_final` (and of `linear_outputs_final`,
    /// `final_deviation`, the sampled deviations): the largest difference to the first run,
    /// whose macro steps are twice as long and whose tolerance is looser (so this is about the
    /// first run's error, and conservative for the reported values).
    pub error_estimate: Float,
    /// The largest `|e'(t)| = |K0 rbar - K(w) r|` over the sample times, an estimate of the
    /// Lipschitz constant of `D` (which obeys `|D'| <= |e'|`; this is `e'` without the penalty's
    /// terms; order `Q >= 2`: the exact `|e'| = |alpha J(w) w' - alpha J_Q(w_Q) w_Q'|`, penalty
    /// included). With `dt = T / (samples - 1)`, `sup D <= max_k D(t_k) + deviation_slope_max *
    /// dt / 2` up to the variation of `|e'|` between samples.
    pub deviation_slope_max: Float,
    /// `(t, D(t), |e'(t)|)` at every macro step end of the reported (finer) run, `t = 0` and the
    /// sample times included, in time order: a grid that is fine where the flow changes fast
    /// (the step-size control sees it), so that `D` between two consecutive points `a < b` is
    /// at most `(D_a + D_b + S (b - a)) / 2` for any bound `S` of `|e'|` on `[a, b]`.
    pub step_samples: Vec<(Float, Float, Float)>,
    /// Total macro steps of the reported (finer) run.
    pub macro_steps_used: usize,
    /// Vector-field evaluations of both runs.
    pub evaluations: u64,
}

/// Converts an exact rational to the nearest `Float` at precision `prec`.
pub fn rational_to_float(q: &BigRational, prec: u32) -> Float {
    let n = Integer::from_str_radix(&q.numer().to_str_radix(16), 16).expect("hex integer");
    let d = Integer::from_str_radix(&q.denom().to_str_radix(16), 16).expect("hex integer");
    Float::with_val(prec, Rational::from((n, d)))
}

// ---------------------------------------------------------------------------------------------
// The model.

struct Consts {
    two_over_sqrt_pi: Float,
    inv_sqrt2: Float,
    inv_sqrt_2pi: Float,
}

impl Consts {
    fn new(prec: u32) -> Self {
        let pi = Float::with_val(prec, Constant::Pi);
        let sqrt_pi = Float::with_val(prec, pi.sqrt_ref());
        let two_over_sqrt_pi = Float::with_val(prec, 2u32 / &sqrt_pi);
        let inv_sqrt2 = Float::with_val(prec, 2u32).sqrt().recip();
        let two_pi = Float::with_val(prec, Constant::Pi) * 2u32;
        let inv_sqrt_2pi = two_pi.sqrt().recip();
        Consts { two_over_sqrt_pi, inv_sqrt2, inv_sqrt_2pi }
    }
}

/// `(act(x), act'(x))`.
fn activate(act: Activation, x: &Float, c: &Consts) -> (Float, Float) {
    let prec = x.prec();
    match act {
        Activation::Tanh => {
            let t = Float::with_val(prec, x.tanh_ref());
            let d = Float::with_val(prec, 1u32 - Float::with_val(prec, t.square_ref()));
            (t, d)
        }
        Activation::Erf => {
            let v = Float::with_val(prec, x.erf_ref());
            let e = Float::with_val(prec, -Float::with_val(prec, x.square_ref())).exp();
            (v, e * &c.two_over_sqrt_pi)
        }
        Activation::Sigmoid => {
            let e = Float::with_val(prec, -x).exp();
            let s = (e + 1u32).recip();
            let d = Float::with_val(prec, &s * Float::with_val(prec, 1u32 - &s));
            (s, d)
        }
        Activation::Softplus => {
            // ln(1 + e^x) and its derivative e^x / (1 + e^x) = 1 / (1 + e^-x).
            let e = Float::with_val(prec, x.exp_ref());
            let v = Float::with_val(prec, e.ln_1p_ref());
            let s = if x.is_sign_negative() {
                let d = Float::with_val(prec, &e + 1u32);
                e / d
            } else {
                (Float::with_val(prec, e.recip_ref()) + 1u32).recip()
            };
            (v, s)
        }
        Activation::Sin => {
            let (s, co) = x.sin_cos_ref().complete(prec);
            (s, co)
        }
        Activation::Gelu => {
            let u = Float::with_val(prec, x * &c.inv_sqrt2);
            let phi_cdf = (u.erf() + 1u32) / 2u32;
            let v = Float::with_val(prec, x * &phi_cdf);
            let dens = Float::with_val(prec, -Float::with_val(prec, x.square_ref()) / 2u32).exp()
                * &c.inv_sqrt_2pi;
            let d = phi_cdf + dens * x;
            (v, d)
        }
        Activation::Identity => (x.clone(), Float::with_val(prec, 1u32)),
    }
}

struct Mlp {
    widths: Vec<usize>,
    activations: Vec<Activation>,
    /// `c_l` per layer (index l-1).
    scales: Vec<Float>,
    bias: bool,
    /// Offset of `W_l` and `b_l` (index l-1) in the flat parameter vector.
    w_off: Vec<usize>,
    b_off: Vec<usize>,
    inputs: Vec<Vec<Float>>,
    consts: Consts,
}

/// Forward values of one input: per layer `a_l` (l = 0..L-1) and `act'(z_l)` (l = 1..L-1).
struct InputTape {
    a: Vec<Vec<Float>>,
    dact: Vec<Vec<Float>>,
}

enum Net {
    Mlp(Mlp),
    /// `h(w) = s w + (L/2) w^2` with `s = sqrt(lambda)`.
    Quad { s: Float, lip: Float, half_lip: Float },
}

struct Tape {
    outputs: Vec<Float>,
    inputs: Vec<InputTape>,
}

impl Net {
    fn new(problem: &Problem, prec: u32) -> Net {
        match &problem.architecture {
            Architecture::Quadratic(q) => {
                let lambda = rational_to_float(&q.lambda, prec);
                let lip = rational_to_float(&q.lipschitz, prec);
                let half_lip = Float::with_val(prec, &lip / 2u32);
                Net::Quad { s: lambda.sqrt(), lip, half_lip }
            }
            Architecture::Mlp(a) => {
                let nl = a.num_layers();
                let scales = (1..=nl)
                    .map(|l| match a.parameterization {
                        Parameterization::Ntk => Float::with_val(prec, a.widths[l - 1]).sqrt().recip(),
                        Parameterization::Standard => Float::with_val(prec, 1u32),
                    })
                    .collect();
                let mut w_off = Vec::new();
                let mut b_off = Vec::new();
                let mut off = 0;
                for l in 1..=nl {
                    w_off.push(off);
                    off += a.widths[l] * a.widths[l - 1];
                    b_off.push(off);
                    if a.bias {
                        off += a.widths[l];
                    }
                }
                assert_eq!(off, a.num_params());
                let inputs = problem
                    .inputs
                    .iter()
                    .map(|x| x.iter().map(|v| Float::with_val(prec, v.mid())).collect())
                    .collect();
                Net::Mlp(Mlp {
                    widths: a.widths.clone(),
                    activations: a.activations.clone(),
                    scales,
                    bias: a.bias,
                    w_off,
                    b_off,
                    inputs,
                    consts: Consts::new(prec),
                })
            }
        }
    }

    fn forward(&self, w: &[Float]) -> Tape {
        let prec = w[0].prec();
        match self {
            Net::Quad { s, half_lip, .. } => {
                let h = Float::with_val(prec, s * &w[0]) + Float::with_val(prec, w[0].square_ref()) * half_lip;
                Tape { outputs: vec![h], inputs: vec![] }
            }
            Net::Mlp(m) => {
                let nl = m.widths.len() - 1;
                let mut outputs = Vec::new();
                let mut tapes = Vec::new();
                let mut tmp = Float::new(prec);
                for x in &m.inputs {
                    let mut a_all = vec![x.clone()];
                    let mut dact = Vec::new();
                    for l in 1..=nl {
                        let (nin, nout) = (m.widths[l - 1], m.widths[l]);
                        let prev = a_all.last().unwrap();
                        let mut z = Vec::with_capacity(nout);
                        for j in 0..nout {
                            let mut acc = Float::new(prec);
                            let row = &w[m.w_off[l - 1] + j * nin..m.w_off[l - 1] + (j + 1) * nin];
                            for k in 0..nin {
                                tmp.assign(&row[k] * &prev[k]);
                                acc += &tmp;
                            }
                            acc *= &m.scales[l - 1];
                            if m.bias {
                                acc += &w[m.b_off[l - 1] + j];
                            }
                            z.push(acc);
                        }
                        if l < nl {
                            let act = m.activations[l - 1];
                            let (a, d): (Vec<Float>, Vec<Float>) =
                                z.iter().map(|zj| activate(act, zj, &m.consts)).unzip();
                            a_all.push(a);
                            dact.push(d);
                        } else {
                            outputs.extend(z);
                        }
                    }
                    tapes.push(InputTape { a: a_all, dact });
                }
                Tape { outputs, inputs: tapes }
            }
        }
    }

    /// Adds `J_i(w)^T v` to `grad`, where `J_i` is the Jacobian of the outputs of input `i`
    /// and `v` has one entry per output.
    fn backward_input(&self, w: &[Float], tape: &Tape, i: usize, v: &[Float], grad: &mut [Float]) {
        let prec = w[0].prec();
        match self {
            Net::Quad { s, lip, .. } => {
                let d = Float::with_val(prec, lip * &w[0]) + s;
                grad[0] += d * &v[0];
            }
            Net::Mlp(m) => {
                let nl = m.widths.len() - 1;
                let t = &tape.inputs[i];
                let mut delta: Vec<Float> = v.to_vec();
                let mut tmp = Float::new(prec);
                for l in (1..=nl).rev() {
                    let (nin, nout) = (m.widths[l - 1], m.widths[l]);
                    let a_prev = &t.a[l - 1];
                    let woff = m.w_off[l - 1];
                    if m.bias {
                        for j in 0..nout {
                            grad[m.b_off[l - 1] + j] += &delta[j];
                        }
                    }
                    let sdelta: Vec<Float> =
                        delta.iter().map(|d| Float::with_val(prec, d * &m.scales[l - 1])).collect();
                    for j in 0..nout {
                        for k in 0..nin {
                            tmp.assign(&sdelta[j] * &a_prev[k]);
                            grad[woff + j * nin + k] += &tmp;
                        }
                    }
                    if l > 1 {
                        let mut nd = Vec::with_capacity(nin);
                        for k in 0..nin {
                            let mut acc = Float::new(prec);
                            for j in 0..nout {
                                tmp.assign(&w[woff + j * nin + k] * &sdelta[j]);
                                acc += &tmp;
                            }
                            acc *= &t.dact[l - 2][k];
                            nd.push(acc);
                        }
                        delta = nd;
                    }
                }
            }
        }
    }

    fn outputs_per_input(&self) -> usize {
        match self {
            Net::Quad { .. } => 1,
            Net::Mlp(m) => *m.widths.last().unwrap(),
        }
    }

    /// `J(w)^T v` for `v` of length N.
    fn vjp(&self, w: &[Float], tape: &Tape, v: &[Float]) -> Vec<Float> {
        let prec = w[0].prec();
        let out = self.outputs_per_input();
        let mut grad = vec![Float::new(prec); w.len()];
        let n = tape.outputs.len() / out;
        for i in 0..n {
            self.backward_input(w, tape, i, &v[i * out..(i + 1) * out], &mut grad);
        }
        grad
    }

    /// The Jacobian `J(w)`, N rows of length p.
    fn jacobian(&self, w: &[Float], tape: &Tape) -> Vec<Vec<Float>> {
        let prec = w[0].prec();
        let out = self.outputs_per_input();
        let n = tape.outputs.len() / out;
        let mut rows = Vec::new();
        for i in 0..n {
            for o in 0..out {
                let mut e = vec![Float::new(prec); out];
                e[o] = Float::with_val(prec, 1u32);
                let mut grad = vec![Float::new(prec); w.len()];
                self.backward_input(w, tape, i, &e, &mut grad);
                rows.push(grad);
            }
        }
        rows
    }
}

/// The gradient of `phi(w) = sum_i r_i^T h_i(w)` (the residual-weighted outputs, `residual`
/// stacked input-major) at the point `w`, in MPFR at `prec` bits, rounded to f64. With
/// [`residual_hessian_vector`], an independent reference for the residual-weighted Hessian bound
/// (`model::curvature`, `proofs/residual-hessian.md`).
pub fn residual_gradient(problem: &Problem, w: &[f64], residual: &[f64], prec: u32) -> Vec<f64> {
    let net = Net::new(problem, prec);
    let point: Vec<Float> = w.iter().map(|&x| Float::with_val(prec, x)).collect();
    residual_gradient_mpfr(&net, problem, &point, residual, prec).iter().map(Float::to_f64).collect()
}

fn residual_gradient_mpfr(net: &Net, problem: &Problem, w: &[Float], residual: &[f64], prec: u32) -> Vec<Float> {
    let tape = net.forward(w);
    let outputs = problem.architecture.output_dim();
    let mut grad: Vec<Float> = (0..w.len()).map(|_| Float::new(prec)).collect();
    for i in 0..problem.num_inputs().max(1) {
        let r: Vec<Float> = residual[i * outputs..(i + 1) * outputs].iter().map(|&x| Float::with_val(prec, x)).collect();
        net.backward_input(w, &tape, i, &r, &mut grad);
    }
    grad
}

/// `(sum_i r_i^T D^2 h_i(w)) v` at the point `w`: the central difference of
/// [`residual_gradient`] along `v` with step `2^-(prec/4)` in MPFR at `prec` bits (truncation
/// error of order `2^-(prec/2)`, cancellation of order `2^-(3 prec/4)`), rounded to f64.
pub fn residual_hessian_vector(problem: &Problem, w: &[f64], residual: &[f64], v: &[f64], prec: u32) -> Vec<f64> {
    let net = Net::new(problem, prec);
    let step = Float::with_val(prec, Float::i_exp(1, -(prec as i32 / 4)));
    let shifted = |sign: i32| -> Vec<Float> {
        let point: Vec<Float> = w
            .iter()
            .zip(v)
            .map(|(&wi, &vi)| Float::with_val(prec, wi) + Float::with_val(prec, vi * sign as f64) * &step)
            .collect();
        residual_gradient_mpfr(&net, problem, &point, residual, prec)
    };
    let (plus, minus) = (shifted(1), shifted(-1));
    let twice = Float::with_val(prec, &step * 2u32);
    plus.into_iter().zip(minus).map(|(a, b)| (Float::with_val(prec, a - b) / &twice).to_f64()).collect()
}

fn dot(a: &[Float], b: &[Float]) -> Float {
    let mut acc = Float::new(a[0].prec());
    let mut tmp = Float::new(a[0].prec());
    for (x, y) in a.iter().zip(b) {
        tmp.assign(x * y);
        acc += &tmp;
    }
    acc
}

fn norm2(a: &[Float]) -> Float {
    if a.is_empty() {
        return Float::new(64);
    }
    dot(a, a).sqrt()
}

/// `J J^T`.
fn gram(j: &[Vec<Float>]) -> Vec<Vec<Float>> {
    j.iter().map(|ri| j.iter().map(|rk| dot(ri, rk)).collect()).collect()
}

fn matvec(m: &[Vec<Float>], v: &[Float]) -> Vec<Float> {
    m.iter().map(|row| dot(row, v)).collect()
}

// ---------------------------------------------------------------------------------------------
// Gragg–Bulirsch–Stoer.

/// The result of one GBS macro step.
struct GbsStep {
    /// The most extrapolated value computed, `T_{j,j}`.
    value: Vec<Float>,
    /// Error indicators `err_i = max |T_{i,i} - T_{i,i-1}| / (1 + |T_{i,i}|)` for `i = 2..=j`
    /// (index `i - 2`).
    errors: Vec<Float>,
    /// Whether `err_j <= tol` (always true without a tolerance).
    converged: bool,
    /// Whether a midpoint iterate left the escape box (then `value` is `y0`, `converged` false).
    escaped: bool,
}

/// One GBS macro step of length `h_macro` from `y0` with `f0 = f(y0)`: builds the extrapolation
/// tableau row by row (substeps 2, 4, ..., 2j) up to `max_levels` rows, stopping early at the
/// first row `j >= 2` whose error indicator is at most `tol` (when given).
///
/// With `escape` (one bound per component), the step is abandoned (`escaped`) as soon as a
/// midpoint iterate is not finite or moves a component `i` farther than `escape[i]` from `y0`:
/// a step too long for the problem's stiffness makes the midpoint sequence diverge, its
/// magnitudes squaring or cubing at every substep (2^(3e7) after eight rows on a standard-
/// parameterised sin network), and MPFR's `sin` and `cos` reduce such arguments with pi to
/// as many bits as the exponent, so one evaluation could take minutes. Abandoning only
/// rejects a step, which the caller retries shorter; it never accepts a value.
fn gbs_step<F: FnMut(&[Float]) -> Vec<Float>>(
    f: &mut F,
    y0: &[Float],
    f0: &[Float],
    h_macro: &Float,
    max_levels: usize,
    tol: Option<&Float>,
    escape: Option<&[Float]>,
) -> GbsStep {
    let prec = h_macro.prec();
    let dim = y0.len();
    let escaped = |z: &[Float]| {
        escape.is_some_and(|bound| {
            z.iter().zip(y0).zip(bound).any(|((zi, yi), bi)| {
                !zi.is_finite() || Float::with_val(prec, zi - yi).abs() > *bi
            })
        })
    };
    let abandon = |errors: Vec<Float>| GbsStep { value: y0.to_vec(), errors, converged: false, escaped: true };
    let mut prev_row: Vec<Vec<Float>> = Vec::new();
    let mut errors = Vec::new();
    for j in 1..=max_levels {
        let n = 2 * j;
        let h = Float::with_val(prec, h_macro / (n as u32));
        let two_h = Float::with_val(prec, &h * 2u32);
        let mut tmp = Float::new(prec);
        // a = z_{m-1}, b = z_m.
        let mut a: Vec<Float> = y0.to_vec();
        let mut b: Vec<Float> = y0.iter().zip(f0).map(|(y, d)| Float::with_val(prec, y + &h * d)).collect();
        if escaped(&b) {
            return abandon(errors);
        }
        for _ in 1..n {
            let fb = f(&b);
            for i in 0..dim {
                tmp.assign(&two_h * &fb[i]);
                a[i] += &tmp;
            }
            std::mem::swap(&mut a, &mut b);
            if escaped(&b) {
                return abandon(errors);
            }
        }
        // Aitken–Neville: T_{j,m+1} = T_{j,m} + (T_{j,m} - T_{j-1,m}) / ((n_j/n_{j-m})^2 - 1).
        let mut row: Vec<Vec<Float>> = vec![b];
        for m in 1..j {
            let jm = (j - m) as u64;
            let jj = j as u64;
            let coef = Float::with_val(prec, jm * jm) / Float::with_val(prec, jj * jj - jm * jm);
            let cur = &row[m - 1];
            let old = &prev_row[m - 1];
            let next: Vec<Float> = (0..dim)
                .map(|i| {
                    let diff = Float::with_val(prec, &cur[i] - &old[i]);
                    Float::with_val(prec, &cur[i] + diff * &coef)
                })
                .collect();
            row.push(next);
        }
        if j >= 2 {
            let mut err = Float::new(prec);
            for (x, y) in row[j - 1].iter().zip(&row[j - 2]) {
                let d = Float::with_val(prec, x - y).abs() / (Float::with_val(prec, x.abs_ref()) + 1u32);
                if d > err {
                    err = d;
                }
            }
            let done = tol.is_some_and(|t| err <= *t);
            errors.push(err);
            if done {
                return GbsStep { value: row.pop().expect("row"), errors, converged: true, escaped: false };
            }
        }
        prev_row = row;
    }
    GbsStep {
        value: prev_row.pop().expect("max_levels >= 1"),
        errors,
        converged: tol.is_none(),
        escaped: false,
    }
}

/// Integrates `y' = f(y)` over a time `length` with `steps` equal GBS macro steps.
pub fn gbs_integrate<F: FnMut(&[Float]) -> Vec<Float>>(
    f: &mut F,
    y0: &[Float],
    length: &Float,
    steps: usize,
    levels: usize,
) -> Vec<Float> {
    let prec = length.prec();
    let h = Float::with_val(prec, length / (steps.max(1) as u32));
    let mut y = y0.to_vec();
    for _ in 0..steps.max(1) {
        let f0 = f(&y);
        y = gbs_step(f, &y, &f0, &h, levels, None, None).value;
    }
    y
}

// ---------------------------------------------------------------------------------------------
// The flow.

struct Flow {
    net: Net,
    prec: u32,
    p: usize,
    alpha: Float,
    inv_alpha: Float,
    /// `h(w0)` when centred, else zeros.
    h_centre: Vec<Float>,
    targets: Vec<Float>,
    /// The reference model, the second half of the integrated state.
    companion: Companion,
    /// Vector-field evaluations so far.
    evals: std::cell::Cell<u64>,
    /// Give up beyond this many evaluations.
    max_evals: u64,
    /// Per component of `(w, rbar)` or `(w, w_Q)`: how far a GBS midpoint iterate may move from
    /// the start of its macro step before the step is abandoned ([`escape_bounds`]).
    escape: Vec<Float>,
    /// `lambda` of the penalty `(lambda/2) |w - w0|^2`, and its anchor `w0`.
    lambda: Float,
    w_anchor: Vec<Float>,
}

/// The reference model trained beside the network: the second half of the integrated state.
enum Companion {
    /// Order 1, the NTK linearisation in function space: the `N` residuals `rbar`, with
    /// `rbar' = -K0 rbar - lambda (rbar - rbar(0))` and `rbar(0) = r0 = r_anchor`.
    Linear { k0: Vec<Vec<Float>>, r_anchor: Vec<Float> },
    /// Order `q >= 2`, the Taylor model in parameter space: the `p` weights `w_Q`, with
    /// `w_Q' = F_Q(w_Q)` and `w_Q(0) = w0` (boxed: it holds a [`Flow`] of its own).
    Taylor(Box<TaylorModel>),
}

/// The order-`q` Taylor model `h_Q` of the network around `w0` and its gradient-flow field
/// `F_Q`, by interpolation of plain evaluations of `h` and `J^T r_Q` at the 13 points
/// `w0 + eps_j (w - w0)`, `eps_j = j delta`, `|j| <= 6` (`proofs/taylor-models.md`, Lemma R).
/// The evaluations run at the precision of `model` (the working precision), the results are
/// rounded to `prec`.
struct TaylorModel {
    /// The network and the flow's data (alpha, targets, centring, penalty) at the working
    /// precision.
    model: Flow,
    q: usize,
    /// `delta = 2^-delta_bits`.
    delta: Float,
    /// `delta^-r`, `r = 0..=q`.
    inv_powers: Vec<Float>,
    /// Rows `0..=q` of the inverse Vandermonde matrix of the nodes `-6..=6`.
    weights: Vec<Vec<Float>>,
    /// Precision of the results.
    prec: u32,
}

/// `h_Q(w)` and, when asked for, `F_Q(w)` and `J_Q(w) F_Q(w)` (`J_Q = Dh_Q`), at the
/// precision of [`TaylorModel::prec`].
struct TaylorValues {
    outputs: Vec<Float>,
    field: Option<Vec<Float>>,
    slope: Option<Vec<Float>>,
}

/// Interpolation half-width: the nodes are `j delta`, `|j| <= TAYLOR_HALF` (13 points, so
/// coefficients up to order 12).
const TAYLOR_HALF: i32 = 6;

impl TaylorModel {
    /// The order-`q` model of `problem` evaluated at `working` bits with `delta = 2^-delta_bits`,
    /// results at `prec` bits.
    fn new(problem: &Problem, q: usize, prec: u32, working: u32, delta_bits: u32) -> TaylorModel {
        assert!((1..=2 * TAYLOR_HALF as usize).contains(&q), "reference: Taylor model order {q} not in 1..=12");
        let (model, _) = Flow::new(problem, working);
        let delta = Float::with_val(working, Float::i_exp(1, -(delta_bits as i32)));
        let nodes: Vec<i32> = (-TAYLOR_HALF..=TAYLOR_HALF).collect();
        let weights = inverse_vandermonde_rows(&nodes, q, working);
        let inv_powers =
            (0..=q).map(|r| Float::with_val(working, rug::ops::Pow::pow(&delta, r as u32)).recip()).collect();
        TaylorModel { model, q, delta, inv_powers, weights, prec }
    }

    /// The model for the flow of [`try_reference_of_order`] at `prec` bits: `delta = 2^-d` with
    /// `d = ceil((prec + 40) / (13 - q))` (interpolation error of coefficient `r <= q` about
    /// `delta^(13 - r) <= 2^-(prec + 40)`), working precision `prec + 56 + d q` (rounding about
    /// `2^-(prec + 56)` times the condition of the inverse Vandermonde rows, below `2^16`), so
    /// that `h_Q` and `F_Q` are exact to about the last bits at `prec`: GBS extrapolation needs a
    /// field far smoother than its tolerance `2^(-0.75 prec)`.
    fn for_flow(problem: &Problem, q: usize, prec: u32) -> TaylorModel {
        let nodes = 2 * TAYLOR_HALF as u32 + 1;
        let d = (prec + 40).div_ceil(nodes - q as u32);
        TaylorModel::new(problem, q, prec, prec + 56 + d * q as u32, d)
    }

    /// `sum_{r <= top} [eps^r]` of the entrywise interpolation of `values` (one vector per node).
    fn sum_to(&self, top: usize, values: &[Vec<Float>]) -> Vec<Float> {
        let wp = self.model.prec;
        let mut total = vec![Float::new(wp); values[0].len()];
        for r in 0..=top {
            for (i, t) in total.iter_mut().enumerate() {
                let mut acc = Float::new(wp);
                for (l, v) in self.weights[r].iter().zip(values) {
                    acc += Float::with_val(wp, l * &v[i]);
                }
                *t += acc * &self.inv_powers[r];
            }
        }
        total
    }

    /// [`TaylorValues`] at the point `w` (exact values); `F_Q` when `field`, `J_Q F_Q` when
    /// `slope` (which implies the field). `F_Q(w) = -(1/alpha) Dh_Q(w)^T r_Q - lambda (w - w0)`
    /// with `Dh_Q(w)^T c = sum_{r<q} [eps^r] J(w0 + eps v)^T c` (Lemma M, (M2)), and likewise
    /// `Dh_Q(w) u = sum_{r<q} [eps^r] J(w0 + eps v) u` (M2 for every `c`, transposed).
    fn eval(&self, w: &[Float], field: bool, slope: bool) -> TaylorValues {
        let model = &self.model;
        let wp = model.prec;
        let points: Vec<Vec<Float>> = (-TAYLOR_HALF..=TAYLOR_HALF)
            .map(|j| {
                let eps = Float::with_val(wp, &self.delta * j);
                w.iter()
                    .zip(&model.w_anchor)
                    .map(|(wi, w0i)| Float::with_val(wp, w0i + Float::with_val(wp, wi - w0i) * &eps))
                    .collect()
            })
            .collect();
        let tapes: Vec<Tape> = points.iter().map(|x| model.net.forward(x)).collect();
        let outputs: Vec<Vec<Float>> = tapes.iter().map(|t| t.outputs.clone()).collect();
        let h_q = self.sum_to(self.q, &outputs);
        let round = |v: Vec<Float>| -> Vec<Float> { v.into_iter().map(|x| Float::with_val(self.prec, x)).collect() };
        if !field && !slope {
            return TaylorValues { outputs: round(h_q), field: None, slope: None };
        }
        let r_q = model.residual(&h_q);
        let pulled: Vec<Vec<Float>> = points.iter().zip(&tapes).map(|(x, t)| model.net.vjp(x, t, &r_q)).collect();
        let mut f_q = self.sum_to(self.q - 1, &pulled);
        for (i, g) in f_q.iter_mut().enumerate() {
            *g *= &model.inv_alpha;
            g.neg_assign();
            if !model.lambda.is_zero() {
                *g -= Float::with_val(wp, &w[i] - &model.w_anchor[i]) * &model.lambda;
            }
        }
        let jf = slope.then(|| {
            let pushed: Vec<Vec<Float>> =
                points.iter().zip(&tapes).map(|(x, t)| matvec(&model.net.jacobian(x, t), &f_q)).collect();
            round(self.sum_to(self.q - 1, &pushed))
        });
        TaylorValues { outputs: round(h_q), field: Some(round(f_q)), slope: jf }
    }
}

/// A midpoint iterate moving a component farther than this many times the exact flow's whole
/// motion is taken as divergence (the first rows of a converging step stay within a small
/// multiple of it; a diverging sequence passes any such bound within a few substeps).
const ESCAPE_FACTOR: u32 = 1024;

/// [`ESCAPE_FACTOR`] times the exact flow's motion over `[0, T]`, per component: gradient flow
/// moves the parameters at most `sqrt(T R0) / alpha` in norm (the length of `w'` integrates to
/// at most `sqrt(T (R0 - R(T))) / alpha`, as `R' = -alpha^2 |w'|^2`; proofs/theory-f1-f2.md), and
/// `rbar' = -K0 rbar` with `K0` positive semi-definite keeps `|rbar| <= |r0|`, so it moves at most
/// `2 |r0|`. The order-`q` model's flow is the gradient flow of its own objective, with the same
/// `R0` (`h_Q(w0) = h(w0)`), so `w_Q` moves at most as far as `w`'s bound. (Computed at the
/// reference's data and rounding: a heuristic bound, which only decides when to reject a step.)
fn escape_bounds(p: usize, companion: &Companion, n: usize, r0: &Float, horizon: &Float, alpha: &Float) -> Vec<Float> {
    let prec = r0.prec();
    let w_motion = Float::with_val(prec, horizon * r0).sqrt() / alpha * ESCAPE_FACTOR;
    let r_motion = Float::with_val(prec, r0 * 2u32).sqrt() * (2 * ESCAPE_FACTOR);
    let mut escape = vec![w_motion.clone(); p];
    match companion {
        Companion::Linear { .. } => escape.extend(std::iter::repeat_n(r_motion, n)),
        Companion::Taylor(_) => escape.extend(std::iter::repeat_n(w_motion, p)),
    }
    escape
}

impl Flow {
    /// The flows of `problem` at `prec` bits from the midpoint of `w0`'s enclosure, with no
    /// `K0`, no evaluation budget and no escape bounds yet (the callers that integrate set
    /// them); also the forward pass at `w0`.
    fn new(problem: &Problem, prec: u32) -> (Flow, Tape) {
        let net = Net::new(problem, prec);
        let w0: Vec<Float> = problem.params0.iter().map(|v| Float::with_val(prec, v.mid())).collect();
        let targets: Vec<Float> = problem.targets.iter().map(|v| Float::with_val(prec, v.mid())).collect();
        let alpha = rational_to_float(&problem.alpha.value, prec);
        let tape0 = net.forward(&w0);
        let h_centre = if problem.centred { tape0.outputs.clone() } else { vec![Float::new(prec); targets.len()] };
        let inv_alpha = Float::with_val(prec, alpha.recip_ref());
        let flow = Flow {
            net,
            prec,
            p: w0.len(),
            alpha,
            inv_alpha,
            h_centre,
            targets,
            companion: Companion::Linear { k0: Vec::new(), r_anchor: Vec::new() },
            evals: Default::default(),
            max_evals: 0,
            escape: Vec::new(),
            lambda: rational_to_float(&problem.regularization.value, prec),
            w_anchor: w0,
        };
        (flow, tape0)
    }

    /// `r = alpha (h - h_centre) - y`.
    fn residual(&self, h: &[Float]) -> Vec<Float> {
        h.iter()
            .zip(&self.h_centre)
            .zip(&self.targets)
            .map(|((hi, ci), yi)| {
                let g = Float::with_val(self.prec, hi - ci);
                Float::with_val(self.prec, g * &self.alpha) - yi
            })
            .collect()
    }

    /// `w' = -(1/alpha) J(w)^T r(w) - lambda (w - w0)`.
    fn w_field(&self, w: &[Float]) -> Vec<Float> {
        let tape = self.net.forward(w);
        let r = self.residual(&tape.outputs);
        let mut out = self.net.vjp(w, &tape, &r);
        for (i, g) in out.iter_mut().enumerate() {
            *g *= &self.inv_alpha;
            g.neg_assign();
            if !self.lambda.is_zero() {
                *g -= Float::with_val(self.prec, &w[i] - &self.w_anchor[i]) * &self.lambda;
            }
        }
        out
    }

    /// The vector field of the combined state: `(w, rbar)` with
    /// `rbar' = -K0 rbar - lambda (rbar - rbar(0))`, or `(w, w_Q)` with `w_Q' = F_Q(w_Q)`.
    fn field(&self, y: &[Float]) -> Vec<Float> {
        self.evals.set(self.evals.get() + 1);
        let mut out = self.w_field(&y[..self.p]);
        match &self.companion {
            Companion::Linear { k0, r_anchor } => {
                for (a, v) in matvec(k0, &y[self.p..]).into_iter().enumerate() {
                    let mut v = -v;
                    if !self.lambda.is_zero() {
                        v -= Float::with_val(self.prec, &y[self.p + a] - &r_anchor[a]) * &self.lambda;
                    }
                    out.push(v);
                }
            }
            Companion::Taylor(model) => out.extend(model.eval(&y[self.p..], true, false).field.expect("field")),
        }
        out
    }

    /// The reference model's residual at its half `z` of the state: `rbar` itself, or
    /// `r_Q = alpha (h_Q(w_Q) - h_centre) - y`.
    fn companion_residual(&self, z: &[Float]) -> Vec<Float> {
        match &self.companion {
            Companion::Linear { .. } => z.to_vec(),
            Companion::Taylor(model) => self.residual(&model.eval(z, false, false).outputs),
        }
    }

    /// `(D, |e'|)` at state `y`: `e = r - rbar` and `e' = K0 rbar - K(w) r` (without the
    /// penalty's terms), or `e = r - r_Q` and `e' = alpha (J(w) w' - J_Q(w_Q) w_Q')` (exact,
    /// with the penalty).
    fn diagnostics(&self, y: &[Float]) -> (Float, Float) {
        let w = &y[..self.p];
        let z = &y[self.p..];
        let tape = self.net.forward(w);
        let r = self.residual(&tape.outputs);
        let jac = self.net.jacobian(w, &tape);
        let (r_ref, de) = match &self.companion {
            Companion::Linear { k0, .. } => {
                let jtr = self.net.vjp(w, &tape, &r);
                let kr = matvec(&jac, &jtr);
                let k0rbar = matvec(k0, z);
                let de: Vec<Float> = k0rbar.iter().zip(&kr).map(|(a, b)| Float::with_val(self.prec, a - b)).collect();
                (z.to_vec(), de)
            }
            Companion::Taylor(model) => {
                let values = model.eval(z, true, true);
                let jw = matvec(&jac, &self.w_field(w));
                let de: Vec<Float> = jw
                    .iter()
                    .zip(values.slope.as_ref().expect("slope"))
                    .map(|(a, b)| Float::with_val(self.prec, a - b) * &self.alpha)
                    .collect();
                (self.residual(&values.outputs), de)
            }
        };
        let e: Vec<Float> = r.iter().zip(&r_ref).map(|(a, b)| Float::with_val(self.prec, a - b)).collect();
        (norm2(&e), norm2(&de))
    }
}

struct Run {
    y_final: Vec<Float>,
    samples: Vec<(Float, Float)>,
    slope_max: Float,
    /// Accepted macro step lengths, per sample interval.
    grid: Vec<Vec<Float>>,
    /// `(t, D, |e'|)` at every macro step end, `t = 0` included (checking run only, else empty).
    step_samples: Vec<(Float, Float, Float)>,
    /// The largest error indicator of a step that did not converge (fine run only), else 0;
    /// infinite when a step of the fine run was abandoned as diverging.
    unconverged: Float,
}

/// How the macro steps of a run are chosen.
enum Steps<'a> {
    /// Step-size control: macro steps at most `h_max`; each step extrapolates until the error
    /// indicator is at most `tol` (at most `levels` rows) or is rejected and retried shorter.
    Adaptive { tol: Float, h_max: Float },
    /// Every step of a previous run's grid, halved, extrapolating to the tolerance `tol` with up
    /// to `levels` rows; a step that does not converge is kept and its indicator recorded.
    Halved { grid: &'a [Vec<Float>], tol: Float },
}

/// Safety cap on the number of macro steps of one run.
const MAX_STEPS: usize = 1_000_000;

/// The next step length after a step of length `h` with error indicators `errors` (columns
/// 2, 3, ...): the length minimising the work per unit time, `(j^2 + 1) / h_j` with
/// `h_j = 0.9 h (tol / err_j)^(1 / (2j - 1))`, then clamped to [h/5, 4h].
fn next_step(h: &Float, errors: &[Float], tol: &Float) -> Float {
    let prec = h.prec();
    let mut best: Option<(f64, f64)> = None; // (work per unit time, factor)
    for (idx, err) in errors.iter().enumerate() {
        let j = idx + 2;
        let factor = if *err == 0u32 {
            4.0
        } else {
            let q = Float::with_val(prec, tol / err).to_f64();
            0.9 * q.powf(1.0 / (2 * j - 1) as f64)
        };
        let work = (j * j + 1) as f64 / factor.min(4.0);
        if best.is_none_or(|(w, _)| work < w) {
            best = Some((work, factor));
        }
    }
    Float::with_val(prec, h * best.map_or(0.5, |(_, f)| f.clamp(0.2, 4.0)))
}

fn run(flow: &Flow, y0: &[Float], horizon: &Float, samples: usize, steps: Steps<'_>, levels: usize) -> Option<Run> {
    let prec = flow.prec;
    let intervals = samples - 1;
    let dt = Float::with_val(prec, horizon / (intervals as u32));
    let mut y = y0.to_vec();
    let mut out = Vec::with_capacity(samples);
    let mut slope_max = Float::new(prec);
    let mut unconverged = Float::new(prec);
    let mut grid: Vec<Vec<Float>> = Vec::with_capacity(intervals);
    let mut step_samples = Vec::new();
    let mut field = |s: &[Float]| flow.field(s);
    let mut total = 0usize;
    let mut h_next = match &steps {
        Steps::Adaptive { h_max, .. } => h_max.clone(),
        Steps::Halved { .. } => Float::new(prec),
    };
    for s in 0..=intervals {
        let t = Float::with_val(prec, &dt * (s as u32));
        let (d, slope) = flow.diagnostics(&y);
        if let Steps::Halved { .. } = steps {
            step_samples.push((t.clone(), d.clone(), slope.clone()));
        }
        if slope > slope_max {
            slope_max = slope;
        }
        out.push((t.clone(), d));
        if s == intervals {
            break;
        }
        let mut taken = Vec::new();
        match &steps {
            Steps::Halved { grid, tol } => {
                let mut t_step = t;
                let halves = 2 * grid[s].len();
                for h in &grid[s] {
                    let half = Float::with_val(prec, h / 2u32);
                    for _ in 0..2 {
                        let f0 = field(&y);
                        let step = gbs_step(&mut field, &y, &f0, &half, levels, Some(tol), Some(&flow.escape));
                        if step.escaped {
                            // The first run passed this interval in steps twice as long: the
                            // reference is not to be trusted; say so through its error estimate.
                            unconverged = Float::with_val(prec, rug::float::Special::Infinity);
                        } else if !step.converged {
                            if let Some(e) = step.errors.last() {
                                if *e > unconverged {
                                    unconverged = e.clone();
                                }
                            }
                        }
                        y = step.value;
                        t_step += &half;
                        taken.push(half.clone());
                        // The interval's last step ends on the next sample time, recorded there.
                        if taken.len() < halves {
                            let (d, slope) = flow.diagnostics(&y);
                            step_samples.push((t_step.clone(), d, slope));
                        }
                    }
                    if flow.evals.get() > flow.max_evals {
                        return None;
                    }
                }
            }
            Steps::Adaptive { tol, h_max } => {
                let mut remaining = dt.clone();
                while remaining > 0u32 {
                    let last = h_next >= remaining;
                    let h = if last { remaining.clone() } else { h_next.clone() };
                    let f0 = field(&y);
                    let step = gbs_step(&mut field, &y, &f0, &h, levels, Some(tol), Some(&flow.escape));
                    total += 1;
                    assert!(total < MAX_STEPS, "reference: more than {MAX_STEPS} steps");
                    if flow.evals.get() > flow.max_evals {
                        return None;
                    }
                    let proposal = next_step(&h, &step.errors, tol);
                    if step.converged {
                        y = step.value;
                        remaining -= &h;
                        if last {
                            remaining = Float::new(prec);
                        }
                        taken.push(h.clone());
                        // A last step shortened to the sample time does not shrink the next one.
                        if !last || proposal > h_next {
                            h_next = proposal;
                        }
                    } else {
                        h_next = if proposal < h { proposal } else { Float::with_val(prec, &h / 2u32) };
                    }
                    if h_next > *h_max {
                        h_next = h_max.clone();
                    }
                }
            }
        }
        grid.push(taken);
        // Give up early when the first run's pace projects past the budget (the checking run
        // costs about twice the first).
        if let Steps::Adaptive { .. } = steps {
            let projected = flow.evals.get() as f64 * intervals as f64 / (s + 1) as f64 * 3.0;
            if projected > flow.max_evals as f64 {
                return None;
            }
        }
    }
    Some(Run { y_final: y, samples: out, slope_max, grid, step_samples, unconverged })
}

/// Computes the reference solution of `problem` (interval data replaced by midpoints).
pub fn reference(problem: &Problem, options: &ReferenceOptions) -> Reference {
    try_reference(problem, options, u64::MAX).expect("no evaluation budget")
}

/// The gradient-flow vector field `F(w) = -(1/alpha) J(w)^T r(w)` at the point `w` (exact
/// values), in MPFR at `prec` bits, with the spec's targets and centring (`h` at the midpoint of
/// `w0`'s enclosure). An independent reference for the integrator's field coefficients along a
/// path (`proofs/tube-integrator.md`, Lemmas 0-1).
pub fn field_at(problem: &Problem, w: &[Float], prec: u32) -> Vec<Float> {
    Flow::new(problem, prec).0.w_field(w)
}

/// The network's outputs `h(w)` (stacked, not centred, not scaled) at the point `w` (exact
/// values), in MPFR at the precision of `w`: the reference for the outputs along a path
/// (`proofs/tube-integrator.md`, Lemma 1N).
pub fn outputs_at(problem: &Problem, w: &[Float], prec: u32) -> Vec<Float> {
    let w: Vec<Float> = w.iter().map(|x| Float::with_val(prec, x)).collect();
    Net::new(problem, prec).forward(&w).outputs
}

/// The order-`q` Taylor model of the network around `w0` at the point `w` (exact values), in
/// MPFR at `prec` bits: `(h_Q(w), F_Q(w))` with `h_Q(w) = sum_{r<=q} [eps^r] h(w0 + eps v)`,
/// `v = w - w0`, and the field `F_Q = -(1/alpha) grad h_Q^T r_Q - lambda (w - w0)`,
/// `grad h_Q^T r_Q = sum_{r<q} [eps^r] (J(w0 + eps v)^T r_Q)` (`proofs/taylor-models.md`,
/// Lemma M). Independent of the jets of `arith::jet`: the `eps`-coefficients come from
/// polynomial interpolation of plain evaluations of `h` and `J^T r` at the 13 points
/// `eps = j delta`, `|j| <= 6`, `delta = 2^-(prec/8)` (truncation error of coefficient `r`
/// about `delta^(13 - r)`, rounding about `2^-prec delta^-r`).
pub fn taylor_model_at(problem: &Problem, w: &[Float], q: usize, prec: u32) -> (Vec<Float>, Vec<Float>) {
    let values = TaylorModel::new(problem, q, prec, prec, prec / 8).eval(w, true, false);
    (values.outputs, values.field.expect("field"))
}

/// Rows `0..=top` of the inverse of the Vandermonde matrix `V[j][r] = nodes[j]^r` (square, the
/// nodes distinct integers), by Gauss-Jordan elimination with partial pivoting in MPFR.
fn inverse_vandermonde_rows(nodes: &[i32], top: usize, prec: u32) -> Vec<Vec<Float>> {
    let m = nodes.len();
    // Solve V^T-free: we need L with L V = I, i.e. L = V^{-1}; eliminate on [V | I].
    let mut a: Vec<Vec<Float>> = nodes
        .iter()
        .enumerate()
        .map(|(j, &u)| {
            let mut row: Vec<Float> = (0..m).map(|r| Float::with_val(prec, rug::ops::Pow::pow(&Float::with_val(prec, u), r as u32))).collect();
            row.extend((0..m).map(|c| Float::with_val(prec, u32::from(c == j))));
            row
        })
        .collect();
    for col in 0..m {
        let pivot = (col..m).max_by(|&x, &y| a[x][col].clone().abs().partial_cmp(&a[y][col].clone().abs()).expect("finite")).expect("rows");
        a.swap(col, pivot);
        let p = a[col][col].clone();
        for v in a[col].iter_mut() {
            *v /= &p;
        }
        for row in 0..m {
            if row != col {
                let f = a[row][col].clone();
                if !f.is_zero() {
                    for c in 0..2 * m {
                        let t = Float::with_val(prec, &f * &a[col][c]);
                        a[row][c] -= t;
                    }
                }
            }
        }
    }
    // a = [I | V^{-1}]; row r of V^{-1} maps the values at the nodes to coefficient r.
    (0..=top).map(|r| a[r][m..].to_vec()).collect()
}

/// [`reference`] with a budget: `None` when the integration would need more than `max_evals`
/// vector-field evaluations (each one forward and one reverse pass over all inputs). Stiff or
/// strongly nonlinear problems (small `alpha`, wide standard-parameterised layers) can need
/// very many; tests use this to bound their running time.
pub fn try_reference(problem: &Problem, options: &ReferenceOptions, max_evals: u64) -> Option<Reference> {
    integrate(problem, options, 1, max_evals)
}

/// [`reference_of_order`] with a budget, as [`try_reference`]: `None` when the integration would
/// need more than `max_evals` vector-field evaluations. For `q >= 2` one evaluation is the
/// network's field (one forward and one reverse pass) and the order-`q` model's (13 of each, at a
/// higher working precision), so it costs about 14 of [`try_reference`]'s.
pub fn try_reference_of_order(problem: &Problem, options: &ReferenceOptions, q: usize, max_evals: u64) -> Option<Reference> {
    assert!(q >= 1, "reference: the order of the reference model is at least 1");
    if q == 1 {
        return try_reference(problem, options, max_evals);
    }
    integrate(problem, options, q, max_evals)
}

/// The reference solution of `problem` with the order-`q` Taylor model of the network in the
/// place of the NTK linearisation (`proofs/taylor-models.md`, Lemma R; interval data replaced by
/// midpoints). `q = 1` is exactly [`reference`]. For `2 <= q <= 12` the combined state
/// `(w, w_Q)`, both in parameter space, is integrated as [`reference`] integrates `(w, rbar)`
/// (the same GBS runs, step control and error estimate), with `w_Q(0) = w0` and
/// `w_Q' = F_Q(w_Q) = -(1/alpha) Dh_Q(w_Q)^T r_Q - lambda (w_Q - w0)`,
/// `r_Q = alpha (h_Q(w_Q) - h_centre) - y`, `h_Q` and `F_Q` as in [`taylor_model_at`] (the same
/// interpolation, at a working precision and step `delta` chosen so that both are exact to
/// about the last bits at `precision_bits`: see `TaylorModel::for_flow`). The fields of
/// [`Reference`] then mean, with `g_Q = h_Q - h(w0)` when centred, else `h_Q`:
/// - `outputs_final`, `r0`, `macro_steps_used`, `evaluations`: as for [`reference`];
/// - `linear_outputs_final`: `alpha g_Q(w_Q(T)) = r_Q(T) + y`;
/// - `final_deviation`, `samples`: `D_Q(t) = |alpha g(w(t)) - alpha g_Q(w_Q(t))| = |r - r_Q|`;
/// - `deviation_slope_max`, `step_samples`: with `|e'| = |alpha J(w) w' - alpha J_Q(w_Q) w_Q'|`,
///   the exact derivative of `e = r - r_Q` (penalty included), so `|D_Q'| <= |e'|`;
/// - `error_estimate`: the largest difference of the two runs, as for [`reference`].
///
/// Panics when `q` is 0 or above 12 (the interpolation has 13 nodes).
pub fn reference_of_order(problem: &Problem, options: &ReferenceOptions, q: usize) -> Reference {
    try_reference_of_order(problem, options, q, u64::MAX).expect("no evaluation budget")
}

/// The two GBS runs on `(w, rbar)` (`order = 1`) or `(w, w_Q)` (`order >= 2`), and the
/// [`Reference`] of the finer.
fn integrate(problem: &Problem, options: &ReferenceOptions, order: usize, max_evals: u64) -> Option<Reference> {
    let prec = options.precision_bits;
    assert!(options.samples >= 2, "reference: at least two samples");
    assert!(options.levels >= 2, "reference: at least two extrapolation levels");
    let p = problem.num_params();
    let horizon = rational_to_float(&problem.horizon.value, prec);
    let (mut flow, tape0) = Flow::new(problem, prec);
    let w0 = flow.w_anchor.clone();
    assert_eq!(w0.len(), p, "reference: parameter count");
    assert_eq!(tape0.outputs.len(), flow.targets.len(), "reference: output count");
    flow.max_evals = max_evals;
    let r_init = flow.residual(&tape0.outputs);
    let r0 = Float::with_val(prec, dot(&r_init, &r_init) / 2u32);
    let mut y0 = w0.clone();
    if order == 1 {
        let k0 = gram(&flow.net.jacobian(&w0, &tape0));
        flow.companion = Companion::Linear { k0, r_anchor: r_init.clone() };
        y0.extend(r_init.iter().cloned());
    } else {
        flow.companion = Companion::Taylor(Box::new(TaylorModel::for_flow(problem, order, prec)));
        y0.extend(w0.iter().cloned());
    }
    flow.escape = escape_bounds(p, &flow.companion, r_init.len(), &r0, &horizon, &flow.alpha);

    // Local tolerance 2^(-0.55 prec): about 1e-33 at 200 bits.
    let tol = Float::with_val(prec, Float::i_exp(1, -((prec as f64 * 0.55) as i32)));
    let h_max = if horizon > 0u32 {
        Float::with_val(prec, &horizon / (options.macro_steps.max(1) as u32))
    } else {
        Float::with_val(prec, 1u32)
    };
    let coarse = run(&flow, &y0, &horizon, options.samples, Steps::Adaptive { tol, h_max }, options.levels)?;
    // The checking run: halved steps, a tolerance 2^(-0.2 prec) times smaller, two more rows.
    let tol_fine = Float::with_val(prec, Float::i_exp(1, -((prec as f64 * 0.75) as i32)));
    let fine_steps = Steps::Halved { grid: &coarse.grid, tol: tol_fine };
    let fine = run(&flow, &y0, &horizon, options.samples, fine_steps, options.levels + 2)?;

    let finish = |r: &Run| -> (Vec<Float>, Vec<Float>, Float) {
        let w = &r.y_final[..p];
        let rbar = flow.companion_residual(&r.y_final[p..]);
        let tape = flow.net.forward(w);
        let res = flow.residual(&tape.outputs);
        let outs: Vec<Float> = res.iter().zip(&flow.targets).map(|(a, b)| Float::with_val(prec, a + b)).collect();
        let lin: Vec<Float> = rbar.iter().zip(&flow.targets).map(|(a, b)| Float::with_val(prec, a + b)).collect();
        let e: Vec<Float> = res.iter().zip(&rbar).map(|(a, b)| Float::with_val(prec, a - b)).collect();
        (outs, lin, norm2(&e))
    };
    let (outs_c, lin_c, dev_c) = finish(&coarse);
    let (outs_f, lin_f, dev_f) = finish(&fine);
    let mut err = Float::with_val(prec, &dev_f - &dev_c).abs();
    for (a, b) in outs_f.iter().zip(&outs_c).chain(lin_f.iter().zip(&lin_c)) {
        let d = Float::with_val(prec, a - b).abs();
        if d > err {
            err = d;
        }
    }
    for ((_, a), (_, b)) in fine.samples.iter().zip(&coarse.samples) {
        let d = Float::with_val(prec, a - b).abs();
        if d > err {
            err = d;
        }
    }
    // A checking step that missed its tolerance: add its (relative) indicator, scaled.
    if fine.unconverged > 0u32 {
        let scale = outs_f.iter().chain(&lin_f).fold(Float::with_val(prec, 1u32), |m, v| {
            let a = Float::with_val(prec, v.abs_ref());
            if a > m { a } else { m }
        });
        err += Float::with_val(prec, &fine.unconverged * &scale);
    }
    Some(Reference {
        outputs_final: outs_f,
        linear_outputs_final: lin_f,
        final_deviation: dev_f,
        samples: fine.samples,
        r0,
        error_estimate: err,
        deviation_slope_max: fine.slope_max,
        step_samples: fine.step_samples,
        macro_steps_used: fine.grid.iter().map(Vec::len).sum(),
        evaluations: flow.evals.get(),
    })
}

/// Gradient descent in MPFR: `K` iterations of `w <- w + eta F(w)` (`F` the flow's field, with
/// the penalty) and of `rbar <- rbar - eta (K0 rbar + lambda (rbar - r0))`, with `D_k` at every
/// iterate. No truncation error: only MPFR rounding at the working precision (about `K 2^-prec`
/// relative), so the values are exact for any test's purpose.
#[derive(Debug, Clone)]
pub struct DescentReference {
    /// `alpha g(w_K)` per output.
    pub outputs_final: Vec<Float>,
    /// `rbar_K + y`.
    pub linear_outputs_final: Vec<Float>,
    /// `D_K`.
    pub final_deviation: Float,
    /// `max_{k <= K} D_k`.
    pub sup_deviation: Float,
    pub r0: Float,
}

/// [`DescentReference`] of a gradient-descent problem at `prec` bits (interval data replaced by
/// midpoints); `None` for a gradient-flow problem.
pub fn descent_reference(problem: &Problem, prec: u32) -> Option<DescentReference> {
    let descent = problem.descent()?;
    let eta = rational_to_float(&descent.learning_rate.value, prec);
    let (flow, tape0) = Flow::new(problem, prec);
    let w0 = flow.w_anchor.clone();
    let k0 = gram(&flow.net.jacobian(&w0, &tape0));
    let r_init = flow.residual(&tape0.outputs);
    let mut w = w0;
    let mut rbar = r_init.clone();
    let mut sup = Float::new(prec);
    let (mut outputs, mut deviation) = (Vec::new(), Float::new(prec));
    for k in 0..=descent.iterations {
        let r = flow.residual(&flow.net.forward(&w).outputs);
        let e: Vec<Float> = r.iter().zip(&rbar).map(|(a, b)| Float::with_val(prec, a - b)).collect();
        deviation = norm2(&e);
        if deviation > sup {
            sup = deviation.clone();
        }
        outputs = r.iter().zip(&flow.targets).map(|(a, y)| Float::with_val(prec, a + y)).collect();
        if k == descent.iterations {
            break;
        }
        let field = flow.w_field(&w);
        for (wi, fi) in w.iter_mut().zip(&field) {
            *wi += Float::with_val(prec, fi * &eta);
        }
        let pull = matvec(&k0, &rbar);
        for (a, (ri, pi)) in rbar.iter_mut().zip(pull).enumerate() {
            let penalty = Float::with_val(prec, &*ri - &r_init[a]) * &flow.lambda;
            *ri -= Float::with_val(prec, pi + penalty) * &eta;
        }
    }
    let linear_outputs_final = rbar.iter().zip(&flow.targets).map(|(a, y)| Float::with_val(prec, a + y)).collect();
    Some(DescentReference {
        outputs_final: outputs,
        linear_outputs_final,
        final_deviation: deviation,
        sup_deviation: sup,
        r0: Float::with_val(prec, dot(&r_init, &r_init) / 2u32),
    })
}

/// `K0 = J(w0) J(w0)^T` (`N x N`, input-major) in MPFR at `prec` bits, with every interval of
/// the problem replaced by its midpoint: the reference for the empirical kernel of
/// `ntkcert kernel` (`kernel::empirical`).
pub fn kernel_reference(problem: &Problem, prec: u32) -> Vec<Vec<Float>> {
    let net = Net::new(problem, prec);
    let w0: Vec<Float> = problem.params0.iter().map(|v| Float::with_val(prec, v.mid())).collect();
    let tape = net.forward(&w0);
    gram(&net.jacobian(&w0, &tape))
}

/// The linearised side alone: `R0` and `alpha g_lin(T) = exp(-K0 T) r0 + y`, with the matrix
/// exponential by Taylor series with scaling and squaring (independent of the GBS integrator,
/// and cheap even when the full flow is stiff).
#[derive(Debug, Clone)]
pub struct LinearReference {
    pub r0: Float,
    pub linear_outputs_final: Vec<Float>,
}

/// Computes [`LinearReference`] at precision `prec` (interval data replaced by midpoints).
pub fn linear_reference(problem: &Problem, prec: u32) -> LinearReference {
    let net = Net::new(problem, prec);
    let w0: Vec<Float> = problem.params0.iter().map(|v| Float::with_val(prec, v.mid())).collect();
    let targets: Vec<Float> = problem.targets.iter().map(|v| Float::with_val(prec, v.mid())).collect();
    let alpha = rational_to_float(&problem.alpha.value, prec);
    let horizon = rational_to_float(&problem.horizon.value, prec);
    let tape0 = net.forward(&w0);
    let r_init: Vec<Float> = tape0
        .outputs
        .iter()
        .zip(&targets)
        .map(|(h, y)| {
            let g = if problem.centred { Float::new(prec) } else { Float::with_val(prec, h * &alpha) };
            g - y
        })
        .collect();
    let r0 = Float::with_val(prec, dot(&r_init, &r_init) / 2u32);
    let k0 = gram(&net.jacobian(&w0, &tape0));
    let lambda = rational_to_float(&problem.regularization.value, prec);
    let rbar = if lambda.is_zero() {
        matvec(&expm_neg(&k0, &horizon, prec), &r_init)
    } else {
        // rbar' = -(K0 + lambda I) rbar + lambda r0: the state (rbar, r0) obeys z' = -K z with
        // K = [[K0 + lambda I, -lambda I], [0, 0]], and exp(-K T) (scaling and squaring does
        // not need symmetry) maps (r0, r0) to (rbar(T), r0).
        let n = k0.len();
        let mut big = vec![vec![Float::new(prec); 2 * n]; 2 * n];
        for a in 0..n {
            for b in 0..n {
                big[a][b] = k0[a][b].clone();
            }
            big[a][a] += &lambda;
            big[a][n + a] = Float::with_val(prec, -&lambda);
        }
        let mut state = r_init.clone();
        state.extend(r_init.iter().cloned());
        matvec(&expm_neg(&big, &horizon, prec), &state)[..n].to_vec()
    };
    let linear_outputs_final = rbar.iter().zip(&targets).map(|(a, b)| Float::with_val(prec, a + b)).collect();
    LinearReference { r0, linear_outputs_final }
}

/// `exp(-K0 t) c` at `prec` bits (`K0` of [`kernel_reference`], the matrix exponential by
/// scaling and squaring): the linearised residual flow from `c`, an independent reference for
/// `enclose::linear::LinearFlow::step`.
pub fn linear_flow_from(problem: &Problem, c: &[f64], t: f64, prec: u32) -> Vec<Float> {
    let k = kernel_reference(problem, prec);
    let e = expm_neg(&k, &Float::with_val(prec, t), prec);
    let c: Vec<Float> = c.iter().map(|&x| Float::with_val(prec, x)).collect();
    matvec(&e, &c)
}

/// `exp(-K t)` for a symmetric positive semi-definite `K`: Taylor series of `exp(-K t / 2^s)`
/// with `|K t| / 2^s <= 1/2`, then `s` squarings. Working precision `prec + 64`.
fn expm_neg(k: &[Vec<Float>], t: &Float, prec: u32) -> Vec<Vec<Float>> {
    let n = k.len();
    let wp = prec + 64;
    // Frobenius norm bounds the spectral norm.
    let mut norm = Float::new(wp);
    for row in k {
        for x in row {
            norm += Float::with_val(wp, x.square_ref());
        }
    }
    let norm = norm.sqrt() * t;
    let mut s = 0u32;
    let mut scaled = norm.clone();
    while scaled > 0.5f64 {
        scaled /= 2u32;
        s += 1;
    }
    // a = -K t / 2^s.
    let factor = Float::with_val(wp, -Float::with_val(wp, t) / Float::with_val(wp, Float::i_exp(1, s as i32)));
    let a: Vec<Vec<Float>> = k.iter().map(|row| row.iter().map(|x| Float::with_val(wp, x * &factor)).collect()).collect();
    let identity = |i: usize, j: usize| Float::with_val(wp, if i == j { 1u32 } else { 0u32 });
    let mut result: Vec<Vec<Float>> = (0..n).map(|i| (0..n).map(|j| identity(i, j)).collect()).collect();
    let mut term = result.clone();
    let eps = Float::with_val(wp, Float::i_exp(1, -(wp as i32)));
    for m in 1..1000u32 {
        term = matmul(&term, &a);
        let mut max = Float::new(wp);
        for row in term.iter_mut() {
            for x in row.iter_mut() {
                *x /= m;
                let ax = Float::with_val(wp, x.abs_ref());
                if ax > max {
                    max = ax;
                }
            }
        }
        for (rrow, trow) in result.iter_mut().zip(&term) {
            for (r, x) in rrow.iter_mut().zip(trow) {
                *r += x;
            }
        }
        if max < eps {
            break;
        }
    }
    for _ in 0..s {
        result = matmul(&result, &result);
    }
    result.into_iter().map(|row| row.into_iter().map(|x| Float::with_val(prec, x)).collect()).collect()
}

fn matmul(a: &[Vec<Float>], b: &[Vec<Float>]) -> Vec<Vec<Float>> {
    let n = b.first().map_or(0, Vec::len);
    a.iter()
        .map(|row| {
            (0..n)
                .map(|j| {
                    let col: Vec<Float> = b.iter().map(|r| r[j].clone()).collect();
                    dot(row, &col)
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arith::rational::Exact;
    use crate::problem::{MlpArchitecture, QuadraticModel};
    use inari::Interval;

    const PREC: u32 = 200;

    fn thin(v: f64) -> Interval {
        Interval::try_from((v, v)).unwrap()
    }

    #[test]
    fn gbs_scalar_decay() {
        let mut f = |y: &[Float]| vec![Float::with_val(PREC, -&y[0])];
        let one = Float::with_val(PREC, 1u32);
        let t = Float::with_val(PREC, 3u32);
        let y = gbs_integrate(&mut f, &[one], &t, 40, 12);
        let exact = Float::with_val(PREC, -&t).exp();
        let err = Float::with_val(PREC, &y[0] - &exact).abs();
        assert!(err < 1e-50, "error {err}");
    }

    #[test]
    fn gbs_linear_system() {
        // y' = A y, A = [[-1, 2], [-2, -1]]: y(t) = e^{-t} (cos 2t y1 + sin 2t y2, -sin 2t y1 + cos 2t y2).
        let mut f = |y: &[Float]| {
            vec![
                Float::with_val(PREC, -&y[0]) + Float::with_val(PREC, &y[1] * 2u32),
                Float::with_val(PREC, Float::with_val(PREC, &y[0] * -2i32) - &y[1]),
            ]
        };
        let y0 = [Float::with_val(PREC, 1u32), Float::with_val(PREC, 0.5)];
        let t = Float::with_val(PREC, 2u32);
        let y = gbs_integrate(&mut f, &y0, &t, 60, 12);
        let decay = Float::with_val(PREC, -&t).exp();
        let two_t = Float::with_val(PREC, &t * 2u32);
        let (s, c) = two_t.sin_cos_ref().complete(PREC);
        let e0 = Float::with_val(PREC, &c * &y0[0] + &s * &y0[1]) * &decay;
        let e1 = Float::with_val(PREC, &c * &y0[1] - &s * &y0[0]) * &decay;
        for (a, b) in y.iter().zip([e0, e1].iter()) {
            let err = Float::with_val(PREC, a - b).abs();
            assert!(err < 1e-50, "error {err}");
        }
    }

    /// Finite-difference check of the reverse-mode Jacobian on a deep mixed network.
    #[test]
    fn jacobian_matches_finite_differences() {
        let widths = vec![2, 3, 3, 2];
        let arch = MlpArchitecture {
            widths: widths.clone(),
            activations: vec![Activation::Gelu, Activation::Softplus],
            parameterization: Parameterization::Ntk,
            bias: true,
        };
        let p = arch.num_params();
        let params0: Vec<Interval> = (0..p).map(|i| thin(((i * 7 % 11) as f64 - 5.0) / 4.0)).collect();
        let problem = Problem {
            name: "fd".into(),
            architecture: Architecture::Mlp(arch),
            params0,
            inputs: vec![vec![thin(0.5), thin(-1.0)], vec![thin(1.25), thin(0.75)]],
            targets: vec![thin(0.1), thin(-0.2), thin(0.3), thin(0.4)],
            centred: false,
            alpha: Exact::from_integer(1),
            horizon: Exact::from_integer(1),
            tolerance: Exact::from_integer(1),
            regularization: Exact::from_integer(0),
            method: crate::problem::Method::GradientFlow,
            infinite_horizon: false,
            reference_order: 1,
        };
        let net = Net::new(&problem, PREC);
        let w: Vec<Float> = problem.params0.iter().map(|v| Float::with_val(PREC, v.mid())).collect();
        let tape = net.forward(&w);
        let jac = net.jacobian(&w, &tape);
        let eps = Float::with_val(PREC, 1e-20);
        for k in 0..p {
            let mut wp = w.clone();
            wp[k] += &eps;
            let mut wm = w.clone();
            wm[k] -= &eps;
            let hp = net.forward(&wp).outputs;
            let hm = net.forward(&wm).outputs;
            for i in 0..4 {
                let fd = Float::with_val(PREC, &hp[i] - &hm[i]) / Float::with_val(PREC, &eps * 2u32);
                let err = Float::with_val(PREC, &fd - &jac[i][k]).abs();
                assert!(err < 1e-35, "param {k} output {i}: error {err}");
            }
        }
    }

    fn small_tanh_problem() -> Problem {
        let arch = MlpArchitecture {
            widths: vec![2, 4, 1],
            activations: vec![Activation::Tanh],
            parameterization: Parameterization::Ntk,
            bias: true,
        };
        let p = arch.num_params();
        let params0: Vec<Interval> = (0..p).map(|i| thin(((i * 5 % 9) as f64 - 4.0) / 3.0)).collect();
        Problem {
            name: "tanh".into(),
            architecture: Architecture::Mlp(arch),
            params0,
            inputs: vec![vec![thin(0.5), thin(-1.0)], vec![thin(1.0), thin(0.25)], vec![thin(-0.75), thin(0.5)]],
            targets: vec![thin(1.0), thin(-0.5), thin(0.25)],
            centred: true,
            alpha: Exact::parse("2.5").unwrap(),
            horizon: Exact::from_integer(3),
            tolerance: Exact::from_integer(1),
            regularization: Exact::from_integer(0),
            method: crate::problem::Method::GradientFlow,
            infinite_horizon: false,
            reference_order: 1,
        }
    }

    #[test]
    fn error_estimate_is_tiny_on_small_tanh_net() {
        let problem = small_tanh_problem();
        let start = std::time::Instant::now();
        let r = reference(&problem, &ReferenceOptions::default());
        let secs = start.elapsed().as_secs_f64();
        eprintln!(
            "tanh net: D(T) = {:.20e}, error estimate {:.3e}, {} macro steps, {secs:.3} s",
            r.final_deviation.to_f64(),
            r.error_estimate.to_f64(),
            r.macro_steps_used
        );
        assert!(r.error_estimate < 1e-30, "error estimate {}", r.error_estimate);
        assert_eq!(r.samples.len(), ReferenceOptions::default().samples);
        assert_eq!(r.samples[0].1, 0u32);
        // One step sample per macro step end of the reported run, plus t = 0, in time order,
        // agreeing with the equally spaced samples where they meet.
        assert_eq!(r.step_samples.len(), r.macro_steps_used + 1);
        assert!(r.step_samples.windows(2).all(|p| p[0].0 < p[1].0));
        for (t, d) in &r.samples {
            assert!(r.step_samples.iter().any(|(ts, ds, _)| ts == t && ds == d), "sample at {t} not among the step ends");
        }
        // Outputs at T = 0 of a centred model are 0; the linear model starts at the same point.
        assert!(r.final_deviation > 0u32);
    }

    /// The GBS-integrated linearised outputs agree with the matrix exponential.
    #[test]
    fn linear_outputs_match_matrix_exponential() {
        let problem = small_tanh_problem();
        let r = reference(&problem, &ReferenceOptions::default());
        let lin = linear_reference(&problem, PREC);
        assert_eq!(lin.r0, r.r0);
        for (a, b) in r.linear_outputs_final.iter().zip(&lin.linear_outputs_final) {
            let d = Float::with_val(PREC, a - b).abs();
            assert!(d < 1e-40, "GBS {a} vs expm {b}");
        }
    }

    /// MATH.md F7 at u = 0.8, kappa ~ 1e-3.
    pub(crate) fn quadratic_problem() -> Problem {
        Problem {
            name: "f7".into(),
            architecture: Architecture::Quadratic(QuadraticModel {
                lambda: crate::arith::rational::parse_decimal("0.08").unwrap(),
                lipschitz: crate::arith::rational::parse_decimal("1").unwrap(),
            }),
            params0: vec![thin(0.0)],
            inputs: vec![vec![]],
            targets: vec![thin(1.0)],
            centred: true,
            alpha: Exact::parse("7071.0678118654755").unwrap(),
            horizon: Exact::from_integer(10),
            tolerance: Exact::from_integer(1),
            regularization: Exact::from_integer(0),
            method: crate::problem::Method::GradientFlow,
            infinite_horizon: false,
            reference_order: 1,
        }
    }

    #[test]
    fn quadratic_family_tightness_ratio() {
        let problem = quadratic_problem();
        let r = reference(&problem, &ReferenceOptions::default());
        let prec = PREC;
        let alpha = rational_to_float(&problem.alpha.value, prec);
        // kappa = T L sqrt(R0) / alpha; ratio = D(T) / (kappa sqrt(R0)) = D alpha / (T L R0).
        let ratio = Float::with_val(prec, &r.final_deviation * &alpha) / Float::with_val(prec, &r.r0 * 10u32);
        let kappa = Float::with_val(prec, r.r0.sqrt_ref()) * 10u32 / &alpha;
        let u = Float::with_val(prec, 0.8);
        let e = Float::with_val(prec, -&u).exp();
        let one_minus_e = Float::with_val(prec, 1u32 - &e);
        let limit = Float::with_val(prec, 1u32 - one_minus_e / &u) * e * 4u32;
        eprintln!(
            "F7 u=0.8: kappa = {:.6e}, ratio = {:.12}, limit = {:.12}, error estimate {:.3e}",
            kappa.to_f64(),
            ratio.to_f64(),
            limit.to_f64(),
            r.error_estimate.to_f64()
        );
        assert!(r.error_estimate < 1e-30);
        assert!((ratio.to_f64() - 0.5602).abs() < 1e-4, "ratio {ratio}");
        assert!((ratio.to_f64() - limit.to_f64()).abs() < 2e-3);
    }

    // ---- The order-q reference (`try_reference_of_order`).

    /// A `[2, 3, 1]` MLP (NTK parameterisation, biases) on 3 inputs with pseudo-random weights,
    /// inputs and targets (all f64 values, so the reference's midpoints are these exactly).
    fn tiny_mlp(act: Activation, centred: bool, alpha: &str, lambda: &str, seed: u64) -> Problem {
        let arch = MlpArchitecture {
            widths: vec![2, 3, 1],
            activations: vec![act],
            parameterization: Parameterization::Ntk,
            bias: true,
        };
        let mut state = seed;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            // A multiple of 2^-10 in [-1.5, 1.5).
            ((state >> 33) % 3072) as f64 / 1024.0 - 1.5
        };
        let p = arch.num_params();
        let params0: Vec<Interval> = (0..p).map(|_| thin(next())).collect();
        let inputs: Vec<Vec<Interval>> = (0..3).map(|_| vec![thin(next()), thin(next())]).collect();
        let targets: Vec<Interval> = (0..3).map(|_| thin(next())).collect();
        Problem {
            name: "tiny".into(),
            architecture: Architecture::Mlp(arch),
            params0,
            inputs,
            targets,
            centred,
            alpha: Exact::parse(alpha).unwrap(),
            horizon: Exact::from_integer(1),
            tolerance: Exact::from_integer(1),
            regularization: Exact::parse(lambda).unwrap(),
            method: crate::problem::Method::GradientFlow,
            infinite_horizon: false,
            reference_order: 1,
        }
    }

    /// The crude check's model in plain f64, written out for a `[2, m, 1]` tanh MLP (NTK
    /// parameterisation, biases; layout `W1` row-major, `b1`, `W2`, `b2`): `h`, its gradient by
    /// hand, and the order-`q` model `h_Q` (`q <= 3`) from the derivatives of tanh along the line
    /// `w0 + eps (w - w0)`, on which the hidden pre-activations are affine in `eps`.
    struct TinyF64 {
        m: usize,
        x: Vec<[f64; 2]>,
        y: Vec<f64>,
        w0: Vec<f64>,
        alpha: f64,
        lambda: f64,
        centred: bool,
        h0: Vec<f64>,
    }

    impl TinyF64 {
        fn new(problem: &Problem) -> TinyF64 {
            let Architecture::Mlp(a) = &problem.architecture else { panic!("mlp") };
            assert_eq!((a.widths[0], a.widths[2], a.widths.len()), (2, 1, 3));
            let mut t = TinyF64 {
                m: a.widths[1],
                x: problem.inputs.iter().map(|x| [x[0].mid(), x[1].mid()]).collect(),
                y: problem.targets.iter().map(|v| v.mid()).collect(),
                w0: problem.params0.iter().map(|v| v.mid()).collect(),
                alpha: rational_to_float(&problem.alpha.value, 64).to_f64(),
                lambda: rational_to_float(&problem.regularization.value, 64).to_f64(),
                centred: problem.centred,
                h0: Vec::new(),
            };
            let w0 = t.w0.clone();
            t.h0 = t.h(&w0);
            t
        }

        /// `(c1, c2)` and the offsets of `b1`, `W2`, `b2`.
        fn layout(&self) -> (f64, f64, usize, usize, usize) {
            let m = self.m;
            (1.0 / 2f64.sqrt(), 1.0 / (m as f64).sqrt(), 2 * m, 3 * m, 4 * m)
        }

        fn pre(&self, w: &[f64], x: &[f64; 2], j: usize) -> f64 {
            let (c1, _, b1, _, _) = self.layout();
            c1 * (w[2 * j] * x[0] + w[2 * j + 1] * x[1]) + w[b1 + j]
        }

        fn h(&self, w: &[f64]) -> Vec<f64> {
            let (_, c2, _, w2, b2) = self.layout();
            self.x.iter().map(|x| c2 * (0..self.m).map(|j| w[w2 + j] * self.pre(w, x, j).tanh()).sum::<f64>() + w[b2]).collect()
        }

        /// `J(w)^T c`.
        fn vjp(&self, w: &[f64], c: &[f64]) -> Vec<f64> {
            let (c1, c2, b1, w2, b2) = self.layout();
            let mut g = vec![0.0; w.len()];
            for (x, ci) in self.x.iter().zip(c) {
                for j in 0..self.m {
                    let t = self.pre(w, x, j).tanh();
                    let back = ci * c2 * w[w2 + j] * (1.0 - t * t);
                    g[2 * j] += back * c1 * x[0];
                    g[2 * j + 1] += back * c1 * x[1];
                    g[b1 + j] += back;
                    g[w2 + j] += ci * c2 * t;
                }
                g[b2] += ci;
            }
            g
        }

        fn h_q(&self, w: &[f64], q: usize) -> Vec<f64> {
            assert!(q <= 3);
            let (_, c2, _, w2, b2) = self.layout();
            let v: Vec<f64> = w.iter().zip(&self.w0).map(|(a, b)| a - b).collect();
            self.x
                .iter()
                .map(|x| {
                    let mut coef = [0.0f64; 4];
                    for j in 0..self.m {
                        let (z0, z1) = (self.pre(&self.w0, x, j), self.pre(&v, x, j));
                        let t = z0.tanh();
                        let d1 = 1.0 - t * t;
                        let derivs = [t, d1, -2.0 * t * d1, -2.0 * d1 * (1.0 - 3.0 * t * t)];
                        // [eps^r] tanh(z0 + eps z1) = tanh^(r)(z0) z1^r / r!.
                        let tr: Vec<f64> = (0..4).map(|r| derivs[r] * z1.powi(r as i32) / [1.0, 1.0, 2.0, 6.0][r]).collect();
                        for r in 0..4 {
                            coef[r] += c2 * self.w0[w2 + j] * tr[r];
                            if r >= 1 {
                                coef[r] += c2 * v[w2 + j] * tr[r - 1];
                            }
                        }
                    }
                    coef[0] += self.w0[b2];
                    coef[1] += v[b2];
                    coef[..=q].iter().sum()
                })
                .collect()
        }

        fn residual(&self, h: &[f64]) -> Vec<f64> {
            h.iter()
                .zip(&self.h0)
                .zip(&self.y)
                .map(|((hi, h0), yi)| self.alpha * (hi - if self.centred { *h0 } else { 0.0 }) - yi)
                .collect()
        }

        fn penalised(&self, w: &[f64], pulled: Vec<f64>) -> Vec<f64> {
            pulled.iter().zip(w).zip(&self.w0).map(|((g, wi), w0i)| -g / self.alpha - self.lambda * (wi - w0i)).collect()
        }

        fn field(&self, w: &[f64]) -> Vec<f64> {
            let r = self.residual(&self.h(w));
            self.penalised(w, self.vjp(w, &r))
        }

        /// `F_Q(w)`: the gradient of `c . h_Q` (`c = r_Q(w)` held fixed) by the five-point
        /// central difference, exact for polynomials of degree <= 4 (up to rounding).
        fn field_q(&self, w: &[f64], q: usize) -> Vec<f64> {
            let r = self.residual(&self.h_q(w, q));
            let s = 1e-2;
            let phi = |k: usize, d: f64| -> f64 {
                let mut u = w.to_vec();
                u[k] += d;
                self.h_q(&u, q).iter().zip(&r).map(|(a, b)| a * b).sum()
            };
            let pulled = (0..w.len())
                .map(|k| (phi(k, -2.0 * s) - 8.0 * phi(k, -s) + 8.0 * phi(k, s) - phi(k, 2.0 * s)) / (12.0 * s))
                .collect();
            self.penalised(w, pulled)
        }

        /// `D_Q` at the combined state.
        fn deviation(&self, y: &[f64], q: usize) -> f64 {
            let p = self.w0.len();
            let (r, r_q) = (self.residual(&self.h(&y[..p])), self.residual(&self.h_q(&y[p..], q)));
            r.iter().zip(&r_q).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt()
        }

        /// Classical RK4 on `(w, w_Q)` over `[0, 1]` with `steps` steps: `D_Q` at the `samples`
        /// equally spaced times, and the final state.
        fn rk4(&self, q: usize, steps: usize, samples: usize) -> (Vec<f64>, Vec<f64>) {
            let p = self.w0.len();
            let f = |y: &[f64]| -> Vec<f64> {
                let mut out = self.field(&y[..p]);
                out.extend(self.field_q(&y[p..], q));
                out
            };
            let mut y: Vec<f64> = self.w0.iter().chain(&self.w0).copied().collect();
            let h = 1.0 / steps as f64;
            let per = steps / (samples - 1);
            assert_eq!(per * (samples - 1), steps);
            let mut d = vec![self.deviation(&y, q)];
            let axpy = |y: &[f64], k: &[f64], c: f64| -> Vec<f64> { y.iter().zip(k).map(|(a, b)| a + c * b).collect() };
            for step in 1..=steps {
                let k1 = f(&y);
                let k2 = f(&axpy(&y, &k1, h / 2.0));
                let k3 = f(&axpy(&y, &k2, h / 2.0));
                let k4 = f(&axpy(&y, &k3, h));
                for i in 0..y.len() {
                    y[i] += h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
                }
                if step % per == 0 {
                    d.push(self.deviation(&y, q));
                }
            }
            (d, y)
        }
    }

    /// The order-2 and order-3 references against plain f64 RK4 (2000 steps) on the same two
    /// flows, with the model and both fields written out independently in f64: `D_Q` at every
    /// sample time and the final outputs of both, centred and not, with and without the penalty.
    #[test]
    fn order_q_reference_matches_f64_rk4() {
        let cases = [(2, true, "0", 11), (3, false, "0", 12), (2, false, "0.5", 13), (3, true, "0.5", 15)];
        // 128 bits: a GBS tolerance of 2^-70, far below the check's 1e-9, at half the cost.
        let options = ReferenceOptions { precision_bits: 128, ..ReferenceOptions::default() };
        for (q, centred, lambda, seed) in cases {
            let problem = tiny_mlp(Activation::Tanh, centred, "4", lambda, seed);
            let start = std::time::Instant::now();
            let r = reference_of_order(&problem, &options, q);
            let secs = start.elapsed().as_secs_f64();
            let crude = TinyF64::new(&problem);
            let (d, y) = crude.rk4(q, 2000, ReferenceOptions::default().samples);
            let p = crude.w0.len();
            let outs: Vec<f64> = crude.residual(&crude.h(&y[..p])).iter().zip(&crude.y).map(|(a, b)| a + b).collect();
            let model_outs: Vec<f64> =
                crude.residual(&crude.h_q(&y[p..], q)).iter().zip(&crude.y).map(|(a, b)| a + b).collect();
            let worst = r.samples.iter().zip(&d).map(|((_, a), b)| (a.to_f64() - b).abs()).fold(0.0, f64::max);
            eprintln!(
                "q = {q}, centred {centred}, lambda {lambda}: D_Q(T) = {:.15e} (RK4 {:.15e}), largest sample difference \
                 {worst:.2e}, error estimate {:.2e}, slope max {:.4e}, {} macro steps, {} evaluations, {secs:.2} s",
                r.final_deviation.to_f64(),
                d.last().unwrap(),
                r.error_estimate.to_f64(),
                r.deviation_slope_max.to_f64(),
                r.macro_steps_used,
                r.evaluations
            );
            assert!(r.error_estimate < 1e-18, "error estimate {}", r.error_estimate);
            assert!(d[d.len() - 1] > 1e-4, "a deviation to compare");
            // h_Q(w0) = h(w0) up to the interpolation's rounding.
            assert!(r.samples[0].1 < 1e-30);
            assert!(worst < 1e-9, "D_Q samples differ by {worst}");
            assert!((r.final_deviation.to_f64() - d[d.len() - 1]).abs() < 1e-9);
            for (a, b) in r.outputs_final.iter().zip(&outs).chain(r.linear_outputs_final.iter().zip(&model_outs)) {
                assert!((a.to_f64() - b).abs() < 1e-9, "outputs {a} vs RK4 {b}");
            }
            assert_eq!(r.step_samples.len(), r.macro_steps_used + 1);
            // |D'| <= |e'|: the slope bounds the change of D_Q between consecutive step ends.
            for pair in r.step_samples.windows(2) {
                let (t0, d0, s0) = &pair[0];
                let (t1, d1, s1) = &pair[1];
                let bound = Float::with_val(PREC, s0 + s1) * Float::with_val(PREC, t1 - t0) + 1e-30;
                assert!(Float::with_val(PREC, d1 - d0).abs() <= bound, "D_Q jumps between {t0} and {t1}");
            }
        }
    }

    /// A two-layer linear network is a polynomial of degree 2 in its weights, so its models of
    /// order >= 2 are the network itself: `D_Q = 0` up to rounding, while the NTK deviates.
    #[test]
    fn deep_linear_network_equals_its_order_q_models() {
        for centred in [true, false] {
            let problem = tiny_mlp(Activation::Identity, centred, "4", "0", 21);
            let linear = reference_of_order(&problem, &ReferenceOptions::default(), 1);
            eprintln!("deep linear, centred {centred}: NTK D(T) = {:.6e}", linear.final_deviation.to_f64());
            assert!(linear.final_deviation > 1e-6);
            for q in [2, 3] {
                let r = reference_of_order(&problem, &ReferenceOptions::default(), q);
                let sup = r.samples.iter().map(|(_, d)| d.to_f64()).fold(0.0, f64::max);
                let steps_sup = r.step_samples.iter().map(|(_, d, _)| d.to_f64()).fold(0.0, f64::max);
                eprintln!(
                    "  q = {q}: sup D_Q = {sup:.3e} (step ends {steps_sup:.3e}), error estimate {:.2e}",
                    r.error_estimate.to_f64()
                );
                assert!(sup < 1e-40 && steps_sup < 1e-40 && r.final_deviation < 1e-40, "D_Q {sup}");
                assert!(r.error_estimate < 1e-30);
                for (a, b) in r.outputs_final.iter().zip(&r.linear_outputs_final) {
                    assert!(Float::with_val(PREC, a - b).abs() < 1e-40);
                }
                // The network's side is the one of `reference`.
                for (a, b) in r.outputs_final.iter().zip(&linear.outputs_final) {
                    assert!(Float::with_val(PREC, a - b).abs() < 1e-30);
                }
            }
        }
    }

    /// `q = 1` is `try_reference` exactly.
    #[test]
    fn order_one_is_the_ntk_reference() {
        let problem = tiny_mlp(Activation::Tanh, true, "4", "0.5", 31);
        let a = reference(&problem, &ReferenceOptions::default());
        let b = reference_of_order(&problem, &ReferenceOptions::default(), 1);
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
    }

    /// `sup D_Q` falls like `alpha^-Q` along `alpha = 10, 20, 40` for `Q = 1, 2` (the network
    /// moves `O(1/alpha)`, `h - h_Q = O(|w - w0|^(Q+1))`, times `alpha`): the least-squares slope
    /// of `log sup D_Q` against `log alpha` is within 0.3 of `-Q`.
    #[test]
    fn order_q_deviation_scales_like_alpha_to_the_minus_q() {
        let alphas = [10.0f64, 20.0, 40.0];
        for q in [1, 2] {
            let options = ReferenceOptions { precision_bits: 128, ..ReferenceOptions::default() };
            let sups: Vec<f64> = alphas
                .iter()
                .map(|a| {
                    let problem = tiny_mlp(Activation::Tanh, true, &a.to_string(), "0", 41);
                    let r = reference_of_order(&problem, &options, q);
                    assert!(r.error_estimate < 1e-18);
                    r.samples.iter().map(|(_, d)| d.to_f64()).fold(0.0, f64::max)
                })
                .collect();
            let xs: Vec<f64> = alphas.iter().map(|a| a.ln()).collect();
            let ys: Vec<f64> = sups.iter().map(|d| d.ln()).collect();
            let (mx, my) = (xs.iter().sum::<f64>() / 3.0, ys.iter().sum::<f64>() / 3.0);
            let slope = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum::<f64>()
                / xs.iter().map(|x| (x - mx) * (x - mx)).sum::<f64>();
            eprintln!("Q = {q}: sup D_Q = {sups:?} at alpha = {alphas:?}, fitted exponent {slope:.4}");
            assert!((slope + q as f64).abs() < 0.3, "exponent {slope} for Q = {q}");
        }
    }
}
