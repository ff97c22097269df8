//! Workload 2 of the peers (`rnn_bptt.py`): a vanilla RNN trained by full-batch BPTT on the
//! targets of a random teacher RNN.
//!
//! Problem (identical to the peers', built with the portable random numbers), `n_in = 2`,
//! `n_out = 3`, teacher hidden size `N_T = N`:
//! inputs `Xraw = unit(seed, 101, (B, T, n_in))`, `x_t` of sequence `b` = `Xraw[b, t-1, :]`;
//! teacher `W* = 0.9/sqrt(N) unit(seed, 102, (N, N))`, `U* = unit(seed, 103, (N, n_in))`,
//! `C* = unit(seed, 104, (n_out, N)) / sqrt(N)`, targets `y*_t = C* h*_t` (same `phi`);
//! student `W = 0.5/sqrt(N) unit(seed, 111, (N, N))`, `U = unit(seed, 112, (N, n_in))`,
//! `C = unit(seed, 113, (n_out, N)) / sqrt(N)`; loss `1/(2 B T) sum ||yhat_t - y*_t||^2`;
//! plain GD on `(W, U, C)` with `eta = eta_c / N`, `eta_c = 0.5` (identity) or `2.0` (otherwise).
//!
//! Implementation: [`learndyn::model::rnn::Rnn::gd_step`] — the input term, the outputs, the
//! direct backward terms and the three gradient sums are one GEMM each over `T B` columns, the
//! two recurrences `T` GEMMs each (`N x N` by `N x B`); the GD update is fused into the
//! gradient GEMMs. Every buffer is allocated once.
//!
//! Timing as the peers: one untimed warm-up run, then `repeats` timed runs, each starting from
//! the same initial weights (copied outside the timer); a run is `S` steps plus one final loss
//! evaluation, reported per step.

use super::{cpu_time, env_info, summarize, Timings};
use learndyn::linalg::Matrix;
use learndyn::model::rnn::{Activation, Rnn, RnnWorkspace, SeqBatch};
use learndyn::random::portable;
use serde_json::{json, Value};
use std::time::Instant;

/// Input dimension of the peers' problem.
pub const N_IN: usize = 2;
/// Output dimension of the peers' problem.
pub const N_OUT: usize = 3;
/// Teacher gain (`W* = gain / sqrt(N) z`).
pub const TEACHER_GAIN: f64 = 0.9;
/// Student gain (`W = gain / sqrt(N) z`).
pub const STUDENT_GAIN: f64 = 0.5;

