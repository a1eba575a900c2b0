//! The deterministic GF-MLP(m, d, n) instance of `BENCHMARKS.md`.
//!
//! With 0-based `i < n`, `j < m`, `k < d`:
//!
//! ```text
//! x_i[k] = sin(1 + i + 2k + 0.5 i k)      y_i  = 0.5 cos(1 + 3i)
//! W0_jk  = cos(1 + 5j + 3k)               a0_j = sin(2 + 7j)
//! ```
//!
//! Each argument is computed exactly as a rational, enclosed by
//! [`rational_to_interval`] (it is a small dyadic number, so the enclosure is thin), and the
//! sine or cosine is taken with inari's outward-rounded `sin`/`cos` (MPFR with directed
//! rounding): each value is an enclosure at most a couple of ulps wide. The factor 0.5 is exact.

use crate::arith::rational::rational_to_interval;
use inari::{const_interval, Interval};
use num_bigint::BigInt;
use num_rational::BigRational;

fn rat(numer: u64, denom: u64) -> BigRational {
    BigRational::new(BigInt::from(numer), BigInt::from(denom))
}

/// Enclosure of `sin(1 + i + 2k + i k / 2)`.
pub fn input(i: usize, k: usize) -> Interval {
    let (i, k) = (i as u64, k as u64);
    // 1 + i + 2k + ik/2 = (2 + 2i + 4k + ik) / 2
    rational_to_interval(&rat(2 + 2 * i + 4 * k + i * k, 2)).sin()
}

/// Enclosure of `0.5 cos(1 + 3i)`.
pub fn target(i: usize) -> Interval {
    const HALF: Interval = const_interval!(0.5, 0.5);
    HALF * rational_to_interval(&rat(1 + 3 * i as u64, 1)).cos()
}

/// Enclosure of `cos(1 + 5j + 3k)`.
pub fn weight(j: usize, k: usize) -> Interval {
    rational_to_interval(&rat(1 + 5 * j as u64 + 3 * k as u64, 1)).cos()
}

/// Enclosure of `sin(2 + 7j)`.
pub fn outer_weight(j: usize) -> Interval {
    rational_to_interval(&rat(2 + 7 * j as u64, 1)).sin()
}

/// The inputs `x_i`, `n x d`.
pub fn inputs(n: usize, d: usize) -> Vec<Vec<Interval>> {
    (0..n).map(|i| (0..d).map(|k| input(i, k)).collect()).collect()
}

/// The targets `y_i`, length `n`.
pub fn targets(n: usize) -> Vec<Interval> {
    (0..n).map(target).collect()
}

/// The initial parameters `w0 = (W0 row-major (m x d), a0 (m))`: the layout of an MLP with
/// widths `[d, m, 1]` and no bias.
pub fn params(m: usize, d: usize) -> Vec<Interval> {
    let mut w = Vec::with_capacity(m * d + m);
    for j in 0..m {
        for k in 0..d {
            w.push(weight(j, k));
        }
    }
    w.extend((0..m).map(outer_weight));
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_values() {
        // x_0[0] = sin 1, y_0 = cos(1)/2, W0_00 = cos 1, a0_0 = sin 2.
        assert!(input(0, 0).contains(1f64.sin()) || (input(0, 0).wid() < 1e-15));
        assert!((input(0, 0).mid() - 1f64.sin()).abs() < 1e-15);
        assert!((target(0).mid() - 0.5 * 1f64.cos()).abs() < 1e-15);
        assert!((weight(0, 0).mid() - 1f64.cos()).abs() < 1e-15);
        assert!((outer_weight(0).mid() - 2f64.sin()).abs() < 1e-15);
        // x_1[1] = sin(1 + 1 + 2 + 0.5) = sin 4.5
        assert!((input(1, 1).mid() - 4.5f64.sin()).abs() < 1e-15);
        let p = params(3, 2);
        assert_eq!(p.len(), 9);
        assert_eq!(p[2 * 2 + 1], weight(2, 1));
        assert_eq!(p[6 + 2], outer_weight(2));
    }
}
