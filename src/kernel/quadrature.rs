//! Certified Gaussian expectations `E[f(u) g(v)]`, `(u, v) ~ N(0, [[s11, s12], [s12, s22]])`,
//! for activations without a closed form (tanh, sigmoid, softplus and their derivatives; erf
//! for testing against its closed form), by the trapezoidal rule on the real line with the
//! error bound for integrands analytic in a strip, applied twice (an iterated 1-D integral).
//!
//! With the Cholesky factor `u = a z1`, `v = b z1 + c z2` (`a = sqrt(s11)`, `b = s12 / a`,
//! `c = sqrt(s22 - s12^2 / s11) >= 0`, `z1, z2` independent `N(0, 1)`):
//!
//! ```text
//! E[f(u) g(v)] = E_z1[ f(a z1) G(b z1) ],    G(m) = E_z2[ g(m + c z2) ]    (G = g when c = 0).
//! ```
//!
//! Each 1-D integral `int phi(z) w(z) dz` is approximated by `h sum_{|k| <= K} phi(kh) w(kh)`
//! with `h = 2^-j` (nodes exact in f64) and enclosed with two rigorous remainders: the
//! trapezoidal rule's error on the whole line, `2 M / (e^{2 pi d / h} - 1)` for an integrand
//! analytic in the strip `|Im z| < d` with `int |integrand(x + iy)| dx <= M` there
//! (Trefethen & Weideman 2014, Theorem 5.1), and the truncated tail `|k| > K`, bounded by the
//! integrand's growth on the real line. The activations' strips and bounds: Lemma Q of
//! `proofs/infinite-width-kernels.md`. Every sum and bound is computed in outward-rounded
//! `FastInterval` arithmetic; the covariance's factors in the caller's [`KernelNumber`].

use super::number::KernelNumber;
use crate::arith::fast_interval::FastInterval as F;
use crate::arith::scalar::Scalar;
use inari::Interval;

/// The target of each remainder (discretisation and tail), absolute, before the activation's
/// scale: far below the f64 rounding of the sums (about `1e-16` relative).
pub const TOLERANCE: f64 = 1e-18;

/// The widest strip half-width used for the Gaussian factor (`|phi(x + iy)| = phi(x)
/// e^{y^2/2}`: wider strips pay `e^{d^2/2}` in `M`).
const STRIP_MAX: f64 = 2.5;
/// The finest step, `2^-FINEST` (at most about `2 * 12 * 2^FINEST + 1` nodes per dimension):
/// for very large variances the remainder, not the cost, grows (the enclosure stays valid).
const FINEST: i32 = 7;
/// The farthest truncation point `K h`.
const REACH: f64 = 12.0;
/// `>= E|z| = sqrt(2/pi)` for `z ~ N(0, 1)`.
const MEAN_ABS: f64 = 0.797_885;

/// The functions integrated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Integrand {
    Tanh,
    /// `tanh' = 1 - tanh^2`.
    TanhDerivative,
    /// `sigmoid(x) = 1 / (1 + e^-x)` (also `softplus'`).
    Sigmoid,
    /// `sigmoid' = sigmoid (1 - sigmoid)`.
    SigmoidDerivative,
    /// `softplus(x) = ln(1 + e^x)`.
    Softplus,
    /// For tests against the closed form (Lemma E).
    Erf,
    /// `erf'(x) = (2 / sqrt(pi)) e^{-x^2}`.
    ErfDerivative,
}

impl Integrand {
    /// An enclosure of the function over the interval `x` (every real in it).
    pub fn eval(self, x: F) -> F {
        let one = F::point(1.0);
        match self {
            Integrand::Tanh => x.tanh(),
            Integrand::TanhDerivative => {
                let t = x.tanh();
                restrict(one - t * t, 0.0, 1.0)
            }
            Integrand::Sigmoid => x.sigmoid(),
            Integrand::SigmoidDerivative => {
                let s = x.sigmoid();
                restrict(s * (one - s), 0.0, 0.25)
            }
            Integrand::Softplus => softplus(x),
            Integrand::Erf => x.erf(),
            Integrand::ErfDerivative => {
                let two_over_sqrt_pi = F::from_inari(Interval::PI.sqrt().recip()) * F::point(2.0);
                restrict(two_over_sqrt_pi * (-(x * x)).exp(), 0.0, 1.2)
            }
        }
    }

