//! One experiment: a config in, every theory source and the simulated network side by side out.
//!
//! [`run`] builds the task, network and initializations, then computes each observable at the
//! same gradient-flow times `t = lr * step` (C-6) for:
//! - `closed_form`: Saxe / unbalanced closed forms per mode (DL-6..DL-10);
//! - `reduced_ode`: the decoupled mode ODE (DL-5), integrated;
//! - `gradient_flow`: the full finite-width gradient-flow ODE (C-5) from the first seed's init;
//! - `gd`: full-batch gradient descent of the finite network, one run per seed.
//!
//! It returns [`Record`]s (the rows of `records.csv`), a [`Summary`] of discrepancies, final
//! weights and diagnostics. Nothing is printed; progress goes to a callback.

pub mod config;
pub mod examples;
pub mod rnn;
pub mod rnn_config;

use crate::analysis;
use crate::error::{Error, Result};
use crate::integrate::{self, Atol, Crossing, Event, Ivp, Method, Options, Output, Workspace};
use crate::linalg::{self, Matrix};
use crate::model::init::{mode_layer_scalars, Init};
use crate::model::{DeepLinearModel, DeepLinearNet};
use crate::random::{self, stream};
use crate::task::{LinearTask, TeacherMap, TeacherSpec};
use crate::theory::deep_linear as dl;
use crate::theory::{arora, riccati};
use crate::train::{self, Optimizer, TrainStatus};
use config::{Config, InitKind, LoadedConfig, ModelKind, OptimizerKind, ScheduleKind, Spacing};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Instant;

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
    fn parse(s: &str) -> Option<Source> {
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

/// One row of `records.csv`: `source,seed,step,t,observable,index,value`.
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
    /// Observable name (`loss`, `mode_strength`, `singular_value`, `balance_drift`).
    pub observable: &'static str,
    /// Mode / singular-value index from 0; `None` for scalars.
    pub index: Option<usize>,
    /// The value.
    pub value: f64,
}

impl Record {
    /// A constructor of the records of one (source, seed, step, time): the returned closure
    /// takes `(observable, index, value)`.
    pub fn maker(
        source: Source,
        seed: Option<u64>,
        step: Option<u64>,
        t: f64,
    ) -> impl Fn(&'static str, Option<usize>, f64) -> Record {
        move |observable, index, value| Record {
            source,
            seed,
            step,
            t,
            observable,
            index,
            value,
        }
    }
}

/// Progress events for a front end (the library never prints).
#[derive(Debug, Clone)]
pub enum Progress {
    /// A stage started: name and number of units of work.
    Start(String, u64),
    /// Units of work done in the current stage.
    Advance(u64),
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
    /// Final weights `W_1..W_L` per seed.
    pub final_weights: Vec<(u64, Vec<Matrix>)>,
    /// Requested theory sources that were skipped.
    pub skipped: Vec<Skipped>,
    /// Wall time per stage, seconds.
    pub timings: BTreeMap<String, f64>,
    /// Integrator work for the ODE sources.
    pub integrator_stats: BTreeMap<String, integrate::Stats>,
    /// Teacher singular values (the modes).
    pub teacher_singular_values: Vec<f64>,
    /// `||Sigma_xx - I||_F` of the training inputs.
    pub whitening_error: f64,
    /// GD steps at which records were taken.
    pub record_steps: Vec<u64>,
    /// RNN runs with `analysis.fixed_points`: the fixed points of every trained seed.
    pub fixed_points: Vec<(u64, crate::analysis::fixed_points::FixedPointSet)>,
    /// RNN runs: the names of the blocks in `final_weights` (`w`, `u`, `c`, ...); empty for
    /// deep linear networks (whose blocks are the layers `W_1..W_L`).
    pub weight_names: Vec<String>,
}

/// Record steps: `n` points from 0 to `steps`, linear or log spaced (log includes step 0),
/// deduplicated and sorted.
pub fn record_steps(steps: u64, n: usize, spacing: Spacing) -> Vec<u64> {
    let mut out: Vec<u64> = if steps == 0 {
        vec![0]
    } else if spacing == Spacing::Log {
        let mut v = vec![0u64];
        let m = n.saturating_sub(1).max(1);
        for k in 0..m {
            let x = (steps as f64).powf(k as f64 / (m - 1).max(1) as f64);
            v.push(x.round() as u64);
        }
        v
    } else {
        (0..n)
            .map(|k| ((k as f64) * steps as f64 / (n - 1) as f64).round() as u64)
            .collect()
    };
    out.push(steps);
    out.sort_unstable();
    out.dedup();
    out
}

/// The realized problem: task, network and a way to draw each seed's initial weights.
pub struct Problem {
    /// The task.
    pub task: LinearTask,
    /// The network.
    pub net: DeepLinearNet,
    /// The initialization rule.
    pub init: Init,
}

