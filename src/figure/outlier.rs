//! The `outlier_pair` and `outlier_lazy_rich` theory figures (theory/outlier.md OL-10, OL-11;
//! Bordelon, Cotler, Pehlevan & Zavatone-Veth 2025): full-matrix gradient descent on the exact
//! expected loss ([`crate::theory::outlier::full_matrix_gd`]) from a random bulk
//! `W0 = g chi / sqrt(N)`.
//!
//! ```toml
//! [outlier_pair]          # OL-10: damped-oscillation target gamma^j cos(omega j)
//! units = 32              # N
//! g = 0.1                 # bulk strength of W0
//! input_scale = 0.1       # ||u||, ||v|| ~ input_scale
//! gamma = 0.9
//! omega = 0.5
//! lr = 0.004              # below 2 / 268.7 (OL-8)
//! steps = 4000            # infinite lags
//! seeds = [1]
//! loss_every = 20         # loss.csv: every this many steps
//!
//! [outlier_lazy_rich]     # OL-11: leaky-integrator target gamma^j, finite sequences
//! sizes = [64, 128]       # N
//! g = [0.05, 0.2, 0.5, 0.8]
//! lags = [60]             # T (OL-5 weights (T - k)/T)
//! seeds = [2]
//! input_scale = 1.0
//! gamma = 0.9
//! lr = 0.002
//! steps = 1500
//! ```
//!
//! Tables (scan-style, `status` `ok`; `*_theory` columns are derived values, the rest measured):
//! - `eigenvalues.csv` (`outlier_pair`): `point,replicate,status,seed,set,index,re,im_init,
//!   im_learned,im_target_theory,im_bulk_edge_theory`: one row per eigenvalue of `W0`
//!   (`set = init`) and of the learned `W` (`learned`), the target pair `gamma e^{+-i omega}`
//!   (`target`) and 48 points of the circle of radius `g` (`bulk_edge`, the circular law's
//!   edge); the imaginary part sits in the column of its set, the others are `nan`.
//! - `loss.csv` (`outlier_pair`): `point,replicate,status,seed,step,t,loss` (`t = lr step`).
//! - `pair.csv` (`outlier_pair`): `point,replicate,status,seed,N,g,loss_init,loss_final,
//!   pair_re,pair_im,target_re,target_im,pair_error,curvature_theory,pair_bound_theory,
//!   bulk_radius_init,bulk_radius_final`: the learned pair (the top eigenvalue, `+im`), its
//!   error `max(|mu - z|, |mu' - conj z|)` against OL-10's `sqrt(2 L / s)` (`s` the
//!   curvature), the spectral radius of `W0` and the modulus of the learned `W`'s third
//!   eigenvalue (the bulk's radius after learning).
//! - `lazy_rich.csv` (`outlier_lazy_rich`): `point,replicate,status,N,g,T,seed,loss_init,
//!   loss_final,rho_init,rho_final,mu_re,mu_im,dist_init,dist_final,rel_change_fro,
//!   rel_change_op,eckart_young_theory,free_radius_theory,curvature_theory,
//!   single_mode_bound_theory,sv1,sv2,rel_change_u,rel_change_v,extrapolation_error`:
//!   `rho` the spectral radius, `mu` the eigenvalue of the learned `W` nearest `gamma`,
//!   `dist_*` the distance of the eigenvalue nearest `gamma` to it (at init and learned),
//!   `rel_change_fro = ||dW||_F / ||W0||_F`, `rel_change_op = ||dW||_2 / ||W0||_2`,
//!   `eckart_young_theory = sigma_min(mu I - W0) / ||W0||_F` (OL-11's lower bound on
//!   `rel_change_fro`), `free_radius_theory = sigma_min(gamma I - W0) - ||dW||_2` (no
//!   eigenvalue of the learned `W` lies closer to `gamma` than this, when positive: OL-11),
//!   `curvature_theory` the single-mode curvature `s_T` and `single_mode_bound_theory =
//!   sqrt(2 L / s_T)` the largest `|mu - gamma|` of a one-mode response with the final loss `L`
//!   (to second order: [`crate::theory::outlier::single_mode_curvature`]),
//!   `sv1`, `sv2` the top singular values of `dW`, and `rel_change_u`, `rel_change_v` the
//!   relative changes of the read-in and readout, and `extrapolation_error` the largest
//!   `|v^T W^k u - gamma^k|` over the untrained lags `k = T..T+EXTRAPOLATION_LAGS-1`.
//!   A run whose GD diverges has `status` `diverged` and only `loss_init` (the other metrics
//!   `nan`).

