//! Turning the parsed spec tree into a [`Problem`]: model, weights, data, scalars.

use super::data::{self, shape_string, Tensor};
use super::error::{io_reason, SpecError};
use super::fields::{as_array, as_str, as_table, count, exact_matrix, exact_vec, type_name, Result, Section};
use super::gfmlp;
use super::{DataFile, SolverSettings};
use crate::resources::{self, MemoryLimit};
use crate::arith::rational::{rational_to_interval, rational_to_string, Exact};
use crate::problem::{
    Activation, Architecture, Descent, KernelActivation, Method, MlpArchitecture, Parameterization, Problem, QuadraticModel,
};
use inari::Interval;
use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive, Zero};
use std::path::{Path, PathBuf};
use toml::{Table, Value};

/// Upper limit on parameters, inputs x dimension and outputs, to refuse absurd allocations.
const MAX_ELEMENTS: usize = 1 << 31;
/// The most parameters a network may have (issue 21's resource limit, checked before anything
/// proportional to the widths is allocated): 2^27 parameters are 2 GiB per copy as intervals,
/// and certify holds several copies (the initial box, centres, Taylor coefficients) on a 24 GiB
/// machine. The bench's largest network has 267 776.
const MAX_PARAMS: usize = 1 << 27;

/// `sweep` is the grid of `ntkcert sweep` (src/sweep); `certify` ignores it.
const TOP_KEYS: &[&str] = &["name", "alpha", "horizon", "tolerance", "centred", "model", "weights", "data", "training", "solver", "sweep"];

/// Reads data files relative to the spec's directory and records them.
pub(crate) struct Files<'a> {
    base_dir: &'a Path,
    pub list: Vec<DataFile>,
}

impl<'a> Files<'a> {
    pub fn new(base_dir: &'a Path) -> Self {
        Files { base_dir, list: Vec::new() }
    }

    /// Reads the file named by the string `v` (the value of `field`).
    fn read(&mut self, v: &Value, field: &str) -> Result<(String, Vec<u8>)> {
        let written = as_str(v, field)?;
        if written.trim().is_empty() {
            return Err(SpecError::invalid(field, "empty file name"));
        }
        let resolved: PathBuf = self.base_dir.join(written);
        let bytes = crate::files::read_bounded(&resolved, crate::files::DATA_LIMIT).map_err(|e| {
            SpecError::io(Some(field.to_string()), format!("cannot read '{written}': {}", io_reason(&e)))
        })?;
        self.list.push(DataFile {
            field: field.to_string(),
            path: written.to_string(),
            resolved,
            sha256: data::sha256_hex(&bytes),
        });
        Ok((written.to_string(), bytes))
    }

    /// Reads a numeric array from a `.npy` or `.csv` file.
    fn array(&mut self, v: &Value, field: &str) -> Result<(String, Tensor)> {
        let (written, bytes) = self.read(v, field)?;
        let ext = Path::new(&written).extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        let t = match ext.as_str() {
            "npy" => data::parse_npy(&bytes),
            "csv" => data::parse_csv(&bytes),
            _ => {
                return Err(SpecError::invalid(
                    field,
                    format!("'{written}': unsupported file type (expected a .npy or .csv file)"),
                ))
            }
        }
        .map_err(|e| SpecError::invalid(field, format!("'{written}': {e}")))?;
        Ok((written, t))
    }
}

fn checked_product(factors: &[usize], field: &str) -> Result<usize> {
    factors
        .iter()
        .try_fold(1usize, |a, &b| a.checked_mul(b))
        .filter(|&p| p <= MAX_ELEMENTS)
        .ok_or_else(|| SpecError::invalid(field, format!("too large (more than {MAX_ELEMENTS} elements)")))
}

/// Everything except the canonical form and hash.
pub(crate) struct Built {
    pub problem: Problem,
    pub solver: SolverSettings,
    /// For `kind = "mlp"`: the activations as `ntkcert kernel` reads them (with `relu`) and the
    /// limit's variances `SW`, `SB`.
    pub kernel: Option<KernelModel>,
}

/// The parts of `[model]` only `ntkcert kernel` uses.
pub(crate) struct KernelModel {
    pub activations: Vec<KernelActivation>,
    pub weight_variance: Exact,
    pub bias_variance: Exact,
    /// `data.test_inputs` / `data.test_inputs_file` (`m x d`; empty when absent): the inputs the
    /// infinite-width prediction is also given on (through the cross-kernel).
    pub test_inputs: Vec<Vec<Interval>>,
}

/// What a spec is read for: the flows (`certify`, `simulate`, `bound`, `sweep`, ...), which
/// refuse `relu`, or `ntkcert kernel`, which accepts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    Flow,
    Kernel,
}

