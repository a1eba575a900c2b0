//! The number type that model code is generic over.
//!
//! `f64` gives the non-rigorous simulation; [`Interval`] gives enclosures: every operation on
//! intervals returns an interval containing the exact result for every choice of real numbers
//! in the operands (inari's outward rounding for `+ - * /` and `sqrt`; MPFR with directed rounding
//! for the elementary functions). Proof of the elementary enclosures: `proofs/exact-input.md`.

use inari::Interval;
use rug::float::Round;
use rug::Float;
use std::fmt::Debug;
use std::ops::{Add, AddAssign, Div, Mul, Neg, Sub, SubAssign};

/// Arithmetic needed by the models and the Taylor expansion.
pub trait Scalar:
    Copy
    + Debug
    + Send
    + Sync
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Neg<Output = Self>
    + Div<Output = Self>
    + AddAssign
    + SubAssign
    + 'static
{
    fn zero() -> Self;
    fn one() -> Self;
    /// An f64 that is exact (small integers, dyadic constants).
    fn exact(x: f64) -> Self;
    /// For intervals: `x` itself. For f64: its midpoint.
    fn from_interval(x: Interval) -> Self;
    /// Enclosure view: intervals unchanged, f64 as a point interval.
    fn to_interval(self) -> Interval;
    /// `self * a + b`.
    fn mul_add(self, a: Self, b: Self) -> Self;
    /// `1 / self`.
    fn recip(self) -> Self;
    fn sqrt(self) -> Self;
    fn exp(self) -> Self;
    fn tanh(self) -> Self;
    fn erf(self) -> Self;
    fn sin(self) -> Self;
    fn cos(self) -> Self;
    /// `1 / (1 + exp(-x))`.
    fn sigmoid(self) -> Self;
    /// `ln(1 + exp(x))`.
    fn softplus(self) -> Self;
    /// An upper bound of `|x|` for every x represented.
    fn magnitude(self) -> f64;
    /// `acc + sum_i xs[i] ys[i]` (over the common length). Intervals: an enclosure of the exact
    /// sum for every choice of members (any summation order gives one, by inclusion isotony).
    fn dot(acc: Self, xs: &[Self], ys: &[Self]) -> Self {
        dot_four_way(acc, xs, ys)
    }
}

/// `acc + sum xs[i] ys[i]` with four independent accumulators, so that consecutive fused
/// multiply-adds do not wait for each other (the summation order differs from the sequential
/// one; for intervals every order encloses the exact sum).
#[inline(always)]
pub fn dot_four_way<S: Scalar>(acc: S, xs: &[S], ys: &[S]) -> S {
    let len = xs.len().min(ys.len());
    let (xs, ys) = (&xs[..len], &ys[..len]);
    let mut parts = [acc, S::zero(), S::zero(), S::zero()];
    let mut xc = xs.chunks_exact(4);
    let mut yc = ys.chunks_exact(4);
    for (x, y) in (&mut xc).zip(&mut yc) {
        for lane in 0..4 {
            parts[lane] = x[lane].mul_add(y[lane], parts[lane]);
        }
    }
    for (x, y) in xc.remainder().iter().zip(yc.remainder()) {
        parts[0] = x.mul_add(*y, parts[0]);
    }
    (parts[0] + parts[1]) + (parts[2] + parts[3])
}

impl Scalar for f64 {
    fn zero() -> Self {
        0.0
    }
    fn one() -> Self {
        1.0
    }
    fn exact(x: f64) -> Self {
        x
    }
    fn from_interval(x: Interval) -> Self {
        x.mid()
    }
    fn to_interval(self) -> Interval {
        Interval::try_from((self, self)).unwrap_or(Interval::ENTIRE)
    }
    fn mul_add(self, a: Self, b: Self) -> Self {
        f64::mul_add(self, a, b)
    }
    fn recip(self) -> Self {
        1.0 / self
    }
    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }
    fn exp(self) -> Self {
        f64::exp(self)
    }
    fn tanh(self) -> Self {
        f64::tanh(self)
    }
    fn erf(self) -> Self {
        erf_f64_approx(self)
    }
    fn sin(self) -> Self {
        f64::sin(self)
    }
    fn cos(self) -> Self {
        f64::cos(self)
    }
    fn sigmoid(self) -> Self {
        1.0 / (1.0 + (-self).exp())
    }
    fn softplus(self) -> Self {
        if self > 0.0 {
            self + (-self).exp().ln_1p()
        } else {
            self.exp().ln_1p()
        }
    }
    fn magnitude(self) -> f64 {
        self.abs()
    }
}

/// erf for the non-rigorous path (MPFR at 53 bits, rounded to nearest).
fn erf_f64_approx(x: f64) -> f64 {
    Float::with_val(53, x).erf().to_f64()
}

