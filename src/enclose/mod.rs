//! Enclosure methods.
//!
//! - [`tube`]: validated integration of the true gradient flow.
//! - [`linear`]: the linearised flow by a rigorous matrix exponential of `K0`.
//! - [`deviation`]: the supremum of `D(t)` over `[0, T]`.
//! - [`poly`]: interval polynomials in the step variable.

pub mod deviation;
pub mod linear;
pub mod poly;
pub mod tube;
