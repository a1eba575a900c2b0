//! Midpoint-radius intervals ("balls") for nearly-thin data: the Taylor expansion of the flow
//! through a point, where every quantity is a real number known to within a few ulps.
//!
//! The midpoint is computed exactly as the plain f64 code computes it (one fused multiply-add
//! per `mul_add`), and the radius bounds the distance to every real number represented: the
//! radii of the operands propagated through the operation, plus the rounding error of the
//! midpoint. Radii are computed in round-to-nearest from non-negative terms and then inflated
//! by `RADIUS_INFLATION` plus `RADIUS_FLOOR`, which covers every rounding of that computation.
//! A `mul_add` costs about 8 flops against about 24 for the endpoint type [`FastInterval`].
//! Proof: `proofs/fast-interval.md`, section "Balls".
//!
//! Elementary functions, division and square roots convert to [`FastInterval`] and back
//! (rare operations: once per neuron and order).

use super::fast_interval::FastInterval;
use super::scalar::Scalar;
use inari::Interval;
use std::ops::{Add, AddAssign, Div, Mul, Neg, Sub, SubAssign};

/// The set `[mid - rad, mid + rad]`; `rad >= 0`, or NaN/infinite (the whole line).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ball {
    pub mid: f64,
    pub rad: f64,
}

/// `2^-53 (1 + 2^-52)`: `|x - RN(x)| <= 2^-53 (1 + 2^-52) |RN(x)| + 2^-1075` for every real `x`
/// whose rounding does not overflow (`u = 2^-53`, `|x - RN(x)| <= u |x| <= u (|RN(x)| + |x - RN(x)|)`,
/// so `|x - RN(x)| <= u/(1-u) |RN(x)|` in the normal range, half the smallest subnormal below
/// it); the absolute part is inside `RADIUS_FLOOR`. (With `2^-52`, twice this, the output widths
/// of the benchmarks were 12-17% wider: the midpoint roundings dominate them.)
const REL_ROUNDING: f64 = f64::from_bits(0x3CA0_0000_0000_0001);
/// `1 + 2^-48`: covers the relative rounding of up to 8 round-to-nearest operations on
/// non-negative numbers and of the final multiplication (`(1 - 2^-53)^-9 < 1 + 2^-48`).
const RADIUS_INFLATION: f64 = 1.0 + 1.0 / 281_474_976_710_656.0;
/// `2^-1064` (1024 smallest subnormals): covers the absolute (underflow) rounding of the same
/// operations and of the midpoint.
const RADIUS_FLOOR: f64 = f64::from_bits(1 << 10);

/// An upper bound of the real number `t` computed from non-negative terms by at most 8
/// round-to-nearest operations (`t~`): `RN(RN(t~ + RADIUS_FLOOR) * RADIUS_INFLATION)`.
#[inline(always)]
fn radius_up(t: f64) -> f64 {
    (t + RADIUS_FLOOR) * RADIUS_INFLATION
}

impl Ball {
    pub const ZERO: Ball = Ball { mid: 0.0, rad: 0.0 };

    #[inline]
    pub fn point(x: f64) -> Self {
        Ball { mid: x, rad: 0.0 }
    }

    /// The same set (or a superset) with endpoints.
    pub fn to_fast(self) -> FastInterval {
        if !(self.rad >= 0.0) || !self.mid.is_finite() {
            return FastInterval::ENTIRE;
        }
        FastInterval::point(self.mid) + FastInterval { lo: -self.rad, hi: self.rad }
    }

    /// A ball containing the interval `x` (the whole line for unbounded or NaN intervals).
    pub fn from_fast(x: FastInterval) -> Self {
        if !(x.lo.is_finite() && x.hi.is_finite()) {
            return Ball { mid: 0.0, rad: f64::INFINITY };
        }
        let mid = 0.5 * x.lo + 0.5 * x.hi;
        // Any f64 `mid` works; the radius reaches both endpoints (one rounding, then up).
        let reach = (x.hi - mid).max(mid - x.lo);
        Ball { mid, rad: radius_up(reach) }
    }
}

