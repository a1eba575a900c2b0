//! [`BallVec`]: a vector of balls stored as two arrays, the midpoints and the radii.
//!
//! It represents exactly what `Vec<Ball>` represents, and every operation computes each entry
//! with the same [`Ball`] operations in the same order, so the results are identical bit for
//! bit (a test asserts this). Only the memory layout differs: with midpoints and radii in
//! separate arrays, the elementwise loops of the expansion (Cauchy products, the outer and
//! transposed layer products) compile to 4-wide SIMD instructions, where the interleaved
//! layout of `Vec<Ball>` runs one ball at a time. Soundness is therefore that of [`Ball`]
//! (`proofs/fast-interval.md`, section "Balls", paragraph "Layout") and of the recurrences
//! (`proofs/taylor-recurrences.md`).

use super::coeffs::{CoeffVec, Elementary};
use crate::arith::ball::Ball;
use crate::arith::gemm::{ball_gemm_acc, BallMatrix, BallMatrixMut};
use crate::arith::scalar::Scalar;
use std::ops::Range;

/// Entry `i` is the ball `mid[i] +- rad[i]`; both arrays have the same length.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BallVec {
    pub mid: Vec<f64>,
    pub rad: Vec<f64>,
}

impl BallVec {
    /// Entry `i`.
    #[inline(always)]
    pub fn get(&self, i: usize) -> Ball {
        Ball { mid: self.mid[i], rad: self.rad[i] }
    }

    /// `f` of every entry, in place.
    #[inline(always)]
    fn update(&mut self, f: impl Fn(Ball) -> Ball) {
        update(&mut self.mid, &mut self.rad, f)
    }

    /// `f` of every entry, as a new vector.
    #[inline(always)]
    fn map_balls(&self, f: impl Fn(Ball) -> Ball) -> BallVec {
        let mut out = self.clone();
        out.update(f);
        out
    }

    /// `f(entry, other's entry)` for every entry, as a new vector (common length).
    #[inline(always)]
    fn zip_balls(&self, other: &BallVec, f: impl Fn(Ball, Ball) -> Ball) -> BallVec {
        let n = self.len().min(other.len());
        let mut out = BallVec { mid: self.mid[..n].to_vec(), rad: self.rad[..n].to_vec() };
        accumulate(&mut out.mid, &mut out.rad, &other.mid, &other.rad, |y, x| f(x, y));
        out
    }
}

/// `v[i] = f(v[i])` for the vector given by its two arrays.
#[inline(always)]
fn update(mid: &mut [f64], rad: &mut [f64], f: impl Fn(Ball) -> Ball) {
    for (m, r) in mid.iter_mut().zip(rad) {
        let b = f(Ball { mid: *m, rad: *r });
        (*m, *r) = (b.mid, b.rad);
    }
}

/// `out[i] = f(x[i], out[i])` over the common length of the three slice pairs: the loop body
/// every accumulating kernel reduces to (one contiguous stream per array, so it vectorises).
#[inline(always)]
fn accumulate(out_mid: &mut [f64], out_rad: &mut [f64], x_mid: &[f64], x_rad: &[f64], f: impl Fn(Ball, Ball) -> Ball) {
    let n = out_mid.len().min(out_rad.len()).min(x_mid.len()).min(x_rad.len());
    let outs = out_mid[..n].iter_mut().zip(&mut out_rad[..n]);
    let xs = x_mid[..n].iter().zip(&x_rad[..n]);
    for ((om, or), (&xm, &xr)) in outs.zip(xs) {
        let b = f(Ball { mid: xm, rad: xr }, Ball { mid: *om, rad: *or });
        (*om, *or) = (b.mid, b.rad);
    }
}

/// `out[i] = f(x[i], y[i], out[i])` over the common length: the Cauchy-product loop body.
#[inline(always)]
fn combine_into(out: &mut BallVec, x: &BallVec, y: &BallVec, f: impl Fn(Ball, Ball, Ball) -> Ball) {
    let n = out.len().min(x.len()).min(y.len());
    let outs = out.mid[..n].iter_mut().zip(&mut out.rad[..n]);
    let xs = x.mid[..n].iter().zip(&x.rad[..n]);
    let ys = y.mid[..n].iter().zip(&y.rad[..n]);
    for (((om, or), (&xm, &xr)), (&ym, &yr)) in outs.zip(xs).zip(ys) {
        let b = f(Ball { mid: xm, rad: xr }, Ball { mid: ym, rad: yr }, Ball { mid: *om, rad: *or });
        (*om, *or) = (b.mid, b.rad);
    }
}

