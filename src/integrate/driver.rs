//! The driver: [`solve`] runs the step loop (choose a step, attempt it, judge its error,
//! accept it with its saves and events, advance), each step a method of [`Run`]; the
//! numerics of each step live in the sibling modules.

use super::controller::{initial_step, PiController, Verdict};
use super::dense::AcceptedStep;
use super::events::EventTracker;
use super::options::validate;
use super::output::SaveCursor;
use super::stiffness::StiffnessDetector;
use super::{erk, ros2, tableau};
use super::{
    IntegrateError, Ivp, Method, Options, Output, SaveAt, Scheme, Solution, Stats, StopReason,
    VectorField, Workspace,
};

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
    validate(method, n, ivp.t0, ivp.y0, ivp.t1, &out.save, opts)?;
    if ws.n != n {
        *ws = Workspace::new(n);
    }
    let mut run = Run::start(method, field, ivp, opts, ws, out)?;
    while run.t < run.t1 {
        let last = run.choose_step()?;
        let err = run.attempt();
        let Judged::Accept { h_next } = run.judge(err)? else {
            continue;
        };
        let t_new = if last { run.t1 } else { run.t + run.h };
        if let Some((index, te)) = run.accept(t_new) {
            return Ok(run.into_solution(te, StopReason::Event { index, t: te }));
        }
        run.advance(t_new, h_next);
    }
    run.finish();
    let t_end = run.t;
    Ok(run.into_solution(t_end, StopReason::ReachedEnd))
}

/// The verdict on a trial step.
enum Judged {
    /// Rejected: retry from the same point with the (already updated) step size.
    Retry,
    /// Accepted; `h_next` is the next step's size (`None`: fixed step, unchanged).
    Accept { h_next: Option<f64> },
}

/// The state of one solve between steps.
struct Run<'r, 'o, F: ?Sized> {
    field: &'r mut F,
    ws: &'r mut Workspace,
    out: &'r mut Output<'o>,
    opts: &'r Options,
    /// The scheme of the next step (Auto switches from explicit to ROS2 once).
    scheme: Scheme,
    stats: Stats,
    saves: SaveCursor<'o>,
    events: EventTracker,
    /// Current time; the current state is `ws.y`, its derivative `ws.k[..n]`.
    t: f64,
    /// Size of the next trial step.
    h: f64,
    t1: f64,
    /// `t1 - t0`.
    span: f64,
    /// Step-size control (adaptive methods only).
    controller: PiController,
    /// Stiffness detection, with [`Method::Auto`] only.
    stiffness: Option<StiffnessDetector>,
    /// Step attempts so far (accepted and rejected), against `opts.max_steps`.
    attempts: usize,
    /// Accepted steps since the last non-finite trial (None: never). A collapse of h within a
    /// few steps of a non-finite trial is reported as NonFinite, not as a stiffness-like
    /// underflow: creeping up to a NaN wall accepts tiny finite steps in between.
    since_non_finite: Option<u32>,
    switched_to_stiff_at: Option<f64>,
}

