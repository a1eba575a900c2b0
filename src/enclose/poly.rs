//! Vector polynomials in one variable with interval coefficients: `P(s) = sum_j c[j] s^j`,
//! `c[j]` a vector. Interval evaluation encloses `{P(s) : s in S}` for every choice of the
//! coefficients within their intervals (inclusion isotonicity of interval arithmetic).
//!
//! The evaluators work in the endpoint intervals of `arith::fast_interval` (round to nearest,
//! then one step outward): the integrator evaluates its series only at `s >= 0` (times within
//! a step), where one Horner step `a s + c` needs two fused multiply-adds per endpoint
//! ([`mul_add_nonneg`]), one for a point `s`. Proofs: `proofs/sup-over-interval.md`, section
//! "Evaluation", and `proofs/fast-interval.md`.

use crate::arith::fast_interval::FastInterval;
use crate::arith::scalar::Scalar;
use inari::Interval;

/// Coefficient types the evaluators read, as the same set in endpoint form (exact conversion).
pub trait Endpoints: Copy {
    fn fast(self) -> FastInterval;
}

impl Endpoints for FastInterval {
    #[inline(always)]
    fn fast(self) -> FastInterval {
        self
    }
}

impl Endpoints for f64 {
    #[inline(always)]
    fn fast(self) -> FastInterval {
        FastInterval::point(self)
    }
}

impl Endpoints for Interval {
    #[inline(always)]
    fn fast(self) -> FastInterval {
        FastInterval::from_inari(self)
    }
}

/// An enclosure of `{x t + y : x in a, t in s, y in c}` when `s ⊆ [0, inf)`: for `t >= 0` the
/// smallest `x t` is `a.lo t` and the largest `a.hi t`, both linear in `t`, so the extremes
/// over `t` are at the endpoints of `s`; each candidate is one fused multiply-add, rounded to
/// nearest, then the result is moved one step outward (`proofs/sup-over-interval.md`, lemma E).
/// Callers guarantee `s.lo >= 0`.
#[inline(always)]
pub fn mul_add_nonneg(a: FastInterval, s: FastInterval, c: FastInterval) -> FastInterval {
    let lo = a.lo.mul_add(s.lo, c.lo).min(a.lo.mul_add(s.hi, c.lo));
    let hi = a.hi.mul_add(s.lo, c.hi).max(a.hi.mul_add(s.hi, c.hi));
    FastInterval::from_nearest(lo, hi)
}

/// `a t + c` for a point `t >= 0` (lemma E with `s = [t, t]`).
#[inline(always)]
fn mul_add_point_nonneg(a: FastInterval, t: f64, c: FastInterval) -> FastInterval {
    FastInterval::from_nearest(a.lo.mul_add(t, c.lo), a.hi.mul_add(t, c.hi))
}

/// `P(s)` by Horner's scheme, componentwise, in endpoint intervals. Uses lemma E when
/// `s.lo >= 0` (the integrator's case), the general interval `mul_add` otherwise.
pub fn horner<C: Endpoints, R: AsRef<[C]>>(coeffs: &[R], s: FastInterval) -> Vec<FastInterval> {
    let top = coeffs.len() - 1;
    let mut acc: Vec<FastInterval> = coeffs[top].as_ref().iter().map(|c| c.fast()).collect();
    let rest = coeffs[..top].iter().rev();
    if s.lo == s.hi && s.lo >= 0.0 {
        let t = s.lo;
        for c in rest {
            for (a, &ci) in acc.iter_mut().zip(c.as_ref()) {
                *a = mul_add_point_nonneg(*a, t, ci.fast());
            }
        }
    } else if s.lo >= 0.0 {
        for c in rest {
            for (a, &ci) in acc.iter_mut().zip(c.as_ref()) {
                *a = mul_add_nonneg(*a, s, ci.fast());
            }
        }
    } else {
        for c in rest {
            for (a, &ci) in acc.iter_mut().zip(c.as_ref()) {
                *a = a.mul_add(s, ci.fast());
            }
        }
    }
    acc
}

