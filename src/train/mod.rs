//! Discrete-time training of finite networks.
//!
//! Gradient descent is its own loop (`theta <- theta - lr grad L`), not Euler on the ODE, so the
//! comparison "finite-lr GD vs gradient flow" is honest. The one bridge between GD steps and
//! gradient-flow time is [`gd_time`] (C-6).

pub mod seq;

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

/// Per-step bookkeeping shared by every optimizer: the divergence test (loss non-finite, or
/// above `divergence_factor` times the initial loss, or non-finite parameters) and the records
/// due at this step. Returns the status to stop with, if any.
#[allow(clippy::too_many_arguments)]
fn checkpoint(
    step: u64,
    loss: f64,
    loss0: f64,
    params: &[f64],
    settings: &GdSettings,
    record_steps: &[u64],
    next: &mut usize,
    on_record: &mut dyn FnMut(u64, &[f64], f64),
) -> Option<TrainStatus> {
    let too_big = loss0 > 0.0 && loss > settings.divergence_factor * loss0;
    if !loss.is_finite() || too_big || !params.iter().all(|v| v.is_finite()) {
        return Some(TrainStatus::Diverged { step, loss });
    }
    while *next < record_steps.len() && record_steps[*next] == step {
        on_record(step, params, loss);
        *next += 1;
    }
    None
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
        if let Some(stop) = checkpoint(
            step,
            loss,
            loss0,
            params,
            settings,
            record_steps,
            &mut next,
            on_record,
        ) {
            return stop;
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

/// Stochastic and adaptive optimizers (issue: the theory atlas): minibatch SGD and Adam on the
/// finite-sample loss, or on the moment loss when the batch is the whole data set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stochastic {
    /// Minibatch SGD: `theta <- theta - lr grad L_batch`.
    Sgd,
    /// Adam (Kingma & Ba 2015) with bias correction:
    /// `m <- b1 m + (1 - b1) g`, `v <- b2 v + (1 - b2) g^2`,
    /// `theta <- theta - lr m_hat / (sqrt(v_hat) + eps)`.
    Adam {
        /// First-moment decay (default 0.9).
        beta1: f64,
        /// Second-moment decay (default 0.999).
        beta2: f64,
        /// Denominator offset (default 1e-8).
        eps: f64,
    },
}

/// Run SGD or Adam from `params`. Each step uses a minibatch of `batch` samples drawn without
/// replacement from `data` (`X`: `d_in x P`, `Y`: `d_out x P`) with `rng`, or the full moment
/// gradient when `data` is `None` or `batch >= P`. Records (and the divergence test) use the
/// full training loss on `moments`, like [`gradient_descent`].
#[allow(clippy::too_many_arguments)]
pub fn stochastic(
    net: &DeepLinearNet,
    moments: &Moments,
    data: Option<(&crate::linalg::Matrix, &crate::linalg::Matrix)>,
    batch: usize,
    optimizer: Stochastic,
    params: &mut [f64],
    settings: &GdSettings,
    rng: &mut rand::rngs::ChaCha8Rng,
    record_steps: &[u64],
    on_record: &mut dyn FnMut(u64, &[f64], f64),
) -> TrainStatus {
    use crate::linalg::Matrix;
    use rand::RngExt;
    let mut ws = net.workspace();
    let mut grad = vec![0.0; params.len()];
    let (mut m1, mut m2) = (vec![0.0; params.len()], vec![0.0; params.len()]);
    let mut next = 0usize;
    let loss0 = net.loss(params, moments, &mut ws);
    let p = data.map_or(0, |(x, _)| x.ncols());
    let minibatch = data.is_some() && batch < p;
    let mut idx: Vec<usize> = (0..p).collect();
    let (mut xb, mut yb) = match data {
        Some((x, y)) if minibatch => (
            Matrix::zeros(x.nrows(), batch),
            Matrix::zeros(y.nrows(), batch),
        ),
        _ => (Matrix::zeros(0, 0), Matrix::zeros(0, 0)),
    };
    for step in 0..=settings.steps {
        let loss = net.loss(params, moments, &mut ws);
        if let Some(stop) = checkpoint(
            step,
            loss,
            loss0,
            params,
            settings,
            record_steps,
            &mut next,
            on_record,
        ) {
            return stop;
        }
        if step == settings.steps {
            break;
        }
        match data {
            Some((x, y)) if minibatch => {
                // Partial Fisher-Yates: the first `batch` entries of idx are a uniform sample.
                for i in 0..batch {
                    let j = rng.random_range(i..p);
                    idx.swap(i, j);
                }
                for (c, &k) in idx[..batch].iter().enumerate() {
                    for r in 0..x.nrows() {
                        xb.set(r, c, x.get(r, k));
                    }
                    for r in 0..y.nrows() {
                        yb.set(r, c, y.get(r, k));
                    }
                }
                net.sample_loss_and_grad(params, &xb, &yb, &mut grad);
            }
            _ => {
                net.loss_and_grad(params, moments, &mut grad, &mut ws);
            }
        }
        match optimizer {
            Stochastic::Sgd => {
                for (v, g) in params.iter_mut().zip(&grad) {
                    *v -= settings.lr * g;
                }
            }
            Stochastic::Adam { beta1, beta2, eps } => {
                let k = (step + 1) as i32;
                let (c1, c2) = (1.0 - beta1.powi(k), 1.0 - beta2.powi(k));
                for i in 0..params.len() {
                    let g = grad[i];
                    m1[i] = beta1 * m1[i] + (1.0 - beta1) * g;
                    m2[i] = beta2 * m2[i] + (1.0 - beta2) * g * g;
                    params[i] -= settings.lr * (m1[i] / c1) / ((m2[i] / c2).sqrt() + eps);
                }
            }
        }
    }
    TrainStatus::Completed
}
