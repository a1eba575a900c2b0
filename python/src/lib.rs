//! `ntkcert._native`: the PyO3 layer under the Python package `ntkcert` (python/ntkcert).
//!
//! Thin: every function here calls the library (`ntkcert::spec`, `certify`, `simulate`,
//! `check`, `theory`) and converts its result; the Python package adds the friendly
//! constructors, `Interval`, and the numpy and pandas conveniences. Contracts:
//! - a library [`ntkcert::error::Error`] becomes `ntkcert.SpecError` (a `ValueError`) whose
//!   message is the one line the CLI prints after `error: `, with `kind`, `file`, `field` and
//!   `reason` attributes;
//! - long computations run on a worker thread with the GIL released; the caller polls for
//!   signals every 50 ms, so Ctrl-C raises `KeyboardInterrupt` at once (the worker's result,
//!   when it comes, is dropped: no partial result, no certificate);
//! - a panic in the library becomes a Python `RuntimeError` (never an abort);
//! - endpoints cross as f64 values, which Python floats hold exactly.

use ntkcert::certify::{Accuracy, Certified, Options};
use ntkcert::error::{Error, ErrorKind};
use ntkcert::resources::{default_max_memory, parse_size, Engine, MemoryLimit};
use ntkcert::spec::LoadedSpec;
use numpy::{PyArray1, PyArrayMethods};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

pyo3::create_exception!(
    ntkcert,
    SpecError,
    PyValueError,
    "Bad input: a spec, data file, certificate or argument that ntkcert refuses.\n\nThe message is the one line the command line prints after 'error: '. Attributes: kind ('invalid', 'io', 'usage', 'cant_create', 'internal'), file, field (the dotted spec field, or None) and reason."
);

/// The Python exception for a library error.
fn spec_error(py: Python<'_>, e: &Error) -> PyErr {
    let err = SpecError::new_err(e.to_string());
    let value = err.value(py);
    let _ = value.setattr("kind", e.kind.name());
    let _ = value.setattr("file", e.file.clone());
    let _ = value.setattr("field", e.field.clone());
    let _ = value.setattr("reason", e.reason.clone());
    err
}

/// Runs `work` on a worker thread with the GIL released; checks for signals (Ctrl-C) every
/// 50 ms. A panic becomes `RuntimeError`; an interrupt abandons the worker's result.
fn run_detached<T: Send + 'static>(py: Python<'_>, work: impl FnOnce() -> T + Send + 'static) -> PyResult<T> {
    type Slot<T> = (Mutex<Option<std::thread::Result<T>>>, Condvar);
    let slot: Arc<Slot<T>> = Arc::new((Mutex::new(None), Condvar::new()));
    let worker_slot = Arc::clone(&slot);
    std::thread::Builder::new()
        .name("ntkcert-worker".into())
        .spawn(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
            let (lock, ready) = &*worker_slot;
            *lock.lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome);
            ready.notify_all();
        })
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start a worker thread: {e}")))?;
    loop {
        let waiting = Arc::clone(&slot);
        let received = py.detach(move || {
            let (lock, ready) = &*waiting;
            let guard = lock.lock().unwrap_or_else(|e| e.into_inner());
            let (mut guard, _) = ready.wait_timeout_while(guard, Duration::from_millis(50), |v| v.is_none()).unwrap_or_else(|e| e.into_inner());
            guard.take()
        });
        match received {
            Some(Ok(value)) => return Ok(value),
            Some(Err(panic)) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                return Err(PyRuntimeError::new_err(format!("internal error in ntkcert: {what}")));
            }
            // Ctrl-C: KeyboardInterrupt now; the worker finishes on its own and its result is
            // dropped with the slot.
            None => py.check_signals()?,
        }
    }
}

/// A spec, read, validated and resolved (`ntkcert::spec::LoadedSpec`), with where it came from.
#[pyclass(module = "ntkcert._native", frozen)]
struct NativeSpec {
    loaded: Arc<LoadedSpec>,
    /// The spec file, when it was loaded from one.
    path: Option<PathBuf>,
    /// The TOML text that was loaded.
    text: String,
    /// The directory relative data paths resolve against.
    base_dir: PathBuf,
    label: String,
}

