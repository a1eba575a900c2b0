//! The multilayer perceptron: its Taylor expansion along a parameter curve `s -> w(s)`
//! (forward and backward passes, coefficient by coefficient), and norm bounds of its first and
//! second derivatives with respect to the parameters over a box.
//!
//! Notation (as in `problem::MlpArchitecture`): `a_0 = x`, `z_l = c_l W_l a_{l-1} + b_l`,
//! `a_l = sigma_l(z_l)` for hidden layers, `h = z_L`. `c_l = 1/sqrt(fan_in)` (NTK) or 1.

use super::activation::ActivationSeries;
use super::coeffs::CoeffVec;
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
    pub weight_offsets: Vec<usize>,
    pub bias_offsets: Vec<usize>,
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
}

/// Buffers of one Taylor expansion of an MLP over its inputs, in the coefficient representation
/// `V`. `z[l-1][k]` holds coefficient `k` of `z_l` for all inputs (`n x width_l`, row-major);
/// likewise the activation series and the backward-pass series `delta[l-1][k]` (the cotangent
/// of `z_l`).
#[derive(Debug, Clone)]
pub struct MlpSeries<V: CoeffVec> {
    pub net: Mlp<V::S>,
    /// The inputs `a_0 = x` (`n x d`).
    inputs: V,
    z: Vec<Vec<V>>,
    act: Vec<ActivationSeries<V>>,
    delta: Vec<Vec<V>>,
    /// `upstream[l-1][k]`: coefficient `k` of the cotangent of `a_l` (hidden layers).
    upstream: Vec<Vec<V>>,
}

/// The expansion with one scalar per entry.
pub type MlpTaylor<S> = MlpSeries<Vec<S>>;

