//! Latent dynamical models fitted to a dataset's observations by gradient descent (issue 12
//! item 1; theory/recovery.md RF-3 .. RF-6): a tanh RNN, a GRU or a linear system in a latent
//! space of size `k`, a linear-Gaussian or exp-Poisson readout of the held-in neurons, each
//! trial's initial state from an encoder over its first bins, and a choice of training
//! procedure: free-running BPTT, teacher forcing, generalized teacher forcing (GTF) or
//! multiple shooting. Trained by learndyn's one [`Trainer`] (Adam, cosine decay, clipping),
//! with the validation loss (the procedure's own objective on the validation trials; free
//! running for multiple shooting) checked every `validate_every` steps and the best
//! checkpoint kept. The result is a network folder ([`crate::recovery::network`]) that
//! `learndyn recovery score` runs.
//!
//! Data-derived coordinates: the top `kf = min(k, held-in)` principal axes `P` of the training
//! trials' (transformed) observations, with standard deviations `sd`, give the forcing targets
//! `z = diag(1 / (2 sd)) P^T (y - m)` and the readout's start `C_0 = P diag(2 sd)`, `d_0 = m`
//! (so `C_0 z + d_0` is the projection of `y`; the factor 2 keeps `z` inside tanh's range).
//! Forcing procedures keep `C`, `d` frozen at that start, so `z` stays the exact inverse of
//! the observation model (Hess et al. 2023's identity mapping). Counts are transformed by
//! `log(y + 1/2)` for these coordinates only; the Poisson loss reads the raw counts.
//! Missing observations (NaN, e.g. the padding of shorter trials) are masked out of the loss.

pub mod cell;
pub mod model;
pub mod spec;

pub use cell::Cell;
pub use model::{LatentModel, SeqData};
pub use spec::{Initial, LatentForm, LatentSpec, Procedure, ReadoutKind};

use crate::error::{Error, Result};
use crate::linalg::{self, Matrix};
use crate::model::Model;
use crate::npy;
use crate::random;
use crate::recovery::dataset::Dataset;
use crate::train::{Optimizer, Schedule, TrainSettings, TrainStatus, Trainer};
use rand_distr::{Distribution, StandardNormal};
use serde::Serialize;
use std::path::Path;

/// A progress report of a running fit (every validation step).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Steps taken.
    pub step: u64,
    /// Of how many.
    pub steps: u64,
    /// Training loss (of the procedure) at this step.
    pub train_loss: f64,
    /// Validation loss (the procedure's objective on the validation trials).
    pub validation_loss: f64,
}

/// What was fitted (`fit.json` of a latent fit).
#[derive(Debug, Clone, Serialize)]
pub struct LatentReport {
    /// The settings.
    pub spec: LatentSpec,
    /// The readout used.
    pub readout: ReadoutKind,
    /// How training ended (`completed`, or `diverged at step S`).
    pub status: String,
    /// Step of the kept checkpoint.
    pub best_step: u64,
    /// Its validation loss (on training trials when there are no validation
    /// trials).
    pub best_validation_loss: f64,
    /// Free-running loss of the kept checkpoint on the training trials.
    pub train_loss: f64,
    /// R^2 of the free-running predicted means against the held-in observations, training
    /// trials and validation+test trials.
    pub r2_train: f64,
    /// See `r2_train` (`None` without evaluation trials).
    pub r2_eval: Option<f64>,
    /// Forced latent rows `kf`.
    pub forced_rows: usize,
    /// Across-trial spread of the fitted initial states relative to the latents' spread.
    pub initial_spread: f64,
    /// Warnings a user must read (e.g. the fit cannot tell trials apart).
    pub warnings: Vec<String>,
}

