//! RNN runs (`model.kind = "rnn"`, issue 5): build the sequence task and the network from the
//! config, train every seed with BPTT (GD, SGD or Adam), integrate the theory sources
//! (`reduced_ode`: the outlier model OL-* or the per-mode linear-RNN ODE LR-2;
//! `gradient_flow`: the full-parameter flow of the finite RNN), record the observables of
//! the learned dynamics, and find the fixed points of the trained networks.
//!
//! Records use the same `records.csv` columns as deep-linear runs; the RNN observables are
//! listed in [`super::rnn_config::RNN_OBSERVABLES`] and documented in docs/rnn.md.

use super::config::Config;
use super::rnn_config::{rnn_observables, RnnConfig, SequenceConfig};
use super::{record_steps, summarize, Progress, Record, RunOutput, SeedRun, Skipped, Source};
use crate::analysis::fixed_points::{self, FixedPointSet, FpOptions, RnnMap};
use crate::analysis::spectra::{self, TimeKind};
use crate::dynamics::GradientFlow;
use crate::error::{Error, Result};
use crate::integrate::{self, Ivp, Method, Options, Output, VectorField, Workspace};
use crate::linalg::{self, Matrix};
use crate::model::rnn::{Activation, SeqBatch};
use crate::model::seq_rnn::{Form, Learn, SeqRnn, SeqRnnSpec};
use crate::model::SeqRnnModel;
use crate::random::{self, stream};
use crate::task::sequences::{self, InputProcess, LaggedModes, SeqData, TeacherRnn};
use crate::theory::lrnn::LrnnModes;
use crate::theory::outlier::{LagWeights, RateOutlier};
use crate::train::{self, TrainSettings, TrainStatus, Trainer};
use num_complex::Complex64;
use rand_distr::{Distribution, StandardNormal};
use std::collections::BTreeMap;
use std::time::Instant;

use super::config::LoadedConfig;

/// Teacher modes of a task with a known lag structure (the reduced theories' assumptions).
#[derive(Debug, Clone)]
pub struct TaskModes {
    /// Input directions `V` (`d_in x K`).
    pub v: Matrix,
    /// Output directions `U` (`d_out x K`).
    pub u: Matrix,
    /// Lag profile `s_k` of every mode (`k = 0..T-1`).
    pub profiles: Vec<Vec<f64>>,
    /// The lag at which each mode's strength is measured (`mode_strength`).
    pub lags: Vec<usize>,
}

/// An RNN problem: data, model and how to initialize it.
#[derive(Debug, Clone)]
pub struct RnnProblem {
    /// Training data (with its time weights).
    pub data: SeqBatch,
    /// The network.
    pub model: SeqRnn,
    /// Teacher modes, for `integrate` and `lagged_modes`.
    pub modes: Option<TaskModes>,
    /// Whether the inputs are the impulse basis (population loss of linear models).
    pub population: bool,
    rnn: RnnConfig,
}

fn cfg_err(loaded: &LoadedConfig, key: &str, message: String) -> Error {
    Error::Config {
        file: loaded.origin.clone(),
        key: key.into(),
        message,
    }
}

/// Identity matrix.
fn eye(n: usize) -> Matrix {
    let mut m = Matrix::zeros(n, n);
    for i in 0..n {
        m.set(i, i, 1.0);
    }
    m
}

