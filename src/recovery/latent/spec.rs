//! Settings of the latent fitters (theory/recovery.md RF-3 .. RF-6): which latent dynamics,
//! which readout, how each trial's initial state is found, and which training procedure.

use serde::{Deserialize, Serialize};

/// Latent dynamics of a fitted model (state `h` of length `k`, input `x_s` of bin `s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LatentForm {
    /// `h_{s+1} = tanh(W h_s + U x_s + b)` (network form `rnn`).
    Rnn,
    /// The GRU of PyTorch's convention with both bias vectors `b_i`, `b_h` (`3k` each, gates
    /// stacked `[r; z; n]`, as ../shared/peers/gru_fit.py), written as learndyn's GRU
    /// (network form `gru`, `b_r = b_ir + b_hr`, `b_z = b_iz + b_hz`, `bhn = b_hn`).
    Gru,
    /// `h_{s+1} = A h_s + U x_s + b` (network form `lds`, discrete), fitted by BPTT.
    Linear,
    /// The rate RNN's Euler map `h_{s+1} = (1 - a) h_s + a (W tanh(h_s) + U x_s + b)` with
    /// `a = rate_alpha` (network form `rate_rnn` with `alpha`).
    Rate,
    /// The tanh RNN with a rank-`rank` recurrence `W = M N^T / k` (network form `rnn` with
    /// blocks `m`, `n`).
    LowRank,
}

/// Readout of the observed neurons from the latent state, `eta = C h + d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadoutKind {
    /// Linear-Gaussian: `L = 1/(2 n_obs) sum (eta - y)^2` over observed entries.
    Gaussian,
    /// Exp-Poisson: `L = 1/n_obs sum (exp(eta) - y eta)` over observed entries (counts or
    /// rates `y >= 0`).
    Poisson,
}

/// How each trial's initial state `h_0` is obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
pub enum Initial {
    /// A linear encoder over the first `bins` bins of the held-in observations,
    /// `h_0 = E f + e` (`f`: those bins stacked, missing entries 0); infers the initial state
    /// of held-out trials too.
    Encoder {
        /// Bins read by the encoder (>= 1).
        bins: usize,
    },
    /// One learned `h_0` shared by every trial (the trial-mean fit: with identical inputs,
    /// such a model cannot tell trials apart).
    Shared,
    /// `h_0 = 0` for every trial, not trained (the peers' workload 4).
    Zero,
}

/// The training procedure (RF-4 .. RF-6).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
pub enum Procedure {
    /// Free-running BPTT from the initial state (RF-3).
    FreeRunning,
    /// Teacher forcing: every step starts from the data-inferred state (GTF at `alpha = 1`).
    TeacherForcing,
    /// Generalized teacher forcing (Hess et al. 2023; RF-4): each step starts from
    /// `(1 - alpha) h_s + alpha z_s`, `z_s` the data-inferred state.
    Gtf {
        /// Mixing `0 <= alpha <= 1`.
        alpha: f64,
    },
    /// Multiple shooting (RF-5): trials cut into segments of `segment` bins; each training
    /// trial's later segments start from a learned state, and
    /// `penalty / 2 * mean (h_end - s_next)^2` ties the segments together.
    MultipleShooting {
        /// Bins per segment (>= 2).
        segment: usize,
        /// Weight of the continuity penalty (> 0).
        penalty: f64,
    },
}

impl Procedure {
    /// The forcing mixture `alpha` (0 when the procedure does not force).
    pub fn alpha(&self) -> f64 {
        match *self {
            Procedure::TeacherForcing => 1.0,
            Procedure::Gtf { alpha } => alpha,
            Procedure::FreeRunning | Procedure::MultipleShooting { .. } => 0.0,
        }
    }
    /// Whether the readout is frozen at its data-derived start (forcing needs a fixed inverse
    /// of the observation model, as Hess et al.'s identity mapping).
    pub fn forces(&self) -> bool {
        matches!(self, Procedure::TeacherForcing | Procedure::Gtf { .. })
    }
}

/// Everything a latent fit needs besides the data (the `[fit]` options of docs/recovery.md).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatentSpec {
    /// The latent dynamics.
    pub form: LatentForm,
    /// Latent size `k >= 1`.
    pub latent: usize,
    /// The readout [default: `poisson` for count data, else `gaussian`].
    pub readout: Option<ReadoutKind>,
    /// Initial states.
    pub initial: Initial,
    /// The training procedure.
    pub procedure: Procedure,
    /// Adam steps.
    pub steps: u64,
    /// Adam's base learning rate; the schedule decays it by cosine to 1/10.
    pub lr: f64,
    /// Clip the gradient's 2-norm to this (`None`: no clipping).
    pub clip: Option<f64>,
    /// Evaluate the validation loss every this many steps and keep the best checkpoint.
    pub validate_every: u64,
    /// Seed of the initial weights.
    pub seed: u64,
    /// Rank of the `low_rank` form's recurrence (1 ..= latent).
    #[serde(default = "one")]
    pub rank: usize,
    /// Euler fraction `dt / tau` of the `rate` form, in (0, 1].
    #[serde(default = "default_rate_alpha")]
    pub rate_alpha: f64,
    /// Ridge `r` on the encoder's weights (not its bias): the training loss gains
    /// `r/2 |enc|^2`; the validation loss does not. 0 (default): none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub encoder_ridge: f64,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

fn one() -> usize {
    1
}

fn default_rate_alpha() -> f64 {
    0.2
}

impl LatentSpec {
    /// Defaults that train stably on real data: encoder over 3 bins, free running, 2000 Adam
    /// steps at 1e-2 with cosine decay and clipping at 1, validation every 50 steps.
    pub fn new(form: LatentForm, latent: usize) -> Self {
        LatentSpec {
            form,
            latent,
            readout: None,
            initial: Initial::Encoder { bins: 3 },
            procedure: Procedure::FreeRunning,
            steps: 2000,
            lr: 1e-2,
            clip: Some(1.0),
            validate_every: 50,
            seed: 0,
            rank: 1,
            rate_alpha: default_rate_alpha(),
            encoder_ridge: 0.0,
        }
    }
}
