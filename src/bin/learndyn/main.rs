//! The `learndyn` command line: a thin front end over the library.
//! It owns all printing and the progress bar; the library never prints. The benchmarks
//! beside the Python peers (`learndyn bench ...`) live here too, in [`bench`], outside the
//! library's API.

mod bench;
mod compare_cmd;
mod jobs_cmd;
mod recovery_cmd;
mod theory_cmd;

use bench::cli::{bench, BenchCommand};
use theory_cmd::{theory, TheoryCommand};

use anyhow::Context;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use learndyn::experiment::{self, config::Config, config::LoadedConfig, examples, Progress};
use learndyn::record::{self, RunContext};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Learning-dynamics theory beside finite networks trained the real way.
///
/// Model families (model.kind): deep linear networks (closed forms, reduced mode ODEs, the full
/// gradient flow, GD/SGD/Adam), RNNs (discrete, rate, low rank; BPTT; learning-to-integrate
/// and linear-RNN theory; fixed points) and GRUs (BPTT, gradient flow, fixed points). Start
/// from `learndyn example --list`.
///
/// Every run writes records.csv (long form: source,seed,step,t,observable,index,value,kind),
/// summary.json (theory-vs-simulation discrepancies), manifest.json, final weights (.npy) and
/// figure.png/svg into its output folder. See docs/ for the config reference.
#[derive(Parser)]
#[command(name = "learndyn", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the built-in demo (two-layer net, 3 modes, 5 seeds) and draw its figure.
    Demo {
        /// Output folder.
        #[arg(long, default_value = "demo-out")]
        out: PathBuf,
        /// Override a config value, e.g. --set train.steps=200 (repeatable).
        #[arg(long = "set", value_name = "SECTION.KEY=VALUE")]
        set: Vec<String>,
    },
    /// Run an experiment from a TOML config.
    Run {
        /// The config file (see `learndyn example --list`).
        config: PathBuf,
        /// Output folder [default: out/<config file stem>].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Override a config value, e.g. --set train.lr=0.05 (repeatable).
        #[arg(long = "set", value_name = "SECTION.KEY=VALUE")]
        set: Vec<String>,
    },
    /// Validate a config and print it resolved, with every default filled in.
    Check {
        /// The config file.
        config: PathBuf,
        /// Override a config value (repeatable).
        #[arg(long = "set", value_name = "SECTION.KEY=VALUE")]
        set: Vec<String>,
    },
    /// Parameter scans: run a spec's grid in parallel into one table (resumable, shardable).
    Scan(ScanArgs),
    /// Plot a scan table: a heatmap over two axes (--y) or lines over one axis with bands over seeds.
    Plot {
        /// The scan table (results.csv).
        table: PathBuf,
        /// Column on the x axis.
        #[arg(long)]
        x: String,
        /// Column on the y axis: draws a heatmap of the first --z metric.
        #[arg(long)]
        y: Option<String>,
        /// Metric column(s), comma separated (theory metrics are drawn dashed).
        #[arg(long, value_delimiter = ',', required = true)]
        z: Vec<String>,
        /// Column whose values split the lines into series.
        #[arg(long)]
        group: Option<String>,
        /// Output stem [default: next to the table, named after the metric].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Force a log (true) or linear (false) x axis [default: from the scan's axis spacing].
        #[arg(long)]
        log_x: Option<bool>,
        /// Force a log (true) or linear (false) y axis.
        #[arg(long)]
        log_y: Option<bool>,
        /// Log colour scale (heatmaps).
        #[arg(long)]
        log_z: bool,
        /// Fit a log-log slope to each line and show it in the legend (e.g. error vs lr).
        #[arg(long)]
        fit_slope: bool,
        /// Draw only the rows whose COLUMN holds exactly VALUE, e.g. --where fit.method=lds
        /// (repeatable: all must hold).
        #[arg(long = "where", value_name = "COLUMN=VALUE")]
        filter: Vec<String>,
    },
    /// Regenerate the reproducible figures in figures/<id>/ (data and plots) from their spec.toml.
    Figure {
        /// Figure ids (folder names under --dir).
        ids: Vec<String>,
        /// All figures.
        #[arg(long)]
        all: bool,
        /// List the figures.
        #[arg(long)]
        list: bool,
        /// Small, fast settings (CI smoke run); writes into target/figures-quick/<id>/.
        #[arg(long)]
        quick: bool,
        /// The figures folder.
        #[arg(long, default_value = "figures")]
        dir: PathBuf,
        /// Threads for scan figures [default: all cores].
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Benchmarks beside the Python peers (../shared/peers): identical problems, same JSON keys.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Closed-form calculators for theorists (no config, no output folder)
    ///
    /// e.g. `learndyn theory partial-observation --teacher B.npy --observed 0,3 --json`,
    /// `learndyn theory mean-field --sigma-mn 2 --g 0.5`,
    /// `learndyn theory lag-kernel --rho 0.8 --lags 8 --json`.
    #[command(subcommand)]
    Theory(TheoryCommand),
    /// The attractor-recovery benchmark: ground-truth datasets, and scores of fitted models
    /// (docs/recovery.md).
    #[command(subcommand)]
    Recovery(recovery_cmd::RecoveryCommand),
    /// Run a model folder (network.json + weights, e.g. from `recovery fit`) from given
    /// initial states under given inputs: writes trajectories.npy [trials, time, k] and, with
    /// a readout, rates.npy [trials, time, neurons].
    Simulate(recovery_cmd::SimulateArgs),
    /// Print a shipped example config (also in configs/), or list them.
    Example {
        /// Example name.
        name: Option<String>,
        /// List the examples.
        #[arg(long)]
        list: bool,
    },
}

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
struct ScanArgs {
    #[command(subcommand)]
    command: Option<ScanCommand>,
    /// The scan spec (see `learndyn example scan_time_to_learn`).
    spec: Option<PathBuf>,
    /// Output folder [default: out/<spec file stem>]. Rerunning the same command resumes.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Worker threads [default: all cores]. Results do not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// Run only shard K of N (K = 1..N), or `slurm`: the shard of this SLURM job-array task
    /// (from SLURM_ARRAY_TASK_ID / _COUNT / _MIN; what `learndyn scan slurm` scripts use).
    #[arg(long, value_name = "K/N|slurm")]
    shard: Option<String>,
    /// Print the number of points and the first resolved configs, run nothing.
    #[arg(long)]
    dry_run: bool,
    /// Delete this scan's previous results in the output folder first (default: resume).
    #[arg(long)]
    restart: bool,
}

