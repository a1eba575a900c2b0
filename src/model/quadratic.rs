//! The scalar tightness family of MATH.md F7: `h(w) = sqrt(lambda) w + (L/2) w^2`, one
//! parameter, one output. `Dh = sqrt(lambda) + L w`, `D^2 h = L`.

use super::coeffs::CoeffVec;
use crate::arith::rational::rational_to_interval;
use crate::arith::scalar::Scalar;
use crate::problem::QuadraticModel;

#[derive(Debug, Clone)]
pub struct QuadraticTaylor<V: CoeffVec> {
    /// `sqrt(lambda)`.
    pub slope: V::S,
    /// `L / 2`.
    pub half_curvature: V::S,
    /// `L`.
    pub curvature: V::S,
    outputs: Vec<V>,
    cotangent: Vec<V>,
}

impl<V: CoeffVec> QuadraticTaylor<V> {
    pub fn new(model: &QuadraticModel) -> Self {
        let lambda = V::S::from_interval(rational_to_interval(&model.lambda));
        let curvature = V::S::from_interval(rational_to_interval(&model.lipschitz));
        QuadraticTaylor {
            slope: lambda.sqrt(),
            half_curvature: curvature * V::S::exact(0.5),
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
    pub fn forward(&mut self, w: &[V], k: usize) {
        let value = V::cauchy(k, w, w).scale(self.half_curvature).add(&w[k].scale(self.slope));
        self.outputs.truncate(k);
        self.outputs.push(value);
    }

    pub fn outputs(&self, k: usize) -> &V {
        &self.outputs[k]
    }

    /// Coefficient `k` of `Dh(w(s))^T c(s)`, with `Dh = slope + L w`.
    pub fn backward(&mut self, w: &[V], k: usize, cotangent: V) -> V {
        self.cotangent.truncate(k);
        self.cotangent.push(cotangent);
        let curved = V::cauchy(k, w, &self.cotangent).scale(self.curvature);
        self.cotangent[k].scale(self.slope).add(&curved)
    }
}
