//! The scalar tightness family of MATH.md F7: `h(w) = sqrt(lambda) w + (L/2) w^2`, one
//! parameter, one output. `Dh = sqrt(lambda) + L w`, `D^2 h = L`.

use super::activation::cauchy;
use crate::arith::rational::rational_to_interval;
use crate::arith::scalar::Scalar;
use crate::problem::QuadraticModel;

#[derive(Debug, Clone)]
pub struct QuadraticTaylor<S> {
    /// `sqrt(lambda)`.
    pub slope: S,
    /// `L / 2`.
    pub half_curvature: S,
    /// `L`.
    pub curvature: S,
    outputs: Vec<S>,
    cotangent: Vec<Vec<S>>,
}

impl<S: Scalar> QuadraticTaylor<S> {
    pub fn new(model: &QuadraticModel) -> Self {
        let lambda = S::from_interval(rational_to_interval(&model.lambda));
        let curvature = S::from_interval(rational_to_interval(&model.lipschitz));
        QuadraticTaylor {
            slope: lambda.sqrt(),
            half_curvature: curvature * S::exact(0.5),
            curvature,
            outputs: Vec::new(),
            cotangent: Vec::new(),
        }
    }

    pub fn clear(&mut self) {
        self.outputs.clear();
        self.cotangent.clear();
    }

    /// Coefficient `k` of `h(w(s))` from `w[0..=k]`.
    pub fn forward(&mut self, w: &[Vec<S>], k: usize) {
        let linear = self.slope * w[k][0];
        let value = self.half_curvature.mul_add(cauchy(k, w, w)[0], linear);
        self.outputs.truncate(k);
        self.outputs.push(value);
    }

    pub fn outputs(&self, k: usize) -> &[S] {
        std::slice::from_ref(&self.outputs[k])
    }

    /// Coefficient `k` of `Dh(w(s))^T c(s)`, with `Dh = slope + L w`.
    pub fn backward(&mut self, w: &[Vec<S>], k: usize, cotangent: Vec<S>) -> Vec<S> {
        self.cotangent.truncate(k);
        self.cotangent.push(cotangent);
        let mut acc = self.slope * self.cotangent[k][0];
        for j in 0..=k {
            acc = (self.curvature * w[j][0]).mul_add(self.cotangent[k - j][0], acc);
        }
        vec![acc]
    }
}
