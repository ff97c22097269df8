//! Workload 3 of the peers (`gradient_flow_ode.py`): gradient-flow ODEs.
//!
//! (a) `modes`: `K` independent balanced Saxe modes `u' = 2u(s - u)` (DL-6),
//! `s_k = s_min + (s_max - s_min) k / (K - 1)`, `u(0) = u0`, exact solution known.
//! (b) `matrix`: two-layer linear network, whitened inputs, `d_in = hidden = d_out = N`,
//! `Sigma_yx = unit(seed, 201) / sqrt(N)`, `W_l(0) = sigma / sqrt(N) unit(seed, 201 + l)`;
//! the vector field is learndyn's own [`GradientFlow`] (C-5, 3 GEMMs per evaluation).
//! Reference: DOP853 at `ref_rtol`, `ref_atol`.

use super::{env_info, summarize, time_it};
use learndyn::dynamics::GradientFlow;
use learndyn::integrate::{solve, Atol, Ivp, Method, Options, Output, VectorField, Workspace};
use learndyn::linalg::{gemm, Matrix};
use learndyn::model::{DeepLinearModel, DeepLinearNet, Moments};
use learndyn::random::portable;
use serde_json::{json, Value};
use std::time::Instant;

/// Settings shared by the ODE workloads (defaults are the peers').
#[derive(Debug, Clone)]
pub struct OdeBench {
    /// End time (default 20).
    pub t_end: f64,
    /// Relative tolerance (default 1e-8).
    pub rtol: f64,
    /// Absolute tolerance (default 1e-10).
    pub atol: f64,
    /// Timed repeats after one warm-up (default 5).
    pub repeats: usize,
    /// Seed of the portable random numbers (default 0).
    pub seed: u64,
    /// Methods to run, as [`Method::parse`] names (default dopri5, tsit5, dop853).
    pub methods: Vec<String>,
}

impl Default for OdeBench {
    fn default() -> Self {
        OdeBench {
            t_end: 20.0,
            rtol: 1e-8,
            atol: 1e-10,
            repeats: 5,
            seed: 0,
            methods: vec!["dopri5".into(), "tsit5".into(), "dop853".into()],
        }
    }
}

/// Row name of a method in the peers' tables.
pub fn row_name(method: &str) -> String {
    match method {
        "dopri5" => "learndyn-DP5".into(),
        "tsit5" => "learndyn-Tsit5".into(),
        "dop853" => "learndyn-DOP853".into(),
        other => format!("learndyn-{other}"),
    }
}

struct Modes<'a> {
    s: &'a [f64],
}

impl VectorField for Modes<'_> {
    fn dim(&self) -> usize {
        self.s.len()
    }
    fn eval(&mut self, _t: f64, y: &[f64], dy: &mut [f64]) {
        for ((d, &u), &s) in dy.iter_mut().zip(y).zip(self.s) {
            *d = 2.0 * u * (s - u);
        }
    }
}

fn modes_exact(s: f64, u0: f64, t: f64) -> f64 {
    s / (1.0 + (s / u0 - 1.0) * (-2.0 * s * t).exp())
}

fn opts(rtol: f64, atol: f64) -> Options {
    Options {
        rtol,
        atol: Atol::Scalar(atol),
        ..Options::default()
    }
}

fn method(name: &str) -> Result<Method, String> {
    Method::parse(name)
        .ok_or_else(|| format!("unknown method '{name}'; allowed: {:?}", Method::NAMES))
}

