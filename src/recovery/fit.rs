//! Built-in least-squares fitters of a dataset's observations (issue 12 item 1, first part;
//! theory/recovery.md RF-1, RF-2): each writes a network folder in the standard weights form
//! ([`crate::recovery::network`], form `lds`, discrete, one step per bin) that
//! `learndyn recovery score` runs itself.
//!
//! - `observed` (RF-1, the observed-unit student of the partial-observation literature): the
//!   state is the held-in neurons' activity itself, `y_{t+1} = A y_t + U u_t + b`;
//! - `lds` (RF-2): the state is the top `latent` principal components of the held-in activity
//!   (training trials), `x = P^T (y - m)`, and `x_{t+1} = A x_t + U u_t + b`; the readout
//!   maps back, `y = P x + m` on held-in neurons and the least-squares regression on `x` for
//!   held-out ones.
//!
//! Both fit by ridge least squares over every transition of the training trials:
//! `[A U b] = Y+ Z^T (Z Z^T + rho I')^-1` with `Z = [x_t; u_t; 1]` (the intercept is not
//! penalized). Counts are fitted on `log(y + 1/2)` with an exp link. Each trial's initial
//! state is its first bin's state.

use crate::error::{Error, Result};
use crate::linalg::{self, Matrix};
use crate::npy;
use crate::recovery::dataset::Dataset;
use crate::recovery::latent;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Which fitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FitMethod {
    /// The observed-unit student (RF-1).
    Observed,
    /// A latent linear dynamical system on principal components (RF-2).
    Lds,
}

/// A fitter with its options: the `[fit]` section of a recovery run spec
/// (`learndyn recovery run`, docs/recovery.md), tagged by `method`. Every variant takes only
/// its own options (unknown keys are errors), so a new fitter is one new variant with its
/// fields and one arm in [`FitSpec::fit`].
///
/// ```toml
/// [fit]
/// method = "lds"   # observed | lds | rnn | gru | linear_rnn | rate_rnn | low_rank
/// latent = 3
/// ridge = 0.0
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum FitSpec {
    /// The observed-unit student (RF-1): the state is the held-in neurons' activity.
    Observed {
        /// Ridge on the dynamics' weights, not the intercept (default 0).
        #[serde(default)]
        ridge: f64,
    },
    /// A latent linear dynamical system on principal components (RF-2).
    Lds {
        /// State dimension, 1 ..= the held-in neurons (default 3).
        #[serde(default = "default_latent")]
        latent: usize,
        /// Ridge on the dynamics' weights, not the intercept (default 0).
        #[serde(default)]
        ridge: f64,
    },
    /// A latent tanh RNN trained by Adam (RF-3 .. RF-6).
    Rnn(LatentOptions),
    /// A latent GRU trained by Adam.
    Gru(LatentOptions),
    /// A latent linear system trained by Adam (BPTT, any procedure).
    LinearRnn(LatentOptions),
    /// A latent rate RNN (Euler map) trained by Adam.
    RateRnn(LatentOptions),
    /// A latent rank-`rank` tanh RNN trained by Adam.
    LowRank(LatentOptions),
}

