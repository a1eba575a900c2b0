//! Taylor series of the activations along a curve `s -> z(s)`.
//!
//! Every activation satisfies a first-order ODE along the curve, `y' = sigma'(z) z'`, where
//! `sigma'(z)` is itself given by a polynomial recurrence (proof: `proofs/taylor-recurrences.md`).
//! Coefficient `k` of every series needs only coefficients `< k` of the others and `<= k` of
//! `z`, so the series are built order by order together with the flow, and only the order-0
//! coefficients call an elementary function.

use crate::arith::scalar::Scalar;
use crate::problem::Activation;

/// Series of one layer's activations: `values[k][e]` is coefficient `k` of element `e`.
#[derive(Debug, Clone)]
pub struct ActivationSeries<S> {
    pub activation: Activation,
    /// `sigma(z(s))`.
    pub values: Vec<Vec<S>>,
    /// `sigma'(z(s))`, needed by the backward pass.
    pub slopes: Vec<Vec<S>>,
    /// Auxiliary series, meaning per activation (see the `push_*` functions).
    aux: [Vec<Vec<S>>; 3],
}

/// `sum_{j=1}^{k} j a[j] b[k-j] / k` for every element: coefficient `k >= 1` of `y` when
/// `y' = b a'`. Loops run over contiguous elements innermost.
fn ode_coefficients<S: Scalar>(k: usize, a: &[Vec<S>], b: &[Vec<S>]) -> Vec<S> {
    let n = a[k].len();
    let mut acc = vec![S::zero(); n];
    for j in 1..=k {
        let jf = S::exact(j as f64);
        for ((out, &x), &y) in acc.iter_mut().zip(&a[j][..n]).zip(&b[k - j][..n]) {
            *out = (jf * x).mul_add(y, *out);
        }
    }
    let inv_k = S::one() / S::exact(k as f64);
    acc.iter_mut().for_each(|v| *v = *v * inv_k);
    acc
}

/// `sum_{j=0}^{k} a[j] b[k-j]`: coefficient `k` of the product `a b`, for every element.
pub fn cauchy<S: Scalar>(k: usize, a: &[Vec<S>], b: &[Vec<S>]) -> Vec<S> {
    let n = a[k].len();
    let mut acc = vec![S::zero(); n];
    for j in 0..=k {
        for ((out, &x), &y) in acc.iter_mut().zip(&a[j][..n]).zip(&b[k - j][..n]) {
            *out = x.mul_add(y, *out);
        }
    }
    acc
}

/// `sum_{j=0}^{k} a[j] a[k-j]`: coefficient `k` of `a^2`, for every element, as
/// `2 sum_{j < k-j} a[j] a[k-j] + [k even] a[k/2]^2` (the same real number; about half the
/// multiplications of [`cauchy`]; for intervals an enclosure of the same width up to rounding,
/// since the factor 2 is exact).
pub fn cauchy_square<S: Scalar>(k: usize, a: &[Vec<S>]) -> Vec<S> {
    let n = a[k].len();
    let mut acc = vec![S::zero(); n];
    for j in 0..k.div_ceil(2) {
        for ((out, &x), &y) in acc.iter_mut().zip(&a[j][..n]).zip(&a[k - j][..n]) {
            *out = x.mul_add(y, *out);
        }
    }
    let two = S::exact(2.0);
    acc.iter_mut().for_each(|v| *v = two * *v);
    if k % 2 == 0 {
        for (out, &x) in acc.iter_mut().zip(&a[k / 2][..n]) {
            *out = x.mul_add(x, *out);
        }
    }
    acc
}

/// Coefficient `k` of `y` with `y' = b a'` and `y(0) = y0`.
fn integrate<S: Scalar>(k: usize, a: &[Vec<S>], b: &[Vec<S>], y0: impl Fn(usize) -> S) -> Vec<S> {
    if k == 0 {
        return (0..a[0].len()).map(y0).collect();
    }
    ode_coefficients(k, a, b)
}