/// Applies a non-decreasing function to the endpoints of `x`, rounding outward.
/// `f(v, round)` must return `f(v)` rounded in direction `round`.
fn monotone_enclosure(x: Interval, f: impl Fn(f64, Round) -> f64) -> Interval {
    if x.is_empty() {
        return x;
    }
    let lo = f(x.inf(), Round::Down);
    let hi = f(x.sup(), Round::Up);
    Interval::try_from((lo, hi)).unwrap_or(Interval::ENTIRE)
}

/// Evaluates `op` on `v` in MPFR at 64 bits rounded in direction `round`, then rounds to f64 in
/// the same direction: both roundings move the same way, so the result bounds `op(v)`.
fn mpfr_directed(v: f64, round: Round, op: impl Fn(&mut Float, Round)) -> f64 {
    if v.is_infinite() {
        let mut f = Float::with_val(64, v);
        op(&mut f, round);
        return f.to_f64_round(round);
    }
    let mut f = Float::with_val(64, v);
    op(&mut f, round);
    f.to_f64_round(round)
}

impl Scalar for Interval {
    fn zero() -> Self {
        inari::const_interval!(0.0, 0.0)
    }
    fn one() -> Self {
        inari::const_interval!(1.0, 1.0)
    }
    fn exact(x: f64) -> Self {
        Interval::try_from((x, x)).expect("Scalar::exact needs a finite f64")
    }
    fn from_interval(x: Interval) -> Self {
        x
    }
    fn to_interval(self) -> Interval {
        self
    }
    fn mul_add(self, a: Self, b: Self) -> Self {
        Interval::mul_add(self, a, b)
    }
    fn recip(self) -> Self {
        Interval::recip(self)
    }
    fn sqrt(self) -> Self {
        Interval::sqrt(self)
    }
    fn exp(self) -> Self {
        Interval::exp(self)
    }
    fn tanh(self) -> Self {
        Interval::tanh(self)
    }
    fn erf(self) -> Self {
        monotone_enclosure(self, |v, r| mpfr_directed(v, r, |f, r| {
            f.erf_round(r);
        }))
    }
    fn sin(self) -> Self {
        Interval::sin(self)
    }
    fn cos(self) -> Self {
        Interval::cos(self)
    }
    fn sigmoid(self) -> Self {
        // Non-decreasing; 1 / (1 + exp(-v)) evaluated on the point interval is an enclosure.
        monotone_enclosure(self, |v, r| {
            let p = Interval::try_from((v, v)).unwrap_or(Interval::ENTIRE);
            let s = (Interval::one() + (-p).exp()).recip();
            if r == Round::Down { s.inf() } else { s.sup() }
        })
    }
    fn softplus(self) -> Self {
        // Non-decreasing; for v > 0 use v + ln(1 + exp(-v)) to avoid overflow.
        monotone_enclosure(self, |v, r| {
            let p = Interval::try_from((v, v)).unwrap_or(Interval::ENTIRE);
            let s = if v > 0.0 {
                p + (Interval::one() + (-p).exp()).ln()
            } else {
                (Interval::one() + p.exp()).ln()
            };
            if r == Round::Down { s.inf() } else { s.sup() }
        })
    }
    fn magnitude(self) -> f64 {
        self.mag()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use inari::interval;

    #[test]
    fn erf_enclosure_contains_high_precision_value() {
        for &v in &[-3.0, -0.5, 0.0, 1e-300, 0.3, 2.0, 6.0] {
            let x = interval!(v, v).unwrap();
            let e = Scalar::erf(x);
            let reference = Float::with_val(200, v).erf();
            assert!(Float::with_val(200, e.inf()) <= reference && reference <= Float::with_val(200, e.sup()));
            assert!(e.wid() <= 4.0 * f64::EPSILON);
        }
    }

    #[test]
    fn sigmoid_and_softplus_contain_references() {
        for &v in &[-800.0, -20.0, -1.0, 0.0, 0.7, 30.0, 800.0] {
            let x = interval!(v, v).unwrap();
            let s = Scalar::sigmoid(x);
            let sp = Scalar::softplus(x);
            let fv = Float::with_val(300, v);
            let sig_ref = Float::with_val(300, 1) / (Float::with_val(300, 1) + Float::with_val(300, -&fv).exp());
            let sp_ref = Float::with_val(300, fv.clone().exp() + 1u32).ln();
            assert!(Float::with_val(300, s.inf()) <= sig_ref && sig_ref <= Float::with_val(300, s.sup()), "sigmoid {v}");
            assert!(Float::with_val(300, sp.inf()) <= sp_ref && sp_ref <= Float::with_val(300, sp.sup()), "softplus {v}");
        }
    }
}
