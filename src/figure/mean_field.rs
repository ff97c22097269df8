//! The `mean_field` theory figure: stationary states of a rank-one RNN on a random bulk
//! (theory/mean_field.md MF-1..MF-6, check MF1) against finite networks settled on their fixed
//! points.
//!
//! ```toml
//! [mean_field]
//! sigma_m = 1.0                  # sd of m_i (check MF1: 1)
//! sigma_perp = 1.0               # n_i = sigma_mn m_i / sigma_m^2 + sigma_perp xi_i
//! g = [0.0, 0.5]                 # bulk strengths (< 1)
//! overlap_min = 0.5              # the theory curve: sigma_mn on a uniform grid
//! overlap_max = 3.0
//! overlap_points = 101
//! sim_overlaps = [0.6, 0.8, 1.2, 1.5, 2.0, 2.5, 3.0]   # finite networks at these sigma_mn
//! sim_units = 1000               # of N units
//! seeds = [0, 1, 2, 3, 4, 5, 6, 7]
//! finite_size_overlap = 2.0      # the finite-size sweep: sigma_mn
//! finite_size_units = [250, 500, 1000, 2000, 4000]
//! finite_size_seeds = [0, 1, 2, 3]
//! ```
//!
//! It writes three scan-style tables (`status` `ok`):
//! - `overlap.csv`: `point,replicate,status,g,sigma_mn,N,seed,kappa_theory,delta0_theory,
//!   kappa_sd_theory,kappa_sim,delta0_sim,steps`. Theory rows (`N`, `seed`, `steps` empty, the
//!   `*_sim` columns `nan`) on the grid, then one row per finite network (MF-2's `kappa`,
//!   `Delta_0 = x.x / N` of the state reached from `x = m`) with the theory at its `sigma_mn`.
//!   `kappa_sd_theory` is [`mf::kappa_sd`] at `N` (`nan` on the trivial branch and in theory
//!   rows).
//! - `finite_size.csv`: `point,replicate,status,g,sigma_mn,N,seed,kappa_theory,kappa_sim,
//!   abs_error_sim,kappa_sd_theory,mean_abs_error_theory,steps`: `|kappa_sim - kappa|` against
//!   `E|error| = sqrt(2/pi) sd` of a Gaussian error of the leading-order sd `c / sqrt(N)`.
//! - `finite_size_rms.csv`: `point,replicate,status,g,sigma_mn,N,networks,kappa_theory,
//!   rms_error_sim,kappa_sd_theory`: one row per `(g, N)`, the rms of `kappa_sim - kappa` over
//!   the `networks` seeds against the leading-order sd.
//!
//! Network seeds are `seed + 1000 point`, so every point draws its own networks.

use super::theory::csv;
use crate::error::{Error, Result};
use crate::theory::mean_field::{self as mf, FiniteNetwork, MeanFieldOptions, RankOne};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// `[mean_field]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeanFieldFigure {
    /// Standard deviation of `m_i`.
    pub sigma_m: f64,
    /// The part of `n_i` independent of `m_i`.
    pub sigma_perp: f64,
    /// Bulk strengths `0 <= g < 1`.
    pub g: Vec<f64>,
    /// Smallest overlap of the theory grid.
    pub overlap_min: f64,
    /// Largest overlap of the theory grid.
    pub overlap_max: f64,
    /// Points of the theory grid (at least 2).
    pub overlap_points: usize,
    /// Overlaps of the finite networks.
    pub sim_overlaps: Vec<f64>,
    /// Units `N` of the finite networks of `overlap.csv`.
    pub sim_units: usize,
    /// Seeds of `overlap.csv` (one network each per point).
    pub seeds: Vec<u64>,
    /// Overlap of the finite-size sweep.
    pub finite_size_overlap: f64,
    /// Units `N` of the finite-size sweep.
    pub finite_size_units: Vec<usize>,
    /// Seeds of the finite-size sweep.
    pub finite_size_seeds: Vec<u64>,
}

/// Seed of the network of `seed` at `point`.
fn network_seed(point: usize, seed: u64) -> u64 {
    seed + 1000 * point as u64
}

/// `(kappa, Delta_0)` of the stable state (MF-5) of `net`.
fn stable_state(net: &RankOne) -> Result<(f64, f64)> {
    let s = mf::solve(net, &MeanFieldOptions::default())?;
    let st = s.nontrivial.unwrap_or(s.trivial);
    Ok((st.kappa, st.delta0))
}

fn fmt_opt(x: Option<f64>) -> String {
    x.map_or_else(|| "nan".to_string(), |v| format!("{v:?}"))
}

