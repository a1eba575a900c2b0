//! Taylor coefficients of the gradient flow and of the model's outputs along it, in ball
//! arithmetic, and bounds of `|Dh|`, `|D^2 h|` over a box. The checker's own code: it shares no
//! code with `crate::model` or `crate::enclose` (proofs: `proofs/checker.md`, sections
//! "Taylor coefficients" and "Derivative bounds").
//!
//! Every function takes ball inputs and returns balls that contain the exact quantity for every
//! choice of the inputs inside their balls.

use super::ball::{dot_acc, norm2_upper, pack, recycle_series, up, with_dot, with_dots, Ball, Fixed, PREC};
use crate::problem::{Activation, Architecture, Parameterization, Problem};
use rug::float::Round;
use rug::ops::NegAssign;
use rug::{Float, Rational};

/// The network `h` (one of the supported kinds) with its training inputs as balls.
#[derive(Clone, Debug)]
pub enum Net {
    Mlp(Mlp),
    /// `h(w) = sqrt(lambda) w + (L/2) w^2` (MATH.md F7).
    Quadratic { slope: Ball, curvature: Ball, half_curvature: Ball },
}

/// An MLP: `z_l = c_l W_l a_{l-1} + b_l`, `a_l = sigma_l(z_l)`, `h = z_L` (layout as in
/// `problem::MlpArchitecture`).
#[derive(Clone, Debug)]
pub struct Mlp {
    pub widths: Vec<usize>,
    pub acts: Vec<Activation>,
    pub bias: bool,
    pub scales: Vec<Ball>,
    pub inputs: Vec<Ball>,
    /// `inputs` unpacked for the dot products ([`Fixed`]).
    inputs_fixed: Vec<Fixed>,
    pub n: usize,
    pub(super) w_off: Vec<usize>,
    pub(super) b_off: Vec<usize>,
    pub p: usize,
}

/// Converts a `num_rational::BigRational` to a `rug::Rational` exactly (through its decimal
/// text).
pub fn to_rug(q: &num_rational::BigRational) -> Rational {
    let s = format!("{}/{}", q.numer(), q.denom());
    Rational::from_str_radix(&s, 10).expect("a rational's text parses")
}

impl Net {
    /// Builds the checker's network from the resolved problem (every activation is
    /// supported; the `Err` cases are invalid quadratic models).
    pub fn new(problem: &Problem) -> Result<Net, String> {
        match &problem.architecture {
            Architecture::Quadratic(qm) => {
                let lambda = Ball::from_rational(&to_rug(&qm.lambda));
                let slope = lambda.sqrt().ok_or("lambda must be positive")?;
                let curvature = Ball::from_rational(&to_rug(&qm.lipschitz));
                let half = curvature.div_int(2);
                Ok(Net::Quadratic { slope, curvature, half_curvature: half })
            }
            Architecture::Mlp(a) => {
                let layers = a.widths.len() - 1;
                let (mut w_off, mut b_off, mut off) = (Vec::new(), Vec::new(), 0usize);
                for l in 1..=layers {
                    w_off.push(off);
                    off += a.widths[l] * a.widths[l - 1];
                    b_off.push(off);
                    if a.bias {
                        off += a.widths[l];
                    }
                }
                let scales = (1..=layers)
                    .map(|l| match a.parameterization {
                        Parameterization::Standard => Ball::exact(1.0),
                        Parameterization::Ntk => {
                            // 1/sqrt(fan_in): MPFR rec_sqrt is correctly rounded (error <= 1/2 ulp).
                            let m = Float::with_val(PREC, a.widths[l - 1]).recip_sqrt();
                            let r = up(super::ball::ROUND * super::ball::mag(&m));
                            Ball { m, r }
                        }
                    })
                    .collect();
                let inputs: Vec<Ball> = problem.inputs.iter().flatten().map(|x| Ball::from_interval(x.inf(), x.sup())).collect();
                let inputs_fixed = pack(&inputs);
                Ok(Net::Mlp(Mlp {
                    widths: a.widths.clone(),
                    acts: a.activations.clone(),
                    bias: a.bias,
                    scales,
                    inputs,
                    inputs_fixed,
                    n: problem.inputs.len(),
                    w_off,
                    b_off,
                    p: off,
                }))
            }
        }
    }

    /// Outputs per input.
    pub fn output_dim(&self) -> usize {
        match self {
            Net::Mlp(m) => *m.widths.last().unwrap(),
            Net::Quadratic { .. } => 1,
        }
    }
}

/// A series: coefficient vectors `c[0], c[1], ...` of balls, each kept with its unpacked copy
/// ([`Fixed`]) for the dot products that read it many times. Indexing gives the balls.
#[derive(Clone, Debug, Default)]
pub struct Series {
    balls: Vec<Vec<Ball>>,
    fixed: Vec<Vec<Fixed>>,
}

impl Series {
    /// The series whose only coefficient is `c0`.
    pub fn starting(c0: Vec<Ball>) -> Series {
        let mut s = Series::default();
        s.push(c0);
        s
    }

    /// Appends the next coefficient.
    pub fn push(&mut self, c: Vec<Ball>) {
        self.fixed.push(pack(&c));
        self.balls.push(c);
    }

    /// The number of coefficients.
    pub fn len(&self) -> usize {
        self.balls.len()
    }

    pub fn is_empty(&self) -> bool {
        self.balls.is_empty()
    }

    /// Coefficient `k` unpacked.
    fn fixed(&self, k: usize) -> &[Fixed] {
        &self.fixed[k]
    }

    /// The coefficient vectors.
    pub fn into_balls(self) -> Vec<Vec<Ball>> {
        self.balls
    }
}

impl std::ops::Index<usize> for Series {
    type Output = Vec<Ball>;
    fn index(&self, k: usize) -> &Vec<Ball> {
        &self.balls[k]
    }
}

/// The sum over `pairs` of `x[e] y[e]` for every `e < n`, accumulated side by side
/// ([`with_dots`]), each ball then passed through `finish(e, ball)`.
fn elementwise_dots<'a>(
    n: usize,
    pairs: impl Iterator<Item = (&'a [Fixed], &'a [Fixed])>,
    mut finish: impl FnMut(usize, Ball) -> Ball,
) -> Vec<Ball> {
    with_dots(n, |dots| {
        for (x, y) in pairs {
            for ((d, a), b) in dots.iter_mut().zip(&x[..n]).zip(&y[..n]) {
                d.add_fixed(a, b);
            }
        }
        dots.iter_mut()
            .enumerate()
            .map(|(e, d)| {
                let mut acc = Ball::zero();
                d.finish(&mut acc);
                finish(e, acc)
            })
            .collect()
    })
}

/// Coefficient `k` of the product of two series, elementwise: `sum_{j=0}^k a[j] b[k-j]`.
fn cauchy(k: usize, a: &Series, b: &Series) -> Vec<Ball> {
    elementwise_dots(a[k].len(), (0..=k).map(|j| (a.fixed(j), b.fixed(k - j))), |_, acc| acc)
}

/// Coefficient `k` of the square of a series, elementwise:
/// `2 sum_{j < k - j} a[j] a[k-j] + [k even] a[k/2]^2` (the same sum as `cauchy(k, a, a)`,
/// each pair counted once; for balls the product enclosure is symmetric in its factors).
fn square(k: usize, a: &Series) -> Vec<Ball> {
    let pairs = (0..k.div_ceil(2)).map(|j| (a.fixed(j), a.fixed(k - j)));
    let middle = k.is_multiple_of(2).then(|| a.fixed(k / 2));
    elementwise_dots(a[k].len(), pairs, |e, mut acc| {
        acc.mul_int_assign(2);
        if let Some(m) = middle {
            with_dot(|d| {
                d.begin(&acc);
                d.add_fixed(&m[e], &m[e]);
                d.finish(&mut acc);
            });
        }
        acc
    })
}

/// Coefficient `k >= 1` of `y` where `y' = s z'`: `(1/k) sum_{j=1}^k (j z[j]) s[k-j]`, with
/// `jz[j] = j z[j]` given.
fn ode(k: usize, jz: &Series, s: &Series) -> Vec<Ball> {
    elementwise_dots(jz[k].len(), (1..=k).map(|j| (jz.fixed(j), s.fixed(k - j))), |_, mut acc| {
        acc.div_int_assign(k as i64);
        acc
    })
}

/// Proof: `proofs/checker.md`, "Ball arithmetic" (monotone functions).
/// Ball enclosure of an increasing function: `[f(lo) rounded down, f(hi) rounded up]`, where
/// `f(x, round)` returns a value rounded in the direction `round` (or further out).
pub(super) fn increasing(x: &Ball, f: impl Fn(&Float, Round) -> Float) -> Ball {
    let a = f(&x.lo(), Round::Down);
    let b = f(&x.hi(), Round::Up);
    super::ball::interval_to_ball(&a, &b)
}

/// Proof: `proofs/checker.md`, "Ball arithmetic" (`tanh_ball`).
/// A ball containing `tanh(x)` for every `x` in the ball `(m, r)` with one MPFR evaluation:
/// `t = tanh(m)` rounded to nearest (`|t - tanh(m)| <= delta = ROUND |t|`); on the ball
/// `|tanh(x)| >= a = |t| - delta - r` (as `|tanh'| <= 1`), so
/// `tanh' = 1 - tanh^2 <= 1 - max(a, 0)^2 =: slope` and `|tanh(x) - t| <= slope r + delta`.
/// Non-finite midpoints fall back to [`increasing`].
pub(super) fn tanh_ball(x: &Ball) -> Ball {
    use super::ball::{mag, ROUND};
    if !x.m.is_finite() {
        return increasing(x, tanh_dir);
    }
    let (t, dir) = Float::with_val_round(PREC, x.m.tanh_ref(), Round::Nearest);
    if x.r == 0.0 && dir == std::cmp::Ordering::Equal {
        // An exact point whose tanh MPFR reports exact (tanh(0) = 0): the exact point
        // (proofs/checker.md, "Ball arithmetic", exact results).
        return Ball { m: t, r: 0.0 };
    }
    let delta = up(ROUND * mag(&t));
    // |t| rounded down to an f64, minus an upper bound of delta + r; the f64 subtraction is
    // within 2^-53 relative of the exact difference, removed by the factor (1 - 2^-52).
    let t_abs = t.as_abs().to_f64_round(Round::Down);
    let a = t_abs - up(delta + x.r);
    let a = if a > 0.0 { a * (1.0 - 2.220446049250313e-16) } else { 0.0 };
    // a^2 (1 - 2^-50) <= the exact a^2; 1 - it rounded, then `up`.
    let slope = up(1.0 - a * a * (1.0 - 8.881784197001252e-16)).min(1.0);
    let r = up(slope * x.r + delta);
    Ball { m: t, r }
}

fn tanh_dir(x: &Float, r: Round) -> Float {
    Float::with_val_round(PREC, x.tanh_ref(), r).0
}

pub(super) fn erf_dir(x: &Float, r: Round) -> Float {
    Float::with_val_round(PREC, x.erf_ref(), r).0
}

pub(super) fn exp_dir(x: &Float, r: Round) -> Float {
    Float::with_val_round(PREC, x.exp_ref(), r).0
}

