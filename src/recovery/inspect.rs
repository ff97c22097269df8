//! What a user does with a fitted model (issue 12 item 2): its fixed points in neuron space and
//! in the top principal components of the data, classified by stability, with their slowest
//! timescales, and the model's R^2 on held-out trials: `learndyn recovery inspect`.
//!
//! Works for any model folder the scorer reads (no ground truth needed): a network folder
//! (fixed points by learndyn's finder, neuron-space points through its readout) or a folder
//! with `latents.npy`, `rates.npy` and `fixed_points.json` (no neuron-space points then, as no
//! readout is known).
//!
//! Classification from each Jacobian's continuous-time eigenvalues `r` (discrete maps:
//! `r = ln(mu) / dt`): a direction is marginal when `|Re r| < rate_tol`, with
//! `rate_tol = 1 / (T dt)` by default (a mode slower than one trial cannot be told from a
//! marginal one by the data), unstable when `Re r >= rate_tol`. A point is `stable` (no
//! unstable or marginal direction), `marginal` (no unstable one), `saddle` (some but not all
//! unstable) or `unstable`. The slowest timescale is `1 / |Re r|` of the most persistent
//! direction (infinite when it is exactly 0).

use crate::error::{Error, Result};
use crate::linalg::{self, Matrix};
use crate::model::state_map::TimeKind;
use crate::recovery::dataset::Dataset;
use crate::recovery::network::Network;
use crate::recovery::score::Fitted;
use num_complex::Complex64;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Principal components of the data the points are shown in.
pub const N_PCS: usize = 3;

/// A trajectory on the principal axes: one `[pc1, pc2, pc3]` per bin.
pub type Path3 = Vec<Vec<f64>>;

/// One fixed point of the model.
#[derive(Debug, Clone, Serialize)]
pub struct InspectedPoint {
    /// `stable`, `marginal`, `saddle` or `unstable`.
    pub kind: String,
    /// Unstable directions.
    pub n_unstable: usize,
    /// Marginal directions.
    pub n_marginal: usize,
    /// The point in the model's latent coordinates (length `k`).
    pub latent: Vec<f64>,
    /// Its predicted activity of every neuron (`link(C h + d)`; `None` without a readout).
    pub neurons: Option<Vec<f64>>,
    /// `neurons` projected on the data's top principal axes ([`N_PCS`] of them).
    pub pcs: Option<Vec<f64>>,
    /// Continuous-time eigenvalues `[re, im]` per time unit, most persistent first.
    pub eigenvalues: Vec<[f64; 2]>,
    /// `1 / |Re r|` of the most persistent direction, time units.
    pub slowest_timescale: f64,
    /// Whether the point lies within the range of the model's latents on the data (per
    /// latent coordinate, widened by 10% of that range on each side). Points outside (e.g.
    /// in a GRU's saturated region, where every state barely moves) are listed but not counted.
    pub in_data_domain: bool,
}

/// `inspect.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    /// The model folder.
    pub model: String,
    /// Marginal-rate tolerance used, per time unit.
    pub rate_tol: f64,
    /// Points by kind, within the data's domain.
    pub counts: BTreeMap<String, usize>,
    /// Points outside the data's domain (not in `counts`).
    pub outside_data_domain: usize,
    /// The points, stable ones first, then by slowest timescale (longest first).
    pub points: Vec<InspectedPoint>,
    /// Fraction of the data's variance along each principal axis shown.
    pub pc_explained: Vec<f64>,
    /// The principal axes (neurons x [`N_PCS`], column `j` the `j`-th axis) and mean.
    #[serde(skip)]
    pub axes: (Vec<f64>, Matrix),
    /// R^2 of the model's predicted activity on held-out (validation + test) trials, pooled
    /// over neurons around each neuron's mean (`None` without predictions or such trials).
    pub r2_heldout: Option<f64>,
    /// For the figure: (observed, predicted) trajectories of a few held-out (else training)
    /// trials on the principal axes, one `[pc1, pc2, pc3]` per bin.
    #[serde(skip)]
    pub trajectories: Vec<(Path3, Option<Path3>)>,
}

