//! The order-`Q` Taylor model of an MLP around its initial weights `w0`,
//! `h_Q(w) = sum_{r <= Q} D^r h(w0)[(w - w0)^r] / r!`, and its Taylor expansion along a path in
//! time: the reference model of `[training] reference_order = Q` (issue 16; `Q = 1` is the NTK
//! linearisation).
//!
//! With `v = w - w0`, the network at the weights `w0 + eps v` is a power series in `eps` whose
//! coefficient `r` is `D^r h(w0)[v^r] / r!`; so `h_Q(w)` is the sum of its coefficients
//! `0..=Q`, and `grad h_Q(w) = sum_{r=0}^{Q-1} [eps^r] grad h(w0 + eps v)` (the gradient of the
//! homogeneous term of degree `r + 1`). Along a path `w(s)` both variables are expanded: the
//! time recurrences of `MlpSeries` run unchanged over vectors of jets in `eps` (`arith::jet`),
//! stored one vector per power of `eps` (`model::jet_vec`), the path's coefficients entering as
//! `w0 + eps (w[0] - w0)` at order 0 and `eps w[k]` at order `k >= 1`. Proof:
//! `proofs/taylor-models.md`, Lemmas J and M.

use super::coeffs::CoeffVec;
use super::jet_vec::JetVec;
use super::mlp::{Mlp, MlpSeries};
use crate::arith::jet::{Jet, MAX_DEGREE};

/// The largest supported order `Q`.
pub const MAX_REFERENCE_ORDER: usize = MAX_DEGREE;

/// The Taylor workspace of the order-`Q` model, in the coefficient representation `V`.
#[derive(Debug, Clone)]
pub struct TaylorModelSeries<V: CoeffVec> {
    /// The network's recurrences over jet vectors stored part by part (`JetVec`), so that the
    /// layer products are `V` products (the matrix-multiply kernel for `BallVec`, `PointVec`).
    inner: MlpSeries<JetVec<V>>,
    /// `w0`, entrywise enclosures.
    w0: V,
    order: usize,
    /// The path's coefficients as jets, `jets[k]` set by `forward(_, k)`.
    jets: Vec<JetVec<V>>,
    /// `outputs[k]`: coefficient `k` of `h_Q(w(s))`.
    outputs: Vec<V>,
    /// After `forward(_, 0)`: `h_Q(w) - h(w0)`, the sum of the output jets' coefficients
    /// `1..=Q` (without the `h(w0)` term, whose rounding would dominate the difference).
    increment: Option<V>,
}

impl<V: CoeffVec> TaylorModelSeries<V> {
    /// The model of `net` around `w0` of order `order` (`1 <= order <= MAX_REFERENCE_ORDER`;
    /// panics otherwise: the spec loader validates it).
    pub fn new(net: Mlp<Jet<V::S>>, w0: Vec<V::S>, order: usize) -> Self {
        assert!((1..=MAX_REFERENCE_ORDER).contains(&order), "TaylorModelSeries: order {order}");
        TaylorModelSeries { inner: MlpSeries::new(net), w0: V::from_scalars(&w0), order, jets: Vec::new(), outputs: Vec::new(), increment: None }
    }

    /// After `forward(_, 0)`: an enclosure of `h_Q(w) - h(w0)` summed without `h(w0)`.
    pub fn increment(&self) -> &V {
        self.increment.as_ref().expect("TaylorModelSeries::increment after forward(_, 0)")
    }

    /// The same model on the inputs `range` only (for parallel chunks).
    pub fn restricted(&self, range: std::ops::Range<usize>) -> Self {
        TaylorModelSeries::new(self.inner.net.restricted(range), self.w0.to_scalars(), self.order)
    }

    pub fn clear(&mut self) {
        self.inner.clear();
        self.jets.clear();
        self.outputs.clear();
        self.increment = None;
    }

