//! The spec layer: shipped specs load, GF-MLP values are tight enclosures of the true values,
//! decimals are exact, and every kind of bad input is rejected with a one-line message naming
//! the file and the field.

mod common;
use common::npy_f64;
use inari::Interval;
use ntkcert::arith::rational::{interval_contains_rational, parse_decimal};
use ntkcert::problem::{Activation, Architecture, Parameterization};
use ntkcert::spec::{self, LoadedSpec, SpecError, SpecErrorKind};
use num_bigint::BigInt;
use num_rational::BigRational;
use rug::Float;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn specs_in(dir: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    v.sort();
    v
}

fn load(rel: &str) -> LoadedSpec {
    spec::load(&root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn rat(n: i64, d: i64) -> BigRational {
    BigRational::new(BigInt::from(n), BigInt::from(d))
}

/// `x` contains the 200-bit value `v` and is at most `ulps` ulps wide.
fn assert_tight(x: Interval, v: &Float, ulps: u32, what: &str) {
    assert!(*v >= x.inf() && *v <= x.sup(), "{what}: {x:?} does not contain {v}");
    let mut hi = x.inf();
    for _ in 0..ulps {
        hi = hi.next_up();
    }
    assert!(x.sup() <= hi, "{what}: {x:?} wider than {ulps} ulps");
}

// ---------------------------------------------------------------------------------------------
// Shipped specs.

#[test]
fn every_shipped_spec_loads() {
    let bench = specs_in("specs/bench");
    let examples = specs_in("specs/examples");
    assert_eq!(bench.len(), 7, "{bench:?}");
    assert!(examples.len() >= 5, "{examples:?}");
    for p in bench.iter().chain(&examples) {
        let s = spec::load(p).unwrap_or_else(|e| panic!("{e}"));
        let pb = &s.problem;
        assert_eq!(pb.params0.len(), pb.num_params(), "{}", p.display());
        assert_eq!(pb.targets.len(), pb.num_outputs(), "{}", p.display());
        for x in &pb.inputs {
            assert_eq!(x.len(), pb.architecture.input_dim());
        }
        assert!(pb.alpha.is_positive());
        assert_eq!(s.spec_sha256.len(), 64);
        for f in &s.data_files {
            let bytes = std::fs::read(&f.resolved).unwrap();
            assert_eq!(f.sha256, hex::encode(Sha256::digest(&bytes)), "{}", f.path);
        }
    }
}

#[test]
fn benchmark_sizes() {
    for (file, m, d, n, alpha, t) in [
        ("gf-mlp-small", 16, 2, 8, 10, 5),
        ("gf-mlp-capd-edge", 96, 2, 16, 10, 5),
        ("gf-mlp-mid", 256, 8, 32, 100, 10),
        ("gf-mlp-large", 4096, 16, 64, 100, 10),
    ] {
        let s = load(&format!("specs/bench/{file}.toml"));
        let pb = &s.problem;
        assert_eq!(pb.name, file);
        match &pb.architecture {
            Architecture::Mlp(a) => {
                assert_eq!(a.widths, vec![d, m, 1]);
                assert_eq!(a.activations, vec![Activation::Tanh]);
                assert_eq!(a.parameterization, Parameterization::Ntk);
                assert!(!a.bias);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(pb.num_params(), m * d + m);
        assert_eq!(pb.inputs.len(), n);
        assert_eq!(pb.targets.len(), n);
        assert!(pb.centred);
        assert_eq!(pb.alpha.value, rat(alpha, 1));
        assert_eq!(pb.horizon.value, rat(t, 1));
        assert!(s.data_files.is_empty());
    }
}

#[test]
fn gf_mlp_values_enclose_high_precision_values() {
    let s = load("specs/bench/gf-mlp-capd-edge.toml");
    let pb = &s.problem;
    let (m, d) = (96usize, 2usize);
    let f = |x: f64| Float::with_val(200, x);
    // x_i[k] = sin(1 + i + 2k + i k / 2)
    for (i, k) in [(0usize, 0usize), (3, 1), (15, 1), (7, 0)] {
        let arg = f(1.0 + i as f64 + 2.0 * k as f64 + 0.5 * (i * k) as f64);
        assert_tight(pb.inputs[i][k], &arg.sin(), 2, &format!("x_{i}[{k}]"));
    }
    // y_i = cos(1 + 3i) / 2
    for i in [0usize, 2, 15] {
        let v = f(1.0 + 3.0 * i as f64).cos() / 2u32;
        assert_tight(pb.targets[i], &v, 2, &format!("y_{i}"));
    }
    // W0_jk = cos(1 + 5j + 3k), row-major
    for (j, k) in [(0usize, 0usize), (5, 1), (95, 1)] {
        let v = f(1.0 + 5.0 * j as f64 + 3.0 * k as f64).cos();
        assert_tight(pb.params0[j * d + k], &v, 2, &format!("W0_{j},{k}"));
    }
    // a0_j = sin(2 + 7j), after W
    for j in [0usize, 7, 95] {
        let v = f(2.0 + 7.0 * j as f64).sin();
        assert_tight(pb.params0[m * d + j], &v, 2, &format!("a0_{j}"));
    }
    // The same generator in the largest benchmark: the last entries.
    let large = load("specs/bench/gf-mlp-large.toml");
    let (m, d) = (4096usize, 16usize);
    let v = f(1.0 + 5.0 * 4095.0 + 3.0 * 15.0).cos();
    assert_tight(large.problem.params0[(m - 1) * d + 15], &v, 2, "W0_4095,15");
    let v = f(1.0 + 63.0 + 30.0 + 0.5 * 63.0 * 15.0).sin();
    assert_tight(large.problem.inputs[63][15], &v, 2, "x_63[15]");
}

#[test]
fn tightness_example() {
    let s = load("specs/examples/tightness.toml");
    let pb = &s.problem;
    match &pb.architecture {
        Architecture::Quadratic(q) => {
            assert_eq!(q.lambda, rat(8, 100)); // u / T = 0.8 / 10
            assert_eq!(q.lipschitz, rat(1, 1));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(pb.params0.len(), 1);
    assert_eq!((pb.params0[0].inf(), pb.params0[0].sup()), (0.0, 0.0));
    assert_eq!(pb.inputs, vec![Vec::<Interval>::new()]);
    assert_eq!((pb.targets[0].inf(), pb.targets[0].sup()), (1.0, 1.0));
    assert_eq!(pb.alpha.value, parse_decimal("7071.0678118654755").unwrap());
    assert_eq!(pb.horizon.value, rat(10, 1));
}

#[test]
fn inline_example_layers_match_flat_layout() {
    let s = load("specs/examples/mlp-inline.toml");
    let pb = &s.problem;
    let Architecture::Mlp(a) = &pb.architecture else { panic!() };
    assert_eq!(a.widths, vec![3, 4, 3, 2]);
    assert_eq!(a.activations, vec![Activation::Erf, Activation::Erf]);
    assert_eq!(a.parameterization, Parameterization::Standard);
    assert!(a.bias && !pb.centred);
    assert_eq!(pb.num_params(), 12 + 4 + 12 + 3 + 6 + 2);
    assert_eq!(pb.targets.len(), 8);
    assert_eq!(s.solver.order, Some(12));
    assert_eq!(s.solver.max_steps, Some(100000));
    // W1[0][1] = -0.25, b1 starts at 12, W2 at 16, b3[1] = 1/10 is the last parameter.
    assert_eq!(pb.params0[1].inf(), -0.25);
    assert!(interval_contains_rational(pb.params0[12], &rat(1, 10)));
    assert!(interval_contains_rational(pb.params0[16], &rat(3, 10)));
    assert!(interval_contains_rational(*pb.params0.last().unwrap(), &rat(1, 10)));
    // targets are input-major: targets[i * 2 + o]
    assert!(interval_contains_rational(pb.targets[3], &rat(4, 10)));
    // The same model with flat values.
    let text = std::fs::read_to_string(root().join("specs/examples/mlp-inline.toml")).unwrap();
    let start = text.find("[weights]").unwrap();
    let end = text.find("[data]").unwrap();
    let mut values = Vec::new();
    let first_layer = text.find("[[weights.layers]]").unwrap();
    for tok in text[first_layer..end].split('"').skip(1).step_by(2) {
        values.push(format!("\"{tok}\""));
    }
    let flat_text = format!(
        "{}[weights]\nsource = \"inline\"\nvalues = [{}]\n\n{}",
        &text[..start],
        values.join(", "),
        &text[end..]
    );
    let s2 = spec::load_str(&flat_text, &root().join("specs/examples"), "flat.toml").unwrap();
    assert_eq!(s2.problem.params0, pb.params0);
    assert_ne!(s2.spec_sha256, s.spec_sha256);
}

#[test]
fn npy_safetensors_csv_examples() {
    let s = load("specs/examples/mlp-npy.toml");
    let pb = &s.problem;
    assert_eq!(pb.num_params(), 16 + 8 + 8 + 1);
    assert_eq!(pb.inputs.len(), 5);
    assert_eq!(s.data_files.len(), 6);
    assert_eq!(s.data_files[0].path, "npy_W1.npy");
    assert_eq!(s.data_files[0].field, "weights.files[0]");
    assert_eq!(s.data_files[4].field, "data.inputs_file");
    // binary values are thin
    assert!(pb.params0.iter().chain(&pb.targets).all(|x| x.inf() == x.sup()));
    // W1[0][0] = sin(0.5) as written by make_data.py (f64)
    assert_eq!(pb.params0[0].inf(), 0.5f64.sin());
    // W2 is float32
    let w2_0 = pb.params0[24].inf();
    assert_eq!(w2_0 as f32 as f64, w2_0);

    let s = load("specs/examples/mlp-safetensors.toml");
    assert_eq!(s.problem.num_params(), 18 + 6 + 6 + 1);
    assert_eq!(s.data_files.len(), 1);
    assert_eq!(s.problem.params0.last().unwrap().inf(), 0.25);
    assert!(s.problem.params0.iter().all(|x| x.inf() == x.sup() && x.inf() as f32 as f64 == x.inf()));

    let s = load("specs/examples/mlp-csv.toml");
    assert_eq!(s.problem.inputs.len(), 6);
    assert!(interval_contains_rational(s.problem.inputs[0][0], &rat(1192, 10000)));
    assert!(interval_contains_rational(s.problem.targets[1], &rat(46, 100)));
}

// ---------------------------------------------------------------------------------------------
// Exactness and the canonical form.

const SMALL: &str = r#"
name = "t"
alpha = "0.1"
horizon = 5
tolerance = "1e-3"

[model]
kind = "mlp"
widths = [2, 16, 1]
activation = "tanh"

[weights]
source = "gf-mlp"

[data]
source = "gf-mlp"
n = 8
"#;

fn ok(text: &str) -> LoadedSpec {
    spec::load_str(text, &root().join("specs/examples"), "test.toml").unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn decimal_alpha_is_exact() {
    let s = ok(SMALL);
    let a = &s.problem.alpha;
    assert_eq!(a.value, rat(1, 10));
    assert!(interval_contains_rational(a.enclosure, &rat(1, 10)));
    assert_eq!(a.enclosure.inf().next_up(), a.enclosure.sup());
    assert_eq!(s.problem.tolerance.value, rat(1, 1000));
    assert_eq!(s.problem.name, "t");
    let s = ok(&SMALL.replace("alpha = \"0.1\"", "alpha = \"1/3\"").replace("name = \"t\"\n", ""));
    assert_eq!(s.problem.alpha.value, rat(1, 3));
    assert_eq!(s.problem.name, "test");
}

#[test]
fn canonical_hash_ignores_layout() {
    let a = ok(SMALL);
    let reordered = r#"
# a comment
[data]
n = 8
source = "gf-mlp"
[weights]
source="gf-mlp"
[model]
activation = "tanh"
widths = [ 2, 16, 1 ]
kind = "mlp"
"#;
    // top-level keys must precede tables in TOML: put them first, in another order
    let b = ok(&format!("tolerance = \"1e-3\"\nhorizon = 5\nalpha = \"0.1\"\nname = \"t\"\n{reordered}"));
    assert_eq!(a.spec_sha256, b.spec_sha256);
    assert_eq!(a.canonical, b.canonical);
    assert_eq!(a.spec_sha256, hex::encode(Sha256::digest(spec::canonical_string(&a.canonical).as_bytes())));
    assert!(spec::canonical_string(&a.canonical).starts_with("{\"alpha\":\"0.1\",\"data\":{\"n\":8,"));
    let c = ok(&SMALL.replace("\"1e-3\"", "\"0.001\""));
    assert_ne!(a.spec_sha256, c.spec_sha256);
}

// ---------------------------------------------------------------------------------------------
// Rejections: each names the file and the field, on one line.

fn err_in(text: &str, dir: &Path) -> SpecError {
    match spec::load_str(text, dir, "specs/x.toml") {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.contains('\n'), "multi-line message: {msg}");
            assert!(msg.starts_with("specs/x.toml: "), "{msg}");
            e
        }
    }
}

fn err(text: &str) -> SpecError {
    err_in(text, &root().join("specs/examples"))
}

/// Asserts the error is about `field` and its message contains every part of `parts`.
fn expect(e: SpecError, field: &str, parts: &[&str], kind: SpecErrorKind) {
    let msg = e.to_string();
    assert!(msg.contains(&format!("field '{field}'")), "expected field '{field}': {msg}");
    for p in parts {
        assert!(msg.contains(p), "expected {p:?} in: {msg}");
    }
    assert_eq!(e.kind(), kind, "{msg}");
}

fn bad(e: SpecError, field: &str, parts: &[&str]) {
    expect(e, field, parts, SpecErrorKind::Invalid)
}

#[test]
fn rejects_bad_scalars() {
    bad(err(&SMALL.replace("\"0.1\"", "\"0\"")), "alpha", &["must be > 0, got 0"]);
    bad(err(&SMALL.replace("\"0.1\"", "\"-1\"")), "alpha", &["must be > 0, got -1"]);
    bad(err(&SMALL.replace("\"0.1\"", "0.1")), "alpha", &["TOML float", "quoted", "\"0.1\""]);
    bad(err(&SMALL.replace("\"0.1\"", "nan")), "alpha", &["not a finite number"]);
    bad(err(&SMALL.replace("\"0.1\"", "\"nan\"")), "alpha", &["'nan' is not a decimal number"]);
    bad(err(&SMALL.replace("\"0.1\"", "\"inf\"")), "alpha", &["'inf'"]);
    bad(err(&SMALL.replace("\"0.1\"", "true")), "alpha", &["expected a number"]);
    bad(err(&SMALL.replace("horizon = 5", "horizon = \"-1\"")), "horizon", &["must be >= 0, got -1"]);
    bad(err(&SMALL.replace("\"1e-3\"", "\"-0.5\"")), "tolerance", &["must be >= 0, got -1/2"]);
    bad(err(&SMALL.replace("horizon = 5\n", "")), "horizon", &["missing"]);
    bad(err(&SMALL.replace("n = 8", "n = 0")), "data.n", &[">= 1"]);
    bad(err(&SMALL.replace("n = 8", "n = \"8\"")), "data.n", &["expected an integer"]);
    // The words of --order and of the checker's hints.order (spec::ORDER_RANGE, issue 21).
    bad(err(&format!("{SMALL}\n[solver]\norder = 0\n")), "solver.order", &["must be between 2 and 60, got 0"]);
    bad(err(&format!("{SMALL}\n[solver]\norder = 1\n")), "solver.order", &["must be between 2 and 60, got 1"]);
    bad(err(&format!("{SMALL}\n[solver]\norder = -3\n")), "solver.order", &["must be between 2 and 60, got -3"]);
    bad(err(&format!("{SMALL}\n[solver]\norder = 61\n")), "solver.order", &["must be between 2 and 60, got 61"]);
    bad(err(&format!("{SMALL}\n[solver]\naccuracy = \"loose\"\n")), "solver.accuracy", &["\"tight\"", "'loose'"]);
    bad(err(&format!("{SMALL}\n[solver]\naccuracy = \"2\"\n")), "solver.accuracy", &["(0, 1)"]);
    bad(err(&format!("{SMALL}\n[solver]\naccuracy = 0.001\n")), "solver.accuracy", &["expected a string"]);
    bad(err(&format!("{SMALL}\n[training]\nregularization = \"-0.1\"\n")), "training.regularization", &["must be >= 0, got -1/10"]);
    bad(err(&format!("{SMALL}\n[training]\nregularization = \"nan\"\n")), "training.regularization", &["'nan' is not a decimal number"]);
    bad(err(&format!("{SMALL}\n[training]\nregularization = 0.1\n")), "training.regularization", &["TOML float", "quoted"]);
    bad(err(&format!("{SMALL}\n[training]\nlambda = \"0.1\"\n")), "training.lambda", &["unknown"]);
    let gd = |rest: &str| format!("{SMALL}\n[training]\nmethod = \"gradient-descent\"\n{rest}");
    bad(err(&gd("learning_rate = \"0\"\n")), "training.learning_rate", &["must be > 0, got 0"]);
    bad(err(&gd("learning_rate = \"-0.1\"\n")), "training.learning_rate", &["must be > 0, got -1/10"]);
    bad(err(&gd("learning_rate = \"nan\"\n")), "training.learning_rate", &["'nan' is not a decimal number"]);
    bad(err(&gd("learning_rate = \"0.3\"\n")), "training.learning_rate", &["not an integer multiple", "learning_rate = 3/10"]);
    bad(err(&gd("learning_rate = \"1e-9\"\n")), "training.learning_rate", &["iterations; at most"]);
    bad(err(&gd("")), "training.learning_rate", &["missing"]);
    bad(err(&format!("{SMALL}\n[training]\nlearning_rate = \"0.1\"\n")), "training.learning_rate", &["only used with method = \"gradient-descent\""]);
    // reference_order (issue 16): 1..=4, MLPs, gradient flow on a finite horizon.
    let order = |q: &str| format!("{SMALL}\n[training]\nreference_order = {q}\n");
    bad(err(&order("0")), "training.reference_order", &[">= 1"]);
    bad(err(&order("5")), "training.reference_order", &["5 is above 4"]);
    bad(err(&order("\"2\"")), "training.reference_order", &["expected an integer"]);
    bad(err(&gd("learning_rate = \"0.5\"\nreference_order = 2\n")), "training.reference_order", &["gradient flow on a finite horizon"]);
    assert_eq!(ok(&order("3")).problem.reference_order, 3);
    assert_eq!(ok(SMALL).problem.reference_order, 1);
    bad(err(&format!("{SMALL}\n[training]\nmethod = \"sgd\"\n")), "training.method", &["'sgd'", "\"gradient-flow\" or \"gradient-descent\""]);
    let infinite = SMALL.replace("horizon = 5", "horizon = \"inf\"");
    bad(err(&infinite), "horizon", &["\"inf\" needs [training] regularization > 0"]);
    bad(err(&format!("{infinite}\n[training]\nregularization = \"0\"\n")), "horizon", &["regularization > 0"]);
    bad(err(&format!("{infinite}\n[training]\nregularization = \"1\"\nmethod = \"gradient-descent\"\nlearning_rate = \"0.5\"\n")), "horizon", &["is for gradient flow"]);
    bad(err(&format!("{infinite}\n[training]\nregularization = \"1\"\nsettle_time = \"0\"\n")), "training.settle_time", &["must be > 0, got 0"]);
    bad(err(&format!("{SMALL}\n[training]\nregularization = \"1\"\nsettle_time = \"10\"\n")), "training.settle_time", &["only used with horizon = \"inf\""]);
    bad(err(&SMALL.replace("horizon = 5", "horizon = \"infinity\"")), "horizon", &["'infinity' is not a decimal number"]);
}

/// `horizon = "inf"` with the penalty: the claims are about all `t >= 0`; the flows are
/// integrated to the settling time, `32 / lambda` unless `[training] settle_time` is given
/// (exact).
#[test]
fn infinite_horizon_settles_at_an_exact_time() {
    let infinite = SMALL.replace("horizon = 5", "horizon = \"inf\"");
    let s = ok(&format!("{infinite}\n[training]\nregularization = \"0.4\"\n"));
    assert!(s.problem.infinite_horizon);
    assert_eq!(s.problem.horizon.value, rat(80, 1));
    let s = ok(&format!("{infinite}\n[training]\nregularization = \"0.4\"\nsettle_time = \"1/3\"\n"));
    assert_eq!(s.problem.horizon.value, rat(1, 3));
    assert!(!ok(SMALL).problem.infinite_horizon);
}

/// `[training] learning_rate` is exact and sets `K = T / eta` iterations; the default method is
/// the flow.
#[test]
fn learning_rate_is_exact_and_counts_iterations() {
    use ntkcert::problem::Method;
    let s = ok(&format!("{SMALL}\n[training]\nmethod = \"gradient-descent\"\nlearning_rate = \"1/3\"\n"));
    let Method::GradientDescent(d) = &s.problem.method else { panic!("gradient descent expected") };
    assert_eq!(d.learning_rate.value, rat(1, 3));
    assert!(interval_contains_rational(d.learning_rate.enclosure, &rat(1, 3)));
    assert_eq!(rat(d.iterations as i64, 1), &s.problem.horizon.value * rat(3, 1));
    assert_eq!(ok(SMALL).problem.method, Method::GradientFlow);
    assert_eq!(ok(&format!("{SMALL}\n[training]\nmethod = \"gradient-flow\"\n")).problem.method, Method::GradientFlow);
}

/// `[training] regularization` is exact, and 0 is the same problem as no `[training]` table.
#[test]
fn regularization_is_exact() {
    let s = ok(&format!("{SMALL}\n[training]\nregularization = \"1/3\"\n"));
    assert_eq!(s.problem.regularization.value, rat(1, 3));
    assert!(interval_contains_rational(s.problem.regularization.enclosure, &rat(1, 3)));
    assert_eq!(ok(SMALL).problem.regularization.value, rat(0, 1));
    assert_eq!(ok(&format!("{SMALL}\n[training]\nregularization = \"0\"\n")).problem.regularization.value, rat(0, 1));
}

#[test]
fn rejects_malformed_toml_and_unknowns() {
    let e = err("alpha = \"0.1\"\nhorizon = = 5\n");
    assert!(e.to_string().contains("invalid TOML at line 2"), "{e}");
    assert_eq!(e.kind(), SpecErrorKind::Invalid);
    let e = err(&SMALL.replace("n = 8", "n = 8\nn = 9"));
    assert!(e.to_string().contains("invalid TOML at line"), "{e}");

    let e = err(&SMALL.replace("\"tanh\"", "\"swish\""));
    assert_eq!(
        e.to_string(),
        "specs/x.toml: field 'model.activation': unknown activation 'swish' (expected one of tanh, erf, sigmoid, softplus, sin, gelu, identity)"
    );
    bad(
        err(&SMALL.replace("activation = \"tanh\"", "activation = [\"tanh\", \"erf\"]")),
        "model.activation",
        &["one activation per hidden layer (1), got 2"],
    );
    bad(err(&SMALL.replace("name = \"t\"", "name = \"t\"\nalpah = 3")), "alpah", &["unknown key 'alpah'"]);
    bad(
        err(&SMALL.replace("kind = \"mlp\"", "kind = \"mlp\"\nbais = true")),
        "model.bais",
        &["unknown key 'bais' in [model]"],
    );
    bad(err(&SMALL.replace("n = 8", "n = 8\ntargets = [1]")), "data.targets", &["unknown key"]);
    bad(err(&SMALL.replace("kind = \"mlp\"", "kind = \"cnn\"")), "model.kind", &["unknown model kind 'cnn'"]);
    bad(
        err(&SMALL.replace("activation = \"tanh\"", "activation = \"tanh\"\nparameterization = \"mup\"")),
        "model.parameterization",
        &["'mup'"],
    );
    bad(
        err(&SMALL.replace("source = \"gf-mlp\"\n\n[data]", "source = \"random\"\n\n[data]")),
        "weights.source",
        &["unknown weights source 'random'"],
    );
    bad(err(&SMALL.replace("[2, 16, 1]", "[2, 16, 2]")), "weights.source", &["[d, m, 1]"]);
    bad(err(&SMALL.replace("[2, 16, 1]", "[2]")), "model.widths", &["at least 2"]);
    bad(err(&SMALL.replace("[2, 16, 1]", "[2, 0, 1]")), "model.widths[1]", &[">= 1"]);
    bad(err(&SMALL.replace("[weights]\nsource = \"gf-mlp\"\n", "")), "weights", &["missing"]);
}

const INLINE: &str = r#"
alpha = 2
horizon = 1
tolerance = "0.1"
centred = false

[model]
kind = "mlp"
widths = [2, 3, 1]
activation = "sin"
bias = true

[weights]
source = "inline"
values = ["0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0", "0", "0", "1", "-1", "0.5", "0.25"]

[data]
inputs = [["1", "2"], ["3", "4"]]
targets = ["0.5", "-0.5"]
"#;

#[test]
fn rejects_wrong_shapes_inline() {
    let s = ok(INLINE);
    assert_eq!(s.problem.num_params(), 13);
    assert!(!s.problem.centred);
    bad(err(&INLINE.replace(", \"0.25\"]", "]")), "weights.values", &["expected 13 parameters", "got 12"]);
    bad(
        err(&INLINE.replace("[\"3\", \"4\"]", "[\"3\", \"4\", \"5\"]")),
        "data.inputs[1]",
        &["expected 2 entries (model.widths[0] = 2), got 3"],
    );
    bad(
        err(&INLINE.replace("[\"0.5\", \"-0.5\"]", "[\"0.5\"]")),
        "data.targets",
        &["expected 2 targets (2 inputs x 1 outputs), got 1"],
    );
    bad(
        err(&INLINE.replace("[\"0.5\", \"-0.5\"]", "[[\"0.5\"], [\"1\"], [\"2\"]]")),
        "data.targets",
        &["expected 2 rows"],
    );
    bad(err(&INLINE.replace("[\"3\", \"4\"]", "[\"3\", \"nan\"]")), "data.inputs[1][1]", &["'nan'"]);
    bad(err(&INLINE.replace("[\"3\", \"4\"]", "[\"3\", 4.0]")), "data.inputs[1][1]", &["TOML float"]);
    bad(err(&INLINE.replace("\"0.25\"]", "\"Infinity\"]")), "weights.values[12]", &["'Infinity'"]);
    bad(
        err(&INLINE.replace("inputs = [[\"1\", \"2\"], [\"3\", \"4\"]]", "inputs = []")),
        "data.inputs",
        &["no inputs"],
    );
    bad(err(&INLINE.replace("targets = [", "targets_file = \"y.npy\"\ntargets = [")), "data.targets_file", &["either"]);
    let layers = INLINE.replace(
        "values = [\"0.1\", \"0.2\", \"0.3\", \"0.4\", \"0.5\", \"0.6\", \"0\", \"0\", \"0\", \"1\", \"-1\", \"0.5\", \"0.25\"]",
        "layers = [{ weight = [[\"0.1\", \"0.2\"], [\"0.3\", \"0.4\"], [\"0.5\", \"0.6\"]], bias = [0, 0, 0] }, { weight = [[1, -1, \"0.5\"]], bias = [\"0.25\"] }]",
    );
    assert_eq!(ok(&layers).problem.params0, s.problem.params0);
    bad(
        err(&layers.replace("[\"0.5\", \"0.6\"]]", "[\"0.5\", \"0.6\"], [1, 1]]")),
        "weights.layers[0].weight",
        &["expected shape [3, 2]"],
    );
    bad(err(&layers.replace("bias = [0, 0, 0]", "bias = [0, 0]")), "weights.layers[0].bias", &["expected 3 entries"]);
    bad(err(&layers.replace(", bias = [\"0.25\"]", "")), "weights.layers[1].bias", &["missing"]);
    bad(err(&layers.replace("bias = true", "bias = false")), "weights.layers[0].bias", &["unknown key 'bias'"]);
    bad(err(&layers.replace("}]", "}, { weight = [[1]] }]")), "weights.layers", &["expected 2 layers"]);
}

#[test]
fn rejects_bad_tightness() {
    let t = "alpha = 100\nhorizon = 10\ntolerance = \"1e-3\"\n[model]\nkind = \"tightness\"\nu = \"0.8\"\nlipschitz = 1\n[data]\ntargets = [\"1\"]\n";
    let s = ok(t);
    assert_eq!(s.problem.num_outputs(), 1);
    bad(err(&t.replace("\"1\"]", "\"0\"]")), "data.targets[0]", &["nonzero"]);
    bad(err(&t.replace("\"1\"]", "\"1\", \"2\"]")), "data.targets", &["exactly 1 target"]);
    bad(err(&t.replace("horizon = 10", "horizon = 0")), "horizon", &["> 0"]);
    bad(err(&t.replace("u = \"0.8\"", "u = \"-0.8\"")), "model.u", &["> 0"]);
    bad(err(&t.replace("lipschitz = 1", "lipschitz = 0")), "model.lipschitz", &["> 0"]);
    bad(err(&t.replace("lipschitz = 1", "lipschitz = 1\nwidths = [1, 1]")), "model.widths", &["unknown key"]);
    bad(err(&format!("{t}[weights]\nsource = \"inline\"\n")), "weights", &["not allowed"]);
}

// ---------------------------------------------------------------------------------------------
// Data files: missing, truncated, corrupt, non-finite, wrong shapes.

const FILES: &str = r#"
alpha = 2
horizon = 1
tolerance = "0.1"

[model]
kind = "mlp"
widths = [2, 3, 1]
activation = "gelu"

[weights]
source = "npy"
files = ["W1.npy", "W2.npy"]

[data]
inputs_file = "x.npy"
targets_file = "y.csv"
"#;

fn files_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let w = |name: &str, bytes: &[u8]| std::fs::write(dir.path().join(name), bytes).unwrap();
    w("W1.npy", &npy_f64(&[3, 2], &[0.1, 0.2, 0.3, 0.4, 0.5, 0.6]));
    w("W2.npy", &npy_f64(&[1, 3], &[1.0, -1.0, 0.5]));
    w("x.npy", &npy_f64(&[4, 2], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]));
    w("y.csv", b"target\n0.1\n0.2\n0.3\n0.4\n");
    dir
}

#[test]
fn data_file_errors() {
    let dir = files_dir();
    let d = dir.path();
    let write = |name: &str, bytes: &[u8]| std::fs::write(d.join(name), bytes).unwrap();
    let s = spec::load_str(FILES, d, "specs/x.toml").unwrap();
    assert_eq!(s.problem.inputs.len(), 4);
    assert_eq!(s.data_files.len(), 4);
    assert_eq!(s.data_files[3].resolved, d.join("y.csv"));
    assert!(interval_contains_rational(s.problem.targets[2], &rat(3, 10)));

    // missing file: an I/O error
    let e = err_in(&FILES.replace("\"x.npy\"", "\"missing.npy\""), d);
    expect(e.clone(), "data.inputs_file", &["cannot read 'missing.npy': No such file or directory"], SpecErrorKind::Io);
    assert_eq!(e.kind(), SpecErrorKind::Io);
    let e = spec::load(&d.join("nope.toml")).unwrap_err();
    assert_eq!(e.kind(), SpecErrorKind::Io);
    assert!(e.to_string().contains("nope.toml: cannot read spec file"), "{e}");

    // truncated .npy
    let full = npy_f64(&[4, 2], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
    write("short.npy", &full[..full.len() - 5]);
    let e = err_in(&FILES.replace("\"x.npy\"", "\"short.npy\""), d);
    assert_eq!(e.kind(), SpecErrorKind::Invalid);
    bad(e, "data.inputs_file", &["'short.npy'", "truncated"]);
    write("header.npy", &full[..30]);
    bad(
        err_in(&FILES.replace("\"x.npy\"", "\"header.npy\""), d),
        "data.inputs_file",
        &["'header.npy'", "not a valid .npy"],
    );

    // NaN and infinity in a data file
    write("nan.npy", &npy_f64(&[4, 2], &[1.0, 2.0, 3.0, f64::NAN, 5.0, 6.0, 7.0, 8.0]));
    bad(
        err_in(&FILES.replace("\"x.npy\"", "\"nan.npy\""), d),
        "data.inputs_file",
        &["'nan.npy'", "element [1, 1] is NaN"],
    );
    write("inf.npy", &npy_f64(&[1, 3], &[1.0, f64::INFINITY, 0.5]));
    bad(
        err_in(&FILES.replace("\"W2.npy\"", "\"inf.npy\""), d),
        "weights.files[1]",
        &["'inf.npy'", "element [0, 1] is infinite"],
    );
    write("nan.csv", b"1\n2\nNaN\n4\n");
    bad(err_in(&FILES.replace("\"y.csv\"", "\"nan.csv\""), d), "data.targets_file", &["'nan.csv'", "line 3, column 1"]);

    // shapes
    write("x3.npy", &npy_f64(&[4, 3], &[0.0; 12]));
    bad(
        err_in(&FILES.replace("\"x.npy\"", "\"x3.npy\""), d),
        "data.inputs_file",
        &["expected shape [n, 2]", "got [4, 3]"],
    );
    write("y5.csv", b"1\n2\n3\n4\n5\n");
    bad(
        err_in(&FILES.replace("\"y.csv\"", "\"y5.csv\""), d),
        "data.targets_file",
        &["expected shape [4, 1] or [4]", "got [5, 1]"],
    );
    bad(
        err_in(&FILES.replace("[\"W1.npy\", \"W2.npy\"]", "[\"W2.npy\", \"W1.npy\"]"), d),
        "weights.files[0]",
        &["tensor W1 must have shape [3, 2]", "got [1, 3]"],
    );
    bad(err_in(&FILES.replace("[\"W1.npy\", \"W2.npy\"]", "[\"W1.npy\"]"), d), "weights.files", &["expected 2 files"]);
    write("y.txt", b"1\n");
    bad(
        err_in(&FILES.replace("\"y.csv\"", "\"y.txt\""), d),
        "data.targets_file",
        &["'y.txt'", "unsupported file type"],
    );
}

#[test]
fn safetensors_errors() {
    let examples = root().join("specs/examples");
    let text = std::fs::read_to_string(examples.join("mlp-safetensors.toml")).unwrap();
    let bytes = std::fs::read(examples.join("model.safetensors")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("model.safetensors"), &bytes).unwrap();
    let good = spec::load_str(&text, d, "specs/x.toml").unwrap();
    assert_eq!(good.data_files[0].sha256, hex::encode(Sha256::digest(&bytes)));

    std::fs::write(d.join("short.safetensors"), &bytes[..bytes.len() - 3]).unwrap();
    let e = err_in(&text.replace("\"model.safetensors\"", "\"short.safetensors\""), d);
    bad(e, "weights.file", &["'short.safetensors'", "truncated"]);
    std::fs::write(d.join("tiny.safetensors"), &bytes[..4]).unwrap();
    bad(
        err_in(&text.replace("\"model.safetensors\"", "\"tiny.safetensors\""), d),
        "weights.file",
        &["'tiny.safetensors'", "not a valid .safetensors"],
    );
    bad(
        err_in(&text.replace("\"fc2.bias\"", "\"fc3.bias\""), d),
        "weights.tensors[3]",
        &["no tensor named 'fc3.bias'"],
    );
    bad(
        err_in(&text.replace("\"fc1.bias\", \"fc2.weight\"", "\"fc2.weight\", \"fc1.bias\""), d),
        "weights.tensors[1]",
        &["tensor b1 must have shape [6]", "got [1, 6]"],
    );
    let e = err_in(&text.replace("\"model.safetensors\"", "\"absent.safetensors\""), d);
    expect(e, "weights.file", &["cannot read 'absent.safetensors'"], SpecErrorKind::Io);
}
