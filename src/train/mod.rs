//! Discrete-time training of any [`Model`]: one loop for every model family and optimizer.
//!
//! Gradient descent is its own loop (`theta <- theta - lr grad L`), not Euler on the ODE, so the
//! comparison "finite-lr GD vs gradient flow" is honest. The one bridge between GD steps and
//! gradient-flow time is [`gd_time`] (C-6): `t = lr * step`, and with a learning-rate schedule
//! `lr_k` the accumulated rate `t_k = sum_{j<k} lr_j` ([`schedule_times`]).
//!
//! [`Trainer::train`] runs full-batch GD, minibatch SGD or Adam, with global-norm gradient
//! clipping, a learning-rate [`Schedule`] and divergence detection; BPTT truncation and the
//! like belong to the model ([`crate::model::SeqRnnModel`]).

use crate::error::Result;
use crate::model::Model;
use rand::RngExt;

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
    /// The loss became non-finite or exceeded `divergence_factor` times its initial value,
    /// or the parameters became non-finite.
    Diverged {
        /// First step at which the loss was non-finite or too large.
        step: u64,
        /// The loss there (may be NaN or inf).
        loss: f64,
    },
}

/// The update rule of a training run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Optimizer {
    /// Full-batch gradient descent: `theta <- theta - lr_k grad L`.
    Gd,
    /// Minibatch SGD: `theta <- theta - lr_k grad L_batch`.
    Sgd,
    /// Adam (Kingma & Ba 2015) with bias correction:
    /// `m <- b1 m + (1 - b1) g`, `v <- b2 v + (1 - b2) g^2`,
    /// `theta <- theta - lr_k m_hat / (sqrt(v_hat) + eps)`.
    Adam {
        /// First-moment decay (default 0.9).
        beta1: f64,
        /// Second-moment decay (default 0.999).
        beta2: f64,
        /// Denominator offset (default 1e-8).
        eps: f64,
    },
}

/// A learning-rate schedule `lr_k` for step `k = 0, 1, ...`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Schedule {
    /// `lr_k = lr`.
    Constant,
    /// `lr_k = lr * factor^floor(k / every)`.
    Step {
        /// Multiplier per period.
        factor: f64,
        /// Period in steps (>= 1).
        every: u64,
    },
    /// `lr_k = lr * factor^(k / every)` (smooth).
    Exponential {
        /// Multiplier per period.
        factor: f64,
        /// Period in steps (>= 1).
        every: u64,
    },
    /// `lr_k = lr * (f + (1 - f) (1 + cos(pi k / steps)) / 2)`: from `lr` to `f * lr` over
    /// `steps`.
    Cosine {
        /// Final fraction `f` of the learning rate.
        final_fraction: f64,
        /// Length of the run in steps.
        steps: u64,
    },
}

impl Schedule {
    /// The learning rate of step `k` for base rate `lr`.
    pub fn rate(&self, lr: f64, k: u64) -> f64 {
        match *self {
            Schedule::Constant => lr,
            Schedule::Step { factor, every } => lr * factor.powi((k / every) as i32),
            Schedule::Exponential { factor, every } => lr * factor.powf(k as f64 / every as f64),
            Schedule::Cosine {
                final_fraction,
                steps,
            } => {
                let c =
                    0.5 * (1.0 + (std::f64::consts::PI * k.min(steps) as f64 / steps as f64).cos());
                lr * (final_fraction + (1.0 - final_fraction) * c)
            }
        }
    }
}

/// Settings of a [`Trainer`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainSettings {
    /// Base learning rate (> 0).
    pub lr: f64,
    /// Number of updates.
    pub steps: u64,
    /// The update rule.
    pub optimizer: Optimizer,
    /// Minibatch size (`None`, or `>= n_samples` of the model: full batch).
    pub batch_size: Option<usize>,
    /// Clip the gradient to this global 2-norm before each update.
    pub clip: Option<f64>,
    /// Learning-rate schedule.
    pub schedule: Schedule,
    /// A run is diverged when its full loss exceeds this factor times the initial loss, or
    /// the loss or parameters become non-finite.
    pub divergence_factor: f64,
}

impl TrainSettings {
    /// Plain settings: constant rate, no clipping, full batch, divergence at `1e6` times the
    /// initial loss.
    pub fn new(lr: f64, steps: u64, optimizer: Optimizer) -> Self {
        TrainSettings {
            lr,
            steps,
            optimizer,
            batch_size: None,
            clip: None,
            schedule: Schedule::Constant,
            divergence_factor: 1e6,
        }
    }
}

/// One record of a training run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stamp {
    /// Number of updates taken.
    pub step: u64,
    /// Gradient-flow time `sum_{j<step} lr_j` (C-6).
    pub t: f64,
    /// Full-data loss at this step.
    pub loss: f64,
}

/// The one training loop (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trainer {
    /// Its settings.
    pub settings: TrainSettings,
}

/// Optimizer state carried across steps (Adam's moments).
struct Moments {
    m1: Vec<f64>,
    m2: Vec<f64>,
}

impl Trainer {
    /// A trainer with `settings`.
    pub fn new(settings: TrainSettings) -> Self {
        Trainer { settings }
    }

