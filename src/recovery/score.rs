//! Scoring a fitted model against a dataset's truth (theory/recovery.md, metric IDs M1 ... M16
//! of attractors.md §6). A model is handed in as files (docs/recovery.md): its latents on
//! the dataset's trials, optionally its predicted rates and its fixed points with Jacobians
//! in its own coordinates; or `truth`, the dataset's own ground truth scored as a model.

use crate::error::{Error, Result};
use crate::linalg::Matrix;
use crate::model::state_map::TimeKind;
use crate::npy::{self, Array3};
use crate::recovery::compare;
use crate::recovery::dataset::{read_json, Dataset};
use crate::recovery::metrics::{counts, dsa, regress};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// One fixed (or slow) point of a fitted model, in the model's coordinates.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPoint {
    /// The point, length `k` (the model's latent dimension).
    pub x: Vec<f64>,
    /// Jacobian at `x`, `k` rows of `k` entries: `df/dx` (continuous) or `dF/dx` (discrete).
    pub jacobian: Vec<Vec<f64>>,
}

/// `fixed_points.json` of a model folder.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFixedPoints {
    /// "continuous" (eigenvalues of df/dx) or "discrete" (of the map dF/dx).
    pub time: TimeKind,
    /// For a discrete map: the time one step stands for, in the dataset's time units
    /// [default: the dataset's dt].
    #[serde(default)]
    pub dt: Option<f64>,
    /// The points.
    pub points: Vec<ModelPoint>,
    /// The Jacobian shared by every state, for a linear model (`lds` networks: `A`); optional
    /// in `fixed_points.json`. M12's `model_top_multiplier` is taken from it when given, so it
    /// is defined even when the model has no isolated fixed point (a fitted line attractor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linear_jacobian: Option<Vec<Vec<f64>>>,
}

/// A fitted model as the scorer sees it.
#[derive(Debug, Clone)]
pub struct Fitted {
    /// "truth" or the model folder.
    pub name: String,
    /// Latents `[trials, time, k]` on the dataset's trials.
    pub latents: Array3,
    /// Predicted rates `[trials, time, neurons]` (spiking) or activity (continuous).
    pub rates: Option<Array3>,
    /// Fixed points with Jacobians, continuous-time eigenvalues derived from them.
    pub fixed_points: Option<ModelFixedPoints>,
    /// Free-running trajectories from the queried initial states `[n, STEPS, k]`, model
    /// coordinates (`trajectories.npy`, see [`crate::recovery::basins`]).
    pub trajectories: Option<Array3>,
    /// The model's autonomous dynamics, when learndyn can run it (the truth, a network
    /// folder): the fixed-point graph of M11 needs it.
    pub simulator: Option<crate::recovery::graph::Simulator>,
}

impl Fitted {
    /// The dataset's own ground truth as a model: true latents and rates, the true fixed
    /// points and manifold points with the system's analytic Jacobian.
    pub fn truth(d: &Dataset) -> Fitted {
        let system = d.meta.spec.system.build().ok();
        let points = system.map(|s| {
            let n = s.dim();
            let u = vec![0.0; s.n_inputs()];
            let jac_at = |x: &[f64]| {
                let mut j = Matrix::zeros(n, n);
                s.jacobian(x, &u, &mut j);
                (0..n)
                    .map(|r| (0..n).map(|c| j.get(r, c)).collect())
                    .collect()
            };
            let mut pts: Vec<ModelPoint> = d
                .truth
                .fixed_points
                .iter()
                .map(|p| ModelPoint {
                    x: p.x.clone(),
                    jacobian: jac_at(&p.x),
                })
                .collect();
            for m in &d.truth.manifolds {
                for (k, x) in m.points.iter().enumerate() {
                    // At a switching boundary of a piecewise-linear system (the ring's
                    // vertices) the Jacobian is one-sided; take the segment's, from the
                    // midpoint to the next sample (the flow is affine along a segment).
                    let next = &m.points[(k + 1) % m.points.len()];
                    let mid: Vec<f64> = x.iter().zip(next).map(|(a, b)| 0.5 * (a + b)).collect();
                    let on_kink = x.iter().any(|v| v.abs() < 1e-12)
                        && d.meta.spec.system.is_piecewise_linear();
                    pts.push(ModelPoint {
                        x: x.clone(),
                        jacobian: jac_at(if on_kink { &mid } else { x }),
                    });
                }
            }
            ModelFixedPoints {
                time: s.time(),
                dt: (s.time() == TimeKind::Discrete).then(|| s.map_dt()),
                points: pts,
                linear_jacobian: None,
            }
        });
        Fitted {
            name: "truth".into(),
            latents: d.latents.clone(),
            rates: Some(d.rates.clone()),
            fixed_points: points,
            trajectories: crate::recovery::basins::true_trajectories(d).ok(),
            simulator: d.meta.spec.system.build().ok().map(|s| {
                let s: std::sync::Arc<dyn crate::recovery::system::System> =
                    std::sync::Arc::from(s);
                crate::recovery::graph::Simulator(std::sync::Arc::new(move |x0: &[f64], t: f64| {
                    Ok(
                        crate::recovery::system::trajectory(s.as_ref(), x0, &[0.0, t])?
                            .pop()
                            .unwrap_or_default(),
                    )
                }))
            }),
        }
    }