impl Problem {
    /// Build from a loaded config (reads `.npy` files it names).
    pub fn build(loaded: &LoadedConfig) -> Result<Problem> {
        let c = &loaded.config;
        let cfg_err = |key: &str, message: String| Error::Config {
            file: loaded.origin.clone(),
            key: key.into(),
            message,
        };
        let read = |key: &str, p: &str| {
            crate::npy::read_matrix(&loaded.resolve_path(p)).map_err(|e| {
                cfg_err(
                    key,
                    format!("{e} (paths are relative to the config file's folder)"),
                )
            })
        };
        let map = match &c.task.sigma_yx {
            Some(p) => TeacherMap::Explicit(read("task.sigma_yx", p)?),
            None => TeacherMap::SingularValues(c.task.singular_values.clone()),
        };
        let spec = TeacherSpec {
            d_in: c.task.d_in,
            d_out: c.task.d_out,
            map,
            seed: c.task.seed,
            samples: c.task.samples.filter(|&p| p > 0),
            whiten: c.task.whiten,
            noise_std: c.task.noise_std,
        };
        let task = spec.build()?;
        let mut dims = vec![c.task.d_in];
        dims.extend(c.hidden_widths());
        dims.push(c.task.d_out);
        let net = DeepLinearNet::new(dims)?;
        let init = match c.init.kind {
            InitKind::Gaussian => Init::Gaussian {
                scale: c.init.scale,
            },
            InitKind::Orthogonal => Init::Orthogonal {
                scale: c.init.scale,
            },
            InitKind::LambdaBalanced => Init::LambdaBalanced {
                scale: c.init.scale,
                lambda: c.init.lambda,
            },
            InitKind::Aligned => {
                let r = task.rank();
                let u0 = c.init.u0.expand(r).ok_or_else(|| {
                    cfg_err(
                        "init.u0",
                        format!("give one number, or one per teacher mode ({r})"),
                    )
                })?;
                Init::Aligned {
                    u0,
                    lambda: c.init.lambda,
                    perturb: c.init.perturb,
                }
            }
            InitKind::Npy => {
                let mut layers = Vec::new();
                for p in &c.init.weights {
                    layers.push(read("init.weights", p)?);
                }
                // Check shapes now, so the error names the file.
                net.pack(&layers)
                    .map_err(|e| cfg_err("init.weights", e.to_string()))?;
                Init::Explicit(layers)
            }
        };
        if let Init::Aligned { .. } = &init {
            let r = task.rank();
            let narrowest = net.dims()[1..net.depth()]
                .iter()
                .copied()
                .min()
                .unwrap_or(r);
            if narrowest < r {
                return Err(cfg_err(
                    "model.hidden",
                    format!("an aligned init needs every hidden width >= the teacher's rank {r}; the narrowest is {narrowest}"),
                ));
            }
        }
        let problem = Problem { task, net, init };
        // Draw the first seed's init now, so impossible inits (e.g. widths that cannot be
        // lambda-balanced) are input errors found by `check`, not failures mid-run.
        if let Some(&seed) = c.train.seeds.first() {
            problem
                .initial_params(seed)
                .map_err(|e| cfg_err("init", e.to_string()))?;
        }
        Ok(problem)
    }

    /// Initial parameters for `seed`.
    pub fn initial_params(&self, seed: u64) -> Result<Vec<f64>> {
        let mut rng = random::rng(seed, stream::INIT);
        self.init
            .sample(&self.net, &self.task.u, &self.task.v, &mut rng)
    }
}

/// Records of the observables that depend only on the end-to-end map `we` (`d_out x d_in`):
/// mode strengths (C-3), singular values (nonincreasing), and the map entries (`map`, index
/// `i * d_in + j`).
fn push_map_observables(
    out: &mut Vec<Record>,
    rec: &dyn Fn(&'static str, Option<usize>, f64) -> Record,
    we: &Matrix,
    task: &LinearTask,
    want: &[bool; 8],
) {
    if want[1] {
        for (a, u) in analysis::mode_strengths(we, &task.u, &task.v)
            .into_iter()
            .enumerate()
        {
            out.push(rec("mode_strength", Some(a), u));
        }
    }
    if want[2] {
        // A non-finite map (diverging run) has no SVD: record NaN rather than fail.
        let k = we.nrows().min(we.ncols());
        let sv = analysis::singular_values(we).unwrap_or_else(|_| vec![f64::NAN; k]);
        for (i, s) in sv.into_iter().enumerate() {
            out.push(rec("singular_value", Some(i), s));
        }
    }
    if want[4] {
        for i in 0..we.nrows() {
            for j in 0..we.ncols() {
                out.push(rec("map", Some(i * we.ncols() + j), we.get(i, j)));
            }
        }
    }
}

/// Where and when a record was taken.
#[derive(Clone, Copy)]
struct Stamp {
    source: Source,
    seed: Option<u64>,
    step: Option<u64>,
    t: f64,
}

/// Observables of a full network state, pushed as records.
struct NetObserver<'a> {
    net: &'a DeepLinearNet,
    task: &'a LinearTask,
    balance0: Vec<Matrix>,
    theta0: Vec<f64>,
    want: [bool; 8],
}

/// `(W1^T W1, W2 W2^T)` of a two-layer parameter vector (the tangent-kernel Gram blocks).
fn grams(net: &DeepLinearNet, params: &[f64]) -> (Matrix, Matrix) {
    let w1 = net.layer(params, 1).to_owned();
    let w2 = net.layer(params, net.depth()).to_owned();
    (w1.t_matmul(&w1), w2.matmul_t(&w2))
}

