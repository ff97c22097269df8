//! Workload 4 of the peers (`gru_fit.py`): a latent GRU with an exp-Poisson readout fitted by
//! full-batch Adam to the rates of a teacher GRU, the hot loop of the attractor-recovery
//! benchmark's fits (issue 12 item 5).
//!
//! Problem (identical to the peers', built with the portable random numbers): inputs
//! `Xraw = unit(seed, 401, (B, T, n_in))`, `x_t` of trial `b` = `Xraw[b, t, :]`; a GRU of the
//! PyTorch convention (gates `[r; z; n]`, both bias vectors) with `W_i = unit(3N, n_in) /
//! sqrt(n_in)`, `W_h = gain unit(3N, N) / sqrt(N)`, `b_i, b_h = 0.1 unit(3N)`,
//! `C = out_gain unit(n_out, N) / sqrt(N)`, `d = 0.1 unit(n_out)`: the teacher (streams 402-407,
//! gain 1.5, out_gain 1) gives the targets `y_t = exp(C* h*_t + d*)`, the student (411-416,
//! gain 1, out_gain 0.5) is fitted. `h_0 = 0`; loss `mean over (T, B, n_out) of
//! exp(eta) - y eta`, `eta_t = C h_t + d` at `t = 1..T`; Adam (0.9, 0.999, 1e-8, bias-corrected)
//! at `lr = 1e-2` on all six blocks.
//!
//! Implementation: learndyn's own latent fitter, [`learndyn::recovery::latent::LatentModel`]
//! (form `gru`, Poisson readout, zero initial state, free running; theory/recovery.md RF-3,
//! RF-6) trained by the one [`learndyn::train::Trainer`]. The peers' `T` readouts at
//! `h_1..h_T` are bins `1..T` of a `T + 1`-bin sequence whose bin 0 (`h_0`) is masked out, and
//! the input of bin `s` is `x_{s+1}`.
//!
//! Timing as the other training workloads: one untimed warm-up run, then `repeats` timed runs
//! from the same initial weights (copied outside the timer); a run is `S` steps plus one final
//! loss evaluation, reported per step.

use super::{cpu_time, env_info, summarize, Timings};
use learndyn::linalg::Matrix;
use learndyn::model::Model;
use learndyn::random::portable;
use learndyn::recovery::latent::{Cell, Initial, LatentModel, Procedure, ReadoutKind, SeqData};
use learndyn::train::{Optimizer, TrainSettings, Trainer};
use serde_json::{json, Value};
use std::time::Instant;

/// Adam's learning rate of the peers' problem.
pub const LR: f64 = 1e-2;
/// Inputs of the peers' configurations.
pub const N_IN: usize = 3;
/// Neurons of the peers' configurations.
pub const N_OUT: usize = 60;

/// A configuration `(N, T, B, n_in, n_out, S)`.
pub type Config = (usize, usize, usize, usize, usize, usize);

/// The peers' two configurations.
pub const CONFIGS: [Config; 2] = [
    (64, 200, 256, N_IN, N_OUT, 10),
    (128, 500, 128, N_IN, N_OUT, 3),
];

/// `(config, loss_0, loss_S)` of the peers' JAX implementation, seed 0 (float64), from
/// `python gru_fit.py` (`--N 128 --T 500 --B 128 --steps 3` for the second) in
/// `../shared/peers/` with jax 0.10.2, numpy 2.4.6 (its numpy loss agrees with JAX's to 0).
const PEER_LOSSES: [(Config, f64, f64); 2] = [
    (
        (64, 200, 256, N_IN, N_OUT, 10),
        1.030792051879831,
        0.8977657207700402,
    ),
    (
        (128, 500, 128, N_IN, N_OUT, 3),
        1.0178840970075345,
        0.9040864798172009,
    ),
];

/// The peers' `(loss_0, loss_S)` for a configuration with seed 0, when recorded.
pub fn peer_losses(c: Config, seed: u64) -> Option<(f64, f64)> {
    if seed != 0 {
        return None;
    }
    PEER_LOSSES
        .iter()
        .find(|(k, _, _)| *k == c)
        .map(|&(_, a, z)| (a, z))
}

