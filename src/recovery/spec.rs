//! The dataset spec of `learndyn recovery data SPEC` (a TOML file; docs/recovery.md):
//! `seed`, `[system]` (kind and its parameters), `[trials]`, `[observe]`, `[split]`.
//! Unknown keys are errors.

use crate::error::{Error, Result};
use crate::recovery::system::SystemSpec;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The whole spec.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Master seed: initial states, inputs, process and observation noise, readouts and
    /// splits each draw from their own stream of it.
    #[serde(default)]
    pub seed: u64,
    /// The ground-truth system.
    pub system: SystemSpec,
    /// Trials: count, length, sampling.
    #[serde(default)]
    pub trials: Trials,
    /// How the latent states are seen.
    #[serde(default)]
    pub observe: Observe,
    /// Train / validation / test trials and held-out neurons.
    #[serde(default)]
    pub split: Split,
}

/// How trials are simulated.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Trials {
    /// Number of trials (they cycle through the system's input conditions).
    pub count: usize,
    /// Samples per trial (the first is the initial state).
    pub steps: usize,
    /// Time between samples (system time units).
    pub dt: f64,
    /// Process-noise intensity sigma: `dx = f dt + sigma dW`. With sigma > 0 the trials are
    /// integrated by Euler-Maruyama with `substeps` steps per sample; with sigma = 0 by DOP853
    /// (rtol 1e-8) over each sample interval, the input held constant.
    pub process_noise: f64,
    /// Euler-Maruyama steps per sample interval (process_noise > 0).
    pub substeps: usize,
    /// Initial states: drawn uniformly from this box `[low, high]` per dimension, or from the
    /// system's default box when absent.
    pub init_low: Option<Vec<f64>>,
    /// Upper corner of the initial-state box (with `init_low`).
    pub init_high: Option<Vec<f64>>,
    /// Keep only initial states in one basin: the index of a stable fixed point of the truth
    /// (counting only the stable points of `truth/attractors.json`'s `fixed_points`, in that
    /// order). A draw from the box is rejected unless the noise-free autonomous flow (zero
    /// input) from it comes within [`BASIN_RADIUS`] x the smallest distance between true
    /// fixed points of that point; at most [`BASIN_DRAWS`] draws per trial. Absent: every
    /// draw is kept.
    pub basin: Option<usize>,
    /// Samples simulated before the recorded trial starts (default 0: the trial starts at the
    /// drawn initial state). The system runs `burn_in` sample intervals of `dt` from the
    /// drawn (or `basin`-accepted, or system-fixed) initial state with **zero input** and the
    /// same process noise and integrator as the trial (the noise from a stream of its own, so
    /// the trial's inputs and recorded noise do not depend on `burn_in`); the recorded trial of
    /// `steps` samples starts where it ends. Nothing of the burn-in is written: latents,
    /// rates, observations and inputs are the recorded part only. Use it to start trials on
    /// the attractor, as recordings during ongoing activity do: near it, off-attractor
    /// transients decay like `exp(-lambda t)` for the slowest nonzero decay rate lambda (from
    /// far off, possibly slower at first).
    #[serde(deserialize_with = "burn_in_samples", skip_serializing_if = "is_zero")]
    pub burn_in: usize,
}

/// Written only when nonzero, so that specs without it hash (and serialize) as before.
fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// `trials.burn_in`: a whole number of samples >= 0; any other value is an error whose message
/// starts with the key (which [`toml_key`] reads back, since TOML type errors carry no key).
fn burn_in_samples<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<usize, D::Error> {
    use serde::de::Error as _;
    let v = serde_json::Value::deserialize(d)?;
    v.as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| {
            D::Error::custom(format!(
                "{BURN_IN_KEY}: must be a whole number of samples >= 0 (0: no burn-in), got {v}"
            ))
        })
}

const BURN_IN_KEY: &str = "trials.burn_in";

