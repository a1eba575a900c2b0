//! The order-`Q` Taylor model `h_Q(w) = sum_{r<=Q} D^r h(w0)[(w - w0)^r] / r!` of an MLP in the
//! checker's ball arithmetic (`[training] reference_order = Q >= 2`): its outputs and its
//! gradient-flow field along a path by jets in a second variable `eps` (Lemmas MJ, MM of
//! `proofs/checker.md`, "The order-Q model"), and the bounds of its derivatives over a box
//! (Lemmas MB, MG). The checker's own code: it shares no code with `crate::model`,
//! `crate::arith::jet` or `crate::enclose`.

use super::ball::{dot_acc, norm2_upper, up, up_n, with_dots, Ball, Dot};
use super::series::{self, Along, DerivativeBounds, Mlp, PointPath};
use crate::problem::Activation;
use rayon::prelude::*;

/// A jet: the `eps`-coefficients `0..=d` of a truncated power series (`R_d = K[eps]/(eps^{d+1})`).
#[derive(Clone, Debug)]
pub struct Jet(pub Vec<Ball>);

/// The coefficient rings of the recurrences: balls (`K`) and jets of balls (`R_d`). Every
/// operation encloses the exact ring operation for every choice of members of its operands.
pub trait Coef: Clone + Send + Sync {
    /// The ring element `b` (a constant) shaped like `self`.
    fn constant_as(&self, b: &Ball) -> Self;
    fn add(&self, o: &Self) -> Self;
    fn sub(&self, o: &Self) -> Self;
    /// The (truncated) product.
    fn mul(&self, o: &Self) -> Self;
    /// The product with a constant.
    fn scale(&self, b: &Ball) -> Self;
    fn mul_int(&self, k: i64) -> Self;
    fn div_int(&self, k: i64) -> Self;
    /// The activation's state variables `u_i(z)` at `z = self` ([`states_of`]).
    fn states0(act: Activation, z: &Self, c: &Consts) -> Vec<Self>;
}

/// Constants of the activations: `2/sqrt(pi)` (erf), `1/sqrt 2` and `1/sqrt(2 pi)` (gelu).
pub struct Consts {
    two_over_sqrt_pi: Ball,
    gelu: series::GeluConstants,
}

impl Consts {
    pub fn new() -> Consts {
        Consts { two_over_sqrt_pi: series::two_over_sqrt_pi(), gelu: series::gelu_constants() }
    }
}

impl Default for Consts {
    fn default() -> Self {
        Self::new()
    }
}

impl Coef for Ball {
    fn constant_as(&self, b: &Ball) -> Self {
        b.clone()
    }
    fn add(&self, o: &Self) -> Self {
        Ball::add(self, o)
    }
    fn sub(&self, o: &Self) -> Self {
        Ball::sub(self, o)
    }
    fn mul(&self, o: &Self) -> Self {
        Ball::mul(self, o)
    }
    fn scale(&self, b: &Ball) -> Self {
        Ball::mul(self, b)
    }
    fn mul_int(&self, k: i64) -> Self {
        Ball::mul_int(self, k)
    }
    fn div_int(&self, k: i64) -> Self {
        Ball::div_int(self, k)
    }
    /// The monotone / one-evaluation enclosures of `proofs/checker.md`, "Ball arithmetic".
    fn states0(act: Activation, z: &Self, c: &Consts) -> Vec<Self> {
        use series::{erf_dir, exp_dir, increasing, sigmoid_dir, softplus_dir};
        match act {
            Activation::Identity => vec![z.clone()],
            Activation::Tanh => vec![series::tanh_ball(z)],
            Activation::Sigmoid => vec![increasing(z, sigmoid_dir)],
            Activation::Softplus => vec![increasing(z, softplus_dir), increasing(z, sigmoid_dir)],
            Activation::Erf => vec![increasing(z, erf_dir), increasing(&z.sqr().neg(), exp_dir)],
            Activation::Sin => {
                let (s, co) = series::sin_cos_ball(z);
                vec![s, co]
            }
            Activation::Gelu => {
                let e = increasing(&z.sqr().neg().div_int(2), exp_dir).mul(&c.gelu.inv_sqrt_2pi);
                let p = increasing(&z.mul(&c.gelu.inv_sqrt_2), erf_dir).add(&Ball::exact(1.0)).div_int(2);
                vec![z.mul(&p), p, e]
            }
        }
    }
}