use super::theory::csv;
use crate::error::{Error, Result};
use crate::linalg::{self, Matrix};
use crate::theory::outlier::{
    full_matrix_gd, pair_eigenvalue_curvature, single_mode_curvature, FullParams, LagWeights,
};
use num_complex::Complex64;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// `[outlier_pair]` (OL-10).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutlierPairFigure {
    /// Units `N` (at least 3: the pair and a bulk).
    pub units: usize,
    /// Bulk strength `g` of `W0`.
    pub g: f64,
    /// Scale of `u` and `v`.
    pub input_scale: f64,
    /// Target decay `gamma` (`0 < gamma < 1`).
    pub gamma: f64,
    /// Target frequency `omega` (`0 < omega < pi`: a complex pair).
    pub omega: f64,
    /// GD learning rate.
    pub lr: f64,
    /// GD steps (infinite lags).
    pub steps: usize,
    /// Seeds of the init (one network each).
    pub seeds: Vec<u64>,
    /// `loss.csv` holds the loss every this many steps (and at the last).
    pub loss_every: usize,
}

/// `[outlier_lazy_rich]` (OL-11).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutlierLazyRichFigure {
    /// Units `N`.
    pub sizes: Vec<usize>,
    /// Bulk strengths `g` of `W0`.
    pub g: Vec<f64>,
    /// Sequence lengths `T` (lag weights `(T - k)/T`, OL-5).
    pub lags: Vec<usize>,
    /// Seeds of the init.
    pub seeds: Vec<u64>,
    /// Scale of `u` and `v`.
    pub input_scale: f64,
    /// Target decay `gamma`.
    pub gamma: f64,
    /// GD learning rate.
    pub lr: f64,
    /// GD steps.
    pub steps: usize,
}

/// Columns of `lazy_rich.csv` after `seed` (`loss_init` .. `extrapolation_error`).
const METRICS: usize = 19;

/// Points on the bulk-edge circle in `eigenvalues.csv`.
const EDGE_POINTS: usize = 48;

/// Smallest singular value of `mu I - W` for a complex `mu = a + i b`: that of the real
/// `2N x 2N` matrix `[[a I - W, -b I], [b I, a I - W]]`, whose singular values are those of the
/// complex matrix, each twice.
fn sigma_min_shifted(w: &Matrix, mu: Complex64) -> Result<f64> {
    let n = w.nrows();
    let m = if mu.im == 0.0 {
        Matrix::from_fn(n, n, |i, j| {
            f64::from(u8::from(i == j)) * mu.re - w.get(i, j)
        })
    } else {
        Matrix::from_fn(2 * n, 2 * n, |i, j| {
            let (bi, bj) = (i / n, j / n);
            let (ii, jj) = (i % n, j % n);
            let d = f64::from(u8::from(ii == jj));
            match (bi, bj) {
                (0, 0) | (1, 1) => d * mu.re - w.get(ii, jj),
                (0, 1) => -d * mu.im,
                _ => d * mu.im,
            }
        })
    };
    Ok(linalg::singular_values(m.view())?
        .last()
        .copied()
        .unwrap_or(f64::NAN))
}

/// Untrained lags after `T` over which `extrapolation_error` is taken.
pub const EXTRAPOLATION_LAGS: usize = 60;

/// `max |v^T W^k u - gamma^k|` over `k = T..T + EXTRAPOLATION_LAGS - 1`.
fn extrapolation_error(p: &FullParams, gamma: f64, t: usize) -> f64 {
    let n = p.u.len();
    let mut q = p.u.clone();
    let mut next = vec![0.0; n];
    let mut worst = 0.0f64;
    for k in 0..t + EXTRAPOLATION_LAGS {
        if k >= t {
            let a: f64 = p.v.iter().zip(&q).map(|(x, y)| x * y).sum();
            worst = worst.max((a - gamma.powi(k as i32)).abs());
        }
        for (i, o) in next.iter_mut().enumerate() {
            *o = (0..n).map(|j| p.w.get(i, j) * q[j]).sum();
        }
        std::mem::swap(&mut q, &mut next);
    }
    worst
}

fn norm(x: &[f64]) -> f64 {
    x.iter().map(|a| a * a).sum::<f64>().sqrt()
}

fn rel_change(new: &[f64], old: &[f64]) -> f64 {
    let d: Vec<f64> = new.iter().zip(old).map(|(a, b)| a - b).collect();
    norm(&d) / norm(old)
}