impl Ball {
    /// `tanh` of the ball given `at_mid`, an enclosure of `tanh(mid)`: `tanh(mid) +- L rad` with
    /// `L = 1 - g^2 >= sup |tanh'| = sup (1 - tanh^2)` over the ball, where `g <= min |tanh|`
    /// over the ball is `|tanh(mid)| - rad` (tanh is 1-Lipschitz), clamped at 0. (With `L = 1`
    /// the widths on the benchmarks grew by a quarter.) Non-finite balls go through the
    /// endpoint path. `BallVec` passes the batched `elementary::tanh_points` here.
    pub fn tanh_around(self, at_mid: FastInterval) -> Self {
        if !(self.rad >= 0.0 && self.rad.is_finite() && self.mid.is_finite()) {
            return Ball::from_fast(Scalar::tanh(self.to_fast()));
        }
        let mig = if at_mid.lo > 0.0 { at_mid.lo } else if at_mid.hi < 0.0 { -at_mid.hi } else { 0.0 };
        let g = (FastInterval::point(mig) - FastInterval::point(self.rad)).lo.max(0.0);
        let one = FastInterval::point(1.0);
        let lipschitz = (one - FastInterval::point(g) * FastInterval::point(g)).hi.min(1.0);
        let spread = FastInterval::point(lipschitz) * FastInterval::point(self.rad);
        Ball::from_fast(at_mid + FastInterval { lo: -spread.hi, hi: spread.hi })
    }

    /// The image of the ball under a function `f` with `|f'| <= lipschitz` on the whole line,
    /// given `f_enclosure` (an enclosure of `f` on intervals): `f(mid) +- lipschitz * rad` by
    /// the mean value theorem, with `f(mid)` enclosed at the single point `mid` (half the cost
    /// of enclosing `f` at two endpoints). Non-finite balls go through the endpoint path.
    fn lipschitz_image(self, lipschitz: f64, f_enclosure: impl Fn(FastInterval) -> FastInterval) -> Self {
        if !(self.rad >= 0.0 && self.rad.is_finite() && self.mid.is_finite()) {
            return Ball::from_fast(f_enclosure(self.to_fast()));
        }
        let at_mid = f_enclosure(FastInterval::point(self.mid));
        let spread = FastInterval::point(lipschitz) * FastInterval::point(self.rad);
        Ball::from_fast(at_mid + FastInterval { lo: -spread.hi, hi: spread.hi })
    }
}

impl Add for Ball {
    type Output = Self;
    #[inline(always)]
    fn add(self, rhs: Self) -> Self {
        let mid = self.mid + rhs.mid;
        Ball { mid, rad: radius_up(self.rad + rhs.rad + REL_ROUNDING * mid.abs()) }
    }
}

impl Sub for Ball {
    type Output = Self;
    #[inline(always)]
    fn sub(self, rhs: Self) -> Self {
        let mid = self.mid - rhs.mid;
        Ball { mid, rad: radius_up(self.rad + rhs.rad + REL_ROUNDING * mid.abs()) }
    }
}

impl Neg for Ball {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        Ball { mid: -self.mid, rad: self.rad }
    }
}

impl Mul for Ball {
    type Output = Self;
    #[inline(always)]
    fn mul(self, rhs: Self) -> Self {
        self.mul_add(rhs, Ball::ZERO)
    }
}

impl Div for Ball {
    type Output = Self;
    fn div(self, rhs: Self) -> Self {
        Ball::from_fast(self.to_fast() / rhs.to_fast())
    }
}

impl AddAssign for Ball {
    #[inline(always)]
    fn add_assign(&mut self, rhs: Self) {
        *self = *self + rhs;
    }
}

impl SubAssign for Ball {
    #[inline(always)]
    fn sub_assign(&mut self, rhs: Self) {
        *self = *self - rhs;
    }
}