#[derive(Subcommand)]
enum ScanCommand {
    /// Merge DIR/results.shard-K-of-N.csv into DIR/results.csv (checks nothing is missing or duplicated).
    Merge {
        /// The scan's output folder.
        dir: PathBuf,
    },
    /// Write an sbatch job-array script that runs the scan as N shards on a SLURM cluster.
    Slurm {
        /// The scan spec.
        spec: PathBuf,
        /// Number of array tasks.
        #[arg(long)]
        shards: u64,
        /// Output folder [default: out/<spec file stem>].
        #[arg(long)]
        out: Option<PathBuf>,
        /// CPUs (scan threads) per array task.
        #[arg(long, default_value_t = 1)]
        cpus_per_task: u64,
        /// Wall-time limit per task.
        #[arg(long, default_value = "01:00:00")]
        time: String,
        /// Partition.
        #[arg(long)]
        partition: Option<String>,
        /// Memory per task (e.g. 4G).
        #[arg(long)]
        mem: Option<String>,
    },
}

fn scan(args: ScanArgs) -> Result<(), Failure> {
    use learndyn::scan::{self, ScanSpec};
    match args.command {
        Some(ScanCommand::Merge { dir }) => jobs_cmd::merge(&dir),
        Some(ScanCommand::Slurm {
            spec,
            shards,
            out,
            cpus_per_task,
            time,
            partition,
            mem,
        }) => {
            let s = input(ScanSpec::load(&spec))?;
            let dir = out.unwrap_or_else(|| record::default_out_dir(&spec));
            let opts = scan::SlurmOptions {
                shards,
                cpus_per_task,
                time,
                partition,
                mem,
            };
            jobs_cmd::slurm("scan", &s.file.scan.name, &spec, &dir, &opts)
        }
        None => {
            let Some(spec_path) = args.spec else {
                return Err(Failure::Input(anyhow::anyhow!(
                    "give a scan spec (learndyn scan SPEC.toml), or `learndyn scan merge DIR` / `learndyn scan slurm SPEC --shards N`"
                )));
            };
            let spec = input(ScanSpec::load(&spec_path))?;
            if args.dry_run {
                return print_dry_run(&spec);
            }
            run_scan(
                &spec,
                &spec_path,
                args.shard.as_deref(),
                args.out,
                args.restart,
                args.threads,
            )
        }
    }
}

