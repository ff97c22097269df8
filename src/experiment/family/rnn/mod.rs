//! RNNs trained by BPTT (`model.kind = "rnn"`): section `[rnn]` (RN-1, RN-4, RN-5, RN-9)
//! plus the sequence task of `[task]` and `[sequence]`; theory in its `theory` submodule (the
//! outlier model OL-* and the per-mode linear-RNN ODE LR-2); observables of the learned
//! dynamics (mode strengths, lag products, the spectrum of `W`); fixed points of the trained
//! networks (theory/fixed_points.md). Observables are documented in docs/rnn.md.

mod theory;

use super::sequence::{self, cfg_err, gaussian, SequenceTask, TaskModes};
use super::{Facts, Family, ModelUse, Stamp, TheoryContext, TheoryOutcome, TrajectoryObserver};
use crate::analysis::fixed_points::{self, FixedPointSet, RnnMap};
use crate::analysis::spectra::{self, TimeKind};
use crate::error::{Error, Result};
use crate::experiment::config::{Config, LoadedConfig, TaskKind};
use crate::experiment::observable::{Observable, Wanted};
use crate::experiment::rnn_config::{FormKind, LearnBlock, RnnConfig, RnnInitKind};
use crate::experiment::{Progress, Record, Source};
use crate::linalg::{self, Matrix};
use crate::model::rnn::Activation;
use crate::model::seq_rnn::{Form, Learn, SeqRnn, SeqRnnSpec};
use crate::model::SeqRnnModel;
use crate::random::{self, stream};
use num_complex::Complex64;

/// An RNN problem: the sequence task, the network and how to initialize it.
#[derive(Debug, Clone)]
pub struct RnnFamily {
    /// The training sequences and the teacher's modes.
    pub task: SequenceTask,
    /// The network.
    pub model: SeqRnn,
    rnn: RnnConfig,
    truncation: Option<usize>,
    analysis: Option<crate::experiment::rnn_config::AnalysisConfig>,
    d_in: usize,
    task_kind: TaskKind,
    singular_values: Vec<f64>,
}

