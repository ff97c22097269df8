//! The bistable Duffing oscillator (RS-5, attractors.md C5, Göring et al. 2024):
//! `dx/dt = y`, `dy/dt = -delta y + alpha x - beta x^3`. With `alpha, beta > 0`: stable foci
//! at `(+-sqrt(alpha/beta), 0)` with eigenvalues `(-delta +- sqrt(delta^2 - 8 alpha)) / 2`
//! and a saddle at the origin with eigenvalues `(-delta +- sqrt(delta^2 + 4 alpha)) / 2`.
//! Defaults (delta, alpha, beta) = (0.5, 1, 0.1): foci at x = +-3.1623 with
//! `-0.25 +- 1.3919 i`, saddle `0.7808, -1.2808`. Autonomous (no input).

use super::{bad, System};
use crate::error::Result;
use crate::linalg::Matrix;
use crate::recovery::truth::{TrueFixedPoint, Truth};
use num_complex::Complex64;
use serde::{Deserialize, Serialize};

/// Parameters of the Duffing oscillator (`[system] kind = "duffing"`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Duffing {
    /// Damping `delta` (> 0).
    pub delta: f64,
    /// Linear stiffness `alpha` (> 0: bistable).
    pub alpha: f64,
    /// Cubic stiffness `beta` (> 0).
    pub beta: f64,
}

impl Default for Duffing {
    fn default() -> Self {
        Duffing {
            delta: 0.5,
            alpha: 1.0,
            beta: 0.1,
        }
    }
}

impl Duffing {
    pub(super) fn validated(&self) -> Result<Self> {
        for (k, v) in [
            ("delta", self.delta),
            ("alpha", self.alpha),
            ("beta", self.beta),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(bad(k, "must be > 0 (the bistable Duffing oscillator)"));
            }
        }
        Ok(self.clone())
    }
}

/// Roots of `lambda^2 + p lambda + q = 0`.
fn quadratic(p: f64, q: f64) -> [Complex64; 2] {
    let d = Complex64::new(p * p - 4.0 * q, 0.0).sqrt();
    [(-p + d) / 2.0, (-p - d) / 2.0]
}

impl System for Duffing {
    fn name(&self) -> &'static str {
        "duffing"
    }
    fn dim(&self) -> usize {
        2
    }
    fn field(&self, x: &[f64], _u: &[f64], out: &mut [f64]) {
        out[0] = x[1];
        out[1] = -self.delta * x[1] + self.alpha * x[0] - self.beta * x[0] * x[0] * x[0];
    }
    fn jacobian(&self, x: &[f64], _u: &[f64], jac: &mut Matrix) {
        let k = self.alpha - 3.0 * self.beta * x[0] * x[0];
        *jac = Matrix::from_fn(2, 2, |i, j| [[0.0, 1.0], [k, -self.delta]][i][j]);
    }
    fn truth(&self) -> Result<Truth> {
        let xs = (self.alpha / self.beta).sqrt();
        // Characteristic polynomial of [[0, 1], [k, -delta]]: lambda^2 + delta lambda - k.
        let focus = quadratic(self.delta, 2.0 * self.alpha);
        let saddle = quadratic(self.delta, -self.alpha);
        Ok(Truth::fixed_points(
            2,
            vec![
                TrueFixedPoint::from_eigenvalues(vec![xs, 0.0], &focus),
                TrueFixedPoint::from_eigenvalues(vec![-xs, 0.0], &focus),
                TrueFixedPoint::from_eigenvalues(vec![0.0, 0.0], &saddle),
            ],
        ))
    }
    fn init_box(&self) -> (Vec<f64>, Vec<f64>) {
        (vec![-4.0, -2.5], vec![4.0, 2.5])
    }
}
