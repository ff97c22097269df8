//! Workload 1 of the peers (`deep_linear_gd.py`): a deep linear network trained by full-batch
//! gradient descent with hand-written backprop.
//!
//! Problem (identical to the peers', built with the portable random numbers): layer dims
//! `[d_in, N, ..., N, d_out]` (`L` weight matrices), `X = unit(seed, 1, (d_in, P))` (column `p`
//! is sample `p`), `W* = unit(seed, 2, (d_out, d_in)) / sqrt(d_in)`, `Y = W* X`,
//! `W_l = sigma / sqrt(fan_in) unit(seed, 10 + l, (fan_out, fan_in))`,
//! `loss = 1/(2P) ||W_L ... W_1 X - Y||_F^2`. One GD step: forward on the data
//! (`H_0 = X`, `H_l = W_l H_{l-1}`; no covariance shortcut), `G_L = (H_L - Y) / P`, backward
//! `dW_l = G_l H_{l-1}^T`, `G_{l-1} = W_l^T G_l`, and `W_l -= eta dW_l` for all layers at once.
//!
//! Implementation: every buffer is allocated once in [`DeepLinearGd::new`]; a step is `3L - 1`
//! GEMMs (`L` forward, `L - 1` input gradients, `L` weight updates) plus one fused elementwise pass (`E = H_L - Y`, `sum E^2`, `G_L = E / P`, written over
//! `H_L`). The update is folded into the weight-gradient GEMM (`W_l += (-eta) G_l H_{l-1}^T`,
//! accumulated in place, no `dW` buffer). It is done right after `G_{l-1} = W_l^T G_l`, the last
//! use of the old `W_l` in the step, so it equals the simultaneous update exactly; only the
//! rounding of `W - eta*dW` differs from numpy (fewer roundings). The data are
//! also kept as `X^T` (built once with the problem) for the first layer's update.
//!
//! Timing as the peers: one untimed warm-up run, then `repeats` timed runs, each starting from
//! the same initial weights (copied outside the timer); a run is `S` steps plus one final loss
//! evaluation, reported per step.

use super::ode::gemm_rate;
use super::{cpu_time, env_info, summarize, Timings};
use learndyn::linalg::{gemm, MatRef, Matrix};
use learndyn::random::portable;
use serde_json::{json, Value};
use std::time::Instant;

/// A configuration `(N, L, P, S)`.
type Config = (usize, usize, usize, usize);

/// The peers' three configurations `(N, L, P, S)` (all with `d_in = d_out = N`).
pub const CONFIGS: [(usize, usize, usize, usize); 3] =
    [(64, 2, 256, 200), (256, 4, 1024, 30), (1024, 2, 4096, 5)];

/// Learning rate (the peers' default).
pub const ETA: f64 = 0.05;
/// Initial gain `sigma` of `W_l = sigma / sqrt(fan_in) z` (the peers' default).
pub const SIGMA: f64 = 0.1;

/// `((N, L, P, S), loss_0, loss_S)` of the peers' numpy implementation with seed 0, eta 0.05,
/// sigma 0.1, `d_in = d_out = N`, copied from `../shared/peers/results.jsonl` (the
/// `"threads_setting": "1"` lines of `deep_linear_gd`; numpy and JAX agree to <= 8e-15 there).
const PEER_LOSSES: [(Config, f64, f64); 3] = [
    ((64, 2, 256, 200), 31.79770745660094, 0.3244904496817421),
    ((256, 4, 1024, 30), 127.80768776237244, 127.80577401414664),
    ((1024, 2, 4096, 5), 511.7784939629393, 504.80110735901),
];

/// The peers' reference `(loss_0, loss_S)` for a standard configuration with seed 0, else `None`.
pub fn peer_losses(n: usize, l: usize, p: usize, steps: usize, seed: u64) -> Option<(f64, f64)> {
    if seed != 0 {
        return None;
    }
    PEER_LOSSES
        .iter()
        .find(|(c, _, _)| *c == (n, l, p, steps))
        .map(|&(_, a, b)| (a, b))
}

