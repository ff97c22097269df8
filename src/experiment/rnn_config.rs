//! Config sections of recurrent runs (`model.kind = "rnn"` or `"gru"`): `[rnn]` and `[gru]`
//! (the trained network), `[sequence]` (the sequence task and its data) and `[analysis]`
//! (fixed points of the trained network). Like every section they reject unknown keys and unknown choices (serde enums);
//! the families check the values (`experiment::family::{rnn, gru, sequence}`).

pub use crate::model::rnn::Activation;
use serde::{Deserialize, Serialize};

/// `rnn.form`: the update of the RNN (RN-1, RN-4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FormKind {
    /// `h_t = phi(W h_{t-1} + U x_t + b)` (default).
    #[default]
    Discrete,
    /// The Euler step of `tau dh/dt = -h + W phi(h) + U x + b` with `dt / tau = rnn.alpha`.
    Rate,
}

/// `rnn.init`: how the RNN's weights start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RnnInitKind {
    /// Gaussian entries with the `[rnn]` scales (default).
    #[default]
    Random,
    /// Decoupled modes of the task's teacher (the reduced theories' initial condition).
    Aligned,
}

/// One entry of `rnn.learn`: a trained parameter block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LearnBlock {
    /// The recurrent weights `W` (for low rank: `M` and `N`).
    W,
    /// The input weights `U`.
    U,
    /// The readout `C`.
    C,
    /// The bias `b` (needs `rnn.bias = true`).
    B,
    /// The initial state `h_0`.
    H0,
}

/// `sequence.input`: the input process of the synthetic sequence tasks (SQ-*).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// i.i.d. Gaussian inputs with `sequence.input_std` (default).
    #[default]
    WhiteNoise,
    /// Pulses with probability `pulse_prob` and amplitude `pulse_amplitude`.
    Pulses,
    /// The constant `input_value`.
    Constant,
    /// The impulse basis: the exact white-noise expectation for linear models (SQ-2).
    ImpulseBasis,
}

/// `sequence.readout`: which outputs enter the loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Readout {
    /// Every step (mean over `t`) (default).
    #[default]
    All,
    /// Only the last step.
    Last,
}

/// `sequence.student_input`: what the student of a `teacher_rnn` task reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum StudentInput {
    /// The teacher's own inputs `x_t` (default).
    #[default]
    Teacher,
    /// The observed units at the previous step, `y_{t-1}` (0 at `t = 0`), with their
    /// observation noise: the student of the observed units (theory/partial_observation.md,
    /// PO-10). Needs `task.d_in = task.d_out`.
    Observed,
}

/// `sequence.profile`: the lag profile of the `lagged_modes` teacher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// Mode `a` is a delay by `lags[a]` steps (default).
    #[default]
    Delay,
    /// `s_k = singular_values[a] * gamma^k` at every lag.
    Geometric,
}

