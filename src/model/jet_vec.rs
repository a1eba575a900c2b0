//! [`JetVec`]: vectors of jets in `eps` (`arith::jet`) stored coefficient by coefficient, one
//! vector `V` per power of `eps`, so that the layer products of the order-`Q` Taylor model
//! (`model::taylor_model`) are products of `V`s: through the matrix-multiply kernel where `V`
//! has one (`BallVec`, `PointVec`), instead of per-entry jet arithmetic.
//!
//! Each operation is the truncated series in `eps` of the exact operation, as `Jet`'s
//! (`proofs/taylor-models.md`, Lemma J): sums part by part, products as Cauchy products of the
//! parts (the part `r` of `a b` is `sum_{r1 + r2 = r} a_{r1} b_{r2}`, each a `V` product), the
//! elementary functions entry by entry through `Jet`. With an enclosure type `V`, every part
//! encloses the exact coefficient for every choice of members of the operands' parts (the
//! operations are compositions of `V`'s, each an enclosure by `CoeffVec`'s contract).
//!
//! Degrees follow `Jet`: a vector's degree is the largest of its entries', an operation's the
//! largest of its operands', and results are truncated there. A part known to be zero is
//! `None` and skipped in products: the weights' jets are lines (`w0 + eps v` at time order 0,
//! `eps w_k` after), and the parts of degree 0 vanish at every time order `>= 1`, so most of the
//! `(Q + 1)^2` products of two jets are never formed.
//!
//! A vector may also say that only its parts up to `needed` will ever be read
//! ([`JetVec::needed_up_to`]); every result then carries the smallest `needed` of its operands
//! and is truncated there. Part `r` of a sum or product depends only on the operands' parts
//! `<= r` (truncation at any degree is a ring homomorphism), so the parts kept are exactly those
//! of the untruncated result. The model's reverse pass uses it: its gradient is read up to
//! `eps^(Q-1)` only (Lemma M, (M2)), so the cotangent's descendants drop part `Q`.

use super::coeffs::{CoeffVec, Elementary};
use crate::arith::jet::{Jet, MAX_DEGREE};
use crate::arith::scalar::Scalar;
use std::ops::Range;

/// A vector of `len` jets of degree `deg` (see the module documentation).
#[derive(Debug, Clone)]
pub struct JetVec<V> {
    len: usize,
    /// `parts[r]`: the coefficients of `eps^r` (`None`: all zero); `deg + 1` of them.
    parts: Vec<Option<V>>,
    /// The highest power of `eps` any consumer reads (`None`: all); parts above it are
    /// neither stored nor computed.
    needed: Option<usize>,
}

/// `deg` lowered to the `needed` limit, if any.
fn capped(deg: usize, needed: Option<usize>) -> usize {
    needed.map_or(deg, |n| deg.min(n))
}

/// The smaller of two `needed` limits (`None` is no limit).
fn least(a: Option<usize>, b: Option<usize>) -> Option<usize> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

impl<V: CoeffVec> JetVec<V> {
    /// The vector with the given parts (`parts[r]` of length `len`, or `None` for zeros;
    /// `1 <= parts.len() <= MAX_DEGREE + 1`: panics otherwise, a caller's bug).
    pub fn from_parts(len: usize, parts: Vec<Option<V>>) -> Self {
        assert!((1..=MAX_DEGREE + 1).contains(&parts.len()), "JetVec: {} parts", parts.len());
        assert!(parts.iter().flatten().all(|p| p.len() == len), "JetVec: a part of another length");
        JetVec { len, parts, needed: None }
    }

    /// The same vector, declared to be read up to `eps^top` only (see the module
    /// documentation): its parts above `top` are dropped, and so are those of every result
    /// computed from it.
    pub fn needed_up_to(mut self, top: usize) -> Self {
        self.limit_to(Some(top));
        self
    }

