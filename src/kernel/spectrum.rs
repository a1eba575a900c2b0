//! Certified bounds of the extreme eigenvalues of a symmetric interval (ball) matrix: lower and
//! upper bounds of `lambda_min` and of `lambda_max` valid for every real symmetric matrix in the
//! enclosure, the verdict "positive definite" (`lambda_min >= lo > 0`) and an upper bound of
//! the condition number. Proof: `proofs/infinite-width-kernels.md`, Lemma C.
//!
//! - Lower bound of `lambda_min`: for any real `c` and any real lower-triangular `L`,
//!   `lambda_min(A) >= c - |E|_F` with `E = A - c I - L L^T` (Lemma C(a)). `L` is a plain f64
//!   Cholesky factor of `mid(A) - c I` and `c` a float estimate of `lambda_min` (inverse
//!   iteration) lowered by a small gap until the factorisation runs; only `E` is enclosed, by
//!   one ball matrix product (`arith::gemm`, Lemma G of `proofs/fast-interval.md`).
//! - Upper bound of `lambda_max`: the same applied to `-A`.
//! - Upper bound of `lambda_min` and lower bound of `lambda_max`: Rayleigh quotients
//!   `v^T A v / v^T v` of float vectors, enclosed in balls (Lemma C(b)).

use crate::arith::ball::Ball;
use crate::arith::fast_interval::FastInterval;
use crate::arith::gemm::{ball_gemm_acc, BallMatrix, BallMatrixMut};
use crate::arith::scalar::Scalar;
use crate::enclose::poly::norm2_upper;

/// A closed interval `[lo, hi]` of reals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    pub lo: f64,
    pub hi: f64,
}

/// The certified spectrum bounds of a symmetric interval matrix.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spectrum {
    /// `lambda_min` of every symmetric matrix in the enclosure lies in `[lo, hi]`.
    pub lambda_min: Bounds,
    /// `lambda_max` likewise.
    pub lambda_max: Bounds,
    /// `lambda_min.lo > 0`: every symmetric matrix in the enclosure is positive definite.
    pub positive_definite: bool,
    /// `>= lambda_max / lambda_min` when positive definite (rounded up).
    pub condition_upper: Option<f64>,
}

/// Iterations of the inverse and power iterations (float guesses only).
const ITERATIONS: usize = 40;
/// Attempts at a shift for which the float Cholesky factorisation runs to the end.
const ATTEMPTS: usize = 40;
/// Halvings of the gap between a failed and a successful shift.
const BISECTIONS: usize = 10;

