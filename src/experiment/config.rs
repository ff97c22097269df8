//! Run configuration: TOML with sections `[model] [task] [init] [train] [theory] [integrate]
//! [output]`. Unknown keys are errors; every field has a documented default; [`Config::validate`]
//! checks values and names the key, the allowed values and the file.

use super::observable::{self, Observable};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A number or a list of numbers (e.g. one `u0` for every mode, or one per mode).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    /// The same value everywhere.
    One(T),
    /// One value per item.
    Many(Vec<T>),
}

impl<T: Clone> OneOrMany<T> {
    /// Expand to `n` values (a single value is repeated); `None` if a list has another length.
    pub fn expand(&self, n: usize) -> Option<Vec<T>> {
        match self {
            OneOrMany::One(x) => Some(vec![x.clone(); n]),
            OneOrMany::Many(v) if v.len() == n => Some(v.clone()),
            OneOrMany::Many(_) => None,
        }
    }
}

/// `model.kind`: the network family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// Deep linear network `W_L ... W_1` on a linear teacher (default).
    #[default]
    DeepLinear,
    /// Recurrent network trained by BPTT on sequences (`[rnn]`, `[sequence]`, `[analysis]`).
    Rnn,
    /// Gated recurrent unit (PyTorch's convention) trained by BPTT on sequences (`[gru]`,
    /// `[sequence]`, `[analysis]`).
    Gru,
}

impl ModelKind {
    /// The name as written in configs.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::DeepLinear => "deep_linear",
            ModelKind::Rnn => "rnn",
            ModelKind::Gru => "gru",
        }
    }
}

/// `task.kind`: the task family. Deep linear networks learn the linear teacher; the
/// recurrent families learn one of the sequence tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// The linear teacher `y = W* x + noise` (default; deep linear networks).
    #[default]
    LinearTeacher,
    /// Leaky integration of the inputs, `y_t = sum_{s<=t} gamma^(t-s) x_s`.
    Integrate,
    /// Lagged-mode teacher with a delay or geometric lag profile.
    LaggedModes,
    /// The n-bit flip-flop.
    FlipFlop,
    /// A teacher RNN with a prescribed spectrum, partially observed.
    TeacherRnn,
    /// Sequences from `.npy` files (`sequence.inputs`, `sequence.targets`).
    Npy,
}

impl TaskKind {
    /// The name as written in configs.
    pub fn name(self) -> &'static str {
        match self {
            TaskKind::LinearTeacher => "linear_teacher",
            TaskKind::Integrate => "integrate",
            TaskKind::LaggedModes => "lagged_modes",
            TaskKind::FlipFlop => "flip_flop",
            TaskKind::TeacherRnn => "teacher_rnn",
            TaskKind::Npy => "npy",
        }
    }
    /// The sequence tasks (of the recurrent families).
    pub const SEQUENCE: [TaskKind; 5] = [
        TaskKind::Integrate,
        TaskKind::LaggedModes,
        TaskKind::FlipFlop,
        TaskKind::TeacherRnn,
        TaskKind::Npy,
    ];
}

/// `train.optimizer`: the update rule of the simulated network; its records' source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    /// Full-batch gradient descent (default).
    #[default]
    Gd,
    /// Minibatch SGD.
    Sgd,
    /// Adam with `train.beta1`, `beta2`, `eps`.
    Adam,
}

/// `train.schedule`: the learning-rate schedule `lr_k` (see [`crate::train::Schedule`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleKind {
    /// `lr_k = lr` (default).
    #[default]
    Constant,
    /// `lr * decay^floor(k / decay_every)`.
    Step,
    /// `lr * decay^(k / decay_every)`.
    Exponential,
    /// From `lr` to `decay * lr` over the run.
    Cosine,
}

/// `output.spacing`: how record steps are spaced between 0 and `train.steps`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Spacing {
    /// Evenly spaced (default).
    #[default]
    Linear,
    /// Log spaced, plus step 0.
    Log,
}

