//! A fast rigorous interval type for the integrator's inner loops.
//!
//! Each endpoint is computed with the processor's round-to-nearest arithmetic and then moved
//! at least one floating-point number outward (branch-free, by [`ulp_step`]). For `+ - * /`, `sqrt` and
//! `mul_add` (one fused rounding), IEEE 754 guarantees that the rounded result is the floating
//! point number nearest to the exact result, so the exact result lies between the rounded
//! result's two neighbours. Proof: `proofs/fast-interval.md`.
//!
//! It trades one ulp per operation of width against inari's exact directed rounding, for
//! inlinable, branch-light code (no rounding-mode switches, no library calls). Elementary
//! functions are `arith::elementary` (exp, tanh, sigmoid, from these operations) or delegated
//! to inari/MPFR through exact conversion of the endpoints (erf, sin, cos, softplus).

use super::scalar::Scalar;
use inari::Interval;
use std::ops::{Add, AddAssign, Div, Mul, Neg, Sub, SubAssign};

/// A closed interval `[lo, hi]` of real numbers with f64 endpoints (`lo <= hi`, or NaN
/// endpoints after an invalid operation, which convert to the whole line).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FastInterval {
    pub lo: f64,
    pub hi: f64,
}

impl FastInterval {
    pub const ZERO: FastInterval = FastInterval { lo: 0.0, hi: 0.0 };
    pub const ENTIRE: FastInterval = FastInterval { lo: f64::NEG_INFINITY, hi: f64::INFINITY };

    #[inline]
    pub fn point(x: f64) -> Self {
        FastInterval { lo: x, hi: x }
    }

    /// `[down(lo), up(hi)]`: widens round-to-nearest results into an enclosure.
    #[inline(always)]
    fn outward(lo: f64, hi: f64) -> Self {
        // An infinite endpoint on the inner side (overflow of the exact bound) moves to the
        // largest finite number, as `next_down(inf)` does; NaN stays NaN.
        let lo = if lo == f64::INFINITY { f64::MAX } else { lo - ulp_step(lo) };
        let hi = if hi == f64::NEG_INFINITY { -f64::MAX } else { hi + ulp_step(hi) };
        FastInterval { lo, hi }
    }

    /// `[down(lo), up(hi)]` for `lo`, `hi` that are round-to-nearest results of single
    /// operations (`+ - *`, `fma`, or minima/maxima of such) whose exact values bound a set:
    /// the returned interval contains that set (`proofs/fast-interval.md`, Lemmas 1 and 1b).
    /// For callers that form their own candidate endpoints (e.g. `enclose::poly`).
    #[inline(always)]
    pub fn from_nearest(lo: f64, hi: f64) -> Self {
        Self::outward(lo, hi)
    }

    pub fn from_inari(x: Interval) -> Self {
        if x.is_empty() {
            return FastInterval { lo: f64::NAN, hi: f64::NAN };
        }
        FastInterval { lo: x.inf(), hi: x.sup() }
    }

    /// The same set as an inari interval; NaN endpoints give the whole line.
    pub fn to_inari(self) -> Interval {
        if self.lo.is_nan() || self.hi.is_nan() {
            return Interval::ENTIRE;
        }
        Interval::try_from((self.lo, self.hi)).unwrap_or(Interval::ENTIRE)
    }

    fn apply(self, f: impl Fn(Interval) -> Interval) -> Self {
        Self::from_inari(f(self.to_inari()))
    }
}

/// `fl(fl(PHI * |x|) + ETA)` with `PHI = 2^-53 (1 + 2^-52)` and `ETA = 2^-1074`: for finite
/// `x`, `fl(x + ulp_step(x)) >= succ(x)` and `fl(x - ulp_step(x)) <= pred(x)` (Rump,
/// Zimmermann, Boldo & Melquiond 2009; proof in `proofs/fast-interval.md`, Lemma 1b).
/// Branch-free, unlike `f64::next_up`.
#[inline(always)]
fn ulp_step(x: f64) -> f64 {
    const PHI: f64 = f64::from_bits(0x3CA0_0000_0000_0001); // 2^-53 (1 + 2^-52)
    const ETA: f64 = f64::from_bits(1); // 2^-1074
    PHI * x.abs() + ETA
}

