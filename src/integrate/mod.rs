//! Generic ODE integration: `dy/dt = f(t, y)` over a flat `&[f64]` state.
//!
//! This module knows nothing about neural networks. The pieces are separate values, joined by
//! one function, [`solve`]:
//! - the problem: a [`VectorField`] and an [`Ivp`] (time span and initial state);
//! - the method: a [`Method`] (an explicit Runge-Kutta [`Tableau`], the L-stable Rosenbrock
//!   method [`Method::Ros2`] for stiff problems, or [`Method::Auto`]), stateless;
//! - the step-size policy and limits: [`Options`];
//! - what to keep: an [`Output`] (save at given times, at every step, or only at the end, into
//!   a callback that may compute observables instead of storing states; plus [`Event`]s);
//! - the result: a [`Solution`] with [`Stats`] and a [`StopReason`]; real failures are typed
//!   [`IntegrateError`]s whose messages say what to do.
//!
//! Mutable scratch lives in a [`Workspace`] allocated once per problem size: no step allocates
//! (the stiff method allocates its Jacobian once, on first use).
//!
//! Error control (theory/integrators.md IN-2): RMS norm of
//! `err_i / (atol_i + rtol * max(|y_i|, |y_new_i|))`, accept when <= 1, PI controller
//! (`beta = 0.04`, safety 0.9, step ratio in [0.2, 10]). Output between step points comes from
//! the method's dense output (IN-3), so saving never shortens steps.
//!
//! ```
//! use learndyn::integrate::{solve, Ivp, Method, Options, Output, VectorField, Workspace};
//! struct Decay;
//! impl VectorField for Decay {
//!     fn dim(&self) -> usize { 1 }
//!     fn eval(&mut self, _t: f64, y: &[f64], dy: &mut [f64]) { dy[0] = -y[0]; }
//! }
//! let method = Method::parse("dopri5").unwrap();
//! let mut ws = Workspace::new(1);
//! let mut saved = Vec::new();
//! let mut cb = |t: f64, y: &[f64]| saved.push((t, y[0]));
//! let sol = solve(&method, &mut Decay, &Ivp::new(0.0, &[1.0], 1.0), &Options::default(),
//!                 &mut ws, &mut Output::at_times(&[0.5, 1.0], &mut cb)).unwrap();
//! assert!((saved[1].1 - (-1.0f64).exp()).abs() < 1e-6);
//! assert!(sol.stats.rhs_evals > 0);
//! ```

mod kernels;
pub mod quad;
pub mod tableau;

use crate::linalg;
use kernels::{error_sums, lin_comb, scaled, AtolRef};
pub use tableau::Tableau;
use tableau::{
    DenseOutput, DOP853_DENSE_A, DOP853_DENSE_C, DOP853_DENSE_D, DOPRI5_DENSE, TSIT5_DENSE,
};

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

/// An integration method.
#[derive(Debug, Clone, Copy)]
pub enum Method {
    /// An explicit Runge-Kutta method: adaptive if the tableau has error weights, else fixed
    /// step (`Options::fixed_step`).
    Explicit(&'static Tableau),
    /// ROS2 (Verwer, Spee, Blom & Hundsdorfer 1999): 2-stage, order-2, L-stable Rosenbrock
    /// method with an order-1 embedded estimate and a finite-difference Jacobian. For stiff,
    /// autonomous problems with small states (it solves dense `n x n` systems).
    Ros2,
    /// DOPRI5 with Hairer's stiffness detection; on detected stiffness the solve continues
    /// with [`Method::Ros2`] from the current point.
    Auto,
}

impl Method {
    /// Names accepted by [`Method::parse`].
    pub const NAMES: [&'static str; 8] = [
        "dopri5", "tsit5", "dop853", "rk4", "heun", "euler", "ros2", "auto",
    ];

    /// The method called `name` (see [`Method::NAMES`]).
    pub fn parse(name: &str) -> Option<Method> {
        Some(match name {
            "ros2" => Method::Ros2,
            "auto" => Method::Auto,
            other => Method::Explicit(tableau::ALL.iter().find(|t| t.name == other).copied()?),
        })
    }

    /// Literature name.
    pub fn name(&self) -> &'static str {
        match self {
            Method::Explicit(t) => t.name,
            Method::Ros2 => "ros2",
            Method::Auto => "auto",
        }
    }

    /// Classical order of the propagated solution.
    pub fn order(&self) -> u32 {
        match self {
            Method::Explicit(t) => t.order,
            Method::Ros2 => 2,
            Method::Auto => 5,
        }
    }

    /// True if the method chooses its own steps.
    pub fn is_adaptive(&self) -> bool {
        match self {
            Method::Explicit(t) => t.e.is_some(),
            _ => true,
        }
    }
}

/// Initial-value problem data: integrate from `(t0, y0)` to `t1 >= t0`.
#[derive(Debug, Clone, Copy)]
pub struct Ivp<'a> {
    /// Start time.
    pub t0: f64,
    /// Initial state.
    pub y0: &'a [f64],
    /// End time.
    pub t1: f64,
}

