//! End-to-end certification: enclose the true flow and the linearised flow on [0, T], bound the
//! deviation, and decide the verdict.

use crate::arith::fast_interval::FastInterval;
use crate::arith::scalar::Scalar;
use crate::enclose::tight::TightInterval;
use crate::arith::rational::{f64_to_rational, rational_to_interval};
use crate::arith::vector::{interval, point, radius_norm2_upper, symmetric};
use crate::enclose::deviation::{sup_deviation, DeviationPiece};
use crate::enclose::linear::{LinearFlow, LinearStep};
use crate::model::flow::TrainedModel;
use crate::enclose::poly;
use crate::enclose::tail::{tail, Tail};
use crate::enclose::tube::{CentrePath, Rejection, Tolerances, TubeIntegrator, TubeStep};
use crate::model::flow::GradientFlow;
use crate::problem::{Architecture, Problem};
use crate::scale::Scale;
use inari::Interval;

mod descent;
pub mod exact;
use num_rational::BigRational;
use num_traits::{ToPrimitive, Zero};

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

/// How accurately `certify` encloses the two flows. Accuracy changes widths and cost, never
/// soundness: every step's remainder is verified whatever its target
/// (`proofs/tube-integrator.md`, "What is not needed for soundness").
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Accuracy {
    /// Step targets at `2^-56` of the parameter and output scales (about half an ulp), order 16
    /// unless given: the step control before accuracy targets (one pass; the default returns
    /// exactly this).
    Tight,
    /// Aim for a decided verdict and `sup D` to this relative width (within twice of it): a
    /// first pass with loose step targets; when its enclosure is wider, or too wide to decide,
    /// further passes tighten the targets (the last one is `Tight`), unless a decided pass's
    /// widths come from rounding, which shorter steps do not narrow.
    Relative(f64),
}

impl Accuracy {
    /// The default: a decided verdict and `sup D` to a relative width of about `1e-4`, the
    /// digits a table prints.
    pub const DEFAULT: Accuracy = Accuracy::Relative(1e-4);

    /// `"tight"` or a relative width in `(0, 1)` (e.g. `"1e-6"`); `None` otherwise.
    pub fn parse(text: &str) -> Option<Accuracy> {
        if text == "tight" {
            return Some(Accuracy::Tight);
        }
        let value: f64 = text.parse().ok()?;
        (value > 0.0 && value < 1.0).then_some(Accuracy::Relative(value))
    }
}

/// Tuning of the validated integrator. The defaults suit every shipped example.
#[derive(Debug, Clone)]
pub struct Options {
    /// Taylor order `q` of the step polynomials; `None`: 16 (`DEFAULT_ORDER`).
    pub order: Option<usize>,
    /// The accuracy target (see [`Accuracy`]).
    pub accuracy: Accuracy,
    /// Give up (inconclusive) after this many steps (`simulate` stops there too).
    pub max_steps: usize,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// Print every rejected step attempt (time, step length, reason) on stderr.
    pub trace: bool,
    /// How the gradient flow's steps are validated (widths and cost only: every choice is
    /// sound).
    pub validation: StepValidation,
}

/// How the integrator validates a step of the gradient flow (`proofs/tube-integrator.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepValidation {
    /// At nodes for MLPs with a large product between hidden layers (`NODES_MIN_LAYER_WORK`)
    /// in passes aimed at `NODES_TIGHTEST_RELATIVE` or looser; by the remainder pass otherwise.
    Auto,
    /// At nodes (MLPs) in passes aimed at `NODES_TIGHTEST_RELATIVE` or looser.
    Nodes,
    /// Always by the remainder pass of order `q + 1` (Lemma 1).
    Remainder,
}

impl StepValidation {
    /// `"auto"`, `"nodes"` or `"remainder"`; `None` otherwise.
    pub fn parse(text: &str) -> Option<StepValidation> {
        match text {
            "auto" => Some(StepValidation::Auto),
            "nodes" => Some(StepValidation::Nodes),
            "remainder" => Some(StepValidation::Remainder),
            _ => None,
        }
    }
}

impl Options {
    /// The defaults, overridden by a spec's `[solver]` settings, then by an explicit `order`
    /// (e.g. the command line's `--order`).
    pub fn from_solver(solver: &crate::spec::SolverSettings, order: Option<usize>) -> Options {
        let mut options = Options::default();
        if let Some(q) = solver.order {
            options.order = Some(q);
        }
        if let Some(m) = solver.max_steps {
            options.max_steps = m;
        }
        if let Some(a) = solver.accuracy {
            options.accuracy = a;
        }
        if let Some(v) = solver.validation {
            options.validation = v;
        }
        if let Some(q) = order {
            options.order = Some(q);
        }
        options
    }

    /// The step targets (relative to the scales) and the Taylor order of the first pass: what
    /// `simulate` uses, so that it takes the steps `certify` takes.
    pub fn first_pass(&self) -> PassSettings {
        let relative = match self.accuracy {
            Accuracy::Tight => TIGHT_RELATIVE,
            Accuracy::Relative(target) => (target * FIRST_PASS_FACTOR).clamp(TIGHT_RELATIVE, LOOSEST_RELATIVE),
        };
        self.pass(relative)
    }

    fn pass(&self, relative: f64) -> PassSettings {
        PassSettings { relative, order: self.order.unwrap_or(DEFAULT_ORDER), max_steps: self.max_steps }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options { order: None, accuracy: Accuracy::DEFAULT, max_steps: 100_000, progress: false, trace: false, validation: StepValidation::Auto }
    }
}

/// The Taylor orders accepted everywhere (defined with the spec, [`crate::spec::ORDER_RANGE`]).
pub use crate::spec::ORDER_RANGE;

/// The command-line error for an `--order` outside [`ORDER_RANGE`], `None` when it is inside
/// or absent (the words of [`crate::spec::order_range_error`]).
pub fn order_option_error(order: Option<usize>) -> Option<String> {
    let why = crate::spec::order_range_error(order? as i128)?;
    Some(format!("--order {why}"))
}

/// The settings of one pass of the integrator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PassSettings {
    /// Step targets: the last Taylor terms of a step stay below this times the parameter (resp.
    /// output) scale.
    pub relative: f64,
    /// Taylor order `q`.
    pub order: usize,
    /// Step budget (`Options::max_steps`).
    pub max_steps: usize,
}

/// The tight step target, `2^-56` (about half an ulp), so that truncation adds little to the
/// rounding widths.
pub const TIGHT_RELATIVE: f64 = 1.0 / 72_057_594_037_927_936.0;
/// The first pass of `Accuracy::Relative(w)` aims its steps at `w * FIRST_PASS_FACTOR`: the
/// truncation errors of about a hundred steps, amplified into `D`'s enclosure, then stay well
/// inside `w` of a deviation of the outputs' scale.
const FIRST_PASS_FACTOR: f64 = 1e-6;
/// Passes aimed at this relative accuracy or looser validate their steps at nodes; tighter ones
/// by the remainder pass (the nodes' interpolation term stays near 1e-12 of the field per unit
/// of time however short the step: `proofs/tube-integrator.md`, "Validation at nodes").
const NODES_TIGHTEST_RELATIVE: f64 = 1e-12;
/// The validation at nodes is used when a layer product between hidden layers has at least
/// this many multiplications (`n x din x dout`): there the remainder pass's `q^2/2` products per
/// order dominate. Measured (one run each, nodes against the remainder pass): deep-tanh-w128
/// (1.6e6) 3.4 s against 5.2 s; gf-mlp-large (no such layer; 2.6e5 in its output layer) 7.1 s
/// against 8.4 s; gf-mlp-mid 0.28 s against 0.22 s, with sup D 2.4x wider.
const NODES_MIN_LAYER_WORK: usize = 1 << 20;
/// No pass aims looser than this.
const LOOSEST_RELATIVE: f64 = 1e-8;
/// A pass whose relative width of `sup D` is within this factor of the target is kept.
const ACCEPTED_EXCESS: f64 = 2.0;
/// A decided pass whose truncation share (`Certified::truncation_share`) is below this is kept
/// whatever its width: its widths are the rounding's.
const ROUNDING_FLOOR_SHARE: f64 = 0.1;
/// ... and one whose rounding part alone is above the accepted width is kept when its truncation
/// share is below this: a tighter pass could narrow it by at most `1 / (1 - share)`, 4x here.
const WORTH_A_PASS_SHARE: f64 = 0.75;
/// At most this many passes (the last one tight).
const MAX_PASSES: usize = 3;