impl RnnProblem {
    /// Build from a loaded config (reads the `.npy` files it names).
    pub fn build(loaded: &LoadedConfig) -> Result<RnnProblem> {
        let c = &loaded.config;
        let r = c.rnn.clone().unwrap_or_default();
        let s = c.sequence.clone().unwrap_or_default();
        let t = &c.task;
        let steps = s.steps;
        let process = match s.input.as_str() {
            "white_noise" => InputProcess::WhiteNoise { std: s.input_std },
            "pulses" => InputProcess::Pulses {
                prob: s.pulse_prob,
                amplitude: s.pulse_amplitude,
            },
            "constant" => InputProcess::Constant {
                value: s.input_value,
            },
            _ => InputProcess::ImpulseBasis,
        };
        let population = matches!(process, InputProcess::ImpulseBasis);
        let inputs = || sequences::generate_inputs(&process, t.d_in, steps, s.sequences, t.seed);
        let mut modes = None;
        let seq: SeqData = match t.kind.as_str() {
            "integrate" => {
                let (x, b) = inputs()?;
                let y = sequences::integrate_targets(&x, steps, b, s.gamma)?;
                let d = t.d_in;
                modes = Some(TaskModes {
                    v: eye(d),
                    u: eye(d),
                    profiles: vec![(0..steps).map(|k| s.gamma.powi(k as i32)).collect(); d],
                    lags: vec![0; d],
                });
                SeqData {
                    x,
                    y,
                    steps,
                    batch: b,
                }
            }
            "lagged_modes" => {
                let profiles: Vec<Vec<f64>> = t
                    .singular_values
                    .iter()
                    .zip(0..)
                    .enumerate()
                    .map(|(a, (&sv, _))| {
                        (0..steps)
                            .map(|k| {
                                if s.profile == "geometric" {
                                    sv * s.gamma.powi(k as i32)
                                } else if k == s.lags[a] {
                                    sv
                                } else {
                                    0.0
                                }
                            })
                            .collect()
                    })
                    .collect();
                let teacher = LaggedModes::random(t.d_in, t.d_out, profiles.clone(), t.seed)?;
                let (x, b) = inputs()?;
                let y = sequences::lag_filter(&teacher.lag_matrices(), &x, steps, b)?;
                modes = Some(TaskModes {
                    v: teacher.v.clone(),
                    u: teacher.u.clone(),
                    profiles,
                    lags: if s.profile == "geometric" {
                        vec![0; t.singular_values.len()]
                    } else {
                        s.lags.clone()
                    },
                });
                SeqData {
                    x,
                    y,
                    steps,
                    batch: b,
                }
            }
            "flip_flop" => sequences::flip_flop(t.d_in, steps, s.sequences, s.pulse_prob, t.seed)?,
            "teacher_rnn" => {
                let w = match &s.teacher_w {
                    Some(p) => crate::npy::read_matrix(&loaded.resolve_path(p)).map_err(|e| {
                        cfg_err(
                            loaded,
                            "sequence.teacher_w",
                            format!("{e} (paths are relative to the config file's folder)"),
                        )
                    })?,
                    None => {
                        let pairs: Vec<(f64, f64)> =
                            s.complex_pairs.iter().map(|p| (p[0], p[1])).collect();
                        sequences::spectrum_matrix(
                            s.teacher_hidden,
                            &s.eigenvalues,
                            &pairs,
                            t.seed,
                        )?
                    }
                };
                if w.nrows() != s.teacher_hidden || w.ncols() != s.teacher_hidden {
                    return Err(cfg_err(
                        loaded,
                        "sequence.teacher_w",
                        format!(
                            "is {}x{}, but sequence.teacher_hidden = {} needs a square {}x{} matrix",
                            w.nrows(),
                            w.ncols(),
                            s.teacher_hidden,
                            s.teacher_hidden,
                            s.teacher_hidden
                        ),
                    ));
                }
                // Its own stream: spectrum_matrix draws the eigenvectors from TEACHER, and
                // sharing it would align U with the first eigenvectors.
                let mut rng = random::rng(t.seed, stream::TEACHER_INPUT);
                let mut u = Matrix::zeros(s.teacher_hidden, t.d_in);
                let sc = 1.0 / (t.d_in as f64).sqrt();
                for j in 0..t.d_in {
                    for i in 0..s.teacher_hidden {
                        let z: f64 = StandardNormal.sample(&mut rng);
                        u.set(i, j, sc * z);
                    }
                }
                let teacher = TeacherRnn {
                    w,
                    u,
                    c: None,
                    activation: Activation::parse(&s.teacher_activation)?,
                    alpha: s.teacher_alpha,
                };
                let (x, b) = inputs()?;
                let states = teacher.states(&x, steps, b)?;
                let observed: Vec<usize> =
                    s.observed.clone().unwrap_or_else(|| (0..t.d_out).collect());
                let y = sequences::observe(&states, Some(&observed), None, t.noise_std, t.seed)?;
                SeqData {
                    x,
                    y,
                    steps,
                    batch: b,
                }
            }
            "npy" => {
                let (xi, yi) = (
                    s.inputs.as_deref().unwrap_or_default(),
                    s.targets.as_deref().unwrap_or_default(),
                );
                let d = sequences::load_npy_sequences(
                    &loaded.resolve_path(xi),
                    &loaded.resolve_path(yi),
                )
                .map_err(|e| cfg_err(loaded, "sequence.inputs", e.to_string()))?;
                if d.x.nrows() != t.d_in || d.y.nrows() != t.d_out {
                    return Err(cfg_err(
                        loaded,
                        "task.d_in",
                        format!(
                            "the .npy data have d_in = {} and d_out = {}, but the config says task.d_in = {} and task.d_out = {}; make them agree",
                            d.x.nrows(),
                            d.y.nrows(),
                            t.d_in,
                            t.d_out
                        ),
                    ));
                }
                d
            }
            other => {
                return Err(cfg_err(
                    loaded,
                    "task.kind",
                    format!("'{other}' is not a sequence task"),
                ))
            }
        };
        // Observation noise on the targets of the synthetic tasks (teacher_rnn adds its own).
        let seq = if t.noise_std > 0.0 && !matches!(t.kind.as_str(), "teacher_rnn" | "npy") {
            let y = sequences::observe(&seq.y, None, None, t.noise_std, t.seed)?;
            SeqData { y, ..seq }
        } else {
            seq
        };
        let (steps, batch) = (seq.steps, seq.batch);
        let mut data = SeqBatch::new(seq.x, seq.y, steps, batch)?;
        if s.readout == "last" {
            let mut w = vec![0.0; steps];
            w[steps - 1] = 1.0;
            data = data.with_time_weights(w)?;
        }
        let hidden = c.hidden_widths().first().copied().unwrap_or(8);
        if r.noise_std > 0.0 {
            // RN-9: the drive gets sigma xi (discrete) or sigma xi / sqrt(alpha) (rate, so that
            // the update gets sigma sqrt(alpha) xi).
            let scale = if r.form == "rate" {
                r.noise_std / r.alpha.sqrt()
            } else {
                r.noise_std
            };
            let mut rng = random::rng(t.seed, stream::STATE_NOISE);
            let mut xi = Matrix::zeros(hidden, steps * batch);
            for j in 0..steps * batch {
                for i in 0..hidden {
                    let z: f64 = StandardNormal.sample(&mut rng);
                    xi.set(i, j, scale * z);
                }
            }
            data = data.with_state_noise(xi)?;
        }
        let learn = Learn {
            w: r.learn.iter().any(|l| l == "w"),
            u: r.learn.iter().any(|l| l == "u"),
            c: r.learn.iter().any(|l| l == "c"),
            b: r.learn.iter().any(|l| l == "b"),
            h0: r.learn.iter().any(|l| l == "h0"),
        };
        let spec = SeqRnnSpec {
            n_in: t.d_in,
            hidden,
            n_out: t.d_out,
            activation: Activation::parse(&r.activation)?,
            form: if r.form == "rate" {
                Form::Rate { alpha: r.alpha }
            } else {
                Form::Discrete
            },
            bias: r.bias,
            rank: (r.rank > 0).then_some(r.rank),
            learn,
        };
        let bulk = (r.rank > 0).then(|| {
            // The fixed random bulk g chi, chi_ij ~ N(0, 1/N); drawn from the task seed so every
            // training seed shares the same network architecture.
            let mut rng = random::rng(t.seed, stream::BULK);
            let sc = r.g / (hidden as f64).sqrt();
            let mut m = Matrix::zeros(hidden, hidden);
            for j in 0..hidden {
                for i in 0..hidden {
                    let z: f64 = StandardNormal.sample(&mut rng);
                    m.set(i, j, sc * z);
                }
            }
            m
        });
        let model = SeqRnn::new(spec, bulk)?;
        if r.init == "aligned" {
            let k = modes.as_ref().map_or(0, |m| m.lags.len());
            if hidden < k {
                return Err(cfg_err(
                    loaded,
                    "model.hidden",
                    format!("an aligned init needs hidden >= the number of teacher modes ({k}), got {hidden}"),
                ));
            }
        }
        let p = RnnProblem {
            data,
            model,
            modes,
            population,
            rnn: r,
        };
        // Draw the first seed's init now, so impossible inits are input errors.
        if let Some(&seed) = c.train.seeds.first() {
            p.initial_params(seed)
                .map_err(|e| cfg_err(loaded, "rnn.init", e.to_string()))?;
        }
        Ok(p)
    }