/// Inspect the model folder `dir` fitted to `d`; `rate_tol` overrides the default `1/(T dt)`.
pub fn inspect(d: &Dataset, dir: &Path, rate_tol: Option<f64>) -> Result<Inspection> {
    let f = Fitted::read(dir, d)?;
    let net = if dir.join("network.json").exists() {
        Some(Network::load(dir)?)
    } else {
        None
    };
    let tol = rate_tol.unwrap_or(1.0 / (d.meta.time as f64 * d.meta.dt));
    if !(tol.is_finite() && tol > 0.0) {
        return Err(Error::invalid("--rate-tol", "must be a number > 0"));
    }
    let (mean, axes, explained) = data_axes(d)?;
    let mut points = Vec::new();
    if let Some(fps) = &f.fixed_points {
        let dt = fps.dt.unwrap_or(d.meta.dt);
        for p in &fps.points {
            let k = p.x.len();
            let j = Matrix::from_fn(k, k, |r, c| p.jacobian[r][c]);
            let rates: Vec<Complex64> = linalg::eigenvalues(&j)?
                .into_iter()
                .map(|mu| match fps.time {
                    TimeKind::Continuous => mu,
                    TimeKind::Discrete => mu.ln() / dt,
                })
                .collect();
            let neurons = net
                .as_ref()
                .map(|n| n.rates(&p.x))
                .filter(|v| !v.is_empty());
            let pcs = neurons.as_ref().map(|y| project(y, &mean, &axes));
            points.push(classify(p.x.clone(), rates, tol, neurons, pcs));
        }
    }
    let (lo, hi) = latent_box(&f.latents);
    for p in &mut points {
        p.in_data_domain = p
            .latent
            .iter()
            .enumerate()
            .all(|(j, x)| j < lo.len() && *x >= lo[j] && *x <= hi[j]);
    }
    points.sort_by(|a, b| {
        (!a.in_data_domain)
            .cmp(&!b.in_data_domain)
            .then((a.kind != "stable").cmp(&(b.kind != "stable")))
            .then(b.slowest_timescale.total_cmp(&a.slowest_timescale))
    });
    let mut counts = BTreeMap::new();
    for k in ["stable", "marginal", "saddle", "unstable"] {
        let n = points
            .iter()
            .filter(|p| p.in_data_domain && p.kind == k)
            .count();
        counts.insert(k.to_string(), n);
    }
    let outside_data_domain = points.iter().filter(|p| !p.in_data_domain).count();
    let sp = &d.meta.splits;
    let shown: Vec<usize> = sp
        .test
        .iter()
        .chain(&sp.validation)
        .chain(&sp.train)
        .take(6)
        .copied()
        .collect();
    let [_, tm, n] = d.observations.shape;
    let along = |a: &crate::npy::Array3, t: usize| -> Vec<Vec<f64>> {
        (0..tm)
            .map(|s| {
                let y: Vec<f64> = (0..n)
                    .map(|j| a.get(t, s, j))
                    .map(|v| if v.is_finite() { v } else { 0.0 })
                    .collect();
                project(&y, &mean, &axes)
            })
            .collect()
    };
    let trajectories = shown
        .iter()
        .map(|&t| {
            (
                along(&d.observations, t),
                f.rates.as_ref().map(|r| along(r, t)),
            )
        })
        .collect();
    Ok(Inspection {
        trajectories,
        model: dir.display().to_string(),
        rate_tol: tol,
        counts,
        outside_data_domain,
        points,
        pc_explained: explained,
        axes: (mean, axes),
        r2_heldout: heldout_r2(d, &f),
    })
}