/// Entry `i` of the ball vector given by its two arrays.
#[inline(always)]
fn entry((mid, rad): (&[f64], &[f64]), i: usize) -> Ball {
    Ball { mid: mid[i], rad: rad[i] }
}

/// [`Ball::dot`] of `acc` and two vectors given by their arrays, with the same operations in
/// the same order (sequential below 8 terms, else the four lanes of
/// [`dot_four_way`](crate::arith::scalar::dot_four_way)).
#[inline(always)]
fn dot(acc: Ball, x: (&[f64], &[f64]), y: (&[f64], &[f64])) -> Ball {
    let len = x.0.len().min(x.1.len()).min(y.0.len()).min(y.1.len());
    if len < 8 {
        return (0..len).fold(acc, |a, t| entry(x, t).mul_add(entry(y, t), a));
    }
    // The four lanes as separate midpoint and radius arrays, so that a chunk is one SIMD
    // operation per array.
    let (mut mids, mut rads) = ([acc.mid, 0.0, 0.0, 0.0], [acc.rad, 0.0, 0.0, 0.0]);
    let full = len - len % 4;
    let xs = x.0[..full].chunks_exact(4).zip(x.1[..full].chunks_exact(4));
    let ys = y.0[..full].chunks_exact(4).zip(y.1[..full].chunks_exact(4));
    for ((xm, xr), (ym, yr)) in xs.zip(ys) {
        for lane in 0..4 {
            let part = Ball { mid: mids[lane], rad: rads[lane] };
            let b = Ball { mid: xm[lane], rad: xr[lane] }.mul_add(Ball { mid: ym[lane], rad: yr[lane] }, part);
            (mids[lane], rads[lane]) = (b.mid, b.rad);
        }
    }
    let mut parts = [0, 1, 2, 3].map(|lane| Ball { mid: mids[lane], rad: rads[lane] });
    for t in full..len {
        parts[0] = entry(x, t).mul_add(entry(y, t), parts[0]);
    }
    (parts[0] + parts[1]) + (parts[2] + parts[3])
}

/// The rows of length `width` of a vector, as pairs of midpoint and radius slices.
fn rows(v: &BallVec, width: usize) -> impl Iterator<Item = (&[f64], &[f64])> {
    v.mid.chunks_exact(width).zip(v.rad.chunks_exact(width))
}

/// The same, mutable.
fn rows_mut(v: &mut BallVec, width: usize) -> impl Iterator<Item = (&mut [f64], &mut [f64])> {
    v.mid.chunks_exact_mut(width).zip(v.rad.chunks_exact_mut(width))
}

/// The transpose (`cols x rows`) of a `rows x cols` row-major matrix given by its arrays.
fn transpose((mid, rad): (&[f64], &[f64]), rows: usize, cols: usize) -> BallVec {
    let mut t = BallVec::zeros(rows * cols);
    for r in 0..rows {
        for c in 0..cols {
            t.mid[c * rows + r] = mid[r * cols + c];
            t.rad[c * rows + r] = rad[r * cols + c];
        }
    }
    t
}

