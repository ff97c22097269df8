//! Model families: everything that differs between deep linear networks, RNNs and GRUs, behind
//! one trait, so that [`super::pipeline::run`] (seeds, sources, records, summary, progress,
//! output) is written once.
//!
//! A family owns its config sections' checks ([`Family::validate`]), builds its problem (data,
//! network, initialization) from a config, gives the [`Model`] that the one
//! [`crate::train::Trainer`] trains and [`crate::dynamics::GradientFlow`] integrates, computes
//! the theory sources that apply to it (or says why not, [`TheoryOutcome::Skipped`]), records
//! its observables, and runs its extra analyses (fixed points). A new family is one file that
//! implements [`Family`], one [`ModelKind`](super::config::ModelKind) variant and one arm in this module's `dispatch!`
//! macro.

pub mod deep_linear;
pub mod gru;
pub mod rnn;
pub mod sequence;

use super::config::{Config, LoadedConfig};
use super::observable::{Observable, Wanted};
use super::{Progress, Record, Source};
use crate::analysis::fixed_points::FixedPointSet;
use crate::error::Result;
use crate::integrate::{self, Event, Ivp, Method, Options, Output, VectorField, Workspace};
use crate::linalg::Matrix;
use crate::model::Model;

/// Where and when a record is taken.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stamp {
    /// The source of the record.
    pub source: Source,
    /// Seed of a simulation (`None` for theory).
    pub seed: Option<u64>,
    /// Training step of a simulation (`None` for theory).
    pub step: Option<u64>,
    /// Gradient-flow time (C-6).
    pub t: f64,
}

impl Stamp {
    /// A theory stamp at time `t`.
    pub fn theory(source: Source, t: f64) -> Stamp {
        Stamp {
            source,
            seed: None,
            step: None,
            t,
        }
    }
    /// The record of `observable` at this stamp.
    pub fn record(&self, observable: Observable, index: Option<usize>, value: f64) -> Record {
        Record {
            source: self.source,
            seed: self.seed,
            step: self.step,
            t: self.t,
            observable,
            index,
            value,
        }
    }
}

/// Records the observables of one trajectory of the family's parameters (a training run or
/// the gradient flow), against the initial parameters it was made with.
pub trait TrajectoryObserver {
    /// Push the records of parameters `theta` with loss `loss` at `at`.
    fn push(&self, out: &mut Vec<Record>, at: Stamp, theta: &[f64], loss: f64);
}

/// What the [`Model`] of a family is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelUse {
    /// Training: minibatches from the training samples, BPTT truncation as configured.
    Train,
    /// The gradient flow and its loss: the full-batch, exact-gradient objective.
    Flow,
}

/// The result of a theory source.
#[derive(Debug, Clone)]
pub enum TheoryOutcome {
    /// Its records, the first time each mode reaches half its teacher strength (if the family
    /// has modes and the source locates them) and the integrator's work (ODE sources).
    Computed {
        /// Records at the run's record times.
        records: Vec<Record>,
        /// `time_to_learn` of this source (see [`super::Summary::time_to_learn`]).
        learn_times: Option<Vec<Option<f64>>>,
        /// Integrator work, if the source was integrated.
        stats: Option<integrate::Stats>,
    },
    /// The source's assumptions do not hold, or its integration failed: why.
    Skipped(String),
}

/// What a theory source gets from the run.
#[derive(Debug, Clone, Copy)]
pub struct TheoryContext<'a> {
    /// The resolved config.
    pub config: &'a Config,
    /// Record times (gradient-flow time, C-6), nondecreasing.
    pub times: &'a [f64],
    /// The requested observables.
    pub want: &'a Wanted,
    /// ODE method of `[integrate]`.
    pub method: &'a Method,
    /// ODE options of `[integrate]`.
    pub opts: &'a Options,
}

