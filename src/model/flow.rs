//! The gradient-flow vector field `F(w) = -(1/alpha) Dh(w)^T (alpha g(w) - y)` and its Taylor
//! expansion along the solution through a given point (or box) of parameters.
//!
//! With `u(s)` the solution from `u(0) = w0`, `u' = F(u)` gives `u[k+1] = F(u(s))[k] / (k+1)`,
//! and `F(u(s))[k]` needs only `u[0..=k]`: forward and backward passes are run order by order.
//! Proof: `proofs/taylor-recurrences.md`.

use super::coeffs::CoeffVec;
use super::mlp::{ForwardBase, Mlp, MlpSeries};
use super::quadratic::QuadraticTaylor;
use super::taylor_model::{TaylorModelSeries, MAX_REFERENCE_ORDER};
use crate::arith::scalar::Scalar;
use crate::problem::{Architecture, Problem};
use inari::Interval;
use num_traits::Zero;
use rayon::prelude::*;

/// A network's Taylor workspace, in the coefficient representation `V`.
#[derive(Debug, Clone)]
pub enum NetworkTaylor<V: CoeffVec> {
    Mlp(MlpSeries<V>),
    Quadratic(QuadraticTaylor<V>),
    /// The order-`Q` Taylor model of an MLP around `w0` (`model::taylor_model`).
    TaylorModel(TaylorModelSeries<V>),
}

impl<V: CoeffVec> NetworkTaylor<V> {
    fn clear(&mut self) {
        match self {
            NetworkTaylor::Mlp(t) => t.clear(),
            NetworkTaylor::Quadratic(t) => t.clear(),
            NetworkTaylor::TaylorModel(t) => t.clear(),
        }
    }

    /// The same workspace over the inputs `range` only (parallel chunks); the quadratic family
    /// has no inputs and is returned whole.
    fn restricted(&self, range: std::ops::Range<usize>) -> Self {
        match self {
            NetworkTaylor::Mlp(t) => NetworkTaylor::Mlp(MlpSeries::new(t.net.restricted(range))),
            NetworkTaylor::Quadratic(_) => self.clone(),
            NetworkTaylor::TaylorModel(t) => NetworkTaylor::TaylorModel(t.restricted(range)),
        }
    }
    fn forward(&mut self, w: &[V], k: usize) {
        match self {
            NetworkTaylor::Mlp(t) => t.forward(w, k),
            NetworkTaylor::Quadratic(t) => t.forward(w, k),
            NetworkTaylor::TaylorModel(t) => t.forward(w, k),
        }
    }
    fn outputs(&self, k: usize) -> &V {
        match self {
            NetworkTaylor::Mlp(t) => t.outputs(k),
            NetworkTaylor::Quadratic(t) => t.outputs(k),
            NetworkTaylor::TaylorModel(t) => t.outputs(k),
        }
    }
    fn backward(&mut self, w: &[V], k: usize, cotangent: V) -> V {
        match self {
            NetworkTaylor::Mlp(t) => t.backward(w, k, cotangent),
            NetworkTaylor::Quadratic(t) => t.backward(w, k, cotangent),
            NetworkTaylor::TaylorModel(t) => t.backward(w, k, cotangent),
        }
    }
}

/// The Taylor coefficients of one expansion: `params[k]` of `u(s)` (`k <= order + 1`) and
/// `outputs[k]` of `h(u(s))` (`k <= order`), input-major.
#[derive(Debug, Clone)]
pub struct Expansion<V> {
    pub params: Vec<V>,
    pub outputs: Vec<V>,
}

