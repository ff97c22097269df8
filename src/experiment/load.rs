//! Reading a run config: TOML text or a table (from a file, `--set` overrides or a scan
//! point) to a checked [`Config`] with its family's sections filled in. Apart from the data
//! types in [`super::config`] so that the types do not depend on the families whose checks
//! run here.

use super::config::{Config, LoadedConfig, ModelKind, METHODS, THEORY_SOURCES};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// A TOML error as `file: section.key: message (line N)`. toml names the offending field in
/// backticks ("unknown field `lrr`, expected one of ..."); the section is the last `[header]`
/// before the error's position in the text.
fn toml_error(origin: &str, text: Option<&str>, e: &toml::de::Error) -> Error {
    let mut msg = e.message().trim().to_string();
    if msg.contains("untagged enum OneOrMany") {
        msg = "expected a number or a list of numbers (for model.hidden: positive integers, \
               one per hidden layer)"
            .into();
    }
    let names_field = msg.starts_with("unknown field") || msg.starts_with("missing field");
    let mut field = names_field
        .then(|| msg.split('`').nth(1).map(|k| k.to_string()))
        .flatten();
    let mut section = None;
    let mut line = None;
    if let (Some(text), Some(span)) = (text, e.span()) {
        let before = &text[..span.start.min(text.len())];
        line = Some(before.matches('\n').count() + 1);
        // Otherwise the key is the left side of the `key = value` line the error points at.
        if field.is_none() {
            let line_start = before.rfind('\n').map_or(0, |i| i + 1);
            let this_line = text[line_start..].lines().next().unwrap_or("");
            field = this_line
                .split_once('=')
                .map(|(k, _)| k.trim().to_string())
                .filter(|k| !k.is_empty() && !k.starts_with('['));
        }
        section = before
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| l.starts_with('[') && l.ends_with(']'))
            .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    }
    let key = match (section, field) {
        (Some(sec), Some(f)) if f != sec && !f.contains('.') => format!("{sec}.{f}"),
        (_, Some(f)) => f,
        (Some(sec), None) if names_field => sec,
        _ => "<toml syntax>".into(),
    };
    let message = match line {
        Some(l) => format!("{msg} (line {l})"),
        None => msg,
    };
    Error::Config {
        file: origin.to_string(),
        key,
        message,
    }
}

/// Set `section.key` in a config table (creating the section), e.g. from a scan axis.
pub fn set_key(
    table: &mut toml::Table,
    section: &str,
    key: &str,
    value: toml::Value,
) -> Result<()> {
    let entry = table
        .entry(section.to_string())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    match entry {
        toml::Value::Table(t) => {
            t.insert(key.to_string(), value);
            Ok(())
        }
        _ => Err(Error::Config {
            file: "<scan>".into(),
            key: format!("{section}.{key}"),
            message: format!("'{section}' is not a section"),
        }),
    }
}

/// Deserialize and validate a config table (as built by scans or `--set`).
pub fn from_table(table: toml::Table, origin: &str) -> Result<Config> {
    let config: Config = toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| value_error(origin, &e))?;
    config.validate(origin)?;
    Ok(config.with_family_defaults())
}

/// A deserialization error of a config table (no text positions): toml appends
/// "in `section`", from which the key becomes `section.key`.
fn value_error(origin: &str, e: &toml::de::Error) -> Error {
    let shown = e.to_string();
    let section = shown
        .rsplit("in `")
        .next()
        .filter(|_| shown.contains("in `"))
        .map(|s| s.trim_end().trim_end_matches('`').to_string());
    let mut err = toml_error(origin, None, e);
    if let (Some(sec), Error::Config { key, .. }) = (section, &mut err) {
        *key = if sec.contains('.') || key.starts_with('<') {
            sec
        } else if *key != sec {
            format!("{sec}.{key}")
        } else {
            sec
        };
    }
    err
}

