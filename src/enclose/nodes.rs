//! Interpolation at nodes with a certified error: the constants of the step validation at
//! nodes (`enclose::tube`, `proofs/tube-integrator.md`, "Validation at nodes", Lemma N).
//!
//! A step `[0, H]` is sampled at the nodes `x_j = H t_j` (`t_j` in `[0, 1]`, fixed floats near
//! the Gauss-Legendre points). For a function `f` analytic on the closed disc
//! `|z - H/2| <= rho H` and bounded there by `M` on its boundary, Hermite's formula gives, for
//! `s` in `[0, H]`, `|f(s) - sum_j f(x_j) l_j(s)| <= K M` with the Lagrange basis `l_j` and
//! `K = rho Omega / ((rho - 1/2) prod_j (rho - |t_j - 1/2|))`, `Omega >= max_{[0,1]} |prod_j (u -
//! t_j)|`. All constants are scale-free (they hold for every `H`), computed once by interval
//! arithmetic over a subdivision of `[0, 1]`, rounded up; the Gram matrix of the Lagrange basis
//! (for the integral of the defect) exactly, in rationals.

use crate::arith::fast_interval::FastInterval;
use crate::arith::scalar::Scalar;
use rug::Rational;
use std::sync::OnceLock;

/// The nodes on `[0, 1]` and upper bounds of their interpolation constants.
#[derive(Debug, Clone)]
pub struct NodeRule {
    /// `t_j`, distinct, in `(0, 1)`.
    pub nodes: Vec<f64>,
    /// `c_j >= sum_k |G_jk|`, `G_jk = int_0^1 l_j(u) l_k(u) du` (the Gram matrix of the Lagrange
    /// basis, exact): `int_0^1 |sum_j v_j l_j|^2 <= sum_j c_j |v_j|^2` for vectors `v_j`.
    pub gram_rows: Vec<f64>,
    /// `Lambda >= max_{u in [0,1]} sum_j |l_j(u)|` (the Lebesgue constant).
    pub lebesgue: f64,
    /// `rho`: the disc `|z - 1/2| <= rho` (in units of the step) on which `f` is bounded.
    pub disc_radius: f64,
    /// `K` (see the module documentation).
    pub hermite: f64,
}

/// Pieces of the subdivision of `[0, 1]` (a power of two, so every piece's ends are exact) for
/// `Lambda` and `Omega`: the bounds exceed those of 8192 pieces by under 1%.
const PIECES: usize = 1024;

impl NodeRule {
    /// The rule with `count >= 2` nodes near the Gauss-Legendre points of `[0, 1]` (whose
    /// Lagrange basis is orthogonal, so that `c_j` is about the Gauss weight and `sum_j c_j`
    /// about 1) and the disc radius `disc_radius > 1/2` (in units of the step).
    pub fn new(count: usize, disc_radius: f64) -> NodeRule {
        assert!(count >= 2, "a node rule needs two nodes");
        NodeRule::for_nodes(gauss_legendre_points(count), disc_radius)
    }

    /// The rule with the given distinct nodes in `[0, 1]` (soundness needs nothing else: the
    /// constants are computed for these very floats) and disc radius `disc_radius > 1/2`.
    pub fn for_nodes(nodes: Vec<f64>, disc_radius: f64) -> NodeRule {
        assert!(nodes.len() >= 2 && disc_radius > 0.5, "a node rule needs two nodes and a disc around the step");
        let count = nodes.len();
        let mut lebesgue = 0.0f64;
        let mut omega = 0.0f64;
        for piece in 0..PIECES {
            let u = FastInterval { lo: piece as f64 / PIECES as f64, hi: (piece + 1) as f64 / PIECES as f64 };
            let sum = (0..count).fold(FastInterval::ZERO, |acc, j| acc + FastInterval::point(lagrange_basis(&nodes, j, u).magnitude()));
            lebesgue = lebesgue.max(sum.hi);
            let node_polynomial = nodes.iter().fold(FastInterval::point(1.0), |p, &t| p * (u - FastInterval::point(t)));
            omega = omega.max(node_polynomial.magnitude());
        }
        let rho = FastInterval::point(disc_radius);
        let half = FastInterval::point(0.5);
        // min over the circle of |prod (z - t_j)| >= prod (rho - |t_j - 1/2|).
        let circle_min = nodes.iter().fold(FastInterval::point(1.0), |p, &t| {
            let offset = (FastInterval::point(t) - half).magnitude();
            p * (rho - FastInterval::point(offset))
        });
        let hermite = (rho * FastInterval::point(omega) / ((rho - half) * circle_min)).hi;
        NodeRule { gram_rows: gram_row_sums(&nodes), nodes, lebesgue, disc_radius, hermite }
    }

