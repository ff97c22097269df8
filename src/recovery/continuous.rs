//! M13, continuous-attractor recovery (theory/recovery.md RM-4, RM-9; attractors.md §6 M13,
//! C4): the model's slow set against the true manifold (Hausdorff distance, marginal modes
//! and their tangency, Betti numbers) and the drift along it.
//!
//! The slow set is the union of
//! - the model's fixed or slow points with a marginal direction (`fixed_points.json`), and
//! - the samples of its free-running query trajectories (`trajectories.npy`) after the first
//!   quarter of the horizon (the approach) that move slower than `v_slow = match_radius / T`
//!   (T: one trial duration): a state that drifts less than one match radius per trial keeps
//!   its memory through a trial. A model whose ring has broken
//!   into a few fixed points (Ságodi) still shows the ring this way: its trajectories land on
//!   the slow invariant ring and creep along it.
//!
//! Drift (M13b, RM-9): the speed along the true manifold, `|v . t|` with `v` the central-
//! difference velocity of a slow trajectory sample in the second half of the horizon (when
//! the fast approach has died out) within the match radius of the manifold, and `t` the unit
//! tangent at the nearest manifold sample. Reported as its maximum (Ságodi's uniform norm) and
//! mean, and as the memory time `match_radius / max drift`.

use crate::error::Result;
use crate::npy::Array3;
use crate::recovery::basins;
use crate::recovery::dataset::Dataset;
use crate::recovery::mechanism::Point;
use crate::recovery::metrics::matching::{self, dist};
use crate::recovery::metrics::{regress::Affine, topology};
use crate::recovery::truth::{Manifold, ManifoldKind};
use serde_json::{json, Value};

/// What M13 looks at: the model's points (true coordinates) and its query trajectories.
pub(crate) struct Slow<'a> {
    /// Model fixed / slow points in true coordinates.
    pub model: &'a [Point],
    /// Query trajectories `[n, STEPS, k]` in model coordinates, if given.
    pub trajectories: Option<&'a Array3>,
    /// Model -> true coordinates (M5 map).
    pub back: &'a Affine,
    /// Match radius (true coordinates).
    pub eps: f64,
    /// Attractor diameter (true coordinates).
    pub diameter: f64,
    /// One trial's duration (dataset time units).
    pub duration: f64,
}

/// Slow trajectory samples: (state in true coordinates, velocity, time as a fraction of the
/// horizon).
type Samples = Vec<(Vec<f64>, Vec<f64>, f64)>;

/// Samples from this fraction of the horizon on count as settled (2.5 trial durations: the
/// approach to the slow set is over); drift uses the second half.
const SETTLED: f64 = 0.25;
const DRIFT_FROM: f64 = 0.5;

/// The slow samples of `traj` (true coordinates after `back`), speed below `v_slow`.
fn slow_samples(traj: &Array3, back: &Affine, dt: f64, v_slow: f64) -> Samples {
    let mut out = Vec::new();
    for i in 0..traj.shape[0] {
        let x = basins::states(traj, i, |p| back.apply_point(p));
        for s in 1..x.len().saturating_sub(1) {
            let v: Vec<f64> = x[s + 1]
                .iter()
                .zip(&x[s - 1])
                .map(|(a, b)| (a - b) / (2.0 * dt))
                .collect();
            if v.iter().map(|c| c * c).sum::<f64>().sqrt() < v_slow {
                out.push((x[s].clone(), v, s as f64 / x.len() as f64));
            }
        }
    }
    out
}

/// Drift speeds along `mf` of the late slow samples within `eps` of it.
fn drift(mf: &Manifold, samples: &Samples, eps: f64) -> Vec<f64> {
    samples
        .iter()
        .filter(|(_, _, phase)| *phase >= DRIFT_FROM)
        .filter_map(|(x, v, _)| {
            let (k, dk) = mf
                .points
                .iter()
                .enumerate()
                .map(|(k, q)| (k, dist(q, x)))
                .min_by(|a, b| a.1.total_cmp(&b.1))?;
            (dk < eps).then(|| {
                v.iter()
                    .zip(&mf.tangents[k])
                    .map(|(a, b)| a * b)
                    .sum::<f64>()
                    .abs()
            })
        })
        .collect()
}

