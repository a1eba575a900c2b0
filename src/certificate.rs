//! The certificate file written by `certify --out`: what was proved, about exactly which inputs
//! (sha256 of the canonical spec and of every data file), and the hints an independent checker
//! needs. Format: `specs/certificate.md`.

use crate::certify::{Certified, StepRecord};
use crate::report::certify_value;
use crate::spec::LoadedSpec;
use num_traits::Zero;
use serde_json::{json, Value};
use std::path::Path;

/// The format version; checkers refuse others.
pub const FORMAT_VERSION: &str = "ntkcert-certificate/1";

pub struct Certificate {
    pub value: Value,
}

impl Certificate {
    pub fn new(loaded: &LoadedSpec, result: &Certified) -> Self {
        let problem = &loaded.problem;
        let exact = |q: &num_rational::BigRational| crate::arith::rational::rational_to_string(q);
        let data_files: Vec<Value> = loaded
            .data_files
            .iter()
            .map(|f| json!({ "field": f.field, "path": f.path, "sha256": f.sha256 }))
            .collect();
        let steps: Vec<&StepRecord> = result.step_records.iter().collect();
        let mut value = json!({
            "format": FORMAT_VERSION,
            "tool": { "name": "ntkcert", "version": env!("CARGO_PKG_VERSION") },
            "spec": { "sha256": loaded.spec_sha256, "canonical": loaded.canonical },
            "data_files": data_files,
            "problem": {
                "name": problem.name,
                "num_params": problem.num_params(),
                "num_outputs": problem.num_outputs(),
                "alpha": exact(&problem.alpha.value),
                "horizon": exact(&problem.horizon.value),
                "tolerance": exact(&problem.tolerance.value),
                "centred": problem.centred,
            },
            "claims": certify_value(problem, result),
            "hints": {
                "method": "taylor-tube",
                "order": result.order,
                "steps": steps,
            },
        });
        value["r0"] = value["claims"]["r0"].clone();
        if !problem.regularization.value.is_zero() {
            value["problem"]["regularization"] = json!(exact(&problem.regularization.value));
        }
        if problem.infinite_horizon {
            value["problem"]["infinite_horizon"] = json!(true);
            value["hints"]["tail"] = json!(result.tail);
        }
        if let Some(descent) = problem.descent() {
            value["problem"]["method"] = json!("gradient-descent");
            value["problem"]["learning_rate"] = json!(exact(&descent.learning_rate.value));
            value["hints"] = json!({ "method": "gradient-descent", "chunks": result.chunk_records });
        }
        // The units of the hints (proofs/normalisation.md); absent means no rescaling.
        if !result.normalized.scale.is_identity() {
            value["hints"]["scale"] = json!(result.normalized.scale);
        }
        Certificate { value }
    }

    /// Writes the certificate to a temporary file next to `path`, then renames it into place, so
    /// that a reader never sees a partial file.
    pub fn write_atomically(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(&self.value).map_err(std::io::Error::other)?;
        write_atomically(path, text.as_bytes())
    }
}

/// The path of `spec` relative to the directory of the certificate file `certificate`, so that
/// a certificate moved together with its spec (and data) still finds it (`ntkcert check` tries
/// this first). `None` when either cannot be made absolute (e.g. the spec does not exist).
pub fn spec_path_from_certificate(certificate: &Path, spec: &Path) -> Option<std::path::PathBuf> {
    let spec = std::fs::canonicalize(spec).ok()?;
    let dir = certificate.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let dir = std::fs::canonicalize(dir).ok()?;
    let (from, to): (Vec<_>, Vec<_>) = (dir.components().collect(), spec.components().collect());
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut relative = std::path::PathBuf::new();
    for _ in common..from.len() {
        relative.push("..");
    }
    for part in &to[common..] {
        relative.push(part.as_os_str());
    }
    Some(relative)
}

/// Whether a file can be written at `path` (checked before a long computation, so that an
/// unwritable `--out` is reported at once): `path` is not a directory, and a temporary file can
/// be created (and is removed again) in its directory. One-line errors, as
/// [`write_atomically`]'s.
pub fn check_writable(path: &Path) -> std::io::Result<()> {
    if path.is_dir() {
        return Err(std::io::Error::other("it is a directory"));
    }
    temporary_beside(path).map(drop)
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename. The
/// file gets the permissions of an ordinary new file (0666 less the umask), not the 0600 of a
/// temporary file. Errors are one line and do not mention the temporary file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut tmp = temporary_beside(path)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| std::io::Error::new(e.error.kind(), plain_reason(&e.error)))?;
    Ok(())
}

/// A new temporary file (removed when dropped) in the directory of `path`, with the permissions
/// of an ordinary new file; the error names the directory.
fn temporary_beside(path: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".ntkcert-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder.tempfile_in(&dir).map_err(|e| {
        std::io::Error::new(e.kind(), format!("cannot create a file in directory '{}': {}", dir.display(), plain_reason(&e)))
    })
}

/// An I/O error's message without tempfile's ` at path "..."` (the temporary file's name) and
/// without the trailing ` (os error N)`.
fn plain_reason(e: &std::io::Error) -> String {
    let mut s = e.to_string();
    if let Some(pos) = s.find(" at path \"") {
        s.truncate(pos);
    }
    if let Some(pos) = s.rfind(" (os error ") {
        if s.ends_with(')') {
            s.truncate(pos);
        }
    }
    s
}
