//! Shared by the integration tests: running the binary, and random small MLP problems for
//! property tests. (Each test crate uses a part of it.)
#![allow(dead_code)]

use inari::Interval;
use ntkcert::arith::rational::Exact;
use ntkcert::problem::{Activation, Architecture, MlpArchitecture, Parameterization, Problem};
use proptest::prelude::*;

/// The point interval `[x, x]`.
pub fn thin(x: f64) -> Interval {
    Interval::try_from((x, x)).expect("finite value")
}

/// A random MLP problem: 1-3 hidden layers of width `<= max_width`, `d <= 3`, `n <= 4`,
/// outputs `<= 2`, weights, inputs and targets in `[-magnitude, magnitude]` as thin intervals,
/// every activation, both parameterisations, with and without bias, centred or not, alpha and
/// T drawn from the given decimals.
pub fn arb_problem(
    max_width: usize,
    magnitude: f64,
    alphas: &'static [&'static str],
    horizons: &'static [&'static str],
) -> impl Strategy<Value = Problem> {
    let shape = (
        1usize..=3,
        1usize..=3,
        1usize..=4,
        1usize..=2,
        prop::collection::vec(1usize..=max_width, 3),
        prop::collection::vec(0usize..Activation::ALL.len(), 3),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        0usize..alphas.len(),
        0usize..horizons.len(),
    );
    shape
        .prop_flat_map(move |(depth, d, n, out, hidden, acts, standard, bias, centred, ai, hi)| {
            let mut widths = vec![d];
            widths.extend_from_slice(&hidden[..depth]);
            widths.push(out);
            let arch = MlpArchitecture {
                widths,
                activations: acts[..depth].iter().map(|&i| Activation::ALL[i]).collect(),
                parameterization: if standard { Parameterization::Standard } else { Parameterization::Ntk },
                bias,
            };
            let p = arch.num_params();
            let value = -magnitude..=magnitude;
            (
                Just(arch),
                prop::collection::vec(value.clone(), p),
                prop::collection::vec(prop::collection::vec(value.clone(), d), n),
                prop::collection::vec(value, n * out),
                Just((centred, ai, hi)),
            )
        })
        .prop_map(move |(arch, params, inputs, targets, (centred, ai, hi))| Problem {
            name: "random".into(),
            architecture: Architecture::Mlp(arch),
            params0: params.into_iter().map(thin).collect(),
            inputs: inputs.into_iter().map(|x| x.into_iter().map(thin).collect()).collect(),
            targets: targets.into_iter().map(thin).collect(),
            centred,
            alpha: Exact::parse(alphas[ai]).unwrap(),
            horizon: Exact::parse(horizons[hi]).unwrap(),
            tolerance: Exact::parse("1").unwrap(),
            regularization: Exact::from_integer(0),
            method: ntkcert::problem::Method::GradientFlow,
            infinite_horizon: false,
            reference_order: 1,
        })
}

/// The `ntkcert` binary built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_ntkcert");

/// The repository root.
pub fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the binary from the repository root, without stdin.
pub fn ntkcert<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> std::process::Output {
    std::process::Command::new(BIN)
        .args(args)
        .current_dir(root())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run ntkcert")
}

/// The exit code of a finished run.
pub fn code(out: &std::process::Output) -> i32 {
    out.status.code().expect("exit code (not killed by a signal)")
}

/// A version-1 `.npy` file of little-endian float64 values.
pub fn npy_f64(shape: &[usize], values: &[f64]) -> Vec<u8> {
    ntkcert::spec::data::npy_f64_bytes(shape, values)
}