/// Draws per trial before `trials.basin` gives up (the error names the field).
pub const BASIN_DRAWS: usize = 1000;

/// Convergence radius of `trials.basin`, as a fraction of the smallest distance between two
/// true fixed points.
pub const BASIN_RADIUS: f64 = 0.05;

impl Default for Trials {
    fn default() -> Self {
        Trials {
            count: 200,
            steps: 100,
            dt: 0.1,
            process_noise: 0.0,
            substeps: 10,
            init_low: None,
            init_high: None,
            basin: None,
            burn_in: 0,
        }
    }
}

/// The map from latent states to neurons.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Mixing {
    /// Each neuron is one latent unit (random units, CtDB style; repeats once every unit is
    /// used): partial observation when `neurons < dim`.
    Subset,
    /// A seeded Gaussian matrix `C` (`neurons x dim`, entries N(0, 1/dim)) plus offset 0.
    Linear,
    /// `tanh` of a linear map (a nonlinear embedding; injective only if `neurons >= dim`).
    Nonlinear,
}

/// Observation noise.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Noise {
    /// Observations are the noise-free activity.
    None,
    /// Additive Gaussian noise of standard deviation `noise_std`.
    Gaussian,
    /// Poisson counts of the rates.
    Poisson,
    /// Negative-binomial counts: a Gamma(shape = dispersion, mean = rate) mixed Poisson
    /// (variance `rate + rate^2 / dispersion`).
    NegativeBinomial,
}

/// Link from activity to rates (spiking noise).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Link {
    /// `rate = exp(a)`.
    Exp,
    /// `rate = ln(1 + exp(a))`.
    Softplus,
}

/// Observation model.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Observe {
    /// subset, linear or nonlinear.
    pub mixing: Mixing,
    /// Number of neurons (>= 1).
    pub neurons: usize,
    /// none, gaussian, poisson or negative_binomial.
    pub noise: Noise,
    /// Standard deviation of Gaussian noise.
    pub noise_std: f64,
    /// Link for spiking noise.
    pub link: Link,
    /// Spiking noise (CtDB): activity is standardized with its overall mean and standard
    /// deviation, divided by `fr_scaling`, and shifted by `log_rate_offset` before the link.
    pub fr_scaling: f64,
    /// Offset added before the link (log of the baseline rate per bin for `exp`).
    pub log_rate_offset: f64,
    /// Gamma shape of the negative binomial (> 0).
    pub dispersion: f64,
    /// Samples summed (counts) or averaged (Gaussian / none) per time bin.
    pub bin: usize,
}

impl Default for Observe {
    fn default() -> Self {
        Observe {
            mixing: Mixing::Linear,
            neurons: 20,
            noise: Noise::Gaussian,
            noise_std: 0.05,
            link: Link::Exp,
            fr_scaling: 2.0,
            log_rate_offset: 0.0,
            dispersion: 1.0,
            bin: 1,
        }
    }
}

/// Splits of trials and neurons.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Split {
    /// Fraction of trials for training.
    pub train: f64,
    /// Fraction of trials for validation (the rest is test).
    pub validation: f64,
    /// Number of held-out neurons (the last ones after a seeded shuffle is *not* done: the
    /// held-out neurons are the last `held_out` columns, as in NLB/CtDB).
    pub held_out: usize,
}

impl Default for Split {
    fn default() -> Self {
        Split {
            train: 0.7,
            validation: 0.15,
            held_out: 0,
        }
    }
}

fn bad(key: &str, message: impl Into<String>) -> Error {
    Error::Config {
        file: "<spec>".into(),
        key: key.into(),
        message: message.into(),
    }
}