impl<V: CoeffVec> Expansion<V> {
    /// A step length `h` for which the terms of orders `q-1..=q+1` of the parameter series and
    /// `q-1..=q` of `alpha` times the output series stay below the tolerances (`q = order`).
    /// A heuristic: the rigorous integrator verifies the remainder afterwards.
    pub fn step_for(&self, order: usize, alpha: f64, tol_params: f64, tol_outputs: f64) -> f64 {
        let mut h = f64::INFINITY;
        for j in [order - 1, order, order + 1] {
            let size = self.params[j].magnitude();
            if size > 0.0 {
                h = h.min((tol_params / size).powf(1.0 / j as f64));
            }
            if j <= order {
                let size = alpha * self.outputs[j].magnitude();
                if size > 0.0 {
                    h = h.min((tol_outputs / size).powf(1.0 / j as f64));
                }
            }
        }
        h
    }

    /// The same coefficients as enclosures, entry by entry.
    pub fn to_intervals(&self) -> Expansion<Vec<Interval>> {
        let convert = |v: &[V]| v.iter().map(CoeffVec::to_intervals).collect();
        Expansion { params: convert(&self.params), outputs: convert(&self.outputs) }
    }
}

/// The coefficients of the field and the outputs along a given path ([`GradientFlow::along`]).
#[derive(Debug, Clone)]
pub struct FieldExpansion<V> {
    pub field: Vec<V>,
    pub outputs: Vec<V>,
}

impl<V: CoeffVec> FieldExpansion<V> {
    /// The same coefficients as enclosures, entry by entry.
    pub fn to_intervals(&self) -> FieldExpansion<Vec<Interval>> {
        let convert = |v: &[V]| v.iter().map(CoeffVec::to_intervals).collect();
        FieldExpansion { field: convert(&self.field), outputs: convert(&self.outputs) }
    }
}

/// A polynomial path with exact float coefficients and the field and outputs along it
/// ([`GradientFlow::point_path`]).
#[derive(Debug, Clone)]
pub struct PointPath<V> {
    /// `path[j]`, `j <= order + 1`: the coefficients of the path.
    pub path: Vec<Vec<f64>>,
    pub field: Vec<V>,
    pub outputs: Vec<V>,
}

/// One chunk of inputs with its workspace and its slice of targets/offsets.
#[derive(Debug, Clone)]
struct Chunk<V: CoeffVec> {
    taylor: NetworkTaylor<V>,
    targets: V,
    offset: Option<V>,
    /// With [`GradientFlow::with_differences`], for MLPs: the forward state at `w0`.
    base: Option<ForwardBase<V>>,
    /// With [`GradientFlow::with_differences`], where the increment `h(w) - h(w0)` is enclosed
    /// directly: `r0 = alpha (h(w0) - offset) - y` (exactly `-y` when centred), so that the
    /// order-0 residual is `alpha increment + r0`.
    residual0: Option<V>,
}

impl<V: CoeffVec> Chunk<V> {
    /// The forward pass of order `k` and, at order 0 with [`GradientFlow::with_differences`],
    /// an enclosure of `h(w) - h(w0)` (of the trained model) computed without `h(w0)`, where the
    /// model has one (MLPs: the pass itself runs on differences, `MlpSeries::forward_by_differences`).
    /// `weights` are the weights' coefficients; `coefficient0` is the path's coefficient 0: the
    /// weights `w`, or in displacements `u = w - w0` itself.
    fn forward(&mut self, weights: &[V], k: usize, coefficient0: &V, displaced: bool) -> Option<V> {
        if k > 0 || self.residual0.is_none() {
            self.taylor.forward(weights, k);
            return None;
        }
        match (&mut self.taylor, &self.base) {
            (NetworkTaylor::Mlp(t), Some(base)) if displaced => Some(t.forward_by_differences(coefficient0, base)),
            (NetworkTaylor::Mlp(t), Some(base)) => Some(t.forward_by_differences(&coefficient0.sub(base.w0()), base)),
            (taylor, _) => {
                taylor.forward(weights, 0);
                match taylor {
                    NetworkTaylor::TaylorModel(t) => Some(t.increment().clone()),
                    _ => None,
                }
            }
        }
    }
}