/// `memory`: refuse a run whose estimated memory ([`crate::resources`]) is above the limit,
/// checked from the widths before the weights and data are read (with the number of inputs
/// when the spec states it: `data.n`, inline `data.inputs`; else 1), and again with the number
/// of inputs once the data is read.
pub(crate) fn build(table: &Table, default_name: &str, files: &mut Files<'_>, purpose: Purpose, memory: Option<&MemoryLimit>) -> Result<Built> {
    let root = Section::root(table);
    root.check_keys(TOP_KEYS, "")?;

    let name = match root.str("name")? {
        Some(s) => s.to_string(),
        None => default_name.to_string(),
    };
    let alpha = root.exact("alpha")?.ok_or_else(|| missing(&root, "alpha"))?;
    if !alpha.is_positive() {
        return Err(SpecError::invalid("alpha", format!("must be > 0, got {}", rational_to_string(&alpha))));
    }
    // `horizon = "inf"`: all t >= 0; the finite settling time is read with [training] below.
    let infinite_horizon = matches!(root.get("horizon"), Some(Value::String(s)) if s == "inf");
    let mut horizon = if infinite_horizon {
        BigRational::one()
    } else {
        root.exact("horizon")?.ok_or_else(|| missing(&root, "horizon"))?
    };
    if horizon.is_negative() {
        return Err(SpecError::invalid("horizon", format!("must be >= 0, got {}", rational_to_string(&horizon))));
    }
    let tolerance = root.exact("tolerance")?.ok_or_else(|| missing(&root, "tolerance"))?;
    if tolerance.is_negative() {
        return Err(SpecError::invalid("tolerance", format!("must be >= 0, got {}", rational_to_string(&tolerance))));
    }
    let centred = root.bool("centred")?.unwrap_or(true);

    let model = root.section("model")?.ok_or_else(|| missing(&root, "model"))?;
    let kind = model.str("kind")?.ok_or_else(|| missing(&model, "kind"))?;
    let mut kernel = None;
    let (architecture, params0, inputs, targets) = match kind {
        "mlp" => {
            let (arch, mut kernel_model) = mlp_architecture(&model, purpose)?;
            let (known_inputs, inputs_field) = stated_inputs(table);
            if let Some(limit) = memory {
                memory_check(limit, table, &arch, known_inputs.unwrap_or(1), inputs_field)?;
            }
            let weights = root.section("weights")?.ok_or_else(|| missing(&root, "weights"))?;
            let params0 = mlp_weights(&weights, &arch, files)?;
            let data = root.section("data")?.ok_or_else(|| missing(&root, "data"))?;
            let (inputs, targets) = mlp_data(&data, &arch, files)?;
            if let Some(limit) = memory.filter(|_| known_inputs != Some(inputs.len())) {
                memory_check(limit, table, &arch, inputs.len(), inputs_field)?;
            }
            kernel_model.test_inputs = input_rows(&data, files, arch.input_dim(), "test_inputs")?.unwrap_or_default();
            kernel = Some(kernel_model);
            (Architecture::Mlp(arch), params0, inputs, targets)
        }
        "tightness" => {
            model.check_keys(&["kind", "u", "lipschitz"], " (kind = \"tightness\")")?;
            let u = model.exact("u")?.ok_or_else(|| missing(&model, "u"))?;
            if !u.is_positive() {
                return Err(SpecError::invalid("model.u", format!("must be > 0, got {}", rational_to_string(&u))));
            }
            let lipschitz = model.exact("lipschitz")?.ok_or_else(|| missing(&model, "lipschitz"))?;
            if !lipschitz.is_positive() {
                return Err(SpecError::invalid(
                    "model.lipschitz",
                    format!("must be > 0, got {}", rational_to_string(&lipschitz)),
                ));
            }
            if !horizon.is_positive() {
                return Err(SpecError::invalid(
                    "horizon",
                    "must be > 0 for model.kind = \"tightness\" (lambda = u / horizon)",
                ));
            }
            root.forbid("weights", "for model.kind = \"tightness\" (the single parameter starts at w0 = 0)")?;
            let data = root.section("data")?.ok_or_else(|| missing(&root, "data"))?;
            data.check_keys(&["targets"], " (model.kind = \"tightness\": one empty input, one target)")?;
            let ys = exact_vec(data.require("targets")?, "data.targets")?;
            if ys.len() != 1 {
                return Err(SpecError::invalid(
                    "data.targets",
                    format!(
                        "expected exactly 1 target (the tightness model has one empty input and one output), got {}",
                        ys.len()
                    ),
                ));
            }
            if ys[0].is_zero() {
                return Err(SpecError::invalid(
                    "data.targets[0]",
                    "must be nonzero (the tightness family needs y != 0)",
                ));
            }
            let lambda = &u / &horizon;
            let arch = Architecture::Quadratic(QuadraticModel { lambda, lipschitz });
            (
                arch,
                vec![Interval::try_from((0.0, 0.0)).expect("zero")],
                vec![Vec::new()],
                vec![rational_to_interval(&ys[0])],
            )
        }
        other => {
            return Err(SpecError::invalid(
                "model.kind",
                format!("unknown model kind '{other}' (expected mlp or tightness)"),
            ));
        }
    };

    let mut solver = SolverSettings::default();
    if let Some(s) = root.section("solver")? {
        s.check_keys(&["order", "max_steps", "accuracy", "validation"], "")?;
        // The range of `--order` and `hints.order`, with the same words (super::ORDER_RANGE).
        if let Some(why) = s.get("order").and_then(|v| v.as_integer()).and_then(|q| super::order_range_error(q.into())) {
            return Err(SpecError::invalid(s.field("order"), why));
        }
        solver.order = s.count("order", *super::ORDER_RANGE.start() as i64)?;
        solver.max_steps = s.count("max_steps", 1)?;
        if let Some(text) = s.str("accuracy")? {
            solver.accuracy = Some(crate::certify::Accuracy::parse(text).ok_or_else(|| {
                SpecError::invalid(s.field("accuracy"), format!("expected \"tight\" or a relative width in (0, 1) such as \"1e-4\", got '{text}'"))
            })?);
        }
        if let Some(text) = s.str("validation")? {
            solver.validation = Some(crate::certify::StepValidation::parse(text).ok_or_else(|| {
                SpecError::invalid(s.field("validation"), format!("expected \"auto\", \"nodes\" or \"remainder\", got '{text}'"))
            })?);
        }
    }

    let mut reference_order = 1;
    let (regularization, method) = match root.section("training")? {
        Some(training) => {
            training.check_keys(&["regularization", "method", "learning_rate", "settle_time", "reference_order"], "")?;
            reference_order = training_reference_order(&training, &architecture)?;
            let lambda = training.exact("regularization")?.unwrap_or_else(BigRational::zero);
            if lambda.is_negative() {
                return Err(SpecError::invalid(
                    training.field("regularization"),
                    format!("must be >= 0, got {}", rational_to_string(&lambda)),
                ));
            }
            let method = training_method(&training, &horizon)?;
            if let Some(settle) = settle_time(&training, infinite_horizon, &lambda)? {
                horizon = settle;
            }
            (lambda, method)
        }
        None => (BigRational::zero(), Method::GradientFlow),
    };
    if infinite_horizon {
        if !regularization.is_positive() {
            return Err(SpecError::invalid(
                "horizon",
                "\"inf\" needs [training] regularization > 0 (without the penalty the flow has no time-uniform bound to certify)",
            ));
        }
        if method != Method::GradientFlow {
            return Err(SpecError::invalid("horizon", "\"inf\" is for gradient flow; gradient descent takes a finite horizon = K eta"));
        }
        if !matches!(architecture, Architecture::Mlp(_)) {
            return Err(SpecError::invalid("horizon", "\"inf\" is for model.kind = \"mlp\""));
        }
    }
    if reference_order > 1 && (infinite_horizon || method != Method::GradientFlow) {
        return Err(SpecError::invalid(
            "training.reference_order",
            format!("{reference_order} (a Taylor model of order >= 2) is certified for gradient flow on a finite horizon only, so far"),
        ));
    }

    let problem = Problem {
        name,
        architecture,
        params0,
        inputs,
        targets,
        centred,
        alpha: Exact::new(alpha),
        horizon: Exact::new(horizon),
        tolerance: Exact::new(tolerance),
        regularization: Exact::new(regularization),
        method,
        infinite_horizon,
        reference_order,
    };
    Ok(Built { problem, solver, kernel })
}