/// `[rnn]`: the recurrent network that is trained (issue 5; theory/rnn.md RN-1, RN-4, RN-5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RnnConfig {
    /// `"identity"` (a linear RNN), `"tanh"` or `"relu"` (default `"tanh"`).
    pub activation: Activation,
    /// `"discrete"`: `h_t = phi(W h_{t-1} + U x_t + b)`; `"rate"`: the Euler step
    /// `h_t = (1 - alpha) h_{t-1} + alpha (W phi(h_{t-1}) + U x_t + b)` of
    /// `tau dh/dt = -h + W phi(h) + U x + b` (default `"discrete"`).
    pub form: FormKind,
    /// `dt / tau` of the rate form, in (0, 1] (default 0.1; only for `form = "rate"`).
    pub alpha: f64,
    /// Include the bias `b` (default false).
    pub bias: bool,
    /// Rank `R` of the trainable part of a low-rank `W = g chi + M N^T / hidden`
    /// (`chi` fixed, entries `N(0, 1/hidden)`); 0 = full-rank trainable `W` (default 0).
    pub rank: usize,
    /// Random part of the initial `W`: entries `N(0, g^2 / hidden)` (full rank), or the fixed
    /// bulk `g chi` (low rank) (default 0).
    pub g: f64,
    /// Input weights `U`: entries `N(0, in_scale^2 / n_in)` (default 1).
    pub in_scale: f64,
    /// Readout `C`: entries `N(0, out_scale^2 / hidden)` (default 1).
    pub out_scale: f64,
    /// Low rank: entries of `M` and `N` are `N(0, mn_scale^2)` (default 1).
    pub mn_scale: f64,
    /// Trained parameter blocks: a subset of `"w"` (for low rank: `M` and `N`), `"u"`,
    /// `"c"`, `"b"`, `"h0"` (default `["w", "u", "c"]`; `"b"` needs `bias = true`).
    pub learn: Vec<LearnBlock>,
    /// State (process) noise `sigma` (RN-9): a frozen realization, drawn once per data set,
    /// added to every update: discrete `h_t = phi(W h_{t-1} + U x_t + b + sigma xi_t)`, rate
    /// `h_t = ... + sigma sqrt(alpha) xi_t` (Euler-Maruyama of
    /// `tau dh = (...) dt + sigma sqrt(tau) dW`), `xi_t ~ N(0, I)` (default 0).
    pub noise_std: f64,
    /// Initial state `h_0`, every entry (default 0); trained when `learn` has `"h0"`.
    pub h0: f64,
    /// `"random"` (the scales above) or `"aligned"` (decoupled modes of the task's teacher:
    /// `W = R diag(a) R^T`, `U = R diag(b) V^T`, `C = U_out diag(c) R^T` with `R` random
    /// orthonormal; the initial condition of the reduced theories, LR-2 / OL-*)
    /// (default `"random"`).
    pub init: RnnInitKind,
    /// `init = "aligned"`: initial `[b, a, c]` (input gain, recurrent eigenvalue, readout
    /// gain) of every mode (default `[0.1, 0.05, 0.1]`).
    pub aligned_gains: Vec<f64>,
}

impl Default for RnnConfig {
    fn default() -> Self {
        RnnConfig {
            activation: Activation::Tanh,
            form: FormKind::Discrete,
            alpha: 0.1,
            bias: false,
            rank: 0,
            g: 0.0,
            in_scale: 1.0,
            out_scale: 1.0,
            mn_scale: 1.0,
            learn: vec![LearnBlock::W, LearnBlock::U, LearnBlock::C],
            noise_std: 0.0,
            h0: 0.0,
            init: RnnInitKind::Random,
            aligned_gains: vec![0.1, 0.05, 0.1],
        }
    }
}

/// `[sequence]`: the sequence task of an RNN run (`task.kind` picks the family; `task.d_in`,
/// `task.d_out`, `task.seed`, `task.noise_std` and, for `lagged_modes`,
/// `task.singular_values` are read from `[task]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SequenceConfig {
    /// Time steps `T` per sequence (default 20).
    pub steps: usize,
    /// Number of training sequences `B` (default 64; `impulse_basis` sets it to `d_in T`).
    pub sequences: usize,
    /// Input process: `"white_noise"`, `"pulses"`, `"constant"`, `"impulse_basis"` (the exact
    /// white-noise expectation for linear models, SQ-*) (default `"white_noise"`).
    pub input: InputKind,
    /// `white_noise`: standard deviation (default 1).
    pub input_std: f64,
    /// `pulses` / `flip_flop`: probability of a pulse per step and input (default 0.1).
    pub pulse_prob: f64,
    /// `pulses`: pulse amplitude (default 1).
    pub pulse_amplitude: f64,
    /// `constant`: the input value (default 1).
    pub input_value: f64,
    /// `integrate`: leak `gamma` of the target `y_t = sum_{s<=t} gamma^(t-s) x_s`
    /// (1 = perfect integrator; default 1).
    pub gamma: f64,
    /// `lagged_modes`: the lag profile `s_k` of each mode: `"delay"` (mode `a` is a delay by
    /// `lags[a]` steps with strength `task.singular_values[a]`) or `"geometric"`
    /// (`s_k = task.singular_values[a] * gamma^k` at every lag) (default `"delay"`).
    pub profile: Profile,
    /// `lagged_modes` with `profile = "delay"`: the lag of each mode (default `[1, 2, 3]`).
    pub lags: Vec<usize>,
    /// Which outputs enter the loss: `"all"` steps (mean over `t`) or only the `"last"`
    /// (default `"all"`).
    pub readout: Readout,
    /// `teacher_rnn`: hidden units of the teacher (default 8).
    pub teacher_hidden: usize,
    /// `teacher_rnn`: activation of the teacher (default `"identity"`).
    pub teacher_activation: Activation,
    /// `teacher_rnn`: `dt / tau` of a rate-form teacher
    /// `h_t = (1 - a) h_{t-1} + a (W phi(h_{t-1}) + U x_t)`, in (0, 1] (default: a discrete
    /// teacher `h_t = phi(W h_{t-1} + U x_t)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub teacher_alpha: Option<f64>,
    /// `teacher_rnn`: real eigenvalues of the teacher's `W` (default `[1.0, 0.5]`: a line
    /// attractor and a decaying mode); the remaining eigenvalues are 0.
    pub eigenvalues: Vec<f64>,
    /// `teacher_rnn`: complex pairs `[radius, angle]` (radians), one rotation each
    /// (default none).
    pub complex_pairs: Vec<[f64; 2]>,
    /// `teacher_rnn`: the teacher's `W` from a `.npy` file instead (relative to the config).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub teacher_w: Option<String>,
    /// `teacher_rnn`: the observed teacher units that are the targets (partial observation;
    /// default: the first `task.d_out` units).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed: Option<Vec<usize>>,
    /// `teacher_rnn`: what the student reads: the teacher's inputs (`"teacher"`, default) or
    /// the observed units at the previous step (`"observed"`, PO-10).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub student_input: Option<StudentInput>,
    /// `npy`: inputs `[batch, time, d_in]` (`.npy`, relative to the config).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inputs: Option<String>,
    /// `npy`: targets `[batch, time, d_out]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub targets: Option<String>,
}