impl<'r, 'o, F: VectorField + ?Sized> Run<'r, 'o, F> {
    /// Emit the initial saves, evaluate `k_1 = f(t0, y0)` (later steps reuse the end
    /// derivative of the previous step), evaluate the events at `t0` and choose the first step.
    fn start(
        method: &Method,
        field: &'r mut F,
        ivp: &Ivp<'_>,
        opts: &'r Options,
        ws: &'r mut Workspace,
        out: &'r mut Output<'o>,
    ) -> Result<Self, IntegrateError> {
        let (n, t0, y0) = (ws.n, ivp.t0, ivp.y0);
        let saves = SaveCursor::start(out, t0, y0);
        ws.y.copy_from_slice(y0);
        let scheme = match method {
            Method::Explicit(t) => Scheme::Erk(t),
            Method::Ros2 => Scheme::Ros2,
            Method::Auto => Scheme::Erk(&tableau::DOPRI5),
        };
        let mut stats = Stats::default();
        field.eval(t0, &ws.y, &mut ws.k[..n]);
        stats.rhs_evals += 1;
        if !all_finite(&ws.k[..n]) || !all_finite(&ws.y) {
            return Err(IntegrateError::NonFinite { t: t0 });
        }
        let events = EventTracker::start(&mut out.events, t0, y0);
        let span = ivp.t1 - t0;
        let h = if method.is_adaptive() {
            match opts.h0 {
                Some(h0) => h0,
                None => initial_step(method.order(), field, t0, opts, ws, &mut stats),
            }
            .min(opts.h_max)
            .min(span)
        } else {
            // A whole number of equal steps ending exactly at t1.
            let dt = opts.fixed_step.unwrap_or(span);
            let steps = (span / dt).ceil().max(1.0);
            span / steps
        };
        Ok(Run {
            field,
            ws,
            out,
            opts,
            scheme,
            stats,
            saves,
            events,
            t: t0,
            h,
            t1: ivp.t1,
            span,
            controller: PiController::dopri5(),
            stiffness: matches!(method, Method::Auto).then(StiffnessDetector::default),
            attempts: 0,
            since_non_finite: None,
            switched_to_stiff_at: None,
        })
    }

    /// Count the attempt against `max_steps` and fix the trial step: land exactly on `t1`
    /// (stretching to it when the remainder would be a sliver). Returns whether this is the
    /// last step; fails when the step underflows.
    fn choose_step(&mut self) -> Result<bool, IntegrateError> {
        let (t, t1) = (self.t, self.t1);
        if self.attempts >= self.opts.max_steps {
            return Err(IntegrateError::MaxStepsReached {
                t,
                t_end: t1,
                max_steps: self.opts.max_steps,
            });
        }
        self.attempts += 1;
        let mut last = false;
        if t + self.h >= t1 || (t1 - (t + self.h)).abs() <= 1e-12 * self.span.abs().max(1.0) {
            self.h = t1 - t;
            last = true;
        }
        // (t + h) - t == 0 means h is below the resolution of t.
        if (!last && self.h <= self.opts.h_min) || (t + self.h) - t <= 0.0 {
            return Err(if self.since_non_finite.is_some_and(|k| k < 5) {
                IntegrateError::NonFinite { t }
            } else {
                IntegrateError::StepSizeUnderflow { t, h: self.h }
            });
        }
        Ok(last)
    }

    /// Take the trial step `[t, t + h]` into `ws.y_new`; returns its error norm (`None` for
    /// methods without an error estimate; NaN when ROS2's linear system is singular).
    fn attempt(&mut self) -> Option<f64> {
        let (t, h) = (self.t, self.h);
        match self.scheme {
            Scheme::Erk(tab) => {
                let keep_prev_stage = self.stiffness.is_some();
                erk::take_stages(
                    tab,
                    self.field,
                    t,
                    h,
                    keep_prev_stage,
                    self.ws,
                    &mut self.stats,
                );
                tab.e.map(|_| erk::error_norm(tab, h, self.opts, self.ws))
            }
            Scheme::Ros2 => Some(
                ros2::step(self.field, t, h, self.opts, self.ws, &mut self.stats)
                    .unwrap_or(f64::NAN),
            ),
        }
    }

    /// Judge the trial by its error norm (`None`: fixed step, always accepted unless
    /// non-finite). A non-finite adaptive trial is retried smaller, a non-finite fixed step
    /// fails. Accepted explicit steps feed the stiffness detector.
    fn judge(&mut self, err: Option<f64>) -> Result<Judged, IntegrateError> {
        let y_ok = all_finite(&self.ws.y_new);
        let Some(err) = err else {
            return if y_ok {
                Ok(Judged::Accept { h_next: None })
            } else {
                Err(IntegrateError::NonFinite { t: self.t })
            };
        };
        if !y_ok || !err.is_finite() {
            self.stats.rejected += 1;
            self.since_non_finite = Some(0);
            self.h = self.controller.reject_non_finite(self.h);
            return Ok(Judged::Retry);
        }
        let q = self.scheme.error_order();
        match self.controller.judge(err, q, self.h, self.opts.h_max) {
            Verdict::Reject(h) => {
                self.stats.rejected += 1;
                self.h = h;
                Ok(Judged::Retry)
            }
            Verdict::Accept(h_next) => {
                if let Some(k) = self.since_non_finite.as_mut() {
                    *k += 1;
                }
                if let (Some(detector), Scheme::Erk(tab)) = (self.stiffness.as_mut(), self.scheme) {
                    detector.observe(tab, self.h, self.ws);
                }
                Ok(Judged::Accept {
                    h_next: Some(h_next),
                })
            }
        }
    }

