//! `learndyn theory ...`: calculators for theorists, printing closed-form results of
//! `learndyn::theory` without a config or an output folder.

use super::Failure;
use clap::{Subcommand, ValueEnum};
use learndyn::linalg::Matrix;
use learndyn::theory::mean_field::{self, MeanFieldOptions, RankOne, RuleKind, StationaryState};
use learndyn::theory::partial_obs::{self, Problem, TimeKind};
use learndyn::theory::random_init;
use num_complex::Complex64;
use serde_json::json;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum TheoryCommand {
    /// The stationary least-squares student of a linear teacher observed at a subset of units
    /// (theory/partial_observation.md PO-1..PO-7): B_hat, its eigenvalues and timescales.
    PartialObservation {
        /// Teacher matrix B (D x D float64 .npy). Continuous time: dx = (B - I) x dt + dW;
        /// discrete time: x_{t+1} = B x_t + xi_t.
        #[arg(long)]
        teacher: PathBuf,
        /// Observed units, 0-based: a comma list with inclusive ranges, e.g. 0,3 or 0-24.
        /// B_hat's rows and columns follow this order.
        #[arg(long, value_name = "LIST")]
        observed: String,
        /// Continuous or discrete time.
        #[arg(long, value_enum, default_value_t = Time::Continuous)]
        time: Time,
        /// Process-noise covariance Q (D x D symmetric .npy) [default: identity].
        #[arg(long, value_name = "Q.npy")]
        q: Option<PathBuf>,
        /// Standard deviation of white observation noise on each observed unit (the attenuated
        /// fit, PO-4).
        #[arg(long, value_name = "S", default_value_t = 0.0)]
        obs_noise: f64,
        /// Print one JSON object (B_hat rows, eigenvalues as [re, im] sorted by real part
        /// largest first, timescales in the same order, teacher_timescales) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Stationary mean field of a rank-one RNN on a random bulk, J = g chi/sqrt(N) + m n^T/N,
    /// phi = tanh (Mastrogiuseppe & Ostojic 2018; theory/mean_field.md MF-1..MF-6): kappa,
    /// Delta_0, the stable branch and the outlier eigenvalue of J.
    MeanField {
        /// Overlap sigma_mn = Cov(m_i, n_i): the outlier eigenvalue of J as N -> infinity.
        #[arg(long, allow_negative_numbers = true)]
        sigma_mn: f64,
        /// Bulk strength g, 0 <= g < 1 (the radius of the bulk of J's spectrum).
        #[arg(long, allow_negative_numbers = true)]
        g: f64,
        /// Standard deviation of m_i (kappa scales as 1/sigma_m).
        #[arg(long, allow_negative_numbers = true, default_value_t = 1.0)]
        sigma_m: f64,
        /// Largest accepted change of kappa and Delta_0 between two quadrature orders.
        #[arg(long, default_value_t = MeanFieldOptions::default().tol)]
        tol: f64,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Lag-space tangent kernel of a randomly initialized linear RNN in NTK parametrization,
    /// W entries N(0, rho^2), F and C N(0, 1), all trained (Emami et al. 2021;
    /// theory/random_init.md RI-2, RI-4): Theta_jj = 2 rho^{2j} + j rho^{2(j-1)} per lag, and
    /// with --width the leading-order sd of one network's Theta_jj.
    LagKernel {
        /// Init scale rho of the recurrent weights (the spectral radius of W/sqrt(n)).
        #[arg(long, allow_negative_numbers = true)]
        rho: f64,
        /// Number of lags, 0..LAGS-1.
        #[arg(long, default_value_t = 8)]
        lags: usize,
        /// Width n of a finite network: also print the sd of its empirical Theta_jj (RI-4).
        #[arg(long)]
        width: Option<usize>,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Time {
    Continuous,
    Discrete,
}

pub fn theory(cmd: TheoryCommand) -> Result<(), Failure> {
    match cmd {
        TheoryCommand::PartialObservation {
            teacher,
            observed,
            time,
            q,
            obs_noise,
            json,
        } => partial_observation(&teacher, &observed, time, q.as_deref(), obs_noise, json),
        TheoryCommand::MeanField {
            sigma_mn,
            g,
            sigma_m,
            tol,
            json,
        } => mean_field_cmd(sigma_mn, g, sigma_m, tol, json),
        TheoryCommand::LagKernel {
            rho,
            lags,
            width,
            json,
        } => lag_kernel_cmd(rho, lags, width, json),
    }
}

/// Parse `0,3,5-7` into `[0, 3, 5, 6, 7]` (inclusive ranges, order kept).
fn parse_observed(s: &str) -> Result<Vec<usize>, Failure> {
    let bad = |part: &str| {
        Failure::Input(anyhow::anyhow!(
            "--observed: '{part}' is not a unit index or an inclusive range like 0-24 \
             (give 0-based indices, comma separated, e.g. --observed 0,3)"
        ))
    };
    let mut out = vec![];
    for part in s.split(',').map(str::trim) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (
                    a.trim().parse().map_err(|_| bad(part))?,
                    b.trim().parse().map_err(|_| bad(part))?,
                );
                if b < a {
                    return Err(bad(part));
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().map_err(|_| bad(part))?),
        }
    }
    Ok(out)
}

fn pair(z: &Complex64) -> [f64; 2] {
    [z.re, z.im]
}

fn rows(m: &Matrix) -> Vec<Vec<f64>> {
    (0..m.nrows())
        .map(|i| (0..m.ncols()).map(|j| m.get(i, j)).collect())
        .collect()
}

fn partial_observation(
    teacher: &std::path::Path,
    observed: &str,
    time: Time,
    q: Option<&std::path::Path>,
    obs_noise: f64,
    as_json: bool,
) -> Result<(), Failure> {
    let input = |e: learndyn::Error| Failure::Input(e.into());
    let b = learndyn::npy::read_matrix(teacher).map_err(input)?;
    let q = q
        .map(learndyn::npy::read_matrix)
        .transpose()
        .map_err(input)?;
    let observed = parse_observed(observed)?;
    let time = match time {
        Time::Continuous => TimeKind::Continuous,
        Time::Discrete => TimeKind::Discrete,
    };
    let problem = Problem {
        teacher: &b,
        noise: q.as_ref(),
        observed: &observed,
        time,
        obs_noise,
    };
    let s = partial_obs::stationary_student(&problem).map_err(|e| match e {
        learndyn::Error::Linalg(learndyn::linalg::LinalgError::NoConvergence { .. }) => {
            Failure::Run(e.into())
        }
        e => input(e),
    })?;
    if as_json {
        let v = json!({
            "B_hat": rows(&s.b_hat),
            "eigenvalues": s.eigenvalues.iter().map(pair).collect::<Vec<_>>(),
            "timescales": s.timescales,
            "teacher_eigenvalues": s.teacher_eigenvalues.iter().map(pair).collect::<Vec<_>>(),
            "teacher_timescales": s.teacher_timescales,
            "observed": observed,
            "time": time,
            "obs_noise": obs_noise,
            "D": b.nrows(),
            "d": observed.len(),
            "solve": s.solve,
        });
        println!("{v}");
        return Ok(());
    }
    let unit = match time {
        TimeKind::Continuous => "time units",
        TimeKind::Discrete => "steps",
    };
    println!(
        "stationary least-squares student: D = {}, d = {} observed, {:?} time, obs noise {obs_noise} ({:?} solve)",
        b.nrows(),
        observed.len(),
        time,
        s.solve
    );
    println!(
        "{:>4}  {:>24}  {:>14}  {:>24}  {:>14}",
        "k", "student eigenvalue", "timescale", "teacher eigenvalue", "timescale"
    );
    let n = s.eigenvalues.len().max(s.teacher_eigenvalues.len());
    let z = |v: &[Complex64], k: usize| {
        v.get(k)
            .map_or(String::new(), |l| format!("{:.6}{:+.6}i", l.re, l.im))
    };
    let t = |v: &[f64], k: usize| v.get(k).map_or(String::new(), |x| format!("{x:.6}"));
    for k in 0..n.min(20) {
        println!(
            "{k:>4}  {:>24}  {:>14}  {:>24}  {:>14}",
            z(&s.eigenvalues, k),
            t(&s.timescales, k),
            z(&s.teacher_eigenvalues, k),
            t(&s.teacher_timescales, k)
        );
    }
    if n > 20 {
        println!("  ... {} more (--json prints all)", n - 20);
    }
    println!("timescales in {unit}; --json prints B_hat too");
    Ok(())
}

fn state_json(s: &StationaryState) -> serde_json::Value {
    json!({
        "kappa": s.kappa,
        "delta0": s.delta0,
        "mean_dphi": s.mean_dphi,
        "mean_phi2": s.mean_phi2,
        "bulk_radius": s.bulk_radius,
    })
}

fn mean_field_cmd(
    sigma_mn: f64,
    g: f64,
    sigma_m: f64,
    tol: f64,
    as_json: bool,
) -> Result<(), Failure> {
    let input = |e: learndyn::Error| Failure::Input(e.into());
    let net = RankOne::new(sigma_mn, sigma_m, g).map_err(input)?;
    let mf = mean_field::solve(&net, &MeanFieldOptions { tol }).map_err(input)?;
    let stable = match mf.stable {
        mean_field::Branch::Trivial => mf.trivial,
        mean_field::Branch::Nontrivial => mf.nontrivial.unwrap_or(mf.trivial),
    };
    let quadrature = match mf.quadrature {
        None => json!(null),
        Some(RuleKind::GaussHermite { order }) => json!({"rule": "gauss-hermite", "order": order}),
        Some(RuleKind::Trapezoid { step }) => json!({"rule": "trapezoid", "step": step}),
    };
    if as_json {
        let v = json!({
            "sigma_mn": sigma_mn,
            "sigma_m": sigma_m,
            "g": g,
            "stable": mf.stable.name(),
            "kappa": stable.kappa,
            "delta0": stable.delta0,
            "outlier": mf.outlier,
            "trivial_growth_rate": mf.outlier - 1.0,
            "trivial": state_json(&mf.trivial),
            "nontrivial": mf.nontrivial.as_ref().map(state_json),
            "quadrature": quadrature,
            "error_estimate": mf.error_estimate,
        });
        println!("{v}");
        return Ok(());
    }
    println!(
        "rank-one mean field, phi = tanh: sigma_mn = {sigma_mn}, sigma_m = {sigma_m}, g = {g}"
    );
    println!(
        "outlier eigenvalue of J: {} (n^T m / N as N -> infinity); bulk radius g = {g}",
        mf.outlier
    );
    println!(
        "trivial state kappa = 0, Delta_0 = 0: {} (Jacobian outlier sigma_mn - 1 = {:.6})",
        if mf.outlier > 1.0 {
            "unstable"
        } else {
            "stable"
        },
        mf.outlier - 1.0
    );
    match &mf.nontrivial {
        Some(s) => println!(
            "non-trivial states +-kappa: kappa = {:.6}, Delta_0 = {:.6}, <[phi']> = {:.6}, \
             <[phi^2]> = {:.6}, bulk radius of J phi' = {:.6}",
            s.kappa, s.delta0, s.mean_dphi, s.mean_phi2, s.bulk_radius
        ),
        None => println!("non-trivial states: none (they exist for sigma_mn > 1)"),
    }
    println!(
        "stable branch: {}; kappa = {:.6}, Delta_0 = {:.6}",
        mf.stable.name(),
        stable.kappa,
        stable.delta0
    );
    match mf.quadrature {
        Some(RuleKind::GaussHermite { order }) => println!(
            "quadrature: Gauss-Hermite order {order}, error estimate {:.1e}",
            mf.error_estimate
        ),
        Some(RuleKind::Trapezoid { step }) => println!(
            "quadrature: trapezoid step {step:.4e}, error estimate {:.1e}",
            mf.error_estimate
        ),
        None => {}
    }
    Ok(())
}

/// Largest lag count of `theory lag-kernel`.
const MAX_LAGS: usize = 200;
/// Largest lag count with `--width`: the sd of lag j counts non-crossing pairings of words up
/// to length 4j, (j + 1)^2 of them, O(j^5) work per lag.
const MAX_SD_LAGS: usize = 16;

fn lag_kernel_cmd(
    rho: f64,
    lags: usize,
    width: Option<usize>,
    as_json: bool,
) -> Result<(), Failure> {
    let bad = |msg: String| Failure::Input(anyhow::anyhow!(msg));
    if !rho.is_finite() || rho < 0.0 {
        return Err(bad(format!(
            "rho: {rho} is not a finite non-negative init scale (e.g. --rho 0.8)"
        )));
    }
    if lags == 0 || lags > MAX_LAGS {
        return Err(bad(format!("lags: {lags} is not in 1..={MAX_LAGS}")));
    }
    if width == Some(0) {
        return Err(bad("width: 0 is not a network width".to_string()));
    }
    if width.is_some() && lags > MAX_SD_LAGS {
        return Err(bad(format!(
            "lags: {lags} with --width is not in 1..={MAX_SD_LAGS} (the sd's cost grows like lags^6)"
        )));
    }
    let r2 = rho * rho;
    let theta = random_init::lag_kernel(rho, lags);
    let cf: Vec<f64> = (0..lags).map(|j| r2.powi(j as i32)).collect();
    let w_part: Vec<f64> = theta.iter().zip(&cf).map(|(t, c)| t - 2.0 * c).collect();
    let sd: Option<Vec<f64>> = width.map(|n| {
        (0..lags)
            .map(|j| random_init::lag_ntk_sd(rho, j, j, n))
            .collect()
    });
    if as_json {
        let v = json!({
            "rho": rho,
            "lags": (0..lags).collect::<Vec<_>>(),
            "theta": theta,
            "c_part": cf,
            "f_part": cf,
            "w_part": w_part,
            "width": width,
            "sd": sd,
        });
        println!("{v}");
        return Ok(());
    }
    println!(
        "lag-space NTK of a linear RNN in NTK parametrization, rho = {rho}: \
         Theta_jj = 2 rho^(2j) + j rho^(2(j-1)), off-diagonal 0 (wide limit)"
    );
    let sd_head = width.map_or(String::new(), |n| {
        format!("  {:>12}", format!("sd (n={n})"))
    });
    println!(
        "{:>4}  {:>12}  {:>12}  {:>12}{sd_head}",
        "lag", "Theta_jj", "C + F", "W"
    );
    for (j, ((t, c), w)) in theta.iter().zip(&cf).zip(&w_part).enumerate() {
        let sd_cell = sd
            .as_ref()
            .map_or(String::new(), |s| format!("  {:>12.6}", s[j]));
        println!("{j:>4}  {t:>12.6}  {:>12.6}  {w:>12.6}{sd_cell}", 2.0 * c);
    }
    Ok(())
}
