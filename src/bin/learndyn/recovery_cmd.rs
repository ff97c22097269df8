//! `learndyn recovery ...`: the attractor-recovery benchmark (docs/recovery.md): make a
//! dataset from a spec, fit it, score a fitted model (or the truth itself) against it, or all
//! three over a grid of settings into one table (`recovery run`).

use super::{input, jobs_cmd, threads_or_all, Failure};
use clap::Subcommand;
use learndyn::recovery::latent::{self, Initial, LatentForm, LatentSpec, Procedure, ReadoutKind};
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
    /// network folder that `recovery score` runs. By ridge least squares: `observed` (the
    /// observed-unit student, y_{t+1} = A y_t + U u_t + b on the held-in neurons) or `lds` (a
    /// linear dynamical system on the top --latent principal components). By Adam on a
    /// training procedure (--procedure), with a Gaussian or Poisson readout, each trial's
    /// initial state from an encoder over its first bins, the validation loss (the
    /// procedure's objective on the validation trials) checked every --validate-every steps and the best checkpoint kept: `rnn` (latent tanh
    /// RNN), `gru` (latent GRU), `linear-rnn` (latent linear system), `rate-rnn` (latent rate
    /// RNN), `low-rank` (latent tanh RNN with a rank --rank recurrence).
    Fit {
        /// The dataset folder.
        dataset: PathBuf,
        /// The fitter.
        #[arg(long, value_enum)]
        method: Method,
        /// State dimension [default 3 for `lds`, 8 for the latent RNNs].
        #[arg(long)]
        latent: Option<usize>,
        /// Ridge on the dynamics' weights (not the intercept) of `observed` and `lds`.
        #[arg(long, default_value_t = 0.0)]
        ridge: f64,
        #[command(flatten)]
        latent_opts: LatentOpts,
        /// Output folder [default: <dataset>/fit-<method>].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Show what a fitted model found, without the truth: its fixed points by stability with
    /// their slowest timescales, in neuron space and in the data's top principal components,
    /// and its R^2 on held-out trials. Writes inspect.json, fixed_points.csv, summary.txt and
    /// figure.png/.svg/.csv.
    Inspect {
        /// The dataset folder.
        dataset: PathBuf,
        /// The model folder.
        model: PathBuf,
        /// Marginal when |continuous-time rate| is below this, per time unit [default: 1 / the
        /// trial duration].
        #[arg(long)]
        rate_tol: Option<f64>,
        /// Output folder [default: <model>/inspect].
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
    /// DSA (HAVOK-DMD operators of delay embeddings) between every pair of datasets or fitted
    /// models, and with --labels whether the labelled classes form separate clusters
    ///
    /// Each input is a dataset folder (its observations.npy), a model folder (its
    /// latents.npy) or a `[trials, time, dims]` .npy file. Writes OUT/dsa.csv (one row per
    /// pair: a, b, label_a, label_b, wasserstein, angular) and OUT/dsa.json (settings, pairs,
    /// separation per score), and prints the matrix. See docs/recovery.md "Comparing systems
    /// by DSA".
    Compare {
        /// Two or more dataset folders, model folders or .npy files.
        #[arg(required = true, num_args = 2..)]
        inputs: Vec<PathBuf>,
        /// One class label per input, comma separated (e.g. saddle,saddle,line,line).
        #[arg(long, value_delimiter = ',')]
        labels: Option<Vec<String>>,
        /// Principal axes kept and whitened before the embedding: the systems' dimension
        /// [default: the smallest input dimension].
        #[arg(long)]
        components: Option<usize>,
        /// Delays of the embedding [default: clamp(time / 4, 1, 10), as M7].
        #[arg(long)]
        delays: Option<usize>,
        /// Operator rank [default: 2 x components, as M7].
        #[arg(long)]
        rank: Option<usize>,
        /// Trials per input (the first ones).
        #[arg(long, default_value_t = learndyn::recovery::compare::DEFAULT_TRIALS)]
        trials: usize,
        /// Seed of the Procrustes random starts.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Output folder [default: out/compare].
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
    /// The observed-unit student (ridge least squares).
    Observed,
    /// A latent linear dynamical system on principal components (ridge least squares).
    Lds,
    /// A latent tanh RNN trained by Adam.
    Rnn,
    /// A latent GRU trained by Adam.
    Gru,
    /// A latent linear system trained by Adam (BPTT, any procedure).
    LinearRnn,
    /// A latent rate RNN (Euler map with --rate-alpha) trained by Adam.
    RateRnn,
    /// A latent tanh RNN with a rank --rank recurrence trained by Adam.
    LowRank,
}

/// `recovery fit --procedure`.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ProcedureArg {
    /// Free-running BPTT from each trial's initial state.
    Free,
    /// Teacher forcing (every step from the data-inferred state).
    Tf,
    /// Generalized teacher forcing with --alpha.
    Gtf,
    /// Multiple shooting with --segment and --penalty.
    Shooting,
}

/// `recovery fit --initial`.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum InitialArg {
    /// An encoder over each trial's first --encoder-bins bins.
    Encoder,
    /// One learned initial state for every trial (fits the trial mean only).
    Shared,
    /// `h_0 = 0`.
    Zero,
}

