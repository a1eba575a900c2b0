//! The supremum of the deviation `D(t) = |r(t) - rbar(t)|` over `[0, T]`.
//!
//! Each step contributes a piece: a vector polynomial `P(s)` with interval coefficients and a
//! radius `rho` such that `r(t_k + s) - rbar(t_k + s)` lies within `rho` of `P(s)` for every
//! `s in [0, h]`. Then `|P(s)|_lo - rho <= D(t_k + s) <= |P(s)|_hi + rho`. A branch-and-bound
//! over subintervals of all pieces brackets the supremum. Proof: `proofs/sup-over-interval.md`.

use super::poly;
use crate::arith::vector::{norm2_lower, norm2_upper, point};
use inari::Interval;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

#[derive(Debug, Clone)]
pub struct DeviationPiece {
    /// Coefficients `0..=q`: enclosures of fixed real coefficients.
    pub coeffs: Vec<Vec<Interval>>,
    /// The Lagrange term's coefficient: for each `s` the deviation contains
    /// `w(s) s^{q+1}` for some `w(s)` in this box, which may vary with `s`.
    pub remainder: Vec<Interval>,
    pub radius: f64,
    /// Encloses the step length; the piece covers `s in [0, step.sup()]`.
    pub step: Interval,
}

impl DeviationPiece {
    /// An enclosure of `{P(s) : s in s_range}` (see `proofs/sup-over-interval.md`): the mean
    /// value form is applied to the fixed polynomial part only; the remainder term is added as
    /// `s_range^{q+1} * remainder`.
    fn values(&self, s: Interval, mean_value: bool) -> Vec<Interval> {
        let q1 = self.coeffs.len() as i32;
        let poly_part = if mean_value { poly::range(&self.coeffs, s) } else { poly::evaluate(&self.coeffs, s) };
        let power = s.powi(q1);
        poly_part.iter().zip(&self.remainder).map(|(&p, &w)| power.mul_add(w, p)).collect()
    }

    /// A lower bound of `D(t_k + s)` valid for every `s` in the interval `s`.
    pub fn lower_at(&self, s: Interval) -> f64 {
        let v = self.values(s, false);
        (point(norm2_lower(&v)) - point(self.radius)).inf().max(0.0)
    }

    /// An upper bound of `D(t_k + s)` over every `s` in `s`.
    pub fn upper_on(&self, s: Interval) -> f64 {
        let v = self.values(s, true);
        (point(norm2_upper(&v)) + point(self.radius)).sup()
    }

    /// An enclosure of `D(t_k + s)` for every `s` in `s`.
    pub fn enclosure_at(&self, s: Interval) -> Interval {
        let v = self.values(s, false);
        let lo = (point(norm2_lower(&v)) - point(self.radius)).inf().max(0.0);
        let hi = (point(norm2_upper(&v)) + point(self.radius)).sup();
        Interval::try_from((lo, hi)).unwrap_or(Interval::ENTIRE)
    }
}

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

/// Brackets `sup D` over the union of the pieces, stopping when the bracket's relative width is
/// below `rtol` or after `max_evaluations` bisections. `lower` may start from a known lower bound.
pub fn sup_deviation(pieces: &[DeviationPiece], rtol: f64, max_evaluations: usize) -> Interval {
    let mut lower: f64 = 0.0;
    let mut heap = BinaryHeap::new();
    for (i, piece) in pieces.iter().enumerate() {
        let end = piece.step.sup();
        // Lower bounds only at times surely inside the step (s <= h.inf(), or s in [h]).
        lower = lower
            .max(piece.lower_at(point(0.0)))
            .max(piece.lower_at(piece.step))
            .max(piece.lower_at(point(0.5 * piece.step.inf())));
        let whole = Interval::try_from((0.0, end)).unwrap();
        heap.push(Candidate { upper: piece.upper_on(whole), piece: i, lo: 0.0, hi: end });
    }
    let mut evaluations = 0;
    while let Some(top) = heap.peek().copied() {
        let converged = top.upper <= lower + rtol * lower.abs() || top.upper <= f64::MIN_POSITIVE;
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
            lower = lower.max(piece.lower_at(point(mid)));
        }
        for (a, b) in [(top.lo, mid), (mid, top.hi)] {
            let s = Interval::try_from((a, b)).unwrap();
            heap.push(Candidate { upper: piece.upper_on(s).min(top.upper), piece: top.piece, lo: a, hi: b });
        }
    }
    let upper = heap.peek().map_or(0.0, |c| c.upper).max(lower);
    Interval::try_from((lower, upper)).unwrap_or(Interval::ENTIRE)
}
