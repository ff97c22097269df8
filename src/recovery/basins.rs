//! Per-initial-condition topological error and the domain of validity (M9, M16;
//! theory/recovery.md RM-7; Göring et al. 2024, attractors.md §3.3), through the second step
//! of the file exchange: learndyn writes initial states in the model's coordinates
//! (`learndyn recovery queries`), the method runs its model freely from each and writes the
//! trajectories back (`trajectories.npy`).
//!
//! Initial conditions (in true coordinates): a grid over the system's initial-state box
//! (`GRID` points per axis for 1 to 3 dimensions), or `RANDOM` seeded uniform draws from it in
//! higher dimension. The box is the system's own, not the dataset's `trials.init_low` /
//! `init_high` or `trials.basin`: E_top asks about every basin, so a model trained on part of
//! the state space is scored where it was not trained (M16 splits the two). Horizon `H` = 10 trial durations, `STEPS` samples `H / (STEPS - 1)` apart;
//! the first 3/4 are the transient. An initial condition succeeds when the model's
//! post-transient states, mapped into true coordinates by the M5 map, and the true ones are
//! within the match radius of each other in Hausdorff distance. The Lyapunov-spectrum criterion
//! of Göring et al. is not applied (the exchange carries no Jacobians along trajectories).

use crate::error::{Error, Result};
use crate::linalg::Matrix;
use crate::npy::Array3;
use crate::recovery::dataset::Dataset;
use crate::recovery::metrics::matching;
use crate::recovery::metrics::regress::Affine;
use crate::recovery::system::trajectory;
use rand::RngExt;
use serde::{Deserialize, Serialize};

/// Samples per query trajectory.
pub const STEPS: usize = 400;
/// Grid points per axis (dimension 1: `GRID^2`).
pub const GRID: [usize; 3] = [100, 10, 5];
/// Random initial conditions beyond 3 dimensions.
pub const RANDOM: usize = 100;
/// Extra initial conditions near each true continuous attractor (evenly spaced along its
/// samples), so that the model's slow set is mapped along the whole manifold (M13): from the
/// box alone trajectories may land on a few places only (the ring's ICs gather at 5-6).
pub const NEAR_MANIFOLD: usize = 96;
/// Offset of those initial conditions from the manifold, as a fraction of its diameter, in a
/// seeded random direction: the model must bring them back.
pub const NEAR_OFFSET: f64 = 0.01;

/// `queries/queries.json`: what the method must simulate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Queries {
    /// Number of initial states (rows of `initial_states.npy`).
    pub initial_states: usize,
    /// Samples per trajectory, the first being the initial state.
    pub steps: usize,
    /// Time between samples (dataset time units).
    pub dt: f64,
    /// What to write: `trajectories.npy` of shape `[initial_states, steps, k]`, the model run
    /// freely (zero input) from each initial state, in its own coordinates.
    pub write: String,
}

/// The initial conditions in true coordinates: the box grid (or random draws), then
/// [`NEAR_MANIFOLD`] points near each true continuous attractor.
pub fn initial_conditions(d: &Dataset) -> Result<Vec<Vec<f64>>> {
    let mut ics = box_conditions(d)?;
    let mut rng = crate::random::rng(d.meta.spec.seed, 0xB452);
    for mf in &d.truth.manifolds {
        let n = mf.points.len();
        if n == 0 {
            continue;
        }
        let mut diameter = 0.0f64;
        for a in &mf.points {
            for b in &mf.points {
                diameter = diameter.max(matching::dist(a, b));
            }
        }
        for q in 0..NEAR_MANIFOLD.min(n) {
            let p = &mf.points[q * n / NEAR_MANIFOLD.min(n)];
            let dir: Vec<f64> = p
                .iter()
                .map(|_| rng.sample::<f64, _>(rand_distr::StandardNormal))
                .collect();
            let norm = dir.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-300);
            ics.push(
                p.iter()
                    .zip(&dir)
                    .map(|(x, v)| x + NEAR_OFFSET * diameter * v / norm)
                    .collect(),
            );
        }
    }
    Ok(ics)
}

/// The grid over the system's initial-state box (random draws beyond 3 dimensions).
fn box_conditions(d: &Dataset) -> Result<Vec<Vec<f64>>> {
    let sys = d.meta.spec.system.build()?;
    let (lo, hi) = sys.init_box();
    let dim = lo.len();
    if dim <= 3 {
        let g = GRID[dim - 1];
        let total = g.pow(dim as u32);
        return Ok((0..total)
            .map(|mut c| {
                (0..dim)
                    .map(|j| {
                        let k = c % g;
                        c /= g;
                        lo[j] + (hi[j] - lo[j]) * (k as f64 + 0.5) / g as f64
                    })
                    .collect()
            })
            .collect());
    }
    let mut rng = crate::random::rng(d.meta.spec.seed, 0xB451);
    Ok((0..RANDOM)
        .map(|_| {
            (0..dim)
                .map(|j| lo[j] + (hi[j] - lo[j]) * rng.random::<f64>())
                .collect()
        })
        .collect())
}

