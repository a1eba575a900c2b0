//! Mid-radius ball arithmetic: a ball `(m, r)` is the set `[m - r, m + r]` with `m` an MPFR
//! float of [`PREC`] bits and `r >= 0` an f64. Proof of every operation: `proofs/checker.md`,
//! section "Ball arithmetic".
//!
//! Contract of every function here: if each input ball contains a real number, the output ball
//! contains the result of the exact operation on those numbers (inclusion), whatever the numbers.
//!
//! Radii are computed in f64 with round-to-nearest and then inflated by [`up`] (or [`up_n`] for
//! long sums), which dominates the accumulated rounding of the f64 radius expression. The
//! midpoint is rounded to nearest by MPFR; its rounding error (at most `2^-PREC |result|`) is
//! added to the radius as `ROUND * mag(result)`.

use rug::float::Round;
use rug::ops::AssignRound;
use rug::Assign;
use rug::{Float, Rational};

/// Working precision of the midpoints (bits).
pub const PREC: u32 = 128;
/// Bound on the relative rounding error of one MPFR operation rounded to nearest at `PREC`
/// bits: `2^-127 >= 2^-PREC`, with a factor 2 of slack.
pub const ROUND: f64 = 5.877471754111438e-39; // 2^-127
/// Absolute slack covering f64 underflow in radius expressions: `2^-1000`.
const TINY: f64 = 9.332636185032189e-302;

/// Upper bound of a non-negative f64 radius expression of at most 24 roundings (each with
/// relative error `<= 2^-53` or absolute error `<= 2^-1074`): `x (1 + 2^-45) + 2^-1000`.
#[inline]
pub fn up(x: f64) -> f64 {
    x * (1.0 + 2.842170943040401e-14) + TINY
}

/// Upper bound of a non-negative f64 sum of `n` terms each computed by an expression as in
/// [`up`]: `x (1 + (n + 24) 2^-52) + (n + 24) 2^-1000`.
#[inline]
pub fn up_n(x: f64, n: usize) -> f64 {
    let k = (n + 24) as f64;
    x * (1.0 + k * 2.220446049250313e-16) + k * TINY
}

/// An upper bound of `|x|` as an f64 up to one rounding (relative `2^-53`), which the radius
/// expressions account for through [`up`]. Read from MPFR's representation: a finite non-zero
/// `x` is `0.b1b2... * 2^exp` with the top limb `L` (64 bits, top bit set) holding `b1..b64`,
/// so `|x| <= (L + 1) 2^(exp - 64)`. Exponents outside f64's range give `+inf` (huge) or
/// `2^-960` (tiny, `>= 2^exp`).
#[inline]
pub fn mag(x: &Float) -> f64 {
    if x.is_zero() {
        return 0.0;
    }
    if !x.is_finite() {
        return f64::INFINITY;
    }
    // SAFETY: a finite non-zero rug Float has `(prec + 63) / 64` limbs at `d`, the last being
    // the most significant.
    let (top, exp) = unsafe {
        let raw = &*x.as_raw();
        let limbs = (raw.prec as usize).div_ceil(64);
        #[allow(clippy::unnecessary_cast)] // exp_t is platform-dependent
        let exp = raw.exp as i64;
        (*raw.d.as_ptr().add(limbs - 1), exp)
    };
    let e = exp - 64;
    if e > 1023 - 64 {
        return f64::INFINITY;
    }
    if e < -1000 {
        return 2f64.powi(-960);
    }
    // 2^e exactly, built from its bits (e is in the normal range here).
    let scale = f64::from_bits(((e + 1023) as u64) << 52);
    (top as f64 + 1.0) * scale
}

/// The radius of a result: the propagated radius `prop` (an f64 expression as in [`up`]) plus
/// the midpoint's rounding error `ROUND |m|` when MPFR reports the rounding as inexact
/// (`dir != Equal`). When the inputs are exact points (`exact_inputs`) and the operation is
/// exact, the result is the exact point (radius 0).
#[inline]
fn radius(prop: f64, dir: std::cmp::Ordering, m: &Float, exact_inputs: bool) -> f64 {
    let exact = dir == std::cmp::Ordering::Equal;
    if exact && exact_inputs {
        0.0
    } else if exact {
        up(prop)
    } else {
        up(prop + ROUND * mag(m))
    }
}

