//! Certified theory bounds (MATH.md F3-F6) for a problem: the constants they need (R0, the
//! reachable radius, Lip(h) and the local Lipschitz constant of Dh on the reachable ball), and
//! the bounds themselves, each an upper bound of `sup_{t<=T} D(t)`, rounded upward.
//!
//! Proofs: `proofs/theory-f1-f2.md` (reachable ball), `proofs/theory-f5-f6.md` (the bounds),
//! `proofs/derivative-bounds.md` (the constants).

use crate::arith::vector::point;
use crate::certify::InitialState;
use crate::model::bounds::derivative_bounds_on_ball;
use crate::problem::Problem;
use inari::Interval;

/// One named bound.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NamedBound {
    /// Key used in JSON and in regression assertions.
    pub key: &'static str,
    pub name: &'static str,
    pub formula: &'static str,
    pub proof: &'static str,
    /// Upper bound of `sup_{t<=T} D(t)`.
    pub value: f64,
}

/// Everything `ntkcert bound` reports.
#[derive(Debug, Clone)]
pub struct TheoryBounds {
    /// `R0 = |r0|^2 / 2`.
    pub r0: Interval,
    /// `sqrt(T R0) / alpha` (upper): the trajectory stays in `B(w0, reach)` (F2).
    pub reach: f64,
    /// `sup |Dh|` over the reachable ball (upper).
    pub lip_h: f64,
    /// `sup |D^2 h|` over the reachable ball (upper): a Lipschitz constant of `Dh` there.
    pub lip_dh_local: f64,
    /// `T L sqrt(R0) / alpha` with `L = lip_dh_local` (enclosure given that L).
    pub kappa: Interval,
    pub bounds: Vec<NamedBound>,
    pub seconds: f64,
}

impl TheoryBounds {
    pub fn get(&self, key: &str) -> Option<f64> {
        self.bounds.iter().find(|b| b.key == key).map(|b| b.value)
    }
}

/// `1/sqrt(2) + pi / (2 sqrt(e))` enclosed (F5's constant, `proofs/theory-f5-f6.md`).
pub fn sharpened_constant() -> Interval {
    let two = point(2.0);
    two.sqrt().recip() + Interval::PI / (two * Interval::E.sqrt())
}

/// Computes the certified constants and bounds.
pub fn theory_bounds(problem: &Problem) -> TheoryBounds {
    let started = std::time::Instant::now();
    let initial = InitialState::new(problem);
    let r0 = initial.half_r0_sq;
    let alpha = problem.alpha.enclosure;
    let horizon = problem.horizon.enclosure;
    let reach = ((horizon * r0).sqrt() / alpha).sup();
    let region = derivative_bounds_on_ball(problem, &problem.params0, reach);
    let lip_h = region.gradient_total();
    let lip_dh = region.hessian_total();
    let l = point(lip_dh);
    let sqrt_r0 = r0.sqrt();
    let kappa = horizon * l * sqrt_r0 / alpha;
    let trivial = (point(8.0) * r0).sqrt().sup();
    let published = (point(6.0) * kappa * sqrt_r0).sup().min(trivial);
    let sharpened = (sharpened_constant() * kappa * sqrt_r0).sup().min(trivial);
    let gronwall = (point(2.0) * point(lip_h).sqr() * l * r0 * horizon.sqr() / alpha).sup();
    let bounds = vec![
        NamedBound {
            key: "trivial",
            name: "F3 trivial bound",
            formula: "sqrt(8 R0)",
            proof: "proofs/theory-f5-f6.md#f3",
            value: trivial,
        },
        NamedBound {
            key: "published",
            name: "F4 published (Boix-Adsera & Littwin 2023, constant as recalled)",
            formula: "min(6 kappa sqrt(R0), sqrt(8 R0))",
            proof: "proofs/theory-f5-f6.md#f4",
            value: published,
        },
        NamedBound {
            key: "sharpened",
            name: "F5 sharpened constant (derived)",
            formula: "min((1/sqrt 2 + pi/(2 sqrt e)) kappa sqrt(R0), sqrt(8 R0))",
            proof: "proofs/theory-f5-f6.md#f5",
            value: sharpened,
        },
        NamedBound {
            key: "gronwall_t2",
            name: "F6 O(T^2) comparator (elementary Gronwall, in the style of Chizat et al.)",
            formula: "2 Lip(h)^2 L R0 T^2 / alpha",
            proof: "proofs/theory-f5-f6.md#f6",
            value: gronwall,
        },
    ];
    TheoryBounds {
        r0,
        reach,
        lip_h,
        lip_dh_local: lip_dh,
        kappa,
        bounds,
        seconds: started.elapsed().as_secs_f64(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sharpened_constant_matches_math_md() {
        let c = sharpened_constant();
        assert!(c.inf() > 1.6597 && c.sup() < 1.6599, "{c:?}");
        assert!(c.wid() < 1e-14);
    }
}
