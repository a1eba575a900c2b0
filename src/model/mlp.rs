//! The multilayer perceptron: its Taylor expansion along a parameter curve `s -> w(s)`
//! (forward and backward passes, coefficient by coefficient), and norm bounds of its first and
//! second derivatives with respect to the parameters over a box.
//!
//! Notation (as in `problem::MlpArchitecture`): `a_0 = x`, `z_l = c_l W_l a_{l-1} + b_l`,
//! `a_l = sigma_l(z_l)` for hidden layers, `h = z_L`. `c_l = 1/sqrt(fan_in)` (NTK) or 1.

use super::activation::{cauchy, ActivationSeries};
use crate::arith::scalar::Scalar;
use crate::problem::{Activation, MlpArchitecture, Parameterization};
use inari::Interval;

/// An MLP with its training inputs, its constants converted to the scalar type `S`.
#[derive(Debug, Clone)]
pub struct Mlp<S> {
    pub widths: Vec<usize>,
    pub activations: Vec<Activation>,
    pub bias: bool,
    /// `c_l` per layer (index `l - 1`).
    pub scales: Vec<S>,
    /// Inputs, row-major `n x d`.
    pub inputs: Vec<S>,
    pub num_inputs: usize,
    /// Offset of `W_l` and of `b_l` in the flat parameter vector (index `l - 1`).
    weight_offsets: Vec<usize>,
    bias_offsets: Vec<usize>,
    pub num_params: usize,
}

impl<S: Scalar> Mlp<S> {
    pub fn new(arch: &MlpArchitecture, inputs: &[Vec<Interval>]) -> Self {
        let layers = arch.num_layers();
        let mut weight_offsets = Vec::with_capacity(layers);
        let mut bias_offsets = Vec::with_capacity(layers);
        let mut offset = 0;
        for l in 1..=layers {
            weight_offsets.push(offset);
            offset += arch.widths[l] * arch.widths[l - 1];
            bias_offsets.push(offset);
            if arch.bias {
                offset += arch.widths[l];
            }
        }
        let scales = (1..=layers)
            .map(|l| match arch.parameterization {
                Parameterization::Ntk => S::exact(arch.widths[l - 1] as f64).sqrt().recip(),
                Parameterization::Standard => S::one(),
            })
            .collect();
        Mlp {
            widths: arch.widths.clone(),
            activations: arch.activations.clone(),
            bias: arch.bias,
            scales,
            inputs: inputs.iter().flatten().map(|&v| S::from_interval(v)).collect(),
            num_inputs: inputs.len(),
            weight_offsets,
            bias_offsets,
            num_params: offset,
        }
    }

    pub fn num_layers(&self) -> usize {
        self.widths.len() - 1
    }

    pub fn output_dim(&self) -> usize {
        *self.widths.last().unwrap()
    }

    /// The same network restricted to inputs `range`.
    pub fn restricted(&self, range: std::ops::Range<usize>) -> Self {
        let d = self.widths[0];
        let mut sub = self.clone();
        sub.inputs = self.inputs[range.start * d..range.end * d].to_vec();
        sub.num_inputs = range.len();
        sub
    }

    /// The slice of `W_l` (1-based layer) in the flat parameters `w`.
    pub fn weights<'a, T>(&self, w: &'a [T], l: usize) -> &'a [T] {
        let o = self.weight_offsets[l - 1];
        &w[o..o + self.widths[l] * self.widths[l - 1]]
    }

    fn biases<'a, T>(&self, w: &'a [T], l: usize) -> &'a [T] {
        let o = self.bias_offsets[l - 1];
        &w[o..o + self.widths[l]]
    }
}

/// Buffers of one Taylor expansion of an MLP over its inputs. `z[l-1][k]` holds coefficient `k`
/// of `z_l` for all inputs (`n x width_l`, row-major); likewise the activation series and the
/// backward-pass series `delta[l-1][k]` (the cotangent of `z_l`).
#[derive(Debug, Clone)]
pub struct MlpTaylor<S> {
    pub net: Mlp<S>,
    z: Vec<Vec<Vec<S>>>,
    act: Vec<ActivationSeries<S>>,
    delta: Vec<Vec<Vec<S>>>,
    /// `upstream[l-1][k]`: coefficient `k` of the cotangent of `a_l` (hidden layers).
    upstream: Vec<Vec<Vec<S>>>,
}

impl<S: Scalar> MlpTaylor<S> {
    pub fn new(net: Mlp<S>) -> Self {
        let layers = net.num_layers();
        let act = net.activations.iter().map(|&a| ActivationSeries::new(a)).collect();
        MlpTaylor {
            z: vec![Vec::new(); layers],
            delta: vec![Vec::new(); layers],
            upstream: vec![Vec::new(); layers.saturating_sub(1)],
            act,
            net,
        }
    }

    /// Forgets every coefficient.
    pub fn clear(&mut self) {
        self.z.iter_mut().for_each(Vec::clear);
        self.delta.iter_mut().for_each(Vec::clear);
        self.upstream.iter_mut().for_each(Vec::clear);
        self.act.iter_mut().for_each(ActivationSeries::clear);
    }

    /// Coefficient `k` of the outputs `h` (`n x outputs`), after `forward(.., k)`.
    pub fn outputs(&self, k: usize) -> &[S] {
        &self.z[self.net.num_layers() - 1][k]
    }