impl<S: Scalar> ActivationSeries<S> {
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
    pub fn push_order(&mut self, z: &[Vec<S>]) {
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

    fn push_identity(&mut self, k: usize, z: &[Vec<S>]) {
        self.values.push(z[k].clone());
        let one = if k == 0 { S::one() } else { S::zero() };
        self.slopes.push(vec![one; z[k].len()]);
    }

    /// `y = tanh z`: `y' = s z'`, `s = 1 - y^2`.
    fn push_tanh(&mut self, k: usize, z: &[Vec<S>]) {
        let y = integrate(k, z, &self.slopes, |e| z[0][e].tanh());
        self.values.push(y);
        let sq = cauchy_square(k, &self.values);
        let s = sq.into_iter().map(|v| if k == 0 { S::one() - v } else { -v }).collect();
        self.slopes.push(s);
    }

    /// `y = 1/(1+exp(-z))`: `y' = s z'`, `s = y - y^2`.
    fn push_sigmoid(&mut self, k: usize, z: &[Vec<S>]) {
        let y = integrate(k, z, &self.slopes, |e| z[0][e].sigmoid());
        self.values.push(y);
        let sq = cauchy_square(k, &self.values);
        let s = self.values[k].iter().zip(sq).map(|(&y, q)| y - q).collect();
        self.slopes.push(s);
    }

    /// `y = sin z`, `aux[0] = cos z`: `y' = c z'`, `c' = -y z'`; `s = c`.
    fn push_sin(&mut self, k: usize, z: &[Vec<S>]) {
        let y = integrate(k, z, &self.aux[0], |e| z[0][e].sin());
        let minus_c = integrate(k, z, &self.values, |e| -z[0][e].cos());
        let c: Vec<S> = minus_c.into_iter().map(|v| -v).collect();
        self.values.push(y);
        self.slopes.push(c.clone());
        self.aux[0].push(c);
    }

    /// `y = erf z`: `aux[1] = g = -z^2`, `aux[0] = exp(g)` (`aux' = aux g'`),
    /// `s = (2/sqrt(pi)) aux`, `y' = s z'`.
    fn push_erf(&mut self, k: usize, z: &[Vec<S>]) {
        let g: Vec<S> = cauchy_square(k, z).into_iter().map(|v| -v).collect();
        self.aux[1].push(g);
        let y = integrate(k, z, &self.slopes, |e| z[0][e].erf());
        let ex = integrate(k, &self.aux[1], &self.aux[0], |e| self.aux[1][0][e].exp());
        let c = two_over_sqrt_pi::<S>();
        let s = ex.iter().map(|&v| c * v).collect();
        self.aux[0].push(ex);
        self.values.push(y);
        self.slopes.push(s);
    }

    /// `y = ln(1 + exp z)`: `aux[0] = sigma(z)`, `aux[1] = sigma - sigma^2`;
    /// `y' = sigma z'`, `sigma' = aux[1] z'`; `s = sigma`.
    fn push_softplus(&mut self, k: usize, z: &[Vec<S>]) {
        let y = integrate(k, z, &self.aux[0], |e| z[0][e].softplus());
        let sig = integrate(k, z, &self.aux[1], |e| z[0][e].sigmoid());
        self.aux[0].push(sig);
        let sq = cauchy_square(k, &self.aux[0]);
        let tau = self.aux[0][k].iter().zip(sq).map(|(&v, q)| v - q).collect();
        self.aux[1].push(tau);
        self.values.push(y);
        self.slopes.push(self.aux[0][k].clone());
    }

    /// `y = z Phi(z)` with `Phi = (1 + erf(z/sqrt 2))/2`: `aux[2] = g = -z^2/2`,
    /// `aux[0] = phi = exp(g)/sqrt(2 pi)` (`phi' = phi g'`), `aux[1] = Phi` (`Phi' = phi z'`);
    /// `y = z Phi`, `s = Phi + z phi`.
    fn push_gelu(&mut self, k: usize, z: &[Vec<S>]) {
        let half = S::exact(0.5);
        let g: Vec<S> = cauchy_square(k, z).into_iter().map(|v| -(half * v)).collect();
        self.aux[2].push(g);
        let inv_sqrt_2pi = (S::exact(2.0) * pi::<S>()).sqrt().recip();
        let inv_sqrt_2 = S::exact(2.0).sqrt().recip();
        let phi = integrate(k, &self.aux[2], &self.aux[0], |e| self.aux[2][0][e].exp() * inv_sqrt_2pi);
        let cdf = integrate(k, z, &self.aux[0], |e| half * (S::one() + (z[0][e] * inv_sqrt_2).erf()));
        self.aux[0].push(phi);
        self.aux[1].push(cdf);
        let y = cauchy(k, z, &self.aux[1]);
        let zphi = cauchy(k, z, &self.aux[0]);
        let s = self.aux[1][k].iter().zip(zphi).map(|(&c, v)| c + v).collect();
        self.values.push(y);
        self.slopes.push(s);
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
            let sq = cauchy_square(k, &a);
            let plain = cauchy(k, &a, &a);
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
            let mut series = ActivationSeries::<Interval>::new(act);
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