/// A deep linear network with its data and preallocated work buffers, ready for GD.
#[derive(Debug, Clone)]
pub struct DeepLinearGd {
    dims: Vec<usize>,
    x: Matrix,
    /// `X^T` (`P x d_in`), built once: the first layer's update `G_1 X^T` reads it as a plain
    /// column-major operand, which faer multiplies faster than the transposed view of `X`.
    xt: Matrix,
    y: Matrix,
    w0: Vec<Matrix>,
    w: Vec<Matrix>,
    /// `h[l]` = `H_{l+1}` (`dims[l+1] x P`); the last one is overwritten by `G_L` in a step.
    h: Vec<Matrix>,
    /// Ping-pong buffers for the hidden-layer gradients `G_l`, `l < L` (`N x P`).
    g: Vec<Matrix>,
}

impl DeepLinearGd {
    /// The peers' problem: dims `[d_in, n, ..., n, d_out]` with `l` weight matrices, `p` samples.
    pub fn new(
        d_in: usize,
        n: usize,
        d_out: usize,
        l: usize,
        p: usize,
        sigma: f64,
        seed: u64,
    ) -> Result<Self, String> {
        if d_in == 0 || n == 0 || d_out == 0 || l == 0 || p == 0 {
            return Err(format!(
                "deep linear GD needs positive sizes, got d_in={d_in} N={n} d_out={d_out} L={l} P={p}"
            ));
        }
        let mut dims = vec![d_in];
        dims.extend(std::iter::repeat_n(n, l - 1));
        dims.push(d_out);
        let x = portable::unit_matrix(seed, 1, d_in, p);
        // numpy divides by sqrt(d_in) (not a multiplication by its reciprocal).
        let sq = (d_in as f64).sqrt();
        let mut w_star = portable::unit_matrix(seed, 2, d_out, d_in);
        w_star.as_mut_slice().iter_mut().for_each(|v| *v /= sq);
        let y = w_star.matmul(&x);
        let w0: Vec<Matrix> = (1..=l)
            .map(|k| {
                let (fo, fi) = (dims[k], dims[k - 1]);
                portable::unit_matrix(seed, 10 + k as u64, fo, fi).scale(sigma / (fi as f64).sqrt())
            })
            .collect();
        let h = (1..=l).map(|k| Matrix::zeros(dims[k], p)).collect();
        let g = (0..(l - 1).min(2)).map(|_| Matrix::zeros(n, p)).collect();
        Ok(DeepLinearGd {
            dims,
            xt: x.transpose(),
            x,
            y,
            w: w0.clone(),
            w0,
            h,
            g,
        })
    }

    /// Current weights `W_1 .. W_L` (`W_l` is `dims[l] x dims[l-1]`).
    #[cfg(test)]
    pub fn weights(&self) -> &[Matrix] {
        &self.w
    }

    /// Number of samples `P`.
    pub fn samples(&self) -> usize {
        self.x.ncols()
    }

    /// GEMM flops of one forward pass (one loss evaluation): `2 P sum_l fan_in fan_out`.
    pub fn forward_flops(&self) -> u64 {
        let p = self.samples() as u64;
        self.dims
            .windows(2)
            .map(|d| 2 * d[0] as u64 * d[1] as u64 * p)
            .sum()
    }

    /// The peers' `flops_per_step_est`: `6 P sum_l fan_in fan_out - 2 P d_in N` (forward,
    /// weight gradients, and input gradients of all layers but the first).
    pub fn flops_per_step_est(&self) -> u64 {
        let p = self.samples() as u64;
        3 * self.forward_flops() - 2 * self.dims[0] as u64 * self.dims[1] as u64 * p
    }

    /// Back to the initial weights (a copy into the existing buffers, no allocation).
    pub fn reset(&mut self) {
        for (w, w0) in self.w.iter_mut().zip(&self.w0) {
            w.as_mut_slice().copy_from_slice(w0.as_slice());
        }
    }

    /// `H_l = W_l H_{l-1}` for all layers, `H_0 = X`.
    fn forward(&mut self) {
        let DeepLinearGd { x, w, h, .. } = self;
        for l in 0..w.len() {
            let (done, rest) = h.split_at_mut(l);
            let input = if l == 0 { x.view() } else { done[l - 1].view() };
            gemm(
                rest[0].view_mut(),
                w[l].view(),
                false,
                input,
                false,
                1.0,
                false,
            );
        }
    }

    /// Loss at the current weights (forward pass and loss; `H_L` is kept).
    pub fn loss(&mut self) -> f64 {
        self.forward();
        let p = self.samples();
        let last = self.h.len() - 1;
        let s = error_pass(self.h[last].as_mut_slice(), self.y.as_slice(), None);
        0.5 * s / p as f64
    }