fn check(spec: &LatentSpec, d: &Dataset) -> Result<()> {
    let bad = |f: &str, m: String| Err(Error::invalid(f, m));
    if spec.latent == 0 || spec.latent > 4096 {
        return bad("latent", "must be 1 ..= 4096".into());
    }
    if !(spec.lr.is_finite() && spec.lr > 0.0) {
        return bad("lr", "must be a number > 0".into());
    }
    if spec.clip.is_some_and(|c| !(c.is_finite() && c > 0.0)) {
        return bad(
            "clip",
            "must be a number > 0 (omit it for no clipping)".into(),
        );
    }
    if !(spec.encoder_ridge.is_finite() && spec.encoder_ridge >= 0.0) {
        return bad("encoder_ridge", "must be a number >= 0".into());
    }
    if spec.validate_every == 0 {
        return bad("validate_every", "must be >= 1".into());
    }
    if spec.form == LatentForm::LowRank && !(1..=spec.latent).contains(&spec.rank) {
        return bad("rank", format!("must be 1 ..= latent = {}", spec.latent));
    }
    if spec.form == LatentForm::Rate && !(spec.rate_alpha > 0.0 && spec.rate_alpha <= 1.0) {
        return bad("rate_alpha", "must be in (0, 1]".into());
    }
    match spec.procedure {
        Procedure::Gtf { alpha } if !(0.0..=1.0).contains(&alpha) => {
            return bad("alpha", format!("must be in [0, 1], got {alpha}"));
        }
        Procedure::MultipleShooting { segment, penalty } => {
            if segment < 2 {
                return bad("segment", "must be >= 2 bins".into());
            }
            if !(penalty.is_finite() && penalty > 0.0) {
                return bad("penalty", "must be a number > 0".into());
            }
        }
        _ => {}
    }
    if let Initial::Encoder { bins } = spec.initial {
        if bins == 0 || bins > d.meta.time {
            return bad(
                "encoder_bins",
                format!("must be 1 ..= {} (the bins per trial)", d.meta.time),
            );
        }
    }
    if d.meta.time < 2 {
        return bad("dataset", "a latent fit needs >= 2 bins per trial".into());
    }
    Ok(())
}

/// Data-derived coordinates (see the module docs).
struct Coords {
    held_in: Vec<usize>,
    counts: bool,
    /// `n x kf` axes scaled by `2 sd` (the readout's start).
    c0: Matrix,
    /// `kf x n`: `diag(1/(2 sd)) P^T`.
    proj: Matrix,
    mean: Vec<f64>,
}

impl Coords {
    fn new(d: &Dataset, kf_max: usize) -> Result<Coords> {
        let held = &d.meta.splits.held_out_neurons;
        let held_in: Vec<usize> = (0..d.meta.neurons).filter(|j| !held.contains(j)).collect();
        let counts = d.meta.observation == "counts";
        let n = held_in.len();
        let tf = |v: f64| if counts { (v + 0.5).ln() } else { v };
        let rows: Vec<Vec<f64>> = d
            .meta
            .splits
            .train
            .iter()
            .flat_map(|&t| (0..d.meta.time).map(move |s| (t, s)))
            .map(|(t, s)| {
                held_in
                    .iter()
                    .map(|&j| tf(d.observations.get(t, s, j)))
                    .collect()
            })
            .filter(|r: &Vec<f64>| r.iter().all(|v| v.is_finite()))
            .collect();
        if rows.len() < 2 {
            return Err(Error::invalid(
                "dataset",
                "fewer than 2 fully observed bins in the training trials; nothing to fit",
            ));
        }
        let m = rows.len() as f64;
        let mean: Vec<f64> = (0..n)
            .map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / m)
            .collect();
        let mut cov = Matrix::zeros(n, n);
        for r in &rows {
            for i in 0..n {
                for j in 0..n {
                    cov.set(
                        i,
                        j,
                        cov.get(i, j) + (r[i] - mean[i]) * (r[j] - mean[j]) / m,
                    );
                }
            }
        }
        let (vals, vecs) = linalg::sym_eig(cov.view())?;
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| vals[b].total_cmp(&vals[a]));
        let kf = kf_max.min(n);
        let sd: Vec<f64> = order[..kf]
            .iter()
            .map(|&o| {
                let s = vals[o].max(0.0).sqrt();
                if s > 1e-12 {
                    s
                } else {
                    1.0
                }
            })
            .collect();
        let c0 = Matrix::from_fn(n, kf, |i, c| vecs.get(i, order[c]) * 2.0 * sd[c]);
        let proj = Matrix::from_fn(kf, n, |c, i| vecs.get(i, order[c]) / (2.0 * sd[c]));
        Ok(Coords {
            held_in,
            counts,
            c0,
            proj,
            mean,
        })
    }

    fn tf(&self, v: f64) -> f64 {
        if self.counts {
            (v + 0.5).ln()
        } else {
            v
        }
    }

    /// Time-major data of `trials` with `enc_bins` encoder bins.
    fn data(&self, d: &Dataset, trials: &[usize], enc_bins: usize) -> SeqData {
        let (t, b, n, n_in) = (d.meta.time, trials.len(), self.held_in.len(), d.meta.inputs);
        let kf = self.proj.nrows();
        let nf = n * enc_bins;
        let mut sd = SeqData {
            bins: t,
            trials: b,
            y: vec![0.0; n * t * b],
            mask: vec![0.0; n * t * b],
            x: vec![0.0; n_in * t * b],
            z: vec![0.0; kf * t * b],
            forced: vec![0.0; t * b],
            feat: vec![0.0; nf * b],
            n,
            n_in,
            kf,
            nf,
        };
        for s in 0..t {
            for (i, &tr) in trials.iter().enumerate() {
                let c = s * b + i;
                let mut full = true;
                let centered: Vec<f64> = self
                    .held_in
                    .iter()
                    .enumerate()
                    .map(|(q, &j)| {
                        let v = d.observations.get(tr, s, j);
                        if v.is_finite() {
                            sd.y[c * n + q] = v;
                            sd.mask[c * n + q] = 1.0;
                            self.tf(v) - self.mean[q]
                        } else {
                            full = false;
                            0.0
                        }
                    })
                    .collect();
                for j in 0..n_in {
                    let v = d.inputs.get(tr, s, j);
                    sd.x[c * n_in + j] = if v.is_finite() { v } else { 0.0 };
                }
                if full {
                    sd.forced[c] = 1.0;
                    for r in 0..kf {
                        sd.z[c * kf + r] = (0..n).map(|q| self.proj.get(r, q) * centered[q]).sum();
                    }
                }
                if s < enc_bins {
                    sd.feat[i * nf + s * n..i * nf + (s + 1) * n].copy_from_slice(&centered);
                }
            }
        }
        sd
    }
}

