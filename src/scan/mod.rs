//! Parameter scans: run one experiment per (grid point, replicate seed), in parallel, into one
//! tidy table that survives being killed.
//!
//! - Jobs run on a rayon pool of `threads` workers; each job's linear algebra is sequential,
//!   and its seed comes from the scan seed and the point's coordinates ([`ScanSpec::seed_of`]),
//!   so the numbers do not depend on thread count, order or sharding.
//! - Each finished job appends one complete CSV row to the results file with a single write;
//!   on start, rows already there are kept (a partial last row from a kill is dropped) and
//!   those jobs are skipped. When all jobs are done the table is rewritten sorted by
//!   (point, replicate), atomically, so an interrupted-and-resumed scan, a 1-thread and a
//!   2-thread scan, and merged shards give identical files.
//! - `--shard K/N` runs the points with `point % N == K - 1` into
//!   `results.shard-K-of-N.csv`; [`merge`] combines the shards and checks that no point is
//!   missing or duplicated.
//!
//! The engine doing all this is generic ([`engine`], shared with `learndyn recovery run`);
//! this module is the job kind "one training run": its columns, rows and manifest.
//!
//! Columns: `point,replicate,seed,<axis keys>,status,message,<metrics>`; status is `ok`,
//! `diverged` or `failed` (message says why). Library code never prints; progress goes to a
//! callback.

pub mod engine;
pub mod spec;

use crate::error::Result;
use crate::experiment::{self, config::LoadedConfig, RunOutput, Source};
use crate::plot::scan::{PlotRequest, ScanTable};
use crate::train::TrainStatus;
pub use engine::{
    fmt_f64, fmt_value, merge, read_table, results_name, slurm_script, write_table, Jobs,
    ScanReport, Shard, SlurmOptions, Table,
};
pub use spec::{Axis, Point, ScanSpec, Spacing};
use std::path::Path;

/// Metric columns for a spec: fixed by the metric groups and the largest teacher rank and
/// output-map size over all points.
pub fn metric_columns(spec: &ScanSpec) -> Result<Vec<String>> {
    let mut rank = 0usize;
    let mut k_sv = 0usize;
    let mut max_depth = 0usize;
    for id in 0..spec.n_points() {
        let p = spec.point(id)?;
        if let Ok(c) = spec.run_config(&p, 0) {
            rank = rank.max(c.task.singular_values.len());
            max_depth = max_depth.max(c.model.depth);
            k_sv = k_sv.max(c.task.d_in.min(c.task.d_out));
        }
    }
    let mut cols = Vec::new();
    for m in &spec.file.scan.metrics {
        match m.as_str() {
            "final_loss" => cols.extend(["final_loss".into(), "final_loss_theory".into()]),
            "time_to_half" => {
                for a in 0..rank {
                    cols.push(format!("t_half_gd_m{a}"));
                    cols.push(format!("t_half_theory_m{a}"));
                }
            }
            "time_to_learn" => {
                for a in 0..rank {
                    cols.push(format!("t_learn_gd_m{a}"));
                    cols.push(format!("t_learn_theory_m{a}"));
                }
            }
            "discrepancy" => cols.extend([
                "max_abs_err_mode_strength".into(),
                "max_rel_err_mode_strength".into(),
                "max_rel_err_loss".into(),
            ]),
            "final_mode_strength" => cols.extend((0..rank).map(|a| format!("u_m{a}"))),
            "final_singular_values" => cols.extend((0..k_sv).map(|i| format!("sv_{i}"))),
            "balance_drift" => cols.push("balance_drift".into()),
            "rich_lazy" => {
                cols.extend([
                    "kernel_distance".to_string(),
                    "kernel_distance_theory".into(),
                    "alignment".into(),
                ]);
                cols.extend((0..max_depth).map(|l| format!("weight_change_l{l}")));
            }
            _ => {}
        }
    }
    Ok(cols)
}

/// Header of the results table.
pub fn header(spec: &ScanSpec, metrics: &[String]) -> Vec<String> {
    let mut h = vec!["point".to_string(), "replicate".into(), "seed".into()];
    h.extend(spec.axis_keys());
    h.push("status".into());
    h.push("message".into());
    h.extend(metrics.iter().cloned());
    h
}

/// The theory source whose predictions summarize a run: closed form, else reduced ODE, else
/// the full gradient flow.
fn primary_theory(out: &RunOutput) -> Option<Source> {
    [Source::ClosedForm, Source::ReducedOde, Source::GradientFlow]
        .into_iter()
        .find(|s| out.records.iter().any(|r| r.source == *s))
}

