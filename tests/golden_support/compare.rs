//! Comparison of one output file with its reference: CSV cell by cell, JSON value by value,
//! `.npy` element by element, with one rule for numbers ([`Rule`]).

use super::json::{self, Json};

/// Relative tolerance for floats when the reference was written on a machine with another
/// fingerprint (other SIMD kernels, another faer or libm). Set by the issue: 1e-9 of the
/// magnitude of the quantity (see [`Rule::Tolerant`]).
pub const RTOL: f64 = 1e-9;

/// Absolute noise floor of a CSV cell under [`Rule::Tolerant`], as a fraction of the largest
/// float magnitude `S` in the whole file: a value computed from quantities of size `S`
/// carries rounding errors of about `n * eps * S` after `n` accumulated operations, so values
/// at that level (a conserved balance drifting by 1e-16) differ between SIMD kernels in
/// every digit. `n = 1e4` is a margin for rounding that accumulates over training steps:
/// an absolute floor of about 2.2e-12 S.
pub const NOISE_FLOOR: f64 = 1e4 * f64::EPSILON;

/// How floats are compared. Strings, integers, booleans, nulls and non-finite values are
/// always compared exactly.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule {
    /// Same machine fingerprint: floats must agree bit for bit (same decimal text, or the
    /// same f64 bits in `.npy` files).
    Exact,
    /// Other fingerprint: finite floats `a` (reference) and `b` agree if
    /// `|a - b| <= RTOL * max(|a|, |b|, scale)`, where `scale` is the largest magnitude of the
    /// reference values of the same kind (the same CSV column and observable, the same JSON
    /// array or object, the same `.npy` array). The `scale` term keeps values that are
    /// rounding noise on a large quantity (a conserved balance, a kernel distance near 0)
    /// from failing on their last digits.
    /// CSV files also have an absolute floor, [`NOISE_FLOOR`].
    Tolerant,
}

/// One difference, ready to print.
#[derive(Debug, Clone)]
pub struct Mismatch {
    /// File, relative to the output folder.
    pub file: String,
    /// Where in the file (row and column, JSON path, array index).
    pub at: String,
    /// Reference.
    pub expected: String,
    /// This run.
    pub got: String,
}

/// Collected mismatches of one case: the first [`Mismatches::KEEP`] in full, all counted.
#[derive(Debug, Default)]
pub struct Mismatches {
    /// The first mismatches found.
    pub first: Vec<Mismatch>,
    /// How many there are in total.
    pub total: usize,
}

impl Mismatches {
    /// Mismatches printed in full.
    pub const KEEP: usize = 12;

    /// Records one mismatch.
    pub fn push(&mut self, file: &str, at: String, expected: String, got: String) {
        self.total += 1;
        if self.first.len() < Self::KEEP {
            self.first.push(Mismatch {
                file: file.to_string(),
                at,
                expected,
                got,
            });
        }
    }
}

/// The kind of a text cell or JSON number, which decides how it is compared.
fn is_float_text(s: &str) -> Option<f64> {
    let finite_float = s.contains(['.', 'e', 'E']);
    if finite_float || matches!(s, "nan" | "inf" | "-inf" | "NaN") {
        s.parse::<f64>().ok()
    } else {
        None
    }
}

/// Whether the reference text `want` and this run's `got` agree under `rule`, with `scale`
/// the magnitude of the reference values of the same kind.
pub fn agree(rule: Rule, want: &str, got: &str, scale: f64) -> bool {
    if want == got {
        return true;
    }
    if rule == Rule::Exact {
        return false;
    }
    match (is_float_text(want), is_float_text(got)) {
        (Some(a), Some(b)) => floats_agree(a, b, scale),
        _ => false,
    }
}

/// [`Rule::Tolerant`] for two floats; non-finite values must be identical (NaN matches NaN).
fn floats_agree(a: f64, b: f64, scale: f64) -> bool {
    if !a.is_finite() || !b.is_finite() {
        return (a.is_nan() && b.is_nan()) || a == b;
    }
    (a - b).abs() <= RTOL * a.abs().max(b.abs()).max(scale)
}