    /// One GD step with learning rate `eta`; returns the loss before the step.
    pub fn step(&mut self, eta: f64) -> f64 {
        self.forward();
        let p = self.samples();
        let lc = self.w.len();
        // G_L = (H_L - Y) * (1/P), written over H_L (numpy: `E * (1.0 / P)`).
        let s = error_pass(
            self.h[lc - 1].as_mut_slice(),
            self.y.as_slice(),
            Some(1.0 / p as f64),
        );
        let loss = 0.5 * s / p as f64;
        let DeepLinearGd { xt, w, h, g, .. } = self;
        for l in (0..lc).rev() {
            // `w[l]` is W_{l+1}: it maps H_l (H_0 = X) to H_{l+1}, whose gradient G_{l+1} is in
            // H_L's buffer for the last layer, else in `g[l % 2]`; G_l goes to `g[(l - 1) % 2]`.
            let input = if l == 0 {
                Operand::Transposed(xt.view())
            } else {
                Operand::Plain(h[l - 1].view())
            };
            if l == lc - 1 {
                let g_out = h[l].view();
                if l > 0 {
                    gemm(
                        g[(l - 1) % 2].view_mut(),
                        w[l].view(),
                        true,
                        g_out,
                        false,
                        1.0,
                        false,
                    );
                }
                update(&mut w[l], g_out, input, eta);
            } else if l > 0 {
                let (g_out, g_in) = read_write(g, l % 2, (l - 1) % 2);
                gemm(
                    g_in.view_mut(),
                    w[l].view(),
                    true,
                    g_out.view(),
                    false,
                    1.0,
                    false,
                );
                update(&mut w[l], g_out.view(), input, eta);
            } else {
                update(&mut w[0], g[0].view(), input, eta);
            }
        }
        loss
    }

    /// `losses.len() - 1` GD steps from the current weights; `losses[k]` is the loss before
    /// step `k`, the last entry the loss after the final step (the peers' `np_train`).
    pub fn train(&mut self, eta: f64, losses: &mut [f64]) {
        let Some(s) = losses.len().checked_sub(1) else {
            return;
        };
        for loss in losses.iter_mut().take(s) {
            *loss = self.step(eta);
        }
        losses[s] = self.loss();
    }
}