    /// Read a model folder: `latents.npy` (required), `rates.npy`, `fixed_points.json`
    /// (optional). Shapes are checked against the dataset; errors name the file.
    pub fn read(dir: &Path, d: &Dataset) -> Result<Fitted> {
        if dir.join("network.json").exists() {
            return crate::recovery::network::fitted(dir, d);
        }
        let lat_path = dir.join("latents.npy");
        if !lat_path.exists() {
            return Err(Error::invalid(
                dir.display().to_string(),
                "no latents.npy: a model folder needs latents.npy [trials, time, k] (its \
                 inferred latents on the dataset's trials); see docs/recovery.md",
            ));
        }
        let latents = npy::read_array3(&lat_path)?;
        let [tr, tm] = [d.meta.trials, d.meta.time];
        if latents.shape[0] != tr || latents.shape[1] != tm || latents.shape[2] == 0 {
            return Err(Error::Shape {
                what: lat_path.display().to_string(),
                expected: format!("[{tr}, {tm}, k >= 1] (the dataset's trials and bins)"),
                got: format!("{:?}", latents.shape),
            });
        }
        check_finite(&latents, &lat_path)?;
        let rates_path = dir.join("rates.npy");
        let rates = if rates_path.exists() {
            let r = npy::read_array3(&rates_path)?;
            if r.shape != [tr, tm, d.meta.neurons] {
                return Err(Error::Shape {
                    what: rates_path.display().to_string(),
                    expected: format!("[{tr}, {tm}, {}] (trials, bins, neurons)", d.meta.neurons),
                    got: format!("{:?}", r.shape),
                });
            }
            check_finite(&r, &rates_path)?;
            Some(r)
        } else {
            None
        };
        let fp_path = dir.join("fixed_points.json");
        let fixed_points = if fp_path.exists() {
            let fps: ModelFixedPoints = read_json(&fp_path)?;
            let k = latents.shape[2];
            for (i, p) in fps.points.iter().enumerate() {
                let square = p.jacobian.len() == k && p.jacobian.iter().all(|r| r.len() == k);
                if p.x.len() != k || !square {
                    return Err(Error::Shape {
                        what: format!("{}: points[{i}]", fp_path.display()),
                        expected: format!(
                            "x of length {k} and a {k} x {k} jacobian (k from latents.npy)"
                        ),
                        got: format!(
                            "x of length {}, jacobian with {} rows",
                            p.x.len(),
                            p.jacobian.len()
                        ),
                    });
                }
                if p.x
                    .iter()
                    .chain(p.jacobian.iter().flatten())
                    .any(|v| !v.is_finite())
                {
                    return Err(Error::invalid(
                        format!("{}: points[{i}]", fp_path.display()),
                        "contains NaN or inf",
                    ));
                }
            }
            Some(fps)
        } else {
            None
        };
        let traj_path = dir.join("trajectories.npy");
        let trajectories = if traj_path.exists() {
            let t = npy::read_array3(&traj_path)?;
            let n = crate::recovery::basins::initial_conditions(d)?.len();
            crate::recovery::basins::check_shape(
                &t,
                n,
                latents.shape[2],
                &traj_path.display().to_string(),
            )?;
            check_finite(&t, &traj_path)?;
            Some(t)
        } else {
            None
        };
        Ok(Fitted {
            name: dir.display().to_string(),
            latents,
            rates,
            fixed_points,
            trajectories,
            simulator: None,
        })
    }
}

