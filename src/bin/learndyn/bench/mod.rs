//! Benchmarks beside the Python peers (`../shared/peers/`): the *identical* problems (built
//! with the peers' portable random numbers), timed the same way (one warm-up, then `repeats`
//! timed runs, median and min), reported as JSON lines with the peers' keys so that
//! `make_table.py` shows learndyn as more rows or columns. Nothing here prints: `main.rs`
//! writes the lines. Part of the binary, not of the library: it uses only the library's public
//! API.

pub mod cli;
pub mod fit;
pub mod gd;
pub mod ode;
pub mod rnn;
pub mod scan;
pub mod wp;

use serde_json::{json, Value};
use std::time::Instant;

/// Process CPU time in seconds (all threads), from `clock_gettime(CLOCK_PROCESS_CPUTIME_ID)`.
pub fn cpu_time() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own; the clock id is a constant.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return f64::NAN;
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// `{median, min, max, n}` of a sample, as the peers' `summarize`.
pub fn summarize(xs: &[f64]) -> Value {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    };
    json!({
        "median": median,
        "min": v.first().copied().unwrap_or(f64::NAN),
        "max": v.last().copied().unwrap_or(f64::NAN),
        "n": n,
    })
}

/// Wall times, CPU/wall ratios and CPU times of `repeats` timed calls after one warm-up.
pub struct Timings {
    /// Wall time of each timed call, seconds.
    pub wall: Vec<f64>,
    /// Process CPU time / wall time of each call.
    pub cpu_per_wall: Vec<f64>,
    /// Process CPU time of each call, seconds.
    pub cpu: Vec<f64>,
}

/// Time `f` (one untimed warm-up, then `repeats` timed calls).
pub fn time_it(repeats: usize, mut f: impl FnMut()) -> Timings {
    f();
    let mut t = Timings {
        wall: Vec::with_capacity(repeats),
        cpu_per_wall: Vec::with_capacity(repeats),
        cpu: Vec::with_capacity(repeats),
    };
    for _ in 0..repeats {
        let c0 = cpu_time();
        let w0 = Instant::now();
        f();
        let wall = w0.elapsed().as_secs_f64();
        let cpu = cpu_time() - c0;
        t.wall.push(wall);
        t.cpu.push(cpu);
        t.cpu_per_wall.push(cpu / wall);
    }
    t
}

/// The environment block of a JSON line (what affects timing); `threads`: the threads the
/// workload itself runs on (`learndyn_threads`).
pub fn env_info(threads: usize) -> Value {
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| {
            s.split_whitespace()
                .take(3)
                .filter_map(|x| x.parse::<f64>().ok())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let vars: serde_json::Map<String, Value> = [
        "PEERS_THREADS",
        "OPENBLAS_NUM_THREADS",
        "OMP_NUM_THREADS",
        "RAYON_NUM_THREADS",
    ]
    .iter()
    .filter_map(|k| {
        std::env::var(k)
            .ok()
            .map(|v| (k.to_string(), Value::String(v)))
    })
    .collect();
    json!({
        "implementation": "learndyn",
        "learndyn_version": env!("CARGO_PKG_VERSION"),
        "cpu_count": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "machine": std::env::consts::ARCH,
        "env": vars,
        "loadavg": load,
        // make_table.py merges on this string; run_all.sh exports PEERS_THREADS.
        "threads_setting": std::env::var("PEERS_THREADS").unwrap_or_else(|_| "1".into()),
        "learndyn_threads": threads,
        "faer_parallelism": "sequential",
        "bg_busy_before": std::env::var("PEERS_BG_BUSY").ok(),
    })
}

/// Tolerance of the `loss_matches_peers` check (relative): the peers print 16 digits and the
/// trajectories differ only by BLAS rounding (~1e-13 relative, `../shared/peers/README.md`).
pub const PEER_TOL: f64 = 1e-9;

/// The checks shared by the training benchmarks (GD, BPTT): `losses` is the warm-up run's loss
/// before each step and after the last one, `timed` the same from a timed run, `peer` the
/// peers' `(loss_0, loss_S)` when known. Returns the `checks` map and whether all pass:
/// `loss_matches_peers` (relative error < [`PEER_TOL`]), `loss_decreases` (the peers' check;
/// also monotone when `monotone` is asked, as for GD at a stable rate, not for Adam, whose
/// first steps may overshoot), `timed_runs_reproduce_warmup` (bitwise: sequential faer is
/// deterministic).
pub fn training_checks(
    losses: &[f64],
    timed: &[f64],
    peer: Option<(f64, f64)>,
    require_monotone: bool,
) -> (serde_json::Map<String, Value>, bool) {
    let rel_err = |a: f64, b: f64| (a - b).abs() / b.abs().max(1e-300);
    let (loss_0, loss_s) = (losses[0], losses[losses.len() - 1]);
    let mut checks = serde_json::Map::new();
    let mut ok = true;
    if let Some((ref0, ref_s)) = peer {
        let e = rel_err(loss_0, ref0).max(rel_err(loss_s, ref_s));
        let pass = e < PEER_TOL;
        ok &= pass;
        checks.insert(
            "loss_matches_peers".into(),
            json!({"rel_err": e, "tol": PEER_TOL, "ref_loss_0": ref0, "ref_loss_S": ref_s,
                   "pass": pass}),
        );
    }
    let decreases = loss_s < loss_0;
    let monotone = losses.windows(2).all(|w| w[1] - w[0] <= 1e-12 * w[0].abs());
    let pass = decreases && (monotone || !require_monotone);
    ok &= pass;
    checks.insert(
        "loss_decreases".into(),
        json!({"loss_0": loss_0, "loss_S": loss_s, "monotone": monotone, "pass": pass}),
    );
    let same = losses
        .iter()
        .zip(timed)
        .all(|(a, b)| a.to_bits() == b.to_bits());
    ok &= same;
    checks.insert("timed_runs_reproduce_warmup".into(), json!({"pass": same}));
    (checks, ok)
}

#[cfg(test)]
mod tests;
