//! ntkcert: certify, with outward-rounded interval arithmetic, when gradient-flow training of a
//! neural network follows its neural tangent kernel linearisation.
//!
//! Module map (one concept each):
//! - [`arith`]: exact input, the scalar trait (f64 / interval), rigorous norms.
//! - [`problem`]: the resolved problem (model, data, alpha, T, eps).
//! - [`spec`]: the TOML spec format and its data loaders.
//! - [`model`]: networks, their Taylor expansion along the flow, derivative bounds.
//! - [`flow`]: the non-rigorous f64 simulation.
//! - [`enclose`]: the validated integrator, the linearised flow, the deviation bound.
//! - [`certify`]: the end-to-end certification and its result.
//! - [`certificate`]: the certificate file.
//! - [`reference`]: an independent high-precision (MPFR) integration used by tests.

pub mod arith;
pub mod certify;
pub mod problem;