fn check_finite(a: &Array3, path: &Path) -> Result<()> {
    if let Some(i) = a.data.iter().position(|v| !v.is_finite()) {
        let [_, n1, n2] = a.shape;
        return Err(Error::invalid(
            path.display().to_string(),
            format!(
                "entry [{}, {}, {}] is not finite; every value must be a number",
                i / (n1 * n2),
                (i / n2) % n1,
                i % n2
            ),
        ));
    }
    Ok(())
}

/// Rows `(trial, bin)` of the trials `trials` of `a` as a `samples x width` matrix.
fn rows(a: &Array3, trials: &[usize]) -> Matrix {
    let [_, tm, w] = a.shape;
    Matrix::from_fn(trials.len() * tm, w, |s, j| {
        a.get(trials[s / tm], s % tm, j)
    })
}

/// The result of [`score`]: `score.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// "learndyn-recovery-score".
    pub format: String,
    /// learndyn version.
    pub learndyn_version: String,
    /// The model scored.
    pub model: String,
    /// The dataset's spec hash.
    pub dataset_spec_sha256: String,
    /// Metrics keyed by ID: each `{name, value, ...details, hyperparameters}`; `value` is null
    /// with a `reason` when the metric does not apply or the model lacks the files it needs.
    pub metrics: BTreeMap<String, Value>,
    /// What the score figure draws.
    #[serde(skip)]
    pub figure: crate::recovery::mechanism::FigureData,
}

/// Score `fitted` against the truth of `d` (see the module docs and docs/recovery.md).
pub fn score(d: &Dataset, fitted: &Fitted) -> Result<Report> {
    score_selected(d, fitted, &|_| true)
}

/// As [`score`], but the separable metrics for which `wanted(id)` is false (`"M3"`, `"M7"`,
/// `"M8"`: the few-shot GLM, DSA and the spectral divergences, the expensive ones that
/// nothing else needs) are not computed: their entries are null with the reason "not
/// selected". Recovery runs pass their `[score] metrics` here.
pub fn score_selected(
    d: &Dataset,
    fitted: &Fitted,
    wanted: &dyn Fn(&str) -> bool,
) -> Result<Report> {
    let skip = |name: &str| na(name, "not selected ([score] metrics)");
    let sp = &d.meta.splits;
    let train = &sp.train;
    let eval: Vec<usize> = sp.validation.iter().chain(&sp.test).copied().collect();
    let eval = if eval.is_empty() { train.clone() } else { eval };
    let mut m = BTreeMap::new();
    let z_tr = rows(&d.latents, train);
    let z_ev = rows(&d.latents, &eval);
    let h_tr = rows(&fitted.latents, train);
    let h_ev = rows(&fitted.latents, &eval);
    // M1 rate R^2 (no fitting) on the evaluation trials.
    m.insert(
        "M1".into(),
        match &fitted.rates {
            Some(r) => {
                let v = regress::vw_r2(&rows(&d.rates, &eval), &rows(r, &eval))?;
                json!({"name": "rate_R2", "value": v, "trials": "validation+test"})
            }
            None => na("rate_R2", "the model folder has no rates.npy"),
        },
    );
    m.insert("M2".into(), co_bps(d, fitted, train, &eval)?);
    m.insert(
        "M3".into(),
        if wanted("M3") {
            fewshot_co_bps(d, fitted, train, &eval)?
        } else {
            skip("fewshot_co_bps")
        },
    );
    // M4 state R^2 (true -> inferred) and M5 latent R^2 (inferred -> true): affine maps
    // fitted on the training trials, scored on the evaluation trials.
    let fwd = regress::fit_affine(&z_tr, &h_tr, 0.0)?;
    let m4 = regress::vw_r2(&h_ev, &fwd.apply(&z_ev))?;
    m.insert("M4".into(), json!({"name": "state_R2", "value": m4, "direction": "true -> inferred", "fit": "affine least squares on train trials"}));
    let back = regress::fit_affine(&h_tr, &z_tr, 0.0)?;
    let m5 = regress::vw_r2(&z_ev, &back.apply(&h_ev))?;
    m.insert("M5".into(), json!({"name": "latent_R2", "value": m5, "direction": "inferred -> true", "fit": "affine least squares on train trials"}));
    m.insert(
        "M6".into(),
        match &fitted.rates {
            Some(r) => {
                let counts = d.meta.observation == "counts";
                let lg = |a: &Matrix| {
                    let mut a = a.clone();
                    if counts {
                        a.as_mut_slice()
                            .iter_mut()
                            .for_each(|v| *v = v.max(1e-300).ln());
                    }
                    a
                };
                let v = regress::cycle_consistency(&h_tr, &lg(&rows(r, train)), &h_ev, 0.01)?;
                json!({"name": "cycle_consistency", "value": v, "variance_threshold": 0.01,
                       "readout_space": if counts {"log rates"} else {"activity"}})
            }
            None => na("cycle_consistency", "the model folder has no rates.npy"),
        },
    );
    let mut figure = crate::recovery::mechanism::FigureData::default();
    let m7 = if wanted("M7") {
        dsa(d, fitted, &eval)?
    } else {
        skip("DSA")
    };
    m.insert("M7".into(), m7);
    let m8 = if wanted("M8") {
        divergences(d, fitted, &back, &eval)?
    } else {
        skip("D_H")
    };
    m.insert("M8".into(), m8);
    crate::recovery::mechanism::mechanism(d, fitted, &back, &mut m, &mut figure)?;
    Ok(Report {
        format: "learndyn-recovery-score".into(),
        learndyn_version: env!("CARGO_PKG_VERSION").into(),
        model: fitted.name.clone(),
        dataset_spec_sha256: d.meta.spec_sha256.clone(),
        metrics: m,
        figure,
    })
}