fn classify(
    x: Vec<f64>,
    mut rates: Vec<Complex64>,
    tol: f64,
    neurons: Option<Vec<f64>>,
    pcs: Option<Vec<f64>>,
) -> InspectedPoint {
    rates.sort_by(|a, b| b.re.total_cmp(&a.re).then(b.im.total_cmp(&a.im)));
    let n_unstable = rates.iter().filter(|z| z.re >= tol).count();
    let n_marginal = rates.iter().filter(|z| z.re.abs() < tol).count();
    let kind = match (n_unstable, n_marginal) {
        (0, 0) => "stable",
        (0, _) => "marginal",
        (u, _) if u == rates.len() => "unstable",
        _ => "saddle",
    };
    // The most persistent direction: the smallest |Re r| (a marginal or the slowest decay).
    let slowest = rates
        .iter()
        .map(|z| z.re.abs())
        .fold(f64::INFINITY, f64::min);
    InspectedPoint {
        kind: kind.into(),
        n_unstable,
        n_marginal,
        latent: x,
        neurons,
        pcs,
        eigenvalues: rates.iter().map(|z| [z.re, z.im]).collect(),
        slowest_timescale: if slowest > 0.0 {
            1.0 / slowest
        } else {
            f64::INFINITY
        },
        in_data_domain: true,
    }
}

/// Per-coordinate range of the latents `[trials, time, k]`, widened by 10% on each side.
fn latent_box(l: &crate::npy::Array3) -> (Vec<f64>, Vec<f64>) {
    let k = l.shape[2];
    let (mut lo, mut hi) = (vec![f64::INFINITY; k], vec![f64::NEG_INFINITY; k]);
    for row in l.data.chunks(k.max(1)) {
        for (j, v) in row.iter().enumerate() {
            if v.is_finite() {
                lo[j] = lo[j].min(*v);
                hi[j] = hi[j].max(*v);
            }
        }
    }
    for j in 0..k {
        let w = 0.1 * (hi[j] - lo[j]).max(0.0);
        lo[j] -= w;
        hi[j] += w;
    }
    (lo, hi)
}

/// Mean, top principal axes (neurons x `N_PCS`) and explained fractions of the observations
/// (all trials, bins with every neuron observed).
fn data_axes(d: &Dataset) -> Result<(Vec<f64>, Matrix, Vec<f64>)> {
    let [tr, tm, n] = d.observations.shape;
    let rows: Vec<&[f64]> = d
        .observations
        .data
        .chunks(n)
        .take(tr * tm)
        .filter(|r| r.iter().all(|v| v.is_finite()))
        .collect();
    if rows.len() < 2 {
        return Err(Error::invalid(
            "dataset",
            "fewer than 2 fully observed bins: no principal axes to show the points in",
        ));
    }
    let m = rows.len() as f64;
    let mean: Vec<f64> = (0..n)
        .map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / m)
        .collect();
    let mut cov = Matrix::zeros(n, n);
    for r in &rows {
        for i in 0..n {
            let a = r[i] - mean[i];
            for j in 0..n {
                cov.set(i, j, cov.get(i, j) + a * (r[j] - mean[j]) / m);
            }
        }
    }
    let (vals, vecs) = linalg::sym_eig(cov.view())?;
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| vals[b].total_cmp(&vals[a]));
    let total: f64 = vals.iter().map(|v| v.max(0.0)).sum();
    let p = N_PCS.min(n);
    let axes = Matrix::from_fn(n, p, |i, c| vecs.get(i, order[c]));
    let explained = order[..p]
        .iter()
        .map(|&o| {
            if total > 0.0 {
                vals[o].max(0.0) / total
            } else {
                0.0
            }
        })
        .collect();
    Ok((mean, axes, explained))
}

/// Coordinates of `y` (one value per neuron) on the axes.
pub fn project(y: &[f64], mean: &[f64], axes: &Matrix) -> Vec<f64> {
    (0..axes.ncols())
        .map(|c| {
            y.iter()
                .zip(mean)
                .enumerate()
                .map(|(i, (a, m))| (a - m) * axes.get(i, c))
                .sum()
        })
        .collect()
}