    /// Initial parameters for `seed` (stream INIT of the seed).
    pub fn initial_params(&self, seed: u64) -> Result<Vec<f64>> {
        let m = &self.model;
        let spec = m.spec();
        let (n, n_in, n_out) = (spec.hidden, spec.n_in, spec.n_out);
        let r = &self.rnn;
        let mut rng = random::rng(seed, stream::INIT);
        let mut gauss = |rows: usize, cols: usize, sd: f64| {
            let mut a = Matrix::zeros(rows, cols);
            for j in 0..cols {
                for i in 0..rows {
                    let z: f64 = StandardNormal.sample(&mut rng);
                    a.set(i, j, sd * z);
                }
            }
            a
        };
        let mut theta = vec![0.0; m.n_params()];
        if r.init == "aligned" {
            let modes = self.modes.as_ref().ok_or_else(|| {
                Error::invalid("rnn.init", "\"aligned\" needs a task with teacher modes")
            })?;
            let k = modes.lags.len();
            let rr = linalg::orthonormal_from(&gauss(n, k, 1.0))?;
            let (b0, a0, c0) = (r.aligned_gains[0], r.aligned_gains[1], r.aligned_gains[2]);
            let scaled = |m: &Matrix, g: f64| m.clone().scale(g);
            // W = a R R^T, U = b R V^T, C = c U_out R^T (the same gains for every mode).
            let w = scaled(&rr.matmul_t(&rr), a0);
            let u = scaled(&rr.matmul_t(&modes.v), b0);
            let cm = scaled(&modes.u.matmul_t(&rr), c0);
            m.set(&mut theta, "w", &w)?;
            m.set(&mut theta, "u", &u)?;
            m.set(&mut theta, "c", &cm)?;
        } else {
            if spec.rank.is_some() {
                let rk = spec.rank.unwrap_or(0);
                m.set(&mut theta, "m", &gauss(n, rk, r.mn_scale))?;
                m.set(&mut theta, "n", &gauss(n, rk, r.mn_scale))?;
            } else {
                m.set(&mut theta, "w", &gauss(n, n, r.g / (n as f64).sqrt()))?;
            }
            m.set(
                &mut theta,
                "u",
                &gauss(n, n_in, r.in_scale / (n_in as f64).sqrt()),
            )?;
            m.set(
                &mut theta,
                "c",
                &gauss(n_out, n, r.out_scale / (n as f64).sqrt()),
            )?;
        }
        let mut h0 = Matrix::zeros(n, 1);
        for i in 0..n {
            h0.set(i, 0, r.h0);
        }
        m.set(&mut theta, "h0", &h0)?;
        Ok(theta)
    }