    /// Coefficient `k` of `h_Q(w(s))` from the path's coefficients `w[0..=k]` (coefficients
    /// `< k` must have been computed from the same path): the weights enter as the lines
    /// `w0 + eps (w[0] - w0)` at order 0 and `eps w[k]` after.
    pub fn forward(&mut self, w: &[V], k: usize) {
        let q = self.order;
        let len = w[k].len();
        let mut parts = vec![None; q + 1];
        if k == 0 {
            parts[0] = Some(self.w0.clone());
            parts[1] = Some(w[0].sub(&self.w0));
        } else {
            parts[1] = Some(w[k].clone());
        }
        self.jets.truncate(k);
        self.jets.push(JetVec::from_parts(len, parts));
        self.inner.forward(&self.jets, k);
        let outputs = self.inner.outputs(k);
        if k == 0 {
            self.increment = Some(outputs.partial_sum(1, q));
        }
        let h = outputs.partial_sum(0, q);
        self.outputs.truncate(k);
        self.outputs.push(h);
    }

    pub fn outputs(&self, k: usize) -> &V {
        &self.outputs[k]
    }

    /// Coefficient `k` of `sum_i grad h_Q(x_i; w(s))^T cotangent_i` (after `forward(_, k)`).
    pub fn backward(&mut self, _w: &[V], k: usize, cotangent: V) -> V {
        // Only the gradient's parts 0..=Q-1 are read (M2): the reverse pass drops part Q.
        let cot = JetVec::from_parts(cotangent.len(), vec![Some(cotangent)]).needed_up_to(self.order - 1);
        let grad = self.inner.backward(&self.jets, k, cot);
        grad.partial_sum(0, self.order - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::flow::{GradientFlow, TrainedModel};
    use crate::model::test_problems::{problem, thin, Rng};
    use crate::problem::{Activation, Problem};
    use crate::reference::taylor_model_at;
    use inari::Interval;
    use rug::Float;

    const PREC: u32 = 320;

    /// `h(w0)` enclosed, for the centred models' offset.
    fn offset(problem: &Problem) -> Vec<Interval> {
        let mut flow = GradientFlow::<Vec<Interval>>::new(problem, None);
        flow.outputs_at(&problem.params0)
    }

    fn contains(x: Interval, y: &Float) -> bool {
        *y >= x.inf() && *y <= x.sup()
    }

    /// Field and outputs of the order-`q` model at `w` (order 0 of `along` a constant path).
    fn model_at(problem: &Problem, q: usize, w: &[f64]) -> (Vec<Interval>, Vec<Interval>) {
        let off = problem.centred.then(|| offset(problem));
        let mut flow = GradientFlow::<Vec<Interval>>::training(problem, off.as_deref(), TrainedModel::TaylorModel(q)).expect("an MLP");
        let point: Vec<Interval> = w.iter().map(|&x| thin(x)).collect();
        let pass = flow.along(&[point], 0);
        (pass.outputs[0].clone(), pass.field[0].clone())
    }

    /// The jets' `h_Q` and `F_Q` contain the MPFR interpolation reference, narrowly, on random
    /// small MLPs of every smooth activation, with and without biases, centring and the
    /// penalty, for Q = 1..4; and order Q's enclosure excludes order Q - 1's reference (the
    /// test sees a wrong order).
    #[test]
    fn model_contains_the_interpolation_reference() {
        let activations = [Activation::Tanh, Activation::Erf, Activation::Sin, Activation::Sigmoid, Activation::Softplus, Activation::Gelu];
        for (case, &act) in activations.iter().enumerate() {
            for q in 1..=MAX_REFERENCE_ORDER {
                let seed = 17 * case as u64 + q as u64;
                let widths = if case % 2 == 0 { vec![2, 3, 3, 1] } else { vec![3, 4, 2] };
                let lambda = if q == 2 { "0.25" } else { "0" };
                let problem = problem(seed, widths, act, case % 3 != 0, q % 2 == 1, lambda);
                let mut rng = Rng(seed + 1000);
                let w: Vec<f64> = problem.params0.iter().map(|x| x.mid() + 0.4 * rng.next()).collect();
                let wf: Vec<Float> = w.iter().map(|&x| Float::with_val(PREC, x)).collect();
                let (h, field) = model_at(&problem, q, &w);
                let (h_ref, field_ref) = taylor_model_at(&problem, &wf, q, PREC);
                for (i, (x, y)) in h.iter().zip(&h_ref).enumerate() {
                    assert!(contains(*x, y), "{act:?} Q = {q}: h_Q[{i}] = {x:?} misses {y}");
                    assert!(x.wid() <= 1e-12 * (1.0 + x.mag()), "{act:?} Q = {q}: h_Q[{i}] = {x:?} too wide");
                }
                for (i, (x, y)) in field.iter().zip(&field_ref).enumerate() {
                    assert!(contains(*x, y), "{act:?} Q = {q}: F_Q[{i}] = {x:?} misses {y}");
                    assert!(x.wid() <= 1e-11 * (1.0 + x.mag()), "{act:?} Q = {q}: F_Q[{i}] = {x:?} too wide");
                }
                if q >= 2 {
                    let (h_lower, _) = taylor_model_at(&problem, &wf, q - 1, PREC);
                    assert!(h.iter().zip(&h_lower).any(|(x, y)| !contains(*x, y)), "{act:?} Q = {q}: order Q - 1 not told apart");
                }
            }
        }
    }

    /// The time expansion: the field's coefficients along the path `w(s) = w + s d` (order 6),
    /// summed at `s = 1/64`, agree with the reference field at `w(1/64)` up to the truncation.
    #[test]
    fn expansion_along_a_path_matches_the_reference() {
        for (q, act) in [(2, Activation::Tanh), (3, Activation::Erf), (4, Activation::Sin)] {
            let problem = problem(40 + q as u64, vec![2, 3, 3, 1], act, true, true, "0");
            let mut rng = Rng(99 + q as u64);
            let w: Vec<f64> = problem.params0.iter().map(|x| x.mid() + 0.3 * rng.next()).collect();
            let d: Vec<f64> = w.iter().map(|_| rng.next()).collect();
            let off = offset(&problem);
            let mut flow = GradientFlow::<Vec<Interval>>::training(&problem, Some(&off), TrainedModel::TaylorModel(q)).expect("MLP");
            let zero = vec![thin(0.0); w.len()];
            let mut path = vec![w.iter().map(|&x| thin(x)).collect::<Vec<_>>(), d.iter().map(|&x| thin(x)).collect()];
            path.extend(std::iter::repeat(zero).take(5));
            let pass = flow.along(&path, 6);
            let s = 1.0 / 64.0;
            let at: Vec<Float> = w.iter().zip(&d).map(|(&x, &y)| Float::with_val(PREC, x) + Float::with_val(PREC, y) * s).collect();
            let (_, field_ref) = taylor_model_at(&problem, &at, q, PREC);
            for (i, y) in field_ref.iter().enumerate() {
                let mut sum = 0.0;
                for k in (0..=6).rev() {
                    sum = sum * s + pass.field[k][i].mid();
                }
                let err = (Float::with_val(PREC, y - sum)).abs().to_f64();
                assert!(err < 1e-9, "Q = {q}: F_Q[{i}] along the path off by {err:e}");
            }
        }
    }

    /// A deep linear network (identity activations, three weight layers) is a polynomial of
    /// degree 3 in its weights: its Taylor models of order >= 3 are the network itself (outputs
    /// and field enclosures overlap the network's at a point far from `w0`), order 2 is not.
    #[test]
    fn deep_linear_network_is_its_own_cubic_model() {
        let problem = problem(7, vec![2, 3, 2, 1], Activation::Identity, false, true, "0");
        let mut rng = Rng(5);
        let w: Vec<f64> = problem.params0.iter().map(|x| x.mid() + rng.next()).collect();
        let point: Vec<Interval> = w.iter().map(|&x| thin(x)).collect();
        let off = offset(&problem);
        let mut network = GradientFlow::<Vec<Interval>>::new(&problem, Some(&off));
        let exact = network.along(&[point], 0);
        let overlap = |a: &[Interval], b: &[Interval]| a.iter().zip(b).all(|(x, y)| !x.intersection(*y).is_empty());
        for q in 3..=MAX_REFERENCE_ORDER {
            let (h, field) = model_at(&problem, q, &w);
            assert!(overlap(&h, &exact.outputs[0]) && overlap(&field, &exact.field[0]), "Q = {q}");
        }
        let (h2, _) = model_at(&problem, 2, &w);
        assert!(!overlap(&h2, &exact.outputs[0]), "the quadratic model equals a cubic network?");
    }
}
