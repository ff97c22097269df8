//! Scan specifications: a base experiment config plus axes over config keys.
//!
//! ```toml
//! [scan]
//! name = "time_to_learn"
//! base = "deep_balanced.toml"   # a run config, relative to this file (or an inline [base])
//! seed = 0                      # scan seed: per-point seeds derive from it
//! replicates = 3                # the seeds axis: independent init seeds per point
//! metrics = ["final_loss", "time_to_half"]
//!
//! [[axis]]
//! key = "init.u0"
//! logspace = [1e-4, 1e-1, 4]    # start, stop (values, not exponents), count
//!
//! [[axis]]
//! key = "model.depth"
//! values = [2, 3, 4]
//!
//! [[axis]]                      # zipped: these keys vary together
//! keys = ["train.lr", "train.steps"]
//! values = [[0.02, 500], [0.01, 1000]]
//!
//! [derived]
//! "train.steps" = "20 / train.lr"   # + - * / with numbers and config keys
//! ```

use crate::error::{Error, Result};
use crate::experiment::config::Config;
use crate::experiment::load;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Metric groups a scan can record (each expands to one or more columns).
pub const METRICS: [&str; 8] = [
    "rich_lazy",
    "final_loss",
    "time_to_half",
    "time_to_learn",
    "discrepancy",
    "final_mode_strength",
    "final_singular_values",
    "balance_drift",
];

/// `[scan]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanSection {
    /// Name (used in file names and job names).
    #[serde(default = "default_name")]
    pub name: String,
    /// Path of the base run config, relative to the spec file. Alternative: an inline `[base]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    /// Scan seed (default 0).
    #[serde(default)]
    pub seed: u64,
    /// Independent init seeds per point (default 1).
    #[serde(default = "one")]
    pub replicates: u64,
    /// Metric groups to record (default `["final_loss", "time_to_half", "discrepancy"]`).
    #[serde(default = "default_metrics")]
    pub metrics: Vec<String>,
    /// Also write every point's full run folder under `points/` (default false: a scan of 10^4
    /// points should not write 10^4 folders unless asked).
    #[serde(default)]
    pub records: bool,
}

fn default_name() -> String {
    "scan".into()
}
fn one() -> u64 {
    1
}
fn default_metrics() -> Vec<String> {
    vec![
        "final_loss".into(),
        "time_to_half".into(),
        "discrepancy".into(),
    ]
}

/// One `[[axis]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AxisSpec {
    /// The config key, `section.key` (single axis).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Several keys that vary together (zipped axis); `values` then holds one list per point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<String>>,
    /// Explicit values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<toml::Value>>,
    /// `[start, stop, count]`, evenly spaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linspace: Option<(f64, f64, usize)>,
    /// `[start, stop, count]`, geometrically spaced (start and stop are values, > 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logspace: Option<(f64, f64, usize)>,
    /// Table cells of a single-key axis, one per value, in place of the values themselves
    /// (e.g. names for table values: `labels = ["observed", "lds2"]`). Recovery runs only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
}

/// The whole spec file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanSpecFile {
    /// `[scan]`.
    pub scan: ScanSection,
    /// Inline base config (alternative to `scan.base`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<toml::Table>,
    /// The axes, outermost first.
    #[serde(default)]
    pub axis: Vec<AxisSpec>,
    /// Derived values: `"section.key" = "expression"`.
    #[serde(default)]
    pub derived: toml::Table,
}

/// How an axis is spaced (for plotting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Spacing {
    /// Explicit values.
    List,
    /// Linear spacing.
    Linear,
    /// Geometric spacing.
    Log,
}

/// A resolved axis: its keys and one tuple of values per position.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Axis {
    /// Config keys (`section.key`), more than one for zipped axes.
    pub keys: Vec<String>,
    /// Values per position, one per key.
    pub values: Vec<Vec<toml::Value>>,
    /// Spacing.
    pub spacing: Spacing,
    /// The table cells of the values, when the axis names them (`labels`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
}

/// A validated scan.
#[derive(Debug, Clone)]
pub struct ScanSpec {
    /// The parsed file.
    pub file: ScanSpecFile,
    /// The base config table (before axes).
    pub base: toml::Table,
    /// Resolved axes.
    pub axes: Vec<Axis>,
    /// Where the spec came from (messages).
    pub origin: String,
    /// Folder of the spec (relative paths).
    pub base_dir: PathBuf,
    /// The spec text, for the fingerprint.
    pub text: String,
}