/// Trials of the DSA comparison.
const DSA_TRIALS: usize = compare::DEFAULT_TRIALS;

/// M7: DSA's eigenvalue score between the true latents and the model's on the evaluation
/// trials (`metrics::dsa`), with the same embedding rank `2 dim` for both.
fn dsa(d: &Dataset, f: &Fitted, eval: &[usize]) -> Result<Value> {
    let trials: Vec<usize> = eval.iter().copied().take(DSA_TRIALS).collect();
    // Rank 2 x dim: the delay embedding's signal subspace without its noise directions (a
    // full-rank embedding of noisy trials is dominated by the noise: two noise draws of the
    // Galgali saddle then differ more than the saddle and the line attractor do). Whitening
    // the top-dim principal axes first makes the truncated operator affine invariant.
    let dim = d.latents.shape[2];
    let s = compare::DsaSettings::for_shape(d.meta.time, dim);
    let (n_delays, rank) = (s.n_delays, s.rank);
    let (at, am) = (
        compare::operator(&d.latents, &trials, dim, &s)?,
        compare::operator(&f.latents, &trials, dim, &s)?,
    );
    let (et, em) = (
        crate::linalg::eigenvalues(&at)?,
        crate::linalg::eigenvalues(&am)?,
    );
    let v = crate::recovery::metrics::matching::eigenvalue_wasserstein(&et, &em);
    let procrustes = dsa::procrustes_scores(&at, &am, 16, d.meta.spec.seed)?;
    Ok(
        json!({"name": "DSA", "value": v, "score_method": "wasserstein",
        "angular": procrustes.map(|p| p.0), "euclidean": procrustes.map(|p| p.1),
        "procrustes": "max over orthogonal C of <A, C B C^T> on Frobenius-normalized operators: Riemannian ascent from the identity and 16 seeded random starts (RM-14); null when the operators' ranks differ or exceed 24 (cost)",
        "implementation": "learndyn HAVOK-DMD (theory/recovery.md RM-5), not the DSA package",
        "preprocessing": "each system's latents on their top `components` principal axes, whitened",
        "components": dim, "n_delays": n_delays, "delay_interval": 1, "rank": rank, "ridge": 0.0, "trials": trials.len(),
        "true_operator_rank": et.len(), "model_operator_rank": em.len()}),
    )
}

/// M8: power-spectrum error `D_H` (the value; Gaussian smoothing sigma 1 bin) of the model's
/// latents mapped into true coordinates by the M5 map, per true dimension, on the evaluation
/// trials (at most [`DSA_TRIALS`]); and `D_stsp` by binning (30 bins per dimension, alpha
/// 1e-5) when the truth has at most 3 dimensions.
fn divergences(d: &Dataset, f: &Fitted, back: &regress::Affine, eval: &[usize]) -> Result<Value> {
    use crate::recovery::metrics::spectra;
    let trials: Vec<usize> = eval.iter().copied().take(DSA_TRIALS).collect();
    let zt: Vec<Matrix> = trials.iter().map(|&k| rows(&d.latents, &[k])).collect();
    let zm: Vec<Matrix> = trials
        .iter()
        .map(|&k| back.apply(&rows(&f.latents, &[k])))
        .collect();
    let dh = spectra::power_spectrum_error(&zt, &zm, 1.0)?;
    let stsp = if d.latents.shape[2] <= 3 {
        let zm_all = back.apply(&rows(&f.latents, &trials));
        Value::from(spectra::state_space_divergence(
            &rows(&d.latents, &trials),
            &zm_all,
            30,
            1e-5,
        )?)
    } else {
        Value::Null
    };
    Ok(json!({"name": "D_H", "value": dh, "D_stsp": stsp,
        "definition": "Hellinger power-spectrum error per true dimension of the aligned model latents (inferred on the data, not free-running)",
        "hyperparameters": {"smoothing_sigma_bins": 1.0, "stsp_bins": 30, "stsp_alpha": 1e-5, "trials": trials.len()},
        "stsp_reason": if stsp.is_null() { Value::from("binning needs at most 3 true dimensions") } else { Value::Null }}))
}

