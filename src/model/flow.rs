//! The gradient-flow vector field `F(w) = -(1/alpha) Dh(w)^T (alpha g(w) - y)` and its Taylor
//! expansion along the solution through a given point (or box) of parameters.
//!
//! With `u(s)` the solution from `u(0) = w0`, `u' = F(u)` gives `u[k+1] = F(u(s))[k] / (k+1)`,
//! and `F(u(s))[k]` needs only `u[0..=k]`: forward and backward passes are run order by order.
//! Proof: `proofs/taylor-recurrences.md`.

use super::mlp::{Mlp, MlpTaylor};
use super::quadratic::QuadraticTaylor;
use crate::arith::scalar::Scalar;
use crate::problem::{Architecture, Problem};
use inari::Interval;
use rayon::prelude::*;

/// A network's Taylor workspace.
#[derive(Debug, Clone)]
pub enum NetworkTaylor<S> {
    Mlp(MlpTaylor<S>),
    Quadratic(QuadraticTaylor<S>),
}

impl<S: Scalar> NetworkTaylor<S> {
    fn clear(&mut self) {
        match self {
            NetworkTaylor::Mlp(t) => t.clear(),
            NetworkTaylor::Quadratic(t) => t.clear(),
        }
    }
    fn forward(&mut self, w: &[Vec<S>], k: usize) {
        match self {
            NetworkTaylor::Mlp(t) => t.forward(w, k),
            NetworkTaylor::Quadratic(t) => t.forward(w, k),
        }
    }
    fn outputs(&self, k: usize) -> &[S] {
        match self {
            NetworkTaylor::Mlp(t) => t.outputs(k),
            NetworkTaylor::Quadratic(t) => t.outputs(k),
        }
    }
    fn backward(&mut self, w: &[Vec<S>], k: usize, cotangent: Vec<S>) -> Vec<S> {
        match self {
            NetworkTaylor::Mlp(t) => t.backward(w, k, cotangent),
            NetworkTaylor::Quadratic(t) => t.backward(w, k, cotangent),
        }
    }
}

/// The Taylor coefficients of one expansion: `params[k]` of `u(s)` (`k <= order + 1`) and
/// `outputs[k]` of `h(u(s))` (`k <= order`), input-major.
#[derive(Debug, Clone)]
pub struct Expansion<S> {
    pub params: Vec<Vec<S>>,
    pub outputs: Vec<Vec<S>>,
}

impl<S: Scalar> Expansion<S> {
    /// A step length `h` for which the terms of orders `q-1..=q+1` of the parameter series and
    /// `q-1..=q` of `alpha` times the output series stay below the tolerances (`q = order`).
    /// A heuristic: the rigorous integrator verifies the remainder afterwards.
    pub fn step_for(&self, order: usize, alpha: f64, tol_params: f64, tol_outputs: f64) -> f64 {
        let max_mag = |v: &[S]| v.iter().map(|x| x.magnitude()).fold(0.0, f64::max);
        let mut h = f64::INFINITY;
        for j in [order - 1, order, order + 1] {
            let size = max_mag(&self.params[j]);
            if size > 0.0 {
                h = h.min((tol_params / size).powf(1.0 / j as f64));
            }
            if j <= order {
                let size = alpha * max_mag(&self.outputs[j]);
                if size > 0.0 {
                    h = h.min((tol_outputs / size).powf(1.0 / j as f64));
                }
            }
        }
        h
    }
}

/// One chunk of inputs with its workspace and its slice of targets/offsets.
#[derive(Debug, Clone)]
struct Chunk<S> {
    taylor: NetworkTaylor<S>,
    targets: Vec<S>,
    offset: Option<Vec<S>>,
}

/// The gradient flow of a problem, in scalar type `S`.
#[derive(Debug, Clone)]
pub struct GradientFlow<S> {
    chunks: Vec<Chunk<S>>,
    pub alpha: S,
    pub num_params: usize,
    pub num_outputs: usize,
    parallel: bool,
}

/// Builds the Taylor workspace of a problem's network over all its inputs.
pub fn network_taylor<S: Scalar>(problem: &Problem) -> NetworkTaylor<S> {
    match &problem.architecture {
        Architecture::Mlp(arch) => NetworkTaylor::Mlp(MlpTaylor::new(Mlp::new(arch, &problem.inputs))),
        Architecture::Quadratic(q) => NetworkTaylor::Quadratic(QuadraticTaylor::new(q)),
    }
}

