//! Output files of a run (the contract documented in `docs/outputs.md`):
//!
//! - `records.csv`: long form, header exactly `source,seed,step,t,observable,index,value,kind`;
//! - `summary.json`: discrepancies of each theory source to the seed-mean simulation and the
//!   time each mode reaches half its final strength;
//! - `manifest.json`: version, git revision, resolved config, seeds, command line, threads,
//!   timings, skipped theory sources;
//! - `weights/seed<S>_W<l>.npy`: final weights per seed, `l = 1..L`;
//! - `figure.png`, `figure.svg`: the run figure, laid out by [`crate::plot::run`].
//!
//! Every file is written atomically (temporary file in the same folder, then rename).

pub mod folder;
mod parquet;
mod wide;
pub use parquet::records_parquet;
pub use wide::records_wide_csv;

use crate::error::{Error, Result};
use crate::experiment::{config::LoadedConfig, Record, RunOutput};
use crate::npy;

mod fixed_points;
pub use fixed_points::write_fixed_points;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Header of `records.csv`.
pub const RECORDS_HEADER: &str = "source,seed,step,t,observable,index,value,kind";

/// Where the run came from, for the manifest.
#[derive(Debug, Clone, Default)]
pub struct RunContext {
    /// The command line as typed.
    pub command: Vec<String>,
    /// Git revision of the learndyn build, if known.
    pub git_revision: Option<String>,
    /// Threads used.
    pub threads: usize,
}

/// Format a float so that it parses back to the same value (shortest round-trip form);
/// NaN and infinities as `nan`, `inf`, `-inf` (pandas and numpy read these).
fn fmt_f64(out: &mut String, x: f64) {
    if x.is_nan() {
        out.push_str("nan");
    } else if x.is_infinite() {
        out.push_str(if x > 0.0 { "inf" } else { "-inf" });
    } else {
        let _ = write!(out, "{x:?}");
    }
}

/// `records.csv` text.
pub fn records_csv(records: &[Record]) -> String {
    let mut s = String::with_capacity(64 * records.len() + 64);
    s.push_str(RECORDS_HEADER);
    s.push('\n');
    for r in records {
        s.push_str(r.source.name());
        s.push(',');
        if let Some(seed) = r.seed {
            let _ = write!(s, "{seed}");
        }
        s.push(',');
        if let Some(step) = r.step {
            let _ = write!(s, "{step}");
        }
        s.push(',');
        fmt_f64(&mut s, r.t);
        s.push(',');
        s.push_str(r.observable.name());
        s.push(',');
        if let Some(i) = r.index {
            let _ = write!(s, "{i}");
        }
        s.push(',');
        fmt_f64(&mut s, r.value);
        // Which rows are the trained network, whatever the optimizer's source name.
        s.push_str(if r.source.is_theory() {
            ",theory\n"
        } else {
            ",simulation\n"
        });
    }
    s
}

/// JSON with non-finite numbers written as `null` (JSON has no NaN).
fn to_json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string_pretty(v).map_err(|e| Error::invalid("json", e.to_string()))
}

