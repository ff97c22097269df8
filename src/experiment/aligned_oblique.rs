//! Check AO1's training protocol (theory/random_init.md RI-9): a tanh rate RNN with a fixed
//! readout of one of the two scales of [`ReadoutScale`], trained on its recurrent weights only
//! by the one [`Trainer`] (Adam), and the readout correlation and participation ratio of its
//! states before and after training.
//!
//! Network (the existing [`SeqRnn`], rate form, no bias; RN-4): `N` units,
//! `h_t = (1 - alpha) h_{t-1} + alpha (W tanh(h_{t-1}) + U x_t)`, `h_0 = 0`, `yhat_t = C h_t`,
//! as in the paper's code (`rnn_model_dt.py`: the readout reads `h`, not `tanh(h)`). Init, all
//! from `random::rng(seed, stream::INIT)` in this order: `W = g chi / sqrt(N)` (`N x N`,
//! column by column), `U` (`N x K`) standard normal (input weights of `O(1)` entries, not scaled
//! with `N`, as the paper's `scale_input_weights = False`), then `C = sd chi` (`K x N`) with
//! `sd = ReadoutScale::entry_sd(N)`. The same seed gives the same `W`, `U` and readout
//! *direction* at both scales: a pair of runs differs only in the readout norm.
//!
//! Task: `2K` trials of `T` steps, a constant input `x_t = s e_k` (`s = +-1`, `k = 1..K`) and
//! the target `yhat_t = s z_hat e_k`, scored on steps `loss_from..=T` (time weights
//! `1/(T - loss_from + 1)` there, 0 before; RN-7). The input drives every unit by `O(1)`; the
//! output must be built by the trained `W`. Tanh is odd and `h_0 = 0`, so trial `-s` is
//! exactly minus trial `s` and the mean over trials is 0.
//!
//! Training: Adam on `W` only, rate `lr0 / N` (the paper's `lr = lr0 / dim_hid`), full batch,
//! `train_steps` updates.
//!
//! Measures: the states `h_1..h_T` of all `2K` trials (`S = 2 K T` samples) give
//! [`readout_correlation`] and [`participation_ratio`] (RI-9).

use crate::error::{Error, Result};
use crate::linalg::Matrix;
use crate::model::rnn::{Activation, SeqBatch};
use crate::model::{Form, Learn, Model, SeqRnn, SeqRnnModel, SeqRnnSpec};
use crate::random::{gaussian_matrix, rng, stream};
use crate::theory::aligned_oblique::{participation_ratio, readout_correlation, ReadoutScale};
use crate::train::{Optimizer, TrainSettings, TrainStatus, Trainer};

/// One AO1 network and its training (see the module docs for the model and the task).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlignedObliqueConfig {
    /// Units `N`.
    pub hidden: usize,
    /// Readout scale at init.
    pub scale: ReadoutScale,
    /// Bulk strength `g` of `W0 = g chi / sqrt(N)` (default 0.5: a stable, non-chaotic init).
    pub g: f64,
    /// Euler step `alpha = dt / tau` in `(0, 1]` (default 0.2, the paper's `dt`).
    pub alpha: f64,
    /// Steps `T` per trial (default 30, i.e. `6 tau`).
    pub steps: usize,
    /// First scored step, `1..=T` (default 16: the second half of the trial, `t > 3 tau`).
    pub loss_from: usize,
    /// Outputs and input channels `K` (default 2; `2K` trials).
    pub outputs: usize,
    /// Target amplitude `z_hat` (default 1).
    pub target: f64,
    /// Adam rate `lr0 / N` (default `lr0 = 0.02`).
    pub lr0: f64,
    /// Adam updates (default 400).
    pub train_steps: u64,
    /// Init seed.
    pub seed: u64,
}

impl Default for AlignedObliqueConfig {
    fn default() -> Self {
        AlignedObliqueConfig {
            hidden: 128,
            scale: ReadoutScale::Large,
            g: 0.5,
            alpha: 0.2,
            steps: 30,
            loss_from: 16,
            outputs: 2,
            target: 1.0,
            lr0: 0.02,
            train_steps: 400,
            seed: 0,
        }
    }
}

/// The measures of one network at one point of training (RI-9).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct StateMeasures {
    /// Loss `1/(2B) sum_t w_t sum_b ||yhat_t - y_t||^2` (RN-7).
    pub loss: f64,
    /// [`readout_correlation`] of `C` and the states.
    pub corr: f64,
    /// [`participation_ratio`] of the states.
    pub pr: f64,
    /// `||X||_F / sqrt(N S)` of the centred states: the rms state per unit.
    pub state_rms: f64,
}

/// Result of [`run`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct AlignedObliqueRun {
    /// Before training.
    pub init: StateMeasures,
    /// After training.
    pub trained: StateMeasures,
    /// `||W - W0||_F`.
    pub dw_norm: f64,
    /// `||C||_F` (the fixed readout).
    pub readout_norm: f64,
}

fn check(c: &AlignedObliqueConfig) -> Result<()> {
    let ok = c.hidden >= 2
        && c.outputs >= 1
        && c.steps >= 2
        && (1..=c.steps).contains(&c.loss_from)
        && c.alpha > 0.0
        && c.alpha <= 1.0
        && c.g.is_finite()
        && c.g >= 0.0
        && c.target.is_finite()
        && c.lr0 > 0.0
        && c.lr0.is_finite();
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "aligned_oblique config",
            format!(
                "needs hidden >= 2, outputs >= 1, steps >= 2, 1 <= loss_from <= steps, \
                 0 < alpha <= 1, finite g >= 0 and target, lr0 > 0; got {c:?}"
            ),
        ))
    }
}