/// The Taylor order unless given. Measured on gf-mlp-mid at the first pass's step target
/// (1e-10): order 10 took 73 steps and 1.03 s, 12: 48 and 1.07 s, 14: 39 and 0.92 s, 16: 32 and
/// 0.81 s; tight, 16 takes 76 steps. A lower order for looser targets does not pay here.
pub const DEFAULT_ORDER: usize = 16;

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
    /// What each step proved (certificate hints; gradient flow).
    pub step_records: Vec<StepRecord>,
    /// What each chunk of iterations proved (certificate hints; gradient descent).
    pub chunk_records: Vec<ChunkRecord>,
    /// With `horizon = "inf"`: what the tail argument proved from `T1` on (certificate hint).
    pub tail: Option<TailRecord>,
    /// Wall-clock seconds of the certification (all passes).
    pub seconds: f64,
    /// Taylor order of the pass that gave these results (certificate hint).
    pub order: usize,
    /// Passes run (see [`Accuracy::Relative`]).
    pub passes: usize,
    /// The share of truncation in what the steps added to the tube radius (gradient flow; 0
    /// otherwise): near 0 the widths come from rounding, and shorter steps cannot narrow them.
    pub truncation_share: f64,
    /// The normalisation the integrator worked in (`crate::scale`; the hints are in its units)
    /// and, when it rescaled the outputs, the enclosures exactly as computed there: the fields
    /// above are those times `2^j` (`R0`: `4^j`), rounded outward, so they may have left the
    /// f64 range where these have not (the certificate writes these, `report::certify_value`).
    pub normalized: Normalized,
}

/// A result's enclosures in the units of the normalised problem (`proofs/normalisation.md`).
#[derive(Debug, Clone, Default)]
pub struct Normalized {
    pub scale: Scale,
    /// `(sup D, D(T), outputs, linear outputs, R0)` in normalised units; `None` when
    /// `scale.output = 0` (the fields of [`Certified`] are then these).
    pub enclosures: Option<Box<Enclosures>>,
}

/// The enclosures a result claims (see [`Certified`]'s fields of the same names).
#[derive(Debug, Clone)]
pub struct Enclosures {
    pub sup_deviation: Interval,
    pub final_deviation: Interval,
    pub outputs_final: Vec<Interval>,
    pub linear_outputs_final: Vec<Interval>,
    pub r0: Interval,
}

impl Certified {
    /// Certified with `D = 0` exactly at every time and no steps (the exact special cases:
    /// [`at_rest`], `exact::stationary`, `proofs/tube-integrator.md`, "Exact special cases"):
    /// both models' outputs `outputs` (enclosures of `alpha g`), `R0` enclosed by `r0`.
    fn exactly_zero(problem: &Problem, outputs: Vec<Interval>, r0: Interval) -> Certified {
        Certified {
            verdict: Verdict::Certified,
            reason: None,
            sup_deviation: point(0.0),
            final_deviation: point(0.0),
            outputs_final: outputs.clone(),
            linear_outputs_final: outputs,
            r0,
            steps: 0,
            step_records: Vec::new(),
            chunk_records: Vec::new(),
            // Nothing moves after T1 either (a hint only: the checker proves the rest itself).
            tail: problem.infinite_horizon.then(|| TailRecord {
                guard: 1.0,
                contraction: problem.regularization.enclosure.inf(),
                displacement: 0.0,
                linear_displacement: 0.0,
            }),
            seconds: 0.0,
            order: 0,
            passes: 1,
            truncation_share: 0.0,
            normalized: Normalized::default(),
        }
    }

    /// Inconclusive with `reason`: whole-line enclosures of the `n_out` outputs and `sup D`, the
    /// enclosure `r0` of `R0`, no records (the caller adds those it has; `steps` follows
    /// `step_records` unless set).
    fn inconclusive(reason: String, n_out: usize, r0: Interval, seconds: f64) -> Certified {
        Certified {
            verdict: Verdict::Inconclusive,
            reason: Some(reason),
            sup_deviation: Interval::ENTIRE,
            final_deviation: Interval::ENTIRE,
            outputs_final: vec![Interval::ENTIRE; n_out],
            linear_outputs_final: vec![Interval::ENTIRE; n_out],
            r0,
            steps: 0,
            step_records: Vec::new(),
            chunk_records: Vec::new(),
            tail: None,
            seconds,
            order: 0,
            passes: 1,
            truncation_share: 0.0,
            normalized: Normalized::default(),
        }
    }

    /// Proof: `proofs/normalisation.md`, Lemma S1.
    /// This result of the problem normalised by `scale` as one of `problem` (the user's): the
    /// deviations and outputs times `2^j`, `R0` times `4^j`, outward rounded, the normalised
    /// enclosures kept in [`Certified::normalized`] (the reasons already speak the user's units,
    /// [`decide`]). The verdict is the normalised problem's: `D <= eps` iff `2^-j D <= 2^-j eps`.
    fn in_units_of(self, scale: Scale) -> Certified {
        let j = scale.output;
        if j == 0 {
            return Certified { normalized: Normalized { scale, enclosures: None }, ..self };
        }
        let up = |x: Interval| crate::scale::scale_interval(x, j);
        let normalized = Enclosures {
            sup_deviation: self.sup_deviation,
            final_deviation: self.final_deviation,
            outputs_final: self.outputs_final.clone(),
            linear_outputs_final: self.linear_outputs_final.clone(),
            r0: self.r0,
        };
        Certified {
            sup_deviation: up(self.sup_deviation),
            final_deviation: up(self.final_deviation),
            outputs_final: self.outputs_final.iter().map(|&x| up(x)).collect(),
            linear_outputs_final: self.linear_outputs_final.iter().map(|&x| up(x)).collect(),
            r0: crate::scale::scale_interval(self.r0, 2 * j),
            normalized: Normalized { scale, enclosures: Some(Box::new(normalized)) },
            ..self
        }
    }
}

/// The enclosures at `t = 0`: `h(w0)`, the centring offset, `r0` and `R0 = |r0|^2 / 2`.
#[derive(Debug, Clone)]
pub struct InitialState {
    /// `h(w0)` over the initial box.
    pub outputs: Vec<Interval>,
    /// `Some(h(w0))` for the centred model.
    pub offset: Option<Vec<Interval>>,
    /// `r0 = alpha (h(w0) - offset) - y`, exactly `-y` when centred.
    pub residual: Vec<Interval>,
    pub half_r0_sq: Interval,
}