impl Family for RnnFamily {
    type Model<'a> = SeqRnnModel<'a>;
    type Observer<'a> = RnnObserver<'a>;
    const NAME: &'static str = "RNN";
    const OBSERVABLES: &'static [Observable] = &[
        Observable::Loss,
        Observable::ModeStrength,
        Observable::LagProduct,
        Observable::EigenvalueRe,
        Observable::EigenvalueIm,
        Observable::Timescale,
        Observable::DeltaSingularValue,
        Observable::EffectiveRank,
    ];

    fn memory(c: &Config) -> Vec<crate::experiment::memory::Item> {
        let n = c.hidden_widths().first().copied().unwrap_or(8);
        let (i, o) = (c.task.d_in, c.task.d_out);
        // W, U, C, bias and h0.
        let params = n.saturating_mul(n.saturating_add(i).saturating_add(o).saturating_add(2));
        super::sequence::recurrent_memory(c, params, 4, Self::OBSERVABLES.len())
    }

    fn validate(c: &Config, origin: &str) -> Result<()> {
        sequence::validate_sequence(
            c,
            origin,
            "RNN",
            "[rnn] (init, g, in_scale, out_scale, aligned_gains)",
        )?;
        validate_rnn_section(c, origin)
    }

    fn fill_defaults(c: &mut Config) {
        c.rnn.get_or_insert_with(Default::default);
        c.sequence.get_or_insert_with(Default::default);
        c.analysis.get_or_insert_with(Default::default);
    }

    fn build(loaded: &LoadedConfig) -> Result<Self> {
        build(loaded)
    }

    fn initial_params(&self, seed: u64) -> Result<Vec<f64>> {
        self.init_params(seed)
    }

    fn model(&self, purpose: ModelUse) -> Result<SeqRnnModel<'_>> {
        let truncation = match purpose {
            ModelUse::Train => self.truncation,
            ModelUse::Flow => None,
        };
        SeqRnnModel::new(&self.model, &self.task.data, truncation)
    }

    fn observer<'a>(&'a self, theta0: &[f64], want: &Wanted) -> Result<RnnObserver<'a>> {
        let closed_loop = self
            .task
            .teacher
            .as_ref()
            .is_some_and(|t| t.student_reads_observed);
        Ok(RnnObserver {
            model: &self.model,
            want: want.clone(),
            w0: self.model.effective_w(theta0)?,
            modes: self.task.modes.as_ref(),
            closed_loop,
        })
    }

    fn theory(&self, source: Source, ctx: &TheoryContext) -> Result<TheoryOutcome> {
        Ok(match source {
            Source::ClosedForm => match self.closed_form_reason(ctx.config) {
                Some(reason) => TheoryOutcome::Skipped(reason),
                None => match self.closed_form_records(ctx) {
                    Ok(records) => TheoryOutcome::Computed {
                        records,
                        learn_times: None,
                        stats: None,
                    },
                    Err(e) => {
                        TheoryOutcome::Skipped(format!("no stationary student (PO-1, PO-3): {e}"))
                    }
                },
            },
            Source::ReducedOde => match self.reduced_reason(ctx.config) {
                Some(reason) => TheoryOutcome::Skipped(reason),
                None => match self.reduced_records(ctx) {
                    Ok((records, stats)) => TheoryOutcome::Computed {
                        records,
                        learn_times: None,
                        stats: Some(stats),
                    },
                    Err(e) => TheoryOutcome::Skipped(format!("integration failed: {e}")),
                },
            },
            _ => TheoryOutcome::Skipped(
                "the RNN family's theory sources are closed_form and reduced_ode".into(),
            ),
        })
    }

    fn weights(&self, theta: &[f64]) -> Vec<(String, Matrix)> {
        let m = &self.model;
        m.blocks()
            .iter()
            .filter_map(|b| m.get(theta, &b.name).map(|w| (b.name.to_string(), w)))
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
        let per_seed = a.n_inits as u64;
        progress(Progress::Start(
            "fixed points".into(),
            trained.len() as u64 * per_seed,
        ));
        let mut out = Vec::new();
        for (seed, theta) in trained {
            out.push((*seed, self.fixed_points_of(theta, a, *seed, progress)?));
        }
        progress(Progress::Finish);
        Ok(out)
    }

    fn facts(&self) -> Facts {
        Facts {
            teacher_singular_values: if self.task_kind == TaskKind::LaggedModes {
                self.singular_values.clone()
            } else {
                Vec::new()
            },
            whitening_error: f64::NAN,
            rank: self.task.modes.as_ref().map_or(0, |m| m.lags.len()),
            learn_targets: None,
        }
    }
}

/// The `[rnn]` checks.
fn validate_rnn_section(c: &Config, origin: &str) -> Result<()> {
    let err = |key: &str, message: String| {
        Err(Error::Config {
            file: origin.to_string(),
            key: key.to_string(),
            message,
        })
    };
    let r = c.rnn.clone().unwrap_or_default();
    let hidden = c.hidden_widths().first().copied().unwrap_or(0);
    if r.form == FormKind::Rate && !(r.alpha > 0.0 && r.alpha <= 1.0) {
        return err(
            "rnn.alpha",
            format!("dt / tau must lie in (0, 1], got {}", r.alpha),
        );
    }
    // Exact comparison with the default: only a value the user set is an error.
    #[allow(clippy::float_cmp)]
    let alpha_set = r.alpha != crate::experiment::rnn_config::RnnConfig::default().alpha;
    if r.form == FormKind::Discrete && alpha_set {
        return err(
            "rnn.alpha",
            "applies only to rnn.form = \"rate\" (dt / tau of the Euler step); the discrete \
             form has no time step: remove it or set rnn.form = \"rate\""
                .into(),
        );
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
        if !(v >= 0.0 && v.is_finite()) {
            return err(key, format!("must be finite and >= 0, got {v}"));
        }
    }
    if !r.h0.is_finite() {
        return err("rnn.h0", "must be finite".into());
    }
    if r.learn.is_empty() {
        return err("rnn.learn", "train at least one block, e.g. [\"w\"]".into());
    }
    if r.learn.contains(&LearnBlock::B) && !r.bias {
        return err("rnn.learn", "\"b\" needs rnn.bias = true".into());
    }
    if r.init == RnnInitKind::Aligned {
        if r.aligned_gains.len() != 3 || r.aligned_gains.iter().any(|x| !x.is_finite()) {
            return err(
                "rnn.aligned_gains",
                "give three finite numbers [b, a, c]: input gain, recurrent eigenvalue, readout gain".into(),
            );
        }
        if !matches!(c.task.kind, TaskKind::Integrate | TaskKind::LaggedModes) {
            return err(
                "rnn.init",
                format!("\"aligned\" needs a teacher with modes: task.kind = \"integrate\" or \"lagged_modes\", not \"{}\"", c.task.kind.name()),
            );
        }
        if r.rank != 0 {
            return err(
                "rnn.init",
                "\"aligned\" needs a full-rank W (rnn.rank = 0)".into(),
            );
        }
    }
    Ok(())
}