impl<'a> Ivp<'a> {
    /// `(t0, y0)` to `t1`.
    pub fn new(t0: f64, y0: &'a [f64], t1: f64) -> Self {
        Ivp { t0, y0, t1 }
    }
}

/// Which states to hand to the save callback.
#[derive(Debug, Clone, Copy)]
pub enum SaveAt<'a> {
    /// At these nondecreasing times in `[t0, t1]`, from the dense output.
    Times(&'a [f64]),
    /// At `t0` and at the end of every accepted step.
    Steps,
    /// Only the final state.
    End,
}

/// Direction of a zero crossing that triggers an [`Event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crossing {
    /// `g` goes from negative to nonnegative.
    Rising,
    /// `g` goes from positive to nonpositive.
    Falling,
    /// Either direction.
    Either,
}

/// An event function `g(t, y)`.
pub type EventFn<'a> = Box<dyn FnMut(f64, &[f64]) -> f64 + 'a>;

/// A save callback receiving `(t, y(t))`.
pub type SaveFn<'a> = &'a mut dyn FnMut(f64, &[f64]);

/// A scalar event function `g(t, y)` whose zero crossings are located to near machine
/// precision in `t` on the dense output (Illinois method).
pub struct Event<'a> {
    /// The event function.
    pub g: EventFn<'a>,
    /// Which crossings count.
    pub crossing: Crossing,
    /// Stop the solve at the first crossing.
    pub terminal: bool,
}

impl std::fmt::Debug for Event<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Event")
            .field("crossing", &self.crossing)
            .field("terminal", &self.terminal)
            .finish_non_exhaustive()
    }
}

impl<'a> Event<'a> {
    /// A non-terminal event on `g` crossing zero in direction `crossing`.
    pub fn new(g: impl FnMut(f64, &[f64]) -> f64 + 'a, crossing: Crossing) -> Self {
        Event {
            g: Box::new(g),
            crossing,
            terminal: false,
        }
    }
    /// The same event, stopping the solve.
    pub fn terminal(mut self) -> Self {
        self.terminal = true;
        self
    }
}

/// What a solve hands back besides the final state: saved states (to a callback) and events.
pub struct Output<'a> {
    /// When to call `on_save`.
    pub save: SaveAt<'a>,
    /// Receives `(t, y(t))`; may compute observables instead of storing the state.
    pub on_save: Option<SaveFn<'a>>,
    /// Event functions, checked after every accepted step.
    pub events: Vec<Event<'a>>,
}

impl std::fmt::Debug for Output<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Output")
            .field("save", &self.save)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

impl<'a> Output<'a> {
    /// Save at `times` into `on_save`.
    pub fn at_times(times: &'a [f64], on_save: &'a mut dyn FnMut(f64, &[f64])) -> Self {
        Output {
            save: SaveAt::Times(times),
            on_save: Some(on_save),
            events: Vec::new(),
        }
    }
    /// Save at every accepted step into `on_save`.
    pub fn every_step(on_save: &'a mut dyn FnMut(f64, &[f64])) -> Self {
        Output {
            save: SaveAt::Steps,
            on_save: Some(on_save),
            events: Vec::new(),
        }
    }
    /// Keep only the final state ([`Solution::y_end`]).
    pub fn end() -> Self {
        Output {
            save: SaveAt::End,
            on_save: None,
            events: Vec::new(),
        }
    }
    /// Add an event.
    pub fn with_event(mut self, event: Event<'a>) -> Self {
        self.events.push(event);
        self
    }
    fn emit(&mut self, t: f64, y: &[f64]) {
        if let Some(f) = self.on_save.as_mut() {
            f(t, y);
        }
    }
}

/// Absolute tolerance: one value for every component, or one per component.
#[derive(Debug, Clone, PartialEq)]
pub enum Atol {
    /// The same absolute tolerance for every component.
    Scalar(f64),
    /// One absolute tolerance per component (length must equal the state dimension).
    PerComponent(Vec<f64>),
}

impl Atol {
    #[inline]
    fn get(&self, i: usize) -> f64 {
        match self {
            Atol::Scalar(a) => *a,
            Atol::PerComponent(v) => v[i],
        }
    }
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
    /// steps that no longer change `t` in floating point count as underflow). Not applied to
    /// a last step shortened to land on `t1`.
    pub h_min: f64,
    /// Step for methods without an error estimate (Euler, Heun, RK4). The step is shrunk
    /// slightly so that a whole number of steps ends exactly at `t1`. Ignored by adaptive ones.
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
    /// Right-hand-side evaluations (including the initial-step heuristic and finite-difference
    /// Jacobians).
    pub rhs_evals: u64,
    /// Accepted steps.
    pub accepted: u64,
    /// Rejected steps (error too large, or a non-finite trial state).
    pub rejected: u64,
    /// Jacobian evaluations (implicit method only).
    pub jacobians: u64,
    /// LU factorizations (implicit method only).
    pub factorizations: u64,
}

