//! Mechanism-recovery metrics (attractors.md §6.D; theory/recovery.md RM-1 ... RM-4): the
//! model's fixed points, mapped into true-latent coordinates by the inferred -> true affine
//! map of M5, against the true fixed points and continuous attractors.
//!
//! Conventions shared by every metric here (RM-1):
//! - scale `D`: the diameter of the true attractor set (fixed points, manifold, cycle and
//!   chaotic points), or twice the RMS radius of the true latents when that set is a single
//!   point; the match radius is `eps = match_fraction * D` (default 0.1, as §6 M10 suggests);
//! - a direction is marginal when its rate `|Re lambda| < 1 / (10 T)`, `T` the trial duration:
//!   a mode ten trials long cannot be told from a marginal one in the data. The same rule
//!   classifies the true and the model's points.

use crate::error::Result;
use crate::linalg::{self, Matrix};
use crate::model::state_map::TimeKind;
use crate::npy::Array3;
use crate::recovery::basins;
use crate::recovery::continuous::{self, Slow};
use crate::recovery::dataset::Dataset;
use crate::recovery::graph::{self, Node, Simulator};
use crate::recovery::metrics::matching::{self, dist};
use crate::recovery::metrics::regress::Affine;
use crate::recovery::recurrences;
use crate::recovery::score::Fitted;
use num_complex::Complex64;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Fraction of the attractor diameter within which points match (M10, M11, M13, M15).
pub const MATCH_FRACTION: f64 = 0.1;

/// What the score figure draws (not part of `score.json`): points in true coordinates.
#[derive(Debug, Clone, Default)]
pub struct FigureData {
    /// True fixed points: (x, n_unstable).
    pub true_points: Vec<(Vec<f64>, usize)>,
    /// True manifold, limit-cycle and chaotic sample points.
    pub true_sets: Vec<Vec<f64>>,
    /// Model points mapped into true coordinates: (x, n_unstable, n_marginal).
    pub model_points: Vec<(Vec<f64>, usize, usize)>,
    /// (true, model) timescale of the slowest mode at each matched fixed point, time units.
    pub timescales: Vec<(f64, f64)>,
}

/// A point in true coordinates with its continuous-time spectrum.
#[derive(Debug, Clone)]
pub(crate) struct Point {
    pub x: Vec<f64>,
    /// Continuous-time eigenvalues (per dataset time unit), most persistent first.
    pub eig: Vec<Complex64>,
    pub n_unstable: usize,
    pub n_marginal: usize,
    /// Marginal eigen-directions in true coordinates (unit vectors).
    pub marginal_dirs: Vec<Vec<f64>>,
}

impl Point {
    pub(crate) fn stable(&self) -> bool {
        self.n_unstable == 0 && self.n_marginal == 0
    }
}

fn classify(x: Vec<f64>, mut eig: Vec<Complex64>, rate_tol: f64, dirs: Vec<Vec<f64>>) -> Point {
    eig.sort_by(|a, b| b.re.total_cmp(&a.re).then(b.im.total_cmp(&a.im)));
    Point {
        n_unstable: eig.iter().filter(|z| z.re >= rate_tol).count(),
        n_marginal: eig.iter().filter(|z| z.re.abs() < rate_tol).count(),
        x,
        eig,
        marginal_dirs: dirs,
    }
}

/// The model's points in true coordinates (RM-1): eigenvalues of each Jacobian (discrete
/// maps: `ln(mu) / dt`), marginal eigenvectors mapped by the affine map's linear part.
fn model_points(f: &Fitted, back: &Affine, dt_data: f64, rate_tol: f64) -> Result<Vec<Point>> {
    let Some(fps) = &f.fixed_points else {
        return Ok(Vec::new());
    };
    let dt = fps.dt.unwrap_or(dt_data);
    let mut out = Vec::with_capacity(fps.points.len());
    for p in &fps.points {
        let k = p.x.len();
        let j = Matrix::from_fn(k, k, |r, c| p.jacobian[r][c]);
        let (vals, vecs) = linalg::eig(&j)?;
        let rates: Vec<Complex64> = vals
            .iter()
            .map(|&mu| match fps.time {
                TimeKind::Continuous => mu,
                TimeKind::Discrete => mu.ln() / dt,
            })
            .collect();
        let mut dirs = Vec::new();
        for (r, v) in rates.iter().zip(&vecs) {
            if r.re.abs() < rate_tol {
                let re: Vec<f64> = v.iter().map(|c| c.re).collect();
                let mapped = back.apply_point(&re);
                let off = back.apply_point(&vec![0.0; k]);
                let d: Vec<f64> = mapped.iter().zip(&off).map(|(a, b)| a - b).collect();
                let n = d.iter().map(|v| v * v).sum::<f64>().sqrt();
                if n > 0.0 {
                    dirs.push(d.iter().map(|v| v / n).collect());
                }
            }
        }
        out.push(classify(back.apply_point(&p.x), rates, rate_tol, dirs));
    }
    Ok(out)
}