    /// Train `theta` in place. `on_record(stamp, theta)` is called at each step of
    /// `record_steps` (nondecreasing, within `0..=steps`) with the parameters after `step`
    /// updates. Minibatches are drawn with `rng` (uniform, without replacement).
    ///
    /// The divergence test (`divergence_factor`) uses the full loss, which full-batch steps
    /// have at every step and minibatch steps at record steps; every update also stops on a
    /// non-finite minibatch loss or non-finite parameters. A diverged run stops there; records
    /// after it are not produced. Only errors of the model (bad data) are `Err`; divergence is
    /// a [`TrainStatus`].
    pub fn train(
        &self,
        model: &mut dyn Model,
        theta: &mut [f64],
        rng: &mut rand::rngs::ChaCha8Rng,
        record_steps: &[u64],
        on_record: &mut dyn FnMut(Stamp, &[f64]),
    ) -> Result<TrainStatus> {
        let s = &self.settings;
        let np = model.n_params();
        let n_samples = model.n_samples();
        let mut grad = vec![0.0; np];
        let mut moments = Moments {
            m1: vec![0.0; np],
            m2: vec![0.0; np],
        };
        let batch = s.batch_size.filter(|&b| b < n_samples);
        let mut idx: Vec<usize> = (0..n_samples).collect();
        let mut next = 0usize;
        let mut t = 0.0;
        let mut loss0 = f64::NAN;
        for step in 0..=s.steps {
            let record_due = next < record_steps.len() && record_steps[next] == step;
            // A full-batch update gets the full loss from its gradient evaluation; otherwise
            // the full loss is evaluated only where it is recorded.
            let full_batch_step = batch.is_none() && step < s.steps;
            let mut loss_full = None;
            if full_batch_step {
                loss_full = Some(model.loss_and_grad(theta, None, &mut grad)?);
            } else if record_due || step == 0 {
                loss_full = Some(model.loss(theta)?);
            }
            if step == 0 {
                loss0 = loss_full.unwrap_or(f64::NAN);
            }
            if let Some(l) = loss_full {
                if self.diverged(l, loss0, theta) {
                    return Ok(TrainStatus::Diverged { step, loss: l });
                }
            }
            while next < record_steps.len() && record_steps[next] == step {
                let t = match s.schedule {
                    Schedule::Constant => gd_time(step, s.lr),
                    _ => t,
                };
                let loss = loss_full.unwrap_or(f64::NAN);
                on_record(Stamp { step, t, loss }, theta);
                next += 1;
            }
            if step == s.steps {
                break;
            }
            if let Some(b) = batch {
                // Partial Fisher-Yates: the first b entries of idx are a uniform sample
                // without replacement.
                for i in 0..b {
                    let j = rng.random_range(i..n_samples);
                    idx.swap(i, j);
                }
                let l = model.loss_and_grad(theta, Some(&idx[..b]), &mut grad)?;
                if !l.is_finite() {
                    return Ok(TrainStatus::Diverged { step, loss: l });
                }
            }
            let lr = s.schedule.rate(s.lr, step);
            self.update(theta, &mut grad, &mut moments, lr, step);
            t += lr;
            if !theta.iter().all(|v| v.is_finite()) {
                return Ok(TrainStatus::Diverged {
                    step: step + 1,
                    loss: f64::NAN,
                });
            }
        }
        Ok(TrainStatus::Completed)
    }

    fn diverged(&self, loss: f64, loss0: f64, theta: &[f64]) -> bool {
        !loss.is_finite()
            || (loss0 > 0.0 && loss > self.settings.divergence_factor * loss0)
            || !theta.iter().all(|v| v.is_finite())
    }

    /// One update of step `step` (0-based) with rate `lr`, after clipping `grad`.
    fn update(&self, theta: &mut [f64], grad: &mut [f64], st: &mut Moments, lr: f64, step: u64) {
        if let Some(c) = self.settings.clip {
            let norm = grad.iter().map(|g| g * g).sum::<f64>().sqrt();
            if norm > c {
                let s = c / norm;
                grad.iter_mut().for_each(|g| *g *= s);
            }
        }
        match self.settings.optimizer {
            Optimizer::Gd | Optimizer::Sgd => {
                for (v, g) in theta.iter_mut().zip(grad.iter()) {
                    *v -= lr * g;
                }
            }
            Optimizer::Adam { beta1, beta2, eps } => {
                let k = (step + 1) as i32;
                let (c1, c2) = (1.0 - beta1.powi(k), 1.0 - beta2.powi(k));
                for i in 0..theta.len() {
                    let g = grad[i];
                    st.m1[i] = beta1 * st.m1[i] + (1.0 - beta1) * g;
                    st.m2[i] = beta2 * st.m2[i] + (1.0 - beta2) * g * g;
                    theta[i] -= lr * (st.m1[i] / c1) / ((st.m2[i] / c2).sqrt() + eps);
                }
            }
        }
    }
}

/// Gradient-flow times of `record_steps` under a schedule: `t_k = sum_{j<k} lr_j`.
/// For the constant schedule this is exactly [`gd_time`].
pub fn schedule_times(schedule: &Schedule, lr: f64, record_steps: &[u64]) -> Vec<f64> {
    if let Schedule::Constant = schedule {
        return record_steps.iter().map(|&k| gd_time(k, lr)).collect();
    }
    let mut out = Vec::with_capacity(record_steps.len());
    let (mut t, mut k) = (0.0, 0u64);
    for &s in record_steps {
        while k < s {
            t += schedule.rate(lr, k);
            k += 1;
        }
        out.push(t);
    }
    out
}