/// Rich/lazy diagnostics from Gram blocks: kernel distance from the initial blocks (two
/// layers only) and first-layer alignment (RL-2, RL-3).
fn push_gram_observables(
    out: &mut Vec<Record>,
    rec: &dyn Fn(&'static str, Option<usize>, f64) -> Record,
    g0: Option<&(Matrix, Matrix)>,
    g: &(Matrix, Matrix),
    task: &LinearTask,
    want: &[bool; 8],
) {
    if want[6] {
        if let Some((p0, q0)) = g0 {
            out.push(rec(
                "kernel_distance",
                None,
                analysis::kernel_distance(p0, q0, &g.0, &g.1),
            ));
        }
    }
    if want[7] {
        out.push(rec(
            "alignment",
            None,
            analysis::input_alignment(&g.0, &task.v),
        ));
    }
}

impl NetObserver<'_> {
    fn push(&self, out: &mut Vec<Record>, at: Stamp, params: &[f64], loss: f64) {
        let rec = Record::maker(at.source, at.seed, at.step, at.t);
        if self.want[0] {
            out.push(rec("loss", None, loss));
        }
        if self.want[1] || self.want[2] || self.want[4] {
            let we = self.net.end_to_end(params);
            push_map_observables(out, &rec, &we, self.task, &self.want);
        }
        if self.want[3] {
            out.push(rec(
                "balance_drift",
                None,
                analysis::balance_drift(self.net, params, &self.balance0),
            ));
        }
        if self.want[5] {
            for l in 1..=self.net.depth() {
                let (w, w0) = (self.net.layer(params, l), self.net.layer(&self.theta0, l));
                let d: f64 = w
                    .as_slice()
                    .iter()
                    .zip(w0.as_slice())
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum();
                out.push(rec("weight_change", Some(l - 1), d.sqrt()));
            }
        }
        if self.want[6] || self.want[7] {
            let g0 = (self.net.depth() == 2).then(|| grams(self.net, &self.theta0));
            push_gram_observables(
                out,
                &rec,
                g0.as_ref(),
                &grams(self.net, params),
                self.task,
                &self.want,
            );
        }
    }
}

