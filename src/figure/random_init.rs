//! The `random_init` theory figure: linear RNNs from a random initialization
//! (theory/random_init.md RI-1..RI-8; checks EM1, Z1, CK1, SC1), closed forms against finite
//! networks, Monte Carlo and trained students.
//!
//! ```toml
//! [random_init.lag_kernel]        # EM1 (RI-2..RI-4)
//! rho = 0.8
//! lags = 10
//! width = 1000                    # lag_kernel.csv: one width, several seeds
//! seeds = [0, 1, 2, 3]
//! widths = [100, 300, 1000, 3000] # lag_kernel_width.csv: the error against the width
//! width_seeds = [0, 1, 2, 3]
//! spread_width = 500              # lag_kernel_spread.csv: sd over networks
//! spread_networks = 100
//!
//! [random_init.curse_of_memory]   # Z1 (RI-6)
//! lambdas = [0.0, 0.5, 0.9, 0.99]
//! chains = 40000
//! tail = 1e-12                    # horizon T: lambda^{2T} <= tail
//!
//! [random_init.extrapolation]     # CK1 (RI-7)
//! gamma = 0.9
//! states = 20
//! train_lags = 5
//! test_lags = 51                  # error over lags train_lags..test_lags-1
//! lr = 0.01
//! steps = 200000
//! scales = [1e-3, 1e-2, 1e-1, 1.0]  # small init a ~ s U(-1,1), b, c ~ s N(0,1)
//! seeds = [0, 1, 2, 3]
//! small_scale = 1e-3              # impulse_response.csv: this small init against
//! large_a_max = 0.95              # the large init a ~ U(-a_max, a_max), b, c ~ N(0,1)
//!
//! [random_init.weight_change]     # SC1 (RI-8)
//! units = 512
//! z_hat = 0.2
//! g = [0.0, 0.5, 0.8]
//! seeds = [0, 1, 2]
//! lr0 = 0.1                       # lr = lr0 (1 - g^2)^2
//! tol = 1e-12
//! max_steps = 10000
//! ```
//!
//! Tables (scan-style, `status` `ok`; `*_theory` columns are closed forms, the rest measured):
//! - `lag_kernel.csv`: `point,replicate,status,n,lag,seed,theta_sim,theta_theory,sd_theory`:
//!   the diagonal of the empirical lag kernel (RI-3) of one network per seed, against RI-2 and
//!   RI-4's sd at that width.
//! - `lag_kernel_width.csv`: `point,replicate,status,n,seed,rms_error_sim,rms_sd_theory`: the
//!   rms over lags of `Theta_jj - (RI-2)` of one network, against `sqrt(mean_j sd_jj^2)`.
//! - `lag_kernel_spread.csv`: `point,replicate,status,n,lag,networks,sd_sim,sd_theory`: the sd
//!   of `Theta_jj` over `spread_networks` networks (seeds `0..`) against RI-4.
//! - `curse_of_memory.csv`: `point,replicate,status,moment,lambda,one_minus_lambda,horizon,
//!   chains,closed_form_theory,monte_carlo`: `moment` is `E_h2` or `Var_dh_dlambda` (RI-6).
//! - `extrapolation.csv`: `point,replicate,status,s,seed,train_loss,extrapolation_error,
//!   effective_states`: the max `|k_j - gamma^j|` over the untrained lags (RI-7).
//! - `impulse_response.csv`: `point,replicate,status,lag,seed,k_small_init,k_large_init,
//!   teacher_theory`: the trained students' impulse responses against `gamma^j`.
//! - `weight_change.csv`: `point,replicate,status,g,one_minus_g2,N,seed,z0,steps,dw_norm_sim,
//!   dw_norm_theory,dw_per_offset_sim,dw_per_offset_theory,dw_per_offset_second_order_theory,
//!   sv_ratio_sim,sv_ratio_theory`: `||Delta W||_F` (also per `|z_hat - z0|`) against T5.9's
//!   `|z_hat - z0| (1 - g^2)` and RI-8's realized second order; `sigma_2 / sigma_1` of
//!   `Delta W` against its leading order.

use super::theory::csv;
use crate::error::{Error, Result};
use crate::theory::random_init::{
    lag_ntk, lag_ntk_sd, memory_variance, monte_carlo_moments, schuessler_weight_change,
    sensitivity_variance, DiagonalInit, DiagonalRnn, FixedPointRnn, NtkRnn,
};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// `[random_init]`: the four calculations.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomInitFigure {
    /// EM1.
    pub lag_kernel: LagKernel,
    /// Z1.
    pub curse_of_memory: CurseOfMemory,
    /// CK1.
    pub extrapolation: Extrapolation,
    /// SC1.
    pub weight_change: WeightChange,
}

