//! Run configuration: TOML with sections `[model] [task] [init] [train] [theory] [integrate]
//! [output]`. Unknown keys are errors; every field has a documented default; [`Config::validate`]
//! checks values and names the key, the allowed values and the file.

use super::family::{deep_linear::DeepLinearFamily, Family};
use super::observable::Observable;
use crate::error::{Error, Result};
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
    fn has_scale(self) -> bool {
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
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig {
            records: 101,
            spacing: Spacing::Linear,
            observables: DeepLinearFamily::OBSERVABLES
                .iter()
                .copied()
                .filter(|o| *o != Observable::Map)
                .collect(),
            figure: true,
            log_time: false,
            weights: true,
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
    pub gru: Option<super::family::gru::GruConfig>,
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

/// A TOML error as `file: section.key: message (line N)`. toml names the offending field in
/// backticks ("unknown field `lrr`, expected one of ..."); the section is the last `[header]`
/// before the error's position in the text.
fn toml_error(origin: &str, text: Option<&str>, e: &toml::de::Error) -> Error {
    let mut msg = e.message().trim().to_string();
    if msg.contains("untagged enum OneOrMany") {
        msg = "expected a number or a list of numbers".into();
    }
    let names_field = msg.starts_with("unknown field") || msg.starts_with("missing field");
    let mut field = names_field
        .then(|| msg.split('`').nth(1).map(|k| k.to_string()))
        .flatten();
    let mut section = None;
    let mut line = None;
    if let (Some(text), Some(span)) = (text, e.span()) {
        let before = &text[..span.start.min(text.len())];
        line = Some(before.matches('\n').count() + 1);
        // Otherwise the key is the left side of the `key = value` line the error points at.
        if field.is_none() {
            let line_start = before.rfind('\n').map_or(0, |i| i + 1);
            let this_line = text[line_start..].lines().next().unwrap_or("");
            field = this_line
                .split_once('=')
                .map(|(k, _)| k.trim().to_string())
                .filter(|k| !k.is_empty() && !k.starts_with('['));
        }
        section = before
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| l.starts_with('[') && l.ends_with(']'))
            .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    }
    let key = match (section, field) {
        (Some(sec), Some(f)) if f != sec && !f.contains('.') => format!("{sec}.{f}"),
        (_, Some(f)) => f,
        (Some(sec), None) if names_field => sec,
        _ => "<toml syntax>".into(),
    };
    let message = match line {
        Some(l) => format!("{msg} (line {l})"),
        None => msg,
    };
    Error::Config {
        file: origin.to_string(),
        key,
        message,
    }
}

/// Set `section.key` in a config table (creating the section), e.g. from a scan axis.
pub fn set_key(
    table: &mut toml::Table,
    section: &str,
    key: &str,
    value: toml::Value,
) -> Result<()> {
    let entry = table
        .entry(section.to_string())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    match entry {
        toml::Value::Table(t) => {
            t.insert(key.to_string(), value);
            Ok(())
        }
        _ => Err(Error::Config {
            file: "<scan>".into(),
            key: format!("{section}.{key}"),
            message: format!("'{section}' is not a section"),
        }),
    }
}

/// Deserialize and validate a config table (as built by scans or `--set`).
pub fn from_table(table: toml::Table, origin: &str) -> Result<Config> {
    let config: Config = toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| {
            let shown = e.to_string();
            let section = shown
                .rsplit("in `")
                .next()
                .filter(|_| shown.contains("in `"))
                .map(|s| s.trim_end().trim_end_matches('`').to_string());
            let mut err = toml_error(origin, None, &e);
            if let (Some(sec), Error::Config { key, .. }) = (section, &mut err) {
                *key = if sec.contains('.') || key.starts_with('<') {
                    sec
                } else if *key != sec {
                    format!("{sec}.{key}")
                } else {
                    sec
                };
            }
            err
        })?;
    config.validate(origin)?;
    Ok(config.with_family_defaults())
}