/// Why a successful solve ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StopReason {
    /// Reached the requested final time.
    ReachedEnd,
    /// A terminal event fired.
    Event {
        /// Index of the event in [`Output::events`].
        index: usize,
        /// Located crossing time.
        t: f64,
    },
}

/// One located event crossing.
#[derive(Debug, Clone, PartialEq)]
pub struct EventHit {
    /// Index of the event in [`Output::events`].
    pub index: usize,
    /// Crossing time.
    pub t: f64,
    /// State at the crossing (dense output).
    pub y: Vec<f64>,
}

/// Result of a successful solve. Saved values went to the callback.
#[derive(Debug, Clone, PartialEq)]
pub struct Solution {
    /// Final time reached (`t1`, or a terminal event's time).
    pub t_end: f64,
    /// State at `t_end`.
    pub y_end: Vec<f64>,
    /// Work counters.
    pub stats: Stats,
    /// Why the solve ended.
    pub stop: StopReason,
    /// Every event crossing, in time order.
    pub events: Vec<EventHit>,
    /// With [`Method::Auto`]: the time at which stiffness was detected and the solve switched
    /// to [`Method::Ros2`].
    pub switched_to_stiff_at: Option<f64>,
}

/// A real failure of the integrator (expected endings are a [`StopReason`] instead).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IntegrateError {
    /// The step size became too small to make progress.
    #[error(
        "step size {h:e} underflowed at t = {t}: the problem may be stiff or singular there; \
         loosen rtol/atol, or use a method for stiff problems (method = \"ros2\" or \"auto\")"
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

/// Preallocated scratch for [`solve`] for one method and problem size.
#[derive(Debug, Clone)]
pub struct Workspace {
    n: usize,
    /// Stage derivatives, `MAX_STAGES` blocks of length `n`.
    k: Vec<f64>,
    y: Vec<f64>,
    y_new: Vec<f64>,
    y_stage: Vec<f64>,
    /// Input of the second-to-last stage (stiffness detection).
    y_prev_stage: Vec<f64>,
    f_new: Vec<f64>,
    y_out: Vec<f64>,
    scale: Vec<f64>,
    /// Dense-output coefficient vectors of the current step (DOP853: r2..r8), `7 n`.
    dense: Vec<f64>,
    /// Whether the dense output of the current accepted step is prepared.
    dense_ready: bool,
    /// Implicit-method scratch, allocated on first use.
    ros: Option<RosWorkspace>,
}

#[derive(Debug, Clone)]
struct RosWorkspace {
    jac: Vec<f64>,
    lu: Vec<f64>,
    piv: Vec<usize>,
    f0: Vec<f64>,
    tmp: Vec<f64>,
}

/// Stage buffers reserved in every workspace (enough for every shipped tableau).
const MAX_STAGES: usize = 16;

impl Workspace {
    /// Scratch for states of length `n` (any method; the implicit method's `n x n` buffers
    /// are added on its first use).
    pub fn new(n: usize) -> Self {
        Workspace {
            n,
            k: vec![0.0; MAX_STAGES * n],
            y: vec![0.0; n],
            y_new: vec![0.0; n],
            y_stage: vec![0.0; n],
            y_prev_stage: vec![0.0; n],
            f_new: vec![0.0; n],
            y_out: vec![0.0; n],
            scale: vec![0.0; n],
            dense: vec![0.0; 7 * n],
            dense_ready: false,
            ros: None,
        }
    }

    fn ros_mut(&mut self) -> &mut RosWorkspace {
        let n = self.n;
        self.ros.get_or_insert_with(|| RosWorkspace {
            jac: vec![0.0; n * n],
            lu: vec![0.0; n * n],
            piv: vec![0; n],
            f0: vec![0.0; n],
            tmp: vec![0.0; n],
        })
    }
}

const SAFETY: f64 = 0.9;
const BETA: f64 = 0.04;
const FAC_MIN: f64 = 0.2;
const FAC_MAX: f64 = 10.0;
/// Hairer's stiffness test for DOPRI5: `h |lambda|` estimate above this (near the boundary of
/// the stability region, about 3.3) ...
const STIFF_HLAMBDA: f64 = 3.25;
/// ... in this many accepted steps (reset after 6 non-stiff ones) means stiff.
const STIFF_COUNT: u32 = 15;
/// ROS2's `gamma = 1 + 1/sqrt(2)` (L-stable choice).
const ROS2_GAMMA: f64 = 1.0 + std::f64::consts::FRAC_1_SQRT_2;