/// The coefficients `j c[j]` (`j = 1..=q`) of `P'`, enclosed (`j` is exact in f64).
pub fn derivative_coeffs<C: Endpoints, R: AsRef<[C]>>(coeffs: &[R]) -> Vec<Vec<FastInterval>> {
    (1..coeffs.len())
        .map(|j| {
            let scale = FastInterval::point(j as f64);
            coeffs[j].as_ref().iter().map(|c| scale * c.fast()).collect()
        })
        .collect()
}

/// An enclosure of `{P(s) : s in S}` for `S ⊆ [0, inf)`: the mean value form
/// `P(m) + P'(S) (S - m)`, `m` a point of `S`, intersected, if `with_horner`, with the Horner
/// enclosure (both contain the range, so their intersection does). `derivative` holds the
/// coefficients of `P'` ([`derivative_coeffs`]). The mean value form is tight (quadratic in the
/// width of `S`) where the derivative is small, e.g. near a maximum; Horner's helps on wide `S`.
pub fn range(coeffs: &[Vec<FastInterval>], derivative: &[Vec<FastInterval>], s: FastInterval, with_horner: bool) -> Vec<FastInterval> {
    if derivative.is_empty() || !(s.lo >= 0.0 && s.lo <= s.hi) {
        return horner(coeffs, s);
    }
    let direct = if with_horner { horner(coeffs, s) } else { vec![FastInterval::ENTIRE; coeffs[0].len()] };
    // Any point of S; the clamps keep it inside S whatever the rounding of the midpoint.
    let m = (0.5 * (s.lo + s.hi)).max(s.lo).min(s.hi);
    let centre = horner(coeffs, FastInterval::point(m));
    let slope = horner(derivative, s);
    let offset = s - FastInterval::point(m);
    centre
        .iter()
        .zip(&slope)
        .zip(&direct)
        .map(|((&c, &d), &h)| {
            let mv = d.mul_add(offset, c);
            // f64::max/min skip a NaN operand: a NaN bound of one form leaves the other's.
            let (lo, hi) = (mv.lo.max(h.lo), mv.hi.min(h.hi));
            if lo <= hi {
                FastInterval { lo, hi }
            } else {
                h
            }
        })
        .collect()
}

/// `s^k` enclosed for `s ⊆ [0, inf)` (repeated lemma E products; callers guarantee `s.lo >= 0`).
pub fn pow_nonneg(s: FastInterval, k: u32) -> FastInterval {
    let mut p = FastInterval::point(1.0);
    for _ in 0..k {
        p = mul_add_nonneg(p, s, FastInterval::ZERO);
    }
    p
}

/// An upper bound of `|v|_2` for every real vector `v` with `v_i` in `x_i`: magnitudes squared
/// and summed by fused multiply-adds, each rounded to nearest then stepped up (all terms are
/// non-negative, so upper bounds of the partial sums chain), then the square root rounded up.
pub fn norm2_upper<C: Endpoints>(x: &[C]) -> f64 {
    let mut sum = 0.0f64;
    for xi in x {
        let m = xi.fast().magnitude();
        sum = FastInterval::from_nearest(sum, m.mul_add(m, sum)).hi;
    }
    Scalar::sqrt(FastInterval::point(sum)).hi
}

/// A lower bound of `|v|_2` for every real vector `v` with `v_i` in `x_i` (mignitudes squared,
/// summed downward, square root rounded down; 0 for any NaN or empty component).
pub fn norm2_lower(x: &[FastInterval]) -> f64 {
    let mut sum = 0.0f64;
    for xi in x {
        let m = if xi.lo > 0.0 && xi.lo <= xi.hi {
            xi.lo
        } else if xi.hi < 0.0 && xi.lo <= xi.hi {
            -xi.hi
        } else {
            0.0
        };
        sum = FastInterval::from_nearest(m.mul_add(m, sum), sum).lo.max(0.0);
    }
    if sum.is_nan() {
        return 0.0;
    }
    Scalar::sqrt(FastInterval::point(sum)).lo.max(0.0)
}

