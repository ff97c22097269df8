//! Recovery run specs (`learndyn recovery run SPEC`, docs/recovery.md "One command from spec
//! to table"): a dataset spec ([`crate::recovery::spec::Spec`], inline and/or from a base
//! file) plus `[run]`, `[fit]`, `[score]` and scan-style `[[axis]]` entries over its dotted
//! keys.
//!
//! ```toml
//! [run]
//! name = "example"
//! base = "recovery_flip_flop.toml"  # a dataset spec, relative to this file (optional)
//! replicates = 2                    # datasets per point: seeds derived from `seed`
//! keep = "none"                     # per-point files: none | scores | all
//!
//! [trials]                          # dataset keys here override the base file's
//! count = 40
//!
//! [fit]                             # the fitter and its options (recovery::fit::FitSpec)
//! method = "lds"
//! latent = 3
//!
//! [score]
//! metrics = ["M4", "M5", "M10"]     # which metrics' columns (default: all)
//!
//! [[axis]]
//! key = "observe.fraction"          # run specs only: neurons = round(fraction x dim)
//! values = [0.5, 1.0]
//!
//! [[axis]]
//! key = "fit"                       # a whole section per value: methods with their options
//! values = [{ method = "observed" }, { method = "lds", latent = 2 }]
//! labels = ["observed", "lds2"]     # the table's cells (default: the values, inline TOML)
//! ```
//!
//! Axis keys are the dataset's (`seed`, `system`, `system.*`, `trials.*`, `observe.*`,
//! `split.*`) and the fit's (`fit`, `fit.*`), at any depth; a value may be a table, which
//! replaces the whole section. Every point is resolved and validated when the spec is loaded,
//! so a typo in any key is an error naming it before anything runs.

use crate::error::{Error, Result};
use crate::recovery::fit::FitSpec;
use crate::recovery::spec::Spec;
use crate::scan::spec::{check_ranges, grid_index, parse_axis, Axis, AxisSpec};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Top-level sections of a dataset spec (what axes may vary besides `fit`).
pub const DATASET_KEYS: [&str; 5] = ["seed", "system", "trials", "observe", "split"];

/// What each point leaves under `points/p<point>_r<replicate>/` besides its table row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Keep {
    /// Nothing (the fitted model is scratch, removed after scoring).
    #[default]
    None,
    /// `spec.toml` (the point's dataset spec: `learndyn recovery data` remakes the dataset),
    /// `fit.toml`, `fit.json` and `score.json`.
    Scores,
    /// As `scores`, plus the fitted model folder `model/` (`learndyn recovery score` reads it).
    All,
}

/// `[run]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSection {
    /// Name (SLURM job names) [default "recovery"].
    #[serde(default = "default_name")]
    pub name: String,
    /// A dataset spec file, relative to the run spec; the run spec's own dataset keys override
    /// its keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    /// Datasets per point [default 1]: replicate 0 uses the point's `seed`, replicate `r > 0`
    /// a seed derived from it and `r` ([`replicate_seed`]).
    #[serde(default = "one")]
    pub replicates: u64,
    /// Per-point files [default none].
    #[serde(default)]
    pub keep: Keep,
}

fn default_name() -> String {
    "recovery".into()
}
fn one() -> u64 {
    1
}

/// The scores' metric IDs (`score.json` keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[allow(missing_docs)] // the IDs of docs/recovery.md §4
pub enum MetricId {
    M1,
    M2,
    M3,
    M4,
    M5,
    M6,
    M7,
    M8,
    M9,
    M10,
    M11,
    M12,
    M13,
    M14,
    M15,
    M16,
    M17,
}

/// `[score]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ScoreOptions {
    /// Metrics whose columns the table holds [default: all, M1 ... M17].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Vec<MetricId>>,
}

/// A validated run spec.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// `[run]`.
    pub run: RunSection,
    /// `[score]`.
    pub score: ScoreOptions,
    /// The base document before axes: the dataset keys and `fit`.
    pub base: toml::Table,
    /// Resolved axes, outermost first.
    pub axes: Vec<Axis>,
    /// Where the spec came from (messages).
    pub origin: String,
    /// The spec text (fingerprint).
    pub text: String,
}

