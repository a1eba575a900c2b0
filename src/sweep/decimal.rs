//! Printing certified numbers as decimals with **outward rounding**, in exact arithmetic.
//!
//! Every f64 endpoint is converted to the rational it is exactly ([`f64_to_rational`]); the
//! decimal is computed from that rational with integer floor/ceiling, and the printed text is
//! exactly `mantissa * 10^exponent`. So a printed lower endpoint is `<=` the true one and a
//! printed upper endpoint is `>=` it. Proof: `proofs/printed-intervals.md`; property test:
//! `tests/sweep.rs` (`printed_intervals_are_outward`).

use crate::arith::rational::f64_to_rational;
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{Signed, Zero};

/// Rounding direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Toward minus infinity (lower endpoints).
    Down,
    /// Toward plus infinity (upper endpoints).
    Up,
    /// To nearest, ties away from zero (exact inputs shown for reading only, never enclosures).
    Nearest,
}

/// `m * 10^e`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scaled {
    pub mantissa: BigInt,
    pub exponent: i64,
}

impl Scaled {
    pub fn to_rational(&self) -> BigRational {
        BigRational::from_integer(self.mantissa.clone()) * pow10(self.exponent)
    }
}

/// `10^k` as a rational (any sign of `k`).
pub fn pow10(k: i64) -> BigRational {
    let p = BigRational::from_integer(num_traits::pow(BigInt::from(10), k.unsigned_abs() as usize));
    if k < 0 { p.recip() } else { p }
}

/// `floor(log10 |q|)` for `q != 0`, exactly.
pub fn decimal_exponent(q: &BigRational) -> i64 {
    let a = q.abs();
    let mut k = a.numer().to_string().len() as i64 - a.denom().to_string().len() as i64;
    while pow10(k) > a {
        k -= 1;
    }
    while pow10(k + 1) <= a {
        k += 1;
    }
    k
}

/// Rounds `q / 10^e` to an integer in direction `dir`.
pub fn round_at(q: &BigRational, e: i64, dir: Dir) -> BigInt {
    let s = q / pow10(e);
    match dir {
        Dir::Down => s.floor().to_integer(),
        Dir::Up => s.ceil().to_integer(),
        Dir::Nearest => s.round().to_integer(),
    }
}

/// `q` rounded in direction `dir` to `sig` significant digits: `m * 10^e` with
/// `10^(sig-1) <= |m| <= 10^sig` (the upper value only after a carry, e.g. 9.999 up to 10.00).
pub fn round_sig(q: &BigRational, sig: usize, dir: Dir) -> Scaled {
    let sig = sig.max(1) as i64;
    if q.is_zero() {
        return Scaled { mantissa: BigInt::zero(), exponent: 0 };
    }
    let e = decimal_exponent(q) - (sig - 1);
    Scaled { mantissa: round_at(q, e, dir), exponent: e }
}

/// Exact decimal text of `m * 10^e` in positional notation (`1234 * 10^-2` -> `12.34`).
pub fn fixed_text(m: &BigInt, e: i64) -> String {
    let neg = m.is_negative();
    let mut digits = m.abs().to_string();
    if e >= 0 {
        if !m.is_zero() {
            digits.push_str(&"0".repeat(e as usize));
        }
    } else {
        let k = (-e) as usize;
        while digits.len() <= k {
            digits.insert(0, '0');
        }
        let point = digits.len() - k;
        digits = format!("{}.{}", &digits[..point], &digits[point..]);
    }
    if neg { format!("-{digits}") } else { digits }
}

/// How numbers are spelt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// `1.23e-4` (Markdown, CSV; parses back exactly with `parse_decimal`).
    Plain,
    /// `1.23\times10^{-4}` (inside LaTeX math).
    Latex,
}

/// Exponents printed without a power of ten.
const FIXED_RANGE: std::ops::RangeInclusive<i64> = -2..=3;

fn power_suffix(e: i64, style: Style) -> String {
    match style {
        Style::Plain => format!("e{e}"),
        Style::Latex => format!("\\times10^{{{e}}}"),
    }
}

fn infinite_text(positive: bool, style: Style) -> String {
    match (style, positive) {
        (Style::Plain, true) => "inf".into(),
        (Style::Plain, false) => "-inf".into(),
        (Style::Latex, true) => "\\infty".into(),
        (Style::Latex, false) => "-\\infty".into(),
    }
}

/// An exact rational rounded in direction `dir` to `sig` significant digits, as text whose
/// value is exactly the rounded number.
pub fn rational_text(q: &BigRational, sig: usize, dir: Dir, style: Style) -> String {
    if q.is_zero() {
        return "0".into();
    }
    let mut r = round_sig(q, sig, dir);
    let sig = sig.max(1) as i64;
    // Normalise a carry (|m| = 10^sig) to sig digits: exact, since the last digit is 0.
    if r.mantissa.abs() == num_traits::pow(BigInt::from(10), sig as usize) {
        r.mantissa /= 10;
        r.exponent += 1;
    }
    let lead = r.exponent + sig - 1;
    if FIXED_RANGE.contains(&lead) {
        fixed_text(&r.mantissa, r.exponent)
    } else {
        format!("{}{}", fixed_text(&r.mantissa, -(sig - 1)), power_suffix(lead, style))
    }
}

/// An f64 (exactly) rounded in direction `dir`; infinities print as such.
pub fn f64_text(x: f64, sig: usize, dir: Dir, style: Style) -> String {
    if x.is_infinite() {
        return infinite_text(x > 0.0, style);
    }
    if x.is_nan() {
        return "NaN".into();
    }
    rational_text(&f64_to_rational(x), sig, dir, style)
}

