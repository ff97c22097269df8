//! Reproducible figures: `figures/<id>/spec.toml` plus one command, `learndyn figure <id>`,
//! regenerates the data and the plots of that folder.
//!
//! This is the one module for figure specs; the drawing and the layouts (the run figure, the
//! scan-table plots) are in [`crate::plot`].
//!
//! ```toml
//! [figure]
//! title = "Saxe mode sigmoids"
//! kind = "run"               # "run": a run config; "scan": a scan spec; "theory": closed
//!                            # forms only (see [`theory`])
//! source = "config.toml"     # relative to the figure folder
//! quick = ["train.steps=200"]  # overrides for --quick (CI): section.key=value
//! quick_replicates = 1       # scans: replicates under --quick
//!
//! [[plot]]                   # scans and theory: the plots to draw from a table
//! out = "t_learn_vs_depth"
//! table = "results.csv"      # in data/ (theory figures write several)
//! x = "model.depth"
//! z = ["t_learn_gd_m0", "t_learn_theory_m0"]
//! fit_slope = false
//! title = "Time to learn vs depth"   # optional: title and axis labels
//! x_label = "depth L"                 # [default: the column names]
//! y_label = "t_learn"
//! points = []                         # metrics drawn as one marker per row, not averaged
//! filter = []                         # only rows with these cells: "column=value"
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

pub mod aligned_oblique;
pub mod mean_field;
pub mod outlier;
pub mod procedures;
pub mod random_init;
pub mod theory;

/// `figure.kind`: what the source file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FigureKind {
    /// A run config: one run, its figure.
    Run,
    /// A scan spec: a table and its `[[plot]]`s.
    Scan,
    /// A theory calculation ([`theory::TheoryFigure`]): tables and their `[[plot]]`s.
    Theory,
    /// A recovery run spec (`learndyn recovery run`): `results.csv` and its `[[plot]]`s;
    /// `quick` overrides are dotted keys of the spec (`fit.steps=100`).
    Recovery,
}

/// `[figure]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FigureSection {
    /// Title (for listings).
    pub title: String,
    /// What `source` is.
    pub kind: FigureKind,
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
    /// The table in `data/` to plot [default: `results.csv`].
    #[serde(default)]
    pub table: Option<String>,
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
    /// Title [default: what is averaged, and the band].
    #[serde(default)]
    pub title: Option<String>,
    /// Label of the x axis [default: the column name].
    #[serde(default)]
    pub x_label: Option<String>,
    /// Label of the y axis [default: the metric column's name].
    #[serde(default)]
    pub y_label: Option<String>,
    /// Metric columns drawn as markers, one per row (e.g. each finite network), not averaged.
    #[serde(default)]
    pub points: Vec<String>,
    /// Draw only the rows with these cells, each `column=value` (exact text, e.g. `"T=60"`).
    #[serde(default)]
    pub filter: Vec<String>,
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
    match spec.figure.kind {
        FigureKind::Run => {
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
        FigureKind::Scan => {
            let mut s = ScanSpec::load(&source)?;
            for o in &overrides {
                let ((sec, key), value) = split_override(o)?;
                experiment::load::set_key(&mut s.base, sec, key, value)?;
            }
            if quick {
                if let Some(r) = spec.figure.quick_replicates {
                    s.file.scan.replicates = r.max(1);
                }
            }
            scan::run(&s, &data, threads, None, &|_, _| {})?;
            written.extend(draw_plots(&spec, &data, &out)?);
        }
        FigureKind::Recovery => {
            let text = std::fs::read_to_string(&source).map_err(|e| Error::io(&source, e))?;
            let mut table: toml::Table = toml::from_str(&text).map_err(|e| Error::Config {
                file: source.display().to_string(),
                key: "<toml>".into(),
                message: e.message().trim().to_string(),
            })?;
            for o in &overrides {
                let (k, v) = o.split_once('=').ok_or_else(|| {
                    Error::invalid("figure.quick", format!("'{o}' is not key=value"))
                })?;
                let value = parse_value(v.trim());
                set_run_key(&mut table, k.trim(), value)?;
            }
            let text = toml::to_string(&table)
                .map_err(|e| Error::invalid("figure.quick", e.to_string()))?;
            let base = source.parent().unwrap_or(Path::new("."));
            let rs = crate::recovery::run::spec::RunSpec::parse(
                &text,
                &source.display().to_string(),
                base,
            )?;
            crate::recovery::run::run(&rs, &data, threads, None, &|_, _| {})?;
            written.extend(draw_plots(&spec, &data, &out)?);
        }
        FigureKind::Theory => {
            let text = std::fs::read_to_string(&source).map_err(|e| Error::io(&source, e))?;
            let mut table: toml::Table = toml::from_str(&text).map_err(|e| Error::Config {
                file: source.display().to_string(),
                key: "<toml>".into(),
                message: e.message().trim().to_string(),
            })?;
            // Theory sources may nest tables: `a.b.key=value` sets `key` of `[a.b]`.
            for o in &overrides {
                let ((sec, key), v) = split_override(o)?;
                let mut path: Vec<&str> = std::iter::once(sec).chain(key.split('.')).collect();
                let last = path.pop().unwrap_or(key);
                let mut section = &mut table;
                for (i, part) in path.iter().enumerate() {
                    section = section
                        .get_mut(*part)
                        .and_then(toml::Value::as_table_mut)
                        .ok_or_else(|| {
                            Error::invalid(
                                "figure.quick",
                                format!("no section [{}] in the source", path[..=i].join(".")),
                            )
                        })?;
                }
                section.insert(last.to_string(), v);
            }
            let fig: theory::TheoryFigure =
                toml::Value::Table(table)
                    .try_into()
                    .map_err(|e: toml::de::Error| Error::Config {
                        file: source.display().to_string(),
                        key: "<toml>".into(),
                        message: e.message().trim().to_string(),
                    })?;
            theory::make(&fig, &data)?;
            written.extend(draw_plots(&spec, &data, &out)?);
        }
    }
    Ok(written)
}

