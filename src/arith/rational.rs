//! Exact input: decimal strings to rationals, rationals and f64 values to enclosures.
//!
//! Proof of correctness: `proofs/exact-input.md`.

use inari::Interval;
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive, Zero};
use std::cmp::Ordering;

/// Why a decimal string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    #[error("empty number")]
    Empty,
    #[error("'{0}' is not a decimal number (expected e.g. 10, -0.25, 1e-3 or 1/3)")]
    Malformed(String),
    #[error("'{0}' has zero denominator")]
    ZeroDenominator(String),
    #[error("'{0}' is outside the finite f64 range")]
    OutOfRange(String),
    /// The text (shortened) and why.
    #[error("'{0}' has {1} (at most {MAX_DECIMAL_DIGITS} digits and a power of ten within 10^-{MAX_DECIMAL_EXPONENT}..10^{MAX_DECIMAL_EXPONENT})")]
    TooLong(String, String),
}

/// The most digits a decimal (each side of a fraction) may have, and the largest power of ten
/// it may scale them by (`0.001` and `1e-3` both scale `1` by `10^-3`): enough for the exact
/// decimal expansion of every f64 (the smallest subnormal, `2^-1074`, has 1074 digits after the
/// point, 751 of them significant), and small enough that building the rational stays cheap.
/// Without the bounds `"1e-999999"` took minutes (the gcd of a 3.3-million-bit power of ten)
/// and a number of millions of digits longer still (issue 21).
pub const MAX_DECIMAL_DIGITS: usize = 1100;
/// See [`MAX_DECIMAL_DIGITS`].
pub const MAX_DECIMAL_EXPONENT: i64 = 1100;

/// Parses `s` exactly as a rational number.
///
/// Accepted forms: an optional sign, digits with an optional fractional part, an optional
/// exponent (`1.5e-3`), or a fraction of two such integers (`1/3`). Surrounding whitespace is
/// ignored. `nan`, `inf`, hexadecimal and empty strings are rejected. The result is the exact
/// value of the text; no rounding happens. Values whose magnitude exceeds `f64::MAX` are
/// rejected, since no finite enclosure exists.
pub fn parse_decimal(s: &str) -> Result<BigRational, DecimalError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(DecimalError::Empty);
    }
    let value = if let Some((num, den)) = t.split_once('/') {
        let n = parse_plain_decimal(num.trim(), t)?;
        let d = parse_plain_decimal(den.trim(), t)?;
        if d.is_zero() {
            return Err(DecimalError::ZeroDenominator(t.into()));
        }
        n / d
    } else {
        parse_plain_decimal(t, t)?
    };
    if value.abs() > f64_to_rational(f64::MAX) {
        return Err(DecimalError::OutOfRange(t.into()));
    }
    Ok(value)
}

/// `[+-]digits[.digits][(e|E)[+-]digits]`, at least one digit in the mantissa, at most
/// [`MAX_DECIMAL_DIGITS`] digits and a power of ten within [`MAX_DECIMAL_EXPONENT`] (checked
/// before any big number is built). Errors name `whole`, the text being parsed.
fn parse_plain_decimal(t: &str, whole: &str) -> Result<BigRational, DecimalError> {
    parse_plain_digits(t, whole)?.ok_or_else(|| DecimalError::Malformed(whole.into()))
}