/// Parse a `section.key=value` override; the value is read as TOML (numbers, booleans,
/// arrays, quoted strings) and falls back to a bare string.
fn apply_override(table: &mut toml::Table, spec: &str) -> Result<()> {
    let bad = |message: String| Error::Config {
        file: "<--set>".into(),
        key: spec.split('=').next().unwrap_or(spec).trim().to_string(),
        message,
    };
    let (path, raw) = spec
        .split_once('=')
        .ok_or_else(|| bad("expected section.key=value, e.g. --set train.lr=0.05".into()))?;
    let parts: Vec<&str> = path.trim().split('.').collect();
    if parts.len() != 2 || parts.iter().any(|p| p.is_empty()) {
        return Err(bad(
            "expected section.key=value with exactly one dot, e.g. --set train.lr=0.05".into(),
        ));
    }
    let raw = raw.trim();
    let value: toml::Value = match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        Ok(mut t) => t.remove("v").expect("parsed key"),
        // A bare word is a string (`--set train.optimizer=adam`); something that starts like a
        // number, list, table or quoted string but does not parse is a typo to report.
        Err(e) if raw.starts_with(|c: char| c.is_ascii_digit() || "[{\"'+-.".contains(c)) => {
            let why = e.message().trim().to_string();
            let hint = if raw.starts_with(|c: char| c.is_ascii_digit() || "+-".contains(c))
                && raw
                    .trim_start_matches(['+', '-'])
                    .chars()
                    .all(|c| c.is_ascii_digit())
            {
                "an integer out of the 64-bit range".to_string()
            } else {
                why
            };
            return Err(bad(format!(
                "'{raw}' is not a valid TOML value ({hint}); write numbers as 0.05, lists as \
                 [0, 1], strings in quotes"
            )));
        }
        Err(_) => toml::Value::String(raw.to_string()),
    };
    let section = table
        .entry(parts[0].to_string())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    match section {
        toml::Value::Table(t) => {
            t.insert(parts[1].to_string(), value);
            Ok(())
        }
        _ => Err(bad(format!("'{}' is not a section", parts[0]))),
    }
}

impl Config {
    /// Parse TOML text (from `origin`), apply `--set` overrides, validate.
    pub fn from_toml(text: &str, origin: &str, overrides: &[String]) -> Result<Config> {
        let config: Config = if overrides.is_empty() {
            toml::from_str(text).map_err(|e| toml_error(origin, Some(text), &e))?
        } else {
            let mut table: toml::Table =
                toml::from_str(text).map_err(|e| toml_error(origin, Some(text), &e))?;
            for o in overrides {
                apply_override(&mut table, o)?;
            }
            toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| value_error(&format!("{origin} (with --set)"), &e))?
        };
        config.validate(origin)?;
        Ok(config.with_family_defaults())
    }

    /// Fill in the family's sections that were left out with their defaults, so the
    /// resolved config (`learndyn check`, `manifest.json`) shows every value used.
    fn with_family_defaults(mut self) -> Config {
        super::family::fill_defaults(&mut self);
        self
    }

    /// Load and validate a config file.
    pub fn load(path: &Path, overrides: &[String]) -> Result<LoadedConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let origin = path.display().to_string();
        if let Ok(t) = toml::from_str::<toml::Table>(&text) {
            if t.contains_key("scan") || t.contains_key("axis") {
                return Err(Error::Config {
                    file: origin,
                    key: "scan".into(),
                    message: format!(
                        "this is a scan spec ([scan], [[axis]]), not a run config; run it with \
                         `learndyn scan {}`",
                        path.display()
                    ),
                });
            }
        }
        let config = Config::from_toml(&text, &origin, overrides)?;
        let base_dir = path
            .parent()
            .map(|p| p.to_path_buf())
            .unwrap_or_else(|| PathBuf::from("."));
        Ok(LoadedConfig {
            config,
            origin,
            base_dir,
        })
    }

    /// Check every value; errors name the key, the allowed values and the file.
    pub fn validate(&self, origin: &str) -> Result<()> {
        self.validate_sections(origin)?;
        self.validate_common(origin)?;
        super::family::validate(self, origin)
    }

    /// Sections of another family than `model.kind`'s are errors.
    fn validate_sections(&self, origin: &str) -> Result<()> {
        use ModelKind::{Gru, Rnn};
        let kind = self.model.kind;
        for (key, given, kinds) in [
            ("rnn", self.rnn.is_some(), &[Rnn][..]),
            ("gru", self.gru.is_some(), &[Gru][..]),
            ("sequence", self.sequence.is_some(), &[Rnn, Gru][..]),
            ("analysis", self.analysis.is_some(), &[Rnn, Gru][..]),
        ] {
            if given && !kinds.contains(&kind) {
                let names: Vec<String> =
                    kinds.iter().map(|k| format!("\"{}\"", k.name())).collect();
                return Err(Error::Config {
                    file: origin.to_string(),
                    key: key.into(),
                    message: format!(
                        "the [{key}] section applies only to model.kind = {}; remove it or set model.kind = {}",
                        names.join(" or "),
                        names[0]
                    ),
                });
            }
        }
        Ok(())
    }
}