    /// Pre-activations of layer `l` (1-based) at order `k`.
    pub fn pre_activations(&self, l: usize, k: usize) -> &[S] {
        &self.z[l - 1][k]
    }

    /// Activations of hidden layer `l` (1-based) at order `k`.
    pub fn activations(&self, l: usize, k: usize) -> &[S] {
        &self.act[l - 1].values[k]
    }

    /// Computes coefficient `k` of every forward series from the parameter coefficients
    /// `w[0..=k]`; coefficients `< k` must have been computed.
    pub fn forward(&mut self, w: &[Vec<S>], k: usize) {
        let net = &self.net;
        let n = net.num_inputs;
        for l in 1..=net.num_layers() {
            let (din, dout) = (net.widths[l - 1], net.widths[l]);
            let c = net.scales[l - 1];
            let mut zk = vec![S::zero(); n * dout];
            // z_l[k] = c sum_j A[k-j] W[j]^T (+ b[k]); A_0 = x is constant.
            let js: Vec<usize> = if l == 1 { vec![k] } else { (0..=k).collect() };
            for j in js {
                let wl = net.weights(&w[j], l);
                let a: &[S] = if l == 1 { &net.inputs } else { &self.act[l - 2].values[k - j] };
                for i in 0..n {
                    let arow = &a[i * din..(i + 1) * din];
                    for o in 0..dout {
                        let wrow = &wl[o * din..(o + 1) * din];
                        zk[i * dout + o] = S::dot(zk[i * dout + o], arow, wrow);
                    }
                }
            }
            let b = if net.bias { Some(net.biases(&w[k], l)) } else { None };
            for i in 0..n {
                for o in 0..dout {
                    let v = c * zk[i * dout + o];
                    zk[i * dout + o] = match b {
                        Some(b) => v + b[o],
                        None => v,
                    };
                }
            }
            if self.z[l - 1].len() <= k {
                self.z[l - 1].resize(k + 1, Vec::new());
            }
            self.z[l - 1][k] = zk;
            if l < net.num_layers() {
                self.act[l - 1].push_order(&self.z[l - 1]);
            }
        }
    }

    /// Given coefficient `k` of the output cotangent (`n x outputs`), computes coefficient `k` of
    /// `sum_i Dh(x_i)^T cotangent_i` (the gradient, flat in the parameter layout). Needs the
    /// forward coefficients `<= k` and the cotangent coefficients `< k` from earlier calls.
    pub fn backward(&mut self, w: &[Vec<S>], k: usize, cotangent: Vec<S>) -> Vec<S> {
        let net = &self.net;
        let n = net.num_inputs;
        let layers = net.num_layers();
        let mut grad = vec![S::zero(); net.num_params];
        set_coefficient(&mut self.delta[layers - 1], k, cotangent);
        for l in (1..=layers).rev() {
            let (din, dout) = (net.widths[l - 1], net.widths[l]);
            let c = net.scales[l - 1];
            // grad W_l[k] = c sum_j delta_l[j]^T A_{l-1}[k-j]
            let wo = net.weight_offsets[l - 1];
            let js: Vec<usize> = if l == 1 { vec![k] } else { (0..=k).collect() };
            for j in js {
                let dl = &self.delta[l - 1][j];
                let a: &[S] = if l == 1 { &net.inputs } else { &self.act[l - 2].values[k - j] };
                for i in 0..n {
                    let arow = &a[i * din..(i + 1) * din];
                    for o in 0..dout {
                        let dv = dl[i * dout + o];
                        let g = &mut grad[wo + o * din..wo + (o + 1) * din];
                        for (gv, av) in g.iter_mut().zip(arow) {
                            *gv = dv.mul_add(*av, *gv);
                        }
                    }
                }
            }
            for g in &mut grad[wo..wo + dout * din] {
                *g = c * *g;
            }
            if net.bias {
                let bo = net.bias_offsets[l - 1];
                let dl = &self.delta[l - 1][k];
                for i in 0..n {
                    for o in 0..dout {
                        grad[bo + o] += dl[i * dout + o];
                    }
                }
            }
            if l == 1 {
                break;
            }
            // e[k] = c sum_j delta_l[j] W_l[k-j]   (n x din)
            let mut e = vec![S::zero(); n * din];
            for j in 0..=k {
                let dl = &self.delta[l - 1][j];
                let wl = net.weights(&w[k - j], l);
                for i in 0..n {
                    let erow = &mut e[i * din..(i + 1) * din];
                    for o in 0..dout {
                        let dv = dl[i * dout + o];
                        for (ev, wv) in erow.iter_mut().zip(&wl[o * din..(o + 1) * din]) {
                            *ev = dv.mul_add(*wv, *ev);
                        }
                    }
                }
            }
            for v in &mut e {
                *v = c * *v;
            }
            // delta_{l-1}[k] = sum_j sigma'_{l-1}[j] * e[k-j], e[k-j] from earlier orders.
            set_coefficient(&mut self.upstream[l - 2], k, e);
            let slopes = &self.act[l - 2].slopes;
            let es = &self.upstream[l - 2];
            let dk: Vec<S> = cauchy(k, slopes, es);
            set_coefficient(&mut self.delta[l - 2], k, dk);
        }
        grad
    }
}

fn set_coefficient<S: Clone>(series: &mut Vec<Vec<S>>, k: usize, value: Vec<S>) {
    if series.len() <= k {
        series.resize(k + 1, Vec::new());
    }
    series[k] = value;
}
