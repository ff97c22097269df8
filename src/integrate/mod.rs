//! Generic ODE integration: `dy/dt = f(t, y)` over a flat `&[f64]` state.
//!
//! This module knows nothing about neural networks. The problem is a [`VectorField`]; the method
//! is a [`Tableau`] (plain data, stateless); the step-size policy and limits are [`Options`];
//! what to save is a list of times handed to a callback; the result is a [`Solution`] with
//! [`Stats`] and a [`StopReason`]. Mutable scratch lives in a [`Workspace`] allocated once per
//! problem size, so no step allocates.
//!
//! Error control follows Hairer, Norsett & Wanner (HNW I, Section II.4): the error norm is the
//! RMS over components of `err_i / (atol_i + rtol * max(|y_i|, |y_new_i|))`, a step is accepted
//! when the norm is at most 1, and the next step comes from a PI controller
//! (`beta = 0.04`, safety 0.9, step ratio limited to [0.2, 10]). Output at requested times comes
//! from the method's dense-output interpolant, so saving never shortens steps.
//!
//! ```
//! use learndyn::integrate::{solve, tableau::DOPRI5, Options, VectorField, Workspace};
//! struct Decay;
//! impl VectorField for Decay {
//!     fn dim(&self) -> usize { 1 }
//!     fn eval(&mut self, _t: f64, y: &[f64], dy: &mut [f64]) { dy[0] = -y[0]; }
//! }
//! let mut ws = Workspace::new(&DOPRI5, 1);
//! let mut saved = Vec::new();
//! let sol = solve(&DOPRI5, &mut Decay, 0.0, &[1.0], 1.0, &[0.5, 1.0], &Options::default(),
//!                 &mut ws, &mut |t, y| saved.push((t, y[0]))).unwrap();
//! assert!((saved[1].1 - (-1.0f64).exp()).abs() < 1e-6);
//! assert!(sol.stats.rhs_evals > 0);
//! ```

pub mod quad;
pub mod tableau;

pub use tableau::Tableau;
use tableau::{DenseOutput, DOPRI5_DENSE};

/// A right-hand side `dy/dt = f(t, y)`.
///
/// `eval` takes `&mut self` so that implementations can keep preallocated scratch buffers;
/// it must not allocate and must write every entry of `dydt` (length [`VectorField::dim`]).
pub trait VectorField {
    /// Length of the state vector.
    fn dim(&self) -> usize;
    /// Write `f(t, y)` into `dydt`.
    fn eval(&mut self, t: f64, y: &[f64], dydt: &mut [f64]);
}

/// Absolute tolerance: one value for every component, or one per component.
#[derive(Debug, Clone, PartialEq)]
pub enum Atol {
    /// The same absolute tolerance for every component.
    Scalar(f64),
    /// One absolute tolerance per component (length must equal the state dimension).
    PerComponent(Vec<f64>),
}

/// Step-size control and limits for [`solve`].
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Relative tolerance (default 1e-8).
    pub rtol: f64,
    /// Absolute tolerance (default 1e-10 for every component).
    pub atol: Atol,
    /// Maximum number of step attempts, accepted plus rejected (default 10^6).
    pub max_steps: usize,
    /// Initial step; `None` selects it with Hairer's `hinit` heuristic (default `None`).
    pub h0: Option<f64>,
    /// Largest allowed step (default: infinity).
    pub h_max: f64,
    /// Smallest allowed step before [`IntegrateError::StepSizeUnderflow`] (default 0: only
    /// steps that no longer change `t` in floating point count as underflow).
    pub h_min: f64,
    /// Step for methods without an error estimate (Euler, Heun, RK4). The step is shrunk
    /// slightly so that a whole number of steps ends exactly at `t1`. Ignored by adaptive pairs.
    pub fixed_step: Option<f64>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            rtol: 1e-8,
            atol: Atol::Scalar(1e-10),
            max_steps: 1_000_000,
            h0: None,
            h_max: f64::INFINITY,
            h_min: 0.0,
            fixed_step: None,
        }
    }
}

