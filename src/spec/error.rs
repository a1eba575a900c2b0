//! The error type of the spec layer: one line naming the spec file, the field and the reason.

/// What went wrong, coarsely (the library's [`crate::error::ErrorKind`] `Io` and `Invalid`, which
/// the CLI maps to exit codes 66 and 65).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecErrorKind {
    /// The spec file or a data file it references is missing or cannot be read.
    Io,
    /// The spec or a data file was read but its content is invalid (syntax, type, value, shape).
    Invalid,
}

/// A rejected spec. Displays as one line:
/// `FILE: field 'FIELD': REASON` (or `FILE: REASON` when no single field is to blame, e.g. a
/// TOML syntax error, which then names the line and column).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct SpecError {
    /// The spec file as given to [`crate::spec::load`] (or the label given to `load_str`).
    pub file: String,
    /// The dotted path of the offending field, e.g. `model.activation`, `data.inputs[2][0]`,
    /// `weights.files[1]`.
    pub field: Option<String>,
    /// The reason, one line.
    pub reason: String,
    kind: SpecErrorKind,
}

impl SpecError {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        SpecError {
            file: String::new(),
            field: Some(field.into()),
            reason: one_line(reason.into()),
            kind: SpecErrorKind::Invalid,
        }
    }

    pub(crate) fn io(field: Option<String>, reason: impl Into<String>) -> Self {
        SpecError { file: String::new(), field, reason: one_line(reason.into()), kind: SpecErrorKind::Io }
    }

    pub(crate) fn general(reason: impl Into<String>) -> Self {
        SpecError { file: String::new(), field: None, reason: one_line(reason.into()), kind: SpecErrorKind::Invalid }
    }

    pub(crate) fn in_file(mut self, file: &str) -> Self {
        self.file = file.to_string();
        self
    }

    /// I/O (missing or unreadable file) versus invalid content.
    pub fn kind(&self) -> SpecErrorKind {
        self.kind
    }

    /// Whether this is an I/O error (missing or unreadable file).
    pub fn is_io(&self) -> bool {
        self.kind == SpecErrorKind::Io
    }

    fn render(&self) -> String {
        match &self.field {
            Some(field) => format!("{}: field '{}': {}", self.file, field, self.reason),
            None => format!("{}: {}", self.file, self.reason),
        }
    }
}

/// Collapses line breaks so that the message stays on one line.
fn one_line(s: String) -> String {
    if !s.contains(['\n', '\r']) {
        return s;
    }
    s.split(['\n', '\r']).map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ")
}

/// An `io::Error` without the trailing ` (os error N)`.
pub(crate) fn io_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(pos) if s.ends_with(')') => s[..pos].to_string(),
        _ => s,
    }
}