/// The `2K` trials of the task (module docs): inputs `K x T B`, targets `K x T B`, `B = 2K`,
/// column `(t - 1) B + b` for step `t` of trial `b = 2k + (s < 0)`.
pub fn task(c: &AlignedObliqueConfig) -> Result<SeqBatch> {
    check(c)?;
    let (k, t) = (c.outputs, c.steps);
    let b = 2 * k;
    let mut x = Matrix::zeros(k, t * b);
    let mut y = Matrix::zeros(k, t * b);
    for step in 0..t {
        for trial in 0..b {
            let (ch, s) = (trial / 2, if trial % 2 == 0 { 1.0 } else { -1.0 });
            x.set(ch, step * b + trial, s);
            y.set(ch, step * b + trial, s * c.target);
        }
    }
    let scored = (t - c.loss_from + 1) as f64;
    let w = (1..=t)
        .map(|s| if s >= c.loss_from { 1.0 / scored } else { 0.0 })
        .collect();
    SeqBatch::new(x, y, t, b)?.with_time_weights(w)
}

/// The network of `c` and its initial parameters (module docs for the draw order).
pub fn network(c: &AlignedObliqueConfig) -> Result<(SeqRnn, Vec<f64>)> {
    check(c)?;
    let (n, k) = (c.hidden, c.outputs);
    let spec = SeqRnnSpec {
        n_in: k,
        hidden: n,
        n_out: k,
        activation: Activation::Tanh,
        form: Form::Rate { alpha: c.alpha },
        bias: false,
        rank: None,
        learn: Learn {
            w: true,
            u: false,
            c: false,
            b: false,
            h0: false,
        },
    };
    let net = SeqRnn::new(spec, None)?;
    let mut r = rng(c.seed, stream::INIT);
    let w = gaussian_matrix(&mut r, n, n).scale(c.g / (n as f64).sqrt());
    let u = gaussian_matrix(&mut r, n, k);
    let readout = gaussian_matrix(&mut r, k, n).scale(c.scale.entry_sd(n));
    let mut theta = vec![0.0; net.n_params()];
    net.set(&mut theta, "w", &w)?;
    net.set(&mut theta, "u", &u)?;
    net.set(&mut theta, "c", &readout)?;
    Ok((net, theta))
}

/// The measures of `theta` on the task (RI-9): states `h_1..h_T` of all trials (`N x T B`).
fn measure(net: &SeqRnn, model: &mut SeqRnnModel<'_>, theta: &[f64]) -> Result<StateMeasures> {
    let loss = model.loss(theta)?;
    let b = model.data().batch();
    let all = model.workspace().states();
    let n = all.nrows();
    let states = Matrix::from_col_major(n, all.ncols() - b, all.as_slice()[n * b..].to_vec())
        .map_err(|e| Error::invalid("aligned_oblique states", e.to_string()))?;
    let readout = net
        .get(theta, "c")
        .ok_or_else(|| Error::invalid("aligned_oblique", "the network has no readout block"))?;
    let centred = crate::theory::aligned_oblique::centre_samples(&states);
    Ok(StateMeasures {
        loss,
        corr: readout_correlation(&readout, &states)?,
        pr: participation_ratio(&states)?,
        state_rms: centred.norm_fro() / ((n * states.ncols()) as f64).sqrt(),
    })
}

/// Train one AO1 network (module docs) and measure it before and after. Same config, same
/// numbers. Errors on an invalid config and on a diverged run (lower `lr0`).
pub fn run(c: &AlignedObliqueConfig) -> Result<AlignedObliqueRun> {
    let data = task(c)?;
    let (net, mut theta) = network(c)?;
    let w0 = net
        .get(&theta, "w")
        .ok_or_else(|| Error::invalid("aligned_oblique", "the network has no w block"))?;
    let readout_norm = net.get(&theta, "c").map_or(f64::NAN, |m| m.norm_fro());
    let mut model = SeqRnnModel::new(&net, &data, None)?;
    let init = measure(&net, &mut model, &theta)?;
    let settings = TrainSettings::new(
        c.lr0 / c.hidden as f64,
        c.train_steps,
        Optimizer::Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        },
    );
    let status = Trainer::new(settings).train(
        &mut model,
        &mut theta,
        &mut rng(c.seed, stream::BATCHES),
        &[],
        &mut |_, _| {},
    )?;
    if let TrainStatus::Diverged { step, loss } = status {
        return Err(Error::invalid(
            "aligned_oblique training",
            format!(
                "N = {}, {} readout, seed {}: diverged at step {step} (loss {loss:e}); lower lr0",
                c.hidden,
                c.scale.name(),
                c.seed
            ),
        ));
    }
    let trained = measure(&net, &mut model, &theta)?;
    let dw_norm = net
        .get(&theta, "w")
        .map_or(f64::NAN, |w| w.sub(&w0).norm_fro());
    Ok(AlignedObliqueRun {
        init,
        trained,
        dw_norm,
        readout_norm,
    })
}