/// Fill M10, M11, M12, M13, M15 (and the not-yet-available IDs with a reason) into `m`.
pub(crate) fn mechanism(
    d: &Dataset,
    f: &Fitted,
    back: &Affine,
    m: &mut BTreeMap<String, Value>,
    fig: &mut FigureData,
) -> Result<()> {
    let t = &d.truth;
    let duration = d.meta.time as f64 * d.meta.dt;
    let rate_tol = 1.0 / (10.0 * duration);
    let truth_pts: Vec<Point> = t
        .fixed_points
        .iter()
        .map(|p| classify(p.x.clone(), p.eigenvalues_c(), rate_tol, Vec::new()))
        .collect();
    // The true attractors (stable fixed points, manifolds, cycles, chaotic sets): what a
    // model attractor must sit near not to be spurious (M15). The diameter also counts the
    // saddles.
    let mut attractor: Vec<Vec<f64>> = truth_pts
        .iter()
        .filter(|p| p.stable())
        .map(|p| p.x.clone())
        .collect();
    for mf in &t.manifolds {
        attractor.extend(mf.points.iter().cloned());
    }
    for c in &t.limit_cycles {
        attractor.extend(c.points.iter().cloned());
    }
    for c in &t.chaotic {
        attractor.extend(c.points.iter().step_by(4).cloned());
    }
    let mut diameter = 0.0f64;
    let every: Vec<&Vec<f64>> = attractor
        .iter()
        .chain(t.fixed_points.iter().map(|p| &p.x))
        .collect();
    for a in &every {
        for b in &every {
            diameter = diameter.max(dist(a, b));
        }
    }
    let z = &d.latents;
    if diameter == 0.0 {
        let (mean, _) = crate::recovery::observe::column_stats(&Matrix::from_fn(
            z.shape[0] * z.shape[1],
            z.shape[2],
            |s, j| z.data[s * z.shape[2] + j],
        ));
        let n = (z.shape[0] * z.shape[1]) as f64;
        let ms: f64 = z
            .data
            .chunks(z.shape[2])
            .map(|x| {
                x.iter()
                    .zip(&mean)
                    .map(|(a, b)| (a - b).powi(2))
                    .sum::<f64>()
            })
            .sum::<f64>()
            / n;
        diameter = 2.0 * ms.sqrt();
    }
    let eps = MATCH_FRACTION * diameter;
    let hyper = json!({"match_fraction": MATCH_FRACTION, "match_radius": eps, "diameter": diameter,
                       "marginal_rate": rate_tol, "alignment": "M5 affine map (inferred -> true)"});
    let model = model_points(f, back, d.meta.dt, rate_tol)?;
    fig.true_points = truth_pts
        .iter()
        .map(|p| (p.x.clone(), p.n_unstable))
        .collect();
    fig.true_sets = t
        .manifolds
        .iter()
        .flat_map(|m| m.points.iter())
        .chain(t.limit_cycles.iter().flat_map(|c| c.points.iter()))
        .chain(t.chaotic.iter().flat_map(|c| c.points.iter()))
        .cloned()
        .collect();
    fig.model_points = model
        .iter()
        .map(|p| (p.x.clone(), p.n_unstable, p.n_marginal))
        .collect();
    // The true system's query trajectories, when the model has its own to compare.
    let true_traj = match &f.trajectories {
        Some(_) => Some(basins::true_trajectories(d)?),
        None => None,
    };
    topological_error(d, f, true_traj.as_ref(), back, eps, m)?;
    limit_cycle(d, f, true_traj.as_ref(), back, diameter, m)?;
    m.insert(
        "M17".into(),
        every_attractor(f, true_traj.as_ref(), back, eps),
    );
    let slow = Slow {
        model: &model,
        trajectories: f.trajectories.as_ref(),
        back,
        eps,
        diameter,
        duration,
    };
    m.insert("M13".into(), continuous::continuous_attractor(d, &slow)?);
    if f.fixed_points.is_none() {
        for (id, name) in [
            ("M10", "stable_fp_F1"),
            ("M11", "index_agreement"),
            ("M12", "timescale_error"),
            ("M15", "spurious_attractors"),
        ] {
            m.insert(id.into(), json!({"name": name, "value": Value::Null, "reason": "the model folder has no fixed_points.json"}));
        }
        return Ok(());
    }
    // M10: stable fixed points, precision / recall / F1 after alignment.
    let ts: Vec<&Point> = truth_pts.iter().filter(|p| p.stable()).collect();
    let ms: Vec<&Point> = model.iter().filter(|p| p.stable()).collect();
    let pairs = matching::match_points(
        &ts.iter().map(|p| p.x.clone()).collect::<Vec<_>>(),
        &ms.iter().map(|p| p.x.clone()).collect::<Vec<_>>(),
        eps,
    );
    let (nt, nm, nk) = (ts.len(), ms.len(), pairs.len());
    let (precision, recall) = (ratio(nk, nm), ratio(nk, nt));
    let f1 = match (precision, recall) {
        (Some(p), Some(r)) if p + r > 0.0 => Some(2.0 * p * r / (p + r)),
        (Some(_), Some(_)) => Some(0.0),
        _ => None,
    };
    let mean_d = (nk > 0).then(|| pairs.iter().map(|p| p.2).sum::<f64>() / nk as f64 / diameter);
    m.insert("M10".into(), json!({"name": "stable_fp_F1", "value": f1, "precision": precision, "recall": recall,
        "true_stable": nt, "model_stable": nm, "matched": nk, "mean_matched_distance_over_diameter": mean_d,
        "reason": if f1.is_none() { Value::from("no stable fixed points in the truth or the model") } else { Value::Null },
        "hyperparameters": hyper}));
    // M11: index (number of unstable directions) over all fixed points.
    let all = matching::match_points(
        &truth_pts.iter().map(|p| p.x.clone()).collect::<Vec<_>>(),
        &model.iter().map(|p| p.x.clone()).collect::<Vec<_>>(),
        eps,
    );
    let hist = |pts: &[&Point]| {
        let mut h = vec![0usize; t.dim.max(1) + 1];
        for p in pts {
            if p.n_unstable < h.len() {
                h[p.n_unstable] += 1;
            }
        }
        h
    };
    let isolated: Vec<&Point> = model.iter().filter(|p| p.n_marginal == 0).collect();
    let (ged, ged_reason) = match fixed_point_graphs(d, f, back, &truth_pts, &model, &all, eps, rate_tol)? {
        Some(g) => (Some(g), ""),
        None => (None, "needs the model's dynamics (a network folder, or the truth): the file exchange carries no vector field"),
    };
    let same = all
        .iter()
        .filter(|(a, b, _)| truth_pts[*a].n_unstable == model[*b].n_unstable)
        .count();
    m.insert("M11".into(), json!({"name": "index_agreement",
        "value": ratio(same, truth_pts.len().max(model.iter().filter(|p| p.n_marginal == 0).count())),
        "definition": "matched pairs with equal index / max(#true, #model isolated points)",
        "true_index_histogram": hist(&truth_pts.iter().collect::<Vec<_>>()),
        "model_index_histogram": hist(&isolated), "matched": all.len(),
        "graph_edit_distance": ged.as_ref().map(|g| g.0), "graph_edit_distance_normalized": ged.as_ref().map(|g| g.1),
        "true_graph_edges": ged.as_ref().map(|g| g.2), "model_graph_edges": ged.as_ref().map(|g| g.3),
        "graph_reason": if ged.is_some() { Value::Null } else { Value::from(ged_reason) },
        "reason": if truth_pts.is_empty() && isolated.is_empty() { Value::from("no isolated fixed points in the truth or the model") } else { Value::Null },
        "hyperparameters": {"match_radius": eps}}));
    // M12: timescale error |ln(tau_model / tau_true)| over the slowest k modes of matched pairs.
    let floor = rate_tol;
    let mut errs = Vec::new();
    let mut w = Vec::new();
    for (a, b, _) in &all {
        let (p, q) = (&truth_pts[*a], &model[*b]);
        let k = p.eig.len().min(q.eig.len());
        let e: f64 = (0..k)
            .map(|i| {
                (p.eig[i].re.abs().max(floor) / q.eig[i].re.abs().max(floor))
                    .ln()
                    .abs()
            })
            .sum::<f64>()
            / k.max(1) as f64;
        errs.push(e);
        if let (Some(a), Some(b)) = (p.eig.first(), q.eig.first()) {
            fig.timescales
                .push((1.0 / a.re.abs().max(floor), 1.0 / b.re.abs().max(floor)));
        }
        w.push(matching::eigenvalue_wasserstein(&p.eig, &q.eig));
    }
    let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    // The largest one-bin multiplier |exp(lambda dt)| over every point (RM-3): the model's
    // fitted top discrete eigenvalue (for a linear model, that of its matrix), beside the
    // truth's (a continuous attractor's marginal direction counts as 1).
    let dt = d.meta.dt;
    let top = |pts: &[Point]| {
        pts.iter()
            .filter_map(|p| p.eig.first())
            .map(|z| (z.re * dt).exp())
            .reduce(f64::max)
    };
    // A linear model's matrix gives it without an isolated fixed point.
    let model_top = match f.fixed_points.as_ref().and_then(|p| {
        p.linear_jacobian
            .as_ref()
            .map(|j| (j, p.time, p.dt.unwrap_or(dt)))
    }) {
        Some((j, time, step)) => {
            let k = j.len();
            let mu = linalg::eigenvalues(&Matrix::from_fn(k, k, |r, c| j[r][c]))?;
            mu.iter()
                .map(|&z| match time {
                    TimeKind::Continuous => (z.re * dt).exp(),
                    TimeKind::Discrete => z.norm().powf(dt / step),
                })
                .reduce(f64::max)
        }
        None => top(&model),
    };
    let true_top = match (top(&truth_pts), t.manifolds.is_empty()) {
        (Some(v), true) => Some(v),
        (Some(v), false) => Some(v.max(1.0)),
        (None, false) => Some(1.0),
        (None, true) => None,
    };
    m.insert("M12".into(), json!({"name": "timescale_error", "value": mean(&errs),
        "definition": "mean over matched fixed points of mean_i |ln(tau_model_i / tau_true_i)|, tau = 1 / max(|Re lambda|, marginal_rate), slowest modes first",
        "eigenvalue_wasserstein": mean(&w), "matched": errs.len(),
        "true_top_multiplier": true_top, "model_top_multiplier": model_top,
        "multiplier_definition": "largest |exp(lambda dt)| over all fixed points (true: and continuous attractors, marginal = 1; a linear model: its matrix), dt = the dataset's bin",
        "reason": if errs.is_empty() { Value::from("no matched fixed points") } else { Value::Null }}));
    spurious(d, &model, &attractor, eps, m);
    Ok(())
}