/// Facts about the problem that go into the summary and manifest.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Teacher singular values (the modes) where the task has them (manifest `task`).
    pub teacher_singular_values: Vec<f64>,
    /// `||Sigma_xx - I||_F` of the training inputs (NaN where not defined).
    pub whitening_error: f64,
    /// Number of teacher modes (for `time_to_half`).
    pub rank: usize,
    /// Teacher strengths `s_a` whose half the simulation's `time_to_learn` locates (deep
    /// linear networks); `None`: no `time_to_learn` for simulations.
    pub learn_targets: Option<Vec<f64>>,
}

/// A model family (see the module docs).
pub trait Family: Sized {
    /// The model of training runs and of the gradient flow, bound to the family's data.
    type Model<'a>: Model
    where
        Self: 'a;
    /// Records the family's observables along one trajectory.
    type Observer<'a>: TrajectoryObserver
    where
        Self: 'a;

    /// Human name of the family (progress, messages).
    const NAME: &'static str;

    /// The large arrays the problem of `c` allocates (weights, data, workspaces, records),
    /// computed from the config alone, before anything is built (issue 15).
    fn memory(c: &Config) -> Vec<super::memory::Item>;
    /// The observables the family can record, in record order.
    const OBSERVABLES: &'static [Observable];

    /// Check the family's config sections; errors name the file, `section.key` and the fix.
    fn validate(c: &Config, origin: &str) -> Result<()>;
    /// Fill in the family's sections that were left out, so the resolved config shows every
    /// value used.
    fn fill_defaults(_c: &mut Config) {}
    /// Build the problem: data, network, initialization rule. Draws the first seed's init so
    /// impossible inits are input errors (found by `learndyn check`).
    fn build(loaded: &LoadedConfig) -> Result<Self>;
    /// Initial parameters of `seed`.
    fn initial_params(&self, seed: u64) -> Result<Vec<f64>>;
    /// The model for `purpose`.
    fn model(&self, purpose: ModelUse) -> Result<Self::Model<'_>>;
    /// An observer of a trajectory that starts at `theta0`.
    fn observer<'a>(&'a self, theta0: &[f64], want: &Wanted) -> Result<Self::Observer<'a>>;
    /// The theory source `source` (`closed_form` or `reduced_ode`; the pipeline computes
    /// `gradient_flow` itself for every family).
    fn theory(&self, source: Source, ctx: &TheoryContext) -> Result<TheoryOutcome>;
    /// Events on the gradient flow's state whose first crossings are its `time_to_learn`
    /// (one per mode, index = mode); none by default.
    fn learn_events(&self) -> Vec<Event<'_>> {
        Vec::new()
    }
    /// The final weights of `theta` as named blocks (the stems of `weights/seed<S>_<name>.npy`).
    fn weights(&self, theta: &[f64]) -> Vec<(String, Matrix)>;
    /// Analyses of the trained (non-diverged) seeds: their fixed points; none by default.
    fn fixed_points(
        &self,
        _trained: &[(u64, Vec<f64>)],
        _progress: &mut dyn FnMut(Progress),
    ) -> Result<Vec<(u64, FixedPointSet)>> {
        Ok(Vec::new())
    }
    /// Facts for the summary and manifest.
    fn facts(&self) -> Facts;
}

/// The family's observables that `c` requests: `output.observables`, or all of the family's
/// when the list is left at its default (the deep linear default list).
pub fn requested_observables<F: Family>(c: &Config) -> Vec<Observable> {
    if c.output.observables == super::config::OutputConfig::default().observables {
        if let Some(d) = family_default(F::OBSERVABLES) {
            return d;
        }
    }
    c.output.observables.clone()
}

/// The default list of a family other than deep linear networks (all of its observables).
fn family_default(all: &[Observable]) -> Option<Vec<Observable>> {
    (all != deep_linear::DeepLinearFamily::OBSERVABLES).then(|| all.to_vec())
}

/// Check that every requested observable is one of the family's.
pub fn validate_observables<F: Family>(c: &Config, origin: &str) -> Result<()> {
    for ob in requested_observables::<F>(c) {
        if !F::OBSERVABLES.contains(&ob) {
            let allowed: Vec<&str> = F::OBSERVABLES.iter().map(|o| o.name()).collect();
            return Err(crate::Error::Config {
                file: origin.to_string(),
                key: "output.observables".into(),
                message: format!(
                    "'{ob}' is not an observable of {} runs; allowed: {allowed:?}",
                    F::NAME
                ),
            });
        }
    }
    Ok(())
}