/// An enclosure `[lo, hi]` of exact rationals (`None` = infinite endpoint) printed outward at
/// `sig` significant digits of its larger endpoint, with one power of ten shared by both
/// endpoints: returns `(lo_text, hi_text, shared_exponent)`; the value of `lo_text` times
/// `10^shared` is `<= lo`, that of `hi_text` times `10^shared` is `>= hi`.
pub fn interval_parts(
    lo: Option<&BigRational>,
    hi: Option<&BigRational>,
    sig: usize,
    style: Style,
) -> (String, String, i64) {
    let sig = sig.max(1) as i64;
    let mag = |q: Option<&BigRational>| q.filter(|q| !q.is_zero()).map(decimal_exponent);
    let lead = match (mag(lo), mag(hi)) {
        (Some(a), Some(b)) => a.max(b),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => 0,
    };
    let unit = lead - (sig - 1);
    let shared = if FIXED_RANGE.contains(&lead) { 0 } else { lead };
    let text = |q: Option<&BigRational>, dir: Dir, positive_inf: bool| match q {
        None => infinite_text(positive_inf, style),
        Some(q) => {
            let m = round_at(q, unit, dir);
            if m.is_zero() { "0".to_string() } else { fixed_text(&m, unit - shared) }
        }
    };
    (text(lo, Dir::Down, false), text(hi, Dir::Up, true), shared)
}

/// `[lo, hi]` from f64 endpoints (infinite endpoints allowed), printed outward.
pub fn interval_text(lo: f64, hi: f64, sig: usize, style: Style) -> String {
    let l = lo.is_finite().then(|| f64_to_rational(lo));
    let h = hi.is_finite().then(|| f64_to_rational(hi));
    rational_interval_text(l.as_ref(), h.as_ref(), sig, style)
}

/// `[lo, hi]` of rationals printed outward: Plain `[1.534e-4, 1.535e-4]`, LaTeX
/// `[1.534, 1.535]\times10^{-4}`.
pub fn rational_interval_text(lo: Option<&BigRational>, hi: Option<&BigRational>, sig: usize, style: Style) -> String {
    let (l, h, shared) = interval_parts(lo, hi, sig, style);
    if shared == 0 {
        return format!("[{l}, {h}]");
    }
    match style {
        Style::Plain => {
            let with = |t: &str| if t.contains("inf") || t == "0" { t.to_string() } else { format!("{t}e{shared}") };
            format!("[{}, {}]", with(&l), with(&h))
        }
        Style::Latex => format!("[{l}, {h}]{}", power_suffix(shared, style)),
    }
}

/// Is `x` a power of ten times an integer with few digits, i.e. short to print exactly?
pub fn short_exact_text(q: &BigRational, max_digits: usize) -> Option<String> {
    let t = super::grid::decimal_text(q);
    if t.contains('/') {
        return None;
    }
    let digits = t.chars().filter(|c| c.is_ascii_digit()).collect::<String>();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
    (significant <= max_digits && t.len() <= max_digits + 4).then_some(t)
}

/// An exact input (alpha, T, eps) for reading: exact when short, else rounded to nearest with
/// `~` (Plain) or `\approx` (LaTeX) in front.
pub fn input_text(q: &BigRational, sig: usize, style: Style) -> String {
    if let Some(t) = short_exact_text(q, sig.max(10)) {
        return t;
    }
    let r = rational_text(q, sig, Dir::Nearest, style);
    match style {
        Style::Plain => format!("~{r}"),
        Style::Latex => format!("\\approx {r}"),
    }
}

/// `a / b` exactly (for ratios), `None` when `b` is zero.
pub fn ratio(a: &BigRational, b: &BigRational) -> Option<BigRational> {
    (!b.is_zero()).then(|| a / b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arith::rational::parse_decimal;

    fn q(s: &str) -> BigRational {
        parse_decimal(s).unwrap()
    }

    #[test]
    fn rounding_directions() {
        assert_eq!(rational_text(&q("1.2341"), 3, Dir::Down, Style::Plain), "1.23");
        assert_eq!(rational_text(&q("1.2341"), 3, Dir::Up, Style::Plain), "1.24");
        assert_eq!(rational_text(&q("-1.2341"), 3, Dir::Down, Style::Plain), "-1.24");
        assert_eq!(rational_text(&q("-1.2341"), 3, Dir::Up, Style::Plain), "-1.23");
        assert_eq!(rational_text(&q("9.9991"), 3, Dir::Up, Style::Plain), "10.0");
        assert_eq!(rational_text(&q("0.000123456"), 3, Dir::Up, Style::Plain), "1.24e-4");
        assert_eq!(rational_text(&q("0.000123456"), 3, Dir::Up, Style::Latex), "1.24\\times10^{-4}");
        assert_eq!(rational_text(&q("1.5"), 3, Dir::Up, Style::Plain), "1.50");
        assert_eq!(rational_text(&q("123456"), 2, Dir::Down, Style::Plain), "1.2e5");
        assert_eq!(interval_text(1.5346e-4, 1.5347e-4, 4, Style::Plain), "[1.534e-4, 1.535e-4]");
        assert_eq!(interval_text(1.5346e-4, 1.5347e-4, 4, Style::Latex), "[1.534, 1.535]\\times10^{-4}");
        assert_eq!(interval_text(0.25, 0.25, 3, Style::Plain), "[0.250, 0.250]");
        assert_eq!(interval_text(f64::NEG_INFINITY, f64::INFINITY, 3, Style::Plain), "[-inf, inf]");
    }
}
