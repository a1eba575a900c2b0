//! The spec format: a TOML file describing a certification problem (model, initial weights,
//! data, alpha, horizon, tolerance), and the loaders for its data files.
//!
//! The format is documented in `specs/README.md`. In short: every non-integer number is a quoted
//! decimal string parsed exactly ([`crate::arith::rational::parse_decimal`]); TOML floats are
//! rejected; unknown keys are rejected; every shape is checked; paths are relative to the spec
//! file's directory. Errors are [`SpecError`]s, one line naming the file, the field and the
//! reason.
//!
//! - [`load`] / [`load_str`]: spec text to [`LoadedSpec`] (the resolved [`Problem`], the
//!   canonical JSON form and its SHA-256, the data files read and their SHA-256). These refuse
//!   `relu` (the flows need a Lipschitz Jacobian).
//! - [`load_kernel`] / [`load_kernel_str`]: what `ntkcert kernel` reads ([`KernelProblem`]:
//!   relu allowed, the limit's `weight_variance` and `bias_variance`).
//! - [`data`]: `.npy`, `.safetensors` and `.csv` loaders.
//! - [`gfmlp`]: the deterministic GF-MLP benchmark instance.

mod build;
pub mod data;
mod error;
mod fields;
pub use build::reference_order_for;
pub use fields::type_name;
pub mod gfmlp;

pub use error::{SpecError, SpecErrorKind};

use crate::problem::{KernelActivation, KernelProblem, Problem};
use std::path::{Path, PathBuf};

/// Optional `[solver]` settings of a spec.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SolverSettings {
    /// Taylor order of the integrator.
    pub order: Option<usize>,
    /// Maximum number of integration steps.
    pub max_steps: Option<usize>,
    /// The accuracy target (`"tight"` or a relative width).
    pub accuracy: Option<crate::certify::Accuracy>,
    /// How the steps are validated (`"auto"`, `"nodes"`, `"remainder"`).
    pub validation: Option<crate::certify::StepValidation>,
}

/// The Taylor orders accepted everywhere, the single source of the range: the spec
/// (`[solver] order`), the command line (`--order`, through `certify::order_option_error`),
/// `certify` (which uses the order it is given) and the checker (`hints.order`,
/// `check::check_value`), so that every certificate `certify` writes has an order the checker
/// accepts. Order 1 is refused: the integrator needs `q >= 2` (and without the refusal it spent
/// its whole step budget at `t = 0`).
pub const ORDER_RANGE: std::ops::RangeInclusive<usize> = 2..=60;

/// Why the Taylor order `q` is refused, `None` when it lies in [`ORDER_RANGE`]: "must be
/// between 2 and 60, got q", the same words for `[solver] order`, `--order` and `hints.order`.
pub fn order_range_error(q: i128) -> Option<String> {
    let inside = usize::try_from(q).is_ok_and(|q| ORDER_RANGE.contains(&q));
    (!inside).then(|| format!("must be between {} and {}, got {q}", ORDER_RANGE.start(), ORDER_RANGE.end()))
}

/// A data file referenced by a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFile {
    /// The spec field that names it, e.g. `data.inputs_file`, `weights.files[2]`.
    pub field: String,
    /// The path as written in the spec.
    pub path: String,
    /// The path that was read: relative paths are joined to the spec file's directory.
    pub resolved: PathBuf,
    /// SHA-256 (lower-case hex) of the file's bytes.
    pub sha256: String,
}

/// A spec, read, validated and resolved.
#[derive(Debug, Clone)]
pub struct LoadedSpec {
    pub problem: Problem,
    /// SHA-256 (lower-case hex) of the canonical form: [`LoadedSpec::canonical`] serialised as
    /// compact JSON (`serde_json::to_string`) with object keys sorted. Whitespace, comments and
    /// key order of the TOML text do not change it.
    pub spec_sha256: String,
    /// Every data file the spec references, in the order they are read (weights, then inputs,
    /// then targets).
    pub data_files: Vec<DataFile>,
    /// The canonical JSON of the spec: the parsed TOML as JSON, keys sorted.
    pub canonical: serde_json::Value,
    /// The optional `[solver]` settings.
    pub solver: SolverSettings,
}

/// Reads and resolves the spec file at `path`; data files are resolved relative to its
/// directory. Errors name `path` as given.
pub fn load(path: &Path) -> Result<LoadedSpec, SpecError> {
    let (text, base_dir, label) = read_spec_file(path)?;
    load_str(&text, base_dir, &label)
}

/// The text of the spec file at `path`, the directory its relative data paths resolve against,
/// and its label for errors (`path` as given).
fn read_spec_file(path: &Path) -> Result<(String, &Path, String), SpecError> {
    let label = path.display().to_string();
    let bytes = crate::files::read_bounded(path, crate::files::SPEC_LIMIT)
        .map_err(|e| SpecError::io(None, format!("cannot read spec file: {}", error::io_reason(&e))).in_file(&label))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        SpecError::general(format!("not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to()))
            .in_file(&label)
    })?;
    let base_dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Ok((text, base_dir, label))
}

/// Resolves spec text. `base_dir` is where relative data paths are resolved; `label` names the
/// spec in errors (and gives the default problem name, its file stem).
pub fn load_str(text: &str, base_dir: &Path, label: &str) -> Result<LoadedSpec, SpecError> {
    load_inner(text, base_dir, label, None).map_err(|e| e.in_file(label))
}

