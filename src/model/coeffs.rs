//! Vectors of Taylor coefficients: the number representation the network expansions are
//! generic over.
//!
//! A Taylor expansion handles whole vectors (one coefficient of every neuron and input, or of
//! every parameter) and only a few operations on them: elementwise sums and products with
//! constants, the Cauchy products of series, the order-0 elementary functions, and the layer
//! kernels (matrix products with parameter blocks). [`CoeffVec`] names these operations, so
//! that one implementation of the recurrences (`activation`, `mlp`, `quadratic`, `flow`) serves
//! every representation. `Vec<S>` for a [`Scalar`] `S` stores one number per entry (`f64` for
//! the plain simulation, intervals and balls with a radius per entry).
//!
//! Contract for enclosure types: every operation returns a vector whose entries contain the
//! exact results for every choice of real numbers in the operands' entries. Layouts are
//! row-major: a layer vector is `n x width` (input-major), a weight block `dout x din`.
//! Proof (the recurrences these operations implement, and why `Vec<S>` of an enclosure type
//! encloses): `proofs/taylor-recurrences.md`, sections 1, 3 and 5.
//!
//! `Vec<S>` and [`BallVec`](super::ball_vec::BallVec) (balls as separate midpoint and radius
//! arrays, for SIMD) implement it. A vector type with one radius per coefficient vector
//! (f64 midpoints, the radius bounded from norms per kernel) was tried and dropped: its bounds
//! lose a factor 2-4 per kernel against per-entry radii and the losses compound over the
//! orders (gf-mlp-small from a box of radius 1e-3: radius 4e16 at order 17, against 7e-8).

use crate::arith::scalar::Scalar;
use inari::Interval;
use std::fmt::Debug;
use std::ops::Range;

/// The order-0 elementary functions of the activation recurrences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elementary {
    Tanh,
    Sigmoid,
    Sin,
    Cos,
    Erf,
    Softplus,
    Exp,
}

impl Elementary {
    /// The function applied to a scalar (an enclosure for enclosure types).
    pub fn apply<S: Scalar>(self, x: S) -> S {
        match self {
            Elementary::Tanh => x.tanh(),
            Elementary::Sigmoid => x.sigmoid(),
            Elementary::Sin => x.sin(),
            Elementary::Cos => x.cos(),
            Elementary::Erf => x.erf(),
            Elementary::Softplus => x.softplus(),
            Elementary::Exp => x.exp(),
        }
    }
}