/// A ball `[m - r, m + r]`.
#[derive(Clone, Debug)]
pub struct Ball {
    pub m: Float,
    pub r: f64,
}

impl Ball {
    /// `{0}`.
    pub fn zero() -> Ball {
        Ball { m: Float::new(PREC), r: 0.0 }
    }

    /// The exact f64 `x` (exact since `PREC >= 53`).
    pub fn exact(x: f64) -> Ball {
        Ball { m: Float::with_val(PREC, x), r: 0.0 }
    }

    /// The exact float `x`, rounded to `PREC` bits (error added to the radius).
    pub fn from_float(x: &Float) -> Ball {
        let mut m = Float::new(PREC);
        let dir = m.assign_round(x, Round::Nearest);
        let r = if dir == std::cmp::Ordering::Equal { 0.0 } else { up(ROUND * mag(&m)) };
        Ball { m, r }
    }

    /// A ball containing the exact rational `q`.
    pub fn from_rational(q: &Rational) -> Ball {
        let mut m = Float::new(PREC);
        let dir = m.assign_round(q, Round::Nearest);
        let r = if dir == std::cmp::Ordering::Equal { 0.0 } else { up(ROUND * mag(&m)) };
        Ball { m, r }
    }

    /// A ball containing the f64 interval `[lo, hi]` (`lo <= hi`, both finite).
    pub fn from_interval(lo: f64, hi: f64) -> Ball {
        let mut m = Float::with_val(PREC, lo);
        m += hi;
        m /= 2;
        // r >= max(hi - m, m - lo), each difference rounded up.
        let a = Float::with_val_round(64, hi - &m, Round::Up).0;
        let b = Float::with_val_round(64, &m - lo, Round::Up).0;
        // Both differences were rounded up, so r is an upper bound as it stands.
        let r = a.max(&b).to_f64_round(Round::Up).max(0.0);
        Ball { m, r }
    }

    /// The lower end `m - r`, rounded down.
    pub fn lo(&self) -> Float {
        Float::with_val_round(PREC, &self.m - self.r, Round::Down).0
    }

    /// The upper end `m + r`, rounded up.
    pub fn hi(&self) -> Float {
        Float::with_val_round(PREC, &self.m + self.r, Round::Up).0
    }

    /// An upper bound of `sup |x|` over the ball.
    pub fn abs_upper(&self) -> f64 {
        up(mag(&self.m) + self.r)
    }

    /// A lower bound of `inf |x|` over the ball (0 if the ball contains 0).
    pub fn abs_lower(&self) -> f64 {
        // |m| rounded down to f64, minus r, rounded down.
        let a = Float::with_val_round(53, &*self.m.as_abs(), Round::Down).0.to_f64_round(Round::Down);
        let v = a - up(self.r);
        if v > 0.0 {
            v * (1.0 - 2.842170943040401e-14)
        } else {
            0.0
        }
    }

    /// `self + other`.
    pub fn add(&self, o: &Ball) -> Ball {
        let (m, dir) = Float::with_val_round(PREC, &self.m + &o.m, Round::Nearest);
        let r = radius(self.r + o.r, dir, &m, self.r == 0.0 && o.r == 0.0);
        Ball { m, r }
    }

    /// `self - other`.
    pub fn sub(&self, o: &Ball) -> Ball {
        let (m, dir) = Float::with_val_round(PREC, &self.m - &o.m, Round::Nearest);
        let r = radius(self.r + o.r, dir, &m, self.r == 0.0 && o.r == 0.0);
        Ball { m, r }
    }

    /// `-self` (exact).
    pub fn neg(&self) -> Ball {
        Ball { m: Float::with_val(PREC, -&self.m), r: self.r }
    }

