//! `ntkcert kernel`: the closed forms of the infinite-width kernels against an independent
//! MPFR evaluation and against high-precision Gaussian quadrature (no closed form involved),
//! degenerate covariances, the empirical kernel against an MPFR Jacobian, the certified spectrum
//! against matrices of known spectrum, the approach of wide finite networks to the limit, and the
//! command line (one-line errors, JSON keys). Proofs: `proofs/infinite-width-kernels.md`.

mod common;

use common::{ntkcert, thin};
use inari::Interval;
use ntkcert::arith::ball::Ball;
use ntkcert::arith::rational::Exact;
use ntkcert::kernel::empirical::{empirical_kernel, layerwise_kernel};
use ntkcert::kernel::limit::{gaussian_diagonal, gaussian_pair, limit_kernels};
use ntkcert::kernel::number::{KernelNumber, Mp};
use ntkcert::kernel::spectrum::spectrum;
use ntkcert::problem::{
    Activation, Architecture, KernelActivation, KernelProblem, KernelTraining, Method, MlpArchitecture, Parameterization, Problem,
};
use proptest::prelude::*;
use rug::float::Constant;
use rug::{Float, Rational};

/// A training with no targets (the kernel tests do not use it).
fn no_training() -> KernelTraining {
    KernelTraining {
        targets: Vec::new(),
        centred: true,
        horizon: Exact::from_integer(1),
        infinite_horizon: false,
        regularization: Exact::from_integer(0),
        gradient_descent: false,
    }
}

/// MPFR precision of the references.
const P: u32 = 256;

fn fl(x: f64) -> Float {
    Float::with_val(P, x)
}

fn pi() -> Float {
    Float::with_val(P, Constant::Pi)
}

/// Whether the interval contains `v` up to a relative slack of `2^-200` (the reference's own
/// rounding).
fn contains(x: Interval, v: &Float) -> bool {
    let slack = Float::with_val(P, v.clone().abs() + 1u32) >> 200u32;
    let lo = Float::with_val(P, v - &slack);
    let hi = Float::with_val(P, v + &slack);
    hi >= x.inf() && lo <= x.sup()
}

fn point(x: f64) -> Interval {
    thin(x)
}

/// Whether the MPFR interval contains `v` (up to the same slack).
fn mp_contains(x: &Mp, v: &Float) -> bool {
    let slack = Float::with_val(P, v.clone().abs() + 1u32) >> 200u32;
    Float::with_val(P, v + &slack) >= *x.lo() && Float::with_val(P, v - &slack) <= *x.hi()
}

/// The relative width of an MPFR interval.
fn mp_width(x: &Mp) -> f64 {
    let w = Float::with_val(P, x.hi() - x.lo()).to_f64();
    w / (1.0 + x.lo().to_f64().abs().max(x.hi().to_f64().abs()))
}

const RELU: KernelActivation = KernelActivation::Relu;
const ERF: KernelActivation = KernelActivation::Flow(Activation::Erf);
const SIN: KernelActivation = KernelActivation::Flow(Activation::Sin);
const IDENTITY: KernelActivation = KernelActivation::Flow(Activation::Identity);
const GELU: KernelActivation = KernelActivation::Flow(Activation::Gelu);
const CLOSED_FORMS: [KernelActivation; 5] = [RELU, ERF, SIN, IDENTITY, GELU];

// ---------------------------------------------------------------------------------------------
// The closed forms in MPFR (the same formulas, evaluated independently at 256 bits).

/// `(E[act(u) act(v)], E[act'(u) act'(v)])` by the closed forms, in MPFR; `relu'(0) = 0`.
fn closed_form(act: KernelActivation, s11: f64, s12: f64, s22: f64) -> (Float, Float) {
    let (a, b, c) = (fl(s11), fl(s12), fl(s22));
    match act {
        KernelActivation::Relu => {
            if s11 == 0.0 || s22 == 0.0 {
                return (fl(0.0), fl(0.0));
            }
            let q = Float::with_val(P, &a * &c).sqrt();
            let mut rho = Float::with_val(P, &b / &q);
            if rho > 1.0 {
                rho = fl(1.0);
            }
            if rho < -1.0 {
                rho = fl(-1.0);
            }
            let theta = rho.clone().acos();
            let sine = theta.clone().sin();
            let rest = Float::with_val(P, pi() - &theta);
            let j1 = Float::with_val(P, &sine + Float::with_val(P, &rest * &rho));
            let two_pi = Float::with_val(P, pi() * 2u32);
            (Float::with_val(P, &q * &j1) / &two_pi, rest / two_pi)
        }
        KernelActivation::Flow(Activation::Erf) => {
            let d1 = Float::with_val(P, &a * 2u32) + 1u32;
            let d2 = Float::with_val(P, &c * 2u32) + 1u32;
            let prod = Float::with_val(P, &d1 * &d2);
            let r = Float::with_val(P, &b * 2u32) / prod.clone().sqrt();
            let det = prod - Float::with_val(P, b.clone().square() * 4u32);
            let two_over_pi = Float::with_val(P, 2u32 / pi());
            (Float::with_val(P, &two_over_pi * r.asin()), two_over_pi * 2u32 / det.sqrt())
        }
        KernelActivation::Flow(Activation::Sin) => {
            let e = Float::with_val(P, -(Float::with_val(P, &a + &c) / 2u32)).exp();
            (Float::with_val(P, &e * b.clone().sinh()), e * b.cosh())
        }
        KernelActivation::Flow(Activation::Identity) => (b, fl(1.0)),
        KernelActivation::Flow(Activation::Gelu) => {
            // neural-tangents' stax.Gelu kernel_fn (Tsuchida et al. 2021), term by term.
            let pp1 = Float::with_val(P, Float::with_val(P, &a + 1u32) * Float::with_val(P, &c + 1u32));
            let prod = Float::with_val(P, &a * &c);
            let d2 = Float::with_val(P, &pp1 - Float::with_val(P, b.clone().square()));
            let d = d2.clone().sqrt();
            let angle = Float::with_val(P, b.atan2_ref(&d));
            let two_pi = Float::with_val(P, pi() * 2u32);
            let num = Float::with_val(P, b.clone().square()) + Float::with_val(P, &prod * &d2);
            let e = (Float::with_val(P, num / Float::with_val(P, &pp1 * &d)) + Float::with_val(P, &b * &angle)) / &two_pi
                + Float::with_val(P, &b / 4u32);
            let bracket = Float::with_val(P, d2.clone().recip()) + Float::with_val(P, Float::with_val(P, 1u32 - &prod) / &pp1) + 1u32;
            let first = Float::with_val(P, bracket * &b) / Float::with_val(P, &d * &two_pi);
            let edot = first + Float::with_val(P, 0.25) + Float::with_val(P, angle / two_pi);
            (e, edot)
        }
        KernelActivation::Flow(other) => panic!("no closed form for {other:?}"),
    }
}