impl Jet {
    /// The constant jet `b` of degree `d`.
    pub fn constant(b: &Ball, d: usize) -> Jet {
        let mut v = vec![Ball::zero(); d + 1];
        v[0] = b.clone();
        Jet(v)
    }
    /// `sum_{r in range} self[r]` (Lemma MM: the model's value or gradient from the jet).
    fn sum(&self, upto: usize) -> Ball {
        self.sum_from(0, upto)
    }
    /// `sum_{from <= r <= upto} self[r]`: with `from = 1` the model's increment `h_Q(w) - h(w0)`
    /// summed without the constant part (Lemma MM).
    fn sum_from(&self, from: usize, upto: usize) -> Ball {
        let mut acc = Ball::zero();
        for b in self.0.iter().take(upto + 1).skip(from) {
            acc = acc.add(b);
        }
        acc
    }
}

impl Coef for Jet {
    fn constant_as(&self, b: &Ball) -> Self {
        Jet::constant(b, self.0.len() - 1)
    }
    fn add(&self, o: &Self) -> Self {
        Jet(self.0.iter().zip(&o.0).map(|(a, b)| a.add(b)).collect())
    }
    fn sub(&self, o: &Self) -> Self {
        Jet(self.0.iter().zip(&o.0).map(|(a, b)| a.sub(b)).collect())
    }
    /// The Cauchy product `c[r] = sum_{j<=r} a[j] b[r-j]` (one `dot_acc` per coefficient).
    fn mul(&self, o: &Self) -> Self {
        Jet((0..self.0.len())
            .map(|r| {
                let mut acc = Ball::zero();
                dot_acc(&mut acc, (0..=r).map(|j| (&self.0[j], &o.0[r - j])));
                acc
            })
            .collect())
    }
    fn scale(&self, b: &Ball) -> Self {
        Jet(self.0.iter().map(|a| a.mul(b)).collect())
    }
    fn mul_int(&self, k: i64) -> Self {
        Jet(self.0.iter().map(|a| a.mul_int(k)).collect())
    }
    fn div_int(&self, k: i64) -> Self {
        Jet(self.0.iter().map(|a| a.div_int(k)).collect())
    }
    /// Lemma MJ: the composition `f(z(eps))` truncated at `eps^d`, by the same recurrences in
    /// `eps` over balls ([`ActSeries`] with `K` coefficients).
    fn states0(act: Activation, z: &Self, c: &Consts) -> Vec<Self> {
        let mut s = ActSeries::<Ball>::default();
        for zr in &z.0 {
            s.push(act, zr.clone(), c);
        }
        s.u.into_iter().map(Jet).collect()
    }
}

/// The number of state variables of an activation's system (`proofs/checker.md`, Lemma MJ).
fn states_of(act: Activation) -> usize {
    match act {
        Activation::Identity | Activation::Tanh | Activation::Sigmoid => 1,
        Activation::Softplus | Activation::Erf | Activation::Sin => 2,
        Activation::Gelu => 3,
    }
}

/// Coefficient `m` of `a * b` for two series (orders `0..=m` present).
fn cauchy<C: Coef>(a: &[C], b: &[C], m: usize) -> C {
    let mut acc = a[0].mul(&b[m]);
    for j in 1..=m {
        acc = acc.add(&a[j].mul(&b[m - j]));
    }
    acc
}

/// Along a series `z` (in time or in `eps`), the state variables `u_i` of the activation's
/// system `u_i' = g_i(u, z) z'` (`u_0 = sigma(z)`, `g_0 = sigma'(z)`) and the slopes `g_i`, order
/// by order (`proofs/checker.md`, Lemma MJ): tanh `g = 1 - y^2`; sigmoid `y - y^2`; softplus
/// `(p, p - p^2)`, `p = sigmoid(z)`; erf `((2/sqrt pi) e, -2 z e)`, `e = exp(-z^2)`; sin `(c, -y)`,
/// `c = cos z`; gelu `u = (y, P, E)`, `g = (P + z E, E, -z E)`, `P = Phi(z)`, `E = phi(z)`;
/// identity `g = 1`.
pub struct ActSeries<C> {
    pub z: Vec<C>,
    jz: Vec<C>,
    /// `u[i][k]`.
    pub u: Vec<Vec<C>>,
    /// `g[i][k]`.
    pub g: Vec<Vec<C>>,
}

impl<C> Default for ActSeries<C> {
    fn default() -> Self {
        ActSeries { z: Vec::new(), jz: Vec::new(), u: Vec::new(), g: Vec::new() }
    }
}

