//! `learndyn recovery ...`: the attractor-recovery benchmark (docs/recovery.md): make a
//! dataset from a spec, fit it, score a fitted model (or the truth itself) against it, or all
//! three over a grid of settings into one table (`recovery run`).

use super::{input, jobs_cmd, threads_or_all, Failure};
use clap::Subcommand;
use learndyn::recovery::{dataset, score, spec::Spec};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum RecoveryCommand {
    /// Simulate a ground-truth system and write a dataset folder: observations.npy
    /// [trials, time, neurons], inputs.npy, dataset.json, and the truth under truth/.
    Data {
        /// The dataset spec (see configs/recovery_*.toml).
        spec: PathBuf,
        /// Output folder [default: out/<spec file stem>].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Write the initial states a model must be run from (MODEL/queries/initial_states.npy and
    /// queries.json) for E_top (M9) and the domain of validity (M16); the method then writes
    /// MODEL/trajectories.npy and scores again.
    Queries {
        /// The dataset folder.
        dataset: PathBuf,
        /// The model folder (with latents.npy).
        model: PathBuf,
    },
    /// Fit a built-in model to a dataset's observations (training trials) and write it as a
    /// network folder that `recovery score` runs: `observed` (the observed-unit student,
    /// y_{t+1} = A y_t + U u_t + b on the held-in neurons) or `lds` (a linear dynamical system
    /// on the top --latent principal components), by ridge least squares.
    Fit {
        /// The dataset folder.
        dataset: PathBuf,
        /// The fitter.
        #[arg(long, value_enum)]
        method: Method,
        /// State dimension of `lds` [default 3].
        #[arg(long)]
        latent: Option<usize>,
        /// Ridge on the dynamics' weights (not the intercept).
        #[arg(long, default_value_t = 0.0)]
        ridge: f64,
        /// Output folder [default: <dataset>/fit-<method>].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Score a fitted model against a dataset's truth: writes score.json and summary.txt.
    Score {
        /// The dataset folder (from `learndyn recovery data`).
        dataset: PathBuf,
        /// The model folder (latents.npy, optional rates.npy and fixed_points.json; see
        /// docs/recovery.md), or `truth` to score the ground truth itself (the self-check).
        model: String,
        /// Output folder [default: <model folder>/score, or <dataset>/score-truth].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Data -> fit -> score over a grid of settings into one table (resumable, shardable)
    ///
    /// Runs every combination of a run spec's axes (system, observation model, observed
    /// fraction, noise, trials, method, latent size, seed, ...) into OUT/results.csv: in
    /// parallel, resumable (rerun the same command after a kill), shardable (--shard K/N, then
    /// `recovery run merge OUT`), or as a SLURM job array (`recovery run slurm`). See
    /// docs/recovery.md "One command from spec to table" and
    /// configs/recovery_run_example.toml.
    Run(RunArgs),
}

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct RunArgs {
    #[command(subcommand)]
    command: Option<RunCommand>,
    /// The run spec (see configs/recovery_run_example.toml).
    spec: Option<PathBuf>,
    /// Output folder [default: out/<spec file stem>]. Rerunning the same command resumes.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Worker threads [default: all cores]. Results do not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// Run only shard K of N (K = 1..N), or `slurm`: the shard of this SLURM job-array task
    /// (from SLURM_ARRAY_TASK_ID / _COUNT / _MIN; what `recovery run slurm` scripts use).
    #[arg(long, value_name = "K/N|slurm")]
    shard: Option<String>,
    /// Print the grid, the columns and the first points' dataset specs and fits; run nothing.
    #[arg(long)]
    dry_run: bool,
    /// Delete this run's previous results in the output folder first (default: resume).
    #[arg(long)]
    restart: bool,
}

#[derive(Subcommand)]
enum RunCommand {
    /// Merge DIR/results.shard-K-of-N.csv into DIR/results.csv (checks nothing is missing or duplicated).
    Merge {
        /// The run's output folder.
        dir: PathBuf,
    },
    /// Write DIR/scan.sbatch, a job-array script that runs the spec as N shards on SLURM.
    Slurm {
        /// The run spec.
        spec: PathBuf,
        /// Number of array tasks.
        #[arg(long)]
        shards: u64,
        /// Output folder [default: out/<spec file stem>].
        #[arg(long)]
        out: Option<PathBuf>,
        /// CPUs (threads) per array task.
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

/// `learndyn recovery run ...`.
fn run_cmd(args: RunArgs) -> Result<(), Failure> {
    use learndyn::recovery::run::{self, spec::RunSpec};
    match args.command {
        Some(RunCommand::Merge { dir }) => jobs_cmd::merge(&dir),
        Some(RunCommand::Slurm {
            spec,
            shards,
            out,
            cpus_per_task,
            time,
            partition,
            mem,
        }) => {
            let s = input(RunSpec::load(&spec))?;
            let dir = out.unwrap_or_else(|| learndyn::record::default_out_dir(&spec));
            let opts = learndyn::scan::SlurmOptions {
                shards,
                cpus_per_task,
                time,
                partition,
                mem,
            };
            jobs_cmd::slurm("recovery run", &s.run.name, &spec, &dir, &opts)
        }
        None => {
            let Some(spec_path) = args.spec else {
                return Err(Failure::Input(anyhow::anyhow!(
                    "give a run spec (learndyn recovery run SPEC.toml), or `learndyn recovery run merge DIR` / `learndyn recovery run slurm SPEC --shards N`"
                )));
            };
            let spec = input(RunSpec::load(&spec_path))?;
            let n_jobs = spec.n_points() * spec.run.replicates;
            if args.dry_run {
                println!(
                    "recovery run '{}': {} points x {} replicates = {n_jobs} jobs",
                    spec.run.name,
                    spec.n_points(),
                    spec.run.replicates
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
                    println!("  axis {}: {}", a.keys.join("+"), vals.join(", "));
                }
                println!("  columns: {}", run::header(&spec).join(","));
                for p in 0..spec.n_points().min(3) {
                    let job = input(spec.job(p, 0))?;
                    println!("\n# point {p} (replicate 0), dataset spec:");
                    print!("{}", job.dataset.canonical());
                    println!("# fit:");
                    print!("{}", toml::to_string(&job.fit).unwrap_or_default());
                }
                return Ok(());
            }
            let shard = jobs_cmd::parse_shard(args.shard.as_deref())?;
            let dir = args
                .out
                .unwrap_or_else(|| learndyn::record::default_out_dir(&spec_path));
            if args.restart {
                jobs_cmd::restart(&dir, shard);
            }
            let threads = threads_or_all(args.threads);
            let label = format!("recovery run {}", spec.run.name);
            jobs_cmd::run_with_progress(&label, n_jobs, threads, |progress| {
                run::run(&spec, &dir, threads, shard, progress)
            })
        }
    }
}

/// `recovery fit --method`.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Method {
    /// The observed-unit student.
    Observed,
    /// A latent linear dynamical system on principal components.
    Lds,
}

pub fn recovery(cmd: RecoveryCommand) -> Result<(), Failure> {
    match cmd {
        RecoveryCommand::Run(args) => run_cmd(args),
        RecoveryCommand::Fit {
            dataset,
            method,
            latent,
            ridge,
            out,
        } => {
            let d = input(dataset::Dataset::read(&dataset))?;
            let (m, name) = match method {
                Method::Observed => (learndyn::recovery::fit::FitMethod::Observed, "observed"),
                Method::Lds => (learndyn::recovery::fit::FitMethod::Lds, "lds"),
            };
            let dir = out.unwrap_or_else(|| dataset.join(format!("fit-{name}")));
            let r = input(learndyn::recovery::fit::fit(&d, m, latent, ridge, &dir))?;
            println!(
                "fitted {name} (state dimension {}, {} transitions): one-step R^2 {:.4} train{}",
                r.latent,
                r.transitions,
                r.one_step_r2_train,
                r.one_step_r2_eval
                    .map_or(String::new(), |v| format!(", {v:.4} validation+test"))
            );
            eprintln!(
                "wrote network.json, a/u/b/c/d.npy, initial_states.npy and fit.json to {}; next: learndyn recovery score {} {}",
                dir.display(),
                dataset.display(),
                dir.display()
            );
            Ok(())
        }
        RecoveryCommand::Data { spec, out } => {
            let s = input(Spec::load(&spec))?;
            let dir = out.unwrap_or_else(|| learndyn::record::default_out_dir(&spec));
            let bytes = check_memory(&s)?;
            // Lock the folder, clean stale temporaries, check room, and drop an old manifest
            // so the folder reads as incomplete until the new manifest is written last.
            input(learndyn::record::folder::create_dir(&dir))?;
            let _lock = input(learndyn::record::folder::begin_run(&dir, bytes / 2))?;
            let d = input(dataset::generate(&s))?;
            let files = input(d.write(&dir))?;
            input(write_manifest(&dir, &files))?;
            let [tr, tm, n] = d.observations.shape;
            eprintln!(
                "wrote {} files to {}: {tr} trials x {tm} bins x {n} neurons ({}, dt {}); truth: {} fixed points ({} stable), {} manifolds, {} limit cycles, {} chaotic sets",
                files.len(),
                dir.display(),
                d.meta.observation,
                d.meta.dt,
                d.truth.fixed_points.len(),
                d.truth.fixed_points.iter().filter(|p| p.stable).count(),
                d.truth.manifolds.len(),
                d.truth.limit_cycles.len(),
                d.truth.chaotic.len(),
            );
            Ok(())
        }
        RecoveryCommand::Queries { dataset: ds, model } => {
            let data = input(dataset::Dataset::read(&ds))?;
            let fitted = input(score::Fitted::read(&model, &data))?;
            let n = input(score::write_queries(&data, &fitted, &model))?;
            eprintln!(
                "wrote {n} initial states to {}; see queries.json for the trajectories.npy to write",
                model.join("queries").display()
            );
            Ok(())
        }
        RecoveryCommand::Score {
            dataset: ds,
            model,
            out,
        } => {
            let data = input(dataset::Dataset::read(&ds))?;
            let (fitted, default_out) = if model == "truth" {
                (score::Fitted::truth(&data), ds.join("score-truth"))
            } else {
                let dir = PathBuf::from(&model);
                (input(score::Fitted::read(&dir, &data))?, dir.join("score"))
            };
            let out = out.unwrap_or(default_out);
            let report = input(score::score(&data, &fitted))?;
            input(report.write(&out))?;
            learndyn::plot::recovery::draw_score_figure(&data, &report, &out.join("figure"))
                .map_err(|e| Failure::Run(e.into()))?;
            print!("{}", report.summary());
            eprintln!(
                "wrote score.json, summary.txt and figure.png/.svg/.csv to {}",
                out.display()
            );
            Ok(())
        }
    }
}

/// Refuse (exit 2) a dataset whose arrays cannot fit in memory, before simulating it: per
/// sample, the states, inputs, activity and rates at sample resolution, and the binned
/// observations, rates, latents and inputs, plus the `.npy` write buffers (issue 15).
fn check_memory(s: &Spec) -> Result<u128, Failure> {
    use learndyn::experiment::memory;
    let sys = input(s.system.build())?;
    let samples = (s.trials.count as u128) * (s.trials.steps as u128);
    let width = (sys.dim() + sys.n_inputs() + 4 * s.observe.neurons) as u128;
    let need = samples.saturating_mul(width).saturating_mul(8 * 2);
    if let Some(avail) = memory::available() {
        if need > avail {
            return Err(Failure::Input(anyhow::anyhow!(
                "trials.count x trials.steps: the dataset needs about {} in memory, {} available; \
                 lower trials.count, trials.steps or observe.neurons",
                memory::human(need),
                memory::human(avail)
            )));
        }
    }
    Ok(need)
}

/// `manifest.json`, written last: the dataset's files with their SHA-256, so a folder
/// interrupted mid-write (no manifest) is never mistaken for a dataset.
fn write_manifest(dir: &std::path::Path, files: &[String]) -> learndyn::Result<()> {
    let mut sums = serde_json::Map::new();
    for f in files {
        sums.insert(
            f.clone(),
            learndyn::record::folder::sha256_file(&dir.join(f))?.into(),
        );
    }
    let m = serde_json::json!({"format": "learndyn-recovery-dataset", "files_sha256": sums});
    learndyn::npy::write_atomic(
        &dir.join("manifest.json"),
        (serde_json::to_string_pretty(&m).unwrap_or_default() + "\n").as_bytes(),
    )
}
