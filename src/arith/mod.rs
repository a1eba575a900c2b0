//! Arithmetic backends.
//!
//! - [`rational`]: exact decimal input and the tightest f64 enclosure of a rational
//!   (proof: `proofs/exact-input.md`).
//! - [`scalar`]: the [`scalar::Scalar`] trait, implemented by `f64` (non-rigorous simulation)
//!   and by [`inari::Interval`] (outward-rounded enclosures). Model code is written once,
//!   generically, and runs in both.
//! - [`fast_interval`], [`ball`]: rigorous interval types built on round-to-nearest f64
//!   arithmetic for the integrator's inner loops (endpoints; midpoint-radius).
//! - [`gemm`]: products of ball matrices through a fast f64 matrix-multiply kernel, with an
//!   a-priori rounding bound (`proofs/fast-interval.md`, "Matrix products").
//! - [`jet`]: truncated power series in a second variable, for the order-Q Taylor model of a
//!   network (`proofs/taylor-models.md`).
//! - [`vector`]: rigorous norms of interval vectors.
//! - [`spd`]: largest eigenvalues and spectral norms of interval matrices (a floating-point
//!   Cholesky factor with an enclosed residual; `proofs/residual-hessian.md`, Lemma S).

pub mod ball;
pub mod elementary;
pub mod fast_interval;
pub mod gemm;
pub mod jet;
pub mod rational;
pub mod scalar;
pub mod spd;
pub mod vector;