fn na(name: &str, reason: &str) -> Value {
    json!({"name": name, "value": Value::Null, "reason": reason})
}

/// M2: co-bps on the held-out neurons of the evaluation trials, null = per-neuron mean count
/// of the training trials.
fn co_bps(d: &Dataset, f: &Fitted, train: &[usize], eval: &[usize]) -> Result<Value> {
    let held = &d.meta.splits.held_out_neurons;
    if d.meta.observation != "counts" {
        return Ok(na("co_bps", "observations are not counts"));
    }
    if held.is_empty() {
        return Ok(na(
            "co_bps",
            "the dataset has no held-out neurons (split.held_out = 0)",
        ));
    }
    let Some(r) = &f.rates else {
        return Ok(na("co_bps", "the model folder has no rates.npy"));
    };
    let pick = |a: &Array3, trials: &[usize]| {
        let full = rows(a, trials);
        Matrix::from_fn(full.nrows(), held.len(), |s, j| full.get(s, held[j]))
    };
    let y_tr = pick(&d.observations, train);
    let null: Vec<f64> = (0..held.len())
        .map(|j| (0..y_tr.nrows()).map(|s| y_tr.get(s, j)).sum::<f64>() / y_tr.nrows() as f64)
        .map(|v| v.max(1e-12))
        .collect();
    let v = counts::co_bps(&pick(&d.observations, eval), &pick(r, eval), &null)?;
    Ok(
        json!({"name": "co_bps", "value": v, "neurons": held, "null": "per-neuron mean count on train trials"}),
    )
}

/// Training trials the few-shot readout of M3 sees (the first of the training split).
pub const FEWSHOT_TRIALS: usize = 16;
/// Ridge of the few-shot GLM per sample, on standardized latents.
pub const FEWSHOT_RIDGE: f64 = 1e-3;

/// M3 (RM-12): few-shot co-bps. A Poisson GLM `log rate = a + w . z_hat` per held-out neuron,
/// fitted on the model's (standardized) latents of only [`FEWSHOT_TRIALS`] training trials,
/// scored by co-bps on the evaluation trials: how well the latents predict unseen neurons
/// from little data, without the model's own readout.
fn fewshot_co_bps(d: &Dataset, f: &Fitted, train: &[usize], eval: &[usize]) -> Result<Value> {
    let held = &d.meta.splits.held_out_neurons;
    if d.meta.observation != "counts" {
        return Ok(na("fewshot_co_bps", "observations are not counts"));
    }
    if held.is_empty() {
        return Ok(na(
            "fewshot_co_bps",
            "the dataset has no held-out neurons (split.held_out = 0)",
        ));
    }
    let few: Vec<usize> = train.iter().take(FEWSHOT_TRIALS).copied().collect();
    let (z_few, z_ev) = (rows(&f.latents, &few), rows(&f.latents, eval));
    let (mean, sd) = crate::recovery::observe::column_stats(&z_few);
    let standard = |z: &Matrix| {
        Matrix::from_fn(z.nrows(), z.ncols(), |s, j| {
            (z.get(s, j) - mean[j]) / if sd[j] > 0.0 { sd[j] } else { 1.0 }
        })
    };
    let (x_few, x_ev) = (standard(&z_few), standard(&z_ev));
    let (y_few, y_ev) = (rows(&d.observations, &few), rows(&d.observations, eval));
    let mut pred = Matrix::zeros(x_ev.nrows(), held.len());
    let mut null = Vec::with_capacity(held.len());
    let y_tr = rows(&d.observations, train);
    for (c, &j) in held.iter().enumerate() {
        let y: Vec<f64> = (0..y_few.nrows()).map(|s| y_few.get(s, j)).collect();
        let ridge = FEWSHOT_RIDGE * y.len() as f64;
        let (a, w) = counts::poisson_glm(&x_few, &y, ridge, 100)?;
        for s in 0..x_ev.nrows() {
            let e = a + (0..w.len()).map(|i| w[i] * x_ev.get(s, i)).sum::<f64>();
            pred.set(s, c, e.min(50.0).exp());
        }
        let m = (0..y_tr.nrows()).map(|s| y_tr.get(s, j)).sum::<f64>() / y_tr.nrows() as f64;
        null.push(m.max(1e-12));
    }
    let obs = Matrix::from_fn(y_ev.nrows(), held.len(), |s, c| y_ev.get(s, held[c]));
    let v = counts::co_bps(&obs, &pred, &null)?;
    Ok(
        json!({"name": "fewshot_co_bps", "value": v, "neurons": held,
        "definition": "co-bps on validation+test trials of a Poisson GLM from the model's standardized latents to each held-out neuron, fitted on only the first few training trials",
        "hyperparameters": {"trials": few.len(), "ridge_per_sample": FEWSHOT_RIDGE, "link": "exp"}}),
    )
}

