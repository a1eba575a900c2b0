//! Random small MLP problems for the model layer's tests (deterministic, seeded).

use crate::arith::rational::Exact;
use crate::problem::{Activation, Architecture, Method, MlpArchitecture, Parameterization, Problem};
use inari::Interval;

/// The one-point interval `[v, v]`.
pub fn thin(v: f64) -> Interval {
    Interval::try_from((v, v)).expect("point")
}

/// A deterministic generator in [-1, 1) (splitmix64).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

/// An MLP problem with weights, 3 inputs and targets drawn from `Rng(seed)` (NTK
/// parameterisation for even seeds, standard for odd), `alpha = 1.5`, `T = 1`, penalty `lambda`.
pub fn problem(seed: u64, widths: Vec<usize>, activation: Activation, bias: bool, centred: bool, lambda: &str) -> Problem {
    let mut rng = Rng(seed);
    let arch = MlpArchitecture {
        activations: vec![activation; widths.len() - 2],
        widths,
        parameterization: if seed % 2 == 0 { Parameterization::Ntk } else { Parameterization::Standard },
        bias,
    };
    let p = arch.num_params();
    let d = arch.widths[0];
    let out = *arch.widths.last().expect("widths");
    let n = 3;
    Problem {
        name: "taylor-model".into(),
        params0: (0..p).map(|_| thin(rng.next())).collect(),
        inputs: (0..n).map(|_| (0..d).map(|_| thin(rng.next())).collect()).collect(),
        targets: (0..n * out).map(|_| thin(rng.next())).collect(),
        architecture: Architecture::Mlp(arch),
        centred,
        alpha: Exact::parse("1.5").expect("alpha"),
        horizon: Exact::from_integer(1),
        tolerance: Exact::from_integer(1),
        regularization: Exact::parse(lambda).expect("lambda"),
        method: Method::GradientFlow,
        infinite_horizon: false,
        reference_order: 1,
    }
}
