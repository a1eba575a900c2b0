//! Taylor series of the activations along a curve `s -> z(s)`.
//!
//! Every activation satisfies a first-order ODE along the curve, `y' = sigma'(z) z'`, where
//! `sigma'(z)` is itself given by a polynomial recurrence (proof: `proofs/taylor-recurrences.md`).
//! Coefficient `k` of every series needs only coefficients `< k` of the others and `<= k` of
//! `z`, so the series are built order by order together with the flow, and only the order-0
//! coefficients call an elementary function.

use super::coeffs::{CoeffVec, Elementary};
use crate::arith::scalar::Scalar;
use crate::problem::Activation;

/// Series of one layer's activations: `values[k]` holds coefficient `k` of every element.
#[derive(Debug, Clone)]
pub struct ActivationSeries<V> {
    pub activation: Activation,
    /// `sigma(z(s))`.
    pub values: Vec<V>,
    /// `sigma'(z(s))`, needed by the backward pass.
    pub slopes: Vec<V>,
    /// Auxiliary series, meaning per activation (see the `push_*` functions).
    aux: [Vec<V>; 3],
}

/// Coefficient `k` of `y` with `y' = b a'` and `y(0) = y0()` (evaluated only at `k = 0`).
fn integrate<V: CoeffVec>(k: usize, a: &[V], b: &[V], y0: impl FnOnce() -> V) -> V {
    if k == 0 {
        return y0();
    }
    V::ode(k, a, b)
}

impl<V: CoeffVec> ActivationSeries<V> {
    pub fn new(activation: Activation) -> Self {
        ActivationSeries { activation, values: Vec::new(), slopes: Vec::new(), aux: Default::default() }
    }

    /// Number of orders computed so far.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Drops every coefficient (a new expansion starts).
    pub fn clear(&mut self) {
        self.values.clear();
        self.slopes.clear();
        for a in &mut self.aux {
            a.clear();
        }
    }

    /// Computes coefficient `k = self.len()` of every series from `z[0..=k]`.
    pub fn push_order(&mut self, z: &[V]) {
        let k = self.values.len();
        match self.activation {
            Activation::Identity => self.push_identity(k, z),
            Activation::Tanh => self.push_tanh(k, z),
            Activation::Sigmoid => self.push_sigmoid(k, z),
            Activation::Sin => self.push_sin(k, z),
            Activation::Erf => self.push_erf(k, z),
            Activation::Softplus => self.push_softplus(k, z),
            Activation::Gelu => self.push_gelu(k, z),
        }
    }

    fn push_identity(&mut self, k: usize, z: &[V]) {
        self.values.push(z[k].clone());
        let one = if k == 0 { V::S::one() } else { V::S::zero() };
        self.slopes.push(V::filled(z[k].len(), one));
    }

    /// `y = tanh z`: `y' = s z'`, `s = 1 - y^2`.
    fn push_tanh(&mut self, k: usize, z: &[V]) {
        let y = integrate(k, z, &self.slopes, || z[0].map(Elementary::Tanh));
        self.values.push(y);
        let minus_sq = V::cauchy_square(k, &self.values).neg();
        let s = if k == 0 { minus_sq.add_scalar(V::S::one()) } else { minus_sq };
        self.slopes.push(s);
    }

    /// `y = 1/(1+exp(-z))`: `y' = s z'`, `s = y - y^2`.
    fn push_sigmoid(&mut self, k: usize, z: &[V]) {
        let y = integrate(k, z, &self.slopes, || z[0].map(Elementary::Sigmoid));
        self.values.push(y);
        let s = self.values[k].sub(&V::cauchy_square(k, &self.values));
        self.slopes.push(s);
    }

    /// `y = sin z`, `aux[0] = cos z`: `y' = c z'`, `c' = -y z'`; `s = c`.
    fn push_sin(&mut self, k: usize, z: &[V]) {
        let y = integrate(k, z, &self.aux[0], || z[0].map(Elementary::Sin));
        let minus_c = integrate(k, z, &self.values, || z[0].map(Elementary::Cos).neg());
        let c = minus_c.neg();
        self.values.push(y);
        self.slopes.push(c.clone());
        self.aux[0].push(c);
    }

