//! The infinite-width prediction of gradient-flow training and its distance to the finite-width
//! linearised trajectory that `certify` encloses.
//!
//! Time convention (`proofs/infinite-width-kernels.md`, "The prediction"): `certify`'s linearised
//! residual obeys `rbar' = -K0 rbar` with `K0 = J(w0) J(w0)^T` (no `1/n`, no `alpha`: MATH.md),
//! and `Theta` has the same normalisation (one scalar output; `Theta (x) I` for several), so the
//! infinite-width model of the centred network trained on the same objective is
//! `f_inf(t) = (I - exp(-Theta t)) y` in the same time `t`, and on test inputs
//! `f_inf(x*, t) = Theta(x*, X) int_0^t exp(-Theta s) y ds` (no inverse of `Theta`).
//!
//! - [`predict`]: `f_inf` enclosed at the times `k T / SAMPLES`, by `LinearFlow`'s rigorous
//!   matrix exponential of `Theta` (`proofs/matrix-exponential.md`) and the integral of its
//!   Taylor steps (Lemma P1 of the proof).
//! - [`kernel_gap`]: `sup_{t <= T} |fbar_K0(t) - f_inf(t)| <= |K0 - Theta (x) I|_2 |y|
//!   min(T, (1 - e^{-lambda T}) / lambda)` (and `<= 2 |y|`), Lemma P2 of the proof.

use super::spectrum::spectrum;
use crate::arith::ball::Ball;
use crate::arith::fast_interval::FastInterval;
use crate::arith::rational::rational_to_interval;
use crate::arith::scalar::Scalar;
use crate::enclose::linear::LinearFlow;
use crate::enclose::poly::norm2_upper;
use inari::Interval;
use num_rational::BigRational;
use num_traits::{ToPrimitive, Zero};

/// The prediction is given at `k T / SAMPLES`, `k = 0, ..., SAMPLES`.
pub const SAMPLES: usize = 8;
/// Taylor order of the matrix exponential's steps.
const ORDER: usize = 12;
/// The step's remainder factor target (`LinearFlow::max_step`; accuracy only).
const STEP_TOLERANCE: f64 = 1e-17;
/// The largest work `steps x N^2 x ORDER` (multiply-adds) spent on a prediction.
pub const WORK_LIMIT: f64 = 4e9;

/// `f_inf` enclosed at the sample times.
#[derive(Debug, Clone)]
pub struct Prediction {
    /// `t_k = k T / SAMPLES` (exact).
    pub times: Vec<BigRational>,
    /// `f_inf(t_k)` on the training inputs (`n * outputs` entries, input-major).
    pub train: Vec<Vec<Interval>>,
    /// `f_inf(x*, t_k)` on the test inputs (`m * outputs` entries, input-major).
    pub test: Vec<Vec<Interval>>,
    /// Matrix-exponential steps taken.
    pub steps: usize,
}

/// `A (x) I_outputs` as balls (`rows * outputs x cols * outputs`, input-major) from the
/// row-major `rows x cols` enclosure `a`.
pub fn kron_identity(a: &[Interval], rows: usize, cols: usize, outputs: usize) -> Vec<Vec<Ball>> {
    (0..rows * outputs)
        .map(|r| {
            (0..cols * outputs)
                .map(|c| if r % outputs == c % outputs { Ball::from_interval(a[(r / outputs) * cols + c / outputs]) } else { Ball::ZERO })
                .collect()
        })
        .collect()
}

/// `f_inf(t) = (I - exp(-Theta t)) y` on the training inputs and `Theta(x*, X) int_0^t
/// exp(-Theta s) y ds` on the test inputs, enclosed at `t_k = k T / SAMPLES` (every enclosure
/// contains the exact value for every `Theta`, cross-kernel and `y` in the given enclosures,
/// `Theta` symmetric positive semi-definite). `theta`: `n x n`, `cross`: `m x n` (row-major),
/// `targets`: `n * outputs`. `Err` (one line) when the work would exceed [`WORK_LIMIT`].
///
/// Per step of length `h` (`LinearFlow::step`): `v(t_k + s) = exp(-Theta s) v(t_k)` lies within
/// `radius` of `sum_j c_j s^j` (fixed `c_j` in `coeffs[j]`), so `int_0^h v(t_k + s) ds` lies
/// within `radius h` of `sum_j c_j h^{j+1} / (j+1)` (Lemma P1 of the proof).
pub fn predict(theta: &[Interval], n: usize, cross: &[Interval], m: usize, outputs: usize, targets: &[Interval], horizon: &BigRational) -> Result<Prediction, String> {
    predict_with(theta, n, cross, m, outputs, targets, horizon, STEP_TOLERANCE)
}

