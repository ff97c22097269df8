//! The step-size policy and limits of a solve, and the check of a call's arguments.

use super::{IntegrateError, Method, SaveAt};

/// Absolute tolerance: one value for every component, or one per component.
#[derive(Debug, Clone, PartialEq)]
pub enum Atol {
    /// The same absolute tolerance for every component.
    Scalar(f64),
    /// One absolute tolerance per component (length must equal the state dimension).
    PerComponent(Vec<f64>),
}

impl Atol {
    /// The absolute tolerance of component `i`.
    #[inline]
    pub(super) fn get(&self, i: usize) -> f64 {
        match self {
            Atol::Scalar(a) => *a,
            Atol::PerComponent(v) => v[i],
        }
    }
}

/// Step-size control and limits for [`solve`](super::solve).
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

/// Check the arguments of a [`solve`](super::solve) call: state length, time span, the
/// tolerances (adaptive methods) or the fixed step (the others), and the save times.
pub(super) fn validate(
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