/// Metric values of one finished run, in `columns` order (NaN where not defined).
fn metrics_of(out: &RunOutput, columns: &[String]) -> Vec<f64> {
    let theory = primary_theory(out);
    // The simulated optimizer (gd, sgd or adam): the `*_gd_*` columns hold its values.
    let sim = out
        .records
        .iter()
        .map(|r| r.source)
        .find(|s| s.is_simulation())
        .unwrap_or(Source::Gd);
    let last = |src: Source, obs: &str, idx: Option<usize>| -> f64 {
        out.records
            .iter()
            .rev()
            .find(|r| r.source == src && r.observable.name() == obs && r.index == idx)
            .map_or(f64::NAN, |r| r.value)
    };
    let th_name = theory.map(|s| s.name().to_string());
    let half = |src: &str, a: usize| -> f64 {
        out.summary
            .time_to_half
            .get(src)
            .and_then(|v| v.get(a).copied().flatten())
            .unwrap_or(f64::NAN)
    };
    let learn = |src: &str, a: usize| -> f64 {
        out.summary
            .time_to_learn
            .get(src)
            .and_then(|v| v.get(a).copied().flatten())
            .unwrap_or(f64::NAN)
    };
    let disc = |obs: &str, rel: bool| -> f64 {
        th_name
            .as_ref()
            .and_then(|n| out.summary.discrepancy.get(n))
            .and_then(|m| m.get(obs))
            .map_or(f64::NAN, |d| if rel { d.max_rel } else { d.max_abs })
    };
    columns
        .iter()
        .map(|c| {
            let idx = |prefix: &str| c.strip_prefix(prefix).and_then(|x| x.parse::<usize>().ok());
            match c.as_str() {
                "final_loss" => last(sim, "loss", None),
                "final_loss_theory" => theory.map_or(f64::NAN, |s| last(s, "loss", None)),
                "max_abs_err_mode_strength" => disc("mode_strength", false),
                "max_rel_err_mode_strength" => disc("mode_strength", true),
                "max_rel_err_loss" => disc("loss", true),
                "balance_drift" => last(sim, "balance_drift", None),
                "kernel_distance" => last(sim, "kernel_distance", None),
                "kernel_distance_theory" => {
                    theory.map_or(f64::NAN, |s| last(s, "kernel_distance", None))
                }
                "alignment" => last(sim, "alignment", None),
                _ => {
                    if let Some(a) = idx("t_learn_gd_m") {
                        learn(sim.name(), a)
                    } else if let Some(a) = idx("t_learn_theory_m") {
                        th_name.as_deref().map_or(f64::NAN, |n| learn(n, a))
                    } else if let Some(a) = idx("t_half_gd_m") {
                        half(sim.name(), a)
                    } else if let Some(a) = idx("t_half_theory_m") {
                        th_name.as_deref().map_or(f64::NAN, |n| half(n, a))
                    } else if let Some(a) = idx("u_m") {
                        last(sim, "mode_strength", Some(a))
                    } else if let Some(l) = idx("weight_change_l") {
                        last(sim, "weight_change", Some(l))
                    } else if let Some(i) = idx("sv_") {
                        last(sim, "singular_value", Some(i))
                    } else {
                        f64::NAN
                    }
                }
            }
        })
        .collect()
}

/// Whether a kept row of a results table is what this scan writes for `(point, replicate)`:
/// the seed and coordinates of that job, a known status and a number (or `nan`) in every
/// metric cell.
fn row_is_valid(spec: &ScanSpec, point: u64, rep: u64, row: &[String], header: &[String]) -> bool {
    let Ok(p) = spec.point(point) else {
        return false;
    };
    let mut want = vec![
        p.id.to_string(),
        rep.to_string(),
        spec.seed_of(&p, rep).to_string(),
    ];
    want.extend(p.coords.iter().map(|(_, v)| fmt_value(v)));
    engine::standard_row_is_valid(header, row, &want)
}