/// A configuration `(N, T, B, phi, S)`.
pub type Config = (usize, usize, usize, &'static str, usize);

/// The peers' six configurations `(N, T, B, phi, S)`.
pub const CONFIGS: [Config; 6] = [
    (64, 50, 64, "identity", 20),
    (256, 100, 128, "identity", 5),
    (512, 200, 64, "identity", 3),
    (64, 50, 64, "tanh", 20),
    (256, 100, 128, "tanh", 5),
    (512, 200, 64, "tanh", 3),
];

/// `((N, T, B, phi, S), loss_0, loss_S)` of the peers' numpy implementation, seed 0, default
/// eta, copied from `../shared/peers/results.jsonl` (`"threads_setting": "1"` lines; numpy and
/// JAX agree to <= 6e-16 there).
const PEER_LOSSES: [(Config, f64, f64); 6] = [
    (
        (64, 50, 64, "identity", 20),
        18.146827470158197,
        1.6307374355898616,
    ),
    (
        (256, 100, 128, "identity", 5),
        16.831723778592174,
        6.277305835021875,
    ),
    (
        (512, 200, 64, "identity", 3),
        23.770512400617182,
        7.964701946859426,
    ),
    (
        (64, 50, 64, "tanh", 20),
        1.5303432712531384,
        0.07409110744200328,
    ),
    (
        (256, 100, 128, "tanh", 5),
        0.9671703374359442,
        0.22648299751185846,
    ),
    (
        (512, 200, 64, "tanh", 3),
        2.4307829865264505,
        0.29035268494647026,
    ),
];

/// The peers' reference `(loss_0, loss_S)` for a standard configuration with seed 0, else `None`.
pub fn peer_losses(
    n: usize,
    t: usize,
    b: usize,
    phi: &str,
    steps: usize,
    seed: u64,
) -> Option<(f64, f64)> {
    if seed != 0 {
        return None;
    }
    PEER_LOSSES
        .iter()
        .find(|(c, _, _)| *c == (n, t, b, phi, steps))
        .map(|&(_, a, z)| (a, z))
}

/// The peers' default learning rate `eta_c / N` (`eta_c = 0.5` identity, `2.0` otherwise).
pub fn default_eta(n: usize, phi: Activation) -> f64 {
    let eta_c = if phi == Activation::Identity {
        0.5
    } else {
        2.0
    };
    eta_c / n as f64
}

/// The peers' `make_params`: `W = gain/sqrt(N) z_W`, `U = z_U`, `C = z_C / sqrt(N)`.
fn make_params(
    seed: u64,
    n: usize,
    gain: f64,
    streams: (u64, u64, u64),
    phi: Activation,
) -> Result<Rnn, String> {
    let sq = (n as f64).sqrt();
    let w = portable::unit_matrix(seed, streams.0, n, n).scale(gain / sq);
    let u = portable::unit_matrix(seed, streams.1, n, N_IN);
    let mut c = portable::unit_matrix(seed, streams.2, N_OUT, n);
    c.as_mut_slice().iter_mut().for_each(|v| *v /= sq);
    Rnn::new(w, u, c, phi).map_err(|e| e.to_string())
}

/// The peers' problem: `(data, student at init)` for hidden size `n`, `t` steps, `b` sequences.
pub fn make_problem(
    n: usize,
    t: usize,
    b: usize,
    phi: Activation,
    seed: u64,
) -> Result<(SeqBatch, Rnn), String> {
    if n == 0 || t == 0 || b == 0 {
        return Err(format!(
            "RNN BPTT needs positive sizes, got N={n} T={t} B={b}"
        ));
    }
    // Xraw[b, t, i] (row-major (B, T, n_in)) -> column t B + b, row i.
    let z = portable::unit(seed, 101, b * t * N_IN);
    let x = Matrix::from_fn(N_IN, t * b, |i, col| {
        let (tt, bb) = (col / b, col % b);
        z[(bb * t + tt) * N_IN + i]
    });
    let teacher = make_params(seed, n, TEACHER_GAIN, (102, 103, 104), phi)?;
    // Targets: run the teacher on X (with dummy targets), read y*_t = C* h*_t off its states.
    let dummy =
        SeqBatch::new(x.clone(), Matrix::zeros(N_OUT, t * b), t, b).map_err(|e| e.to_string())?;
    let mut ws = RnnWorkspace::for_problem(&teacher, &dummy);
    teacher.loss(&dummy, &mut ws).map_err(|e| e.to_string())?;
    let hs = ws.hidden_states();
    let mut y = Matrix::zeros(N_OUT, t * b);
    let c = teacher.c();
    for col in 0..t * b {
        for o in 0..N_OUT {
            let mut s = 0.0;
            for k in 0..n {
                s += c.get(o, k) * hs.get(k, b + col);
            }
            y.set(o, col, s);
        }
    }
    let data = SeqBatch::new(x, y, t, b).map_err(|e| e.to_string())?;
    let student = make_params(seed, n, STUDENT_GAIN, (111, 112, 113), phi)?;
    Ok((data, student))
}

/// `losses.len() - 1` GD steps from the current weights; `losses[k]` is the loss before step
/// `k`, the last entry the loss after the final step (the peers' `np_train`).
fn train(
    rnn: &mut Rnn,
    data: &SeqBatch,
    ws: &mut RnnWorkspace,
    eta: f64,
    losses: &mut [f64],
) -> Result<(), String> {
    let Some(s) = losses.len().checked_sub(1) else {
        return Ok(());
    };
    for loss in losses.iter_mut().take(s) {
        *loss = rnn.gd_step(data, ws, eta).map_err(|e| e.to_string())?;
    }
    losses[s] = rnn.loss(data, ws).map_err(|e| e.to_string())?;
    Ok(())
}

/// One JSON line for workload 2: hidden size `n`, `t` time steps, `b` sequences, activation
/// `phi` (`"identity"`, `"tanh"`, or `"relu"`), `steps` GD steps per timed run, `repeats`
/// timed runs, `seed`.
pub fn rnn_line(
    n: usize,
    t: usize,
    b: usize,
    phi: &str,
    steps: usize,
    repeats: usize,
    seed: u64,
) -> Result<Value, String> {
    if steps == 0 || repeats == 0 {
        return Err(format!(
            "RNN BPTT needs steps >= 1 and repeats >= 1, got steps={steps} repeats={repeats}"
        ));
    }
    let act = Activation::parse(phi).map_err(|e| e.to_string())?;
    let eta = default_eta(n, act);
    let (data, rnn0) = make_problem(n, t, b, act, seed)?;
    let mut rnn = rnn0.clone();
    let mut ws = RnnWorkspace::for_problem(&rnn, &data);
    let mut losses = vec![0.0; steps + 1];
    let mut timed = vec![0.0; steps + 1];

    // Warm-up (its trajectory is the one reported), then the timed runs.
    train(&mut rnn, &data, &mut ws, eta, &mut losses)?;
    let mut tm = Timings {
        wall: Vec::with_capacity(repeats),
        cpu_per_wall: Vec::with_capacity(repeats),
        cpu: Vec::with_capacity(repeats),
    };
    for _ in 0..repeats {
        rnn.copy_params_from(&rnn0).map_err(|e| e.to_string())?;
        let c0 = cpu_time();
        let w0 = Instant::now();
        train(&mut rnn, &data, &mut ws, eta, &mut timed)?;
        let wall = w0.elapsed().as_secs_f64();
        let cpu = cpu_time() - c0;
        tm.wall.push(wall);
        tm.cpu.push(cpu);
        tm.cpu_per_wall.push(cpu / wall);
    }
    let s = steps as f64;
    let per_step: Vec<f64> = tm.wall.iter().map(|w| w / s).collect();
    let cpu_per_step: Vec<f64> = tm.cpu.iter().map(|c| c / s).collect();
    let (loss_0, loss_s) = (losses[0], losses[steps]);

    let (checks, ok) = super::training_checks(
        &losses,
        &timed,
        peer_losses(n, t, b, act.name(), steps, seed),
        true,
    );

    let flops = 6 * (b * t * n * n) as u64;
    let per_step_summary = summarize(&per_step);
    let median = per_step_summary["median"].as_f64().unwrap_or(f64::NAN);
    Ok(json!({
        "workload": "rnn_bptt",
        "config": {
            "N": n, "T": t, "B": b, "n_in": N_IN, "n_out": N_OUT, "phi": act.name(),
            "teacher_N": n, "teacher_gain": TEACHER_GAIN, "student_gain": STUDENT_GAIN,
            "eta": eta, "steps": steps, "repeats": repeats, "seed": seed,
        },
        "flops_per_step_est": flops,
        "results": {
            "learndyn": {
                "time_per_step_s": per_step_summary,
                "times_per_step_s": per_step,
                "cpu_per_wall": summarize(&tm.cpu_per_wall),
                "cpu_time_per_step_s": summarize(&cpu_per_step),
                "loss_0": loss_0,
                "loss_S": loss_s,
                "flops_per_step_est": flops,
                "gflops_per_s": flops as f64 / median * 1e-9,
            }
        },
        "checks": checks,
        "ok": ok,
        "env": env_info(1),
    }))
}