/// Build the RNN problem of `loaded` (reads the `.npy` files it names).
fn build(loaded: &LoadedConfig) -> Result<RnnFamily> {
    let c = &loaded.config;
    let r = c.rnn.clone().unwrap_or_default();
    let t = &c.task;
    let mut task = sequence::build_task(loaded)?;
    let hidden = c.hidden_widths().first().copied().unwrap_or(8);
    if r.noise_std > 0.0 {
        // RN-9: the drive gets sigma xi (discrete) or sigma xi / sqrt(alpha) (rate, so that
        // the update gets sigma sqrt(alpha) xi).
        let scale = if r.form == FormKind::Rate {
            r.noise_std / r.alpha.sqrt()
        } else {
            r.noise_std
        };
        let mut rng = random::rng(t.seed, stream::STATE_NOISE);
        let cols = task.data.steps() * task.data.batch();
        let xi = gaussian(&mut rng, hidden, cols, scale);
        task.data = task.data.with_state_noise(xi)?;
    }
    let has = |b: LearnBlock| r.learn.contains(&b);
    let spec = SeqRnnSpec {
        n_in: t.d_in,
        hidden,
        n_out: t.d_out,
        activation: r.activation,
        form: match r.form {
            FormKind::Rate => Form::Rate { alpha: r.alpha },
            FormKind::Discrete => Form::Discrete,
        },
        bias: r.bias,
        rank: (r.rank > 0).then_some(r.rank),
        learn: Learn {
            w: has(LearnBlock::W),
            u: has(LearnBlock::U),
            c: has(LearnBlock::C),
            b: has(LearnBlock::B),
            h0: has(LearnBlock::H0),
        },
    };
    let bulk = (r.rank > 0).then(|| {
        // The fixed random bulk g chi, chi_ij ~ N(0, 1/N); drawn from the task seed so every
        // training seed shares the same network architecture.
        let mut rng = random::rng(t.seed, stream::BULK);
        gaussian(&mut rng, hidden, hidden, r.g / (hidden as f64).sqrt())
    });
    let model = SeqRnn::new(spec, bulk)?;
    if r.init == RnnInitKind::Aligned {
        let k = task.modes.as_ref().map_or(0, |m| m.lags.len());
        if hidden < k {
            return Err(cfg_err(
                loaded,
                "model.hidden",
                format!("an aligned init needs hidden >= the number of teacher modes ({k}), got {hidden}"),
            ));
        }
    }
    let p = RnnFamily {
        task,
        model,
        rnn: r,
        truncation: c.train.truncation,
        analysis: c.analysis.clone(),
        d_in: t.d_in,
        task_kind: t.kind,
        singular_values: t.singular_values.clone(),
    };
    // Draw the first seed's init now, so impossible inits are input errors.
    if let Some(&seed) = c.train.seeds.first() {
        p.initial_params(seed)
            .map_err(|e| cfg_err(loaded, "rnn.init", e.to_string()))?;
    }
    Ok(p)
}

