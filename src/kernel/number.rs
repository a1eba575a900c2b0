//! The interval types the limit kernels are computed in (`kernel::limit` is generic over
//! [`KernelNumber`]): inari's [`Interval`] (f64 endpoints, fast; for many inputs) and [`Mp`],
//! intervals with MPFR endpoints at [`MP_PRECISION`] bits and directed rounding (for few
//! inputs: the kernels' widths are then those the inputs' own enclosures imply, not the
//! rounding of the recursion). Both are outward-rounded: every operation returns a set that
//! contains the exact result for every choice of real numbers in the operands
//! (`proofs/infinite-width-kernels.md`, "Arithmetic").

use inari::Interval;
use num_rational::BigRational;
use rug::float::{Constant, Round};
use rug::{Float, Integer, Rational};
use std::ops::{Add, Div, Mul, Neg, Sub};

/// Which end of an enclosure a point evaluation will supply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Lower,
    Upper,
}

/// The arithmetic the closed forms and the recursion need.
pub trait KernelNumber:
    Clone + Send + Sync + std::fmt::Debug + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Div<Output = Self> + Neg<Output = Self>
{
    /// `[lo, hi]` (`lo <= hi`, f64 numbers).
    fn interval(lo: f64, hi: f64) -> Self;
    fn point(x: f64) -> Self {
        Self::interval(x, x)
    }
    /// A set containing the f64 interval `x`.
    fn from_inari(x: Interval) -> Self;
    /// A set containing the exact rational `q` (whose tightest f64 enclosure is `enclosure`).
    fn from_rational(q: &BigRational, enclosure: Interval) -> Self;
    /// The smallest f64 interval containing the set.
    fn to_inari(&self) -> Interval;
    /// An enclosure of `pi`.
    fn pi() -> Self;
    /// `sqrt` of the part `>= 0`.
    fn sqrt(self) -> Self;
    /// `asin` of the part in `[-1, 1]`.
    fn asin(self) -> Self;
    fn exp(self) -> Self;
    fn atan(self) -> Self;
    fn sinh(self) -> Self;
    fn cosh(self) -> Self;
    /// The intersection with `[lo, hi]`; the whole `[lo, hi]` when it is empty (which a correct
    /// enclosure of a number in `[lo, hi]` never is).
    fn restrict(self, lo: f64, hi: f64) -> Self;
    /// A lower bound of the set (an f64, rounded down).
    fn lower(&self) -> f64;
    /// The lower and the upper end, each as a point set.
    fn ends(&self) -> (Self, Self);
    /// Whether the set is a single number.
    fn is_point(&self) -> bool;
    /// An enclosure of `acos(-x)` at the point `x` in `[-1, 1]`, to be used at the given end of
    /// a monotone enclosure (inari: one MPFR call rounded that way and the neighbouring f64).
    fn acos_of_negated(&self, end: End) -> Self;
    /// `[lower end of a, upper end of b]`.
    fn span(a: &Self, b: &Self) -> Self;
    /// The inner product `x . y` of two vectors given by f64 intervals; exactly 0 when either
    /// vector is the point 0.
    fn dot(x: &[Interval], y: &[Interval]) -> Self;
}

/// Whether every entry is the point 0.
fn is_zero(x: &[Interval]) -> bool {
    x.iter().all(|v| v.inf() == 0.0 && v.sup() == 0.0)
}

// ---------------------------------------------------------------------------------------------
// inari.

/// `acos(x)` for `x` in `[-1, 1]`, rounded down (`up = false`) or up, by one MPFR call at 53 bits
/// (correctly rounded in the requested direction; a thread-local variable, so no allocation).
/// `acos(x)` itself then lies in `[d, next_up(d)]` for the value `d` rounded down, and in
/// `[next_down(u), u]` for the value `u` rounded up: one call encloses it.
fn acos_directed(x: f64, up: bool) -> f64 {
    use gmp_mpfr_sys::mpfr;
    thread_local! {
        static SCRATCH: std::cell::RefCell<Float> = std::cell::RefCell::new(Float::new(53));
    }
    SCRATCH.with(|cell| {
        let mut f = cell.borrow_mut();
        let rnd = if up { mpfr::rnd_t::RNDU } else { mpfr::rnd_t::RNDD };
        // SAFETY: `f` is an initialised MPFR variable of precision 53 owned by this thread;
        // set_d is exact at that precision, acos may use its operand as its result.
        unsafe {
            mpfr::set_d(f.as_raw_mut(), x, rnd);
            mpfr::acos(f.as_raw_mut(), f.as_raw(), rnd);
            mpfr::get_d(f.as_raw(), rnd)
        }
    })
}