impl<S: Scalar> GradientFlow<S> {
    /// `offset`: `h(w0)` for the centred model (an enclosure), `None` to train `h` itself.
    pub fn new(problem: &Problem, offset: Option<&[Interval]>) -> Self {
        let n = problem.num_inputs();
        let out = problem.architecture.output_dim();
        let work = problem.num_params() * n;
        let parallel = work >= 4_000 && n >= 2 && rayon::current_num_threads() > 1;
        let num_chunks = if parallel { rayon::current_num_threads().min(n) } else { 1 };
        let full = network_taylor::<S>(problem);
        let targets: Vec<S> = problem.targets.iter().map(|&v| S::from_interval(v)).collect();
        let offset: Option<Vec<S>> = offset.map(|o| o.iter().map(|&v| S::from_interval(v)).collect());
        let chunks = (0..num_chunks)
            .map(|c| {
                let range = (c * n / num_chunks)..((c + 1) * n / num_chunks);
                let taylor = match &full {
                    NetworkTaylor::Mlp(t) if num_chunks > 1 => NetworkTaylor::Mlp(MlpTaylor::new(t.net.restricted(range.clone()))),
                    other => other.clone(),
                };
                let outs = range.start * out..range.end * out;
                Chunk {
                    taylor,
                    targets: targets[outs.clone()].to_vec(),
                    offset: offset.as_ref().map(|o| o[outs].to_vec()),
                }
            })
            .collect();
        GradientFlow {
            chunks,
            alpha: S::from_interval(problem.alpha.enclosure),
            num_params: problem.num_params(),
            num_outputs: problem.num_outputs(),
            parallel,
        }
    }

    /// Taylor coefficients of the solution through `start` up to order `order + 1`, and of the
    /// outputs up to `order`. With intervals, each coefficient encloses the exact coefficient of
    /// the solution through every point of the box `start`.
    pub fn expand(&mut self, start: &[S], order: usize) -> Expansion<S> {
        let mut params = vec![start.to_vec()];
        let mut outputs = Vec::with_capacity(order + 1);
        let alpha = self.alpha;
        let neg_inv_alpha = -(S::one() / alpha);
        self.chunks.iter_mut().for_each(|c| c.taylor.clear());
        for k in 0..=order {
            let step = |chunk: &mut Chunk<S>| -> (Vec<S>, Vec<S>) {
                chunk.taylor.forward(&params, k);
                let h = chunk.taylor.outputs(k).to_vec();
                // r[k] = alpha (h[k] - offset [k = 0]) - y [k = 0]
                let residual: Vec<S> = h
                    .iter()
                    .enumerate()
                    .map(|(i, &hv)| {
                        if k == 0 {
                            let centred = match &chunk.offset {
                                Some(off) => hv - off[i],
                                None => hv,
                            };
                            alpha * centred - chunk.targets[i]
                        } else {
                            alpha * hv
                        }
                    })
                    .collect();
                let grad = chunk.taylor.backward(&params, k, residual);
                (h, grad)
            };
            let results: Vec<(Vec<S>, Vec<S>)> = if self.parallel {
                self.chunks.par_iter_mut().map(step).collect()
            } else {
                self.chunks.iter_mut().map(step).collect()
            };
            let mut h_all = Vec::with_capacity(self.num_outputs);
            let mut grad = vec![S::zero(); self.num_params];
            for (h, g) in results {
                h_all.extend(h);
                for (a, b) in grad.iter_mut().zip(g) {
                    *a += b;
                }
            }
            outputs.push(h_all);
            let inv = S::one() / S::exact((k + 1) as f64);
            let factor = neg_inv_alpha * inv;
            params.push(grad.into_iter().map(|g| factor * g).collect());
        }
        Expansion { params, outputs }
    }

    /// After [`expand`](Self::expand): the order-0 hidden activations, per hidden layer and
    /// input-major (`None` for the quadratic family). With intervals they enclose the hidden
    /// activations at every point of the start box (the order-0 pass is the forward pass).
    pub fn start_activations(&self) -> Option<Vec<Vec<S>>> {
        let mut layers: Option<Vec<Vec<S>>> = None;
        for chunk in &self.chunks {
            let NetworkTaylor::Mlp(t) = &chunk.taylor else { return None };
            let hidden = t.net.num_layers() - 1;
            let acc = layers.get_or_insert_with(|| vec![Vec::new(); hidden]);
            for (l, layer) in acc.iter_mut().enumerate() {
                layer.extend_from_slice(t.activations(l + 1, 0));
            }
        }
        layers
    }

    /// The network outputs `h(w)` (not centred, not scaled).
    pub fn outputs_at(&mut self, w: &[S]) -> Vec<S> {
        let params = vec![w.to_vec()];
        let mut all = Vec::with_capacity(self.num_outputs);
        for chunk in &mut self.chunks {
            chunk.taylor.clear();
            chunk.taylor.forward(&params, 0);
            all.extend_from_slice(chunk.taylor.outputs(0));
        }
        all
    }
}

/// The Jacobian `Dh(w)` (`N x p`, rows input-major): one backward pass per output.
pub fn jacobian<S: Scalar>(problem: &Problem, w: &[S]) -> Vec<Vec<S>> {
    let out = problem.architecture.output_dim();
    let params = vec![w.to_vec()];
    let rows_of_input = |i: usize| -> Vec<Vec<S>> {
        let mut taylor = match &problem.architecture {
            crate::problem::Architecture::Mlp(arch) => {
                NetworkTaylor::Mlp(MlpTaylor::new(Mlp::<S>::new(arch, &problem.inputs[i..i + 1])))
            }
            crate::problem::Architecture::Quadratic(q) => NetworkTaylor::Quadratic(QuadraticTaylor::new(q)),
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