impl Default for SequenceConfig {
    fn default() -> Self {
        SequenceConfig {
            steps: 20,
            sequences: 64,
            input: InputKind::WhiteNoise,
            input_std: 1.0,
            pulse_prob: 0.1,
            pulse_amplitude: 1.0,
            input_value: 1.0,
            gamma: 1.0,
            profile: Profile::Delay,
            lags: vec![1, 2, 3],
            readout: Readout::All,
            teacher_hidden: 8,
            teacher_activation: Activation::Identity,
            teacher_alpha: None,
            eigenvalues: vec![1.0, 0.5],
            complex_pairs: vec![],
            teacher_w: None,
            observed: None,
            student_input: None,
            inputs: None,
            targets: None,
        }
    }
}

/// `[analysis]`: what to compute on the trained RNN (theory/fixed_points.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnalysisConfig {
    /// Find fixed and slow points of every trained seed (default false).
    pub fixed_points: bool,
    /// Initial states, sampled from the training trajectories (default 1024).
    pub n_inits: usize,
    /// Std of the Gaussian noise added to the sampled states (default 0.5).
    pub noise_scale: f64,
    /// `q` below which a point counts as a fixed point (default 1e-12).
    pub tol_q: f64,
    /// Points closer than this (2-norm) are one point (default 1e-3).
    pub tol_unique: f64,
    /// The constant input under which fixed points are sought (default zeros, `d_in` values).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<Vec<f64>>,
}

impl Default for AnalysisConfig {
    fn default() -> Self {
        AnalysisConfig {
            fixed_points: false,
            n_inits: 1024,
            noise_scale: 0.5,
            tol_q: 1e-12,
            tol_unique: 1e-3,
            input: None,
        }
    }
}

/// `gru.init`: the distribution of the initial weights (GRU-7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum GruInitKind {
    /// PyTorch's default: every weight and bias `U(-gain / sqrt(N), gain / sqrt(N))`
    /// (default).
    #[default]
    Uniform,
    /// Weights `N(0, gain^2 / fan_in)`, biases 0.
    Gaussian,
}

/// `[gru]`: the gated recurrent network that is trained (theory/gru.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GruConfig {
    /// `"uniform"` (PyTorch's `nn.GRU` + `nn.Linear` at gain 1) or `"gaussian"` (default
    /// `"uniform"`).
    pub init: GruInitKind,
    /// Scale of the initial weights, finite and >= 0 (default 1).
    pub gain: f64,
    /// Gate biases `b_i = [b_r; b_z; b_in]` and `b_hn` (default true).
    pub bias: bool,
    /// Readout bias `d` in `yhat = C h + d` (default true).
    pub readout_bias: bool,
    /// Train the initial state `h_0` (default false: `h_0 = 0`).
    pub learn_h0: bool,
}

impl Default for GruConfig {
    fn default() -> Self {
        GruConfig {
            init: GruInitKind::Uniform,
            gain: 1.0,
            bias: true,
            readout_bias: true,
            learn_h0: false,
        }
    }
}