impl Spec {
    /// Parse a spec from TOML text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Spec> {
        let spec: Spec = toml::from_str(text).map_err(|e| Error::Config {
            file: file.into(),
            key: toml_key(&e),
            message: toml_message(&e),
        })?;
        spec.validate().map_err(|e| match e {
            Error::Config { key, message, .. } => Error::Config {
                file: file.into(),
                key,
                message,
            },
            other => other,
        })?;
        Ok(spec)
    }

    /// Read and parse the spec at `path`.
    pub fn load(path: &Path) -> Result<Spec> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Spec::parse(&text, &path.display().to_string())
    }

    /// Check every value (errors name the key and the allowed range).
    pub fn validate(&self) -> Result<()> {
        let t = &self.trials;
        if t.count == 0 {
            return Err(bad("trials.count", "must be >= 1"));
        }
        if t.steps < 2 {
            return Err(bad("trials.steps", "must be >= 2"));
        }
        if !(t.dt.is_finite() && t.dt > 0.0) {
            return Err(bad("trials.dt", "must be > 0"));
        }
        if !(t.process_noise.is_finite() && t.process_noise >= 0.0) {
            return Err(bad("trials.process_noise", "must be >= 0"));
        }
        if t.substeps == 0 {
            return Err(bad("trials.substeps", "must be >= 1"));
        }
        if t.init_low.is_some() != t.init_high.is_some() {
            return Err(bad(
                "trials.init_low",
                "give both init_low and init_high, or neither",
            ));
        }
        if let Some(k) = t.basin {
            let truth = self.system.build()?.truth()?;
            let stable = truth.fixed_points.iter().filter(|p| p.stable).count();
            if stable == 0 {
                return Err(bad(
                    "trials.basin",
                    "the truth has no stable fixed point, so no basin to keep; remove trials.basin",
                ));
            }
            if k >= stable {
                return Err(bad(
                    "trials.basin",
                    format!(
                        "{k} is not the index of a stable fixed point of the truth: it has \
                         {stable} (valid: 0 ..= {})",
                        stable - 1
                    ),
                ));
            }
        }
        let o = &self.observe;
        if o.neurons == 0 {
            return Err(bad("observe.neurons", "must be >= 1"));
        }
        if !(o.noise_std.is_finite() && o.noise_std >= 0.0) {
            return Err(bad("observe.noise_std", "must be >= 0"));
        }
        if !(o.fr_scaling.is_finite() && o.fr_scaling > 0.0) {
            return Err(bad("observe.fr_scaling", "must be > 0"));
        }
        if !o.log_rate_offset.is_finite() {
            return Err(bad("observe.log_rate_offset", "must be finite"));
        }
        if !(o.dispersion.is_finite() && o.dispersion > 0.0) {
            return Err(bad("observe.dispersion", "must be > 0"));
        }
        if o.bin == 0 || o.bin > t.steps {
            return Err(bad("observe.bin", "must be 1 ..= trials.steps"));
        }
        let s = &self.split;
        if !(s.train > 0.0 && s.validation >= 0.0 && s.train + s.validation <= 1.0) {
            return Err(bad(
                "split.train",
                "need train > 0, validation >= 0 and train + validation <= 1",
            ));
        }
        if s.held_out >= o.neurons {
            return Err(bad(
                "split.held_out",
                format!("must be < observe.neurons = {}", o.neurons),
            ));
        }
        Ok(())
    }

    /// The spec as canonical TOML (what `dataset.json` hashes).
    pub fn canonical(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }
}

/// `section.key` of a TOML error, from its span when serde does not say.
fn toml_key(e: &toml::de::Error) -> String {
    let m = e.message();
    if m.starts_with(&format!("{BURN_IN_KEY}: ")) {
        return BURN_IN_KEY.into();
    }
    if let Some(rest) = m.split("unknown field `").nth(1) {
        return rest.split('`').next().unwrap_or("").to_string();
    }
    "spec".into()
}

/// The message of a TOML error, without the key prefix of learndyn's own field checks.
fn toml_message(e: &toml::de::Error) -> String {
    let m = e.message();
    m.strip_prefix(&format!("{BURN_IN_KEY}: "))
        .unwrap_or(m)
        .to_string()
}
