//! The supremum of the deviation `D(t) = |r(t) - rbar(t)|` over `[0, T]`.
//!
//! Each step contributes a piece: a vector polynomial `P(s)` with interval coefficients and a
//! radius `rho` such that `r(t_k + s) - rbar(t_k + s)` lies within `rho` of `P(s)` for every
//! `s in [0, h]`. Then `|P(s)|_lo - rho <= D(t_k + s) <= |P(s)|_hi + rho`. A branch-and-bound
//! over subintervals of all pieces brackets the supremum. Proof: `proofs/sup-over-interval.md`.

use super::poly;
use crate::arith::fast_interval::FastInterval;
use inari::Interval;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

#[derive(Debug, Clone)]
pub struct DeviationPiece {
    /// Coefficients `0..=q`: enclosures of fixed real coefficients.
    pub coeffs: Vec<Vec<FastInterval>>,
    /// The coefficients of the derivative of the fixed polynomial part
    /// (`poly::derivative_coeffs` of `coeffs`).
    pub derivative: Vec<Vec<FastInterval>>,
    /// The Lagrange term's coefficient: for each `s` the deviation contains
    /// `w(s) s^{q+1}` for some `w(s)` in this box, which may vary with `s`.
    pub remainder: Vec<FastInterval>,
    pub radius: f64,
    /// Encloses the step length; the piece covers `s in [0, step.sup()]`.
    pub step: Interval,
}

impl DeviationPiece {
    /// The piece with the coefficients `0..=q` of its fixed polynomial part, its Lagrange box,
    /// its radius and step (see the field documentation).
    pub fn new(coeffs: Vec<Vec<FastInterval>>, remainder: Vec<FastInterval>, radius: f64, step: Interval) -> Self {
        let derivative = poly::derivative_coeffs(&coeffs);
        DeviationPiece { coeffs, derivative, remainder, radius, step }
    }

    /// An enclosure of `{P(s) : s in s_range}` for `s_range ⊆ [0, inf)` (see
    /// `proofs/sup-over-interval.md`): the mean value form is applied to the fixed polynomial
    /// part only; the remainder term is added as `s_range^{q+1} * remainder`.
    fn values(&self, s: FastInterval, mean_value: bool) -> Vec<FastInterval> {
        let q1 = self.coeffs.len() as u32;
        // Horner's enclosure only helps on wide subintervals (measured: below 1/16 of the step
        // the mean value form alone gave the same sup D brackets); the intersection with it is
        // skipped there.
        let poly_part = if mean_value {
            let wide = s.hi - s.lo > self.step.sup() * (1.0 / 16.0);
            poly::range(&self.coeffs, &self.derivative, s, wide)
        } else {
            poly::horner(&self.coeffs, s)
        };
        let power = poly::pow_nonneg(s, q1);
        poly_part.iter().zip(&self.remainder).map(|(&p, &w)| poly::mul_add_nonneg(w, power, p)).collect()
    }

    /// A lower bound of `D(t_k + s)` valid for every `s` in the interval `s` (`s >= 0`).
    pub fn lower_at(&self, s: FastInterval) -> f64 {
        let v = self.values(s, false);
        (FastInterval::point(poly::norm2_lower(&v)) - FastInterval::point(self.radius)).lo.max(0.0)
    }

    /// An upper bound of `D(t_k + s)` over every `s` in `s` (`s >= 0`).
    pub fn upper_on(&self, s: FastInterval) -> f64 {
        let v = self.values(s, true);
        (FastInterval::point(poly::norm2_upper(&v)) + FastInterval::point(self.radius)).hi
    }

    /// An enclosure of `D(t_k + s)` for every `s` in `s` (`s >= 0`).
    pub fn enclosure_at(&self, s: Interval) -> Interval {
        let v = self.values(FastInterval::from_inari(s), false);
        let lo = (FastInterval::point(poly::norm2_lower(&v)) - FastInterval::point(self.radius)).lo.max(0.0);
        let hi = (FastInterval::point(poly::norm2_upper(&v)) + FastInterval::point(self.radius)).hi;
        Interval::try_from((lo, hi)).unwrap_or(Interval::ENTIRE)
    }
}

/// The search stops when the bracket is within this fraction of `2 rho` (the width no
/// bisection can remove) of its limit, so that `sup D`'s width grows by at most this fraction.
const RADIUS_SLACK: f64 = 0.01;

/// A candidate subinterval `[lo, hi]` of piece `piece` with its upper bound.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    upper: f64,
    piece: usize,
    lo: f64,
    hi: f64,
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.upper.total_cmp(&other.upper) == Ordering::Equal
    }
}
impl Eq for Candidate {}
impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        self.upper.total_cmp(&other.upper)
    }
}

/// Brackets `sup D` over the union of the pieces, stopping when the bracket's width is within
/// `rtol` (relative) plus [`RADIUS_SLACK`] of twice the top piece's radius, or after
/// `max_evaluations` bisections. `lower` may start from a known lower bound.
pub fn sup_deviation(pieces: &[DeviationPiece], rtol: f64, max_evaluations: usize) -> Interval {
    let mut lower: f64 = 0.0;
    let mut heap = BinaryHeap::new();
    for (i, piece) in pieces.iter().enumerate() {
        let end = piece.step.sup();
        // Lower bounds only at times surely inside the step (s <= h.inf(), or s in [h]).
        lower = lower
            .max(piece.lower_at(FastInterval::ZERO))
            .max(piece.lower_at(FastInterval::from_inari(piece.step)))
            .max(piece.lower_at(FastInterval::point(0.5 * piece.step.inf())));
        let whole = FastInterval { lo: 0.0, hi: end };
        heap.push(Candidate { upper: piece.upper_on(whole), piece: i, lo: 0.0, hi: end });
    }
    let mut evaluations = 0;
    while let Some(top) = heap.peek().copied() {
        // The bracket cannot close below twice the piece's radius (the upper bounds add it, the
        // lower bounds subtract it): stop when the search's own excess is within RADIUS_SLACK
        // of that gap (or within rtol of lower). A heuristic: stopping earlier only widens the
        // returned bracket, which stays valid.
        let floor = 2.0 * pieces[top.piece].radius * (1.0 + RADIUS_SLACK);
        let converged = top.upper <= lower + floor + rtol * lower.abs() || top.upper <= f64::MIN_POSITIVE;
        if converged || evaluations >= max_evaluations {
            break;
        }
        heap.pop();
        let mid = 0.5 * (top.lo + top.hi);
        if !(top.lo < mid && mid < top.hi) {
            // Cannot split further: keep it as final.
            heap.push(Candidate { upper: top.upper, ..top });
            break;
        }
        evaluations += 1;
        let piece = &pieces[top.piece];
        if mid <= piece.step.inf() {
            lower = lower.max(piece.lower_at(FastInterval::point(mid)));
        }
        for (a, b) in [(top.lo, mid), (mid, top.hi)] {
            let s = FastInterval { lo: a, hi: b };
            heap.push(Candidate { upper: piece.upper_on(s).min(top.upper), piece: top.piece, lo: a, hi: b });
        }
    }
    let upper = heap.peek().map_or(0.0, |c| c.upper).max(lower);
    Interval::try_from((lower, upper)).unwrap_or(Interval::ENTIRE)
}
