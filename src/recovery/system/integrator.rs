//! The perfect and leaky integrator (RS-2): `dx_0/dt = -leak x_0 + u(t)`,
//! `dx_i/dt = -decay x_i` for `i >= 1`. With `leak = 0` the `x_0` axis is a line attractor
//! (Jacobian eigenvalues `0, -decay, ...`; the marginal direction is the axis, tangent to the
//! line); with `leak > 0` the origin is the only fixed point, with timescale `1 / leak`. The
//! input is evidence: per condition a mean `coherence` plus white noise of intensity
//! `input_noise` (`u_k = c + input_noise xi_k / sqrt(dt)` on step `k`).

use super::{bad, System};
use crate::error::Result;
use crate::linalg::Matrix;
use crate::recovery::truth::{Manifold, ManifoldKind, TrueFixedPoint, Truth};
use num_complex::Complex64;
use rand::rngs::ChaCha8Rng;
use rand::RngExt;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

/// Parameters of the integrator (`[system] kind = "integrator"`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Integrator {
    /// State dimension (>= 1): the integrating axis plus `dim - 1` decaying ones.
    pub dim: usize,
    /// Leak of the integrating axis (0: perfect integrator, a line attractor).
    pub leak: f64,
    /// Decay rate of the other axes (> 0).
    pub decay: f64,
    /// Mean evidence per condition (trials cycle through them).
    pub coherences: Vec<f64>,
    /// White-noise intensity of the evidence.
    pub input_noise: f64,
    /// Half-length of the line attractor listed in the truth (and of the default init box
    /// along the axis).
    pub extent: f64,
}

impl Default for Integrator {
    fn default() -> Self {
        Integrator {
            dim: 2,
            leak: 0.0,
            decay: 1.0,
            coherences: vec![-0.2, -0.1, 0.1, 0.2],
            input_noise: 0.1,
            extent: 1.0,
        }
    }
}

impl Integrator {
    pub(super) fn validated(&self) -> Result<Self> {
        if self.dim == 0 {
            return Err(bad("dim", "must be >= 1"));
        }
        if !(self.leak.is_finite() && self.leak >= 0.0) {
            return Err(bad("leak", "must be >= 0 (0: a perfect integrator)"));
        }
        if !(self.decay.is_finite() && self.decay > 0.0) {
            return Err(bad("decay", "must be > 0"));
        }
        if self.coherences.is_empty() || self.coherences.iter().any(|c| !c.is_finite()) {
            return Err(bad("coherences", "must be a non-empty list of numbers"));
        }
        if !(self.input_noise.is_finite() && self.input_noise >= 0.0) {
            return Err(bad("input_noise", "must be >= 0"));
        }
        if !(self.extent.is_finite() && self.extent > 0.0) {
            return Err(bad("extent", "must be > 0"));
        }
        Ok(self.clone())
    }

    fn rates(&self) -> Vec<f64> {
        (0..self.dim)
            .map(|i| if i == 0 { -self.leak } else { -self.decay })
            .collect()
    }
}

impl System for Integrator {
    fn name(&self) -> &'static str {
        "integrator"
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn n_inputs(&self) -> usize {
        1
    }
    fn field(&self, x: &[f64], u: &[f64], out: &mut [f64]) {
        for (i, r) in self.rates().into_iter().enumerate() {
            out[i] = r * x[i];
        }
        out[0] += u[0];
    }
    fn jacobian(&self, _x: &[f64], _u: &[f64], jac: &mut Matrix) {
        *jac = Matrix::from_diag(&self.rates());
    }
    fn truth(&self) -> Result<Truth> {
        let ev: Vec<Complex64> = self
            .rates()
            .iter()
            .map(|&r| Complex64::new(r, 0.0))
            .collect();
        if self.leak > 0.0 {
            let p = TrueFixedPoint::from_eigenvalues(vec![0.0; self.dim], &ev);
            return Ok(Truth::fixed_points(self.dim, vec![p]));
        }
        let n = 101;
        let points: Vec<Vec<f64>> = (0..n)
            .map(|k| {
                let mut x = vec![0.0; self.dim];
                x[0] = self.extent * (2.0 * k as f64 / (n - 1) as f64 - 1.0);
                x
            })
            .collect();
        let mut tangent = vec![0.0; self.dim];
        tangent[0] = 1.0;
        let mut truth = Truth::fixed_points(self.dim, Vec::new());
        truth.manifolds.push(Manifold {
            kind: ManifoldKind::Line,
            tangents: vec![tangent; n],
            points,
            marginal_modes: 1,
            max_speed: 0.0,
        });
        Ok(truth)
    }
    fn init_box(&self) -> (Vec<f64>, Vec<f64>) {
        let mut lo = vec![-0.2; self.dim];
        let mut hi = vec![0.2; self.dim];
        lo[0] = -0.2 * self.extent;
        hi[0] = 0.2 * self.extent;
        (lo, hi)
    }
    fn n_conditions(&self) -> usize {
        self.coherences.len()
    }
    fn inputs(&self, condition: usize, steps: usize, dt: f64, rng: &mut ChaCha8Rng) -> Matrix {
        let c = self.coherences[condition % self.coherences.len()];
        let s = self.input_noise / dt.sqrt();
        Matrix::from_fn(steps, 1, |_, _| {
            let xi: f64 = rng.sample(StandardNormal);
            c + s * xi
        })
    }
}