/// `init.kind`: how the deep linear network's weights start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum InitKind {
    /// Saxe's decoupled initial condition (mode strengths `u0`) (default).
    #[default]
    Aligned,
    /// Entries `N(0, scale^2 / fan_in)`.
    Gaussian,
    /// Orthogonal layers with singular value `scale`.
    Orthogonal,
    /// Random with `W_{l+1}^T W_{l+1} - W_l W_l^T = lambda I` (RC-5).
    LambdaBalanced,
    /// Weights from `.npy` files (`init.weights`).
    Npy,
}

impl InitKind {
    /// The name as written in configs.
    pub fn name(self) -> &'static str {
        match self {
            InitKind::Aligned => "aligned",
            InitKind::Gaussian => "gaussian",
            InitKind::Orthogonal => "orthogonal",
            InitKind::LambdaBalanced => "lambda_balanced",
            InitKind::Npy => "npy",
        }
    }

    /// Whether the kind reads `init.scale`.
    pub(crate) fn has_scale(self) -> bool {
        matches!(
            self,
            InitKind::Gaussian | InitKind::Orthogonal | InitKind::LambdaBalanced
        )
    }
}

/// `[model]`: the network architecture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// Network family: `"deep_linear"` (default), `"rnn"` or `"gru"`.
    pub kind: ModelKind,
    /// Number of weight matrices `L >= 2` (default 2).
    pub depth: usize,
    /// Hidden widths: one number for every hidden layer, or a list of `depth - 1` widths
    /// (default 8).
    pub hidden: OneOrMany<usize>,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            kind: ModelKind::DeepLinear,
            depth: 2,
            hidden: OneOrMany::One(8),
        }
    }
}

/// `[task]`: the linear teacher.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TaskConfig {
    /// Task family: `"linear_teacher"` (default; deep linear networks) or a sequence task of
    /// the recurrent families (`"integrate"`, `"lagged_modes"`, `"flip_flop"`,
    /// `"teacher_rnn"`, `"npy"`).
    pub kind: TaskKind,
    /// Input dimension (default 6).
    pub d_in: usize,
    /// Output dimension (default 6).
    pub d_out: usize,
    /// Teacher singular values, nonincreasing and > 0 (default `[3, 2, 1]`). Ignored when
    /// `sigma_yx` is given.
    pub singular_values: Vec<f64>,
    /// Path of a `.npy` file holding `Sigma_yx` (`d_out x d_in`, float64), relative to the
    /// config file. Overrides `singular_values`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sigma_yx: Option<String>,
    /// Seed of the teacher's singular vectors, samples and label noise (default 0).
    pub seed: u64,
    /// Number of samples `P`; omit (or 0) for population moments (default: population).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub samples: Option<usize>,
    /// Whiten sampled inputs so `X X^T / P = I` exactly (default true).
    pub whiten: bool,
    /// Label-noise standard deviation (default 0).
    pub noise_std: f64,
}

impl Default for TaskConfig {
    fn default() -> Self {
        TaskConfig {
            kind: TaskKind::LinearTeacher,
            d_in: 6,
            d_out: 6,
            singular_values: vec![3.0, 2.0, 1.0],
            sigma_yx: None,
            seed: 0,
            samples: None,
            whiten: true,
            noise_std: 0.0,
        }
    }
}

/// `[init]`: how the weights start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InitConfig {
    /// One of `"aligned"` (Saxe's decoupled initial condition), `"gaussian"`, `"orthogonal"`,
    /// `"lambda_balanced"` (random, `W_{l+1}^T W_{l+1} - W_l W_l^T = lambda I`, RC-5), `"npy"`
    /// (default `"aligned"`).
    pub kind: InitKind,
    /// `gaussian`: entries `N(0, scale^2 / fan_in)`; `orthogonal`: singular value of each layer
    /// (default 0.01).
    pub scale: f64,
    /// `aligned`: initial mode strength `u_alpha(0)`, one number for all modes or one per mode
    /// (default 1e-3).
    pub u0: OneOrMany<f64>,
    /// `aligned`: balance `lambda = a_{l+1}^2 - a_l^2` (two layers: `b^2 - a^2`);
    /// `lambda_balanced`: `W_{l+1}^T W_{l+1} - W_l W_l^T = lambda I` (default 0).
    pub lambda: f64,
    /// `aligned`: std of Gaussian noise added to every weight, drawn per seed (default 0).
    pub perturb: f64,
    /// `npy`: one `.npy` file per layer `W_1 .. W_L`, relative to the config file.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub weights: Vec<String>,
}

