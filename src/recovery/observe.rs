//! Observation models (theory/recovery.md RO-1 ... RO-4): latent states -> neurons' activity
//! (axis-aligned subset, random linear mixing, nonlinear embedding) -> observations
//! (noise-free, Gaussian, Poisson or negative-binomial counts through an exp or softplus
//! link with CtDB's standardization and `fr_scaling`), binned in time.

use crate::error::Result;
use crate::linalg::Matrix;
use crate::recovery::spec::{Link, Mixing, Noise, Observe};
use rand::rngs::ChaCha8Rng;
use rand::seq::SliceRandom;
use rand::RngExt;
use rand_distr::{Distribution, Gamma, Poisson, StandardNormal};
use serde::{Deserialize, Serialize};

/// The fixed part of an observation model, drawn once per dataset (`truth/readout.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Readout {
    /// subset, linear or nonlinear.
    pub mixing: Mixing,
    /// Row `i` maps the latent state to neuron `i`'s activity before any nonlinearity:
    /// `neurons x dim`, row-major lists (a one-hot row for subset).
    pub matrix: Vec<Vec<f64>>,
    /// For subset: the latent unit each neuron reads.
    pub units: Option<Vec<usize>>,
    /// Per-dimension mean and standard deviation of the latents used to standardize them
    /// before a nonlinear embedding (RO-2), else empty.
    pub latent_mean: Vec<f64>,
    /// See `latent_mean`.
    pub latent_std: Vec<f64>,
    /// Overall mean and standard deviation of the activity used by the spiking link (RO-3),
    /// 0 and 1 otherwise.
    pub activity_mean: f64,
    /// See `activity_mean`.
    pub activity_std: f64,
    /// Whether `activity_mean` / `activity_std` were measured (spiking noise).
    #[serde(default)]
    pub activity_fitted: bool,
}

/// Draw the readout for `dim` latent dimensions (RO-1).
pub fn draw_readout(o: &Observe, dim: usize, rng: &mut ChaCha8Rng) -> Readout {
    let n = o.neurons;
    let (matrix, units) = match o.mixing {
        Mixing::Subset => {
            // CtDB: concatenated random permutations of the units until there are enough.
            let mut units = Vec::with_capacity(n);
            while units.len() < n {
                let mut p: Vec<usize> = (0..dim).collect();
                p.shuffle(rng);
                units.extend(p);
            }
            units.truncate(n);
            let m = units
                .iter()
                .map(|&u| (0..dim).map(|j| f64::from(u8::from(j == u))).collect())
                .collect();
            (m, Some(units))
        }
        Mixing::Linear | Mixing::Nonlinear => {
            let s = 1.0 / (dim as f64).sqrt();
            let m = (0..n)
                .map(|_| {
                    (0..dim)
                        .map(|_| {
                            let z: f64 = rng.sample(StandardNormal);
                            s * z
                        })
                        .collect()
                })
                .collect();
            (m, None)
        }
    };
    Readout {
        mixing: o.mixing,
        matrix,
        units,
        latent_mean: Vec::new(),
        latent_std: Vec::new(),
        activity_mean: 0.0,
        activity_std: 1.0,
        activity_fitted: false,
    }
}

/// Noise-free activity of every sample: `latents` is `samples x dim` (rows = samples), the
/// result `samples x neurons` (RO-1, RO-2). Fills the readout's latent standardization on
/// first use for the nonlinear embedding.
pub fn activity(readout: &mut Readout, latents: &Matrix) -> Matrix {
    let (m, dim) = (latents.nrows(), latents.ncols());
    let n = readout.matrix.len();
    if readout.mixing == Mixing::Nonlinear && readout.latent_mean.is_empty() {
        let (mean, std) = column_stats(latents);
        readout.latent_mean = mean;
        readout.latent_std = std;
    }
    Matrix::from_fn(m, n, |s, i| {
        let row = &readout.matrix[i];
        match readout.mixing {
            Mixing::Nonlinear => (0..dim)
                .map(|j| {
                    row[j] * (latents.get(s, j) - readout.latent_mean[j]) / readout.latent_std[j]
                })
                .sum::<f64>()
                .tanh(),
            _ => (0..dim).map(|j| row[j] * latents.get(s, j)).sum(),
        }
    })
}

/// Per-column mean and standard deviation (1 where a column is constant).
pub fn column_stats(x: &Matrix) -> (Vec<f64>, Vec<f64>) {
    let m = x.nrows() as f64;
    let mean: Vec<f64> = (0..x.ncols())
        .map(|j| (0..x.nrows()).map(|i| x.get(i, j)).sum::<f64>() / m)
        .collect();
    let std = (0..x.ncols())
        .map(|j| {
            let v = (0..x.nrows())
                .map(|i| (x.get(i, j) - mean[j]).powi(2))
                .sum::<f64>()
                / m;
            if v > 0.0 {
                v.sqrt()
            } else {
                1.0
            }
        })
        .collect();
    (mean, std)
}

/// The observation model's rates (spiking) or noise-free means (Gaussian / none) of the
/// activity `samples x neurons` (RO-3): for spiking noise
/// `rate = link((a - mean_all) / (fr_scaling std_all) + log_rate_offset)` per sample, with the
/// overall mean and standard deviation stored in the readout on first use.
pub fn rates(o: &Observe, readout: &mut Readout, activity: &Matrix) -> Matrix {
    if !matches!(o.noise, Noise::Poisson | Noise::NegativeBinomial) {
        return activity.clone();
    }
    if !readout.activity_fitted {
        let v = activity.as_slice();
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / v.len() as f64;
        readout.activity_mean = mean;
        readout.activity_std = if var > 0.0 { var.sqrt() } else { 1.0 };
        readout.activity_fitted = true;
    }
    let (mu, sd) = (readout.activity_mean, readout.activity_std);
    let mut r = activity.clone();
    for a in r.as_mut_slice() {
        let z = (*a - mu) / (o.fr_scaling * sd) + o.log_rate_offset;
        *a = match o.link {
            Link::Exp => z.exp(),
            Link::Softplus => softplus(z),
        };
    }
    r
}

/// `ln(1 + e^z)` without overflow.
pub fn softplus(z: f64) -> f64 {
    if z > 30.0 {
        z
    } else {
        z.exp().ln_1p()
    }
}

/// Draw one observation of mean `rate` (RO-3, RO-4).
pub fn sample(o: &Observe, rate: f64, rng: &mut ChaCha8Rng) -> Result<f64> {
    Ok(match o.noise {
        Noise::None => rate,
        Noise::Gaussian => {
            let z: f64 = rng.sample(StandardNormal);
            rate + o.noise_std * z
        }
        Noise::Poisson => poisson(rate, rng),
        Noise::NegativeBinomial => {
            // Gamma(shape k, scale rate/k) has mean `rate` and variance rate^2 / k.
            let g = Gamma::new(o.dispersion, rate / o.dispersion)
                .map_err(|e| crate::error::Error::invalid("observe.dispersion", e.to_string()))?;
            poisson(g.sample(rng), rng)
        }
    })
}

fn poisson(rate: f64, rng: &mut ChaCha8Rng) -> f64 {
    if rate <= 0.0 {
        return 0.0;
    }
    Poisson::new(rate).map_or(0.0, |p| p.sample(rng))
}