/// The lower-triangular Cholesky factor (row-major) of `s m - c I` (`m` symmetric, `n x n`,
/// only its lower triangle read) in plain f64, or `None` when a pivot is below the rounding
/// level `4 n u max|m|` (a factor with such pivots says nothing about the matrix, and inverse
/// iteration with it overflows).
fn cholesky(m: &[f64], n: usize, sign: f64, c: f64) -> Option<Vec<f64>> {
    let floor = 4.0 * n as f64 * f64::EPSILON * m.iter().fold(0.0f64, |acc, v| acc.max(v.abs()));
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let (ri, rj) = (&l[i * n..i * n + j], &l[j * n..j * n + j]);
            let dot: f64 = ri.iter().zip(rj).map(|(a, b)| a * b).sum();
            let s = sign * m[i * n + j] - if i == j { c } else { 0.0 } - dot;
            if i == j {
                if !(s > floor && s.is_finite()) {
                    return None;
                }
                l[i * n + i] = s.sqrt();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    Some(l)
}

/// `x <- (L L^T)^{-1} x` (plain f64).
fn solve(l: &[f64], n: usize, x: &mut [f64]) {
    for i in 0..n {
        let s: f64 = l[i * n..i * n + i].iter().zip(&x[..i]).map(|(a, b)| a * b).sum();
        x[i] = (x[i] - s) / l[i * n + i];
    }
    for i in (0..n).rev() {
        x[i] /= l[i * n + i];
        let xi = x[i];
        for k in 0..i {
            x[k] -= l[i * n + k] * xi;
        }
    }
}

/// `ITERATIONS` steps of inverse iteration with the factor `l` (stops at the last good iterate
/// if one vanishes or overflows).
fn inverse_iterate(l: &[f64], n: usize, x: &mut Vec<f64>) {
    for _ in 0..ITERATIONS {
        let mut y = x.clone();
        solve(l, n, &mut y);
        if !normalise(&mut y) {
            return;
        }
        *x = y;
    }
}

fn normalise(x: &mut [f64]) -> bool {
    let norm = x.iter().map(|v| v * v).sum::<f64>().sqrt();
    if !(norm > 0.0 && norm.is_finite()) {
        return false;
    }
    x.iter_mut().for_each(|v| *v /= norm);
    true
}

/// `x^T (s m) x / x^T x` in plain f64.
fn rayleigh_float(m: &[f64], n: usize, sign: f64, x: &[f64]) -> f64 {
    let mut num = 0.0;
    for i in 0..n {
        let row: f64 = m[i * n..(i + 1) * n].iter().zip(x).map(|(a, b)| a * b).sum();
        num += x[i] * row;
    }
    sign * num / x.iter().map(|v| v * v).sum::<f64>()
}

/// A start vector with unequal entries (not orthogonal to structured eigenvectors).
fn start(n: usize) -> Vec<f64> {
    (0..n).map(|i| 1.0 + (i as f64 * 0.618_033_988_749_895).fract()).collect()
}

/// The Rayleigh quotient `v^T A v / v^T v` enclosed over every matrix in the ball matrix `a`.
fn rayleigh_enclosure(a: &[Ball], n: usize, v: &[f64]) -> FastInterval {
    let balls: Vec<Ball> = v.iter().map(|&x| Ball::point(x)).collect();
    let image: Vec<Ball> = (0..n).map(|i| Ball::dot(Ball::ZERO, &a[i * n..(i + 1) * n], &balls)).collect();
    Ball::dot(Ball::ZERO, &balls, &image).to_fast() / Ball::dot(Ball::ZERO, &balls, &balls).to_fast()
}

/// `c - |E|_F` rounded down, `E = s A - c I - L L^T` enclosed over the ball matrix `a`
/// (Lemma C(a)): a lower bound of `lambda_min(s A)` for every symmetric `A` in `a`.
fn shifted_lower_bound(a: &[Ball], n: usize, sign: f64, c: f64, l: &[f64]) -> f64 {
    let mut mid = Vec::with_capacity(n * n);
    let mut rad = Vec::with_capacity(n * n);
    for i in 0..n {
        for j in 0..n {
            let mut e = Ball { mid: sign * a[i * n + j].mid, rad: a[i * n + j].rad };
            if i == j {
                e -= Ball::point(c);
            }
            mid.push(e.mid);
            rad.push(e.rad);
        }
    }
    let neg: Vec<f64> = l.iter().map(|v| -v).collect();
    let zeros = vec![0.0; n * n];
    // E += (-L) (L^T); L^T is L read with swapped strides.
    ball_gemm_acc(
        BallMatrix { mid: &neg, rad: &zeros, rows: n, cols: n, rs: n, cs: 1 },
        BallMatrix { mid: l, rad: &zeros, rows: n, cols: n, rs: 1, cs: n },
        BallMatrixMut { mid: &mut mid, rad: &mut rad, rows: n, cols: n, rs: n, cs: 1 },
    );
    let entries: Vec<FastInterval> = mid.iter().zip(&rad).map(|(&m, &r)| Ball { mid: m, rad: r }.to_fast()).collect();
    let residual = norm2_upper(&entries);
    (FastInterval::point(c) - FastInterval::point(residual)).lo
}

/// Lower and upper bounds of `lambda_min(s A)` over the symmetric matrices of `a`
/// (`s = +-1`; `s = -1` gives `-lambda_max(A)`). `guess`: a float estimate of `lambda_min(s
/// mid(A))` with its vector, or `None` to find one by shifted inverse iteration.
fn min_eigenvalue_bounds(a: &[Ball], m: &[f64], n: usize, sign: f64, guess: Option<(f64, Vec<f64>)>) -> Bounds {
    let scale = m.iter().fold(0.0f64, |acc, v| acc.max(v.abs()));
    let frobenius = m.iter().map(|v| v * v).sum::<f64>().sqrt();
    if !(frobenius.is_finite()) || a.iter().any(|b| !(b.rad.is_finite() && b.mid.is_finite())) {
        return Bounds { lo: f64::NEG_INFINITY, hi: f64::INFINITY };
    }
    if scale == 0.0 {
        // Every real matrix in `a` has entries in [-rad, rad]: |lambda| <= |rad|_F.
        let r = norm2_upper(&a.iter().map(|b| b.to_fast()).collect::<Vec<_>>());
        return Bounds { lo: -r, hi: r };
    }
    let rounding = 4.0 * n as f64 * f64::EPSILON * scale;
    let (mut estimate, mut vector) = match guess {
        Some(g) => g,
        None => {
            // A shift with a factor (0 first, then lower), inverse iteration, then once more
            // from a shift just below the estimate (fast convergence there).
            let mut step = rounding.max(scale * 1e-12);
            let mut factor = cholesky(m, n, sign, 0.0);
            while factor.is_none() && step <= 4.0 * frobenius {
                factor = cholesky(m, n, sign, -step);
                step *= 16.0;
            }
            let mut x = start(n);
            if let Some(l) = factor {
                inverse_iterate(&l, n, &mut x);
                // The second round's factor may be poor (a nearly singular shift); every
                // Rayleigh quotient is >= lambda_min, so the smaller one is kept.
                let e = rayleigh_float(m, n, sign, &x);
                if let Some(l) = cholesky(m, n, sign, e - (e.abs() * 1e-3 + 64.0 * rounding)) {
                    let mut y = x.clone();
                    inverse_iterate(&l, n, &mut y);
                    if rayleigh_float(m, n, sign, &y) < e {
                        x = y;
                    }
                }
            }
            (rayleigh_float(m, n, sign, &x), x)
        }
    };
    if !estimate.is_finite() {
        estimate = 0.0;
        vector = start(n);
    }
    // Lower bound: lower the shift below the estimate until the factorisation runs; inverse
    // iteration with that factor (a shift just below lambda_min converges fast) improves the
    // estimate, and the search is repeated from it; then bisect between the last failed and the
    // successful shift. Every shift with a factor gives a valid bound; all this only makes it
    // tighter.
    let search = |estimate: f64| -> Option<(f64, Vec<f64>, f64)> {
        let mut gap = estimate.abs() * 2f64.powi(-32) + rounding;
        let mut failed = estimate;
        for _ in 0..ATTEMPTS {
            let c = estimate - gap;
            if let Some(l) = cholesky(m, n, sign, c) {
                return Some((c, l, failed));
            }
            failed = c;
            gap *= 8.0;
        }
        None
    };
    let mut found = search(estimate);
    if let Some((_, l, _)) = &found {
        let mut y = vector.clone();
        inverse_iterate(l, n, &mut y);
        let better = rayleigh_float(m, n, sign, &y);
        if better < estimate {
            (estimate, vector) = (better, y);
            found = search(estimate).or(found);
        }
    }
    let success = found.map(|(c, l, failed)| (c, l, failed.max(c)));
    let rayleigh_upper = |v: &[f64]| {
        let q = rayleigh_enclosure(a, n, v);
        if sign > 0.0 { q.hi } else { (-q).hi }
    };
    let mut upper = rayleigh_upper(&vector);
    let lower = match success {
        Some((mut c, mut l, mut failed)) => {
            for _ in 0..BISECTIONS {
                let between = 0.5 * c + 0.5 * failed;
                if !(between > c && between < failed) {
                    break;
                }
                match cholesky(m, n, sign, between) {
                    Some(factor) => (c, l) = (between, factor),
                    None => failed = between,
                }
            }
            // The shift is now just below lambda_min: inverse iteration converges fast there.
            inverse_iterate(&l, n, &mut vector);
            upper = upper.min(rayleigh_upper(&vector));
            shifted_lower_bound(a, n, sign, c, &l)
        }
        // |lambda| <= |A|_F for every matrix in `a`.
        None => -norm2_upper(&a.iter().map(|b| b.to_fast()).collect::<Vec<_>>()),
    };
    Bounds { lo: lower, hi: upper.max(lower) }
}

/// Certified bounds of the extreme eigenvalues of every real symmetric matrix in the ball
/// matrix `a` (`n x n`, row-major; it should be symmetric as a set: `a[i][j] = a[j][i]`).
pub fn spectrum(a: &[Ball], n: usize) -> Spectrum {
    assert_eq!(a.len(), n * n, "spectrum: the matrix must be n x n");
    if n == 0 {
        let none = Bounds { lo: 0.0, hi: 0.0 };
        return Spectrum { lambda_min: none, lambda_max: none, positive_definite: false, condition_upper: None };
    }
    // The symmetric float midpoint matrix for the guesses.
    let mut m = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            m[i * n + j] = 0.5 * a[i * n + j].mid + 0.5 * a[j * n + i].mid;
        }
    }
    let lambda_min = min_eigenvalue_bounds(a, &m, n, 1.0, None);
    // lambda_max: power iteration for the guess, then lambda_min of -A.
    let mut x = start(n);
    for _ in 0..3 * ITERATIONS {
        let y: Vec<f64> = (0..n).map(|i| m[i * n..(i + 1) * n].iter().zip(&x).map(|(p, q)| p * q).sum()).collect();
        x = y;
        if !normalise(&mut x) {
            x = start(n);
            break;
        }
    }
    let estimate = rayleigh_float(&m, n, 1.0, &x);
    let negated = min_eigenvalue_bounds(a, &m, n, -1.0, Some((-estimate, x)));
    let lambda_max = Bounds { lo: -negated.hi, hi: -negated.lo };
    let positive_definite = lambda_min.lo > 0.0;
    let condition_upper =
        positive_definite.then(|| (FastInterval::point(lambda_max.hi) / FastInterval::point(lambda_min.lo)).hi);
    Spectrum { lambda_min, lambda_max, positive_definite, condition_upper }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(v: &[f64]) -> Vec<Ball> {
        v.iter().map(|&x| Ball::point(x)).collect()
    }

    #[test]
    fn diagonal_matrix() {
        let s = spectrum(&points(&[3.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 2.0]), 3);
        assert!(s.lambda_min.lo <= 1.0 && s.lambda_min.hi >= 1.0 && s.lambda_min.lo > 0.999, "{s:?}");
        assert!(s.lambda_max.lo <= 3.0 && s.lambda_max.hi >= 3.0 && s.lambda_max.hi < 3.001, "{s:?}");
        assert!(s.positive_definite);
        assert!(s.condition_upper.unwrap() >= 3.0);
    }

    #[test]
    fn singular_and_indefinite() {
        // [[1, 1], [1, 1]]: eigenvalues 0 and 2: not proved positive definite.
        let s = spectrum(&points(&[1.0, 1.0, 1.0, 1.0]), 2);
        assert!(s.lambda_min.lo <= 0.0 && s.lambda_min.hi >= 0.0, "{s:?}");
        assert!(!s.positive_definite);
        assert!(s.lambda_max.lo <= 2.0 && s.lambda_max.hi >= 2.0);
        // [[0, 1], [1, 0]]: eigenvalues -1 and 1.
        let s = spectrum(&points(&[0.0, 1.0, 1.0, 0.0]), 2);
        assert!(s.lambda_min.lo <= -1.0 && s.lambda_min.hi >= -1.0 && s.lambda_min.hi < -0.99, "{s:?}");
        assert!(s.lambda_max.lo <= 1.0 && s.lambda_max.hi >= 1.0, "{s:?}");
    }

    /// Wide balls: the bounds cover the extreme members.
    #[test]
    fn radii_are_covered() {
        // mid [[2, 0], [0, 2]], radius 1 everywhere: members [[1, 1], [1, 1]] (lambda_min 0) and
        // [[3, 1], [1, 3]] (lambda_max 4).
        let a: Vec<Ball> = [2.0, 0.0, 0.0, 2.0].iter().map(|&m| Ball { mid: m, rad: 1.0 }).collect();
        let s = spectrum(&a, 2);
        assert!(s.lambda_min.lo <= 0.0, "{s:?}");
        assert!(s.lambda_max.hi >= 4.0, "{s:?}");
        assert!(!s.positive_definite);
    }
}