impl KernelNumber for Interval {
    fn interval(lo: f64, hi: f64) -> Self {
        Interval::try_from((lo, hi)).expect("ordered bounds")
    }
    fn from_inari(x: Interval) -> Self {
        x
    }
    fn from_rational(_: &BigRational, enclosure: Interval) -> Self {
        enclosure
    }
    fn to_inari(&self) -> Interval {
        *self
    }
    fn pi() -> Self {
        Interval::PI
    }
    fn sqrt(self) -> Self {
        Interval::sqrt(self)
    }
    fn asin(self) -> Self {
        Interval::asin(self)
    }
    fn exp(self) -> Self {
        Interval::exp(self)
    }
    fn atan(self) -> Self {
        Interval::atan(self)
    }
    fn sinh(self) -> Self {
        Interval::sinh(self)
    }
    fn cosh(self) -> Self {
        Interval::cosh(self)
    }
    fn restrict(self, lo: f64, hi: f64) -> Self {
        let range = Self::interval(lo, hi);
        let r = self.intersection(range);
        if r.is_empty() { range } else { r }
    }
    fn lower(&self) -> f64 {
        self.inf()
    }
    fn ends(&self) -> (Self, Self) {
        (Self::point(self.inf()), Self::point(self.sup()))
    }
    fn is_point(&self) -> bool {
        self.inf() == self.sup()
    }
    fn acos_of_negated(&self, end: End) -> Self {
        let x = -self.inf();
        match end {
            End::Lower => {
                let d = acos_directed(x, false);
                Self::interval(d, d.next_up())
            }
            End::Upper => {
                let u = acos_directed(x, true);
                Self::interval(u.next_down(), u)
            }
        }
    }
    fn span(a: &Self, b: &Self) -> Self {
        Self::interval(a.inf(), b.sup())
    }
    /// In balls (`proofs/fast-interval.md`, "Balls").
    fn dot(x: &[Interval], y: &[Interval]) -> Self {
        use crate::arith::ball::Ball;
        use crate::arith::scalar::Scalar;
        if is_zero(x) || is_zero(y) {
            return Self::point(0.0);
        }
        let bx: Vec<Ball> = x.iter().map(|&v| Ball::from_interval(v)).collect();
        let by: Vec<Ball> = y.iter().map(|&v| Ball::from_interval(v)).collect();
        Ball::dot(Ball::ZERO, &bx, &by).to_interval()
    }
}

// ---------------------------------------------------------------------------------------------
// MPFR intervals.

/// The precision of [`Mp`]'s endpoints, in bits.
pub const MP_PRECISION: u32 = 128;

/// The set `[lo, hi]` of reals, endpoints MPFR numbers at [`MP_PRECISION`] bits (or infinite);
/// every operation rounds its lower end down and its upper end up.
#[derive(Clone, Debug, PartialEq)]
pub struct Mp {
    lo: Float,
    hi: Float,
}

/// The value of an MPFR expression at [`MP_PRECISION`] bits, rounded down.
macro_rules! down {
    ($e:expr) => {
        Float::with_val_round(MP_PRECISION, $e, Round::Down).0
    };
}

/// The same rounded up.
macro_rules! up {
    ($e:expr) => {
        Float::with_val_round(MP_PRECISION, $e, Round::Up).0
    };
}

impl Mp {
    /// The whole line (the result of an operation whose rounding produced NaN).
    fn entire() -> Mp {
        Mp { lo: Float::with_val(MP_PRECISION, f64::NEG_INFINITY), hi: Float::with_val(MP_PRECISION, f64::INFINITY) }
    }

