//! Truncated power series in a second variable `eps`: `c[0] + c[1] eps + ... + c[d] eps^d`
//! modulo `eps^(d+1)`, with coefficients in any [`Scalar`]. They carry the order-`Q` Taylor
//! model of a network around `w0` (`model::taylor_model`): the network evaluated at the weights
//! `w0 + eps (w - w0)` gives, coefficient by coefficient, the homogeneous terms
//! `D^r h(w0)[(w - w0)^r] / r!` of its power series.
//!
//! Every operation is the truncated series of the exact operation (`proofs/taylor-models.md`,
//! Lemma J): sums coefficientwise, products by the Cauchy product, quotients and the elementary
//! functions by the recurrences of `y' = f'(z) z'` in `eps` (the same recurrences the activation
//! series use in time, `proofs/taylor-recurrences.md`, section 3). With an enclosure type `S`,
//! each coefficient encloses the exact coefficient for every choice of members of the operands'
//! coefficients (inclusion isotony: the recurrences are compositions of `S`'s operations).
//!
//! The degree is carried per jet: constants have degree 0, and an operation's degree is the
//! larger of its operands'. Callers give every non-constant jet the same degree `Q`, so results
//! are truncated at `Q`.

use crate::arith::scalar::Scalar;
use crate::model::activation::two_over_sqrt_pi;
use inari::Interval;
use std::ops::{Add, AddAssign, Div, Mul, Neg, Sub, SubAssign};

/// The largest supported degree.
pub const MAX_DEGREE: usize = 4;

/// A truncated series in `eps` of degree `deg <= MAX_DEGREE`; coefficients above `deg` are zero.
#[derive(Clone, Copy, Debug)]
pub struct Jet<S> {
    c: [S; MAX_DEGREE + 1],
    deg: usize,
}

impl<S: Scalar> Jet<S> {
    /// The constant `x` (degree 0).
    pub fn constant(x: S) -> Jet<S> {
        let mut c = [S::zero(); MAX_DEGREE + 1];
        c[0] = x;
        Jet { c, deg: 0 }
    }

    /// `base + slope eps`, as a jet of degree `deg` (`1 <= deg <= MAX_DEGREE`; panics otherwise:
    /// a caller's bug, the spec's order is validated before).
    pub fn line(base: S, slope: S, deg: usize) -> Jet<S> {
        assert!((1..=MAX_DEGREE).contains(&deg), "Jet::line: degree {deg} outside 1..={MAX_DEGREE}");
        let mut c = [S::zero(); MAX_DEGREE + 1];
        c[0] = base;
        c[1] = slope;
        Jet { c, deg }
    }

    /// The jet with the coefficients `c` (degree `c.len() - 1`; `1 <= c.len() <= MAX_DEGREE + 1`,
    /// panics otherwise: a caller's bug).
    pub fn from_coefficients(c: &[S]) -> Jet<S> {
        assert!((1..=MAX_DEGREE + 1).contains(&c.len()), "Jet::from_coefficients: {} coefficients", c.len());
        let mut out = Jet::zeros(c.len() - 1);
        out.c[..c.len()].copy_from_slice(c);
        out
    }

    /// The degree: coefficients above it are zero.
    pub fn degree(&self) -> usize {
        self.deg
    }

    /// Coefficient `r` (zero above the degree).
    pub fn coefficient(&self, r: usize) -> S {
        if r <= self.deg { self.c[r] } else { S::zero() }
    }

    /// `sum_{r <= top} c[r]`: the value at `eps = 1` of the series truncated at `top`.
    pub fn partial_sum(&self, top: usize) -> S {
        let mut sum = self.c[0];
        for r in 1..=top.min(self.deg) {
            sum += self.c[r];
        }
        sum
    }

    fn zeros(deg: usize) -> Jet<S> {
        Jet { c: [S::zero(); MAX_DEGREE + 1], deg }
    }

    /// The series `y` with `y[0] = y0` and `y' = s z'`, where `s` is produced order by order
    /// from `y`'s coefficients (`slope(y, r)` may read `y[0..=r]` and returns `s[r]`):
    /// `r y[r] = sum_{j=1}^{r} j z[j] s[r-j]`.
    fn integrate(z: &Jet<S>, y0: S, mut slope: impl FnMut(&Jet<S>, usize) -> S) -> Jet<S> {
        let mut y = Jet::zeros(z.deg);
        let mut s = Jet::zeros(z.deg);
        y.c[0] = y0;
        s.c[0] = slope(&y, 0);
        for r in 1..=z.deg {
            let mut acc = S::zero();
            for j in 1..=r {
                acc = (S::exact(j as f64) * z.c[j]).mul_add(s.c[r - j], acc);
            }
            y.c[r] = acc / S::exact(r as f64);
            s.c[r] = slope(&y, r);
        }
        y
    }

    /// Coefficient `r` of `y^2` from `y[0..=r]`.
    fn square_coefficient(y: &Jet<S>, r: usize) -> S {
        let mut acc = S::zero();
        for j in 0..=r {
            acc = y.c[j].mul_add(y.c[r - j], acc);
        }
        acc
    }
}

