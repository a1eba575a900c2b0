//! Enclosure methods.
//!
//! - [`tube`]: validated integration of the true gradient flow.
//! - [`linear`]: the linearised flow by a rigorous matrix exponential of `K0`.
//! - [`descent`]: validated gradient descent (iterates, not a flow).
//! - [`deviation`]: the supremum of `D(t)` over `[0, T]`.
//! - [`tail`]: the regularised flow on `[T1, infinity)` (`horizon = "inf"`).
//! - [`nodes`]: interpolation at nodes with a certified error (the step validation).
//! - [`poly`]: interval polynomials in the step variable.
//! - [`tight`]: inari intervals with a one-call MPFR tanh, for the forward pass of `h(w0)`.

pub mod descent;
pub mod deviation;
pub mod linear;
pub mod nodes;
pub mod poly;
pub mod tail;
pub mod tight;
pub mod tube;