    /// Lowers `needed` to `limit` (if that is lower) and drops the parts above it.
    fn limit_to(&mut self, limit: Option<usize>) {
        self.needed = least(self.needed, limit);
        if let Some(top) = self.needed {
            self.parts.truncate(top + 1);
        }
    }

    pub fn degree(&self) -> usize {
        self.parts.len() - 1
    }

    /// `sum_{from <= r <= top} parts[r]` (zeros if there is none): the value at `eps = 1` of
    /// the series truncated at `top` (`from = 0`), or its increment over `eps = 0` summed
    /// without the constant part (`from = 1`).
    pub fn partial_sum(&self, from: usize, top: usize) -> V {
        assert!(self.needed.is_none_or(|n| top <= n), "JetVec::partial_sum up to {top}, computed up to {:?}", self.needed);
        let mut sum: Option<V> = None;
        for part in self.parts.iter().take(top + 1).skip(from).flatten() {
            sum = Some(match sum {
                None => part.clone(),
                Some(s) => s.add(part),
            });
        }
        sum.unwrap_or_else(|| V::zeros(self.len))
    }

    fn zero(len: usize, deg: usize) -> Self {
        JetVec { len, parts: vec![None; deg + 1], needed: None }
    }

    /// Raises the degree to `deg` (new parts zero), at most to `needed`; never lowers it.
    fn extend_to(&mut self, deg: usize) {
        let deg = capped(deg, self.needed);
        if self.parts.len() < deg + 1 {
            self.parts.resize(deg + 1, None);
        }
    }

    /// Part `r`, created as zeros if it was `None`.
    fn part_mut(&mut self, r: usize) -> &mut V {
        let len = self.len;
        self.parts[r].get_or_insert_with(|| V::zeros(len))
    }

    /// Adds `v` to part `r`.
    fn add_to_part(&mut self, r: usize, v: V) {
        match &mut self.parts[r] {
            None => self.parts[r] = Some(v),
            Some(p) => p.add_in_place(&v),
        }
    }

    /// The pairs `(r1, r2)` of non-zero parts of `a` and `b` with `r1 + r2 <= deg`.
    fn pairs<'a>(a: &'a Self, b: &'a Self, deg: usize) -> impl Iterator<Item = (usize, &'a V, usize, &'a V)> + 'a {
        a.parts.iter().enumerate().filter_map(|(r1, x)| x.as_ref().map(|x| (r1, x))).flat_map(move |(r1, x)| {
            b.parts.iter().enumerate().take((deg + 1).saturating_sub(r1)).filter_map(move |(r2, y)| y.as_ref().map(|y| (r1, x, r2, y)))
        })
    }

    /// `sum_{j = from}^{k} a[j] b[k - j]` (each term times `weight(j)` where given), as the
    /// Cauchy product in time of two series of jets (reads `a[from..=k]`, `b[..=k - from]`).
    fn time_cauchy(k: usize, a: &[Self], b: &[Self], from: usize, weight: impl Fn(usize) -> Option<V::S>) -> Self {
        let deg = (from..=k).map(|j| a[j].degree().max(b[k - j].degree())).max().unwrap_or(0);
        let needed = (from..=k).fold(None, |n, j| least(n, least(a[j].needed, b[k - j].needed)));
        let deg = capped(deg, needed);
        let mut out = Self::zero(a[k].len, deg);
        out.needed = needed;
        for j in from..=k {
            for (r1, x, r2, y) in Self::pairs(&a[j], &b[k - j], deg) {
                match weight(j) {
                    Some(c) => V::mul_add_in_place(out.part_mut(r1 + r2), &x.scale(c), y),
                    None => V::mul_add_in_place(out.part_mut(r1 + r2), x, y),
                }
            }
        }
        out
    }
}

impl<V: CoeffVec> CoeffVec for JetVec<V> {
    type S = Jet<V::S>;