/// [`parse_plain_decimal`]: `Ok(None)` when `t` is malformed, `Err` when it is too long.
fn parse_plain_digits(t: &str, whole: &str) -> Result<Option<BigRational>, DecimalError> {
    let too_long = |why: String| {
        let shown: String = whole.chars().take(24).collect();
        let shown = if shown.len() < whole.len() { format!("{shown}...") } else { shown };
        DecimalError::TooLong(shown, why)
    };
    let Some(&first) = t.as_bytes().first() else { return Ok(None) };
    let (negative, rest) = match first {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(pos) => (&rest[..pos], Some(&rest[pos + 1..])),
        None => (rest, None),
    };
    let (int_part, frac_part) = match mantissa.split_once('.') {
        Some((i, f)) => (i, f),
        None => (mantissa, ""),
    };
    let all_digits = |x: &str| x.bytes().all(|b| b.is_ascii_digit());
    if (int_part.is_empty() && frac_part.is_empty()) || !all_digits(int_part) || !all_digits(frac_part) {
        return Ok(None);
    }
    let mut exp10: i64 = -(frac_part.len().min(i64::MAX as usize) as i64);
    if let Some(e) = exponent {
        let (e_neg, e_digits) = match e.as_bytes().first() {
            Some(b'-') => (true, &e[1..]),
            Some(b'+') => (false, &e[1..]),
            Some(_) => (false, e),
            None => return Ok(None),
        };
        if e_digits.is_empty() || !all_digits(e_digits) || e_digits.len() > 6 {
            return Ok(None);
        }
        let Ok(e_val) = e_digits.parse::<i64>() else { return Ok(None) };
        exp10 += if e_neg { -e_val } else { e_val };
    }
    let count = int_part.len() + frac_part.len();
    if count > MAX_DECIMAL_DIGITS {
        return Err(too_long(format!("{count} digits")));
    }
    if exp10.abs() > MAX_DECIMAL_EXPONENT {
        return Err(too_long(format!("the power of ten 10^{exp10}")));
    }
    let digits = format!("{int_part}{frac_part}");
    let Ok(mut numer) = digits.parse::<BigInt>() else { return Ok(None) };
    if negative {
        numer = -numer;
    }
    let ten = BigInt::from(10);
    let scale = num_traits::pow(ten, exp10.unsigned_abs() as usize);
    Ok(Some(if exp10 >= 0 {
        BigRational::from_integer(numer * scale)
    } else {
        BigRational::new(numer, scale)
    }))
}

/// The exact rational value of a finite f64.
///
/// # Panics
/// If `x` is not finite.
pub fn f64_to_rational(x: f64) -> BigRational {
    BigRational::from_float(x).expect("f64_to_rational: value must be finite")
}

/// The tightest interval with f64 endpoints that contains `q`: `[q, q]` when `q` is an f64,
/// otherwise the two neighbouring f64 numbers. Values beyond the finite range get an infinite
/// endpoint (still an enclosure).
pub fn rational_to_interval(q: &BigRational) -> Interval {
    let approx = q.to_f64().unwrap_or(f64::NAN);
    let approx = if approx.is_nan() {
        if q.is_negative() { f64::MIN } else { f64::MAX }
    } else if approx.is_infinite() {
        approx.signum() * f64::MAX
    } else {
        approx
    };
    // Walk to the f64 neighbours of q; `approx` is within a few ulps, so this is short.
    let mut lo = approx;
    while lo > f64::MIN && f64_to_rational(lo) > *q {
        lo = lo.next_down();
    }
    let mut hi = lo;
    if f64_to_rational(hi) < *q {
        hi = hi.next_up();
        while hi < f64::MAX && f64_to_rational(hi) < *q {
            hi = hi.next_up();
        }
    }
    let lo = if f64_to_rational(lo) > *q { f64::NEG_INFINITY } else { lo };
    let hi = if hi.is_finite() && f64_to_rational(hi) < *q { f64::INFINITY } else { hi };
    Interval::try_from((lo, hi)).expect("ordered endpoints")
}

/// Whether the interval `x` contains the rational `q`, decided exactly.
pub fn interval_contains_rational(x: Interval, q: &BigRational) -> bool {
    let lo_ok = x.inf() == f64::NEG_INFINITY || f64_to_rational(x.inf()).cmp(q) != Ordering::Greater;
    let hi_ok = x.sup() == f64::INFINITY || f64_to_rational(x.sup()).cmp(q) != Ordering::Less;
    lo_ok && hi_ok
}

/// The exact decimal expansion of a rational when it terminates, else `p/q`.
pub fn rational_to_string(q: &BigRational) -> String {
    if q.denom().is_one() {
        return q.numer().to_string();
    }
    format!("{}/{}", q.numer(), q.denom())
}

