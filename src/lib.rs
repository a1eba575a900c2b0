//! ntkcert: certify, with outward-rounded interval arithmetic, when gradient-flow training of a
//! neural network follows its neural tangent kernel linearisation.
//!
//! Module map (one concept each):
//! - [`error`]: the library's error type (kind, file, field, reason) and command outcomes.
//! - [`arith`]: exact input, the scalar trait (f64 / interval), rigorous norms.
//! - [`problem`]: the resolved problem (model, data, alpha, T, eps).
//! - [`spec`]: the TOML spec format and its data loaders.
//! - [`model`]: networks, their Taylor expansion along the flow, derivative bounds.
//! - [`enclose`]: the validated integrator, the linearised flow, the deviation bound.
//! - [`kernel`]: `ntkcert kernel` (empirical and infinite-width NTKs, certified spectra).
//! - [`certify`]: the end-to-end certification and its result.
//! - [`simulate`]: the same flows in plain f64 (the baseline).
//! - [`certificate`]: the certificate file.
//! - [`check`]: the independent certificate checker (MPFR balls, its own integrator).
//! - [`report`]: readable and JSON output.
//! - [`reference`]: an independent high-precision (MPFR) integration used by tests.
//! - [`sweep`]: `sweep`, `merge`, `table` and `plot` (grids, tables, figures).
//! - [`theory`]: certified theory bounds (MATH.md F3-F6) and their constants.
//! - [`regress`]: the theory regression suite (`ntkcert regress`).
//! - [`files`]: bounded reading of input files (regular files only, size limits).
//! - [`cli`], [`bench`]: the command line.

pub mod arith;
pub mod bench;
pub mod certificate;
pub mod certify;
pub mod check;
pub mod cli;
pub mod enclose;
pub mod error;
pub mod files;
pub mod kernel;
pub mod model;
pub mod problem;
pub mod reference;
pub mod regress;
pub mod report;
pub mod resources;
pub mod scale;
pub mod simulate;
pub mod spec;
pub mod sweep;
pub mod theory;