impl Config {
    /// Checks shared by every model kind: `[train]` optimizer settings, `[theory]`,
    /// `[integrate]`, and the record spacing of `[output]`.
    fn validate_common(&self, origin: &str) -> Result<()> {
        let err = |key: &str, message: String| {
            Err(Error::Config {
                file: origin.to_string(),
                key: key.to_string(),
                message,
            })
        };
        let tr = &self.train;
        if !(0.0..1.0).contains(&tr.beta1) || !(0.0..1.0).contains(&tr.beta2) {
            return err("train.beta1", "beta1 and beta2 must lie in [0, 1)".into());
        }
        if !(tr.eps > 0.0 && tr.eps.is_finite()) {
            return err(
                "train.eps",
                format!("must be finite and > 0, got {}", tr.eps),
            );
        }
        if !(tr.lr > 0.0 && tr.lr.is_finite()) {
            return err(
                "train.lr",
                format!("must be finite and > 0 (e.g. 0.01), got {}", tr.lr),
            );
        }
        if tr.seeds.is_empty() {
            return err(
                "train.seeds",
                "give at least one seed, e.g. [0, 1, 2]".into(),
            );
        }
        let mut sorted = tr.seeds.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != tr.seeds.len() {
            return err("train.seeds", "seeds must be distinct".into());
        }
        if tr.divergence_factor.is_nan() || tr.divergence_factor <= 1.0 {
            return err(
                "train.divergence_factor",
                format!("must be > 1, got {}", tr.divergence_factor),
            );
        }
        for s in &self.theory.sources {
            if !THEORY_SOURCES.contains(&s.as_str()) {
                return err(
                    "theory.sources",
                    format!("'{s}' is unknown; allowed: {THEORY_SOURCES:?}"),
                );
            }
        }
        let g = &self.integrate;
        if !METHODS.contains(&g.method.as_str()) {
            return err(
                "integrate.method",
                format!("'{}' is unknown; allowed: {METHODS:?}", g.method),
            );
        }
        let tol_ok = |x: f64| x >= 0.0 && x.is_finite();
        for (key, v) in [("integrate.rtol", g.rtol), ("integrate.atol", g.atol)] {
            if !tol_ok(v) {
                return err(key, format!("{v} must be finite and >= 0"));
            }
        }
        if g.rtol + g.atol <= 0.0 {
            return err(
                "integrate.rtol",
                "rtol and atol are both 0; give at least one of them > 0".into(),
            );
        }
        let adaptive = crate::integrate::Method::parse(&g.method).is_some_and(|m| m.is_adaptive());
        if !adaptive && !g.fixed_step.is_some_and(|h| h > 0.0 && h.is_finite()) {
            return err(
                "integrate.fixed_step",
                format!(
                    "method '{}' has no error control: set a fixed_step > 0 (e.g. 1e-3)",
                    g.method
                ),
            );
        }
        if g.max_steps == 0 {
            return err("integrate.max_steps", "must be >= 1".into());
        }
        let o = &self.output;
        if o.records < 2 {
            return err(
                "output.records",
                format!("need at least 2 record points, got {}", o.records),
            );
        }
        if !(tr.decay > 0.0 && tr.decay.is_finite()) || tr.decay_every == 0 {
            return err(
                "train.decay",
                "decay must be finite and > 0, decay_every >= 1".into(),
            );
        }
        if tr.clip.is_some_and(|c| !(c > 0.0 && c.is_finite())) {
            return err(
                "train.clip",
                "must be finite and > 0 (a gradient 2-norm)".into(),
            );
        }
        Ok(())
    }
}