    /// The rule the integrator uses: 16 nodes near the Gauss-Legendre points, disc radius 2
    /// (the disc reaches `1.5 H` beyond each end of the step), with its constants as computed by
    /// [`NodeRule::for_nodes`] (about 0.1 s in rationals, so stored here; the test
    /// `stored_rule_is_the_computed_one` recomputes them from the stored nodes).
    pub fn default_rule() -> &'static NodeRule {
        static RULE: OnceLock<NodeRule> = OnceLock::new();
        RULE.get_or_init(|| NodeRule {
            nodes: DEFAULT_NODE_BITS.iter().map(|&b| f64::from_bits(b)).collect(),
            gram_rows: DEFAULT_GRAM_ROW_BITS.iter().map(|&b| f64::from_bits(b)).collect(),
            lebesgue: f64::from_bits(DEFAULT_LEBESGUE_BITS),
            disc_radius: DEFAULT_DISC_RADIUS,
            hermite: f64::from_bits(DEFAULT_HERMITE_BITS),
        })
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

/// Floats near the Gauss-Legendre points mapped to `[0, 1]` (Newton's method on the Legendre
/// polynomial in floats: only their distinctness matters for soundness).
fn gauss_legendre_points(count: usize) -> Vec<f64> {
    (0..count)
        .map(|i| {
            let mut x = (std::f64::consts::PI * (i as f64 + 0.75) / (count as f64 + 0.5)).cos();
            for _ in 0..100 {
                // P_count(x) and its derivative by the three-term recurrence.
                let (mut p0, mut p1) = (1.0, x);
                for n in 2..=count {
                    let p2 = ((2 * n - 1) as f64 * x * p1 - (n - 1) as f64 * p0) / n as f64;
                    (p0, p1) = (p1, p2);
                }
                let derivative = count as f64 * (x * p1 - p0) / (x * x - 1.0);
                let next = x - p1 / derivative;
                if next == x {
                    break;
                }
                x = next;
            }
            0.5 - 0.5 * x
        })
        .collect()
}

/// `c_j >= sum_k |int_0^1 l_j l_k|`, from the exact Gram matrix: the nodes are dyadic rationals,
/// so `l_j = prod_{i != j} (u - t_i) / (t_j - t_i)` has rational coefficients and
/// `int_0^1 l_j l_k = sum_{m, n} a_m b_n / (m + n + 1)` is computed exactly, then rounded up.
fn gram_row_sums(nodes: &[f64]) -> Vec<f64> {
    let exact = |x: f64| Rational::from_f64(x).expect("finite node");
    let count = nodes.len();
    let basis: Vec<Vec<Rational>> = (0..count)
        .map(|j| {
            let mut coeffs = vec![Rational::from(1)];
            let mut scale = Rational::from(1);
            for (i, &t) in nodes.iter().enumerate().filter(|&(i, _)| i != j) {
                // coeffs *= (u - t_i)
                let mut next = vec![Rational::from(0); coeffs.len() + 1];
                for (m, c) in coeffs.iter().enumerate() {
                    next[m + 1] += c;
                    next[m] -= Rational::from(c * &exact(t));
                }
                coeffs = next;
                scale *= exact(nodes[j]) - exact(nodes[i]);
            }
            coeffs.into_iter().map(|c| c / &scale).collect()
        })
        .collect();
    // moments[j][n] = sum_m a_m / (m + n + 1) = int_0^1 l_j(u) u^n du.
    let moments: Vec<Vec<Rational>> = basis
        .iter()
        .map(|a| (0..count).map(|n| a.iter().enumerate().map(|(m, c)| Rational::from(c / Rational::from((m + n + 1) as u32))).sum()).collect())
        .collect();
    (0..count)
        .map(|j| {
            let row: Rational = (0..count)
                .map(|k| {
                    let g: Rational = basis[k].iter().zip(&moments[j]).map(|(b, m)| Rational::from(b * m)).sum();
                    g.abs()
                })
                .sum();
            up(&row)
        })
        .collect()
}

/// The smallest f64 at least `x` (`x >= 0`, finite).
fn up(x: &Rational) -> f64 {
    let f = x.to_f64();
    if Rational::from_f64(f).is_some_and(|r| &r >= x) {
        f
    } else {
        f.next_up()
    }
}

/// The integrator's disc radius, in units of the step. Other rules measured on deep-tanh-w128
/// (same 15 steps; width of `sup D` against 16 nodes and radius 2): 12 nodes, radius 3: 4.4x;
/// 12 nodes, radius 4: 1.6x; 14 nodes, radius 3: 0.87x, at 7/8 the node passes of 16.
pub const DEFAULT_DISC_RADIUS: f64 = 2.0;
/// `NodeRule::new(16, 2.0)`'s nodes, Gram row sums, Lebesgue constant and `K`, as f64 bits.
const DEFAULT_NODE_BITS: [u64; 16] = [
    0x3f75b4f66ca1e080, 0x3f9c60a99e906500, 0x3fb132ff2bac6df4, 0x3fbf4ee8896e3654, 0x3fc874b732542e90, 0x3fd157ed32de2c47,
    0x3fd6fd1a8cdee642, 0x3fdcf5a853312ac1, 0x3fe1852bd6676aa0, 0x3fe48172b9908cdf, 0x3fe754096690e9dc, 0x3fe9e2d2336af45c,
    0x3fec1622eed23936, 0x3fedd9a01a8a7242, 0x3fef1cfab30b7cd8, 0x3fefd4961326bc3f,
];
const DEFAULT_GRAM_ROW_BITS: [u64; 16] = [
    0x3f8bcddab4b7c21a, 0x3f9fdfb1a2c1266f, 0x3fa85c4ee79cc261, 0x3fafe7af2bad387c, 0x3fb325f61bca3cc7, 0x3fb5a6ebbb5a7604,
    0x3fb75f8c77e0c018, 0x3fb83feae80e4e06, 0x3fb83feae80e4e0d, 0x3fb75f8c77e0c01d, 0x3fb5a6ebbb5a7619, 0x3fb325f61bca3ccc,
    0x3fafe7af2bad3884, 0x3fa85c4ee79cc279, 0x3f9fdfb1a2c1266d, 0x3f8bcddab4b7c218,
];
const DEFAULT_LEBESGUE_BITS: u64 = 0x401ba4ddba7c4de9;
const DEFAULT_HERMITE_BITS: u64 = 0x3d6351300c8b2f5e;

/// An enclosure of `l_j(u) = prod_{i != j} (u - t_i) / (t_j - t_i)` for every `u` in `u`.
fn lagrange_basis(nodes: &[f64], j: usize, u: FastInterval) -> FastInterval {
    let tj = FastInterval::point(nodes[j]);
    nodes.iter().enumerate().filter(|&(i, _)| i != j).fold(FastInterval::point(1.0), |p, (_, &t)| {
        let ti = FastInterval::point(t);
        p * ((u - ti) / (tj - ti))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Float evaluation of the interpolant of `values` at the rule's nodes, at `u`.
    fn interpolate(rule: &NodeRule, values: &[f64], u: f64) -> f64 {
        let t = &rule.nodes;
        (0..t.len())
            .map(|j| values[j] * (0..t.len()).filter(|&i| i != j).map(|i| (u - t[i]) / (t[j] - t[i])).product::<f64>())
            .sum()
    }

    /// The stored default rule is what `for_nodes` computes (rigorously) for its nodes.
    #[test]
    fn stored_rule_is_the_computed_one() {
        let stored = NodeRule::default_rule();
        let computed = NodeRule::for_nodes(stored.nodes.clone(), stored.disc_radius);
        let fresh = NodeRule::new(16, 2.0).nodes;
        assert!(stored.nodes.iter().zip(&fresh).all(|(a, b)| (a - b).abs() <= 1e-15), "the stored nodes are the Gauss-Legendre points");
        assert_eq!(stored.gram_rows, computed.gram_rows);
        assert_eq!((stored.lebesgue, stored.hermite), (computed.lebesgue, computed.hermite));
    }

    /// The Gram rows are the Gauss weights (the basis is orthogonal at Gauss points) and the
    /// Lebesgue constant bounds what fine sampling sees, within 1%.
    #[test]
    fn constants_bound_what_sampling_sees() {
        let rule = NodeRule::new(16, 2.0);
        let total: f64 = rule.gram_rows.iter().sum();
        assert!((1.0..1.000_001).contains(&total), "{total}");
        // Weights by the midpoint rule on a fine grid.
        let grid = 200_000;
        for j in 0..16 {
            let mut unit = vec![0.0; 16];
            unit[j] = 1.0;
            let squares: f64 = (0..grid).map(|k| interpolate(&rule, &unit, (k as f64 + 0.5) / grid as f64).powi(2)).sum::<f64>() / grid as f64;
            assert!(squares <= rule.gram_rows[j] * (1.0 + 1e-6) && rule.gram_rows[j] <= squares * (1.0 + 1e-4), "{j}: {squares} {}", rule.gram_rows[j]);
        }
        let sampled = (0..=20_000)
            .map(|k| {
                let u = k as f64 / 20_000.0;
                (0..16)
                    .map(|j| {
                        let mut e = vec![0.0; 16];
                        e[j] = 1.0;
                        interpolate(&rule, &e, u).abs()
                    })
                    .sum::<f64>()
            })
            .fold(0.0, f64::max);
        assert!(sampled <= rule.lebesgue && rule.lebesgue < 1.01 * sampled, "{sampled} {}", rule.lebesgue);
    }

    /// `f(u) = 1 / (u - a)` with a pole just outside the disc: the interpolation error on
    /// `[0, 1]` stays below `K M` (plus the float evaluation's noise), with `M` its maximum on
    /// the circle, and not by much.
    #[test]
    fn hermite_bound_holds_and_is_not_slack() {
        for (count, rho) in [(6, 1.0), (8, 1.0), (10, 1.5), (12, 2.0)] {
            let rule = NodeRule::new(count, rho);
            let pole = 0.5 + rho * 1.05;
            let f = |u: f64| 1.0 / (u - pole);
            let values: Vec<f64> = rule.nodes.iter().map(|&t| f(t)).collect();
            let m = 1.0 / (0.05 * rho);
            let worst = (0..=4000).map(|k| k as f64 / 4000.0).map(|u| (f(u) - interpolate(&rule, &values, u)).abs()).fold(0.0, f64::max);
            let bound = rule.hermite * m;
            assert!(worst > 1e-12, "{count} nodes, rho {rho}: the error {worst:e} is float noise; the test needs a larger one");
            assert!(worst <= bound, "{count} nodes, rho {rho}: error {worst:e} above {bound:e}");
            assert!(bound < 1e3 * worst, "{count} nodes, rho {rho}: bound {bound:e} for error {worst:e}");
        }
    }
}