/// Options of the latent fitters in a `[fit]` section (defaults as `recovery fit`'s flags; the
/// weights' seed is the job's seed).
///
/// ```toml
/// [fit]
/// method = "gru"
/// latent = 6
/// procedure = { kind = "gtf", alpha = 0.5 }   # free_running | teacher_forcing | gtf | multiple_shooting
/// initial = { kind = "encoder", bins = 3 }    # encoder | shared | zero
/// steps = 2000
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatentOptions {
    /// Latent size (default 8).
    #[serde(default = "default_rnn_latent")]
    pub latent: usize,
    /// Readout (default: poisson for counts, else gaussian).
    #[serde(default)]
    pub readout: Option<latent::ReadoutKind>,
    /// Initial states (default: encoder over 3 bins).
    #[serde(default = "default_initial")]
    pub initial: latent::Initial,
    /// Training procedure (default: free running).
    #[serde(default = "default_procedure")]
    pub procedure: latent::Procedure,
    /// Adam steps (default 2000).
    #[serde(default = "default_steps")]
    pub steps: u64,
    /// Adam's learning rate (default 1e-2, cosine decay to a tenth).
    #[serde(default = "default_lr")]
    pub lr: f64,
    /// Gradient clipping norm (default 1; 0 for none).
    #[serde(default = "default_clip")]
    pub clip: f64,
    /// Validation every this many steps (default 50).
    #[serde(default = "default_validate_every")]
    pub validate_every: u64,
    /// Rank of `low_rank` (default 1).
    #[serde(default = "default_rank")]
    pub rank: usize,
    /// Euler fraction of `rate_rnn` (default 0.2).
    #[serde(default = "default_rate_alpha")]
    pub rate_alpha: f64,
    /// Ridge on the encoder's weights (default 0: none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub encoder_ridge: f64,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

fn default_rnn_latent() -> usize {
    8
}
fn default_initial() -> latent::Initial {
    latent::Initial::Encoder { bins: 3 }
}
fn default_procedure() -> latent::Procedure {
    latent::Procedure::FreeRunning
}
fn default_steps() -> u64 {
    2000
}
fn default_lr() -> f64 {
    1e-2
}
fn default_clip() -> f64 {
    1.0
}
fn default_validate_every() -> u64 {
    50
}
fn default_rank() -> usize {
    1
}
fn default_rate_alpha() -> f64 {
    0.2
}

impl LatentOptions {
    /// The fitter's settings for `form`, weights drawn from `seed`.
    pub fn spec(&self, form: latent::LatentForm, seed: u64) -> latent::LatentSpec {
        latent::LatentSpec {
            readout: self.readout,
            initial: self.initial,
            procedure: self.procedure,
            steps: self.steps,
            lr: self.lr,
            clip: (self.clip > 0.0).then_some(self.clip),
            validate_every: self.validate_every,
            seed,
            rank: self.rank,
            rate_alpha: self.rate_alpha,
            encoder_ridge: self.encoder_ridge,
            ..latent::LatentSpec::new(form, self.latent)
        }
    }
}

fn default_latent() -> usize {
    3
}

/// What a [`FitSpec::fit`] reports beside the model folder it wrote (NaN where the fitter has
/// no such number).
#[derive(Debug, Clone, PartialEq)]
pub struct FitSummary {
    /// State dimension of the fitted model.
    pub state_dim: usize,
    /// One-step-ahead R^2 of the state on the training trials.
    pub one_step_r2_train: f64,
    /// The same on the validation + test trials.
    pub one_step_r2_eval: f64,
    /// Why the fit diverged (non-finite parameters or losses), if it did.
    pub diverged: Option<String>,
}

impl FitSpec {
    /// The method's name (`method` in the spec).
    pub fn method(&self) -> &'static str {
        match self {
            FitSpec::Observed { .. } => "observed",
            FitSpec::Lds { .. } => "lds",
            FitSpec::Rnn(_) => "rnn",
            FitSpec::Gru(_) => "gru",
            FitSpec::LinearRnn(_) => "linear_rnn",
            FitSpec::RateRnn(_) => "rate_rnn",
            FitSpec::LowRank(_) => "low_rank",
        }
    }

    /// Fit `d` and write the model as a network folder `dir` that
    /// [`crate::recovery::score::Fitted::read`] runs. `seed` is the job's seed: a stochastic
    /// fitter draws every random number from it (the least-squares fitters draw none).
    pub fn fit(&self, d: &Dataset, dir: &Path, seed: u64) -> Result<FitSummary> {
        use latent::LatentForm as F;
        let report = match self {
            FitSpec::Observed { ridge } => fit(d, FitMethod::Observed, None, *ridge, dir)?,
            FitSpec::Lds { latent, ridge } => fit(d, FitMethod::Lds, Some(*latent), *ridge, dir)?,
            FitSpec::Rnn(o) => return fit_latent(d, F::Rnn, o, dir, seed),
            FitSpec::Gru(o) => return fit_latent(d, F::Gru, o, dir, seed),
            FitSpec::LinearRnn(o) => return fit_latent(d, F::Linear, o, dir, seed),
            FitSpec::RateRnn(o) => return fit_latent(d, F::Rate, o, dir, seed),
            FitSpec::LowRank(o) => return fit_latent(d, F::LowRank, o, dir, seed),
        };
        let r2 = report.one_step_r2_train;
        Ok(FitSummary {
            state_dim: report.latent,
            one_step_r2_train: r2,
            one_step_r2_eval: report.one_step_r2_eval.unwrap_or(f64::NAN),
            diverged: (!r2.is_finite())
                .then(|| format!("the least-squares fit is not finite (one-step R^2 {r2})")),
        })
    }
}

/// A latent fit as a [`FitSummary`] (its R^2 are free running, not one step: NaN there).
fn fit_latent(
    d: &Dataset,
    form: latent::LatentForm,
    o: &LatentOptions,
    dir: &Path,
    seed: u64,
) -> Result<FitSummary> {
    let r = latent::fit(d, &o.spec(form, seed), dir, &mut |_| {})?;
    Ok(FitSummary {
        state_dim: o.latent,
        one_step_r2_train: f64::NAN,
        one_step_r2_eval: f64::NAN,
        diverged: (r.status != "completed").then(|| r.status.clone()),
    })
}