impl RnnFamily {
    /// Initial parameters for `seed` (stream INIT of the seed).
    fn init_params(&self, seed: u64) -> Result<Vec<f64>> {
        let m = &self.model;
        let spec = m.spec();
        let (n, n_in, n_out) = (spec.hidden, spec.n_in, spec.n_out);
        let r = &self.rnn;
        let mut rng = random::rng(seed, stream::INIT);
        let mut theta = vec![0.0; m.n_params()];
        if r.init == RnnInitKind::Aligned {
            let modes = self.task.modes.as_ref().ok_or_else(|| {
                Error::invalid("rnn.init", "\"aligned\" needs a task with teacher modes")
            })?;
            let k = modes.lags.len();
            let rr = linalg::orthonormal_from(&gaussian(&mut rng, n, k, 1.0))?;
            let (b0, a0, c0) = (r.aligned_gains[0], r.aligned_gains[1], r.aligned_gains[2]);
            let scaled = |m: &Matrix, g: f64| m.clone().scale(g);
            // W = a R R^T, U = b R V^T, C = c U_out R^T (the same gains for every mode).
            m.set(&mut theta, "w", &scaled(&rr.matmul_t(&rr), a0))?;
            m.set(&mut theta, "u", &scaled(&rr.matmul_t(&modes.v), b0))?;
            m.set(&mut theta, "c", &scaled(&modes.u.matmul_t(&rr), c0))?;
        } else {
            if let Some(rk) = spec.rank {
                m.set(&mut theta, "m", &gaussian(&mut rng, n, rk, r.mn_scale))?;
                m.set(&mut theta, "n", &gaussian(&mut rng, n, rk, r.mn_scale))?;
            } else {
                let w = gaussian(&mut rng, n, n, r.g / (n as f64).sqrt());
                m.set(&mut theta, "w", &w)?;
            }
            let u = gaussian(&mut rng, n, n_in, r.in_scale / (n_in as f64).sqrt());
            m.set(&mut theta, "u", &u)?;
            let cm = gaussian(&mut rng, n_out, n, r.out_scale / (n as f64).sqrt());
            m.set(&mut theta, "c", &cm)?;
        }
        let mut h0 = Matrix::zeros(n, 1);
        for i in 0..n {
            h0.set(i, 0, r.h0);
        }
        m.set(&mut theta, "h0", &h0)?;
        Ok(theta)
    }

    /// Fixed points of the trained network under the constant input `analysis.input` (zeros
    /// by default), from states sampled along its training trajectories
    /// (theory/fixed_points.md).
    fn fixed_points_of(
        &self,
        theta: &[f64],
        analysis: &crate::experiment::rnn_config::AnalysisConfig,
        seed: u64,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<FixedPointSet> {
        let (model, d_in) = (&self.model, self.d_in);
        let spec = model.spec();
        let w = model.effective_w(theta)?;
        let u = model
            .get(theta, "u")
            .unwrap_or_else(|| Matrix::zeros(spec.hidden, d_in));
        let input = analysis.input.clone().unwrap_or_else(|| vec![0.0; d_in]);
        let mut drive: Vec<f64> = (0..spec.hidden)
            .map(|i| (0..d_in).map(|j| u.get(i, j) * input[j]).sum())
            .collect();
        if let Some(b) = model.get(theta, "b") {
            for (d, i) in drive.iter_mut().zip(0..spec.hidden) {
                *d += b.get(i, 0);
            }
        }
        let map = RnnMap {
            w,
            drive,
            activation: spec.activation,
            continuous: matches!(spec.form, Form::Rate { .. }),
        };
        let mut ws = model.workspace(&self.task.data);
        model.loss(theta, &self.task.data, &mut ws)?;
        let opts = sequence::fp_options(analysis, seed);
        // A linear RNN has one fixed point unless 1 (discrete) / 0 (rate) is an eigenvalue of
        // its linear part: solve for it exactly (FP-5) and let the finder only classify it. A
        // singular system (e.g. a line attractor) falls through to the sampled search, which
        // finds points along the line, each with a marginal direction.
        if spec.activation == Activation::Identity {
            let (a, kind) = if map.continuous {
                let mut a = map.w.clone();
                for i in 0..spec.hidden {
                    a.set(i, i, a.get(i, i) - 1.0);
                }
                (a, TimeKind::Continuous)
            } else {
                (map.w.clone(), TimeKind::Discrete)
            };
            if let Ok(x) = fixed_points::linear_fixed_point(&a, &map.drive, kind) {
                let inits = Matrix::from_col_major(spec.hidden, 1, x)?;
                let set = fixed_points::find_fixed_points(&map, &inits, &opts)?;
                // The exact solve replaced all n_inits searches.
                progress(Progress::Advance(opts.n_inits as u64));
                return Ok(set);
            }
        }
        let inits = fixed_points::sample_inits(ws.states(), &opts)?;
        let mut on_init = || progress(Progress::Advance(1));
        fixed_points::find_fixed_points_observed(&map, &inits, &opts, &mut on_init)
    }
}

/// How the eigenvalues of `W` are ordered: discrete RNNs by `|lambda|` (their linearization
/// at the origin is `W`), rate RNNs by `Re lambda` (their linearization is `-I + W`, in units
/// of tau); see [`spectra`].
fn time_kind(form: Form) -> TimeKind {
    match form {
        Form::Discrete => TimeKind::Discrete,
        Form::Rate { .. } => TimeKind::Continuous,
    }
}

/// Timescale of an eigenvalue `lambda` of `W` (AN-2): that of the linearization at the origin
/// with `phi'(0) = 1`, i.e. of `lambda` itself (discrete, `-1 / ln|lambda|` steps) or of
/// `lambda - 1` (rate form, `1 / (1 - Re lambda)` in units of tau); [`spectra::timescale`].
fn w_timescale(lambda: Complex64, form: Form) -> f64 {
    match form {
        Form::Discrete => spectra::timescale(lambda, TimeKind::Discrete),
        Form::Rate { .. } => spectra::timescale(lambda - 1.0, TimeKind::Continuous),
    }
}

/// Observables of the learned dynamics from the effective `W` (and `W0`).
pub struct RnnObserver<'a> {
    model: &'a SeqRnn,
    want: Wanted,
    w0: Matrix,
    modes: Option<&'a TaskModes>,
    /// The student reads its observed units (`sequence.student_input = "observed"`): its
    /// spectrum is that of the closed loop `W + U C` (PO-10).
    closed_loop: bool,
}

