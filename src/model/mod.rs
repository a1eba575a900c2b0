//! Networks: their Taylor expansion along the gradient flow, and derivative bounds.
//!
//! - [`coeffs`]: the vectors of Taylor coefficients the expansions are generic over.
//! - [`ball_vec`]: balls with midpoints and radii in separate arrays (the certified expansions).
//! - [`disc_vec`]: complex discs around real midpoints (bounds over a complex neighbourhood).
//! - [`point_vec`]: plain f64 vectors with kernel layer products (the float point path).
//! - [`activation`]: Taylor recurrences of the activations and their global derivative bounds.
//! - [`mlp`]: the multilayer perceptron's forward/backward Taylor passes.
//! - [`quadratic`]: the scalar tightness family (MATH.md F7).
//! - [`taylor_model`]: the order-Q Taylor model of an MLP around `w0` (the reference model of
//!   `reference_order`).
//! - [`flow`]: the gradient-flow vector field and its Taylor expansion (`Expansion`).
//! - [`bounds`]: norm bounds of `Dh` and `D^2 h` over a parameter box (the box recursion, and
//!   its per-input minimum with [`layered`], the sharper layered bound).

pub mod activation;
pub mod coeffs;
pub mod ball_vec;
pub mod disc_vec;
pub mod point_vec;
pub mod bounds;
pub mod curvature;
pub mod layered;
pub mod majorants;
pub mod flow;
pub mod mlp;
pub mod quadratic;
pub mod taylor_model;
pub mod jet_vec;
#[cfg(test)]
pub(crate) mod test_problems;