/// Work counters of one solve, counted by the driver.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// Right-hand-side evaluations (including those of the initial-step heuristic).
    pub rhs_evals: u64,
    /// Accepted steps.
    pub accepted: u64,
    /// Rejected steps (error too large, or a non-finite trial state).
    pub rejected: u64,
}

/// Why a successful solve ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StopReason {
    /// Reached the requested final time.
    ReachedEnd,
}

/// Result of a successful solve. The saved values went to the callback.
#[derive(Debug, Clone, PartialEq)]
pub struct Solution {
    /// Final time reached.
    pub t_end: f64,
    /// State at `t_end`.
    pub y_end: Vec<f64>,
    /// Work counters.
    pub stats: Stats,
    /// Why the solve ended.
    pub stop: StopReason,
}

/// A real failure of the integrator (expected endings are a [`StopReason`] instead).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IntegrateError {
    /// The step size became too small to make progress.
    #[error(
        "step size {h:e} underflowed at t = {t}: the problem may be stiff or singular there; \
         loosen rtol/atol, or use a method for stiff problems"
    )]
    StepSizeUnderflow {
        /// Time at which the step size underflowed.
        t: f64,
        /// The rejected step size.
        h: f64,
    },
    /// `max_steps` step attempts were used before reaching the end time.
    #[error(
        "reached max_steps = {max_steps} at t = {t} before the end time {t_end}; \
         increase integrate.max_steps, loosen the tolerances, or shorten the time span"
    )]
    MaxStepsReached {
        /// Time reached.
        t: f64,
        /// End time that was requested.
        t_end: f64,
        /// The limit that was hit.
        max_steps: usize,
    },
    /// The state or its derivative became NaN or infinite and smaller steps did not help.
    #[error(
        "the state became non-finite (NaN or inf) at t = {t}: the dynamics diverge there; \
         check the initial condition and parameters (e.g. a too large initialization)"
    )]
    NonFinite {
        /// Last time with a finite state.
        t: f64,
    },
    /// The call's arguments are inconsistent.
    #[error("invalid integrator input: {field}: {message}")]
    InvalidInput {
        /// Which argument or option is wrong.
        field: &'static str,
        /// What is wrong and what to do.
        message: String,
    },
}

/// Preallocated scratch for [`solve`]: stage derivatives and trial states for one problem size.
#[derive(Debug, Clone)]
pub struct Workspace {
    n: usize,
    stages: usize,
    /// Stage derivatives, `stages` blocks of length `n`.
    k: Vec<f64>,
    y: Vec<f64>,
    y_new: Vec<f64>,
    y_stage: Vec<f64>,
    f_new: Vec<f64>,
    y_out: Vec<f64>,
    scale: Vec<f64>,
}

impl Workspace {
    /// Scratch for `tableau` on states of length `n`.
    pub fn new(tableau: &Tableau, n: usize) -> Self {
        Workspace {
            n,
            stages: tableau.stages,
            k: vec![0.0; tableau.stages * n],
            y: vec![0.0; n],
            y_new: vec![0.0; n],
            y_stage: vec![0.0; n],
            f_new: vec![0.0; n],
            y_out: vec![0.0; n],
            scale: vec![0.0; n],
        }
    }

    fn fits(&self, tableau: &Tableau, n: usize) -> bool {
        self.n == n && self.stages == tableau.stages
    }
}

const SAFETY: f64 = 0.9;
const BETA: f64 = 0.04;
const FAC_MIN: f64 = 0.2;
const FAC_MAX: f64 = 10.0;