    /// `self * other`.
    pub fn mul(&self, o: &Ball) -> Ball {
        let (m, dir) = Float::with_val_round(PREC, &self.m * &o.m, Round::Nearest);
        let prop = if self.r == 0.0 && o.r == 0.0 { 0.0 } else { mag(&self.m) * o.r + self.r * mag(&o.m) + self.r * o.r };
        let r = radius(prop, dir, &m, self.r == 0.0 && o.r == 0.0);
        Ball { m, r }
    }

    /// `self * k` for an integer `k`.
    pub fn mul_int(&self, k: i64) -> Ball {
        let (m, dir) = Float::with_val_round(PREC, &self.m * k, Round::Nearest);
        let r = radius(self.r * (k.unsigned_abs() as f64), dir, &m, self.r == 0.0);
        Ball { m, r }
    }

    /// `self / k` for an integer `k != 0`.
    pub fn div_int(&self, k: i64) -> Ball {
        let (m, dir) = Float::with_val_round(PREC, &self.m / k, Round::Nearest);
        let r = radius(self.r / (k.unsigned_abs() as f64), dir, &m, self.r == 0.0);
        Ball { m, r }
    }

    /// `self += a * b` (one fused MPFR rounding of the midpoint).
    pub fn fma_assign(&mut self, a: &Ball, b: &Ball) {
        dot_acc(self, std::iter::once((a, b)));
    }

    /// `self^2` (the range of `x^2`, which is tighter than `x * x` when the ball contains 0
    /// only through the same bound: we use the product bound, valid for the square as well).
    pub fn sqr(&self) -> Ball {
        self.mul(self)
    }

    /// A ball containing `[0, hi]` for `hi = self.hi()` (used for `S = [0, h]`).
    pub fn zero_to(hi: &Ball) -> Ball {
        let top = hi.hi();
        let m = Float::with_val(PREC, &top / 2u32);
        let r = up(Float::with_val_round(64, &m, Round::Up).0.to_f64_round(Round::Up));
        Ball { m, r }
    }

    /// `sqrt(self)` for a ball inside `[0, inf)` with positive lower end; `None` otherwise.
    /// Inclusion: `sqrt` is increasing, so `[sqrt(lo), sqrt(hi)]` contains the range.
    pub fn sqrt(&self) -> Option<Ball> {
        let lo = self.lo();
        if lo <= 0 {
            return None;
        }
        let a = Float::with_val_round(PREC, lo.sqrt_ref(), Round::Down).0;
        let b = Float::with_val_round(PREC, self.hi().sqrt_ref(), Round::Up).0;
        Some(interval_to_ball(&a, &b))
    }
}

/// A ball containing the MPFR interval `[a, b]`, `a <= b`.
pub fn interval_to_ball(a: &Float, b: &Float) -> Ball {
    let mut m = Float::with_val(PREC, a + b);
    m /= 2u32;
    let da = Float::with_val_round(64, &m - a, Round::Up).0.to_f64_round(Round::Up);
    let db = Float::with_val_round(64, b - &m, Round::Up).0.to_f64_round(Round::Up);
    Ball { m, r: da.max(db).max(0.0) }
}

/// Accumulates `acc += sum_i a_i * b_i` over the pairs: each product and each addition is
/// one MPFR rounding to nearest (error at most `2^-128` times its result). The radius gets the
/// propagated radii `|a_i| r(b_i) + r(a_i) |b_i| + r(a_i) r(b_i)` and the `2n` rounding errors,
/// each at most `ROUND/2` times `|acc_0| + sum |a_i b_i|` (times `1 + 2^-100`), bounded by
/// `(n + 1) ROUND absum` plus the final `ROUND |acc|`. Returns nothing; `acc` holds the result.
pub fn dot_acc<'a>(acc: &mut Ball, pairs: impl Iterator<Item = (&'a Ball, &'a Ball)>) {
    SCRATCH.with(|cell| {
        let mut t = cell.borrow_mut();
        dot_acc_with(acc, pairs, &mut t)
    })
}

