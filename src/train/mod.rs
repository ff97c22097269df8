//! Discrete-time training of finite networks.
//!
//! Gradient descent is its own loop (`theta <- theta - lr grad L`), not Euler on the ODE, so the
//! comparison "finite-lr GD vs gradient flow" is honest. The one bridge between GD steps and
//! gradient-flow time is [`gd_time`] (C-6).

use crate::model::{DeepLinearNet, Moments};

/// Gradient-flow time of GD step `step` at learning rate `lr` (C-6): `t = lr * step`
/// (time in units of tau = 1; the expectation-convention loss makes no factor of P appear).
pub fn gd_time(step: u64, lr: f64) -> f64 {
    lr * step as f64
}

/// How a training run ended.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TrainStatus {
    /// All steps were taken.
    Completed,
    /// The loss became non-finite or exceeded `divergence_factor` times its initial value.
    Diverged {
        /// First step at which the loss was non-finite or too large.
        step: u64,
        /// The loss there (may be NaN or inf).
        loss: f64,
    },
}

/// Full-batch gradient descent settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GdSettings {
    /// Learning rate (> 0).
    pub lr: f64,
    /// Number of steps.
    pub steps: u64,
    /// A run counts as diverged when its loss exceeds this factor times the initial loss
    /// (or becomes NaN/inf).
    pub divergence_factor: f64,
}

/// Run full-batch GD on the moment loss from `params` (updated in place).
///
/// `record_steps` (nondecreasing, within `0..=steps`) are the steps at which
/// `on_record(step, params, loss)` is called with the parameters *before* the update of that
/// step, i.e. after `step` updates. A diverged run stops at the first bad step; records after
/// it are not produced.
pub fn gradient_descent(
    net: &DeepLinearNet,
    moments: &Moments,
    params: &mut [f64],
    settings: &GdSettings,
    record_steps: &[u64],
    on_record: &mut dyn FnMut(u64, &[f64], f64),
) -> TrainStatus {
    let mut ws = net.workspace();
    let mut grad = vec![0.0; params.len()];
    let mut next = 0usize;
    let mut loss0 = f64::NAN;
    for step in 0..=settings.steps {
        let loss = net.loss_and_grad(params, moments, &mut grad, &mut ws);
        if step == 0 {
            loss0 = loss;
        }
        let too_big = loss0 > 0.0 && loss > settings.divergence_factor * loss0;
        if !loss.is_finite() || too_big || !params.iter().all(|p| p.is_finite()) {
            return TrainStatus::Diverged { step, loss };
        }
        while next < record_steps.len() && record_steps[next] == step {
            on_record(step, params, loss);
            next += 1;
        }
        if step == settings.steps {
            break;
        }
        for (p, g) in params.iter_mut().zip(&grad) {
            *p -= settings.lr * g;
        }
    }
    TrainStatus::Completed
}
