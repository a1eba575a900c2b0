//! inari intervals whose `tanh` needs one MPFR call instead of two: for the one forward pass
//! where a tight enclosure matters (`h(w0)`, the centring offset of every residual). Every other
//! operation is inari's (exact directed rounding; balls there widened the gf-mlp-small outputs
//! from 3.3e-12 to 4.9e-12, measured). Proof: `proofs/fast-interval.md`, lemma B3.

use crate::arith::fast_interval::FastInterval;
use crate::arith::scalar::Scalar;
use inari::Interval;
use rug::float::Round;
use rug::Float;
use std::cmp::Ordering;
use std::ops::{Add, AddAssign, Div, Mul, Neg, Sub, SubAssign};

/// An inari interval with `tanh` from one correctly rounded MPFR call at the midpoint.
#[derive(Clone, Copy, Debug)]
pub struct TightInterval(pub Interval);

/// An interval of width at most one ulp containing `tanh(x)`: MPFR's round-to-nearest result and
/// its ternary value (the direction of the rounding), for `x` whose result is a normal f64
/// (`None` otherwise: subnormal results would be rounded again by the conversion).
fn tanh_point(x: f64) -> Option<FastInterval> {
    if !x.is_finite() {
        return None;
    }
    let mut y = Float::with_val(53, x);
    let dir = y.tanh_round(Round::Nearest);
    let v = y.to_f64();
    if !(v.abs() >= 1e-300) {
        return None;
    }
    Some(match dir {
        Ordering::Less => FastInterval { lo: v, hi: v.next_up() },
        Ordering::Greater => FastInterval { lo: v.next_down(), hi: v },
        Ordering::Equal => FastInterval { lo: v, hi: v },
    })
}

impl TightInterval {
    /// Lemma B3: for `x` in `[m - r, m + r]` (`m` the midpoint of the interval, `r` its radius
    /// rounded up), `tanh(x) in tanh(m) + [-L r, L r]` with `tanh(m)` from [`tanh_point`] and
    /// `L = 1 - g^2 >= sup |tanh'|` on the interval, `g = max(0, mig(tanh(m)) - r)` (tanh is
    /// 1-Lipschitz), as in `Ball::tanh`. Falls back to inari for unbounded intervals.
    fn tanh_interval(x: Interval) -> Interval {
        if !x.is_common_interval() {
            return x.tanh();
        }
        let m = x.mid();
        let r = (FastInterval::point(x.sup()) - FastInterval::point(m)).hi.max((FastInterval::point(m) - FastInterval::point(x.inf())).hi);
        let Some(at_mid) = tanh_point(m) else { return x.tanh() };
        let mig = if at_mid.lo > 0.0 { at_mid.lo } else if at_mid.hi < 0.0 { -at_mid.hi } else { 0.0 };
        let g = (FastInterval::point(mig) - FastInterval::point(r)).lo.max(0.0);
        let one = FastInterval::point(1.0);
        let lipschitz = (one - FastInterval::point(g) * FastInterval::point(g)).hi.min(1.0);
        let spread = (FastInterval::point(lipschitz) * FastInterval::point(r)).hi;
        let out = (at_mid + FastInterval { lo: -spread, hi: spread }).to_inari();
        // tanh takes values in [-1, 1].
        out.intersection(Interval::try_from((-1.0, 1.0)).expect("[-1, 1]"))
    }
}

macro_rules! binary {
    ($tr:ident, $f:ident, $op:tt) => {
        impl $tr for TightInterval {
            type Output = Self;
            #[inline(always)]
            fn $f(self, rhs: Self) -> Self {
                TightInterval(self.0 $op rhs.0)
            }
        }
    };
}
binary!(Add, add, +);
binary!(Sub, sub, -);
binary!(Mul, mul, *);
binary!(Div, div, /);

impl Neg for TightInterval {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        TightInterval(-self.0)
    }
}

impl AddAssign for TightInterval {
    #[inline(always)]
    fn add_assign(&mut self, rhs: Self) {
        self.0 = self.0 + rhs.0;
    }
}

impl SubAssign for TightInterval {
    #[inline(always)]
    fn sub_assign(&mut self, rhs: Self) {
        self.0 = self.0 - rhs.0;
    }
}

impl Scalar for TightInterval {
    fn zero() -> Self {
        TightInterval(<Interval as Scalar>::zero())
    }
    fn one() -> Self {
        TightInterval(<Interval as Scalar>::one())
    }
    fn exact(x: f64) -> Self {
        TightInterval(<Interval as Scalar>::exact(x))
    }
    fn from_interval(x: Interval) -> Self {
        TightInterval(x)
    }
    fn to_interval(self) -> Interval {
        self.0
    }
    #[inline(always)]
    fn mul_add(self, a: Self, b: Self) -> Self {
        TightInterval(Scalar::mul_add(self.0, a.0, b.0))
    }
    fn recip(self) -> Self {
        TightInterval(Scalar::recip(self.0))
    }
    fn sqrt(self) -> Self {
        TightInterval(Scalar::sqrt(self.0))
    }
    fn exp(self) -> Self {
        TightInterval(Scalar::exp(self.0))
    }
    fn tanh(self) -> Self {
        TightInterval(TightInterval::tanh_interval(self.0))
    }
    fn erf(self) -> Self {
        TightInterval(Scalar::erf(self.0))
    }
    fn sin(self) -> Self {
        TightInterval(Scalar::sin(self.0))
    }
    fn cos(self) -> Self {
        TightInterval(Scalar::cos(self.0))
    }
    fn sigmoid(self) -> Self {
        TightInterval(Scalar::sigmoid(self.0))
    }
    fn softplus(self) -> Self {
        TightInterval(Scalar::softplus(self.0))
    }
    fn magnitude(self) -> f64 {
        Scalar::magnitude(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rug::Rational;

    proptest! {
        /// `tanh` of an interval contains `tanh` of its members (MPFR at 300 bits), and the
        /// point enclosure is at most one ulp wide.
        #[test]
        fn tanh_contains_member_values(x in prop_oneof![-30.0..30.0f64, -1e-6..1e-6f64], w in prop_oneof![Just(0.0), 0.0..1e-12f64, 0.0..2.0f64], t in 0.0..=1.0f64) {
            let iv = Interval::try_from((x, x + w)).unwrap();
            let member = Rational::from_f64(x).unwrap() + (Rational::from_f64(iv.sup()).unwrap() - Rational::from_f64(x).unwrap()) * Rational::from_f64(t).unwrap();
            let v = Float::with_val(300, member).tanh();
            let out = TightInterval(iv).tanh().0;
            prop_assert!(Float::with_val(300, out.inf()) <= v && v <= Float::with_val(300, out.sup()));
            if let Some(p) = tanh_point(x) {
                prop_assert!(p.hi <= p.lo.next_up());
                let exact = Float::with_val(300, x).tanh();
                prop_assert!(Float::with_val(300, p.lo) <= exact && exact <= Float::with_val(300, p.hi));
            }
        }
    }
}
