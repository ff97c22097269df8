//! The `learndyn` command line: a thin front end over the library.
//! It owns all printing and the progress bar; the library never prints. The benchmarks
//! beside the Python peers (`learndyn bench ...`) live here too, in [`bench`], outside the
//! library's API.

mod bench;

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
/// Every run writes records.csv (long form: source,seed,step,t,observable,index,value),
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

fn absolute(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    })
}

fn scan(args: ScanArgs) -> Result<(), Failure> {
    use learndyn::scan::{self, ScanSpec, Shard};
    match args.command {
        Some(ScanCommand::Merge { dir }) => {
            let n = input(scan::merge(&dir))?;
            eprintln!("merged {n} rows into {}", dir.join("results.csv").display());
            Ok(())
        }
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
            if shards == 0 {
                return Err(Failure::Input(anyhow::anyhow!("--shards must be >= 1")));
            }
            let dir = out.unwrap_or_else(|| record::default_out_dir(&spec));
            std::fs::create_dir_all(&dir).map_err(|e| Failure::Run(e.into()))?;
            let dir = absolute(&dir);
            let bin = std::env::current_exe().map_err(|e| Failure::Run(e.into()))?;
            let opts = scan::SlurmOptions {
                shards,
                cpus_per_task,
                time,
                partition,
                mem,
            };
            let text = scan::slurm_script(&s.file.scan.name, &bin, &absolute(&spec), &dir, &opts);
            let path = dir.join("scan.sbatch");
            input(learndyn::npy::write_atomic(&path, text.as_bytes()))?;
            println!("{}", path.display());
            eprintln!(
                "submit with: sbatch {}   then, when all {shards} tasks are done: learndyn scan merge {}",
                path.display(),
                dir.display()
            );
            Ok(())
        }
        None => {
            let Some(spec_path) = args.spec else {
                return Err(Failure::Input(anyhow::anyhow!(
                    "give a scan spec (learndyn scan SPEC.toml), or `learndyn scan merge DIR` / `learndyn scan slurm SPEC --shards N`"
                )));
            };
            let spec = input(ScanSpec::load(&spec_path))?;
            if args.dry_run {
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
                let cols = input(scan::metric_columns(&spec))?;
                println!("  columns: {}", scan::header(&spec, &cols).join(","));
                for id in 0..spec.n_points().min(3) {
                    let p = input(spec.point(id))?;
                    let seed = spec.seed_of(&p, 0);
                    let c = input(spec.run_config(&p, seed))?;
                    println!("\n# point {id} (replicate 0, seed {seed}):");
                    print!("{}", c.to_toml());
                }
                return Ok(());
            }
            let shard = match args.shard.as_deref() {
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
            };
            let dir = args
                .out
                .unwrap_or_else(|| record::default_out_dir(&spec_path));
            if args.restart {
                let _ = std::fs::remove_file(dir.join(scan::results_name(shard)));
                if shard.is_none() {
                    let _ = std::fs::remove_file(dir.join("scan.json"));
                }
            }
            let threads = args
                .threads
                .unwrap_or_else(|| {
                    std::thread::available_parallelism()
                        .map(|n| n.get())
                        .unwrap_or(1)
                })
                .max(1);
            let bar = ProgressBar::with_draw_target(
                Some(spec.n_jobs()),
                if std::io::stderr().is_terminal() {
                    ProgressDrawTarget::stderr()
                } else {
                    ProgressDrawTarget::hidden()
                },
            );
            bar.set_style(
                ProgressStyle::with_template(
                    "{msg} [{bar:30}] {pos}/{len} runs ({per_sec}, eta {eta})",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar.set_message(format!("scan {}", spec.file.scan.name));
            let started = Instant::now();
            let report = scan::run(&spec, &dir, threads, shard, &|done, total| {
                bar.set_length(total);
                bar.set_position(done);
            })
            .map_err(|e| match e {
                learndyn::Error::Config { .. } => Failure::Input(e.into()),
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
                if report.dropped_rows > 0 { format!("; dropped {} partial rows", report.dropped_rows) } else { String::new() }
            );
            Ok(())
        }
    }
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Gradient-flow ODEs (peers' workload 3): K Saxe modes and the two-layer matrix flow.
    Ode {
        /// Print one JSON line per configuration (append to the peers' results.jsonl).
        #[arg(long)]
        json: bool,
        /// Mode counts K of the modes problem (comma separated; "" to skip).
        #[arg(long, default_value = "10,100,1000", value_parser = parse_sizes)]
        modes: Sizes,
        /// Sizes N of the matrix problem (comma separated; "" to skip).
        #[arg(long, default_value = "16,64,256", value_parser = parse_sizes)]
        matrix: Sizes,
        /// Methods (comma separated).
        #[arg(long, value_delimiter = ',', default_value = "dopri5,tsit5,dop853")]
        methods: Vec<String>,
        /// Relative tolerance(s), comma separated: a list runs a work-precision sweep (one
        /// line per tolerance) with atol = rtol / 100 unless --atol is given.
        #[arg(long, default_value = "1e-8", value_parser = parse_floats)]
        rtol: Floats,
        /// Absolute tolerance [default: 1e-10, or rtol / 100 for a sweep].
        #[arg(long)]
        atol: Option<f64>,
        /// Timed repeats after one warm-up.
        #[arg(long, default_value_t = 5)]
        repeats: usize,
    },
    /// Deep linear network, full-batch GD on data (peers' workload 1): identical problems,
    /// loss checked against the peers' to 1e-9, time per step.
    Gd {
        /// Print one JSON line per configuration (append to the peers' results.jsonl).
        #[arg(long)]
        json: bool,
        /// Timed repeats after one warm-up.
        #[arg(long, default_value_t = 5)]
        repeats: usize,
        /// Only configurations with N in this list (default: the peers' 64, 256, 1024).
        #[arg(long, default_value = "64,256,1024", value_parser = parse_sizes)]
        n: Sizes,
    },
    /// Vanilla RNN, full-batch BPTT (peers' workload 2): identical problems, loss checked
    /// against the peers' to 1e-9, time per step.
    Rnn {
        /// Print one JSON line per configuration (append to the peers' results.jsonl).
        #[arg(long)]
        json: bool,
        /// Timed repeats after one warm-up.
        #[arg(long, default_value_t = 5)]
        repeats: usize,
        /// Only configurations with N in this list (default: the peers' 64, 256, 512).
        #[arg(long, default_value = "64,256,512", value_parser = parse_sizes)]
        n: Sizes,
    },
    /// Scan engine: overhead per trivial point and 1 -> 2 thread speedup.
    Scan {
        /// Print a JSON line instead of a summary.
        #[arg(long)]
        json: bool,
        /// Trivial points for the overhead measurement.
        #[arg(long, default_value_t = 2000)]
        points: usize,
        /// Timed repeats after one warm-up.
        #[arg(long, default_value_t = 5)]
        repeats: usize,
    },
    /// Draw the work-precision figure from benchmark JSON lines (learndyn's and the peers').
    PlotWp {
        /// Results file (JSON lines).
        results: PathBuf,
        /// Output stem: writes STEM.png and STEM.svg.
        #[arg(long)]
        out: PathBuf,
    },
}

/// A comma-separated list of floats.
#[derive(Clone, Debug)]
struct Floats(Vec<f64>);

fn parse_floats(s: &str) -> Result<Floats, String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(|x| match x.parse::<f64>() {
            Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
            _ => Err(format!("'{x}' is not a positive number")),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Floats)
}

/// A comma-separated list of sizes; the empty string is the empty list.
#[derive(Clone, Debug)]
struct Sizes(Vec<usize>);

fn parse_sizes(s: &str) -> Result<Sizes, String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(|x| {
            x.parse::<usize>()
                .map_err(|_| format!("'{x}' is not a size; give e.g. 10,100,1000 or \"\" to skip"))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Sizes)
}

fn bench(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Ode {
            json,
            modes,
            matrix,
            methods,
            rtol,
            atol,
            repeats,
        } => {
            use bench::ode;
            let sweep = rtol.0.len() > 1;
            let mut lines = Vec::new();
            for &r in &rtol.0 {
                let b = ode::OdeBench {
                    rtol: r,
                    atol: atol.unwrap_or(if sweep { r / 100.0 } else { 1e-10 }),
                    repeats,
                    methods: methods.clone(),
                    ..ode::OdeBench::default()
                };
                for &k in &modes.0 {
                    lines.push(ode::modes_line(&b, k).map_err(anyhow::Error::msg)?);
                }
                for &n in &matrix.0 {
                    lines.push(ode::matrix_line(&b, n).map_err(anyhow::Error::msg)?);
                }
            }
            for line in &lines {
                if json {
                    println!("{}", serde_json::to_string(line)?);
                } else {
                    print_bench_row(line);
                }
            }
            Ok(())
        }
        BenchCommand::Rnn { json, repeats, n } => {
            use bench::rnn;
            for &(nn, t, b, phi, steps) in rnn::CONFIGS.iter() {
                if !n.0.contains(&nn) {
                    continue;
                }
                let line =
                    rnn::rnn_line(nn, t, b, phi, steps, repeats, 0).map_err(anyhow::Error::msg)?;
                if json {
                    println!("{}", serde_json::to_string(&line)?);
                } else {
                    let r = &line["results"]["learndyn"];
                    println!(
                        "{phi:<8} N={nn} T={t} B={b} S={steps}: {:.4} ms/step (min {:.4}); loss {} -> {}; checks {}",
                        1e3 * r["time_per_step_s"]["median"].as_f64().unwrap_or(f64::NAN),
                        1e3 * r["time_per_step_s"]["min"].as_f64().unwrap_or(f64::NAN),
                        r["loss_0"],
                        r["loss_S"],
                        if line["ok"] == true { "ok" } else { "FAILED" }
                    );
                }
            }
            Ok(())
        }
        BenchCommand::Gd { json, repeats, n } => {
            use bench::gd;
            for (nn, l, p, steps) in gd::CONFIGS {
                if !n.0.contains(&nn) {
                    continue;
                }
                let line = gd::gd_line(nn, l, p, steps, repeats, 0).map_err(anyhow::Error::msg)?;
                if json {
                    println!("{}", serde_json::to_string(&line)?);
                } else {
                    let r = &line["results"]["learndyn"];
                    println!(
                        "N={nn} L={l} P={p} S={steps}: {:.4} ms/step (min {:.4}); loss {} -> {}; wall/GEMM-bound {:.2}; checks {}",
                        1e3 * r["time_per_step_s"]["median"].as_f64().unwrap_or(f64::NAN),
                        1e3 * r["time_per_step_s"]["min"].as_f64().unwrap_or(f64::NAN),
                        r["loss_0"],
                        r["loss_S"],
                        r["wall_over_gemm_bound"].as_f64().unwrap_or(f64::NAN),
                        if line["ok"] == true { "ok" } else { "FAILED" }
                    );
                }
            }
            Ok(())
        }
        BenchCommand::Scan {
            json,
            points,
            repeats,
        } => {
            let line = bench::scan::scan_line(points, repeats).map_err(anyhow::Error::msg)?;
            if json {
                println!("{}", serde_json::to_string(&line)?);
            } else {
                let r = &line["results"]["learndyn"];
                println!(
                    "overhead per trivial point: {:.1} us (median of {repeats}); small scan: 1 thread {:.3} s, 2 threads {:.3} s, speedup {:.2}x",
                    1e6 * r["overhead_per_point_s"]["median"].as_f64().unwrap_or(f64::NAN),
                    r["small_scan_1_thread_s"]["median"].as_f64().unwrap_or(f64::NAN),
                    r["small_scan_2_threads_s"]["median"].as_f64().unwrap_or(f64::NAN),
                    r["speedup_1_to_2_threads"].as_f64().unwrap_or(f64::NAN)
                );
            }
            Ok(())
        }
        BenchCommand::PlotWp { results, out } => {
            let text = std::fs::read_to_string(&results)
                .with_context(|| format!("reading {}", results.display()))?;
            let lines: Vec<serde_json::Value> = text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(serde_json::from_str)
                .collect::<Result<_, _>>()
                .with_context(|| format!("{} is not JSON lines", results.display()))?;
            let points = bench::wp::collect(&lines);
            bench::wp::draw(&points, &out)?;
            eprintln!("wrote {}.png and {}.svg", out.display(), out.display());
            Ok(())
        }
    }
}

fn print_bench_row(line: &serde_json::Value) {
    let c = &line["config"];
    let size = if c["problem"] == "modes" {
        format!("modes K={}", c["K"])
    } else {
        format!("matrix N={}", c["N"])
    };
    if let Some(results) = line["results"].as_object() {
        for (name, r) in results {
            let err = r
                .get("err_end_rel")
                .or_else(|| r.get("err_prod_rel"))
                .and_then(|v| v.as_f64())
                .unwrap_or(f64::NAN);
            let bound = r
                .get("wall_over_gemm_bound")
                .and_then(|v| v.as_f64())
                .map(|x| format!("  wall/GEMM-bound {x:.2}"))
                .unwrap_or_default();
            println!(
                "{size:<14} {name:<16} {:>10.4} ms (min {:.4})  nfev {:>6}  steps {}+{}  rel err {:.1e}{bound}",
                1e3 * r["wall_s"]["median"].as_f64().unwrap_or(f64::NAN),
                1e3 * r["wall_s"]["min"].as_f64().unwrap_or(f64::NAN),
                r["nfev"],
                r["n_steps"],
                r["n_rejected"],
                err
            );
        }
    }
    if line["ok"] != true {
        println!("{size:<14} CHECKS FAILED: {}", line["checks"]);
    }
}

fn git_revision() -> Option<String> {
    let rev = env!("LEARNDYN_GIT_REV");
    (!rev.is_empty()).then(|| rev.to_string())
}

/// A progress bar on stderr, drawn only when stderr is a terminal.
fn progress_sink() -> impl FnMut(Progress) {
    let visible = std::io::stderr().is_terminal();
    let mut bar: Option<ProgressBar> = None;
    move |p| match p {
        Progress::Start(name, total) => {
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
        Progress::Advance(n) => {
            if let Some(b) = &bar {
                b.inc(n);
            }
        }
        Progress::Finish => {
            if let Some(b) = bar.take() {
                b.finish_and_clear();
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
    run_and_write(&loaded, &out()).map_err(Failure::Run)
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
    let threads = threads
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
        .max(1);
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
            eprintln!("{}: ok", loaded.origin);
            Ok(())
        }),
        Command::Bench(cmd) => bench(cmd).map_err(Failure::Run),
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
        } => {
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
            };
            input(learndyn::scan::plot_table(&table, &req, &stem)).map(|_| {
                eprintln!("wrote {}.png and {}.svg", stem.display(), stem.display());
            })
        }
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