    /// Why the reduced theory does not apply (None: it does).
    fn reduced_reason(&self, c: &Config) -> Option<String> {
        let spec = self.model.spec();
        let s = c.sequence.clone().unwrap_or_default();
        if self.modes.is_none() {
            return Some(format!(
                "task.kind = \"{}\" has no mode structure; the reduced ODEs need \"integrate\" or \"lagged_modes\"",
                c.task.kind
            ));
        }
        if self.rnn.init != "aligned" {
            return Some(
                "the reduced ODEs start from the aligned init (rnn.init = \"aligned\")".into(),
            );
        }
        // The outlier model covers both forms (OL-9); LR-2 only the discrete one.
        let rate_ok = c.task.kind == "integrate";
        if spec.activation != Activation::Identity
            || (matches!(spec.form, Form::Rate { .. }) && !rate_ok)
            || spec.bias
        {
            return Some("the reduced ODEs are for linear RNNs without bias (rnn.activation = \"identity\", rnn.bias = false); LR-2 (lagged_modes) also needs rnn.form = \"discrete\"".into());
        }
        if !(spec.learn.w && spec.learn.u && spec.learn.c) || spec.learn.h0 || self.rnn.h0 != 0.0 {
            return Some("the reduced ODEs train W, U and C from h_0 = 0 (rnn.learn = [\"w\", \"u\", \"c\"], rnn.h0 = 0)".into());
        }
        if c.task.noise_std > 0.0 || self.rnn.noise_std > 0.0 {
            return Some("observation and state noise are not part of the reduced ODEs".into());
        }
        if c.train.truncation.is_some() {
            return Some("truncated BPTT is not the gradient of the loss the reduced ODEs flow on (omit train.truncation)".into());
        }
        let white = s.input == "white_noise" && s.input_std.to_bits() == 1.0f64.to_bits();
        if !(self.population || white) {
            return Some(format!(
                "the reduced ODEs assume unit white-noise inputs: sequence.input = \"impulse_basis\" (exact) or \"white_noise\" with input_std = 1 (sampled), not \"{}\"",
                s.input
            ));
        }
        match (c.task.kind.as_str(), s.readout.as_str()) {
            ("integrate", "all") | ("lagged_modes", "last") => None,
            ("integrate", _) => Some("the outlier model (OL-*) is for outputs at every step: sequence.readout = \"all\"".into()),
            _ => Some("the per-mode linear-RNN ODE (LR-2) reads out at the last step: sequence.readout = \"last\"".into()),
        }
    }
}