/// A vector of Taylor coefficients (see the module documentation for the contract).
pub trait CoeffVec: Clone + Debug + Send + Sync + 'static {
    /// The scalar type of single numbers: constants, and the entries seen one by one.
    type S: Scalar;

    fn zeros(len: usize) -> Self;
    /// Every entry `v`.
    fn filled(len: usize, v: Self::S) -> Self;
    fn from_scalars(v: &[Self::S]) -> Self;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The entries one by one (each contains the entry's exact value).
    fn to_scalars(&self) -> Vec<Self::S>;
    /// Enclosures of the entries.
    fn to_intervals(&self) -> Vec<Interval> {
        self.to_scalars().into_iter().map(Scalar::to_interval).collect()
    }
    /// An upper bound of every entry's magnitude.
    fn magnitude(&self) -> f64;
    /// A float near the middle of every entry (any float is allowed: callers use it as an
    /// exact point, never as an enclosure).
    fn midpoints(&self) -> Vec<f64> {
        self.to_intervals().iter().map(|x| if x.is_empty() { f64::NAN } else { x.mid() }).collect()
    }
    /// The exact floats `v` as a vector of (thin) entries.
    fn from_points(v: &[f64]) -> Self {
        Self::from_scalars(&v.iter().map(|&x| Self::S::exact(x)).collect::<Vec<_>>())
    }
    /// The concatenation of `parts`.
    fn concat(parts: &[Self]) -> Self;

    /// `f` of every entry.
    fn map(&self, f: Elementary) -> Self;
    /// `c * v`.
    fn scale(&self, c: Self::S) -> Self;
    /// `c + v`.
    fn add_scalar(&self, c: Self::S) -> Self;
    fn add(&self, other: &Self) -> Self;
    fn sub(&self, other: &Self) -> Self;
    fn neg(&self) -> Self;
    /// `self + other`, in place (the same enclosure as [`add`](Self::add)).
    fn add_in_place(&mut self, other: &Self) {
        *self = self.add(other);
    }
    /// `acc + x y` entrywise, in place (one fused multiply-add per entry where the type has
    /// one: an enclosure of the same real numbers as `acc + cauchy(0, [x], [y])`).
    fn mul_add_in_place(acc: &mut Self, x: &Self, y: &Self) {
        *acc = acc.add(&Self::cauchy(0, std::slice::from_ref(x), std::slice::from_ref(y)));
    }

    /// `sum_{j=0}^{k} a[j] b[k-j]` entrywise: coefficient `k` of the product of two series.
    fn cauchy(k: usize, a: &[Self], b: &[Self]) -> Self;
    /// `sum_{j=0}^{k} a[j] a[k-j]` entrywise: coefficient `k` of the square.
    fn cauchy_square(k: usize, a: &[Self]) -> Self;
    /// `sum_{j=1}^{k} j a[j] b[k-j] / k` entrywise (`k >= 1`): coefficient `k` of `y` when
    /// `y' = b a'`.
    fn ode(k: usize, a: &[Self], b: &[Self]) -> Self;

    /// `acc[i, o] += sum_m a[i, m] w[offset + o din + m]` (`acc`: `n x dout`, `a`: `n x din`).
    ///
    /// `thin_kernel` (this and the next two products): whether products of thin operands (radii
    /// that are mostly rounding) may also go through the matrix-multiply kernel, whose rounding
    /// bound is wider (`model::ball_vec::uses_gemm`). Width and cost only: both are enclosures.
    fn matmul_acc(acc: &mut Self, a: &Self, w: &Self, offset: usize, din: usize, dout: usize, thin_kernel: bool);
    /// `e[i, m] += sum_o delta[i, o] w[offset + o din + m]` (`e`: `n x din`, `delta`: `n x dout`).
    fn transposed_matmul_acc(e: &mut Self, delta: &Self, w: &Self, offset: usize, din: usize, dout: usize, thin_kernel: bool);
    /// `grad[offset + o din + m] += sum_i delta[i, o] a[i, m]`.
    fn outer_acc(grad: &mut Self, offset: usize, delta: &Self, a: &Self, din: usize, dout: usize, thin_kernel: bool);
    /// `grad[offset + o] += sum_i delta[i, o]`.
    fn column_sums_acc(grad: &mut Self, offset: usize, delta: &Self, dout: usize);
    /// `z[i, o] += b[offset + o]` (`z`: `n x dout`).
    fn add_bias(z: &mut Self, b: &Self, offset: usize, dout: usize);
    /// `v[range] *= c`.
    fn scale_range(v: &mut Self, range: Range<usize>, c: Self::S);
}

impl<S: Scalar> CoeffVec for Vec<S> {
    type S = S;

    fn zeros(len: usize) -> Self {
        vec![S::zero(); len]
    }
    fn filled(len: usize, v: S) -> Self {
        vec![v; len]
    }
    fn from_scalars(v: &[S]) -> Self {
        v.to_vec()
    }
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn to_scalars(&self) -> Vec<S> {
        self.clone()
    }
    fn magnitude(&self) -> f64 {
        self.iter().map(|x| x.magnitude()).fold(0.0, f64::max)
    }
    fn concat(parts: &[Self]) -> Self {
        parts.concat()
    }