/// M11's graph part (RM-13): the true and the model's fixed-point graphs over isolated points
/// and their edit distance under the matching `all`: `(distance, distance / size, true edges,
/// model edges)`. `None` when the model has no simulator.
#[allow(clippy::too_many_arguments)]
fn fixed_point_graphs(
    d: &Dataset,
    f: &Fitted,
    back: &Affine,
    truth_pts: &[Point],
    model: &[Point],
    all: &[(usize, usize, f64)],
    eps: f64,
    rate_tol: f64,
) -> Result<Option<(usize, f64, usize, usize)>> {
    let (Some(msim), Some(fps)) = (&f.simulator, &f.fixed_points) else {
        return Ok(None);
    };
    let system: Arc<dyn crate::recovery::system::System> = Arc::from(d.meta.spec.system.build()?);
    let tsim = {
        let s = system.clone();
        Simulator(Arc::new(move |x0: &[f64], t: f64| {
            Ok(
                crate::recovery::system::trajectory(s.as_ref(), x0, &[0.0, t])?
                    .pop()
                    .unwrap_or_default(),
            )
        }))
    };
    let horizon = 20.0 * d.meta.time as f64 * d.meta.dt;
    let rms = |a: &crate::npy::Array3| {
        (a.data.iter().map(|v| v * v).sum::<f64>() / a.data.len().max(1) as f64)
            .sqrt()
            .max(1.0)
    };
    // True graph over the true isolated points.
    let n = system.dim();
    let u0 = vec![0.0; system.n_inputs()];
    let t_idx: Vec<usize> = (0..truth_pts.len())
        .filter(|&i| truth_pts[i].n_marginal == 0)
        .collect();
    let t_jac: Vec<Matrix> = t_idx
        .iter()
        .map(|&i| {
            let mut j = Matrix::zeros(n, n);
            system.jacobian(&truth_pts[i].x, &u0, &mut j);
            j
        })
        .collect();
    let t_nodes: Vec<Node> = t_idx
        .iter()
        .zip(&t_jac)
        .map(|(&i, j)| Node {
            x: &truth_pts[i].x,
            jacobian: j,
            index: truth_pts[i].n_unstable,
        })
        .collect();
    let near = |pts: &[&[f64]], x: &[f64]| {
        pts.iter()
            .enumerate()
            .map(|(k, p)| (k, dist(p, x)))
            .filter(|(_, e)| *e < eps)
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(k, _)| k)
    };
    let t_x: Vec<&[f64]> = t_idx.iter().map(|&i| truth_pts[i].x.as_slice()).collect();
    let probe = |time, dt, delta| graph::Probe {
        time,
        dt,
        rate_tol,
        delta,
        horizon,
    };
    let tg = graph::build(
        &t_nodes,
        probe(system.time(), system.map_dt(), 1e-4 * rms(&d.latents)),
        &tsim,
        &|x| near(&t_x, x),
    )?;
    // Model graph over its isolated points (model coordinates; assigned in true ones).
    let m_idx: Vec<usize> = (0..model.len())
        .filter(|&i| model[i].n_marginal == 0)
        .collect();
    let m_jac: Vec<Matrix> = m_idx
        .iter()
        .map(|&i| {
            let p = &fps.points[i];
            Matrix::from_fn(p.x.len(), p.x.len(), |r, c| p.jacobian[r][c])
        })
        .collect();
    let m_nodes: Vec<Node> = m_idx
        .iter()
        .zip(&m_jac)
        .map(|(&i, j)| Node {
            x: &fps.points[i].x,
            jacobian: j,
            index: model[i].n_unstable,
        })
        .collect();
    let m_x: Vec<&[f64]> = m_idx.iter().map(|&i| model[i].x.as_slice()).collect();
    let dt = fps.dt.unwrap_or(d.meta.dt);
    let mg = graph::build(
        &m_nodes,
        probe(fps.time, dt, 1e-4 * rms(&f.latents)),
        msim,
        &|x| near(&m_x, &back.apply_point(x)),
    )?;
    // The matching restricted to isolated points, renumbered into graph nodes.
    let pos = |idx: &[usize], i: usize| idx.iter().position(|&k| k == i);
    let pairs: Vec<(usize, usize)> = all
        .iter()
        .filter_map(|(a, b, _)| Some((pos(&t_idx, *a)?, pos(&m_idx, *b)?)))
        .collect();
    let (ged, size) = graph::edit_distance(&tg, &mg, &pairs);
    Ok(Some((
        ged,
        ged as f64 / size.max(1) as f64,
        tg.edges.len(),
        mg.edges.len(),
    )))
}