/// One point of the grid.
#[derive(Debug, Clone)]
pub struct Point {
    /// Index in the grid (row-major, last axis fastest).
    pub id: u64,
    /// `(key, value)` for every axis key, in axis order.
    pub coords: Vec<(String, toml::Value)>,
    /// The config table with axes and derived values applied.
    pub table: toml::Table,
}

fn spec_err(origin: &str, key: &str, message: impl Into<String>) -> Error {
    Error::Config {
        file: origin.to_string(),
        key: key.to_string(),
        message: message.into(),
    }
}

fn split_key<'a>(origin: &str, key: &'a str) -> Result<(&'a str, &'a str)> {
    let parts: Vec<&str> = key.split('.').collect();
    if parts.len() != 2 || parts.iter().any(|p| p.is_empty()) {
        return Err(spec_err(
            origin,
            "axis.key",
            format!("'{key}' is not of the form section.key (e.g. \"train.lr\")"),
        ));
    }
    Ok((parts[0], parts[1]))
}

fn space(
    origin: &str,
    key: &str,
    (a, b, n): (f64, f64, usize),
    log: bool,
) -> Result<Vec<toml::Value>> {
    if n == 0 {
        return Err(spec_err(
            origin,
            key,
            "the axis is empty (count 0); give a count >= 1",
        ));
    }
    if !(a.is_finite() && b.is_finite()) || (log && (a <= 0.0 || b <= 0.0)) {
        return Err(spec_err(
            origin,
            key,
            if log {
                "logspace needs finite start and stop > 0 (values, not exponents)"
            } else {
                "linspace needs finite start and stop"
            },
        ));
    }
    Ok((0..n)
        .map(|i| {
            let f = if n == 1 {
                0.0
            } else {
                i as f64 / (n - 1) as f64
            };
            let v = if log {
                (a.ln() + f * (b.ln() - a.ln())).exp()
            } else {
                a + f * (b - a)
            };
            // Land exactly on the end points; interior points are rounded to 15 significant
            // digits, which removes the rounding noise of the interpolation (ln/exp spreads
            // it to ~1e-15 relative), so that decades are exactly the doubles `1e-2`, `0.1`,
            // ... a user types and linear steps such as 0.3 compare equal in pandas.
            let v = if i == 0 {
                a
            } else if i == n - 1 {
                b
            } else {
                round_significant(v)
            };
            toml::Value::Float(v)
        })
        .collect())
}

/// `v` rounded to 15 significant decimal digits (f64 holds 15.95): the double nearest to the
/// decimal a grid point is meant to be.
fn round_significant(v: f64) -> f64 {
    format!("{v:.14e}").parse().unwrap_or(v)
}

