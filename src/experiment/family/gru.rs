//! GRUs trained by BPTT (`model.kind = "gru"`, theory/gru.md GRU-1..GRU-7): section `[gru]`
//! plus the sequence task of `[task]` and `[sequence]`. Every optimizer, the `gradient_flow`
//! source, the spectrum of the linearization at the origin (GRU-6) as the observables
//! `eigenvalue_re`, `eigenvalue_im`, `timescale` (discrete time, steps), the change of that
//! linearization since the init (`delta_singular_value`, `effective_rank`), and the fixed
//! points of the trained networks under a constant input (GRU-5, `[analysis]`).
//! GRUs have no reduced theory in learndyn: `closed_form` and `reduced_ode` are skipped.

use super::sequence::{self, cfg_err, SequenceTask};
use super::{Facts, Family, ModelUse, Stamp, TheoryContext, TheoryOutcome, TrajectoryObserver};
use crate::analysis::fixed_points::{self, FixedPointSet};
use crate::analysis::spectra::{self, TimeKind};
use crate::error::{Error, Result};
use crate::experiment::config::{Config, LoadedConfig};
use crate::experiment::observable::{Observable, Wanted};
use crate::experiment::rnn_config::{AnalysisConfig, GruInitKind};
use crate::experiment::{Progress, Record, Source};
use crate::linalg::Matrix;
use crate::model::gru::{Gru, GruInit, GruModel, GruSpec};

/// A GRU problem: the sequence task, the network and its initialization.
#[derive(Debug, Clone)]
pub struct GruFamily {
    /// The training sequences.
    pub task: SequenceTask,
    /// The network.
    pub model: Gru,
    init: GruInit,
    truncation: Option<usize>,
    analysis: Option<AnalysisConfig>,
}