/// Pooled R^2 of the predicted activity on validation + test trials.
fn heldout_r2(d: &Dataset, f: &Fitted) -> Option<f64> {
    let rates = f.rates.as_ref()?;
    let sp = &d.meta.splits;
    let trials: Vec<usize> = sp.validation.iter().chain(&sp.test).copied().collect();
    if trials.is_empty() {
        return None;
    }
    let [_, tm, n] = d.observations.shape;
    let (mut res, mut tot) = (0.0, 0.0);
    for j in 0..n {
        let obs: Vec<(f64, f64)> = trials
            .iter()
            .flat_map(|&t| (0..tm).map(move |s| (t, s)))
            .map(|(t, s)| (d.observations.get(t, s, j), rates.get(t, s, j)))
            .filter(|(y, r)| y.is_finite() && r.is_finite())
            .collect();
        if obs.is_empty() {
            continue;
        }
        let mu = obs.iter().map(|o| o.0).sum::<f64>() / obs.len() as f64;
        res += obs.iter().map(|(y, r)| (y - r).powi(2)).sum::<f64>();
        tot += obs.iter().map(|(y, _)| (y - mu).powi(2)).sum::<f64>();
    }
    (tot > 0.0).then(|| 1.0 - res / tot)
}

impl Inspection {
    /// The one-screen summary.
    pub fn summary(&self) -> String {
        let mut s = format!("model: {}\n", self.model);
        let c = |k: &str| self.counts.get(k).copied().unwrap_or(0);
        s += &format!(
            "fixed points in the data's domain: {} ({} stable, {} marginal, {} saddles, {} unstable; marginal = |rate| < {} per time unit)\n",
            self.points.len() - self.outside_data_domain,
            c("stable"),
            c("marginal"),
            c("saddle"),
            c("unstable"),
            sig(self.rate_tol)
        );
        if self.outside_data_domain > 0 {
            s += &format!(
                "  and {} more outside the range of the model's latents on the data (not counted)\n",
                self.outside_data_domain
            );
        }
        let inside = self.points.iter().filter(|p| p.in_data_domain);
        let mut taus: Vec<f64> = inside.map(|p| p.slowest_timescale).collect();
        taus.sort_by(|a, b| b.total_cmp(a));
        if !taus.is_empty() {
            let shown: Vec<String> = taus.iter().take(5).map(|&t| sig(t)).collect();
            s += &format!("slowest timescales (time units): {}\n", shown.join(", "));
        }
        for (i, p) in self.points.iter().take(12).enumerate() {
            let pcs = p.pcs.as_ref().map_or("n/a (no readout)".to_string(), |v| {
                v.iter()
                    .map(|x| format!("{x:+.3}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            });
            let out = if p.in_data_domain {
                ""
            } else {
                "  (outside the data)"
            };
            s += &format!(
                "  {i:>2} {:<9} tau {:>9}  PCs {pcs}{out}\n",
                p.kind,
                sig(p.slowest_timescale)
            );
        }
        if self.points.len() > 12 {
            s += &format!("  ... {} more in inspect.json\n", self.points.len() - 12);
        }
        let ex: Vec<String> = self
            .pc_explained
            .iter()
            .map(|v| format!("{:.1}%", 100.0 * v))
            .collect();
        s += &format!("data PCs explain {}\n", ex.join(", "));
        s += &match self.r2_heldout {
            Some(r) => format!("R^2 on held-out trials: {r:.4}\n"),
            None => "R^2 on held-out trials: n/a (no predictions or no held-out trials)\n".into(),
        };
        s
    }
}

/// Three significant digits.
fn sig(x: f64) -> String {
    if !x.is_finite() {
        return if x > 0.0 {
            "inf".into()
        } else {
            format!("{x}")
        };
    }
    if x != 0.0 && !(1e-3..1e4).contains(&x.abs()) {
        return format!("{x:.2e}");
    }
    let digits = (2 - x.abs().max(1e-300).log10().floor() as i32).max(0) as usize;
    format!("{x:.digits$}")
}