/// A decimal input kept both exactly and as its enclosure.
#[derive(Debug, Clone, PartialEq)]
pub struct Exact {
    /// The exact value of the text.
    pub value: BigRational,
    /// The tightest f64 interval containing `value`.
    pub enclosure: Interval,
}

impl Exact {
    pub fn new(value: BigRational) -> Self {
        let enclosure = rational_to_interval(&value);
        Exact { value, enclosure }
    }

    pub fn parse(s: &str) -> Result<Self, DecimalError> {
        parse_decimal(s).map(Exact::new)
    }

    pub fn from_integer(n: i64) -> Self {
        Exact::new(BigRational::from_integer(BigInt::from(n)))
    }

    pub fn is_positive(&self) -> bool {
        self.value.is_positive()
    }

    pub fn is_negative(&self) -> bool {
        self.value.is_negative()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rat(n: i64, d: i64) -> BigRational {
        BigRational::new(BigInt::from(n), BigInt::from(d))
    }

    #[test]
    fn parses_exact_values() {
        assert_eq!(parse_decimal("0.1").unwrap(), rat(1, 10));
        assert_eq!(parse_decimal("-2.50").unwrap(), rat(-5, 2));
        assert_eq!(parse_decimal("1e-3").unwrap(), rat(1, 1000));
        assert_eq!(parse_decimal("1.5E2").unwrap(), rat(150, 1));
        assert_eq!(parse_decimal("+7").unwrap(), rat(7, 1));
        assert_eq!(parse_decimal(".5").unwrap(), rat(1, 2));
        assert_eq!(parse_decimal("1/3").unwrap(), rat(1, 3));
        assert_eq!(parse_decimal(" 2 ").unwrap(), rat(2, 1));
    }

    /// Issue 21 (found while fuzzing the spec loader): `1e-999999` took minutes; long numbers
    /// are refused before any big number is built, with the text shortened.
    #[test]
    fn refuses_huge_exponents_and_digit_counts_quickly() {
        let start = std::time::Instant::now();
        for text in ["1e-999999", "0e999999", "1/1e-5000", &format!("0.{}1", "0".repeat(5000)), &"7".repeat(1_000_000)] {
            let e = parse_decimal(text).unwrap_err();
            assert!(matches!(e, DecimalError::TooLong(..)), "{text:.30}: {e}");
            assert!(e.to_string().len() < 200, "{e}");
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(1));
        assert_eq!(parse_decimal("1e-1100").unwrap(), BigRational::new(BigInt::one(), num_traits::pow(BigInt::from(10), 1100)));
        // The exact decimal expansion of the smallest subnormal (1074 digits after the point).
        let tiny = f64_to_rational(f64::from_bits(1));
        let mut expansion = tiny.clone() * BigRational::from_integer(num_traits::pow(BigInt::from(10), 1074));
        assert!(expansion.is_integer());
        expansion = expansion.trunc();
        let text = format!("0.{:0>1074}", expansion.to_integer());
        assert_eq!(parse_decimal(&text).unwrap(), tiny);
    }

    #[test]
    fn rejects_non_decimals() {
        for bad in ["", "nan", "NaN", "inf", "-inf", "0x10", "1e", "1..2", "--1", "1/0", "e5", ".", "1e999999999", "1e400"] {
            assert!(parse_decimal(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn enclosure_is_tight_and_contains() {
        let tenth = rat(1, 10);
        let x = rational_to_interval(&tenth);
        assert!(interval_contains_rational(x, &tenth));
        assert_eq!(x.inf().next_up(), x.sup());
        assert!(x.inf() < 0.1 || x.sup() > 0.1);
        let half = rat(1, 2);
        let y = rational_to_interval(&half);
        assert_eq!((y.inf(), y.sup()), (0.5, 0.5));
        let third = rat(-1, 3);
        let z = rational_to_interval(&third);
        assert!(interval_contains_rational(z, &third));
        assert_eq!(z.inf().next_up(), z.sup());
    }
}