/// Run an experiment. `progress` receives stage events (for a progress bar).
pub fn run(loaded: &LoadedConfig, progress: &mut dyn FnMut(Progress)) -> Result<RunOutput> {
    let c: &Config = &loaded.config;
    if c.model.kind == ModelKind::Rnn {
        return rnn::run(loaded, progress);
    }
    let problem = Problem::build(loaded)?;
    let (task, net) = (&problem.task, &problem.net);
    let steps = record_steps(c.train.steps, c.output.records, c.output.spacing);
    let times: Vec<f64> = steps
        .iter()
        .map(|&k| train::gd_time(k, c.train.lr))
        .collect();
    let t_end = *times.last().unwrap_or(&0.0);
    let want = {
        let has = |n: &str| c.output.observables.iter().any(|o| o == n);
        [
            has("loss"),
            has("mode_strength"),
            has("singular_value"),
            has("balance_drift"),
            has("map"),
            has("weight_change"),
            has("kernel_distance"),
            has("alignment"),
        ]
    };
    let mut records = Vec::new();
    let mut skipped = Vec::new();
    // time_to_learn per theory source (see Summary::time_to_learn).
    let mut learn_times: BTreeMap<String, Vec<Option<f64>>> = BTreeMap::new();
    let mut timings = BTreeMap::new();
    let mut integrator_stats = BTreeMap::new();
    let (method, opts) = solver(loaded)?;
    let rank = task.rank();
    let k_sv = task.d_in().min(task.d_out());
    // Loss not explained by the r modes (noise floor plus teacher variance outside the modes),
    // for the mode theories: L = 1/2 sum_alpha (s_alpha - u_alpha)^2 + rest (DL-11).
    let rest = task.moments.loss_min + 0.5 * task.moments.w_star.norm_fro().powi(2)
        - 0.5 * task.s.iter().map(|s| s * s).sum::<f64>();

    let requested: Vec<Source> = c
        .theory
        .sources
        .iter()
        .filter_map(|s| Source::parse(s))
        .collect();
    let aligned = match &problem.init {
        Init::Aligned { u0, lambda, .. } => Some((u0.clone(), *lambda)),
        _ => None,
    };
    // Non-whitened inputs rule out every theory but the full flow; say that first.
    let mode_theory_reason = if !task.moments.whitened {
        Some(format!(
            "inputs are not whitened (||Sigma_xx - I||_F = {:.3e}); the closed forms and reduced ODEs assume Sigma_xx = I (set task.whiten = true)",
            task.whitening_error
        ))
    } else if aligned.is_none() {
        Some(format!(
            "init.kind = \"{}\" is not the decoupled (aligned) initial condition the mode theories assume",
            c.init.kind.name()
        ))
    } else {
        None
    };

    // Mode-theory records from per-mode strengths u[alpha] at each time.
    // Initial layer scalars of the aligned modes (DL-3), for the mode theories' diagnostics.
    let layers0: Vec<Vec<f64>> = aligned
        .as_ref()
        .map(|(u0, lambda)| {
            u0.iter()
                .map(|&x| mode_layer_scalars(x, *lambda, net.depth()))
                .collect()
        })
        .unwrap_or_default();
    let mode_grams = |layers: &[Vec<f64>]| -> (Matrix, Matrix) {
        // Aligned: W1^T W1 = V diag(a_1^2) V^T, W2 W2^T = U diag(a_2^2) U^T (two layers).
        let d = |l: usize| -> Vec<f64> { layers.iter().map(|a| a[l] * a[l]).collect() };
        let sym = |m: &Matrix, w: Vec<f64>| {
            Matrix::from_fn(m.nrows(), w.len(), |i, a| m.get(i, a) * w[a]).matmul_t(m)
        };
        (sym(&task.v, d(0)), sym(&task.u, d(layers[0].len() - 1)))
    };
    let push_modes = |records: &mut Vec<Record>,
                      source: Source,
                      t: f64,
                      u: &[f64],
                      drift: f64,
                      layers: &[Vec<f64>]| {
        let rec = Record::maker(source, None, None, t);
        if want[0] {
            let l = 0.5
                * task
                    .s
                    .iter()
                    .zip(u)
                    .map(|(s, x)| (s - x) * (s - x))
                    .sum::<f64>()
                + rest;
            records.push(rec("loss", None, l));
        }
        if want[1] {
            for (a, x) in u.iter().enumerate() {
                records.push(rec("mode_strength", Some(a), *x));
            }
        }
        if want[2] {
            // Aligned modes: W_e = U diag(u) V^T, singular values |u_alpha| sorted, then zeros.
            let mut sv: Vec<f64> = u.iter().map(|x| x.abs()).collect();
            sv.sort_by(|a, b| b.total_cmp(a));
            sv.resize(k_sv, 0.0);
            for (i, s) in sv.into_iter().enumerate() {
                records.push(rec("singular_value", Some(i), s));
            }
        }
        if want[4] {
            // Aligned modes: W_e = U diag(u) V^T.
            let ud = Matrix::from_fn(task.u.nrows(), u.len(), |i, a| task.u.get(i, a) * u[a]);
            let we = ud.matmul_t(&task.v);
            for i in 0..we.nrows() {
                for j in 0..we.ncols() {
                    records.push(rec("map", Some(i * we.ncols() + j), we.get(i, j)));
                }
            }
        }
        if want[3] {
            records.push(rec("balance_drift", None, drift));
        }
        if want[5] && !layers0.is_empty() {
            // Orthonormal hidden directions: ||W_l - W_l(0)||_F^2 = sum_alpha (a - a0)^2.
            for l in 0..net.depth() {
                let d: f64 = layers
                    .iter()
                    .zip(&layers0)
                    .map(|(a, a0)| (a[l] - a0[l]).powi(2))
                    .sum();
                records.push(rec("weight_change", Some(l), d.sqrt()));
            }
        }
        if (want[6] || want[7]) && !layers0.is_empty() {
            let g0 = (net.depth() == 2).then(|| mode_grams(&layers0));
            let g = mode_grams(layers);
            push_gram_observables(records, &rec, g0.as_ref(), &g, task, &want);
        }
    };

    // closed_form: the Riccati solution (RC-3) for unaligned two-layer lambda-balanced inits
    let riccati_init = if net.depth() == 2 && aligned.is_none() && task.moments.whitened {
        let theta0 = problem.initial_params(c.train.seeds[0])?;
        let (w1, w2) = (
            net.layer(&theta0, 1).to_owned(),
            net.layer(&theta0, 2).to_owned(),
        );
        riccati::lambda_balance(&w1, &w2, 1e-10).map(|l| (w1, w2, l))
    } else {
        None
    };
    if let (true, Some((w1, w2, lambda))) = (
        requested.contains(&Source::ClosedForm),
        riccati_init.as_ref(),
    ) {
        let started = Instant::now();
        let r = riccati::Riccati::new(&task.moments.sigma_yx, *lambda)?;
        let mut p = r.p_of(w1, w2);
        let g_init = (w1.t_matmul(w1), w2.matmul_t(w2));
        let mut t_prev = 0.0;
        for &t in &times {
            p = r.propagate(&p, t - t_prev)?;
            t_prev = t;
            let we = r.map_of(&p);
            let rec = Record::maker(Source::ClosedForm, None, None, t);
            if want[0] {
                let l =
                    0.5 * task.moments.w_star.sub(&we).norm_fro().powi(2) + task.moments.loss_min;
                records.push(rec("loss", None, l));
            }
            push_map_observables(&mut records, &rec, &we, task, &want);
            if want[3] {
                // The lambda-balance is conserved exactly (C-4).
                records.push(rec("balance_drift", None, 0.0));
            }
            let g = (r.w1tw1_of(&p), r.w2w2t_of(&p));
            push_gram_observables(&mut records, &rec, Some(&g_init), &g, task, &want);
        }
        timings.insert("closed_form".into(), started.elapsed().as_secs_f64());
    } else if requested.contains(&Source::ClosedForm) {
        let started = Instant::now();
        let reason = mode_theory_reason.clone().map(|r| {
            if net.depth() == 2 && task.moments.whitened {
                format!("{r}, and the init is not lambda-balanced (W2^T W2 - W1 W1^T != lambda I), so the Riccati solution does not apply either")
            } else {
                r
            }
        }).or_else(|| {
            let (u0, lambda) = aligned.as_ref().expect("aligned");
            if net.depth() > 2 && *lambda != 0.0 {
                Some("no closed form for unbalanced (lambda != 0) networks deeper than 2 layers; see reduced_ode".into())
            } else if net.depth() > 2 && u0.iter().any(|&x| x <= 0.0) {
                Some("the depth-L closed form needs u0 > 0 for every mode; see reduced_ode".into())
            } else {
                None
            }
        });
        match reason {
            Some(reason) => skipped.push(Skipped {
                source: "closed_form".into(),
                reason,
            }),
            None => {
                let (u0, lambda) = aligned.as_ref().expect("aligned");
                for &t in &times {
                    let u: Vec<f64> = task
                        .s
                        .iter()
                        .zip(u0)
                        .map(|(&s, &x)| {
                            if net.depth() == 2 {
                                dl::unbalanced_two_layer(s, x, *lambda, t)
                            } else {
                                dl::balanced_depth(s, net.depth(), x, t).unwrap_or(f64::NAN)
                            }
                        })
                        .collect();
                    let layers: Vec<Vec<f64>> = u
                        .iter()
                        .map(|&x| mode_layer_scalars(x, *lambda, net.depth()))
                        .collect();
                    push_modes(&mut records, Source::ClosedForm, t, &u, 0.0, &layers);
                }
                learn_times.insert(
                    "closed_form".into(),
                    task.s
                        .iter()
                        .zip(u0)
                        .map(|(&s, &x)| dl::time_to_learn(s, x, *lambda, net.depth()))
                        .collect(),
                );
            }
        }
        timings.insert("closed_form".into(), started.elapsed().as_secs_f64());
    }

    // reduced_ode: Arora's end-to-end flow (AR-1) for unaligned balanced inits
    let balanced_unaligned = if aligned.is_none() && task.moments.whitened {
        let theta0 = problem.initial_params(c.train.seeds[0])?;
        let scale = theta0
            .iter()
            .fold(0.0f64, |m, x| m.max(x.abs()))
            .powi(2)
            .max(f64::MIN_POSITIVE);
        let balanced = net.balance_matrices(&theta0).iter().all(|d| {
            d.max_abs() <= 1e-10 * scale * net.dims().iter().max().copied().unwrap_or(1) as f64
        });
        // AR-1 takes fractional powers of W_e W_e^T: near a rank-deficient map they turn
        // rounding into large noise (x^{1/N} of 1e-16), so use it only while the map stays
        // full rank: a full-rank teacher and a full-rank initial map.
        let we0 = net.end_to_end(&theta0);
        let sv = linalg::singular_values(we0.view()).unwrap_or_default();
        let full_rank = task.rank() == task.d_in().min(task.d_out())
            && sv.last().is_some_and(|&lo| lo > 1e-6 * sv[0]);
        (balanced && full_rank).then_some(we0)
    } else {
        None
    };
    if let (true, Some(we0)) = (
        requested.contains(&Source::ReducedOde),
        balanced_unaligned.as_ref(),
    ) {
        let started = Instant::now();
        let mut field = arora::EndToEnd {
            depth: net.depth(),
            w_star: task.moments.w_star.clone(),
        };
        let (m, n) = (we0.nrows(), we0.ncols());
        let mut ws = Workspace::new(m * n);
        let mut local = Vec::new();
        let mut on_save = |t: f64, y: &[f64]| {
            local.push((t, Matrix::from_col_major(m, n, y.to_vec()).expect("map")));
        };
        let sol = integrate::solve(
            &method,
            &mut field,
            &Ivp::new(0.0, we0.as_slice(), t_end),
            &opts,
            &mut ws,
            &mut Output::at_times(&times, &mut on_save),
        );
        match sol {
            Ok(sol) => {
                for (t, we) in local {
                    let rec = Record::maker(Source::ReducedOde, None, None, t);
                    if want[0] {
                        let l = 0.5 * task.moments.w_star.sub(&we).norm_fro().powi(2)
                            + task.moments.loss_min;
                        records.push(rec("loss", None, l));
                    }
                    push_map_observables(&mut records, &rec, &we, task, &want);
                    if want[3] {
                        records.push(rec("balance_drift", None, 0.0));
                    }
                }
                integrator_stats.insert("reduced_ode".into(), sol.stats);
            }
            Err(e) => skipped.push(Skipped {
                source: "reduced_ode".into(),
                reason: format!("integration failed: {e}"),
            }),
        }
        timings.insert("reduced_ode".into(), started.elapsed().as_secs_f64());
    } else if requested.contains(&Source::ReducedOde) {
        let started = Instant::now();
        match &mode_theory_reason {
            Some(reason) => skipped.push(Skipped {
                source: "reduced_ode".into(),
                reason: if task.moments.whitened {
                    format!("{reason}, and Arora's end-to-end flow needs a balanced init (W_(l+1)^T W_(l+1) = W_l W_l^T) with a full-rank teacher and initial map")
                } else {
                    reason.clone()
                },
            }),
            None => {
                let (u0, lambda) = aligned.as_ref().expect("aligned");
                let depth = net.depth();
                let mut ode = dl::ModeOde {
                    s: task.s.clone(),
                    depth,
                };
                let y0: Vec<f64> = u0
                    .iter()
                    .flat_map(|&x| mode_layer_scalars(x, *lambda, depth))
                    .collect();
                let bal0: Vec<f64> = balances(&y0, depth);
                let mut ws = Workspace::new(y0.len());
                let mut local = Vec::new();
                let mut on_save = |t: f64, y: &[f64]| {
                    let u: Vec<f64> = (0..rank)
                        .map(|a| y[a * depth..(a + 1) * depth].iter().product())
                        .collect();
                    let bal = balances(y, depth);
                    // max over layer pairs of the Frobenius norm over modes (matches C-4 for
                    // aligned networks: D_l = R diag(a_{l+1}^2 - a_l^2) R^T).
                    let drift = (0..depth - 1)
                        .map(|l| {
                            (0..rank)
                                .map(|a| {
                                    let i = a * (depth - 1) + l;
                                    (bal[i] - bal0[i]).powi(2)
                                })
                                .sum::<f64>()
                                .sqrt()
                        })
                        .fold(0.0, f64::max);
                    let layers: Vec<Vec<f64>> = y.chunks(depth).map(|c| c.to_vec()).collect();
                    local.push((t, u, drift, layers));
                };
                let mut out = Output::at_times(&times, &mut on_save);
                for (a, &s_a) in task.s.iter().enumerate() {
                    out = out.with_event(Event::new(
                        move |_, y: &[f64]| {
                            y[a * depth..(a + 1) * depth].iter().product::<f64>() - 0.5 * s_a
                        },
                        Crossing::Rising,
                    ));
                }
                let sol = integrate::solve(
                    &method,
                    &mut ode,
                    &Ivp::new(0.0, &y0, t_end),
                    &opts,
                    &mut ws,
                    &mut out,
                );
                drop(out);
                // An integration failure skips this source (with the reason), not the run.
                match sol {
                    Ok(sol) => {
                        for (t, u, drift, layers) in local {
                            push_modes(&mut records, Source::ReducedOde, t, &u, drift, &layers);
                        }
                        learn_times.insert("reduced_ode".into(), first_hits(&sol.events, rank));
                        integrator_stats.insert("reduced_ode".into(), sol.stats);
                    }
                    Err(e) => skipped.push(Skipped {
                        source: "reduced_ode".into(),
                        reason: format!("integration failed: {e}"),
                    }),
                }
            }
        }
        timings.insert("reduced_ode".into(), started.elapsed().as_secs_f64());
    }

    let first_seed = c.train.seeds[0];
    // gradient_flow (from the first seed's initial weights)
    if requested.contains(&Source::GradientFlow) {
        let started = Instant::now();
        let theta0 = problem.initial_params(first_seed)?;
        let obs = NetObserver {
            net,
            task,
            balance0: net.balance_matrices(&theta0),
            theta0: theta0.clone(),
            want,
        };
        let mut field =
            crate::dynamics::GradientFlow::new(DeepLinearModel::new(net, &task.moments, None));
        let mut ws = Workspace::new(theta0.len());
        let mut lws = net.workspace();
        progress(Progress::Start("gradient flow".into(), times.len() as u64));
        let mut on_save = |t: f64, y: &[f64]| {
            let loss = net.loss(y, &task.moments, &mut lws);
            obs.push(
                &mut records,
                Stamp {
                    source: Source::GradientFlow,
                    seed: None,
                    step: None,
                    t,
                },
                y,
                loss,
            );
            progress(Progress::Advance(1));
        };
        let mut out = Output::at_times(&times, &mut on_save);
        for (a, &s_a) in task.s.iter().enumerate() {
            let (u_a, v_a) = (task.u.first_cols(a + 1), task.v.first_cols(a + 1));
            out = out.with_event(Event::new(
                move |_, y: &[f64]| {
                    let we = net.end_to_end(y);
                    analysis::mode_strengths(&we, &u_a, &v_a)[a] - 0.5 * s_a
                },
                Crossing::Rising,
            ));
        }
        let sol = integrate::solve(
            &method,
            &mut field,
            &Ivp::new(0.0, &theta0, t_end),
            &opts,
            &mut ws,
            &mut out,
        );
        drop(out);
        progress(Progress::Finish);
        match sol {
            Ok(sol) => {
                learn_times.insert("gradient_flow".into(), first_hits(&sol.events, rank));
                integrator_stats.insert("gradient_flow".into(), sol.stats);
            }
            Err(e) => {
                // Drop the partial trajectory; the run goes on without this source.
                records.retain(|r| r.source != Source::GradientFlow);
                skipped.push(Skipped {
                    source: "gradient_flow".into(),
                    reason: format!("integration failed: {e}"),
                });
            }
        }
        timings.insert("gradient_flow".into(), started.elapsed().as_secs_f64());
    }

    // gd, one run per seed
    let started = Instant::now();
    let (sim, optimizer) = simulation(c);
    let trainer = train::Trainer::new(train::TrainSettings {
        batch_size: c.train.batch_size,
        divergence_factor: c.train.divergence_factor,
        ..train::TrainSettings::new(c.train.lr, c.train.steps, optimizer)
    });
    let mut runs = Vec::new();
    let mut final_weights = Vec::new();
    progress(Progress::Start(
        "gradient descent".into(),
        c.train.seeds.len() as u64 * c.train.steps.max(1),
    ));
    for &seed in &c.train.seeds {
        let mut theta = problem.initial_params(seed)?;
        let obs = NetObserver {
            net,
            task,
            balance0: net.balance_matrices(&theta),
            theta0: theta.clone(),
            want,
        };
        let mut last_loss = f64::NAN;
        let mut last_step = 0;
        let mut on_record = |st: train::Stamp, p: &[f64]| {
            let at = Stamp {
                source: sim,
                seed: Some(seed),
                step: Some(st.step),
                t: st.t,
            };
            obs.push(&mut records, at, p, st.loss);
            last_loss = st.loss;
            progress(Progress::Advance(st.step - last_step));
            last_step = st.step;
        };
        let data = task.data.as_ref().map(|(x, y)| (x, y));
        let mut model = DeepLinearModel::new(net, &task.moments, data);
        let mut rng = random::rng(seed, stream::BATCHES);
        let status = trainer.train(&mut model, &mut theta, &mut rng, &steps, &mut on_record)?;
        progress(Progress::Advance(c.train.steps.max(1) - last_step));
        runs.push(SeedRun {
            seed,
            status,
            final_loss: last_loss,
        });
        final_weights.push((seed, net.unpack(&theta)));
    }
    progress(Progress::Finish);
    timings.insert(sim.name().into(), started.elapsed().as_secs_f64());

    let mut summary = summarize(&records, runs, c.train.lr, rank);
    summary.time_to_learn = learn_times;
    if let Some(gd) = gd_learn_times(&records, &summary.seeds_in_mean, &task.s) {
        summary.time_to_learn.insert(sim.name().into(), gd);
    }
    Ok(RunOutput {
        records,
        summary,
        final_weights,
        skipped,
        timings,
        integrator_stats,
        teacher_singular_values: task.s.clone(),
        fixed_points: Vec::new(),
        weight_names: Vec::new(),
        whitening_error: task.whitening_error,
        record_steps: steps,
    })
}

