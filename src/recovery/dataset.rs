//! Datasets: trials of a ground-truth system simulated with learndyn's solvers, seen through
//! an observation model, split, and written as files a method under test can read
//! (docs/recovery.md): `observations.npy` `[trials, time, neurons]`, `inputs.npy`
//! `[trials, time, inputs]`, `dataset.json`, and the ground truth under `truth/`
//! (`latents.npy`, `rates.npy`, `attractors.json`, `readout.json`).

use crate::error::{Error, Result};
use crate::integrate::{self, Ivp, Method, Options, Output, Workspace};
use crate::linalg::Matrix;
use crate::model::state_map::TimeKind;
use crate::npy::{self, Array3};
use crate::recovery::observe::{self, Readout};
use crate::recovery::spec::{Noise, Spec, BASIN_DRAWS, BASIN_RADIUS};
use crate::recovery::system::{Driven, System};
use crate::recovery::truth::Truth;
use rand::seq::SliceRandom;
use rand::RngExt;
use rand_distr::StandardNormal;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;

/// Random streams of a dataset (one per purpose; trials add their index).
const STREAM_READOUT: u64 = 0x5EAD;
const STREAM_SPLIT: u64 = 0x5917;
const STREAM_TRIAL: u64 = 0x7_0000_0000;
const STREAM_NOISE: u64 = 0x8_0000_0000;
const STREAM_BURN_IN: u64 = 0x9_0000_0000;

/// A generated dataset in memory.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Observations `[trials, bins, neurons]`.
    pub observations: Array3,
    /// Inputs `[trials, bins, n_inputs]` (bin means).
    pub inputs: Array3,
    /// True latent states `[trials, bins, dim]` (bin means).
    pub latents: Array3,
    /// True rates (spiking) or noise-free activity (Gaussian / none) `[trials, bins, neurons]`.
    pub rates: Array3,
    /// The readout drawn for this dataset.
    pub readout: Readout,
    /// The exact description of the system.
    pub truth: Truth,
    /// Shapes, splits and provenance (`dataset.json`).
    pub meta: Meta,
}

/// Trial and neuron splits.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Splits {
    /// Training trial indices (ascending).
    pub train: Vec<usize>,
    /// Validation trial indices (ascending).
    pub validation: Vec<usize>,
    /// Test trial indices (ascending).
    pub test: Vec<usize>,
    /// Held-in neuron indices.
    pub held_in_neurons: Vec<usize>,
    /// Held-out neuron indices (the last `split.held_out` neurons).
    pub held_out_neurons: Vec<usize>,
}

/// `dataset.json`: what a method under test needs to know (and nothing about the truth
/// beyond the spec).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Meta {
    /// Always "learndyn-recovery-dataset".
    pub format: String,
    /// Format version (1).
    pub format_version: u32,
    /// learndyn version that wrote it.
    pub learndyn_version: String,
    /// Number of trials.
    pub trials: usize,
    /// Time bins per trial.
    pub time: usize,
    /// Number of neurons.
    pub neurons: usize,
    /// Input dimension (0: autonomous; `inputs.npy` then has a last axis of length 0).
    pub inputs: usize,
    /// Time between bins (system time units) = `trials.dt * observe.bin`.
    pub dt: f64,
    /// "counts" (Poisson / negative binomial) or "continuous".
    pub observation: String,
    /// Input condition of each trial.
    pub conditions: Vec<usize>,
    /// Trial and neuron splits.
    pub splits: Splits,
    /// The spec (parsed, all defaults filled in).
    pub spec: Spec,
    /// SHA-256 of the canonical spec TOML.
    pub spec_sha256: String,
}