/// `section.key=value` of a `quick` override, the value parsed as TOML (a bare word is a
/// string).
fn split_override(o: &str) -> Result<((&str, &str), toml::Value)> {
    let (k, v) = o
        .split_once('=')
        .ok_or_else(|| Error::invalid("figure.quick", format!("'{o}' is not section.key=value")))?;
    let sk = k
        .trim()
        .split_once('.')
        .ok_or_else(|| Error::invalid("figure.quick", format!("'{k}' is not section.key")))?;
    Ok((sk, parse_value(v.trim())))
}

/// Set `key` of a recovery run spec: a dotted key, or `axis.<i>.<field>` for the `i`-th axis.
fn set_run_key(table: &mut toml::Table, key: &str, value: toml::Value) -> Result<()> {
    if let Some(rest) = key.strip_prefix("axis.") {
        let bad = || {
            Error::invalid(
                "figure.quick",
                format!("'{key}': expected axis.<i>.<field>"),
            )
        };
        let (i, field) = rest.split_once('.').ok_or_else(bad)?;
        let i: usize = i.parse().map_err(|_| bad())?;
        let axis = table
            .get_mut("axis")
            .and_then(toml::Value::as_array_mut)
            .and_then(|a| a.get_mut(i))
            .and_then(toml::Value::as_table_mut)
            .ok_or_else(|| Error::invalid("figure.quick", format!("'{key}': no axis {i}")))?;
        axis.insert(field.to_string(), value);
        return Ok(());
    }
    crate::recovery::run::spec::set_path(table, key, value)
}

/// A TOML value (a bare word is a string).
fn parse_value(v: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {v}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(v.to_string()))
}

/// Draw the `[[plot]]`s of `spec` from the tables in `data` into `out`.
fn draw_plots(spec: &FigureSpec, data: &Path, out: &Path) -> Result<Vec<PathBuf>> {
    let mut written = vec![];
    for p in &spec.plot {
        let table = data.join(p.table.as_deref().unwrap_or("results.csv"));
        let req = PlotRequest {
            x: p.x.clone(),
            y: p.y.clone(),
            z: p.z.clone(),
            group: p.group.clone(),
            log_x: p.log_x,
            log_y: p.log_y,
            log_z: p.log_z,
            fit_slope: p.fit_slope,
            title: p.title.clone(),
            x_label: p.x_label.clone(),
            y_label: p.y_label.clone(),
            points: p.points.clone(),
            filter: p
                .filter
                .iter()
                .map(|f| {
                    f.split_once('=')
                        .map(|(c, v)| (c.trim().to_string(), v.trim().to_string()))
                        .ok_or_else(|| {
                            Error::invalid(
                                format!("plot {}: filter", p.out),
                                format!("'{f}' is not column=value"),
                            )
                        })
                })
                .collect::<Result<_>>()?,
        };
        let stem = out.join(&p.out);
        scan::plot_table(&table, &req, &stem)?;
        written.push(stem.with_extension("png"));
    }
    Ok(written)
}