    /// Accept the trial as the step `[t, t_new]`: compute the end derivative, locate events
    /// and emit saves inside it via the dense output, then make `y_new` the current state.
    /// Returns the terminal event `(index, time)` if one fired (the current state is then the
    /// state at that time).
    fn accept(&mut self, t_new: f64) -> Option<(usize, f64)> {
        let step = AcceptedStep {
            scheme: self.scheme,
            t: self.t,
            h: self.h,
            t_new,
        };
        self.stats.accepted += 1;
        let fsal = self.end_derivative(t_new);
        self.ws.dense_ready = false;
        let t_stop = self.events.scan_step(
            &mut self.out.events,
            &step,
            self.field,
            self.ws,
            &mut self.stats,
        );
        let t_limit = t_stop.map_or(t_new, |(_, ts)| ts);
        self.saves.emit_within(
            self.out,
            &step,
            t_limit,
            self.field,
            self.ws,
            &mut self.stats,
        );
        if let Some((index, ts)) = t_stop {
            self.events.stop_at(index, ts, self.ws);
            if matches!(self.out.save, SaveAt::Steps | SaveAt::End) {
                self.out.emit(ts, &self.ws.y);
            }
            return Some((index, ts));
        }
        if matches!(self.out.save, SaveAt::Steps) {
            self.out.emit(t_new, &self.ws.y_new);
        }
        let n = self.ws.n;
        std::mem::swap(&mut self.ws.y, &mut self.ws.y_new);
        match fsal {
            Some(s) => self.ws.k.copy_within((s - 1) * n..s * n, 0),
            None => self.ws.k[..n].copy_from_slice(&self.ws.f_new),
        }
        None
    }

    /// The end derivative `f(t_new, y_new)`, the next step's first stage: free for FSAL pairs
    /// (their last stage; returns their stage count), one evaluation into `ws.f_new` otherwise.
    fn end_derivative(&mut self, t_new: f64) -> Option<usize> {
        match self.scheme {
            Scheme::Erk(tab) if tab.fsal => Some(tab.stages),
            _ => {
                self.field.eval(t_new, &self.ws.y_new, &mut self.ws.f_new);
                self.stats.rhs_evals += 1;
                None
            }
        }
    }

    /// Move to `t_new` with the next step size (adaptive methods), and switch to ROS2 once the
    /// stiffness detector says so.
    fn advance(&mut self, t_new: f64, h_next: Option<f64>) {
        self.t = t_new;
        if let Some(h) = h_next {
            self.h = h;
        }
        let stiff = self.stiffness.as_ref().is_some_and(|d| d.is_stiff());
        if stiff && matches!(self.scheme, Scheme::Erk(_)) {
            self.scheme = Scheme::Ros2;
            self.switched_to_stiff_at = Some(self.t);
            self.ws.ros_mut();
        }
    }

    /// The end was reached: the remaining saves.
    fn finish(&mut self) {
        self.saves.finish(self.out, self.t, &self.ws.y);
    }

    /// The result, ending at `t_end` with the current state.
    fn into_solution(self, t_end: f64, stop: StopReason) -> Solution {
        Solution {
            t_end,
            y_end: self.ws.y.clone(),
            stats: self.stats,
            stop,
            events: self.events.into_hits(),
            switched_to_stiff_at: self.switched_to_stiff_at,
        }
    }
}

#[inline]
fn all_finite(v: &[f64]) -> bool {
    v.iter().all(|x| x.is_finite())
}