/// One job's inputs: the dataset spec (with the replicate's seed) and the fitter.
#[derive(Debug, Clone)]
pub struct Job {
    /// Grid point.
    pub point: u64,
    /// Replicate.
    pub replicate: u64,
    /// `(key, value)` for every axis key, in axis order.
    pub coords: Vec<(String, toml::Value)>,
    /// The dataset spec, validated, `seed` the replicate's.
    pub dataset: Spec,
    /// The fitter.
    pub fit: FitSpec,
}

fn err(origin: &str, key: &str, message: impl Into<String>) -> Error {
    Error::Config {
        file: origin.to_string(),
        key: key.to_string(),
        message: message.into(),
    }
}

/// The dataset seed of replicate `r` of a point whose spec says `seed`: `seed` itself for
/// `r = 0` (so a one-replicate point is exactly `learndyn recovery data` on its spec), else
/// `mix64(seed ^ mix64(r)) >> 11` (below 2^53: exact in every table reader and in TOML).
pub fn replicate_seed(seed: u64, r: u64) -> u64 {
    if r == 0 {
        seed
    } else {
        crate::random::mix64(seed ^ crate::random::mix64(r)) >> 11
    }
}

/// Set `path` (dotted, any depth) in `table` to `value`, creating missing sections.
pub fn set_path(table: &mut toml::Table, path: &str, value: toml::Value) -> Result<()> {
    let parts: Vec<&str> = path.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(err(
            "<axis>",
            path,
            "is not a dotted key like observe.noise_std",
        ));
    }
    let mut t = table;
    for (i, p) in parts[..parts.len() - 1].iter().enumerate() {
        let entry = t
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        t = match entry {
            toml::Value::Table(inner) => inner,
            _ => {
                return Err(err(
                    "<axis>",
                    path,
                    format!("'{}' is a value, not a section", parts[..=i].join(".")),
                ))
            }
        };
    }
    t.insert(parts[parts.len() - 1].to_string(), value);
    Ok(())
}