impl<C: Coef> ActSeries<C> {
    /// Appends order `k = z.len()` given `z[k]`: `u_i[0] = states0(z[0])`,
    /// `u_i[k] = (1/k) sum_{j=1}^k (j z[j]) g_i[k-j]` (`k >= 1`), then `g_i[k]`.
    pub fn push(&mut self, act: Activation, zk: C, c: &Consts) {
        let k = self.z.len();
        self.jz.push(zk.mul_int(k as i64));
        self.z.push(zk);
        if k == 0 {
            let u0 = C::states0(act, &self.z[0], c);
            self.u = u0.into_iter().map(|x| vec![x]).collect();
            self.g = vec![Vec::new(); states_of(act)];
        } else {
            for i in 0..self.u.len() {
                let mut acc = self.jz[1].mul(&self.g[i][k - 1]);
                for j in 2..=k {
                    acc = acc.add(&self.jz[j].mul(&self.g[i][k - j]));
                }
                self.u[i].push(acc.div_int(k as i64));
            }
        }
        for i in 0..self.u.len() {
            let gk = self.slope(act, i, k, c);
            self.g[i].push(gk);
        }
    }

    /// Coefficient `k` of `g_i` from `u[..][0..=k]` and `z[0..=k]`.
    fn slope(&self, act: Activation, i: usize, k: usize, c: &Consts) -> C {
        let (u, z) = (&self.u, &self.z);
        let one = z[0].constant_as(&Ball::exact(if k == 0 { 1.0 } else { 0.0 }));
        match (act, i) {
            (Activation::Identity, _) => one,
            (Activation::Tanh, _) => one.sub(&cauchy(&u[0], &u[0], k)),
            (Activation::Sigmoid, _) => u[0][k].sub(&cauchy(&u[0], &u[0], k)),
            (Activation::Softplus, _) => {
                if i == 0 {
                    u[1][k].clone()
                } else {
                    u[1][k].sub(&cauchy(&u[1], &u[1], k))
                }
            }
            (Activation::Erf, 0) => u[1][k].scale(&c.two_over_sqrt_pi),
            (Activation::Erf, _) => cauchy(z, &u[1], k).mul_int(-2),
            (Activation::Sin, 0) => u[1][k].clone(),
            (Activation::Sin, _) => u[0][k].mul_int(-1),
            (Activation::Gelu, 0) => u[1][k].add(&cauchy(z, &u[2], k)),
            (Activation::Gelu, 1) => u[2][k].clone(),
            (Activation::Gelu, _) => cauchy(z, &u[2], k).mul_int(-1),
        }
    }
}

/// The order-`Q` model's flow in the checker: `w' = F_Q(w) = -(1/alpha) Dh_Q(w)^T r_Q(w) -
/// lambda (w - w0)`, `r_Q = alpha (h_Q(w) - offset) - y`, and Lemma MB's `beta_k` at `w0`.
pub struct ModelFlow<'a> {
    pub net: &'a Mlp,
    /// `Q`.
    pub order: usize,
    /// The balls of `w0` (the expansion point; its enclosure enters every jet).
    pub w0: Vec<Ball>,
    pub alpha: Ball,
    pub inv_alpha: Ball,
    pub targets: Vec<Ball>,
    pub offset: Option<Vec<Ball>>,
    pub penalty: Option<Ball>,
    pub consts: Consts,
    /// `beta[i][k-1] >= sup_{|u|=1} |D^k h_i(w0)[u^k]|_2`, `k = 1..=Q` (Lemma MB).
    pub beta: Vec<Vec<f64>>,
}

/// The per-input series of one pass (time coefficients of jets).
#[derive(Default)]
struct InputPass {
    /// `z[l-1][k][unit]`.
    z: Vec<Vec<Vec<Jet>>>,
    /// `act[l-1][unit]` (hidden layers).
    act: Vec<Vec<ActSeries<Jet>>>,
    /// `delta[l-1][k][unit]`.
    delta: Vec<Vec<Vec<Jet>>>,
    /// `e[l-1][k][unit]`: the cotangent of `a_l` (hidden layers).
    e: Vec<Vec<Vec<Jet>>>,
}

/// What a model pass computed (as `series::Pass`).
struct ModelPass {
    w: Vec<Vec<Ball>>,
    out: Vec<Vec<Ball>>,
    field: Vec<Vec<Ball>>,
    residual0: Vec<Ball>,
}

/// Where the path's next coefficient comes from.
enum Next {
    Point,
    Given(std::vec::IntoIter<Vec<Ball>>),
    /// No field (order 0 only).
    Nothing,
}

/// Adds part `r` of `(a0 + eps a1) x` to `dots[r]` for every part of `x` (`a0 = None` is 0):
/// `a0 x[r] + a1 x[r-1]` (a weight's jet times a jet; Lemma MM).
fn add_line_times(dots: &mut [Dot], a0: Option<&Ball>, a1: &Ball, x: &Jet) {
    for (r, dot) in dots.iter_mut().enumerate() {
        if let Some(a0) = a0 {
            dot.add(a0, &x.0[r]);
        }
        if r >= 1 {
            dot.add(a1, &x.0[r - 1]);
        }
    }
}

