//! The `aligned_oblique` theory figure: check AO1 (theory/random_init.md RI-9; Schuessler,
//! Mastrogiuseppe, Ostojic & Barak 2024): tanh RNNs with a fixed small or large readout,
//! trained on `W` at several sizes `N` ([`crate::experiment::aligned_oblique`]), their
//! readout correlation and participation ratio against `N`.
//!
//! ```toml
//! [aligned_oblique]
//! sizes = [64, 128, 256, 512, 1024]   # N
//! seeds = [0, 1, 2, 3]                # one pair of networks (small, large readout) each
//! g = 0.5                             # W0 = g chi / sqrt(N)
//! alpha = 0.2                         # dt / tau
//! steps = 30                          # T per trial
//! loss_from = 16                      # scored steps loss_from..=T
//! outputs = 2                         # K; 2K trials
//! target = 1.0                        # z_hat
//! lr0 = 0.02                          # Adam rate lr0 / N
//! train_steps = 400
//! ```
//!
//! Tables (scan-style, `status` `ok`; `*_theory` columns are predictions, the rest measured):
//! - `aligned_oblique.csv`: `point,replicate,status,N,seed,corr_init,corr_small,corr_large,
//!   pr_init,pr_small,pr_large,state_rms_init,state_rms_small,state_rms_large,loss_init_small,
//!   loss_small,loss_init_large,loss_large,dw_norm_small,dw_norm_large,guide_n0,guide_n_m1_4,
//!   guide_n_m1_2`: one row per `(N, seed)`; `*_init` before training (the same at both scales
//!   for `corr` and `pr`, which do not depend on the readout norm), `*_small`, `*_large` after
//!   training with that readout. The guides are `N^0`, `N^-1/4`, `N^-1/2` through the mean
//!   measured `corr` at the smallest `N` (small readout, their geometric mean, large readout).
//! - `aligned_oblique_fit.csv`: `point,replicate,status,quantity,scale,regime,slope,se,
//!   slope_theory,points`: the log-log fit of `corr` and `pr` against `N` over every network of
//!   one scale (and of `corr_init`, scale `init`), with its standard error (RI-9); `pr` has
//!   no predicted slope (written as 0: `O(1)`).

use super::theory::csv;
use crate::error::{Error, Result};
use crate::experiment::aligned_oblique::{run, AlignedObliqueConfig, AlignedObliqueRun};
use crate::theory::aligned_oblique::{loglog_fit, ReadoutScale};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// `[aligned_oblique]` (check AO1, RI-9).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlignedObliqueFigure {
    /// Sizes `N` (at least two distinct).
    pub sizes: Vec<usize>,
    /// Seeds (one pair of networks each per size).
    pub seeds: Vec<u64>,
    /// Bulk strength `g`.
    pub g: f64,
    /// `dt / tau`.
    pub alpha: f64,
    /// Steps `T` per trial.
    pub steps: usize,
    /// First scored step.
    pub loss_from: usize,
    /// Outputs `K`.
    pub outputs: usize,
    /// Target amplitude.
    pub target: f64,
    /// Adam rate `lr0 / N`.
    pub lr0: f64,
    /// Adam updates.
    pub train_steps: u64,
}

fn config(
    p: &AlignedObliqueFigure,
    n: usize,
    scale: ReadoutScale,
    seed: u64,
) -> AlignedObliqueConfig {
    AlignedObliqueConfig {
        hidden: n,
        scale,
        g: p.g,
        alpha: p.alpha,
        steps: p.steps,
        loss_from: p.loss_from,
        outputs: p.outputs,
        target: p.target,
        lr0: p.lr0,
        train_steps: p.train_steps,
        seed,
    }
}