/// `1/(1+e^{-x})` rounded in direction `r`: for `r = Down`, `e^{-x}` and `1 + .` are rounded
/// up and the reciprocal down (each step moves the result down); symmetric for `Up`.
pub(super) fn sigmoid_dir(x: &Float, r: Round) -> Float {
    let inner = if r == Round::Down { Round::Up } else { Round::Down };
    let e = Float::with_val_round(PREC, (-x.clone()).exp_ref(), inner).0;
    let d = Float::with_val_round(PREC, &e + 1u32, inner).0;
    Float::with_val_round(PREC, d.recip_ref(), r).0
}

/// `ln(1 + e^x)` rounded in direction `r` (every step rounded in direction `r`; `ln_1p` is
/// increasing).
pub(super) fn softplus_dir(x: &Float, r: Round) -> Float {
    let e = Float::with_val_round(PREC, x.exp_ref(), r).0;
    Float::with_val_round(PREC, e.ln_1p_ref(), r).0
}

/// Series buffers of one expansion of an MLP along `s -> w(s)`.
struct MlpSeries {
    /// `z[l-1][k]`: coefficient `k` of `z_l`, `n x width_l`.
    z: Vec<Series>,
    /// `jz[l-1][k] = k z[l-1][k]` (hidden layers).
    jz: Vec<Series>,
    /// `y[l-1][k]`: activations of hidden layer `l`.
    y: Vec<Series>,
    /// `s[l-1][k]`: `sigma'(z_l)` series.
    s: Vec<Series>,
    /// Auxiliary series: softplus: `sigma(z)` in `aux0`, `sigma(1-sigma)` in `aux1`;
    /// erf: `exp(-z^2)` in `aux0`, `z exp(-z^2)` in `aux1`; sin: `cos(z)` in `aux0`;
    /// gelu: `phi(z)` in `aux0`, `z phi(z)` in `aux1`, `Phi(z)` in `aux2`.
    aux0: Vec<Series>,
    aux1: Vec<Series>,
    aux2: Vec<Series>,
    /// `delta[l-1][k]`: cotangent of `z_l`.
    delta: Vec<Series>,
    /// `cot[l-1][k]`: cotangent of `a_l` (hidden layers).
    cot: Vec<Series>,
}

/// Buffers for the quadratic model: the residual series (the parameter series is the path).
struct QuadSeries {
    res: Series,
}

impl MlpSeries {
    fn new(layers: usize) -> Self {
        let e = || vec![Series::default(); layers];
        MlpSeries { z: e(), jz: e(), y: e(), s: e(), aux0: e(), aux1: e(), aux2: e(), delta: e(), cot: e() }
    }

    /// Gives every midpoint back for reuse ([`recycle_series`]; speed only).
    fn recycle(self) {
        for field in [self.z, self.jz, self.y, self.s, self.aux0, self.aux1, self.aux2, self.delta, self.cot] {
            field.into_iter().for_each(|series| recycle_series(series.into_balls()));
        }
    }
}

impl Mlp {
    /// The same network on inputs `a..b` only.
    fn restricted(&self, a: usize, b: usize) -> Mlp {
        let d = self.widths[0];
        let mut sub = self.clone();
        sub.inputs = self.inputs[a * d..b * d].to_vec();
        sub.inputs_fixed = self.inputs_fixed[a * d..b * d].to_vec();
        sub.n = b - a;
        sub
    }
}

/// The result of a Taylor expansion of the flow from a start box `w[0]` ([`FlowData::expand`]).
pub struct Expansion {
    /// `w[k]`, `k <= order`: Taylor coefficients of the solution through every point of `w[0]`.
    pub w: Vec<Vec<Ball>>,
    /// `out[k]`, `k <= order`: coefficients of `h(w(s))`, input-major.
    pub out: Vec<Vec<Ball>>,
    /// `r = alpha (h(w[0]) - offset) - y` (empty for `order = 0`).
    pub residual0: Vec<Ball>,
    /// Order-0 hidden activations over the start box, `n x width_l` per hidden layer (MLPs;
    /// the same balls as `hidden_activations(net, w[0])`, which runs the same order-0 forward
    /// pass); empty for the quadratic model.
    pub hidden0: Vec<Vec<Ball>>,
}

impl Expansion {
    /// Gives every midpoint back for reuse (`ball::recycle`; speed only).
    pub fn recycle(self) {
        recycle_series(self.w);
        recycle_series(self.out);
        recycle_series(self.hidden0);
        recycle_series([self.residual0]);
    }
}

/// The point path of [`FlowData::point_path`] (`proofs/checker.md`, "Taylor coefficients",
/// Lemma T2, and "The step", Lemma 0): a polynomial `P(s) = sum_{j<=q+1} P_j s^j` with exact
/// coefficients and enclosures of the coefficients of the field and of the outputs along it.
pub struct PointPath {
    /// `P_0..P_{q+1}`: exact points (radius 0); `P_0` is the centre.
    pub p: Vec<Vec<Ball>>,
    /// `A_0..A_q`: `A_k` contains `F(P(s))[k]`, `F = -(1/alpha) J^T r`.
    pub field: Vec<Vec<Ball>>,
    /// `H_0..H_q`: `H_k` contains `h(P(s))[k]` (input-major).
    pub out: Vec<Vec<Ball>>,
}

impl PointPath {
    /// Gives every midpoint back for reuse (speed only).
    pub fn recycle(self) {
        recycle_series(self.p);
        recycle_series(self.field);
        recycle_series(self.out);
    }
}

/// The result of [`FlowData::along`] a path with coefficient boxes `W_0..W_top`
/// (`proofs/checker.md`, "Taylor coefficients", Lemma T2).
pub struct Along {
    /// Contains `F(w(s))[top]` for every path with coefficients in the boxes.
    pub field: Vec<Ball>,
    /// Contains `h(w(s))[top]` (input-major) for every such path.
    pub out: Vec<Ball>,
    /// The residual `alpha (h(w) - offset) - y` for every `w` in `W_0`, input-major.
    pub residual0: Vec<Ball>,
    /// Order-0 hidden activations over `W_0` (as [`Expansion::hidden0`]).
    pub hidden0: Vec<Vec<Ball>>,
}

impl Along {
    /// Gives every midpoint back for reuse (speed only).
    pub fn recycle(self) {
        recycle_series([self.field, self.out, self.residual0]);
        recycle_series(self.hidden0);
    }
}

/// What the flow needs beyond the network.
pub struct FlowData<'a> {
    pub net: &'a Net,
    pub alpha: Ball,
    pub inv_alpha: Ball,
    pub targets: Vec<Ball>,
    /// `Some(h(w0))` when centred.
    pub offset: Option<Vec<Ball>>,
    /// `Some((lambda, w0))` with the penalty `(lambda/2)|w - w0|^2` (`[training] regularization`):
    /// the field gains `-lambda (w - w0)`, coefficient `k`: `-lambda (w[k] - w0 [k = 0])`
    /// (`proofs/checker.md`, "Taylor coefficients").
    pub penalty: Option<(Ball, Vec<Ball>)>,
    /// `Some` in displacement coordinates (`proofs/checker.md`, "Displacements"): every path's
    /// coefficient 0 (and every box of `over_box`) is `u = w - w0`, the weights `W0 + u`, and
    /// the order-0 residual `alpha (h(w0 + u) - h(w0)) + r0` with the increment by Lemma Δ.
    pub displacement: Option<Displacement>,
}

/// What the flow in displacement coordinates needs: `W0`, the order-0 forward state at `W0`
/// (all inputs) and `r0`.
pub struct Displacement {
    pub w0: Vec<Ball>,
    /// `z_l(W0)` and `a_l(W0)` of the hidden layers, `n x width_l` each.
    z0: Vec<Vec<Ball>>,
    a0: Vec<Vec<Ball>>,
    /// `r0 = alpha (h(w0) - offset) - y` per output (exactly `-y` when centred).
    r0: Vec<Ball>,
}

impl Displacement {
    /// The state at `w0` for the MLP `m`; `r0` as in [`Displacement::r0`].
    pub fn new(m: &Mlp, w0: Vec<Ball>, r0: Vec<Ball>) -> Displacement {
        let mut buf = MlpSeries::new(m.widths.len() - 1);
        mlp_forward(m, &mut buf, &Series::starting(w0.clone()), 0);
        let hidden = m.widths.len() - 2;
        let z0 = (0..hidden).map(|l| buf.z[l][0].clone()).collect();
        let a0 = (0..hidden).map(|l| buf.y[l][0].clone()).collect();
        buf.recycle();
        Displacement { w0, z0, a0, r0 }
    }

    /// The weights `W0 + u` of a box `u` of displacements.
    pub fn weights(&self, u: &[Ball]) -> Vec<Ball> {
        u.iter().zip(&self.w0).map(|(u, w0)| w0.add(u)).collect()
    }
}

/// Where a pass ([`FlowData::pass`]) takes the path coefficient `w[k+1]` after order `k`
/// (`proofs/checker.md`, "Taylor coefficients": Lemma T1 for `Solution`, Lemma T2 for the
/// others).
enum Source {
    /// `w[k+1] = F(w(s))[k] / (k+1)` in ball arithmetic: the solution through every point of
    /// `w[0]` (Lemma T1).
    Solution,
    /// `w[k+1]` = the midpoint of the ball `A_k / (k+1)`, as an exact point (radius 0).
    Point,
    /// `w[k+1]` read from the given path (its coefficients `1..`, in order).
    Given(std::vec::IntoIter<Vec<Ball>>),
}

/// What a pass computed.
struct Pass {
    /// The path's coefficients `w[0..]`.
    w: Vec<Vec<Ball>>,
    /// `h(w(s))[k]` for `k = 0..=top`.
    out: Vec<Vec<Ball>>,
    /// `F(w(s))[k]` for the kept orders `k = keep_from..=field_top`.
    field: Vec<Vec<Ball>>,
    /// The order-0 residual (empty when no field was computed).
    residual0: Vec<Ball>,
    /// Order-0 hidden activations (MLPs).
    hidden0: Vec<Vec<Ball>>,
}

/// One worker of a pass with its series buffers: the MLP on the inputs `first..` of its chunk
/// (`Mlp::restricted`), or the quadratic model.
#[allow(clippy::large_enum_variant)] // one per chunk of a pass, at most one per thread
enum Worker {
    Mlp { net: Mlp, buf: MlpSeries, first: usize },
    Quad(QuadSeries),
}

/// A worker's order `k`: `h[k]`, `r[k]` (empty without the field) and `(J^T r)[k]`.
type OrderResult = (Vec<Ball>, Vec<Ball>, Option<Vec<Ball>>);

/// What a worker computes at one order.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Need {
    Outputs,
    Residual,
    Field,
}

