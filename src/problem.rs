//! A fully resolved certification problem: what a spec file describes once its data files are
//! read and every number is enclosed. The spec layer (`crate::spec`) produces it; the flows,
//! enclosures and the reference integrator consume it.

use crate::arith::rational::Exact;
use inari::Interval;
use num_rational::BigRational;

/// Activation of the hidden layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    Tanh,
    Erf,
    Sigmoid,
    Softplus,
    Sin,
    /// `x Phi(x)` with `Phi` the standard normal distribution function (the erf form).
    Gelu,
    Identity,
}

impl Activation {
    pub const ALL: [Activation; 7] = [
        Activation::Tanh,
        Activation::Erf,
        Activation::Sigmoid,
        Activation::Softplus,
        Activation::Sin,
        Activation::Gelu,
        Activation::Identity,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Activation::Tanh => "tanh",
            Activation::Erf => "erf",
            Activation::Sigmoid => "sigmoid",
            Activation::Softplus => "softplus",
            Activation::Sin => "sin",
            Activation::Gelu => "gelu",
            Activation::Identity => "identity",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }
}

/// How pre-activations are scaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Parameterization {
    /// `z_l = W_l a_{l-1} / sqrt(fan_in) + b_l`.
    Ntk,
    /// `z_l = W_l a_{l-1} + b_l`.
    Standard,
}

/// A multilayer perceptron `x -> z_1 -> a_1 -> ... -> z_L = h(x)`.
///
/// `widths = [d, n_1, ..., n_{L-1}, outputs]`; layer `l` (1-based) maps width `widths[l-1]` to
/// `widths[l]`; hidden layer `l < L` applies `activations[l-1]`; the last layer is linear.
/// Parameter layout (flat vector): for `l = 1..=L`, `W_l` row-major (`widths[l] x widths[l-1]`),
/// then `b_l` (`widths[l]`) when `bias` is set.
#[derive(Debug, Clone, PartialEq)]
pub struct MlpArchitecture {
    pub widths: Vec<usize>,
    pub activations: Vec<Activation>,
    pub parameterization: Parameterization,
    pub bias: bool,
}

impl MlpArchitecture {
    pub fn num_layers(&self) -> usize {
        self.widths.len() - 1
    }
    pub fn input_dim(&self) -> usize {
        self.widths[0]
    }
    pub fn output_dim(&self) -> usize {
        *self.widths.last().expect("at least one layer")
    }
    pub fn num_params(&self) -> usize {
        (1..self.widths.len())
            .map(|l| self.widths[l] * self.widths[l - 1] + if self.bias { self.widths[l] } else { 0 })
            .sum()
    }
}