/// The number of inputs as the spec states it before any data file is read (`data.n` of the
/// gf-mlp generator, the length of inline `data.inputs`; `None` for `data.inputs_file`), and
/// the field that gives it.
fn stated_inputs(table: &Table) -> (Option<usize>, &'static str) {
    let data = table.get("data").and_then(Value::as_table);
    let get = |key: &str| data.and_then(|d| d.get(key));
    if get("source").and_then(Value::as_str) == Some("gf-mlp") {
        return (get("n").and_then(Value::as_integer).and_then(|n| usize::try_from(n).ok()), "data.n");
    }
    match get("inputs") {
        Some(Value::Array(rows)) => (Some(rows.len()), "data.inputs"),
        Some(_) => (None, "data.inputs"),
        None => (None, "data.inputs_file"),
    }
}

/// Refuses the run when its estimated memory with `inputs` inputs is above `limit`: one line
/// naming the estimate, the limit and the field that drives it.
fn memory_check(limit: &MemoryLimit, table: &Table, arch: &MlpArchitecture, inputs: usize, inputs_field: &'static str) -> Result<()> {
    let raw = |section: &str, key: &str| table.get(section).and_then(Value::as_table).and_then(|t| t.get(key));
    let spec_order = raw("solver", "order").and_then(Value::as_integer).and_then(|q| usize::try_from(q).ok()).filter(|q| super::ORDER_RANGE.contains(q));
    let dims = resources::Dims {
        widths: arch.widths.clone(),
        inputs,
        inputs_field,
        params: arch.num_params(),
        order: limit.order.or(spec_order).unwrap_or(resources::DEFAULT_ORDER),
        descent: raw("training", "method").and_then(Value::as_str) == Some("gradient-descent"),
        engine: limit.engine,
    };
    resources::check(&dims, limit.bytes).map(|_| ()).map_err(|over| SpecError::invalid(over.estimate.driver, over.reason()))
}