/// Compute the tables of the OL-10 figure into `data`. Returns the files written.
pub fn make_pair(p: &OutlierPairFigure, data: &Path) -> Result<Vec<PathBuf>> {
    if p.units < 3 || p.seeds.is_empty() || p.loss_every == 0 {
        return Err(Error::invalid(
            "outlier_pair",
            "needs units >= 3, at least one seed and loss_every >= 1",
        ));
    }
    if !(p.gamma > 0.0 && p.gamma < 1.0 && p.omega > 0.0 && p.omega < std::f64::consts::PI) {
        return Err(Error::invalid(
            "outlier_pair",
            format!(
                "needs 0 < gamma < 1 and 0 < omega < pi (a complex pair inside the unit disk), \
                 got gamma = {}, omega = {}",
                p.gamma, p.omega
            ),
        ));
    }
    let z = Complex64::from_polar(p.gamma, p.omega);
    let s = pair_eigenvalue_curvature(z);
    let (mut eig_rows, mut loss_rows, mut pair_rows) = (vec![], vec![], vec![]);
    // Rows are keyed by (point, replicate) = (row of the seed's block, seed index).
    for (rep, &seed) in p.seeds.iter().enumerate() {
        let init = FullParams::random_bulk(seed, p.units, p.g, p.input_scale);
        let ev0 = linalg::eigenvalues(&init.w)?;
        let run = full_matrix_gd(init, p.gamma, p.omega, &LagWeights::Infinite, p.lr, p.steps)?;
        if let Some(step) = run.diverged_at {
            return Err(Error::invalid(
                "outlier_pair.lr",
                format!(
                    "GD diverged at step {step} (seed {seed}); lower lr (OL-8: stable below \
                     2 / 268.7 at gamma = 0.9)"
                ),
            ));
        }
        let ev = linalg::eigenvalues(&run.params.w)?;
        let mut point = 0;
        let mut row = |set: &str, i: usize, e: Complex64, col: usize| {
            let mut ims = ["nan".to_string(), "nan".into(), "nan".into(), "nan".into()];
            ims[col] = format!("{:?}", e.im);
            point += 1;
            format!(
                "{},{rep},ok,{seed},{set},{i},{:?},{}",
                point - 1,
                e.re,
                ims.join(",")
            )
        };
        for (i, e) in ev0.iter().enumerate() {
            eig_rows.push(row("init", i, *e, 0));
        }
        for (i, e) in ev.iter().enumerate() {
            eig_rows.push(row("learned", i, *e, 1));
        }
        for (i, e) in [z, z.conj()].iter().enumerate() {
            eig_rows.push(row("target", i, *e, 2));
        }
        for i in 0..EDGE_POINTS {
            let a = 2.0 * std::f64::consts::PI * i as f64 / EDGE_POINTS as f64;
            eig_rows.push(row("bulk_edge", i, Complex64::from_polar(p.g, a), 3));
        }
        let last = run.losses.len() - 1;
        let steps = (0..=last).filter(|k| k % p.loss_every == 0 || *k == last);
        for (point, step) in steps.enumerate() {
            loss_rows.push(format!(
                "{point},{rep},ok,{seed},{step},{:?},{:?}",
                p.lr * step as f64,
                run.losses[step]
            ));
        }
        let (l0, lt) = (run.losses[0], run.losses[last]);
        let err = (ev[0] - z).norm().max((ev[1] - z.conj()).norm());
        pair_rows.push(format!(
            "0,{rep},ok,{seed},{},{:?},{l0:?},{lt:?},{:?},{:?},{:?},{:?},{err:?},{s:?},{:?},\
             {:?},{:?}",
            p.units,
            p.g,
            ev[0].re,
            ev[0].im,
            z.re,
            z.im,
            (2.0 * lt / s).sqrt(),
            ev0[0].norm(),
            ev[2].norm()
        ));
    }
    let files = [
        (
            "eigenvalues.csv",
            "point,replicate,status,seed,set,index,re,im_init,im_learned,im_target_theory,\
             im_bulk_edge_theory",
            eig_rows,
        ),
        (
            "loss.csv",
            "point,replicate,status,seed,step,t,loss",
            loss_rows,
        ),
        (
            "pair.csv",
            "point,replicate,status,seed,N,g,loss_init,loss_final,pair_re,pair_im,target_re,\
             target_im,pair_error,curvature_theory,pair_bound_theory,bulk_radius_init,\
             bulk_radius_final",
            pair_rows,
        ),
    ];
    let mut written = vec![];
    for (name, header, rows) in files {
        let path = data.join(name);
        crate::npy::write_atomic(&path, &csv(header, &rows))?;
        written.push(path);
    }
    Ok(written)
}