#[pymethods]
impl NativeSpec {
    /// The problem's name (the spec's `name`, else the file stem).
    #[getter]
    fn name(&self) -> String {
        self.loaded.problem.name.clone()
    }
    /// The spec file this was loaded from, or None.
    #[getter]
    fn path(&self) -> Option<String> {
        self.path.as_ref().map(|p| p.display().to_string())
    }
    /// The spec's TOML text.
    #[getter]
    fn text(&self) -> String {
        self.text.clone()
    }
    #[getter]
    fn base_dir(&self) -> String {
        self.base_dir.display().to_string()
    }
    #[getter]
    fn label(&self) -> String {
        self.label.clone()
    }
    /// SHA-256 of the canonical form (specs/README.md, "Hashes").
    #[getter]
    fn spec_sha256(&self) -> String {
        self.loaded.spec_sha256.clone()
    }
    /// The data files read: a list of (field, path as written, resolved path, sha256).
    #[getter]
    fn data_files(&self) -> Vec<(String, String, String, String)> {
        self.loaded
            .data_files
            .iter()
            .map(|f| (f.field.clone(), f.path.clone(), f.resolved.display().to_string(), f.sha256.clone()))
            .collect()
    }
    #[getter]
    fn num_params(&self) -> usize {
        self.loaded.problem.num_params()
    }
    #[getter]
    fn num_inputs(&self) -> usize {
        self.loaded.problem.num_inputs()
    }
    #[getter]
    fn num_outputs(&self) -> usize {
        self.loaded.problem.num_outputs()
    }
}

/// The memory limit of a load: `max_memory` (bytes, or a size such as "8G") or the commands'
/// default (half of this machine's RAM); a bad size is a `SpecError` naming `max_memory`.
fn memory_limit(py: Python<'_>, max_memory: Option<String>) -> PyResult<MemoryLimit> {
    let bytes = match max_memory {
        Some(text) => parse_size(&text).map_err(|why| spec_error(py, &Error::usage(format!("max_memory: {why}"))))?,
        None => default_max_memory(),
    };
    Ok(MemoryLimit { bytes, order: None, engine: Engine::Certify })
}

/// Loads the spec file at `path` (errors name `path` as given) within the memory limit
/// (`ntkcert::resources`: a run whose estimate is above it is refused before any allocation
/// proportional to the spec's sizes).
#[pyfunction]
#[pyo3(signature = (path, max_memory=None))]
fn load_path(py: Python<'_>, path: PathBuf, max_memory: Option<String>) -> PyResult<NativeSpec> {
    let limit = memory_limit(py, max_memory)?;
    let loaded = ntkcert::spec::load_within(&path, &limit).map_err(|e| spec_error(py, &e.into()))?;
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let base_dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let label = path.display().to_string();
    Ok(NativeSpec { loaded: Arc::new(loaded), path: Some(path), text, base_dir, label })
}

/// Loads spec text; relative data paths resolve against `base_dir`; errors start with `label`;
/// the memory limit as in [`load_path`].
#[pyfunction]
#[pyo3(signature = (text, base_dir, label, max_memory=None))]
fn load_text(py: Python<'_>, text: String, base_dir: PathBuf, label: String, max_memory: Option<String>) -> PyResult<NativeSpec> {
    let limit = memory_limit(py, max_memory)?;
    let loaded = ntkcert::spec::load_str_within(&text, &base_dir, &label, &limit).map_err(|e| spec_error(py, &e.into()))?;
    Ok(NativeSpec { loaded: Arc::new(loaded), path: None, text, base_dir, label })
}

fn options(py: Python<'_>, spec: &NativeSpec, order: Option<usize>, accuracy: Option<&str>, progress: bool) -> PyResult<Options> {
    if let Some(message) = ntkcert::certify::order_option_error(order) {
        // The library words it for the command line (`--order`); here it is an argument.
        return Err(spec_error(py, &Error::usage(message.replace("--order", "order"))));
    }
    let mut options = Options { progress, ..Options::from_solver(&spec.loaded.solver, order) };
    if let Some(text) = accuracy {
        options.accuracy = Accuracy::parse(text).ok_or_else(|| {
            spec_error(py, &Error::usage(format!("accuracy: expected 'tight' or a relative width in (0, 1) such as 1e-4, got '{text}'")))
        })?;
    }
    Ok(options)
}

/// The result of `certify` (`ntkcert::certify::Certified`) and the spec it is about.
#[pyclass(module = "ntkcert._native", frozen)]
struct NativeResult {
    result: Certified,
    loaded: Arc<LoadedSpec>,
    /// Wall time of the library call `certify()` itself (on the worker thread): the Python
    /// call overhead is the caller's wall time minus this.
    call_seconds: f64,
}

type Pair = (f64, f64);

fn pair(x: inari::Interval) -> Pair {
    (x.inf(), x.sup())
}