impl Add for FastInterval {
    type Output = Self;
    #[inline(always)]
    fn add(self, rhs: Self) -> Self {
        Self::outward(self.lo + rhs.lo, self.hi + rhs.hi)
    }
}

impl Sub for FastInterval {
    type Output = Self;
    #[inline(always)]
    fn sub(self, rhs: Self) -> Self {
        Self::outward(self.lo - rhs.hi, self.hi - rhs.lo)
    }
}

impl Neg for FastInterval {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        FastInterval { lo: -self.hi, hi: -self.lo }
    }
}

impl Mul for FastInterval {
    type Output = Self;
    #[inline(always)]
    fn mul(self, rhs: Self) -> Self {
        let (p1, p2, p3, p4) = (self.lo * rhs.lo, self.lo * rhs.hi, self.hi * rhs.lo, self.hi * rhs.hi);
        Self::outward(p1.min(p2).min(p3.min(p4)), p1.max(p2).max(p3.max(p4)))
    }
}

impl Div for FastInterval {
    type Output = Self;
    fn div(self, rhs: Self) -> Self {
        // Also the whole line when an endpoint is NaN (the comparisons are then false).
        if !(rhs.lo > 0.0 || rhs.hi < 0.0) {
            return FastInterval::ENTIRE;
        }
        let (q1, q2, q3, q4) = (self.lo / rhs.lo, self.lo / rhs.hi, self.hi / rhs.lo, self.hi / rhs.hi);
        Self::outward(q1.min(q2).min(q3.min(q4)), q1.max(q2).max(q3.max(q4)))
    }
}

impl AddAssign for FastInterval {
    #[inline(always)]
    fn add_assign(&mut self, rhs: Self) {
        *self = *self + rhs;
    }
}

impl SubAssign for FastInterval {
    #[inline(always)]
    fn sub_assign(&mut self, rhs: Self) {
        *self = *self - rhs;
    }
}

