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
//! Columns: `point,replicate,seed,<axis keys>,status,message,<metrics>`; status is `ok`,
//! `diverged` or `failed` (message says why). Library code never prints; progress goes to a
//! callback.

pub mod spec;

use crate::error::{Error, Result};
use crate::experiment::{self, config::LoadedConfig, RunOutput, Source};
use crate::plot::scan::{PlotRequest, ScanTable};
use crate::train::TrainStatus;
pub use spec::{Axis, Point, ScanSpec, Spacing};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Which part of the points this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1-based shard number.
    pub k: u64,
    /// Number of shards.
    pub n: u64,
}

impl Shard {
    /// Parse `K/N` (1 <= K <= N).
    pub fn parse(s: &str) -> Result<Shard> {
        let bad = |m: String| Error::Config {
            file: "<--shard>".into(),
            key: "shard".into(),
            message: m,
        };
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| bad(format!("'{s}' is not K/N, e.g. --shard 2/8")))?;
        let k: u64 = k
            .trim()
            .parse()
            .map_err(|_| bad(format!("'{k}' is not a shard number")))?;
        let n: u64 = n
            .trim()
            .parse()
            .map_err(|_| bad(format!("'{n}' is not a shard count")))?;
        if n == 0 || k == 0 || k > n {
            return Err(bad(format!(
                "shard {k}/{n} is out of range: need 1 <= K <= N"
            )));
        }
        Ok(Shard { k, n })
    }

    /// From SLURM job-array variables (`SLURM_ARRAY_TASK_ID`, `SLURM_ARRAY_TASK_COUNT`,
    /// `SLURM_ARRAY_TASK_MIN`), if set.
    pub fn from_slurm_env() -> Option<Result<Shard>> {
        // Unset: None; set but not a whole number: an error naming the variable.
        let get = |k: &str| -> Option<Result<u64>> {
            std::env::var(k).ok().map(|v| {
                v.trim().parse::<u64>().map_err(|_| {
                    Error::invalid(
                        "--shard slurm",
                        format!("{k} = '{v}' is not a whole number (is this a SLURM job array?)"),
                    )
                })
            })
        };
        let (id, count) = (get("SLURM_ARRAY_TASK_ID"), get("SLURM_ARRAY_TASK_COUNT"));
        if id.is_none() && count.is_none() {
            return None;
        }
        let missing = |k: &str| {
            Error::invalid(
                "--shard slurm",
                format!("{k} is not set (run inside a SLURM job array, or give --shard K/N)"),
            )
        };
        Some((|| {
            let id = id.ok_or_else(|| missing("SLURM_ARRAY_TASK_ID"))??;
            let count = count.ok_or_else(|| missing("SLURM_ARRAY_TASK_COUNT"))??;
            let min = get("SLURM_ARRAY_TASK_MIN").transpose()?.unwrap_or(0);
            Shard::parse(&format!("{}/{count}", id.saturating_sub(min) + 1))
        })())
    }

    fn owns(&self, point: u64) -> bool {
        point % self.n == self.k - 1
    }
}

/// Name of the results file for a shard (or the whole scan).
pub fn results_name(shard: Option<Shard>) -> String {
    match shard {
        None => "results.csv".into(),
        Some(s) => format!("results.shard-{}-of-{}.csv", s.k, s.n),
    }
}

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

fn fmt_value(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Float(f) => format!("{f:?}"),
        other => other.to_string(),
    }
}

fn fmt_f64(x: f64) -> String {
    if x.is_nan() {
        "nan".into()
    } else if x.is_infinite() {
        if x > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        }
    } else {
        format!("{x:?}")
    }
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

/// One CSV row (properly quoted) for a finished job.
fn csv_row(fields: &[String]) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    // Writing to a Vec cannot fail.
    let _ = w.write_record(fields);
    w.into_inner().unwrap_or_default()
}