/// Integrate `field` from `(t0, y0)` to `t1 >= t0` with `tableau`.
///
/// `save_times` must be nondecreasing and inside `[t0, t1]`; for each, `on_save(t, y(t))` is
/// called in order, with `y(t)` from the dense-output interpolant (exactly `y0` at `t0`, and the
/// step-end state when a save time coincides with a step end).
///
/// Adaptive pairs (those with error weights) choose their steps; fixed-step methods need
/// `opts.fixed_step`.
#[allow(clippy::too_many_arguments)] // to be grouped into a problem struct (issue 3)
pub fn solve<F: VectorField + ?Sized>(
    tableau: &Tableau,
    field: &mut F,
    t0: f64,
    y0: &[f64],
    t1: f64,
    save_times: &[f64],
    opts: &Options,
    ws: &mut Workspace,
    on_save: &mut dyn FnMut(f64, &[f64]),
) -> Result<Solution, IntegrateError> {
    let n = field.dim();
    validate(tableau, n, t0, y0, t1, save_times, opts)?;
    if !ws.fits(tableau, n) {
        *ws = Workspace::new(tableau, n);
    }
    let mut stats = Stats::default();
    let mut next_save = 0usize;
    // Save points at t0 get the initial state exactly.
    while next_save < save_times.len() && save_times[next_save] <= t0 {
        on_save(save_times[next_save], y0);
        next_save += 1;
    }
    ws.y.copy_from_slice(y0);
    // k_1 = f(t0, y0); later steps reuse the end derivative of the previous step.
    {
        let (k1, _) = ws.k.split_at_mut(n);
        field.eval(t0, &ws.y, k1);
        stats.rhs_evals += 1;
    }
    if !all_finite(&ws.k[..n]) || !all_finite(&ws.y) {
        return Err(IntegrateError::NonFinite { t: t0 });
    }
    let adaptive = tableau.e.is_some();
    let span = t1 - t0;
    let mut t = t0;
    let mut h = if adaptive {
        match opts.h0 {
            Some(h0) => h0,
            None => initial_step(tableau, field, t0, opts, ws, &mut stats),
        }
        .min(opts.h_max)
        .min(span)
    } else {
        let dt = opts.fixed_step.unwrap_or(span);
        let steps = (span / dt).ceil().max(1.0);
        span / steps
    };
    let mut fac_old = 1e-4_f64;
    let mut last_rejected = false;
    let mut last_non_finite = false;
    let mut attempts = 0usize;

    while t < t1 {
        if attempts >= opts.max_steps {
            return Err(IntegrateError::MaxStepsReached {
                t,
                t_end: t1,
                max_steps: opts.max_steps,
            });
        }
        attempts += 1;
        // Land exactly on t1; avoid a tiny last step by stretching to t1 when within 1e-12 relative.
        let mut last = false;
        if t + h >= t1 || (t1 - (t + h)).abs() <= 1e-12 * span.abs().max(1.0) {
            h = t1 - t;
            last = true;
        }
        // (t + h) - t == 0 means h is below the resolution of t.
        if h <= opts.h_min || (t + h) - t <= 0.0 {
            return Err(if last_non_finite {
                IntegrateError::NonFinite { t }
            } else {
                IntegrateError::StepSizeUnderflow { t, h }
            });
        }
        take_stages(tableau, field, t, h, ws, &mut stats);
        let y_ok = all_finite(&ws.y_new);
        if !adaptive {
            if !y_ok {
                return Err(IntegrateError::NonFinite { t });
            }
        } else {
            let err = error_norm(tableau, h, opts, ws);
            if !y_ok || !err.is_finite() {
                stats.rejected += 1;
                last_rejected = true;
                last_non_finite = true;
                h *= 0.25;
                continue;
            }
            last_non_finite = false;
            let q = tableau.embedded_order.unwrap_or(tableau.order) as f64 + 1.0;
            let expo = 1.0 / q - 0.75 * BETA;
            let fac11 = err.powf(expo);
            if err > 1.0 {
                stats.rejected += 1;
                last_rejected = true;
                h /= (1.0 / FAC_MIN).min(fac11 / SAFETY);
                continue;
            }
            // PI controller (HNW I, eq. (4.13) and dopri5.f).
            let fac = (fac11 / fac_old.powf(BETA) / SAFETY).clamp(1.0 / FAC_MAX, 1.0 / FAC_MIN);
            fac_old = err.max(1e-4);
            let mut h_new = (h / fac).min(opts.h_max);
            if last_rejected {
                h_new = h_new.min(h);
            }
            last_rejected = false;
            accept_and_save(
                tableau,
                field,
                t,
                h,
                last,
                t1,
                ws,
                &mut stats,
                save_times,
                &mut next_save,
                on_save,
            );
            t = if last { t1 } else { t + h };
            h = h_new;
            continue;
        }
        accept_and_save(
            tableau,
            field,
            t,
            h,
            last,
            t1,
            ws,
            &mut stats,
            save_times,
            &mut next_save,
            on_save,
        );
        t = if last { t1 } else { t + h };
    }
    // Save times equal to t1 that rounding left behind.
    while next_save < save_times.len() {
        on_save(save_times[next_save], &ws.y);
        next_save += 1;
    }
    Ok(Solution {
        t_end: t,
        y_end: ws.y.clone(),
        stats,
        stop: StopReason::ReachedEnd,
    })
}