/// `acc[i, o] = dot(acc[i, o]; a[i, :], w[o, :])` with, for every entry, the operations of
/// [`Ball::dot`] in its order, but with the entries of a row side by side: `w` is transposed,
/// and each lane of the dot is a vector over the outputs (lane 0 is the row of `acc` itself).
fn matmul_by_columns(acc: &mut BallVec, a: &BallVec, w: (&[f64], &[f64]), din: usize, dout: usize) {
    let wt = transpose(w, dout, din);
    // Ball::dot: one sequential lane below 8 terms, else four lanes over the first multiple
    // of 4 terms, the rest in lane 0, and the lanes summed as (0 + 1) + (2 + 3).
    let (lanes, full) = if din < 8 { (1, din) } else { (4, din - din % 4) };
    let mut extra: Vec<BallVec> = (1..lanes).map(|_| BallVec::zeros(dout)).collect();
    for (arow, (zm, zr)) in rows(a, din).zip(rows_mut(acc, dout)) {
        for lane in &mut extra {
            lane.mid.fill(0.0);
            lane.rad.fill(0.0);
        }
        for (m, (wm, wr)) in rows(&wt, dout).enumerate() {
            let av = entry(arow, m);
            let lane = if m < full { m % lanes } else { 0 };
            let term = |wv: Ball, part: Ball| av.mul_add(wv, part);
            match lane {
                0 => accumulate(zm, zr, wm, wr, term),
                l => {
                    let part = &mut extra[l - 1];
                    accumulate(&mut part.mid, &mut part.rad, wm, wr, term)
                }
            }
        }
        if lanes == 4 {
            let (l1, l2, l3) = (&extra[0], &extra[1], &extra[2]);
            for o in 0..dout {
                let z = (Ball { mid: zm[o], rad: zr[o] } + l1.get(o)) + (l2.get(o) + l3.get(o));
                (zm[o], zr[o]) = (z.mid, z.rad);
            }
        }
    }
}

/// Layer products with at least this many multiply-adds (`rows din dout`) may go through the
/// matrix-multiply kernel (`arith::gemm`); smaller ones keep the per-entry ball loops.
const GEMM_MIN_WORK: usize = 1 << 15;
/// ... and, unless the caller allows thin operands (`thin_kernel`), only when an operand's radii
/// are at least this fraction of its magnitudes. The kernel's rounding bound `gamma_k |a| |b|` is
/// up to `sqrt(k)` times the per-entry loops' (which bound each rounding by its own partial
/// sum): negligible beside radii propagated from a wide operand (the step's tube: relative
/// spreads 1e-8 to 1e-3), but on thin data (the point path's order 0, where the radii are the
/// rounding) it is the enclosure's width. Measured on deep-tanh-w128: the kernel at every order
/// made the field's order-0 radius 7x larger (1.0e-10 against 1.5e-11) and the certified sup D
/// 6x wider (1.7e-2 against 2.9e-3 relative); at orders >= 1 only it costs no width.
const GEMM_MIN_SPREAD: f64 = 1.0 / 1_073_741_824.0; // 2^-30

/// Whether a product of the operands `x` (`rows x din` or the transposed layout) and `y` goes
/// through the matrix-multiply kernel (cost and width only: both paths are enclosures).
fn uses_gemm(rows: usize, din: usize, dout: usize, x: (&[f64], &[f64]), y: (&[f64], &[f64]), thin_kernel: bool) -> bool {
    let large = rows.saturating_mul(din).saturating_mul(dout) >= GEMM_MIN_WORK && rows >= 4 && din >= 4 && dout >= 4;
    let spread = |(mid, rad): (&[f64], &[f64])| {
        let size = mid.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let width = rad.iter().fold(0.0f64, |m, v| m.max(*v));
        width >= GEMM_MIN_SPREAD * size
    };
    large && (thin_kernel || spread(x) || spread(y))
}

impl CoeffVec for BallVec {
    type S = Ball;

    fn zeros(len: usize) -> Self {
        BallVec { mid: vec![0.0; len], rad: vec![0.0; len] }
    }
    fn filled(len: usize, v: Ball) -> Self {
        BallVec { mid: vec![v.mid; len], rad: vec![v.rad; len] }
    }
    fn from_scalars(v: &[Ball]) -> Self {
        BallVec { mid: v.iter().map(|b| b.mid).collect(), rad: v.iter().map(|b| b.rad).collect() }
    }
    fn len(&self) -> usize {
        self.mid.len()
    }
    fn to_scalars(&self) -> Vec<Ball> {
        (0..self.len()).map(|i| self.get(i)).collect()
    }
    fn midpoints(&self) -> Vec<f64> {
        self.mid.clone()
    }
    fn from_points(v: &[f64]) -> Self {
        BallVec { mid: v.to_vec(), rad: vec![0.0; v.len()] }
    }
    fn magnitude(&self) -> f64 {
        (0..self.len()).map(|i| self.get(i).magnitude()).fold(0.0, f64::max)
    }
    fn concat(parts: &[Self]) -> Self {
        BallVec {
            mid: parts.iter().flat_map(|p| p.mid.iter().copied()).collect(),
            rad: parts.iter().flat_map(|p| p.rad.iter().copied()).collect(),
        }
    }