impl ModelFlow<'_> {
    /// The weight jets of time order `k` at parameter `idx`: `(w0 [k = 0], w[k] - w0 [k = 0])`
    /// (Lemma MM: the path `w0 + eps (w(s) - w0)`); `slope0` is `w[0] - w0`, formed once per pass.
    fn weight<'b>(&'b self, w: &'b [Vec<Ball>], slope0: &'b [Ball], k: usize, idx: usize) -> (Option<&'b Ball>, &'b Ball) {
        if k == 0 {
            (Some(&self.w0[idx]), &slope0[idx])
        } else {
            (None, &w[k][idx])
        }
    }

    /// Forward order `k` of input `i`: the output jets `z_L[k]`.
    fn forward(&self, st: &mut InputPass, w: &[Vec<Ball>], slope0: &[Ball], i: usize, k: usize) -> Vec<Jet> {
        let m = self.net;
        let d = self.order;
        let layers = m.widths.len() - 1;
        if k == 0 {
            st.z = vec![Vec::new(); layers];
            st.act = (1..layers).map(|l| (0..m.widths[l]).map(|_| ActSeries::default()).collect()).collect();
            st.delta = vec![Vec::new(); layers];
            st.e = vec![Vec::new(); layers];
        }
        for l in 1..=layers {
            let (din, dout) = (m.widths[l - 1], m.widths[l]);
            let zk: Vec<Jet> = (0..dout)
                .map(|o| {
                    // Part r of sum_{j, v} (W0 + eps U)[j] x[k-j]: one exact dot product per part
                    // (the weights' jets are lines: a0 x[r] + a1 x[r-1]).
                    let mut acc = Jet::constant(&Ball::zero(), d);
                    with_dots(d + 1, |dots| {
                        for j in 0..=k {
                            if l == 1 && j != k {
                                continue; // a_0 = x is constant in time and eps
                            }
                            for v in 0..din {
                                let (a0, a1) = self.weight(w, slope0, j, m.w_off[l - 1] + o * din + v);
                                if l == 1 {
                                    let x = &m.inputs[i * din + v];
                                    if let Some(a0) = a0 {
                                        dots[0].add(a0, x);
                                    }
                                    dots[1].add(a1, x);
                                } else {
                                    add_line_times(dots, a0, a1, &st.act[l - 2][v].u[0][k - j]);
                                }
                            }
                        }
                        for (dot, part) in dots.iter_mut().zip(acc.0.iter_mut()) {
                            dot.finish(part);
                        }
                    });
                    acc = acc.scale(&m.scales[l - 1]);
                    if m.bias {
                        let (b0, b1) = self.weight(w, slope0, k, m.b_off[l - 1] + o);
                        let mut bj = Jet::constant(&Ball::zero(), d);
                        if let Some(b0) = b0 {
                            bj.0[0] = b0.clone();
                        }
                        if d >= 1 {
                            bj.0[1] = b1.clone();
                        }
                        acc = acc.add(&bj);
                    }
                    acc
                })
                .collect();
            if l < layers {
                for (u, z) in zk.iter().enumerate() {
                    st.act[l - 1][u].push(m.acts[l - 1], z.clone(), &self.consts);
                }
            }
            st.z[l - 1].push(zk);
        }
        st.z[layers - 1][k].clone()
    }

    /// Backward order `k` of input `i` with the cotangent coefficient `rk` (constant in
    /// `eps`): the contribution `sum_{r<Q} [eps^r] (Dh(w0 + eps v)^T r)[k]` to every parameter.
    fn backward(&self, st: &mut InputPass, w: &[Vec<Ball>], slope0: &[Ball], i: usize, k: usize, rk: &[Ball]) -> Vec<Ball> {
        let m = self.net;
        let d = self.order;
        let top = d - 1;
        let layers = m.widths.len() - 1;
        let mut grad = vec![Ball::zero(); m.p];
        st.delta[layers - 1].push(rk.iter().map(|r| Jet::constant(r, d)).collect());
        for l in (1..=layers).rev() {
            let (din, dout) = (m.widths[l - 1], m.widths[l]);
            let c = &m.scales[l - 1];
            for o in 0..dout {
                for v in 0..din {
                    // sum_{r <= Q-1} [eps^r] sum_j delta[j] a[k-j]: the pairs of parts with
                    // r1 + r2 <= Q - 1, in one exact dot product.
                    let mut acc = Ball::zero();
                    with_dots(1, |dots| {
                        for j in 0..=k {
                            if l == 1 && j != k {
                                continue;
                            }
                            let delta = &st.delta[l - 1][j][o];
                            if l == 1 {
                                for r1 in 0..=top {
                                    dots[0].add(&delta.0[r1], &m.inputs[i * din + v]);
                                }
                            } else {
                                let a = &st.act[l - 2][v].u[0][k - j];
                                for r1 in 0..=top {
                                    for r2 in 0..=top - r1 {
                                        dots[0].add(&delta.0[r1], &a.0[r2]);
                                    }
                                }
                            }
                        }
                        dots[0].finish(&mut acc);
                    });
                    grad[m.w_off[l - 1] + o * din + v] = acc.mul(c);
                }
                if m.bias {
                    grad[m.b_off[l - 1] + o] = st.delta[l - 1][k][o].sum(top);
                }
            }
            if l == 1 {
                break;
            }
            let ek: Vec<Jet> = (0..din)
                .map(|v| {
                    // Part r of sum_{j, o} (W0 + eps U)[j] delta[k-j]: one exact dot per part.
                    let mut acc = Jet::constant(&Ball::zero(), d);
                    with_dots(d + 1, |dots| {
                        for j in 0..=k {
                            for o in 0..dout {
                                let (a0, a1) = self.weight(w, slope0, j, m.w_off[l - 1] + o * din + v);
                                add_line_times(dots, a0, a1, &st.delta[l - 1][k - j][o]);
                            }
                        }
                        for (dot, part) in dots.iter_mut().zip(acc.0.iter_mut()) {
                            dot.finish(part);
                        }
                    });
                    acc.scale(c)
                })
                .collect();
            st.e[l - 2].push(ek);
            let dk: Vec<Jet> = (0..din)
                .map(|v| {
                    let s = &st.act[l - 2][v].g[0];
                    let mut acc = s[0].mul(&st.e[l - 2][k][v]);
                    for j in 1..=k {
                        acc = acc.add(&s[j].mul(&st.e[l - 2][k - j][v]));
                    }
                    acc
                })
                .collect();
            st.delta[l - 2].push(dk);
        }
        grad
    }

    /// Coefficient `k` of the residual of outputs `first..`: `alpha h_Q[k]` for `k >= 1`; at
    /// `k = 0` `alpha (h_Q[0] - offset) - y`, which for the centred model (`offset = h(w0)`,
    /// the jets' constant part) is `alpha increment - y` with `increment = h_Q(w) - h(w0)` the
    /// output jets' parts `1..=Q` (`increments`), summed without `h(w0)`: the two separately
    /// rounded enclosures of `h(w0)` no longer enter (as the certifier's `Chunk::residual0`).
    fn residual(&self, hk: &[Ball], increments: &[Ball], k: usize, first: usize) -> Vec<Ball> {
        hk.iter()
            .enumerate()
            .map(|(o, h)| {
                if k > 0 {
                    return self.alpha.mul(h);
                }
                let g = match &self.offset {
                    Some(_) => increments[o].clone(),
                    None => h.clone(),
                };
                self.alpha.mul(&g).sub(&self.targets[first + o])
            })
            .collect()
    }

    /// Proof: `proofs/checker.md`, "The order-Q model" (Lemma MM).
    /// A pass from `start` up to time order `top`: per order `k`, the outputs `h_Q[k]`
    /// (input-major) and, unless `next` is `Nothing`, the field `F_Q[k]`, then the path's next
    /// coefficient (the midpoint of `F_Q[k]/(k+1)` for `Point`, read for `Given`).
    fn pass(&self, start: Vec<Ball>, mut next: Next, top: usize) -> ModelPass {
        let m = self.net;
        let od = *m.widths.last().unwrap();
        let field_on = !matches!(next, Next::Nothing);
        let mut states: Vec<InputPass> = (0..m.n).map(|_| InputPass::default()).collect();
        // The slopes of the order-0 weight jets, `w[0] - w0` (Lemma MM), formed once.
        let slope0: Vec<Ball> = start.iter().zip(&self.w0).map(|(x, x0)| x.sub(x0)).collect();
        let mut res = ModelPass { w: vec![start], out: Vec::new(), field: Vec::new(), residual0: Vec::new() };
        for k in 0..=top {
            let w = &res.w;
            let per_input: Vec<(Vec<Ball>, Vec<Ball>, Vec<Ball>)> = states
                .par_iter_mut()
                .enumerate()
                .map(|(i, st)| {
                    let zl = self.forward(st, w, &slope0, i, k);
                    let hk: Vec<Ball> = zl.iter().map(|j| j.sum(self.order)).collect();
                    let increments: Vec<Ball> = if k == 0 { zl.iter().map(|j| j.sum_from(1, self.order)).collect() } else { Vec::new() };
                    if !field_on {
                        return (hk, increments, Vec::new());
                    }
                    let rk = self.residual(&hk, &increments, k, i * od);
                    let g = self.backward(st, w, &slope0, i, k, &rk);
                    if k == 0 {
                        return (hk, increments, [rk, g].concat());
                    }
                    (hk, increments, g)
                })
                .collect();
            let mut hk = Vec::with_capacity(m.n * od);
            let mut increments = Vec::with_capacity(m.n * od);
            let mut grad = vec![Ball::zero(); m.p];
            for (h, inc, g) in per_input {
                hk.extend(h);
                increments.extend(inc);
                if field_on {
                    let g = if k == 0 {
                        res.residual0.extend_from_slice(&g[..od]);
                        &g[od..]
                    } else {
                        &g[..]
                    };
                    for (a, b) in grad.iter_mut().zip(g) {
                        *a = a.add(b);
                    }
                }
            }
            if !field_on {
                res.residual0 = self.residual(&hk, &increments, 0, 0);
            }
            res.out.push(hk);
            if !field_on {
                continue;
            }
            let fk: Vec<Ball> = grad
                .iter()
                .enumerate()
                .map(|(p, g)| {
                    let mut f = g.mul(&self.inv_alpha).neg();
                    if let Some(l) = &self.penalty {
                        let dw = if k == 0 { res.w[0][p].sub(&self.w0[p]) } else { res.w[k][p].clone() };
                        f = f.sub(&l.mul(&dw));
                    }
                    f
                })
                .collect();
            match &mut next {
                Next::Point => {
                    let nxt = fk.iter().map(|f| Ball { m: f.div_int(k as i64 + 1).m, r: 0.0 }).collect();
                    res.w.push(nxt);
                }
                Next::Given(it) => {
                    if let Some(nxt) = it.next() {
                        res.w.push(nxt);
                    }
                }
                _ => {}
            }
            res.field.push(fk);
        }
        res
    }

    /// The point path of the model's flow from the exact point `centre` (as
    /// `FlowData::point_path`; `proofs/checker.md`, Lemma 0 with Lemma MM).
    pub fn point_path(&self, centre: Vec<Ball>, order: usize) -> PointPath {
        let pass = self.pass(centre, Next::Point, order);
        PointPath { p: pass.w, field: pass.field, out: pass.out }
    }

    /// Along the coefficient boxes `(W_0, ..., W_top)`: the coefficients `top` of `F_Q` and
    /// `h_Q`, and the residual `r_Q` over `W_0` (as `FlowData::along`; no hidden activations).
    pub fn along(&self, path: Vec<Vec<Ball>>) -> Along {
        let top = path.len() - 1;
        let mut it = path.into_iter();
        let start = it.next().expect("a path has a coefficient 0");
        let mut pass = self.pass(start, Next::Given(it), top);
        Along { field: pass.field.pop().expect("order top"), out: pass.out.pop().expect("order top"), residual0: pass.residual0, hidden0: Vec::new() }
    }

    /// The residual `r_Q(w)` for every `w` in the box (an order-0 pass).
    pub fn over_box(&self, wbox: Vec<Ball>) -> Vec<Ball> {
        self.pass(wbox, Next::Nothing, 0).residual0
    }

    /// Proof: `proofs/checker.md`, "The order-Q model" (Lemma MG).
    /// Per input, `G_i >= |Dh_{Q,i}(w)|` and `M_i >= sup_{|u|=1} |D^2 h_{Q,i}(w)[u, u]|` for every
    /// `w` in the box: `sum_{r<Q} beta_{r+1} V^r / r!` and `sum_{r<Q-1} beta_{r+2} V^r / r!` with
    /// `V = norm2_upper(box - w0)`.
    pub fn bounds_over(&self, wbox: &[Ball]) -> DerivativeBounds {
        let diff: Vec<Ball> = wbox.iter().zip(&self.w0).map(|(a, b)| a.sub(b)).collect();
        let v = norm2_upper(&diff);
        let q = self.order;
        let series_at = |beta: &[f64], from: usize| -> f64 {
            // sum_{r=0}^{Q-from} beta_{r+from} V^r / r!
            let mut acc = 0.0;
            let mut term = 1.0; // V^r / r! rounded up
            for r in 0..=(q - from) {
                if r > 0 {
                    term = up(up(term * v) / r as f64);
                }
                acc = up(acc + up(beta[r + from - 1] * term));
            }
            if acc.is_nan() {
                f64::INFINITY
            } else {
                acc
            }
        };
        DerivativeBounds { gradient: self.beta.iter().map(|b| series_at(b, 1)).collect(), hessian: self.beta.iter().map(|b| series_at(b, 2)).collect() }
    }

    /// Proof: `proofs/checker.md`, "The order-Q model" (Lemma MG; Lemma 3 with the crude form).
    /// `mu >= lambda_max(-Hess F_Q)` (before the penalty) over the box with the residual
    /// `residual` of the model over it: `|r_Q| M_Q / alpha`, and the bounds.
    pub fn mu_over(&self, wbox: &[Ball], residual: &[Ball], inv_alpha_up: f64) -> (f64, DerivativeBounds) {
        let b = self.bounds_over(wbox);
        (up(norm2_upper(residual) * b.hessian_total() * inv_alpha_up), b)
    }
}