fn validate(
    tableau: &Tableau,
    n: usize,
    t0: f64,
    y0: &[f64],
    t1: f64,
    save_times: &[f64],
    opts: &Options,
) -> Result<(), IntegrateError> {
    let bad =
        |field: &'static str, message: String| Err(IntegrateError::InvalidInput { field, message });
    if y0.len() != n {
        return bad(
            "y0",
            format!(
                "length {} does not match the vector field dimension {n}",
                y0.len()
            ),
        );
    }
    if !(t0.is_finite() && t1.is_finite()) || t1 < t0 {
        return bad("t_span", format!("need finite t0 <= t1, got [{t0}, {t1}]"));
    }
    if tableau.e.is_some() {
        if !(opts.rtol >= 0.0 && opts.rtol.is_finite()) {
            return bad(
                "rtol",
                format!("must be finite and >= 0, got {}", opts.rtol),
            );
        }
        match &opts.atol {
            Atol::Scalar(a) if !(*a >= 0.0 && a.is_finite()) => {
                return bad("atol", format!("must be finite and >= 0, got {a}"));
            }
            Atol::PerComponent(v) if v.len() != n => {
                return bad(
                    "atol",
                    format!("has {} entries but the state has {n}", v.len()),
                );
            }
            Atol::PerComponent(v) if v.iter().any(|a| !(*a >= 0.0 && a.is_finite())) => {
                return bad("atol", "every entry must be finite and >= 0".into());
            }
            _ => {}
        }
        if opts.rtol == 0.0 && matches!(opts.atol, Atol::Scalar(a) if a == 0.0) {
            return bad(
                "rtol",
                "rtol and atol are both 0; set at least one > 0".into(),
            );
        }
    } else {
        match opts.fixed_step {
            Some(h) if h > 0.0 && h.is_finite() => {}
            _ => {
                return bad(
                    "fixed_step",
                    format!(
                        "method '{}' has no error estimate: set a finite fixed step > 0",
                        tableau.name
                    ),
                )
            }
        }
    }
    if save_times
        .iter()
        .any(|s| !s.is_finite() || *s < t0 || *s > t1)
    {
        return bad(
            "save_times",
            format!("every save time must lie in [{t0}, {t1}]"),
        );
    }
    if save_times.windows(2).any(|w| w[1] < w[0]) {
        return bad("save_times", "save times must be nondecreasing".into());
    }
    Ok(())
}

#[inline]
fn all_finite(v: &[f64]) -> bool {
    v.iter().all(|x| x.is_finite())
}