/// `[random_init.lag_kernel]` (EM1, RI-1..RI-4).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LagKernel {
    /// Init scale `rho` of `W`.
    pub rho: f64,
    /// Lags `0..lags`.
    pub lags: usize,
    /// Width of `lag_kernel.csv`.
    pub width: usize,
    /// Seeds of `lag_kernel.csv`.
    pub seeds: Vec<u64>,
    /// Widths of `lag_kernel_width.csv`.
    pub widths: Vec<usize>,
    /// Seeds of `lag_kernel_width.csv`.
    pub width_seeds: Vec<u64>,
    /// Width of `lag_kernel_spread.csv`.
    pub spread_width: usize,
    /// Networks of `lag_kernel_spread.csv` (at least 2).
    pub spread_networks: usize,
}

/// `[random_init.curse_of_memory]` (Z1, RI-6).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CurseOfMemory {
    /// `lambda` values, `|lambda| < 1`.
    pub lambdas: Vec<f64>,
    /// Monte Carlo chains per `lambda`.
    pub chains: usize,
    /// The horizon `T` is the least with `lambda^{2T} <= tail`.
    pub tail: f64,
}

/// `[random_init.extrapolation]` (CK1, RI-7).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extrapolation {
    /// Teacher impulse response `gamma^j`.
    pub gamma: f64,
    /// States `d` of the diagonal student.
    pub states: usize,
    /// Lags `0..train_lags` are trained.
    pub train_lags: usize,
    /// Lags `train_lags..test_lags` measure extrapolation.
    pub test_lags: usize,
    /// GD rate.
    pub lr: f64,
    /// GD steps.
    pub steps: usize,
    /// Small-init scales `s`.
    pub scales: Vec<f64>,
    /// Seeds (one student each per scale).
    pub seeds: Vec<u64>,
    /// The small init of `impulse_response.csv`.
    pub small_scale: f64,
    /// The large init of `impulse_response.csv`.
    pub large_a_max: f64,
}

/// `[random_init.weight_change]` (SC1, RI-8).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightChange {
    /// Units `N`.
    pub units: usize,
    /// Target output `z_hat`.
    pub z_hat: f64,
    /// Bulk strengths `0 <= g < 1`.
    pub g: Vec<f64>,
    /// Seeds (one network each per `g`).
    pub seeds: Vec<u64>,
    /// `lr = lr0 (1 - g^2)^2`.
    pub lr0: f64,
    /// Stop at `|z_hat - z| <= tol`.
    pub tol: f64,
    /// Largest number of GD steps.
    pub max_steps: usize,
}

/// Compute the tables of `p` into `data`. Returns the files written.
pub fn make(p: &RandomInitFigure, data: &Path) -> Result<Vec<PathBuf>> {
    let mut written = lag_kernel(&p.lag_kernel, data)?;
    written.push(curse_of_memory(&p.curse_of_memory, data)?);
    written.extend(extrapolation(&p.extrapolation, data)?);
    written.push(weight_change(&p.weight_change, data)?);
    Ok(written)
}

fn write(data: &Path, name: &str, header: &str, rows: &[String]) -> Result<PathBuf> {
    let path = data.join(name);
    crate::npy::write_atomic(&path, &csv(header, rows))?;
    Ok(path)
}

