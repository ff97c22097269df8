//! What `learndyn scan` and `learndyn recovery run` share: `--shard`, `--restart`, the
//! progress bar and the closing report of a run of the job engine, `merge` and `slurm`.

use super::{input, Failure};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use learndyn::record;
use learndyn::scan::{self, ScanReport, Shard, SlurmOptions};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

/// `p` made absolute (SLURM scripts run elsewhere).
pub fn absolute(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    })
}

/// `--shard K/N`, `--shard slurm` (from the job-array variables) or none.
pub fn parse_shard(arg: Option<&str>) -> Result<Option<Shard>, Failure> {
    Ok(match arg {
        Some("slurm") => match Shard::from_slurm_env() {
            Some(s) => Some(input(s)?),
            None => {
                return Err(Failure::Input(anyhow::anyhow!(
                    "--shard slurm: SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT are not set (run it inside a SLURM job array, or give --shard K/N)"
                )))
            }
        },
        Some(s) => Some(input(Shard::parse(s))?),
        None => None,
    })
}

/// `--restart`: delete this process's results file (and, unsharded, `scan.json`).
pub fn restart(dir: &Path, shard: Option<Shard>) {
    let _ = std::fs::remove_file(dir.join(scan::results_name(shard)));
    if shard.is_none() {
        let _ = std::fs::remove_file(dir.join("scan.json"));
    }
}

/// Run `run` (the engine on one spec) with a progress bar on stderr (a terminal), or a plain
/// line at most every 30 s (logs, SLURM), then report the table on stderr. Spec and folder
/// errors exit 2, the rest 1.
pub fn run_with_progress(
    label: &str,
    n_jobs: u64,
    threads: usize,
    run: impl FnOnce(&(dyn Fn(u64, u64) + Sync)) -> learndyn::Result<ScanReport>,
) -> Result<(), Failure> {
    let visible = std::io::stderr().is_terminal();
    let bar = ProgressBar::with_draw_target(
        Some(n_jobs),
        if visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} runs ({per_sec}, eta {eta})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(label.to_string());
    let started = Instant::now();
    let last_line = Mutex::new(Instant::now());
    let report = run(&|done, total| {
        bar.set_length(total);
        bar.set_position(done);
        if !visible {
            let mut last = last_line.lock().expect("no poisoning");
            if last.elapsed().as_secs() >= 30 {
                *last = Instant::now();
                eprintln!(
                    "{label}: {done}/{total} runs ({:.0} s)",
                    started.elapsed().as_secs_f64()
                );
            }
        }
    })
    .map_err(|e| match e {
        // A bad spec, or an output folder that cannot be used (a file, locked by another
        // writer, another spec's table): the user's input, exit 2.
        learndyn::Error::Config { .. } | learndyn::Error::Invalid { .. } => {
            Failure::Input(e.into())
        }
        _ => Failure::Run(e.into()),
    })?;
    bar.finish_and_clear();
    eprintln!(
        "{}: {} runs ({} resumed, {} run now in {:.2} s on {threads} threads); status {:?}{}",
        report.results.display(),
        report.jobs,
        report.resumed,
        report.ran,
        started.elapsed().as_secs_f64(),
        report.status_counts,
        if report.dropped_rows > 0 {
            format!(
                "; dropped {} partial or invalid rows (rerun)",
                report.dropped_rows
            )
        } else {
            String::new()
        }
    );
    Ok(())
}

/// `... merge DIR`.
pub fn merge(dir: &Path) -> Result<(), Failure> {
    let n = input(scan::merge(dir))?;
    eprintln!("merged {n} rows into {}", dir.join("results.csv").display());
    Ok(())
}

/// `... slurm SPEC --shards N`: write `DIR/scan.sbatch` running `learndyn COMMAND SPEC` as
/// an array of `opts.shards` tasks.
pub fn slurm(
    command: &str,
    name: &str,
    spec: &Path,
    dir: &Path,
    opts: &SlurmOptions,
) -> Result<(), Failure> {
    if opts.shards == 0 {
        return Err(Failure::Input(anyhow::anyhow!("--shards must be >= 1")));
    }
    // A folder (not a file), writable, named in the error otherwise.
    input(record::folder::check_writable(dir))?;
    let dir = absolute(dir);
    let bin = std::env::current_exe().map_err(|e| Failure::Run(e.into()))?;
    let text = scan::slurm_script(command, name, &bin, &absolute(spec), &dir, opts);
    let path = dir.join("scan.sbatch");
    input(learndyn::npy::write_atomic(&path, text.as_bytes()))?;
    println!("{}", path.display());
    eprintln!(
        "submit with: sbatch {}   then, when all {} tasks are done: learndyn {command} merge {}",
        path.display(),
        opts.shards,
        dir.display()
    );
    Ok(())
}