/// Evaluate stages 2..s and the new state `y_new = y + h sum b_i k_i`.
fn take_stages<F: VectorField + ?Sized>(
    tableau: &Tableau,
    field: &mut F,
    t: f64,
    h: f64,
    ws: &mut Workspace,
    stats: &mut Stats,
) {
    let n = ws.n;
    let s = tableau.stages;
    for i in 1..s {
        let row = tableau.a_row(i);
        let (done, rest) = ws.k.split_at_mut(i * n);
        ws.y_stage.copy_from_slice(&ws.y);
        for (j, &a) in row.iter().enumerate() {
            if a != 0.0 {
                let kj = &done[j * n..(j + 1) * n];
                let ha = h * a;
                for (ys, k) in ws.y_stage.iter_mut().zip(kj) {
                    *ys += ha * k;
                }
            }
        }
        field.eval(t + tableau.c[i] * h, &ws.y_stage, &mut rest[..n]);
        stats.rhs_evals += 1;
    }
    if tableau.fsal {
        // The last stage was evaluated at y + h sum a_{s,j} k_j = y_new.
        ws.y_new.copy_from_slice(&ws.y_stage);
    } else {
        ws.y_new.copy_from_slice(&ws.y);
        for (j, &b) in tableau.b.iter().enumerate() {
            if b != 0.0 {
                let hb = h * b;
                for (yn, k) in ws.y_new.iter_mut().zip(&ws.k[j * n..(j + 1) * n]) {
                    *yn += hb * k;
                }
            }
        }
    }
}

/// RMS norm of the embedded error estimate, scaled by `atol + rtol max(|y|, |y_new|)`.
fn error_norm(tableau: &Tableau, h: f64, opts: &Options, ws: &mut Workspace) -> f64 {
    let n = ws.n;
    let e = tableau.e.unwrap_or(&[]);
    for i in 0..n {
        let atol = match &opts.atol {
            Atol::Scalar(a) => *a,
            Atol::PerComponent(v) => v[i],
        };
        ws.scale[i] = atol + opts.rtol * ws.y[i].abs().max(ws.y_new[i].abs());
    }
    let mut sum = 0.0;
    for i in 0..n {
        let mut err = 0.0;
        for (j, &ej) in e.iter().enumerate() {
            if ej != 0.0 {
                err += ej * ws.k[j * n + i];
            }
        }
        let r = h * err / ws.scale[i];
        sum += r * r;
    }
    (sum / n.max(1) as f64).sqrt()
}

/// Hairer's `hinit`: a first step from the size of `y0`, `f(y0)` and a second-derivative estimate.
fn initial_step<F: VectorField + ?Sized>(
    tableau: &Tableau,
    field: &mut F,
    t0: f64,
    opts: &Options,
    ws: &mut Workspace,
    stats: &mut Stats,
) -> f64 {
    let n = ws.n;
    let order = tableau.order as f64;
    let rms = |v: &mut dyn Iterator<Item = f64>| -> f64 {
        let (s, c) = v.fold((0.0, 0usize), |(s, c), x| (s + x * x, c + 1));
        (s / c.max(1) as f64).sqrt()
    };
    for i in 0..n {
        let atol = match &opts.atol {
            Atol::Scalar(a) => *a,
            Atol::PerComponent(v) => v[i],
        };
        ws.scale[i] = atol + opts.rtol * ws.y[i].abs();
    }
    let d0 = rms(&mut (0..n).map(|i| ws.y[i] / ws.scale[i]));
    let d1 = rms(&mut (0..n).map(|i| ws.k[i] / ws.scale[i]));
    let h0 = if d0 < 1e-5 || d1 < 1e-5 {
        1e-6
    } else {
        0.01 * d0 / d1
    }
    .min(opts.h_max);
    for i in 0..n {
        ws.y_stage[i] = ws.y[i] + h0 * ws.k[i];
    }
    field.eval(t0 + h0, &ws.y_stage, &mut ws.f_new);
    stats.rhs_evals += 1;
    let d2 = rms(&mut (0..n).map(|i| (ws.f_new[i] - ws.k[i]) / ws.scale[i])) / h0;
    let h1 = if d1.max(d2) <= 1e-15 {
        (h0 * 1e-3).max(1e-6)
    } else {
        (0.01 / d1.max(d2)).powf(1.0 / (order + 1.0))
    };
    let h = (100.0 * h0).min(h1).min(opts.h_max);
    if h.is_finite() && h > 0.0 {
        h
    } else {
        1e-6
    }
}