/// What was fitted (`fit.json`).
#[derive(Debug, Clone, Serialize)]
pub struct FitReport {
    /// The method.
    pub method: FitMethod,
    /// State dimension.
    pub latent: usize,
    /// Ridge `rho`.
    pub ridge: f64,
    /// Transitions used (training trials).
    pub transitions: usize,
    /// One-step-ahead R^2 of the state on the training and on the validation+test trials.
    pub one_step_r2_train: f64,
    /// See `one_step_r2_train`.
    pub one_step_r2_eval: Option<f64>,
    /// The transform applied to the observations before fitting.
    pub transform: String,
}

/// Rows `trials x time` of `y`, columns = `cols`.
fn pick(d: &Dataset, trials: &[usize], cols: &[usize], f: &dyn Fn(f64) -> f64) -> Vec<Matrix> {
    let tm = d.meta.time;
    trials
        .iter()
        .map(|&t| Matrix::from_fn(tm, cols.len(), |s, j| f(d.observations.get(t, s, cols[j]))))
        .collect()
}

/// Fit `method` to `d` and write the network folder `dir`. `latent` is used by `lds` (default
/// 3, at most the held-in neurons).
pub fn fit(
    d: &Dataset,
    method: FitMethod,
    latent: Option<usize>,
    ridge: f64,
    dir: &Path,
) -> Result<FitReport> {
    if !(ridge.is_finite() && ridge >= 0.0) {
        return Err(Error::invalid("--ridge", "must be a number >= 0"));
    }
    let held = &d.meta.splits.held_out_neurons;
    let held_in: Vec<usize> = (0..d.meta.neurons).filter(|j| !held.contains(j)).collect();
    let counts = d.meta.observation == "counts";
    let tf = |v: f64| if counts { (v + 0.5).ln() } else { v };
    let sp = &d.meta.splits;
    let train = &sp.train;
    let eval: Vec<usize> = sp.validation.iter().chain(&sp.test).copied().collect();
    let all: Vec<usize> = (0..d.meta.trials).collect();
    let y_all = pick(d, &all, &held_in, &tf);
    let n_in = d.meta.inputs;
    // Projection: identity (observed) or top principal components of the training trials.
    let (p, mean) = match method {
        FitMethod::Observed => (Matrix::identity(held_in.len()), vec![0.0; held_in.len()]),
        FitMethod::Lds => {
            let k = latent.unwrap_or(3);
            if k == 0 || k > held_in.len() {
                return Err(Error::invalid(
                    "--latent",
                    format!("must be 1 ..= {} (the held-in neurons)", held_in.len()),
                ));
            }
            principal_axes(&train.iter().map(|&t| &y_all[t]).collect::<Vec<_>>(), k)?
        }
    };
    let k = p.ncols();
    let state = |y: &Matrix| {
        Matrix::from_fn(y.nrows(), k, |s, c| {
            (0..y.ncols())
                .map(|j| p.get(j, c) * (y.get(s, j) - mean[j]))
                .sum()
        })
    };
    let x_all: Vec<Matrix> = y_all.iter().map(state).collect();
    // Design over the training transitions: Z = [x_t, u_t, 1] (rows), target x_{t+1}.
    let tm = d.meta.time;
    let width = k + n_in + 1;
    let design = |trials: &[usize]| {
        let rows = trials.len() * (tm - 1);
        let z = Matrix::from_fn(rows, width, |r, c| {
            let (t, s) = (trials[r / (tm - 1)], r % (tm - 1));
            if c < k {
                x_all[t].get(s, c)
            } else if c < k + n_in {
                d.inputs.get(t, s, c - k)
            } else {
                1.0
            }
        });
        let y = Matrix::from_fn(rows, k, |r, c| {
            x_all[trials[r / (tm - 1)]].get(r % (tm - 1) + 1, c)
        });
        (z, y)
    };
    let (z, y) = design(train);
    let mut g = z.t_matmul(&z);
    for c in 0..width - 1 {
        g.set(c, c, g.get(c, c) + ridge);
    }
    // x_{t+1} = w^T z (w: width x k). A singular Gram matrix means a regressor without
    // variance (an input that is always zero, a constant unit, collinear units): say which fix.
    let w = linalg::solve(&g, &z.t_matmul(&y)).map_err(|_| {
        Error::invalid(
            "ridge (--ridge; fit.ridge in a run spec)",
            "the least-squares regressors are collinear (an input channel that is always zero, \
             a constant or duplicated unit); set a small ridge > 0 (e.g. 1e-6) or drop that input",
        )
    })?;
    let r2 = |z: &Matrix, y: &Matrix| crate::recovery::metrics::regress::vw_r2(y, &z.matmul(&w));
    let one_step_r2_train = r2(&z, &y)?;
    let one_step_r2_eval = if eval.is_empty() {
        None
    } else {
        let (ze, ye) = design(&eval);
        Some(r2(&ze, &ye)?)
    };
    let a = Matrix::from_fn(k, k, |i, j| w.get(j, i));
    let u = Matrix::from_fn(k, n_in, |i, j| w.get(k + j, i));
    let b = Matrix::from_fn(k, 1, |i, _| w.get(width - 1, i));
    // Readout to every neuron: y = C x + dvec. Held-in: the projection back (P x + m);
    // held-out: least squares on the training trials' states.
    let held_out_fit = if held.is_empty() {
        None
    } else {
        let y_out = pick(d, train, held, &tf);
        let rows = train.len() * tm;
        let zx = Matrix::from_fn(rows, k + 1, |r, c| {
            if c < k {
                x_all[train[r / tm]].get(r % tm, c)
            } else {
                1.0
            }
        });
        let yo = Matrix::from_fn(rows, held.len(), |r, c| y_out[r / tm].get(r % tm, c));
        Some(linalg::solve(&zx.t_matmul(&zx), &zx.t_matmul(&yo))?)
    };
    let n = d.meta.neurons;
    let c = Matrix::from_fn(n, k, |i, j| match held_in.iter().position(|&h| h == i) {
        Some(q) => p.get(q, j),
        None => {
            let q = held.iter().position(|&h| h == i).expect("held-out neuron");
            held_out_fit.as_ref().map_or(0.0, |f| f.get(j, q))
        }
    });
    let dvec = Matrix::from_fn(n, 1, |i, _| match held_in.iter().position(|&h| h == i) {
        Some(q) => mean[q],
        None => {
            let q = held.iter().position(|&h| h == i).expect("held-out neuron");
            held_out_fit.as_ref().map_or(0.0, |f| f.get(k, q))
        }
    });
    let h0 = Matrix::from_fn(d.meta.trials, k, |t, j| x_all[t].get(0, j));
    crate::recovery::network::clear_model_folder(dir)?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    for (name, m) in [
        ("a", &a),
        ("u", &u),
        ("b", &b),
        ("c", &c),
        ("d", &dvec),
        ("initial_states", &h0),
    ] {
        npy::write_matrix(&dir.join(format!("{name}.npy")), m)?;
    }
    let net = serde_json::json!({"form": "lds", "time": "discrete", "dt": d.meta.dt,
        "link": if counts { "exp" } else { "identity" }});
    npy::write_atomic(
        &dir.join("network.json"),
        (serde_json::to_string_pretty(&net).unwrap_or_default() + "\n").as_bytes(),
    )?;
    let report = FitReport {
        method,
        latent: k,
        ridge,
        transitions: z.nrows(),
        one_step_r2_train,
        one_step_r2_eval,
        transform: if counts { "log(y + 0.5)" } else { "none" }.into(),
    };
    npy::write_atomic(
        &dir.join("fit.json"),
        (serde_json::to_string_pretty(&report).unwrap_or_default() + "\n").as_bytes(),
    )?;
    Ok(report)
}

/// Top `k` principal axes (`neurons x k`, unit columns) and the mean of the rows of `ys`.
fn principal_axes(ys: &[&Matrix], k: usize) -> Result<(Matrix, Vec<f64>)> {
    let n = ys[0].ncols();
    let rows: usize = ys.iter().map(|y| y.nrows()).sum();
    let mut mean = vec![0.0; n];
    for y in ys {
        for s in 0..y.nrows() {
            for (j, m) in mean.iter_mut().enumerate() {
                *m += y.get(s, j) / rows as f64;
            }
        }
    }
    let mut cov = Matrix::zeros(n, n);
    for y in ys {
        for s in 0..y.nrows() {
            for i in 0..n {
                let a = y.get(s, i) - mean[i];
                for (j, mj) in mean.iter().enumerate() {
                    cov.set(i, j, cov.get(i, j) + a * (y.get(s, j) - mj));
                }
            }
        }
    }
    let (vals, vecs) = linalg::sym_eig(cov.view())?;
    // Axes by decreasing variance.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| vals[b].total_cmp(&vals[a]));
    Ok((Matrix::from_fn(n, k, |i, c| vecs.get(i, order[c])), mean))
}