impl Scalar for Ball {
    fn zero() -> Self {
        Ball::ZERO
    }
    fn one() -> Self {
        Ball::point(1.0)
    }
    fn exact(x: f64) -> Self {
        Ball::point(x)
    }
    fn from_interval(x: Interval) -> Self {
        Ball::from_fast(FastInterval::from_inari(x))
    }
    fn to_interval(self) -> Interval {
        self.to_fast().to_inari()
    }
    /// `self * a + b`: for `s`, `x`, `y` within the radii of `self`, `a`, `b`,
    /// `|s x + y - (s~ x~ + y~)| <= |s~| rad(a) + rad(self) (|a~| + rad(a)) + rad(b)`, and the
    /// fused midpoint adds at most `2^-52 |mid| + 2^-1075`.
    #[inline(always)]
    fn mul_add(self, a: Self, b: Self) -> Self {
        let mid = self.mid.mul_add(a.mid, b.mid);
        let spread = self.rad.mul_add(a.mid.abs() + a.rad, self.mid.abs() * a.rad) + b.rad;
        Ball { mid, rad: radius_up(REL_ROUNDING.mul_add(mid.abs(), spread)) }
    }
    /// Below 8 terms sequential `mul_add`s: the four lanes of `dot_four_way` would cost three
    /// more ball additions than they save (gf-mlp-small's first layer has 2 inputs).
    fn dot(acc: Self, xs: &[Self], ys: &[Self]) -> Self {
        if xs.len().min(ys.len()) < 8 {
            xs.iter().zip(ys).fold(acc, |a, (x, y)| x.mul_add(*y, a))
        } else {
            super::scalar::dot_four_way(acc, xs, ys)
        }
    }
    fn recip(self) -> Self {
        Ball::from_fast(Scalar::recip(self.to_fast()))
    }
    fn sqrt(self) -> Self {
        Ball::from_fast(Scalar::sqrt(self.to_fast()))
    }
    fn exp(self) -> Self {
        Ball::from_fast(Scalar::exp(self.to_fast()))
    }
    /// `tanh(mid) +- L rad` with `L = 1 - g^2 >= sup |tanh'| = sup (1 - tanh^2)` over the ball,
    /// where `g <= min |tanh|` over the ball is `|tanh(mid)| - rad` (tanh is 1-Lipschitz),
    /// clamped at 0. (With `L = 1` the widths on the benchmarks grew by a quarter.)
    fn tanh(self) -> Self {
        if !(self.rad >= 0.0 && self.rad.is_finite() && self.mid.is_finite()) {
            return Ball::from_fast(Scalar::tanh(self.to_fast()));
        }
        self.tanh_around(Scalar::tanh(FastInterval::point(self.mid)))
    }
    /// `|erf'| <= 2 / sqrt(pi) < 1.13`.
    fn erf(self) -> Self {
        self.lipschitz_image(1.13, Scalar::erf)
    }
    fn sin(self) -> Self {
        self.lipschitz_image(1.0, Scalar::sin)
    }
    fn cos(self) -> Self {
        self.lipschitz_image(1.0, Scalar::cos)
    }
    /// `|sigmoid'| <= 1/4`.
    fn sigmoid(self) -> Self {
        self.lipschitz_image(0.25, Scalar::sigmoid)
    }
    /// `|softplus'| = sigmoid <= 1`.
    fn softplus(self) -> Self {
        self.lipschitz_image(1.0, Scalar::softplus)
    }
    fn magnitude(self) -> f64 {
        if !(self.rad >= 0.0) || self.mid.is_nan() {
            return f64::INFINITY;
        }
        (FastInterval::point(self.mid.abs()) + FastInterval::point(self.rad)).hi
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rug::Rational;

    fn exact(x: f64) -> Rational {
        Rational::from_f64(x).unwrap()
    }

    /// `|v - mid| <= rad`, exactly.
    fn contains(b: Ball, v: &Rational) -> bool {
        let d = Rational::from(v - exact(b.mid)).abs();
        b.rad.is_finite() && d <= exact(b.rad)
    }

    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![-1e3..1e3f64, -1e-300..1e-300f64, -1e-310..1e-310f64, any::<i16>().prop_map(|i| i as f64 / 7.0)]
    }