/// `[training] reference_order = Q`: the order of the reference model (default 1, the NTK
/// linearisation); `2..=MAX_REFERENCE_ORDER` for MLPs.
fn training_reference_order(training: &Section<'_>, architecture: &Architecture) -> Result<usize> {
    let Some(q) = training.count("reference_order", 1)? else { return Ok(1) };
    reference_order_within(q, architecture).map_err(|why| SpecError::invalid(training.field("reference_order"), why))
}

/// `q` if the order-`q` reference model is available for this architecture (the words of
/// `[training] reference_order` and of `bound --order`).
fn reference_order_within(q: usize, architecture: &Architecture) -> std::result::Result<usize, String> {
    let max = crate::model::taylor_model::MAX_REFERENCE_ORDER;
    if q == 0 {
        return Err("must be >= 1".into());
    }
    if q > max {
        return Err(format!("{q} is above {max}, the largest order of the Taylor models"));
    }
    if q > 1 && !matches!(architecture, Architecture::Mlp(_)) {
        return Err(format!("{q} needs model.kind = \"mlp\""));
    }
    Ok(q)
}

/// The order `q` for a loaded problem (`bound --order`): as `[training] reference_order`, and
/// `q >= 2` only for gradient flow on a finite horizon.
pub fn reference_order_for(problem: &Problem, q: usize) -> std::result::Result<usize, String> {
    let q = reference_order_within(q, &problem.architecture)?;
    if q > 1 && (problem.infinite_horizon || problem.method != Method::GradientFlow) {
        return Err(format!("{q} (a Taylor model of order >= 2) is certified for gradient flow on a finite horizon only, so far"));
    }
    Ok(q)
}

/// `[training] settle_time` with `horizon = "inf"`: the time `T1 > 0` up to which the flows are
/// integrated before the tail argument (default `32 / lambda`, after which the penalty has
/// damped the motion by about `e^-32`); `None` for a finite horizon, where the key is an error.
fn settle_time(training: &Section<'_>, infinite_horizon: bool, lambda: &BigRational) -> Result<Option<BigRational>> {
    let given = training.exact("settle_time")?;
    if !infinite_horizon {
        return match given {
            Some(_) => Err(SpecError::invalid(training.field("settle_time"), "is only used with horizon = \"inf\"")),
            None => Ok(None),
        };
    }
    match given {
        Some(t) if !t.is_positive() => {
            Err(SpecError::invalid(training.field("settle_time"), format!("must be > 0, got {}", rational_to_string(&t))))
        }
        Some(t) => Ok(Some(t)),
        None if lambda.is_positive() => Ok(Some(BigRational::from_integer(32.into()) / lambda)),
        None => Ok(None),
    }
}

/// The most gradient-descent iterations a spec may ask for (`T / eta`): each is a gradient
/// evaluation, and a larger count is more likely a typo than a plan.
pub const MAX_ITERATIONS: u64 = 100_000_000;