/// Run one job and return its row.
/// Whether a kept row of a results table is what this scan writes for `(point, replicate)`:
/// the key in range, the seed and coordinates of that job, a known status and a number (or
/// `nan`) in every metric cell.
fn row_is_valid(spec: &ScanSpec, point: u64, rep: u64, row: &[String], header: &[String]) -> bool {
    if point >= spec.n_points() || rep >= spec.file.scan.replicates || row.len() != header.len() {
        return false;
    }
    let Ok(p) = spec.point(point) else {
        return false;
    };
    let mut want = vec![
        p.id.to_string(),
        rep.to_string(),
        spec.seed_of(&p, rep).to_string(),
    ];
    want.extend(p.coords.iter().map(|(_, v)| fmt_value(v)));
    if row[..want.len()] != want[..] {
        return false;
    }
    let status = &row[want.len()];
    if !matches!(status.as_str(), "ok" | "diverged" | "failed") {
        return false;
    }
    // After status and message: the metrics.
    row[want.len() + 2..]
        .iter()
        .all(|v| v.parse::<f64>().is_ok())
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

/// A results table in memory.
#[derive(Debug, Clone)]
pub struct Table {
    /// Column names.
    pub header: Vec<String>,
    /// Rows keyed by (point, replicate).
    pub rows: BTreeMap<(u64, u64), Vec<String>>,
    /// Partial or malformed rows that were dropped while reading.
    pub dropped: usize,
    /// Keys that occur more than once, with whether every copy was identical (the last copy
    /// is in `rows`).
    pub duplicates: Vec<((u64, u64), bool)>,
}

/// Read a results table: header and rows keyed by (point, replicate). Rows that are
/// incomplete (a partial last line after a kill) or malformed are dropped and counted.
pub fn read_table(path: &Path) -> Result<Table> {
    let text = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    // A kill can leave a last line without its newline: drop it.
    let end = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(&text[..end]);
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| Error::invalid(path.display().to_string(), e.to_string()))?
        .iter()
        .map(str::to_string)
        .collect();
    let mut rows: BTreeMap<(u64, u64), Vec<String>> = BTreeMap::new();
    let mut duplicates = Vec::new();
    let mut dropped = usize::from(end < text.len());
    for rec in rdr.records() {
        match rec {
            Ok(r) if r.len() == header.len() => {
                let f: Vec<String> = r.iter().map(str::to_string).collect();
                match (f[0].parse::<u64>(), f[1].parse::<u64>()) {
                    (Ok(p), Ok(k)) => {
                        if let Some(old) = rows.insert((p, k), f) {
                            let same = old == rows[&(p, k)];
                            duplicates.push(((p, k), same));
                        }
                    }
                    _ => dropped += 1,
                }
            }
            _ => dropped += 1,
        }
    }
    Ok(Table {
        header,
        rows,
        dropped,
        duplicates,
    })
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

/// Write a table sorted by (point, replicate), atomically.
pub fn write_table(
    path: &Path,
    header: &[String],
    rows: &BTreeMap<(u64, u64), Vec<String>>,
) -> Result<()> {
    let mut bytes = csv_row(header);
    for r in rows.values() {
        bytes.extend(csv_row(r));
    }
    crate::npy::write_atomic(path, &bytes)
}

/// What a scan did.
#[derive(Debug, Clone)]
pub struct ScanReport {
    /// Results file.
    pub results: PathBuf,
    /// Jobs this process (shard) owns.
    pub jobs: u64,
    /// Jobs found already done (resumed).
    pub resumed: u64,
    /// Jobs run now.
    pub ran: u64,
    /// Rows by status over the whole table.
    pub status_counts: BTreeMap<String, u64>,
    /// Rows dropped on resume and rerun: partial, malformed, duplicated with other values, or
    /// not what this scan writes for their key (seed, coordinates, status, metrics).
    pub dropped_rows: usize,
}

/// Fingerprint file shared by the shards of one scan (checks that reruns and merges use the
/// same spec).
pub fn write_scan_manifest(spec: &ScanSpec, dir: &Path, header: &[String]) -> Result<()> {
    let path = dir.join("scan.json");
    let m = serde_json::json!({
        "name": spec.file.scan.name,
        "spec_origin": spec.origin,
        // The spec text, the resolved base config (a base file can change under a spec) and
        // the grid values (their computation can change between versions).
        "spec_fingerprint": format!(
            "{:016x}",
            fingerprint(&format!(
                "{}\n{}\n{}",
                spec.text,
                toml::Value::Table(spec.base.clone()),
                serde_json::to_string(&spec.axes).unwrap_or_default()
            ))
        ),
        "points": spec.n_points(),
        "replicates": spec.file.scan.replicates,
        "jobs": spec.n_jobs(),
        "header": header,
        "axes": spec.axes,
        "learndyn_version": env!("CARGO_PKG_VERSION"),
    });
    if let Ok(old) = std::fs::read_to_string(&path) {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&old) {
            if v["spec_fingerprint"] != m["spec_fingerprint"] {
                return Err(Error::Config {
                    file: dir.display().to_string(),
                    key: "scan".into(),
                    message: "holds results of a different scan spec or base config; use another --out folder, or --restart to discard them".into(),
                });
            }
        }
    }
    let text =
        serde_json::to_string_pretty(&m).map_err(|e| Error::invalid("scan.json", e.to_string()))?;
    crate::npy::write_atomic(&path, text.as_bytes())
}

