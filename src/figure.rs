//! Reproducible figures: `figures/<id>/spec.toml` plus one command, `learndyn figure <id>`,
//! regenerates the data and the plots of that folder.
//!
//! This is the one module for figure specs; the drawing and the layouts (the run figure, the
//! scan-table plots) are in [`crate::plot`].
//!
//! ```toml
//! [figure]
//! title = "Saxe mode sigmoids"
//! kind = "run"               # "run": a run config; "scan": a scan spec
//! source = "config.toml"     # relative to the figure folder
//! quick = ["train.steps=200"]  # overrides for --quick (CI): section.key=value
//! quick_replicates = 1       # scans: replicates under --quick
//!
//! [[plot]]                   # scans: the plots to draw from the table
//! out = "t_learn_vs_depth"
//! x = "model.depth"
//! z = ["t_learn_gd_m0", "t_learn_theory_m0"]
//! fit_slope = false
//! ```
//!
//! Normal runs write into the figure folder (`data/` and the images); `--quick` runs write
//! into `target/figures-quick/<id>/` so committed figures are not overwritten by smoke tests.

use crate::error::{Error, Result};
use crate::experiment::{self, config::Config};
use crate::plot::scan::PlotRequest;
use crate::scan::{self, ScanSpec};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// `[figure]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FigureSection {
    /// Title (for listings).
    pub title: String,
    /// `"run"` or `"scan"`.
    pub kind: String,
    /// The run config or scan spec, relative to the figure folder.
    pub source: String,
    /// `section.key=value` overrides applied with `--quick`.
    #[serde(default)]
    pub quick: Vec<String>,
    /// Replicates of a scan under `--quick`.
    #[serde(default)]
    pub quick_replicates: Option<u64>,
}

/// One `[[plot]]` of a scan figure (see `learndyn plot`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlotSpec {
    /// Output stem inside the figure folder.
    pub out: String,
    /// Column on x.
    pub x: String,
    /// Column on y (heatmap).
    #[serde(default)]
    pub y: Option<String>,
    /// Metric columns.
    pub z: Vec<String>,
    /// Column splitting the lines.
    #[serde(default)]
    pub group: Option<String>,
    /// Force log x.
    #[serde(default)]
    pub log_x: Option<bool>,
    /// Force log y.
    #[serde(default)]
    pub log_y: Option<bool>,
    /// Log colour scale.
    #[serde(default)]
    pub log_z: bool,
    /// Fit and show log-log slopes.
    #[serde(default)]
    pub fit_slope: bool,
}

/// A figure spec file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FigureSpec {
    /// `[figure]`.
    pub figure: FigureSection,
    /// Plots (scan figures).
    #[serde(default)]
    pub plot: Vec<PlotSpec>,
}

/// Ids of the figure folders under `dir` (those with a `spec.toml`), sorted.
pub fn list(dir: &Path) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let e = e.map_err(|e| Error::io(dir, e))?;
        if e.path().join("spec.toml").is_file() {
            ids.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    ids.sort();
    Ok(ids)
}

/// Load `dir/<id>/spec.toml`.
pub fn load(dir: &Path, id: &str) -> Result<FigureSpec> {
    let path = dir.join(id).join("spec.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::Config {
        file: path.display().to_string(),
        key: "figure".into(),
        message: format!("{e}; `learndyn figure --list` shows the figures"),
    })?;
    toml::from_str(&text).map_err(|e| Error::Config {
        file: path.display().to_string(),
        key: e
            .message()
            .split('`')
            .nth(1)
            .unwrap_or("<toml>")
            .to_string(),
        message: e.message().trim().to_string(),
    })
}

/// Regenerate figure `id` from `dir` (the figures folder). Returns the files written.
pub fn make(dir: &Path, id: &str, quick: bool, threads: usize) -> Result<Vec<PathBuf>> {
    let spec = load(dir, id)?;
    let here = dir.join(id);
    let out = if quick {
        PathBuf::from("target").join("figures-quick").join(id)
    } else {
        here.clone()
    };
    let data = out.join("data");
    // Figures are regenerated from scratch: stale results of an older spec must not resume.
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).map_err(|e| Error::io(&data, e))?;
    let source = here.join(&spec.figure.source);
    let overrides: Vec<String> = if quick {
        spec.figure.quick.clone()
    } else {
        vec![]
    };
    let mut written = Vec::new();
    match spec.figure.kind.as_str() {
        "run" => {
            let loaded = Config::load(&source, &overrides)?;
            let output = experiment::run(&loaded, &mut |_| {})?;
            crate::record::write_run(
                &data,
                &loaded,
                &output,
                &crate::record::RunContext::default(),
                0.0,
            )?;
            let stem = out.join(id);
            crate::plot::run::draw_output_figure(&output, &stem, loaded.config.output.log_time)
                .map_err(|e| Error::invalid(stem.display().to_string(), e.to_string()))?;
            written.push(stem.with_extension("png"));
        }
        "scan" => {
            let mut s = ScanSpec::load(&source)?;
            for o in &overrides {
                let (k, v) = o.split_once('=').ok_or_else(|| {
                    Error::invalid("figure.quick", format!("'{o}' is not section.key=value"))
                })?;
                let (sec, key) = k.trim().split_once('.').ok_or_else(|| {
                    Error::invalid("figure.quick", format!("'{k}' is not section.key"))
                })?;
                let value = toml::from_str::<toml::Table>(&format!("v = {}", v.trim()))
                    .ok()
                    .and_then(|mut t| t.remove("v"))
                    .unwrap_or_else(|| toml::Value::String(v.trim().to_string()));
                experiment::load::set_key(&mut s.base, sec, key, value)?;
            }
            if quick {
                if let Some(r) = spec.figure.quick_replicates {
                    s.file.scan.replicates = r.max(1);
                }
            }
            scan::run(&s, &data, threads, None, &|_, _| {})?;
            let table = data.join("results.csv");
            for p in &spec.plot {
                let req = PlotRequest {
                    x: p.x.clone(),
                    y: p.y.clone(),
                    z: p.z.clone(),
                    group: p.group.clone(),
                    log_x: p.log_x,
                    log_y: p.log_y,
                    log_z: p.log_z,
                    fit_slope: p.fit_slope,
                };
                let stem = out.join(&p.out);
                scan::plot_table(&table, &req, &stem)?;
                written.push(stem.with_extension("png"));
            }
        }
        other => {
            return Err(Error::Config {
                file: here.join("spec.toml").display().to_string(),
                key: "figure.kind".into(),
                message: format!("'{other}' is unknown; allowed: \"run\", \"scan\""),
            })
        }
    }
    Ok(written)
}
