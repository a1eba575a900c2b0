//! [`DiscVec`]: vectors of complex discs centred on the real axis, for bounds of a network over
//! a complex neighbourhood (the step validation at nodes, `enclose::tube`; proof:
//! `proofs/tube-integrator.md`, "Validation at nodes", Lemma D).
//!
//! Entry `i` is the set `{mid[i] + zeta : zeta complex, |zeta| <= rad[i]}`. The arithmetic is
//! that of [`BallVec`]: every radius rule of [`Ball`] (sums, products, fused multiply-adds, the
//! matrix-product bounds of `arith::gemm`) is the triangle inequality `|x y - m n| <= |m| r_y +
//! r_x (|n| + r_y)` plus the rounding of a real midpoint, and holds for complex members as it
//! does for real ones. Only the elementary functions differ: a real ball's image uses the
//! function on the real segment, which says nothing off the axis (`tanh(1.5 i) = 14.1 i`), so
//! here the image of `D(m, r)` is `D(f(m), L r)` with `L >= sup |f'|` over the complex disc.

use super::ball_vec::BallVec;
use super::coeffs::{CoeffVec, Elementary};
use crate::arith::ball::Ball;
use crate::arith::fast_interval::FastInterval;
use crate::arith::scalar::Scalar;
use std::ops::Range;

/// Complex discs around real midpoints (see the module documentation).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DiscVec(pub BallVec);

/// Discs up to this radius get finite images (the bounds of [`derivative_bound`] assume it).
const MAX_RADIUS: f64 = 1.0;

/// An upper bound of `sup |f'(zeta)|` over the complex disc `|zeta - m| <= r` (`r <= 1`, any `r`
/// for exp), or infinity. With `x0 = max(|m| - r, 0) <= |Re zeta|` and `|Im zeta| <= r`:
/// - tanh: `|tanh'| = 1/|cosh|^2 = 1/(sinh^2 x + cos^2 y) <= 1/(x0^2 + 1 - r^2)`
///   (`sinh x >= x`, `cos^2 y >= 1 - y^2`);
/// - sigmoid `= (1 + tanh(z/2))/2`: `|sigmoid'| = |tanh'(z/2)|/4 <= 1/(4 ((x0/2)^2 + 1 - (r/2)^2))`;
/// - sin, cos: `|cos z|, |sin z| <= cosh y <= cosh r <= 1 + r^2` (`r <= 1`);
/// - exp: `|e^z| = e^{Re z} <= e^{m + r}`;
/// - erf: `|erf'| = (2/sqrt(pi)) |e^{-z^2}| = (2/sqrt(pi)) e^{y^2 - x^2} <= 1.13 (1 + 2 r^2)`
///   (`e^t <= 1 + 2t` for `0 <= t <= 1`);
/// - softplus: `|softplus'| = |1/(1 + e^{-z})| <= 1`, as `Re e^{-z} = e^{-x} cos y > 0` for
///   `|y| < pi/2`.
fn derivative_bound(f: Elementary, m: f64, r: f64) -> f64 {
    // exp is entire and its bound holds for every radius; the others need the strip.
    if !(m.is_finite() && r.is_finite() && (r <= MAX_RADIUS || f == Elementary::Exp)) {
        return f64::INFINITY;
    }
    let (p, one) = (FastInterval::point, FastInterval::point(1.0));
    let x0 = (p(m.abs()) - p(r)).lo.max(0.0);
    let r2 = p(r) * p(r);
    let bound = match f {
        Elementary::Tanh => one / (p(x0) * p(x0) + (one - r2)),
        Elementary::Sigmoid => {
            let quarter = p(0.25);
            p(0.25) / (quarter * p(x0) * p(x0) + (one - quarter * r2))
        }
        Elementary::Sin | Elementary::Cos => one + r2,
        Elementary::Exp => crate::arith::elementary::exp(p(m) + p(r)),
        Elementary::Erf => p(1.13) * (one + p(2.0) * r2),
        Elementary::Softplus => one,
    };
    if bound.lo > 0.0 { bound.hi } else { f64::INFINITY }
}