fn ratio(a: usize, b: usize) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

/// M15: model attractors (stable points and slow points) with no true attractor within
/// `eps`, counted inside the data domain (within `eps` of a true latent sample of the
/// training trials) and outside.
/// Every 3rd training bin's true latent state: the data domain of M15 and M16.
fn domain_samples(d: &Dataset) -> Vec<&[f64]> {
    let z = &d.latents;
    let (tm, dim) = (z.shape[1], z.shape[2]);
    d.meta
        .splits
        .train
        .iter()
        .flat_map(|&k| (0..tm).map(move |s| (k, s)))
        .step_by(3)
        .map(|(k, s)| &z.data[(k * tm + s) * dim..(k * tm + s + 1) * dim])
        .collect()
}

/// M9 (E_top) and M16 (E_top inside vs outside the data domain) from the model's
/// trajectories of the queried initial conditions (RM-7).
fn topological_error(
    d: &Dataset,
    f: &Fitted,
    truth: Option<&Array3>,
    back: &Affine,
    eps: f64,
    m: &mut BTreeMap<String, Value>,
) -> Result<()> {
    let (Some(traj), Some(truth)) = (&f.trajectories, truth) else {
        let reason = "the model folder has no trajectories.npy (run `learndyn recovery queries DATASET MODEL`, simulate, score again)";
        m.insert(
            "M9".into(),
            json!({"name": "E_top", "value": Value::Null, "reason": reason}),
        );
        m.insert(
            "M16".into(),
            json!({"name": "domain_of_validity", "value": Value::Null, "reason": reason}),
        );
        return Ok(());
    };
    let ok = basins::successes(truth, traj, back, eps);
    let ics = basins::initial_conditions(d)?;
    let samples = domain_samples(d);
    let inside: Vec<bool> = ics
        .iter()
        .map(|x| samples.iter().any(|s| dist(s, x) < eps))
        .collect();
    let err = |pick: &dyn Fn(usize) -> bool| {
        let n = (0..ok.len()).filter(|&i| pick(i)).count();
        let good = (0..ok.len()).filter(|&i| pick(i) && ok[i]).count();
        (n > 0).then(|| 1.0 - good as f64 / n as f64)
    };
    let hyper = json!({"initial_conditions": ics.len(), "steps": basins::STEPS, "dt": basins::query_dt(d),
        "transient_fraction": 0.75, "match_radius": eps, "lyapunov_criterion": "not applied"});
    m.insert("M9".into(), json!({"name": "E_top", "value": err(&|_| true),
        "definition": "fraction of initial conditions whose post-transient model states (aligned) are farther than match_radius (Hausdorff) from the true ones",
        "hyperparameters": hyper}));
    let (e_in, e_out) = (err(&|i| inside[i]), err(&|i| !inside[i]));
    m.insert("M16".into(), json!({"name": "domain_of_validity", "value": e_in,
        "definition": "E_top over initial conditions inside the data domain (within match_radius of a training sample); outside reported beside it",
        "e_top_inside": e_in, "e_top_outside": e_out,
        "reason": if e_in.is_none() { Value::from("no initial condition lies inside the data domain") } else { Value::Null },
        "inside": inside.iter().filter(|&&b| b).count(), "outside": inside.iter().filter(|&&b| !b).count()}));
    Ok(())
}