/// Proof: `proofs/checker.md`, "The order-Q model" (Lemma MB).
/// `beta[i][k-1] >= sup_{|u|=1} |D^k h_i(w)[u^k]|_2` for every `w` in the box `w0`, every input
/// `i` and `k = 1..=q`, by the majorant series `Z2`, `Zinf`, `A` of Lemma MB.
pub fn derivative_norms(m: &Mlp, w0: &[Ball], q: usize, c: &Consts) -> Vec<Vec<f64>> {
    let layers = m.widths.len() - 1;
    let bias = if m.bias { 1.0 } else { 0.0 };
    let cs: Vec<f64> = m.scales.iter().map(|x| x.abs_upper()).collect();
    let big: Vec<f64> = (1..=layers).map(|l| super::layered::spectral_upper(&w0[m.w_off[l - 1]..m.w_off[l - 1] + m.widths[l] * m.widths[l - 1]], m.widths[l], m.widths[l - 1])).collect();
    let small: Vec<f64> = (1..=layers)
        .map(|l| {
            let din = m.widths[l - 1];
            (0..m.widths[l]).map(|o| norm2_upper(&w0[m.w_off[l - 1] + o * din..m.w_off[l - 1] + (o + 1) * din])).fold(0.0, max_nan)
        })
        .collect();
    (0..m.n)
        .into_par_iter()
        .map(|i| {
            let mut a: Vec<Ball> = m.inputs[i * m.widths[0]..(i + 1) * m.widths[0]].to_vec();
            let mut big_a = vec![0.0f64; q + 1];
            big_a[0] = norm2_upper(&a);
            for l in 1..=layers {
                let (din, dout) = (m.widths[l - 1], m.widths[l]);
                let (z2, zinf) = z_majorants(&big_a, cs[l - 1], big[l - 1], small[l - 1], bias, q);
                if l == layers {
                    let mut fact = 1.0;
                    return (1..=q)
                        .map(|k| {
                            fact *= k as f64; // exact: k! <= 24
                            up(fact * z2[k])
                        })
                        .collect();
                }
                // Pre-activations over the box, then the activations and s_{l,m}.
                let z: Vec<Ball> = (0..dout)
                    .map(|o| {
                        let mut acc = Ball::zero();
                        dot_acc(&mut acc, w0[m.w_off[l - 1] + o * din..m.w_off[l - 1] + (o + 1) * din].iter().zip(&a));
                        let mut acc = acc.mul(&m.scales[l - 1]);
                        if m.bias {
                            acc = acc.add(&w0[m.b_off[l - 1] + o]);
                        }
                        acc
                    })
                    .collect();
                let mut s = vec![0.0f64; q + 1];
                let mut next = Vec::with_capacity(dout);
                for zj in &z {
                    let mut ser = ActSeries::<Ball>::default();
                    for r in 0..=q {
                        let zr = match r {
                            0 => zj.clone(),
                            1 => Ball::exact(1.0),
                            _ => Ball::zero(),
                        };
                        ser.push(m.acts[l - 1], zr, c);
                    }
                    for (r, sr) in s.iter_mut().enumerate().skip(1) {
                        *sr = max_nan(*sr, ser.u[0][r].abs_upper());
                    }
                    next.push(ser.u[0][0].clone());
                }
                a = next;
                big_a = activation_majorants(norm2_upper(&a), &s, &z2, &zinf, q);
            }
            unreachable!("the last layer returns")
        })
        .collect()
}