/// Initial parameters: random dynamics (stream INIT of `seed`), the data-derived readout, the
/// encoder reading the first bin's coordinates, shooting states at the data-inferred states.
fn init_theta(m: &LatentModel, spec: &LatentSpec, co: &Coords, data: &SeqData) -> Vec<f64> {
    let l = m.layout();
    let mut theta = vec![0.0; l.n_params()];
    let mut rng = random::rng(spec.seed, random::stream::INIT);
    let (k, kf, n_in) = (spec.latent, co.proj.nrows(), data.n_in);
    let mut fill = |name: &str, scale: f64, theta: &mut [f64]| {
        if let Some(b) = l.block(name) {
            for v in &mut theta[b.range()] {
                let z: f64 = StandardNormal.sample(&mut rng);
                *v = scale * z;
            }
        }
    };
    match spec.form {
        LatentForm::Rnn | LatentForm::Linear | LatentForm::Rate | LatentForm::LowRank => {
            fill("w", 0.9 / (k as f64).sqrt(), &mut theta);
            fill("m", 1.0, &mut theta);
            fill("n", 1.0, &mut theta);
            fill("a", 0.9 / (k as f64).sqrt(), &mut theta);
            fill("u", 0.5 / (n_in.max(1) as f64).sqrt(), &mut theta);
        }
        LatentForm::Gru => {
            fill("wh", 1.0 / (k as f64).sqrt(), &mut theta);
            fill("wi", 0.5 / (n_in.max(1) as f64).sqrt(), &mut theta);
        }
    }
    let set = |theta: &mut [f64], name: &str, f: &dyn Fn(usize, usize) -> f64| {
        if let Some(b) = l.block(name) {
            for c in 0..b.cols {
                for r in 0..b.rows {
                    theta[b.offset + r + c * b.rows] = f(r, c);
                }
            }
        }
    };
    set(&mut theta, "c", &|i, j| {
        if j < kf {
            co.c0.get(i, j)
        } else {
            0.0
        }
    });
    set(&mut theta, "d", &|i, _| co.mean[i]);
    let n = data.n;
    set(&mut theta, "enc", &|r, c| {
        if r < kf && c < n {
            co.proj.get(r, c)
        } else {
            0.0
        }
    });
    if let (Some(b), Procedure::MultipleShooting { segment, .. }) =
        (l.block("shoot"), spec.procedure)
    {
        let per = b.cols / data.trials.max(1);
        for tr in 0..data.trials {
            for j in 0..per {
                let c = (j + 1) * segment * data.trials + tr;
                for r in 0..kf {
                    theta[b.offset + (tr * per + j) * k + r] = data.z[c * kf + r];
                }
            }
        }
    }
    theta
}