impl InitialState {
    pub fn new(problem: &Problem) -> Self {
        // inari arithmetic with a tanh from one MPFR call per neuron and input instead of two
        // (`enclose::tight`): the enclosure of h(w0) enters every residual of the centred
        // model, and ball or endpoint passes widened the gf-mlp-small outputs from 3.3e-12 to
        // 4.8e-12 (measured).
        let start: Vec<TightInterval> = problem.params0.iter().map(|&v| TightInterval(v)).collect();
        let outputs: Vec<Interval> =
            GradientFlow::<Vec<TightInterval>>::new(problem, None).outputs_at(&start).into_iter().map(Scalar::to_interval).collect();
        let alpha = problem.alpha.enclosure;
        let residual: Vec<Interval> = if problem.centred {
            problem.targets.iter().map(|&y| -y).collect()
        } else {
            outputs.iter().zip(&problem.targets).map(|(&h, &y)| alpha * h - y).collect()
        };
        let half_r0_sq = residual.iter().fold(point(0.0), |acc, &r| acc + r.sqr()) * point(0.5);
        let offset = problem.centred.then(|| outputs.clone());
        InitialState { outputs, offset, residual, half_r0_sq }
    }
}

/// Per-step data recorded for reports and as certificate hints.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StepRecord {
    /// Start time (nearest f64 of the exact rational time).
    pub t: f64,
    /// Step length (upper end of its enclosure).
    pub h: f64,
    /// Radius of the ball containing `w(t_k)`.
    pub radius: f64,
    /// Bound of `|w - u|` over the step.
    pub tube_radius: f64,
    /// Logarithmic-norm bound used over the step.
    pub mu: f64,
    /// Radius of the ball containing `rbar(t_k)`.
    pub linear_radius: f64,
    /// The order-`Q` model's tube radius over the step (`reference_order >= 2`; a hint for the
    /// checker, absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_tube_radius: Option<f64>,
}

/// Per-chunk data of gradient descent, recorded as certificate hints (`specs/certificate.md`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ChunkRecord {
    /// The chunk's first iterate.
    pub k: u64,
    /// Its number of iterates.
    pub count: u64,
    /// The box's half-width around the centres' hull.
    pub guard: f64,
    /// `w_k` lies in a ball of this radius.
    pub radius: f64,
    /// `rbar_k` lies in a ball of this radius.
    pub linear_radius: f64,
    /// The Lipschitz bound of the descent map over the box.
    pub lipschitz: f64,
}

/// The tail argument's figures (`horizon = "inf"`), recorded as certificate hints.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TailRecord {
    /// The box's half-width around the centre at `T1`.
    pub guard: f64,
    /// `m > 0`: the flow contracts at this rate on the box.
    pub contraction: f64,
    /// `>= |w(t) - w(T1)|` for all `t >= T1`.
    pub displacement: f64,
    /// `>= |rbar(t) - rbar(T1)|` for all `t >= T1`.
    pub linear_displacement: f64,
}

/// Why certification could not run.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CertifyError {
    #[error("the problem has no training inputs")]
    NoInputs,
}

/// Relative width at which the supremum search stops.
const SUP_RTOL: f64 = 1e-10;

/// Certifies `problem`: encloses both trajectories on `[0, T]` and bounds the deviation, to the
/// accuracy of `options.accuracy` (one or more passes of the integrator, each a complete
/// certification; the last one's results are returned).
///
/// Never returns a false statement: every interval in the result contains the exact quantity
/// (proofs: `proofs/tube-integrator.md`, `proofs/matrix-exponential.md`,
/// `proofs/sup-over-interval.md`). If the integrator cannot proceed the verdict is
/// `Inconclusive` with the reason, and the intervals are whole-line.
pub fn certify(problem: &Problem, options: &Options) -> Result<Certified, CertifyError> {
    if problem.num_inputs() == 0 {
        return Err(CertifyError::NoInputs);
    }
    // Range and time scale are the normalised problem's (proofs/normalisation.md).
    let (normalized, scale) = problem.normalized();
    Ok(certify_normalized(&normalized, options, scale)?.in_units_of(scale))
}

/// [`certify`] of a normalised problem (`crate::scale`), in its units (`scale` only restates
/// times in the spec's units in the reasons). An order raised above the default is never worse
/// than the default (issue 20, deliverable 5): when its answer is undecided or wider than the
/// accuracy asked, the default order is run too and the better answer kept (decided before
/// undecided, then the narrower `sup D`; both are valid).
fn certify_normalized(problem: &Problem, options: &Options, scale: Scale) -> Result<Certified, CertifyError> {
    let raised = certify_at_order(problem, options, scale)?;
    if !options.order.is_some_and(|q| q > DEFAULT_ORDER) || problem.descent().is_some() || accurate_enough(options, &raised) {
        return Ok(raised);
    }
    let default = certify_at_order(problem, &Options { order: None, ..options.clone() }, scale)?;
    let seconds = raised.seconds + default.seconds;
    let rank = |r: &Certified| (r.verdict == Verdict::Inconclusive, relative_width(r));
    let better = if rank(&default) < rank(&raised) { default } else { raised };
    Ok(Certified { seconds, ..better })
}

/// Whether `result` is decided and, with [`Accuracy::Relative`], within twice the asked width.
fn accurate_enough(options: &Options, result: &Certified) -> bool {
    result.verdict != Verdict::Inconclusive
        && match options.accuracy {
            Accuracy::Tight => true,
            Accuracy::Relative(target) => relative_width(result) <= 2.0 * target,
        }
}

/// [`certify_normalized`] at the order `options` give.
fn certify_at_order(problem: &Problem, options: &Options, scale: Scale) -> Result<Certified, CertifyError> {
    let initial = InitialState::new(problem);
    // Exact special cases (D = 0 identically): at rest, a stationary start (certify/exact.rs).
    if let Some(result) = at_rest(problem, &initial).or_else(|| exact::stationary(problem, &initial)).filter(|_| problem.descent().is_none()) {
        return Ok(Certified { order: options.first_pass().order, ..result });
    }
    if !(initial.half_r0_sq.sup() < f64::MAX) {
        // Not a property of the flow: the numbers leave the f64 range (issue 20).
        let reason = format!(
            "the f64 range: even with alpha normalised into [1, 2) by an exact power of two (proofs/normalisation.md), R0 = |alpha h(w0) - y|^2 / 2 encloses to [{:e}, {:e}]: y / alpha or h(w0) is beyond f64 (a smaller |y| / alpha would help)",
            initial.half_r0_sq.inf(),
            initial.half_r0_sq.sup()
        );
        // R0 itself is then claimed as the whole line (true; the checker's arithmetic need not
        // reproduce an overflowed enclosure).
        let order = options.first_pass().order;
        return Ok(Certified { order, ..Certified::inconclusive(reason, problem.num_outputs(), Interval::ENTIRE, 0.0) });
    }
    if let Some(descent) = problem.descent() {
        return Ok(descent::certify_descent(problem, descent, options, &initial, scale));
    }
    let started = std::time::Instant::now();
    let mut settings = options.first_pass();
    let mut passes = 0;
    let mut previous: Option<Certified> = None;
    loop {
        let mut result = exact::exact_deviation(problem, certify_pass(problem, options, settings, &initial, scale));
        passes += 1;
        if options.trace && options.accuracy != Accuracy::Tight {
            eprintln!(
                "pass {passes}: step target {:.1e}, order {}: {:?}, {} steps, {:.3} s, sup D in [{:e}, {:e}], truncation share {:.2e}",
                settings.relative, settings.order, result.verdict, result.steps, result.seconds, result.sup_deviation.inf(), result.sup_deviation.sup(), result.truncation_share
            );
        }
        let mut next = next_pass(options, settings.relative, &result);
        if let Some(before) = previous.take() {
            // At the rounding floor shorter steps buy nothing: stop when a decided pass did not
            // halve the width and decided nothing new (deep-tanh-w128: 2.9e-3, then 2.5e-3 in
            // 1.3x the time, then 2.0e-3 tight in 3.3x), and keep the narrower result (both are
            // valid). An undecided answer still gets its tight pass.
            let decided = result.verdict != Verdict::Inconclusive;
            if decided && result.verdict == before.verdict && !(relative_width(&result) <= 0.5 * relative_width(&before)) {
                next = None;
                if relative_width(&before) < relative_width(&result) {
                    result = Certified { seconds: result.seconds, ..before };
                }
            }
        }
        let Some(next) = next.filter(|_| passes < MAX_PASSES) else {
            result.seconds = started.elapsed().as_secs_f64();
            result.passes = passes;
            return Ok(result);
        };
        // The last pass allowed is tight, so that an undecided answer is never for want of trying.
        settings = options.pass(if passes + 1 == MAX_PASSES { TIGHT_RELATIVE } else { next });
        previous = Some(result);
    }
}