/// `[training] method` and `learning_rate`: gradient flow unless `method = "gradient-descent"`,
/// which needs `learning_rate = "ETA" > 0` with `horizon` an integer multiple of it.
fn training_method(training: &Section<'_>, horizon: &BigRational) -> Result<Method> {
    let method = training.str("method")?.unwrap_or("gradient-flow");
    let learning_rate = training.exact("learning_rate")?;
    match method {
        "gradient-flow" => match learning_rate {
            Some(_) => Err(SpecError::invalid(
                training.field("learning_rate"),
                "is only used with method = \"gradient-descent\" (the flow has no learning rate)",
            )),
            None => Ok(Method::GradientFlow),
        },
        "gradient-descent" => {
            let eta = learning_rate.ok_or_else(|| missing(training, "learning_rate"))?;
            if !eta.is_positive() {
                return Err(SpecError::invalid(training.field("learning_rate"), format!("must be > 0, got {}", rational_to_string(&eta))));
            }
            let steps = horizon / &eta;
            if !steps.is_integer() {
                return Err(SpecError::invalid(
                    training.field("learning_rate"),
                    format!(
                        "horizon = {} is not an integer multiple of learning_rate = {} (T = K eta with K the number of iterations)",
                        rational_to_string(horizon),
                        rational_to_string(&eta)
                    ),
                ));
            }
            let iterations = steps.to_integer().to_u64().filter(|&k| k <= MAX_ITERATIONS).ok_or_else(|| {
                SpecError::invalid(
                    training.field("learning_rate"),
                    format!("horizon / learning_rate = {} iterations; at most {MAX_ITERATIONS} are allowed", steps.to_integer()),
                )
            })?;
            Ok(Method::GradientDescent(Descent { learning_rate: Exact::new(eta), iterations }))
        }
        other => Err(SpecError::invalid(
            training.field("method"),
            format!("expected \"gradient-flow\" or \"gradient-descent\", got '{other}'"),
        )),
    }
}

fn missing(sec: &Section<'_>, key: &str) -> SpecError {
    match sec.require(key) {
        Err(e) => e,
        Ok(_) => unreachable!("missing() called for a present key"),
    }
}

/// The architecture and the kernel-only parts of `[model]`. With `Purpose::Kernel` a `relu`
/// layer is recorded in the kernel model; the architecture (which only serves to read the
/// weights and data here, and is never used as a flow problem by `load_kernel` when a layer is
/// relu) holds `identity` in its place. With `Purpose::Flow` relu is an error.
fn mlp_architecture(model: &Section<'_>, purpose: Purpose) -> Result<(MlpArchitecture, KernelModel)> {
    model.check_keys(
        &["kind", "widths", "activation", "parameterization", "bias", "weight_variance", "bias_variance"],
        " (kind = \"mlp\")",
    )?;
    let widths_v = as_array(model.require("widths")?, "model.widths")?;
    if widths_v.len() < 2 {
        return Err(SpecError::invalid(
            "model.widths",
            format!("expected at least 2 entries [inputs, ..., outputs], got {}", widths_v.len()),
        ));
    }
    let widths: Vec<usize> =
        widths_v.iter().enumerate().map(|(i, v)| count(v, &format!("model.widths[{i}]"), 1)).collect::<Result<_>>()?;
    let hidden = widths.len() - 2;
    let activations = match model.get("activation") {
        None if hidden == 0 => Vec::new(),
        None => return Err(missing(model, "activation")),
        Some(Value::String(s)) => vec![activation(s, "model.activation", purpose)?; hidden],
        Some(Value::Array(list)) => {
            if list.len() != hidden {
                return Err(SpecError::invalid(
                    "model.activation",
                    format!("expected one activation per hidden layer ({hidden}), got {}", list.len()),
                ));
            }
            list.iter()
                .enumerate()
                .map(|(i, v)| {
                    let f = format!("model.activation[{i}]");
                    activation(as_str(v, &f)?, &f, purpose)
                })
                .collect::<Result<_>>()?
        }
        Some(v) => {
            return Err(SpecError::invalid(
                "model.activation",
                format!("expected an activation name or a list of names, got {}", type_name(v)),
            ))
        }
    };
    let parameterization = match model.str("parameterization")? {
        None | Some("ntk") => Parameterization::Ntk,
        Some("standard") => Parameterization::Standard,
        Some(other) => {
            return Err(SpecError::invalid(
                "model.parameterization",
                format!("unknown parameterization '{other}' (expected ntk or standard)"),
            ))
        }
    };
    let bias = model.bool("bias")?.unwrap_or(false);
    // Refuse absurd sizes before anything multiplies them unchecked.
    let mut total = 0usize;
    for l in 1..widths.len() {
        let layer = checked_product(&[widths[l], widths[l - 1]], "model.widths")? + if bias { widths[l] } else { 0 };
        total = total.checked_add(layer).filter(|&t| t <= MAX_PARAMS).ok_or_else(|| {
            SpecError::invalid(
                "model.widths",
                format!("too many parameters for this machine class (more than {MAX_PARAMS}, 2^27: every copy of the parameters in interval arithmetic takes 16 bytes each, and a run holds several)"),
            )
        })?;
    }
    let variance = |key: &str, default: i64| -> Result<Exact> {
        let value = model.exact(key)?.unwrap_or_else(|| BigRational::from_integer(default.into()));
        if value.is_negative() {
            return Err(SpecError::invalid(model.field(key), format!("must be >= 0 (a variance), got {}", rational_to_string(&value))));
        }
        Ok(Exact::new(value))
    };
    let kernel = KernelModel {
        weight_variance: variance("weight_variance", 1)?,
        bias_variance: variance("bias_variance", 0)?,
        activations: activations.clone(),
        test_inputs: Vec::new(),
    };
    let flow_activations = activations
        .iter()
        .map(|a| match a {
            KernelActivation::Flow(f) => *f,
            KernelActivation::Relu => Activation::Identity,
        })
        .collect();
    Ok((MlpArchitecture { widths, activations: flow_activations, parameterization, bias }, kernel))
}