/// `over` merged into `base`: tables key by key (recursively), anything else replaced.
fn merge_into(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge_into(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// Deserialize `value` as `T`, errors naming `section` and the unknown or bad field.
fn typed<T: serde::de::DeserializeOwned>(
    value: toml::Value,
    origin: &str,
    section: &str,
) -> Result<T> {
    T::deserialize(value).map_err(|e| {
        let msg = e.message().trim().to_string();
        let field = msg
            .split("unknown field `")
            .nth(1)
            .and_then(|r| r.split('`').next())
            .map(|f| {
                if section.is_empty() {
                    f.to_string()
                } else {
                    format!("{section}.{f}")
                }
            });
        let key = field.unwrap_or_else(|| {
            if section.is_empty() {
                "spec".to_string()
            } else {
                section.to_string()
            }
        });
        err(origin, &key, msg)
    })
}

impl RunSpec {
    /// Read, parse and validate the run spec at `path` (relative paths from its folder).
    pub fn load(path: &Path) -> Result<RunSpec> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Self::parse(&text, &path.display().to_string(), &dir)
    }

    /// Parse and validate run spec text; `base_dir` resolves `run.base`. Every point is
    /// resolved ([`RunSpec::job`]), so bad keys and values anywhere are errors now.
    pub fn parse(text: &str, origin: &str, base_dir: &Path) -> Result<RunSpec> {
        check_ranges(text, origin)?;
        let mut doc: toml::Table =
            toml::from_str(text).map_err(|e| err(origin, "<toml>", e.message().trim()))?;
        let run: RunSection = typed(
            doc.remove("run")
                .unwrap_or(toml::Value::Table(toml::Table::new())),
            origin,
            "run",
        )?;
        if run.replicates == 0 {
            return Err(err(origin, "run.replicates", "must be >= 1"));
        }
        let score: ScoreOptions = typed(
            doc.remove("score")
                .unwrap_or(toml::Value::Table(toml::Table::new())),
            origin,
            "score",
        )?;
        let axes_spec: Vec<AxisSpec> = typed(
            doc.remove("axis").unwrap_or(toml::Value::Array(Vec::new())),
            origin,
            "axis",
        )?;
        let fit = match doc.remove("fit") {
            Some(toml::Value::Table(t)) => t,
            Some(_) => return Err(err(origin, "fit", "must be a section: [fit] method = \"lds\"")),
            None => {
                return Err(err(
                    origin,
                    "fit",
                    "a run spec needs a [fit] section, e.g. [fit] method = \"lds\" (methods: observed, lds)",
                ))
            }
        };
        if let Some(k) = doc.keys().find(|k| !DATASET_KEYS.contains(&k.as_str())) {
            return Err(err(
                origin,
                k,
                format!(
                    "unknown section or key; a run spec has [run], [fit], [score], [[axis]] and the dataset keys {DATASET_KEYS:?}"
                ),
            ));
        }
        let mut base = match &run.base {
            Some(p) => {
                let path = base_dir.join(p);
                let t = std::fs::read_to_string(&path).map_err(|e| {
                    err(
                        origin,
                        "run.base",
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?;
                toml::from_str::<toml::Table>(&t)
                    .map_err(|e| err(&path.display().to_string(), "<toml>", e.message().trim()))?
            }
            None => toml::Table::new(),
        };
        merge_into(&mut base, doc);
        base.insert("fit".into(), toml::Value::Table(fit));
        let mut axes = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for a in &axes_spec {
            let axis = parse_axis(a, origin)?;
            for k in &axis.keys {
                let head = k.split('.').next().unwrap_or("");
                if head != "fit" && !DATASET_KEYS.contains(&head) {
                    return Err(err(
                        origin,
                        k,
                        format!(
                            "an axis varies dataset keys ({}) or fit keys (fit, fit.*), not '{head}'",
                            DATASET_KEYS.join(", ")
                        ),
                    ));
                }
                if !seen.insert(k.clone()) {
                    return Err(err(origin, k, "appears in more than one axis"));
                }
            }
            axes.push(axis);
        }
        let spec = RunSpec {
            run,
            score,
            base,
            axes,
            origin: origin.to_string(),
            text: text.to_string(),
        };
        for p in 0..spec.n_points() {
            spec.job(p, 0)?;
        }
        Ok(spec)
    }

    /// Number of grid points (1 without axes).
    pub fn n_points(&self) -> u64 {
        self.axes.iter().map(|a| a.values.len() as u64).product()
    }

    /// Axis keys in column order.
    pub fn axis_keys(&self) -> Vec<String> {
        self.axes.iter().flat_map(|a| a.keys.clone()).collect()
    }

    /// The coordinates of grid point `point` (row-major, last axis fastest).
    pub fn coords(&self, point: u64) -> Vec<(String, toml::Value)> {
        let idx = grid_index(&self.axes, point);
        self.axes
            .iter()
            .zip(&idx)
            .flat_map(|(a, &i)| a.keys.iter().cloned().zip(a.values[i].iter().cloned()))
            .collect()
    }

    /// The table cells of grid point `point`'s coordinates: each value (as
    /// [`crate::scan::engine::fmt_value`] writes it), or its axis label.
    pub fn cells(&self, point: u64) -> Vec<String> {
        let idx = grid_index(&self.axes, point);
        self.axes
            .iter()
            .zip(&idx)
            .flat_map(|(a, &i)| match &a.labels {
                Some(l) => vec![l[i].clone()],
                None => a.values[i]
                    .iter()
                    .map(crate::scan::engine::fmt_value)
                    .collect(),
            })
            .collect()
    }

    /// Resolve job `(point, replicate)`: the base document with the point's axis values,
    /// `observe.fraction` turned into `observe.neurons`, the replicate's seed; validated.
    /// Errors name the point, its coordinates and the bad key.
    pub fn job(&self, point: u64, replicate: u64) -> Result<Job> {
        let coords = self.coords(point);
        let at = || {
            coords
                .iter()
                .map(|(k, v)| format!("{k} = {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let origin = if coords.is_empty() {
            self.origin.clone()
        } else {
            format!("{} (point {point}: {})", self.origin, at())
        };
        let mut doc = self.base.clone();
        for (k, v) in &coords {
            set_path(&mut doc, k, v.clone()).map_err(|e| match e {
                Error::Config { key, message, .. } => err(&origin, &key, message),
                other => other,
            })?;
        }
        let fit: FitSpec = typed(
            doc.remove("fit")
                .unwrap_or(toml::Value::Table(toml::Table::new())),
            &origin,
            "fit",
        )
        .map_err(|e| match e {
            Error::Config { file, key, message } if message.contains("unknown field") => {
                Error::Config {
                    file,
                    key,
                    message: format!(
                        "{message}; each method takes only its own options: to combine methods \
                         with different options, vary whole [fit] tables (key = \"fit\", values = \
                         [{{ method = \"observed\" }}, {{ method = \"lds\", latent = 2 }}])"
                    ),
                }
            }
            other => other,
        })?;
        let fraction = match doc.get_mut("observe") {
            Some(toml::Value::Table(o)) => o.remove("fraction"),
            _ => None,
        };
        let table = toml::Value::Table(doc);
        let mut dataset: Spec = typed(table.clone(), &origin, "").map_err(|e| match e {
            // Name the unknown field by its full dotted key.
            Error::Config { file, key, message } => {
                let variant = message
                    .split("unknown variant `")
                    .nth(1)
                    .and_then(|r| r.split('`').next());
                let found = match variant {
                    Some(v) => locate_value(&table, v),
                    None => locate(&table, &key),
                };
                Error::Config {
                    file,
                    key: found.unwrap_or(key),
                    message,
                }
            }
            other => other,
        })?;
        if let Some(f) = fraction {
            let f = f
                .as_float()
                .or(f.as_integer().map(|i| i as f64))
                .unwrap_or(f64::NAN);
            if !(f > 0.0 && f <= 1.0) {
                return Err(err(
                    &origin,
                    "observe.fraction",
                    "must be a number in (0, 1]",
                ));
            }
            let dim = dataset
                .system
                .build()
                .map_err(|e| relabel(e, &origin))?
                .dim();
            dataset.observe.neurons = ((f * dim as f64).round() as usize).max(1);
        }
        dataset.seed = replicate_seed(dataset.seed, replicate);
        dataset.validate().map_err(|e| relabel(e, &origin))?;
        dataset.system.build().map_err(|e| relabel(e, &origin))?;
        Ok(Job {
            point,
            replicate,
            coords,
            dataset,
            fit,
        })
    }
}

/// The dotted path of the first key named `field` in `v` (depth first), if any.
fn locate(v: &toml::Value, field: &str) -> Option<String> {
    let t = v.as_table()?;
    if t.contains_key(field) {
        return Some(field.to_string());
    }
    t.iter()
        .find_map(|(k, inner)| locate(inner, field).map(|p| format!("{k}.{p}")))
}

/// The dotted path of the first string value `value` in `v` (depth first), if any.
fn locate_value(v: &toml::Value, value: &str) -> Option<String> {
    match v {
        toml::Value::String(s) if s == value => Some(String::new()),
        toml::Value::Table(t) => t.iter().find_map(|(k, inner)| {
            locate_value(inner, value).map(|p| {
                if p.is_empty() {
                    k.clone()
                } else {
                    format!("{k}.{p}")
                }
            })
        }),
        _ => None,
    }
}

/// A config error of a point's dataset, with the run spec and point as its file.
fn relabel(e: Error, origin: &str) -> Error {
    match e {
        Error::Config { key, message, .. } => err(origin, &key, message),
        other => other,
    }
}