/// Accept the step `[t, t + h]`: emit the save times inside it via the dense output, then make
/// `y_new` the current state and the end derivative the next step's first stage.
#[allow(clippy::too_many_arguments)]
fn accept_and_save<F: VectorField + ?Sized>(
    tableau: &Tableau,
    field: &mut F,
    t: f64,
    h: f64,
    last: bool,
    t1: f64,
    ws: &mut Workspace,
    stats: &mut Stats,
    save_times: &[f64],
    next_save: &mut usize,
    on_save: &mut dyn FnMut(f64, &[f64]),
) {
    let n = ws.n;
    let s = tableau.stages;
    stats.accepted += 1;
    let t_new = if last { t1 } else { t + h };
    // End derivative f(t_new, y_new): free for FSAL pairs, one evaluation otherwise (it is the
    // next step's first stage either way).
    if tableau.fsal {
        ws.f_new.copy_from_slice(&ws.k[(s - 1) * n..s * n]);
    } else {
        field.eval(t_new, &ws.y_new, &mut ws.f_new);
        stats.rhs_evals += 1;
    }
    while *next_save < save_times.len() && save_times[*next_save] <= t_new {
        let ts = save_times[*next_save];
        if ts >= t_new {
            on_save(ts, &ws.y_new);
        } else {
            let theta = (ts - t) / h;
            interpolate(tableau, theta, h, ws);
            on_save(ts, &ws.y_out);
        }
        *next_save += 1;
    }
    std::mem::swap(&mut ws.y, &mut ws.y_new);
    ws.k[..n].copy_from_slice(&ws.f_new);
}

/// Dense output at `t + theta h` (0 <= theta <= 1) into `ws.y_out`, from the accepted step's
/// `y` (start), `y_new` (end), stages `k` and end derivative `f_new`.
fn interpolate(tableau: &Tableau, theta: f64, h: f64, ws: &mut Workspace) {
    let n = ws.n;
    match tableau.dense {
        DenseOutput::Dopri5 => {
            // y(t + theta h) = y0 + theta (r2 + (1 - theta)(r3 + theta (r4 + (1 - theta) r5)))
            // with r2 = y1 - y0, r3 = h k1 - r2, r4 = r2 - h k7 - r3,
            // r5 = h sum_i d_i k_i (HNW I, Section II.6; dopri5.f contd5).
            let th1 = 1.0 - theta;
            for i in 0..n {
                let y0 = ws.y[i];
                let r2 = ws.y_new[i] - y0;
                let r3 = h * ws.k[i] - r2;
                let r4 = r2 - h * ws.k[6 * n + i] - r3;
                let mut r5 = 0.0;
                for (j, d) in DOPRI5_DENSE.iter().enumerate() {
                    if *d != 0.0 {
                        r5 += d * ws.k[j * n + i];
                    }
                }
                r5 *= h;
                ws.y_out[i] = y0 + theta * (r2 + th1 * (r3 + theta * (r4 + th1 * r5)));
            }
        }
        DenseOutput::Hermite => {
            let t2 = theta * theta;
            let t3 = t2 * theta;
            let h00 = 2.0 * t3 - 3.0 * t2 + 1.0;
            let h10 = t3 - 2.0 * t2 + theta;
            let h01 = -2.0 * t3 + 3.0 * t2;
            let h11 = t3 - t2;
            for i in 0..n {
                ws.y_out[i] =
                    h00 * ws.y[i] + h10 * h * ws.k[i] + h01 * ws.y_new[i] + h11 * h * ws.f_new[i];
            }
        }
    }
}
