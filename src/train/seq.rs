//! Discrete-time training of any model with a flat parameter vector and a loss over a set of
//! sequences (the RNNs of issue 5): full-batch GD, minibatch SGD and Adam, global-norm
//! gradient clipping, learning-rate schedules, and divergence detection.
//!
//! The time bridge (C-6) with a schedule `lr_k` is `t_k = sum_{j<k} lr_j`: gradient flow
//! time is the accumulated learning rate, which is `lr * k` for a constant rate.

use super::{Stochastic, TrainStatus};
use crate::error::Result;

/// A training objective over `n_sequences()` sequences and a flat parameter vector.
pub trait Objective {
    /// Length of the parameter vector.
    fn n_params(&self) -> usize;
    /// Number of training sequences (the population minibatches are drawn from).
    fn n_sequences(&self) -> usize;
    /// Loss and gradient (into `grad`, `n_params` entries) on the sequences `batch`
    /// (`None`: all of them).
    fn loss_and_grad(
        &mut self,
        theta: &[f64],
        batch: Option<&[usize]>,
        grad: &mut [f64],
    ) -> Result<f64>;
    /// Loss on all sequences.
    fn loss(&mut self, theta: &[f64]) -> Result<f64>;
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
    /// Parse `train.schedule` with its `decay` and `decay_every` (and the run length for
    /// `cosine`); `None` for an unknown name.
    pub fn parse(name: &str, decay: f64, every: u64, steps: u64) -> Option<Schedule> {
        Some(match name {
            "constant" => Schedule::Constant,
            "step" => Schedule::Step {
                factor: decay,
                every: every.max(1),
            },
            "exponential" => Schedule::Exponential {
                factor: decay,
                every: every.max(1),
            },
            "cosine" => Schedule::Cosine {
                final_fraction: decay,
                steps: steps.max(1),
            },
            _ => return None,
        })
    }

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

/// Settings of [`train`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeqTrainSettings {
    /// Base learning rate (> 0).
    pub lr: f64,
    /// Number of updates.
    pub steps: u64,
    /// `None`: full-batch gradient descent. `Some(Sgd | Adam)` with `batch_size`.
    pub optimizer: Option<Stochastic>,
    /// Minibatch size (`None` or `>= n_sequences`: full batch).
    pub batch_size: Option<usize>,
    /// Clip the gradient to this global 2-norm before each update.
    pub clip: Option<f64>,
    /// Learning-rate schedule.
    pub schedule: Schedule,
    /// A run is diverged when its full loss exceeds this factor times the initial loss, or
    /// the loss or parameters become non-finite.
    pub divergence_factor: f64,
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

/// Train `theta` in place. `on_record(stamp, theta)` is called at each step of `record_steps`
/// (nondecreasing, within `0..=steps`) with the parameters after `step` updates. The
/// divergence test (`divergence_factor`) uses the full loss, which full-batch GD has at every
/// step and minibatch optimizers at record steps; every update also stops on a non-finite
/// minibatch loss or non-finite parameters. A diverged run stops there; records after it are
/// not produced. Only errors of the
/// objective (bad data) are `Err`; divergence is a [`TrainStatus`].
pub fn train(
    obj: &mut dyn Objective,
    theta: &mut [f64],
    settings: &SeqTrainSettings,
    rng: &mut rand::rngs::ChaCha8Rng,
    record_steps: &[u64],
    on_record: &mut dyn FnMut(Stamp, &[f64]),
) -> Result<TrainStatus> {
    use rand::RngExt;
    let np = obj.n_params();
    let n_seq = obj.n_sequences();
    let mut grad = vec![0.0; np];
    let (mut m1, mut m2) = (vec![0.0; np], vec![0.0; np]);
    let batch = settings.batch_size.filter(|&b| b < n_seq);
    let mut idx: Vec<usize> = (0..n_seq).collect();
    let mut sorted_batch: Vec<usize> = Vec::with_capacity(batch.unwrap_or(0));
    let mut next = 0usize;
    let mut t = 0.0;
    let mut loss0 = f64::NAN;
    let diverged = |loss: f64, loss0: f64, theta: &[f64]| {
        !loss.is_finite()
            || (loss0 > 0.0 && loss > settings.divergence_factor * loss0)
            || !theta.iter().all(|v| v.is_finite())
    };
    for step in 0..=settings.steps {
        let record_due = next < record_steps.len() && record_steps[next] == step;
        // Full-batch GD gets the full loss from its gradient evaluation; otherwise the full
        // loss is evaluated only where it is recorded.
        let full_batch_step = batch.is_none() && step < settings.steps;
        let mut loss_full = None;
        if full_batch_step {
            loss_full = Some(obj.loss_and_grad(theta, None, &mut grad)?);
        } else if record_due || step == 0 {
            loss_full = Some(obj.loss(theta)?);
        }
        if step == 0 {
            loss0 = loss_full.unwrap_or(f64::NAN);
        }
        if let Some(l) = loss_full {
            if diverged(l, loss0, theta) {
                return Ok(TrainStatus::Diverged { step, loss: l });
            }
        }
        while next < record_steps.len() && record_steps[next] == step {
            let loss = loss_full.unwrap_or(f64::NAN);
            let t = match settings.schedule {
                Schedule::Constant => super::gd_time(step, settings.lr),
                _ => t,
            };
            on_record(Stamp { step, t, loss }, theta);
            next += 1;
        }
        if step == settings.steps {
            break;
        }
        if let Some(b) = batch {
            // Partial Fisher-Yates: the first b entries of idx are a uniform sample without
            // replacement; sorted so the sub-batch keeps the data order.
            for i in 0..b {
                let j = rng.random_range(i..n_seq);
                idx.swap(i, j);
            }
            sorted_batch.clear();
            sorted_batch.extend_from_slice(&idx[..b]);
            sorted_batch.sort_unstable();
            let l = obj.loss_and_grad(theta, Some(&sorted_batch), &mut grad)?;
            if !l.is_finite() {
                return Ok(TrainStatus::Diverged { step, loss: l });
            }
        }
        if let Some(c) = settings.clip {
            let norm = grad.iter().map(|g| g * g).sum::<f64>().sqrt();
            if norm > c {
                let s = c / norm;
                grad.iter_mut().for_each(|g| *g *= s);
            }
        }
        let lr = settings.schedule.rate(settings.lr, step);
        match settings.optimizer {
            None | Some(Stochastic::Sgd) => {
                for (v, g) in theta.iter_mut().zip(&grad) {
                    *v -= lr * g;
                }
            }
            Some(Stochastic::Adam { beta1, beta2, eps }) => {
                let k = (step + 1) as i32;
                let (c1, c2) = (1.0 - beta1.powi(k), 1.0 - beta2.powi(k));
                for i in 0..np {
                    let g = grad[i];
                    m1[i] = beta1 * m1[i] + (1.0 - beta1) * g;
                    m2[i] = beta2 * m2[i] + (1.0 - beta2) * g * g;
                    theta[i] -= lr * (m1[i] / c1) / ((m2[i] / c2).sqrt() + eps);
                }
            }
        }
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

/// Gradient-flow times of `record_steps` under a schedule: `t_k = sum_{j<k} lr_j`.
/// For the constant schedule this is exactly [`super::gd_time`].
pub fn schedule_times(schedule: &Schedule, lr: f64, record_steps: &[u64]) -> Vec<f64> {
    if let Schedule::Constant = schedule {
        return record_steps
            .iter()
            .map(|&k| super::gd_time(k, lr))
            .collect();
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