/// Compute the tables of `p` into `data`. Returns the files written.
pub fn make(p: &AlignedObliqueFigure, data: &Path) -> Result<Vec<PathBuf>> {
    let mut distinct = p.sizes.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 2 || p.seeds.is_empty() || p.sizes.len() * p.seeds.len() < 3 {
        return Err(Error::invalid(
            "aligned_oblique",
            "needs at least two distinct sizes, one seed and three networks per scale",
        ));
    }
    let mut nets: Vec<(usize, u64, AlignedObliqueRun, AlignedObliqueRun)> = vec![];
    for &n in &p.sizes {
        for &seed in &p.seeds {
            let small = run(&config(p, n, ReadoutScale::Small, seed))?;
            let large = run(&config(p, n, ReadoutScale::Large, seed))?;
            nets.push((n, seed, small, large));
        }
    }
    // Guide lines through the mean corr at the smallest N.
    let n_min = distinct[0];
    let at_min: Vec<&(usize, u64, AlignedObliqueRun, AlignedObliqueRun)> =
        nets.iter().filter(|r| r.0 == n_min).collect();
    let mean = |f: &dyn Fn(&AlignedObliqueRun, &AlignedObliqueRun) -> f64| {
        at_min.iter().map(|r| f(&r.2, &r.3)).sum::<f64>() / at_min.len() as f64
    };
    let a_small = mean(&|s, _| s.trained.corr);
    let a_large = mean(&|_, l| l.trained.corr);
    let a_mid = (a_small * a_large).sqrt();
    let mut rows = vec![];
    for (n, seed, s, l) in &nets {
        let point = p.sizes.iter().position(|x| x == n).unwrap_or(0);
        let rep = p.seeds.iter().position(|x| x == seed).unwrap_or(0);
        let ratio = *n as f64 / n_min as f64;
        rows.push(format!(
            "{point},{rep},ok,{n},{seed},{:?},{:?},{:?},{:?},{:?},{:?},{:?},{:?},{:?},{:?},{:?},\
             {:?},{:?},{:?},{:?},{:?},{:?},{:?}",
            s.init.corr,
            s.trained.corr,
            l.trained.corr,
            s.init.pr,
            s.trained.pr,
            l.trained.pr,
            s.init.state_rms,
            s.trained.state_rms,
            l.trained.state_rms,
            s.init.loss,
            s.trained.loss,
            l.init.loss,
            l.trained.loss,
            s.dw_norm,
            l.dw_norm,
            a_small,
            a_mid * ratio.powf(-0.25),
            a_large * ratio.powf(-0.5),
        ));
    }
    let table = data.join("aligned_oblique.csv");
    crate::npy::write_atomic(
        &table,
        &csv(
            "point,replicate,status,N,seed,corr_init,corr_small,corr_large,pr_init,pr_small,\
             pr_large,state_rms_init,state_rms_small,state_rms_large,loss_init_small,loss_small,\
             loss_init_large,loss_large,dw_norm_small,dw_norm_large,guide_n0,guide_n_m1_4,\
             guide_n_m1_2",
            &rows,
        ),
    )?;

    let sizes: Vec<f64> = nets.iter().map(|r| r.0 as f64).collect();
    type Pick = fn(&(usize, u64, AlignedObliqueRun, AlignedObliqueRun)) -> f64;
    let fits: [(&str, &str, &str, f64, Pick); 5] = [
        ("corr", "small", "aligned", 0.0, |r| r.2.trained.corr),
        ("corr", "large", "oblique", -0.5, |r| r.3.trained.corr),
        ("corr_init", "init", "random", -0.5, |r| r.2.init.corr),
        ("pr", "small", "aligned", 0.0, |r| r.2.trained.pr),
        ("pr", "large", "oblique", 0.0, |r| r.3.trained.pr),
    ];
    let mut rows = vec![];
    for (i, (quantity, scale, regime, predicted, pick)) in fits.iter().enumerate() {
        let y: Vec<f64> = nets.iter().map(pick).collect();
        let f = loglog_fit(&sizes, &y)?;
        rows.push(format!(
            "{i},0,ok,{quantity},{scale},{regime},{:?},{:?},{predicted:?},{}",
            f.slope, f.se, f.points
        ));
    }
    let fit = data.join("aligned_oblique_fit.csv");
    crate::npy::write_atomic(
        &fit,
        &csv(
            "point,replicate,status,quantity,scale,regime,slope,se,slope_theory,points",
            &rows,
        ),
    )?;
    Ok(vec![table, fit])
}