impl Worker {
    /// Order `k` along the path `w` (coefficients `0..=k` present): `h[k]`, and when `field`
    /// the residual coefficient `r[k]` and `(J^T r)[k]` of this worker's inputs.
    /// `need`: the outputs only, the residual too, or the residual and the field. In
    /// displacements `u0` is the path's coefficient 0 (`w[0] = W0 + u0`).
    fn order(&mut self, flow: &FlowData, w: &Series, u0: Option<&[Ball]>, k: usize, need: Need) -> OrderResult {
        let field = need == Need::Field;
        match self {
            Worker::Mlp { net, buf, first } => {
                let hk = mlp_forward(net, buf, w, k);
                if need == Need::Outputs {
                    return (hk, Vec::new(), None);
                }
                let od = *net.widths.last().unwrap();
                let rk = match (k, &flow.displacement, u0) {
                    // Lemma Δ: alpha (h(W0 + u) - h(w0)) + r0.
                    (0, Some(d), Some(u)) => {
                        let inc = mlp_increment(net, buf, u, d, *first);
                        inc.iter().enumerate().map(|(j, x)| flow.alpha.mul(x).add(&d.r0[*first * od + j])).collect()
                    }
                    _ => flow.residual(&hk, k, *first * od),
                };
                if !field {
                    return (hk, rk, None);
                }
                let g = mlp_backward(net, buf, w, k, rk.clone());
                (hk, rk, Some(g))
            }
            Worker::Quad(q) => {
                let Net::Quadratic { slope, curvature, half_curvature } = flow.net else {
                    unreachable!("a quadratic worker belongs to a quadratic net")
                };
                // h[k] = slope w[k] + (L/2) (w*w)[k]
                let sq = cauchy(k, w, w);
                let mut hk = slope.mul(&w[k][0]);
                hk.fma_assign(half_curvature, &sq[0]);
                if need == Need::Outputs {
                    return (vec![hk], Vec::new(), None);
                }
                // Dh = slope + L w: (Dh r)[k] = slope r[k] + L (w*r)[k]
                let rk = flow.residual(std::slice::from_ref(&hk), k, 0);
                if !field {
                    return (vec![hk], rk, None);
                }
                q.res.push(rk.clone());
                let wr = cauchy(k, w, &q.res);
                let mut g = slope.mul(&q.res[k][0]);
                g.fma_assign(curvature, &wr[0]);
                (vec![hk], rk, Some(vec![g]))
            }
        }
    }
}

impl FlowData<'_> {
    /// Proof: `proofs/checker.md`, "Taylor coefficients" (Lemma T1).
    /// Taylor coefficients up to `order` of the solution of `w' = -(1/alpha) J(w)^T r(w)`
    /// with `w(0) = start` (for every point of the box `start`), and of `h(w(s))`.
    /// Recurrence: `w[k+1] = -(J^T r)[k] / (alpha (k+1))`.
    pub fn expand(&self, start: Vec<Ball>, order: usize) -> Expansion {
        let pass = self.pass(start, Source::Solution, order, order.checked_sub(1), 0);
        recycle_series(pass.field);
        Expansion { w: pass.w, out: pass.out, residual0: pass.residual0, hidden0: pass.hidden0 }
    }

    /// Proof: `proofs/checker.md`, "Taylor coefficients" (Lemma T2) and "The step" (Lemma 0).
    /// The point path from the exact point `centre` (every ball of radius 0): at each order
    /// `k <= order`, `A_k ⊇ F(P(s))[k]` and `H_k ⊇ h(P(s))[k]` from the path's coefficients
    /// `P_0..P_k` (exact points, so no radius is fed back), then `P_{k+1}` := the midpoint of
    /// the ball `A_k / (k+1)` (any point would do; this one makes the defect small).
    pub fn point_path(&self, centre: Vec<Ball>, order: usize) -> PointPath {
        debug_assert!(centre.iter().all(|b| b.r == 0.0), "the point path starts at an exact point");
        let pass = self.pass(centre, Source::Point, order, Some(order), 0);
        recycle_series([pass.residual0]);
        recycle_series(pass.hidden0);
        PointPath { p: pass.w, field: pass.field, out: pass.out }
    }

    /// Proof: `proofs/checker.md`, "Taylor coefficients" (Lemma T2).
    /// Along a path given by coefficient boxes `path = (W_0, ..., W_top)` (no feedback):
    /// the coefficients `top` of the field and of the outputs, for every path with coefficients
    /// in the boxes, and the order-0 residual and hidden activations over `W_0`.
    pub fn along(&self, path: Vec<Vec<Ball>>) -> Along {
        let top = path.len() - 1;
        let mut it = path.into_iter();
        let start = it.next().expect("a path has a coefficient 0");
        let mut pass = self.pass(start, Source::Given(it), top, Some(top), top);
        let out = pass.out.pop().expect("order top was computed");
        recycle_series(pass.out);
        recycle_series(pass.w);
        let field = pass.field.pop().expect("order top was kept");
        Along { field, out, residual0: pass.residual0, hidden0: pass.hidden0 }
    }

    /// Proof: `proofs/checker.md`, "Taylor coefficients" (Lemma T2 at order 0).
    /// The residual `alpha (h(w) - offset) - y` and the hidden activations for every `w` in the
    /// box `wbox` (input-major; as [`Along::residual0`], [`Along::hidden0`]): the forward pass at
    /// order 0 only.
    pub fn over_box(&self, wbox: Vec<Ball>) -> (Vec<Ball>, Vec<Vec<Ball>>) {
        let mut pass = self.pass(wbox, Source::Solution, 0, None, 0);
        let h0 = pass.out.pop().expect("order 0 was computed");
        // In displacements the pass computed it by Lemma Δ.
        let residual = if pass.residual0.is_empty() { self.residual(&h0, 0, 0) } else { std::mem::take(&mut pass.residual0) };
        super::ball::recycle(h0);
        recycle_series(pass.w);
        (residual, pass.hidden0)
    }

    /// What [`FlowData::point_path`] computes, along a given exact path `P_0..P_top` instead of
    /// its own: `A_k`, `H_k` for `k < top` (for tests that change a path).
    #[cfg(test)]
    pub(crate) fn along_exact_path(&self, path: Vec<Vec<Ball>>) -> PointPath {
        let top = path.len() - 2;
        let p = path.clone();
        let mut it = path.into_iter();
        let start = it.next().expect("a path has a coefficient 0");
        let pass = self.pass(start, Source::Given(it), top, Some(top), 0);
        PointPath { p, field: pass.field, out: pass.out }
    }

    /// Coefficient `k` of the residual for the outputs `hk` of outputs `first..`:
    /// `alpha (h_0 - offset) - y` at `k = 0`, `alpha h_k` after.
    fn residual(&self, hk: &[Ball], k: usize, first: usize) -> Vec<Ball> {
        if k > 0 {
            return hk.iter().map(|h| self.alpha.mul(h)).collect();
        }
        hk.iter()
            .enumerate()
            .map(|(j, h)| {
                let i = first + j;
                let g = match &self.offset {
                    Some(o) => h.sub(&o[i]),
                    None => h.clone(),
                };
                self.alpha.mul(&g).sub(&self.targets[i])
            })
            .collect()
    }

    /// The field coefficient `a = F[k]` of the loss with the penalty's term subtracted:
    /// `a - lambda (w_k - w0 [k = 0])` (nothing without a penalty).
    fn penalise(&self, mut a: Vec<Ball>, w_k: &[Ball], k: usize) -> Vec<Ball> {
        if let Some((lambda, w0)) = &self.penalty {
            for (i, ai) in a.iter_mut().enumerate() {
                let d = if k == 0 && self.displacement.is_none() { w_k[i].sub(&w0[i]) } else { w_k[i].clone() };
                *ai = ai.sub(&lambda.mul(&d));
            }
        }
        a
    }

    /// `w[k+1] = -(J^T r)[k] / (alpha (k+1))` from `g = (J^T r)[k]` (Lemma T1).
    fn next_coefficient(&self, g: &[Ball], k: usize) -> Vec<Ball> {
        // One ball factor containing -1/(alpha (k+1)), then one product per parameter.
        let f = self.inv_alpha.neg().div_int(k as i64 + 1);
        g.iter().map(|x| x.mul(&f)).collect()
    }

    /// The workers of a pass up to order `top`: for an MLP the inputs split into chunks
    /// evaluated in parallel (rayon) when the work is large enough; one worker otherwise.
    fn workers(&self, top: usize) -> Vec<Worker> {
        match self.net {
            Net::Quadratic { .. } => vec![Worker::Quad(QuadSeries { res: Series::default() })],
            Net::Mlp(m) => {
                let n = m.n;
                let work = n * m.p * (top + 1);
                let threads = rayon::current_num_threads();
                let chunks = if work >= 4_000 && n >= 2 && threads > 1 { threads.min(n) } else { 1 };
                (0..chunks)
                    .map(|c| {
                        let (a, b) = (c * n / chunks, (c + 1) * n / chunks);
                        Worker::Mlp { net: m.restricted(a, b), buf: MlpSeries::new(m.widths.len() - 1), first: a }
                    })
                    .collect()
            }
        }
    }

    /// Proof: `proofs/checker.md`, "Taylor coefficients" (Lemmas T1, T2).
    /// The one pass behind [`FlowData::expand`], [`FlowData::point_path`] and
    /// [`FlowData::along`]: for `k = 0..=top`, the forward recurrences give `h[k]` from the
    /// path's coefficients `w[0..=k]`; for `k <= field_top` the residual and the backward
    /// recurrences give `(J^T r)[k]` (summed over the workers' inputs: `J^T r = sum_i Dh_i^T
    /// r_i`); then `source` supplies `w[k+1]`. The field `F[k] = -(1/alpha) (J^T r)[k]` is kept
    /// for `keep_from <= k` (not for `Solution`, which only feeds it back).
    fn pass(&self, start: Vec<Ball>, mut source: Source, top: usize, field_top: Option<usize>, keep_from: usize) -> Pass {
        use rayon::prelude::*;
        let mut workers = self.workers(top);
        let neg_inv_alpha = self.inv_alpha.neg();
        // In displacements the series holds the weights W0 + u; `u0` keeps the path's own
        // coefficient 0.
        let (u0, start) = match &self.displacement {
            Some(d) => {
                let weights = d.weights(&start);
                (Some(start), weights)
            }
            None => (None, start),
        };
        let mut w = Series::starting(start);
        let mut out = Vec::with_capacity(top + 1);
        let mut field = Vec::new();
        let mut residual0 = Vec::new();
        for k in 0..=top {
            let need = match field_top {
                Some(f) if k <= f => Need::Field,
                _ if k == 0 && u0.is_some() => Need::Residual,
                _ => Need::Outputs,
            };
            let wr = &w;
            let u0r = u0.as_deref();
            let results: Vec<OrderResult> = workers.par_iter_mut().map(|worker| worker.order(self, wr, u0r, k, need)).collect();
            let mut hk_all = Vec::new();
            let mut rk_all = Vec::new();
            let mut grad: Option<Vec<Ball>> = None;
            for (hk, rk, g) in results {
                hk_all.extend(hk);
                rk_all.extend(rk);
                if let Some(g) = g {
                    grad = Some(match grad {
                        None => g,
                        Some(mut acc) => {
                            for (a, b) in acc.iter_mut().zip(&g) {
                                a.add_assign(b);
                            }
                            super::ball::recycle(g);
                            acc
                        }
                    });
                }
            }
            out.push(hk_all);
            if k == 0 {
                residual0 = rk_all;
            } else {
                super::ball::recycle(rk_all);
            }
            let f_k = |g: &[Ball]| -> Vec<Ball> { g.iter().map(|x| x.mul(&neg_inv_alpha)).collect() };
            match &mut source {
                Source::Solution => {
                    if let Some(g) = grad {
                        if k < top {
                            let next = if self.penalty.is_some() {
                                let a = self.penalise(f_k(&g), path_k(&w, u0.as_deref(), k), k);
                                a.iter().map(|x| x.div_int(k as i64 + 1)).collect()
                            } else {
                                self.next_coefficient(&g, k)
                            };
                            w.push(next);
                        }
                        super::ball::recycle(g);
                    }
                }
                Source::Point => {
                    let g = grad.expect("the point path computes the field at every order");
                    let a = self.penalise(f_k(&g), path_k(&w, u0.as_deref(), k), k);
                    super::ball::recycle(g);
                    let divisor = k as i64 + 1;
                    let next: Vec<Ball> = a.iter().map(|x| Ball { m: x.div_int(divisor).m, r: 0.0 }).collect();
                    w.push(next);
                    field.push(a);
                }
                Source::Given(rest) => {
                    if let Some(g) = grad {
                        if k >= keep_from {
                            field.push(self.penalise(f_k(&g), path_k(&w, u0.as_deref(), k), k));
                        }
                        super::ball::recycle(g);
                    }
                    if k < top {
                        w.push(rest.next().expect("the given path has a coefficient for every order"));
                    }
                }
            }
        }
        let hidden0 = match self.net {
            Net::Mlp(m) => (0..m.widths.len() - 2)
                .map(|l| {
                    workers
                        .iter()
                        .flat_map(|wk| match wk {
                            Worker::Mlp { buf, .. } => buf.y[l][0].clone(),
                            Worker::Quad(_) => Vec::new(),
                        })
                        .collect()
                })
                .collect(),
            Net::Quadratic { .. } => Vec::new(),
        };
        // On the worker threads, whose next pass reuses the floats.
        workers.into_par_iter().for_each(|wk| match wk {
            Worker::Mlp { buf, .. } => buf.recycle(),
            Worker::Quad(q) => recycle_series(q.res.into_balls()),
        });
        let mut w = w.into_balls();
        if let Some(u) = u0 {
            super::ball::recycle(std::mem::replace(&mut w[0], u));
        }
        Pass { w, out, field, residual0, hidden0 }
    }
}

