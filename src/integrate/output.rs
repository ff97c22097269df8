//! What a solve hands back besides its final state: the states saved at requested times or
//! steps (through a callback), and the event functions whose crossings are located.

use super::dense::{self, AcceptedStep};
use super::{Stats, VectorField, Workspace};

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
    /// Keep only the final state ([`Solution::y_end`](super::Solution::y_end)).
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
    /// Hand `(t, y)` to the save callback, if any.
    pub(super) fn emit(&mut self, t: f64, y: &[f64]) {
        if let Some(f) = self.on_save.as_mut() {
            f(t, y);
        }
    }
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

/// Progress through the requested save times of [`SaveAt::Times`] (empty for the other
/// modes): `times[..next]` have been emitted.
pub(super) struct SaveCursor<'a> {
    times: &'a [f64],
    next: usize,
}

impl<'a> SaveCursor<'a> {
    /// Emit the save times at or before `t0` (all get `y0`) and, for [`SaveAt::Steps`], the
    /// initial state.
    pub(super) fn start(out: &mut Output<'a>, t0: f64, y0: &[f64]) -> Self {
        let times: &'a [f64] = match out.save {
            SaveAt::Times(t) => t,
            _ => &[],
        };
        let mut next = 0usize;
        while next < times.len() && times[next] <= t0 {
            out.emit(times[next], y0);
            next += 1;
        }
        if matches!(out.save, SaveAt::Steps) {
            out.emit(t0, y0);
        }
        SaveCursor { times, next }
    }

    /// Emit the save times up to `t_limit` (inside the accepted `step`, or its end): a time at
    /// or after the step end gets `y_new` itself, an earlier one the dense output (prepared
    /// on first need, so steps without output pay nothing).
    pub(super) fn emit_within<F: VectorField + ?Sized>(
        &mut self,
        out: &mut Output<'_>,
        step: &AcceptedStep,
        t_limit: f64,
        field: &mut F,
        ws: &mut Workspace,
        stats: &mut Stats,
    ) {
        while self.next < self.times.len() && self.times[self.next] <= t_limit {
            let ts = self.times[self.next];
            if ts >= step.t_new {
                out.emit(ts, &ws.y_new);
            } else {
                dense::prepare(step, field, ws, stats);
                dense::interpolate(step.scheme, (ts - step.t) / step.h, step.h, ws);
                out.emit(ts, &ws.y_out);
            }
            self.next += 1;
        }
    }

    /// At the end of a solve that reached `t1`: emit the save times that rounding left
    /// behind (all equal to `t1`, given `y`), then, for [`SaveAt::End`], the final state.
    pub(super) fn finish(&mut self, out: &mut Output<'_>, t: f64, y: &[f64]) {
        while self.next < self.times.len() {
            out.emit(self.times[self.next], y);
            self.next += 1;
        }
        if matches!(out.save, SaveAt::End) {
            out.emit(t, y);
        }
    }
}