/// `recovery fit --readout`.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ReadoutArg {
    /// Linear-Gaussian.
    Gaussian,
    /// Exp-Poisson.
    Poisson,
}

/// Options of the latent RNN fitters (`rnn`, `gru`, `linear-rnn`).
#[derive(clap::Args)]
pub struct LatentOpts {
    /// Training procedure of the latent RNNs.
    #[arg(long, value_enum, default_value = "free")]
    procedure: ProcedureArg,
    /// GTF's mixing 0 <= alpha <= 1 (0 free running, 1 teacher forcing).
    #[arg(long, default_value_t = 0.5)]
    alpha: f64,
    /// Multiple shooting's segment length in bins.
    #[arg(long, default_value_t = 10)]
    segment: usize,
    /// Multiple shooting's continuity penalty.
    #[arg(long, default_value_t = 1.0)]
    penalty: f64,
    /// How each trial's initial state is found.
    #[arg(long, value_enum, default_value = "encoder")]
    initial: InitialArg,
    /// Bins the encoder reads.
    #[arg(long, default_value_t = 3)]
    encoder_bins: usize,
    /// Readout [default: poisson for count data, else gaussian].
    #[arg(long, value_enum)]
    readout: Option<ReadoutArg>,
    /// Adam steps (full batch).
    #[arg(long, default_value_t = 2000)]
    steps: u64,
    /// Adam's learning rate (cosine decay to a tenth).
    #[arg(long, default_value_t = 1e-2)]
    lr: f64,
    /// Clip the gradient's norm to this; 0 for no clipping.
    #[arg(long, default_value_t = 1.0)]
    clip: f64,
    /// Validate (free running) and report progress every this many steps.
    #[arg(long, default_value_t = 50)]
    validate_every: u64,
    /// Seed of the initial weights.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Rank of the `low-rank` recurrence.
    #[arg(long, default_value_t = 1)]
    rank: usize,
    /// Euler fraction dt / tau of the `rate-rnn` form, in (0, 1].
    #[arg(long, default_value_t = 0.2)]
    rate_alpha: f64,
    /// Ridge on the encoder's weights (training loss + ridge/2 |enc|^2; not its bias).
    #[arg(long, default_value_t = 0.0)]
    encoder_ridge: f64,
}

impl LatentOpts {
    fn spec(&self, form: LatentForm, latent: Option<usize>) -> LatentSpec {
        LatentSpec {
            readout: self.readout.map(|r| match r {
                ReadoutArg::Gaussian => ReadoutKind::Gaussian,
                ReadoutArg::Poisson => ReadoutKind::Poisson,
            }),
            initial: match self.initial {
                InitialArg::Encoder => Initial::Encoder {
                    bins: self.encoder_bins,
                },
                InitialArg::Shared => Initial::Shared,
                InitialArg::Zero => Initial::Zero,
            },
            procedure: match self.procedure {
                ProcedureArg::Free => Procedure::FreeRunning,
                ProcedureArg::Tf => Procedure::TeacherForcing,
                ProcedureArg::Gtf => Procedure::Gtf { alpha: self.alpha },
                ProcedureArg::Shooting => Procedure::MultipleShooting {
                    segment: self.segment,
                    penalty: self.penalty,
                },
            },
            steps: self.steps,
            lr: self.lr,
            clip: (self.clip > 0.0).then_some(self.clip),
            validate_every: self.validate_every,
            seed: self.seed,
            rank: self.rank,
            rate_alpha: self.rate_alpha,
            encoder_ridge: self.encoder_ridge,
            ..LatentSpec::new(form, latent.unwrap_or(8))
        }
    }
}

/// Fit a latent RNN, reporting progress on stderr.
fn fit_latent(
    d: &dataset::Dataset,
    spec: &LatentSpec,
    dataset: &std::path::Path,
    dir: &std::path::Path,
) -> Result<(), Failure> {
    let t0 = std::time::Instant::now();
    let mut progress = |p: latent::Progress| {
        eprintln!(
            "step {:>6}/{}  train loss {:.6}  validation loss {:.6}  ({:.1} s)",
            p.step,
            p.steps,
            p.train_loss,
            p.validation_loss,
            t0.elapsed().as_secs_f64()
        );
    };
    let r = input(latent::fit(d, spec, dir, &mut progress))?;
    println!(
        "fitted a latent {:?} (k = {}, {:?}): {}; best step {} (validation loss {:.6}); free-running R^2 {:.4} train{}",
        spec.form,
        spec.latent,
        spec.procedure,
        r.status,
        r.best_step,
        r.best_validation_loss,
        r.r2_train,
        r.r2_eval
            .map_or(String::new(), |v| format!(", {v:.4} validation+test"))
    );
    for w in &r.warnings {
        eprintln!("warning: {w}");
    }
    eprintln!(
        "wrote network.json, the weights, initial_states.npy and fit.json to {}; next: learndyn recovery score {} {}",
        dir.display(),
        dataset.display(),
        dir.display()
    );
    Ok(())
}