/// The path's coefficient `k`: `w[k]`, or `u0` at `k = 0` in displacements.
fn path_k<'a>(w: &'a Series, u0: Option<&'a [Ball]>, k: usize) -> &'a [Ball] {
    match (k, u0) {
        (0, Some(u)) => u,
        _ => &w[k],
    }
}

/// Proof: `proofs/checker.md`, "Displacements" (Lemma Δ).
/// After the order-0 forward pass at `W0 + u` of the worker's inputs `first..`: balls
/// containing `h(w0 + u) - h(w0)` for every `w0` in `W0` and `u` in `u`, carried through the
/// layers as `dz_l = c_l (U_l a_{l-1}(w) + W0_l da_{l-1}) + u_{b_l}` with the activation
/// differences of [`activation_increment`].
fn mlp_increment(m: &Mlp, b: &MlpSeries, u: &[Ball], d: &Displacement, first: usize) -> Vec<Ball> {
    let layers = m.widths.len() - 1;
    let n = m.n;
    let mut da: Vec<Ball> = Vec::new();
    for l in 1..=layers {
        let (din, dout) = (m.widths[l - 1], m.widths[l]);
        let off = m.w_off[l - 1];
        let a_prev: &[Ball] = if l == 1 { &m.inputs } else { &b.y[l - 2][0] };
        let c = &m.scales[l - 1];
        let mut dz = Vec::with_capacity(n * dout);
        for i in 0..n {
            for o in 0..dout {
                let row = off + o * din..off + (o + 1) * din;
                let mut acc = Ball::zero();
                dot_acc(&mut acc, u[row.clone()].iter().zip(&a_prev[i * din..(i + 1) * din]));
                if l > 1 {
                    dot_acc(&mut acc, d.w0[row].iter().zip(&da[i * din..(i + 1) * din]));
                }
                acc.mul_assign(c);
                if m.bias {
                    acc.add_assign(&u[m.b_off[l - 1] + o]);
                }
                dz.push(acc);
            }
        }
        if l == layers {
            return dz;
        }
        let base = first * dout;
        da = dz
            .iter()
            .enumerate()
            .map(|(e, x)| activation_increment(m.acts[l - 1], x, &d.z0[l - 1][base + e], &b.y[l - 1][0][e], &d.a0[l - 1][base + e]))
            .collect();
    }
    unreachable!("an MLP has at least one layer")
}

/// Proof: `proofs/checker.md`, "Displacements" (Lemma Δ).
/// A ball containing `sigma(z) - sigma(z0)` given balls of `dz = z - z0`, `z0`, `a = sigma(z)`,
/// `a0 = sigma(z0)`: identity `dz`; tanh `tanh(dz) (1 - a a0)`; sigmoid
/// `tanh(dz/2) (1 - t t0) / 2` with `t = 2a - 1`; sin `2 sin(dz/2) cos(z0 + dz/2)`; the others
/// `a - a0`.
fn activation_increment(act: Activation, dz: &Ball, z0: &Ball, a: &Ball, a0: &Ball) -> Ball {
    let one = Ball::exact(1.0);
    match act {
        Activation::Identity => dz.clone(),
        Activation::Tanh => tanh_ball(dz).mul(&one.sub(&a.mul(a0))),
        Activation::Sigmoid => {
            let (t, t0) = (a.mul_int(2).sub(&one), a0.mul_int(2).sub(&one));
            tanh_ball(&dz.div_int(2)).mul(&one.sub(&t.mul(&t0))).div_int(2)
        }
        Activation::Sin => {
            let half = dz.div_int(2);
            let (sin_half, _) = sin_cos_ball(&half);
            let (_, cos_mid) = sin_cos_ball(&z0.add(&half));
            sin_half.mul(&cos_mid).mul_int(2)
        }
        Activation::Erf | Activation::Softplus | Activation::Gelu => a.sub(a0),
    }
}

/// Coefficient `k` of every forward series of the MLP; returns `z_L[k]`.
fn mlp_forward(m: &Mlp, b: &mut MlpSeries, w: &Series, k: usize) -> Vec<Ball> {
    let layers = m.widths.len() - 1;
    let n = m.n;
    for l in 1..=layers {
        let (din, dout) = (m.widths[l - 1], m.widths[l]);
        let mut zk = vec![Ball::zero(); n * dout];
        // z_l[k] = c (sum_j W[j] a[k-j]) + b[k]; a_0 = x is constant (only j = k).
        let js: Vec<usize> = if l == 1 { vec![k] } else { (0..=k).collect() };
        with_dot(|d| {
            for i in 0..n {
                for o in 0..dout {
                    d.begin_zero();
                    for &j in &js {
                        let wl = &w.fixed(j)[m.w_off[l - 1] + o * din..m.w_off[l - 1] + (o + 1) * din];
                        let a: &[Fixed] = if l == 1 { &m.inputs_fixed } else { b.y[l - 2].fixed(k - j) };
                        for (x, y) in a[i * din..(i + 1) * din].iter().zip(wl) {
                            d.add_fixed(x, y);
                        }
                    }
                    d.finish(&mut zk[i * dout + o]);
                }
            }
        });
        let c = &m.scales[l - 1];
        for i in 0..n {
            for o in 0..dout {
                let v = &mut zk[i * dout + o];
                v.mul_assign(c);
                if m.bias {
                    v.add_assign(&w[k][m.b_off[l - 1] + o]);
                }
            }
        }
        b.z[l - 1].push(zk);
        if l < layers {
            push_activation(m.acts[l - 1], b, l - 1, k);
        }
    }
    b.z[layers - 1][k].clone()
}

/// Proof: `proofs/checker.md`, "Taylor coefficients" (activations).
/// Coefficient `k` of the activation series of hidden layer index `li` (0-based).
fn push_activation(act: Activation, b: &mut MlpSeries, li: usize, k: usize) {
    let z = &b.z[li];
    let jz: Vec<Ball> = z[k].iter().map(|v| v.mul_int(k as i64)).collect();
    b.jz[li].push(jz);
    let jz = &b.jz[li];
    match act {
        Activation::Identity => {
            b.y[li].push(z[k].clone());
            let one = if k == 0 { Ball::exact(1.0) } else { Ball::zero() };
            b.s[li].push(vec![one; z[k].len()]);
        }
        Activation::Tanh | Activation::Sigmoid => {
            let yk = if k == 0 {
                z[0].iter()
                    .map(|x| {
                        if act == Activation::Tanh {
                            tanh_ball(x)
                        } else {
                            increasing(x, sigmoid_dir)
                        }
                    })
                    .collect()
            } else {
                ode(k, jz, &b.s[li])
            };
            b.y[li].push(yk);
            // tanh: s = 1 - y^2; sigmoid: s = y - y^2 (in place on the square's balls:
            // negation is exact, then one ball addition).
            let mut sk = square(k, &b.y[li]);
            let one = Ball::exact(1.0);
            for (e, v) in sk.iter_mut().enumerate() {
                v.m.neg_assign();
                match (act, k) {
                    (Activation::Tanh, 0) => v.add_assign(&one),
                    (Activation::Tanh, _) => {}
                    _ => v.add_assign(&b.y[li][k][e]),
                }
            }
            b.s[li].push(sk);
        }
        Activation::Softplus => {
            // y' = sigma z', sigma' = sigma (1 - sigma) z'.
            let (yk, sk) = if k == 0 {
                (z[0].iter().map(|x| increasing(x, softplus_dir)).collect(), z[0].iter().map(|x| increasing(x, sigmoid_dir)).collect())
            } else {
                (ode(k, jz, &b.aux0[li]), ode(k, jz, &b.aux1[li]))
            };
            b.y[li].push(yk);
            b.aux0[li].push(sk);
            let sq = square(k, &b.aux0[li]);
            let a1: Vec<Ball> = sq.iter().enumerate().map(|(e, q)| b.aux0[li][k][e].sub(q)).collect();
            b.aux1[li].push(a1);
            let s = b.aux0[li][k].clone();
            b.s[li].push(s);
        }
        Activation::Erf => {
            // g = exp(-z^2): g' = -2 (z g) z'; y' = (2/sqrt(pi)) g z'; s = (2/sqrt(pi)) g.
            let two_over_sqrt_pi = two_over_sqrt_pi();
            let gk: Vec<Ball> = if k == 0 {
                z[0].iter().map(|x| increasing(&x.sqr().neg(), exp_dir)).collect()
            } else {
                ode(k, jz, &b.aux1[li]).iter().map(|v| v.mul_int(-2)).collect()
            };
            let yk: Vec<Ball> = if k == 0 {
                z[0].iter().map(|x| increasing(x, erf_dir)).collect()
            } else {
                ode(k, jz, &b.s[li])
            };
            b.y[li].push(yk);
            b.aux0[li].push(gk);
            let zg = cauchy(k, z, &b.aux0[li]);
            b.aux1[li].push(zg);
            let sk: Vec<Ball> = b.aux0[li][k].iter().map(|g| two_over_sqrt_pi.mul(g)).collect();
            b.s[li].push(sk);
        }
        Activation::Sin => {
            // y = sin z, c = cos z: y' = c z', c' = -y z'; s = c.
            let (yk, ck) = if k == 0 {
                z[0].iter().map(sin_cos_ball).unzip()
            } else {
                let y = ode(k, jz, &b.aux0[li]);
                let mut c = ode(k, jz, &b.y[li]);
                for v in &mut c {
                    v.m.neg_assign();
                }
                (y, c)
            };
            b.y[li].push(yk);
            b.aux0[li].push(ck.clone());
            b.s[li].push(ck);
        }
        Activation::Gelu => {
            // y = z P, P = Phi(z), E = phi(z) = exp(-z^2/2)/sqrt(2 pi):
            // P' = E z', E' = -(z E) z'; s = y'/z' = P + z E.
            let (ek, pk): (Vec<Ball>, Vec<Ball>) = if k == 0 {
                let c = gelu_constants();
                z[0].iter()
                    .map(|x| {
                        let mut h = x.sqr();
                        h.div_int_assign(-2);
                        let mut e = increasing(&h, exp_dir);
                        e.mul_assign(&c.inv_sqrt_2pi);
                        let mut p = increasing(&x.mul(&c.inv_sqrt_2), erf_dir);
                        p.add_assign(&Ball::exact(1.0));
                        p.div_int_assign(2);
                        (e, p)
                    })
                    .unzip()
            } else {
                let mut e = ode(k, jz, &b.aux1[li]);
                for v in &mut e {
                    v.m.neg_assign();
                }
                (e, ode(k, jz, &b.aux0[li]))
            };
            b.aux0[li].push(ek);
            b.aux2[li].push(pk);
            let ze = cauchy(k, z, &b.aux0[li]);
            let yk = cauchy(k, z, &b.aux2[li]);
            let sk: Vec<Ball> = b.aux2[li][k].iter().zip(&ze).map(|(p, q)| p.add(q)).collect();
            b.aux1[li].push(ze);
            b.y[li].push(yk);
            b.s[li].push(sk);
        }
    }
}