fn activation(name: &str, field: &str, purpose: Purpose) -> Result<KernelActivation> {
    if name == "relu" {
        return match purpose {
            Purpose::Kernel => Ok(KernelActivation::Relu),
            Purpose::Flow => Err(SpecError::invalid(
                field,
                "relu is accepted by 'ntkcert kernel' only: certify, simulate and the flow bounds need a Lipschitz Jacobian (relu' jumps at 0)",
            )),
        };
    }
    Activation::from_name(name).map(KernelActivation::Flow).ok_or_else(|| {
        let mut names: Vec<&str> = Activation::ALL.iter().map(|a| a.name()).collect();
        if purpose == Purpose::Kernel {
            names.push("relu");
        }
        SpecError::invalid(field, format!("unknown activation '{name}' (expected one of {})", names.join(", ")))
    })
}

/// The parameter tensors of the layout, in order: (label, shape).
fn tensor_layout(arch: &MlpArchitecture) -> Vec<(String, Vec<usize>)> {
    let mut out = Vec::new();
    for l in 1..arch.widths.len() {
        out.push((format!("W{l}"), vec![arch.widths[l], arch.widths[l - 1]]));
        if arch.bias {
            out.push((format!("b{l}"), vec![arch.widths[l]]));
        }
    }
    out
}

fn layout_description(arch: &MlpArchitecture) -> String {
    tensor_layout(arch).iter().map(|(n, s)| format!("{n} {}", shape_string(s))).collect::<Vec<_>>().join(", ")
}