/// [`load`], refusing a spec whose run would need more memory than `limit`
/// ([`crate::resources`]; checked from the spec's dimensions before the weights and data are
/// read, and again once the number of inputs is known). The refusal is an `Invalid` error
/// naming the field that drives the estimate, e.g. `model.widths`.
pub fn load_within(path: &Path, limit: &crate::resources::MemoryLimit) -> Result<LoadedSpec, SpecError> {
    let (text, base_dir, label) = read_spec_file(path)?;
    load_inner(&text, base_dir, &label, Some(limit)).map_err(|e| e.in_file(&label))
}

/// [`load_str`] within the memory limit of [`load_within`].
pub fn load_str_within(text: &str, base_dir: &Path, label: &str, limit: &crate::resources::MemoryLimit) -> Result<LoadedSpec, SpecError> {
    load_inner(text, base_dir, label, Some(limit)).map_err(|e| e.in_file(label))
}

fn load_inner(text: &str, base_dir: &Path, label: &str, memory: Option<&crate::resources::MemoryLimit>) -> Result<LoadedSpec, SpecError> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| syntax_error(text, &e))?;
    let canonical = canonical_json(&toml::Value::Table(table.clone()));
    let spec_sha256 = data::sha256_hex(canonical_string(&canonical).as_bytes());
    let default_name = Path::new(label).file_stem().and_then(|s| s.to_str()).unwrap_or(label).to_string();
    let mut files = build::Files::new(base_dir);
    let built = build::build(&table, &default_name, &mut files, build::Purpose::Flow, memory)?;
    Ok(LoadedSpec { problem: built.problem, spec_sha256, data_files: files.list, canonical, solver: built.solver })
}

/// Reads a spec for `ntkcert kernel`: the same format and checks as [`load`], with `relu`
/// accepted as an activation; `model.kind` must be `"mlp"`.
pub fn load_kernel(path: &Path) -> Result<KernelProblem, SpecError> {
    let (text, base_dir, label) = read_spec_file(path)?;
    load_kernel_str(&text, base_dir, &label)
}

/// [`load_kernel`] from spec text (`base_dir` and `label` as for [`load_str`]).
pub fn load_kernel_str(text: &str, base_dir: &Path, label: &str) -> Result<KernelProblem, SpecError> {
    load_kernel_inner(text, base_dir, label).map_err(|e| e.in_file(label))
}

fn load_kernel_inner(text: &str, base_dir: &Path, label: &str) -> Result<KernelProblem, SpecError> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| syntax_error(text, &e))?;
    let default_name = Path::new(label).file_stem().and_then(|s| s.to_str()).unwrap_or(label).to_string();
    let mut files = build::Files::new(base_dir);
    let built = build::build(&table, &default_name, &mut files, build::Purpose::Kernel, None)?;
    let problem = built.problem;
    let (Some(kernel), crate::problem::Architecture::Mlp(arch)) = (built.kernel, &problem.architecture) else {
        return Err(SpecError::invalid("model.kind", "ntkcert kernel needs model.kind = \"mlp\""));
    };
    let has_relu = kernel.activations.contains(&KernelActivation::Relu);
    Ok(KernelProblem {
        name: problem.name.clone(),
        widths: arch.widths.clone(),
        activations: kernel.activations,
        parameterization: arch.parameterization,
        bias: arch.bias,
        weight_variance: kernel.weight_variance,
        bias_variance: kernel.bias_variance,
        params0: problem.params0.clone(),
        inputs: problem.inputs.clone(),
        test_inputs: kernel.test_inputs,
        training: crate::problem::KernelTraining::of(&problem),
        // With relu the architecture holds a placeholder for it: never a flow problem.
        problem: if has_relu { None } else { Some(problem) },
    })
}

/// `invalid TOML at line L, column C: MESSAGE`.
fn syntax_error(text: &str, e: &toml::de::Error) -> SpecError {
    let msg = e.message().trim();
    match e.span() {
        Some(span) => {
            let start = span.start.min(text.len());
            let before = &text[..start];
            let line = before.matches('\n').count() + 1;
            let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            SpecError::general(format!("invalid TOML at line {line}, column {col}: {msg}"))
        }
        None => SpecError::general(format!("invalid TOML: {msg}")),
    }
}

/// The parsed TOML as JSON with sorted keys (datetimes become strings).
pub fn canonical_json(v: &toml::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        toml::Value::String(s) => J::String(s.clone()),
        toml::Value::Integer(i) => J::from(*i),
        toml::Value::Float(x) => serde_json::Number::from_f64(*x).map_or_else(|| J::String(x.to_string()), J::Number),
        toml::Value::Boolean(b) => J::Bool(*b),
        toml::Value::Datetime(d) => J::String(d.to_string()),
        toml::Value::Array(a) => J::Array(a.iter().map(canonical_json).collect()),
        toml::Value::Table(t) => {
            let mut keys: Vec<&String> = t.keys().collect();
            keys.sort();
            let mut map = serde_json::Map::new();
            for k in keys {
                map.insert(k.clone(), canonical_json(&t[k]));
            }
            J::Object(map)
        }
    }
}

/// Compact JSON text with object keys in sorted order, whatever the map type of serde_json.
pub fn canonical_string(v: &serde_json::Value) -> String {
    use serde_json::Value as J;
    match v {
        J::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", serde_json::to_string(k).expect("string"), canonical_string(&map[k])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        J::Array(a) => format!("[{}]", a.iter().map(canonical_string).collect::<Vec<_>>().join(",")),
        other => serde_json::to_string(other).expect("scalar JSON"),
    }
}