/// How the eigenvalues of `W` are ordered: discrete RNNs by `|lambda|` (their linearization at
/// the origin is `W`), rate RNNs by `Re lambda` (their linearization is `-I + W`, in units of
/// tau); see [`spectra`].
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
struct Observer<'a> {
    want: Vec<String>,
    form: Form,
    w0: Matrix,
    modes: Option<&'a TaskModes>,
}

impl Observer<'_> {
    fn has(&self, name: &str) -> bool {
        self.want.iter().any(|w| w == name)
    }

    /// Push the records of one network state.
    fn push(
        &self,
        out: &mut Vec<Record>,
        rec: &dyn Fn(&'static str, Option<usize>, f64) -> Record,
        loss: f64,
        w: &Matrix,
        u: &Matrix,
        c: &Matrix,
    ) {
        if self.has("loss") {
            out.push(rec("loss", None, loss));
        }
        if self.has("mode_strength") {
            if let Some(m) = self.modes {
                let uv = u.matmul(&m.v);
                for (a, &lag) in m.lags.iter().enumerate() {
                    // u_a^T C W^lag U v_a.
                    let mut x = Matrix::zeros(uv.nrows(), 1);
                    for i in 0..uv.nrows() {
                        x.set(i, 0, uv.get(i, a));
                    }
                    for _ in 0..lag {
                        x = w.matmul(&x);
                    }
                    let y = c.matmul(&x);
                    let s: f64 = (0..y.nrows()).map(|i| m.u.get(i, a) * y.get(i, 0)).sum();
                    out.push(rec("mode_strength", Some(a), s));
                }
            }
        }
        if self.has("lag_product") {
            if let Some(m) = self.modes {
                // u_a^T C W^k U v_a for k = 0..T-1, index a T + k.
                let steps = m.profiles.first().map_or(0, Vec::len);
                let uv = u.matmul(&m.v);
                let cu = c.t_matmul(&m.u); // C^T U_out: column a is C^T u_a
                for a in 0..m.lags.len() {
                    let mut x = Matrix::zeros(uv.nrows(), 1);
                    for i in 0..uv.nrows() {
                        x.set(i, 0, uv.get(i, a));
                    }
                    for k in 0..steps {
                        let v: f64 = (0..x.nrows()).map(|i| cu.get(i, a) * x.get(i, 0)).sum();
                        out.push(rec("lag_product", Some(a * steps + k), v));
                        x = w.matmul(&x);
                    }
                }
            }
        }
        let need_eig = ["eigenvalue_re", "eigenvalue_im", "timescale"]
            .iter()
            .any(|n| self.has(n));
        if need_eig {
            let ev = spectra::sorted_eigenvalues(w, time_kind(self.form))
                .unwrap_or_else(|_| vec![Complex64::new(f64::NAN, f64::NAN); w.nrows()]);
            self.push_spectrum(out, rec, &ev);
        }
        if self.has("delta_singular_value") || self.has("effective_rank") {
            let d = w.sub(&self.w0);
            let sv =
                linalg::singular_values(d.view()).unwrap_or_else(|_| vec![f64::NAN; d.nrows()]);
            self.push_delta(out, rec, &sv);
        }
    }

    fn push_spectrum(
        &self,
        out: &mut Vec<Record>,
        rec: &dyn Fn(&'static str, Option<usize>, f64) -> Record,
        ev: &[Complex64],
    ) {
        for (i, l) in ev.iter().enumerate() {
            if self.has("eigenvalue_re") {
                out.push(rec("eigenvalue_re", Some(i), l.re));
            }
            if self.has("eigenvalue_im") {
                out.push(rec("eigenvalue_im", Some(i), l.im));
            }
            if self.has("timescale") {
                out.push(rec("timescale", Some(i), w_timescale(*l, self.form)));
            }
        }
    }

    fn push_delta(
        &self,
        out: &mut Vec<Record>,
        rec: &dyn Fn(&'static str, Option<usize>, f64) -> Record,
        sv: &[f64],
    ) {
        if self.has("delta_singular_value") {
            for (i, &s) in sv.iter().enumerate() {
                out.push(rec("delta_singular_value", Some(i), s));
            }
        }
        if self.has("effective_rank") {
            out.push(rec("effective_rank", None, spectra::effective_rank(sv)));
        }
    }
}

/// Run an RNN config: every seed's training, the theory sources, fixed points.
pub fn run(loaded: &LoadedConfig, progress: &mut dyn FnMut(Progress)) -> Result<RunOutput> {
    let c: &Config = &loaded.config;
    let problem = RnnProblem::build(loaded)?;
    let model = &problem.model;
    let spec = *model.spec();
    let data = &problem.data;
    let steps = record_steps(c.train.steps, c.output.records, c.output.spacing);
    let schedule = super::schedule(c);
    let times = train::schedule_times(&schedule, c.train.lr, &steps);
    let t_end = *times.last().unwrap_or(&0.0);
    let want = rnn_observables(&c.output.observables);
    let mut records = Vec::new();
    let mut skipped = Vec::new();
    let mut timings = BTreeMap::new();
    let mut integrator_stats = BTreeMap::new();
    let (method, opts) = super::solver(loaded)?;
    let (sim_source, optimizer) = super::simulation(c);
    let trainer = Trainer::new(TrainSettings {
        lr: c.train.lr,
        steps: c.train.steps,
        optimizer,
        batch_size: c.train.batch_size,
        clip: c.train.clip,
        schedule,
        divergence_factor: c.train.divergence_factor,
    });
    let theta0_first = problem.initial_params(c.train.seeds[0])?;
    let blocks = |theta: &[f64]| -> (Matrix, Matrix, Matrix) {
        (
            model
                .effective_w(theta)
                .unwrap_or_else(|_| Matrix::zeros(0, 0)),
            model.get(theta, "u").unwrap_or_else(|| Matrix::zeros(0, 0)),
            model.get(theta, "c").unwrap_or_else(|| Matrix::zeros(0, 0)),
        )
    };
    let requested: Vec<&str> = c.theory.sources.iter().map(String::as_str).collect();

    // Theory: the reduced ODEs.
    if requested.contains(&"closed_form") {
        skipped.push(Skipped {
            source: "closed_form".into(),
            reason: "RNN learning dynamics have no closed form in learndyn; see reduced_ode and gradient_flow".into(),
        });
    }
    if requested.contains(&"reduced_ode") {
        let started = Instant::now();
        progress(Progress::Start("reduced ODE".into(), 1));
        match problem.reduced_reason(c) {
            Some(reason) => skipped.push(Skipped {
                source: "reduced_ode".into(),
                reason,
            }),
            None => match reduced_records(&problem, c, &times, &method, &opts, &want) {
                Ok((recs, stats)) => {
                    records.extend(recs);
                    integrator_stats.insert("reduced_ode".to_string(), stats);
                }
                Err(e) => skipped.push(Skipped {
                    source: "reduced_ode".into(),
                    reason: format!("integration failed: {e}"),
                }),
            },
        }
        progress(Progress::Finish);
        timings.insert("reduced_ode".to_string(), started.elapsed().as_secs_f64());
    }
    if requested.contains(&"gradient_flow") {
        let started = Instant::now();
        progress(Progress::Start("gradient flow".into(), 1));
        let observer = Observer {
            want: want.clone(),
            form: spec.form,
            w0: model.effective_w(&theta0_first)?,
            modes: problem.modes.as_ref(),
        };
        let mut field = GradientFlow::new(SeqRnnModel::new(model, data, None)?);
        let mut ws = Workspace::new(field.dim());
        let mut local: Vec<(f64, Vec<f64>)> = Vec::new();
        let mut on_save = |t: f64, y: &[f64]| local.push((t, y.to_vec()));
        let sol = integrate::solve(
            &method,
            &mut field,
            &Ivp::new(0.0, &theta0_first, t_end),
            &opts,
            &mut ws,
            &mut Output::at_times(&times, &mut on_save),
        );
        match sol {
            Ok(sol) => {
                let mut lws = model.workspace(data);
                for (t, theta) in &local {
                    let loss = model.loss(theta, data, &mut lws)?;
                    let (w, u, cm) = blocks(theta);
                    let rec = Record::maker(Source::GradientFlow, None, None, *t);
                    observer.push(&mut records, &rec, loss, &w, &u, &cm);
                }
                integrator_stats.insert("gradient_flow".to_string(), sol.stats);
            }
            Err(e) => skipped.push(Skipped {
                source: "gradient_flow".into(),
                reason: format!("integration failed: {e}"),
            }),
        }
        progress(Progress::Finish);
        timings.insert("gradient_flow".to_string(), started.elapsed().as_secs_f64());
    }

    // Simulations: one BPTT training run per seed.
    let started = Instant::now();
    progress(Progress::Start(
        format!("{} x {} seeds", sim_source.name(), c.train.seeds.len()),
        c.train.seeds.len() as u64,
    ));
    let mut runs = Vec::new();
    let mut final_weights = Vec::new();
    let mut finals: Vec<(u64, Vec<f64>)> = Vec::new();
    for &seed in &c.train.seeds {
        let mut theta = problem.initial_params(seed)?;
        let observer = Observer {
            want: want.clone(),
            form: spec.form,
            w0: model.effective_w(&theta)?,
            modes: problem.modes.as_ref(),
        };
        let mut obj = SeqRnnModel::new(model, data, c.train.truncation)?;
        let mut rng = random::rng(seed, stream::BATCHES);
        let mut last_loss = f64::NAN;
        let mut seed_records = Vec::new();
        let status = trainer.train(&mut obj, &mut theta, &mut rng, &steps, &mut |stamp, th| {
            let (w, u, cm) = blocks(th);
            let rec = Record::maker(sim_source, Some(seed), Some(stamp.step), stamp.t);
            observer.push(&mut seed_records, &rec, stamp.loss, &w, &u, &cm);
            last_loss = stamp.loss;
        })?;
        records.extend(seed_records);
        let final_loss = match status {
            TrainStatus::Diverged { loss, .. } => loss,
            TrainStatus::Completed => last_loss,
        };
        runs.push(SeedRun {
            seed,
            status,
            final_loss,
        });
        let named: Vec<Matrix> = model
            .blocks()
            .iter()
            .filter_map(|b| model.get(&theta, &b.name))
            .collect();
        final_weights.push((seed, named));
        if matches!(status, TrainStatus::Completed) {
            finals.push((seed, theta));
        }
        progress(Progress::Advance(1));
    }
    progress(Progress::Finish);
    timings.insert(
        sim_source.name().to_string(),
        started.elapsed().as_secs_f64(),
    );

    // Fixed points of every trained (non-diverged) seed.
    let analysis = c.analysis.clone().unwrap_or_default();
    let mut fixed = Vec::new();
    if analysis.fixed_points {
        let started = Instant::now();
        progress(Progress::Start("fixed points".into(), finals.len() as u64));
        for (seed, theta) in &finals {
            let set = fixed_points_of(model, data, theta, &analysis, c.task.d_in, *seed)?;
            fixed.push((*seed, set));
            progress(Progress::Advance(1));
        }
        progress(Progress::Finish);
        timings.insert("fixed_points".to_string(), started.elapsed().as_secs_f64());
    }
    let rank = problem.modes.as_ref().map_or(0, |m| m.lags.len());
    let summary = summarize(&records, runs, c.train.lr, rank);
    Ok(RunOutput {
        records,
        summary,
        final_weights,
        skipped,
        timings,
        integrator_stats,
        teacher_singular_values: if c.task.kind == "lagged_modes" {
            c.task.singular_values.clone()
        } else {
            Vec::new()
        },
        whitening_error: f64::NAN,
        record_steps: steps,
        fixed_points: fixed,
        weight_names: model.blocks().iter().map(|b| b.name.to_string()).collect(),
    })
}

/// Fixed points of the trained network under the constant input `analysis.input` (zeros by
/// default), from states sampled along its training trajectories (theory/fixed_points.md).
fn fixed_points_of(
    model: &SeqRnn,
    data: &SeqBatch,
    theta: &[f64],
    analysis: &super::rnn_config::AnalysisConfig,
    d_in: usize,
    seed: u64,
) -> Result<FixedPointSet> {
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
    let mut ws = model.workspace(data);
    model.loss(theta, data, &mut ws)?;
    let opts = FpOptions {
        n_inits: analysis.n_inits,
        noise_scale: analysis.noise_scale,
        tol_q: analysis.tol_q,
        tol_unique: analysis.tol_unique,
        seed,
        ..FpOptions::default()
    };
    // A linear RNN has one fixed point unless 1 (discrete) / 0 (rate) is an eigenvalue of its
    // linear part: solve for it exactly (FP-5) and let the finder only classify it. A singular
    // system (e.g. a line attractor) falls through to the sampled search, which finds points
    // along the line, each with a marginal direction.
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
            return fixed_points::find_fixed_points(&map, &inits, &opts);
        }
    }
    let inits = fixed_points::sample_inits(ws.states(), &opts)?;
    fixed_points::find_fixed_points(&map, &inits, &opts)
}