    fn map(&self, f: Elementary) -> Self {
        if f == Elementary::Tanh {
            // tanh at all midpoints at once (`elementary::tanh_points`: the same enclosures).
            let at_mid = crate::arith::elementary::tanh_points(&self.mid);
            return BallVec::from_scalars(&(0..self.len()).map(|i| self.get(i).tanh_around(at_mid[i])).collect::<Vec<_>>());
        }
        // Elementary functions go through endpoint intervals one entry at a time anyway.
        BallVec::from_scalars(&self.to_scalars().into_iter().map(|x| f.apply(x)).collect::<Vec<_>>())
    }
    fn scale(&self, c: Ball) -> Self {
        self.map_balls(|x| c * x)
    }
    fn add_scalar(&self, c: Ball) -> Self {
        self.map_balls(|x| c + x)
    }
    fn add(&self, other: &Self) -> Self {
        self.zip_balls(other, |x, y| x + y)
    }
    fn sub(&self, other: &Self) -> Self {
        self.zip_balls(other, |x, y| x - y)
    }
    fn neg(&self) -> Self {
        BallVec { mid: self.mid.iter().map(|m| -m).collect(), rad: self.rad.clone() }
    }
    fn add_in_place(&mut self, other: &Self) {
        accumulate(&mut self.mid, &mut self.rad, &other.mid, &other.rad, |y, x| x + y);
    }
    fn mul_add_in_place(acc: &mut Self, x: &Self, y: &Self) {
        combine_into(acc, x, y, |x, y, out| x.mul_add(y, out));
    }

    /// As `kernels::cauchy`: one `mul_add` per term, in order of `j`.
    fn cauchy(k: usize, a: &[Self], b: &[Self]) -> Self {
        let mut acc = BallVec::zeros(a[k].len());
        for j in 0..=k {
            combine_into(&mut acc, &a[j], &b[k - j], |x, y, out| x.mul_add(y, out));
        }
        acc
    }
    /// As `kernels::cauchy_square`.
    fn cauchy_square(k: usize, a: &[Self]) -> Self {
        let mut acc = BallVec::zeros(a[k].len());
        for j in 0..k.div_ceil(2) {
            combine_into(&mut acc, &a[j], &a[k - j], |x, y, out| x.mul_add(y, out));
        }
        let two = Ball::point(2.0);
        acc.update(|v| two * v);
        if k.is_multiple_of(2) {
            let half = &a[k / 2];
            combine_into(&mut acc, half, half, |x, y, out| x.mul_add(y, out));
        }
        acc
    }
    /// As `kernels::ode`: `(j a[j]) b[k-j]` accumulated, then the product with `1/k`.
    fn ode(k: usize, a: &[Self], b: &[Self]) -> Self {
        let mut acc = BallVec::zeros(a[k].len());
        for j in 1..=k {
            let jf = Ball::point(j as f64);
            combine_into(&mut acc, &a[j], &b[k - j], |x, y, out| (jf * x).mul_add(y, out));
        }
        let inv_k = Ball::one() / Ball::point(k as f64);
        acc.update(|v| v * inv_k);
        acc
    }

