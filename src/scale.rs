//! Exact power-of-two normalisation of a problem (issue 20, deliverables 2 and 3), so that f64
//! overflow, underflow and the step control's absolute scales cannot decide an outcome: the
//! integrator and the checker work on a rescaled problem whose `alpha` lies in `[1, 2)` and,
//! for models homogeneous in their output scale, whose horizon lies in `[1, 4)`; results are
//! scaled back exactly. Proof: `proofs/normalisation.md` (Lemmas S1-S3), which names these
//! functions.
//!
//! A [`Scale`] `(j, m)` maps a problem to one with `alpha 2^(m-j)`, targets and `eps` times
//! `2^-j`, model outputs times `2^-m` (inputs times `2^-m` for the homogeneous MLPs, `lambda`
//! and `L` of the quadratic family times `4^-m` and `2^-m`), horizon, settle time and learning
//! rate times `4^m`, and the penalty `lambda` times `4^-m`. The weights' trajectory is the same
//! at corresponding times `t'' = 4^m t`; `r`, `rbar` and `D` are `2^-j` times theirs, `R0` is
//! `4^-j` times (Lemma S1).

use crate::arith::rational::Exact;
use crate::problem::{Activation, Architecture, Method, Problem};
use inari::{const_interval, Interval};
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Signed};

/// The largest `|j|`, `|m|` a scale may have: every exact number of a spec lies within
/// `10^±1100` (`specs/README.md`), so normalisation needs less than `2^±3700`; the bound keeps
/// the exact powers of two small when the exponents come from a certificate (a hint).
pub const MAX_EXPONENT: i64 = 8192;

/// The exponents of a normalisation: deviations and residuals are divided by `2^output`, time
/// runs `4^time` times faster (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Scale {
    /// `j`: `r'' = 2^-j r`, `D'' = 2^-j D`, `R0'' = 4^-j R0`, outputs `alpha g` times `2^-j`.
    pub output: i64,
    /// `m`: `t'' = 4^m t`; nonzero only for models that are homogeneous in their output scale
    /// ([`homogeneous`]).
    pub time: i64,
}

impl Scale {
    /// The identity: nothing rescaled.
    pub fn is_identity(&self) -> bool {
        self.output == 0 && self.time == 0
    }

    /// The normalisation [`Problem::normalized`] uses: `m` with `4^m T in [1, 4)` when the model
    /// is [`homogeneous`] and `T > 0` (else 0), then `j` with `alpha 2^(m-j) in [1, 2)`. It
    /// depends only on `floor(log2)` of exact values, so a problem and any of its exact
    /// power-of-two rescalings (Lemma S1) get the same normalised problem (Lemma S2).
    pub fn of(problem: &Problem) -> Scale {
        let time = if homogeneous(problem) && problem.horizon.value.is_positive() {
            -floor_log2(&problem.horizon.value).div_euclid(2)
        } else {
            0
        };
        Scale { output: time + floor_log2(&problem.alpha.value), time }
    }
}

/// Whether scaling every output of the model by `2^-m` is itself a reparametrisation the problem
/// can express exactly (Lemma S1): an MLP without biases whose hidden layers are all
/// identities (then `h(w; 2^-m x) = 2^-m h(w; x)`), or the quadratic family (its `lambda` and
/// `L`).
pub fn homogeneous(problem: &Problem) -> bool {
    match &problem.architecture {
        Architecture::Mlp(a) => !a.bias && a.activations.iter().all(|&f| f == Activation::Identity),
        Architecture::Quadratic(_) => true,
    }
}

/// `floor(log2 q)` of an exact `q > 0`.
pub fn floor_log2(q: &BigRational) -> i64 {
    debug_assert!(q.is_positive());
    let e = q.numer().bits() as i64 - q.denom().bits() as i64;
    // 2^(e-1) < q < 2^(e+1): one comparison decides.
    if *q >= pow2(e) { e } else { e - 1 }
}

/// `2^k`, exact.
pub fn pow2(k: i64) -> BigRational {
    let p = BigInt::one() << k.unsigned_abs();
    if k >= 0 { BigRational::from_integer(p) } else { BigRational::new(BigInt::one(), p) }
}

/// `q 2^k` with its enclosure.
fn scaled_exact(q: &Exact, k: i64) -> Exact {
    Exact::new(&q.value * pow2(k))
}

/// An enclosure of `x 2^k` (outward rounded; exact unless it leaves the normal f64 range).
pub fn scale_interval(x: Interval, k: i64) -> Interval {
    if x.is_empty() {
        return x;
    }
    let mut y = x;
    let mut left = k;
    // Factors within 2^±512 are finite f64s; a few suffice for |k| <= MAX_EXPONENT.
    while left != 0 {
        let step = left.clamp(-512, 512);
        y = y * power_of_two(step);
        left -= step;
    }
    y
}

/// `[2^k, 2^k]` for `|k| <= 512`.
fn power_of_two(k: i64) -> Interval {
    let v = 2f64.powi(k as i32);
    debug_assert!(v.is_finite() && v > 0.0);
    Interval::try_from((v, v)).unwrap_or(const_interval!(0.0, 0.0))
}

impl Problem {
    /// The problem's normalisation by [`Scale::of`] (Lemma S2), and that scale.
    pub fn normalized(&self) -> (Problem, Scale) {
        let scale = Scale::of(self);
        let problem = self.rescaled(scale).expect("Scale::of scales time only for homogeneous models");
        (problem, scale)
    }

