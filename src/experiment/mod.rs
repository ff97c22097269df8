//! One experiment: a config in, every theory source and the simulated network side by side out.
//!
//! [`run`] sends a config through the one [`pipeline`] of its model [`family`] (deep linear
//! network, RNN, GRU). Every observable is computed at the same gradient-flow times
//! `t = sum_{j<k} lr_j` (`lr * step` at a constant rate, C-6) for:
//! - `closed_form`, `reduced_ode`: the family's theory, where its assumptions hold (otherwise
//!   skipped with the reason);
//! - `gradient_flow`: the full finite-width gradient-flow ODE (C-5) from the first seed's init;
//! - the simulation (`gd`, `sgd` or `adam`): the finite network trained by the one
//!   [`crate::train::Trainer`], one run per seed.
//!
//! It returns [`Record`]s (the rows of `records.csv`), a [`Summary`] of discrepancies, final
//! weights and diagnostics. Nothing is printed; progress goes to a callback.

pub mod aligned_oblique;
pub mod config;
pub mod examples;
pub mod family;
pub mod load;
pub mod memory;
pub mod observable;
pub mod pipeline;
pub mod rnn_config;
pub mod summary;
pub mod toml_text;

use crate::error::Result;
use crate::linalg::Matrix;
use crate::train::TrainStatus;
use config::{Config, LoadedConfig};
pub use family::deep_linear::DeepLinearFamily;
pub use observable::Observable;
pub use pipeline::{schedule, simulation};
use serde::Serialize;
use std::collections::BTreeMap;
pub use summary::{record_steps, seed_mean};

/// Where a record comes from (the `source` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Closed-form theory.
    ClosedForm,
    /// Reduced (mode) ODE, integrated.
    ReducedOde,
    /// Full finite-width gradient flow, integrated.
    GradientFlow,
    /// Gradient descent on the finite network.
    Gd,
    /// Minibatch SGD on the finite network.
    Sgd,
    /// Adam on the finite network.
    Adam,
}

impl Source {
    /// Name as written in `records.csv`.
    pub fn name(self) -> &'static str {
        match self {
            Source::ClosedForm => "closed_form",
            Source::ReducedOde => "reduced_ode",
            Source::GradientFlow => "gradient_flow",
            Source::Gd => "gd",
            Source::Sgd => "sgd",
            Source::Adam => "adam",
        }
    }
    /// Theory sources (all but simulations).
    pub fn is_theory(self) -> bool {
        !self.is_simulation()
    }
    /// Simulations of the finite network (one per run: the configured optimizer).
    pub fn is_simulation(self) -> bool {
        matches!(self, Source::Gd | Source::Sgd | Source::Adam)
    }
    /// The source called `s`, if any.
    pub fn parse(s: &str) -> Option<Source> {
        match s {
            "closed_form" => Some(Source::ClosedForm),
            "reduced_ode" => Some(Source::ReducedOde),
            "gradient_flow" => Some(Source::GradientFlow),
            "gd" => Some(Source::Gd),
            "sgd" => Some(Source::Sgd),
            "adam" => Some(Source::Adam),
            _ => None,
        }
    }
}

/// One row of `records.csv`: `source,seed,step,t,observable,index,value` (and `kind`, from
/// [`Source::is_theory`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Source of the value.
    pub source: Source,
    /// Seed of the simulation run (`None` for theory rows).
    pub seed: Option<u64>,
    /// GD step (`None` for theory rows).
    pub step: Option<u64>,
    /// Gradient-flow time (units of tau).
    pub t: f64,
    /// What the value measures.
    pub observable: Observable,
    /// Mode / singular-value index from 0; `None` for scalars.
    pub index: Option<usize>,
    /// The value.
    pub value: f64,
}

/// Progress events for a front end (the library never prints).
#[derive(Debug, Clone)]
pub enum Progress {
    /// A stage started: name and number of units of work.
    Start(String, u64),
    /// Units of work done in the current stage.
    Advance(u64),
    /// The current training loss (at a record step of the current stage).
    Loss(f64),
    /// The current stage finished.
    Finish,
}

/// Discrepancy of one theory source against the seed-mean simulation, for one observable.
#[derive(Debug, Clone, Serialize)]
pub struct Discrepancy {
    /// `max |theory - mean_sim|` over record times and indices.
    pub max_abs: f64,
    /// `max_abs / max |mean_sim|` over the same times and indices (scale-relative).
    pub max_rel: f64,
    /// Number of (time, index) points compared.
    pub points: usize,
}