/// Largest finite magnitude among `values` that are float text (0 if none).
fn scale_of<'a>(values: impl Iterator<Item = &'a str>) -> f64 {
    values
        .filter_map(is_float_text)
        .filter(|x| x.is_finite())
        .fold(0.0, |m, x| m.max(x.abs()))
}

fn read_csv(text: &str) -> Result<Vec<Vec<String>>, String> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| {
            r.map(|r| r.iter().map(str::to_string).collect())
                .map_err(|e| e.to_string())
        })
        .collect()
}

/// Compares two CSV files (first line the header). The float scale of a cell is taken over
/// its column and, when the file has an `observable` column (records.csv), over the rows of
/// the same observable; it is at least [`NOISE_FLOOR`] / [`RTOL`] times the largest float
/// magnitude in the file.
pub fn csv(file: &str, want: &str, got: &str, rule: Rule, out: &mut Mismatches) {
    let (w, g) = match (read_csv(want), read_csv(got)) {
        (Ok(w), Ok(g)) => (w, g),
        (w, g) => {
            out.push(
                file,
                "parse".into(),
                format!("{:?}", w.err()),
                format!("{:?}", g.err()),
            );
            return;
        }
    };
    let header = w.first().cloned().unwrap_or_default();
    if g.first() != Some(&header) {
        out.push(
            file,
            "header".into(),
            header.join(","),
            g.first().map(|h| h.join(",")).unwrap_or_default(),
        );
        return;
    }
    if w.len() != g.len() {
        out.push(
            file,
            "number of rows".into(),
            (w.len() - 1).to_string(),
            (g.len().saturating_sub(1)).to_string(),
        );
    }
    let obs_col = header.iter().position(|h| h == "observable");
    let group = |row: &[String]| obs_col.and_then(|c| row.get(c).cloned());
    let file_scale = scale_of(w.iter().flatten().map(String::as_str));
    let floor = file_scale * NOISE_FLOOR / RTOL;
    let mut scales = std::collections::HashMap::new();
    for (c, _) in header.iter().enumerate() {
        for row in &w[1..] {
            let key = (c, group(row));
            let cell = row.get(c).map(String::as_str).unwrap_or("");
            let s = scales.entry(key).or_insert(floor);
            *s = s.max(scale_of(std::iter::once(cell)));
        }
    }
    for (r, (wr, gr)) in w.iter().zip(&g).enumerate().skip(1) {
        for (c, name) in header.iter().enumerate() {
            let (a, b) = (
                wr.get(c).map(String::as_str).unwrap_or("<missing>"),
                gr.get(c).map(String::as_str).unwrap_or("<missing>"),
            );
            let scale = scales.get(&(c, group(wr))).copied().unwrap_or(floor);
            if !agree(rule, a, b, scale) {
                let row: String = wr.join(",").chars().take(90).collect();
                out.push(
                    file,
                    format!("line {} [{row}] column `{name}`", r + 1),
                    a.into(),
                    b.into(),
                );
            }
        }
        if wr.len() != gr.len() {
            out.push(
                file,
                format!("line {} fields", r + 1),
                wr.len().to_string(),
                gr.len().to_string(),
            );
        }
    }
}

/// Compares two JSON documents value by value. The float scale of a number is taken over
/// the float members of the same array or object.
pub fn json(file: &str, want: &str, got: &str, rule: Rule, out: &mut Mismatches) {
    match (json::parse(want), json::parse(got)) {
        (Ok(w), Ok(g)) => json_value(file, "$", &w, &g, 0.0, rule, out),
        (w, g) => out.push(
            file,
            "parse".into(),
            format!("{:?}", w.err()),
            format!("{:?}", g.err()),
        ),
    }
}