/// `max` that turns a NaN into `+inf`.
fn max_nan(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::INFINITY
    } else {
        a.max(b)
    }
}

/// Lemma MB: `Z2_r`, `Zinf_r` (`r = 1..=q`; index 0 unused, 0) from `A_{l-1,r}`.
fn z_majorants(a: &[f64], c: f64, big: f64, small: f64, bias: f64, q: usize) -> (Vec<f64>, Vec<f64>) {
    let mut z2 = vec![0.0; q + 1];
    let mut zinf = vec![0.0; q + 1];
    for r in 1..=q {
        let d = if r == 1 { up(up(up(up(c * c) * up(a[0] * a[0])) + bias).sqrt()) } else { up(c * a[r - 1]) };
        z2[r] = up(up(up(c * big) * a[r]) + d);
        zinf[r] = z2[r].min(up(up(up(c * small) * a[r]) + d));
        if z2[r].is_nan() {
            z2[r] = f64::INFINITY;
            zinf[r] = f64::INFINITY;
        }
    }
    (z2, zinf)
}

/// Lemma MB: `A_{l,0} = a0`, `A_{l,r} = sum_{m=1}^r s_m [eps^r] (Z2 Zinf^{m-1})` (series of
/// non-negative upper bounds, products rounded up).
fn activation_majorants(a0: f64, s: &[f64], z2: &[f64], zinf: &[f64], q: usize) -> Vec<f64> {
    let mut out = vec![0.0; q + 1];
    out[0] = a0;
    let mut pw = z2.to_vec(); // Z2 Zinf^{m-1}, coefficient 0 is 0
    for m in 1..=q {
        for r in 1..=q {
            out[r] = up(out[r] + up(s[m] * pw[r]));
        }
        let mut nxt = vec![0.0; q + 1];
        for r in 1..=q {
            let terms: Vec<f64> = (1..r).map(|j| up(pw[j] * zinf[r - j])).collect();
            nxt[r] = up_n(terms.iter().sum::<f64>(), terms.len().max(1));
        }
        pw = nxt;
    }
    out.iter().map(|x| if x.is_nan() { f64::INFINITY } else { *x }).collect()
}