fn lag_kernel(p: &LagKernel, data: &Path) -> Result<Vec<PathBuf>> {
    if p.lags == 0 || p.spread_networks < 2 {
        return Err(Error::invalid(
            "random_init.lag_kernel",
            "needs lags >= 1 and spread_networks >= 2",
        ));
    }
    let diag = |n: usize, seed: u64| {
        let theta = NtkRnn::sample(n, p.rho, seed).empirical_ntk(p.lags);
        (0..p.lags).map(|j| theta.get(j, j)).collect::<Vec<f64>>()
    };
    let mut rows = vec![];
    let mut by_seed = vec![];
    for &seed in &p.seeds {
        by_seed.push(diag(p.width, seed));
    }
    for j in 0..p.lags {
        for (rep, (&seed, d)) in p.seeds.iter().zip(&by_seed).enumerate() {
            rows.push(format!(
                "{j},{rep},ok,{},{j},{seed},{:?},{:?},{:?}",
                p.width,
                d[j],
                lag_ntk(p.rho, j),
                lag_ntk_sd(p.rho, j, j, p.width)
            ));
        }
    }
    let a = write(
        data,
        "lag_kernel.csv",
        "point,replicate,status,n,lag,seed,theta_sim,theta_theory,sd_theory",
        &rows,
    )?;

    let mut rows = vec![];
    for (point, &n) in p.widths.iter().enumerate() {
        let rms_sd = ((0..p.lags)
            .map(|j| lag_ntk_sd(p.rho, j, j, n).powi(2))
            .sum::<f64>()
            / p.lags as f64)
            .sqrt();
        for (rep, &seed) in p.width_seeds.iter().enumerate() {
            let d = diag(n, seed);
            let rms = (d
                .iter()
                .enumerate()
                .map(|(j, t)| (t - lag_ntk(p.rho, j)).powi(2))
                .sum::<f64>()
                / p.lags as f64)
                .sqrt();
            rows.push(format!("{point},{rep},ok,{n},{seed},{rms:?},{rms_sd:?}"));
        }
    }
    let b = write(
        data,
        "lag_kernel_width.csv",
        "point,replicate,status,n,seed,rms_error_sim,rms_sd_theory",
        &rows,
    )?;

    let nets: Vec<Vec<f64>> = (0..p.spread_networks as u64)
        .map(|seed| diag(p.spread_width, seed))
        .collect();
    let m = nets.len() as f64;
    let mut rows = vec![];
    for j in 0..p.lags {
        let mean = nets.iter().map(|d| d[j]).sum::<f64>() / m;
        let sd = (nets.iter().map(|d| (d[j] - mean).powi(2)).sum::<f64>() / (m - 1.0)).sqrt();
        rows.push(format!(
            "{j},0,ok,{},{j},{},{sd:?},{:?}",
            p.spread_width,
            nets.len(),
            lag_ntk_sd(p.rho, j, j, p.spread_width)
        ));
    }
    let c = write(
        data,
        "lag_kernel_spread.csv",
        "point,replicate,status,n,lag,networks,sd_sim,sd_theory",
        &rows,
    )?;
    Ok(vec![a, b, c])
}

fn curse_of_memory(p: &CurseOfMemory, data: &Path) -> Result<PathBuf> {
    if !(p.tail > 0.0 && p.tail < 1.0) || p.chains == 0 {
        return Err(Error::invalid(
            "random_init.curse_of_memory",
            "needs 0 < tail < 1 and chains >= 1",
        ));
    }
    let mut rows = vec![];
    for (i, &lambda) in p.lambdas.iter().enumerate() {
        if lambda.abs() >= 1.0 {
            return Err(Error::invalid(
                "random_init.curse_of_memory.lambdas",
                format!("|lambda| must be < 1, got {lambda}"),
            ));
        }
        // lambda^{2T} <= tail; lambda = 0 needs one step (h_1 = x_1) and two for s.
        let horizon = if lambda == 0.0 {
            2
        } else {
            (p.tail.ln() / (2.0 * lambda.abs().ln())).ceil().max(2.0) as usize
        };
        let (mc_h2, mc_s2) = monte_carlo_moments(lambda, horizon, p.chains, i as u64);
        // The chains stop at T: their moments differ from the stationary closed forms by the
        // tails, at most (T + 1)^2 lambda^{2(T-1)} relative (RI-6), negligible at tail 1e-12.
        for (k, (name, exact, mc)) in [
            ("E_h2", memory_variance(lambda), mc_h2),
            ("Var_dh_dlambda", sensitivity_variance(lambda), mc_s2),
        ]
        .into_iter()
        .enumerate()
        {
            rows.push(format!(
                "{},0,ok,{name},{lambda:?},{:?},{horizon},{},{exact:?},{mc:?}",
                2 * i + k,
                1.0 - lambda,
                p.chains
            ));
        }
    }
    write(
        data,
        "curse_of_memory.csv",
        "point,replicate,status,moment,lambda,one_minus_lambda,horizon,chains,\
         closed_form_theory,monte_carlo",
        &rows,
    )
}

/// A diagonal student trained by `p`'s protocol: the student and its last training loss.
fn train_student(p: &Extrapolation, init: DiagonalInit, seed: u64) -> (DiagonalRnn, f64) {
    let target: Vec<f64> = (0..p.train_lags).map(|j| p.gamma.powi(j as i32)).collect();
    let mut net = DiagonalRnn::sample(p.states, init, seed);
    let mut loss = f64::NAN;
    for _ in 0..p.steps {
        loss = net.gd_step(&target, p.lr);
    }
    (net, loss)
}