/// Whether the steps are validated at nodes (see [`NODES_MIN_LAYER_WORK`]): MLPs with a large
/// product between hidden layers.
fn nodes_pay_off(problem: &Problem) -> bool {
    let Architecture::Mlp(arch) = &problem.architecture else { return false };
    let n = problem.num_inputs();
    arch.widths.windows(2).skip(1).any(|w| n.saturating_mul(w[0]).saturating_mul(w[1]) >= NODES_MIN_LAYER_WORK)
}

/// `R0 = 0` exactly (every residual enclosure is the point 0, e.g. zero targets on the centred
/// model): `w0` is an equilibrium of the flow (the gradient `J^T r / alpha` and the penalty's
/// `lambda (w - w0)` both vanish there), and `rbar` stays 0, so `D = 0` at every time, for
/// every horizon (`proofs/tube-integrator.md`, "Exact special cases"). `None` otherwise.
/// Gradient flow only: gradient descent encloses the fixed point by its own iteration.
fn at_rest(problem: &Problem, initial: &InitialState) -> Option<Certified> {
    let zero = |r: &Interval| r.inf() == 0.0 && r.sup() == 0.0;
    if !initial.residual.iter().all(zero) {
        return None;
    }
    // alpha g(w0) = r0 + y = y: the targets' enclosures, for both models.
    let outputs: Vec<Interval> = problem.targets.clone();
    Some(Certified::exactly_zero(problem, outputs, point(0.0)))
}

/// `wid(sup D) / sup(sup D)`, infinite when `sup D` is not finite.
fn relative_width(result: &Certified) -> f64 {
    let sup = result.sup_deviation;
    if sup.inf().is_finite() && sup.sup().is_finite() {
        sup.wid() / sup.sup().max(f64::MIN_POSITIVE)
    } else {
        f64::INFINITY
    }
}

/// The policy of [`Accuracy::Relative`]: after a pass aimed at `relative`, the next pass's
/// target, or `None` when the result is good enough (decided, and `sup D` within the asked
/// relative width), already tight, or ran out of steps (a tighter pass needs more). When a
/// loose pass gave up otherwise (whole-line enclosures: the longer steps' tubes let the error
/// grow too fast), the next pass is tight.
fn next_pass(options: &Options, relative: f64, result: &Certified) -> Option<f64> {
    let Accuracy::Relative(target) = options.accuracy else { return None };
    let sup = result.sup_deviation;
    if relative <= TIGHT_RELATIVE || result.steps >= options.max_steps {
        return None;
    }
    if !(sup.inf().is_finite() && sup.sup().is_finite()) {
        return Some(TIGHT_RELATIVE);
    }
    let achieved = relative_width(result);
    let decided = result.verdict != Verdict::Inconclusive;
    // "About" the target: within twice of it is accepted (on gf-mlp-mid the rounding floor,
    // 6.7e-5, is close to 1e-4, and a strict target cost a third, tight pass).
    if decided && achieved <= ACCEPTED_EXCESS * target {
        return None;
    }
    // At the rounding floor: when truncation made less than this share of what the steps added
    // to the widths, shorter steps can narrow them by about that share only (deep-tanh-w128:
    // share 0.087, the tight pass gave 2.5e-3 for 2.9e-3 in 1.6x the time; capd-edge: share
    // 0.69, the second pass went from 2.5e-4 to 8e-6).
    if decided && result.truncation_share < ROUNDING_FLOOR_SHARE {
        return None;
    }
    // Likewise when the rounding's share alone is above the accepted width: no tighter pass
    // reaches the target (gf-mlp-large: 7.3e-4 with truncation share 0.54; a second pass gave
    // 6.2e-4 in 1.2x the first's time), unless truncation is most of the width, when a tighter
    // pass can still narrow it many times (GF-MLP(16, 2, 8), Q = 3, alpha = 20: 0.31 with share
    // 0.997 after one pass). With an order-Q model the share counts both flows' steps
    // (`output_widths_added`): gf-mlp-mid, Q = 2: 1.4e-3 with share 0.65 after one pass, and a
    // second pass gave 8.7e-4 in 1.3x the first's time.
    if decided && result.truncation_share < WORTH_A_PASS_SHARE && achieved * (1.0 - result.truncation_share) > ACCEPTED_EXCESS * target {
        return None;
    }
    // The widths scale about linearly with the step targets until the rounding floor: aim at a
    // twentieth of the target (gf-mlp-mid: aiming at half of it, then a tenth, gave 1.4e-4
    // for 1e-4, and a third pass).
    let factor = if achieved > target { (0.05 * target / achieved).clamp(1e-6, 0.05) } else { 1e-3 };
    Some((relative * factor).max(TIGHT_RELATIVE))
}

/// One step's attempt: from the ball `B(centre, radius)` at time `t` along `path`, at most
/// `remaining` (exact) and `cap` (the linearised flow's step cap) long.
struct StepAttempt<'a, 'p> {
    centre: &'a [f64],
    radius: f64,
    path: &'a CentrePath,
    tol: Tolerances,
    t: &'a BigRational,
    remaining: &'a BigRational,
    cap: f64,
    trace: bool,
    /// The order-`Q` model's flow (`Q >= 2`), stepped with the same lengths.
    reference: Option<ModelAttempt<'a, 'p>>,
}

/// The reference model's side of an attempt when it is the order-`Q` Taylor model: its own
/// integrator, ball and path.
struct ModelAttempt<'a, 'p> {
    tube: &'a mut TubeIntegrator<'p>,
    centre: &'a [f64],
    radius: f64,
    path: &'a CentrePath,
}

/// The network's step and, for `Q >= 2`, the model's step over the same interval.
type PairedStep = (TubeStep, Option<TubeStep>);

/// The step control of a pass (policy only: every accepted step is proved by
/// `TubeIntegrator::try_step`): the proposal from the path's series, shrunk after rejections,
/// and the two corrections carried from step to step.
struct StepControl {
    /// Step-length cap from the last logarithmic-norm bound (see the TubeGrowth rejection).
    growth_limit: f64,
    /// Whether the last attempt of a step that could not be made overflowed the f64 range
    /// (`Rejection::Overflow`): the reason then names the range, not the error growth.
    overflowed: bool,
    /// The point series' proposal tends to overshoot the verified remainder by a steady factor
    /// on smooth problems (27 rejected attempts in 73 steps on gf-mlp-mid, each costing an
    /// expansion over the box): the correction of the last rejected step, or of a step kept
    /// with a remainder above its target (`TubeStep::remainder_shrink`), is carried forward and
    /// relaxed by 5% per step without one. (With the kept steps, mid has 1 rejection instead of
    /// 10 and 3.5% fewer instructions; its output width grew by 1%.)
    proposal_scale: f64,
}