/// Proof: `proofs/checker.md`, "Ball arithmetic" (`sin_cos_ball`).
/// Balls containing `sin(x)` and `cos(x)` for every `x` in the ball `(m, r)`: `sin(m)`,
/// `cos(m)` rounded to nearest by MPFR (errors `ds = ROUND |sin(m)~|`, `dc` likewise) and, by
/// the mean value theorem with `|cos| <= |cos(m)~| + dc + r` (resp. `|sin|`) on the ball
/// (both are 1-Lipschitz) and `<= 1`: radius `r min(1, |cos(m)~| + dc + r) + ds`.
pub(super) fn sin_cos_ball(x: &Ball) -> (Ball, Ball) {
    use super::ball::{mag, ROUND};
    if !x.m.is_finite() {
        return (Ball { m: Float::new(PREC), r: f64::INFINITY }, Ball { m: Float::new(PREC), r: f64::INFINITY });
    }
    let (sm, cm) = x.m.clone().sin_cos(Float::new(PREC));
    if x.r == 0.0 && x.m.is_zero() {
        // sin(0) = 0 and cos(0) = 1 exactly (proofs/checker.md, "Ball arithmetic", exact results).
        return (Ball { m: sm, r: 0.0 }, Ball { m: cm, r: 0.0 });
    }
    let (ds, dc) = (up(ROUND * mag(&sm)), up(ROUND * mag(&cm)));
    let sup_cos = up(mag(&cm) + dc + x.r).min(1.0);
    let sup_sin = up(mag(&sm) + ds + x.r).min(1.0);
    let rs = up(x.r * sup_cos + ds);
    let rc = up(x.r * sup_sin + dc);
    (Ball { m: sm, r: rs }, Ball { m: cm, r: rc })
}

/// Balls containing `1/sqrt(2)` and `1/sqrt(2 pi)` (for gelu; proof: `proofs/checker.md`,
/// "Ball arithmetic", `gelu_constants`).
pub(super) struct GeluConstants {
    pub(super) inv_sqrt_2: Ball,
    pub(super) inv_sqrt_2pi: Ball,
}

/// `1/sqrt(2)`: MPFR `rec_sqrt` correctly rounded (error <= ROUND |.|); `1/sqrt(2 pi)`:
/// `[rec_sqrt(2 pi_up) down, rec_sqrt(2 pi_down) up]` (`rec_sqrt` decreasing, `2 pi` exact
/// from `pi` rounded down and up).
pub(super) fn gelu_constants() -> GeluConstants {
    use super::ball::{mag, ROUND};
    let m = Float::with_val(PREC, 2u32).recip_sqrt();
    let r = up(ROUND * mag(&m));
    let pi_lo = Float::with_val_round(PREC, rug::float::Constant::Pi, Round::Down).0 * 2u32;
    let pi_hi = Float::with_val_round(PREC, rug::float::Constant::Pi, Round::Up).0 * 2u32;
    let lo = Float::with_val_round(PREC, pi_hi.recip_sqrt_ref(), Round::Down).0;
    let hi = Float::with_val_round(PREC, pi_lo.recip_sqrt_ref(), Round::Up).0;
    GeluConstants { inv_sqrt_2: Ball { m, r }, inv_sqrt_2pi: super::ball::interval_to_ball(&lo, &hi) }
}

/// A ball containing `2/sqrt(pi)`: `[2/sqrt(pi_up) down, 2/sqrt(pi_down) up]`.
pub(super) fn two_over_sqrt_pi() -> Ball {
    let pi_lo = Float::with_val_round(PREC, rug::float::Constant::Pi, Round::Down).0;
    let pi_hi = Float::with_val_round(PREC, rug::float::Constant::Pi, Round::Up).0;
    let lo = Float::with_val_round(PREC, pi_hi.sqrt_ref(), Round::Up).0;
    let lo = Float::with_val_round(PREC, 2u32 / &lo, Round::Down).0;
    let hi = Float::with_val_round(PREC, pi_lo.sqrt_ref(), Round::Down).0;
    let hi = Float::with_val_round(PREC, 2u32 / &hi, Round::Up).0;
    super::ball::interval_to_ball(&lo, &hi)
}

/// Proof: `proofs/checker.md`, "Taylor coefficients" (reverse mode on series).
/// Coefficient `k` of `J^T r` for the MLP (reverse mode on series), given `r[k]` (`n x out`).
fn mlp_backward(m: &Mlp, b: &mut MlpSeries, w: &Series, k: usize, rk: Vec<Ball>) -> Vec<Ball> {
    let layers = m.widths.len() - 1;
    let n = m.n;
    let mut grad = vec![Ball::zero(); m.p];
    b.delta[layers - 1].push(rk);
    for l in (1..=layers).rev() {
        let (din, dout) = (m.widths[l - 1], m.widths[l]);
        let c = &m.scales[l - 1];
        let wo = m.w_off[l - 1];
        // grad W_l[k][o][q] = c sum_j sum_i delta_l[j][i][o] a_{l-1}[k-j][i][q]
        let js: Vec<usize> = if l == 1 { vec![k] } else { (0..=k).collect() };
        with_dot(|d| {
            for o in 0..dout {
                for q in 0..din {
                    d.begin_zero();
                    for &j in &js {
                        let a: &[Fixed] = if l == 1 { &m.inputs_fixed } else { b.y[l - 2].fixed(k - j) };
                        let dl = b.delta[l - 1].fixed(j);
                        for i in 0..n {
                            d.add_fixed(&dl[i * dout + o], &a[i * din + q]);
                        }
                    }
                    let mut v = Ball::zero();
                    d.finish(&mut v);
                    v.mul_assign(c);
                    grad[wo + o * din + q] = v;
                }
            }
        });
        if m.bias {
            let bo = m.b_off[l - 1];
            for o in 0..dout {
                let mut acc = Ball::zero();
                for i in 0..n {
                    acc = acc.add(&b.delta[l - 1][k][i * dout + o]);
                }
                grad[bo + o] = acc;
            }
        }
        if l == 1 {
            break;
        }
        // cot_{l-1}[k][i][q] = c sum_j sum_o delta_l[j][i][o] W_l[k-j][o][q], the n x din
        // products accumulated side by side (W_l and delta_l are read in memory order).
        let e = with_dots(n * din, |dots| {
            for j in 0..=k {
                let dl = b.delta[l - 1].fixed(j);
                let wl = &w.fixed(k - j)[wo..wo + din * dout];
                for (i, row) in dots.chunks_exact_mut(din).enumerate() {
                    for (o, wo_row) in wl.chunks_exact(din).enumerate() {
                        let d = &dl[i * dout + o];
                        for (acc, wq) in row.iter_mut().zip(wo_row) {
                            acc.add_fixed(d, wq);
                        }
                    }
                }
            }
            dots.iter_mut()
                .map(|d| {
                    let mut v = Ball::zero();
                    d.finish(&mut v);
                    v.mul_assign(c);
                    v
                })
                .collect::<Vec<Ball>>()
        });
        b.cot[l - 2].push(e);
        // delta_{l-1}[k] = sum_j s[j] * cot[k-j] (elementwise)
        let dk = cauchy(k, &b.s[l - 2], &b.cot[l - 2]);
        b.delta[l - 2].push(dk);
    }
    grad
}

/// Global bounds `(s1, s2)` with `|sigma'| <= s1`, `|sigma''| <= s2` on the real line
/// (`proofs/checker.md`, "Derivative bounds").
#[allow(clippy::approx_constant)] // 1.1284 is an upper bound of 2/sqrt(pi), not an approximation
pub fn activation_bounds(act: Activation) -> (f64, f64) {
    match act {
        Activation::Tanh => (1.0, 0.7699),
        Activation::Sigmoid => (0.25, 0.09623),
        Activation::Softplus => (1.0, 0.25),
        Activation::Erf => (1.1284, 0.9679),
        Activation::Identity => (1.0, 0.0),
        Activation::Sin => (1.0, 1.0),
        Activation::Gelu => (1.1290, 0.7979),
    }
}

/// Proof: `proofs/checker.md`, "Derivative bounds" (Lemma D).
/// Bounds over a box: `G[i] >= sup |Dh_i(w) v|/|v|` and `M[i] >= sup |D^2 h_i(w)[v,v]|/|v|^2`
/// for every input `i` and `w` in the box `wbox`, from the box's order-0 values.
pub struct DerivativeBounds {
    pub gradient: Vec<f64>,
    pub hessian: Vec<f64>,
}

impl DerivativeBounds {
    /// `(sum_i G_i^2)^{1/2}`, bounds `|Dh(w) v|/|v|` for the stacked outputs.
    pub fn gradient_total(&self) -> f64 {
        total(&self.gradient)
    }
    pub fn hessian_total(&self) -> f64 {
        total(&self.hessian)
    }
}

fn total(v: &[f64]) -> f64 {
    super::ball::norm2_of_bounds(v)
}

