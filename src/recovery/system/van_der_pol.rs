//! The Van der Pol oscillator (RS-6): `dx/dt = y`, `dy/dt = mu (1 - x^2) y - x`. The origin
//! is the only fixed point (eigenvalues `(mu +- sqrt(mu^2 - 4)) / 2`, unstable for mu > 0);
//! every other orbit tends to one stable limit cycle. Its period and points come from
//! learndyn's DOP853 (section `y = 0` rising); its nontrivial Floquet multiplier is
//! `exp(oint div f dt) = exp(oint mu (1 - x^2) dt)` (Liouville), by the trapezoid rule on
//! the periodic samples (spectrally accurate for a periodic integrand). Autonomous.

use super::{bad, limit_cycle, System};
use crate::error::Result;
use crate::linalg::Matrix;
use crate::recovery::truth::{LimitCycle, Provenance, TrueFixedPoint, Truth};
use num_complex::Complex64;
use serde::{Deserialize, Serialize};

/// Parameters of the Van der Pol oscillator (`[system] kind = "van_der_pol"`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VanDerPol {
    /// Nonlinearity `mu`, in (0, 5] (larger mu is stiff and relaxation-like).
    pub mu: f64,
}

impl Default for VanDerPol {
    fn default() -> Self {
        VanDerPol { mu: 1.0 }
    }
}

impl VanDerPol {
    pub(super) fn validated(&self) -> Result<Self> {
        if !(self.mu > 0.0 && self.mu <= 5.0) {
            return Err(bad("mu", "must be in (0, 5]"));
        }
        Ok(self.clone())
    }
}

impl System for VanDerPol {
    fn name(&self) -> &'static str {
        "van_der_pol"
    }
    fn dim(&self) -> usize {
        2
    }
    fn field(&self, x: &[f64], _u: &[f64], out: &mut [f64]) {
        out[0] = x[1];
        out[1] = self.mu * (1.0 - x[0] * x[0]) * x[1] - x[0];
    }
    fn jacobian(&self, x: &[f64], _u: &[f64], jac: &mut Matrix) {
        let a = -2.0 * self.mu * x[0] * x[1] - 1.0;
        let b = self.mu * (1.0 - x[0] * x[0]);
        *jac = Matrix::from_fn(2, 2, |i, j| [[0.0, 1.0], [a, b]][i][j]);
    }
    fn truth(&self) -> Result<Truth> {
        let d = Complex64::new(self.mu * self.mu - 4.0, 0.0).sqrt();
        let ev = [(self.mu + d) / 2.0, (self.mu - d) / 2.0];
        let mut t = Truth::fixed_points(
            2,
            vec![TrueFixedPoint::from_eigenvalues(vec![0.0, 0.0], &ev)],
        );
        let n = 400;
        let (period, points) = limit_cycle(self, &[2.0, 0.0], 50.0, 1, 0.0, n)?;
        let mean_div = points
            .iter()
            .map(|p| self.mu * (1.0 - p[0] * p[0]))
            .sum::<f64>()
            / n as f64;
        t.limit_cycles.push(LimitCycle {
            period,
            points,
            floquet: vec![(mean_div * period).exp()],
        });
        t.provenance = Provenance::ClosedFormAndNumerical;
        Ok(t)
    }
    fn init_box(&self) -> (Vec<f64>, Vec<f64>) {
        (vec![-3.0, -3.0], vec![3.0, 3.0])
    }
}
