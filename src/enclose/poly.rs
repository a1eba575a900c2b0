//! Vector polynomials in one variable with interval coefficients: `P(s) = sum_j c[j] s^j`,
//! `c[j]` a vector. Interval evaluation encloses `{P(s) : s in S}` for every choice of the
//! coefficients within their intervals (inclusion isotonicity of interval arithmetic).

use inari::{const_interval, Interval};

/// `P(s)` by Horner's scheme, componentwise.
pub fn evaluate(coeffs: &[Vec<Interval>], s: Interval) -> Vec<Interval> {
    let n = coeffs[0].len();
    let mut acc = coeffs[coeffs.len() - 1].clone();
    for c in coeffs[..coeffs.len() - 1].iter().rev() {
        for e in 0..n {
            acc[e] = acc[e].mul_add(s, c[e]);
        }
    }
    acc
}

/// `P'(s)` by Horner's scheme, componentwise.
pub fn evaluate_derivative(coeffs: &[Vec<Interval>], s: Interval) -> Vec<Interval> {
    let n = coeffs[0].len();
    if coeffs.len() == 1 {
        return vec![const_interval!(0.0, 0.0); n];
    }
    let q = coeffs.len() - 1;
    let scale = |j: usize| Interval::try_from((j as f64, j as f64)).unwrap();
    let mut acc: Vec<Interval> = coeffs[q].iter().map(|&c| c * scale(q)).collect();
    for j in (1..q).rev() {
        for e in 0..n {
            acc[e] = acc[e].mul_add(s, coeffs[j][e] * scale(j));
        }
    }
    acc
}

/// An enclosure of `{P(s) : s in S}`: the intersection of the Horner enclosure and the mean
/// value form `P(m) + P'(S) (S - m)`, `m` the midpoint of `S`. The mean value form is tight
/// (quadratic in the width of S) where the derivative is small, e.g. near a maximum.
pub fn range(coeffs: &[Vec<Interval>], s: Interval) -> Vec<Interval> {
    let m = s.mid();
    let mi = Interval::try_from((m, m)).unwrap();
    let centre = evaluate(coeffs, mi);
    let slope = evaluate_derivative(coeffs, s);
    let offset = s - mi;
    let direct = evaluate(coeffs, s);
    centre
        .iter()
        .zip(&slope)
        .zip(&direct)
        .map(|((&c, &d), &h)| {
            let mv = d.mul_add(offset, c);
            let both = mv.intersection(h);
            if both.is_empty() { h } else { both }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(a: f64) -> Interval {
        Interval::try_from((a, a)).unwrap()
    }

    #[test]
    fn range_contains_samples() {
        // P(s) = 1 - 3 s + 2 s^2 + 0.5 s^3 on [0, 2]
        let c = vec![vec![iv(1.0)], vec![iv(-3.0)], vec![iv(2.0)], vec![iv(0.5)]];
        let s = Interval::try_from((0.0, 2.0)).unwrap();
        let r = range(&c, s)[0];
        for i in 0..=200 {
            let x = i as f64 / 100.0;
            let v = 1.0 - 3.0 * x + 2.0 * x * x + 0.5 * x * x * x;
            assert!(r.inf() <= v + 1e-12 && v - 1e-12 <= r.sup());
        }
        let d = evaluate_derivative(&c, iv(1.0))[0];
        assert!(d.contains(-3.0 + 4.0 + 1.5));
    }
}
