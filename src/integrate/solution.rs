//! What a solve returns: the final state, work counters, why it stopped, event hits; or a
//! typed failure.

use super::EventHit;

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
        /// Index of the event in [`Output::events`](super::Output::events).
        index: usize,
        /// Located crossing time.
        t: f64,
    },
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
    /// With [`Method::Auto`](super::Method::Auto): the time at which stiffness was detected
    /// and the solve switched to [`Method::Ros2`](super::Method::Ros2).
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
