//! The idealized n-bit flip-flop (RS-1, attractors.md C3): `bits` independent double wells
//! `dx_i/dt = -s U'(x_i) + u_i(t)`, `U(x) = x^2 (1 - x)^2`, so `U'(x) = 2x - 6x^2 + 4x^3` and
//! `U''(x) = 2 - 12x + 12x^2`. Each coordinate has stable points 0 and 1 (`U'' = 2`) and a
//! saddle at 1/2 (`U'' = -1`); the product has `3^bits` fixed points, `C(bits, k) 2^(bits-k)`
//! of them with `k` unstable directions. Inputs are flip pulses: in each step, each bit gets
//! a pulse of `+amplitude` (towards 1) or `-amplitude` with probability `pulse_prob` each,
//! lasting `pulse_steps` steps.

use super::{bad, System};
use crate::error::Result;
use crate::linalg::Matrix;
use crate::recovery::truth::{TrueFixedPoint, Truth};
use num_complex::Complex64;
use rand::rngs::ChaCha8Rng;
use rand::RngExt;
use serde::{Deserialize, Serialize};

/// Parameters of the n-bit flip-flop (`[system] kind = "flip_flop"`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FlipFlop {
    /// Number of bits `n` (state dimension), 1 ..= 10.
    pub bits: usize,
    /// Speed `s` of the gradient flow.
    pub speed: f64,
    /// Probability per step and bit of a pulse of each sign.
    pub pulse_prob: f64,
    /// Pulse amplitude (input units; must exceed the barrier force `s * max U' = s / (3 sqrt 3)`
    /// for a pulse to flip a bit).
    pub amplitude: f64,
    /// Steps a pulse lasts.
    pub pulse_steps: usize,
}

impl Default for FlipFlop {
    fn default() -> Self {
        FlipFlop {
            bits: 3,
            speed: 1.0,
            pulse_prob: 0.02,
            amplitude: 1.0,
            pulse_steps: 5,
        }
    }
}

impl FlipFlop {
    pub(super) fn validated(&self) -> Result<Self> {
        if !(1..=10).contains(&self.bits) {
            return Err(bad(
                "bits",
                "must be 1 ..= 10 (3^bits fixed points are listed)",
            ));
        }
        if !(self.speed.is_finite() && self.speed > 0.0) {
            return Err(bad("speed", "must be a positive number"));
        }
        if !(0.0..=0.5).contains(&self.pulse_prob) {
            return Err(bad(
                "pulse_prob",
                "must be in [0, 0.5] (one probability per sign)",
            ));
        }
        if !self.amplitude.is_finite() || self.pulse_steps == 0 {
            return Err(bad("amplitude", "must be finite, with pulse_steps >= 1"));
        }
        Ok(self.clone())
    }
}

fn du(x: f64) -> f64 {
    2.0 * x - 6.0 * x * x + 4.0 * x * x * x
}

fn d2u(x: f64) -> f64 {
    2.0 - 12.0 * x + 12.0 * x * x
}

impl System for FlipFlop {
    fn name(&self) -> &'static str {
        "flip_flop"
    }
    fn dim(&self) -> usize {
        self.bits
    }
    fn n_inputs(&self) -> usize {
        self.bits
    }
    fn field(&self, x: &[f64], u: &[f64], out: &mut [f64]) {
        for ((o, &xi), &ui) in out.iter_mut().zip(x).zip(u).take(self.bits) {
            *o = -self.speed * du(xi) + ui;
        }
    }
    fn jacobian(&self, x: &[f64], _u: &[f64], jac: &mut Matrix) {
        let d: Vec<f64> = x.iter().map(|&xi| -self.speed * d2u(xi)).collect();
        *jac = Matrix::from_diag(&d);
    }
    fn truth(&self) -> Result<Truth> {
        let n = self.bits;
        let levels = [0.0, 0.5, 1.0];
        let mut points = Vec::with_capacity(3usize.pow(n as u32));
        for code in 0..3usize.pow(n as u32) {
            let mut c = code;
            let x: Vec<f64> = (0..n)
                .map(|_| {
                    let l = levels[c % 3];
                    c /= 3;
                    l
                })
                .collect();
            // Diagonal Jacobian: the eigenvalues are -s U''(x_i) exactly.
            let ev: Vec<Complex64> = x
                .iter()
                .map(|&xi| Complex64::new(-self.speed * d2u(xi), 0.0))
                .collect();
            points.push(TrueFixedPoint::from_eigenvalues(x, &ev));
        }
        Ok(Truth::fixed_points(n, points))
    }
    fn init_box(&self) -> (Vec<f64>, Vec<f64>) {
        (vec![-0.25; self.bits], vec![1.25; self.bits])
    }
    fn inputs(&self, _condition: usize, steps: usize, _dt: f64, rng: &mut ChaCha8Rng) -> Matrix {
        let mut u = Matrix::zeros(steps, self.bits);
        for b in 0..self.bits {
            let mut k = 0;
            while k < steps {
                let r: f64 = rng.random();
                let sign = if r < self.pulse_prob {
                    1.0
                } else if r < 2.0 * self.pulse_prob {
                    -1.0
                } else {
                    k += 1;
                    continue;
                };
                for j in k..(k + self.pulse_steps).min(steps) {
                    u.set(j, b, sign * self.amplitude);
                }
                k += self.pulse_steps;
            }
        }
        u
    }
}