/// The parameters of a peers' GRU (`gain`, `out_gain`, six streams `W_i, W_h, b_i, b_h, C, d`)
/// written into `theta` of `m`'s layout.
fn fill_gru(
    m: &LatentModel,
    theta: &mut [f64],
    seed: u64,
    streams: [u64; 6],
    gain: f64,
    out_gain: f64,
) -> Result<(), String> {
    let (k, n_in) = (m.cell().k(), m.cell().n_in());
    let n_out = m.data().n;
    let scaled = |s: u64, r: usize, c: usize, f: f64| {
        let mut a = portable::unit_matrix(seed, s, r, c);
        a.as_mut_slice().iter_mut().for_each(|v| *v *= f);
        a
    };
    let sk = (k as f64).sqrt();
    let blocks: [(&str, Matrix); 6] = [
        (
            "wi",
            scaled(streams[0], 3 * k, n_in, 1.0 / (n_in as f64).sqrt()),
        ),
        ("wh", scaled(streams[1], 3 * k, k, gain / sk)),
        ("bi", scaled(streams[2], 3 * k, 1, 0.1)),
        ("bh", scaled(streams[3], 3 * k, 1, 0.1)),
        ("c", scaled(streams[4], n_out, k, out_gain / sk)),
        ("d", scaled(streams[5], n_out, 1, 0.1)),
    ];
    for (name, a) in &blocks {
        m.layout().set(theta, name, a).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The sequence data of the peers' problem with targets `y` (`n_out x (T+1) B`, bin 0 unused).
fn seq_data(x: &[f64], y: Vec<f64>, t: usize, b: usize, n_in: usize, n_out: usize) -> SeqData {
    let cols = (t + 1) * b;
    let mut mask = vec![1.0; n_out * cols];
    mask[..n_out * b].iter_mut().for_each(|v| *v = 0.0);
    SeqData {
        bins: t + 1,
        trials: b,
        y,
        mask,
        x: x.to_vec(),
        z: Vec::new(),
        forced: vec![0.0; cols],
        feat: Vec::new(),
        n: n_out,
        n_in,
        kf: 0,
        nf: 0,
    }
}

fn model(cell: Cell, data: SeqData) -> Result<LatentModel, String> {
    LatentModel::new(
        cell,
        ReadoutKind::Poisson,
        Initial::Zero,
        Procedure::FreeRunning,
        data,
        false,
    )
    .map_err(|e| e.to_string())
}

/// The peers' problem: the student model bound to the teacher's rates and its initial `theta`.
pub fn make_problem(c: Config, seed: u64) -> Result<(LatentModel, Vec<f64>), String> {
    let (n, t, b, n_in, n_out, _) = c;
    if n == 0 || t == 0 || b == 0 || n_in == 0 || n_out == 0 {
        return Err(format!("GRU fit needs positive sizes, got {c:?}"));
    }
    // Xraw[b, t, i] (row-major (B, T, n_in)) -> the input of bin t (column t B + b) is x_{t+1}.
    let raw = portable::unit(seed, 401, b * t * n_in);
    let cols = (t + 1) * b;
    let mut x = vec![0.0; n_in * cols];
    for tt in 0..t {
        for bb in 0..b {
            let col = tt * b + bb;
            x[col * n_in..(col + 1) * n_in]
                .copy_from_slice(&raw[(bb * t + tt) * n_in..(bb * t + tt + 1) * n_in]);
        }
    }
    let cell = Cell::Gru { k: n, n_in };
    let zeros = vec![0.0; n_out * cols];
    // Teacher (teacher_N = N, as the peers' default): run it, read its rates off its states.
    let mut teacher = model(cell, seq_data(&x, zeros, t, b, n_in, n_out))?;
    let mut th = vec![0.0; teacher.n_params()];
    fill_gru(
        &teacher,
        &mut th,
        seed,
        [402, 403, 404, 405, 406, 407],
        1.5,
        1.0,
    )?;
    teacher.loss(&th).map_err(|e| e.to_string())?;
    let l = teacher.layout();
    let (cm, dm) = (l.get(&th, "c").ok_or("c")?, l.get(&th, "d").ok_or("d")?);
    let h = teacher.states();
    let mut y = vec![0.0; n_out * cols];
    for col in b..cols {
        for o in 0..n_out {
            let eta = dm.get(o, 0) + (0..n).map(|j| cm.get(o, j) * h[col * n + j]).sum::<f64>();
            y[col * n_out + o] = eta.exp();
        }
    }
    let student = model(cell, seq_data(&x, y, t, b, n_in, n_out))?;
    let mut theta = vec![0.0; student.n_params()];
    fill_gru(
        &student,
        &mut theta,
        seed,
        [411, 412, 413, 414, 415, 416],
        1.0,
        0.5,
    )?;
    Ok((student, theta))
}

/// `losses.len() - 1` Adam steps from `theta`; `losses[k]` is the loss before step `k`, the
/// last entry the loss after the final step (the peers' `train`).
pub fn train(m: &mut LatentModel, theta: &mut [f64], losses: &mut [f64]) -> Result<(), String> {
    let s = losses.len() - 1;
    let settings = TrainSettings::new(
        LR,
        s as u64,
        Optimizer::Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        },
    );
    let record: Vec<u64> = (0..=s as u64).collect();
    let mut rng = learndyn::random::rng(0, learndyn::random::stream::BATCHES);
    let mut k = 0;
    Trainer::new(settings)
        .train(m, theta, &mut rng, &record, &mut |stamp, _| {
            losses[k] = stamp.loss;
            k += 1;
        })
        .map_err(|e| e.to_string())?;
    if k != s + 1 {
        return Err(format!("the GRU fit diverged after {k} of {s} steps"));
    }
    Ok(())
}

/// One JSON line for workload 4: configuration `c`, `repeats` timed runs, `seed`.
pub fn fit_line(c: Config, repeats: usize, seed: u64) -> Result<Value, String> {
    let (n, t, b, n_in, n_out, steps) = c;
    if steps == 0 || repeats == 0 {
        return Err(format!(
            "GRU fit needs steps >= 1 and repeats >= 1, got steps={steps} repeats={repeats}"
        ));
    }
    let (mut m, theta0) = make_problem(c, seed)?;
    let mut theta = theta0.clone();
    let mut losses = vec![0.0; steps + 1];
    let mut timed = vec![0.0; steps + 1];
    train(&mut m, &mut theta, &mut losses)?;
    let mut tm = Timings {
        wall: Vec::with_capacity(repeats),
        cpu_per_wall: Vec::with_capacity(repeats),
        cpu: Vec::with_capacity(repeats),
    };
    for _ in 0..repeats {
        theta.copy_from_slice(&theta0);
        let c0 = cpu_time();
        let w0 = Instant::now();
        train(&mut m, &mut theta, &mut timed)?;
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
    let (checks, ok) = super::training_checks(&losses, &timed, peer_losses(c, seed), false);
    let flops = (6 * b * t * (3 * n * (n + n_in) + n_out * n)) as u64;
    let rate = super::ode::gemm_rate(n);
    let bound = flops as f64 / rate;
    let per_step_summary = summarize(&per_step);
    let median = per_step_summary["median"].as_f64().unwrap_or(f64::NAN);
    Ok(json!({
        "workload": "gru_fit",
        "config": {
            "N": n, "T": t, "B": b, "n_in": n_in, "n_out": n_out, "teacher_N": n, "lr": LR,
            "steps": steps, "repeats": repeats, "seed": seed,
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
                "gemm_rate_flops": rate,
                "gemm_bound_s": bound,
                "wall_over_gemm_bound": median / bound,
            }
        },
        "checks": checks,
        "ok": ok,
        // The fitter runs a batch as parallel chunks on the rayon pool.
        "env": env_info(rayon::current_num_threads()),
    }))
}