/// The stepping scheme in use (Auto switches from `Erk` to `Ros2`).
#[derive(Clone, Copy)]
enum Scheme {
    Erk(&'static Tableau),
    Ros2,
}

/// Integrate `field` over `ivp` with `method`, handing states to `out`.
///
/// `SaveAt::Times` must be nondecreasing and inside `[t0, t1]`; each gets `y(t)` from the dense
/// output (exactly `y0` at `t0`, the step-end state when a time coincides with a step end).
/// Events are checked after every accepted step; a terminal event ends the solve at the
/// located time with [`StopReason::Event`].
pub fn solve<F: VectorField + ?Sized>(
    method: &Method,
    field: &mut F,
    ivp: &Ivp<'_>,
    opts: &Options,
    ws: &mut Workspace,
    out: &mut Output<'_>,
) -> Result<Solution, IntegrateError> {
    let n = field.dim();
    let (t0, y0, t1) = (ivp.t0, ivp.y0, ivp.t1);
    validate(method, n, t0, y0, t1, &out.save, opts)?;
    if ws.n != n {
        *ws = Workspace::new(n);
    }
    let mut stats = Stats::default();
    let times: &[f64] = match out.save {
        SaveAt::Times(t) => t,
        _ => &[],
    };
    let mut next_save = 0usize;
    while next_save < times.len() && times[next_save] <= t0 {
        out.emit(times[next_save], y0);
        next_save += 1;
    }
    if matches!(out.save, SaveAt::Steps) {
        out.emit(t0, y0);
    }
    ws.y.copy_from_slice(y0);
    let mut scheme = match method {
        Method::Explicit(t) => Scheme::Erk(t),
        Method::Ros2 => Scheme::Ros2,
        Method::Auto => Scheme::Erk(&tableau::DOPRI5),
    };
    // k_1 = f(t0, y0); later steps reuse the end derivative of the previous step.
    field.eval(t0, &ws.y, &mut ws.k[..n]);
    stats.rhs_evals += 1;
    if !all_finite(&ws.k[..n]) || !all_finite(&ws.y) {
        return Err(IntegrateError::NonFinite { t: t0 });
    }
    let mut g_prev: Vec<f64> = out.events.iter_mut().map(|e| (e.g)(t0, y0)).collect();
    let mut hits: Vec<EventHit> = Vec::new();
    let span = t1 - t0;
    let mut t = t0;
    let mut h = if method.is_adaptive() {
        match opts.h0 {
            Some(h0) => h0,
            None => initial_step(method.order(), field, t0, opts, ws, &mut stats),
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
    // Accepted steps since the last non-finite trial (None: never). A collapse of h within a
    // few steps of a non-finite trial is reported as NonFinite, not as a stiffness-like
    // underflow: creeping up to a NaN wall accepts tiny finite steps in between.
    let mut since_non_finite: Option<u32> = None;
    let mut attempts = 0usize;
    let (mut stiff_count, mut nonstiff_count) = (0u32, 0u32);
    let mut switched_to_stiff_at = None;
    let detect_stiffness = matches!(method, Method::Auto);

    while t < t1 {
        if attempts >= opts.max_steps {
            return Err(IntegrateError::MaxStepsReached {
                t,
                t_end: t1,
                max_steps: opts.max_steps,
            });
        }
        attempts += 1;
        // Land exactly on t1; stretch to t1 when the remainder would be a sliver.
        let mut last = false;
        if t + h >= t1 || (t1 - (t + h)).abs() <= 1e-12 * span.abs().max(1.0) {
            h = t1 - t;
            last = true;
        }
        // (t + h) - t == 0 means h is below the resolution of t.
        if (!last && h <= opts.h_min) || (t + h) - t <= 0.0 {
            return Err(if since_non_finite.is_some_and(|k| k < 5) {
                IntegrateError::NonFinite { t }
            } else {
                IntegrateError::StepSizeUnderflow { t, h }
            });
        }
        let err = match scheme {
            Scheme::Erk(tab) => {
                take_stages(tab, field, t, h, detect_stiffness, ws, &mut stats);
                tab.e.map(|_| error_norm(tab, h, opts, ws))
            }
            Scheme::Ros2 => match ros2_step(field, t, h, opts, ws, &mut stats) {
                Some(e) => Some(e),
                None => Some(f64::NAN),
            },
        };
        let y_ok = all_finite(&ws.y_new);
        // Adaptive: the next step size (set on acceptance); fixed step: unchanged.
        let mut h_next = None;
        if let Some(err) = err {
            if !y_ok || !err.is_finite() {
                stats.rejected += 1;
                last_rejected = true;
                since_non_finite = Some(0);
                h *= 0.25;
                continue;
            }
            // Error ~ h^q: embedded order + 1, or the full order for DOP853's combined norm.
            let q = match scheme {
                Scheme::Erk(tab) if tab.e3.is_some() => tab.order as f64,
                Scheme::Erk(tab) => tab.embedded_order.unwrap_or(tab.order) as f64 + 1.0,
                Scheme::Ros2 => 2.0,
            };
            let fac11 = err.powf(1.0 / q - 0.75 * BETA);
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
            if let Some(k) = since_non_finite.as_mut() {
                *k += 1;
            }
            // Stiffness detection (HNW II, IV.2; dopri5.f): the last two stages of DOPRI5 are
            // both at t + h, so |f(y7) - f(y6)| / |y7 - y6| estimates |lambda|.
            if detect_stiffness {
                if let Scheme::Erk(tab) = scheme {
                    let s = tab.stages;
                    let (mut num, mut den) = (0.0, 0.0);
                    for i in 0..n {
                        let dk = ws.k[(s - 1) * n + i] - ws.k[(s - 2) * n + i];
                        let dy = ws.y_new[i] - ws.y_prev_stage[i];
                        num += dk * dk;
                        den += dy * dy;
                    }
                    if den > 0.0 && h * (num / den).sqrt() > STIFF_HLAMBDA {
                        nonstiff_count = 0;
                        stiff_count += 1;
                    } else {
                        nonstiff_count += 1;
                        if nonstiff_count == 6 {
                            stiff_count = 0;
                        }
                    }
                }
            }
            h_next = Some(h_new);
        } else if !y_ok {
            return Err(IntegrateError::NonFinite { t });
        }
        // Accept the step (adaptive or fixed): saves, events, then advance.
        let t_new = if last { t1 } else { t + h };
        let stop = accept_step(
            scheme,
            field,
            t,
            h,
            t_new,
            ws,
            &mut stats,
            times,
            &mut next_save,
            out,
            &mut g_prev,
            &mut hits,
        );
        if let Some((index, te)) = stop {
            return Ok(Solution {
                t_end: te,
                y_end: ws.y.clone(),
                stats,
                stop: StopReason::Event { index, t: te },
                events: hits,
                switched_to_stiff_at,
            });
        }
        t = t_new;
        if let Some(h_new) = h_next {
            h = h_new;
        }
        if detect_stiffness && stiff_count >= STIFF_COUNT && matches!(scheme, Scheme::Erk(_)) {
            scheme = Scheme::Ros2;
            switched_to_stiff_at = Some(t);
            ws.ros_mut();
        }
    }
    // Save times equal to t1 that rounding left behind.
    while next_save < times.len() {
        out.emit(times[next_save], &ws.y);
        next_save += 1;
    }
    if matches!(out.save, SaveAt::End) {
        out.emit(t, &ws.y);
    }
    Ok(Solution {
        t_end: t,
        y_end: ws.y.clone(),
        stats,
        stop: StopReason::ReachedEnd,
        events: hits,
        switched_to_stiff_at,
    })
}

fn validate(
    method: &Method,
    n: usize,
    t0: f64,
    y0: &[f64],
    t1: f64,
    save: &SaveAt<'_>,
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
    if method.is_adaptive() {
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
                        method.name()
                    ),
                )
            }
        }
    }
    if let SaveAt::Times(times) = save {
        if times.iter().any(|s| !s.is_finite() || *s < t0 || *s > t1) {
            return bad(
                "save_times",
                format!("every save time must lie in [{t0}, {t1}]"),
            );
        }
        if times.windows(2).any(|w| w[1] < w[0]) {
            return bad("save_times", "save times must be nondecreasing".into());
        }
    }
    Ok(())
}

