//! End-to-end certification: enclose the true flow and the linearised flow on [0, T], bound the
//! deviation, and decide the verdict.

use crate::problem::Problem;
use inari::Interval;

/// The outcome against the tolerance `eps`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// `sup_{t<=T} D(t) <= eps` is proved.
    Certified,
    /// A certified lower bound of `sup_{t<=T} D(t)` exceeds `eps`.
    Refuted,
    /// Neither could be proved.
    Inconclusive,
}

/// Tuning of the validated integrator. The defaults suit every shipped example.
#[derive(Debug, Clone)]
pub struct Options {
    /// Taylor order `q` of the step polynomials.
    pub order: usize,
    /// Give up (inconclusive) after this many steps.
    pub max_steps: usize,
    /// Show a progress bar on stderr.
    pub progress: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { order: 16, max_steps: 100_000, progress: false }
    }
}

/// Certified results. Every interval contains the exact quantity.
#[derive(Debug, Clone)]
pub struct Certified {
    pub verdict: Verdict,
    /// Why the verdict is inconclusive, and what would help.
    pub reason: Option<String>,
    /// `sup_{t in [0,T]} D(t)`.
    pub sup_deviation: Interval,
    /// `D(T)`.
    pub final_deviation: Interval,
    /// `alpha * g(w(T); x_i)` per output (`g = h - h(w0)` when centred, else `h`), input-major.
    pub outputs_final: Vec<Interval>,
    /// `alpha * g(wbar(T))`, the linearised model's outputs at T.
    pub linear_outputs_final: Vec<Interval>,
    /// `R0 = |alpha h(w0) - y|^2 / 2` (with `alpha h(w0)` replaced by 0 when centred).
    pub r0: Interval,
    /// Number of integration steps.
    pub steps: usize,
    /// Wall-clock seconds of the certification.
    pub seconds: f64,
}