impl Report {
    /// Write `score.json` and `summary.txt` into `dir` (created if missing), atomically.
    pub fn write(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let text = serde_json::to_string_pretty(self).unwrap_or_default() + "\n";
        npy::write_atomic(&dir.join("score.json"), text.as_bytes())?;
        npy::write_atomic(&dir.join("summary.txt"), self.summary().as_bytes())
    }

    /// One screen: each metric's ID, name and value (or why it is missing).
    pub fn summary(&self) -> String {
        let mut s = format!("model: {}\n", self.model);
        // Numeric order of the IDs (M1, M2, ..., M10), not the map's lexicographic one.
        let mut ids: Vec<(&String, &Value)> = self.metrics.iter().collect();
        ids.sort_by_key(|(id, _)| {
            id.trim_start_matches('M')
                .parse::<u32>()
                .unwrap_or(u32::MAX)
        });
        for (id, v) in ids {
            let name = v["name"].as_str().unwrap_or("");
            let value = match &v["value"] {
                Value::Null => format!("n/a ({})", v["reason"].as_str().unwrap_or("")),
                Value::Number(n) => {
                    // Small nonzero values (DSA, D_H) keep their digits.
                    let x = n.as_f64().unwrap_or(f64::NAN);
                    if x != 0.0 && x.abs() < 1e-3 {
                        format!("{x:.3e}")
                    } else {
                        format!("{x:.4}")
                    }
                }
                other => other.to_string(),
            };
            s += &format!("{id:>4}  {name:<26} {value}\n");
        }
        s
    }
}

/// The M4 map (true -> the model's coordinates), fitted on the training trials: how the
/// query initial conditions are mapped into the model's coordinates.
pub fn forward_map(d: &Dataset, f: &Fitted) -> Result<regress::Affine> {
    let train = &d.meta.splits.train;
    regress::fit_affine(&rows(&d.latents, train), &rows(&f.latents, train), 0.0)
}

/// Write the second step of the file exchange into `dir/queries/`: `initial_states.npy`
/// (`n x k`, the initial conditions of [`crate::recovery::basins`] mapped into the model's
/// coordinates by the true -> inferred affine map of M4, fitted on the training trials) and
/// `queries.json`. Returns the number of initial states.
pub fn write_queries(d: &Dataset, f: &Fitted, dir: &Path) -> Result<usize> {
    use crate::recovery::basins;
    let forward = forward_map(d, f)?;
    let x0 = basins::model_initial_states(d, &forward)?;
    let q = dir.join("queries");
    std::fs::create_dir_all(&q).map_err(|e| Error::io(&q, e))?;
    npy::write_matrix(&q.join("initial_states.npy"), &x0)?;
    let meta = basins::Queries {
        initial_states: x0.nrows(),
        steps: basins::STEPS,
        dt: basins::query_dt(d),
        write: format!(
            "{}/trajectories.npy: float64 [{}, {}, {}], your model run freely (zero input) from each initial state, sampled every dt, the first sample being the initial state",
            dir.display(),
            x0.nrows(),
            basins::STEPS,
            x0.ncols()
        ),
    };
    let text = serde_json::to_string_pretty(&meta).unwrap_or_default() + "\n";
    npy::write_atomic(&q.join("queries.json"), text.as_bytes())?;
    Ok(x0.nrows())
}