impl DiscVec {
    /// The disc vector with midpoints `mid` and radii `rad`.
    pub fn new(mid: Vec<f64>, rad: Vec<f64>) -> Self {
        DiscVec(BallVec { mid, rad })
    }

    /// Upper bounds of `|v_i|` over each disc.
    pub fn moduli(&self) -> Vec<f64> {
        (0..self.0.len()).map(|i| Scalar::magnitude(self.0.get(i))).collect()
    }

    fn inner(v: &[DiscVec]) -> Vec<BallVec> {
        v.iter().map(|d| d.0.clone()).collect()
    }
}

impl CoeffVec for DiscVec {
    type S = Ball;

    fn zeros(len: usize) -> Self {
        DiscVec(BallVec::zeros(len))
    }
    fn filled(len: usize, v: Ball) -> Self {
        DiscVec(BallVec::filled(len, v))
    }
    fn from_scalars(v: &[Ball]) -> Self {
        DiscVec(BallVec::from_scalars(v))
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    fn to_scalars(&self) -> Vec<Ball> {
        self.0.to_scalars()
    }
    fn magnitude(&self) -> f64 {
        self.0.magnitude()
    }
    fn midpoints(&self) -> Vec<f64> {
        self.0.mid.clone()
    }
    fn concat(parts: &[Self]) -> Self {
        DiscVec(BallVec::concat(&Self::inner(parts)))
    }

    /// `D(f(m), rad(f(m)) + L r)` per entry, `f(m)` the real ball image of the point `m`.
    fn map(&self, f: Elementary) -> Self {
        let at_mid = BallVec::from_points(&self.0.mid).map(f);
        let entries = (0..self.len())
            .map(|i| {
                let (centre, r) = (at_mid.get(i), self.0.rad[i]);
                let spread = FastInterval::point(derivative_bound(f, self.0.mid[i], r)) * FastInterval::point(r);
                Ball { mid: centre.mid, rad: (FastInterval::point(centre.rad) + FastInterval::point(spread.hi)).hi }
            })
            .collect::<Vec<_>>();
        DiscVec(BallVec::from_scalars(&entries))
    }
    fn scale(&self, c: Ball) -> Self {
        DiscVec(self.0.scale(c))
    }
    fn add_scalar(&self, c: Ball) -> Self {
        DiscVec(self.0.add_scalar(c))
    }
    fn add(&self, other: &Self) -> Self {
        DiscVec(self.0.add(&other.0))
    }
    fn sub(&self, other: &Self) -> Self {
        DiscVec(self.0.sub(&other.0))
    }
    fn neg(&self) -> Self {
        DiscVec(self.0.neg())
    }
    fn cauchy(k: usize, a: &[Self], b: &[Self]) -> Self {
        DiscVec(BallVec::cauchy(k, &Self::inner(a), &Self::inner(b)))
    }
    fn cauchy_square(k: usize, a: &[Self]) -> Self {
        DiscVec(BallVec::cauchy_square(k, &Self::inner(a)))
    }
    fn ode(k: usize, a: &[Self], b: &[Self]) -> Self {
        DiscVec(BallVec::ode(k, &Self::inner(a), &Self::inner(b)))
    }
    fn matmul_acc(acc: &mut Self, a: &Self, w: &Self, offset: usize, din: usize, dout: usize, thin_kernel: bool) {
        BallVec::matmul_acc(&mut acc.0, &a.0, &w.0, offset, din, dout, thin_kernel)
    }
    fn transposed_matmul_acc(e: &mut Self, delta: &Self, w: &Self, offset: usize, din: usize, dout: usize, thin_kernel: bool) {
        BallVec::transposed_matmul_acc(&mut e.0, &delta.0, &w.0, offset, din, dout, thin_kernel)
    }
    fn outer_acc(grad: &mut Self, offset: usize, delta: &Self, a: &Self, din: usize, dout: usize, thin_kernel: bool) {
        BallVec::outer_acc(&mut grad.0, offset, &delta.0, &a.0, din, dout, thin_kernel)
    }
    fn column_sums_acc(grad: &mut Self, offset: usize, delta: &Self, dout: usize) {
        BallVec::column_sums_acc(&mut grad.0, offset, &delta.0, dout)
    }
    fn add_bias(z: &mut Self, b: &Self, offset: usize, dout: usize) {
        BallVec::add_bias(&mut z.0, &b.0, offset, dout)
    }
    fn scale_range(v: &mut Self, range: Range<usize>, c: Ball) {
        BallVec::scale_range(&mut v.0, range, c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_complex::Complex64;
    use proptest::prelude::*;

    /// `erf` of a complex number by its Maclaurin series (|z| <= 4: about 1e-9 relative).
    fn erf(z: Complex64) -> Complex64 {
        let mut term = z;
        let mut sum = z;
        for n in 1..120 {
            term = -term * z * z / n as f64;
            sum += term / (2 * n + 1) as f64;
        }
        sum * (2.0 / std::f64::consts::PI.sqrt())
    }

    fn apply(f: Elementary, z: Complex64) -> Complex64 {
        let one = Complex64::new(1.0, 0.0);
        match f {
            Elementary::Tanh => z.tanh(),
            Elementary::Sigmoid => one / (one + (-z).exp()),
            Elementary::Sin => z.sin(),
            Elementary::Cos => z.cos(),
            Elementary::Erf => erf(z),
            Elementary::Softplus => (one + z.exp()).ln(),
            Elementary::Exp => z.exp(),
        }
    }

    const ALL: [Elementary; 7] =
        [Elementary::Tanh, Elementary::Sigmoid, Elementary::Sin, Elementary::Cos, Elementary::Erf, Elementary::Softplus, Elementary::Exp];

    proptest! {
        /// The image disc contains `f` at complex members of the disc (float evaluation, with a
        /// margin for its rounding); the real ball image would not (`tanh(1.5 i) = 14.1 i`).
        #[test]
        fn images_contain_complex_members(m in -3.0..3.0f64, r in prop_oneof![Just(0.0), 0.0..1e-6f64, 0.0..1.0f64], angle in 0.0..std::f64::consts::TAU, depth in 0.0..=1.0f64) {
            let zeta = Complex64::from_polar(r * depth, angle);
            for f in ALL {
                let image = DiscVec::new(vec![m], vec![r]).map(f);
                let (mid, rad) = (image.0.mid[0], image.0.rad[0]);
                let value = apply(f, Complex64::new(m, 0.0) + zeta);
                let margin = 1e-9 * (1.0 + value.norm());
                prop_assert!((value - mid).norm() <= rad + margin, "{f:?} at {m} + {zeta}: {value} outside {mid} +- {rad}");
            }
        }
    }

    /// The same on a grid of boundary points (where the images are widest): midpoints in
    /// `[-3, 3]`, radii up to 1, 32 angles.
    #[test]
    fn images_contain_the_boundary() {
        for f in ALL {
            for m in (-12..=12).map(|k| k as f64 / 4.0) {
                for r in [0.25, 0.5, 0.9, 1.0] {
                    let image = DiscVec::new(vec![m], vec![r]).map(f);
                    let (mid, rad) = (image.0.mid[0], image.0.rad[0]);
                    for k in 0..32 {
                        let zeta = Complex64::from_polar(r, std::f64::consts::TAU * k as f64 / 32.0);
                        let value = apply(f, Complex64::new(m, 0.0) + zeta);
                        assert!((value - mid).norm() <= rad + 1e-9 * (1.0 + value.norm()), "{f:?} at {m} + {zeta}: {value} outside {mid} +- {rad}");
                    }
                }
            }
        }
    }

    /// Discs wider than the strip where the bounds hold get infinite images (exp excepted).
    #[test]
    fn wide_discs_have_no_finite_image() {
        for f in ALL {
            let rad = DiscVec::new(vec![0.5], vec![1.5]).map(f).0.rad[0];
            assert_eq!(rad.is_finite(), f == Elementary::Exp, "{f:?}: {rad}");
        }
    }
}