/// One JSON line for the modes workload with `k` modes.
pub fn modes_line(b: &OdeBench, k: usize) -> Result<Value, String> {
    let (u0, s_min, s_max) = (1e-3, 0.5, 5.0);
    let s: Vec<f64> = (0..k)
        .map(|i| {
            if k == 1 {
                s_min
            } else {
                s_min + (s_max - s_min) * i as f64 / (k - 1) as f64
            }
        })
        .collect();
    let y0 = vec![u0; k];
    let exact_end: Vec<f64> = s.iter().map(|&si| modes_exact(si, u0, b.t_end)).collect();
    let o = opts(b.rtol, b.atol);
    let mut results = serde_json::Map::new();
    let mut checks = serde_json::Map::new();
    let mut ok = true;
    for name in &b.methods {
        let m = method(name)?;
        let mut ws = Workspace::new(k);
        let ivp = Ivp::new(0.0, &y0, b.t_end);
        let mut run = || {
            solve(
                &m,
                &mut Modes { s: &s },
                &ivp,
                &o,
                &mut ws,
                &mut Output::end(),
            )
        };
        let sol = run().map_err(|e| e.to_string())?;
        let timings = time_it(b.repeats, || {
            let _ = run();
        });
        let err_end = sol
            .y_end
            .iter()
            .zip(&exact_end)
            .map(|(y, e)| (y - e).abs() / e.abs())
            .fold(0.0, f64::max);
        let err_end_abs = sol
            .y_end
            .iter()
            .zip(&exact_end)
            .map(|(y, e)| (y - e).abs())
            .fold(0.0, f64::max);
        // Untimed: relative error at every accepted step.
        let mut err_traj = 0.0f64;
        let mut cb = |t: f64, y: &[f64]| {
            for (&yi, &si) in y.iter().zip(&s) {
                let e = modes_exact(si, u0, t);
                err_traj = err_traj.max((yi - e).abs() / e.abs());
            }
        };
        let mut ws2 = Workspace::new(k);
        solve(
            &m,
            &mut Modes { s: &s },
            &ivp,
            &o,
            &mut ws2,
            &mut Output::every_step(&mut cb),
        )
        .map_err(|e| e.to_string())?;
        let row = row_name(name);
        let pass = err_end.max(err_traj) < 1e-5;
        ok &= pass;
        checks.insert(
            format!("closed_form_{row}"),
            json!({"rel_err": err_end.max(err_traj), "tol": 1e-5, "pass": pass}),
        );
        results.insert(
            row,
            json!({
                "wall_s": summarize(&timings.wall),
                "times_s": timings.wall,
                "cpu_per_wall": summarize(&timings.cpu_per_wall),
                "cpu_s": summarize(&timings.cpu),
                "compile_s": 0.0,
                "nfev": sol.stats.rhs_evals,
                "n_steps": sol.stats.accepted,
                "n_rejected": sol.stats.rejected,
                "err_end_abs": err_end_abs,
                "err_end_rel": err_end,
                "err_traj_rel": err_traj,
            }),
        );
    }
    Ok(json!({
        "workload": "gradient_flow_ode_modes",
        "config": {
            "problem": "modes", "t_end": b.t_end, "rtol": b.rtol, "atol": b.atol,
            "repeats": b.repeats, "seed": b.seed, "K": k, "u0": u0, "s_min": s_min, "s_max": s_max,
        },
        "reference": {"kind": "closed form"},
        "results": results,
        "checks": checks,
        "ok": ok,
        "env": env_info(1),
    }))
}

/// The matrix problem of size `n`: network, moments and initial flat parameters `[W1, W2]`.
pub fn matrix_problem(n: usize, sigma: f64, seed: u64) -> (DeepLinearNet, Moments, Vec<f64>) {
    let scale = 1.0 / (n as f64).sqrt();
    let syx = portable::unit_matrix(seed, 201, n, n).scale(scale);
    let w1 = portable::unit_matrix(seed, 202, n, n).scale(sigma * scale);
    let w2 = portable::unit_matrix(seed, 203, n, n).scale(sigma * scale);
    let net = DeepLinearNet::new(vec![n, n, n]).expect("valid dims");
    let theta = net.pack(&[w1, w2]).expect("shapes match");
    let moments = Moments {
        sigma_xx: Matrix::identity(n),
        sigma_yx: syx.clone(),
        w_star: syx,
        loss_min: 0.0,
        whitened: true,
    };
    (net, moments, theta)
}

/// `Q = W1 W1^T - W2^T W2` (conserved, C-4).
fn conserved(net: &DeepLinearNet, theta: &[f64]) -> Matrix {
    let w1 = net.layer(theta, 1).to_owned();
    let w2 = net.layer(theta, 2).to_owned();
    w1.matmul_t(&w1).sub(&w2.t_matmul(&w2))
}

/// Sustained `n x n` GEMM rate of faer (sequential) in flop/s, measured now: the bound for
/// the N = 256 workload is `nfev * 3 * 2 n^3 / rate`.
pub fn gemm_rate(n: usize) -> f64 {
    let a = portable::unit_matrix(7, 1, n, n);
    let bm = portable::unit_matrix(7, 2, n, n);
    let mut c = Matrix::zeros(n, n);
    let flops = 2.0 * (n as f64).powi(3);
    let reps = ((2e8 / flops).ceil() as usize).max(3);
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t0 = Instant::now();
        for _ in 0..reps {
            gemm(c.view_mut(), a.view(), false, bm.view(), false, 1.0, false);
        }
        best = best.min(t0.elapsed().as_secs_f64() / reps as f64);
    }
    std::hint::black_box(&c);
    flops / best
}