/// The simulated source (named after the optimizer, the `source` column of its records) and
/// its update rule, from `train.optimizer` and Adam's `train.beta1/beta2/eps`.
pub fn simulation(c: &Config) -> (Source, Optimizer) {
    match c.train.optimizer {
        OptimizerKind::Sgd => (Source::Sgd, Optimizer::Sgd),
        OptimizerKind::Adam => (
            Source::Adam,
            Optimizer::Adam {
                beta1: c.train.beta1,
                beta2: c.train.beta2,
                eps: c.train.eps,
            },
        ),
        OptimizerKind::Gd => (Source::Gd, Optimizer::Gd),
    }
}

/// The learning-rate schedule of `train.schedule` with `train.decay`, `decay_every` and the
/// run length (cosine).
pub fn schedule(c: &Config) -> train::Schedule {
    let (decay, every) = (c.train.decay, c.train.decay_every.max(1));
    match c.train.schedule {
        ScheduleKind::Constant => train::Schedule::Constant,
        ScheduleKind::Step => train::Schedule::Step {
            factor: decay,
            every,
        },
        ScheduleKind::Exponential => train::Schedule::Exponential {
            factor: decay,
            every,
        },
        ScheduleKind::Cosine => train::Schedule::Cosine {
            final_fraction: decay,
            steps: c.train.steps.max(1),
        },
    }
}