/// Generate the dataset of `spec` (deterministic in `spec.seed`, whatever the thread count).
pub fn generate(spec: &Spec) -> Result<Dataset> {
    spec.validate()?;
    let system = spec.system.build()?;
    let truth = system.truth()?;
    let t = &spec.trials;
    let dim = system.dim();
    let (lo, hi) = match (&t.init_low, &t.init_high) {
        (Some(l), Some(h)) => (l.clone(), h.clone()),
        _ => system.init_box(),
    };
    if lo.len() != dim
        || hi.len() != dim
        || lo.iter().zip(&hi).any(|(a, b)| {
            !matches!(
                a.partial_cmp(b),
                Some(std::cmp::Ordering::Less | std::cmp::Ordering::Equal)
            )
        })
    {
        return Err(Error::Config {
            file: "<spec>".into(),
            key: "trials.init_low".into(),
            message: format!(
                "init_low and init_high must have {dim} entries (the state dimension) with low <= high"
            ),
        });
    }
    if system.time() == TimeKind::Discrete
        && (t.dt - system.map_dt()).abs() > 1e-12 * system.map_dt()
    {
        return Err(Error::Config {
            file: "<spec>".into(),
            key: "trials.dt".into(),
            message: format!(
                "the system is a discrete map whose step stands for {} time units; set trials.dt = {} (one step per sample)",
                system.map_dt(),
                system.map_dt()
            ),
        });
    }
    let conditions: Vec<usize> = (0..t.count).map(|k| k % system.n_conditions()).collect();
    let basin = match t.basin {
        Some(index) => Some(Basin::new(system.as_ref(), &truth, index)?),
        None => None,
    };
    let init = Init {
        lo: &lo,
        hi: &hi,
        basin: basin.as_ref(),
    };
    let trials: Vec<(Vec<f64>, Vec<f64>)> = (0..t.count)
        .into_par_iter()
        .map(|k| simulate_trial(system.as_ref(), spec, k, conditions[k], &init))
        .collect::<Result<_>>()?;
    let (steps, n_in) = (t.steps, system.n_inputs());
    let bin = spec.observe.bin;
    let bins = steps / bin;
    let latents = bin_means(
        &trials.iter().map(|x| &x.0).collect::<Vec<_>>(),
        steps,
        dim,
        bin,
    );
    let inputs = bin_means(
        &trials.iter().map(|x| &x.1).collect::<Vec<_>>(),
        steps,
        n_in,
        bin,
    );
    // Observation at sample resolution, then binned.
    let mut rng = crate::random::rng(spec.seed, STREAM_READOUT);
    let mut readout = observe::draw_readout(&spec.observe, dim, &mut rng);
    let flat_lat = Matrix::from_fn(t.count * steps, dim, |s, j| {
        trials[s / steps].0[(s % steps) * dim + j]
    });
    let act = observe::activity(&mut readout, &flat_lat);
    let rates_s = observe::rates(&spec.observe, &mut readout, &act);
    let n = spec.observe.neurons;
    let counts = matches!(spec.observe.noise, Noise::Poisson | Noise::NegativeBinomial);
    let per_trial: Vec<(Vec<f64>, Vec<f64>)> = (0..t.count)
        .into_par_iter()
        .map(|k| {
            let mut rng = crate::random::rng(spec.seed, STREAM_NOISE + k as u64);
            let (mut obs, mut rate) = (vec![0.0; bins * n], vec![0.0; bins * n]);
            for s in 0..bins * bin {
                let b = s / bin;
                for i in 0..n {
                    let r = rates_s.get(k * steps + s, i);
                    let y = observe::sample(&spec.observe, r, &mut rng)?;
                    // Counts add up over a bin; continuous observations are averaged.
                    let w = if counts { 1.0 } else { 1.0 / bin as f64 };
                    obs[b * n + i] += w * y;
                    rate[b * n + i] += w * r;
                }
            }
            Ok((obs, rate))
        })
        .collect::<Result<_>>()?;
    type Pick = fn(&(Vec<f64>, Vec<f64>)) -> &Vec<f64>;
    let cat = |f: Pick| -> Array3 {
        Array3 {
            shape: [t.count, bins, n],
            data: per_trial
                .iter()
                .flat_map(|p| f(p).iter().copied())
                .collect(),
        }
    };
    let observations = cat(|p| &p.0);
    let rates = cat(|p| &p.1);
    let splits = split(spec, t.count, n);
    let meta = Meta {
        format: "learndyn-recovery-dataset".into(),
        format_version: 1,
        learndyn_version: env!("CARGO_PKG_VERSION").into(),
        trials: t.count,
        time: bins,
        neurons: n,
        inputs: n_in,
        dt: t.dt * bin as f64,
        observation: if counts { "counts" } else { "continuous" }.into(),
        conditions,
        splits,
        spec_sha256: hex(&Sha256::digest(spec.canonical().as_bytes())),
        spec: spec.clone(),
    };
    Ok(Dataset {
        observations,
        inputs,
        latents,
        rates,
        readout,
        truth,
        meta,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where trials start: the box `[lo, hi]`, optionally restricted to one basin.
struct Init<'a> {
    lo: &'a [f64],
    hi: &'a [f64],
    basin: Option<&'a Basin>,
}

/// `trials.basin`: the stable fixed point whose basin the initial states must lie in, judged
/// by the noise-free autonomous flow over `horizon` (spec.rs [`BASIN_RADIUS`],
/// [`BASIN_DRAWS`]).
struct Basin {
    /// The spec's index (among the stable true fixed points).
    index: usize,
    /// The stable fixed point.
    target: Vec<f64>,
    /// Convergence radius: [`BASIN_RADIUS`] x the smallest distance between true fixed points.
    radius: f64,
    /// 50 slowest timescales of the stable points: `50 / min |Re lambda|`.
    horizon: f64,
}

impl Basin {
    fn new(system: &dyn System, truth: &Truth, index: usize) -> Result<Basin> {
        let stable: Vec<_> = truth.fixed_points.iter().filter(|p| p.stable).collect();
        let bad = |message: String| Error::Config {
            file: "<spec>".into(),
            key: "trials.basin".into(),
            message,
        };
        let Some(target) = stable.get(index) else {
            return Err(bad(format!(
                "{index} is not the index of a stable fixed point of the truth: it has {}",
                stable.len()
            )));
        };
        if (0..system.n_conditions()).any(|c| system.fixed_init(c).is_some()) {
            return Err(bad(format!(
                "the {} system fixes its trials' initial states; remove trials.basin",
                system.name()
            )));
        }
        let pts = &truth.fixed_points;
        let mut min_dist = f64::INFINITY;
        for (i, a) in pts.iter().enumerate() {
            for b in &pts[i + 1..] {
                let d2: f64 = a.x.iter().zip(&b.x).map(|(p, q)| (p - q).powi(2)).sum();
                min_dist = min_dist.min(d2.sqrt());
            }
        }
        // A single fixed point: its whole state space is its basin, any radius will do.
        let scale = if min_dist.is_finite() { min_dist } else { 1.0 };
        let slowest = stable
            .iter()
            .flat_map(|p| p.eigenvalues.iter().map(|e| e[0].abs()))
            .fold(f64::INFINITY, f64::min);
        Ok(Basin {
            index,
            target: target.x.clone(),
            radius: BASIN_RADIUS * scale,
            horizon: 50.0 / slowest,
        })
    }

    /// Whether the autonomous flow from `x0` ends within the radius of the target.
    fn contains(&self, system: &dyn System, x0: &[f64]) -> Result<bool> {
        let end = crate::recovery::system::trajectory(system, x0, &[0.0, self.horizon])?;
        let d2: f64 = end[1]
            .iter()
            .zip(&self.target)
            .map(|(p, q)| (p - q).powi(2))
            .sum();
        Ok(d2.sqrt() < self.radius)
    }
}

/// Trial `k`: its states `steps x dim` and inputs `steps x n_inputs` (row-major, row = sample).
fn simulate_trial(
    system: &dyn System,
    spec: &Spec,
    k: usize,
    condition: usize,
    init: &Init,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let t = &spec.trials;
    let (dim, n_in) = (system.dim(), system.n_inputs());
    let mut rng = crate::random::rng(spec.seed, STREAM_TRIAL + k as u64);
    let draw = |rng: &mut rand::rngs::ChaCha8Rng| -> Vec<f64> {
        init.lo
            .iter()
            .zip(init.hi)
            .map(|(a, b)| a + (b - a) * rng.random::<f64>())
            .collect()
    };
    let mut x: Vec<f64> = match (system.fixed_init(condition), init.basin) {
        (Some(x), _) => x,
        (None, None) => draw(&mut rng),
        (None, Some(basin)) => {
            let mut accepted = None;
            for _ in 0..BASIN_DRAWS {
                let x = draw(&mut rng);
                if basin.contains(system, &x)? {
                    accepted = Some(x);
                    break;
                }
            }
            accepted.ok_or_else(|| Error::Config {
                file: "<spec>".into(),
                key: "trials.basin".into(),
                message: format!(
                    "trial {k}: none of {BASIN_DRAWS} initial states drawn from the box flows to \
                     stable fixed point {} at {:?}; widen trials.init_low / init_high to cover \
                     its basin, or pick another basin",
                    basin.index, basin.target
                ),
            })?
        }
    };
    let u = system.inputs(condition, t.steps, t.dt, &mut rng);
    let mut states = Vec::with_capacity(t.steps * dim);
    let mut inputs = Vec::with_capacity(t.steps * n_in);
    let mut stepper = Stepper::new(system, spec);
    if t.burn_in > 0 {
        // Zero input; process noise from the burn-in's own stream (the trial's inputs and
        // recorded noise stay those of burn_in = 0).
        let mut burn_rng = crate::random::rng(spec.seed, STREAM_BURN_IN + k as u64);
        let zero = vec![0.0; n_in];
        for s in 0..t.burn_in {
            stepper.advance(&mut x, &zero, &mut burn_rng)?;
            if x.iter().any(|v| !v.is_finite()) {
                return Err(Error::invalid(
                    "trials.burn_in",
                    format!(
                        "trial {k} diverged at burn-in sample {s}; lower trials.dt, \
                         trials.process_noise or trials.burn_in, or raise trials.substeps"
                    ),
                ));
            }
        }
    }
    let mut uk = vec![0.0; n_in];
    for s in 0..t.steps {
        for (j, v) in uk.iter_mut().enumerate() {
            *v = u.get(s, j);
        }
        states.extend_from_slice(&x);
        inputs.extend_from_slice(&uk);
        if s + 1 == t.steps {
            break;
        }
        stepper.advance(&mut x, &uk, &mut rng)?;
        if x.iter().any(|v| !v.is_finite()) {
            return Err(Error::invalid(
                "trials",
                format!(
                    "trial {k} diverged at sample {s}; lower trials.dt or trials.process_noise, \
                     or raise trials.substeps"
                ),
            ));
        }
    }
    Ok((states, inputs))
}

/// One sample interval `dt` of a trial: a map step (discrete systems), `substeps`
/// Euler-Maruyama steps (process noise > 0) or adaptive Dormand-Prince 5(4) (rtol 1e-8), the
/// input held constant.
struct Stepper<'a> {
    system: &'a dyn System,
    spec: &'a Spec,
    method: Method,
    opts: Options,
    ws: Workspace,
    f: Vec<f64>,
}

impl<'a> Stepper<'a> {
    fn new(system: &'a dyn System, spec: &'a Spec) -> Self {
        let dim = system.dim();
        Stepper {
            system,
            spec,
            method: Method::parse("dopri5").expect("built-in method"),
            opts: Options {
                rtol: 1e-8,
                atol: integrate::Atol::Scalar(1e-10),
                ..Options::default()
            },
            ws: Workspace::new(dim),
            f: vec![0.0; dim],
        }
    }

    /// Advance `x` by one sample under input `uk`, drawing process noise from `rng`.
    fn advance(
        &mut self,
        x: &mut Vec<f64>,
        uk: &[f64],
        rng: &mut rand::rngs::ChaCha8Rng,
    ) -> Result<()> {
        let t = &self.spec.trials;
        let system = self.system;
        let f = &mut self.f;
        if system.time() == TimeKind::Discrete {
            // One map step per sample, with process noise sigma sqrt(dt) xi.
            system.field(x, uk, f);
            for (xi, fi) in x.iter_mut().zip(f.iter()) {
                let z: f64 = if t.process_noise > 0.0 {
                    rng.sample(StandardNormal)
                } else {
                    0.0
                };
                *xi = fi + t.process_noise * t.dt.sqrt() * z;
            }
        } else if t.process_noise > 0.0 {
            // Euler-Maruyama: x += f(x, u) h + sigma sqrt(h) xi.
            let h = t.dt / t.substeps as f64;
            for _ in 0..t.substeps {
                system.field(x, uk, f);
                for (xi, fi) in x.iter_mut().zip(f.iter()) {
                    let z: f64 = rng.sample(StandardNormal);
                    *xi += fi * h + t.process_noise * h.sqrt() * z;
                }
            }
        } else {
            let sol = integrate::solve(
                &self.method,
                &mut Driven { system, u: uk },
                &Ivp::new(0.0, x, t.dt),
                &self.opts,
                &mut self.ws,
                &mut Output::end(),
            )?;
            *x = sol.y_end;
        }
        Ok(())
    }
}

/// Bin means of per-trial `steps x width` row-major series: `[trials, steps / bin, width]`.
fn bin_means(series: &[&Vec<f64>], steps: usize, width: usize, bin: usize) -> Array3 {
    let bins = steps / bin;
    let mut data = Vec::with_capacity(series.len() * bins * width);
    for s in series {
        for b in 0..bins {
            for j in 0..width {
                let sum: f64 = (0..bin).map(|q| s[(b * bin + q) * width + j]).sum();
                data.push(sum / bin as f64);
            }
        }
    }
    Array3 {
        shape: [series.len(), bins, width],
        data,
    }
}

/// Seeded split of `trials` trials; the held-out neurons are the last ones.
fn split(spec: &Spec, trials: usize, neurons: usize) -> Splits {
    let mut order: Vec<usize> = (0..trials).collect();
    order.shuffle(&mut crate::random::rng(spec.seed, STREAM_SPLIT));
    let n_train = ((spec.split.train * trials as f64).round() as usize).clamp(1, trials);
    let n_val = ((spec.split.validation * trials as f64).round() as usize).min(trials - n_train);
    let sorted = |mut v: Vec<usize>| {
        v.sort_unstable();
        v
    };
    let h = spec.split.held_out;
    Splits {
        train: sorted(order[..n_train].to_vec()),
        validation: sorted(order[n_train..n_train + n_val].to_vec()),
        test: sorted(order[n_train + n_val..].to_vec()),
        held_in_neurons: (0..neurons - h).collect(),
        held_out_neurons: (neurons - h..neurons).collect(),
    }
}

impl Dataset {
    /// Write the dataset folder `dir` (created if missing): the data files for the method and
    /// `truth/` for the scorer. Every file is written atomically.
    pub fn write(&self, dir: &Path) -> Result<Vec<String>> {
        let truth_dir = dir.join("truth");
        std::fs::create_dir_all(&truth_dir).map_err(|e| Error::io(&truth_dir, e))?;
        npy::write_array3(&dir.join("observations.npy"), &self.observations)?;
        npy::write_array3(&dir.join("inputs.npy"), &self.inputs)?;
        npy::write_array3(&truth_dir.join("latents.npy"), &self.latents)?;
        npy::write_array3(&truth_dir.join("rates.npy"), &self.rates)?;
        let json = |v: &dyn erased::Json| v.to_json();
        npy::write_atomic(
            &truth_dir.join("attractors.json"),
            json(&self.truth).as_bytes(),
        )?;
        npy::write_atomic(
            &truth_dir.join("readout.json"),
            json(&self.readout).as_bytes(),
        )?;
        npy::write_atomic(&dir.join("dataset.json"), json(&self.meta).as_bytes())?;
        Ok(vec![
            "observations.npy".into(),
            "inputs.npy".into(),
            "dataset.json".into(),
            "truth/latents.npy".into(),
            "truth/rates.npy".into(),
            "truth/attractors.json".into(),
            "truth/readout.json".into(),
        ])
    }

    /// Read a dataset folder written by `learndyn recovery data` (its `manifest.json` is
    /// written last, after [`Dataset::write`]); errors name the missing or inconsistent file.
    pub fn read(dir: &Path) -> Result<Dataset> {
        if !dir.join("manifest.json").is_file() {
            return Err(Error::invalid(
                dir.display().to_string(),
                "not a complete dataset (no manifest.json, which `learndyn recovery data` \
                 writes last): rerun `learndyn recovery data SPEC --out DIR`",
            ));
        }
        let meta: Meta = read_json(&dir.join("dataset.json"))?;
        let truth_dir = dir.join("truth");
        let d = Dataset {
            observations: npy::read_array3(&dir.join("observations.npy"))?,
            inputs: npy::read_array3(&dir.join("inputs.npy"))?,
            latents: npy::read_array3(&truth_dir.join("latents.npy"))?,
            rates: npy::read_array3(&truth_dir.join("rates.npy"))?,
            truth: read_json(&truth_dir.join("attractors.json"))?,
            readout: read_json(&truth_dir.join("readout.json"))?,
            meta,
        };
        let (tr, tm, n) = (d.meta.trials, d.meta.time, d.meta.neurons);
        for (name, a, w) in [
            ("observations.npy", &d.observations, n),
            ("truth/rates.npy", &d.rates, n),
            ("truth/latents.npy", &d.latents, d.truth.dim),
        ] {
            if a.shape != [tr, tm, w] {
                return Err(Error::Shape {
                    what: dir.join(name).display().to_string(),
                    expected: format!("[{tr}, {tm}, {w}] (from dataset.json)"),
                    got: format!("{:?}", a.shape),
                });
            }
        }
        Ok(d)
    }
}

/// Read and parse a JSON file (errors name the file).
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| {
        Error::invalid(
            path.display().to_string(),
            format!("not the expected JSON ({e})"),
        )
    })
}

mod erased {
    /// Pretty JSON of any serializable value.
    pub trait Json {
        fn to_json(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn to_json(&self) -> String {
            serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
        }
    }
}