pub fn recovery(cmd: RecoveryCommand) -> Result<(), Failure> {
    match cmd {
        RecoveryCommand::Run(args) => run_cmd(args),
        RecoveryCommand::Fit {
            dataset,
            method,
            latent,
            ridge,
            latent_opts,
            out,
        } => {
            let d = input(dataset::Dataset::read(&dataset))?;
            let form = match method {
                Method::Rnn => Some((LatentForm::Rnn, "rnn")),
                Method::Gru => Some((LatentForm::Gru, "gru")),
                Method::LinearRnn => Some((LatentForm::Linear, "linear-rnn")),
                Method::RateRnn => Some((LatentForm::Rate, "rate-rnn")),
                Method::LowRank => Some((LatentForm::LowRank, "low-rank")),
                Method::Observed | Method::Lds => None,
            };
            if let Some((form, name)) = form {
                let dir = out.unwrap_or_else(|| dataset.join(format!("fit-{name}")));
                return fit_latent(&d, &latent_opts.spec(form, latent), &dataset, &dir);
            }
            let (m, name) = match method {
                Method::Observed => (learndyn::recovery::fit::FitMethod::Observed, "observed"),
                _ => (learndyn::recovery::fit::FitMethod::Lds, "lds"),
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
        RecoveryCommand::Inspect {
            dataset: ds,
            model,
            rate_tol,
            out,
        } => {
            let data = input(dataset::Dataset::read(&ds))?;
            let insp = input(learndyn::recovery::inspect::inspect(
                &data, &model, rate_tol,
            ))?;
            let out = out.unwrap_or_else(|| model.join("inspect"));
            input(write_inspection(&insp, &out))?;
            learndyn::plot::inspect::draw_inspect_figure(&insp, &out.join("figure"))
                .map_err(|e| Failure::Run(e.into()))?;
            print!("{}", insp.summary());
            eprintln!(
                "wrote inspect.json, fixed_points.csv, summary.txt and figure.png/.svg/.csv to {}",
                out.display()
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
        RecoveryCommand::Compare {
            inputs,
            labels,
            components,
            delays,
            rank,
            trials,
            seed,
            out,
        } => super::compare_cmd::compare(
            &inputs,
            labels,
            super::compare_cmd::Embedding {
                components,
                delays,
                rank,
                trials,
            },
            seed,
            &out.unwrap_or_else(|| PathBuf::from("out/compare")),
        ),
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

/// `inspect.json`, `fixed_points.csv` (one row per point: kind, counts, slowest timescale,
/// PCs, latent coordinates, neuron activity) and `summary.txt`, each written atomically.
fn write_inspection(
    insp: &learndyn::recovery::inspect::Inspection,
    out: &std::path::Path,
) -> learndyn::Result<()> {
    use learndyn::npy::write_atomic;
    std::fs::create_dir_all(out).map_err(|e| learndyn::Error::io(out, e))?;
    let json = serde_json::to_string_pretty(insp).unwrap_or_default() + "\n";
    write_atomic(&out.join("inspect.json"), json.as_bytes())?;
    let k = insp.points.first().map_or(0, |p| p.latent.len());
    let n = insp
        .points
        .first()
        .and_then(|p| p.neurons.as_ref())
        .map_or(0, Vec::len);
    let n_pc = insp.pc_explained.len();
    let mut header = vec![
        "point".to_string(),
        "kind".into(),
        "n_unstable".into(),
        "n_marginal".into(),
        "slowest_timescale".into(),
        "in_data_domain".into(),
    ];
    header.extend((1..=n_pc).map(|i| format!("pc{i}")));
    header.extend((0..k).map(|i| format!("latent{i}")));
    header.extend((0..n).map(|i| format!("neuron{i}")));
    let mut csv = header.join(",") + "\n";
    for (i, p) in insp.points.iter().enumerate() {
        let mut row = vec![
            i.to_string(),
            p.kind.clone(),
            p.n_unstable.to_string(),
            p.n_marginal.to_string(),
            format!("{}", p.slowest_timescale),
            u8::from(p.in_data_domain).to_string(),
        ];
        let nan = |m: usize| vec!["nan".to_string(); m];
        row.extend(
            p.pcs
                .as_ref()
                .map_or(nan(n_pc), |v| v.iter().map(|x| x.to_string()).collect()),
        );
        row.extend(p.latent.iter().map(|x| x.to_string()));
        row.extend(
            p.neurons
                .as_ref()
                .map_or(nan(n), |v| v.iter().map(|x| x.to_string()).collect()),
        );
        csv += &(row.join(",") + "\n");
    }
    write_atomic(&out.join("fixed_points.csv"), csv.as_bytes())?;
    write_atomic(&out.join("summary.txt"), insp.summary().as_bytes())
}

/// `learndyn simulate`.
#[derive(clap::Args)]
pub struct SimulateArgs {
    /// The model folder (network.json and weights).
    model: PathBuf,
    /// Initial states, .npy [trials, k] (or [k] for one trial).
    #[arg(long)]
    initial: PathBuf,
    /// Inputs, .npy [trials, time, n_inputs] (bin s held on [s dt, (s+1) dt)); without it the
    /// input is 0 for --steps bins.
    #[arg(long)]
    inputs: Option<PathBuf>,
    /// Bins to simulate without --inputs (the first is the initial state).
    #[arg(long, default_value_t = 100)]
    steps: usize,
    /// Time per bin [default: the network's dt, else 1].
    #[arg(long)]
    dt: Option<f64>,
    /// Output folder [default: <model>/simulate].
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn simulate(a: SimulateArgs) -> Result<(), Failure> {
    use learndyn::linalg::Matrix;
    use learndyn::npy;
    use learndyn::recovery::network::Network;
    let net = input(Network::load(&a.model))?;
    let k = net.dim();
    let mut h0 = input(npy::read_matrix(&a.initial))?;
    // A 1-D file reads as a column: one trial's state.
    if h0.ncols() == 1 && h0.nrows() == k && k > 1 {
        h0 = h0.transpose();
    }
    if h0.ncols() != k {
        return Err(Failure::Input(anyhow::anyhow!(
            "--initial {}: {} columns, the model has k = {k} (shape [trials, {k}])",
            a.initial.display(),
            h0.ncols()
        )));
    }
    let trials = h0.nrows();
    let n_in = net.n_inputs();
    let inputs = match &a.inputs {
        Some(p) => {
            let x = input(npy::read_array3(p))?;
            if x.shape[0] != trials || x.shape[2] != n_in {
                return Err(Failure::Input(anyhow::anyhow!(
                    "--inputs {}: shape {:?}, expected [{trials}, time, {n_in}] (trials of --initial, the model's inputs)",
                    p.display(),
                    x.shape
                )));
            }
            Some(x)
        }
        None => None,
    };
    let tm = inputs.as_ref().map_or(a.steps, |x| x.shape[1]);
    if tm == 0 {
        return Err(Failure::Input(anyhow::anyhow!("--steps must be >= 1")));
    }
    let step = net.file.dt.unwrap_or(1.0);
    let dt = a.dt.unwrap_or(step);
    if !(dt.is_finite() && dt > 0.0) {
        return Err(Failure::Input(anyhow::anyhow!("--dt must be a number > 0")));
    }
    let mut traj = Vec::with_capacity(trials * tm * k);
    let mut rates = Vec::new();
    for t in 0..trials {
        let x = Matrix::from_fn(tm, n_in, |s, j| {
            inputs.as_ref().map_or(0.0, |a| a.get(t, s, j))
        });
        let h: Vec<f64> = (0..k).map(|j| h0.get(t, j)).collect();
        let run = net
            .run(&h, &x, dt, step)
            .map_err(|e| Failure::Run(e.into()))?;
        for s in 0..tm {
            let row: Vec<f64> = (0..k).map(|j| run.get(s, j)).collect();
            rates.extend(net.rates(&row));
            traj.extend(row);
        }
    }
    let out = a.out.unwrap_or_else(|| a.model.join("simulate"));
    input(std::fs::create_dir_all(&out).map_err(|e| learndyn::Error::io(&out, e)))?;
    let t_arr = npy::Array3 {
        shape: [trials, tm, k],
        data: traj,
    };
    input(npy::write_array3(&out.join("trajectories.npy"), &t_arr))?;
    let mut wrote = "trajectories.npy".to_string();
    if !rates.is_empty() {
        let n = rates.len() / (trials * tm);
        input(npy::write_array3(
            &out.join("rates.npy"),
            &npy::Array3 {
                shape: [trials, tm, n],
                data: rates,
            },
        ))?;
        wrote += " and rates.npy";
    }
    eprintln!(
        "simulated {trials} trials x {tm} bins (dt {dt}); wrote {wrote} to {}",
        out.display()
    );
    Ok(())
}