    /// `y = erf z`: `aux[1] = g = -z^2`, `aux[0] = exp(g)` (`aux' = aux g'`),
    /// `s = (2/sqrt(pi)) aux`, `y' = s z'`.
    fn push_erf(&mut self, k: usize, z: &[V]) {
        let g = V::cauchy_square(k, z).neg();
        self.aux[1].push(g);
        let y = integrate(k, z, &self.slopes, || z[0].map(Elementary::Erf));
        let ex = integrate(k, &self.aux[1], &self.aux[0], || self.aux[1][0].map(Elementary::Exp));
        let s = ex.scale(two_over_sqrt_pi::<V::S>());
        self.aux[0].push(ex);
        self.values.push(y);
        self.slopes.push(s);
    }

    /// `y = ln(1 + exp z)`: `aux[0] = sigma(z)`, `aux[1] = sigma - sigma^2`;
    /// `y' = sigma z'`, `sigma' = aux[1] z'`; `s = sigma`.
    fn push_softplus(&mut self, k: usize, z: &[V]) {
        let y = integrate(k, z, &self.aux[0], || z[0].map(Elementary::Softplus));
        let sig = integrate(k, z, &self.aux[1], || z[0].map(Elementary::Sigmoid));
        self.aux[0].push(sig);
        let tau = self.aux[0][k].sub(&V::cauchy_square(k, &self.aux[0]));
        self.aux[1].push(tau);
        self.values.push(y);
        self.slopes.push(self.aux[0][k].clone());
    }

    /// `y = z Phi(z)` with `Phi = (1 + erf(z/sqrt 2))/2`: `aux[2] = g = -z^2/2`,
    /// `aux[0] = phi = exp(g)/sqrt(2 pi)` (`phi' = phi g'`), `aux[1] = Phi` (`Phi' = phi z'`);
    /// `y = z Phi`, `s = Phi + z phi`.
    fn push_gelu(&mut self, k: usize, z: &[V]) {
        let half = V::S::exact(0.5);
        let g = V::cauchy_square(k, z).scale(-half);
        self.aux[2].push(g);
        let inv_sqrt_2pi = (V::S::exact(2.0) * pi::<V::S>()).sqrt().recip();
        let inv_sqrt_2 = V::S::exact(2.0).sqrt().recip();
        let phi = integrate(k, &self.aux[2], &self.aux[0], || self.aux[2][0].map(Elementary::Exp).scale(inv_sqrt_2pi));
        let cdf = integrate(k, z, &self.aux[0], || {
            z[0].scale(inv_sqrt_2).map(Elementary::Erf).add_scalar(V::S::one()).scale(half)
        });
        self.aux[0].push(phi);
        self.aux[1].push(cdf);
        let y = V::cauchy(k, z, &self.aux[1]);
        let s = self.aux[1][k].add(&V::cauchy(k, z, &self.aux[0]));
        self.values.push(y);
        self.slopes.push(s);
    }
}

/// An enclosure of `sigma(z) - sigma(z0)` entry by entry, from enclosures of `dz = z - z0`,
/// `a = sigma(z)` and `a0 = sigma(z0)`, by an identity whose rounding is relative to the
/// difference itself (`proofs/tube-integrator.md`, "Differences from w0", Lemma Δ):
/// - identity: `dz`;
/// - tanh: `tanh(dz) (1 - a a0)` (the addition theorem);
/// - sigmoid `= (1 + tanh(z/2))/2`: `tanh(dz/2) (1 - t t0) / 2` with `t = 2a - 1 = tanh(z/2)`;
/// - sin: `2 sin(dz/2) cos(z0 + dz/2)`;
/// - the others (erf, softplus, gelu): `a - a0`, the difference of the two enclosures.
///
/// `None` for the activations of the last kind, so that callers can tell an identity from the
/// plain difference.
pub fn difference<V: CoeffVec>(activation: Activation, dz: &V, z0: &V, a: &V, a0: &V) -> Option<V> {
    let one = V::S::one();
    let product = |x: &V, y: &V| V::cauchy(0, std::slice::from_ref(x), std::slice::from_ref(y));
    match activation {
        Activation::Identity => Some(dz.clone()),
        Activation::Tanh => Some(product(&dz.map(Elementary::Tanh), &product(a, a0).neg().add_scalar(one))),
        Activation::Sigmoid => {
            let two = V::S::exact(2.0);
            let half = V::S::exact(0.5);
            let (t, t0) = (a.scale(two).add_scalar(-one), a0.scale(two).add_scalar(-one));
            Some(product(&dz.scale(half).map(Elementary::Tanh), &product(&t, &t0).neg().add_scalar(one)).scale(half))
        }
        Activation::Sin => {
            let half_dz = dz.scale(V::S::exact(0.5));
            Some(product(&half_dz.map(Elementary::Sin), &z0.add(&half_dz).map(Elementary::Cos)).scale(V::S::exact(2.0)))
        }
        Activation::Erf | Activation::Softplus | Activation::Gelu => None,
    }
}