/// A point `c` and a radius `r` with every `v` (`v_i in x_i`) in the 2-norm ball `B(c, r)`:
/// `c_i` any f64 (near the midpoint), `r_i >= max(hi - c_i, c_i - lo)` rounded up, and
/// `r >= |(r_i)|_2`. Non-finite components give `c_i = 0` and `r = inf`.
pub fn centre_radius(x: &[FastInterval]) -> (Vec<f64>, f64) {
    let mut sum = 0.0f64;
    let centre = x
        .iter()
        .map(|xi| {
            if !(xi.lo.is_finite() && xi.hi.is_finite() && xi.lo <= xi.hi) {
                sum = f64::INFINITY;
                return 0.0;
            }
            let mut c = 0.5 * xi.lo + 0.5 * xi.hi;
            if !c.is_finite() {
                c = 0.0;
            }
            let up = (FastInterval::point(xi.hi) - FastInterval::point(c)).hi;
            let down = (FastInterval::point(c) - FastInterval::point(xi.lo)).hi;
            let r = up.max(down).max(0.0);
            sum = FastInterval::from_nearest(sum, r.mul_add(r, sum)).hi;
            c
        })
        .collect();
    (centre, Scalar::sqrt(FastInterval::point(sum)).hi)
}

/// For points `c` (f64) and increments enclosed by `d`: a point `c'` and a radius `r` such that
/// `c + x` lies in the 2-norm ball `B(c', r)` for every `x` with `x_i in d_i`.
/// `c'_i = RN(c_i + m_i)` with `m_i` a point near the middle of `d_i`, and
/// `r_i = |e_i| + rad_i` rounded up, where `e_i = c_i + m_i - c'_i` is the exact rounding error
/// of that sum (Knuth's TwoSum, error-free in round-to-nearest without overflow) and
/// `rad_i >= max(hi_i - m_i, m_i - lo_i)`: `|c_i + x_i - c'_i| <= |e_i| + |x_i - m_i|`
/// (`proofs/tube-integrator.md`, "Next ball"). Only half an ulp of `c'` enters, not the ulps
/// of an interval sum. Non-finite components give `c'_i = c_i` and `r = inf`.
pub fn advance(c: &[f64], d: &[FastInterval]) -> (Vec<f64>, f64) {
    let mut sum = 0.0f64;
    let centre = c
        .iter()
        .zip(d)
        .map(|(&ci, di)| {
            let m = 0.5 * di.lo + 0.5 * di.hi;
            let next = ci + m;
            if !(di.lo <= di.hi && m.is_finite() && next.is_finite() && ci.is_finite()) {
                sum = f64::INFINITY;
                return ci;
            }
            // TwoSum: next + e = ci + m exactly.
            let b_virtual = next - ci;
            let a_virtual = next - b_virtual;
            let e = (ci - a_virtual) + (m - b_virtual);
            let spread = (FastInterval::point(di.hi) - FastInterval::point(m)).hi.max((FastInterval::point(m) - FastInterval::point(di.lo)).hi).max(0.0);
            let r = (FastInterval::point(e.abs()) + FastInterval::point(spread)).hi;
            sum = FastInterval::from_nearest(sum, r.mul_add(r, sum)).hi;
            next
        })
        .collect();
    (centre, Scalar::sqrt(FastInterval::point(sum)).hi)
}

/// `P(s)` by Horner's scheme in inari's directed rounding, componentwise.
pub fn evaluate(coeffs: &[Vec<Interval>], s: Interval) -> Vec<Interval> {
    let n = coeffs[0].len();
    let mut acc = coeffs[coeffs.len() - 1].clone();
    for c in coeffs[..coeffs.len() - 1].iter().rev() {
        for e in 0..n {
            acc[e] = acc[e].mul_add(s, c[e]);
        }
    }
    acc
}