/// Column `a` of `m` as an `n x 1` matrix.
fn column(m: &Matrix, a: usize) -> Matrix {
    Matrix::from_fn(m.nrows(), 1, |i, _| m.get(i, a))
}

impl TrajectoryObserver for RnnObserver<'_> {
    fn push(&self, out: &mut Vec<Record>, at: Stamp, theta: &[f64], loss: f64) {
        let want = &self.want;
        let model = self.model;
        let empty = || Matrix::zeros(0, 0);
        let w = model.effective_w(theta).unwrap_or_else(|_| empty());
        let u = model.get(theta, "u").unwrap_or_else(empty);
        let c = model.get(theta, "c").unwrap_or_else(empty);
        if want.has(Observable::Loss) {
            out.push(at.record(Observable::Loss, None, loss));
        }
        if let (true, Some(m)) = (want.has(Observable::ModeStrength), self.modes) {
            let uv = u.matmul(&m.v);
            for (a, &lag) in m.lags.iter().enumerate() {
                // u_a^T C W^lag U v_a.
                let mut x = column(&uv, a);
                for _ in 0..lag {
                    x = w.matmul(&x);
                }
                let y = c.matmul(&x);
                let s: f64 = (0..y.nrows()).map(|i| m.u.get(i, a) * y.get(i, 0)).sum();
                out.push(at.record(Observable::ModeStrength, Some(a), s));
            }
        }
        if let (true, Some(m)) = (want.has(Observable::LagProduct), self.modes) {
            // u_a^T C W^k U v_a for k = 0..T-1, index a T + k.
            let steps = m.profiles.first().map_or(0, Vec::len);
            let uv = u.matmul(&m.v);
            let cu = c.t_matmul(&m.u); // C^T U_out: column a is C^T u_a
            for a in 0..m.lags.len() {
                let mut x = column(&uv, a);
                for k in 0..steps {
                    let v: f64 = (0..x.nrows()).map(|i| cu.get(i, a) * x.get(i, 0)).sum();
                    out.push(at.record(Observable::LagProduct, Some(a * steps + k), v));
                    x = w.matmul(&x);
                }
            }
        }
        let form = model.spec().form;
        if want.any(&[
            Observable::EigenvalueRe,
            Observable::EigenvalueIm,
            Observable::Timescale,
        ]) {
            // Fed its own outputs (x_t = C h_{t-1}), a student of the observed units runs on
            // h_t = (W + U C) h_{t-1}: its learned dynamics (PO-10).
            let ev = if self.closed_loop && u.ncols() == c.nrows() && w.nrows() == u.nrows() {
                sequence::sorted_eigenvalues(
                    &w.clone().add_scaled(&u.matmul(&c), 1.0),
                    time_kind(form),
                )
            } else {
                sequence::sorted_eigenvalues(&w, time_kind(form))
            };
            sequence::push_spectrum(out, at, &ev, &|l| w_timescale(l, form), want);
        }
        if want.any(&[Observable::DeltaSingularValue, Observable::EffectiveRank]) {
            let sv = sequence::singular_values(&w.sub(&self.w0));
            sequence::push_delta(out, at, &sv, want);
        }
    }
}