/// `learndyn scan --dry-run`: the grid, the columns and the first points' configs.
fn print_dry_run(spec: &learndyn::scan::ScanSpec) -> Result<(), Failure> {
    use learndyn::scan;
    println!(
        "scan '{}': {} points x {} replicates = {} runs",
        spec.file.scan.name,
        spec.n_points(),
        spec.file.scan.replicates,
        spec.n_jobs()
    );
    for a in &spec.axes {
        let vals: Vec<String> = a
            .values
            .iter()
            .map(|v| {
                v.iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .collect();
        println!(
            "  axis {} ({:?}): {}",
            a.keys.join("+"),
            a.spacing,
            vals.join(", ")
        );
    }
    let cols = input(scan::metric_columns(spec))?;
    println!("  columns: {}", scan::header(spec, &cols).join(","));
    for id in 0..spec.n_points().min(3) {
        let p = input(spec.point(id))?;
        let seed = spec.seed_of(&p, 0);
        let c = input(spec.run_config(&p, seed))?;
        println!("\n# point {id} (replicate 0, seed {seed}):");
        print!("{}", c.to_toml());
    }
    Ok(())
}

/// `learndyn scan SPEC`: run (or resume) the scan, or one shard of it, with a progress bar.
fn run_scan(
    spec: &learndyn::scan::ScanSpec,
    spec_path: &Path,
    shard_arg: Option<&str>,
    out: Option<PathBuf>,
    restart: bool,
    threads: Option<usize>,
) -> Result<(), Failure> {
    let shard = jobs_cmd::parse_shard(shard_arg)?;
    let dir = out.unwrap_or_else(|| record::default_out_dir(spec_path));
    if restart {
        jobs_cmd::restart(&dir, shard);
    }
    let threads = threads_or_all(threads);
    let label = format!("scan {}", spec.file.scan.name);
    jobs_cmd::run_with_progress(&label, spec.n_jobs(), threads, |progress| {
        learndyn::scan::run(spec, &dir, threads, shard, progress)
    })
}

/// `--threads`, or every core.
fn threads_or_all(threads: Option<usize>) -> usize {
    threads
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
        .max(1)
}

fn git_revision() -> Option<String> {
    let rev = env!("LEARNDYN_GIT_REV");
    (!rev.is_empty()).then(|| rev.to_string())
}

/// Progress on stderr: a bar with the current loss when stderr is a terminal; otherwise (nohup,
/// SLURM logs) a plain line per stage at most every 30 s, and one when the stage ends.
fn progress_sink() -> impl FnMut(Progress) {
    let visible = std::io::stderr().is_terminal();
    let mut bar: Option<ProgressBar> = None;
    // Plain-log state: stage name, total, done, last loss, stage start, last line.
    let mut plain: Option<(String, u64, u64, f64, Instant, Instant)> = None;
    let line = |(name, total, done, loss, start, _): &(String, u64, u64, f64, Instant, Instant)| {
        let pct = if *total > 0 {
            100.0 * *done as f64 / *total as f64
        } else {
            100.0
        };
        let loss = if loss.is_finite() {
            format!(", loss {loss:.4e}")
        } else {
            String::new()
        };
        eprintln!(
            "{name}: {done}/{total} ({pct:.0}%{loss}, {:.1} s)",
            start.elapsed().as_secs_f64()
        );
    };
    move |p| match p {
        Progress::Start(name, total) => {
            if !visible {
                let now = Instant::now();
                plain = Some((name.clone(), total, 0, f64::NAN, now, now));
            }
            let b = ProgressBar::with_draw_target(
                Some(total),
                if visible {
                    ProgressDrawTarget::stderr()
                } else {
                    ProgressDrawTarget::hidden()
                },
            );
            b.set_style(
                ProgressStyle::with_template(
                    "{msg:>18} [{bar:30}] {pos}/{len} ({per_sec}, eta {eta})",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            b.set_message(name);
            bar = Some(b);
        }
        Progress::Loss(l) => {
            if let Some(st) = plain.as_mut() {
                st.3 = l;
            }
            if let Some(b) = &bar {
                let name = b.message();
                let base = name.split(" | loss").next().unwrap_or("").to_string();
                b.set_message(format!("{base} | loss {l:.3e}"));
            }
        }
        Progress::Advance(n) => {
            if let Some(b) = &bar {
                b.inc(n);
            }
            if let Some(st) = plain.as_mut() {
                st.2 += n;
                if st.5.elapsed().as_secs() >= 30 {
                    st.5 = Instant::now();
                    line(st);
                }
            }
        }
        Progress::Finish => {
            if let Some(b) = bar.take() {
                b.finish_and_clear();
            }
            if let Some(st) = plain.take() {
                // Only long stages are worth a line in a log.
                if st.4.elapsed().as_secs() >= 5 {
                    line(&st);
                }
            }
        }
    }
}

fn run_and_write(loaded: &LoadedConfig, out: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut sink = progress_sink();
    let output = experiment::run(loaded, &mut sink)?;
    let ctx = RunContext {
        command: std::env::args().collect(),
        git_revision: git_revision(),
        threads: 1,
    };
    let (files, figure_error) =
        record::write_run(out, loaded, &output, &ctx, started.elapsed().as_secs_f64())
            .with_context(|| format!("writing results to {}", out.display()))?;
    // A short human summary on stderr; the files are the real output.
    eprintln!("wrote {} files to {}", files.len(), out.display());
    if let Some(e) = figure_error {
        eprintln!("no figure: {e}");
    }
    for s in &output.skipped {
        eprintln!("skipped theory source {}: {}", s.source, s.reason);
    }
    for r in &output.summary.runs {
        if let learndyn::train::TrainStatus::Diverged { step, loss } = r.status {
            eprintln!("seed {} diverged at step {step} (loss {loss:e})", r.seed);
        }
    }
    for (src, obs) in &output.summary.discrepancy {
        if let Some(d) = obs.get("mode_strength") {
            eprintln!(
                "{src:>14} vs GD mean: mode strength max |diff| = {:.3e} (relative {:.3e})",
                d.max_abs, d.max_rel
            );
        }
    }
    if let Some(ms) = output.summary.time_to_half.get("gd") {
        let fmt: Vec<String> = ms
            .iter()
            .map(|t| t.map_or("-".into(), |t| format!("{t:.3}")))
            .collect();
        eprintln!(
            "time to half strength per mode (GD mean): [{}]",
            fmt.join(", ")
        );
    }
    Ok(())
}

/// `--where COLUMN=VALUE` filters of `learndyn plot`.
fn parse_where(filters: &[String]) -> Result<Vec<(String, String)>, Failure> {
    filters
        .iter()
        .map(|f| {
            f.split_once('=')
                .map(|(c, v)| (c.to_string(), v.to_string()))
                .ok_or_else(|| {
                    Failure::Input(anyhow::anyhow!(
                        "--where {f}: write COLUMN=VALUE, e.g. --where fit.method=lds"
                    ))
                })
        })
        .collect()
}

/// Exit code 2: the input (config, --set, referenced files) is invalid; 1: the run failed.
enum Failure {
    Input(anyhow::Error),
    Run(anyhow::Error),
}

fn input<T>(r: learndyn::Result<T>) -> Result<T, Failure> {
    r.map_err(|e| Failure::Input(e.into()))
}

fn load_and_run(
    loaded: learndyn::Result<LoadedConfig>,
    out: impl FnOnce() -> PathBuf,
) -> Result<(), Failure> {
    let loaded = input(loaded)?;
    // Building the problem reads and checks every referenced file before anything runs.
    input(experiment::check_problem(&loaded))?;
    let out = out();
    // One writer per folder; stale temporary files removed; writable before computing; the old
    // manifest removed, so an interrupted rerun leaves a folder that reads as incomplete.
    // The records dominate the output: about one CSV row (<= 64 bytes) per value.
    let output_bytes = experiment::memory_estimate(&loaded.config)
        .iter()
        .filter(|i| i.what == "records")
        .map(|i| i.bytes)
        .sum();
    let _lock = input(record::folder::begin_run(&out, output_bytes))?;
    run_and_write(&loaded, &out).map_err(Failure::Run)
}

fn figure_cmd(
    ids: Vec<String>,
    all: bool,
    list: bool,
    quick: bool,
    dir: &Path,
    threads: Option<usize>,
) -> Result<(), Failure> {
    let known = input(learndyn::figure::list(dir))?;
    if list {
        let w = known.iter().map(|id| id.len()).max().unwrap_or(0);
        for id in &known {
            let title = learndyn::figure::load(dir, id)
                .map(|s| s.figure.title)
                .unwrap_or_default();
            println!("{id:<w$}  {title}");
        }
        return Ok(());
    }
    let todo = if all { known.clone() } else { ids };
    if todo.is_empty() {
        return Err(Failure::Input(anyhow::anyhow!(
            "name figures (learndyn figure --list) or use --all"
        )));
    }
    let threads = threads_or_all(threads);
    let mut result = Ok(());
    for id in todo {
        let started = Instant::now();
        match learndyn::figure::make(dir, &id, quick, threads) {
            Ok(files) => eprintln!(
                "figure {id}: {} ({:.1} s)",
                files
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                started.elapsed().as_secs_f64()
            ),
            Err(e) => {
                result = Err(match e {
                    learndyn::Error::Config { .. } => {
                        Failure::Input(anyhow::anyhow!("figure {id}: {e}"))
                    }
                    _ => Failure::Run(anyhow::anyhow!("figure {id}: {e}")),
                });
                break;
            }
        }
    }
    result
}

fn main() -> ExitCode {
    // Behave like other Unix tools when the reader goes away (`learndyn ... | head`): exit
    // quietly on SIGPIPE instead of panicking on a failed write.
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let result: Result<(), Failure> = match cli.command {
        Command::Demo { out, set } => {
            let demo = &examples::EXAMPLES[0];
            load_and_run(experiment::load_builtin(demo.name, demo.text, &set), || out)
        }
        Command::Run { config, out, set } => {
            let default = record::default_out_dir(&config);
            load_and_run(Config::load(&config, &set), || out.unwrap_or(default))
        }
        Command::Check { config, set } => input(Config::load(&config, &set)).and_then(|loaded| {
            input(experiment::check_problem(&loaded))?;
            print!("{}", loaded.config.to_toml());
            let need = experiment::memory::total(&experiment::memory_estimate(&loaded.config));
            let avail = experiment::memory::available()
                .map_or_else(|| "unknown".to_string(), experiment::memory::human);
            eprintln!(
                "{}: ok (memory estimate {}, available {avail})",
                loaded.origin,
                experiment::memory::human(need)
            );
            Ok(())
        }),
        Command::Bench(cmd) => bench(cmd).map_err(Failure::Run),
        Command::Theory(cmd) => theory(cmd),
        Command::Recovery(cmd) => recovery_cmd::recovery(cmd),
        Command::Simulate(args) => recovery_cmd::simulate(args),
        Command::Scan(args) => scan(args),
        Command::Figure {
            ids,
            all,
            list,
            quick,
            dir,
            threads,
        } => figure_cmd(ids, all, list, quick, &dir, threads),
        Command::Plot {
            table,
            x,
            y,
            z,
            group,
            out,
            log_x,
            log_y,
            log_z,
            fit_slope,
            filter,
        } => parse_where(&filter).and_then(|filter| {
            let stem = out.unwrap_or_else(|| {
                table.with_file_name(format!(
                    "{}_{}",
                    if y.is_some() { "heatmap" } else { "lines" },
                    z.join("_")
                ))
            });
            let req = learndyn::plot::scan::PlotRequest {
                x,
                y,
                z,
                group,
                log_x,
                log_y,
                log_z,
                fit_slope,
                title: None,
                x_label: None,
                y_label: None,
                points: vec![],
                filter,
            };
            input(learndyn::scan::plot_table(&table, &req, &stem)).map(|_| {
                eprintln!(
                    "wrote {0}.png, {0}.svg and {0}.csv (the plotted table)",
                    stem.display()
                );
            })
        }),
        Command::Example { name, list } => match (name, list) {
            (None, _) | (_, true) => {
                // Align the descriptions on the longest name (issue 16).
                let w = examples::EXAMPLES
                    .iter()
                    .map(|e| e.name.len())
                    .max()
                    .unwrap_or(0);
                for e in &examples::EXAMPLES {
                    println!("{:<w$}  {}", e.name, e.about);
                }
                Ok(())
            }
            (Some(n), false) => match examples::find(&n) {
                Some(e) => {
                    print!("{}", e.text);
                    Ok(())
                }
                None => Err(Failure::Input(anyhow::anyhow!(
                    "no example named '{n}'; `learndyn example --list` shows them"
                ))),
            },
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
        Err(Failure::Run(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