/// Parse a `section.key=value` override; the value is read as TOML (numbers, booleans,
/// arrays, quoted strings) and falls back to a bare string.
fn apply_override(table: &mut toml::Table, spec: &str) -> Result<()> {
    let bad = |message: String| Error::Config {
        file: "<--set>".into(),
        key: spec.split('=').next().unwrap_or(spec).trim().to_string(),
        message,
    };
    let (path, raw) = spec
        .split_once('=')
        .ok_or_else(|| bad("expected section.key=value, e.g. --set train.lr=0.05".into()))?;
    let parts: Vec<&str> = path.trim().split('.').collect();
    if parts.len() != 2 || parts.iter().any(|p| p.is_empty()) {
        return Err(bad(
            "expected section.key=value with exactly one dot, e.g. --set train.lr=0.05".into(),
        ));
    }
    let value: toml::Value = match toml::from_str::<toml::Table>(&format!("v = {}", raw.trim())) {
        Ok(mut t) => t.remove("v").expect("parsed key"),
        Err(_) => toml::Value::String(raw.trim().to_string()),
    };
    let section = table
        .entry(parts[0].to_string())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    match section {
        toml::Value::Table(t) => {
            t.insert(parts[1].to_string(), value);
            Ok(())
        }
        _ => Err(bad(format!("'{}' is not a section", parts[0]))),
    }
}

impl Config {
    /// Parse TOML text (from `origin`), apply `--set` overrides, validate.
    pub fn from_toml(text: &str, origin: &str, overrides: &[String]) -> Result<Config> {
        let config: Config = if overrides.is_empty() {
            toml::from_str(text).map_err(|e| toml_error(origin, Some(text), &e))?
        } else {
            let mut table: toml::Table =
                toml::from_str(text).map_err(|e| toml_error(origin, Some(text), &e))?;
            for o in overrides {
                apply_override(&mut table, o)?;
            }
            toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| {
                    // Deserializing a value has no text positions; toml appends "in `section`".
                    let shown = e.to_string();
                    let section = shown
                        .rsplit("in `")
                        .next()
                        .filter(|_| shown.contains("in `"));
                    let section = section.map(|s| s.trim_end().trim_end_matches('`').to_string());
                    let mut err = toml_error(&format!("{origin} (with --set)"), None, &e);
                    if let (Some(sec), Error::Config { key, .. }) = (section, &mut err) {
                        *key = if sec.contains('.') || key.starts_with('<') {
                            sec
                        } else if *key != sec {
                            format!("{sec}.{key}")
                        } else {
                            sec
                        };
                    }
                    err
                })?
        };
        config.validate(origin)?;
        Ok(config.with_family_defaults())
    }

    /// Fill in the family's sections that were left out with their defaults, so the
    /// resolved config (`learndyn check`, `manifest.json`) shows every value used.
    fn with_family_defaults(mut self) -> Config {
        super::family::fill_defaults(&mut self);
        self
    }

    /// Load and validate a config file.
    pub fn load(path: &Path, overrides: &[String]) -> Result<LoadedConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let origin = path.display().to_string();
        let config = Config::from_toml(&text, &origin, overrides)?;
        let base_dir = path
            .parent()
            .map(|p| p.to_path_buf())
            .unwrap_or_else(|| PathBuf::from("."));
        Ok(LoadedConfig {
            config,
            origin,
            base_dir,
        })
    }

    /// The resolved config as TOML (every default filled in).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# could not serialize: {e}"))
    }

    /// Hidden widths as a list of `depth - 1` numbers.
    pub fn hidden_widths(&self) -> Vec<usize> {
        let n = self.model.depth.saturating_sub(1);
        self.model.hidden.expand(n).unwrap_or_default()
    }

    /// Check every value; errors name the key, the allowed values and the file.
    pub fn validate(&self, origin: &str) -> Result<()> {
        self.validate_sections(origin)?;
        self.validate_common(origin)?;
        super::family::validate(self, origin)
    }

    /// Sections of another family than `model.kind`'s are errors.
    fn validate_sections(&self, origin: &str) -> Result<()> {
        use ModelKind::{Gru, Rnn};
        let kind = self.model.kind;
        for (key, given, kinds) in [
            ("rnn", self.rnn.is_some(), &[Rnn][..]),
            ("gru", self.gru.is_some(), &[Gru][..]),
            ("sequence", self.sequence.is_some(), &[Rnn, Gru][..]),
            ("analysis", self.analysis.is_some(), &[Rnn, Gru][..]),
        ] {
            if given && !kinds.contains(&kind) {
                let names: Vec<String> =
                    kinds.iter().map(|k| format!("\"{}\"", k.name())).collect();
                return Err(Error::Config {
                    file: origin.to_string(),
                    key: key.into(),
                    message: format!(
                        "the [{key}] section applies only to model.kind = {}; remove it or set model.kind = {}",
                        names.join(" or "),
                        names[0]
                    ),
                });
            }
        }
        Ok(())
    }
}