/// M13 as a `score.json` entry.
pub(crate) fn continuous_attractor(d: &Dataset, s: &Slow<'_>) -> Result<Value> {
    let Some(mf) = d.truth.manifolds.first() else {
        return Ok(json!({"name": "continuous_attractor", "value": Value::Null,
            "reason": "the true system has no continuous attractor"}));
    };
    let v_slow = s.eps / s.duration;
    let dt = basins::query_dt(d);
    let samples = s
        .trajectories
        .map(|t| slow_samples(t, s.back, dt, v_slow))
        .unwrap_or_default();
    let slow: Vec<&Point> = s.model.iter().filter(|p| p.n_marginal > 0).collect();
    let mut slow_x: Vec<Vec<f64>> = slow.iter().map(|p| p.x.clone()).collect();
    slow_x.extend(samples.iter().map(|(x, _, _)| x.clone()));
    // Coverage: every manifold sample near some slow state. Precision: every settled slow
    // state near the manifold (as a polyline, so sample spacing does not count); unsettled
    // slow samples are within v_slow / rate of it and only help coverage and topology.
    let closed = mf.kind == ManifoldKind::Ring;
    let settled = slow
        .iter()
        .map(|p| &p.x)
        .chain(samples.iter().filter(|q| q.2 >= SETTLED).map(|q| &q.0));
    let precision = settled
        .map(|x| matching::polyline_distance(x, &mf.points, closed))
        .fold(0.0, f64::max);
    let h = if slow_x.is_empty() {
        f64::INFINITY
    } else {
        matching::directed_hausdorff(&mf.points, &slow_x).max(precision)
    };
    let tangency: Vec<f64> = slow
        .iter()
        .filter_map(|p| {
            let (k, _) = mf
                .points
                .iter()
                .enumerate()
                .map(|(k, q)| (k, dist(q, &p.x)))
                .min_by(|a, b| a.1.total_cmp(&b.1))?;
            let t = &mf.tangents[k];
            p.marginal_dirs
                .iter()
                .map(|v| v.iter().zip(t).map(|(a, b)| a * b).sum::<f64>().abs())
                .reduce(f64::max)
        })
        .collect();
    let want = match mf.kind {
        ManifoldKind::Line => (1, 0),
        ManifoldKind::Ring => (1, 1),
    };
    let net = topology::subsample_greedy(&slow_x, s.eps / 3.0);
    let betti = (!net.is_empty()).then(|| topology::betti_0_1(&net, s.eps));
    let marginal = (!slow.is_empty())
        .then(|| slow.iter().map(|p| p.n_marginal as f64).sum::<f64>() / slow.len() as f64);
    let speeds = drift(mf, &samples, s.eps);
    let max_drift = speeds.iter().copied().reduce(f64::max);
    let mean_drift = (!speeds.is_empty()).then(|| speeds.iter().sum::<f64>() / speeds.len() as f64);
    let drift_reason = if s.trajectories.is_none() {
        Value::from("needs trajectories.npy (see `learndyn recovery queries`)")
    } else if speeds.is_empty() {
        Value::from("no slow trajectory sample near the true manifold in the second half")
    } else {
        Value::Null
    };
    let finite = |x: f64| {
        if x.is_finite() {
            Value::from(x)
        } else {
            Value::Null
        }
    };
    Ok(json!({"name": "continuous_attractor",
        "value": finite(h / s.diameter),
        "definition": "Hausdorff distance between the true manifold and the model's slow set (points with a marginal direction, and query-trajectory samples slower than match_radius per trial duration; settled samples, after a quarter of the horizon, measured to the manifold's polyline), over the attractor diameter",
        "hausdorff": finite(h),
        "slow_points": slow.len(), "slow_samples": samples.len(),
        "mean_marginal_modes": marginal, "true_marginal_modes": mf.marginal_modes,
        "tangency": if tangency.is_empty() { Value::Null } else { Value::from(tangency.iter().sum::<f64>() / tangency.len() as f64) },
        "betti": betti.map(|(b0, b1)| vec![b0, b1]), "true_betti": vec![want.0, want.1],
        "betti_match": betti.map(|b| b == want),
        "drift_max": max_drift, "drift_mean": mean_drift, "true_drift_max": mf.max_speed,
        "memory_time": max_drift.map(|v| if v > 0.0 { Value::from(s.eps / v) } else { Value::Null }),
        "drift_reason": drift_reason,
        "reason": if slow_x.is_empty() { Value::from("the model has no slow set (no marginal point, no slow trajectory sample)") } else { Value::Null },
        "hyperparameters": {"betti_scale": s.eps, "betti_spacing": s.eps / 3.0, "slow_speed": v_slow,
            "drift_samples": "second half of each query trajectory, within match_radius of the true manifold; speed along the nearest true tangent"}}))
}