/// Derivative bounds of the network over the box `wbox` (`proofs/checker.md`, "Derivative
/// bounds"). `hidden[l-1]` are the hidden activations over the box (order-0 values of an
/// expansion from `wbox`), `n x width_l`.
pub fn derivative_bounds(net: &Net, wbox: &[Ball], hidden: &[Vec<Ball>]) -> DerivativeBounds {
    match net {
        Net::Quadratic { slope, curvature, .. } => {
            let g = up(slope.abs_upper() + curvature.abs_upper() * wbox[0].abs_upper());
            DerivativeBounds { gradient: vec![g], hessian: vec![curvature.abs_upper()] }
        }
        Net::Mlp(m) => {
            let layers = m.widths.len() - 1;
            let omega: Vec<f64> = (1..=layers)
                .map(|l| norm2_upper(&wbox[m.w_off[l - 1]..m.w_off[l - 1] + m.widths[l] * m.widths[l - 1]]))
                .collect();
            let cs: Vec<f64> = m.scales.iter().map(|c| c.abs_upper()).collect();
            let mut gradient = Vec::with_capacity(m.n);
            let mut hessian = Vec::with_capacity(m.n);
            for i in 0..m.n {
                // |a_{l}| bounds, l = 0..L-1 (a_0 = x_i).
                let mut a_norm = vec![norm2_upper(&m.inputs[i * m.widths[0]..(i + 1) * m.widths[0]])];
                for l in 1..layers {
                    let w = m.widths[l];
                    a_norm.push(norm2_upper(&hidden[l - 1][i * w..(i + 1) * w]));
                }
                let bias = if m.bias { 1.0 } else { 0.0 };
                // Linear form g (|z_l'| <= g . nu) and quadratic form q (|z_l''| <= nu^T q nu).
                let mut g = vec![0.0f64; layers];
                let mut q = vec![vec![0.0f64; layers]; layers];
                g[0] = up((cs[0] * cs[0] * a_norm[0] * a_norm[0] + bias).sqrt());
                for l in 2..=layers {
                    let (s1, s2) = activation_bounds(m.acts[l - 2]);
                    // a_{l-1}' and a_{l-1}'' bounds.
                    let ga: Vec<f64> = g.iter().map(|x| up(s1 * x)).collect();
                    let mut qa = vec![vec![0.0f64; layers]; layers];
                    for r in 0..layers {
                        for c in 0..layers {
                            qa[r][c] = up(s2 * g[r] * g[c] + s1 * q[r][c]);
                        }
                    }
                    let f = up(cs[l - 1] * omega[l - 1]);
                    for r in 0..layers {
                        g[r] = up(f * ga[r]);
                        for c in 0..layers {
                            q[r][c] = up(f * qa[r][c]);
                        }
                    }
                    let beta = up((cs[l - 1] * cs[l - 1] * a_norm[l - 1] * a_norm[l - 1] + bias).sqrt());
                    g[l - 1] = up(g[l - 1] + beta);
                    for c in 0..layers {
                        q[l - 1][c] = up(q[l - 1][c] + 2.0 * cs[l - 1] * ga[c]);
                    }
                }
                gradient.push(total(&g));
                let fro: Vec<f64> = q.iter().flatten().copied().collect();
                hessian.push(total(&fro));
            }
            DerivativeBounds { gradient, hessian }
        }
    }
}

/// Order-0 hidden activations over a box (`n x width_l` per hidden layer): a forward pass at
/// order 0 in ball arithmetic.
pub fn hidden_activations(net: &Net, wbox: &[Ball]) -> Vec<Vec<Ball>> {
    match net {
        Net::Quadratic { .. } => Vec::new(),
        Net::Mlp(m) => {
            let layers = m.widths.len() - 1;
            let mut b = MlpSeries::new(layers);
            mlp_forward(m, &mut b, &Series::starting(wbox.to_vec()), 0);
            b.y.into_iter().take(layers - 1).map(|v| v.into_balls().swap_remove(0)).collect()
        }
    }
}