fn json_value(
    file: &str,
    at: &str,
    w: &Json,
    g: &Json,
    scale: f64,
    rule: Rule,
    out: &mut Mismatches,
) {
    let num_scale = |items: &mut dyn Iterator<Item = &Json>| {
        scale_of(items.filter_map(|j| match j {
            Json::Num(n) => Some(n.as_str()),
            _ => None,
        }))
    };
    match (w, g) {
        (Json::Num(a), Json::Num(b)) => {
            if !agree(rule, a, b, scale) {
                out.push(file, at.into(), a.clone(), b.clone());
            }
        }
        (Json::Arr(a), Json::Arr(b)) => {
            if a.len() != b.len() {
                out.push(
                    file,
                    format!("{at} length"),
                    a.len().to_string(),
                    b.len().to_string(),
                );
            }
            let s = num_scale(&mut a.iter());
            for (k, (x, y)) in a.iter().zip(b).enumerate() {
                json_value(file, &format!("{at}[{k}]"), x, y, s, rule, out);
            }
        }
        (Json::Obj(a), Json::Obj(b)) => {
            let s = num_scale(&mut a.iter().map(|(_, v)| v));
            for (k, x) in a {
                match b.iter().find(|(kb, _)| kb == k) {
                    Some((_, y)) => json_value(file, &format!("{at}.{k}"), x, y, s, rule, out),
                    None => out.push(
                        file,
                        format!("{at}.{k}"),
                        "present".into(),
                        "missing".into(),
                    ),
                }
            }
            for (k, _) in b.iter().filter(|(k, _)| !a.iter().any(|(ka, _)| ka == k)) {
                out.push(
                    file,
                    format!("{at}.{k}"),
                    "missing".into(),
                    "present".into(),
                );
            }
        }
        (a, b) if a == b => {}
        (a, b) => out.push(file, at.into(), short(a), short(b)),
    }
}

fn short(v: &Json) -> String {
    let s = json::pretty(v).replace('\n', " ");
    s.chars().take(80).collect()
}

/// A parsed `.npy` file: header dictionary text, shape, whether Fortran order, data bytes.
struct Npy<'a> {
    header: String,
    shape: Vec<usize>,
    fortran: bool,
    data: &'a [u8],
}

fn parse_npy(bytes: &[u8]) -> Result<Npy<'_>, String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("not a .npy file".into());
    }
    let (len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        _ if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        _ => return Err("truncated .npy header".into()),
    };
    let header = bytes
        .get(start..start + len)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or("bad .npy header")?
        .trim()
        .to_string();
    let shape_text = header
        .split("'shape':")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .ok_or("no shape in .npy header")?;
    let shape = shape_text
        .trim()
        .trim_start_matches('(')
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse::<usize>().map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Npy {
        fortran: header.contains("'fortran_order': True"),
        shape,
        header,
        data: &bytes[start + len..],
    })
}

/// Compares two float64 `.npy` files: header (dtype, order, shape) exactly, then every
/// element; the float scale is the largest magnitude in the reference array.
pub fn npy(file: &str, want: &[u8], got: &[u8], rule: Rule, out: &mut Mismatches) {
    let (w, g) = match (parse_npy(want), parse_npy(got)) {
        (Ok(w), Ok(g)) => (w, g),
        (w, g) => {
            let e = |r: Result<Npy, String>| r.err().unwrap_or_default();
            out.push(file, "parse".into(), e(w), e(g));
            return;
        }
    };
    if w.header != g.header {
        out.push(file, "header".into(), w.header, g.header);
        return;
    }
    if !w.header.contains("'<f8'") {
        if w.data != g.data {
            out.push(
                file,
                "data".into(),
                "(non-float64 bytes)".into(),
                "differ".into(),
            );
        }
        return;
    }
    let floats = |d: &[u8]| -> Vec<f64> {
        d.chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect()
    };
    let (a, b) = (floats(w.data), floats(g.data));
    let scale = a
        .iter()
        .filter(|x| x.is_finite())
        .fold(0.0f64, |m, x| m.max(x.abs()));
    let rows = w.shape.first().copied().unwrap_or(1).max(1);
    let cols = w.shape.get(1).copied().unwrap_or(1).max(1);
    for (k, (x, y)) in a.iter().zip(&b).enumerate() {
        let same =
            x.to_bits() == y.to_bits() || (rule == Rule::Tolerant && floats_agree(*x, *y, scale));
        if !same {
            let (i, j) = if w.fortran {
                (k % rows, k / rows)
            } else {
                (k / cols, k % cols)
            };
            out.push(
                file,
                format!("element ({i}, {j})"),
                format!("{x:?}"),
                format!("{y:?}"),
            );
        }
    }
}
