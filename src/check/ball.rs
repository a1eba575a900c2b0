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
use rug::ops::{AddAssignRound, AssignRound, DivAssignRound, MulAssignRound};
use rug::ops::NegAssign;
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

/// An upper bound of `|x|` as an f64, read from MPFR's representation: a finite non-zero `x`
/// is `0.b1b2... * 2^exp` with the top limb (64 bits, top bit set) holding `b1..b64`; the bound
/// is [`mag_parts`] of it. Exponents outside f64's range give `+inf` (huge) or `2^-960` (tiny).
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
    mag_parts(u128::from(top) << 64, exp)
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

thread_local! {
    /// Floats of precision [`PREC`] given back by [`recycle`], handed out again by [`fresh`]:
    /// an expansion creates and drops hundreds of thousands of midpoints, and an MPFR
    /// allocation plus its release costs more instructions than the arithmetic on it.
    static SPARE: std::cell::RefCell<Vec<Float>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// At most this many spare floats are kept per thread (about 50 MB).
const SPARE_LIMIT: usize = 1 << 20;

/// A float of precision [`PREC`] with an unspecified value (a spare one when available). Every
/// caller assigns it before reading it.
#[inline]
fn fresh() -> Float {
    SPARE.with(|s| s.borrow_mut().pop()).unwrap_or_else(|| Float::new(PREC))
}

/// Gives the midpoints of `balls` back for reuse by [`fresh`] (on this thread). Only a matter
/// of speed: values are never read from a spare float.
pub fn recycle(balls: impl IntoIterator<Item = Ball>) {
    SPARE.with(|s| {
        let mut spare = s.borrow_mut();
        for b in balls {
            if spare.len() >= SPARE_LIMIT {
                break;
            }
            if b.m.prec() == PREC {
                spare.push(b.m);
            }
        }
    })
}

/// [`recycle`] for a series (a vector of coefficient vectors).
pub fn recycle_series(series: impl IntoIterator<Item = Vec<Ball>>) {
    for v in series {
        recycle(v);
    }
}

/// A ball `[m - r, m + r]`.
#[derive(Debug)]
pub struct Ball {
    pub m: Float,
    pub r: f64,
}

impl Clone for Ball {
    /// The same ball (the midpoint copied exactly into a float of its own precision).
    fn clone(&self) -> Ball {
        if self.m.prec() != PREC {
            return Ball { m: self.m.clone(), r: self.r };
        }
        let mut m = fresh();
        m.assign(&self.m);
        Ball { m, r: self.r }
    }
}

impl Ball {
    /// `{0}`.
    /// Whether the ball is the single point 0 (midpoint 0, radius 0).
    pub fn is_exact_zero(&self) -> bool {
        self.m.is_zero() && self.r == 0.0
    }

    pub fn zero() -> Ball {
        let mut m = fresh();
        m.assign(0u32);
        Ball { m, r: 0.0 }
    }

    /// The exact f64 `x` (exact since `PREC >= 53`).
    pub fn exact(x: f64) -> Ball {
        let mut m = fresh();
        m.assign(x);
        Ball { m, r: 0.0 }
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
        if self.is_exact_zero() {
            // |0| = 0 exactly ("Ball arithmetic", exact results).
            return 0.0;
        }
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
        let mut m = fresh();
        let dir = m.assign_round(&self.m + &o.m, Round::Nearest);
        let r = radius(self.r + o.r, dir, &m, self.r == 0.0 && o.r == 0.0);
        Ball { m, r }
    }

    /// `self - other`.
    pub fn sub(&self, o: &Ball) -> Ball {
        let mut m = fresh();
        let dir = m.assign_round(&self.m - &o.m, Round::Nearest);
        let r = radius(self.r + o.r, dir, &m, self.r == 0.0 && o.r == 0.0);
        Ball { m, r }
    }

    /// `-self` (exact).
    pub fn neg(&self) -> Ball {
        let mut m = fresh();
        m.assign(-&self.m);
        Ball { m, r: self.r }
    }

    /// `self * other`.
    pub fn mul(&self, o: &Ball) -> Ball {
        if self.is_exact_zero() || o.is_exact_zero() {
            // 0 times any real is exactly 0 (a finite ball; "Ball arithmetic", exact results).
            if self.m.is_finite() && o.m.is_finite() {
                return Ball::zero();
            }
        }
        let mut m = fresh();
        let dir = m.assign_round(&self.m * &o.m, Round::Nearest);
        let prop = if self.r == 0.0 && o.r == 0.0 { 0.0 } else { mag(&self.m) * o.r + self.r * mag(&o.m) + self.r * o.r };
        let r = radius(prop, dir, &m, self.r == 0.0 && o.r == 0.0);
        Ball { m, r }
    }

    /// `self * k` for an integer `k`.
    pub fn mul_int(&self, k: i64) -> Ball {
        let mut m = fresh();
        let dir = m.assign_round(&self.m * k, Round::Nearest);
        let r = radius(self.r * (k.unsigned_abs() as f64), dir, &m, self.r == 0.0);
        Ball { m, r }
    }

    /// `self / k` for an integer `k != 0`.
    pub fn div_int(&self, k: i64) -> Ball {
        let mut m = fresh();
        let dir = m.assign_round(&self.m / k, Round::Nearest);
        let r = radius(self.r / (k.unsigned_abs() as f64), dir, &m, self.r == 0.0);
        Ball { m, r }
    }

    /// `self *= o` in place (the bound of [`Ball::mul`]; no new float).
    pub fn mul_assign(&mut self, o: &Ball) {
        if (self.is_exact_zero() || o.is_exact_zero()) && self.m.is_finite() && o.m.is_finite() {
            // 0 times any real is exactly 0 ("Ball arithmetic", exact results).
            self.m.assign(0);
            self.r = 0.0;
            return;
        }
        let exact_inputs = self.r == 0.0 && o.r == 0.0;
        let prop = if exact_inputs { 0.0 } else { mag(&self.m) * o.r + self.r * mag(&o.m) + self.r * o.r };
        let dir = self.m.mul_assign_round(&o.m, Round::Nearest);
        self.r = radius(prop, dir, &self.m, exact_inputs);
    }

    /// `self *= k` in place for an integer `k` (the bound of [`Ball::mul_int`]).
    pub fn mul_int_assign(&mut self, k: i64) {
        let exact_inputs = self.r == 0.0;
        let prop = self.r * (k.unsigned_abs() as f64);
        let dir = self.m.mul_assign_round(k, Round::Nearest);
        self.r = radius(prop, dir, &self.m, exact_inputs);
    }

    /// `self /= k` in place for an integer `k != 0` (the bound of [`Ball::div_int`]).
    pub fn div_int_assign(&mut self, k: i64) {
        let exact_inputs = self.r == 0.0;
        let prop = self.r / (k.unsigned_abs() as f64);
        let dir = self.m.div_assign_round(k, Round::Nearest);
        self.r = radius(prop, dir, &self.m, exact_inputs);
    }

    /// `self += o` in place (the bound of [`Ball::add`]).
    pub fn add_assign(&mut self, o: &Ball) {
        let exact_inputs = self.r == 0.0 && o.r == 0.0;
        let prop = self.r + o.r;
        let dir = self.m.add_assign_round(&o.m, Round::Nearest);
        self.r = radius(prop, dir, &self.m, exact_inputs);
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

/// Sign, mantissa and exponent of a finite non-zero float of precision [`PREC`] = 128:
/// `(negative, M, e)` with `|x| = M 2^(e - 128)` and `2^127 <= M < 2^128` (MPFR stores
/// `x = +-0.b1b2...b128 * 2^e` in two limbs, the most significant last, top bit set).
/// Panics if the precision is not [`PREC`] (every ball midpoint of the checker has it).
/// Proof of its use: `proofs/checker.md`, "Ball arithmetic", `Dot`.
#[inline]
fn parts(x: &Float) -> (bool, u128, i64) {
    const _: () = assert!(PREC == 128, "parts() reads exactly two 64-bit limbs");
    // SAFETY: a finite non-zero rug Float of precision 128 has 2 limbs at `d`.
    unsafe {
        let raw = &*x.as_raw();
        assert!(raw.prec == PREC as gmp_mpfr_sys::mpfr::prec_t, "ball midpoints have precision PREC");
        let lo = *raw.d.as_ptr() as u128;
        let hi = *raw.d.as_ptr().add(1) as u128;
        #[allow(clippy::unnecessary_cast)] // exp_t is platform-dependent
        (raw.sign < 0, (hi << 64) | lo, raw.exp as i64)
    }
}

/// [`mag`] of a finite non-zero float from its [`parts`] `(M, e)`: `(T + 1) 2^(e - 53)` with
/// the top 53 bits `T = M >> 75` (so `|x| = M 2^(e - 128) < (T + 1) 2^(e - 53)`, computed
/// exactly: `T + 1 <= 2^53`, and the scale is a power of two); `+inf` for `e > 1023` and
/// `2^-960 >= 2^e > |x|` for `e < -960`.
#[inline]
fn mag_parts(mant: u128, exp: i64) -> f64 {
    if exp > 1023 {
        return f64::INFINITY;
    }
    if exp < -960 {
        return 2f64.powi(-960);
    }
    // 2^(e - 53) exactly, built from its bits (normal range here); T < 2^53 converts exactly.
    let scale = f64::from_bits(((exp - 53 + 1023) as u64) << 52);
    ((mant >> 75) as i64 as f64 + 1.0) * scale
}

/// The exact 256-bit product `a * b` of two 128-bit integers as `(high, low)` halves.
/// (`proofs/checker.md`, "Ball arithmetic", `Dot`: exact terms.)
#[inline]
fn mul_128(a: u128, b: u128) -> (u128, u128) {
    let (a1, a0) = (a >> 64, a & u64::MAX as u128);
    let (b1, b0) = (b >> 64, b & u64::MAX as u128);
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let p11 = a1 * b1;
    // a b = p11 2^128 + (p01 + p10) 2^64 + p00; each p < 2^128.
    let (mid, c1) = p01.overflowing_add(p10); // mid + c1 2^128 = p01 + p10
    let (lo, c2) = p00.overflowing_add(mid << 64);
    let hi = p11 + (mid >> 64) + ((c1 as u128) << 64) + c2 as u128;
    (hi, lo)
}

/// A signed 256-bit fixed-point accumulator `hi 2^128 + lo` (two's complement in `hi`).
#[derive(Clone, Copy)]
struct Acc256 {
    hi: i128,
    lo: u128,
}

impl Acc256 {
    /// Whether `floor(self / 2^d)` drops a non-zero bit (`d >= 1`), i.e. `self` is not a
    /// multiple of `2^d`.
    #[inline]
    fn drops_bits(&self, d: u64) -> bool {
        let hi = self.hi as u128;
        if d >= 256 {
            hi != 0 || self.lo != 0
        } else if d >= 128 {
            self.lo != 0 || (d > 128 && hi << (256 - d) != 0)
        } else {
            d > 0 && self.lo << (128 - d) != 0
        }
    }

    /// `floor(self / 2^d)` (arithmetic shift of the 256-bit two's complement value, `d >= 1`).
    #[inline]
    fn shift_right(&mut self, d: u64) {
        if d >= 256 {
            let fill = self.hi >> 127;
            self.hi = fill;
            self.lo = fill as u128;
        } else if d >= 128 {
            self.lo = (self.hi >> (d - 128)) as u128;
            self.hi >>= 127;
        } else if d > 0 {
            self.lo = (self.lo >> d) | ((self.hi as u128) << (128 - d));
            self.hi >>= d;
        }
    }

    /// Adds (or subtracts, `negative`) the non-negative value `vh 2^128 + vl`, `vh < 2^64`,
    /// without branches: the operand is negated in 256-bit two's complement (`!v + 1`) when
    /// `negative`, then added modulo `2^256`; the result is exact as long as the true sum lies
    /// in `(-2^255, 2^255)` (here it is below `nz 2^192`).
    #[inline]
    fn add(&mut self, negative: bool, vh: u128, vl: u128) {
        let neg = negative as u128;
        let mask = 0u128.wrapping_sub(neg); // all ones when negative
        let (xl, c0) = (vl ^ mask).overflowing_add(neg);
        let xh = (vh ^ mask).wrapping_add(c0 as u128);
        let (lo, c1) = self.lo.overflowing_add(xl);
        self.lo = lo;
        self.hi = self.hi.wrapping_add(xh as i128).wrapping_add(c1 as i128);
    }
}

/// A ball's midpoint unpacked once for many [`Dot::add_fixed`] calls: the exact sign, 128-bit
/// mantissa and exponent of [`parts`] (mantissa 0 for a zero or non-finite midpoint), its
/// [`mag`] and the radius, in one contiguous record: the same numbers as the ball's (proof:
/// `proofs/checker.md`, "Ball arithmetic", `Fixed`); the series unpack each coefficient once
/// and so save re-reading MPFR's layout for every term.
#[derive(Clone, Copy, Debug)]
pub struct Fixed {
    mant: u128,
    exp: i64,
    mag: f64,
    r: f64,
    negative: bool,
    finite: bool,
}

impl Fixed {
    /// The record of `b`.
    #[inline]
    pub fn of(b: &Ball) -> Fixed {
        let finite = b.m.is_finite();
        if b.m.is_normal() {
            let (negative, mant, exp) = parts(&b.m);
            Fixed { mant, exp, mag: mag_parts(mant, exp), r: b.r, negative, finite }
        } else {
            Fixed { mant: 0, exp: 0, mag: mag(&b.m), r: b.r, negative: false, finite }
        }
    }
}

/// [`Fixed::of`] of every ball.
pub fn pack(v: &[Ball]) -> Vec<Fixed> {
    v.iter().map(Fixed::of).collect()
}

/// Accumulates `acc += sum_i a_i * b_i` over the pairs with [`Dot`] (one rounding; proof:
/// `proofs/checker.md`, "Ball arithmetic", `dot_acc`).
pub fn dot_acc<'a>(acc: &mut Ball, pairs: impl Iterator<Item = (&'a Ball, &'a Ball)>) {
    DOT.with(|cell| {
        let mut d = cell.borrow_mut();
        d.begin(acc);
        for (x, y) in pairs {
            d.add(x, y);
        }
        d.finish(acc);
    })
}

/// Runs `f` with this thread's [`Dot`] (not re-entrant: `f` must not call [`dot_acc`] or
/// [`with_dot`]).
pub fn with_dot<R>(f: impl FnOnce(&mut Dot) -> R) -> R {
    DOT.with(|cell| f(&mut cell.borrow_mut()))
}

/// Runs `f` with `n` accumulators of this thread, each started at `0` ([`Dot::begin_zero`]), for
/// `n` dot products that are best accumulated side by side (term `j` of every product, then term
/// `j + 1`: the operands are then read in memory order). Not re-entrant.
pub fn with_dots<R>(n: usize, f: impl FnOnce(&mut [Dot]) -> R) -> R {
    DOTS.with(|cell| {
        let mut dots = cell.borrow_mut();
        if dots.len() < n {
            dots.resize(n, Dot::new());
        }
        let dots = &mut dots[..n];
        dots.iter_mut().for_each(Dot::begin_zero);
        f(dots)
    })
}

thread_local! {
    /// The accumulator of [`dot_acc`] and [`with_dot`] (its term buffer is reused).
    static DOT: std::cell::RefCell<Dot> = std::cell::RefCell::new(Dot::new());
    /// The accumulators of [`with_dots`].
    static DOTS: std::cell::RefCell<Vec<Dot>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Largest magnitude of the exponent `E` accepted by [`Dot`]; beyond it (far outside every
/// value the checker meets) the result is the whole line.
const EXP_LIMIT: i64 = 1 << 40;

/// An exact dot-product accumulator: `begin(acc)`, `add(x, y)` for every pair, `finish(out)`
/// writes a ball containing `acc + sum x y` for every choice of the numbers in the balls.
///
/// Method (proof: `proofs/checker.md`, "Ball arithmetic", `dot_acc`): every product of
/// midpoints is formed exactly (256 bits, [`mul_128`]) and added, truncated to the fixed point
/// `2^L`, `L = E - 192` for the largest exponent `E` so far, into a 256-bit integer (error below
/// `2^L` per non-zero term); when a larger exponent arrives, the integer is shifted right to the
/// new fixed point (error below the new `2^L`). At `finish` the sum is truncated to its top 128
/// bits (error below `ROUND |result|`) and scaled exactly by MPFR. The radius is the
/// propagated radii `|a_i| r(b_i) + r(a_i) |b_i| + r(a_i) r(b_i)` plus `r(acc)`, the
/// truncations `(nz + shifts) 2^L` and `ROUND |result|`, inflated by [`up_n`].
#[derive(Clone)]
pub struct Dot {
    sum: Acc256,
    /// The largest exponent `E` of the non-zero terms so far (`i64::MIN` before the first).
    emax: i64,
    /// Non-zero terms added, and right shifts of `sum` to a new fixed point.
    nz: usize,
    shifts: usize,
    rad: f64,
    /// Whether the start value or a term had a non-zero radius (else `rad` is exactly 0).
    radii: bool,
    /// Whether a truncation to the fixed point dropped a non-zero bit (else `sum 2^L` is exact).
    lost: bool,
    n: usize,
    finite: bool,
}

impl Default for Dot {
    fn default() -> Self {
        Self::new()
    }
}

impl Dot {
    /// An accumulator (call [`Dot::begin`] before use).
    pub fn new() -> Dot {
        Dot { sum: Acc256 { hi: 0, lo: 0 }, emax: i64::MIN, nz: 0, shifts: 0, rad: 0.0, radii: false, lost: false, n: 0, finite: true }
    }

    /// Starts the sum `0 + ...`.
    #[inline]
    pub fn begin_zero(&mut self) {
        self.sum = Acc256 { hi: 0, lo: 0 };
        self.emax = i64::MIN;
        self.nz = 0;
        self.shifts = 0;
        self.rad = 0.0;
        self.radii = false;
        self.lost = false;
        self.n = 0;
        self.finite = true;
    }

    /// Starts the sum `acc + ...`.
    #[inline]
    pub fn begin(&mut self, acc: &Ball) {
        self.begin_zero();
        self.rad = acc.r;
        self.radii = acc.r != 0.0;
        self.finite = acc.m.is_finite();
        if acc.m.is_normal() {
            let (negative, mant, e) = parts(&acc.m);
            self.add_term(negative, mant, 0, e);
        }
    }

    /// Adds the exact term `+-(high 2^128 + low) 2^(e - 256)`, truncated to the fixed point.
    #[inline]
    fn add_term(&mut self, negative: bool, high: u128, low: u128, e: i64) {
        if self.nz == 0 {
            self.emax = e;
        } else if e > self.emax {
            // New fixed point 2^(e - 192): floor(sum / 2^d), an error below the new unit.
            let d = e.saturating_sub(self.emax) as u64;
            self.lost |= self.sum.drops_bits(d);
            self.sum.shift_right(d);
            self.emax = e;
            self.shifts += 1;
        }
        self.nz += 1;
        // The term is added as floor(P / 2^s) 2^L, s = emax - E + 64 >= 64 (L = emax - 192):
        // each added value is below 2^192, and the sum fits in 256 bits.
        let s = self.emax.saturating_sub(e).saturating_add(64) as u64;
        let (vh, vl) = if s >= 256 {
            self.lost |= high != 0 || low != 0;
            (0, 0)
        } else if s >= 128 {
            self.lost |= low != 0 || (s > 128 && high << (256 - s) != 0);
            (0, high >> (s - 128))
        } else {
            self.lost |= low << (128 - s) != 0;
            (high >> s, (low >> s) | (high << (128 - s)))
        };
        self.sum.add(negative, vh, vl);
    }

    /// Adds `x * y` (through their [`Fixed`] records).
    #[inline]
    pub fn add(&mut self, x: &Ball, y: &Ball) {
        self.add_fixed(&Fixed::of(x), &Fixed::of(y));
    }

    /// Adds `x * y` for the balls unpacked in `x` and `y` ([`Fixed`]): the exact product of the
    /// midpoints as a term (zero and non-finite midpoints have mantissa 0 and add none) and the
    /// propagated radius `|a| rb + ra |b| + ra rb`.
    #[inline(always)]
    pub fn add_fixed(&mut self, x: &Fixed, y: &Fixed) {
        self.n += 1;
        self.finite &= x.finite & y.finite;
        if x.r != 0.0 || y.r != 0.0 {
            self.rad += x.mag * y.r + x.r * y.mag + x.r * y.r;
            // A factor that is the exact point 0 makes the term's radius exactly 0.
            let zero = |f: &Fixed| f.mag == 0.0 && f.r == 0.0;
            self.radii |= !(zero(x) || zero(y));
        }
        if x.mant != 0 && y.mant != 0 {
            let (high, low) = mul_128(x.mant, y.mant);
            self.add_term(x.negative != y.negative, high, low, x.exp + y.exp);
        }
    }

    /// Writes the ball of the sum into `out` (reusing its float).
    pub fn finish(&mut self, out: &mut Ball) {
        let nz = self.nz;
        if !self.finite || (nz > 0 && self.emax.abs() > EXP_LIMIT) {
            out.m.assign(0);
            out.r = f64::INFINITY;
            return;
        }
        if nz == 0 {
            // Every product (and the start value) is exactly 0; with no radius anywhere the sum
            // is the exact point 0 (no f64 expression was evaluated, so nothing to cover:
            // proofs/checker.md, "Ball arithmetic", exact results).
            out.m.assign(0);
            out.r = if self.radii { up_n(self.rad, self.n) } else { 0.0 };
            return;
        }
        let l = self.emax - 192;
        let sum = self.sum;
        let negative = sum.hi < 0;
        let (hi, lo) = if negative {
            // two's complement negation of the 256-bit value
            let (nlo, borrow) = 0u128.overflowing_sub(sum.lo);
            ((!(sum.hi as u128)).wrapping_add((!borrow) as u128), nlo)
        } else {
            (sum.hi as u128, sum.lo)
        };
        // Keep the top 128 bits T of |sum| = T 2^sh + R, R < 2^sh (truncation): when sh > 0,
        // T >= 2^127, so R < 2^sh <= 2^-127 T 2^sh = ROUND |result|. T is exact in 128 bits.
        let (top, sh, dropped) = if hi == 0 {
            (lo, 0u32, false)
        } else {
            let lz = hi.leading_zeros();
            let t = if lz == 0 { hi } else { (hi << lz) | (lo >> (128 - lz)) };
            // R: the low 128 - lz bits of lo.
            let dropped = if lz == 0 { lo != 0 } else { lo << lz != 0 };
            (t, 128 - lz, dropped)
        };
        let dir = out.m.assign_round(top, Round::Nearest);
        assert_eq!(dir, std::cmp::Ordering::Equal, "a 128-bit integer is exact at PREC = 128 bits");
        if negative {
            out.m.neg_assign();
        }
        out.m <<= (l + sh as i64) as isize;
        if !(self.lost || dropped || self.radii) {
            // No bit dropped and no radius: m is the exact sum V of the exact products, and
            // every real sum of the terms is V ("Ball arithmetic", exact results).
            out.r = 0.0;
            return;
        }
        let trunc = (nz + self.shifts) as f64 * pow2_up(l);
        let round = if sh == 0 { 0.0 } else { ROUND * mag(&out.m) };
        out.r = up_n(self.rad + trunc + round, self.n);
    }
}

/// An f64 upper bound of `2^e`: exact in f64's range, `2^-1074` below it, `+inf` above.
fn pow2_up(e: i64) -> f64 {
    if e > 1023 {
        f64::INFINITY
    } else if e < -1074 {
        f64::from_bits(1)
    } else if e < -1022 {
        f64::from_bits(1u64 << (e + 1074)) // subnormal 2^e
    } else {
        f64::from_bits(((e + 1023) as u64) << 52)
    }
}

/// Upper bound of the 2-norm of a ball vector: `sup_{x in box} |x|_2` ([`norm2_of_bounds`] of
/// the entries' magnitudes).
pub fn norm2_upper(v: &[Ball]) -> f64 {
    if v.iter().all(Ball::is_exact_zero) {
        // The zero vector's norm is 0 exactly (no f64 floor, whose square root would be
        // 1e-150: "Ball arithmetic", exact results).
        return 0.0;
    }
    let magnitudes: Vec<f64> = v.iter().map(Ball::abs_upper).collect();
    norm2_of_bounds(&magnitudes)
}

/// An upper bound of `(sum_i x_i^2)^{1/2}` for non-negative f64 bounds `x_i` (0 when all are 0):
/// the smaller of the rounded root of the summed squares and the 1-norm (`|x|_2 <= |x|_1`).
/// Near the f64 underflow range the squares' absolute floor `2^-1000` would give `2^-500`
/// under the root; the 1-norm keeps `n 2^-1000` (issue 20: outputs that are 0 at all times).
pub fn norm2_of_bounds(x: &[f64]) -> f64 {
    if x.iter().all(|&v| v == 0.0) {
        return 0.0;
    }
    let (mut squares, mut sum) = (0.0f64, 0.0f64);
    for &a in x {
        squares += a * a;
        sum += a;
    }
    let root = up(up_n(squares, x.len()).sqrt());
    root.min(up_n(sum, x.len()))
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

    /// A deterministic 128-bit-precision float from a seed: `+-(u / 3^k) 2^e`, full mantissa.
    fn awkward(x: &mut u64, emin: i32, erange: u64) -> Float {
        *x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let u = (*x >> 11) as f64 + 1.0;
        let e = ((*x >> 3) % erange) as i32 + emin;
        let mut f = Float::with_val(PREC, u);
        f /= 3u32 + (*x % 5) as u32;
        f <<= e;
        if (*x >> 7) & 1 == 1 {
            f = -f;
        }
        f
    }

    /// `Dot` (exact products, one truncation): the result contains the exact rational
    /// `acc + sum x y` at the midpoints and at random corners of the balls, for long sums of
    /// terms of very different magnitudes, with exact cancellation and zeros; and its radius is
    /// tight (a few units in the 128th bit of the largest term), so the test fails if the
    /// arithmetic is wrong or the radius is inflated to hide it.
    #[test]
    fn dot_contains_exact_sums() {
        let mut seed: u64 = 0x1234_5678_9abc_def1;
        let mut d = Dot::new();
        for case in 0..400 {
            let len = (case % 41) as usize;
            let (emin, erange) = match case % 4 {
                0 => (-4, 8),
                1 => (-200, 400),
                2 => (-1000, 60),
                _ => (300, 100),
            };
            let mut xs: Vec<Ball> = (0..len)
                .map(|i| {
                    let m = if i % 13 == 5 { Float::new(PREC) } else { awkward(&mut seed, emin, erange) };
                    let r = if case % 3 == 0 { 0.0 } else { mag(&m) * 1e-20 };
                    Ball { m, r }
                })
                .collect();
            let mut ys: Vec<Ball> = (0..len).map(|_| Ball { m: awkward(&mut seed, emin, erange), r: 0.0 }).collect();
            // Exact cancellation: the last product is minus the first.
            if len >= 2 {
                ys[len - 1] = ys[0].neg();
                xs[len - 1] = xs[0].clone();
            }
            let acc0 = if case % 5 == 0 { Ball::zero() } else { Ball { m: awkward(&mut seed, emin, erange), r: 0.0 } };
            d.begin(&acc0);
            for (x, y) in xs.iter().zip(&ys) {
                d.add(x, y);
            }
            let mut out = Ball::exact(7.0);
            d.finish(&mut out);
            // Exact value at the midpoints and at a corner.
            let q = |b: &Ball, sign: i32| {
                let mut v = b.m.to_rational().unwrap();
                if b.r != 0.0 {
                    v += Rational::from_f64(b.r).unwrap() * sign;
                }
                v
            };
            for corner in 0..3 {
                let mut exact = acc0.m.to_rational().unwrap();
                let mut largest = acc0.m.to_rational().unwrap().abs();
                for (i, (x, y)) in xs.iter().zip(&ys).enumerate() {
                    let sign = if corner == 0 { 0 } else if (i + corner) % 2 == 0 { 1 } else { -1 };
                    let p = Rational::from(&q(x, sign) * &q(y, 0));
                    largest = largest.max(p.clone().abs());
                    exact += p;
                }
                // Exact: |exact - m| <= r (no rounding in the comparison).
                let dist = (exact - out.m.to_rational().unwrap()).abs();
                assert!(dist <= Rational::from_f64(out.r).unwrap(), "case {case} corner {corner}: {out:?}");
                // Tightness: radius <= propagated radii + 2^-120 |largest term| + tiny.
                let prop: f64 = xs.iter().zip(&ys).map(|(x, y)| x.r * mag(&y.m)).sum();
                let bound = prop * 1.01 + largest.to_f64() * 2f64.powi(-120) + 1e-298;
                assert!(out.r <= bound, "case {case}: radius {} > {bound}", out.r);
            }
        }
    }

    /// The 256-bit product is exact.
    #[test]
    fn mul_128_is_exact() {
        let mut x: u64 = 42;
        for _ in 0..1000 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let a = ((x as u128) << 64) | x.rotate_left(17) as u128;
            let b = u128::MAX - a / 3;
            let (h, l) = mul_128(a, b);
            let exact = rug::Integer::from(a) * rug::Integer::from(b);
            let got = (rug::Integer::from(h) << 128) + rug::Integer::from(l);
            assert_eq!(exact, got);
        }
        let (h, l) = mul_128(u128::MAX, u128::MAX);
        assert_eq!((rug::Integer::from(h) << 128) + l, rug::Integer::from(u128::MAX) * u128::MAX);
    }

    /// `mag` bounds `|x|` up to the relative rounding that `up` absorbs.
    #[test]
    fn mag_bounds_the_magnitude() {
        for v in values() {
            let x = Float::with_val(PREC, v) / 3u32;
            let x = Float::with_val(PREC, x);
            let m = mag(&x);
            assert!(Float::with_val(PREC, &*x.as_abs()) <= up(m), "{v}");
            if x.is_normal() {
                let (_, mant, e) = parts(&x);
                assert_eq!(mag_parts(mant, e), m, "{v}");
            }
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
