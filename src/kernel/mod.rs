//! `ntkcert kernel`: the empirical NTK `K0 = J(w0) J(w0)^T` of a spec's MLP at its initial
//! weights, or (`--limit`) the infinite-width NTK `Theta` and NNGP kernel `Sigma` of the same
//! architecture, enclosed, with certified bounds of the extreme eigenvalues.
//!
//! - [`number`]: the interval types of the recursion (inari; 128-bit MPFR intervals).
//! - [`limit`]: the layer recursion with closed-form Gaussian expectations (erf, relu, gelu, sin,
//!   identity), certified quadrature for the others ([`quadrature`]: tanh, sigmoid, softplus).
//! - [`empirical`]: `K0` (`LinearFlow`'s enclosure, or by layers when a layer is relu).
//! - [`prediction`]: the infinite-width prediction `f_inf(t) = (I - exp(-Theta t)) y` (and on
//!   test inputs by the cross-kernel), and the bound `kernel_gap` of its distance to the
//!   finite-width linearised trajectory.
//! - [`spectrum`]: `lambda_min`, `lambda_max`, positive definiteness, the condition number.
//! - [`command`]: the command ([`run`]), its text and JSON output.
//!
//! Proofs: `proofs/infinite-width-kernels.md`.

pub mod empirical;
pub mod limit;
pub mod number;
pub mod prediction;
pub mod quadrature;
pub mod spectrum;
pub mod command;

pub use command::run;