/// M14: for a true limit cycle, the relative error of the model's period against the true
/// trajectories' period by the same estimator ([`basins::crossing_period`], section `x_0` =
/// the cycle's mean), medians over the initial conditions, and the Hausdorff distance between
/// the model's post-transient states to the true cycle over the diameter (RM-8).
fn limit_cycle(
    d: &Dataset,
    f: &Fitted,
    truth: Option<&Array3>,
    back: &Affine,
    diameter: f64,
    m: &mut BTreeMap<String, Value>,
) -> Result<()> {
    let Some(cycle) = d.truth.limit_cycles.first() else {
        m.insert("M14".into(), json!({"name": "limit_cycle", "value": Value::Null, "reason": "the true system has no limit cycle"}));
        return Ok(());
    };
    let (Some(traj), Some(truth)) = (&f.trajectories, truth) else {
        m.insert("M14".into(), json!({"name": "limit_cycle", "value": Value::Null,
            "reason": "the model folder has no trajectories.npy (see `learndyn recovery queries`)"}));
        return Ok(());
    };
    let level = cycle.points.iter().map(|p| p[0]).sum::<f64>() / cycle.points.len() as f64;
    let dt = basins::query_dt(d);
    let median = |mut v: Vec<f64>| -> Option<f64> {
        v.sort_by(f64::total_cmp);
        (!v.is_empty()).then(|| v[v.len() / 2])
    };
    let (mut tp, mut mp, mut hd) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..truth.shape[0] {
        let t = basins::states(truth, i, |x| x.to_vec());
        let mo = basins::states(traj, i, |x| back.apply_point(x));
        if let Some(p) = basins::crossing_period(&t, level, dt) {
            tp.push(p);
        }
        if let Some(p) = basins::crossing_period(&mo, level, dt) {
            mp.push(p);
        }
        // Directed: how far the model's long-run states stray from the (densely sampled)
        // true cycle; the sparse query samples cannot cover the cycle the other way.
        hd.push(matching::directed_hausdorff(&mo[mo.len() * 3 / 4..], &cycle.points) / diameter);
    }
    let (t_est, m_est) = (median(tp), median(mp));
    let err = match (t_est, m_est) {
        (Some(a), Some(b)) => Some((b - a).abs() / a),
        (Some(_), None) => Some(1.0),
        _ => None,
    };
    m.insert("M14".into(), json!({"name": "limit_cycle", "value": err,
        "definition": "|T_model - T_true| / T_true, periods by upward crossings of x_0 = cycle mean on the query trajectories (same estimator for both); 1 when the model does not oscillate",
        "true_period": cycle.period, "true_period_estimate": t_est, "model_period_estimate": m_est,
        "distance_to_true_cycle_over_diameter": median(hd), "floquet_true": cycle.floquet}));
    Ok(())
}