/// One JSON line for the matrix workload of size `n`.
pub fn matrix_line(b: &OdeBench, n: usize) -> Result<Value, String> {
    let (sigma, ref_rtol, ref_atol) = (0.1, 1e-13, 1e-15);
    let (net, moments, theta0) = matrix_problem(n, sigma, b.seed);
    let q0 = conserved(&net, &theta0);
    let ivp = Ivp::new(0.0, &theta0, b.t_end);
    // Reference solution.
    let t_ref = Instant::now();
    let mut ws = Workspace::new(theta0.len());
    let reference = solve(
        &method("dop853")?,
        &mut GradientFlow::new(DeepLinearModel::new(&net, &moments, None)),
        &ivp,
        &opts(ref_rtol, ref_atol),
        &mut ws,
        &mut Output::end(),
    )
    .map_err(|e| e.to_string())?;
    let ref_wall = t_ref.elapsed().as_secs_f64();
    let p_ref = net.end_to_end(&reference.y_end);
    let q_ref_drift = conserved(&net, &reference.y_end).sub(&q0).max_abs();
    let loss = |theta: &[f64]| {
        0.5 * moments
            .sigma_yx
            .sub(&net.end_to_end(theta))
            .norm_fro()
            .powi(2)
    };
    let loss0 = loss(&theta0);
    let loss_ref = loss(&reference.y_end);
    let rate = if n >= 128 { Some(gemm_rate(n)) } else { None };
    let o = opts(b.rtol, b.atol);
    let mut results = serde_json::Map::new();
    let mut checks = serde_json::Map::new();
    let mut ok = q_ref_drift < 1e-9 && loss_ref < loss0;
    checks.insert(
        "reference_conserves_Q".into(),
        json!({"drift": q_ref_drift, "tol": 1e-9, "pass": q_ref_drift < 1e-9}),
    );
    checks.insert(
        "reference_loss_decreases".into(),
        json!({"pass": loss_ref < loss0}),
    );
    for name in &b.methods {
        let m = method(name)?;
        let mut field = GradientFlow::new(DeepLinearModel::new(&net, &moments, None));
        let mut ws = Workspace::new(theta0.len());
        let sol = solve(&m, &mut field, &ivp, &o, &mut ws, &mut Output::end())
            .map_err(|e| e.to_string())?;
        let timings = time_it(b.repeats, || {
            let _ = solve(&m, &mut field, &ivp, &o, &mut ws, &mut Output::end());
        });
        let p = net.end_to_end(&sol.y_end);
        let err_prod_rel = p.sub(&p_ref).norm_fro() / p_ref.norm_fro();
        let err_w = sol
            .y_end
            .iter()
            .zip(&reference.y_end)
            .map(|(a, c)| (a - c).abs())
            .fold(0.0, f64::max);
        let q_drift = conserved(&net, &sol.y_end).sub(&q0).max_abs();
        let q_drift_rel = q_drift / q0.max_abs();
        let row = row_name(name);
        let pass_ref = err_prod_rel < 1e-5;
        let pass_q = q_drift_rel < 1e-5;
        ok &= pass_ref && pass_q;
        checks.insert(
            format!("vs_reference_{row}"),
            json!({"rel_err": err_prod_rel, "tol": 1e-5, "pass": pass_ref}),
        );
        checks.insert(
            format!("Q_conserved_{row}"),
            json!({"drift_rel": q_drift_rel, "tol": 1e-5, "pass": pass_q}),
        );
        let mut r = json!({
            "wall_s": summarize(&timings.wall),
            "times_s": timings.wall,
            "cpu_per_wall": summarize(&timings.cpu_per_wall),
            "cpu_s": summarize(&timings.cpu),
            "compile_s": 0.0,
            "nfev": sol.stats.rhs_evals,
            "n_steps": sol.stats.accepted,
            "n_rejected": sol.stats.rejected,
            "err_W_maxabs": err_w,
            "err_prod_rel": err_prod_rel,
            "Q_drift_abs": q_drift,
            "Q_drift_rel": q_drift_rel,
            "loss_end": loss(&sol.y_end),
        });
        if let Some(rate) = rate {
            // 3 GEMMs of n^3 multiply-adds per RHS evaluation (forward W2 W1, G W1^T, W2^T G).
            let bound = sol.stats.rhs_evals as f64 * 3.0 * 2.0 * (n as f64).powi(3) / rate;
            let median = r["wall_s"]["median"].as_f64().unwrap_or(f64::NAN);
            r["gemm_rate_flops"] = json!(rate);
            r["gemm_bound_s"] = json!(bound);
            r["wall_over_gemm_bound"] = json!(median / bound);
        }
        results.insert(row, r);
    }
    Ok(json!({
        "workload": "gradient_flow_ode_matrix",
        "config": {
            "problem": "matrix", "t_end": b.t_end, "rtol": b.rtol, "atol": b.atol,
            "repeats": b.repeats, "seed": b.seed, "N": n, "sigma": sigma,
            "ref_rtol": ref_rtol, "ref_atol": ref_atol,
        },
        "reference": {
            "kind": "learndyn DOP853", "wall_s": ref_wall, "n_steps": reference.stats.accepted,
            "nfev": reference.stats.rhs_evals, "Q_drift_abs": q_ref_drift,
            "loss0": loss0, "loss_end": loss_ref,
        },
        "results": results,
        "checks": checks,
        "ok": ok,
        "env": env_info(1),
    }))
}
