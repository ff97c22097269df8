//! The Galgali trio (RS-3, attractors.md C2, Galgali, Sahani & Mante 2023): three 2-D systems
//! with identical condition averages but different mechanisms.
//! - saddle: `dx/dt = a x^3 + b x + u_x`, `dy/dt = c y + u_y` (a = -6, b = 20, c = -10 per
//!   second); with `u = 0`: a saddle at 0 (eigenvalues `b, c`) and stable points
//!   `x = +-sqrt(-b/a)` (eigenvalues `3a x^2 + b = -2b, c`). The input is `(+-amplitude, 0)`.
//! - line: `dx/dt = A x + u`, `A = [[0, -5], [0, -5]]`: eigenvalues `0, -5`, a line of fixed
//!   points along `(1, 0)`.
//! - point: `dx/dt = diag(-20, -40) x + u`.
//!
//! The line and point inputs are solved from the saddle's noise-free mean trajectory
//! `xbar(t)` (from the mean initial state 0): `u(t) = dxbar/dt - A xbar(t)`, evaluated at the
//! middle of each step, so their (linear) condition averages equal the saddle's deterministic
//! trajectory up to `O(dt^2)`; the saddle's own average differs from it only through its
//! nonlinearity acting on the noise.

use super::{bad, System};
use crate::error::Result;
use crate::integrate::{self, Ivp, Method, Options, Output, VectorField, Workspace};
use crate::linalg::Matrix;
use crate::recovery::truth::{Manifold, ManifoldKind, TrueFixedPoint, Truth};
use num_complex::Complex64;
use rand::rngs::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Which of the three mechanisms.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TrioMechanism {
    /// Bistable with a saddle at the origin.
    Saddle,
    /// Line attractor (non-normal).
    Line,
    /// Point attractor.
    Point,
}

/// Parameters of the trio (`[system] kind = "trio"`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Trio {
    /// saddle, line or point.
    pub mechanism: TrioMechanism,
    /// Amplitude of the saddle's input `(+-amplitude, 0)` (two conditions).
    pub amplitude: f64,
    /// Half-width of the uniform initial-state box around 0 (Galgali: std sqrt(0.005), i.e.
    /// half-width sqrt(3 * 0.005) = 0.1225 for the same variance).
    pub init_halfwidth: f64,
}

impl Default for Trio {
    fn default() -> Self {
        Trio {
            mechanism: TrioMechanism::Saddle,
            amplitude: 8.0,
            init_halfwidth: (3.0f64 * 0.005).sqrt(),
        }
    }
}

const A: f64 = -6.0;
const B: f64 = 20.0;
const C: f64 = -10.0;
const LINE: [[f64; 2]; 2] = [[0.0, -5.0], [0.0, -5.0]];
const POINT: [[f64; 2]; 2] = [[-20.0, 0.0], [0.0, -40.0]];

fn saddle_field(x: &[f64], u: &[f64], out: &mut [f64]) {
    out[0] = A * x[0] * x[0] * x[0] + B * x[0] + u[0];
    out[1] = C * x[1] + u[1];
}

impl Trio {
    pub(super) fn validated(&self) -> Result<Self> {
        if !self.amplitude.is_finite() {
            return Err(bad("amplitude", "must be a finite number"));
        }
        if !(self.init_halfwidth.is_finite() && self.init_halfwidth >= 0.0) {
            return Err(bad("init_halfwidth", "must be >= 0"));
        }
        Ok(self.clone())
    }

    fn linear_part(&self) -> Option<[[f64; 2]; 2]> {
        match self.mechanism {
            TrioMechanism::Saddle => None,
            TrioMechanism::Line => Some(LINE),
            TrioMechanism::Point => Some(POINT),
        }
    }

    /// The saddle's noise-free mean trajectory of condition `sign` at times `times`.
    fn saddle_mean(&self, sign: f64, times: &[f64]) -> Vec<[f64; 2]> {
        struct F(f64);
        impl VectorField for F {
            fn dim(&self) -> usize {
                2
            }
            fn eval(&mut self, _t: f64, y: &[f64], dy: &mut [f64]) {
                saddle_field(y, &[self.0, 0.0], dy);
            }
        }
        let mut out = Vec::with_capacity(times.len());
        let mut save = |_t: f64, y: &[f64]| out.push([y[0], y[1]]);
        let opts = Options {
            rtol: 1e-10,
            atol: integrate::Atol::Scalar(1e-12),
            ..Options::default()
        };
        let t1 = times.last().copied().unwrap_or(0.0);
        let mut ws = Workspace::new(2);
        let method = Method::parse("dop853").expect("built-in method");
        // The field is smooth and the span short: a failure here is a bug, not user input.
        integrate::solve(
            &method,
            &mut F(sign * self.amplitude),
            &Ivp::new(0.0, &[0.0, 0.0], t1),
            &opts,
            &mut ws,
            &mut Output::at_times(times, &mut save),
        )
        .expect("the saddle's mean trajectory integrates");
        out
    }
}