fn run_job(
    spec: &ScanSpec,
    p: &Point,
    replicate: u64,
    columns: &[String],
    out_dir: &Path,
) -> Vec<String> {
    let seed = spec.seed_of(p, replicate);
    let mut row = vec![p.id.to_string(), replicate.to_string(), seed.to_string()];
    row.extend(p.coords.iter().map(|(_, v)| fmt_value(v)));
    let nan_metrics = || {
        columns
            .iter()
            .map(|_| "nan".to_string())
            .collect::<Vec<_>>()
    };
    let result = spec.run_config(p, seed).and_then(|config| {
        let mut config = config;
        if !spec.file.scan.records {
            config.output.figure = false;
            config.output.weights = false;
        }
        let loaded = LoadedConfig {
            config,
            origin: format!("point {}", p.id),
            base_dir: spec.base_dir.clone(),
        };
        let out = experiment::run(&loaded, &mut |_| {})?;
        if spec.file.scan.records {
            let dir = out_dir
                .join("points")
                .join(format!("p{}_r{}", p.id, replicate));
            crate::record::write_run(
                &dir,
                &loaded,
                &out,
                &crate::record::RunContext::default(),
                0.0,
            )?;
        }
        Ok(out)
    });
    match result {
        Ok(out) => {
            match out.summary.runs.first().map(|r| r.status) {
                Some(TrainStatus::Diverged { step, loss }) => {
                    // No metric of a diverged run is meaningful (its last record predates the
                    // divergence): NaN, so tables and plots cannot mistake it for a result.
                    row.push("diverged".into());
                    row.push(format!(
                        "GD diverged at step {step} (loss {})",
                        fmt_f64(loss)
                    ));
                    row.extend(nan_metrics());
                }
                _ => {
                    row.push("ok".into());
                    row.push(String::new());
                    row.extend(metrics_of(&out, columns).into_iter().map(fmt_f64));
                }
            }
        }
        Err(e) => {
            row.push("failed".into());
            row.push(e.to_string());
            row.extend(nan_metrics());
        }
    }
    row
}

/// Draw `<stem>.png` and `<stem>.svg` from the scan table at `table` (`results.csv`) as `req`
/// asks (see [`crate::plot::scan`]). Axes the scan spaced logarithmically (from `scan.json`
/// next to the table) are drawn logarithmic unless `req` says otherwise.
///
/// # Errors
/// The table cannot be read, a requested column is missing, or the figure cannot be drawn.
pub fn plot_table(table: &Path, req: &PlotRequest, stem: &Path) -> Result<()> {
    let Table { header, rows, .. } = read_table(table)?;
    let rows: Vec<Vec<String>> = rows.into_values().collect();
    let dir = table.parent().unwrap_or(Path::new("."));
    let log_spacing = |key: &str| spacing_is_log(dir, key);
    let data = ScanTable {
        path: table,
        header: &header,
        rows: &rows,
        log_spacing: &log_spacing,
    };
    crate::plot::scan::draw_table(&data, req, stem)
}

/// Whether `scan.json` in `dir` lists an axis with logarithmic spacing over column `key`
/// (false if the file is missing or unreadable).
fn spacing_is_log(dir: &Path, key: &str) -> bool {
    let Ok(text) = std::fs::read_to_string(dir.join("scan.json")) else {
        return false;
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
        return false;
    };
    v["axes"].as_array().is_some_and(|axes| {
        axes.iter().any(|a| {
            a["spacing"] == "log"
                && a["keys"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|x| x == key))
        })
    })
}

/// The training runs of a scan as engine jobs: the spec with its columns.
struct TrainingJobs<'a> {
    spec: &'a ScanSpec,
    columns: Vec<String>,
    header: Vec<String>,
}

impl Jobs for TrainingJobs<'_> {
    fn header(&self) -> &[String] {
        &self.header
    }
    fn n_points(&self) -> u64 {
        self.spec.n_points()
    }
    fn replicates(&self) -> u64 {
        self.spec.file.scan.replicates
    }
    fn run(&self, point: u64, replicate: u64, dir: &Path) -> Result<Vec<String>> {
        let p = self.spec.point(point)?;
        Ok(run_job(self.spec, &p, replicate, &self.columns, dir))
    }
    fn row_is_valid(&self, point: u64, replicate: u64, row: &[String]) -> bool {
        row_is_valid(self.spec, point, replicate, row, &self.header)
    }
    fn manifest(&self) -> serde_json::Value {
        let spec = self.spec;
        serde_json::json!({
            "name": spec.file.scan.name,
            "spec_origin": spec.origin,
            // The spec text, the resolved base config (a base file can change under a spec)
            // and the grid values (their computation can change between versions).
            "spec_fingerprint": format!(
                "{:016x}",
                engine::fingerprint(&format!(
                    "{}\n{}\n{}",
                    spec.text,
                    toml::Value::Table(spec.base.clone()),
                    serde_json::to_string(&spec.axes).unwrap_or_default()
                ))
            ),
            "points": spec.n_points(),
            "replicates": spec.file.scan.replicates,
            "jobs": spec.n_jobs(),
            "header": self.header,
            "axes": spec.axes,
            "learndyn_version": env!("CARGO_PKG_VERSION"),
        })
    }
}

/// Run (or resume) a scan into `dir` with `threads` workers ([`engine::run`]).
/// `progress(done, total)` is called as jobs finish (from worker threads).
pub fn run(
    spec: &ScanSpec,
    dir: &Path,
    threads: usize,
    shard: Option<Shard>,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<ScanReport> {
    let columns = metric_columns(spec)?;
    let header = header(spec, &columns);
    let jobs = TrainingJobs {
        spec,
        columns,
        header,
    };
    engine::run(&jobs, dir, threads, shard, progress)
}