/// The gradient flow of a problem, in the coefficient representation `V`.
#[derive(Debug, Clone)]
pub struct GradientFlow<V: CoeffVec> {
    chunks: Vec<Chunk<V>>,
    pub alpha: V::S,
    pub num_params: usize,
    pub num_outputs: usize,
    parallel: bool,
    /// In displacements ([`displace`](Self::displace)): `w0`, to which the paths' coefficient
    /// 0 (then the displacement `u = w - w0`) is added.
    origin: Option<V>,
    /// In displacements: the weights' coefficients `w0 + u[0], u[1], ..` of the current
    /// expansion (coefficient `k` set at order `k`).
    weights: Vec<V>,
    /// `(lambda, w0)` of the penalty `(lambda/2) |w - w0|^2` when `lambda > 0`: the field gains
    /// `-lambda (w - w0)`, whose coefficient `k` is `-lambda (w[k] - w0 [k = 0])`
    /// (`proofs/taylor-recurrences.md`, section 4). `None` for `lambda = 0`, so that plain
    /// gradient flow runs exactly the operations it ran before the penalty existed.
    penalty: Option<(V::S, V)>,
}

/// Builds the Taylor workspace of a problem's network over all its inputs.
pub fn network_taylor<V: CoeffVec>(problem: &Problem) -> NetworkTaylor<V> {
    match &problem.architecture {
        Architecture::Mlp(arch) => NetworkTaylor::Mlp(MlpSeries::new(Mlp::new(arch, &problem.inputs))),
        Architecture::Quadratic(q) => NetworkTaylor::Quadratic(QuadraticTaylor::new(q)),
    }
}

/// The problem's enclosure of `w0`, entry by entry in the scalar type `S`.
fn initial_weights<S: Scalar>(problem: &Problem) -> Vec<S> {
    problem.params0.iter().map(|&x| S::from_interval(x)).collect()
}

/// Which model a [`GradientFlow`] trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrainedModel {
    /// The network `h` itself.
    Network,
    /// Its order-`Q` Taylor model around `w0` (MLPs only).
    TaylorModel(usize),
}

/// The Taylor workspace of `model` over all of the problem's inputs; `None` for a Taylor model
/// of the quadratic family or an order outside `1..=MAX_REFERENCE_ORDER`.
fn model_taylor<V: CoeffVec>(problem: &Problem, model: TrainedModel) -> Option<NetworkTaylor<V>> {
    match (model, &problem.architecture) {
        (TrainedModel::Network, _) => Some(network_taylor(problem)),
        (TrainedModel::TaylorModel(q), Architecture::Mlp(arch)) if (1..=MAX_REFERENCE_ORDER).contains(&q) => {
            Some(NetworkTaylor::TaylorModel(TaylorModelSeries::new(Mlp::new(arch, &problem.inputs), initial_weights(problem), q)))
        }
        _ => None,
    }
}

impl<V: CoeffVec> GradientFlow<V> {
    /// `offset`: `h(w0)` for the centred model (an enclosure), `None` to train `h` itself.
    pub fn new(problem: &Problem, offset: Option<&[Interval]>) -> Self {
        Self::training(problem, offset, TrainedModel::Network).expect("the network itself always has a flow")
    }