/// The cell of `spec` for `n_in` inputs.
pub fn cell_of(spec: &LatentSpec, n_in: usize) -> Cell {
    let k = spec.latent;
    match spec.form {
        LatentForm::Rnn => Cell::Rnn { k, n_in },
        LatentForm::Linear => Cell::Linear { k, n_in },
        LatentForm::Gru => Cell::Gru { k, n_in },
        LatentForm::Rate => Cell::Rate {
            k,
            n_in,
            alpha: spec.rate_alpha,
        },
        LatentForm::LowRank => Cell::LowRank {
            k,
            n_in,
            rank: spec.rank,
        },
    }
}

/// Fit `spec` to the training trials of `d` and write the network folder `dir` (see the
/// module docs). `progress` is called at every validation step.
pub fn fit(
    d: &Dataset,
    spec: &LatentSpec,
    dir: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<LatentReport> {
    check(spec, d)?;
    let co = Coords::new(d, spec.latent)?;
    let readout = spec.readout.unwrap_or(if co.counts {
        ReadoutKind::Poisson
    } else {
        ReadoutKind::Gaussian
    });
    let enc_bins = match spec.initial {
        Initial::Encoder { bins } => bins,
        _ => 0,
    };
    let sp = &d.meta.splits;
    let eval: Vec<usize> = sp.validation.iter().chain(&sp.test).copied().collect();
    let val_trials = if sp.validation.is_empty() {
        &sp.train
    } else {
        &sp.validation
    };
    let cell = cell_of(spec, d.meta.inputs);
    let train_data = co.data(d, &sp.train, enc_bins);
    let mut model = LatentModel::new(
        cell,
        readout,
        spec.initial,
        spec.procedure,
        train_data.clone(),
        true,
    )?
    .with_encoder_ridge(spec.encoder_ridge);
    // Validation runs the procedure's own objective on the validation trials (early stopping
    // on the held-out loss that is minimized); multiple shooting has no learned states for
    // them and validates free running.
    let val_procedure = match spec.procedure {
        Procedure::MultipleShooting { .. } => Procedure::FreeRunning,
        p => p,
    };
    let mut val_model = LatentModel::new(
        cell,
        readout,
        spec.initial,
        val_procedure,
        co.data(d, val_trials, enc_bins),
        false,
    )?;
    let n_core = val_model.n_params();
    let mut theta = init_theta(&model, spec, &co, &train_data);
    let settings = TrainSettings {
        clip: spec.clip,
        schedule: Schedule::Cosine {
            final_fraction: 0.1,
            steps: spec.steps,
        },
        ..TrainSettings::new(
            spec.lr,
            spec.steps,
            Optimizer::Adam {
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
            },
        )
    };
    let every = spec.validate_every;
    let record: Vec<u64> = (0..=spec.steps)
        .filter(|s| s % every == 0 || *s == spec.steps)
        .collect();
    let mut best = (f64::INFINITY, 0u64, theta[..n_core].to_vec());
    let mut val_err = None;
    let mut rng = random::rng(spec.seed, random::stream::BATCHES);
    let status = Trainer::new(settings).train(
        &mut model,
        &mut theta,
        &mut rng,
        &record,
        &mut |stamp, th| match val_model.loss(&th[..n_core]) {
            Ok(v) => {
                if v < best.0 {
                    best = (v, stamp.step, th[..n_core].to_vec());
                }
                progress(Progress {
                    step: stamp.step,
                    steps: spec.steps,
                    train_loss: stamp.loss,
                    validation_loss: v,
                });
            }
            Err(e) => val_err = Some(e),
        },
    )?;
    if let Some(e) = val_err {
        return Err(e);
    }
    if !best.0.is_finite() {
        return Err(Error::invalid(
            "fit",
            "no finite validation loss at any checkpoint (the model diverged); \
             lower --lr or set a smaller clip",
        ));
    }
    let status = match status {
        TrainStatus::Completed => "completed".to_string(),
        TrainStatus::Diverged { step, .. } => format!("diverged at step {step}"),
    };
    let theta = best.2;
    write_fit(
        d,
        spec,
        &co,
        cell,
        readout,
        &theta,
        dir,
        (status, best.1, best.0),
        &eval,
    )
}

/// The free-running model of `trials` (for latents and R^2).
fn free_model(
    d: &Dataset,
    spec: &LatentSpec,
    co: &Coords,
    cell: Cell,
    readout: ReadoutKind,
    trials: &[usize],
) -> Result<LatentModel> {
    let enc_bins = match spec.initial {
        Initial::Encoder { bins } => bins,
        _ => 0,
    };
    LatentModel::new(
        cell,
        readout,
        spec.initial,
        Procedure::FreeRunning,
        co.data(d, trials, enc_bins),
        false,
    )
}

/// R^2 of the model's free-running predicted means on its trials' observed held-in entries.
fn r2_of(m: &mut LatentModel, theta: &[f64], readout: ReadoutKind) -> Result<f64> {
    m.loss(theta)?;
    let d = m.data();
    let (k, n) = (m.cell().k(), d.n);
    let c = m.layout().get(theta, "c").expect("readout block");
    let dd = m.layout().get(theta, "d").expect("readout block");
    let h = m.states();
    let (mut ss_res, mut ss_tot) = (0.0, 0.0);
    let cols = d.bins * d.trials;
    for q in 0..n {
        let obs: Vec<usize> = (0..cols).filter(|&cc| d.mask[cc * n + q] > 0.0).collect();
        if obs.is_empty() {
            continue;
        }
        let mu = obs.iter().map(|&cc| d.y[cc * n + q]).sum::<f64>() / obs.len() as f64;
        for &cc in &obs {
            let eta = dd.get(q, 0) + (0..k).map(|j| c.get(q, j) * h[cc * k + j]).sum::<f64>();
            let pred = match readout {
                ReadoutKind::Gaussian => eta,
                ReadoutKind::Poisson => eta.exp(),
            };
            let y = d.y[cc * n + q];
            ss_res += (y - pred).powi(2);
            ss_tot += (y - mu).powi(2);
        }
    }
    Ok(if ss_tot > 0.0 {
        1.0 - ss_res / ss_tot
    } else {
        f64::NAN
    })
}

#[allow(clippy::too_many_arguments)]
fn write_fit(
    d: &Dataset,
    spec: &LatentSpec,
    co: &Coords,
    cell: Cell,
    readout: ReadoutKind,
    theta: &[f64],
    dir: &Path,
    (status, best_step, best_val): (String, u64, f64),
    eval: &[usize],
) -> Result<LatentReport> {
    let k = spec.latent;
    let all: Vec<usize> = (0..d.meta.trials).collect();
    let mut m_all = free_model(d, spec, co, cell, readout, &all)?;
    m_all.loss(theta)?;
    let h = m_all.states().to_vec();
    let (tr, tm) = (d.meta.trials, d.meta.time);
    // h is k x (T B), column s B + b.
    let state = |t: usize, s: usize| &h[(s * tr + t) * k..(s * tr + t + 1) * k];
    let mut m_train = free_model(d, spec, co, cell, readout, &d.meta.splits.train)?;
    let train_loss = m_train.loss(theta)?;
    let r2_train = r2_of(&mut m_train, theta, readout)?;
    let r2_eval = if eval.is_empty() {
        None
    } else {
        Some(r2_of(
            &mut free_model(d, spec, co, cell, readout, eval)?,
            theta,
            readout,
        )?)
    };
    // Readout of every neuron: the fitted rows for held-in neurons, a regression on the
    // training trials' latents for held-out ones.
    let layout = m_all.layout().clone();
    let c_in = layout.get(theta, "c").expect("readout block");
    let d_in = layout.get(theta, "d").expect("readout block");
    let held = &d.meta.splits.held_out_neurons;
    let train = &d.meta.splits.train;
    let rows = train.len() * tm;
    let zx = Matrix::from_fn(rows, k + 1, |r, c| {
        if c < k {
            state(train[r / tm], r % tm)[c]
        } else {
            1.0
        }
    });
    let mut out_rows = Vec::with_capacity(held.len());
    for &j in held {
        let y: Vec<f64> = (0..rows)
            .map(|r| d.observations.get(train[r / tm], r % tm, j))
            .collect();
        out_rows.push(held_out_readout(&zx, &y, readout, co)?);
    }
    let n = d.meta.neurons;
    let c = Matrix::from_fn(n, k, |i, j| match co.held_in.iter().position(|&q| q == i) {
        Some(q) => c_in.get(q, j),
        None => out_rows[held.iter().position(|&q| q == i).expect("held out")][j],
    });
    let dvec = Matrix::from_fn(n, 1, |i, _| match co.held_in.iter().position(|&q| q == i) {
        Some(q) => d_in.get(q, 0),
        None => out_rows[held.iter().position(|&q| q == i).expect("held out")][k],
    });
    let h0 = Matrix::from_fn(tr, k, |t, j| state(t, 0)[j]);
    let (spread, warnings) = distinguishability(d, spec, &h, k);
    crate::recovery::network::clear_model_folder(dir)?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    // The exported latents: every trial run free from its initial state on its inputs.
    let latents = npy::Array3 {
        shape: [tr, tm, k],
        data: (0..tr)
            .flat_map(|t| (0..tm).flat_map(move |s| (0..k).map(move |j| (t, s, j))))
            .map(|(t, s, j)| state(t, s)[j])
            .collect(),
    };
    npy::write_array3(&dir.join("latents.npy"), &latents)?;
    let mut blocks: Vec<(&str, Matrix)> = vec![("c", c), ("d", dvec), ("initial_states", h0)];
    let get = |name: &str| layout.get(theta, name).expect("cell block");
    let form = match spec.form {
        LatentForm::Rnn => {
            blocks.extend([("w", get("w")), ("u", get("u")), ("b", get("b"))]);
            "rnn"
        }
        LatentForm::Linear => {
            blocks.extend([("a", get("a")), ("u", get("u")), ("b", get("b"))]);
            "lds"
        }
        LatentForm::Rate => {
            blocks.extend([("w", get("w")), ("u", get("u")), ("b", get("b"))]);
            "rate_rnn"
        }
        LatentForm::LowRank => {
            // The network form's W = M N^T / k is this form's.
            blocks.extend([
                ("m", get("m")),
                ("n", get("n")),
                ("u", get("u")),
                ("b", get("b")),
            ]);
            "rnn"
        }
        LatentForm::Gru => {
            let (bi, bh) = (get("bi"), get("bh"));
            // learndyn's GRU merges the r and z biases and keeps b_hn inside the reset gate.
            let merged = Matrix::from_fn(3 * k, 1, |i, _| {
                bi.get(i, 0) + if i < 2 * k { bh.get(i, 0) } else { 0.0 }
            });
            let bhn = Matrix::from_fn(k, 1, |i, _| bh.get(2 * k + i, 0));
            blocks.extend([
                ("wi", get("wi")),
                ("wh", get("wh")),
                ("bi", merged),
                ("bhn", bhn),
            ]);
            "gru"
        }
    };
    for (name, m) in &blocks {
        npy::write_matrix(&dir.join(format!("{name}.npy")), m)?;
    }
    let link = match readout {
        ReadoutKind::Gaussian => "identity",
        ReadoutKind::Poisson => "exp",
    };
    let net = serde_json::json!({"form": form, "time": if form == "lds" { Some("discrete") } else { None },
        "dt": d.meta.dt, "link": link});
    let mut net = net;
    if let Some(o) = net.as_object_mut() {
        if form != "lds" {
            o.remove("time");
        }
        if form == "rate_rnn" {
            o.insert("alpha".into(), serde_json::json!(spec.rate_alpha));
        }
    }
    npy::write_atomic(
        &dir.join("network.json"),
        (serde_json::to_string_pretty(&net).unwrap_or_default() + "\n").as_bytes(),
    )?;
    let report = LatentReport {
        spec: *spec,
        readout,
        status,
        best_step,
        best_validation_loss: best_val,
        train_loss,
        r2_train,
        r2_eval,
        forced_rows: co.proj.nrows(),
        initial_spread: spread,
        warnings,
    };
    npy::write_atomic(
        &dir.join("fit.json"),
        (serde_json::to_string_pretty(&report).unwrap_or_default() + "\n").as_bytes(),
    )?;
    Ok(report)
}

/// `[w_1 .. w_k, intercept]` of one held-out neuron from the latents `zx` (`rows x (k+1)`,
/// last column 1): least squares (Gaussian) or a Poisson GLM (Poisson). Missing entries
/// are dropped.
fn held_out_readout(zx: &Matrix, y: &[f64], readout: ReadoutKind, co: &Coords) -> Result<Vec<f64>> {
    let keep: Vec<usize> = (0..y.len()).filter(|&r| y[r].is_finite()).collect();
    let k1 = zx.ncols();
    let x = Matrix::from_fn(keep.len(), k1, |r, c| zx.get(keep[r], c));
    let yk: Vec<f64> = keep.iter().map(|&r| y[r]).collect();
    match readout {
        ReadoutKind::Gaussian => {
            let mut g = x.t_matmul(&x);
            for c in 0..k1 - 1 {
                g.set(c, c, g.get(c, c) + 1e-9 * (1.0 + g.get(c, c)));
            }
            let rhs = x.t_matmul(&Matrix::from_fn(yk.len(), 1, |r, _| yk[r]));
            let w = linalg::solve(&g, &rhs)?;
            Ok((0..k1).map(|c| w.get(c, 0)).collect())
        }
        ReadoutKind::Poisson => {
            let _ = co;
            let feats = Matrix::from_fn(keep.len(), k1 - 1, |r, c| x.get(r, c));
            let (a, w) = crate::recovery::metrics::counts::poisson_glm(&feats, &yk, 1e-6, 50)?;
            Ok(w.into_iter().chain([a]).collect())
        }
    }
}

/// The across-trial spread of the initial states relative to the latents' spread, and the
/// warning when the fitted model cannot tell trials apart (every trial from the same state
/// under the same inputs: only the trial mean can be fitted).
fn distinguishability(d: &Dataset, spec: &LatentSpec, h: &[f64], k: usize) -> (f64, Vec<String>) {
    let (tr, tm) = (d.meta.trials, d.meta.time);
    let var = |cols: &mut dyn Iterator<Item = usize>| {
        let v: Vec<&[f64]> = cols.map(|c| &h[c * k..(c + 1) * k]).collect();
        let m = v.len().max(1) as f64;
        (0..k)
            .map(|j| {
                let mu = v.iter().map(|x| x[j]).sum::<f64>() / m;
                v.iter().map(|x| (x[j] - mu).powi(2)).sum::<f64>() / m
            })
            .sum::<f64>()
    };
    let v0 = var(&mut (0..tr));
    let vall = var(&mut (0..tr * tm));
    let spread = if vall > 0.0 { (v0 / vall).sqrt() } else { 0.0 };
    let same_inputs = (0..tr).all(|t| {
        (0..tm).all(|s| {
            (0..d.meta.inputs)
                .all(|j| (d.inputs.get(t, s, j) - d.inputs.get(0, s, j)).abs() < 1e-12)
        })
    });
    let mut w = Vec::new();
    if same_inputs && tr > 1 && (spread < 1e-3 || !matches!(spec.initial, Initial::Encoder { .. }))
    {
        w.push(format!(
            "the fitted model starts every trial from (nearly) the same state (initial-state \
             spread {spread:.2e} of the latents') and every trial gets the same inputs, so it \
             can only fit the trial mean and cannot tell trials apart; use the encoder \
             (initial = encoder) and check that the first bins differ between trials"
        ));
    }
    (spread, w)
}

#[cfg(test)]
mod tests {
    //! Checks on a real ring dataset (attractors.md C4; issue 12 item 4): the validation
    //! trials' data are built exactly as the training trials', and the free-running gradient
    //! on ring data matches finite differences (the random-data check is in
    //! tests/recovery_latent.rs).
    use super::*;
    use crate::recovery::dataset;
    use crate::recovery::spec::Spec;

    fn ring() -> Dataset {
        let text = "seed = 3\n[system]\nkind = \"ring\"\nunits = 6\nj_e = 4.0\nj_i = -2.4\n\
                    velocity_std = 0.5\nvelocity_steps = 5\n[trials]\ncount = 16\nsteps = 20\n\
                    dt = 0.1\nprocess_noise = 0.02\n[observe]\nmixing = \"linear\"\nneurons = 8\n\
                    noise = \"poisson\"\nfr_scaling = 2.0\n[split]\ntrain = 0.5\n\
                    validation = 0.25\nheld_out = 2\n";
        dataset::generate(&Spec::parse(text, "<test>").unwrap()).unwrap()
    }

    /// A trial's data is the same whichever set of trials it is built with (training set,
    /// validation set, alone): encoder features, inputs, masks, targets, forcing flags.
    #[test]
    fn ring_validation_data_are_built_like_training_data() {
        let d = ring();
        let co = Coords::new(&d, 6).unwrap();
        let sp = &d.meta.splits;
        let train = co.data(&d, &sp.train, 3);
        let val = co.data(&d, &sp.validation, 3);
        for (set, data) in [(&sp.train, &train), (&sp.validation, &val)] {
            for (i, &tr) in set.iter().enumerate() {
                let alone = co.data(&d, &[tr], 3);
                let g = data.gather(&[i]);
                assert_eq!(alone.feat, g.feat, "trial {tr}: encoder features");
                assert_eq!(alone.x, g.x, "trial {tr}: inputs");
                assert_eq!(alone.y, g.y, "trial {tr}: observations");
                assert_eq!(alone.mask, g.mask, "trial {tr}: mask");
                assert_eq!(alone.z, g.z, "trial {tr}: forcing targets");
                for (s, &v) in alone.x.iter().enumerate() {
                    assert_eq!(
                        v.to_bits(),
                        d.inputs.get(tr, s, 0).to_bits(),
                        "trial {tr}: input at bin {s}"
                    );
                }
            }
        }
        assert!(
            train.x.iter().any(|v| v.abs() > 0.0),
            "the ring's velocity input is read"
        );
    }

    /// The free-running GRU's analytic gradient on ring data (encoder initial states with a
    /// ridge on the encoder, exp-Poisson readout, the fitter's own initial parameters moved off their start) against
    /// central differences, and the initial model's validation loss against the same model's
    /// loss on those trials built as a training set.
    #[test]
    fn ring_free_running_gradient_matches_finite_differences() {
        let d = ring();
        let spec = LatentSpec::new(LatentForm::Gru, 6);
        let co = Coords::new(&d, spec.latent).unwrap();
        let sp = &d.meta.splits;
        let cell = cell_of(&spec, d.meta.inputs);
        let mk = |trials: &[usize], shooting: bool| {
            LatentModel::new(
                cell,
                ReadoutKind::Poisson,
                spec.initial,
                Procedure::FreeRunning,
                co.data(&d, trials, 3),
                shooting,
            )
            .unwrap()
        };
        let mut m = mk(&sp.train, true).with_encoder_ridge(0.3);
        let mut theta = init_theta(&m, &spec, &co, m.data());
        let mut rng = random::rng(11, 0);
        for v in &mut theta {
            let z: f64 = StandardNormal.sample(&mut rng);
            *v += 0.1 * z;
        }
        let n = m.n_params();
        let mut g = vec![0.0; n];
        let mut scratch = vec![0.0; n];
        m.loss_and_grad(&theta, None, &mut g).unwrap();
        let h = 1e-5;
        for i in 0..n {
            let mut tp = theta.clone();
            tp[i] += h;
            let lp = m.loss_and_grad(&tp, None, &mut scratch).unwrap();
            tp[i] -= 2.0 * h;
            let lm = m.loss_and_grad(&tp, None, &mut scratch).unwrap();
            let fd = (lp - lm) / (2.0 * h);
            assert!(
                (fd - g[i]).abs() < 1e-7 * (1.0 + g[i].abs()),
                "entry {i}: analytic {} vs fd {fd}",
                g[i]
            );
        }
        let mut val = mk(&sp.validation, false);
        let mut as_train = mk(&sp.validation, true);
        let (lv, lt) = (val.loss(&theta).unwrap(), as_train.loss(&theta).unwrap());
        assert!(
            (lv - lt).abs() < 1e-14,
            "validation {lv} vs training-built {lt}"
        );
    }
}