    fn radius() -> impl Strategy<Value = f64> {
        prop_oneof![Just(0.0), 0.0..1e-12f64, 0.0..1.0f64, Just(f64::from_bits(3))]
    }

    /// A member of `b` picked by `t in [-1, 1]`, as an exact rational.
    fn member(b: Ball, t: f64) -> Rational {
        exact(b.mid) + exact(b.rad) * exact(t)
    }

    proptest! {
        /// Operations contain the exact results for members of the operands.
        #[test]
        fn operations_contain_member_results(
            (x, rx, tx) in (value(), radius(), -1.0..=1.0f64),
            (y, ry, ty) in (value(), radius(), -1.0..=1.0f64),
            (z, rz, tz) in (value(), radius(), -1.0..=1.0f64),
        ) {
            let (a, b, c) = (Ball { mid: x, rad: rx }, Ball { mid: y, rad: ry }, Ball { mid: z, rad: rz });
            let (u, v, w) = (member(a, tx), member(b, ty), member(c, tz));
            prop_assert!(contains(a + b, &(u.clone() + &v)));
            prop_assert!(contains(a - b, &(u.clone() - &v)));
            prop_assert!(contains(a * b, &(u.clone() * &v)));
            prop_assert!(contains(a.mul_add(b, c), &(u.clone() * &v + &w)));
            prop_assert!(contains(-a, &(-u.clone())));
            if y.abs() > ry * 2.0 + 1e-300 {
                prop_assert!(contains(a / b, &(u.clone() / &v)));
            }
        }

        /// Conversions to and from endpoint intervals keep every member.
        #[test]
        fn conversions_keep_members(lo in value(), w in 0.0..10.0f64, t in 0.0..=1.0f64) {
            let hi = lo + w;
            let member = exact(lo) + (exact(hi) - exact(lo)) * exact(t);
            let ball = Ball::from_fast(FastInterval { lo, hi });
            prop_assert!(contains(ball, &member));
            let back = ball.to_fast();
            prop_assert!(exact(back.lo) <= member && member <= exact(back.hi));
        }
    }

    proptest! {
        /// The elementary functions of a ball contain the function at members (MPFR).
        #[test]
        fn elementary_functions_contain_member_values(x in -30.0..30.0f64, r in prop_oneof![Just(0.0), 0.0..1e-9f64, 0.0..2.0f64], t in -1.0..=1.0f64) {
            let b = Ball { mid: x, rad: r };
            let v = rug::Float::with_val(300, member(b, t));
            let inside = |out: Ball, value: rug::Float| {
                let d = (value - rug::Float::with_val(300, out.mid)).abs();
                d <= rug::Float::with_val(300, out.rad)
            };
            prop_assert!(inside(b.tanh(), v.clone().tanh()));
            prop_assert!(inside(b.erf(), v.clone().erf()));
            prop_assert!(inside(b.sin(), v.clone().sin()));
            prop_assert!(inside(b.cos(), v.clone().cos()));
            let one = rug::Float::with_val(300, 1);
            prop_assert!(inside(b.sigmoid(), one.clone() / (one.clone() + (-v.clone()).exp())));
            prop_assert!(inside(b.softplus(), (v.clone().exp() + one).ln()));
            prop_assert!(inside(b.exp(), v.exp()));
        }
    }

    #[test]
    fn non_finite_balls_are_the_whole_line() {
        let nan = Ball { mid: f64::NAN, rad: 0.0 };
        assert_eq!(nan.magnitude(), f64::INFINITY);
        assert_eq!(Ball { mid: 1.0, rad: f64::NAN }.to_fast(), FastInterval::ENTIRE);
        assert_eq!(Ball::from_fast(FastInterval::ENTIRE).magnitude(), f64::INFINITY);
    }
}
