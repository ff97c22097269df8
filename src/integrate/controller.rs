//! Step-size selection (IN-2): the PI controller that turns an error norm into the next step,
//! and Hairer's initial-step heuristic.

use super::kernels::scaled;
use super::{Options, Stats, VectorField, Workspace};

/// The PI step-size controller of HNW I (Section II.4, eq. (4.13)) as in Hairer's `dopri5.f`,
/// used by every adaptive method, DOP853 included (IN-2: `dop853.f`'s own defaults differ;
/// learndyn keeps one controller, measured there).
///
/// With `err` the error norm of a trial step of size `h` (accept when `err <= 1`), `q` the
/// power with which the method's error estimate scales (`err ~ h^q`) and `err_old` the norm of
/// the previous accepted step (floored at `1e-4`, initially `1e-4`):
///
/// - accepted: `h_new = min(h_max, h / clamp(err^(1/q - 0.75 beta) err_old^(-beta) / safety,
///   1/fac_max, 1/fac_min))`, and not above `h` right after a rejection;
/// - rejected: retry with `h / min(1/fac_min, err^(1/q - 0.75 beta) / safety)`;
/// - non-finite trial state or error: retry with `h / 4`.
///
/// The step ratio `h_new / h` thus lies in `[fac_min, fac_max]`.
#[derive(Debug, Clone)]
pub(super) struct PiController {
    /// Safety factor < 1: the next step is this fraction of the step predicted to give
    /// `err = 1`, so that fewer steps are rejected.
    safety: f64,
    /// Weight of the previous error (the "P" part); 0 gives the classical I controller.
    beta: f64,
    /// Smallest step ratio `h_new / h`.
    fac_min: f64,
    /// Largest step ratio `h_new / h`.
    fac_max: f64,
    /// `max(err, 1e-4)` of the last accepted step.
    err_old: f64,
    /// Whether the last trial was rejected (then the accepted step after it may not grow).
    last_rejected: bool,
}

/// What the controller decided about a trial step.
#[derive(Debug, Clone, Copy)]
pub(super) enum Verdict {
    /// Accept the step; the next one has this size.
    Accept(f64),
    /// Reject the step; retry with this size.
    Reject(f64),
}

impl PiController {
    /// `dopri5.f`'s defaults: `beta = 0.04`, `safety = 0.9`, step ratio in `[0.2, 10]`.
    pub(super) fn dopri5() -> Self {
        PiController {
            safety: 0.9,
            beta: 0.04,
            fac_min: 0.2,
            fac_max: 10.0,
            err_old: 1e-4,
            last_rejected: false,
        }
    }

    /// Judge a trial of size `h` with finite error norm `err`, for an estimate scaling like
    /// `h^q`; accepted steps are capped at `h_max`.
    pub(super) fn judge(&mut self, err: f64, q: f64, h: f64, h_max: f64) -> Verdict {
        let fac11 = err.powf(1.0 / q - 0.75 * self.beta);
        if err > 1.0 {
            self.last_rejected = true;
            return Verdict::Reject(h / (1.0 / self.fac_min).min(fac11 / self.safety));
        }
        let fac = (fac11 / self.err_old.powf(self.beta) / self.safety)
            .clamp(1.0 / self.fac_max, 1.0 / self.fac_min);
        self.err_old = err.max(1e-4);
        let mut h_new = (h / fac).min(h_max);
        if self.last_rejected {
            h_new = h_new.min(h);
        }
        self.last_rejected = false;
        Verdict::Accept(h_new)
    }

    /// A trial of size `h` produced a non-finite state or error norm: the step to retry with.
    pub(super) fn reject_non_finite(&mut self, h: f64) -> f64 {
        self.last_rejected = true;
        h * 0.25
    }
}

/// Hairer's `hinit`: a first step from the size of `y0`, `f(y0)` and a second-derivative
/// estimate, `h = (0.01 / max(|f'|, |f''|))^(1/order)` (dopri5.f uses `iord = 5`).
pub(super) fn initial_step<F: VectorField + ?Sized>(
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