impl StepControl {
    fn new() -> Self {
        StepControl { growth_limit: f64::INFINITY, overflowed: false, proposal_scale: 1.0 }
    }

    /// The accepted step and its exact length, or `None` when the length underflowed (after
    /// at most 40 attempts).
    fn step(&mut self, tube: &mut TubeIntegrator, mut a: StepAttempt<'_, '_>) -> Option<(PairedStep, BigRational)> {
        let remaining_f = a.remaining.to_f64().unwrap_or(f64::MAX);
        let own = tube.propose_step(a.path, a.tol);
        let proposed = self.proposal_scale * a.reference.as_ref().map_or(own, |r| own.min(r.tube.propose_step(r.path, a.tol)));
        let mut h_try = proposed.min(a.cap).min(remaining_f).min(self.growth_limit);
        let mut accepted = None;
        let mut remainder_rejected = false;
        for _ in 0..40 {
            // The last step is the exact remainder of the horizon, enclosed: taken whenever the
            // attempt reaches the nearest f64 of the remainder (an attempt rounded just below
            // the exact remainder would leave a sub-ulp last step, one more step's work).
            let (h_exact, h_iv) = if !h_try.is_finite() || h_try >= remaining_f || f64_to_rational(h_try) >= *a.remaining {
                (a.remaining.clone(), rational_to_interval(a.remaining))
            } else {
                (f64_to_rational(h_try), point(h_try))
            };
            let attempt = tube.try_step(a.centre, a.radius, a.path, h_iv, a.tol).and_then(|step| match &mut a.reference {
                None => Ok((step, None)),
                Some(r) => r.tube.try_step(r.centre, r.radius, r.path, h_iv, a.tol).map(|model| (step, Some(model))),
            });
            match attempt {
                Ok(step) => {
                    accepted = Some((step, h_exact));
                    break;
                }
                Err(rejection) => {
                    if a.trace {
                        eprintln!("t = {:.6e}, h = {:.3e}: rejected, {rejection:?}", a.t.to_f64().unwrap_or(f64::NAN), h_iv.sup());
                    }
                    h_try = match rejection {
                        Rejection::TubeGrowth(mu) => {
                            self.growth_limit = growth_step_cap(mu);
                            (h_iv.sup() * 0.5).min(self.growth_limit)
                        }
                        Rejection::Remainder(factor) => {
                            remainder_rejected = true;
                            h_iv.sup() * factor
                        }
                        Rejection::Overflow => h_iv.sup() * 0.5,
                    };
                    self.overflowed = rejection == Rejection::Overflow;
                }
            }
            if !(h_try > remaining_f * 1e-14) {
                break;
            }
        }
        self.proposal_scale = match &accepted {
            Some(((step, _), _)) if remainder_rejected && proposed > 0.0 => (self.proposal_scale * step.step.sup() / proposed).clamp(0.01, 1.0),
            Some(((TubeStep { remainder_shrink: Some(factor), .. }, _), _)) => (self.proposal_scale * factor).clamp(0.01, 1.0),
            _ => (self.proposal_scale * 1.05).min(1.0),
        };
        // The next step starts below the growth limit of this one's mu (a heuristic: mu varies
        // slowly; a wrong guess only costs a rejection).
        self.growth_limit = accepted.as_ref().map_or(self.growth_limit, |((step, model), _)| {
            let mu = model.as_ref().map_or(step.mu, |m| m.mu.max(step.mu));
            if mu > 0.0 && a.radius > 0.0 { growth_step_cap(mu) } else { f64::INFINITY }
        });
        accepted
    }
}

