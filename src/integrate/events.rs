//! Event location (IN-9): sign changes of the event functions between the ends of each
//! accepted step, located on the dense output.

use super::dense::{self, AcceptedStep};
use super::{Crossing, Event, EventFn, EventHit, Stats, VectorField, Workspace};

/// The events' values at the last accepted step end, and every crossing found so far.
pub(super) struct EventTracker {
    /// `g_i(t, y)` at the current step start, one per event.
    g_prev: Vec<f64>,
    /// Located crossings, in time order.
    hits: Vec<EventHit>,
}

impl EventTracker {
    /// Evaluate every event function at the initial point `(t0, y0)`.
    pub(super) fn start(events: &mut [Event<'_>], t0: f64, y0: &[f64]) -> Self {
        EventTracker {
            g_prev: events.iter_mut().map(|e| (e.g)(t0, y0)).collect(),
            hits: Vec::new(),
        }
    }

    /// Check every event at the end of the accepted `step` (state `ws.y_new`) and locate each
    /// crossing inside it on the dense output, recording a hit. Returns the earliest terminal
    /// crossing `(index, time)`, if any.
    pub(super) fn scan_step<F: VectorField + ?Sized>(
        &mut self,
        events: &mut [Event<'_>],
        step: &AcceptedStep,
        field: &mut F,
        ws: &mut Workspace,
        stats: &mut Stats,
    ) -> Option<(usize, f64)> {
        let mut t_stop: Option<(usize, f64)> = None;
        for (index, ev) in events.iter_mut().enumerate() {
            let g1 = (ev.g)(step.t_new, &ws.y_new);
            let g0 = self.g_prev[index];
            self.g_prev[index] = g1;
            if !fires(ev.crossing, g0, g1) {
                continue;
            }
            dense::prepare(step, field, ws, stats);
            let theta = locate_root(step, ws, &mut ev.g, g0, g1);
            let te = if theta >= 1.0 {
                step.t_new
            } else {
                step.t + theta * step.h
            };
            dense::interpolate(step.scheme, theta, step.h, ws);
            self.hits.push(EventHit {
                index,
                t: te,
                y: ws.y_out.clone(),
            });
            if ev.terminal && t_stop.is_none_or(|(_, ts)| te < ts) {
                t_stop = Some((index, te));
            }
        }
        self.hits.sort_by(|a, b| a.t.total_cmp(&b.t));
        t_stop
    }

    /// The solve stops at terminal event `index` located at `ts`: drop the hits after it and
    /// make the state at the event (its hit's, else the step end's) the current state `ws.y`.
    pub(super) fn stop_at(&mut self, index: usize, ts: f64, ws: &mut Workspace) {
        self.hits.retain(|hit| hit.t <= ts);
        match self.hits.iter().rev().find(|hit| hit.index == index) {
            Some(hit) => ws.y.copy_from_slice(&hit.y),
            None => ws.y.copy_from_slice(&ws.y_new),
        }
    }

    /// Every crossing, in time order.
    pub(super) fn into_hits(self) -> Vec<EventHit> {
        self.hits
    }
}

/// Whether `g` going from `g0` to `g1` is a crossing of the requested direction.
fn fires(crossing: Crossing, g0: f64, g1: f64) -> bool {
    match crossing {
        Crossing::Rising => g0 < 0.0 && g1 >= 0.0,
        Crossing::Falling => g0 > 0.0 && g1 <= 0.0,
        Crossing::Either => (g0 < 0.0 && g1 >= 0.0) || (g0 > 0.0 && g1 <= 0.0),
    }
}

/// Root of `g(t + theta h, y(theta))` in `theta in (0, 1]` by the Illinois variant of regula
/// falsi on the dense output (Shampine & Thompson 2000 use the same idea), to a relative
/// precision of a few ulps of `t`.
fn locate_root(
    step: &AcceptedStep,
    ws: &mut Workspace,
    g: &mut EventFn<'_>,
    g0: f64,
    g1: f64,
) -> f64 {
    let (scheme, t, h) = (step.scheme, step.t, step.h);
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
        dense::interpolate(scheme, m, h, ws);
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