/// [`predict`] with the steps' remainder target `step_tolerance` (accuracy only; tests use a
/// coarse one, where the remainders decide containment).
// `!(work <= limit)` also refuses a NaN work estimate.
#[allow(clippy::too_many_arguments, clippy::neg_cmp_op_on_partial_ord)]
pub fn predict_with(theta: &[Interval], n: usize, cross: &[Interval], m: usize, outputs: usize, targets: &[Interval], horizon: &BigRational, step_tolerance: f64) -> Result<Prediction, String> {
    let big_n = n * outputs;
    let flow = LinearFlow::from_kernel(kron_identity(theta, n, n, outputs));
    let cross_balls = kron_identity(cross, m, n, outputs);
    let samples = SAMPLES as i64;
    let times: Vec<BigRational> = (0..=samples).map(|k| horizon * BigRational::from_integer(k.into()) / BigRational::from_integer(samples.into())).collect();
    let segment = horizon / BigRational::from_integer(samples.into());
    let seg_f64 = segment.to_f64().unwrap_or(f64::INFINITY);
    let h_max = flow.max_step(ORDER, step_tolerance);
    let per_segment = if segment.is_zero() { 0.0 } else { (seg_f64 / h_max).ceil().max(1.0) };
    let work = per_segment * SAMPLES as f64 * (big_n as f64).powi(2).max(1.0) * ORDER as f64;
    if !(work <= WORK_LIMIT) {
        return Err(format!(
            "the prediction needs about {:.1e} operations ({} steps of order {ORDER} on a {big_n} x {big_n} kernel; |Theta| T = {:.3e}), more than the limit {WORK_LIMIT:.0e}",
            work,
            per_segment * SAMPLES as f64,
            flow.kernel_norm * seg_f64 * SAMPLES as f64
        ));
    }
    let per_segment = per_segment as usize;
    let zero_row = |len: usize| vec![Interval::try_from((0.0, 0.0)).expect("0"); len];
    let mut train = vec![zero_row(big_n)];
    let mut test = vec![zero_row(m * outputs)];
    if per_segment == 0 {
        for _ in 0..SAMPLES {
            train.push(zero_row(big_n));
            test.push(zero_row(m * outputs));
        }
        return Ok(Prediction { times, train, test, steps: 0 });
    }
    let h = rational_to_interval(&(&segment / BigRational::from_integer((per_segment as i64).into())));
    let hf = FastInterval::from_inari(h);
    // powers[j] = h^{j+1} / (j+1), enclosed.
    let mut powers = Vec::with_capacity(ORDER + 1);
    let mut p = hf;
    for j in 0..=ORDER {
        powers.push(p / FastInterval::point((j + 1) as f64));
        p = p * hf;
    }
    let y: Vec<FastInterval> = targets.iter().map(|&v| FastInterval::from_inari(v)).collect();
    let mut centre: Vec<f64> = targets.iter().map(|v| v.mid()).collect();
    let offsets: Vec<FastInterval> = y.iter().zip(&centre).map(|(&v, &c)| v - FastInterval::point(c)).collect();
    let mut radius = norm2_upper(&offsets);
    let mut integral = vec![FastInterval::ZERO; big_n];
    let mut integral_radius = 0.0f64;
    let row_norms: Vec<f64> = cross_balls.iter().map(|row| norm2_upper(&row.iter().map(|b| b.to_fast()).collect::<Vec<_>>())).collect();
    let mut steps = 0;
    for _ in 0..SAMPLES {
        let mut last = None;
        for _ in 0..per_segment {
            let step = flow.step(&centre, radius, h, ORDER);
            for (i, acc) in integral.iter_mut().enumerate() {
                let mut s = FastInterval::ZERO;
                for (j, c) in step.coeffs.iter().enumerate() {
                    s += c[i] * powers[j];
                }
                *acc += s;
            }
            integral_radius = (FastInterval::point(integral_radius) + FastInterval::point(step.radius) * FastInterval::point(hf.hi)).hi;
            (centre, radius) = step.next_ball();
            steps += 1;
            last = Some(step);
        }
        let step = last.expect("per_segment >= 1");
        let e = FastInterval { lo: -step.radius, hi: step.radius };
        train.push(y.iter().zip(&step.end).map(|(&yi, &vi)| (yi - (vi + e)).to_inari()).collect());
        let g: Vec<Ball> = integral.iter().map(|v| Ball::from_fast(*v)).collect();
        test.push(
            cross_balls
                .iter()
                .zip(&row_norms)
                .map(|(row, &norm)| {
                    let r = (FastInterval::point(norm) * FastInterval::point(integral_radius)).hi;
                    (Ball::dot(Ball::ZERO, row, &g).to_fast() + FastInterval { lo: -r, hi: r }).to_inari()
                })
                .collect(),
        );
    }
    Ok(Prediction { times, train, test, steps })
}

