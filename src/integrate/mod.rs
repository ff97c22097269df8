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

//!
//! Layout: [`solve`] (`driver.rs`) is the loop; each of its steps lives in its own file:
//! `erk.rs` (explicit Runge-Kutta stages and error norm), `ros2.rs` (the Rosenbrock step),
//! `controller.rs` (the PI step-size controller and the initial step), `stiffness.rs`
//! (stiffness detection for [`Method::Auto`]), `dense.rs` (dense output), `events.rs` (event
//! location), `output.rs` (what is saved and when), `options.rs`, `solution.rs` and
//! `workspace.rs` (the types of the call), `kernels.rs` (the vectorized hot loops).

mod controller;
mod dense;
mod driver;
mod erk;
mod events;
mod kernels;
mod options;
mod output;
pub mod quad;
mod ros2;
mod solution;
mod stiffness;
pub mod tableau;
mod workspace;

pub use driver::solve;
pub use options::{Atol, Options};
pub use output::{Crossing, Event, EventFn, EventHit, Output, SaveAt, SaveFn};
pub use solution::{IntegrateError, Solution, Stats, StopReason};
pub use tableau::Tableau;
pub use workspace::Workspace;

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

/// The stepping scheme in use (Auto switches from `Erk` to `Ros2`).
#[derive(Clone, Copy)]
enum Scheme {
    Erk(&'static Tableau),
    Ros2,
}

impl Scheme {
    /// The power `q` with which the scheme's error estimate scales, `err ~ h^q`: the embedded
    /// order + 1, the full order for DOP853's combined norm (IN-5), 2 for ROS2.
    fn error_order(self) -> f64 {
        match self {
            Scheme::Erk(tab) if tab.e3.is_some() => tab.order as f64,
            Scheme::Erk(tab) => tab.embedded_order.unwrap_or(tab.order) as f64 + 1.0,
            Scheme::Ros2 => 2.0,
        }
    }
}