/// The checks of deep-linear configs (`[model]`, `[task]`, `[init]`, and the `[train]` keys
/// that only recurrent runs read).
pub fn validate_deep_linear(c: &Config, origin: &str) -> Result<()> {
    let err = |key: &str, message: String| {
        Err(Error::Config {
            file: origin.to_string(),
            key: key.to_string(),
            message,
        })
    };
    let m = &c.model;
    let td = TrainConfig::default();
    if c.train.clip.is_some()
        || c.train.truncation.is_some()
        || c.train.schedule != td.schedule
        || c.train.decay.to_bits() != td.decay.to_bits()
        || c.train.decay_every != td.decay_every
    {
        return err(
            "train",
            "clip, schedule, decay, decay_every and truncation apply only to recurrent runs \
             (model.kind = \"rnn\" or \"gru\") so far; remove them for deep linear runs"
                .into(),
        );
    }
    if m.depth < 2 {
        return err(
            "model.depth",
            format!("must be >= 2 (number of weight matrices), got {}", m.depth),
        );
    }
    match m.hidden.expand(m.depth - 1) {
        None => {
            return err(
                "model.hidden",
                format!(
                    "give one width, or a list of depth - 1 = {} widths",
                    m.depth - 1
                ),
            )
        }
        Some(h) if h.contains(&0) => return err("model.hidden", "every width must be >= 1".into()),
        _ => {}
    }
    let t = &c.task;
    if t.kind != TaskKind::LinearTeacher {
        return err(
                "task.kind",
                format!("\"{}\" is a sequence task; deep linear networks learn \"linear_teacher\" (or set model.kind = \"rnn\" or \"gru\")", t.kind.name()),
            );
    }
    if t.d_in == 0 {
        return err("task.d_in", "must be >= 1".into());
    }
    if t.d_out == 0 {
        return err("task.d_out", "must be >= 1".into());
    }
    if t.sigma_yx.is_none() {
        let k = t.d_in.min(t.d_out);
        if t.singular_values.is_empty() || t.singular_values.len() > k {
            return err(
                "task.singular_values",
                format!(
                    "need 1 to min(d_in, d_out) = {k} values, got {}",
                    t.singular_values.len()
                ),
            );
        }
        if t.singular_values
            .iter()
            .any(|s| !(s.is_finite() && *s > 0.0))
        {
            return err(
                "task.singular_values",
                "every value must be finite and > 0".into(),
            );
        }
        if t.singular_values.windows(2).any(|w| w[1] > w[0]) {
            return err(
                "task.singular_values",
                "list them in nonincreasing order (mode 0 is the strongest)".into(),
            );
        }
    }
    if !(t.noise_std >= 0.0 && t.noise_std.is_finite()) {
        return err(
            "task.noise_std",
            format!("must be finite and >= 0, got {}", t.noise_std),
        );
    }
    if let Some(p) = t.samples {
        if p > 0 && t.whiten && p < t.d_in {
            return err(
                "task.samples",
                format!(
                    "whitening needs samples >= d_in = {}; got {p} (or set task.whiten = false)",
                    t.d_in
                ),
            );
        }
    }
    let i = &c.init;
    if i.kind.has_scale() && !(i.scale > 0.0 && i.scale.is_finite()) {
        return err(
            "init.scale",
            format!("must be finite and > 0, got {}", i.scale),
        );
    }
    if i.kind == InitKind::LambdaBalanced && !i.lambda.is_finite() {
        return err("init.lambda", "must be finite".into());
    }
    if i.kind == InitKind::Aligned {
        if !(i.lambda.is_finite()) {
            return err("init.lambda", "must be finite".into());
        }
        if !(i.perturb >= 0.0 && i.perturb.is_finite()) {
            return err(
                "init.perturb",
                format!("must be finite and >= 0, got {}", i.perturb),
            );
        }
        let u0_ok = match &i.u0 {
            OneOrMany::One(x) => x.is_finite(),
            OneOrMany::Many(v) => !v.is_empty() && v.iter().all(|x| x.is_finite()),
        };
        if !u0_ok {
            return err(
                "init.u0",
                "must be a finite number or a non-empty list of them".into(),
            );
        }
        if t.sigma_yx.is_none() {
            let r = t.singular_values.len();
            if i.u0.expand(r).is_none() {
                return err(
                    "init.u0",
                    format!("give one number, or one per teacher mode ({r})"),
                );
            }
            let narrowest = c.hidden_widths().into_iter().min().unwrap_or(r);
            if narrowest < r {
                return err(
                        "model.hidden",
                        format!(
                            "an aligned init needs every hidden width >= the teacher's rank {r}; the narrowest is {narrowest}"
                        ),
                    );
            }
        }
    }
    // Keys that only some init kinds read: setting them for another kind is a mistake.
    let defaults = InitConfig::default();
    // "Changed from its default" is an exact (bitwise) question, not a numerical one.
    let changed = |x: f64, default: f64| x.to_bits() != default.to_bits();
    let only = |key: &str, kinds: &str| {
        err(
            key,
            format!(
                "applies only to init.kind = {kinds}, not \"{}\"; remove it or change init.kind",
                i.kind.name()
            ),
        )
    };
    if i.kind != InitKind::Aligned {
        if i.u0 != defaults.u0 {
            return only("init.u0", "\"aligned\"");
        }
        if changed(i.lambda, defaults.lambda) && i.kind != InitKind::LambdaBalanced {
            return only("init.lambda", "\"aligned\" or \"lambda_balanced\"");
        }
        if changed(i.perturb, defaults.perturb) {
            return only("init.perturb", "\"aligned\"");
        }
    }
    if !i.kind.has_scale() && changed(i.scale, defaults.scale) {
        return only(
            "init.scale",
            "\"gaussian\", \"orthogonal\" or \"lambda_balanced\"",
        );
    }
    if i.kind != InitKind::Npy && !i.weights.is_empty() {
        return only("init.weights", "\"npy\"");
    }
    if i.kind == InitKind::Npy && i.weights.len() != m.depth {
        return err(
            "init.weights",
            format!(
                "give one .npy path per layer ({} for depth {}), got {}",
                m.depth,
                m.depth,
                i.weights.len()
            ),
        );
    }
    let tr = &c.train;
    if tr.optimizer == OptimizerKind::Sgd && t.samples.unwrap_or(0) == 0 {
        return err(
            "train.optimizer",
            "\"sgd\" draws minibatches from finite data: set task.samples (and train.batch_size)"
                .into(),
        );
    }
    if let Some(b) = tr.batch_size {
        if tr.optimizer == OptimizerKind::Gd {
            return err(
                "train.batch_size",
                "applies to \"sgd\" and \"adam\"; gd is full batch".into(),
            );
        }
        if b == 0 || t.samples.is_some_and(|p| b > p) {
            return err(
                "train.batch_size",
                format!(
                    "must be between 1 and task.samples ({}), got {b}",
                    t.samples.unwrap_or(0)
                ),
            );
        }
    }
    Ok(())
}