    /// `(theta, p0, p1)`: the function is analytic on `|Im z| < theta'` for some `theta' >
    /// theta` and `|fn(x + iy)| <= p0 + p1 |x|` for `|y| <= theta` (Lemma Q of the proof;
    /// `p1 = 0` except for softplus). `theta` is an f64 below the exact constant, `p0` above.
    // 1.5707 is deliberately below pi/2, not an approximation of it.
    #[allow(clippy::approx_constant)]
    pub fn strip(self) -> (f64, f64, f64) {
        match self {
            // theta < 3 pi / 8: |tanh| <= tan(3 pi / 8) = 1 + sqrt 2, |1 - tanh^2| <= sec^2.
            Integrand::Tanh => (1.178, 2.4143, 0.0),
            Integrand::TanhDerivative => (1.178, 6.8288, 0.0),
            // sigmoid(z) = (1 + tanh(z/2)) / 2, sigmoid' = (1 - tanh^2(z/2)) / 4.
            Integrand::Sigmoid => (2.356, 1.7072, 0.0),
            Integrand::SigmoidDerivative => (2.356, 1.7072, 0.0),
            // theta < pi / 2: |softplus(x + iy)| <= max(x, 0) + ln 2 + pi / 2.
            Integrand::Softplus => (1.5707, 2.2640, 1.0),
            // |erf(x + iy)| <= 1 + (2/sqrt pi) |y| e^{y^2}, |erf'| <= (2/sqrt pi) e^{y^2}.
            Integrand::Erf => (1.0, 4.0674, 0.0),
            Integrand::ErfDerivative => (1.0, 3.0674, 0.0),
        }
    }
}

/// Terms of the series in [`softplus_point`].
const LOG_TERMS: usize = 18;

/// `softplus(v) = max(v, 0) + ln(1 + y)`, `y = e^{-|v|}` in `(0, 1]`, with
/// `ln(1 + y) = 2 atanh(t) = 2 sum_k t^{2k+1} / (2k+1)`, `t = y / (2 + y)` in `(0, 1/3]`; the
/// terms from `k = LOG_TERMS` on sum to at most `t^{2K+1} / ((2K+1)(1 - t^2))` (a geometric
/// series), below `3^-37 / 37 < 1e-19`. Outward-rounded (`FastInterval`; `exp_point` of
/// `arith::elementary`); Lemma Q of the proof.
fn softplus_point(v: f64) -> F {
    if !v.is_finite() {
        return if v == f64::NEG_INFINITY { F { lo: 0.0, hi: f64::MIN_POSITIVE } } else { F::ENTIRE };
    }
    let one = pt(1.0);
    let y = crate::arith::elementary::exp_point(-v.abs());
    let t = y / (pt(2.0) + y);
    let t2 = t * t;
    let mut p = one / pt((2 * LOG_TERMS - 1) as f64);
    for k in (0..LOG_TERMS - 1).rev() {
        p = p * t2 + one / pt((2 * k + 1) as f64);
    }
    let tail_hi = {
        let th = pt(t.hi);
        let mut pow = th;
        for _ in 0..2 * LOG_TERMS {
            pow = pow * th;
        }
        up(pow / (pt((2 * LOG_TERMS + 1) as f64) * (one - th * th)))
    };
    let log = pt(2.0) * (t * p + F { lo: 0.0, hi: tail_hi });
    pt(v.max(0.0)) + log
}