/// Integrate `field` from `y0` at `t = 0` to the last of `times`, calling `on_save` at each.
fn solve_saving(
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

/// The reduced-theory records: the outlier model (integrate, OL-*) or the per-mode LR-2 ODE
/// (lagged_modes), each mode started from the aligned gains.
fn reduced_records(
    problem: &RnnProblem,
    c: &Config,
    times: &[f64],
    method: &Method,
    opts: &Options,
    want: &[String],
) -> std::result::Result<(Vec<Record>, integrate::Stats), Error> {
    let modes = problem.modes.as_ref().expect("checked by reduced_reason");
    let s: SequenceConfig = c.sequence.clone().unwrap_or_default();
    let n = problem.model.spec().hidden;
    let k = modes.lags.len();
    let (b0, a0, c0) = (
        problem.rnn.aligned_gains[0],
        problem.rnn.aligned_gains[1],
        problem.rnn.aligned_gains[2],
    );
    // Per save: (t, loss, per-mode (b, a, c)).
    let mut local: Vec<(f64, f64, Vec<[f64; 3]>)> = Vec::new();
    let stats = if c.task.kind == "integrate" {
        // Every mode (input dimension) follows the same outlier ODE; state [b, c, lambda].
        // The rate form's one-step map has eigenvalue 1 - alpha + alpha lambda (OL-9); the
        // discrete form is alpha = 1.
        let alpha = match problem.model.spec().form {
            Form::Rate { alpha } => alpha,
            Form::Discrete => 1.0,
        };
        let mut ode = RateOutlier::new(alpha, 1.0, s.gamma, LagWeights::Finite { steps: s.steps })?;
        let y0 = [b0, c0, a0];
        let loss_of = ode;
        let mut on_save = |t: f64, y: &[f64]| {
            let l = k as f64 * loss_of.loss(y);
            local.push((t, l, vec![[y[0], y[2], y[1]]; k]));
        };
        solve_saving(method, &mut ode, &y0, times, opts, &mut on_save)?
    } else {
        // LR-2: state [c, a, b] per mode; L = 1/2 sum_a sum_k (s_k - c a^k b)^2.
        let mut ode = LrnnModes {
            s: modes.profiles.clone(),
        };
        let y0: Vec<f64> = (0..k).flat_map(|_| [c0, a0, b0]).collect();
        let profiles = modes.profiles.clone();
        let mut on_save = |t: f64, y: &[f64]| {
            let mut l = 0.0;
            let mut gains = Vec::with_capacity(k);
            for (m, p) in profiles.iter().enumerate() {
                let (cc, aa, bb) = (y[3 * m], y[3 * m + 1], y[3 * m + 2]);
                let mut ak = 1.0;
                for &sk in p {
                    l += 0.5 * (sk - cc * ak * bb).powi(2);
                    ak *= aa;
                }
                gains.push([bb, aa, cc]);
            }
            local.push((t, l, gains));
        };
        solve_saving(method, &mut ode, &y0, times, opts, &mut on_save)?
    };
    let observer = Observer {
        want: want.to_vec(),
        form: Form::Discrete,
        w0: Matrix::zeros(0, 0),
        modes: None,
    };
    let mut out = Vec::new();
    for (t, loss, gains) in local {
        let rec = Record::maker(Source::ReducedOde, None, None, t);
        if observer.has("loss") {
            out.push(rec("loss", None, loss));
        }
        if observer.has("mode_strength") {
            for (a, g) in gains.iter().enumerate() {
                let [bb, aa, cc] = *g;
                out.push(rec(
                    "mode_strength",
                    Some(a),
                    cc * aa.powi(modes.lags[a] as i32) * bb,
                ));
            }
        }
        if observer.has("lag_product") {
            let steps = modes.profiles.first().map_or(0, Vec::len);
            for (a, g) in gains.iter().enumerate() {
                let [bb, aa, cc] = *g;
                let mut ak = 1.0;
                for k in 0..steps {
                    out.push(rec("lag_product", Some(a * steps + k), cc * ak * bb));
                    ak *= aa;
                }
            }
        }
        // W = R diag(a) R^T: eigenvalues a_m and n - k zeros; W - W0 = R diag(a - a0) R^T.
        let mut ev: Vec<Complex64> = gains.iter().map(|g| Complex64::new(g[1], 0.0)).collect();
        ev.extend(std::iter::repeat_n(Complex64::new(0.0, 0.0), n - k));
        ev.sort_by(|x, y| y.norm().total_cmp(&x.norm()).then(y.im.total_cmp(&x.im)));
        observer.push_spectrum(&mut out, &rec, &ev);
        let mut sv: Vec<f64> = gains.iter().map(|g| (g[1] - a0).abs()).collect();
        sv.extend(std::iter::repeat_n(0.0, n - k));
        sv.sort_by(|x, y| y.total_cmp(x));
        observer.push_delta(&mut out, &rec, &sv);
    }
    Ok((out, stats))
}
