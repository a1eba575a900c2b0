//! The linearised flow in function space: `rbar' = -K0 rbar`, `K0 = J0 J0^T`, so
//! `rbar(t) = exp(-K0 t) rbar(0)`. Enclosed step by step by the Taylor polynomial of the matrix
//! exponential with an explicit remainder; no inverse or eigendecomposition, so a singular or
//! badly conditioned `K0` costs nothing. Proof: `proofs/matrix-exponential.md`.

use super::poly;
use crate::arith::vector::{norm2_upper, point, radius_norm2_upper};
use crate::model::flow::jacobian;
use crate::problem::Problem;
use inari::{const_interval, Interval};
use rayon::prelude::*;

/// `K0` enclosed, and an upper bound of its 2-norm.
#[derive(Debug, Clone)]
pub struct LinearFlow {
    /// `N x N`, contains `J(w0) J(w0)^T` for every `w0` in the initial box.
    pub kernel: Vec<Vec<Interval>>,
    /// `>= |K0|_2` (Frobenius norm of the magnitudes).
    pub kernel_norm: f64,
}

/// The enclosure of one step `[t_k, t_k + h]`.
#[derive(Debug, Clone)]
pub struct LinearStep {
    /// `coeffs[j] = (-K0)^j c / j!`, `j <= q`, `c` the centre at `t_k`.
    pub coeffs: Vec<Vec<Interval>>,
    /// `rbar(t_k + s)` lies within this distance of `sum_j coeffs[j] s^j` for all s in [0, h].
    pub radius: f64,
    /// `sum_j coeffs[j] h^j`: `rbar(t_k + h)` lies within `radius` of a point of this box.
    pub end: Vec<Interval>,
}

impl LinearStep {
    /// The next step's centre and radius: `rbar(t_k + h)` lies in the ball they describe.
    pub fn next_ball(&self) -> (Vec<f64>, f64) {
        let centre = self.end.iter().map(|v| v.mid()).collect();
        let radius = (point(self.radius) + point(radius_norm2_upper(&self.end))).sup();
        (centre, radius)
    }
}

impl LinearFlow {
    /// `w0`: the initial parameter box.
    pub fn new(problem: &Problem, w0: &[Interval]) -> Self {
        let j = jacobian::<Interval>(problem, w0);
        let n = j.len();
        let kernel: Vec<Vec<Interval>> = (0..n)
            .into_par_iter()
            .map(|a| {
                (0..n)
                    .map(|b| {
                        let mut acc = const_interval!(0.0, 0.0);
                        for (x, y) in j[a].iter().zip(&j[b]) {
                            acc = x.mul_add(*y, acc);
                        }
                        acc
                    })
                    .collect()
            })
            .collect();
        let flat: Vec<Interval> = kernel.iter().flatten().copied().collect();
        LinearFlow { kernel_norm: norm2_upper(&flat), kernel }
    }

    fn apply_negative(&self, v: &[Interval]) -> Vec<Interval> {
        self.kernel
            .iter()
            .map(|row| {
                let mut acc = const_interval!(0.0, 0.0);
                for (k, x) in row.iter().zip(v) {
                    acc = k.mul_add(*x, acc);
                }
                -acc
            })
            .collect()
    }

    /// The largest step for which the remainder factor `(|K0| h)^{q+1} / (q+1)!` is below `tol`.
    pub fn max_step(&self, order: usize, tol: f64) -> f64 {
        if self.kernel_norm == 0.0 {
            return f64::INFINITY;
        }
        let log_fact: f64 = (1..=order + 1).map(|i| (i as f64).ln()).sum();
        ((tol.ln() + log_fact) / (order + 1) as f64).exp() / self.kernel_norm
    }

    /// One step from `rbar(t_k)` in the ball `B(centre, radius)` over `s in [0, h.sup()]`;
    /// `h` encloses the step length.
    pub fn step(&self, centre: &[f64], radius: f64, h: Interval, order: usize) -> LinearStep {
        let mut coeffs = vec![centre.iter().map(|&c| point(c)).collect::<Vec<_>>()];
        for j in 0..order {
            let inv = point(1.0) / point((j + 1) as f64);
            let next = self.apply_negative(&coeffs[j]).into_iter().map(|v| v * inv).collect();
            coeffs.push(next);
        }
        // |exp(-K0 s) c - sum_{j<=q} (-K0 s)^j c / j!| <= (|K0| s)^{q+1} / (q+1)! |c|, K0 >= 0.
        let mut factor = point(self.kernel_norm) * point(h.sup());
        factor = factor.powi(order as i32 + 1);
        for i in 1..=order + 1 {
            factor = factor / point(i as f64);
        }
        let centre_iv: Vec<Interval> = coeffs[0].clone();
        let remainder = factor * point(norm2_upper(&centre_iv));
        let total = (point(radius) + remainder).sup();
        let end = poly::evaluate(&coeffs, h);
        LinearStep { coeffs, radius: total, end }
    }
}