    /// As `kernels::matmul_acc`: per output entry the operations of one [`Ball::dot`]. With
    /// four or more outputs, the entries of a row are computed side by side (see
    /// `matmul_by_columns`).
    fn matmul_acc(acc: &mut Self, a: &Self, w: &Self, offset: usize, din: usize, dout: usize, thin_kernel: bool) {
        let w = (&w.mid[offset..offset + din * dout], &w.rad[offset..offset + din * dout]);
        let n = a.len() / din.max(1);
        if uses_gemm(n, din, dout, (&a.mid, &a.rad), w, thin_kernel) {
            // acc (rows x dout) += a (rows x din) W^T (W is dout x din, row-major).
            let a = BallMatrix { mid: &a.mid, rad: &a.rad, rows: n, cols: din, rs: din, cs: 1 };
            let wt = BallMatrix { mid: w.0, rad: w.1, rows: din, cols: dout, rs: 1, cs: din };
            let acc = BallMatrixMut { mid: &mut acc.mid, rad: &mut acc.rad, rows: n, cols: dout, rs: dout, cs: 1 };
            return ball_gemm_acc(a, wt, acc);
        }
        if dout >= 4 {
            return matmul_by_columns(acc, a, w, din, dout);
        }
        for (arow, (zm, zr)) in rows(a, din).zip(rows_mut(acc, dout)) {
            let wrows = w.0.chunks_exact(din).zip(w.1.chunks_exact(din));
            for ((zm, zr), wrow) in zm.iter_mut().zip(zr.iter_mut()).zip(wrows) {
                let z = dot(Ball { mid: *zm, rad: *zr }, arow, wrow);
                (*zm, *zr) = (z.mid, z.rad);
            }
        }
    }
    /// As `kernels::transposed_matmul_acc`: `e[i, m] = delta[i, o] w[o, m] + e[i, m]` for
    /// `o = 0, 1, ...` in turn.
    fn transposed_matmul_acc(e: &mut Self, delta: &Self, w: &Self, offset: usize, din: usize, dout: usize, thin_kernel: bool) {
        let w = (&w.mid[offset..offset + din * dout], &w.rad[offset..offset + din * dout]);
        let n = delta.len() / dout.max(1);
        if uses_gemm(n, din, dout, (&delta.mid, &delta.rad), w, thin_kernel) {
            // e (rows x din) += delta (rows x dout) W (dout x din, row-major).
            let delta = BallMatrix { mid: &delta.mid, rad: &delta.rad, rows: n, cols: dout, rs: dout, cs: 1 };
            let w = BallMatrix { mid: w.0, rad: w.1, rows: dout, cols: din, rs: din, cs: 1 };
            let e = BallMatrixMut { mid: &mut e.mid, rad: &mut e.rad, rows: n, cols: din, rs: din, cs: 1 };
            return ball_gemm_acc(delta, w, e);
        }
        for ((em, er), drow) in rows_mut(e, din).zip(rows(delta, dout)) {
            for (o, (wm, wr)) in w.0.chunks_exact(din).zip(w.1.chunks_exact(din)).enumerate() {
                let dv = entry(drow, o);
                accumulate(em, er, wm, wr, |wv, ev| dv.mul_add(wv, ev));
            }
        }
    }
    /// As `kernels::outer_acc`: `g[o, m] = delta[i, o] a[i, m] + g[o, m]` for `i = 0, 1, ...`.
    /// With short rows (`din < 8`, as many outputs or more) the block is transposed, so that
    /// the loop runs over the outputs; every entry sees the same operations in the same order.
    fn outer_acc(grad: &mut Self, offset: usize, delta: &Self, a: &Self, din: usize, dout: usize, thin_kernel: bool) {
        let block = offset..offset + din * dout;
        let n = delta.len() / dout.max(1);
        if uses_gemm(n, din, dout, (&delta.mid, &delta.rad), (&a.mid, &a.rad), thin_kernel) {
            // grad (dout x din, row-major) += delta^T (dout x rows) a (rows x din).
            let delta_t = BallMatrix { mid: &delta.mid, rad: &delta.rad, rows: dout, cols: n, rs: 1, cs: dout };
            let a = BallMatrix { mid: &a.mid, rad: &a.rad, rows: n, cols: din, rs: din, cs: 1 };
            let grad = BallMatrixMut { mid: &mut grad.mid[block.clone()], rad: &mut grad.rad[block], rows: dout, cols: din, rs: din, cs: 1 };
            return ball_gemm_acc(delta_t, a, grad);
        }
        if din < 8 && dout >= din {
            let mut gt = transpose((&grad.mid[block.clone()], &grad.rad[block.clone()]), dout, din);
            for ((am, ar), drow) in rows(a, din).zip(rows(delta, dout)) {
                for (m, (gm, gr)) in rows_mut(&mut gt, dout).enumerate() {
                    let av = entry((am, ar), m);
                    accumulate(gm, gr, drow.0, drow.1, |dv, gv| dv.mul_add(av, gv));
                }
            }
            let g = transpose((&gt.mid, &gt.rad), din, dout);
            grad.mid[block.clone()].copy_from_slice(&g.mid);
            grad.rad[block].copy_from_slice(&g.rad);
            return;
        }
        let (gm, gr) = (&mut grad.mid[block.clone()], &mut grad.rad[block]);
        for ((am, ar), drow) in rows(a, din).zip(rows(delta, dout)) {
            for (o, (gm, gr)) in gm.chunks_exact_mut(din).zip(gr.chunks_exact_mut(din)).enumerate() {
                let dv = entry(drow, o);
                accumulate(gm, gr, am, ar, |av, gv| dv.mul_add(av, gv));
            }
        }
    }
    /// As `kernels::column_sums_acc`.
    fn column_sums_acc(grad: &mut Self, offset: usize, delta: &Self, dout: usize) {
        let (gm, gr) = (&mut grad.mid[offset..offset + dout], &mut grad.rad[offset..offset + dout]);
        for (dm, dr) in rows(delta, dout) {
            accumulate(gm, gr, dm, dr, |dv, gv| gv + dv);
        }
    }
    /// As `kernels::add_bias`.
    fn add_bias(z: &mut Self, b: &Self, offset: usize, dout: usize) {
        let (bm, br) = (&b.mid[offset..offset + dout], &b.rad[offset..offset + dout]);
        for (zm, zr) in rows_mut(z, dout) {
            accumulate(zm, zr, bm, br, |bv, zv| zv + bv);
        }
    }
    fn scale_range(v: &mut Self, range: Range<usize>, c: Ball) {
        update(&mut v.mid[range.clone()], &mut v.rad[range], |x| c * x);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ball() -> impl Strategy<Value = Ball> {
        (-4.0..4.0f64, prop_oneof![Just(0.0), 0.0..1e-9f64]).prop_map(|(mid, rad)| Ball { mid, rad })
    }

    /// `count` series coefficients of length `len`, as both representations.
    fn series(count: usize, len: usize) -> impl Strategy<Value = Vec<Vec<Ball>>> {
        proptest::collection::vec(proptest::collection::vec(ball(), len), count)
    }

    fn soa(v: &[Vec<Ball>]) -> Vec<BallVec> {
        v.iter().map(|c| BallVec::from_scalars(c)).collect()
    }

    proptest! {
        /// Every kernel gives the balls of `Vec<Ball>`'s kernel, bit for bit.
        #[test]
        fn kernels_match_vec_of_balls(
            (din, dout, rows) in (1usize..14, 1usize..12, 1usize..4),
            k in 0usize..5,
            a in series(5, 200),
            b in series(5, 200),
            c in ball(),
        ) {
            let bits = |v: &[Ball]| v.iter().map(|b| (b.mid.to_bits(), b.rad.to_bits())).collect::<Vec<_>>();
            let same = |x: &BallVec, y: &Vec<Ball>| -> Result<(), TestCaseError> {
                prop_assert_eq!(bits(&x.to_scalars()), bits(y));
                Ok(())
            };
            let (sa, sb) = (soa(&a), soa(&b));
            same(&BallVec::cauchy(k, &sa, &sb), &Vec::cauchy(k, &a, &b))?;
            same(&BallVec::cauchy_square(k, &sa), &Vec::cauchy_square(k, &a))?;
            if k >= 1 {
                same(&BallVec::ode(k, &sa, &sb), &Vec::ode(k, &a, &b))?;
            }
            same(&sa[0].scale(c), &a[0].scale(c))?;
            same(&sa[0].add_scalar(c), &a[0].add_scalar(c))?;
            same(&sa[0].add(&sb[1]), &a[0].add(&b[1]))?;
            same(&sa[0].sub(&sb[1]), &a[0].sub(&b[1]))?;
            same(&sa[0].neg(), &a[0].neg())?;
            same(&sa[2].map(Elementary::Tanh), &a[2].map(Elementary::Tanh))?;
            prop_assert_eq!(sa[3].magnitude(), a[3].magnitude());

            // Layer kernels on `rows x din` inputs, `dout x din` weights at offset 3.
            let input = |v: &Vec<Ball>, len: usize| v[..len].to_vec();
            let (x, w) = (input(&a[0], rows * din), input(&b[0], 3 + dout * din));
            let (delta, grad) = (input(&a[1], rows * dout), input(&b[1], w.len()));
            let (sx, sw, sdelta) = (BallVec::from_scalars(&x), BallVec::from_scalars(&w), BallVec::from_scalars(&delta));

            let mut z = input(&a[2], rows * dout);
            let mut sz = BallVec::from_scalars(&z);
            Vec::matmul_acc(&mut z, &x, &w, 3, din, dout, false);
            BallVec::matmul_acc(&mut sz, &sx, &sw, 3, din, dout, false);
            same(&sz, &z)?;
            Vec::add_bias(&mut z, &w, 3, dout);
            BallVec::add_bias(&mut sz, &sw, 3, dout);
            same(&sz, &z)?;

            let mut e = input(&a[3], rows * din);
            let mut se = BallVec::from_scalars(&e);
            Vec::transposed_matmul_acc(&mut e, &delta, &w, 3, din, dout, false);
            BallVec::transposed_matmul_acc(&mut se, &sdelta, &sw, 3, din, dout, false);
            same(&se, &e)?;

            let mut g = grad.clone();
            let mut sg = BallVec::from_scalars(&grad);
            Vec::outer_acc(&mut g, 3, &delta, &x, din, dout, false);
            BallVec::outer_acc(&mut sg, 3, &sdelta, &sx, din, dout, false);
            Vec::column_sums_acc(&mut g, 0, &delta, dout);
            BallVec::column_sums_acc(&mut sg, 0, &sdelta, dout);
            Vec::scale_range(&mut g, 1..w.len(), c);
            BallVec::scale_range(&mut sg, 1..w.len(), c);
            same(&sg, &g)?;
        }
    }

    /// Whole expansions of the gradient flow agree bit for bit with `Vec<Ball>`'s: erf, sin and
    /// gelu layers with biases (products below the matrix-multiply kernel's size). On the mid
    /// benchmark (tanh, split into parallel chunks on a multi-core machine) the layer products
    /// from a wide box go through the kernel (`uses_gemm`): there the balls must overlap
    /// (both contain the exact coefficients) and have about the same radii. From a box of
    /// radius 1e-6 around `w0`.
    #[test]
    fn flow_expansions_match_vec_of_balls() {
        use crate::model::flow::GradientFlow;
        let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        for spec in ["specs/examples/mlp-inline.toml", "tests/data/check/sin-gelu.toml", "specs/bench/gf-mlp-mid.toml"] {
            let problem = crate::spec::load(&root.join(spec)).expect("shipped spec").problem;
            let start: Vec<Ball> = problem.params0.iter().map(|v| Ball { mid: v.mid(), rad: 1e-6 }).collect();
            let plain = GradientFlow::<Vec<Ball>>::new(&problem, None).expand(&start, 12);
            let split = GradientFlow::<BallVec>::new(&problem, None).expand(&BallVec::from_scalars(&start), 12);
            let bits = |v: &[Ball]| v.iter().map(|b| (b.mid.to_bits(), b.rad.to_bits())).collect::<Vec<_>>();
            let kernel = spec.ends_with("gf-mlp-mid.toml");
            for (x, y) in split.params.iter().zip(&plain.params).chain(split.outputs.iter().zip(&plain.outputs)) {
                if !kernel {
                    assert_eq!(bits(&x.to_scalars()), bits(y), "{spec}");
                    continue;
                }
                for (a, b) in x.to_scalars().iter().zip(y) {
                    assert!((a.mid - b.mid).abs() <= a.rad + b.rad, "{spec}: disjoint balls {a:?} {b:?}");
                    assert!(a.rad <= 1.5 * b.rad && b.rad <= 1.5 * a.rad, "{spec}: radii {a:?} {b:?}");
                }
            }
            assert_eq!(split.params.len(), plain.params.len());
        }
    }
}
