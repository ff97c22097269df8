//! Lorenz-63 (RS-7): `dx/dt = sigma (y - x)`, `dy/dt = x (rho - z) - y`,
//! `dz/dt = x y - beta z`. Fixed points: the origin and, for rho > 1,
//! `C+- = (+-sqrt(beta (rho - 1)), +-sqrt(beta (rho - 1)), rho - 1)`, with Jacobian
//! eigenvalues from the analytic Jacobian. At the classical (10, 28, 8/3) all three are
//! unstable and the attractor is chaotic: described by points of a long post-transient
//! DOP853 trajectory. Autonomous.

use super::{bad, describe_fixed_point, trajectory, System};
use crate::error::Result;
use crate::linalg::Matrix;
use crate::recovery::truth::{Chaotic, Provenance, Truth};
use serde::{Deserialize, Serialize};

/// Parameters of Lorenz-63 (`[system] kind = "lorenz"`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Lorenz {
    /// sigma (> 0).
    pub sigma: f64,
    /// rho (> 0).
    pub rho: f64,
    /// beta (> 0).
    pub beta: f64,
}

impl Default for Lorenz {
    fn default() -> Self {
        Lorenz {
            sigma: 10.0,
            rho: 28.0,
            beta: 8.0 / 3.0,
        }
    }
}

impl Lorenz {
    pub(super) fn validated(&self) -> Result<Self> {
        for (k, v) in [
            ("sigma", self.sigma),
            ("rho", self.rho),
            ("beta", self.beta),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(bad(k, "must be > 0"));
            }
        }
        Ok(self.clone())
    }
}

impl System for Lorenz {
    fn name(&self) -> &'static str {
        "lorenz"
    }
    fn dim(&self) -> usize {
        3
    }
    fn field(&self, x: &[f64], _u: &[f64], out: &mut [f64]) {
        out[0] = self.sigma * (x[1] - x[0]);
        out[1] = x[0] * (self.rho - x[2]) - x[1];
        out[2] = x[0] * x[1] - self.beta * x[2];
    }
    fn jacobian(&self, x: &[f64], _u: &[f64], jac: &mut Matrix) {
        let j = [
            [-self.sigma, self.sigma, 0.0],
            [self.rho - x[2], -1.0, -x[0]],
            [x[1], x[0], -self.beta],
        ];
        *jac = Matrix::from_fn(3, 3, |r, c| j[r][c]);
    }
    fn truth(&self) -> Result<Truth> {
        let mut pts = vec![describe_fixed_point(self, vec![0.0; 3])?];
        if self.rho > 1.0 {
            let a = (self.beta * (self.rho - 1.0)).sqrt();
            for s in [1.0, -1.0] {
                pts.push(describe_fixed_point(
                    self,
                    vec![s * a, s * a, self.rho - 1.0],
                )?);
            }
        }
        let mut t = Truth::fixed_points(3, pts);
        if t.fixed_points.iter().all(|p| !p.stable) {
            // Transient 20 time units, then 2000 samples 0.05 apart.
            let times: Vec<f64> = (0..=2000).map(|k| 20.0 + 0.05 * k as f64).collect();
            let mut points = trajectory(self, &[1.0, 1.0, 1.0], &times)?;
            points.retain(|p| p.iter().all(|v| v.is_finite()));
            t.chaotic.push(Chaotic { points });
            t.provenance = Provenance::ClosedFormAndNumerical;
        }
        Ok(t)
    }
    fn init_box(&self) -> (Vec<f64>, Vec<f64>) {
        (vec![-20.0, -25.0, 5.0], vec![20.0, 25.0, 45.0])
    }
}