/// Row `i` of the Jacobian `J(w)` for every `w` in the box `wbox` (`J` is `N x p`), by one
/// order-0 reverse pass per output with a unit cotangent.
pub fn jacobian(net: &Net, wbox: &[Ball], num_outputs: usize) -> Vec<Vec<Ball>> {
    use rayon::prelude::*;
    let w = Series::starting(wbox.to_vec());
    (0..num_outputs)
        .into_par_iter()
        .map(|row| {
            let unit: Vec<Ball> = (0..num_outputs).map(|i| Ball::exact(if i == row { 1.0 } else { 0.0 })).collect();
            match net {
                Net::Quadratic { slope, curvature, .. } => {
                    let mut v = slope.clone();
                    v.fma_assign(curvature, &wbox[0]);
                    vec![v]
                }
                Net::Mlp(m) => {
                    let mut b = MlpSeries::new(m.widths.len() - 1);
                    mlp_forward(m, &mut b, &w, 0);
                    mlp_backward(m, &mut b, &w, 0, unit)
                }
            }
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const REF_PREC: u32 = 400;

    /// `|reference - m| + 2^-399 |reference| <= r` exactly: the truth (within `2^-399` relative
    /// of the 400-bit reference) is in the ball.
    fn within(b: &Ball, reference: &Float) -> bool {
        let q = reference.to_rational().unwrap();
        let dist = (q.clone() - b.m.to_rational().unwrap()).abs();
        let slack = q.abs() / (Rational::from(1) << 399u32);
        dist + slack <= Rational::from_f64(b.r).unwrap()
    }

    /// Sample points of a ball: both ends, the midpoint and two interior points (exactly).
    fn points(b: &Ball) -> Vec<Float> {
        let r = Float::with_val(REF_PREC, b.r);
        [-1.0, -0.3, 0.0, 0.7, 1.0].iter().map(|t| Float::with_val(REF_PREC, &b.m + Float::with_val(REF_PREC, &r * *t))).collect()
    }

    fn balls() -> Vec<Ball> {
        let mut v = Vec::new();
        for &m in &[0.0, 1e-9, -0.3, 0.75, -1.5, 2.0, 3.14159, -7.0, 20.0, 1e5] {
            let m = Float::with_val(PREC, m) / 3u32;
            let m = Float::with_val(PREC, m);
            for &rel in &[0.0, 1e-30, 1e-12, 1e-3, 0.5] {
                let r = super::super::ball::mag(&m) * rel + if rel == 0.5 { 0.25 } else { 0.0 };
                v.push(Ball { m: m.clone(), r });
            }
        }
        v
    }

    /// `tanh_ball` contains `tanh` at the ends, the midpoint and interior points (400-bit
    /// references), for tiny and wide balls; and it is tight for a point (radius 2^-120 |t|).
    #[test]
    fn tanh_ball_contains_tanh() {
        for b in balls() {
            let t = tanh_ball(&b);
            for x in points(&b) {
                let reference = Float::with_val(REF_PREC, x.tanh_ref());
                assert!(within(&t, &reference), "tanh at {} (ball {:?}): {:?}", x.to_f64(), b, t);
            }
            if b.r == 0.0 {
                assert!(t.r <= super::super::ball::mag(&t.m) * 2f64.powi(-120) + 1e-300, "{b:?}: {t:?}");
            }
        }
    }

    /// `sin_cos_ball` contains `sin` and `cos` of every sample point.
    #[test]
    fn sin_cos_ball_contains_sin_and_cos() {
        for b in balls() {
            let (s, c) = sin_cos_ball(&b);
            if b.r == 0.0 && b.m.is_zero() {
                // The exact point 0: sin 0 = 0 and cos 0 = 1 exactly, radius 0.
                assert!(s.m.is_zero() && s.r == 0.0 && c.m == 1 && c.r == 0.0, "{s:?} {c:?}");
                continue;
            }
            for x in points(&b) {
                let (rs, rc) = x.clone().sin_cos(Float::new(REF_PREC));
                assert!(within(&s, &rs), "sin at {}: {:?}", x.to_f64(), s);
                assert!(within(&c, &rc), "cos at {}: {:?}", x.to_f64(), c);
            }
        }
    }

    /// `Expansion::hidden0` (taken from the expansion's own order-0 pass, split into chunks)
    /// equals `hidden_activations` of the same box, ball for ball, for shipped specs with one
    /// and two hidden layers (the small benchmark is split into parallel chunks).
    #[test]
    fn expansion_hidden0_equals_hidden_activations() {
        let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        for spec in ["specs/bench/gf-mlp-small.toml", "specs/examples/mlp-inline.toml", "tests/data/check/sin-gelu.toml"] {
            let loaded = crate::spec::load(&root.join(spec)).unwrap();
            let pb = &loaded.problem;
            let net = Net::new(pb).unwrap();
            let w0: Vec<Ball> = pb.params0.iter().map(|x| Ball { m: Float::with_val(PREC, x.inf()), r: 1e-6 }).collect();
            let targets: Vec<Ball> = pb.targets.iter().map(|y| Ball::from_interval(y.inf(), y.sup())).collect();
            let flow = FlowData { net: &net, alpha: Ball::exact(2.0), inv_alpha: Ball::exact(0.5), targets, offset: None, penalty: None, displacement: None };
            let ex = flow.expand(w0.clone(), 16); // order 16: the small benchmark is split into chunks
            let direct = hidden_activations(&net, &w0);
            assert_eq!(ex.hidden0.len(), direct.len(), "{spec}");
            assert!(!direct.is_empty());
            for (a, b) in ex.hidden0.iter().zip(&direct) {
                assert_eq!(a.len(), b.len(), "{spec}");
                for (x, y) in a.iter().zip(b) {
                    assert!(x.m == y.m && x.r == y.r, "{spec}: {x:?} != {y:?}");
                }
            }
        }
    }

    /// Lemma Δ (checker): `mlp_increment` contains `h(w0 + u) - h(w0)` computed at 400 bits,
    /// for every activation, with and without biases, at displacements 1e-12 and 0.3, from a
    /// `W0` one f64 ulp wide (as the spec's generated weights are); where an identity is used
    /// its width is relative to the increment (at most 1e-25 of it, plus `|u|` times the width
    /// of `W0`), while the two separate evaluations' difference is as wide as `|J| ulp(w0)`.
    #[test]
    fn increment_contains_the_reference_and_is_relative() {
        use crate::model::test_problems::{problem, Rng};
        for (case, &act) in Activation::ALL.iter().enumerate() {
            for (scale_case, &scale) in [1e-12, 0.3].iter().enumerate() {
                let seed = 41 * case as u64 + scale_case as u64;
                let pb = problem(seed, vec![3, 4, 3, 2], act, case % 2 == 1, true, "0");
                let Net::Mlp(m) = Net::new(&pb).unwrap() else { unreachable!() };
                // W0 one ulp wide around the problem's weights; the true w0 is its midpoint.
                let w0: Vec<Ball> = pb.params0.iter().map(|x| Ball { m: Float::with_val(PREC, x.inf()), r: f64::EPSILON * x.inf().abs() }).collect();
                let mut rng = Rng(seed + 3);
                let u: Vec<Ball> = w0.iter().map(|_| Ball::exact(scale * rng.next())).collect();
                let d = Displacement::new(&m, w0.clone(), Vec::new());
                let mut buf = MlpSeries::new(m.widths.len() - 1);
                let h = mlp_forward(&m, &mut buf, &Series::starting(d.weights(&u)), 0);
                let inc = mlp_increment(&m, &buf, &u, &d, 0);
                let mut buf0 = MlpSeries::new(m.widths.len() - 1);
                let h0 = mlp_forward(&m, &mut buf0, &Series::starting(w0.clone()), 0);
                let w0f: Vec<Float> = w0.iter().map(|b| Float::with_val(REF_PREC, &b.m)).collect();
                let wf: Vec<Float> = w0f.iter().zip(&u).map(|(x, v)| Float::with_val(REF_PREC, x + &v.m)).collect();
                let (hr, h0r) = (crate::reference::outputs_at(&pb, &wf, REF_PREC), crate::reference::outputs_at(&pb, &w0f, REF_PREC));
                let width_w0 = w0.iter().map(|b| b.r).fold(0.0, f64::max);
                let identity = !matches!(act, Activation::Erf | Activation::Softplus | Activation::Gelu);
                for (i, x) in inc.iter().enumerate() {
                    let exact = Float::with_val(REF_PREC, &hr[i] - &h0r[i]);
                    assert!(within(x, &exact), "{act:?} scale {scale}: increment[{i}] = {x:?} misses {}", exact.to_f64());
                    if identity {
                        let allowed = 1e-25 * super::super::ball::mag(&x.m) + 100.0 * scale * width_w0;
                        assert!(x.r <= allowed, "{act:?} scale {scale}: increment[{i}] radius {:e} above {allowed:e}", x.r);
                        if scale < 1e-6 {
                            let plain = h[i].sub(&h0[i]);
                            assert!(x.r * 1e3 < plain.r, "{act:?}: {:e} not far below the plain difference's {:e}", x.r, plain.r);
                        }
                    }
                }
                buf.recycle();
                buf0.recycle();
            }
        }
    }

    /// The exact rational value of a finite float.
    fn rat(x: &Float) -> Rational {
        x.to_rational().expect("finite")
    }

    /// Whether the exact rational `v` lies in the ball (exact comparison).
    fn holds(b: &Ball, v: &Rational) -> bool {
        b.r.is_finite() && Rational::from(v - rat(&b.m)).abs() <= Rational::from_f64(b.r).unwrap()
    }

    /// Coefficients of the product of two polynomials with rational coefficients.
    fn poly_mul(a: &[Rational], b: &[Rational]) -> Vec<Rational> {
        let mut c = vec![Rational::new(); a.len() + b.len() - 1];
        for (i, x) in a.iter().enumerate() {
            for (j, y) in b.iter().enumerate() {
                c[i + j] += Rational::from(x * y);
            }
        }
        c
    }

    /// The quadratic model `h = 2 w + (3/2) w^2` (`lambda = 4`, `L = 3`), `alpha = 2`, target
    /// `3/4`, offset `1/4`, with its flow data.
    fn quadratic_flow(net: &Net) -> FlowData<'_> {
        FlowData { net, alpha: Ball::exact(2.0), inv_alpha: Ball::exact(0.5), targets: vec![Ball::exact(0.75)], offset: Some(vec![Ball::exact(0.25)]), penalty: None, displacement: None }
    }

    fn quadratic_net() -> Net {
        Net::Quadratic { slope: Ball::exact(2.0), curvature: Ball::exact(3.0), half_curvature: Ball::exact(1.5) }
    }

    /// The exact coefficients of `h(w(s))` and `F(w(s)) = -(1/2) (2 + 3 w) (2 (h - 1/4) - 3/4)`
    /// for the quadratic model of [`quadratic_flow`] along a polynomial path `w` (rationals).
    fn quadratic_exact(w: &[Rational]) -> (Vec<Rational>, Vec<Rational>) {
        let q = |x: f64| Rational::from_f64(x).unwrap();
        let ww = poly_mul(w, w);
        let mut h = vec![Rational::new(); ww.len()];
        for (k, c) in ww.iter().enumerate() {
            h[k] = Rational::from(c * q(1.5)) + w.get(k).map_or_else(Rational::new, |x| Rational::from(x * q(2.0)));
        }
        let mut r: Vec<Rational> = h.iter().map(|c| Rational::from(c * q(2.0))).collect();
        r[0] -= q(0.5) + q(0.75);
        let mut slope: Vec<Rational> = w.iter().map(|x| Rational::from(x * q(3.0))).collect();
        slope[0] += q(2.0);
        let field: Vec<Rational> = poly_mul(&slope, &r).into_iter().map(|c| -c / q(2.0)).collect();
        (h, field)
    }

    /// Lemma T2 on the quadratic model, against exact rational arithmetic: the point path's
    /// `A_k` and `H_k` contain the exact coefficients of `F(P(s))` and `h(P(s))` of its own
    /// exact path, `P_{k+1}` is within the radius of `A_k / (k+1)` and `P_0` is the centre; and
    /// along boxes around the path, the coefficient `q + 1` contains the exact one of every
    /// sampled path in the boxes.
    #[test]
    fn point_path_and_along_contain_the_exact_coefficients_of_the_quadratic_model() {
        let net = quadratic_net();
        let flow = quadratic_flow(&net);
        let q = 9;
        let pp = flow.point_path(vec![Ball::exact(0.3)], q);
        assert_eq!((pp.p.len(), pp.field.len(), pp.out.len()), (q + 2, q + 1, q + 1));
        assert!(pp.p.iter().all(|c| c[0].r == 0.0));
        assert_eq!(pp.p[0][0].m, 0.3);
        let path: Vec<Rational> = pp.p.iter().map(|c| rat(&c[0].m)).collect();
        let (h, field) = quadratic_exact(&path);
        for k in 0..=q {
            assert!(holds(&pp.field[k][0], &field[k]), "A_{k} = {:?} misses {}", pp.field[k][0], field[k].to_f64());
            assert!(holds(&pp.out[k][0], &h[k]), "H_{k} = {:?} misses {}", pp.out[k][0], h[k].to_f64());
            let scaled = Rational::from(&path[k + 1] * (k as u32 + 1));
            assert!((scaled - rat(&pp.field[k][0].m)).abs() <= Rational::from_f64(pp.field[k][0].r + 1e-300).unwrap() * 2u32);
        }
        // The path is not the exact solution: its defect is tiny but not zero at some order.
        // Boxes of radius 1e-3 |P_j| + 1e-6 around the path: the coefficient q + 1 of every path
        // with coefficients in them is inside `along`'s balls.
        let rad: Vec<f64> = pp.p.iter().map(|c| 1e-3 * c[0].abs_upper() + 1e-6).collect();
        let boxes: Vec<Vec<Ball>> = pp.p.iter().zip(&rad).map(|(c, r)| vec![Ball { m: c[0].m.clone(), r: *r }]).collect();
        let along = flow.along(boxes);
        for choice in 0..12u32 {
            let sample: Vec<Rational> = path
                .iter()
                .zip(&rad)
                .enumerate()
                .map(|(j, (c, r))| {
                    let t = [-1.0, 1.0, 0.25, -0.5][((choice as usize) + j * (choice as usize % 3 + 1)) % 4];
                    Rational::from(c + Rational::from_f64(r * t).unwrap())
                })
                .collect();
            let (h, field) = quadratic_exact(&sample);
            assert!(holds(&along.field[0], &field[q + 1]), "sample {choice}: C = {:?} misses {}", along.field[0], field[q + 1].to_f64());
            assert!(holds(&along.out[0], &h[q + 1]), "sample {choice}: W misses");
            // Order 0 over the box W_0: the residual 2 (h(w) - 1/4) - 3/4.
            let r0 = Rational::from(&h[0] * 2u32) - Rational::from_f64(1.25).unwrap();
            assert!(holds(&along.residual0[0], &r0), "sample {choice}: residual0");
        }
        assert!(along.hidden0.is_empty());
    }

    /// The three drivers share one recurrence: along the point path's own (exact) coefficients,
    /// the pass with a given path computes the same balls `A_k`, `H_k` (bit for bit); and the
    /// solution's coefficients `(k+1) U_{k+1}` from `expand` at the same centre meet `A_k`
    /// (both enclose the coefficients of curves that differ by rounding only; the balls are
    /// widened by `1e-25` relative). MLP specs with one and two hidden layers (the small
    /// benchmark runs in parallel chunks) and the quadratic model.
    #[test]
    fn point_path_along_and_expand_agree() {
        let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let q = 10;
        let mut cases: Vec<(String, Net, Vec<Ball>, Vec<Ball>)> = Vec::new();
        for spec in ["specs/bench/gf-mlp-small.toml", "tests/data/check/sin-gelu.toml"] {
            let loaded = crate::spec::load(&root.join(spec)).unwrap();
            let pb = &loaded.problem;
            let c: Vec<Ball> = pb.params0.iter().map(|x| Ball::exact(x.inf())).collect();
            let targets: Vec<Ball> = pb.targets.iter().map(|y| Ball::from_interval(y.inf(), y.sup())).collect();
            cases.push((spec.to_string(), Net::new(pb).unwrap(), c, targets));
        }
        cases.push(("quadratic".into(), quadratic_net(), vec![Ball::exact(0.3)], vec![Ball::exact(0.75)]));
        for (name, net, c, targets) in &cases {
            let flow = FlowData { net, alpha: Ball::exact(2.0), inv_alpha: Ball::exact(0.5), targets: targets.clone(), offset: None, penalty: None, displacement: None };
            let pp = flow.point_path(c.clone(), q);
            let mut it = pp.p.clone().into_iter();
            let start = it.next().unwrap();
            let given = flow.pass(start, Source::Given(it), q, Some(q), 0);
            let ex = flow.expand(c.clone(), q + 1);
            for k in 0..=q {
                for (i, (a, b)) in pp.field[k].iter().zip(&given.field[k]).enumerate() {
                    assert!(a.m == b.m && a.r == b.r, "{name}: A_{k}[{i}] {a:?} != {b:?}");
                }
                for (a, b) in pp.out[k].iter().zip(&given.out[k]) {
                    assert!(a.m == b.m && a.r == b.r, "{name}: H_{k}");
                }
                for (i, (a, u)) in pp.field[k].iter().zip(&ex.w[k + 1]).enumerate() {
                    let u = u.mul_int(k as i64 + 1);
                    let gap = Float::with_val(PREC, &a.m - &u.m).abs().to_f64();
                    let slack = a.r + u.r + 1e-25 * (a.abs_upper() + u.abs_upper()) + 1e-300;
                    assert!(gap <= slack, "{name}: A_{k}[{i}] = {a:?} and (k+1) U_(k+1) = {u:?} are disjoint");
                }
                for (i, (a, u)) in pp.out[k].iter().zip(&ex.out[k]).enumerate() {
                    let gap = Float::with_val(PREC, &a.m - &u.m).abs().to_f64();
                    assert!(gap <= a.r + u.r + 1e-25 * (a.abs_upper() + u.abs_upper()) + 1e-300, "{name}: H_{k}[{i}]");
                }
            }
            // The along pass at order q + 1 over the exact path: the last field coefficient.
            let along = flow.along(pp.p.clone());
            let ex2 = flow.expand(c.clone(), q + 2);
            for (a, u) in along.field.iter().zip(&ex2.w[q + 2]) {
                let u = u.mul_int(q as i64 + 2);
                let gap = Float::with_val(PREC, &a.m - &u.m).abs().to_f64();
                assert!(gap <= a.r + u.r + 1e-25 * (a.abs_upper() + u.abs_upper()) + 1e-300, "{name}: C");
            }
        }
    }

    /// gf-mlp-small (`[2, 16, 1]`, tanh, ntk, no bias) with its inputs and targets replaced by
    /// the exact midpoints of the spec's balls (so that radii are rounding only), the targets,
    /// and the exact start point (the lower ends of the spec's `w0`).
    pub(crate) fn exact_small_mlp() -> (Net, Vec<Ball>, Vec<Ball>) {
        let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let loaded = crate::spec::load(&root.join("specs/bench/gf-mlp-small.toml")).unwrap();
        let pb = &loaded.problem;
        let Net::Mlp(mut m) = Net::new(pb).unwrap() else { panic!("an MLP") };
        assert_eq!(m.widths, vec![2, 16, 1]);
        m.inputs = m.inputs.iter().map(|x| Ball { m: x.m.clone(), r: 0.0 }).collect();
        m.inputs_fixed = pack(&m.inputs);
        let targets: Vec<Ball> = pb.targets.iter().map(|y| Ball::from_interval(y.inf(), y.sup())).map(|y| Ball { m: y.m, r: 0.0 }).collect();
        let c: Vec<Ball> = pb.params0.iter().map(|x| Ball::exact(x.inf())).collect();
        (Net::Mlp(m), targets, c)
    }

    /// `(F(w), h(w))` of [`exact_small_mlp`] with `alpha = 2`, not centred, at a point `w`,
    /// evaluated directly at precision `prec` (`h_i = c2 sum_j v_j tanh(c1 sum_k W_jk x_ik)`,
    /// the gradient by hand; shares no code with the recurrences).
    pub(crate) fn direct_field(net: &Net, targets: &[Ball], w: &[Float], prec: u32) -> (Vec<Float>, Vec<Float>) {
        let Net::Mlp(m) = net else { panic!("an MLP") };
        let c1 = Float::with_val(prec, 2).recip_sqrt();
        let c2 = Float::with_val(prec, 0.25);
        let mut grad = vec![Float::with_val(prec, 0); m.p];
        let mut out = Vec::new();
        for i in 0..m.n {
            let x: Vec<Float> = (0..2).map(|k| Float::with_val(prec, &m.inputs[i * 2 + k].m)).collect();
            let mut h = Float::with_val(prec, 0);
            let mut t = Vec::new();
            for j in 0..16 {
                let z = Float::with_val(prec, &w[2 * j] * &x[0]) + Float::with_val(prec, &w[2 * j + 1] * &x[1]);
                let tj = Float::with_val(prec, Float::with_val(prec, z * &c1).tanh_ref());
                h += Float::with_val(prec, &w[32 + j] * &tj);
                t.push(tj);
            }
            h *= &c2;
            let r = Float::with_val(prec, &h * 2u32) - &targets[i].m;
            for j in 0..16 {
                let d = Float::with_val(prec, 1) - Float::with_val(prec, t[j].square_ref());
                let common = Float::with_val(prec, &c2 * &w[32 + j]) * d * &c1 * &r;
                for k in 0..2 {
                    grad[2 * j + k] += Float::with_val(prec, &common * &x[k]);
                }
                grad[32 + j] += Float::with_val(prec, &c2 * &t[j]) * &r;
            }
            out.push(h);
        }
        (grad.into_iter().map(|g| -Float::with_val(prec, &g / 2u32)).collect(), out)
    }

    /// The flow data of [`exact_small_mlp`]: `alpha = 2`, not centred.
    pub(crate) fn small_flow<'a>(net: &'a Net, targets: &[Ball]) -> FlowData<'a> {
        FlowData { net, alpha: Ball::exact(2.0), inv_alpha: Ball::exact(0.5), targets: targets.to_vec(), offset: None, penalty: None, displacement: None }
    }

    /// `sum_k c[k][i] s^k` at precision `prec` (midpoints).
    pub(crate) fn poly_at(c: &[Vec<Ball>], i: usize, s: &Float, prec: u32) -> Float {
        let mut acc = Float::with_val(prec, 0);
        for ck in c.iter().rev() {
            acc = Float::with_val(prec, &acc * s) + &ck[i].m;
        }
        acc
    }

    /// `F(P(s))` of [`exact_small_mlp`], evaluated directly at 256 bits ([`direct_field`]) for
    /// the exact path `P`, against the point path's `sum_{k<=q} A_k s^k` at `s = 2^-10`: within
    /// the radii plus `1e-45` (the truncation is below `1e-50`; the radii are about `2e-38`, the
    /// differences `1e-39`). A wrong coefficient of order `k` off by more than
    /// `1e-45 2^(10 k)` (`1e-33` at order 4, `1e-9` at order 12) is visible.
    #[test]
    fn point_path_field_matches_a_direct_evaluation() {
        let (net, targets, c) = exact_small_mlp();
        let flow = small_flow(&net, &targets);
        let q = 16;
        let pp = flow.point_path(c, q);
        let prec = 256;
        let s = Float::with_val(prec, 0.0009765625);
        let w: Vec<Float> = (0..pp.p[0].len()).map(|i| poly_at(&pp.p, i, &s, prec)).collect();
        let (field, _) = direct_field(&net, &targets, &w, prec);
        for (i, exact) in field.iter().enumerate() {
            let sum = poly_at(&pp.field, i, &s, prec);
            let rad = (0..=q).rev().fold(0.0, |acc, k| acc * s.to_f64() + pp.field[k][i].r);
            let diff = Float::with_val(prec, &sum - exact).abs().to_f64();
            assert!(diff <= rad * 1.001 + 1e-45, "component {i}: |sum A_k s^k - F(P(s))| = {diff:e} > {rad:e} + 1e-45");
        }
    }

    /// `sigma(x)` and `sigma'(x)` at 400 bits.
    fn reference(act: Activation, x: &Float) -> (Float, Float) {
        let p = REF_PREC;
        let one = Float::with_val(p, 1);
        match act {
            Activation::Identity => (x.clone(), one),
            Activation::Tanh => {
                let t = Float::with_val(p, x.tanh_ref());
                let d = Float::with_val(p, &one - Float::with_val(p, t.square_ref()));
                (t, d)
            }
            Activation::Sigmoid | Activation::Softplus => {
                let e = Float::with_val(p, (-x.clone()).exp_ref());
                let sig = Float::with_val(p, &one / Float::with_val(p, &one + &e));
                if act == Activation::Sigmoid {
                    let d = Float::with_val(p, &sig * Float::with_val(p, &one - &sig));
                    (sig, d)
                } else {
                    let sp = Float::with_val(p, Float::with_val(p, x.exp_ref()).ln_1p_ref());
                    (sp, sig)
                }
            }
            Activation::Erf => {
                let pi = Float::with_val(p, rug::float::Constant::Pi);
                let g = Float::with_val(p, (-Float::with_val(p, x.square_ref())).exp_ref());
                let d = Float::with_val(p, g * 2u32 / pi.sqrt());
                (Float::with_val(p, x.erf_ref()), d)
            }
            Activation::Sin => x.clone().sin_cos(Float::new(p)),
            Activation::Gelu => {
                // x Phi(x), Phi = (1 + erf(x/sqrt 2))/2; gelu' = Phi + x phi.
                let two = Float::with_val(p, 2);
                let u = Float::with_val(p, x / two.sqrt());
                let phi_cap = Float::with_val(p, (Float::with_val(p, u.erf_ref()) + 1u32) / 2u32);
                let pi = Float::with_val(p, rug::float::Constant::Pi);
                let phi = Float::with_val(p, (-Float::with_val(p, x.square_ref()) / 2u32).exp()) / Float::with_val(p, pi * 2u32).sqrt();
                let g = Float::with_val(p, x * &phi_cap);
                let d = Float::with_val(p, &phi_cap + Float::with_val(p, x * phi));
                (g, d)
            }
        }
    }

    /// The activation recurrences (`push_activation`): along `z(s) = z0 + z1 s + z2 s^2`, the
    /// series of `y = sigma(z)` and of the slope `s = sigma'(z)` summed at `s = 2^-5` (order
    /// 24, truncation below 1e-30) contain `sigma(z(s))`, `sigma'(z(s))` computed at 400 bits,
    /// within their radii plus 1e-28. A wrong coefficient of order `k <= 15` is visible.
    #[test]
    fn activation_series_match_the_functions() {
        let order = 24;
        let s = Float::with_val(PREC, 0.03125);
        for act in Activation::ALL {
            for &(z0, z1, z2) in &[(0.3, -1.25, 0.5), (-1.7, 0.8, 0.0), (2.5, 0.1, -0.75), (0.0, 1.0, 0.0)] {
                let mut b = MlpSeries::new(1);
                let zc = [z0, z1, z2];
                for k in 0..=order {
                    let zk = zc.get(k).map_or_else(Ball::zero, |&c| Ball::exact(c));
                    b.z[0].push(vec![zk]);
                    push_activation(act, &mut b, 0, k);
                }
                let sum = |c: &Series| {
                    let mut acc = Float::with_val(REF_PREC, 0);
                    let mut rad = 0.0f64;
                    let mut pw = Float::with_val(REF_PREC, 1);
                    for ck in (0..c.len().min(order + 1)).map(|k| &c[k]) {
                        acc += Float::with_val(REF_PREC, &ck[0].m * &pw);
                        rad += ck[0].r * pw.to_f64();
                        pw *= &s;
                    }
                    (acc, rad * 1.0001 + 1e-28)
                };
                let x = Float::with_val(REF_PREC, z0) + Float::with_val(REF_PREC, z1) * &s + Float::with_val(REF_PREC, z2) * Float::with_val(REF_PREC, s.square_ref());
                let (fy, fd) = reference(act, &x);
                for (what, series, exact) in [("y", &b.y[0], fy), ("slope", &b.s[0], fd)] {
                    let (v, rad) = sum(series);
                    let diff = Float::with_val(REF_PREC, &v - &exact).abs().to_f64();
                    assert!(diff <= rad, "{} {what} at z = ({z0}, {z1}, {z2}): |series - f| = {diff:e} > {rad:e}", act.name());
                }
            }
        }
    }

    /// The constants of `activation_bounds` bound `|sigma'|` and `|sigma''|` on a fine grid
    /// of [-12, 12] (derivatives from the 400-bit reference by central differences of the
    /// exact derivative), and are within 1e-3 of the grid maxima (not loose by much).
    #[test]
    fn activation_bounds_hold_on_a_grid() {
        for act in Activation::ALL {
            let (s1, s2) = activation_bounds(act);
            let (mut m1, mut m2) = (0.0f64, 0.0f64);
            let h = 1e-6;
            for i in -12000..=12000 {
                let x = Float::with_val(REF_PREC, i) / 1000u32;
                let x = Float::with_val(REF_PREC, x);
                let d = reference(act, &x).1.to_f64();
                let dp = reference(act, &Float::with_val(REF_PREC, &x + h)).1.to_f64();
                let dm = reference(act, &Float::with_val(REF_PREC, &x - h)).1.to_f64();
                m1 = m1.max(d.abs());
                m2 = m2.max(((dp - dm) / (2.0 * h)).abs());
            }
            assert!(m1 <= s1 && s1 - m1 < 1e-3, "{}: max |sigma'| = {m1} against {s1}", act.name());
            assert!(m2 <= s2 + 1e-6 && (s2 - m2 < 1e-3 || s2 == 0.0), "{}: max |sigma''| = {m2} against {s2}", act.name());
        }
    }
}