#[inline]
fn all_finite(v: &[f64]) -> bool {
    v.iter().all(|x| x.is_finite())
}

/// Evaluate stages 2..s and the new state `y_new = y + h sum b_i k_i` (IN-1).
fn take_stages<F: VectorField + ?Sized>(
    tableau: &Tableau,
    field: &mut F,
    t: f64,
    h: f64,
    keep_prev_stage: bool,
    ws: &mut Workspace,
    stats: &mut Stats,
) {
    let n = ws.n;
    let s = tableau.stages;
    for i in 1..s {
        let (done, rest) = ws.k.split_at_mut(i * n);
        lin_comb(&mut ws.y_stage, Some(&ws.y), h, tableau.a_row(i), done);
        if keep_prev_stage && i == s - 2 {
            // Input of the second-to-last stage, for the stiffness test only.
            ws.y_prev_stage.copy_from_slice(&ws.y_stage);
        }
        field.eval(t + tableau.c[i] * h, &ws.y_stage, &mut rest[..n]);
        stats.rhs_evals += 1;
    }
    if tableau.fsal {
        // The last stage was evaluated at y + h sum a_{s,j} k_j = y_new: take the buffer.
        std::mem::swap(&mut ws.y_new, &mut ws.y_stage);
    } else {
        lin_comb(&mut ws.y_new, Some(&ws.y), h, tableau.b, &ws.k);
    }
}