    /// The problem rescaled by `scale` (Lemma S1), exactly: every exact number multiplied by its
    /// power of two, the inputs and targets' enclosures scaled outward. Errors when `scale`
    /// rescales time for a model that is not [`homogeneous`], or an exponent exceeds
    /// [`MAX_EXPONENT`].
    pub fn rescaled(&self, scale: Scale) -> Result<Problem, String> {
        let (j, m) = (scale.output, scale.time);
        if j.abs() > MAX_EXPONENT || m.abs() > MAX_EXPONENT {
            return Err(format!("scale exponents ({j}, {m}) exceed {MAX_EXPONENT} in magnitude"));
        }
        if m != 0 && !homogeneous(self) {
            return Err("time is rescaled only for models homogeneous in their output scale (identity activations, no biases, or the quadratic family)".into());
        }
        let mut p = self.clone();
        match &mut p.architecture {
            Architecture::Mlp(_) => {
                if m != 0 {
                    for row in &mut p.inputs {
                        row.iter_mut().for_each(|x| *x = scale_interval(*x, -m));
                    }
                }
            }
            Architecture::Quadratic(q) => {
                // h'' = 2^-m h: sqrt(lambda'') = 2^-m sqrt(lambda), L'' = 2^-m L.
                q.lambda = &q.lambda * pow2(-2 * m);
                q.lipschitz = &q.lipschitz * pow2(-m);
            }
        }
        p.targets.iter_mut().for_each(|y| *y = scale_interval(*y, -j));
        p.alpha = scaled_exact(&self.alpha, m - j);
        p.tolerance = scaled_exact(&self.tolerance, -j);
        p.horizon = scaled_exact(&self.horizon, 2 * m);
        p.regularization = scaled_exact(&self.regularization, -2 * m);
        if let Method::GradientDescent(d) = &mut p.method {
            d.learning_rate = scaled_exact(&d.learning_rate, 2 * m);
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arith::rational::parse_decimal;

    fn rat(s: &str) -> BigRational {
        parse_decimal(s).unwrap()
    }

    #[test]
    fn floor_log2_is_exact_at_and_between_powers_of_two() {
        for (q, e) in [("1", 0), ("2", 1), ("3", 1), ("4", 2), ("0.5", -1), ("0.75", -1), ("1/3", -2), ("1e-300", -997), ("1e300", 996)] {
            assert_eq!(floor_log2(&rat(q)), e, "floor(log2 {q})");
        }
        let just_below = &pow2(70) - BigRational::new(1.into(), 7.into());
        assert_eq!(floor_log2(&just_below), 69);
        assert_eq!(floor_log2(&pow2(-70)), -70);
    }

    /// The fields Lemma S1 rescales, for exact comparison (Problem has no `PartialEq`).
    fn fields(p: &Problem) -> String {
        format!("{:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?}", p.architecture, p.inputs, p.targets, p.alpha, p.horizon, p.tolerance, p.regularization, p.method, p.params0)
    }

    #[test]
    fn rescaling_composes_and_inverts_exactly() {
        use crate::model::test_problems::problem;
        let tanh = problem(3, vec![2, 3, 1], Activation::Tanh, true, false, "0.25");
        let mut linear = problem(4, vec![2, 3, 2], Activation::Identity, false, true, "0");
        linear.horizon = Exact::parse("1e-9").unwrap();
        assert!(!homogeneous(&tanh) && homogeneous(&linear));
        assert!(tanh.rescaled(Scale { output: 0, time: 1 }).is_err(), "time is no symmetry of a tanh net");
        for (p, time) in [(&tanh, 0), (&linear, 37), (&linear, -250)] {
            let (normal, scale) = p.normalized();
            assert!(normal.alpha.value >= pow2(0) && normal.alpha.value < pow2(1));
            if homogeneous(p) {
                assert!(normal.horizon.value >= pow2(0) && normal.horizon.value < pow2(2));
            }
            for output in [-700, -3, 0, 5, 600] {
                let s = Scale { output, time };
                let scaled = p.rescaled(s).unwrap();
                let back = scaled.rescaled(Scale { output: -output, time: -time }).unwrap();
                assert_eq!(fields(&back), fields(p), "rescaling by {s:?} and back");
                // Lemma S2: the rescaled problem normalises to the same problem.
                let (again, scale_again) = scaled.normalized();
                assert_eq!(fields(&again), fields(&normal), "{s:?}");
                assert_eq!((scale_again.output, scale_again.time), (scale.output - output, scale.time - time));
            }
        }
    }

    #[test]
    fn intervals_scale_exactly_in_range_and_outward_beyond() {
        let x = Interval::try_from((0.75, 1.5)).unwrap();
        let y = scale_interval(x, 1000);
        assert_eq!((y.inf(), y.sup()), (0.75 * 2f64.powi(1000), 1.5 * 2f64.powi(1000)));
        assert_eq!(scale_interval(y, -1000), x);
        let tiny = scale_interval(x, -1070);
        assert!(tiny.inf() <= 0.75 * 2f64.powi(-1070) && tiny.sup() >= 1.5 * 2f64.powi(-1070) && tiny.inf() >= 0.0);
        let huge = scale_interval(x, 1030);
        assert_eq!((huge.inf(), huge.sup()), (f64::MAX, f64::INFINITY));
    }
}
