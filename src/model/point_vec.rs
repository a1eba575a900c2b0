//! [`PointVec`]: plain f64 vectors whose layer products run through the matrix-multiply kernel,
//! for the float point path of the step validation at nodes (`enclose::tube`). Nothing here is
//! an enclosure: the path's coefficients are whatever floats come out (Lemma 0 of
//! `proofs/tube-integrator.md` allows any), and the validation encloses the path's defect.
//! Every operation but the three layer products is that of `Vec<f64>`.

use super::coeffs::{kernels, CoeffVec, Elementary};
use crate::arith::gemm::f64_gemm_acc;
use std::ops::Range;

/// A float vector (see the module documentation).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PointVec(pub Vec<f64>);

impl CoeffVec for PointVec {
    type S = f64;

    fn zeros(len: usize) -> Self {
        PointVec(vec![0.0; len])
    }
    fn filled(len: usize, v: f64) -> Self {
        PointVec(vec![v; len])
    }
    fn from_scalars(v: &[f64]) -> Self {
        PointVec(v.to_vec())
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    fn to_scalars(&self) -> Vec<f64> {
        self.0.clone()
    }
    fn magnitude(&self) -> f64 {
        self.0.iter().fold(0.0, |m, x| m.max(x.abs()))
    }
    fn midpoints(&self) -> Vec<f64> {
        self.0.clone()
    }
    fn concat(parts: &[Self]) -> Self {
        PointVec(parts.iter().flat_map(|p| p.0.iter().copied()).collect())
    }
    fn map(&self, f: Elementary) -> Self {
        PointVec(self.0.iter().map(|&x| f.apply(x)).collect())
    }
    fn scale(&self, c: f64) -> Self {
        PointVec(self.0.iter().map(|&x| c * x).collect())
    }
    fn add_scalar(&self, c: f64) -> Self {
        PointVec(self.0.iter().map(|&x| c + x).collect())
    }
    fn add(&self, other: &Self) -> Self {
        PointVec(self.0.iter().zip(&other.0).map(|(&x, &y)| x + y).collect())
    }
    fn sub(&self, other: &Self) -> Self {
        PointVec(self.0.iter().zip(&other.0).map(|(&x, &y)| x - y).collect())
    }
    fn neg(&self) -> Self {
        PointVec(self.0.iter().map(|&x| -x).collect())
    }
    fn add_in_place(&mut self, other: &Self) {
        self.0.add_in_place(&other.0)
    }
    fn mul_add_in_place(acc: &mut Self, x: &Self, y: &Self) {
        <Vec<f64> as CoeffVec>::mul_add_in_place(&mut acc.0, &x.0, &y.0)
    }
    fn cauchy(k: usize, a: &[Self], b: &[Self]) -> Self {
        PointVec(kernels::cauchy(k, |j| &a[j].0, |j| &b[j].0))
    }
    fn cauchy_square(k: usize, a: &[Self]) -> Self {
        PointVec(kernels::cauchy_square(k, |j| &a[j].0))
    }
    fn ode(k: usize, a: &[Self], b: &[Self]) -> Self {
        PointVec(kernels::ode(k, |j| &a[j].0, |j| &b[j].0))
    }
    /// `acc (n x dout) += a (n x din) W^T` (`W`: `dout x din`, row-major).
    fn matmul_acc(acc: &mut Self, a: &Self, w: &Self, offset: usize, din: usize, dout: usize, _thin_kernel: bool) {
        let n = a.len() / din.max(1);
        let w = &w.0[offset..offset + din * dout];
        f64_gemm_acc((&a.0, n, din, din, 1), (w, din, dout, 1, din), (&mut acc.0, n, dout, dout, 1));
    }
    /// `e (n x din) += delta (n x dout) W`.
    fn transposed_matmul_acc(e: &mut Self, delta: &Self, w: &Self, offset: usize, din: usize, dout: usize, _thin_kernel: bool) {
        let n = delta.len() / dout.max(1);
        let w = &w.0[offset..offset + din * dout];
        f64_gemm_acc((&delta.0, n, dout, dout, 1), (w, dout, din, din, 1), (&mut e.0, n, din, din, 1));
    }
    /// `grad (dout x din) += delta^T (dout x n) a (n x din)`.
    fn outer_acc(grad: &mut Self, offset: usize, delta: &Self, a: &Self, din: usize, dout: usize, _thin_kernel: bool) {
        let n = delta.len() / dout.max(1);
        let block = &mut grad.0[offset..offset + din * dout];
        f64_gemm_acc((&delta.0, dout, n, 1, dout), (&a.0, n, din, din, 1), (block, dout, din, din, 1));
    }
    fn column_sums_acc(grad: &mut Self, offset: usize, delta: &Self, dout: usize) {
        kernels::column_sums_acc(&mut grad.0[offset..offset + dout], &delta.0, dout)
    }
    fn add_bias(z: &mut Self, b: &Self, offset: usize, dout: usize) {
        kernels::add_bias(&mut z.0, &b.0[offset..offset + dout], dout)
    }
    fn scale_range(v: &mut Self, range: Range<usize>, c: f64) {
        v.0[range].iter_mut().for_each(|x| *x *= c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel products agree with the per-entry loops of `Vec<f64>` to rounding.
    #[test]
    fn layer_products_match_the_per_entry_loops() {
        let (n, din, dout) = (5, 7, 3);
        let value = |i: usize| ((i * 37 % 101) as f64 - 50.0) / 17.0;
        let a: Vec<f64> = (0..n * din).map(value).collect();
        let w: Vec<f64> = (0..2 + din * dout).map(|i| value(i + 3)).collect();
        let delta: Vec<f64> = (0..n * dout).map(|i| value(i + 11)).collect();
        let close = |x: &[f64], y: &[f64]| x.iter().zip(y).all(|(p, q)| (p - q).abs() <= 1e-12 * (1.0 + q.abs()));

        let mut acc = PointVec(vec![0.5; n * dout]);
        PointVec::matmul_acc(&mut acc, &PointVec(a.clone()), &PointVec(w.clone()), 2, din, dout, true);
        let mut expected = vec![0.5; n * dout];
        <Vec<f64> as CoeffVec>::matmul_acc(&mut expected, &a, &w, 2, din, dout, true);
        assert!(close(&acc.0, &expected));

        let mut e = PointVec(vec![0.25; n * din]);
        PointVec::transposed_matmul_acc(&mut e, &PointVec(delta.clone()), &PointVec(w.clone()), 2, din, dout, true);
        let mut expected = vec![0.25; n * din];
        <Vec<f64> as CoeffVec>::transposed_matmul_acc(&mut expected, &delta, &w, 2, din, dout, true);
        assert!(close(&e.0, &expected));

        let mut g = PointVec(vec![1.0; 2 + din * dout]);
        PointVec::outer_acc(&mut g, 2, &PointVec(delta.clone()), &PointVec(a.clone()), din, dout, true);
        let mut expected = vec![1.0; 2 + din * dout];
        <Vec<f64> as CoeffVec>::outer_acc(&mut expected, 2, &delta, &a, din, dout, true);
        assert!(close(&g.0, &expected));
    }
}