impl<S: Scalar> Add for Jet<S> {
    type Output = Jet<S>;
    fn add(self, o: Jet<S>) -> Jet<S> {
        let mut out = Jet::zeros(self.deg.max(o.deg));
        for r in 0..=out.deg {
            out.c[r] = self.c[r] + o.c[r];
        }
        out
    }
}

impl<S: Scalar> Sub for Jet<S> {
    type Output = Jet<S>;
    fn sub(self, o: Jet<S>) -> Jet<S> {
        let mut out = Jet::zeros(self.deg.max(o.deg));
        for r in 0..=out.deg {
            out.c[r] = self.c[r] - o.c[r];
        }
        out
    }
}

impl<S: Scalar> Neg for Jet<S> {
    type Output = Jet<S>;
    fn neg(self) -> Jet<S> {
        let mut out = self;
        for r in 0..=out.deg {
            out.c[r] = -self.c[r];
        }
        out
    }
}

impl<S: Scalar> Mul for Jet<S> {
    type Output = Jet<S>;
    /// The Cauchy product truncated at the larger degree.
    fn mul(self, o: Jet<S>) -> Jet<S> {
        let mut out = Jet::zeros(self.deg.max(o.deg));
        for r in 0..=out.deg {
            let mut acc = S::zero();
            for j in 0..=r.min(self.deg) {
                if r - j <= o.deg {
                    acc = self.c[j].mul_add(o.c[r - j], acc);
                }
            }
            out.c[r] = acc;
        }
        out
    }
}

impl<S: Scalar> Div for Jet<S> {
    type Output = Jet<S>;
    fn div(self, o: Jet<S>) -> Jet<S> {
        if o.deg == 0 {
            let mut out = self;
            for r in 0..=out.deg {
                out.c[r] = self.c[r] / o.c[0];
            }
            return out;
        }
        self * o.recip()
    }
}

impl<S: Scalar> AddAssign for Jet<S> {
    fn add_assign(&mut self, o: Jet<S>) {
        *self = *self + o;
    }
}

impl<S: Scalar> SubAssign for Jet<S> {
    fn sub_assign(&mut self, o: Jet<S>) {
        *self = *self - o;
    }
}

impl<S: Scalar> Scalar for Jet<S> {
    fn zero() -> Self {
        Jet::constant(S::zero())
    }
    fn one() -> Self {
        Jet::constant(S::one())
    }
    fn exact(x: f64) -> Self {
        Jet::constant(S::exact(x))
    }
    fn from_interval(x: Interval) -> Self {
        Jet::constant(S::from_interval(x))
    }
    /// The value at `eps = 1` (the sum of the coefficients).
    fn to_interval(self) -> Interval {
        self.partial_sum(MAX_DEGREE).to_interval()
    }
    fn mul_add(self, a: Self, b: Self) -> Self {
        self * a + b
    }
    /// `y = 1/z`: `y[r] = -(1/z[0]) sum_{j=1}^{r} z[j] y[r-j]`.
    fn recip(self) -> Self {
        let mut y = Jet::zeros(self.deg);
        let inv = self.c[0].recip();
        y.c[0] = inv;
        for r in 1..=self.deg {
            let mut acc = S::zero();
            for j in 1..=r {
                acc = self.c[j].mul_add(y.c[r - j], acc);
            }
            y.c[r] = -(acc * inv);
        }
        y
    }
    /// `y = sqrt z`: `2 y[0] y[r] = z[r] - sum_{j=1}^{r-1} y[j] y[r-j]`.
    fn sqrt(self) -> Self {
        let mut y = Jet::zeros(self.deg);
        y.c[0] = self.c[0].sqrt();
        let twice = S::exact(2.0) * y.c[0];
        for r in 1..=self.deg {
            let mut acc = self.c[r];
            for j in 1..r {
                acc -= y.c[j] * y.c[r - j];
            }
            y.c[r] = acc / twice;
        }
        y
    }
    /// `y' = y z'`.
    fn exp(self) -> Self {
        Jet::integrate(&self, self.c[0].exp(), |y, r| y.c[r])
    }
    /// `y' = (1 - y^2) z'`.
    fn tanh(self) -> Self {
        Jet::integrate(&self, self.c[0].tanh(), |y, r| {
            let sq = Jet::square_coefficient(y, r);
            if r == 0 { S::one() - sq } else { -sq }
        })
    }
    /// `y' = (2/sqrt(pi)) exp(-z^2) z'`.
    fn erf(self) -> Self {
        let gauss = (-(self * self)).exp();
        let c = two_over_sqrt_pi::<S>();
        Jet::integrate(&self, self.c[0].erf(), |_, r| c * gauss.c[r])
    }
    /// `y = sin z`, `c = cos z`: `y' = c z'`; `c = cos z` by its own jet.
    fn sin(self) -> Self {
        let cos = self.cos_jet();
        Jet::integrate(&self, self.c[0].sin(), |_, r| cos.c[r])
    }
    fn cos(self) -> Self {
        self.cos_jet()
    }
    /// `y' = (y - y^2) z'`.
    fn sigmoid(self) -> Self {
        Jet::integrate(&self, self.c[0].sigmoid(), |y, r| y.c[r] - Jet::square_coefficient(y, r))
    }
    /// `y' = sigmoid(z) z'`.
    fn softplus(self) -> Self {
        let sig = self.sigmoid();
        Jet::integrate(&self, self.c[0].softplus(), |_, r| sig.c[r])
    }
    /// An upper bound of `|y(1)|` and of every coefficient: the sum of the coefficients'
    /// magnitudes.
    fn magnitude(self) -> f64 {
        let mut m = 0.0f64;
        for r in 0..=self.deg {
            m += self.c[r].magnitude();
        }
        // Rounded up: one ulp per addition, generously.
        m * (1.0 + 8.0 * f64::EPSILON)
    }
}