/// One pass of the integrator with the step targets and order of `settings`, from the
/// enclosures at `t = 0` (`initial`; the problem has inputs).
fn certify_pass(problem: &Problem, options: &Options, settings: PassSettings, initial: &InitialState, scale: Scale) -> Certified {
    let started = std::time::Instant::now();
    let order = settings.order.max(2);
    let w0 = &problem.params0;
    let alpha = problem.alpha.enclosure;
    let n_out = problem.num_outputs();
    let out_dim = problem.architecture.output_dim();

    // h(w0) over the initial box; the centred model subtracts it.
    let InitialState { outputs: initial_outputs, offset, residual: r0, half_r0_sq } = initial.clone();
    let relative = settings.relative;
    // Passes aimed below NODES_TIGHTEST_RELATIVE keep the remainder pass of order q + 1, whose
    // bound shrinks with the step without the floor of the validation at nodes
    // (`TubeIntegrator::validate_at_nodes`).
    // MLPs on a finite horizon: in displacements u = w - w0 from the exact point u = 0
    // (`TubeIntegrator::in_displacements`; the checker does the same). The tail argument of
    // horizon = "inf" stays in weights.
    let tube = TubeIntegrator::new(problem, offset.clone(), order);
    let mut tube = if problem.infinite_horizon { tube.with_differences() } else { tube.in_displacements() };
    let at_nodes = match options.validation {
        StepValidation::Auto => nodes_pay_off(problem),
        StepValidation::Nodes => true,
        StepValidation::Remainder => false,
    };
    if relative >= NODES_TIGHTEST_RELATIVE && at_nodes {
        tube = tube.validate_at_nodes();
    }
    let linear = LinearFlow::new(problem, w0, &r0);
    // Q >= 2: the order-Q model's flow, on the same grid (the linearised flow is not used).
    let mut model = match problem.reference_order {
        1 => None,
        q => match TubeIntegrator::for_model(problem, offset.clone(), order, TrainedModel::TaylorModel(q)) {
            Some(tube) => Some(ModelFlow { tube: tube.with_differences(), centre: w0.iter().map(|v| v.mid()).collect(), radius: radius_norm2_upper(w0) }),
            None => return Certified::inconclusive(format!("reference_order = {q} needs an MLP"), n_out, half_r0_sq, started.elapsed().as_secs_f64()),
        },
    };

    let (mut centre, mut radius): (Vec<f64>, f64) =
        if tube.is_displaced() { (vec![0.0; w0.len()], 0.0) } else { (w0.iter().map(|v| v.mid()).collect(), radius_norm2_upper(w0)) };
    let mut lin_centre: Vec<f64> = r0.iter().map(|v| v.mid()).collect();
    let mut lin_radius = radius_norm2_upper(&r0);

    // Parameters move at most sqrt(T R0) / alpha (proofs/theory-f1-f2.md); a tolerance relative
    // to that scale also works when w0 = 0.
    let displacement = (point(problem.horizon.enclosure.sup()) * half_r0_sq).sqrt() / alpha;
    let trivial_bound = (point(8.0) * half_r0_sq).sqrt();
    let scale_params = w0.iter().fold(0.0f64, |m, c| m.max(c.mid().abs())).max(displacement.sup()).max(1e-300);
    let scale_outputs = r0.iter().fold(0.0f64, |m, r| m.max(r.mag())).max(1e-300);
    let width_room = if relative <= TIGHT_RELATIVE { 0.0 } else { LOOSE_WIDTH_ROOM };
    let tol = Tolerances { params: scale_params * relative, outputs: scale_outputs * relative };


    let horizon = problem.horizon.value.clone();
    let mut t = BigRational::zero();
    let mut pieces: Vec<DeviationPiece> = Vec::new();
    let mut records: Vec<StepRecord> = Vec::new();
    let mut last: Option<(TubeStep, ReferenceStep)> = None;
    let progress = progress_bar(options.progress, problem.horizon.enclosure.sup());
    let horizon_f64 = problem.horizon.enclosure.sup();
    // Times in reasons are the spec's (proofs/normalisation.md: t = 4^-m t'').
    let spec_time = |t: f64| crate::scale::scale_interval(point(t), -2 * scale.time).sup();
    let mut failure: Option<String> = None;
    let mut control = StepControl::new();
    // What the steps added to the tube radius, by cause (`TubeStep::truncation`, `defect`).
    let (mut added_truncation, mut added_defect) = (0.0f64, 0.0f64);

    while t < horizon {
        if records.len() >= options.max_steps {
            failure = Some(format!(
                "reached the step limit ({}) at t = {:.6e} of T = {}; raise [solver] max_steps",
                options.max_steps,
                spec_time(t.to_f64().unwrap_or(f64::NAN)),
                spec_time(horizon_f64)
            ));
            break;
        }
        let path = tube.centre_path(&centre);
        let remaining = &horizon - &t;
        // The linearised flow's series limits the step unless it has come to rest (issue 20:
        // long horizons after convergence).
        let lin_cap = if model.is_some() || linear.at_rest_within(&lin_centre, lin_radius, tol.outputs) {
            f64::INFINITY
        } else {
            linear.step_cap(&lin_centre, order, relative, tol.outputs)
        };
        let model_path = model.as_mut().map(|m| m.tube.centre_path(&m.centre));
        let reference = model.as_mut().zip(model_path.as_ref()).map(|(m, path)| ModelAttempt { tube: &mut m.tube, centre: &m.centre, radius: m.radius, path });
        let attempt = StepAttempt { centre: &centre, radius, path: &path, tol, t: &t, remaining: &remaining, cap: lin_cap, trace: options.trace, reference };
        let accepted = control.step(&mut tube, attempt);
        let Some(((step, model_step), h_exact)) = accepted else {
            let at = spec_time(t.to_f64().unwrap_or(f64::NAN));
            failure = Some(if control.overflowed {
                format!(
                    "the integrator could not make a step at t = {at:.6e}: its bounds overflowed the f64 range (the Taylor coefficients grow like powers of the kernel's norm, |K0| T <= {:.3e}, and of the curvature); a smaller T would help",
                    linear.kernel_norm * horizon_f64
                )
            } else {
                let growth = records.last().map_or(String::new(), |r: &StepRecord| format!("; at the last step the error-growth bound gave mu T = {:.3e}", r.mu * horizon_f64));
                format!("the integrator could not make a step at t = {at:.6e} (step size underflow{growth}): the flow may be far from lazy here: a larger alpha or a smaller T would help")
            });
            break;
        };
        let output_uncertainty = (alpha * point(step.bounds.gradient_total()) * point(step.next_radius)).inf();
        if output_uncertainty > trivial_bound.sup() {
            // The outputs are already less certain than the trivial bound |D| <= 2 |r0| (F3):
            // no later step can give a useful enclosure.
            failure = Some(format!(
                "at t = {:.6e} the uncertainty of alpha h(w(t)) (about {:.3e}) exceeds the trivial bound sqrt(8 R0) = {:.3e}: the error-growth bound mu (the smaller of |r| sup|D^2 h| / alpha and the residual-weighted H / alpha) gives mu T = {:.3e}, so errors may grow by exp(mu T); a larger alpha or a smaller T would help",
                spec_time(t.to_f64().unwrap_or(f64::NAN)),
                crate::scale::scale_interval(point(output_uncertainty), scale.output).sup(),
                crate::scale::scale_interval(trivial_bound, scale.output).sup(),
                step.mu * horizon_f64
            ));
            break;
        }
        let reference_step = match model_step {
            Some(m) => ReferenceStep::Model(m),
            None => ReferenceStep::Linear(linear.step(&lin_centre, lin_radius, step.step, order)),
        };
        // The plain linearised flow's start ball (rbar(0) = r0 within lin_radius of its centre).
        let first = pieces.is_empty().then_some(FirstPiece { linear_start: (model.is_none() && problem.regularization.value.is_zero()).then_some((lin_radius, linear.kernel_norm)) });
        pieces.push(deviation_piece(&step, &reference_step, alpha, &problem.targets, offset.as_deref(), first));
        // In output units: the tube's terms through alpha |Dh|, plus the outputs' own remainder;
        // for an order-Q reference the same of the model's step (D is the difference of the
        // two flows' enclosures, whose widths add).
        let (truncation, defect) = output_widths_added(&step, alpha);
        added_truncation += truncation;
        added_defect += defect;
        if let ReferenceStep::Model(m) = &reference_step {
            let (truncation, defect) = output_widths_added(m, alpha);
            added_truncation += truncation;
            added_defect += defect;
        }
        records.push(StepRecord {
            t: t.to_f64().unwrap_or(f64::NAN),
            h: step.step.sup(),
            radius,
            tube_radius: step.tube_radius,
            mu: step.mu,
            linear_radius: model.as_ref().map_or(lin_radius, |m| m.radius),
            model_tube_radius: match &reference_step {
                ReferenceStep::Model(m) => Some(m.tube_radius),
                ReferenceStep::Linear(_) => None,
            },
        });
        centre = step.next_centre.clone();
        radius = step.next_radius;
        match (&reference_step, &mut model) {
            (ReferenceStep::Linear(lin), _) => (lin_centre, lin_radius) = lin.next_ball(),
            (ReferenceStep::Model(m), Some(flow)) => (flow.centre, flow.radius) = (m.next_centre.clone(), m.next_radius),
            (ReferenceStep::Model(_), None) => unreachable!("a model step comes from the model's flow"),
        }
        t += h_exact;
        if let Some(pb) = &progress {
            pb.set_position((t.to_f64().unwrap_or(0.0) * 1000.0) as u64);
        }
        last = Some((step, reference_step));
    }
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }

    let r0_interval = half_r0_sq;
    let seconds_since = |s: std::time::Instant| s.elapsed().as_secs_f64();
    if let Some(reason) = failure {
        return Certified { steps: records.len(), step_records: records, order, ..Certified::inconclusive(reason, n_out, r0_interval, seconds_since(started)) };
    }

    let mut claims = match &last {
        None => {
            // T = 0: nothing moves; D = 0 and the outputs are the initial ones.
            let outputs = initial_outputs
                .iter()
                .enumerate()
                .map(|(i, &h)| alpha * (h - offset.as_ref().map_or(point(0.0), |o| o[i])))
                .collect::<Vec<_>>();
            let outputs = if problem.centred { vec![point(0.0); n_out] } else { outputs };
            Claims { sup: point(0.0), last: point(0.0), outputs: outputs.clone(), linear_outputs: outputs }
        }
        Some((step, reference_step)) => {
            // The checker (`check::verify::confirm_sup`) allows at least twice this many bisections
            // (it budgets for up to 1000 + 40 per piece). (200 * pieces + 1000 gave the same
            // widths on the benchmarks at 4x the cost. On gf-mlp-mid the search runs to its
            // budget: 40 * pieces + 1000 gave sup D's relative width 7.684e-5, this budget
            // 7.695e-5 at half the cost, 10 * pieces + 250 7.738e-5; small stops earlier.)
            let sup = sup_deviation(&pieces, SUP_RTOL, 20 * pieces.len() + 500);
            let fin = pieces.last().expect("a step").enclosure_at(step.step);
            let outputs = outputs_at_end(step, alpha, offset.as_deref(), out_dim);
            let lin_end = match reference_step {
                ReferenceStep::Linear(lin) => lin.end.iter().zip(&problem.targets).map(|(&r, &y)| r.to_inari() + symmetric(lin.radius) + y).collect(),
                ReferenceStep::Model(m) => outputs_at_end(m, alpha, offset.as_deref(), out_dim),
            };
            Claims { sup, last: fin, outputs, linear_outputs: lin_end }
        }
    };
    let mut tail_record = None;
    if problem.infinite_horizon {
        // [T1, infinity): the tail argument from the balls at T1 (proofs/infinite-horizon.md).
        match tail(&mut tube, &linear, &centre, radius, &lin_centre, lin_radius) {
            Ok(t) => {
                claims = claims.extended_by(&t, alpha, out_dim);
                tail_record = Some(TailRecord { guard: t.guard, contraction: t.contraction, displacement: t.displacement, linear_displacement: t.linear_displacement });
            }
            Err(reason) => {
                return Certified { steps: records.len(), step_records: records, order, ..Certified::inconclusive(reason, n_out, r0_interval, seconds_since(started)) };
            }
        }
    }
    let sup_deviation = leave_room_for_checking(claims.sup, true, width_room);
    let final_deviation = leave_room_for_checking(claims.last, true, width_room);
    let outputs_final = claims.outputs.into_iter().map(|v| leave_room_for_checking(v, false, width_room)).collect();
    let linear_outputs_final = claims.linear_outputs.into_iter().map(|v| leave_room_for_checking(v, false, width_room)).collect();
    let truncation_share = if added_truncation + added_defect > 0.0 { added_truncation / (added_truncation + added_defect) } else { 0.0 };
    let (verdict, reason) = decide(problem, sup_deviation, &flow_remedy(truncation_share), scale);
    Certified {
        verdict,
        reason,
        sup_deviation,
        final_deviation,
        outputs_final,
        linear_outputs_final,
        r0: r0_interval,
        steps: records.len(),
        step_records: records,
        chunk_records: Vec::new(),
        tail: tail_record,
        seconds: seconds_since(started),
        order,
        passes: 1,
        truncation_share,
        normalized: Default::default(),
    }
}