impl System for Trio {
    fn name(&self) -> &'static str {
        "trio"
    }
    fn dim(&self) -> usize {
        2
    }
    fn n_inputs(&self) -> usize {
        2
    }
    fn field(&self, x: &[f64], u: &[f64], out: &mut [f64]) {
        match self.linear_part() {
            None => saddle_field(x, u, out),
            Some(a) => {
                for i in 0..2 {
                    out[i] = a[i][0] * x[0] + a[i][1] * x[1] + u[i];
                }
            }
        }
    }
    fn jacobian(&self, x: &[f64], _u: &[f64], jac: &mut Matrix) {
        let a = self
            .linear_part()
            .unwrap_or([[3.0 * A * x[0] * x[0] + B, 0.0], [0.0, C]]);
        *jac = Matrix::from_fn(2, 2, |i, j| a[i][j]);
    }
    fn truth(&self) -> Result<Truth> {
        let re = |v: &[f64]| {
            v.iter()
                .map(|&r| Complex64::new(r, 0.0))
                .collect::<Vec<_>>()
        };
        Ok(match self.mechanism {
            TrioMechanism::Saddle => {
                let xs = (-B / A).sqrt();
                Truth::fixed_points(
                    2,
                    vec![
                        TrueFixedPoint::from_eigenvalues(vec![0.0, 0.0], &re(&[B, C])),
                        TrueFixedPoint::from_eigenvalues(vec![xs, 0.0], &re(&[-2.0 * B, C])),
                        TrueFixedPoint::from_eigenvalues(vec![-xs, 0.0], &re(&[-2.0 * B, C])),
                    ],
                )
            }
            TrioMechanism::Point => Truth::fixed_points(
                2,
                vec![TrueFixedPoint::from_eigenvalues(
                    vec![0.0, 0.0],
                    &re(&[-20.0, -40.0]),
                )],
            ),
            TrioMechanism::Line => {
                // A (1, 0)^T = 0: the x axis is a line of fixed points, listed over the range the
                // saddle's mean trajectories cover.
                let ext = 1.1 * (-B / A).sqrt().max(self.amplitude.abs() / B);
                let n = 101;
                let mut t = Truth::fixed_points(2, Vec::new());
                t.manifolds.push(Manifold {
                    kind: ManifoldKind::Line,
                    points: (0..n)
                        .map(|k| vec![ext * (2.0 * k as f64 / (n - 1) as f64 - 1.0), 0.0])
                        .collect(),
                    tangents: vec![vec![1.0, 0.0]; n],
                    marginal_modes: 1,
                    max_speed: 0.0,
                });
                t
            }
        })
    }
    fn init_box(&self) -> (Vec<f64>, Vec<f64>) {
        let h = self.init_halfwidth;
        (vec![-h, -h], vec![h, h])
    }
    fn n_conditions(&self) -> usize {
        2
    }
    fn inputs(&self, condition: usize, steps: usize, dt: f64, _rng: &mut ChaCha8Rng) -> Matrix {
        let sign = if condition % 2 == 0 { 1.0 } else { -1.0 };
        let Some(a) = self.linear_part() else {
            return Matrix::from_fn(
                steps,
                2,
                |_, j| if j == 0 { sign * self.amplitude } else { 0.0 },
            );
        };
        let mids: Vec<f64> = (0..steps).map(|k| (k as f64 + 0.5) * dt).collect();
        let xbar = self.saddle_mean(sign, &mids);
        let mut u = Matrix::zeros(steps, 2);
        let mut f = [0.0; 2];
        for (k, x) in xbar.iter().enumerate() {
            saddle_field(x, &[sign * self.amplitude, 0.0], &mut f);
            for i in 0..2 {
                u.set(k, i, f[i] - (a[i][0] * x[0] + a[i][1] * x[1]));
            }
        }
        u
    }
}
