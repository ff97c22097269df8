//! TOML text for people: the resolved config that `learndyn check` prints and `scan --dry-run`
//! shows. Floats in their shortest round-trip form (`1e-8`, not `0.00000001`), short arrays on
//! one line, sections in field order. The text parses back to the same values.

use std::fmt::Write;

/// Arrays whose one-line form is at most this many characters stay on one line.
const ONE_LINE: usize = 88;

/// `table` as TOML: top-level tables become `[sections]` (after the plain keys), nested tables
/// inline tables.
pub fn to_text(table: &toml::Table) -> String {
    let mut out = String::new();
    for (k, v) in table.iter().filter(|(_, v)| !v.is_table()) {
        let _ = writeln!(out, "{} = {}", key(k), value(v, 0));
    }
    for (name, v) in table.iter() {
        let Some(section) = v.as_table() else {
            continue;
        };
        if !out.is_empty() {
            out.push('\n');
        }
        let _ = writeln!(out, "[{}]", key(name));
        for (k, v) in section {
            let _ = writeln!(out, "{} = {}", key(k), value(v, 0));
        }
    }
    out
}

/// A bare key when TOML allows one, else a quoted key.
fn key(k: &str) -> String {
    let bare = !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        k.to_string()
    } else {
        toml::Value::String(k.to_string()).to_string()
    }
}

/// The shortest text that parses back to `x` as a TOML float.
pub fn float(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.into();
    }
    // `{:?}` is the shortest round-trip digits; it uses exponent form only far from 1.
    // `{:e}` is the same digits in exponent form. Exponent form when it saves more than two
    // characters (`1e-8` for `0.00000001`, `1e6` for `1000000.0`, but `0.001`); both keep a
    // `.` or an `e`, so that TOML reads a float, not an integer.
    let plain = format!("{x:?}");
    let exp = format!("{x:e}");
    if exp.len() + 2 < plain.len() {
        exp
    } else {
        plain
    }
}

fn value(v: &toml::Value, depth: usize) -> String {
    match v {
        toml::Value::Float(x) => float(*x),
        toml::Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(|x| value(x, depth + 1)).collect();
            let line = format!("[{}]", parts.join(", "));
            if line.len() <= ONE_LINE || depth > 0 {
                line
            } else {
                let mut s = String::from("[\n");
                for p in parts {
                    let _ = writeln!(s, "    {p},");
                }
                s.push(']');
                s
            }
        }
        toml::Value::Table(t) => {
            let parts: Vec<String> = t
                .iter()
                .map(|(k, x)| format!("{} = {}", key(k), value(x, depth + 1)))
                .collect();
            format!("{{ {} }}", parts.join(", "))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_are_shortest_and_round_trip() {
        for (x, want) in [
            (1e-8, "1e-8"),
            (0.01, "0.01"),
            (0.001, "0.001"),
            (1e-5, "1e-5"),
            (1e6, "1e6"),
            (1000000.5, "1000000.5"),
            (3.0, "3.0"),
            (0.0, "0.0"),
            (-2.5e-12, "-2.5e-12"),
            (0.1 + 0.2, "0.30000000000000004"),
        ] {
            assert_eq!(float(x), want);
            let back: toml::Table = toml::from_str(&format!("v = {}", float(x))).unwrap();
            assert_eq!(back["v"].as_float(), Some(x), "{want}");
        }
    }

    #[test]
    fn text_parses_back_to_the_same_table() {
        let t: toml::Table = toml::from_str(
            "top = 1\n[a]\nx = 1e-10\nv = [1.0, 2.0]\nm = [[0.5, -0.5], [1.0, 2.0]]\ns = \"q\\\"\"\n\
             [b]\nlong = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0]\n",
        )
        .unwrap();
        let text = to_text(&t);
        assert!(text.contains("x = 1e-10\n"), "{text}");
        assert!(text.contains("v = [1.0, 2.0]\n"), "{text}");
        assert!(text.contains("long = [\n    1.0,\n"), "{text}");
        let back: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(back, t);
    }
}
