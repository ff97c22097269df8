//! Ground-truth systems with known attractors (theory/recovery.md RS-1 ... RS-8).
//!
//! A [`System`] is a continuous-time flow `dx/dt = f(x, u)` with an analytic Jacobian, an
//! input model (what drives it in a trial) and its exact description, the [`Truth`]: fixed
//! points with their Jacobian eigenvalues, continuous attractors as sampled manifolds with
//! their tangents, limit cycles with their period. Each system lives in its own file and is
//! registered once, in [`SystemSpec`].

mod duffing;
mod flip_flop;
mod integrator;
mod linear;
mod lorenz;
mod network;
mod ring;
mod trio;
mod van_der_pol;

pub use duffing::Duffing;
pub use flip_flop::FlipFlop;
pub use integrator::Integrator;
pub use linear::{Linear, LinearTeacher};
pub use lorenz::Lorenz;
pub use network::NetworkSystem;
pub use ring::Ring;
pub use trio::{Trio, TrioMechanism};
pub use van_der_pol::VanDerPol;

use crate::error::{Error, Result};
use crate::integrate::{
    self, Atol, Crossing, Event, Ivp, Method, Options, Output, VectorField, Workspace,
};
use crate::linalg::Matrix;
use crate::model::state_map::{StateMap, TimeKind};
use crate::recovery::truth::{TrueFixedPoint, Truth};
use rand::rngs::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// A ground-truth flow `dx/dt = f(x, u)`, `x` of length [`System::dim`], `u` of length
/// [`System::n_inputs`] (empty for autonomous systems).
pub trait System: Send + Sync {
    /// Short name, as in the spec's `system.kind`.
    fn name(&self) -> &'static str;
    /// State dimension.
    fn dim(&self) -> usize;
    /// Input dimension (0: autonomous).
    fn n_inputs(&self) -> usize {
        0
    }
    /// Write `f(x, u)` into `out` (length [`System::dim`]); for a discrete map
    /// ([`System::time`]), the next state `F(x, u)`.
    fn field(&self, x: &[f64], u: &[f64], out: &mut [f64]);
    /// The Jacobian `df/dx` (discrete: `dF/dx`) at `(x, u)` into `jac` (`dim x dim`, entry
    /// `(i, j) = df_i/dx_j`).
    fn jacobian(&self, x: &[f64], u: &[f64], jac: &mut Matrix);
    /// A flow (default) or a discrete map `x_{s+1} = F(x_s, u_s)` (teacher networks).
    fn time(&self) -> TimeKind {
        TimeKind::Continuous
    }
    /// For a discrete map: the time one step stands for (the dataset's `trials.dt` must
    /// equal it).
    fn map_dt(&self) -> f64 {
        1.0
    }
    /// The exact description of the autonomous system (`u = 0`).
    fn truth(&self) -> Result<Truth>;
    /// The box `(low, high)` initial states are drawn from (uniformly) unless the spec says
    /// otherwise, also the default box of state-space grids.
    fn init_box(&self) -> (Vec<f64>, Vec<f64>);
    /// Inputs of one trial, `steps x n_inputs` (row `k` holds the input on `[t_k, t_{k+1})`),
    /// for condition `condition` of [`System::n_conditions`]; `rng` is the trial's stream.
    fn inputs(&self, _condition: usize, steps: usize, _dt: f64, _rng: &mut ChaCha8Rng) -> Matrix {
        Matrix::zeros(steps, self.n_inputs())
    }
    /// Number of input conditions (trials cycle through them).
    fn n_conditions(&self) -> usize {
        1
    }
    /// The initial state of a trial of condition `condition`, or `None` to draw it from
    /// [`System::init_box`].
    fn fixed_init(&self, _condition: usize) -> Option<Vec<f64>> {
        None
    }
}