thread_local! {
    /// Scratch float for [`dot_acc`] (avoids an allocation per dot product).
    static SCRATCH: std::cell::RefCell<Float> = std::cell::RefCell::new(Float::new(PREC));
}

/// [`dot_acc`] with a caller-provided scratch float of precision `PREC`.
fn dot_acc_with<'a>(acc: &mut Ball, pairs: impl Iterator<Item = (&'a Ball, &'a Ball)>, t: &mut Float) {
    let mut rad = 0.0f64;
    let mut absum = mag(&acc.m);
    let mut n = 0usize;
    let mut all_exact_inputs = acc.r == 0.0;
    for (x, y) in pairs {
        t.assign(&x.m * &y.m);
        acc.m += &*t;
        let (mx, my) = (mag(&x.m), mag(&y.m));
        if x.r != 0.0 || y.r != 0.0 {
            all_exact_inputs = false;
            rad += mx * y.r + x.r * my + x.r * y.r;
        }
        absum += mx * my;
        n += 1;
    }
    let _ = all_exact_inputs;
    acc.r = up_n(acc.r + rad + (n as f64 + 1.0) * ROUND * absum + ROUND * mag(&acc.m), n);
}

/// Many dot products accumulated at once, in any order of their terms: element `e` holds
/// `sum` of the pairs added to it. The radius of each result is the bound of [`dot_acc`]
/// (whose proof does not depend on the order of the terms), with `n` the number of pairs per
/// element (the same for all elements).
pub struct DotAccs {
    pub m: Vec<Float>,
    rad: Vec<f64>,
    absum: Vec<f64>,
    t: Float,
}

impl DotAccs {
    /// `len` accumulators, all 0.
    pub fn new(len: usize) -> Self {
        DotAccs { m: vec![Float::new(PREC); len], rad: vec![0.0; len], absum: vec![0.0; len], t: Float::new(PREC) }
    }

    /// Adds `x * y` to element `e`.
    #[inline]
    pub fn add(&mut self, e: usize, x: &Ball, y: &Ball) {
        self.t.assign(&x.m * &y.m);
        self.m[e] += &self.t;
        let (mx, my) = (mag(&x.m), mag(&y.m));
        self.rad[e] += mx * y.r + x.r * my + x.r * y.r;
        self.absum[e] += mx * my;
    }

    /// The balls, when every element received `n` pairs.
    pub fn finish(self, n: usize) -> Vec<Ball> {
        self.m
            .into_iter()
            .zip(self.rad)
            .zip(self.absum)
            .map(|((m, rad), absum)| {
                let r = up_n(rad + (n as f64 + 1.0) * ROUND * absum + ROUND * mag(&m), n);
                Ball { m, r }
            })
            .collect()
    }
}

/// Upper bound of the 2-norm of a ball vector: `sup_{x in box} |x|_2`.
pub fn norm2_upper(v: &[Ball]) -> f64 {
    let s: f64 = v.iter().map(|b| {
        let a = b.abs_upper();
        a * a
    }).sum();
    up_n(s, v.len()).sqrt() * (1.0 + 2.220446049250313e-16 * 4.0)
}

/// Lower bound of the 2-norm of any vector in the box: `inf_{x in box} |x|_2`.
pub fn norm2_lower(v: &[Ball]) -> f64 {
    let s: f64 = v.iter().map(|b| {
        let a = b.abs_lower();
        a * a
    }).sum();
    // Each term and the sum are rounded: deflate.
    let s = s * (1.0 - (v.len() as f64 + 24.0) * 2.220446049250313e-16) - (v.len() as f64 + 24.0) * TINY;
    if s <= 0.0 {
        return 0.0;
    }
    s.sqrt() * (1.0 - 2.220446049250313e-16 * 4.0)
}