/// The coefficients of `sigma -> P(xi + sigma)` for every `xi in s`, `s ⊆ [0, inf)`:
/// `out[j] ⊇ {sum_{m>=j} C(m, j) coeffs[m] xi^{m-j} : xi in s}` (`proofs/tube-integrator.md`,
/// Lemma 1). Repeated synthetic division (`a_j <- a_j + xi a_{j+1}` for `j` from the top down,
/// once per degree) is an exact identity for each real `xi`; every step is one [`mul_add_nonneg`]
/// (lemma E), so by inclusion isotonicity the result encloses it for every `xi in s`.
/// Callers guarantee `s.lo >= 0`.
pub fn taylor_shift(coeffs: &[Vec<f64>], s: FastInterval) -> Vec<Vec<FastInterval>> {
    let mut a: Vec<Vec<FastInterval>> = coeffs.iter().map(|c| c.iter().map(|&x| FastInterval::point(x)).collect()).collect();
    let degree = a.len() - 1;
    for i in 0..degree {
        for j in (i..degree).rev() {
            let (low, high) = a.split_at_mut(j + 1);
            for (aj, &above) in low[j].iter_mut().zip(&high[0]) {
                *aj = mul_add_nonneg(above, s, *aj);
            }
        }
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rug::ops::Pow;
    use rug::Rational;

    fn exact(x: f64) -> Rational {
        Rational::from_f64(x).unwrap()
    }

    fn contains(v: FastInterval, r: &Rational) -> bool {
        exact(v.lo) <= *r && *r <= exact(v.hi)
    }

    /// A coefficient interval of width `w` around `c`, and a member picked by `t in [0, 1]`.
    fn coefficient(c: f64, w: f64, t: f64) -> (FastInterval, Rational) {
        let iv = FastInterval { lo: c, hi: c + w };
        let member = exact(c) + (exact(iv.hi) - exact(c)) * exact(t);
        (iv, member)
    }

    /// `sum_j m[j] s^j` exactly.
    fn exact_poly(m: &[Rational], s: &Rational) -> Rational {
        let mut acc = Rational::from(0);
        for c in m.iter().rev() {
            acc = acc * s + c;
        }
        acc
    }

    fn coeffs() -> impl Strategy<Value = Vec<(f64, f64, f64)>> {
        proptest::collection::vec((-10.0..10.0f64, prop_oneof![Just(0.0), 0.0..1e-12f64, 0.0..1.0f64], 0.0..=1.0f64), 1..18)
    }

    proptest! {
        /// Horner (over S and at points of S), the range enclosure and the powers contain the
        /// exact values at members, for S ⊆ [0, inf) (exact rational reference).
        #[test]
        fn evaluations_contain_exact_values(cs in coeffs(), a in 0.0..3.0f64, w in prop_oneof![Just(0.0), 0.0..1e-9f64, 0.0..2.0f64], u in 0.0..=1.0f64) {
            let (ivs, members): (Vec<FastInterval>, Vec<Rational>) = cs.iter().map(|&(c, wc, t)| coefficient(c, wc, t)).unzip();
            let rows: Vec<Vec<FastInterval>> = ivs.iter().map(|&c| vec![c, -c]).collect();
            let s = FastInterval { lo: a, hi: a + w };
            let point = exact(a) + (exact(s.hi) - exact(a)) * exact(u);
            let value = exact_poly(&members, &point);
            let direct = horner(&rows, s);
            prop_assert!(contains(direct[0], &value));
            prop_assert!(contains(direct[1], &-value.clone()));
            let derivative = derivative_coeffs(&rows);
            for with_horner in [true, false] {
                let r = range(&rows, &derivative, s, with_horner);
                prop_assert!(contains(r[0], &value));
                prop_assert!(contains(r[1], &-value.clone()));
            }
            let at = horner(&rows, FastInterval::point(a));
            prop_assert!(contains(at[0], &exact_poly(&members, &exact(a))));
            let k = cs.len() as u32;
            let p = pow_nonneg(s, k);
            prop_assert!(contains(p, &point.clone().pow(k)));
            // Horner over inari coefficients, and with a negative argument (general path).
            let inari_rows: Vec<Vec<Interval>> = rows.iter().map(|r| r.iter().map(|c| c.to_inari()).collect()).collect();
            prop_assert!(contains(horner(&inari_rows, s)[0], &value));
            let neg = FastInterval { lo: -a - w, hi: -a };
            let neg_point = -point;
            prop_assert!(contains(horner(&rows, neg)[0], &exact_poly(&members, &neg_point)));
        }

        /// The shifted coefficients contain the exact coefficients of `P(xi + sigma)` for a
        /// member `xi` of `s` (exact rational reference: `Q_j = P^(j)(xi) / j!`).
        #[test]
        fn taylor_shift_contains_exact_coefficients(cs in coeffs(), a in 0.0..1.0f64, w in prop_oneof![Just(0.0), 0.0..1e-9f64, 0.0..2.0f64], u in 0.0..=1.0f64) {
            let rows: Vec<Vec<f64>> = cs.iter().map(|&(c, _, _)| vec![c, -0.5 * c]).collect();
            let s = FastInterval { lo: a, hi: a + w };
            let xi = exact(a) + (exact(s.hi) - exact(a)) * exact(u);
            let shifted = taylor_shift(&rows, s);
            prop_assert_eq!(shifted.len(), rows.len());
            for j in 0..rows.len() {
                // Q_j(xi) = sum_{m>=j} C(m, j) P_m xi^(m-j)
                let mut q = Rational::from(0);
                for m in j..rows.len() {
                    let binom = rug::Integer::from(m).binomial(j as u32);
                    q += Rational::from(binom) * exact(rows[m][0]) * xi.clone().pow((m - j) as u32);
                }
                prop_assert!(contains(shifted[j][0], &q), "j = {}", j);
                prop_assert!(contains(shifted[j][1], &(q * Rational::from((-1, 2)))), "j = {}", j);
            }
        }

        /// The norms bound the norm of members; the ball contains the members.
        #[test]
        fn norms_and_balls_bound_members(cs in coeffs()) {
            let (ivs, members): (Vec<FastInterval>, Vec<Rational>) = cs.iter().map(|&(c, wc, t)| coefficient(c, wc, t)).unzip();
            let sq: Rational = members.iter().map(|m| m.clone() * m).sum();
            let up = exact(norm2_upper(&ivs));
            let lo = exact(norm2_lower(&ivs));
            prop_assert!(up.clone() * &up >= sq);
            prop_assert!(lo.clone() * &lo <= sq);
            let base: Vec<f64> = cs.iter().map(|&(c, _, _)| 3.0 * c + 0.1).collect();
            let (next, r) = advance(&base, &ivs);
            let d: Rational = members.iter().zip(&base).zip(&next).map(|((m, &b), &n)| { let e = exact(b) + m.clone() - exact(n); e.clone() * e }).sum();
            prop_assert!(exact(r) * exact(r) >= d);
            let (centre, radius) = centre_radius(&ivs);
            let d: Rational = members.iter().zip(&centre).map(|(m, &c)| { let e = m.clone() - exact(c); e.clone() * e }).sum();
            let r = exact(radius);
            prop_assert!(r.clone() * r >= d);
        }
    }

    #[test]
    fn non_finite_inputs_stay_safe() {
        let whole = [FastInterval::ENTIRE, FastInterval { lo: f64::NAN, hi: f64::NAN }];
        assert_eq!(norm2_upper(&whole), f64::INFINITY);
        assert_eq!(norm2_lower(&whole), 0.0);
        assert_eq!(centre_radius(&whole).1, f64::INFINITY);
        assert_eq!(advance(&[1.0, 2.0], &whole).1, f64::INFINITY);
    }
}