impl Default for InitConfig {
    fn default() -> Self {
        InitConfig {
            kind: InitKind::Aligned,
            scale: 0.01,
            u0: OneOrMany::One(1e-3),
            lambda: 0.0,
            perturb: 0.0,
            weights: vec![],
        }
    }
}

/// `[train]`: the simulated finite network's training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Optimizer: `"gd"` (full-batch gradient descent), `"sgd"` (minibatch SGD, needs
    /// `task.samples`), `"adam"` (default `"gd"`). The records' source is this name.
    pub optimizer: OptimizerKind,
    /// Minibatch size for `sgd` / `adam` (default: all samples, i.e. full batch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    /// Adam's first-moment decay (default 0.9).
    pub beta1: f64,
    /// Adam's second-moment decay (default 0.999).
    pub beta2: f64,
    /// Adam's denominator offset (default 1e-8).
    pub eps: f64,
    /// Learning rate (> 0, default 0.01). GD step k is gradient-flow time `t = lr * k`.
    pub lr: f64,
    /// Number of GD steps (default 1000).
    pub steps: u64,
    /// Seeds of the initialization (one training run each; default `[0, 1, 2, 3, 4]`).
    pub seeds: Vec<u64>,
    /// A run is recorded as diverged when its loss exceeds this factor times the initial
    /// loss, or is NaN/inf (default 1e6).
    pub divergence_factor: f64,
    /// Recurrent runs (`rnn`, `gru`): clip the gradient to this global 2-norm before each update (default: no
    /// clipping).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clip: Option<f64>,
    /// Recurrent runs: learning-rate schedule `lr_k`: `"constant"`, `"step"` (times `decay` every
    /// `decay_every` steps), `"exponential"` (`lr decay^(k / decay_every)`), `"cosine"` (from
    /// `lr` to `decay * lr` over the run) (default `"constant"`). Gradient-flow time is then
    /// `t_k = sum_{j<k} lr_j` (C-6).
    pub schedule: ScheduleKind,
    /// Schedule factor (default 0.5).
    pub decay: f64,
    /// Schedule period in steps (default 1000).
    pub decay_every: u64,
    /// Recurrent runs: truncated BPTT with chunks of this many steps (default: full BPTT).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncation: Option<usize>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            optimizer: OptimizerKind::Gd,
            batch_size: None,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            lr: 0.01,
            steps: 1000,
            seeds: vec![0, 1, 2, 3, 4],
            divergence_factor: 1e6,
            clip: None,
            schedule: ScheduleKind::Constant,
            decay: 0.5,
            decay_every: 1000,
            truncation: None,
        }
    }
}

/// `[theory]`: which theory sources to compute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TheoryConfig {
    /// Subset of `"closed_form"`, `"reduced_ode"`, `"gradient_flow"` (default: all three).
    /// Sources whose assumptions the run violates are skipped, with the reason in the manifest.
    pub sources: Vec<String>,
}

impl Default for TheoryConfig {
    fn default() -> Self {
        TheoryConfig {
            sources: vec![
                "closed_form".into(),
                "reduced_ode".into(),
                "gradient_flow".into(),
            ],
        }
    }
}

/// `[integrate]`: ODE solver for `reduced_ode` and `gradient_flow`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntegrateConfig {
    /// Method (default `"dopri5"`): adaptive `"dopri5"` (Dormand-Prince 5(4)), `"tsit5"`
    /// (Tsitouras 5(4)), `"dop853"` (Dormand-Prince 8(5,3)), `"ros2"` (L-stable Rosenbrock,
    /// for stiff problems), `"auto"` (dopri5 switching to ros2 when stiffness is detected); or
    /// fixed-step `"rk4"`, `"heun"`, `"euler"` (then `fixed_step` is required).
    pub method: String,
    /// Relative tolerance (default 1e-10).
    pub rtol: f64,
    /// Absolute tolerance (default 1e-12).
    pub atol: f64,
    /// Maximum step attempts (default 1000000).
    pub max_steps: usize,
    /// Step of fixed-step methods, in units of tau.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_step: Option<f64>,
}