/// What would narrow an undecided gradient-flow enclosure, from what made its width (issue 20:
/// name the cause): the steps' truncation (a higher order or tighter steps help) or, below
/// [`ROUNDING_FLOOR_SHARE`], the f64 rounding of the field (they do not).
fn flow_remedy(truncation_share: f64) -> String {
    if truncation_share < ROUNDING_FLOOR_SHARE {
        format!(
            "the width is the f64 rounding of the field along the path (truncation made {:.0}% of it), which a higher order or shorter steps do not narrow; an eps farther from sup D would decide",
            100.0 * truncation_share
        )
    } else {
        format!("truncation made {:.0}% of the width: --accuracy tight or a higher [solver] order would narrow it", 100.0 * truncation_share)
    }
}

/// The enclosures a pass claims, before the checker's room is added.
struct Claims {
    /// `sup D` over the horizon.
    sup: Interval,
    /// `D` at the horizon's end (with `horizon = "inf"`: its limit).
    last: Interval,
    /// `alpha g(w)` at the end.
    outputs: Vec<Interval>,
    /// `rbar + y` at the end.
    linear_outputs: Vec<Interval>,
}

impl Claims {
    /// The claims on `[0, T1]` extended to `[0, infinity)` by the tail (Lemma T3 of
    /// `proofs/infinite-horizon.md`): for `t >= T1`, `alpha g_i(w(t))` lies within
    /// `alpha sup|grad h_i| displacement` of its value at `T1`, `rbar(t)` within
    /// `linear_displacement` of `rbar(T1)`, so `D(t) <= D(T1) + tail`; the final claims become
    /// enclosures of the limits as `t -> infinity`.
    fn extended_by(self, tail: &Tail, alpha: Interval, out_dim: usize) -> Claims {
        // Room for the checker's own tail, computed in other arithmetic (a relative 2^-20 of
        // the tail's terms; a superset of an enclosure is an enclosure).
        let room = point(1.0 + 1.0 / 1_048_576.0);
        let tail = &Tail {
            displacement: (point(tail.displacement) * room).sup(),
            linear_displacement: (point(tail.linear_displacement) * room).sup(),
            ..tail.clone()
        };
        let moved = |i: usize| symmetric((alpha * point(tail.bounds.gradient[i / out_dim]) * point(tail.displacement)).sup());
        let outputs: Vec<Interval> = self.outputs.iter().enumerate().map(|(i, &v)| v + moved(i)).collect();
        let linear_outputs: Vec<Interval> = self.linear_outputs.iter().map(|&v| v + symmetric(tail.linear_displacement)).collect();
        let spread = alpha * point(tail.bounds.gradient_total()) * point(tail.displacement) + point(tail.linear_displacement);
        let last = self.last + symmetric(spread.sup());
        let last = interval(last.inf().max(0.0), last.sup());
        let sup = interval(self.sup.inf(), self.sup.sup().max(last.sup()));
        Claims { sup, last, outputs, linear_outputs }
    }
}

/// The verdict from an enclosure of `sup D` against the exact `eps`, with the reason when it is
/// inconclusive, `eps` and `sup D` stated in the spec's units (`scale`, `crate::scale`).
/// `remedy` completes the inconclusive reason (what would narrow the enclosure).
fn decide(problem: &Problem, sup_deviation: Interval, remedy: &str, scale: Scale) -> (Verdict, Option<String>) {
    let eps = problem.tolerance.enclosure;
    if sup_deviation.sup() <= eps.inf() {
        (Verdict::Certified, None)
    } else if sup_deviation.inf() > eps.sup() {
        (Verdict::Refuted, None)
    } else {
        let spec_eps = &problem.tolerance.value * crate::scale::pow2(scale.output);
        let spec_sup = crate::scale::scale_interval(sup_deviation, scale.output);
        (
            Verdict::Inconclusive,
            Some(format!(
                "eps = {} lies inside the certified interval [{:e}, {:e}] of sup D; only a tighter enclosure could decide ({remedy})",
                crate::report::readable(&spec_eps),
                spec_sup.inf(),
                spec_sup.sup()
            )),
        )
    }
}

/// The extra room of loose passes, in widths on each side (see [`leave_room_for_checking`]).
const LOOSE_WIDTH_ROOM: f64 = 0.1;

/// Relative outward margin of every reported enclosure (`2^-42`, about 2.3e-13).
const CLAIM_MARGIN: f64 = 1.0 / 4_398_046_511_104.0;

/// `x` widened outward by [`CLAIM_MARGIN`] times its magnitude (plus `2^-1060`), its lower end
/// kept at or above 0 when the quantity is a norm. A superset of an enclosure is an enclosure;
/// the margin leaves room for the independent checker (`ntkcert check`), whose own enclosures,
/// rounded differently, can stick out of the integrator's by a few ulps: a claim is confirmed
/// only when it contains the checker's enclosure (`proofs/checker.md`). Measured: the F7
/// certificates of `specs/paper` needed up to 2e-14 relative. Widths grow by at most 2.3e-13
/// relative (0.3% of the gf-mlp-small output width).
///
/// `width_room` (0 for tight passes) adds that many times the enclosure's width on each side:
/// with loose step targets the widths come from the steps' remainders, which the checker
/// bounds with its own passes (measured with the earlier a-priori boxes: 0.05-0.5 of the
/// integrator's widths on the examples and benchmarks, so a tenth of the width is a margin,
/// not a necessity).
fn leave_room_for_checking(x: Interval, non_negative: bool, width_room: f64) -> Interval {
    if !x.is_common_interval() {
        return x;
    }
    let mut room = (point(x.mag()) * point(CLAIM_MARGIN)).sup() + f64::from_bits(1 << 14);
    if width_room > 0.0 {
        room = (point(room) + point(x.wid()) * point(width_room)).sup();
    }
    let wide = x + symmetric(room);
    if non_negative && x.inf() >= 0.0 {
        Interval::try_from((wide.inf().max(0.0), wide.sup())).unwrap_or(wide)
    } else {
        wide
    }
}

