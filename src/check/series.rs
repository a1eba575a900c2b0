//! Taylor coefficients of the gradient flow and of the model's outputs along it, in ball
//! arithmetic, and bounds of `|Dh|`, `|D^2 h|` over a box. The checker's own code: it shares no
//! code with `crate::model` or `crate::enclose` (proofs: `proofs/checker.md`, sections
//! "Taylor coefficients" and "Derivative bounds").
//!
//! Every function takes ball inputs and returns balls that contain the exact quantity for every
//! choice of the inputs inside their balls.

use super::ball::{norm2_upper, pack, recycle_series, up, with_dot, with_dots, Ball, Fixed, PREC};
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
    b_off: Vec<usize>,
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
fn increasing(x: &Ball, f: impl Fn(&Float, Round) -> Float) -> Ball {
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
fn tanh_ball(x: &Ball) -> Ball {
    use super::ball::{mag, ROUND};
    if !x.m.is_finite() {
        return increasing(x, tanh_dir);
    }
    let t = Float::with_val(PREC, x.m.tanh_ref());
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

fn erf_dir(x: &Float, r: Round) -> Float {
    Float::with_val_round(PREC, x.erf_ref(), r).0
}

fn exp_dir(x: &Float, r: Round) -> Float {
    Float::with_val_round(PREC, x.exp_ref(), r).0
}

/// `1/(1+e^{-x})` rounded in direction `r`: for `r = Down`, `e^{-x}` and `1 + .` are rounded
/// up and the reciprocal down (each step moves the result down); symmetric for `Up`.
fn sigmoid_dir(x: &Float, r: Round) -> Float {
    let inner = if r == Round::Down { Round::Up } else { Round::Down };
    let e = Float::with_val_round(PREC, (-x.clone()).exp_ref(), inner).0;
    let d = Float::with_val_round(PREC, &e + 1u32, inner).0;
    Float::with_val_round(PREC, d.recip_ref(), r).0
}

/// `ln(1 + e^x)` rounded in direction `r` (every step rounded in direction `r`; `ln_1p` is
/// increasing).
fn softplus_dir(x: &Float, r: Round) -> Float {
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

/// Buffers for the quadratic model: the parameter and residual series.
struct QuadSeries {
    out: Vec<Vec<Ball>>,
    res: Series,
}

enum Buffers {
    Quad(QuadSeries),
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

/// The result of a Taylor expansion of the flow from a start box `w[0]`.
pub struct Expansion {
    /// `w[k]`, `k <= order`: Taylor coefficients of the solution through every point of `w[0]`.
    pub w: Vec<Vec<Ball>>,
    /// `out[k]`, `k <= order`: coefficients of `h(w(s))`, input-major.
    pub out: Vec<Vec<Ball>>,
    /// `r = alpha (h(w[0]) - offset) - y`.
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

/// What the flow needs beyond the network.
pub struct FlowData<'a> {
    pub net: &'a Net,
    pub alpha: Ball,
    pub inv_alpha: Ball,
    pub targets: Vec<Ball>,
    /// `Some(h(w0))` when centred.
    pub offset: Option<Vec<Ball>>,
}

impl FlowData<'_> {
    /// Taylor coefficients up to `order` of the solution of `w' = -(1/alpha) J(w)^T r(w)`
    /// with `w(0) = start` (for every point of the box `start`), and of `h(w(s))`.
    /// Recurrence: `w[k+1] = -(J^T r)[k] / (alpha (k+1))` (Taylor coefficients of an ODE
    /// solution; `proofs/checker.md`).
    pub fn expand(&self, start: Vec<Ball>, order: usize) -> Expansion {
        if let Net::Mlp(m) = self.net {
            return self.expand_mlp(m, start, order);
        }
        let mut buf = Buffers::Quad(QuadSeries { out: Vec::new(), res: Series::default() });
        let mut w = Series::starting(start);
        let mut out = Vec::new();
        let mut residual0 = Vec::new();
        for k in 0..=order {
            let hk = self.forward(&mut buf, &w, k);
            if k == order {
                out.push(hk);
                break;
            }
            let rk = self.residual(&hk, k, 0);
            if k == 0 {
                residual0 = rk.clone();
            }
            out.push(hk);
            let g = self.backward(&mut buf, &w, k, rk);
            w.push(self.next_coefficient(&g, k));
        }
        Expansion { w: w.into_balls(), out, residual0, hidden0: Vec::new() }
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

    /// `w[k+1] = -(J^T r)[k] / (alpha (k+1))` from `g = (J^T r)[k]` (Lemma T1).
    fn next_coefficient(&self, g: &[Ball], k: usize) -> Vec<Ball> {
        // One ball factor containing -1/(alpha (k+1)), then one product per parameter.
        let f = self.inv_alpha.neg().div_int(k as i64 + 1);
        g.iter().map(|x| x.mul(&f)).collect()
    }

    /// [`FlowData::expand`] for an MLP, with the inputs split into chunks processed in
    /// parallel (rayon): `J^T r = sum_i Dh_i^T r_i` is summed over the chunks per order; the
    /// result is the same enclosure up to the order of the ball additions.
    fn expand_mlp(&self, m: &Mlp, start: Vec<Ball>, order: usize) -> Expansion {
        use rayon::prelude::*;
        let n = m.n;
        let od = *m.widths.last().unwrap();
        let work = n * m.p * (order + 1);
        let threads = rayon::current_num_threads();
        let num_chunks = if work >= 4_000 && n >= 2 && threads > 1 { threads.min(n) } else { 1 };
        let mut parts: Vec<(Mlp, MlpSeries, usize)> = (0..num_chunks)
            .map(|c| {
                let (a, b) = (c * n / num_chunks, (c + 1) * n / num_chunks);
                (m.restricted(a, b), MlpSeries::new(m.widths.len() - 1), a)
            })
            .collect();
        let mut w = Series::starting(start);
        let mut out = Vec::new();
        let mut residual0 = Vec::new();
        for k in 0..=order {
            let wr = &w;
            type ChunkResult = (Vec<Ball>, Vec<Ball>, Option<Vec<Ball>>);
            let results: Vec<ChunkResult> = parts
                .par_iter_mut()
                .map(|(mm, buf, first)| {
                    let hk = mlp_forward(mm, buf, wr, k);
                    if k == order {
                        return (hk, Vec::new(), None);
                    }
                    let rk = self.residual(&hk, k, *first * od);
                    let g = mlp_backward(mm, buf, wr, k, rk.clone());
                    (hk, rk, Some(g))
                })
                .collect();
            let mut hk_all = Vec::with_capacity(n * od);
            let mut rk_all = Vec::with_capacity(n * od);
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
                            acc
                        }
                    });
                }
            }
            out.push(hk_all);
            if k == 0 {
                residual0 = rk_all;
            }
            match grad {
                Some(g) => w.push(self.next_coefficient(&g, k)),
                None => break,
            }
        }
        let hidden0 = (0..m.widths.len() - 2)
            .map(|l| parts.iter().flat_map(|(_, buf, _)| buf.y[l][0].iter().cloned()).collect())
            .collect();
        let w = w.into_balls();
        // On the worker threads, whose next expansion reuses the floats.
        parts.into_par_iter().for_each(|(_, buf, _)| buf.recycle());
        Expansion { w, out, residual0, hidden0 }
    }

    /// Coefficient `k` of `h(w(s))` (input-major), given `w[0..=k]`.
    fn forward(&self, buf: &mut Buffers, w: &Series, k: usize) -> Vec<Ball> {
        match (self.net, buf) {
            (Net::Quadratic { slope, half_curvature, .. }, Buffers::Quad(q)) => {
                // h[k] = slope w[k] + (L/2) (w*w)[k]
                let sq = cauchy(k, w, w);
                let mut v = slope.mul(&w[k][0]);
                v.fma_assign(half_curvature, &sq[0]);
                q.out.push(vec![v.clone()]);
                vec![v]
            }
            _ => unreachable!("MLPs are expanded by expand_mlp"),
        }
    }

    /// Coefficient `k` of `J(w(s))^T r(s)` given the residual coefficient `r[k]`.
    fn backward(&self, buf: &mut Buffers, w: &Series, k: usize, rk: Vec<Ball>) -> Vec<Ball> {
        match (self.net, buf) {
            (Net::Quadratic { slope, curvature, .. }, Buffers::Quad(q)) => {
                // Dh = slope + L w: (Dh r)[k] = slope r[k] + L (w*r)[k]
                q.res.push(rk);
                let wr = cauchy(k, w, &q.res);
                let mut v = slope.mul(&q.res[k][0]);
                v.fma_assign(curvature, &wr[0]);
                vec![v]
            }
            _ => unreachable!("MLPs are expanded by expand_mlp"),
        }
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
fn sin_cos_ball(x: &Ball) -> (Ball, Ball) {
    use super::ball::{mag, ROUND};
    if !x.m.is_finite() {
        return (Ball { m: Float::new(PREC), r: f64::INFINITY }, Ball { m: Float::new(PREC), r: f64::INFINITY });
    }
    let (sm, cm) = x.m.clone().sin_cos(Float::new(PREC));
    let (ds, dc) = (up(ROUND * mag(&sm)), up(ROUND * mag(&cm)));
    let sup_cos = up(mag(&cm) + dc + x.r).min(1.0);
    let sup_sin = up(mag(&sm) + ds + x.r).min(1.0);
    let rs = up(x.r * sup_cos + ds);
    let rc = up(x.r * sup_sin + dc);
    (Ball { m: sm, r: rs }, Ball { m: cm, r: rc })
}

/// Balls containing `1/sqrt(2)` and `1/sqrt(2 pi)` (for gelu; proof: `proofs/checker.md`,
/// "Ball arithmetic", `gelu_constants`).
struct GeluConstants {
    inv_sqrt_2: Ball,
    inv_sqrt_2pi: Ball,
}

/// `1/sqrt(2)`: MPFR `rec_sqrt` correctly rounded (error <= ROUND |.|); `1/sqrt(2 pi)`:
/// `[rec_sqrt(2 pi_up) down, rec_sqrt(2 pi_down) up]` (`rec_sqrt` decreasing, `2 pi` exact
/// from `pi` rounded down and up).
fn gelu_constants() -> GeluConstants {
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
fn two_over_sqrt_pi() -> Ball {
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
    let s: f64 = v.iter().map(|x| x * x).sum();
    up(super::ball::up_n(s, v.len()).sqrt())
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
mod tests {
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
            let flow = FlowData { net: &net, alpha: Ball::exact(2.0), inv_alpha: Ball::exact(0.5), targets, offset: None };
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