impl Config {
    /// Checks shared by every model kind: `[train]` optimizer settings, `[theory]`,
    /// `[integrate]`, and the record spacing of `[output]`.
    fn validate_common(&self, origin: &str) -> Result<()> {
        let err = |key: &str, message: String| {
            Err(Error::Config {
                file: origin.to_string(),
                key: key.to_string(),
                message,
            })
        };
        let tr = &self.train;
        if !(0.0..1.0).contains(&tr.beta1) || !(0.0..1.0).contains(&tr.beta2) {
            return err("train.beta1", "beta1 and beta2 must lie in [0, 1)".into());
        }
        if !(tr.eps > 0.0 && tr.eps.is_finite()) {
            return err(
                "train.eps",
                format!("must be finite and > 0, got {}", tr.eps),
            );
        }
        if !(tr.lr > 0.0 && tr.lr.is_finite()) {
            return err(
                "train.lr",
                format!("must be finite and > 0 (e.g. 0.01), got {}", tr.lr),
            );
        }
        if tr.seeds.is_empty() {
            return err(
                "train.seeds",
                "give at least one seed, e.g. [0, 1, 2]".into(),
            );
        }
        let mut sorted = tr.seeds.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != tr.seeds.len() {
            return err("train.seeds", "seeds must be distinct".into());
        }
        if tr.divergence_factor.is_nan() || tr.divergence_factor <= 1.0 {
            return err(
                "train.divergence_factor",
                format!("must be > 1, got {}", tr.divergence_factor),
            );
        }
        for s in &self.theory.sources {
            if !THEORY_SOURCES.contains(&s.as_str()) {
                return err(
                    "theory.sources",
                    format!("'{s}' is unknown; allowed: {THEORY_SOURCES:?}"),
                );
            }
        }
        let g = &self.integrate;
        if !METHODS.contains(&g.method.as_str()) {
            return err(
                "integrate.method",
                format!("'{}' is unknown; allowed: {METHODS:?}", g.method),
            );
        }
        let tol_ok = |x: f64| x >= 0.0 && x.is_finite();
        if !(tol_ok(g.rtol) && tol_ok(g.atol)) || g.rtol + g.atol <= 0.0 {
            return err(
                "integrate.rtol",
                "rtol and atol must be finite, >= 0 and not both 0".into(),
            );
        }
        let adaptive = crate::integrate::Method::parse(&g.method).is_some_and(|m| m.is_adaptive());
        if !adaptive && !g.fixed_step.is_some_and(|h| h > 0.0 && h.is_finite()) {
            return err(
                "integrate.fixed_step",
                format!(
                    "method '{}' has no error control: set a fixed_step > 0 (e.g. 1e-3)",
                    g.method
                ),
            );
        }
        if g.max_steps == 0 {
            return err("integrate.max_steps", "must be >= 1".into());
        }
        let o = &self.output;
        if o.records < 2 {
            return err(
                "output.records",
                format!("need at least 2 record points, got {}", o.records),
            );
        }
        if !(tr.decay > 0.0 && tr.decay.is_finite()) || tr.decay_every == 0 {
            return err(
                "train.decay",
                "decay must be finite and > 0, decay_every >= 1".into(),
            );
        }
        if tr.clip.is_some_and(|c| !(c > 0.0 && c.is_finite())) {
            return err(
                "train.clip",
                "must be finite and > 0 (a gradient 2-norm)".into(),
            );
        }
        Ok(())
    }
}
