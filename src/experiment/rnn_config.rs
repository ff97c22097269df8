//! Config sections of RNN runs (`model.kind = "rnn"`): `[rnn]` (the trained network),
//! `[sequence]` (the sequence task and its data) and `[analysis]` (fixed points of the trained
//! network). Like every section they reject unknown keys; [`validate_rnn`] checks the values
//! and names the key, the allowed values and the file.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// `[rnn]`: the recurrent network that is trained (issue 5; theory/rnn.md RN-1, RN-4, RN-5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RnnConfig {
    /// `"identity"` (a linear RNN), `"tanh"` or `"relu"` (default `"tanh"`).
    pub activation: String,
    /// `"discrete"`: `h_t = phi(W h_{t-1} + U x_t + b)`; `"rate"`: the Euler step
    /// `h_t = (1 - alpha) h_{t-1} + alpha (W phi(h_{t-1}) + U x_t + b)` of
    /// `tau dh/dt = -h + W phi(h) + U x + b` (default `"discrete"`).
    pub form: String,
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
    pub learn: Vec<String>,
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
    pub init: String,
    /// `init = "aligned"`: initial `[b, a, c]` (input gain, recurrent eigenvalue, readout
    /// gain) of every mode (default `[0.1, 0.05, 0.1]`).
    pub aligned_gains: Vec<f64>,
}