/// The scalar tightness family of MATH.md F7: one parameter, one output,
/// `h(w) = sqrt(lambda) w + (L/2) w^2`, `lambda = u / T`, `w0 = 0`.
#[derive(Debug, Clone, PartialEq)]
pub struct QuadraticModel {
    /// `lambda = u / T`, exact.
    pub lambda: BigRational,
    /// `L`, exact.
    pub lipschitz: BigRational,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Architecture {
    Mlp(MlpArchitecture),
    Quadratic(QuadraticModel),
}

impl Architecture {
    pub fn num_params(&self) -> usize {
        match self {
            Architecture::Mlp(a) => a.num_params(),
            Architecture::Quadratic(_) => 1,
        }
    }
    /// Outputs per input.
    pub fn output_dim(&self) -> usize {
        match self {
            Architecture::Mlp(a) => a.output_dim(),
            Architecture::Quadratic(_) => 1,
        }
    }
    /// Input dimension (0 for the quadratic family, which has a single empty input).
    pub fn input_dim(&self) -> usize {
        match self {
            Architecture::Mlp(a) => a.input_dim(),
            Architecture::Quadratic(_) => 0,
        }
    }
}

/// Everything the certifier needs. Every real number is held as an enclosure; decimal inputs
/// also keep their exact value.
#[derive(Debug, Clone)]
pub struct Problem {
    /// A label for reports (the spec's `name`, or its file stem).
    pub name: String,
    pub architecture: Architecture,
    /// Enclosure of the initial parameters `w0`, in the layout of the architecture.
    pub params0: Vec<Interval>,
    /// Training inputs, `n x d` (for the quadratic family: one empty input).
    pub inputs: Vec<Vec<Interval>>,
    /// Targets `y`, input-major: `targets[i * outputs + o]`; length `n * outputs`.
    pub targets: Vec<Interval>,
    /// Train the centred model `h(w) - h(w0)` (so `alpha h(w0)` is replaced by 0).
    pub centred: bool,
    /// Scale `alpha > 0`.
    pub alpha: Exact,
    /// Horizon `T >= 0`.
    pub horizon: Exact,
    /// Tolerance `eps >= 0`.
    pub tolerance: Exact,
    /// `lambda >= 0` of the penalty `(lambda/2) |w - w0|^2` added to the training objective
    /// (the spec's `[training] regularization`; 0: plain gradient flow). `w0` is the initial
    /// parameter vector (every point of `params0`'s enclosure, the same as the flow starts from).
    pub regularization: Exact,
    /// How the objective is minimised (the spec's `[training] method`).
    pub method: Method,
    /// The spec's `horizon = "inf"`: the claims are about all `t >= 0`. `horizon` is then the
    /// settling time `T1` (`[training] settle_time`): the flows are enclosed on `[0, T1]` and a
    /// tail argument covers `[T1, infinity)` (`proofs/infinite-horizon.md`).
    pub infinite_horizon: bool,
    /// `Q` of the reference model `h_Q(w) = sum_{r <= Q} D^r h(w0)[(w - w0)^r] / r!` whose
    /// training the network's is compared with (the spec's `[training] reference_order`;
    /// 1: the NTK linearisation, `2..=model::taylor_model::MAX_REFERENCE_ORDER`: the order-`Q`
    /// Taylor model trained by its own gradient flow, MLPs only).
    pub reference_order: usize,
}

/// The training method.
#[derive(Debug, Clone, PartialEq)]
pub enum Method {
    /// `w' = -grad F(w)` on `[0, T]` (the default).
    GradientFlow,
    /// `w_{k+1} = w_k - eta grad F(w_k)` for `k < K`, `T = K eta` (`[training] method =
    /// "gradient-descent"`).
    GradientDescent(Descent),
}

/// The parameters of gradient descent.
#[derive(Debug, Clone, PartialEq)]
pub struct Descent {
    /// The learning rate `eta > 0`, exact.
    pub learning_rate: Exact,
    /// `K = T / eta`, an integer by construction (the spec layer checks it).
    pub iterations: u64,
}

impl Problem {
    pub fn num_params(&self) -> usize {
        self.architecture.num_params()
    }
    pub fn num_inputs(&self) -> usize {
        self.inputs.len()
    }
    /// `N = n * outputs`.
    pub fn num_outputs(&self) -> usize {
        self.inputs.len() * self.architecture.output_dim()
    }
    /// The gradient-descent parameters, `None` for gradient flow.
    pub fn descent(&self) -> Option<&Descent> {
        match &self.method {
            Method::GradientDescent(d) => Some(d),
            Method::GradientFlow => None,
        }
    }
}

/// An activation as `ntkcert kernel` accepts it: every activation of the flows, and `relu`
/// (`max(x, 0)`, with `relu'(0) = 0` as in JAX), which only the kernel command accepts: the flow
/// theory (certify, simulate, bound) needs a Lipschitz Jacobian, and `relu'` jumps at 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KernelActivation {
    Flow(Activation),
    Relu,
}

impl KernelActivation {
    pub fn name(self) -> &'static str {
        match self {
            KernelActivation::Flow(a) => a.name(),
            KernelActivation::Relu => "relu",
        }
    }
}