/// `softplus` of an interval (non-decreasing: the ends).
pub fn softplus(x: F) -> F {
    if x.lo == x.hi {
        return softplus_point(x.lo);
    }
    F { lo: softplus_point(x.lo).lo, hi: softplus_point(x.hi).hi }
}

fn restrict(x: F, lo: f64, hi: f64) -> F {
    let r = F { lo: x.lo.max(lo), hi: x.hi.min(hi) };
    if r.lo > r.hi || r.lo.is_nan() || r.hi.is_nan() { F { lo, hi } } else { r }
}

/// `F::point(x)` rounded-up scalar helpers: `up(expr)` is the upper end.
fn up(x: F) -> f64 {
    if x.hi.is_nan() { f64::INFINITY } else { x.hi }
}

fn pt(x: f64) -> F {
    F::point(x)
}

/// `>= phi(x) = e^{-x^2/2} / sqrt(2 pi)` and its enclosure.
fn phi(x: F) -> F {
    let norm = F::from_inari((Interval::PI * Interval::try_from((2.0, 2.0)).expect("2")).sqrt().recip());
    norm * (-(x * x) * pt(0.5)).exp()
}

/// One trapezoidal rule for `int phi(z) w(z) dz`: step `h = 2^-j`, nodes `k h` for `|k| <= K`,
/// weights `h phi(k h)` enclosed.
#[derive(Debug, Clone)]
struct Rule {
    h: f64,
    /// The strip half-width `d` the discretisation bound uses.
    d: f64,
    nodes: Vec<f64>,
    weights: Vec<F>,
}

/// A bound `|w(x + iy)| <= phi(x) e^{y^2/2} (g0 + g1 |x| + g2 x^2)` on the strip (and, at
/// `y = 0`, on the line) of the integrand divided by the Gaussian.
#[derive(Debug, Clone, Copy)]
struct Growth {
    g0: f64,
    g1: f64,
    g2: f64,
}

impl Growth {
    /// `>= int phi(x) (g0 + g1 |x| + g2 x^2) dx = g0 + g1 sqrt(2/pi) + g2`.
    fn mass(self) -> f64 {
        up(pt(self.g0) + pt(self.g1) * pt(MEAN_ABS) + pt(self.g2))
    }

    /// `>= 2 int_X^inf phi(x) (g0 + g1 x + g2 x^2) dx` (`X >= 2`): with `Q(X) <= phi(X)/X`,
    /// `int_X phi = Q`, `int_X x phi = phi(X)`, `int_X x^2 phi = X phi(X) + Q`.
    fn tail(self, x: f64) -> F {
        let p = phi(pt(x));
        let q = p / pt(x);
        pt(2.0) * (pt(self.g0) * q + pt(self.g1) * p + pt(self.g2) * (pt(x) * p + q))
    }

    /// `>= 2 M / (e^{2 pi d / h} - 1)` with `M = e^{d^2/2} mass()` (Theorem 5.1 of Trefethen
    /// & Weideman).
    // `!(x > 0)` also catches NaN.
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    fn discretisation(self, d: f64, h: f64) -> F {
        let dd = pt(d);
        let m = (dd * dd * pt(0.5)).exp() * pt(self.mass());
        let two_pi = F::from_inari(Interval::PI) * pt(2.0);
        let denom = (two_pi * dd / pt(h)).exp() - pt(1.0);
        if !(denom.lo > 0.0) {
            return F { lo: f64::INFINITY, hi: f64::INFINITY };
        }
        pt(2.0) * m / denom
    }
}