/// The input `H` of a layer, stored as `H` or as `H^T`.
enum Operand<'a> {
    Plain(MatRef<'a>),
    Transposed(MatRef<'a>),
}

/// `W += (-eta) G H^T`: the weight gradient `dW = G H^T` and the GD update in one GEMM.
fn update(w: &mut Matrix, g_out: MatRef<'_>, input: Operand<'_>, eta: f64) {
    match input {
        Operand::Plain(hm) => gemm(w.view_mut(), g_out, false, hm, true, -eta, true),
        Operand::Transposed(ht) => gemm(w.view_mut(), g_out, false, ht, false, -eta, true),
    }
}

/// `(&g[read], &mut g[write])` for `read != write`.
fn read_write(g: &mut [Matrix], read: usize, write: usize) -> (&Matrix, &mut Matrix) {
    debug_assert_ne!(read, write);
    if read < write {
        let (a, b) = g.split_at_mut(write);
        (&a[read], &mut b[0])
    } else {
        let (a, b) = g.split_at_mut(read);
        (&b[0], &mut a[write])
    }
}

/// `sum (h - y)^2`; with `Some(c)` also overwrites `h` by `(h - y) * c`. Eight independent
/// partial sums so that the loop vectorizes and is not bound by the add latency.
fn error_pass(h: &mut [f64], y: &[f64], scale: Option<f64>) -> f64 {
    debug_assert_eq!(h.len(), y.len());
    let mut acc = [0.0f64; 8];
    let mut hc = h.chunks_exact_mut(8);
    let mut yc = y.chunks_exact(8);
    match scale {
        Some(c) => {
            for (hh, yy) in (&mut hc).zip(&mut yc) {
                for k in 0..8 {
                    let e = hh[k] - yy[k];
                    acc[k] += e * e;
                    hh[k] = e * c;
                }
            }
            for (k, (hh, yy)) in hc
                .into_remainder()
                .iter_mut()
                .zip(yc.remainder())
                .enumerate()
            {
                let e = *hh - yy;
                acc[k] += e * e;
                *hh = e * c;
            }
        }
        None => {
            for (hh, yy) in (&mut hc).zip(&mut yc) {
                for k in 0..8 {
                    let e = hh[k] - yy[k];
                    acc[k] += e * e;
                }
            }
            for (k, (hh, yy)) in hc.into_remainder().iter().zip(yc.remainder()).enumerate() {
                let e = *hh - yy;
                acc[k] += e * e;
            }
        }
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
}

/// The peers' timing: training runs into `warm` (untimed warm-up), then `repeats` timed runs
/// into `timed`, each after [`DeepLinearGd::reset`] outside the timer.
fn time_runs(
    prob: &mut DeepLinearGd,
    eta: f64,
    repeats: usize,
    warm: &mut [f64],
    timed: &mut [f64],
) -> Timings {
    prob.reset();
    prob.train(eta, warm);
    let mut t = Timings {
        wall: Vec::with_capacity(repeats),
        cpu_per_wall: Vec::with_capacity(repeats),
        cpu: Vec::with_capacity(repeats),
    };
    for _ in 0..repeats {
        prob.reset();
        let c0 = cpu_time();
        let w0 = Instant::now();
        prob.train(eta, timed);
        let wall = w0.elapsed().as_secs_f64();
        let cpu = cpu_time() - c0;
        t.wall.push(wall);
        t.cpu.push(cpu);
        t.cpu_per_wall.push(cpu / wall);
    }
    t
}

/// One JSON line for workload 1 with hidden width `n` (`d_in = d_out = n`), depth `l` (weight
/// matrices), `p` samples, `steps` GD steps per timed run, `repeats` timed runs, `seed`.
pub fn gd_line(
    n: usize,
    l: usize,
    p: usize,
    steps: usize,
    repeats: usize,
    seed: u64,
) -> Result<Value, String> {
    if steps == 0 || repeats == 0 {
        return Err(format!(
            "deep linear GD needs steps >= 1 and repeats >= 1, got steps={steps} repeats={repeats}"
        ));
    }
    let mut prob = DeepLinearGd::new(n, n, n, l, p, SIGMA, seed)?;
    let flops = prob.flops_per_step_est();
    let mut losses = vec![0.0; steps + 1];
    let mut timed = vec![0.0; steps + 1];
    let t = time_runs(&mut prob, ETA, repeats, &mut losses, &mut timed);
    let s = steps as f64;
    let per_step: Vec<f64> = t.wall.iter().map(|w| w / s).collect();
    let cpu_per_step: Vec<f64> = t.cpu.iter().map(|c| c / s).collect();
    let (loss_0, loss_s) = (losses[0], losses[steps]);

    let (checks, ok) =
        super::training_checks(&losses, &timed, peer_losses(n, l, p, steps, seed), true);

    let rate = gemm_rate(n);
    let bound = flops as f64 / rate;
    // A timed run also does the final loss evaluation (one forward pass), which the peers'
    // per-step estimate leaves out; this bound includes its share, `forward_flops / S`.
    let run_flops_per_step = flops as f64 + prob.forward_flops() as f64 / s;
    let bound_run = run_flops_per_step / rate;
    let per_step_summary = summarize(&per_step);
    let median = per_step_summary["median"].as_f64().unwrap_or(f64::NAN);
    Ok(json!({
        "workload": "deep_linear_gd",
        "config": {
            "d_in": n, "N": n, "d_out": n, "L": l, "P": p, "eta": ETA, "sigma": SIGMA,
            "steps": steps, "repeats": repeats, "seed": seed,
        },
        "flops_per_step_est": flops,
        "results": {
            "learndyn": {
                "time_per_step_s": per_step_summary,
                "times_per_step_s": per_step,
                "cpu_per_wall": summarize(&t.cpu_per_wall),
                "cpu_time_per_step_s": summarize(&cpu_per_step),
                "loss_0": loss_0,
                "loss_S": loss_s,
                "flops_per_step_est": flops,
                "gflops_per_s": flops as f64 / median * 1e-9,
                "gemm_rate_flops": rate,
                "gemm_bound_s": bound,
                "wall_over_gemm_bound": median / bound,
                "flops_per_reported_step": run_flops_per_step,
                "gemm_bound_incl_final_loss_s": bound_run,
                "wall_over_gemm_bound_incl_final_loss": median / bound_run,
            }
        },
        "checks": checks,
        "ok": ok,
        "env": env_info(1),
    }))
}