/// M17: attractors of any kind and their basins by recurrences (RM-10), true vs model on the
/// same initial conditions, the model's trajectories mapped into true coordinates.
fn every_attractor(f: &Fitted, truth: Option<&Array3>, back: &Affine, eps: f64) -> Value {
    let (Some(traj), Some(truth)) = (&f.trajectories, truth) else {
        return json!({"name": "attractors_by_recurrences", "value": Value::Null,
            "reason": "the model folder has no trajectories.npy (see `learndyn recovery queries`)"});
    };
    let all = |a: &Array3, map: &dyn Fn(&[f64]) -> Vec<f64>| -> Vec<Vec<Vec<f64>>> {
        (0..a.shape[0]).map(|i| basins::states(a, i, map)).collect()
    };
    let t = recurrences::map_attractors(&all(truth, &|x| x.to_vec()), eps);
    let mo = recurrences::map_attractors(&all(traj, &|x| back.apply_point(x)), eps);
    let c = recurrences::compare(&t, &mo, eps);
    let kinds = |b: &recurrences::Basins| -> Vec<&'static str> {
        b.attractors.iter().map(|a| a.kind(eps)).collect()
    };
    let undetermined = |b: &recurrences::Basins| b.labels.iter().filter(|l| l.is_none()).count();
    json!({"name": "attractors_by_recurrences", "value": c.basin_error,
        "definition": "fraction of initial conditions whose model attractor (found by recurrences on cells, aligned) is not the match of their true attractor; attractors matched by Hausdorff distance below match_radius",
        "true_attractors": t.attractors.len(), "model_attractors": mo.attractors.len(),
        "matched": c.pairs.len(), "true_kinds": kinds(&t), "model_kinds": kinds(&mo),
        "true_basin_fractions": t.fractions(), "model_basin_fractions": mo.fractions(),
        "basin_fraction_distance": c.fraction_distance,
        "true_undetermined": undetermined(&t), "model_undetermined": undetermined(&mo),
        "reason": if c.basin_error.is_none() { Value::from("no true initial condition reached an attractor within the horizon") } else { Value::Null },
        "hyperparameters": {"cell": eps, "recurrences": recurrences::RECURRENCES, "known_hits": recurrences::KNOWN_HITS,
            "collect": recurrences::COLLECT, "merge": "attractors whose cells touch are one", "method": "Datseris & Wagemakers 2022 (AttractorsViaRecurrences), on the query trajectories"}})
}

fn spurious(
    d: &Dataset,
    model: &[Point],
    attractor: &[Vec<f64>],
    eps: f64,
    m: &mut BTreeMap<String, Value>,
) {
    let samples = domain_samples(d);
    let (mut inside, mut outside) = (0usize, 0usize);
    for p in model.iter().filter(|p| p.n_unstable == 0) {
        let near_truth = attractor.iter().any(|a| dist(a, &p.x) < eps);
        if near_truth {
            continue;
        }
        if samples.iter().any(|s| dist(s, &p.x) < eps) {
            inside += 1;
        } else {
            outside += 1;
        }
    }
    m.insert("M15".into(), json!({"name": "spurious_attractors", "value": inside,
        "inside_data_domain": inside, "outside_data_domain": outside,
        "definition": "model points without unstable directions farther than match_radius from every true attractor point; inside = within match_radius of a training latent sample",
        "hyperparameters": {"match_radius": eps, "domain_samples": "every 3rd training bin"}}));
}
