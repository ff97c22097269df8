//! Vector fields of learning dynamics: `dtheta/dt = -grad L(theta)` (gradient flow, C-5).

use crate::integrate::VectorField;
use crate::model::Model;

/// The full finite-width gradient flow `dtheta/dt = -grad L(theta)` of any [`Model`] (C-5;
/// T2.1 for deep linear networks, RN-8 for RNNs). The state is the model's flat parameter
/// vector (layout [`Model::blocks`]); frozen blocks have zero velocity and stay constant. Time
/// is in units of `tau = 1`: gradient descent with learning rate `lr` after `k` steps
/// approximates the flow at `t = lr k` (C-6), with an `O(lr)` error.
///
/// A state at which the gradient cannot be evaluated (a non-finite entry in a diverging solve)
/// gets an all-NaN velocity, which the integrator's error control rejects, since
/// [`VectorField::eval`] cannot return an error.
#[derive(Debug, Clone)]
pub struct GradientFlow<M> {
    model: M,
}

impl<M: Model> GradientFlow<M> {
    /// The gradient flow of `model` on its full training set.
    pub fn new(model: M) -> Self {
        GradientFlow { model }
    }

    /// The model (to evaluate its loss along a solution).
    pub fn model(&mut self) -> &mut M {
        &mut self.model
    }
}

impl<M: Model> VectorField for GradientFlow<M> {
    fn dim(&self) -> usize {
        self.model.n_params()
    }

    fn eval(&mut self, _t: f64, y: &[f64], dydt: &mut [f64]) {
        if self.model.neg_gradient(y, dydt).is_err() {
            dydt.fill(f64::NAN);
        }
    }
}