/// Error norm of an accepted-or-rejected trial (IN-2): the RMS norm of `h sum_j e_j k_j`
/// scaled by `atol + rtol max(|y|, |y_new|)`; for tableaux with a second estimate (`e3`,
/// DOP853) Hairer's combination `|h| e5^2 / sqrt(e5^2 + 0.01 e3^2)` of the two RMS norms
/// (`dop853.f`), which behaves like `O(h^8)`. One fused pass over memory.
fn error_norm(tab: &Tableau, h: f64, opts: &Options, ws: &mut Workspace) -> f64 {
    let n = ws.n.max(1) as f64;
    let atol = match &opts.atol {
        Atol::Scalar(a) => AtolRef::Scalar(*a),
        Atol::PerComponent(v) => AtolRef::PerComponent(v),
    };
    let e = tab.e.unwrap_or(&[]);
    match tab.e3 {
        None => {
            let (s5, _) = error_sums(e, &[], h, &ws.k, &ws.y, &ws.y_new, atol, opts.rtol);
            (s5 / n).sqrt()
        }
        Some(e3) => {
            let (s5, s3) = error_sums(e, e3, 1.0, &ws.k, &ws.y, &ws.y_new, atol, opts.rtol);
            let deno = s5 + 0.01 * s3;
            let deno = if deno > 0.0 { deno } else { 1.0 };
            h.abs() * s5 / (n * deno).sqrt()
        }
    }
}

