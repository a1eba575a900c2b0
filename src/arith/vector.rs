//! Rigorous norms of interval vectors.

use inari::{const_interval, Interval};

/// An upper bound of `|v|_2` for every real vector `v` with `v_i` in `x_i`.
pub fn norm2_upper(x: &[Interval]) -> f64 {
    let mut sum = const_interval!(0.0, 0.0);
    for xi in x {
        let m = xi.mag();
        let m = Interval::try_from((m, m)).unwrap_or(Interval::ENTIRE);
        sum += m.sqr();
    }
    sum.sqrt().sup()
}

/// A lower bound of `|v|_2` for every real vector `v` with `v_i` in `x_i`.
pub fn norm2_lower(x: &[Interval]) -> f64 {
    let mut sum = const_interval!(0.0, 0.0);
    for xi in x {
        let m = xi.mig();
        let m = Interval::try_from((m, m)).unwrap_or(Interval::ENTIRE);
        sum += m.sqr();
    }
    sum.sqrt().inf()
}

/// An upper bound of `|r|_2` where `r_i` is the radius of `x_i` around its midpoint: every `v`
/// with `v_i` in `x_i` lies within this distance of the midpoint vector.
pub fn radius_norm2_upper(x: &[Interval]) -> f64 {
    let mut sum = const_interval!(0.0, 0.0);
    for xi in x {
        let r = xi.rad();
        let r = Interval::try_from((r, r)).unwrap_or(Interval::ENTIRE);
        sum += r.sqr();
    }
    sum.sqrt().sup()
}

/// The interval `[lo, hi]`, or the whole line if the endpoints are not ordered numbers.
pub fn interval(lo: f64, hi: f64) -> Interval {
    Interval::try_from((lo, hi)).unwrap_or(Interval::ENTIRE)
}

/// The interval `[-r, r]` for a radius `r >= 0`.
pub fn symmetric(r: f64) -> Interval {
    interval(-r, r)
}

/// `x` rounded upward as a point interval, for further outward-rounded arithmetic.
pub fn point(x: f64) -> Interval {
    interval(x, x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn norms_bound_members() {
        let x = [interval(-1.0, 2.0), interval(3.0, 4.0)];
        assert!(norm2_upper(&x) >= (4.0f64 + 16.0).sqrt());
        assert!(norm2_lower(&x) <= 3.0);
        assert!(norm2_lower(&x) >= 3.0 - 1e-15);
        assert!(radius_norm2_upper(&x) >= (1.5f64 * 1.5 + 0.25).sqrt());
    }
}