/// Write every output file of `output` into `dir` (created if needed). Returns the paths
/// written, relative to `dir`.
/// Returns the files written and, if the figure could not be drawn, why.
pub fn write_run(
    dir: &Path,
    loaded: &LoadedConfig,
    output: &RunOutput,
    ctx: &RunContext,
    total_seconds: f64,
) -> Result<(Vec<String>, Option<String>)> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut files = Vec::new();
    npy::write_atomic(
        &dir.join("records.csv"),
        records_csv(&output.records).as_bytes(),
    )?;
    files.push("records.csv".to_string());
    if loaded.config.output.format == crate::experiment::config::RecordsFormat::Wide {
        npy::write_atomic(
            &dir.join("records_wide.csv"),
            wide::records_wide_csv(&output.records).as_bytes(),
        )?;
        files.push("records_wide.csv".to_string());
    }
    if loaded.config.output.format == crate::experiment::config::RecordsFormat::Parquet {
        npy::write_atomic(
            &dir.join("records.parquet"),
            &parquet::records_parquet(&output.records)?,
        )?;
        files.push("records.parquet".to_string());
    }
    npy::write_atomic(
        &dir.join("summary.json"),
        to_json(&output.summary)?.as_bytes(),
    )?;
    files.push("summary.json".to_string());
    let c = &loaded.config;
    if c.output.weights {
        let wdir = dir.join("weights");
        std::fs::create_dir_all(&wdir).map_err(|e| Error::io(&wdir, e))?;
        for (seed, layers) in &output.final_weights {
            for (block, w) in layers {
                let name = format!("seed{seed}_{block}.npy");
                npy::write_matrix(&wdir.join(&name), w)?;
                files.push(format!("weights/{name}"));
            }
        }
    }
    if !output.fixed_points.is_empty() {
        let fdir = dir.join("fixed_points");
        std::fs::create_dir_all(&fdir).map_err(|e| Error::io(&fdir, e))?;
        for (seed, set) in &output.fixed_points {
            for path in write_fixed_points(set, &fdir, &format!("seed{seed}"))? {
                if let Some(name) = path.file_name() {
                    files.push(format!("fixed_points/{}", name.to_string_lossy()));
                }
            }
        }
    }
    let mut figure_error = None;
    if c.output.figure {
        match crate::plot::run::draw_output_figure(output, &dir.join("figure"), c.output.log_time) {
            Ok(()) => {
                files.push("figure.png".into());
                files.push("figure.svg".into());
                files.push("figure.csv".into());
            }
            Err(e) => figure_error = Some(e.to_string()),
        }
    }
    files.push("manifest.json".into());
    let manifest = serde_json::json!({
        "learndyn_version": env!("CARGO_PKG_VERSION"),
        "git_revision": ctx.git_revision,
        "command": ctx.command,
        "threads": ctx.threads,
        "config_origin": loaded.origin,
        "model_kind": c.model.kind,
        "config": c,
        "seeds": c.train.seeds,
        "time_bridge": "t = lr * step (gradient-flow time, tau = 1)",
        "records_columns": RECORDS_HEADER,
        "index_layout": index_layout(output),
        "sequence_steps": sequence_steps(c),
        "record_steps": output.record_steps,
        "theory_sources_requested": c.theory.sources,
        "theory_sources_skipped": output.skipped,
        "integrator": {
            "method": c.integrate.method,
            "rtol": c.integrate.rtol,
            "atol": c.integrate.atol,
            "stats": output.integrator_stats,
        },
        "task": {
            "teacher_singular_values": output.teacher_singular_values,
            "whitening_error": output.whitening_error,
        },
        "runs": output.summary.runs,
        "timings_s": {
            "stages": output.timings,
            "run_total": total_seconds,
        },
        "figure_error": figure_error,
        "files": files,
        "files_sha256": files_sha256(dir, &files)?,
    });
    npy::write_atomic(&dir.join("manifest.json"), to_json(&manifest)?.as_bytes())?;
    Ok((files, figure_error))
}

/// Default output folder for a config file: `out/<file stem>`.
pub fn default_out_dir(config_path: &Path) -> PathBuf {
    let stem = config_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into());
    PathBuf::from("out").join(stem)
}

/// `manifest.json` → `files_sha256`: each written file (except the manifest) and its SHA-256.
fn files_sha256(dir: &Path, files: &[String]) -> Result<serde_json::Value> {
    let mut m = serde_json::Map::new();
    for f in files.iter().filter(|f| f.as_str() != "manifest.json") {
        m.insert(f.clone(), folder::sha256_file(&dir.join(f))?.into());
    }
    Ok(m.into())
}

/// `manifest.json` → `index_layout`: for each observable with an index in the records, what
/// the index means (`Observable::index_layout`), in record order.
fn index_layout(output: &RunOutput) -> serde_json::Map<String, serde_json::Value> {
    let mut seen = std::collections::BTreeSet::new();
    let mut m = serde_json::Map::new();
    for r in &output.records {
        if seen.insert(r.observable) {
            if let Some(layout) = r.observable.index_layout() {
                m.insert(r.observable.name().into(), layout.into());
            }
        }
    }
    m
}

/// `manifest.json` → `sequence_steps`: the sequence length `T` of a recurrent run on a
/// synthetic task (the `T` of `lag_product`'s index); `null` otherwise (deep linear runs, and
/// `.npy` data, whose `T` is that of the file).
fn sequence_steps(c: &crate::experiment::config::Config) -> Option<usize> {
    let synthetic = c.task.kind != crate::experiment::config::TaskKind::Npy;
    c.sequence.as_ref().filter(|_| synthetic).map(|s| s.steps)
}
