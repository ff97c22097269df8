//! Kunin et al. (2024), "Get rich quick": the single-neuron linear network `f(x) = a w^T x`
//! (theory/kunin.md, KU-1..KU-3).
//!
//! With whitened inputs the loss is `1/2 ||a w - beta*||^2` and, with learning rates
//! `eta_a`, `eta_w`, gradient flow is `da/dt = eta_a w^T (beta* - a w)`,
//! `dw/dt = eta_w a (beta* - a w)` (KU-1), which conserves `delta = eta_w a^2 - eta_a ||w||^2`
//! (KU-2). With unit rates, `R = a^2 - ||w||^2` and `nu = (w . beta*) / a` obeys
//! `dnu/dt = s^2 - nu^2 - R nu`, `s = ||beta*||`, solved in closed form (KU-3).

use crate::integrate::VectorField;

/// `nu(t)` of KU-3 for unit learning rates: `R = a^2 - ||w||^2`, `nu0 = (w0 . beta*) / a0`,
/// `s = ||beta*||`. Uses the tanh branch when `|R + 2 nu0| < D` and the coth branch when
/// `|R + 2 nu0| > D` (`D = sqrt(4 s^2 + R^2)`); on `|R + 2 nu0| = D` nu sits at a fixed point.
pub fn nu(s: f64, r: f64, nu0: f64, t: f64) -> f64 {
    let d = (4.0 * s * s + r * r).sqrt();
    let x = (r + 2.0 * nu0) / d;
    if x.abs() < 1.0 {
        0.5 * (-r + d * (0.5 * d * t + x.atanh()).tanh())
    } else if x.abs() > 1.0 {
        // coth branch: arcoth(x) = artanh(1/x).
        let arg = 0.5 * d * t + (1.0 / x).atanh();
        0.5 * (-r + d / arg.tanh())
    } else {
        nu0
    }
}

/// Limit `nu(infinity) = (sqrt(4 s^2 + R^2) - R) / 2 = s^2 / a_inf^2` (KU-3).
pub fn nu_limit(s: f64, r: f64) -> f64 {
    0.5 * ((4.0 * s * s + r * r).sqrt() - r)
}

/// The single-neuron gradient flow (KU-1): state `[a, w_1, .., w_d]`.
#[derive(Debug, Clone)]
pub struct SingleNeuron {
    /// Teacher `beta*` (length d).
    pub beta_star: Vec<f64>,
    /// Learning rate of `a`.
    pub eta_a: f64,
    /// Learning rate of `w`.
    pub eta_w: f64,
}

impl SingleNeuron {
    /// The conserved `delta = eta_w a^2 - eta_a ||w||^2` (KU-2).
    pub fn delta(&self, y: &[f64]) -> f64 {
        self.eta_w * y[0] * y[0] - self.eta_a * y[1..].iter().map(|x| x * x).sum::<f64>()
    }
}

impl VectorField for SingleNeuron {
    fn dim(&self) -> usize {
        1 + self.beta_star.len()
    }
    fn eval(&mut self, _t: f64, y: &[f64], dy: &mut [f64]) {
        let a = y[0];
        let w = &y[1..];
        // r = beta* - a w
        let mut wr = 0.0;
        for (i, (&b, &wi)) in self.beta_star.iter().zip(w).enumerate() {
            let r = b - a * wi;
            wr += wi * r;
            dy[1 + i] = self.eta_w * a * r;
        }
        dy[0] = self.eta_a * wr;
    }
}