impl Default for RnnConfig {
    fn default() -> Self {
        RnnConfig {
            activation: "tanh".into(),
            form: "discrete".into(),
            alpha: 0.1,
            bias: false,
            rank: 0,
            g: 0.0,
            in_scale: 1.0,
            out_scale: 1.0,
            mn_scale: 1.0,
            learn: vec!["w".into(), "u".into(), "c".into()],
            noise_std: 0.0,
            h0: 0.0,
            init: "random".into(),
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
    pub input: String,
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
    pub profile: String,
    /// `lagged_modes` with `profile = "delay"`: the lag of each mode (default `[1, 2, 3]`).
    pub lags: Vec<usize>,
    /// Which outputs enter the loss: `"all"` steps (mean over `t`) or only the `"last"`
    /// (default `"all"`).
    pub readout: String,
    /// `teacher_rnn`: hidden units of the teacher (default 8).
    pub teacher_hidden: usize,
    /// `teacher_rnn`: activation of the teacher (default `"identity"`).
    pub teacher_activation: String,
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
            input: "white_noise".into(),
            input_std: 1.0,
            pulse_prob: 0.1,
            pulse_amplitude: 1.0,
            input_value: 1.0,
            gamma: 1.0,
            profile: "delay".into(),
            lags: vec![1, 2, 3],
            readout: "all".into(),
            teacher_hidden: 8,
            teacher_activation: "identity".into(),
            teacher_alpha: None,
            eigenvalues: vec![1.0, 0.5],
            complex_pairs: vec![],
            teacher_w: None,
            observed: None,
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

/// Sequence task families (`task.kind` of an RNN run).
pub const SEQUENCE_TASKS: [&str; 5] = [
    "integrate",
    "lagged_modes",
    "flip_flop",
    "teacher_rnn",
    "npy",
];
/// Input processes.
pub const INPUT_PROCESSES: [&str; 4] = ["white_noise", "pulses", "constant", "impulse_basis"];
/// Observables of RNN runs, in record order.
pub const RNN_OBSERVABLES: [&str; 8] = [
    "loss",
    "mode_strength",
    "lag_product",
    "eigenvalue_re",
    "eigenvalue_im",
    "timescale",
    "delta_singular_value",
    "effective_rank",
];

/// Validate the RNN-specific parts of `c` (`model.kind = "rnn"`).
pub fn validate_rnn(c: &super::config::Config, origin: &str) -> Result<()> {
    let err = |key: &str, message: String| {
        Err(Error::Config {
            file: origin.to_string(),
            key: key.to_string(),
            message,
        })
    };
    let pos = |x: f64| x > 0.0 && x.is_finite();
    let nonneg = |x: f64| x >= 0.0 && x.is_finite();
    let r = c.rnn.clone().unwrap_or_default();
    let s = c.sequence.clone().unwrap_or_default();
    let a = c.analysis.clone().unwrap_or_default();
    let t = &c.task;
    if c.model.depth != 2 {
        return err(
            "model.depth",
            "does not apply to model.kind = \"rnn\"; remove it (the RNN size is model.hidden)"
                .into(),
        );
    }
    let hidden = match &c.model.hidden {
        super::config::OneOrMany::One(h) => *h,
        super::config::OneOrMany::Many(_) => {
            return err(
                "model.hidden",
                "an RNN has one hidden size: give one number".into(),
            )
        }
    };
    if hidden == 0 {
        return err("model.hidden", "must be >= 1".into());
    }
    if c.init != super::config::InitConfig::default() {
        return err(
            "init",
            "the [init] section is for deep linear networks; RNN inits are set in [rnn] (init, g, in_scale, out_scale, aligned_gains)".into(),
        );
    }
    if crate::model::rnn::Activation::parse(&r.activation).is_err() {
        return err(
            "rnn.activation",
            format!(
                "'{}' is unknown; allowed: \"identity\", \"tanh\", \"relu\"",
                r.activation
            ),
        );
    }
    match r.form.as_str() {
        "discrete" => {}
        "rate" => {
            if !(r.alpha > 0.0 && r.alpha <= 1.0) {
                return err(
                    "rnn.alpha",
                    format!("dt / tau must lie in (0, 1], got {}", r.alpha),
                );
            }
        }
        other => {
            return err(
                "rnn.form",
                format!("'{other}' is unknown; allowed: \"discrete\", \"rate\""),
            )
        }
    }
    if r.rank > hidden {
        return err(
            "rnn.rank",
            format!(
                "must be <= model.hidden = {hidden} (0 = full rank), got {}",
                r.rank
            ),
        );
    }
    for (key, v) in [
        ("rnn.g", r.g),
        ("rnn.in_scale", r.in_scale),
        ("rnn.out_scale", r.out_scale),
        ("rnn.mn_scale", r.mn_scale),
        ("rnn.noise_std", r.noise_std),
    ] {
        if !nonneg(v) {
            return err(key, format!("must be finite and >= 0, got {v}"));
        }
    }
    if !r.h0.is_finite() {
        return err("rnn.h0", "must be finite".into());
    }
    for l in &r.learn {
        if !["w", "u", "c", "b", "h0"].contains(&l.as_str()) {
            return err(
                "rnn.learn",
                format!("'{l}' is unknown; allowed: \"w\", \"u\", \"c\", \"b\", \"h0\""),
            );
        }
    }
    if r.learn.is_empty() {
        return err("rnn.learn", "train at least one block, e.g. [\"w\"]".into());
    }
    if r.learn.iter().any(|l| l == "b") && !r.bias {
        return err("rnn.learn", "\"b\" needs rnn.bias = true".into());
    }
    match r.init.as_str() {
        "random" => {}
        "aligned" => {
            if r.aligned_gains.len() != 3 || r.aligned_gains.iter().any(|x| !x.is_finite()) {
                return err(
                    "rnn.aligned_gains",
                    "give three finite numbers [b, a, c]: input gain, recurrent eigenvalue, readout gain".into(),
                );
            }
            if !["integrate", "lagged_modes"].contains(&t.kind.as_str()) {
                return err(
                    "rnn.init",
                    format!("\"aligned\" needs a teacher with modes: task.kind = \"integrate\" or \"lagged_modes\", not \"{}\"", t.kind),
                );
            }
            if r.rank != 0 {
                return err(
                    "rnn.init",
                    "\"aligned\" needs a full-rank W (rnn.rank = 0)".into(),
                );
            }
        }
        other => {
            return err(
                "rnn.init",
                format!("'{other}' is unknown; allowed: \"random\", \"aligned\""),
            )
        }
    }
    if !SEQUENCE_TASKS.contains(&t.kind.as_str()) {
        return err(
            "task.kind",
            format!("'{}' is not a sequence task; with model.kind = \"rnn\" use one of {SEQUENCE_TASKS:?}", t.kind),
        );
    }
    if t.d_in == 0 || t.d_out == 0 {
        return err("task.d_in", "d_in and d_out must be >= 1".into());
    }
    if !nonneg(t.noise_std) {
        return err(
            "task.noise_std",
            format!("must be finite and >= 0, got {}", t.noise_std),
        );
    }
    if t.samples.is_some() {
        return err(
            "task.samples",
            "does not apply to RNN runs; the number of sequences is sequence.sequences".into(),
        );
    }
    if s.steps == 0 {
        return err(
            "sequence.steps",
            "sequences need at least 1 time step".into(),
        );
    }
    if s.sequences == 0 {
        return err("sequence.sequences", "must be >= 1".into());
    }
    if !INPUT_PROCESSES.contains(&s.input.as_str()) {
        return err(
            "sequence.input",
            format!("'{}' is unknown; allowed: {INPUT_PROCESSES:?}", s.input),
        );
    }
    if !nonneg(s.input_std) || !nonneg(s.pulse_amplitude) || !s.input_value.is_finite() {
        return err(
            "sequence.input_std",
            "input_std and pulse_amplitude must be finite and >= 0, input_value finite".into(),
        );
    }
    if !(0.0..=1.0).contains(&s.pulse_prob) {
        return err(
            "sequence.pulse_prob",
            format!("must lie in [0, 1], got {}", s.pulse_prob),
        );
    }
    if s.readout != "all" && s.readout != "last" {
        return err(
            "sequence.readout",
            format!("'{}' is unknown; allowed: \"all\", \"last\"", s.readout),
        );
    }
    match t.kind.as_str() {
        "integrate" => {
            if t.d_in != t.d_out {
                return err(
                    "task.d_out",
                    format!("the integration task maps each input to its running sum: d_out must equal d_in = {}", t.d_in),
                );
            }
            if !s.gamma.is_finite() {
                return err("sequence.gamma", "must be finite".into());
            }
        }
        "lagged_modes" => {
            let k = t.singular_values.len();
            if k == 0 || k > t.d_in.min(t.d_out) {
                return err(
                    "task.singular_values",
                    format!(
                        "need 1 to min(d_in, d_out) = {} mode strengths",
                        t.d_in.min(t.d_out)
                    ),
                );
            }
            if s.profile == "geometric" {
                if !s.gamma.is_finite() {
                    return err("sequence.gamma", "must be finite".into());
                }
            } else if s.profile != "delay" {
                return err(
                    "sequence.profile",
                    format!(
                        "'{}' is unknown; allowed: \"delay\", \"geometric\"",
                        s.profile
                    ),
                );
            } else if s.lags.len() != k {
                return err(
                    "sequence.lags",
                    format!("give one lag per mode (task.singular_values has {k})"),
                );
            }
            if let Some(&l) = s
                .lags
                .iter()
                .find(|&&l| s.profile == "delay" && l >= s.steps)
            {
                return err(
                    "sequence.lags",
                    format!(
                        "lag {l} does not fit in sequence.steps = {}: lags must be < steps",
                        s.steps
                    ),
                );
            }
            if t.singular_values.iter().any(|x| !x.is_finite()) {
                return err("task.singular_values", "must be finite".into());
            }
        }
        "flip_flop" if t.d_in != t.d_out => {
            return err(
                "task.d_out",
                format!("the flip-flop has one input and one output per bit: d_out must equal d_in = {}", t.d_in),
            );
        }
        "teacher_rnn" => {
            if s.teacher_hidden == 0 {
                return err("sequence.teacher_hidden", "must be >= 1".into());
            }
            if crate::model::rnn::Activation::parse(&s.teacher_activation).is_err() {
                return err(
                    "sequence.teacher_activation",
                    format!(
                        "'{}' is unknown; allowed: \"identity\", \"tanh\", \"relu\"",
                        s.teacher_activation
                    ),
                );
            }
            if s.teacher_w.is_none()
                && s.eigenvalues.len() + 2 * s.complex_pairs.len() > s.teacher_hidden
            {
                return err(
                    "sequence.eigenvalues",
                    format!(
                        "{} real eigenvalues and {} complex pairs need teacher_hidden >= {}",
                        s.eigenvalues.len(),
                        s.complex_pairs.len(),
                        s.eigenvalues.len() + 2 * s.complex_pairs.len()
                    ),
                );
            }
            if s.eigenvalues
                .iter()
                .chain(s.complex_pairs.iter().flatten())
                .any(|x| !x.is_finite())
            {
                return err(
                    "sequence.eigenvalues",
                    "eigenvalues and complex pairs must be finite".into(),
                );
            }
            match &s.observed {
                Some(o) => {
                    if o.len() != t.d_out {
                        return err(
                            "sequence.observed",
                            format!("lists the observed units, one per output: needs task.d_out = {} entries, got {}", t.d_out, o.len()),
                        );
                    }
                    if let Some(&u) = o.iter().find(|&&u| u >= s.teacher_hidden) {
                        return err(
                            "sequence.observed",
                            format!("unit {u} does not exist: the teacher has teacher_hidden = {} units (0-based)", s.teacher_hidden),
                        );
                    }
                }
                None => {
                    if t.d_out > s.teacher_hidden {
                        return err(
                            "task.d_out",
                            format!("the first d_out teacher units are observed: d_out must be <= sequence.teacher_hidden = {}", s.teacher_hidden),
                        );
                    }
                }
            }
        }
        "npy" if s.inputs.is_none() || s.targets.is_none() => {
            return err(
                "sequence.inputs",
                "task.kind = \"npy\" needs sequence.inputs and sequence.targets (.npy files [batch, time, dim])".into(),
            );
        }
        _ => {}
    }
    let tr = &c.train;
    if tr.batch_size.is_some_and(|b| {
        b == 0 || (t.kind != "npy" && s.input != "impulse_basis" && b > s.sequences)
    }) {
        return err(
            "train.batch_size",
            format!("must be between 1 and sequence.sequences ({})", s.sequences),
        );
    }
    if tr.optimizer == super::config::OptimizerKind::Gd && tr.batch_size.is_some() {
        return err(
            "train.batch_size",
            "applies to \"sgd\" and \"adam\"; gd is full batch".into(),
        );
    }
    if t.kind == "npy" && t.noise_std > 0.0 {
        return err(
            "task.noise_std",
            "observation noise is for synthetic tasks; your .npy targets are used as they are (remove it)".into(),
        );
    }
    if tr.truncation == Some(0) {
        return err(
            "train.truncation",
            "must be >= 1 steps (omit it for full BPTT)".into(),
        );
    }
    if a.fixed_points && a.n_inits == 0 {
        return err("analysis.n_inits", "must be >= 1".into());
    }
    let fp_defaults = crate::analysis::fixed_points::FpOptions::default();
    if a.tol_q > fp_defaults.tol_slow {
        return err(
            "analysis.tol_q",
            format!(
                "must be <= {} (points up to that q are kept as slow points)",
                fp_defaults.tol_slow
            ),
        );
    }
    if !nonneg(a.noise_scale) || !pos(a.tol_q) || !pos(a.tol_unique) {
        return err(
            "analysis.tol_q",
            "noise_scale must be >= 0; tol_q and tol_unique must be > 0".into(),
        );
    }
    if let Some(u) = &a.input {
        if u.len() != t.d_in || u.iter().any(|x| !x.is_finite()) {
            return err(
                "analysis.input",
                format!(
                    "give task.d_in = {} finite numbers (the constant input)",
                    t.d_in
                ),
            );
        }
    }
    for ob in rnn_observables(&c.output.observables) {
        if !RNN_OBSERVABLES.contains(&ob.as_str()) {
            return err(
                "output.observables",
                format!("'{ob}' is not an RNN observable; allowed: {RNN_OBSERVABLES:?}"),
            );
        }
    }
    Ok(())
}

/// The observables an RNN run records: `output.observables`, or every RNN observable when
/// it is left at the (deep-linear) default.
pub fn rnn_observables(requested: &[String]) -> Vec<String> {
    if requested
        == super::config::OutputConfig::default()
            .observables
            .as_slice()
    {
        RNN_OBSERVABLES.iter().map(|s| s.to_string()).collect()
    } else {
        requested.to_vec()
    }
}