impl<V: CoeffVec> MlpSeries<V> {
    pub fn new(net: Mlp<V::S>) -> Self {
        let layers = net.num_layers();
        let act = net.activations.iter().map(|&a| ActivationSeries::new(a)).collect();
        MlpSeries {
            inputs: V::from_scalars(&net.inputs),
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
    pub fn outputs(&self, k: usize) -> &V {
        &self.z[self.net.num_layers() - 1][k]
    }

    /// Pre-activations of layer `l` (1-based) at order `k`.
    pub fn pre_activations(&self, l: usize, k: usize) -> &V {
        &self.z[l - 1][k]
    }

    /// Activations of hidden layer `l` (1-based) at order `k`.
    pub fn activations(&self, l: usize, k: usize) -> &V {
        &self.act[l - 1].values[k]
    }

    /// The activations `a_{l-1}` at order `k` feeding layer `l` (the inputs for `l = 1`).
    fn layer_input(&self, l: usize, k: usize) -> &V {
        if l == 1 {
            &self.inputs
        } else {
            &self.act[l - 2].values[k]
        }
    }

    /// Computes coefficient `k` of every forward series from the parameter coefficients
    /// `w[0..=k]`; coefficients `< k` must have been computed.
    pub fn forward(&mut self, w: &[V], k: usize) {
        let n = self.net.num_inputs;
        let thin_kernel = thin_kernel(k);
        for l in 1..=self.net.num_layers() {
            let (din, dout) = (self.net.widths[l - 1], self.net.widths[l]);
            let mut zk = V::zeros(n * dout);
            // z_l[k] = c sum_j A[k-j] W[j]^T (+ b[k]); A_0 = x is constant.
            let js = if l == 1 { k..=k } else { 0..=k };
            for j in js {
                let a = self.layer_input(l, if l == 1 { 0 } else { k - j });
                V::matmul_acc(&mut zk, a, &w[j], self.net.weight_offsets[l - 1], din, dout, thin_kernel);
            }
            let mut zk = zk.scale(self.net.scales[l - 1]);
            if self.net.bias {
                V::add_bias(&mut zk, &w[k], self.net.bias_offsets[l - 1], dout);
            }
            set_coefficient(&mut self.z[l - 1], k, zk);
            if l < self.net.num_layers() {
                self.act[l - 1].push_order(&self.z[l - 1]);
            }
        }
    }

    /// Given coefficient `k` of the output cotangent (`n x outputs`), computes coefficient `k` of
    /// `sum_i Dh(x_i)^T cotangent_i` (the gradient, flat in the parameter layout). Needs the
    /// forward coefficients `<= k` and the cotangent coefficients `< k` from earlier calls.
    pub fn backward(&mut self, w: &[V], k: usize, cotangent: V) -> V {
        let n = self.net.num_inputs;
        let thin_kernel = thin_kernel(k);
        let layers = self.net.num_layers();
        let mut grad = V::zeros(self.net.num_params);
        set_coefficient(&mut self.delta[layers - 1], k, cotangent);
        for l in (1..=layers).rev() {
            let (din, dout) = (self.net.widths[l - 1], self.net.widths[l]);
            let c = self.net.scales[l - 1];
            // grad W_l[k] = c sum_j delta_l[j]^T A_{l-1}[k-j]
            let wo = self.net.weight_offsets[l - 1];
            let js = if l == 1 { k..=k } else { 0..=k };
            for j in js {
                let a = self.layer_input(l, if l == 1 { 0 } else { k - j });
                V::outer_acc(&mut grad, wo, &self.delta[l - 1][j], a, din, dout, thin_kernel);
            }
            V::scale_range(&mut grad, wo..wo + dout * din, c);
            if self.net.bias {
                V::column_sums_acc(&mut grad, self.net.bias_offsets[l - 1], &self.delta[l - 1][k], dout);
            }
            if l == 1 {
                break;
            }
            // e[k] = c sum_j delta_l[j] W_l[k-j]   (n x din)
            let mut e = V::zeros(n * din);
            for j in 0..=k {
                V::transposed_matmul_acc(&mut e, &self.delta[l - 1][j], &w[k - j], wo, din, dout, thin_kernel);
            }
            // delta_{l-1}[k] = sum_j sigma'_{l-1}[j] * e[k-j], e[k-j] from earlier orders.
            set_coefficient(&mut self.upstream[l - 2], k, e.scale(c));
            let dk = V::cauchy(k, &self.act[l - 2].slopes, &self.upstream[l - 2]);
            set_coefficient(&mut self.delta[l - 2], k, dk);
        }
        grad
    }
}

/// The order-0 forward state at the initial parameters `w0`, from which
/// [`MlpSeries::forward_by_differences`] encloses `h(w0 + u) - h(w0)` layer by layer.
#[derive(Debug, Clone)]
pub struct ForwardBase<V> {
    /// `w0` (an enclosure of the initial parameters).
    w0: V,
    /// `z_l(w0)` and `a_l(w0)` of the hidden layers (index `l - 1`).
    z: Vec<V>,
    act: Vec<V>,
    /// `h(w0)`.
    pub outputs: V,
}

impl<V> ForwardBase<V> {
    /// The enclosure of `w0` the state was computed at.
    pub fn w0(&self) -> &V {
        &self.w0
    }
}

impl<V: CoeffVec> MlpSeries<V> {
    /// The order-0 forward state at `w0` (one pass in a copy of the workspace).
    pub fn base_at(&self, w0: &V) -> ForwardBase<V> {
        let mut pass = MlpSeries::new(self.net.clone());
        pass.forward(std::slice::from_ref(w0), 0);
        let hidden = self.net.num_layers() - 1;
        ForwardBase {
            w0: w0.clone(),
            z: (1..=hidden).map(|l| pass.pre_activations(l, 0).clone()).collect(),
            act: (1..=hidden).map(|l| pass.activations(l, 0).clone()).collect(),
            outputs: pass.outputs(0).clone(),
        }
    }

    /// The order-0 forward pass at `w0 + u`, carried through the layers as differences from
    /// `w0` (`proofs/tube-integrator.md`, "Differences from w0", Lemma Δ), and an enclosure of
    /// `h(w0 + u) - h(w0)` for every `u` in `u` and `w0` in `base.w0`: `dz_l = c_l (U_l a_{l-1}(w)
    /// + W0_l da_{l-1}) + u_{b_l}` with `U_l` the weight block of `u`, `z_l = z_l(w0) + dz_l`,
    /// `a_l = sigma(z_l)`, and `da_l = sigma(z_l) - sigma(z_l(w0))` by the identities of
    /// [`activation::difference`](super::activation::difference) (per layer `a_l - a_l(w0)`
    /// for activations without one). Leaves the workspace as [`forward`](Self::forward)`(w, 0)`
    /// does, with enclosures of the same quantities, and replaces its layer product `W a`:
    /// this pass has two products per layer, both through the matrix-multiply kernel
    /// (`thin_kernel`; its rounding bound is relative to the increment), where `forward` plus
    /// the increment had three, one of them in per-entry ball loops. The increment's rounding
    /// is relative to the increment, not to `h`: near `w0` far narrower than `h(w) - h(w0)`
    /// from two separate enclosures.
    pub fn forward_by_differences(&mut self, u: &V, base: &ForwardBase<V>) -> V {
        let n = self.net.num_inputs;
        let layers = self.net.num_layers();
        let mut da: Option<V> = None;
        for l in 1..=layers {
            let (din, dout) = (self.net.widths[l - 1], self.net.widths[l]);
            let offset = self.net.weight_offsets[l - 1];
            let mut dz = V::zeros(n * dout);
            V::matmul_acc(&mut dz, self.layer_input(l, 0), u, offset, din, dout, true);
            if let Some(da) = &da {
                V::matmul_acc(&mut dz, da, &base.w0, offset, din, dout, true);
            }
            let mut dz = dz.scale(self.net.scales[l - 1]);
            if self.net.bias {
                V::add_bias(&mut dz, u, self.net.bias_offsets[l - 1], dout);
            }
            if l == layers {
                set_coefficient(&mut self.z[l - 1], 0, base.outputs.add(&dz));
                return dz;
            }
            let z0 = &base.z[l - 1];
            set_coefficient(&mut self.z[l - 1], 0, z0.add(&dz));
            self.act[l - 1].push_order(&self.z[l - 1]);
            let (a, a0) = (self.activations(l, 0), &base.act[l - 1]);
            let activation = self.net.activations[l - 1];
            da = Some(super::activation::difference(activation, &dz, z0, a, a0).unwrap_or_else(|| a.sub(a0)));
        }
        unreachable!("an MLP has at least one layer")
    }
}

/// Whether the layer products of order `k` may use the matrix-multiply kernel on thin operands.
/// Order 0 keeps the per-entry rounding bounds: along the integrator's point path its rounding is
/// the enclosures' floor (the field at the step's start, integrated over the whole step), while
/// order `k >= 1` enters the step scaled by `h^(k+1) / (k+1)`, where the kernel's up to
/// `sqrt(din)` wider bound is negligible and its speed is not (`proofs/fast-interval.md`,
/// "Matrix products").
fn thin_kernel(k: usize) -> bool {
    k >= 1
}

/// Stores coefficient `k` of a series whose coefficients `< k` are set (later ones are dropped).
fn set_coefficient<V>(series: &mut Vec<V>, k: usize, value: V) {
    series.truncate(k);
    assert_eq!(series.len(), k, "coefficient {k} set before the lower ones");
    series.push(value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_problems::{problem, thin, Rng};
    use crate::problem::Architecture;
    use crate::reference::outputs_at;
    use inari::Interval;
    use rug::Float;

    const PREC: u32 = 256;

    /// Lemma Δ: `forward_by_differences` contains `h(w0 + u)` and `h(w0 + u) - h(w0)` computed in MPFR, for every
    /// activation, with and without biases, at displacements from 1e-9 to 0.3; where an identity
    /// is used its width is relative to the increment (at most 1e-12 of it plus 1e-15 of `|h|`
    /// times the displacement), far below the two separate enclosures' 2^-53 |h| at small
    /// displacements.
    #[test]
    fn forward_by_differences_contains_the_mpfr_outputs_and_increment() {
        for (case, &act) in Activation::ALL.iter().enumerate() {
            for (scale_case, &scale) in [1e-9, 1e-4, 0.3].iter().enumerate() {
                let seed = 31 * case as u64 + scale_case as u64;
                let problem = problem(seed, vec![3, 5, 4, 2], act, case % 2 == 0, true, "0");
                let Architecture::Mlp(arch) = &problem.architecture else { unreachable!() };
                let mut rng = Rng(seed + 7);
                let u: Vec<f64> = problem.params0.iter().map(|_| scale * rng.next()).collect();
                let mut series = MlpSeries::<Vec<Interval>>::new(Mlp::new(arch, &problem.inputs));
                let base = series.base_at(&problem.params0);
                let weights: Vec<Interval> = problem.params0.iter().zip(&u).map(|(&x, &v)| x + thin(v)).collect();
                series.forward(&[weights], 0);
                let plain: Vec<Interval> = series.outputs(0).iter().zip(&base.outputs).map(|(&h, &h0)| h - h0).collect();
                let uv: Vec<Interval> = u.iter().map(|&v| thin(v)).collect();
                series.clear();
                let increment = series.forward_by_differences(&uv, &base);
                let w0: Vec<Float> = problem.params0.iter().map(|x| Float::with_val(PREC, x.inf())).collect();
                let w: Vec<Float> = w0.iter().zip(&u).map(|(x, &v)| Float::with_val(PREC, x + v)).collect();
                let (h, h0) = (outputs_at(&problem, &w, PREC), outputs_at(&problem, &w0, PREC));
                let identity = !matches!(act, Activation::Erf | Activation::Softplus | Activation::Gelu);
                for (i, (x, (a, b))) in increment.iter().zip(h.iter().zip(&h0)).enumerate() {
                    let output = series.outputs(0)[i];
                    assert!(*a >= output.inf() && *a <= output.sup(), "{act:?} scale {scale}: h[{i}] = {output:?} misses {a}");
                    let exact = Float::with_val(PREC, a - b);
                    assert!(exact >= x.inf() && exact <= x.sup(), "{act:?} scale {scale}: increment[{i}] = {x:?} misses {exact}");
                    if identity {
                        let allowed = 1e-12 * x.mag() + 1e-15 * scale * (1.0 + b.to_f64().abs());
                        assert!(x.wid() <= allowed, "{act:?} scale {scale}: increment[{i}] = {x:?} wider than {allowed:e}");
                        if scale < 1e-6 {
                            assert!(x.wid() * 100.0 < plain[i].wid(), "{act:?}: {x:?} not narrower than {:?}", plain[i]);
                        }
                    }
                }
            }
        }
    }
}