    fn map(&self, f: Elementary) -> Self {
        self.iter().map(|&x| f.apply(x)).collect()
    }
    fn scale(&self, c: S) -> Self {
        self.iter().map(|&x| c * x).collect()
    }
    fn add_scalar(&self, c: S) -> Self {
        self.iter().map(|&x| c + x).collect()
    }
    fn add(&self, other: &Self) -> Self {
        self.iter().zip(other).map(|(&x, &y)| x + y).collect()
    }
    fn sub(&self, other: &Self) -> Self {
        self.iter().zip(other).map(|(&x, &y)| x - y).collect()
    }
    fn neg(&self) -> Self {
        self.iter().map(|&x| -x).collect()
    }
    fn add_in_place(&mut self, other: &Self) {
        self.iter_mut().zip(other).for_each(|(x, &y)| *x += y);
    }
    fn mul_add_in_place(acc: &mut Self, x: &Self, y: &Self) {
        for ((out, &x), &y) in acc.iter_mut().zip(x).zip(y) {
            *out = x.mul_add(y, *out);
        }
    }

    fn cauchy(k: usize, a: &[Self], b: &[Self]) -> Self {
        kernels::cauchy(k, |j| &a[j], |j| &b[j])
    }
    fn cauchy_square(k: usize, a: &[Self]) -> Self {
        kernels::cauchy_square(k, |j| &a[j])
    }
    fn ode(k: usize, a: &[Self], b: &[Self]) -> Self {
        kernels::ode(k, |j| &a[j], |j| &b[j])
    }

    fn matmul_acc(acc: &mut Self, a: &Self, w: &Self, offset: usize, din: usize, dout: usize, _thin_kernel: bool) {
        kernels::matmul_acc(acc, a, &w[offset..offset + din * dout], din, dout)
    }
    fn transposed_matmul_acc(e: &mut Self, delta: &Self, w: &Self, offset: usize, din: usize, dout: usize, _thin_kernel: bool) {
        kernels::transposed_matmul_acc(e, delta, &w[offset..offset + din * dout], din, dout)
    }
    fn outer_acc(grad: &mut Self, offset: usize, delta: &Self, a: &Self, din: usize, dout: usize, _thin_kernel: bool) {
        kernels::outer_acc(&mut grad[offset..offset + din * dout], delta, a, din, dout)
    }
    fn column_sums_acc(grad: &mut Self, offset: usize, delta: &Self, dout: usize) {
        kernels::column_sums_acc(&mut grad[offset..offset + dout], delta, dout)
    }
    fn add_bias(z: &mut Self, b: &Self, offset: usize, dout: usize) {
        kernels::add_bias(z, &b[offset..offset + dout], dout)
    }
    fn scale_range(v: &mut Self, range: Range<usize>, c: S) {
        for x in &mut v[range] {
            *x = c * *x;
        }
    }
}

/// The loops over entries of `Vec<S>` (one number per entry). [`BallVec`](super::ball_vec::BallVec)
/// repeats their order of operations entry by entry. Coefficient `j` of a series is `a(j)`.
pub mod kernels {
    use crate::arith::scalar::Scalar;