impl Default for IntegrateConfig {
    fn default() -> Self {
        IntegrateConfig {
            method: "dopri5".into(),
            rtol: 1e-10,
            atol: 1e-12,
            max_steps: 1_000_000,
            fixed_step: None,
        }
    }
}

/// `[output]`: what to record and draw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputConfig {
    /// Number of record points between step 0 and `train.steps` (default 101).
    pub records: usize,
    /// `"linear"` or `"log"` spacing of record steps (default `"linear"`; log includes step 0).
    pub spacing: Spacing,
    /// Observables to record: subset of `"loss"`, `"mode_strength"`, `"singular_value"`,
    /// `"balance_drift"`, `"map"`, `"weight_change"`, `"kernel_distance"`, `"alignment"`
    /// (default: all but `"map"`).
    pub observables: Vec<Observable>,
    /// Draw `figure.png` and `figure.svg` (default true).
    pub figure: bool,
    /// Log-scaled time axis in the figure (default false).
    pub log_time: bool,
    /// Write final weights per seed as `.npy` (default true).
    pub weights: bool,
    /// `"long"`: `records.csv` only (default); `"wide"`: also `records_wide.csv`, one column
    /// per source and seed; `"parquet"`: also `records.parquet` (typed columns).
    pub format: RecordsFormat,
}

/// `output.format`: the tables of records written beside the long-form `records.csv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RecordsFormat {
    /// `records.csv` only.
    #[default]
    Long,
    /// `records.csv` and `records_wide.csv` (docs/outputs.md).
    Wide,
    /// `records.csv` and `records.parquet`, the same table with typed columns
    /// (docs/outputs.md).
    Parquet,
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig {
            records: 101,
            spacing: Spacing::Linear,
            observables: observable::DEEP_LINEAR
                .iter()
                .copied()
                .filter(|o| *o != Observable::Map)
                .collect(),
            figure: true,
            log_time: false,
            weights: true,
            format: RecordsFormat::Long,
        }
    }
}

/// Theory source names.
pub const THEORY_SOURCES: [&str; 3] = ["closed_form", "reduced_ode", "gradient_flow"];
/// Integration methods.
pub const METHODS: [&str; 8] = crate::integrate::Method::NAMES;

/// A whole run configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[model]`
    pub model: ModelConfig,
    /// `[task]`
    pub task: TaskConfig,
    /// `[init]`
    pub init: InitConfig,
    /// `[train]`
    pub train: TrainConfig,
    /// `[theory]`
    pub theory: TheoryConfig,
    /// `[integrate]`
    pub integrate: IntegrateConfig,
    /// `[output]`
    pub output: OutputConfig,
    /// `[rnn]` (only with `model.kind = "rnn"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rnn: Option<super::rnn_config::RnnConfig>,
    /// `[sequence]` (only with `model.kind = "rnn"` or `"gru"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence: Option<super::rnn_config::SequenceConfig>,
    /// `[analysis]` (only with `model.kind = "rnn"` or `"gru"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analysis: Option<super::rnn_config::AnalysisConfig>,
    /// `[gru]` (only with `model.kind = "gru"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gru: Option<super::rnn_config::GruConfig>,
}

/// A config together with where it came from (for messages and relative paths).
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The resolved config.
    pub config: Config,
    /// Name used in messages (file path, or `<built-in NAME>`).
    pub origin: String,
    /// Folder that relative `.npy` paths are resolved against.
    pub base_dir: PathBuf,
}

impl LoadedConfig {
    /// Resolve a path from the config relative to the config file's folder.
    pub fn resolve_path(&self, p: &str) -> PathBuf {
        let path = Path::new(p);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base_dir.join(path)
        }
    }
}

impl Config {
    /// The resolved config as TOML (every default filled in).
    pub fn to_toml(&self) -> String {
        match toml::Table::try_from(self) {
            Ok(t) => super::toml_text::to_text(&t),
            Err(e) => format!("# could not serialize: {e}"),
        }
    }

    /// Hidden widths as a list of `depth - 1` numbers.
    pub fn hidden_widths(&self) -> Vec<usize> {
        let n = self.model.depth.saturating_sub(1);
        self.model.hidden.expand(n).unwrap_or_default()
    }
}