/// `a_{l+1}^2 - a_l^2` for each mode and layer pair, mode-major.
fn balances(y: &[f64], depth: usize) -> Vec<f64> {
    y.chunks(depth)
        .flat_map(|a| (0..depth - 1).map(move |l| a[l + 1] * a[l + 1] - a[l] * a[l]))
        .collect()
}

/// Key of a record value: (observable, index, time bits).
type Key = (&'static str, Option<usize>, u64);

/// Seed-mean of the GD records of the non-diverged seeds, keyed by (observable, index, t).
pub fn seed_mean(records: &[Record], seeds: &[u64]) -> BTreeMap<Key, f64> {
    let mut acc: BTreeMap<Key, (f64, usize)> = BTreeMap::new();
    for r in records {
        if r.source.is_simulation() && r.seed.is_some_and(|s| seeds.contains(&s)) {
            let e = acc
                .entry((r.observable, r.index, r.t.to_bits()))
                .or_insert((0.0, 0));
            e.0 += r.value;
            e.1 += 1;
        }
    }
    acc.into_iter()
        .filter(|(_, (_, n))| *n == seeds.len())
        .map(|(k, (s, n))| (k, s / n as f64))
        .collect()
}

/// First event time of each mode (events are one per mode, index = mode).
fn first_hits(hits: &[integrate::EventHit], rank: usize) -> Vec<Option<f64>> {
    (0..rank)
        .map(|a| hits.iter().find(|h| h.index == a).map(|h| h.t))
        .collect()
}

/// Seed-mean GD: first time `u_alpha >= s_alpha / 2`, interpolated between record steps.
fn gd_learn_times(records: &[Record], seeds: &[u64], s: &[f64]) -> Option<Vec<Option<f64>>> {
    if seeds.is_empty() {
        return None;
    }
    let mean = seed_mean(records, seeds);
    let mut per_mode: Vec<Vec<(f64, f64)>> = vec![Vec::new(); s.len()];
    for ((obs, idx, tb), v) in &mean {
        if *obs == "mode_strength" {
            if let Some(a) = idx.filter(|a| *a < s.len()) {
                per_mode[a].push((f64::from_bits(*tb), *v));
            }
        }
    }
    if per_mode.iter().all(Vec::is_empty) {
        return None;
    }
    Some(
        per_mode
            .iter_mut()
            .zip(s)
            .map(|(pts, &s_a)| {
                pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                let target = 0.5 * s_a;
                if pts.first().is_some_and(|p| p.1 >= target) {
                    return pts.first().map(|p| p.0);
                }
                pts.windows(2).find_map(|w| {
                    let ((t0, v0), (t1, v1)) = (w[0], w[1]);
                    (v0 < target && v1 >= target)
                        .then(|| t0 + (target - v0) / (v1 - v0) * (t1 - t0))
                })
            })
            .collect(),
    )
}

/// First time a trajectory reaches half of its final value (linear interpolation), per mode.
fn time_to_half(points: &[(f64, f64)]) -> Option<f64> {
    let &(_, last) = points.last()?;
    let &(_, first) = points.first()?;
    let half = 0.5 * last;
    // A mode that did not grow (stuck at a saddle, or decaying) was never learned.
    if last == 0.0 || !half.is_finite() || last.abs() <= first.abs() {
        return None;
    }
    let above = |v: f64| if last > 0.0 { v >= half } else { v <= half };
    for w in points.windows(2) {
        let ((t0, v0), (t1, v1)) = (w[0], w[1]);
        if above(v0) {
            return Some(t0);
        }
        if above(v1) {
            return Some(t0 + (half - v0) / (v1 - v0) * (t1 - t0));
        }
    }
    points.first().filter(|p| above(p.1)).map(|p| p.0)
}

fn summarize(records: &[Record], runs: Vec<SeedRun>, lr: f64, rank: usize) -> Summary {
    let ok_seeds: Vec<u64> = runs
        .iter()
        .filter(|r| matches!(r.status, TrainStatus::Completed))
        .map(|r| r.seed)
        .collect();
    let mean = seed_mean(records, &ok_seeds);
    let mut discrepancy: BTreeMap<String, BTreeMap<String, Discrepancy>> = BTreeMap::new();
    let mut per_source_modes: BTreeMap<String, Vec<Vec<(f64, f64)>>> = BTreeMap::new();
    for r in records {
        if r.observable == "mode_strength" {
            let name = if r.source.is_simulation() {
                None
            } else {
                Some(r.source.name())
            };
            if let (Some(name), Some(a)) = (name, r.index) {
                let v = per_source_modes
                    .entry(name.to_string())
                    .or_insert_with(|| vec![Vec::new(); rank]);
                if a < rank {
                    v[a].push((r.t, r.value));
                }
            }
        }
        if !r.source.is_theory() {
            continue;
        }
        let Some(&m) = mean.get(&(r.observable, r.index, r.t.to_bits())) else {
            continue;
        };
        let d = discrepancy
            .entry(r.source.name().to_string())
            .or_default()
            .entry(r.observable.to_string())
            .or_insert(Discrepancy {
                max_abs: 0.0,
                max_rel: 0.0,
                points: 0,
            });
        d.max_abs = d.max_abs.max((r.value - m).abs());
        // max_rel temporarily holds max |mean_sim|; divided below.
        d.max_rel = d.max_rel.max(m.abs());
        d.points += 1;
    }
    for obs in discrepancy.values_mut() {
        for d in obs.values_mut() {
            d.max_rel = if d.max_rel > 0.0 {
                d.max_abs / d.max_rel
            } else {
                f64::NAN
            };
        }
    }
    // Seed-mean GD mode trajectories.
    let mut gd_modes = vec![Vec::new(); rank];
    for ((obs, idx, tb), v) in &mean {
        if *obs == "mode_strength" {
            if let Some(a) = idx.filter(|a| *a < rank) {
                gd_modes[a].push((f64::from_bits(*tb), *v));
            }
        }
    }
    for m in &mut gd_modes {
        m.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    let mut time_to_half_map = BTreeMap::new();
    for (name, modes) in per_source_modes {
        time_to_half_map.insert(name, modes.iter().map(|m| time_to_half(m)).collect());
    }
    if !ok_seeds.is_empty() && gd_modes.iter().any(|m| !m.is_empty()) {
        let sim_name = records
            .iter()
            .find(|r| r.source.is_simulation())
            .map_or("gd", |r| r.source.name());
        time_to_half_map.insert(
            sim_name.to_string(),
            gd_modes.iter().map(|m| time_to_half(m)).collect(),
        );
    }
    Summary {
        discrepancy,
        time_to_half: time_to_half_map,
        time_to_learn: BTreeMap::new(),
        lr,
        seeds_in_mean: ok_seeds,
        runs,
    }
}

/// The ODE method and options of `[integrate]`, for the theory sources.
fn solver(loaded: &LoadedConfig) -> Result<(Method, Options)> {
    let c = &loaded.config.integrate;
    let opts = Options {
        rtol: c.rtol,
        atol: Atol::Scalar(c.atol),
        max_steps: c.max_steps,
        fixed_step: c.fixed_step,
        ..Options::default()
    };
    let method = Method::parse(&c.method).ok_or_else(|| Error::Config {
        file: loaded.origin.clone(),
        key: "integrate.method".into(),
        message: format!("'{}' is unknown; allowed: {:?}", c.method, Method::NAMES),
    })?;
    Ok((method, opts))
}

/// Build the problem a config describes (data, network, first init) without running it:
/// the input errors `learndyn check` reports.
pub fn check_problem(loaded: &LoadedConfig) -> Result<()> {
    if loaded.config.model.kind == ModelKind::Rnn {
        rnn::RnnProblem::build(loaded).map(|_| ())
    } else {
        Problem::build(loaded).map(|_| ())
    }
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