impl Scalar for FastInterval {
    fn zero() -> Self {
        FastInterval::ZERO
    }
    fn one() -> Self {
        FastInterval::point(1.0)
    }
    fn exact(x: f64) -> Self {
        FastInterval::point(x)
    }
    fn from_interval(x: Interval) -> Self {
        FastInterval::from_inari(x)
    }
    fn to_interval(self) -> Interval {
        self.to_inari()
    }
    /// `self * a + b` with one rounding per candidate (fused multiply-add).
    #[inline(always)]
    fn mul_add(self, a: Self, b: Self) -> Self {
        let lo = self.lo.mul_add(a.lo, b.lo)
            .min(self.lo.mul_add(a.hi, b.lo))
            .min(self.hi.mul_add(a.lo, b.lo).min(self.hi.mul_add(a.hi, b.lo)));
        let hi = self.lo.mul_add(a.lo, b.hi)
            .max(self.lo.mul_add(a.hi, b.hi))
            .max(self.hi.mul_add(a.lo, b.hi).max(self.hi.mul_add(a.hi, b.hi)));
        Self::outward(lo, hi)
    }
    fn recip(self) -> Self {
        FastInterval::point(1.0) / self
    }
    fn sqrt(self) -> Self {
        if self.hi < 0.0 || self.lo.is_nan() {
            return FastInterval { lo: f64::NAN, hi: f64::NAN };
        }
        let lo = if self.lo <= 0.0 { 0.0 } else { self.lo.sqrt().next_down().max(0.0) };
        FastInterval { lo, hi: self.hi.sqrt().next_up() }
    }
    fn exp(self) -> Self {
        super::elementary::exp(self)
    }
    fn tanh(self) -> Self {
        super::elementary::tanh(self)
    }
    fn erf(self) -> Self {
        self.apply(<Interval as Scalar>::erf)
    }
    fn sin(self) -> Self {
        self.apply(Interval::sin)
    }
    fn cos(self) -> Self {
        self.apply(Interval::cos)
    }
    fn sigmoid(self) -> Self {
        super::elementary::sigmoid(self)
    }
    fn softplus(self) -> Self {
        self.apply(<Interval as Scalar>::softplus)
    }
    fn magnitude(self) -> f64 {
        if self.lo.is_nan() || self.hi.is_nan() {
            return f64::INFINITY;
        }
        self.lo.abs().max(self.hi.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rug::{Float, Rational};

    fn exact(x: f64) -> Rational {
        Rational::from_f64(x).unwrap()
    }

    fn contains(iv: FastInterval, r: &Rational) -> bool {
        exact(iv.lo) <= *r && *r <= exact(iv.hi)
    }

    fn finite() -> impl Strategy<Value = f64> {
        prop_oneof![-1e3..1e3f64, -1e-300..1e-300f64, any::<i16>().prop_map(|i| i as f64 / 7.0)]
    }

    /// `x - ulp_step(x) <= pred(x)` and `x + ulp_step(x) >= succ(x)`, checked on every binade
    /// edge, the subnormals and random bit patterns (proofs/fast-interval.md, Lemma 1).
    fn assert_steps_outward(x: f64) {
        if !x.is_finite() {
            return;
        }
        let out = FastInterval::outward(x, x);
        assert!(out.lo <= x.next_down(), "lower step at {x:e} ({:#x}): {:e}", x.to_bits(), out.lo);
        assert!(out.hi >= x.next_up(), "upper step at {x:e} ({:#x}): {:e}", x.to_bits(), out.hi);
    }

    #[test]
    fn ulp_step_moves_at_least_one_number_outward() {
        let mut specials = vec![0.0, -0.0, f64::MAX, -f64::MAX, f64::MIN_POSITIVE, f64::from_bits(1)];
        for e in -1074..=1023 {
            let p = 2f64.powi(e);
            specials.extend([p, p.next_up(), p.next_down(), 3.0 * p, -p, -p.next_up(), -p.next_down()]);
        }
        for x in specials {
            assert_steps_outward(x);
        }
        let inf = FastInterval::outward(f64::INFINITY, f64::NEG_INFINITY);
        assert_eq!((inf.lo, inf.hi), (f64::MAX, -f64::MAX));
        let nan = FastInterval::outward(f64::NAN, f64::NAN);
        assert!(nan.lo.is_nan() && nan.hi.is_nan());
    }

    proptest! {
        #[test]
        fn ulp_step_on_random_bits(bits in any::<u64>()) {
            assert_steps_outward(f64::from_bits(bits));
        }

        /// Every operation on point intervals contains the exact rational result.
        #[test]
        fn operations_enclose_exact_results(a in finite(), b in finite(), c in finite()) {
            let (x, y, z) = (FastInterval::point(a), FastInterval::point(b), FastInterval::point(c));
            let (ra, rb, rc) = (exact(a), exact(b), exact(c));
            prop_assert!(contains(x + y, &(ra.clone() + &rb)));
            prop_assert!(contains(x - y, &(ra.clone() - &rb)));
            prop_assert!(contains(x * y, &(ra.clone() * &rb)));
            prop_assert!(contains(x.mul_add(y, z), &(ra.clone() * &rb + &rc)));
            if b != 0.0 {
                prop_assert!(contains(x / y, &(ra.clone() / &rb)));
            }
            if a >= 0.0 {
                let s = Scalar::sqrt(x);
                let r = Float::with_val(300, a).sqrt();
                prop_assert!(Float::with_val(300, s.lo) <= r && r <= Float::with_val(300, s.hi));
            }
        }

        /// Operations on wide intervals contain the results for members of the operands.
        #[test]
        fn wide_operands_contain_member_results(a in -50.0..50.0f64, wa in 0.0..3.0f64, b in -50.0..50.0f64, wb in 0.0..3.0f64, ta in 0.0..1.0f64, tb in 0.0..1.0f64) {
            let x = FastInterval { lo: a, hi: a + wa };
            let y = FastInterval { lo: b, hi: b + wb };
            let (u, v) = (a + ta * wa, b + tb * wb);
            let (u, v) = (u.clamp(x.lo, x.hi), v.clamp(y.lo, y.hi));
            prop_assert!(contains(x * y, &(exact(u) * exact(v))));
            prop_assert!(contains(x.mul_add(y, x), &(exact(u) * exact(v) + exact(u))));
            prop_assert!(contains(x - y, &(exact(u) - exact(v))));
        }
    }
}