    /// The gradient flow of `model` (with the problem's data, alpha and penalty); `offset` as
    /// in [`new`](Self::new). `None` where `model_taylor` has no workspace.
    pub fn training(problem: &Problem, offset: Option<&[Interval]>, model: TrainedModel) -> Option<Self> {
        let n = problem.num_inputs();
        let out = problem.architecture.output_dim();
        let work = problem.num_params() * n;
        let parallel = work >= 4_000 && n >= 2 && rayon::current_num_threads() > 1;
        let num_chunks = if parallel { rayon::current_num_threads().min(n) } else { 1 };
        let full = model_taylor::<V>(problem, model)?;
        let to_scalars = |v: &[Interval]| -> Vec<V::S> { v.iter().map(|&x| V::S::from_interval(x)).collect() };
        let targets = to_scalars(&problem.targets);
        let offset = offset.map(to_scalars);
        let penalty = (!problem.regularization.value.is_zero()).then(|| {
            (V::S::from_interval(problem.regularization.enclosure), V::from_scalars(&initial_weights(problem)))
        });
        let chunks = (0..num_chunks)
            .map(|c| {
                let range = (c * n / num_chunks)..((c + 1) * n / num_chunks);
                let taylor = if num_chunks > 1 { full.restricted(range.clone()) } else { full.clone() };
                let outs = range.start * out..range.end * out;
                Chunk {
                    taylor,
                    targets: V::from_scalars(&targets[outs.clone()]),
                    offset: offset.as_ref().map(|o| V::from_scalars(&o[outs])),
                    base: None,
                    residual0: None,
                }
            })
            .collect();
        Some(GradientFlow {
            chunks,
            alpha: V::S::from_interval(problem.alpha.enclosure),
            num_params: problem.num_params(),
            num_outputs: problem.num_outputs(),
            parallel,
            origin: None,
            weights: Vec::new(),
            penalty,
        })
    }

    /// Computes the order-0 residual as `alpha (h(w) - h(w0)) + r0`, the increment enclosed
    /// through the layers as differences (`MlpSeries::forward_by_differences`; for Taylor models
    /// `TaylorModelSeries::increment`), instead of `alpha (h(w) - offset) - y` from two
    /// separately rounded outputs: their rounding (about `alpha |h| 2^-53` per output) was the
    /// floor of the field's enclosure near `w0`, hence of the tube radius on wide networks
    /// (`proofs/tube-integrator.md`, "Differences from w0"). `r0` is `-y` for the centred model,
    /// else `alpha h(w0) - y` from one pass at `w0`. No-op for the quadratic family.
    pub fn with_differences(mut self, problem: &Problem) -> Self {
        let w0 = V::from_scalars(&initial_weights(problem));
        let alpha = self.alpha;
        for chunk in &mut self.chunks {
            let centred = chunk.offset.is_some();
            match &chunk.taylor {
                NetworkTaylor::Mlp(t) => {
                    let base = t.base_at(&w0);
                    chunk.residual0 = Some(if centred { chunk.targets.neg() } else { base.outputs.scale(alpha).sub(&chunk.targets) });
                    chunk.base = Some(base);
                }
                NetworkTaylor::TaylorModel(_) => chunk.residual0 = centred.then(|| chunk.targets.neg()),
                NetworkTaylor::Quadratic(_) => {}
            }
        }
        self
    }

    /// Puts the flow in displacement coordinates: every path's coefficient 0 is `u = w - w0`
    /// (an exact float vector on the integrator's paths) instead of `w`; the fields and outputs
    /// are those at `W0 + u`. With [`with_differences`](Self::with_differences) on an MLP the
    /// increment `h(w0 + u) - h(w0)` is then enclosed from `u` itself
    /// (`proofs/tube-integrator.md`, "Displacements"), so the width of `W0`'s enclosure (one
    /// ulp per irrational entry) enters the residual multiplied by `u` instead of by the
    /// Jacobian; otherwise only the coordinates change.
    pub fn displace(&mut self, problem: &Problem) {
        self.origin = Some(V::from_scalars(&initial_weights(problem)));
    }

    /// Taylor coefficients of the solution through `start` up to order `order + 1`, and of the
    /// outputs up to `order`. With enclosures, each coefficient encloses the exact coefficient
    /// of the solution through every point of the box `start`.
    pub fn expand(&mut self, start: &V, order: usize) -> Expansion<V> {
        let mut params = vec![start.clone()];
        let mut outputs = Vec::with_capacity(order + 1);
        let neg_inv_alpha = -(V::S::one() / self.alpha);
        self.chunks.iter_mut().for_each(|c| c.taylor.clear());
        for k in 0..=order {
            let (h, grad) = self.order_k(&params, k);
            outputs.push(h);
            // u[k+1] = F(u(s))[k] / (k+1) = -(1/alpha) grad[k] / (k+1) (- the penalty's term)
            let inv = V::S::one() / V::S::exact((k + 1) as f64);
            let next = match &self.penalty {
                None => grad.scale(neg_inv_alpha * inv),
                Some(_) => self.penalised(grad.scale(neg_inv_alpha), &params[k], k).scale(inv),
            };
            params.push(next);
        }
        Expansion { params, outputs }
    }