    /// `sum_{j=0}^{k} a(j) b(k-j)` entrywise, one fused multiply-add per term, in order of `j`.
    pub fn cauchy<'a, S: Scalar>(k: usize, a: impl Fn(usize) -> &'a [S], b: impl Fn(usize) -> &'a [S]) -> Vec<S> {
        let n = a(k).len();
        let mut acc = vec![S::zero(); n];
        for j in 0..=k {
            for ((out, &x), &y) in acc.iter_mut().zip(&a(j)[..n]).zip(&b(k - j)[..n]) {
                *out = x.mul_add(y, *out);
            }
        }
        acc
    }

    /// `sum_{j=0}^{k} a(j) a(k-j)` as `2 sum_{j < k-j} a(j) a(k-j) + [k even] a(k/2)^2` (the
    /// same real number; about half the multiplications of [`cauchy`]; for intervals an
    /// enclosure as wide as the plain product up to rounding, since the factor 2 is exact).
    pub fn cauchy_square<'a, S: Scalar>(k: usize, a: impl Fn(usize) -> &'a [S]) -> Vec<S> {
        let n = a(k).len();
        let mut acc = vec![S::zero(); n];
        for j in 0..k.div_ceil(2) {
            for ((out, &x), &y) in acc.iter_mut().zip(&a(j)[..n]).zip(&a(k - j)[..n]) {
                *out = x.mul_add(y, *out);
            }
        }
        let two = S::exact(2.0);
        acc.iter_mut().for_each(|v| *v = two * *v);
        if k.is_multiple_of(2) {
            for (out, &x) in acc.iter_mut().zip(&a(k / 2)[..n]) {
                *out = x.mul_add(x, *out);
            }
        }
        acc
    }

    /// `(sum_{j=1}^{k} (j a(j)) b(k-j)) * (1/k)` entrywise: the product `j a(j)` first, then
    /// one fused multiply-add per term; the quotient by `k` as a product with `1/k`.
    pub fn ode<'a, S: Scalar>(k: usize, a: impl Fn(usize) -> &'a [S], b: impl Fn(usize) -> &'a [S]) -> Vec<S> {
        let n = a(k).len();
        let mut acc = vec![S::zero(); n];
        for j in 1..=k {
            let jf = S::exact(j as f64);
            for ((out, &x), &y) in acc.iter_mut().zip(&a(j)[..n]).zip(&b(k - j)[..n]) {
                *out = (jf * x).mul_add(y, *out);
            }
        }
        let inv_k = S::one() / S::exact(k as f64);
        acc.iter_mut().for_each(|v| *v = *v * inv_k);
        acc
    }

    /// `acc[i, o] = dot(acc[i, o]; a[i, :], w[o, :])` with [`Scalar::dot`] (`w`: `dout x din`).
    pub fn matmul_acc<S: Scalar>(acc: &mut [S], a: &[S], w: &[S], din: usize, dout: usize) {
        for (arow, zrow) in a.chunks_exact(din).zip(acc.chunks_exact_mut(dout)) {
            for (z, wrow) in zrow.iter_mut().zip(w.chunks_exact(din)) {
                *z = S::dot(*z, arow, wrow);
            }
        }
    }

    /// `e[i, m] += delta[i, o] w[o, m]` for `o = 0, 1, ...` in turn (fused multiply-adds).
    pub fn transposed_matmul_acc<S: Scalar>(e: &mut [S], delta: &[S], w: &[S], din: usize, dout: usize) {
        for (erow, drow) in e.chunks_exact_mut(din).zip(delta.chunks_exact(dout)) {
            for (&dv, wrow) in drow.iter().zip(w.chunks_exact(din)) {
                for (ev, &wv) in erow.iter_mut().zip(wrow) {
                    *ev = dv.mul_add(wv, *ev);
                }
            }
        }
    }

    /// `g[o, m] += delta[i, o] a[i, m]` for `i = 0, 1, ...` in turn (fused multiply-adds).
    pub fn outer_acc<S: Scalar>(g: &mut [S], delta: &[S], a: &[S], din: usize, dout: usize) {
        for (arow, drow) in a.chunks_exact(din).zip(delta.chunks_exact(dout)) {
            for (&dv, grow) in drow.iter().zip(g.chunks_exact_mut(din)) {
                for (gv, &av) in grow.iter_mut().zip(arow) {
                    *gv = dv.mul_add(av, *gv);
                }
            }
        }
    }

    /// `g[o] += delta[i, o]` for `i = 0, 1, ...` in turn.
    pub fn column_sums_acc<S: Scalar>(g: &mut [S], delta: &[S], dout: usize) {
        for drow in delta.chunks_exact(dout) {
            for (gv, &d) in g.iter_mut().zip(drow) {
                *gv += d;
            }
        }
    }

    /// `z[i, o] += b[o]`.
    pub fn add_bias<S: Scalar>(z: &mut [S], b: &[S], dout: usize) {
        for zrow in z.chunks_exact_mut(dout) {
            for (zv, &bv) in zrow.iter_mut().zip(b) {
                *zv += bv;
            }
        }
    }
}