/// An enclosure of pi (for f64: the nearest f64).
pub fn pi<S: Scalar>() -> S {
    S::from_interval(inari::Interval::PI)
}

/// An enclosure of `2 / sqrt(pi)`.
pub fn two_over_sqrt_pi<S: Scalar>() -> S {
    S::exact(2.0) * pi::<S>().sqrt().recip()
}

/// Upper bounds of `sup |sigma'|` and `sup |sigma''|` over the whole real line.
///
/// Proof: `proofs/activation-bounds.md` (each value is the exact supremum rounded up, or a
/// simple upper bound of it).
// The constants are deliberate upper bounds of known values (e.g. 1.1284 > 2/sqrt(pi)).
#[allow(clippy::approx_constant)]
pub fn global_derivative_bounds(activation: Activation) -> (f64, f64) {
    match activation {
        // |tanh'| = sech^2 <= 1; |tanh''| = 2 |tanh| sech^2 <= 4/(3 sqrt 3) = 0.76980...
        Activation::Tanh => (1.0, 0.7699),
        // erf' = (2/sqrt pi) e^{-x^2} <= 1.12838; |erf''| = (4/sqrt pi)|x|e^{-x^2} <= (4/sqrt pi)/sqrt(2e) = 0.96788...
        Activation::Erf => (1.1284, 0.9679),
        // sigma' = sigma(1-sigma) <= 1/4; |sigma''| = sigma(1-sigma)|1-2sigma| <= 1/(6 sqrt 3) = 0.096225...
        Activation::Sigmoid => (0.25, 0.09623),
        // softplus' = sigma <= 1; softplus'' = sigma(1-sigma) <= 1/4.
        Activation::Softplus => (1.0, 0.25),
        Activation::Sin => (1.0, 1.0),
        // gelu' = Phi + x phi <= 1.1290 (max at x = sqrt 2: 1.12880...); |gelu''| = phi |2 - x^2| <= 2 phi(0) = 0.79789...
        Activation::Gelu => (1.1290, 0.7979),
        Activation::Identity => (1.0, 0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use inari::Interval;
    use rug::Float;

    /// The square by symmetry encloses the exact coefficient (exact rational arithmetic on the
    /// interval midpoints' f64 values) and is as wide as the plain product, up to rounding.
    #[test]
    fn cauchy_square_encloses_the_product() {
        use num_rational::BigRational;
        let exact = |x: f64| BigRational::from_float(x).unwrap();
        for k in 0..9usize {
            let a: Vec<Vec<Interval>> = (0..=k)
                .map(|j| vec![Interval::try_from(((j as f64 * 0.7 - 1.3).sin(), (j as f64 * 0.7 - 1.3).sin())).unwrap(); 3])
                .collect();
            let sq = CoeffVec::cauchy_square(k, &a);
            let plain = CoeffVec::cauchy(k, &a, &a);
            let mut truth = BigRational::from_integer(0.into());
            for j in 0..=k {
                truth += exact(a[j][0].inf()) * exact(a[k - j][0].inf());
            }
            assert!(exact(sq[0].inf()) <= truth && truth <= exact(sq[0].sup()), "k = {k}");
            assert!(sq[0].wid() <= 2.0 * plain[0].wid() + 1e-300, "k = {k}: {sq:?} vs {plain:?}");
        }
    }

    /// Coefficients of sigma(z0 + s) computed by the recurrences are sigma^{(k)}(z0)/k!; compare
    /// k = 1, 2 with MPFR finite-difference-free closed forms at 200 bits.
    #[test]
    fn recurrences_match_derivatives() {
        let z0 = 0.37_f64;
        for act in Activation::ALL {
            let mut series = ActivationSeries::<Vec<Interval>>::new(act);
            let z = vec![
                vec![Interval::try_from((z0, z0)).unwrap()],
                vec![Interval::try_from((1.0, 1.0)).unwrap()],
                vec![Interval::try_from((0.0, 0.0)).unwrap()],
                vec![Interval::try_from((0.0, 0.0)).unwrap()],
            ];
            for _ in 0..4 {
                series.push_order(&z);
            }
            let x = Float::with_val(200, z0);
            let (f0, f1, f2) = reference_derivatives(act, &x);
            let check = |iv: Interval, v: &Float, what: &str| {
                assert!(
                    Float::with_val(200, iv.inf()) <= *v && *v <= Float::with_val(200, iv.sup()),
                    "{act:?} {what}: {iv:?} vs {v}"
                );
            };
            check(series.values[0][0], &f0, "value");
            check(series.values[1][0], &f1, "first derivative");
            check(series.slopes[0][0], &f1, "slope");
            check(series.values[2][0] * Interval::try_from((2.0, 2.0)).unwrap(), &f2, "second derivative");
        }
    }

    fn reference_derivatives(act: Activation, x: &Float) -> (Float, Float, Float) {
        let p = 200;
        let one = Float::with_val(p, 1);
        let pi = Float::with_val(p, rug::float::Constant::Pi);
        match act {
            Activation::Identity => (x.clone(), one, Float::new(p)),
            Activation::Tanh => {
                let t = x.clone().tanh();
                let s = Float::with_val(p, &one - Float::with_val(p, &t * &t));
                let d2 = Float::with_val(p, -2 * Float::with_val(p, &t * &s));
                (t, s, d2)
            }
            Activation::Sigmoid => {
                let sg = Float::with_val(p, &one / Float::with_val(p, &one + Float::with_val(p, -x).exp()));
                let s = Float::with_val(p, &sg * Float::with_val(p, &one - &sg));
                let d2 = Float::with_val(p, &s * Float::with_val(p, &one - Float::with_val(p, 2 * &sg)));
                (sg, s, d2)
            }
            Activation::Softplus => {
                let v = Float::with_val(p, Float::with_val(p, x.clone().exp()) + 1u32).ln();
                let sg = Float::with_val(p, &one / Float::with_val(p, &one + Float::with_val(p, -x).exp()));
                let d2 = Float::with_val(p, &sg * Float::with_val(p, &one - &sg));
                (v, sg, d2)
            }
            Activation::Sin => (x.clone().sin(), x.clone().cos(), -x.clone().sin()),
            Activation::Erf => {
                let c = Float::with_val(p, 2 / pi.clone().sqrt());
                let g = Float::with_val(p, -Float::with_val(p, x * x)).exp();
                let d1 = Float::with_val(p, &c * &g);
                let d2 = Float::with_val(p, -2 * Float::with_val(p, x * &d1));
                (x.clone().erf(), d1, d2)
            }
            Activation::Gelu => {
                let sqrt2 = Float::with_val(p, 2).sqrt();
                let cdf = Float::with_val(p, (Float::with_val(p, x / &sqrt2).erf() + 1u32) / 2u32);
                let phi = Float::with_val(p, Float::with_val(p, -Float::with_val(p, x * x) / 2u32).exp() / Float::with_val(p, 2 * &pi).sqrt());
                let v = Float::with_val(p, x * &cdf);
                let d1 = Float::with_val(p, &cdf + Float::with_val(p, x * &phi));
                let d2 = Float::with_val(p, &phi * Float::with_val(p, 2 - Float::with_val(p, x * x)));
                (v, d1, d2)
            }
        }
    }

    /// The global bounds dominate |sigma'| and |sigma''| on a fine grid (a sanity check of the
    /// constants; the proof is in proofs/activation-bounds.md).
    #[test]
    fn global_bounds_dominate_grid() {
        for act in Activation::ALL {
            let (b1, b2) = global_derivative_bounds(act);
            for i in -4000..=4000 {
                let x = Float::with_val(200, i) / 400u32;
                let (_, d1, d2) = reference_derivatives(act, &x);
                assert!(d1.clone().abs() <= b1, "{act:?} sigma' at {x}");
                assert!(d2.clone().abs() <= b2, "{act:?} sigma'' at {x}");
            }
        }
    }
}
