//! `learndyn theory ...`: calculators for theorists, printing closed-form results of
//! `learndyn::theory` without a config or an output folder.

use super::Failure;
use clap::{Subcommand, ValueEnum};
use learndyn::linalg::Matrix;
use learndyn::theory::partial_obs::{self, Problem, TimeKind};
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