impl Family for GruFamily {
    type Model<'a> = GruModel<'a>;
    type Observer<'a> = GruObserver<'a>;
    const NAME: &'static str = "GRU";
    const OBSERVABLES: &'static [Observable] = &[
        Observable::Loss,
        Observable::EigenvalueRe,
        Observable::EigenvalueIm,
        Observable::Timescale,
        Observable::DeltaSingularValue,
        Observable::EffectiveRank,
    ];

    fn memory(c: &Config) -> Vec<crate::experiment::memory::Item> {
        let n = c.hidden_widths().first().copied().unwrap_or(8);
        let (i, o) = (c.task.d_in, c.task.d_out);
        // Three gates' input and recurrent weights and biases, the readout and h0.
        let params = n.saturating_mul(
            n.saturating_add(i)
                .saturating_mul(3)
                .saturating_add(o)
                .saturating_add(5),
        );
        super::sequence::recurrent_memory(c, params, 10, Self::OBSERVABLES.len())
    }

    fn validate(c: &Config, origin: &str) -> Result<()> {
        sequence::validate_sequence(c, origin, "GRU", "[gru] (init, gain)")?;
        let g = c.gru.clone().unwrap_or_default();
        if !(g.gain.is_finite() && g.gain >= 0.0) {
            return Err(Error::Config {
                file: origin.into(),
                key: "gru.gain".into(),
                message: format!(
                    "must be finite and >= 0 (1 is PyTorch's default), got {}",
                    g.gain
                ),
            });
        }
        Ok(())
    }

    fn fill_defaults(c: &mut Config) {
        c.gru.get_or_insert_with(Default::default);
        c.sequence.get_or_insert_with(Default::default);
        c.analysis.get_or_insert_with(Default::default);
    }

    fn build(loaded: &LoadedConfig) -> Result<Self> {
        let c = &loaded.config;
        let g = c.gru.clone().unwrap_or_default();
        let spec = GruSpec {
            n_in: c.task.d_in,
            hidden: c.hidden_widths().first().copied().unwrap_or(8),
            n_out: c.task.d_out,
            bias: g.bias,
            readout_bias: g.readout_bias,
            learn_h0: g.learn_h0,
        };
        let family = GruFamily {
            task: sequence::build_task(loaded)?,
            model: Gru::new(spec)?,
            init: match g.init {
                GruInitKind::Uniform => GruInit::Uniform { gain: g.gain },
                GruInitKind::Gaussian => GruInit::Gaussian { gain: g.gain },
            },
            truncation: c.train.truncation,
            analysis: c.analysis.clone(),
        };
        if let Some(&seed) = c.train.seeds.first() {
            family
                .initial_params(seed)
                .map_err(|e| cfg_err(loaded, "gru.init", e.to_string()))?;
        }
        Ok(family)
    }

    fn initial_params(&self, seed: u64) -> Result<Vec<f64>> {
        self.model.init(self.init, seed)
    }

    fn model(&self, purpose: ModelUse) -> Result<GruModel<'_>> {
        let truncation = match purpose {
            ModelUse::Train => self.truncation,
            ModelUse::Flow => None,
        };
        GruModel::new(&self.model, &self.task.data, truncation)
    }

    fn observer<'a>(&'a self, theta0: &[f64], want: &Wanted) -> Result<GruObserver<'a>> {
        Ok(GruObserver {
            model: &self.model,
            want: want.clone(),
            j0: self.model.origin_jacobian(theta0)?,
        })
    }

    fn theory(&self, source: Source, _ctx: &TheoryContext) -> Result<TheoryOutcome> {
        Ok(TheoryOutcome::Skipped(format!(
            "GRU learning dynamics have no {} in learndyn; see gradient_flow",
            if source == Source::ClosedForm {
                "closed form"
            } else {
                "reduced ODE"
            }
        )))
    }

    fn weights(&self, theta: &[f64]) -> Vec<(String, Matrix)> {
        let m = &self.model;
        m.blocks()
            .iter()
            .filter_map(|b| m.get(theta, &b.name).map(|w| (b.name.clone(), w)))
            .collect()
    }

    fn fixed_points(
        &self,
        trained: &[(u64, Vec<f64>)],
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Vec<(u64, FixedPointSet)>> {
        let Some(a) = self.analysis.as_ref().filter(|a| a.fixed_points) else {
            return Ok(Vec::new());
        };
        // One unit per init search: the searches are the cost (seeds x analysis.n_inits).
        progress(Progress::Start(
            "fixed points".into(),
            trained.len() as u64 * a.n_inits as u64,
        ));
        let n_in = self.model.spec().n_in;
        let input = a.input.clone().unwrap_or_else(|| vec![0.0; n_in]);
        let mut out = Vec::new();
        for (seed, theta) in trained {
            // Initial states sampled along the training trajectories (theory/fixed_points.md).
            let mut ws = self.model.workspace(&self.task.data);
            self.model.loss(theta, &self.task.data, &mut ws)?;
            let opts = sequence::fp_options(a, *seed);
            let inits = fixed_points::sample_inits(ws.states(), &opts)?;
            let map = self.model.state_map(theta, &input)?;
            let mut on_init = || progress(Progress::Advance(1));
            let set = fixed_points::find_fixed_points_observed(&map, &inits, &opts, &mut on_init)?;
            out.push((*seed, set));
        }
        progress(Progress::Finish);
        Ok(out)
    }

    fn facts(&self) -> Facts {
        Facts {
            whitening_error: f64::NAN,
            rank: self.task.modes.as_ref().map_or(0, |m| m.lags.len()),
            ..Facts::default()
        }
    }
}

/// Observables of a GRU state: the loss and the linearization at the origin (GRU-6).
pub struct GruObserver<'a> {
    model: &'a Gru,
    want: Wanted,
    /// The linearization at the initial parameters.
    j0: Matrix,
}

impl TrajectoryObserver for GruObserver<'_> {
    fn push(&self, out: &mut Vec<Record>, at: Stamp, theta: &[f64], loss: f64) {
        let want = &self.want;
        if want.has(Observable::Loss) {
            out.push(at.record(Observable::Loss, None, loss));
        }
        let spectral = [
            Observable::EigenvalueRe,
            Observable::EigenvalueIm,
            Observable::Timescale,
            Observable::DeltaSingularValue,
            Observable::EffectiveRank,
        ];
        if !want.any(&spectral) {
            return;
        }
        // A diverged (non-finite) theta has no linearization: record NaN.
        let n = self.model.spec().hidden;
        let j = self
            .model
            .origin_jacobian(theta)
            .unwrap_or_else(|_| Matrix::from_fn(n, n, |_, _| f64::NAN));
        let ev = sequence::sorted_eigenvalues(&j, TimeKind::Discrete);
        let ts = |l| spectra::timescale(l, TimeKind::Discrete);
        sequence::push_spectrum(out, at, &ev, &ts, want);
        if want.any(&[Observable::DeltaSingularValue, Observable::EffectiveRank]) {
            let sv = sequence::singular_values(&j.sub(&self.j0));
            sequence::push_delta(out, at, &sv, want);
        }
    }
}