impl Rule {
    /// The rule for a strip of half-width `d > 0` and the growth `g`: the coarsest `h = 2^-j`
    /// (`j <= FINEST`) whose discretisation estimate is below `tol`, and the smallest `K` with
    /// `K h >= 2` whose tail estimate is below `tol` (`K h <= REACH`). Accuracy only: the
    /// remainders are bounded rigorously by [`Rule::remainder`] for whatever is chosen.
    fn new(d: f64, g: Growth, tol: f64) -> Rule {
        let mut j = 0;
        while j < FINEST && g.discretisation(d, 2f64.powi(-j)).hi > tol {
            j += 1;
        }
        let h = 2f64.powi(-j);
        let mut k = (2.0 / h).ceil() as i64;
        while (k as f64) * h < REACH && g.tail(k as f64 * h).hi > tol {
            k += 1;
        }
        let nodes: Vec<f64> = (-k..=k).map(|i| i as f64 * h).collect();
        let weights = nodes.iter().map(|&z| pt(h) * phi(pt(z))).collect();
        Rule { h, d, nodes, weights }
    }

    /// `>=` the rule's total error for an integrand with growth `g` in the strip of
    /// half-width `self.d`: discretisation plus tail (`X = K h`).
    fn remainder(&self, g: Growth) -> f64 {
        let x = *self.nodes.last().expect("nodes");
        up(g.discretisation(self.d, self.h) + g.tail(x))
    }
}

/// The largest `d <= STRIP_MAX` with `scale * d <= theta` for every `scale` given (upper ends of
/// the magnitudes multiplying the imaginary part), checked in outward arithmetic.
fn strip_width(theta: f64, scales: &[f64]) -> f64 {
    let mut d = STRIP_MAX;
    for &s in scales {
        if s > 0.0 && s.is_finite() {
            d = d.min(theta / s * (1.0 - 1e-12));
        }
    }
    for &s in scales {
        while s > 0.0 && up(pt(s) * pt(d)) > theta {
            d *= 1.0 - 1e-9;
        }
    }
    d
}

/// The inner integral `G(m) = E[g(m + c z)]`, `z ~ N(0, 1)`, for real `m` and every `c >= 0` in
/// an interval (Lemma Q(d) of the proof): the rule for the strip `c d <= theta_g` and the
/// remainder `e0 + e1 |m|` (the growth `(pg0 + pg1 |m|, pg1 c, 0)` is affine in `|m|`).
#[derive(Debug, Clone)]
pub struct Inner {
    rule: Rule,
    /// `c z_j` enclosed.
    shifts: Vec<F>,
    e0: f64,
    e1: f64,
}

impl Inner {
    /// The rule for `g` and `c` (`c.hi > 0`), to absolute `tol` per remainder for `|m| <= 1`.
    pub fn new(g: Integrand, c: F, tol: f64) -> Inner {
        let (tg, pg0, pg1) = g.strip();
        let c_hi = c.hi.max(0.0);
        let d = strip_width(tg, &[c_hi]);
        let growth = Growth { g0: up(pt(pg0) + pt(pg1)), g1: up(pt(pg1) * pt(c_hi)), g2: 0.0 };
        let rule = Rule::new(d, growth, tol);
        let shifts = rule.nodes.iter().map(|&z| c * pt(z)).collect();
        let e0 = rule.remainder(Growth { g0: pg0, g1: up(pt(pg1) * pt(c_hi)), g2: 0.0 });
        let e1 = if pg1 > 0.0 { rule.remainder(Growth { g0: pg1, g1: 0.0, g2: 0.0 }) } else { 0.0 };
        Inner { rule, shifts, e0, e1 }
    }

    /// An enclosure of `G(m)` for every `m` in the interval `m` (and every `c` of [`Inner::new`]).
    pub fn eval(&self, g: Integrand, m: F) -> F {
        let mut s = F::ZERO;
        for (&w, &cz) in self.rule.weights.iter().zip(&self.shifts) {
            s += w * g.eval(m + cz);
        }
        let e = up(pt(self.e0) + pt(self.e1) * pt(m.lo.abs().max(m.hi.abs())));
        s + F { lo: -e, hi: e }
    }
}