    fn checked(lo: Float, hi: Float) -> Mp {
        if lo.is_nan() || hi.is_nan() { Mp::entire() } else { Mp { lo, hi } }
    }

    /// The lower end (an MPFR number).
    pub fn lo(&self) -> &Float {
        &self.lo
    }

    /// The upper end.
    pub fn hi(&self) -> &Float {
        &self.hi
    }
}

impl Add for Mp {
    type Output = Mp;
    fn add(self, o: Mp) -> Mp {
        Mp::checked(down!(&self.lo + &o.lo), up!(&self.hi + &o.hi))
    }
}

impl Sub for Mp {
    type Output = Mp;
    fn sub(self, o: Mp) -> Mp {
        Mp::checked(down!(&self.lo - &o.hi), up!(&self.hi - &o.lo))
    }
}

impl Neg for Mp {
    type Output = Mp;
    fn neg(self) -> Mp {
        Mp { lo: -self.hi, hi: -self.lo }
    }
}

impl Mul for Mp {
    type Output = Mp;
    /// The smallest and largest of the four end products, each rounded outward.
    fn mul(self, o: Mp) -> Mp {
        if self.lo == self.hi && o.lo == o.hi {
            return Mp::checked(down!(&self.lo * &o.lo), up!(&self.lo * &o.lo));
        }
        let pairs = [(&self.lo, &o.lo), (&self.lo, &o.hi), (&self.hi, &o.lo), (&self.hi, &o.hi)];
        let lows: Vec<Float> = pairs.iter().map(|(a, b)| down!(*a * *b)).collect();
        let highs: Vec<Float> = pairs.iter().map(|(a, b)| up!(*a * *b)).collect();
        if lows.iter().chain(&highs).any(Float::is_nan) {
            return Mp::entire();
        }
        let lo = lows.into_iter().reduce(|a, b| if b < a { b } else { a }).expect("four");
        let hi = highs.into_iter().reduce(|a, b| if b > a { b } else { a }).expect("four");
        Mp { lo, hi }
    }
}

impl Div for Mp {
    type Output = Mp;
    /// By a set not containing 0: the four end quotients rounded outward; otherwise the line.
    fn div(self, o: Mp) -> Mp {
        if !(o.lo > 0 || o.hi < 0) {
            return Mp::entire();
        }
        let pairs = [(&self.lo, &o.lo), (&self.lo, &o.hi), (&self.hi, &o.lo), (&self.hi, &o.hi)];
        let lows: Vec<Float> = pairs.iter().map(|(a, b)| down!(*a / *b)).collect();
        let highs: Vec<Float> = pairs.iter().map(|(a, b)| up!(*a / *b)).collect();
        if lows.iter().chain(&highs).any(Float::is_nan) {
            return Mp::entire();
        }
        let lo = lows.into_iter().reduce(|a, b| if b < a { b } else { a }).expect("four");
        let hi = highs.into_iter().reduce(|a, b| if b > a { b } else { a }).expect("four");
        Mp { lo, hi }
    }
}

/// `num_rational::BigRational` as `rug::Rational` (exact, through hexadecimal digits).
fn to_rug(q: &BigRational) -> Rational {
    let n = Integer::from_str_radix(&q.numer().to_str_radix(16), 16).expect("hex integer");
    let d = Integer::from_str_radix(&q.denom().to_str_radix(16), 16).expect("hex integer");
    Rational::from((n, d))
}