/// Max `|k_j - gamma^j|` over the untrained lags `train_lags..test_lags`.
fn extrapolation_error(p: &Extrapolation, net: &DiagonalRnn) -> f64 {
    net.impulse_response(p.test_lags)
        .iter()
        .enumerate()
        .skip(p.train_lags)
        .map(|(j, k)| (k - p.gamma.powi(j as i32)).abs())
        .fold(0.0, f64::max)
}

fn extrapolation(p: &Extrapolation, data: &Path) -> Result<Vec<PathBuf>> {
    if p.train_lags == 0 || p.test_lags <= p.train_lags || p.states == 0 {
        return Err(Error::invalid(
            "random_init.extrapolation",
            "needs states >= 1 and 1 <= train_lags < test_lags",
        ));
    }
    let mut rows = vec![];
    for (point, &s) in p.scales.iter().enumerate() {
        for (rep, &seed) in p.seeds.iter().enumerate() {
            let (net, loss) = train_student(p, DiagonalInit::Small { s }, seed);
            rows.push(format!(
                "{point},{rep},ok,{s:?},{seed},{loss:?},{:?},{:?}",
                extrapolation_error(p, &net),
                net.effective_states()
            ));
        }
    }
    let a = write(
        data,
        "extrapolation.csv",
        "point,replicate,status,s,seed,train_loss,extrapolation_error,effective_states",
        &rows,
    )?;

    let responses: Vec<(Vec<f64>, Vec<f64>)> = p
        .seeds
        .iter()
        .map(|&seed| {
            let small = train_student(p, DiagonalInit::Small { s: p.small_scale }, seed).0;
            let large = train_student(
                p,
                DiagonalInit::Large {
                    a_max: p.large_a_max,
                },
                seed,
            )
            .0;
            (
                small.impulse_response(p.test_lags),
                large.impulse_response(p.test_lags),
            )
        })
        .collect();
    let mut rows = vec![];
    for j in 0..p.test_lags {
        for (rep, (&seed, (small, large))) in p.seeds.iter().zip(&responses).enumerate() {
            rows.push(format!(
                "{j},{rep},ok,{j},{seed},{:?},{:?},{:?}",
                small[j],
                large[j],
                p.gamma.powi(j as i32)
            ));
        }
    }
    let b = write(
        data,
        "impulse_response.csv",
        "point,replicate,status,lag,seed,k_small_init,k_large_init,teacher_theory",
        &rows,
    )?;
    Ok(vec![a, b])
}

fn weight_change(p: &WeightChange, data: &Path) -> Result<PathBuf> {
    let mut rows = vec![];
    for (point, &g) in p.g.iter().enumerate() {
        if !(0.0..1.0).contains(&g) {
            return Err(Error::invalid(
                "random_init.weight_change.g",
                format!("must be in [0, 1), got {g}"),
            ));
        }
        let one_minus_g2 = 1.0 - g * g;
        let lr = p.lr0 * one_minus_g2 * one_minus_g2;
        for (rep, &seed) in p.seeds.iter().enumerate() {
            let net = FixedPointRnn::sample(p.units, g, seed);
            let init = net.init_quantities()?;
            let trained = net.train(p.z_hat, lr, p.tol, p.max_steps)?;
            if (trained.z - p.z_hat).abs() > p.tol {
                return Err(Error::invalid(
                    "random_init.weight_change",
                    format!(
                        "g {g}, seed {seed}: |z_hat - z| = {:.1e} > tol after {} steps; raise \
                         max_steps",
                        (trained.z - p.z_hat).abs(),
                        trained.steps
                    ),
                ));
            }
            let offset = (p.z_hat - init.z0).abs();
            let dw = trained.delta_w.norm_fro();
            let leading = schuessler_weight_change(p.z_hat, init.z0, g);
            let sv = crate::linalg::singular_values(trained.delta_w.view())?;
            rows.push(format!(
                "{point},{rep},ok,{g:?},{one_minus_g2:?},{},{seed},{:?},{},{dw:?},{leading:?},{:?},{:?},{:?},{:?},{:?}",
                p.units,
                init.z0,
                trained.steps,
                dw / offset,
                leading / offset,
                init.weight_change(p.z_hat) / offset,
                sv[1] / sv[0],
                init.sv_ratio(p.z_hat)
            ));
        }
    }
    write(
        data,
        "weight_change.csv",
        "point,replicate,status,g,one_minus_g2,N,seed,z0,steps,dw_norm_sim,dw_norm_theory,\
         dw_per_offset_sim,dw_per_offset_theory,dw_per_offset_second_order_theory,sv_ratio_sim,\
         sv_ratio_theory",
        &rows,
    )
}
