//! The job engine behind every results table (`learndyn scan`, `learndyn recovery run`): one
//! job per (grid point, replicate), run in parallel into one tidy CSV table that survives
//! being killed, shards that merge into the same table, and SLURM job-array scripts.
//!
//! What a job computes is a [`Jobs`] implementation (training runs in [`crate::scan`],
//! recovery runs in [`crate::recovery::run`]); the engine owns everything else:
//!
//! - jobs run on a rayon pool of `threads` workers; a job's row may depend only on its
//!   `(point, replicate)` (seeds derive from them), so tables do not depend on thread count,
//!   order or sharding;
//! - each finished job appends one complete CSV row with a single write; on start, rows
//!   already there are kept if [`Jobs::row_is_valid`] accepts them (a partial last row from a
//!   kill is dropped) and those jobs are skipped; when all jobs are done the table is
//!   rewritten sorted by (point, replicate), atomically;
//! - `--shard K/N` runs the points with `point % N == K - 1` into
//!   `results.shard-K-of-N.csv`; [`merge`] combines the shards, checking that no row is
//!   missing or duplicated, against the header in `scan.json` ([`Jobs::manifest`]).
//!
//! Both job kinds write the columns `point,replicate,seed,<axis keys>,status,message,<values>`
//! ([`standard_row_is_valid`] checks a kept row of that layout).

use crate::error::{Error, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A kind of job: the table's columns, the grid's size and how one row is computed.
pub trait Jobs: Sync {
    /// Column names of the results table.
    fn header(&self) -> &[String];
    /// Number of grid points.
    fn n_points(&self) -> u64;
    /// Replicates per point.
    fn replicates(&self) -> u64;
    /// The row of job `(point, replicate)`, one cell per header column. A job that fails in
    /// an expected way (a diverged or failed run) returns its row with that status; `Err`
    /// aborts the whole run (the spec itself is broken). `dir` is the run's output folder.
    fn run(&self, point: u64, replicate: u64, dir: &Path) -> Result<Vec<String>>;
    /// Whether `row`, kept from an earlier run of the table, is what [`Jobs::run`] writes for
    /// `(point, replicate)` (otherwise the job is rerun).
    fn row_is_valid(&self, point: u64, replicate: u64, row: &[String]) -> bool;
    /// The content of `scan.json`, shared by the shards of one run. It must hold
    /// `spec_fingerprint` (a rerun with another spec is refused), `header`, `points`,
    /// `replicates` ([`merge`] reads them) and `axes` (plots read their spacing).
    fn manifest(&self) -> serde_json::Value;
    /// Called after every job of this process is done, with the jobs it owns (cleanup).
    fn finish(&self, _dir: &Path, _jobs: &[(u64, u64)]) -> Result<()> {
        Ok(())
    }
}

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

    /// Whether this shard runs `point`.
    pub fn owns(&self, point: u64) -> bool {
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

/// A coordinate as its table cell: strings bare, floats in Rust's shortest round-trip form,
/// anything else (integers, booleans, arrays, tables) as inline TOML.
pub fn fmt_value(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Float(f) => format!("{f:?}"),
        other => other.to_string(),
    }
}

/// A number as its table cell: shortest round-trip form, `nan`, `inf`, `-inf`.
pub fn fmt_f64(x: f64) -> String {
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

/// One CSV row (properly quoted) for a finished job.
pub fn csv_row(fields: &[String]) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    // Writing to a Vec cannot fail.
    let _ = w.write_record(fields);
    w.into_inner().unwrap_or_default()
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

/// FNV-1a hash of `text` (the spec fingerprints of `scan.json`).
pub fn fingerprint(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Write `dir/scan.json` (`manifest`, from [`Jobs::manifest`]), refusing a folder whose
/// existing `scan.json` has another `spec_fingerprint` (results of a different spec).
pub fn write_manifest(dir: &Path, manifest: &serde_json::Value) -> Result<()> {
    let path = dir.join("scan.json");
    if let Ok(old) = std::fs::read_to_string(&path) {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&old) {
            if v["spec_fingerprint"] != manifest["spec_fingerprint"] {
                return Err(Error::Config {
                    file: dir.display().to_string(),
                    key: "scan".into(),
                    message: "holds results of a different spec or base config; use another --out folder, or --restart to discard them".into(),
                });
            }
        }
    }
    let text = serde_json::to_string_pretty(manifest)
        .map_err(|e| Error::invalid("scan.json", e.to_string()))?;
    crate::npy::write_atomic(&path, text.as_bytes())
}

/// Whether `row` has the standard layout of a job's row for `header`: it starts with `want`
/// (`point, replicate, seed` and the axis coordinates, formatted as the job writes them),
/// then a known status (`ok`, `diverged`, `failed`) and a message, then a number (or `nan`) in
/// every remaining cell.
pub fn standard_row_is_valid(header: &[String], row: &[String], want: &[String]) -> bool {
    if row.len() != header.len() || row.len() < want.len() + 2 || row[..want.len()] != *want {
        return false;
    }
    if !matches!(row[want.len()].as_str(), "ok" | "diverged" | "failed") {
        return false;
    }
    row[want.len() + 2..]
        .iter()
        .all(|v| v.parse::<f64>().is_ok())
}

/// Run (or resume) every job of `jobs` this process owns (all, or `shard`'s) into `dir` with
/// `threads` workers. `progress(done, total)` is called as jobs finish (from worker threads).
pub fn run(
    jobs: &dyn Jobs,
    dir: &Path,
    threads: usize,
    shard: Option<Shard>,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<ScanReport> {
    crate::record::folder::create_dir(dir)?;
    let header = jobs.header().to_vec();
    write_manifest(dir, &jobs.manifest())?;
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
        rows.retain(|&(p, r), row| {
            p < jobs.n_points() && r < jobs.replicates() && jobs.row_is_valid(p, r, row)
        });
        let invalid = before - rows.len();
        (rows, dropped + bad + invalid)
    } else {
        (BTreeMap::new(), 0)
    };
    // Start from the complete rows only, then append.
    write_table(&path, &header, &done)?;
    let replicates = jobs.replicates();
    let owned: Vec<(u64, u64)> = (0..jobs.n_points())
        .filter(|&p| shard.is_none_or(|s| s.owns(p)))
        .flat_map(|p| (0..replicates).map(move |r| (p, r)))
        .collect();
    let pending: Vec<(u64, u64)> = owned
        .iter()
        .copied()
        .filter(|j| !done.contains_key(j))
        .collect();
    let total = owned.len() as u64;
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
            let row = match jobs.run(pid, rep, dir) {
                Ok(row) => row,
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
    jobs.finish(dir, &owned)?;
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

/// The text of an `sbatch` job-array script running `binary COMMAND spec_path` into `dir`,
/// one shard per array task; `command` is the subcommand (`scan` or `recovery run`), whose
/// `merge` combines the shards.
pub fn slurm_script(
    command: &str,
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
        "#\n# Generated by `learndyn {command} slurm`: {} shards of '{name}'.\n\
         # Each array task runs shard (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN + 1) of\n\
         # SLURM_ARRAY_TASK_COUNT and resumes if restarted. When all tasks are done:\n\
         #   {} {command} merge {}\n\
         set -euo pipefail\n\
         exec {} {command} {} --out {} --shard slurm --threads \"${{SLURM_CPUS_PER_TASK:-1}}\"\n",
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