/// A positive semi-definite `[[s11, s12], [s12, s22]]` of f64 numbers (checked exactly):
/// variances in `[2^-6, 8]`, the correlation `rho` given.
fn psd(s11: f64, s22: f64, rho: f64) -> (f64, f64, f64) {
    let mut s12 = rho * (s11 * s22).sqrt();
    let exact = |x: f64| Rational::from_f64(x).expect("finite");
    while exact(s12) * exact(s12) > exact(s11) * exact(s22) {
        s12 = if s12 > 0.0 { s12.next_down() } else { s12.next_up() };
    }
    (s11, s12, s22)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// The enclosures contain the MPFR closed forms, on random covariances including
    /// correlations at and near +-1.
    #[test]
    fn closed_forms_contain_the_mpfr_values(
        s11 in 0.015625..8.0f64,
        s22 in 0.015625..8.0f64,
        rho in prop_oneof![-1.0..=1.0f64, Just(1.0), Just(-1.0), 0.999999..=1.0f64, -1.0..=-0.999999f64, Just(0.0)],
        which in 0usize..5,
    ) {
        let act = CLOSED_FORMS[which];
        let (s11, s12, s22) = psd(s11, s22, rho);
        let (e, edot) = gaussian_pair(act, point(s11), point(s12), point(s22)).expect("closed form");
        let (re, redot) = closed_form(act, s11, s12, s22);
        prop_assert!(contains(e, &re), "{:?} E[act act] {:?} misses {} at ({}, {}, {})", act, e, re, s11, s12, s22);
        prop_assert!(contains(edot, &redot), "{:?} E[act' act'] {:?} misses {} at ({}, {}, {})", act, edot, redot, s11, s12, s22);
        prop_assert!(!e.is_empty() && !edot.is_empty());
        // No width is lost to acos/asin near +-1: at most a few hundred ulps.
        prop_assert!(e.wid() <= 1e-12 * (1.0 + e.mag()), "{:?} wide: {:?}", act, e);
        // ... except E[step step] at a correlation enclosed near +-1: acos has an infinite slope
        // there, and an enclosure of rho of width eps gives about sqrt(2 eps) / (2 pi).
        let allowed = if act == RELU && rho.abs() > 0.99 { 1e-7 } else { 1e-12 };
        prop_assert!(edot.wid() <= allowed * (1.0 + edot.mag()), "{:?} wide: {:?}", act, edot);
        // The diagonal forms are the general ones at u = v.
        let (d, ddot) = gaussian_diagonal(act, point(s11)).expect("closed form");
        let (rd, rddot) = closed_form(act, s11, s11, s11);
        prop_assert!(contains(d, &rd) && contains(ddot, &rddot), "{:?} diagonal {:?} {:?} vs {} {}", act, d, ddot, rd, rddot);
        // The same in 128-bit MPFR intervals, to about 1e-35 (1e-17 for E[step step] near
        // |rho| = 1, where sqrt(2^-128) appears).
        let (e, edot) = gaussian_pair(act, Mp::point(s11), Mp::point(s12), Mp::point(s22)).expect("closed form");
        prop_assert!(mp_contains(&e, &re) && mp_contains(&edot, &redot), "{:?} Mp {:?} {:?} vs {} {}", act, e, edot, re, redot);
        let allowed = if act == RELU && rho.abs() > 0.99 { 1e-17 } else { 1e-33 };
        prop_assert!(mp_width(&e) <= 1e-33 && mp_width(&edot) <= allowed, "{:?} Mp wide: {:?} {:?}", act, e, edot);
        let (d, ddot) = gaussian_diagonal(act, Mp::point(s11)).expect("closed form");
        prop_assert!(mp_contains(&d, &rd) && mp_contains(&ddot, &rddot), "{:?} Mp diagonal {:?} {:?}", act, d, ddot);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Wide enclosures (as inside the recursion): for a covariance `S` and a box of entries
    /// around it, both interval types' enclosures contain the MPFR closed forms at `S` (this
    /// exercises the end-point logic of relu and every interval operation with non-point
    /// operands).
    #[test]
    fn closed_forms_contain_members_of_boxes(
        s11 in 0.015625..8.0f64,
        s22 in 0.015625..8.0f64,
        rho in prop_oneof![-1.0..=1.0f64, 0.99..=1.0f64, -1.0..=-0.99f64],
        widths in prop::collection::vec(prop_oneof![Just(0.0), 0.0..1e-12f64, 0.0..1e-3f64], 6),
        which in 0usize..5,
    ) {
        let act = CLOSED_FORMS[which];
        let (s11, s12, s22) = psd(s11, s22, rho);
        let around = |x: f64, below: f64, above: f64| (x - below * (1.0 + x.abs()), x + above * (1.0 + x.abs()));
        let boxes = [around(s11, widths[0], widths[1]), around(s12, widths[2], widths[3]), around(s22, widths[4], widths[5])];
        let iv: Vec<Interval> = boxes.iter().map(|&(lo, hi)| Interval::try_from((lo, hi)).unwrap()).collect();
        let mp: Vec<Mp> = boxes.iter().map(|&(lo, hi)| Mp::interval(lo, hi)).collect();
        let (re, redot) = closed_form(act, s11, s12, s22);
        let (e, edot) = gaussian_pair(act, iv[0], iv[1], iv[2]).unwrap();
        prop_assert!(contains(e, &re) && contains(edot, &redot), "{:?} {:?}: {:?} {:?} vs {} {}", act, boxes, e, edot, re, redot);
        let (e, edot) = gaussian_pair(act, mp[0].clone(), mp[1].clone(), mp[2].clone()).unwrap();
        prop_assert!(mp_contains(&e, &re) && mp_contains(&edot, &redot), "{:?} Mp {:?}: {:?} {:?} vs {} {}", act, boxes, e, edot, re, redot);
        let (d, ddot) = gaussian_diagonal(act, iv[0]).unwrap();
        let (rd, rddot) = closed_form(act, s11, s11, s11);
        prop_assert!(contains(d, &rd) && contains(ddot, &rddot));
        let (d, ddot) = gaussian_diagonal(act, mp[0].clone()).unwrap();
        prop_assert!(mp_contains(&d, &rd) && mp_contains(&ddot, &rddot));
    }
}

/// Degenerate covariances: equal inputs (`s12^2 = s11 s22`), opposite inputs, zero variances,
/// all zero: no NaN, no empty set, the MPFR value inside.
#[test]
fn degenerate_covariances() {
    let cases = [
        (1.0, 1.0, 1.0),
        (2.5, 2.5, 2.5),
        (0.25, -0.5, 1.0),
        (4.0, 2.0, 1.0),
        (1.0, -1.0, 1.0),
        (0.0, 0.0, 3.0),
        (3.0, 0.0, 0.0),
        (0.0, 0.0, 0.0),
        (1e-300, 1e-300, 1e-300),
    ];
    for &(s11, s12, s22) in &cases {
        for act in CLOSED_FORMS {
            let (e, edot) = gaussian_pair(act, point(s11), point(s12), point(s22)).unwrap();
            assert!(!e.is_empty() && !edot.is_empty() && !e.inf().is_nan() && !edot.sup().is_nan(), "{act:?} at ({s11}, {s12}, {s22}): {e:?} {edot:?}");
            let (re, redot) = closed_form(act, s11, s12, s22);
            assert!(contains(e, &re), "{act:?} at ({s11}, {s12}, {s22}): {e:?} misses {re}");
            assert!(contains(edot, &redot), "{act:?} at ({s11}, {s12}, {s22}): {edot:?} misses {redot}");
            let (e, edot) = gaussian_pair(act, Mp::point(s11), Mp::point(s12), Mp::point(s22)).unwrap();
            assert!(mp_contains(&e, &re) && mp_contains(&edot, &redot), "{act:?} Mp at ({s11}, {s12}, {s22}): {e:?} {edot:?}");
            assert!(e.lo().is_finite() && edot.hi().is_finite());
        }
    }
    // Enclosures that reach 0 for a variance (a tiny input's squared norm) stay valid for every
    // member, and finite.
    let (e, edot) = gaussian_pair(RELU, Interval::try_from((0.0, 1e-300)).unwrap(), point(0.0), point(1.0)).unwrap();
    assert!(e.inf() >= 0.0 && e.sup().is_finite() && edot.inf() == 0.0 && edot.sup() == 0.5, "{e:?} {edot:?}");
}

// ---------------------------------------------------------------------------------------------
// Quadrature at 256 bits: the expectations without any closed form.

/// Gauss-Hermite nodes and weights for `E[f(g)]`, `g ~ N(0, 1)`: `sum_i w_i f(x_i)` with
/// `n` (even) nodes; Newton's method on the orthonormal Hermite recurrence (guesses of Numerical
/// Recipes' `gauher`), refined in MPFR.
fn gauss_hermite(n: usize) -> Vec<(Float, Float)> {
    assert!(n.is_multiple_of(2));
    let pim4 = pi().sqrt().sqrt().recip();
    let eval = |z: &Float| -> (Float, Float) {
        let mut p1 = pim4.clone();
        let mut p2 = fl(0.0);
        for j in 1..=n {
            let p3 = p2;
            p2 = p1;
            let a = Float::with_val(P, Float::with_val(P, 2u32) / j as u32).sqrt();
            let b = Float::with_val(P, Float::with_val(P, (j - 1) as u32) / j as u32).sqrt();
            p1 = Float::with_val(P, Float::with_val(P, z * &a) * &p2) - Float::with_val(P, &b * &p3);
        }
        let pp = Float::with_val(P, Float::with_val(P, 2 * n as u32).sqrt() * &p2);
        (p1, pp)
    };
    let mut guesses: Vec<f64> = Vec::new();
    let mut nodes = Vec::with_capacity(n);
    let nf = n as f64;
    let mut z = 0.0f64;
    for i in 0..n / 2 {
        z = match i {
            0 => (2.0 * nf + 1.0).sqrt() - 1.85575 * (2.0 * nf + 1.0).powf(-0.16667),
            1 => z - 1.14 * nf.powf(0.426) / z,
            2 => 1.86 * z - 0.86 * guesses[0],
            3 => 1.91 * z - 0.91 * guesses[1],
            _ => 2.0 * z - guesses[i - 2],
        };
        let mut x = fl(z);
        for _ in 0..200 {
            let (p1, pp) = eval(&x);
            let dz = Float::with_val(P, &p1 / &pp);
            x -= &dz;
            if dz.is_zero() || dz.clone().abs() < Float::with_val(P, 1u32) >> 245u32 {
                break;
            }
        }
        z = x.to_f64();
        guesses.push(z);
        let (_, pp) = eval(&x);
        // Weight for exp(-x^2): 2 / pp^2; for N(0, 1): nodes sqrt(2) x, weights / sqrt(pi).
        let w = Float::with_val(P, 2u32 / pp.square()) / pi().sqrt();
        let node = Float::with_val(P, x * Float::with_val(P, 2u32).sqrt());
        nodes.push((Float::with_val(P, -&node), w.clone()));
        nodes.push((node, w));
    }
    let total = nodes.iter().fold(fl(0.0), |acc, (_, w)| acc + w);
    assert!(Float::with_val(P, total - 1u32).abs() < 1e-60, "Gauss-Hermite weights do not sum to 1");
    nodes
}

/// Gauss-Legendre nodes and weights on `[-1, 1]` (`n` nodes), Newton in MPFR.
fn gauss_legendre(n: usize) -> Vec<(Float, Float)> {
    let mut out = Vec::new();
    for i in 1..=n {
        let mut x = fl((std::f64::consts::PI * (i as f64 - 0.25) / (n as f64 + 0.5)).cos());
        let mut pp = fl(0.0);
        for _ in 0..200 {
            let mut p1 = fl(1.0);
            let mut p2 = fl(0.0);
            for j in 1..=n {
                let p3 = p2;
                p2 = p1;
                p1 = (Float::with_val(P, Float::with_val(P, &x * &p2) * (2 * j - 1) as u32) - Float::with_val(P, &p3 * (j - 1) as u32)) / j as u32;
            }
            pp = Float::with_val(P, Float::with_val(P, Float::with_val(P, &x * &p1) - &p2) * n as u32) / Float::with_val(P, x.clone().square() - 1u32);
            let dx = Float::with_val(P, &p1 / &pp);
            x -= &dx;
            if dx.is_zero() || dx.abs() < Float::with_val(P, 1u32) >> 245u32 {
                break;
            }
        }
        let w = Float::with_val(P, 2u32) / Float::with_val(P, Float::with_val(P, 1u32 - x.clone().square()) * pp.square());
        out.push((x, w));
    }
    out
}

/// `Phi(x)`, the standard normal distribution function, in MPFR.
fn normal_cdf(x: &Float) -> Float {
    let r = Float::with_val(P, x / Float::with_val(P, 2u32).sqrt()).erf();
    (r + 1u32) / 2u32
}

/// The standard normal density.
fn normal_pdf(x: &Float) -> Float {
    let e = Float::with_val(P, -Float::with_val(P, x.clone().square()) / 2u32).exp();
    e / Float::with_val(P, pi() * 2u32).sqrt()
}

/// `(E[act(u) act(v)], E[act'(u) act'(v)])` by quadrature: `u = a g1`, `v = b (rho g1 + s g2)`
/// with `g1, g2` independent standard normals. Smooth activations: the 2-D Gauss-Hermite
/// product rule. relu: conditionally on `g1 > 0` the inner expectation is elementary
/// (`E[relu(m + t g)] = m Phi(m/t) + t phi(m/t)`, `E[step(m + t g)] = Phi(m/t)`), and the outer
/// integral over `[0, 16]` is a composite Gauss-Legendre rule (the tail beyond 16 is below
/// `e^-128`).
fn quadrature(act: KernelActivation, s11: f64, s12: f64, s22: f64, gh: &[(Float, Float)], gl: &[(Float, Float)]) -> (Float, Float) {
    let a = fl(s11).sqrt();
    let b = fl(s22).sqrt();
    let rho = Float::with_val(P, fl(s12) / Float::with_val(P, &a * &b));
    let s = Float::with_val(P, 1u32 - rho.clone().square()).sqrt();
    match act {
        KernelActivation::Relu => {
            let (mut e, mut edot) = (fl(0.0), fl(0.0));
            for panel in 0..16u32 {
                for (x, w) in gl {
                    // g = panel + (x + 1)/2, dg = dx/2.
                    let g = Float::with_val(P, Float::with_val(P, x + 1u32) / 2u32) + panel;
                    let weight = Float::with_val(P, w / 2u32) * normal_pdf(&g);
                    let m = Float::with_val(P, Float::with_val(P, &b * &rho) * &g);
                    let t = Float::with_val(P, &b * &s);
                    let ratio = Float::with_val(P, &m / &t);
                    let inner = Float::with_val(P, &m * normal_cdf(&ratio)) + Float::with_val(P, &t * normal_pdf(&ratio));
                    e += Float::with_val(P, &weight * Float::with_val(P, &a * &g)) * inner;
                    edot += Float::with_val(P, &weight * normal_cdf(&ratio));
                }
            }
            (e, edot)
        }
        _ => {
            let value = |x: &Float| -> (Float, Float) {
                match act {
                    KernelActivation::Flow(Activation::Erf) => {
                        let d = Float::with_val(P, -x.clone().square()).exp() * Float::with_val(P, 2u32) / pi().sqrt();
                        (x.clone().erf(), d)
                    }
                    KernelActivation::Flow(Activation::Sin) => (x.clone().sin(), x.clone().cos()),
                    KernelActivation::Flow(Activation::Gelu) => {
                        let big_phi = normal_cdf(x);
                        let small_phi = normal_pdf(x);
                        (Float::with_val(P, x * &big_phi), big_phi + Float::with_val(P, x * small_phi))
                    }
                    _ => (x.clone(), fl(1.0)),
                }
            };
            let (mut e, mut edot) = (fl(0.0), fl(0.0));
            for (g1, w1) in gh {
                let u = Float::with_val(P, &a * g1);
                let (fu, du) = value(&u);
                for (g2, w2) in gh {
                    let v = Float::with_val(P, Float::with_val(P, &rho * g1) + Float::with_val(P, &s * g2)) * &b;
                    let (fv, dv) = value(&v);
                    let w = Float::with_val(P, w1 * w2);
                    e += Float::with_val(P, &w * Float::with_val(P, &fu * &fv));
                    edot += Float::with_val(P, &w * Float::with_val(P, &du * &dv));
                }
            }
            (e, edot)
        }
    }
}

/// The closed forms against quadrature (no closed form involved) on random covariances: the
/// rigorous enclosures (f64 and 128-bit MPFR) lie within 1e-30 of the quadrature values (the
/// rules agree with the closed forms to 3e-35 for erf with 128 Gauss-Hermite nodes, 1e-56 for
/// relu, 1e-76 for sin; 64 nodes leave 5e-18 for erf; a wrong formula, constant or convention
/// is off by far more).
#[test]
fn closed_forms_match_quadrature() {
    let gh = gauss_hermite(128);
    let gl = gauss_legendre(40);
    let mut state = 0x5EED_u64;
    let mut uniform = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    for trial in 0..6 {
        let s11 = 0.05 + 1.2 * uniform();
        let s22 = 0.05 + 1.2 * uniform();
        let rho = if trial == 0 { 0.0 } else { 1.98 * uniform() - 0.99 };
        let (s11, s12, s22) = psd(s11, s22, rho);
        for act in [RELU, ERF, SIN, GELU] {
            let (e, edot) = gaussian_pair(act, point(s11), point(s12), point(s22)).unwrap();
            let (qe, qedot) = quadrature(act, s11, s12, s22, &gh, &gl);
            let (me, medot) = gaussian_pair(act, Mp::point(s11), Mp::point(s12), Mp::point(s22)).unwrap();
            for (name, enclosure, mp, value) in [("E[act act]", e, &me, &qe), ("E[act' act']", edot, &medot, &qedot)] {
                let lo = Float::with_val(P, value - 1e-30);
                let hi = Float::with_val(P, value + 1e-30);
                assert!(hi >= enclosure.inf() && lo <= enclosure.sup(), "{act:?} {name} at ({s11}, {s12}, {s22}): enclosure {enclosure:?}, quadrature {value}");
                assert!(hi >= *mp.lo() && lo <= *mp.hi(), "{act:?} {name} at ({s11}, {s12}, {s22}): Mp enclosure {mp:?}, quadrature {value}");
            }
        }
    }
}

/// The figure of issue 17: 8 inputs (decimal, so each is enclosed with one-ulp width), depth 2
/// and 3, erf and relu: every entry of Theta enclosed to a relative width of at most 1e-13,
/// including entries where `Sigma_{l+1} + Sdot Theta_l` cancels (`Theta_l < 0`).
#[test]
fn eight_inputs_to_relative_width_1e_13() {
    let mut state = 12345u64;
    let mut next = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        state >> 11
    };
    let d = 4;
    let inputs: Vec<Vec<Interval>> = (0..8)
        .map(|_| (0..d).map(|_| Exact::parse(&format!("{:.4}", (next() % 20001) as f64 / 5000.0 - 2.0)).unwrap().enclosure).collect())
        .collect();
    for act in [ERF, RELU] {
        for hidden in [1usize, 2] {
            let mut widths = vec![d];
            widths.extend(std::iter::repeat_n(5, hidden));
            widths.push(1);
            let kp = KernelProblem {
                name: "eight".into(),
                widths,
                activations: vec![act; hidden],
                parameterization: Parameterization::Ntk,
                bias: false,
                weight_variance: Exact::from_integer(1),
                bias_variance: Exact::from_integer(0),
                params0: Vec::new(),
                inputs: inputs.clone(),
                problem: None,
                test_inputs: Vec::new(),
                training: no_training(),
            };
            let limit = limit_kernels(&kp).unwrap();
            assert!(limit.precise);
            let worst = limit.ntk.iter().map(|v| v.wid() / v.mag()).fold(0.0, f64::max);
            println!("{act:?} depth {}: largest relative width of Theta {worst:.2e}", hidden + 1);
            assert!(worst <= 1e-13, "{act:?} depth {}: {worst:e}", hidden + 1);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The empirical kernel.

fn flow_problem(arch: MlpArchitecture, params: Vec<f64>, inputs: Vec<Vec<f64>>) -> Problem {
    let n = inputs.len() * arch.output_dim();
    Problem {
        name: "kernel-test".into(),
        architecture: Architecture::Mlp(arch),
        params0: params.into_iter().map(thin).collect(),
        inputs: inputs.into_iter().map(|x| x.into_iter().map(thin).collect()).collect(),
        targets: vec![thin(0.0); n],
        centred: true,
        alpha: Exact::from_integer(1),
        horizon: Exact::from_integer(1),
        tolerance: Exact::from_integer(1),
        regularization: Exact::from_integer(0),
        method: Method::GradientFlow,
        infinite_horizon: false,
        reference_order: 1,
    }
}

fn ball_contains(b: Ball, v: &Float) -> bool {
    contains(b.to_fast().to_inari(), v)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Both enclosures of K0 (LinearFlow's, used without relu, and the layer-by-layer one used
    /// with relu) contain the MPFR `J J^T` of `reference::kernel_reference`, on random MLPs with
    /// every activation, both parameterisations, with and without biases, several outputs.
    #[test]
    fn empirical_kernel_contains_the_mpfr_kernel(problem in common::arb_problem(6, 1.5, &["1"], &["1"])) {
        let kp = KernelProblem::from_flow(&problem, Exact::from_integer(1), Exact::from_integer(0)).unwrap();
        let reference = ntkcert::reference::kernel_reference(&problem, P);
        let flow = empirical_kernel(&kp);
        let layered = layerwise_kernel(&kp);
        for (a, row) in reference.iter().enumerate() {
            for (b, v) in row.iter().enumerate() {
                prop_assert!(ball_contains(flow[a][b], v), "LinearFlow K0[{}][{}] = {:?} misses {}", a, b, flow[a][b], v);
                prop_assert!(ball_contains(layered[a][b], v), "layerwise K0[{}][{}] = {:?} misses {}", a, b, layered[a][b], v);
                prop_assert!(layered[a][b].rad <= 1e-10 * (1.0 + layered[a][b].mid.abs()));
            }
        }
    }
}

/// `J J^T` of a relu/identity MLP in MPFR (its own forward and backward pass; `relu'(0) = 0`).
fn relu_kernel_reference(kp: &KernelProblem) -> Vec<Vec<Float>> {
    let w: Vec<Float> = kp.params0.iter().map(|v| fl(v.mid())).collect();
    let widths = &kp.widths;
    let layers = widths.len() - 1;
    let scale = |l: usize| match kp.parameterization {
        Parameterization::Ntk => Float::with_val(P, widths[l - 1] as u32).sqrt().recip(),
        Parameterization::Standard => fl(1.0),
    };
    let mut offsets = Vec::new();
    let mut off = 0;
    for l in 1..=layers {
        offsets.push(off);
        off += widths[l] * widths[l - 1] + if kp.bias { widths[l] } else { 0 };
    }
    let mut rows: Vec<Vec<Float>> = Vec::new();
    for x in &kp.inputs {
        let mut acts = vec![x.iter().map(|v| fl(v.mid())).collect::<Vec<_>>()];
        let mut derivs: Vec<Vec<Float>> = Vec::new();
        for l in 1..=layers {
            let (nin, nout) = (widths[l - 1], widths[l]);
            let z: Vec<Float> = (0..nout)
                .map(|j| {
                    let mut acc = fl(0.0);
                    for k in 0..nin {
                        acc += Float::with_val(P, &w[offsets[l - 1] + j * nin + k] * &acts[l - 1][k]);
                    }
                    acc *= scale(l);
                    if kp.bias {
                        acc += &w[offsets[l - 1] + nout * nin + j];
                    }
                    acc
                })
                .collect();
            if l < layers {
                let relu = kp.activations[l - 1] == KernelActivation::Relu;
                derivs.push(z.iter().map(|v| if !relu || *v > 0.0 { fl(1.0) } else { fl(0.0) }).collect());
                acts.push(z.iter().map(|v| if !relu || *v > 0.0 { v.clone() } else { fl(0.0) }).collect());
            }
        }
        for o in 0..kp.output_dim() {
            let mut row = vec![fl(0.0); off];
            let mut delta: Vec<Float> = (0..widths[layers]).map(|k| fl(if k == o { 1.0 } else { 0.0 })).collect();
            for l in (1..=layers).rev() {
                let (nin, nout) = (widths[l - 1], widths[l]);
                for j in 0..nout {
                    for k in 0..nin {
                        row[offsets[l - 1] + j * nin + k] = Float::with_val(P, &delta[j] * &acts[l - 1][k]) * scale(l);
                    }
                    if kp.bias {
                        row[offsets[l - 1] + nout * nin + j] = delta[j].clone();
                    }
                }
                if l > 1 {
                    delta = (0..nin)
                        .map(|k| {
                            let mut acc = fl(0.0);
                            for j in 0..nout {
                                acc += Float::with_val(P, &w[offsets[l - 1] + j * nin + k] * &delta[j]);
                            }
                            acc * scale(l) * &derivs[l - 2][k]
                        })
                        .collect();
                }
            }
            rows.push(row);
        }
    }
    rows.iter()
        .map(|a| rows.iter().map(|b| a.iter().zip(b).fold(fl(0.0), |acc, (x, y)| acc + Float::with_val(P, x * y))).collect())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// The relu K0 enclosure contains the MPFR `J J^T`, on random relu/identity MLPs (inputs
    /// include the zero vector, whose pre-activations are exactly 0 without biases).
    #[test]
    fn relu_kernel_contains_the_mpfr_kernel(
        depth in 1usize..=3,
        hidden in prop::collection::vec(1usize..=6, 3),
        d in 1usize..=3,
        n in 1usize..=4,
        out in 1usize..=2,
        relu_mask in prop::collection::vec(any::<bool>(), 3),
        bias in any::<bool>(),
        standard in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let mut widths = vec![d];
        widths.extend_from_slice(&hidden[..depth]);
        widths.push(out);
        let p: usize = (1..widths.len()).map(|l| widths[l] * (widths[l - 1] + bias as usize)).sum();
        let mut state = seed;
        let mut uniform = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 40) as f64 / (1u64 << 24) as f64) * 3.0 - 1.5
        };
        let params: Vec<Interval> = (0..p).map(|_| thin(uniform())).collect();
        let mut inputs: Vec<Vec<Interval>> = (0..n).map(|_| (0..d).map(|_| thin(uniform())).collect()).collect();
        inputs.push(vec![thin(0.0); d]);
        let kp = KernelProblem {
            name: "relu".into(),
            widths,
            activations: relu_mask[..depth].iter().map(|&r| if r { RELU } else { IDENTITY }).collect(),
            parameterization: if standard { Parameterization::Standard } else { Parameterization::Ntk },
            bias,
            weight_variance: Exact::from_integer(1),
            bias_variance: Exact::from_integer(0),
            params0: params,
            inputs,
            problem: None,
            test_inputs: Vec::new(),
            training: no_training(),
        };
        let k = empirical_kernel(&kp);
        let reference = relu_kernel_reference(&kp);
        for (a, row) in reference.iter().enumerate() {
            for (b, v) in row.iter().enumerate() {
                prop_assert!(ball_contains(k[a][b], v), "K0[{}][{}] = {:?} misses {}", a, b, k[a][b], v);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The certified spectrum.

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Matrices of known spectrum `Q diag(lambda) Q`, `Q = I - 2 v v^T / v^T v` (exact in
    /// rationals; entries enclosed): the certified bounds contain the smallest and the largest
    /// eigenvalue, are tight, and decide positive definiteness when `lambda_min` is clearly
    /// positive (including ill-conditioned cases, `lambda_min = 1e-8`).
    #[test]
    fn spectrum_contains_known_eigenvalues(
        n in 2usize..24,
        v in prop::collection::vec(-8i64..=8, 24),
        lambdas in prop::collection::vec(-4i64..=40, 24),
        smallest in prop_oneof![Just(0i64), Just(1), Just(-1), Just(5)],
        tiny in any::<bool>(),
    ) {
        let v: Vec<Rational> = (0..n).map(|i| Rational::from(if v[i] == 0 && i == 0 { 1 } else { v[i] })).collect();
        let vv = v.iter().fold(Rational::new(), |acc, x| acc + Rational::from(x * x));
        let mut lambda: Vec<Rational> = (0..n).map(|i| Rational::from((lambdas[i].abs() + 6, 4))).collect();
        // lambda[0] is the smallest: 0, +-1e-8, or a clearly positive 5/4.
        lambda[0] = match smallest {
            0 => Rational::new(),
            1 => if tiny { Rational::from((1, 100_000_000)) } else { Rational::from((1, 4)) },
            -1 => Rational::from((-1, 4)),
            _ => Rational::from((5, 4)),
        };
        let q = |i: usize, j: usize| -> Rational {
            let delta = if i == j { Rational::from(1) } else { Rational::new() };
            delta - Rational::from(&v[i] * &v[j]) * 2u32 / &vv
        };
        let mut balls = Vec::with_capacity(n * n);
        for i in 0..n {
            for j in 0..n {
                let mut sum = Rational::new();
                for k in 0..n {
                    sum += q(i, k) * &lambda[k] * q(k, j);
                }
                let lo = sum.to_f64();
                let (lo, hi) = if Rational::from_f64(lo).unwrap() == sum {
                    (lo, lo)
                } else if Rational::from_f64(lo).unwrap() < sum {
                    (lo, lo.next_up())
                } else {
                    (lo.next_down(), lo)
                };
                balls.push(Ball::from_fast(ntkcert::arith::fast_interval::FastInterval { lo, hi }));
            }
        }
        let min = lambda.iter().min().unwrap().to_f64();
        let max = lambda.iter().max().unwrap().to_f64();
        let s = spectrum(&balls, n);
        prop_assert!(s.lambda_min.lo <= min && min <= s.lambda_min.hi, "lambda_min {} not in {:?}", min, s.lambda_min);
        prop_assert!(s.lambda_max.lo <= max && max <= s.lambda_max.hi, "lambda_max {} not in {:?}", max, s.lambda_max);
        prop_assert!(s.lambda_min.hi - s.lambda_min.lo <= 1e-9 * (1.0 + max), "loose {:?}", s.lambda_min);
        prop_assert!(s.lambda_max.hi - s.lambda_max.lo <= 1e-9 * (1.0 + max), "loose {:?}", s.lambda_max);
        prop_assert_eq!(s.positive_definite, min > 0.0);
        if let Some(c) = s.condition_upper {
            prop_assert!(c >= max / min);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Wide networks approach the limit.

/// Standard normal numbers from SplitMix64 and Box-Muller (f64; the weights are points).
fn gaussians(seed: u64, count: usize) -> Vec<f64> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..count)
        .map(|_| {
            let (u1, u2) = (next().max(1e-300), next());
            (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
        })
        .collect()
}

const INPUTS: [[f64; 3]; 4] = [[1.0, 0.5, -0.25], [-0.5, 1.25, 0.75], [0.25, -1.0, 1.5], [1.5, 0.25, 0.5]];

/// The kernel problem of a `[3, w, ..., w, 1]` network (`hidden` layers), N(0, 1) weights from
/// `seed`, NTK parameterisation, with or without biases.
fn wide_problem(act: KernelActivation, width: usize, hidden: usize, bias: bool, seed: u64) -> KernelProblem {
    let mut widths = vec![3];
    widths.extend(std::iter::repeat_n(width, hidden));
    widths.push(1);
    let p: usize = (1..widths.len()).map(|l| widths[l] * (widths[l - 1] + bias as usize)).sum();
    let params: Vec<f64> = gaussians(seed, p);
    let inputs: Vec<Vec<f64>> = INPUTS.iter().map(|x| x.to_vec()).collect();
    let bias_variance = Exact::from_integer(bias as i64);
    match act {
        KernelActivation::Flow(a) => {
            let arch = MlpArchitecture { widths, activations: vec![a; hidden], parameterization: Parameterization::Ntk, bias };
            KernelProblem::from_flow(&flow_problem(arch, params, inputs), Exact::from_integer(1), bias_variance).unwrap()
        }
        KernelActivation::Relu => KernelProblem {
            name: "wide-relu".into(),
            widths,
            activations: vec![RELU; hidden],
            parameterization: Parameterization::Ntk,
            bias,
            weight_variance: Exact::from_integer(1),
            bias_variance,
            params0: params.into_iter().map(thin).collect(),
            inputs: inputs.into_iter().map(|x| x.into_iter().map(thin).collect()).collect(),
            problem: None,
            test_inputs: Vec::new(),
            training: no_training(),
        },
    }
}

/// `sqrt(mean over seeds of |K0 - Theta|_F^2) / |Theta|_F` at each width, and the least-squares
/// slope of its logarithm against log(width).
fn convergence(act: KernelActivation, hidden: usize, bias: bool, widths: &[usize], seeds: u64) -> (Vec<f64>, f64) {
    let theta = limit_kernels(&wide_problem(act, 1, hidden, bias, 0)).unwrap();
    let theta_mid: Vec<f64> = theta.ntk.iter().map(|v| v.mid()).collect();
    let theta_norm = theta_mid.iter().map(|x| x * x).sum::<f64>().sqrt();
    let errors: Vec<f64> = widths
        .iter()
        .map(|&w| {
            let mut total = 0.0;
            for seed in 0..seeds {
                let k = empirical_kernel(&wide_problem(act, w, hidden, bias, 1000 * w as u64 + seed));
                total += k.iter().flatten().zip(&theta_mid).map(|(b, t)| (b.mid - t).powi(2)).sum::<f64>();
            }
            (total / seeds as f64).sqrt() / theta_norm
        })
        .collect();
    let xs: Vec<f64> = widths.iter().map(|&w| (w as f64).ln()).collect();
    let ys: Vec<f64> = errors.iter().map(|e| e.ln()).collect();
    let (mx, my) = (xs.iter().sum::<f64>() / xs.len() as f64, ys.iter().sum::<f64>() / ys.len() as f64);
    let slope = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum::<f64>() / xs.iter().map(|x| (x - mx).powi(2)).sum::<f64>();
    (errors, slope)
}

/// `|K0 - Theta|` shrinks like `width^(-1/2)` (fluctuations of the empirical kernel around its
/// mean are of that order): the fitted exponent over widths 32 ... 512, averaged over seeds,
/// within 0.15 of -1/2, for erf (with biases) and relu (depth 3). A limit with a wrong
/// constant or convention makes the error level off (exponent near 0) and fails.
#[test]
fn wide_networks_approach_the_limit() {
    let widths = [32, 64, 128, 256, 512];
    for (act, hidden, bias) in [(ERF, 1, true), (RELU, 2, false), (ERF, 2, false), (GELU, 2, true)] {
        let (errors, slope) = convergence(act, hidden, bias, &widths, 24);
        println!("{act:?} hidden layers {hidden} bias {bias}: relative |K0 - Theta|_F {errors:.3?}, fitted exponent {slope:.3} (expected -0.5 +- 0.15)");
        assert!((slope + 0.5).abs() <= 0.15, "{act:?}: fitted exponent {slope} (errors {errors:?})");
    }
}

/// The benchmark row with width 4096 (not a test: `cargo test --release --test kernel --
/// --ignored --nocapture`).
#[test]
#[ignore]
fn wide_networks_benchmark_4096() {
    let widths = [64, 256, 1024, 4096];
    for (act, hidden, bias) in [(ERF, 1, true), (RELU, 2, false)] {
        let started = std::time::Instant::now();
        let (errors, slope) = convergence(act, hidden, bias, &widths, 3);
        println!("{act:?} hidden {hidden}: widths {widths:?} relative |K0 - Theta|_F {errors:.3?}, fitted exponent {slope:.3} ({:.1} s)", started.elapsed().as_secs_f64());
    }
}

// ---------------------------------------------------------------------------------------------
// The command line.

fn stderr_line(out: &std::process::Output) -> String {
    let text = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(text.trim_end().lines().count(), 1, "not one line: {text}");
    text
}

#[test]
fn relu_is_refused_by_the_flow_commands() {
    for command in ["certify", "simulate", "bound"] {
        let out = ntkcert(&[command, "tests/data/kernel/relu-small.toml"]);
        assert_eq!(common::code(&out), 65, "{command}");
        let line = stderr_line(&out);
        assert!(line.contains("field 'model.activation'") && line.contains("Lipschitz"), "{command}: {line}");
    }
    let out = ntkcert(&["kernel", "tests/data/kernel/relu-small.toml"]);
    assert_eq!(common::code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn bad_variances_and_test_inputs_are_one_line_errors() {
    let base = std::fs::read_to_string(common::root().join("tests/data/kernel/erf-small.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (base.replace("bias_variance = \"1\"", "bias_variance = \"-1\""), "model.bias_variance", vec!["kernel", "certify"]),
        (base.replace("weight_variance = \"1\"", "weight_variance = \"-1/2\""), "model.weight_variance", vec!["kernel", "certify"]),
        (base.replace("weight_variance = \"1\"", "weight_variance = 1.5"), "model.weight_variance", vec!["kernel"]),
        (format!("{base}test_inputs = [[\"1\"]]\n"), "data.test_inputs[0]", vec!["kernel --limit", "kernel"]),
        (format!("{base}test_inputs = []\n"), "data.test_inputs", vec!["kernel --limit"]),
        (format!("{base}test_inputs = [[\"1\", 0.5]]\n"), "data.test_inputs[0][1]", vec!["kernel --limit"]),
        (format!("{base}test_inputs = [[\"1\", \"1e\"]]\n"), "data.test_inputs[0][1]", vec!["kernel --limit"]),
        (format!("{base}test_inputs = [[\"1\", \"2\"]]\ntest_inputs_file = \"x.npy\"\n"), "data.test_inputs_file", vec!["kernel --limit"]),
        (base.replace("activation = \"erf\"", "activation = \"rectifier\""), "model.activation", vec!["kernel"]),
    ];
    for (i, (text, field, commands)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("bad{i}.toml"));
        std::fs::write(&path, text).unwrap();
        for command in commands {
            let mut args: Vec<String> = command.split(' ').map(String::from).collect();
            args.push(path.display().to_string());
            let out = ntkcert(&args);
            assert_eq!(common::code(&out), 65, "{command} {field}");
            let line = stderr_line(&out);
            assert!(line.contains(&format!("field '{field}'")), "{command}: {line}");
            assert!(out.stdout.is_empty(), "{command} {field}: no partial output");
        }
    }
    // A missing test-input file: the input-missing exit code, naming the field.
    let path = dir.path().join("missing.toml");
    std::fs::write(&path, format!("{base}test_inputs_file = \"missing.npy\"\n")).unwrap();
    let out = ntkcert(&["kernel", "--limit", path.to_str().unwrap()]);
    assert_eq!(common::code(&out), 66);
    assert!(stderr_line(&out).contains("field 'data.test_inputs_file'"));
}

#[test]
fn json_output_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("k.json");
    let out = ntkcert(&["kernel", "tests/data/kernel/relu-small.toml", "--limit", "--json", "--out", file.to_str().unwrap()]);
    assert_eq!(common::code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let written: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(printed["ntk"], written["ntk"]);
    for key in ["ntk", "nngp"] {
        let m = printed[key].as_array().unwrap();
        assert_eq!(m.len(), 5);
        for (i, row) in m.iter().enumerate() {
            for (j, e) in row.as_array().unwrap().iter().enumerate() {
                let (lo, hi) = (e["lo"].as_f64().unwrap(), e["hi"].as_f64().unwrap());
                assert!(lo <= hi, "{key}[{i}][{j}]");
                assert_eq!(e, &m[j][i], "{key} symmetric");
            }
        }
        // Input 4 is the zero vector (no biases): its row is exactly 0; inputs 0 and 3 are equal.
        assert!(m[4].as_array().unwrap().iter().all(|e| e["lo"] == 0.0 && e["hi"] == 0.0), "{key} zero row");
        assert_eq!(m[0][3], m[0][0]);
    }
    for key in ["lambda_min", "lambda_max"] {
        assert!(printed[key]["lo"].as_f64().unwrap() <= printed[key]["hi"].as_f64().unwrap());
    }
    // The matrix is singular (a zero row, two equal rows): not proved positive definite, and
    // the lower bound of lambda_min is at most 0.
    assert_eq!(printed["positive_definite"], false);
    assert!(printed["lambda_min"]["lo"].as_f64().unwrap() <= 0.0);
    assert!(printed["condition_upper"].is_null());

    let out = ntkcert(&["kernel", "tests/data/kernel/erf-small.toml", "--json"]);
    assert_eq!(common::code(&out), 0);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kernel"], "empirical");
    assert!(v["nngp"].is_null());
    assert_eq!(v["positive_definite"], true);
    assert!(v["condition_upper"].as_f64().unwrap() >= v["lambda_max"]["hi"].as_f64().unwrap() / v["lambda_min"]["lo"].as_f64().unwrap() * (1.0 - 1e-15));
}

// ---------------------------------------------------------------------------------------------
// Certified quadrature (tanh, sigmoid, softplus), the infinite-width prediction, kernel_gap.

use ntkcert::kernel::prediction::{kernel_gap, predict_with, SAMPLES};
use ntkcert::kernel::quadrature::{expectation, expectation_diagonal, Integrand, TOLERANCE};

/// The integrand in MPFR at precision `prec`.
fn integrand_mpfr(f: Integrand, x: &Float, prec: u32) -> Float {
    let one = Float::with_val(prec, 1u32);
    let sigmoid = |x: &Float| Float::with_val(prec, &one / Float::with_val(prec, Float::with_val(prec, -x).exp() + 1u32));
    match f {
        Integrand::Tanh => Float::with_val(prec, x.tanh_ref()),
        Integrand::TanhDerivative => {
            let t = Float::with_val(prec, x.tanh_ref());
            Float::with_val(prec, &one - Float::with_val(prec, &t * &t))
        }
        Integrand::Sigmoid => sigmoid(x),
        Integrand::SigmoidDerivative => {
            let s = sigmoid(x);
            Float::with_val(prec, &s * Float::with_val(prec, &one - &s))
        }
        Integrand::Softplus => Float::with_val(prec, Float::with_val(prec, x.exp_ref()) + 1u32).ln(),
        Integrand::Erf => Float::with_val(prec, x.erf_ref()),
        Integrand::ErfDerivative => {
            let e = Float::with_val(prec, Float::with_val(prec, -Float::with_val(prec, x * x)).exp());
            Float::with_val(prec, e * 2u32) / Float::with_val(prec, Constant::Pi).sqrt()
        }
    }
}

/// An independent evaluation of `E[f(u) g(v)]` at 160 bits: the product trapezoidal rule with
/// step 1/8 on `[-10, 10]^2` for `u = a z1`, `v = b z1 + c z2` (`b = s12/a`, `c^2 = s22 -
/// b^2`), computed from the exact f64 covariance. For these variances (`s <= 2.25`) the rule's
/// error is far below `1e-20` (poles at distance `>= pi/(2 * 1.5)` from the line: `e^{-2 pi
/// 1.04 * 8} < 1e-22`; tails `phi(10) < 1e-22`). `s11 > 0`.
fn trapezoid_reference(f: Integrand, g: Integrand, s11: f64, s12: f64, s22: f64) -> Float {
    let prec = 160;
    let fp = |x: f64| Float::with_val(prec, x);
    let a = Float::with_val(prec, fp(s11).sqrt());
    let b = Float::with_val(prec, fp(s12) / &a);
    let c2 = Float::with_val(prec, fp(s22) - Float::with_val(prec, &b * &b));
    let c = if c2 > 0 { c2.sqrt() } else { Float::new(prec) };
    let h = fp(0.125);
    let norm = Float::with_val(prec, Float::with_val(prec, Constant::Pi) * 2u32).sqrt();
    let nodes: Vec<(Float, Float)> = (-80..=80)
        .map(|k| {
            let z = Float::with_val(prec, &h * k);
            let w = Float::with_val(prec, Float::with_val(prec, -Float::with_val(prec, &z * &z) / 2u32).exp() * &h) / &norm;
            (z, w)
        })
        .collect();
    let mut total = Float::new(prec);
    for (z1, w1) in &nodes {
        let fa = integrand_mpfr(f, &Float::with_val(prec, &a * z1), prec);
        let m = Float::with_val(prec, &b * z1);
        let inner = if c == 0 {
            integrand_mpfr(g, &m, prec)
        } else {
            let mut s = Float::new(prec);
            for (z2, w2) in &nodes {
                s += Float::with_val(prec, w2 * integrand_mpfr(g, &Float::with_val(prec, &m + Float::with_val(prec, &c * z2)), prec));
            }
            s
        };
        total += Float::with_val(prec, Float::with_val(prec, w1 * fa) * inner);
    }
    total
}

const QUADRATURE_PAIRS: [(Integrand, Integrand); 5] = [
    (Integrand::Tanh, Integrand::Tanh),
    (Integrand::TanhDerivative, Integrand::TanhDerivative),
    (Integrand::Sigmoid, Integrand::SigmoidDerivative),
    (Integrand::Softplus, Integrand::Softplus),
    (Integrand::Tanh, Integrand::Softplus),
];

/// The quadrature's enclosures contain an independent 160-bit evaluation, on random
/// covariances and on degenerate ones (equal inputs `s12^2 = s11 s22`, opposite inputs, a zero
/// variance, correlation 1 - 1e-12), at the production tolerance (width at most 1e-13) and at
/// coarse tolerances (1e-5, 1e-9), where the remainder is what makes the enclosure hold.
#[test]
fn quadrature_contains_an_independent_evaluation() {
    let mut cases = vec![(1.0, 1.0, 1.0), (2.25, -2.25, 2.25), (0.7, 0.0, 1.9), (1.3, 0.0, 0.0), psd(1.1, 0.6, 1.0 - 1e-12), psd(0.4, 2.0, -0.999)];
    let g = gaussians(17, 6);
    for k in 0..2 {
        let (s11, s22) = (0.2 + 2.0 * g[2 * k].abs().min(1.0), 0.2 + 2.0 * g[2 * k + 1].abs().min(1.0));
        cases.push(psd(s11, s22, (g[k + 3] * 0.7).clamp(-0.95, 0.95)));
    }
    for &(s11, s12, s22) in &cases {
        for &(f, gg) in &QUADRATURE_PAIRS {
            let reference = trapezoid_reference(f, gg, s11, s12, s22);
            for tol in [1e-5, 1e-9, TOLERANCE] {
                let q = expectation(f, gg, Mp::point(s11), Mp::point(s12), Mp::point(s22), tol);
                let iv = q.to_inari();
                let slack = 1e-19;
                assert!(
                    fl(iv.inf() - slack) <= reference && reference <= fl(iv.sup() + slack),
                    "{f:?} {gg:?} ({s11}, {s12}, {s22}) tol {tol:e}: {iv:?} misses {}",
                    reference.to_f64()
                );
                if tol == TOLERANCE {
                    assert!(iv.wid() <= 1e-13, "{f:?} {gg:?} ({s11}, {s12}, {s22}): width {:e}", iv.wid());
                }
            }
            if s12 == s11 && s11 == s22 {
                let d = expectation_diagonal(f, gg, Mp::point(s11), TOLERANCE).to_inari();
                assert!(fl(d.inf() - 1e-19) <= reference && reference <= fl(d.sup() + 1e-19), "diagonal {f:?}");
            }
        }
    }
}

/// The quadrature run on erf (a bound of `|erf|` on the strip, no closed form used) contains the
/// arcsine closed forms (Lemma E, MPFR at 256 bits) on random and degenerate covariances, in
/// both interval types, with width at most 1e-12; and a covariance box is covered.
#[test]
fn quadrature_of_erf_contains_the_arcsine_kernel() {
    let mut cases = vec![(1.0, 1.0, 1.0), (3.0, -3.0, 3.0), (0.5, 0.0, 2.0), (0.0, 0.0, 1.5), psd(2.0, 0.3, 1.0 - 1e-9)];
    let g = gaussians(23, 12);
    for k in 0..2 {
        cases.push(psd(0.1 + 3.0 * g[k].abs(), 0.1 + 3.0 * g[k + 4].abs(), (g[k + 8] * 0.6).clamp(-0.99, 0.99)));
    }
    for &(s11, s12, s22) in &cases {
        let (e, ed) = closed_form(ERF, s11, s12, s22);
        let q = expectation(Integrand::Erf, Integrand::Erf, Mp::point(s11), Mp::point(s12), Mp::point(s22), TOLERANCE);
        let qd = expectation(Integrand::ErfDerivative, Integrand::ErfDerivative, point(s11), point(s12), point(s22), TOLERANCE);
        for (x, v) in [(q.to_inari(), &e), (qd, &ed)] {
            assert!(contains(x, v), "({s11}, {s12}, {s22}): {x:?} misses {}", v.to_f64());
            // f64 covariances near correlation 1 leave c = sqrt(s22 - s12^2/s11) wider.
            assert!(x.wid() <= 1e-12, "({s11}, {s12}, {s22}): {:e}", x.wid());
        }
    }
    // A box around (1, 0.4, 2): the enclosure contains the value at its centre.
    let bx = |x: f64| Interval::try_from((x * (1.0 - 1e-6), x * (1.0 + 1e-6))).unwrap();
    let (e, _) = closed_form(ERF, 1.0, 0.4, 2.0);
    let q = expectation(Integrand::Erf, Integrand::Erf, bx(1.0), bx(0.4), bx(2.0), TOLERANCE);
    assert!(contains(q, &e) && q.wid() < 1e-5, "{q:?}");
}

/// 8 decimal inputs with biases, depth 2 and 3: every Theta entry to relative width 1e-10
/// (tanh at both depths; sigmoid and softplus at depth 2).
#[test]
fn eight_inputs_by_quadrature_to_relative_width_1e_10() {
    let mut state = 4242u64;
    let mut next = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        state >> 11
    };
    let d = 4;
    let inputs: Vec<Vec<Interval>> = (0..8)
        .map(|_| (0..d).map(|_| Exact::parse(&format!("{:.4}", (next() % 20001) as f64 / 5000.0 - 2.0)).unwrap().enclosure).collect())
        .collect();
    let tanh = KernelActivation::Flow(Activation::Tanh);
    let cases = [(tanh, 1usize), (tanh, 2), (KernelActivation::Flow(Activation::Sigmoid), 1), (KernelActivation::Flow(Activation::Softplus), 1)];
    for (act, hidden) in cases {
        let mut widths = vec![d];
        widths.extend(std::iter::repeat_n(5, hidden));
        widths.push(1);
        let kp = KernelProblem {
            name: "eight".into(),
            widths,
            activations: vec![act; hidden],
            parameterization: Parameterization::Ntk,
            bias: true,
            weight_variance: Exact::from_integer(1),
            bias_variance: Exact::from_integer(1),
            params0: Vec::new(),
            inputs: inputs.clone(),
            problem: None,
            test_inputs: Vec::new(),
            training: no_training(),
        };
        let started = std::time::Instant::now();
        let limit = limit_kernels(&kp).unwrap();
        let worst = limit.ntk.iter().map(|v| v.wid() / v.mag()).fold(0.0, f64::max);
        println!("{act:?} depth {}: largest relative width of Theta {worst:.2e} in {:.2} s", hidden + 1, started.elapsed().as_secs_f64());
        assert!(worst <= 1e-10, "{act:?} depth {}: {worst:e}", hidden + 1);
    }
}

/// `exp(-A t) y` and `int_0^t exp(-A s) y ds` by their Taylor series in MPFR (256 bits, terms
/// until they are below 2^-300 of the sum), `A` symmetric given by f64 entries.
fn series(a: &[f64], n: usize, y: &[f64], t: f64) -> (Vec<Float>, Vec<Float>) {
    let mut term: Vec<Float> = y.iter().map(|&v| fl(v)).collect(); // (-A t)^k y / k!
    let mut value = term.clone();
    let mut integral: Vec<Float> = y.iter().map(|&v| fl(v) * fl(t)).collect();
    for k in 1..2000 {
        let next: Vec<Float> = (0..n)
            .map(|i| {
                let mut s = Float::new(P);
                for j in 0..n {
                    s += Float::with_val(P, fl(a[i * n + j]) * &term[j]);
                }
                Float::with_val(P, -s * fl(t)) / (k as u32)
            })
            .collect();
        term = next;
        let mut small = true;
        for i in 0..n {
            value[i] += &term[i];
            integral[i] += Float::with_val(P, &term[i] * fl(t)) / ((k + 1) as u32);
            if Float::with_val(P, term[i].clone().abs()) > Float::with_val(P, 1u32) >> 300u32 {
                small = false;
            }
        }
        if small {
            break;
        }
    }
    (value, integral)
}

/// A random symmetric positive semi-definite `n x n` matrix `B B^T / n` scaled to `lambda_max`
/// about `scale` (f64 entries, exactly symmetric).
fn random_psd(n: usize, seed: u64, scale: f64) -> Vec<f64> {
    let g = gaussians(seed, n * n);
    let mut a = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..n).map(|k| g[i * n + k] * g[j * n + k]).sum::<f64>() * scale / n as f64 / 4.0;
            a[i * n + j] = s;
            a[j * n + i] = s;
        }
    }
    a
}

/// `predict` contains the MPFR series of `(I - exp(-Theta t)) y` and of `C int_0^t exp(-Theta s)
/// y ds` at every sample time, for random Theta (one and two outputs: `Theta (x) I`), a
/// singular Theta, and `T = 0`; also with coarse steps (remainder targets 1e-2, 1e-3), where
/// the remainders decide containment.
#[test]
fn prediction_contains_the_mpfr_series() {
    let (n, m) = (5, 3);
    for (seed, outputs, scale, horizon, tolerance) in [(1u64, 1usize, 3.0, "5/2", 1e-17), (2, 2, 8.0, "1", 1e-17), (3, 1, 0.5, "0", 1e-17), (4, 1, 2.0, "4", 1e-17), (1, 1, 3.0, "5/2", 1e-2), (2, 2, 8.0, "1", 1e-3)] {
        let mut theta = random_psd(n, seed, scale);
        if seed == 4 {
            // Rank one: singular.
            let v: Vec<f64> = (0..n).map(|i| 0.25 * (i as f64 + 1.0)).collect();
            theta = (0..n * n).map(|e| v[e / n] * v[e % n]).collect();
        }
        let cross: Vec<f64> = gaussians(seed + 100, m * n).iter().map(|v| v * 0.5).collect();
        let y: Vec<f64> = gaussians(seed + 200, n * outputs);
        let t_end = Exact::parse(horizon).unwrap();
        let p = predict_with(
            &theta.iter().map(|&v| point(v)).collect::<Vec<_>>(),
            n,
            &cross.iter().map(|&v| point(v)).collect::<Vec<_>>(),
            m,
            outputs,
            &y.iter().map(|&v| point(v)).collect::<Vec<_>>(),
            &t_end.value,
            tolerance,
        )
        .unwrap();
        let limit = if tolerance < 1e-10 { 1e-9 } else { 1.0 };
        assert_eq!(p.times.len(), SAMPLES + 1);
        for (k, time) in p.times.iter().enumerate() {
            let t = Exact::new(time.clone()).enclosure.mid();
            assert_eq!(Exact::new(time.clone()).enclosure.wid(), 0.0, "sample times of these tests are dyadic");
            for o in 0..outputs {
                let yo: Vec<f64> = (0..n).map(|i| y[i * outputs + o]).collect();
                let (v, g) = series(&theta, n, &yo, t);
                for i in 0..n {
                    let f = Float::with_val(P, fl(yo[i]) - &v[i]);
                    let e = p.train[k][i * outputs + o];
                    assert!(contains(e, &f), "seed {seed} t {t} train {i}: {e:?} misses {}", f.to_f64());
                    assert!(e.wid() <= limit * (1.0 + e.mag()), "seed {seed} width {:e}", e.wid());
                }
                for r in 0..m {
                    let mut f = Float::new(P);
                    for j in 0..n {
                        f += Float::with_val(P, fl(cross[r * n + j]) * &g[j]);
                    }
                    let e = p.test[k][r * outputs + o];
                    assert!(contains(e, &f), "seed {seed} t {t} test {r}: {e:?} misses {}", f.to_f64());
                    assert!(e.wid() <= limit * (1.0 + e.mag()), "seed {seed} test width {:e}", e.wid());
                }
            }
        }
    }
}

/// `kernel_gap` bounds the actual `sup_{t <= T} |exp(-K0 t) y - exp(-Theta t) y|` (MPFR series on a
/// grid of 40 times): random pairs, and a near-tight case (`K0 = Theta + delta I`, small
/// `Theta`), where the bound is within a factor 2 of the actual gap.
#[test]
fn kernel_gap_bounds_the_actual_gap() {
    let n = 4;
    for (seed, tight) in [(5u64, false), (6, false), (7, true)] {
        let theta = if tight { random_psd(n, seed, 0.05) } else { random_psd(n, seed, 3.0) };
        let k0: Vec<f64> = if tight {
            (0..n * n).map(|e| theta[e] + if e / n == e % n { 0.01 } else { 0.0 }).collect()
        } else {
            let p = random_psd(n, seed + 50, 0.5);
            (0..n * n).map(|e| theta[e] + p[e]).collect()
        };
        let y = gaussians(seed + 300, n);
        let horizon = Exact::parse("3").unwrap();
        let k0_balls: Vec<Vec<Ball>> = (0..n).map(|i| (0..n).map(|j| Ball::point(k0[i * n + j])).collect()).collect();
        let theta_iv: Vec<Interval> = theta.iter().map(|&v| point(v)).collect();
        let y_iv: Vec<Interval> = y.iter().map(|&v| point(v)).collect();
        let gap = kernel_gap(&k0_balls, &theta_iv, n, 1, &y_iv, Some(&horizon.value), point(0.0));
        let mut actual = 0.0f64;
        for k in 0..=40 {
            let t = 3.0 * k as f64 / 40.0;
            let (a, _) = series(&k0, n, &y, t);
            let (b, _) = series(&theta, n, &y, t);
            let d: f64 = (0..n).map(|i| Float::with_val(P, &a[i] - &b[i]).to_f64().powi(2)).sum::<f64>().sqrt();
            actual = actual.max(d);
        }
        assert!(gap.bound >= actual * (1.0 + 1e-12), "seed {seed}: bound {} < actual {actual}", gap.bound);
        if tight {
            assert!(gap.bound <= 2.0 * actual, "seed {seed}: bound {} vs actual {actual}", gap.bound);
        }
        // With the penalty the bound only shrinks; for all time it stays finite.
        let penalised = kernel_gap(&k0_balls, &theta_iv, n, 1, &y_iv, Some(&horizon.value), point(0.5));
        assert!(penalised.bound <= gap.bound);
        assert!(kernel_gap(&k0_balls, &theta_iv, n, 1, &y_iv, None, point(0.5)).bound.is_finite());
    }
}

/// `ntkcert kernel --limit --json` on a tanh spec with test inputs: the prediction's keys and
/// shapes, `kernel_gap` equal to the chain's factors' product or `2 |y|`; gradient descent gives
/// notes and no gap.
#[test]
fn prediction_and_gap_in_the_json() {
    let base = std::fs::read_to_string(common::root().join("tests/data/kernel/erf-small.toml")).unwrap();
    let text = base.replace("activation = \"erf\"", "activation = \"tanh\"") + "test_inputs = [[\"0.5\", \"0.5\"], [\"0\", \"0\"], [\"-1\", \"3\"]]\n";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tanh.toml");
    std::fs::write(&path, &text).unwrap();
    let out = ntkcert(&["kernel", "--limit", "--json", path.to_str().unwrap()]);
    assert_eq!(common::code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["test_inputs"], 3);
    assert_eq!(v["ntk_test_train"].as_array().unwrap().len(), 3);
    let p = &v["prediction"];
    assert_eq!(p["times"].as_array().unwrap().len(), SAMPLES + 1);
    assert_eq!(p["times"][SAMPLES], "1");
    for key in ["train", "test"] {
        let rows = p[key].as_array().unwrap();
        assert_eq!(rows.len(), SAMPLES + 1);
        let len = if key == "train" { 4 } else { 3 };
        for row in rows {
            for e in row.as_array().unwrap() {
                assert!(e["lo"].as_f64().unwrap() <= e["hi"].as_f64().unwrap());
            }
            assert_eq!(row.as_array().unwrap().len(), len);
        }
    }
    let gap = v["kernel_gap"].as_f64().unwrap();
    let d = &v["kernel_gap_detail"];
    let (dn, yn, tf) = (d["difference_norm"].as_f64().unwrap(), d["targets_norm"].as_f64().unwrap(), d["time_factor"].as_f64().unwrap());
    assert!(gap > 0.0 && gap <= 2.0 * yn * (1.0 + 1e-15) && gap >= (dn * yn * tf).min(2.0 * yn) * (1.0 - 1e-12));
    assert_eq!(tf, 1.0);
    let text = String::from_utf8_lossy(&ntkcert(&["kernel", "--limit", path.to_str().unwrap()]).stdout).to_string();
    assert!(text.contains("kernel_gap: sup over t <= 1") && text.contains("test inputs (cross-kernel)") && text.contains("chain:"), "{text}");
    // Gradient descent: no prediction, no gap, one note.
    let gd = text_with_descent(&base);
    let path = dir.path().join("gd.toml");
    std::fs::write(&path, gd).unwrap();
    let out = ntkcert(&["kernel", "--limit", "--json", path.to_str().unwrap()]);
    assert_eq!(common::code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["kernel_gap"].is_null() && v["prediction"].is_null());
    assert!(v["notes"][0].as_str().unwrap().contains("gradient descent"));
}

fn text_with_descent(base: &str) -> String {
    format!("{base}\n[training]\nmethod = \"gradient-descent\"\nlearning_rate = \"1/4\"\n")
}