/// A ball containing the 2-norm of every vector in the box (`[norm2_lower, norm2_upper]`).
pub fn norm2_ball(v: &[Ball]) -> (f64, f64) {
    (norm2_lower(v), norm2_upper(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic sequence of awkward f64 values (mixed signs and magnitudes).
    fn values() -> Vec<f64> {
        let mut x: u64 = 0x9e3779b97f4a7c15;
        let mut v = vec![0.0, 1.0, -1.0, 0.1, 1e-300, -3e300, 2f64.powi(-1070)];
        for _ in 0..200 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let m = (x >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            let e = ((x >> 3) % 80) as i32 - 40;
            v.push(m * 2f64.powi(e));
        }
        v
    }

    /// `q` in the ball (an infinite radius, from magnitudes beyond f64, contains everything).
    fn contains(b: &Ball, q: &Rational) -> bool {
        let (lo, hi) = (b.lo(), b.hi());
        let lo_ok = lo.to_rational().map_or(lo.is_infinite() && lo < 0, |l| l <= *q);
        let hi_ok = hi.to_rational().map_or(hi.is_infinite() && hi > 0, |h| *q <= h);
        lo_ok && hi_ok
    }

    /// Every operation's result contains the exact rational result, for balls that are
    /// exact points and for balls with radius (the extreme points of the inputs).
    #[test]
    fn operations_contain_exact_results() {
        let vals = values();
        for (i, &a) in vals.iter().enumerate() {
            let b = vals[(i * 7 + 3) % vals.len()];
            for &(ra, rb) in &[(0.0, 0.0), (a.abs() * 1e-10, 1e-20), (1e-3, 0.0)] {
                let (x, y) = (Ball { m: Float::with_val(PREC, a), r: ra }, Ball { m: Float::with_val(PREC, b), r: rb });
                // Corners of the input balls, exactly.
                for sa in [-1.0, 0.0, 1.0] {
                    for sb in [-1.0, 0.0, 1.0] {
                        let qa = Rational::from_f64(a).unwrap() + Rational::from_f64(ra).unwrap() * Rational::from_f64(sa).unwrap();
                        let qb = Rational::from_f64(b).unwrap() + Rational::from_f64(rb).unwrap() * Rational::from_f64(sb).unwrap();
                        assert!(contains(&x.add(&y), &Rational::from(&qa + &qb)), "add {a} {b}");
                        assert!(contains(&x.sub(&y), &Rational::from(&qa - &qb)), "sub {a} {b}");
                        assert!(contains(&x.mul(&y), &Rational::from(&qa * &qb)), "mul {a} {b}");
                        assert!(contains(&x.mul_int(-7), &Rational::from(&qa * -7)), "mul_int {a}");
                        assert!(contains(&x.div_int(3), &Rational::from(&qa / 3)), "div_int {a}");
                        let mut acc = y.clone();
                        dot_acc(&mut acc, [(&x, &y), (&y, &x)].into_iter());
                        let exact = Rational::from(&qb + Rational::from(&qa * &qb) * 2);
                        assert!(contains(&acc, &exact), "dot {a} {b}");
                    }
                }
            }
        }
    }

    /// `mag` bounds `|x|` up to the relative rounding that `up` absorbs.
    #[test]
    fn mag_bounds_the_magnitude() {
        for v in values() {
            let x = Float::with_val(PREC, v) / 3u32;
            let x = Float::with_val(PREC, x);
            let m = mag(&x);
            assert!(Float::with_val(PREC, &*x.as_abs()) <= up(m), "{v}");
        }
    }

    /// The norm bounds enclose the norm of every corner of a small box.
    #[test]
    fn norms_enclose() {
        let v = vec![Ball { m: Float::with_val(PREC, 3.0), r: 0.5 }, Ball { m: Float::with_val(PREC, -4.0), r: 0.25 }];
        let (lo, hi) = norm2_ball(&v);
        assert!(lo <= (2.5f64 * 2.5 + 3.75 * 3.75).sqrt());
        assert!(hi >= (3.5f64 * 3.5 + 4.25 * 4.25).sqrt());
        assert!(lo > 4.0 && hi < 5.6);
    }
}