/// Outcome of one simulated seed.
#[derive(Debug, Clone, Serialize)]
pub struct SeedRun {
    /// The seed.
    pub seed: u64,
    /// Completed or diverged (with step and loss).
    #[serde(flatten)]
    pub status: TrainStatus,
    /// Loss at the last recorded step.
    pub final_loss: f64,
}

/// `summary.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Per theory source, per observable: discrepancy to the seed-mean GD.
    pub discrepancy: BTreeMap<String, BTreeMap<String, Discrepancy>>,
    /// Per source (`gd` = seed mean): time each mode first reaches half of its strength at
    /// the last record time, by linear interpolation between record times (`null` when that
    /// final strength is 0 or not finite). Only when `mode_strength` is recorded.
    /// A run that ends before a mode is learned reports half of an unfinished value.
    pub time_to_half: BTreeMap<String, Vec<Option<f64>>>,
    /// Per source: the first time each mode reaches half of the teacher's strength,
    /// `u_alpha(t) = s_alpha / 2` (Saxe's learning time, DL-6/DL-10): exact for `closed_form`,
    /// located by events on the dense output for `reduced_ode` and `gradient_flow`, and by
    /// linear interpolation between record steps for `gd` (seed mean). `null` if not reached.
    pub time_to_learn: BTreeMap<String, Vec<Option<f64>>>,
    /// Learning rate, for reading discrepancies as O(lr) effects.
    pub lr: f64,
    /// Seeds whose GD runs are averaged (those that did not diverge).
    pub seeds_in_mean: Vec<u64>,
    /// Every simulated run.
    pub runs: Vec<SeedRun>,
}

/// A theory source that was requested but not computed, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    /// The source.
    pub source: String,
    /// Why its assumptions do not hold for this run.
    pub reason: String,
}

/// Everything a run produces.
#[derive(Debug, Clone)]
pub struct RunOutput {
    /// All rows, in source order, then seed, then time.
    pub records: Vec<Record>,
    /// Discrepancies and learning times.
    pub summary: Summary,
    /// Final weights per seed as named blocks (`W1..WL` for deep linear networks; `w`, `u`,
    /// `c`, ... for RNNs; `wi`, `wh`, ... for GRUs): the stems of `weights/seed<S>_<name>.npy`.
    pub final_weights: Vec<(u64, Vec<(String, Matrix)>)>,
    /// Requested theory sources that were skipped.
    pub skipped: Vec<Skipped>,
    /// Wall time per stage, seconds.
    pub timings: BTreeMap<String, f64>,
    /// Integrator work for the ODE sources.
    pub integrator_stats: BTreeMap<String, crate::integrate::Stats>,
    /// Teacher singular values (the modes).
    pub teacher_singular_values: Vec<f64>,
    /// `||Sigma_xx - I||_F` of the training inputs.
    pub whitening_error: f64,
    /// GD steps at which records were taken.
    pub record_steps: Vec<u64>,
    /// The family that produced the output (`model.kind`).
    pub model_kind: config::ModelKind,
    /// Recurrent runs with `analysis.fixed_points`: the fixed points of every trained seed.
    pub fixed_points: Vec<(u64, crate::analysis::fixed_points::FixedPointSet)>,
}

/// Run an experiment. `progress` receives stage events (for a progress bar).
pub fn run(loaded: &LoadedConfig, progress: &mut dyn FnMut(Progress)) -> Result<RunOutput> {
    family::dispatch!(loaded.config.model.kind, F => pipeline::run::<F>(loaded, progress))
}

/// Build the problem a config describes (data, network, first init) without running it:
/// the input errors `learndyn check` reports.
pub fn check_problem(loaded: &LoadedConfig) -> Result<()> {
    family::check(loaded)
}

/// The memory estimate of a config's problem ([`memory`]), largest term first.
pub fn memory_estimate(c: &Config) -> Vec<memory::Item> {
    let mut items = family::memory(c);
    items.sort_by_key(|i| std::cmp::Reverse(i.bytes));
    items
}

/// Parse a config given inline (for built-in examples): origin is used in messages.
pub fn load_builtin(name: &str, text: &str, overrides: &[String]) -> Result<LoadedConfig> {
    let origin = format!("<built-in {name}>");
    let config = Config::from_toml(text, &origin, overrides)?;
    Ok(LoadedConfig {
        config,
        origin,
        base_dir: std::path::PathBuf::from("."),
    })
}