fn mlp_weights(w: &Section<'_>, arch: &MlpArchitecture, files: &mut Files<'_>) -> Result<Vec<Interval>> {
    let source = w.str("source")?.ok_or_else(|| missing(w, "source"))?;
    let p = arch.num_params();
    let layout = tensor_layout(arch);
    match source {
        "inline" => {
            w.check_keys(&["source", "values", "layers"], " (source = \"inline\")")?;
            match (w.get("values"), w.get("layers")) {
                (Some(_), Some(_)) => {
                    Err(SpecError::invalid("weights.layers", "give either weights.values or weights.layers, not both"))
                }
                (None, None) => {
                    Err(SpecError::invalid("weights.values", "missing (source = \"inline\" needs values or layers)"))
                }
                (Some(v), None) => {
                    let vals = exact_vec(v, "weights.values")?;
                    if vals.len() != p {
                        return Err(SpecError::invalid(
                            "weights.values",
                            format!("expected {p} parameters ({}), got {}", layout_description(arch), vals.len()),
                        ));
                    }
                    Ok(vals.iter().map(rational_to_interval).collect())
                }
                (None, Some(v)) => {
                    let layers = as_array(v, "weights.layers")?;
                    let num_layers = arch.num_layers();
                    if layers.len() != num_layers {
                        return Err(SpecError::invalid(
                            "weights.layers",
                            format!(
                                "expected {num_layers} layers (model.widths has {} entries), got {}",
                                arch.widths.len(),
                                layers.len()
                            ),
                        ));
                    }
                    let mut out = Vec::with_capacity(p);
                    for (i, layer) in layers.iter().enumerate() {
                        let f = format!("weights.layers[{i}]");
                        let sec = as_table(layer, &f)?;
                        let (rows, cols) = (arch.widths[i + 1], arch.widths[i]);
                        if arch.bias {
                            sec.check_keys(&["weight", "bias"], "")?;
                        } else {
                            sec.check_keys(&["weight"], " (model.bias = false)")?;
                        }
                        let why = format!(" (model.widths[{i}])");
                        let wf = sec.field("weight");
                        let m = exact_matrix(sec.require("weight")?, &wf, Some((cols, &why)))?;
                        if m.len() != rows {
                            return Err(SpecError::invalid(
                                wf,
                                format!(
                                    "expected shape [{rows}, {cols}] (model.widths[{}] rows), got {} rows",
                                    i + 1,
                                    m.len()
                                ),
                            ));
                        }
                        out.extend(m.iter().flatten().map(rational_to_interval));
                        if arch.bias {
                            let bf = sec.field("bias");
                            let b = exact_vec(sec.require("bias")?, &bf)?;
                            if b.len() != rows {
                                return Err(SpecError::invalid(
                                    bf,
                                    format!("expected {rows} entries (model.widths[{}]), got {}", i + 1, b.len()),
                                ));
                            }
                            out.extend(b.iter().map(rational_to_interval));
                        }
                    }
                    Ok(out)
                }
            }
        }
        "npy" => {
            w.check_keys(&["source", "files"], " (source = \"npy\")")?;
            let list = as_array(w.require("files")?, "weights.files")?;
            if list.len() != layout.len() {
                return Err(SpecError::invalid(
                    "weights.files",
                    format!(
                        "expected {} files, one per tensor ({}), got {}",
                        layout.len(),
                        layout_description(arch),
                        list.len()
                    ),
                ));
            }
            let mut out = Vec::with_capacity(p);
            for (i, (v, (label, shape))) in list.iter().zip(&layout).enumerate() {
                let f = format!("weights.files[{i}]");
                let (written, bytes) = files.read(v, &f)?;
                let t = data::parse_npy(&bytes).map_err(|e| SpecError::invalid(&f, format!("'{written}': {e}")))?;
                check_shape(&t, shape, label, &f, &written)?;
                out.extend(t.values);
            }
            Ok(out)
        }
        "safetensors" => {
            w.check_keys(&["source", "file", "tensors"], " (source = \"safetensors\")")?;
            let names_v = as_array(w.require("tensors")?, "weights.tensors")?;
            let names: Vec<&str> = names_v
                .iter()
                .enumerate()
                .map(|(i, v)| as_str(v, &format!("weights.tensors[{i}]")))
                .collect::<Result<_>>()?;
            if names.len() != layout.len() {
                return Err(SpecError::invalid(
                    "weights.tensors",
                    format!(
                        "expected {} tensor names, one per tensor ({}), got {}",
                        layout.len(),
                        layout_description(arch),
                        names.len()
                    ),
                ));
            }
            let (written, bytes) = files.read(w.require("file")?, "weights.file")?;
            let st = data::parse_safetensors(&bytes)
                .map_err(|e| SpecError::invalid("weights.file", format!("'{written}': {e}")))?;
            let mut out = Vec::with_capacity(p);
            for (i, (name, (label, shape))) in names.iter().zip(&layout).enumerate() {
                let f = format!("weights.tensors[{i}]");
                let t = st.tensor(name).map_err(|e| SpecError::invalid(&f, format!("'{written}': {e}")))?;
                check_shape(&t, shape, label, &f, &format!("{written}:{name}"))?;
                out.extend(t.values);
            }
            Ok(out)
        }
        "gf-mlp" => {
            w.check_keys(&["source"], " (source = \"gf-mlp\")")?;
            if arch.widths.len() != 3 || arch.widths[2] != 1 || arch.bias {
                return Err(SpecError::invalid(
                    "weights.source",
                    format!(
                        "the gf-mlp generator needs model.widths = [d, m, 1] and model.bias = false, got widths {} and bias = {}",
                        shape_string(&arch.widths),
                        arch.bias
                    ),
                ));
            }
            Ok(gfmlp::params(arch.widths[1], arch.widths[0]))
        }
        other => Err(SpecError::invalid(
            "weights.source",
            format!("unknown weights source '{other}' (expected inline, npy, safetensors or gf-mlp)"),
        )),
    }
}

fn check_shape(t: &Tensor, shape: &[usize], label: &str, field: &str, what: &str) -> Result<()> {
    if t.shape != shape {
        return Err(SpecError::invalid(
            field,
            format!(
                "'{what}': tensor {label} must have shape {}{}, got {}",
                shape_string(shape),
                if shape.len() == 2 { " ([out, in])" } else { "" },
                shape_string(&t.shape)
            ),
        ));
    }
    Ok(())
}

type Data = (Vec<Vec<Interval>>, Vec<Interval>);