/// The bound of `sup_t |fbar_K0(t) - f_inf(t)|` and its factors.
#[derive(Debug, Clone, Copy)]
pub struct Gap {
    /// `>= sup_{0 <= t <= T} |fbar_K0(t) - f_inf(t)|_2` (over all outputs).
    pub bound: f64,
    /// `>= |K0 - Theta (x) I|_2`.
    pub difference_norm: f64,
    /// `>= |y|_2`.
    pub targets_norm: f64,
    /// `>= min(T, (1 - e^{-lambda T}) / lambda)` (`1/lambda` for all time).
    pub time_factor: f64,
}

/// Lemma P2 of the proof: for the centred model (`rbar(0) = -y`) with penalty `lambda >= 0`
/// (enclosed by `lambda`), `|fbar_K0(t) - f_inf(t)| <= |K0 - Theta (x) I|_2 |y| (1 - e^{-lambda
/// t}) / lambda` (`t` for `lambda = 0`), nondecreasing in `t`, and `<= 2 |y|`. `k0`: the
/// `N x N` enclosure of `K0`; `theta`: `n x n`; `horizon`: `None` for all time (needs
/// `lambda > 0`). `|K0 - Theta (x) I|_2` is the smaller of the Frobenius norm and the certified
/// extreme eigenvalues of the (symmetric) difference (Lemma C).
pub fn kernel_gap(k0: &[Vec<Ball>], theta: &[Interval], n: usize, outputs: usize, targets: &[Interval], horizon: Option<&BigRational>, lambda: Interval) -> Gap {
    let big_n = n * outputs;
    let limit = kron_identity(theta, n, n, outputs);
    let diff: Vec<Ball> = k0.iter().zip(&limit).flat_map(|(a, b)| a.iter().zip(b).map(|(&x, &y)| x - y).collect::<Vec<_>>()).collect();
    let frobenius = norm2_upper(&diff.iter().map(|b| b.to_fast()).collect::<Vec<_>>());
    let sp = spectrum(&diff, big_n);
    let spectral = sp.lambda_max.hi.max(-sp.lambda_min.lo).max(0.0);
    let difference_norm = if spectral.is_finite() { spectral.min(frobenius) } else { frobenius };
    let targets_norm = norm2_upper(&targets.iter().map(|&v| FastInterval::from_inari(v)).collect::<Vec<_>>());
    let lam = lambda.inf().max(0.0);
    let time_factor = match horizon {
        Some(t) => {
            let t = FastInterval::from_inari(rational_to_interval(t));
            if lam > 0.0 {
                let l = FastInterval::point(lam);
                let f = (FastInterval::point(1.0) - (-(l * t)).exp()) / l;
                f.hi.min(t.hi)
            } else {
                t.hi
            }
        }
        None if lam > 0.0 => (FastInterval::point(1.0) / FastInterval::point(lam)).hi,
        None => f64::INFINITY,
    };
    let linear = (FastInterval::point(difference_norm) * FastInterval::point(targets_norm) * FastInterval::point(time_factor)).hi;
    let trivial = (FastInterval::point(2.0) * FastInterval::point(targets_norm)).hi;
    let bound = if linear.is_nan() { trivial } else { linear.min(trivial) };
    Gap { bound, difference_norm, targets_norm, time_factor }
}
