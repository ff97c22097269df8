//! A teacher network in the standard weights form (RS-11; [`crate::recovery::network`]): a
//! discrete or rate RNN, a GRU or a linear system given as `.npy` blocks (written by anyone,
//! or by learndyn's own runs with `[output] weights = true`), whose attractors are found
//! numerically by learndyn's fixed-point finder. Driven by input pulses like the flip-flop
//! task: at each step each input channel carries `+-pulse_amplitude` with probability
//! `pulse_probability`, else 0.

use super::{bad, System};
use crate::error::Result;
use crate::linalg::Matrix;
use crate::model::state_map::TimeKind;
use crate::recovery::network::Network;
use crate::recovery::truth::{Provenance, Truth};
use rand::rngs::ChaCha8Rng;
use rand::RngExt;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// `[system] kind = "network"`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSystem {
    /// Folder holding `network.json` and the blocks (relative to the working directory).
    pub path: PathBuf,
    /// Lower corner of the initial-state box, every unit [default -1].
    #[serde(default = "minus_one")]
    pub init_low: f64,
    /// Upper corner [default 1].
    #[serde(default = "plus_one")]
    pub init_high: f64,
    /// Probability per step and input channel of a pulse [default 0].
    #[serde(default)]
    pub pulse_probability: f64,
    /// Pulse size [default 1].
    #[serde(default = "plus_one")]
    pub pulse_amplitude: f64,
    #[serde(skip)]
    net: Option<Box<Network>>,
}

fn minus_one() -> f64 {
    -1.0
}
fn plus_one() -> f64 {
    1.0
}

impl NetworkSystem {
    pub(super) fn validated(&self) -> Result<Self> {
        if !(self.init_low.is_finite()
            && self.init_high.is_finite()
            && self.init_low < self.init_high)
        {
            return Err(bad("init_low", "init_low < init_high, both finite"));
        }
        if !(0.0..=1.0).contains(&self.pulse_probability) || !self.pulse_amplitude.is_finite() {
            return Err(bad(
                "pulse_probability",
                "must be in [0, 1], with a finite pulse_amplitude",
            ));
        }
        let net = Network::load(&self.path).map_err(|e| bad("path", format!("{e}")))?;
        let mut s = self.clone();
        s.net = Some(Box::new(net));
        Ok(s)
    }

    fn net(&self) -> &Network {
        self.net.as_ref().expect("validated() loads the network")
    }
}

impl System for NetworkSystem {
    fn name(&self) -> &'static str {
        "network"
    }
    fn dim(&self) -> usize {
        self.net().dim()
    }
    fn n_inputs(&self) -> usize {
        self.net().n_inputs()
    }
    fn field(&self, x: &[f64], u: &[f64], out: &mut [f64]) {
        self.net().eval(x, u, out);
    }
    fn jacobian(&self, x: &[f64], u: &[f64], jac: &mut Matrix) {
        self.net().at(u).jacobian(x, jac);
    }
    fn time(&self) -> TimeKind {
        self.net().time()
    }
    fn map_dt(&self) -> f64 {
        self.net().file.dt.unwrap_or(1.0)
    }
    /// Fixed points by learndyn's finder from 2048 seeded states uniform in the box (and
    /// the box's corners and centre); slow points are dropped.
    fn truth(&self) -> Result<Truth> {
        let k = self.dim();
        let mut rng = crate::random::rng(0, 0x7E7);
        let m = 2048;
        let states = Matrix::from_fn(k, m, |_, _| {
            self.init_low + (self.init_high - self.init_low) * rng.random::<f64>()
        });
        let mut points = Vec::new();
        for (x, _) in self.net().fixed_points(&states, 0.0, 0)? {
            points.push(super::describe_fixed_point(self, x)?);
        }
        let mut t = Truth::fixed_points(k, points);
        t.time = self.time();
        t.provenance = Provenance::Numerical;
        Ok(t)
    }
    fn init_box(&self) -> (Vec<f64>, Vec<f64>) {
        let k = self.dim();
        (vec![self.init_low; k], vec![self.init_high; k])
    }
    fn inputs(&self, _condition: usize, steps: usize, _dt: f64, rng: &mut ChaCha8Rng) -> Matrix {
        let n = self.n_inputs();
        let mut u = Matrix::zeros(steps, n);
        if self.pulse_probability > 0.0 {
            for s in 0..steps {
                for j in 0..n {
                    if rng.random::<f64>() < self.pulse_probability {
                        let sign = if rng.random::<bool>() { 1.0 } else { -1.0 };
                        u.set(s, j, sign * self.pulse_amplitude);
                    }
                }
            }
        }
        u
    }
}
