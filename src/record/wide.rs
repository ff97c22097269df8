//! `records_wide.csv` (`output.format = "wide"`): the records of `records.csv` with one column
//! per source and seed, one row per (time, observable, index), for spreadsheet and plotting
//! tools that want columns. `records.csv` stays the contract; this is derived from it.

use super::fmt_f64;
use crate::experiment::{Observable, Record, Source};
use std::collections::BTreeMap;
use std::fmt::Write;

/// One value column: a theory source, or a simulation source with its seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Column {
    source: Source,
    seed: Option<u64>,
}

impl Column {
    /// `closed_form`, ... for theory; `gd_seed0`, `adam_seed3`, ... for simulations.
    fn name(self) -> String {
        match self.seed {
            Some(s) => format!("{}_seed{s}", self.source.name()),
            None => self.source.name().to_string(),
        }
    }
}

/// The wide table: header `t,step,observable,index,<columns>`, with the columns in order of
/// first appearance in `records` (theory sources first, then each simulation seed), rows in
/// order of first appearance of their (t, observable, index). A cell no source recorded is
/// empty; `step` is that of the simulation rows (empty when only theory recorded the row).
pub fn records_wide_csv(records: &[Record]) -> String {
    let mut columns: Vec<Column> = Vec::new();
    type Key = (u64, Observable, Option<usize>);
    let mut rows: Vec<(Key, f64, Option<u64>)> = Vec::new();
    let mut row_of: BTreeMap<Key, usize> = BTreeMap::new();
    let mut cells: BTreeMap<(usize, usize), f64> = BTreeMap::new();
    for r in records {
        let col = Column {
            source: r.source,
            seed: r.seed,
        };
        let c = columns.iter().position(|&x| x == col).unwrap_or_else(|| {
            columns.push(col);
            columns.len() - 1
        });
        let key = (r.t.to_bits(), r.observable, r.index);
        let i = *row_of.entry(key).or_insert_with(|| {
            rows.push((key, r.t, None));
            rows.len() - 1
        });
        if r.step.is_some() {
            rows[i].2 = r.step;
        }
        cells.insert((i, c), r.value);
    }
    let mut s = String::from("t,step,observable,index");
    for c in &columns {
        s.push(',');
        s.push_str(&c.name());
    }
    s.push('\n');
    for (i, ((_, observable, index), t, step)) in rows.iter().enumerate() {
        fmt_f64(&mut s, *t);
        s.push(',');
        if let Some(k) = step {
            let _ = write!(s, "{k}");
        }
        let _ = write!(s, ",{},", observable.name());
        if let Some(ix) = index {
            let _ = write!(s, "{ix}");
        }
        for c in 0..columns.len() {
            s.push(',');
            if let Some(v) = cells.get(&(i, c)) {
                fmt_f64(&mut s, *v);
            }
        }
        s.push('\n');
    }
    s
}