/// What `ntkcert kernel` reads from a spec of `kind = "mlp"` (`crate::spec::load_kernel`): the
/// network and its initial weights (for the empirical kernel `K0 = J(w0) J(w0)^T`), the
/// variances of the infinite-width limit, and the training inputs. Proofs:
/// `proofs/infinite-width-kernels.md`.
#[derive(Debug, Clone)]
pub struct KernelProblem {
    pub name: String,
    /// `[d, n_1, ..., n_{L-1}, outputs]`, as in [`MlpArchitecture`].
    pub widths: Vec<usize>,
    /// One per hidden layer.
    pub activations: Vec<KernelActivation>,
    pub parameterization: Parameterization,
    pub bias: bool,
    /// `SW` of the limit (`[model] weight_variance`, exact, `>= 0`, default 1).
    pub weight_variance: Exact,
    /// `SB` of the limit (`[model] bias_variance`, exact, `>= 0`, default 0).
    pub bias_variance: Exact,
    /// Enclosure of the initial parameters `w0`, in the layout of [`MlpArchitecture`].
    pub params0: Vec<Interval>,
    /// Training inputs, `n x d`.
    pub inputs: Vec<Vec<Interval>>,
    /// The same spec as a flow problem, when every activation is one the flows support (no
    /// `relu`): the empirical kernel is then `enclose::linear::LinearFlow`'s.
    pub problem: Option<Problem>,
    /// `data.test_inputs` (`m x d`, possibly empty): where the infinite-width prediction is also
    /// given, through the cross-kernel.
    pub test_inputs: Vec<Vec<Interval>>,
    /// The training the spec describes, for the infinite-width prediction and its comparison with
    /// the finite-width linearised trajectory (`kernel::prediction`).
    pub training: KernelTraining,
}

/// The parts of a spec's training that `ntkcert kernel` uses.
#[derive(Debug, Clone)]
pub struct KernelTraining {
    /// Targets `y`, input-major (`targets[i * outputs + o]`).
    pub targets: Vec<Interval>,
    /// The spec's `centred`.
    pub centred: bool,
    /// `T` (the settling time for `horizon = "inf"`).
    pub horizon: Exact,
    pub infinite_horizon: bool,
    /// `lambda` of the penalty.
    pub regularization: Exact,
    /// `[training] method = "gradient-descent"`.
    pub gradient_descent: bool,
}

impl KernelTraining {
    /// The training of a flow problem.
    pub fn of(problem: &Problem) -> Self {
        KernelTraining {
            targets: problem.targets.clone(),
            centred: problem.centred,
            horizon: problem.horizon.clone(),
            infinite_horizon: problem.infinite_horizon,
            regularization: problem.regularization.clone(),
            gradient_descent: problem.method != Method::GradientFlow,
        }
    }
}

impl KernelProblem {
    /// The kernel problem of a flow problem's MLP (`None` for the tightness family), with the
    /// limit's variances `SW`, `SB`.
    pub fn from_flow(problem: &Problem, weight_variance: Exact, bias_variance: Exact) -> Option<Self> {
        let Architecture::Mlp(arch) = &problem.architecture else { return None };
        Some(KernelProblem {
            name: problem.name.clone(),
            widths: arch.widths.clone(),
            activations: arch.activations.iter().map(|&a| KernelActivation::Flow(a)).collect(),
            parameterization: arch.parameterization,
            bias: arch.bias,
            weight_variance,
            bias_variance,
            params0: problem.params0.clone(),
            inputs: problem.inputs.clone(),
            problem: Some(problem.clone()),
            test_inputs: Vec::new(),
            training: KernelTraining::of(problem),
        })
    }

    pub fn num_layers(&self) -> usize {
        self.widths.len() - 1
    }
    pub fn output_dim(&self) -> usize {
        *self.widths.last().expect("at least one layer")
    }
    pub fn num_params(&self) -> usize {
        (1..self.widths.len())
            .map(|l| self.widths[l] * self.widths[l - 1] + if self.bias { self.widths[l] } else { 0 })
            .sum()
    }
}