    /// The Taylor coefficients along a given path `w(s) = sum_k path[k] s^k`: `field[k]` of
    /// `F(w(s))` and `outputs[k]` of `h(w(s))` for `k <= order` (`path` needs at least
    /// `order + 1` coefficients; order `k` reads `path[0..=k]` only). Unlike [`expand`](Self::expand)
    /// no coefficient is fed back, so the errors of one order do not enter the next orders'
    /// inputs. With enclosures: every coefficient encloses the exact coefficient for every path
    /// whose coefficients lie in `path`'s.
    pub fn along(&mut self, path: &[V], order: usize) -> FieldExpansion<V> {
        let mut field = Vec::with_capacity(order + 1);
        let mut outputs = Vec::with_capacity(order + 1);
        self.chunks.iter_mut().for_each(|c| c.taylor.clear());
        let neg_inv_alpha = -(V::S::one() / self.alpha);
        for k in 0..=order {
            let (h, grad) = self.order_k(&path[..=k], k);
            outputs.push(h);
            field.push(self.penalised(grad.scale(neg_inv_alpha), &path[k], k));
        }
        FieldExpansion { field, outputs }
    }

    /// The point path from `start` (`proofs/taylor-recurrences.md`, section 6): `path[0] = start`
    /// and `path[k+1]` the midpoint of the computed `F(w(s))[k] / (k+1)` as an exact float, for
    /// `k <= order`; `field[k]` and `outputs[k]` (`k <= order`) enclose the exact coefficients of
    /// `F` and `h` along the polynomial path with these exact coefficients. No radius is fed
    /// back into the next orders.
    pub fn point_path(&mut self, start: &[f64], order: usize) -> PointPath<V> {
        let mut points = vec![V::from_points(start)];
        let mut path = vec![start.to_vec()];
        let mut field = Vec::with_capacity(order + 1);
        let mut outputs = Vec::with_capacity(order + 1);
        let neg_inv_alpha = -(V::S::one() / self.alpha);
        self.chunks.iter_mut().for_each(|c| c.taylor.clear());
        for k in 0..=order {
            let (h, grad) = self.order_k(&points, k);
            let inv = V::S::one() / V::S::exact((k + 1) as f64);
            let f = self.penalised(grad.scale(neg_inv_alpha), &points[k], k);
            let next = f.scale(inv).midpoints();
            points.push(V::from_points(&next));
            path.push(next);
            outputs.push(h);
            field.push(f);
        }
        PointPath { path, field, outputs }
    }

    /// Coefficient `k` of the field from that of `-(1/alpha) Dh^T r` (`field`) and the path's
    /// coefficient `w_k`: `field - lambda (w_k - w0 [k = 0])` with the penalty, `field` without
    /// (in displacements `w_0 - w0` is the path's coefficient 0 itself).
    fn penalised(&self, field: V, w_k: &V, k: usize) -> V {
        let Some((lambda, w0)) = &self.penalty else { return field };
        let displacement = if k == 0 && self.origin.is_none() { w_k.sub(w0) } else { w_k.clone() };
        field.sub(&displacement.scale(*lambda))
    }