    fn zeros(len: usize) -> Self {
        Self::zero(len, 0)
    }
    fn filled(len: usize, v: Jet<V::S>) -> Self {
        let parts = (0..=v.degree()).map(|r| Some(V::filled(len, v.coefficient(r)))).collect();
        JetVec { len, parts, needed: None }
    }
    fn from_scalars(v: &[Jet<V::S>]) -> Self {
        let deg = v.iter().map(Jet::degree).max().unwrap_or(0);
        let parts = (0..=deg).map(|r| Some(V::from_scalars(&v.iter().map(|x| x.coefficient(r)).collect::<Vec<_>>()))).collect();
        JetVec { len: v.len(), parts, needed: None }
    }
    fn len(&self) -> usize {
        self.len
    }
    fn to_scalars(&self) -> Vec<Jet<V::S>> {
        let parts: Vec<Vec<V::S>> = self.parts.iter().map(|p| p.as_ref().map_or_else(|| vec![V::S::zero(); self.len], V::to_scalars)).collect();
        (0..self.len).map(|i| Jet::from_coefficients(&parts.iter().map(|p| p[i]).collect::<Vec<_>>())).collect()
    }
    /// The sum of the parts' magnitude bounds (at least every entry's `sum_r |c_r|`, which is
    /// `Jet::magnitude`), rounded up as there; with a `needed` limit, of the parts up to it
    /// (those above were never computed, and nothing may read them).
    fn magnitude(&self) -> f64 {
        self.parts.iter().flatten().map(V::magnitude).sum::<f64>() * (1.0 + 8.0 * f64::EPSILON)
    }
    fn concat(parts: &[Self]) -> Self {
        let deg = parts.iter().map(Self::degree).max().unwrap_or(0);
        let len = parts.iter().map(|p| p.len).sum();
        let joined = (0..=deg)
            .map(|r| {
                let any = parts.iter().any(|p| p.parts.get(r).is_some_and(Option::is_some));
                any.then(|| {
                    let pieces: Vec<V> = parts.iter().map(|p| p.parts.get(r).cloned().flatten().unwrap_or_else(|| V::zeros(p.len))).collect();
                    V::concat(&pieces)
                })
            })
            .collect();
        let mut out = JetVec { len, parts: joined, needed: None };
        out.limit_to(parts.iter().fold(None, |n, p| least(n, p.needed)));
        out
    }

    /// Entry by entry through `Jet`'s elementary functions (a small share of the work: the
    /// layer products dominate).
    fn map(&self, f: Elementary) -> Self {
        let mut out = Self::from_scalars(&self.to_scalars().into_iter().map(|x| f.apply(x)).collect::<Vec<_>>());
        out.limit_to(self.needed);
        out
    }
    fn scale(&self, c: Jet<V::S>) -> Self {
        let deg = capped(self.degree().max(c.degree()), self.needed);
        let mut out = Self::zero(self.len, deg);
        out.needed = self.needed;
        for r1 in 0..=c.degree().min(deg) {
            for (r2, part) in self.parts.iter().enumerate().take(deg + 1 - r1) {
                if let Some(part) = part {
                    out.add_to_part(r1 + r2, part.scale(c.coefficient(r1)));
                }
            }
        }
        out
    }
    fn add_scalar(&self, c: Jet<V::S>) -> Self {
        let mut out = self.clone();
        out.extend_to(c.degree());
        for r in 0..=c.degree().min(out.degree()) {
            let len = out.len;
            out.parts[r] = Some(match out.parts[r].take() {
                None => V::filled(len, c.coefficient(r)),
                Some(p) => p.add_scalar(c.coefficient(r)),
            });
        }
        out
    }
    fn add(&self, other: &Self) -> Self {
        let mut out = self.clone();
        out.add_in_place(other);
        out
    }
    fn add_in_place(&mut self, other: &Self) {
        self.limit_to(other.needed);
        self.extend_to(other.degree());
        for (r, part) in other.parts.iter().enumerate().take(self.parts.len()) {
            match (&mut self.parts[r], part) {
                (Some(p), Some(q)) => p.add_in_place(q),
                (none @ None, Some(q)) => *none = Some(q.clone()),
                (_, None) => {}
            }
        }
    }
    fn sub(&self, other: &Self) -> Self {
        self.add(&other.neg())
    }
    fn neg(&self) -> Self {
        JetVec { len: self.len, parts: self.parts.iter().map(|p| p.as_ref().map(V::neg)).collect(), needed: self.needed }
    }