#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::series::{FlowData, Net};

    /// Lemma MM against the checker's network pass: for a two-layer linear network (identity
    /// activation, `h` of degree 2 in `w`), `h_Q = h` for `Q = 2, 3`, so the model's point path
    /// from a point away from `w0` has field and output balls meeting the network's (the same
    /// reals); for tanh they differ at order 0 by far more than the radii (`h_2 != h`).
    #[test]
    fn model_equals_network_when_h_is_its_own_taylor_polynomial() {
        let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        for (act, q, equal) in [("identity", 2usize, true), ("identity", 3, true), ("tanh", 2, false)] {
            let text = std::fs::read_to_string(root.join("specs/bench/gf-mlp-small.toml")).unwrap().replace("activation = \"tanh\"", &format!("activation = \"{act}\""));
            let loaded = crate::spec::load_str(&text, std::path::Path::new("."), "t.toml").unwrap();
            let pb = &loaded.problem;
            let net = Net::new(pb).unwrap();
            let Net::Mlp(m) = &net else { panic!("an MLP") };
            let w0: Vec<Ball> = pb.params0.iter().map(|x| Ball::exact(x.inf())).collect();
            let start: Vec<Ball> = w0.iter().enumerate().map(|(i, b)| Ball::exact(b.m.to_f64() + 0.05 * ((i % 5) as f64 - 2.0))).collect();
            let targets: Vec<Ball> = pb.targets.iter().map(|y| Ball::from_interval(y.inf(), y.sup())).collect();
            let flow = FlowData { net: &net, alpha: Ball::exact(2.0), inv_alpha: Ball::exact(0.5), targets: targets.clone(), offset: None, penalty: None, displacement: None };
            let consts = Consts::new();
            let beta = derivative_norms(m, &w0, q, &consts);
            let mf = ModelFlow { net: m, order: q, w0: w0.clone(), alpha: Ball::exact(2.0), inv_alpha: Ball::exact(0.5), targets, offset: None, penalty: None, consts, beta };
            let a = flow.point_path(start.clone(), 4);
            let b = mf.pass(start, Next::Given(a.p[1..].to_vec().into_iter()), 4);
            let meets = |x: &Ball, y: &Ball| rug::Float::with_val(PREC_T, &x.m - &y.m).abs().to_f64() <= x.r + y.r + 1e-30;
            let mut all = true;
            for k in 0..=4 {
                for (x, y) in a.field[k].iter().zip(&b.field[k]).chain(a.out[k].iter().zip(&b.out[k])) {
                    assert!(x.r < 1e-12 && y.r < 1e-12, "{act}: radii {x:?} {y:?}");
                    all &= meets(x, y);
                }
            }
            assert_eq!(all, equal, "{act}, Q = {q}");
        }
    }
    const PREC_T: u32 = 256;
}