#[pymethods]
impl NativeResult {
    #[getter]
    fn verdict(&self) -> &'static str {
        ntkcert::report::verdict_name(self.result.verdict)
    }
    #[getter]
    fn reason(&self) -> Option<String> {
        self.result.reason.clone()
    }
    #[getter]
    fn sup_deviation(&self) -> Pair {
        pair(self.result.sup_deviation)
    }
    #[getter]
    fn final_deviation(&self) -> Pair {
        pair(self.result.final_deviation)
    }
    #[getter]
    fn r0(&self) -> Pair {
        pair(self.result.r0)
    }
    /// (lo, hi) numpy arrays of the final outputs' enclosures.
    #[getter]
    fn outputs_final<'py>(&self, py: Python<'py>) -> (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<f64>>) {
        arrays(py, &self.result.outputs_final)
    }
    #[getter]
    fn linear_outputs_final<'py>(&self, py: Python<'py>) -> (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<f64>>) {
        arrays(py, &self.result.linear_outputs_final)
    }
    #[getter]
    fn steps(&self) -> usize {
        self.result.steps
    }
    #[getter]
    fn seconds(&self) -> f64 {
        self.result.seconds
    }
    #[getter]
    fn call_seconds(&self) -> f64 {
        self.call_seconds
    }
    #[getter]
    fn order(&self) -> usize {
        self.result.order
    }
    /// The object `ntkcert certify --json` prints, as JSON text.
    fn to_json(&self) -> String {
        ntkcert::report::certify_json(&self.loaded.problem, &self.result)
    }
    /// The readable summary `ntkcert certify` prints.
    fn to_text(&self) -> String {
        ntkcert::report::certify_text(&self.loaded.problem, &self.result)
    }
    /// Writes the certificate (JSON, atomically) to `path`; `spec_path` is recorded as the
    /// certificate's `spec.path` (what `ntkcert check` reads).
    fn write_certificate(&self, py: Python<'_>, path: PathBuf, spec_path: String) -> PyResult<()> {
        let fail = |e: std::io::Error| spec_error(py, &Error::cant_create(format!("cannot write certificate '{}': {e}", path.display())));
        ntkcert::certificate::check_writable(&path).map_err(fail)?;
        let mut cert = ntkcert::certificate::Certificate::new(&self.loaded, &self.result);
        cert.value["spec"]["path"] = serde_json::Value::from(spec_path);
        cert.write_atomically(&path).map_err(fail)
    }
}

fn arrays<'py>(py: Python<'py>, xs: &[inari::Interval]) -> (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<f64>>) {
    let lo = PyArray1::from_vec(py, xs.iter().map(|x| x.inf()).collect());
    let hi = PyArray1::from_vec(py, xs.iter().map(|x| x.sup()).collect());
    // Read-only views: the enclosures are results, not buffers to edit.
    lo.readwrite().make_nonwriteable();
    hi.readwrite().make_nonwriteable();
    (lo, hi)
}

/// Certifies the spec (`ntkcert::certify::certify`) with the GIL released.
#[pyfunction]
#[pyo3(signature = (spec, order=None, accuracy=None, progress=false))]
fn certify(py: Python<'_>, spec: &NativeSpec, order: Option<usize>, accuracy: Option<&str>, progress: bool) -> PyResult<NativeResult> {
    let options = options(py, spec, order, accuracy, progress)?;
    let loaded = Arc::clone(&spec.loaded);
    let label = spec.label.clone();
    let worker = Arc::clone(&loaded);
    let (result, call_seconds) = run_detached(py, move || {
        let started = std::time::Instant::now();
        let result = ntkcert::certify::certify(&worker.problem, &options);
        (result, started.elapsed().as_secs_f64())
    })?;
    let result = result.map_err(|e| spec_error(py, &Error::from(e).in_file(label)))?;
    Ok(NativeResult { result, loaded, call_seconds })
}

/// `ntkcert simulate --json` as JSON text (the f64 baseline, with the GIL released).
#[pyfunction]
#[pyo3(signature = (spec, order=None, accuracy=None))]
fn simulate(py: Python<'_>, spec: &NativeSpec, order: Option<usize>, accuracy: Option<&str>) -> PyResult<String> {
    let options = options(py, spec, order, accuracy, false)?;
    let loaded = Arc::clone(&spec.loaded);
    let sim = run_detached(py, move || ntkcert::simulate::simulate(&loaded.problem, options.first_pass()))?;
    Ok(ntkcert::report::simulate_json(&sim))
}

