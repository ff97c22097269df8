//! Vector fields of learning dynamics: `dtheta/dt = -grad L(theta)` (gradient flow, C-5).

use crate::integrate::VectorField;
use crate::model::{DeepLinearNet, DlnWorkspace, Moments};

/// Full finite-width gradient flow of a deep linear network on given moments (C-5, T2.1):
/// the state is the flat parameter vector of [`DeepLinearNet`], time in units of tau = 1.
#[derive(Debug, Clone)]
pub struct GradientFlow<'a> {
    net: &'a DeepLinearNet,
    moments: &'a Moments,
    ws: DlnWorkspace,
}

impl<'a> GradientFlow<'a> {
    /// Gradient flow of `net` on `moments`.
    pub fn new(net: &'a DeepLinearNet, moments: &'a Moments) -> Self {
        GradientFlow {
            net,
            moments,
            ws: net.workspace(),
        }
    }
}

impl VectorField for GradientFlow<'_> {
    fn dim(&self) -> usize {
        self.net.n_params()
    }
    fn eval(&mut self, _t: f64, y: &[f64], dydt: &mut [f64]) {
        self.net
            .scaled_gradient(y, self.moments, -1.0, dydt, &mut self.ws);
    }
}

pub mod rnn_flow;