/// Call `$body` with the family type of `$kind` bound to `$f`: the one place that maps a
/// [`ModelKind`](super::config::ModelKind) to its [`Family`].
macro_rules! dispatch {
    ($kind:expr, $f:ident => $body:expr) => {
        match $kind {
            $crate::experiment::config::ModelKind::DeepLinear => {
                type $f = $crate::experiment::family::deep_linear::DeepLinearFamily;
                $body
            }
            $crate::experiment::config::ModelKind::Rnn => {
                type $f = $crate::experiment::family::rnn::RnnFamily;
                $body
            }
            $crate::experiment::config::ModelKind::Gru => {
                type $f = $crate::experiment::family::gru::GruFamily;
                $body
            }
        }
    };
}
pub(crate) use dispatch;

/// Build the problem `loaded` describes without running it (the input errors of `check`).
pub fn check(loaded: &LoadedConfig) -> Result<()> {
    check_memory(&loaded.config)?;
    dispatch!(loaded.config.model.kind, F => F::build(loaded).map(|_| ()))
}

/// The memory estimate of `c`'s family.
pub fn memory(c: &Config) -> Vec<super::memory::Item> {
    dispatch!(c.model.kind, F => F::memory(c))
}

/// Refuse a problem that would not fit in the memory this process may use (before building).
pub fn check_memory(c: &Config) -> Result<()> {
    super::memory::check(&memory(c), super::memory::available())
}

/// The parameters of every seed, the optimizer's moments and the gradient flow's solver, which
/// keeps about 20 copies of the parameters (stages, dense output, error).
pub fn params_memory(params: usize, seeds: usize) -> super::memory::Item {
    super::memory::Item {
        what: "weights, optimizer and ODE states",
        key: "model.hidden",
        bytes: super::memory::f64s(&[params, seeds.saturating_add(3).saturating_add(20)]),
    }
}

/// The records of a run: `output.records` times per source and seed, `width` values per
/// observable (64 bytes each in memory).
pub fn records_memory(c: &Config, observables: usize, width: usize) -> super::memory::Item {
    let sources = c.train.seeds.len() + 3;
    super::memory::Item {
        what: "records",
        key: "output.records",
        bytes: super::memory::f64s(&[
            c.output.records,
            sources,
            observables.max(1),
            width.max(1),
            8,
        ]),
    }
}

/// The family checks of a parsed config (after the checks every family shares).
pub fn validate(c: &Config, origin: &str) -> Result<()> {
    dispatch!(c.model.kind, F => {
        F::validate(c, origin)?;
        validate_observables::<F>(c, origin)
    })
}

/// Fill in the left-out sections of the config's family.
pub fn fill_defaults(c: &mut Config) {
    dispatch!(c.model.kind, F => F::fill_defaults(c))
}

/// Integrate `field` from `y0` at `t = 0` to the last of `times`, calling `on_save` at each
/// (for the families' reduced ODEs).
pub fn solve_saving(
    method: &Method,
    field: &mut dyn VectorField,
    y0: &[f64],
    times: &[f64],
    opts: &Options,
    on_save: &mut dyn FnMut(f64, &[f64]),
) -> Result<integrate::Stats> {
    let mut ws = Workspace::new(y0.len());
    let t_end = *times.last().unwrap_or(&0.0);
    let sol = integrate::solve(
        method,
        field,
        &Ivp::new(0.0, y0, t_end),
        opts,
        &mut ws,
        &mut Output::at_times(times, on_save),
    )?;
    Ok(sol.stats)
}

/// The config error at `key` of `origin` (the checks of the families' sections).
pub(crate) fn fail(origin: &str, key: &str, message: String) -> Result<()> {
    Err(crate::error::Error::Config {
        file: origin.to_string(),
        key: key.to_string(),
        message,
    })
}
