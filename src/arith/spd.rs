//! Rigorous upper bounds of the largest eigenvalue of symmetric interval matrices and of the
//! spectral norm of interval matrices, from a floating-point Cholesky factor whose residual is
//! enclosed (Lemma S of `proofs/residual-hessian.md`).
//!
//! The factor, the shift `theta` and the power-iteration guess are plain f64 and need not be
//! accurate: the bound `theta + |E|_F`, `E = theta I - G - R^T R`, holds for every real `R`, and
//! only `E` is enclosed (endpoint arithmetic of `arith::fast_interval`). A poor guess makes the
//! bound loose (never invalid); every result is also capped by the Frobenius norm.

use super::fast_interval::FastInterval;
use super::scalar::Scalar;
use crate::enclose::poly::norm2_upper;

type F = FastInterval;

/// Attempts at a shift `theta` for which the Cholesky factorisation of `theta I - mid(G)` runs
/// to the end; failure `j` multiplies `theta` by `1 + 2^(j-8)` (small steps first, so that an
/// underestimated guess costs little width).
const SHIFT_ATTEMPTS: usize = 24;
/// Power iterations for the guess of the largest eigenvalue.
const POWER_ITERATIONS: usize = 60;
/// Halvings of the gap between a failed and a successful shift (plain f64 factorisations).
const BISECTIONS: usize = 10;

/// An upper bound of `lambda_max(G)` for every real symmetric matrix `G` in the interval matrix
/// `g` (`k x k`, row-major; only its symmetric real members matter). At most `|g|_F` (which
/// bounds `|G|_2`); `+inf` when an entry is not finite. Lemma S(a) of
/// `proofs/residual-hessian.md`.
pub fn lambda_max_upper(g: &[F], k: usize) -> f64 {
    assert_eq!(g.len(), k * k, "lambda_max_upper: the matrix must be k x k");
    let frobenius = norm2_upper(g);
    if k == 0 || frobenius == 0.0 {
        return 0.0;
    }
    if !frobenius.is_finite() {
        return f64::INFINITY;
    }
    let mid: Vec<f64> = g.iter().map(|v| 0.5 * v.lo + 0.5 * v.hi).collect();
    let mut theta = dominant_magnitude_guess(&mid, k, POWER_ITERATIONS) * (1.0 + 1.0 / 256.0) + frobenius * 1e-15;
    // The largest shift known to fail, for the bisection below.
    let mut failed: Option<f64> = None;
    for attempt in 0..SHIFT_ATTEMPTS {
        if theta >= frobenius {
            break;
        }
        if let Some(mut r) = cholesky_shifted(&mid, k, theta) {
            if let Some(mut lo) = failed {
                // The guess was low: bisect between the failed and the successful shift.
                for _ in 0..BISECTIONS {
                    let between = 0.5 * (lo + theta);
                    match cholesky_shifted(&mid, k, between) {
                        Some(factor) => (theta, r) = (between, factor),
                        None => lo = between,
                    }
                }
            }
            let residual = shifted_residual_frobenius(g, k, theta, &r);
            let bound = (F::point(theta) + F::point(residual)).hi;
            return bound.min(frobenius);
        }
        failed = Some(theta);
        theta *= 1.0 + 2f64.powi(attempt as i32 - 8);
    }
    frobenius
}

/// An upper bound of `|A|_2` for every real matrix `A` in the interval matrix `a` (`rows x
/// cols`, row-major), through the Gram matrix on the smaller side (Lemma S(b)); at most the
/// Frobenius norm.
pub fn spectral_norm_upper(a: &[F], rows: usize, cols: usize) -> f64 {
    assert_eq!(a.len(), rows * cols, "spectral_norm_upper: shape");
    let frobenius = norm2_upper(a);
    if rows == 0 || cols == 0 || frobenius == 0.0 || !frobenius.is_finite() {
        return frobenius;
    }
    let (gram, k) = gram_smaller_side(a, rows, cols);
    sqrt_upper(lambda_max_upper(&gram, k)).min(frobenius)
}

/// The Gram matrix of `a` (`rows x cols`) on its smaller side: `A A^T` when `rows <= cols`,
/// else `A^T A`; returns it with its order. Interval entries enclose the exact products' sums.
pub fn gram_smaller_side(a: &[F], rows: usize, cols: usize) -> (Vec<F>, usize) {
    if rows <= cols {
        let mut g = vec![F::ZERO; rows * rows];
        for i in 0..rows {
            let ri = &a[i * cols..(i + 1) * cols];
            for j in i..rows {
                let s = F::dot(F::ZERO, ri, &a[j * cols..(j + 1) * cols]);
                g[i * rows + j] = s;
                g[j * rows + i] = s;
            }
        }
        (g, rows)
    } else {
        // A^T A accumulated row by row of A (contiguous reads).
        let mut g = vec![F::ZERO; cols * cols];
        for r in 0..rows {
            let row = &a[r * cols..(r + 1) * cols];
            for i in 0..cols {
                let x = row[i];
                for j in i..cols {
                    g[i * cols + j] = x.mul_add(row[j], g[i * cols + j]);
                }
            }
        }
        for i in 0..cols {
            for j in 0..i {
                g[i * cols + j] = g[j * cols + i];
            }
        }
        (g, cols)
    }
}

/// `sqrt(x)` rounded up (`x >= 0`; `+inf` stays `+inf`).
pub fn sqrt_upper(x: f64) -> f64 {
    Scalar::sqrt(F::point(x)).hi
}