/// What a step added to its outputs' widths, in output units: `(truncation, defect)`, the tube's
/// terms through `alpha |Dh|` plus the outputs' own remainder (truncation), and the rest
/// (rounding: the defect). Their ratio over a pass is `Certified::truncation_share`.
fn output_widths_added(step: &TubeStep, alpha: Interval) -> (f64, f64) {
    let to_outputs = (alpha * point(step.bounds.gradient_total())).sup();
    (step.output_truncation + to_outputs * step.truncation, to_outputs * step.defect)
}

/// A step length at which `exp(mu h)` stays below 2, the tube growth a step allows (with a
/// margin: `0.9 ln 2 / mu`).
fn growth_step_cap(mu: f64) -> f64 {
    0.9 * std::f64::consts::LN_2 / mu
}

/// The reference model's flow over a step: the linearisation's (function space, `Q = 1`) or
/// the order-`Q` model's tube step.
enum ReferenceStep {
    Linear(LinearStep),
    Model(TubeStep),
}

/// The order-`Q` model's integrator in a pass and its ball `B(centre, radius)` at the current
/// time.
struct ModelFlow<'p> {
    tube: TubeIntegrator<'p>,
    centre: Vec<f64>,
    radius: f64,
}

/// `alpha (h(w(T)) - offset)` from the last step of a flow: the output polynomial at the step's
/// end, widened by `|Dh_i|_tube E` per input.
fn outputs_at_end(step: &TubeStep, alpha: Interval, offset: Option<&[Interval]>, out_dim: usize) -> Vec<Interval> {
    let h_end = poly::evaluate(&step.outputs, step.step);
    h_end
        .iter()
        .enumerate()
        .map(|(i, &h)| {
            let g = h - offset.map_or(point(0.0), |o| o[i]);
            let slack = point(step.bounds.gradient[i / out_dim]) * point(step.tube_radius);
            alpha * (g + Interval::try_from((-slack.sup(), slack.sup())).unwrap())
        })
        .collect()
}

/// `alpha |Dh|_tube E` of a tube step: the outputs' distance from the step's polynomial.
fn output_slack(step: &TubeStep, alpha: FastInterval) -> FastInterval {
    alpha * FastInterval::point(step.bounds.gradient_total()) * FastInterval::point(step.tube_radius)
}

/// The piece `P(s) = r(s) - r_ref(s)` of a step (proof: `proofs/sup-over-interval.md`): for the
/// linearisation `alpha (H(s) - offset) - y - Rbar(s)` with radius `alpha |Dh|_tube E +
/// rho_lin`; for the order-`Q` model `alpha (H(s) - H_Q(s))` (the targets and the offset
/// cancel) with radius `alpha |Dh|_tube E + alpha |Dh_Q|_tube E_Q` (Lemma G of
/// `proofs/taylor-models.md`).
///
/// `start` (the first step, `t_k = 0`): `e(0) = 0` exactly, so the constant coefficient may be
/// replaced by 0 with the radius of [`FirstPiece::radius`] (`proofs/sup-over-interval.md`, "The
/// first piece"); done when that is narrower, so that a tiny `D` on a short horizon is not lost in
/// the constant's cancellation width (issue 20, T = 1e-9).
fn deviation_piece(step: &TubeStep, reference: &ReferenceStep, alpha: Interval, targets: &[Interval], offset: Option<&[Interval]>, start: Option<FirstPiece>) -> DeviationPiece {
    let q = step.outputs.len() - 2;
    let alpha = FastInterval::from_inari(alpha);
    let own = |j: usize, i: usize| FastInterval::from_inari(step.outputs[j][i]);
    let mut coeffs: Vec<Vec<FastInterval>> = (0..=q)
        .map(|j| {
            (0..targets.len())
                .map(|i| match reference {
                    ReferenceStep::Model(m) => alpha * (own(j, i) - FastInterval::from_inari(m.outputs[j][i])),
                    ReferenceStep::Linear(lin) if j == 0 => {
                        let g = offset.map_or(own(0, i), |o| own(0, i) - FastInterval::from_inari(o[i]));
                        alpha * g - FastInterval::from_inari(targets[i]) - lin.coeffs[0][i]
                    }
                    ReferenceStep::Linear(lin) => alpha * own(j, i) - lin.coeffs[j][i],
                })
                .collect()
        })
        .collect();
    let (remainder, reference_radius) = match reference {
        ReferenceStep::Linear(lin) => {
            (step.outputs[q + 1].iter().map(|&w| alpha * FastInterval::from_inari(w)).collect(), FastInterval::point(lin.radius))
        }
        ReferenceStep::Model(m) => (
            step.outputs[q + 1].iter().zip(&m.outputs[q + 1]).map(|(&w, &wq)| alpha * (FastInterval::from_inari(w) - FastInterval::from_inari(wq))).collect(),
            output_slack(m, alpha),
        ),
    };
    let mut radius = (output_slack(step, alpha) + reference_radius).hi;
    if let Some(first) = start {
        let from_zero = first.radius(output_slack(step, alpha), reference_radius, reference, step.step.sup());
        if from_zero <= (FastInterval::point(radius) + FastInterval::point(poly::norm2_upper(&coeffs[0]))).hi {
            coeffs[0] = vec![FastInterval::point(0.0); coeffs[0].len()];
            radius = from_zero;
        }
    }
    DeviationPiece::new(coeffs, remainder, radius, step.step)
}

/// What the first piece knows of the reference's start (`proofs/sup-over-interval.md`, "The
/// first piece"): the linearised flow without the penalty started from the ball of radius
/// `start_radius` around its centre, with `|K0| <= kernel_norm`; `None` fields for the order-Q
/// model or the penalised flow.
#[derive(Clone, Copy)]
struct FirstPiece {
    linear_start: Option<(f64, f64)>,
}

impl FirstPiece {
    /// The radius around `P(s) - P_0` that contains `e(s)`: `2 alpha G E` for the network, plus
    /// for the plain linearised flow `min(1, h |K0|) rho_0 + 2 (rho - rho_0)` (its start ball
    /// `rho_0` moves by `I - exp(-K0 s)`; the path's defect `rho - rho_0` counts twice), else
    /// twice the reference's radius.
    /// `reference_radius`: the reference's own radius in the piece (`rho - alpha G E`).
    fn radius(&self, network: FastInterval, reference_radius: FastInterval, reference: &ReferenceStep, h: f64) -> f64 {
        let two = FastInterval::point(2.0);
        let reference_part = match (reference, self.linear_start) {
            (ReferenceStep::Linear(lin), Some((start_radius, kernel_norm))) => {
                let moved = (FastInterval::point(h) * FastInterval::point(kernel_norm)).hi.min(1.0);
                let defect = FastInterval::point((FastInterval::point(lin.radius) - FastInterval::point(start_radius)).hi.max(0.0));
                FastInterval::point(moved) * FastInterval::point(start_radius) + two * defect
            }
            _ => two * reference_radius,
        };
        (two * network + reference_part).hi
    }
}

fn progress_bar(enabled: bool, horizon: f64) -> Option<indicatif::ProgressBar> {
    enabled.then(|| {
        crate::report::progress_bar((horizon * 1000.0).max(1.0) as u64, "certifying [{bar:40}] t = {msg} {percent}% eta {eta}")
    })
}