/// `ntkcert bound --json` as JSON text (the certified theory bounds).
#[pyfunction]
fn bound(py: Python<'_>, spec: &NativeSpec) -> PyResult<String> {
    if spec.loaded.problem.num_inputs() == 0 {
        return Err(spec_error(py, &Error::invalid("the problem has no training inputs").in_file(spec.label.clone())));
    }
    let loaded = Arc::clone(&spec.loaded);
    run_detached(py, move || {
        let tb = ntkcert::theory::theory_bounds(&loaded.problem);
        ntkcert::theory::report::bound_value(&loaded.problem, &tb, None).to_string()
    })
}

/// `ntkcert kernel SPEC [--limit] --json` as JSON text: the empirical NTK K0 (or the
/// infinite-width kernels) of the spec file's MLP, enclosed, with certified eigenvalue bounds.
#[pyfunction]
#[pyo3(signature = (path, limit=false))]
fn kernel(py: Python<'_>, path: PathBuf, limit: bool) -> PyResult<String> {
    let problem = ntkcert::spec::load_kernel(&path).map_err(|e| spec_error(py, &e.into()))?;
    let kind = if limit { ntkcert::kernel::command::KernelKind::Limit } else { ntkcert::kernel::command::KernelKind::Empirical };
    let label = path.display().to_string();
    let worker = problem.clone();
    let result = run_detached(py, move || ntkcert::kernel::command::compute(&worker, kind))?
        .map_err(|e| spec_error(py, &Error::invalid(format!("{label}: {e}"))))?;
    Ok(ntkcert::kernel::command::result_json(&problem, &result).to_string())
}

/// `ntkcert check CERT [--spec SPEC]`: (True, None) when valid, (False, reason) when not.
#[pyfunction]
#[pyo3(signature = (cert, spec=None, progress=false))]
fn check(py: Python<'_>, cert: PathBuf, spec: Option<PathBuf>, progress: bool) -> PyResult<(bool, Option<String>)> {
    let outcome = run_detached(py, move || ntkcert::check::check_file(&cert, spec.as_deref(), progress))?;
    match outcome {
        Ok(ntkcert::check::Validity::Valid) => Ok((true, None)),
        Ok(ntkcert::check::Validity::Invalid(reason)) => Ok((false, Some(reason))),
        Err(e) => Err(spec_error(py, &e)),
    }
}

/// The error kinds' names, in the order of `ntkcert::error::ErrorKind`.
#[pyfunction]
fn error_kinds() -> Vec<&'static str> {
    [ErrorKind::Usage, ErrorKind::Invalid, ErrorKind::Io, ErrorKind::CantCreate, ErrorKind::Internal].map(ErrorKind::name).to_vec()
}

/// Raises `SpecError` for a Python-side validation failure, with the same attributes.
#[pyfunction]
#[pyo3(signature = (file, field, reason, kind="invalid"))]
fn make_spec_error(py: Python<'_>, file: Option<String>, field: Option<String>, reason: String, kind: &str) -> PyErr {
    let kind = match kind {
        "io" => ErrorKind::Io,
        "usage" => ErrorKind::Usage,
        "cant_create" => ErrorKind::CantCreate,
        "internal" => ErrorKind::Internal,
        _ => ErrorKind::Invalid,
    };
    let e = Error { kind, file, field, reason };
    spec_error(py, &e)
}

/// Panics on the worker thread (a test that a panic becomes `RuntimeError`, not an abort).
#[pyfunction]
fn _panic_for_tests(py: Python<'_>) -> PyResult<()> {
    run_detached(py, || -> () { panic!("deliberate test panic") })
}

/// `ntkcert::cli::tune_allocator`: glibc malloc settings that speed the integrator up (the CLI
/// applies them to every certify); process-wide, so opt-in here.
#[pyfunction]
fn tune_allocator() {
    ntkcert::cli::tune_allocator();
}

/// The library version.
#[pyfunction]
fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("SpecError", m.py().get_type::<SpecError>())?;
    m.add_class::<NativeSpec>()?;
    m.add_class::<NativeResult>()?;
    m.add_function(wrap_pyfunction!(load_path, m)?)?;
    m.add_function(wrap_pyfunction!(load_text, m)?)?;
    m.add_function(wrap_pyfunction!(certify, m)?)?;
    m.add_function(wrap_pyfunction!(simulate, m)?)?;
    m.add_function(wrap_pyfunction!(bound, m)?)?;
    m.add_function(wrap_pyfunction!(check, m)?)?;
    m.add_function(wrap_pyfunction!(kernel, m)?)?;
    m.add_function(wrap_pyfunction!(error_kinds, m)?)?;
    m.add_function(wrap_pyfunction!(make_spec_error, m)?)?;
    m.add_function(wrap_pyfunction!(version, m)?)?;
    m.add_function(wrap_pyfunction!(tune_allocator, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_tests, m)?)?;
    Ok(())
}
