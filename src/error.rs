//! The library's error type: what went wrong (a coarse [`ErrorKind`]), where (the file and the
//! field, when known) and why (one line). Every command's library function returns it; the
//! command line (`cli`) alone maps a kind to a process exit code, and the Python package maps
//! it to an exception.

use crate::spec::{SpecError, SpecErrorKind};

/// What went wrong, coarsely. `cli` maps these to the exit codes of README.md
/// (64, 65, 66, 73, 70 in this order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The request itself is malformed (an option out of range, no input given).
    Usage,
    /// An input (spec, data file, certificate, results file) was read but is invalid.
    Invalid,
    /// An input file is missing or cannot be read.
    Io,
    /// An output file cannot be written.
    CantCreate,
    /// The operation is not supported, or an internal step failed.
    Internal,
}

impl ErrorKind {
    /// A short lowercase name (`usage`, `invalid`, `io`, `cant_create`, `internal`).
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Usage => "usage",
            ErrorKind::Invalid => "invalid",
            ErrorKind::Io => "io",
            ErrorKind::CantCreate => "cant_create",
            ErrorKind::Internal => "internal",
        }
    }
}

impl From<SpecErrorKind> for ErrorKind {
    fn from(kind: SpecErrorKind) -> Self {
        match kind {
            SpecErrorKind::Io => ErrorKind::Io,
            SpecErrorKind::Invalid => ErrorKind::Invalid,
        }
    }
}

/// A failed operation. Displays as one line, `FILE: field 'FIELD': REASON` (the parts that are
/// known), which the command line prints after `error: `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct Error {
    pub kind: ErrorKind,
    /// The file to blame (spec, data file, certificate), as given.
    pub file: Option<String>,
    /// The dotted path of the offending field, e.g. `model.activation`.
    pub field: Option<String>,
    /// The reason, one line (may itself name the file when `file` is `None`).
    pub reason: String,
}

impl Error {
    /// An error with only a reason (which may already name the file).
    pub fn new(kind: ErrorKind, reason: impl Into<String>) -> Self {
        Error { kind, file: None, field: None, reason: one_line(reason.into()) }
    }

    pub fn usage(reason: impl Into<String>) -> Self {
        Error::new(ErrorKind::Usage, reason)
    }

    pub fn invalid(reason: impl Into<String>) -> Self {
        Error::new(ErrorKind::Invalid, reason)
    }

    pub fn io(reason: impl Into<String>) -> Self {
        Error::new(ErrorKind::Io, reason)
    }

    pub fn cant_create(reason: impl Into<String>) -> Self {
        Error::new(ErrorKind::CantCreate, reason)
    }

    pub fn internal(reason: impl Into<String>) -> Self {
        Error::new(ErrorKind::Internal, reason)
    }

    /// The same error blamed on `file` (shown before the reason).
    pub fn in_file(self, file: impl Into<String>) -> Self {
        Error { file: Some(file.into()), ..self }
    }

    fn render(&self) -> String {
        let mut s = String::new();
        if let Some(file) = &self.file {
            s += file;
            s += ": ";
        }
        if let Some(field) = &self.field {
            s += &format!("field '{field}': ");
        }
        s + &self.reason
    }
}

impl From<SpecError> for Error {
    fn from(e: SpecError) -> Self {
        Error { kind: e.kind().into(), file: Some(e.file.clone()), field: e.field.clone(), reason: e.reason.clone() }
    }
}

impl From<crate::certify::CertifyError> for Error {
    fn from(e: crate::certify::CertifyError) -> Self {
        Error::invalid(e.to_string())
    }
}

/// How a command that ran to its end came out; `cli` maps these to exit codes 0, 1 and 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Certified, valid, all assertions hold, or simply done.
    Success,
    /// Refuted, invalid, or an assertion violated.
    Negative,
    /// Neither proved nor refuted.
    Inconclusive,
}

fn one_line(s: String) -> String {
    if !s.contains(['\n', '\r']) {
        return s;
    }
    s.split(['\n', '\r']).map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_known_parts_on_one_line() {
        let e = Error { kind: ErrorKind::Invalid, file: Some("a.toml".into()), field: Some("alpha".into()), reason: "must be > 0".into() };
        assert_eq!(e.to_string(), "a.toml: field 'alpha': must be > 0");
        assert_eq!(Error::io("x.json: cannot read\nsecond").to_string(), "x.json: cannot read; second");
    }
}