/// Compute the tables of `p` into `data`. Returns the files written.
pub fn make(p: &MeanFieldFigure, data: &Path) -> Result<Vec<PathBuf>> {
    if p.overlap_points < 2 || p.overlap_max <= p.overlap_min || p.finite_size_seeds.is_empty() {
        return Err(Error::invalid(
            "mean_field",
            "needs overlap_points >= 2, overlap_max > overlap_min and finite_size_seeds",
        ));
    }
    let mut rows = vec![];
    let mut point = 0;
    for &g in &p.g {
        for i in 0..p.overlap_points {
            let t = i as f64 / (p.overlap_points - 1) as f64;
            // Rounded to 1e-9 so that the grid holds 1 and 2 exactly, not 2.0000000000000004.
            let sigma_mn =
                ((p.overlap_min + t * (p.overlap_max - p.overlap_min)) * 1e9).round() / 1e9;
            let (kappa, delta0) = stable_state(&RankOne::new(sigma_mn, p.sigma_m, g)?)?;
            rows.push(format!(
                "{point},0,ok,{g:?},{sigma_mn:?},,,{kappa:?},{delta0:?},nan,nan,nan,"
            ));
            point += 1;
        }
    }
    for &g in &p.g {
        for &sigma_mn in &p.sim_overlaps {
            let net = RankOne::new(sigma_mn, p.sigma_m, g)?;
            let (kappa, delta0) = stable_state(&net)?;
            let sd = mf::kappa_sd(&net, p.sigma_perp, p.sim_units)?;
            for (rep, &seed) in p.seeds.iter().enumerate() {
                let s = network_seed(point, seed);
                let fin = FiniteNetwork::sample(p.sim_units, &net, p.sigma_perp, s)?
                    .relax(&mf::RelaxOptions::default())?;
                rows.push(format!(
                    "{point},{rep},ok,{g:?},{sigma_mn:?},{},{s},{kappa:?},{delta0:?},{},{:?},{:?},{}",
                    p.sim_units,
                    fmt_opt(sd),
                    fin.kappa,
                    fin.delta0,
                    fin.steps
                ));
            }
            point += 1;
        }
    }
    let overlap = data.join("overlap.csv");
    crate::npy::write_atomic(
        &overlap,
        &csv(
            "point,replicate,status,g,sigma_mn,N,seed,kappa_theory,delta0_theory,\
             kappa_sd_theory,kappa_sim,delta0_sim,steps",
            &rows,
        ),
    )?;

    let (mut rows, mut rms_rows) = (vec![], vec![]);
    let sigma_mn = p.finite_size_overlap;
    let mut point = 0;
    for &g in &p.g {
        let net = RankOne::new(sigma_mn, p.sigma_m, g)?;
        let (kappa, _) = stable_state(&net)?;
        for &n_units in &p.finite_size_units {
            let sd = mf::kappa_sd(&net, p.sigma_perp, n_units)?.ok_or_else(|| {
                Error::invalid(
                    "mean_field.finite_size_overlap",
                    format!("must exceed 1 (a non-trivial state), got {sigma_mn}"),
                )
            })?;
            let mean_abs = (2.0 / std::f64::consts::PI).sqrt() * sd;
            let mut sq = 0.0;
            for (rep, &seed) in p.finite_size_seeds.iter().enumerate() {
                let s = network_seed(point, seed);
                let fin = FiniteNetwork::sample(n_units, &net, p.sigma_perp, s)?
                    .relax(&mf::RelaxOptions::default())?;
                rows.push(format!(
                    "{point},{rep},ok,{g:?},{sigma_mn:?},{n_units},{s},{kappa:?},{:?},{:?},{sd:?},{mean_abs:?},{}",
                    fin.kappa,
                    (fin.kappa - kappa).abs(),
                    fin.steps
                ));
                sq += (fin.kappa - kappa).powi(2);
            }
            let k = p.finite_size_seeds.len();
            rms_rows.push(format!(
                "{point},0,ok,{g:?},{sigma_mn:?},{n_units},{k},{kappa:?},{:?},{sd:?}",
                (sq / k as f64).sqrt()
            ));
            point += 1;
        }
    }
    let finite = data.join("finite_size.csv");
    crate::npy::write_atomic(
        &finite,
        &csv(
            "point,replicate,status,g,sigma_mn,N,seed,kappa_theory,kappa_sim,abs_error_sim,\
             kappa_sd_theory,mean_abs_error_theory,steps",
            &rows,
        ),
    )?;
    let rms = data.join("finite_size_rms.csv");
    crate::npy::write_atomic(
        &rms,
        &csv(
            "point,replicate,status,g,sigma_mn,N,networks,kappa_theory,rms_error_sim,\
             kappa_sd_theory",
            &rms_rows,
        ),
    )?;
    Ok(vec![overlap, finite, rms])
}