    fn cauchy(k: usize, a: &[Self], b: &[Self]) -> Self {
        Self::time_cauchy(k, a, b, 0, |_| None)
    }
    fn cauchy_square(k: usize, a: &[Self]) -> Self {
        Self::time_cauchy(k, a, a, 0, |_| None)
    }
    fn ode(k: usize, a: &[Self], b: &[Self]) -> Self {
        let sum = Self::time_cauchy(k, a, b, 1, |j| Some(V::S::exact(j as f64)));
        let inv_k = V::S::one() / V::S::exact(k as f64);
        JetVec { len: sum.len, parts: sum.parts.iter().map(|p| p.as_ref().map(|p| p.scale(inv_k))).collect(), needed: sum.needed }
    }

    fn matmul_acc(acc: &mut Self, a: &Self, w: &Self, offset: usize, din: usize, dout: usize, thin_kernel: bool) {
        acc.limit_to(least(a.needed, w.needed));
        let deg = acc.degree().max(a.degree()).max(w.degree());
        acc.extend_to(deg);
        let deg = acc.degree();
        for (r1, x, r2, y) in Self::pairs(a, w, deg) {
            V::matmul_acc(acc.part_mut(r1 + r2), x, y, offset, din, dout, thin_kernel);
        }
    }
    fn transposed_matmul_acc(e: &mut Self, delta: &Self, w: &Self, offset: usize, din: usize, dout: usize, thin_kernel: bool) {
        e.limit_to(least(delta.needed, w.needed));
        let deg = e.degree().max(delta.degree()).max(w.degree());
        e.extend_to(deg);
        let deg = e.degree();
        for (r1, x, r2, y) in Self::pairs(delta, w, deg) {
            V::transposed_matmul_acc(e.part_mut(r1 + r2), x, y, offset, din, dout, thin_kernel);
        }
    }
    fn outer_acc(grad: &mut Self, offset: usize, delta: &Self, a: &Self, din: usize, dout: usize, thin_kernel: bool) {
        grad.limit_to(least(delta.needed, a.needed));
        let deg = grad.degree().max(delta.degree()).max(a.degree());
        grad.extend_to(deg);
        let deg = grad.degree();
        for (r1, x, r2, y) in Self::pairs(delta, a, deg) {
            V::outer_acc(grad.part_mut(r1 + r2), offset, x, y, din, dout, thin_kernel);
        }
    }
    fn column_sums_acc(grad: &mut Self, offset: usize, delta: &Self, dout: usize) {
        grad.limit_to(delta.needed);
        grad.extend_to(delta.degree());
        for (r, part) in delta.parts.iter().enumerate().take(grad.parts.len()) {
            if let Some(part) = part {
                V::column_sums_acc(grad.part_mut(r), offset, part, dout);
            }
        }
    }
    fn add_bias(z: &mut Self, b: &Self, offset: usize, dout: usize) {
        z.limit_to(b.needed);
        z.extend_to(b.degree());
        for (r, part) in b.parts.iter().enumerate().take(z.parts.len()) {
            if let Some(part) = part {
                V::add_bias(z.part_mut(r), part, offset, dout);
            }
        }
    }
    /// Part by part for a constant `c` (the layers' scales); entry by entry otherwise.
    fn scale_range(v: &mut Self, range: Range<usize>, c: Jet<V::S>) {
        if c.degree() == 0 {
            for part in v.parts.iter_mut().flatten() {
                V::scale_range(part, range.clone(), c.coefficient(0));
            }
            return;
        }
        let mut entries = v.to_scalars();
        for x in &mut entries[range] {
            *x = c * *x;
        }
        let needed = v.needed;
        *v = Self::from_scalars(&entries);
        v.limit_to(needed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arith::ball::Ball;
    use crate::model::ball_vec::BallVec;
    use proptest::prelude::*;
    use rug::Rational;

    /// An exact jet: coefficients `0..=MAX_DEGREE` (zero above the degree).
    type Exact = Vec<Rational>;

    fn exact_jet(c: &[f64], deg: usize) -> Exact {
        (0..=MAX_DEGREE).map(|r| if r <= deg { Rational::from_f64(c[r]).unwrap() } else { Rational::new() }).collect()
    }

    /// `a b` truncated at `deg`.
    fn mul(a: &Exact, b: &Exact, deg: usize) -> Exact {
        (0..=MAX_DEGREE).map(|r| if r > deg { Rational::new() } else { (0..=r).map(|j| Rational::from(&a[j] * &b[r - j])).sum() }).collect()
    }

    fn add(a: &Exact, b: &Exact) -> Exact {
        a.iter().zip(b).map(|(x, y)| Rational::from(x + y)).collect()
    }

    fn balls(v: &[Exact], deg: usize) -> JetVec<BallVec> {
        let jets: Vec<Jet<Ball>> = v.iter().map(|x| Jet::from_coefficients(&x[..=deg].iter().map(|q| Ball::exact(q.to_f64())).collect::<Vec<_>>())).collect();
        JetVec::from_scalars(&jets)
    }

    /// Whether every coefficient of every entry of `outer` contains the exact `inner`.
    fn contains(outer: &JetVec<BallVec>, inner: &[Exact]) -> Result<(), String> {
        if outer.len() != inner.len() {
            return Err(format!("lengths {} and {}", outer.len(), inner.len()));
        }
        for (i, (x, y)) in outer.to_scalars().iter().zip(inner).enumerate() {
            for (r, exact) in y.iter().enumerate() {
                let b = x.coefficient(r);
                let distance = Rational::from(exact - Rational::from_f64(b.mid).unwrap()).abs();
                if distance > Rational::from_f64(b.rad).unwrap() {
                    return Err(format!("entry {i}, eps^{r}: {b:?} misses {}", exact.to_f64()));
                }
            }
        }
        Ok(())
    }

    proptest! {
        /// The operations of `JetVec<BallVec>` contain the exact truncated series (rational
        /// arithmetic on the same float coefficients): the three layer products, the time
        /// Cauchy products, the scalings and sums, with lines as the weights' jets and a
        /// constant among the series, as in the Taylor model's passes.
        #[test]
        fn operations_contain_the_exact_jets(
            (din, dout, rows) in (1usize..7, 1usize..6, 1usize..4),
            deg in 1usize..=MAX_DEGREE,
            values in proptest::collection::vec(-1.5..1.5f64, 320),
        ) {
            let mut at = 0;
            let mut next = |len: usize, d: usize| -> Vec<Exact> {
                (0..len).map(|_| { let c = &values[at % 300..at % 300 + 5]; at += 5; exact_jet(c, d) }).collect()
            };
            let (a, w, delta, z) = (next(rows * din, deg), next(din * dout + 3, 1), next(rows * dout, deg), next(rows * dout, deg));
            let (ja, jw, jd, jz) = (balls(&a, deg), balls(&w, 1), balls(&delta, deg), balls(&z, deg));
            let weight = |o: usize, m: usize| &w[3 + o * din + m];

            let mut acc = z.clone();
            for i in 0..rows { for o in 0..dout { for m in 0..din {
                acc[i * dout + o] = add(&acc[i * dout + o], &mul(&a[i * din + m], weight(o, m), deg));
            } } }
            let mut jacc = jz.clone();
            JetVec::matmul_acc(&mut jacc, &ja, &jw, 3, din, dout, true);
            prop_assert_eq!(contains(&jacc, &acc), Ok(()));

            let mut e = a.clone();
            for i in 0..rows { for o in 0..dout { for m in 0..din {
                e[i * din + m] = add(&e[i * din + m], &mul(&delta[i * dout + o], weight(o, m), deg));
            } } }
            let mut je = ja.clone();
            JetVec::transposed_matmul_acc(&mut je, &jd, &jw, 3, din, dout, true);
            prop_assert_eq!(contains(&je, &e), Ok(()));

            let mut g = w.clone();
            for i in 0..rows { for o in 0..dout { for m in 0..din {
                g[3 + o * din + m] = add(&g[3 + o * din + m], &mul(&delta[i * dout + o], &a[i * din + m], deg));
            } } }
            let mut jg = jw.clone();
            JetVec::outer_acc(&mut jg, 3, &jd, &ja, din, dout, true);
            prop_assert_eq!(contains(&jg, &g), Ok(()));

            // Time series: coefficient k = 2 of products of series whose terms are jets.
            let degs = [[deg, deg, 0], [deg, 1, deg]];
            let series: Vec<Vec<Exact>> = (0..3).map(|j| next(rows * din, degs[0][j])).collect();
            let other: Vec<Vec<Exact>> = (0..3).map(|j| next(rows * din, degs[1][j])).collect();
            let js: Vec<JetVec<BallVec>> = series.iter().zip(degs[0]).map(|(v, d)| balls(v, d)).collect();
            let jo: Vec<JetVec<BallVec>> = other.iter().zip(degs[1]).map(|(v, d)| balls(v, d)).collect();
            let time_product = |x: &[Vec<Exact>], y: &[Vec<Exact>], from: usize, weighted: bool| -> Vec<Exact> {
                (0..rows * din).map(|i| {
                    let mut sum = exact_jet(&[0.0; 5], 0);
                    for j in from..=2 {
                        let term = mul(&x[j][i], &y[2 - j][i], deg);
                        let factor = Rational::from(if weighted { j as u32 } else { 1 }) / if weighted { 2u32 } else { 1 };
                        sum = add(&sum, &term.iter().map(|t| Rational::from(t * &factor)).collect());
                    }
                    sum
                }).collect()
            };
            prop_assert_eq!(contains(&JetVec::cauchy(2, &js, &jo), &time_product(&series, &other, 0, false)), Ok(()));
            prop_assert_eq!(contains(&JetVec::cauchy_square(2, &js), &time_product(&series, &series, 0, false)), Ok(()));
            prop_assert_eq!(contains(&JetVec::ode(2, &js, &jo), &time_product(&series, &other, 1, true)), Ok(()));

            // Scalars: a line `c`, and a constant `c0` on a range.
            let c = exact_jet(&values[300..305], 1);
            let c_ball = Jet::from_coefficients(&[Ball::exact(values[300]), Ball::exact(values[301])]);
            prop_assert_eq!(contains(&ja.scale(c_ball), &a.iter().map(|x| mul(&c, x, deg)).collect::<Vec<_>>()), Ok(()));
            prop_assert_eq!(contains(&ja.add_scalar(c_ball), &a.iter().map(|x| add(&c, x)).collect::<Vec<_>>()), Ok(()));
            let difference: Vec<Exact> = a.iter().zip(&series[1]).map(|(x, y)| x.iter().zip(y).map(|(p, q)| Rational::from(p - q)).collect()).collect();
            prop_assert_eq!(contains(&ja.sub(&js[1]), &difference), Ok(()));
            let c0 = exact_jet(&values[305..310], 0);
            let range = 1..rows * din;
            let mut scaled = a.clone();
            for x in &mut scaled[range.clone()] { *x = mul(&c0, x, deg); }
            let mut jscaled = ja.clone();
            JetVec::scale_range(&mut jscaled, range.clone(), Jet::constant(Ball::exact(values[305])));
            prop_assert_eq!(contains(&jscaled, &scaled), Ok(()));
            let mut scaled = a.clone();
            for x in &mut scaled[range.clone()] { *x = mul(&c, x, deg); }
            let mut jscaled = ja.clone();
            JetVec::scale_range(&mut jscaled, range, c_ball);
            prop_assert_eq!(contains(&jscaled, &scaled), Ok(()));

            // Truncated operands (`needed_up_to`): the results' parts up to the limit are the
            // exact ones, and none above it is kept.
            let top = deg - 1;
            let truncated = |v: &[Exact]| -> Vec<Exact> {
                v.iter().map(|x| x.iter().enumerate().map(|(r, c)| if r <= top { c.clone() } else { Rational::new() }).collect()).collect()
            };
            let mut jacc = jz.clone();
            JetVec::matmul_acc(&mut jacc, &ja.clone().needed_up_to(top), &jw, 3, din, dout, true);
            prop_assert_eq!(jacc.degree(), top);
            prop_assert_eq!(contains(&jacc, &truncated(&acc)), Ok(()));
            let mut jg = jw.clone();
            JetVec::outer_acc(&mut jg, 3, &jd.clone().needed_up_to(top), &ja, din, dout, true);
            prop_assert_eq!(contains(&jg, &truncated(&g)), Ok(()));
            let capped: Vec<JetVec<BallVec>> = js.iter().map(|v| v.clone().needed_up_to(top)).collect();
            let product = JetVec::cauchy(2, &capped, &jo);
            prop_assert_eq!(contains(&product, &truncated(&time_product(&series, &other, 0, false))), Ok(()));
            prop_assert_eq!(contains(&product.scale(c_ball).add(&ja), &truncated(&time_product(&series, &other, 0, false).iter().zip(&a).map(|(x, y)| add(&mul(&c, x, deg), y)).collect::<Vec<_>>())), Ok(()));

            let joined: Vec<Exact> = a[..1].iter().chain(&delta).cloned().collect();
            prop_assert_eq!(contains(&JetVec::concat(&[balls(&a[..1], deg), balls(&delta, deg)]), &joined), Ok(()));
            let sums: Vec<Exact> = (0..rows * din).map(|i| series.iter().fold(exact_jet(&[0.0; 5], 0), |s, v| add(&s, &v[i]))).collect();
            let partial = js.iter().skip(1).fold(js[0].clone(), |s, v| s.add(v));
            prop_assert_eq!(contains(&partial, &sums), Ok(()));
        }
    }

    /// `partial_sum` adds the parts `from..=top`, skipping zero parts; past a `needed` limit it
    /// refuses (those parts were never computed).
    #[test]
    fn partial_sums_add_the_chosen_parts() {
        let capped: JetVec<Vec<f64>> = JetVec::from_parts(1, vec![Some(vec![1.0]), Some(vec![2.0]), Some(vec![4.0])]).needed_up_to(1);
        assert_eq!(capped.partial_sum(0, 1), vec![3.0]);
        assert!(std::panic::catch_unwind(|| capped.partial_sum(0, 2)).is_err());
        let v: JetVec<Vec<f64>> = JetVec::from_parts(2, vec![Some(vec![1.0, 2.0]), None, Some(vec![0.25, 0.5])]);
        assert_eq!(v.partial_sum(0, 2), vec![1.25, 2.5]);
        assert_eq!(v.partial_sum(1, 2), vec![0.25, 0.5]);
        assert_eq!(v.partial_sum(0, 1), vec![1.0, 2.0]);
        assert_eq!(v.partial_sum(1, 1), vec![0.0, 0.0]);
    }
}