impl ScanSpec {
    /// Parse and validate a spec file (axes against the base config's keys).
    pub fn load(path: &Path) -> Result<ScanSpec> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Self::parse(&text, &path.display().to_string(), &base_dir)
    }

    /// Parse spec text; `base_dir` resolves relative paths.
    pub fn parse(text: &str, origin: &str, base_dir: &Path) -> Result<ScanSpec> {
        check_ranges(text, origin)?;
        let file: ScanSpecFile = toml::from_str(text).map_err(|e| {
            let msg = e.message().trim().to_string();
            let key = msg.split('`').nth(1).unwrap_or("<toml>").to_string();
            spec_err(origin, &key, msg)
        })?;
        let base = read_base(&file, origin, base_dir)?;
        if file.scan.replicates == 0 {
            return Err(spec_err(origin, "scan.replicates", "must be >= 1"));
        }
        for m in &file.scan.metrics {
            if !METRICS.contains(&m.as_str()) {
                return Err(spec_err(
                    origin,
                    "scan.metrics",
                    format!("'{m}' is unknown; allowed: {METRICS:?}"),
                ));
            }
        }
        let mut axes = Vec::new();
        for a in &file.axis {
            if a.labels.is_some() {
                return Err(spec_err(
                    origin,
                    "axis.labels",
                    "labels are for `learndyn recovery run` axes; a scan's cells are its values",
                ));
            }
            axes.push(parse_axis(a, origin)?);
        }
        let mut seen = std::collections::BTreeSet::new();
        for k in axes.iter().flat_map(|a| &a.keys).chain(file.derived.keys()) {
            if !seen.insert(k.clone()) {
                return Err(spec_err(
                    origin,
                    k,
                    "appears in more than one axis or derived value",
                ));
            }
        }
        let spec = ScanSpec {
            file,
            base,
            axes,
            origin: origin.to_string(),
            base_dir: base_dir.to_path_buf(),
            text: text.to_string(),
        };
        // Unknown keys are spec errors, found now, not per point: resolve the first point.
        let first = spec.point(0)?;
        if let Err(e) = load::from_table(first.table.clone(), origin) {
            if let Error::Config { ref message, .. } = e {
                if message.contains("unknown field") || message.contains("not a section") {
                    return Err(e);
                }
            }
        }
        Ok(spec)
    }

    /// Number of grid points.
    pub fn n_points(&self) -> u64 {
        self.axes.iter().map(|a| a.values.len() as u64).product()
    }

    /// Number of runs: points x replicates.
    pub fn n_jobs(&self) -> u64 {
        self.n_points() * self.file.scan.replicates
    }

    /// Axis keys in column order.
    pub fn axis_keys(&self) -> Vec<String> {
        self.axes.iter().flat_map(|a| a.keys.clone()).collect()
    }

    /// Point `id` (row-major, last axis fastest), with derived values applied.
    pub fn point(&self, id: u64) -> Result<Point> {
        let idx = grid_index(&self.axes, id);
        let mut table = self.base.clone();
        let mut coords = Vec::new();
        for (a, &i) in self.axes.iter().zip(&idx) {
            for (k, v) in a.keys.iter().zip(&a.values[i]) {
                let (sec, key) = split_key(&self.origin, k)?;
                load::set_key(&mut table, sec, key, v.clone())?;
                coords.push((k.clone(), v.clone()));
            }
        }
        for (k, expr) in &self.file.derived {
            let expr = expr.as_str().ok_or_else(|| {
                spec_err(
                    &self.origin,
                    &format!("derived.{k}"),
                    "give the expression as a string, e.g. \"0.5 / model.hidden\"",
                )
            })?;
            let v = eval(expr, &table)
                .map_err(|m| spec_err(&self.origin, &format!("derived.{k}"), m))?;
            let (sec, key) = split_key(&self.origin, k)?;
            let value = if is_integer_key(&table, sec, key, &self.base) {
                toml::Value::Integer(v.round() as i64)
            } else {
                toml::Value::Float(v)
            };
            load::set_key(&mut table, sec, key, value)?;
        }
        Ok(Point { id, coords, table })
    }

    /// The run config of point `p` (validated), with `train.seeds = [seed]`.
    pub fn run_config(&self, p: &Point, seed: u64) -> Result<Config> {
        let mut table = p.table.clone();
        load::set_key(
            &mut table,
            "train",
            "seeds",
            toml::Value::Array(vec![toml::Value::Integer(seed as i64)]),
        )?;
        load::from_table(table, &format!("point {}", p.id))
    }

    /// Seed of `(point, replicate)`: derived from the scan seed and the point's coordinates
    /// (not its position in the run order), so results do not depend on threads, order or
    /// sharding. Below 2^53, so every table reader keeps it exact.
    pub fn seed_of(&self, p: &Point, replicate: u64) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325; // FNV-1a over the canonical coordinates
        for (k, v) in &p.coords {
            for b in format!("{k}={v};").bytes() {
                h ^= b as u64;
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        }
        let m = crate::random::mix64(
            h ^ crate::random::mix64(self.file.scan.seed ^ crate::random::mix64(replicate)),
        );
        m >> 11
    }
}

/// The position on each axis of grid point `id` (row-major: the last axis varies fastest).
pub fn grid_index(axes: &[Axis], id: u64) -> Vec<usize> {
    let mut rem = id;
    let mut idx = vec![0usize; axes.len()];
    for (i, a) in axes.iter().enumerate().rev() {
        let n = a.values.len() as u64;
        idx[i] = (rem % n) as usize;
        rem /= n;
    }
    idx
}