/// `E[f(a z1) g(b z1 + c z2)]` for every `a, b, c` in the given intervals (`c >= 0`; `c` the
/// point 0 gives the 1-D integral `E[f(a z) g(b z)]`), to absolute `tol` in each remainder.
pub fn factored(f: Integrand, g: Integrand, a: F, b: F, c: F, tol: f64) -> F {
    let (tf, pf0, pf1) = f.strip();
    let (tg, pg0, pg1) = g.strip();
    let mag = |x: F| x.lo.abs().max(x.hi.abs());
    let (a_hi, b_hi, c_hi) = (mag(a), mag(b), c.hi.max(0.0));
    if !(a_hi.is_finite() && b_hi.is_finite() && c_hi.is_finite()) {
        return F::ENTIRE;
    }
    let exact_inner = c.hi <= 0.0;
    let inner = (!exact_inner).then(|| Inner::new(g, c, tol));
    // Outer: |f(a z)| <= pf0 + pf1 a |x|, |G(b z)| <= (pg0 + pg1 c E|z2|) + pg1 |b| |x|.
    let d = strip_width(tf, &[a_hi]).min(strip_width(tg, &[b_hi]));
    let alpha0 = pf0;
    let alpha1 = up(pt(pf1) * pt(a_hi));
    let beta0 = if exact_inner { pg0 } else { up(pt(pg0) + pt(pg1) * pt(c_hi) * pt(MEAN_ABS)) };
    let beta1 = up(pt(pg1) * pt(b_hi));
    let growth = Growth {
        g0: up(pt(alpha0) * pt(beta0)),
        g1: up(pt(alpha0) * pt(beta1) + pt(alpha1) * pt(beta0)),
        g2: up(pt(alpha1) * pt(beta1)),
    };
    let outer = Rule::new(d, growth, tol);
    let mut acc = F::ZERO;
    for (&z, &w) in outer.nodes.iter().zip(&outer.weights) {
        let fa = f.eval(a * pt(z));
        let m = b * pt(z);
        let gm = match &inner {
            None => g.eval(m),
            Some(inner) => inner.eval(g, m),
        };
        acc += w * (fa * gm);
    }
    let e = outer.remainder(growth);
    acc + F { lo: -e, hi: e }
}

/// `|E[f(u) g(v)]| <= E[(pf0 + pf1 |u|)(pg0 + pg1 |v|)] <= pf0 pg0 + pf0 pg1 sqrt(s22) + pf1
/// pg0 sqrt(s11) + pf1 pg1 sqrt(s11 s22)` (Cauchy-Schwarz): the enclosure when a variance may
/// vanish without being exactly 0.
fn crude(f: Integrand, g: Integrand, r11: f64, r22: f64) -> F {
    let (_, pf0, pf1) = f.strip();
    let (_, pg0, pg1) = g.strip();
    let b = up(pt(pf0) * pt(pg0) + pt(pf0) * pt(pg1) * pt(r22) + pt(pf1) * pt(pg0) * pt(r11) + pt(pf1) * pt(pg1) * pt(r11) * pt(r22));
    F { lo: -b, hi: b }
}

fn to_fast<T: KernelNumber>(x: &T) -> F {
    F::from_inari(x.to_inari())
}

fn is_zero<T: KernelNumber>(x: &T) -> bool {
    let i = x.to_inari();
    i.inf() == 0.0 && i.sup() == 0.0
}