/// Hairer's `hinit`: a first step from the size of `y0`, `f(y0)` and a second-derivative
/// estimate, `h = (0.01 / max(|f'|, |f''|))^(1/order)` (dopri5.f uses `iord = 5`).
fn initial_step<F: VectorField + ?Sized>(
    order: u32,
    field: &mut F,
    t0: f64,
    opts: &Options,
    ws: &mut Workspace,
    stats: &mut Stats,
) -> f64 {
    let n = ws.n;
    let rms = |v: &mut dyn Iterator<Item = f64>| -> f64 {
        let (s, c) = v.fold((0.0, 0usize), |(s, c), x| (s + x * x, c + 1));
        (s / c.max(1) as f64).sqrt()
    };
    for i in 0..n {
        ws.scale[i] = opts.atol.get(i) + opts.rtol * ws.y[i].abs();
    }
    let d0 = rms(&mut (0..n).map(|i| scaled(ws.y[i], ws.scale[i])));
    let d1 = rms(&mut (0..n).map(|i| scaled(ws.k[i], ws.scale[i])));
    let h0 = if d0 < 1e-5 || d1 < 1e-5 || !d0.is_finite() || !d1.is_finite() {
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
    let d2 = rms(&mut (0..n).map(|i| scaled(ws.f_new[i] - ws.k[i], ws.scale[i]))) / h0;
    let dmax = d1.max(d2);
    let h1 = if dmax <= 1e-15 || !dmax.is_finite() {
        (h0 * 1e-3).max(1e-6)
    } else {
        (0.01 / dmax).powf(1.0 / order as f64)
    };
    let h = (100.0 * h0).min(h1).min(opts.h_max);
    if h.is_finite() && h > 0.0 {
        h
    } else {
        1e-6
    }
}

/// One ROS2 attempt from `(t, ws.y)` with `ws.k[..n] = f(t, y)`: fills `ws.y_new` and stores
/// `k1`, `k2` in stage slots 1 and 2; returns the error norm, or `None` if the linear system
/// is singular. Jacobian by forward differences (n evaluations), refreshed every attempt.
///
/// `(I - g h J) k1 = f(y)`, `(I - g h J) k2 = f(y + h k1) - 2 k1`,
/// `y_new = y + h (3/2 k1 + 1/2 k2)`, error `y_new - (y + h k1) = h (k1 + k2) / 2`.
fn ros2_step<F: VectorField + ?Sized>(
    field: &mut F,
    t: f64,
    h: f64,
    opts: &Options,
    ws: &mut Workspace,
    stats: &mut Stats,
) -> Option<f64> {
    let n = ws.n;
    ws.ros_mut();
    let Workspace {
        k,
        y,
        y_new,
        y_stage,
        scale,
        ros,
        ..
    } = ws;
    let ros = ros.as_mut().expect("allocated above");
    ros.f0.copy_from_slice(&k[..n]);
    // Jacobian column j: (f(y + d e_j) - f(y)) / d, d = sqrt(eps) max(|y_j|, 1e-8 ... ).
    y_stage.copy_from_slice(y);
    for j in 0..n {
        let yj = y[j];
        let d = f64::EPSILON.sqrt() * yj.abs().max(1e-5);
        y_stage[j] = yj + d;
        let d = y_stage[j] - yj; // the increment actually represented
        field.eval(t, y_stage, &mut ros.tmp);
        stats.rhs_evals += 1;
        for i in 0..n {
            ros.jac[i + j * n] = (ros.tmp[i] - ros.f0[i]) / d;
        }
        y_stage[j] = yj;
    }
    stats.jacobians += 1;
    // M = I - gamma h J, factorized.
    let gh = ROS2_GAMMA * h;
    for (m, jv) in ros.lu.iter_mut().zip(&ros.jac) {
        *m = -gh * jv;
    }
    for i in 0..n {
        ros.lu[i + i * n] += 1.0;
    }
    if linalg::lu_in_place(&mut ros.lu, n, &mut ros.piv).is_err() {
        return None;
    }
    stats.factorizations += 1;
    let (k1, rest) = k[n..].split_at_mut(n);
    let k2 = &mut rest[..n];
    k1.copy_from_slice(&ros.f0);
    linalg::lu_solve_in_place(&ros.lu, n, &ros.piv, k1);
    for i in 0..n {
        y_stage[i] = y[i] + h * k1[i];
    }
    field.eval(t + h, y_stage, k2);
    stats.rhs_evals += 1;
    for i in 0..n {
        k2[i] -= 2.0 * k1[i];
    }
    linalg::lu_solve_in_place(&ros.lu, n, &ros.piv, k2);
    let mut sum = 0.0;
    for i in 0..n {
        y_new[i] = y[i] + h * (1.5 * k1[i] + 0.5 * k2[i]);
        scale[i] = opts.atol.get(i) + opts.rtol * y[i].abs().max(y_new[i].abs());
        let r = scaled(0.5 * h * (k1[i] + k2[i]), scale[i]);
        sum += r * r;
    }
    Some((sum / n.max(1) as f64).sqrt())
}

/// Accept the step `[t, t_new]`: compute the end derivative, emit saves and locate events
/// inside it via the dense output, then make `y_new` the current state. Returns the terminal
/// event `(index, time)` if one fired (the current state is then the state at that time).
#[allow(clippy::too_many_arguments)]
fn accept_step<F: VectorField + ?Sized>(
    scheme: Scheme,
    field: &mut F,
    t: f64,
    h: f64,
    t_new: f64,
    ws: &mut Workspace,
    stats: &mut Stats,
    times: &[f64],
    next_save: &mut usize,
    out: &mut Output<'_>,
    g_prev: &mut [f64],
    hits: &mut Vec<EventHit>,
) -> Option<(usize, f64)> {
    let n = ws.n;
    stats.accepted += 1;
    // End derivative f(t_new, y_new): free for FSAL pairs (their last stage, moved to k_1 at
    // the end), one evaluation into `f_new` otherwise (the next step's first stage either way).
    let fsal_stages = match scheme {
        Scheme::Erk(tab) if tab.fsal => Some(tab.stages),
        _ => {
            field.eval(t_new, &ws.y_new, &mut ws.f_new);
            stats.rhs_evals += 1;
            None
        }
    };
    ws.dense_ready = false;
    // Events: sign changes between the step ends, located on the dense output.
    let mut t_stop = None;
    for (index, ev) in out.events.iter_mut().enumerate() {
        let g1 = (ev.g)(t_new, &ws.y_new);
        let g0 = g_prev[index];
        g_prev[index] = g1;
        let fires = match ev.crossing {
            Crossing::Rising => g0 < 0.0 && g1 >= 0.0,
            Crossing::Falling => g0 > 0.0 && g1 <= 0.0,
            Crossing::Either => (g0 < 0.0 && g1 >= 0.0) || (g0 > 0.0 && g1 <= 0.0),
        };
        if !fires {
            continue;
        }
        prepare_dense(scheme, field, t, h, ws, stats);
        let theta = locate_root(scheme, h, ws, &mut ev.g, t, g0, g1);
        let te = if theta >= 1.0 { t_new } else { t + theta * h };
        interpolate(scheme, theta, h, ws);
        hits.push(EventHit {
            index,
            t: te,
            y: ws.y_out.clone(),
        });
        if ev.terminal && t_stop.is_none_or(|(_, ts)| te < ts) {
            t_stop = Some((index, te));
        }
    }
    hits.sort_by(|a, b| a.t.total_cmp(&b.t));
    let t_limit = t_stop.map_or(t_new, |(_, ts)| ts);
    while *next_save < times.len() && times[*next_save] <= t_limit {
        let ts = times[*next_save];
        if ts >= t_new {
            out.emit(ts, &ws.y_new);
        } else {
            prepare_dense(scheme, field, t, h, ws, stats);
            interpolate(scheme, (ts - t) / h, h, ws);
            let y_out = std::mem::take(&mut ws.y_out);
            out.emit(ts, &y_out);
            ws.y_out = y_out;
        }
        *next_save += 1;
    }
    if let Some((index, ts)) = t_stop {
        // Drop hits after the terminal one; end at the event state.
        hits.retain(|hit| hit.t <= ts);
        let y_event = hits
            .iter()
            .rev()
            .find(|hit| hit.index == index)
            .map(|hit| hit.y.clone())
            .unwrap_or_else(|| ws.y_new.clone());
        ws.y.copy_from_slice(&y_event);
        if matches!(out.save, SaveAt::Steps | SaveAt::End) {
            out.emit(ts, &y_event);
        }
        return Some((index, ts));
    }
    if matches!(out.save, SaveAt::Steps) {
        out.emit(t_new, &ws.y_new);
    }
    std::mem::swap(&mut ws.y, &mut ws.y_new);
    match fsal_stages {
        Some(s) => ws.k.copy_within((s - 1) * n..s * n, 0),
        None => ws.k[..n].copy_from_slice(&ws.f_new),
    }
    None
}

/// Root of `g(t + theta h, y(theta))` in `theta in (0, 1]` by the Illinois variant of regula
/// falsi on the dense output (Shampine & Thompson 2000 use the same idea), to a relative
/// precision of a few ulps of `t`.
#[allow(clippy::too_many_arguments)]
fn locate_root(
    scheme: Scheme,
    h: f64,
    ws: &mut Workspace,
    g: &mut EventFn<'_>,
    t: f64,
    g0: f64,
    g1: f64,
) -> f64 {
    let (mut a, mut fa, mut b, mut fb) = (0.0_f64, g0, 1.0_f64, g1);
    if fb == 0.0 {
        // Find the earliest zero if g touches 0 exactly at the step end only.
        return 1.0;
    }
    let mut side = 0i32;
    let tol = 4.0 * f64::EPSILON * (t.abs() + h.abs()) / h.abs();
    for _ in 0..200 {
        if (b - a).abs() <= tol {
            break;
        }
        let m = (a * fb - b * fa) / (fb - fa);
        let m = if m.is_finite() && m > a && m < b {
            m
        } else {
            0.5 * (a + b)
        };
        interpolate(scheme, m, h, ws);
        let fm = g(t + m * h, &ws.y_out);
        if fm == 0.0 {
            return m;
        }
        if (fm < 0.0) == (fb < 0.0) {
            b = m;
            fb = fm;
            if side == 1 {
                fa *= 0.5;
            }
            side = 1;
        } else {
            a = m;
            fa = fm;
            if side == -1 {
                fb *= 0.5;
            }
            side = -1;
        }
    }
    b
}

/// Make the dense output of the accepted step `[t, t + h]` usable (once per step). Only DOP853
/// needs work: three extra stages (3 RHS evaluations) and the coefficient vectors
/// `r2 = y_new - y`, `r3 = h k_0 - r2`, `r4 = r2 - h k_12 - r3`, `r5..r8 = h sum_j d_{m,j} k_j`
/// (HNW I, `dop853.f` `contd8`), stored in `ws.dense`.
fn prepare_dense<F: VectorField + ?Sized>(
    scheme: Scheme,
    field: &mut F,
    t: f64,
    h: f64,
    ws: &mut Workspace,
    stats: &mut Stats,
) {
    if ws.dense_ready {
        return;
    }
    ws.dense_ready = true;
    let Scheme::Erk(tab) = scheme else { return };
    if tab.dense != DenseOutput::Dop853 {
        return;
    }
    let n = ws.n;
    for m in 0..3 {
        let slot = 13 + m;
        let (done, rest) = ws.k.split_at_mut(slot * n);
        lin_comb(
            &mut ws.y_stage,
            Some(&ws.y),
            h,
            &DOP853_DENSE_A[m][..slot],
            done,
        );
        field.eval(t + DOP853_DENSE_C[m] * h, &ws.y_stage, &mut rest[..n]);
        stats.rhs_evals += 1;
    }
    let (r, dense_rest) = ws.dense.split_at_mut(3 * n);
    for i in 0..n {
        let r2 = ws.y_new[i] - ws.y[i];
        let r3 = h * ws.k[i] - r2;
        let r4 = r2 - h * ws.k[12 * n + i] - r3;
        r[i] = r2;
        r[n + i] = r3;
        r[2 * n + i] = r4;
    }
    for m in 0..4 {
        lin_comb(
            &mut dense_rest[m * n..(m + 1) * n],
            None,
            h,
            &DOP853_DENSE_D[m],
            &ws.k,
        );
    }
}

/// Dense output at `t + theta h` (0 <= theta <= 1) into `ws.y_out`, from the accepted step's
/// `y` (start), `y_new` (end), stages `k` and end derivative `f_new` (IN-3).
fn interpolate(scheme: Scheme, theta: f64, h: f64, ws: &mut Workspace) {
    let n = ws.n;
    let dense = match scheme {
        Scheme::Erk(tab) => tab.dense,
        Scheme::Ros2 => DenseOutput::Hermite,
    };
    match dense {
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
        DenseOutput::Tsit5 => {
            // y(t + theta h) = y + h sum_i b_i(theta) k_i, b_i polynomials in theta.
            let mut w = [0.0; 7];
            for (wi, poly) in w.iter_mut().zip(TSIT5_DENSE.iter()) {
                *wi = poly.iter().rev().fold(0.0, |acc, c| acc * theta + c);
            }
            lin_comb(&mut ws.y_out, Some(&ws.y), h, &w, &ws.k);
        }
        DenseOutput::Dop853 => {
            // contd8 (dop853.f): r1 = y, r2..r8 prepared in `ws.dense` by `prepare_dense`.
            let (s1, th) = (1.0 - theta, theta);
            let r = |m: usize, i: usize| ws.dense[m * n + i];
            for i in 0..n {
                let conpar = r(3, i) + th * (r(4, i) + s1 * (r(5, i) + th * r(6, i)));
                ws.y_out[i] =
                    ws.y[i] + th * (r(0, i) + s1 * (r(1, i) + th * (r(2, i) + s1 * conpar)));
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