/// The rows of `data.KEY` (inline decimal strings, parsed exactly) or `data.KEY_file` (an
/// array file of shape `[n, d]`, or `[n]` when `d = 1`); `None` when neither is given. Used for
/// `inputs` and `test_inputs`; errors name the field.
fn input_rows(data: &Section<'_>, files: &mut Files<'_>, d: usize, key: &str) -> Result<Option<Vec<Vec<Interval>>>> {
    let (field, file_key) = (format!("data.{key}"), format!("{key}_file"));
    let file_field = format!("data.{file_key}");
    let rows = match (data.get(key), data.get(&file_key)) {
        (Some(_), Some(_)) => {
            return Err(SpecError::invalid(&file_field, format!("give either {field} or {file_field}, not both")))
        }
        (None, None) => return Ok(None),
        (Some(v), None) => {
            let why = format!(" (model.widths[0] = {d})");
            let rows = exact_matrix(v, &field, Some((d, &why)))?;
            rows.iter().map(|r| r.iter().map(rational_to_interval).collect()).collect::<Vec<Vec<Interval>>>()
        }
        (None, Some(v)) => {
            let (written, t) = files.array(v, &file_field)?;
            let ok = match t.shape.as_slice() {
                [_, c] => *c == d,
                [_] => d == 1,
                _ => false,
            };
            if !ok {
                return Err(SpecError::invalid(
                    &file_field,
                    format!("'{written}': expected shape [n, {d}] (model.widths[0] = {d}), got {}", shape_string(&t.shape)),
                ));
            }
            t.values.chunks(d).map(|c| c.to_vec()).collect()
        }
    };
    let used = if data.has(key) { field } else { file_field };
    if rows.is_empty() {
        return Err(SpecError::invalid(&used, "no inputs (need at least one)"));
    }
    checked_product(&[rows.len(), d.max(1)], &used)?;
    Ok(Some(rows))
}

fn mlp_data(data: &Section<'_>, arch: &MlpArchitecture, files: &mut Files<'_>) -> Result<Data> {
    let d = arch.input_dim();
    let out = arch.output_dim();
    match data.str("source")? {
        Some("gf-mlp") => {
            data.check_keys(&["source", "n"], " (source = \"gf-mlp\")")?;
            let n = data.count("n", 1)?.ok_or_else(|| missing(data, "n"))?;
            if out != 1 {
                return Err(SpecError::invalid(
                    "data.source",
                    format!("the gf-mlp data generator has one output per input, but model.widths ends in {out}"),
                ));
            }
            checked_product(&[n, d], "data.n")?;
            Ok((gfmlp::inputs(n, d), gfmlp::targets(n)))
        }
        None | Some("explicit") => {
            data.check_keys(&["source", "inputs", "inputs_file", "targets", "targets_file", "test_inputs", "test_inputs_file"], "")?;
            let inputs = input_rows(data, files, d, "inputs")?
                .ok_or_else(|| SpecError::invalid("data.inputs", "missing (give data.inputs or data.inputs_file)"))?;
            let field_in = if data.has("inputs") { "data.inputs" } else { "data.inputs_file" };
            let n = inputs.len();
            if n == 0 {
                return Err(SpecError::invalid(field_in, "no inputs (need at least one)"));
            }
            checked_product(&[n, d.max(out)], field_in)?;
            let total = n * out;
            let targets = match (data.get("targets"), data.get("targets_file")) {
                (Some(_), Some(_)) => {
                    return Err(SpecError::invalid(
                        "data.targets_file",
                        "give either data.targets or data.targets_file, not both",
                    ))
                }
                (None, None) => {
                    return Err(SpecError::invalid("data.targets", "missing (give data.targets or data.targets_file)"))
                }
                (Some(v), None) => {
                    let arr = as_array(v, "data.targets")?;
                    let vals: Vec<BigRational> = if matches!(arr.first(), Some(Value::Array(_))) {
                        let why = format!(" (model.widths ends in {out})");
                        let rows = exact_matrix(v, "data.targets", Some((out, &why)))?;
                        if rows.len() != n {
                            return Err(SpecError::invalid(
                                "data.targets",
                                format!("expected {n} rows (one per input), got {}", rows.len()),
                            ));
                        }
                        rows.into_iter().flatten().collect()
                    } else {
                        exact_vec(v, "data.targets")?
                    };
                    if vals.len() != total {
                        return Err(SpecError::invalid(
                            "data.targets",
                            format!("expected {total} targets ({n} inputs x {out} outputs), got {}", vals.len()),
                        ));
                    }
                    vals.iter().map(rational_to_interval).collect()
                }
                (None, Some(v)) => {
                    let (written, t) = files.array(v, "data.targets_file")?;
                    let ok = t.shape == [total] || t.shape == [n, out] || t.shape == [1, total];
                    if !ok {
                        return Err(SpecError::invalid(
                            "data.targets_file",
                            format!(
                                "'{written}': expected shape [{n}, {out}] or [{total}] ({n} inputs x {out} outputs), got {}",
                                shape_string(&t.shape)
                            ),
                        ));
                    }
                    t.values
                }
            };
            Ok((inputs, targets))
        }
        Some(other) => Err(SpecError::invalid(
            "data.source",
            format!("unknown data source '{other}' (expected explicit or gf-mlp)"),
        )),
    }
}