/// `E[f(u) g(v)]`, `(u, v) ~ N(0, [[s11, s12], [s12, s22]])`, enclosed for every positive
/// semi-definite matrix with entries in the given sets (Lemma Q of the proof). The factors
/// `a = sqrt(s11)`, `b = s12 / a`, `c^2 = (s11 s22 - s12^2) / s11` (intersected with
/// `[0, inf)`) are formed in `T`; a variance that is exactly 0 gives the 1-D integral of the
/// other variable times the function's value at 0; a variance whose enclosure reaches 0 is
/// put first only if the other one is bounded away from 0, otherwise [`crude`] bounds it.
pub fn expectation<T: KernelNumber>(f: Integrand, g: Integrand, s11: T, s12: T, s22: T, tol: f64) -> T {
    let s11 = s11.restrict(0.0, f64::INFINITY);
    let s22 = s22.restrict(0.0, f64::INFINITY);
    let result = if is_zero(&s11) {
        // u = 0 almost surely: E = f(0) E[g(c z)], c = sqrt(s22).
        f.eval(F::ZERO) * one_dim(g, to_fast(&s22.sqrt()), tol)
    } else if is_zero(&s22) {
        g.eval(F::ZERO) * one_dim(f, to_fast(&s11.sqrt()), tol)
    } else if s11.lower() > 0.0 {
        pair_factored(f, g, &s11, &s12, &s22, tol)
    } else if s22.lower() > 0.0 {
        pair_factored(g, f, &s22, &s12, &s11, tol)
    } else {
        crude(f, g, to_fast(&s11.sqrt()).hi, to_fast(&s22.sqrt()).hi)
    };
    T::from_inari(result.to_inari())
}

/// `E[g(c z)]`, `z ~ N(0, 1)`, for every `c` in the interval: [`factored`]'s outer rule with
/// the inner function replaced by the constant 1.
fn one_dim(g: Integrand, c: F, tol: f64) -> F {
    let (tg, pg0, pg1) = g.strip();
    let c_hi = c.lo.abs().max(c.hi.abs());
    if !c_hi.is_finite() {
        return F::ENTIRE;
    }
    let d = strip_width(tg, &[c_hi]);
    let growth = Growth { g0: pg0, g1: up(pt(pg1) * pt(c_hi)), g2: 0.0 };
    let rule = Rule::new(d, growth, tol);
    let mut acc = F::ZERO;
    for (&z, &w) in rule.nodes.iter().zip(&rule.weights) {
        acc += w * g.eval(c * pt(z));
    }
    let e = rule.remainder(growth);
    acc + F { lo: -e, hi: e }
}

/// [`factored`] with `a = sqrt(s11)` (`s11 > 0`), `b = s12 / a` (within `+-sqrt(s22)`), `c`.
fn pair_factored<T: KernelNumber>(f: Integrand, g: Integrand, s11: &T, s12: &T, s22: &T, tol: f64) -> F {
    let a = s11.clone().sqrt();
    let r22 = to_fast(&s22.clone().sqrt()).hi;
    let b = (s12.clone() / a.clone()).restrict(-r22, r22);
    let gap = (s11.clone() * s22.clone() - s12.clone() * s12.clone()).restrict(0.0, f64::INFINITY);
    let c2 = (gap / s11.clone()).restrict(0.0, f64::INFINITY);
    let c = if is_zero(&c2) { F::ZERO } else { to_fast(&c2.sqrt()) };
    factored(f, g, to_fast(&a), to_fast(&b), c, tol)
}