impl KernelNumber for Mp {
    fn interval(lo: f64, hi: f64) -> Self {
        Mp { lo: Float::with_val(MP_PRECISION, lo), hi: Float::with_val(MP_PRECISION, hi) }
    }
    fn from_inari(x: Interval) -> Self {
        Self::interval(x.inf(), x.sup())
    }
    fn from_rational(q: &BigRational, _: Interval) -> Self {
        let r = to_rug(q);
        Mp { lo: down!(&r), hi: up!(&r) }
    }
    fn to_inari(&self) -> Interval {
        let lo = self.lo.to_f64_round(Round::Down);
        let hi = self.hi.to_f64_round(Round::Up);
        Interval::try_from((lo, hi)).unwrap_or(Interval::ENTIRE)
    }
    fn pi() -> Self {
        Mp { lo: down!(Constant::Pi), hi: up!(Constant::Pi) }
    }
    fn sqrt(self) -> Self {
        if self.hi < 0 {
            return Self::interval(0.0, f64::INFINITY);
        }
        let lo = if self.lo > 0 { down!(self.lo.sqrt_ref()) } else { Float::new(MP_PRECISION) };
        Mp::checked(lo, up!(self.hi.sqrt_ref()))
    }
    fn asin(self) -> Self {
        let r = self.restrict(-1.0, 1.0);
        Mp::checked(down!(r.lo.asin_ref()), up!(r.hi.asin_ref()))
    }
    fn exp(self) -> Self {
        Mp::checked(down!(self.lo.exp_ref()), up!(self.hi.exp_ref()))
    }
    fn atan(self) -> Self {
        Mp::checked(down!(self.lo.atan_ref()), up!(self.hi.atan_ref()))
    }
    fn sinh(self) -> Self {
        Mp::checked(down!(self.lo.sinh_ref()), up!(self.hi.sinh_ref()))
    }
    fn cosh(self) -> Self {
        // cosh decreases on (-inf, 0] and increases on [0, inf).
        if self.lo >= 0 {
            Mp::checked(down!(self.lo.cosh_ref()), up!(self.hi.cosh_ref()))
        } else if self.hi <= 0 {
            Mp::checked(down!(self.hi.cosh_ref()), up!(self.lo.cosh_ref()))
        } else {
            let far = if Float::with_val(MP_PRECISION, -&self.lo) > self.hi { Float::with_val(MP_PRECISION, -&self.lo) } else { self.hi.clone() };
            Mp::checked(Float::with_val(MP_PRECISION, 1u32), up!(far.cosh_ref()))
        }
    }
    fn restrict(self, lo: f64, hi: f64) -> Self {
        let new_lo = if self.lo > lo { self.lo } else { Float::with_val(MP_PRECISION, lo) };
        let new_hi = if self.hi < hi { self.hi } else { Float::with_val(MP_PRECISION, hi) };
        if new_lo > new_hi { Self::interval(lo, hi) } else { Mp { lo: new_lo, hi: new_hi } }
    }
    fn lower(&self) -> f64 {
        self.lo.to_f64_round(Round::Down)
    }
    fn ends(&self) -> (Self, Self) {
        (Mp { lo: self.lo.clone(), hi: self.lo.clone() }, Mp { lo: self.hi.clone(), hi: self.hi.clone() })
    }
    fn is_point(&self) -> bool {
        self.lo == self.hi
    }
    fn acos_of_negated(&self, _: End) -> Self {
        let x = Float::with_val(MP_PRECISION, -&self.lo);
        Mp::checked(down!(x.acos_ref()), up!(x.acos_ref()))
    }
    fn span(a: &Self, b: &Self) -> Self {
        Mp { lo: a.lo.clone(), hi: b.hi.clone() }
    }
    /// Point vectors: every product of two f64 numbers is exact at 128 bits, the sums are
    /// rounded down for the lower and up for the upper end. Otherwise interval products.
    fn dot(x: &[Interval], y: &[Interval]) -> Self {
        use rug::ops::AddAssignRound;
        use rug::Assign;
        let points = x.iter().chain(y).all(|v| v.inf() == v.sup());
        if !points {
            return x.iter().zip(y).fold(Self::point(0.0), |acc, (&a, &b)| acc + Self::from_inari(a) * Self::from_inari(b));
        }
        let mut lo = Float::new(MP_PRECISION);
        let mut hi = Float::new(MP_PRECISION);
        let mut term = Float::new(MP_PRECISION);
        let (mut a, mut b) = (Float::new(53), Float::new(53));
        for (u, v) in x.iter().zip(y) {
            a.assign(u.inf());
            b.assign(v.inf());
            term.assign(&a * &b);
            lo.add_assign_round(&term, Round::Down);
            hi.add_assign_round(&term, Round::Up);
        }
        Mp::checked(lo, hi)
    }
}