/// The systems a spec can name (`[system] kind = "..."`), each with its own parameters.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SystemSpec {
    /// n-bit flip-flop: product of 1-D double wells (RS-1, C3); `bits = 1` is the double well.
    FlipFlop(FlipFlop),
    /// Perfect or leaky integrator: a line attractor (RS-2).
    Integrator(Integrator),
    /// Galgali trio: saddle, line or point attractor with identical condition averages (RS-3).
    Trio(Trio),
    /// Noorman head-direction ring attractor (RS-4, C4).
    Ring(Ring),
    /// Bistable Duffing oscillator (RS-5, C5).
    Duffing(Duffing),
    /// Van der Pol oscillator: a stable limit cycle (RS-6).
    VanDerPol(VanDerPol),
    /// Lorenz-63: a chaotic attractor (RS-7).
    Lorenz(Lorenz),
    /// Linear teacher `dx/dt = (B - I) x` (RS-8): feed-forward chain, non-normal line
    /// attractor, or `B` from a `.npy` file.
    Linear(Linear),
    /// A teacher network in the standard weights form (RS-11), attractors found numerically.
    Network(NetworkSystem),
}

impl SystemSpec {
    /// The system, validated (errors name the `system.*` key and the fix).
    pub fn build(&self) -> Result<Box<dyn System>> {
        Ok(match self {
            SystemSpec::FlipFlop(s) => Box::new(s.validated()?),
            SystemSpec::Integrator(s) => Box::new(s.validated()?),
            SystemSpec::Trio(s) => Box::new(s.validated()?),
            SystemSpec::Ring(s) => Box::new(s.validated()?),
            SystemSpec::Duffing(s) => Box::new(s.validated()?),
            SystemSpec::VanDerPol(s) => Box::new(s.validated()?),
            SystemSpec::Lorenz(s) => Box::new(s.validated()?),
            SystemSpec::Linear(s) => Box::new(s.validated()?),
            SystemSpec::Network(s) => Box::new(s.validated()?),
        })
    }

    /// True for systems whose field is piecewise linear with switching at `x_j = 0` (the
    /// ReLU ring): their Jacobian is one-sided there.
    pub fn is_piecewise_linear(&self) -> bool {
        matches!(self, SystemSpec::Ring(_))
    }

    /// The names accepted as `system.kind`.
    pub const KINDS: [&'static str; 9] = [
        "flip_flop",
        "integrator",
        "trio",
        "ring",
        "duffing",
        "van_der_pol",
        "lorenz",
        "linear",
        "network",
    ];
}

/// The autonomous flow `f(x, 0)` of a system as a [`StateMap`], for the fixed-point finder.
pub struct Autonomous<'a>(pub &'a dyn System);

impl StateMap for Autonomous<'_> {
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn kind(&self) -> TimeKind {
        self.0.time()
    }
    fn residual(&self, x: &[f64], out: &mut [f64]) {
        let u = vec![0.0; self.0.n_inputs()];
        self.0.field(x, &u, out);
        if self.0.time() == TimeKind::Discrete {
            out.iter_mut().zip(x).for_each(|(o, xi)| *o -= xi);
        }
    }
    fn jacobian(&self, x: &[f64], jac: &mut Matrix) {
        let u = vec![0.0; self.0.n_inputs()];
        self.0.jacobian(x, &u, jac);
    }
}

/// A fixed point `x` of `system` (autonomous) described from its analytic Jacobian:
/// eigenvalues (most unstable first), stability and timescales (FP-3 conventions). For a
/// discrete map the eigenvalues are the continuous-equivalent rates `ln(mu) / dt` of the
/// multipliers `mu` (as the scorer converts a discrete model's, RM-1).
pub fn describe_fixed_point(system: &dyn System, x: Vec<f64>) -> Result<TrueFixedPoint> {
    let n = system.dim();
    let mut jac = Matrix::zeros(n, n);
    Autonomous(system).jacobian(&x, &mut jac);
    if system.time() == TimeKind::Discrete {
        let dt = system.map_dt();
        let mu = crate::linalg::eigenvalues(&jac)?;
        let rates: Vec<num_complex::Complex64> = mu.iter().map(|m| m.ln() / dt).collect();
        return Ok(TrueFixedPoint::from_eigenvalues(x, &rates));
    }
    TrueFixedPoint::from_jacobian(x, &jac)
}