/// `E[f(u) g(u)]`, `u ~ N(0, s)`: [`factored`] with `b = a`, `c = 0` (one dimension).
pub fn expectation_diagonal<T: KernelNumber>(f: Integrand, g: Integrand, s: T, tol: f64) -> T {
    let s = s.restrict(0.0, f64::INFINITY);
    let result = if is_zero(&s) {
        f.eval(F::ZERO) * g.eval(F::ZERO)
    } else {
        let a = to_fast(&s.sqrt());
        factored(f, g, a, a, F::ZERO, tol)
    };
    T::from_inari(result.to_inari())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::limit::gaussian_pair;
    use crate::kernel::number::Mp;
    use crate::problem::{Activation, KernelActivation};

    fn mp(x: f64) -> Mp {
        Mp::point(x)
    }

    /// erf by quadrature contains (and is as tight as) the arcsine closed form, also at the
    /// degenerate covariances; coarse tolerances keep the remainder decisive.
    /// The inner rule at coarse tolerances contains a 200-bit evaluation (step 1/32 on
    /// [-12, 12]): its remainder, not luck, makes it hold.
    #[test]
    fn inner_rule_contains_a_fine_evaluation() {
        use rug::Float;
        let prec = 200;
        for (g, c, m) in [(Integrand::Tanh, 1.3, 0.4), (Integrand::Softplus, 0.9, 2.5), (Integrand::SigmoidDerivative, 2.0, -1.0)] {
            let mut reference = Float::new(prec);
            let norm = Float::with_val(prec, Float::with_val(prec, rug::float::Constant::Pi) * 2u32).sqrt();
            for k in -384..=384 {
                let z = k as f64 / 32.0;
                let x: Float = Float::with_val(prec, Float::with_val(prec, c) * z) + m;
                let v = match g {
                    Integrand::Tanh => Float::with_val(prec, x.tanh_ref()),
                    Integrand::Softplus => Float::with_val(prec, Float::with_val(prec, x.exp_ref()) + 1u32).ln(),
                    _ => {
                        let s = Float::with_val(prec, Float::with_val(prec, Float::with_val(prec, -&x).exp() + 1u32).recip_ref());
                        Float::with_val(prec, &s * Float::with_val(prec, 1u32 - &s))
                    }
                };
                let w = Float::with_val(prec, Float::with_val(prec, -z * z / 2.0).exp() / 32u32) / &norm;
                reference += Float::with_val(prec, w * v);
            }
            for tol in [1e-4, 1e-8, TOLERANCE] {
                let e = Inner::new(g, pt(c), tol).eval(g, pt(m));
                assert!(Float::with_val(prec, e.lo) <= reference && reference <= Float::with_val(prec, e.hi), "{g:?} tol {tol:e}: {e:?} vs {}", reference.to_f64());
            }
        }
    }

    /// The series softplus contains MPFR's value at 200 bits and is tight.
    #[test]
    fn softplus_contains_mpfr() {
        use rug::Float;
        for i in -400..400 {
            let v = i as f64 * 0.0731 + if i % 3 == 0 { 1e-9 } else { 0.0 };
            let e = softplus(pt(v));
            let exact = Float::with_val(200, Float::with_val(200, v).exp() + 1u32).ln();
            assert!(Float::with_val(200, e.lo) <= exact && exact <= Float::with_val(200, e.hi), "{v}: {e:?}");
            assert!(e.hi - e.lo <= 4e-15 * (1.0 + v.abs()), "{v}: {e:?}");
        }
    }

    #[test]
    fn erf_quadrature_meets_the_closed_form() {
        let cases = [(1.0, 0.3, 2.0), (0.5, 0.5, 0.5), (2.0, -2.0, 2.0), (1.5, 0.0, 0.7), (0.0, 0.0, 1.3), (3.0, 0.0, 0.0), (1.0, 1.0, 1.0), (4.0, 3.999, 4.0)];
        for &(s11, s12, s22) in &cases {
            let (closed, closed_d) = gaussian_pair(KernelActivation::Flow(Activation::Erf), mp(s11), mp(s12), mp(s22)).unwrap();
            for &tol in &[1e-4, 1e-9, TOLERANCE] {
                let q = expectation(Integrand::Erf, Integrand::Erf, mp(s11), mp(s12), mp(s22), tol).to_inari();
                let qd = expectation(Integrand::ErfDerivative, Integrand::ErfDerivative, mp(s11), mp(s12), mp(s22), tol).to_inari();
                let (c, cd) = (closed.to_inari(), closed_d.to_inari());
                assert!(q.inf() <= c.sup() && c.inf() <= q.sup(), "erf {s11} {s12} {s22} {tol}: {q:?} vs {c:?}");
                assert!(qd.inf() <= cd.sup() && cd.inf() <= qd.sup(), "erf' {s11} {s12} {s22} {tol}: {qd:?} vs {cd:?}");
                if tol == TOLERANCE {
                    assert!(q.wid() < 1e-13 && qd.wid() < 1e-13, "{q:?} {qd:?}");
                }
            }
        }
    }
}