/// A floating-point guess of the largest eigenvalue magnitude of the symmetric `m` (`k x k`,
/// row-major): `iterations` power iterations from a fixed start; not rigorous. The last
/// estimate when an iterate vanishes or overflows (0 if the first does).
pub fn dominant_magnitude_guess(m: &[f64], k: usize, iterations: usize) -> f64 {
    // A start with unequal entries, so that it is not orthogonal to the dominant vector of
    // structured matrices.
    let mut v: Vec<f64> = (0..k).map(|i| 1.0 + (i as f64 * 0.618_033_988_749_895).fract()).collect();
    let mut estimate = 0.0;
    for _ in 0..iterations {
        let w: Vec<f64> = (0..k).map(|i| m[i * k..(i + 1) * k].iter().zip(&v).map(|(a, b)| a * b).sum()).collect();
        let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
        let vnorm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if !(norm > 0.0 && norm.is_finite()) {
            break;
        }
        estimate = norm / vnorm;
        v = w.into_iter().map(|x| x / norm).collect();
    }
    estimate
}

/// The upper Cholesky factor `R` (row-major, `R^T R ~ theta I - m`) in plain f64, or `None`
/// when a pivot is not positive (theta too small).
fn cholesky_shifted(m: &[f64], k: usize, theta: f64) -> Option<Vec<f64>> {
    let mut r = vec![0.0; k * k];
    for i in 0..k {
        for j in i..k {
            let mut s = if i == j { theta - m[i * k + j] } else { -m[i * k + j] };
            for p in 0..i {
                s -= r[p * k + i] * r[p * k + j];
            }
            if i == j {
                if !(s > 0.0) {
                    return None;
                }
                r[i * k + i] = s.sqrt();
            } else {
                r[i * k + j] = s / r[i * k + i];
            }
        }
    }
    Some(r)
}

/// An upper bound of `|theta I - G - R^T R|_F` over every `G` in `g` (endpoint arithmetic).
fn shifted_residual_frobenius(g: &[F], k: usize, theta: f64, r: &[f64]) -> f64 {
    let mut entries = Vec::with_capacity(k * k);
    for i in 0..k {
        for j in 0..k {
            let (a, b) = (i.min(j), i.max(j));
            let mut e = if i == j { F::point(theta) - g[i * k + j] } else { -g[i * k + j] };
            for p in 0..=a {
                e = F::point(-r[p * k + a]).mul_add(F::point(r[p * k + b]), e);
            }
            entries.push(e);
        }
    }
    norm2_upper(&entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn points(v: &[f64]) -> Vec<F> {
        v.iter().map(|&x| F::point(x)).collect()
    }

    #[test]
    fn diagonal_and_known_matrices() {
        let b = lambda_max_upper(&points(&[3.0, 0.0, 0.0, 1.0]), 2);
        assert!((3.0..3.0 * 1.01).contains(&b), "{b}");
        // [[3, 0], [4, 5]]: |W|_2 = sqrt(45).
        let s = spectral_norm_upper(&points(&[3.0, 0.0, 4.0, 5.0]), 2, 2);
        assert!(s >= 45f64.sqrt() && s < 45f64.sqrt() * 1.01, "{s}");
        // Negative definite: lambda_max = -1 <= 0; the bound is any upper bound >= -1.
        let b = lambda_max_upper(&points(&[-2.0, 0.0, 0.0, -1.0]), 2);
        assert!(b >= -1.0 && b <= 2.0 * 1.01, "{b}");
        assert_eq!(lambda_max_upper(&[], 0), 0.0);
        assert!(spectral_norm_upper(&points(&[0.0; 6]), 2, 3) <= 1e-150);
    }

    /// A wide interval matrix: the bound covers its extreme members.
    #[test]
    fn interval_entries_are_covered() {
        let g = vec![F { lo: 1.0, hi: 2.0 }, F { lo: -1.0, hi: 1.0 }, F { lo: -1.0, hi: 1.0 }, F { lo: 1.0, hi: 2.0 }];
        // [[2, 1], [1, 2]] has eigenvalue 3.
        assert!(lambda_max_upper(&g, 2) >= 3.0);
    }

    proptest! {
        /// Random matrices: the bound lies above the largest singular value (estimated from
        /// below by the Rayleigh quotient of many power iterations on A^T A, in f64 with a
        /// relative margin) and at most at the Frobenius norm; it is close to the true value.
        #[test]
        fn spectral_bound_random(rows in 1usize..24, cols in 1usize..24, seed in 0u64..1000) {
            let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let a: Vec<f64> = (0..rows * cols).map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
            }).collect();
            let bound = spectral_norm_upper(&points(&a), rows, cols);
            // Power iteration on A^T A from a fixed vector: |A v| / |v| is a lower bound of |A|_2.
            let mut v = vec![1.0; cols];
            let mut lower: f64 = 0.0;
            for _ in 0..500 {
                let av: Vec<f64> = (0..rows).map(|i| (0..cols).map(|j| a[i * cols + j] * v[j]).sum()).collect();
                let vn = v.iter().map(|x| x * x).sum::<f64>().sqrt();
                let avn = av.iter().map(|x| x * x).sum::<f64>().sqrt();
                if avn == 0.0 { break; }
                lower = lower.max(avn / vn);
                v = (0..cols).map(|j| (0..rows).map(|i| a[i * cols + j] * av[i]).sum::<f64>() / avn).collect();
            }
            let frob = norm2_upper(&points(&a));
            prop_assert!(bound >= lower * (1.0 - 1e-12), "bound {} below {}", bound, lower);
            prop_assert!(bound <= frob, "bound {} above Frobenius {}", bound, frob);
            prop_assert!(bound <= lower * 1.02 + 1e-12, "bound {} loose against {}", bound, lower);
        }
    }
}