/// Error for a bad `system.<key>` value.
pub(crate) fn bad(key: &str, message: impl Into<String>) -> Error {
    Error::Config {
        file: "<spec>".into(),
        key: format!("system.{key}"),
        message: message.into(),
    }
}

/// `system` under the constant input `u` as an integrable [`VectorField`].
pub(crate) struct Driven<'a> {
    /// The system.
    pub system: &'a dyn System,
    /// Its constant input (length `n_inputs`).
    pub u: &'a [f64],
}

impl VectorField for Driven<'_> {
    fn dim(&self) -> usize {
        self.system.dim()
    }
    fn eval(&mut self, _t: f64, y: &[f64], dydt: &mut [f64]) {
        self.system.field(y, self.u, dydt);
    }
}

/// Tight tolerances for reference trajectories of a truth description (DOP853).
pub(crate) fn reference_options() -> Options {
    Options {
        rtol: 1e-10,
        atol: Atol::Scalar(1e-12),
        max_steps: 10_000_000,
        ..Options::default()
    }
}

/// The autonomous trajectory of `system` from `x0`, saved at `times` (ascending, from 0),
/// with DOP853 at tight tolerances (rtol 1e-10, atol 1e-12); a discrete map is iterated,
/// each time sampled at its nearest step.
pub fn trajectory(system: &dyn System, x0: &[f64], times: &[f64]) -> Result<Vec<Vec<f64>>> {
    let u = vec![0.0; system.n_inputs()];
    let mut out = Vec::with_capacity(times.len());
    if system.time() == TimeKind::Discrete {
        // Iterate the map; each time is sampled at its nearest step.
        let (mut x, mut next) = (x0.to_vec(), vec![0.0; x0.len()]);
        let mut step = 0usize;
        for &t in times {
            let want = (t / system.map_dt()).round() as usize;
            while step < want {
                system.field(&x, &u, &mut next);
                std::mem::swap(&mut x, &mut next);
                step += 1;
            }
            out.push(x.clone());
        }
        return Ok(out);
    }
    let mut save = |_t: f64, y: &[f64]| out.push(y.to_vec());
    let t1 = times.last().copied().unwrap_or(0.0);
    let method = Method::parse("dop853").expect("built-in method");
    integrate::solve(
        &method,
        &mut Driven { system, u: &u },
        &Ivp::new(0.0, x0, t1),
        &reference_options(),
        &mut Workspace::new(system.dim()),
        &mut Output::at_times(times, &mut save),
    )?;
    Ok(out)
}

/// A stable limit cycle of the autonomous `system` reached from `x0`: after `transient`
/// time units, the period is the time between two rising crossings of `x[section] =
/// level` (located by the solver's event finder on its dense output), and `n_points`
/// points are saved along one period. The nontrivial Floquet multipliers are left to the
/// caller (they need the variational equation).
pub(crate) fn limit_cycle(
    system: &dyn System,
    x0: &[f64],
    transient: f64,
    section: usize,
    level: f64,
    n_points: usize,
) -> Result<(f64, Vec<Vec<f64>>)> {
    let u = vec![0.0; system.n_inputs()];
    let method = Method::parse("dop853").expect("built-in method");
    let start = trajectory(system, x0, &[transient])?.remove(0);
    // Crossings over a window long enough for several periods of the built-in systems.
    let sol = integrate::solve(
        &method,
        &mut Driven { system, u: &u },
        &Ivp::new(0.0, &start, 200.0),
        &reference_options(),
        &mut Workspace::new(system.dim()),
        &mut Output::end().with_event(Event::new(
            move |_t, y: &[f64]| y[section] - level,
            Crossing::Rising,
        )),
    )?;
    let hits = &sol.events;
    if hits.len() < 3 {
        return Err(Error::invalid(
            "limit cycle",
            "fewer than 3 section crossings in 200 time units: no cycle reached",
        ));
    }
    let period = hits[2].t - hits[1].t;
    let times: Vec<f64> = (0..n_points)
        .map(|k| period * k as f64 / n_points as f64)
        .collect();
    let points = trajectory(system, &hits[1].y, &times)?;
    Ok((period, points))
}