fn fingerprint(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Run (or resume) a scan into `dir` with `threads` workers. `progress(done, total)` is called
/// as jobs finish (from worker threads).
pub fn run(
    spec: &ScanSpec,
    dir: &Path,
    threads: usize,
    shard: Option<Shard>,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<ScanReport> {
    crate::record::folder::create_dir(dir)?;
    let columns = metric_columns(spec)?;
    let header = header(spec, &columns);
    write_scan_manifest(spec, dir, &header)?;
    let path = dir.join(results_name(shard));
    // One writer per results file (shards of one scan write different files, concurrently).
    let _lock = crate::record::folder::lock(dir, &results_name(shard))?;
    crate::record::folder::clean_stale_temps(dir);
    let (mut done, dropped) = if path.exists() {
        let Table {
            header: h,
            mut rows,
            dropped,
            duplicates,
        } = read_table(&path)?;
        if h != header {
            return Err(Error::invalid(
                path.display().to_string(),
                "has other columns than this scan; use another --out folder",
            ));
        }
        // Keep only rows this scan would write: conflicting copies of one key, and rows whose
        // key, seed, coordinates, status or metrics do not check, are rerun (issue 15).
        let mut bad = 0;
        for (key, same) in duplicates {
            if !same && rows.remove(&key).is_some() {
                bad += 1;
            }
        }
        let before = rows.len();
        rows.retain(|&(p, r), row| row_is_valid(spec, p, r, row, &header));
        let invalid = before - rows.len();
        (rows, dropped + bad + invalid)
    } else {
        (BTreeMap::new(), 0)
    };
    // Start from the complete rows only, then append.
    write_table(&path, &header, &done)?;
    let jobs: Vec<(u64, u64)> = (0..spec.n_points())
        .filter(|&p| shard.is_none_or(|s| s.owns(p)))
        .flat_map(|p| (0..spec.file.scan.replicates).map(move |r| (p, r)))
        .collect();
    let pending: Vec<(u64, u64)> = jobs
        .iter()
        .copied()
        .filter(|j| !done.contains_key(j))
        .collect();
    let total = jobs.len() as u64;
    let resumed = total - pending.len() as u64;
    let file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    let sink = Mutex::new((file, resumed));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .map_err(|e| Error::invalid("threads", e.to_string()))?;
    let errors: Mutex<Vec<Error>> = Mutex::new(Vec::new());
    progress(resumed, total);
    pool.install(|| {
        use rayon::prelude::*;
        pending.par_iter().for_each(|&(pid, rep)| {
            let row = match spec.point(pid) {
                Ok(p) => run_job(spec, &p, rep, &columns, dir),
                Err(e) => {
                    errors.lock().expect("no poisoning").push(e);
                    return;
                }
            };
            let bytes = csv_row(&row);
            let mut guard = sink.lock().expect("no poisoning");
            // One write per complete row: a kill leaves at most a partial last line.
            if let Err(e) = guard.0.write_all(&bytes).and_then(|_| guard.0.flush()) {
                errors
                    .lock()
                    .expect("no poisoning")
                    .push(Error::io(&path, e));
            }
            guard.1 += 1;
            progress(guard.1, total);
        });
    });
    if let Some(e) = errors
        .into_inner()
        .expect("no poisoning")
        .into_iter()
        .next()
    {
        return Err(e);
    }
    // Sorted, complete table.
    done = read_table(&path)?.rows;
    write_table(&path, &header, &done)?;
    let mut status_counts = BTreeMap::new();
    let si = header
        .iter()
        .position(|h| h == "status")
        .expect("status column");
    for r in done.values() {
        *status_counts.entry(r[si].clone()).or_insert(0) += 1;
    }
    Ok(ScanReport {
        results: path,
        jobs: total,
        resumed,
        ran: pending.len() as u64,
        status_counts,
        dropped_rows: dropped,
    })
}

/// Merge `dir/results.shard-*-of-N.csv` into `dir/results.csv`; errors name missing or
/// duplicated (point, replicate) pairs. Returns the number of rows.
pub fn merge(dir: &Path) -> Result<u64> {
    let manifest_path = dir.join("scan.json");
    let m: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&manifest_path).map_err(|e| Error::io(&manifest_path, e))?,
    )
    .map_err(|e| Error::invalid(manifest_path.display().to_string(), e.to_string()))?;
    let header: Vec<String> = m["header"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let points = m["points"].as_u64().unwrap_or(0);
    let replicates = m["replicates"].as_u64().unwrap_or(1);
    let mut shards: Vec<(Shard, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(rest) = name
            .strip_prefix("results.shard-")
            .and_then(|r| r.strip_suffix(".csv"))
        {
            if let Some((k, n)) = rest.split_once("-of-") {
                if let (Ok(k), Ok(n)) = (k.parse(), n.parse()) {
                    shards.push((Shard { k, n }, entry.path()));
                }
            }
        }
    }
    if shards.is_empty() {
        return Err(Error::invalid(
            dir.display().to_string(),
            "has no results.shard-K-of-N.csv files to merge",
        ));
    }
    let n = shards[0].0.n;
    if shards.iter().any(|(s, _)| s.n != n) {
        return Err(Error::invalid(
            dir.display().to_string(),
            "holds shards of different shard counts; merge one set at a time",
        ));
    }
    let mut rows: BTreeMap<(u64, u64), Vec<String>> = BTreeMap::new();
    let mut dups: Vec<((u64, u64), PathBuf, Option<PathBuf>)> = Vec::new();
    let mut origin: BTreeMap<(u64, u64), PathBuf> = BTreeMap::new();
    let ks: BTreeSet<u64> = shards.iter().map(|(s, _)| s.k).collect();
    for (s, path) in &shards {
        let Table {
            header: h,
            rows: r,
            duplicates,
            ..
        } = read_table(path)?;
        if h != header {
            return Err(Error::invalid(
                path.display().to_string(),
                "has other columns than scan.json says",
            ));
        }
        if let Some(&((p, r), same)) = duplicates.first() {
            return Err(Error::invalid(
                path.display().to_string(),
                format!(
                    "holds (point, replicate) = ({p}, {r}) more than once ({}{}); a shard \
                     file has one row per job: delete the wrong copy, or rerun that shard with \
                     --restart",
                    if same {
                        "identical copies"
                    } else {
                        "with different values"
                    },
                    if duplicates.len() > 1 {
                        format!(", and {} more duplicated keys", duplicates.len() - 1)
                    } else {
                        String::new()
                    }
                ),
            ));
        }
        for (key, row) in r {
            if key.0 % n != s.k - 1 {
                dups.push((key, path.clone(), None));
            }
            if rows.insert(key, row).is_some() {
                let first = origin.get(&key).cloned();
                dups.push((key, path.clone(), first));
            }
            origin.entry(key).or_insert_with(|| path.clone());
        }
    }
    if let Some(((p, r), file, first)) = dups.first() {
        let place = match first {
            Some(f) => format!("in both {} and {}", f.display(), file.display()),
            None => format!(
                "in {}, which is not the shard that owns point {p}",
                file.display()
            ),
        };
        return Err(Error::invalid(
            dir.display().to_string(),
            format!(
                "(point, replicate) = ({p}, {r}) is {place}{}; remove the stray shard file",
                if dups.len() > 1 {
                    format!(" ({} such rows in all)", dups.len())
                } else {
                    String::new()
                }
            ),
        ));
    }
    let missing: Vec<(u64, u64)> = (0..points)
        .flat_map(|p| (0..replicates).map(move |r| (p, r)))
        .filter(|k| !rows.contains_key(k))
        .collect();
    if !missing.is_empty() {
        let absent: Vec<u64> = (1..=n).filter(|k| !ks.contains(k)).collect();
        return Err(Error::invalid(
            dir.display().to_string(),
            format!(
                "{} of {} rows are missing, e.g. (point, replicate) {:?}{}; rerun the shards that did not finish (they resume)",
                missing.len(),
                points * replicates,
                &missing[..missing.len().min(5)],
                if absent.is_empty() { String::new() } else { format!("; shard files absent: {absent:?} of {n}") }
            ),
        ));
    }
    write_table(&dir.join("results.csv"), &header, &rows)?;
    Ok(rows.len() as u64)
}

/// Options of the generated SLURM script.
#[derive(Debug, Clone)]
pub struct SlurmOptions {
    /// Number of array tasks (shards).
    pub shards: u64,
    /// CPUs per task (scan threads).
    pub cpus_per_task: u64,
    /// Wall-time limit, `HH:MM:SS`.
    pub time: String,
    /// Partition, if any.
    pub partition: Option<String>,
    /// Memory per task, e.g. `4G`, if any.
    pub mem: Option<String>,
}

/// The text of an `sbatch` job-array script running `spec_path` into `dir` with `binary`.
pub fn slurm_script(
    name: &str,
    binary: &Path,
    spec_path: &Path,
    dir: &Path,
    o: &SlurmOptions,
) -> String {
    let mut s = String::new();
    s.push_str("#!/bin/bash\n");
    s.push_str(&format!("#SBATCH --job-name=learndyn-{name}\n"));
    s.push_str(&format!(
        "#SBATCH --array=0-{}\n",
        o.shards.saturating_sub(1)
    ));
    s.push_str(&format!("#SBATCH --cpus-per-task={}\n", o.cpus_per_task));
    s.push_str(&format!("#SBATCH --time={}\n", o.time));
    s.push_str(&format!(
        "#SBATCH --output={}/slurm-%A_%a.out\n",
        dir.display()
    ));
    if let Some(p) = &o.partition {
        s.push_str(&format!("#SBATCH --partition={p}\n"));
    }
    if let Some(m) = &o.mem {
        s.push_str(&format!("#SBATCH --mem={m}\n"));
    }
    s.push_str(&format!(
        "#\n# Generated by `learndyn scan slurm`: {} shards of scan '{name}'.\n\
         # Each array task runs shard (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN + 1) of\n\
         # SLURM_ARRAY_TASK_COUNT and resumes if restarted. When all tasks are done:\n\
         #   {} scan merge {}\n\
         set -euo pipefail\n\
         exec {} scan {} --out {} --shard slurm --threads \"${{SLURM_CPUS_PER_TASK:-1}}\"\n",
        o.shards,
        shell_quote(binary),
        shell_quote(dir),
        shell_quote(binary),
        shell_quote(spec_path),
        shell_quote(dir)
    ));
    s
}

fn shell_quote(p: &Path) -> String {
    let s = p.display().to_string();
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,".contains(c))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}