/// The base config table of a spec: the file `scan.base` (relative to `base_dir`), the inline
/// `[base]`, or empty.
fn read_base(file: &ScanSpecFile, origin: &str, base_dir: &Path) -> Result<toml::Table> {
    Ok(match (&file.scan.base, &file.base) {
        (Some(_), Some(_)) => {
            return Err(spec_err(
                origin,
                "scan.base",
                "give scan.base or an inline [base], not both",
            ))
        }
        (Some(p), None) => {
            let path = base_dir.join(p);
            let t = std::fs::read_to_string(&path).map_err(|e| {
                spec_err(
                    origin,
                    "scan.base",
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            toml::from_str::<toml::Table>(&t)
                .map_err(|e| spec_err(&path.display().to_string(), "<toml>", e.message().trim()))?
        }
        (None, Some(t)) => t.clone(),
        (None, None) => toml::Table::new(),
    })
}

/// One `[[axis]]`: its keys (one, or several zipped) and its values per point. `origin`
/// names the spec in errors.
pub fn parse_axis(a: &AxisSpec, origin: &str) -> Result<Axis> {
    let keys: Vec<String> = match (&a.key, &a.keys) {
        (Some(k), None) => vec![k.clone()],
        (None, Some(ks)) if !ks.is_empty() => ks.clone(),
        _ => {
            return Err(spec_err(
                origin,
                "axis",
                "every [[axis]] needs `key = \"section.key\"` or `keys = [...]` (zipped)",
            ))
        }
    };
    let name = keys.join("+");
    let sources = [
        a.values.is_some(),
        a.linspace.is_some(),
        a.logspace.is_some(),
    ];
    if sources.iter().filter(|x| **x).count() != 1 {
        return Err(spec_err(
            origin,
            &name,
            "give exactly one of values, linspace, logspace",
        ));
    }
    let (values, spacing) = if let Some(v) = &a.values {
        if v.is_empty() {
            return Err(spec_err(
                origin,
                &name,
                "the axis is empty; give at least one value",
            ));
        }
        let tuples: Vec<Vec<toml::Value>> = if keys.len() == 1 {
            v.iter().map(|x| vec![x.clone()]).collect()
        } else {
            let mut out = Vec::new();
            for x in v {
                match x {
                    toml::Value::Array(items) if items.len() == keys.len() => {
                        out.push(items.clone())
                    }
                    _ => {
                        return Err(spec_err(
                            origin,
                            &name,
                            format!(
                                "a zipped axis needs one list of {} values per point",
                                keys.len()
                            ),
                        ))
                    }
                }
            }
            out
        };
        (tuples, Spacing::List)
    } else if keys.len() > 1 {
        return Err(spec_err(
            origin,
            &name,
            "zipped axes take explicit `values`",
        ));
    } else if let Some(l) = a.linspace {
        (
            space(origin, &name, l, false)?
                .into_iter()
                .map(|x| vec![x])
                .collect(),
            Spacing::Linear,
        )
    } else {
        let l = a.logspace.expect("one source");
        (
            space(origin, &name, l, true)?
                .into_iter()
                .map(|x| vec![x])
                .collect(),
            Spacing::Log,
        )
    };
    if let Some(l) = &a.labels {
        if keys.len() != 1 || l.len() != values.len() {
            return Err(spec_err(
                origin,
                &format!("{name}.labels"),
                format!(
                    "give one label per value ({}) of a single-key axis",
                    values.len()
                ),
            ));
        }
    }
    Ok(Axis {
        keys,
        values,
        spacing,
        labels: a.labels.clone(),
    })
}

/// Integer-typed config keys keep integer values when derived.
fn is_integer_key(table: &toml::Table, sec: &str, key: &str, base: &toml::Table) -> bool {
    let lookup = |t: &toml::Table| t.get(sec).and_then(|s| s.get(key)).map(|v| v.is_integer());
    if let Some(b) = lookup(table).or_else(|| lookup(base)) {
        return b;
    }
    // Defaults: integer fields of the run config.
    matches!(
        (sec, key),
        ("model", "depth")
            | ("model", "hidden")
            | ("train", "steps")
            | ("task", "d_in")
            | ("task", "d_out")
            | ("task", "samples")
            | ("task", "seed")
            | ("output", "records")
            | ("integrate", "max_steps")
    )
}

/// Value of `section.key` in a (partial) config table, falling back to the defaults.
fn lookup_number(table: &toml::Table, name: &str) -> std::result::Result<f64, String> {
    let (sec, key) = name
        .split_once('.')
        .ok_or_else(|| format!("'{name}' is neither a number nor a section.key"))?;
    if let Some(v) = table.get(sec).and_then(|s| s.get(key)) {
        return match v {
            toml::Value::Integer(i) => Ok(*i as f64),
            toml::Value::Float(f) => Ok(*f),
            toml::Value::Array(a) if a.len() == 1 => match &a[0] {
                toml::Value::Integer(i) => Ok(*i as f64),
                toml::Value::Float(f) => Ok(*f),
                _ => Err(format!("'{name}' is not a number")),
            },
            _ => Err(format!("'{name}' is not a number")),
        };
    }
    let defaults = toml::Value::try_from(Config::default()).map_err(|e| e.to_string())?;
    match defaults.get(sec).and_then(|s| s.get(key)) {
        Some(toml::Value::Integer(i)) => Ok(*i as f64),
        Some(toml::Value::Float(f)) => Ok(*f),
        _ => Err(format!("'{name}' is not a numeric config key")),
    }
}

/// Evaluate an arithmetic expression (`+ - * /`, parentheses, numbers, `section.key` names).
pub fn eval(expr: &str, table: &toml::Table) -> std::result::Result<f64, String> {
    struct P<'a> {
        s: &'a [u8],
        i: usize,
        table: &'a toml::Table,
    }
    impl P<'_> {
        fn ws(&mut self) {
            while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
                self.i += 1;
            }
        }
        fn expr(&mut self) -> std::result::Result<f64, String> {
            let mut v = self.term()?;
            loop {
                self.ws();
                match self.s.get(self.i) {
                    Some(b'+') => {
                        self.i += 1;
                        v += self.term()?;
                    }
                    Some(b'-') => {
                        self.i += 1;
                        v -= self.term()?;
                    }
                    _ => return Ok(v),
                }
            }
        }
        fn term(&mut self) -> std::result::Result<f64, String> {
            let mut v = self.atom()?;
            loop {
                self.ws();
                match self.s.get(self.i) {
                    Some(b'*') => {
                        self.i += 1;
                        v *= self.atom()?;
                    }
                    Some(b'/') => {
                        self.i += 1;
                        v /= self.atom()?;
                    }
                    _ => return Ok(v),
                }
            }
        }
        fn atom(&mut self) -> std::result::Result<f64, String> {
            self.ws();
            match self.s.get(self.i) {
                Some(b'(') => {
                    self.i += 1;
                    let v = self.expr()?;
                    self.ws();
                    if self.s.get(self.i) != Some(&b')') {
                        return Err("missing ')'".into());
                    }
                    self.i += 1;
                    Ok(v)
                }
                Some(b'-') => {
                    self.i += 1;
                    Ok(-self.atom()?)
                }
                Some(_) => {
                    let start = self.i;
                    while self.i < self.s.len()
                        && (self.s[self.i].is_ascii_alphanumeric()
                            || b"._".contains(&self.s[self.i])
                            || (self.i > start
                                && b"+-".contains(&self.s[self.i])
                                && b"eE".contains(&self.s[self.i - 1])
                                && self.s[start].is_ascii_digit()))
                    {
                        self.i += 1;
                    }
                    let tok =
                        std::str::from_utf8(&self.s[start..self.i]).map_err(|e| e.to_string())?;
                    if tok.is_empty() {
                        return Err(format!("unexpected character at position {start}"));
                    }
                    tok.parse::<f64>()
                        .or_else(|_| lookup_number(self.table, tok))
                }
                None => Err("unexpected end of expression".into()),
            }
        }
    }
    let mut p = P {
        s: expr.as_bytes(),
        i: 0,
        table,
    };
    let v = p.expr()?;
    p.ws();
    if p.i != p.s.len() {
        return Err(format!("unexpected '{}' in \"{expr}\"", &expr[p.i..]));
    }
    if !v.is_finite() {
        return Err(format!("\"{expr}\" is not finite"));
    }
    Ok(v)
}