    /// Order `k` of the outputs `h(w(s))` and of the loss gradient `Dh^T r` (`F = -grad / alpha`),
    /// given `params[0..=k]` and the workspaces' state after orders `0..k`.
    fn order_k(&mut self, params: &[V], k: usize) -> (V, V) {
        let alpha = self.alpha;
        let GradientFlow { chunks, origin, weights, parallel, .. } = self;
        if let Some(origin) = origin {
            weights.truncate(k);
            weights.push(if k == 0 { origin.add(&params[0]) } else { params[k].clone() });
        }
        let displaced = origin.is_some();
        let weights: &[V] = if displaced { weights } else { params };
        let step = |chunk: &mut Chunk<V>| -> (V, V) {
            let increment = chunk.forward(weights, k, &params[0], displaced);
            let h = chunk.taylor.outputs(k).clone();
            // r[k] = alpha (h[k] - offset [k = 0]) - y [k = 0]
            let residual = match (increment, &chunk.residual0) {
                (Some(increment), Some(r0)) => increment.scale(alpha).add(r0),
                _ if k == 0 => {
                    let centred = match &chunk.offset {
                        Some(off) => h.sub(off),
                        None => h.clone(),
                    };
                    centred.scale(alpha).sub(&chunk.targets)
                }
                _ => h.scale(alpha),
            };
            let grad = chunk.taylor.backward(weights, k, residual);
            (h, grad)
        };
        let results: Vec<(V, V)> = if *parallel { chunks.par_iter_mut().map(step).collect() } else { chunks.iter_mut().map(step).collect() };
        let (hs, grads): (Vec<V>, Vec<V>) = results.into_iter().unzip();
        let h = if hs.len() == 1 { hs.into_iter().next().expect("one chunk") } else { V::concat(&hs) };
        let mut grads = grads.into_iter();
        let mut grad = grads.next().expect("at least one chunk");
        for g in grads {
            grad = grad.add(&g);
        }
        (h, grad)
    }

    /// After [`expand`](Self::expand): the order-0 hidden activations, per hidden layer and
    /// input-major (`None` for the quadratic family). With enclosures they enclose the hidden
    /// activations at every point of the start box (the order-0 pass is the forward pass).
    pub fn start_activations(&self) -> Option<Vec<Vec<V::S>>> {
        let mut layers: Option<Vec<Vec<V::S>>> = None;
        for chunk in &self.chunks {
            let NetworkTaylor::Mlp(t) = &chunk.taylor else { return None };
            let hidden = t.net.num_layers() - 1;
            let acc = layers.get_or_insert_with(|| vec![Vec::new(); hidden]);
            for (l, layer) in acc.iter_mut().enumerate() {
                layer.extend(t.activations(l + 1, 0).to_scalars());
            }
        }
        layers
    }

    /// The network outputs `h(w)` (not centred, not scaled).
    pub fn outputs_at(&mut self, w: &V) -> Vec<V::S> {
        let params = vec![w.clone()];
        let mut all = Vec::with_capacity(self.num_outputs);
        for chunk in &mut self.chunks {
            chunk.taylor.clear();
            chunk.taylor.forward(&params, 0);
            all.extend(chunk.taylor.outputs(0).to_scalars());
        }
        all
    }
}

/// The Jacobian `Dh(w)` (`N x p`, rows input-major): one backward pass per output.
pub fn jacobian<S: Scalar>(problem: &Problem, w: &[S]) -> Vec<Vec<S>> {
    let out = problem.architecture.output_dim();
    let params = vec![w.to_vec()];
    let rows_of_input = |i: usize| -> Vec<Vec<S>> {
        let mut taylor: NetworkTaylor<Vec<S>> = match &problem.architecture {
            Architecture::Mlp(arch) => NetworkTaylor::Mlp(MlpSeries::new(Mlp::<S>::new(arch, &problem.inputs[i..i + 1]))),
            Architecture::Quadratic(q) => NetworkTaylor::Quadratic(QuadraticTaylor::new(q)),
        };
        taylor.forward(&params, 0);
        (0..out)
            .map(|o| {
                let mut unit = vec![S::zero(); out];
                unit[o] = S::one();
                taylor.backward(&params, 0, unit)
            })
            .collect()
    };
    (0..problem.num_inputs()).into_par_iter().flat_map_iter(rows_of_input).collect()
}