/// Compute the table of the OL-11 figure into `data`. Returns the file written.
pub fn make_lazy_rich(p: &OutlierLazyRichFigure, data: &Path) -> Result<Vec<PathBuf>> {
    if p.sizes.is_empty()
        || p.g.is_empty()
        || p.lags.is_empty()
        || p.seeds.is_empty()
        || p.sizes.contains(&0)
        || p.lags.contains(&0)
        || p.g.iter().any(|g| !(g.is_finite() && *g > 0.0))
    {
        return Err(Error::invalid(
            "outlier_lazy_rich",
            "needs nonempty sizes, g, lags and seeds, with every size and lag >= 1 and every \
             g > 0",
        ));
    }
    let gamma = Complex64::new(p.gamma, 0.0);
    if !(p.gamma.is_finite() && p.gamma.abs() < 1.0) {
        return Err(Error::invalid(
            "outlier_lazy_rich.gamma",
            format!("must be in (-1, 1), got {}", p.gamma),
        ));
    }
    let mut rows = vec![];
    let mut point = 0;
    for &t in &p.lags {
        let weights = LagWeights::Finite { steps: t };
        let s_t = single_mode_curvature(p.gamma, &weights);
        for &n in &p.sizes {
            for &g in &p.g {
                for (rep, &seed) in p.seeds.iter().enumerate() {
                    let init = FullParams::random_bulk(seed, n, g, p.input_scale);
                    let (w0, u0, v0) = (init.w.clone(), init.u.clone(), init.v.clone());
                    let run = full_matrix_gd(init, p.gamma, 0.0, &weights, p.lr, p.steps)?;
                    if run.diverged_at.is_some() {
                        // As in scan tables: a diverged row carries no metrics.
                        rows.push(format!(
                            "{point},{rep},diverged,{n},{g:?},{t},{seed},{:?}{}",
                            run.losses.first().copied().unwrap_or(f64::NAN),
                            ",nan".repeat(METRICS - 1)
                        ));
                        continue;
                    }
                    let w = &run.params.w;
                    let ev0 = linalg::eigenvalues(&w0)?;
                    let ev = linalg::eigenvalues(w)?;
                    let nearest = |e: &[Complex64]| {
                        e.iter()
                            .copied()
                            .min_by(|x, y| (*x - gamma).norm().total_cmp(&(*y - gamma).norm()))
                            .unwrap_or(Complex64::new(f64::NAN, f64::NAN))
                    };
                    let (mu0, mu) = (nearest(&ev0), nearest(&ev));
                    let dw = w.sub(&w0);
                    let sd = linalg::singular_values(dw.view())?;
                    let s0 = linalg::singular_values(w0.view())?[0];
                    let f0 = w0.norm_fro();
                    let lb = sigma_min_shifted(&w0, mu)? / f0;
                    let free = sigma_min_shifted(&w0, gamma)? - sd[0];
                    let (l0, lt) = (run.losses[0], run.losses[run.losses.len() - 1]);
                    let extrapolation = extrapolation_error(&run.params, p.gamma, t);
                    rows.push(format!(
                        "{point},{rep},ok,{n},{g:?},{t},{seed},{l0:?},{lt:?},{:?},{:?},{:?},{:?},\
                         {:?},{:?},{:?},{:?},{lb:?},{free:?},{s_t:?},{:?},{:?},{:?},{:?},{:?},{extrapolation:?}",
                        ev0[0].norm(),
                        ev[0].norm(),
                        mu.re,
                        mu.im,
                        (mu0 - gamma).norm(),
                        (mu - gamma).norm(),
                        dw.norm_fro() / f0,
                        sd[0] / s0,
                        (2.0 * lt / s_t).sqrt(),
                        sd[0],
                        sd.get(1).copied().unwrap_or(0.0),
                        rel_change(&run.params.u, &u0),
                        rel_change(&run.params.v, &v0),
                    ));
                }
                point += 1;
            }
        }
    }
    let path = data.join("lazy_rich.csv");
    crate::npy::write_atomic(
        &path,
        &csv(
            "point,replicate,status,N,g,T,seed,loss_init,loss_final,rho_init,rho_final,mu_re,\
             mu_im,dist_init,dist_final,rel_change_fro,rel_change_op,eckart_young_theory,\
             free_radius_theory,curvature_theory,single_mode_bound_theory,sv1,sv2,rel_change_u,\
             rel_change_v,extrapolation_error",
            &rows,
        ),
    )?;
    Ok(vec![path])
}