impl<S: Scalar> Jet<S> {
    /// `cos z` and `sin z` together: `s' = c z'`, `c' = -s z'`.
    fn cos_jet(&self) -> Jet<S> {
        let (mut s, mut c) = (Jet::zeros(self.deg), Jet::zeros(self.deg));
        s.c[0] = self.c[0].sin();
        c.c[0] = self.c[0].cos();
        for r in 1..=self.deg {
            let (mut ds, mut dc) = (S::zero(), S::zero());
            for j in 1..=r {
                let jz = S::exact(j as f64) * self.c[j];
                ds = jz.mul_add(c.c[r - j], ds);
                dc = jz.mul_add(s.c[r - j], dc);
            }
            s.c[r] = ds / S::exact(r as f64);
            c.c[r] = -(dc / S::exact(r as f64));
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rug::Float;

    /// Coefficients of `f(x0 + eps)` by MPFR derivatives from finite differences would be
    /// indirect; instead: `f(z(eps))` at small `eps` from the jet (Horner) against MPFR `f` at
    /// the same point, the error `O(eps^(deg+1))`.
    fn check(name: &str, jet_f: impl Fn(Jet<Interval>) -> Jet<Interval>, mpfr_f: impl Fn(Float) -> Float) {
        let deg = MAX_DEGREE;
        let pt = |x: f64| Interval::try_from((x, x)).expect("point");
        let z = Jet { c: [pt(0.3), pt(-0.7), pt(0.25), pt(0.5), pt(-0.125)], deg };
        let y = jet_f(z);
        for &e in &[1e-3f64, 2e-3] {
            let eps = Float::with_val(200, e);
            let mut z_at = Float::with_val(200, 0);
            for r in (0..=deg).rev() {
                z_at = z_at * &eps + Float::with_val(200, z.c[r].inf());
            }
            let exact = mpfr_f(z_at);
            let mut y_at = 0.0f64;
            for r in (0..=deg).rev() {
                y_at = y_at * e + y.c[r].mid();
            }
            let err = (exact - y_at).abs().to_f64();
            // Truncation e^(deg+1) times a modest constant, plus f64 rounding.
            assert!(err < 50.0 * e.powi(deg as i32 + 1) + 1e-15, "{name}: error {err:e} at eps {e}");
            // And a wrong coefficient is seen: shifting c[deg] by 1e-3 moves y by 1e-3 e^deg.
        }
        for r in 0..=deg {
            assert!(y.c[r].wid() < 1e-13, "{name}: coefficient {r} width {}", y.c[r].wid());
        }
    }

    #[test]
    fn elementary_jets_match_mpfr() {
        check("tanh", |z| z.tanh(), |x| x.tanh());
        check("exp", |z| z.exp(), |x| x.exp());
        check("erf", |z| z.erf(), |x| x.erf());
        check("sin", |z| z.sin(), |x| x.sin());
        check("cos", |z| z.cos(), |x| x.cos());
        check("sigmoid", |z| z.sigmoid(), |x| (Float::with_val(200, 1) + (-x).exp()).recip());
        check("softplus", |z| z.softplus(), |x| (Float::with_val(200, 1) + x.exp()).ln());
        check("recip", |z| (z + Jet::exact(2.0)).recip(), |x| (x + 2u32).recip());
        check("sqrt", |z| (z + Jet::exact(2.0)).sqrt(), |x| (x + 2u32).sqrt());
        check("square", |z| z * z, |x| x.clone() * x);
    }

    /// The tolerance above is tight enough to see a wrong top coefficient.
    #[test]
    fn a_wrong_top_coefficient_is_seen() {
        let result = std::panic::catch_unwind(|| {
            check("tanh+", |z| {
                let mut y = z.tanh();
                y.c[MAX_DEGREE] = y.c[MAX_DEGREE] + Interval::try_from((1.0, 1.0)).expect("point");
                y
            }, |x| x.tanh())
        });
        assert!(result.is_err());
    }
}