/// Horizon sample spacing: 10 trial durations over [`STEPS`] samples.
pub fn query_dt(d: &Dataset) -> f64 {
    10.0 * d.meta.time as f64 * d.meta.dt / (STEPS - 1) as f64
}

/// The true system's trajectories from the initial conditions: `[n, STEPS, dim]`.
pub fn true_trajectories(d: &Dataset) -> Result<Array3> {
    let sys = d.meta.spec.system.build()?;
    let ics = initial_conditions(d)?;
    let dt = query_dt(d);
    let times: Vec<f64> = (0..STEPS).map(|k| k as f64 * dt).collect();
    let dim = sys.dim();
    let mut data = Vec::with_capacity(ics.len() * STEPS * dim);
    for x0 in &ics {
        for p in trajectory(sys.as_ref(), x0, &times)? {
            data.extend(p);
        }
    }
    Ok(Array3 {
        shape: [ics.len(), STEPS, dim],
        data,
    })
}

/// The initial conditions mapped into the model's coordinates by `forward` (the M4 map).
pub fn model_initial_states(d: &Dataset, forward: &Affine) -> Result<Matrix> {
    let ics = initial_conditions(d)?;
    let k = forward.a.nrows();
    let mapped: Vec<Vec<f64>> = ics.iter().map(|x| forward.apply_point(x)).collect();
    Ok(Matrix::from_fn(ics.len(), k, |i, j| mapped[i][j]))
}

/// Check the shape of a model's `trajectories.npy` against the queries.
pub fn check_shape(t: &Array3, n: usize, k: usize, what: &str) -> Result<()> {
    if t.shape != [n, STEPS, k] {
        return Err(Error::Shape {
            what: what.into(),
            expected: format!("[{n}, {STEPS}, {k}] (queries/queries.json; k from latents.npy)"),
            got: format!("{:?}", t.shape),
        });
    }
    Ok(())
}

/// Per initial condition, whether the model's post-transient set matches the truth's within
/// `eps` (Hausdorff), the model's trajectories mapped by `back`.
pub fn successes(truth: &Array3, model: &Array3, back: &Affine, eps: f64) -> Vec<bool> {
    let [n, steps, dim] = truth.shape;
    let k = model.shape[2];
    let start = steps * 3 / 4;
    (0..n)
        .map(|i| {
            let tp: Vec<Vec<f64>> = (start..steps)
                .map(|s| truth.data[(i * steps + s) * dim..(i * steps + s + 1) * dim].to_vec())
                .collect();
            let mp: Vec<Vec<f64>> = (start..steps)
                .map(|s| {
                    back.apply_point(&model.data[(i * steps + s) * k..(i * steps + s + 1) * k])
                })
                .collect();
            matching::hausdorff(&tp, &mp) < eps
        })
        .collect()
}

/// Mean period of the post-transient part (last quarter) of trajectory `i` of `traj`
/// (`[n, STEPS, dim]`, spacing `dt`, true coordinates): the mean spacing of upward crossings
/// of `x[0] = level`, located by linear interpolation. `None` with fewer than two crossings.
pub fn crossing_period(traj: &[Vec<f64>], level: f64, dt: f64) -> Option<f64> {
    let start = traj.len() * 3 / 4;
    let mut times = Vec::new();
    for s in start.max(1)..traj.len() {
        let (a, b) = (traj[s - 1][0] - level, traj[s][0] - level);
        if a < 0.0 && b >= 0.0 {
            times.push((s - 1) as f64 * dt + dt * a / (a - b));
        }
    }
    (times.len() >= 2).then(|| (times[times.len() - 1] - times[0]) / (times.len() - 1) as f64)
}

/// Trajectory `i` of `a` (`[n, steps, k]`), each state mapped by `map`.
pub fn states(a: &Array3, i: usize, map: impl Fn(&[f64]) -> Vec<f64>) -> Vec<Vec<f64>> {
    let [_, steps, k] = a.shape;
    (0..steps)
        .map(|s| map(&a.data[(i * steps + s) * k..(i * steps + s + 1) * k]))
        .collect()
}