/// `linspace` / `logspace` of each `[[axis]]` must be `[start, stop, count]` with an integer
/// count: say so, naming the axis and its key, before serde's "expected a tuple of size 3".
pub(crate) fn check_ranges(text: &str, origin: &str) -> Result<()> {
    let Ok(t) = toml::from_str::<toml::Table>(text) else {
        return Ok(()); // the typed parse reports the syntax error with its line
    };
    let Some(axes) = t.get("axis").and_then(toml::Value::as_array) else {
        return Ok(());
    };
    for (i, a) in axes.iter().enumerate() {
        for name in ["linspace", "logspace"] {
            let Some(v) = a.get(name) else { continue };
            let ok = v.as_array().is_some_and(|r| {
                r.len() == 3
                    && r[..2].iter().all(|x| x.is_float() || x.is_integer())
                    && r[2].as_integer().is_some_and(|n| n >= 0)
            });
            if !ok {
                let key = a
                    .get("key")
                    .and_then(toml::Value::as_str)
                    .map_or(String::new(), |k| format!(" (key {k})"));
                return Err(spec_err(
                    origin,
                    &format!("axis.{name}"),
                    format!(
                        "axis {}{key}: write {name} = [start, stop, count] with a whole-number \
                         count, e.g. {name} = [0.1, 1.0, 5]; got {v}",
                        i + 1
                    ),
                ));
            }
        }
    }
    Ok(())
}
